/* What na_dist_shard_model cut: for each parameter (and state variable)
 * it split, the mesh axis and the whole size of each dim, so that the
 * printer can show "heads:8/2@model" and saving can gather each tensor
 * whole. One table per process (MPI is used from one thread), keyed by
 * the parameter, which the table retains so that the key cannot be reused
 * by another parameter; entries that only the table still holds are
 * dropped whenever a note is added, and all at na_dist_finalize. */
#include <stdlib.h>
#include <string.h>

#include "dist_internal.h"

static na__split_note *notes;
static int count, cap;

static void drop_unused(void)
{
    int k = 0;
    for (int i = 0; i < count; i++) {
        if (notes[i].param->refcount > 1)
            notes[k++] = notes[i];
        else
            na_param_release(notes[i].param);
    }
    count = k;
}

na_status na__split_note_add(na_param *p, const char *const *split)
{
    drop_unused();
    for (int i = 0; i < count; i++)
        if (notes[i].param == p)
            return na_fail(NA_ERR_STATE, "na_dist_shard_model: '%s' is already sharded",
                           p->label);
    if (count == cap) {
        int c = cap ? 2 * cap : 64;
        na__split_note *n = realloc(notes, (size_t)c * sizeof *n);
        if (!n)
            return na_fail(NA_ERR_NO_MEMORY, "na_dist_shard_model: out of memory");
        notes = n, cap = c;
    }
    na__split_note *e = &notes[count++];
    memset(e, 0, sizeof *e);
    e->param = na_param_retain(p);
    for (int d = 0; d < p->value->ndim; d++) {
        e->name[d] = p->value->name[d];
        e->mesh_axis[d] = split[d];
        e->global[d] = p->value->shape[d];
    }
    e->ndim = p->value->ndim;
    return NA_OK;
}

const na__split_note *na__split_note_find(const na_param *p)
{
    for (int i = 0; p && i < count; i++)
        if (notes[i].param == p)
            return &notes[i];
    return NULL;
}

void na__split_notes_clear(void)
{
    for (int i = 0; i < count; i++)
        na_param_release(notes[i].param);
    free(notes);
    notes = NULL;
    count = cap = 0;
}

size_t na__split_shape_str(const na_mesh *mesh, na_dtype dtype, int ndim,
                           const char *const *names, const int64_t *global,
                           const char *const *mesh_axis, char *buf, size_t cap_)
{
    char tmp[1024];
    size_t n = (size_t)snprintf(tmp, sizeof tmp, "%s[", na_dtype_name(dtype));
    for (int d = 0; d < ndim && n < sizeof tmp; d++) {
        n += (size_t)snprintf(tmp + n, sizeof tmp - n, "%s%s:%lld", d ? ", " : "",
                              names[d] ? names[d] : "", (long long)global[d]);
        if (mesh_axis[d] && n < sizeof tmp)
            n += (size_t)snprintf(tmp + n, sizeof tmp - n, "/%d@%s",
                                  na_mesh_axis_size(mesh, mesh_axis[d]), mesh_axis[d]);
    }
    if (n < sizeof tmp)
        n += (size_t)snprintf(tmp + n, sizeof tmp - n, "]");
    if (buf && cap_)
        snprintf(buf, cap_, "%s", tmp);
    return n;
}
