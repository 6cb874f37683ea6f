/* namedarr/array.h — the named array: one type, an optional name per axis.
 *
 * An na_array is a strided view (shape, strides in elements, offset) of a
 * reference-counted storage block. Each dimension is either *named* (it is
 * then addressed only by its name) or *positional* (addressed by its place
 * among the positional dimensions). Views (tag, untag, rename, order_as,
 * slicing, broadcasting, diagonals) share the storage; nothing is copied.
 *
 * Binary operations line operands up by name: the result carries the union
 * of both operands' names in order of first appearance, the same name must
 * have the same size on both sides (size-1 named axes do NOT stretch, as in
 * Penzai), and positional axes broadcast among themselves as in numpy.
 *
 * Ownership: every function that produces an array hands the caller a new
 * na_array* that the caller releases with na_array_free(). Inputs are
 * borrowed and never modified (functional style; at_set returns a new array).
 *
 *   na_array *x = NULL, *y = NULL;
 *   na_arange(NULL, 30, NA_F32, &x);                         // positional (30)
 *   na_reshape(x, 3, (int64_t[]){2, 3, 5}, &y);              // (2, 3, 5)
 *   na_array_free(x);
 *   na_tag(y, NA_NAMES("foo", "bar", "baz"), &x);            // {foo:2, bar:3, baz:5}
 *   na_array_print(x, stdout);
 *
 * Name lists are NULL-terminated arrays of C strings; NA_NAMES(...) builds
 * one in place. Names are interned on first use (see na_intern).
 */
#ifndef NAMEDARR_ARRAY_H
#define NAMEDARR_ARRAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "namedarr/status.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default) /* the na_ API; the rest is hidden */

#define NA_MAX_DIMS 16

/* The most elements one array may hold (2^48, counting a size-0 axis as 1
 * so that strides stay bounded). A constructor, view or reshape whose shape
 * passes it, or whose size product overflows, fails with NA_ERR_SHAPE and a
 * message naming the operation and the shape; an allocation the system
 * refuses is NA_ERR_NO_MEMORY. */
#define NA_MAX_ELEMENTS ((int64_t)1 << 48)

/* A NULL-terminated list of axis names, built in place. */
#define NA_NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Element types. NA_BF16 is a storage type: bfloat16 (the top 16 bits of
 * an f32: sign, 8 exponent bits, 7 mantissa bits), held as uint16_t.
 * Operations on bf16 compute in f32 and round the result back to bf16
 * (elementwise ops, reductions, softmax); contractions accept bf16
 * operands and accumulate in f32 (bf16 x bf16 gives bf16, bf16 x f32 gives
 * f32). Promotion: bool < i32 < bf16 < f32 < f64. */
typedef enum na_dtype { NA_F32 = 0, NA_F64, NA_I32, NA_BOOL, NA_BF16 } na_dtype;

/* One dimension of a shape: name (NULL for positional) and size. */
typedef struct na_dim {
    const char *name;
    int64_t size;
} na_dim;

/* A count and an array literal of na_dim, for the constructors:
 *   na_zeros(NA_F32, NA_DIMS({"seq", 8}, {"heads", 4}), &x);          */
#define NA_DIMS(...)                                                         \
    (int)(sizeof((na_dim[]){__VA_ARGS__}) / sizeof(na_dim)), (na_dim[]){__VA_ARGS__}

typedef struct na_storage na_storage; /* opaque, reference counted */

/* The array header. Fields are public for reading (printers, kernels,
 * custom layers); create and change arrays only through the API. */
typedef struct na_array {
    na_storage *storage;
    na_dtype dtype;
    int ndim;
    int64_t offset;                    /* in elements, from the storage base */
    int64_t shape[NA_MAX_DIMS];
    int64_t stride[NA_MAX_DIMS];       /* in elements; 0 for broadcast axes  */
    const char *name[NA_MAX_DIMS];     /* interned name, NULL = positional   */
} na_array;

/* ---- axis names ------------------------------------------------------ */

/* The interned copy of `name`: equal names give the same pointer, so two
 * interned names compare with ==. Thread-safe. Returns NULL (and sets the
 * error) for NULL or "" names. */
const char *na_intern(const char *name);

/* ---- dtypes ----------------------------------------------------------- */

size_t na_dtype_size(na_dtype dtype);
/* "f32", "f64", "i32", "bool", "bf16" */
const char *na_dtype_name(na_dtype dtype);

/* bfloat16 <-> f32. f32 -> bf16 rounds to nearest, ties to even; NaN stays
 * NaN (quiet, sign kept), overflow gives +-inf. bf16 -> f32 is exact (a
 * 16-bit shift). f64 values are converted through f32. */
typedef uint16_t na_bf16;
na_bf16 na_bf16_from_f32(float x);
float na_bf16_to_f32(na_bf16 x);
/* The same over n values (vectorised loops). */
void na_bf16_from_f32_n(const float *x, na_bf16 *out, int64_t n);
void na_bf16_to_f32_n(const na_bf16 *x, float *out, int64_t n);

/* ---- lifetime --------------------------------------------------------- */

/* Release an array header and its reference to the storage. NULL is fine. */
void na_array_free(na_array *x);

/* A new header on the same storage (a cheap "copy"). */
na_status na_array_ref(const na_array *x, na_array **out);

/* ---- construction ----------------------------------------------------- */

/* Uninitialised, zeros, ones, full: a contiguous array with the given dims
 * (row-major in the order given). Sizes may be 0. */
na_status na_empty(na_dtype dtype, int ndim, const na_dim *dims, na_array **out);
na_status na_zeros(na_dtype dtype, int ndim, const na_dim *dims, na_array **out);
na_status na_ones(na_dtype dtype, int ndim, const na_dim *dims, na_array **out);
na_status na_full(na_dtype dtype, int ndim, const na_dim *dims, double value,
                  na_array **out);
/* A contiguous array whose elements are copied from `data` (row-major, dtype
 * as given: float, double, int32_t, bool or na_bf16). */
na_status na_from_data(na_dtype dtype, int ndim, const na_dim *dims,
                       const void *data, na_array **out);
/* An array over memory the caller owns: no copy. `release(ctx)` is called
 * when the last view is freed (NULL: the caller keeps the memory alive). */
na_status na_wrap(na_dtype dtype, int ndim, const na_dim *dims, void *data,
                  void (*release)(void *ctx), void *ctx, na_array **out);
/* 0, 1, ..., n-1 along one axis (`name` NULL gives a positional axis). */
na_status na_arange(const char *name, int64_t n, na_dtype dtype, na_array **out);
/* A 0-d array holding one value. */
na_status na_scalar(na_dtype dtype, double value, na_array **out);

/* ---- inspection -------------------------------------------------------
 * Every inspector takes NULL safely: counts and sizes are 0 (na_axis_size,
 * na_axis_index and na_positional_index give -1), na_is_contiguous and
 * na_same_shape false, na_data NULL, na_get NaN, na_shape_str "(null)". */

int na_named_count(const na_array *x);       /* number of named axes        */
int na_positional_count(const na_array *x);  /* number of positional axes   */
int64_t na_size(const na_array *x);          /* number of elements          */
/* The dimension index of a named axis, or -1. `name` need not be interned. */
int na_axis_index(const na_array *x, const char *name);
/* Size of a named axis, or -1 if absent. */
int64_t na_axis_size(const na_array *x, const char *name);
/* The dimension index of positional axis `pos` (negative counts from the
 * end), or -1. */
int na_positional_index(const na_array *x, int pos);
bool na_is_contiguous(const na_array *x);    /* row-major in dim order      */
/* Pointer to the first element (storage base + offset). */
void *na_data(const na_array *x);
/* One element as a double; `idx` has one entry per dimension (dim order). */
double na_get(const na_array *x, const int64_t *idx);
/* Same shape names, sizes and positional order (dim order may differ). */
bool na_same_shape(const na_array *a, const na_array *b);

/* Write the named shape, "f32[foo:2, bar:3 | 5]" (named axes in dim order,
 * then '|' and the positional sizes if any); returns the length it needed. */
size_t na_shape_str(const na_array *x, char *buf, size_t cap);

/* Compare a and b element by element, lined up by axis name (dim order
 * may differ; positional axes pair in order). The named shapes must be
 * equal (NA_ERR_SHAPE naming both otherwise); dtypes may differ. A NaN
 * equals a NaN and is infinitely far from any number.
 *   na_max_abs_diff: *out = max |a - b| (0 for empty arrays).
 *   na_allclose:     *out = every |a - b| <= atol + rtol * |b| (numpy's rule).
 *     bool ok; na_allclose(y, y_ref, 1e-5, 1e-6, &ok);  */
na_status na_max_abs_diff(const na_array *a, const na_array *b, double *out);
na_status na_allclose(const na_array *a, const na_array *b, double rtol, double atol,
                      bool *out);

/* Print dtype, named shape and values (summarised past `edge` items per
 * axis when large). Values are laid out by dimension order. */
na_status na_array_print(const na_array *x, FILE *f);

/* ---- copies and layout ------------------------------------------------ */

/* A contiguous copy (same dims, same order). */
na_status na_copy(const na_array *x, na_array **out);
/* A contiguous array with the same dims: `x` itself (new ref) if already
 * contiguous, else a copy. */
na_status na_contiguous(const na_array *x, na_array **out);
/* Copy elements into the caller's buffer `out` (row-major over x's dim
 * order), converting to `dtype`. `out` holds na_size(x) elements. */
na_status na_copy_to(const na_array *x, na_dtype dtype, void *out);
/* Reshape the positional axes of an array with no named axes (view if
 * possible, else copy). */
na_status na_reshape(const na_array *x, int ndim, const int64_t *sizes,
                     na_array **out);
/* A new array converted to `dtype`. */
na_status na_astype(const na_array *x, na_dtype dtype, na_array **out);

/* ---- naming views ----------------------------------------------------- */

/* Name every positional axis, in order (count must match; no clash with
 * existing names; no repeats). */
na_status na_tag(const na_array *x, const char *const *names, na_array **out);
/* Name the leading positional axes only. */
na_status na_tag_prefix(const na_array *x, const char *const *names,
                        na_array **out);
/* Turn named axes into positional ones, in the order given. Error if x
 * already has positional axes, a name repeats or is absent. */
na_status na_untag(const na_array *x, const char *const *names, na_array **out);
/* Like untag, but the new positional axes go in front of existing ones. */
na_status na_untag_prefix(const na_array *x, const char *const *names,
                          na_array **out);
/* Rename axes: from[i] -> to[i] (simultaneously; swaps are allowed). */
na_status na_rename(const na_array *x, const char *const *from,
                    const char *const *to, na_array **out);
/* Reorder dims: the named axes in the given order, then positional axes.
 * Every named axis must be listed. A view. */
na_status na_order_as(const na_array *x, const char *const *names,
                      na_array **out);
/* Broadcast to a shape (by name for named axes; numpy rules positionally).
 * New axes get stride 0. A view. */
na_status na_broadcast_to(const na_array *x, int ndim, const na_dim *dims,
                          na_array **out);
na_status na_broadcast_like(const na_array *x, const na_array *like,
                            na_array **out);

/* ---- indexing --------------------------------------------------------- */

typedef enum na_index_kind {
    NA_INDEX_AT,     /* integer: the axis disappears                       */
    NA_INDEX_RANGE,  /* start:stop:step, the axis stays (step may be < 0)  */
    NA_INDEX_NEW,    /* a new size-1 axis with this name                   */
    NA_INDEX_GATHER  /* integer array: the axis is replaced by its axes    */
} na_index_kind;

#define NA_END INT64_MAX /* "to the end" for a range stop (or start with step<0) */

/* One entry of an index. `axis` names a named axis; with axis == NULL,
 * `pos` picks a positional axis (counted among positional axes). */
typedef struct na_index {
    const char *axis;
    int pos;
    na_index_kind kind;
    int64_t at;                  /* NA_INDEX_AT (negative counts from end) */
    int64_t start, stop, step;   /* NA_INDEX_RANGE, python semantics       */
    const na_array *ids;         /* NA_INDEX_GATHER: i32, named axes       */
} na_index;

#define NA_AT(name, i) ((na_index){.axis = (name), .kind = NA_INDEX_AT, .at = (i)})
#define NA_RANGE(name, a, b, s)                                              \
    ((na_index){.axis = (name), .kind = NA_INDEX_RANGE, .start = (a), .stop = (b), .step = (s)})
#define NA_REVERSED(name)                                                    \
    ((na_index){.axis = (name), .kind = NA_INDEX_RANGE, .start = NA_END, .stop = NA_END, .step = -1})
#define NA_NEWAXIS(name) ((na_index){.axis = (name), .kind = NA_INDEX_NEW})
#define NA_GATHER(name, idarr)                                               \
    ((na_index){.axis = (name), .kind = NA_INDEX_GATHER, .ids = (idarr)})
#define NA_POS_AT(p, i) ((na_index){.pos = (p), .kind = NA_INDEX_AT, .at = (i)})
#define NA_POS_RANGE(p, a, b, s)                                             \
    ((na_index){.pos = (p), .kind = NA_INDEX_RANGE, .start = (a), .stop = (b), .step = (s)})
#define NA_POS_REVERSED(p)                                                   \
    ((na_index){.pos = (p), .kind = NA_INDEX_RANGE, .start = NA_END, .stop = NA_END, .step = -1})

/* Index by name (and position). Without gathers the result is a view;
 * with gathers it is a new array whose gathered axes are replaced by the
 * ids' named axes (appended after the remaining axes). Out-of-range ids are
 * an error. */
na_status na_index_by(const na_array *x, int n, const na_index *idx,
                      na_array **out);
/* Functional updates, Penzai's x.at[index].set(value) / .add(value).
 * Without gathers: a copy of x with the indexed region set to / added by
 * `value` (which must broadcast by name against the region).
 * With gathers the update is mapped over the ids' named axes: the result
 * has x's axes, then the ids' named axes x lacks, one updated copy of x per
 * index value (an ids axis x also has, and no entry indexes, is mapped
 * jointly: slice b of x is updated at ids[b]). The value broadcasts against
 * the region's axes plus the ids' axes. Ids may also have positional axes
 * (updates only): those scatter within one copy, add accumulating repeated
 * ids and set keeping the last write in row-major order; they come before
 * the region's own positional axes when the value lines up positionally
 * (as in Penzai's dict index). Accumulating many ids into one array
 * (an embedding gradient) is: untag the ids' and the value's batch axes.
 *   x {vocab:5, f:2}, ids {k:3}, v {k:3, f:2}
 *     na_at_add(x, 1, &NA_GATHER("vocab", ids), v) -> {vocab:5, f:2, k:3}
 *     with ids, v untagged on k -> {vocab:5, f:2}, rows of v summed in
 * Differs from Penzai: a value axis found neither in the region nor in the
 * ids is an error (Penzai maps over it as well). */
na_status na_at_set(const na_array *x, int n, const na_index *idx,
                    const na_array *value, na_array **out);
na_status na_at_add(const na_array *x, int n, const na_index *idx,
                    const na_array *value, na_array **out);
/* A view of the diagonal of two named axes of equal size, as one axis
 * named `to`. */
na_status na_diagonal(const na_array *x, const char *a, const char *b,
                      const char *to, na_array **out);

/* ---- elementwise ------------------------------------------------------ */

typedef enum na_unary_op {
    NA_NEG, NA_ABS, NA_EXP, NA_LOG, NA_SQRT, NA_RSQRT, NA_SQUARE, NA_RECIP,
    NA_SIN, NA_COS, NA_TANH, NA_SIGMOID, NA_RELU, NA_GELU, NA_GELU_TANH,
    NA_SILU, NA_SOFTPLUS, NA_FLOOR, NA_CEIL, NA_SIGN, NA_LOGICAL_NOT
} na_unary_op;

typedef enum na_binary_op {
    NA_ADD, NA_SUB, NA_MUL, NA_DIV, NA_POW, NA_MAXIMUM, NA_MINIMUM,
    NA_LOGICAL_AND, NA_LOGICAL_OR,
    /* comparisons give bool */
    NA_EQ, NA_NE, NA_LT, NA_LE, NA_GT, NA_GE
} na_binary_op;

/* Dtype promotion for binary ops: bool < i32 < bf16 < f32 < f64 (JAX's lattice;
 * NA_PROMOTE_STRICT in runtime.h makes mixed dtypes an error), the result
 * takes the higher (comparisons give bool; logical ops need bool). Float-only
 * unary ops (exp, tanh, ...) on i32/bool give f32. */
na_status na_unary(na_unary_op op, const na_array *x, na_array **out);
na_status na_binary(na_binary_op op, const na_array *a, const na_array *b,
                    na_array **out);
/* Shorthands. */
na_status na_add(const na_array *a, const na_array *b, na_array **out);
na_status na_sub(const na_array *a, const na_array *b, na_array **out);
na_status na_mul(const na_array *a, const na_array *b, na_array **out);
na_status na_div(const na_array *a, const na_array *b, na_array **out);
/* x op scalar, the scalar taking x's dtype. */
na_status na_binary_scalar(na_binary_op op, const na_array *x, double s,
                           na_array **out);
/* where(mask, a, b): mask is bool; all three broadcast by name. */
na_status na_where(const na_array *mask, const na_array *a, const na_array *b,
                   na_array **out);

/* ---- reductions over named axes --------------------------------------- */

/* Reduce over the listed named axes (they disappear). An empty list (NULL)
 * reduces nothing. max/min over a zero-size axis is an error. */
na_status na_sum(const na_array *x, const char *const *names, na_array **out);
na_status na_mean(const na_array *x, const char *const *names, na_array **out);
na_status na_max(const na_array *x, const char *const *names, na_array **out);
na_status na_min(const na_array *x, const char *const *names, na_array **out);
/* Index (i32) of the maximum along one named axis; first one on ties. */
na_status na_argmax(const na_array *x, const char *name, na_array **out);
/* Softmax / log-softmax over the listed axes (jointly); the shape stays. */
na_status na_softmax(const na_array *x, const char *const *names, na_array **out);
na_status na_log_softmax(const na_array *x, const char *const *names,
                         na_array **out);

/* ---- joining ---------------------------------------------------------- */

/* Concatenate along a named axis present in every input (other axes must
 * match by name). */
na_status na_concatenate(int n, const na_array *const *xs, const char *name,
                         na_array **out);
/* Stack n arrays of the same named shape along a new axis `name`. */
na_status na_stack(int n, const na_array *const *xs, const char *name,
                   na_array **out);
/* Split along a named axis into views. Two results, last: *n and *out, a
 * malloc'ed array of *n pointers (free each with na_array_free, then
 * free(*out)). */
na_status na_unstack(const na_array *x, const char *name, int *n,
                     na_array ***out);

/* ---- random (counter-based: same numbers for a seed on every machine
 * and thread count; element i of a fresh contiguous array uses counter i) */

na_status na_random_uniform(uint64_t seed, na_dtype dtype, int ndim,
                            const na_dim *dims, double lo, double hi,
                            na_array **out);
na_status na_random_normal(uint64_t seed, na_dtype dtype, int ndim,
                           const na_dim *dims, double mean, double stddev,
                           na_array **out);
/* bool array, true with probability p. */
na_status na_random_bernoulli(uint64_t seed, int ndim, const na_dim *dims,
                              double p, na_array **out);

/* ---- contraction (see namedarr/contract.h for the einsum form) --------- */

/* Names in both operands and in `sum` are summed over; names in both and not
 * in `sum` are batch axes; all others are free. Operands have named axes
 * only; different dtypes are promoted as JAX does (runtime.h; i32 x f32 ->
 * f32, f32 x f64 -> f64; an error under NA_PROMOTE_STRICT) and the common
 * dtype must be f32 or f64. Result dims: batch, then a's free axes,
 * then b's free axes. Every matrix product runs in BLIS. */
na_status na_contract(const na_array *a, const na_array *b,
                      const char *const *sum, na_array **out);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
