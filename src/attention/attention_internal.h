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
    bool fused;                  /* false: always take the general path     */
    bool merge_weight_heads;     /* returned weights in Keras's layout      */
    na_array *weights;           /* kept by the last call (keep_weights)   */
    unsigned char last_path;     /* NA__ATTN_RAN_*: how the last call ran  */
    char last_why[256];          /* why it took the general path           */
} na__attn_core;

enum { NA__ATTN_RAN_NONE, NA__ATTN_RAN_FUSED, NA__ATTN_RAN_GENERAL };

/* The core's fields, for the field table of a struct T with a member
 * `core`: the five children, then keep_weights, return_weights, fused,
 * merge_weight_heads. */
#define NA__ATTN_CORE_FIELDS(T)                                               \
    NA_FIELD_AS("input_to_query", T, core.sub[0], NA_FIELD_CHILD, 0),         \
    NA_FIELD_AS("input_to_key", T, core.sub[1], NA_FIELD_CHILD, 0),           \
    NA_FIELD_AS("input_to_value", T, core.sub[2], NA_FIELD_CHILD, 0),         \
    NA_FIELD_AS("query_key_to_attn", T, core.sub[3], NA_FIELD_CHILD, 0),      \
    NA_FIELD_AS("attn_value_to_output", T, core.sub[4], NA_FIELD_CHILD, 0),   \
    NA_FIELD_AS("keep_weights", T, core.keep_weights, NA_FIELD_BOOL,          \
                NA_FIELD_OMIT_DEFAULT),                                       \
    NA_FIELD_AS("return_weights", T, core.return_weights, NA_FIELD_BOOL,      \
                NA_FIELD_OMIT_DEFAULT),                                       \
    {.name = "fused", .kind = NA_FIELD_BOOL, .offset = offsetof(T, core.fused), \
     .flags = NA_FIELD_OMIT_DEFAULT, .dflt = 1},                              \
    NA_FIELD_AS("merge_weight_heads", T, core.merge_weight_heads,             \
                NA_FIELD_BOOL, NA_FIELD_OMIT_DEFAULT)

/* The core of an Attention or KVCachingAttention layer, else NULL. */
na__attn_core *na__attn_core_of(const na_layer *layer);
/* kv_cache.c: the core of a KVCachingAttention, else NULL. */
na__attn_core *na__kv_attn_core(const na_layer *layer);

/* Run the three input sublayers: *q, *k, *v (owned on success). */
na_status na__attn_project(na__attn_core *c, const na_value *in, const na_side *side,
                           na_value **q, na_value **k, na_value **v);
/* Run query_key_to_attn and attn_value_to_output on borrowed q, k, v
 * (arrays or values); honours keep/return weights. */
na_status na__attn_finish(na__attn_core *c, const char *who, const na_value *q,
                          const na_value *k, const na_value *v, const na_side *side,
                          na_value **out);
/* Drop the kept weights (a destroy hook). */
void na__attn_core_clear(na__attn_core *c);
/* Every child present (a finish hook), else an error naming `who`. */
na_status na__attn_core_check(const na__attn_core *c, const char *who);

/* ---- what the fused path needs beyond the fields ---- */

/* kv_cache.c: a KVCachingAttention over the five sublayers (taken over,
 * freed on failure). */
na_status na__kv_cache_new(na_layer *const *sub, const na_kv_cache_options *opt,
                           na_layer **out);

/* mask_layers.c: the bool mask of a mask layer (ApplyAttentionMask /
 * ApplyCausalMask) for logits shaped like `logits` (any array of that
 * named shape; it is not read): axes a subset of the logits'. *mask is
 * NULL for an optional mask that is absent. Fails as the layer's call
 * would. */
na_status na__mask_layer_eval(const na_layer *l, const na_side *side,
                              const na_array *logits, na_array **mask);
/* For an ApplyCausalMask over (q_axis, kv_axis): the query and key
 * positions it compares (new references; the side inputs or their
 * defaults, checked as the layer's call checks them) and its window, so
 * the fused path can mask from positions without a {seq, kv_seq} array.
 * *q and *kv stay NULL for another layer or other axes. */
na_status na__causal_mask_positions(const na_layer *l, const na_side *side,
                                    const char *q_axis, int64_t sq, const char *kv_axis,
                                    int64_t skv, na_array **q, na_array **kv,
                                    int64_t *window);

/* mask_layers.c: every axis of `x` is a named axis of `logits` of the same
 * size, else an error "<who>: <what> ... does not line up with the logits". */
na_status na__check_lines_up(const char *who, const char *what, const na_array *x,
                             const na_array *logits);

/* mask_helpers.c: query positions {.., q_axis:sq} and key positions
 * {.., kv_axis:skv} from the side inputs, with masks.h's defaults (absent:
 * 0, 1, 2, ...; absent key positions with as many keys as queries: the
 * query positions). Owned new references. */
typedef struct na__positions_spec {
    const char *who;
    const char *q_key, *kv_key;   /* side-input keys          */
    const char *q_axis, *kv_axis; /* interned                 */
} na__positions_spec;
na_status na__attn_positions(const na__positions_spec *p, const na_side *side,
                             int64_t sq, int64_t skv, na_array **q, na_array **kv);

/* bias_layers.c: the additive bias of a bias layer (ApplyAttentionBias /
 * ApplyALiBiBias) for logits shaped like `logits` (not read): an f32 or f64
 * array whose axes are a subset of the logits' (same sizes). *bias is NULL
 * for an optional bias that is absent. Fails as the layer's call would. */
na_status na__bias_layer_eval(const na_layer *l, const na_side *side,
                              const na_array *logits, na_array **bias);
/* Is `l` an ApplyAttentionBias or ApplyALiBiBias? */
bool na__is_bias_layer(const na_layer *l);
/* For an ApplyALiBiBias over (q_axis, kv_axis): its slopes (f32 over its
 * heads axes) and the query and key positions it compares (new references,
 * checked as the layer's call checks them), so the fused path computes
 * slope * (kv_pos - q_pos) itself. All stay NULL for another layer or
 * other axes. */
na_status na__alibi_parts(const na_layer *l, const na_side *side, const na_array *logits,
                          const char *q_axis, const char *kv_axis, na_array **slopes,
                          na_array **q, na_array **kv);

/* fused.c: run query_key_to_attn + AttentionCombine fused (online softmax,
 * no logits buffer) when the sublayers are the standard ones; *done false
 * means "not applicable, take the general path" (no error recorded). */
na_status na__attn_fused(na__attn_core *c, const na_value *q, const na_value *k,
                         const na_value *v, const na_side *side, na_value **out,
                         bool *done);

/* The value as an array, or an error "<who>: <what> ...". */
const na_array *na__attn_array(const na_value *v, const char *who, const char *what);

#endif
