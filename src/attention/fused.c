/* The fused attention path: when query_key_to_attn is the standard chain
 * (AttentionLogits, [TanhSoftCap], bias layers, mask layers,
 * Softmax/MaskedSoftmax over kv_seq) and
 * attn_value_to_output starts with AttentionCombine over kv_seq, compute
 * softmax(q k * scale, masked) v without the {seq, kv_seq} logits: this
 * file decides whether the call qualifies and describes it as a job;
 * fused_run.c runs it (tiles of queries x keys with an online softmax, or
 * GEMV-style loops for decode steps) with the kernels fused_dispatch.c
 * picks. Masks reach the job as a bool array (ApplyAttentionMask, the
 * user's own array) and as positions (ApplyCausalMask: query and key
 * positions and a window), never as a {seq, kv_seq} array built here.
 * Biases, added after the scale and soft-cap and before the masks (Flax's
 * order; the general path's too): the ApplyAttentionBias arrays summed into
 * one f32 operand addressed like the mask (f64 converted, as the layer
 * converts it), and ApplyALiBiBias as slopes and positions, so the kernels
 * compute slope * (kv_pos - q_pos) and no {seq, kv_seq} array exists.
 * Same results as the general path (tests/test_fused.c). */
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention_internal.h"
#include "attention/fused_internal.h"
#include "namedarr/tree.h"

#define MAX_MASKS 8

typedef struct fused_plan {
    const char *p_axis; /* contracted by the logits: projection     */
    double scale;       /* 0: size(p_axis)**-0.5                    */
    int n_masks;
    const na_layer *masks[MAX_MASKS]; /* ApplyAttentionMask layers          */
    const na_layer *causal;           /* at most one ApplyCausalMask, or NULL */
    int n_biases;
    const na_layer *biases[MAX_MASKS]; /* ApplyAttentionBias layers         */
    const na_layer *alibi;            /* at most one ApplyALiBiBias, or NULL */
    double cap;                       /* TanhSoftCap before the masks; 0: none */
    na_masked_rows rows;
    na_layer *av; /* attn_value_to_output (a Sequential)      */
} fused_plan;

/* ---- the plan: read from the sublayers' fields ---------------------------------- */

/* AttentionLogits: the contracted axis and the scale (a custom scale of 0
 * stays on the general path: the plan's 0 means automatic). */
static bool logits_plan(const na_layer *l, fused_plan *p)
{
    bool custom = false;
    return na_layer_is(l, &na_attention_logits_type) &&
           na_layer_field_axis(l, "contract", &p->p_axis) == NA_OK &&
           na_layer_field_float(l, "scale", &p->scale) == NA_OK &&
           na_layer_field_bool(l, "custom_scale", &custom) == NA_OK &&
           !(custom && p->scale == 0);
}

/* Softmax over exactly kv_seq, or MaskedSoftmax over kv_seq with a very
 * negative masked-out value: the row policy. */
static bool softmax_plan(const na_layer *l, const char *kv, fused_plan *p)
{
    if (na_layer_is(l, &na_softmax_layer_type)) {
        const char *const *across = NULL;
        p->rows = NA_MASKED_ROWS_UNIFORM;
        return na_layer_field_names(l, "across", &across) == NA_OK && across &&
               across[0] == kv && !across[1];
    }
    const char *axis = NULL;
    double value = 0;
    int rows = 0;
    if (!na_layer_is(l, &na_masked_softmax_type) ||
        na_layer_field_axis(l, "across", &axis) != NA_OK ||
        na_layer_field_enum(l, "masked_rows", &rows) != NA_OK ||
        na_layer_field_float(l, "masked_out_value", &value) != NA_OK)
        return false;
    p->rows = (na_masked_rows)rows;
    return axis == kv && value <= -1e30;
}

/* A mask layer with a very negative masked-out value. */
static bool mask_plan(const na_layer *l)
{
    double value = 0;
    return (na_layer_is(l, &na_apply_attention_mask_type) ||
            na_layer_is(l, &na_apply_causal_mask_type)) &&
           na_layer_field_float(l, "masked_out_value", &value) == NA_OK &&
           value <= -1e30;
}

/* AttentionCombine over kv_seq. */
static bool combine_plan(const na_layer *l, const char *kv)
{
    const char *axis = NULL;
    return na_layer_is(l, &na_attention_combine_type) &&
           na_layer_field_axis(l, "contract", &axis) == NA_OK && axis == kv;
}

/* Write why the fused path cannot run into why[0..n) (if why); false. */
static bool refuse(char *why, size_t n, const char *fmt, ...)
{
    if (why && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, n, fmt, ap);
        va_end(ap);
    }
    return false;
}

static const char *type_of(const na_layer *l)
{
    return l ? na_layer_type_name(l) : "missing layer";
}

/* A bias layer (ApplyAttentionBias, ApplyALiBiBias) at child i, after any
 * soft-cap and before every mask (Flax's order: logits, bias, mask). */
static bool plan_bias(const na_layer *m, int i, fused_plan *p, char *why, size_t wn)
{
    if (p->n_masks || p->causal)
        return refuse(why, wn, "query_key_to_attn child %d: an %s after a mask (the "
                      "kernels add biases before masking, Flax's order)", i, type_of(m));
    if (na_layer_is(m, &na_apply_alibi_bias_type)) {
        if (p->alibi)
            return refuse(why, wn, "two ApplyALiBiBias layers");
        p->alibi = m;
        return true;
    }
    if (p->n_biases == MAX_MASKS)
        return refuse(why, wn, "more than %d bias layers", MAX_MASKS);
    p->biases[p->n_biases++] = m;
    return true;
}

/* query_key_to_attn's children between the logits and the softmax: a
 * TanhSoftCap first (Gemma 2's order: scale, cap, mask), then bias layers,
 * then masks (at most one positional). */
static bool plan_middle(const na_layer *qk, int n, fused_plan *p, char *why, size_t wn)
{
    p->n_masks = p->n_biases = 0;
    p->causal = p->alibi = NULL;
    p->cap = 0;
    for (int i = 1; i < n - 1; i++) {
        const na_layer *m = na_layer_child(qk, i);
        if (na_layer_is(m, &na_tanh_soft_cap_type)) {
            if (p->cap > 0 || p->n_masks || p->causal || p->n_biases || p->alibi)
                return refuse(why, wn, "query_key_to_attn child %d: a TanhSoftCap after "
                              "a bias, a mask or another soft-cap (the kernels cap the "
                              "logits once, before biases and masks)", i);
            if (na_layer_field_float(m, "cap", &p->cap) != NA_OK || !(p->cap > 0))
                return refuse(why, wn, "query_key_to_attn child %d: TanhSoftCap with "
                              "cap %g", i, p->cap);
            continue;
        }
        if (na__is_bias_layer(m)) {
            if (!plan_bias(m, i, p, why, wn))
                return false;
            continue;
        }
        if (!na_layer_is(m, &na_apply_attention_mask_type) &&
            !na_layer_is(m, &na_apply_causal_mask_type))
            return refuse(why, wn, "query_key_to_attn child %d is a %s, which the "
                          "fused kernels do not implement", i, type_of(m));
        if (!mask_plan(m))
            return refuse(why, wn, "query_key_to_attn child %d (%s) has a finite "
                          "masked-out value (masked keys keep a weight)", i, type_of(m));
        if (!na_layer_is(m, &na_apply_causal_mask_type)) {
            if (p->n_masks == MAX_MASKS)
                return refuse(why, wn, "more than %d bool masks", MAX_MASKS);
            p->masks[p->n_masks++] = m;
        } else if (p->causal) {
            return refuse(why, wn, "two ApplyCausalMask layers"); /* rare */
        } else {
            p->causal = m;
        }
    }
    return true;
}

/* Is the tree the standard one? (structure only; cheap) If not, why. */
static bool plan_tree(const na__attn_core *c, fused_plan *p, char *why, size_t wn)
{
    const na_layer *qk = c->sub[NA__ATTN_QK], *av = c->sub[NA__ATTN_AV];
    const char *kv = na_intern("kv_seq");
    if (!c->fused)
        return refuse(why, wn, "turned off (na_attention_set_fused)");
    if (c->keep_weights || c->return_weights)
        return refuse(why, wn, "the attention weights are %s",
                      c->keep_weights ? "kept (keep_weights)" : "returned (return_weights)");
    if (!na_is_sequential(qk))
        return refuse(why, wn, "query_key_to_attn is a %s, not a Sequential", type_of(qk));
    int n = na_layer_child_count(qk);
    if (n < 2 || !logits_plan(na_layer_child(qk, 0), p))
        return refuse(why, wn, "query_key_to_attn does not start with AttentionLogits "
                      "with an automatic or nonzero scale (child 0: %s)",
                      n ? type_of(na_layer_child(qk, 0)) : "none");
    if (!softmax_plan(na_layer_child(qk, n - 1), kv, p))
        return refuse(why, wn, "query_key_to_attn ends with a %s, not a Softmax over "
                      "kv_seq (or MaskedSoftmax with a very negative masked-out value)",
                      type_of(na_layer_child(qk, n - 1)));
    if (!na_is_sequential(av) || na_layer_child_count(av) < 1 ||
        !combine_plan(na_layer_child(av, 0), kv))
        return refuse(why, wn, "attn_value_to_output does not start with "
                      "AttentionCombine over kv_seq");
    if (!plan_middle(qk, n, p, why, wn))
        return false;
    p->av = c->sub[NA__ATTN_AV];
    return true;
}

/* ---- shapes ------------------------------------------------------------------------ */

/* The batch-like axes G (logits axes but seq and kv_seq) and the value
 * feature axis; false when the arrays are not the standard layout. */
typedef struct fused_shape {
    int ng;
    na_dim g[NA_MAX_DIMS];
    int64_t sq, skv, dp, dv;
    const char *seq, *kv, *vd;
} fused_shape;

static bool add_g(fused_shape *s, const char *name, int64_t size)
{
    for (int i = 0; i < s->ng; i++)
        if (s->g[i].name == name)
            return s->g[i].size == size;
    if (s->ng == NA_MAX_DIMS - 2)
        return false;
    s->g[s->ng++] = (na_dim){name, size};
    return true;
}

static bool in_g(const fused_shape *s, const char *name, int64_t size)
{
    for (int i = 0; i < s->ng; i++)
        if (s->g[i].name == name)
            return s->g[i].size == size;
    return false;
}

static bool plan_shape(const na_array *q, const na_array *k, const na_array *v,
                       const char *p_axis, fused_shape *s)
{
    s->seq = na_intern("seq");
    s->kv = na_intern("kv_seq");
    s->vd = NULL;
    s->ng = 0;
    const na_array *all[3] = {q, k, v};
    for (int i = 0; i < 3; i++)
        if (na_positional_count(all[i]))
            return false;
    /* f32 queries; keys and values both f32 or both bf16 (a bf16 cache) */
    if (q->dtype != NA_F32 || k->dtype != v->dtype ||
        (k->dtype != NA_F32 && k->dtype != NA_BF16))
        return false;
    s->sq = na_axis_size(q, s->seq);
    s->skv = na_axis_size(k, s->kv);
    s->dp = na_axis_size(q, p_axis);
    if (s->sq < 0 || s->skv < 0 || s->dp < 0 || na_axis_size(k, p_axis) != s->dp ||
        na_axis_size(v, s->kv) != s->skv || na_axis_index(q, s->kv) >= 0 ||
        na_axis_index(k, s->seq) >= 0)
        return false;
    for (int d = 0; d < q->ndim; d++)
        if (q->name[d] != s->seq && q->name[d] != p_axis &&
            !add_g(s, q->name[d], q->shape[d]))
            return false;
    for (int d = 0; d < k->ndim; d++)
        if (k->name[d] != s->kv && k->name[d] != p_axis &&
            !add_g(s, k->name[d], k->shape[d]))
            return false;
    for (int d = 0; d < v->ndim; d++) {
        const char *n = v->name[d];
        if (n == s->kv || in_g(s, n, v->shape[d]))
            continue;
        if (s->vd || n == s->seq) /* one value feature axis, not a logits axis */
            return false;
        s->vd = n;
        s->dv = v->shape[d];
    }
    return s->vd != NULL;
}

/* ---- the job ----------------------------------------------------------------------- */

static int64_t stride_of(const na_array *x, const char *name)
{
    int d = name ? na_axis_index(x, name) : -1;
    return d < 0 ? 0 : x->stride[d];
}

static na__fused_operand operand_of(const na_array *x, const fused_shape *s,
                                    const char *row, const char *col, const char *feat)
{
    na__fused_operand o = {.base = na_data(x),
                           .row = stride_of(x, row),
                           .col = stride_of(x, col),
                           .feat = stride_of(x, feat)};
    for (int i = 0; i < s->ng; i++)
        o.g[i] = stride_of(x, s->g[i].name);
    return o;
}

/* The job for q, k, v, mask and bias (NULL: none); the output pointer is
 * set when the output exists (fused_combine). */
static void make_job(const fused_plan *p, const fused_shape *s, const na_array *q,
                     const na_array *k, const na_array *v, const na_array *mask,
                     const na_array *bias, na__fused_job *j)
{
    memset(j, 0, sizeof *j);
    j->ops = na__fused_ops_get();
    j->sq = s->sq, j->skv = s->skv, j->dp = s->dp, j->dv = s->dv, j->ng = s->ng;
    double scale = p->scale != 0 ? p->scale : 1.0 / sqrt((double)s->dp);
    j->scale2 = (float)(scale * 1.4426950408889634); /* log2(e) */
    j->cap2 = (float)(p->cap * 1.4426950408889634);
    j->zero_rows = p->rows == NA_MASKED_ROWS_ZERO;
    j->q = operand_of(q, s, s->seq, NULL, p->p_axis);
    j->k = operand_of(k, s, NULL, s->kv, p->p_axis);
    j->v = operand_of(v, s, NULL, s->kv, s->vd);
    j->bf16 = k->dtype == NA_BF16 ? na__fused_bf16_ops_get() : NULL;
    j->has_mask = mask != NULL;
    if (mask)
        j->m = operand_of(mask, s, s->seq, s->kv, NULL);
    j->has_bias = bias != NULL;
    if (bias)
        j->b = operand_of(bias, s, s->seq, s->kv, NULL);
    int64_t ys = s->sq * s->dv;
    j->groups = 1, j->group_rows = s->sq;
    for (int i = s->ng - 1; i >= 0; i--) {
        j->gsize[i] = s->g[i].size;
        j->yg[i] = ys;
        ys *= s->g[i].size;
    }
    for (int i = 0; i < s->ng; i++) {
        if (j->k.g[i] == 0 && j->v.g[i] == 0) { /* keys and values shared */
            j->shared[j->n_shared++] = i;
            j->group_rows *= s->g[i].size;
        } else {
            j->outer[j->n_outer++] = i;
            j->groups *= s->g[i].size;
        }
    }
}

static atomic_uint_fast64_t g_prefill_calls, g_decode_calls;

void na__fused_get_counts(na__fused_counts *c)
{
    c->prefill = atomic_load(&g_prefill_calls);
    c->decode = atomic_load(&g_decode_calls);
}

/* ---- driving it -------------------------------------------------------------------- */

/* A logits-shaped f32 view {G..., seq, kv_seq} that owns no memory (the
 * layers' evaluators read only its named shape). */
static na_status logits_like(const fused_shape *s, na_array **like)
{
    na_dim dims[NA_MAX_DIMS];
    memcpy(dims, s->g, sizeof(na_dim) * (size_t)s->ng);
    dims[s->ng] = (na_dim){s->seq, s->sq};
    dims[s->ng + 1] = (na_dim){s->kv, s->skv};
    na_array *zero = NULL;
    na_status st = na_scalar(NA_F32, 0, &zero);
    if (st == NA_OK)
        st = na_broadcast_to(zero, s->ng + 2, dims, like);
    na_array_free(zero);
    return st;
}

/* The plan's masks, evaluated and combined (NULL: no mask). */
static na_status combined_mask(const fused_plan *p, const na_side *side,
                               const na_array *like, na_array **out)
{
    *out = NULL;
    na_array *ms[MAX_MASKS] = {0};
    na_status st = NA_OK;
    for (int i = 0; i < p->n_masks && st == NA_OK; i++)
        st = na__mask_layer_eval(p->masks[i], side, like, &ms[i]);
    if (st == NA_OK && p->n_masks)
        st = na_combine_masks(p->n_masks, (const na_array *const *)ms, out);
    for (int i = 0; i < p->n_masks; i++)
        na_array_free(ms[i]);
    return st;
}

/* The plan's ApplyAttentionBias arrays, summed in f32 (an f64 bias is
 * converted, as the layer converts it to the logits' dtype); NULL: none
 * (no layer, or only optional ones that are absent). */
static na_status combined_bias(const fused_plan *p, const na_side *side,
                               const na_array *like, na_array **out)
{
    *out = NULL;
    na_status st = NA_OK;
    for (int i = 0; i < p->n_biases && st == NA_OK; i++) {
        na_array *b = NULL, *t = NULL;
        st = na__bias_layer_eval(p->biases[i], side, like, &b);
        if (st == NA_OK && b && b->dtype != NA_F32) {
            st = na_astype(b, NA_F32, &t);
            na_array_free(b);
            b = t, t = NULL;
        }
        if (st == NA_OK && b && *out) {
            st = na_add(*out, b, &t);
            na_array_free(b);
            b = t;
        }
        if (st == NA_OK && b) {
            na_array_free(*out);
            *out = b;
        }
    }
    if (st != NA_OK) {
        na_array_free(*out);
        *out = NULL;
    }
    return st;
}

/* ---- the positional mask ----------------------------------------------------------- */

/* Is x i32 with every axis a batch-like axis or `own` (sizes agreeing)? */
static bool axes_within(const na_array *x, const fused_shape *s, const char *own)
{
    if (x->dtype != NA_I32 || na_positional_count(x))
        return false;
    for (int d = 0; d < x->ndim; d++)
        if (x->name[d] != own && !in_g(s, x->name[d], x->shape[d]))
            return false;
    return true;
}

/* Positions q {.., seq} and kp {.., kv_seq} (i32, axes among the
 * logits') as P; false if they cannot be (the key positions must not move
 * along a shared axis: keys are read once for all its rows). */
static bool fill_positions(const fused_shape *s, const na__fused_job *j,
                           const na_array *qp, const na_array *kp,
                           na__fused_positions *P)
{
    if (!axes_within(qp, s, s->seq) || !axes_within(kp, s, s->kv))
        return false;
    P->q = na_data(qp), P->kv = na_data(kp);
    P->qrow = stride_of(qp, s->seq), P->kvcol = stride_of(kp, s->kv);
    for (int i = 0; i < s->ng; i++) {
        P->qg[i] = stride_of(qp, s->g[i].name);
        P->kvg[i] = stride_of(kp, s->g[i].name);
    }
    for (int a = 0; a < j->n_shared; a++)
        if (P->kvg[j->shared[a]] != 0)
            return false;
    return true;
}

/* The causal layer's positions as the job's positional mask (the arrays
 * stay referenced in *qp, *kp until the job has run). false when the fused
 * path cannot take them: the general path then runs (and reports any
 * error, as it always does). */
static bool plan_positions(const fused_plan *p, const fused_shape *s, const na_side *side,
                           na__fused_job *j, na_array **qp, na_array **kp)
{
    *qp = *kp = NULL;
    if (!p->causal)
        return true;
    int64_t window = 0;
    na_status st = na__causal_mask_positions(p->causal, side, s->seq, s->sq, s->kv,
                                             s->skv, qp, kp, &window);
    if (st != NA_OK || !*qp)
        return false;
    j->pos.window = window;
    return fill_positions(s, j, *qp, *kp, &j->pos);
}

/* The ALiBi layer's slopes and positions as the job's (the arrays stay
 * referenced in held[0..3) until the job has run); false when the fused
 * path cannot take them (the general path then runs and reports any
 * error). */
static bool plan_alibi(const fused_plan *p, const fused_shape *s, const na_side *side,
                       const na_array *like, na__fused_job *j, na_array **held)
{
    held[0] = held[1] = held[2] = NULL;
    if (!p->alibi)
        return true;
    na_status st = na__alibi_parts(p->alibi, side, like, s->seq, s->kv, &held[0],
                                   &held[1], &held[2]);
    const na_array *sl = held[0];
    if (st != NA_OK || !sl || sl->dtype != NA_F32 || na_positional_count(sl))
        return false;
    for (int d = 0; d < sl->ndim; d++)
        if (!in_g(s, sl->name[d], sl->shape[d]))
            return false;
    j->slope = na_data(sl);
    for (int i = 0; i < s->ng; i++)
        j->slope_g[i] = stride_of(sl, s->g[i].name);
    return fill_positions(s, j, held[1], held[2], &j->apos);
}

/* The output array {G..., seq, value feature}. */
static na_status output_array(const fused_shape *s, na_array **y)
{
    na_dim dims[NA_MAX_DIMS];
    memcpy(dims, s->g, sizeof(na_dim) * (size_t)s->ng);
    dims[s->ng] = (na_dim){s->seq, s->sq};
    dims[s->ng + 1] = (na_dim){s->vd, s->dv};
    return na_empty(NA_F32, s->ng + 2, dims, y);
}

/* The tiled path reads f32 keys and values: a bf16 cache read by many
 * query rows (a prefill) is widened once here (the decode path reads it
 * as it is). *wk, *wv: the widened copies (NULL when not needed). */
static na_status widen_for_tiles(const fused_plan *p, const fused_shape *s,
                                 const na_value *qv, const na_value *kv, const na_value *vv,
                                 const na_array *mask, const na_array *bias,
                                 na__fused_job *j, na_array **wk, na_array **wv)
{
    if (!j->bf16 || j->group_rows <= NA__FUSED_DECODE_ROWS)
        return NA_OK;
    na_status st = na_astype(kv->array, NA_F32, wk);
    if (st == NA_OK)
        st = na_astype(vv->array, NA_F32, wv);
    if (st == NA_OK)
        make_job(p, s, qv->array, *wk, *wv, mask, bias, j);
    return st;
}

/* Run the job into y. */
static na_status fused_combine(const fused_shape *s, na__fused_job *job, na_array *y,
                               const na_array *q, const na_array *k, const na_array *v)
{
    job->y = na_data(y);
    /* about 4 flops per (row, key, feature): below ~1 MFLOP one thread */
    double work = (double)job->groups * (double)job->group_rows * (double)s->skv *
                  (double)(s->dp + s->dv);
    int threads = work > 262144.0 ? na__threads() : 1;
    na_status st = NA_OK;
    if (na_size(y) > 0) {
        st = (na_status)na__fused_run(job, threads);
        atomic_fetch_add(job->group_rows <= NA__FUSED_DECODE_ROWS ? &g_decode_calls
                                                                  : &g_prefill_calls,
                         1);
    }
    if (st != NA_OK)
        return na__fail(st, "Attention (fused): out of memory for q %s, k %s, v %s",
                        na__shape(q), na__shape(k), na__shape(v));
    return NA_OK;
}

/* attn_value_to_output's children after the AttentionCombine. */
static na_status run_rest(const fused_plan *p, na_array *y, const na_side *side,
                          na_value **out)
{
    na_value *cur = na_value_from_array(y);
    if (!cur)
        return na_last_status();
    for (int i = 1; i < na_layer_child_count(p->av); i++) {
        na_value *next = NULL;
        na_status st = na_layer_call(na_layer_child(p->av, i), cur, side, &next);
        na_value_free(cur);
        if (st != NA_OK) {
            na__fail_append(" (in Attention.attn_value_to_output, fused path)");
            return st;
        }
        cur = next;
    }
    *out = cur;
    return NA_OK;
}

/* Remember how the layer's last call ran (na_fused_report reads it). */
static void note_call(na__attn_core *c, bool fused, const char *why)
{
    c->last_path = fused ? NA__ATTN_RAN_FUSED : NA__ATTN_RAN_GENERAL;
    snprintf(c->last_why, sizeof c->last_why, "%s", fused ? "" : why);
}

/* Does this call qualify (tree, hooks, arrays)? If not, why. */
static bool plan_call(const na__attn_core *c, const na_value *qv, const na_value *kv,
                      const na_value *vv, fused_plan *p, fused_shape *s, char *why,
                      size_t wn)
{
    if (!plan_tree(c, p, why, wn))
        return false;
    if (na__call_hooks_active()) /* a capture or observer: call every sublayer */
        return refuse(why, wn, "a capture or observer is active");
    if (qv->kind != NA_VALUE_ARRAY || kv->kind != NA_VALUE_ARRAY ||
        vv->kind != NA_VALUE_ARRAY)
        return refuse(why, wn, "the queries, keys or values are not single arrays");
    if (!plan_shape(qv->array, kv->array, vv->array, p->p_axis, s))
        return refuse(why, wn, "q %s, k %s, v %s: not f32 with named axes seq / kv_seq, "
                      "%s and one value feature axis (keys and values f32 or bf16)",
                      na__shape(qv->array),
                      na__shape(kv->array), na__shape(vv->array), p->p_axis);
    if (s->skv == 0) /* nothing to attend to: the general path's zeros */
        return refuse(why, wn, "no keys (kv_seq of size 0)");
    return true;
}

/* The arrays a job reads besides q, k, v (freed once it has run). */
enum {
    HELD_LIKE, HELD_MASK, HELD_BIAS, HELD_QP, HELD_KP, HELD_ALIBI,
    HELD_WK = HELD_ALIBI + 3, HELD_WV, HELD_N /* WK, WV: a bf16 cache widened */
};

/* Evaluate the masks and biases and describe the job; false (and why) when
 * the fused path cannot take this call. */
static bool prepare_job(const fused_plan *p, const fused_shape *s, const na_value *qv,
                        const na_value *kv, const na_value *vv, const na_side *side,
                        na__fused_job *job, na_array **held, char *why, size_t wn)
{
    na_status st = NA_OK;
    if (p->n_masks || p->n_biases || p->alibi) /* else no allocation at all */
        st = logits_like(s, &held[HELD_LIKE]);
    if (st == NA_OK)
        st = combined_mask(p, side, held[HELD_LIKE], &held[HELD_MASK]);
    if (st == NA_OK)
        st = combined_bias(p, side, held[HELD_LIKE], &held[HELD_BIAS]);
    if (st != NA_OK)
        return refuse(why, wn, "a mask or bias could not be evaluated (the general path "
                      "reports why)");
    make_job(p, s, qv->array, kv->array, vv->array, held[HELD_MASK], held[HELD_BIAS],
             job);
    if (widen_for_tiles(p, s, qv, kv, vv, held[HELD_MASK], held[HELD_BIAS], job,
                        &held[HELD_WK], &held[HELD_WV]) != NA_OK)
        return refuse(why, wn, "out of memory widening a bf16 cache for the tiled path");
    if (!plan_positions(p, s, side, job, &held[HELD_QP], &held[HELD_KP]))
        return refuse(why, wn, "the causal mask's positions are not i32 arrays over the "
                      "logits' axes");
    if (!plan_alibi(p, s, side, held[HELD_LIKE], job, &held[HELD_ALIBI]))
        return refuse(why, wn, "the ALiBi slopes or positions are not f32 / i32 arrays "
                      "over the logits' axes");
    return true;
}

na_status na__attn_fused(na__attn_core *c, const na_value *qv, const na_value *kv,
                         const na_value *vv, const na_side *side, na_value **out,
                         bool *done)
{
    *done = false;
    fused_plan p;
    fused_shape s;
    char why[sizeof c->last_why];
    if (!plan_call(c, qv, kv, vv, &p, &s, why, sizeof why)) {
        note_call(c, false, why);
        return NA_OK;
    }
    na_array *held[HELD_N] = {0}, *y = NULL;
    na__fused_job job;
    bool ok = prepare_job(&p, &s, qv, kv, vv, side, &job, held, why, sizeof why);
    na_status st = NA_OK;
    if (ok) {
        *done = true;
        st = output_array(&s, &y);
        if (st == NA_OK)
            st = fused_combine(&s, &job, y, qv->array, kv->array, vv->array);
    } else {
        na_clear_error(); /* the general path reports it, as it always does */
    }
    note_call(c, ok, why);
    for (int i = 0; i < HELD_N; i++)
        na_array_free(held[i]);
    if (!ok)
        return NA_OK;
    if (st != NA_OK) {
        na_array_free(y);
        return st;
    }
    return run_rest(&p, y, side, out);
}

/* ---- the report -------------------------------------------------------------------- */

typedef struct report_walk {
    na_fused_report *r;
    int cap;
    na_status st;
} report_walk;

static na_status report_one(na_layer *layer, const char *path, int depth, void *ctx)
{
    (void)depth;
    report_walk *w = ctx;
    na__attn_core *c = na__attn_core_of(layer);
    if (!c)
        c = na__kv_attn_core(layer);
    if (!c)
        return NA_OK;
    if (w->r->count == w->cap) {
        int cap = w->cap ? 2 * w->cap : 8;
        na_fused_entry *e = realloc(w->r->entries, sizeof *e * (size_t)cap);
        if (!e)
            return na__fail(NA_ERR_NO_MEMORY, "na_fused_report: out of memory");
        w->r->entries = e, w->cap = cap;
    }
    na_fused_entry *e = &w->r->entries[w->r->count];
    memset(e, 0, sizeof *e);
    e->path = na__strdup("na_fused_report", path);
    if (!e->path)
        return na_last_status();
    w->r->count++;
    e->type = na_layer_type_name(layer);
    fused_plan p;
    e->fused = plan_tree(c, &p, e->reason, sizeof e->reason);
    e->last_call = c->last_path == NA__ATTN_RAN_FUSED     ? NA_FUSED_LAST_FUSED
                   : c->last_path == NA__ATTN_RAN_GENERAL ? NA_FUSED_LAST_GENERAL
                                                          : NA_FUSED_LAST_NONE;
    snprintf(e->last_reason, sizeof e->last_reason, "%s", c->last_why);
    return NA_OK;
}

na_status na_fused_report_get(const na_layer *model, na_fused_report *out)
{
    if (!model || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_fused_report_get: %s is NULL",
                        model ? "out" : "model");
    memset(out, 0, sizeof *out);
    report_walk w = {out, 0, NA_OK};
    na_status st = na_tree_walk((na_layer *)model, report_one, &w);
    if (st != NA_OK)
        na_fused_report_free(out);
    return st;
}

void na_fused_report_free(na_fused_report *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->count; i++)
        free(r->entries[i].path);
    free(r->entries);
    r->entries = NULL;
    r->count = 0;
}
