/* Tree tools: calling a model and extracting one sublayer with the
 * input and side inputs it received (Penzai's isolate_submodel). */
#include <stdlib.h>
#include <string.h>

#include "layers/tree_internal.h"

typedef struct extract_ctx {
    const na_layer *target;
    na_submodel *sub;
    bool got_out;
} extract_ctx;

static na_status extract_before(void *ctx, na_layer *layer, const na_value *in,
                                const na_side *side)
{
    extract_ctx *e = ctx;
    if (layer != e->target || e->sub->input)
        return NA_OK;
    e->sub->input = na_value_clone(in);
    e->sub->side = e->sub->input ? na_side_clone(side) : NULL;
    return e->sub->side ? NA_OK : na_last_status();
}

static na_status extract_after(void *ctx, na_layer *layer, const na_value *out)
{
    extract_ctx *e = ctx;
    if (layer != e->target || e->got_out)
        return NA_OK;
    e->got_out = true;
    e->sub->output = na_value_clone(out);
    return e->sub->output ? NA_OK : na_last_status();
}

na_status na_call_and_extract_submodel(na_layer *model, const char *path,
                                       const na_value *in, const na_side *side,
                                       na_submodel *out, na_value **model_out)
{
    const char *op = "na_call_and_extract_submodel";
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "%s: out is NULL", op);
    memset(out, 0, sizeof *out);
    if (model_out)
        *model_out = NULL;
    na_layer *target = model ? na_tree_get(model, path) : NULL;
    if (!target)
        return model ? na_last_status()
                     : na__fail(NA_ERR_ARGUMENT, "%s: model is NULL", op);
    out->layer = target;
    out->path = na__strdup(op, path ? path : "");
    if (!out->path)
        return NA_ERR_NO_MEMORY;
    extract_ctx e = {target, out, false};
    na__call_hook hook = {extract_before, extract_after, &e, NULL};
    na__call_hook_push(&hook);
    na_value *y = NULL;
    na_status st = na_layer_call(model, in, side, &y);
    na__call_hook_pop(&hook);
    if (st == NA_OK && !out->input)
        st = na__fail(NA_ERR_NOT_FOUND, "%s: the %s at '%s' was not called", op,
                      na_layer_type_name(target), out->path);
    if (st == NA_OK && model_out)
        *model_out = y;
    else
        na_value_free(y);
    if (st != NA_OK)
        na_submodel_clear(out);
    return st;
}

void na_submodel_clear(na_submodel *s)
{
    if (!s)
        return;
    free(s->path);
    na_value_free(s->input);
    na_side_free(s->side);
    na_value_free(s->output);
    memset(s, 0, sizeof *s);
}
