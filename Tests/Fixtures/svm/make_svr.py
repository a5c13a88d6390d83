"""Writes svr.json: small regression data sets and scikit-learn's fitted SVR (libsvm's epsilon-SVR)
attributes and predictions, which the SVR tests compare MPILearn against.

Usage: python make_svr.py OUT.json  (run through scripts/make-fixtures).

The JSON (compact: one data set or case a line, floats with Python's shortest round-trip repr):
  sklearn_version, numpy_version
  datasets: NAME -> {X, y, X_test, y_test}
      friedman: make_friedman1 (targets about 0..30); linear: make_regression with noise (targets in
      the hundreds); medium: 600 training rows of make_friedman1, enough SMO iterations for libsvm's
      shrinking to run; friedman_gram: linear kernels of the friedman rows (X = Xtr @ Xtr.T,
      X_test = Xte @ Xtr.T, kernel="precomputed"), rounded to 10 significant digits.
  cases: [{name, dataset, estimator ("SVR"), params (every SVR constructor argument but verbose,
      gamma a number or "scale"/"auto"), gamma_value (the fitted _gamma), support (support_),
      dual_coef (1 x nSV: alpha_i - alpha*_i), intercept, n_iter, predict (on X_test),
      score (R^2 on X_test)}]
The ConvergenceWarning of the max_iter case is silenced.
"""
import sys
import warnings

import numpy as np
from sklearn.datasets import make_friedman1, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import SVR

from make_svm import floats, write_fixture  # the same directory: the shared JSON writer

DEFAULTS = dict(kernel="rbf", degree=3, gamma="scale", coef0=0.0, tol=1e-3, C=1.0, epsilon=0.1, shrinking=True,
                cache_size=200, max_iter=-1)


def split(X, y, n_train):
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def rounded(a, digits=10):
    return np.array([[float("%.*g" % (digits, v)) for v in row] for row in a])


def make_datasets():
    data = {}
    X, y = make_friedman1(n_samples=140, n_features=5, noise=0.5, random_state=0)
    data["friedman"] = split(X, y, 100)
    X, y = make_regression(n_samples=130, n_features=4, n_informative=3, noise=5.0, random_state=1)
    data["linear"] = split(X, y, 100)
    X, y = make_friedman1(n_samples=700, n_features=5, noise=1.0, random_state=2)
    data["medium"] = split(X, y, 600)
    Xtr, ytr, Xte, yte = data["friedman"]
    data["friedman_gram"] = (rounded(Xtr @ Xtr.T), ytr, rounded(Xte @ Xtr.T), yte)
    return data


def fit_case(name, dataset, data, **params):
    full = dict(DEFAULTS)
    unknown = set(params) - set(full)
    assert not unknown, unknown
    full.update(params)
    Xtr, ytr, Xte, yte = data[dataset]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the max_iter case
        m = SVR(**full).fit(Xtr, ytr)
    return dict(
        name=name, dataset=dataset, estimator="SVR", params=full,
        gamma_value=float(m._gamma),
        support=[int(i) for i in m.support_],
        dual_coef=floats(m.dual_coef_),
        intercept=floats(m.intercept_),
        n_iter=[int(n) for n in np.atleast_1d(m.n_iter_)],
        predict=floats(m.predict(Xte)),
        score=float(m.score(Xte, yte)),
    )


def make_cases(data):
    cases = []

    def add(name, dataset, **params):
        cases.append(fit_case(name, dataset, data, **params))

    for C in (0.1, 1.0, 10.0):
        add(f"friedman-rbf-C{C:g}-scale", "friedman", kernel="rbf", C=C)
        add(f"friedman-linear-C{C:g}", "friedman", kernel="linear", C=C)
    for eps in (0.0, 0.5, 2.0):
        add(f"friedman-rbf-C1-eps{eps:g}", "friedman", kernel="rbf", C=1.0, epsilon=eps)
    add("friedman-rbf-C1-auto", "friedman", kernel="rbf", gamma="auto")
    add("friedman-rbf-C1-gamma2", "friedman", kernel="rbf", gamma=2.0)
    add("friedman-poly3-C1-scale", "friedman", kernel="poly", degree=3)
    add("friedman-poly2-coef1-C1", "friedman", kernel="poly", degree=2, coef0=1.0)
    add("friedman-sigmoid-C1-gamma0.05", "friedman", kernel="sigmoid", gamma=0.05)
    add("friedman-rbf-C1-noshrink", "friedman", kernel="rbf", shrinking=False)
    add("friedman-rbf-C100-tol1e-5", "friedman", kernel="rbf", C=100.0, tol=1e-5)
    for C in (1.0, 100.0):
        add(f"linear-linear-C{C:g}-eps1", "linear", kernel="linear", C=C, epsilon=1.0)
        add(f"linear-rbf-C{C:g}-eps1", "linear", kernel="rbf", C=C, epsilon=1.0)
    # 600 rows: enough iterations for libsvm's shrinking to run
    add("medium-rbf-C10-scale", "medium", kernel="rbf", C=10.0)
    add("medium-rbf-C10-scale-noshrink", "medium", kernel="rbf", C=10.0, shrinking=False)
    add("medium-linear-C1", "medium", kernel="linear", C=1.0)
    add("medium-poly3-C1-eps0.5", "medium", kernel="poly", degree=3, epsilon=0.5)
    add("medium-rbf-C1-maxiter30", "medium", kernel="rbf", C=1.0, max_iter=30)
    # precomputed linear kernels of the friedman rows
    add("friedman_gram-precomputed-C1", "friedman_gram", kernel="precomputed", C=1.0)
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases


def main(out):
    data = make_datasets()
    cases = make_cases(data)
    datasets = {name: dict(X=floats(X), y=floats(y), X_test=floats(Xt), y_test=floats(yt))
                for name, (X, y, Xt, yt) in data.items()}
    write_fixture(out, {}, datasets, cases)


if __name__ == "__main__":
    main(sys.argv[1])
