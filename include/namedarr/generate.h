/* namedarr/generate.h — choosing tokens from logits, and generating text.
 *
 * Sampling is a pure function of one row of logits, the settings and a
 * step counter: the random number for a step comes from a counter-based
 * hash of (seed, step), never from a shared stream, so the same seed gives
 * the same tokens whatever the thread count, the batch or the machine.
 *
 *   na_sampling s = {.temperature = 0.8, .top_p = 0.95, .seed = 42};
 *   int32_t next;
 *   na_sample_token(row, vocab, &s, step, &next);   // row: float[vocab]
 *
 * The filters apply in this order, as in Hugging Face `generate`:
 * temperature, then top-k, then top-p (the smallest set of most likely
 * tokens whose probability mass reaches top_p of what top-k kept), then
 * min-p (tokens at least min_p times as likely as the most likely one).
 * temperature 0 (or top_k 1) is greedy: the argmax, the lowest id on ties.
 *
 * Generation runs a causal language model given as a layer: token ids
 * {batch, seq} i32 in, logits {batch, seq, vocab} out, with its attention
 * converted to self-tracking KV caches (na_attention_to_kv_cache with a
 * capacity for prompt + new tokens and batch_size >= the number of
 * prompts). The prompts are left-padded and prefilled in one call with
 * their positions (-1 on padding) in the side input "token_positions";
 * then each step feeds only the newest token of every row.
 *
 *   na_generate_options o = {.max_new_tokens = 8, .stop_tokens = &eos,
 *                            .n_stop_tokens = 1, .on_token = print_it};
 *   na_generation g;
 *   na_generate(model, prompts, 2, &o, &g);   // prompts: na_token_list[2]
 *   // g.tokens[i]: row i's new tokens; g.decode_tokens_per_s, ...
 *   na_generation_free(&g);
 *
 * Row b samples with seed + b, so prompt b alone with seed + b gives the
 * same tokens as in the batch (up to float rounding in the model).
 */
#ifndef NAMEDARR_GENERATE_H
#define NAMEDARR_GENERATE_H

#include <stdint.h>

#include "namedarr/layer.h"
#include "namedarr/status.h"
#include "namedarr/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default) /* the na_ API; the rest is hidden */

/* Zero-initialised: greedy. */
typedef struct na_sampling {
    double temperature; /* 0: greedy (argmax); > 0 divides the logits      */
    int top_k;          /* 0: off; keep the k most likely                  */
    double top_p;       /* 0 or 1: off; nucleus mass in (0, 1)              */
    double min_p;       /* 0: off; in (0, 1]                                */
    uint64_t seed;
} na_sampling;

/* The next token from logits[0 .. vocab). `s` NULL is greedy. `step`
 * selects the random number (use the index of the generated token); the
 * draw is na_sample_uniform(s->seed, step). Bad settings (negative
 * temperature, top_p outside [0, 1], ...) are NA_ERR_ARGUMENT. */
na_status na_sample_token(const float *logits, int64_t vocab, const na_sampling *s,
                          uint64_t step, int32_t *out);

/* The index of the largest logit (the first on ties; NaN never wins). */
int32_t na_argmax_f32(const float *logits, int64_t n);

/* The uniform number in [0, 1) for (seed, step): 53 bits of a SplitMix64
 * hash. The same on every machine. */
double na_sample_uniform(uint64_t seed, uint64_t step);

/* Called for every generated token (stop tokens excluded); a non-zero
 * return ends that row. */
typedef int (*na_token_callback)(void *user, int64_t row, int32_t token);

/* Choosing tokens some other way than na_sample_token on whole logits:
 * for a model whose vocabulary is split across processes (dist.h,
 * na_dist_sampler_new), each process holding a block of the logits.
 * Called once per step with the last position's logits as the model
 * returned them, logits[n][vocab] (f32; vocab: what the model returned),
 * the settings `s` (row b samples with seed s->seed + b) and each row's
 * step counter steps[b]; writes tokens[b] for every row (the choice for a
 * finished row is ignored). Must choose as na_sample_token would on the
 * whole row. */
typedef struct na_token_chooser {
    na_status (*choose)(void *user, const float *logits, int64_t n, int64_t vocab,
                        const na_sampling *s, const uint64_t *steps, int32_t *tokens);
    void *user;
} na_token_chooser;

typedef struct na_generate_options {
    int64_t max_new_tokens;        /* required, > 0                          */
    na_sampling sampling;          /* zero: greedy                           */
    const int32_t *stop_tokens;    /* end a row (not added to its tokens)    */
    int n_stop_tokens;
    int32_t pad_token;             /* fed as left padding and to ended rows  */
    na_token_callback on_token;    /* NULL: none                             */
    void *user;
    const char *batch_axis;        /* default "batch"                        */
    const char *seq_axis;          /* default "seq"                          */
    const char *vocab_axis;        /* default "vocab"                        */
    const char *positions_key;     /* default "token_positions"              */
    na_token_chooser chooser;      /* .choose NULL: na_sample_token per row  */
} na_generate_options;

/* Why a row ended. */
enum { NA_GEN_RUNNING = 0, NA_GEN_STOP_TOKEN, NA_GEN_MAX_TOKENS, NA_GEN_CALLBACK };

typedef struct na_generation {
    int64_t rows;
    na_token_list *tokens;         /* [rows]: the new tokens of each prompt  */
    int *finished;                 /* [rows]: NA_GEN_*                       */
    int64_t prefill_tokens;        /* prompt tokens (without padding)        */
    int64_t decode_tokens;         /* tokens sampled in decode steps         */
    int64_t decode_steps;
    double prefill_seconds, decode_seconds;
    double prefill_tokens_per_s, decode_tokens_per_s;
} na_generation;

/* Generate from n prompts (each non-empty). Resets the model's caches
 * first. A model without KV caches, a cache too small for the longest
 * prompt plus max_new_tokens, or output without the vocab axis is an
 * error. */
na_status na_generate(na_layer *model, const na_token_list *prompts, int64_t n,
                      const na_generate_options *opt, na_generation *out);

void na_generation_free(na_generation *g);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
