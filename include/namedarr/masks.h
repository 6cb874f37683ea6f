/* namedarr/masks.h — attention masks and biases: layers that read them
 * from side inputs, position-based causal masks and ALiBi biases, and
 * Flax-style helpers.
 *
 * A mask is a bool named array, true where a query may attend to a key. It
 * lines up with the logits {batch, heads, seq, kv_seq} by name, so a
 * padding mask {batch, kv_seq} or a causal mask {seq, kv_seq} broadcasts.
 *
 *   na_array *pad = NULL, *causal = NULL, *mask = NULL;
 *   na_make_attention_mask(valid_q, valid_k, na_pairwise_and, NULL, &pad);
 *   na_make_causal_mask(tokens, "seq", &causal);     // {seq, kv_seq}, i >= j
 *   na_combine_masks(2, (const na_array *[]){pad, causal}, &mask);
 *   na_side_set_array(side, "attn_mask", mask);      // read by the layer:
 *   na_apply_attention_mask_new("attn_mask", NA_MASKED_OUT_DEFAULT, &layer);
 *
 * Fully masked rows. A mask layer writes `masked_out_value` (default
 * -2.3819763e38, large but finite) into masked logits. A row whose keys
 * are all masked then gets *uniform* weights from a plain softmax, as in
 * Penzai, Flax and JAX (NA_MASKED_ROWS_UNIFORM, the default). Keras and
 * PyTorch give such rows *zero* weights: use a MaskedSoftmax with
 * NA_MASKED_ROWS_ZERO, which zeroes every row whose logits all lie at or
 * below masked_out_value / 2 (i.e. rows where every key was masked by any
 * mask layer before it).
 *
 * Positions. ApplyCausalMask computes its mask from token positions found
 * in the side inputs: keep (q, k) where
 *
 *   q_pos >= kv_pos  and  kv_pos >= 0  [and  q_pos - kv_pos < window]
 *
 * A negative position marks padding (never attended to). Positions are i32
 * (or float) arrays {seq} or {batch, seq} (keys: {kv_seq} / {batch,
 * kv_seq}). Without positions, queries and keys count 0, 1, 2, ... (the
 * top-left aligned causal mask); without key positions but with as many
 * keys as queries, the keys take the query positions. The KV cache sets
 * both, so decoding lines up.
 *
 * Biases (Flax's `bias` argument: ALiBi, relative positions, proximity
 * bias). ApplyAttentionBias adds an f32 (or f64) named array read from the
 * side inputs to the logits, broadcast by name like a mask; ApplyALiBiBias
 * computes ALiBi from the same positions as ApplyCausalMask:
 *
 *   bias[h, q, k] = slope[h] * (kv_pos[k] - q_pos[q])
 *
 * which is the ALiBi paper's -m * (i - j) and, up to a constant per query
 * row that softmax ignores, Hugging Face's (BLOOM) slope * j. Slopes:
 * n a power of two: slope[h] = 2^(-8 (h + 1) / n); otherwise, with c the
 * largest power of two below n, the c slopes of c heads followed by the
 * odd-numbered slopes 2^(-8 (2i + 1) / (2c)), i < n - c, of 2c heads (the
 * paper's reference code and Hugging Face's build_alibi_tensor). Bias
 * layers sit in query_key_to_attn after AttentionLogits and before the mask
 * layers (Flax's order: logits, + bias, mask, softmax):
 *
 *   na_side_set_array(side, "rel_bias", bias);       // {heads, seq, kv_seq}
 *   na_apply_attention_bias_new("rel_bias", &layer);
 *   na_apply_alibi_bias_new(&(na_alibi_options){.num_heads = 8}, &alibi);
 *
 * In a KVCachingAttention the key positions are the cache's, so ALiBi
 * follows the cache exactly as the causal mask does. The fused attention
 * kernels (prefill and decode) run both bias layers placed before the masks:
 * the bias array is read where it is (broadcast by name, f64 converted to
 * f32), ALiBi is computed from the slopes and the positions (no
 * {seq, kv_seq} array).
 */
#ifndef NAMEDARR_MASKS_H
#define NAMEDARR_MASKS_H

#include <stdbool.h>
#include <stdint.h>

#include "namedarr/array.h"
#include "namedarr/layer.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default) /* the na_ API; the rest is hidden */

/* The default masked-out logit (finite: fully masked rows stay defined). */
#define NA_MASKED_OUT_DEFAULT (-2.3819763e38)

/* Default side-input keys. */
#define NA_ATTN_MASK_KEY "attn_mask"
#define NA_QUERY_POSITIONS_KEY "token_positions"
#define NA_KV_POSITIONS_KEY "kv_positions"

/* The fully-masked-row policy, spelled this way in every options struct.
 * NA_MASKED_ROWS_DEFAULT (0, what a zeroed options struct holds) means the
 * documented default of whatever takes the options: uniform for Penzai,
 * Flax and na_mha_new / na_dot_product_attn_new, zero for Keras's na_gqa_new.
 * Layers store UNIFORM or ZERO. */
typedef enum na_masked_rows {
    NA_MASKED_ROWS_DEFAULT = 0, /* the documented default of the caller     */
    NA_MASKED_ROWS_UNIFORM,     /* every key masked -> uniform weights      */
    NA_MASKED_ROWS_ZERO         /* every key masked -> zero weights (Keras) */
} na_masked_rows;

extern const na_layer_type na_apply_attention_mask_type; /* "ApplyAttentionMask" */
extern const na_layer_type na_apply_causal_mask_type;    /* "ApplyCausalMask"    */
extern const na_layer_type na_masked_softmax_type;       /* "MaskedSoftmax"      */

/* ---- mask layers (logits in, logits out) ------------------------------- */

/* ApplyAttentionMask: reads the bool array under `mask_tag` from the side
 * inputs; logits where it is false become `masked_out_value`.
 *   logits: {batch, heads, seq, kv_seq}, mask: any subset of those names
 * Errors: the tag is missing (unless made optional), the mask is not bool,
 * it has positional axes, or an axis the logits lack or of another size. */
na_status na_apply_attention_mask_new(const char *mask_tag, double masked_out_value,
                                      na_layer **out);
/* An optional mask: a missing tag means "no mask" instead of an error
 * (builders use this, as Flax's mask=None). */
na_status na_apply_attention_mask_set_optional(na_layer *layer, bool optional);

/* Zero fields take the defaults. */
typedef struct na_causal_mask_options {
    const char *query_positions_key; /* default NA_QUERY_POSITIONS_KEY        */
    const char *kv_positions_key;    /* default NA_KV_POSITIONS_KEY           */
    int64_t window;                  /* > 0: sliding window; 0: none          */
    double masked_out_value;         /* 0: NA_MASKED_OUT_DEFAULT, unless      */
    bool custom_masked_out_value;    /* true: masked_out_value as given, a    */
                                     /* literal 0 included                    */
    const char *query_axis;          /* default "seq"                         */
    const char *kv_axis;             /* default "kv_seq"                      */
} na_causal_mask_options;

/* ApplyCausalMask: the position-based causal (sliding-window) mask above.
 *   logits: {..., seq, kv_seq}; positions from the side inputs. */
na_status na_apply_causal_mask_new(const na_causal_mask_options *opt,
                                   na_layer **out);

/* MaskedSoftmax: softmax over `axis` with an explicit fully-masked-row
 * policy (see above; DEFAULT is UNIFORM). masked_out_value (< 0; 0 means
 * NA_MASKED_OUT_DEFAULT) is the threshold: rows at or below half of it are
 * fully masked. */
na_status na_masked_softmax_new(const char *axis, na_masked_rows rows,
                                double masked_out_value, na_layer **out);

/* ---- bias layers (logits in, logits out) ---------------------------------- */

extern const na_layer_type na_apply_attention_bias_type; /* "ApplyAttentionBias" */
extern const na_layer_type na_apply_alibi_bias_type;     /* "ApplyALiBiBias"     */

/* ApplyAttentionBias: logits + side[bias_tag], broadcast by name.
 *   logits: {batch, heads, seq, kv_seq}, bias: f32/f64, any subset of those
 *   names (e.g. {heads, seq, kv_seq}), each of the logits' size
 * The result keeps the logits' dtype. Errors: the tag is missing (unless
 * made optional), the bias is not f32/f64, has positional axes, or an axis
 * the logits lack or of another size. */
na_status na_apply_attention_bias_new(const char *bias_tag, na_layer **out);
/* An optional bias: a missing tag means "no bias" (Flax's bias=None). */
na_status na_apply_attention_bias_set_optional(na_layer *layer, bool optional);

/* Zero fields take the defaults. */
typedef struct na_alibi_options {
    int num_heads;                   /* required, > 0 (query heads)           */
    const char *heads_axis;          /* default "heads"                       */
    const char *group_axis;          /* grouped-query attention: the query    */
                                     /* head is group * (num_heads / groups)  */
                                     /* + heads_axis, e.g. group_axis         */
                                     /* "kv_heads", heads_axis "query_heads"; */
                                     /* NULL: none                            */
    int num_groups;                  /* with group_axis: divides num_heads    */
    const char *query_positions_key; /* default NA_QUERY_POSITIONS_KEY        */
    const char *kv_positions_key;    /* default NA_KV_POSITIONS_KEY           */
    const char *query_axis;          /* default "seq"                         */
    const char *kv_axis;             /* default "kv_seq"                      */
} na_alibi_options;

/* ApplyALiBiBias: logits + slope[h] * (kv_pos - q_pos) (see above), the
 * bias f32 {[group_axis,] heads_axis, [batch,] seq, kv_seq}. The logits
 * must have the heads axes with the sizes the options give. */
na_status na_apply_alibi_bias_new(const na_alibi_options *opt, na_layer **out);

/* The ALiBi slopes of num_heads heads: f32 {axis:num_heads} (axis NULL:
 * "heads"). */
na_status na_alibi_slopes(int num_heads, const char *axis, na_array **out);

/* ---- computing masks --------------------------------------------------- */

/* The position rule as a function: q_pos {.., seq}, kv_pos {.., kv_seq}
 * (i32 or float, named axes) -> bool {.., seq, kv_seq}. window 0: none. */
na_status na_causal_positions_mask(const na_array *q_pos, const na_array *kv_pos,
                                   int64_t window, na_array **out);

/* A pairwise function for na_make_attention_mask: q and k carry different
 * axis names, so broadcasting by name makes the (query, key) grid. The
 * result must be a bool array (or numeric: nonzero counts as true). */
typedef na_status (*na_pairwise_fn)(const na_array *q, const na_array *k,
                                    void *ctx, na_array **out);
/* Flax's default (jnp.multiply on 0/1 masks): both nonzero. */
na_status na_pairwise_and(const na_array *q, const na_array *k, void *ctx,
                          na_array **out);
/* q >= k (Flax's causal form with jnp.greater_equal). */
na_status na_pairwise_ge(const na_array *q, const na_array *k, void *ctx,
                         na_array **out);

/* make_attention_mask after Flax: q_in {batch, seq}, k_in {batch, kv_seq}
 * (a `seq` axis on k_in is renamed to `kv_seq` first) ->
 * bool {batch, seq, kv_seq} = fn(q_in, k_in). `fn` NULL: na_pairwise_and. */
na_status na_make_attention_mask(const na_array *q_in, const na_array *k_in,
                                 na_pairwise_fn fn, void *ctx, na_array **out);

/* make_causal_mask after Flax (top-left aligned): for x's axis `axis`
 * (NULL: "seq") of size n, bool {seq:n, kv_seq:n} with mask[i, j] = i >= j.
 * x's other axes are not repeated (the mask broadcasts by name). */
na_status na_make_causal_mask(const na_array *x, const char *axis, na_array **out);

/* combine_masks after Flax: the logical and of the non-NULL masks (bool;
 * they broadcast by name). None given (all NULL) -> *out = NULL, NA_OK. */
na_status na_combine_masks(int n, const na_array *const *masks, na_array **out);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
