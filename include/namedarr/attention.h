/* namedarr/attention.h — the Attention combinator (after Penzai), the
 * standard dot-product sublayers, Flax- and Keras-style builders and
 * KV-cache decoding.
 *
 * Attention holds five sublayers (children named exactly so) and calls
 *
 *   q = input_to_query(x, side)   k = input_to_key(x, side)
 *   v = input_to_value(x, side)
 *   a = query_key_to_attn((q, k), side)
 *   y = attn_value_to_output((a, v), side)
 *
 * Any sublayer may be a custom layer. In names, the standard layout is
 *   x {batch, seq, embedding}
 *   q {batch, seq, heads, projection}, k, v {batch, kv_seq, heads, projection}
 *   a {batch, heads, seq, kv_seq}  (scaled by projection**-0.5, masked,
 *                                   softmax over kv_seq)
 *   y {batch, seq, embedding}
 * Grouped-query attention: q carries {kv_heads, query_heads}, k and v
 * {kv_heads}; query head h = kv_head * (Hq/Hkv) + query_head uses key/value
 * head h / (Hq/Hkv). One kv head is multi-query attention.
 *
 *   na_mha_options o = {.num_heads = 4, .in_features = 64, .causal = true};
 *   na_layer *attn = NULL;
 *   na_mha_new(&o, &attn);                 // an ordinary Attention tree
 *   na_print_tree(attn, stdout, NULL);
 *   na_array *y = NULL;
 *   na_layer_call_array(attn, x, side, &y); // x {batch, seq, embedding:64}
 *
 * Inputs: a plain array is self-attention. A tuple (query input, key input,
 * value input) gives separate inputs: the builders select item
 * min(i, count - 1) for q (0), k (1) and v (2), so (q) is self-attention,
 * (q, kv) is cross-attention as in Flax. Keras order (query, value[, key])
 * is what na_gqa_new expects: the key defaults to the value.
 *
 * Ownership: constructors take ownership of the sublayers they are given
 * (on failure too); na_layer_free frees the whole tree.
 */
#ifndef NAMEDARR_ATTENTION_H
#define NAMEDARR_ATTENTION_H

#include <stdbool.h>
#include <stdint.h>

#include "namedarr/array.h"
#include "namedarr/layer.h"
#include "namedarr/layers.h"
#include "namedarr/masks.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default) /* the na_ API; the rest is hidden */

extern const na_layer_type na_attention_type;              /* "Attention"           */
extern const na_layer_type na_kv_cache_attention_type;     /* "KVCachingAttention"  */
extern const na_layer_type na_select_attention_input_type; /* "SelectAttentionInput" */
extern const na_layer_type na_attention_logits_type;       /* "AttentionLogits"     */
extern const na_layer_type na_attention_combine_type;      /* "AttentionCombine"    */

/* ---- the combinator ----------------------------------------------------- */

/* Takes ownership of the five sublayers (freed on failure). */
na_status na_attention_new(na_layer *input_to_query, na_layer *input_to_key,
                           na_layer *input_to_value, na_layer *query_key_to_attn,
                           na_layer *attn_value_to_output, na_layer **out);

/* Keep a reference to the attention weights of the last call (Flax's
 * sow of 'attention_weights'); read them with na_attention_weights. */
na_status na_attention_set_keep_weights(na_layer *attention, bool keep);
/* The weights kept by the last call (borrowed; NULL if none). */
const na_array *na_attention_weights(const na_layer *attention);
/* The fused path (on by default): when query_key_to_attn is the standard
 * Sequential(AttentionLogits, [TanhSoftCap], bias layers, mask layers,
 * Softmax or MaskedSoftmax over kv_seq) in that order (Flax's: scale,
 * logits, + bias, mask, softmax), attn_value_to_output starts with
 * AttentionCombine(kv_seq), the
 * arrays are f32, nobody keeps or returns the weights and no capture is
 * running, the call computes the weighted values with a tiled online
 * softmax (no {seq, kv_seq} buffer, fully masked tiles skipped) and then
 * runs the rest of attn_value_to_output. Same results and same tree; turn
 * it off to force the general path. Decode steps (a few query rows per
 * key/value head) run as matrix-vector loops that read the cache once. */
na_status na_attention_set_fused(na_layer *attention, bool allowed);
/* Which attention layers of a tree run fused, and why the others do not.
 * One entry per Attention / KVCachingAttention, in tree order:
 *
 *   na_fused_report r;
 *   na_fused_report_get(model, &r);
 *   for (int i = 0; i < r.count; i++)
 *       printf("%s: %s%s\n", r.entries[i].path,
 *              r.entries[i].fused ? "fused" : "general path: ",
 *              r.entries[i].reason);
 *   na_fused_report_free(&r);
 *
 * `fused` says whether the layer's sublayers and options qualify (the
 * standard chain; a TanhSoftCap before the masks, as in Gemma 2, and
 * ApplyAttentionBias / ApplyALiBiBias before the masks are fused too: the
 * bias arrays are read like the mask, ALiBi is computed in the kernels from
 * the slopes and positions); a qualifying layer can still take the general path for one call
 * (arrays not f32 or not in the standard layout, a capture running, no
 * keys): last_call and last_reason say how its most recent call ran. */
typedef enum na_fused_last {
    NA_FUSED_LAST_NONE,    /* not called since it was built       */
    NA_FUSED_LAST_FUSED,   /* the fused kernels                   */
    NA_FUSED_LAST_GENERAL  /* the general path (last_reason: why) */
} na_fused_last;

typedef struct na_fused_entry {
    char *path;              /* tree path, e.g. "blocks/3/attention" (owned) */
    const char *type;        /* "Attention" or "KVCachingAttention"          */
    bool fused;              /* the tree qualifies for the fused path        */
    char reason[256];        /* why not (empty when fused)                    */
    na_fused_last last_call; /* how the last call ran                         */
    char last_reason[256];   /* why it took the general path (else empty)     */
} na_fused_entry;

typedef struct na_fused_report {
    int count;
    na_fused_entry *entries; /* owned; na_fused_report_free */
} na_fused_report;

na_status na_fused_report_get(const na_layer *model, na_fused_report *out);
void na_fused_report_free(na_fused_report *report);

/* Return (y, a) instead of y (Keras's return_attention_scores). */
na_status na_attention_set_return_weights(na_layer *attention, bool on);
/* Returned weights in Keras's layout {batch, heads, seq, kv_seq}: the
 * grouped axes {kv_heads, query_heads} merged into one `heads` axis in
 * Keras's order (head = kv_head * (Hq/Hkv) + query_head), other axes first
 * (field merge_weight_heads). The kept weights keep their axes. */
na_status na_attention_set_merge_weight_heads(na_layer *attention, bool on);
/* Flax's per-call sow_weights=True: a call whose side inputs hold this key
 * set true (na_side_set_flag) keeps its weights like
 * na_attention_set_keep_weights, for that call (the general path runs). */
#define NA_SOW_WEIGHTS_KEY "sow_weights"

/* ---- standard sublayers ------------------------------------------------- */

/* SelectAttentionInput: item min(item, count - 1) of a tuple input (a
 * plain array is every item), and, if `rename_from` is an axis of it and
 * `rename_to` is not, rename it (the key/value paths turn seq into kv_seq).
 * rename_from/rename_to NULL: no rename. */
na_status na_select_attention_input_new(int item, const char *rename_from,
                                        const char *rename_to, na_layer **out);

/* AttentionLogits: (q, k) -> sum over `axis` of q * k, times `scale`
 * (scale 0: size(axis)**-0.5). axis NULL: "projection".
 *   (q {batch, seq, heads, projection}, k {batch, kv_seq, heads, projection})
 *     -> {batch, heads, seq, kv_seq} */
na_status na_attention_logits_new(const char *axis, double scale, na_layer **out);
/* A fixed scale, any finite value (0 and negative included), instead of
 * the automatic one (field custom_scale = true). */
na_status na_attention_logits_set_scale(na_layer *logits, double scale);

/* AttentionCombine: (a, v) -> sum over `axis` of a * v. axis NULL: "kv_seq".
 *   (a {batch, heads, seq, kv_seq}, v {batch, kv_seq, heads, projection})
 *     -> {batch, heads, seq, projection} */
na_status na_attention_combine_new(const char *axis, na_layer **out);

/* Zero fields take the defaults. */
typedef struct na_dot_product_options {
    bool custom_scale;            /* false: projection**-0.5 (Flax, Keras)   */
    double scale;                 /* with custom_scale: any finite value     */
    const char *mask_tag;         /* explicit mask from the side inputs      */
    bool mask_optional;           /* a missing mask_tag means no mask        */
    bool causal;                  /* add ApplyCausalMask                     */
    int64_t window;               /* sliding window (with causal); 0: none   */
    const char *query_positions_key; /* for the causal mask (defaults)      */
    const char *kv_positions_key;
    na_masked_rows masked_rows;   /* DEFAULT, UNIFORM: Softmax; ZERO:        */
                                  /* MaskedSoftmax                           */
    double masked_out_value;      /* 0: NA_MASKED_OUT_DEFAULT, unless        */
    bool custom_masked_out_value; /* true: masked_out_value as given, 0 too  */
                                  /* (then the fused path is not taken; a    */
                                  /* ZERO-rows MaskedSoftmax keeps its       */
                                  /* threshold only for a negative value)    */
    double dropout_rate;          /* > 0: Dropout on the weights             */
    const char *const *dropout_shared; /* axes sharing one dropout mask       */
    uint64_t seed;                /* dropout seed                            */
    double soft_cap;              /* > 0: TanhSoftCap(soft_cap) right after  */
                                  /* AttentionLogits; 0: none                */
    const char *bias_tag;         /* additive bias from the side inputs      */
                                  /* (ApplyAttentionBias); NULL/"": none     */
    bool bias_optional;           /* a missing bias_tag means no bias        */
    const na_alibi_options *alibi;/* ApplyALiBiBias (copied); NULL: none     */
    const char *const *padding_mask_tags; /* NULL-terminated: more optional  */
                                  /* ApplyAttentionMask layers after         */
                                  /* mask_tag (Keras's query/value/key masks)*/
} na_dot_product_options;

/* The standard query_key_to_attn: Sequential(AttentionLogits(projection),
 * [TanhSoftCap], [ApplyAttentionBias], [ApplyALiBiBias],
 * [ApplyAttentionMask], [ApplyCausalMask], Softmax or MaskedSoftmax over
 * kv_seq, [Dropout]) — Flax's order: logits, bias, mask, softmax, dropout.
 * opt NULL: all defaults (no mask). */
na_status na_dot_product_attn_new(const na_dot_product_options *opt, na_layer **out);

/* ---- builders ------------------------------------------------------------ */

/* Rotary position embeddings (both builders, `rotary` non-NULL; copied).
 * ApplyRoPE (rotating a fraction of projection when asked) goes inside the
 * query and key paths in Penzai's order: select the input, project,
 * [normalise], rotate along projection, and — on the key path — only then
 * rename seq to kv_seq, so the one positions side input
 * (rotary->positions_key, default "token_positions", {batch, seq}) serves
 * both paths and the causal mask. Self-attention only (the key input must
 * have the queries' seq). */

/* Options convention (both builders): every field's zero value is the
 * documented default of Flax's MultiHeadDotProductAttention or Keras's
 * GroupQueryAttention, so `(na_mha_options){.num_heads = 8, .in_features =
 * 512}` is Flax's MultiHeadDotProductAttention(num_heads=8) on 512 features.
 * Where the default is "on", the field says "off" (no_bias,
 * independent_dropout); a value whose legitimate setting is 0 has a flag
 * (custom_scale); initializers are pointers, NULL for the default. The
 * fully-masked-row policy is `masked_rows` in both (NA_MASKED_ROWS_DEFAULT:
 * the framework's own policy).
 *
 * Initializers. An na_init fills each parameter from the options' seed
 * (each parameter draws from na_init_seed_for(seed, its label)). Flax's
 * DenseGeneral flattens the kernel to (prod(input axes), prod(feature
 * axes)) before its initializer runs, so fan_in is the product of the input
 * axes: embedding for the query/key/value kernels, heads x projection for
 * the output kernel — the library's own rule (init.h). Keras's EinsumDense
 * passes the kernel's einsum shape, whose fans are (shape[-2] * r,
 * shape[-1] * r) with r the product of the leading dims: query kernel
 * (embedding, query heads, head_dim) has fan_in = heads * embedding and
 * fan_out = head_dim * embedding; output kernel (query heads, head_dim,
 * embedding) has fan_in = head_dim * heads, fan_out = embedding * heads;
 * a bias (heads, head_dim) has fans (heads, head_dim), a bias (embedding,)
 * both = embedding. na_gqa_new uses those fans (na_init.fan_in/fan_out). */

/* Flax-style multi-head attention (flax.linen.MultiHeadDotProductAttention).
 * Zero fields take Flax's defaults, listed on the right. */
typedef struct na_mha_options {
    int num_heads;                /* required, > 0          (Flax: required) */
    int64_t in_features;          /* required: size of the feature axis      */
                                  /* (Flax infers it from the input)         */
    int64_t qkv_features;         /* 0: in_features (None); divisible by     */
                                  /* num_heads                               */
    int64_t out_features;         /* 0: in_features         (None)           */
    int num_kv_heads;             /* 0: num_heads (MHA, axis `heads`); else  */
                                  /* GQA axes kv_heads/query_heads; divides  */
                                  /* num_heads                               */
    int64_t in_kv_features;       /* 0: in_features (cross-attention inputs) */
    bool no_bias;                 /* false: biases    (use_bias=True)        */
    bool normalize_qk;            /* LayerNorm over projection on q and k    */
                                  /*                  (normalize_qk=False)   */
    double dropout_rate;          /* on the weights   (dropout_rate=0.0)     */
    bool independent_dropout;     /* false: one mask over (seq, kv_seq)      */
                                  /* shared by every batch index and head    */
                                  /*                  (broadcast_dropout=True)*/
    bool capture_weights;         /* keep the last weights (sow_weights=False)*/
    bool causal;                  /* position-based causal mask (Flax: pass  */
                                  /* make_causal_mask as the mask)           */
    const char *mask_tag;         /* optional explicit mask; default          */
                                  /* NA_ATTN_MASK_KEY ("" for none) (mask)   */
    bool custom_scale;            /* false: projection**-0.5 (Flax's         */
    double scale;                 /* dot_product_attention); with            */
                                  /* custom_scale any finite value, 0 too    */
    na_masked_rows masked_rows;   /* DEFAULT = UNIFORM (Flax, finfo.min)     */
    const char *name;             /* parameter label prefix; "attention"     */
    const char *features_axis;    /* default "embedding"                     */
    uint64_t seed;                /* weights and dropout (Flax: the rngs)    */
    const na_rope_options *rotary;/* RoPE on queries and keys (see below);   */
                                  /* NULL: none                              */
    int64_t sliding_window;       /* with causal: keep q_pos - kv_pos <      */
                                  /* window; 0: none                         */
    double logit_soft_cap;        /* > 0: TanhSoftCap on the scaled logits   */
                                  /* (Gemma 2); 0: none                      */
    const char *bias_tag;         /* optional additive bias from the side    */
                                  /* inputs (Flax's bias); NULL: none        */
    bool alibi;                   /* ALiBi from the positions (masks.h)      */
    const na_init *kernel_init;   /* NULL: lecun_normal, i.e. variance       */
                                  /* scaling 1.0, fan_in, truncated normal   */
                                  /*                  (default_kernel_init)  */
    const na_init *out_kernel_init; /* NULL: kernel_init (out_kernel_init=None)*/
    const na_init *bias_init;     /* NULL: zeros      (bias_init=zeros)      */
    const na_init *out_bias_init; /* NULL: bias_init  (out_bias_init=None)   */
} na_mha_options;

na_status na_mha_new(const na_mha_options *opt, na_layer **out);

/* Flax's decode=True with init_cache(input_shape): turn the Attention at
 * *attention (from na_mha_new, taken over) into its caching form with a
 * cache of `batch` rows and `max_length` slots, allocated now (keys and
 * values {batch, kv_seq:max_length, heads..., projection}, the index at
 * 0). Each later call writes its tokens at the cache index and attends to
 * the filled slots (Flax's mask arange(max_length) <= cur_index), so steps
 * of one token reproduce the full causal call. Flax requires one token per
 * decode step; namedarr also takes a prefill of several (causal among
 * them). On failure *attention is freed and set to NULL. */
na_status na_mha_init_cache(na_layer **attention, int64_t batch, int64_t max_length);
/* (na_mha_init_cache_ex, with every cache option, follows na_kv_cache_options.) */

/* Flax's per-call overrides, as side inputs (na_side_set_flag):
 *   NA_DETERMINISTIC_KEY ("deterministic") true: no dropout for this call;
 *   NA_SOW_WEIGHTS_KEY ("sow_weights") true: keep this call's weights
 *   (na_attention_weights), as sow_weights=True;
 *   NA_DECODE_KEY ("decode") false on a KVCachingAttention (a cache from
 *   na_mha_init_cache or na_attention_to_kv_cache): Flax's
 *   __call__(..., decode=False) overriding the module's decode=True — the
 *   layer runs as a plain Attention over the given inputs and side inputs
 *   and leaves its cache, end index and positions untouched. Where
 *   namedarr differs: its query_key_to_attn always holds an
 *   ApplyCausalMask (conversion inserts one), so such a call is causal over
 *   the inputs (positions from the side inputs, else 0, 1, ...), where
 *   Flax applies only the mask passed to the call. */
#define NA_DECODE_KEY "decode"

/* Keras-style grouped-query attention (keras.layers.GroupQueryAttention).
 * Input: the query array alone (self-attention) or a tuple (query,
 * value[, key]) — the key defaults to the value. Zero fields take Keras's
 * defaults, listed on the right. */
typedef struct na_gqa_options {
    int64_t head_dim;             /* required                                */
    int num_query_heads;          /* required                                */
    int num_key_value_heads;      /* required; divides num_query_heads       */
    int64_t query_features;       /* required: the query's feature size      */
    int64_t value_features;       /* 0: query_features                       */
    int64_t key_features;         /* 0: value_features                       */
    int64_t output_features;      /* 0: query_features                       */
    bool no_bias;                 /* false: biases    (use_bias=True)        */
    double dropout;               /* on the weights   (dropout=0.0)          */
    bool use_causal_mask;         /*                  (use_causal_mask=False)*/
    int64_t sliding_window;       /* with use_causal_mask; 0: none           */
    bool return_attention_scores; /* output (y, weights)                     */
                                  /*          (return_attention_scores=False)*/
    const char *mask_tag;         /* optional explicit mask; default          */
                                  /* NA_ATTN_MASK_KEY ("" for none)          */
                                  /*                  (attention_mask)       */
    na_masked_rows masked_rows;   /* DEFAULT = ZERO: a fully masked row gets */
                                  /* zero weights (Keras's masked softmax)   */
    const char *name;             /* default "attention"                     */
    const char *features_axis;    /* default "embedding"                     */
    uint64_t seed;
    const na_rope_options *rotary;/* RoPE on queries and keys; NULL: none    */
    const char *bias_tag;         /* optional additive bias from the side    */
                                  /* inputs; NULL: none                      */
    bool alibi;                   /* ALiBi from the positions (masks.h)      */
    const na_init *kernel_initializer; /* NULL: glorot_uniform (Keras), with */
                                  /* Keras's einsum-dense fans (above)       */
    const na_init *bias_initializer;   /* NULL: zeros (Keras)                */
    bool keras_scores_layout;     /* returned scores {batch, heads, seq,     */
                                  /* kv_seq}, query heads merged in Keras's  */
                                  /* order; false: {batch, kv_heads,         */
                                  /* query_heads, seq, kv_seq}               */
} na_gqa_options;

/* Keras's call-time padding masks, read by na_gqa_new's trees from the
 * side inputs when present (bool, true = a real token), combined as
 * Keras's _compute_attention_mask does: attention_mask & query_mask[:, :,
 * None] & value_mask[:, None, :] & key_mask[:, None, :] & causal.
 *   query_mask {batch, seq}, value_mask and key_mask {batch, kv_seq}
 * (name the value/key masks' axis kv_seq: a `seq` axis there would be the
 * queries'). Keras applies key_mask whenever it is given. A query row
 * whose mask is false masks every key: with Keras's default policy
 * (masked_rows ZERO: Keras's Softmax multiplies by the mask since keras PR 21149, April 2025)
 * its weights are 0 and its output is the output projection's bias. */
#define NA_QUERY_MASK_KEY "query_mask"
#define NA_VALUE_MASK_KEY "value_mask"
#define NA_KEY_MASK_KEY "key_mask"

na_status na_gqa_new(const na_gqa_options *opt, na_layer **out);

/* ---- KV caching ------------------------------------------------------------ */

/* Zero fields take the defaults. */
typedef struct na_kv_cache_options {
    int64_t capacity;             /* required: cache length along kv_seq     */
    int64_t batch_size;           /* > 0: allocate the cache now, with this  */
                                  /* many rows (the layer can be printed and */
                                  /* saved with its state before any call);  */
                                  /* 0: at the first call, shaped like it    */
    const char *batch_axis;       /* default "batch"                         */
    const char *end_index_key;    /* side input overriding the end index;    */
                                  /* default "cache_end_index"               */
    const char *query_positions_key; /* default NA_QUERY_POSITIONS_KEY       */
    const char *kv_positions_key;    /* default NA_KV_POSITIONS_KEY          */
    const char *label;            /* state label prefix; default "attention" */
    na_dtype dtype;               /* storage of keys and values: NA_BF16    */
                                  /* (half the bytes a decode step reads;   */
                                  /* each row rounded to nearest even once, */
                                  /* when written) or NA_F32 (zero, the     */
                                  /* default): the keys' own dtype (f32, or */
                                  /* f64 for an f64 model)                  */
} na_kv_cache_options;

/* KVCachingAttention: the five sublayers plus a cache that keeps its own
 * place. State (labels "<label>.cache_keys", ".cache_values",
 * ".cache_positions", ".cache_end_index"):
 *   keys, values {batch, kv_seq:capacity, heads..., projection}
 *   positions    {batch, kv_seq:capacity} i32, -1 for an empty slot
 *   end index    i32 scalar: how many slots are filled
 * Keys, values and positions are allocated when the layer is made if
 * opt->batch_size > 0 and the key and value paths project with a Linear or
 * Affine (the builders' trees), else at the first call; never reallocated.
 * A call with n new tokens x {batch, seq:n, ...}:
 *   1. end = the end index (side[end_index_key] overrides it);
 *      end + n > capacity is an error;
 *   2. positions {batch, seq:n} = side[query_positions_key] if given (a
 *      negative position marks left padding), else each row continues
 *      after its last cached position (1 + max, or 0 for an empty row);
 *      they are put in the side inputs for the sublayers (RoPE, masks);
 *   3. q, k, v from the input sublayers; k, v and the positions are
 *      written at [end, end + n);
 *   4. attention runs over cache[0 : end + n] with the cache's positions
 *      in side[kv_positions_key]: the causal mask in query_key_to_attn
 *      masks empty slots, padding and the future;
 *   5. the end index becomes end + n.
 * So a decode step needs only the new tokens; prefill with left-padded
 * rows passes the positions (-1 for padding) once. query_key_to_attn must
 * contain an ApplyCausalMask (conversion inserts one). */
na_status na_kv_cache_attention_new(na_layer *input_to_query, na_layer *input_to_key,
                                    na_layer *input_to_value,
                                    na_layer *query_key_to_attn,
                                    na_layer *attn_value_to_output,
                                    const na_kv_cache_options *opt, na_layer **out);

/* na_mha_init_cache with every cache option: opt->batch_size rows (> 0)
 * and opt->capacity slots (max_length); opt->dtype = NA_BF16 for a bf16
 * cache (namedarr's addition: Flax's cache takes the dtype of the keys). */
na_status na_mha_init_cache_ex(na_layer **attention, const na_kv_cache_options *opt);

/* The caching form of an Attention (taken over: its sublayers move, it is
 * freed, on failure too). If query_key_to_attn has no ApplyCausalMask,
 * one is inserted before its softmax (it must then be a Sequential with a
 * Softmax or MaskedSoftmax child). */
na_status na_kv_cache_from_attention(na_layer *attention, const na_kv_cache_options *opt,
                                     na_layer **out);

/* Convert every Attention in the tree at *root (the root included) into
 * its caching form; labels are "<path>.cache_keys" etc. (opt->label is
 * used for an Attention at the root). How many: *out (may be NULL). */
na_status na_attention_to_kv_cache(na_layer **root, const na_kv_cache_options *opt,
                                   int *out);

/* Forget every cached token (end index 0, positions -1). */
na_status na_kv_cache_reset(na_layer *layer);
/* Keep the first `length` tokens (0 <= length <= cached), forget the rest:
 * for speculative decoding or beam search. */
na_status na_kv_cache_rewind(na_layer *layer, int64_t length);
int64_t na_kv_cache_capacity(const na_layer *layer);  /* -1: not a cache */
int64_t na_kv_cache_length(const na_layer *layer);    /* tokens cached   */
/* The positions the next n tokens get when no positions are given:
 * {batch, seq:n} (or {seq:n} before anything is cached), i32. */
na_status na_kv_cache_next_positions(const na_layer *layer, int64_t n, na_array **out);
/* The same for every KVCachingAttention in a tree (*out: how many,
 * may be NULL). Rewind checks every cache before changing any. */
na_status na_tree_kv_cache_reset(na_layer *root, int *out);
na_status na_tree_kv_cache_rewind(na_layer *root, int64_t length, int *out);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
