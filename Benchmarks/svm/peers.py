#!/usr/bin/env python3
"""scikit-learn (and joblib's dask backend) side of Benchmarks/svm/run: kernel SVMs (SVC, libsvm).

usage: peers.py data DIR [--quick]        writes the CSVs below into DIR (each skipped if present)
       peers.py fit KERNEL PROBA TRAIN.csv TEST.csv [REPEATS]
           SVC(kernel=KERNEL, C=1, gamma="auto"[, probability=True, random_state=0]) fitted REPEATS
           times (default 3) -> JSON: fit seconds (each, median), support vectors, test accuracy
       peers.py cascade TRAIN.csv TEST.csv TIMEOUT
           `fit rbf 0 ... 1` in a child process killed after TIMEOUT seconds -> its JSON, or
           {"timeout": TIMEOUT} when it ran out of time
       peers.py grid KIND N PROBA DATA.csv [--quick]
           GridSearchCV(SVC(gamma="auto", random_state=0[, probability=True]), GRID, cv=5, refit=True)
           on every row of DATA.csv; KIND sklearn (n_jobs=N, loky processes) or dask (joblib's dask
           backend on a LocalCluster of N worker processes x 1 thread) -> JSON: wall seconds (from
           this process's start: interpreter, imports, the cluster's start, reading the CSV, search,
           refit, as /usr/bin/time counts mpirun's launch for MPILearn), search seconds,
           best_params_, best_score_
       peers.py ours-fit NAME KERNEL PROBA LOG...   MPILearn `svm run` logs (one per repeat) -> the
           fit JSON (NAME labels the cascade rows)
       peers.py ours-grid NAME RANKS PROBA LOG   MPILearn `search grid` log -> the grid JSON
       peers.py nusvc-fit KERNEL PROBA TRAIN.csv TEST.csv [REPEATS]
           as `fit`, for NuSVC(kernel=KERNEL, nu=0.5, gamma="auto"[, probability=True, random_state=0])
       peers.py svr-fit KERNEL TRAIN.csv TEST.csv [REPEATS]
           SVR(kernel=KERNEL) (C=1, epsilon=0.1, gamma="scale": the defaults) fitted REPEATS times
           -> JSON: fit seconds (each, median), support vectors, n_iter, test R²
       peers.py svr-grid N DATA.csv
           GridSearchCV(SVR(), SVR_GRID, cv=5 (KFold, no shuffle), refit=True, n_jobs=N) -> the grid JSON
       peers.py ours-svr-fit NAME KERNEL LOG...   MPILearn `svm run --estimator svr` logs -> the fit JSON
       peers.py table RESULTS_DIR      the tables (fits.jsonl, grids.jsonl, cascade.jsonl there)

Data (make_classification, n_features=4, its other parameters the defaults, random_state=0), CSV
with header x0,x1,x2,x3,y, floats in Python's shortest round-trip repr, y 0/1:
  svm-tutorial.csv        10,000 rows; svm-train.csv its first 8,000, svm-test.csv its last 2,000
  svm-cascade-train.csv   the first 200,000 of 250,000 rows (a second make_classification);
  svm-cascade-test.csv    the last 50,000
  svr-all.csv             10,000 rows of make_friedman1(n_features=5, noise=1.0, random_state=0), header
                          x0..x4,y (y a float); svr-train.csv its first 8,000, svr-test.csv its last 2,000
  --quick adds svm-quick-{tutorial,train,test}.csv (the tutorial's first 2,000 rows; 1,600 / 400)
  and svm-quick-cascade-{train,test}.csv (the cascade train set's first 10,000 rows; the cascade test
  set's last 2,500).
The CSVs are read with numpy's loadtxt (correctly rounded), so the peers fit the very numbers written,
which MPILearn reads too. The grid's cv=5 on a classifier is StratifiedKFold(5) without shuffling (MPILearn's `--cv 5`
follows that rule). `probability` is deprecated in scikit-learn 1.9 (FutureWarning, silenced here
and in the worker processes through PYTHONWARNINGS).

MPILearn's output as parsed here (one line each, at the start of a line):
  fit: <seconds> s ...                     the first number after "fit:"
  support vectors: <total> ...
  test: accuracy <accuracy> ...
  R²: <r2> ...                             (an SVR's report)
  best: {<params>} mean_test_score=<score>  params as JSON, or key=value / key: value pairs
  WALL <seconds>                            /usr/bin/time -f 'WALL %e' around mpirun (run adds it)
  TIMEOUT <seconds>                         run's note that `timeout` stopped the job
"""
import json
import os
import re
import statistics
import subprocess
import sys
import time

os.environ.setdefault("PYTHONWARNINGS", "ignore::FutureWarning")  # inherited by loky and dask workers

GRID = {"C": [0.001, 0.1, 1.0, 2.5, 5, 10.0], "kernel": ["rbf", "poly", "linear"], "shrinking": [True, False]}
GRID_QUICK = {"C": [0.1, 1.0], "kernel": ["rbf", "linear"]}
SVR_GRID = {"C": [0.1, 1.0, 10.0], "epsilon": [0.1, 1.0], "kernel": ["rbf", "linear"]}
COLUMNS = ["x0", "x1", "x2", "x3"]


# ---------------------------------------------------------------- data

def write_csv(path, X, y, regression=False):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(",".join([f"x{j}" for j in range(X.shape[1])] + ["y"]) + "\n")
        for row, label in zip(X.tolist(), y.tolist()):
            f.write(",".join(map(repr, row)) + "," + (repr(label) if regression else str(int(label))) + "\n")
    os.replace(tmp, path)


def data(out, quick):
    from sklearn.datasets import make_classification
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)
    want = ["svm-tutorial.csv", "svm-train.csv", "svm-test.csv"]
    if not all(os.path.exists(p(n)) for n in want):
        X, y = make_classification(n_samples=10000, n_features=4, random_state=0)
        write_csv(p("svm-tutorial.csv"), X, y)
        write_csv(p("svm-train.csv"), X[:8000], y[:8000])
        write_csv(p("svm-test.csv"), X[8000:], y[8000:])
    want = ["svm-cascade-train.csv", "svm-cascade-test.csv"]
    if not all(os.path.exists(p(n)) for n in want):
        X, y = make_classification(n_samples=250000, n_features=4, random_state=0)
        write_csv(p("svm-cascade-train.csv"), X[:200000], y[:200000])
        write_csv(p("svm-cascade-test.csv"), X[200000:], y[200000:])
    want = ["svr-all.csv", "svr-train.csv", "svr-test.csv"]
    if not all(os.path.exists(p(n)) for n in want):
        from sklearn.datasets import make_friedman1
        X, y = make_friedman1(n_samples=10000, n_features=5, noise=1.0, random_state=0)
        write_csv(p("svr-all.csv"), X, y, regression=True)
        write_csv(p("svr-train.csv"), X[:8000], y[:8000], regression=True)
        write_csv(p("svr-test.csv"), X[8000:], y[8000:], regression=True)
    if quick:
        quick_files = {"svm-quick-tutorial.csv": ("svm-tutorial.csv", 0, 2000),
                       "svm-quick-train.csv": ("svm-tutorial.csv", 0, 1600),
                       "svm-quick-test.csv": ("svm-tutorial.csv", 1600, 2000),
                       "svm-quick-cascade-train.csv": ("svm-cascade-train.csv", 0, 10000),
                       "svm-quick-cascade-test.csv": ("svm-cascade-test.csv", 47500, 50000)}
        for name, (source, a, b) in quick_files.items():
            if os.path.exists(p(name)):
                continue
            with open(p(source)) as f:
                lines = f.readlines()
            with open(p(name) + ".tmp", "w") as f:
                f.write(lines[0])
                f.writelines(lines[1 + a:1 + b])
            os.replace(p(name) + ".tmp", p(name))


def load(path, regression=False):
    """X and y of one CSV (every column but y as features); numpy's parser rounds every decimal
    correctly (pandas' default did not before pandas 3, and its round_trip option is deprecated
    there). y is a class code, or a float for `regression`."""
    import numpy as np
    with open(path) as f:
        header = f.readline().strip().split(",")
    columns = [c for c in header if c != "y"]
    a = np.loadtxt(path, delimiter=",", skiprows=1, usecols=[header.index(c) for c in columns + ["y"]], ndmin=2)
    return np.ascontiguousarray(a[:, :-1]), (a[:, -1] if regression else a[:, -1].astype(np.int64))


# ---------------------------------------------------------------- peers

def svc(kernel, proba, estimator="SVC"):
    from sklearn.svm import SVC, NuSVC
    params = dict(kernel=kernel, gamma="auto")
    params.update(dict(C=1.0) if estimator == "SVC" else dict(nu=0.5))
    if proba:
        params.update(probability=True, random_state=0)
    return (SVC if estimator == "SVC" else NuSVC)(**params), params


def fit(kernel, proba, train, test, repeats, estimator="SVC"):
    import warnings
    warnings.simplefilter("ignore", FutureWarning)
    X, y = load(train)
    Xt, yt = load(test)
    seconds = []
    for _ in range(repeats):
        m, params = svc(kernel, proba, estimator)
        t = time.perf_counter()
        m.fit(X, y)
        seconds.append(time.perf_counter() - t)
    print(json.dumps(dict(side="sklearn", estimator=estimator, kernel=kernel, probability=proba, params=params, rows=len(y),
                          fit_s=statistics.median(seconds), fit_all_s=seconds,
                          n_sv=int(m.n_support_.sum()), n_support=m.n_support_.tolist(),
                          n_iter=[int(i) for i in m.n_iter_], accuracy=float((m.predict(Xt) == yt).mean()))))


def svr_fit(kernel, train, test, repeats):
    import numpy as np
    from sklearn.svm import SVR
    X, y = load(train, regression=True)
    Xt, yt = load(test, regression=True)
    seconds = []
    for _ in range(repeats):
        m = SVR(kernel=kernel)
        t = time.perf_counter()
        m.fit(X, y)
        seconds.append(time.perf_counter() - t)
    print(json.dumps(dict(side="sklearn", task="svr", kernel=kernel, params=dict(kernel=kernel, C=1.0, epsilon=0.1, gamma="scale"),
                          rows=len(y), fit_s=statistics.median(seconds), fit_all_s=seconds, n_sv=int(len(m.support_)),
                          n_iter=[int(i) for i in np.atleast_1d(m.n_iter_)],
                          r2=float(m.score(Xt, yt)))))


def svr_grid(n, path):
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import SVR
    X, y = load(path, regression=True)
    t = time.perf_counter()
    gs = GridSearchCV(SVR(), SVR_GRID, cv=5, refit=True, n_jobs=n).fit(X, y)
    search_s = time.perf_counter() - t
    print(json.dumps(dict(side="sklearn", task="svr", run=f"scikit-learn n_jobs={n}", kind="sklearn", workers=n, rows=len(y),
                          candidates=len(gs.cv_results_["params"]), wall_s=process_age_s(), search_s=search_s,
                          refit_s=float(gs.refit_time_), best_params=normalise(gs.best_params_), best_score=float(gs.best_score_),
                          estimator=repr(gs.estimator), grid=SVR_GRID)))


def cascade(train, test, timeout):
    cmd = [sys.executable, os.path.abspath(__file__), "fit", "rbf", "0", train, test, "1"]
    t = time.perf_counter()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        with open(train) as f:
            n = sum(1 for _ in f) - 1
        print(json.dumps(dict(side="sklearn", run="scikit-learn SVC, 1 core", rows=n, timeout=timeout,
                              elapsed_s=time.perf_counter() - t)))
        return
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out["run"] = "scikit-learn SVC, 1 core"
    print(json.dumps(out))


def process_age_s():
    import psutil
    return time.time() - psutil.Process().create_time()


def grid(kind, n, proba, path, quick):
    import logging
    import warnings
    warnings.simplefilter("ignore", FutureWarning)
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import SVC
    client = cluster = None
    if kind == "dask":
        import joblib
        from dask.distributed import Client, LocalCluster
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    elif kind != "sklearn":
        raise SystemExit(f"peers.py: unknown grid peer '{kind}'")
    X, y = load(path)
    params = dict(gamma="auto", random_state=0)
    if proba:
        params["probability"] = True
    g = GRID_QUICK if quick else GRID
    t = time.perf_counter()
    if kind == "sklearn":
        gs = GridSearchCV(SVC(**params), g, cv=5, refit=True, n_jobs=n).fit(X, y)
    else:
        with joblib.parallel_backend("dask"):
            gs = GridSearchCV(SVC(**params), g, cv=5, refit=True, n_jobs=-1).fit(X, y)
    search_s = time.perf_counter() - t
    wall_s = process_age_s()
    name = f"scikit-learn n_jobs={n}" if kind == "sklearn" else f"joblib dask backend, {n} workers"
    out = dict(side="sklearn", run=name, kind=kind, workers=n, probability=proba, rows=len(y),
               candidates=len(gs.cv_results_["params"]), wall_s=wall_s, search_s=search_s,
               refit_s=float(gs.refit_time_), best_params=normalise(gs.best_params_),
               best_score=float(gs.best_score_), estimator=repr(gs.estimator), grid=g)
    if client is not None:
        client.close()
        cluster.close()
    print(json.dumps(out))


# ---------------------------------------------------------------- MPILearn's output

NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def value(v):
    """A parameter value as printed: '10' / '10.0' / 10 -> 10.0 for C; 'true' -> True; 'rbf' stays."""
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        s = v.strip().strip("'\"")
        if s.lower() in ("true", "false"):
            return s.lower() == "true"
        try:
            return float(s)
        except ValueError:
            return s
    if isinstance(v, (int, float)):
        return float(v)
    return v


def normalise(params):
    return {str(k): value(v) for k, v in sorted(params.items())}


def parse_run(text):
    """One `svm run` output -> fit seconds, support vectors, accuracy, wall (None where missing)."""
    def first(pattern):
        m = re.search(pattern, text, re.M)
        return m.group(1) if m else None
    fit_s = first(r"^\s*fit:\D*?(" + NUMBER + ")")
    n_sv = first(r"^\s*support vectors:\s*(\d+)")
    acc = first(r"^\s*test: accuracy\s*(" + NUMBER + ")")
    r2 = first(r"^\s*R²:\s*(" + NUMBER + ")")
    wall = re.findall(r"^WALL (" + NUMBER + ")", text, re.M)
    limit = first(r"^TIMEOUT (" + NUMBER + ")")
    return dict(fit_s=float(fit_s) if fit_s else None, n_sv=int(n_sv) if n_sv else None,
                accuracy=float(acc) if acc else None, r2=float(r2) if r2 else None, wall_s=float(wall[-1]) if wall else None,
                timeout=float(limit) if limit else None)


def ours_fit(name, kernel, proba, logs):
    runs = [parse_run(open(p, errors="replace").read()) if os.path.exists(p) else {} for p in logs]
    ok = [r for r in runs if r.get("fit_s") is not None]
    out = dict(side="mpilearn", run=name, kernel=kernel, probability=proba, runs=len(runs), ok=len(ok), logs=logs,
               fit_all_s=[r["fit_s"] for r in ok],
               fit_s=statistics.median([r["fit_s"] for r in ok]) if ok else None,
               n_sv=ok[-1]["n_sv"] if ok else None, accuracy=ok[-1]["accuracy"] if ok else None,
               wall_s=statistics.median([r["wall_s"] for r in ok if r["wall_s"] is not None] or [float("nan")]) if ok else None,
               timeout=max([r["timeout"] for r in runs if r.get("timeout")], default=None))
    print(json.dumps(out))


def ours_svr_fit(name, kernel, logs):
    runs = [parse_run(open(p, errors="replace").read()) if os.path.exists(p) else {} for p in logs]
    ok = [r for r in runs if r.get("fit_s") is not None]
    print(json.dumps(dict(side="mpilearn", task="svr", run=name, kernel=kernel, runs=len(runs), ok=len(ok), logs=logs,
                          fit_all_s=[r["fit_s"] for r in ok], fit_s=statistics.median([r["fit_s"] for r in ok]) if ok else None,
                          n_sv=ok[-1]["n_sv"] if ok else None, r2=ok[-1]["r2"] if ok else None)))


def ours_grid(name, ranks, proba, log):
    text = open(log, errors="replace").read() if os.path.exists(log) else ""
    wall = re.findall(r"^WALL (" + NUMBER + ")", text, re.M)
    out = dict(side="mpilearn", run=name, workers=ranks, probability=proba, log=log,
               wall_s=float(wall[-1]) if wall else None, best_params=None, best_score=None)
    b = re.search(r"^\s*best: (\{.*\})\s+mean_test_score=(" + NUMBER + ")", text, re.M)
    if b:
        try:
            printed = json.loads(b.group(1))
        except ValueError:
            printed = dict(re.findall(r"""["']?(\w+)["']?\s*[:=]\s*["']?([\w.+-]+)""", b.group(1)))
        out["best_params"], out["best_score"] = normalise(printed), float(b.group(2))
    if out["best_params"] is None:
        out["wall_s"] = None          # a run without an answer is not timed
    print(json.dumps(out))


# ---------------------------------------------------------------- tables

def rows(path):
    return [json.loads(l) for l in open(path) if l.strip()] if os.path.exists(path) else []


def fmt(v, f="%.2f", na="n/a"):
    return na if v is None else f % v


def params_text(p):
    if not p:
        return "n/a"
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(p.items()))


def table(res):
    for name, title in (("fits.jsonl", "SVC(C=1, gamma='auto')"), ("nusvc-fits.jsonl", "NuSVC(nu=0.5, gamma='auto')")):
        fit_table(rows(os.path.join(res, name)), title)
    more_tables(res)


def fit_table(fits, title):
    if fits:
        sk = {(r["kernel"], r["probability"]): r for r in fits if r["side"] == "sklearn"}
        us = {(r["kernel"], r["probability"]): r for r in fits if r["side"] == "mpilearn"}
        rows_n = next(iter(sk.values()))["rows"] if sk else "?"
        print(f"{title} fit on {rows_n} training rows (make_classification, 4 features), "
              "median of 3 fits; probability=True with random_state=0")
        f = "%-7s %-6s %10s %11s %9s %8s %8s %9s %9s"
        print(f % ("kernel", "proba", "sklearn s", "MPILearn s", "sk/ours", "SV sk", "SV ours", "acc sk", "acc ours"))
        for key in sorted(set(sk) | set(us), key=lambda k: (["rbf", "poly", "linear"].index(k[0]), k[1])):
            a, b = sk.get(key, {}), us.get(key, {})
            ratio = a["fit_s"] / b["fit_s"] if a.get("fit_s") and b.get("fit_s") else None
            print(f % (key[0], "yes" if key[1] else "no", fmt(a.get("fit_s"), "%.3f"), fmt(b.get("fit_s"), "%.3f"),
                       fmt(ratio, "%.2fx"), fmt(a.get("n_sv"), "%d"), fmt(b.get("n_sv"), "%d"),
                       fmt(a.get("accuracy"), "%.4f"), fmt(b.get("accuracy"), "%.4f")))
        print("(sk/ours: scikit-learn's fit seconds / MPILearn's, > 1 = MPILearn faster; MPILearn at 1 rank, its"
              " `fit:` seconds)")
        print()


def grid_table(g, title, score="score"):
    """One grid's runs: wall seconds against MPILearn's at 2 ranks, best parameters and score."""
    ref = next((r for r in g if r.get("kind") == "sklearn" and r.get("best_params")), None)
    us2 = next((r for r in g if r["side"] == "mpilearn" and r["workers"] == 2 and r.get("wall_s")), None)
    print(f"{title} on {ref['rows'] if ref else '?'} rows, {ref['candidates'] if ref else '?'} candidates: "
          f"{params_text(ref['grid']) if ref else ''}")
    f = "%-34s %8s %9s  %-40s %8s  %s"
    print(f % ("peer", "wall s", "vs MPI 2", "best params", score, "same best as scikit-learn"))
    for r in g:
        ratio = r["wall_s"] / us2["wall_s"] if us2 and r.get("wall_s") else None
        # compared over the grid's parameters (a run may print its fixed settings too)
        same = "-" if r is ref or not ref or not r.get("best_params") else \
            ("yes" if all(r["best_params"].get(k) == ref["best_params"][k] for k in ref["grid"]) else "NO")
        print(f % (r["run"], fmt(r.get("wall_s"), "%.1f"), fmt(ratio, "%.2fx"), params_text(r.get("best_params")),
                   fmt(r.get("best_score"), "%.4f"), same))
    print("(wall: process start to end of refit, CSV read included; vs MPI 2: this wall / MPILearn's at 2 ranks,"
          " > 1 = MPILearn faster)")
    print()


def more_tables(res):
    grids = rows(os.path.join(res, "grids.jsonl"))
    for proba in (False, True):
        g = [r for r in grids if r["probability"] == proba]
        if g:
            grid_table(g, f"GridSearchCV(SVC(gamma='auto', random_state=0{', probability=True' if proba else ''}), cv=5, refit)")
    svr = rows(os.path.join(res, "svr-fits.jsonl"))
    if svr:
        sk = {r["kernel"]: r for r in svr if r["side"] == "sklearn"}
        us = {}
        for r in svr:
            if r["side"] == "mpilearn":
                us.setdefault(r["kernel"], []).append(r)
        n = next((r["rows"] for r in svr if r.get("rows")), "?")
        print(f"SVR() fit (C=1, epsilon=0.1, gamma='scale') on {n} training rows of make_friedman1 (5 features), median of 3 fits")
        f = "%-7s %-24s %10s %11s %9s %8s %8s %9s %9s"
        print(f % ("kernel", "MPILearn run", "sklearn s", "MPILearn s", "sk/ours", "SV sk", "SV ours", "R² sk", "R² ours"))
        for k in ["rbf", "poly", "linear"]:
            a = sk.get(k, {})
            for b in us.get(k, [{}]):
                ratio = a["fit_s"] / b["fit_s"] if a.get("fit_s") and b.get("fit_s") else None
                print(f % (k, b.get("run", "n/a"), fmt(a.get("fit_s"), "%.3f"), fmt(b.get("fit_s"), "%.3f"), fmt(ratio, "%.2fx"),
                           fmt(a.get("n_sv"), "%d"), fmt(b.get("n_sv"), "%d"), fmt(a.get("r2"), "%.4f"), fmt(b.get("r2"), "%.4f")))
        print("(sk/ours: scikit-learn's fit seconds / MPILearn's, > 1 = MPILearn faster; Dask-ML has no SVR)")
        print()
    sg = rows(os.path.join(res, "svr-grids.jsonl"))
    if sg:
        grid_table(sg, "GridSearchCV(SVR(), cv=5, refit)", score="R²")
    casc = rows(os.path.join(res, "cascade.jsonl"))
    if casc:
        n = next((r["rows"] for r in casc if r.get("rows")), "?")
        print(f"rbf, C=1, gamma='auto' on the cascade set: {n} training rows")
        f = "%-38s %10s %8s %9s"
        print(f % ("run", "fit s", "SV", "accuracy"))
        for r in casc:
            t = "> %g s" % r["timeout"] if r.get("timeout") and r.get("fit_s") is None else fmt(r.get("fit_s"), "%.2f")
            print(f % (r["run"], t, fmt(r.get("n_sv"), "%d"), fmt(r.get("accuracy"), "%.4f")))


def main():
    a = sys.argv[1:]
    if not a:
        raise SystemExit(__doc__)
    what = a[0]
    if what == "data":
        data(a[1], "--quick" in a[2:])
    elif what == "fit":
        fit(a[1], a[2] in ("1", "true", "True"), a[3], a[4], int(a[5]) if len(a) > 5 else 3)
    elif what == "cascade":
        cascade(a[1], a[2], float(a[3]))
    elif what == "grid":
        grid(a[1], int(a[2]), a[3] in ("1", "true", "True"), a[4], "--quick" in a[5:])
    elif what == "ours-fit":
        ours_fit(a[1], a[2], a[3] in ("1", "true", "True"), a[4:])
    elif what == "ours-grid":
        ours_grid(a[1], int(a[2]), a[3] in ("1", "true", "True"), a[4])
    elif what == "nusvc-fit":
        fit(a[1], a[2] in ("1", "true", "True"), a[3], a[4], int(a[5]) if len(a) > 5 else 3, estimator="NuSVC")
    elif what == "svr-fit":
        svr_fit(a[1], a[2], a[3], int(a[4]) if len(a) > 4 else 3)
    elif what == "svr-grid":
        svr_grid(int(a[1]), a[2])
    elif what == "ours-svr-fit":
        ours_svr_fit(a[1], a[2], a[3:])
    elif what == "table":
        table(a[1])
    else:
        raise SystemExit(f"peers.py: unknown command {what}\n{__doc__}")


if __name__ == "__main__":
    main()
