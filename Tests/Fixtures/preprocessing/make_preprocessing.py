"""Writes numeric.json: scikit-learn's StandardScaler, MinMaxScaler, RobustScaler and
SimpleImputer fitted on a small table with missing values (NaN, None for categories),
duplicates, ties, a constant column and negative values, for ScalerTests and ImputerTests.

    python make_preprocessing.py OUT.json

The JSON holds the training table ("train": column -> values, null where missing), a second
table to transform ("test", values outside the training range), and one case per fit:
{"name", "kind", "params", "columns", "fitted": {attribute: values}, "train": {column:
transformed values}, "test": {...}}. NaN is written as null.
"""
import json
import math
import sys

import numpy as np
import sklearn
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

rng = np.random.default_rng(7)
N = 21
nan = float("nan")


def with_nans(values, rows):
    v = np.array(values, dtype=float)
    v[list(rows)] = nan
    return v


train = {
    # normal values with negatives and one duplicate; 18 values
    "a": with_nans(np.round(rng.normal(-2.0, 10.0, N), 2), [2, 9, 15]),
    # constant; 19 values
    "b": with_nans(np.full(N, 5.0), [4, 11]),
    # small integers with ties; 18 values (even count, the two middle values tie)
    "c": with_nans(rng.integers(0, 6, N), [0, 7, 20]),
    # 19 values (odd count), duplicates, negatives
    "d": with_nans(np.round(rng.exponential(3.0, N) - 1.0, 1), [5, 13]),
    # two values tie for most frequent (3 and -1, four each): the smallest wins
    "e": np.array([3, -1, 2, 3, -1, 0.5, 3, -1, 2, 7, 3, -1, 0.5, 9, 2, 8, 1, nan, 11, 12, 13], dtype=float),
}
train["a"][16] = train["a"][3]  # a duplicate
cat = ["UA", "AA", None, "DL", "UA", "AA", "B6", None, "DL", "UA", "AA", "EV", "B6", "UA", "AA", None, "DL", "EV", "9E", "MQ", "B6"]
test = {
    "a": np.array([-100.0, 0.0, nan, 250.5, 3.25]),
    "b": np.array([5.0, nan, 4.0, 6.0, 5.0]),
    "c": np.array([0.0, 5.0, 9.0, nan, -3.0]),
    "d": np.array([nan, -1.0, 100.0, 0.5, 2.0]),
    "e": np.array([nan, 3.0, -1.0, nan, 1.0]),
}
test_cat = ["AA", None, "ZZ", "UA", None]
NUMERIC = ["a", "b", "c", "d", "e"]


def matrix(table, columns):
    return np.column_stack([table[c] for c in columns])


def clean(x):
    """Lists with NaN as None (JSON null)."""
    if isinstance(x, np.ndarray):
        x = x.tolist()
    if isinstance(x, list):
        return [clean(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return None if math.isnan(x) else float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    return x


cases = []


def case(name, kind, est, columns, attributes, params, categorical=False):
    if categorical:
        Xtr = np.array([[v if v is not None else np.nan for v in cat]], dtype=object).T
        Xte = np.array([[v if v is not None else np.nan for v in test_cat]], dtype=object).T
    else:
        Xtr, Xte = matrix(train, columns), matrix(test, columns)
    est.fit(Xtr)
    fitted = {}
    for a in attributes:
        v = getattr(est, a)
        fitted[a] = clean(np.asarray(v).tolist() if v is not None else None)
    ttr, tte = est.transform(Xtr), est.transform(Xte)
    cases.append({
        "name": name, "kind": kind, "params": params, "columns": columns, "fitted": fitted,
        "train": {c: clean(list(ttr[:, j])) for j, c in enumerate(columns)},
        "test": {c: clean(list(tte[:, j])) for j, c in enumerate(columns)},
    })


SS = ["mean_", "var_", "scale_", "n_samples_seen_"]
case("standard default", "standard-scaler", StandardScaler(), NUMERIC, SS, {})
case("standard without mean", "standard-scaler", StandardScaler(with_mean=False), NUMERIC, SS, {"with_mean": False})
case("standard without std", "standard-scaler", StandardScaler(with_std=False), NUMERIC, ["mean_", "var_", "scale_"], {"with_std": False})

MM = ["data_min_", "data_max_", "scale_", "min_"]
case("minmax default", "min-max-scaler", MinMaxScaler(), NUMERIC, MM, {})
case("minmax range clip", "min-max-scaler", MinMaxScaler(feature_range=(-1, 2), clip=True), NUMERIC, MM,
     {"feature_range": [-1, 2], "clip": True})

RS = ["center_", "scale_"]
case("robust default", "robust-scaler", RobustScaler(), NUMERIC, RS, {})
case("robust 10-90 unit variance", "robust-scaler", RobustScaler(quantile_range=(10, 90), unit_variance=True), NUMERIC, RS,
     {"quantile_range": [10, 90], "unit_variance": True})
case("robust 30-30 no centering", "robust-scaler", RobustScaler(quantile_range=(30, 30), with_centering=False), ["a", "c"], RS,
     {"quantile_range": [30, 30], "with_centering": False, "columns": ["a", "c"]})
case("robust 0-100 no scaling", "robust-scaler", RobustScaler(quantile_range=(0, 100), with_scaling=False), ["d", "c"], RS,
     {"quantile_range": [0, 100], "with_scaling": False, "columns": ["d", "c"]})

case("impute mean", "simple-imputer", SimpleImputer(strategy="mean"), NUMERIC, ["statistics_"], {"strategy": "mean"})
case("impute median", "simple-imputer", SimpleImputer(strategy="median"), NUMERIC, ["statistics_"], {"strategy": "median"})
case("impute most_frequent", "simple-imputer", SimpleImputer(strategy="most_frequent"), NUMERIC, ["statistics_"],
     {"strategy": "most_frequent"})
case("impute constant default", "simple-imputer", SimpleImputer(strategy="constant"), NUMERIC, ["statistics_"],
     {"strategy": "constant"})
case("impute constant -1.5", "simple-imputer", SimpleImputer(strategy="constant", fill_value=-1.5), ["a", "d"], ["statistics_"],
     {"strategy": "constant", "fill_value": -1.5, "columns": ["a", "d"]})
case("impute category most_frequent", "simple-imputer", SimpleImputer(strategy="most_frequent"), ["cat"], ["statistics_"],
     {"strategy": "most_frequent", "columns": ["cat"]}, categorical=True)
case("impute category constant", "simple-imputer", SimpleImputer(strategy="constant", fill_value="unknown"), ["cat"],
     ["statistics_"], {"strategy": "constant", "fill_value": "unknown", "columns": ["cat"]}, categorical=True)
case("impute category constant default", "simple-imputer", SimpleImputer(strategy="constant"), ["cat"],
     ["statistics_"], {"strategy": "constant", "columns": ["cat"]}, categorical=True)

out = {
    "sklearn": sklearn.__version__,
    "numpy": np.__version__,
    "train": {**{c: clean(train[c]) for c in NUMERIC}, "cat": cat},
    "test": {**{c: clean(test[c]) for c in NUMERIC}, "cat": test_cat},
    "cases": cases,
}
with open(sys.argv[1], "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
