/* The plain-C kernels of the fused attention path (contracts in
 * fused_internal.h), written once and compiled twice: for any CPU
 * (fused_ref.c, the reference every faster set is tested against) and with
 * AVX2 and FMA enabled (fused_avx2.c). The loops are shaped so that a
 * compiler vectorises them: 16 rows or features at a time in a small
 * array, rows of a tile in order. Private to those two files. */
#ifndef NAMEDARR_FUSED_KERNELS_C_H
#define NAMEDARR_FUSED_KERNELS_C_H

#include <math.h>
#include <string.h>

#include "attention/fused_internal.h"

#define NA__C_INLINE static inline __attribute__((always_inline))

NA__C_INLINE void na__c_qk(int64_t nk, int64_t dp, const float *k, int64_t kld,
                           const float *qt, int bq, float *st, float *mx)
{
    for (int i = 0; i < bq; i++)
        mx[i] = -INFINITY;
    for (int64_t j = 0; j < nk; j++)
        for (int i0 = 0; i0 < bq; i0 += 16) {
            float acc[16] = {0}; /* 16 rows in registers over the projection */
            for (int64_t d = 0; d < dp; d++) {
                float kd = k[j * kld + d];
                const float *q = qt + d * bq + i0;
                for (int l = 0; l < 16; l++)
                    acc[l] += kd * q[l];
            }
            memcpy(st + j * bq + i0, acc, sizeof acc);
            for (int l = 0; l < 16; l++)
                mx[i0 + l] = acc[l] > mx[i0 + l] ? acc[l] : mx[i0 + l];
        }
}

/* 2^x for x <= 0 the way the AVX-512 set computes it, in plain C the
 * compiler can vectorise: x = n + f with n = round(x) (the 1.5 * 2^23
 * trick), |f| <= 1/2; 2^f by a degree-5 polynomial fitted for relative
 * error (under 2e-7 in f32), exact at 0; times 2^n built from bits.
 * x < -126 (and -inf) gives exactly 0, so masked keys weigh nothing. */
NA__C_INLINE float na__c_exp2(float x)
{
    float live = x >= -126.0f ? 1.0f : 0.0f;
    x = x < -126.0f ? -126.0f : x > 126.0f ? 126.0f : x;
    float n = (x + 12582912.0f) - 12582912.0f, f = x - n;
    float p = 1.326471451e-3f;
    p = p * f + 9.671513923e-3f;
    p = p * f + 5.550733954e-2f;
    p = p * f + 2.402224243e-1f;
    p = p * f + 6.931470037e-1f;
    p = p * f + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale * live;
}

NA__C_INLINE void na__c_softmax(int64_t nk, int bq, float *st, const float *tmx, float *m,
                                float *l, float *corr)
{
    float mx[64], use[64], sum[64];
    for (int i = 0; i < bq; i++) {
        mx[i] = tmx[i] > m[i] ? tmx[i] : m[i];
        use[i] = mx[i] == -INFINITY ? 0.0f : mx[i];
        sum[i] = 0;
    }
    for (int64_t j = 0; j < nk; j++) /* rows of st in order: vectorises */
        for (int i = 0; i < bq; i++) {
            float p = na__c_exp2(st[j * bq + i] - use[i]);
            st[j * bq + i] = p;
            sum[i] += p;
        }
    for (int i = 0; i < bq; i++) {
        corr[i] = na__c_exp2(m[i] - use[i]);
        l[i] = l[i] * corr[i] + sum[i];
        m[i] = mx[i];
    }
}

NA__C_INLINE void na__c_pv(int64_t nk, int bq, int64_t dv, int64_t dvp, const float *st,
                           const float *v, int64_t vld, const float *corr, float *o)
{
    for (int i = 0; i < bq; i++)
        for (int64_t c0 = 0; c0 < dvp; c0 += 16) {
            float acc[16], *oi = o + i * dvp + c0;
            for (int e = 0; e < 16; e++)
                acc[e] = oi[e] * corr[i];
            if (c0 + 16 <= dv) {
                for (int64_t j = 0; j < nk; j++) {
                    float p = st[j * bq + i];
                    const float *x = v + j * vld + c0;
                    for (int e = 0; e < 16; e++)
                        acc[e] += p * x[e];
                }
            } else { /* the last, partial chunk of features */
                int w = (int)(dv - c0);
                for (int64_t j = 0; j < nk; j++) {
                    float p = st[j * bq + i];
                    const float *x = v + j * vld + c0;
                    for (int e = 0; e < w; e++)
                        acc[e] += p * x[e];
                }
            }
            memcpy(oi, acc, sizeof acc);
        }
}

NA__C_INLINE void na__c_dots(int64_t nk, int64_t dp, int nr, const float *q,
                             const float *k, int64_t kc, float *s, int64_t ls)
{
    for (int64_t j = 0; j < nk; j++)
        for (int r = 0; r < nr; r++) {
            const float *qr = q + r * dp, *kj = k + j * kc;
            float acc[8] = {0}; /* eight partial sums: the compiler vectorises */
            int64_t d = 0;
            for (; d + 8 <= dp; d += 8)
                for (int e = 0; e < 8; e++)
                    acc[e] += qr[d + e] * kj[d + e];
            for (; d < dp; d++)
                acc[0] += qr[d] * kj[d];
            s[r * ls + j] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) +
                            ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        }
}

NA__C_INLINE float na__c_max(int64_t n, const float *s)
{
    float m = -INFINITY;
    for (int64_t j = 0; j < n; j++)
        m = s[j] > m ? s[j] : m;
    return m;
}

NA__C_INLINE float na__c_exp_sum(int64_t n, float *s, float mx)
{
    float sum[8] = {0};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int e = 0; e < 8; e++) {
            s[j + e] = na__c_exp2(s[j + e] - mx);
            sum[e] += s[j + e];
        }
    for (; j < n; j++) {
        s[j] = na__c_exp2(s[j] - mx);
        sum[0] += s[j];
    }
    return ((sum[0] + sum[1]) + (sum[2] + sum[3])) + ((sum[4] + sum[5]) + (sum[6] + sum[7]));
}

NA__C_INLINE void na__c_wsum(int64_t nk, int64_t dv, int nr, const float *p, int64_t lp,
                             const float *v, int64_t vc, float *o)
{
    for (int64_t j = 0; j < nk; j++)
        for (int r = 0; r < nr; r++) {
            float w = p[r * lp + j];
            if (w == 0)
                continue;
            for (int64_t c = 0; c < dv; c++)
                o[r * dv + c] += w * v[j * vc + c];
        }
}

/* tanh(y) the way the AVX-512 set computes it, in plain C the compiler
 * can vectorise: for |y| < 1/4 the odd series to y^7 (relative error under
 * 4e-7), else sign(y) (1 - e) / (1 + e) with e = exp(-2|y|) from
 * na__c_exp2 (e is exactly 0 past |y| ~ 44: the result is exactly +-1). */
NA__C_INLINE float na__c_tanh(float y)
{
    float a = fabsf(y), y2 = y * y;
    float small = y * (1.0f + y2 * (-0.333333333f + y2 * (0.133333333f +
                                                          y2 * -0.0539682540f)));
    float e = na__c_exp2(a * -2.885390082f); /* 2 log2(e) */
    float big = copysignf((1.0f - e) / (1.0f + e), y);
    return a < 0.25f ? small : big;
}

NA__C_INLINE void na__c_softcap(int64_t n, float *s, float c)
{
    float inv = 1.0f / c;
    for (int64_t j = 0; j < n; j++)
        s[j] = c * na__c_tanh(s[j] * inv);
}

/* One kernel set named `sfx`, each function compiled with ATTR. */
#define NA__FUSED_C_KERNELS(sfx, ATTR)                                                   \
    ATTR static void qk_##sfx(int64_t nk, int64_t dp, const float *k, int64_t kld,       \
                              const float *qt, int bq, float *st, float *mx)             \
    {                                                                                    \
        na__c_qk(nk, dp, k, kld, qt, bq, st, mx);                                        \
    }                                                                                    \
    ATTR static void softmax_##sfx(int64_t nk, int bq, float *st, const float *tmx,      \
                                   float *m, float *l, float *corr)                      \
    {                                                                                    \
        na__c_softmax(nk, bq, st, tmx, m, l, corr);                                      \
    }                                                                                    \
    ATTR static void pv_##sfx(int64_t nk, int bq, int64_t dv, int64_t dvp,               \
                              const float *st, const float *v, int64_t vld,              \
                              const float *corr, float *o)                               \
    {                                                                                    \
        na__c_pv(nk, bq, dv, dvp, st, v, vld, corr, o);                                  \
    }                                                                                    \
    ATTR static void dots_##sfx(int64_t nk, int64_t dp, int nr, const float *q,          \
                                const float *k, int64_t kc, float *s, int64_t ls)        \
    {                                                                                    \
        na__c_dots(nk, dp, nr, q, k, kc, s, ls);                                         \
    }                                                                                    \
    ATTR static float max_##sfx(int64_t n, const float *s)                               \
    {                                                                                    \
        return na__c_max(n, s);                                                          \
    }                                                                                    \
    ATTR static float exp_sum_##sfx(int64_t n, float *s, float mx)                       \
    {                                                                                    \
        return na__c_exp_sum(n, s, mx);                                                  \
    }                                                                                    \
    ATTR static void wsum_##sfx(int64_t nk, int64_t dv, int nr, const float *p,          \
                                int64_t lp, const float *v, int64_t vc, float *o)        \
    {                                                                                    \
        na__c_wsum(nk, dv, nr, p, lp, v, vc, o);                                         \
    }                                                                                    \
    ATTR static void softcap_##sfx(int64_t n, float *s, float c)                         \
    {                                                                                    \
        na__c_softcap(n, s, c);                                                          \
    }                                                                                    \
    const na__fused_ops na__fused_ops_##sfx = {#sfx,          qk_##sfx,   softmax_##sfx, \
                                               pv_##sfx,      dots_##sfx, max_##sfx,     \
                                               exp_sum_##sfx, wsum_##sfx, softcap_##sfx};

#endif
