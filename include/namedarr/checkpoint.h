/* namedarr/checkpoint.h — reading other tools' checkpoint layouts.
 *
 * Checkpoints from PyTorch / Hugging Face store flat positional tensors:
 * Llama's q_proj.weight is [num_heads * head_dim, hidden], GPT-2's
 * c_attn.weight is [hidden, 3 * hidden] (Conv1D: input first). na_unflatten
 * names such a tensor in one step, splitting flattened axes row-major:
 *
 *   // q_proj [32*128, 4096] -> {heads:32, projection:128, embedding:4096}
 *   na_unflatten(w, "(heads:32 projection), embedding", &named);
 *   // GPT-2 c_attn [768, 2304] -> {embedding, qkv:3, heads:12, projection:64}
 *   na_unflatten(w, "embedding, (qkv:3 heads:12 projection)", &named);
 *
 * The spec has one group per positional axis, separated by commas: a bare
 * name names the axis; a parenthesised list "name:size ..." splits it, and
 * at most one size per group may be left out (it is inferred). The result
 * is a view (no copy).
 *
 * The loaders below read a whole attention block's weights by the Hugging
 * Face names and return them in namedarr's attention layout (DESIGN §5):
 * query {embedding, heads, projection} — or {embedding, kv_heads,
 * query_heads, projection} when num_kv_heads < num_heads, query head h
 * using key/value head h / (Hq/Hkv) as in the checkpoints — key and value
 * {embedding, heads|kv_heads, projection}, output {heads, projection,
 * embedding} (with kv_heads, query_heads for grouped queries). Llama's
 * rotary embedding is the half-split form namedarr's ApplyRoPE uses, so no
 * permutation is needed.
 */
#ifndef NAMEDARR_CHECKPOINT_H
#define NAMEDARR_CHECKPOINT_H

#include "namedarr/array.h"
#include "namedarr/safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default) /* the na_ API; the rest is hidden */

na_status na_unflatten(const na_array *x, const char *spec, na_array **out);

typedef struct na_attention_params {
    na_array *query, *key, *value, *output;          /* weights            */
    na_array *query_bias, *key_bias, *value_bias;    /* NULL when absent   */
    na_array *output_bias;
} na_attention_params;

void na_attention_params_free(na_attention_params *w);

/* Llama / Mistral / Qwen style: "<prefix>.q_proj.weight" [Hq*Dh, E],
 * k_proj / v_proj [Hkv*Dh, E], o_proj [E, Hq*Dh], optional ".bias". */
na_status na_load_llama_attention(const na_safetensors *st, const char *prefix,
                                  int num_heads, int num_kv_heads,
                                  na_attention_params *out);

/* GPT-2 style: "<prefix>.c_attn.weight" [E, 3E], "<prefix>.c_attn.bias" [3E],
 * "<prefix>.c_proj.weight" [E, E], "<prefix>.c_proj.bias" [E]. */
na_status na_load_gpt2_attention(const na_safetensors *st, const char *prefix,
                                 int num_heads, na_attention_params *out);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
