/* Standard layers: Linear, AddBias, Affine, NamedEinsum, RenameAxes,
 * ConstantRescale, CastToDType, Softmax, Elementwise, TanhSoftCap, Dropout. */
#include <math.h>
#include <stdlib.h>

#include <namedarr/combinators.h>
#include <namedarr/layers.h>
#include <namedarr/print.h>

#include "support.h"

/* x at named coordinates (one per dim). */
static double at(const na_array *x, const char *const *names, const int64_t *idx)
{
    return ts_at(x, x->ndim, names, idx);
}

#define IDX(...) ((const int64_t[]){__VA_ARGS__})

static na_array *call(na_layer *l, const na_array *x)
{
    na_array *y = NULL;
    NA_OK_OR_FAIL(na_layer_call_array(l, x, NULL, &y));
    return y;
}

static void expect_shape(const na_array *y, const char *want)
{
    char buf[256];
    na_shape_str(y, buf, sizeof buf);
    cr_assert_str_eq(buf, want);
}

/* The printed tree of a layer, no colour, no total. */
static char *printed(const na_layer *l)
{
    na_print_options o = {.color = NA_COLOR_NEVER, .hide_total = true};
    char *s = NULL;
    NA_OK_OR_FAIL(na_print_tree_str(l, &o, &s));
    return s;
}

static void expect_printed_has(const na_layer *l, const char *want)
{
    char *s = printed(l);
    cr_assert(strstr(s, want), "printed tree lacks \"%s\":\n%s", want, s);
    free(s);
}

/* ---- Linear ------------------------------------------------------------- */

Test(linear, penzai_parallel_and_broadcast)
{
    na_layer *lin = NULL;
    na_linear_options o = {.name = "lin",
                           .n_in = 1,
                           .in = &(na_dim){"foo", 3},
                           .n_out = 1,
                           .out = &(na_dim){"bar", 5},
                           .n_parallel = 2,
                           .parallel = (na_dim[]){{"baz", 7}, {"qux", 11}},
                           .seed = 1};
    NA_OK_OR_FAIL(na_linear_new_ex(&o, &lin));
    na_param *w = na_linear_weights(lin);
    cr_assert_str_eq(w->label, "lin.weights");
    expect_shape(w->value, "f32[foo:3, bar:5, baz:7, qux:11]");
    na_array *x = ts_random(NA_F32, NA_DIMS({"batch", 1}, {"foo", 3}, {"baz", 7}), 2);
    na_array *y = call(lin, x);
    cr_assert_eq(na_axis_size(y, "batch"), 1);
    cr_assert_eq(na_axis_size(y, "bar"), 5);
    cr_assert_eq(na_axis_size(y, "baz"), 7);
    cr_assert_eq(na_axis_size(y, "qux"), 11);
    cr_assert_eq(y->ndim, 4);
    double worst = 0;
    for (int64_t b = 0; b < 5; b++)
        for (int64_t z = 0; z < 7; z++)
            for (int64_t q = 0; q < 11; q++) {
                double ref = 0;
                for (int64_t f = 0; f < 3; f++)
                    ref += at(x, NA_NAMES("batch", "foo", "baz"), IDX(0, f, z)) *
                           at(w->value, NA_NAMES("foo", "bar", "baz", "qux"),
                              IDX(f, b, z, q));
                double got = at(y, NA_NAMES("batch", "bar", "baz", "qux"), IDX(0, b, z, q));
                worst = fmax(worst, fabs(got - ref));
            }
    cr_assert_lt(worst, 1e-5);
    expect_printed_has(lin, "Linear(in=[foo], out=[bar], parallel=[baz, qux]");
    na_array_free(x);
    na_array_free(y);
    na_layer_free(lin);
}

Test(linear, in_place_renames_output)
{
    na_layer *lin = NULL;
    NA_OK_OR_FAIL(na_linear_new("p", NA_DIMS({"foo", 3}), NA_DIMS({"foo", 5}), 3, &lin));
    na_param *w = na_linear_weights(lin);
    expect_shape(w->value, "f32[foo:3, foo_out:5]");
    na_array *x = ts_random(NA_F32, NA_DIMS({"batch", 1}, {"foo", 3}), 4);
    na_array *y = call(lin, x);
    expect_shape(y, "f32[batch:1, foo:5]");
    for (int64_t o = 0; o < 5; o++) {
        double ref = 0;
        for (int64_t i = 0; i < 3; i++)
            ref += at(x, NA_NAMES("batch", "foo"), IDX(0, i)) *
                   at(w->value, NA_NAMES("foo", "foo_out"), IDX(i, o));
        cr_assert_float_eq(at(y, NA_NAMES("batch", "foo"), IDX(0, o)), ref, 1e-5);
    }
    na_array_free(x);
    na_array_free(y);
    na_layer_free(lin);
}

Test(linear, wrong_input_names)
{
    na_layer *lin = NULL;
    na_linear_options o = {.name = "up",
                           .n_in = 1,
                           .in = &(na_dim){"foo", 3},
                           .n_out = 1,
                           .out = &(na_dim){"bar", 5},
                           .n_parallel = 1,
                           .parallel = &(na_dim){"baz", 7},
                           .seed = 1};
    NA_OK_OR_FAIL(na_linear_new_ex(&o, &lin));
    na_array *x = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"batch", 1}, {"baz", 7}), &x));
    NA_EXPECT_FAIL(na_layer_call_array(lin, x, NULL, &y), NA_ERR_AXIS, "Linear",
                   "'foo'", "f32[batch:1, baz:7]", "up.weights");
    cr_assert_null(y);
    na_array_free(x);
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"foo", 4}, {"baz", 7}), &x));
    NA_EXPECT_FAIL(na_layer_call_array(lin, x, NULL, &y), NA_ERR_SHAPE, "Linear",
                   "foo:4", "foo:3");
    na_array_free(x);
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"foo", 3}, {"baz", 6}), &x));
    NA_EXPECT_FAIL(na_layer_call_array(lin, x, NULL, &y), NA_ERR_SHAPE, "baz:6");
    na_array_free(x);
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"foo", 3}, {"bar", 5}), &x));
    NA_EXPECT_FAIL(na_layer_call_array(lin, x, NULL, &y), NA_ERR_AXIS,
                   "already has output axis 'bar'");
    na_array_free(x);
    na_layer_free(lin);
}

Test(linear, bad_config)
{
    na_layer *lin = NULL;
    na_linear_options o = {.name = "a",
                           .n_in = 1,
                           .in = &(na_dim){"foo", 3},
                           .n_out = 1,
                           .out = &(na_dim){"bar", 5},
                           .n_parallel = 1,
                           .parallel = &(na_dim){"foo", 3},
                           .seed = 1};
    NA_EXPECT_FAIL(na_linear_new_ex(&o, &lin), NA_ERR_AXIS, "'foo'");
    na_init zeros = na_init_zeros();
    o.n_parallel = 0;
    o.bias_init = &zeros;
    NA_EXPECT_FAIL(na_linear_new_ex(&o, &lin), NA_ERR_ARGUMENT, "na_linear_new",
                   "has no bias");
    NA_EXPECT_FAIL(na_linear_new_ex(NULL, &lin), NA_ERR_ARGUMENT, "na_linear_new",
                   "opt is NULL");
    NA_EXPECT_FAIL(na_linear_new("a", NA_DIMS({"foo", 3}, {"foo_out", 2}),
                                 NA_DIMS({"foo", 5}), 1, &lin),
                   NA_ERR_AXIS, "foo_out");
    NA_EXPECT_FAIL(na_linear_new(NULL, NA_DIMS({"foo", 3}), NA_DIMS({"bar", 5}), 1, &lin),
                   NA_ERR_ARGUMENT, "name");
    cr_assert_null(lin);
}

Test(linear, from_param_and_no_input_axes)
{
    na_array *wv = ts_random(NA_F32, NA_DIMS({"a", 2}, {"b", 3}), 5);
    na_param *w = na_param_new("m.weights", NA_PARAM, wv);
    na_layer *lin = NULL;
    NA_EXPECT_FAIL(na_linear_from_param(w, NA_NAMES("a"), NA_NAMES("c"), &lin),
                   NA_ERR_AXIS, "'c'");
    NA_OK_OR_FAIL(na_linear_from_param(w, NA_NAMES("a"), NA_NAMES("b"), &lin));
    cr_assert_eq(w->refcount, 2);
    na_param_release(w);
    na_array *x = ts_random(NA_F32, NA_DIMS({"a", 2}), 6);
    na_array *y = call(lin, x);
    expect_shape(y, "f32[b:3]");
    na_array_free(x);
    na_array_free(y);
    na_layer_free(lin);

    /* No input axes: a per-element scale over parallel axes. */
    na_init two = na_init_constant(2.0);
    na_linear_options o = {
        .name = "s", .n_parallel = 1, .parallel = &(na_dim){"e", 4}, .init = &two};
    NA_OK_OR_FAIL(na_linear_new_ex(&o, &lin));
    x = ts_random(NA_F32, NA_DIMS({"t", 3}, {"e", 4}), 7);
    y = call(lin, x);
    expect_shape(y, "f32[t:3, e:4]");
    cr_assert_float_eq(at(y, NA_NAMES("t", "e"), IDX(1, 2)),
                       2 * at(x, NA_NAMES("t", "e"), IDX(1, 2)), 1e-6);
    na_array_free(x);
    na_array_free(y);
    na_layer_free(lin);
}

/* ---- AddBias and Affine -------------------------------------------------- */

Test(affine, options_parallel_and_initializers)
{
    /* bias over output and parallel axes; bias_init and init honoured */
    na_init half = na_init_constant(0.5), two = na_init_constant(2.0);
    na_linear_options o = {.name = "a",
                           .n_in = 1,
                           .in = &(na_dim){"e", 4},
                           .n_out = 1,
                           .out = &(na_dim){"h", 3},
                           .n_parallel = 1,
                           .parallel = &(na_dim){"heads", 2},
                           .init = &two,
                           .bias_init = &half};
    na_layer *aff = NULL;
    NA_OK_OR_FAIL(na_affine_new_ex(&o, &aff));
    na_param *b = na_layer_param(na_layer_child(aff, 1), 0);
    expect_shape(b->value, "f32[h:3, heads:2]");
    cr_assert_eq(at(b->value, NA_NAMES("h", "heads"), IDX(2, 1)), 0.5);
    na_array *x = ts_random(NA_F32, NA_DIMS({"e", 4}), 3);
    na_array *y = call(aff, x);
    double sum = 0;
    for (int64_t e = 0; e < 4; e++)
        sum += at(x, NA_NAMES("e"), IDX(e));
    cr_assert_float_eq(at(y, NA_NAMES("h", "heads"), IDX(1, 0)), 2 * sum + 0.5, 1e-5);
    TS_FREE(x, y);
    na_layer_free(aff);
}

Test(affine, linear_plus_bias)
{
    na_layer *aff = NULL;
    NA_OK_OR_FAIL(na_affine_new("proj", NA_DIMS({"embedding", 4}), NA_DIMS({"hidden", 3}),
                                9, &aff));
    cr_assert_eq(na_layer_child_count(aff), 2);
    cr_assert_str_eq(na_layer_child_name(aff, 0), "linear");
    na_layer *lin = na_layer_child(aff, 0), *bias = na_layer_child(aff, 1);
    cr_assert(na_layer_is(lin, &na_linear_type));
    cr_assert(na_layer_is(bias, &na_add_bias_type));
    na_param *b = na_layer_param(bias, 0);
    cr_assert_str_eq(b->label, "proj.bias");
    cr_assert_str_eq(na_linear_weights(lin)->label, "proj.weights");
    expect_shape(b->value, "f32[hidden:3]");
    cr_assert_eq(at(b->value, NA_NAMES("hidden"), IDX(1)), 0.0);
    na_param_set_value(b, ts_random(NA_F32, NA_DIMS({"hidden", 3}), 10));

    na_array *x = ts_random(NA_F32, NA_DIMS({"seq", 2}, {"embedding", 4}), 11);
    na_array *y = call(aff, x);
    const na_array *w = na_linear_weights(lin)->value;
    for (int64_t s = 0; s < 2; s++)
        for (int64_t h = 0; h < 3; h++) {
            double ref = at(b->value, NA_NAMES("hidden"), IDX(h));
            for (int64_t e = 0; e < 4; e++)
                ref += at(x, NA_NAMES("seq", "embedding"), IDX(s, e)) *
                       at(w, NA_NAMES("embedding", "hidden"), IDX(e, h));
            cr_assert_float_eq(at(y, NA_NAMES("seq", "hidden"), IDX(s, h)), ref, 1e-5);
        }
    expect_printed_has(aff, "AddBias(biased=[hidden]");
    na_array *bad = NULL, *out = NULL;
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"seq", 2}), &bad));
    NA_EXPECT_FAIL(na_layer_call_array(bias, bad, NULL, &out), NA_ERR_AXIS, "AddBias",
                   "'hidden'", "f32[seq:2]");
    na_array_free(bad);
    na_array_free(x);
    na_array_free(y);
    na_layer_free(aff);
}

/* ---- NamedEinsum ----------------------------------------------------------- */

Test(named_einsum, penzai_case)
{
    na_layer *l = NULL;
    NA_OK_OR_FAIL(na_named_einsum_new("foo:i bar:i baz:j, foo:j qux:k -> x:i y:k z:j",
                                      &l));
    na_array *a = ts_random(NA_F32, NA_DIMS({"batch", 1}, {"foo", 3}, {"bar", 3},
                                            {"baz", 4}), 1);
    na_array *c = ts_random(NA_F32, NA_DIMS({"batch", 1}, {"foo", 4}, {"qux", 5}), 2);
    na_value *in = na_value_tuple(2, (na_value *[]){na_value_ref_array(a),
                                                     na_value_ref_array(c)});
    na_value *out = NULL;
    NA_OK_OR_FAIL(na_layer_call(l, in, NULL, &out));
    const na_array *y = na_value_array(out, "test");
    cr_assert_eq(y->ndim, 4);
    cr_assert_eq(na_axis_size(y, "batch"), 1);
    cr_assert_eq(na_axis_size(y, "x"), 3);
    cr_assert_eq(na_axis_size(y, "z"), 4);
    cr_assert_eq(na_axis_size(y, "y"), 5);
    for (int64_t i = 0; i < 3; i++)
        for (int64_t j = 0; j < 4; j++)
            for (int64_t k = 0; k < 5; k++) {
                double ref = at(a, NA_NAMES("batch", "foo", "bar", "baz"), IDX(0, i, i, j)) *
                             at(c, NA_NAMES("batch", "foo", "qux"), IDX(0, j, k));
                cr_assert_float_eq(at(y, NA_NAMES("batch", "x", "y", "z"), IDX(0, i, k, j)),
                                   ref, 1e-5);
            }
    na_value_free(out);
    /* one array for a two-input spec */
    na_array *bad = NULL;
    NA_EXPECT_FAIL(na_layer_call_array(l, a, NULL, &bad), NA_ERR_ARGUMENT, "NamedEinsum",
                   "takes 2 inputs");
    expect_printed_has(l, "NamedEinsum(spec=");
    na_value_free(in);
    na_array_free(a);
    na_array_free(c);
    na_layer_free(l);
    NA_EXPECT_FAIL(na_named_einsum_new("foo:i bar:i", &l), NA_ERR_ARGUMENT, "->");
}

/* ---- small layers ------------------------------------------------------------- */

Test(misc, rename_rescale_cast)
{
    na_layer *r = NULL, *s = NULL, *c = NULL;
    NA_OK_OR_FAIL(na_rename_axes_new(NA_NAMES("a", "b"), NA_NAMES("b", "c"), &r));
    NA_OK_OR_FAIL(na_constant_rescale_new(0.5, &s));
    NA_OK_OR_FAIL(na_cast_to_dtype_new(NA_F64, &c));
    na_array *x = ts_random(NA_F32, NA_DIMS({"a", 2}, {"b", 3}), 3);
    na_array *y = call(r, x);
    expect_shape(y, "f32[b:2, c:3]");
    na_array *z = call(s, y);
    cr_assert_float_eq(at(z, NA_NAMES("b", "c"), IDX(1, 2)),
                       0.5 * at(x, NA_NAMES("a", "b"), IDX(1, 2)), 1e-7);
    na_array *w = call(c, z);
    cr_assert_eq(w->dtype, NA_F64);
    na_array *bad = NULL;
    NA_EXPECT_FAIL(na_layer_call_array(r, w, NULL, &bad), NA_ERR_AXIS, "RenameAxes",
                   "'a'");
    na_layer *r2 = NULL;
    NA_EXPECT_FAIL(na_rename_axes_new(NA_NAMES("a"), NA_NAMES("b", "c"), &r2),
                   NA_ERR_ARGUMENT, "1 old names");
    expect_printed_has(r, "RenameAxes(old=[a, b], new=[b, c])");
    expect_printed_has(s, "ConstantRescale(by=0.5)");
    expect_printed_has(c, "CastToDType(dtype=\"f64\")");
    na_array_free(x);
    na_array_free(y);
    na_array_free(z);
    na_array_free(w);
    na_layer_free(r);
    na_layer_free(s);
    na_layer_free(c);
}

static double gelu_exact(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }

static double gelu_tanh(double x)
{
    return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

static double relu(double x) { return x > 0 ? x : 0; }
static double silu(double x) { return x / (1 + exp(-x)); }
static double sigmoid(double x) { return 1 / (1 + exp(-x)); }

Test(activation, elementwise_against_loops)
{
    struct { na_unary_op op; double (*f)(double); const char *name; } cases[] = {
        {NA_RELU, relu, "relu"},       {NA_GELU, gelu_exact, "gelu"},
        {NA_GELU_TANH, gelu_tanh, "gelu_tanh"}, {NA_SILU, silu, "silu"},
        {NA_SIGMOID, sigmoid, "sigmoid"}, {NA_TANH, tanh, "tanh"},
    };
    na_array *x0 = ts_random(NA_F32, NA_DIMS({"seq", 5}, {"e", 8}), 12), *x = NULL;
    NA_OK_OR_FAIL(na_binary_scalar(NA_MUL, x0, 4.0, &x)); /* [-4, 4) */
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        na_layer *l = NULL;
        NA_OK_OR_FAIL(na_elementwise_new(cases[c].op, &l));
        cr_assert_str_eq(na_unary_op_name(cases[c].op), cases[c].name);
        na_array *y = call(l, x);
        double worst = 0;
        for (int64_t s = 0; s < 5; s++)
            for (int64_t e = 0; e < 8; e++) {
                double v = at(x, NA_NAMES("seq", "e"), IDX(s, e));
                worst = fmax(worst, fabs(at(y, NA_NAMES("seq", "e"), IDX(s, e)) -
                                         cases[c].f(v)));
            }
        cr_assert_lt(worst, 1e-5, "%s: max error %g", cases[c].name, worst);
        char want[64];
        snprintf(want, sizeof want, "Elementwise(op=\"%s\")", cases[c].name);
        expect_printed_has(l, want);
        na_array_free(y);
        na_layer_free(l);
    }
    na_array_free(x0);
    na_array_free(x);
}

Test(activation, softmax_and_soft_cap)
{
    na_layer *sm = NULL, *cap = NULL;
    NA_OK_OR_FAIL(na_softmax_layer_new(NA_NAMES("k"), &sm));
    NA_OK_OR_FAIL(na_tanh_soft_cap_new(2.0, &cap));
    na_array *x = ts_random(NA_F32, NA_DIMS({"q", 3}, {"k", 4}), 13);
    na_array *y = call(sm, x), *z = call(cap, x);
    for (int64_t q = 0; q < 3; q++) {
        double den = 0;
        for (int64_t k = 0; k < 4; k++)
            den += exp(at(x, NA_NAMES("q", "k"), IDX(q, k)));
        for (int64_t k = 0; k < 4; k++) {
            double v = at(x, NA_NAMES("q", "k"), IDX(q, k));
            cr_assert_float_eq(at(y, NA_NAMES("q", "k"), IDX(q, k)), exp(v) / den, 1e-6);
            cr_assert_float_eq(at(z, NA_NAMES("q", "k"), IDX(q, k)), 2 * tanh(v / 2), 1e-6);
        }
    }
    na_array *bad = NULL, *out = NULL;
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"q", 3}), &bad));
    NA_EXPECT_FAIL(na_layer_call_array(sm, bad, NULL, &out), NA_ERR_AXIS, "Softmax",
                   "'k'", "f32[q:3]");
    na_layer *l = NULL;
    NA_EXPECT_FAIL(na_tanh_soft_cap_new(0, &l), NA_ERR_ARGUMENT, "cap");
    expect_printed_has(sm, "Softmax(across=[k])");
    expect_printed_has(cap, "TanhSoftCap(cap=2)");
    na_array_free(bad);
    na_array_free(x);
    na_array_free(y);
    na_array_free(z);
    na_layer_free(sm);
    na_layer_free(cap);
}

/* ---- Dropout ------------------------------------------------------------------ */

Test(dropout, rate_and_scale)
{
    na_layer *d = NULL;
    NA_OK_OR_FAIL(na_dropout_new(0.25, NULL, 77, &d));
    na_array *x = NULL;
    NA_OK_OR_FAIL(na_full(NA_F32, NA_DIMS({"a", 200}, {"b", 100}), 3.0, &x));
    na_array *y = call(d, x);
    int64_t zeros = 0;
    for (int64_t i = 0; i < 200; i++)
        for (int64_t j = 0; j < 100; j++) {
            double v = at(y, NA_NAMES("a", "b"), IDX(i, j));
            if (v == 0)
                zeros++;
            else
                cr_assert_float_eq(v, 3.0 / 0.75, 1e-5);
        }
    double frac = (double)zeros / 20000;
    cr_assert(fabs(frac - 0.25) < 0.015, "dropped fraction %g", frac);
    /* a second call draws a new mask; a reset replays the first */
    na_array *y2 = call(d, x);
    cr_assert_gt(ts_max_abs_diff(y, y2), 0);
    NA_OK_OR_FAIL(na_dropout_reset(d, 77));
    na_array *y3 = call(d, x);
    cr_assert_eq(ts_max_abs_diff(y, y3), 0);
    expect_printed_has(d, "Dropout(rate=0.25, seed=77, enabled=true)");
    na_array_free(x);
    na_array_free(y);
    na_array_free(y2);
    na_array_free(y3);
    na_layer_free(d);
}

Test(dropout, shared_axes)
{
    na_layer *d = NULL;
    NA_OK_OR_FAIL(na_dropout_new(0.5, NA_NAMES("seq"), 5, &d));
    na_array *x = NULL;
    NA_OK_OR_FAIL(na_ones(NA_F32, NA_DIMS({"seq", 16}, {"e", 64}), &x));
    na_array *y = call(d, x);
    expect_shape(y, "f32[seq:16, e:64]");
    int dropped = 0;
    for (int64_t e = 0; e < 64; e++) {
        double first = at(y, NA_NAMES("seq", "e"), IDX(0, e));
        dropped += first == 0;
        for (int64_t s = 1; s < 16; s++)
            cr_assert_eq(at(y, NA_NAMES("seq", "e"), IDX(s, e)), first);
    }
    cr_assert(dropped > 10 && dropped < 54, "%d of 64 channels dropped", dropped);
    expect_printed_has(d, "Dropout(rate=0.5, shared=[seq], seed=5, enabled=true)");
    /* Penzai's rule: a shared axis the input lacks is ignored; the mask is
     * drawn over the axes that are there (so it matches x's mask over e). */
    na_array *e_only = NULL;
    NA_OK_OR_FAIL(na_ones(NA_F32, NA_DIMS({"e", 64}), &e_only));
    na_array *ye = call(d, e_only);
    expect_shape(ye, "f32[e:64]");
    int dropped_e = 0;
    for (int64_t e = 0; e < 64; e++) {
        double v = at(ye, NA_NAMES("e"), IDX(e));
        cr_assert(v == 0 || v == 2, "%g", v);
        dropped_e += v == 0;
    }
    cr_assert(dropped_e > 10 && dropped_e < 54, "%d of 64 dropped", dropped_e);
    na_array_free(e_only);
    na_array_free(ye);
    na_array_free(x);
    na_array_free(y);
    na_layer_free(d);
}

Test(dropout, identity_when_disabled_or_rate_zero)
{
    na_layer *d = NULL, *z = NULL;
    NA_OK_OR_FAIL(na_dropout_new(0.9, NULL, 1, &d));
    NA_OK_OR_FAIL(na_dropout_set_enabled(d, false));
    NA_OK_OR_FAIL(na_dropout_new(0.0, NULL, 1, &z));
    na_array *x = ts_random(NA_F32, NA_DIMS({"a", 7}, {"b", 9}), 3);
    na_array *y = call(d, x), *w = call(z, x);
    cr_assert_eq(ts_max_abs_diff(x, y), 0);
    cr_assert_eq(ts_max_abs_diff(x, w), 0);
    na_layer *bad = NULL;
    NA_EXPECT_FAIL(na_dropout_new(1.0, NULL, 1, &bad), NA_ERR_ARGUMENT, "rate");
    NA_EXPECT_FAIL(na_dropout_set_enabled(NULL, true), NA_ERR_ARGUMENT,
                   "not a Dropout");
    na_array_free(x);
    na_array_free(y);
    na_array_free(w);
    na_layer_free(d);
    na_layer_free(z);
}
