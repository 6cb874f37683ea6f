/* The bias layers: ApplyAttentionBias (an additive bias from a side input)
 * and ApplyALiBiBias (ALiBi from token positions), and their biases as the
 * fused path evaluates them (masks.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention_internal.h"

static na_status wrap(na_array *y, na_value **out)
{
    *out = na_value_from_array(y);
    return *out ? NA_OK : na_last_status();
}

/* logits + bias in the logits' dtype and layout. */
static na_status add_bias(const na_array *logits, const na_array *bias, na_array **out)
{
    na_array *b = NULL, *wide = NULL;
    na_status st = bias->dtype == logits->dtype ? na_array_ref(bias, &b)
                                                 : na_astype(bias, logits->dtype, &b);
    if (st == NA_OK)
        st = na_broadcast_like(b, logits, &wide);
    if (st == NA_OK)
        st = na_add(logits, wide, out);
    na_array_free(b);
    na_array_free(wide);
    return st;
}

static const na_array *logits_of(const na_value *in, const char *who)
{
    const na_array *x = na__attn_array(in, who, "the logits");
    if (x && x->dtype != NA_F32 && x->dtype != NA_F64) {
        na__fail(NA_ERR_DTYPE, "%s: the logits %s must be f32 or f64", who,
                 na__shape(x));
        return NULL;
    }
    return x;
}

/* ---- ApplyAttentionBias ------------------------------------------------------ */

typedef struct side_bias_layer {
    na_layer base;
    char *tag;
    bool optional;
} side_bias_layer;

static side_bias_layer *as_side_bias(const na_layer *l)
{
    return l && l->type == &na_apply_attention_bias_type ? (side_bias_layer *)l : NULL;
}

/* side[tag], checked against the logits; NULL (and NA_OK) when optional and
 * absent. A new reference. */
static na_status side_bias_eval(const side_bias_layer *l, const na_side *side,
                                const na_array *logits, na_array **bias)
{
    const char *who = "ApplyAttentionBias";
    *bias = NULL;
    if (l->optional && !na_side_get(side, l->tag))
        return NA_OK;
    const na_array *b = na_side_require_array(side, l->tag, who);
    if (!b) {
        na__fail_append(" (logits %s)", na__shape(logits));
        return na_last_status();
    }
    char what[160];
    snprintf(what, sizeof what, "bias '%s'", l->tag);
    if (b->dtype != NA_F32 && b->dtype != NA_F64)
        return na__fail(NA_ERR_DTYPE, "%s: %s is %s, expected f32 or f64 (added to "
                        "the logits %s)", who, what, na__shape(b), na__shape(logits));
    na_status st = na__check_lines_up(who, what, b, logits);
    return st == NA_OK ? na_array_ref(b, bias) : st;
}

static na_status side_bias_call(na_layer *self, const na_value *in,
                                const na_side *side, na_value **out)
{
    const na_array *logits = logits_of(in, "ApplyAttentionBias");
    if (!logits)
        return na_last_status();
    na_array *b = NULL, *y = NULL;
    na_status st = side_bias_eval(as_side_bias(self), side, logits, &b);
    if (st == NA_OK && !b) {
        *out = na_value_ref_array(logits);
        return *out ? NA_OK : na_last_status();
    }
    if (st == NA_OK)
        st = add_bias(logits, b, &y);
    na_array_free(b);
    return st == NA_OK ? wrap(y, out) : st;
}

static na_status side_bias_finish(na_layer *self)
{
    const side_bias_layer *l = as_side_bias(self);
    return l->tag && *l->tag ? NA_OK
                             : na__fail(NA_ERR_ARGUMENT, "ApplyAttentionBias: "
                                        "bias_tag is empty");
}

static const na_field_desc side_bias_fields[] = {
    NA_FIELD_AS("bias_tag", side_bias_layer, tag, NA_FIELD_STRING, 0),
    NA_FIELD_AS("optional", side_bias_layer, optional, NA_FIELD_BOOL,
                NA_FIELD_OMIT_DEFAULT),
};

const na_layer_type na_apply_attention_bias_type = {
    .name = "ApplyAttentionBias",
    .call = side_bias_call,
    .size = sizeof(side_bias_layer),
    .fields = side_bias_fields,
    .field_count = NA_FIELD_COUNT(side_bias_fields),
    .finish = side_bias_finish,
};

na_status na_apply_attention_bias_new(const char *bias_tag, na_layer **out)
{
    const char *who = "na_apply_attention_bias_new";
    if (!out || !bias_tag || !*bias_tag)
        return na__fail(NA_ERR_ARGUMENT, "%s: %s", who,
                        out ? "bias_tag is empty" : "out is NULL");
    na_layer *made = NULL;
    char *tag = na__strdup(who, bias_tag);
    na_status st = tag ? na_layer_alloc(&na_apply_attention_bias_type, &made)
                       : na_last_status();
    if (st != NA_OK) {
        free(tag);
        return st;
    }
    as_side_bias(made)->tag = tag;
    *out = made;
    return NA_OK;
}

na_status na_apply_attention_bias_set_optional(na_layer *layer, bool optional)
{
    if (!as_side_bias(layer))
        return na__fail(NA_ERR_ARGUMENT, "na_apply_attention_bias_set_optional: "
                        "layer is a %s, not an ApplyAttentionBias",
                        layer ? na_layer_type_name(layer) : "NULL");
    as_side_bias(layer)->optional = optional;
    return NA_OK;
}

/* ---- ALiBi slopes ------------------------------------------------------------ */

/* slope[h] for n heads (masks.h); c is the largest power of two <= n. */
static double alibi_slope(int c, int h)
{
    if (h < c)
        return exp2(-8.0 * (h + 1) / c);
    return exp2(-8.0 * (2 * (h - c) + 1) / (2.0 * c));
}

na_status na_alibi_slopes(int num_heads, const char *axis, na_array **out)
{
    const char *who = "na_alibi_slopes";
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "%s: out is NULL", who);
    if (num_heads <= 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: num_heads %d must be > 0", who,
                        num_heads);
    const char *a = na_intern(axis && *axis ? axis : "heads");
    if (!a)
        return na_last_status();
    na_array *s = NULL;
    na_status st = na_empty(NA_F32, 1, (na_dim[]){{a, num_heads}}, &s);
    if (st != NA_OK)
        return st;
    int c = 1;
    while (c <= num_heads / 2)
        c *= 2;
    float *d = na_data(s);
    for (int h = 0; h < num_heads; h++)
        d[h] = (float)alibi_slope(c, h);
    *out = s;
    return NA_OK;
}

/* ---- ApplyALiBiBias ---------------------------------------------------------- */

typedef struct alibi_layer {
    na_layer base;
    int64_t num_heads, num_groups; /* num_groups 0: no group axis */
    const char *heads_axis, *group_axis;
    char *q_key, *kv_key;
    const char *q_axis, *kv_axis;
    na_array *slopes; /* derived: {[group_axis,] heads_axis} f32 */
} alibi_layer;

static alibi_layer *as_alibi(const na_layer *l)
{
    return l && l->type == &na_apply_alibi_bias_type ? (alibi_layer *)l : NULL;
}

/* The slopes shaped {group, heads / groups} when grouped (query head h =
 * group * (heads / groups) + head), else {heads}. */
static na_status make_slopes(const alibi_layer *l, na_array **out)
{
    na_array *flat = NULL;
    na_status st = na_alibi_slopes((int)l->num_heads, l->heads_axis, &flat);
    if (st != NA_OK || !l->group_axis) {
        *out = st == NA_OK ? flat : NULL;
        return st;
    }
    na_array *s = NULL;
    int64_t per = l->num_heads / l->num_groups;
    st = na_empty(NA_F32, 2, (na_dim[]){{l->group_axis, l->num_groups},
                                        {l->heads_axis, per}}, &s);
    if (st == NA_OK)
        memcpy(na_data(s), na_data(flat), sizeof(float) * (size_t)l->num_heads);
    na_array_free(flat);
    *out = st == NA_OK ? s : NULL;
    if (st != NA_OK)
        na_array_free(s);
    return st;
}

static na_status alibi_finish(na_layer *self)
{
    alibi_layer *l = as_alibi(self);
    const char *who = "ApplyALiBiBias";
    if (l->num_heads <= 0 || l->num_heads > (1 << 24))
        return na__fail(NA_ERR_ARGUMENT, "%s: num_heads %lld must be in [1, 2^24]", who,
                        (long long)l->num_heads);
    if (!l->heads_axis || !l->q_key || !l->kv_key || !l->q_axis || !l->kv_axis)
        return na__fail(NA_ERR_ARGUMENT, "%s: the heads axis, positions keys and axes "
                        "are required", who);
    if (l->group_axis && (l->num_groups <= 0 || l->num_heads % l->num_groups ||
                          l->group_axis == l->heads_axis))
        return na__fail(NA_ERR_ARGUMENT, "%s: num_groups %lld must divide num_heads "
                        "%lld, and the group axis '%s' differ from the heads axis",
                        who, (long long)l->num_groups, (long long)l->num_heads,
                        l->group_axis);
    na_array_free(l->slopes);
    l->slopes = NULL;
    return make_slopes(l, &l->slopes);
}

static void alibi_destroy(na_layer *self)
{
    na_array_free(as_alibi(self)->slopes);
}

/* The query and key positions ALiBi compares, after checking the slopes
 * against the logits (new references). */
static na_status alibi_positions(const alibi_layer *l, const na_side *side,
                                 const na_array *logits, na_array **q, na_array **kv)
{
    const char *who = "ApplyALiBiBias";
    int64_t sq = na_axis_size(logits, l->q_axis), skv = na_axis_size(logits, l->kv_axis);
    if (sq < 0 || skv < 0)
        return na__fail(NA_ERR_AXIS, "%s: logits %s need axes '%s' and '%s'", who,
                        na__shape(logits), l->q_axis, l->kv_axis);
    na_status st = na__check_lines_up(who, "the slopes", l->slopes, logits);
    if (st != NA_OK)
        return st;
    na__positions_spec ps = {who, l->q_key, l->kv_key, l->q_axis, l->kv_axis};
    return na__attn_positions(&ps, side, sq, skv, q, kv);
}

/* slopes * (kv_pos - q_pos), f32, checked against the logits. */
static na_status alibi_eval(const alibi_layer *l, const na_side *side,
                            const na_array *logits, na_array **bias)
{
    const char *who = "ApplyALiBiBias";
    *bias = NULL;
    na_array *q = NULL, *kv = NULL, *dist = NULL, *df = NULL;
    na_status st = alibi_positions(l, side, logits, &q, &kv);
    if (st == NA_OK)
        st = na_sub(kv, q, &dist);
    if (st == NA_OK)
        st = na_astype(dist, NA_F32, &df);
    if (st == NA_OK)
        st = na_mul(l->slopes, df, bias);
    if (st == NA_OK && (st = na__check_lines_up(who, "the bias", *bias, logits)) != NA_OK) {
        na_array_free(*bias);
        *bias = NULL;
    }
    na_array *tmp[] = {q, kv, dist, df};
    for (int i = 0; i < 4; i++)
        na_array_free(tmp[i]);
    return st;
}

static na_status alibi_call(na_layer *self, const na_value *in, const na_side *side,
                            na_value **out)
{
    const na_array *logits = logits_of(in, "ApplyALiBiBias");
    if (!logits)
        return na_last_status();
    na_array *b = NULL, *y = NULL;
    na_status st = alibi_eval(as_alibi(self), side, logits, &b);
    if (st == NA_OK)
        st = add_bias(logits, b, &y);
    na_array_free(b);
    return st == NA_OK ? wrap(y, out) : st;
}

static const na_field_desc alibi_fields[] = {
    NA_FIELD_AS("num_heads", alibi_layer, num_heads, NA_FIELD_INT, 0),
    NA_FIELD_AS("heads_axis", alibi_layer, heads_axis, NA_FIELD_AXIS, 0),
    NA_FIELD_AS("group_axis", alibi_layer, group_axis, NA_FIELD_AXIS,
                NA_FIELD_OMIT_DEFAULT),
    NA_FIELD_AS("num_groups", alibi_layer, num_groups, NA_FIELD_INT,
                NA_FIELD_OMIT_DEFAULT),
    NA_FIELD_AS("query_positions", alibi_layer, q_key, NA_FIELD_STRING, 0),
    NA_FIELD_AS("kv_positions", alibi_layer, kv_key, NA_FIELD_STRING, 0),
    NA_FIELD_AS("query_axis", alibi_layer, q_axis, NA_FIELD_AXIS, NA_FIELD_NOPRINT),
    NA_FIELD_AS("kv_axis", alibi_layer, kv_axis, NA_FIELD_AXIS, NA_FIELD_NOPRINT),
};

const na_layer_type na_apply_alibi_bias_type = {
    .name = "ApplyALiBiBias",
    .call = alibi_call,
    .size = sizeof(alibi_layer),
    .fields = alibi_fields,
    .field_count = NA_FIELD_COUNT(alibi_fields),
    .finish = alibi_finish,
    .destroy = alibi_destroy,
};

static const char *key_or(const char *key, const char *dflt)
{
    return key && *key ? key : dflt;
}

static const char *intern_or(const char *name, const char *dflt)
{
    return na_intern(name && *name ? name : dflt);
}

na_status na_apply_alibi_bias_new(const na_alibi_options *opt, na_layer **out)
{
    const char *who = "na_apply_alibi_bias_new";
    if (!out || !opt)
        return na__fail(NA_ERR_ARGUMENT, "%s: %s is NULL", who, out ? "opt" : "out");
    na_layer *made = NULL;
    na_status st = na_layer_alloc(&na_apply_alibi_bias_type, &made);
    if (st != NA_OK)
        return st;
    alibi_layer *l = as_alibi(made);
    l->num_heads = opt->num_heads;
    l->heads_axis = intern_or(opt->heads_axis, "heads");
    l->group_axis = opt->group_axis && *opt->group_axis ? na_intern(opt->group_axis)
                                                        : NULL;
    l->num_groups = l->group_axis ? opt->num_groups : 0;
    l->q_key = na__strdup(who, key_or(opt->query_positions_key, NA_QUERY_POSITIONS_KEY));
    l->kv_key = na__strdup(who, key_or(opt->kv_positions_key, NA_KV_POSITIONS_KEY));
    l->q_axis = intern_or(opt->query_axis, "seq");
    l->kv_axis = intern_or(opt->kv_axis, "kv_seq");
    st = l->q_key && l->kv_key ? alibi_finish(made) : na_last_status();
    if (st != NA_OK) {
        na__fail_append(" (%s)", who);
        na_layer_free(made);
        return st;
    }
    *out = made;
    return NA_OK;
}

/* ---- evaluated for the fused path ------------------------------------------ */

bool na__is_bias_layer(const na_layer *l)
{
    return as_side_bias(l) || as_alibi(l);
}

na_status na__bias_layer_eval(const na_layer *l, const na_side *side,
                              const na_array *logits, na_array **bias)
{
    if (as_side_bias(l))
        return side_bias_eval(as_side_bias(l), side, logits, bias);
    if (as_alibi(l))
        return alibi_eval(as_alibi(l), side, logits, bias);
    *bias = NULL;
    return na__fail(NA_ERR_ARGUMENT, "na__bias_layer_eval: %s is not a bias layer",
                    na_layer_type_name(l));
}

na_status na__alibi_parts(const na_layer *l, const na_side *side, const na_array *logits,
                          const char *q_axis, const char *kv_axis, na_array **slopes,
                          na_array **q, na_array **kv)
{
    const alibi_layer *a = as_alibi(l);
    *slopes = *q = *kv = NULL;
    if (!a || a->q_axis != q_axis || a->kv_axis != kv_axis)
        return NA_OK;
    na_status st = alibi_positions(a, side, logits, q, kv);
    if (st == NA_OK)
        st = na_array_ref(a->slopes, slopes);
    if (st != NA_OK) {
        na_array_free(*q), na_array_free(*kv);
        *q = *kv = NULL;
    }
    return st;
}
