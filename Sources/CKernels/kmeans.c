/* The k-means inner loops after the distance GEMM: the nearest centre of each row, and the
 * Lloyd accumulation of per-centre sums, counts and inertia.
 *
 * Each kernel has a scalar variant and x86-64 variants for AVX2 and AVX-512, picked once per
 * process from CPUID (dispatch.c). The variants return the same bits: a row's nearest centre
 * is the lowest index holding the minimum value (the scalar scan's "ties to the lower
 * index"), its value is recomputed from that index with the same addition, and the sums are
 * vectorised across features only, so every accumulator still adds its rows in row order.
 * Only additions appear, so no compiler may contract anything into a fused multiply-add. */
#include "ckernels.h"
#include "dispatch.h"

#pragma STDC FP_CONTRACT OFF

/* max(0, v) as Swift writes it (`v >= 0 ? v : 0`), so -0.0 stays -0.0. */
static inline double clamp0(double v) { return v >= 0 ? v : 0.0; }

/* Asks for the row after a block's rows to be fetched into cache: the caller's next GEMM
 * reads the next block, so its memory traffic overlaps this block's bookkeeping instead of
 * following it. Prefetches never fault, so running past the data's end is harmless. */
static inline void prefetch_row(const void *row, ptrdiff_t bytes) {
    const char *p = (const char *)row;
    for (ptrdiff_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off, 0, 3);
}

/* ---- scalar ---------------------------------------------------------------------------- */

#define MPL_SCALAR_ARGMIN_ROW(T)                                                            \
    static inline int32_t argmin_row_scalar_##T(const T *w, ptrdiff_t stride, const T *cn) { \
        T bv = cn[0] + w[0];                                                                \
        int32_t bj = 0;                                                                     \
        for (ptrdiff_t j = 1; j < stride; j++) {                                            \
            T v = cn[j] + w[j];                                                             \
            if (v < bv) { bv = v; bj = (int32_t)j; }                                        \
        }                                                                                   \
        return bj;                                                                          \
    }
MPL_SCALAR_ARGMIN_ROW(double)
MPL_SCALAR_ARGMIN_ROW(float)

/* One row's Lloyd bookkeeping once its nearest centre j and value are known. */
#define MPL_LLOYD_TAIL(r, j, bestValue)                                                     \
    do {                                                                                    \
        double d2 = clamp0(rownorms[r] + (double)(bestValue));                              \
        acc->counts[j] += 1;                                                                \
        inertia += d2;                                                                      \
        if (mind2) mind2[r] = d2;                                                           \
        if (labels[r] != (j)) { changed += 1; labels[r] = (j); }                            \
    } while (0)

#define MPL_SCALAR_KERNELS(T, SUFFIX)                                                           \
    static void argmin_scalar_##SUFFIX(const T *work, ptrdiff_t rows, ptrdiff_t stride,        \
                                       const T *norms, T *best, int32_t *index) {              \
        for (ptrdiff_t i = 0; i < rows; i++) {                                                 \
            const T *w = work + i * stride;                                                    \
            int32_t j = argmin_row_scalar_##T(w, stride, norms);                               \
            index[i] = j;                                                                      \
            best[i] = norms[j] + w[j];                                                         \
        }                                                                                      \
    }                                                                                          \
    static void lloyd_scalar_##SUFFIX(const T *restrict x, ptrdiff_t rows, ptrdiff_t d,        \
                                      const T *work, ptrdiff_t stride, const T *norms,         \
                                      const double *rownorms, int32_t *labels, double *mind2,  \
                                      T *best, int32_t *index, mpl_lloyd_acc *acc) {           \
        argmin_scalar_##SUFFIX(work, rows, stride, norms, best, index);                        \
        double inertia = acc->inertia, changed = acc->changed;                                 \
        for (ptrdiff_t r = 0; r < rows; r++) {                                                 \
            int32_t j = index[r];                                                              \
            const T *xr = x + r * d;                                                           \
            double *restrict s = acc->sums + (ptrdiff_t)j * d;                                 \
            for (ptrdiff_t f = 0; f < d; f++) s[f] += (double)xr[f];                           \
            MPL_LLOYD_TAIL(r, j, best[r]);                                                     \
        }                                                                                      \
        acc->inertia = inertia;                                                                \
        acc->changed = changed;                                                                \
    }
MPL_SCALAR_KERNELS(double, f64)
MPL_SCALAR_KERNELS(float, f32)


/* ---- bounded (Hamerly) passes: shared parts ------------------------------------------------
 * See mpl_bounds_test_f64 in ckernels.h. A row keeps its label without a distance GEMM when
 * its bounds prove the GEMM argmin would return that label; rows that fail get their
 * distances from a GEMM and mpl_bounds_assign_*. Each row's squared distance to its centre is
 * computed directly, Σ (x_f - c_f)^2, for the inertia and the upper bound. */

/* Slack factors for the bound tests: far larger than the rounding of the few operations on
 * the bounds themselves (products, a square root). */
#define MPL_UP (1.0 + 0x1p-44)
#define MPL_DOWN (1.0 - 0x1p-44)

static inline double sqdist_scalar_f64(const double *x, const double *c, ptrdiff_t d, int over) {
    (void)over;
    double p[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (ptrdiff_t f = 0; f < d; f++) { double t = x[f] - c[f]; p[f & 7] += t * t; }
    return ((p[0] + p[4]) + (p[2] + p[6])) + ((p[1] + p[5]) + (p[3] + p[7]));
}
static inline double sqdist_scalar_f32(const float *x, const double *c, ptrdiff_t d, int over) {
    (void)over;
    double p[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (ptrdiff_t f = 0; f < d; f++) { double t = (double)x[f] - c[f]; p[f & 7] += t * t; }
    return ((p[0] + p[4]) + (p[2] + p[6])) + ((p[1] + p[5]) + (p[3] + p[7]));
}

/* The smallest of norms[i] + w[i] over i != j (+inf when there is no other column). */
#define MPL_SECOND_MIN(T)                                                                       \
    static inline double second_min_##T(const T *w, ptrdiff_t stride, const T *cn, int32_t j) { \
        T b = (T)__builtin_inf();                                                               \
        for (ptrdiff_t i = 0; i < stride; i++) {                                                \
            T v = cn[i] + w[i];                                                                 \
            if (i != j && v < b) b = v;                                                         \
        }                                                                                       \
        return (double)b;                                                                       \
    }
MPL_SECOND_MIN(double)
MPL_SECOND_MIN(float)

static inline int32_t argmin2_row_scalar_f64(const double *w, ptrdiff_t stride, const double *cn, double *second) {
    int32_t j = argmin_row_scalar_double(w, stride, cn);
    *second = second_min_double(w, stride, cn, j);
    return j;
}
static inline int32_t argmin2_row_scalar_f32(const float *w, ptrdiff_t stride, const float *cn, double *second) {
    int32_t j = argmin_row_scalar_float(w, stride, cn);
    *second = second_min_float(w, stride, cn, j);
    return j;
}
/* Nearest centre and second smallest value of `rows` distance rows. */
static void argmin2_rows_scalar_f64(const double *w, ptrdiff_t rows, ptrdiff_t stride, const double *cn, int32_t *nearest, double *second) {
    for (ptrdiff_t i = 0; i < rows; i++) nearest[i] = argmin2_row_scalar_f64(w + i * stride, stride, cn, &second[i]);
}
static void argmin2_rows_scalar_f32(const float *w, ptrdiff_t rows, ptrdiff_t stride, const float *cn, int32_t *nearest, double *second) {
    for (ptrdiff_t i = 0; i < rows; i++) nearest[i] = argmin2_row_scalar_f32(w + i * stride, stride, cn, &second[i]);
}
static inline void add_row_scalar_f64(double *restrict s, const double *restrict x, ptrdiff_t d) {
    for (ptrdiff_t f = 0; f < d; f++) s[f] += x[f];
}
static inline void add_row_scalar_f32(double *restrict s, const float *restrict x, ptrdiff_t d) {
    for (ptrdiff_t f = 0; f < d; f++) s[f] += (double)x[f];
}

/* The two steps of a bounded block, per instruction set (ISA), element type T, and the
 * helpers: SQDIST (direct squared distance of a row), ARGMIN2 (nearest centre and second
 * smallest value of a run of distance rows) and ADDROW (sums += row). */
#define MPL_BOUNDS_KERNELS(ISA, T, SUFFIX, SQDIST, ARGMIN2, ADDROW)                                  \
    ISA static ptrdiff_t bounds_pass_##SUFFIX(const T *restrict x, ptrdiff_t rows, ptrdiff_t d,         \
                                              const mpl_bounds_ctx *ctx, const double *rownorms,       \
                                              int32_t *labels, double *lower, int32_t *fail,           \
                                              mpl_lloyd_acc *acc) {                                    \
        const double *centres = ctx->centres, *separation = ctx->separation;                           \
        const double drift1 = ctx->drift1, drift2 = ctx->drift2, upper_scale = ctx->upper_scale;       \
        const double margin = ctx->margin, cmax2 = ctx->cmax2;                                         \
        const int32_t drift1_index = ctx->drift1_index;                                                \
        double *sums = acc->sums, *counts = acc->counts;                                               \
        double inertia = acc->inertia;                                                                 \
        /* Rows whose vector tail may read on into the block's next rows (centres are padded). */     \
        const ptrdiff_t padded = (d + 7) & ~(ptrdiff_t)7, last_over = rows * d - padded;               \
        ptrdiff_t nf = 0;                                                                              \
        for (ptrdiff_t r = 0; r < rows; r++) {                                                         \
            int32_t a = labels[r];                                                                     \
            prefetch_row(x + (rows + r) * d, d * (ptrdiff_t)sizeof(T));                                \
            if (a < 0) { fail[nf++] = (int32_t)r; continue; }                                          \
            const T *xr = x + r * d;                                                                   \
            double dd = SQDIST(xr, centres + (ptrdiff_t)a * d, d, r * d <= last_over);                 \
            double need = (dd * upper_scale + 2 * margin * (rownorms[r] + cmax2)) * MPL_UP;            \
            double l = lower[r] - (a == drift1_index ? drift2 : drift1);                               \
            /* Usually the stored bound suffices, without a square root; else the centre's */         \
            /* separation may: |x - c_j| >= s(a) - U for every other centre j. */                       \
            if (!(l > 0 && need < l * l * MPL_DOWN)) {                                                 \
                double s = separation[a] - __builtin_sqrt(dd * upper_scale) * MPL_UP;                  \
                if (s > l) l = s;                                                                      \
                if (!(l > 0 && need < l * l * MPL_DOWN)) { fail[nf++] = (int32_t)r; continue; }        \
            }                                                                                          \
            lower[r] = l;                                                                              \
            ADDROW(sums + (ptrdiff_t)a * d, xr, d);                                                    \
            counts[a] += 1;                                                                            \
            inertia += dd;                                                                             \
        }                                                                                              \
        acc->inertia = inertia;                                                                        \
        return nf;                                                                                     \
    }                                                                                                  \
    ISA static void bounds_assign_##SUFFIX(const T *restrict x, ptrdiff_t d, const T *work, ptrdiff_t stride, \
                                           const T *norms, ptrdiff_t nfail, const int32_t *fail,       \
                                           const mpl_bounds_ctx *ctx, const double *rownorms,          \
                                           int32_t *labels, double *lower, mpl_lloyd_acc *acc) {       \
        double inertia = acc->inertia, changed = acc->changed;                                         \
        /* In chunks: first every row's argmin (independent rows overlap), then the bookkeeping */    \
        /* (whose addresses depend on them), as the Lloyd kernels. */                                   \
        int32_t nearest[128];                                                                          \
        double second[128];                                                                            \
        for (ptrdiff_t base = 0; base < nfail; base += 128) {                                          \
            ptrdiff_t end = base + 128 < nfail ? base + 128 : nfail;                                   \
            ARGMIN2(work + base * stride, end - base, stride, norms, nearest, second);                 \
            for (ptrdiff_t i = base; i < end; i++) {                                                   \
                ptrdiff_t r = fail[i];                                                                 \
                int32_t j = nearest[i - base];                                                         \
                double m = ctx->margin * (rownorms[r] + ctx->cmax2);                                   \
                double l2 = (second[i - base] + rownorms[r] - 2 * m) * MPL_DOWN;                       \
                lower[r] = l2 > 0 ? __builtin_sqrt(l2) * MPL_DOWN : 0;                                 \
                const T *xr = x + r * d;                                                               \
                ADDROW(acc->sums + (ptrdiff_t)j * d, xr, d);                                           \
                acc->counts[j] += 1;                                                                   \
                inertia += SQDIST(xr, ctx->centres + (ptrdiff_t)j * d, d, 0);                          \
                if (labels[r] != j) { changed += 1; labels[r] = j; }                                   \
            }                                                                                          \
        }                                                                                              \
        acc->inertia = inertia;                                                                        \
        acc->changed = changed;                                                                        \
    }

#define MPL_NO_ISA
MPL_BOUNDS_KERNELS(MPL_NO_ISA, double, scalar_f64, sqdist_scalar_f64, argmin2_rows_scalar_f64, add_row_scalar_f64)
MPL_BOUNDS_KERNELS(MPL_NO_ISA, float, scalar_f32, sqdist_scalar_f32, argmin2_rows_scalar_f32, add_row_scalar_f32)

#if MPL_X86_64
#include <immintrin.h>

/* ---- vector variants --------------------------------------------------------------------
 * A row's nearest centre in two steps: m = the minimum of norms[j] + work[j] over all j
 * (vector minimum, then across lanes), then j = the lowest index whose value equals m, from
 * the lanes' equality masks gathered into one 64-bit word (ties to the lower index, as the
 * scalar scan; +0 and -0 compare equal in both). No index vector is tracked, so a row costs a
 * few vector operations and one count-trailing-zeros. */

/* ---- AVX2 ------------------------------------------------------------------------------ */

#define AVX2 __attribute__((target("avx2")))

AVX2 static inline int32_t argmin_row_avx2_f64(const double *w, ptrdiff_t stride, const double *cn) {
    __m256d lo = _mm256_add_pd(_mm256_loadu_pd(cn), _mm256_loadu_pd(w));
    __m256d hi = _mm256_add_pd(_mm256_loadu_pd(cn + 4), _mm256_loadu_pd(w + 4));
    for (ptrdiff_t j = 8; j < stride; j += 8) {
        lo = _mm256_min_pd(lo, _mm256_add_pd(_mm256_loadu_pd(cn + j), _mm256_loadu_pd(w + j)));
        hi = _mm256_min_pd(hi, _mm256_add_pd(_mm256_loadu_pd(cn + j + 4), _mm256_loadu_pd(w + j + 4)));
    }
    __m256d m = _mm256_min_pd(lo, hi);
    m = _mm256_min_pd(m, _mm256_permute2f128_pd(m, m, 0x01));
    m = _mm256_min_pd(m, _mm256_permute_pd(m, 0x5));
    for (ptrdiff_t base = 0; base < stride; base += 64) {
        uint64_t bits = 0;
        ptrdiff_t end = base + 64 < stride ? base + 64 : stride;
        for (ptrdiff_t j = base; j < end; j += 4) {
            __m256d v = _mm256_add_pd(_mm256_loadu_pd(cn + j), _mm256_loadu_pd(w + j));
            bits |= (uint64_t)_mm256_movemask_pd(_mm256_cmp_pd(v, m, _CMP_EQ_OQ)) << (j - base);
        }
        if (bits) return (int32_t)(base + (ptrdiff_t)__builtin_ctzll(bits));
    }
    return 0; /* unreachable with finite values: m is one of them */
}

AVX2 static inline int32_t argmin_row_avx2_f32(const float *w, ptrdiff_t stride, const float *cn) {
    __m256 m = _mm256_add_ps(_mm256_loadu_ps(cn), _mm256_loadu_ps(w));
    for (ptrdiff_t j = 8; j < stride; j += 8)
        m = _mm256_min_ps(m, _mm256_add_ps(_mm256_loadu_ps(cn + j), _mm256_loadu_ps(w + j)));
    m = _mm256_min_ps(m, _mm256_permute2f128_ps(m, m, 0x01));
    m = _mm256_min_ps(m, _mm256_permute_ps(m, 0x4E));
    m = _mm256_min_ps(m, _mm256_permute_ps(m, 0xB1));
    for (ptrdiff_t base = 0; base < stride; base += 64) {
        uint64_t bits = 0;
        ptrdiff_t end = base + 64 < stride ? base + 64 : stride;
        for (ptrdiff_t j = base; j < end; j += 8) {
            __m256 v = _mm256_add_ps(_mm256_loadu_ps(cn + j), _mm256_loadu_ps(w + j));
            bits |= (uint64_t)_mm256_movemask_ps(_mm256_cmp_ps(v, m, _CMP_EQ_OQ)) << (j - base);
        }
        if (bits) return (int32_t)(base + (ptrdiff_t)__builtin_ctzll(bits));
    }
    return 0;
}

/* s[f] += x[f] for f < d, four features at a time (each element still one addition). */
AVX2 static inline void add_row_avx2_f64(double *restrict s, const double *restrict x, ptrdiff_t d) {
    ptrdiff_t f = 0;
    for (; f + 4 <= d; f += 4) _mm256_storeu_pd(s + f, _mm256_add_pd(_mm256_loadu_pd(s + f), _mm256_loadu_pd(x + f)));
    for (; f < d; f++) s[f] += x[f];
}

AVX2 static inline void add_row_avx2_f32(double *restrict s, const float *restrict x, ptrdiff_t d) {
    ptrdiff_t f = 0;
    for (; f + 4 <= d; f += 4)
        _mm256_storeu_pd(s + f, _mm256_add_pd(_mm256_loadu_pd(s + f), _mm256_cvtps_pd(_mm_loadu_ps(x + f))));
    for (; f < d; f++) s[f] += (double)x[f];
}

/* The argmin of a block, then the Lloyd bookkeeping of its rows: two loops, so the argmins
 * of consecutive rows overlap (they are independent) and the sums' addresses are known
 * early, instead of every row's sums waiting for its own argmin. */
#define MPL_ARGMIN_KERNEL(ISA, T, SUFFIX)                                                         \
    ISA static void argmin_##SUFFIX(const T *work, ptrdiff_t rows, ptrdiff_t stride, const T *norms, \
                                    T *best, int32_t *index) {                                    \
        for (ptrdiff_t i = 0; i < rows; i++) {                                                    \
            const T *w = work + i * stride;                                                       \
            int32_t j = argmin_row_##SUFFIX(w, stride, norms);                                    \
            index[i] = j;                                                                         \
            best[i] = norms[j] + w[j];                                                            \
        }                                                                                         \
    }
#define MPL_LLOYD_KERNEL(ISA, T, SUFFIX)                                                          \
    ISA static void lloyd_##SUFFIX(const T *restrict x, ptrdiff_t rows, ptrdiff_t d, const T *work, \
                                   ptrdiff_t stride, const T *norms, const double *rownorms,       \
                                   int32_t *labels, double *mind2, T *best, int32_t *index,        \
                                   mpl_lloyd_acc *acc) {                                           \
        argmin_##SUFFIX(work, rows, stride, norms, best, index);                                  \
        double inertia = acc->inertia, changed = acc->changed;                                    \
        for (ptrdiff_t r = 0; r < rows; r++) {                                                    \
            int32_t j = index[r];                                                                 \
            prefetch_row(x + (rows + r) * d, d * (ptrdiff_t)sizeof(T));                           \
            add_row_##SUFFIX(acc->sums + (ptrdiff_t)j * d, x + r * d, d);                         \
            MPL_LLOYD_TAIL(r, j, best[r]);                                                        \
        }                                                                                         \
        acc->inertia = inertia;                                                                   \
        acc->changed = changed;                                                                   \
    }
MPL_ARGMIN_KERNEL(AVX2, double, avx2_f64)
MPL_LLOYD_KERNEL(AVX2, double, avx2_f64)
MPL_ARGMIN_KERNEL(AVX2, float, avx2_f32)
MPL_LLOYD_KERNEL(AVX2, float, avx2_f32)

/* ---- AVX-512 (doubles; floats use the AVX2 kernels, whose 8 lanes fit the padding) ------- */

#define AVX512 __attribute__((target("avx512f,avx512vl")))

/* The nearest centre of a row with C vectors of 8 centres (stride = 8·C): `chunks` is a
 * constant at every call below, so each case compiles to straight-line code that keeps the
 * row's values in registers. */
AVX512 static inline __attribute__((always_inline)) int32_t
argmin_row_avx512_f64_fixed(const double *w, const double *cn, const int chunks) {
    __m512d v[8];
    __m512d m = v[0] = _mm512_add_pd(_mm512_loadu_pd(cn), _mm512_loadu_pd(w));
    for (int c = 1; c < chunks; c++) {
        v[c] = _mm512_add_pd(_mm512_loadu_pd(cn + 8 * c), _mm512_loadu_pd(w + 8 * c));
        m = _mm512_min_pd(m, v[c]);
    }
    __m512d mv = _mm512_set1_pd(_mm512_reduce_min_pd(m));
    uint64_t bits = 0;
    for (int c = 0; c < chunks; c++) bits |= (uint64_t)_mm512_cmp_pd_mask(v[c], mv, _CMP_EQ_OQ) << (8 * c);
    return (int32_t)__builtin_ctzll(bits | (1ull << 63));   /* bits != 0: m is one of the values */
}

/* Any stride: the minimum over all vectors, then the equality masks 64 centres at a time. */
AVX512 static inline int32_t argmin_row_avx512_f64_any(const double *w, ptrdiff_t stride, const double *cn) {
    __m512d m = _mm512_add_pd(_mm512_loadu_pd(cn), _mm512_loadu_pd(w));
    for (ptrdiff_t j = 8; j < stride; j += 8)
        m = _mm512_min_pd(m, _mm512_add_pd(_mm512_loadu_pd(cn + j), _mm512_loadu_pd(w + j)));
    __m512d mv = _mm512_set1_pd(_mm512_reduce_min_pd(m));
    for (ptrdiff_t base = 0; base < stride; base += 64) {
        uint64_t bits = 0;
        ptrdiff_t end = base + 64 < stride ? base + 64 : stride;
        for (ptrdiff_t j = base; j < end; j += 8) {
            __m512d v = _mm512_add_pd(_mm512_loadu_pd(cn + j), _mm512_loadu_pd(w + j));
            bits |= (uint64_t)_mm512_cmp_pd_mask(v, mv, _CMP_EQ_OQ) << (j - base);
        }
        if (bits) return (int32_t)(base + (ptrdiff_t)__builtin_ctzll(bits));
    }
    return 0;
}

/* The argmin of every row of a block, with the common strides (up to 32 centres) unrolled. */
AVX512 static void argmin_avx512_f64(const double *work, ptrdiff_t rows, ptrdiff_t stride, const double *norms,
                                     double *best, int32_t *index) {
#define MPL_ARGMIN_ROWS(EXPR)                                                                     \
    for (ptrdiff_t i = 0; i < rows; i++) {                                                        \
        const double *w = work + i * stride;                                                      \
        int32_t j = (EXPR);                                                                       \
        index[i] = j;                                                                             \
        best[i] = norms[j] + w[j];                                                                \
    }
    switch (stride) {
    case 8: MPL_ARGMIN_ROWS(argmin_row_avx512_f64_fixed(w, norms, 1)) break;
    case 16: MPL_ARGMIN_ROWS(argmin_row_avx512_f64_fixed(w, norms, 2)) break;
    case 24: MPL_ARGMIN_ROWS(argmin_row_avx512_f64_fixed(w, norms, 3)) break;
    case 32: MPL_ARGMIN_ROWS(argmin_row_avx512_f64_fixed(w, norms, 4)) break;
    default: MPL_ARGMIN_ROWS(argmin_row_avx512_f64_any(w, stride, norms)) break;
    }
#undef MPL_ARGMIN_ROWS
}

/* s[f] += x[f] for f < d: eight features at a time, then four, then one. The tail avoids
 * masked stores: a later row of the same centre loads these sums again at once, and a load
 * cannot take its value from a pending masked store (it waits for the store to retire). */
AVX512 static inline void add_row_avx512_f64(double *restrict s, const double *restrict x, ptrdiff_t d) {
    ptrdiff_t f = 0;
    for (; f + 8 <= d; f += 8) _mm512_storeu_pd(s + f, _mm512_add_pd(_mm512_loadu_pd(s + f), _mm512_loadu_pd(x + f)));
    if (f + 4 <= d) {
        _mm256_storeu_pd(s + f, _mm256_add_pd(_mm256_loadu_pd(s + f), _mm256_loadu_pd(x + f)));
        f += 4;
    }
    /* At most three left: straight-line code, not a loop the compiler would vectorise again. */
    if (f < d) s[f] += x[f];
    if (f + 1 < d) s[f + 1] += x[f + 1];
    if (f + 2 < d) s[f + 2] += x[f + 2];
}
MPL_LLOYD_KERNEL(AVX512, double, avx512_f64)


/* ---- bounded passes: squared distance to one centre, vector variants ---------------------
 * Eight partial sums, feature f into partial f mod 8, reduced as ((p0+p4)+(p2+p6)) +
 * ((p1+p5)+(p3+p7)): the scalar sqdist_scalar_* does exactly this, so all variants give the
 * same bits. A masked tail adds (0 - 0)^2 = +0, which leaves a partial unchanged. */

AVX512 static inline double reduce8_avx512(__m512d acc) {
    __m256d h = _mm256_add_pd(_mm512_castpd512_pd256(acc), _mm512_extractf64x4_pd(acc, 1));
    __m128d q = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
    return _mm_cvtsd_f64(q) + _mm_cvtsd_f64(_mm_unpackhi_pd(q, q));
}

/* `over`: the vector tail may read past x's row and c's row (up to the next multiple of 8
 * elements; the caller knows the memory is there), and masks the extra lanes arithmetically
 * to +0; masked loads are much slower here. Otherwise the tail uses masked loads. */
AVX512 static inline __attribute__((always_inline)) double sqdist_avx512_f64(const double *x, const double *c, ptrdiff_t d, int over) {
    __m512d acc = _mm512_setzero_pd();
    ptrdiff_t f = 0;
    for (; f + 8 <= d; f += 8) {
        __m512d t = _mm512_sub_pd(_mm512_loadu_pd(x + f), _mm512_loadu_pd(c + f));
        acc = _mm512_add_pd(acc, _mm512_mul_pd(t, t));
    }
    if (f < d) {
        __mmask8 m = (__mmask8)((1u << (d - f)) - 1);
        __m512d t = over ? _mm512_maskz_sub_pd(m, _mm512_loadu_pd(x + f), _mm512_loadu_pd(c + f))
                         : _mm512_sub_pd(_mm512_maskz_loadu_pd(m, x + f), _mm512_maskz_loadu_pd(m, c + f));
        acc = _mm512_add_pd(acc, _mm512_mul_pd(t, t));
    }
    return reduce8_avx512(acc);
}

/* AVX2: partials 0-3 in `lo`, 4-7 in `hi`; the tail through masked loads (mask rows from a
 * sliding window over a table of -1s then 0s). */
static const int64_t mpl_mask64[8] = {-1, -1, -1, -1, 0, 0, 0, 0};
static const int32_t mpl_mask32[8] = {-1, -1, -1, -1, 0, 0, 0, 0};

AVX2 static inline double reduce8_avx2(__m256d lo, __m256d hi) {
    __m256d h = _mm256_add_pd(lo, hi);
    __m128d q = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
    return _mm_cvtsd_f64(q) + _mm_cvtsd_f64(_mm_unpackhi_pd(q, q));
}

/* Lanes [i, i+4) of a row with `left` valid elements from i: a mask of min(4, max(0, left)). */
AVX2 static inline __m256i mask4_64(ptrdiff_t left) {
    ptrdiff_t n = left < 0 ? 0 : left > 4 ? 4 : left;
    return _mm256_loadu_si256((const __m256i *)(mpl_mask64 + 4 - n));
}
AVX2 static inline __m128i mask4_32(ptrdiff_t left) {
    ptrdiff_t n = left < 0 ? 0 : left > 4 ? 4 : left;
    return _mm_loadu_si128((const __m128i *)(mpl_mask32 + 4 - n));
}

AVX2 static inline __attribute__((always_inline)) double sqdist_avx2_f64(const double *x, const double *c, ptrdiff_t d, int over) {
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    ptrdiff_t f = 0;
    for (; f + 8 <= d; f += 8) {
        __m256d t0 = _mm256_sub_pd(_mm256_loadu_pd(x + f), _mm256_loadu_pd(c + f));
        __m256d t1 = _mm256_sub_pd(_mm256_loadu_pd(x + f + 4), _mm256_loadu_pd(c + f + 4));
        lo = _mm256_add_pd(lo, _mm256_mul_pd(t0, t0));
        hi = _mm256_add_pd(hi, _mm256_mul_pd(t1, t1));
    }
    if (f < d) {
        __m256i m0 = mask4_64(d - f), m1 = mask4_64(d - f - 4);
        __m256d t0, t1;
        if (over) {
            t0 = _mm256_and_pd(_mm256_sub_pd(_mm256_loadu_pd(x + f), _mm256_loadu_pd(c + f)), _mm256_castsi256_pd(m0));
            t1 = _mm256_and_pd(_mm256_sub_pd(_mm256_loadu_pd(x + f + 4), _mm256_loadu_pd(c + f + 4)), _mm256_castsi256_pd(m1));
        } else {
            t0 = _mm256_sub_pd(_mm256_maskload_pd(x + f, m0), _mm256_maskload_pd(c + f, m0));
            t1 = _mm256_sub_pd(_mm256_maskload_pd(x + f + 4, m1), _mm256_maskload_pd(c + f + 4, m1));
        }
        lo = _mm256_add_pd(lo, _mm256_mul_pd(t0, t0));
        hi = _mm256_add_pd(hi, _mm256_mul_pd(t1, t1));
    }
    return reduce8_avx2(lo, hi);
}

AVX2 static inline __attribute__((always_inline)) double sqdist_avx2_f32(const float *x, const double *c, ptrdiff_t d, int over) {
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    ptrdiff_t f = 0;
    for (; f + 8 <= d; f += 8) {
        __m256d t0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + f)), _mm256_loadu_pd(c + f));
        __m256d t1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + f + 4)), _mm256_loadu_pd(c + f + 4));
        lo = _mm256_add_pd(lo, _mm256_mul_pd(t0, t0));
        hi = _mm256_add_pd(hi, _mm256_mul_pd(t1, t1));
    }
    if (f < d) {
        ptrdiff_t left = d - f;
        __m256d t0, t1;
        if (over) {
            __m256d m0 = _mm256_castsi256_pd(mask4_64(left)), m1 = _mm256_castsi256_pd(mask4_64(left - 4));
            t0 = _mm256_and_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + f)), _mm256_loadu_pd(c + f)), m0);
            t1 = _mm256_and_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + f + 4)), _mm256_loadu_pd(c + f + 4)), m1);
        } else {
            __m256d x0 = _mm256_cvtps_pd(_mm_maskload_ps(x + f, mask4_32(left)));
            __m256d x1 = _mm256_cvtps_pd(_mm_maskload_ps(x + f + 4, mask4_32(left - 4)));
            t0 = _mm256_sub_pd(x0, _mm256_maskload_pd(c + f, mask4_64(left)));
            t1 = _mm256_sub_pd(x1, _mm256_maskload_pd(c + f + 4, mask4_64(left - 4)));
        }
        lo = _mm256_add_pd(lo, _mm256_mul_pd(t0, t0));
        hi = _mm256_add_pd(hi, _mm256_mul_pd(t1, t1));
    }
    return reduce8_avx2(lo, hi);
}

AVX2 static inline int32_t argmin2_row_avx2_f64(const double *w, ptrdiff_t stride, const double *cn, double *second) {
    int32_t j = argmin_row_avx2_f64(w, stride, cn);
    *second = second_min_double(w, stride, cn, j);
    return j;
}
AVX2 static inline int32_t argmin2_row_avx2_f32(const float *w, ptrdiff_t stride, const float *cn, double *second) {
    int32_t j = argmin_row_avx2_f32(w, stride, cn);
    *second = second_min_float(w, stride, cn, j);
    return j;
}
AVX2 static void argmin2_rows_avx2_f64(const double *w, ptrdiff_t rows, ptrdiff_t stride, const double *cn, int32_t *nearest, double *second) {
    for (ptrdiff_t i = 0; i < rows; i++) nearest[i] = argmin2_row_avx2_f64(w + i * stride, stride, cn, &second[i]);
}
AVX2 static void argmin2_rows_avx2_f32(const float *w, ptrdiff_t rows, ptrdiff_t stride, const float *cn, int32_t *nearest, double *second) {
    for (ptrdiff_t i = 0; i < rows; i++) nearest[i] = argmin2_row_avx2_f32(w + i * stride, stride, cn, &second[i]);
}
/* The smallest value of a distance row other than column j, 8 centres per vector. */
AVX512 static inline __attribute__((always_inline)) double
second_min_avx512_f64_fixed(const double *w, const double *cn, const int chunks, int32_t j) {
    __m512d inf = _mm512_set1_pd(__builtin_inf()), m = inf;
    for (int c = 0; c < chunks; c++) {
        __m512d v = _mm512_add_pd(_mm512_loadu_pd(cn + 8 * c), _mm512_loadu_pd(w + 8 * c));
        __mmask8 own = (c == (j >> 3)) ? (__mmask8)(1u << (j & 7)) : 0;
        m = _mm512_min_pd(m, _mm512_mask_mov_pd(v, own, inf));
    }
    return _mm512_reduce_min_pd(m);
}

/* The common strides unrolled, the switch outside the row loop (as argmin_avx512_f64); all
 * the rows' nearest centres first, then their second values (a loop of independent rows
 * each time, instead of one chain per row). */
AVX512 static void argmin2_rows_avx512_f64(const double *w, ptrdiff_t rows, ptrdiff_t stride, const double *cn, int32_t *nearest,
                                           double *second) {
#define MPL_ARGMIN2_ROWS(C)                                                                              \
    for (ptrdiff_t i = 0; i < rows; i++) nearest[i] = argmin_row_avx512_f64_fixed(w + i * stride, cn, C);     \
    for (ptrdiff_t i = 0; i < rows; i++) second[i] = second_min_avx512_f64_fixed(w + i * stride, cn, C, nearest[i]);
    switch (stride) {
    case 8: MPL_ARGMIN2_ROWS(1) break;
    case 16: MPL_ARGMIN2_ROWS(2) break;
    case 24: MPL_ARGMIN2_ROWS(3) break;
    case 32: MPL_ARGMIN2_ROWS(4) break;
    default:
        for (ptrdiff_t i = 0; i < rows; i++) {
            nearest[i] = argmin_row_avx512_f64_any(w + i * stride, stride, cn);
            second[i] = second_min_double(w + i * stride, stride, cn, nearest[i]);
        }
        break;
    }
#undef MPL_ARGMIN2_ROWS
}
MPL_BOUNDS_KERNELS(AVX2, double, avx2_f64, sqdist_avx2_f64, argmin2_rows_avx2_f64, add_row_avx2_f64)
MPL_BOUNDS_KERNELS(AVX2, float, avx2_f32, sqdist_avx2_f32, argmin2_rows_avx2_f32, add_row_avx2_f32)
MPL_BOUNDS_KERNELS(AVX512, double, avx512_f64, sqdist_avx512_f64, argmin2_rows_avx512_f64, add_row_avx512_f64)

#endif /* MPL_X86_64 */

/* ---- dispatch -------------------------------------------------------------------------- */

void mpl_argmin_f64(const double *work, ptrdiff_t rows, ptrdiff_t stride, const double *norms,
                    double *best, int32_t *index) {
#if MPL_X86_64
    switch (mpl_kernels_active()) {
    case MPL_KERNELS_AVX512: argmin_avx512_f64(work, rows, stride, norms, best, index); return;
    case MPL_KERNELS_AVX2: argmin_avx2_f64(work, rows, stride, norms, best, index); return;
    default: break;
    }
#endif
    argmin_scalar_f64(work, rows, stride, norms, best, index);
}

void mpl_argmin_f32(const float *work, ptrdiff_t rows, ptrdiff_t stride, const float *norms,
                    float *best, int32_t *index) {
#if MPL_X86_64
    if (mpl_kernels_active() != MPL_KERNELS_SCALAR) { argmin_avx2_f32(work, rows, stride, norms, best, index); return; }
#endif
    argmin_scalar_f32(work, rows, stride, norms, best, index);
}

void mpl_lloyd_block_f64(const double *x, ptrdiff_t rows, ptrdiff_t d, const double *work,
                         ptrdiff_t stride, const double *norms, const double *rownorms,
                         int32_t *labels, double *mind2, double *best, int32_t *index,
                         mpl_lloyd_acc *acc) {
#if MPL_X86_64
    switch (mpl_kernels_active()) {
    case MPL_KERNELS_AVX512: lloyd_avx512_f64(x, rows, d, work, stride, norms, rownorms, labels, mind2, best, index, acc); return;
    case MPL_KERNELS_AVX2: lloyd_avx2_f64(x, rows, d, work, stride, norms, rownorms, labels, mind2, best, index, acc); return;
    default: break;
    }
#endif
    lloyd_scalar_f64(x, rows, d, work, stride, norms, rownorms, labels, mind2, best, index, acc);
}

void mpl_lloyd_block_f32(const float *x, ptrdiff_t rows, ptrdiff_t d, const float *work,
                         ptrdiff_t stride, const float *norms, const double *rownorms,
                         int32_t *labels, double *mind2, float *best, int32_t *index,
                         mpl_lloyd_acc *acc) {
#if MPL_X86_64
    if (mpl_kernels_active() != MPL_KERNELS_SCALAR) {
        lloyd_avx2_f32(x, rows, d, work, stride, norms, rownorms, labels, mind2, best, index, acc);
        return;
    }
#endif
    lloyd_scalar_f32(x, rows, d, work, stride, norms, rownorms, labels, mind2, best, index, acc);
}

/* Bounded passes: the variant in use for doubles (AVX-512, AVX2, scalar) and floats (AVX2 or
 * scalar, as the Lloyd kernels). */
#if MPL_X86_64
#define MPL_DISPATCH_F64(NAME, ...)                                                                \
    switch (mpl_kernels_active()) {                                                                \
    case MPL_KERNELS_AVX512: return NAME##_avx512_f64(__VA_ARGS__);                                \
    case MPL_KERNELS_AVX2: return NAME##_avx2_f64(__VA_ARGS__);                                    \
    default: return NAME##_scalar_f64(__VA_ARGS__);                                                \
    }
#define MPL_DISPATCH_F32(NAME, ...)                                                                \
    if (mpl_kernels_active() != MPL_KERNELS_SCALAR) return NAME##_avx2_f32(__VA_ARGS__);           \
    return NAME##_scalar_f32(__VA_ARGS__);
#else
#define MPL_DISPATCH_F64(NAME, ...) return NAME##_scalar_f64(__VA_ARGS__);
#define MPL_DISPATCH_F32(NAME, ...) return NAME##_scalar_f32(__VA_ARGS__);
#endif

ptrdiff_t mpl_bounds_pass_f64(const double *x, ptrdiff_t rows, ptrdiff_t d, const mpl_bounds_ctx *ctx,
                              const double *rownorms, int32_t *labels, double *lower, int32_t *fail, mpl_lloyd_acc *acc) {
    MPL_DISPATCH_F64(bounds_pass, x, rows, d, ctx, rownorms, labels, lower, fail, acc)
}
ptrdiff_t mpl_bounds_pass_f32(const float *x, ptrdiff_t rows, ptrdiff_t d, const mpl_bounds_ctx *ctx,
                              const double *rownorms, int32_t *labels, double *lower, int32_t *fail, mpl_lloyd_acc *acc) {
    MPL_DISPATCH_F32(bounds_pass, x, rows, d, ctx, rownorms, labels, lower, fail, acc)
}
void mpl_bounds_assign_f64(const double *x, ptrdiff_t d, const double *work, ptrdiff_t stride, const double *norms,
                           ptrdiff_t nfail, const int32_t *fail, const mpl_bounds_ctx *ctx, const double *rownorms,
                           int32_t *labels, double *lower, mpl_lloyd_acc *acc) {
    MPL_DISPATCH_F64(bounds_assign, x, d, work, stride, norms, nfail, fail, ctx, rownorms, labels, lower, acc)
}
void mpl_bounds_assign_f32(const float *x, ptrdiff_t d, const float *work, ptrdiff_t stride, const float *norms,
                           ptrdiff_t nfail, const int32_t *fail, const mpl_bounds_ctx *ctx, const double *rownorms,
                           int32_t *labels, double *lower, mpl_lloyd_acc *acc) {
    MPL_DISPATCH_F32(bounds_assign, x, d, work, stride, norms, nfail, fail, ctx, rownorms, labels, lower, acc)
}

/* Branch-free, so the compiler vectorises it (square roots included). */
void mpl_bounds_seed(ptrdiff_t n, int32_t *labels, const double *mind2, const double *rownorms, ptrdiff_t m,
                     const int32_t *nearest, const double *other, double margin, double cand_max2, double upper_scale,
                     double *lower) {
    for (ptrdiff_t r = 0; r < n; r++) {
        int32_t q = labels[r];
        int ok = q >= 0 && q < m && mind2[r] < __builtin_inf();
        ptrdiff_t qi = ok ? q : 0;
        double t = __builtin_sqrt((mind2[r] + 2 * margin * (rownorms[r] + cand_max2)) * upper_scale) * MPL_UP;
        labels[r] = ok ? nearest[qi] : -1;
        lower[r] = ok ? other[qi] - t : -__builtin_inf();
    }
}
