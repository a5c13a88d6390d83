#!/usr/bin/env python3
"""Writes the fuzz seed corpora (Fuzz/corpus/<target>/): a few valid and edge-case files per
target, each prefixed with the target's option bytes (see the comment at the top of each
Fuzz/fuzz-*/ source). Run from anywhere: python3 Fuzz/corpus/make_corpus.py (needs numpy).
Seeds found by fuzzing (crash inputs kept as regression seeds) are added by hand."""
import io, os, struct, sys, zlib, zipfile
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))


def put(target, name, data):
    d = os.path.join(here, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


# CSV: 2 option bytes (bits: 0-1 delimiter, 2 no header, 3 float32, 4 small buffer,
# 5-6 ranks, 7 chunk reader, 8 skip bad rows, 9-10 default type, 11 rebalance).
def opts(*bits):
    v = sum(1 << b for b in bits)
    return bytes([v & 0xFF, v >> 8])

csv = {
    'numeric': (opts(), b'a,b,c\n1,2.5,-3e4\n4,NaN,6\n7,8,\n'),
    'quoted': (opts(5, 7), b'name,text,n\n"x","a ""quoted"" field, with comma",1\n"y","line\nbreak",2\n'),
    'crlf-bom': (opts(6), b'\xef\xbb\xbfa,b\r\n1,2\r\n3,4\r\n'),
    'categorical': (opts(10, 7, 8), b'city,v\nParis,1\nLyon,2\n,3\nNA,x\n'),
    'datetime': (opts(9, 10, 4), b't,v\n2013-01-01,1\n2013-01-01 05:00,2\n2013-01-01T05:00:00.5Z,3\n2013-01-01T05:00+02:00,4\n'),
    'semicolon-noheader': (bytes([1 | 4 | 8, 0]), b'1;2;3\n4;5;6\n7;8;9'),
    'tabs-ranks': (bytes([2 | 32 | 16, 8]), b'a\tb\n' + b''.join(b'%d\t%d.5\n' % (i, i) for i in range(40))),
    'ragged': (opts(7, 8), b'a,b\n1,2\n3\n4,5,6\n"7,8\n'),
}
for name, (o, body) in csv.items():
    put('csv', name, o + body)

# NPY: 1 option byte (bits 0-2 entry: 0 decode, 2 read Double, 3 read Float, 4 readTable,
# 5 readHeader, 6 NPZ.readCSR; bit 3 two ranks).
def npy(a, version=None):
    b = io.BytesIO()
    if version is None:
        np.save(b, a)
    else:
        np.lib.format.write_array(b, a, version=version)
    return b.getvalue()

a = (np.arange(12).reshape(4, 3) / 4.0)
put('npy', 'decode-f8', bytes([0]) + npy(a))
put('npy', 'decode-bytes', bytes([0]) + npy(np.array(b'csr')))
put('npy', 'read-f8-2ranks', bytes([2 | 8]) + npy(a))
put('npy', 'read-f4', bytes([3]) + npy(a.astype('<f4')))
put('npy', 'table-i8', bytes([4]) + npy(np.arange(10, dtype='<i8').reshape(5, 2)))
put('npy', 'read-v2-vector', bytes([2]) + npy(np.arange(5, dtype='<f8'), version=(2, 0)))
put('npy', 'header-fortran', bytes([5]) + npy(np.asfortranarray(a)))
put('npy', 'read-i4', bytes([2 | 8]) + npy(np.arange(6, dtype='<i4').reshape(3, 2)))
def npz(compress):
    b = io.BytesIO()
    members = {'indices': np.array([0, 2, 1], dtype='<i4'), 'indptr': np.array([0, 2, 3], dtype='<i8'),
               'format': np.array(b'csr'), 'shape': np.array([2, 3], dtype='<i8'), 'data': np.array([1.0, 2.0, 3.0])}
    (np.savez_compressed if compress else np.savez)(b, **members)
    return b.getvalue()
put('npy', 'npz-stored', bytes([6]) + npz(False))
put('npy', 'npz-deflate', bytes([6]) + npz(True))

# Model containers: 1 option byte (bit 0 keep the checksum as given); the small models of
# the conformance fixtures, one per kind.
fixtures = os.path.join(root, 'Tests', 'Fixtures', 'conformance')
for f in sorted(os.listdir(fixtures)):
    if f.endswith('.model') and os.path.getsize(os.path.join(fixtures, f)) <= 12000:
        put('model', f, bytes([0]) + open(os.path.join(fixtures, f), 'rb').read())
put('model', 'forest-v1.model', bytes([0]) + open(os.path.join(root, 'Tests', 'Fixtures', 'forest', 'classifier-v1.model'), 'rb').read())

# Text: 1 option byte (bit 0 JSON Lines, bit 1 no label, bits 2-3 decode errors, bits 4-5 ranks).
put('text', 'lines', bytes([0]) + b'first document\nsecond one\r\n\nfourth, after an empty line\n')
put('text', 'lines-invalid-utf8-replace', bytes([8 | 16]) + b'caf\xc3\xa9\nbad \xff\xfe byte\ntrunc \xe2\x82\n')
put('text', 'lines-ignore-3ranks', bytes([4 | 32]) + b''.join(b'doc %d \xe2\x82\xac\n' % i for i in range(30)))
put('text', 'jsonl', bytes([1]) + b'{"text": "good film", "label": "pos"}\n\n{"text": "bad \\u00e9 film", "label": 0}\n')
put('text', 'jsonl-nolabel-2ranks', bytes([1 | 2 | 16]) + b'{"text": "a"}\n{"text": "b\\nc", "other": [1, 2]}\n{"text": "d"}\n')
put('text', 'jsonl-errors', bytes([1]) + b'{"text": 3}\n[1]\n{"label": "x"}\n')
