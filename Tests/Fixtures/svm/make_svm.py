"""Writes svc.json: small data sets and scikit-learn's fitted SVC (libsvm's C-SVC) and NuSVC (libsvm's
nu-SVC) attributes and predictions, which the SVC and NuSVC tests compare MPILearn against.

Usage: python make_svm.py OUT.json  (run through scripts/make-fixtures).

The JSON (compact: one data set or case a line, floats with Python's shortest round-trip repr):
  sklearn_version, numpy_version
  seeds: [{random_state, libsvm_seed}]: the seed BaseLibSVM.fit hands libsvm for that random_state,
      np.random.RandomState(random_state).randint(np.iinfo("i").max) (it drives the shuffle of the
      internal 5-fold cross-validation that fits the Platt parameters when probability=True)
  datasets: NAME -> {X, y, X_test, y_test}; labels are integers 0..k-1 (the classes, sorted).
      binary_gram holds linear kernels of the "binary" rows: X = Xtr @ Xtr.T, X_test = Xte @ Xtr.T
      (kernel="precomputed"), each entry rounded to 10 significant digits (the exact products'
      17-digit reprs would make the file 90 KB larger); the fits are of the rounded matrices.
  cases: [{name, dataset, estimator ("SVC" or "NuSVC"), params (every constructor argument the fit passed
      but verbose, and for NuSVC but class_weight (left at None),
      gamma a number or "scale"/"auto"), gamma_value (the fitted _gamma: 0.0 for precomputed),
      classes, support, n_support, support_vectors (empty for precomputed), dual_coef ((k-1) x nSV),
      intercept, n_iter (n_iter_, one per class pair), class_weight (the fitted class_weight_,
      one per class), probA, probB (null without probability), decision_function (on X_test,
      always 2-D: a binary problem's as one column), predict (on X_test), predict_proba (on X_test,
      null without probability), objective (null: not computed)}]

Conventions are scikit-learn's public ones: for two classes dual_coef and intercept are the
negatives of libsvm's (scikit-learn flips them so that a positive decision value means classes[1]),
and decision_function follows that sign. With probability=True scikit-learn's predict still uses the
decision function (not predict_proba). `probability` is deprecated in scikit-learn 1.9 (removal in
1.11) in favour of CalibratedClassifierCV; the FutureWarning it raises is silenced here, and the
ConvergenceWarning of the max_iter case too.
"""
import json
import sys
import warnings

import numpy as np
import sklearn
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import SVC, NuSVC

RANDOM_STATES = [0, 1, 7, 42, 12345]

DEFAULTS = dict(C=1.0, kernel="rbf", degree=3, gamma="scale", coef0=0.0, shrinking=True, probability=False,
                tol=1e-3, cache_size=200, class_weight=None, max_iter=-1, decision_function_shape="ovr",
                break_ties=False, random_state=0)
NU_DEFAULTS = dict(DEFAULTS, nu=0.5)
del NU_DEFAULTS["C"], NU_DEFAULTS["class_weight"]


def split(X, y, n_train):
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def make_datasets():
    data = {}
    X, y = make_classification(n_samples=140, n_features=4, n_informative=2, random_state=0)
    data["binary"] = split(X, y, 100)
    X, y = make_classification(n_samples=150, n_features=4, n_informative=3, n_redundant=0, n_classes=3,
                               n_clusters_per_class=1, random_state=1)
    data["three"] = split(X, y, 110)
    X, y = make_classification(n_samples=160, n_features=4, n_informative=2, weights=[0.8, 0.2], random_state=0)
    data["imbalanced"] = split(X, y, 120)
    X, y = make_classification(n_samples=700, n_features=4, random_state=0)
    data["medium"] = split(X, y, 600)
    Xtr, ytr, Xte, yte = data["binary"]
    data["binary_gram"] = (rounded(Xtr @ Xtr.T), ytr, rounded(Xte @ Xtr.T), yte)
    return data


def rounded(a, digits=10):
    return np.array([[float("%.*g" % (digits, v)) for v in row] for row in a])


def libsvm_seed(random_state):
    return int(np.random.RandomState(random_state).randint(np.iinfo("i").max))


def floats(a):
    return np.asarray(a, dtype=np.float64).tolist()


def fit_case(name, dataset, data, estimator="SVC", **params):
    full = dict(DEFAULTS if estimator == "SVC" else NU_DEFAULTS)
    unknown = set(params) - set(full)
    assert not unknown, unknown
    full.update(params)
    Xtr, ytr, Xte, _ = data[dataset]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)       # SVC(probability=...) is deprecated in 1.9
        warnings.simplefilter("ignore", ConvergenceWarning)  # the max_iter case
        m = (SVC if estimator == "SVC" else NuSVC)(**full).fit(Xtr, ytr)
        proba = full["probability"]
        decision = np.asarray(m.decision_function(Xte), dtype=np.float64)
        if decision.ndim == 1:
            decision = decision.reshape(-1, 1)
        case = dict(
            name=name, dataset=dataset, estimator=estimator, params=full,
            gamma_value=float(m._gamma),
            classes=[int(c) for c in m.classes_],
            support=[int(i) for i in m.support_],
            n_support=[int(n) for n in m.n_support_],
            support_vectors=floats(m.support_vectors_),
            dual_coef=floats(m.dual_coef_),
            intercept=floats(m.intercept_),
            n_iter=[int(n) for n in np.atleast_1d(m.n_iter_)],
            class_weight=floats(m.class_weight_),
            probA=floats(m.probA_) if proba else None,
            probB=floats(m.probB_) if proba else None,
            decision_function=floats(decision),
            predict=[int(p) for p in m.predict(Xte)],
            predict_proba=floats(m.predict_proba(Xte)) if proba else None,
            objective=None,
        )
    if dataset == "binary_gram":
        assert len(case["support_vectors"]) == 0 or len(case["support_vectors"][0]) == 0
        case["support_vectors"] = []
    return case


def make_cases(data):
    cases = []

    def add(name, dataset, **params):
        cases.append(fit_case(name, dataset, data, **params))

    def nu(name, dataset, **params):
        cases.append(fit_case("nusvc-" + name, dataset, data, estimator="NuSVC", **params))

    for ds in ("binary", "three"):
        for C in (0.1, 1.0, 10.0):
            add(f"{ds}-linear-C{C:g}", ds, kernel="linear", C=C)
        for C in (0.1, 1.0, 10.0):
            add(f"{ds}-rbf-C{C:g}-scale", ds, kernel="rbf", C=C, gamma="scale")
        add(f"{ds}-rbf-C1-auto", ds, kernel="rbf", C=1.0, gamma="auto")
        add(f"{ds}-rbf-C1-gamma0.5", ds, kernel="rbf", C=1.0, gamma=0.5)
        add(f"{ds}-poly3-C1-scale", ds, kernel="poly", degree=3, C=1.0)
        add(f"{ds}-poly2-coef1-C1-scale", ds, kernel="poly", degree=2, coef0=1.0, C=1.0)
        add(f"{ds}-sigmoid-C1-gamma0.05", ds, kernel="sigmoid", gamma=0.05, coef0=0.0, C=1.0)
    # without shrinking
    add("binary-rbf-C1-scale-noshrink", "binary", kernel="rbf", C=1.0, shrinking=False)
    add("three-rbf-C10-scale-noshrink", "three", kernel="rbf", C=10.0, shrinking=False)
    # Platt scaling (libsvm's internal 5-fold cross-validation, shuffled with the seed)
    add("binary-rbf-C1-scale-proba-rs0", "binary", kernel="rbf", C=1.0, probability=True, random_state=0)
    add("binary-rbf-C1-scale-proba-rs7", "binary", kernel="rbf", C=1.0, probability=True, random_state=7)
    add("three-rbf-C1-scale-proba-rs0", "three", kernel="rbf", C=1.0, probability=True, random_state=0)
    add("three-linear-C1-proba-rs42", "three", kernel="linear", C=1.0, probability=True, random_state=42)
    add("binary-poly3-C1-scale-proba-rs0", "binary", kernel="poly", degree=3, C=1.0, probability=True, random_state=0)
    # decision function shapes and tie breaking
    add("three-rbf-C1-scale-ovo", "three", kernel="rbf", C=1.0, decision_function_shape="ovo")
    add("three-rbf-C1-scale-ovr-break-ties", "three", kernel="rbf", C=1.0, decision_function_shape="ovr", break_ties=True)
    # class weights
    add("imbalanced-rbf-C1-scale", "imbalanced", kernel="rbf", C=1.0)
    add("imbalanced-rbf-C1-scale-balanced", "imbalanced", kernel="rbf", C=1.0, class_weight="balanced")
    add("imbalanced-linear-C1-balanced", "imbalanced", kernel="linear", C=1.0, class_weight="balanced")
    # 600 rows: some fits take more iterations than min(l, 1000), so libsvm's shrinking runs (with
    # fewer, as in every smaller case, shrinking=False changes nothing); linear C=10 takes thousands,
    # and there shrinking changes the path (the iteration count and the last digits of the answer)
    add("medium-rbf-C1-auto", "medium", kernel="rbf", C=1.0, gamma="auto")
    add("medium-rbf-C10-scale", "medium", kernel="rbf", C=10.0, gamma="scale")
    add("medium-linear-C1", "medium", kernel="linear", C=1.0)
    add("medium-linear-C10", "medium", kernel="linear", C=10.0)
    add("medium-linear-C10-noshrink", "medium", kernel="linear", C=10.0, shrinking=False)
    add("medium-poly3-C1-scale", "medium", kernel="poly", degree=3, C=1.0)
    add("medium-rbf-C1-scale-proba-rs0", "medium", kernel="rbf", C=1.0, probability=True, random_state=0)
    add("medium-rbf-C1-scale-maxiter20", "medium", kernel="rbf", C=1.0, max_iter=20)
    # precomputed linear kernels of the binary rows
    add("binary_gram-precomputed-C1", "binary_gram", kernel="precomputed", C=1.0)
    add("binary_gram-precomputed-C10", "binary_gram", kernel="precomputed", C=10.0)
    # NuSVC (libsvm's nu-SVC: Solver_NU)
    for ds in ("binary", "three"):
        for v in (0.2, 0.5, 0.8):
            nu(f"{ds}-rbf-nu{v:g}", ds, nu=v)
        nu(f"{ds}-linear-nu0.5", ds, kernel="linear")
        nu(f"{ds}-poly3-nu0.4", ds, kernel="poly", nu=0.4)
        nu(f"{ds}-sigmoid-nu0.3-gamma0.05", ds, kernel="sigmoid", gamma=0.05, nu=0.3)
        nu(f"{ds}-rbf-nu0.5-auto-noshrink", ds, gamma="auto", shrinking=False)
    nu("binary-rbf-nu0.5-proba-rs0", "binary", probability=True, random_state=0)
    nu("three-rbf-nu0.4-proba-rs7", "three", nu=0.4, probability=True, random_state=7)
    nu("three-rbf-nu0.5-ovo", "three", decision_function_shape="ovo")
    nu("three-rbf-nu0.5-break-ties", "three", break_ties=True)
    nu("imbalanced-rbf-nu0.3", "imbalanced", nu=0.3)
    nu("medium-rbf-nu0.3", "medium", nu=0.3)
    nu("medium-linear-nu0.5", "medium", kernel="linear")
    nu("medium-rbf-nu0.3-maxiter20", "medium", nu=0.3, max_iter=20)
    nu("binary_gram-precomputed-nu0.5", "binary_gram", kernel="precomputed")
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases


def dumps(v):
    return json.dumps(v, separators=(",", ":"), allow_nan=False)


def write_fixture(out, head, datasets, cases):
    """Writes the fixture JSON: `head` (name -> value), then `datasets` one a line, then `cases`
    one a line (valid JSON, so that regenerating it gives readable diffs)."""
    lines = ["{" + '"sklearn_version":' + dumps(sklearn.__version__) + ",",
             '"numpy_version":' + dumps(np.__version__) + ","]
    lines += [dumps(k) + ":" + dumps(v) + "," for k, v in head.items()]
    lines += ['"datasets":{']
    lines += [dumps(name) + ":" + dumps(d) + ("," if i < len(datasets) - 1 else "")
              for i, (name, d) in enumerate(datasets.items())]
    lines += ["},", '"cases":[']
    lines += [dumps(c) + ("," if i < len(cases) - 1 else "") for i, c in enumerate(cases)]
    lines += ["]}"]
    text = "\n".join(lines) + "\n"
    json.loads(text)
    with open(out, "w") as f:
        f.write(text)


def main(out):
    data = make_datasets()
    cases = make_cases(data)
    seeds = [dict(random_state=rs, libsvm_seed=libsvm_seed(rs)) for rs in RANDOM_STATES]
    datasets = {name: dict(X=floats(X), y=[int(v) for v in y], X_test=floats(Xt), y_test=[int(v) for v in yt])
                for name, (X, y, Xt, yt) in data.items()}
    write_fixture(out, {"seeds": seeds}, datasets, cases)


if __name__ == "__main__":
    main(sys.argv[1])
