#!/usr/bin/env python3
"""scikit-learn (and Dask-ML) side of Benchmarks/linear/run: text classification on the Debian
package descriptions (JSON Lines: package, source, section, description), libs vs the rest.

usage: peers.py vectorize TRAIN.jsonl                     HashingVectorizer.transform throughput
       peers.py logistic TRAIN.jsonl TEST.jsonl [C]       LogisticRegression(lbfgs) on the hashed rows
       peers.py multiclass TRAIN.jsonl TEST.jsonl         the same over all sections (multinomial)
       peers.py sgd TRAIN.jsonl TEST.jsonl [BATCH]        the out-of-core loop: hash a batch, partial_fit
       peers.py dask-ml TRAIN.jsonl TEST.jsonl WORKERS    dask_ml LogisticRegression (lbfgs) on a LocalCluster
         -> one JSON line each

The vectorizer everywhere: HashingVectorizer(n_features=2**18, alternate_sign=False, norm="l2"),
the rest of its parameters scikit-learn's defaults (MPILearn's `text` command with the same flags
produces the same matrix). Target: section == "libs" (1) or not (0).
Times are of the step itself (the JSON reading is not timed); the LogisticRegression objective is
scikit-learn's: C * sum(log-loss) + 0.5 * ||coef||^2 (the intercept not penalised).
"""
import json
import resource
import sys
import time

N_FEATURES = 2 ** 18
POSITIVE = "libs"


def read(path, sections=False):
    texts, labels, size = [], [], 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            texts.append(o["description"])
            labels.append(o["section"] if sections else 1 if o["section"] == POSITIVE else 0)
            size += len(o["description"].encode("utf-8"))
    return texts, labels, size


def vectorizer():
    from sklearn.feature_extraction.text import HashingVectorizer
    return HashingVectorizer(n_features=N_FEATURES, alternate_sign=False, norm="l2")


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    import numpy as np
    kind = sys.argv[1]
    train, ytr, size = read(sys.argv[2])
    out = {"kind": kind, "train_docs": len(train), "train_mb": size / 2 ** 20}
    if kind == "vectorize":
        v = vectorizer()
        t0 = time.perf_counter()
        X = v.transform(train)
        s = time.perf_counter() - t0
        out.update(seconds=s, mb_per_s=size / 2 ** 20 / s, docs_per_s=len(train) / s, nnz=int(X.nnz))
    elif kind == "logistic":
        from sklearn.linear_model import LogisticRegression
        test, yte, _ = read(sys.argv[3])
        C = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
        v = vectorizer()
        X, Xt = v.transform(train), v.transform(test)
        y, yt = np.array(ytr), np.array(yte)
        t0 = time.perf_counter()
        m = LogisticRegression(C=C, solver="lbfgs", max_iter=1000).fit(X, y)
        s = time.perf_counter() - t0
        z = X @ m.coef_.ravel() + m.intercept_[0]
        loss = np.logaddexp(0, z) - y * z
        out.update(seconds=s, n_iter=int(m.n_iter_[0]), objective=float(C * loss.sum() + 0.5 * (m.coef_ ** 2).sum()),
                   accuracy=float((m.predict(Xt) == yt).mean()), baseline=float(max(yt.mean(), 1 - yt.mean())))
    elif kind == "multiclass":
        from sklearn.linear_model import LogisticRegression
        train, ytr, _ = read(sys.argv[2], sections=True)
        test, yte, _ = read(sys.argv[3], sections=True)
        v = vectorizer()
        X, Xt = v.transform(train), v.transform(test)
        y, yt = np.array(ytr), np.array(yte)
        t0 = time.perf_counter()
        m = LogisticRegression(C=1.0, solver="lbfgs", max_iter=1000).fit(X, y)
        s = time.perf_counter() - t0
        z = X @ m.coef_.T + m.intercept_
        codes = np.searchsorted(m.classes_, y)
        zmax = z.max(axis=1)
        lse = zmax + np.log(np.exp(z - zmax[:, None]).sum(axis=1))
        loss = lse - z[np.arange(len(y)), codes]
        values, counts = np.unique(yt, return_counts=True)
        out.update(seconds=s, n_iter=int(m.n_iter_[0]), classes=int(len(m.classes_)),
                   objective=float(loss.sum() + 0.5 * (m.coef_ ** 2).sum()),
                   accuracy=float((m.predict(Xt) == yt).mean()), baseline=float(counts.max() / len(yt)))
    elif kind == "sgd":
        from sklearn.linear_model import SGDClassifier
        test, yte, _ = read(sys.argv[3])
        batch = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
        v = vectorizer()
        m = SGDClassifier()
        t0 = time.perf_counter()
        for a in range(0, len(train), batch):
            m.partial_fit(v.transform(train[a:a + batch]), ytr[a:a + batch], classes=[0, 1])
        s = time.perf_counter() - t0
        yt = np.array(yte)
        out.update(seconds=s, batches=(len(train) + batch - 1) // batch,
                   accuracy=float((m.predict(v.transform(test)) == yt).mean()), baseline=float(max(yt.mean(), 1 - yt.mean())))
    elif kind == "dask-ml":
        import dask.array as da
        from dask.distributed import Client, LocalCluster
        from dask_ml.linear_model import LogisticRegression
        import scipy.sparse as sp
        test, yte, _ = read(sys.argv[3])
        workers = int(sys.argv[4])
        v = vectorizer()
        X = sp.hstack([v.transform(train), np.ones((len(train), 1))]).tocsr()
        Xt = sp.hstack([v.transform(test), np.ones((len(test), 1))]).tocsr()
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True) as cluster, Client(cluster):
            import sparse
            # Dask-ML takes sparse COO chunks and an explicit intercept column (scipy CSR chunks fail).
            Xd = da.from_array(sparse.COO.from_scipy_sparse(X), chunks=(len(train) // workers + 1, X.shape[1]), asarray=False)
            yd = da.from_array(np.array(ytr), chunks=len(train) // workers + 1)
            t0 = time.perf_counter()
            # normalize=False: dask_glm's default standardises the columns (X.std densifies the
            # sparse matrix: 25,000 x 262,145 doubles a worker, which kills the workers).
            m = LogisticRegression(solver="lbfgs", C=1.0, fit_intercept=False, solver_kwargs={"normalize": False}).fit(Xd, yd)
            s = time.perf_counter() - t0
            pred = (Xt @ m.coef_.ravel()) > 0
            yt = np.array(yte)
            out.update(seconds=s, accuracy=float((pred == yt).mean()), baseline=float(max(yt.mean(), 1 - yt.mean())), workers=workers)
    else:
        sys.exit(f"peers.py: unknown kind {kind}")
    out["peak_mb"] = peak_mb()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
