/* One decode query of block-sparse attention (model.attention.SparseAttention._decode_blocks_one)
   in one call: pick key blocks by their pooled indexer keys, score the candidates, gate them, and
   attend to the kept keys, reading the cached rows in place (no gathered copies, no intermediate
   tensors). Float32 (the cached keys and values float32 or bfloat16), one row, no padding.
   Compiled at first use by model/native.py. */
#include <math.h>
#include <float.h>
#include <string.h>

#include "native_math.h"

/* 16 float32 lanes (GCC / Clang vector extensions: AVX-512 registers with -march=native on these
   cores, split into narrower ones elsewhere) */
typedef float v16f __attribute__((vector_size(64)));
typedef unsigned int v16u __attribute__((vector_size(64)));
typedef unsigned short v16h __attribute__((vector_size(32)));

/* n <= 16 floats at p as a vector, the lanes past n zero (their products add exact zeros) */
static inline v16f load16(const float *p, int n) {
    v16f v = {0};
    memcpy(&v, p, n >= 16 ? 64 : 4 * (long)n);
    return v;
}

/* bfloat16 (the upper half of a float32's bits) to float32: n <= 16 of them at p */
static inline v16f load16_bf16(const unsigned short *p, int n) {
    v16h h = {0};
    memcpy(&h, p, n >= 16 ? 32 : 2 * (long)n);
    return (v16f)(__builtin_convertvector(h, v16u) << 16);
}

/* the lane sums of a, b, c, d (one shuffle tree for the four) */
static inline void hsum4(v16f a, v16f b, v16f c, v16f d, float *out) {
    v16f ab = __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23)
            + __builtin_shufflevector(a, b, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    v16f cd = __builtin_shufflevector(c, d, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23)
            + __builtin_shufflevector(c, d, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    v16f x = __builtin_shufflevector(ab, cd, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27)
           + __builtin_shufflevector(ab, cd, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
    x += __builtin_shufflevector(x, x, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    x += __builtin_shufflevector(x, x, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
    out[0] = x[0]; out[1] = x[4]; out[2] = x[8]; out[3] = x[12];
}

#define MAX_CHUNKS 64                     /* heads x 16-float chunks of a query held in vectors */

/* The indexer query (Hi heads of Di) as vectors: Hi * ceil(Di / 16) of them, zero past Di. */
static inline void index_query(const float *iq, int Hi, int Di, v16f *qv) {
    int C = (Di + 15) / 16;
    for (int h = 0; h < Hi; h++)
        for (int c = 0; c < C; c++) qv[h * C + c] = load16(iq + h * Di + 16 * c, Di - 16 * c);
}

/* sum over heads h of iw[h] * leaky_relu(iq[h] . key) (slope 0.01; max(d, 0.01 d) is that, without
   a branch), the heads' dot products four at a time */
static inline __attribute__((always_inline)) float index_score(const v16f *qv, const float *iw,
                                                                const float *key, int Hi, int Di) {
    int C = (Di + 15) / 16;
    v16f kv[C];
    for (int c = 0; c < C; c++) kv[c] = load16(key + 16 * c, Di - 16 * c);
    float s = 0.0f;
    for (int h0 = 0; h0 < Hi; h0 += 4) {
        v16f acc[4] = {{0}, {0}, {0}, {0}};
        for (int j = 0; j < 4 && h0 + j < Hi; j++)
            for (int c = 0; c < C; c++) acc[j] += qv[(h0 + j) * C + c] * kv[c];
        float d[4];
        hsum4(acc[0], acc[1], acc[2], acc[3], d);
        for (int j = 0; j < 4 && h0 + j < Hi; j++) s += iw[h0 + j] * fmaxf(d[j], 0.01f * d[j]);
    }
    return s;
}

/* the cache lines of n floats at p on their way to the cache */
static inline void prefetch_row(const float *p, int n) {
    for (int j = 0; j < n; j += 16) __builtin_prefetch(p + j, 0, 3);
}

/* scores[i] = `index_score` of the cached index key of slot cand[i], i < K; returns the best
   (Hi and Di constants where this is inlined) */
static inline __attribute__((always_inline)) float score_keys(
        const v16f *qv, const float *iw, const float *ik, long ik_stride, const long *cand, long K,
        int Hi, int Di, float *scores) {
    float best = -INFINITY;
    for (long i = 0; i < K; i++) {
        if (i + 8 < K) prefetch_row(ik + cand[i + 8] * ik_stride, Di);
        scores[i] = index_score(qv, iw, ik + cand[i] * ik_stride, Hi, Di);
        if (scores[i] > best) best = scores[i];
    }
    return best;
}

/* float32 to bfloat16 rounded to nearest even (a NaN stays a quiet NaN), as torch converts */
static inline unsigned short f32_bf16(float f) {
    union { float f; unsigned u; } c = { .f = f };
    if ((c.u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((c.u >> 16) | 0x40);
    return (unsigned short)((c.u + 0x7fffu + ((c.u >> 16) & 1u)) >> 16);
}

#define LOAD_F32(p, n) load16((p), (n))
#define LOAD_BF16(p, n) load16_bf16((p), (n))

/* Softmax attention of one query (H heads of D) over the rows cand[0..n) of k and v: every head's
   logits (each row read once; a row's heads' dot products in 16-float vectors, summed four heads
   at a time), the softmax, then the weighted values (in vectors; H and D constants where this is
   inlined: the query and the output stay in registers). Made for two cache element types KV:
   float, and unsigned short holding bfloat16 (LOAD: n <= 16 of them as a float vector). */
#define ATTEND_HEADS(NAME, KV, LOAD)                                                                   \
static inline __attribute__((always_inline)) void NAME(                                                 \
        const float *q, const void *kp, long k_stride, const void *vp, long v_stride,                   \
        const long *cand, long n, int H, int D, float *out) {                                          \
    const KV *k = kp, *v = vp;                                                                          \
    int C = (D + 15) / 16;                                                                              \
    float scale = 1.0f / sqrtf((float)D), lg[H * n], den[H];                                            \
    long HD = (long)H * D, line = 64 / (long)sizeof(KV);                                                \
    v16f qv[H * C], o[H * C];                                                                           \
    for (int h = 0; h < H; h++)                                                                         \
        for (int c = 0; c < C; c++) qv[h * C + c] = load16(q + h * D + 16 * c, D - 16 * c);             \
    for (long i = 0; i < n; i++) {                                                                      \
        const KV *kr = k + cand[i] * k_stride;                                                          \
        /* the rows read next on their way meanwhile: a later key, this key's value (the kept rows      \
           are scattered blocks of a cache of several MB, mostly not in cache between steps) */         \
        if (i + 8 < n)                                                                                  \
            for (long j = 0; j < HD; j += line) __builtin_prefetch(k + cand[i + 8] * k_stride + j, 0, 3); \
        for (long j = 0; j < HD; j += line) __builtin_prefetch(v + cand[i] * v_stride + j, 0, 3);       \
        for (int h0 = 0; h0 < H; h0 += 4) {                                                             \
            v16f acc[4] = {{0}, {0}, {0}, {0}};                                                         \
            for (int j = 0; j < 4 && h0 + j < H; j++)                                                   \
                for (int c = 0; c < C; c++)                                                             \
                    acc[j] += qv[(h0 + j) * C + c] * LOAD(kr + (h0 + j) * D + 16 * c, D - 16 * c);      \
            float d[4];                                                                                 \
            hsum4(acc[0], acc[1], acc[2], acc[3], d);                                                   \
            for (int j = 0; j < 4 && h0 + j < H; j++) lg[(h0 + j) * n + i] = d[j] * scale;              \
        }                                                                                               \
    }                                                                                                   \
    for (int h = 0; h < H; h++) {                                                                       \
        float *l = lg + h * n, m = -INFINITY, s = 0.0f;                                                 \
        for (long i = 0; i < n; i++) m = l[i] > m ? l[i] : m;                                           \
        for (long i = 0; i < n; i++) { l[i] = exp_clamped(l[i] - m); s += l[i]; }                       \
        den[h] = s;                                                                                     \
    }                                                                                                   \
    for (int j = 0; j < H * C; j++) o[j] = (v16f){0};                                                   \
    for (long i = 0; i < n; i++) {                                                                      \
        const KV *vr = v + cand[i] * v_stride;                                                          \
        for (int h = 0; h < H; h++) {                                                                   \
            float p = lg[h * n + i];                                                                    \
            for (int c = 0; c < C; c++) o[h * C + c] += p * LOAD(vr + h * D + 16 * c, D - 16 * c);      \
        }                                                                                               \
    }                                                                                                   \
    for (int h = 0; h < H; h++)                                                                         \
        for (int c = 0; c < C; c++) {                                                                   \
            v16f r = o[h * C + c] / den[h];                                                             \
            memcpy(out + h * D + 16 * c, &r, 4 * (long)(D - 16 * c < 16 ? D - 16 * c : 16));            \
        }                                                                                               \
}
ATTEND_HEADS(attend_heads, float, LOAD_F32)
ATTEND_HEADS(attend_heads_bf16, unsigned short, LOAD_BF16)

/* The k-th largest of a[0..n) (1 <= k <= n; a is reordered): quickselect, O(n) on average. */
static float kth_largest(float *a, long n, long k) {
    long lo = 0, hi = n - 1, want = k - 1;                  /* index in descending order */
    while (lo < hi) {
        float pivot = a[lo + (hi - lo) / 2];
        long i = lo, j = hi;
        while (i <= j) {
            while (a[i] > pivot) i++;
            while (a[j] < pivot) j--;
            if (i <= j) { float t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
        }
        if (want <= j) hi = j;
        else if (want >= i) lo = i;
        else break;
    }
    return a[want];
}

/* Returns the number of kept keys; -1 if a work buffer is too small. */
int attend_kept(const float *q, const float *iq, const float *iw,
                const void *k, long k_stride, const void *v, long v_stride,
                const float *ik, long ik_stride, const float *blocks, long nb,
                long t, long near0, long n_sel, long Bk, long W, long budget, float log_thr, int use_thr,
                int H, int D, int Hi, int Di, float *out,
                float *scores, long *cand, int cap, int kv_bf16) {
    /* 1. the n_sel best complete old blocks (descending; the first of equal scores first) */
    long top[64];
    float topv[64];
    if (n_sel > 64) return -1;
    long n_top = 0;
    if ((long)Hi * ((Di + 15) / 16) > MAX_CHUNKS) return -1;
    v16f iqv[MAX_CHUNKS];
    index_query(iq, Hi, Di, iqv);
    for (long j = 0; n_sel > 0 && j < nb; j++) {
        float s = index_score(iqv, iw, blocks + j * Di, Hi, Di);
        if (n_top < n_sel || s > topv[n_top - 1]) {
            long p = n_top < n_sel ? n_top++ : n_sel - 1;
            while (p > 0 && topv[p - 1] < s) { topv[p] = topv[p - 1]; top[p] = top[p - 1]; p--; }
            topv[p] = s; top[p] = j;
        }
    }
    /* 2. candidates: the picked blocks, then the near range near0..t (its last W: the window) */
    long K = n_top * Bk + (t - near0 + 1);
    if (K > cap) return -1;
    long c = 0;
    for (long i = 0; i < n_top; i++)
        for (long j = 0; j < Bk; j++) cand[c++] = top[i] * Bk + j;
    for (long s = near0; s <= t; s++) cand[c++] = s;
    float best = Hi == 4 && Di == 32 ? score_keys(iqv, iw, ik, ik_stride, cand, K, 4, 32, scores)
                                     : score_keys(iqv, iw, ik, ik_stride, cand, K, Hi, Di, scores);
    /* 3. the gate on the old candidates, then the budget (best scores first) */
    long n_old = K - W, kept = 0;
    for (long i = 0; i < n_old; i++) {
        if (!use_thr || scores[i] >= best + log_thr) { cand[kept] = cand[i]; scores[kept] = scores[i]; kept++; }
    }
    if (kept > budget && budget > 0) {         /* keep the `budget` best (of equal scores the first) */
        float work[kept];
        for (long i = 0; i < kept; i++) work[i] = scores[i];
        float thr = kth_largest(work, kept, budget);
        long above = 0, n = 0;
        for (long i = 0; i < kept; i++) above += scores[i] > thr;
        for (long i = 0, ties = budget - above; i < kept; i++) {
            if (scores[i] > thr || (scores[i] == thr && ties-- > 0)) { cand[n] = cand[i]; scores[n] = scores[i]; n++; }
        }
        kept = n;
    } else if (kept > budget) kept = 0;
    for (long s = t + 1 - W; s <= t; s++) cand[kept++] = s;
    /* 4. attention over the kept rows */
    if (kv_bf16 && H == 4 && D == 64) attend_heads_bf16(q, k, k_stride, v, v_stride, cand, kept, 4, 64, out);
    else if (kv_bf16) attend_heads_bf16(q, k, k_stride, v, v_stride, cand, kept, H, D, out);
    else if (H == 4 && D == 64) attend_heads(q, k, k_stride, v, v_stride, cand, kept, 4, 64, out);
    else attend_heads(q, k, k_stride, v, v_stride, cand, kept, H, D, out);
    return (int)kept;
}

/* One decode token for each of B rows, each row on its own batch-1 cache (model.attention.
   SparseAttention._native_rows): from the row's joined projection p = [q | k | v | iq | ik | iw]
   (H, H, H, Hi heads, one index key, Hi weights), RoPE and the indexer's scales as
   y = (p * cos + p[perm] * sin) * scale (`rotate_joined`), write its k, v and index key at slot
   t of its cache, then `attend_kept` with the block-sparse rule of that slot. k / v / ik: the
   rows' cache buffers (slot s of row b at kp[b] + s * H * D, ikp[b] + s * Di; k and v bfloat16
   where kv_bf16, written rounded to nearest even as torch's copy rounds); blk: the rows'
   pooled block keys (nb_avail[b] of them, Di each). out (B, H * D). Returns the smallest kept
   count of any row (<= 0: a work buffer was too small, out is incomplete). */
int attend_rows(int B, const float *p, long Wp, const float *cosj, const float *sinj,
                const long *perm, const float *scale,
                const long *kp, const long *vp, const long *ikp, const long *blkp, const long *nb_avail,
                const long *tpos, long Bk, long W, long topk, float log_thr, int use_thr,
                int H, int D, int Hi, int Di, float *out, float *scores, long *cand, int cap, int kv_bf16) {
    long HD = (long)H * D;
    float y[Wp];
    int least = 1 << 30;
    for (int b = 0; b < B; b++) {
        const float *pb = p + b * Wp, *cb = cosj + b * Wp, *sb = sinj + b * Wp;
        for (long j = 0; j < Wp; j++) y[j] = (pb[j] * cb[j] + pb[perm[j]] * sb[j]) * scale[j];
        long t = tpos[b];
        void *k = (void *)kp[b], *v = (void *)vp[b];
        float *ik = (float *)ikp[b];
        if (kv_bf16) {
            unsigned short *kh = k, *vh = v;
            for (long j = 0; j < HD; j++) {
                kh[t * HD + j] = f32_bf16(y[HD + j]);
                vh[t * HD + j] = f32_bf16(y[2 * HD + j]);
            }
        } else {
            float *kf = k, *vf = v;
            for (long j = 0; j < HD; j++) { kf[t * HD + j] = y[HD + j]; vf[t * HD + j] = y[2 * HD + j]; }
        }
        const float *iq = y + 3 * HD, *ikn = iq + (long)Hi * Di, *iw = ikn + Di;
        for (long j = 0; j < Di; j++) ik[t * Di + j] = ikn[j];
        long near0 = (t - W + 1 > 0 ? t - W + 1 : 0) / Bk * Bk;
        if (near0 > t) near0 = t;
        long nb = near0 / Bk < nb_avail[b] ? near0 / Bk : nb_avail[b];
        long n_sel = (topk - W) / Bk > 1 ? (topk - W) / Bk : 1;
        if (n_sel > nb) n_sel = nb;
        int kept = attend_kept(y, iq, iw, k, HD, v, HD, ik, Di, (const float *)blkp[b], nb, t, near0, n_sel,
                               Bk, W, topk - W, log_thr, use_thr, H, D, Hi, Di, out + b * HD, scores, cand, cap,
                               kv_bf16);
        if (kept < least) least = kept;
    }
    return least;
}

/* A decode step's per-row cache writes in one call: row b of src (B rows, src_stride bytes apart)
   copied, row_bytes of it, to the address dst[b] (a slot of row b's own cache buffer). */
void copy_rows(int B, const char *src, long src_stride, long row_bytes, const long *dst) {
    for (int b = 0; b < B; b++) memcpy((void *)dst[b], src + (long)b * src_stride, (size_t)row_bytes);
}
