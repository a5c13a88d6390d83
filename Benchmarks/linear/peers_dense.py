#!/usr/bin/env python3
"""scikit-learn and NumPy side of Benchmarks/linear/dense: Ridge, LinearRegression and
LogisticRegression on a dense make_classification table.

usage: peers_dense.py generate ROWS FEATURES OUT.csv OUT.npz   the table, as CSV (MPILearn) and .npz (the peers)
       peers_dense.py dgemm N THREADS                          NumPy's matmul rate (its bundled OpenBLAS)
       peers_dense.py ridge DATA.npz ALPHA THREADS             Ridge(alpha, solver="cholesky") on (X, y)
       peers_dense.py lstsq DATA.npz THREADS                   numpy.linalg.lstsq on ([X, 1], y)
       peers_dense.py logistic DATA.npz C THREADS              LogisticRegression(lbfgs, C) on (X, label)
       peers_dense.py table RESULTS DATA.npz                   the report (reads the JSON lines and MPILearn's logs and models)
         -> one JSON line each but table

The data: X, label = make_classification(n_samples=ROWS, n_features=FEATURES, n_informative=20,
n_redundant=0, random_state=0) (no redundant columns, so XᵀX has full rank and the least-squares
coefficients are unique); the Ridge and LinearRegression target y = X·w + ε is make_regression's
recipe on that X: w is 100·U(0, 1) on 20 columns drawn by RandomState(1), 0 elsewhere, ε ~ N(0, 10²).
X and y are rounded to 6 decimals, as a CSV export would hold them, so the CSV MPILearn reads and
the arrays the peers fit are the same numbers (every value has at most 15 significant digits, which
both sides parse exactly). CSV columns: x0 ... x{FEATURES-1}, label, y.
THREADS bounds the BLAS threads of the peers (threadpoolctl); only the fit is timed, the data is
already in memory.
"""
import json
import os
import re
import struct
import sys
import time


def limit(threads):
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=int(threads))


def load(path):
    import numpy as np
    with np.load(path) as z:
        return z["X"], z["label"], z["y"]


def generate(rows, features, csv, npz):
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pc
    from sklearn.datasets import make_classification
    t0 = time.perf_counter()
    X, label = make_classification(n_samples=rows, n_features=features, n_informative=20, n_redundant=0, random_state=0)
    rng = np.random.RandomState(1)
    w = np.zeros(features)
    w[rng.choice(features, size=min(20, features), replace=False)] = 100 * rng.uniform(size=min(20, features))
    y = X @ w + 10 * rng.standard_normal(rows)
    X, y = np.round(X, 6), np.round(y, 6)
    tmp = npz + ".tmp.npz"
    np.savez(tmp, X=X, label=label.astype(np.int64), y=y, w=w)
    cols = {f"x{j}": X[:, j] for j in range(features)}
    cols["label"], cols["y"] = label.astype(np.int64), y
    pc.write_csv(pa.table(cols), csv + ".tmp", pc.WriteOptions(quoting_style="none"))
    os.replace(csv + ".tmp", csv)
    os.replace(tmp, npz)
    return {"rows": rows, "features": features, "seconds": time.perf_counter() - t0, "csv_mb": os.path.getsize(csv) / 2 ** 20}


def dgemm(n, threads):
    import numpy as np
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n)), rng.random((n, n))
    with limit(threads):
        a @ b
        best = min(timed(lambda: a @ b) for _ in range(5))
    from threadpoolctl import threadpool_info
    blas = next((i for i in threadpool_info() if i.get("user_api") == "blas" and "numpy" in i.get("filepath", "")), {})
    return {"n": n, "threads": threads, "seconds": best, "gflops": 2 * n ** 3 / best / 1e9,
            "blas": f"{blas.get('internal_api', '?')} {blas.get('version', '?')} {blas.get('architecture', '')}".strip()}


def timed(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def ridge(path, alpha, threads):
    from sklearn.linear_model import Ridge
    X, _, y = load(path)
    with limit(threads):
        t0 = time.perf_counter()
        m = Ridge(alpha=alpha, solver="cholesky").fit(X, y)
        s = time.perf_counter() - t0
    return {"seconds": s, "threads": threads, "coef": m.coef_.tolist(), "intercept": float(m.intercept_)}


def lstsq(path, threads):
    import numpy as np
    X, _, y = load(path)
    A = np.hstack([X, np.ones((X.shape[0], 1))])   # the intercept column (not timed)
    del X
    with limit(threads):
        t0 = time.perf_counter()
        coef, _, rank, _ = np.linalg.lstsq(A, y, rcond=None)
        s = time.perf_counter() - t0
    return {"seconds": s, "threads": threads, "coef": coef[:-1].tolist(), "intercept": float(coef[-1]), "rank": int(rank)}


def logistic(path, C, threads):
    from sklearn.linear_model import LogisticRegression
    X, label, _ = load(path)
    with limit(threads):
        t0 = time.perf_counter()
        m = LogisticRegression(C=C, solver="lbfgs").fit(X, label)
        s = time.perf_counter() - t0
    return {"seconds": s, "threads": threads, "n_iter": int(m.n_iter_[0]), "coef": m.coef_.ravel().tolist(),
            "intercept": float(m.intercept_[0]), "C": C}


# MARK: the report

def read_model(path):
    """An MPILearn model file (Sources/MPILearn/Persistence/ModelContainer.swift): the JSON header
    and the Float64 sections."""
    import numpy as np
    b = open(path, "rb").read()
    assert b[:8] == b"MPILRNMD", f"{path}: not an MPILearn model"
    p = 12
    (k,) = struct.unpack_from("<I", b, p); p += 4 + k
    (h,) = struct.unpack_from("<Q", b, p); header = json.loads(b[p + 8:p + 8 + h]); p += 8 + h
    (count,) = struct.unpack_from("<I", b, p); p += 4
    sections = {}
    for _ in range(count):
        (n,) = struct.unpack_from("<I", b, p); name = b[p + 4:p + 4 + n].decode(); p += 4 + n
        (m,) = struct.unpack_from("<Q", b, p); sections[name] = np.frombuffer(b[p + 8:p + 8 + m], dtype="<f8"); p += 8 + m
    return header, sections


def ours(results, name):
    """MPILearn's run `name`: wall seconds, its phase table (max over ranks), its model."""
    log = os.path.join(results, name + ".log")
    if not os.path.exists(log):
        return None
    text = open(log).read()
    o = {"log": log, "phases": {}}
    m = re.search(r"^WALL ([\d.]+)", text, re.M)
    o["wall"] = float(m.group(1)) if m else float("nan")
    for p, s in re.findall(r"^(read|gram|sums \+ reduce \+ solve|fit|save)\s+([\d.]+)", text, re.M):
        o["phases"][p] = float(s)
    m = re.search(r"in (\d+) L-BFGS iteration", text)
    if m:
        o["n_iter"] = int(m.group(1))
    o["warning"] = "warning:" in text
    model = os.path.join(results, name + ".model")
    if "fit" not in o["phases"] and "gram" not in o["phases"] or not os.path.exists(model):
        o["failed"] = True
        return o
    o["fit"] = o["phases"].get("fit", 0) + o["phases"].get("gram", 0) + o["phases"].get("sums + reduce + solve", 0)
    _, sec = read_model(model)
    o["coef"], o["intercept"] = sec["coef"], float(sec["intercept"][0])
    return o


def ranks(p):
    return "1 rank" if p == 1 else f"{p} ranks"


def agreement(a, b):
    """max |a − b| / max |b| over coef_ and intercept_ (relative to the largest coefficient:
    elementwise ratios blow up on the near-zero coefficients of noise columns)."""
    import numpy as np
    va = np.append(np.asarray(a["coef"], dtype=float), a["intercept"])
    vb = np.append(np.asarray(b["coef"], dtype=float), b["intercept"])
    return float(np.max(np.abs(va - vb)) / np.max(np.abs(vb)))


def objective(X, label, coef, intercept, C):
    """scikit-learn's L-BFGS objective, C·Σ log-loss + ½‖coef‖² (the intercept not penalised)."""
    import numpy as np
    z = X @ np.asarray(coef) + intercept
    return float(C * (np.logaddexp(0, z) - label * z).sum() + 0.5 * np.dot(coef, coef))


def table(results, npz):
    import numpy as np
    peers = {}
    with open(os.path.join(results, "peers.jsonl")) as f:
        for line in f:
            o = json.loads(line)
            peers[o["run"]] = o
    X, label, _ = load(npz)
    n, d = X.shape
    gen = peers.get("generate", {})
    dg = {c: peers.get(f"dgemm-c-{c}") for c in (1, 2)}
    npdg = peers.get("dgemm-numpy")
    print(f"dense table: make_classification({n}, {d}, n_informative=20, n_redundant=0, random_state=0), CSV {gen.get('csv_mb', float('nan')):.0f} MB;"
          f" Ridge/LinearRegression target y = X·w + N(0, 10²); LogisticRegression on the class label")
    print(f"load average {peers.get('load-before', {}).get('load', '?')} before, {peers.get('load-after', {}).get('load', '?')} after (1, 5, 15 min)")
    print()
    print(f"{'DGEMM (2000×2000 float64, 1 thread, best of 5, 2·N³ flops)':92s} GFLOP/s per core")
    if dg[1]:
        print(f"  {'system OpenBLAS (the library MPILearn links; ' + dg[1]['blas'].split(' NO_')[0] + ', core ' + dg[1]['core'] + '), 1 process':90s} {dg[1]['gflops']:8.2f}")
    if dg[2]:
        print(f"  {'system OpenBLAS, 2 processes at once (the slower; every core busy, as at 2 ranks)':90s} {dg[2]['gflops']:8.2f}")
    if npdg:
        print(f"  {'NumPy matmul (' + npdg['blas'] + ', bundled with numpy), 1 thread':90s} {npdg['gflops']:8.2f}")
    print()
    rows = []

    def add(label_, seconds, wall, ref, agree_to, extra=""):
        rows.append((label_, seconds, wall, ref, agree_to, extra))

    C = peers.get("sklearn-logistic-t1", {}).get("C", 1.0)
    for est, sk, what in [("ridge", "sklearn-ridge", "Ridge(alpha=1, cholesky)"),
                          ("linear-regression", "numpy-lstsq", "LinearRegression / lstsq"),
                          ("logistic-regression", "sklearn-logistic", "LogisticRegression(lbfgs, C=1)")]:
        print(f"== {what}")
        print(f"  {'run':44s}   fit s   wall s   vs peer   coef rel. diff   notes")
        for t in (1, 2):
            p = peers.get(f"{sk}-t{t}")
            if not p:
                continue
            note = ""
            if est == "logistic-regression":
                note = f"{p['n_iter']} iterations, objective {objective(X, label, np.asarray(p['coef']), p['intercept'], C):.10g}"
            elif est == "linear-regression":
                note = f"rank {p['rank']}"
            peer_name = {"ridge": "scikit-learn Ridge", "linear-regression": "numpy.linalg.lstsq", "logistic-regression": "scikit-learn LogisticRegression"}[est]
            print(f"  {peer_name + (', 1 thread' if t == 1 else f', {t} threads'):44s} {p['seconds']:7.2f}        -     1.00x                -   {note}")
        ref = peers.get(f"{sk}-t1")
        for np_ in (1, 2):
            o = ours(results, f"mpilearn-{est}-np{np_}")
            if o is None:
                continue
            if o.get("failed"):
                print(f"  MPILearn, {ranks(np_)}: failed (see {o['log']})")
                continue
            peer = peers.get(f"{sk}-t{np_}") or ref
            note = ""
            if est == "logistic-regression":
                note = f"{o.get('n_iter', '?')} iterations, objective {objective(X, label, o['coef'], o['intercept'], C):.10g}" + (" (warning)" if o["warning"] else "")
            print(f"  {f'MPILearn, {ranks(np_)}':44s} {o['fit']:7.2f} {o['wall']:8.1f} {peer['seconds'] / o['fit']:8.2f}x {agreement(o, ref):16.2e}   {note}")
        print()

    print("== Gram step (local centred XᵀX with DSYRK, plus Xᵀy; MPILearn's `gram` phase, slowest rank)")
    print("  flops counted as n·d² per rank (DSYRK computes one triangle: half of GEMM's 2·n·d²)")
    print(f"  {'run':44s} rows/rank   gram s   GFLOP/s   DGEMM GFLOP/s   % of DGEMM   (GEMM-equivalent 2·n·d²: GFLOP/s, %)")
    for est in ("ridge", "linear-regression"):
        for np_ in (1, 2):
            o = ours(results, f"mpilearn-{est}-np{np_}")
            if not o or o.get("failed") or "gram" not in o["phases"]:
                continue
            per = -(-n // np_)
            g = o["phases"]["gram"]
            rate = per * d * d / g / 1e9
            ref = dg.get(np_) or dg.get(1)
            if ref:
                print(f"  {f'MPILearn {est}, {ranks(np_)}':44s} {per:9d} {g:8.3f} {rate:9.2f} {ref['gflops']:15.2f} {100 * rate / ref['gflops']:11.0f}%"
                      f"   ({2 * rate:.2f}, {200 * rate / ref['gflops']:.0f}%)")
    print("  (DGEMM column: system OpenBLAS, 1 process for 1 rank, 2 processes at once for 2 ranks; goal: gram >= 70% of it)")


def main():
    kind = sys.argv[1]
    if kind == "table":
        table(sys.argv[2], sys.argv[3])
        return
    if kind == "generate":
        out = generate(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5])
    elif kind == "dgemm":
        out = dgemm(int(sys.argv[2]), int(sys.argv[3]))
    elif kind == "ridge":
        out = ridge(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))
    elif kind == "lstsq":
        out = lstsq(sys.argv[2], int(sys.argv[3]))
    elif kind == "logistic":
        out = logistic(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(f"peers_dense.py: unknown kind {kind}")
    import resource
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
