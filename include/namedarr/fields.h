/* namedarr/fields.h — reflection over a layer's declared fields: read and
 * set a field by name, deep clone, structural equality, and the registry
 * of layer types by name (what a model file is loaded with).
 *
 * Every layer type declares its fields once, as a table in its
 * na_layer_type (layer.h). Everything here works from that table, so it
 * works the same for the built-in types and for a type written outside
 * the library:
 *
 *   const char *const *across = NULL;
 *   na_layer_field_names(softmax, "across", &across);      // {"kv_seq", NULL}
 *
 *   na_layer *copy = NULL;                                  // a deep copy:
 *   na_layer_clone(model, NA_CLONE_COPY_PARAMS, &copy);     // tied weights
 *   na_layer_field_set_float(na_tree_get(copy, "1"), "eps", 1e-5);  // stay tied
 *   bool same = na_layer_equal(model, copy, false);         // false now
 *
 *   const na_layer_type *t = na_layer_type_find("Linear"); // the registry
 *
 * Ownership. Getters return borrowed pointers into the layer (valid until
 * the field is set again or the layer is freed). Setters copy names and
 * strings, take a new reference to parameters and arrays, and take
 * ownership of children (freeing the child they replace). After setting
 * fields, call na_layer_finish so the layer rebuilds what it derives from
 * them. Errors name the operation, the layer type and the field:
 *   "na_layer_field_float: Softmax has no field 'eps' (fields: across)"
 *   "na_layer_field_int: field 'eps' of LayerNorm is a float, not an int"
 */
#ifndef NAMEDARR_FIELDS_H
#define NAMEDARR_FIELDS_H

#include <stdbool.h>
#include <stdint.h>

#include "namedarr/layer.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default) /* the na_ API; the rest is hidden */

/* ---- the table -------------------------------------------------------- */

int na_layer_type_field_count(const na_layer_type *type);
/* Field i of the table (NULL when out of range). */
const na_field_desc *na_layer_type_field_at(const na_layer_type *type, int i);
/* The field called `name`, or NULL. */
const na_field_desc *na_layer_type_field_find(const na_layer_type *type,
                                              const char *name);
/* "child", "children", "param", "state", "names", "axis", "int", "float",
 * "bool", "string", "enum", "array". */
const char *na_field_kind_name(na_field_kind kind);

/* ---- reading a field by name ----------------------------------------- */

/* A field of one layer: its descriptor and the member's address. */
typedef struct na_field_ref {
    const na_field_desc *desc;
    void *ptr;
} na_field_ref;

na_status na_layer_field(const na_layer *layer, const char *name, na_field_ref *out);

/* Typed getters: NA_ERR_ARGUMENT for a missing field or another kind. */
na_status na_layer_field_child(const na_layer *layer, const char *name,
                               na_layer **out);
/* A list of children: the count and the (borrowed) array. */
na_status na_layer_field_children(const na_layer *layer, const char *name,
                                  int *count, na_layer *const **out);
/* A PARAM or STATE field (*out NULL: absent). */
na_status na_layer_field_param(const na_layer *layer, const char *name,
                               na_param **out);
na_status na_layer_field_names(const na_layer *layer, const char *name,
                               const char *const **out);
na_status na_layer_field_axis(const na_layer *layer, const char *name,
                              const char **out);
na_status na_layer_field_int(const na_layer *layer, const char *name, int64_t *out);
na_status na_layer_field_float(const na_layer *layer, const char *name, double *out);
na_status na_layer_field_bool(const na_layer *layer, const char *name, bool *out);
na_status na_layer_field_string(const na_layer *layer, const char *name,
                                const char **out);
/* The enum's value; its name is desc->enum_names[value]. */
na_status na_layer_field_enum(const na_layer *layer, const char *name, int *out);
na_status na_layer_field_array(const na_layer *layer, const char *name,
                               const na_array **out);

/* ---- setting a field by name (then call na_layer_finish) ------------- */

/* Takes ownership of `child` (also on error); frees the one it replaces. */
na_status na_layer_field_set_child(na_layer *layer, const char *name,
                                   na_layer *child);
/* Takes ownership of the n children (also on error); frees the old list. */
na_status na_layer_field_set_children(na_layer *layer, const char *name, int n,
                                      na_layer *const *children);
/* Takes a new reference to `param` (NULL: absent); PARAM or STATE. */
na_status na_layer_field_set_param(na_layer *layer, const char *name,
                                   na_param *param);
/* Names are copied and interned; an empty or repeated name is an error. */
na_status na_layer_field_set_names(na_layer *layer, const char *name,
                                   const char *const *names);
na_status na_layer_field_set_axis(na_layer *layer, const char *name,
                                  const char *axis);
na_status na_layer_field_set_int(na_layer *layer, const char *name, int64_t v);
na_status na_layer_field_set_float(na_layer *layer, const char *name, double v);
na_status na_layer_field_set_bool(na_layer *layer, const char *name, bool v);
na_status na_layer_field_set_string(na_layer *layer, const char *name,
                                    const char *v);
na_status na_layer_field_set_enum(na_layer *layer, const char *name, int v);
/* By the enum's name ("gelu", "zero"). */
na_status na_layer_field_set_enum_name(na_layer *layer, const char *name,
                                       const char *value);
/* Takes a new reference to `x` (NULL allowed). */
na_status na_layer_field_set_array(na_layer *layer, const char *name,
                                   const na_array *x);

/* ---- Penzai's Struct methods ------------------------------------------
 * attributes_dict(): every field by name -> na_layer_attributes (refs in
 *   table order; read each with its kind, or the typed getters above).
 * from_attributes(**attrs): a layer made from field values without its
 *   constructor -> na_layer_from_attributes: a new layer of `type` whose
 *   fields named like the given refs take their values (children cloned
 *   with shared parameters, parameters and arrays referenced, strings and
 *   names copied), then finished (the type's checks run); fields not given
 *   keep their zero value. A ref whose field `type` lacks, or has with
 *   another kind, is an error.
 * key_for_field(name): the key under which a child field appears in tree
 *   paths (na_tree_get, selections) -> na_layer_key_for_field: the child's
 *   name ("input_to_query"; a type's child_name hook may rename it). */
na_status na_layer_attributes(const na_layer *layer, int cap, na_field_ref *out,
                              int *count); /* results, last: out[0..cap), *count */
na_status na_layer_from_attributes(const na_layer_type *type, int n,
                                   const na_field_ref *attrs, na_layer **out);
na_status na_layer_key_for_field(const na_layer *layer, const char *name,
                                 const char **out);

/* ---- clone and equality ----------------------------------------------- */

typedef enum na_clone_params {
    NA_CLONE_SHARE_PARAMS, /* the clone holds the same na_param objects      */
    NA_CLONE_COPY_PARAMS   /* new parameters with copied values; a parameter
                              shared inside the source (a tied embedding) is
                              one parameter inside the clone too             */
} na_clone_params;

/* A deep copy of the tree: every layer, field and child; parameters shared
 * or copied. What a layer derives from its fields is rebuilt (finish hook);
 * what it only remembers from calls (kept attention weights) is not
 * copied. Fails (NA_ERR_UNSUPPORTED) for a type without a field table. */
na_status na_layer_clone(const na_layer *layer, na_clone_params how, na_layer **out);

/* Structural equality: same types, same field values, children equal
 * recursively; parameters equal by label, kind, dtype and named shape, and
 * by every value when `values`. */
bool na_layer_equal(const na_layer *a, const na_layer *b, bool values);

/* ---- the registry of layer types -------------------------------------- */

/* Register a type under its name so a model file naming it can be loaded.
 * The type needs a name, a call function, a size and its field table; it
 * must stay alive (static). Registering the same type twice is fine; a
 * different type under a taken name is NA_ERR_ARGUMENT. Every built-in type
 * is registered from the start. Thread-safe. */
na_status na_layer_type_register(const na_layer_type *type);
/* The type registered under `name`, or NULL. */
const na_layer_type *na_layer_type_find(const char *name);
/* Every registered type, in registration order (built-in ones first). */
int na_layer_type_registered_count(void);
const na_layer_type *na_layer_type_registered_at(int i);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
