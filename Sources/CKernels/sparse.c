/* Kernels of a linear model on a CSR matrix (scipy's layout: int64 row offsets `indptr`,
 * int32 column indices `indices`, values `data`). Each works on the rows [row0, row1), so the
 * Swift side (MPILearn/Linear/CSRMatrix+Kernels.swift) splits rows in blocks across threads.
 * Plain C: the loops are gathers and scatters over a few entries a row, which the compiler
 * schedules as well as hand-written intrinsics would; there is no instruction-set dispatch.
 * Every sum runs over a row's entries in stored order, in the element type. */
#include "ckernels.h"

#define MPL_CSR_KERNELS(T, S)                                                                        \
void mpl_csr_matvec_##S(const int64_t *indptr, const int32_t *indices, const T *data,               \
                        ptrdiff_t row0, ptrdiff_t row1, const T *w, T intercept, T *out) {          \
    for (ptrdiff_t i = row0; i < row1; i++) {                                                       \
        T s = 0;                                                                                    \
        for (int64_t p = indptr[i]; p < indptr[i + 1]; p++) s += data[p] * w[indices[p]];           \
        out[i] = s + intercept;                                                                     \
    }                                                                                               \
}                                                                                                   \
void mpl_csr_tmatvec_##S(const int64_t *indptr, const int32_t *indices, const T *data,              \
                         ptrdiff_t row0, ptrdiff_t row1, const T *r, T *out) {                      \
    for (ptrdiff_t i = row0; i < row1; i++) {                                                       \
        const T ri = r[i];                                                                          \
        for (int64_t p = indptr[i]; p < indptr[i + 1]; p++) out[indices[p]] += data[p] * ri;        \
    }                                                                                               \
}                                                                                                   \
void mpl_csr_row_sqnorms_##S(const int64_t *indptr, const T *data, ptrdiff_t row0, ptrdiff_t row1, \
                             T *out) {                                                              \
    for (ptrdiff_t i = row0; i < row1; i++) {                                                       \
        T s = 0;                                                                                    \
        for (int64_t p = indptr[i]; p < indptr[i + 1]; p++) s += data[p] * data[p];                 \
        out[i] = s;                                                                                 \
    }                                                                                               \
}                                                                                                   \
void mpl_csr_matmat_##S(const int64_t *indptr, const int32_t *indices, const T *data,               \
                        ptrdiff_t row0, ptrdiff_t row1, const T *w, ptrdiff_t k,                    \
                        const T *intercept, T *out) {                                               \
    for (ptrdiff_t i = row0; i < row1; i++) {                                                       \
        T *o = out + i * k;                                                                         \
        for (ptrdiff_t c = 0; c < k; c++) o[c] = 0;                                                 \
        for (int64_t p = indptr[i]; p < indptr[i + 1]; p++) {                                       \
            const T v = data[p];                                                                    \
            const T *wr = w + (ptrdiff_t)indices[p] * k;                                            \
            for (ptrdiff_t c = 0; c < k; c++) o[c] += v * wr[c];                                    \
        }                                                                                           \
        if (intercept)                                                                              \
            for (ptrdiff_t c = 0; c < k; c++) o[c] += intercept[c];                                 \
    }                                                                                               \
}                                                                                                   \
void mpl_csr_tmatmat_##S(const int64_t *indptr, const int32_t *indices, const T *data,              \
                         ptrdiff_t row0, ptrdiff_t row1, const T *r, ptrdiff_t k, T *out) {         \
    for (ptrdiff_t i = row0; i < row1; i++) {                                                       \
        const T *ri = r + i * k;                                                                    \
        for (int64_t p = indptr[i]; p < indptr[i + 1]; p++) {                                       \
            const T v = data[p];                                                                    \
            T *o = out + (ptrdiff_t)indices[p] * k;                                                 \
            for (ptrdiff_t c = 0; c < k; c++) o[c] += v * ri[c];                                    \
        }                                                                                           \
    }                                                                                               \
}                                                                                                   \
void mpl_csr_scale_rows_##S(const int64_t *indptr, T *data, ptrdiff_t row0, ptrdiff_t row1,        \
                            const T *scale) {                                                       \
    for (ptrdiff_t i = row0; i < row1; i++) {                                                       \
        const T a = scale[i];                                                                       \
        for (int64_t p = indptr[i]; p < indptr[i + 1]; p++) data[p] *= a;                           \
    }                                                                                               \
}

MPL_CSR_KERNELS(double, f64)
MPL_CSR_KERNELS(float, f32)

/* X^T X of rows [row0, row1), added into the upper triangle of g (columns x columns,
 * row-major): every pair of a row's stored entries p <= q adds data[p] * data[q] to
 * g[min(j, k), max(j, k)] for their columns j and k, twice when p < q share a column (a row
 * with duplicate columns then counts as its summed entries would). The lower triangle is not
 * touched. The work is the sum of the squared stored counts of the rows, never
 * rows x columns^2: a sparse kernel, not a dense product. */
#define MPL_CSR_GRAM(T, S)                                                                           \
void mpl_csr_gram_upper_##S(const int64_t *indptr, const int32_t *indices, const T *data,           \
                            ptrdiff_t row0, ptrdiff_t row1, ptrdiff_t columns, T *g) {              \
    for (ptrdiff_t i = row0; i < row1; i++) {                                                       \
        const int64_t end = indptr[i + 1];                                                          \
        for (int64_t p = indptr[i]; p < end; p++) {                                                 \
            const ptrdiff_t j = indices[p];                                                         \
            const T v = data[p];                                                                    \
            g[j * columns + j] += v * v;                                                            \
            for (int64_t q = p + 1; q < end; q++) {                                                 \
                const ptrdiff_t k = indices[q];                                                     \
                const T product = v * data[q];                                                      \
                if (j < k) g[j * columns + k] += product;                                           \
                else if (k < j) g[k * columns + j] += product;                                      \
                else g[j * columns + j] += product + product;                                       \
            }                                                                                       \
        }                                                                                           \
    }                                                                                               \
}

MPL_CSR_GRAM(double, f64)
MPL_CSR_GRAM(float, f32)
