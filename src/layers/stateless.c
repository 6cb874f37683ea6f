/* Penzai's stateless_call: run a layer with temporary values for its
 * parameters and state variables, leave the layer as it was, and hand back
 * the state the call produced (namedarr/tree.h). */
#include <stdlib.h>
#include <string.h>

#include "layers/layers_internal.h"
#include "namedarr/tree.h"

#define OP "na_stateless_call"

void na_state_list_clear(na_state_list *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->count; i++) {
        free(s->labels[i]);
        na_array_free(s->values[i]);
    }
    free(s->labels);
    free(s->values);
    memset(s, 0, sizeof *s);
}

static int find_entry(const na_param_list *pl, const char *label)
{
    for (int i = 0; i < pl->count; i++)
        if (strcmp(pl->items[i].param->label, label) == 0)
            return i;
    return -1;
}

/* `v` in the parameter's axis order, checked: a view for a parameter, a
 * private copy for state (a call may write into its state). */
static na_status prepare_value(const na_param *p, const na_array *v, na_array **out)
{
    const na_array *cur = p->value;
    bool ok = v && v->dtype == cur->dtype && v->ndim == cur->ndim &&
              na_positional_count(v) == 0 && na_positional_count(cur) == 0;
    for (int d = 0; ok && d < cur->ndim; d++)
        ok = na_axis_size(v, cur->name[d]) == cur->shape[d];
    if (!ok)
        return na__fail(NA_ERR_SHAPE, "%s: the value for '%s' is %s, the %s is %s", OP,
                        p->label, v ? na__shape(v) : "NULL",
                        p->kind == NA_STATE ? "state" : "parameter", na__shape(cur));
    na_array *view = NULL;
    na_status st = na_order_as(v, (const char *const *)cur->name, &view);
    if (st != NA_OK || p->kind == NA_PARAM) {
        *out = view;
        return st;
    }
    st = na_copy(view, out);
    na_array_free(view);
    return st;
}

/* The value each listed parameter takes during the call (owned). */
static na_status prepare_all(const na_param_list *pl, int n, const na_labeled_array *values,
                             na_array **tmp)
{
    for (int i = 0; i < n; i++) {
        if (!values[i].label)
            return na__fail(NA_ERR_ARGUMENT, "%s: value %d has no label", OP, i);
        int e = find_entry(pl, values[i].label);
        if (e < 0)
            return na__fail(NA_ERR_NOT_FOUND, "%s: the layer has no parameter or state "
                            "labelled '%s'", OP, values[i].label);
        if (tmp[e])
            return na__fail(NA_ERR_ARGUMENT, "%s: '%s' is given twice", OP,
                            values[i].label);
        na_status st = prepare_value(pl->items[e].param, values[i].value, &tmp[e]);
        if (st != NA_OK)
            return st;
    }
    for (int e = 0; e < pl->count; e++) { /* state left alone still gets a copy */
        const na_param *p = pl->items[e].param;
        if (!tmp[e] && p->kind == NA_STATE && p->value) {
            na_status st = na_copy(p->value, &tmp[e]);
            if (st != NA_OK)
                return st;
        }
    }
    return NA_OK;
}

/* After the call: every state variable's value moves to `out` (or is
 * freed), parameters' temporary views are freed, originals restored. */
static na_status restore(const na_param_list *pl, na_array **saved, na_state_list *out)
{
    na_status st = NA_OK;
    int n_state = 0;
    for (int e = 0; e < pl->count; e++)
        n_state += pl->items[e].param->kind == NA_STATE;
    if (out && n_state > 0) {
        out->labels = calloc((size_t)n_state, sizeof *out->labels);
        out->values = calloc((size_t)n_state, sizeof *out->values);
        if (!out->labels || !out->values)
            st = na__fail(NA_ERR_NO_MEMORY, "%s: out of memory", OP);
    }
    for (int e = 0; e < pl->count; e++) {
        na_param *p = pl->items[e].param;
        if (!saved[e])
            continue;
        na_array *used = p->value;
        p->value = saved[e];
        char *label = NULL;
        if (st == NA_OK && out && p->kind == NA_STATE && (label = strdup(p->label))) {
            out->labels[out->count] = label;
            out->values[out->count++] = used;
        } else {
            if (st == NA_OK && out && p->kind == NA_STATE)
                st = na__fail(NA_ERR_NO_MEMORY, "%s: out of memory", OP);
            na_array_free(used);
        }
    }
    return st;
}

na_status na_stateless_call(na_layer *layer, int n, const na_labeled_array *values,
                            const na_value *in, const na_side *side, na_value **out,
                            na_state_list *new_state)
{
    if (!layer || !in || !out || n < 0 || (n > 0 && !values))
        return na__fail(NA_ERR_ARGUMENT, "%s: NULL or bad argument", OP);
    if (new_state)
        memset(new_state, 0, sizeof *new_state);
    na_param_list pl = {0};
    na_status st = na_tree_params(layer, &pl);
    if (st != NA_OK)
        return st;
    na_array **tmp = calloc((size_t)pl.count + 1, sizeof *tmp);
    na_array **saved = calloc((size_t)pl.count + 1, sizeof *saved);
    st = tmp && saved ? prepare_all(&pl, n, values, tmp)
                      : na__fail(NA_ERR_NO_MEMORY, "%s: out of memory", OP);
    if (st == NA_OK) {
        for (int e = 0; e < pl.count; e++)
            if (tmp[e]) {
                saved[e] = pl.items[e].param->value;
                pl.items[e].param->value = tmp[e];
                tmp[e] = NULL;
            }
        na_value *y = NULL;
        st = na_layer_call(layer, in, side, &y);
        na_status rs = restore(&pl, saved, st == NA_OK ? new_state : NULL);
        if (st == NA_OK && rs != NA_OK) {
            na_value_free(y);
            na_state_list_clear(new_state);
            st = rs;
        }
        if (st == NA_OK)
            *out = y;
    }
    for (int e = 0; tmp && e < pl.count; e++)
        na_array_free(tmp[e]);
    free(tmp);
    free(saved);
    na_param_list_clear(&pl);
    return st;
}
