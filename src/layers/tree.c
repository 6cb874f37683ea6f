/* Tree tools: walking, lookup by path, selections and edits, parameter
 * statistics, listing and binding, capture of intermediate values and
 * submodel extraction. */
#include <stdlib.h>
#include <string.h>

#include "layers/layers_internal.h"
#include "namedarr/combinators.h"
#include "namedarr/tree.h"

/* ---- paths ------------------------------------------------------------- */

typedef struct pathbuf {
    char *s;
    size_t len, cap;
} pathbuf;

static na_status path_init(pathbuf *p)
{
    p->cap = 128;
    p->len = 0;
    p->s = malloc(p->cap);
    if (!p->s)
        return na__fail(NA_ERR_NO_MEMORY, "layer tree: out of memory");
    p->s[0] = '\0';
    return NA_OK;
}

/* Append "/name" (or "name" at the root); returns the old length in *mark. */
static na_status path_push(pathbuf *p, const char *name, size_t *mark)
{
    size_t n = strlen(name), need = p->len + n + 2;
    *mark = p->len;
    if (need > p->cap) {
        size_t cap = p->cap * 2 > need ? p->cap * 2 : need;
        char *s = realloc(p->s, cap);
        if (!s)
            return na__fail(NA_ERR_NO_MEMORY, "layer tree: out of memory");
        p->s = s;
        p->cap = cap;
    }
    if (p->len)
        p->s[p->len++] = '/';
    memcpy(p->s + p->len, name, n + 1);
    p->len += n;
    return NA_OK;
}

static void path_pop(pathbuf *p, size_t mark)
{
    p->len = mark;
    p->s[mark] = '\0';
}

/* The child's name, or its index when the type names none. */
static const char *child_name(const na_layer *layer, int i, char *buf, size_t cap)
{
    const char *n = na_layer_child_name(layer, i);
    if (n && *n)
        return n;
    snprintf(buf, cap, "%d", i);
    return buf;
}

/* ---- walking ----------------------------------------------------------- */

static na_status walk_rec(na_layer *layer, pathbuf *p, int depth, na_walk_fn fn,
                          void *ctx)
{
    na_status st = fn(layer, p->s, depth, ctx);
    int n = na_layer_child_count(layer);
    for (int i = 0; st == NA_OK && i < n; i++) {
        na_layer *child = na_layer_child(layer, i);
        if (!child)
            continue;
        char buf[16];
        size_t mark;
        st = path_push(p, child_name(layer, i, buf, sizeof buf), &mark);
        if (st == NA_OK)
            st = walk_rec(child, p, depth + 1, fn, ctx);
        path_pop(p, mark);
    }
    return st;
}

na_status na_tree_walk(na_layer *root, na_walk_fn fn, void *ctx)
{
    if (!root || !fn)
        return na__fail(NA_ERR_ARGUMENT, "na_tree_walk: root and fn are required");
    pathbuf p;
    na_status st = path_init(&p);
    if (st == NA_OK)
        st = walk_rec(root, &p, 0, fn, ctx);
    free(p.s);
    return st;
}

/* Index of the child of `layer` named `name` (or numbered), or -1. */
static int find_child(const na_layer *layer, const char *name)
{
    int n = na_layer_child_count(layer);
    for (int i = 0; i < n; i++) {
        const char *cn = na_layer_child_name(layer, i);
        if (cn && strcmp(cn, name) == 0)
            return i;
    }
    char *end;
    long k = strtol(name, &end, 10);
    if (*name && !*end && k >= 0 && k < n)
        return (int)k;
    return -1;
}

static void fail_no_child(const na_layer *layer, const char *name, const char *path,
                          size_t upto)
{
    if (upto == 0)
        na__fail(NA_ERR_NOT_FOUND, "layer tree: no child '%s' under the root (a %s",
                 name, na_layer_type_name(layer));
    else
        na__fail(NA_ERR_NOT_FOUND, "layer tree: no child '%s' under '%.*s' (a %s",
                 name, (int)upto, path, na_layer_type_name(layer));
    int n = na_layer_child_count(layer);
    if (n == 0)
        na__fail_append(" with no children");
    for (int i = 0; i < n; i++) {
        char buf[16];
        na__fail_append("%s%s", i ? ", " : " with children: ",
                        child_name(layer, i, buf, sizeof buf));
    }
    na__fail_append(") looking up \"%s\"", path);
}

/* Resolve a path; *parent / *index say where the layer hangs (NULL / -1
 * for the root). */
static na_layer *resolve(na_layer *root, const char *path, na_layer **parent,
                         int *index)
{
    *parent = NULL;
    *index = -1;
    na_layer *cur = root;
    const char *p = path ? path : "";
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        char name[256];
        if (n == 0 || n >= sizeof name) {
            na__fail(NA_ERR_ARGUMENT, "layer tree: bad path \"%s\"", path);
            return NULL;
        }
        memcpy(name, p, n);
        name[n] = '\0';
        int i = find_child(cur, name);
        if (i < 0 || !na_layer_child(cur, i)) {
            fail_no_child(cur, name, path, p > path ? (size_t)(p - path - 1) : 0);
            return NULL;
        }
        *parent = cur;
        *index = i;
        cur = na_layer_child(cur, i);
        p += n + (slash ? 1 : 0);
    }
    return cur;
}

na_layer *na_tree_get(na_layer *root, const char *path)
{
    if (!root) {
        na__fail(NA_ERR_ARGUMENT, "na_tree_get: root is NULL");
        return NULL;
    }
    na_layer *parent;
    int index;
    return resolve(root, path, &parent, &index);
}

/* ---- selections -------------------------------------------------------- */

typedef struct site {
    na_layer *parent;   /* NULL: the root slot                              */
    int index;
    bool dead;
    char *path;
} site;

struct na_selection {
    na_layer **root;
    int count, cap;
    site *items;
    bool stale;         /* paths need recomputing after an edit            */
};

static na_layer **site_slot(const na_selection *sel, const site *s)
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
        site *items = realloc(sel->items, (size_t)cap * sizeof *items);
        if (!items)
            return na__fail(NA_ERR_NO_MEMORY, "layer selection: out of memory");
        sel->items = items;
        sel->cap = cap;
    }
    char *p = na__strdup("layer selection", path);
    if (!p)
        return NA_ERR_NO_MEMORY;
    sel->items[sel->count++] = (site){parent, index, false, p};
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

static na_status select_rec(na_selection *sel, const matcher *m, na_layer *parent,
                            int index, na_layer *layer, pathbuf *p)
{
    if (matches(m, layer, p->s))
        return sel_add(sel, parent, index, p->s);
    na_status st = NA_OK;
    int n = na_layer_child_count(layer);
    for (int i = 0; st == NA_OK && i < n; i++) {
        na_layer *child = na_layer_child(layer, i);
        if (!child)
            continue;
        char buf[16];
        size_t mark;
        st = path_push(p, child_name(layer, i, buf, sizeof buf), &mark);
        if (st == NA_OK)
            st = select_rec(sel, m, layer, i, child, p);
        path_pop(p, mark);
    }
    return st;
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
    pathbuf p = {0};
    if (st == NA_OK)
        st = path_init(&p);
    if (st == NA_OK)
        st = select_rec(*out, m, NULL, -1, *root, &p);
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
    if (!resolve(*root, path, &parent, &index))
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
    na_layer **slot = site_slot(sel, &sel->items[i]);
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
        site *s = &sel->items[k];
        if (s->dead || s->parent != layer)
            continue;
        char buf[16];
        const char *cn = child_name(layer, s->index, buf, sizeof buf);
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

static na_status refresh_paths(na_selection *sel)
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
    refresh_paths((na_selection *)sel);
    return sel->items[i].path;
}

/* ---- edits ------------------------------------------------------------- */

static na_status check_site(const na_selection *sel, int i, const char *op)
{
    if (!sel)
        return na__fail(NA_ERR_ARGUMENT, "%s: selection is NULL", op);
    if (i < 0 || i >= sel->count)
        return na__fail(NA_ERR_INDEX, "%s: site %d out of range (%d sites)", op, i,
                        sel->count);
    if (sel->items[i].dead)
        return na__fail(NA_ERR_STATE, "%s: site %d ('%s') was removed", op, i,
                        sel->items[i].path);
    return NA_OK;
}

na_status na_selection_replace(na_selection *sel, int i, na_layer *replacement)
{
    na_status st = check_site(sel, i, "na_selection_replace");
    if (st == NA_OK && !replacement)
        st = na__fail(NA_ERR_ARGUMENT, "na_selection_replace: replacement is NULL");
    if (st != NA_OK) {
        na_layer_free(replacement);
        return st;
    }
    na_layer **slot = site_slot(sel, &sel->items[i]);
    na_layer *old = *slot;
    *slot = replacement;
    na_layer_free(old);
    sel->stale = true;
    return NA_OK;
}

/* The current path of live site i (for callbacks). */
static const char *live_path(na_selection *sel, int i)
{
    refresh_paths(sel);
    return sel->items[i].path;
}

na_status na_selection_replace_all(na_selection *sel, na_layer_make_fn make,
                                   void *ctx)
{
    if (!sel || !make)
        return na__fail(NA_ERR_ARGUMENT, "na_selection_replace_all: selection and "
                        "make are required");
    for (int i = 0; i < sel->count; i++) {
        if (sel->items[i].dead)
            continue;
        na_layer *fresh = NULL;
        na_status st = make(na_selection_layer(sel, i), live_path(sel, i), ctx, &fresh);
        if (st == NA_OK && !fresh)
            st = na__fail(NA_ERR_STATE, "na_selection_replace_all: make returned "
                          "no layer for '%s'", sel->items[i].path);
        if (st != NA_OK) {
            na_layer_free(fresh);
            return st;
        }
        if ((st = na_selection_replace(sel, i, fresh)) != NA_OK)
            return st;
    }
    return NA_OK;
}

na_status na_selection_wrap_all(na_selection *sel, na_layer_wrap_fn wrap, void *ctx)
{
    if (!sel || !wrap)
        return na__fail(NA_ERR_ARGUMENT, "na_selection_wrap_all: selection and wrap "
                        "are required");
    for (int i = 0; i < sel->count; i++) {
        if (sel->items[i].dead)
            continue;
        na_layer *spare = NULL;
        if (na_identity_new(&spare) != NA_OK)
            return na_last_status();
        na_layer **slot = site_slot(sel, &sel->items[i]);
        const char *path = live_path(sel, i);
        na_layer *res = NULL;
        na_status st = wrap(*slot, path, ctx, &res);
        slot = site_slot(sel, &sel->items[i]);
        *slot = res ? res : spare;
        if (res)
            na_layer_free(spare);
        sel->stale = true;
        if (st == NA_OK && !res)
            st = na__fail(NA_ERR_STATE, "na_selection_wrap_all: wrap returned no "
                          "layer for '%s'", path);
        if (st != NA_OK)
            return st;
    }
    return NA_OK;
}

/* Sites hanging in `parent` at index >= from move by `delta`. */
static void shift_sites(na_selection *sel, const na_layer *parent, int from, int delta)
{
    for (int k = 0; k < sel->count; k++) {
        site *s = &sel->items[k];
        if (!s->dead && s->parent == parent && s->index >= from)
            s->index += delta;
    }
}

static na_status insert_at(na_selection *sel, int i, na_layer *fresh, bool after)
{
    site *s = &sel->items[i];
    if (na_is_sequential(s->parent)) {
        int at = s->index + (after ? 1 : 0);
        na_status st = na_sequential_insert(s->parent, at, fresh);
        if (st == NA_OK)
            shift_sites(sel, s->parent, at, 1);
        return st;
    }
    na_layer **slot = site_slot(sel, s);
    na_layer *old = *slot, *seq = NULL;
    na_status st = after ? na__sequential_pair(old, fresh, &seq)
                         : na__sequential_pair(fresh, old, &seq);
    if (st != NA_OK) {
        na_layer_free(fresh);
        return st;
    }
    *slot = seq;
    s->parent = seq;
    s->index = after ? 0 : 1;
    return NA_OK;
}

static na_status insert_all(na_selection *sel, na_layer_make_fn make, void *ctx,
                            bool after, const char *op)
{
    if (!sel || !make)
        return na__fail(NA_ERR_ARGUMENT, "%s: selection and make are required", op);
    for (int i = 0; i < sel->count; i++) {
        if (sel->items[i].dead)
            continue;
        na_layer *fresh = NULL;
        na_status st = make(na_selection_layer(sel, i), live_path(sel, i), ctx, &fresh);
        if (st == NA_OK && !fresh)
            st = na__fail(NA_ERR_STATE, "%s: make returned no layer for '%s'", op,
                          sel->items[i].path);
        if (st == NA_OK)
            st = insert_at(sel, i, fresh, after);
        else
            na_layer_free(fresh);
        sel->stale = true;
        if (st != NA_OK)
            return st;
    }
    return NA_OK;
}

na_status na_selection_insert_before(na_selection *sel, na_layer_make_fn make,
                                     void *ctx)
{
    return insert_all(sel, make, ctx, false, "na_selection_insert_before");
}

na_status na_selection_insert_after(na_selection *sel, na_layer_make_fn make,
                                    void *ctx)
{
    return insert_all(sel, make, ctx, true, "na_selection_insert_after");
}

na_status na_selection_remove(na_selection *sel)
{
    if (!sel)
        return na__fail(NA_ERR_ARGUMENT, "na_selection_remove: selection is NULL");
    for (int i = 0; i < sel->count; i++) {
        site *s = &sel->items[i];
        if (s->dead)
            continue;
        na_status st;
        if (na_is_sequential(s->parent)) {
            refresh_paths(sel);
            st = na_sequential_remove(s->parent, s->index, NULL);
            if (st == NA_OK) {
                s->dead = true;
                shift_sites(sel, s->parent, s->index + 1, -1);
            }
        } else {
            na_layer *id = NULL;
            st = na_identity_new(&id);
            if (st == NA_OK)
                st = na_selection_replace(sel, i, id);
        }
        sel->stale = true;
        if (st != NA_OK)
            return st;
    }
    return NA_OK;
}

/* ---- parameters -------------------------------------------------------- */

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
        return st;
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

/* ---- binding ----------------------------------------------------------- */

static int value_index(int n, const na_labeled_array *values, const char *label)
{
    for (int k = 0; k < n; k++)
        if (values[k].label && strcmp(values[k].label, label) == 0)
            return k;
    return -1;
}

static na_status bind_check_values(int n, const na_labeled_array *values)
{
    for (int k = 0; k < n; k++) {
        if (!values[k].label || !values[k].value)
            return na__fail(NA_ERR_ARGUMENT, "na_tree_bind: entry %d has no %s", k,
                            values[k].label ? "value" : "label");
        if (value_index(k, values, values[k].label) >= 0)
            return na__fail(NA_ERR_ARGUMENT, "na_tree_bind: label '%s' given twice",
                            values[k].label);
    }
    return NA_OK;
}

static na_status bind_check(const na_param_list *l, int n,
                            const na_labeled_array *values, unsigned flags)
{
    na_status st = bind_check_values(n, values);
    for (int i = 0; st == NA_OK && i < l->count; i++) {
        const na_param *p = l->items[i].param;
        int k = value_index(n, values, p->label);
        if (k < 0 && !(flags & NA_BIND_ALLOW_MISSING))
            st = na__fail(NA_ERR_NOT_FOUND, "na_tree_bind: no value for parameter "
                          "'%s' %s (at '%s')", p->label, na__shape(p->value),
                          l->items[i].path);
        else if (k >= 0 && (values[k].value->dtype != p->value->dtype ||
                            !na_same_shape(values[k].value, p->value)))
            st = na__fail(NA_ERR_SHAPE, "na_tree_bind: value for '%s' is %s, the "
                          "parameter is %s", p->label, na__shape(values[k].value),
                          na__shape(p->value));
    }
    for (int k = 0; st == NA_OK && k < n; k++) {
        bool used = false;
        for (int i = 0; i < l->count && !used; i++)
            used = strcmp(l->items[i].param->label, values[k].label) == 0;
        if (!used && !(flags & NA_BIND_ALLOW_EXTRA))
            st = na__fail(NA_ERR_NOT_FOUND, "na_tree_bind: no parameter labelled "
                          "'%s' (value %s) in the model", values[k].label,
                          na__shape(values[k].value));
    }
    return st;
}

/* A view of `v` in the dim order of `like` (same named shape). */
static na_status reorder_like(const na_array *v, const na_array *like, na_array **out)
{
    const char *names[NA_MAX_DIMS + 1];
    int n = 0;
    for (int d = 0; d < like->ndim; d++)
        if (like->name[d])
            names[n++] = like->name[d];
    names[n] = NULL;
    if (n == 0)
        return na_array_ref(v, out);
    return na_order_as(v, names, out);
}

na_status na_tree_bind(na_layer *root, int n, const na_labeled_array *values,
                       unsigned flags)
{
    if (n < 0 || (n > 0 && !values))
        return na__fail(NA_ERR_ARGUMENT, "na_tree_bind: bad value list (n = %d)", n);
    na_param_list l;
    na_status st = na_tree_params(root, &l);
    if (st == NA_OK)
        st = bind_check(&l, n, values, flags);
    na_array **fresh = st == NA_OK && l.count ? calloc((size_t)l.count, sizeof *fresh)
                                              : NULL;
    if (st == NA_OK && l.count && !fresh)
        st = na__fail(NA_ERR_NO_MEMORY, "na_tree_bind: out of memory");
    for (int i = 0; st == NA_OK && i < l.count; i++) {
        int k = value_index(n, values, l.items[i].param->label);
        if (k >= 0)
            st = reorder_like(values[k].value, l.items[i].param->value, &fresh[i]);
    }
    for (int i = 0; i < l.count && fresh; i++) {
        if (st == NA_OK && fresh[i])
            na_param_set_value(l.items[i].param, fresh[i]);
        else
            na_array_free(fresh[i]);
    }
    free(fresh);
    na_param_list_clear(&l);
    return st;
}

/* ---- capture ----------------------------------------------------------- */

typedef struct capture_target {
    const na_layer *layer;
    char *name;
} capture_target;

typedef struct capture_entry {
    const char *name;   /* borrowed from the target                         */
    na_value *value;
} capture_entry;

struct na_capture {
    int ntargets, nentries, cap_targets, cap_entries;
    capture_target *targets;
    capture_entry *entries;
    na__call_hook hook;
    int active;
};

static na_status capture_after(void *ctx, na_layer *layer, const na_value *out)
{
    na_capture *c = ctx;
    for (int t = 0; t < c->ntargets; t++) {
        if (c->targets[t].layer != layer)
            continue;
        if (c->nentries == c->cap_entries) {
            int cap = c->cap_entries ? c->cap_entries * 2 : 8;
            capture_entry *e = realloc(c->entries, (size_t)cap * sizeof *e);
            if (!e)
                return na__fail(NA_ERR_NO_MEMORY, "capture: out of memory");
            c->entries = e;
            c->cap_entries = cap;
        }
        na_value *v = na_value_clone(out);
        if (!v)
            return na_last_status();
        c->entries[c->nentries++] = (capture_entry){c->targets[t].name, v};
    }
    return NA_OK;
}

na_status na_capture_new(na_capture **out)
{
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "na_capture_new: out is NULL");
    *out = calloc(1, sizeof **out);
    if (!*out)
        return na__fail(NA_ERR_NO_MEMORY, "na_capture_new: out of memory");
    (*out)->hook.after = capture_after;
    (*out)->hook.ctx = *out;
    return NA_OK;
}

void na_capture_clear(na_capture *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->nentries; i++)
        na_value_free(c->entries[i].value);
    c->nentries = 0;
}

void na_capture_free(na_capture *c)
{
    if (!c)
        return;
    if (c->active)
        na__call_hook_pop(&c->hook);
    na_capture_clear(c);
    for (int t = 0; t < c->ntargets; t++)
        free(c->targets[t].name);
    free(c->targets);
    free(c->entries);
    free(c);
}

na_status na_capture_add(na_capture *c, const na_layer *layer, const char *name)
{
    if (!c || !layer || !name)
        return na__fail(NA_ERR_ARGUMENT, "na_capture_add: capture, layer and name "
                        "are required");
    if (c->ntargets == c->cap_targets) {
        int cap = c->cap_targets ? c->cap_targets * 2 : 8;
        capture_target *t = realloc(c->targets, (size_t)cap * sizeof *t);
        if (!t)
            return na__fail(NA_ERR_NO_MEMORY, "na_capture_add: out of memory");
        c->targets = t;
        c->cap_targets = cap;
    }
    char *nm = na__strdup("na_capture_add", name);
    if (!nm)
        return NA_ERR_NO_MEMORY;
    c->targets[c->ntargets++] = (capture_target){layer, nm};
    return NA_OK;
}

na_status na_capture_add_selection(na_capture *c, const na_selection *sel)
{
    for (int i = 0; i < na_selection_count(sel); i++) {
        na_layer *l = na_selection_layer(sel, i);
        if (!l)
            continue;
        na_status st = na_capture_add(c, l, na_selection_path(sel, i));
        if (st != NA_OK)
            return st;
    }
    return NA_OK;
}

void na_capture_begin(na_capture *c)
{
    if (c && c->active++ == 0)
        na__call_hook_push(&c->hook);
}

void na_capture_end(na_capture *c)
{
    if (c && c->active > 0 && --c->active == 0)
        na__call_hook_pop(&c->hook);
}

na_status na_call_capturing(na_layer *model, const na_value *in,
                            const na_side *side, na_capture *c, na_value **out)
{
    if (!c)
        return na__fail(NA_ERR_ARGUMENT, "na_call_capturing: capture is NULL");
    na_capture_begin(c);
    na_status st = na_layer_call(model, in, side, out);
    na_capture_end(c);
    return st;
}

int na_capture_count(const na_capture *c) { return c ? c->nentries : 0; }

const char *na_capture_name(const na_capture *c, int i)
{
    return c && i >= 0 && i < c->nentries ? c->entries[i].name : NULL;
}

const na_value *na_capture_value(const na_capture *c, int i)
{
    return c && i >= 0 && i < c->nentries ? c->entries[i].value : NULL;
}

const na_value *na_capture_find(const na_capture *c, const char *name, int nth)
{
    for (int i = 0; c && name && i < c->nentries; i++)
        if (strcmp(c->entries[i].name, name) == 0 && nth-- == 0)
            return c->entries[i].value;
    return NULL;
}

/* ---- submodel extraction ----------------------------------------------- */

typedef struct extract_ctx {
    const na_layer *target;
    na_submodel *sub;
    bool got_out;
} extract_ctx;

static na_status extract_before(void *ctx, na_layer *layer, const na_value *in,
                                const na_side *side)
{
    extract_ctx *e = ctx;
    if (layer != e->target || e->sub->input)
        return NA_OK;
    e->sub->input = na_value_clone(in);
    e->sub->side = e->sub->input ? na_side_clone(side) : NULL;
    return e->sub->side ? NA_OK : na_last_status();
}

static na_status extract_after(void *ctx, na_layer *layer, const na_value *out)
{
    extract_ctx *e = ctx;
    if (layer != e->target || e->got_out)
        return NA_OK;
    e->got_out = true;
    e->sub->output = na_value_clone(out);
    return e->sub->output ? NA_OK : na_last_status();
}

na_status na_call_and_extract_submodel(na_layer *model, const char *path,
                                       const na_value *in, const na_side *side,
                                       na_submodel *out, na_value **model_out)
{
    const char *op = "na_call_and_extract_submodel";
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "%s: out is NULL", op);
    memset(out, 0, sizeof *out);
    if (model_out)
        *model_out = NULL;
    na_layer *target = model ? na_tree_get(model, path) : NULL;
    if (!target)
        return model ? na_last_status()
                     : na__fail(NA_ERR_ARGUMENT, "%s: model is NULL", op);
    out->layer = target;
    out->path = na__strdup(op, path ? path : "");
    if (!out->path)
        return NA_ERR_NO_MEMORY;
    extract_ctx e = {target, out, false};
    na__call_hook hook = {extract_before, extract_after, &e, NULL};
    na__call_hook_push(&hook);
    na_value *y = NULL;
    na_status st = na_layer_call(model, in, side, &y);
    na__call_hook_pop(&hook);
    if (st == NA_OK && !out->input)
        st = na__fail(NA_ERR_NOT_FOUND, "%s: the %s at '%s' was not called", op,
                      na_layer_type_name(target), out->path);
    if (st == NA_OK && model_out)
        *model_out = y;
    else
        na_value_free(y);
    if (st != NA_OK)
        na_submodel_clear(out);
    return st;
}

void na_submodel_clear(na_submodel *s)
{
    if (!s)
        return;
    free(s->path);
    na_value_free(s->input);
    na_side_free(s->side);
    na_value_free(s->output);
    memset(s, 0, sizeof *s);
}
