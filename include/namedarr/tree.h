/* namedarr/tree.h — tools that walk, search, edit and inspect a layer tree
 * without knowing its layer types (after Penzai's selectors).
 *
 * Paths are built from child names: "block_0/mlp/up" (the root's path is
 * ""; a numeric component always picks a child by index). Selections hold
 * *slots* (where each selected layer hangs in its parent, or the root
 * variable itself), so an edit works anywhere, the root included:
 *
 *   na_selection *sel = NULL;
 *   na_select_type_name(&model, "Softmax", &sel);     // every Softmax
 *   na_selection_insert_before(sel, make_check, NULL); // ... put a layer before each
 *   na_selection_free(sel);
 *
 *   int64_t n = na_tree_param_count(model);           // shared ones once
 *
 *   na_capture *cap = NULL;                           // save intermediates
 *   na_capture_new(&cap);
 *   na_capture_add(cap, na_tree_get(model, "block_0/attn"), "attn");
 *   na_call_capturing(model, x, side, cap, &y);
 *   const na_value *a = na_capture_find(cap, "attn", 0);
 *
 * Selecting is outermost-first: once a layer matches, its subtree is not
 * searched (so no selected layer lies inside another). Edits keep the
 * selection usable: sites move with insertions and removals; a site whose
 * layer was removed from a Sequential is dead (its layer reads NULL). The
 * variable passed as `root` must outlive the selection.
 */
#ifndef NAMEDARR_TREE_H
#define NAMEDARR_TREE_H

#include "namedarr/layer.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default) /* the na_ API; the rest is hidden */

/* ---- walking and lookup ------------------------------------------------ */

/* Called for every layer in pre-order (parent before children); `path` is
 * valid during the call; `depth` is 0 at the root. A non-OK return stops
 * the walk and is returned by na_tree_walk. */
typedef na_status (*na_walk_fn)(na_layer *layer, const char *path, int depth,
                                void *ctx);
na_status na_tree_walk(na_layer *root, na_walk_fn fn, void *ctx);

/* The layer at `path` (borrowed), or NULL with an NA_ERR_NOT_FOUND error
 * naming the first missing component and the children that exist. */
na_layer *na_tree_get(na_layer *root, const char *path);

/* ---- selections -------------------------------------------------------- */

typedef struct na_selection na_selection; /* opaque */

typedef bool (*na_layer_pred)(const na_layer *layer, const char *path, void *ctx);

/* Every (outermost) layer of the given type / type name / matching pred. An
 * empty selection is not an error. */
na_status na_select_type(na_layer **root, const na_layer_type *type,
                         na_selection **out);
na_status na_select_type_name(na_layer **root, const char *type_name,
                              na_selection **out);
na_status na_select_where(na_layer **root, na_layer_pred pred, void *ctx,
                          na_selection **out);
/* Exactly the layer at `path` (error if absent). */
na_status na_select_path(na_layer **root, const char *path, na_selection **out);

int na_selection_count(const na_selection *sel);
/* The layer at site i (borrowed), NULL if the site is dead. */
na_layer *na_selection_layer(const na_selection *sel, int i);
/* The path of site i as it is now. */
const char *na_selection_path(const na_selection *sel, int i);
void na_selection_free(na_selection *sel);

/* ---- edits ------------------------------------------------------------- */

/* Build a new layer for the site holding `target` (borrowed: do not keep
 * it, but you may retain its parameters to share them). */
typedef na_status (*na_layer_make_fn)(na_layer *target, const char *path,
                                      void *ctx, na_layer **out);
/* Wrap: take ownership of `old` and return a layer to put in its place
 * (usually one that contains `old`). On failure, hand `old` back in *out if
 * you still own it; if you do not, the site gets an Identity. */
typedef na_status (*na_layer_wrap_fn)(na_layer *old, const char *path, void *ctx,
                                      na_layer **out);

/* Replace site i by `replacement` (owned; freed on failure); the old layer
 * is freed. */
na_status na_selection_replace(na_selection *sel, int i, na_layer *replacement);
/* Replace every live site by make(old); stops at the first failure (the
 * sites before it are already replaced). */
na_status na_selection_replace_all(na_selection *sel, na_layer_make_fn make,
                                   void *ctx);
/* Wrap every live site: site = wrap(site). */
na_status na_selection_wrap_all(na_selection *sel, na_layer_wrap_fn wrap, void *ctx);
/* Insert make(site) before / after every live site: into the parent when the
 * parent is a Sequential or NamedGroup, else by putting a new
 * Sequential(new, site) / Sequential(site, new) in the site's slot. */
na_status na_selection_insert_before(na_selection *sel, na_layer_make_fn make,
                                     void *ctx);
na_status na_selection_insert_after(na_selection *sel, na_layer_make_fn make,
                                    void *ctx);
/* Remove every live site: taken out of a Sequential / NamedGroup parent
 * (the site becomes dead), elsewhere replaced by an Identity. */
na_status na_selection_remove(na_selection *sel);

/* ---- parameters -------------------------------------------------------- */

/* Unique parameters (NA_PARAM) and state (NA_STATE) of a subtree: a
 * parameter shared by several layers is counted once. */
typedef struct na_param_stats {
    int64_t param_elements;  /* scalars in NA_PARAM parameters              */
    int64_t state_elements;  /* scalars in NA_STATE variables               */
    int params, states;      /* how many distinct ones                      */
    int shared;              /* distinct ones referenced more than once     */
} na_param_stats;

na_status na_tree_param_stats(const na_layer *root, na_param_stats *out);
/* Scalars in the subtree's distinct NA_PARAM parameters (-1 on OOM). */
int64_t na_tree_param_count(const na_layer *root);

typedef struct na_param_entry {
    na_param *param;   /* a reference held by the list                     */
    char *path;        /* path of the first layer that holds it            */
    int uses;          /* how many times the tree references it (>1: shared) */
} na_param_entry;

typedef struct na_param_list {
    int count;
    na_param_entry *items;
} na_param_list;

/* Every distinct parameter and state variable, in pre-order of first use. */
na_status na_tree_params(const na_layer *root, na_param_list *out);
void na_param_list_clear(na_param_list *list);

typedef struct na_labeled_array {
    const char *label;
    const na_array *value;
} na_labeled_array;

enum {
    NA_BIND_STRICT = 0,        /* every parameter bound, every label used    */
    NA_BIND_ALLOW_MISSING = 1, /* parameters without a value keep theirs     */
    NA_BIND_ALLOW_EXTRA = 2,   /* values without a parameter are ignored     */
    NA_BIND_ALLOW_UNUSED = NA_BIND_ALLOW_EXTRA /* Penzai's allow_unused      */
};

/* Bind values into the tree's parameters by label (all parameters with the
 * label, state included). The value must have the parameter's dtype and
 * named shape (axis order may differ: it is reordered to the parameter's
 * order, as a view that shares the caller's storage). Everything is checked
 * before anything changes: a missing, extra, repeated or mis-shaped label
 * fails with the label and both shapes in the message. */
na_status na_tree_bind(na_layer *root, int n, const na_labeled_array *values,
                       unsigned flags);

/* ---- calling with temporary variables (Penzai's stateless_call) -------- */

/* State values handed back by na_stateless_call (owned by the list). */
typedef struct na_state_list {
    int count;
    char **labels;
    na_array **values;
} na_state_list;
void na_state_list_clear(na_state_list *list);

/* Call `layer` with temporary values for some of its parameters and state
 * variables, by label (each checked against the variable's dtype and named
 * shape; axis order may differ), and leave the layer exactly as it was:
 * its parameters keep their values and its state is not advanced (state
 * runs on private copies). `new_state` (optional) receives every state
 * variable's value after the call — for a KV-caching attention, the cache
 * as a normal call would have left it. Errors: an unknown or repeated
 * label, a mis-shaped value. Not safe to run concurrently with other calls
 * of the same layer. */
na_status na_stateless_call(na_layer *layer, int n, const na_labeled_array *values,
                            const na_value *in, const na_side *side, na_value **out,
                            na_state_list *new_state);

/* ---- capturing intermediate values (Penzai's save_intermediates) ------- */

typedef struct na_capture na_capture; /* opaque */

na_status na_capture_new(na_capture **out);
void na_capture_free(na_capture *c);
/* Record the outputs of `layer` under `name` (copied) while capturing. */
na_status na_capture_add(na_capture *c, const na_layer *layer, const char *name);
/* Record every live layer of a selection, named by its path. */
na_status na_capture_add_selection(na_capture *c, const na_selection *sel);
/* Capture on this thread between begin and end (pairs must nest). */
void na_capture_begin(na_capture *c);
void na_capture_end(na_capture *c);
/* Call `model` while capturing (begin + na_layer_call + end). */
na_status na_call_capturing(na_layer *model, const na_value *in,
                            const na_side *side, na_capture *c, na_value **out);
/* The recorded values, in call order (a layer called twice records twice). */
int na_capture_count(const na_capture *c);
const char *na_capture_name(const na_capture *c, int i);
const na_value *na_capture_value(const na_capture *c, int i);
/* The nth value recorded under `name`, or NULL. */
const na_value *na_capture_find(const na_capture *c, const char *name, int nth);
/* Forget the recorded values (the targets stay). */
void na_capture_clear(na_capture *c);

/* ---- isolating a submodel (Penzai's call_and_extract_submodel) --------- */

typedef struct na_submodel {
    na_layer *layer;   /* borrowed: it still lives inside the model         */
    char *path;
    na_value *input;   /* what it received on its first call                */
    na_side *side;     /* a copy of the side inputs of that call            */
    na_value *output;  /* what it returned then                             */
} na_submodel;

/* Call `model` and isolate the layer at `path` with the input and side
 * inputs it received (its first call), so it can be run and studied alone.
 * `model_out` (optional) receives the model's output. Error if the path
 * does not exist or the layer was never called. */
na_status na_call_and_extract_submodel(na_layer *model, const char *path,
                                       const na_value *in, const na_side *side,
                                       na_submodel *out, na_value **model_out);
void na_submodel_clear(na_submodel *s);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
