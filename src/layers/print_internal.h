/* Pieces of the text printer the HTML view shares (not installed). */
#ifndef NAMEDARR_PRINT_INTERNAL_H
#define NAMEDARR_PRINT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "namedarr/layer.h"
#include "namedarr/print.h"

/* Layers and distinct parameter / state scalars of a subtree (the layer
 * itself included iff `self`); a shared parameter counts once. */
typedef struct na__tree_counts {
    int64_t layers, params, state;
    bool oom; /* out of memory: the counts are incomplete */
} na__tree_counts;

na__tree_counts na__count_subtree(const na_layer *layer, bool self);

/* The "name=" prefix shown before child i of `parent`, or NULL when the
 * name is just the index or the child's NamedGroup name. */
const char *na__child_prefix(const na_layer *parent, int i, const na_layer *child);

/* Whether NA_COLOR_AUTO means colour: never with NO_COLOR set (non-empty),
 * always with FORCE_COLOR or CLICOLOR_FORCE set (non-empty, not "0"), else
 * iff the stream is a terminal (`tty`). */
bool na__auto_color(bool tty);

#endif
