"""Writes sparse.json: small CSR data sets and scikit-learn's Ridge, RidgeClassifier and
LinearRegression fitted on them as scipy sparse matrices, which LinearModelTests compares
MPILearn's sparse fits against.

Two matrices:
  narrow  150 x 30, positive values (non-zero column means, so centring matters), column 29
          = 2 x column 3 (rank 29 after centring): the Gram-matrix path.
  wide    160 x 4400, 6 entries of +-1 a row, rows l2-normalised (hashed text's
          shape, with more columns than rows): past MPILearn's Gram limit of 4096 columns,
          so Ridge's `auto` is conjugate gradient and LinearRegression LSQR.

Each case records the parameters scikit-learn was given (`params`) and, where it matters,
what MPILearn is to be given to solve the same problem (`ours`). Usage: python make_sparse.py
OUT.json (run through scripts/make-fixtures)."""
import json
import sys

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.linear_model import LinearRegression, Ridge, RidgeClassifier


def narrow(rng, n=150, d=30):
    x = sp.random(n, d, density=0.15, format="lil", random_state=rng, data_rvs=lambda k: rng.uniform(0.5, 3.0, k))
    x[:, 29] = x[:, 3] * 2.0
    x = x.tocsr()
    x.sort_indices()
    beta = rng.normal(size=d)
    y = x @ beta + 2.0 + rng.normal(scale=0.3, size=n)
    return x, y


def wide(rng, n=160, d=4400, per_row=6):
    indptr, indices, data = [0], [], []
    for _ in range(n):
        cols = np.sort(rng.choice(d, size=per_row, replace=False))
        vals = rng.choice([-1.0, 1.0], size=per_row)
        vals /= np.sqrt(per_row)
        indices.extend(cols.tolist())
        data.extend(vals.tolist())
        indptr.append(len(indices))
    x = sp.csr_matrix((np.array(data), np.array(indices, dtype=np.int32), np.array(indptr)), shape=(n, d))
    beta = np.zeros(d)
    beta[rng.choice(d, size=60, replace=False)] = rng.normal(scale=3.0, size=60)
    y = x @ beta + 1.0 + rng.normal(scale=0.1, size=n)
    return x, y


def table(x, y, **targets):
    return dict(shape=list(x.shape), indptr=x.indptr.tolist(), indices=x.indices.tolist(), data=x.data.tolist(), y=y.tolist(),
                **{k: v.tolist() for k, v in targets.items()})


def case(estimator, data, model, params, ours=None, **extra):
    c = dict(estimator=estimator, data=data, params=params, ours=ours or params,
             coef=np.atleast_2d(model.coef_).tolist(), intercept=np.atleast_1d(model.intercept_).astype(float).tolist())
    c.update(extra)
    return c


def main(out):
    rng = np.random.RandomState(0)
    xn, yn = narrow(rng)
    xw, yw = wide(rng)
    labels = (yw > np.median(yw)).astype(float)
    cases = []
    for fit_intercept in (True, False):
        # Ridge on the narrow matrix: converged (MPILearn's default `auto` is the exact
        # Cholesky solve), and scikit-learn's own defaults (tol=1e-4), which MPILearn's
        # sparse_cg follows iteration for iteration when rows >= features.
        for alpha in (0.5, 5.0):
            p = dict(alpha=alpha, fit_intercept=fit_intercept)
            m = Ridge(solver="sparse_cg", tol=1e-12, max_iter=100000, **p).fit(xn, yn)
            cases.append(case("ridge", "narrow", m, dict(p, solver="sparse_cg", tol=1e-12, max_iter=100000), ours=p, check="exact"))
            m = Ridge(**p).fit(xn, yn)
            cases.append(case("ridge", "narrow", m, p, ours=dict(p, solver="sparse_cg"), check="iterates"))
        # LinearRegression on the narrow (rank-deficient) matrix: LSQR converged is the
        # minimum-norm solution MPILearn's Gram path computes; with scikit-learn's default tol
        # MPILearn's LSQR (forced on small data by the tests) follows scikit-learn's.
        p = dict(fit_intercept=fit_intercept)
        m = LinearRegression(tol=1e-13, **p).fit(xn, yn)
        cases.append(case("linear-regression", "narrow", m, dict(p, tol=1e-13), ours=p, check="exact", rank=29))
        m = LinearRegression(**p).fit(xn, yn)
        cases.append(case("linear-regression", "narrow", m, p, check="iterates"))
        # The wide matrix: Ridge's auto is sparse_cg on both sides, but with more features
        # than rows scikit-learn iterates on the rows' kernel: compare converged solutions.
        p = dict(alpha=1.0, fit_intercept=fit_intercept)
        m = Ridge(solver="sparse_cg", tol=1e-13, **p).fit(xw, yw)
        cases.append(case("ridge", "wide", m, dict(p, solver="sparse_cg", tol=1e-13), ours=dict(p, tol=1e-10), check="exact"))
        # LinearRegression: LSQR on both sides, the same iterations; and converged.
        p = dict(fit_intercept=fit_intercept)
        m = LinearRegression(**p).fit(xw, yw)
        cases.append(case("linear-regression", "wide", m, p, check="iterates"))
        m = LinearRegression(tol=1e-12, **p).fit(xw, yw)
        cases.append(case("linear-regression", "wide", m, dict(p, tol=1e-12), check="exact"))
    # RidgeClassifier (what `mpilearn text --estimator ridge` fits) on the wide matrix's
    # `labels`: targets -1/+1.
    p = dict(alpha=1.0)
    m = RidgeClassifier(solver="sparse_cg", tol=1e-13, **p).fit(xw, labels)
    cases.append(case("ridge-classifier", "wide", m, dict(p, solver="sparse_cg", tol=1e-13), ours=dict(p, tol=1e-10), check="exact"))
    doc = dict(sklearn_version=sklearn.__version__, numpy_version=np.__version__,
               data={"narrow": table(xn, yn), "wide": table(xw, yw, labels=labels)}, cases=cases)
    with open(out, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
