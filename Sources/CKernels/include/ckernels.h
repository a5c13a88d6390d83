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

/* ---- bounded (Hamerly) Lloyd passes ---------------------------------------------------------
 * A bounded pass assigns every row to the centre the GEMM argmin of mpl_argmin_* would pick,
 * but computes a row's distances to all centres only when its bounds cannot prove that pick.
 * Per row the caller keeps a label (the centre a row had, or a guess; -1 for none) and
 * lower[r], a lower bound on the row's distance to every other centre at the time it was set.
 * A row keeps label a when, with U an upper bound on |x - c_a| (from the direct squared
 * distance) and L = max(lower[r] - (the largest movement of another centre since),
 * separation[a] - U), U^2 + 2m < L^2, where m = margin * (|x|^2 + cmax2) bounds the rounding
 * of the GEMM's |c|^2 - 2x.c. Then no other centre can win, even after rounding, so the
 * label equals the GEMM argmin's. */
typedef struct {
    const double *centres;    /* k x d, row-major: the centres as the GEMM sees them (in the data's type), as Float64 */
    const double *separation; /* k: a lower bound on min over j != a of |c_a - c_j| (+inf for k = 1) */
    double drift1, drift2;    /* upper bounds of the largest and second largest centre movement since lower[] was set */
    int32_t drift1_index;     /* the centre that moved drift1 */
    double upper_scale;       /* 1 + bound of the relative rounding of a direct squared distance */
    double margin;            /* see above */
    double cmax2;             /* largest |c_j|^2 */
} mpl_bounds_ctx;

/* One block of a bounded pass (x, rownorms, labels and lower point at its first row). Each
 * row whose bounds prove its label is counted at once, in row order: sums[a] += x_r,
 * counts[a] += 1, inertia += its direct squared distance, lower[r] = the (tighter) bound; its
 * label stays. The other rows' offsets go to `fail`, in order; returns their number. */
ptrdiff_t mpl_bounds_pass_f64(const double *x, ptrdiff_t rows, ptrdiff_t d, const mpl_bounds_ctx *ctx,
                              const double *rownorms, int32_t *labels, double *lower, int32_t *fail, mpl_lloyd_acc *acc);
ptrdiff_t mpl_bounds_pass_f32(const float *x, ptrdiff_t rows, ptrdiff_t d, const mpl_bounds_ctx *ctx,
                              const double *rownorms, int32_t *labels, double *lower, int32_t *fail, mpl_lloyd_acc *acc);
/* The failed rows of the block, in order, with row i of `work` (nfail x stride) holding
 * -2 x_{fail[i]} . c_j: the label is the argmin of mpl_argmin_* (same bits), lower[] comes
 * from the second smallest value, and the row is counted as above (labels[r] set, changes
 * counted). */
void mpl_bounds_assign_f64(const double *x, ptrdiff_t d, const double *work, ptrdiff_t stride, const double *norms,
                           ptrdiff_t nfail, const int32_t *fail, const mpl_bounds_ctx *ctx, const double *rownorms,
                           int32_t *labels, double *lower, mpl_lloyd_acc *acc);
void mpl_bounds_assign_f32(const float *x, ptrdiff_t d, const float *work, ptrdiff_t stride, const float *norms,
                           ptrdiff_t nfail, const int32_t *fail, const mpl_bounds_ctx *ctx, const double *rownorms,
                           int32_t *labels, double *lower, mpl_lloyd_acc *acc);

/* The first bounded pass's start from k-means|| candidates, for n rows: a row whose nearest
 * candidate is q = labels[r] (of m), at squared distance mind2[r] as the candidate pass
 * computed it, gets label nearest[q] and lower bound other[q] - t, with t an upper bound of its
 * distance to q (the pass's rounding margin * (rownorms[r] + cand_max2) added, scaled by
 * upper_scale, square root rounded up). A row without a candidate gets -1 and -inf. */
void mpl_bounds_seed(ptrdiff_t n, int32_t *labels, const double *mind2, const double *rownorms, ptrdiff_t m,
                     const int32_t *nearest, const double *other, double margin, double cand_max2, double upper_scale,
                     double *lower);

/* ---- random forest prediction (trees.c) ---------------------------------------------- */

/* Codes of column x[i*stride] for `rows` rows into out[i*out_stride]: the number of the m
 * ascending `edges` below the value (so code <= b exactly when value <= edges[b]; a value
 * above every edge gets m), and m + 1 for NaN (missing). m <= 254. */
void mpl_bin_column_f64(const double *x, ptrdiff_t rows, ptrdiff_t stride, const double *edges,
                        ptrdiff_t m, uint8_t *out, ptrdiff_t out_stride);

/* Sorts n doubles (no NaN) ascending in place: an LSD radix sort on their bits, with n
 * uint64 of scratch. The order of a comparison sort (-0 before +0). */
/* Integer histograms of `nf` features over a node's rows (row-major codes, `stride` bytes a
 * row) into hists[j] + code * S: classification (label given) [+1, +weight at 1 + label],
 * regression (q given, S = 4) [+1, +w, +w q, +w q^2]. Exact sums in any order. */
void mpl_forest_hist(const uint8_t *codes, ptrdiff_t stride, ptrdiff_t rows, const int32_t *weight,
                     const int32_t *label, const int64_t *q, int32_t S, const int32_t *features, int32_t nf,
                     int64_t *const *hists);

/* One feature's histogram over a node of few rows, listing the codes it touches. */
void mpl_forest_hist_touched(const uint8_t *col, ptrdiff_t stride, ptrdiff_t rows, const int32_t *weight,
                             const int32_t *label, const int64_t *q, int32_t S, int64_t *hist, int32_t *touched,
                             ptrdiff_t *count);

void mpl_sort_f64(double *values, ptrdiff_t n, uint64_t *scratch);

/* Transposes a rows x cols row-major matrix in place into its cols x rows transpose (cycle
 * following; one bit per element of scratch). Returns 0, or -1 when the bits cannot be
 * allocated (the matrix is then unchanged). */
int mpl_transpose_inplace_f64(double *a, ptrdiff_t rows, ptrdiff_t cols);

/* A node of a tree packed for one-byte codes, breadth-first with siblings adjacent (Swift's
 * BinnedPackedTree). Internal node: a row goes to `child` (left) when its code of `feature`
 * is <= `bin` or equals `missing` (the feature's missing code when missing values go left,
 * else 256), else to child + 1. Leaf: `child` is the node itself and `bin` 255, so a row
 * there stays there; `missing` is free for the caller (the leaf's output entry). */
typedef struct {
    int32_t child;
    uint8_t feature;
    uint8_t bin;
    uint16_t missing;
} mpl_tree_node;

/* The leaf each row of `codes` (rows x columns, row-major; the buffer must have 4 readable
 * bytes past its end, for 32-bit gathers) reaches from the root: leaf[i], a node index.
 * scratch holds 2 * (rows + 64) int32. Every variant returns the same leaves. */
void mpl_tree_leaves(const mpl_tree_node *nodes, const uint8_t *codes, ptrdiff_t rows, ptrdiff_t columns,
                     int32_t *leaf, int32_t *scratch);

/* ---- sparse (CSR) kernels of linear models (sparse.c) -----------------------------------
 * A CSR matrix is scipy's: row i's entries are data[indptr[i] .. indptr[i+1]) in columns
 * indices[...]. Each kernel works on rows [row0, row1) (row-indexed arrays are indexed by the
 * global row i, not i - row0); sums run over a row's entries in stored order. */

/* out[i] = sum_p data[p] * w[indices[p]] + intercept. */
void mpl_csr_matvec_f64(const int64_t *indptr, const int32_t *indices, const double *data,
                        ptrdiff_t row0, ptrdiff_t row1, const double *w, double intercept, double *out);
void mpl_csr_matvec_f32(const int64_t *indptr, const int32_t *indices, const float *data,
                        ptrdiff_t row0, ptrdiff_t row1, const float *w, float intercept, float *out);
/* out[indices[p]] += data[p] * r[i], row after row (out has one entry per column). */
void mpl_csr_tmatvec_f64(const int64_t *indptr, const int32_t *indices, const double *data,
                         ptrdiff_t row0, ptrdiff_t row1, const double *r, double *out);
void mpl_csr_tmatvec_f32(const int64_t *indptr, const int32_t *indices, const float *data,
                         ptrdiff_t row0, ptrdiff_t row1, const float *r, float *out);
/* out[i] = sum_p data[p]^2. */
void mpl_csr_row_sqnorms_f64(const int64_t *indptr, const double *data, ptrdiff_t row0, ptrdiff_t row1, double *out);
void mpl_csr_row_sqnorms_f32(const int64_t *indptr, const float *data, ptrdiff_t row0, ptrdiff_t row1, float *out);
/* out[i*k + c] = sum_p data[p] * w[indices[p]*k + c] (+ intercept[c] unless intercept is
 * NULL): w is columns x k and out rows x k, both row-major. */
void mpl_csr_matmat_f64(const int64_t *indptr, const int32_t *indices, const double *data,
                        ptrdiff_t row0, ptrdiff_t row1, const double *w, ptrdiff_t k,
                        const double *intercept, double *out);
void mpl_csr_matmat_f32(const int64_t *indptr, const int32_t *indices, const float *data,
                        ptrdiff_t row0, ptrdiff_t row1, const float *w, ptrdiff_t k,
                        const float *intercept, float *out);
/* out[indices[p]*k + c] += data[p] * r[i*k + c], row after row: r is rows x k and out
 * columns x k, both row-major (the k-output form of tmatvec). */
void mpl_csr_tmatmat_f64(const int64_t *indptr, const int32_t *indices, const double *data,
                         ptrdiff_t row0, ptrdiff_t row1, const double *r, ptrdiff_t k, double *out);
void mpl_csr_tmatmat_f32(const int64_t *indptr, const int32_t *indices, const float *data,
                         ptrdiff_t row0, ptrdiff_t row1, const float *r, ptrdiff_t k, float *out);
/* data[p] *= scale[i] for every entry of row i. */
void mpl_csr_scale_rows_f64(const int64_t *indptr, double *data, ptrdiff_t row0, ptrdiff_t row1, const double *scale);
void mpl_csr_scale_rows_f32(const int64_t *indptr, float *data, ptrdiff_t row0, ptrdiff_t row1, const float *scale);
/* g += X^T X over rows [row0, row1), upper triangle only (g is columns x columns, row-major;
 * entry (j, k) with j <= k). Work: the sum over rows of their stored count squared. */
void mpl_csr_gram_upper_f64(const int64_t *indptr, const int32_t *indices, const double *data,
                            ptrdiff_t row0, ptrdiff_t row1, ptrdiff_t columns, double *g);
void mpl_csr_gram_upper_f32(const int64_t *indptr, const int32_t *indices, const float *data,
                            ptrdiff_t row0, ptrdiff_t row1, ptrdiff_t columns, float *g);

/* ---- the logistic regression objective over CSR rows, one pass (logistic.c) -------------
 * Rows [row0, row1): logits z = x_i . w + intercept, the weighted loss
 * s_i * (log(1 + e^z) - y z) (binary, y = codes[i] == 1) or s_i * (logsumexp(z) - z_y)
 * (multinomial, k classes, w columns x k and intercept k values or NULL), residuals
 * r = s_i * scale * (p - y), added into g (columns [x k]) and g_intercept (1 [or k] values,
 * or NULL). s_i = class_weights[codes[i]]. Returns the summed weighted loss. `distinct`
 * (binary) promises that no row stores a column twice, which lets the gradient scatter run
 * four entries at a time. */
double mpl_logistic_csr_binary_f64(const int64_t *indptr, const int32_t *indices, const double *data,
                                   ptrdiff_t row0, ptrdiff_t row1, const double *w, double intercept,
                                   const int32_t *codes, const double *class_weights, double scale,
                                   int distinct, double *g, double *g_intercept);
/* scratch: k doubles. */
double mpl_logistic_csr_multinomial_f64(const int64_t *indptr, const int32_t *indices, const double *data,
                                        ptrdiff_t row0, ptrdiff_t row1, const double *w, const double *intercept,
                                        ptrdiff_t k, const int32_t *codes, const double *class_weights,
                                        double scale, double *g, double *g_intercept, double *scratch);

/* ---- dense vector loops of the L-BFGS optimiser (vector.c) ------------------------------
 * Plain loops with a fixed summation order (four interleaved partial sums, combined as
 * (s0 + s1) + (s2 + s3), then the tail), so every rank of a job computes the same bits and
 * takes the same branches whatever BLAS build or thread count it has. */
double mpl_vec_dot(ptrdiff_t n, const double *a, const double *b);
/* y += alpha * x. */
void mpl_vec_axpy(ptrdiff_t n, double alpha, const double *x, double *y);
/* max |a[i]| (0 for n = 0; NaN if any entry is NaN). */
double mpl_vec_max_abs(ptrdiff_t n, const double *a);
/* Reads `bytes` bytes at p once and returns their XOR (so the read cannot be dropped): for
 * timing one read of a buffer. */
uint64_t mpl_read_bytes(const void *p, size_t bytes);

/* Fixes glibc's mmap threshold at `bytes` (which also stops glibc from raising it after
 * large frees), so blocks of that size or more are mapped alone and returned to the system
 * when freed. Returns 1 on success, 0 when refused or not glibc. */
int mpl_pin_mmap_threshold(size_t bytes);
/* Records SIGTERM and SIGUSR1 instead of dying (process.c); 0 on success. */
int mpl_stop_install(void);
/* The first recorded stop signal's number, or 0. */
int mpl_stop_signal(void);
/* SIGTERM and SIGUSR1 end the process again (their default); a recorded one is dropped. */
void mpl_stop_uninstall(void);
/* glibc's mallopt(M_TRIM_THRESHOLD, bytes): free memory at the heap's top beyond `bytes` goes
 * back to the system. 1 when applied (0 elsewhere than glibc). */
int mpl_set_trim_threshold(size_t bytes);


/* SVM (MPILearn/SVM): kernel kinds as the solver numbers them. */
enum { MPL_SVM_LINEAR = 0, MPL_SVM_POLY = 1, MPL_SVM_RBF = 2, MPL_SVM_SIGMOID = 3 };
/* One row of the SMO Q matrix from its dot products x_i . x_j (j < n), rounded to float as
 * libsvm's cache holds it: out[j] = y_i y_j K(x_i, x_j) (y may be NULL: no signs). sq holds
 * |x_j|^2 and sq_i |x_i|^2 (RBF only). */
void mpl_svm_kernel_row(int kind, ptrdiff_t n, const double *dots, const double *sq, double sq_i,
                        const int8_t *y, int y_i, double gamma, double coef0, int degree, float *out);
/* Kernel values in place from a rows x cols block of dot products (prediction): RBF from
 * |a|^2 + |b|^2 - 2 a.b (clamped at 0). n is unused. */
void mpl_svm_kernel_block(int kind, ptrdiff_t n, double *values, const double *sq_rows, const double *sq_cols,
                          ptrdiff_t rows, ptrdiff_t cols, double gamma, double coef0, int degree);
/* The working-set selection's first scan: the last t maximising -y_t g_t over I_up; its
 * value in *gmax_out (-inf and -1 when I_up is empty). status: 0 lower bound, 1 upper, 2 free. */
ptrdiff_t mpl_svm_select_i(ptrdiff_t n, const int8_t *y, const double *g, const int8_t *status, double *gmax_out);
/* Its second scan: the last j in I_low minimising the second-order objective decrease
 * against i (q_i is Q's row i), and max y_j g_j over I_low in *gmax2_out; -1 when none. */
ptrdiff_t mpl_svm_select_j(ptrdiff_t n, const int8_t *y, const double *g, const int8_t *status, const double *qd,
                           const float *q_i, double qd_i, int y_i, double gmax, double tau, double *gmax2_out);
/* The gradient update g[k] += q_i[k] da + q_j[k] db, then select_i's scan over the updated gradient (the next iteration's
 * first scan) in the same pass; returns i (or -1) and Gmax. */
ptrdiff_t mpl_svm_update_select_i(ptrdiff_t n, double *g, const float *q_i, const float *q_j, double da, double db,
                                  const int8_t *y, const int8_t *status, double *gmax_out);
/* g[k] += alpha q[k]. */
/* out[t] = y_i y[t] k[pos[t]] for t < n (y NULL: k[pos[t]]): a row of Q read out of a row of K
 * (over a superset of the problem's rows, or SVR's n rows for its 2n variables). */
void mpl_svm_gather_row32(ptrdiff_t n, const float *k, const int32_t *pos, const int8_t *y, int y_i, float *out);
void mpl_svm_axpy_f32(ptrdiff_t n, double alpha, const float *q, double *g);

#ifdef __cplusplus
}
#endif

#endif
