/* KV-cache decoding: prefill then steps of one reproduce full causal
 * attention (MHA, GQA, sliding window, with and without padding); tree
 * conversion; capacity errors; memory allocated once. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <namedarr/attention.h>
#include <namedarr/combinators.h>
#include <namedarr/layers.h>
#include <namedarr/print.h>
#include <namedarr/tree.h>

#include "../src/attention/fused_internal.h"
#include "support.h"

enum { B = 2, S = 7, E = 8 };

static na_array *slice_seq(const na_array *x, int64_t a, int64_t b)
{
    na_array *y = NULL;
    na_index r = NA_RANGE("seq", a, b, 1);
    NA_OK_OR_FAIL(na_index_by(x, 1, &r, &y));
    return y;
}

static void set_end(na_side *side, int64_t end)
{
    na_array *e = NULL;
    NA_OK_OR_FAIL(na_scalar(NA_I32, (double)end, &e));
    NA_OK_OR_FAIL(na_side_set_array(side, "cache_end_index", e));
    na_array_free(e);
}

/* positions {batch, seq:S}: batch 1 left-padded by two when `padded`. */
static na_array *make_positions(bool padded, int32_t *pos)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < S; t++)
            pos[b * S + t] = (padded && b == 1) ? t - 2 : t;
    na_array *p = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_I32, NA_DIMS({"batch", B}, {"seq", S}), pos, &p));
    return p;
}

/* |y_step[b, 0, :] - y_full[b, t, :]| over valid rows. */
static double step_diff(const na_array *step, const na_array *full, int64_t t,
                        int64_t width, const int32_t *pos)
{
    double m = 0;
    const char *const n[] = {"batch", "seq", "embedding", NULL};
    for (int b = 0; b < B; b++) {
        if (pos && pos[b * S + t] < 0)
            continue;
        for (int64_t i = 0; i < width; i++)
            for (int e = 0; e < E; e++) {
                double a = ts_at(step, 3, n, (int64_t[]){b, i, e});
                double c = ts_at(full, 3, n, (int64_t[]){b, t + i, e});
                m = fmax(m, fabs(a - c));
            }
    }
    return m;
}

/* Full causal attention vs prefill(n_prefill) + steps of one. `full` and
 * `cached` are the same model (same seed); `cached` gets converted. With
 * `own_place` the cache keeps its own place: no end index, and positions
 * only at the prefill (when padded); else both are given at every call. */
static void decode_run(na_layer *full, na_layer *cached, bool padded, int n_prefill,
                       bool own_place, int64_t batch_size)
{
    int32_t pos[B * S];
    na_array *x = ts_random(NA_F32, NA_DIMS({"batch", B}, {"seq", S}, {"embedding", E}), 5);
    na_array *p = make_positions(padded, pos), *yf = NULL;
    na_side *side = na_side_new();
    if (padded)
        NA_OK_OR_FAIL(na_side_set_array(side, "token_positions", p));
    NA_OK_OR_FAIL(na_layer_call_array(full, x, side, &yf));

    na_kv_cache_options o = {.capacity = S + 1, .batch_size = batch_size};
    int converted = 0;
    NA_OK_OR_FAIL(na_attention_to_kv_cache(&cached, &o, &converted));
    cr_assert_eq(converted, 1);
    for (int64_t t = 0; t < S;) {
        int64_t n = t == 0 ? n_prefill : 1;
        na_array *xs = slice_seq(x, t, t + n), *ps = slice_seq(p, t, t + n), *ys = NULL;
        na_side *s = na_side_new();
        if (!own_place)
            set_end(s, t);
        if (padded && (!own_place || t == 0))
            NA_OK_OR_FAIL(na_side_set_array(s, "token_positions", ps));
        NA_OK_OR_FAIL(na_layer_call_array(cached, xs, s, &ys));
        cr_assert_eq(na_axis_size(ys, "seq"), n);
        double d = step_diff(ys, yf, t, n, padded ? pos : NULL);
        cr_assert(d < 1e-5, "step at %lld (%lld tokens): diff %g", (long long)t,
                  (long long)n, d);
        na_array_free(xs), na_array_free(ps), na_array_free(ys);
        na_side_free(s);
        t += n;
        cr_assert_eq(na_kv_cache_length(cached), t);
    }
    na_array_free(x), na_array_free(p), na_array_free(yf);
    na_side_free(side);
    na_layer_free(full);
    na_layer_free(cached);
}

static void decode_matches_full(na_layer *full, na_layer *cached, bool padded,
                                int n_prefill)
{
    decode_run(full, cached, padded, n_prefill, false, 0);
}

static na_layer *mha(int heads, int kv_heads, bool causal)
{
    na_mha_options o = {.num_heads = heads, .num_kv_heads = kv_heads, .in_features = E,
                        .causal = causal, .seed = 21};
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_mha_new(&o, &m));
    return m;
}

Test(kv_cache, mha_decode_equals_full) { decode_matches_full(mha(2, 0, true), mha(2, 0, true), false, 3); }
Test(kv_cache, mha_decode_with_padding) { decode_matches_full(mha(2, 0, true), mha(2, 0, true), true, 3); }
Test(kv_cache, gqa_decode_equals_full) { decode_matches_full(mha(4, 2, true), mha(4, 2, true), false, 2); }
Test(kv_cache, gqa_decode_with_padding) { decode_matches_full(mha(4, 2, true), mha(4, 2, true), true, 4); }
Test(kv_cache, mqa_token_by_token) { decode_matches_full(mha(4, 1, true), mha(4, 1, true), true, 1); }

/* A non-causal Attention gets an ApplyCausalMask on conversion. */
Test(kv_cache, causal_mask_inserted_when_absent)
{
    decode_matches_full(mha(2, 0, true), mha(2, 0, false), false, 3);
}

static na_layer *keras_window(void)
{
    na_gqa_options o = {.head_dim = 4, .num_query_heads = 4, .num_key_value_heads = 2,
                        .query_features = E, .use_causal_mask = true,
                        .sliding_window = 3, .seed = 8, .no_bias = true};
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_gqa_new(&o, &m));
    return m;
}

Test(kv_cache, keras_sliding_window_decode) { decode_matches_full(keras_window(), keras_window(), true, 3); }

/* ---- conversion, state, errors ---------------------------------------------------- */

Test(kv_cache, tree_conversion_and_state)
{
    na_layer *a = mha(2, 0, true), *b = mha(2, 0, true), *model = NULL;
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(a, b), &model));
    na_kv_cache_options o = {.capacity = 6};
    int n = 0;
    NA_OK_OR_FAIL(na_attention_to_kv_cache(&model, &o, &n));
    cr_assert_eq(n, 2);
    cr_assert(na_layer_is(na_layer_child(model, 0), &na_kv_cache_attention_type));
    cr_assert_eq(na_kv_cache_capacity(na_layer_child(model, 1)), 6);
    char *s = NULL;
    na_print_options po = {.color = NA_COLOR_NEVER};
    NA_OK_OR_FAIL(na_print_tree_str(model, &po, &s));
    cr_assert(strstr(s, "KVCachingAttention(capacity=6"), "%s", s);
    cr_assert(strstr(s, "unallocated"), "%s", s);
    free(s);

    na_array *x = ts_random(NA_F32, NA_DIMS({"batch", B}, {"seq", 2}, {"embedding", E}), 1);
    na_array *y = NULL;
    na_side *side = na_side_new();
    na_param_stats st;
    NA_OK_OR_FAIL(na_tree_param_stats(model, &st));
    cr_assert_eq(st.states, 2); /* the end indexes */
    set_end(side, 0);
    NA_OK_OR_FAIL(na_layer_call_array(model, x, side, &y));
    na_array_free(y);
    NA_OK_OR_FAIL(na_tree_param_stats(model, &st));
    cr_assert_eq(st.states, 8);
    /* keys {batch:2, kv_seq:6, heads:2, projection:4}, values same,
     * positions {batch:2, kv_seq:6}, end index */
    cr_assert_eq(st.state_elements, 2 * (2 * (2 * 6 * 2 * 4) + 2 * 6 + 1)); /* two layers */
    na_param_list list = {0};
    NA_OK_OR_FAIL(na_tree_params(model, &list));
    void *keys = NULL;
    for (int i = 0; i < list.count; i++)
        if (strcmp(list.items[i].param->label, "0.cache_keys") == 0)
            keys = na_data(list.items[i].param->value);
    cr_assert_not_null(keys);
    na_param_list_clear(&list);
    /* steps: memory stays where it is */
    for (int t = 2; t < 6; t++) {
        na_array *xs = slice_seq(x, 0, 1);
        set_end(side, t);
        NA_OK_OR_FAIL(na_layer_call_array(model, xs, side, &y));
        na_array_free(y), na_array_free(xs);
    }
    NA_OK_OR_FAIL(na_tree_params(model, &list));
    for (int i = 0; i < list.count; i++)
        if (strcmp(list.items[i].param->label, "0.cache_keys") == 0)
            cr_assert_eq(na_data(list.items[i].param->value), keys);
    na_param_list_clear(&list);
    /* full: the next token overflows */
    na_array *xs = slice_seq(x, 0, 1);
    set_end(side, 6);
    NA_EXPECT_FAIL(na_layer_call_array(model, xs, side, &y), NA_ERR_STATE,
                   "KVCachingAttention", "overflow", "index 6", "capacity 6");
    NA_OK_OR_FAIL(na_kv_cache_reset(na_layer_child(model, 0)));
    na_array_free(xs), na_array_free(x);
    na_side_free(side);
    na_layer_free(model);
}

Test(kv_cache, overflow_and_missing_end_index)
{
    na_layer *m = mha(2, 0, true);
    na_kv_cache_options o = {.capacity = 4};
    NA_OK_OR_FAIL(na_attention_to_kv_cache(&m, &o, NULL));
    na_array *x = ts_random(NA_F32, NA_DIMS({"batch", B}, {"seq", 3}, {"embedding", E}), 1);
    na_array *y = NULL, *x2 = slice_seq(x, 0, 2);
    na_side *side = na_side_new();
    NA_OK_OR_FAIL(na_layer_call_array(m, x, side, &y)); /* its own end index: 0 */
    na_array_free(y);
    cr_assert_eq(na_kv_cache_length(m), 3);
    NA_EXPECT_FAIL(na_layer_call_array(m, x2, side, &y), NA_ERR_STATE,
                   "2 token(s) at index 3", "capacity 4");
    cr_assert_eq(na_kv_cache_length(m), 3); /* a failed call moves nothing */
    set_end(side, -1);
    NA_EXPECT_FAIL(na_layer_call_array(m, x2, side, &y), NA_ERR_INDEX,
                   "bad end index -1", "cache_end_index");
    cr_assert_null(strstr(na_last_error(), "overflow"), "%s", na_last_error());
    /* an f32 end index is a dtype error, not silently truncated */
    na_array *fe = NULL;
    NA_OK_OR_FAIL(na_scalar(NA_F32, 1.5, &fe));
    NA_OK_OR_FAIL(na_side_set_array(side, "cache_end_index", fe));
    NA_EXPECT_FAIL(na_layer_call_array(m, x2, side, &y), NA_ERR_DTYPE,
                   "end index 'cache_end_index' must be i32", "f32[]");
    na_array_free(fe);
    /* f32 token positions likewise */
    set_end(side, 0);
    na_array *fp = NULL;
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"batch", B}, {"seq", 2}), &fp));
    NA_OK_OR_FAIL(na_side_set_array(side, "token_positions", fp));
    NA_EXPECT_FAIL(na_layer_call_array(m, x2, side, &y), NA_ERR_DTYPE,
                   "token_positions", "must be i32");
    na_array_free(fp);
    na_side_remove(side, "token_positions");
    /* a different batch size than the cache was made for */
    na_array *xb = ts_random(NA_F32, NA_DIMS({"batch", 3}, {"seq", 1}, {"embedding", E}), 1);
    set_end(side, 3);
    NA_EXPECT_FAIL(na_layer_call_array(m, xb, side, &y), NA_ERR_SHAPE, "do not match the cache");
    cr_assert_null(y);
    na_array_free(x), na_array_free(x2), na_array_free(xb);
    na_side_free(side);
    na_layer_free(m);
}

Test(kv_cache, huge_capacity_fails_cleanly)
{
    na_layer *m = mha(2, 0, true);
    na_kv_cache_options huge = {.capacity = (int64_t)1 << 62};
    NA_EXPECT_FAIL(na_attention_to_kv_cache(&m, &huge, NULL), NA_ERR_ARGUMENT,
                   "capacity 4611686018427387904");
    na_layer_free(m);
}

Test(kv_cache, conversion_errors_keep_the_tree)
{
    na_layer *logits = NULL, *comb = NULL, *ids[3] = {0}, *attn = NULL, *out = NULL;
    for (int i = 0; i < 3; i++)
        NA_OK_OR_FAIL(na_identity_new(&ids[i]));
    NA_OK_OR_FAIL(na_attention_logits_new(NULL, 0, &logits)); /* no softmax, no mask */
    NA_OK_OR_FAIL(na_attention_combine_new(NULL, &comb));
    NA_OK_OR_FAIL(na_attention_new(ids[0], ids[1], ids[2], logits, comb, &attn));
    na_kv_cache_options o = {.capacity = 4};
    NA_EXPECT_FAIL(na_attention_to_kv_cache(&attn, &o, NULL), NA_ERR_UNSUPPORTED,
                   "ApplyCausalMask", "AttentionLogits");
    cr_assert(na_layer_is(attn, &na_attention_type));
    na_kv_cache_options bad = {.capacity = 0};
    NA_EXPECT_FAIL(na_kv_cache_from_attention(attn, &bad, &out), NA_ERR_ARGUMENT,
                   "capacity");
    cr_assert_null(out); /* attn was consumed (and freed) */
}

/* ---- a cache that keeps its own place -------------------------------------------- */

Test(kv_cache, own_place_decode_equals_full)
{
    decode_run(mha(2, 0, true), mha(2, 0, true), false, 3, true, 0);
}

Test(kv_cache, own_place_left_padded_rows)
{
    decode_run(mha(4, 2, true), mha(4, 2, true), true, 3, true, B);
    decode_run(keras_window(), keras_window(), true, 4, true, B);
}

static na_layer *rotary_mha(void)
{
    na_rope_options r = {.max_wavelength = 100};
    na_mha_options o = {.num_heads = 4, .num_kv_heads = 2, .in_features = E,
                        .causal = true, .rotary = &r, .seed = 5, .no_bias = true};
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_mha_new(&o, &m));
    return m;
}

Test(kv_cache, rotary_decode_equals_full)
{
    decode_run(rotary_mha(), rotary_mha(), true, 2, true, B);
    decode_run(rotary_mha(), rotary_mha(), false, 1, true, 0);
}

/* ALiBi follows the cache's positions: decoding (with left padding, given
 * positions or the cache's own place) equals the full call. */
static na_layer *alibi_mha(int kv_heads)
{
    na_mha_options o = {.num_heads = 4, .num_kv_heads = kv_heads, .in_features = E,
                        .causal = true, .alibi = true, .seed = 9, .no_bias = true};
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_mha_new(&o, &m));
    return m;
}

Test(kv_cache, alibi_decode_equals_full)
{
    decode_matches_full(alibi_mha(0), alibi_mha(0), true, 3);
    decode_run(alibi_mha(2), alibi_mha(2), true, 2, true, B);
    decode_run(alibi_mha(1), alibi_mha(1), false, 1, true, 0);
}

/* The decode steps on the fused kernels (ALiBi computed in them from the
 * cache's positions) against the full call on the general path. */
Test(kv_cache, alibi_fused_decode_equals_general_full)
{
    for (int kv_heads = 0; kv_heads <= 2; kv_heads++) {
        na_layer *full = alibi_mha(kv_heads);
        NA_OK_OR_FAIL(na_attention_set_fused(full, false));
        na__fused_counts before, after;
        na__fused_get_counts(&before);
        decode_run(full, alibi_mha(kv_heads), true, 2, true, B);
        na__fused_get_counts(&after);
        cr_assert_geq(after.decode - before.decode, (uint64_t)(S - 2),
                      "the decode steps took the fused path");
    }
}

Test(kv_cache, batch_size_allocates_at_conversion)
{
    na_layer *m = rotary_mha();
    na_kv_cache_options o = {.capacity = 5, .batch_size = 3};
    NA_OK_OR_FAIL(na_attention_to_kv_cache(&m, &o, NULL));
    na_param_stats st;
    NA_OK_OR_FAIL(na_tree_param_stats(m, &st));
    cr_assert_eq(st.states, 4);
    /* keys {batch:3, kv_seq:5, kv_heads:2, projection:2}, values too,
     * positions {batch:3, kv_seq:5}, end */
    cr_assert_eq(st.state_elements, 2 * 3 * 5 * 2 * 2 + 3 * 5 + 1);
    char *s = NULL;
    na_print_options po = {.color = NA_COLOR_NEVER};
    NA_OK_OR_FAIL(na_print_tree_str(m, &po, &s));
    cr_assert(strstr(s, "batch=3"), "%s", s);
    cr_assert_null(strstr(s, "unallocated"), "%s", s);
    free(s);
    na_array *x = ts_random(NA_F32, NA_DIMS({"batch", 2}, {"seq", 1}, {"embedding", E}), 1);
    na_array *y = NULL;
    NA_EXPECT_FAIL(na_layer_call_array(m, x, NULL, &y), NA_ERR_SHAPE,
                   "KVCachingAttention", "do not match the cache");
    na_array_free(x);
    na_layer_free(m);
    na_kv_cache_options bad = {.capacity = 5, .batch_size = -1};
    m = rotary_mha();
    NA_EXPECT_FAIL(na_attention_to_kv_cache(&m, &bad, NULL), NA_ERR_ARGUMENT,
                   "batch_size -1");
    na_layer_free(m);
}

/* Rewind to the prompt and decode the same tokens again: same outputs;
 * reset and redo the whole thing: same outputs. */
Test(kv_cache, rewind_and_reset_replay)
{
    na_layer *m = rotary_mha(), *model = NULL;
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(m), &model));
    na_kv_cache_options o = {.capacity = 8, .batch_size = B};
    NA_OK_OR_FAIL(na_attention_to_kv_cache(&model, &o, NULL));
    na_array *x = ts_random(NA_F32, NA_DIMS({"batch", B}, {"seq", 6}, {"embedding", E}), 9);
    na_array *prompt = slice_seq(x, 0, 4), *y0 = NULL, *y1 = NULL, *y2 = NULL, *y3 = NULL;
    na_array *t4 = slice_seq(x, 4, 5), *t5 = slice_seq(x, 5, 6);
    NA_OK_OR_FAIL(na_layer_call_array(model, prompt, NULL, &y0));
    NA_OK_OR_FAIL(na_layer_call_array(model, t4, NULL, &y1));
    NA_OK_OR_FAIL(na_layer_call_array(model, t5, NULL, &y2));
    int count = 0;
    NA_EXPECT_FAIL(na_tree_kv_cache_rewind(model, 7, &count), NA_ERR_ARGUMENT,
                   "length 7 exceeds the 6 cached");
    NA_OK_OR_FAIL(na_tree_kv_cache_rewind(model, 4, &count));
    cr_assert_eq(count, 1);
    cr_assert_eq(na_kv_cache_length(na_layer_child(model, 0)), 4);
    NA_OK_OR_FAIL(na_layer_call_array(model, t4, NULL, &y3));
    cr_assert_lt(ts_max_abs_diff(y1, y3), 1e-6);
    na_array_free(y3);
    NA_OK_OR_FAIL(na_tree_kv_cache_reset(model, NULL));
    NA_OK_OR_FAIL(na_layer_call_array(model, prompt, NULL, &y3));
    cr_assert_lt(ts_max_abs_diff(y0, y3), 1e-6);
    NA_EXPECT_FAIL(na_kv_cache_rewind(na_layer_child(model, 0), 5), NA_ERR_ARGUMENT,
                   "na_kv_cache_rewind", "length 5 not in [0, 4]");
    NA_EXPECT_FAIL(na_kv_cache_rewind(model, 0), NA_ERR_ARGUMENT, "not a KVCachingAttention");
    TS_FREE(x, prompt, y0, y1, y2, y3, t4, t5);
    na_layer_free(model);
}

/* Flax's per-call decode=False on a caching layer: plain attention over the
 * given inputs (equal to the uncached layer's full call), the cache left as
 * it was (its length, and the next decode step still equals the full call). */
Test(kv_cache, decode_false_runs_plain_attention)
{
    for (int kv_heads = 0; kv_heads <= 1; kv_heads++) {
        na_layer *full = alibi_mha(kv_heads), *cached = alibi_mha(kv_heads);
        na_kv_cache_options o = {.capacity = S + 1, .batch_size = B};
        int converted = 0;
        NA_OK_OR_FAIL(na_attention_to_kv_cache(&cached, &o, &converted));
        na_array *x = ts_random(NA_F32, NA_DIMS({"batch", B}, {"seq", S}, {"embedding", E}),
                                6);
        na_array *yf = NULL, *yp = NULL, *ys = NULL, *xs = slice_seq(x, 0, 3);
        NA_OK_OR_FAIL(na_layer_call_array(full, x, NULL, &yf));
        NA_OK_OR_FAIL(na_layer_call_array(cached, xs, NULL, &ys)); /* prefill 3 */
        na_array_free(xs), na_array_free(ys);
        na_side *plain = na_side_new();
        NA_OK_OR_FAIL(na_side_set_flag(plain, NA_DECODE_KEY, false));
        NA_OK_OR_FAIL(na_layer_call_array(cached, x, plain, &yp)); /* all S tokens */
        cr_assert(ts_max_abs_diff(yp, yf) < 1e-6, "decode=false vs the full call %g",
                  ts_max_abs_diff(yp, yf));
        cr_assert_eq(na_kv_cache_length(cached), 3, "the cache was not touched");
        na_side *on = na_side_new(); /* decode=true: the cache as usual */
        NA_OK_OR_FAIL(na_side_set_flag(on, NA_DECODE_KEY, true));
        xs = slice_seq(x, 3, 4);
        NA_OK_OR_FAIL(na_layer_call_array(cached, xs, on, &ys));
        cr_assert(step_diff(ys, yf, 3, 1, NULL) < 1e-5, "step 3 after a plain call");
        cr_assert_eq(na_kv_cache_length(cached), 4);
        TS_FREE(x, xs, ys, yf, yp);
        na_side_free(plain), na_side_free(on);
        na_layer_free(full), na_layer_free(cached);
    }
}
