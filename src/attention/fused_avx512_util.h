/* AVX-512 helpers shared by the f32 kernels (fused_avx512.c) and the bf16
 * decode kernels (fused_bf16.c). Include after <immintrin.h>, on x86-64
 * only; callers' target sets include avx512f and fma, so these inline. */
#ifndef NA_ATTENTION_FUSED_AVX512_UTIL_H
#define NA_ATTENTION_FUSED_AVX512_UTIL_H

#include <stdint.h>

#define NA__AVX512_INLINE static inline __attribute__((always_inline, target("avx512f,fma")))

/* The first n lanes of 16 (all 16 when n >= 16). */
NA__AVX512_INLINE __mmask16 na__tail_mask16(int64_t n)
{
    return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
}

/* Sums of the 16 lanes of each of v[0..16), as the lanes of one vector
 * (lane j: the sum of v[j]). */
NA__AVX512_INLINE __m512 na__lane_sums16(__m512 *v)
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

#endif
