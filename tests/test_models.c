/* Transformer builders (models.h) against the plain-loop reference of
 * ref_transformer.h on random weights — Llama (GQA, Llama 3 rope
 * scaling), Qwen2 (q/k/v bias, tied), Mistral (sliding window), GPT-2,
 * Gemma 2 (soft-caps, local/global), Gemma 3 (qk-norm, local rope base,
 * linear scaling) — and decoding through the cache equal to the full
 * causal call, with rows of different prompt lengths (left padding). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <namedarr/models.h>
#include <namedarr/print.h>
#include <namedarr/tree.h>

#include "model_support.h"
#include "../src/attention/fused_internal.h"

enum { B = 2, S = 8, PAD = 3, V = 40 };

typedef na_status (*build_fn)(const void *cfg, uint64_t seed, na_layer **out);

static na_status build_llama(const void *c, uint64_t seed, na_layer **out)
{
    return na_llama_new(c, seed, out);
}
static na_status build_gpt2(const void *c, uint64_t seed, na_layer **out)
{
    return na_gpt2_new(c, seed, out);
}
static na_status build_gemma(const void *c, uint64_t seed, na_layer **out)
{
    return na_gemma_new(c, seed, out);
}

/* ids {batch, seq}, positions with row 1 left-padded by PAD. */
static void make_inputs(int *ids, int *pos)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < S; t++) {
            ids[b * S + t] = (7 * t + 3 * b + 1) % V;
            pos[b * S + t] = b == 1 ? t - PAD : t;
        }
}

static na_layer *random_model(build_fn build, const void *cfg)
{
    na_layer *m = NULL;
    NA_OK_OR_FAIL(build(cfg, 1, &m));
    ms_randomize(m, 77, 0.3);
    return m;
}

/* The library's logits against ref_forward, valid rows only. */
static void check_against_reference(build_fn build, const void *cfg, const ref_cfg *rc)
{
    int ids[B * S], pos[B * S];
    make_inputs(ids, pos);
    na_layer *m = random_model(build, cfg);
    na_array *x = ms_i32(B, S, ids), *p = ms_i32(B, S, pos), *y = NULL;
    na_side *side = na_side_new();
    NA_OK_OR_FAIL(na_side_set_array(side, "token_positions", p));
    NA_OK_OR_FAIL(na_layer_call_array(m, x, side, &y));
    float *got = ms_logits(y), *want = malloc(sizeof(float) * S * V);
    ref_weights w;
    ms_take_model(m, rc, &w);
    double worst = 0, scale = 0;
    for (int b = 0; b < B; b++) {
        ref_forward(rc, &w, S, ids + b * S, pos + b * S, want);
        for (int t = 0; t < S; t++)
            for (int j = 0; pos[b * S + t] >= 0 && j < V; j++) {
                worst = fmax(worst, fabs(want[t * V + j] - got[(b * S + t) * V + j]));
                scale = fmax(scale, fabs(want[t * V + j]));
            }
    }
    cr_assert_gt(scale, 0.1, "logits too small to tell (max %g; want[0] %g got[0] %g)", scale,
                 want[0], got[0]);
    cr_assert_lt(worst, 2e-4 * fmax(1, scale), "max |library - reference| = %g (scale %g)",
                 worst, scale);
    ms_free_model(rc, &w);
    free(got), free(want);
    TS_FREE(x, p, y);
    na_side_free(side);
    na_layer_free(m);
}

/* Full causal logits vs prefill of `prompt` tokens (positions given once)
 * then steps of one token id, nothing else. */
static void check_decode(build_fn build, const void *cfg, int prompt)
{
    int ids[B * S], pos[B * S];
    make_inputs(ids, pos);
    na_layer *full = random_model(build, cfg), *cached = random_model(build, cfg);
    na_array *x = ms_i32(B, S, ids), *p = ms_i32(B, S, pos), *yf = NULL;
    na_side *side = na_side_new();
    NA_OK_OR_FAIL(na_side_set_array(side, "token_positions", p));
    NA_OK_OR_FAIL(na_layer_call_array(full, x, side, &yf));
    float *want = ms_logits(yf);
    NA_OK_OR_FAIL(na_model_to_kv_cache(&cached, S, B));
    for (int t = 0; t < S;) {
        int n = t == 0 ? prompt : 1;
        na_index r = NA_RANGE("seq", t, t + n, 1);
        na_array *xs = NULL, *ps = NULL, *ys = NULL;
        NA_OK_OR_FAIL(na_index_by(x, 1, &r, &xs));
        NA_OK_OR_FAIL(na_index_by(p, 1, &r, &ps));
        na_side *s = na_side_new();
        if (t == 0)
            NA_OK_OR_FAIL(na_side_set_array(s, "token_positions", ps));
        NA_OK_OR_FAIL(na_layer_call_array(cached, xs, s, &ys));
        float *got = ms_logits(ys);
        double worst = 0;
        for (int b = 0; b < B; b++)
            for (int i = 0; i < n; i++)
                for (int j = 0; pos[b * S + t + i] >= 0 && j < V; j++)
                    worst = fmax(worst, fabs(got[(b * n + i) * V + j] -
                                             want[(b * S + t + i) * V + j]));
        cr_assert_lt(worst, 1e-4, "step at %d (%d tokens): max diff %g", t, n, worst);
        free(got);
        TS_FREE(xs, ps, ys);
        na_side_free(s);
        t += n;
    }
    free(want);
    TS_FREE(x, p, yf);
    na_side_free(side);
    na_layer_free(full);
    na_layer_free(cached);
}

/* ---- configs ------------------------------------------------------------------ */

static na_llama_config llama_cfg(void)
{
    na_llama_config c;
    na_llama_config_init(&c);
    c.vocab_size = V, c.hidden_size = 32, c.intermediate_size = 40;
    c.num_hidden_layers = 2, c.num_attention_heads = 4, c.num_key_value_heads = 2;
    c.rms_norm_eps = 1e-5, c.rope_theta = 500;
    c.rope_scaling = (na_rope_scaling){NA_ROPE_SCALING_LLAMA3, 4, 1, 4, 32};
    return c;
}

static ref_cfg llama_ref(const na_llama_config *c)
{
    ref_cfg r = {.vocab = V, .hidden = 32, .ffn = 40, .layers = 2,
                 .nq = c->num_attention_heads, .nkv = c->num_key_value_heads, .hd = 8, .norm = REF_RMS, .eps = c->rms_norm_eps, .gated = true,
                 .act = REF_SILU, .tie = c->tie_word_embeddings,
                 .qkv_bias = c->attention_bias,
                 .out_bias = c->attention_bias && c->o_proj_bias,
                 .rope = {.on = true, .theta = c->rope_theta, .scale = 1},
                 .window = (int)c->sliding_window};
    if (c->rope_scaling.rope_type == NA_ROPE_SCALING_LLAMA3) {
        r.rope.l3_factor = c->rope_scaling.factor;
        r.rope.l3_low = c->rope_scaling.low_freq_factor;
        r.rope.l3_high = c->rope_scaling.high_freq_factor;
        r.rope.l3_orig = (double)c->rope_scaling.original_max_position_embeddings;
    }
    return r;
}

static na_llama_config qwen2_cfg(void)
{
    na_llama_config c = llama_cfg();
    c.rope_scaling = (na_rope_scaling){0};
    c.attention_bias = true, c.o_proj_bias = false, c.tie_word_embeddings = true;
    c.num_key_value_heads = 1, c.rope_theta = 1000000;
    return c;
}

static na_llama_config mistral_cfg(void)
{
    na_llama_config c = llama_cfg();
    c.rope_scaling = (na_rope_scaling){0};
    c.sliding_window = 3, c.num_key_value_heads = 4;
    return c;
}

static na_gpt2_config gpt2_cfg(void)
{
    na_gpt2_config c;
    na_gpt2_config_init(&c);
    c.vocab_size = V, c.n_positions = 16, c.n_embd = 32, c.n_layer = 2, c.n_head = 4;
    return c;
}

static ref_cfg gpt2_ref(void)
{
    return (ref_cfg){.vocab = V, .hidden = 32, .ffn = 128, .layers = 2, .nq = 4,
                     .nkv = 4, .hd = 8, .norm = REF_LAYERNORM, .eps = 1e-5,
                     .act = REF_GELU_TANH, .mlp_bias = true, .qkv_bias = true,
                     .out_bias = true, .learned_pos = true, .tie = true};
}

static na_gemma_config gemma_cfg(int version)
{
    na_gemma_config c;
    na_gemma_config_init(&c, version);
    c.vocab_size = V, c.hidden_size = 32, c.intermediate_size = 48;
    c.num_hidden_layers = 3, c.num_attention_heads = 4, c.num_key_value_heads = 2;
    c.head_dim = 8, c.query_pre_attn_scalar = 16, c.sliding_window = 3;
    if (version == 2) {
        c.attn_logit_softcapping = 1.5, c.final_logit_softcapping = 2.5;
    } else {
        c.sliding_window_pattern = 3;
        c.rope_scaling = (na_rope_scaling){.rope_type = NA_ROPE_SCALING_LINEAR, .factor = 8};
    }
    return c;
}

static ref_cfg gemma_ref(const na_gemma_config *c)
{
    ref_cfg r = {.vocab = V, .hidden = 32, .ffn = 48, .layers = 3, .nq = 4, .nkv = 2,
                 .hd = 8, .norm = REF_RMS, .eps = c->rms_norm_eps, .post_norms = true,
                 .qk_norm = c->version == 3, .gated = true, .act = REF_GELU_TANH,
                 .embed_scale = true, .tie = true,
                 .rope = {.on = true, .theta = c->rope_theta, .scale = 1},
                 .attn_scale = 1 / sqrt(c->query_pre_attn_scalar),
                 .attn_cap = c->attn_logit_softcapping,
                 .final_cap = c->final_logit_softcapping,
                 .window = (int)c->sliding_window, .pattern = c->sliding_window_pattern};
    if (c->version == 3) {
        r.rope.scale = c->rope_scaling.factor;
        r.local_rope = (ref_rope){.on = true, .theta = c->rope_local_base_freq, .scale = 1};
    }
    return r;
}

/* ---- tests ---------------------------------------------------------------------- */

Test(models, llama_matches_reference)
{
    na_llama_config c = llama_cfg();
    ref_cfg r = llama_ref(&c);
    check_against_reference(build_llama, &c, &r);
}

Test(models, qwen2_bias_tied_matches_reference)
{
    na_llama_config c = qwen2_cfg();
    ref_cfg r = llama_ref(&c);
    check_against_reference(build_llama, &c, &r);
}

Test(models, mistral_window_matches_reference)
{
    na_llama_config c = mistral_cfg();
    ref_cfg r = llama_ref(&c);
    check_against_reference(build_llama, &c, &r);
}

Test(models, gpt2_matches_reference)
{
    na_gpt2_config c = gpt2_cfg();
    ref_cfg r = gpt2_ref();
    check_against_reference(build_gpt2, &c, &r);
}

Test(models, gemma2_matches_reference)
{
    na_gemma_config c = gemma_cfg(2);
    ref_cfg r = gemma_ref(&c);
    check_against_reference(build_gemma, &c, &r);
}

Test(models, gemma3_matches_reference)
{
    na_gemma_config c = gemma_cfg(3);
    ref_cfg r = gemma_ref(&c);
    check_against_reference(build_gemma, &c, &r);
}

Test(models, decode_equals_full_llama)
{
    na_llama_config c = llama_cfg();
    check_decode(build_llama, &c, 4);
    na_llama_config m = mistral_cfg();
    check_decode(build_llama, &m, 5);
    na_llama_config q = qwen2_cfg();
    check_decode(build_llama, &q, 4);
}

Test(models, decode_equals_full_gpt2)
{
    na_gpt2_config c = gpt2_cfg();
    check_decode(build_gpt2, &c, 4);
}

Test(models, decode_equals_full_gemma)
{
    na_gemma_config c2 = gemma_cfg(2), c3 = gemma_cfg(3);
    check_decode(build_gemma, &c2, 4);
    check_decode(build_gemma, &c3, 5);
}

Test(models, tree_is_ordinary_and_labelled)
{
    na_llama_config c = llama_cfg();
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_llama_new(&c, 3, &m));
    cr_assert_not_null(na_tree_get(m, "block_1"));
    cr_assert_not_null(ms_param(m, "block_1/attention/query.weights"));
    cr_assert_not_null(ms_param(m, "block_0/mlp/gate.weights"));
    cr_assert_not_null(ms_param(m, "lm_head.weights"));
    na_selection *sel = NULL;
    NA_OK_OR_FAIL(na_select_type(&m, &na_attention_type, &sel));
    cr_assert_eq(na_selection_count(sel), 2);
    na_selection_free(sel);
    /* 40*32 embed + 2 * (4*8*32*2 + 2*8*32*2 + 3*32*40 + 2*32) + 32 + 32*40 head */
    cr_assert_eq(na_tree_param_count(m), 40 * 32 + 2 * (2 * 4 * 8 * 32 + 2 * 2 * 8 * 32 +
                                                         3 * 32 * 40 + 2 * 32) +
                                             32 + 32 * 40);
    char *s = NULL;
    na_print_options po = {.color = NA_COLOR_NEVER};
    NA_OK_OR_FAIL(na_print_tree_str(m, &po, &s));
    cr_assert(strstr(s, "ApplyRoPE"), "%s", s);
    free(s);
    na_layer_free(m);
}

Test(models, config_errors_name_the_field)
{
    na_llama_config c = llama_cfg();
    na_layer *m = NULL;
    c.num_key_value_heads = 3;
    NA_EXPECT_FAIL(na_llama_new(&c, 1, &m), NA_ERR_ARGUMENT, "na_llama_new",
                   "num_key_value_heads 3 must divide num_attention_heads 4");
    c = llama_cfg();
    c.rope_theta = 0;
    NA_EXPECT_FAIL(na_llama_new(&c, 1, &m), NA_ERR_ARGUMENT, "rope_theta 0");
    c = llama_cfg();
    c.rope_scaling.high_freq_factor = 0.5;
    NA_EXPECT_FAIL(na_llama_new(&c, 1, &m), NA_ERR_ARGUMENT, "rope_scaling llama3");
    na_gpt2_config g = gpt2_cfg();
    g.n_head = 5;
    NA_EXPECT_FAIL(na_gpt2_new(&g, 1, &m), NA_ERR_ARGUMENT, "na_gpt2_new", "n_head 5");
    na_gemma_config e = gemma_cfg(2);
    e.version = 4;
    NA_EXPECT_FAIL(na_gemma_new(&e, 1, &m), NA_ERR_UNSUPPORTED, "version 4");
    cr_assert_null(m);
    NA_EXPECT_FAIL(na_model_to_kv_cache(&m, 4, 1), NA_ERR_ARGUMENT, "na_model_to_kv_cache");
}

/* A position past GPT-2's table is an error naming the table. */
Test(models, gpt2_position_past_the_table)
{
    na_gpt2_config c = gpt2_cfg();
    c.n_positions = 4;
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_gpt2_new(&c, 1, &m));
    int ids[6] = {1, 2, 3, 4, 5, 6};
    na_array *x = ms_i32(1, 6, ids), *y = NULL;
    NA_EXPECT_FAIL(na_layer_call_array(m, x, NULL, &y), NA_ERR_SHAPE,
                   "AddLearnedPositions", "position 4", "position_embed.embeddings");
    na_array_free(x);
    na_layer_free(m);
}

/* Gemma 2's attention (query_pre_attn_scalar, a logit soft-cap, local
 * sliding-window layers) runs the fused kernels in every layer, prefill
 * and decode, and the report says so by tree path. */
Test(models, gemma_attention_runs_fused)
{
    na_gemma_config c = gemma_cfg(2);
    int ids[B * S], pos[B * S];
    make_inputs(ids, pos);
    na_layer *m = random_model(build_gemma, &c);
    na_array *x = ms_i32(B, S, ids), *p = ms_i32(B, S, pos), *y = NULL;
    na_side *side = na_side_new();
    NA_OK_OR_FAIL(na_side_set_array(side, "token_positions", p));
    na__fused_counts before, after;
    na__fused_get_counts(&before);
    NA_OK_OR_FAIL(na_layer_call_array(m, x, side, &y));
    na__fused_get_counts(&after);
    cr_assert_eq(after.prefill + after.decode - before.prefill - before.decode,
                 (uint64_t)c.num_hidden_layers, "every attention layer fused");
    na_fused_report r;
    NA_OK_OR_FAIL(na_fused_report_get(m, &r));
    cr_assert_eq(r.count, c.num_hidden_layers);
    for (int i = 0; i < r.count; i++) {
        char want[32];
        snprintf(want, sizeof want, "block_%d/", i);
        cr_assert(strncmp(r.entries[i].path, want, strlen(want)) == 0, "path %s",
                  r.entries[i].path);
        cr_assert_str_eq(na_layer_type_name(na_tree_get(m, r.entries[i].path)),
                         "Attention");
        cr_assert(r.entries[i].fused, "%s: %s", r.entries[i].path, r.entries[i].reason);
        cr_assert_eq(r.entries[i].last_call, NA_FUSED_LAST_FUSED);
    }
    na_fused_report_free(&r);
    /* decode through the cache: a prefill, then a step of one token id,
     * each fused in every layer (the step on the decode kernels) */
    NA_OK_OR_FAIL(na_model_to_kv_cache(&m, S + 2, B));
    na_array *y2 = NULL, *y3 = NULL, *next = NULL;
    NA_OK_OR_FAIL(na_layer_call_array(m, x, side, &y2));
    na_index last = NA_RANGE("seq", S - 1, S, 1);
    NA_OK_OR_FAIL(na_index_by(x, 1, &last, &next));
    na_side *none = na_side_new();
    na__fused_get_counts(&before);
    NA_OK_OR_FAIL(na_layer_call_array(m, next, none, &y3));
    na__fused_get_counts(&after);
    cr_assert_eq(after.decode - before.decode, (uint64_t)c.num_hidden_layers);
    cr_assert_eq(after.prefill, before.prefill);
    NA_OK_OR_FAIL(na_fused_report_get(m, &r));
    cr_assert_eq(r.count, c.num_hidden_layers);
    for (int i = 0; i < r.count; i++) {
        cr_assert_str_eq(r.entries[i].type, "KVCachingAttention");
        cr_assert_eq(r.entries[i].last_call, NA_FUSED_LAST_FUSED, "%s: %s",
                     r.entries[i].path, r.entries[i].last_reason);
    }
    na_fused_report_free(&r);
    TS_FREE(x, p, y, y2, y3, next);
    na_side_free(side);
    na_side_free(none);
    na_layer_free(m);
}
