/* Values: an array or a tuple of values. */
#include <stdlib.h>
#include <string.h>

#include "layers/layers_internal.h"

static na_value *value_alloc(na_value_kind kind)
{
    na_value *v = calloc(1, sizeof *v);
    if (!v)
        na__fail(NA_ERR_NO_MEMORY, "na_value: out of memory");
    else
        v->kind = kind;
    return v;
}

na_value *na_value_from_array(na_array *x)
{
    if (!x) {
        na__fail(NA_ERR_ARGUMENT, "na_value_from_array: array is NULL");
        return NULL;
    }
    na_value *v = value_alloc(NA_VALUE_ARRAY);
    if (!v) {
        na_array_free(x);
        return NULL;
    }
    v->array = x;
    return v;
}

na_value *na_value_ref_array(const na_array *x)
{
    if (!x) {
        na__fail(NA_ERR_ARGUMENT, "na_value_ref_array: array is NULL");
        return NULL;
    }
    na_array *r = NULL;
    if (na_array_ref(x, &r) != NA_OK)
        return NULL;
    return na_value_from_array(r);
}

static void free_items(int count, na_value *const *items)
{
    for (int i = 0; items && i < count; i++)
        na_value_free(items[i]);
}

na_value *na_value_tuple(int count, na_value *const *items)
{
    if (count < 0 || (count > 0 && !items)) {
        na__fail(NA_ERR_ARGUMENT, "na_value_tuple: bad item list (count %d)", count);
        return NULL;
    }
    for (int i = 0; i < count; i++) {
        if (!items[i]) {
            free_items(count, items);
            na__fail(NA_ERR_ARGUMENT, "na_value_tuple: item %d is NULL", i);
            return NULL;
        }
    }
    na_value *v = value_alloc(NA_VALUE_TUPLE);
    na_value **copy = count ? malloc((size_t)count * sizeof *copy) : NULL;
    if (!v || (count && !copy)) {
        free(v);
        free(copy);
        free_items(count, items);
        na__fail(NA_ERR_NO_MEMORY, "na_value_tuple: out of memory");
        return NULL;
    }
    if (count)
        memcpy(copy, items, (size_t)count * sizeof *copy);
    v->count = count;
    v->items = copy;
    return v;
}

na_value *na_value_clone(const na_value *v)
{
    if (!v) {
        na__fail(NA_ERR_ARGUMENT, "na_value_clone: value is NULL");
        return NULL;
    }
    if (v->kind == NA_VALUE_ARRAY)
        return na_value_ref_array(v->array);
    na_value **items = v->count ? calloc((size_t)v->count, sizeof *items) : NULL;
    if (v->count && !items) {
        na__fail(NA_ERR_NO_MEMORY, "na_value_clone: out of memory");
        return NULL;
    }
    for (int i = 0; i < v->count; i++) {
        items[i] = na_value_clone(v->items[i]);
        if (!items[i]) {
            free_items(i, items);
            free(items);
            return NULL;
        }
    }
    na_value *t = na_value_tuple(v->count, items);
    free(items);
    return t;
}

void na_value_free(na_value *v)
{
    if (!v)
        return;
    if (v->kind == NA_VALUE_ARRAY)
        na_array_free(v->array);
    else
        free_items(v->count, v->items);
    free(v->items);
    free(v);
}

const na_array *na_value_array(const na_value *v, const char *op)
{
    op = op ? op : "na_value_array";
    if (!v) {
        na__fail(NA_ERR_ARGUMENT, "%s: value is NULL", op);
        return NULL;
    }
    if (v->kind != NA_VALUE_ARRAY) {
        char buf[256];
        na_value_shape_str(v, buf, sizeof buf);
        na__fail(NA_ERR_ARGUMENT, "%s: expected an array, got a tuple of %d %s",
                 op, v->count, buf);
        return NULL;
    }
    return v->array;
}

const na_value *na_value_item(const na_value *v, int i, const char *op)
{
    op = op ? op : "na_value_item";
    if (!v) {
        na__fail(NA_ERR_ARGUMENT, "%s: value is NULL", op);
        return NULL;
    }
    if (v->kind != NA_VALUE_TUPLE) {
        na__fail(NA_ERR_ARGUMENT, "%s: expected a tuple, got an array %s", op,
                 na__shape(v->array));
        return NULL;
    }
    if (i < 0 || i >= v->count) {
        na__fail(NA_ERR_INDEX, "%s: tuple item %d out of range (tuple of %d)", op,
                 i, v->count);
        return NULL;
    }
    return v->items[i];
}

/* snprintf-style append: `used` grows by the full length even past cap. */
static void put(char *buf, size_t cap, size_t *used, const char *s)
{
    size_t n = strlen(s);
    if (buf && *used < cap) {
        size_t room = cap - *used - 1;
        size_t k = n < room ? n : room;
        memcpy(buf + *used, s, k);
        buf[*used + k] = '\0';
    }
    *used += n;
}

static void shape_into(const na_value *v, char *buf, size_t cap, size_t *used)
{
    if (v->kind == NA_VALUE_ARRAY) {
        size_t n = na_shape_str(v->array, NULL, 0);
        char small[256];
        char *tmp = n < sizeof small ? small : malloc(n + 1);
        if (!tmp)
            return;
        na_shape_str(v->array, tmp, n + 1);
        put(buf, cap, used, tmp);
        if (tmp != small)
            free(tmp);
        return;
    }
    put(buf, cap, used, "(");
    for (int i = 0; i < v->count; i++) {
        if (i)
            put(buf, cap, used, ", ");
        shape_into(v->items[i], buf, cap, used);
    }
    put(buf, cap, used, v->count == 1 ? ",)" : ")");
}

size_t na_value_shape_str(const na_value *v, char *buf, size_t cap)
{
    size_t used = 0;
    if (buf && cap)
        buf[0] = '\0';
    if (!v)
        put(buf, cap, &used, "(null)");
    else
        shape_into(v, buf, cap, &used);
    return used;
}
