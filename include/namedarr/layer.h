/* namedarr/layer.h — the layer protocol: values, side inputs, parameters,
 * the one call convention every layer follows, and the field table every
 * layer type declares.
 *
 * A layer is a struct whose first member is an `na_layer` (its type)
 * followed by the layer's own fields. Calling it takes a value (an array
 * or a tuple of values) and the side inputs (a map from a string key to a
 * value) and returns a new value or an error:
 *
 *   na_value *y = NULL;
 *   if (na_layer_call(model, x, side, &y) != NA_OK)
 *       fprintf(stderr, "%s\n", na_last_error());
 *
 * Combinators hand the side inputs to every sublayer; a layer ignores keys
 * it does not use. A type declares its fields once, as a table; the
 * library derives children, parameters, printing, freeing, clone, equality
 * and field access from it (fields.h). A layer type written outside the
 * library is the same thing (examples/custom_layer.c):
 *
 *   typedef struct scale_layer { na_layer base; double by; } scale_layer;
 *   static const na_field_desc scale_fields[] = {
 *       NA_FIELD(scale_layer, by, NA_FIELD_FLOAT)};
 *   static const na_layer_type scale_type = {
 *       .name = "Scale", .call = scale_call, .size = sizeof(scale_layer),
 *       .fields = scale_fields, .field_count = NA_FIELD_COUNT(scale_fields)};
 *
 * Ownership: na_layer_call's output belongs to the caller. Inputs and side
 * inputs are borrowed. A layer owns what its fields own (see the table
 * below: children, name lists, strings, arrays, one reference per
 * parameter); na_layer_free frees the whole subtree and the struct.
 * Parameters are reference counted so that one parameter can be shared by
 * two layers (tied embeddings).
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
#pragma GCC visibility push(default) /* the na_ API; the rest is hidden */

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
/* Per-call switches (Flax's call-time overrides such as deterministic):
 * a one-element array, bool or numeric (nonzero = true). na_side_flag
 * gives `dflt` when the key is absent; another value is an error naming
 * `layer_name` and the key. */
na_status na_side_set_flag(na_side *side, const char *key, bool on);
na_status na_side_flag(const na_side *side, const char *key, bool dflt,
                       const char *layer_name, bool *out);
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

/* ---- declared fields ------------------------------------------------- */

/* What a field of a layer struct holds. A layer type lists its fields once
 * (name, kind, offset); the library derives from that table the children
 * and their names, the parameters and state, the printer's configuration
 * line, freeing, deep cloning, structural equality, reading and setting a
 * field by name, and saving the architecture.
 *
 *   kind                 member type          owned by the layer
 *   NA_FIELD_CHILD       na_layer *           yes (NULL: an empty slot)
 *   NA_FIELD_CHILDREN    na_layer ** + int    yes: the array and each child;
 *                                             the int count is at count_offset
 *   NA_FIELD_PARAM       na_param *           one reference (NULL: absent)
 *   NA_FIELD_STATE       na_param *           one reference (NULL: absent)
 *   NA_FIELD_NAMES       const char **        the NULL-terminated array;
 *                                             the names are interned
 *   NA_FIELD_AXIS        const char *         no: one interned name or NULL
 *   NA_FIELD_INT         int64_t (or uint64_t)
 *   NA_FIELD_FLOAT       double
 *   NA_FIELD_BOOL        bool
 *   NA_FIELD_STRING      char *               yes (malloc'ed; NULL allowed)
 *   NA_FIELD_ENUM        int-sized enum       printed and saved by name:
 *                                             enum_names[value]
 *   NA_FIELD_ARRAY       na_array *           yes (NULL allowed)
 */
typedef enum na_field_kind {
    NA_FIELD_CHILD,
    NA_FIELD_CHILDREN,
    NA_FIELD_PARAM,
    NA_FIELD_STATE,
    NA_FIELD_NAMES,
    NA_FIELD_AXIS,
    NA_FIELD_INT,
    NA_FIELD_FLOAT,
    NA_FIELD_BOOL,
    NA_FIELD_STRING,
    NA_FIELD_ENUM,
    NA_FIELD_ARRAY
} na_field_kind;

/* Field flags (printing only; clone, equality and saving see every field). */
enum {
    NA_FIELD_NOPRINT = 1 << 0,   /* not on the printer's configuration line */
    NA_FIELD_OMIT_DEFAULT = 1 << 1, /* not printed when equal to `dflt`
                                    (numbers, bools, enums) or empty / NULL
                                    (names, axes, strings, arrays)          */
    NA_FIELD_AS_LIST = 1 << 2    /* an AXIS printed as a list: [kv_seq]     */
};

typedef struct na_field_desc {
    const char *name;                /* "across", "input_to_query"          */
    na_field_kind kind;
    size_t offset;                   /* offsetof(struct, member)            */
    size_t count_offset;             /* NA_FIELD_CHILDREN: the int count     */
    const char *const *enum_names;   /* NA_FIELD_ENUM: NULL-terminated       */
    unsigned flags;                  /* NA_FIELD_NOPRINT, ...                */
    double dflt;                     /* NA_FIELD_OMIT_DEFAULT: the default   */
} na_field_desc;

/* A field named after its member:
 *   NA_FIELD(my_layer, axes, NA_FIELD_NAMES)                                */
#define NA_FIELD(T, member, kind_)                                           \
    {.name = #member, .kind = (kind_), .offset = offsetof(T, member)}
/* A field with its own public name and flags:
 *   NA_FIELD_AS("end_index", kv_layer, end_key, NA_FIELD_STRING, 0)         */
#define NA_FIELD_AS(name_, T, member, kind_, flags_)                         \
    {.name = (name_), .kind = (kind_), .offset = offsetof(T, member),        \
     .flags = (flags_)}
/* A list of children: `member` is na_layer **, `count_member` an int.     */
#define NA_FIELD_LIST(T, member, count_member)                               \
    {.name = #member, .kind = NA_FIELD_CHILDREN, .offset = offsetof(T, member), \
     .count_offset = offsetof(T, count_member)}
/* An enum member printed and saved by name (names: NULL-terminated).     */
#define NA_FIELD_ENUM_AS(name_, T, member, names_, flags_)                   \
    {.name = (name_), .kind = NA_FIELD_ENUM, .offset = offsetof(T, member),  \
     .enum_names = (names_), .flags = (flags_)}
/* The number of entries of a static field table.                          */
#define NA_FIELD_COUNT(table) ((int)(sizeof(table) / sizeof((table)[0])))

/* ---- the layer type --------------------------------------------------- */

typedef struct na_layer na_layer;

typedef struct na_layer_type {
    const char *name;    /* "Linear", "Sequential", "MyTemperedSoftmax"   */
    /* Required. `in` and `side` are borrowed; on success *out is new. */
    na_status (*call)(na_layer *self, const na_value *in, const na_side *side,
                      na_value **out);
    /* The struct's size and its fields (see above). na_layer_alloc, clone
     * and loading allocate `size` zeroed bytes and fill the fields. */
    size_t size;
    const na_field_desc *fields;
    int field_count;
    /* Optional: rebuild what is derived from the fields (a parsed spec, a
     * cached flag) after the fields were set by clone, a model file or the
     * field setters; fail with a message if the fields are inconsistent. */
    na_status (*finish)(na_layer *self);
    /* Optional: the printer's configuration line, written by hand (it
     * replaces the derived one; na_fields_layer / na_fields_field add the
     * table's fields to it). */
    void (*describe)(const na_layer *self, na_fields *fields);
    /* Optional: free what the struct holds beyond its fields (a cache).
     * The fields and the struct itself are freed by na_layer_free. (A type
     * with size 0, written before field tables, frees its struct here.) */
    void (*destroy)(na_layer *self);
    /* Optional: a child's name in paths; default: the field's name for a
     * CHILD field, "0", "1", ... for the entries of a CHILDREN field. */
    const char *(*child_name)(const na_layer *self, int i);
} na_layer_type;

struct na_layer {
    const na_layer_type *type;
};

/* A new zeroed layer of `type` (type->size bytes) with its type set: fill
 * its fields, then call na_layer_finish. Free it with na_layer_free. */
na_status na_layer_alloc(const na_layer_type *type, na_layer **out);
/* Run the type's finish hook (if any) once the fields are set. */
na_status na_layer_finish(na_layer *layer);
/* Append the configuration derived from the layer's field table (for a
 * describe hook), or the one field `name`. */
void na_fields_layer(na_fields *f, const na_layer *layer);
void na_fields_field(na_fields *f, const na_layer *layer, const char *name);

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

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
