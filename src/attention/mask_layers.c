/* The mask layers: ApplyAttentionMask (an explicit bool mask from a side
 * input) and ApplyCausalMask (from token positions), and their masks as
 * the fused path evaluates them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention_internal.h"

/* ---- shared ---------------------------------------------------------------- */

/* Every axis of `mask` must be a named axis of `logits` of the same size. */
na_status na__check_lines_up(const char *who, const char *what, const na_array *mask,
                             const na_array *logits)
{
    for (int d = 0; d < mask->ndim; d++) {
        const char *n = mask->name[d];
        if (!n)
            return na__fail(NA_ERR_AXIS, "%s: %s %s has positional axes; masks "
                            "line up with the logits %s by name only", who, what,
                            na__shape(mask), na__shape(logits));
        int64_t size = na_axis_size(logits, n);
        if (size < 0)
            return na__fail(NA_ERR_AXIS, "%s: %s %s does not line up with the "
                            "logits %s: axis '%s' is not in the logits", who, what,
                            na__shape(mask), na__shape(logits), n);
        if (size != mask->shape[d])
            return na__fail(NA_ERR_SHAPE, "%s: %s %s does not line up with the "
                            "logits %s: axis '%s' has size %lld in the mask and "
                            "%lld in the logits", who, what, na__shape(mask),
                            na__shape(logits), n, (long long)mask->shape[d],
                            (long long)size);
    }
    return NA_OK;
}

/* logits where mask, else `value`; the result keeps the logits' layout. */
static na_status apply_mask(const char *who, const char *what, const na_array *logits,
                            const na_array *mask, double value, na_array **out)
{
    if (mask->dtype != NA_BOOL)
        return na__fail(NA_ERR_DTYPE, "%s: %s is %s, expected bool (true = attend; "
                        "make one with a comparison such as na_binary_scalar(NA_NE, "
                        "m, 0))", who, what, na__shape(mask));
    na_status st = na__check_lines_up(who, what, mask, logits);
    na_array *m = NULL, *fill = NULL;
    if (st == NA_OK)
        st = na_broadcast_like(mask, logits, &m);
    if (st == NA_OK)
        st = na_scalar(logits->dtype, value, &fill);
    if (st == NA_OK)
        st = na_where(m, logits, fill, out);
    na_array_free(m);
    na_array_free(fill);
    return st;
}

static na_status wrap(na_array *y, na_value **out)
{
    *out = na_value_from_array(y);
    return *out ? NA_OK : na_last_status();
}

static na_status pass_through(const na_array *x, na_value **out)
{
    *out = na_value_ref_array(x);
    return *out ? NA_OK : na_last_status();
}

static const char *intern_or(const char *name, const char *dflt)
{
    return na_intern(name && *name ? name : dflt);
}

/* ---- ApplyAttentionMask ------------------------------------------------------ */

typedef struct explicit_mask_layer {
    na_layer base;
    char *tag;
    double value;
    bool optional;
} explicit_mask_layer;

static explicit_mask_layer *as_explicit(const na_layer *l)
{
    return l && l->type == &na_apply_attention_mask_type ? (explicit_mask_layer *)l
                                                         : NULL;
}

/* logits {batch, heads, seq, kv_seq} -> same; mask from side[tag]. */
static na_status explicit_mask_call(na_layer *self, const na_value *in,
                                    const na_side *side, na_value **out)
{
    const explicit_mask_layer *l = as_explicit(self);
    const char *who = "ApplyAttentionMask";
    const na_array *logits = na__attn_array(in, who, "the logits");
    if (!logits)
        return na_last_status();
    if (l->optional && !na_side_get(side, l->tag))
        return pass_through(logits, out);
    const na_array *mask = na_side_require_array(side, l->tag, who);
    if (!mask) {
        na__fail_append(" (logits %s)", na__shape(logits));
        return na_last_status();
    }
    char what[160];
    snprintf(what, sizeof what, "mask '%s'", l->tag);
    na_array *y = NULL;
    na_status st = apply_mask(who, what, logits, mask, l->value, &y);
    return st == NA_OK ? wrap(y, out) : st;
}

static na_status explicit_mask_finish(na_layer *self)
{
    const explicit_mask_layer *l = as_explicit(self);
    return l->tag && *l->tag ? NA_OK
                             : na__fail(NA_ERR_ARGUMENT, "ApplyAttentionMask: "
                                        "mask_tag is empty");
}

static const na_field_desc explicit_mask_fields[] = {
    NA_FIELD_AS("mask_tag", explicit_mask_layer, tag, NA_FIELD_STRING, 0),
    NA_FIELD_AS("masked_out_value", explicit_mask_layer, value, NA_FIELD_FLOAT, 0),
    NA_FIELD_AS("optional", explicit_mask_layer, optional, NA_FIELD_BOOL,
                NA_FIELD_OMIT_DEFAULT),
};

const na_layer_type na_apply_attention_mask_type = {
    .name = "ApplyAttentionMask",
    .call = explicit_mask_call,
    .size = sizeof(explicit_mask_layer),
    .fields = explicit_mask_fields,
    .field_count = NA_FIELD_COUNT(explicit_mask_fields),
    .finish = explicit_mask_finish,
};

na_status na_apply_attention_mask_new(const char *mask_tag, double masked_out_value,
                                      na_layer **out)
{
    const char *who = "na_apply_attention_mask_new";
    if (!out || !mask_tag || !*mask_tag)
        return na__fail(NA_ERR_ARGUMENT, "%s: %s", who,
                        out ? "mask_tag is empty" : "out is NULL");
    na_layer *made = NULL;
    char *tag = na__strdup(who, mask_tag);
    na_status st = tag ? na_layer_alloc(&na_apply_attention_mask_type, &made)
                       : na_last_status();
    if (st != NA_OK) {
        free(tag);
        return st;
    }
    as_explicit(made)->tag = tag;
    as_explicit(made)->value = masked_out_value;
    *out = made;
    return NA_OK;
}

na_status na_apply_attention_mask_set_optional(na_layer *layer, bool optional)
{
    if (!as_explicit(layer))
        return na__fail(NA_ERR_ARGUMENT, "na_apply_attention_mask_set_optional: "
                        "layer is a %s, not an ApplyAttentionMask",
                        layer ? na_layer_type_name(layer) : "NULL");
    as_explicit(layer)->optional = optional;
    return NA_OK;
}

/* ---- ApplyCausalMask --------------------------------------------------------- */

typedef struct causal_mask_layer {
    na_layer base;
    char *q_key, *kv_key;
    const char *q_axis, *kv_axis;  /* interned */
    int64_t window;
    double value;
} causal_mask_layer;

static causal_mask_layer *as_causal(const na_layer *l)
{
    return l && l->type == &na_apply_causal_mask_type ? (causal_mask_layer *)l : NULL;
}

/* q {.., seq}, kv {.., kv_seq}: owned new references (see masks.h for the
 * defaults). */
static na_status positions(const causal_mask_layer *l, const na_side *side,
                           int64_t sq, int64_t skv, na_array **q, na_array **kv)
{
    na__positions_spec p = {"ApplyCausalMask", l->q_key, l->kv_key, l->q_axis,
                            l->kv_axis};
    return na__attn_positions(&p, side, sq, skv, q, kv);
}

na_status na__causal_mask_positions(const na_layer *l, const na_side *side,
                                    const char *q_axis, int64_t sq, const char *kv_axis,
                                    int64_t skv, na_array **q, na_array **kv,
                                    int64_t *window)
{
    const causal_mask_layer *c = as_causal(l);
    *q = *kv = NULL;
    if (!c || c->q_axis != q_axis || c->kv_axis != kv_axis)
        return NA_OK;
    *window = c->window;
    return positions(c, side, sq, skv, q, kv);
}

static na_status causal_mask_call(na_layer *self, const na_value *in,
                                  const na_side *side, na_value **out)
{
    const causal_mask_layer *l = as_causal(self);
    const char *who = "ApplyCausalMask";
    const na_array *logits = na__attn_array(in, who, "the logits");
    if (!logits)
        return na_last_status();
    int64_t sq = na_axis_size(logits, l->q_axis), skv = na_axis_size(logits, l->kv_axis);
    if (sq < 0 || skv < 0)
        return na__fail(NA_ERR_AXIS, "%s: logits %s need axes '%s' and '%s'", who,
                        na__shape(logits), l->q_axis, l->kv_axis);
    na_array *q = NULL, *kv = NULL, *mask = NULL, *y = NULL;
    na_status st = positions(l, side, sq, skv, &q, &kv);
    if (st == NA_OK)
        st = na_causal_positions_mask(q, kv, l->window, &mask);
    if (st == NA_OK)
        st = apply_mask(who, "the position mask", logits, mask, l->value, &y);
    na_array_free(q);
    na_array_free(kv);
    na_array_free(mask);
    return st == NA_OK ? wrap(y, out) : st;
}

static na_status causal_mask_finish(na_layer *self)
{
    const causal_mask_layer *l = as_causal(self);
    if (!l->q_key || !l->kv_key || !l->q_axis || !l->kv_axis || l->window < 0)
        return na__fail(NA_ERR_ARGUMENT, "ApplyCausalMask: positions keys and axes "
                        "are required and the window must be >= 0");
    return NA_OK;
}

static const na_field_desc causal_mask_fields[] = {
    NA_FIELD_AS("window", causal_mask_layer, window, NA_FIELD_INT, NA_FIELD_OMIT_DEFAULT),
    NA_FIELD_AS("query_positions", causal_mask_layer, q_key, NA_FIELD_STRING, 0),
    NA_FIELD_AS("kv_positions", causal_mask_layer, kv_key, NA_FIELD_STRING, 0),
    NA_FIELD_AS("masked_out_value", causal_mask_layer, value, NA_FIELD_FLOAT, 0),
    NA_FIELD_AS("query_axis", causal_mask_layer, q_axis, NA_FIELD_AXIS, NA_FIELD_NOPRINT),
    NA_FIELD_AS("kv_axis", causal_mask_layer, kv_axis, NA_FIELD_AXIS, NA_FIELD_NOPRINT),
};

const na_layer_type na_apply_causal_mask_type = {
    .name = "ApplyCausalMask",
    .call = causal_mask_call,
    .size = sizeof(causal_mask_layer),
    .fields = causal_mask_fields,
    .field_count = NA_FIELD_COUNT(causal_mask_fields),
    .finish = causal_mask_finish,
};

na_status na_apply_causal_mask_new(const na_causal_mask_options *opt, na_layer **out)
{
    const char *who = "na_apply_causal_mask_new";
    na_causal_mask_options o = opt ? *opt : (na_causal_mask_options){0};
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "%s: out is NULL", who);
    if (o.window < 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: window %lld < 0", who,
                        (long long)o.window);
    na_layer *made = NULL;
    na_status st = na_layer_alloc(&na_apply_causal_mask_type, &made);
    if (st != NA_OK)
        return st;
    causal_mask_layer *l = as_causal(made);
    l->q_key = na__strdup(who, o.query_positions_key && *o.query_positions_key
                                   ? o.query_positions_key : NA_QUERY_POSITIONS_KEY);
    l->kv_key = na__strdup(who, o.kv_positions_key && *o.kv_positions_key
                                    ? o.kv_positions_key : NA_KV_POSITIONS_KEY);
    l->q_axis = intern_or(o.query_axis, "seq");
    l->kv_axis = intern_or(o.kv_axis, "kv_seq");
    l->window = o.window;
    l->value = o.masked_out_value != 0 || o.custom_masked_out_value ? o.masked_out_value
                                                                    : NA_MASKED_OUT_DEFAULT;
    if (!l->q_key || !l->kv_key || !l->q_axis || !l->kv_axis) {
        na_layer_free(made);
        return na_last_status();
    }
    *out = made;
    return NA_OK;
}

/* ---- evaluated for the fused path ------------------------------------------ */

static na_status explicit_mask_eval(const explicit_mask_layer *l, const na_side *side,
                                    const na_array *logits, na_array **mask)
{
    *mask = NULL;
    if (l->optional && !na_side_get(side, l->tag))
        return NA_OK;
    const na_array *m = na_side_require_array(side, l->tag, "ApplyAttentionMask");
    if (!m)
        return na_last_status();
    if (m->dtype != NA_BOOL)
        return na__fail(NA_ERR_DTYPE, "ApplyAttentionMask: mask '%s' is %s, expected "
                        "bool", l->tag, na__shape(m));
    na_status st = na__check_lines_up("ApplyAttentionMask", "mask", m, logits);
    return st == NA_OK ? na_array_ref(m, mask) : st;
}

static na_status causal_mask_eval(const causal_mask_layer *l, const na_side *side,
                                  const na_array *logits, na_array **mask)
{
    int64_t sq = na_axis_size(logits, l->q_axis), skv = na_axis_size(logits, l->kv_axis);
    if (sq < 0 || skv < 0)
        return na__fail(NA_ERR_AXIS, "ApplyCausalMask: logits lack its axes");
    na_array *q = NULL, *kv = NULL, *m = NULL;
    na_status st = positions(l, side, sq, skv, &q, &kv);
    if (st == NA_OK)
        st = na_causal_positions_mask(q, kv, l->window, &m);
    if (st == NA_OK)
        st = na__check_lines_up("ApplyCausalMask", "the position mask", m, logits);
    na_array_free(q);
    na_array_free(kv);
    if (st != NA_OK) {
        na_array_free(m);
        return st;
    }
    *mask = m;
    return NA_OK;
}

na_status na__mask_layer_eval(const na_layer *l, const na_side *side,
                              const na_array *logits, na_array **mask)
{
    if (as_explicit(l))
        return explicit_mask_eval(as_explicit(l), side, logits, mask);
    if (as_causal(l))
        return causal_mask_eval(as_causal(l), side, logits, mask);
    return na__fail(NA_ERR_ARGUMENT, "na__mask_layer_eval: %s is not a mask layer",
                    na_layer_type_name(l));
}
