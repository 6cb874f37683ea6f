/* A plain-loop reference decoder-only transformer for the model tests,
 * written from the published formulas (Llama, GPT-2, Gemma 2/3) with
 * nested loops over float buffers — none of the library's layers or
 * array operations. One sequence (batch row) at a time.
 *
 * Weight layouts (row-major, input index first):
 *   q [hidden][nq*hd], k, v [hidden][nkv*hd], o [nq*hd][hidden]
 *   (query head h = kv_head * (nq/nkv) + query_head, uses kv head h/(nq/nkv))
 *   gate, up [hidden][ffn], down [ffn][hidden]
 *   embed [vocab][hidden], pos [max_pos][hidden], head [hidden][vocab]
 *   norm scales are multipliers (a Gemma checkpoint's 1 + w already added). */
#ifndef REF_TRANSFORMER_H
#define REF_TRANSFORMER_H

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

enum { REF_RMS, REF_LAYERNORM };
enum { REF_SILU, REF_GELU_TANH };

typedef struct ref_rope {
    bool on;
    double theta, scale, fraction;       /* scale: positions divided by it  */
    double l3_factor, l3_low, l3_high, l3_orig; /* l3_factor 0: off          */
} ref_rope;

typedef struct ref_cfg {
    int vocab, hidden, ffn, layers, nq, nkv, hd;
    int norm;
    double eps;
    bool post_norms, qk_norm, gated, mlp_bias, qkv_bias, out_bias;
    int act;
    bool learned_pos, embed_scale, tie;
    ref_rope rope, local_rope;  /* local_rope.on: used by local layers     */
    double attn_scale;          /* 0: hd^-0.5                              */
    double attn_cap, final_cap; /* 0: none                                 */
    int window, pattern;        /* window > 0: layer i is local when       */
                                /* pattern == 0 or (i + 1) % pattern != 0  */
} ref_cfg;

typedef struct ref_block {
    float *ln1, *ln1_b, *q, *k, *v, *o, *qb, *kb, *vb, *ob, *post_attn;
    float *ln2, *ln2_b, *gate, *up, *down, *gate_b, *up_b, *down_b, *post_mlp;
    float *q_norm, *k_norm;
} ref_block;

typedef struct ref_weights {
    float *embed, *pos, *final_norm, *final_b, *head;
    ref_block *b;
} ref_weights;

static inline bool ref_is_local(const ref_cfg *c, int layer)
{
    return c->window > 0 && (c->pattern == 0 || (layer + 1) % c->pattern != 0);
}

/* y[n] = norm(x[n]) * w (+ b) */
static inline void ref_norm(const ref_cfg *c, int n, const float *x, const float *w,
                            const float *b, float *y)
{
    double mean = 0, sq = 0;
    for (int i = 0; i < n; i++)
        mean += x[i];
    mean /= n;
    for (int i = 0; i < n; i++) {
        double d = c->norm == REF_RMS ? x[i] : x[i] - mean;
        sq += d * d;
    }
    double inv = 1.0 / sqrt(sq / n + c->eps);
    for (int i = 0; i < n; i++) {
        double d = c->norm == REF_RMS ? x[i] : x[i] - mean;
        y[i] = (float)(d * inv * w[i] + (b ? b[i] : 0));
    }
}

/* y[m] = x[n] W[n][m] (+ b) */
static inline void ref_matvec(int n, int m, const float *x, const float *w,
                              const float *b, float *y)
{
    for (int j = 0; j < m; j++) {
        double s = b ? b[j] : 0;
        for (int i = 0; i < n; i++)
            s += (double)x[i] * w[(size_t)i * m + j];
        y[j] = (float)s;
    }
}

static inline double ref_act(int act, double x)
{
    if (act == REF_SILU)
        return x / (1 + exp(-x));
    return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

static inline double ref_inv_freq(const ref_rope *r, int i, int rot)
{
    double f = pow(r->theta, -2.0 * i / rot);
    if (r->l3_factor > 0) {
        double w = 2 * M_PI / f, lo = r->l3_orig / r->l3_low, hi = r->l3_orig / r->l3_high;
        if (w > lo)
            f = f / r->l3_factor;
        else if (w >= hi) {
            double s = (r->l3_orig / w - r->l3_low) / (r->l3_high - r->l3_low);
            f = (1 - s) * f / r->l3_factor + s * f;
        }
    }
    return f / r->scale;
}

/* Rotate one head vector v[hd] at position p (half-split, first rot dims). */
static inline void ref_rotate(const ref_rope *r, int hd, int p, float *v)
{
    double fr = r->fraction > 0 ? r->fraction : 1;
    int rot = (int)(hd * fr) / 2 * 2, half = rot / 2;
    for (int i = 0; i < half; i++) {
        double th = p * ref_inv_freq(r, i, rot), a = v[i], b = v[i + half];
        v[i] = (float)(a * cos(th) - b * sin(th));
        v[i + half] = (float)(b * cos(th) + a * sin(th));
    }
}

static inline void ref_rms_heads(const ref_cfg *c, int nh, float *v, const float *w)
{
    ref_cfg rc = *c;
    rc.norm = REF_RMS;
    for (int h = 0; h < nh; h++)
        ref_norm(&rc, c->hd, v + h * c->hd, w, NULL, v + h * c->hd);
}

/* Self-attention of one sequence: h [S][hidden] -> out [S][hidden]
 * (output projection included). pos[t] < 0 marks padding. */
static inline void ref_attention(const ref_cfg *c, const ref_block *w, int layer, int S,
                                 const float *h, const int *pos, float *out)
{
    int qd_n = c->nq * c->hd, kd_n = c->nkv * c->hd, group = c->nq / c->nkv;
    float *q = calloc((size_t)S * qd_n, 4), *k = calloc((size_t)S * kd_n, 4);
    float *v = calloc((size_t)S * kd_n, 4), *a = calloc((size_t)qd_n, 4);
    const ref_rope *rope = ref_is_local(c, layer) && c->local_rope.on ? &c->local_rope
                                                                       : &c->rope;
    double scale = c->attn_scale > 0 ? c->attn_scale : 1 / sqrt((double)c->hd);
    for (int t = 0; t < S; t++) {
        ref_matvec(c->hidden, qd_n, h + t * c->hidden, w->q, w->qb, q + t * qd_n);
        ref_matvec(c->hidden, kd_n, h + t * c->hidden, w->k, w->kb, k + t * kd_n);
        ref_matvec(c->hidden, kd_n, h + t * c->hidden, w->v, w->vb, v + t * kd_n);
        if (c->qk_norm) {
            ref_rms_heads(c, c->nq, q + t * qd_n, w->q_norm);
            ref_rms_heads(c, c->nkv, k + t * kd_n, w->k_norm);
        }
        for (int hh = 0; rope->on && hh < c->nq; hh++)
            ref_rotate(rope, c->hd, pos[t], q + t * qd_n + hh * c->hd);
        for (int hh = 0; rope->on && hh < c->nkv; hh++)
            ref_rotate(rope, c->hd, pos[t], k + t * kd_n + hh * c->hd);
    }
    /* the shared plain-loop attention (tests/support.c) on double copies */
    double *qd = ts_widen(q, (size_t)S * qd_n), *kd = ts_widen(k, (size_t)S * kd_n);
    double *vd = ts_widen(v, (size_t)S * kd_n), *y = calloc((size_t)c->hd, 8);
    bool *keep = calloc((size_t)S + 1, 1);
    ts_attn_row row = {.T = S, .D = c->hd, .Dv = c->hd, .scale = scale, .cap = c->attn_cap};
    for (int s = 0; s < S; s++) {
        for (int t = 0; t < S; t++) /* causal by position, sliding window on local layers */
            keep[t] = pos[t] >= 0 && pos[s] >= pos[t] &&
                      (!ref_is_local(c, layer) || pos[s] - pos[t] < c->window);
        for (int hh = 0; hh < c->nq; hh++) {
            int kh = hh / group;
            ts_attend_row(&row, qd + s * qd_n + hh * c->hd, kd + kh * c->hd, kd_n,
                          vd + kh * c->hd, kd_n, keep, NULL, NULL, y);
            for (int i = 0; i < c->hd; i++)
                a[hh * c->hd + i] = (float)y[i];
        }
        ref_matvec(qd_n, c->hidden, a, w->o, w->ob, out + s * c->hidden);
    }
    free(q), free(k), free(v), free(a), free(qd), free(kd), free(vd), free(y), free(keep);
}

/* MLP of one vector: x [hidden] -> y [hidden]. */
static inline void ref_mlp(const ref_cfg *c, const ref_block *w, const float *x, float *y)
{
    float *u = calloc((size_t)c->ffn, 4), *g = calloc((size_t)c->ffn, 4);
    ref_matvec(c->hidden, c->ffn, x, w->up, w->up_b, u);
    if (c->gated)
        ref_matvec(c->hidden, c->ffn, x, w->gate, w->gate_b, g);
    for (int i = 0; i < c->ffn; i++)
        u[i] = c->gated ? (float)(ref_act(c->act, g[i]) * u[i]) : (float)ref_act(c->act, u[i]);
    ref_matvec(c->ffn, c->hidden, u, w->down, w->down_b, y);
    free(u), free(g);
}

/* One block, in place on x [S][hidden]. */
static inline void ref_block_run(const ref_cfg *c, const ref_block *w, int layer, int S,
                                 const int *pos, float *x)
{
    int E = c->hidden;
    float *h = calloc((size_t)S * E, 4), *o = calloc((size_t)S * E, 4);
    for (int t = 0; t < S; t++)
        ref_norm(c, E, x + t * E, w->ln1, w->ln1_b, h + t * E);
    ref_attention(c, w, layer, S, h, pos, o);
    for (int t = 0; t < S; t++) {
        if (c->post_norms)
            ref_norm(c, E, o + t * E, w->post_attn, NULL, o + t * E);
        for (int i = 0; i < E; i++)
            x[t * E + i] += o[t * E + i];
        ref_norm(c, E, x + t * E, w->ln2, w->ln2_b, h + t * E);
        ref_mlp(c, w, h + t * E, o + t * E);
        if (c->post_norms)
            ref_norm(c, E, o + t * E, w->post_mlp, NULL, o + t * E);
        for (int i = 0; i < E; i++)
            x[t * E + i] += o[t * E + i];
    }
    free(h), free(o);
}

/* Logits [S][vocab] of one sequence of ids [S] at positions pos [S]. */
static inline void ref_forward(const ref_cfg *c, const ref_weights *w, int S,
                               const int *ids, const int *pos, float *logits)
{
    int E = c->hidden, V = c->vocab;
    float *x = calloc((size_t)S * E, 4), *h = calloc((size_t)E, 4);
    for (int t = 0; t < S; t++)
        for (int i = 0; i < E; i++) {
            double e = w->embed[(size_t)ids[t] * E + i];
            if (c->embed_scale)
                e *= (float)sqrt((double)E);
            if (c->learned_pos)
                e += w->pos[(size_t)(pos[t] < 0 ? 0 : pos[t]) * E + i];
            x[t * E + i] = (float)e;
        }
    for (int l = 0; l < c->layers; l++)
        ref_block_run(c, &w->b[l], l, S, pos, x);
    for (int t = 0; t < S; t++) {
        ref_norm(c, E, x + t * E, w->final_norm, w->final_b, h);
        for (int j = 0; j < V; j++) {
            double s = 0;
            for (int i = 0; i < E; i++)
                s += (double)h[i] * (c->tie ? w->embed[(size_t)j * E + i]
                                            : w->head[(size_t)i * V + j]);
            if (c->final_cap > 0)
                s = c->final_cap * tanh(s / c->final_cap);
            logits[(size_t)t * V + j] = (float)s;
        }
    }
    free(x), free(h);
}

#endif
