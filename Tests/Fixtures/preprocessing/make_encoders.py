"""Writes encoders.json: scikit-learn's OneHotEncoder (dense) and OrdinalEncoder fitted on a
small table of string columns (repeats, a missing value, rare categories, a binary column)
and an integer-valued float column, for EncoderTests.

    python make_encoders.py OUT.json

The JSON holds the training table ("train": column -> values, null where missing), a table
with values never seen in training ("test": unknown strings and numbers, a missing value in
a column that had none), a pass-through float column "x" in both, and one case per fit:
{"name", "kind" (our step kind), "params" (our JSON parameters), "sklearn" (the estimator's
repr), "categories" (categories_ per encoded column as strings: numbers as Python prints a
float, NaN as "nan"), "features" (get_feature_names_out()), "train" (the transformed
training rows, one list per output column), "test" (the same for the test rows, or null
when scikit-learn refuses them) and "test_error" (scikit-learn's message then, else null)}.
Transformed NaN is written as null.
"""
import json
import math
import sys
import warnings

import numpy as np
import sklearn
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

COLUMNS = ["color", "size", "flag", "n"]
# color: blue 3, green 2, red 4, violet 1 (rare), missing 2
# size: L 3, M 5, S 3, XL 1 (rare); flag: two values; n: 1.0 x3, 2.0 x5, 3.0 x3, 5.0 x1 (rare)
train = {
    "color": ["red", "blue", "red", "green", None, "blue", "red", "violet", "green", "red", "blue", None],
    "size": ["M", "S", "M", "L", "M", "S", "XL", "M", "L", "S", "M", "L"],
    "flag": ["yes", "no", "no", "yes", "yes", "no", "no", "yes", "no", "no", "yes", "no"],
    "n": [1.0, 2.0, 2.0, 3.0, 1.0, 2.0, 5.0, 2.0, 3.0, 1.0, 2.0, 3.0],
    "x": [0.5, -1.0, 2.0, 3.5, 4.0, 0.0, 1.5, 2.5, -3.0, 7.0, 8.0, 9.0],
}
# unknowns: pink, XXL, maybe, 4.0; a missing size (size had none in training)
test = {
    "color": ["pink", "red", None, "blue", "violet"],
    "size": ["M", "XXL", "XL", None, "S"],
    "flag": ["yes", "maybe", "no", "no", "yes"],
    "n": [4.0, 1.0, 5.0, 2.0, 3.0],
    "x": [1.0, 2.0, 3.0, 4.0, 5.0],
}


def frame(t):
    """An object array (no pandas needed): None as NaN, n's values Python floats."""
    return np.array([[np.nan if t[c][i] is None else t[c][i] for c in COLUMNS] for i in range(len(t["x"]))], dtype=object)


def category_string(v):
    if isinstance(v, (float, np.floating)):
        return "nan" if math.isnan(v) else str(float(v))
    return str(v)


def clean(values):
    return [None if math.isnan(v) else float(v) for v in np.asarray(values, dtype=float).tolist()]


cases = []
# scikit-learn warns when it encodes unknown values as zeros or as the infrequent category
warnings.filterwarnings("ignore", message="Found unknown categories")


def case(name, kind, est, params):
    Xtr, Xte = frame(train), frame(test)
    est.fit(Xtr)
    features = [str(f) for f in est.get_feature_names_out(COLUMNS)]
    ttr = np.asarray(est.transform(Xtr), dtype=float)
    try:
        tte, error = np.asarray(est.transform(Xte), dtype=float), None
    except ValueError as e:
        tte, error = None, str(e)
    cases.append({
        "name": name, "kind": kind, "params": {"columns": COLUMNS, **params}, "sklearn": repr(est),
        "categories": {c: [category_string(v) for v in cats] for c, cats in zip(COLUMNS, est.categories_)},
        "features": features,
        "train": [clean(ttr[:, j]) for j in range(ttr.shape[1])],
        "test": None if tte is None else [clean(tte[:, j]) for j in range(tte.shape[1])],
        "test_error": error,
    })


def ohe(name, params, **kw):
    case(name, "one-hot-encoder", OneHotEncoder(sparse_output=False, **kw), params)


def ordinal(name, params, **kw):
    case(name, "ordinal-encoder", OrdinalEncoder(**kw), params)


# fixed categories: color unsorted and without violet or the missing value (unknown in training),
# size with a category never seen, flag as learned, n with numbers never seen (written as
# integers in our parameters; scikit-learn's are floats, as the column is)
FIXED = {"color": ["red", "green", "blue"], "size": ["XS", "S", "M", "L", "XL"], "flag": ["no", "yes"], "n": ["1", "2", "3", "4", "5", "6"]}
FIXED_SK = [FIXED["color"], FIXED["size"], FIXED["flag"], [float(v) for v in FIXED["n"]]]

ohe("one-hot default", {})
ohe("one-hot drop first", {"drop": "first"}, drop="first")
ohe("one-hot drop if_binary ignore", {"drop": "if_binary", "handle_unknown": "ignore"}, drop="if_binary", handle_unknown="ignore")
ohe("one-hot ignore", {"handle_unknown": "ignore"}, handle_unknown="ignore")
ohe("one-hot min_frequency 2 infrequent_if_exist", {"min_frequency": 2, "handle_unknown": "infrequent_if_exist"},
    min_frequency=2, handle_unknown="infrequent_if_exist")
ohe("one-hot min_frequency 2 ignore", {"min_frequency": 2, "handle_unknown": "ignore"}, min_frequency=2, handle_unknown="ignore")
# 0.2 of 12 rows: 2.4, so the missing value (2 rows) is infrequent too
ohe("one-hot min_frequency 0.2 infrequent_if_exist", {"min_frequency": 0.2, "handle_unknown": "infrequent_if_exist"},
    min_frequency=0.2, handle_unknown="infrequent_if_exist")
# 4: blue is infrequent, so color keeps red and the infrequent column, and drop first drops red
ohe("one-hot min_frequency 4 drop first", {"min_frequency": 4, "drop": "first", "handle_unknown": "infrequent_if_exist"},
    min_frequency=4, drop="first", handle_unknown="infrequent_if_exist")
ohe("one-hot min_frequency 2 drop if_binary", {"min_frequency": 2, "drop": "if_binary", "handle_unknown": "infrequent_if_exist"},
    min_frequency=2, drop="if_binary", handle_unknown="infrequent_if_exist")
ohe("one-hot fixed ignore", {"categories": FIXED, "handle_unknown": "ignore"}, categories=FIXED_SK, handle_unknown="ignore")
# the fraction is of every training row (12), not of the rows in the fixed categories
ohe("one-hot fixed min_frequency 0.2", {"categories": FIXED, "min_frequency": 0.2, "handle_unknown": "infrequent_if_exist"},
    categories=FIXED_SK, min_frequency=0.2, handle_unknown="infrequent_if_exist")

ordinal("ordinal default", {})
ordinal("ordinal unknown -1", {"handle_unknown": "use_encoded_value", "unknown_value": -1},
        handle_unknown="use_encoded_value", unknown_value=-1)
ordinal("ordinal unknown -1 missing -2", {"handle_unknown": "use_encoded_value", "unknown_value": -1, "encoded_missing_value": -2},
        handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-2)
ordinal("ordinal missing -2", {"encoded_missing_value": -2}, encoded_missing_value=-2)
# fixed categories without the missing value: a missing color is an unknown value
ordinal("ordinal fixed unknown -1", {"categories": FIXED, "handle_unknown": "use_encoded_value", "unknown_value": -1},
        categories=FIXED_SK, handle_unknown="use_encoded_value", unknown_value=-1)

out = {
    "sklearn": sklearn.__version__,
    "numpy": np.__version__,
    "columns": COLUMNS,
    "train": train,
    "test": test,
    "cases": cases,
}
with open(sys.argv[1], "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
