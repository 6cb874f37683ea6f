/* Saving a sharded model: each cut parameter gathered whole over its mesh
 * axes, one at a time, and process 0 writes one safetensors file, the
 * file na_safetensors_save_model writes for the unsharded model. */
#include <stdlib.h>

#include "dist_internal.h"
#include "namedarr/safetensors.h"
#include "namedarr/tree.h"

#define WHO "na_dist_save_params"

/* p's whole value on every process of its groups (a new reference). */
static na_status whole_value(const na_mesh *mesh, const na_param *p, na_array **out)
{
    const na__split_note *e = na__split_note_find(p);
    if (!e)
        return na_array_ref(p->value, out);
    const char *axes[NA_MAX_DIMS];
    for (int d = 0; d < p->value->ndim; d++) /* by name: the dim order may differ */
        axes[d] = NULL;
    for (int k = 0; k < e->ndim; k++) {
        int d = na_axis_index(p->value, e->name[k]);
        if (d >= 0)
            axes[d] = e->mesh_axis[k];
    }
    return na__gather_splits(mesh, p->value, axes, out);
}

static na_status gather_all(const na_mesh *mesh, const na_param_list *list, bool keep,
                            const char **labels, na_array **arrays, int *n)
{
    na_status st = NA_OK;
    *n = 0;
    for (int i = 0; st == NA_OK && i < list->count; i++) {
        const na_param *p = list->items[i].param;
        if (p->kind != NA_PARAM)
            continue;
        na_array *w = NULL;
        st = whole_value(mesh, p, &w);
        if (st == NA_OK && keep)
            labels[*n] = p->label, arrays[(*n)++] = w;
        else
            na_array_free(w);
    }
    return st;
}

na_status na_dist_save_params(const na_mesh *mesh, na_layer *model, const char *path)
{
    if (!mesh || !model || !path)
        return na_fail(NA_ERR_ARGUMENT, WHO ": NULL %s", !mesh ? "mesh" : !model ? "model"
                                                                                 : "path");
    bool root = na_mesh_rank(mesh) == 0;
    na_param_list list = {0};
    na_status st = na_tree_params(model, &list);
    const char **labels = calloc((size_t)list.count + 1, sizeof *labels);
    na_array **arrays = calloc((size_t)list.count + 1, sizeof *arrays);
    if (st == NA_OK && (!labels || !arrays))
        st = na_fail(NA_ERR_NO_MEMORY, WHO ": out of memory");
    st = na_dist_agree(mesh, st, WHO);
    int n = 0;
    if (st == NA_OK)
        st = gather_all(mesh, &list, root, labels, arrays, &n);
    na_status wrote = st == NA_OK && root
                          ? na_safetensors_write(path, n, labels, (const na_array *const *)arrays)
                          : NA_OK;
    if (st == NA_OK)
        st = na_dist_agree(mesh, wrote, WHO);
    for (int i = 0; i < n; i++)
        na_array_free(arrays[i]);
    free(labels);
    free(arrays);
    na_param_list_clear(&list);
    return st;
}
