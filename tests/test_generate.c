/* Generation through the KV cache on a small random causal LM built here
 * (embedding, pre-norm GQA block with RoPE and a causal mask, gated MLP,
 * tied decode): the cached loop equals recomputing the whole sequence, a
 * batch of different prompt lengths equals each prompt alone, sampling is
 * the same on 1 and 2 threads, stop tokens, callbacks and errors. */
#include "support.h"

#include <namedarr/generate.h>

#define VOCAB 23
#define EMB 16

/* x {batch, seq} i32 -> logits {batch, seq, vocab}; caches when capacity > 0 */
static na_layer *tiny_lm(int64_t capacity, int64_t batch)
{
    na_param *table = NULL;
    na_layer *lookup, *decode, *ln1, *ln2, *lnf, *attn, *up, *act, *down, *b1, *b2, *s1, *s2, *m;
    NA_OK_OR_FAIL(na_embedding_table_new("embed", "vocab", VOCAB,
                                         NA_DIMS({"embedding", EMB}), 1, &table));
    NA_OK_OR_FAIL(na_embedding_lookup_new(table, "vocab", &lookup));
    NA_OK_OR_FAIL(na_embedding_decode_new(table, "vocab", &decode));
    na_param_release(table);
    NA_OK_OR_FAIL(na_rms_layer_norm_new("ln1", NA_DIMS({"embedding", EMB}), &ln1));
    NA_OK_OR_FAIL(na_rms_layer_norm_new("ln2", NA_DIMS({"embedding", EMB}), &ln2));
    NA_OK_OR_FAIL(na_rms_layer_norm_new("lnf", NA_DIMS({"embedding", EMB}), &lnf));
    na_rope_options rope = {.max_wavelength = 10000};
    na_mha_options o = {.num_heads = 4, .num_kv_heads = 2, .in_features = EMB, .causal = true,
                        .rotary = &rope, .seed = 2, .no_bias = true};
    NA_OK_OR_FAIL(na_mha_new(&o, &attn));
    NA_OK_OR_FAIL(na_linear_new("up", NA_DIMS({"embedding", EMB}),
                                NA_DIMS({"hidden", 32}), 3, &up));
    NA_OK_OR_FAIL(na_elementwise_new(NA_SILU, &act));
    NA_OK_OR_FAIL(na_linear_new("down", NA_DIMS({"hidden", 32}),
                                NA_DIMS({"embedding", EMB}), 4, &down));
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(ln1, attn), &s1));
    NA_OK_OR_FAIL(na_residual_new(s1, &b1));
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(ln2, up, act, down), &s2));
    NA_OK_OR_FAIL(na_residual_new(s2, &b2));
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(lookup, b1, b2, lnf, decode), &m));
    if (capacity > 0) {
        int n = 0;
        NA_OK_OR_FAIL(na_attention_to_kv_cache(
            &m, &(na_kv_cache_options){.capacity = capacity, .batch_size = batch}, &n));
        cr_assert_eq(n, 1);
    }
    return m;
}

static const int32_t p0[] = {3, 9, 4}, p1[] = {7}, p2[] = {1, 2, 5, 8, 13, 21};
static const na_token_list prompts[3] = {{(int32_t *)p0, 3}, {(int32_t *)p1, 1}, {(int32_t *)p2, 6}};

/* Greedy continuation by recomputing the whole sequence each step. */
static void greedy_by_recompute(const na_token_list *prompt, int n_new, int32_t *out)
{
    na_layer *m = tiny_lm(0, 0);
    int32_t seq[32];
    int64_t len = (int64_t)prompt->count;
    memcpy(seq, prompt->ids, prompt->count * sizeof *seq);
    for (int k = 0; k < n_new; k++, len++) {
        na_array *ids = NULL, *pos = NULL, *logits = NULL, *last = NULL;
        NA_OK_OR_FAIL(na_from_data(NA_I32, NA_DIMS({"batch", 1}, {"seq", len}), seq, &ids));
        int32_t at[32];
        for (int64_t i = 0; i < len; i++)
            at[i] = (int32_t)i;
        NA_OK_OR_FAIL(na_from_data(NA_I32, NA_DIMS({"batch", 1}, {"seq", len}), at, &pos));
        na_side *side = na_side_new();
        NA_OK_OR_FAIL(na_side_set_array(side, "token_positions", pos));
        NA_OK_OR_FAIL(na_layer_call_array(m, ids, side, &logits));
        NA_OK_OR_FAIL(na_index_by(logits, 2, (na_index[]){NA_AT("seq", len - 1), NA_AT("batch", 0)},
                                  &last));
        float row[VOCAB];
        NA_OK_OR_FAIL(na_copy_to(last, NA_F32, row));
        seq[len] = out[k] = na_argmax_f32(row, VOCAB);
        TS_FREE(ids, pos, logits, last);
        na_side_free(side);
    }
    na_layer_free(m);
}

static void expect_tokens(const na_token_list *got, const int32_t *want, int n, const char *what)
{
    cr_expect_eq(got->count, (size_t)n, "%s: %zu tokens, want %d", what, got->count, n);
    for (int i = 0; i < n && i < (int)got->count; i++)
        cr_expect_eq(got->ids[i], want[i], "%s: token %d is %d, want %d", what, i, got->ids[i],
                     want[i]);
}

Test(generate, cached_greedy_equals_recomputing)
{
    na_layer *m = tiny_lm(16, 3);
    na_generation g;
    NA_OK_OR_FAIL(na_generate(m, prompts, 3, &(na_generate_options){.max_new_tokens = 6}, &g));
    for (int b = 0; b < 3; b++) {
        int32_t want[6];
        greedy_by_recompute(&prompts[b], 6, want);
        expect_tokens(&g.tokens[b], want, 6, "greedy");
        cr_expect_eq(g.finished[b], NA_GEN_MAX_TOKENS);
    }
    cr_expect_eq(g.prefill_tokens, 10);
    cr_expect_eq(g.decode_steps, 5);
    cr_expect_eq(g.decode_tokens, 15);
    cr_expect_gt(g.prefill_tokens_per_s, 0);
    cr_expect_gt(g.decode_tokens_per_s, 0);
    na_generation_free(&g);
    na_layer_free(m);
}

Test(generate, batch_equals_each_prompt_alone)
{
    na_sampling s = {.temperature = 1.0, .top_k = 10, .top_p = 0.95, .seed = 77};
    na_layer *m = tiny_lm(16, 3);
    na_generation g;
    NA_OK_OR_FAIL(na_generate(m, prompts, 3,
                              &(na_generate_options){.max_new_tokens = 7, .sampling = s}, &g));
    for (int b = 0; b < 3; b++) {
        na_layer *one = tiny_lm(16, 1);
        na_generation a;
        na_sampling sb = s;
        sb.seed = s.seed + (uint64_t)b; /* row b draws with seed + b */
        NA_OK_OR_FAIL(na_generate(one, &prompts[b], 1,
                                  &(na_generate_options){.max_new_tokens = 7, .sampling = sb}, &a));
        expect_tokens(&g.tokens[b], a.tokens[0].ids, (int)a.tokens[0].count, "batch vs alone");
        na_generation_free(&a);
        na_layer_free(one);
    }
    na_generation_free(&g);
    na_layer_free(m);
}

Test(generate, sampling_is_the_same_on_one_and_two_threads)
{
    na_generate_options o = {.max_new_tokens = 8,
                             .sampling = {.temperature = 1.3, .min_p = 0.01, .seed = 5}};
    na_generation g1, g2;
    na_layer *m = tiny_lm(16, 3);
    na_set_num_threads(1);
    NA_OK_OR_FAIL(na_generate(m, prompts, 3, &o, &g1));
    na_set_num_threads(2);
    NA_OK_OR_FAIL(na_generate(m, prompts, 3, &o, &g2)); /* caches are reset by na_generate */
    na_set_num_threads(0);
    int differs_from_greedy = 0;
    int32_t greedy[8];
    for (int b = 0; b < 3; b++) {
        expect_tokens(&g2.tokens[b], g1.tokens[b].ids, (int)g1.tokens[b].count, "threads");
        greedy_by_recompute(&prompts[b], 8, greedy);
        differs_from_greedy += memcmp(greedy, g1.tokens[b].ids, sizeof greedy) != 0;
    }
    cr_expect_gt(differs_from_greedy, 0, "temperature 1.3 should leave the greedy path");
    na_generation_free(&g1);
    na_generation_free(&g2);
    na_layer_free(m);
}

static int stop_after_two(void *user, int64_t row, int32_t token)
{
    int *calls = user;
    calls[row]++;
    return row == 0 && calls[row] == 2;
}

Test(generate, stop_tokens_and_callbacks)
{
    int32_t first[1];
    greedy_by_recompute(&prompts[1], 1, first);
    int calls[3] = {0};
    na_layer *m = tiny_lm(16, 3);
    na_generation g;
    NA_OK_OR_FAIL(na_generate(m, prompts, 3,
                              &(na_generate_options){.max_new_tokens = 5, .stop_tokens = first,
                                                     .n_stop_tokens = 1, .on_token = stop_after_two,
                                                     .user = calls},
                              &g));
    cr_expect_eq(g.tokens[1].count, 0); /* its first token is the stop token */
    cr_expect_eq(g.finished[1], NA_GEN_STOP_TOKEN);
    cr_expect_eq(g.tokens[0].count, 2);
    cr_expect_eq(g.finished[0], NA_GEN_CALLBACK);
    cr_expect_eq(calls[0], 2);
    cr_expect_eq(calls[1], 0);
    cr_expect_eq((size_t)calls[2], g.tokens[2].count);
    for (size_t i = 0; i < g.tokens[2].count; i++)
        cr_expect_neq(g.tokens[2].ids[i], first[0]);
    na_generation_free(&g);
    na_layer_free(m);
}

Test(generate, errors)
{
    na_generation g;
    na_layer *plain = tiny_lm(0, 0), *m = tiny_lm(8, 3);
    NA_EXPECT_FAIL(na_generate(plain, prompts, 3, &(na_generate_options){.max_new_tokens = 2}, &g),
                   NA_ERR_ARGUMENT, "na_generate", "no KVCachingAttention");
    NA_EXPECT_FAIL(na_generate(m, prompts, 3, &(na_generate_options){.max_new_tokens = 0}, &g),
                   NA_ERR_ARGUMENT, "max_new_tokens > 0 (got 0)");
    na_token_list empty[1] = {{NULL, 0}};
    NA_EXPECT_FAIL(na_generate(m, empty, 1, &(na_generate_options){.max_new_tokens = 2}, &g),
                   NA_ERR_ARGUMENT, "prompt 0 is empty");
    /* 6 prompt tokens + 5 new > capacity 8: the cache says so */
    cr_expect_neq(na_generate(m, prompts, 3, &(na_generate_options){.max_new_tokens = 5}, &g), NA_OK);
    NA_EXPECT_FAIL(na_generate(m, prompts, 3,
                               &(na_generate_options){.max_new_tokens = 2, .vocab_axis = "tokens"},
                               &g),
                   NA_ERR_AXIS, "has no axis 'tokens'");
    NA_EXPECT_FAIL(na_generate(m, prompts, 3,
                               &(na_generate_options){.max_new_tokens = 2,
                                                      .sampling = {.temperature = -2}},
                               &g),
                   NA_ERR_ARGUMENT, "temperature -2");
    na_layer_free(plain);
    na_layer_free(m);
}
