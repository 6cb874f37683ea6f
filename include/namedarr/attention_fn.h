/* namedarr/attention_fn.h — dot-product attention as plain functions on
 * named arrays (Flax's dot_product_attention_weights and
 * dot_product_attention, jax.nn.dot_product_attention's is_causal and
 * scale), for people who want the weights or their own einsum without a
 * layer.
 *
 *   // q {batch, seq, heads, projection}, k, v {batch, kv_seq, heads, projection}
 *   na_dpa_options o = na_dpa_defaults();
 *   o.is_causal = true;
 *   na_array *w = NULL, *y = NULL;
 *   na_dot_product_attention_weights(q, k, &o, &w); // {batch, heads, seq, kv_seq}
 *   na_dot_product_attention(q, k, v, &o, &y);      // {batch, seq, heads, projection}
 *
 * The order of the computation is Flax's:
 *   1. q = q * scale                       (default projection**-0.5)
 *   2. logits = sum over projection of q * k
 *   3. logits += bias                      (if given; broadcast by name)
 *   4. logits = where(mask, logits, -3.4028235e38)  (if a mask is given or
 *      is_causal; Flax's finfo(float32).min, so a fully masked row gets
 *      uniform weights, as in Flax and JAX)
 *   5. weights = softmax over kv_seq
 *   6. dropout on the weights (if dropout_rate > 0 and not deterministic):
 *      keep with probability 1 - rate and divide by it; with
 *      broadcast_dropout (Flax's default) one keep-mask over {seq, kv_seq}
 *      is shared by every batch index and head.
 * Axes: anything besides seq, kv_seq and projection is batch-like
 * (batch, heads, kv_heads/query_heads for grouped-query attention); inputs
 * need not have a batch axis. The weights come back ordered {other axes...,
 * seq, kv_seq}; the output in q's axis order with v's feature axis where
 * q's projection axis was.
 *
 * Dtypes: q, k (and v) of different dtypes are promoted to their common
 * dtype first, as Flax's promote_dtype does (JAX's lattice, f32 x f64 ->
 * f64; an error under na_set_dtype_promotion(NA_PROMOTE_STRICT)). The
 * weights come back in that dtype even when an f64 bias made the logits
 * f64 (Flax's softmax(...).astype(dtype)).
 *
 * Speed: na_dot_product_attention runs the fused attention kernels (no
 * {seq, kv_seq} array; bias and mask read where they are) when nothing
 * needs the weights: no active dropout (rate 0 or deterministic), f32
 * inputs (after promotion) and the default axis names seq / kv_seq. Else,
 * and always for na_dot_product_attention_weights, the general path
 * materialises the logits and weights. Both give the same results to
 * float rounding (tests/test_attention_fn.c).
 *
 * Ownership: inputs (and the option arrays) are borrowed; *out is new.
 */
#ifndef NAMEDARR_ATTENTION_FN_H
#define NAMEDARR_ATTENTION_FN_H

#include <stdbool.h>
#include <stdint.h>

#include "namedarr/array.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default) /* the na_ API; the rest is hidden */

/* Flax's masked-out logit: the lowest finite float32. */
#define NA_DPA_MASKED_OUT (-3.4028234663852886e38)

typedef struct na_dpa_options {
    const na_array *bias;    /* f32/f64 named array added to the logits; NULL */
    const na_array *mask;    /* bool named array, false = masked out; NULL    */
    bool is_causal;          /* keep seq i, kv_seq j where i >= j (top-left)  */
    bool custom_scale;       /* use `scale` (0 allowed) instead of the default */
    double scale;            /* with custom_scale                              */
    double dropout_rate;     /* Flax default 0                                 */
    uint64_t dropout_seed;   /* Flax's dropout_rng                             */
    bool deterministic;      /* true: no dropout (Flax default false)          */
    bool independent_dropout;/* false (default): Flax broadcast_dropout=True,  */
                             /* one mask over {seq, kv_seq}; true: one keep    */
                             /* bit per weight (broadcast_dropout=False)       */
    const char *seq_axis;    /* NULL: "seq"                                    */
    const char *kv_axis;     /* NULL: "kv_seq"                                 */
    const char *projection_axis; /* NULL: "projection"                         */
} na_dpa_options;

/* The documented defaults (the same as a zero-initialised struct). */
na_dpa_options na_dpa_defaults(void);

/* q {batch..., seq, heads, projection}, k {batch..., kv_seq, heads, projection}
 *   -> weights {batch..., heads, seq, kv_seq}. opt NULL: defaults. */
na_status na_dot_product_attention_weights(const na_array *q, const na_array *k,
                                           const na_dpa_options *opt, na_array **out);

/* ... and v {batch..., kv_seq, heads, feature} -> {batch..., seq, heads, feature}. */
na_status na_dot_product_attention(const na_array *q, const na_array *k,
                                   const na_array *v, const na_dpa_options *opt,
                                   na_array **out);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
