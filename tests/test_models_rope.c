/* RoPE inside attention: the Flax- and Keras-style builders with a rotary
 * option (rope theta, linear scaling, Llama 3 frequency scaling, partial
 * rotation) against the plain-loop reference of ref_transformer.h, with
 * padding, GQA, sliding windows and logit soft-caps; the tree puts the
 * rotation after the projection and renames seq to kv_seq only then. */
#include <math.h>
#include <stdlib.h>

#include <namedarr/attention.h>
#include <namedarr/print.h>
#include <namedarr/tree.h>

#include "model_support.h"

enum { B = 2, S = 9, E = 16 };

/* Positions {batch, seq}: row 1 left-padded by three. */
static void fill_positions(int *pos)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < S; t++)
            pos[b * S + t] = b == 1 ? t - 3 : t;
}

/* Run `attn` on random x with the positions and compare every valid row
 * with ref_attention (layer 0 of `c`). */
static void check_attention(na_layer *attn, const ref_cfg *c, const char *prefix)
{
    int pos[B * S];
    fill_positions(pos);
    na_array *x = ts_random(NA_F32, NA_DIMS({"batch", B}, {"seq", S}, {"embedding", E}), 3);
    na_array *p = ms_i32(B, S, pos), *y = NULL;
    na_side *side = na_side_new();
    NA_OK_OR_FAIL(na_side_set_array(side, "token_positions", p));
    NA_OK_OR_FAIL(na_layer_call_array(attn, x, side, &y));
    ref_block w = {0};
    ms_take_attention(attn, prefix, &w);
    na_array *xo = NULL, *yo = NULL;
    NA_OK_OR_FAIL(na_order_as(x, NA_NAMES("batch", "seq", "embedding"), &xo));
    NA_OK_OR_FAIL(na_order_as(y, NA_NAMES("batch", "seq", "embedding"), &yo));
    float *xb = malloc(sizeof(float) * B * S * E), *yb = malloc(sizeof(float) * B * S * E);
    float *want = malloc(sizeof(float) * S * E);
    NA_OK_OR_FAIL(na_copy_to(xo, NA_F32, xb));
    NA_OK_OR_FAIL(na_copy_to(yo, NA_F32, yb));
    double worst = 0;
    for (int b = 0; b < B; b++) {
        ref_attention(c, &w, 0, S, xb + b * S * E, pos + b * S, want);
        for (int t = 0; t < S; t++)
            for (int i = 0; pos[b * S + t] >= 0 && i < E; i++)
                worst = fmax(worst, fabs(want[t * E + i] - yb[(b * S + t) * E + i]));
    }
    cr_assert_lt(worst, 2e-5, "max |library - reference| = %g", worst);
    ms_free_block(&w);
    free(xb), free(yb), free(want);
    TS_FREE(x, p, y, xo, yo);
    na_side_free(side);
}

static ref_cfg base_cfg(int nq, int nkv, int hd)
{
    return (ref_cfg){.hidden = E, .nq = nq, .nkv = nkv, .hd = hd,
                     .rope = {.on = true, .theta = 10000, .scale = 1}};
}

Test(models_rope, mha_llama3_scaling_matches_reference)
{
    /* theta 10000, head_dim 8: wavelengths 6.3, 63, 628, 6283 fall in the
     * kept, blended, divided and divided bands of (original 64, 1, 4). */
    na_rope_options r = {.max_wavelength = 10000, .llama3_factor = 8,
                         .llama3_low_freq_factor = 1, .llama3_high_freq_factor = 4,
                         .llama3_original_max_position = 64};
    na_mha_options o = {.num_heads = 2, .in_features = E, .causal = true,
                        .rotary = &r, .seed = 11, .no_bias = true};
    na_layer *attn = NULL;
    NA_OK_OR_FAIL(na_mha_new(&o, &attn));
    ref_cfg c = base_cfg(2, 2, 8);
    c.rope.l3_factor = 8, c.rope.l3_low = 1, c.rope.l3_high = 4, c.rope.l3_orig = 64;
    check_attention(attn, &c, "attention");
    na_layer_free(attn);
}

Test(models_rope, gqa_partial_linear_window_softcap_matches_reference)
{
    na_rope_options r = {.max_wavelength = 500, .scale_factor = 2, .fraction = 0.5};
    na_mha_options o = {.num_heads = 4, .num_kv_heads = 2, .in_features = E,
                        .qkv_features = 4 * 6, .causal = true, .rotary = &r,
                        .sliding_window = 3, .logit_soft_cap = 0.7, .seed = 12};
    na_layer *attn = NULL;
    NA_OK_OR_FAIL(na_mha_new(&o, &attn));
    ref_cfg c = base_cfg(4, 2, 6);
    c.rope.theta = 500, c.rope.scale = 2, c.rope.fraction = 0.5;
    c.window = 3, c.attn_cap = 0.7, c.qkv_bias = c.out_bias = true;
    /* biases are zero at init: make them random so they count */
    const char *biases[] = {"attention/query.bias", "attention/key.bias",
                            "attention/value.bias", "attention/output.bias"};
    for (int i = 0; i < 4; i++) {
        na_param *pb = ms_param(attn, biases[i]);
        cr_assert(pb);
        na_array *rnd = NULL;
        na_dim dims[NA_MAX_DIMS];
        for (int d = 0; d < pb->value->ndim; d++)
            dims[d] = (na_dim){pb->value->name[d], pb->value->shape[d]};
        NA_OK_OR_FAIL(na_random_normal(40 + i, NA_F32, pb->value->ndim, dims, 0, 1, &rnd));
        na_param_set_value(pb, rnd);
    }
    check_attention(attn, &c, "attention");
    na_layer_free(attn);
}

Test(models_rope, keras_builder_takes_the_rotary_option)
{
    na_rope_options r = {.max_wavelength = 100};
    na_gqa_options o = {.head_dim = 4, .num_query_heads = 4, .num_key_value_heads = 1,
                        .query_features = E, .use_causal_mask = true,
                        .masked_rows = NA_MASKED_ROWS_UNIFORM, .rotary = &r, .seed = 13, .no_bias = true};
    na_layer *attn = NULL;
    NA_OK_OR_FAIL(na_gqa_new(&o, &attn));
    ref_cfg c = base_cfg(4, 1, 4);
    c.rope.theta = 100;
    check_attention(attn, &c, "attention");
    na_layer_free(attn);
}

/* Penzai's order: project, rotate, then rename on the key path only. */
Test(models_rope, tree_order_is_project_rotate_rename)
{
    na_rope_options r = {0};
    na_mha_options o = {.num_heads = 2, .in_features = E, .causal = true, .rotary = &r, .no_bias = true};
    na_layer *attn = NULL;
    NA_OK_OR_FAIL(na_mha_new(&o, &attn));
    const char *want_q[] = {"SelectAttentionInput", "Linear", "ApplyRoPE"};
    const char *want_k[] = {"SelectAttentionInput", "Linear", "ApplyRoPE", "RenameAxes"};
    const char *want_v[] = {"SelectAttentionInput", "Linear"};
    na_layer *q = na_tree_get(attn, "input_to_query");
    na_layer *k = na_tree_get(attn, "input_to_key");
    na_layer *v = na_tree_get(attn, "input_to_value");
    cr_assert_eq(na_layer_child_count(q), 3);
    cr_assert_eq(na_layer_child_count(k), 4);
    cr_assert_eq(na_layer_child_count(v), 2);
    for (int i = 0; i < 4; i++) {
        if (i < 3)
            cr_assert_str_eq(na_layer_type_name(na_layer_child(q, i)), want_q[i]);
        cr_assert_str_eq(na_layer_type_name(na_layer_child(k, i)), want_k[i]);
        if (i < 2)
            cr_assert_str_eq(na_layer_type_name(na_layer_child(v, i)), want_v[i]);
    }
    /* Without positions the default arange serves both paths. */
    na_array *x = ts_random(NA_F32, NA_DIMS({"batch", 1}, {"seq", 5}, {"embedding", E}), 4);
    na_array *y = NULL;
    NA_OK_OR_FAIL(na_layer_call_array(attn, x, NULL, &y));
    TS_FREE(x, y);
    na_layer_free(attn);
}

Test(models_rope, bad_rotary_options_fail_with_a_message)
{
    na_rope_options r = {.fraction = 1.5};
    na_mha_options o = {.num_heads = 2, .in_features = E, .causal = true, .rotary = &r, .no_bias = true};
    na_layer *attn = NULL;
    NA_EXPECT_FAIL(na_mha_new(&o, &attn), NA_ERR_ARGUMENT, "na_mha_new",
                   "rotary fraction 1.5");
    r = (na_rope_options){.fraction = 0.1};
    NA_EXPECT_FAIL(na_mha_new(&o, &attn), NA_ERR_ARGUMENT, "rotates no feature pair");
    r = (na_rope_options){.llama3_factor = 8, .llama3_low_freq_factor = 4,
                          .llama3_high_freq_factor = 1};
    na_layer *rope = NULL;
    NA_EXPECT_FAIL(na_apply_rope_new("projection", &r, &rope), NA_ERR_ARGUMENT,
                   "na_apply_rope_new", "Llama 3 scaling");
    o = (na_mha_options){.num_heads = 2, .in_features = E, .sliding_window = 4, .no_bias = true};
    NA_EXPECT_FAIL(na_mha_new(&o, &attn), NA_ERR_ARGUMENT, "sliding_window 4 (needs causal)");
    cr_assert_null(attn);
}
