/* Sharded arrays: this process's block, the global named shape and the
 * mesh axis of each split axis; gathering; a contraction that finishes
 * with the all-reduce over a split summed axis. */
#include <stdlib.h>
#include <string.h>

#include "dist_internal.h"

static na_status new_sharded(const na_mesh *mesh, na_array *local, na_sharded **out)
{
    na_sharded *s = calloc(1, sizeof *s);
    if (!s) {
        na_array_free(local);
        return na_fail(NA_ERR_NO_MEMORY, "na_sharded: out of memory");
    }
    s->local = local, s->mesh = mesh;
    for (int d = 0; d < local->ndim; d++)
        s->global[d] = local->shape[d];
    *out = s;
    return NA_OK;
}

void na_sharded_free(na_sharded *x)
{
    if (x)
        na_array_free(x->local);
    free(x);
}

static na_status check_named(const char *who, const na_mesh *mesh, const na_array *x,
                             void *out)
{
    if (!mesh || !x || !out)
        return na_fail(NA_ERR_ARGUMENT, "%s: NULL %s", who,
                       !mesh ? "mesh" : !x ? "array" : "out");
    if (na_positional_count(x))
        return na_fail(NA_ERR_AXIS, "%s: %s has positional axes (named axes only)", who,
                       na__dshape(x));
    return NA_OK;
}

na_status na_shard(const na_mesh *mesh, const na_axis_mapping *map, const na_array *full,
                   na_sharded **out)
{
    na_status st = check_named("na_shard", mesh, full, out);
    if (st != NA_OK)
        return st;
    na_index idx[NA_MAX_DIMS];
    const char *split[NA_MAX_DIMS] = {0};
    int n = 0;
    for (int d = 0; d < full->ndim; d++) {
        const char *m = na_axis_mapping_lookup(map, mesh, full->name[d]);
        if (!m)
            continue;
        int parts = na_mesh_axis_size(mesh, m), c = na_mesh_coord(mesh, m);
        if (full->shape[d] % parts)
            return na_fail(NA_ERR_SHAPE, "na_shard: axis '%s' of %s does not split into "
                           "%d equal blocks over mesh axis '%s'", full->name[d],
                           na__dshape(full), parts, m);
        int64_t b = full->shape[d] / parts;
        idx[n++] = NA_RANGE(full->name[d], c * b, (c + 1) * b, 1);
        split[d] = m;
    }
    na_array *local = NULL;
    st = n ? na_index_by(full, n, idx, &local) : na_array_ref(full, &local);
    if (st == NA_OK)
        st = new_sharded(mesh, local, out);
    for (int d = 0; st == NA_OK && d < full->ndim; d++)
        (*out)->global[d] = full->shape[d], (*out)->mesh_axis[d] = split[d];
    return st;
}

na_status na_sharded_from_local(const na_mesh *mesh, const na_axis_mapping *map,
                                const na_array *local, na_sharded **out)
{
    na_status st = check_named("na_sharded_from_local", mesh, local, out);
    st = na__fingerprint_check(na_mesh_comm(mesh, NULL), "na_sharded_from_local", NULL,
                               st == NA_OK ? local : NULL, st);
    na_array *ref = NULL;
    if (st == NA_OK)
        st = na_array_ref(local, &ref);
    if (st == NA_OK)
        st = new_sharded(mesh, ref, out);
    for (int d = 0; st == NA_OK && d < local->ndim; d++) {
        const char *m = na_axis_mapping_lookup(map, mesh, local->name[d]);
        (*out)->mesh_axis[d] = m;
        (*out)->global[d] = local->shape[d] * (m ? na_mesh_axis_size(mesh, m) : 1);
    }
    return st;
}

na_status na__gather_splits(const na_mesh *mesh, const na_array *x,
                            const char *const *mesh_axis, na_array **out)
{
    na_array *cur = NULL;
    na_status st = na_array_ref(x, &cur);
    for (int d = 0; st == NA_OK && d < x->ndim; d++) {
        if (!mesh_axis[d])
            continue;
        na_array *next = NULL;
        st = na_all_gather(mesh, mesh_axis[d], cur, x->name[d], &next);
        na_array_free(cur);
        cur = next;
    }
    if (st != NA_OK) {
        na_array_free(cur);
        return st;
    }
    *out = cur;
    return NA_OK;
}

na_status na_sharded_gather(const na_sharded *x, na_array **out)
{
    if (!x || !out)
        return na_fail(NA_ERR_ARGUMENT, "na_sharded_gather: NULL %s", x ? "out" : "x");
    return na__gather_splits(x->mesh, x->local, (const char *const *)x->mesh_axis, out);
}

size_t na_sharded_str(const na_sharded *x, char *buf, size_t cap)
{
    if (!x) {
        if (buf && cap)
            snprintf(buf, cap, "(null)");
        return 6;
    }
    return na__split_shape_str(x->mesh, x->local->dtype, x->local->ndim,
                               (const char *const *)x->local->name, x->global,
                               (const char *const *)x->mesh_axis, buf, cap);
}

/* The split of axis `name` in x (NULL: replicated or absent). */
static const char *split_of(const na_sharded *x, const char *name)
{
    int d = na_axis_index(x->local, name);
    return d < 0 ? NULL : x->mesh_axis[d];
}

/* Names both operands have must be split alike; the mesh axes of summed
 * split names (at most NA_MESH_MAX_AXES, distinct) go to `reduce`. */
static na_status plan_contract(const na_sharded *a, const na_sharded *b,
                               const char *const *sum, const char **reduce, int *nred)
{
    const char *who = "na_sharded_contract";
    *nred = 0;
    for (int d = 0; d < a->local->ndim; d++) {
        const char *name = a->local->name[d];
        if (na_axis_index(b->local, name) < 0)
            continue;
        if (a->mesh_axis[d] != split_of(b, name))
            return na_fail(NA_ERR_AXIS, "%s: axis '%s' is split over '%s' in a but over "
                           "'%s' in b", who, name, a->mesh_axis[d] ? a->mesh_axis[d] : "(none)",
                           split_of(b, name) ? split_of(b, name) : "(none)");
        bool summed = false;
        for (int i = 0; sum && sum[i]; i++)
            summed |= na_intern(sum[i]) == name;
        bool seen = false;
        for (int i = 0; i < *nred; i++)
            seen |= reduce[i] == a->mesh_axis[d];
        if (summed && a->mesh_axis[d] && !seen)
            reduce[(*nred)++] = a->mesh_axis[d];
    }
    return NA_OK;
}

/* The result's global sizes and splits, from the operands by name. */
static void result_layout(const na_sharded *a, const na_sharded *b, na_sharded *y)
{
    for (int d = 0; d < y->local->ndim; d++) {
        const na_sharded *src = na_axis_index(a->local, y->local->name[d]) >= 0 ? a : b;
        int s = na_axis_index(src->local, y->local->name[d]);
        y->global[d] = src->global[s];
        y->mesh_axis[d] = src->mesh_axis[s];
    }
}

na_status na_sharded_contract(const na_sharded *a, const na_sharded *b,
                              const char *const *sum, na_sharded **out)
{
    if (!a || !b || !out)
        return na_fail(NA_ERR_ARGUMENT, "na_sharded_contract: NULL %s",
                       !a ? "a" : !b ? "b" : "out");
    const char *reduce[NA_MAX_DIMS];
    int nred = 0;
    na_array *y = NULL;
    na_status local = plan_contract(a, b, sum, reduce, &nred);
    if (local == NA_OK)
        local = na_contract(a->local, b->local, sum, &y);
    /* Every process learns whether every local product worked. */
    na_status st = na__fingerprint_check(na_mesh_comm(a->mesh, NULL), "na_sharded_contract",
                                         NULL, NULL, local);
    for (int i = 0; st == NA_OK && i < nred; i++) {
        na_array *r = NULL;
        st = na_all_reduce(a->mesh, reduce[i], NA_REDUCE_SUM, y, &r);
        na_array_free(y);
        y = r;
    }
    if (st == NA_OK)
        st = new_sharded(a->mesh, y, out);
    else
        na_array_free(y);
    if (st == NA_OK)
        result_layout(a, b, *out);
    return st;
}
