/* Sharded loading: each process reads only its blocks of a model's
 * parameters from a safetensors file (na_safetensors_get_block). */
#include <stdlib.h>

#include "dist_internal.h"
#include "namedarr/safetensors.h"
#include "namedarr/tree.h"

#define WHO "na_dist_load_params"

/* This process's block of p, read from the file (checked against p). */
static na_status read_block(const na_mesh *mesh, const na_axis_mapping *map,
                            const na_safetensors *st, const na_param *p, na_array **out)
{
    const na_array *x = p->value;
    na_index idx[NA_MAX_DIMS];
    int n = 0;
    for (int d = 0; d < x->ndim; d++) {
        const char *m = x->name[d] ? na_axis_mapping_lookup(map, mesh, x->name[d]) : NULL;
        int64_t b = x->shape[d], c = na_mesh_coord(mesh, m);
        if (m)
            idx[n++] = NA_RANGE(x->name[d], c * b, (c + 1) * b, 1);
    }
    na_status s = na_safetensors_get_block(st, p->label, n, idx, out);
    if (s == NA_OK && (!na_same_shape(*out, x) || (*out)->dtype != x->dtype)) {
        s = na_fail(NA_ERR_SHAPE, WHO ": '%s': the file's block %s does not match the "
                    "parameter %s", p->label, na__dshape(*out), na__dshape(x));
        na_array_free(*out);
        *out = NULL;
    }
    return s;
}

static na_status read_all(const na_mesh *mesh, const na_axis_mapping *map,
                          const na_safetensors *st, const na_param_list *list,
                          na_array **blocks)
{
    na_status s = NA_OK;
    for (int i = 0; s == NA_OK && i < list->count; i++)
        if (list->items[i].param->kind == NA_PARAM)
            s = read_block(mesh, map, st, list->items[i].param, &blocks[i]);
    return s;
}

na_status na_dist_load_params(const na_mesh *mesh, const na_axis_mapping *map,
                              na_layer *model, const char *path)
{
    na_safetensors *st = NULL;
    na_param_list list = {0};
    na_array **blocks = NULL;
    na_status local = !mesh || !map || !model || !path
                          ? na_fail(NA_ERR_ARGUMENT, WHO ": NULL argument")
                          : na_safetensors_open(path, &st);
    if (local == NA_OK)
        local = na_tree_params(model, &list);
    if (local == NA_OK && !(blocks = calloc((size_t)list.count + 1, sizeof *blocks)))
        local = na_fail(NA_ERR_NO_MEMORY, WHO ": out of memory");
    if (local == NA_OK)
        local = read_all(mesh, map, st, &list, blocks);
    /* all or nothing, on every process */
    na_status s = mesh ? na_dist_agree(mesh, local, WHO) : local;
    for (int i = 0; i < list.count && blocks; i++) {
        if (s == NA_OK && blocks[i])
            na_param_set_value(list.items[i].param, blocks[i]);
        else
            na_array_free(blocks[i]);
    }
    free(blocks);
    na_param_list_clear(&list);
    na_safetensors_close(st);
    return s;
}
