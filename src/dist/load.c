/* Sharded loading: each process reads only its blocks of a model's
 * parameters, from a safetensors file holding the whole parameters under
 * their labels (na_safetensors_get_block) or from a Hugging Face directory
 * (na_hf_get_block: row blocks of q/k/v_proj, column blocks of GPT-2's
 * fused c_attn, vocabulary slices of the embedding and head). Which axes
 * are split comes from the mapping applied to each tensor's whole shape,
 * read from the file's header: the same rule as na_dist_shard_model. */
#include <stdlib.h>

#include "dist_internal.h"
#include "namedarr/models.h"
#include "namedarr/safetensors.h"
#include "namedarr/tree.h"

#define WHO "na_dist_load_params"

/* Where whole parameters come from, by label. */
typedef struct source {
    const char *who;
    /* the whole named shape of `label` */
    na_status (*dims)(const void *src, const char *label, int *ndim, na_dim *dims);
    na_status (*block)(const void *src, const char *label, int n, const na_index *ranges,
                       na_array **out);
    const void *src;
} source;

static na_status st_dims(const void *src, const char *label, int *ndim, na_dim *dims)
{
    na_array *v = NULL;
    na_status s = na_safetensors_view(src, label, &v);
    if (s != NA_OK)
        return s;
    *ndim = v->ndim;
    for (int d = 0; d < v->ndim; d++)
        dims[d] = (na_dim){v->name[d], v->shape[d]};
    na_array_free(v); /* names are interned: they outlive the view */
    return NA_OK;
}

static na_status st_block(const void *src, const char *label, int n, const na_index *ranges,
                          na_array **out)
{
    return na_safetensors_get_block(src, label, n, ranges, out);
}

static na_status hf_dims(const void *src, const char *label, int *ndim, na_dim *dims)
{
    return na_hf_param_dims(src, label, ndim, dims);
}

static na_status hf_block(const void *src, const char *label, int n, const na_index *ranges,
                          na_array **out)
{
    return na_hf_get_block(src, label, n, ranges, out);
}

/* *x laid out contiguously in the dim order of `like` (same named shape). */
static na_status in_order_of(const na_array *like, na_array **x)
{
    const char *names[NA_MAX_DIMS + 1];
    bool same = true;
    for (int d = 0; d < like->ndim; d++)
        names[d] = like->name[d], same &= (*x)->name[d] == like->name[d];
    names[like->ndim] = NULL;
    if (same || na_positional_count(like))
        return NA_OK;
    na_array *view = NULL, *copy = NULL;
    na_status s = na_order_as(*x, names, &view);
    if (s == NA_OK)
        s = na_copy(view, &copy);
    na_array_free(view);
    na_array_free(*x);
    *x = copy;
    return s;
}

/* This process's block of p, read from the source (checked against p). */
static na_status read_block(const na_mesh *mesh, const na_axis_mapping *map,
                            const source *src, const na_param *p, na_array **out)
{
    na_dim dims[NA_MAX_DIMS];
    const char *names[NA_MAX_DIMS], *split[NA_MAX_DIMS];
    int64_t sizes[NA_MAX_DIMS];
    int ndim = 0, n = 0;
    na_status s = src->dims(src->src, p->label, &ndim, dims);
    for (int d = 0; d < ndim; d++)
        names[d] = dims[d].name, sizes[d] = dims[d].size;
    if (s == NA_OK)
        s = na__mapping_split(map, mesh, src->who, p->label, ndim, names, sizes, split);
    na_index idx[NA_MAX_DIMS];
    for (int d = 0; s == NA_OK && d < ndim; d++) {
        if (!split[d])
            continue;
        int64_t b = sizes[d] / na_mesh_axis_size(mesh, split[d]);
        int64_t c = na_mesh_coord(mesh, split[d]);
        idx[n++] = NA_RANGE(names[d], c * b, (c + 1) * b, 1);
    }
    if (s == NA_OK)
        s = src->block(src->src, p->label, n, idx, out);
    if (s == NA_OK && (!na_same_shape(*out, p->value) || (*out)->dtype != p->value->dtype)) {
        s = na_fail(NA_ERR_SHAPE, "%s: '%s': the file's block %s does not match the "
                    "parameter %s", src->who, p->label, na__dshape(*out),
                    na__dshape(p->value));
        na_array_free(*out);
        *out = NULL;
    }
    return s == NA_OK ? in_order_of(p->value, out) : s;
}

/* Every parameter's block (an error on any process fails them all), then
 * all set at once. `local` is this process's outcome so far. */
static na_status load_all(const na_mesh *mesh, const na_axis_mapping *map, const source *src,
                          na_layer *model, na_status local)
{
    na_param_list list = {0};
    na_array **blocks = NULL;
    if (local == NA_OK)
        local = na_tree_params(model, &list);
    if (local == NA_OK && !(blocks = calloc((size_t)list.count + 1, sizeof *blocks)))
        local = na_fail(NA_ERR_NO_MEMORY, "%s: out of memory", src->who);
    for (int i = 0; local == NA_OK && i < list.count; i++)
        if (list.items[i].param->kind == NA_PARAM)
            local = read_block(mesh, map, src, list.items[i].param, &blocks[i]);
    na_status s = mesh ? na_dist_agree(mesh, local, src->who) : local;
    for (int i = 0; i < list.count && blocks; i++) {
        if (s == NA_OK && blocks[i])
            na_param_set_value(list.items[i].param, blocks[i]);
        else
            na_array_free(blocks[i]);
    }
    free(blocks);
    na_param_list_clear(&list);
    return s;
}

na_status na_dist_load_params(const na_mesh *mesh, const na_axis_mapping *map,
                              na_layer *model, const char *path)
{
    na_safetensors *st = NULL;
    na_status local = !mesh || !map || !model || !path
                          ? na_fail(NA_ERR_ARGUMENT, WHO ": NULL argument")
                          : na_safetensors_open(path, &st);
    source src = {WHO, st_dims, st_block, st};
    na_status s = load_all(mesh, map, &src, model, local);
    na_safetensors_close(st);
    return s;
}

/* Open, build and shard: the tree's communication and cut, random weights. */
static na_status hf_prepare(const na_mesh *mesh, const na_axis_mapping *map,
                            const na_shard_options *opts, const char *dir,
                            na_hf_checkpoint **c, na_layer **model, na_shard_report *rep)
{
    const char *who = "na_dist_hf_load";
    na_status local = !mesh || !map || !dir || !model
                          ? na_fail(NA_ERR_ARGUMENT, "%s: NULL argument", who)
                          : na_hf_open(dir, c);
    if (local == NA_OK)
        local = na_hf_checkpoint_build(*c, 0, model);
    na_status s = mesh ? na_dist_agree(mesh, local, who) : local;
    if (s == NA_OK) /* collective: every process gets here */
        s = na_dist_shard_model_ex(mesh, map, opts, model, rep);
    return s;
}

na_status na_dist_hf_load(const na_mesh *mesh, const na_axis_mapping *map,
                          const na_shard_options *opts, const char *dir, na_hf_info *info,
                          na_shard_report *report, na_layer **out)
{
    na_hf_checkpoint *c = NULL;
    na_layer *model = NULL;
    na_shard_report rep = {0};
    na_status s = hf_prepare(mesh, map, opts, dir, &c, &model, &rep);
    if (s == NA_OK) {
        source src = {"na_dist_hf_load", hf_dims, hf_block, c};
        s = load_all(mesh, map, &src, model, NA_OK);
    }
    if (s == NA_OK && info)
        *info = *na_hf_checkpoint_info(c);
    na_hf_close(c);
    if (s != NA_OK) {
        na_layer_free(model);
        return s;
    }
    *out = model;
    if (report)
        *report = rep;
    return NA_OK;
}
