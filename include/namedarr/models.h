/* namedarr/models.h — decoder-only transformer builders whose configs
 * mirror Hugging Face config.json (Llama 2/3, Mistral, Qwen2; GPT-2;
 * Gemma 2 and 3), and import/export of Hugging Face model directories.
 *
 *   na_llama_config c;
 *   na_llama_config_init(&c);                 // LlamaConfig's defaults
 *   c.vocab_size = 256, c.hidden_size = 64, c.intermediate_size = 172;
 *   c.num_hidden_layers = 2, c.num_attention_heads = 4, c.num_key_value_heads = 2;
 *   na_layer *model = NULL;
 *   na_llama_new(&c, 42, &model);             // an ordinary layer tree
 *   na_array *logits = NULL;                  // ids {batch, seq} (i32)
 *   na_layer_call_array(model, ids, NULL, &logits);   // {batch, seq, vocab}
 *
 *   // or from a checkpoint directory (config.json + safetensors):
 *   na_hf_load("path/to/model", &model, &info);
 *
 * The tree (printable, editable, savable; attention runs fused):
 *   Sequential
 *     NamedGroup "embed"    EmbeddingLookup [+ learned positions (GPT-2)]
 *                           [* sqrt(hidden) (Gemma)]
 *     NamedGroup "block_i"  Residual(NamedGroup "attention_block":
 *                             norm, Attention, [post norm (Gemma)])
 *                           Residual(NamedGroup "mlp_block":
 *                             norm, MLP, [post norm (Gemma)])
 *     NamedGroup "final"    norm, head (Linear or tied EmbeddingDecode),
 *                           [TanhSoftCap (Gemma 2)]
 * Axis names: ids {batch, seq}; activations {batch, seq, embedding};
 * attention as in attention.h (heads, or kv_heads and query_heads);
 * the MLP's hidden axis "hidden"; logits {batch, seq, vocab}.
 * Labels: "embed.embeddings" {vocab, embedding}; GPT-2's
 * "position_embed.embeddings" {position, embedding};
 * "block_<i>/pre_attention_norm.scale" (.bias for LayerNorm),
 * "block_<i>/attention/{query,key,value,output}.weights" (.bias),
 * "block_<i>/attention/{query,key}_norm.scale" (Gemma 3),
 * "block_<i>/post_attention_norm.scale", "block_<i>/pre_mlp_norm.scale",
 * "block_<i>/mlp/{gate,up,down}.weights" (.bias; GPT-2 has no gate),
 * "block_<i>/post_mlp_norm.scale", "final_norm.scale", "lm_head.weights"
 * {embedding, vocab} (absent when tied).
 *
 * Positions: side input "token_positions" {batch, seq} (i32; -1 marks
 * left padding), default arange(seq). For decoding, na_model_to_kv_cache
 * puts the model in its caching form: then every call continues where the
 * last one stopped, and a step needs only the new token ids.
 *
 * Ownership: builders return a new tree (na_layer_free). Configs are
 * copied. Errors name the config field or the checkpoint tensor.
 */
#ifndef NAMEDARR_MODELS_H
#define NAMEDARR_MODELS_H

#include <stdbool.h>
#include <stdint.h>

#include "namedarr/attention.h"
#include "namedarr/layer.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default) /* the na_ API; the rest is hidden */

/* rope_scaling: {"rope_type": "linear" | "llama3", "factor", ...}. */
typedef enum na_rope_scaling_type {
    NA_ROPE_SCALING_NONE = 0,
    NA_ROPE_SCALING_LINEAR, /* positions divided by factor              */
    NA_ROPE_SCALING_LLAMA3  /* Llama 3.1 frequency bands                */
} na_rope_scaling_type;

typedef struct na_rope_scaling {
    na_rope_scaling_type rope_type;
    double factor;
    double low_freq_factor, high_freq_factor;   /* llama3                */
    int64_t original_max_position_embeddings;   /* llama3                */
} na_rope_scaling;

/* ---- Llama-like: Llama 2/3, Mistral, Qwen2 ------------------------------ */

typedef struct na_llama_config {
    int64_t vocab_size;
    int64_t hidden_size;
    int64_t intermediate_size;
    int num_hidden_layers;
    int num_attention_heads;
    int num_key_value_heads;        /* divides num_attention_heads        */
    int64_t head_dim;               /* hidden_size / num_attention_heads  */
    double rms_norm_eps;
    double rope_theta;
    na_rope_scaling rope_scaling;
    bool tie_word_embeddings;
    bool attention_bias;            /* q, k, v (and o) biases; Qwen2: q,k,v */
    bool o_proj_bias;               /* set with attention_bias by Llama   */
    bool mlp_bias;
    int64_t sliding_window;         /* 0: none (Mistral: 4096)            */
    int64_t max_position_embeddings;
} na_llama_config;

/* Hugging Face LlamaConfig's defaults (Llama 2 7B). */
void na_llama_config_init(na_llama_config *c);
/* A Llama-like model with weights drawn from `seed`. */
na_status na_llama_new(const na_llama_config *config, uint64_t seed, na_layer **out);

/* ---- GPT-2 ---------------------------------------------------------------- */

typedef struct na_gpt2_config {
    int64_t vocab_size;
    int64_t n_positions;            /* learned position table size        */
    int64_t n_embd;
    int n_layer;
    int n_head;
    int64_t n_inner;                /* MLP width (HF null: 4 * n_embd)    */
    double layer_norm_epsilon;
    bool tie_word_embeddings;       /* GPT-2: true                        */
} na_gpt2_config;

/* Hugging Face GPT2Config's defaults (GPT-2 small). */
void na_gpt2_config_init(na_gpt2_config *c);
na_status na_gpt2_new(const na_gpt2_config *config, uint64_t seed, na_layer **out);

/* ---- Gemma 2 and 3 ---------------------------------------------------------- */

typedef struct na_gemma_config {
    int version;                    /* 2 or 3                             */
    int64_t vocab_size;
    int64_t hidden_size;
    int64_t intermediate_size;
    int num_hidden_layers;
    int num_attention_heads;
    int num_key_value_heads;
    int64_t head_dim;
    double rms_norm_eps;
    double rope_theta;              /* global layers                      */
    double rope_local_base_freq;    /* Gemma 3's local layers             */
    na_rope_scaling rope_scaling;   /* Gemma 3's global layers            */
    double query_pre_attn_scalar;   /* logits scaled by its -1/2 power    */
    double attn_logit_softcapping;  /* 0: none (Gemma 2: 50)              */
    double final_logit_softcapping; /* 0: none (Gemma 2: 30)              */
    int64_t sliding_window;         /* local layers' window               */
    int sliding_window_pattern;     /* layer i is global when (i + 1) %   */
                                    /* pattern == 0 (Gemma 2: 2, 3: 6)    */
    bool tie_word_embeddings;       /* true                               */
    bool attention_bias;
    int64_t max_position_embeddings;
} na_gemma_config;

/* Hugging Face Gemma2Config (version 2) or Gemma3TextConfig (3) defaults. */
void na_gemma_config_init(na_gemma_config *c, int version);
na_status na_gemma_new(const na_gemma_config *config, uint64_t seed, na_layer **out);

/* ---- decoding --------------------------------------------------------------- */

/* The caching form of a model built here: every Attention becomes a
 * KVCachingAttention of `capacity` tokens for `batch_size` rows (allocated
 * now), and the root is wrapped so that a call without "token_positions"
 * continues each row after its last cached position (GPT-2's learned
 * positions read the same positions). Prefill with the prompt (and the
 * positions, -1 for left padding), then call with {batch, seq:1} ids.
 * *model is replaced (on failure it is left as it was). */
na_status na_model_to_kv_cache(na_layer **model, int64_t capacity, int64_t batch_size);
/* The same with every cache option (opt->capacity and opt->batch_size as
 * above; opt->dtype = NA_BF16 keeps keys and values in bf16, read directly
 * by the decode kernels; labels come from the tree paths). */
na_status na_model_to_kv_cache_ex(na_layer **model, const na_kv_cache_options *opt);

/* ---- Hugging Face checkpoints ------------------------------------------------ */

typedef enum na_hf_arch {
    NA_HF_LLAMA = 1,   /* LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM */
    NA_HF_GPT2,        /* GPT2LMHeadModel                                     */
    NA_HF_GEMMA2,      /* Gemma2ForCausalLM                                   */
    NA_HF_GEMMA3       /* Gemma3ForCausalLM                                   */
} na_hf_arch;

/* What a model directory held. */
typedef struct na_hf_info {
    na_hf_arch arch;
    char architecture[64];          /* "LlamaForCausalLM"                 */
    char model_type[32];            /* "llama", "mistral", "qwen2", ...   */
    na_llama_config llama;          /* the config of `arch`               */
    na_gpt2_config gpt2;
    na_gemma_config gemma;
    int tensors;                    /* tensors read                       */
    int files;                      /* safetensors files read             */
} na_hf_info;

/* Read config.json of `dir` into the matching config (no weights). */
na_status na_hf_read_config(const char *dir, na_hf_info *out);

/* Build the model of `dir` and load its weights: model.safetensors or the
 * shards of model.safetensors.index.json; f32, f16 and bf16 tensors (kept
 * as f32). Strict: a missing tensor, an unused tensor, a shape that
 * disagrees with the config, an unsupported architecture or config value
 * is an error naming it, and no model is returned. Two results, last: the
 * model in *out and the config in *info (info may be NULL). */
na_status na_hf_load(const char *dir, na_layer **out, na_hf_info *info);

/* A model directory opened without reading its weights, for reading them
 * block by block (what each process of a sharded model does, dist.h:
 * na_dist_hf_load). na_hf_open reads config.json and the safetensors
 * headers and checks, as na_hf_load does, that every tensor of the layout
 * is there with the shape the config needs and that none is left over.
 *
 *   na_hf_checkpoint *c;
 *   na_hf_open(dir, &c);
 *   na_hf_checkpoint_build(c, 0, &model);     // the tree, random weights
 *   // heads 0..3 of the first block's query weights, f32; from GPT-2's
 *   // fused c_attn [E, 3E] that reads only the columns of those heads
 *   na_hf_get_block(c, "block_0/attention/query.weights", 1,
 *                    &NA_RANGE("heads", 0, 4, 1), &w);
 *   na_hf_close(c);
 */
typedef struct na_hf_checkpoint na_hf_checkpoint; /* opaque */

na_status na_hf_open(const char *dir, na_hf_checkpoint **out);
void na_hf_close(na_hf_checkpoint *c);
/* The config and counts (borrowed: valid until na_hf_close). */
const na_hf_info *na_hf_checkpoint_info(const na_hf_checkpoint *c);
/* The model tree of the config (na_llama_new & co.), weights from `seed`. */
na_status na_hf_checkpoint_build(const na_hf_checkpoint *c, uint64_t seed, na_layer **out);
/* The whole named shape of the parameter `label` (the labels listed
 * above): *ndim dims into out[] (room for NA_MAX_DIMS; names borrowed). */
na_status na_hf_param_dims(const na_hf_checkpoint *c, const char *label, int *ndim,
                           na_dim *out);
/* Parameter `label` as f32 (Gemma's norms as 1 + w), or only its block:
 * `ranges`, n NA_RANGE entries by the parameter's axis names (step 1),
 * as for na_index_by (n 0: whole). Of an f32 or bf16 tensor only the
 * block's bytes are read (the file is mapped); f16 tensors are converted
 * whole first. */
na_status na_hf_get_block(const na_hf_checkpoint *c, const char *label, int n,
                          const na_index *ranges, na_array **out);

/* Write `model` (built for `info->arch` from info's config) as a Hugging
 * Face directory: config.json and model.safetensors (f32), with the
 * layout na_hf_load reads. The directory must exist. */
na_status na_hf_save(const na_layer *model, const na_hf_info *info, const char *dir);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
