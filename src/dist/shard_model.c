/* Sharding a built model in place by its axis names (dist.h):
 * parameters cut to this process's blocks, then the communication the
 * names call for put around the layers that need it. */
#include <stdlib.h>
#include <string.h>

#include "dist_internal.h"
#include "dist_layers.h"
#include "namedarr/fields.h"
#include "namedarr/layers.h"
#include "namedarr/print.h"
#include "namedarr/tree.h"

#define WHO "na_dist_shard_model"

typedef struct shard_ctx {
    const na_mesh *mesh;
    const na_axis_mapping *map;
    na_shard_report *rep;
} shard_ctx;

/* The index that keeps this process's blocks of x's split axes; the
 * count, or -1 (error set) when an axis does not split evenly. */
static int block_index(const shard_ctx *c, const na_param *p, na_index *idx)
{
    const na_array *x = p->value;
    int n = 0;
    for (int d = 0; d < x->ndim; d++) {
        const char *m = x->name[d] ? na_axis_mapping_lookup(c->map, c->mesh, x->name[d])
                                   : NULL;
        if (!m)
            continue;
        int parts = na_mesh_axis_size(c->mesh, m), k = na_mesh_coord(c->mesh, m);
        if (x->shape[d] % parts) {
            na_fail(NA_ERR_SHAPE, WHO ": axis '%s' of '%s' %s does not split into %d "
                    "equal blocks over mesh axis '%s'", x->name[d], p->label,
                    na__dshape(x), parts, m);
            return -1;
        }
        int64_t b = x->shape[d] / parts;
        idx[n++] = NA_RANGE(x->name[d], k * b, (k + 1) * b, 1);
    }
    return n;
}

/* Check every parameter first (nothing changes on error), then cut. */
static na_status cut_params(shard_ctx *c, na_layer *model)
{
    na_param_list list = {0};
    na_status st = na_tree_params(model, &list);
    na_index idx[NA_MAX_DIMS];
    for (int i = 0; st == NA_OK && i < list.count; i++) {
        na_param *p = list.items[i].param;
        if (p->kind == NA_PARAM)
            c->rep->global_params += na_size(p->value);
        if (block_index(c, p, idx) < 0)
            st = NA_ERR_SHAPE;
    }
    for (int i = 0; st == NA_OK && i < list.count; i++) {
        na_param *p = list.items[i].param;
        int n = block_index(c, p, idx);
        na_array *view = NULL, *copy = NULL;
        if (n <= 0)
            continue;
        st = na_index_by(p->value, n, idx, &view);
        if (st == NA_OK)
            st = na_copy(view, &copy);
        na_array_free(view);
        if (st == NA_OK)
            na_param_set_value(p, copy), c->rep->params_split++;
    }
    na_param_list_clear(&list);
    return st;
}

/* The first name of `names` that is split, and its mesh axis. */
static const char *first_split(const shard_ctx *c, const char *const *names,
                               const char **axis)
{
    for (int i = 0; names && names[i]; i++) {
        const char *m = na_axis_mapping_lookup(c->map, c->mesh, names[i]);
        if (m) {
            if (axis)
                *axis = names[i];
            return m;
        }
    }
    return NULL;
}

static bool is_vocab(const char *name) { return name && name == na_intern("vocab"); }

/* What a layer needs: 'R' all-reduce, 'G' all-gather, 'L' sharded lookup. */
static char need(const shard_ctx *c, const na_layer *l, const char **mesh_axis,
                 const char **axis)
{
    const char *const *in = NULL, *const *outn = NULL;
    const char *vocab = NULL;
    *axis = NULL;
    if (na_layer_is(l, &na_linear_type) && na_layer_field_names(l, "in", &in) == NA_OK &&
        na_layer_field_names(l, "out", &outn) == NA_OK) {
        if ((*mesh_axis = first_split(c, in, NULL)))
            return 'R';
        if ((*mesh_axis = first_split(c, outn, axis)) && is_vocab(*axis))
            return 'G';
        return 0;
    }
    bool lookup = na_layer_is(l, &na_embedding_lookup_type);
    if ((lookup || na_layer_is(l, &na_embedding_decode_type)) &&
        na_layer_field_axis(l, "vocab_axis", &vocab) == NA_OK &&
        (*mesh_axis = na_axis_mapping_lookup(c->map, c->mesh, vocab))) {
        *axis = vocab;
        return lookup ? 'L' : 'G';
    }
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
        offset = na_mesh_coord(c->mesh, m) * na_axis_size(table->value, a);
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
    if (!mesh || !map || !model || !*model)
        return na_fail(NA_ERR_ARGUMENT, WHO ": NULL %s",
                       !mesh ? "mesh" : !map ? "map" : "model");
    na_shard_report rep = {0};
    shard_ctx c = {mesh, map, &rep};
    na_status st = cut_params(&c, *model);
    na_selection *sel = NULL;
    if (st == NA_OK)
        st = na_select_where(model, needs_wrap, &c, &sel);
    if (st == NA_OK)
        st = na_selection_wrap_all(sel, wrap_one, &c);
    na_selection_free(sel);
    if (st == NA_OK) {
        rep.local_params = na_tree_param_count(*model);
        if (out)
            *out = rep;
    }
    return st;
}

na_status na_dist_print_model(const na_mesh *mesh, const na_layer *model,
                              const na_shard_report *report, FILE *f)
{
    if (!mesh || !model || !f)
        return na_fail(NA_ERR_ARGUMENT, "na_dist_print_model: NULL %s",
                       !mesh ? "mesh" : !model ? "model" : "f");
    char m[256];
    na_mesh_str(mesh, m, sizeof m);
    int64_t local = na_tree_param_count(model);
    fprintf(f, "%s: %lld parameters here", m, (long long)local);
    if (report && report->global_params)
        fprintf(f, " of %lld (%.1f%%)", (long long)report->global_params,
                100.0 * (double)local / (double)report->global_params);
    fprintf(f, "\n");
    return na_print_tree(model, f, NULL);
}
