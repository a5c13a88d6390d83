#!/usr/bin/env bash
# Runs an mpilearn subcommand on this machine with mpirun.
#
#   jobs/local.sh [-n RANKS] SUBCOMMAND [ARGS...]
#   jobs/local.sh -n 4 info
#   jobs/local.sh -n 2 check --chunk-limit 1000
#
# -n RANKS   number of MPI ranks (processes), a positive whole number; default: the number
#            of cores. More ranks than cores works (it oversubscribes) but is only for testing.
# Everything after the options is passed to mpilearn unchanged (`jobs/local.sh -n 2 --help`
# shows mpilearn's help).
#
# Environment:
#   MPILEARN_BIN          the mpilearn executable (default: .build/release, build-cmake/bin,
#                         .build/debug of this checkout, then mpilearn on PATH)
#   OPENBLAS_NUM_THREADS  BLAS threads per rank (default 1: the ranks already use the cores;
#                         raise it only when RANKS × threads <= cores)
#   MPILEARN_MPIEXEC      the launcher, with its options (default: the launcher of the MPI that
#                         mpilearn links: MPICH's mpiexec.hydra for a build against MPICH,
#                         otherwise mpirun)
# Output: rank 0 prints results on stdout; errors appear on stderr as `rank R/N: error: ...`.
# Signals: mpirun forwards SIGUSR1 to every rank; `kill -USR1 <pid of mpirun>` stops a fit run
# with --checkpoint DIR cleanly (checkpoint written, exit 75; --resume continues). Avoid SIGTERM
# to mpirun: it kills the ranks instead (send SIGTERM to the ranks themselves if you must).
# Exit status: mpilearn's (0 ok, 64 usage, 65 data, 66 no input, 70 internal/MPI, 74 output,
# 75 stopped with a checkpoint; see docs/running.md); this script itself exits 64 for a bad -n.
set -euo pipefail
prog="jobs/local.sh"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() { echo "usage: $prog [-n RANKS] SUBCOMMAND [ARGS...]   (e.g. $prog -n 4 info; $prog -n 2 --help)" >&2; }
die() { echo "$prog: error: $*" >&2; exit 64; }

cores="$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)"
ranks="$cores"
while (($#)); do
  case "$1" in
    -n|--ranks)
      (($# >= 2)) || die "$1 needs a value: the number of ranks, e.g. -n 4"
      ranks="$2"; shift 2 ;;
    -n*) ranks="${1#-n}"; shift ;;
    --ranks=*) ranks="${1#--ranks=}"; shift ;;
    -h) usage; exit 0 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
if ! [[ "$ranks" =~ ^[0-9]+$ ]]; then
  if [[ "$ranks" =~ ^-[0-9]+$ ]]; then
    die "rank count must be positive, got -n $ranks"
  fi
  die "rank count must be a positive whole number, got -n '$ranks'"
fi
ranks=$((10#$ranks))
((ranks >= 1)) || die "rank count must be at least 1, got -n $ranks"
(($#)) || { usage; die "no mpilearn subcommand given"; }

bin="${MPILEARN_BIN:-}"
if [ -z "$bin" ]; then
  for candidate in "$root/.build/release/mpilearn" "$root/build-cmake/bin/mpilearn" "$root/.build/debug/mpilearn"; do
    if [ -x "$candidate" ]; then bin="$candidate"; break; fi
  done
fi
if [ -z "$bin" ]; then bin="$(command -v mpilearn || true)"; fi
[ -n "$bin" ] && [ -x "$bin" ] || { echo "$prog: error: mpilearn not found: build it (swift build -c release, or scripts/cmake-build) or set MPILEARN_BIN" >&2; exit 66; }

# The launcher must belong to the MPI mpilearn links: another MPI's mpirun starts every rank
# as a separate one-rank job. With Open MPI and MPICH both installed (Debian), `mpirun` is
# the system default, so a build against MPICH (MPILEARN_MPI_PKG=mpich) gets MPICH's own.
if [ -n "${MPILEARN_MPIEXEC:-}" ]; then
  read -r -a launcher <<<"$MPILEARN_MPIEXEC"
elif ldd "$bin" 2>/dev/null | grep -q 'libmpich\.so' && command -v mpiexec.hydra >/dev/null; then
  launcher=(mpiexec.hydra)
else
  launcher=(mpirun)
fi
command -v "${launcher[0]}" >/dev/null || { echo "$prog: error: ${launcher[0]} not found: apt-get install openmpi-bin (or mpich), or 'module load openmpi'" >&2; exit 69; }

export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
flags=()
if "${launcher[0]}" --version 2>/dev/null | grep -q "Open MPI"; then
  # Open MPI refuses to start as root (containers, CI) unless told it is fine.
  if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
  # More ranks than cores needs --oversubscribe; binding would then pin ranks to shared cores.
  if ((ranks > cores)); then flags+=(--oversubscribe --bind-to none); fi
fi
# (MPICH's mpiexec allows more ranks than cores and runs as root without options.)
exec "${launcher[@]}" -np "$ranks" "${flags[@]}" "$bin" "$@"
