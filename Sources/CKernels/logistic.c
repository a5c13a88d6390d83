/* The logistic regression objective over CSR rows in one pass (MPILearn/Linear/
 * LogisticRegression.swift): for each row its logits, its loss, its residuals and their
 * contribution to the gradient, while the row's entries are still in cache. The rows are
 * visited in order and every sum runs in a fixed order (a row's logit over its entries in
 * two interleaved partial sums, to halve the dependent-add chain), so the result depends on
 * the rows alone. Plain C for the same reason as sparse.c: gathers and scatters over a few
 * entries a row. */
#include <math.h>
#include "ckernels.h"

double mpl_logistic_csr_binary_f64(const int64_t *indptr, const int32_t *indices, const double *data,
                                   ptrdiff_t row0, ptrdiff_t row1, const double *w, double intercept,
                                   const int32_t *codes, const double *class_weights, double scale,
                                   int distinct, double *g, double *g_intercept) {
    double loss = 0, gb = 0;
    for (ptrdiff_t i = row0; i < row1; i++) {
        const int64_t end = indptr[i + 1];
        double v0 = 0, v1 = 0;
        int64_t p = indptr[i];
        for (; p + 1 < end; p += 2) {
            v0 += data[p] * w[indices[p]];
            v1 += data[p + 1] * w[indices[p + 1]];
        }
        if (p < end) v0 += data[p] * w[indices[p]];
        const double v = (v0 + v1) + intercept;
        const double y = codes[i] == 1 ? 1.0 : 0.0, s = class_weights[codes[i]];
        /* log(1 + e^v) - y v, stably, and the probability, from one e^-|v| */
        const double e = exp(-fabs(v));
        loss += s * (fmax(v, 0.0) + log1p(e) - y * v);
        const double prob = v >= 0 ? 1 / (1 + e) : e / (1 + e);
        const double r = s * scale * (prob - y);
        p = indptr[i];
        if (distinct) {
            /* Four entries at a time, every load before any store: a row's columns are
             * distinct, so no store can alias a later load of the group, and the processor
             * need not order them (the one-at-a-time loop runs about twice as long). */
            for (; p + 4 <= end; p += 4) {
                const int32_t a = indices[p], b = indices[p + 1], c = indices[p + 2], d = indices[p + 3];
                const double ga = g[a] + data[p] * r, gb_ = g[b] + data[p + 1] * r;
                const double gc = g[c] + data[p + 2] * r, gd = g[d] + data[p + 3] * r;
                g[a] = ga; g[b] = gb_; g[c] = gc; g[d] = gd;
            }
        }
        for (; p < end; p++) g[indices[p]] += data[p] * r;
        gb += r;
    }
    if (g_intercept) *g_intercept += gb;
    return loss;
}

double mpl_logistic_csr_multinomial_f64(const int64_t *indptr, const int32_t *indices, const double *data,
                                        ptrdiff_t row0, ptrdiff_t row1, const double *w, const double *intercept,
                                        ptrdiff_t k, const int32_t *codes, const double *class_weights,
                                        double scale, double *g, double *g_intercept, double *scratch) {
    double loss = 0;
    double *restrict o = scratch;   /* the row's logits, then its residuals */
    for (ptrdiff_t i = row0; i < row1; i++) {
        for (ptrdiff_t c = 0; c < k; c++) o[c] = intercept ? intercept[c] : 0;
        for (int64_t p = indptr[i]; p < indptr[i + 1]; p++) {
            const double v = data[p];
            const double *restrict wr = w + (ptrdiff_t)indices[p] * k;
            for (ptrdiff_t c = 0; c < k; c++) o[c] += v * wr[c];
        }
        double m = -INFINITY;
        for (ptrdiff_t c = 0; c < k; c++) m = fmax(m, o[c]);
        const int32_t y = codes[i];
        const double zy = o[y];
        /* softmax from one exp per class: e_c = exp(z_c - max), p_c = e_c / sum */
        double sum = 0;
        for (ptrdiff_t c = 0; c < k; c++) {
            o[c] = exp(o[c] - m);
            sum += o[c];
        }
        const double s = class_weights[y];
        loss += s * (m + log(sum) - zy);
        const double a = s * scale / sum;
        for (ptrdiff_t c = 0; c < k; c++) o[c] *= a;
        o[y] -= s * scale;
        for (int64_t p = indptr[i]; p < indptr[i + 1]; p++) {
            const double v = data[p];
            double *restrict gr = g + (ptrdiff_t)indices[p] * k;
            for (ptrdiff_t c = 0; c < k; c++) gr[c] += v * o[c];
        }
        if (g_intercept)
            for (ptrdiff_t c = 0; c < k; c++) g_intercept[c] += o[c];
    }
    return loss;
}
