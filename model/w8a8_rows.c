/* The elementwise work around int8 GEMMs of many rows (a prefill), each as one pass instead of
   5-7 ATen ops: W8A8 (`model.quantize.Int8Linear`, `torch._int_mm` in between) quantizes each
   row of its input to int8 with its own scale and scales the int32 products back; the routed
   experts of many tokens (model/w8a8.py) also run the SwiGLU between their two GEMMs and the
   weighted sum into each token's output here. Same arithmetic, in the same order, as the ATen
   ops they replace: per row s = max(max|x|, 1e-12) / 127, q = clamp(rint(x / s), -127, 127);
   y = (float(acc) * s_row) * s_col. Compiled at first use by model/native.py. */
#include <math.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include "native_math.h"

/* x (M, K) float rows `ldx` apart -> q (M, K) int8 (contiguous), s (M,) */
static void quant_row(const float *restrict r, long K, signed char *restrict q, float *restrict s) {
    float amax = 0.0f;
    long k0 = 0;
#ifdef __AVX512F__
    __m512 vmax = _mm512_setzero_ps();
    for (; k0 + 16 <= K; k0 += 16) vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_loadu_ps(r + k0)));
    amax = _mm512_reduce_max_ps(vmax);
#endif
    for (long k = k0; k < K; k++) {
        float a = fabsf(r[k]);
        amax = a > amax ? a : amax;
    }
    float sc = (amax > 1e-12f ? amax : 1e-12f) / 127.0f;
    *s = sc;
    k0 = 0;
#ifdef __AVX512F__
    const __m512 vs = _mm512_set1_ps(sc), lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
    for (; k0 + 16 <= K; k0 += 16) {
        __m512 v = _mm512_roundscale_ps(_mm512_div_ps(_mm512_loadu_ps(r + k0), vs),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
        _mm_storeu_si128((__m128i *)(q + k0), _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(v)));
    }
#endif
    for (long k = k0; k < K; k++) {
        float v = __builtin_rintf(r[k] / sc);
        v = v < -127.0f ? -127.0f : (v > 127.0f ? 127.0f : v);
        q[k] = (signed char)v;
    }
}

int quant_rows(long M, long K, const float *x, long ldx, signed char *q, float *s) {
    for (long m = 0; m < M; m++) quant_row(x + m * ldx, K, q + m * K, s + m);
    return 0;
}

/* acc (M, N) int32 -> out (M, N) float32 = (float(acc) * sx[m]) * sw[n]; out may be acc itself */
int dequant_rows(long M, long N, const int *acc, const float *sx, const float *sw, float *out) {
    for (long m = 0; m < M; m++) {
        const int *a = acc + m * N;
        float *o = out + m * N, s = sx[m];
        for (long n = 0; n < N; n++) o[n] = ((float)a[n] * s) * sw[n];
    }
    return 0;
}

/* The experts' middle: rows [bounds[e], bounds[e+1]) of acc (R, 2h) int32 are expert e's W1|W3
   products (scales sw13[e], 2h floats); a, b = its halves scaled back, g = silu(a) * b quantized
   per row -> gq (R, h) int8, sg (R,). tmp: h floats of work space. */
int swiglu_quant(long n_exp, const long *bounds, long h, const int *acc, const float *sx,
                 const long *sw13, signed char *gq, float *sg, float *tmp) {
    for (long e = 0; e < n_exp; e++) {
        const float *sw = (const float *)sw13[e];
        for (long r = bounds[e]; r < bounds[e + 1]; r++) {
            const int *a = acc + r * 2 * h, *b = a + h;
            float s = sx[r];
            for (long j = 0; j < h; j++) {
                float av = ((float)a[j] * s) * sw[j], bv = ((float)b[j] * s) * sw[h + j];
                tmp[j] = av / (1.0f + exp_clamped(-av)) * bv;
            }
            quant_row(tmp, h, gq + r * h, sg + r);
        }
    }
    return 0;
}

/* The experts' end: rows [bounds[e], bounds[e+1]) of acc (R, d) int32 are expert e's W2 products
   (scales sw2[e], d floats); out[tokens[r]] += ((float(acc[r]) * sg[r]) * sw2) * w[r], rows in
   order (each token's experts summed in ascending expert order, as index_add does). */
int scatter_rows(long n_exp, const long *bounds, long d, const int *acc, const float *sg,
                 const long *sw2, const float *w, const long *tokens, float *out) {
    for (long e = 0; e < n_exp; e++) {
        const float *sw = (const float *)sw2[e];
        for (long r = bounds[e]; r < bounds[e + 1]; r++) {
            const int *a = acc + r * d;
            float *o = out + tokens[r] * d, s = sg[r], wr = w[r];
            for (long c = 0; c < d; c++) o[c] += (((float)a[c] * s) * sw[c]) * wr;
        }
    }
    return 0;
}

/* W8A8 of a few rows (a decode step: M <= 16) in one call, the int8 products summed by AVX-512
   VNNI (vpdpbusd: unsigned x signed bytes, 4 products into each int32 lane): xq (M, K) int8 rows
   (`quant_rows`), made unsigned as xq + 128, times wv, the weight (N, K) laid out (K/4, N, 4):
   for 4 inputs in a row, each output's 4 weights side by side; csum[n] = 128 * sum_k w[n][k]
   takes the +128 back out, so every int32 sum is exactly x_q . w[n] (what torch._int_mm gives).
   Then out = (float(acc) * sx[m]) * sw[n], as `dequant_rows`. Up to 4 rows share each weight
   load; 64 outputs at a time. Returns 0, or -1 where it does not apply (no VNNI in this build,
   K % 4, N % 64, M > 16): nothing written. */
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
static inline __attribute__((always_inline)) void vnni_block(
        int R, const unsigned *xg, long G, const signed char *wv, long N, long n0, const int *csum,
        const float *sx, const float *sw, float *out) {
    __m512i acc[4][4];
    for (int r = 0; r < R; r++)
        for (int j = 0; j < 4; j++) acc[r][j] = _mm512_setzero_si512();
    for (long g = 0; g < G; g++) {
        const signed char *wp = wv + (g * N + n0) * 4;
        __m512i w0 = _mm512_loadu_si512(wp), w1 = _mm512_loadu_si512(wp + 64),
                w2 = _mm512_loadu_si512(wp + 128), w3 = _mm512_loadu_si512(wp + 192);
        for (int r = 0; r < R; r++) {
            __m512i xb = _mm512_set1_epi32((int)xg[r * G + g]);
            acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], xb, w0);
            acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], xb, w1);
            acc[r][2] = _mm512_dpbusd_epi32(acc[r][2], xb, w2);
            acc[r][3] = _mm512_dpbusd_epi32(acc[r][3], xb, w3);
        }
    }
    for (int r = 0; r < R; r++) {
        __m512 s = _mm512_set1_ps(sx[r]);
        for (int j = 0; j < 4; j++) {
            long n = n0 + 16 * j;
            __m512i a = _mm512_sub_epi32(acc[r][j], _mm512_loadu_si512(csum + n));
            __m512 y = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(a), s), _mm512_loadu_ps(sw + n));
            _mm512_storeu_ps(out + r * N + n, y);
        }
    }
}
#endif

int mm_rows_vnni(long M, long K, long N, const signed char *xq, const signed char *wv, const int *csum,
                 const float *sx, const float *sw, float *out) {
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
    if (K % 4 || N % 64 || M > 16 || M < 1) return -1;
    long G = K / 4;
    unsigned xg[16 * G];                              /* each row's inputs + 128, 4 bytes a group */
    for (long m = 0; m < M; m++)
        for (long g = 0; g < G; g++) {
            unsigned v = 0;
            for (int b = 0; b < 4; b++) v |= (unsigned)(unsigned char)(xq[m * K + 4 * g + b] + 128) << (8 * b);
            xg[m * G + g] = v;
        }
    for (long n0 = 0; n0 < N; n0 += 64)
        for (long m0 = 0; m0 < M; m0 += 4) {
            const unsigned *x = xg + m0 * G;
            float *o = out + m0 * N;
            switch (M - m0 < 4 ? M - m0 : 4) {
                case 4: vnni_block(4, x, G, wv, N, n0, csum, sx + m0, sw, o); break;
                case 3: vnni_block(3, x, G, wv, N, n0, csum, sx + m0, sw, o); break;
                case 2: vnni_block(2, x, G, wv, N, n0, csum, sx + m0, sw, o); break;
                default: vnni_block(1, x, G, wv, N, n0, csum, sx + m0, sw, o); break;
            }
        }
    return 0;
#else
    (void)M; (void)K; (void)N; (void)xq; (void)wv; (void)csum; (void)sx; (void)sw; (void)out;
    return -1;
#endif
}
