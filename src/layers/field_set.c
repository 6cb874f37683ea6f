/* Setting a layer's field by name (fields.h): what a model-file loader
 * and editing tools use to fill any field kind. */
#include <stdlib.h>
#include <string.h>

#include "layers/layers_internal.h"
#include "namedarr/fields.h"

#define AT(layer, off) ((void *)((char *)(layer) + (off)))

na_status na_layer_field_set_child(na_layer *layer, const char *name, na_layer *child)
{
    na_field_ref r;
    na_status st = na__field_typed("na_layer_field_set_child", layer, name,
                                   NA_FIELD_CHILD, &r);
    if (st != NA_OK) {
        na_layer_free(child);
        return st;
    }
    na_layer_free(*(na_layer **)r.ptr);
    *(na_layer **)r.ptr = child;
    return NA_OK;
}

static void free_list(int n, na_layer *const *children)
{
    for (int i = 0; children && i < n; i++)
        na_layer_free(children[i]);
}

na_status na_layer_field_set_children(na_layer *layer, const char *name, int n,
                                      na_layer *const *children)
{
    const char *op = "na_layer_field_set_children";
    na_field_ref r;
    na_status st = na__field_typed(op, layer, name, NA_FIELD_CHILDREN, &r);
    if (st == NA_OK && (n < 0 || (n > 0 && !children)))
        st = na__fail(NA_ERR_ARGUMENT, "%s: bad list (count %d)", op, n);
    na_layer **copy = st == NA_OK ? calloc((size_t)(n > 0 ? n : 1), sizeof *copy) : NULL;
    if (st == NA_OK && !copy)
        st = na__fail(NA_ERR_NO_MEMORY, "%s: out of memory", op);
    if (st != NA_OK) {
        free_list(n, children);
        return st;
    }
    if (n > 0)
        memcpy(copy, children, (size_t)n * sizeof *copy);
    na__field_clear(layer, r.desc);
    *(na_layer ***)r.ptr = copy;
    *(int *)AT(layer, r.desc->count_offset) = n;
    return NA_OK;
}

na_status na_layer_field_set_param(na_layer *layer, const char *name, na_param *param)
{
    na_field_ref r;
    na_status st = na__field_typed("na_layer_field_set_param", layer, name,
                                   NA_FIELD_PARAM, &r);
    if (st != NA_OK)
        return st;
    if (param)
        na_param_retain(param);
    na_param_release(*(na_param **)r.ptr);
    *(na_param **)r.ptr = param;
    return NA_OK;
}

/* A malloc'ed, interned, NULL-terminated copy; NULL on error. */
const char **na__names_copy(const char *op, const char *const *names)
{
    int n = 0;
    while (names && names[n])
        n++;
    const char **out = calloc((size_t)n + 1, sizeof *out);
    if (!out) {
        na__fail(NA_ERR_NO_MEMORY, "%s: out of memory", op);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        out[i] = names[i][0] ? na_intern(names[i]) : NULL;
        for (int j = 0; out[i] && j < i; j++)
            if (out[j] == out[i]) {
                na__fail(NA_ERR_AXIS, "%s: axis '%s' is listed twice", op, out[i]);
                free(out);
                return NULL;
            }
        if (!out[i]) {
            na__fail(NA_ERR_AXIS, "%s: axis name %d is empty", op, i);
            free(out);
            return NULL;
        }
    }
    return out;
}

na_status na_layer_field_set_names(na_layer *layer, const char *name,
                                   const char *const *names)
{
    const char *op = "na_layer_field_set_names";
    na_field_ref r;
    na_status st = na__field_typed(op, layer, name, NA_FIELD_NAMES, &r);
    const char **copy = st == NA_OK ? na__names_copy(op, names) : NULL;
    if (!copy)
        return na_last_status();
    free(*(void **)r.ptr);
    *(const char ***)r.ptr = copy;
    return NA_OK;
}

na_status na_layer_field_set_axis(na_layer *layer, const char *name, const char *axis)
{
    na_field_ref r;
    na_status st = na__field_typed("na_layer_field_set_axis", layer, name,
                                   NA_FIELD_AXIS, &r);
    const char *a = st == NA_OK && axis ? na_intern(axis) : NULL;
    if (st != NA_OK || (axis && !a))
        return na_last_status();
    *(const char **)r.ptr = a;
    return NA_OK;
}

#define SETTER(fn, kind, T, CT)                                               \
    na_status fn(na_layer *layer, const char *name, T v)                      \
    {                                                                         \
        na_field_ref r;                                                       \
        na_status st = na__field_typed(#fn, layer, name, kind, &r);           \
        if (st == NA_OK)                                                      \
            *(CT *)r.ptr = v;                                                 \
        return st;                                                            \
    }

SETTER(na_layer_field_set_int, NA_FIELD_INT, int64_t, int64_t)
SETTER(na_layer_field_set_float, NA_FIELD_FLOAT, double, double)
SETTER(na_layer_field_set_bool, NA_FIELD_BOOL, bool, bool)

na_status na_layer_field_set_string(na_layer *layer, const char *name, const char *v)
{
    const char *op = "na_layer_field_set_string";
    na_field_ref r;
    na_status st = na__field_typed(op, layer, name, NA_FIELD_STRING, &r);
    char *copy = st == NA_OK && v ? na__strdup(op, v) : NULL;
    if (st != NA_OK || (v && !copy))
        return na_last_status();
    free(*(char **)r.ptr);
    *(char **)r.ptr = copy;
    return NA_OK;
}

static int enum_count(const na_field_desc *f)
{
    int n = 0;
    while (f->enum_names && f->enum_names[n])
        n++;
    return n;
}

na_status na_layer_field_set_enum(na_layer *layer, const char *name, int v)
{
    const char *op = "na_layer_field_set_enum";
    na_field_ref r;
    na_status st = na__field_typed(op, layer, name, NA_FIELD_ENUM, &r);
    if (st != NA_OK)
        return st;
    if (v < 0 || v >= enum_count(r.desc))
        return na__fail(NA_ERR_ARGUMENT, "%s: %d is not a value of field '%s' of %s "
                        "(0..%d)", op, v, name, na_layer_type_name(layer),
                        enum_count(r.desc) - 1);
    *(int *)r.ptr = v;
    return NA_OK;
}

na_status na_layer_field_set_enum_name(na_layer *layer, const char *name,
                                       const char *value)
{
    const char *op = "na_layer_field_set_enum_name";
    na_field_ref r;
    na_status st = na__field_typed(op, layer, name, NA_FIELD_ENUM, &r);
    if (st != NA_OK)
        return st;
    for (int i = 0; value && i < enum_count(r.desc); i++) {
        if (strcmp(r.desc->enum_names[i], value) == 0) {
            *(int *)r.ptr = i;
            return NA_OK;
        }
    }
    return na__fail(NA_ERR_ARGUMENT, "%s: '%s' is not a value of field '%s' of %s", op,
                    value ? value : "(null)", name, na_layer_type_name(layer));
}

na_status na_layer_field_set_array(na_layer *layer, const char *name, const na_array *x)
{
    na_field_ref r;
    na_status st = na__field_typed("na_layer_field_set_array", layer, name,
                                   NA_FIELD_ARRAY, &r);
    na_array *ref = NULL;
    if (st == NA_OK && x)
        st = na_array_ref(x, &ref);
    if (st != NA_OK)
        return st;
    na_array_free(*(na_array **)r.ptr);
    *(na_array **)r.ptr = ref;
    return NA_OK;
}
