/* llama_like — a small Llama-like model from its config, its tree, a
 * prompt, and greedy decoding through the KV cache.
 *
 *   na_llama_config c;   fields mirror Hugging Face's LlamaConfig
 *   na_llama_new(&c, seed, &model)      ids {batch, seq} -> logits {batch, seq, vocab}
 *   na_model_to_kv_cache(&model, capacity, batch)
 *       then every call continues where the last one stopped:
 *       prefill with the prompt, then feed one new id {batch:1, seq:1} per step.
 *
 * The decoded tokens are checked against running the whole sequence
 * without the cache (a full causal call per step): the program fails if
 * they differ.
 *
 *   ./llama_like
 */
#include <stdio.h>
#include <string.h>

#include <namedarr/namedarr.h>
#include <namedarr/fields.h>
#include <namedarr/generate.h>
#include <namedarr/models.h>
#include <namedarr/print.h>
#include <namedarr/tree.h>

#include "example_util.h"

#define PROMPT 6
#define NEW 8

#define CHECK(call) EXAMPLE_CHECK("llama_like", call, goto done)

/* The id with the largest logit at the last position of `logits`. */
static na_status last_argmax(const na_array *logits, int32_t *out)
{
    int64_t seq = na_axis_size(logits, "seq"), vocab = na_axis_size(logits, "vocab");
    na_array *last = NULL;
    float row[512];
    if (vocab > 512)
        return NA_ERR_ARGUMENT;
    na_status st = na_index_by(logits, 2, (na_index[]){NA_AT("batch", 0), NA_AT("seq", seq - 1)},
                               &last);
    if (st == NA_OK)
        st = na_copy_to(last, NA_F32, row);
    na_array_free(last);
    *out = na_argmax_f32(row, vocab);
    return st;
}

/* Greedy next id after ids[0..n), from one call of `model`. */
static na_status next_id(na_layer *model, const int32_t *ids, int64_t n, int32_t *out)
{
    na_array *x = NULL, *logits = NULL;
    na_status st = na_from_data(NA_I32, NA_DIMS({"batch", 1}, {"seq", n}), ids, &x);
    if (st == NA_OK)
        st = na_layer_call_array(model, x, NULL, &logits);
    if (st == NA_OK)
        st = last_argmax(logits, out);
    na_array_free(x);
    na_array_free(logits);
    return st;
}

int main(void)
{
    int rc = 1;
    na_layer *model = NULL, *full = NULL;
    na_llama_config c;
    na_llama_config_init(&c); /* LlamaConfig's defaults, then a small model: */
    c.vocab_size = 256, c.hidden_size = 64, c.intermediate_size = 172;
    c.num_hidden_layers = 2, c.num_attention_heads = 4, c.num_key_value_heads = 2;
    c.head_dim = 16, c.rope_theta = 10000, c.max_position_embeddings = 128;
    CHECK(na_llama_new(&c, 42, &model));
    CHECK(na_print_tree(model, stdout, &(na_print_options){.max_depth = 6}));

    /* the same weights without a cache, to check the decoded tokens */
    CHECK(na_layer_clone(model, NA_CLONE_SHARE_PARAMS, &full));
    CHECK(na_model_to_kv_cache(&model, PROMPT + NEW, 1));

    int32_t seq[PROMPT + NEW] = {1, 72, 101, 108, 108, 111}; /* "<s>Hello" as bytes */
    int64_t len = PROMPT;
    CHECK(next_id(model, seq, len, &seq[len])); /* prefill: the whole prompt */
    for (len++; len < PROMPT + NEW; len++)      /* decode: one new id a step */
        CHECK(next_id(model, &seq[len - 1], 1, &seq[len]));

    printf("prompt:");
    for (int i = 0; i < PROMPT; i++)
        printf(" %d", seq[i]);
    printf("\ngreedy, through the KV cache:");
    for (int i = PROMPT; i < PROMPT + NEW; i++)
        printf(" %d", seq[i]);
    printf("\n");
    for (int64_t n = PROMPT; n < PROMPT + NEW; n++) {
        int32_t want;
        CHECK(next_id(full, seq, n, &want));
        if (want != seq[n]) {
            fprintf(stderr, "llama_like: token %lld is %d through the cache, %d without\n",
                    (long long)n, seq[n], want);
            goto done;
        }
    }
    printf("the same tokens as the full causal call at every step\n");
    rc = 0;
done:
    na_layer_free(model);
    na_layer_free(full);
    return rc;
}
