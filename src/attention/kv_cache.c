/* KVCachingAttention: the five attention sublayers plus a fixed-capacity
 * cache of keys, values and their token positions along kv_seq (state,
 * allocated once), and the conversion of Attention layers into it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention_internal.h"
#include "namedarr/tree.h"

#define WHO "KVCachingAttention"

typedef struct kv_layer {
    na_layer base;
    na__attn_core core;          /* must follow base (see attention.c)     */
    int64_t capacity;
    char *end_key, *q_pos_key, *kv_pos_key, *label;
    na_param *state[3];          /* keys, values, positions; NULL before   */
                                 /* the first call                          */
} kv_layer;

enum { CACHE_KEYS, CACHE_VALUES, CACHE_POSITIONS };
static const char *const state_suffix[3] = {"cache_keys", "cache_values",
                                            "cache_positions"};

static kv_layer *as_kv(const na_layer *l)
{
    return l && l->type == &na_kv_cache_attention_type ? (kv_layer *)l : NULL;
}

/* ---- copying into the cache ------------------------------------------------- */

/* dst[...] = src[...] over `nd` dims, strides in elements of size es. */
static void copy_strided(char *dst, const int64_t *ds, const char *src,
                         const int64_t *ss, const int64_t *shape, int nd, size_t es)
{
    if (nd == 0) {
        memcpy(dst, src, es);
        return;
    }
    for (int64_t i = 0; i < shape[0]; i++)
        copy_strided(dst + i * ds[0] * (int64_t)es, ds + 1,
                     src + i * ss[0] * (int64_t)es, ss + 1, shape + 1, nd - 1, es);
}

/* The same named axes with the same sizes (any order)? */
static bool same_named_shape(const na_array *a, const na_array *b)
{
    if (a->ndim != b->ndim || na_positional_count(a) || na_positional_count(b))
        return false;
    for (int d = 0; d < a->ndim; d++)
        if (na_axis_size(b, a->name[d]) != a->shape[d])
            return false;
    return true;
}

/* cache[axis = at : at + n] = src (src: the cache's named shape with
 * axis of size n; converted to the cache's dtype). */
static na_status write_at(na_array *cache, const na_array *src, int64_t at,
                          const char *what)
{
    int64_t n = na_axis_size(src, "kv_seq");
    na_array *view = NULL, *conv = NULL, *ordered = NULL;
    na_index r = NA_RANGE("kv_seq", at, at + n, 1);
    na_status st = na_index_by(cache, 1, &r, &view);
    if (st == NA_OK && !same_named_shape(view, src))
        st = na__fail(NA_ERR_SHAPE, WHO ": new %s %s do not match the cache %s "
                      "(every axis but kv_seq must keep its size between calls)",
                      what, na__shape(src), na__shape(cache));
    if (st == NA_OK)
        st = src->dtype == cache->dtype ? na_array_ref(src, &conv)
                                        : na_astype(src, cache->dtype, &conv);
    if (st == NA_OK)
        st = na_order_as(conv, (const char *const *)view->name, &ordered);
    if (st == NA_OK) {
        size_t es = na_dtype_size(cache->dtype);
        if (na_size(view) > 0)
            copy_strided(na_data(view), view->stride, na_data(ordered),
                         ordered->stride, view->shape, view->ndim, es);
    }
    na_array_free(view);
    na_array_free(conv);
    na_array_free(ordered);
    return st;
}

/* ---- allocation (first call only) --------------------------------------------- */

/* A new state parameter shaped like `like` with kv_seq of size capacity. */
static na_status new_state(kv_layer *l, int which, const na_array *like,
                           na_dtype dtype, double fill)
{
    na_dim dims[NA_MAX_DIMS];
    for (int d = 0; d < like->ndim; d++) {
        dims[d] = (na_dim){like->name[d], like->shape[d]};
        if (like->name[d] == na_intern("kv_seq"))
            dims[d].size = l->capacity;
    }
    char label[512];
    snprintf(label, sizeof label, "%s.%s", l->label, state_suffix[which]);
    na_array *x = NULL;
    na_status st = na_full(dtype, like->ndim, dims, fill, &x);
    if (st != NA_OK)
        return st;
    l->state[which] = na_param_new(label, NA_STATE, x);
    return l->state[which] ? NA_OK : na_last_status();
}

static void drop_state(kv_layer *l)
{
    for (int i = 0; i < 3; i++) {
        na_param_release(l->state[i]);
        l->state[i] = NULL;
    }
}

/* k, v {.., kv_seq:n, ..} and kv positions {.., kv_seq:n}. */
static na_status ensure_state(kv_layer *l, const na_array *k, const na_array *v,
                              const na_array *kv_pos)
{
    if (l->state[0])
        return NA_OK;
    if (na_positional_count(k) || na_positional_count(v))
        return na__fail(NA_ERR_AXIS, WHO ": keys %s and values %s must have named "
                        "axes only", na__shape(k), na__shape(v));
    na_status st = new_state(l, CACHE_KEYS, k, k->dtype, 0);
    if (st == NA_OK)
        st = new_state(l, CACHE_VALUES, v, v->dtype, 0);
    if (st == NA_OK)
        st = new_state(l, CACHE_POSITIONS, kv_pos, NA_I32, -1);
    if (st != NA_OK)
        drop_state(l);
    return st;
}

/* ---- a call -------------------------------------------------------------------- */

static na_status read_end(const kv_layer *l, const na_side *side, int64_t *end)
{
    const na_array *e = na_side_require_array(side, l->end_key, WHO);
    if (!e)
        return na_last_status();
    if (na_size(e) != 1 || e->dtype == NA_BOOL)
        return na__fail(NA_ERR_SHAPE, WHO ": end index '%s' must be one integer, "
                        "got %s", l->end_key, na__shape(e));
    int64_t idx[NA_MAX_DIMS] = {0};
    *end = (int64_t)na_get(e, idx);
    return NA_OK;
}

/* Query positions {.., seq:n} (i32): from the side inputs, or end + arange(n). */
static na_status query_positions(const kv_layer *l, const na_side *side, int64_t end,
                                 int64_t n, na_array **out)
{
    if (!na_side_get(side, l->q_pos_key)) {
        na_array *r = NULL;
        na_status st = na_arange("seq", n, NA_I32, &r);
        if (st == NA_OK)
            st = na_binary_scalar(NA_ADD, r, (double)end, out);
        na_array_free(r);
        return st;
    }
    const na_array *p = na_side_require_array(side, l->q_pos_key, WHO);
    if (!p)
        return na_last_status();
    if (na_axis_size(p, "seq") != n || na_positional_count(p))
        return na__fail(NA_ERR_SHAPE, WHO ": positions '%s' %s must have named axes "
                        "with 'seq' of size %lld (the new tokens)", l->q_pos_key,
                        na__shape(p), (long long)n);
    return na_astype(p, NA_I32, out);
}

static na_status check_room(const kv_layer *l, int64_t end, int64_t n)
{
    if (end < 0 || end + n > l->capacity)
        return na__fail(NA_ERR_STATE, WHO ": cache overflow: writing %lld token(s) at "
                        "index %lld exceeds the capacity %lld ('%s')", (long long)n,
                        (long long)end, (long long)l->capacity, l->label);
    return NA_OK;
}

/* Write k, v and positions at end; views of the filled prefix [0, end+n). */
static na_status store(kv_layer *l, const na_array *k, const na_array *v,
                       const na_array *kv_pos, int64_t end, na_array **views)
{
    na_status st = ensure_state(l, k, v, kv_pos);
    if (st == NA_OK)
        st = write_at(l->state[CACHE_KEYS]->value, k, end, "keys");
    if (st == NA_OK)
        st = write_at(l->state[CACHE_VALUES]->value, v, end, "values");
    if (st == NA_OK)
        st = write_at(l->state[CACHE_POSITIONS]->value, kv_pos, end, "positions");
    na_index r = NA_RANGE("kv_seq", 0, end + na_axis_size(k, "kv_seq"), 1);
    for (int i = 0; i < 3 && st == NA_OK; i++)
        st = na_index_by(l->state[i]->value, 1, &r, &views[i]);
    return st;
}

/* Side inputs for the attention over the cache: kv positions (and query
 * positions when the caller gave none). */
static na_status cache_side(const kv_layer *l, const na_side *side,
                            const na_array *q_pos, const na_array *kv_pos_view,
                            na_side **out)
{
    na_side *s = na_side_clone(side);
    if (!s)
        return na_last_status();
    na_status st = na_side_set_array(s, l->kv_pos_key, kv_pos_view);
    if (st == NA_OK && !na_side_get(side, l->q_pos_key))
        st = na_side_set_array(s, l->q_pos_key, q_pos);
    if (st != NA_OK) {
        na_side_free(s);
        return st;
    }
    *out = s;
    return NA_OK;
}

static na_status attend_cached(kv_layer *l, const na_value *q, const na_array *k,
                               const na_array *v, const na_side *side, na_value **out)
{
    int64_t end = 0, n = na_axis_size(k, "kv_seq");
    if (n < 0 || na_axis_size(v, "kv_seq") != n)
        return na__fail(NA_ERR_AXIS, WHO ": keys %s and values %s need one 'kv_seq' "
                        "axis of the same size", na__shape(k), na__shape(v));
    na_status st = read_end(l, side, &end);
    if (st == NA_OK)
        st = check_room(l, end, n);
    na_array *q_pos = NULL, *kv_pos = NULL, *views[3] = {0};
    na_side *s = NULL;
    if (st == NA_OK)
        st = query_positions(l, side, end, n, &q_pos);
    if (st == NA_OK)
        st = na_rename(q_pos, NA_NAMES("seq"), NA_NAMES("kv_seq"), &kv_pos);
    if (st == NA_OK)
        st = store(l, k, v, kv_pos, end, views);
    if (st == NA_OK)
        st = cache_side(l, side, q_pos, views[CACHE_POSITIONS], &s);
    na_value *kc = st == NA_OK ? na_value_ref_array(views[CACHE_KEYS]) : NULL;
    na_value *vc = st == NA_OK ? na_value_ref_array(views[CACHE_VALUES]) : NULL;
    if (st == NA_OK && (!kc || !vc))
        st = na_last_status();
    if (st == NA_OK)
        st = na__attn_finish(&l->core, WHO, q, kc, vc, s, out);
    na_value_free(kc);
    na_value_free(vc);
    na_side_free(s);
    for (int i = 0; i < 3; i++)
        na_array_free(views[i]);
    na_array_free(q_pos);
    na_array_free(kv_pos);
    return st;
}

static na_status kv_call(na_layer *self, const na_value *in, const na_side *side,
                         na_value **out)
{
    kv_layer *l = as_kv(self);
    na_value *q = NULL, *k = NULL, *v = NULL;
    na_status st = na__attn_project(&l->core, in, side, &q, &k, &v);
    if (st != NA_OK)
        return st;
    const na_array *ka = na__attn_array(k, WHO, "keys");
    const na_array *va = ka ? na__attn_array(v, WHO, "values") : NULL;
    st = va ? attend_cached(l, q, ka, va, side, out) : na_last_status();
    na_value_free(q);
    na_value_free(k);
    na_value_free(v);
    return st;
}

/* ---- the layer type ------------------------------------------------------------- */

static int kv_child_count(const na_layer *self)
{
    NA__UNUSED(self);
    return NA__ATTN_N;
}

static na_layer **kv_child_slot(na_layer *self, int i) { return &as_kv(self)->core.sub[i]; }

static const char *kv_child_name(const na_layer *self, int i)
{
    NA__UNUSED(self);
    return na__attn_child_names[i];
}

static int kv_param_count(const na_layer *self) { return as_kv(self)->state[0] ? 3 : 0; }

static na_param *kv_param_at(na_layer *self, int i) { return as_kv(self)->state[i]; }

static void kv_describe(const na_layer *self, na_fields *f)
{
    const kv_layer *l = as_kv(self);
    na_fields_int(f, "capacity", l->capacity);
    na_fields_str(f, "end_index", l->end_key);
    if (!l->state[0])
        na_fields_str(f, "cache", "unallocated");
    na__attn_core_describe(&l->core, f);
}

/* Parameters were released by na_layer_free already. */
static void kv_destroy(na_layer *self)
{
    kv_layer *l = as_kv(self);
    na__attn_core_clear(&l->core);
    free(l->end_key);
    free(l->q_pos_key);
    free(l->kv_pos_key);
    free(l->label);
    free(l);
}

const na_layer_type na_kv_cache_attention_type = {
    .name = "KVCachingAttention",
    .call = kv_call,
    .child_count = kv_child_count,
    .child_slot = kv_child_slot,
    .child_name = kv_child_name,
    .param_count = kv_param_count,
    .param_at = kv_param_at,
    .describe = kv_describe,
    .destroy = kv_destroy,
};

/* ---- construction ----------------------------------------------------------------- */

static const char *or_default(const char *s, const char *dflt)
{
    return s && *s ? s : dflt;
}

static na_status kv_fill(kv_layer *l, const na_kv_cache_options *o)
{
    const char *who = "na_kv_cache_attention_new";
    l->capacity = o->capacity;
    l->end_key = na__strdup(who, or_default(o->end_index_key, "cache_end_index"));
    l->q_pos_key = na__strdup(who, or_default(o->query_positions_key,
                                              NA_QUERY_POSITIONS_KEY));
    l->kv_pos_key = na__strdup(who, or_default(o->kv_positions_key, NA_KV_POSITIONS_KEY));
    l->label = na__strdup(who, or_default(o->label, "attention"));
    return l->end_key && l->q_pos_key && l->kv_pos_key && l->label ? NA_OK
                                                                  : na_last_status();
}

static na_status kv_new(na_layer *const *sub, const na_kv_cache_options *opt,
                        na_layer **out)
{
    const char *who = "na_kv_cache_attention_new";
    na_status st = NA_OK;
    for (int i = 0; i < NA__ATTN_N && st == NA_OK; i++)
        if (!sub[i])
            st = na__fail(NA_ERR_ARGUMENT, "%s: %s is NULL", who, na__attn_child_names[i]);
    if (st == NA_OK && (!opt || !out || opt->capacity <= 0))
        st = na__fail(NA_ERR_ARGUMENT, "%s: %s", who,
                      !opt || !out ? "NULL argument" : "capacity must be > 0");
    kv_layer *l = st == NA_OK ? calloc(1, sizeof *l) : NULL;
    if (st == NA_OK && !l)
        st = na__fail(NA_ERR_NO_MEMORY, "%s: out of memory", who);
    if (st == NA_OK) {
        l->base.type = &na_kv_cache_attention_type;
        memcpy(l->core.sub, sub, sizeof l->core.sub);
        st = kv_fill(l, opt);
        if (st != NA_OK) {
            na_layer_free(&l->base);
            return st;
        }
        *out = &l->base;
        return NA_OK;
    }
    for (int i = 0; i < NA__ATTN_N; i++)
        na_layer_free(sub[i]);
    return st;
}

na_status na_kv_cache_attention_new(na_layer *input_to_query, na_layer *input_to_key,
                                    na_layer *input_to_value,
                                    na_layer *query_key_to_attn,
                                    na_layer *attn_value_to_output,
                                    const na_kv_cache_options *opt, na_layer **out)
{
    na_layer *sub[NA__ATTN_N] = {input_to_query, input_to_key, input_to_value,
                                 query_key_to_attn, attn_value_to_output};
    return kv_new(sub, opt, out);
}

/* ---- conversion ------------------------------------------------------------------- */

static na_status find_causal(na_layer *layer, const char *path, int depth, void *ctx)
{
    NA__UNUSED(path);
    NA__UNUSED(depth);
    if (na__is_causal_mask(layer))
        *(bool *)ctx = true;
    return NA_OK;
}

/* Where to insert an ApplyCausalMask in query_key_to_attn: -1 if it has
 * one already; else the index of its softmax (error if none). */
static na_status causal_slot(na_layer *qk, int *slot)
{
    bool has = false;
    na_status st = na_tree_walk(qk, find_causal, &has);
    if (st != NA_OK || has) {
        *slot = -1;
        return st;
    }
    for (int i = 0; na_is_sequential(qk) && i < na_layer_child_count(qk); i++) {
        na_layer *c = na_layer_child(qk, i);
        if (na_layer_is(c, &na_softmax_layer_type) || na_layer_is(c, &na_masked_softmax_type)) {
            *slot = i;
            return NA_OK;
        }
    }
    return na__fail(NA_ERR_UNSUPPORTED, "na_kv_cache_from_attention: query_key_to_attn "
                    "(%s) has no ApplyCausalMask and is not a Sequential with a "
                    "Softmax to put one before; the cache needs a position mask",
                    na_layer_type_name(qk));
}

static na_status check_attention(const na_layer *attention, const na_kv_cache_options *opt,
                                 int *slot)
{
    const char *who = "na_kv_cache_from_attention";
    if (!attention || attention->type != &na_attention_type)
        return na__fail(NA_ERR_ARGUMENT, "%s: layer is a %s, not an Attention", who,
                        attention ? na_layer_type_name(attention) : "NULL");
    if (!opt || opt->capacity <= 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: capacity must be > 0", who);
    return causal_slot(na__attn_core_of(attention)->sub[NA__ATTN_QK], slot);
}

static na_status insert_causal(na_layer *qk, int slot, const na_kv_cache_options *opt)
{
    na_causal_mask_options co = {.query_positions_key = opt->query_positions_key,
                                 .kv_positions_key = opt->kv_positions_key};
    na_layer *m = NULL;
    na_status st = na_apply_causal_mask_new(&co, &m);
    return st == NA_OK ? na_sequential_insert(qk, slot, m) : st;
}

na_status na_kv_cache_from_attention(na_layer *attention, const na_kv_cache_options *opt,
                                     na_layer **out)
{
    int slot = -1;
    na_status st = out ? check_attention(attention, opt, &slot)
                       : na__fail(NA_ERR_ARGUMENT, "na_kv_cache_from_attention: out "
                                  "is NULL");
    na__attn_core *c = st == NA_OK ? na__attn_core_of(attention) : NULL;
    if (st == NA_OK && slot >= 0)
        st = insert_causal(c->sub[NA__ATTN_QK], slot, opt);
    if (st != NA_OK) {
        na_layer_free(attention);
        return st;
    }
    na_layer *sub[NA__ATTN_N];
    memcpy(sub, c->sub, sizeof sub);
    memset(c->sub, 0, sizeof c->sub);
    bool keep = c->keep_weights, ret = c->return_weights;
    na_layer_free(attention);
    st = kv_new(sub, opt, out);
    if (st == NA_OK) {
        as_kv(*out)->core.keep_weights = keep;
        as_kv(*out)->core.return_weights = ret;
    }
    return st;
}

typedef struct convert_ctx {
    const na_kv_cache_options *opt;
} convert_ctx;

static na_status convert_one(na_layer *old, const char *path, void *ctx, na_layer **out)
{
    const convert_ctx *cc = ctx;
    int slot;
    na_status st = check_attention(old, cc->opt, &slot);
    if (st != NA_OK) {
        *out = old; /* still ours: hand it back */
        return st;
    }
    na_kv_cache_options o = *cc->opt;
    if (path && *path)
        o.label = path;
    return na_kv_cache_from_attention(old, &o, out);
}

na_status na_attention_to_kv_cache(na_layer **root, const na_kv_cache_options *opt,
                                   int *converted)
{
    if (!root || !*root || !opt)
        return na__fail(NA_ERR_ARGUMENT, "na_attention_to_kv_cache: NULL argument");
    na_selection *sel = NULL;
    na_status st = na_select_type(root, &na_attention_type, &sel);
    if (st != NA_OK)
        return st;
    convert_ctx cc = {opt};
    st = na_selection_wrap_all(sel, convert_one, &cc);
    if (converted)
        *converted = st == NA_OK ? na_selection_count(sel) : 0;
    na_selection_free(sel);
    return st;
}

na_status na_kv_cache_reset(na_layer *layer)
{
    kv_layer *l = as_kv(layer);
    if (!l)
        return na__fail(NA_ERR_ARGUMENT, "na_kv_cache_reset: layer is a %s, not a "
                        "KVCachingAttention", layer ? na_layer_type_name(layer) : "NULL");
    if (!l->state[CACHE_POSITIONS])
        return NA_OK;
    na_array *p = l->state[CACHE_POSITIONS]->value;
    if (na_is_contiguous(p) && p->dtype == NA_I32) {
        int32_t *d = na_data(p);
        for (int64_t i = 0; i < na_size(p); i++)
            d[i] = -1;
        return NA_OK;
    }
    na_dim dims[NA_MAX_DIMS]; /* a value bound from outside: replace it */
    for (int d = 0; d < p->ndim; d++)
        dims[d] = (na_dim){p->name[d], p->shape[d]};
    na_array *fresh = NULL;
    na_status st = na_full(NA_I32, p->ndim, dims, -1, &fresh);
    if (st == NA_OK)
        na_param_set_value(l->state[CACHE_POSITIONS], fresh);
    return st;
}

int64_t na_kv_cache_capacity(const na_layer *layer)
{
    const kv_layer *l = as_kv(layer);
    return l ? l->capacity : -1;
}
