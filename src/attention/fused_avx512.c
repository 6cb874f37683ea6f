/* The AVX-512 kernel set of the fused attention path (contracts in
 * fused_internal.h). Every function carries a target attribute instead of
 * a file-wide flag or pragma: gcc and clang both honour it, and nothing in
 * this file runs unless fused_dispatch.c found AVX-512F and FMA on the CPU.
 * Tested against the reference set (fused_ref.c) in tests/test_fused.c. */
#if defined(__x86_64__)

#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "attention/fused_avx512_util.h"
#include "attention/fused_internal.h"

#define NA__AVX512 __attribute__((target("avx512f,fma")))
#define ALWAYS static inline __attribute__((always_inline, target("avx512f,fma")))

/* 2^x for x <= 126, to about 2e-7 relative: x = n + f, n = round(x),
 * |f| <= 1/2; 2^f by a degree-5 polynomial fitted for relative error and
 * exact at 0 (the same as the plain-C na__c_exp2), times 2^n by vscalefps.
 * x < -126 (and -inf, NaN) gives exactly 0, so masked keys weigh nothing:
 * the comparison's mask zeroes them, no clamping needed. */
ALWAYS __m512 exp2_512(__m512 x)
{
    __mmask16 live = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-126.0f), _CMP_GE_OQ);
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.326471451e-3f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.671513923e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550733954e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402224243e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931470037e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_maskz_scalef_ps(live, p, n);
}

/* tanh as the plain-C na__c_tanh: the odd series to y^7 for |y| < 1/4,
 * else sign(y) (1 - e) / (1 + e) with e = exp(-2|y|) from exp2_512. */
ALWAYS __m512 tanh_512(__m512 y)
{
    __m512 a = _mm512_abs_ps(y), y2 = _mm512_mul_ps(y, y);
    __m512 p = _mm512_fmadd_ps(y2, _mm512_set1_ps(-0.0539682540f),
                               _mm512_set1_ps(0.133333333f));
    p = _mm512_fmadd_ps(y2, p, _mm512_set1_ps(-0.333333333f));
    p = _mm512_fmadd_ps(y2, p, _mm512_set1_ps(1.0f));
    __m512 small = _mm512_mul_ps(y, p);
    __m512 e = exp2_512(_mm512_mul_ps(a, _mm512_set1_ps(-2.885390082f)));
    __m512 one = _mm512_set1_ps(1.0f);
    __m512 big = _mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e));
    __m512i sign = _mm512_and_si512(_mm512_castps_si512(y), _mm512_set1_epi32(INT32_MIN));
    big = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(big), sign));
    __mmask16 lo = _mm512_cmp_ps_mask(a, _mm512_set1_ps(0.25f), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(lo, big, small);
}

/* ---- register-blocked products ------------------------------------------------------ */

/* The inner step of every product below: acc[r][c] += s[r * ss] * x[c]
 * for r < rn, c < nv; one broadcast per row, shared by its nv vectors. */
ALWAYS void rank1(int rn, int nv, __m512 (*acc)[4], const float *s, int64_t ss,
                  const __m512 *x)
{
#pragma GCC unroll 8
    for (int r = 0; r < rn; r++) {
        __m512 b = _mm512_set1_ps(s[r * ss]);
#pragma GCC unroll 4
        for (int c = 0; c < nv; c++)
            acc[r][c] = _mm512_fmadd_ps(b, x[c], acc[r][c]);
    }
}

/* nv vectors from p (the last one `last` lanes wide, zeros beyond). */
ALWAYS void load_row(int nv, __mmask16 last, const float *p, __m512 *x)
{
#pragma GCC unroll 4
    for (int c = 0; c < nv; c++)
        x[c] = _mm512_maskz_loadu_ps(c == nv - 1 ? last : 0xffff, p + 16 * c);
}

/* ---- the tiled path ---------------------------------------------------------------- */

/* rj keys x nv vectors of 16 query rows: the accumulators stay in registers
 * over the whole projection; the row maxima are taken on the way out. */
ALWAYS void qk_block(int rj, int nv, int64_t dp, const float *k, int64_t kld,
                     const float *qt, int bq, float *st, __m512 *mx)
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
        rank1(rj, nv, acc, k + d, kld, q);
    }
#pragma GCC unroll 8
    for (int r = 0; r < rj; r++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            _mm512_store_ps(st + r * bq + 16 * v, acc[r][v]);
            mx[v] = _mm512_max_ps(mx[v], acc[r][v]);
        }
}

ALWAYS void qk_nv(int nv, int64_t nk, int64_t dp, const float *k, int64_t kld,
                  const float *qt, float *st, float *tmx)
{
    /* 12 or more accumulators hide the FMA latency (8 would, with two
     * FMA units of latency 4); 4 and 8 divide the usual tiles of 16 to 64
     * keys; 8 x 3 (with the maxima and queries) would not fit the 32
     * registers */
    const int rj = nv >= 3 ? 4 : 8, bq = 16 * nv;
    __m512 mx[4];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
        mx[v] = _mm512_set1_ps(-INFINITY);
    int64_t j = 0;
    for (; j + rj <= nk; j += rj)
        qk_block(rj, nv, dp, k + j * kld, kld, qt, bq, st + j * bq, mx);
    for (; j + 2 <= nk; j += 2)
        qk_block(2, nv, dp, k + j * kld, kld, qt, bq, st + j * bq, mx);
    for (; j < nk; j++)
        qk_block(1, nv, dp, k + j * kld, kld, qt, bq, st + j * bq, mx);
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
        _mm512_store_ps(tmx + 16 * v, mx[v]);
}

NA__AVX512 static void qk_avx512(int64_t nk, int64_t dp, const float *k, int64_t kld,
                                 const float *qt, int bq, float *st, float *mx)
{
    switch (bq / 16) {
    case 1:
        qk_nv(1, nk, dp, k, kld, qt, st, mx);
        break;
    case 2:
        qk_nv(2, nk, dp, k, kld, qt, st, mx);
        break;
    case 3:
        qk_nv(3, nk, dp, k, kld, qt, st, mx);
        break;
    default:
        qk_nv(4, nk, dp, k, kld, qt, st, mx);
        break;
    }
}

NA__AVX512 static void softmax_avx512(int64_t nk, int bq, float *st, const float *tmx,
                                      float *m, float *l, float *corr)
{
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    for (int v = 0; v < bq; v += 16) {
        __m512 old = _mm512_load_ps(m + v),
               mx = _mm512_max_ps(old, _mm512_load_ps(tmx + v));
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

/* rn rows (at most 6) x nv vectors of features (the last one `last` lanes
 * wide), over all nk keys of the tile. */
ALWAYS void pv_block(int rn, int nv, __mmask16 last, int64_t nk, int bq, int64_t dvp,
                     const float *st, const float *v, int64_t vld, const float *corr,
                     float *o)
{
    __m512 acc[6][4];
#pragma GCC unroll 6
    for (int r = 0; r < rn; r++) {
        __m512 c = _mm512_set1_ps(corr[r]);
#pragma GCC unroll 4
        for (int x = 0; x < nv; x++)
            acc[r][x] = _mm512_mul_ps(_mm512_load_ps(o + r * dvp + 16 * x), c);
    }
    for (int64_t j = 0; j < nk; j++) {
        __m512 x[4];
        load_row(nv, last, v + j * vld, x);
        rank1(rn, nv, acc, st + j * bq, 1, x);
    }
#pragma GCC unroll 6
    for (int r = 0; r < rn; r++)
#pragma GCC unroll 4
        for (int c = 0; c < nv; c++)
            _mm512_store_ps(o + r * dvp + 16 * c, acc[r][c]);
}

/* One chunk of nv feature vectors for every row: 6 rows at a time (24
 * accumulators), then 4 or 2 (bq is a multiple of 16). */
ALWAYS void pv_chunk(int nv, __mmask16 last, int64_t nk, int bq, int64_t dvp,
                     const float *st, const float *v, int64_t vld, const float *corr,
                     float *o)
{
    int i = 0;
    for (; i + 6 <= bq; i += 6)
        pv_block(6, nv, last, nk, bq, dvp, st + i, v, vld, corr + i, o + i * dvp);
    if (i + 4 <= bq) {
        pv_block(4, nv, last, nk, bq, dvp, st + i, v, vld, corr + i, o + i * dvp);
        i += 4;
    }
    if (i < bq)
        pv_block(2, nv, last, nk, bq, dvp, st + i, v, vld, corr + i, o + i * dvp);
}

NA__AVX512 static void pv_avx512(int64_t nk, int bq, int64_t dv, int64_t dvp,
                                 const float *st, const float *v, int64_t vld,
                                 const float *corr, float *o)
{
    for (int64_t c = 0; c < dvp; c += 64) {
        int64_t w = dv - c < 64 ? dv - c : 64;
        int nv = (int)((w + 15) / 16);
        __mmask16 last = na__tail_mask16(w - 16 * (nv - 1));
        switch (nv) {
        case 1:
            pv_chunk(1, last, nk, bq, dvp, st, v + c, vld, corr, o + c);
            break;
        case 2:
            pv_chunk(2, last, nk, bq, dvp, st, v + c, vld, corr, o + c);
            break;
        case 3:
            pv_chunk(3, last, nk, bq, dvp, st, v + c, vld, corr, o + c);
            break;
        default:
            pv_chunk(4, last, nk, bq, dvp, st, v + c, vld, corr, o + c);
            break;
        }
    }
}

/* ---- the decode path --------------------------------------------------------------- */

/* Prefetch the row [p, p + n floats) into L1 (rows PD keys ahead: the
 * cache streams from memory, and rows of one head are strided). */
#define PD 12
ALWAYS void prefetch_row(const float *p, int64_t n)
{
    for (int64_t c = 0; c < n; c += 16)
        _mm_prefetch((const char *)(p + c), _MM_HINT_T0);
}

/* One row's dot products with 16 keys, as one vector. */
ALWAYS __m512 dot16(int64_t dp, const float *q, const float *k, int64_t kc)
{
    __m512 acc[16];
#pragma GCC unroll 16
    for (int j = 0; j < 16; j++)
        acc[j] = _mm512_setzero_ps();
    for (int64_t d = 0; d < dp; d += 16) {
        __mmask16 t = na__tail_mask16(dp - d);
        __m512 qv = _mm512_maskz_loadu_ps(t, q + d);
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++)
            acc[j] =
                _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(t, k + j * kc + d), acc[j]);
    }
    return na__lane_sums16(acc);
}

NA__AVX512 static void dots_avx512(int64_t nk, int64_t dp, int nr, const float *q, const float *k,
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
                __mmask16 t = na__tail_mask16(dp - d);
                a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(t, q + r * dp + d),
                                    _mm512_maskz_loadu_ps(t, k + j * kc + d), a);
            }
            s[r * ls + j] = _mm512_reduce_add_ps(a);
        }
}

NA__AVX512 static float max_avx512(int64_t n, const float *s)
{
    __m512 m = _mm512_set1_ps(-INFINITY);
    for (int64_t j = 0; j < n; j += 16)
        m = _mm512_max_ps(m, _mm512_mask_loadu_ps(m, na__tail_mask16(n - j), s + j));
    return _mm512_reduce_max_ps(m);
}

NA__AVX512 static float exp_sum_avx512(int64_t n, float *s, float mx)
{
    __m512 m = _mm512_set1_ps(mx), sum = _mm512_setzero_ps();
    for (int64_t j = 0; j < n; j += 16) {
        __mmask16 t = na__tail_mask16(n - j);
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
        load_row(nv, last, o + r * dv, acc[r]);
    for (int64_t j = 0; j < nk; j++) {
        __m512 x[4];
        if (j + PD < avail) /* rows PD ahead, first pass over them only */
#pragma GCC unroll 4
            for (int c = 0; c < nv; c++)
                _mm_prefetch((const char *)(v + (j + PD) * vc + 16 * c), _MM_HINT_T0);
        load_row(nv, last, v + j * vc, x);
        rank1(rn, nv, acc, p + j, lp, x);
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
        __mmask16 last = na__tail_mask16(w - 16 * (nv - 1));
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
NA__AVX512 static void wsum_avx512(int64_t nk, int64_t dv, int nr, const float *p, int64_t lp,
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

NA__AVX512 static void softcap_avx512(int64_t n, float *s, float c)
{
    __m512 cv = _mm512_set1_ps(c), inv = _mm512_set1_ps(1.0f / c);
    for (int64_t j = 0; j < n; j += 16) {
        __mmask16 t = na__tail_mask16(n - j);
        __m512 x = _mm512_maskz_loadu_ps(t, s + j);
        _mm512_mask_storeu_ps(s + j, t, _mm512_mul_ps(cv, tanh_512(_mm512_mul_ps(x, inv))));
    }
}

const na__fused_ops na__fused_ops_avx512 = {
    "avx512",   qk_avx512,  softmax_avx512, pv_avx512,     dots_avx512,
    max_avx512, exp_sum_avx512, wsum_avx512, softcap_avx512};

#else
typedef int na__fused_avx512_unused; /* ISO C: no empty translation unit */
#endif
