/* Attention biases: ApplyAttentionBias (a bias from the side inputs) and
 * ApplyALiBiBias (ALiBi from positions) against plain loops; ALiBi slopes
 * against the paper's / Hugging Face's values; the builders' bias options;
 * errors. (Decoding through the cache: test_kv_cache.c.) */
#include <math.h>
#include <stdlib.h>

#include <namedarr/attention.h>
#include <namedarr/fields.h>
#include <namedarr/masks.h>
#include <namedarr/tree.h>

#include "support.h"

enum { B = 2, H = 3, S = 5, K = 6, D = 4 };

static const char *const LOGIT_NAMES[] = {"batch", "heads", "seq", "kv_seq", NULL};

static double logit_at(const na_array *x, int b, int h, int i, int j)
{
    return ts_at(x, 4, LOGIT_NAMES, (int64_t[]){b, h, i, j});
}

/* ---- slopes ------------------------------------------------------------------ */

static void expect_slopes(int n, const double *want)
{
    na_array *s = NULL;
    NA_OK_OR_FAIL(na_alibi_slopes(n, NULL, &s));
    cr_assert_eq(na_axis_size(s, "heads"), n);
    for (int h = 0; h < n; h++) {
        double got = ts_at(s, 1, NA_NAMES("heads"), (int64_t[]){h});
        cr_assert(fabs(got - want[h]) <= 1e-7 * want[h], "n %d head %d: %.9g, want %.9g",
                  n, h, got, want[h]);
    }
    na_array_free(s);
}

Test(bias, alibi_slopes_power_of_two_and_not)
{
    /* 8 heads: 2^-1 ... 2^-8 (the paper). */
    expect_slopes(8, (double[]){0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125,
                                0.00390625});
    expect_slopes(1, (double[]){0.00390625}); /* 2^-8 */
    /* 6 heads (Hugging Face's build_alibi_tensor): the 4 slopes of 4 heads,
     * then 2^-1 and 2^-3 (odd powers of 2^-8/8). */
    expect_slopes(6, (double[]){0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125});
    /* 12 heads: 8 slopes of 8 heads, then 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5. */
    expect_slopes(12, (double[]){0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125,
                                 0.00390625, 0.7071067811865476, 0.35355339059327373,
                                 0.17677669529663687, 0.08838834764831843});
    na_array *s = NULL;
    NA_EXPECT_FAIL(na_alibi_slopes(0, NULL, &s), NA_ERR_ARGUMENT, "na_alibi_slopes",
                   "num_heads 0");
}

/* ---- ApplyAttentionBias --------------------------------------------------------- */

static na_array *random_logits(uint64_t seed)
{
    return ts_random(NA_F32, NA_DIMS({"batch", B}, {"heads", H}, {"seq", S}, {"kv_seq", K}),
                     seed);
}

static na_array *call_on(na_layer *l, const na_array *x, const na_side *side)
{
    na_array *y = NULL;
    NA_OK_OR_FAIL(na_layer_call_array(l, x, side, &y));
    return y;
}

Test(bias, side_bias_added_by_name)
{
    na_array *x = random_logits(1);
    /* {kv_seq, heads, seq}: another order, no batch axis (broadcast). */
    na_array *bias = ts_random(NA_F32, NA_DIMS({"kv_seq", K}, {"heads", H}, {"seq", S}), 2);
    na_side *side = na_side_new();
    NA_OK_OR_FAIL(na_side_set_array(side, "rel", bias));
    na_layer *l = NULL;
    NA_OK_OR_FAIL(na_apply_attention_bias_new("rel", &l));
    na_array *y = call_on(l, x, side);
    ts_expect_shape(y, "f32[batch:2, heads:3, seq:5, kv_seq:6]");
    const char *const bn[] = {"kv_seq", "heads", "seq", NULL};
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < S; i++)
                for (int j = 0; j < K; j++) {
                    double want = logit_at(x, b, h, i, j) +
                                  ts_at(bias, 3, bn, (int64_t[]){j, h, i});
                    cr_assert(fabs(logit_at(y, b, h, i, j) - want) < 1e-6);
                }
    TS_FREE(x, bias, y);
    na_side_free(side);
    na_layer_free(l);
}

Test(bias, side_bias_errors_and_optional)
{
    na_array *x = random_logits(3), *y = NULL;
    na_side *side = na_side_new();
    na_layer *l = NULL;
    NA_OK_OR_FAIL(na_apply_attention_bias_new("rel", &l));
    NA_EXPECT_FAIL(na_layer_call_array(l, x, side, &y), NA_ERR_NOT_FOUND, "ApplyAttentionBias",
                   "rel", "f32[batch:2, heads:3, seq:5, kv_seq:6]");
    na_array *wrong = ts_random(NA_F32, NA_DIMS({"heads", H}, {"kv_seq", K + 1}), 4);
    NA_OK_OR_FAIL(na_side_set_array(side, "rel", wrong));
    NA_EXPECT_FAIL(na_layer_call_array(l, x, side, &y), NA_ERR_SHAPE, "ApplyAttentionBias",
                   "bias 'rel'", "f32[heads:3, kv_seq:7]", "axis 'kv_seq' has size 7");
    na_array *extra = ts_random(NA_F32, NA_DIMS({"layers", 2}), 4);
    NA_OK_OR_FAIL(na_side_set_array(side, "rel", extra));
    NA_EXPECT_FAIL(na_layer_call_array(l, x, side, &y), NA_ERR_AXIS,
                   "axis 'layers' is not in the logits");
    na_array *flags = NULL;
    NA_OK_OR_FAIL(na_binary_scalar(NA_GT, wrong, 0, &flags));
    NA_OK_OR_FAIL(na_side_set_array(side, "rel", flags));
    NA_EXPECT_FAIL(na_layer_call_array(l, x, side, &y), NA_ERR_DTYPE,
                   "bias 'rel' is bool", "expected f32 or f64");
    NA_OK_OR_FAIL(na_apply_attention_bias_set_optional(l, true));
    na_side *empty = na_side_new();
    y = call_on(l, x, empty);
    cr_assert_eq(ts_max_abs_diff(x, y), 0, "an absent optional bias is no bias");
    na_layer *m = NULL;
    NA_EXPECT_FAIL(na_apply_attention_bias_new("", &m), NA_ERR_ARGUMENT,
                   "na_apply_attention_bias_new", "bias_tag is empty");
    NA_EXPECT_FAIL(na_apply_attention_bias_set_optional(NULL, true), NA_ERR_ARGUMENT,
                   "not an ApplyAttentionBias");
    TS_FREE(x, y, wrong, extra, flags);
    na_side_free(side);
    na_side_free(empty);
    na_layer_free(l);
}

/* ---- ApplyALiBiBias ---------------------------------------------------------- */

/* Positions {batch, seq}: row 1 left-padded by one. */
static na_array *padded_positions(const char *axis, int64_t n)
{
    int32_t p[2 * 16];
    for (int b = 0; b < B; b++)
        for (int t = 0; t < n; t++)
            p[b * n + t] = b == 1 ? t - 1 : t;
    na_array *x = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_I32, NA_DIMS({"batch", B}, {axis, n}), p, &x));
    return x;
}

Test(bias, alibi_from_positions_plain_loop)
{
    na_array *x = random_logits(5), *slopes = NULL;
    na_array *qp = padded_positions("seq", S), *kp = padded_positions("kv_seq", K);
    na_side *side = na_side_new();
    NA_OK_OR_FAIL(na_side_set_array(side, NA_QUERY_POSITIONS_KEY, qp));
    NA_OK_OR_FAIL(na_side_set_array(side, NA_KV_POSITIONS_KEY, kp));
    na_layer *l = NULL;
    NA_OK_OR_FAIL(na_apply_alibi_bias_new(&(na_alibi_options){.num_heads = H}, &l));
    NA_OK_OR_FAIL(na_alibi_slopes(H, NULL, &slopes));
    na_array *y = call_on(l, x, side);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < S; i++)
                for (int j = 0; j < K; j++) {
                    double m = ts_at(slopes, 1, NA_NAMES("heads"), (int64_t[]){h});
                    double qi = ts_at(qp, 2, NA_NAMES("batch", "seq"), (int64_t[]){b, i});
                    double kj = ts_at(kp, 2, NA_NAMES("batch", "kv_seq"), (int64_t[]){b, j});
                    double want = logit_at(x, b, h, i, j) - m * (qi - kj);
                    cr_assert(fabs(logit_at(y, b, h, i, j) - want) < 1e-5,
                              "b%d h%d i%d j%d: %g vs %g", b, h, i, j,
                              logit_at(y, b, h, i, j), want);
                }
    TS_FREE(x, slopes, qp, kp, y);
    na_side_free(side);
    na_layer_free(l);
}

/* Grouped heads {kv_heads, query_heads}: query head h = g * per + i gets
 * slope[h]; positions absent: 0, 1, 2, ... */
Test(bias, alibi_grouped_heads_in_query_head_order)
{
    enum { G = 2, P = 3 };
    na_array *x = ts_random(NA_F32, NA_DIMS({"kv_heads", G}, {"query_heads", P}, {"seq", S},
                                            {"kv_seq", S}), 6);
    na_alibi_options o = {.num_heads = G * P, .group_axis = "kv_heads",
                          .heads_axis = "query_heads", .num_groups = G};
    na_layer *l = NULL;
    na_array *slopes = NULL;
    NA_OK_OR_FAIL(na_apply_alibi_bias_new(&o, &l));
    NA_OK_OR_FAIL(na_alibi_slopes(G * P, NULL, &slopes));
    na_side *side = na_side_new();
    na_array *y = call_on(l, x, side);
    const char *const n[] = {"kv_heads", "query_heads", "seq", "kv_seq", NULL};
    for (int g = 0; g < G; g++)
        for (int p = 0; p < P; p++)
            for (int i = 0; i < S; i++)
                for (int j = 0; j < S; j++) {
                    double m = ts_at(slopes, 1, NA_NAMES("heads"), (int64_t[]){g * P + p});
                    double want = ts_at(x, 4, n, (int64_t[]){g, p, i, j}) + m * (j - i);
                    cr_assert(fabs(ts_at(y, 4, n, (int64_t[]){g, p, i, j}) - want) < 1e-5);
                }
    TS_FREE(x, y, slopes);
    na_side_free(side);
    na_layer_free(l);
}

Test(bias, alibi_errors)
{
    na_layer *l = NULL;
    NA_EXPECT_FAIL(na_apply_alibi_bias_new(&(na_alibi_options){0}, &l), NA_ERR_ARGUMENT,
                   "ApplyALiBiBias", "num_heads 0");
    na_alibi_options o = {.num_heads = 6, .group_axis = "kv_heads", .num_groups = 4,
                          .heads_axis = "query_heads"};
    NA_EXPECT_FAIL(na_apply_alibi_bias_new(&o, &l), NA_ERR_ARGUMENT,
                   "num_groups 4 must divide num_heads 6");
    NA_OK_OR_FAIL(na_apply_alibi_bias_new(&(na_alibi_options){.num_heads = 4}, &l));
    na_array *x = random_logits(7), *y = NULL; /* 3 heads, not 4 */
    na_side *side = na_side_new();
    NA_EXPECT_FAIL(na_layer_call_array(l, x, side, &y), NA_ERR_SHAPE, "ApplyALiBiBias",
                   "the slopes f32[heads:4]", "axis 'heads' has size 4");
    na_array *qp = padded_positions("seq", S + 1);
    NA_OK_OR_FAIL(na_side_set_array(side, NA_QUERY_POSITIONS_KEY, qp));
    na_layer_free(l);
    NA_OK_OR_FAIL(na_apply_alibi_bias_new(&(na_alibi_options){.num_heads = H}, &l));
    NA_EXPECT_FAIL(na_layer_call_array(l, x, side, &y), NA_ERR_SHAPE, "ApplyALiBiBias",
                   "positions 'token_positions'", "axis 'seq' of size 5");
    TS_FREE(x, qp);
    na_side_free(side);
    na_layer_free(l);
}

Test(bias, fields_clone_and_print)
{
    na_alibi_options o = {.num_heads = 8, .group_axis = "kv_heads", .num_groups = 2,
                          .heads_axis = "query_heads"};
    na_layer *l = NULL, *c = NULL;
    NA_OK_OR_FAIL(na_apply_alibi_bias_new(&o, &l));
    int64_t n = 0;
    const char *axis = NULL;
    NA_OK_OR_FAIL(na_layer_field_int(l, "num_heads", &n));
    NA_OK_OR_FAIL(na_layer_field_axis(l, "group_axis", &axis));
    cr_assert_eq(n, 8);
    cr_assert_str_eq(axis, "kv_heads");
    NA_OK_OR_FAIL(na_layer_clone(l, NA_CLONE_COPY_PARAMS, &c));
    cr_assert(na_layer_equal(l, c, true));
    NA_OK_OR_FAIL(na_layer_field_set_int(c, "num_heads", 9));
    NA_EXPECT_FAIL(na_layer_finish(c), NA_ERR_ARGUMENT, "num_groups 2 must divide");
    NA_OK_OR_FAIL(na_layer_field_set_int(c, "num_groups", 3));
    NA_OK_OR_FAIL(na_layer_finish(c));
    na_layer_free(l);
    na_layer_free(c);
}

/* ---- through the builders: the sublayer against a plain loop -------------------- */

/* softmax_j(q.k * D^-0.5 + bias[h, i, j]) with the causal rule. */
static double ref_weight(const na_array *q, const na_array *k, const na_array *bias,
                         int b, int h, int i, int j)
{
    const char *const qn[] = {"batch", "seq", "heads", "projection", NULL};
    const char *const kn[] = {"batch", "kv_seq", "heads", "projection", NULL};
    double l[S], mx = -INFINITY, sum = 0;
    for (int t = 0; t <= i; t++) {
        double dot = 0;
        for (int d = 0; d < D; d++)
            dot += ts_at(q, 4, qn, (int64_t[]){b, i, h, d}) *
                   ts_at(k, 4, kn, (int64_t[]){b, t, h, d});
        l[t] = dot / sqrt(D) +
               ts_at(bias, 3, NA_NAMES("heads", "seq", "kv_seq"), (int64_t[]){h, i, t});
        mx = fmax(mx, l[t]);
    }
    for (int t = 0; t <= i; t++)
        sum += exp(l[t] - mx);
    return j <= i ? exp(l[j] - mx) / sum : 0;
}

Test(bias, dot_product_attn_bias_then_alibi_then_causal)
{
    na_array *q = ts_random(NA_F32, NA_DIMS({"batch", B}, {"seq", S}, {"heads", H},
                                            {"projection", D}), 8);
    na_array *k = ts_random(NA_F32, NA_DIMS({"batch", B}, {"kv_seq", S}, {"heads", H},
                                            {"projection", D}), 9);
    na_array *user = ts_random(NA_F32, NA_DIMS({"heads", H}, {"seq", S}, {"kv_seq", S}), 10);
    na_array *slopes = NULL, *bias = NULL, *w = NULL;
    NA_OK_OR_FAIL(na_alibi_slopes(H, NULL, &slopes));
    /* the expected total bias: user + slope * (j - i), by plain loops */
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"heads", H}, {"seq", S}, {"kv_seq", S}), &bias));
    float *bd = na_data(bias);
    for (int h = 0; h < H; h++)
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++)
                bd[(h * S + i) * S + j] =
                    (float)(ts_at(user, 3, NA_NAMES("heads", "seq", "kv_seq"),
                                  (int64_t[]){h, i, j}) +
                            ts_at(slopes, 1, NA_NAMES("heads"), (int64_t[]){h}) * (j - i));
    na_alibi_options a = {.num_heads = H};
    na_dot_product_options o = {.bias_tag = "user", .alibi = &a, .causal = true};
    na_layer *qk = NULL;
    NA_OK_OR_FAIL(na_dot_product_attn_new(&o, &qk));
    cr_assert_str_eq(na_layer_type_name(na_layer_child(qk, 1)), "ApplyAttentionBias");
    cr_assert_str_eq(na_layer_type_name(na_layer_child(qk, 2)), "ApplyALiBiBias");
    cr_assert_str_eq(na_layer_type_name(na_layer_child(qk, 3)), "ApplyCausalMask");
    na_side *side = na_side_new();
    NA_OK_OR_FAIL(na_side_set_array(side, "user", user));
    na_value *in = na_value_tuple(2, (na_value *[]){na_value_ref_array(q),
                                                    na_value_ref_array(k)});
    na_value *out = NULL;
    NA_OK_OR_FAIL(na_layer_call(qk, in, side, &out));
    w = out->array;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < S; i++)
                for (int j = 0; j < S; j++)
                    cr_assert(fabs(logit_at(w, b, h, i, j) -
                                   ref_weight(q, k, bias, b, h, i, j)) < 1e-5);
    TS_FREE(q, k, user, slopes, bias);
    na_value_free(in);
    na_value_free(out);
    na_side_free(side);
    na_layer_free(qk);
}

Test(bias, builders_place_bias_layers)
{
    na_mha_options m = {.num_heads = 4, .num_kv_heads = 2, .in_features = 8,
                        .causal = true, .alibi = true, .bias_tag = "rel", .no_bias = true};
    na_layer *mha = NULL, *bias = NULL, *alibi = NULL;
    NA_OK_OR_FAIL(na_mha_new(&m, &mha));
    bias = na_tree_get(mha, "query_key_to_attn/1");
    alibi = na_tree_get(mha, "query_key_to_attn/2");
    cr_assert(na_layer_is(bias, &na_apply_attention_bias_type));
    cr_assert(na_layer_is(alibi, &na_apply_alibi_bias_type));
    bool optional = false;
    const char *g = NULL, *h = NULL;
    int64_t groups = 0;
    NA_OK_OR_FAIL(na_layer_field_bool(bias, "optional", &optional));
    NA_OK_OR_FAIL(na_layer_field_axis(alibi, "group_axis", &g));
    NA_OK_OR_FAIL(na_layer_field_axis(alibi, "heads_axis", &h));
    NA_OK_OR_FAIL(na_layer_field_int(alibi, "num_groups", &groups));
    cr_assert(optional, "the builders' bias is optional (Flax's bias=None)");
    cr_assert_str_eq(g, "kv_heads");
    cr_assert_str_eq(h, "query_heads");
    cr_assert_eq(groups, 2);
    na_array *x = ts_random(NA_F32, NA_DIMS({"batch", 1}, {"seq", 3}, {"embedding", 8}), 1);
    na_array *y = NULL;
    na_side *side = na_side_new();
    NA_OK_OR_FAIL(na_layer_call_array(mha, x, side, &y));
    ts_expect_shape(y, "f32[batch:1, seq:3, embedding:8]");
    TS_FREE(x, y);
    na_side_free(side);
    na_layer_free(mha);
}
