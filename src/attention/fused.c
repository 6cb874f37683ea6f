/* The fused attention path: when query_key_to_attn is the standard chain
 * (AttentionLogits, mask layers, Softmax/MaskedSoftmax over kv_seq) and
 * attn_value_to_output starts with AttentionCombine over kv_seq, compute
 * softmax(q k * scale, masked) v row by row with an online softmax over
 * tiles of keys: no {seq, kv_seq} buffer, tiles with no unmasked key are
 * skipped. Same results as the general path (tests/test_attention.c).
 * Decode steps (one query row) stay on the general path, whose products
 * with one row run as BLIS GEMV. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention_internal.h"

#define TILE 64
#define MAX_MASKS 8

typedef struct fused_plan {
    const char *p_axis;          /* contracted by the logits: projection     */
    double scale;                /* 0: size(p_axis)**-0.5                    */
    int n_masks;
    const na_layer *masks[MAX_MASKS];
    na_masked_rows rows;
    na_layer *av;                /* attn_value_to_output (a Sequential)      */
} fused_plan;

/* Is the tree the standard one? (structure only; cheap) */
static bool plan_tree(const na__attn_core *c, fused_plan *p)
{
    const na_layer *qk = c->sub[NA__ATTN_QK], *av = c->sub[NA__ATTN_AV];
    const char *kv = na_intern("kv_seq"), *axis = NULL;
    int n = na_layer_child_count(qk);
    if (!na_is_sequential(qk) || !na_is_sequential(av) || n < 2 ||
        !na__attn_logits_info(na_layer_child(qk, 0), &p->p_axis, &p->scale) ||
        !na__softmax_info(na_layer_child(qk, n - 1), kv, &p->rows) ||
        !na__attn_combine_info(na_layer_child(av, 0), &axis) || axis != kv)
        return false;
    p->n_masks = 0;
    for (int i = 1; i < n - 1; i++) {
        double value = 0;
        if (p->n_masks == MAX_MASKS ||
            !na__mask_layer_info(na_layer_child(qk, i), &value) || value > -1e30)
            return false;
        p->masks[p->n_masks++] = na_layer_child(qk, i);
    }
    p->av = c->sub[NA__ATTN_AV];
    return true;
}

/* Any capture or observer on this thread? Then every sublayer must really
 * be called: no fusing. */
static bool hooks_active(void)
{
    na__call_hook probe = {0};
    na__call_hook_push(&probe);
    bool active = probe.next != NULL;
    na__call_hook_pop(&probe);
    return active;
}

/* ---- shapes ---------------------------------------------------------------- */

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
        if (all[i]->dtype != NA_F32 || na_positional_count(all[i]))
            return false;
    s->sq = na_axis_size(q, s->seq);
    s->skv = na_axis_size(k, s->kv);
    s->dp = na_axis_size(q, p_axis);
    if (s->sq < 0 || s->skv < 0 || s->dp < 0 || na_axis_size(k, p_axis) != s->dp ||
        na_axis_size(v, s->kv) != s->skv || na_axis_index(q, s->kv) >= 0 ||
        na_axis_index(k, s->seq) >= 0)
        return false;
    for (int d = 0; d < q->ndim; d++)
        if (q->name[d] != s->seq && q->name[d] != p_axis && !add_g(s, q->name[d], q->shape[d]))
            return false;
    for (int d = 0; d < k->ndim; d++)
        if (k->name[d] != s->kv && k->name[d] != p_axis && !add_g(s, k->name[d], k->shape[d]))
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

/* ---- the kernel ----------------------------------------------------------------- */

/* Strides of x along G, seq/kv, and the feature axis (0 where absent). */
typedef struct operand {
    const char *base;             /* element size: f32 or bool              */
    int64_t g[NA_MAX_DIMS];
    int64_t row, col;             /* along seq / kv_seq                     */
    int64_t feat;                 /* along projection / value feature       */
} operand;

static int64_t stride_of(const na_array *x, const char *name)
{
    int d = name ? na_axis_index(x, name) : -1;
    return d < 0 ? 0 : x->stride[d];
}

static operand operand_of(const na_array *x, const fused_shape *s, const char *row,
                          const char *col, const char *feat)
{
    operand o = {.base = na_data(x), .row = stride_of(x, row), .col = stride_of(x, col),
                 .feat = stride_of(x, feat)};
    for (int i = 0; i < s->ng; i++)
        o.g[i] = stride_of(x, s->g[i].name);
    return o;
}

typedef struct kernel_args {
    fused_shape s;
    operand q, k, v, m;
    bool has_mask;
    float scale;
    na_masked_rows rows;
    float *y;                     /* [G..., seq, vd] contiguous            */
} kernel_args;

/* Offsets of G index `gi` (flat) in each operand. */
static void g_offsets(const kernel_args *a, int64_t gi, int64_t *off)
{
    off[0] = off[1] = off[2] = off[3] = 0;
    for (int d = a->s.ng - 1; d >= 0; d--) {
        int64_t i = gi % a->s.g[d].size;
        gi /= a->s.g[d].size;
        off[0] += i * a->q.g[d];
        off[1] += i * a->k.g[d];
        off[2] += i * a->v.g[d];
        off[3] += i * a->m.g[d];
    }
}

static bool tile_live(const bool *m, int64_t col, int64_t j0, int64_t j1, bool *keep)
{
    bool any = false;
    for (int64_t j = j0; j < j1; j++)
        any |= (keep[j - j0] = m[j * col]);
    return any;
}

/* One query row: acc = sum_j softmax_j v_j over the unmasked keys. */
static void fused_row(const kernel_args *a, int64_t r, double *acc, double *sc)
{
    const fused_shape *s = &a->s;
    int64_t gi = r / s->sq, i = r % s->sq, off[4];
    g_offsets(a, gi, off);
    const float *q = (const float *)a->q.base + off[0] + i * a->q.row;
    const float *k = (const float *)a->k.base + off[1];
    const float *v = (const float *)a->v.base + off[2];
    const bool *m = a->has_mask ? (const bool *)a->m.base + off[3] + i * a->m.row : NULL;
    bool keep[TILE];
    double mx = -INFINITY, l = 0;
    memset(acc, 0, sizeof *acc * (size_t)s->dv);
    for (int64_t j0 = 0; j0 < s->skv; j0 += TILE) {
        int64_t j1 = j0 + TILE < s->skv ? j0 + TILE : s->skv;
        if (!m)
            memset(keep, 1, sizeof keep);
        else if (!tile_live(m, a->m.col, j0, j1, keep))
            continue; /* a fully masked tile: skipped */
        double tmax = -INFINITY;
        for (int64_t j = j0; j < j1; j++) {
            if (!keep[j - j0])
                continue;
            const float *kj = k + j * a->k.col;
            float dot = 0;
            for (int64_t d = 0; d < s->dp; d++)
                dot += q[d * a->q.feat] * kj[d * a->k.feat];
            sc[j - j0] = (double)(dot * a->scale);
            tmax = fmax(tmax, sc[j - j0]);
        }
        double nm = fmax(mx, tmax), corr = exp(mx - nm);
        l *= corr;
        for (int64_t d = 0; d < s->dv; d++)
            acc[d] *= corr;
        for (int64_t j = j0; j < j1; j++) {
            if (!keep[j - j0])
                continue;
            double p = exp(sc[j - j0] - nm);
            const float *vj = v + j * a->v.col;
            l += p;
            for (int64_t d = 0; d < s->dv; d++)
                acc[d] += p * vj[d * a->v.feat];
        }
        mx = nm;
    }
    float *y = a->y + r * s->dv;
    if (l > 0) {
        for (int64_t d = 0; d < s->dv; d++)
            y[d] = (float)(acc[d] / l);
        return;
    }
    /* every key masked: uniform weights (mean of v) or zeros */
    for (int64_t d = 0; d < s->dv; d++) {
        double sum = 0;
        for (int64_t j = 0; a->rows == NA_MASKED_ROWS_UNIFORM && j < s->skv; j++)
            sum += v[j * a->v.col + d * a->v.feat];
        y[d] = a->rows == NA_MASKED_ROWS_UNIFORM ? (float)(sum / (double)s->skv) : 0.0f;
    }
}

static na_status run_kernel(const kernel_args *a, int64_t nrows)
{
    int64_t work = nrows * a->s.skv * (a->s.dp + a->s.dv);
    int nt = work > (1 << 16) ? na__threads() : 1;
    bool oom = false;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        double *buf = malloc(sizeof(double) * (size_t)(a->s.dv + TILE));
        if (!buf) {
#pragma omp atomic write
            oom = true;
        }
#pragma omp for schedule(static)
        for (int64_t r = 0; r < nrows; r++)
            if (buf)
                fused_row(a, r, buf + TILE, buf);
        free(buf);
    }
    return oom ? na__fail(NA_ERR_NO_MEMORY, "Attention (fused): out of memory") : NA_OK;
}

/* ---- driving it ------------------------------------------------------------------ */

/* The plan's masks, evaluated and combined (NULL: no mask); *ok false when
 * a mask cannot be evaluated (the general path reports it). */
static na_array *combined_mask(const fused_plan *p, const fused_shape *s,
                               const na_side *side, bool *ok)
{
    na_dim dims[NA_MAX_DIMS];
    memcpy(dims, s->g, sizeof(na_dim) * (size_t)s->ng);
    dims[s->ng] = (na_dim){s->seq, s->sq};
    dims[s->ng + 1] = (na_dim){s->kv, s->skv};
    na_array *zero = NULL, *like = NULL, *ms[MAX_MASKS] = {0}, *all = NULL;
    na_status st = na_scalar(NA_F32, 0, &zero);
    if (st == NA_OK) /* a logits-shaped view that owns no memory */
        st = na_broadcast_to(zero, s->ng + 2, dims, &like);
    for (int i = 0; i < p->n_masks && st == NA_OK; i++)
        st = na__mask_layer_eval(p->masks[i], side, like, &ms[i]);
    if (st == NA_OK)
        st = na_combine_masks(p->n_masks, (const na_array *const *)ms, &all);
    for (int i = 0; i < p->n_masks; i++)
        na_array_free(ms[i]);
    na_array_free(zero);
    na_array_free(like);
    *ok = st == NA_OK;
    return all;
}

static na_status fused_combine(const fused_plan *p, const fused_shape *s,
                               const na_array *q, const na_array *k, const na_array *v,
                               const na_array *mask, na_array **out)
{
    na_dim dims[NA_MAX_DIMS];
    memcpy(dims, s->g, sizeof(na_dim) * (size_t)s->ng);
    dims[s->ng] = (na_dim){s->seq, s->sq};
    dims[s->ng + 1] = (na_dim){s->vd, s->dv};
    na_array *y = NULL;
    na_status st = na_empty(NA_F32, s->ng + 2, dims, &y);
    if (st != NA_OK)
        return st;
    kernel_args a = {.s = *s, .has_mask = mask != NULL, .rows = p->rows, .y = na_data(y)};
    a.scale = (float)(p->scale != 0 ? p->scale : 1.0 / sqrt((double)s->dp));
    a.q = operand_of(q, s, s->seq, NULL, p->p_axis);
    a.k = operand_of(k, s, NULL, s->kv, p->p_axis);
    a.v = operand_of(v, s, NULL, s->kv, s->vd);
    if (mask)
        a.m = operand_of(mask, s, s->seq, s->kv, NULL);
    int64_t nrows = s->sq;
    for (int i = 0; i < s->ng; i++)
        nrows *= s->g[i].size;
    st = nrows > 0 ? run_kernel(&a, nrows) : NA_OK;
    if (st != NA_OK) {
        na_array_free(y);
        return st;
    }
    *out = y;
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

na_status na__attn_fused(na__attn_core *c, const na_value *qv, const na_value *kv,
                         const na_value *vv, const na_side *side, na_value **out,
                         bool *done)
{
    *done = false;
    fused_plan p;
    fused_shape s;
    if (c->no_fuse || c->keep_weights || c->return_weights || !plan_tree(c, &p) ||
        hooks_active())
        return NA_OK;
    if (qv->kind != NA_VALUE_ARRAY || kv->kind != NA_VALUE_ARRAY ||
        vv->kind != NA_VALUE_ARRAY ||
        !plan_shape(qv->array, kv->array, vv->array, p.p_axis, &s))
        return NA_OK;
    if (s.sq == 1) /* a decode step: logits are one row, BLIS GEMV does better */
        return NA_OK;
    bool ok = false;
    na_array *mask = combined_mask(&p, &s, side, &ok), *y = NULL;
    if (!ok) {
        na_clear_error(); /* the general path reports it, as it always does */
        return NA_OK;
    }
    *done = true;
    na_status st = fused_combine(&p, &s, qv->array, kv->array, vv->array, mask, &y);
    na_array_free(mask);
    return st == NA_OK ? run_rest(&p, y, side, out) : st;
}
