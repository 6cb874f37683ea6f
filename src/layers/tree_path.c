/* Tree tools: paths ("block_1/attention/query") — building them while
 * walking, and resolving one to the layer it names. */
#include <stdlib.h>
#include <string.h>

#include "layers/tree_internal.h"

na_status na__path_init(na__pathbuf *p)
{
    p->cap = 128;
    p->len = 0;
    p->s = malloc(p->cap);
    if (!p->s)
        return na__fail(NA_ERR_NO_MEMORY, "layer tree: out of memory");
    p->s[0] = '\0';
    return NA_OK;
}

na_status na__path_push(na__pathbuf *p, const char *name, size_t *mark)
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

void na__path_pop(na__pathbuf *p, size_t mark)
{
    p->len = mark;
    p->s[mark] = '\0';
}

na_status na__path_each_child(na_layer *layer, na__pathbuf *p, na__child_fn fn,
                              void *ctx)
{
    na_status st = NA_OK;
    int n = na_layer_child_count(layer);
    for (int i = 0; st == NA_OK && i < n; i++) {
        na_layer *child = na_layer_child(layer, i);
        if (!child)
            continue;
        char buf[16];
        size_t mark;
        st = na__path_push(p, na__child_name(layer, i, buf, sizeof buf), &mark);
        if (st == NA_OK)
            st = fn(layer, i, child, ctx);
        na__path_pop(p, mark);
    }
    return st;
}

const char *na__child_name(const na_layer *layer, int i, char *buf, size_t cap)
{
    const char *n = na_layer_child_name(layer, i);
    if (n && *n)
        return n;
    snprintf(buf, cap, "%d", i);
    return buf;
}

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
                        na__child_name(layer, i, buf, sizeof buf));
    }
    na__fail_append(") looking up \"%s\"", path);
}

na_layer *na__tree_resolve(na_layer *root, const char *path, na_layer **parent,
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
    return na__tree_resolve(root, path, &parent, &index);
}
