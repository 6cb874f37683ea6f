/* The layers na_dist_shard_model puts around the ones it shards:
 *   AllReduceOutput(child, mesh_axis): child's output summed over the mesh
 *     axis (row-parallel Linear: attention output, MLP down);
 *   AllGatherOutput(child, axis, mesh_axis): child's output gathered along
 *     its split `axis` (the vocab of the head);
 *   ShardedEmbeddingLookup(child, mesh_axis, offset): ids outside this
 *     process's block of the vocabulary look up zeros; summed over the
 *     mesh axis.
 * The mesh is not a field (it is a live MPI object): a clone or a loaded
 * copy has none and says so when called. */
#include <stdlib.h>

#include "dist_internal.h"
#include "dist_layers.h"
#include "namedarr/fields.h"

static na__dist_wrap *as_wrap(na_layer *l) { return (na__dist_wrap *)l; }

/* Call the child; on failure, still meet the others' collective so that
 * they fail with this process's message instead of waiting. */
static na_status child_array(na__dist_wrap *w, const na_value *in, const na_side *side,
                             na_value **res, const na_array **y)
{
    const char *who = w->base.type->name;
    na_status st = w->mesh ? NA_OK
                           : na_fail(NA_ERR_STATE, "%s: no mesh (a clone or a loaded copy "
                                     "of a sharded model? shard the original with "
                                     "na_dist_shard_model)", who);
    if (st == NA_OK)
        st = na_layer_call(w->child, in, side, res);
    if (st == NA_OK && !(*y = na_value_array(*res, who)))
        st = na_last_status();
    if (st != NA_OK && w->mesh)
        na__fingerprint_check(na_mesh_comm(w->mesh, w->mesh_axis), who, NULL, NULL, st);
    return st;
}

static na_status finish_value(na_status st, na_value *res, na_array *y, na_value **out)
{
    na_value_free(res);
    if (st != NA_OK) {
        na_array_free(y);
        return st;
    }
    *out = na_value_from_array(y);
    return *out ? NA_OK : na_fail(NA_ERR_NO_MEMORY, "dist layer: out of memory");
}

static na_status all_reduce_call(na_layer *self, const na_value *in, const na_side *side,
                                 na_value **out)
{
    na__dist_wrap *w = as_wrap(self);
    na_value *res = NULL;
    const na_array *y = NULL;
    na_array *sum = NULL;
    na_status st = child_array(w, in, side, &res, &y);
    if (st == NA_OK)
        st = na_all_reduce(w->mesh, w->mesh_axis, NA_REDUCE_SUM, y, &sum);
    return finish_value(st, res, sum, out);
}

static na_status all_gather_call(na_layer *self, const na_value *in, const na_side *side,
                                 na_value **out)
{
    na__dist_wrap *w = as_wrap(self);
    na_value *res = NULL;
    const na_array *y = NULL;
    na_array *all = NULL;
    na_status st = child_array(w, in, side, &res, &y);
    if (st == NA_OK)
        st = na_all_gather(w->mesh, w->mesh_axis, y, w->axis, &all);
    return finish_value(st, res, all, out);
}

/* ids - offset where inside [0, n), else 0; *inside says which. */
static na_status local_ids(const na_array *ids, int64_t offset, int64_t n, na_array **local,
                           na_array **inside)
{
    na_array *shifted = NULL, *ge = NULL, *lt = NULL, *zero = NULL;
    na_status st = na_binary_scalar(NA_SUB, ids, (double)offset, &shifted);
    if (st == NA_OK)
        st = na_binary_scalar(NA_GE, shifted, 0, &ge);
    if (st == NA_OK)
        st = na_binary_scalar(NA_LT, shifted, (double)n, &lt);
    if (st == NA_OK)
        st = na_binary(NA_LOGICAL_AND, ge, lt, inside);
    if (st == NA_OK)
        st = na_scalar(ids->dtype, 0, &zero);
    if (st == NA_OK)
        st = na_where(*inside, shifted, zero, local);
    na_array *tmp[] = {shifted, ge, lt, zero};
    for (int i = 0; i < 4; i++)
        na_array_free(tmp[i]);
    return st;
}

/* The child's block of the vocabulary: its table's size along vocab_axis. */
static int64_t block_size(const na_layer *child)
{
    na_param *table = NULL;
    const char *vocab = NULL;
    if (na_layer_field_param(child, "table", &table) != NA_OK || !table ||
        na_layer_field_axis(child, "vocab_axis", &vocab) != NA_OK)
        return -1;
    return na_axis_size(table->value, vocab);
}

static na_status lookup_local(na__dist_wrap *w, const na_value *in, const na_side *side,
                              na_array **rows)
{
    const char *who = w->base.type->name;
    const na_array *ids = na_value_array(in, who);
    na_array *local = NULL, *inside = NULL, *zero = NULL;
    int64_t n = block_size(w->child);
    na_status st = !ids ? na_last_status()
                   : n < 0 ? na_fail(NA_ERR_STATE, "%s: the child is not an embedding "
                                     "lookup with a table", who)
                           : local_ids(ids, w->offset, n, &local, &inside);
    na_array *y = NULL;
    if (st == NA_OK)
        st = na_layer_call_array(w->child, local, side, &y);
    if (st == NA_OK)
        st = na_scalar(y->dtype, 0, &zero);
    if (st == NA_OK)
        st = na_where(inside, y, zero, rows);
    na_array *tmp[] = {local, inside, zero, y};
    for (int i = 0; i < 4; i++)
        na_array_free(tmp[i]);
    return st;
}

static na_status lookup_call(na_layer *self, const na_value *in, const na_side *side,
                             na_value **out)
{
    na__dist_wrap *w = as_wrap(self);
    na_array *rows = NULL, *sum = NULL;
    na_status st = w->mesh ? lookup_local(w, in, side, &rows)
                           : na_fail(NA_ERR_STATE, "%s: no mesh (a clone or a loaded copy "
                                     "of a sharded model?)", self->type->name);
    if (st != NA_OK && w->mesh)
        na__fingerprint_check(na_mesh_comm(w->mesh, w->mesh_axis), self->type->name, NULL,
                              NULL, st);
    if (st == NA_OK)
        st = na_all_reduce(w->mesh, w->mesh_axis, NA_REDUCE_SUM, rows, &sum);
    na_array_free(rows);
    return finish_value(st, NULL, sum, out);
}

static const na_field_desc wrap_fields[] = {
    NA_FIELD(na__dist_wrap, child, NA_FIELD_CHILD),
    NA_FIELD_AS("mesh_axis", na__dist_wrap, mesh_axis, NA_FIELD_AXIS, 0),
    NA_FIELD_AS("axis", na__dist_wrap, axis, NA_FIELD_AXIS, NA_FIELD_OMIT_DEFAULT),
    {.name = "offset", .kind = NA_FIELD_INT, .offset = offsetof(na__dist_wrap, offset),
     .flags = NA_FIELD_OMIT_DEFAULT, .dflt = 0},
};

#define WRAP_TYPE(var, type_name, callfn)                                    \
    const na_layer_type var = {.name = type_name, .call = callfn,            \
                               .size = sizeof(na__dist_wrap), .fields = wrap_fields, \
                               .field_count = NA_FIELD_COUNT(wrap_fields)}

WRAP_TYPE(na_all_reduce_output_type, "AllReduceOutput", all_reduce_call);
WRAP_TYPE(na_all_gather_output_type, "AllGatherOutput", all_gather_call);
WRAP_TYPE(na_sharded_lookup_type, "ShardedEmbeddingLookup", lookup_call);

na_status na__dist_wrap_new(const na_layer_type *type, const na_mesh *mesh,
                            const char *mesh_axis, const char *axis, int64_t offset,
                            na_layer *child, na_layer **out)
{
    na_layer *l = NULL;
    na_status st = na_layer_alloc(type, &l);
    if (st != NA_OK)
        return st;
    na__dist_wrap *w = as_wrap(l);
    w->child = child, w->mesh = mesh, w->offset = offset;
    w->mesh_axis = na_intern(mesh_axis);
    w->axis = axis ? na_intern(axis) : NULL;
    *out = l;
    return NA_OK;
}
