/* Seeded random arrays from a counter-based generator.
 *
 * Element i of a fresh contiguous array is a function of (seed, i) only:
 * Philox-4x32-10 with key = seed and counter = (i, 0), turned into a
 * float. So a seed gives the same numbers on every machine and for every
 * thread count, and any slice can be recomputed alone.
 *   uniform   [lo, hi): 24 bits (f32) or 53 bits (f64) of the first words
 *   normal    Box-Muller on two 53-bit uniforms from the four words
 *   bernoulli u < p with a 53-bit uniform u
 */
#include <math.h>
#include <stdlib.h>

#include "internal.h"
#include "views_internal.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u
#define PAR_MIN (1 << 16)

static void philox_round(uint32_t c[4], const uint32_t k[2])
{
    uint64_t p0 = (uint64_t)PHILOX_M0 * c[0];
    uint64_t p1 = (uint64_t)PHILOX_M1 * c[2];
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k[0];
    uint32_t n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k[1];
    c[0] = n0;
    c[1] = (uint32_t)p1;
    c[2] = n2;
    c[3] = (uint32_t)p0;
}

void na__philox4x32(const uint32_t ctr[4], const uint32_t key[2],
                    uint32_t out[4])
{
    uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]};
    uint32_t k[2] = {key[0], key[1]};
    for (int r = 0; r < 10; r++) {
        if (r > 0) {
            k[0] += PHILOX_W0;
            k[1] += PHILOX_W1;
        }
        philox_round(c, k);
    }
    for (int j = 0; j < 4; j++)
        out[j] = c[j];
}

/* The four words for element i under `seed`. */
static void draw(uint64_t seed, int64_t i, uint32_t w[4])
{
    uint32_t ctr[4] = {(uint32_t)i, (uint32_t)((uint64_t)i >> 32), 0, 0};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    na__philox4x32(ctr, key, w);
}

/* Uniforms from words: [0, 1) with 53 or 24 bits. */
static double unit53(uint32_t hi, uint32_t lo)
{
    uint64_t b = ((uint64_t)hi << 21) ^ (lo >> 11);
    return (double)b * 0x1.0p-53;
}

static float unit24(uint32_t w) { return (float)(w >> 8) * 0x1.0p-24f; }

/* ---- argument checks ----------------------------------------------------- */

static na_status float_dtype(const char *op, na_dtype dtype)
{
    if (dtype == NA_F32 || dtype == NA_F64)
        return NA_OK;
    return na__fail(NA_ERR_DTYPE, "%s: dtype %s; random floats are f32 or f64",
                    op, na_dtype_name(dtype));
}

static na_status new_out(const char *op, na_dtype dtype, int ndim,
                         const na_dim *dims, na_array **out, na_array **x)
{
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "%s: out is NULL", op);
    return na__new(op, dtype, ndim, dims, x);
}

/* ---- uniform ------------------------------------------------------------- */

static void fill_uniform_f32(uint64_t seed, float *o, int64_t n, double lo,
                             double hi)
{
    float flo = (float)lo, fhi = (float)hi, top = nextafterf(fhi, -INFINITY);
#pragma omp parallel for num_threads(na__threads()) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        uint32_t w[4];
        draw(seed, i, w);
        float v = (float)(lo + (hi - lo) * (double)unit24(w[0]));
        o[i] = v < fhi || fhi <= flo ? v : top; /* keep hi out after rounding */
    }
}

static void fill_uniform_f64(uint64_t seed, double *o, int64_t n, double lo,
                             double hi)
{
    double top = nextafter(hi, -INFINITY);
#pragma omp parallel for num_threads(na__threads()) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        uint32_t w[4];
        draw(seed, i, w);
        double v = lo + (hi - lo) * unit53(w[0], w[1]);
        o[i] = v < hi || hi <= lo ? v : top;
    }
}

na_status na_random_uniform(uint64_t seed, na_dtype dtype, int ndim,
                            const na_dim *dims, double lo, double hi,
                            na_array **out)
{
    const char *op = "na_random_uniform";
    na_status st = float_dtype(op, dtype);
    if (st != NA_OK)
        return st;
    if (!(lo <= hi) || !isfinite(lo) || !isfinite(hi))
        return na__fail(NA_ERR_ARGUMENT, "%s: bad bounds [%g, %g) (need finite "
                        "lo <= hi)", op, lo, hi);
    na_array *x;
    st = new_out(op, dtype, ndim, dims, out, &x);
    if (st != NA_OK)
        return st;
    if (dtype == NA_F32)
        fill_uniform_f32(seed, na_data(x), na_size(x), lo, hi);
    else
        fill_uniform_f64(seed, na_data(x), na_size(x), lo, hi);
    *out = x;
    return NA_OK;
}

/* ---- normal -------------------------------------------------------------- */

/* One standard normal from the four words (Box-Muller, cosine branch). */
static double box_muller(const uint32_t w[4])
{
    const double two_pi = 6.283185307179586476925286766559;
    double u1 = unit53(w[0], w[1]) + 0x1.0p-53; /* (0, 1]: log is finite */
    double u2 = unit53(w[2], w[3]);
    return sqrt(-2.0 * log(u1)) * cos(two_pi * u2);
}

static void fill_normal(uint64_t seed, na_array *x, double mean, double sd)
{
    int64_t n = na_size(x);
    void *o = na_data(x);
    bool f32 = x->dtype == NA_F32;
#pragma omp parallel for num_threads(na__threads()) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        uint32_t w[4];
        draw(seed, i, w);
        double v = mean + sd * box_muller(w);
        if (f32)
            ((float *)o)[i] = (float)v;
        else
            ((double *)o)[i] = v;
    }
}

na_status na_random_normal(uint64_t seed, na_dtype dtype, int ndim,
                           const na_dim *dims, double mean, double stddev,
                           na_array **out)
{
    const char *op = "na_random_normal";
    na_status st = float_dtype(op, dtype);
    if (st != NA_OK)
        return st;
    if (!isfinite(mean) || !isfinite(stddev) || stddev < 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: bad mean %g / stddev %g (need "
                        "finite, stddev >= 0)", op, mean, stddev);
    na_array *x;
    st = new_out(op, dtype, ndim, dims, out, &x);
    if (st != NA_OK)
        return st;
    fill_normal(seed, x, mean, stddev);
    *out = x;
    return NA_OK;
}

/* ---- bernoulli ----------------------------------------------------------- */

na_status na_random_bernoulli(uint64_t seed, int ndim, const na_dim *dims,
                              double p, na_array **out)
{
    const char *op = "na_random_bernoulli";
    if (!(p >= 0.0 && p <= 1.0))
        return na__fail(NA_ERR_ARGUMENT, "%s: probability %g is not in [0, 1]",
                        op, p);
    na_array *x;
    na_status st = new_out(op, NA_BOOL, ndim, dims, out, &x);
    if (st != NA_OK)
        return st;
    int64_t n = na_size(x);
    bool *o = na_data(x);
#pragma omp parallel for num_threads(na__threads()) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        uint32_t w[4];
        draw(seed, i, w);
        o[i] = unit53(w[0], w[1]) < p;
    }
    *out = x;
    return NA_OK;
}
