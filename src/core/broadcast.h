/* Internal: name-based broadcasting and strided N-d iteration.
 *
 * Broadcasting lines k operands up by name. The result dims are the union
 * of the operands' named axes in order of first appearance (a name must
 * have the same size everywhere: size-1 named axes do NOT stretch), then
 * the positional axes, which broadcast numpy-style aligned from the right.
 * For each operand the engine gives its strides over the result dims (0
 * where the operand lacks the axis or stretches a size-1 positional one).
 *
 *   na__bcast bc;
 *   const na_array *ops[] = {a, b};
 *   st = na__broadcast("na_add", 2, ops, (const char *[]){"lhs", "rhs"}, &bc);
 *   // bc.ndim, bc.dims[d] (interned name or NULL, size), bc.stride[k][d]
 *
 * The iterator walks operands that share one N-d index space (the result
 * dims), calling an inner function once per innermost row:
 *
 *   na__iter it;
 *   char *base[] = {na_data(out), na_data(a), na_data(b)};
 *   size_t es[] = {4, 4, 4};
 *   const int64_t *st3[] = {out->stride, bc.stride[0], bc.stride[1]};
 *   na__iter_init(&it, bc.ndim, shape, 3, base, es, st3, 0);
 *   na__iter_run(&it, my_row_kernel, ctx, NA__PAR_ANY);
 *
 * na__iter_init drops size-1 dims, optionally sorts dims by one operand's
 * strides (memory order), and merges dims that are contiguous in every
 * operand, so a contiguous elementwise op becomes a single long row.
 */
#ifndef NAMEDARR_BROADCAST_H
#define NAMEDARR_BROADCAST_H

#include "internal.h"

#define NA__MAX_OPERANDS 8

/* ---- broadcasting ---------------------------------------------------- */

typedef struct na__bcast {
    int ndim;                                      /* result dims           */
    na_dim dims[NA_MAX_DIMS];                      /* interned name / NULL  */
    int64_t shape[NA_MAX_DIMS];                    /* = dims[d].size        */
    int64_t stride[NA__MAX_OPERANDS][NA_MAX_DIMS]; /* elements, per operand */
} na__bcast;

/* Broadcast n (1..NA__MAX_OPERANDS) operands by name. `labels` name the
 * operands in messages ("lhs", "rhs"; NULL gives "x0", "x1", ...). On a
 * clash returns NA_ERR_SHAPE with a message naming `op`, the axis and every
 * operand's named shape. Writes *out only on success. */
na_status na__broadcast(const char *op, int n, const na_array *const *xs,
                        const char *const *labels, na__bcast *out);

/* Strides of x over target dims `dims` (named axes matched by name and
 * size; positional axes aligned from the right, size 1 stretching):
 * stride[d] is x's stride for target dim d, 0 where x lacks it or stretches.
 * Errors (NA_ERR_AXIS / NA_ERR_SHAPE, message naming `op`) if x has a name
 * the target lacks or a size that does not fit. */
na_status na__align(const char *op, const na_array *x, int ndim,
                    const na_dim *dims, int64_t *stride);

/* Row-major strides for `ndim` sizes (what na__new gives). */
void na__contiguous_strides(int ndim, const int64_t *shape, int64_t *stride);

/* ---- iteration ------------------------------------------------------- */

typedef struct na__iter {
    int ndim;                  /* >= 1 (a scalar is one row of length 1)    */
    int nops;
    int64_t size;              /* total elements (0: nothing to run)        */
    int64_t shape[NA_MAX_DIMS];
    int64_t stride[NA__MAX_OPERANDS][NA_MAX_DIMS]; /* elements               */
    char *base[NA__MAX_OPERANDS];
    size_t elsize[NA__MAX_OPERANDS];
} na__iter;

/* One innermost row: n elements; p[k] points at operand k's first element
 * of the row, s[k] is its stride along the row in elements (may be 0 or
 * negative). */
typedef void (*na__row_fn)(int64_t n, char *const *p, const int64_t *s,
                           void *ctx);

/* Set up iteration over `ndim` dims of sizes `shape` for `nops` operands
 * with base pointers, element sizes and per-dim strides (elements).
 * order_by >= 0 sorts dims by that operand's |stride|, outermost largest
 * (use the input for reductions; -1 keeps the given order). */
void na__iter_init(na__iter *it, int ndim, const int64_t *shape, int nops,
                   char *const *base, const size_t *elsize,
                   const int64_t *const *stride, int order_by);

typedef enum na__par {
    NA__SERIAL,  /* one thread                                               */
    NA__PAR_ANY  /* rows (and long rows in tiles) over threads: every written
                    operand must have distinct elements per index (no
                    accumulators), as for elementwise outputs               */
} na__par;

/* Elements at and above which loops go parallel. */
#define NA__PAR_MIN 65536

/* Run fn over every row. Goes parallel (OpenMP, na__threads()) only when
 * it->size >= NA__PAR_MIN and not already inside a parallel region. */
void na__iter_run(const na__iter *it, na__row_fn fn, void *ctx, na__par par);

/* Same, for kernels that accumulate into operand `acc` (stride 0 along
 * reduced dims): threads take slices of the outermost dim along which
 * `acc` moves, so no two threads touch the same accumulator element.
 * Serial when acc moves along no dim (a full reduction) or when small. */
void na__iter_run_acc(const na__iter *it, na__row_fn fn, void *ctx, int acc);

/* Copy src into dst (dst is written in place, any strides; src's axes are
 * matched to dst's by name/position and may broadcast), converting dtype.
 * Used by join ops and anything that fills a view. */
na_status na__copy_into(const char *op, na_array *dst, const na_array *src);

/* Dtype promotion: bool < i32 < bf16 < f32 < f64 (JAX's lattice on these). */
na_dtype na__promote(na_dtype a, na_dtype b);
/* The common dtype of a and b in *t, or, under NA_PROMOTE_STRICT with two
 * different dtypes, NA_ERR_DTYPE with a message naming op and both. */
na_status na__promote_checked(const char *op, const na_array *a,
                              const na_array *b, na_dtype *t);

#endif
