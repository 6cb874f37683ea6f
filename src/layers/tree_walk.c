/* Tree tools: walking every layer of a tree with its path and depth. */
#include <stdlib.h>
#include <string.h>

#include "layers/tree_internal.h"

static na_status walk_rec(na_layer *layer, na__pathbuf *p, int depth, na_walk_fn fn,
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
        st = na__path_push(p, na__child_name(layer, i, buf, sizeof buf), &mark);
        if (st == NA_OK)
            st = walk_rec(child, p, depth + 1, fn, ctx);
        na__path_pop(p, mark);
    }
    return st;
}

na_status na_tree_walk(na_layer *root, na_walk_fn fn, void *ctx)
{
    if (!root || !fn)
        return na__fail(NA_ERR_ARGUMENT, "na_tree_walk: root and fn are required");
    na__pathbuf p;
    na_status st = na__path_init(&p);
    if (st == NA_OK)
        st = walk_rec(root, &p, 0, fn, ctx);
    free(p.s);
    return st;
}
