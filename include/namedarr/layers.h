/* namedarr/layers.h — the standard layers, after Penzai: linear maps,
 * normalisation, activations, dropout, embeddings and rotary positions.
 *
 * Every layer follows the protocol of namedarr/layer.h: call it with
 * na_layer_call, free it with na_layer_free. Constructors return a status
 * and hand the new layer to `*out` (on failure *out is NULL).
 *
 * Constructors with many settings come in two forms (BLIS's bli_gemm /
 * bli_gemm_ex): a basic call with the common arguments, and an `_ex` call
 * taking an options struct in which every zeroed field is the documented
 * default (so `{.name = ..., .in = ...}` is enough). The `_ex` forms:
 * na_linear_new_ex, na_affine_new_ex (na_linear_options: parallel axes,
 * initializers), na_add_bias_new_ex (na_add_bias_options: initializer),
 * na_layer_norm_new_ex, na_rms_layer_norm_new_ex (na_norm_options: no bias,
 * eps, which may be 0), na_embedding_table_new_ex (na_embedding_options:
 * initializer). Constructors with one to three settings (Dropout,
 * ApplyRoPE's options pointer, Softmax, ...) have one form only.
 *
 * Layers with weights take a `name`:
 * their parameters are labelled "<name>.weights", "<name>.bias",
 * "<name>.scale", "<name>.embeddings"; and a `seed`: each parameter is
 * drawn from na_init_seed_for(seed, label), so one seed may serve a whole
 * model. Parameters are f32.
 *
 *   // x: {batch, seq, embedding:64} -> {batch, seq, heads:4, projection:16}
 *   na_layer *q = NULL;
 *   na_linear_new("attn/query", NA_DIMS({"embedding", 64}),
 *                 NA_DIMS({"heads", 4}, {"projection", 16}), 42, &q);
 *   na_array *y = NULL;                          // weights: xavier uniform
 *   na_layer_call_array(q, x, NULL, &y);
 *
 *   // the same with a LeCun-normal kernel, through the options:
 *   na_init lecun = na_init_lecun_normal();
 *   na_linear_options o = {.name = "attn/query",
 *                          .n_in = 1, .in = (na_dim[]){{"embedding", 64}},
 *                          .n_out = 2, .out = (na_dim[]){{"heads", 4},
 *                                                        {"projection", 16}},
 *                          .init = &lecun, .seed = 42};
 *   na_linear_new_ex(&o, &q);
 *
 * Axis lists are NULL-terminated name lists (NA_NAMES("a", "b")) or dim
 * lists given as a count and an array (NA_DIMS({"a", 2}, {"b", 3}); an
 * empty list is 0, NULL). Names and strings are copied.
 *
 * Errors at call time name the layer type, the axes and the input's named
 * shape ("Linear: input f32[batch:1, baz:7] lacks input axis 'foo'
 * (weights 'up.weights' f32[foo:3, bar:5, baz:7])"). Inputs must have
 * named axes only unless a layer says otherwise.
 */
#ifndef NAMEDARR_LAYERS_H
#define NAMEDARR_LAYERS_H

#include <stdbool.h>
#include <stdint.h>

#include "namedarr/array.h"
#include "namedarr/init.h"
#include "namedarr/layer.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default) /* the na_ API; the rest is hidden */

/* The layer types, for na_layer_is and selection by type. */
extern const na_layer_type na_linear_type;            /* "Linear"            */
extern const na_layer_type na_add_bias_type;          /* "AddBias"           */
extern const na_layer_type na_affine_type;            /* "Affine"            */
extern const na_layer_type na_named_einsum_type;      /* "NamedEinsum"       */
extern const na_layer_type na_rename_axes_type;       /* "RenameAxes"        */
extern const na_layer_type na_constant_rescale_type;  /* "ConstantRescale"   */
extern const na_layer_type na_standardize_type;       /* "Standardize"       */
extern const na_layer_type na_layer_norm_type;        /* "LayerNorm"         */
extern const na_layer_type na_rms_standardize_type;   /* "RMSStandardize"    */
extern const na_layer_type na_rms_layer_norm_type;    /* "RMSLayerNorm"      */
extern const na_layer_type na_softmax_layer_type;     /* "Softmax"           */
extern const na_layer_type na_elementwise_type;       /* "Elementwise"       */
extern const na_layer_type na_tanh_soft_cap_type;     /* "TanhSoftCap"       */
extern const na_layer_type na_cast_to_dtype_type;     /* "CastToDType"       */
extern const na_layer_type na_dropout_type;           /* "Dropout"           */
extern const na_layer_type na_embedding_lookup_type;  /* "EmbeddingLookup"   */
extern const na_layer_type na_embedding_decode_type;  /* "EmbeddingDecode"   */
extern const na_layer_type na_apply_rope_type;        /* "ApplyRoPE"         */
extern const na_layer_type na_apply_rope_subset_type; /* "ApplyRoPEToSubset" */

/* ---- linear maps (linear.c) ------------------------------------------- */

/* Linear: contract the input's `in` axes with a weight
 * {in..., out..., parallel...} (label "<name>.weights"; NULL init: xavier
 * uniform over in/out fans). Parallel axes present in the input are
 * vectorised over (one operator per slice); parallel axes absent from the
 * input appear in the output (Penzai's parallel_broadcast_axes).
 *
 *   x: {batch, in...[, parallel...]} -> {batch, out..., parallel...}
 *
 * An output name that is also an input name works "in place", as Penzai's
 * LinearInPlace: the weight holds it as "<name>_out" and the result is
 * renamed back, so in {foo:3} -> out {foo:5} maps foo:3 to foo:5. */
na_status na_linear_new(const char *name, int n_in, const na_dim *in, int n_out,
                        const na_dim *out_dims, uint64_t seed, na_layer **out);

/* Options of na_linear_new_ex and na_affine_new_ex (zeroed = default). */
typedef struct na_linear_options {
    const char *name;             /* label prefix (required)                 */
    int n_in;                     /* input axes, contracted                  */
    const na_dim *in;
    int n_out;                    /* output axes, new in the result          */
    const na_dim *out;
    int n_parallel;               /* parallel axes; 0: none                  */
    const na_dim *parallel;
    const na_init *init;          /* weights; NULL: xavier uniform           */
    const na_init *bias_init;     /* Affine's bias; NULL: zeros (a Linear
                                     has no bias: an error if set)           */
    uint64_t seed;                /* base seed; 0 is a seed like any other   */
} na_linear_options;
na_status na_linear_new_ex(const na_linear_options *opt, na_layer **out);
/* A Linear over an existing weight (retained): `in_names` are contracted,
 * `out_names` are new in the output, every other weight axis is parallel.
 * The two lists must be disjoint and name axes of the weight. */
na_status na_linear_from_param(na_param *weights, const char *const *in_names,
                               const char *const *out_names, na_layer **out);
/* The weight parameter (borrowed), or NULL if `layer` is not a Linear. */
na_param *na_linear_weights(const na_layer *layer);

/* AddBias: y = x + bias, bias {biased...} (label "<name>.bias"; NULL
 * init: zeros). The input must have every biased axis. */
na_status na_add_bias_new(const char *name, int n, const na_dim *biased,
                          na_layer **out);
/* Options of na_add_bias_new_ex (zeroed = default). */
typedef struct na_add_bias_options {
    const char *name;             /* label prefix (required)                 */
    int n_biased;                 /* the bias's axes                         */
    const na_dim *biased;
    const na_init *init;          /* NULL: zeros                             */
    uint64_t seed;                /* for a random init                       */
} na_add_bias_options;
na_status na_add_bias_new_ex(const na_add_bias_options *opt, na_layer **out);

/* Affine: Linear then AddBias over the output and parallel axes; children
 * "linear" and "bias", labels "<name>.weights" and "<name>.bias". */
na_status na_affine_new(const char *name, int n_in, const na_dim *in, int n_out,
                        const na_dim *out_dims, uint64_t seed, na_layer **out);
/* With parallel axes (the bias then covers output and parallel axes) and
 * initializers: init for the weights, bias_init for the bias. */
na_status na_affine_new_ex(const na_linear_options *opt, na_layer **out);

/* NamedEinsum: na_einsum(spec) over the input tuple (or the one array when
 * the spec has one input), e.g.
 *   "foo:i bar:i baz:j, foo:j qux:k -> x:i y:k z:j"
 * The number of inputs in the spec is checked against the input. */
na_status na_named_einsum_new(const char *spec, na_layer **out);

/* RenameAxes: old[i] -> new_names[i] (simultaneous; lists of equal length). */
na_status na_rename_axes_new(const char *const *old, const char *const *new_names,
                             na_layer **out);

/* ConstantRescale: y = x * by. */
na_status na_constant_rescale_new(double by, na_layer **out);

/* ---- normalisation (norm.c) ------------------------------------------- */

#define NA_NORM_DEFAULT_EPS 1e-6

/* Standardize: (x - mean) / sqrt(var + eps) over the named axes (jointly).
 * RMSStandardize: x / sqrt(mean(x^2) + eps). The shape stays. */
na_status na_standardize_new(const char *const *across, na_layer **out);
na_status na_rms_standardize_new(const char *const *across, na_layer **out);

/* LayerNorm: Standardize over `across`, times a learned scale
 * {across...} ("<name>.scale", ones), plus a learned bias ("<name>.bias",
 * zeros), as Penzai's and Flax's LayerNorm. RMSLayerNorm: RMSStandardize
 * times a scale. eps NA_NORM_DEFAULT_EPS. */
na_status na_layer_norm_new(const char *name, int n, const na_dim *across,
                            na_layer **out);
na_status na_rms_layer_norm_new(const char *name, int n, const na_dim *across,
                                na_layer **out);
/* Options of na_layer_norm_new_ex and na_rms_layer_norm_new_ex (zeroed =
 * default). */
typedef struct na_norm_options {
    const char *name;             /* label prefix (required)                 */
    int n_across;                 /* normalised axes (jointly)               */
    const na_dim *across;
    bool no_bias;                 /* LayerNorm without its bias (Flax's
                                     use_bias=False); RMSLayerNorm has none  */
    bool custom_eps;              /* false: NA_NORM_DEFAULT_EPS              */
    double eps;                   /* with custom_eps: any value >= 0         */
} na_norm_options;
na_status na_layer_norm_new_ex(const na_norm_options *opt, na_layer **out);
na_status na_rms_layer_norm_new_ex(const na_norm_options *opt, na_layer **out);

/* eps of any of the four (default NA_NORM_DEFAULT_EPS); eps >= 0. */
na_status na_norm_set_eps(na_layer *layer, double eps);
double na_norm_eps(const na_layer *layer); /* NaN if not a norm layer */

/* ---- activations and friends (activation.c) ---------------------------- */

/* Softmax over the named axes (jointly). */
na_status na_softmax_layer_new(const char *const *across, na_layer **out);
/* Elementwise: y = op(x) for a na_unary_op (NA_RELU, NA_GELU (exact, erf),
 * NA_GELU_TANH, NA_SILU, NA_SIGMOID, NA_TANH, ...). Positional axes are
 * allowed. */
na_status na_elementwise_new(na_unary_op op, na_layer **out);
/* The printable name of a unary op ("gelu_tanh"). */
const char *na_unary_op_name(na_unary_op op);
/* TanhSoftCap: y = cap * tanh(x / cap), cap > 0. */
na_status na_tanh_soft_cap_new(double cap, na_layer **out);
/* CastToDType: y = x converted to `dtype`. */
na_status na_cast_to_dtype_new(na_dtype dtype, na_layer **out);

/* ---- dropout (dropout.c) ----------------------------------------------- */

/* Dropout: zero each element with probability `rate` and scale the kept
 * ones by 1 / (1 - rate); rate in [0, 1). The mask is shared (broadcast)
 * along the axes in `shared` (NULL: none), e.g. NA_NAMES("seq") drops
 * whole feature channels for every position; a shared name the input
 * lacks is ignored, as in Penzai. Masks come from the
 * counter-based generator: the k-th call (k = 0, 1, ...) of a layer uses
 * stream na_init_seed_for(seed, "dropout/<k>"), so a run is reproducible.
 * A disabled layer, or rate 0, is the identity (no call counted), and so
 * is a call whose side inputs hold NA_DETERMINISTIC_KEY set true (Flax's
 * per-call deterministic=True; na_side_set_flag). */
#define NA_DETERMINISTIC_KEY "deterministic"
na_status na_dropout_new(double rate, const char *const *shared, uint64_t seed,
                         na_layer **out);
na_status na_dropout_set_enabled(na_layer *layer, bool enabled);
/* Restart the stream: the next call is call 0 of `seed`. */
na_status na_dropout_reset(na_layer *layer, uint64_t seed);

/* ---- embeddings (embedding.c) ------------------------------------------ */

/* The embedding table: a parameter {vocab_axis:vocab_size, embedding...}
 * labelled "<name>.embeddings" (NULL init: normal with variance
 * 1 / prod(embedding sizes), the vocabulary counted as a parallel axis).
 * The caller owns the returned reference: hand it to lookup and decode
 * layers (which retain it) and release yours. */
na_status na_embedding_table_new(const char *name, const char *vocab_axis,
                                 int64_t vocab_size, int n, const na_dim *embedding,
                                 uint64_t seed, na_param **out);
/* Options of na_embedding_table_new_ex (zeroed = default). */
typedef struct na_embedding_options {
    const char *name;             /* label prefix (required)                 */
    const char *vocab_axis;       /* required, e.g. "vocab"                  */
    int64_t vocab_size;
    int n_embedding;              /* the row's axes                          */
    const na_dim *embedding;
    const na_init *init;          /* NULL: the default above                 */
    uint64_t seed;
} na_embedding_options;
na_status na_embedding_table_new_ex(const na_embedding_options *opt, na_param **out);

/* EmbeddingLookup: ids (i32, named axes) -> table rows.
 *   ids: {batch, seq} -> {embedding..., batch, seq}
 * Ids outside [0, vocab_size) are an error. */
na_status na_embedding_lookup_new(na_param *table, const char *vocab_axis,
                                  na_layer **out);
/* EmbeddingDecode: contract the embedding axes with the table, giving
 * logits over the vocabulary (tied embeddings):
 *   x: {batch, seq, embedding...} -> {batch, seq, vocab_axis} */
na_status na_embedding_decode_new(na_param *table, const char *vocab_axis,
                                  na_layer **out);

/* ---- rotary position embedding (rope.c) -------------------------------- */

/* Zero fields take the defaults. */
typedef struct na_rope_options {
    const char *positions_key;  /* side input with the positions;
                                   default "token_positions"                 */
    double max_wavelength;      /* rope_theta; default 10000                 */
    double scale_factor;        /* positions are divided by it (Hugging
                                   Face's "linear" rope_scaling); default 1  */
    double fraction;            /* rotate the first floor(D * fraction)
                                   features (rounded down to even; Hugging
                                   Face's partial_rotary_factor); 0: 1       */
    /* Llama 3 frequency scaling (rope_scaling {"rope_type": "llama3"}),
     * on when llama3_factor > 0: with wavelength w_i = 2 pi / f_i, keep f_i
     * when w_i < original / high_freq_factor, use f_i / factor when
     * w_i > original / low_freq_factor, and in between blend
     * (1 - s) f_i / factor + s f_i, s = (original / w_i - low) / (high - low). */
    double llama3_factor;
    double llama3_low_freq_factor;   /* default 1                            */
    double llama3_high_freq_factor;  /* default 4                            */
    double llama3_original_max_position; /* default 8192                     */
    /* When the positions side input is absent: arange along this axis of
     * the input (the attention builders use "seq", as the causal mask
     * does); NULL: a missing side input is an error (Penzai). */
    const char *default_positions_axis;
} na_rope_options;

/* ApplyRoPE, half-split ("rotate half") form as in Llama and Gemma: with
 * D = size of `axis` (or the rotated part, see fraction), x1 = x[axis, :D/2],
 * x2 = x[axis, D/2:], f_i = 1 / max_wavelength^(2i/D) (Llama 3 scaled when
 * asked), theta_i = (pos / scale_factor) f_i, i < D/2:
 *   y[:D/2] = x1 cos(theta) - x2 sin(theta)
 *   y[D/2:] = x2 cos(theta) + x1 sin(theta)
 * Positions (i32 or f32, named axes, a subset of the input's other axes,
 * e.g. {batch, seq}) come from the side input. D must be even. */
na_status na_apply_rope_new(const char *axis, const na_rope_options *opt,
                            na_layer **out);
/* The subset variant (GPT-NeoX's rotary_pct): rotate only the first
 * `rope_size` features of `axis` (even, 0 < rope_size <= D; D above is
 * rope_size) and pass the rest through. */
na_status na_apply_rope_subset_new(const char *axis, int64_t rope_size,
                                   const na_rope_options *opt, na_layer **out);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
