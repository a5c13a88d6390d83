/*
 * The C peer of mpilearn-bench-collectives: the same MPI calls, made directly.
 *
 * Built two ways by Benchmarks/collectives/run, both with mpicc -O2:
 *
 * - as a shared library (-DBENCH_LIBRARY -shared -fPIC) whose bench_c_* functions the Swift
 *   driver loads with dlopen and calls in the same process, alternating with the SwiftMPI
 *   call repetition by repetition, so both see the same machine load (this is the table);
 * - as a program (no -DBENCH_LIBRARY) that runs the same schedule alone:
 *       mpirun -np 2 bench_collectives [MAX_BYTES]
 *   printing on rank 0, per (operation, size):
 *       c <operation> <bytes> <repetitions> <median seconds> <minimum seconds>
 *
 * Schedule (the Swift driver uses the same): sizes 8 B, 32 B, ... 512 KiB, then 1 MiB, 2 MiB,
 * ... 64 MiB; about 1 GiB moved per size (60 to 10000 repetitions) after a 10% warm-up; a
 * barrier before each timed call; CLOCK_MONOTONIC; per repetition the slowest rank's time.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The calls the Swift driver times against SwiftMPI's (MPI_COMM_WORLD, Double, sum, root 0). */
int bench_c_allreduce(const double *send, double *recv, int n) {
    return MPI_Allreduce(send, recv, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}
int bench_c_broadcast(double *buffer, int n) { return MPI_Bcast(buffer, n, MPI_DOUBLE, 0, MPI_COMM_WORLD); }

#ifndef BENCH_LIBRARY
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Same formula as the Swift driver: about 1 GiB moved per size, 60 ... 10000 repetitions. */
#define MAX_REPS 10000
static int repetitions(long bytes) {
    long r = (1L << 30) / bytes;
    return (int)(r < 60 ? 60 : r > MAX_REPS ? MAX_REPS : r);
}

static void fail(int rc, const char *what) {
    if (rc != MPI_SUCCESS) {
        fprintf(stderr, "bench_collectives: %s failed (%d)\n", what, rc);
        MPI_Abort(MPI_COMM_WORLD, 70);
    }
}

int main(int argc, char **argv) {
    int provided, rank, size;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    long max_bytes = argc > 1 ? atol(argv[1]) : 64L << 20;

    long n_max = max_bytes / 8;
    double *send = malloc(n_max * sizeof(double)), *recv = malloc(n_max * sizeof(double));
    double *times = malloc(MAX_REPS * sizeof(double)), *slowest = malloc(MAX_REPS * sizeof(double));
    for (long i = 0; i < n_max; i++) { send[i] = (double)(i % 1000) + rank; recv[i] = 0; }

    for (int op = 0; op < 2; op++) {
        const char *name = op == 0 ? "allreduce" : "broadcast";
        /* 8 B, 32 B, ... 512 KiB (x4), then 1 MiB, 2 MiB, ... (x2) */
        for (long bytes = 8; bytes <= max_bytes; bytes = bytes < (512L << 10) ? bytes * 4 : bytes * 2) {
            int n = (int)(bytes / 8), reps = repetitions(bytes), warm = reps / 10 < 3 ? 3 : reps / 10;
            for (int i = -warm; i < reps; i++) {
                fail(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
                double t0 = now();
                if (op == 0) fail(MPI_Allreduce(send, recv, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
                else fail(MPI_Bcast(recv, n, MPI_DOUBLE, 0, MPI_COMM_WORLD), "MPI_Bcast");
                double t1 = now();
                if (i >= 0) times[i] = t1 - t0;
            }
            fail(MPI_Reduce(times, slowest, reps, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD), "MPI_Reduce");
            if (rank == 0) {
                qsort(slowest, reps, sizeof(double), compare);
                printf("c %s %ld %d %.9e %.9e\n", name, bytes, reps, slowest[reps / 2], slowest[0]);
                fflush(stdout);
            }
        }
    }
    free(send); free(recv); free(times); free(slowest);
    MPI_Finalize();
    return 0;
}
#endif
