/* Side inputs: a small map from a string key to a value, in insertion
 * order (models have a handful of keys: a linear scan is fastest). */
#include <stdlib.h>
#include <string.h>

#include "layers/layers_internal.h"

typedef struct side_entry {
    char *key;
    na_value *value;
} side_entry;

struct na_side {
    int count, cap;
    side_entry *items;
};

char *na__strdup(const char *op, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (!d)
        na__fail(NA_ERR_NO_MEMORY, "%s: out of memory", op);
    else
        memcpy(d, s, n);
    return d;
}

na_side *na_side_new(void)
{
    na_side *s = calloc(1, sizeof *s);
    if (!s)
        na__fail(NA_ERR_NO_MEMORY, "na_side_new: out of memory");
    return s;
}

void na_side_free(na_side *side)
{
    if (!side)
        return;
    for (int i = 0; i < side->count; i++) {
        free(side->items[i].key);
        na_value_free(side->items[i].value);
    }
    free(side->items);
    free(side);
}

static int find(const na_side *side, const char *key)
{
    for (int i = 0; side && key && i < side->count; i++)
        if (strcmp(side->items[i].key, key) == 0)
            return i;
    return -1;
}

static na_status grow(na_side *side)
{
    if (side->count < side->cap)
        return NA_OK;
    int cap = side->cap ? side->cap * 2 : 4;
    side_entry *items = realloc(side->items, (size_t)cap * sizeof *items);
    if (!items)
        return na__fail(NA_ERR_NO_MEMORY, "na_side_set: out of memory");
    side->items = items;
    side->cap = cap;
    return NA_OK;
}

na_status na_side_set(na_side *side, const char *key, na_value *v)
{
    if (!side || !key || !*key || !v) {
        na_value_free(v);
        return na__fail(NA_ERR_ARGUMENT, "na_side_set: side, key and value are "
                        "required (key '%s')", key ? key : "(null)");
    }
    int i = find(side, key);
    if (i >= 0) {
        na_value_free(side->items[i].value);
        side->items[i].value = v;
        return NA_OK;
    }
    char *k = na__strdup("na_side_set", key);
    if (!k || grow(side) != NA_OK) {
        free(k);
        na_value_free(v);
        return na__fail(NA_ERR_NO_MEMORY, "na_side_set: out of memory (key '%s')", key);
    }
    side->items[side->count++] = (side_entry){k, v};
    return NA_OK;
}

na_status na_side_set_array(na_side *side, const char *key, const na_array *x)
{
    if (!x)
        return na__fail(NA_ERR_ARGUMENT, "na_side_set_array: array for key '%s' is NULL",
                        key ? key : "(null)");
    na_value *v = na_value_ref_array(x);
    if (!v)
        return na__fail_in("na_side_set_array", na_last_status());
    na_status st = na_side_set(side, key, v);
    return st == NA_OK ? st : na__fail_in("na_side_set_array", st);
}

void na_side_remove(na_side *side, const char *key)
{
    int i = find(side, key);
    if (i < 0)
        return;
    free(side->items[i].key);
    na_value_free(side->items[i].value);
    memmove(side->items + i, side->items + i + 1,
            (size_t)(side->count - i - 1) * sizeof *side->items);
    side->count--;
}

const na_value *na_side_get(const na_side *side, const char *key)
{
    int i = find(side, key);
    return i < 0 ? NULL : side->items[i].value;
}

/* "a, b" or "none" in a ring buffer of na__shape's size. */
static void key_list(const na_side *side, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    if (!side || side->count == 0) {
        snprintf(buf, cap, "none");
        return;
    }
    for (int i = 0; i < side->count && used + 1 < cap; i++) {
        int w = snprintf(buf + used, cap - used, "%s'%s'", i ? ", " : "",
                         side->items[i].key);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

const na_array *na_side_require_array(const na_side *side, const char *key,
                                      const char *layer_name)
{
    const char *who = layer_name ? layer_name : "side input";
    const na_value *v = na_side_get(side, key);
    if (!v) {
        char keys[256];
        key_list(side, keys, sizeof keys);
        na__fail(NA_ERR_NOT_FOUND, "%s: side input '%s' is missing (given: %s)",
                 who, key ? key : "(null)", keys);
        return NULL;
    }
    if (v->kind != NA_VALUE_ARRAY) {
        char buf[256];
        na_value_shape_str(v, buf, sizeof buf);
        na__fail(NA_ERR_ARGUMENT, "%s: side input '%s' must be an array, got %s",
                 who, key, buf);
        return NULL;
    }
    return v->array;
}

na_status na_side_set_flag(na_side *side, const char *key, bool on)
{
    na_array *x = NULL;
    na_status st = na_scalar(NA_BOOL, on ? 1 : 0, &x);
    if (st == NA_OK)
        st = na_side_set_array(side, key, x);
    na_array_free(x);
    return st;
}

na_status na_side_flag(const na_side *side, const char *key, bool dflt,
                       const char *layer_name, bool *out)
{
    const char *who = layer_name ? layer_name : "na_side_flag";
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "%s: out is NULL", who);
    *out = dflt;
    if (!na_side_get(side, key))
        return NA_OK;
    const na_array *x = na_side_require_array(side, key, who);
    if (!x)
        return na_last_status();
    if (na_size(x) != 1)
        return na__fail(NA_ERR_SHAPE, "%s: side input '%s' must be one value (a "
                        "switch), got %s", who, key, na__shape(x));
    int64_t idx[NA_MAX_DIMS] = {0};
    *out = na_get(x, idx) != 0;
    return NA_OK;
}

int na_side_count(const na_side *side) { return side ? side->count : 0; }

const char *na_side_key(const na_side *side, int i)
{
    return side && i >= 0 && i < side->count ? side->items[i].key : NULL;
}

na_side *na_side_clone(const na_side *side)
{
    na_side *c = na_side_new();
    for (int i = 0; c && side && i < side->count; i++) {
        na_value *v = na_value_clone(side->items[i].value);
        if (!v || na_side_set(c, side->items[i].key, v) != NA_OK) {
            na_side_free(c);
            return NULL;
        }
    }
    return c;
}
