/* Seeded initializers: constants, xavier, variance scaling over in/out
 * axes only, determinism. */
#include <math.h>
#include <stdlib.h>

#include <namedarr/init.h>

#include "support.h"

/* Mean, variance, min and max of all elements. */
static void stats(const na_array *x, double *mean, double *var, double *lo, double *hi)
{
    int64_t n = na_size(x);
    double *v = malloc((size_t)n * sizeof *v);
    NA_OK_OR_FAIL(na_copy_to(x, NA_F64, v));
    double s = 0, s2 = 0;
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        s += v[i];
        s2 += v[i] * v[i];
        *lo = fmin(*lo, v[i]);
        *hi = fmax(*hi, v[i]);
    }
    *mean = s / n;
    *var = s2 / n - *mean * *mean;
    free(v);
}

Test(init, constants)
{
    na_init inits[] = {na_init_zeros(), na_init_ones(), na_init_constant(2.5)};
    double want[] = {0, 1, 2.5};
    for (int i = 0; i < 3; i++) {
        na_array *x = NULL;
        na_init_options o = {.init = &inits[i],
                             .n_in = 1,
                             .in = &(na_dim){"a", 3},
                             .n_parallel = 1,
                             .parallel = &(na_dim){"p", 2}};
        NA_OK_OR_FAIL(na_init_array_ex(&o, &x));
        double m, v, lo, hi;
        stats(x, &m, &v, &lo, &hi);
        cr_assert_eq(lo, want[i]);
        cr_assert_eq(hi, want[i]);
        na_array_free(x);
    }
}

Test(init, xavier_uniform_ignores_parallel_axes)
{
    /* fan_in 100, fan_out 300 (parallel heads:8 not counted): limit sqrt(6/400) */
    na_init xu = na_init_xavier_uniform();
    na_array *x = NULL;
    na_init_options o = {.init = &xu,
                         .seed = 42,
                         .n_in = 1,
                         .in = &(na_dim){"embedding", 100},
                         .n_out = 1,
                         .out = &(na_dim){"projection", 300},
                         .n_parallel = 1,
                         .parallel = &(na_dim){"heads", 8}};
    NA_OK_OR_FAIL(na_init_array_ex(&o, &x));
    char buf[128];
    na_shape_str(x, buf, sizeof buf);
    cr_assert_str_eq(buf, "f32[embedding:100, projection:300, heads:8]");
    double m, v, lo, hi, limit = sqrt(6.0 / 400);
    stats(x, &m, &v, &lo, &hi);
    cr_assert(lo >= -limit && hi <= limit, "[%g, %g] vs %g", lo, hi, limit);
    cr_assert(hi > 0.99 * limit && lo < -0.99 * limit);
    cr_assert_float_eq(v, 1.0 / 200, 0.02 / 200);
    cr_assert_float_eq(m, 0, 1e-3);
    na_array_free(x);
}

Test(init, variance_scaling_modes_and_distributions)
{
    struct { na_init init; double var; double bound; } cases[] = {
        {na_init_xavier_normal(), 2.0 / (64 + 256), INFINITY},
        {na_init_variance_scaling(2, NA_FAN_IN, NA_DIST_NORMAL), 2.0 / 64, INFINITY},
        {na_init_variance_scaling(1, NA_FAN_OUT, NA_DIST_UNIFORM), 1.0 / 256,
         sqrt(3.0 / 256)},
        {na_init_he_normal(), 2.0 / 64, 2 * sqrt(2.0 / 64) / 0.87962566103423978},
        {na_init_lecun_normal(), 1.0 / 64, 2 * sqrt(1.0 / 64) / 0.87962566103423978},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        na_array *x = NULL;
        na_init_options o = {.init = &cases[c].init,
                             .seed = 7 + c,
                             .dtype = NA_F64,
                             .n_in = 1,
                             .in = &(na_dim){"i", 64},
                             .n_out = 1,
                             .out = &(na_dim){"o", 256},
                             .n_parallel = 1,
                             .parallel = &(na_dim){"p", 4}};
        NA_OK_OR_FAIL(na_init_array_ex(&o, &x));
        double m, v, lo, hi;
        stats(x, &m, &v, &lo, &hi);
        cr_assert_float_eq(v, cases[c].var, 0.03 * cases[c].var, "case %zu: var %g", c, v);
        cr_assert(lo >= -cases[c].bound && hi <= cases[c].bound, "case %zu", c);
        na_array_free(x);
    }
}

Test(init, seeds_are_deterministic_and_label_dependent)
{
    na_init xn = na_init_xavier_normal();
    na_array *a = NULL, *b = NULL, *c = NULL;
    NA_OK_OR_FAIL(na_init_array(&xn, 1, NA_DIMS({"i", 8}), NA_DIMS({"o", 8}), &a));
    NA_OK_OR_FAIL(na_init_array(&xn, 1, NA_DIMS({"i", 8}), NA_DIMS({"o", 8}), &b));
    NA_OK_OR_FAIL(na_init_array(&xn, 2, NA_DIMS({"i", 8}), NA_DIMS({"o", 8}), &c));
    cr_assert_eq(ts_max_abs_diff(a, b), 0);
    cr_assert_gt(ts_max_abs_diff(a, c), 0);
    cr_assert_neq(na_init_seed_for(1, "a.weights"), na_init_seed_for(1, "b.weights"));
    cr_assert_eq(na_init_seed_for(1, "a.weights"), na_init_seed_for(1, "a.weights"));
    na_param *p = NULL;
    NA_OK_OR_FAIL(
        na_init_param("blk.weights", &xn, 1, NA_DIMS({"i", 8}), NA_DIMS({"o", 8}), &p));
    cr_assert_str_eq(p->label, "blk.weights");
    cr_assert_gt(ts_max_abs_diff(a, p->value), 0);
    na_param_release(p);
    na_array_free(a);
    na_array_free(b);
    na_array_free(c);
}

Test(init, errors_and_describe)
{
    na_array *x = NULL;
    NA_EXPECT_FAIL(na_init_array(NULL, 0, NA_DIMS({"a", 2}), NA_DIMS({"a", 3}), &x),
                   NA_ERR_AXIS, "'a'", "twice");
    NA_EXPECT_FAIL(
        na_init_array_ex(
            &(na_init_options){.dtype = NA_I32, .n_in = 1, .in = &(na_dim){"a", 2}}, &x),
        NA_ERR_DTYPE, "i32");
    NA_EXPECT_FAIL(na_init_array_ex(NULL, &x), NA_ERR_ARGUMENT, "na_init_array",
                   "opt is NULL");
    na_init bad = na_init_variance_scaling(0, NA_FAN_IN, NA_DIST_NORMAL);
    NA_EXPECT_FAIL(na_init_array(&bad, 0, NA_DIMS({"a", 2}), 0, NULL, &x),
                   NA_ERR_ARGUMENT, "scale");
    na_param *p = NULL;
    NA_EXPECT_FAIL(na_init_param("w", NULL, 0, NA_DIMS({"a", -1}), 0, NULL, &p),
                   NA_ERR_SHAPE, "'a'", "'w'");
    cr_assert_null(x);
    cr_assert_null(p);
    char buf[96];
    na_init xu = na_init_xavier_uniform(), he = na_init_he_normal(), z = na_init_zeros();
    cr_assert_str_eq(na_init_describe(&xu, buf, sizeof buf), "xavier_uniform");
    cr_assert_str_eq(na_init_describe(&he, buf, sizeof buf),
                     "variance_scaling(2, fan_in, truncated_normal)");
    cr_assert_str_eq(na_init_describe(&z, buf, sizeof buf), "constant(0)");
}
