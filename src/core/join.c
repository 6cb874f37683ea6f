/* Joining along named axes: concatenate, stack, unstack.
 *
 * Inputs are matched by name (their dim orders may differ); the result
 * takes the first input's dim order. Mixed dtypes promote (bool < i32 <
 * f32 < f64). concatenate and stack copy; unstack returns views.
 */
#include <stdlib.h>
#include <string.h>

#include "broadcast.h"

static na_status check_inputs(const char *op, int n, const na_array *const *xs,
                              const char *name, void *out)
{
    if (!xs || !name || !out)
        return na__fail(NA_ERR_ARGUMENT, "%s: NULL argument", op);
    if (n < 1)
        return na__fail(NA_ERR_ARGUMENT, "%s: needs at least one input, got %d",
                        op, n);
    for (int i = 0; i < n; i++)
        if (!xs[i])
            return na__fail(NA_ERR_ARGUMENT, "%s: input %d is NULL", op, i);
    return NA_OK;
}

/* Does x match ref on every axis except `skip` (an interned name)? */
static bool matches_except(const na_array *ref, const na_array *x,
                           const char *skip)
{
    if (ref->ndim != x->ndim ||
        na_positional_count(ref) != na_positional_count(x))
        return false;
    for (int d = 0, p = 0; d < ref->ndim; d++) {
        if (ref->name[d] == skip && skip)
            continue;
        int64_t size = ref->name[d] ? na_axis_size(x, ref->name[d])
                                    : x->shape[na_positional_index(x, p++)];
        if (size != ref->shape[d])
            return false;
    }
    return true;
}

/* The promoted dtype of all inputs (strict promotion: all the same). */
static na_status common_dtype(const char *op, int n, const na_array *const *xs,
                              na_dtype *t)
{
    *t = xs[0]->dtype;
    for (int i = 1; i < n; i++) {
        na_dtype u;
        na_status st = na__promote_checked(op, xs[0], xs[i], &u);
        if (st != NA_OK)
            return st;
        *t = na__promote(*t, u);
    }
    return NA_OK;
}

/* Copy each input into its slice of y along dim `ax` (slice i starts at
 * starts[i]; with `drop` the slice has the axis removed, as for stack). */
static na_status fill_slices(const char *op, na_array *y, int ax, int n,
                             const na_array *const *xs, bool drop)
{
    int64_t start = 0;
    for (int i = 0; i < n; i++) {
        na_array v = *y;
        v.offset += start * y->stride[ax];
        if (drop) {
            v.ndim--;
            for (int d = ax; d < v.ndim; d++) {
                v.shape[d] = y->shape[d + 1];
                v.stride[d] = y->stride[d + 1];
                v.name[d] = y->name[d + 1];
            }
            start++;
        } else {
            v.shape[ax] = na_axis_size(xs[i], y->name[ax]);
            start += v.shape[ax];
        }
        na_status st = na__copy_into(op, &v, xs[i]);
        if (st != NA_OK)
            return st;
    }
    return NA_OK;
}

na_status na_concatenate(int n, const na_array *const *xs, const char *name,
                         na_array **out)
{
    const char *op = "na_concatenate";
    na_status st = check_inputs(op, n, xs, name, out);
    if (st != NA_OK)
        return st;
    int ax = na_axis_index(xs[0], name);
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        int64_t size = na_axis_size(xs[i], name);
        if (size < 0)
            return na__fail(NA_ERR_AXIS, "%s: no axis '%s' in input %d %s", op,
                            name, i, na__shape(xs[i]));
        if (!matches_except(xs[0], xs[i], xs[0]->name[ax]))
            return na__fail(NA_ERR_SHAPE,
                            "%s: along '%s', input %d %s does not match input 0 %s "
                            "on the other axes",
                            op, name, i, na__shape(xs[i]), na__shape(xs[0]));
        total += size;
    }
    na_dim dims[NA_MAX_DIMS];
    for (int d = 0; d < xs[0]->ndim; d++)
        dims[d] = (na_dim){xs[0]->name[d], d == ax ? total : xs[0]->shape[d]};
    na_array *y = NULL;
    na_dtype t;
    st = common_dtype(op, n, xs, &t);
    if (st == NA_OK)
        st = na__new(op, t, xs[0]->ndim, dims, &y);
    if (st == NA_OK)
        st = fill_slices(op, y, ax, n, xs, false);
    if (st != NA_OK) {
        na_array_free(y);
        return st;
    }
    *out = y;
    return NA_OK;
}

na_status na_stack(int n, const na_array *const *xs, const char *name,
                   na_array **out)
{
    const char *op = "na_stack";
    na_status st = check_inputs(op, n, xs, name, out);
    if (st != NA_OK)
        return st;
    const na_array *ref = xs[0];
    if (na_axis_index(ref, name) >= 0)
        return na__fail(NA_ERR_AXIS, "%s: new axis '%s' is already in %s", op,
                        name, na__shape(ref));
    if (ref->ndim >= NA_MAX_DIMS)
        return na__fail(NA_ERR_SHAPE, "%s: %s already has %d axes", op,
                        na__shape(ref), NA_MAX_DIMS);
    for (int i = 1; i < n; i++)
        if (!matches_except(ref, xs[i], NULL))
            return na__fail(NA_ERR_SHAPE,
                            "%s: input %d %s does not match input 0 %s", op, i,
                            na__shape(xs[i]), na__shape(ref));
    na_dim dims[NA_MAX_DIMS];
    dims[0] = (na_dim){name, n};
    for (int d = 0; d < ref->ndim; d++)
        dims[d + 1] = (na_dim){ref->name[d], ref->shape[d]};
    na_array *y = NULL;
    na_dtype t;
    st = common_dtype(op, n, xs, &t);
    if (st == NA_OK)
        st = na__new(op, t, ref->ndim + 1, dims, &y);
    if (st == NA_OK)
        st = fill_slices(op, y, 0, n, xs, true);
    if (st != NA_OK) {
        na_array_free(y);
        return st;
    }
    *out = y;
    return NA_OK;
}

/* A view of x at index i of dim ax, the dim removed. */
static na_array *slice_view(const na_array *x, int ax, int64_t i)
{
    na_array *v = na__view_of(x);
    if (!v)
        return NULL;
    v->offset += i * x->stride[ax];
    v->ndim--;
    for (int d = ax; d < v->ndim; d++) {
        v->shape[d] = x->shape[d + 1];
        v->stride[d] = x->stride[d + 1];
        v->name[d] = x->name[d + 1];
    }
    v->name[v->ndim] = NULL;
    v->shape[v->ndim] = 0;
    v->stride[v->ndim] = 0;
    return v;
}

na_status na_unstack(const na_array *x, const char *name, int *n, na_array ***out)
{
    if (!x || !name || !n || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_unstack: NULL argument");
    int ax = na_axis_index(x, name);
    if (ax < 0)
        return na__fail(NA_ERR_AXIS, "na_unstack: no axis '%s' in %s", name,
                        na__shape(x));
    int64_t count = x->shape[ax];
    if (count > INT32_MAX)
        return na__fail(NA_ERR_SHAPE, "na_unstack: axis '%s' of %s is too long",
                        name, na__shape(x));
    na_array **views = count ? calloc((size_t)count, sizeof *views) : NULL;
    if (count && !views)
        return na__fail(NA_ERR_NO_MEMORY, "na_unstack: out of memory");
    for (int64_t i = 0; i < count; i++) {
        views[i] = slice_view(x, ax, i);
        if (!views[i]) {
            for (int64_t j = 0; j < i; j++)
                na_array_free(views[j]);
            free(views);
            return NA_ERR_NO_MEMORY;
        }
    }
    *n = (int)count;
    *out = views;
    return NA_OK;
}
