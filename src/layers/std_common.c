/* Helpers shared by the standard layers: inputs, outputs, name lists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/std_internal.h"

na_status na__std_oom(const char *who)
{
    return na__fail(NA_ERR_NO_MEMORY, "%s: out of memory", who);
}

na_status na__std_input(const na_value *in, const char *who, bool named_only,
                        const na_array **x)
{
    const na_array *a = na_value_array(in, who);
    if (!a)
        return na_last_status();
    if (named_only && na_positional_count(a) > 0)
        return na__fail(NA_ERR_AXIS, "%s: input %s has positional axes (name "
                        "them with na_tag first)", who, na__shape(a));
    *x = a;
    return NA_OK;
}

na_status na__std_output(na_array *y, na_value **out)
{
    *out = na_value_from_array(y);
    return *out ? NA_OK : na_last_status();
}

int na__std_names_len(const char *const *names)
{
    int n = 0;
    while (names && names[n])
        n++;
    return n;
}

bool na__std_names_has(const char *const *names, const char *name)
{
    for (int i = 0; names && names[i]; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

static const char **names_from(int n, const char *(*get)(const void *, int),
                               const void *src, const char *who)
{
    const char **out = calloc((size_t)n + 1, sizeof *out);
    if (!out) {
        na__std_oom(who);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        const char *raw = get(src, i);
        out[i] = raw && raw[0] ? na_intern(raw) : NULL;
        if (!out[i]) {
            na__fail(NA_ERR_AXIS, "%s: axis name %d is empty or NULL", who, i);
            free(out);
            return NULL;
        }
        for (int j = 0; j < i; j++) {
            if (out[j] == out[i]) {
                na__fail(NA_ERR_AXIS, "%s: axis '%s' is listed twice", who, out[i]);
                free(out);
                return NULL;
            }
        }
    }
    return out;
}

static const char *name_at(const void *src, int i)
{
    return ((const char *const *)src)[i];
}

static const char *dim_name_at(const void *src, int i)
{
    return ((const na_dim *)src)[i].name;
}

const char **na__std_names_dup(const char *const *names, const char *who)
{
    return names_from(na__std_names_len(names), name_at, names, who);
}

const char **na__std_dim_names(int n, const na_dim *dims, const char *who)
{
    if (n < 0 || (n > 0 && !dims)) {
        na__fail(NA_ERR_ARGUMENT, "%s: bad dim list (count %d)", who, n);
        return NULL;
    }
    return names_from(n, dim_name_at, dims, who);
}

na_status na__std_require_axes(const na_array *x, const char *const *names,
                               const char *who, const char *what)
{
    for (int i = 0; names && names[i]; i++)
        if (na_axis_index(x, names[i]) < 0)
            return na__fail(NA_ERR_AXIS, "%s: input %s lacks %s '%s'", who,
                            na__shape(x), what, names[i]);
    return NA_OK;
}

na_status na__std_require_size(const na_array *x, const char *name, int64_t size,
                               const char *who)
{
    int64_t got = na_axis_size(x, name);
    if (got != size)
        return na__fail(NA_ERR_SHAPE, "%s: input %s has %s:%lld, expected %s:%lld",
                        who, na__shape(x), name, (long long)got, name,
                        (long long)size);
    return NA_OK;
}

char *na__std_label(const char *name, const char *suffix, const char *who)
{
    if (!name || !name[0]) {
        na__fail(NA_ERR_ARGUMENT, "%s: a layer name (the label prefix) is required",
                 who);
        return NULL;
    }
    size_t n = strlen(name) + strlen(suffix) + 2;
    char *s = malloc(n);
    if (!s) {
        na__std_oom(who);
        return NULL;
    }
    snprintf(s, n, "%s.%s", name, suffix);
    return s;
}
