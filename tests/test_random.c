/* Seeded random arrays: Philox-4x32-10 known answers, determinism across
 * thread counts and shapes, moments, errors. */
#include <math.h>

#include "support.h"
#include "views_internal.h"

/* Random123's published known-answer vectors (kat_vectors). */
Test(random, philox_known_answers)
{
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
         0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
         0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    for (int i = 0; i < 3; i++) {
        uint32_t out[4];
        na__philox4x32(kat[i], kat[i] + 4, out);
        for (int j = 0; j < 4; j++)
            cr_assert_eq(out[j], kat[i][6 + j], "vector %d word %d: %08x", i, j,
                         out[j]);
    }
}

typedef na_status (*make_fn)(uint64_t seed, int64_t n, na_array **out);

static na_status make_uniform32(uint64_t s, int64_t n, na_array **o)
{
    return na_random_uniform(s, NA_F32, NA_DIMS({"i", n}), -2.0, 3.0, o);
}
static na_status make_uniform64(uint64_t s, int64_t n, na_array **o)
{
    return na_random_uniform(s, NA_F64, NA_DIMS({"i", n}), -2.0, 3.0, o);
}
static na_status make_normal32(uint64_t s, int64_t n, na_array **o)
{
    return na_random_normal(s, NA_F32, NA_DIMS({"i", n}), 1.5, 2.0, o);
}
static na_status make_normal64(uint64_t s, int64_t n, na_array **o)
{
    return na_random_normal(s, NA_F64, NA_DIMS({"i", n}), 1.5, 2.0, o);
}
static na_status make_bernoulli(uint64_t s, int64_t n, na_array **o)
{
    return na_random_bernoulli(s, NA_DIMS({"i", n}), 0.3, o);
}

static const make_fn k_makers[] = {make_uniform32, make_uniform64, make_normal32,
                                   make_normal64, make_bernoulli};

static bool same_bytes(const na_array *a, const na_array *b, int64_t n)
{
    return memcmp(na_data(a), na_data(b), (size_t)n * na_dtype_size(a->dtype)) == 0;
}

Test(random, same_numbers_for_any_thread_count)
{
    const int64_t n = 200003; /* past the parallel threshold */
    for (size_t k = 0; k < sizeof k_makers / sizeof k_makers[0]; k++) {
        na_array *a = NULL, *b = NULL, *c = NULL;
        na_set_num_threads(1);
        NA_OK_OR_FAIL(k_makers[k](1234, n, &a));
        na_set_num_threads(2);
        NA_OK_OR_FAIL(k_makers[k](1234, n, &b));
        na_set_num_threads(7);
        NA_OK_OR_FAIL(k_makers[k](1234, n, &c));
        na_set_num_threads(0);
        cr_assert(same_bytes(a, b, n), "generator %zu: 1 vs 2 threads", k);
        cr_assert(same_bytes(a, c, n), "generator %zu: 1 vs 7 threads", k);
        TS_FREE(a, b, c);
    }
}

Test(random, element_i_depends_on_seed_and_i_only)
{
    for (size_t k = 0; k < sizeof k_makers / sizeof k_makers[0]; k++) {
        na_array *small = NULL, *big = NULL, *other = NULL;
        NA_OK_OR_FAIL(k_makers[k](99, 17, &small));
        NA_OK_OR_FAIL(k_makers[k](99, 100000, &big));
        NA_OK_OR_FAIL(k_makers[k](100, 17, &other));
        cr_assert(same_bytes(small, big, 17), "generator %zu: prefix differs", k);
        if (k < 4) /* floats: another seed gives other numbers */
            cr_assert(!same_bytes(small, other, 17), "generator %zu: seed ignored", k);
        TS_FREE(small, big, other);
    }
}

Test(random, golden_values_are_stable)
{
    /* Pin the mapping from Philox words to floats: element 0 with seed 0 is
     * Philox(counter 0, key 0) = 6627e8d5 e169c58d ... */
    na_array *u = NULL, *d = NULL;
    NA_OK_OR_FAIL(na_random_uniform(0, NA_F32, NA_DIMS({NULL, 1}), 0.0, 1.0, &u));
    NA_OK_OR_FAIL(na_random_uniform(0, NA_F64, NA_DIMS({NULL, 1}), 0.0, 1.0, &d));
    cr_assert_eq(((float *)na_data(u))[0], (float)(0x6627e8d5u >> 8) * 0x1.0p-24f);
    double want = (double)(((uint64_t)0x6627e8d5u << 21) ^ (0xe169c58du >> 11)) *
                  0x1.0p-53;
    cr_assert_eq(((double *)na_data(d))[0], want);
    TS_FREE(u, d);
}

/* Mean and (population) variance over every element. */
static void moments(const na_array *x, double *mean, double *var)
{
    int64_t n = na_size(x);
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = na_get(x, &i);
        s += v;
        s2 += v * v;
    }
    *mean = s / (double)n;
    *var = s2 / (double)n - *mean * *mean;
}

Test(random, uniform_moments_and_bounds)
{
    const int64_t n = 100000;
    na_dtype dts[2] = {NA_F32, NA_F64};
    for (int k = 0; k < 2; k++) {
        na_array *x = NULL;
        NA_OK_OR_FAIL(na_random_uniform(7, dts[k], NA_DIMS({"i", n}), -2.0, 3.0, &x));
        double lo = INFINITY, hi = -INFINITY, mean, var;
        for (int64_t i = 0; i < n; i++) {
            double v = na_get(x, &i);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        cr_assert(lo >= -2.0 && hi < 3.0, "range [%g, %g]", lo, hi);
        cr_assert(lo < -1.99 && hi > 2.99, "range [%g, %g] too narrow", lo, hi);
        moments(x, &mean, &var);
        /* sd of the mean: sqrt(25/12/n) ~ 0.0046 */
        cr_assert(fabs(mean - 0.5) < 0.02, "mean %g", mean);
        cr_assert(fabs(var - 25.0 / 12.0) < 0.04, "var %g", var);
        na_array_free(x);
    }
}

Test(random, normal_moments_and_shape)
{
    const int64_t n = 100000;
    na_dtype dts[2] = {NA_F32, NA_F64};
    for (int k = 0; k < 2; k++) {
        na_array *x = NULL;
        NA_OK_OR_FAIL(na_random_normal(8, dts[k], NA_DIMS({"a", 400}, {NULL, 250}),
                                       1.5, 2.0, &x));
        cr_assert_eq(na_axis_size(x, "a"), 400);
        cr_assert_eq(x->dtype, dts[k]);
        int64_t within1 = 0;
        const double *dp = na_data(x);
        const float *fp = na_data(x);
        double s = 0, s2 = 0;
        for (int64_t i = 0; i < n; i++) {
            double v = dts[k] == NA_F32 ? fp[i] : dp[i];
            cr_assert(isfinite(v));
            s += v;
            s2 += v * v;
            within1 += fabs(v - 1.5) < 2.0;
        }
        double mean = s / n, var = s2 / n - mean * mean;
        /* sd of the mean 2/sqrt(n) ~ 0.0063; of the variance ~ 0.018 */
        cr_assert(fabs(mean - 1.5) < 0.03, "mean %g", mean);
        cr_assert(fabs(var - 4.0) < 0.1, "var %g", var);
        double frac = (double)within1 / n; /* 68.27% within one sd */
        cr_assert(fabs(frac - 0.6827) < 0.01, "within 1 sd: %g", frac);
        na_array_free(x);
    }
}

Test(random, bernoulli_rate)
{
    const int64_t n = 100000;
    const double ps[] = {0.0, 0.3, 0.5, 1.0};
    for (int k = 0; k < 4; k++) {
        na_array *x = NULL;
        NA_OK_OR_FAIL(na_random_bernoulli(5, NA_DIMS({"i", n}), ps[k], &x));
        cr_assert_eq(x->dtype, NA_BOOL);
        int64_t t = 0;
        for (int64_t i = 0; i < n; i++)
            t += ((const bool *)na_data(x))[i];
        double rate = (double)t / n;
        /* 4 sd of the rate at p = 0.5: 4 * 0.0016 */
        cr_assert(fabs(rate - ps[k]) < 0.0065, "p %g: rate %g", ps[k], rate);
        if (ps[k] == 0.0 || ps[k] == 1.0)
            cr_assert_eq(rate, ps[k]);
        na_array_free(x);
    }
}

Test(random, zero_size_and_degenerate_ranges)
{
    na_array *x = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_random_normal(1, NA_F32, NA_DIMS({"a", 0}, {"b", 3}), 0, 1, &x));
    cr_assert_eq(na_size(x), 0);
    NA_OK_OR_FAIL(na_random_uniform(1, NA_F64, NA_DIMS({"a", 5}), 2.0, 2.0, &y));
    for (int64_t i = 0; i < 5; i++)
        cr_assert_eq(na_get(y, &i), 2.0);
    TS_FREE(x, y);
}

Test(random, errors_name_op_and_arguments)
{
    na_array *out = NULL;
    NA_EXPECT_FAIL(na_random_uniform(1, NA_I32, NA_DIMS({"a", 3}), 0, 1, &out),
                   NA_ERR_DTYPE, "na_random_uniform", "i32");
    NA_EXPECT_FAIL(na_random_normal(1, NA_BOOL, NA_DIMS({"a", 3}), 0, 1, &out),
                   NA_ERR_DTYPE, "na_random_normal", "bool");
    NA_EXPECT_FAIL(na_random_uniform(1, NA_F32, NA_DIMS({"a", 3}), 1, 0, &out),
                   NA_ERR_ARGUMENT, "na_random_uniform", "[1, 0)");
    NA_EXPECT_FAIL(na_random_uniform(1, NA_F32, NA_DIMS({"a", 3}), 0, INFINITY, &out),
                   NA_ERR_ARGUMENT, "na_random_uniform");
    NA_EXPECT_FAIL(na_random_normal(1, NA_F32, NA_DIMS({"a", 3}), 0, -1, &out),
                   NA_ERR_ARGUMENT, "na_random_normal", "stddev -1");
    NA_EXPECT_FAIL(na_random_bernoulli(1, NA_DIMS({"a", 3}), 1.5, &out),
                   NA_ERR_ARGUMENT, "na_random_bernoulli", "1.5");
    NA_EXPECT_FAIL(na_random_bernoulli(1, NA_DIMS({"a", 3}), NAN, &out),
                   NA_ERR_ARGUMENT, "na_random_bernoulli");
    NA_EXPECT_FAIL(na_random_bernoulli(1, NA_DIMS({"a", -3}), 0.5, &out),
                   NA_ERR_SHAPE, "na_random_bernoulli", "'a'");
    NA_EXPECT_FAIL(na_random_normal(1, NA_F32, NA_DIMS({"a", 2}, {"a", 2}), 0, 1, &out),
                   NA_ERR_AXIS, "na_random_normal", "'a'");
    cr_assert_null(out);
    NA_EXPECT_FAIL(na_random_uniform(1, NA_F32, NA_DIMS({"a", 2}), 0, 1, NULL),
                   NA_ERR_ARGUMENT, "na_random_uniform");
}
