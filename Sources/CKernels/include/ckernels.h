/* CKernels: MPILearn's hand-vectorised inner loops (not API; Swift calls them through
 * MPILearn). See README.md for why these few loops are in C. */
#ifndef MPILEARN_CKERNELS_H
#define MPILEARN_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Instruction-set variants of the kernels, chosen once per process from the CPU
 * (or the MPILEARN_KERNELS environment variable: "scalar", "avx2" or "avx512"). */
typedef enum {
    MPL_KERNELS_SCALAR = 0,
    MPL_KERNELS_AVX2 = 1,
    MPL_KERNELS_AVX512 = 2,
} mpl_kernels_isa;

/* The variant in use (the first call decides it). */
mpl_kernels_isa mpl_kernels_active(void);
/* Switches to `isa`, or the widest variant below it the machine has; returns the variant now
 * in use. For tests and benchmarks that compare the variants within one process; call it
 * while no kernel runs. */
mpl_kernels_isa mpl_kernels_use(mpl_kernels_isa isa);
/* Its name: "scalar", "avx2" or "avx512". */
const char *mpl_kernels_name(mpl_kernels_isa isa);

/* Nearest centre of each row of a distance block.
 *
 * work is rows x stride, row-major, work[i*stride + j] = -2 x_i . c_j; norms has stride
 * entries, |c_j|^2, and +infinity in the padding columns (stride is a multiple of 8). For
 * each row, index[i] is the j minimising norms[j] + work[i*stride + j], ties to the lower j,
 * and best[i] that value. Every variant returns the same bits. */
void mpl_argmin_f64(const double *work, ptrdiff_t rows, ptrdiff_t stride, const double *norms,
                    double *best, int32_t *index);
void mpl_argmin_f32(const float *work, ptrdiff_t rows, ptrdiff_t stride, const float *norms,
                    float *best, int32_t *index);

/* Accumulators of one Lloyd block, owned by the caller (one per thread). */
typedef struct {
    double *sums;    /* k x d, per-centre feature sums, row order */
    double *counts;  /* k */
    double inertia;  /* sum of squared distances, row order */
    double changed;  /* rows whose label changed */
} mpl_lloyd_acc;

/* One Lloyd block: the argmin of mpl_argmin_* for `rows` rows (into best and index, rows
 * entries of scratch each), then for each row r (in order)
 * with nearest centre j: d2 = max(0, rownorms[r] + best), sums[j] += x_r (as Float64),
 * counts[j] += 1, inertia += d2, mind2[r] = d2 (unless mind2 is NULL: Lloyd iterations skip
 * that store, 16 bytes of memory traffic per row), and labels[r] = j (counting changes).
 * x points at the block's first row (rows x d, row-major); rownorms, labels and mind2 at
 * that row's entries. Every variant returns the same bits. */
void mpl_lloyd_block_f64(const double *x, ptrdiff_t rows, ptrdiff_t d, const double *work,
                         ptrdiff_t stride, const double *norms, const double *rownorms,
                         int32_t *labels, double *mind2, double *best, int32_t *index,
                         mpl_lloyd_acc *acc);
void mpl_lloyd_block_f32(const float *x, ptrdiff_t rows, ptrdiff_t d, const float *work,
                         ptrdiff_t stride, const float *norms, const double *rownorms,
                         int32_t *labels, double *mind2, float *best, int32_t *index,
                         mpl_lloyd_acc *acc);

#ifdef __cplusplus
}
#endif

#endif
