/* The SMO solver's inner loops (MPILearn/SVM/SMOSolver.swift): a kernel row from its dot
 * products, the two scans of the second-order working-set selection (Fan, Chen & Lin, JMLR
 * 2005) and the gradient update. They run once per SMO iteration over the active variables,
 * so they decide the solver's speed; they are in C so that the loops compile to tight,
 * branch-light code, with every floating-point operation in libsvm's order (no fused
 * multiply-adds: the selection must pick the same pair libsvm picks). */
#include <math.h>
#include "ckernels.h"

/* libsvm's powi: base^times by repeated squaring, in its order of multiplications. */
static inline double powi(double base, int times) {
    double tmp = base, ret = 1.0;
    for (int t = times; t > 0; t /= 2) {
        if (t % 2 == 1) ret *= tmp;
        tmp = tmp * tmp;
    }
    return ret;
}

void mpl_svm_kernel_row(int kind, ptrdiff_t n, const double *dots, const double *sq, double sq_i,
                        const int8_t *y, int y_i, double gamma, double coef0, int degree, float *out) {
    switch (kind) {
    case MPL_SVM_LINEAR:
        for (ptrdiff_t j = 0; j < n; j++) out[j] = (float)((y ? (double)(y_i * y[j]) : 1.0) * dots[j]);
        break;
    case MPL_SVM_POLY:
        for (ptrdiff_t j = 0; j < n; j++)
            out[j] = (float)((y ? (double)(y_i * y[j]) : 1.0) * powi(gamma * dots[j] + coef0, degree));
        break;
    case MPL_SVM_RBF:
        for (ptrdiff_t j = 0; j < n; j++)
            out[j] = (float)((y ? (double)(y_i * y[j]) : 1.0) * exp(-gamma * (sq_i + sq[j] - 2 * dots[j])));
        break;
    default: /* sigmoid */
        for (ptrdiff_t j = 0; j < n; j++)
            out[j] = (float)((y ? (double)(y_i * y[j]) : 1.0) * tanh(gamma * dots[j] + coef0));
        break;
    }
}

void mpl_svm_kernel_block(int kind, ptrdiff_t n, double *values, const double *sq_rows, const double *sq_cols,
                          ptrdiff_t rows, ptrdiff_t cols, double gamma, double coef0, int degree) {
    (void)n;
    for (ptrdiff_t i = 0; i < rows; i++) {
        double *v = values + i * cols;
        switch (kind) {
        case MPL_SVM_LINEAR: break;
        case MPL_SVM_POLY:
            for (ptrdiff_t j = 0; j < cols; j++) v[j] = powi(gamma * v[j] + coef0, degree);
            break;
        case MPL_SVM_RBF:
            for (ptrdiff_t j = 0; j < cols; j++) {
                double d = sq_rows[i] + sq_cols[j] - 2 * v[j];
                v[j] = exp(-gamma * (d > 0 ? d : 0));
            }
            break;
        default:
            for (ptrdiff_t j = 0; j < cols; j++) v[j] = tanh(gamma * v[j] + coef0);
            break;
        }
    }
}

/* Status codes as the solver stores them. */
enum { LOWER = 0, UPPER = 1, FREE = 2 };

ptrdiff_t mpl_svm_select_i(ptrdiff_t n, const int8_t *y, const double *g, const int8_t *status, double *gmax_out) {
    double gmax = -INFINITY;
    ptrdiff_t idx = -1;
    for (ptrdiff_t t = 0; t < n; t++) {
        if (y[t] == 1) {
            if (status[t] != UPPER && -g[t] >= gmax) { gmax = -g[t]; idx = t; }
        } else {
            if (status[t] != LOWER && g[t] >= gmax) { gmax = g[t]; idx = t; }
        }
    }
    *gmax_out = gmax;
    return idx;
}

ptrdiff_t mpl_svm_select_j(ptrdiff_t n, const int8_t *y, const double *g, const int8_t *status, const double *qd,
                           const float *q_i, double qd_i, int y_i, double gmax, double tau, double *gmax2_out) {
    double gmax2 = -INFINITY, obj_min = INFINITY;
    ptrdiff_t idx = -1;
    for (ptrdiff_t j = 0; j < n; j++) {
        if (y[j] == 1) {
            if (status[j] != LOWER) {
                const double grad_diff = gmax + g[j];
                if (g[j] >= gmax2) gmax2 = g[j];
                if (grad_diff > 0) {
                    const double quad = qd_i + qd[j] - 2.0 * y_i * q_i[j];
                    const double obj = quad > 0 ? -(grad_diff * grad_diff) / quad : -(grad_diff * grad_diff) / tau;
                    if (obj <= obj_min) { idx = j; obj_min = obj; }
                }
            }
        } else {
            if (status[j] != UPPER) {
                const double grad_diff = gmax - g[j];
                if (-g[j] >= gmax2) gmax2 = -g[j];
                if (grad_diff > 0) {
                    const double quad = qd_i + qd[j] + 2.0 * y_i * q_i[j];
                    const double obj = quad > 0 ? -(grad_diff * grad_diff) / quad : -(grad_diff * grad_diff) / tau;
                    if (obj <= obj_min) { idx = j; obj_min = obj; }
                }
            }
        }
    }
    *gmax2_out = gmax2;
    return idx;
}

void mpl_svm_update_gradient(ptrdiff_t n, double *g, const float *q_i, const float *q_j, double da, double db) {
    for (ptrdiff_t k = 0; k < n; k++) {
        const double a = (double)q_i[k] * da;
        const double b = (double)q_j[k] * db;
        g[k] += a + b;
    }
}

void mpl_svm_axpy_f32(ptrdiff_t n, double alpha, const float *q, double *g) {
    for (ptrdiff_t k = 0; k < n; k++) {
        const double a = alpha * (double)q[k];
        g[k] += a;
    }
}
