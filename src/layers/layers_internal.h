/* Internal helpers shared by src/layers (not installed). Prefix na__. */
#ifndef NAMEDARR_LAYERS_INTERNAL_H
#define NAMEDARR_LAYERS_INTERNAL_H

#include "core/internal.h"
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

/* Sequential(first, second) that does NOT take ownership on failure
 * (combinators.c; the tree tools wrap a layer they must not lose). */
na_status na__sequential_pair(na_layer *first, na_layer *second, na_layer **out);

/* strdup that records an out-of-memory error naming `op`. */
char *na__strdup(const char *op, const char *s);

#endif
