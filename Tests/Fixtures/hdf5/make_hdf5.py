#!/usr/bin/python3
"""Writes the small HDF5 fixtures HDF5Tests reads: files as h5py and pandas write them.

Run with Debian's python3 and its h5py/pandas/tables (apt-get install python3-h5py
python3-pandas python3-tables), from this folder:

    /usr/bin/python3 make_hdf5.py

Values are deterministic, so rerunning rewrites the same content (HDF5 may stamp times).
"""
import h5py
import numpy as np

N = 7

with h5py.File("h5py_matrix.h5", "w") as f:
    # A 2-D float64 dataset with named columns and a 1-D int32 dataset beside it.
    d = f.create_dataset("X", data=np.arange(N * 3, dtype="<f8").reshape(N, 3) / 4)
    d.attrs["columns"] = ["a", "b", "c"]
    f.create_dataset("y", data=np.arange(N, dtype="<i4") * 10)
    g = f.create_group("nested")
    g.create_dataset("cube", data=np.zeros((2, 3, 4)))

with h5py.File("h5py_columns.h5", "w") as f:
    # A group of 1-D columns of several types (h5py lists them in name order).
    g = f.create_group("table")
    g.create_dataset("age", data=np.array([31, 45, 27, 62, 19, 38, 50], dtype="<i8"))
    g.create_dataset("height", data=np.array([1.70, 1.82, 1.65, 1.75, 1.90, 1.60, 1.68], dtype="<f4"))
    g.create_dataset("member", data=np.array([True, False, True, True, False, False, True]))
    g.create_dataset("city", data=np.array([b"Oslo", b"Lima", b"Oslo", b"", b"Pune", b"Lima", b"Oslo"], dtype="S4"))
    g.create_dataset("name", data=["Ada", "Bo", "Cy", "Dé", "Eve", "Fa", "Gus"], dtype=h5py.string_dtype("utf-8"))
    # A column of another length: this group cannot be read as a table.
    bad = f.create_group("ragged")
    bad.create_dataset("p", data=np.zeros(3))
    bad.create_dataset("q", data=np.zeros(4))

with h5py.File("h5py_single.h5", "w") as f:
    # The only object at the root: the default when no object is named.
    f.create_dataset("values", data=np.linspace(0, 1, N).reshape(N, 1))

try:
    import pandas as pd
    df = pd.DataFrame({
        "x": np.arange(N, dtype="f8") + 0.5,
        "k": np.arange(N, dtype="i8") * 3,
        "flag": np.arange(N) % 2 == 0,
        "z": -np.arange(N, dtype="f8"),
    })
    # Numeric and boolean blocks only: string columns of the fixed format are pickled Python
    # objects (HDF5Reader refuses them), and PyTables preallocates 1 MB for them.
    df.to_hdf("pandas_fixed.h5", key="frame", mode="w", format="fixed")
except ImportError:
    print("pandas or tables missing: pandas_fixed.h5 not written")
