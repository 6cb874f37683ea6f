/* Gemma 2 and 3: embedding times sqrt(hidden), RMSNorm (a checkpoint's
 * 1 + w is added at import), pre- and post-norms, gelu-tanh gated MLP,
 * query_pre_attn_scalar, soft-caps, local sliding-window layers between
 * global ones, RMS qk-norm and a separate local rope base (Gemma 3). */
#include <math.h>
#include <string.h>

#include "models/models_internal.h"

/* Hugging Face's Gemma2Config and Gemma3TextConfig defaults. */
void na_gemma_config_init(na_gemma_config *c, int version)
{
    *c = (na_gemma_config){
        .version = version, .vocab_size = 256000, .hidden_size = 2304,
        .intermediate_size = 9216, .num_hidden_layers = 26, .num_attention_heads = 8,
        .num_key_value_heads = 4, .head_dim = 256, .rms_norm_eps = 1e-6,
        .rope_theta = 10000, .query_pre_attn_scalar = 256, .sliding_window = 4096,
        .sliding_window_pattern = 2, .attn_logit_softcapping = 50,
        .final_logit_softcapping = 30, .tie_word_embeddings = true,
        .max_position_embeddings = 8192};
    if (version == 3) {
        c->vocab_size = 262208, c->rope_theta = 1000000, c->rope_local_base_freq = 10000;
        c->sliding_window = 512, c->sliding_window_pattern = 6;
        c->attn_logit_softcapping = 0, c->final_logit_softcapping = 0;
        c->max_position_embeddings = 131072;
    }
}

na_status na__gemma_spec(const na_gemma_config *c, na__decoder_spec *s)
{
    const char *who = "na_gemma_new";
    memset(s, 0, sizeof *s);
    if (c->version != 2 && c->version != 3)
        return na__fail(NA_ERR_UNSUPPORTED, "%s: version %d (Gemma 2 or 3 only)", who,
                        c->version);
    na_status st = na__check_decoder_sizes(who, c->vocab_size, c->hidden_size,
                                           c->intermediate_size, c->num_hidden_layers,
                                           c->num_attention_heads, c->num_key_value_heads,
                                           c->head_dim);
    if (st == NA_OK && (!(c->query_pre_attn_scalar > 0) || c->sliding_window < 0 ||
                        c->sliding_window_pattern < 0 || c->attn_logit_softcapping < 0 ||
                        c->final_logit_softcapping < 0 || c->rms_norm_eps < 0))
        st = na__fail(NA_ERR_ARGUMENT, "%s: query_pre_attn_scalar %g must be > 0; "
                      "sliding_window %lld, sliding_window_pattern %d, soft-caps and "
                      "rms_norm_eps >= 0", who, c->query_pre_attn_scalar,
                      (long long)c->sliding_window, c->sliding_window_pattern);
    na_rope_options global, local;
    na_rope_scaling none = {0};
    if (st == NA_OK)
        st = na__rope_from_scaling(who, c->rope_theta, &c->rope_scaling, &global);
    if (st == NA_OK)
        st = c->version == 3
                 ? na__rope_from_scaling(who, c->rope_local_base_freq, &none, &local)
                 : na__rope_from_scaling(who, c->rope_theta, &c->rope_scaling, &local);
    if (st != NA_OK)
        return st;
    *s = (na__decoder_spec){
        .who = who, .vocab = c->vocab_size, .hidden = c->hidden_size,
        .ffn = c->intermediate_size, .max_positions = c->max_position_embeddings,
        .layers = c->num_hidden_layers, .nq = c->num_attention_heads,
        .nkv = c->num_key_value_heads, .head_dim = c->head_dim, .norm = NA__NORM_RMS,
        .eps = c->rms_norm_eps, .post_norms = true, .qk_norm = c->version == 3,
        .gated = true, .act = NA_GELU_TANH, .qkv_bias = c->attention_bias,
        .out_bias = c->attention_bias, .embed_scale = true,
        .tie = c->tie_word_embeddings, .rope = true, .rope_global = global,
        .rope_local = local, .attn_scale = 1.0 / sqrt(c->query_pre_attn_scalar),
        .attn_cap = c->attn_logit_softcapping, .final_cap = c->final_logit_softcapping,
        .window = c->sliding_window, .window_pattern = c->sliding_window_pattern};
    if (s->window_pattern == 0 && s->window > 0)
        s->window_pattern = 2;
    return NA_OK;
}

na_status na_gemma_new(const na_gemma_config *config, uint64_t seed, na_layer **out)
{
    if (!config || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_gemma_new: NULL argument");
    na__decoder_spec s;
    na_status st = na__gemma_spec(config, &s);
    return st == NA_OK ? na__decoder_new(&s, seed, out) : st;
}
