/* Dense vector loops of the L-BFGS optimiser (MPILearn/Linear/LBFGS.swift). They are written
 * out rather than taken from BLAS because every rank of a job runs the optimiser on the same
 * values and must reach bit-identical results (and so the same branches and the same number
 * of collective evaluations): a BLAS ddot's summation order depends on the build, the
 * instruction set it dispatches to and its thread count. Here the order is fixed: four
 * interleaved partial sums combined as (s0 + s1) + (s2 + s3), then the tail. */
#include <math.h>
#include <string.h>
#include "ckernels.h"

double mpl_vec_dot(ptrdiff_t n, const double *a, const double *b) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    ptrdiff_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    double s = (s0 + s1) + (s2 + s3);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

void mpl_vec_axpy(ptrdiff_t n, double alpha, const double *x, double *y) {
    for (ptrdiff_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

double mpl_vec_max_abs(ptrdiff_t n, const double *a) {
    double m = 0;
    int nan = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        const double v = fabs(a[i]);
        m = v > m ? v : m;
        nan |= v != v;
    }
    return nan ? NAN : m;
}

uint64_t mpl_read_bytes(const void *p, size_t bytes) {
    const unsigned char *b = p;
    uint64_t x0 = 0, x1 = 0, x2 = 0, x3 = 0;
    size_t i = 0;
    for (; i + 32 <= bytes; i += 32) {
        uint64_t w[4];
        memcpy(w, b + i, 32);
        x0 ^= w[0]; x1 ^= w[1]; x2 ^= w[2]; x3 ^= w[3];
    }
    uint64_t x = x0 ^ x1 ^ x2 ^ x3;
    for (; i < bytes; i++) x ^= b[i];
    return x;
}
