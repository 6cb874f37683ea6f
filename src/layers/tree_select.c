/* Tree tools: selections — the sites (parent and slot) of the layers
 * that match a type, a type name, a predicate or a path. */
#include <stdlib.h>
#include <string.h>

#include "layers/tree_internal.h"

na_layer **na__site_slot(const na_selection *sel, const na__site *s)
{
    if (!s->parent)
        return sel->root;
    return na__layer_child_slot(s->parent, s->index);
}

static na_status sel_add(na_selection *sel, na_layer *parent, int index,
                         const char *path)
{
    if (sel->count == sel->cap) {
        int cap = sel->cap ? sel->cap * 2 : 8;
        na__site *items = realloc(sel->items, (size_t)cap * sizeof *items);
        if (!items)
            return na__fail(NA_ERR_NO_MEMORY, "layer selection: out of memory");
        sel->items = items;
        sel->cap = cap;
    }
    char *p = na__strdup("layer selection", path);
    if (!p)
        return NA_ERR_NO_MEMORY;
    sel->items[sel->count++] = (na__site){parent, index, false, p};
    return NA_OK;
}

typedef struct matcher {
    const na_layer_type *type;
    const char *type_name;
    na_layer_pred pred;
    void *ctx;
} matcher;

static bool matches(const matcher *m, const na_layer *layer, const char *path)
{
    if (m->type)
        return layer->type == m->type;
    if (m->type_name)
        return strcmp(na_layer_type_name(layer), m->type_name) == 0;
    return m->pred(layer, path, m->ctx);
}

typedef struct select_ctx {
    na_selection *sel;
    const matcher *m;
    na__pathbuf *p;
} select_ctx;

/* The outermost matches: a matching layer's subtree is not searched. */
static na_status select_rec(na_layer *parent, int index, na_layer *layer, void *ctx)
{
    select_ctx *s = ctx;
    if (matches(s->m, layer, s->p->s))
        return sel_add(s->sel, parent, index, s->p->s);
    return na__path_each_child(layer, s->p, select_rec, s);
}

static na_status sel_new(na_layer **root, const char *op, na_selection **out)
{
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "%s: out is NULL", op);
    *out = NULL;
    if (!root || !*root)
        return na__fail(NA_ERR_ARGUMENT, "%s: root is NULL", op);
    *out = calloc(1, sizeof **out);
    if (!*out)
        return na__fail(NA_ERR_NO_MEMORY, "%s: out of memory", op);
    (*out)->root = root;
    return NA_OK;
}

static na_status select_with(na_layer **root, const matcher *m, const char *op,
                             na_selection **out)
{
    na_status st = sel_new(root, op, out);
    na__pathbuf p = {0};
    if (st == NA_OK)
        st = na__path_init(&p);
    if (st == NA_OK)
        st = select_rec(NULL, -1, *root, &(select_ctx){*out, m, &p});
    free(p.s);
    if (st != NA_OK && out) {
        na_selection_free(*out);
        *out = NULL;
    }
    return st;
}

na_status na_select_type(na_layer **root, const na_layer_type *type,
                         na_selection **out)
{
    if (!type)
        return na__fail(NA_ERR_ARGUMENT, "na_select_type: type is NULL");
    matcher m = {.type = type};
    return select_with(root, &m, "na_select_type", out);
}

na_status na_select_type_name(na_layer **root, const char *type_name,
                              na_selection **out)
{
    if (!type_name)
        return na__fail(NA_ERR_ARGUMENT, "na_select_type_name: name is NULL");
    matcher m = {.type_name = type_name};
    return select_with(root, &m, "na_select_type_name", out);
}

na_status na_select_where(na_layer **root, na_layer_pred pred, void *ctx,
                          na_selection **out)
{
    if (!pred)
        return na__fail(NA_ERR_ARGUMENT, "na_select_where: pred is NULL");
    matcher m = {.pred = pred, .ctx = ctx};
    return select_with(root, &m, "na_select_where", out);
}

na_status na_select_path(na_layer **root, const char *path, na_selection **out)
{
    na_status st = sel_new(root, "na_select_path", out);
    if (st != NA_OK)
        return st;
    na_layer *parent;
    int index;
    if (!na__tree_resolve(*root, path, &parent, &index))
        st = na_last_status();
    else
        st = sel_add(*out, parent, index, path ? path : "");
    if (st != NA_OK) {
        na_selection_free(*out);
        *out = NULL;
    }
    return st;
}

void na_selection_free(na_selection *sel)
{
    if (!sel)
        return;
    for (int i = 0; i < sel->count; i++)
        free(sel->items[i].path);
    free(sel->items);
    free(sel);
}

int na_selection_count(const na_selection *sel) { return sel ? sel->count : 0; }

na_layer *na_selection_layer(const na_selection *sel, int i)
{
    if (!sel || i < 0 || i >= sel->count || sel->items[i].dead)
        return NULL;
    na_layer **slot = na__site_slot(sel, &sel->items[i]);
    return slot ? *slot : NULL;
}

/* Recompute site paths: walk the tree, and for each layer that is a site's
 * parent, name the site from the parent's path. */
static na_status refresh_visit(na_layer *layer, const char *path, int depth,
                               void *ctx)
{
    (void)depth;
    na_selection *sel = ctx;
    for (int k = 0; k < sel->count; k++) {
        na__site *s = &sel->items[k];
        if (s->dead || s->parent != layer)
            continue;
        char buf[16];
        const char *cn = na__child_name(layer, s->index, buf, sizeof buf);
        size_t n = strlen(path) + strlen(cn) + 2;
        char *np = malloc(n);
        if (!np)
            return na__fail(NA_ERR_NO_MEMORY, "layer selection: out of memory");
        snprintf(np, n, "%s%s%s", path, *path ? "/" : "", cn);
        free(s->path);
        s->path = np;
    }
    return NA_OK;
}

na_status na__selection_refresh(na_selection *sel)
{
    if (!sel->stale)
        return NA_OK;
    for (int k = 0; k < sel->count; k++) {
        if (!sel->items[k].dead && !sel->items[k].parent)
            sel->items[k].path[0] = '\0';
    }
    na_status st = na_tree_walk(*sel->root, refresh_visit, sel);
    if (st == NA_OK)
        sel->stale = false;
    return st;
}

const char *na_selection_path(const na_selection *sel, int i)
{
    if (!sel || i < 0 || i >= sel->count)
        return NULL;
    na__selection_refresh((na_selection *)sel);
    return sel->items[i].path;
}
