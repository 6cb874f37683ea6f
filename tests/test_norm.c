/* Normalisation layers against plain loops: Standardize, LayerNorm,
 * RMSStandardize, RMSLayerNorm. */
#include <math.h>
#include <stdlib.h>

#include <namedarr/layers.h>
#include <namedarr/print.h>

#include "support.h"

#define IDX(...) ((const int64_t[]){__VA_ARGS__})
#define S 3 /* seq */
#define E 8 /* embedding */

static double at(const na_array *x, const char *const *names, const int64_t *idx)
{
    return ts_at(x, x->ndim, names, idx);
}

static double xv(const na_array *x, int64_t s, int64_t e)
{
    return at(x, NA_NAMES("seq", "embedding"), IDX(s, e));
}

/* Reference: normalise each row of x {seq, embedding} over embedding, then
 * scale and shift (NULL: 1 and 0). */
static void reference(const na_array *x, bool rms, double eps, const na_array *scale,
                      const na_array *bias, double out[S][E])
{
    for (int64_t s = 0; s < S; s++) {
        double mean = 0, var = 0;
        for (int64_t e = 0; e < E; e++)
            mean += xv(x, s, e) / E;
        if (rms)
            mean = 0;
        for (int64_t e = 0; e < E; e++)
            var += (xv(x, s, e) - mean) * (xv(x, s, e) - mean) / E;
        for (int64_t e = 0; e < E; e++) {
            double g = scale ? at(scale, NA_NAMES("embedding"), IDX(e)) : 1;
            double b = bias ? at(bias, NA_NAMES("embedding"), IDX(e)) : 0;
            out[s][e] = (xv(x, s, e) - mean) / sqrt(var + eps) * g + b;
        }
    }
}

static void expect_close(const na_array *y, double ref[S][E], double tol)
{
    cr_assert_eq(y->ndim, 2);
    for (int64_t s = 0; s < S; s++)
        for (int64_t e = 0; e < E; e++)
            cr_assert_float_eq(xv(y, s, e), ref[s][e], tol, "[%ld, %ld]", (long)s,
                               (long)e);
}

static na_array *input(void)
{
    na_array *x0 = ts_random(NA_F32, NA_DIMS({"seq", S}, {"embedding", E}), 21), *x = NULL;
    NA_OK_OR_FAIL(na_binary_scalar(NA_ADD, x0, 0.7, &x)); /* a nonzero mean */
    na_array_free(x0);
    return x;
}

static na_array *run(na_layer *l, const na_array *x)
{
    na_array *y = NULL;
    NA_OK_OR_FAIL(na_layer_call_array(l, x, NULL, &y));
    return y;
}

Test(norm, standardize_and_rms_standardize)
{
    na_array *x = input();
    double ref[S][E];
    na_layer *st = NULL, *rms = NULL;
    NA_OK_OR_FAIL(na_standardize_new(NA_NAMES("embedding"), &st));
    NA_OK_OR_FAIL(na_rms_standardize_new(NA_NAMES("embedding"), &rms));
    cr_assert_eq(na_norm_eps(st), 1e-6);
    na_array *y = run(st, x);
    reference(x, false, 1e-6, NULL, NULL, ref);
    expect_close(y, ref, 1e-5);
    na_array_free(y);
    y = run(rms, x);
    reference(x, true, 1e-6, NULL, NULL, ref);
    expect_close(y, ref, 1e-5);
    na_array_free(y);
    /* a settable eps changes the numbers */
    NA_OK_OR_FAIL(na_norm_set_eps(rms, 0.5));
    y = run(rms, x);
    reference(x, true, 0.5, NULL, NULL, ref);
    expect_close(y, ref, 1e-5);
    na_array_free(y);
    NA_EXPECT_FAIL(na_norm_set_eps(rms, -1), NA_ERR_ARGUMENT, "eps");
    na_array_free(x);
    na_layer_free(st);
    na_layer_free(rms);
}

Test(norm, layer_norm_with_scale_and_bias)
{
    na_array *x = input();
    na_layer *ln = NULL;
    NA_OK_OR_FAIL(na_layer_norm_new("ln", NA_DIMS({"embedding", E}), &ln));
    cr_assert_eq(na_layer_param_count(ln), 2);
    na_param *g = na_layer_param(ln, 0), *b = na_layer_param(ln, 1);
    cr_assert_str_eq(g->label, "ln.scale");
    cr_assert_str_eq(b->label, "ln.bias");
    cr_assert_eq(at(g->value, NA_NAMES("embedding"), IDX(3)), 1.0);
    cr_assert_eq(at(b->value, NA_NAMES("embedding"), IDX(3)), 0.0);
    na_param_set_value(g, ts_random(NA_F32, NA_DIMS({"embedding", E}), 1));
    na_param_set_value(b, ts_random(NA_F32, NA_DIMS({"embedding", E}), 2));
    double ref[S][E];
    reference(x, false, 1e-6, g->value, b->value, ref);
    na_array *y = run(ln, x);
    expect_close(y, ref, 1e-5);
    na_print_options o = {.color = NA_COLOR_NEVER, .hide_total = true};
    char *s = NULL;
    NA_OK_OR_FAIL(na_print_tree_str(ln, &o, &s));
    cr_assert(strstr(s, "LayerNorm(across=[embedding], eps=1e-06, use_bias=true"), "%s", s);
    free(s);
    na_array_free(y);
    na_array_free(x);
    na_layer_free(ln);
}

Test(norm, rms_layer_norm)
{
    na_array *x = input();
    na_layer *rn = NULL;
    NA_OK_OR_FAIL(na_rms_layer_norm_new("rn", NA_DIMS({"embedding", E}), &rn));
    cr_assert_eq(na_layer_param_count(rn), 1);
    na_param *g = na_layer_param(rn, 0);
    cr_assert_str_eq(g->label, "rn.scale");
    na_param_set_value(g, ts_random(NA_F32, NA_DIMS({"embedding", E}), 3));
    NA_OK_OR_FAIL(na_norm_set_eps(rn, 1e-3));
    double ref[S][E];
    reference(x, true, 1e-3, g->value, NULL, ref);
    na_array *y = run(rn, x);
    expect_close(y, ref, 1e-5);
    na_array_free(y);
    na_array_free(x);
    na_layer_free(rn);
}

Test(norm, jointly_over_two_axes)
{
    na_array *x = ts_random(NA_F64, NA_DIMS({"b", 2}, {"h", 3}, {"d", 4}), 5);
    na_layer *st = NULL;
    NA_OK_OR_FAIL(na_standardize_new(NA_NAMES("h", "d"), &st));
    na_array *y = run(st, x);
    cr_assert_eq(y->dtype, NA_F64);
    for (int64_t b = 0; b < 2; b++) {
        double mean = 0, var = 0;
        for (int64_t h = 0; h < 3; h++)
            for (int64_t d = 0; d < 4; d++)
                mean += at(x, NA_NAMES("b", "h", "d"), IDX(b, h, d)) / 12;
        for (int64_t h = 0; h < 3; h++)
            for (int64_t d = 0; d < 4; d++)
                var += pow(at(x, NA_NAMES("b", "h", "d"), IDX(b, h, d)) - mean, 2) / 12;
        for (int64_t h = 0; h < 3; h++)
            for (int64_t d = 0; d < 4; d++)
                cr_assert_float_eq(at(y, NA_NAMES("b", "h", "d"), IDX(b, h, d)),
                                   (at(x, NA_NAMES("b", "h", "d"), IDX(b, h, d)) - mean) /
                                       sqrt(var + 1e-6), 1e-12);
    }
    na_array_free(y);
    na_array_free(x);
    na_layer_free(st);
}

Test(norm, errors)
{
    na_layer *ln = NULL;
    na_norm_options o = {.name = "ln",
                         .n_across = 1,
                         .across = &(na_dim){"embedding", E},
                         .no_bias = true};
    NA_OK_OR_FAIL(na_layer_norm_new_ex(&o, &ln));
    cr_assert_eq(na_layer_param_count(ln), 1);
    na_array *x = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"seq", 2}, {"features", E}), &x));
    NA_EXPECT_FAIL(na_layer_call_array(ln, x, NULL, &y), NA_ERR_AXIS, "LayerNorm",
                   "'embedding'", "f32[seq:2, features:8]");
    na_array_free(x);
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"seq", 2}, {"embedding", 4}), &x));
    NA_EXPECT_FAIL(na_layer_call_array(ln, x, NULL, &y), NA_ERR_SHAPE, "LayerNorm",
                   "embedding:4", "embedding:8");
    na_array_free(x);
    NA_OK_OR_FAIL(na_zeros(NA_I32, NA_DIMS({"embedding", 8}), &x));
    NA_EXPECT_FAIL(na_layer_call_array(ln, x, NULL, &y), NA_ERR_DTYPE, "LayerNorm", "i32");
    na_array_free(x);
    na_layer_free(ln);
    na_layer *bad = NULL;
    NA_EXPECT_FAIL(na_standardize_new(NULL, &bad), NA_ERR_ARGUMENT, "axis");
    NA_EXPECT_FAIL(na_standardize_new(NA_NAMES("a", "a"), &bad), NA_ERR_AXIS, "twice");
    NA_EXPECT_FAIL(na_norm_set_eps(NULL, 1), NA_ERR_ARGUMENT, "not a Standardize");
}

Test(norm, options_eps_zero_and_errors)
{
    /* eps 0 is expressible (custom_eps), and is what the layer computes with */
    na_norm_options o = {.name = "rn",
                         .n_across = 1,
                         .across = &(na_dim){"embedding", E},
                         .custom_eps = true,
                         .eps = 0};
    na_layer *rn = NULL, *ln = NULL;
    NA_OK_OR_FAIL(na_rms_layer_norm_new_ex(&o, &rn));
    cr_assert_eq(na_norm_eps(rn), 0.0);
    o.custom_eps = false;
    o.name = "ln";
    NA_OK_OR_FAIL(na_layer_norm_new_ex(&o, &ln));
    cr_assert_eq(na_norm_eps(ln), NA_NORM_DEFAULT_EPS);
    cr_assert_eq(na_layer_param_count(ln), 2);
    na_layer_free(rn);
    na_layer_free(ln);
    rn = NULL;
    o.no_bias = true;
    NA_EXPECT_FAIL(na_rms_layer_norm_new_ex(&o, &rn), NA_ERR_ARGUMENT,
                   "na_rms_layer_norm_new", "no bias");
    o.no_bias = false;
    o.custom_eps = true;
    o.eps = -1;
    NA_EXPECT_FAIL(na_layer_norm_new_ex(&o, &ln), NA_ERR_ARGUMENT, "na_layer_norm_new",
                   "eps -1");
    NA_EXPECT_FAIL(na_layer_norm_new_ex(NULL, &ln), NA_ERR_ARGUMENT, "opt is NULL");
    cr_assert_null(rn);
    cr_assert_null(ln);
}
