/* Llama-like models (Llama 2/3, Mistral, Qwen2): config defaults, checks,
 * and the decoder spec (RMSNorm, SwiGLU, RoPE, GQA). */
#include <string.h>

#include "models/models_internal.h"

void na_llama_config_init(na_llama_config *c)
{
    *c = (na_llama_config){
        .vocab_size = 32000, .hidden_size = 4096, .intermediate_size = 11008,
        .num_hidden_layers = 32, .num_attention_heads = 32, .num_key_value_heads = 32,
        .rms_norm_eps = 1e-6, .rope_theta = 10000, .max_position_embeddings = 2048};
}

/* Sizes > 0 and heads that divide: the checks every family shares. */
static na_status check_sizes(const char *who, int64_t vocab, int64_t hidden, int64_t ffn,
                             int layers, int nq, int nkv, int64_t head_dim)
{
    if (vocab <= 0 || hidden <= 0 || ffn <= 0 || layers <= 0 || nq <= 0 || nkv <= 0 ||
        head_dim <= 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: vocab_size %lld, hidden_size %lld, "
                        "intermediate_size %lld, num_hidden_layers %d, num_attention_heads "
                        "%d, num_key_value_heads %d and head_dim %lld must be > 0", who,
                        (long long)vocab, (long long)hidden, (long long)ffn, layers, nq,
                        nkv, (long long)head_dim);
    if (nq % nkv != 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: num_key_value_heads %d must divide "
                        "num_attention_heads %d", who, nkv, nq);
    return NA_OK;
}

na_status na__check_decoder_sizes(const char *who, int64_t vocab, int64_t hidden,
                                  int64_t ffn, int layers, int nq, int nkv,
                                  int64_t head_dim)
{
    return check_sizes(who, vocab, hidden, ffn, layers, nq, nkv, head_dim);
}

na_status na__rope_from_scaling(const char *who, double theta, const na_rope_scaling *r,
                                na_rope_options *out)
{
    memset(out, 0, sizeof *out);
    out->max_wavelength = theta;
    if (!(theta > 0))
        return na__fail(NA_ERR_ARGUMENT, "%s: rope_theta %g must be > 0", who, theta);
    if (r->rope_type == NA_ROPE_SCALING_NONE)
        return NA_OK;
    if (!(r->factor > 0))
        return na__fail(NA_ERR_ARGUMENT, "%s: rope_scaling.factor %g must be > 0", who,
                        r->factor);
    if (r->rope_type == NA_ROPE_SCALING_LINEAR) {
        out->scale_factor = r->factor;
        return NA_OK;
    }
    if (r->rope_type != NA_ROPE_SCALING_LLAMA3)
        return na__fail(NA_ERR_UNSUPPORTED, "%s: rope_scaling type %d is not supported",
                        who, (int)r->rope_type);
    if (!(r->low_freq_factor > 0) || !(r->high_freq_factor > r->low_freq_factor) ||
        r->original_max_position_embeddings <= 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: rope_scaling llama3 needs 0 < "
                        "low_freq_factor (%g) < high_freq_factor (%g) and "
                        "original_max_position_embeddings (%lld) > 0", who,
                        r->low_freq_factor, r->high_freq_factor,
                        (long long)r->original_max_position_embeddings);
    out->llama3_factor = r->factor;
    out->llama3_low_freq_factor = r->low_freq_factor;
    out->llama3_high_freq_factor = r->high_freq_factor;
    out->llama3_original_max_position = (double)r->original_max_position_embeddings;
    return NA_OK;
}

na_status na__llama_spec(const na_llama_config *c, na__decoder_spec *s)
{
    const char *who = "na_llama_new";
    memset(s, 0, sizeof *s);
    int64_t hd = c->head_dim ? c->head_dim
                 : c->num_attention_heads > 0 ? c->hidden_size / c->num_attention_heads : 0;
    na_status st = check_sizes(who, c->vocab_size, c->hidden_size, c->intermediate_size,
                               c->num_hidden_layers, c->num_attention_heads,
                               c->num_key_value_heads, hd);
    if (st == NA_OK && (c->rms_norm_eps < 0 || c->sliding_window < 0 ||
                        c->max_position_embeddings < 0))
        st = na__fail(NA_ERR_ARGUMENT, "%s: rms_norm_eps %g, sliding_window %lld and "
                      "max_position_embeddings %lld must be >= 0", who, c->rms_norm_eps,
                      (long long)c->sliding_window, (long long)c->max_position_embeddings);
    if (st == NA_OK)
        st = na__rope_from_scaling(who, c->rope_theta, &c->rope_scaling, &s->rope_global);
    if (st != NA_OK)
        return st;
    *s = (na__decoder_spec){
        .who = who, .vocab = c->vocab_size, .hidden = c->hidden_size,
        .ffn = c->intermediate_size, .max_positions = c->max_position_embeddings,
        .layers = c->num_hidden_layers, .nq = c->num_attention_heads,
        .nkv = c->num_key_value_heads, .head_dim = hd, .norm = NA__NORM_RMS,
        .eps = c->rms_norm_eps, .gated = true, .act = NA_SILU, .mlp_bias = c->mlp_bias,
        .qkv_bias = c->attention_bias, .out_bias = c->attention_bias && c->o_proj_bias,
        .tie = c->tie_word_embeddings, .rope = true, .rope_global = s->rope_global,
        .window = c->sliding_window};
    return NA_OK;
}

na_status na_llama_new(const na_llama_config *config, uint64_t seed, na_layer **out)
{
    if (!config || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_llama_new: NULL argument");
    na__decoder_spec s;
    na_status st = na__llama_spec(config, &s);
    return st == NA_OK ? na__decoder_new(&s, seed, out) : st;
}
