/* The SMO solver's inner loops (MPILearn/SVM/SMOSolver.swift): a kernel row from its dot
 * products, the two scans of the second-order working-set selection (Fan, Chen & Lin, JMLR
 * 2005) and the gradient update. They run once per SMO iteration over the active variables,
 * so they decide the solver's speed; they are in C so that the loops compile to tight,
 * branch-light code, with every floating-point operation in libsvm's order (no fused
 * multiply-adds: the selection must pick the same pair libsvm picks). */
#include <math.h>
#include "ckernels.h"
#include "dispatch.h"

#if MPL_X86_64
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2")))
/* glibc's libmvec: exp of four doubles (AVX2), within 4 ulp of exp. */
AVX2 extern __m256d _ZGVdN4v_exp(__m256d x);
#endif

/* libsvm's powi: base^times by repeated squaring, in its order of multiplications. */
static inline double powi(double base, int times) {
    double tmp = base, ret = 1.0;
    for (int t = times; t > 0; t /= 2) {
        if (t % 2 == 1) ret *= tmp;
        tmp = tmp * tmp;
    }
    return ret;
}

static void kernel_row_scalar(int kind, ptrdiff_t n, const double *dots, const double *sq, double sq_i,
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

#if MPL_X86_64
AVX2 static void rbf_block_avx2(double *values, const double *sq_rows, const double *sq_cols, ptrdiff_t rows, ptrdiff_t cols, double gamma);
#endif

void mpl_svm_kernel_block(int kind, ptrdiff_t n, double *values, const double *sq_rows, const double *sq_cols,
                          ptrdiff_t rows, ptrdiff_t cols, double gamma, double coef0, int degree) {
    (void)n;
#if MPL_X86_64
    if (kind == MPL_SVM_RBF && mpl_kernels_active() >= MPL_KERNELS_AVX2) {
        rbf_block_avx2(values, sq_rows, sq_cols, rows, cols, gamma);
        return;
    }
#endif
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

/* The scans below continue from a state (the best so far over 0..<from): the vector
 * variants finish their tails through them. */
static ptrdiff_t select_i_from(ptrdiff_t from, ptrdiff_t idx, double gmax, ptrdiff_t n, const int8_t *y, const double *g,
                               const int8_t *status, double *gmax_out) {
    for (ptrdiff_t t = from; t < n; t++) {
        if (y[t] == 1) {
            if (status[t] != UPPER && -g[t] >= gmax) { gmax = -g[t]; idx = t; }
        } else {
            if (status[t] != LOWER && g[t] >= gmax) { gmax = g[t]; idx = t; }
        }
    }
    *gmax_out = gmax;
    return idx;
}

static ptrdiff_t select_j_from(ptrdiff_t from, ptrdiff_t idx, double gmax2, double obj_min, ptrdiff_t n, const int8_t *y,
                               const double *g, const int8_t *status, const double *qd, const float *q_i, double qd_i, int y_i,
                               double gmax, double tau, double *gmax2_out) {
    for (ptrdiff_t j = from; j < n; j++) {
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

#if MPL_X86_64
/* Combine the vector lanes' results of the scans above: lane k holds its best value lb[k] at
 * index li[k] (li < 0: none), and for select_j also its largest y g, lg[k]. The best over the
 * lanes; equal values go to the larger index (the scalar scan's last-index rule). */
static ptrdiff_t select_i_lanes_best(const double *lb, const int64_t *li, int lanes, double *gmax_out) {
    double gmax = -INFINITY;
    ptrdiff_t out = -1;
    for (int k = 0; k < lanes; k++) {
        if (li[k] < 0) continue;
        if (out < 0 || lb[k] > gmax || (lb[k] == gmax && li[k] > out)) { gmax = lb[k]; out = (ptrdiff_t)li[k]; }
    }
    *gmax_out = gmax;
    return out;
}

static ptrdiff_t select_j_lanes_best(const double *lb, const double *lg, const int64_t *li, int lanes, double *gmax2_out,
                                     double *obj_min_out) {
    double gmax2 = -INFINITY, obj_min = INFINITY;
    ptrdiff_t out = -1;
    for (int k = 0; k < lanes; k++) {
        if (lg[k] > gmax2) gmax2 = lg[k];
        if (li[k] < 0) continue;
        if (out < 0 || lb[k] < obj_min || (lb[k] == obj_min && li[k] > out)) { obj_min = lb[k]; out = (ptrdiff_t)li[k]; }
    }
    *gmax2_out = gmax2;
    *obj_min_out = obj_min;
    return out;
}
#endif

static void update_gradient_scalar(ptrdiff_t n, double *g, const float *q_i, const float *q_j, double da, double db) {
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

#if MPL_X86_64
/* RBF rows four at a time: the argument in libsvm's order, libmvec's exp. */
AVX2 static void rbf_row_avx2(ptrdiff_t n, const double *dots, const double *sq, double sq_i, const int8_t *y, int y_i,
                              double gamma, float *out) {
    const __m256d vsq_i = _mm256_set1_pd(sq_i), two = _mm256_set1_pd(2.0), ng = _mm256_set1_pd(-gamma);
    ptrdiff_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const __m256d d = _mm256_sub_pd(_mm256_add_pd(vsq_i, _mm256_loadu_pd(sq + j)), _mm256_mul_pd(two, _mm256_loadu_pd(dots + j)));
        __m256d e = _ZGVdN4v_exp(_mm256_mul_pd(ng, d));
        if (y) {
            const int32_t packed = (int32_t)((uint32_t)(uint8_t)y[j] | ((uint32_t)(uint8_t)y[j + 1] << 8) |
                                             ((uint32_t)(uint8_t)y[j + 2] << 16) | ((uint32_t)(uint8_t)y[j + 3] << 24));
            const __m256d sign = _mm256_cvtepi32_pd(_mm_cvtepi8_epi32(_mm_cvtsi32_si128(packed)));
            e = _mm256_mul_pd(_mm256_mul_pd(_mm256_set1_pd((double)y_i), sign), e);
        }
        _mm_storeu_ps(out + j, _mm256_cvtpd_ps(e));
    }
    for (; j < n; j++) out[j] = (float)((y ? (double)(y_i * y[j]) : 1.0) * exp(-gamma * (sq_i + sq[j] - 2 * dots[j])));
}

/* The signs y_i y_j of four variables as doubles. */
AVX2 static inline __m256d signs4(const int8_t *y, int y_i) {
    const int32_t packed = (int32_t)((uint32_t)(uint8_t)y[0] | ((uint32_t)(uint8_t)y[1] << 8) |
                                     ((uint32_t)(uint8_t)y[2] << 16) | ((uint32_t)(uint8_t)y[3] << 24));
    return _mm256_mul_pd(_mm256_set1_pd((double)y_i), _mm256_cvtepi32_pd(_mm_cvtepi8_epi32(_mm_cvtsi32_si128(packed))));
}

/* Linear and polynomial rows four at a time, with the scalar loop's operations in its order
 * (libsvm's powi: the same multiplications), so every value is the scalar loop's. */
AVX2 static void dot_row_avx2(int kind, ptrdiff_t n, const double *dots, const int8_t *y, int y_i, double gamma, double coef0,
                              int degree, float *out) {
    const __m256d vg = _mm256_set1_pd(gamma), vc = _mm256_set1_pd(coef0);
    ptrdiff_t j = 0;
    for (; j + 4 <= n; j += 4) {
        __m256d v = _mm256_loadu_pd(dots + j);
        if (kind == MPL_SVM_POLY) {
            __m256d tmp = _mm256_add_pd(_mm256_mul_pd(vg, v), vc), ret = _mm256_set1_pd(1.0);
            for (int t = degree; t > 0; t /= 2) {
                if (t % 2 == 1) ret = _mm256_mul_pd(ret, tmp);
                tmp = _mm256_mul_pd(tmp, tmp);
            }
            v = ret;
        }
        if (y) v = _mm256_mul_pd(signs4(y + j, y_i), v);
        _mm_storeu_ps(out + j, _mm256_cvtpd_ps(v));
    }
    kernel_row_scalar(kind, n - j, dots + j, NULL, 0, y ? y + j : NULL, y_i, gamma, coef0, degree, out + j);
}

/* exp(-gamma max(0, |a|^2 + |b|^2 - 2 a.b)) over a block of dot products, four at a time. */
AVX2 static void rbf_block_avx2(double *values, const double *sq_rows, const double *sq_cols, ptrdiff_t rows, ptrdiff_t cols, double gamma) {
    const __m256d two = _mm256_set1_pd(2.0), ng = _mm256_set1_pd(-gamma), zero = _mm256_setzero_pd();
    for (ptrdiff_t i = 0; i < rows; i++) {
        double *v = values + i * cols;
        const __m256d si = _mm256_set1_pd(sq_rows[i]);
        ptrdiff_t j = 0;
        for (; j + 4 <= cols; j += 4) {
            __m256d d = _mm256_sub_pd(_mm256_add_pd(si, _mm256_loadu_pd(sq_cols + j)), _mm256_mul_pd(two, _mm256_loadu_pd(v + j)));
            d = _mm256_max_pd(d, zero);
            _mm256_storeu_pd(v + j, _ZGVdN4v_exp(_mm256_mul_pd(ng, d)));
        }
        for (; j < cols; j++) {
            const double d = sq_rows[i] + sq_cols[j] - 2 * v[j];
            v[j] = exp(-gamma * (d > 0 ? d : 0));
        }
    }
}

/* Four int8 values as four 64-bit lanes. */
AVX2 static inline __m256i load4_i8(const int8_t *p) {
    int32_t v;
    __builtin_memcpy(&v, p, 4);
    return _mm256_cvtepi8_epi64(_mm_cvtsi32_si128(v));
}

/* select_i's running maximum over four lanes: one block of four gradients g (y = +1 and not at
 * the upper bound, or y = -1 and not at the lower bound, value -y g, the last index on ties). */
typedef struct { __m256d best; __m256i bidx, idx; } select_i_lanes;

AVX2 static inline select_i_lanes select_i_start(void) {
    select_i_lanes s = { _mm256_set1_pd(-INFINITY), _mm256_set1_epi64x(-1), _mm256_setr_epi64x(0, 1, 2, 3) };
    return s;
}

AVX2 static inline void select_i_block(select_i_lanes *s, __m256d g, const int8_t *y, const int8_t *status) {
    const __m256i one = _mm256_set1_epi64x(1), zero = _mm256_setzero_si256();
    const __m256i yv = load4_i8(y), st = load4_i8(status);
    const __m256i ypos = _mm256_cmpeq_epi64(yv, one);
    const __m256i atUpper = _mm256_cmpeq_epi64(st, one), atLower = _mm256_cmpeq_epi64(st, zero);
    const __m256i blocked = _mm256_or_si256(_mm256_and_si256(ypos, atUpper), _mm256_andnot_si256(ypos, atLower));
    const __m256d v = _mm256_xor_pd(g, _mm256_and_pd(_mm256_castsi256_pd(ypos), _mm256_set1_pd(-0.0)));
    const __m256d take = _mm256_andnot_pd(_mm256_castsi256_pd(blocked), _mm256_cmp_pd(v, s->best, _CMP_GE_OQ));
    s->best = _mm256_blendv_pd(s->best, v, take);
    s->bidx = _mm256_castpd_si256(_mm256_blendv_pd(_mm256_castsi256_pd(s->bidx), _mm256_castsi256_pd(s->idx), take));
    s->idx = _mm256_add_epi64(s->idx, _mm256_set1_epi64x(4));
}

/* The lanes' winner, then the scalar scan over the tail from t. */
AVX2 static ptrdiff_t select_i_finish(const select_i_lanes *s, ptrdiff_t t, ptrdiff_t n, const int8_t *y, const double *g,
                                      const int8_t *status, double *gmax_out) {
    double lb[4];
    int64_t li[4];
    _mm256_storeu_pd(lb, s->best);
    _mm256_storeu_si256((__m256i *)li, s->bidx);
    double gmax;
    const ptrdiff_t out = select_i_lanes_best(lb, li, 4, &gmax);
    return select_i_from(t, out, gmax, n, y, g, status, gmax_out);
}

AVX2 static ptrdiff_t select_i_avx2(ptrdiff_t n, const int8_t *y, const double *g, const int8_t *status, double *gmax_out) {
    select_i_lanes s = select_i_start();
    ptrdiff_t t = 0;
    for (; t + 4 <= n; t += 4) select_i_block(&s, _mm256_loadu_pd(g + t), y + t, status + t);
    return select_i_finish(&s, t, n, y, g, status, gmax_out);
}

AVX2 static ptrdiff_t select_j_avx2(ptrdiff_t n, const int8_t *y, const double *g, const int8_t *status, const double *qd,
                                    const float *q_i, double qd_i, int y_i, double gmax, double tau, double *gmax2_out) {
    const __m256i one = _mm256_set1_epi64x(1), zero = _mm256_setzero_si256();
    const __m256d signbit = _mm256_set1_pd(-0.0), vgmax = _mm256_set1_pd(gmax), vqd_i = _mm256_set1_pd(qd_i);
    const __m256d twoy = _mm256_set1_pd(2.0 * y_i), vtau = _mm256_set1_pd(tau), dzero = _mm256_setzero_pd();
    __m256d g2 = _mm256_set1_pd(-INFINITY), best = _mm256_set1_pd(INFINITY);
    __m256i bidx = _mm256_set1_epi64x(-1), idx = _mm256_setr_epi64x(0, 1, 2, 3);
    const __m256i four = _mm256_set1_epi64x(4);
    ptrdiff_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const __m256i yv = load4_i8(y + j), st = load4_i8(status + j);
        const __m256i ypos = _mm256_cmpeq_epi64(yv, one);
        /* I_low: y = +1 and not at the lower bound, or y = -1 and not at the upper bound */
        const __m256i atUpper = _mm256_cmpeq_epi64(st, one), atLower = _mm256_cmpeq_epi64(st, zero);
        const __m256i blocked = _mm256_or_si256(_mm256_and_si256(ypos, atLower), _mm256_andnot_si256(ypos, atUpper));
        const __m256d elig = _mm256_castsi256_pd(_mm256_xor_si256(blocked, _mm256_set1_epi64x(-1)));
        const __m256d negmask = _mm256_andnot_pd(_mm256_castsi256_pd(ypos), signbit);      /* -0.0 where y = -1 */
        const __m256d yg = _mm256_xor_pd(_mm256_loadu_pd(g + j), negmask);                  /* y_j g_j */
        g2 = _mm256_blendv_pd(g2, _mm256_max_pd(g2, yg), elig);
        const __m256d gd = _mm256_add_pd(vgmax, yg);
        /* libsvm divides only where grad_diff > 0 (the pairs that still violate optimality);
         * near the optimum most blocks have none, and skip the division and compare. */
        const __m256d cand = _mm256_and_pd(elig, _mm256_cmp_pd(gd, dzero, _CMP_GT_OQ));
        if (_mm256_movemask_pd(cand) == 0) {
            idx = _mm256_add_epi64(idx, four);
            continue;
        }
        const __m256d c = _mm256_mul_pd(twoy, _mm256_cvtps_pd(_mm_loadu_ps(q_i + j)));
        /* y = +1: (qd_i + qd_j) - c; y = -1: (qd_i + qd_j) + c */
        const __m256d quad = _mm256_add_pd(_mm256_add_pd(vqd_i, _mm256_loadu_pd(qd + j)),
                                           _mm256_xor_pd(c, _mm256_and_pd(_mm256_castsi256_pd(ypos), signbit)));
        const __m256d denom = _mm256_blendv_pd(vtau, quad, _mm256_cmp_pd(quad, dzero, _CMP_GT_OQ));
        const __m256d obj = _mm256_div_pd(_mm256_xor_pd(_mm256_mul_pd(gd, gd), signbit), denom);
        const __m256d take = _mm256_and_pd(cand, _mm256_cmp_pd(obj, best, _CMP_LE_OQ));
        best = _mm256_blendv_pd(best, obj, take);
        bidx = _mm256_castpd_si256(_mm256_blendv_pd(_mm256_castsi256_pd(bidx), _mm256_castsi256_pd(idx), take));
        idx = _mm256_add_epi64(idx, four);
    }
    double lb[4], lg[4];
    int64_t li[4];
    _mm256_storeu_pd(lb, best);
    _mm256_storeu_pd(lg, g2);
    _mm256_storeu_si256((__m256i *)li, bidx);
    double gmax2, obj_min;
    const ptrdiff_t out = select_j_lanes_best(lb, lg, li, 4, &gmax2, &obj_min);
    return select_j_from(j, out, gmax2, obj_min, n, y, g, status, qd, q_i, qd_i, y_i, gmax, tau, gmax2_out);
}

#endif

#if MPL_X86_64
/* The AVX-512 variants: the same operations in the same order on eight lanes (masks instead of
 * blends), the same last-index tie rule within a lane and between lanes. */
#define AVX512 __attribute__((target("avx512f")))

AVX512 static inline __m512i load8_i8(const int8_t *p) {
    return _mm512_cvtepi8_epi64(_mm_loadl_epi64((const __m128i *)p));
}

/* -v where the mask is set: the sign bit flipped, as the AVX2 and scalar code negate. */
AVX512 static inline __m512d negate_where(__mmask8 m, __m512d v) {
    return _mm512_castsi512_pd(_mm512_mask_xor_epi64(_mm512_castpd_si512(v), m, _mm512_castpd_si512(v),
                                                     _mm512_set1_epi64((long long)0x8000000000000000ULL)));
}

typedef struct { __m512d best; __m512i bidx, idx; } select_i_lanes8;

AVX512 static inline void select_i_block8(select_i_lanes8 *s, __m512d g, const int8_t *y, const int8_t *status) {
    const __m512i yv = load8_i8(y), st = load8_i8(status);
    const __mmask8 ypos = _mm512_cmpeq_epi64_mask(yv, _mm512_set1_epi64(1));
    const __mmask8 atUpper = _mm512_cmpeq_epi64_mask(st, _mm512_set1_epi64(1));
    const __mmask8 atLower = _mm512_cmpeq_epi64_mask(st, _mm512_setzero_si512());
    const __mmask8 blocked = (__mmask8)((ypos & atUpper) | (~ypos & atLower));
    const __m512d v = negate_where(ypos, g);
    const __mmask8 take = _mm512_mask_cmp_pd_mask((__mmask8)~blocked, v, s->best, _CMP_GE_OQ);
    s->best = _mm512_mask_blend_pd(take, s->best, v);
    s->bidx = _mm512_mask_blend_epi64(take, s->bidx, s->idx);
    s->idx = _mm512_add_epi64(s->idx, _mm512_set1_epi64(8));
}

AVX512 static ptrdiff_t select_i_finish8(const select_i_lanes8 *s, ptrdiff_t t, ptrdiff_t n, const int8_t *y, const double *g,
                                         const int8_t *status, double *gmax_out) {
    double lb[8];
    int64_t li[8];
    _mm512_storeu_pd(lb, s->best);
    _mm512_storeu_si512((void *)li, s->bidx);
    double gmax;
    const ptrdiff_t out = select_i_lanes_best(lb, li, 8, &gmax);
    return select_i_from(t, out, gmax, n, y, g, status, gmax_out);
}

AVX512 static inline select_i_lanes8 select_i_start8(void) {
    select_i_lanes8 s = { _mm512_set1_pd(-INFINITY), _mm512_set1_epi64(-1), _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7) };
    return s;
}

AVX512 static ptrdiff_t select_i_avx512(ptrdiff_t n, const int8_t *y, const double *g, const int8_t *status, double *gmax_out) {
    select_i_lanes8 s = select_i_start8();
    ptrdiff_t t = 0;
    for (; t + 8 <= n; t += 8) select_i_block8(&s, _mm512_loadu_pd(g + t), y + t, status + t);
    return select_i_finish8(&s, t, n, y, g, status, gmax_out);
}

AVX512 static ptrdiff_t update_select_i_avx512(ptrdiff_t n, double *g, const float *q_i, const float *q_j, double da, double db,
                                               const int8_t *y, const int8_t *status, double *gmax_out) {
    const __m512d va = _mm512_set1_pd(da), vb = _mm512_set1_pd(db);
    select_i_lanes8 s = select_i_start8();
    ptrdiff_t t = 0;
    for (; t + 8 <= n; t += 8) {
        const __m512d a = _mm512_mul_pd(_mm512_cvtps_pd(_mm256_loadu_ps(q_i + t)), va);
        const __m512d b = _mm512_mul_pd(_mm512_cvtps_pd(_mm256_loadu_ps(q_j + t)), vb);
        const __m512d gn = _mm512_add_pd(_mm512_loadu_pd(g + t), _mm512_add_pd(a, b));
        _mm512_storeu_pd(g + t, gn);
        select_i_block8(&s, gn, y + t, status + t);
    }
    update_gradient_scalar(n - t, g + t, q_i + t, q_j + t, da, db);
    return select_i_finish8(&s, t, n, y, g, status, gmax_out);
}

AVX512 static ptrdiff_t select_j_avx512(ptrdiff_t n, const int8_t *y, const double *g, const int8_t *status, const double *qd,
                                        const float *q_i, double qd_i, int y_i, double gmax, double tau, double *gmax2_out) {
    const __m512i one = _mm512_set1_epi64(1), zero = _mm512_setzero_si512();
    const __m512d vgmax = _mm512_set1_pd(gmax), vqd_i = _mm512_set1_pd(qd_i);
    const __m512d twoy = _mm512_set1_pd(2.0 * y_i), vtau = _mm512_set1_pd(tau), dzero = _mm512_setzero_pd();
    __m512d g2 = _mm512_set1_pd(-INFINITY), best = _mm512_set1_pd(INFINITY);
    __m512i bidx = _mm512_set1_epi64(-1), idx = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    const __m512i eight = _mm512_set1_epi64(8);
    ptrdiff_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m512i yv = load8_i8(y + j), st = load8_i8(status + j);
        const __mmask8 ypos = _mm512_cmpeq_epi64_mask(yv, one);
        /* I_low: y = +1 and not at the lower bound, or y = -1 and not at the upper bound */
        const __mmask8 atUpper = _mm512_cmpeq_epi64_mask(st, one), atLower = _mm512_cmpeq_epi64_mask(st, zero);
        const __mmask8 elig = (__mmask8)~((ypos & atLower) | (~ypos & atUpper));
        const __m512d yg = negate_where((__mmask8)~ypos, _mm512_loadu_pd(g + j));    /* y_j g_j */
        g2 = _mm512_mask_max_pd(g2, elig, g2, yg);
        const __m512d gd = _mm512_add_pd(vgmax, yg);
        const __mmask8 cand = _mm512_mask_cmp_pd_mask(elig, gd, dzero, _CMP_GT_OQ);
        if (cand == 0) {
            idx = _mm512_add_epi64(idx, eight);
            continue;
        }
        const __m512d c = _mm512_mul_pd(twoy, _mm512_cvtps_pd(_mm256_loadu_ps(q_i + j)));
        /* y = +1: (qd_i + qd_j) - c; y = -1: (qd_i + qd_j) + c */
        const __m512d quad = _mm512_add_pd(_mm512_add_pd(vqd_i, _mm512_loadu_pd(qd + j)), negate_where(ypos, c));
        const __m512d denom = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(quad, dzero, _CMP_GT_OQ), vtau, quad);
        const __m512d obj = _mm512_div_pd(negate_where(0xFF, _mm512_mul_pd(gd, gd)), denom);
        const __mmask8 take = _mm512_mask_cmp_pd_mask(cand, obj, best, _CMP_LE_OQ);
        best = _mm512_mask_blend_pd(take, best, obj);
        bidx = _mm512_mask_blend_epi64(take, bidx, idx);
        idx = _mm512_add_epi64(idx, eight);
    }
    double lb[8], lg[8];
    int64_t li[8];
    _mm512_storeu_pd(lb, best);
    _mm512_storeu_pd(lg, g2);
    _mm512_storeu_si512((void *)li, bidx);
    double gmax2, obj_min;
    const ptrdiff_t out = select_j_lanes_best(lb, lg, li, 8, &gmax2, &obj_min);
    return select_j_from(j, out, gmax2, obj_min, n, y, g, status, qd, q_i, qd_i, y_i, gmax, tau, gmax2_out);
}
#endif

/* The gradient update fused with the next iteration's first scan (select_i over the updated
 * gradient): one pass over the active variables instead of two. */
#if MPL_X86_64
AVX2 static ptrdiff_t update_select_i_avx2(ptrdiff_t n, double *g, const float *q_i, const float *q_j, double da, double db,
                                           const int8_t *y, const int8_t *status, double *gmax_out) {
    const __m256d va = _mm256_set1_pd(da), vb = _mm256_set1_pd(db);
    select_i_lanes s = select_i_start();
    ptrdiff_t t = 0;
    for (; t + 4 <= n; t += 4) {
        const __m256d a = _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(q_i + t)), va);
        const __m256d b = _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(q_j + t)), vb);
        const __m256d gn = _mm256_add_pd(_mm256_loadu_pd(g + t), _mm256_add_pd(a, b));
        _mm256_storeu_pd(g + t, gn);
        select_i_block(&s, gn, y + t, status + t);
    }
    update_gradient_scalar(n - t, g + t, q_i + t, q_j + t, da, db);
    return select_i_finish(&s, t, n, y, g, status, gmax_out);
}
#endif

ptrdiff_t mpl_svm_update_select_i(ptrdiff_t n, double *g, const float *q_i, const float *q_j, double da, double db,
                                  const int8_t *y, const int8_t *status, double *gmax_out) {
#if MPL_X86_64
    if (mpl_kernels_active() >= MPL_KERNELS_AVX512) return update_select_i_avx512(n, g, q_i, q_j, da, db, y, status, gmax_out);
    if (mpl_kernels_active() >= MPL_KERNELS_AVX2) return update_select_i_avx2(n, g, q_i, q_j, da, db, y, status, gmax_out);
#endif
    update_gradient_scalar(n, g, q_i, q_j, da, db);
    return select_i_from(0, -1, -INFINITY, n, y, g, status, gmax_out);
}

void mpl_svm_kernel_row(int kind, ptrdiff_t n, const double *dots, const double *sq, double sq_i,
                        const int8_t *y, int y_i, double gamma, double coef0, int degree, float *out) {
#if MPL_X86_64
    if (kind == MPL_SVM_RBF && mpl_kernels_active() >= MPL_KERNELS_AVX2) {
        rbf_row_avx2(n, dots, sq, sq_i, y, y_i, gamma, out);
        return;
    }
    if ((kind == MPL_SVM_LINEAR || kind == MPL_SVM_POLY) && mpl_kernels_active() >= MPL_KERNELS_AVX2) {
        dot_row_avx2(kind, n, dots, y, y_i, gamma, coef0, degree, out);
        return;
    }
#endif
    kernel_row_scalar(kind, n, dots, sq, sq_i, y, y_i, gamma, coef0, degree, out);
}

ptrdiff_t mpl_svm_select_i(ptrdiff_t n, const int8_t *y, const double *g, const int8_t *status, double *gmax_out) {
#if MPL_X86_64
    if (mpl_kernels_active() >= MPL_KERNELS_AVX512) return select_i_avx512(n, y, g, status, gmax_out);
    if (mpl_kernels_active() >= MPL_KERNELS_AVX2) return select_i_avx2(n, y, g, status, gmax_out);
#endif
    return select_i_from(0, -1, -INFINITY, n, y, g, status, gmax_out);
}

ptrdiff_t mpl_svm_select_j(ptrdiff_t n, const int8_t *y, const double *g, const int8_t *status, const double *qd,
                           const float *q_i, double qd_i, int y_i, double gmax, double tau, double *gmax2_out) {
#if MPL_X86_64
    if (mpl_kernels_active() >= MPL_KERNELS_AVX512) return select_j_avx512(n, y, g, status, qd, q_i, qd_i, y_i, gmax, tau, gmax2_out);
    if (mpl_kernels_active() >= MPL_KERNELS_AVX2) return select_j_avx2(n, y, g, status, qd, q_i, qd_i, y_i, gmax, tau, gmax2_out);
#endif
    return select_j_from(0, -1, -INFINITY, INFINITY, n, y, g, status, qd, q_i, qd_i, y_i, gmax, tau, gmax2_out);
}


#if MPL_X86_64
/* Eight entries at a time by one gather of 32-bit positions; the signs (±1, exact) as a
 * product, as the scalar loop computes them. */
AVX2 static void gather_row32_avx2(ptrdiff_t n, const float *k, const int32_t *pos, const int8_t *y, int y_i, float *out) {
    ptrdiff_t t = 0;
    const __m256i vi = _mm256_set1_epi32(y_i);
    for (; t + 8 <= n; t += 8) {
        __m256 v = _mm256_i32gather_ps(k, _mm256_loadu_si256((const __m256i *)(pos + t)), 4);
        if (y) {
            const __m256i s = _mm256_mullo_epi32(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(y + t))), vi);
            v = _mm256_mul_ps(_mm256_cvtepi32_ps(s), v);
        }
        _mm256_storeu_ps(out + t, v);
    }
    for (; t < n; t++) out[t] = y ? (float)(y_i * y[t]) * k[pos[t]] : k[pos[t]];
}
#endif

void mpl_svm_gather_row32(ptrdiff_t n, const float *k, const int32_t *pos, const int8_t *y, int y_i, float *out) {
#if MPL_X86_64
    if (mpl_kernels_active() >= MPL_KERNELS_AVX2) {
        gather_row32_avx2(n, k, pos, y, y_i, out);
        return;
    }
#endif
    for (ptrdiff_t t = 0; t < n; t++) out[t] = y ? (float)(y_i * y[t]) * k[pos[t]] : k[pos[t]];
}
