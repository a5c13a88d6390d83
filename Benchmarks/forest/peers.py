#!/usr/bin/env python3
"""Peers for Benchmarks/forest/run: one configuration per process, so each peak RSS is its own.

usage: peers.py split FLIGHTS.csv OUTDIR        -> OUTDIR/train.csv, OUTDIR/test.csv (80/20, seed 42)
       peers.py synth-npy OUTDIR                -> OUTDIR/synth-{train,test}.npy from synth-{train,test}.csv
                                                   (the CSVs `mpilearn generate` wrote; target y is the last column)
       peers.py KIND JOBS OUTDIR FEATURES [--data flights|synth] [--trees N] [--max-depth D]
                                                -> one JSON line: fit_s, predict_s, accuracy, baseline, peak_mb
KIND: sklearn         RandomForestClassifier(max_features="sqrt", n_jobs=JOBS)
      sklearn-shards  the per-shard scheme in scikit-learn: the training rows split in 2 contiguous halves
                      (the shards 2 MPILearn ranks read), N/2 trees on each, soft vote
      lightgbm        LightGBM's rf boosting: bagging 0.632 of the rows per tree, sqrt(d) features per node
                      (feature_fraction_bynode), JOBS threads
      xgboost         XGBoost's XGBRFClassifier, tree_method hist: one round of N parallel trees, subsample
                      0.632 per tree, sqrt(d) features per node (colsample_bynode), JOBS threads
--trees: trees in the forest (default 100). --max-depth: default unlimited (scikit-learn None, LightGBM -1
with at most 4,096 leaves, XGBoost 0 = no limit).
--data flights (default): OUTDIR/train.csv and test.csv; FEATURES: comma-separated columns, the same list
MPILearn gets; carrier and origin become ordinal codes of the training dictionary, every other column is
numeric; target arr_delay > 15.
--data synth: OUTDIR/synth-{train,test}.npy; FEATURES is ignored (every column but the last, which is y).
Only fit and predict are timed: the rows are in memory before the clock starts.
"""
import argparse, json, math, resource, sys, time
import numpy as np

CATEGORICAL = ["carrier", "origin"]


def load_flights(outdir, cols):
    import pandas as pd
    tr = pd.read_csv(f"{outdir}/train.csv")
    te = pd.read_csv(f"{outdir}/test.csv")
    for c in CATEGORICAL:   # codes from the training dictionary (sorted), unseen -> NaN
        cats = sorted(tr[c].dropna().unique())
        tr[c] = pd.Categorical(tr[c], categories=cats).codes.astype(float)
        te[c] = pd.Categorical(te[c], categories=cats).codes.astype(float)
        te.loc[te[c] < 0, c] = np.nan
    return (tr[cols].to_numpy(np.float64), (tr.arr_delay > 15).to_numpy(), te[cols].to_numpy(np.float64), (te.arr_delay > 15).to_numpy())


def load_synth(outdir):
    tr = np.load(f"{outdir}/synth-train.npy")
    te = np.load(f"{outdir}/synth-test.npy")
    return tr[:, :-1], tr[:, -1].astype(np.int64), te[:, :-1], te[:, -1].astype(np.int64)


def synth_npy(outdir):
    """The generated CSVs as float64 .npy (x0..x{d-1}, y): pyarrow parses the shortest round-trip
    text MPILearn writes back to the same doubles MPILearn reads."""
    import pyarrow.csv as pc
    for part in ("train", "test"):
        t = pc.read_csv(f"{outdir}/synth-{part}.csv")
        np.save(f"{outdir}/synth-{part}.npy", np.column_stack([c.to_numpy().astype(np.float64) for c in t.columns]))


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sqrt_features(d):
    """scikit-learn's max_features="sqrt" (and MPILearn's): max(1, int(sqrt(d))) features per split."""
    return max(1, int(math.sqrt(d)))


def lightgbm_fraction(x):
    """feature_fraction_bynode giving sqrt(d) features per node. LightGBM samples
    round(fraction * valid) of its *valid* features (a constant column, such as the flights' year,
    is dropped when binning) and at least 2."""
    valid = sum(1 for j in range(x.shape[1]) if np.unique(x[~np.isnan(x[:, j]), j]).size > 1)
    return min(1.0, sqrt_features(x.shape[1]) / max(1, valid))


def xgboost_fraction(d):
    """colsample_bynode giving sqrt(d) features per node: XGBoost takes int(colsample * d) (a float32
    product, so k/d itself can truncate to k - 1; (k + 0.5)/d cannot)."""
    return min(1.0, (sqrt_features(d) + 0.5) / d)


def fit_predict(kind, jobs, trees, depth, xtr, ytr, xte):
    if kind == "sklearn-shards":
        from sklearn.ensemble import RandomForestClassifier
        half = len(xtr) // 2
        shards = [(0, half), (half, len(xtr))]
        t = time.perf_counter()
        models = [RandomForestClassifier(n_estimators=trees // 2, max_features="sqrt", max_depth=depth, n_jobs=jobs,
                                         random_state=s).fit(xtr[a:b], ytr[a:b])
                  for s, (a, b) in enumerate(shards)]
        fit = time.perf_counter() - t
        t = time.perf_counter()
        proba = sum(m.predict_proba(xte) for m in models)
        p = models[0].classes_[proba.argmax(axis=1)]
        return fit, time.perf_counter() - t, p, {}
    if kind == "sklearn":
        from sklearn.ensemble import RandomForestClassifier
        m = RandomForestClassifier(n_estimators=trees, max_features="sqrt", max_depth=depth, n_jobs=jobs, random_state=0)
    elif kind == "lightgbm":
        import lightgbm as lgb
        params = dict(boosting_type="rf", n_estimators=trees, num_leaves=4096 if depth is None else min(131072, 2 ** depth),
                      max_depth=-1 if depth is None else depth, min_child_samples=2, min_child_weight=0,
                      subsample=0.632, subsample_freq=1, feature_fraction_bynode=lightgbm_fraction(xtr),
                      n_jobs=jobs, max_bin=255, verbose=-1, random_state=0)
        m = lgb.LGBMClassifier(**params)
    elif kind == "xgboost":
        import xgboost as xgb
        # XGBRFClassifier: learning_rate 1, one boosting round of n_estimators parallel trees,
        # reg_lambda 1e-5. min_child_weight 0: leaves as small as scikit-learn's (a row's hessian is
        # p(1 - p) < 1, so the default 1 would need several rows per leaf).
        params = dict(n_estimators=trees, tree_method="hist", max_depth=0 if depth is None else depth, max_leaves=0,
                      min_child_weight=0, subsample=0.632, colsample_bynode=xgboost_fraction(xtr.shape[1]),
                      max_bin=255, n_jobs=jobs, random_state=0, verbosity=0)
        m = xgb.XGBRFClassifier(**params)
    else:
        raise SystemExit(f"peers.py: unknown kind {kind!r}")
    t = time.perf_counter(); m.fit(xtr, ytr); fit = time.perf_counter() - t
    t = time.perf_counter(); p = m.predict(xte); pred = time.perf_counter() - t
    shown = {k: v for k, v in params.items() if k in ("feature_fraction_bynode", "colsample_bynode", "num_leaves", "max_depth")} \
        if kind in ("lightgbm", "xgboost") else {}
    return fit, pred, p, {"params": shown} if shown else {}


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    if what == "split":
        import pandas as pd
        df = pd.read_csv(sys.argv[2])
        df = df[df.arr_delay.notna()]
        idx = np.random.RandomState(42).permutation(len(df))
        n = int(0.8 * len(df))
        df.iloc[idx[:n]].to_csv(f"{sys.argv[3]}/train.csv", index=False)
        df.iloc[idx[n:]].to_csv(f"{sys.argv[3]}/test.csv", index=False)
        return
    if what == "synth-npy":
        synth_npy(sys.argv[2])
        return
    ap = argparse.ArgumentParser(usage=__doc__)
    ap.add_argument("kind", choices=["sklearn", "sklearn-shards", "lightgbm", "xgboost"])
    ap.add_argument("jobs", type=int)
    ap.add_argument("outdir")
    ap.add_argument("features")
    ap.add_argument("--data", choices=["flights", "synth"], default="flights")
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--max-depth", type=int, default=None)
    a = ap.parse_args()
    xtr, ytr, xte, yte = load_synth(a.outdir) if a.data == "synth" else load_flights(a.outdir, a.features.split(","))
    fit, pred, p, shown = fit_predict(a.kind, a.jobs, a.trees, a.max_depth, xtr, ytr, xte)
    share = float(np.bincount(np.asarray(yte, dtype=np.int64)).max() / len(yte))   # the majority class's share of the test rows
    print(json.dumps(dict(fit_s=fit, predict_s=pred, accuracy=float((p == yte).mean()), baseline=share, peak_mb=peak_mb(),
                          trees=a.trees, max_depth=a.max_depth, rows=len(xtr), features=xtr.shape[1], **shown)))


if __name__ == "__main__":
    main()
