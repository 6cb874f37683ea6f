/* The standard dot-product sublayers: AttentionLogits, AttentionCombine,
 * and the query_key_to_attn Sequential built from options. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention_internal.h"

typedef struct contract_layer {
    na_layer base;
    const char *contract; /* interned: the contracted axis                */
    double scale;         /* AttentionLogits: 0 = size(axis)**-0.5 unless */
    bool custom_scale;    /* custom_scale (then any finite value, 0 too)  */
} contract_layer;

static double logits_scale(const contract_layer *l, const na_array *q)
{
    return l->custom_scale || l->scale != 0
               ? l->scale
               : 1.0 / sqrt((double)na_axis_size(q, l->contract));
}

/* The two arrays of a pair input. */
static na_status pair_arrays(const na_value *in, const char *who, const char *first,
                             const char *second, const na_array **a,
                             const na_array **b)
{
    if (!in || in->kind != NA_VALUE_TUPLE || in->count != 2) {
        char buf[256] = "NULL";
        if (in)
            na_value_shape_str(in, buf, sizeof buf);
        return na__fail(NA_ERR_ARGUMENT, "%s: input must be a pair (%s, %s), got %s",
                        who, first, second, buf);
    }
    *a = na__attn_array(in->items[0], who, first);
    *b = *a ? na__attn_array(in->items[1], who, second) : NULL;
    return *b ? NA_OK : na_last_status();
}

/* Both must carry `axis` with the same size. */
static na_status require_axis(const char *who, const char *axis, const char *an,
                              const na_array *a, const char *bn, const na_array *b)
{
    int64_t sa = na_axis_size(a, axis), sb = na_axis_size(b, axis);
    if (sa < 0 || sb < 0 || sa != sb)
        return na__fail(sa < 0 || sb < 0 ? NA_ERR_AXIS : NA_ERR_SHAPE,
                        "%s: %s %s and %s %s must share axis '%s'", who, an,
                        na__shape(a), bn, na__shape(b), axis);
    return NA_OK;
}

/* (q {batch, seq, heads, projection}, k {batch, kv_seq, heads, projection})
 *   -> logits {batch, heads, seq, kv_seq} */
static na_status logits_call(na_layer *self, const na_value *in, const na_side *side,
                             na_value **out)
{
    NA__UNUSED(side);
    const contract_layer *l = (const contract_layer *)self;
    const char *who = "AttentionLogits";
    const na_array *q = NULL, *k = NULL;
    na_status st = pair_arrays(in, who, "queries", "keys", &q, &k);
    if (st == NA_OK)
        st = require_axis(who, l->contract, "queries", q, "keys", k);
    if (st != NA_OK)
        return st;
    double scale = logits_scale(l, q);
    na_array *dot = NULL, *y = NULL;
    st = na_contract(q, k, (const char *const[]){l->contract, NULL}, &dot);
    if (st != NA_OK) {
        na__fail_append(" (%s: queries %s, keys %s)", who, na__shape(q), na__shape(k));
        return st;
    }
    st = na_binary_scalar(NA_MUL, dot, scale, &y);
    na_array_free(dot);
    if (st != NA_OK)
        return st;
    *out = na_value_from_array(y);
    return *out ? NA_OK : na_last_status();
}

/* (a {batch, heads, seq, kv_seq}, v {batch, kv_seq, heads, projection})
 *   -> {batch, heads, seq, projection} */
static na_status combine_call(na_layer *self, const na_value *in, const na_side *side,
                              na_value **out)
{
    NA__UNUSED(side);
    const contract_layer *l = (const contract_layer *)self;
    const char *who = "AttentionCombine";
    const na_array *a = NULL, *v = NULL;
    na_status st = pair_arrays(in, who, "weights", "values", &a, &v);
    if (st == NA_OK)
        st = require_axis(who, l->contract, "weights", a, "values", v);
    if (st != NA_OK)
        return st;
    na_array *y = NULL;
    st = na_contract(a, v, (const char *const[]){l->contract, NULL}, &y);
    if (st != NA_OK) {
        na__fail_append(" (%s: weights %s, values %s)", who, na__shape(a),
                        na__shape(v));
        return st;
    }
    *out = na_value_from_array(y);
    return *out ? NA_OK : na_last_status();
}

/* contract=[projection], scale=0.125 or scale="auto" (0) */
static void logits_describe(const na_layer *self, na_fields *f)
{
    const contract_layer *l = (const contract_layer *)self;
    na_fields_field(f, self, "contract");
    if (l->scale != 0 || l->custom_scale)
        na_fields_float(f, "scale", l->scale);
    else
        na_fields_str(f, "scale", "auto");
}

static na_status contract_finish(na_layer *self)
{
    const contract_layer *l = (const contract_layer *)self;
    if (!l->contract || !isfinite(l->scale) || (!l->custom_scale && l->scale < 0))
        return na__fail(NA_ERR_ARGUMENT, "%s: an axis and a finite scale >= 0 (0: "
                        "automatic unless custom_scale) are required", self->type->name);
    return NA_OK;
}

static const na_field_desc logits_fields[] = {
    NA_FIELD_AS("contract", contract_layer, contract, NA_FIELD_AXIS, NA_FIELD_AS_LIST),
    NA_FIELD_AS("scale", contract_layer, scale, NA_FIELD_FLOAT, NA_FIELD_NOPRINT),
    NA_FIELD_AS("custom_scale", contract_layer, custom_scale, NA_FIELD_BOOL,
                NA_FIELD_NOPRINT),
};

static const na_field_desc combine_fields[] = {
    NA_FIELD_AS("contract", contract_layer, contract, NA_FIELD_AXIS, NA_FIELD_AS_LIST),
};

const na_layer_type na_attention_logits_type = {
    .name = "AttentionLogits",
    .call = logits_call,
    .size = sizeof(contract_layer),
    .fields = logits_fields,
    .field_count = NA_FIELD_COUNT(logits_fields),
    .finish = contract_finish,
    .describe = logits_describe,
};

const na_layer_type na_attention_combine_type = {
    .name = "AttentionCombine",
    .call = combine_call,
    .size = sizeof(contract_layer),
    .fields = combine_fields,
    .field_count = NA_FIELD_COUNT(combine_fields),
    .finish = contract_finish,
};

static na_status contract_new(const char *who, const na_layer_type *type,
                              const char *axis, const char *dflt, double scale,
                              na_layer **out)
{
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "%s: out is NULL", who);
    const char *a = na_intern(axis && *axis ? axis : dflt);
    if (!a)
        return na__fail_in(who, na_last_status());
    if (!(scale >= 0) || isinf(scale))
        return na__fail(NA_ERR_ARGUMENT, "%s: scale %g must be finite and >= 0 "
                        "(0: automatic)", who, scale);
    na_status st = na_layer_alloc(type, out);
    if (st != NA_OK)
        return st;
    ((contract_layer *)*out)->contract = a;
    ((contract_layer *)*out)->scale = scale;
    return NA_OK;
}

na_status na_attention_logits_new(const char *axis, double scale, na_layer **out)
{
    return contract_new("na_attention_logits_new", &na_attention_logits_type, axis,
                        "projection", scale, out);
}

na_status na_attention_logits_set_scale(na_layer *logits, double scale)
{
    const char *who = "na_attention_logits_set_scale";
    if (!na_layer_is(logits, &na_attention_logits_type))
        return na__fail(NA_ERR_ARGUMENT, "%s: layer is a %s, not an AttentionLogits",
                        who, logits ? na_layer_type_name(logits) : "NULL");
    if (!isfinite(scale))
        return na__fail(NA_ERR_ARGUMENT, "%s: scale %g must be finite", who, scale);
    contract_layer *l = (contract_layer *)logits;
    l->scale = scale;
    l->custom_scale = true;
    return NA_OK;
}

na_status na_attention_combine_new(const char *axis, na_layer **out)
{
    return contract_new("na_attention_combine_new", &na_attention_combine_type, axis,
                        "kv_seq", 0, out);
}

/* ---- the standard query_key_to_attn --------------------------------------- */

/* The most children the standard query_key_to_attn gets. */
#define MAX_QK_LAYERS 16

/* After a constructor wrote list[*n] with status st: count it if it worked. */
static na_status push(int *n, na_status st)
{
    if (st == NA_OK)
        (*n)++;
    return st;
}

static na_status mask_layers(const na_dot_product_options *o, na_layer **list, int *n)
{
    na_status st = NA_OK;
    double value = o->masked_out_value != 0 || o->custom_masked_out_value
                       ? o->masked_out_value
                       : NA_MASKED_OUT_DEFAULT;
    if (o->mask_tag && *o->mask_tag) {
        st = push(n, na_apply_attention_mask_new(o->mask_tag, value, &list[*n]));
        if (st == NA_OK)
            st = na_apply_attention_mask_set_optional(list[*n - 1], o->mask_optional);
    }
    for (int i = 0; st == NA_OK && o->padding_mask_tags && o->padding_mask_tags[i]; i++) {
        if (*n >= MAX_QK_LAYERS - 3)
            return na__fail(NA_ERR_ARGUMENT, "na_dot_product_attn_new: too many masks");
        st = push(n, na_apply_attention_mask_new(o->padding_mask_tags[i], value,
                                                 &list[*n]));
        if (st == NA_OK)
            st = na_apply_attention_mask_set_optional(list[*n - 1], true);
    }
    if (st == NA_OK && (o->causal || o->window > 0)) {
        na_causal_mask_options co = {.query_positions_key = o->query_positions_key,
                                     .kv_positions_key = o->kv_positions_key,
                                     .window = o->window,
                                     .masked_out_value = value,
                                     .custom_masked_out_value = true};
        st = push(n, na_apply_causal_mask_new(&co, &list[*n]));
    }
    return st;
}

static na_status bias_layers(const na_dot_product_options *o, na_layer **list, int *n)
{
    na_status st = NA_OK;
    if (o->bias_tag && *o->bias_tag) {
        st = push(n, na_apply_attention_bias_new(o->bias_tag, &list[*n]));
        if (st == NA_OK)
            st = na_apply_attention_bias_set_optional(list[*n - 1], o->bias_optional);
    }
    if (st == NA_OK && o->alibi) {
        na_alibi_options a = *o->alibi;
        if (!a.query_positions_key)
            a.query_positions_key = o->query_positions_key;
        if (!a.kv_positions_key)
            a.kv_positions_key = o->kv_positions_key;
        st = push(n, na_apply_alibi_bias_new(&a, &list[*n]));
    }
    return st;
}

static na_status softmax_and_dropout(const na_dot_product_options *o, na_layer **list,
                                     int *n)
{
    na_status st;
    if (o->masked_rows == NA_MASKED_ROWS_UNIFORM || o->masked_rows == NA_MASKED_ROWS_DEFAULT)
        st = push(n, na_softmax_layer_new(NA_NAMES("kv_seq"), &list[*n]));
    else /* the zero-row threshold: a custom value that is not negative
          * cannot mark masked rows apart, so the default threshold */
        st = push(n, na_masked_softmax_new("kv_seq", o->masked_rows,
                                           o->custom_masked_out_value &&
                                                   !(o->masked_out_value < 0)
                                               ? 0
                                               : o->masked_out_value,
                                           &list[*n]));
    if (st == NA_OK && o->dropout_rate > 0)
        st = push(n, na_dropout_new(o->dropout_rate, o->dropout_shared, o->seed,
                                    &list[*n]));
    return st;
}

na_status na_dot_product_attn_new(const na_dot_product_options *opt, na_layer **out)
{
    na_dot_product_options o = opt ? *opt : (na_dot_product_options){0};
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "na_dot_product_attn_new: out is NULL");
    na_layer *list[MAX_QK_LAYERS] = {0};
    int n = 0;
    na_status st = push(&n, na_attention_logits_new("projection", o.custom_scale ? 0 : o.scale,
                                                    &list[0]));
    if (st == NA_OK && o.custom_scale)
        st = na_attention_logits_set_scale(list[0], o.scale);
    if (st == NA_OK && o.soft_cap != 0)
        st = push(&n, na_tanh_soft_cap_new(o.soft_cap, &list[n]));
    if (st == NA_OK)
        st = bias_layers(&o, list, &n);
    if (st == NA_OK)
        st = mask_layers(&o, list, &n);
    if (st == NA_OK)
        st = softmax_and_dropout(&o, list, &n);
    if (st != NA_OK) {
        for (int i = 0; i < n; i++)
            na_layer_free(list[i]);
        return st;
    }
    return na_sequential_new(n, list, out);
}
