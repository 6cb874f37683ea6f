/* Internal helpers shared by src/attention (not installed). Prefix na__. */
#ifndef NAMEDARR_ATTENTION_INTERNAL_H
#define NAMEDARR_ATTENTION_INTERNAL_H

#include "layers/layers_internal.h"
#include "namedarr/attention.h"
#include "namedarr/combinators.h"
#include "namedarr/layers.h"

/* The five sublayers, in child order. */
enum { NA__ATTN_Q, NA__ATTN_K, NA__ATTN_V, NA__ATTN_QK, NA__ATTN_AV, NA__ATTN_N };

extern const char *const na__attn_child_names[NA__ATTN_N];

/* What Attention and KVCachingAttention share: the sublayers and the
 * weight options. */
typedef struct na__attn_core {
    na_layer *sub[NA__ATTN_N];
    bool keep_weights;
    bool return_weights;
    bool no_fuse;                /* always take the general path            */
    na_array *weights;           /* kept by the last call (keep_weights)   */
} na__attn_core;

/* The core of an Attention or KVCachingAttention layer, else NULL. */
na__attn_core *na__attn_core_of(const na_layer *layer);

/* Run the three input sublayers: *q, *k, *v (owned on success). */
na_status na__attn_project(na__attn_core *c, const na_value *in, const na_side *side,
                           na_value **q, na_value **k, na_value **v);
/* Run query_key_to_attn and attn_value_to_output on borrowed q, k, v
 * (arrays or values); honours keep/return weights. */
na_status na__attn_finish(na__attn_core *c, const char *who, const na_value *q,
                          const na_value *k, const na_value *v, const na_side *side,
                          na_value **out);
void na__attn_core_clear(na__attn_core *c);
void na__attn_core_describe(const na__attn_core *c, na_fields *f);

bool na__is_causal_mask(const na_layer *layer);

/* kv_cache.c: a KVCachingAttention over the five sublayers (taken over,
 * freed on failure). */
na_status na__kv_cache_new(na_layer *const *sub, const na_kv_cache_options *opt,
                           na_layer **out);

/* ---- what the fused path needs to know about the standard layers ---- */

/* dot_product.c: the contracted axis and scale of an AttentionLogits; the
 * axis of an AttentionCombine. false for other layers. */
bool na__attn_logits_info(const na_layer *l, const char **axis, double *scale);
bool na__attn_combine_info(const na_layer *l, const char **axis);

/* mask.c: is `l` a mask layer (ApplyAttentionMask / ApplyCausalMask), and
 * its masked-out value. */
bool na__mask_layer_info(const na_layer *l, double *masked_out_value);
/* Its bool mask for logits shaped like `logits` (any array of that named
 * shape; it is not read): axes a subset of the logits'. *mask is NULL for an
 * optional mask that is absent. Fails as the layer's call would. */
na_status na__mask_layer_eval(const na_layer *l, const na_side *side,
                              const na_array *logits, na_array **mask);
/* Softmax (layers.h) or MaskedSoftmax over exactly `axis`: its row policy. */
bool na__softmax_info(const na_layer *l, const char *axis, na_masked_rows *rows);

/* fused.c: run query_key_to_attn + AttentionCombine fused (online softmax,
 * no logits buffer) when the sublayers are the standard ones; *done false
 * means "not applicable, take the general path" (no error recorded). */
na_status na__attn_fused(na__attn_core *c, const na_value *q, const na_value *k,
                         const na_value *v, const na_side *side, na_value **out,
                         bool *done);

/* The value as an array, or an error "<who>: <what> ...". */
const na_array *na__attn_array(const na_value *v, const char *who, const char *what);

#endif
