/* Tree tools: edits through a selection — replace, wrap, insert before
 * or after, remove. */
#include <stdlib.h>
#include <string.h>

#include "layers/tree_internal.h"
#include "namedarr/combinators.h"

static na_status check_site(const na_selection *sel, int i, const char *op)
{
    if (!sel)
        return na__fail(NA_ERR_ARGUMENT, "%s: selection is NULL", op);
    if (i < 0 || i >= sel->count)
        return na__fail(NA_ERR_INDEX, "%s: site %d out of range (%d sites)", op, i,
                        sel->count);
    if (sel->items[i].dead)
        return na__fail(NA_ERR_STATE, "%s: site %d ('%s') was removed", op, i,
                        sel->items[i].path);
    return NA_OK;
}

na_status na_selection_replace(na_selection *sel, int i, na_layer *replacement)
{
    na_status st = check_site(sel, i, "na_selection_replace");
    if (st == NA_OK && !replacement)
        st = na__fail(NA_ERR_ARGUMENT, "na_selection_replace: replacement is NULL");
    if (st != NA_OK) {
        na_layer_free(replacement);
        return st;
    }
    na_layer **slot = na__site_slot(sel, &sel->items[i]);
    na_layer *old = *slot;
    *slot = replacement;
    na_layer_free(old);
    sel->stale = true;
    return NA_OK;
}

/* The current path of live site i (for callbacks). */
static const char *live_path(na_selection *sel, int i)
{
    na__selection_refresh(sel);
    return sel->items[i].path;
}

na_status na_selection_replace_all(na_selection *sel, na_layer_make_fn make,
                                   void *ctx)
{
    if (!sel || !make)
        return na__fail(NA_ERR_ARGUMENT, "na_selection_replace_all: selection and "
                        "make are required");
    for (int i = 0; i < sel->count; i++) {
        if (sel->items[i].dead)
            continue;
        na_layer *fresh = NULL;
        na_status st = make(na_selection_layer(sel, i), live_path(sel, i), ctx, &fresh);
        if (st == NA_OK && !fresh)
            st = na__fail(NA_ERR_STATE, "na_selection_replace_all: make returned "
                          "no layer for '%s'", sel->items[i].path);
        if (st != NA_OK) {
            na_layer_free(fresh);
            return st;
        }
        if ((st = na_selection_replace(sel, i, fresh)) != NA_OK)
            return st;
    }
    return NA_OK;
}

na_status na_selection_wrap_all(na_selection *sel, na_layer_wrap_fn wrap, void *ctx)
{
    if (!sel || !wrap)
        return na__fail(NA_ERR_ARGUMENT, "na_selection_wrap_all: selection and wrap "
                        "are required");
    for (int i = 0; i < sel->count; i++) {
        if (sel->items[i].dead)
            continue;
        na_layer *spare = NULL;
        if (na_identity_new(&spare) != NA_OK)
            return na_last_status();
        na_layer **slot = na__site_slot(sel, &sel->items[i]);
        const char *path = live_path(sel, i);
        na_layer *res = NULL;
        na_status st = wrap(*slot, path, ctx, &res);
        slot = na__site_slot(sel, &sel->items[i]);
        *slot = res ? res : spare;
        if (res)
            na_layer_free(spare);
        sel->stale = true;
        if (st == NA_OK && !res)
            st = na__fail(NA_ERR_STATE, "na_selection_wrap_all: wrap returned no "
                          "layer for '%s'", path);
        if (st != NA_OK)
            return st;
    }
    return NA_OK;
}

/* Sites hanging in `parent` at index >= from move by `delta`. */
static void shift_sites(na_selection *sel, const na_layer *parent, int from, int delta)
{
    for (int k = 0; k < sel->count; k++) {
        na__site *s = &sel->items[k];
        if (!s->dead && s->parent == parent && s->index >= from)
            s->index += delta;
    }
}

static na_status insert_at(na_selection *sel, int i, na_layer *fresh, bool after)
{
    na__site *s = &sel->items[i];
    if (na_is_sequential(s->parent)) {
        int at = s->index + (after ? 1 : 0);
        na_status st = na_sequential_insert(s->parent, at, fresh);
        if (st == NA_OK)
            shift_sites(sel, s->parent, at, 1);
        return st;
    }
    na_layer **slot = na__site_slot(sel, s);
    na_layer *old = *slot, *seq = NULL;
    na_status st = after ? na__sequential_pair(old, fresh, &seq)
                         : na__sequential_pair(fresh, old, &seq);
    if (st != NA_OK) {
        na_layer_free(fresh);
        return st;
    }
    *slot = seq;
    s->parent = seq;
    s->index = after ? 0 : 1;
    return NA_OK;
}

static na_status insert_all(na_selection *sel, na_layer_make_fn make, void *ctx,
                            bool after, const char *op)
{
    if (!sel || !make)
        return na__fail(NA_ERR_ARGUMENT, "%s: selection and make are required", op);
    for (int i = 0; i < sel->count; i++) {
        if (sel->items[i].dead)
            continue;
        na_layer *fresh = NULL;
        na_status st = make(na_selection_layer(sel, i), live_path(sel, i), ctx, &fresh);
        if (st == NA_OK && !fresh)
            st = na__fail(NA_ERR_STATE, "%s: make returned no layer for '%s'", op,
                          sel->items[i].path);
        if (st == NA_OK)
            st = insert_at(sel, i, fresh, after);
        else
            na_layer_free(fresh);
        sel->stale = true;
        if (st != NA_OK)
            return st;
    }
    return NA_OK;
}

na_status na_selection_insert_before(na_selection *sel, na_layer_make_fn make,
                                     void *ctx)
{
    return insert_all(sel, make, ctx, false, "na_selection_insert_before");
}

na_status na_selection_insert_after(na_selection *sel, na_layer_make_fn make,
                                    void *ctx)
{
    return insert_all(sel, make, ctx, true, "na_selection_insert_after");
}

na_status na_selection_remove(na_selection *sel)
{
    if (!sel)
        return na__fail(NA_ERR_ARGUMENT, "na_selection_remove: selection is NULL");
    for (int i = 0; i < sel->count; i++) {
        na__site *s = &sel->items[i];
        if (s->dead)
            continue;
        na_status st;
        if (na_is_sequential(s->parent)) {
            na__selection_refresh(sel);
            st = na_sequential_remove(s->parent, s->index, NULL);
            if (st == NA_OK) {
                s->dead = true;
                shift_sites(sel, s->parent, s->index + 1, -1);
            }
        } else {
            na_layer *id = NULL;
            st = na_identity_new(&id);
            if (st == NA_OK)
                st = na_selection_replace(sel, i, id);
        }
        sel->stale = true;
        if (st != NA_OK)
            return st;
    }
    return NA_OK;
}
