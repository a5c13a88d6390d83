"""Writes calibration.json: scikit-learn's CalibratedClassifierCV fitted on small data sets, which
CalibrationTests compares MPILearn's CalibratedClassifierCV against.

    python make_calibration.py OUT.json   (run through scripts/make-fixtures)

The base estimator is LogisticRegression converged tightly (tol=1e-10, max_iter=10000, so the
comparison measures calibration, not where L-BFGS stopped), reached two ways:

- "logistic-regression": scikit-learn calibrates its decision_function (rows x 1 for two
  classes, rows x classes otherwise);
- "proba-only-logistic": the same model behind a wrapper with predict_proba only, so the
  calibrators read probabilities (the positive column for two classes), the path of a random
  forest.

and SVC (rbf kernel, scikit-learn's defaults otherwise; "svc"), calibrated through its
decision_function (one-vs-rest shape for three classes), the classic use of calibration.

The JSON holds the data sets ("data": name -> x_train, y_train, x_test) and one case per fit:
{"data", "base", "base_params", "method", "cv", "ensemble", "proba" (predict_proba on x_test),
"predict", "calibrators": one list per calibrated classifier (one per fold with ensemble=True,
else one), each with one entry per calibrator: {"a", "b"} (sigmoid) or {"X_thresholds",
"y_thresholds"} (isotonic)}.
"""
import json
import sys

import numpy as np
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

TIGHT = dict(tol=1e-10, max_iter=10000)


class ProbaOnlyLogistic(ClassifierMixin, BaseEstimator):
    """LogisticRegression without decision_function: calibration reads predict_proba."""

    def __init__(self, C=1.0, tol=1e-10, max_iter=10000):
        self.C = C
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, X, y):
        self.model_ = LogisticRegression(C=self.C, tol=self.tol, max_iter=self.max_iter).fit(X, y)
        self.classes_ = self.model_.classes_
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)

    def predict(self, X):
        return self.model_.predict(X)


def classification_data(rng, n_train, n_test, d, k, weights=None, scale=1.2, noise=1.5):
    centres = rng.normal(scale=scale, size=(k, d))
    p = np.full(k, 1.0 / k) if weights is None else np.array(weights)
    n = n_train + n_test
    y = rng.choice(k, size=n, p=p)
    x = centres[y] + rng.normal(scale=noise, size=(n, d))
    return dict(x_train=x[:n_train], y_train=y[:n_train].astype(float), x_test=x[n_train:])


def wide_data(rng, n_train, n_test, coef):
    """Rows spread far from the decision boundary, labels drawn from a logistic model: decision
    values beyond 30 (scikit-learn rescales those before the sigmoid fit), classes overlapping."""
    n = n_train + n_test
    x = rng.normal(scale=12.0, size=(n, len(coef)))
    z = x @ np.array(coef)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-z))).astype(float)
    return dict(x_train=x[:n_train], y_train=y[:n_train], x_test=x[n_train:])


def calibrator_params(calibrator, method):
    if method == "sigmoid":
        return dict(a=float(calibrator.a_), b=float(calibrator.b_))
    return dict(X_thresholds=calibrator.X_thresholds_.tolist(), y_thresholds=calibrator.y_thresholds_.tolist())


def main(out):
    rng = np.random.RandomState(11)
    data = {
        "binary": classification_data(rng, 150, 40, 4, 2),
        "three": classification_data(rng, 180, 40, 4, 3, weights=[0.5, 0.3, 0.2]),
        "wide": wide_data(rng, 120, 30, [1.5, -0.5, 0.2]),
    }
    runs = []
    for name in ("binary", "three"):
        for method in ("sigmoid", "isotonic"):
            for ensemble in (True, False):
                runs.append((name, "logistic-regression", dict(C=1.0), method, 3, ensemble))
            runs.append((name, "proba-only-logistic", dict(C=1.0), method, 3, True))
            runs.append((name, "proba-only-logistic", dict(C=1.0), method, 4, False))
        runs.append((name, "logistic-regression", dict(C=0.5), "sigmoid", 5, True))
        runs.append((name, "svc", dict(C=2.0), "sigmoid", 3, True))
        runs.append((name, "svc", dict(C=2.0), "isotonic", 3, False))
    runs.append(("wide", "logistic-regression", dict(C=1.0), "sigmoid", 3, True))
    runs.append(("wide", "logistic-regression", dict(C=1.0), "sigmoid", 3, False))

    cases = []
    for name, base, base_params, method, cv, ensemble in runs:
        d = data[name]
        if base == "svc":
            est = SVC(**base_params)
        elif base == "logistic-regression":
            est = LogisticRegression(**base_params, **TIGHT)
        else:
            est = ProbaOnlyLogistic(**base_params, **TIGHT)
        cal = CalibratedClassifierCV(est, method=method, cv=cv, ensemble=ensemble).fit(d["x_train"], d["y_train"])
        cases.append(dict(
            data=name, base=base, base_params=base_params if base == "svc" else dict(base_params, **TIGHT), method=method, cv=cv, ensemble=ensemble,
            proba=cal.predict_proba(d["x_test"]).tolist(), predict=cal.predict(d["x_test"]).tolist(),
            calibrators=[[calibrator_params(c, method) for c in cc.calibrators] for cc in cal.calibrated_classifiers_]))

    doc = dict(sklearn_version=sklearn.__version__, numpy_version=np.__version__,
               data={k: {f: v.tolist() for f, v in t.items()} for k, t in data.items()}, cases=cases)
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
