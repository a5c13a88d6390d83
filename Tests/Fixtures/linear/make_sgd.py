"""Writes sgd.json: scikit-learn's SGDClassifier / SGDRegressor on small problems, without
shuffling (so one process's updates are in row order), for SGDTests to compare against.

    python make_sgd.py OUT.json
"""
import json
import sys

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import SGDClassifier, SGDRegressor

X, y = make_classification(n_samples=240, n_features=6, n_informative=4, n_redundant=1, random_state=3)
X3, y3 = make_classification(n_samples=240, n_features=6, n_informative=4, n_redundant=1, n_classes=3,
                             n_clusters_per_class=1, random_state=4)
Xr, yr = make_regression(n_samples=240, n_features=5, n_informative=4, noise=2.0, random_state=5)
yr = yr / 50.0


DATA = {"binary": (X, y), "three": (X3, y3), "regression": (Xr, yr)}


def clf_case(name, data, **params):
    X, y = DATA[data]
    m = SGDClassifier(shuffle=False, random_state=0, **params).fit(X, y)
    case = {"name": name, "kind": "classifier", "params": params, "data": data,
            "coef": m.coef_.tolist(), "intercept": m.intercept_.tolist(), "n_iter": int(m.n_iter_), "t": float(m.t_),
            "decision": m.decision_function(X[:10]).reshape(10, -1).tolist()}
    if params.get("loss") in ("log_loss", "modified_huber"):
        case["proba"] = m.predict_proba(X[:10]).tolist()
    return case


def reg_case(name, data, **params):
    X, y = DATA[data]
    m = SGDRegressor(shuffle=False, random_state=0, **params).fit(X, y)
    return {"name": name, "kind": "regressor", "params": params, "data": data,
            "coef": m.coef_.reshape(1, -1).tolist(), "intercept": m.intercept_.tolist(), "n_iter": int(m.n_iter_), "t": float(m.t_),
            "predict": m.predict(X[:10]).tolist()}


cases = [
    clf_case("hinge l2 optimal", "binary"),
    clf_case("log_loss l2", "binary", loss="log_loss"),
    clf_case("modified_huber l1", "binary", loss="modified_huber", penalty="l1", alpha=1e-3),
    clf_case("squared_hinge elasticnet averaged", "binary", loss="squared_hinge", penalty="elasticnet", alpha=1e-2, average=10),
    clf_case("perceptron no penalty constant", "binary", loss="perceptron", penalty=None, learning_rate="constant", eta0=0.1),
    clf_case("log_loss invscaling tol None", "binary", loss="log_loss", learning_rate="invscaling", eta0=0.05, tol=None, max_iter=7),
    clf_case("hinge adaptive", "binary", learning_rate="adaptive", eta0=0.5),
    clf_case("three classes balanced", "three", class_weight="balanced"),
    clf_case("three classes log_loss averaged", "three", loss="log_loss", average=True),
    reg_case("squared_error invscaling", "regression"),
    reg_case("huber l1", "regression", loss="huber", penalty="l1", alpha=1e-3),
    reg_case("epsilon_insensitive averaged", "regression", loss="epsilon_insensitive", average=True, epsilon=0.05),
]

# partial_fit over three chunks in order (the chained workflow's reference).
m = SGDClassifier(loss="log_loss", shuffle=False, random_state=0)
chunks = [(0, 80), (80, 170), (170, 240)]
steps = []
for a, b in chunks:
    m.partial_fit(X[a:b], y[a:b], classes=[0, 1])
    steps.append({"rows": [a, b], "coef": m.coef_.tolist(), "intercept": m.intercept_.tolist(), "t": float(m.t_)})
partial = {"data": "binary", "steps": steps}

# Sparse input: the intercept's updates decay by 0.01.
Xs = X.copy()
Xs[np.abs(Xs) < 0.8] = 0.0
S = sp.csr_matrix(Xs)
ms = SGDClassifier(shuffle=False, random_state=0, loss="log_loss").fit(S, y)
sparse = {"indptr": S.indptr.tolist(), "indices": S.indices.tolist(), "data": S.data.tolist(), "shape": list(S.shape),
          "y": y.tolist(), "coef": ms.coef_.tolist(), "intercept": ms.intercept_.tolist(), "n_iter": int(ms.n_iter_)}

with open(sys.argv[1], "w") as f:
    json.dump({"sklearn": sklearn.__version__, "data": {k: {"X": v[0].tolist(), "y": v[1].tolist()} for k, v in DATA.items()},
               "cases": cases, "partial_fit": partial, "sparse": sparse}, f)
