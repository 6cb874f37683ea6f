/* Penzai's Struct methods over the declared fields (fields.h):
 * attributes_dict (na_layer_attributes), from_attributes
 * (na_layer_from_attributes) and key_for_field (na_layer_key_for_field). */
#include <stdlib.h>
#include <string.h>

#include "layers/layers_internal.h"
#include "namedarr/fields.h"

na_status na_layer_attributes(const na_layer *layer, int cap, na_field_ref *out,
                              int *count)
{
    const char *op = "na_layer_attributes";
    if (!layer || !count || cap < 0 || (cap > 0 && !out))
        return na__fail(NA_ERR_ARGUMENT, "%s: NULL layer or count, or a bad cap %d", op,
                        cap);
    int n = na_layer_type_field_count(layer->type);
    for (int i = 0; i < n && i < cap; i++) {
        na_status st = na_layer_field(layer, na_layer_type_field_at(layer->type, i)->name,
                                      &out[i]);
        if (st != NA_OK)
            return st;
    }
    *count = n;
    return NA_OK;
}

/* A child copy (parameters shared), NULL staying NULL. */
static na_status child_copy(const na_layer *c, na_layer **out)
{
    *out = NULL;
    return c ? na_layer_clone(c, NA_CLONE_SHARE_PARAMS, out) : NA_OK;
}

static na_status set_children(na_layer *l, const char *name, const na_field_ref *a)
{
    int n = *(const int *)((const char *)a->ptr - a->desc->offset + a->desc->count_offset);
    na_layer *const *src = *(na_layer *const *const *)a->ptr;
    na_layer **copy = calloc((size_t)(n > 0 ? n : 1), sizeof *copy);
    if (!copy)
        return na__fail(NA_ERR_NO_MEMORY, "na_layer_from_attributes: out of memory");
    na_status st = NA_OK;
    for (int i = 0; i < n && st == NA_OK; i++)
        st = child_copy(src[i], &copy[i]);
    if (st == NA_OK)
        st = na_layer_field_set_children(l, name, n, copy);
    else
        for (int i = 0; i < n; i++)
            na_layer_free(copy[i]);
    free(copy);
    return st;
}

/* Field `a` (of another layer) copied into l's field of the same name. */
static na_status set_one(na_layer *l, const na_field_ref *a)
{
    const char *name = a->desc->name;
    const void *p = a->ptr;
    na_layer *c = NULL;
    switch (a->desc->kind) {
    case NA_FIELD_CHILD: {
        na_status st = child_copy(*(na_layer *const *)p, &c);
        return st == NA_OK ? na_layer_field_set_child(l, name, c) : st;
    }
    case NA_FIELD_CHILDREN: return set_children(l, name, a);
    case NA_FIELD_PARAM:
    case NA_FIELD_STATE: return na_layer_field_set_param(l, name, *(na_param *const *)p);
    case NA_FIELD_NAMES: return na_layer_field_set_names(l, name, *(const char *const *const *)p);
    case NA_FIELD_AXIS: return na_layer_field_set_axis(l, name, *(const char *const *)p);
    case NA_FIELD_INT: return na_layer_field_set_int(l, name, *(const int64_t *)p);
    case NA_FIELD_FLOAT: return na_layer_field_set_float(l, name, *(const double *)p);
    case NA_FIELD_BOOL: return na_layer_field_set_bool(l, name, *(const bool *)p);
    case NA_FIELD_STRING: return na_layer_field_set_string(l, name, *(char *const *)p);
    case NA_FIELD_ENUM: return na_layer_field_set_enum(l, name, *(const int *)p);
    case NA_FIELD_ARRAY: return na_layer_field_set_array(l, name, *(na_array *const *)p);
    }
    return na__fail(NA_ERR_ARGUMENT, "na_layer_from_attributes: field '%s' has an "
                    "unknown kind", name);
}

na_status na_layer_from_attributes(const na_layer_type *type, int n,
                                   const na_field_ref *attrs, na_layer **out)
{
    const char *op = "na_layer_from_attributes";
    if (!type || !out || n < 0 || (n > 0 && !attrs))
        return na__fail(NA_ERR_ARGUMENT, "%s: NULL type or out, or a bad count %d", op, n);
    na_layer *l = NULL;
    na_status st = na_layer_alloc(type, &l);
    for (int i = 0; i < n && st == NA_OK; i++) {
        if (!attrs[i].desc || !attrs[i].ptr) {
            st = na__fail(NA_ERR_ARGUMENT, "%s: attribute %d is empty", op, i);
            break;
        }
        const na_field_desc *d = na_layer_type_field_find(type, attrs[i].desc->name);
        if (d && d->kind != attrs[i].desc->kind)
            st = na__fail(NA_ERR_ARGUMENT, "%s: field '%s' of %s is a %s, the attribute "
                          "a %s", op, d->name, type->name, na_field_kind_name(d->kind),
                          na_field_kind_name(attrs[i].desc->kind));
        else
            st = set_one(l, &attrs[i]);
    }
    if (st == NA_OK)
        st = na_layer_finish(l);
    if (st != NA_OK) {
        na__fail_append(" (%s)", op);
        na_layer_free(l);
        return st;
    }
    *out = l;
    return NA_OK;
}

na_status na_layer_key_for_field(const na_layer *layer, const char *name,
                                 const char **out)
{
    const char *op = "na_layer_key_for_field";
    na_field_ref r;
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "%s: out is NULL", op);
    na_status st = na_layer_field(layer, name, &r);
    if (st != NA_OK)
        return st;
    if (r.desc->kind != NA_FIELD_CHILD)
        return na__fail(NA_ERR_ARGUMENT, "%s: field '%s' of %s is a %s, not a child: "
                        "tree paths reach only children (a list's entries have the "
                        "keys \"0\", \"1\", ...)", op, name, na_layer_type_name(layer),
                        na_field_kind_name(r.desc->kind));
    const na_layer *c = *(na_layer *const *)r.ptr;
    for (int i = 0; c && i < na_layer_child_count(layer); i++)
        if (na_layer_child(layer, i) == c) {
            *out = na_layer_child_name(layer, i);
            return NA_OK;
        }
    *out = r.desc->name; /* an empty slot keeps the field's name */
    return NA_OK;
}
