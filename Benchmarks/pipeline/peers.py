#!/usr/bin/env python3
"""scikit-learn, pandas and Dask side of Benchmarks/pipeline/run: a preprocessing pipeline plus a
model fitted on the flights 2013 training split, then predict_proba over a large CSV in chunks.

usage: peers.py fit MODEL TRAIN.csv OUT.pkl           fit the pipeline (MODEL: logistic | forest), pickle it
       peers.py pandas MODEL.pkl DATA.csv OUT.csv [CHUNK [WRITER]]
                                                      read_csv(chunksize=CHUNK, default 100,000) loop, predict_proba,
                                                      appended to OUT.csv by WRITER: pyarrow (pyarrow.csv.write_csv,
                                                      the default) or pandas (DataFrame.to_csv, 5-10x slower: it
                                                      formats every float in Python and dominates the loop)
       peers.py dask MODEL.pkl DATA.csv OUT.csv WORKERS [BLOCKSIZE]
                                                      dd.read_csv(blocksize, default 10 MB, about 108,000 rows: near the pandas chunks) + map_partitions(predict_proba)
                                                      on LocalCluster(n_workers=WORKERS, threads_per_worker=1),
                                                      to_csv(single_file=True): one file in input order
       peers.py agree A.csv B.csv ROWS                max |Δp| and the share of equal predicted classes over the
                                                      first ROWS rows of two probability files (header false,true)
         -> one JSON line each

The pipeline (the same semantics as Benchmarks/pipeline/flights.yaml on the MPILearn side):
  time_hour (ISO 8601, UTC)  -> hour, dayofweek (Monday = 0)        FunctionTransformer
  carrier, origin            -> lower-cased                          FunctionTransformer
  NUMERIC + hour, dayofweek  -> SimpleImputer(median) -> StandardScaler
  carrier, origin            -> OneHotEncoder(categories fixed from the training rows, handle_unknown="ignore")
  then LogisticRegression(C=1, max_iter=1000) (lbfgs) or RandomForestClassifier(FOREST).
Target: arr_delay > 15; training rows with a missing arr_delay are dropped.
Output files: header `false,true` (the classes of arr_delay>15), one row per input row, in input
order; floats in their shortest round-trip form (pyarrow's and pandas' default).
Memory: peak = ru_maxrss of the process (of each worker for Dask, read on the worker after the
job); baseline = the RSS after the imports and the model are loaded (for Dask: each worker's RSS
after it has predicted a 10-row partition), so `above` is what the prediction loop itself costs.
"""
import json
import os
import resource
import sys
import time

NUMERIC = ["dep_delay", "sched_dep_time", "sched_arr_time", "air_time", "distance"]
CATEGORICAL = ["carrier", "origin"]
RAW = ["time_hour"] + CATEGORICAL + NUMERIC
TARGET = "arr_delay"
THRESHOLD = 15
FOREST = dict(n_estimators=50, max_depth=12, max_features="sqrt", random_state=0)
CLASSES = ["false", "true"]
DTYPES = {"time_hour": "string", "carrier": "string", "origin": "string",
          **{c: "float64" for c in NUMERIC}}


def mib(kb):
    return kb / 1024


def peak_mib():
    return mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def rss_mib():
    import psutil
    return psutil.Process().memory_info().rss / 2 ** 20


def datetime_features(X):
    """time_hour -> hour, dayofweek (pandas' convention: Monday = 0), as floats."""
    import pandas as pd
    t = pd.to_datetime(X["time_hour"], format="%Y-%m-%dT%H:%M:%SZ", utc=True)
    return pd.DataFrame({"hour": t.dt.hour.astype("float64"), "dayofweek": t.dt.day_of_week.astype("float64")}, index=X.index)


def lower(X):
    return X.apply(lambda s: s.str.lower())


def names_time(_, __):
    return ["hour", "dayofweek"]


def names_same(_, names):
    return list(names)


def build(model, categories):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
    features = ColumnTransformer([
        ("time", FunctionTransformer(datetime_features, feature_names_out=names_time), ["time_hour"]),
        ("lower", FunctionTransformer(lower, feature_names_out=names_same), CATEGORICAL),
        ("num", "passthrough", NUMERIC),
    ], verbose_feature_names_out=False).set_output(transform="pandas")
    prep = ColumnTransformer([
        ("scale", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), NUMERIC + ["hour", "dayofweek"]),
        ("onehot", OneHotEncoder(categories=categories, handle_unknown="ignore", sparse_output=False), CATEGORICAL),
    ])
    est = LogisticRegression(C=1.0, max_iter=1000) if model == "logistic" else RandomForestClassifier(n_jobs=1, **FOREST)
    return Pipeline([("features", features), ("prep", prep), ("model", est)])


def read(path, **kw):
    import pandas as pd
    return pd.read_csv(path, usecols=RAW, dtype=DTYPES, **kw)


def proba_frame(pipe, df):
    import pandas as pd
    return pd.DataFrame(pipe.predict_proba(df[RAW]), columns=CLASSES)


def fit(model, train, out):
    import pickle
    import numpy as np
    import pandas as pd
    df = pd.read_csv(train, usecols=RAW + [TARGET], dtype=DTYPES)
    df = df[df[TARGET].notna()].reset_index(drop=True)
    y = (df[TARGET] > THRESHOLD).to_numpy()
    # The categories fixed from the training rows (sorted, lower-cased): what every chunk is encoded with.
    categories = [sorted(df[c].str.lower().dropna().unique()) for c in CATEGORICAL]
    pipe = build(model, categories)
    t0 = time.perf_counter()
    pipe.fit(df[RAW], y)
    s = time.perf_counter() - t0
    with open(out, "wb") as f:
        pickle.dump(pipe, f)
    m = pipe.named_steps["model"]
    o = dict(kind="fit", model=model, rows=len(df), positives=int(y.sum()), seconds=s,
             train_accuracy=float((pipe.predict(df[RAW]) == y).mean()),
             features=list(pipe[:-1].get_feature_names_out()), categories=categories, peak_mib=peak_mib())
    if model == "logistic":
        o.update(n_iter=int(m.n_iter_[0]), coef=m.coef_.ravel().tolist(), intercept=float(m.intercept_[0]))
    return o


def load(path):
    import pickle
    with open(path, "rb") as f:
        return pickle.load(f)


def pandas_loop(model_pkl, data, out, chunk, writer):
    pipe = load(model_pkl)
    import numpy as np
    import pandas as pd  # noqa: F401  (loaded by the pickle already)
    if writer == "pyarrow":
        import pyarrow as pa
        import pyarrow.csv as pc
        options = pc.WriteOptions(include_header=False)
    base = rss_mib()
    t0 = time.perf_counter()
    rows = 0
    with open(out, "wb") as f:
        f.write((",".join(CLASSES) + "\n").encode())
        for df in read(data, chunksize=chunk):
            p = pipe.predict_proba(df[RAW])
            if writer == "pyarrow":
                pc.write_csv(pa.table({c: np.ascontiguousarray(p[:, i]) for i, c in enumerate(CLASSES)}), f, options)
            else:
                pd.DataFrame(p, columns=CLASSES).to_csv(f, header=False, index=False)
            rows += len(df)
    s = time.perf_counter() - t0
    peak = peak_mib()
    return dict(kind="pandas", writer=writer, rows=rows, seconds=s, rows_per_s=rows / s, chunk=chunk,
                peak_mib=peak, baseline_mib=base, above_mib=peak - base)


def _rss():
    import psutil
    return psutil.Process().memory_info().rss / 2 ** 20


def _maxrss():
    import resource as r
    return r.getrusage(r.RUSAGE_SELF).ru_maxrss / 1024


def dask_run(model_pkl, data, out, workers, blocksize):
    import dask
    import dask.dataframe as dd
    import pandas as pd
    from dask.distributed import Client, LocalCluster, wait
    pipe = load(model_pkl)
    meta = pd.DataFrame({c: pd.Series(dtype="float64") for c in CLASSES})

    def predict(df, p):
        return proba_frame(p, df)

    tiny = out + ".tiny.csv"
    with open(data) as src, open(tiny, "w") as dst:
        for _ in range(11):
            dst.write(src.readline())
    dask.config.set({"dataframe.convert-string": False})
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        # The model goes to every worker once (a future), not into each task.
        pf = client.scatter(pipe, broadcast=True)
        # Warm-up: every worker loads pandas, scikit-learn and the model and predicts 10 rows;
        # its RSS afterwards is its baseline.
        warm = [client.submit(lambda p, path: len(proba_frame(p, read(path))), pf, tiny, workers=[w], pure=False)
                for w in client.scheduler_info()["workers"]]
        wait(warm)
        base = client.run(_rss)
        t0 = time.perf_counter()
        ddf = dd.read_csv(data, usecols=RAW, dtype=DTYPES, blocksize=blocksize)
        parts = ddf.npartitions
        ddf.map_partitions(predict, pf, meta=meta).to_csv(out, single_file=True, index=False)
        s = time.perf_counter() - t0
        peak = client.run(_maxrss)
    os.remove(tiny)
    rows = sum(1 for _ in open(out, "rb")) - 1
    per = [dict(peak_mib=peak[w], baseline_mib=base[w], above_mib=peak[w] - base[w]) for w in sorted(peak)]
    return dict(kind="dask", workers=workers, partitions=parts, blocksize=blocksize, rows=rows, seconds=s, rows_per_s=rows / s,
                per_worker=per, peak_mib=max(p["peak_mib"] for p in per), above_mib=max(p["above_mib"] for p in per),
                baseline_mib=max(p["baseline_mib"] for p in per), client_peak_mib=peak_mib())


def positive(frame):
    """The positive class's probabilities: the column named true (or 1; MPILearn's proba_true or
    proba_1), else the last column."""
    def cls(c):
        c = c.strip().lower()
        return c[len("proba_"):] if c.startswith("proba_") else c
    named = [c for c in frame.columns if cls(c) in ("true", "1", "1.0")]
    return frame[named[0] if named else frame.columns[-1]].to_numpy()


def agree(a, b, rows):
    import numpy as np
    import pandas as pd
    A = pd.read_csv(a, nrows=rows)
    B = pd.read_csv(b, nrows=rows)
    n = min(len(A), len(B))
    pa, pb = positive(A)[:n], positive(B)[:n]
    d = np.abs(pa - pb)
    return dict(kind="agree", rows=int(n), columns_a=list(A.columns), columns_b=list(B.columns),
                max_abs_diff=float(d.max()), mean_abs_diff=float(d.mean()),
                class_agreement=float(((pa > 0.5) == (pb > 0.5)).mean()))


def main():
    kind = sys.argv[1]
    if kind == "fit":
        o = fit(sys.argv[2], sys.argv[3], sys.argv[4])
    elif kind == "pandas":
        o = pandas_loop(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]) if len(sys.argv) > 5 else 100_000,
                        sys.argv[6] if len(sys.argv) > 6 else "pyarrow")
    elif kind == "dask":
        o = dask_run(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6] if len(sys.argv) > 6 else "10MB")
    elif kind == "agree":
        o = agree(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(f"peers.py: unknown kind {kind}")
    print(json.dumps(o))


if __name__ == "__main__":
    main()
