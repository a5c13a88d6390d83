"""Peer for Benchmarks/csv/run: pandas.read_csv on the same file, columns and types as MPILearn.

Prints one line: engine seconds rows peak_rss_mib. Typed columns: numeric columns as float64,
the string columns as pandas 'category' (a dictionary per column, like MPILearn's).
"""
import resource
import sys
import time

import pandas as pd

path, engine = sys.argv[1], sys.argv[2]
categorical = ["carrier", "tailnum", "origin", "dest"]
numeric = ["year", "month", "day", "dep_time", "sched_dep_time", "dep_delay", "arr_time", "sched_arr_time",
           "arr_delay", "flight", "air_time", "distance", "hour", "minute"]
dtype = {c: "float64" for c in numeric} | {c: "category" for c in categorical}
start = time.perf_counter()
df = pd.read_csv(path, engine=engine, usecols=numeric + categorical, dtype=dtype)
seconds = time.perf_counter() - start
assert all(str(df[c].dtype) == "category" for c in categorical)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{engine} {seconds:.3f} {len(df)} {peak:.1f}")
