/* The random forest's prediction loops: binning feature values to one-byte codes, and the
 * descent of rows through a tree packed for codes (MPILearn's BinnedPackedTree).
 *
 * Binning is a branch-free binary search (a conditional move per step, so no mispredicted
 * branches); consecutive rows are independent searches the CPU overlaps.
 *
 * The descent keeps a pool of rows in flight and refills a row's slot as soon as it reaches
 * its leaf, so every step is a useful node visit. (A lockstep descent runs each group of rows
 * for the deepest leaf's depth: on the flights forest that is twice the average.) The
 * AVX-512 variant runs four pools of 16 lanes each: gathers load the lanes' nodes and codes,
 * and compress/expand retire finished rows and bring in the next ones. The scalar variant
 * (also used on AVX2 machines) runs a pool of 16 slots. Both find the same leaf for every
 * row: the result is a node index, not arithmetic. */
#include "ckernels.h"
#include "dispatch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Clang turns a select it deems predictable into a branch; this says it is not. */
#if defined(__has_builtin)
#if __has_builtin(__builtin_unpredictable)
#define MPL_UNPREDICTABLE(x) __builtin_unpredictable(x)
#endif
#endif
#ifndef MPL_UNPREDICTABLE
#define MPL_UNPREDICTABLE(x) (x)
#endif

_Static_assert(sizeof(mpl_tree_node) == 8, "mpl_tree_node must be 8 bytes");

/* ---- binning --------------------------------------------------------------------------- */

/* The number of the m >= 1 ascending edges below v. Every search of one column takes the
 * same steps (they depend on m only), so LANES rows are searched side by side: independent
 * chains of loads the CPU overlaps. */
enum { LANES = 8 };

static inline void lower_bounds(const double *edges, ptrdiff_t m, const double *v, ptrdiff_t *base, int lanes) {
    for (int j = 0; j < lanes; j++) base[j] = 0;
    ptrdiff_t n = m;
    while (n > 1) {
        const ptrdiff_t half = n >> 1;
        /* A conditional move, not a branch: which way a search goes is a coin toss. */
        for (int j = 0; j < lanes; j++) base[j] += MPL_UNPREDICTABLE(edges[base[j] + half] < v[j]) ? half : 0;
        n -= half;
    }
    for (int j = 0; j < lanes; j++) base[j] += edges[base[j]] < v[j];
}

void mpl_bin_column_f64(const double *x, ptrdiff_t rows, ptrdiff_t stride, const double *edges,
                        ptrdiff_t m, uint8_t *out, ptrdiff_t out_stride) {
    const uint8_t missing = (uint8_t)(m + 1);
    if (m == 0) {
        for (ptrdiff_t i = 0; i < rows; i++) out[i * out_stride] = isnan(x[i * stride]) ? missing : 0;
        return;
    }
    double v[LANES];
    ptrdiff_t code[LANES];
    for (ptrdiff_t i0 = 0; i0 < rows; i0 += LANES) {
        const int lanes = rows - i0 < LANES ? (int)(rows - i0) : LANES;
        for (int j = 0; j < lanes; j++) v[j] = x[(i0 + j) * stride];
        if (lanes == LANES) lower_bounds(edges, m, v, code, LANES);
        else lower_bounds(edges, m, v, code, lanes);
        for (int j = 0; j < lanes; j++) out[(i0 + j) * out_stride] = isnan(v[j]) ? missing : (uint8_t)code[j];
    }
}

/* ---- descent, scalar ------------------------------------------------------------------- */

/* Where a row at node `cur` goes next: the left child, the right one, or (at a leaf, whose
 * child is itself and whose bin is 255) the leaf again. */
static inline int32_t step(const mpl_tree_node *nodes, const uint8_t *row, int32_t cur) {
    const mpl_tree_node n = nodes[cur];
    const uint8_t c = row[n.feature];
    return n.child + (int32_t)((c > n.bin) & ((uint16_t)c != n.missing));
}

enum { POOL = 16 };

static void leaves_scalar(const mpl_tree_node *nodes, const uint8_t *codes, ptrdiff_t rows,
                          ptrdiff_t columns, int32_t *leaf) {
    ptrdiff_t slot_row[POOL];
    int32_t slot_cur[POOL];
    ptrdiff_t next = 0, left = rows;
    for (int j = 0; j < POOL; j++) { slot_row[j] = next < rows ? next++ : -1; slot_cur[j] = 0; }
    while (left > 0) {
        for (int j = 0; j < POOL; j++) {
            const ptrdiff_t r = slot_row[j];
            if (r < 0) continue;
            const int32_t cur = slot_cur[j], nxt = step(nodes, codes + r * columns, cur);
            if (nxt != cur) { slot_cur[j] = nxt; continue; }
            leaf[r] = cur;
            left--;
            slot_row[j] = next < rows ? next++ : -1;
            slot_cur[j] = 0;
        }
    }
}

/* ---- descent, AVX-512 ------------------------------------------------------------------ */

#if MPL_X86_64
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512vl,popcnt")))

/* One pool of 16 lanes: each lane's row, that row's offset in `codes`, and its node; the
 * pool's own rows run from `next` to `end`, and its finished (row, leaf) pairs go to
 * pair_row/pair_leaf. Pools share nothing, so their steps are independent chains the CPU
 * overlaps (the gathers' latency, not their throughput, bounds one pool). */
typedef struct {
    __m512i row, offset, cur;
    __mmask16 live;
    int32_t next, end;
    int32_t *pair_row, *pair_leaf;
} pool16;

/* The lanes in `take` get the pool's next rows (in lane order). */
AVX512 static inline void refill(pool16 *p, __mmask16 take, int32_t columns) {
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i fresh = _mm512_add_epi32(_mm512_set1_epi32(p->next), iota);
    p->row = _mm512_mask_expand_epi32(p->row, take, fresh);
    p->offset = _mm512_mask_expand_epi32(p->offset, take, _mm512_mullo_epi32(fresh, _mm512_set1_epi32(columns)));
    p->cur = _mm512_mask_mov_epi32(p->cur, take, _mm512_setzero_si512());
    p->next += (int32_t)__builtin_popcount(take);
    p->live = _mm512_cmplt_epi32_mask(p->row, _mm512_set1_epi32(p->end));
}

/* One step of every live lane, without a data-dependent branch (a mispredicted one would
 * throw away the other pools' gathers in flight): finished lanes append (row, leaf) to the
 * pairs (a store of a compressed vector; nothing when none finished) and take new rows. */
AVX512 static inline void advance(pool16 *p, const mpl_tree_node *nodes, const uint8_t *codes, int32_t columns) {
    const __mmask16 live = p->live;
    const __m512i zero = _mm512_setzero_si512(), byte = _mm512_set1_epi32(0xFF);
    /* Each lane's whole 8-byte node (two gathers of 8 lanes: a gather costs a load per lane,
     * and this loads each node once), then the child and meta halves split into 16 lanes. */
    const __m512i lo = _mm512_mask_i32gather_epi64(zero, (__mmask8)live, _mm512_castsi512_si256(p->cur), (const void *)nodes, 8);
    const __m512i hi = _mm512_mask_i32gather_epi64(zero, (__mmask8)(live >> 8), _mm512_extracti64x4_epi64(p->cur, 1), (const void *)nodes, 8);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512i child = _mm512_permutex2var_epi32(lo, even, hi);
    const __m512i meta = _mm512_permutex2var_epi32(lo, odd, hi);
    const __m512i feature = _mm512_and_si512(meta, byte);
    const __m512i bin = _mm512_and_si512(_mm512_srli_epi32(meta, 8), byte);
    const __m512i missing = _mm512_srli_epi32(meta, 16);
    const __m512i code = _mm512_and_si512(
        _mm512_mask_i32gather_epi32(zero, live, _mm512_add_epi32(p->offset, feature), (const void *)codes, 1), byte);
    const __mmask16 right = _mm512_cmpgt_epu32_mask(code, bin) & _mm512_cmpneq_epi32_mask(code, missing);
    const __m512i nxt = _mm512_mask_add_epi32(child, right, child, _mm512_set1_epi32(1));
    const __mmask16 done = _mm512_mask_cmpeq_epi32_mask(live, nxt, p->cur);
    _mm512_storeu_si512(p->pair_row, _mm512_maskz_compress_epi32(done, p->row));
    _mm512_storeu_si512(p->pair_leaf, _mm512_maskz_compress_epi32(done, nxt));
    const int n = __builtin_popcount(done);
    p->pair_row += n;
    p->pair_leaf += n;
    p->cur = nxt;
    refill(p, done, columns);
}

enum { POOLS = 4 };

AVX512 static void leaves_avx512(const mpl_tree_node *nodes, const uint8_t *codes, ptrdiff_t rows,
                                 ptrdiff_t columns, int32_t *leaf, int32_t *scratch) {
    /* Pool s takes rows [start(s), start(s+1)) and its pairs start at scratch offsets
     * start(s) + 16 s (row) and rows + 16 POOLS + start(s) + 16 s (leaf): 16 spare entries
     * each for the full-vector stores. */
    const int32_t cols = (int32_t)columns;
    int32_t *const pair_leaf0 = scratch + rows + 16 * POOLS;
    pool16 p[POOLS];
    for (int s = 0; s < POOLS; s++) {
        const int32_t start = (int32_t)(rows * s / POOLS), end = (int32_t)(rows * (s + 1) / POOLS);
        p[s].row = p[s].offset = p[s].cur = _mm512_setzero_si512();
        p[s].next = start;
        p[s].end = end;
        p[s].pair_row = scratch + start + 16 * s;
        p[s].pair_leaf = pair_leaf0 + start + 16 * s;
        refill(&p[s], 0xFFFF, cols);
    }
    for (;;) {
        __mmask16 live = 0;
        for (int s = 0; s < POOLS; s++) live |= p[s].live;
        if (!live) break;
        for (int s = 0; s < POOLS; s++) advance(&p[s], nodes, codes, cols);
    }
    for (int s = 0; s < POOLS; s++) {
        const int32_t start = (int32_t)(rows * s / POOLS);
        const int32_t *r = scratch + start + 16 * s, *l = pair_leaf0 + start + 16 * s;
        for (const int32_t *e = p[s].pair_row; r < e; r++, l++) leaf[*r] = *l;
    }
}
#endif /* MPL_X86_64 */

/* ---- dispatch -------------------------------------------------------------------------- */

void mpl_tree_leaves(const mpl_tree_node *nodes, const uint8_t *codes, ptrdiff_t rows, ptrdiff_t columns,
                     int32_t *leaf, int32_t *scratch) {
    if (rows <= 0) return;
#if MPL_X86_64
    /* The gathers index codes with 32-bit offsets. */
    if (mpl_kernels_active() == MPL_KERNELS_AVX512 && rows * columns + 64 < INT32_MAX) {
        leaves_avx512(nodes, codes, rows, columns, leaf, scratch);
        return;
    }
#endif
    (void)scratch;
    leaves_scalar(nodes, codes, rows, columns, leaf);
}

/* LSD radix sort of doubles (no NaN) by their bits mapped to unsigned order: flip every bit
 * of a negative number, only the sign bit of a non-negative one. Eight byte passes over a
 * scratch buffer; a pass whose byte is the same in every value is skipped (common for
 * columns with few distinct values). The result is the ascending order of a comparison
 * sort (−0 before +0, which compare equal). */
static inline uint64_t mpl_sort_key(double v) {
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return (b >> 63) ? ~b : (b | 0x8000000000000000ULL);
}

static inline double mpl_sort_value(uint64_t k) {
    uint64_t b = (k >> 63) ? (k & 0x7FFFFFFFFFFFFFFFULL) : ~k;
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

void mpl_sort_f64(double *values, ptrdiff_t n, uint64_t *scratch) {
    if (n < 2) return;
    uint64_t *a = (uint64_t *)values, *b = scratch;
    for (ptrdiff_t i = 0; i < n; i++) a[i] = mpl_sort_key(values[i]);
    for (int pass = 0; pass < 8; pass++) {
        const int shift = pass * 8;
        ptrdiff_t count[256] = {0};
        for (ptrdiff_t i = 0; i < n; i++) count[(a[i] >> shift) & 0xFF]++;
        if (count[(a[0] >> shift) & 0xFF] == n) continue;   /* every value has this byte */
        ptrdiff_t at = 0;
        for (int c = 0; c < 256; c++) { ptrdiff_t t = count[c]; count[c] = at; at += t; }
        for (ptrdiff_t i = 0; i < n; i++) b[count[(a[i] >> shift) & 0xFF]++] = a[i];
        uint64_t *t = a; a = b; b = t;
    }
    if (a != (uint64_t *)values) memcpy(values, a, (size_t)n * sizeof(uint64_t));
    for (ptrdiff_t i = 0; i < n; i++) values[i] = mpl_sort_value(((uint64_t *)values)[i]);
}

/* Transposes a rows x cols row-major matrix in place into its cols x rows transpose, by
 * following the permutation's cycles (element k moves to k * rows mod (rows*cols - 1)),
 * with one bit per element to mark the moved ones. No second copy of the matrix. */
int mpl_transpose_inplace_f64(double *a, ptrdiff_t rows, ptrdiff_t cols) {
    const ptrdiff_t n = rows * cols;
    if (rows <= 1 || cols <= 1) return 0;
    uint64_t *done = calloc((size_t)(n + 63) / 64, sizeof(uint64_t));
    if (!done) return -1;
    const ptrdiff_t m = n - 1;
    for (ptrdiff_t start = 1; start < m; start++) {
        if (done[start >> 6] >> (start & 63) & 1) continue;
        ptrdiff_t k = start;
        double carried = a[k];
        do {
            /* The element at k goes to k * rows mod m. */
            ptrdiff_t next = (ptrdiff_t)(((__int128)k * rows) % m);
            double t = a[next];
            a[next] = carried;
            carried = t;
            done[k >> 6] |= (uint64_t)1 << (k & 63);
            k = next;
        } while (k != start);
    }
    free(done);
    return 0;
}

/* ---- the global forest's histograms ---------------------------------------------------- */

/* Histograms of nf features over a node's rows of the global forest's working set (row-major
 * codes, `stride` bytes a row), for row i and feature j into bin hists[j] + code * S:
 *  - classification (`label` given, S = classes + 1): [+1, +weight[i] at 1 + label[i]];
 *  - regression (`q` given, S = 4): [+1, +w, +w q, +w q^2] with q[i] the row's target in
 *    fixed point.
 * Statistics are integers, so sums over any split of the rows (threads, ranks) are exact and
 * the same in any order. Each row is read once for all the features. */
void mpl_forest_hist(const uint8_t *codes, ptrdiff_t stride, ptrdiff_t rows, const int32_t *weight,
                     const int32_t *label, const int64_t *q, int32_t S, const int32_t *features, int32_t nf,
                     int64_t *const *hists) {
    if (label) {
        if (nf == 1) {
            const uint8_t *col = codes + features[0];
            int64_t *h = hists[0];
            for (ptrdiff_t i = 0; i < rows; i++) {
                int64_t *b = h + (ptrdiff_t)col[i * stride] * S;
                b[0] += 1;
                b[1 + label[i]] += weight[i];
            }
            return;
        }
        for (ptrdiff_t i = 0; i < rows; i++) {
            const uint8_t *row = codes + i * stride;
            const int64_t w = weight[i];
            const int32_t y = 1 + label[i];
            for (int32_t j = 0; j < nf; j++) {
                int64_t *b = hists[j] + (ptrdiff_t)row[features[j]] * S;
                b[0] += 1;
                b[y] += w;
            }
        }
        return;
    }
    for (ptrdiff_t i = 0; i < rows; i++) {
        const uint8_t *row = codes + i * stride;
        const int64_t w = weight[i], wq = w * q[i], wqq = wq * q[i];
        for (int32_t j = 0; j < nf; j++) {
            int64_t *b = hists[j] + (ptrdiff_t)row[features[j]] * 4;
            b[0] += 1;
            b[1] += w;
            b[2] += wq;
            b[3] += wqq;
        }
    }
}

/* One feature's histogram (as mpl_forest_hist) over a node of few rows (`col` is the
 * feature's first code, `stride` bytes apart), appending each code the node touches for the
 * first time to touched[0 .. *count). */
void mpl_forest_hist_touched(const uint8_t *col, ptrdiff_t stride, ptrdiff_t rows, const int32_t *weight,
                             const int32_t *label, const int64_t *q, int32_t S, int64_t *hist, int32_t *touched,
                             ptrdiff_t *count) {
    ptrdiff_t n = 0;
    for (ptrdiff_t i = 0; i < rows; i++) {
        const int32_t c = col[i * stride];
        int64_t *b = hist + (ptrdiff_t)c * S;
        if (b[0] == 0) touched[n++] = c;
        b[0] += 1;
        if (label) {
            b[1 + label[i]] += weight[i];
        } else {
            const int64_t w = weight[i], wq = w * q[i];
            b[1] += w;
            b[2] += wq;
            b[3] += wq * q[i];
        }
    }
    *count = n;
}
