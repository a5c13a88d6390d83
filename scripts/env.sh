# Sourced by the scripts: environment for running MPI jobs here and in CI.
# Open MPI refuses to run as root without these two (containers and CI run as root).
export OMPI_ALLOW_RUN_AS_ROOT=1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Allow more ranks than cores (a 2-core laptop or CI runner testing 4 ranks).
export OMPI_MCA_rmaps_base_oversubscribe=1
# One BLAS thread per rank unless the user says otherwise: ranks already fill the cores.
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
MPILEARN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export MPILEARN_ROOT
# mpirun flags: Open MPI needs --oversubscribe for more ranks than cores.
if mpirun --version 2>/dev/null | grep -q "Open MPI"; then
  MPIRUN_FLAGS=(--oversubscribe --bind-to none)
else
  MPIRUN_FLAGS=()
fi
