/* namedarr/layer.h — the layer protocol: values, side inputs, parameters,
 * and the one call convention every layer follows.
 *
 * A layer is a struct whose first member is an `na_layer` (its type: a
 * table of functions) followed by the layer's own fields. Calling it takes
 * a value (an array or a tuple of values) and the side inputs (a map from a
 * string key to a value) and returns a new value or an error:
 *
 *   na_value *y = NULL;
 *   if (na_layer_call(model, x, side, &y) != NA_OK)
 *       fprintf(stderr, "%s\n", na_last_error());
 *
 * Combinators hand the side inputs to every sublayer; a layer ignores keys
 * it does not use. A layer written outside the library is the same thing:
 * a static na_layer_type plus a struct that starts with na_layer
 * (examples/custom_layer.c).
 *
 * Ownership: na_layer_call's output belongs to the caller. Inputs and side
 * inputs are borrowed. A combinator owns its children: na_layer_free frees
 * the whole subtree. Parameters are reference counted so that one parameter
 * can be shared by two layers (tied embeddings).
 */
#ifndef NAMEDARR_LAYER_H
#define NAMEDARR_LAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "namedarr/array.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- values: an array or a tuple of values ---------------------------- */

typedef enum na_value_kind { NA_VALUE_ARRAY, NA_VALUE_TUPLE } na_value_kind;

typedef struct na_value {
    na_value_kind kind;
    na_array *array;          /* NA_VALUE_ARRAY: owned                        */
    int count;                /* NA_VALUE_TUPLE: number of items               */
    struct na_value **items;  /* NA_VALUE_TUPLE: owned                         */
} na_value;

/* Wrap an array: the value takes ownership of `x` (NULL on OOM, x freed). */
na_value *na_value_from_array(na_array *x);
/* Wrap a new reference to `x` (the caller keeps its own). */
na_value *na_value_ref_array(const na_array *x);
/* A tuple that takes ownership of `items` (each item; the pointer array is
 * copied). NULL on OOM (items freed). */
na_value *na_value_tuple(int count, na_value *const *items);
/* A deep-enough copy: new array headers sharing storage. */
na_value *na_value_clone(const na_value *v);
void na_value_free(na_value *v);
/* The array of an array value, or NULL (with an error naming `op`). */
const na_array *na_value_array(const na_value *v, const char *op);
/* Item i of a tuple value, or NULL (with an error naming `op`). */
const na_value *na_value_item(const na_value *v, int i, const char *op);
/* Print "f32[seq:8, heads:4]" or "(f32[...], f32[...])". */
size_t na_value_shape_str(const na_value *v, char *buf, size_t cap);

/* ---- side inputs: string key -> value --------------------------------- */

typedef struct na_side na_side; /* opaque */

na_side *na_side_new(void);
void na_side_free(na_side *side);
/* Set `key` to a new reference to array `x` (replacing any old value). */
na_status na_side_set_array(na_side *side, const char *key, const na_array *x);
/* Set `key` to `v`, taking ownership of v. */
na_status na_side_set(na_side *side, const char *key, na_value *v);
/* Remove a key (no error if absent). */
void na_side_remove(na_side *side, const char *key);
/* Look up a key; NULL if absent (side may be NULL: no side inputs). */
const na_value *na_side_get(const na_side *side, const char *key);
/* The array under `key`, or NULL with a clear error naming `layer_name`
 * and the key ("ApplyAttentionMask: side input 'attn_mask' is missing"). */
const na_array *na_side_require_array(const na_side *side, const char *key,
                                      const char *layer_name);
int na_side_count(const na_side *side);
const char *na_side_key(const na_side *side, int i);
/* A copy of the map (values cloned: new headers sharing storage); NULL on
 * OOM. A NULL `side` gives an empty map. */
na_side *na_side_clone(const na_side *side);

/* ---- parameters and state --------------------------------------------- */

typedef enum na_param_kind { NA_PARAM, NA_STATE } na_param_kind;

/* A labelled named array. Parameters are learned weights; state variables
 * (a KV cache, a counter) may be updated by a call. Reference counted: a
 * layer that shares a parameter holds its own reference. */
typedef struct na_param {
    long refcount;
    na_param_kind kind;
    char *label;          /* "block_0/mlp/up.weights"                        */
    na_array *value;      /* owned                                            */
} na_param;

/* A new parameter owning `value` (refcount 1). NULL on OOM (value freed). */
na_param *na_param_new(const char *label, na_param_kind kind, na_array *value);
na_param *na_param_retain(na_param *p);
void na_param_release(na_param *p);
/* Replace the value (takes ownership of `value`; frees the old one). */
void na_param_set_value(na_param *p, na_array *value);
/* Replace the label (copied). */
na_status na_param_set_label(na_param *p, const char *label);

/* ---- printer fields --------------------------------------------------- */

/* A layer describes its configuration as a list of fields for the
 * pretty-printer: `Linear(in=[embedding], out=[heads, projection])`. */
typedef struct na_fields na_fields; /* opaque, filled by describe()       */

void na_fields_int(na_fields *f, const char *key, int64_t v);
void na_fields_float(na_fields *f, const char *key, double v);
void na_fields_bool(na_fields *f, const char *key, bool v);
void na_fields_str(na_fields *f, const char *key, const char *v);
/* A NULL-terminated name list, printed as [a, b]. */
void na_fields_names(na_fields *f, const char *key, const char *const *names);
/* An array field (printed as its dtype and named shape). */
void na_fields_array(na_fields *f, const char *key, const na_array *x);

/* ---- the layer type --------------------------------------------------- */

typedef struct na_layer na_layer;

typedef struct na_layer_type {
    const char *name;    /* "Linear", "Sequential", "MyTemperedSoftmax"   */
    /* Required. `in` and `side` are borrowed; on success *out is new. */
    na_status (*call)(na_layer *self, const na_value *in, const na_side *side,
                      na_value **out);
    /* Children (sublayers), optional (NULL: a leaf). child_slot returns the
     * address of the child pointer so tree tools can replace it; child_name
     * names it in paths ("0", "mlp", "input_to_query"). */
    int (*child_count)(const na_layer *self);
    na_layer **(*child_slot)(na_layer *self, int i);
    const char *(*child_name)(const na_layer *self, int i);
    /* Parameters and state, optional. */
    int (*param_count)(const na_layer *self);
    na_param *(*param_at)(na_layer *self, int i);
    /* Configuration for the printer, optional. */
    void (*describe)(const na_layer *self, na_fields *fields);
    /* Free the layer's own fields and the struct itself; children and
     * parameters are released by na_layer_free before this runs. Required. */
    void (*destroy)(na_layer *self);
} na_layer_type;

struct na_layer {
    const na_layer_type *type;
};

/* Call a layer (the only way layers call each other: tree tools hook in
 * here to capture intermediate values). */
na_status na_layer_call(na_layer *layer, const na_value *in,
                        const na_side *side, na_value **out);
/* Convenience: call with an array input, get an array output. */
na_status na_layer_call_array(na_layer *layer, const na_array *in,
                              const na_side *side, na_array **out);
/* Free a layer, its children (recursively) and its parameter references. */
void na_layer_free(na_layer *layer);

int na_layer_child_count(const na_layer *layer);
na_layer *na_layer_child(const na_layer *layer, int i);
const char *na_layer_child_name(const na_layer *layer, int i);
int na_layer_param_count(const na_layer *layer);
na_param *na_layer_param(const na_layer *layer, int i);
const char *na_layer_type_name(const na_layer *layer);
bool na_layer_is(const na_layer *layer, const na_layer_type *type);

#ifdef __cplusplus
}
#endif
#endif
