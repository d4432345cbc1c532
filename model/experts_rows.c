/* Routed experts of a few rows (a decode step) in one call: model.experts.dispatch for int8
   experts (`Expert.packed`). For each expert, in ascending id, the rows routed to it (at most 4 at
   a time share each weight load; the weights transposed: outputs along the vector lanes), y[row] += w * W2 (silu(W1 x) * W3 x) with the int8 weights
   scaled per output channel, all in float32. A row's arithmetic never depends on which other
   rows share the call, so a batch gives each row exactly what it gets alone. Compiled at first
   use by model/native.py. */
#include <string.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

typedef float v16f __attribute__((vector_size(64)));

static inline v16f load_w(const signed char *p) {    /* 16 int8 weights as floats */
#ifdef __AVX512F__
    return (v16f)_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p)));
#else
    v16f v;
    for (int i = 0; i < 16; i++) v[i] = (float)p[i];
    return v;
#endif
}

static inline v16f load_x(const float *p) {
    v16f v;
    memcpy(&v, p, 64);
    return v;
}

#include "native_math.h"

/* Where the next expert's weights are fetched from while this one's are read: one cache line
   per step of the inner loop (`matvec_rows`), so the next expert's weights reach L2 before they
   are read instead of streaming from memory after this one's are done. */
typedef struct { const char *p, *end, *p2, *end2; } prefetch_cursor;

static inline void prefetch_next(prefetch_cursor *pf) {
    if (pf->p < pf->end) { __builtin_prefetch(pf->p, 0, 2); pf->p += 64; }
    else if (pf->p2 < pf->end2) { __builtin_prefetch(pf->p2, 0, 2); pf->p2 += 64; }
}

/* out[m][j] = scale[j] * sum_c x[m][c] * wt[c][j] for R rows (R a constant where this is inlined):
   wt (K, J) int8, the weight transposed, J % 16 == 0. Every output is one chain of multiply-adds
   over c in order, whatever R is: a row gets the same bits alone or with others. */
static inline __attribute__((always_inline)) void matvec_rows(
        int R, const float *const *x, const signed char *wt, const float *scale, int J, int K, float *const *out,
        prefetch_cursor *pf) {
    int j0 = 0;
    for (; j0 + 64 <= J; j0 += 64) {
        v16f acc[4][4] = {{{0}}};
        for (int c = 0; c < K; c++) {
            if (pf) prefetch_next(pf);
            const signed char *wr = wt + (long)c * J + j0;
            v16f w0 = load_w(wr), w1 = load_w(wr + 16), w2 = load_w(wr + 32), w3 = load_w(wr + 48);
            for (int m = 0; m < R; m++) {
                float xv = x[m][c];
                acc[m][0] += xv * w0; acc[m][1] += xv * w1; acc[m][2] += xv * w2; acc[m][3] += xv * w3;
            }
        }
        for (int m = 0; m < R; m++)
            for (int q = 0; q < 4; q++) {
                v16f r = acc[m][q] * load_x(scale + j0 + 16 * q);
                memcpy(out[m] + j0 + 16 * q, &r, 64);
            }
    }
    for (; j0 < J; j0 += 16) {
        v16f acc[4] = {{0}};
        for (int c = 0; c < K; c++) {
            v16f w0 = load_w(wt + (long)c * J + j0);
            for (int m = 0; m < R; m++) acc[m] += x[m][c] * w0;
        }
        for (int m = 0; m < R; m++) {
            v16f r = acc[m] * load_x(scale + j0);
            memcpy(out[m] + j0, &r, 64);
        }
    }
}

static void matvec(int R, const float *const *x, const signed char *wt, const float *scale, int J, int K,
                   float *const *out, prefetch_cursor *pf) {
    switch (R) {
        case 4: matvec_rows(4, x, wt, scale, J, K, out, pf); break;
        case 3: matvec_rows(3, x, wt, scale, J, K, out, pf); break;
        case 2: matvec_rows(2, x, wt, scale, J, K, out, pf); break;
        default: matvec_rows(1, x, wt, scale, J, K, out, pf); break;
    }
}

static void silu_mul(const float *restrict a, const float *restrict b, float *restrict out, int n) {
    for (int j = 0; j < n; j++) out[j] = a[j] / (1.0f + exp_clamped(-a[j])) * b[j];
}

/* x (N, d), idx / wts (N, k): each row's experts and weights; w13[e] (d, 2h) int8 (W1 | W3,
   transposed), s13[e] (2h) float, w2[e] (h, d) int8 (W2 transposed), s2[e] (d) float for every
   routed e (others unread).
   y (N, d) is overwritten. Returns 0, or -1 where d or h is not a multiple of 16 or N > 64. */
int experts_rows(int N, int d, int h, int k, int E, const float *x, const long *idx, const float *wts,
                 const long *w13, const long *s13, const long *w2, const long *s2, float *y) {
    if (d % 16 || h % 16 || N > 64) return -1;
    memset(y, 0, sizeof(float) * N * d);
    float hid[4][2 * h], g[4][h], o[4][d];
    int next[E + 1];                                 /* the next routed expert after e (E: none) */
    next[E] = E;
    for (int e = E - 1; e >= 0; e--) {
        int used = 0;
        for (int i = 0; i < N * k && !used; i++) used = idx[i] == e + 1;
        next[e] = e + 1 < E && used ? e + 1 : next[e + 1];
    }
    for (int e = 0; e < E; e++) {
        int rows[64], n = 0;
        float rw[64];
        for (int r = 0; r < N; r++)
            for (int i = 0; i < k; i++)
                if (idx[r * k + i] == e) { rows[n] = r; rw[n] = wts[r * k + i]; n++; }
        prefetch_cursor cur = {0, 0, 0, 0}, *pf = 0;
        if (n && next[e] < E) {                      /* the next routed expert's weights on their way */
            int f = next[e];
            cur.p = (const char *)w13[f]; cur.end = cur.p + (long)d * 2 * h;
            cur.p2 = (const char *)w2[f]; cur.end2 = cur.p2 + (long)h * d;
            pf = &cur;
        }
        for (int b = 0; b < n; b += 4) {
            int R = n - b < 4 ? n - b : 4;
            const float *xs[4];
            float *hs[4], *gs[4], *os[4];
            for (int m = 0; m < R; m++) { xs[m] = x + (long)rows[b + m] * d; hs[m] = hid[m]; gs[m] = g[m]; os[m] = o[m]; }
            matvec(R, xs, (const signed char *)w13[e], (const float *)s13[e], 2 * h, d, hs, b ? 0 : pf);
            for (int m = 0; m < R; m++) silu_mul(hid[m], hid[m] + h, g[m], h);
            matvec(R, (const float *const *)gs, (const signed char *)w2[e], (const float *)s2[e], d, h, os, b ? 0 : pf);
            for (int m = 0; m < R; m++) {
                float *yr = y + (long)rows[b + m] * d, wr = rw[b + m];
                for (int j = 0; j < d; j++) yr[j] += wr * o[m][j];
            }
        }
    }
    return 0;
}
