/* Kernels of the fused attention path (layouts in fused_internal.h): an
 * AVX-512 set, compiled with a target attribute and chosen at run time when
 * the CPU has AVX-512F; otherwise the plain-C set, compiled for AVX2+FMA
 * when the CPU has them and for any x86-64 else. Tests run every set the
 * CPU can (tests/test_fused.c). */
#include <immintrin.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "attention/fused_internal.h"

/* ---- the plain-C kernels ---------------------------------------------------------- */

/* Written once and compiled twice: for any x86-64 ("generic") and with
 * AVX2 and FMA enabled ("avx2", for CPUs without AVX-512). */
#define ALWAYS_C static inline __attribute__((always_inline))

ALWAYS_C void qk_c(int64_t nk, int64_t dp, const float *kp, const float *qt, int bq,
                   float *st)
{
    for (int64_t j = 0; j < nk; j++)
        for (int i0 = 0; i0 < bq; i0 += 16) {
            float acc[16] = {0}; /* 16 rows in registers over the projection */
            for (int64_t d = 0; d < dp; d++) {
                float kd = kp[j * dp + d];
                const float *q = qt + d * bq + i0;
                for (int l = 0; l < 16; l++)
                    acc[l] += kd * q[l];
            }
            memcpy(st + j * bq + i0, acc, sizeof acc);
        }
}

/* 2^x as exp2_512 below computes it, in plain C the compiler can
 * vectorise: round by the 1.5 * 2^23 trick, the degree-7 series, the
 * exponent built from bits; x < -126 (and -inf) gives exactly 0. */
ALWAYS_C float exp2_c(float x)
{
    float live = x >= -126.0f ? 1.0f : 0.0f;
    x = x < -126.0f ? -126.0f : x > 126.0f ? 126.0f : x;
    float n = (x + 12582912.0f) - 12582912.0f, f = x - n;
    float p = 1.5252733804059840e-5f;
    p = p * f + 1.5403530393381608e-4f;
    p = p * f + 1.3333558146428443e-3f;
    p = p * f + 9.6181291076284772e-3f;
    p = p * f + 5.5504108664821580e-2f;
    p = p * f + 2.4022650695910071e-1f;
    p = p * f + 6.9314718055994531e-1f;
    p = p * f + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale * live;
}

ALWAYS_C void softmax_c(int64_t nk, int bq, float *st, float *m, float *l, float *corr)
{
    float mx[64], use[64], sum[64];
    for (int i = 0; i < bq; i++)
        mx[i] = m[i], sum[i] = 0;
    for (int64_t j = 0; j < nk; j++) /* rows of st in order: vectorises */
        for (int i = 0; i < bq; i++)
            mx[i] = st[j * bq + i] > mx[i] ? st[j * bq + i] : mx[i];
    for (int i = 0; i < bq; i++)
        use[i] = mx[i] == -INFINITY ? 0.0f : mx[i];
    for (int64_t j = 0; j < nk; j++)
        for (int i = 0; i < bq; i++) {
            float p = exp2_c(st[j * bq + i] - use[i]);
            st[j * bq + i] = p;
            sum[i] += p;
        }
    for (int i = 0; i < bq; i++) {
        corr[i] = exp2_c(m[i] - use[i]);
        l[i] = l[i] * corr[i] + sum[i];
        m[i] = mx[i];
    }
}

ALWAYS_C void pv_c(int64_t nk, int bq, int64_t dvp, const float *st, const float *vp,
                   const float *corr, float *o)
{
    for (int i = 0; i < bq; i++)
        for (int64_t c0 = 0; c0 < dvp; c0 += 16) {
            float acc[16], *oi = o + i * dvp + c0;
            for (int l = 0; l < 16; l++)
                acc[l] = oi[l] * corr[i];
            for (int64_t j = 0; j < nk; j++) {
                float p = st[j * bq + i];
                const float *v = vp + j * dvp + c0;
                for (int l = 0; l < 16; l++)
                    acc[l] += p * v[l];
            }
            memcpy(oi, acc, sizeof acc);
        }
}

ALWAYS_C void dots_c(int64_t nk, int64_t dp, int nr, const float *q, const float *k,
                     int64_t kc, float *s, int64_t ls)
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

ALWAYS_C float max_c(int64_t n, const float *s)
{
    float m = -INFINITY;
    for (int64_t j = 0; j < n; j++)
        m = s[j] > m ? s[j] : m;
    return m;
}

ALWAYS_C float exp_sum_c(int64_t n, float *s, float mx)
{
    float sum[8] = {0};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int e = 0; e < 8; e++) {
            s[j + e] = exp2_c(s[j + e] - mx);
            sum[e] += s[j + e];
        }
    for (; j < n; j++) {
        s[j] = exp2_c(s[j] - mx);
        sum[0] += s[j];
    }
    return ((sum[0] + sum[1]) + (sum[2] + sum[3])) + ((sum[4] + sum[5]) + (sum[6] + sum[7]));
}

ALWAYS_C void wsum_c(int64_t nk, int64_t dv, int nr, const float *p, int64_t lp,
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

#define C_KERNELS(sfx, ATTR)                                                             \
    ATTR static void qk_##sfx(int64_t nk, int64_t dp, const float *kp, const float *qt,  \
                              int bq, float *st)                                         \
    {                                                                                    \
        qk_c(nk, dp, kp, qt, bq, st);                                                    \
    }                                                                                    \
    ATTR static void softmax_##sfx(int64_t nk, int bq, float *st, float *m, float *l,    \
                                   float *corr)                                          \
    {                                                                                    \
        softmax_c(nk, bq, st, m, l, corr);                                               \
    }                                                                                    \
    ATTR static void pv_##sfx(int64_t nk, int bq, int64_t dvp, const float *st,          \
                              const float *vp, const float *corr, float *o)              \
    {                                                                                    \
        pv_c(nk, bq, dvp, st, vp, corr, o);                                              \
    }                                                                                    \
    ATTR static void dots_##sfx(int64_t nk, int64_t dp, int nr, const float *q,          \
                                const float *k, int64_t kc, float *s, int64_t ls)        \
    {                                                                                    \
        dots_c(nk, dp, nr, q, k, kc, s, ls);                                             \
    }                                                                                    \
    ATTR static float max_##sfx(int64_t n, const float *s)                               \
    {                                                                                    \
        return max_c(n, s);                                                              \
    }                                                                                    \
    ATTR static float exp_sum_##sfx(int64_t n, float *s, float mx)                       \
    {                                                                                    \
        return exp_sum_c(n, s, mx);                                                      \
    }                                                                                    \
    ATTR static void wsum_##sfx(int64_t nk, int64_t dv, int nr, const float *p,          \
                                int64_t lp, const float *v, int64_t vc, float *o)        \
    {                                                                                    \
        wsum_c(nk, dv, nr, p, lp, v, vc, o);                                             \
    }                                                                                    \
    static const na__fused_ops ops_##sfx = {#sfx,          qk_##sfx,   softmax_##sfx,    \
                                            pv_##sfx,      dots_##sfx, max_##sfx,        \
                                            exp_sum_##sfx, wsum_##sfx};

C_KERNELS(generic, )
C_KERNELS(avx2, __attribute__((target("avx2,fma"))))

/* ---- AVX-512 ----------------------------------------------------------------------- */

#if defined(__clang__) /* clang ignores GCC's target pragma */
#pragma clang attribute push(__attribute__((target("avx512f,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,fma")
#endif

#define ALWAYS static inline __attribute__((always_inline))

/* 2^x to about 1 ulp: x = n + f, |f| <= 1/2, 2^f by its Taylor series to
 * degree 7 (truncation below 6e-9), times 2^n with vscalefps. x < -126
 * (and -inf, NaN) gives exactly 0, so masked keys weigh nothing. */
ALWAYS __m512 exp2_512(__m512 x)
{
    __mmask16 live = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-126.0f), _CMP_GE_OQ);
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-126.0f)), _mm512_set1_ps(126.0f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.5252733804059840e-5f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.5403530393381608e-4f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291076284772e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504108664821580e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022650695910071e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718055994531e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_maskz_scalef_ps(live, p, n);
}

/* rj keys x nv vectors of 16 query rows: the accumulators stay in registers
 * over the whole projection. */
ALWAYS void qk_block(int rj, int nv, int64_t dp, const float *kp, const float *qt, int bq,
                     float *st)
{
    __m512 acc[8][4];
#pragma GCC unroll 8
    for (int r = 0; r < rj; r++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            acc[r][v] = _mm512_setzero_ps();
    for (int64_t d = 0; d < dp; d++) {
        __m512 q[4];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            q[v] = _mm512_load_ps(qt + d * bq + 16 * v);
#pragma GCC unroll 8
        for (int r = 0; r < rj; r++) {
            __m512 kb = _mm512_set1_ps(kp[r * dp + d]);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                acc[r][v] = _mm512_fmadd_ps(kb, q[v], acc[r][v]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < rj; r++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            _mm512_store_ps(st + r * bq + 16 * v, acc[r][v]);
}

ALWAYS void qk_nv(int nv, int64_t nk, int64_t dp, const float *kp, const float *qt,
                  float *st)
{
    /* 16 or more accumulators hide the FMA latency; 4 and 8 divide the
     * usual tile of 64 keys */
    const int rj = nv == 4 ? 4 : 8, bq = 16 * nv;
    int64_t j = 0;
    for (; j + rj <= nk; j += rj)
        qk_block(rj, nv, dp, kp + j * dp, qt, bq, st + j * bq);
    for (; j + 2 <= nk; j += 2)
        qk_block(2, nv, dp, kp + j * dp, qt, bq, st + j * bq);
    for (; j < nk; j++)
        qk_block(1, nv, dp, kp + j * dp, qt, bq, st + j * bq);
}

static void qk_avx512(int64_t nk, int64_t dp, const float *kp, const float *qt, int bq,
                      float *st)
{
    switch (bq / 16) {
    case 1:
        qk_nv(1, nk, dp, kp, qt, st);
        break;
    case 2:
        qk_nv(2, nk, dp, kp, qt, st);
        break;
    case 3:
        qk_nv(3, nk, dp, kp, qt, st);
        break;
    default:
        qk_nv(4, nk, dp, kp, qt, st);
        break;
    }
}

static void softmax_avx512(int64_t nk, int bq, float *st, float *m, float *l, float *corr)
{
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    for (int v = 0; v < bq; v += 16) {
        __m512 old = _mm512_load_ps(m + v), mx = old;
        for (int64_t j = 0; j < nk; j++)
            mx = _mm512_max_ps(mx, _mm512_load_ps(st + j * bq + v));
        /* rows with no live key yet subtract 0: their -inf logits give 0 */
        __m512 use = _mm512_mask_mov_ps(mx, _mm512_cmp_ps_mask(mx, ninf, _CMP_EQ_OQ),
                                        _mm512_setzero_ps());
        __m512 sum0 = _mm512_setzero_ps(), sum1 = _mm512_setzero_ps();
        int64_t j = 0;
        for (; j + 2 <= nk; j += 2) {
            __m512 p0 = exp2_512(_mm512_sub_ps(_mm512_load_ps(st + j * bq + v), use));
            __m512 p1 =
                exp2_512(_mm512_sub_ps(_mm512_load_ps(st + (j + 1) * bq + v), use));
            _mm512_store_ps(st + j * bq + v, p0);
            _mm512_store_ps(st + (j + 1) * bq + v, p1);
            sum0 = _mm512_add_ps(sum0, p0);
            sum1 = _mm512_add_ps(sum1, p1);
        }
        if (j < nk) {
            __m512 p0 = exp2_512(_mm512_sub_ps(_mm512_load_ps(st + j * bq + v), use));
            _mm512_store_ps(st + j * bq + v, p0);
            sum0 = _mm512_add_ps(sum0, p0);
        }
        __m512 c = exp2_512(_mm512_sub_ps(old, use));
        _mm512_store_ps(corr + v, c);
        _mm512_store_ps(
            l + v, _mm512_fmadd_ps(_mm512_load_ps(l + v), c, _mm512_add_ps(sum0, sum1)));
        _mm512_store_ps(m + v, mx);
    }
}

/* 4 rows x nv vectors of features, over all nk keys of the tile. */
ALWAYS void pv_block(int nv, int64_t nk, int bq, int64_t dvp, const float *st,
                     const float *vp, const float *corr, float *o)
{
    __m512 acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
        __m512 c = _mm512_set1_ps(corr[r]);
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            acc[r][v] = _mm512_mul_ps(_mm512_load_ps(o + r * dvp + 16 * v), c);
    }
    for (int64_t j = 0; j < nk; j++) {
        __m512 x[4];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            x[v] = _mm512_load_ps(vp + j * dvp + 16 * v);
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            __m512 p = _mm512_set1_ps(st[j * bq + r]);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                acc[r][v] = _mm512_fmadd_ps(p, x[v], acc[r][v]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            _mm512_store_ps(o + r * dvp + 16 * v, acc[r][v]);
}

static void pv_avx512(int64_t nk, int bq, int64_t dvp, const float *st, const float *vp,
                      const float *corr, float *o)
{
    for (int64_t c = 0; c < dvp; c += 64) {
        int nv = (int)((dvp - c) / 16 < 4 ? (dvp - c) / 16 : 4);
        for (int i = 0; i < bq; i += 4) {
            const float *s = st + i;
            float *oi = o + i * dvp + c;
            switch (nv) {
            case 1:
                pv_block(1, nk, bq, dvp, s, vp + c, corr + i, oi);
                break;
            case 2:
                pv_block(2, nk, bq, dvp, s, vp + c, corr + i, oi);
                break;
            case 3:
                pv_block(3, nk, bq, dvp, s, vp + c, corr + i, oi);
                break;
            default:
                pv_block(4, nk, bq, dvp, s, vp + c, corr + i, oi);
                break;
            }
        }
    }
}

/* Lanes c < n of a 16-lane chunk. */
ALWAYS __mmask16 tail_mask(int64_t n)
{
    return n >= 16 ? 0xffff : (__mmask16)((1u << n) - 1);
}

/* Prefetch the row [p, p + n floats) into L1 (rows PD keys ahead: the
 * cache streams from memory, and rows of one head are strided). */
#define PD 12
ALWAYS void prefetch_row(const float *p, int64_t n)
{
    for (int64_t c = 0; c < n; c += 16)
        _mm_prefetch((const char *)(p + c), _MM_HINT_T0);
}

/* Sums of the 16 lanes of each of v[0..16), as the lanes of one vector. */
ALWAYS __m512 sum16(__m512 *v)
{
    __m512 a[8], b[4], c[2];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        a[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]),
                             _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++)
        b[i] = _mm512_add_ps(_mm512_shuffle_ps(a[2 * i], a[2 * i + 1], 0x44),
                             _mm512_shuffle_ps(a[2 * i], a[2 * i + 1], 0xee));
#pragma GCC unroll 2
    for (int i = 0; i < 2; i++)
        c[i] = _mm512_add_ps(_mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], 0x88),
                             _mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], 0xdd));
    return _mm512_add_ps(_mm512_shuffle_f32x4(c[0], c[1], 0x88),
                         _mm512_shuffle_f32x4(c[0], c[1], 0xdd));
}

/* One row's dot products with 16 keys, as one vector. */
ALWAYS __m512 dot16(int64_t dp, const float *q, const float *k, int64_t kc)
{
    __m512 acc[16];
#pragma GCC unroll 16
    for (int j = 0; j < 16; j++)
        acc[j] = _mm512_setzero_ps();
    for (int64_t d = 0; d < dp; d += 16) {
        __mmask16 t = tail_mask(dp - d);
        __m512 qv = _mm512_maskz_loadu_ps(t, q + d);
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++)
            acc[j] =
                _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(t, k + j * kc + d), acc[j]);
    }
    return sum16(acc);
}

static void dots_avx512(int64_t nk, int64_t dp, int nr, const float *q, const float *k,
                        int64_t kc, float *s, int64_t ls)
{
    int64_t j = 0;
    for (; j + 16 <= nk; j += 16) {
        for (int64_t p = j + PD; p < j + PD + 16 && p < nk; p++)
            prefetch_row(k + p * kc, dp);
        for (int r = 0; r < nr; r++)
            _mm512_storeu_ps(s + r * ls + j, dot16(dp, q + r * dp, k + j * kc, kc));
    }
    for (; j < nk; j++)
        for (int r = 0; r < nr; r++) {
            __m512 a = _mm512_setzero_ps();
            for (int64_t d = 0; d < dp; d += 16) {
                __mmask16 t = tail_mask(dp - d);
                a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(t, q + r * dp + d),
                                    _mm512_maskz_loadu_ps(t, k + j * kc + d), a);
            }
            s[r * ls + j] = _mm512_reduce_add_ps(a);
        }
}

static float max_avx512(int64_t n, const float *s)
{
    __m512 m = _mm512_set1_ps(-INFINITY);
    for (int64_t j = 0; j < n; j += 16)
        m = _mm512_max_ps(m, _mm512_mask_loadu_ps(m, tail_mask(n - j), s + j));
    return _mm512_reduce_max_ps(m);
}

static float exp_sum_avx512(int64_t n, float *s, float mx)
{
    __m512 m = _mm512_set1_ps(mx), sum = _mm512_setzero_ps();
    for (int64_t j = 0; j < n; j += 16) {
        __mmask16 t = tail_mask(n - j);
        __m512 p = exp2_512(_mm512_sub_ps(_mm512_maskz_loadu_ps(t, s + j), m));
        p = _mm512_maskz_mov_ps(t, p);
        _mm512_mask_storeu_ps(s + j, t, p);
        sum = _mm512_add_ps(sum, p);
    }
    return _mm512_reduce_add_ps(sum);
}

/* rows r0..r0+rn (rn <= 6) x one chunk of up to 4 vectors, keys j < nk */
ALWAYS void wsum_block(int rn, int nv, __mmask16 last, int64_t nk, int64_t avail,
                       const float *p, int64_t lp, const float *v, int64_t vc, float *o,
                       int64_t dv)
{
    __m512 acc[6][4];
#pragma GCC unroll 6
    for (int r = 0; r < rn; r++)
#pragma GCC unroll 4
        for (int c = 0; c < nv; c++)
            acc[r][c] =
                _mm512_maskz_loadu_ps(c == nv - 1 ? last : 0xffff, o + r * dv + 16 * c);
    for (int64_t j = 0; j < nk; j++) {
        __m512 x[4];
        if (j + PD < avail) /* rows PD ahead, first pass over them only */
#pragma GCC unroll 4
            for (int c = 0; c < nv; c++)
                _mm_prefetch((const char *)(v + (j + PD) * vc + 16 * c), _MM_HINT_T0);
#pragma GCC unroll 4
        for (int c = 0; c < nv; c++)
            x[c] =
                _mm512_maskz_loadu_ps(c == nv - 1 ? last : 0xffff, v + j * vc + 16 * c);
#pragma GCC unroll 6
        for (int r = 0; r < rn; r++) {
            __m512 w = _mm512_set1_ps(p[r * lp + j]);
#pragma GCC unroll 4
            for (int c = 0; c < nv; c++)
                acc[r][c] = _mm512_fmadd_ps(w, x[c], acc[r][c]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < rn; r++)
#pragma GCC unroll 4
        for (int c = 0; c < nv; c++)
            _mm512_mask_storeu_ps(o + r * dv + 16 * c, c == nv - 1 ? last : 0xffff,
                                  acc[r][c]);
}

ALWAYS void wsum_rows(int rn, int64_t nk, int64_t avail, int64_t dv, const float *p,
                      int64_t lp, const float *v, int64_t vc, float *o)
{
    for (int64_t c = 0; c < dv; c += 64) {
        int64_t w = dv - c < 64 ? dv - c : 64;
        int nv = (int)((w + 15) / 16);
        __mmask16 last = tail_mask(w - 16 * (nv - 1));
        switch (nv) {
        case 1:
            wsum_block(rn, 1, last, nk, avail, p, lp, v + c, vc, o + c, dv);
            break;
        case 2:
            wsum_block(rn, 2, last, nk, avail, p, lp, v + c, vc, o + c, dv);
            break;
        case 3:
            wsum_block(rn, 3, last, nk, avail, p, lp, v + c, vc, o + c, dv);
            break;
        default:
            wsum_block(rn, 4, last, nk, avail, p, lp, v + c, vc, o + c, dv);
            break;
        }
    }
}

/* Keys in blocks of 64 so that the rows after the first six find the
 * values in L1: the values are read from memory once. */
static void wsum_avx512(int64_t nk, int64_t dv, int nr, const float *p, int64_t lp,
                        const float *v, int64_t vc, float *o)
{
    for (int64_t j = 0; j < nk; j += 64) {
        int64_t n = nk - j < 64 ? nk - j : 64;
        for (int r = 0; r < nr; r += 6) {
            const float *pr = p + r * lp + j, *vj = v + j * vc;
            float *orow = o + r * dv;
            int64_t avail = r == 0 ? nk - j : 0; /* prefetch on the first pass */
            switch (nr - r < 6 ? nr - r : 6) {
            case 1:
                wsum_rows(1, n, avail, dv, pr, lp, vj, vc, orow);
                break;
            case 2:
                wsum_rows(2, n, avail, dv, pr, lp, vj, vc, orow);
                break;
            case 3:
                wsum_rows(3, n, avail, dv, pr, lp, vj, vc, orow);
                break;
            case 4:
                wsum_rows(4, n, avail, dv, pr, lp, vj, vc, orow);
                break;
            case 5:
                wsum_rows(5, n, avail, dv, pr, lp, vj, vc, orow);
                break;
            default:
                wsum_rows(6, n, avail, dv, pr, lp, vj, vc, orow);
                break;
            }
        }
    }
}

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

static const na__fused_ops ops_avx512 = {"avx512",       qk_avx512,   softmax_avx512,
                                         pv_avx512,      dots_avx512, max_avx512,
                                         exp_sum_avx512, wsum_avx512};

/* ---- selection --------------------------------------------------------------------- */

static bool cpu_has_avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
}

static bool cpu_has_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

static _Atomic(const na__fused_ops *) g_forced;

const na__fused_ops *na__fused_ops_get(void)
{
    const na__fused_ops *f = atomic_load_explicit(&g_forced, memory_order_relaxed);
    if (f)
        return f;
    static _Atomic(const na__fused_ops *) best;
    const na__fused_ops *b = atomic_load_explicit(&best, memory_order_acquire);
    if (!b) {
        b = cpu_has_avx512() ? &ops_avx512 : cpu_has_avx2() ? &ops_avx2 : &ops_generic;
        atomic_store_explicit(&best, b, memory_order_release);
    }
    return b;
}

bool na__fused_force_kernels(const char *name)
{
    const na__fused_ops *f = NULL;
    if (name && strcmp(name, "generic") == 0)
        f = &ops_generic;
    else if (name && strcmp(name, "avx2") == 0) {
        if (!cpu_has_avx2())
            return false;
        f = &ops_avx2;
    } else if (name && strcmp(name, "avx512") == 0) {
        if (!cpu_has_avx512())
            return false;
        f = &ops_avx512;
    } else if (name)
        return false;
    atomic_store(&g_forced, f);
    return true;
}

const char *na__fused_kernels(void)
{
    return na__fused_ops_get()->name;
}
