/* The builders' documented defaults, field by field (Flax's
 * MultiHeadDotProductAttention, Keras's GroupQueryAttention), settings whose
 * legitimate value is 0, and the initializers: Flax's kernel_init /
 * out_kernel_init / bias_init / out_bias_init with the library's fans,
 * Keras's kernel_initializer / bias_initializer with its einsum-dense fans,
 * truncated-normal statistics over many seeds. */
#include <math.h>
#include <stdlib.h>

#include <namedarr/attention.h>
#include <namedarr/fields.h>
#include <namedarr/init.h>
#include <namedarr/tree.h>

#include "support.h"

/* jax.random.truncated_normal(-2, 2) has this standard deviation. */
#define TRUNC_SD 0.87962566103423978

static na_layer *mha(const na_mha_options *o)
{
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_mha_new(o, &m));
    return m;
}

static na_layer *gqa(const na_gqa_options *o)
{
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_gqa_new(o, &m));
    return m;
}

/* The projection of `path` ("input_to_query", ..., "attn_value_to_output"). */
static na_layer *proj(na_layer *attn, const char *path)
{
    char p[96];
    snprintf(p, sizeof p, "%s/1", path);
    na_layer *l = na_tree_get(attn, p);
    cr_assert(l, "no projection at %s", p);
    return l;
}

static const na_array *kernel_of(na_layer *attn, const char *path)
{
    na_layer *l = proj(attn, path);
    if (na_layer_is(l, &na_affine_type))
        NA_OK_OR_FAIL(na_layer_field_child(l, "linear", &l));
    na_param *w = NULL;
    NA_OK_OR_FAIL(na_layer_field_param(l, "weights", &w));
    return w->value;
}

static const na_array *bias_of(na_layer *attn, const char *path)
{
    na_layer *l = proj(attn, path), *b = NULL;
    cr_assert(na_layer_is(l, &na_affine_type), "%s is a %s, not an Affine", path,
              na_layer_type_name(l));
    NA_OK_OR_FAIL(na_layer_field_child(l, "bias", &b));
    na_param *p = NULL;
    NA_OK_OR_FAIL(na_layer_field_param(b, "bias", &p));
    return p->value;
}

typedef struct stats {
    double mean, var, max_abs;
    int64_t n;
} stats;

static stats stats_of(const na_array *x)
{
    na_array *c = NULL;
    NA_OK_OR_FAIL(na_astype(x, NA_F64, &c));
    const double *d = na_data(c);
    stats s = {0};
    s.n = na_size(c);
    for (int64_t i = 0; i < s.n; i++) {
        s.mean += d[i];
        s.var += d[i] * d[i];
        s.max_abs = fmax(s.max_abs, fabs(d[i]));
    }
    s.mean /= (double)s.n;
    s.var = s.var / (double)s.n - s.mean * s.mean;
    na_array_free(c);
    return s;
}

static bool all_equal(const na_array *x, double v)
{
    stats s = stats_of(x);
    return s.n > 0 && fabs(s.mean - v) < 1e-12 && s.var < 1e-20;
}

static const char *const PATHS[] = {"input_to_query", "input_to_key", "input_to_value",
                                    "attn_value_to_output"};

/* ---- Flax ----------------------------------------------------------------------- */

Test(attention_defaults, flax_mha_zero_options_field_by_field)
{
    na_layer *m = mha(&(na_mha_options){.num_heads = 4, .in_features = 64,
                                        .dropout_rate = 0.1});
    /* use_bias=True: every projection is an Affine with a zero bias */
    for (int i = 0; i < 4; i++)
        cr_assert(all_equal(bias_of(m, PATHS[i]), 0), "%s bias zeros", PATHS[i]);
    /* qkv_features and out_features default to in_features */
    ts_expect_shape(kernel_of(m, "input_to_query"), "f32[embedding:64, heads:4, projection:16]");
    ts_expect_shape(kernel_of(m, "attn_value_to_output"),
                    "f32[heads:4, projection:16, embedding:64]");
    /* scale: projection**-0.5 (automatic), no soft cap, no mask needed */
    na_layer *logits = na_tree_get(m, "query_key_to_attn/0");
    double scale = -1;
    bool custom = true;
    NA_OK_OR_FAIL(na_layer_field_float(logits, "scale", &scale));
    NA_OK_OR_FAIL(na_layer_field_bool(logits, "custom_scale", &custom));
    cr_assert(scale == 0 && !custom);
    /* fully masked rows uniform (a plain Softmax), then broadcast dropout:
     * one mask shared over batch and heads */
    na_layer *qk = na_tree_get(m, "query_key_to_attn");
    int n = na_layer_child_count(qk);
    cr_assert(na_layer_is(na_layer_child(qk, n - 2), &na_softmax_layer_type));
    const char *const *shared = NULL;
    double rate = 0;
    NA_OK_OR_FAIL(na_layer_field_names(na_layer_child(qk, n - 1), "shared", &shared));
    NA_OK_OR_FAIL(na_layer_field_float(na_layer_child(qk, n - 1), "rate", &rate));
    cr_assert(rate == 0.1);
    cr_assert(shared && shared[0] && shared[1] && !shared[2]);
    cr_assert_str_eq(shared[0], "batch");
    cr_assert_str_eq(shared[1], "heads");
    /* no weight capture, no returned weights, no normalize_qk */
    cr_assert_null(na_attention_weights(m));
    cr_assert_eq(na_layer_child_count(na_tree_get(m, "input_to_query")), 2);
    na_layer_free(m);
}

/* lecun_normal: truncated normal, variance 1 / fan_in with fan_in the input
 * axes (64 for q/k/v, heads x projection = 64 for the output), cut at
 * +-2 sd of the untruncated normal. */
Test(attention_defaults, flax_default_kernel_init_is_lecun_normal)
{
    na_layer *m = mha(&(na_mha_options){.num_heads = 4, .in_features = 64,
                                        .qkv_features = 32, .seed = 3});
    const int64_t fan_in[] = {64, 64, 64, 32};
    for (int i = 0; i < 4; i++) {
        stats s = stats_of(kernel_of(m, PATHS[i]));
        double var = 1.0 / (double)fan_in[i], bound = 2 * sqrt(var) / TRUNC_SD;
        cr_assert(fabs(s.var / var - 1) < 0.1, "%s: variance %g, want %g", PATHS[i],
                  s.var, var);
        cr_assert(s.max_abs <= bound * (1 + 1e-6), "%s: %g beyond %g", PATHS[i],
                  s.max_abs, bound);
        cr_assert(s.max_abs > 0.9 * bound, "%s: %g far from the cut %g", PATHS[i],
                  s.max_abs, bound);
        cr_assert(fabs(s.mean) < 4 * sqrt(var / (double)s.n));
    }
    na_layer_free(m);
}

Test(attention_defaults, flax_initializer_options)
{
    na_init k = na_init_variance_scaling(2.0, NA_FAN_IN, NA_DIST_UNIFORM);
    na_init ok = na_init_constant(0.125), b = na_init_constant(0.5),
            ob = na_init_constant(-0.25);
    na_layer *m = mha(&(na_mha_options){.num_heads = 2, .in_features = 32,
                                        .kernel_init = &k, .bias_init = &b});
    /* out_kernel_init / out_bias_init None: the kernel / bias init */
    stats s = stats_of(kernel_of(m, "attn_value_to_output"));
    double bound = sqrt(3 * 2.0 / 32);
    cr_assert(s.max_abs <= bound && s.max_abs > 0.95 * bound, "%g vs %g", s.max_abs, bound);
    for (int i = 0; i < 4; i++)
        cr_assert(all_equal(bias_of(m, PATHS[i]), 0.5));
    na_layer_free(m);
    m = mha(&(na_mha_options){.num_heads = 2, .in_features = 32, .kernel_init = &k,
                              .out_kernel_init = &ok, .bias_init = &b,
                              .out_bias_init = &ob});
    cr_assert(all_equal(kernel_of(m, "attn_value_to_output"), 0.125));
    cr_assert(all_equal(bias_of(m, "attn_value_to_output"), -0.25));
    cr_assert(all_equal(bias_of(m, "input_to_key"), 0.5));
    stats q = stats_of(kernel_of(m, "input_to_query"));
    cr_assert(q.max_abs <= bound && q.max_abs > 0.95 * bound);
    na_layer_free(m);
    na_init vs = na_init_lecun_normal();
    na_layer *bad = NULL;
    NA_EXPECT_FAIL(na_mha_new(&(na_mha_options){.num_heads = 2, .in_features = 8,
                                                .bias_init = &vs}, &bad),
                   NA_ERR_ARGUMENT, "na_mha_new", "bias_init must be a constant");
    NA_EXPECT_FAIL(na_mha_new(&(na_mha_options){.num_heads = 2, .in_features = 8,
                                                .out_bias_init = &vs}, &bad),
                   NA_ERR_ARGUMENT, "out_bias_init must be a constant", "output");
}

/* Off switches and zero values that mean what they say. */
Test(attention_defaults, flax_off_switches_and_scale_zero)
{
    na_layer *m = mha(&(na_mha_options){.num_heads = 2, .in_features = 8, .no_bias = true,
                                        .dropout_rate = 0.5, .independent_dropout = true,
                                        .custom_scale = true, .scale = 0,
                                        .capture_weights = true, .seed = 2});
    for (int i = 0; i < 4; i++)
        cr_assert(na_layer_is(proj(m, PATHS[i]), &na_linear_type), "%s", PATHS[i]);
    na_layer *qk = na_tree_get(m, "query_key_to_attn");
    const char *const *shared = NULL;
    NA_OK_OR_FAIL(na_layer_field_names(na_layer_child(qk, na_layer_child_count(qk) - 1),
                                       "shared", &shared));
    cr_assert(!shared || !shared[0], "independent dropout shares no axis");
    NA_OK_OR_FAIL(na_layer_field_set_bool(na_layer_child(qk, na_layer_child_count(qk) - 1),
                                          "enabled", false));
    /* scale 0: every logit 0, uniform weights over the 5 keys */
    na_array *x = ts_random(NA_F32, NA_DIMS({"batch", 1}, {"seq", 5}, {"embedding", 8}), 4);
    na_array *y = NULL;
    na_side *side = na_side_new();
    NA_OK_OR_FAIL(na_layer_call_array(m, x, side, &y));
    stats w = stats_of(na_attention_weights(m));
    cr_assert(fabs(w.mean - 0.2) < 1e-7 && w.var < 1e-12, "mean %g var %g", w.mean, w.var);
    TS_FREE(x, y);
    na_side_free(side);
    na_layer_free(m);
    na_layer *l = NULL;
    NA_OK_OR_FAIL(na_attention_logits_new(NULL, 0, &l));
    NA_EXPECT_FAIL(na_attention_logits_set_scale(l, INFINITY), NA_ERR_ARGUMENT,
                   "na_attention_logits_set_scale", "must be finite");
    NA_EXPECT_FAIL(na_attention_logits_set_scale(NULL, 1), NA_ERR_ARGUMENT,
                   "not an AttentionLogits");
    na_layer_free(l);
}

/* ---- Keras -------------------------------------------------------------------------- */

Test(attention_defaults, keras_gqa_zero_options_field_by_field)
{
    enum { M = 16, U = 4, V = 2, H = 8 };
    na_layer *m = gqa(&(na_gqa_options){.head_dim = H, .num_query_heads = U,
                                        .num_key_value_heads = V, .query_features = M,
                                        .seed = 5});
    for (int i = 0; i < 4; i++)
        cr_assert(all_equal(bias_of(m, PATHS[i]), 0), "%s: use_bias=True, zeros",
                  PATHS[i]);
    /* glorot_uniform over Keras's einsum fans: query (m, u, h) -> fan_in u*m,
     * fan_out h*m; key/value (m, v, h); output (u, h, m) -> (h*u, m*u) */
    const double fans[4][2] = {{U * M, H * M}, {V * M, H * M}, {V * M, H * M},
                               {H * U, M * U}};
    for (int i = 0; i < 4; i++) {
        stats s = stats_of(kernel_of(m, PATHS[i]));
        double bound = sqrt(6.0 / (fans[i][0] + fans[i][1]));
        cr_assert(s.max_abs <= bound, "%s: %g beyond %g", PATHS[i], s.max_abs, bound);
        cr_assert(s.max_abs > 0.9 * bound, "%s: %g, want about %g", PATHS[i], s.max_abs,
                  bound);
        cr_assert(fabs(s.var / (bound * bound / 3) - 1) < 0.25, "%s variance %g",
                  PATHS[i], s.var);
    }
    /* Keras's masked softmax: fully masked rows get zeros; no dropout */
    na_layer *qk = na_tree_get(m, "query_key_to_attn");
    na_layer *last = na_layer_child(qk, na_layer_child_count(qk) - 1);
    int rows = 0;
    cr_assert(na_layer_is(last, &na_masked_softmax_type));
    NA_OK_OR_FAIL(na_layer_field_enum(last, "masked_rows", &rows));
    cr_assert_eq(rows, NA_MASKED_ROWS_ZERO);
    na_layer_free(m);
}

Test(attention_defaults, keras_initializer_options_and_fans)
{
    na_init k = na_init_variance_scaling(1.0, NA_FAN_IN, NA_DIST_UNIFORM);
    na_init b = na_init_variance_scaling(3.0, NA_FAN_OUT, NA_DIST_UNIFORM);
    na_layer *m = gqa(&(na_gqa_options){.head_dim = 8, .num_query_heads = 4,
                                        .num_key_value_heads = 4, .query_features = 16,
                                        .kernel_initializer = &k, .bias_initializer = &b,
                                        .masked_rows = NA_MASKED_ROWS_UNIFORM});
    /* query kernel fan_in 4 * 16; query bias (u, h): fan_out 8; output bias
     * (m,): fan_out 16 */
    stats s = stats_of(kernel_of(m, "input_to_query"));
    cr_assert(s.max_abs <= sqrt(3.0 / 64) && s.max_abs > 0.9 * sqrt(3.0 / 64));
    s = stats_of(bias_of(m, "input_to_query"));
    cr_assert(s.max_abs <= sqrt(9.0 / 8) && s.max_abs > 0.8 * sqrt(9.0 / 8), "%g",
              s.max_abs);
    s = stats_of(bias_of(m, "attn_value_to_output"));
    cr_assert(s.max_abs <= sqrt(9.0 / 16) && s.max_abs > 0.7 * sqrt(9.0 / 16), "%g",
              s.max_abs);
    na_layer *qk = na_tree_get(m, "query_key_to_attn");
    cr_assert(na_layer_is(na_layer_child(qk, na_layer_child_count(qk) - 1),
                          &na_softmax_layer_type), "uniform rows: a plain Softmax");
    na_layer_free(m);
    m = gqa(&(na_gqa_options){.head_dim = 8, .num_query_heads = 4,
                              .num_key_value_heads = 4, .query_features = 16,
                              .no_bias = true});
    cr_assert(na_layer_is(proj(m, "input_to_value"), &na_linear_type));
    na_layer_free(m);
}

/* ---- the initializer itself ---------------------------------------------------------- */

/* Truncated normal over many seeds: mean 0 and the asked variance within
 * tolerance; every value inside the cut, the cut reached. */
Test(attention_defaults, truncated_normal_statistics_over_seeds)
{
    na_init t = na_init_variance_scaling(2.0, NA_FAN_IN, NA_DIST_TRUNCATED_NORMAL);
    double var = 2.0 / 50, bound = 2 * sqrt(var) / TRUNC_SD;
    double sum = 0, sq = 0, mx = 0;
    int64_t n = 0;
    for (uint64_t seed = 0; seed < 40; seed++) {
        na_array *w = NULL;
        na_init_options o = {.init = &t,
                             .seed = seed,
                             .dtype = NA_F64,
                             .n_in = 1,
                             .in = &(na_dim){"in", 50},
                             .n_out = 1,
                             .out = &(na_dim){"out", 100}};
        NA_OK_OR_FAIL(na_init_array_ex(&o, &w));
        const double *d = na_data(w);
        for (int64_t i = 0; i < na_size(w); i++, n++) {
            sum += d[i];
            sq += d[i] * d[i];
            mx = fmax(mx, fabs(d[i]));
        }
        na_array_free(w);
    }
    double mean = sum / (double)n, v = sq / (double)n - mean * mean;
    cr_assert(fabs(mean) < 4 * sqrt(var / (double)n), "mean %g", mean);
    cr_assert(fabs(v / var - 1) < 0.02, "variance %g, want %g", v, var);
    cr_assert(mx <= bound * (1 + 1e-12), "%g beyond the cut %g", mx, bound);
    cr_assert(mx > 0.999 * bound, "the cut %g not approached (%g)", bound, mx);
}

Test(attention_defaults, init_fan_override)
{
    na_init u = na_init_xavier_uniform();
    u.fan_in = 10, u.fan_out = 20;
    na_array *w = NULL;
    NA_OK_OR_FAIL(na_init_array(&u, 1, NA_DIMS({"in", 100}), NA_DIMS({"out", 100}), &w));
    stats s = stats_of(w);
    cr_assert(s.max_abs <= sqrt(6.0 / 30) && s.max_abs > 0.99 * sqrt(6.0 / 30));
    na_array_free(w);
    u.fan_in = -1;
    NA_EXPECT_FAIL(na_init_array(&u, 1, NA_DIMS({"in", 4}), 0, NULL, &w), NA_ERR_ARGUMENT,
                   "fan_in -1");
}
