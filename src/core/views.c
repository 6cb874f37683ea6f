/* Naming views: tag, untag, rename, order_as, broadcast_to, diagonal.
 *
 * Every function here edits a copy of the header and shares the storage
 * (na__view_of retains it): nothing is copied. Names stored in headers are
 * interned, so later comparisons are pointer compares.
 *
 * Dim placement (only printing and memory order see it; semantics go by
 * name and positional order):
 *   untag(x{foo, bar, baz}, "baz", "bar") -> dims (baz, bar | foo): the new
 *     positional axes first, in list order, then the rest in their order
 *   order_as: the listed names, then the positional axes
 *   broadcast_to: exactly the target's dims (stride 0 on new axes)
 *   diagonal(a, b -> to): `to` where the first of a, b was
 */
#include "broadcast.h"
#include "internal.h"

/* ---- name lists --------------------------------------------------------- */

/* Intern the n names of `names` into `out`; error (naming `op` and x) on a
 * NULL/empty name or a repeat. */
static na_status intern_list(const char *op, const na_array *x,
                             const char *const *names, int n, const char **out)
{
    for (int i = 0; i < n; i++) {
        out[i] = names[i][0] ? na_intern(names[i]) : NULL;
        if (!out[i])
            return na__fail(names[i][0] ? NA_ERR_AXIS : NA_ERR_ARGUMENT,
                            "%s: name %d of (%s) is %s (x %s)", op, i,
                            na__names(names), names[i][0] ? "reserved" : "empty",
                            na__shape(x));
        for (int j = 0; j < i; j++)
            if (out[j] == out[i])
                return na__fail(NA_ERR_AXIS,
                                "%s: name '%s' repeats in (%s) (x %s)", op,
                                out[i], na__names(names), na__shape(x));
    }
    return NA_OK;
}

/* Check the list length fits and intern it; *n gets the count. */
static na_status take_names(const char *op, const na_array *x,
                            const char *const *names, const char **out, int *n)
{
    *n = na__names_count(names);
    if (*n > NA_MAX_DIMS)
        return na__fail(NA_ERR_ARGUMENT, "%s: %d names (at most %d) for %s", op,
                        *n, NA_MAX_DIMS, na__shape(x));
    return intern_list(op, x, names, *n, out);
}

static int dim_named(const na_array *x, const char *interned)
{
    for (int d = 0; d < x->ndim; d++)
        if (x->name[d] == interned)
            return d;
    return -1;
}

/* Hand out a view of `hdr` (a header on x's storage) as *out. */
static na_status emit_view(const na_array *hdr, na_array **out)
{
    na_array *v = na__view_of(hdr);
    if (!v)
        return NA_ERR_NO_MEMORY;
    *out = v;
    return NA_OK;
}

/* ---- tag ---------------------------------------------------------------- */

/* Name the first `n` positional axes of x with the interned `nm`. */
static na_status tag_first(const char *op, const na_array *x, const char **nm,
                           int n, na_array **out)
{
    for (int i = 0; i < n; i++)
        if (dim_named(x, nm[i]) >= 0)
            return na__fail(NA_ERR_AXIS,
                            "%s: name '%s' clashes with an existing axis of %s",
                            op, nm[i], na__shape(x));
    na_array hdr = *x;
    int i = 0;
    for (int d = 0; d < hdr.ndim && i < n; d++)
        if (!hdr.name[d])
            hdr.name[d] = nm[i++];
    return emit_view(&hdr, out);
}

static na_status tag_impl(const char *op, const na_array *x,
                          const char *const *names, bool prefix, na_array **out)
{
    if (!x || !out)
        return na__fail(NA_ERR_ARGUMENT, "%s: NULL argument", op);
    const char *nm[NA_MAX_DIMS];
    int n;
    na_status st = take_names(op, x, names, nm, &n);
    if (st != NA_OK)
        return st;
    int np = na_positional_count(x);
    if (prefix ? n > np : n != np)
        return na__fail(NA_ERR_AXIS,
                        "%s: %d names (%s) for %s, which has %d positional axes",
                        op, n, na__names(names), na__shape(x), np);
    return tag_first(op, x, nm, n, out);
}

na_status na_tag(const na_array *x, const char *const *names, na_array **out)
{
    return tag_impl("na_tag", x, names, false, out);
}

na_status na_tag_prefix(const na_array *x, const char *const *names,
                        na_array **out)
{
    return tag_impl("na_tag_prefix", x, names, true, out);
}

/* ---- untag -------------------------------------------------------------- */

/* dims: the named axes `nm` (as positional, in list order), then every other
 * dim of x in its original order. */
static na_status untag_impl(const char *op, const na_array *x,
                            const char *const *names, bool prefix,
                            na_array **out)
{
    if (!x || !out)
        return na__fail(NA_ERR_ARGUMENT, "%s: NULL argument", op);
    if (!prefix && na_positional_count(x) > 0)
        return na__fail(NA_ERR_AXIS,
                        "%s: %s already has positional axes; untag (%s) needs "
                        "none (use na_untag_prefix)",
                        op, na__shape(x), na__names(names));
    const char *nm[NA_MAX_DIMS];
    int n;
    na_status st = take_names(op, x, names, nm, &n);
    if (st != NA_OK)
        return st;
    int src[NA_MAX_DIMS];
    bool taken[NA_MAX_DIMS] = {false};
    for (int i = 0; i < n; i++) {
        src[i] = dim_named(x, nm[i]);
        if (src[i] < 0)
            return na__fail(NA_ERR_AXIS, "%s: no axis '%s' in %s", op, nm[i],
                            na__shape(x));
        taken[src[i]] = true;
    }
    for (int d = 0, k = n; d < x->ndim; d++)
        if (!taken[d])
            src[k++] = d;
    na_array hdr = *x;
    for (int k = 0; k < x->ndim; k++) {
        hdr.shape[k] = x->shape[src[k]];
        hdr.stride[k] = x->stride[src[k]];
        hdr.name[k] = k < n ? NULL : x->name[src[k]];
    }
    return emit_view(&hdr, out);
}

na_status na_untag(const na_array *x, const char *const *names, na_array **out)
{
    return untag_impl("na_untag", x, names, false, out);
}

na_status na_untag_prefix(const na_array *x, const char *const *names,
                          na_array **out)
{
    return untag_impl("na_untag_prefix", x, names, true, out);
}

/* ---- rename ------------------------------------------------------------- */

static na_status check_unique_names(const char *op, const na_array *x,
                                    const na_array *y)
{
    for (int d = 0; d < y->ndim; d++)
        for (int e = 0; e < d; e++)
            if (y->name[d] && y->name[d] == y->name[e])
                return na__fail(NA_ERR_AXIS,
                                "%s: the result would have axis '%s' twice "
                                "(x %s, result %s)",
                                op, y->name[d], na__shape(x), na__shape(y));
    return NA_OK;
}

na_status na_rename(const na_array *x, const char *const *from,
                    const char *const *to, na_array **out)
{
    const char *op = "na_rename";
    if (!x || !out)
        return na__fail(NA_ERR_ARGUMENT, "%s: NULL argument", op);
    const char *f[NA_MAX_DIMS], *t[NA_MAX_DIMS];
    int nf, nt;
    na_status st = take_names(op, x, from, f, &nf);
    if (st == NA_OK)
        st = take_names(op, x, to, t, &nt);
    if (st != NA_OK)
        return st;
    if (nf != nt)
        return na__fail(NA_ERR_ARGUMENT, "%s: %d names (%s) renamed to %d (%s)",
                        op, nf, na__names(from), nt, na__names(to));
    na_array hdr = *x;
    for (int i = 0; i < nf; i++) {
        int d = dim_named(x, f[i]);
        if (d < 0)
            return na__fail(NA_ERR_AXIS, "%s: no axis '%s' in %s", op, f[i],
                            na__shape(x));
        hdr.name[d] = t[i];
    }
    st = check_unique_names(op, x, &hdr);
    return st == NA_OK ? emit_view(&hdr, out) : st;
}

/* ---- order_as ----------------------------------------------------------- */

na_status na_order_as(const na_array *x, const char *const *names,
                      na_array **out)
{
    const char *op = "na_order_as";
    if (!x || !out)
        return na__fail(NA_ERR_ARGUMENT, "%s: NULL argument", op);
    const char *nm[NA_MAX_DIMS];
    int n;
    na_status st = take_names(op, x, names, nm, &n);
    if (st != NA_OK)
        return st;
    na_array hdr = *x;
    for (int i = 0; i < n; i++) {
        int d = dim_named(x, nm[i]);
        if (d < 0)
            return na__fail(NA_ERR_AXIS, "%s: no axis '%s' in %s", op, nm[i],
                            na__shape(x));
        hdr.shape[i] = x->shape[d];
        hdr.stride[i] = x->stride[d];
        hdr.name[i] = nm[i];
    }
    if (n != na_named_count(x))
        return na__fail(NA_ERR_AXIS,
                        "%s: (%s) lists %d of the %d named axes of %s; list "
                        "every one",
                        op, na__names(names), n, na_named_count(x),
                        na__shape(x));
    for (int d = 0, k = n; d < x->ndim; d++) {
        if (x->name[d])
            continue;
        hdr.shape[k] = x->shape[d];
        hdr.stride[k] = x->stride[d];
        hdr.name[k++] = NULL;
    }
    return emit_view(&hdr, out);
}

/* ---- broadcasting ------------------------------------------------------- */

/* Check and intern a target dims list into `t`. */
static na_status target_dims(const char *op, const na_array *x, int ndim,
                             const na_dim *dims, na_dim *t)
{
    if (ndim < 0 || ndim > NA_MAX_DIMS || (ndim > 0 && !dims))
        return na__fail(NA_ERR_ARGUMENT, "%s: %d target dims (0..%d) for %s",
                        op, ndim, NA_MAX_DIMS, na__shape(x));
    for (int d = 0; d < ndim; d++) {
        t[d] = dims[d];
        if (dims[d].size < 0)
            return na__fail(NA_ERR_SHAPE, "%s: target axis %d ('%s') has size %lld",
                            op, d, dims[d].name ? dims[d].name : "positional",
                            (long long)dims[d].size);
        if (!dims[d].name)
            continue;
        t[d].name = dims[d].name[0] ? na_intern(dims[d].name) : NULL;
        if (!t[d].name)
            return na__fail(dims[d].name[0] ? NA_ERR_AXIS : NA_ERR_ARGUMENT,
                            "%s: target axis %d has %s name", op, d,
                            dims[d].name[0] ? "a reserved" : "an empty");
        for (int e = 0; e < d; e++)
            if (t[e].name == t[d].name)
                return na__fail(NA_ERR_AXIS, "%s: target axis '%s' repeats", op,
                                t[d].name);
    }
    return NA_OK;
}

static na_status broadcast_impl(const char *op, const na_array *x, int ndim,
                                const na_dim *dims, na_array **out)
{
    na_dim t[NA_MAX_DIMS] = {{NULL, 0}};
    int64_t stride[NA_MAX_DIMS] = {0};
    na_status st = target_dims(op, x, ndim, dims, t);
    int64_t shape[NA_MAX_DIMS];
    const char *names[NA_MAX_DIMS];
    for (int d = 0; st == NA_OK && d < ndim; d++) {
        shape[d] = t[d].size;
        names[d] = t[d].name;
    }
    if (st == NA_OK)
        st = na__check_count(op, ndim, shape, names, NULL);
    if (st == NA_OK)
        st = na__align(op, x, ndim, t, stride);
    if (st != NA_OK)
        return st;
    na_array hdr = *x;
    hdr.ndim = ndim;
    for (int d = 0; d < ndim; d++) {
        hdr.shape[d] = t[d].size;
        hdr.stride[d] = stride[d];
        hdr.name[d] = t[d].name;
    }
    return emit_view(&hdr, out);
}

na_status na_broadcast_to(const na_array *x, int ndim, const na_dim *dims,
                          na_array **out)
{
    if (!x || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_broadcast_to: NULL argument");
    return broadcast_impl("na_broadcast_to", x, ndim, dims, out);
}

na_status na_broadcast_like(const na_array *x, const na_array *like,
                            na_array **out)
{
    if (!x || !like || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_broadcast_like: NULL argument");
    na_dim dims[NA_MAX_DIMS];
    for (int d = 0; d < like->ndim; d++)
        dims[d] = (na_dim){like->name[d], like->shape[d]};
    return broadcast_impl("na_broadcast_like", x, like->ndim, dims, out);
}

/* ---- diagonal ----------------------------------------------------------- */

/* x {.., a:n, .., b:n, ..} -> {.., to:n, ..}: `to` takes the place of the
 * first of a, b; its stride is the sum of theirs. */
na_status na_diagonal(const na_array *x, const char *a, const char *b,
                      const char *to, na_array **out)
{
    const char *op = "na_diagonal";
    if (!x || !a || !b || !to || !out)
        return na__fail(NA_ERR_ARGUMENT, "%s: NULL argument", op);
    const char *nm[3];
    na_status st = intern_list(op, x, NA_NAMES(a, b), 2, nm);
    if (st != NA_OK)
        return st;
    nm[2] = to[0] ? na_intern(to) : NULL;
    if (!nm[2])
        return na__fail(to[0] ? NA_ERR_AXIS : NA_ERR_ARGUMENT,
                        "%s: the new axis name is %s", op, to[0] ? "reserved" : "empty");
    int da = dim_named(x, nm[0]), db = dim_named(x, nm[1]);
    if (da < 0 || db < 0)
        return na__fail(NA_ERR_AXIS, "%s: no axis '%s' in %s", op,
                        da < 0 ? a : b, na__shape(x));
    if (x->shape[da] != x->shape[db])
        return na__fail(NA_ERR_SHAPE,
                        "%s: axes '%s' (%lld) and '%s' (%lld) of %s differ in size",
                        op, a, (long long)x->shape[da], b,
                        (long long)x->shape[db], na__shape(x));
    int first = da < db ? da : db, second = da < db ? db : da;
    na_array hdr = *x;
    hdr.stride[first] = x->stride[da] + x->stride[db];
    hdr.name[first] = nm[2];
    for (int d = second; d + 1 < x->ndim; d++) {
        hdr.shape[d] = x->shape[d + 1];
        hdr.stride[d] = x->stride[d + 1];
        hdr.name[d] = x->name[d + 1];
    }
    hdr.ndim--;
    st = check_unique_names(op, x, &hdr);
    return st == NA_OK ? emit_view(&hdr, out) : st;
}
