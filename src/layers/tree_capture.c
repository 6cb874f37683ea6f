/* Tree tools: capturing the outputs of chosen sublayers during a call
 * (Penzai's save_intermediates). */
#include <stdlib.h>
#include <string.h>

#include "layers/tree_internal.h"

typedef struct capture_target {
    const na_layer *layer;
    char *name;
} capture_target;

typedef struct capture_entry {
    const char *name;   /* borrowed from the target                         */
    na_value *value;
} capture_entry;

struct na_capture {
    int ntargets, nentries, cap_targets, cap_entries;
    capture_target *targets;
    capture_entry *entries;
    na__call_hook hook;
    int active;
};

static na_status capture_after(void *ctx, na_layer *layer, const na_value *out)
{
    na_capture *c = ctx;
    for (int t = 0; t < c->ntargets; t++) {
        if (c->targets[t].layer != layer)
            continue;
        if (c->nentries == c->cap_entries) {
            int cap = c->cap_entries ? c->cap_entries * 2 : 8;
            capture_entry *e = realloc(c->entries, (size_t)cap * sizeof *e);
            if (!e)
                return na__fail(NA_ERR_NO_MEMORY, "capture: out of memory");
            c->entries = e;
            c->cap_entries = cap;
        }
        na_value *v = na_value_clone(out);
        if (!v)
            return na_last_status();
        c->entries[c->nentries++] = (capture_entry){c->targets[t].name, v};
    }
    return NA_OK;
}

na_status na_capture_new(na_capture **out)
{
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "na_capture_new: out is NULL");
    *out = calloc(1, sizeof **out);
    if (!*out)
        return na__fail(NA_ERR_NO_MEMORY, "na_capture_new: out of memory");
    (*out)->hook.after = capture_after;
    (*out)->hook.ctx = *out;
    return NA_OK;
}

void na_capture_clear(na_capture *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->nentries; i++)
        na_value_free(c->entries[i].value);
    c->nentries = 0;
}

void na_capture_free(na_capture *c)
{
    if (!c)
        return;
    if (c->active)
        na__call_hook_pop(&c->hook);
    na_capture_clear(c);
    for (int t = 0; t < c->ntargets; t++)
        free(c->targets[t].name);
    free(c->targets);
    free(c->entries);
    free(c);
}

na_status na_capture_add(na_capture *c, const na_layer *layer, const char *name)
{
    if (!c || !layer || !name)
        return na__fail(NA_ERR_ARGUMENT, "na_capture_add: capture, layer and name "
                        "are required");
    if (c->ntargets == c->cap_targets) {
        int cap = c->cap_targets ? c->cap_targets * 2 : 8;
        capture_target *t = realloc(c->targets, (size_t)cap * sizeof *t);
        if (!t)
            return na__fail(NA_ERR_NO_MEMORY, "na_capture_add: out of memory");
        c->targets = t;
        c->cap_targets = cap;
    }
    char *nm = na__strdup("na_capture_add", name);
    if (!nm)
        return NA_ERR_NO_MEMORY;
    c->targets[c->ntargets++] = (capture_target){layer, nm};
    return NA_OK;
}

na_status na_capture_add_selection(na_capture *c, const na_selection *sel)
{
    if (!c)
        return na__fail(NA_ERR_ARGUMENT, "na_capture_add_selection: capture is NULL");
    for (int i = 0; i < na_selection_count(sel); i++) {
        na_layer *l = na_selection_layer(sel, i);
        if (!l)
            continue;
        na_status st = na_capture_add(c, l, na_selection_path(sel, i));
        if (st != NA_OK)
            return na__fail_in("na_capture_add_selection", st);
    }
    return NA_OK;
}

void na_capture_begin(na_capture *c)
{
    if (c && c->active++ == 0)
        na__call_hook_push(&c->hook);
}

void na_capture_end(na_capture *c)
{
    if (c && c->active > 0 && --c->active == 0)
        na__call_hook_pop(&c->hook);
}

na_status na_call_capturing(na_layer *model, const na_value *in,
                            const na_side *side, na_capture *c, na_value **out)
{
    if (!c || !model || !in || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_call_capturing: %s is NULL",
                        !c ? "capture" : !model ? "model" : !in ? "input" : "out");
    na_capture_begin(c);
    na_status st = na_layer_call(model, in, side, out);
    na_capture_end(c);
    return st;
}

int na_capture_count(const na_capture *c) { return c ? c->nentries : 0; }

const char *na_capture_name(const na_capture *c, int i)
{
    return c && i >= 0 && i < c->nentries ? c->entries[i].name : NULL;
}

const na_value *na_capture_value(const na_capture *c, int i)
{
    return c && i >= 0 && i < c->nentries ? c->entries[i].value : NULL;
}

const na_value *na_capture_find(const na_capture *c, const char *name, int nth)
{
    for (int i = 0; c && name && i < c->nentries; i++)
        if (strcmp(c->entries[i].name, name) == 0 && nth-- == 0)
            return c->entries[i].value;
    return NULL;
}
