/*
 * The machine's DGEMM rate through the BLAS MPILearn links (the system OpenBLAS, found with
 * pkg-config `openblas`, as Package.swift and Sources/CLinearAlgebra find it), one thread:
 * C := A·B for square N×N float64 matrices, best of REPEATS calls after one warm-up call,
 * counted as 2·N³ flops. Built and run by Benchmarks/linear/dense:
 *
 *   cc -O2 $(pkg-config --cflags openblas) dgemm.c $(pkg-config --libs openblas) -o dgemm
 *   OPENBLAS_NUM_THREADS=1 ./dgemm [N [REPEATS]]
 *
 * Prints one JSON line: n, seconds (best), gflops, the OpenBLAS configuration and core.
 * With COPIES > 1 in the environment it runs that many processes at once (fork), each its own
 * DGEMM, and reports the slowest: the per-core rate with every core busy, as at 2 ranks.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

char *openblas_get_config(void);
char *openblas_get_corename(void);
void openblas_set_num_threads(int);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double best_seconds(int n, int repeats) {
    double *a = malloc(sizeof(double) * n * n), *b = malloc(sizeof(double) * n * n), *c = malloc(sizeof(double) * n * n);
    if (!a || !b || !c) { fprintf(stderr, "dgemm: out of memory\n"); exit(1); }
    srand(1);
    for (long i = 0; i < (long)n * n; i++) { a[i] = rand() / (double)RAND_MAX - 0.5; b[i] = rand() / (double)RAND_MAX - 0.5; c[i] = 0; }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a, n, b, n, 0.0, c, n);   /* warm-up */
    double best = 1e300;
    for (int r = 0; r < repeats; r++) {
        double t0 = now();
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a, n, b, n, 0.0, c, n);
        double s = now() - t0;
        if (s < best) best = s;
    }
    free(a); free(b); free(c);
    return best;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 2000, repeats = argc > 2 ? atoi(argv[2]) : 5;
    int copies = getenv("COPIES") ? atoi(getenv("COPIES")) : 1;
    openblas_set_num_threads(1);
    double worst = 0;
    if (copies <= 1) {
        worst = best_seconds(n, repeats);
    } else {
        int fds[64][2];
        if (copies > 64) copies = 64;
        for (int k = 0; k < copies; k++) {
            if (pipe(fds[k]) != 0) { perror("pipe"); return 1; }
            if (fork() == 0) {
                double s = best_seconds(n, repeats);
                if (write(fds[k][1], &s, sizeof s) != sizeof s) _exit(1);
                _exit(0);
            }
        }
        for (int k = 0; k < copies; k++) {
            double s = 0;
            if (read(fds[k][0], &s, sizeof s) != sizeof s) { fprintf(stderr, "dgemm: a copy failed\n"); return 1; }
            if (s > worst) worst = s;
            wait(NULL);
        }
    }
    printf("{\"n\": %d, \"copies\": %d, \"seconds\": %.6f, \"gflops\": %.4f, \"blas\": \"%s\", \"core\": \"%s\"}\n",
           n, copies, worst, 2.0 * n * n * (double)n / worst / 1e9, openblas_get_config(), openblas_get_corename());
    return 0;
}
