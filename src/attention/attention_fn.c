/* Dot-product attention as functions (namedarr/attention_fn.h): Flax's
 * order of operations on named arrays, with the fused kernels when
 * nothing but the output is wanted. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention_internal.h"
#include "core/broadcast.h"
#include "namedarr/attention_fn.h"

na_dpa_options na_dpa_defaults(void)
{
    return (na_dpa_options){0};
}

/* The options with defaults filled in and names interned. */
typedef struct dpa_cfg {
    na_dpa_options o;
    const char *seq, *kv, *proj;
} dpa_cfg;

static dpa_cfg resolve(const na_dpa_options *opt)
{
    dpa_cfg c = {.o = opt ? *opt : na_dpa_defaults()};
    c.seq = na_intern(c.o.seq_axis ? c.o.seq_axis : "seq");
    c.kv = na_intern(c.o.kv_axis ? c.o.kv_axis : "kv_seq");
    c.proj = na_intern(c.o.projection_axis ? c.o.projection_axis : "projection");
    return c;
}

static bool is_float(const na_array *x)
{
    return x->dtype == NA_F32 || x->dtype == NA_F64;
}

/* One operand: present, float, named only, with `need` and without `forbid`. */
static na_status check_operand(const char *op, const char *what, const na_array *x,
                               const char *need, const char *forbid, const char *proj)
{
    if (!x)
        return na__fail(NA_ERR_ARGUMENT, "%s: %s is NULL", op, what);
    if (!is_float(x) || na_positional_count(x) > 0)
        return na__fail(NA_ERR_DTYPE, "%s: %s %s must be f32 or f64 with named axes only",
                        op, what, na__shape(x));
    if (na_axis_index(x, need) < 0 || (proj && na_axis_index(x, proj) < 0))
        return na__fail(NA_ERR_AXIS, "%s: %s %s lacks axis '%s'", op, what, na__shape(x),
                        na_axis_index(x, need) < 0 ? need : proj);
    if (na_axis_index(x, forbid) >= 0)
        return na__fail(NA_ERR_AXIS, "%s: %s %s must not have axis '%s'", op, what,
                        na__shape(x), forbid);
    return NA_OK;
}

static na_status check_qk(const char *op, const dpa_cfg *c, const na_array *q,
                          const na_array *k)
{
    na_status st = check_operand(op, "query", q, c->seq, c->kv, c->proj);
    if (st == NA_OK)
        st = check_operand(op, "key", k, c->kv, c->seq, c->proj);
    if (st == NA_OK && na_axis_size(q, c->proj) != na_axis_size(k, c->proj))
        st = na__fail(NA_ERR_SHAPE, "%s: query %s and key %s differ on axis '%s'", op,
                      na__shape(q), na__shape(k), c->proj);
    if (st == NA_OK && (c->o.dropout_rate < 0 || c->o.dropout_rate >= 1 ||
                        isnan(c->o.dropout_rate)))
        st = na__fail(NA_ERR_ARGUMENT, "%s: dropout_rate %g must be in [0, 1)", op,
                      c->o.dropout_rate);
    return st;
}

/* An option array must line up with the logits: every axis one of theirs,
 * of the same size (so it broadcasts and never adds axes). */
static na_status check_aux(const char *op, const char *what, const na_array *x,
                           const na_array *logits, bool want_bool)
{
    if (want_bool ? x->dtype != NA_BOOL : !is_float(x))
        return na__fail(NA_ERR_DTYPE, "%s: %s %s must be %s", op, what, na__shape(x),
                        want_bool ? "bool" : "f32 or f64");
    if (na_positional_count(x) > 0)
        return na__fail(NA_ERR_AXIS, "%s: %s %s has positional axes", op, what,
                        na__shape(x));
    for (int d = 0; d < x->ndim; d++)
        if (na_axis_size(logits, x->name[d]) != x->shape[d])
            return na__fail(NA_ERR_SHAPE, "%s: %s %s does not line up with the logits %s "
                            "(axis '%s')", op, what, na__shape(x), na__shape(logits),
                            x->name[d]);
    return NA_OK;
}

/* sum over projection of (q * scale) * k; takes nothing. */
static na_status scaled_logits(const dpa_cfg *c, const na_array *q, const na_array *k,
                               na_array **out)
{
    double scale = c->o.custom_scale ? c->o.scale
                                     : 1.0 / sqrt((double)na_axis_size(q, c->proj));
    na_array *qs = NULL;
    na_status st = na_binary_scalar(NA_MUL, q, scale, &qs);
    if (st == NA_OK)
        st = na_contract(qs, k, (const char *const[]){c->proj, NULL}, out);
    na_array_free(qs);
    return st;
}

/* The top-left aligned causal mask {seq, kv_seq}. */
static na_status causal_mask(const dpa_cfg *c, const na_array *logits, na_array **out)
{
    na_array *qp = NULL, *kp = NULL;
    na_status st = na_arange(c->seq, na_axis_size(logits, c->seq), NA_I32, &qp);
    if (st == NA_OK)
        st = na_arange(c->kv, na_axis_size(logits, c->kv), NA_I32, &kp);
    if (st == NA_OK)
        st = na_binary(NA_GE, qp, kp, out);
    na_array_free(qp);
    na_array_free(kp);
    return st;
}

/* The user's mask and the causal one, combined (NULL: neither). */
static na_status all_masks(const char *op, const dpa_cfg *c, const na_array *logits,
                           na_array **out)
{
    *out = NULL;
    na_status st = NA_OK;
    if (c->o.mask)
        st = check_aux(op, "mask", c->o.mask, logits, true);
    na_array *causal = NULL;
    if (st == NA_OK && c->o.is_causal)
        st = causal_mask(c, logits, &causal);
    if (st == NA_OK)
        st = na_combine_masks(2, (const na_array *const[]){c->o.mask, causal}, out);
    na_array_free(causal);
    return st;
}

/* After a call that made `next`: on success it replaces *x (the old one freed), on failure it is dropped. */
static na_status replace(na_status st, na_array **x, na_array *next)
{
    if (st == NA_OK) {
        na_array_free(*x);
        *x = next;
    } else {
        na_array_free(next);
    }
    return st;
}

/* Steps 3 and 4: bias, then masks. Takes *logits. */
static na_status bias_and_mask(const char *op, const dpa_cfg *c, na_array **logits)
{
    na_array *t = NULL, *mask = NULL, *low = NULL;
    na_status st = NA_OK;
    if (c->o.bias) {
        st = check_aux(op, "bias", c->o.bias, *logits, false);
        if (st == NA_OK) {
            st = na_add(*logits, c->o.bias, &t);
            st = replace(st, logits, t);
        }
    }
    if (st == NA_OK)
        st = all_masks(op, c, *logits, &mask);
    if (st == NA_OK && mask) {
        st = na_scalar((*logits)->dtype, NA_DPA_MASKED_OUT, &low);
        t = NULL;
        if (st == NA_OK) {
            st = na_where(mask, *logits, low, &t);
            st = replace(st, logits, t);
        }
    }
    na_array_free(mask);
    na_array_free(low);
    return st;
}

/* Step 6: weights * keep / (1 - rate). Takes *w. */
static na_status dropout(const dpa_cfg *c, na_array **w)
{
    double rate = c->o.dropout_rate;
    if (rate == 0 || c->o.deterministic)
        return NA_OK;
    const na_array *x = *w;
    na_dim dims[NA_MAX_DIMS];
    int n = 0;
    for (int d = 0; d < x->ndim; d++)
        if (c->o.independent_dropout || x->name[d] == c->seq || x->name[d] == c->kv)
            dims[n++] = (na_dim){x->name[d], x->shape[d]};
    na_array *keep = NULL, *scaled = NULL, *t = NULL;
    na_status st = na_random_bernoulli(c->o.dropout_seed, n, dims, 1.0 - rate, &keep);
    if (st == NA_OK)
        st = na_astype(keep, x->dtype, &scaled);
    if (st == NA_OK) {
        st = na_binary_scalar(NA_DIV, scaled, 1.0 - rate, &t);
        st = replace(st, &scaled, t);
    }
    t = NULL;
    if (st == NA_OK) {
        st = na_mul(*w, scaled, &t);
        st = replace(st, w, t);
    }
    na_array_free(keep);
    na_array_free(scaled);
    return st;
}

/* {other axes..., seq, kv_seq}, as a view. Takes *w. */
static na_status order_weights(const dpa_cfg *c, na_array **w)
{
    const char *names[NA_MAX_DIMS + 1];
    int n = 0;
    for (int d = 0; d < (*w)->ndim; d++)
        if ((*w)->name[d] != c->seq && (*w)->name[d] != c->kv)
            names[n++] = (*w)->name[d];
    names[n++] = c->seq;
    names[n++] = c->kv;
    names[n] = NULL;
    na_array *t = NULL;
    na_status st = na_order_as(*w, names, &t);
    return replace(st, w, t);
}

/* Softmax in the logits' dtype, then back to q's dtype (Flax's
 * softmax(...).astype(dtype): an f64 bias on f32 inputs computes in f64 and
 * returns f32 weights). Takes *w. */
static na_status softmax_as(const dpa_cfg *c, na_dtype dtype, na_array **w)
{
    na_array *t = NULL;
    na_status st = na_softmax(*w, (const char *const[]){c->kv, NULL}, &t);
    st = replace(st, w, t);
    if (st == NA_OK && (*w)->dtype != dtype) {
        t = NULL;
        st = na_astype(*w, dtype, &t);
        st = replace(st, w, t);
    }
    return st;
}

static na_status weights(const char *op, const dpa_cfg *c, const na_array *q,
                         const na_array *k, na_array **out)
{
    na_array *w = NULL;
    na_status st = scaled_logits(c, q, k, &w);
    if (st == NA_OK)
        st = bias_and_mask(op, c, &w);
    if (st == NA_OK)
        st = softmax_as(c, q->dtype, &w);
    if (st == NA_OK)
        st = dropout(c, &w);
    if (st == NA_OK)
        st = order_weights(c, &w);
    if (st != NA_OK) {
        na_array_free(w);
        return st;
    }
    *out = w;
    return NA_OK;
}

/* Flax's promote_dtype: the n inputs cast to their common dtype (JAX's
 * lattice; under NA_PROMOTE_STRICT mixed dtypes are an error). x[i] is
 * replaced by a new array in own[i] when it had to be cast. */
static na_status promote_inputs(const char *op, int n, const na_array **x, na_array **own)
{
    na_dtype t = x[0]->dtype;
    na_status st = NA_OK;
    for (int i = 1; i < n && st == NA_OK; i++) {
        na_dtype ti = t;
        st = na__promote_checked(op, x[0], x[i], &ti);
        t = na__promote(t, ti);
    }
    for (int i = 0; i < n && st == NA_OK; i++)
        if (x[i]->dtype != t && (st = na_astype(x[i], t, &own[i])) == NA_OK)
            x[i] = own[i];
    return st;
}

na_status na_dot_product_attention_weights(const na_array *q, const na_array *k,
                                           const na_dpa_options *opt, na_array **out)
{
    const char *op = "na_dot_product_attention_weights";
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "%s: out is NULL", op);
    dpa_cfg c = resolve(opt);
    na_status st = check_qk(op, &c, q, k);
    const na_array *x[2] = {q, k};
    na_array *own[2] = {0};
    if (st == NA_OK)
        st = promote_inputs(op, 2, x, own);
    if (st == NA_OK)
        st = weights(op, &c, x[0], x[1], out);
    na_array_free(own[0]), na_array_free(own[1]);
    return st;
}

/* y in q's axis order, v's feature axis where q's projection was. Takes *y. */
static na_status order_output(const dpa_cfg *c, const na_array *q, na_array **y)
{
    const char *names[NA_MAX_DIMS + 1];
    int n = 0;
    for (int d = 0; d < q->ndim; d++)
        if (q->name[d] != c->proj)
            names[n++] = q->name[d];
    int at = na_axis_index(q, c->proj);
    for (int d = 0; d < (*y)->ndim; d++) /* the feature axes of v */
        if (na_axis_index(q, (*y)->name[d]) < 0 || (*y)->name[d] == c->proj) {
            memmove(&names[at + 1], &names[at], sizeof names[0] * (size_t)(n - at));
            names[at++] = (*y)->name[d];
            n++;
        }
    names[n] = NULL;
    na_array *t = NULL;
    na_status st = na_order_as(*y, names, &t);
    return replace(st, y, t);
}

static na_status check_v(const char *op, const dpa_cfg *c, const na_array *k,
                         const na_array *v)
{
    na_status st = check_operand(op, "value", v, c->kv, c->seq, NULL);
    if (st == NA_OK && na_axis_size(v, c->kv) != na_axis_size(k, c->kv))
        st = na__fail(NA_ERR_SHAPE, "%s: key %s and value %s differ on axis '%s'", op,
                      na__shape(k), na__shape(v), c->kv);
    return st;
}

/* ---- the fused route ---------------------------------------------------------- */

/* A view shaped like the logits (q's axes and k's but projection), owning
 * no memory, to check the bias and mask against; NULL (no error) when q
 * and k disagree on an axis size (the general path reports it). */
static na_array *logits_like(const dpa_cfg *c, const na_array *q, const na_array *k)
{
    na_dim dims[NA_MAX_DIMS];
    int n = 0;
    const na_array *both[2] = {q, k};
    for (int a = 0; a < 2; a++)
        for (int d = 0; d < both[a]->ndim; d++) {
            const char *name = both[a]->name[d];
            int64_t have = -1;
            for (int i = 0; i < n; i++)
                if (dims[i].name == name)
                    have = dims[i].size;
            if (name == c->proj || have == both[a]->shape[d])
                continue;
            if (have >= 0 || n == NA_MAX_DIMS)
                return NULL;
            dims[n++] = (na_dim){name, both[a]->shape[d]};
        }
    na_array *zero = NULL, *like = NULL;
    if (na_scalar(NA_F32, 0, &zero) == NA_OK)
        na_broadcast_to(zero, n, dims, &like);
    na_array_free(zero);
    na_clear_error();
    return like;
}

/* The standard Attention over (q, k, v): query_key_to_attn after Flax
 * (scale, logits, + bias "bias", mask "mask" with Flax's masked-out value,
 * causal, softmax), AttentionCombine. */
static na_status transient_attention(const dpa_cfg *c, na_layer **out)
{
    na_dot_product_options o = {.custom_scale = c->o.custom_scale,
                                .scale = c->o.scale,
                                .mask_tag = c->o.mask ? "mask" : NULL,
                                .causal = c->o.is_causal,
                                .masked_out_value = NA_DPA_MASKED_OUT,
                                .bias_tag = c->o.bias ? "bias" : NULL};
    na_layer *sel[3] = {0}, *qk = NULL, *comb = NULL, *av = NULL;
    na_status st = NA_OK;
    for (int i = 0; i < 3 && st == NA_OK; i++)
        st = na_select_attention_input_new(i, NULL, NULL, &sel[i]);
    if (st == NA_OK)
        st = na_dot_product_attn_new(&o, &qk);
    if (st == NA_OK)
        st = na_attention_combine_new("kv_seq", &comb);
    if (st == NA_OK) /* takes comb (freed on failure) */
        st = na_sequential_new(1, &comb, &av);
    if (st == NA_OK)
        return na_attention_new(sel[0], sel[1], sel[2], qk, av, out);
    for (int i = 0; i < 3; i++)
        na_layer_free(sel[i]);
    na_layer_free(qk);
    return st;
}

/* Can the fused kernels run this call? f32 inputs, the standard axis
 * names, no active dropout; the bias and mask are checked here as the
 * general path checks them (the same messages). */
static na_status fused_ok(const char *op, const dpa_cfg *c, const na_array *q,
                          const na_array *k, const na_array *v, bool *ok)
{
    *ok = false;
    bool dropout = c->o.dropout_rate > 0 && !c->o.deterministic;
    if (dropout || q->dtype != NA_F32 || k->dtype != NA_F32 || v->dtype != NA_F32 ||
        c->seq != na_intern("seq") || c->kv != na_intern("kv_seq"))
        return NA_OK;
    na_array *like = logits_like(c, q, k);
    if (!like)
        return NA_OK;
    na_status st = NA_OK;
    if (c->o.bias)
        st = check_aux(op, "bias", c->o.bias, like, false);
    if (st == NA_OK && c->o.mask)
        st = check_aux(op, "mask", c->o.mask, like, true);
    na_array_free(like);
    *ok = st == NA_OK;
    return st;
}

/* The output by the fused kernels (a transient Attention layer whose bias
 * and mask arrive as side inputs). */
static na_status fused_output(const dpa_cfg *c, const na_array *q, const na_array *k,
                              const na_array *v, na_array **y)
{
    na_layer *m = NULL;
    na_side *side = na_side_new();
    na_value *in = na_value_tuple(3, (na_value *[]){na_value_ref_array(q),
                                                    na_value_ref_array(k),
                                                    na_value_ref_array(v)});
    na_status st = side && in ? transient_attention(c, &m) : na_last_status();
    if (st == NA_OK && c->o.bias)
        st = na_side_set_array(side, "bias", c->o.bias);
    if (st == NA_OK && c->o.mask)
        st = na_side_set_array(side, "mask", c->o.mask);
    na_value *out = NULL;
    if (st == NA_OK)
        st = na_layer_call(m, in, side, &out);
    const na_array *ya = st == NA_OK ? na_value_array(out, "na_dot_product_attention")
                                     : NULL;
    if (st == NA_OK)
        st = ya ? na_array_ref(ya, y) : na_last_status();
    na_value_free(out);
    na_layer_free(m);
    na_side_free(side);
    na_value_free(in);
    return st;
}

/* The output on the general path: the weights, then their sum over kv_seq
 * with v. */
static na_status general_output(const char *op, const dpa_cfg *c, const na_array *q,
                                const na_array *k, const na_array *v, na_array **y)
{
    na_array *w = NULL;
    na_status st = weights(op, c, q, k, &w);
    if (st == NA_OK)
        st = na_contract(w, v, (const char *const[]){c->kv, NULL}, y);
    na_array_free(w);
    return st;
}

na_status na_dot_product_attention(const na_array *q, const na_array *k,
                                   const na_array *v, const na_dpa_options *opt,
                                   na_array **out)
{
    const char *op = "na_dot_product_attention";
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "%s: out is NULL", op);
    dpa_cfg c = resolve(opt);
    na_status st = check_qk(op, &c, q, k);
    if (st == NA_OK)
        st = check_v(op, &c, k, v);
    const na_array *x[3] = {q, k, v};
    na_array *own[3] = {0}, *y = NULL;
    bool fused = false;
    if (st == NA_OK)
        st = promote_inputs(op, 3, x, own);
    if (st == NA_OK)
        st = fused_ok(op, &c, x[0], x[1], x[2], &fused);
    if (st == NA_OK)
        st = fused ? fused_output(&c, x[0], x[1], x[2], &y)
                   : general_output(op, &c, x[0], x[1], x[2], &y);
    if (st == NA_OK)
        st = order_output(&c, x[0], &y);
    for (int i = 0; i < 3; i++)
        na_array_free(own[i]);
    if (st != NA_OK) {
        na_array_free(y);
        return st;
    }
    *out = y;
    return NA_OK;
}
