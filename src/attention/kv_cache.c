/* KVCachingAttention: the five attention sublayers plus a cache that keeps
 * its own place — keys, values and each row's token positions along kv_seq
 * (fixed capacity), and the end index — all state. The state is allocated
 * when the layer is made (given a batch size) or at the first call, and
 * never reallocated. Conversion of Attention layers: kv_cache_convert.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention_internal.h"
#include "namedarr/tree.h"

#define WHO "KVCachingAttention"

enum { CACHE_KEYS, CACHE_VALUES, CACHE_POSITIONS, CACHE_END, CACHE_N };
static const char *const state_suffix[CACHE_N] = {"cache_keys", "cache_values",
                                                  "cache_positions", "cache_end_index"};

/* The cache's storage: the keys' own dtype (f32, or f64 for an f64
 * model), or bf16 (rows rounded to nearest even as they are written). */
enum { KV_AUTO, KV_BF16 };
static const char *const kv_dtype_names[] = {"auto", "bf16", NULL};

typedef struct kv_layer {
    na_layer base;
    na__attn_core core;
    int64_t capacity, batch;     /* batch 0: taken from the first call     */
    char *end_key, *q_pos_key, *kv_pos_key, *label;
    const char *batch_axis;      /* interned                               */
    int kv_dtype;                /* KV_AUTO: the keys' dtype; KV_BF16      */
    na_param *state[CACHE_N];    /* END always; the others NULL until      */
                                 /* allocated                              */
} kv_layer;

static kv_layer *as_kv(const na_layer *l)
{
    return l && l->type == &na_kv_cache_attention_type ? (kv_layer *)l : NULL;
}

na__attn_core *na__kv_attn_core(const na_layer *layer)
{
    kv_layer *l = as_kv(layer);
    return l ? &l->core : NULL;
}

static int32_t *end_slot(const kv_layer *l)
{
    return na_data(l->state[CACHE_END]->value);
}

/* ---- copying into the cache ------------------------------------------------- */

/* dst[...] = src[...] over `nd` dims, strides in elements of size es (of
 * src: ses), a row of the last dim at a time: one memcpy when the row is
 * contiguous on both sides, f32 rows rounded to a bf16 cache whole (round
 * to nearest even), else element by element. */
static void copy_strided(char *dst, const int64_t *ds, size_t es, const char *src,
                         const int64_t *ss, size_t ses, const int64_t *shape, int nd)
{
    if (nd == 1 && ses == 4 && es == 2 && ds[0] == 1 && ss[0] == 1) {
        na_bf16_from_f32_n((const float *)(const void *)src, (na_bf16 *)(void *)dst,
                           shape[0]);
        return;
    }
    if (nd == 1 && ses == es && ds[0] == 1 && ss[0] == 1) {
        memcpy(dst, src, es * (size_t)shape[0]);
        return;
    }
    if (nd == 0) {
        if (ses == es) {
            memcpy(dst, src, es);
        } else { /* f32 into a bf16 cache */
            float f;
            memcpy(&f, src, sizeof f);
            na_bf16 b = na_bf16_from_f32(f);
            memcpy(dst, &b, sizeof b);
        }
        return;
    }
    for (int64_t i = 0; i < shape[0]; i++)
        copy_strided(dst + i * ds[0] * (int64_t)es, ds + 1, es,
                     src + i * ss[0] * (int64_t)ses, ss + 1, ses, shape + 1, nd - 1);
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

/* cache[kv_seq = at : at + n] = src (src: the cache's named shape with
 * kv_seq of size n, or broadcastable to it by name; converted to the
 * cache's dtype). */
static na_status write_at(na_array *cache, const na_array *src, int64_t at,
                          const char *what)
{
    int64_t n = na_axis_size(src, "kv_seq");
    na_array *view = NULL, *conv = NULL, *wide = NULL, *ordered = NULL;
    na_index r = NA_RANGE("kv_seq", at, at + n, 1);
    na_dim dims[NA_MAX_DIMS];
    na_status st = na_index_by(cache, 1, &r, &view);
    for (int d = 0; st == NA_OK && d < view->ndim; d++)
        dims[d] = (na_dim){view->name[d], view->shape[d]};
    if (st == NA_OK && src->ndim < view->ndim && na_broadcast_to(src, view->ndim, dims,
                                                                 &wide) != NA_OK)
        na_clear_error();
    const na_array *s = wide ? wide : src;
    if (st == NA_OK && !same_named_shape(view, s))
        st = na__fail(NA_ERR_SHAPE, WHO ": new %s %s do not match the cache %s "
                      "(every axis but kv_seq must keep its size between calls)",
                      what, na__shape(src), na__shape(cache));
    /* f32 rows go into a bf16 cache as they are copied (no widened copy) */
    bool direct = s->dtype == cache->dtype || (s->dtype == NA_F32 && cache->dtype == NA_BF16);
    if (st == NA_OK)
        st = direct ? na_array_ref(s, &conv) : na_astype(s, cache->dtype, &conv);
    if (st == NA_OK)
        st = na_order_as(conv, (const char *const *)view->name, &ordered);
    if (st == NA_OK && na_size(view) > 0)
        copy_strided(na_data(view), view->stride, na_dtype_size(cache->dtype),
                     na_data(ordered), ordered->stride, na_dtype_size(ordered->dtype),
                     view->shape, view->ndim);
    na_array *tmp[] = {view, conv, wide, ordered};
    for (int i = 0; i < 4; i++)
        na_array_free(tmp[i]);
    return st;
}

/* ---- allocation ------------------------------------------------------------------ */

/* A new state variable "<label>.<suffix>" of the given dims. */
static na_status new_state(kv_layer *l, int which, na_dtype dtype, int nd,
                           const na_dim *dims, double fill)
{
    char label[512];
    snprintf(label, sizeof label, "%s.%s", l->label, state_suffix[which]);
    na_array *x = NULL;
    na_status st = na_full(dtype, nd, dims, fill, &x);
    if (st != NA_OK)
        return st;
    l->state[which] = na_param_new(label, NA_STATE, x);
    return l->state[which] ? NA_OK : na_last_status();
}

static void drop_cache(kv_layer *l)
{
    for (int i = 0; i < CACHE_END; i++) {
        na_param_release(l->state[i]);
        l->state[i] = NULL;
    }
}

/* Keys, values {batch, kv_seq:capacity, rest of k/v...} and positions
 * {batch, kv_seq:capacity} (i32, -1: empty). `k`, `v` give the other axes
 * (any kv_seq size); the batch axis is the layer's when it has a size. */
static na_status allocate(kv_layer *l, int nk, const na_dim *k, int nv, const na_dim *v,
                          na_dtype dtype)
{
    const char *kv = na_intern("kv_seq");
    na_dim dims[2][NA_MAX_DIMS], pos[2];
    int n[2] = {0, 0}, np = 0;
    const na_dim *src[2] = {k, v};
    int ns[2] = {nk, nv};
    for (int i = 0; i < 2; i++)
        for (int d = 0; d < ns[i]; d++) {
            na_dim x = src[i][d];
            if (x.name == kv)
                x.size = l->capacity;
            dims[i][n[i]++] = x;
        }
    if (l->batch > 0)
        pos[np++] = (na_dim){l->batch_axis, l->batch};
    pos[np++] = (na_dim){kv, l->capacity};
    if (l->kv_dtype == KV_BF16)
        dtype = NA_BF16;
    na_status st = new_state(l, CACHE_KEYS, dtype, n[0], dims[0], 0);
    if (st == NA_OK)
        st = new_state(l, CACHE_VALUES, dtype, n[1], dims[1], 0);
    if (st == NA_OK)
        st = new_state(l, CACHE_POSITIONS, NA_I32, np, pos, -1);
    if (st != NA_OK)
        drop_cache(l);
    return st;
}

/* First call without a batch size: shape the cache like k and v. */
static na_status ensure_state(kv_layer *l, const na_array *k, const na_array *v)
{
    if (l->state[CACHE_KEYS])
        return NA_OK;
    if (na_positional_count(k) || na_positional_count(v))
        return na__fail(NA_ERR_AXIS, WHO ": keys %s and values %s must have named "
                        "axes only", na__shape(k), na__shape(v));
    na_dim dk[NA_MAX_DIMS], dv[NA_MAX_DIMS];
    for (int d = 0; d < k->ndim; d++)
        dk[d] = (na_dim){k->name[d], k->shape[d]};
    for (int d = 0; d < v->ndim; d++)
        dv[d] = (na_dim){v->name[d], v->shape[d]};
    int64_t b = na_axis_size(k, l->batch_axis);
    l->batch = b > 0 ? b : 0;
    return allocate(l, k->ndim, dk, v->ndim, dv, k->dtype);
}

/* The dims a projection path produces, from its Linear: {batch, kv_seq:1}
 * plus the weight axes that are not contracted. false if not found. */
static bool path_dims(kv_layer *l, na_layer *path, na_dim *dims, int *n, na_dtype *dt)
{
    na_layer *stack[64] = {path};
    int top = 1;
    while (top > 0) {
        na_layer *x = stack[--top];
        const char *const *in = na__linear_in_names(x);
        if (in) {
            const na_array *w = na_linear_weights(x)->value;
            *n = 0;
            dims[(*n)++] = (na_dim){l->batch_axis, l->batch};
            dims[(*n)++] = (na_dim){na_intern("kv_seq"), 1};
            for (int d = 0; d < w->ndim; d++) {
                bool contracted = false;
                for (int i = 0; in[i]; i++)
                    contracted |= in[i] == w->name[d];
                if (!contracted && *n < NA_MAX_DIMS)
                    dims[(*n)++] = (na_dim){w->name[d], w->shape[d]};
            }
            *dt = w->dtype;
            return true;
        }
        for (int i = na_layer_child_count(x) - 1; i >= 0 && top < 64; i--)
            stack[top++] = na_layer_child(x, i);
    }
    return false;
}

/* With a batch size: allocate now when the key and value paths are the
 * standard ones (a Linear or Affine projection); else at the first call. */
static na_status allocate_early(kv_layer *l)
{
    na_dim k[NA_MAX_DIMS], v[NA_MAX_DIMS];
    int nk = 0, nv = 0;
    na_dtype dk = NA_F32, dv = NA_F32;
    if (l->batch <= 0 || !path_dims(l, l->core.sub[NA__ATTN_K], k, &nk, &dk) ||
        !path_dims(l, l->core.sub[NA__ATTN_V], v, &nv, &dv))
        return NA_OK;
    return allocate(l, nk, k, nv, v, dk == NA_F64 || dv == NA_F64 ? NA_F64 : NA_F32);
}

/* ---- where the new tokens go ----------------------------------------------------- */

static na_status read_end(const kv_layer *l, const na_side *side, int64_t *end)
{
    if (!na_side_get(side, l->end_key)) {
        *end = *end_slot(l);
        return NA_OK;
    }
    const na_array *e = na_side_require_array(side, l->end_key, WHO);
    if (!e)
        return na_last_status();
    if (e->dtype != NA_I32)
        return na__fail(NA_ERR_DTYPE, WHO ": end index '%s' must be i32, got %s",
                        l->end_key, na__shape(e));
    if (na_size(e) != 1)
        return na__fail(NA_ERR_SHAPE, WHO ": end index '%s' must be one integer, "
                        "got %s", l->end_key, na__shape(e));
    int64_t idx[NA_MAX_DIMS] = {0};
    *end = (int64_t)na_get(e, idx);
    if (*end < 0)
        return na__fail(NA_ERR_INDEX, WHO ": bad end index %lld in '%s' (must be "
                        ">= 0; capacity %lld, '%s')", (long long)*end, l->end_key,
                        (long long)l->capacity, l->label);
    return NA_OK;
}

static na_status check_room(const kv_layer *l, int64_t end, int64_t n)
{
    if (end < 0 || end > l->capacity || n > l->capacity - end)
        return na__fail(NA_ERR_STATE, WHO ": cache overflow: writing %lld token(s) at "
                        "index %lld exceeds the capacity %lld ('%s')", (long long)n,
                        (long long)end, (long long)l->capacity, l->label);
    return NA_OK;
}

/* Each row continues after its last cached position: row b gets
 * 1 + max(cache_positions[b, :end]) + arange(n) ({batch, seq:n}; 0 + arange
 * for an empty row); arange(n) ({seq:n}) when nothing is cached. */
static na_status next_positions(const kv_layer *l, int64_t end, int64_t n,
                                na_array **out)
{
    const na_param *pp = l->state[CACHE_POSITIONS];
    na_array *r = NULL, *filled = NULL, *last = NULL, *sum = NULL;
    na_status st = na_arange("seq", n, NA_I32, &r);
    if (st != NA_OK || !pp || end == 0) {
        *out = st == NA_OK ? r : NULL;
        return st;
    }
    na_index head = NA_RANGE("kv_seq", 0, end, 1);
    st = na_index_by(pp->value, 1, &head, &filled);
    if (st == NA_OK)
        st = na_max(filled, NA_NAMES("kv_seq"), &last);
    if (st == NA_OK)
        st = na_add(last, r, &sum);
    if (st == NA_OK)
        st = na_binary_scalar(NA_ADD, sum, 1, out);
    na_array *tmp[] = {r, filled, last, sum};
    for (int i = 0; i < 4; i++)
        na_array_free(tmp[i]);
    return st;
}

/* Query positions {.., seq:n} (i32): the override from the side inputs, or
 * the cache's own. */
static na_status query_positions(const kv_layer *l, const na_side *side, int64_t end,
                                 int64_t n, na_array **out)
{
    if (!na_side_get(side, l->q_pos_key))
        return next_positions(l, end, n, out);
    const na_array *p = na_side_require_array(side, l->q_pos_key, WHO);
    if (!p)
        return na_last_status();
    if (p->dtype != NA_I32)
        return na__fail(NA_ERR_DTYPE, WHO ": positions '%s' must be i32, got %s",
                        l->q_pos_key, na__shape(p));
    if (na_axis_size(p, "seq") != n || na_positional_count(p))
        return na__fail(NA_ERR_SHAPE, WHO ": positions '%s' %s must have named axes "
                        "with 'seq' of size %lld (the new tokens)", l->q_pos_key,
                        na__shape(p), (long long)n);
    return na_astype(p, NA_I32, out);
}

/* The number of new tokens: the 'seq' size of the (first) input. */
static na_status new_tokens(const na_value *in, int64_t *n)
{
    const na_value *v = in && in->kind == NA_VALUE_TUPLE && in->count > 0 ? in->items[0]
                                                                        : in;
    const na_array *x = na__attn_array(v, WHO, "the query input");
    if (!x)
        return na_last_status();
    *n = na_axis_size(x, "seq");
    if (*n < 0)
        return na__fail(NA_ERR_AXIS, WHO ": the query input %s has no 'seq' axis (the "
                        "new tokens)", na__shape(x));
    return NA_OK;
}

/* ---- a call -------------------------------------------------------------------- */

/* Write k, v and positions at end; views of the filled prefix [0, end+n). */
static na_status store(kv_layer *l, const na_array *k, const na_array *v,
                       const na_array *kv_pos, int64_t end, na_array **views)
{
    na_status st = ensure_state(l, k, v);
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

static na_status attend_cached(kv_layer *l, const na_value *q, const na_array *k,
                               const na_array *v, const na_array *q_pos, int64_t end,
                               const na_side *side, na_value **out)
{
    int64_t n = na_axis_size(k, "kv_seq");
    if (n < 0 || na_axis_size(v, "kv_seq") != n || na_axis_size(q_pos, "seq") != n)
        return na__fail(NA_ERR_AXIS, WHO ": keys %s and values %s need one 'kv_seq' "
                        "axis of the new tokens' size %lld", na__shape(k), na__shape(v),
                        (long long)na_axis_size(q_pos, "seq"));
    na_array *kv_pos = NULL, *views[3] = {0};
    na_side *s = NULL;
    na_status st = na_rename(q_pos, NA_NAMES("seq"), NA_NAMES("kv_seq"), &kv_pos);
    if (st == NA_OK)
        st = store(l, k, v, kv_pos, end, views);
    if (st == NA_OK && !(s = na_side_clone(side)))
        st = na_last_status();
    if (st == NA_OK)
        st = na_side_set_array(s, l->kv_pos_key, views[CACHE_POSITIONS]);
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
    na_array_free(kv_pos);
    return st;
}

/* The side inputs with the query positions set (the sublayers' RoPE and
 * the causal mask read them). */
static na_status side_with_positions(const kv_layer *l, const na_side *side,
                                     const na_array *q_pos, na_side **out)
{
    na_side *s = na_side_clone(side);
    if (!s)
        return na_last_status();
    na_status st = na_side_get(side, l->q_pos_key) ? NA_OK
                                                   : na_side_set_array(s, l->q_pos_key, q_pos);
    if (st != NA_OK) {
        na_side_free(s);
        return st;
    }
    *out = s;
    return NA_OK;
}

/* Flax's per-call decode=False: the sublayers as a plain Attention over
 * the inputs and the caller's side inputs; the cache is neither read nor
 * written. */
static na_status plain_call(kv_layer *l, const na_value *in, const na_side *side,
                            na_value **out)
{
    na_value *q = NULL, *k = NULL, *v = NULL;
    na_status st = na__attn_project(&l->core, in, side, &q, &k, &v);
    if (st == NA_OK)
        st = na__attn_finish(&l->core, WHO, q, k, v, side, out);
    na_value_free(q);
    na_value_free(k);
    na_value_free(v);
    return st;
}

static na_status kv_call(na_layer *self, const na_value *in, const na_side *side,
                         na_value **out)
{
    kv_layer *l = as_kv(self);
    int64_t n = 0, end = 0;
    na_array *q_pos = NULL;
    na_side *s = NULL;
    na_value *q = NULL, *k = NULL, *v = NULL;
    bool decode = true;
    na_status st = na_side_flag(side, NA_DECODE_KEY, true, WHO, &decode);
    if (st != NA_OK || !decode)
        return st != NA_OK ? st : plain_call(l, in, side, out);
    st = new_tokens(in, &n);
    if (st == NA_OK)
        st = read_end(l, side, &end);
    if (st == NA_OK)
        st = check_room(l, end, n);
    if (st == NA_OK)
        st = query_positions(l, side, end, n, &q_pos);
    if (st == NA_OK)
        st = side_with_positions(l, side, q_pos, &s);
    if (st == NA_OK)
        st = na__attn_project(&l->core, in, s, &q, &k, &v);
    const na_array *ka = st == NA_OK ? na__attn_array(k, WHO, "keys") : NULL;
    const na_array *va = ka ? na__attn_array(v, WHO, "values") : NULL;
    if (st == NA_OK)
        st = va ? attend_cached(l, q, ka, va, q_pos, end, s, out) : na_last_status();
    if (st == NA_OK)
        *end_slot(l) = (int32_t)(end + n);
    na_value_free(q);
    na_value_free(k);
    na_value_free(v);
    na_side_free(s);
    na_array_free(q_pos);
    return st;
}

/* ---- the layer type ------------------------------------------------------------- */

/* capacity, [batch], end, [cache="unallocated"], then the core's options. */
static void kv_describe(const na_layer *self, na_fields *f)
{
    const kv_layer *l = as_kv(self);
    na_fields_field(f, self, "capacity");
    na_fields_field(f, self, "batch");
    na_fields_int(f, "end", *end_slot(l));
    if (!l->state[CACHE_KEYS])
        na_fields_str(f, "cache", "unallocated");
    if (l->kv_dtype != KV_AUTO)
        na_fields_field(f, self, "kv_dtype");
    na_fields_field(f, self, "keep_weights");
    na_fields_field(f, self, "return_weights");
    na_fields_field(f, self, "fused");
}

static na_status kv_finish(na_layer *self)
{
    const kv_layer *l = as_kv(self);
    if (l->capacity <= 0 || !l->end_key || !l->q_pos_key || !l->kv_pos_key ||
        !l->label || !l->batch_axis || !l->state[CACHE_END])
        return na__fail(NA_ERR_ARGUMENT, WHO ": capacity must be > 0 and the keys, "
                        "label, batch axis and end index given");
    return na__attn_core_check(&l->core, WHO);
}

static void kv_destroy(na_layer *self)
{
    na__attn_core_clear(&as_kv(self)->core);
}

static const na_field_desc kv_fields[] = {
    NA_FIELD(kv_layer, capacity, NA_FIELD_INT),
    NA_FIELD_AS("batch", kv_layer, batch, NA_FIELD_INT, NA_FIELD_OMIT_DEFAULT),
    NA_FIELD_AS("end_index", kv_layer, end_key, NA_FIELD_STRING, 0),
    NA_FIELD_AS("query_positions", kv_layer, q_pos_key, NA_FIELD_STRING, 0),
    NA_FIELD_AS("kv_positions", kv_layer, kv_pos_key, NA_FIELD_STRING, 0),
    NA_FIELD(kv_layer, label, NA_FIELD_STRING),
    NA_FIELD(kv_layer, batch_axis, NA_FIELD_AXIS),
    NA_FIELD_ENUM_AS("kv_dtype", kv_layer, kv_dtype, kv_dtype_names, NA_FIELD_OMIT_DEFAULT),
    NA__ATTN_CORE_FIELDS(kv_layer),
    NA_FIELD_AS("cache_keys", kv_layer, state[CACHE_KEYS], NA_FIELD_STATE, 0),
    NA_FIELD_AS("cache_values", kv_layer, state[CACHE_VALUES], NA_FIELD_STATE, 0),
    NA_FIELD_AS("cache_positions", kv_layer, state[CACHE_POSITIONS], NA_FIELD_STATE, 0),
    NA_FIELD_AS("cache_end_index", kv_layer, state[CACHE_END], NA_FIELD_STATE, 0),
};

const na_layer_type na_kv_cache_attention_type = {
    .name = "KVCachingAttention",
    .call = kv_call,
    .size = sizeof(kv_layer),
    .fields = kv_fields,
    .field_count = NA_FIELD_COUNT(kv_fields),
    .finish = kv_finish,
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
    l->batch = o->batch_size;
    l->batch_axis = na_intern(or_default(o->batch_axis, "batch"));
    l->kv_dtype = o->dtype == NA_BF16 ? KV_BF16 : KV_AUTO;
    l->end_key = na__strdup(who, or_default(o->end_index_key, "cache_end_index"));
    l->q_pos_key = na__strdup(who, or_default(o->query_positions_key,
                                              NA_QUERY_POSITIONS_KEY));
    l->kv_pos_key = na__strdup(who, or_default(o->kv_positions_key, NA_KV_POSITIONS_KEY));
    l->label = na__strdup(who, or_default(o->label, "attention"));
    if (!l->batch_axis || !l->end_key || !l->q_pos_key || !l->kv_pos_key || !l->label)
        return na_last_status();
    na_status st = new_state(l, CACHE_END, NA_I32, 0, NULL, 0);
    return st == NA_OK ? allocate_early(l) : st;
}

static na_status check_options(na_layer *const *sub, const na_kv_cache_options *opt,
                               na_layer **out)
{
    const char *who = "na_kv_cache_attention_new";
    for (int i = 0; i < NA__ATTN_N; i++)
        if (!sub[i])
            return na__fail(NA_ERR_ARGUMENT, "%s: %s is NULL", who, na__attn_child_names[i]);
    if (!opt || !out)
        return na__fail(NA_ERR_ARGUMENT, "%s: NULL argument", who);
    if (opt->dtype != NA_F32 && opt->dtype != NA_BF16)
        return na__fail(NA_ERR_DTYPE, "%s: cache dtype %s: only bf16 (or the keys' own "
                        "dtype, NA_F32 = 0) is supported", who, na_dtype_name(opt->dtype));
    if (opt->capacity <= 0 || opt->capacity > INT32_MAX || opt->batch_size < 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: capacity %lld must be in [1, 2^31) and "
                        "batch_size %lld >= 0", who, (long long)opt->capacity,
                        (long long)opt->batch_size);
    return NA_OK;
}

na_status na__kv_cache_new(na_layer *const *sub, const na_kv_cache_options *opt,
                           na_layer **out)
{
    na_status st = check_options(sub, opt, out);
    na_layer *made = NULL;
    if (st == NA_OK)
        st = na_layer_alloc(&na_kv_cache_attention_type, &made);
    if (st != NA_OK) {
        for (int i = 0; i < NA__ATTN_N; i++)
            na_layer_free(sub[i]);
        return st;
    }
    kv_layer *l = (kv_layer *)made;
    memcpy(l->core.sub, sub, sizeof l->core.sub);
    l->core.fused = true;
    st = kv_fill(l, opt);
    if (st != NA_OK) {
        na_layer_free(&l->base);
        return st;
    }
    *out = &l->base;
    return NA_OK;
}

na_status na_kv_cache_attention_new(na_layer *input_to_query, na_layer *input_to_key,
                                    na_layer *input_to_value,
                                    na_layer *query_key_to_attn,
                                    na_layer *attn_value_to_output,
                                    const na_kv_cache_options *opt, na_layer **out)
{
    na_layer *sub[NA__ATTN_N] = {input_to_query, input_to_key, input_to_value,
                                 query_key_to_attn, attn_value_to_output};
    return na__kv_cache_new(sub, opt, out);
}

/* ---- place: reset, rewind, length ------------------------------------------------ */

static kv_layer *require_kv(const na_layer *layer, const char *who)
{
    kv_layer *l = as_kv(layer);
    if (!l)
        na__fail(NA_ERR_ARGUMENT, "%s: layer is a %s, not a KVCachingAttention", who,
                 layer ? na_layer_type_name(layer) : "NULL");
    return l;
}

/* positions[kv_seq >= from] = -1 (a value bound from outside is replaced). */
static na_status forget_from(kv_layer *l, int64_t from)
{
    na_param *pp = l->state[CACHE_POSITIONS];
    if (!pp)
        return NA_OK;
    na_array *p = pp->value;
    if (p->dtype == NA_I32 && na_is_contiguous(p)) {
        int kd = na_axis_index(p, "kv_seq");
        int64_t idx[NA_MAX_DIMS] = {0};
        int32_t *d = na_data(p);
        for (int64_t i = 0; i < na_size(p); i++) {
            int64_t rem = i; /* coordinates of element i */
            for (int a = p->ndim - 1; a >= 0; a--) {
                idx[a] = rem % p->shape[a];
                rem /= p->shape[a];
            }
            if (idx[kd] >= from)
                d[i] = -1;
        }
        return NA_OK;
    }
    if (from > 0)
        return na__fail(NA_ERR_UNSUPPORTED, "na_kv_cache_rewind: the positions of '%s' "
                        "were bound from outside (%s); only a reset is possible",
                        l->label, na__shape(p));
    na_dim dims[NA_MAX_DIMS];
    for (int d = 0; d < p->ndim; d++)
        dims[d] = (na_dim){p->name[d], p->shape[d]};
    na_array *fresh = NULL;
    na_status st = na_full(NA_I32, p->ndim, dims, -1, &fresh);
    if (st == NA_OK)
        na_param_set_value(pp, fresh);
    return st;
}

na_status na_kv_cache_rewind(na_layer *layer, int64_t length)
{
    kv_layer *l = require_kv(layer, "na_kv_cache_rewind");
    if (!l)
        return na_last_status();
    int64_t end = *end_slot(l);
    if (length < 0 || length > end)
        return na__fail(NA_ERR_ARGUMENT, "na_kv_cache_rewind: length %lld not in [0, "
                        "%lld] (the cached tokens of '%s')", (long long)length,
                        (long long)end, l->label);
    na_status st = forget_from(l, length);
    if (st == NA_OK)
        *end_slot(l) = (int32_t)length;
    return st;
}

na_status na_kv_cache_reset(na_layer *layer)
{
    kv_layer *l = require_kv(layer, "na_kv_cache_reset");
    if (!l)
        return na_last_status();
    na_status st = forget_from(l, 0);
    if (st == NA_OK)
        *end_slot(l) = 0;
    return st;
}

int64_t na_kv_cache_capacity(const na_layer *layer)
{
    const kv_layer *l = as_kv(layer);
    return l ? l->capacity : -1;
}

int64_t na_kv_cache_length(const na_layer *layer)
{
    const kv_layer *l = as_kv(layer);
    return l ? *end_slot(l) : -1;
}

na_status na_kv_cache_next_positions(const na_layer *layer, int64_t n, na_array **out)
{
    kv_layer *l = require_kv(layer, "na_kv_cache_next_positions");
    if (!l)
        return na_last_status();
    if (n < 0 || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_kv_cache_next_positions: n %lld must be "
                        ">= 0 and out non-NULL", (long long)n);
    return next_positions(l, *end_slot(l), n, out);
}
