/* Tree tools: walking every layer of a tree with its path and depth. */
#include <stdlib.h>
#include <string.h>

#include "layers/tree_internal.h"

typedef struct walk_ctx {
    na__pathbuf *p;
    int depth;
    na_walk_fn fn;
    void *ctx;
} walk_ctx;

static na_status walk_child(na_layer *parent, int index, na_layer *child, void *ctx);

static na_status walk_rec(na_layer *layer, walk_ctx *w)
{
    na_status st = w->fn(layer, w->p->s, w->depth, w->ctx);
    w->depth++;
    if (st == NA_OK)
        st = na__path_each_child(layer, w->p, walk_child, w);
    w->depth--;
    return st;
}

static na_status walk_child(na_layer *parent, int index, na_layer *child, void *ctx)
{
    (void)parent;
    (void)index;
    return walk_rec(child, ctx);
}

na_status na_tree_walk(na_layer *root, na_walk_fn fn, void *ctx)
{
    if (!root || !fn)
        return na__fail(NA_ERR_ARGUMENT, "na_tree_walk: root and fn are required");
    na__pathbuf p;
    na_status st = na__path_init(&p);
    if (st == NA_OK)
        st = walk_rec(root, &(walk_ctx){&p, 0, fn, ctx});
    free(p.s);
    return st;
}
