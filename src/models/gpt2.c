/* GPT-2: learned positions, LayerNorm with bias, gelu-tanh MLP, biases
 * everywhere, tied head; config defaults and the decoder spec. */
#include <string.h>

#include "models/models_internal.h"

void na_gpt2_config_init(na_gpt2_config *c)
{
    memset(c, 0, sizeof *c);
    c->vocab_size = 50257;
    c->n_positions = 1024;
    c->n_embd = 768;
    c->n_layer = 12;
    c->n_head = 12;
    c->layer_norm_epsilon = 1e-5;
    c->tie_word_embeddings = true;
}

na_status na__gpt2_spec(const na_gpt2_config *c, na__decoder_spec *s)
{
    const char *who = "na_gpt2_new";
    int64_t ffn = c->n_inner ? c->n_inner : 4 * c->n_embd;
    int64_t hd = c->n_head > 0 ? c->n_embd / c->n_head : 0;
    na_status st = na__check_decoder_sizes(who, c->vocab_size, c->n_embd, ffn, c->n_layer,
                                           c->n_head, c->n_head, hd);
    if (st == NA_OK && (hd * c->n_head != c->n_embd || c->n_positions <= 0 ||
                        c->layer_norm_epsilon < 0))
        st = na__fail(NA_ERR_ARGUMENT, "%s: n_head %d must divide n_embd %lld, "
                      "n_positions %lld must be > 0 and layer_norm_epsilon %g >= 0", who,
                      c->n_head, (long long)c->n_embd, (long long)c->n_positions,
                      c->layer_norm_epsilon);
    if (st != NA_OK)
        return st;
    *s = (na__decoder_spec){
        .who = who, .vocab = c->vocab_size, .hidden = c->n_embd, .ffn = ffn,
        .max_positions = c->n_positions, .layers = c->n_layer, .nq = c->n_head,
        .nkv = c->n_head, .head_dim = hd, .norm = NA__NORM_LAYER,
        .eps = c->layer_norm_epsilon, .act = NA_GELU_TANH, .mlp_bias = true,
        .qkv_bias = true, .out_bias = true, .learned_positions = true,
        .tie = c->tie_word_embeddings};
    return NA_OK;
}

na_status na_gpt2_new(const na_gpt2_config *config, uint64_t seed, na_layer **out)
{
    if (!config || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_gpt2_new: NULL argument");
    na__decoder_spec s;
    na_status st = na__gpt2_spec(config, &s);
    return st == NA_OK ? na__decoder_new(&s, seed, out) : st;
}
