/* namedarr/combinators.h — layers that say how data flows between layers
 * (after Penzai): Sequential, NamedGroup, Residual, BranchAndAddTogether,
 * BranchAndMultiplyTogether, Identity and CheckStructure.
 *
 *   na_layer *block = NULL;
 *   na_status st = na_named_group_new("block_0",
 *       NA_LAYERS(check, norm, mlp), &block);        // children are owned
 *   na_layer *res = NULL;
 *   st = na_residual_new(block, &res);               // y = block(x) + x
 *
 * Every combinator hands its side inputs unchanged to each sublayer.
 *
 * Ownership: constructors take ownership of the child layers they are
 * given, on success AND on failure (a failed constructor frees them), so
 * calls can be nested without leaks. A NULL child (say, from a failed
 * constructor just before) makes the constructor fail. Free the result with
 * na_layer_free, which frees the whole subtree.
 *
 * Paths: a Sequential (or NamedGroup, BranchAnd*) names child i by its
 * index "i" — or, when the child is a NamedGroup whose name no sibling
 * shares, by that group name, so paths read "block_0/mlp/up". A numeric
 * index always works in a path too. Residual's child is "delta".
 */
#ifndef NAMEDARR_COMBINATORS_H
#define NAMEDARR_COMBINATORS_H

#include "namedarr/layer.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default) /* the na_ API; the rest is hidden */

/* A count and an array literal of layers: na_sequential_new(NA_LAYERS(a, b), &s) */
#define NA_LAYERS(...)                                                       \
    (int)(sizeof((na_layer *[]){__VA_ARGS__}) / sizeof(na_layer *)),         \
        (na_layer *[]){__VA_ARGS__}

/* The layer types, for na_layer_is and the tree tools' selection by type. */
extern const na_layer_type na_sequential_type;
extern const na_layer_type na_named_group_type;
extern const na_layer_type na_residual_type;
extern const na_layer_type na_branch_add_type;
extern const na_layer_type na_branch_mul_type;
extern const na_layer_type na_identity_type;
extern const na_layer_type na_check_structure_type;

/* Sequential: x -> children[0] -> children[1] -> ... (none: identity). */
na_status na_sequential_new(int n, na_layer *const *children, na_layer **out);
/* NamedGroup: a Sequential with a name, shown by the printer. */
na_status na_named_group_new(const char *name, int n, na_layer *const *children,
                             na_layer **out);
/* The group's name (NULL if `layer` is not a NamedGroup). */
const char *na_named_group_name(const na_layer *layer);

/* Edit a Sequential or NamedGroup in place. append/insert take ownership of
 * `child` (freed on failure). insert puts it at `index` (0..count). remove
 * takes child `index` out: it is handed to *out if `out` is not NULL,
 * else freed. */
na_status na_sequential_append(na_layer *seq, na_layer *child);
na_status na_sequential_insert(na_layer *seq, int index, na_layer *child);
na_status na_sequential_remove(na_layer *seq, int index, na_layer **out);
/* True for Sequential and NamedGroup (the list-shaped combinators). */
bool na_is_sequential(const na_layer *layer);

/* Residual: y = delta(x) + x (arrays; names must line up, see na_add). */
na_status na_residual_new(na_layer *delta, na_layer **out);

/* Branches: every branch gets the same input; the outputs (arrays) are
 * summed / multiplied together. At least one branch. */
na_status na_branch_add_new(int n, na_layer *const *branches, na_layer **out);
na_status na_branch_mul_new(int n, na_layer *const *branches, na_layer **out);

/* Identity: returns its input (new headers on the same storage). */
na_status na_identity_new(na_layer **out);

/* CheckStructure: checks the input's named shape and returns it unchanged.
 * `spec` lists the expected named axes, any order, separated by spaces:
 *
 *   "batch:B seq:S embedding:512"
 *
 * A size is an integer (must match exactly) or a dimension variable (a
 * name starting with a letter). A variable is bound by the first axis that
 * uses it in a call and every later axis using it must have the same size
 * ("queries:S keys:S" demands a square). Bindings last one call. The input
 * must have exactly the listed named axes and no positional axes, unless
 * the spec ends with "..." (then other axes are allowed). For a tuple
 * input, give one spec per item separated by commas; variables are shared
 * across items: "seq:S heads:H projection:P, kv_seq:K heads:H projection:P".
 * A bad spec fails at construction; a mismatch at call time names the
 * axis, the expected size (and which axis bound the variable) and the
 * actual size. */
na_status na_check_structure_new(const char *spec, na_layer **out);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
