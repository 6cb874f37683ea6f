/* Internal helpers shared by src/layers (not installed). Prefix na__. */
#ifndef NAMEDARR_LAYERS_INTERNAL_H
#define NAMEDARR_LAYERS_INTERNAL_H

#include "core/internal.h"
#include "namedarr/fields.h"
#include "namedarr/layer.h"

/* ---- printer fields (layer.c) ---------------------------------------- */

typedef enum na__field_kind {
    NA__FIELD_INT, NA__FIELD_FLOAT, NA__FIELD_BOOL, NA__FIELD_STR,
    NA__FIELD_NAMES, NA__FIELD_ARRAY
} na__field_kind;

typedef struct na__field {
    char *key;
    na__field_kind kind;
    char *text;              /* preformatted: 3, 1.5, true, "s", [a, b], f32[..] */
} na__field;

struct na_fields {
    int count, cap;
    na__field *items;
    bool oom;                /* an allocation failed: some fields are missing */
};

void na__fields_init(na_fields *f);
void na__fields_clear(na_fields *f);
/* Run layer->type->describe (if any) into a fresh field list. */
void na__fields_describe(const na_layer *layer, na_fields *f);

/* ---- call hooks (layer.c): consulted by na_layer_call ------------------ */

/* Observers of every na_layer_call on the current thread, innermost first.
 * `before` sees the input and side inputs, `after` the output; a failing
 * hook fails the call. Push/pop must pair (LIFO). */
typedef struct na__call_hook {
    na_status (*before)(void *ctx, na_layer *layer, const na_value *in,
                        const na_side *side);
    na_status (*after)(void *ctx, na_layer *layer, const na_value *out);
    void *ctx;
    struct na__call_hook *next;
} na__call_hook;

void na__call_hook_push(na__call_hook *hook);
void na__call_hook_pop(na__call_hook *hook);

/* ---- call frames (call_path.c): the layers being called, per thread -- */

typedef struct na__call_frame {
    na_layer *layer;
    struct na__call_frame *prev;    /* the caller's frame; NULL outermost */
} na__call_frame;

void na__call_frame_push(na__call_frame *frame, na_layer *layer);
void na__call_frame_pop(na__call_frame *frame);
/* The path of frame's layer from the outermost call, written to buf
 * ("block_1/attention/query_key_to_attn"; "" for the outermost layer). */
const char *na__call_path(const na__call_frame *frame, char *buf, size_t cap);
/* Is any hook pushed on this thread? (the fused path must then not fuse) */
bool na__call_hooks_active(void);

/* ---- declared fields (fields.c, field_set.c) ---------------------------- */

/* Does the layer's type declare its fields (size > 0)? Legacy types do not. */
bool na__layer_declared(const na_layer *layer);
/* The address of child slot i (replaceable by tree tools), or NULL. */
na_layer **na__layer_child_slot(na_layer *layer, int i);
int na__fields_child_count(const na_layer *layer);
na_layer **na__fields_child_slot(na_layer *layer, int i);
const char *na__fields_child_name(const na_layer *layer, int i);
int na__fields_param_count(const na_layer *layer);
na_param *na__fields_param_at(const na_layer *layer, int i);
int na__field_children_count(const na_layer *layer, const na_field_desc *f);
/* Free what one field owns and zero it; all of them. */
void na__field_clear(na_layer *layer, const na_field_desc *f);
void na__fields_free(na_layer *layer);
/* The name of an enum value ("unknown" when out of range). */
const char *na__field_enum_name(const na_field_desc *f, int v);
/* The field `name` of `layer`, which must be of kind `kind` (PARAM also
 * accepts STATE); an error naming `op`, the type and the field if not. */
na_status na__field_typed(const char *op, const na_layer *layer, const char *name,
                          na_field_kind kind, na_field_ref *r);
/* A malloc'ed NULL-terminated copy of `names`, interned; NULL on error (an
 * empty or repeated name, out of memory) with a message naming `op`. */
const char **na__names_copy(const char *op, const char *const *names);

/* Sequential(first, second) that does NOT take ownership on failure
 * (combinators.c; the tree tools wrap a layer they must not lose). */
na_status na__sequential_pair(na_layer *first, na_layer *second, na_layer **out);

/* A Linear's contracted input axis names (NULL-terminated, interned), or
 * NULL for another layer or a Linear that renames in place (linear.c;
 * the KV cache sizes its state from them). */
const char *const *na__linear_in_names(const na_layer *layer);

/* strdup that records an out-of-memory error naming `op`. */
char *na__strdup(const char *op, const char *s);

#endif
