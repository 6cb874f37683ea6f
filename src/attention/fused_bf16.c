/* The decode path's kernels for a bf16 KV cache (contracts in
 * fused_internal.h, na__fused_bf16_ops): the scores of a few query rows
 * against bf16 keys and the weighted sum of bf16 values, read straight
 * from the cache (no widened copy). Sets:
 *   "generic"      plain C, a 16-bit shift widens each element (any CPU;
 *                  the reference the others are tested against)
 *   "avx2"         the same C compiled for AVX2 and FMA
 *   "avx512"       AVX-512: 16 elements widened per load (vpmovzxwd, vpslld)
 *   "avx512_bf16"  scores by vdpbf16ps on pairs of bf16, the query split
 *                  into a bf16 high part and a bf16 remainder (products of
 *                  about 16 bits of the query with the exact key: ~1e-5
 *                  relative); values as "avx512"
 * The set follows the fused kernels in use (generic -> generic, avx2 ->
 * avx2, avx512 -> avx512_bf16 where the CPU has AVX512-BF16, else avx512)
 * unless a test forces one. */
#include <stdatomic.h>
#include <string.h>

#include "attention/fused_internal.h"
#include "core/cpu.h"
#include "namedarr/array.h"

static inline float widen(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- plain C (generic, avx2) ------------------------------------------------------ */

#define C_INLINE static inline __attribute__((always_inline))

C_INLINE void c_dots(int64_t nk, int64_t dp, int nr, const float *q, const uint16_t *k,
                     int64_t kc, float *s, int64_t ls)
{
    for (int64_t j = 0; j < nk; j++)
        for (int r = 0; r < nr; r++) {
            const float *qr = q + r * dp;
            const uint16_t *kj = k + j * kc;
            float acc[8] = {0};
            int64_t d = 0;
            for (; d + 8 <= dp; d += 8)
                for (int e = 0; e < 8; e++)
                    acc[e] += qr[d + e] * widen(kj[d + e]);
            for (; d < dp; d++)
                acc[0] += qr[d] * widen(kj[d]);
            s[r * ls + j] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) +
                            ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        }
}

C_INLINE void c_wsum(int64_t nk, int64_t dv, int nr, const float *p, int64_t lp,
                     const uint16_t *v, int64_t vc, float *o)
{
    for (int64_t j = 0; j < nk; j++)
        for (int r = 0; r < nr; r++) {
            float w = p[r * lp + j];
            if (w == 0)
                continue;
            for (int64_t c = 0; c < dv; c++)
                o[r * dv + c] += w * widen(v[j * vc + c]);
        }
}

#define C_SET(sfx, ATTR)                                                                 \
    ATTR static void dots_##sfx(int64_t nk, int64_t dp, int nr, const float *q,          \
                                const uint16_t *qb, const uint16_t *k, int64_t kc,       \
                                float *s, int64_t ls)                                    \
    {                                                                                    \
        (void)qb;                                                                        \
        c_dots(nk, dp, nr, q, k, kc, s, ls);                                             \
    }                                                                                    \
    ATTR static void wsum_##sfx(int64_t nk, int64_t dv, int nr, const float *p,          \
                                int64_t lp, const uint16_t *v, int64_t vc, float *o)     \
    {                                                                                    \
        c_wsum(nk, dv, nr, p, lp, v, vc, o);                                             \
    }                                                                                    \
    static const na__fused_bf16_ops ops_##sfx = {#sfx, dots_##sfx, wsum_##sfx};

C_SET(generic, )

#if defined(__x86_64__)
C_SET(avx2, __attribute__((target("avx2,fma"))))

/* ---- AVX-512 ---------------------------------------------------------------------- */

#include <immintrin.h>

#include "attention/fused_avx512_util.h"

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,fma")))
#define I512 static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512vl,fma")))
#define TBF __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,fma")))
#define IBF                                                                              \
    static inline __attribute__((always_inline,                                          \
                                 target("avx512f,avx512bw,avx512vl,avx512bf16,fma")))

/* 16 bf16 (the first of them under k; the rest 0) as f32. */
I512 __m512 load16(const uint16_t *p, __mmask16 k)
{
    __m256i h = _mm256_maskz_loadu_epi16(k, p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* One row's scores against 16 keys, widened 16 features at a time. */
I512 __m512 dot16_widen(int64_t dp, const float *q, const uint16_t *k, int64_t kc)
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
            acc[j] = _mm512_fmadd_ps(qv, load16(k + j * kc + d, t), acc[j]);
    }
    return na__lane_sums16(acc);
}

T512 static void dots_avx512(int64_t nk, int64_t dp, int nr, const float *q,
                             const uint16_t *qb, const uint16_t *k, int64_t kc, float *s,
                             int64_t ls)
{
    (void)qb;
    int64_t j = 0;
    for (; j + 16 <= nk; j += 16)
        for (int r = 0; r < nr; r++)
            _mm512_storeu_ps(s + r * ls + j, dot16_widen(dp, q + r * dp, k + j * kc, kc));
    for (; j < nk; j++)
        for (int r = 0; r < nr; r++) {
            __m512 a = _mm512_setzero_ps();
            for (int64_t d = 0; d < dp; d += 16) {
                __mmask16 t = na__tail_mask16(dp - d);
                a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(t, q + r * dp + d),
                                    load16(k + j * kc + d, t), a);
            }
            s[r * ls + j] = _mm512_reduce_add_ps(a);
        }
}

/* o[r, c0..c0+64) over the keys, four vectors of features per row. */
I512 void wsum_block(int64_t nk, int64_t dv, int64_t c0, const float *p,
                     const uint16_t *v, int64_t vc, float *o)
{
    __mmask16 m[4];
    __m512 acc[4];
#pragma GCC unroll 4
    for (int e = 0; e < 4; e++) {
        int64_t left = dv - c0 - 16 * e;
        m[e] = left <= 0 ? 0 : na__tail_mask16(left);
        acc[e] = _mm512_maskz_loadu_ps(m[e], o + c0 + 16 * e);
    }
    for (int64_t j = 0; j < nk; j++) {
        __m512 w = _mm512_set1_ps(p[j]);
        const uint16_t *x = v + j * vc + c0;
    #pragma GCC unroll 4
    for (int e = 0; e < 4; e++)
            acc[e] = _mm512_fmadd_ps(w, load16(x + 16 * e, m[e]), acc[e]);
    }
#pragma GCC unroll 4
    for (int e = 0; e < 4; e++)
        _mm512_mask_storeu_ps(o + c0 + 16 * e, m[e], acc[e]);
}

T512 static void wsum_avx512(int64_t nk, int64_t dv, int nr, const float *p, int64_t lp,
                             const uint16_t *v, int64_t vc, float *o)
{
    for (int r = 0; r < nr; r++)
        for (int64_t c0 = 0; c0 < dv; c0 += 64)
            wsum_block(nk, dv, c0, p + r * lp, v, vc, o + r * dv);
}

static const na__fused_bf16_ops ops_avx512 = {"avx512", dots_avx512, wsum_avx512};

/* ---- AVX512-BF16 ------------------------------------------------------------------ */

IBF __mmask32 tail32(int64_t n)
{
    return n >= 32 ? (__mmask32)0xffffffffu : (__mmask32)((1u << n) - 1);
}

/* One row's scores against 16 keys: the high and low bf16 parts of the
 * query (qh, ql) times the keys, 32 features (16 pairs) per instruction. */
IBF __m512 dot16_bf16(int64_t dp, const uint16_t *qh, const uint16_t *ql,
                      const uint16_t *k, int64_t kc)
{
    __m512 acc[16];
#pragma GCC unroll 16
    for (int j = 0; j < 16; j++)
        acc[j] = _mm512_setzero_ps();
    for (int64_t d = 0; d < dp; d += 32) {
        __mmask32 t = tail32(dp - d);
        __m512bh h = (__m512bh)_mm512_maskz_loadu_epi16(t, qh + d);
        __m512bh l = (__m512bh)_mm512_maskz_loadu_epi16(t, ql + d);
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++) {
            __m512bh kv = (__m512bh)_mm512_maskz_loadu_epi16(t, k + j * kc + d);
            acc[j] = _mm512_dpbf16_ps(_mm512_dpbf16_ps(acc[j], kv, h), kv, l);
        }
    }
    return na__lane_sums16(acc);
}

TBF static void dots_avx512_bf16(int64_t nk, int64_t dp, int nr, const float *q,
                                 const uint16_t *qb, const uint16_t *k, int64_t kc,
                                 float *s, int64_t ls)
{
    int64_t j = 0;
    for (; j + 16 <= nk; j += 16)
        for (int r = 0; r < nr; r++) {
            const uint16_t *qh = qb + 2 * r * dp;
            _mm512_storeu_ps(s + r * ls + j, dot16_bf16(dp, qh, qh + dp, k + j * kc, kc));
        }
    if (j < nk) /* the last few keys: widened */
        dots_avx512(nk - j, dp, nr, q, qb, k + j * kc, kc, s + j, ls);
}

static const na__fused_bf16_ops ops_avx512_bf16 = {"avx512_bf16", dots_avx512_bf16,
                                                   wsum_avx512};
#endif

/* ---- choice ----------------------------------------------------------------------- */

static _Atomic(const na__fused_bf16_ops *) g_forced;

static const na__fused_bf16_ops *named(const char *name)
{
    if (strcmp(name, "generic") == 0)
        return &ops_generic;
#if defined(__x86_64__)
    if (strcmp(name, "avx2") == 0 && na__cpu_avx2_fma())
        return &ops_avx2;
    if (strcmp(name, "avx512") == 0 && na__cpu_avx512())
        return &ops_avx512;
    if (strcmp(name, "avx512_bf16") == 0 && na__cpu_avx512_bf16())
        return &ops_avx512_bf16;
#endif
    return NULL;
}

const na__fused_bf16_ops *na__fused_bf16_ops_get(void)
{
    const na__fused_bf16_ops *f = atomic_load_explicit(&g_forced, memory_order_relaxed);
    if (f)
        return f;
    const char *set = na__fused_ops_get()->name;
    if (strcmp(set, "avx512") == 0 && (f = named("avx512_bf16")) != NULL)
        return f;
    f = named(set);
    return f ? f : &ops_generic;
}

bool na__fused_force_bf16(const char *name)
{
    const na__fused_bf16_ops *f = NULL;
    if (name && !(f = named(name)))
        return false;
    atomic_store(&g_forced, f);
    return true;
}

void na__fused_split_bf16(int64_t n, const float *q, uint16_t *hi, uint16_t *lo)
{
    for (int64_t i = 0; i < n; i++) {
        hi[i] = na_bf16_from_f32(q[i]);
        lo[i] = na_bf16_from_f32(q[i] - widen(hi[i]));
    }
}
