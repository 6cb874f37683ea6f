/* Tree tools: listing the parameters and state of a tree (a shared
 * parameter once) and counting them. */
#include <stdlib.h>
#include <string.h>

#include "layers/tree_internal.h"

typedef struct collect_ctx {
    na_param_list *list;
} collect_ctx;

static int list_find(const na_param_list *l, const na_param *p)
{
    for (int i = 0; i < l->count; i++)
        if (l->items[i].param == p)
            return i;
    return -1;
}

static na_status list_add(na_param_list *l, na_param *p, const char *path)
{
    if ((l->count & (l->count - 1)) == 0) { /* grow at powers of two */
        int cap = l->count ? l->count * 2 : 8;
        na_param_entry *items = realloc(l->items, (size_t)cap * sizeof *items);
        if (!items)
            return na__fail(NA_ERR_NO_MEMORY, "na_tree_params: out of memory");
        l->items = items;
    }
    char *pc = na__strdup("na_tree_params", path);
    if (!pc)
        return NA_ERR_NO_MEMORY;
    l->items[l->count++] = (na_param_entry){na_param_retain(p), pc, 1};
    return NA_OK;
}

static na_status collect_visit(na_layer *layer, const char *path, int depth, void *ctx)
{
    (void)depth;
    na_param_list *l = ctx;
    int n = na_layer_param_count(layer);
    for (int i = 0; i < n; i++) {
        na_param *p = na_layer_param(layer, i);
        if (!p)
            continue;
        int k = list_find(l, p);
        if (k >= 0) {
            l->items[k].uses++;
            continue;
        }
        na_status st = list_add(l, p, path);
        if (st != NA_OK)
            return st;
    }
    return NA_OK;
}

na_status na_tree_params(const na_layer *root, na_param_list *out)
{
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "na_tree_params: out is NULL");
    memset(out, 0, sizeof *out);
    if (!root)
        return na__fail(NA_ERR_ARGUMENT, "na_tree_params: root is NULL");
    na_status st = na_tree_walk((na_layer *)root, collect_visit, out);
    if (st != NA_OK)
        na_param_list_clear(out);
    return st;
}

void na_param_list_clear(na_param_list *list)
{
    if (!list)
        return;
    for (int i = 0; i < list->count; i++) {
        na_param_release(list->items[i].param);
        free(list->items[i].path);
    }
    free(list->items);
    memset(list, 0, sizeof *list);
}

na_status na_tree_param_stats(const na_layer *root, na_param_stats *out)
{
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "na_tree_param_stats: out is NULL");
    memset(out, 0, sizeof *out);
    na_param_list l;
    na_status st = na_tree_params(root, &l);
    if (st != NA_OK)
        return na__fail_in("na_tree_param_stats", st);
    for (int i = 0; i < l.count; i++) {
        const na_param *p = l.items[i].param;
        int64_t n = p->value ? na_size(p->value) : 0;
        if (p->kind == NA_STATE) {
            out->state_elements += n;
            out->states++;
        } else {
            out->param_elements += n;
            out->params++;
        }
        out->shared += l.items[i].uses > 1;
    }
    na_param_list_clear(&l);
    return NA_OK;
}

int64_t na_tree_param_count(const na_layer *root)
{
    na_param_stats s;
    return na_tree_param_stats(root, &s) == NA_OK ? s.param_elements : -1;
}
