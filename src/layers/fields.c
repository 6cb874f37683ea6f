/* Layer fields: what the library derives from a type's field table —
 * children and their names, parameters, freeing, the printer's
 * configuration line, and reading and setting a field by name. Clone and
 * equality are in clone.c, the registry of types in registry.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/layers_internal.h"
#include "namedarr/fields.h"

#define AT(layer, off) ((void *)((char *)(layer) + (off)))

bool na__layer_declared(const na_layer *layer)
{
    return layer && layer->type && layer->type->size > 0;
}

int na__field_children_count(const na_layer *layer, const na_field_desc *f)
{
    return *(const int *)AT(layer, f->count_offset);
}

/* ---- the table -------------------------------------------------------- */

int na_layer_type_field_count(const na_layer_type *type)
{
    return type && type->fields ? type->field_count : 0;
}

const na_field_desc *na_layer_type_field_at(const na_layer_type *type, int i)
{
    return i >= 0 && i < na_layer_type_field_count(type) ? &type->fields[i] : NULL;
}

const na_field_desc *na_layer_type_field_find(const na_layer_type *type,
                                              const char *name)
{
    for (int i = 0; name && i < na_layer_type_field_count(type); i++)
        if (strcmp(type->fields[i].name, name) == 0)
            return &type->fields[i];
    return NULL;
}

const char *na_field_kind_name(na_field_kind kind)
{
    static const char *const names[] = {
        [NA_FIELD_CHILD] = "child",   [NA_FIELD_CHILDREN] = "children",
        [NA_FIELD_PARAM] = "param",   [NA_FIELD_STATE] = "state",
        [NA_FIELD_NAMES] = "names",   [NA_FIELD_AXIS] = "axis",
        [NA_FIELD_INT] = "int",       [NA_FIELD_FLOAT] = "float",
        [NA_FIELD_BOOL] = "bool",     [NA_FIELD_STRING] = "string",
        [NA_FIELD_ENUM] = "enum",     [NA_FIELD_ARRAY] = "array"};
    return (int)kind >= 0 && (int)kind <= NA_FIELD_ARRAY ? names[kind] : "unknown";
}

/* ---- children and parameters ------------------------------------------ */

/* The field holding child i and the index inside it; NULL if none. */
static const na_field_desc *child_field(const na_layer *layer, int i, int *sub)
{
    const na_layer_type *t = layer->type;
    for (int k = 0; k < t->field_count; k++) {
        const na_field_desc *f = &t->fields[k];
        int n = f->kind == NA_FIELD_CHILD      ? 1
                : f->kind == NA_FIELD_CHILDREN ? na__field_children_count(layer, f)
                                               : 0;
        if (i < n) {
            *sub = i;
            return f;
        }
        i -= n;
    }
    return NULL;
}

int na__fields_child_count(const na_layer *layer)
{
    int n = 0;
    for (int k = 0; k < layer->type->field_count; k++) {
        const na_field_desc *f = &layer->type->fields[k];
        if (f->kind == NA_FIELD_CHILD)
            n++;
        else if (f->kind == NA_FIELD_CHILDREN)
            n += na__field_children_count(layer, f);
    }
    return n;
}

na_layer **na__fields_child_slot(na_layer *layer, int i)
{
    int sub = 0;
    const na_field_desc *f = i >= 0 ? child_field(layer, i, &sub) : NULL;
    if (!f)
        return NULL;
    if (f->kind == NA_FIELD_CHILD)
        return AT(layer, f->offset);
    return &(*(na_layer ***)AT(layer, f->offset))[sub];
}

const char *na__fields_child_name(const na_layer *layer, int i)
{
    int sub = 0;
    const na_field_desc *f = i >= 0 ? child_field(layer, i, &sub) : NULL;
    if (!f)
        return NULL;
    if (f->kind == NA_FIELD_CHILD)
        return f->name;
    char buf[16];
    snprintf(buf, sizeof buf, "%d", sub);
    return na_intern(buf); /* interned: a stable pointer */
}

static bool is_param_kind(na_field_kind k)
{
    return k == NA_FIELD_PARAM || k == NA_FIELD_STATE;
}

int na__fields_param_count(const na_layer *layer)
{
    int n = 0;
    for (int k = 0; k < layer->type->field_count; k++) {
        const na_field_desc *f = &layer->type->fields[k];
        n += is_param_kind(f->kind) && *(na_param **)AT(layer, f->offset);
    }
    return n;
}

na_param *na__fields_param_at(const na_layer *layer, int i)
{
    for (int k = 0; k < layer->type->field_count; k++) {
        const na_field_desc *f = &layer->type->fields[k];
        na_param *p = is_param_kind(f->kind) ? *(na_param **)AT(layer, f->offset) : NULL;
        if (p && i-- == 0)
            return p;
    }
    return NULL;
}

/* ---- freeing ------------------------------------------------------------ */

void na__field_clear(na_layer *layer, const na_field_desc *f)
{
    void *at = AT(layer, f->offset);
    switch (f->kind) {
    case NA_FIELD_CHILD:
        na_layer_free(*(na_layer **)at);
        *(na_layer **)at = NULL;
        break;
    case NA_FIELD_CHILDREN: {
        na_layer **c = *(na_layer ***)at;
        int *n = AT(layer, f->count_offset);
        for (int i = 0; c && i < *n; i++)
            na_layer_free(c[i]);
        free(c);
        *(na_layer ***)at = NULL;
        *n = 0;
        break;
    }
    case NA_FIELD_PARAM:
    case NA_FIELD_STATE:
        na_param_release(*(na_param **)at);
        *(na_param **)at = NULL;
        break;
    case NA_FIELD_NAMES:
    case NA_FIELD_STRING:
        free(*(void **)at);
        *(void **)at = NULL;
        break;
    case NA_FIELD_ARRAY:
        na_array_free(*(na_array **)at);
        *(na_array **)at = NULL;
        break;
    default:
        break;
    }
}

void na__fields_free(na_layer *layer)
{
    for (int k = 0; k < layer->type->field_count; k++)
        na__field_clear(layer, &layer->type->fields[k]);
}

na_status na_layer_alloc(const na_layer_type *type, na_layer **out)
{
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "na_layer_alloc: out is NULL");
    *out = NULL;
    if (!type || !type->name || !type->call || type->size < sizeof(na_layer) ||
        (type->field_count > 0 && !type->fields))
        return na__fail(NA_ERR_ARGUMENT, "na_layer_alloc: type %s needs a name, a "
                        "call function, a size and its field table",
                        type && type->name ? type->name : "(unnamed)");
    na_layer *l = calloc(1, type->size);
    if (!l)
        return na__fail(NA_ERR_NO_MEMORY, "na_layer_alloc: out of memory (%s)",
                        type->name);
    l->type = type;
    *out = l;
    return NA_OK;
}

na_status na_layer_finish(na_layer *layer)
{
    if (!layer || !layer->type)
        return na__fail(NA_ERR_ARGUMENT, "na_layer_finish: layer is NULL");
    return layer->type->finish ? layer->type->finish(layer) : NA_OK;
}

/* ---- the printer's configuration line ----------------------------------- */

static bool names_empty(const char *const *names) { return !names || !names[0]; }

/* Is the field at its default (and so left off the line)? */
static bool omitted(const na_field_desc *f, const void *at)
{
    if (!(f->flags & NA_FIELD_OMIT_DEFAULT))
        return false;
    switch (f->kind) {
    case NA_FIELD_NAMES: return names_empty(*(const char *const *const *)at);
    case NA_FIELD_AXIS:
    case NA_FIELD_ARRAY: return *(void *const *)at == NULL;
    case NA_FIELD_STRING: return !*(char *const *)at || !**(char *const *)at;
    case NA_FIELD_INT: return (double)*(const int64_t *)at == f->dflt;
    case NA_FIELD_FLOAT: return *(const double *)at == f->dflt;
    case NA_FIELD_BOOL: return *(const bool *)at == (f->dflt != 0);
    case NA_FIELD_ENUM: return *(const int *)at == (int)f->dflt;
    default: return false;
    }
}

const char *na__field_enum_name(const na_field_desc *f, int v)
{
    for (int i = 0; f->enum_names && f->enum_names[i]; i++)
        if (i == v)
            return f->enum_names[i];
    return "unknown";
}

static void print_field(na_fields *out, const na_field_desc *f, const void *at)
{
    const char *key = f->name;
    switch (f->kind) {
    case NA_FIELD_NAMES: na_fields_names(out, key, *(const char *const *const *)at); break;
    case NA_FIELD_AXIS: {
        const char *a = *(const char *const *)at;
        if (f->flags & NA_FIELD_AS_LIST)
            na_fields_names(out, key, (const char *const[]){a, NULL});
        else
            na_fields_str(out, key, a);
        break;
    }
    case NA_FIELD_INT: na_fields_int(out, key, *(const int64_t *)at); break;
    case NA_FIELD_FLOAT: na_fields_float(out, key, *(const double *)at); break;
    case NA_FIELD_BOOL: na_fields_bool(out, key, *(const bool *)at); break;
    case NA_FIELD_STRING: na_fields_str(out, key, *(char *const *)at); break;
    case NA_FIELD_ENUM: na_fields_str(out, key, na__field_enum_name(f, *(const int *)at)); break;
    case NA_FIELD_ARRAY: na_fields_array(out, key, *(na_array *const *)at); break;
    default: break; /* children and parameters have their own lines */
    }
}

void na_fields_field(na_fields *out, const na_layer *layer, const char *name)
{
    const na_field_desc *f = layer ? na_layer_type_field_find(layer->type, name) : NULL;
    if (f && !omitted(f, AT(layer, f->offset)))
        print_field(out, f, AT(layer, f->offset));
}

void na_fields_layer(na_fields *out, const na_layer *layer)
{
    for (int k = 0; layer && k < na_layer_type_field_count(layer->type); k++) {
        const na_field_desc *f = &layer->type->fields[k];
        if (!(f->flags & NA_FIELD_NOPRINT) && !omitted(f, AT(layer, f->offset)))
            print_field(out, f, AT(layer, f->offset));
    }
}

/* ---- reading by name --------------------------------------------------- */

/* "across, eps" into buf. */
static const char *field_list(const na_layer_type *t, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int k = 0; k < na_layer_type_field_count(t) && n < cap; k++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", k ? ", " : "", t->fields[k].name);
    return na_layer_type_field_count(t) ? buf : "none";
}

static na_status find_field(const char *op, const na_layer *layer, const char *name,
                            na_field_ref *out)
{
    if (!layer || !layer->type || !name)
        return na__fail(NA_ERR_ARGUMENT, "%s: layer and field name are required", op);
    const na_field_desc *f = na_layer_type_field_find(layer->type, name);
    if (!f) {
        char buf[512];
        return na__fail(NA_ERR_ARGUMENT, "%s: %s has no field '%s' (fields: %s)", op,
                        na_layer_type_name(layer), name,
                        field_list(layer->type, buf, sizeof buf));
    }
    out->desc = f;
    out->ptr = AT(layer, f->offset);
    return NA_OK;
}

na_status na_layer_field(const na_layer *layer, const char *name, na_field_ref *out)
{
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "na_layer_field: out is NULL");
    return find_field("na_layer_field", layer, name, out);
}

static const char *with_article(na_field_kind k)
{
    static const char *const text[] = {
        [NA_FIELD_CHILD] = "a child",      [NA_FIELD_CHILDREN] = "a list of children",
        [NA_FIELD_PARAM] = "a parameter",  [NA_FIELD_STATE] = "a state variable",
        [NA_FIELD_NAMES] = "a name list",  [NA_FIELD_AXIS] = "an axis name",
        [NA_FIELD_INT] = "an int",         [NA_FIELD_FLOAT] = "a float",
        [NA_FIELD_BOOL] = "a bool",        [NA_FIELD_STRING] = "a string",
        [NA_FIELD_ENUM] = "an enum",       [NA_FIELD_ARRAY] = "an array"};
    return (int)k >= 0 && (int)k <= NA_FIELD_ARRAY ? text[k] : "unknown";
}

/* The field `name`, which must be of kind `kind` (PARAM accepts STATE). */
na_status na__field_typed(const char *op, const na_layer *layer, const char *name,
                          na_field_kind kind, na_field_ref *r)
{
    na_status st = find_field(op, layer, name, r);
    if (st != NA_OK)
        return st;
    na_field_kind k = r->desc->kind;
    if (k == kind || (kind == NA_FIELD_PARAM && k == NA_FIELD_STATE))
        return NA_OK;
    return na__fail(NA_ERR_ARGUMENT, "%s: field '%s' of %s is %s, not %s", op, name,
                    na_layer_type_name(layer), with_article(k), with_article(kind));
}

static na_status typed(const char *op, const na_layer *layer, const char *name,
                       na_field_kind kind, const void *out, na_field_ref *r)
{
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "%s: out is NULL", op);
    return na__field_typed(op, layer, name, kind, r);
}

#define GETTER(fn, kind, T, expr)                                             \
    na_status fn(const na_layer *layer, const char *name, T *out)             \
    {                                                                         \
        na_field_ref r;                                                       \
        na_status st = typed(#fn, layer, name, kind, out, &r);                \
        if (st == NA_OK)                                                      \
            *out = expr;                                                      \
        return st;                                                            \
    }

GETTER(na_layer_field_child, NA_FIELD_CHILD, na_layer *, *(na_layer **)r.ptr)
GETTER(na_layer_field_param, NA_FIELD_PARAM, na_param *, *(na_param **)r.ptr)
GETTER(na_layer_field_names, NA_FIELD_NAMES, const char *const *,
       *(const char *const **)r.ptr)
GETTER(na_layer_field_axis, NA_FIELD_AXIS, const char *, *(const char **)r.ptr)
GETTER(na_layer_field_int, NA_FIELD_INT, int64_t, *(int64_t *)r.ptr)
GETTER(na_layer_field_float, NA_FIELD_FLOAT, double, *(double *)r.ptr)
GETTER(na_layer_field_bool, NA_FIELD_BOOL, bool, *(bool *)r.ptr)
GETTER(na_layer_field_string, NA_FIELD_STRING, const char *, *(const char **)r.ptr)
GETTER(na_layer_field_enum, NA_FIELD_ENUM, int, *(int *)r.ptr)
GETTER(na_layer_field_array, NA_FIELD_ARRAY, const na_array *, *(na_array **)r.ptr)

na_status na_layer_field_children(const na_layer *layer, const char *name, int *count,
                                  na_layer *const **out)
{
    na_field_ref r;
    na_status st = typed("na_layer_field_children", layer, name, NA_FIELD_CHILDREN,
                         out, &r);
    if (st == NA_OK && !count)
        st = na__fail(NA_ERR_ARGUMENT, "na_layer_field_children: count is NULL");
    if (st != NA_OK)
        return st;
    *count = na__field_children_count(layer, r.desc);
    *out = *(na_layer ***)r.ptr;
    return NA_OK;
}
