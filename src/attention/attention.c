/* The Attention combinator (five sublayers, DESIGN §5) and
 * SelectAttentionInput, which picks the query / key / value input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention_internal.h"

const char *const na__attn_child_names[NA__ATTN_N] = {
    "input_to_query", "input_to_key", "input_to_value", "query_key_to_attn",
    "attn_value_to_output"};

typedef struct attention_layer {
    na_layer base;
    na__attn_core core;
} attention_layer;

na__attn_core *na__attn_core_of(const na_layer *layer)
{
    if (layer && layer->type == &na_attention_type)
        return &((attention_layer *)layer)->core;
    return na__kv_attn_core(layer);
}

const na_array *na__attn_array(const na_value *v, const char *who, const char *what)
{
    if (v && v->kind == NA_VALUE_ARRAY && v->array)
        return v->array;
    char buf[256] = "NULL";
    if (v)
        na_value_shape_str(v, buf, sizeof buf);
    na__fail(NA_ERR_ARGUMENT, "%s: %s must be an array, got %s", who, what, buf);
    return NULL;
}

/* ---- the shared core ----------------------------------------------------- */

static na_status call_child(na__attn_core *c, int i, const char *who,
                            const na_value *in, const na_side *side, na_value **out)
{
    na_status st = na_layer_call(c->sub[i], in, side, out);
    if (st != NA_OK)
        na__fail_append(" (in %s.%s)", who, na__attn_child_names[i]);
    return st;
}

na_status na__attn_project(na__attn_core *c, const na_value *in, const na_side *side,
                           na_value **q, na_value **k, na_value **v)
{
    na_value *qq = NULL, *kk = NULL, *vv = NULL;
    na_status st = call_child(c, NA__ATTN_Q, "Attention", in, side, &qq);
    if (st == NA_OK)
        st = call_child(c, NA__ATTN_K, "Attention", in, side, &kk);
    if (st == NA_OK)
        st = call_child(c, NA__ATTN_V, "Attention", in, side, &vv);
    if (st != NA_OK) {
        na_value_free(qq);
        na_value_free(kk);
        na_value_free(vv);
        return st;
    }
    *q = qq;
    *k = kk;
    *v = vv;
    return NA_OK;
}

/* A new tuple (a, b) of clones (both borrowed). */
static na_value *pair_of(const na_value *a, const na_value *b)
{
    na_value *items[2] = {na_value_clone(a), na_value_clone(b)};
    if (!items[0] || !items[1]) {
        na_value_free(items[0]);
        na_value_free(items[1]);
        return NULL;
    }
    return na_value_tuple(2, items);
}

static void keep_weights(na__attn_core *c, const na_value *a)
{
    na_array_free(c->weights);
    c->weights = NULL;
    if (a && a->kind == NA_VALUE_ARRAY)
        na_array_ref(a->array, &c->weights);
}

/* Keras's score layout: {other axes..., heads, seq, kv_seq} with
 * heads = kv_heads * size(query_heads) + query_head (ops.repeat of the
 * keys along the head axis). Weights without kv_heads/query_heads are only
 * reordered. Takes *a. */
static na_status merge_heads(na_value **a)
{
    const na_array *w = (*a)->kind == NA_VALUE_ARRAY ? (*a)->array : NULL;
    if (!w)
        return NA_OK;
    const char *kvh = na_intern("kv_heads"), *qh = na_intern("query_heads"),
               *h = na_intern("heads"), *sq = na_intern("seq"), *kv = na_intern("kv_seq");
    bool grouped = na_axis_index(w, kvh) >= 0 && na_axis_index(w, qh) >= 0;
    if (!grouped && na_axis_index(w, h) < 0)
        return na__fail(NA_ERR_AXIS, "Attention: weights %s have neither 'heads' nor "
                        "'kv_heads' and 'query_heads' to merge", na__shape(w));
    const char *names[NA_MAX_DIMS + 1], *tags[NA_MAX_DIMS + 1];
    int64_t sizes[NA_MAX_DIMS];
    int n = 0, t = 0;
    for (int d = 0; d < w->ndim; d++)
        if (w->name[d] != kvh && w->name[d] != qh && w->name[d] != h &&
            w->name[d] != sq && w->name[d] != kv)
            sizes[t] = w->shape[d], tags[t++] = names[n++] = w->name[d];
    const char *tail[] = {grouped ? kvh : h, grouped ? qh : NULL, sq, kv};
    for (int i = 0; i < 4; i++)
        if (tail[i] && na_axis_index(w, tail[i]) >= 0)
            names[n++] = tail[i];
    if (n != w->ndim || na_axis_index(w, sq) < 0 || na_axis_index(w, kv) < 0)
        return na__fail(NA_ERR_AXIS, "Attention: weights %s cannot take Keras's layout "
                        "{..., heads, seq, kv_seq}", na__shape(w));
    sizes[t] = grouped ? na_axis_size(w, kvh) * na_axis_size(w, qh) : na_axis_size(w, h);
    tags[t++] = h;
    sizes[t] = na_axis_size(w, sq), tags[t++] = sq;
    sizes[t] = na_axis_size(w, kv), tags[t++] = kv;
    names[n] = tags[t] = NULL;
    na_array *pos = NULL, *flat = NULL, *y = NULL;
    na_status st = na_untag(w, names, &pos);
    if (st == NA_OK)
        st = na_reshape(pos, t, sizes, &flat);
    if (st == NA_OK)
        st = na_tag(flat, tags, &y);
    na_array_free(pos);
    na_array_free(flat);
    if (st != NA_OK)
        return st;
    na_value_free(*a);
    *a = na_value_from_array(y);
    return *a ? NA_OK : na_last_status();
}

/* The output: y, or (y, a) when the weights are returned (both owned). */
static na_status finish_output(na__attn_core *c, na_value *y, na_value *a,
                               na_value **out)
{
    if (!c->return_weights) {
        na_value_free(a);
        *out = y;
        return NA_OK;
    }
    na_status st = c->merge_weight_heads ? merge_heads(&a) : NA_OK;
    if (st != NA_OK) {
        na_value_free(y);
        na_value_free(a);
        return st;
    }
    *out = na_value_tuple(2, (na_value *[]){y, a});
    return *out ? NA_OK : na_last_status();
}

na_status na__attn_finish(na__attn_core *c, const char *who, const na_value *q,
                          const na_value *k, const na_value *v, const na_side *side,
                          na_value **out)
{
    bool fused = false, sow = false;
    na_status fst = na_side_flag(side, NA_SOW_WEIGHTS_KEY, false, who, &sow);
    if (fst != NA_OK)
        return fst;
    if (!sow)
        fst = na__attn_fused(c, q, k, v, side, out, &fused);
    if (fused)
        return fst;
    na_value *qk = pair_of(q, k), *a = NULL, *av = NULL, *y = NULL;
    if (!qk)
        return na_last_status();
    na_status st = call_child(c, NA__ATTN_QK, who, qk, side, &a);
    na_value_free(qk);
    if (st != NA_OK)
        return st;
    if (c->keep_weights || sow)
        keep_weights(c, a);
    av = pair_of(a, v);
    st = av ? call_child(c, NA__ATTN_AV, who, av, side, &y) : na_last_status();
    na_value_free(av);
    if (st != NA_OK) {
        na_value_free(a);
        return st;
    }
    return finish_output(c, y, a, out);
}

void na__attn_core_clear(na__attn_core *c)
{
    na_array_free(c->weights);
    c->weights = NULL;
}

na_status na__attn_core_check(const na__attn_core *c, const char *who)
{
    for (int i = 0; i < NA__ATTN_N; i++)
        if (!c->sub[i])
            return na__fail(NA_ERR_ARGUMENT, "%s: %s is missing", who,
                            na__attn_child_names[i]);
    return NA_OK;
}

/* ---- Attention ------------------------------------------------------------- */

/* x -> q, k, v -> a -> y (see attention.h). */
static na_status attention_call(na_layer *self, const na_value *in,
                                const na_side *side, na_value **out)
{
    na__attn_core *c = na__attn_core_of(self);
    na_value *q = NULL, *k = NULL, *v = NULL;
    na_status st = na__attn_project(c, in, side, &q, &k, &v);
    if (st != NA_OK)
        return st;
    st = na__attn_finish(c, "Attention", q, k, v, side, out);
    na_value_free(q);
    na_value_free(k);
    na_value_free(v);
    return st;
}

static na_status attention_finish(na_layer *self)
{
    return na__attn_core_check(na__attn_core_of(self), "Attention");
}

static void attention_destroy(na_layer *self)
{
    na__attn_core_clear(na__attn_core_of(self));
}

static const na_field_desc attention_fields[] = {
    NA__ATTN_CORE_FIELDS(attention_layer),
};

const na_layer_type na_attention_type = {
    .name = "Attention",
    .call = attention_call,
    .size = sizeof(attention_layer),
    .fields = attention_fields,
    .field_count = NA_FIELD_COUNT(attention_fields),
    .finish = attention_finish,
    .destroy = attention_destroy,
};

static void free_layers(na_layer *const *l, int n)
{
    for (int i = 0; i < n; i++)
        na_layer_free(l[i]);
}

na_status na_attention_new(na_layer *input_to_query, na_layer *input_to_key,
                           na_layer *input_to_value, na_layer *query_key_to_attn,
                           na_layer *attn_value_to_output, na_layer **out)
{
    na_layer *sub[NA__ATTN_N] = {input_to_query, input_to_key, input_to_value,
                                 query_key_to_attn, attn_value_to_output};
    const char *who = "na_attention_new";
    for (int i = 0; i < NA__ATTN_N; i++) {
        if (!sub[i] || !out) {
            free_layers(sub, NA__ATTN_N);
            return na__fail(NA_ERR_ARGUMENT, "%s: %s is NULL", who,
                            out ? na__attn_child_names[i] : "out");
        }
    }
    na_layer *made = NULL;
    na_status st = na_layer_alloc(&na_attention_type, &made);
    if (st != NA_OK) {
        free_layers(sub, NA__ATTN_N);
        return st;
    }
    attention_layer *l = (attention_layer *)made;
    memcpy(l->core.sub, sub, sizeof sub);
    l->core.fused = true;
    *out = made;
    return NA_OK;
}

static na__attn_core *require_core(const na_layer *layer, const char *who)
{
    na__attn_core *c = na__attn_core_of(layer);
    if (!c)
        na__fail(NA_ERR_ARGUMENT, "%s: layer is a %s, not an Attention", who,
                 layer ? na_layer_type_name(layer) : "NULL");
    return c;
}

na_status na_attention_set_keep_weights(na_layer *attention, bool keep)
{
    na__attn_core *c = require_core(attention, "na_attention_set_keep_weights");
    if (!c)
        return na_last_status();
    c->keep_weights = keep;
    if (!keep)
        na__attn_core_clear(c);
    return NA_OK;
}

const na_array *na_attention_weights(const na_layer *attention)
{
    na__attn_core *c = na__attn_core_of(attention);
    return c ? c->weights : NULL;
}

na_status na_attention_set_fused(na_layer *attention, bool allowed)
{
    na__attn_core *c = require_core(attention, "na_attention_set_fused");
    if (!c)
        return na_last_status();
    c->fused = allowed;
    return NA_OK;
}

na_status na_attention_set_merge_weight_heads(na_layer *attention, bool on)
{
    na__attn_core *c = require_core(attention, "na_attention_set_merge_weight_heads");
    if (!c)
        return na_last_status();
    c->merge_weight_heads = on;
    return NA_OK;
}

na_status na_attention_set_return_weights(na_layer *attention, bool on)
{
    na__attn_core *c = require_core(attention, "na_attention_set_return_weights");
    if (!c)
        return na_last_status();
    c->return_weights = on;
    return NA_OK;
}

/* ---- SelectAttentionInput --------------------------------------------------- */

typedef struct select_input_layer {
    na_layer base;
    int64_t item;
    const char *from, *to;   /* interned, or NULL                          */
} select_input_layer;

/* in: array or tuple -> item min(item, count - 1), seq renamed to kv_seq. */
static na_status select_input_call(na_layer *self, const na_value *in,
                                   const na_side *side, na_value **out)
{
    NA__UNUSED(side);
    const select_input_layer *l = (const select_input_layer *)self;
    const na_value *v = in;
    if (in && in->kind == NA_VALUE_TUPLE) {
        if (in->count == 0)
            return na__fail(NA_ERR_ARGUMENT, "SelectAttentionInput: empty tuple input");
        v = in->items[l->item < in->count ? l->item : in->count - 1];
    }
    const na_array *x = na__attn_array(v, "SelectAttentionInput", "the selected input");
    if (!x)
        return na_last_status();
    na_array *y = NULL;
    na_status st;
    if (l->from && na_axis_index(x, l->from) >= 0 && na_axis_index(x, l->to) < 0)
        st = na_rename(x, (const char *const[]){l->from, NULL},
                       (const char *const[]){l->to, NULL}, &y);
    else
        st = na_array_ref(x, &y);
    if (st != NA_OK)
        return st;
    *out = na_value_from_array(y);
    return *out ? NA_OK : na_last_status();
}

/* item=0, rename="seq->kv_seq" */
static void select_input_describe(const na_layer *self, na_fields *f)
{
    const select_input_layer *l = (const select_input_layer *)self;
    na_fields_field(f, self, "item");
    if (l->from) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s->%s", l->from, l->to);
        na_fields_str(f, "rename", buf);
    }
}

static na_status select_input_finish(na_layer *self)
{
    const select_input_layer *l = (const select_input_layer *)self;
    if (l->item < 0 || l->item > INT32_MAX || !l->from != !l->to)
        return na__fail(NA_ERR_ARGUMENT, "SelectAttentionInput: item must be >= 0 and "
                        "rename_from and rename_to given together");
    return NA_OK;
}

static const na_field_desc select_input_fields[] = {
    NA_FIELD(select_input_layer, item, NA_FIELD_INT),
    NA_FIELD_AS("rename_from", select_input_layer, from, NA_FIELD_AXIS, NA_FIELD_NOPRINT),
    NA_FIELD_AS("rename_to", select_input_layer, to, NA_FIELD_AXIS, NA_FIELD_NOPRINT),
};

const na_layer_type na_select_attention_input_type = {
    .name = "SelectAttentionInput",
    .call = select_input_call,
    .size = sizeof(select_input_layer),
    .fields = select_input_fields,
    .field_count = NA_FIELD_COUNT(select_input_fields),
    .finish = select_input_finish,
    .describe = select_input_describe,
};

na_status na_select_attention_input_new(int item, const char *rename_from,
                                        const char *rename_to, na_layer **out)
{
    const char *who = "na_select_attention_input_new";
    if (!out || item < 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: %s", who,
                        out ? "item must be >= 0" : "out is NULL");
    if (!rename_from != !rename_to)
        return na__fail(NA_ERR_ARGUMENT, "%s: give both rename names or neither", who);
    const char *from = rename_from ? na_intern(rename_from) : NULL;
    const char *to = rename_to ? na_intern(rename_to) : NULL;
    if (rename_from && (!from || !to))
        return na_last_status();
    na_layer *made = NULL;
    na_status st = na_layer_alloc(&na_select_attention_input_type, &made);
    if (st != NA_OK)
        return st;
    select_input_layer *l = (select_input_layer *)made;
    l->item = item;
    l->from = from;
    l->to = to;
    *out = made;
    return NA_OK;
}

/* ---- the registry ------------------------------------------------------------ */

/* The attention module's types join the registry (fields.h) when the
 * module is loaded: a model file naming them then loads with no further
 * call. */
__attribute__((constructor)) static void register_attention_types(void)
{
    static const na_layer_type *const types[] = {
        &na_attention_type, &na_select_attention_input_type,
        &na_kv_cache_attention_type, &na_attention_logits_type,
        &na_attention_combine_type, &na_apply_attention_mask_type,
        &na_apply_causal_mask_type, &na_masked_softmax_type,
        &na_apply_attention_bias_type, &na_apply_alibi_bias_type,
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        na_layer_type_register(types[i]);
}
