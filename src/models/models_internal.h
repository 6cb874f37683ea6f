/* Internal to src/models and src/io/hf_*: one decoder spec that every
 * family's config is turned into, and the generic tree builder. Prefix na__. */
#ifndef NAMEDARR_MODELS_INTERNAL_H
#define NAMEDARR_MODELS_INTERNAL_H

#include "core/internal.h"
#include "namedarr/combinators.h"
#include "namedarr/layers.h"
#include "namedarr/models.h"

typedef enum { NA__NORM_RMS, NA__NORM_LAYER } na__norm_kind;

typedef struct na__decoder_spec {
    const char *who;               /* "na_llama_new"                        */
    int64_t vocab, hidden, ffn, max_positions;
    int layers, nq, nkv;
    int64_t head_dim;
    na__norm_kind norm;
    double eps;
    bool post_norms;               /* Gemma: norms after attention and MLP  */
    bool qk_norm;                  /* Gemma 3: RMS over projection on q, k  */
    bool gated;                    /* gate * act(...) (else up, act, down)  */
    na_unary_op act;
    bool mlp_bias, qkv_bias, out_bias;
    bool learned_positions;        /* GPT-2                                 */
    bool embed_scale;              /* Gemma: times sqrt(hidden)             */
    bool tie;
    bool rope;
    na_rope_options rope_global, rope_local; /* local: sliding layers (unset:
                                       the global one)                      */
    double attn_scale;             /* 0: head_dim^-1/2                      */
    double attn_cap, final_cap;    /* 0: none                               */
    int64_t window;                /* > 0: local layers have this window    */
    int window_pattern;            /* 0: every layer local; else layer i is */
                                   /* global when (i + 1) % pattern == 0    */
} na__decoder_spec;

/* Is block i a sliding-window (local) layer? */
bool na__spec_is_local(const na__decoder_spec *s, int i);
/* Build the tree of models.h from a checked spec. */
na_status na__decoder_new(const na__decoder_spec *s, uint64_t seed, na_layer **out);

/* Each family: check the config (errors name the field) and fill a spec. */
na_status na__llama_spec(const na_llama_config *c, na__decoder_spec *s);
na_status na__gpt2_spec(const na_gpt2_config *c, na__decoder_spec *s);
na_status na__gemma_spec(const na_gemma_config *c, na__decoder_spec *s);

/* llama.c: the size checks every family shares; theta and rope_scaling
 * as ApplyRoPE options. Errors name `who` and the config field. */
na_status na__check_decoder_sizes(const char *who, int64_t vocab, int64_t hidden,
                                  int64_t ffn, int layers, int nq, int nkv,
                                  int64_t head_dim);
na_status na__rope_from_scaling(const char *who, double theta, const na_rope_scaling *r,
                                na_rope_options *out);

/* AddLearnedPositions (positions.c): x + table[positions], positions from
 * side "token_positions" (negative clamped to 0) or arange(seq). */
extern const na_layer_type na__learned_positions_type;
na_status na__learned_positions_new(na_param *table, na_layer **out);

#endif
