/* bfloat16 conversions (see namedarr/array.h).
 *
 * f32 -> bf16 keeps the top 16 bits after rounding to nearest, ties to
 * even: add 0x7fff plus the lowest kept bit, then shift. A NaN would round
 * into an infinity or change sign that way, so it is handled first: its top
 * bits are kept and the quiet bit set, so every NaN stays a NaN.
 * bf16 -> f32 is exact: the 16 bits shifted up. */
#include <string.h>

#include "internal.h"

static inline uint32_t bits_of(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline uint16_t round_bits(uint32_t u)
{
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN */
        return (uint16_t)((u >> 16) | 0x0040u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

na_bf16 na_bf16_from_f32(float x) { return round_bits(bits_of(x)); }

float na_bf16_to_f32(na_bf16 x)
{
    uint32_t u = (uint32_t)x << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

void na_bf16_from_f32_n(const float *x, na_bf16 *out, int64_t n)
{
    const uint32_t *u = (const uint32_t *)(const void *)x;
    for (int64_t i = 0; i < n; i++)
        out[i] = round_bits(u[i]);
}

void na_bf16_to_f32_n(const na_bf16 *x, float *out, int64_t n)
{
    uint32_t *u = (uint32_t *)(void *)out;
    for (int64_t i = 0; i < n; i++)
        u[i] = (uint32_t)x[i] << 16;
}
