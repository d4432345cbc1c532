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

/* out[m][j] = scale[j] * sum_c x[m][c] * wt[c][j] for R rows (R a constant where this is inlined):
   wt (K, J) int8, the weight transposed, J % 16 == 0. Every output is one chain of multiply-adds
   over c in order, whatever R is: a row gets the same bits alone or with others. */
static inline __attribute__((always_inline)) void matvec_rows(
        int R, const float *const *x, const signed char *wt, const float *scale, int J, int K, float *const *out) {
    int j0 = 0;
    for (; j0 + 64 <= J; j0 += 64) {
        v16f acc[4][4] = {{{0}}};
        for (int c = 0; c < K; c++) {
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
                   float *const *out) {
    switch (R) {
        case 4: matvec_rows(4, x, wt, scale, J, K, out); break;
        case 3: matvec_rows(3, x, wt, scale, J, K, out); break;
        case 2: matvec_rows(2, x, wt, scale, J, K, out); break;
        default: matvec_rows(1, x, wt, scale, J, K, out); break;
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
    for (int e = 0; e < E; e++) {
        int rows[64], n = 0;
        float rw[64];
        for (int r = 0; r < N; r++)
            for (int i = 0; i < k; i++)
                if (idx[r * k + i] == e) { rows[n] = r; rw[n] = wts[r * k + i]; n++; }
        for (int b = 0; b < n; b += 4) {
            int R = n - b < 4 ? n - b : 4;
            const float *xs[4];
            float *hs[4], *gs[4], *os[4];
            for (int m = 0; m < R; m++) { xs[m] = x + (long)rows[b + m] * d; hs[m] = hid[m]; gs[m] = g[m]; os[m] = o[m]; }
            matvec(R, xs, (const signed char *)w13[e], (const float *)s13[e], 2 * h, d, hs);
            for (int m = 0; m < R; m++) silu_mul(hid[m], hid[m] + h, g[m], h);
            matvec(R, (const float *const *)gs, (const signed char *)w2[e], (const float *)s2[e], d, h, os);
            for (int m = 0; m < R; m++) {
                float *yr = y + (long)rows[b + m] * d, wr = rw[b + m];
                for (int j = 0; j < d; j++) yr[j] += wr * o[m][j];
            }
        }
    }
    return 0;
}
