#!/bin/bash
# PBS Pro / OpenPBS / Torque job for mpilearn. Submit from the repository (or set MPILEARN_BIN):
#
#   qsub -v MPILEARN_ARGS="info" jobs/pbs.sh          # PBS Pro, OpenPBS, Torque
#   qsub -F "check --chunk-limit 1000" jobs/pbs.sh    # Torque also passes arguments with -F
#
# The subcommand and its flags come from the script's arguments (Torque -F) or, since PBS Pro
# passes none to a script, from MPILEARN_ARGS (split at spaces).
#
# Layout: `select=2:ncpus=16:mpiprocs=16:ompthreads=1` asks for 2 chunks (nodes) of 16 cores,
# each running 16 MPI ranks with 1 thread each: 32 ranks. mpiprocs × ompthreads should equal
# ncpus. OpenBLAS uses ompthreads threads per rank (set below). Torque: use
# `#PBS -l nodes=2:ppn=16` instead of the select line.
#
# Output: with `-j oe` stdout and stderr go together to mpilearn.o<jobid> in the directory you
# submitted from (rank 0 prints the results; errors are `rank R/N: error: ...` lines). The job's
# exit status is mpilearn's (see docs/running.md); `qstat -xf <jobid>` shows Exit_status.
#
# Walltime: PBS sends SIGTERM to every process of the job, then SIGKILL after the queue's
# kill_delay. A fit run with `--checkpoint DIR --resume` (DIR on a shared file system) then
# writes a checkpoint and exits 75 if a unit of work plus the checkpoint fit in kill_delay;
# mpirun, which gets SIGTERM too, may end the ranks sooner, so also use --checkpoint-every.
# This script does not requeue: submit the same command again and it continues from DIR.
# (Not tested under PBS here; the Slurm script's signal handling is, see docs/running.md.)
#
#PBS -N mpilearn
#PBS -l select=2:ncpus=16:mpiprocs=16:ompthreads=1
#PBS -l walltime=01:00:00
#PBS -j oe
# Site-specific, uncomment as needed:
##PBS -q workq
##PBS -A myproject

set -euo pipefail

# Modules: load the MPI the program was built against (and OpenBLAS if the site provides it
# as a module). Names differ between sites; `module avail mpi` lists them. For example:
# module load gcc openmpi openblas

cd "${PBS_O_WORKDIR:-.}"
# BLAS threads per rank: PBS sets OMP_NUM_THREADS from ompthreads.
export OPENBLAS_NUM_THREADS="${OMP_NUM_THREADS:-1}"

bin="${MPILEARN_BIN:-}"
if [ -z "$bin" ]; then
  for candidate in .build/release/mpilearn build-cmake/bin/mpilearn; do
    if [ -x "$candidate" ]; then bin="$candidate"; break; fi
  done
fi
bin="${bin:-$(command -v mpilearn || true)}"
if [ -z "$bin" ]; then
  echo "pbs.sh: error: mpilearn not found: build it first (swift build -c release) or set MPILEARN_BIN" >&2
  exit 66
fi
if [ $# -eq 0 ]; then
  # shellcheck disable=SC2086  # MPILEARN_ARGS is split into words on purpose
  set -- ${MPILEARN_ARGS:-}
fi
if [ $# -eq 0 ]; then
  echo "pbs.sh: error: no mpilearn subcommand given (qsub -v MPILEARN_ARGS=\"info\" jobs/pbs.sh)" >&2
  exit 64
fi

# One rank per line of the node file (PBS writes mpiprocs lines per chunk).
ranks=$(wc -l <"${PBS_NODEFILE:?PBS_NODEFILE is not set: submit with qsub}")
echo "job ${PBS_JOBID:-?}: $ranks ranks, ${OPENBLAS_NUM_THREADS} BLAS thread(s) per rank: $bin $*"
# Open MPI built with PBS (tm) support reads the allocation itself; the host file makes this
# work with MPICH (mpiexec -f) and Open MPI without tm support alike.
if mpirun --version 2>/dev/null | grep -q "Open MPI"; then
  mpirun -np "$ranks" --hostfile "$PBS_NODEFILE" -x OPENBLAS_NUM_THREADS "$bin" "$@"
else
  mpiexec -n "$ranks" -f "$PBS_NODEFILE" -genv OPENBLAS_NUM_THREADS "$OPENBLAS_NUM_THREADS" "$bin" "$@"
fi
