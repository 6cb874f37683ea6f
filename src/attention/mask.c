/* Attention masks: ApplyAttentionMask (explicit, from a side input),
 * ApplyCausalMask (from token positions), MaskedSoftmax (the fully-masked
 * row policy) and the Flax-style helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention_internal.h"

/* ---- shared ---------------------------------------------------------------- */

/* Every axis of `mask` must be a named axis of `logits` of the same size. */
static na_status check_lines_up(const char *who, const char *what,
                                const na_array *mask, const na_array *logits)
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
    na_status st = check_lines_up(who, what, mask, logits);
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

/* logits {batch, heads, seq, kv_seq} -> same; mask from side[tag]. */
static na_status explicit_mask_call(na_layer *self, const na_value *in,
                                    const na_side *side, na_value **out)
{
    const explicit_mask_layer *l = (const explicit_mask_layer *)self;
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

static void explicit_mask_describe(const na_layer *self, na_fields *f)
{
    const explicit_mask_layer *l = (const explicit_mask_layer *)self;
    na_fields_str(f, "mask_tag", l->tag);
    na_fields_float(f, "masked_out_value", l->value);
    if (l->optional)
        na_fields_bool(f, "optional", true);
}

static void explicit_mask_destroy(na_layer *self)
{
    free(((explicit_mask_layer *)self)->tag);
    free(self);
}

const na_layer_type na_apply_attention_mask_type = {
    .name = "ApplyAttentionMask",
    .call = explicit_mask_call,
    .describe = explicit_mask_describe,
    .destroy = explicit_mask_destroy,
};

na_status na_apply_attention_mask_new(const char *mask_tag, double masked_out_value,
                                      na_layer **out)
{
    const char *who = "na_apply_attention_mask_new";
    if (!out || !mask_tag || !*mask_tag)
        return na__fail(NA_ERR_ARGUMENT, "%s: %s", who,
                        out ? "mask_tag is empty" : "out is NULL");
    explicit_mask_layer *l = calloc(1, sizeof *l);
    char *tag = l ? na__strdup(who, mask_tag) : NULL;
    if (!tag) {
        free(l);
        return na__fail(NA_ERR_NO_MEMORY, "%s: out of memory", who);
    }
    l->base.type = &na_apply_attention_mask_type;
    l->tag = tag;
    l->value = masked_out_value;
    *out = &l->base;
    return NA_OK;
}

na_status na_apply_attention_mask_set_optional(na_layer *layer, bool optional)
{
    if (!layer || layer->type != &na_apply_attention_mask_type)
        return na__fail(NA_ERR_ARGUMENT, "na_apply_attention_mask_set_optional: "
                        "layer is a %s, not an ApplyAttentionMask",
                        layer ? na_layer_type_name(layer) : "NULL");
    ((explicit_mask_layer *)layer)->optional = optional;
    return NA_OK;
}

/* ---- positions ------------------------------------------------------------ */

na_status na_causal_positions_mask(const na_array *q_pos, const na_array *kv_pos,
                                   int64_t window, na_array **out)
{
    const char *who = "na_causal_positions_mask";
    if (!q_pos || !kv_pos || !out)
        return na__fail(NA_ERR_ARGUMENT, "%s: NULL argument", who);
    if (q_pos->dtype != NA_I32 || kv_pos->dtype != NA_I32)
        return na__fail(NA_ERR_DTYPE, "%s: positions must be i32 (token "
                        "indices), got queries %s and keys %s", who,
                        na__shape(q_pos), na__shape(kv_pos));
    if (window < 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: window %lld < 0", who, (long long)window);
    na_array *past = NULL, *real = NULL, *keep = NULL, *dist = NULL, *near = NULL;
    na_status st = na_binary(NA_GE, q_pos, kv_pos, &past);
    if (st == NA_OK)
        st = na_binary_scalar(NA_GE, kv_pos, 0, &real);
    if (st == NA_OK)
        st = na_binary(NA_LOGICAL_AND, past, real, &keep);
    if (st == NA_OK && window > 0) {
        st = na_sub(q_pos, kv_pos, &dist);
        if (st == NA_OK)
            st = na_binary_scalar(NA_LT, dist, (double)window, &near);
        na_array_free(past);
        past = keep;
        keep = NULL;
        if (st == NA_OK)
            st = na_binary(NA_LOGICAL_AND, past, near, &keep);
    }
    na_array_free(past);
    na_array_free(real);
    na_array_free(dist);
    na_array_free(near);
    if (st != NA_OK) {
        na_array_free(keep);
        return st;
    }
    *out = keep;
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

/* Positions along `axis` (size n) from side[key] (checked), or NULL if the
 * key is absent. */
static na_status side_positions(const causal_mask_layer *l, const na_side *side,
                                const char *key, const char *axis, int64_t n,
                                const na_array **pos)
{
    *pos = NULL;
    if (!na_side_get(side, key))
        return NA_OK;
    const na_array *p = na_side_require_array(side, key, "ApplyCausalMask");
    if (!p)
        return na_last_status();
    if (na_axis_size(p, axis) != n)
        return na__fail(NA_ERR_SHAPE, "ApplyCausalMask: positions '%s' %s must "
                        "have axis '%s' of size %lld (the logits')", key,
                        na__shape(p), axis, (long long)n);
    *pos = p;
    NA__UNUSED(l);
    return NA_OK;
}

/* q {.., seq}, kv {.., kv_seq}: owned new references (see masks.h for the
 * defaults). */
static na_status positions(const causal_mask_layer *l, const na_side *side,
                           int64_t sq, int64_t skv, na_array **q, na_array **kv)
{
    const na_array *qs = NULL, *kvs = NULL;
    na_status st = side_positions(l, side, l->q_key, l->q_axis, sq, &qs);
    if (st == NA_OK)
        st = side_positions(l, side, l->kv_key, l->kv_axis, skv, &kvs);
    if (st != NA_OK)
        return st;
    st = qs ? na_array_ref(qs, q) : na_arange(l->q_axis, sq, NA_I32, q);
    if (st != NA_OK)
        return st;
    if (kvs)
        st = na_array_ref(kvs, kv);
    else if (qs && sq == skv)
        st = na_rename(qs, (const char *const[]){l->q_axis, NULL},
                       (const char *const[]){l->kv_axis, NULL}, kv);
    else
        st = na_arange(l->kv_axis, skv, NA_I32, kv);
    if (st != NA_OK) {
        na_array_free(*q);
        *q = NULL;
    }
    return st;
}

static na_status causal_mask_call(na_layer *self, const na_value *in,
                                  const na_side *side, na_value **out)
{
    const causal_mask_layer *l = (const causal_mask_layer *)self;
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

static void causal_mask_describe(const na_layer *self, na_fields *f)
{
    const causal_mask_layer *l = (const causal_mask_layer *)self;
    if (l->window > 0)
        na_fields_int(f, "window", l->window);
    na_fields_str(f, "query_positions", l->q_key);
    na_fields_str(f, "kv_positions", l->kv_key);
    na_fields_float(f, "masked_out_value", l->value);
}

static void causal_mask_destroy(na_layer *self)
{
    causal_mask_layer *l = (causal_mask_layer *)self;
    free(l->q_key);
    free(l->kv_key);
    free(l);
}

const na_layer_type na_apply_causal_mask_type = {
    .name = "ApplyCausalMask",
    .call = causal_mask_call,
    .describe = causal_mask_describe,
    .destroy = causal_mask_destroy,
};

bool na__is_causal_mask(const na_layer *layer)
{
    return layer && layer->type == &na_apply_causal_mask_type;
}

na_status na_apply_causal_mask_new(const na_causal_mask_options *opt, na_layer **out)
{
    const char *who = "na_apply_causal_mask_new";
    na_causal_mask_options o = opt ? *opt : (na_causal_mask_options){0};
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "%s: out is NULL", who);
    if (o.window < 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: window %lld < 0", who,
                        (long long)o.window);
    causal_mask_layer *l = calloc(1, sizeof *l);
    if (!l)
        return na__fail(NA_ERR_NO_MEMORY, "%s: out of memory", who);
    l->base.type = &na_apply_causal_mask_type;
    l->q_key = na__strdup(who, o.query_positions_key && *o.query_positions_key
                                   ? o.query_positions_key : NA_QUERY_POSITIONS_KEY);
    l->kv_key = na__strdup(who, o.kv_positions_key && *o.kv_positions_key
                                    ? o.kv_positions_key : NA_KV_POSITIONS_KEY);
    l->q_axis = intern_or(o.query_axis, "seq");
    l->kv_axis = intern_or(o.kv_axis, "kv_seq");
    l->window = o.window;
    l->value = o.masked_out_value != 0 ? o.masked_out_value : NA_MASKED_OUT_DEFAULT;
    if (!l->q_key || !l->kv_key || !l->q_axis || !l->kv_axis) {
        causal_mask_destroy(&l->base);
        return na_last_status();
    }
    *out = &l->base;
    return NA_OK;
}

/* ---- MaskedSoftmax ------------------------------------------------------------ */

typedef struct masked_softmax_layer {
    na_layer base;
    const char *axis;   /* interned */
    na_masked_rows rows;
    double value;
} masked_softmax_layer;

/* Zero the rows (along `axis`) of w whose logits are all masked. */
static na_status zero_masked_rows(const masked_softmax_layer *l, const na_array *x,
                                  const na_array *w, na_array **out)
{
    na_array *mx = NULL, *live = NULL, *zero = NULL, *live_b = NULL;
    na_status st = na_max(x, (const char *const[]){l->axis, NULL}, &mx);
    if (st == NA_OK)
        st = na_binary_scalar(NA_GT, mx, 0.5 * l->value, &live);
    if (st == NA_OK)
        st = na_broadcast_like(live, w, &live_b);
    if (st == NA_OK)
        st = na_scalar(w->dtype, 0, &zero);
    if (st == NA_OK)
        st = na_where(live_b, w, zero, out);
    na_array_free(mx);
    na_array_free(live);
    na_array_free(live_b);
    na_array_free(zero);
    return st;
}

/* x {.., kv_seq} -> softmax over kv_seq, fully masked rows per policy. */
static na_status masked_softmax_call(na_layer *self, const na_value *in,
                                     const na_side *side, na_value **out)
{
    NA__UNUSED(side);
    const masked_softmax_layer *l = (const masked_softmax_layer *)self;
    const na_array *x = na__attn_array(in, "MaskedSoftmax", "the input");
    if (!x)
        return na_last_status();
    if (na_axis_index(x, l->axis) < 0)
        return na__fail(NA_ERR_AXIS, "MaskedSoftmax: input %s has no axis '%s'",
                        na__shape(x), l->axis);
    na_array *w = NULL, *y = NULL;
    na_status st = na_softmax(x, (const char *const[]){l->axis, NULL}, &w);
    if (st != NA_OK || l->rows == NA_MASKED_ROWS_UNIFORM)
        return st == NA_OK ? wrap(w, out) : st;
    st = zero_masked_rows(l, x, w, &y);
    na_array_free(w);
    return st == NA_OK ? wrap(y, out) : st;
}

static void masked_softmax_describe(const na_layer *self, na_fields *f)
{
    const masked_softmax_layer *l = (const masked_softmax_layer *)self;
    na_fields_names(f, "across", (const char *const[]){l->axis, NULL});
    na_fields_str(f, "masked_rows", l->rows == NA_MASKED_ROWS_ZERO ? "zero" : "uniform");
}

static void masked_softmax_destroy(na_layer *self) { free(self); }

const na_layer_type na_masked_softmax_type = {
    .name = "MaskedSoftmax",
    .call = masked_softmax_call,
    .describe = masked_softmax_describe,
    .destroy = masked_softmax_destroy,
};

na_status na_masked_softmax_new(const char *axis, na_masked_rows rows,
                                double masked_out_value, na_layer **out)
{
    const char *who = "na_masked_softmax_new";
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "%s: out is NULL", who);
    if (rows != NA_MASKED_ROWS_UNIFORM && rows != NA_MASKED_ROWS_ZERO)
        return na__fail(NA_ERR_ARGUMENT, "%s: unknown row policy %d", who, (int)rows);
    if (masked_out_value > 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: masked_out_value %g must be negative",
                        who, masked_out_value);
    const char *a = intern_or(axis, "kv_seq");
    if (!a)
        return na_last_status();
    masked_softmax_layer *l = calloc(1, sizeof *l);
    if (!l)
        return na__fail(NA_ERR_NO_MEMORY, "%s: out of memory", who);
    l->base.type = &na_masked_softmax_type;
    l->axis = a;
    l->rows = rows;
    l->value = masked_out_value != 0 ? masked_out_value : NA_MASKED_OUT_DEFAULT;
    *out = &l->base;
    return NA_OK;
}

/* ---- Flax-style helpers -------------------------------------------------------- */

static na_status to_bool(const na_array *x, na_array **out)
{
    if (x->dtype == NA_BOOL)
        return na_array_ref(x, out);
    return na_binary_scalar(NA_NE, x, 0, out);
}

na_status na_pairwise_and(const na_array *q, const na_array *k, void *ctx,
                          na_array **out)
{
    NA__UNUSED(ctx);
    na_array *qb = NULL, *kb = NULL;
    na_status st = to_bool(q, &qb);
    if (st == NA_OK)
        st = to_bool(k, &kb);
    if (st == NA_OK)
        st = na_binary(NA_LOGICAL_AND, qb, kb, out);
    na_array_free(qb);
    na_array_free(kb);
    return st;
}

na_status na_pairwise_ge(const na_array *q, const na_array *k, void *ctx,
                         na_array **out)
{
    NA__UNUSED(ctx);
    return na_binary(NA_GE, q, k, out);
}

na_status na_make_attention_mask(const na_array *q_in, const na_array *k_in,
                                 na_pairwise_fn fn, void *ctx, na_array **out)
{
    const char *who = "na_make_attention_mask";
    if (!q_in || !k_in || !out)
        return na__fail(NA_ERR_ARGUMENT, "%s: NULL argument", who);
    if (na_positional_count(q_in) || na_positional_count(k_in))
        return na__fail(NA_ERR_AXIS, "%s: inputs must have named axes only, got "
                        "query %s and key %s", who, na__shape(q_in), na__shape(k_in));
    if (na_axis_index(q_in, "seq") < 0)
        return na__fail(NA_ERR_AXIS, "%s: query input %s has no axis 'seq'", who,
                        na__shape(q_in));
    na_array *k = NULL, *m = NULL;
    na_status st;
    if (na_axis_index(k_in, "kv_seq") < 0 && na_axis_index(k_in, "seq") >= 0)
        st = na_rename(k_in, NA_NAMES("seq"), NA_NAMES("kv_seq"), &k);
    else
        st = na_array_ref(k_in, &k);
    if (st == NA_OK && na_axis_index(k, "kv_seq") < 0)
        st = na__fail(NA_ERR_AXIS, "%s: key input %s has no axis 'kv_seq' or 'seq'",
                      who, na__shape(k_in));
    if (st == NA_OK)
        st = (fn ? fn : na_pairwise_and)(q_in, k, ctx, &m);
    if (st == NA_OK)
        st = to_bool(m, out);
    na_array_free(k);
    na_array_free(m);
    return st;
}

na_status na_make_causal_mask(const na_array *x, const char *axis, na_array **out)
{
    const char *who = "na_make_causal_mask";
    if (!x || !out)
        return na__fail(NA_ERR_ARGUMENT, "%s: NULL argument", who);
    const char *a = axis ? axis : "seq";
    int64_t n = na_axis_size(x, a);
    if (n < 0)
        return na__fail(NA_ERR_AXIS, "%s: %s has no axis '%s'", who, na__shape(x), a);
    na_array *i = NULL, *j = NULL;
    na_status st = na_arange("seq", n, NA_I32, &i);
    if (st == NA_OK)
        st = na_arange("kv_seq", n, NA_I32, &j);
    if (st == NA_OK)
        st = na_binary(NA_GE, i, j, out);
    na_array_free(i);
    na_array_free(j);
    return st;
}

na_status na_combine_masks(int n, const na_array *const *masks, na_array **out)
{
    const char *who = "na_combine_masks";
    if (!out || n < 0 || (n > 0 && !masks))
        return na__fail(NA_ERR_ARGUMENT, "%s: bad arguments", who);
    na_array *acc = NULL;
    for (int i = 0; i < n; i++) {
        if (!masks[i])
            continue;
        if (masks[i]->dtype != NA_BOOL) {
            na_array_free(acc);
            return na__fail(NA_ERR_DTYPE, "%s: mask %d is %s, expected bool", who, i,
                            na__shape(masks[i]));
        }
        na_array *next = NULL;
        na_status st = acc ? na_binary(NA_LOGICAL_AND, acc, masks[i], &next)
                           : na_array_ref(masks[i], &next);
        na_array_free(acc);
        if (st != NA_OK)
            return st;
        acc = next;
    }
    *out = acc;
    return NA_OK;
}

/* ---- for the fused path ------------------------------------------------------- */

bool na__mask_layer_info(const na_layer *l, double *masked_out_value)
{
    if (l && l->type == &na_apply_attention_mask_type)
        *masked_out_value = ((const explicit_mask_layer *)l)->value;
    else if (l && l->type == &na_apply_causal_mask_type)
        *masked_out_value = ((const causal_mask_layer *)l)->value;
    else
        return false;
    return true;
}

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
    na_status st = check_lines_up("ApplyAttentionMask", "mask", m, logits);
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
        st = check_lines_up("ApplyCausalMask", "the position mask", m, logits);
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
    if (l->type == &na_apply_attention_mask_type)
        return explicit_mask_eval((const explicit_mask_layer *)l, side, logits, mask);
    return causal_mask_eval((const causal_mask_layer *)l, side, logits, mask);
}

bool na__softmax_info(const na_layer *l, const char *axis, na_masked_rows *rows)
{
    if (l && l->type == &na_masked_softmax_type) {
        const masked_softmax_layer *m = (const masked_softmax_layer *)l;
        *rows = m->rows;
        return m->axis == axis && m->value <= -1e30;
    }
    const char *const *across = NULL;
    if (!l || l->type != &na_softmax_layer_type ||
        na_layer_field_names(l, "across", &across) != NA_OK)
        return false;
    *rows = NA_MASKED_ROWS_UNIFORM;
    return across && across[0] == axis && !across[1];
}
