/* Sharding a built model in place by its axis names (dist.h):
 * parameters cut to this process's blocks, then the communication the
 * names call for put around the layers that need it. */
#include <stdlib.h>
#include <string.h>

#include "dist_internal.h"
#include "dist_layers.h"
#include "namedarr/fields.h"
#include "namedarr/layers.h"
#include "namedarr/tree.h"

#define WHO "na_dist_shard_model"

typedef struct shard_ctx {
    const na_mesh *mesh;
    const na_axis_mapping *map;
    na_shard_report *rep;
    bool keep_vocab_split;
} shard_ctx;

/* The index that keeps this process's blocks of x's split axes; the
 * count, or -1 (error set) when a required axis does not split evenly. */
static int block_index(const shard_ctx *c, const na_param *p, na_index *idx)
{
    const na_array *x = p->value;
    const char *split[NA_MAX_DIMS];
    if (na__array_split(c->map, c->mesh, WHO, p->label, x, split) != NA_OK)
        return -1;
    int n = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (!split[d])
            continue;
        int64_t b = x->shape[d] / na_mesh_axis_size(c->mesh, split[d]);
        int64_t k = na_mesh_coord(c->mesh, split[d]);
        idx[n++] = NA_RANGE(x->name[d], k * b, (k + 1) * b, 1);
    }
    return n;
}

/* Every parameter splits evenly (nothing changes otherwise). */
static na_status check_params(shard_ctx *c, const na_param_list *list)
{
    na_index idx[NA_MAX_DIMS];
    for (int i = 0; i < list->count; i++) {
        na_param *p = list->items[i].param;
        if (p->kind == NA_PARAM)
            c->rep->global_params += na_size(p->value);
        if (block_index(c, p, idx) < 0)
            return NA_ERR_SHAPE;
    }
    return NA_OK;
}

static na_status cut_params(shard_ctx *c, const na_param_list *list)
{
    na_index idx[NA_MAX_DIMS];
    na_status st = NA_OK;
    for (int i = 0; st == NA_OK && i < list->count; i++) {
        na_param *p = list->items[i].param;
        const char *split[NA_MAX_DIMS];
        int n = block_index(c, p, idx);
        na_array *view = NULL, *copy = NULL;
        if (n <= 0)
            continue;
        na__array_split(c->map, c->mesh, WHO, p->label, p->value, split);
        st = na__split_note_add(p, split);
        if (st == NA_OK)
            st = na_index_by(p->value, n, idx, &view);
        if (st == NA_OK)
            st = na_copy(view, &copy);
        na_array_free(view);
        if (st == NA_OK)
            na_param_set_value(p, copy), c->rep->params_split++;
    }
    return st;
}

/* The mesh axis that splits one of `names` in parameter p (by the
 * mapping, on p's whole shape), and that name. */
static const char *split_among(const shard_ctx *c, const na_param *p,
                               const char *const *names, const char **axis)
{
    const char *split[NA_MAX_DIMS];
    if (!p || na__array_split(c->map, c->mesh, WHO, p->label, p->value, split) != NA_OK)
        return NULL;
    for (int d = 0; d < p->value->ndim; d++)
        for (int i = 0; split[d] && names && names[i]; i++)
            if (na_intern(names[i]) == p->value->name[d]) {
                if (axis)
                    *axis = p->value->name[d];
                return split[d];
            }
    return NULL;
}

static bool is_vocab(const char *name) { return name && name == na_intern("vocab"); }

/* What a layer needs: 'R' all-reduce, 'G' all-gather, 'L' sharded lookup,
 * decided on its parameters' whole shapes (before they are cut). */
static char need(const shard_ctx *c, const na_layer *l, const char **mesh_axis,
                 const char **axis)
{
    const char *const *in = NULL, *const *outn = NULL;
    const char *vocab = NULL;
    na_param *w = NULL;
    *axis = NULL;
    if (na_layer_is(l, &na_linear_type) && na_layer_field_names(l, "in", &in) == NA_OK &&
        na_layer_field_names(l, "out", &outn) == NA_OK &&
        na_layer_field_param(l, "weights", &w) == NA_OK) {
        if ((*mesh_axis = split_among(c, w, in, NULL)))
            return 'R';
        if ((*mesh_axis = split_among(c, w, outn, axis)) && is_vocab(*axis))
            return c->keep_vocab_split ? 0 : 'G';
        return 0;
    }
    bool lookup = na_layer_is(l, &na_embedding_lookup_type);
    if ((lookup || na_layer_is(l, &na_embedding_decode_type)) &&
        na_layer_field_axis(l, "vocab_axis", &vocab) == NA_OK &&
        na_layer_field_param(l, "table", &w) == NA_OK &&
        (*mesh_axis = split_among(c, w, (const char *const[]){vocab, NULL}, axis)))
        return lookup ? 'L' : c->keep_vocab_split ? 0 : 'G';
    return 0;
}

static bool needs_wrap(const na_layer *l, const char *path, void *ctx)
{
    (void)path;
    const char *m, *a;
    return need(ctx, l, &m, &a) != 0;
}

static na_status wrap_one(na_layer *old, const char *path, void *ctx, na_layer **out)
{
    (void)path;
    shard_ctx *c = ctx;
    const char *m = NULL, *a = NULL;
    char kind = need(c, old, &m, &a);
    const na_layer_type *t = kind == 'R' ? &na_all_reduce_output_type
                             : kind == 'G' ? &na_all_gather_output_type
                                           : &na_sharded_lookup_type;
    int64_t offset = 0;
    if (kind == 'L') {
        na_param *table = NULL;
        na_layer_field_param(old, "table", &table);
        offset = na_mesh_coord(c->mesh, m) * (na_axis_size(table->value, a) /
                                              na_mesh_axis_size(c->mesh, m));
    }
    na_status st = na__dist_wrap_new(t, c->mesh, m, kind == 'G' ? a : NULL, offset, old, out);
    if (st != NA_OK) {
        *out = old;
        return st;
    }
    c->rep->all_reduces += kind == 'R';
    c->rep->all_gathers += kind == 'G';
    c->rep->lookups += kind == 'L';
    return NA_OK;
}

na_status na_dist_shard_model(const na_mesh *mesh, const na_axis_mapping *map,
                              na_layer **model, na_shard_report *out)
{
    return na_dist_shard_model_ex(mesh, map, NULL, model, out);
}

na_status na_dist_shard_model_ex(const na_mesh *mesh, const na_axis_mapping *map,
                                 const na_shard_options *opts, na_layer **model,
                                 na_shard_report *out)
{
    if (!mesh || !map || !model || !*model)
        return na_fail(NA_ERR_ARGUMENT, WHO ": NULL %s",
                       !mesh ? "mesh" : !map ? "map" : "model");
    na_shard_report rep = {0};
    shard_ctx c = {mesh, map, &rep, opts && opts->keep_vocab_split};
    na_param_list list = {0};
    na_status st = na_tree_params(*model, &list);
    if (st == NA_OK)
        st = check_params(&c, &list);
    /* the communication first, decided on the whole shapes; then the cut */
    na_selection *sel = NULL;
    if (st == NA_OK)
        st = na_select_where(model, needs_wrap, &c, &sel);
    if (st == NA_OK)
        st = na_selection_wrap_all(sel, wrap_one, &c);
    na_selection_free(sel);
    if (st == NA_OK)
        st = cut_params(&c, &list);
    na_param_list_clear(&list);
    if (st == NA_OK) {
        rep.local_params = na_tree_param_count(*model);
        if (out)
            *out = rep;
    }
    return st;
}
