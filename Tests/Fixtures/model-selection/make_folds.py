"""Writes folds.json: scikit-learn's cross-validation folds for SplitterTests.

Exact train/test indices for the splitters without randomness (KFold, StratifiedKFold,
GroupKFold, PredefinedSplit), and sizes for the random ones (ShuffleSplit,
StratifiedShuffleSplit): their indices come from NumPy's generator, which MPILearn does not
reproduce, but their train/test sizes and per-class counts follow fixed rules.
StratifiedShuffleSplit breaks ties between classes at random, so for it the file lists every
per-class outcome scikit-learn produced over 200 seeds.

Run through scripts/make-fixtures; the output is deterministic for a scikit-learn version.
"""
import json
import sys
from pathlib import Path

import numpy as np
import sklearn
from sklearn.model_selection import (GroupKFold, KFold, PredefinedSplit, ShuffleSplit,
                                     StratifiedKFold, StratifiedShuffleSplit)


def folds(splitter, n, y=None, groups=None):
    x = np.zeros((n, 1))
    return [{"train": tr.tolist(), "test": te.tolist()} for tr, te in splitter.split(x, y, groups)]


def three_classes():
    """Three imbalanced classes (15/9/6 rows) first appearing in the order 7, -2, 5 (not
    sorted), rows interleaved by a fixed permutation."""
    y = np.array([7] * 15 + [-2] * 9 + [5] * 6)[np.random.RandomState(7).permutation(30)]
    first = list(dict.fromkeys(y.tolist()))
    assert first == [7, -2, 5], first
    return y


def exact_cases():
    cases = []

    def add(name, splitter, n, n_splits=None, y=None, groups=None, test_fold=None):
        cases.append({
            "name": name, "splitter": type(splitter).__name__, "n_samples": n, "n_splits": n_splits,
            "y": None if y is None else [int(v) for v in y],
            "groups": None if groups is None else [int(v) for v in groups],
            "test_fold": test_fold,
            "folds": folds(splitter, n, y, groups),
        })

    for n, k in [(10, 3), (23, 5), (5, 5), (7, 2)]:
        add(f"KFold n={n} k={k}", KFold(k), n, k)

    y3 = three_classes()
    add("StratifiedKFold 3 imbalanced classes n=30 k=4", StratifiedKFold(4), 30, 4, y=y3)
    add("StratifiedKFold 3 imbalanced classes n=30 k=6", StratifiedKFold(6), 30, 6, y=y3)
    # Two classes with a negative code, class 3 first, n=23, k=5.
    y2 = np.array([3, 3, -1, 3, -1, -1, 3, 3, 3, -1, 3, 3, -1, 3, 3, -1, 3, 3, -1, 3, 3, 3, -1])
    add("StratifiedKFold binary n=23 k=5", StratifiedKFold(5), 23, 5, y=y2)
    # Sorted labels: each class one contiguous block.
    ys = np.array([0] * 4 + [1] * 6 + [2] * 5)
    add("StratifiedKFold sorted n=15 k=4", StratifiedKFold(4), 15, 4, y=ys)

    # Seven groups of different sizes (1..7 rows), ids not contiguous, rows interleaved.
    rng = np.random.RandomState(3)
    ids = [40, 11, 25, 3, 90, 57, 8]
    g7 = np.concatenate([[g] * s for g, s in zip(ids, [5, 2, 7, 1, 4, 6, 3])])[rng.permutation(28)]
    add("GroupKFold 7 groups distinct sizes k=3", GroupKFold(3), len(g7), 3, groups=g7)
    # Ties in group sizes (three of 4 rows, two of 2 rows, two of 1 row): tie-breaking order.
    gt = np.concatenate([[g] * s for g, s in zip([5, 1, 9, 2, 7, 4, 6], [4, 2, 4, 1, 4, 2, 1])])[rng.permutation(18)]
    add("GroupKFold 7 groups tied sizes k=3", GroupKFold(3), len(gt), 3, groups=gt)
    add("GroupKFold 7 groups tied sizes k=4", GroupKFold(4), len(gt), 4, groups=gt)

    tf = [3, -1, 0, 3, 5, 0, -1, 5, 5, 0, 3, -1]
    add("PredefinedSplit", PredefinedSplit(tf), len(tf), len(set(tf) - {-1}), test_fold=tf)
    tf = [0, 1, -1, 1]
    add("PredefinedSplit scikit-learn example", PredefinedSplit(tf), len(tf), 2, test_fold=tf)
    return cases


def size_spec(v):
    if v is None:
        return None
    return {"fraction": v} if isinstance(v, float) else {"count": v}


def size_cases():
    cases = []
    seeds = range(200)

    def add(name, cls, n, test_size, train_size, y=None):
        s = cls(n_splits=3, test_size=test_size, train_size=train_size, random_state=0)
        fs = folds(s, n, y)
        case = {"name": name, "splitter": cls.__name__, "n_samples": n,
                "test_size": size_spec(test_size), "train_size": size_spec(train_size),
                "y": None if y is None else [int(v) for v in y],
                "n_train": len(fs[0]["train"]), "n_test": len(fs[0]["test"])}
        assert all(len(f["train"]) == case["n_train"] and len(f["test"]) == case["n_test"] for f in fs)
        if y is not None:
            classes = sorted(set(int(v) for v in y))
            outcomes = set()
            for seed in seeds:
                s = cls(n_splits=3, test_size=test_size, train_size=train_size, random_state=seed)
                for tr, te in s.split(np.zeros((n, 1)), y):
                    outcomes.add((tuple(int((y[tr] == c).sum()) for c in classes),
                                  tuple(int((y[te] == c).sum()) for c in classes)))
            case["classes"] = classes
            case["class_counts"] = [{"train": list(a), "test": list(b)} for a, b in sorted(outcomes)]
        cases.append(case)

    add("ShuffleSplit default sizes n=23", ShuffleSplit, 23, None, None)
    add("ShuffleSplit test fraction n=10", ShuffleSplit, 10, 0.25, None)
    add("ShuffleSplit test count, train fraction n=23", ShuffleSplit, 23, 5, 0.5)
    add("ShuffleSplit train fraction only n=30", ShuffleSplit, 30, None, 0.6)
    add("ShuffleSplit train count only n=17", ShuffleSplit, 17, None, 12)
    add("ShuffleSplit both fractions n=101", ShuffleSplit, 101, 0.33, 0.27)
    y3 = three_classes()
    add("StratifiedShuffleSplit 3 classes test fraction n=30", StratifiedShuffleSplit, 30, 0.3, None, y3)
    add("StratifiedShuffleSplit 3 classes default n=30", StratifiedShuffleSplit, 30, None, None, y3)
    add("StratifiedShuffleSplit 3 classes counts n=30", StratifiedShuffleSplit, 30, 7, 11, y3)
    # Four classes of 5 rows: every remainder ties, so the per-class counts vary with the seed.
    y4 = np.array([2, 0, 1, 3] * 5)
    add("StratifiedShuffleSplit tied classes n=20", StratifiedShuffleSplit, 20, 6, None, y4)
    return cases


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("folds.json")
    doc = {"generator": "Tests/Fixtures/model-selection/make_folds.py",
           "scikit_learn": sklearn.__version__, "numpy": np.__version__,
           "exact": exact_cases(), "sizes": size_cases()}
    # One case per line: small diffs, still valid JSON.
    lines = ["{"]
    keys = list(doc)
    for i, k in enumerate(keys):
        sep = "," if i < len(keys) - 1 else ""
        if isinstance(doc[k], list):
            lines.append(f'  "{k}": [')
            lines += [f"    {json.dumps(c)}" + ("," if j < len(doc[k]) - 1 else "") for j, c in enumerate(doc[k])]
            lines.append(f"  ]{sep}")
        else:
            lines.append(f'  "{k}": {json.dumps(doc[k])}{sep}')
    lines.append("}")
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out} (scikit-learn {sklearn.__version__})")


if __name__ == "__main__":
    main()
