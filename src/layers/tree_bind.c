/* Tree tools: binding values to parameters by label (strict about
 * missing, extra and mis-shaped labels). */
#include <stdlib.h>
#include <string.h>

#include "layers/tree_internal.h"

static int value_index(int n, const na_labeled_array *values, const char *label)
{
    for (int k = 0; k < n; k++)
        if (values[k].label && strcmp(values[k].label, label) == 0)
            return k;
    return -1;
}

static na_status bind_check_values(int n, const na_labeled_array *values)
{
    for (int k = 0; k < n; k++) {
        if (!values[k].label || !values[k].value)
            return na__fail(NA_ERR_ARGUMENT, "na_tree_bind: entry %d has no %s", k,
                            values[k].label ? "value" : "label");
        if (value_index(k, values, values[k].label) >= 0)
            return na__fail(NA_ERR_ARGUMENT, "na_tree_bind: label '%s' given twice",
                            values[k].label);
    }
    return NA_OK;
}

static na_status bind_check(const na_param_list *l, int n,
                            const na_labeled_array *values, unsigned flags)
{
    na_status st = bind_check_values(n, values);
    for (int i = 0; st == NA_OK && i < l->count; i++) {
        const na_param *p = l->items[i].param;
        int k = value_index(n, values, p->label);
        if (k < 0 && !(flags & NA_BIND_ALLOW_MISSING))
            st = na__fail(NA_ERR_NOT_FOUND, "na_tree_bind: no value for parameter "
                          "'%s' %s (at '%s')", p->label, na__shape(p->value),
                          l->items[i].path);
        else if (k >= 0 && (values[k].value->dtype != p->value->dtype ||
                            !na_same_shape(values[k].value, p->value)))
            st = na__fail(NA_ERR_SHAPE, "na_tree_bind: value for '%s' is %s, the "
                          "parameter is %s", p->label, na__shape(values[k].value),
                          na__shape(p->value));
    }
    for (int k = 0; st == NA_OK && k < n; k++) {
        bool used = false;
        for (int i = 0; i < l->count && !used; i++)
            used = strcmp(l->items[i].param->label, values[k].label) == 0;
        if (!used && !(flags & NA_BIND_ALLOW_EXTRA))
            st = na__fail(NA_ERR_NOT_FOUND, "na_tree_bind: no parameter labelled "
                          "'%s' (value %s) in the model", values[k].label,
                          na__shape(values[k].value));
    }
    return st;
}

/* A view of `v` in the dim order of `like` (same named shape). */
static na_status reorder_like(const na_array *v, const na_array *like, na_array **out)
{
    const char *names[NA_MAX_DIMS + 1];
    int n = 0;
    for (int d = 0; d < like->ndim; d++)
        if (like->name[d])
            names[n++] = like->name[d];
    names[n] = NULL;
    if (n == 0)
        return na_array_ref(v, out);
    return na_order_as(v, names, out);
}

na_status na_tree_bind(na_layer *root, int n, const na_labeled_array *values,
                       unsigned flags)
{
    if (n < 0 || (n > 0 && !values))
        return na__fail(NA_ERR_ARGUMENT, "na_tree_bind: bad value list (n = %d)", n);
    na_param_list l;
    na_status st = na_tree_params(root, &l);
    if (st != NA_OK)
        return na__fail_in("na_tree_bind", st);
    st = bind_check(&l, n, values, flags);
    na_array **fresh = st == NA_OK && l.count ? calloc((size_t)l.count, sizeof *fresh)
                                              : NULL;
    if (st == NA_OK && l.count && !fresh)
        st = na__fail(NA_ERR_NO_MEMORY, "na_tree_bind: out of memory");
    for (int i = 0; st == NA_OK && i < l.count; i++) {
        int k = value_index(n, values, l.items[i].param->label);
        if (k >= 0)
            st = reorder_like(values[k].value, l.items[i].param->value, &fresh[i]);
    }
    for (int i = 0; i < l.count && fresh; i++) {
        if (st == NA_OK && fresh[i])
            na_param_set_value(l.items[i].param, fresh[i]);
        else
            na_array_free(fresh[i]);
    }
    free(fresh);
    na_param_list_clear(&l);
    return st;
}
