/* Deep clone and structural equality of layer trees, derived from the
 * types' field tables (fields.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layers/layers_internal.h"
#include "namedarr/fields.h"

#define AT(layer, off) ((void *)((char *)(layer) + (off)))
#define CAT(layer, off) ((const void *)((const char *)(layer) + (off)))

/* ---- clone ---------------------------------------------------------------- */

/* Source parameter -> its copy, so a parameter shared in the source is one
 * parameter in the clone. The map holds no references. */
typedef struct param_map {
    int count, cap;
    struct { const na_param *from; na_param *to; } *items;
} param_map;

typedef struct cloner {
    na_clone_params how;
    param_map map;
} cloner;

static na_status map_add(param_map *m, const na_param *from, na_param *to)
{
    if (m->count == m->cap) {
        int cap = m->cap ? m->cap * 2 : 16;
        void *items = realloc(m->items, (size_t)cap * sizeof *m->items);
        if (!items)
            return na__fail(NA_ERR_NO_MEMORY, "na_layer_clone: out of memory");
        m->items = items;
        m->cap = cap;
    }
    m->items[m->count].from = from;
    m->items[m->count++].to = to;
    return NA_OK;
}

static na_status clone_param(cloner *c, na_param *src, na_param **out)
{
    *out = NULL;
    if (!src)
        return NA_OK;
    if (c->how == NA_CLONE_SHARE_PARAMS) {
        *out = na_param_retain(src);
        return NA_OK;
    }
    for (int i = 0; i < c->map.count; i++)
        if (c->map.items[i].from == src) {
            *out = na_param_retain(c->map.items[i].to);
            return NA_OK;
        }
    na_array *v = NULL;
    na_status st = src->value ? na_copy(src->value, &v) : NA_OK;
    na_param *p = st == NA_OK ? na_param_new(src->label, src->kind, v) : NULL;
    if (!p)
        return na_last_status();
    st = map_add(&c->map, src, p);
    if (st != NA_OK) {
        na_param_release(p);
        return st;
    }
    *out = p;
    return NA_OK;
}

static na_status clone_rec(cloner *c, const na_layer *src, na_layer **out);

static na_status clone_children(cloner *c, na_layer *dst, const na_layer *src,
                                const na_field_desc *f)
{
    int n = na__field_children_count(src, f);
    na_layer *const *from = *(na_layer *const *const *)CAT(src, f->offset);
    na_layer **to = calloc((size_t)(n > 0 ? n : 1), sizeof *to);
    if (!to)
        return na__fail(NA_ERR_NO_MEMORY, "na_layer_clone: out of memory");
    *(na_layer ***)AT(dst, f->offset) = to;
    int *count = AT(dst, f->count_offset);
    for (int i = 0; i < n; i++) {
        na_status st = from[i] ? clone_rec(c, from[i], &to[i]) : NA_OK;
        if (st != NA_OK)
            return st;
        ++*count;
    }
    return NA_OK;
}

static na_status clone_names(const char *const *from, const char ***to)
{
    int n = 0;
    while (from && from[n])
        n++;
    if (!from)
        return NA_OK;
    *to = malloc(((size_t)n + 1) * sizeof **to);
    if (!*to)
        return na__fail(NA_ERR_NO_MEMORY, "na_layer_clone: out of memory");
    memcpy(*to, from, ((size_t)n + 1) * sizeof **to);
    return NA_OK;
}

static size_t scalar_size(na_field_kind k)
{
    switch (k) {
    case NA_FIELD_AXIS: return sizeof(const char *);
    case NA_FIELD_INT: return sizeof(int64_t);
    case NA_FIELD_FLOAT: return sizeof(double);
    case NA_FIELD_BOOL: return sizeof(bool);
    case NA_FIELD_ENUM: return sizeof(int);
    default: return 0;
    }
}

static na_status clone_field(cloner *c, na_layer *dst, const na_layer *src,
                             const na_field_desc *f)
{
    const void *from = CAT(src, f->offset);
    void *to = AT(dst, f->offset);
    switch (f->kind) {
    case NA_FIELD_CHILD: {
        const na_layer *child = *(na_layer *const *)from;
        return child ? clone_rec(c, child, (na_layer **)to) : NA_OK;
    }
    case NA_FIELD_CHILDREN: return clone_children(c, dst, src, f);
    case NA_FIELD_PARAM:
    case NA_FIELD_STATE: return clone_param(c, *(na_param *const *)from, (na_param **)to);
    case NA_FIELD_NAMES:
        return clone_names(*(const char *const *const *)from, (const char ***)to);
    case NA_FIELD_STRING: {
        const char *s = *(char *const *)from;
        return !s || (*(char **)to = na__strdup("na_layer_clone", s)) ? NA_OK
                                                                      : NA_ERR_NO_MEMORY;
    }
    case NA_FIELD_ARRAY: {
        const na_array *x = *(na_array *const *)from;
        if (!x)
            return NA_OK;
        return c->how == NA_CLONE_COPY_PARAMS ? na_copy(x, (na_array **)to)
                                              : na_array_ref(x, (na_array **)to);
    }
    default:
        memcpy(to, from, scalar_size(f->kind));
        return NA_OK;
    }
}

static na_status clone_rec(cloner *c, const na_layer *src, na_layer **out)
{
    if (!na__layer_declared(src))
        return na__fail(NA_ERR_UNSUPPORTED, "na_layer_clone: layer type %s declares "
                        "no field table (size and fields), so it cannot be cloned",
                        na_layer_type_name(src));
    na_layer *dst = NULL;
    na_status st = na_layer_alloc(src->type, &dst);
    for (int k = 0; st == NA_OK && k < src->type->field_count; k++)
        st = clone_field(c, dst, src, &src->type->fields[k]);
    if (st == NA_OK)
        st = na_layer_finish(dst);
    if (st != NA_OK) {
        na_layer_free(dst);
        return st;
    }
    *out = dst;
    return NA_OK;
}

na_status na_layer_clone(const na_layer *layer, na_clone_params how, na_layer **out)
{
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "na_layer_clone: out is NULL");
    *out = NULL;
    if (!layer)
        return na__fail(NA_ERR_ARGUMENT, "na_layer_clone: layer is NULL");
    if (how != NA_CLONE_SHARE_PARAMS && how != NA_CLONE_COPY_PARAMS)
        return na__fail(NA_ERR_ARGUMENT, "na_layer_clone: unknown mode %d", (int)how);
    cloner c = {how, {0, 0, NULL}};
    na_status st = clone_rec(&c, layer, out);
    free(c.map.items);
    return st;
}

/* ---- equality --------------------------------------------------------------- */

static bool same_number(double x, double y)
{
    return x == y || (isnan(x) && isnan(y));
}

/* Same dtype and named shape (named axes in any order, positional ones in
 * order); *map[d] = the dim of b matching dim d of a. */
static bool same_shape(const na_array *a, const na_array *b, int *map)
{
    if (a->dtype != b->dtype || a->ndim != b->ndim)
        return false;
    int pb = 0;
    for (int d = 0; d < a->ndim; d++) {
        int e = -1;
        if (a->name[d]) {
            e = na_axis_index(b, a->name[d]);
        } else {
            while (pb < b->ndim && b->name[pb])
                pb++;
            e = pb < b->ndim ? pb++ : -1;
        }
        if (e < 0 || b->shape[e] != a->shape[d])
            return false;
        map[d] = e;
    }
    return true;
}

static bool same_values(const na_array *a, const na_array *b, const int *map)
{
    int64_t ia[NA_MAX_DIMS] = {0}, ib[NA_MAX_DIMS] = {0};
    if (na_size(a) == 0)
        return true;
    for (;;) {
        for (int d = 0; d < a->ndim; d++)
            ib[map[d]] = ia[d];
        if (!same_number(na_get(a, ia), na_get(b, ib)))
            return false;
        int d = a->ndim - 1;
        while (d >= 0 && ++ia[d] == a->shape[d])
            ia[d--] = 0;
        if (d < 0)
            return true;
    }
}

static bool arrays_equal(const na_array *a, const na_array *b, bool values)
{
    int map[NA_MAX_DIMS];
    if (!a || !b)
        return a == b;
    return same_shape(a, b, map) && (!values || same_values(a, b, map));
}

static bool params_equal(const na_param *a, const na_param *b, bool values)
{
    if (!a || !b || a == b)
        return a == b;
    return a->kind == b->kind && strcmp(a->label ? a->label : "",
                                        b->label ? b->label : "") == 0 &&
           arrays_equal(a->value, b->value, values);
}

static bool names_equal(const char *const *a, const char *const *b)
{
    int i = 0;
    for (; a && b && a[i] && b[i]; i++)
        if (a[i] != b[i])
            return false;
    return (!a || !a[i]) && (!b || !b[i]);
}

static bool layers_equal(const na_layer *a, const na_layer *b, bool values);

static bool field_equal(const na_layer *a, const na_layer *b, const na_field_desc *f,
                        bool values)
{
    const void *x = CAT(a, f->offset), *y = CAT(b, f->offset);
    switch (f->kind) {
    case NA_FIELD_CHILD:
        return layers_equal(*(na_layer *const *)x, *(na_layer *const *)y, values);
    case NA_FIELD_CHILDREN: {
        int n = na__field_children_count(a, f);
        if (n != na__field_children_count(b, f))
            return false;
        for (int i = 0; i < n; i++)
            if (!layers_equal((*(na_layer *const *const *)x)[i],
                              (*(na_layer *const *const *)y)[i], values))
                return false;
        return true;
    }
    case NA_FIELD_PARAM:
    case NA_FIELD_STATE:
        return params_equal(*(na_param *const *)x, *(na_param *const *)y, values);
    case NA_FIELD_NAMES:
        return names_equal(*(const char *const *const *)x, *(const char *const *const *)y);
    case NA_FIELD_AXIS: return *(const char *const *)x == *(const char *const *)y;
    case NA_FIELD_INT: return *(const int64_t *)x == *(const int64_t *)y;
    case NA_FIELD_FLOAT: return same_number(*(const double *)x, *(const double *)y);
    case NA_FIELD_BOOL: return *(const bool *)x == *(const bool *)y;
    case NA_FIELD_ENUM: return *(const int *)x == *(const int *)y;
    case NA_FIELD_STRING: {
        const char *s = *(char *const *)x, *t = *(char *const *)y;
        return s && t ? strcmp(s, t) == 0 : s == t;
    }
    case NA_FIELD_ARRAY:
        return arrays_equal(*(na_array *const *)x, *(na_array *const *)y, true);
    }
    return false;
}

static bool layers_equal(const na_layer *a, const na_layer *b, bool values)
{
    if (a == b)
        return true;
    if (!a || !b || a->type != b->type || !na__layer_declared(a))
        return false;
    for (int k = 0; k < a->type->field_count; k++)
        if (!field_equal(a, b, &a->type->fields[k], values))
            return false;
    return true;
}

bool na_layer_equal(const na_layer *a, const na_layer *b, bool values)
{
    return layers_equal(a, b, values);
}
