/* Computing masks as arrays: the position rule of causal (sliding-window)
 * masks, and the Flax-style helpers make_attention_mask, make_causal_mask
 * and combine_masks (masks.h). */
#include <stdlib.h>

#include "attention/attention_internal.h"

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

/* Positions along `axis` (size n) from side[key] (checked), or NULL if the
 * key is absent. */
static na_status side_positions(const char *who, const na_side *side, const char *key,
                                const char *axis, int64_t n, const na_array **pos)
{
    *pos = NULL;
    if (!na_side_get(side, key))
        return NA_OK;
    const na_array *p = na_side_require_array(side, key, who);
    if (!p)
        return na_last_status();
    if (na_axis_size(p, axis) != n)
        return na__fail(NA_ERR_SHAPE, "%s: positions '%s' %s must have axis '%s' of "
                        "size %lld (the logits')", who, key, na__shape(p), axis,
                        (long long)n);
    *pos = p;
    return NA_OK;
}

na_status na__attn_positions(const na__positions_spec *p, const na_side *side,
                             int64_t sq, int64_t skv, na_array **q, na_array **kv)
{
    const na_array *qs = NULL, *kvs = NULL;
    na_status st = side_positions(p->who, side, p->q_key, p->q_axis, sq, &qs);
    if (st == NA_OK)
        st = side_positions(p->who, side, p->kv_key, p->kv_axis, skv, &kvs);
    if (st != NA_OK)
        return st;
    st = qs ? na_array_ref(qs, q) : na_arange(p->q_axis, sq, NA_I32, q);
    if (st != NA_OK)
        return st;
    if (kvs)
        st = na_array_ref(kvs, kv);
    else if (qs && sq == skv)
        st = na_rename(qs, (const char *const[]){p->q_axis, NULL},
                       (const char *const[]){p->kv_axis, NULL}, kv);
    else
        st = na_arange(p->kv_axis, skv, NA_I32, kv);
    if (st != NA_OK) {
        na_array_free(*q);
        *q = NULL;
    }
    return st;
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
