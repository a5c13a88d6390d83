#!/usr/bin/env python3
"""Peers for Benchmarks/forest/run: one configuration per process, so each peak RSS is its own.

usage: peers.py split FLIGHTS.csv OUTDIR                 -> OUTDIR/train.csv, OUTDIR/test.csv (80/20, seed 42)
       peers.py sklearn N_JOBS OUTDIR FEATURES           -> one JSON line: fit_s, predict_s, accuracy, peak_mb
       peers.py lightgbm THREADS OUTDIR FEATURES
       peers.py sklearn-shards N_JOBS OUTDIR FEATURES    -> the per-shard scheme in scikit-learn: the training
                                                            rows split in 2 contiguous halves (the shards 2
                                                            MPILearn ranks read), 50 trees on each, soft vote
FEATURES: comma-separated columns, the same list MPILearn gets; carrier and origin become ordinal
codes of the training dictionary, every other column is numeric. Target: arr_delay > 15.
"""
import json, resource, sys, time
import numpy as np
import pandas as pd

CATEGORICAL = ["carrier", "origin"]


def load(outdir, cols):
    tr = pd.read_csv(f"{outdir}/train.csv")
    te = pd.read_csv(f"{outdir}/test.csv")
    for c in CATEGORICAL:   # codes from the training dictionary (sorted), unseen -> NaN
        cats = sorted(tr[c].dropna().unique())
        tr[c] = pd.Categorical(tr[c], categories=cats).codes.astype(float)
        te[c] = pd.Categorical(te[c], categories=cats).codes.astype(float)
        te.loc[te[c] < 0, c] = np.nan
    return (tr[cols].to_numpy(np.float64), (tr.arr_delay > 15).to_numpy(), te[cols].to_numpy(np.float64), (te.arr_delay > 15).to_numpy())


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    what = sys.argv[1]
    if what == "split":
        df = pd.read_csv(sys.argv[2])
        df = df[df.arr_delay.notna()]
        idx = np.random.RandomState(42).permutation(len(df))
        n = int(0.8 * len(df))
        df.iloc[idx[:n]].to_csv(f"{sys.argv[3]}/train.csv", index=False)
        df.iloc[idx[n:]].to_csv(f"{sys.argv[3]}/test.csv", index=False)
        return
    jobs, outdir = int(sys.argv[2]), sys.argv[3]
    xtr, ytr, xte, yte = load(outdir, sys.argv[4].split(","))
    if what == "sklearn-shards":
        from sklearn.ensemble import RandomForestClassifier
        half = len(xtr) // 2
        shards = [(0, half), (half, len(xtr))]
        t = time.perf_counter()
        models = [RandomForestClassifier(n_estimators=50, max_features="sqrt", n_jobs=jobs, random_state=s).fit(xtr[a:b], ytr[a:b])
                  for s, (a, b) in enumerate(shards)]
        fit = time.perf_counter() - t
        t = time.perf_counter()
        proba = sum(m.predict_proba(xte) for m in models)
        p = models[0].classes_[proba.argmax(axis=1)]
        pred = time.perf_counter() - t
    elif what == "sklearn":
        from sklearn.ensemble import RandomForestClassifier
        m = RandomForestClassifier(n_estimators=100, max_features="sqrt", n_jobs=jobs, random_state=0)
        t = time.perf_counter(); m.fit(xtr, ytr); fit = time.perf_counter() - t
        t = time.perf_counter(); p = m.predict(xte); pred = time.perf_counter() - t
    else:
        import lightgbm as lgb
        params = dict(boosting_type="rf", n_estimators=100, num_leaves=4096, max_depth=-1, min_child_samples=2,
                      min_child_weight=0, subsample=0.632, subsample_freq=1, feature_fraction_bynode=0.25,
                      n_jobs=jobs, max_bin=255, verbose=-1, random_state=0)
        m = lgb.LGBMClassifier(**params)
        t = time.perf_counter(); m.fit(xtr, ytr); fit = time.perf_counter() - t
        t = time.perf_counter(); p = m.predict(xte); pred = time.perf_counter() - t
    print(json.dumps(dict(fit_s=fit, predict_s=pred, accuracy=float((p == yte).mean()),
                          baseline=float(max(yte.mean(), 1 - yte.mean())), peak_mb=peak_mb())))


if __name__ == "__main__":
    main()
