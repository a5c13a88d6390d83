"""Writes hashing.json: scikit-learn's HashingVectorizer, FeatureHasher and TfidfTransformer
outputs for HashingVectorizerTests.

The documents exercise Python's text semantics the default analyzer depends on: str.lower
(final sigma, 'İ' to 'i' + U+0307), and re's \\w (str.isalnum() or '_': letters and numerics
of every kind, not combining marks) and \\b. Each vectorizer case lists, per document, the
analyzer's features and the output matrix's CSR arrays; values are written with Python's
shortest round-trip repr, so they decode to the same doubles.

It also writes python-unicode.json next to it: Python's \\w, str.lower and final-sigma
behaviour over every Unicode scalar, compactly, for an exhaustive comparison.

Run through scripts/make-fixtures; the output is deterministic for a scikit-learn version.
"""
import json
import re
import sys
import unicodedata
from pathlib import Path

import numpy as np
import scipy
import sklearn
from sklearn.feature_extraction import FeatureHasher
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.utils import murmurhash3_32

M32 = 0xFFFFFFFF


def _inv(a):
    return pow(a, -1, 1 << 32)


def _rotr(x, r):
    return ((x >> r) | (x << (32 - r))) & M32


def _rotl(x, r):
    return ((x << r) | (x >> (32 - r))) & M32


def name_hashing_to_int32_min(prefix_choices):
    """An 8-byte name made of word characters whose signed MurmurHash3 (seed 0) is -2**31.

    MurmurHash3_x86_32 is invertible block by block: from the wanted hash, undo the
    finalisation and the last block's mixing to get the 4 bytes that produce it after a
    chosen first block; keep the first choice whose solved bytes are lowercase ASCII word
    characters."""
    c1, c2 = 0xCC9E2D51, 0x1B873593
    allowed = set(b"abcdefghijklmnopqrstuvwxyz0123456789_")
    # Undo fmix32 on 0x80000000.
    h = 0x80000000
    h ^= h >> 16
    h = (h * _inv(0xC2B2AE35)) & M32
    h ^= (h >> 13) ^ (h >> 26)
    h = (h * _inv(0x85EBCA6B)) & M32
    h ^= h >> 16
    h ^= 8  # the length
    # Undo the last block's h = rotl(h, 13) * 5 + 0xe6546b64.
    after_xor = _rotr(((h - 0xE6546B64) * _inv(5)) & M32, 13)
    for first in prefix_choices:
        k = int.from_bytes(first, "little")
        k = (_rotl((k * c1) & M32, 15) * c2) & M32
        state = _rotl(k, 13)
        state = (state * 5 + 0xE6546B64) & M32
        k2 = after_xor ^ state
        k = (_rotr((k2 * _inv(c2)) & M32, 15) * _inv(c1)) & M32
        last = k.to_bytes(4, "little")
        if all(b in allowed for b in last):
            name = (first + last).decode("ascii")
            assert murmurhash3_32(name, 0) == -(2**31), name
            return name
    raise RuntimeError("no word-character name found")


def prefixes():
    letters = b"abcdefghijklmnopqrstuvwxyz"
    for a in letters:
        for b in letters:
            for c in letters:
                for d in letters:
                    yield bytes([a, b, c, d])


SPECIAL = name_hashing_to_int32_min(prefixes())

DOCUMENTS = [
    "The quick brown fox jumps over the lazy dog. The dog sleeps; the fox doesn't.",
    "cafe\u0301 caf\u00e9 CAFE\u0301 na\u00efve na\u0308ive",  # decomposed and precomposed accents
    "ΟΔΟΣ ΟΔΟΣ. ΣΑΣ Σ ΑΣ-Σ Σ'Σ ΌΣΟΣ",  # final sigma contexts
    "İstanbul ISTANBUL ıstanbul İİ",  # dotted capital I lower-cases to i + U+0307
    "東京 大阪 東京都 カタカナ ひらがな 한국어",
    "emoji 😀😀 🎉party 👍🏽 ok ❤️love",
    "foo_bar 42x x42 __ _a 1 22 ٣٤ ²³ ½½ Ⅻⅻ ʰello",  # underscores, digits, numerics, Lm
    "don't won't it's l'homme O'Neil rock'n'roll",
    "",
    "a b c d",  # only one-character tokens
    "ǅemal ǲ ǄURO ẞTRASSE straße ΆΈΉ",  # titlecase letters, capital sharp s
    "line1\nline2\tline3\r\nline4\u00a0line5\u2003line6",
    "हिन्दी भाषा",  # combining vowel signs split words
    f"special {SPECIAL} {SPECIAL.upper()} {SPECIAL}",  # hashes to -2**31
    " ".join(f"w{i}" for i in range(40)) + " " + " ".join(f"w{i}" for i in range(0, 40, 3)),
]

VECTORIZER_PARAMS = [
    ("defaults", {}),
    ("n_features=16", {"n_features": 16}),
    ("n_features=16 norm=None", {"n_features": 16, "norm": None}),
    ("n_features=7 alternate_sign=False norm=None", {"n_features": 7, "alternate_sign": False, "norm": None}),
    ("alternate_sign=False", {"alternate_sign": False}),
    ("ngram_range=(1,2)", {"ngram_range": (1, 2)}),
    ("ngram_range=(2,3) n_features=64 norm=None", {"ngram_range": (2, 3), "n_features": 64, "norm": None}),
    ("binary n_features=16", {"binary": True, "n_features": 16}),
    ("binary norm=None n_features=16", {"binary": True, "norm": None, "n_features": 16}),
    ("norm=l1", {"norm": "l1"}),
    ("norm=None", {"norm": None}),
    ("lowercase=False", {"lowercase": False, "norm": None}),
    ("stop words ngram_range=(1,2)", {"stop_words": ["the", "dog", "fox", "σας", "東京"], "ngram_range": (1, 2), "norm": None}),
    ("token_pattern one character", {"token_pattern": r"\b\w+\b", "norm": None}),
    ("token_pattern three or more", {"token_pattern": r"(?u)\b\w\w\w+\b", "n_features": 1000}),
    ("n_features=2**31-2", {"n_features": 2**31 - 2, "norm": None}),
]


# Random documents over characters where Python's rules matter: sigma next to cased,
# case-ignorable ('.', "'", U+0301, U+0307, 'ʰ') and other characters; 'İ'; titlecase; marks;
# numerics; underscores; spaces of several kinds.
POOL = list("aAbBzZΣσςΟΔΆİIıi_09½²Ⅻ٣ǄǅǆßẞʰĳĲ東😀 '.-,") + ["\u0301", "\u0307", "\u00a0", "\t", "\n", "\u2003", "\u0345"]


def random_documents(n=150, seed=0):
    rng = np.random.RandomState(seed)
    return ["".join(POOL[i] for i in rng.randint(len(POOL), size=rng.randint(0, 40))) for _ in range(n)]


RANDOM_PARAMS = [
    ("random defaults", {}),
    ("random n_features=32 ngram_range=(1,3) norm=None", {"n_features": 32, "ngram_range": (1, 3), "norm": None}),
    ("random lowercase=False binary n_features=8 norm=l1", {"lowercase": False, "binary": True, "n_features": 8, "norm": "l1"}),
    ("random token_pattern one character n_features=16", {"token_pattern": r"\b\w+\b", "n_features": 16, "norm": None}),
]


def random_cases():
    docs = random_documents()
    cases = []
    for name, params in RANDOM_PARAMS:
        v = HashingVectorizer(**params)
        analyzer = v.build_analyzer()
        p = dict(params)
        if "ngram_range" in p:
            p["ngram_range"] = list(p["ngram_range"])
        cases.append({"name": name, "params": p, "analyzed": [analyzer(d) for d in docs], "output": csr(v.transform(docs))})
    return docs, cases


def csr(x):
    x = x.tocsr() if hasattr(x, "tocsr") else x
    return {"shape": list(x.shape), "indptr": x.indptr.tolist(), "indices": x.indices.tolist(),
            "data": x.data.tolist()}


def vectorizer_cases():
    cases = []
    for name, params in VECTORIZER_PARAMS:
        v = HashingVectorizer(**params)
        analyzer = v.build_analyzer()
        p = dict(params)
        if "ngram_range" in p:
            p["ngram_range"] = list(p["ngram_range"])
        cases.append({"name": name, "params": p, "analyzed": [analyzer(d) for d in DOCUMENTS],
                      "output": csr(v.transform(DOCUMENTS))})
    return cases


def murmur_cases():
    keys = ["", "a", "ab", "abc", "abcd", "abcde", "foo", "hello world", "café", "東京", "😀", SPECIAL,
            "The quick brown fox jumps over the lazy dog"]
    return [{"key": k, "hash": int(murmurhash3_32(k, 0))} for k in keys]


def hasher_cases():
    pairs = [
        [("dog", 1.0), ("cat", 2.5), ("dog", -0.25), ("elephant", 4.0)],
        [("zero", 0.0), ("x", 1e-300), ("y", -3.75), ("x", 2.0)],
        [],
        [(SPECIAL, 1.5), ("café", 0.1), ("cafe\u0301", 0.2), ("東京", 3.0)],
        [(f"f{i}", 0.1 * (i + 1)) for i in range(12)],
    ]
    strings = [["a", "b", "a", "c"], [], ["dog", "dog", "dog"], [SPECIAL, "😀", "x=1"],
               [f"t{i}" for i in range(10)]]
    cases = []
    for n, alt in [(16, True), (16, False), (2**20, True), (3, True)]:
        for kind, raw in [("pair", pairs), ("string", strings)]:
            h = FeatureHasher(n_features=n, input_type=kind, alternate_sign=alt)
            cases.append({"name": f"{kind} n_features={n} alternate_sign={alt}",
                          "params": {"n_features": n, "input_type": kind, "alternate_sign": alt},
                          "samples": [[list(p) for p in s] for s in raw] if kind == "pair" else raw,
                          "output": csr(h.transform(raw))})
    return cases


def tfidf_cases():
    # scikit-learn's documentation example: every column occurs, so smooth_idf=False stays finite.
    counts = np.array([[3, 0, 1], [2, 0, 0], [3, 0, 0], [4, 0, 0], [3, 2, 0], [3, 0, 2]], dtype=float)
    hashed = HashingVectorizer(n_features=32, alternate_sign=False, norm=None).transform(DOCUMENTS)
    signed = HashingVectorizer(n_features=16, norm=None).transform(DOCUMENTS[:8])
    inputs = [("counts", scipy.sparse.csr_matrix(counts)), ("hashed", hashed), ("signed", signed)]
    params = [{}, {"norm": "l1"}, {"norm": None}, {"use_idf": False}, {"smooth_idf": False},
              {"sublinear_tf": True}, {"sublinear_tf": True, "smooth_idf": False, "norm": None}]
    cases = []
    for input_name, x in inputs:
        for p in params:
            if input_name != "counts" and p.get("smooth_idf") is False:
                continue  # unused columns would get an infinite idf
            if input_name == "signed" and p.get("sublinear_tf"):
                continue  # log of negative values and explicit zeros
            t = TfidfTransformer(**p).fit(x)
            cases.append({"name": f"{input_name} {p}", "params": p, "input": csr(x),
                          "idf": t.idf_.tolist() if p.get("use_idf", True) else None,
                          "output": csr(t.transform(x))})
    return cases


def scalar_ranges(pred):
    """[first, last] runs of the Unicode scalars (surrogates excluded) where pred holds."""
    out, start = [], None
    for v in range(0x110001):
        ok = v < 0x110000 and not 0xD800 <= v <= 0xDFFF and pred(v)
        if ok and start is None:
            start = v
        elif not ok and start is not None:
            out.append([start, v - 1])
            start = None
    return out


def unicode_tables():
    """Python's per-character text semantics over every scalar, for an exhaustive comparison:
    which are assigned in Python's Unicode version (the comparison is limited to those), which
    match re's \\w, what str.lower maps each changed one to (runs of equal offset), and the two
    sides of the final-sigma rule (which characters before 'Σ' make it final, directly and
    after an 'A')."""
    word = re.compile(r"\w")
    changed = [v for v in range(0x110000) if not 0xD800 <= v <= 0xDFFF and chr(v).lower() != chr(v)]
    single, multiple = [], []
    for v in changed:
        low = [ord(c) for c in chr(v).lower()]
        if len(low) > 1:
            multiple.append([v, low])
        elif single and single[-1][2] == low[0] - v and v - single[-1][1] in (1, 2) and \
                (single[-1][3] == 0 or single[-1][3] == v - single[-1][1]):
            single[-1][3] = v - single[-1][1]
            single[-1][1] = v
        else:
            single.append([v, v, low[0] - v, 0])  # first, last, offset, step (0: one scalar)
    return {
        "unicode": unicodedata.unidata_version,
        "assigned": scalar_ranges(lambda v: unicodedata.category(chr(v)) != "Cn"),
        "word": scalar_ranges(lambda v: word.match(chr(v)) is not None),
        "lower_runs": single, "lower_multiple": multiple,
        "sigma_final_after": scalar_ranges(lambda v: (chr(v) + "\u03a3").lower()[-1] == "\u03c2"),
        "sigma_final_after_A": scalar_ranges(lambda v: ("A" + chr(v) + "\u03a3").lower()[-1] == "\u03c2"),
        "sigma_not_final_before": scalar_ranges(lambda v: ("A\u03a3" + chr(v)).lower()[1] == "\u03c3"),
    }


def write_lines(path, doc):
    # One case per line: small diffs, still valid JSON.
    lines = ["{"]
    keys = list(doc)
    for i, k in enumerate(keys):
        sep = "," if i < len(keys) - 1 else ""
        if isinstance(doc[k], list) and doc[k] and isinstance(doc[k][0], dict):
            lines.append(f'  "{k}": [')
            lines += [f"    {json.dumps(c, ensure_ascii=False, allow_nan=False)}" + ("," if j < len(doc[k]) - 1 else "")
                      for j, c in enumerate(doc[k])]
            lines.append(f"  ]{sep}")
        else:
            lines.append(f'  "{k}": {json.dumps(doc[k], ensure_ascii=False, allow_nan=False)}{sep}')
    lines.append("}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("hashing.json")
    random_docs, random_vectorizer = random_cases()
    doc = {"generator": "Tests/Fixtures/text/make_hashing.py",
           "scikit_learn": sklearn.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
           "python": sys.version.split()[0],
           "documents": DOCUMENTS, "int32_min_name": SPECIAL, "murmurhash3_32": murmur_cases(),
           "vectorizer": vectorizer_cases(),
           "random_documents": random_docs, "random_vectorizer": random_vectorizer, "feature_hasher": hasher_cases(), "tfidf": tfidf_cases()}
    write_lines(out, doc)
    print(f"wrote {out} (scikit-learn {sklearn.__version__})")
    tables = out.with_name("python-unicode.json")
    write_lines(tables, {"generator": doc["generator"], "python": doc["python"], **unicode_tables()})
    print(f"wrote {tables} (Python {doc['python']}, Unicode {unicodedata.unidata_version})")


if __name__ == "__main__":
    main()
