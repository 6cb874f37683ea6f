/* Private to the tree tools (src/layers/tree_*.c): path buffers, path
 * lookup and the inside of a selection. */
#ifndef NAMEDARR_TREE_INTERNAL_H
#define NAMEDARR_TREE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "layers/layers_internal.h"
#include "namedarr/tree.h"

/* ---- paths (tree_path.c) ---- */

/* A growing "a/b/c" path, pushed and popped while walking. */
typedef struct na__pathbuf {
    char *s;
    size_t len, cap;
} na__pathbuf;

na_status na__path_init(na__pathbuf *p);
/* Append "/name" (or "name" at the root); returns the old length in *mark. */
na_status na__path_push(na__pathbuf *p, const char *name, size_t *mark);
void na__path_pop(na__pathbuf *p, size_t mark);
/* Call fn on each child of `layer` (NULL slots skipped) with the child's
 * name pushed on p while it runs; stops at the first error. */
typedef na_status (*na__child_fn)(na_layer *parent, int index, na_layer *child,
                                  void *ctx);
na_status na__path_each_child(na_layer *layer, na__pathbuf *p, na__child_fn fn,
                              void *ctx);
/* The child's name, or its index (written to buf) when the type names none. */
const char *na__child_name(const na_layer *layer, int i, char *buf, size_t cap);
/* Resolve a path; *parent / *index say where the layer hangs (NULL / -1
 * for the root). NULL (and the error set) when a step is missing. */
na_layer *na__tree_resolve(na_layer *root, const char *path, na_layer **parent,
                           int *index);

/* ---- selections (tree_select.c; edited in tree_edit.c) ---- */

typedef struct na__site {
    na_layer *parent;   /* NULL: the root slot                              */
    int index;
    bool dead;
    char *path;
} na__site;

struct na_selection {
    na_layer **root;
    int count, cap;
    na__site *items;
    bool stale;         /* paths need recomputing after an edit            */
};

/* The slot (in the parent, or the root pointer) a site refers to. */
na_layer **na__site_slot(const na_selection *sel, const na__site *s);
/* Recompute the sites' paths if an edit made them stale. */
na_status na__selection_refresh(na_selection *sel);

#endif
