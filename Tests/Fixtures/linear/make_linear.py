"""Writes linear.json: small data sets and scikit-learn's fitted LinearRegression, Ridge and
LogisticRegression (lbfgs) attributes, which LinearModelTests compares MPILearn against.

Usage: python make_linear.py OUT.json  (run through scripts/make-fixtures)."""
import json
import sys
import warnings

import numpy as np
import sklearn
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge


def regression_data(rng, n=80, d=4):
    x = rng.normal(size=(n, d)) * np.array([1.0, 3.0, 0.5, 2.0]) + np.array([5.0, -2.0, 0.0, 10.0])
    y = x @ np.array([1.5, -0.7, 2.0, 0.3]) + 4.0 + rng.normal(scale=0.5, size=n)
    return x, y


def classification_data(rng, n=120, d=4, k=2, weights=None):
    centres = rng.normal(scale=1.2, size=(k, d))
    p = np.full(k, 1.0 / k) if weights is None else np.array(weights)
    y = rng.choice(k, size=n, p=p)
    x = centres[y] + rng.normal(scale=1.5, size=(n, d))
    return x, y.astype(float)


def scaled_objective(model, x, y, class_weight, penalty, C):
    """(1/S)·Σ sᵢ·lossᵢ + ‖coef‖² / (2·C·S), the objective MPILearn reports."""
    classes = model.classes_
    codes = np.searchsorted(classes, y)
    counts = np.bincount(codes, minlength=len(classes)).astype(float)
    cw = np.ones(len(classes)) if class_weight is None else len(y) / (len(classes) * counts)
    s = cw[codes]
    proba = model.predict_proba(x)
    loss = -np.log(proba[np.arange(len(y)), codes])
    f = (s * loss).sum() / s.sum()
    if penalty == "l2":
        f += (model.coef_ ** 2).sum() / (2 * C * s.sum())
    return float(f)


def main(out):
    # scikit-learn 1.8 deprecates `penalty` (for l1_ratio); MPILearn keeps the classic names.
    warnings.simplefilter("ignore", FutureWarning)
    rng = np.random.RandomState(0)
    cases = []
    x, y = regression_data(rng)
    xdef = np.hstack([x, x[:, :1] * 2 - x[:, 1:2]])   # a fifth, collinear column: rank 4
    for fit_intercept in (True, False):
        m = LinearRegression(fit_intercept=fit_intercept).fit(x, y)
        cases.append(dict(estimator="linear-regression", data="regression", params=dict(fit_intercept=fit_intercept),
                          coef=m.coef_.reshape(1, -1).tolist(), intercept=[float(m.intercept_)], rank=int(m.rank_)))
        m = LinearRegression(fit_intercept=fit_intercept).fit(xdef, y)
        cases.append(dict(estimator="linear-regression", data="collinear", params=dict(fit_intercept=fit_intercept),
                          coef=m.coef_.reshape(1, -1).tolist(), intercept=[float(m.intercept_)], rank=int(m.rank_)))
        for alpha in (0.1, 1.0, 10.0):
            m = Ridge(alpha=alpha, fit_intercept=fit_intercept, solver="cholesky").fit(x, y)
            cases.append(dict(estimator="ridge", data="regression", params=dict(alpha=alpha, fit_intercept=fit_intercept),
                              coef=m.coef_.reshape(1, -1).tolist(), intercept=[float(m.intercept_)]))
    data = {"regression": (x, y), "collinear": (xdef, y)}

    data["binary"] = classification_data(rng, k=2)
    data["imbalanced"] = classification_data(rng, k=2, weights=[0.8, 0.2])
    data["three"] = classification_data(rng, k=3)
    data["three-imbalanced"] = classification_data(rng, k=3, weights=[0.6, 0.3, 0.1])
    logistic = [
        ("binary", dict(C=1.0)), ("binary", dict(C=0.1)), ("binary", dict(C=1.0, fit_intercept=False)),
        ("binary", dict(penalty=None)), ("imbalanced", dict(C=1.0, class_weight="balanced")),
        ("three", dict(C=1.0)), ("three", dict(C=10.0)), ("three", dict(C=0.05, fit_intercept=False)),
        ("three-imbalanced", dict(C=1.0, class_weight="balanced")), ("three-imbalanced", dict(penalty=None)),
    ]
    for name, params in logistic:
        x, y = data[name]
        full = dict(penalty="l2", C=1.0, fit_intercept=True, class_weight=None)
        full.update(params)
        # Converged tightly, to compare optima; and with the defaults, to compare n_iter_.
        tight = LogisticRegression(tol=1e-10, max_iter=10000, **full).fit(x, y)
        default = LogisticRegression(**full).fit(x, y)
        cases.append(dict(estimator="logistic-regression", data=name, params=full,
                          coef=tight.coef_.tolist(), intercept=tight.intercept_.tolist(),
                          proba=tight.predict_proba(x[:10]).tolist(), n_iter=int(tight.n_iter_[0]),
                          default_n_iter=int(default.n_iter_[0]), default_coef=default.coef_.tolist(),
                          objective=scaled_objective(tight, x, y, full["class_weight"], full["penalty"], full["C"])))
    doc = dict(sklearn_version=sklearn.__version__, numpy_version=np.__version__,
               data={k: dict(x=v[0].tolist(), y=v[1].tolist()) for k, v in data.items()}, cases=cases)
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
