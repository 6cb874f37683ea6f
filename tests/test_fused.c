/* The fused attention path (src/attention/fused*.c) against the general
 * path and a plain-loop reference on random data: odd sizes, batch > 1,
 * MHA, GQA and MQA, strided and permuted inputs, every mask kind, fully
 * masked rows under both policies, decode steps (one query row, a few rows
 * per key/value head, keys split over threads, a KV cache); both kernel
 * sets (AVX-512 when the CPU has it, and the plain-C one). Asking for the
 * weights (capture, keep, return) and custom sublayers take the general
 * path. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <namedarr/attention.h>
#include <namedarr/combinators.h>
#include <namedarr/layers.h>
#include <namedarr/tree.h>

#include "../src/attention/fused_internal.h"
#include "../src/core/cpu.h"
#include "support.h"

/* ---- a case ------------------------------------------------------------------------ */

enum { MASK_NONE, MASK_CAUSAL, MASK_BOOL, MASK_BOOL_KV };
enum { LAYOUT_PLAIN, LAYOUT_STRIDED, LAYOUT_PERMUTED };
/* An ApplyAttentionBias array (side input "rel_bias"): every logits axis;
 * the heads (GQA: query_heads, which the keys do not move along), seq and
 * kv_seq; {kv_seq, batch} (a padding-style bias, kv_seq not contiguous);
 * {seq, kv_seq} in f64. */
enum { BIAS_NONE, BIAS_FULL, BIAS_HEADS, BIAS_KV, BIAS_F64 };

typedef struct fcase {
    int B, S, T, Hkv, G, D, Dv; /* G query heads per kv head; G == 0: MHA axes */
    int mask;                   /* MASK_*                                       */
    int64_t window;             /* with MASK_CAUSAL                             */
    bool positions;             /* causal from side-input positions             */
    int pad;                    /* batch 1's first `pad` keys at position -1    */
    bool zero_rows;             /* MaskedSoftmax(ZERO) instead of Softmax       */
    int dead_row;               /* MASK_BOOL: query row with no live key, or -1 */
    int layout;                 /* LAYOUT_*                                     */
    double scale;               /* 0: auto                                      */
    double cap;                 /* > 0: TanhSoftCap(cap) on the scaled logits   */
    int bias;                   /* BIAS_*: ApplyAttentionBias (after the cap)   */
    bool alibi;                 /* ApplyALiBiBias over the query heads          */
} fcase;

static int heads(const fcase *c)
{
    return c->Hkv * (c->G ? c->G : 1);
}

/* Attention(select q, k, v from a tuple; the standard query_key_to_attn;
 * Sequential(AttentionCombine)). */
static na_layer *core_model(const fcase *c)
{
    na_dot_product_options o = {.scale = c->scale,
                                .causal = c->mask == MASK_CAUSAL,
                                .window = c->window,
                                .soft_cap = c->cap,
                                .masked_rows = c->zero_rows ? NA_MASKED_ROWS_ZERO
                                                            : NA_MASKED_ROWS_UNIFORM};
    if (c->mask == MASK_BOOL || c->mask == MASK_BOOL_KV)
        o.mask_tag = "attn_mask";
    if (c->bias)
        o.bias_tag = "rel_bias";
    na_alibi_options a = {.num_heads = heads(c)};
    if (c->G)
        a.heads_axis = "query_heads", a.group_axis = "kv_heads", a.num_groups = c->Hkv;
    if (c->alibi)
        o.alibi = &a;
    na_layer *sel[3] = {0}, *qk = NULL, *comb = NULL, *av = NULL, *m = NULL;
    for (int i = 0; i < 3; i++)
        NA_OK_OR_FAIL(na_select_attention_input_new(i, NULL, NULL, &sel[i]));
    NA_OK_OR_FAIL(na_dot_product_attn_new(&o, &qk));
    NA_OK_OR_FAIL(na_attention_combine_new("kv_seq", &comb));
    NA_OK_OR_FAIL(na_sequential_new(1, &comb, &av));
    NA_OK_OR_FAIL(na_attention_new(sel[0], sel[1], sel[2], qk, av, &m));
    return m;
}

typedef struct fdata {
    na_array *q, *k, *v; /* contiguous originals                        */
    na_value *in;        /* (q, k, v) as the case lays them out          */
    na_side *side;
    bool *mask;  /* [B][S][T]: the full mask the case means      */
    double *ref; /* [B][H][S][Dv]                                */
    int32_t *qp, *kp; /* [B][S], [B][T]: the positions the case means */
    double *bias;     /* [B][H][S][T]: bias + ALiBi, or NULL          */
} fdata;

static const char *const q_gqa[] = {"batch", "seq", "kv_heads", "query_heads",
                                    "projection"},
                         *const q_mha[] = {"batch", "seq", "heads", "projection"},
                         *const kv_gqa[] = {"batch", "kv_seq", "kv_heads", "projection"},
                         *const kv_mha[] = {"batch", "kv_seq", "heads", "projection"},
                         *const y_gqa[] = {"batch", "kv_heads", "query_heads", "seq",
                                           "projection"},
                         *const y_mha[] = {"batch", "heads", "seq", "projection"};

static const char *const *q_names(const fcase *c)
{
    return c->G ? q_gqa : q_mha;
}
static const char *const *kv_names(const fcase *c)
{
    return c->G ? kv_gqa : kv_mha;
}

static na_array *laid_out(const na_array *x, int layout)
{
    na_array *y = NULL;
    if (layout == LAYOUT_STRIDED)
        return ts_strided_copy(x);
    if (layout == LAYOUT_PERMUTED) { /* reverse the dims: every stride changes */
        int perm[NA_MAX_DIMS];
        for (int d = 0; d < x->ndim; d++)
            perm[d] = x->ndim - 1 - d;
        return ts_permuted(x, perm);
    }
    NA_OK_OR_FAIL(na_array_ref(x, &y));
    return y;
}

static void set_i32(na_side *side, const char *key, int ndim, const na_dim *dims,
                    const int32_t *data)
{
    na_array *a = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_I32, ndim, dims, data, &a));
    NA_OK_OR_FAIL(na_side_set_array(side, key, a));
    na_array_free(a);
}

/* The mask the case means, and the side inputs that say it. */
static void make_mask(const fcase *c, fdata *f, uint64_t seed)
{
    int B = c->B, S = c->S, T = c->T;
    f->mask = malloc((size_t)(B * S * T) + 1);
    int32_t *qp = malloc(sizeof(int32_t) * (size_t)(B * S) + 1);
    int32_t *kp = malloc(sizeof(int32_t) * (size_t)(B * T) + 1);
    for (int b = 0; b < B; b++) {
        for (int i = 0; i < S; i++) /* queries are the last S of T positions */
            qp[b * S + i] = T - S + i;
        for (int j = 0; j < T; j++)
            kp[b * T + j] = b == 1 && j < c->pad ? -1 : j;
    }
    uint64_t s = seed * 2654435761u + 7;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < S; i++)
            for (int j = 0; j < T; j++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                bool keep = true, rnd = (s >> 33) % 3 != 0;
                if (c->mask == MASK_CAUSAL) {
                    int qpos = c->positions ? qp[b * S + i] : i;
                    int kpos = c->positions ? kp[b * T + j] : j;
                    keep = qpos >= kpos && kpos >= 0 &&
                           (c->window <= 0 || qpos - kpos < c->window);
                } else if (c->mask == MASK_BOOL) {
                    keep = rnd && i != c->dead_row;
                } else if (c->mask == MASK_BOOL_KV) {
                    keep = (j * 7 + b) % 5 != 0; /* same for every query */
                }
                f->mask[(b * S + i) * T + j] = keep;
            }
    if (!c->positions) /* the defaults: 0, 1, ... for queries and keys */
        for (int b = 0; b < B; b++) {
            for (int i = 0; i < S; i++)
                qp[b * S + i] = i;
            for (int j = 0; j < T; j++)
                kp[b * T + j] = j;
        }
    f->qp = qp, f->kp = kp;
    if (c->positions) {
        set_i32(f->side, NA_QUERY_POSITIONS_KEY, NA_DIMS({"batch", B}, {"seq", S}), qp);
        set_i32(f->side, NA_KV_POSITIONS_KEY, NA_DIMS({"batch", B}, {"kv_seq", T}), kp);
    }
    na_array *m = NULL;
    if (c->mask == MASK_BOOL)
        NA_OK_OR_FAIL(na_from_data(
            NA_BOOL, NA_DIMS({"batch", B}, {"seq", S}, {"kv_seq", T}), f->mask, &m));
    if (c->mask == MASK_BOOL_KV) {
        bool *row = malloc((size_t)(B * T) + 1);
        for (int b = 0; b < B; b++)
            memcpy(row + b * T, f->mask + (size_t)b * S * T, (size_t)T);
        NA_OK_OR_FAIL(
            na_from_data(NA_BOOL, NA_DIMS({"batch", B}, {"kv_seq", T}), row, &m));
        free(row);
    }
    if (m)
        NA_OK_OR_FAIL(na_side_set_array(f->side, "attn_mask", m));
    na_array_free(m);
}

/* ALiBi's slope for head h of n (the paper's and Hugging Face's rule). */
static double ref_slope(int n, int h)
{
    int c = 1;
    while (2 * c <= n)
        c *= 2;
    return h < c ? pow(2.0, -8.0 * (h + 1) / c) : pow(2.0, -8.0 * (2 * (h - c) + 1) / (2.0 * c));
}

/* x at (b, h, i, j) of the logits, reading only the axes x has. */
static double bias_at(const fcase *c, const na_array *x, int b, int h, int i, int j)
{
    const char *all[5], *names[5];
    int64_t at[5], idx[5];
    int n = 0, k = 0;
    all[n] = "batch", at[n++] = b;
    if (c->G)
        all[n] = "kv_heads", at[n++] = h / c->G, all[n] = "query_heads", at[n++] = h % c->G;
    else
        all[n] = "heads", at[n++] = h;
    all[n] = "seq", at[n++] = i, all[n] = "kv_seq", at[n++] = j;
    for (int d = 0; d < n; d++)
        if (na_axis_index(x, na_intern(all[d])) >= 0)
            names[k] = all[d], idx[k++] = at[d];
    return ts_at(x, k, names, idx);
}

/* The case's bias array (side input "rel_bias") and f->bias: that array
 * plus ALiBi, per (b, h, i, j). */
static void make_bias(const fcase *c, fdata *f, uint64_t seed)
{
    int B = c->B, S = c->S, T = c->T, H = heads(c), Hkv = c->Hkv, G = c->G;
    if (!c->bias && !c->alibi)
        return;
    na_array *x = NULL;
    if (c->bias == BIAS_FULL && G)
        x = ts_random(NA_F32, NA_DIMS({"batch", B}, {"kv_heads", Hkv}, {"query_heads", G},
                                      {"seq", S}, {"kv_seq", T}), seed);
    else if (c->bias == BIAS_FULL)
        x = ts_random(NA_F32, NA_DIMS({"batch", B}, {"heads", H}, {"seq", S},
                                      {"kv_seq", T}), seed);
    else if (c->bias == BIAS_HEADS)
        x = ts_random(NA_F32, NA_DIMS({G ? "query_heads" : "heads", G ? G : H},
                                      {"seq", S}, {"kv_seq", T}), seed);
    else if (c->bias == BIAS_KV)
        x = ts_random(NA_F32, NA_DIMS({"kv_seq", T}, {"batch", B}), seed);
    else if (c->bias == BIAS_F64)
        x = ts_random(NA_F64, NA_DIMS({"seq", S}, {"kv_seq", T}), seed);
    if (x) {
        na_array *x2 = NULL; /* [-2, 2): the bias moves the weights */
        NA_OK_OR_FAIL(na_binary_scalar(NA_MUL, x, 2.0, &x2));
        NA_OK_OR_FAIL(na_side_set_array(f->side, "rel_bias", x2));
        na_array_free(x);
        x = x2;
    }
    f->bias = calloc((size_t)(B * H * S * T) + 1, sizeof(double));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < S; i++)
                for (int j = 0; j < T; j++) {
                    double v = x ? (double)(float)bias_at(c, x, b, h, i, j) : 0;
                    if (c->alibi)
                        v += ref_slope(H, h) * (f->kp[b * T + j] - f->qp[b * S + i]);
                    f->bias[((b * H + h) * S + i) * T + j] = v;
                }
    na_array_free(x);
}

/* q, k, v flattened to [b][h][i][d] / [b][hk][j][d] in double. */
static double *flat(const na_array *x, const char *const *names, int B, int H, int G,
                    int n, int d, bool is_q)
{
    double *out = malloc(sizeof(double) * (size_t)(B * H * n * d) + 8);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < n; i++)
                for (int e = 0; e < d; e++) {
                    int64_t idx[5];
                    int k = 0;
                    idx[k++] = b, idx[k++] = i;
                    if (G && is_q)
                        idx[k++] = h / G, idx[k++] = h % G;
                    else
                        idx[k++] = h;
                    idx[k++] = e;
                    out[((b * H + h) * n + i) * d + e] = ts_at(x, k, names, idx);
                }
    return out;
}

/* Plain loops, double: softmax(q k * scale, masked) v per (b, h, i). */
static void reference(const fcase *c, fdata *f)
{
    int B = c->B, S = c->S, T = c->T, H = heads(c), Hkv = c->Hkv, D = c->D, Dv = c->Dv;
    int G = c->G ? c->G : 1;
    double *q = flat(f->q, q_names(c), B, H, c->G, S, D, true);
    double *k = flat(f->k, kv_names(c), B, Hkv, 0, T, D, false);
    double *v = flat(f->v, kv_names(c), B, Hkv, 0, T, Dv, false);
    double scale = c->scale != 0 ? c->scale : 1.0 / sqrt((double)D);
    ts_attn_row row = {.T = T, .D = D, .Dv = Dv, .scale = scale, .cap = c->cap};
    row.zero_rows = c->zero_rows;
    f->ref = calloc((size_t)(B * H * S * Dv) + 1, sizeof(double));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < S; i++) {
                size_t row_at = (size_t)((b * H + h) * S + i);
                ts_attend_row(&row, q + row_at * D, k + (size_t)(b * Hkv + h / G) * T * D, D,
                              v + (size_t)(b * Hkv + h / G) * T * Dv, Dv,
                              f->mask + (b * S + i) * T, f->bias ? f->bias + row_at * T : NULL,
                              NULL, f->ref + row_at * Dv);
            }
    free(q), free(k), free(v);
}

static fdata make_data(const fcase *c, uint64_t seed)
{
    fdata f = {0};
    int B = c->B, S = c->S, T = c->T, Hkv = c->Hkv, D = c->D, Dv = c->Dv;
    if (c->G)
        f.q = ts_random(NA_F32,
                        NA_DIMS({"batch", B}, {"seq", S}, {"kv_heads", Hkv},
                                {"query_heads", c->G}, {"projection", D}),
                        seed);
    else
        f.q = ts_random(
            NA_F32, NA_DIMS({"batch", B}, {"seq", S}, {"heads", Hkv}, {"projection", D}),
            seed);
    const char *h = c->G ? "kv_heads" : "heads";
    f.k = ts_random(NA_F32,
                    NA_DIMS({"batch", B}, {"kv_seq", T}, {h, Hkv}, {"projection", D}),
                    seed + 1);
    f.v = ts_random(NA_F32,
                    NA_DIMS({"batch", B}, {"kv_seq", T}, {h, Hkv}, {"projection", Dv}),
                    seed + 2);
    /* bigger logits than [-1, 1) data gives: the softmax is not flat */
    na_array *q3 = NULL;
    NA_OK_OR_FAIL(na_binary_scalar(NA_MUL, f.q, 3.0, &q3));
    na_array_free(f.q);
    f.q = q3;
    f.in =
        na_value_tuple(3, (na_value *[]){na_value_from_array(laid_out(f.q, c->layout)),
                                         na_value_from_array(laid_out(f.k, c->layout)),
                                         na_value_from_array(laid_out(f.v, c->layout))});
    f.side = na_side_new();
    make_mask(c, &f, seed);
    make_bias(c, &f, seed + 3);
    reference(c, &f);
    return f;
}

static void free_data(fdata *f)
{
    TS_FREE(f->q, f->k, f->v);
    na_value_free(f->in);
    na_side_free(f->side);
    free(f->mask);
    free(f->ref);
    free(f->qp), free(f->kp), free(f->bias);
}

/* max |y - ref| over the largest |ref| (at least 1). */
static double rel_err(const fcase *c, const fdata *f, const na_array *y)
{
    int H = heads(c), G = c->G;
    const char *const *names = G ? y_gqa : y_mha;
    cr_assert_eq(y->ndim, G ? 5 : 4);
    double worst = 0, big = 1;
    for (int b = 0; b < c->B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < c->S; i++)
                for (int e = 0; e < c->Dv; e++) {
                    int64_t idx[5];
                    int k = 0;
                    idx[k++] = b;
                    if (G)
                        idx[k++] = h / G, idx[k++] = h % G;
                    else
                        idx[k++] = h;
                    idx[k++] = i, idx[k++] = e;
                    double r = f->ref[((b * H + h) * c->S + i) * c->Dv + e];
                    double d = fabs(ts_at(y, k, names, idx) - r);
                    worst = fmax(worst, isnan(d) ? INFINITY : d);
                    big = fmax(big, fabs(r));
                }
    return worst / big;
}

static na__fused_counts counts(void)
{
    na__fused_counts c;
    na__fused_get_counts(&c);
    return c;
}

/* Fused (kernels `kern`) and general path against the reference; the fused
 * call must have taken the path `want` (0 prefill, 1 decode). */
static void check_case(const fcase *c, int want, uint64_t seed)
{
    const char *kernels[3] = {"generic", "avx2", "avx512"};
    fdata f = make_data(c, seed);
    na_layer *m = core_model(c);
    for (int kk = 0; kk < 3; kk++) {
        if (!na__fused_force_kernels(kernels[kk]))
            continue; /* the CPU lacks them */
        na__fused_counts before = counts();
        na_value *y = NULL;
        NA_OK_OR_FAIL(na_layer_call(m, f.in, f.side, &y));
        na__fused_counts after = counts();
        na_fused_report r;
        NA_OK_OR_FAIL(na_fused_report_get(m, &r));
        cr_assert_eq(after.prefill - before.prefill, want == 0 ? 1u : 0u,
                     "%s: prefill path not taken as expected (S%d T%d Hkv%d G%d: %s)",
                     kernels[kk], c->S, c->T, c->Hkv, c->G, r.entries[0].last_reason);
        na_fused_report_free(&r);
        cr_assert_eq(after.decode - before.decode, want == 1 ? 1u : 0u,
                     "%s: decode path not taken as expected", kernels[kk]);
        double e = rel_err(c, &f, na_value_array(y, "test"));
        cr_assert(e < 1e-5,
                  "%s kernels: fused vs reference %g (B%d S%d T%d Hkv%d G%d D%d "
                  "Dv%d mask %d)",
                  kernels[kk], e, c->B, c->S, c->T, c->Hkv, c->G, c->D, c->Dv, c->mask);
        na_value_free(y);
    }
    na__fused_force_kernels(NULL);
    NA_OK_OR_FAIL(na_attention_set_fused(m, false));
    na__fused_counts before = counts();
    na_value *y = NULL;
    NA_OK_OR_FAIL(na_layer_call(m, f.in, f.side, &y));
    na__fused_counts after = counts();
    cr_assert(after.prefill == before.prefill && after.decode == before.decode);
    double e = rel_err(c, &f, na_value_array(y, "test"));
    cr_assert(e < 1e-5, "general path vs reference %g", e);
    na_value_free(y);
    na_layer_free(m);
    free_data(&f);
}

static void init(void)
{
    na_set_num_threads(2);
}

TestSuite(fused, .init = init);

/* ---- prefill: the tiled path ------------------------------------------------------- */

/* The cases: one packed initializer each, kept as written to the end of
 * the file. */
/* clang-format off */
Test(fused, plain_odd_sizes)
{
    /* 7 rows per head: the decode path; 33: tiled */
    check_case(
        &(fcase){.B = 2, .S = 7, .T = 33, .Hkv = 3, .D = 5, .Dv = 6, .dead_row = -1}, 1,
        1);
    check_case(
        &(fcase){.B = 1, .S = 33, .T = 7, .Hkv = 1, .D = 1, .Dv = 1, .dead_row = -1}, 0,
        2);
}

Test(fused, seq_130_causal_gqa_multithreaded)
{
    check_case(&(fcase){.B = 2, .S = 130, .T = 130, .Hkv = 2, .G = 3, .D = 16, .Dv = 16,
                        .mask = MASK_CAUSAL, .dead_row = -1},
               0, 3);
}

Test(fused, long_features_and_scale)
{
    /* D and Dv past one 64-wide chunk, not multiples of 16 */
    check_case(&(fcase){.B = 1, .S = 40, .T = 130, .Hkv = 2, .D = 70, .Dv = 83,
                        .scale = 0.3, .dead_row = -1},
               0, 4);
}

Test(fused, mqa_sliding_window)
{
    check_case(&(fcase){.B = 2, .S = 33, .T = 33, .Hkv = 1, .G = 4, .D = 8, .Dv = 8,
                        .mask = MASK_CAUSAL, .window = 5, .dead_row = -1},
               0, 5);
}

Test(fused, padding_by_negative_positions)
{
    /* queries are the last S of T positions; batch 1's first 9 keys are padding */
    check_case(&(fcase){.B = 2, .S = 33, .T = 130, .Hkv = 2, .D = 8, .Dv = 8,
                        .mask = MASK_CAUSAL, .positions = true, .pad = 9, .dead_row = -1},
               0, 6);
}

Test(fused, bool_mask_from_side_input)
{
    check_case(&(fcase){.B = 3, .S = 7, .T = 130, .Hkv = 2, .D = 8, .Dv = 5,
                        .mask = MASK_BOOL, .dead_row = -1},
               1, 7);
    check_case(&(fcase){.B = 3, .S = 17, .T = 130, .Hkv = 2, .D = 8, .Dv = 5,
                        .mask = MASK_BOOL, .dead_row = -1},
               0, 7);
    check_case(&(fcase){.B = 2, .S = 33, .T = 70, .Hkv = 2, .G = 2, .D = 8, .Dv = 8,
                        .mask = MASK_BOOL_KV, .dead_row = -1},
               0, 8);
}

Test(fused, fully_masked_row_uniform_and_zero)
{
    for (int z = 0; z < 2; z++)
        check_case(&(fcase){.B = 2, .S = 33, .T = 70, .Hkv = 2, .D = 8, .Dv = 8,
                            .mask = MASK_BOOL, .dead_row = 5, .zero_rows = z},
                   0, 9);
}

Test(fused, strided_and_permuted_inputs)
{
    check_case(&(fcase){.B = 2, .S = 33, .T = 70, .Hkv = 2, .G = 2, .D = 8, .Dv = 8,
                        .mask = MASK_CAUSAL, .window = 9, .layout = LAYOUT_STRIDED,
                        .dead_row = -1},
               0, 10);
    check_case(&(fcase){.B = 2, .S = 33, .T = 70, .Hkv = 2, .D = 8, .Dv = 8,
                        .mask = MASK_BOOL, .dead_row = 3, .layout = LAYOUT_PERMUTED},
               0, 11);
}

/* Every head dimension and group size the kernels special-case, each with
 * a different mask: several tiles of keys with a tail, blocks of rows with
 * a tail, every kernel set (check_case). */
Test(fused, head_dims_groups_and_masks)
{
    const int dims[] = {32, 64, 80, 128, 256}, groups[] = {1, 2, 4, 8};
    int n = 0;
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 4; b++, n++) {
            fcase c = {.B = dims[a] > 64 ? 1 : 2, .S = 37, .T = 150, .Hkv = 2,
                       .G = groups[b], .D = dims[a], .Dv = dims[a], .dead_row = -1};
            switch (n % 6) {
            case 1: /* causal, default positions: top-left aligned */
                c.mask = MASK_CAUSAL;
                break;
            case 2: /* causal from positions, padding in batch 1 */
                c.mask = MASK_CAUSAL, c.positions = true, c.pad = 21;
                break;
            case 3: /* sliding window from positions */
                c.mask = MASK_CAUSAL, c.positions = true, c.window = 70;
                break;
            case 4:
                c.mask = MASK_BOOL;
                break;
            case 5:
                c.mask = MASK_BOOL_KV;
                break;
            }
            check_case(&c, 0, 100 + (uint64_t)n);
        }
}

/* Blocks and tiles of other sizes than the automatic ones (tails of every
 * length, a tile of fewer keys than a vector). */
Test(fused, forced_block_and_tile_sizes)
{
    const int sizes[][2] = {{16, 7}, {48, 20}, {32, 64}, {64, 1}};
    for (int i = 0; i < 4; i++) {
        na__fused_set_tiles(sizes[i][0], sizes[i][1]);
        check_case(&(fcase){.B = 2, .S = 45, .T = 77, .Hkv = 1, .G = 3, .D = 24,
                            .Dv = 19, .mask = MASK_CAUSAL, .positions = true,
                                .window = 30, .pad = 5, .dead_row = -1},
                   0, 200 + (uint64_t)i);
        check_case(&(fcase){.B = 2, .S = 33, .T = 70, .Hkv = 2, .D = 8, .Dv = 8,
                            .mask = MASK_BOOL, .dead_row = 5},
                   0, 210 + (uint64_t)i);
    }
    na__fused_set_tiles(0, 0);
}

/* The extra storage of one call: peak bytes during it over what was live. */
static size_t call_extra_bytes(na_layer *m, const na_value *in, const na_side *side)
{
    na_value *y = NULL;
    NA_OK_OR_FAIL(na_layer_call(m, in, side, &y)); /* warm: allocator caches filled */
    na_value_free(y);
    na_mem_stats before, after;
    na_get_mem_stats(&before);
    na_mem_reset_peak();
    NA_OK_OR_FAIL(na_layer_call(m, in, side, &y));
    na_get_mem_stats(&after);
    na_value_free(y);
    return after.peak_bytes - before.live_bytes;
}

/* The fused path allocates O(seq * features), never O(seq * kv_seq): a
 * causal (and sliding-window) mask is read from positions, not built as a
 * bool {seq, kv_seq} array. The general path, for contrast, holds the
 * f32 logits. */
Test(fused, no_seq_by_kv_seq_allocation)
{
    enum { S = 1024, D = 16 };
    na_array *q = ts_random(NA_F32, NA_DIMS({"seq", S}, {"heads", 1}, {"projection",
                                             D}), 1),
             *k = ts_random(NA_F32, NA_DIMS({"kv_seq", S}, {"heads", 1}, {"projection",
                                             D}),
                            2),
             *v = ts_random(NA_F32, NA_DIMS({"kv_seq", S}, {"heads", 1}, {"projection",
                                             D}),
                            3);
    na_value *in =
        na_value_tuple(3, (na_value *[]){na_value_ref_array(q), na_value_ref_array(k),
                                         na_value_ref_array(v)});
    na_side *side = na_side_new();
    for (int variant = 0; variant < 3; variant++) {
        fcase c = {.mask = MASK_CAUSAL, .window = variant == 1 ? 100 : 0};
        if (variant == 2) { /* positions from the side inputs */
            na_array *qp = NULL, *kp = NULL;
            NA_OK_OR_FAIL(na_arange("seq", S, NA_I32, &qp));
            NA_OK_OR_FAIL(na_arange("kv_seq", S, NA_I32, &kp));
            NA_OK_OR_FAIL(na_side_set_array(side, NA_QUERY_POSITIONS_KEY, qp));
            NA_OK_OR_FAIL(na_side_set_array(side, NA_KV_POSITIONS_KEY, kp));
            TS_FREE(qp, kp);
        }
        na_layer *m = core_model(&c);
        na__fused_counts before = counts();
        size_t fused = call_extra_bytes(m, in, side);
        cr_assert_eq(counts().prefill, before.prefill + 2, "the fused path did not run");
        /* each thread holds its group's keys and values packed: 2 S D floats */
        cr_assert(fused < (size_t)S * S / 2,
                  "variant %d: the fused call needed %zu bytes beyond its inputs "
                  "(a {seq, kv_seq} bool mask alone is %d)",
                  variant, fused, S * S);
        NA_OK_OR_FAIL(na_attention_set_fused(m, false));
        size_t general = call_extra_bytes(m, in, side);
        cr_assert(general >= (size_t)S * S * sizeof(float), "general path: %zu", general);
        na_layer_free(m);
    }
    na_side_free(side);
    na_value_free(in);
    TS_FREE(q, k, v);
}

/* A finite masked-out value (here -ln 2) weighs the masked keys in: the
 * fused call must give what the general path gives. */
Test(fused, finite_masked_out_value)
{
    fcase c = {.B = 2, .S = 33, .T = 70, .Hkv = 2, .D = 8, .Dv = 8, .mask = MASK_BOOL,
               .dead_row = 4};
    fdata f = make_data(&c, 60);
    for (int causal = 0; causal < 2; causal++) {
        na_dot_product_options o = {.mask_tag = "attn_mask",
                                    .causal = causal,
                                    .masked_out_value = -0.6931471805599453};
        na_layer *sel[3] = {0}, *qk = NULL, *comb = NULL, *av = NULL, *m = NULL;
        for (int i = 0; i < 3; i++)
            NA_OK_OR_FAIL(na_select_attention_input_new(i, NULL, NULL, &sel[i]));
        NA_OK_OR_FAIL(na_dot_product_attn_new(&o, &qk));
        NA_OK_OR_FAIL(na_attention_combine_new("kv_seq", &comb));
        NA_OK_OR_FAIL(na_sequential_new(1, &comb, &av));
        NA_OK_OR_FAIL(na_attention_new(sel[0], sel[1], sel[2], qk, av, &m));
        na_value *y1 = NULL, *y2 = NULL;
        NA_OK_OR_FAIL(na_layer_call(m, f.in, f.side, &y1));
        NA_OK_OR_FAIL(na_attention_set_fused(m, false));
        NA_OK_OR_FAIL(na_layer_call(m, f.in, f.side, &y2));
        double d = ts_max_abs_diff(na_value_array(y1, "t"), na_value_array(y2, "t"));
        cr_assert(d < 1e-5, "causal %d: fused vs general %g", causal, d);
        /* and the value mattered: -inf masking gives something else */
        double r = rel_err(&c, &f, na_value_array(y2, "t"));
        cr_assert(causal || r > 1e-3, "the finite value changed nothing (%g)", r);
        na_value_free(y1), na_value_free(y2);
        na_layer_free(m);
    }
    free_data(&f);
}

/* ---- decode: a few rows per key/value head ----------------------------------------- */

Test(fused, decode_one_row)
{
    check_case(&(fcase){.B = 2, .S = 1, .T = 130, .Hkv = 3, .D = 16, .Dv = 16,
                        .mask = MASK_CAUSAL, .positions = true, .pad = 4, .dead_row = -1},
               1, 12);
    check_case(
        &(fcase){.B = 1, .S = 1, .T = 1, .Hkv = 1, .D = 3, .Dv = 2, .dead_row = -1}, 1,
        13);
}

Test(fused, decode_gqa_and_mqa_rows)
{
    /* 4 and 8 rows per kv head: decode path; 9 rows: tiled path */
    check_case(&(fcase){.B = 2, .S = 1, .T = 130, .Hkv = 2, .G = 4, .D = 16, .Dv = 24,
                        .mask = MASK_CAUSAL, .positions = true, .window = 50,
                        .dead_row = -1},
               1, 14);
    check_case(&(fcase){.B = 1, .S = 2, .T = 33, .Hkv = 1, .G = 4, .D = 8, .Dv = 8,
                        .mask = MASK_BOOL, .dead_row = 1, .zero_rows = true},
               1, 15);
    check_case(&(fcase){.B = 1, .S = 3, .T = 33, .Hkv = 1, .G = 3, .D = 8, .Dv = 8,
                        .mask = MASK_BOOL, .dead_row = 1},
               0, 16);
}

Test(fused, decode_keys_split_over_threads)
{
    /* one kv head, two threads: the keys are split in chunks and merged;
     * strided features are packed */
    check_case(&(fcase){.B = 1, .S = 1, .T = 1500, .Hkv = 1, .G = 4, .D = 64, .Dv = 64,
                        .mask = MASK_CAUSAL, .positions = true, .window = 1200,
                        .dead_row = -1},
               1, 17);
    check_case(&(fcase){.B = 1, .S = 1, .T = 1500, .Hkv = 1, .G = 2, .D = 64, .Dv = 48,
                        .mask = MASK_BOOL, .dead_row = 0, .layout = LAYOUT_PERMUTED},
               1, 18);
}

/* ---- a KV cache: prefill, then steps of one ---------------------------------------- */

static na_layer *cached_mha(int heads, int kv_heads, bool fused, double cap)
{
    na_mha_options o = {.num_heads = heads,
                        .num_kv_heads = kv_heads,
                        .in_features = 32,
                        .causal = true,
                        .logit_soft_cap = cap,
                        .seed = 5};
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_mha_new(&o, &m));
    NA_OK_OR_FAIL(na_attention_set_fused(m, fused));
    na_kv_cache_options k = {.capacity = 300};
    int n = 0;
    NA_OK_OR_FAIL(na_attention_to_kv_cache(&m, &k, &n));
    cr_assert_eq(n, 1);
    return m;
}

static void kv_steps_capped(int heads, int kv_heads, double cap)
{
    na_layer *fast = cached_mha(heads, kv_heads, true, cap),
             *slow = cached_mha(heads, kv_heads, false, cap);
    na_array *x =
        ts_random(NA_F32, NA_DIMS({"batch", 2}, {"seq", 140}, {"embedding", 32}), 3);
    for (int64_t t = 0; t < 140;) {
        int64_t n = t == 0 ? 131 : 1;
        na_array *xs = NULL, *e = NULL, *y1 = NULL, *y2 = NULL;
        na_index r = NA_RANGE("seq", t, t + n, 1);
        NA_OK_OR_FAIL(na_index_by(x, 1, &r, &xs));
        na_side *side = na_side_new();
        NA_OK_OR_FAIL(na_scalar(NA_I32, (double)t, &e));
        NA_OK_OR_FAIL(na_side_set_array(side, "cache_end_index", e));
        na__fused_counts before = counts();
        NA_OK_OR_FAIL(na_layer_call_array(fast, xs, side, &y1));
        na__fused_counts after = counts();
        /* the prefill has 131 rows per kv head; a step has heads / kv_heads */
        cr_assert_eq(after.prefill - before.prefill, n > 1 ? 1u : 0u);
        cr_assert_eq(after.decode - before.decode, n > 1 ? 0u : 1u);
        NA_OK_OR_FAIL(na_layer_call_array(slow, xs, side, &y2));
        double d = ts_max_abs_diff(y1, y2);
        cr_assert(d < 1e-5, "step %lld: fused vs general %g", (long long)t, d);
        TS_FREE(xs, e, y1, y2);
        na_side_free(side);
        t += n;
    }
    na_array_free(x);
    na_layer_free(fast);
    na_layer_free(slow);
}

static void kv_steps(int heads, int kv_heads)
{
    kv_steps_capped(heads, kv_heads, 0);
}

Test(fused, kv_cache_decode_mha)
{
    kv_steps(4, 0);
}
Test(fused, kv_cache_decode_gqa)
{
    kv_steps(4, 2);
}
Test(fused, kv_cache_decode_soft_cap)
{
    kv_steps_capped(4, 2, 0.7);
    kv_steps_capped(2, 0, 2.0);
}

/* ---- the logit soft-cap (Gemma 2: scale, cap, mask) -------------------------------- */

/* Every mask kind, prefill and decode, MHA / GQA / MQA, odd sizes, strided
 * and permuted inputs: a cap small enough that tanh bends the logits. */
Test(fused, soft_cap_every_mask_kind)
{
    for (int mask = MASK_NONE; mask <= MASK_BOOL_KV; mask++)
        for (int layout = LAYOUT_PLAIN; layout <= LAYOUT_PERMUTED; layout++) {
            uint64_t seed = (uint64_t)(40 + 3 * mask + layout);
            fcase pre = {.B = 2, .S = 37, .T = 45, .Hkv = 2, .D = 13, .Dv = 11, .pad = 5};
            pre.mask = mask, pre.layout = layout, pre.cap = 1.3;
            pre.G = layout == 1 ? 3 : 0;
            pre.dead_row = mask == MASK_BOOL ? 4 : -1;
            pre.window = mask == MASK_CAUSAL && layout ? 7 : 0;
            pre.positions = mask == MASK_CAUSAL && layout == 2;
            check_case(&pre, 0, seed);
            fcase dec = pre;
            dec.S = 3, dec.T = 53, dec.dead_row = mask == MASK_BOOL ? 1 : -1;
            dec.G = layout == 2 ? 0 : 2;
            check_case(&dec, 1, seed + 100);
        }
}

Test(fused, soft_cap_large_cap_and_zero_rows)
{
    /* a cap far above the logits is the identity; zero-row policy with caps */
    check_case(&(fcase){.B = 1, .S = 70, .T = 70, .Hkv = 3, .D = 64, .Dv = 64,
                        .mask = MASK_CAUSAL, .cap = 50.0, .dead_row = -1},
               0, 60);
    check_case(&(fcase){.B = 2, .S = 33, .T = 70, .Hkv = 2, .D = 8, .Dv = 8,
                        .mask = MASK_BOOL, .dead_row = 5, .zero_rows = true, .cap = 0.5},
               0, 61);
}

/* ---- the report -------------------------------------------------------------------- */

static na_status make_cap(na_layer *target, const char *path, void *ctx, na_layer **out)
{
    (void)target, (void)path, (void)ctx;
    return na_tanh_soft_cap_new(2.0, out);
}

static const na_fused_entry *only_entry(const na_fused_report *r)
{
    cr_assert_eq(r->count, 1);
    return &r->entries[0];
}

/* ---- biases (Flax: scale, [cap], + bias, mask, softmax) ---------------------------- */

/* Every bias layout with every mask kind, MHA and GQA, prefill and decode,
 * odd sizes, strided and permuted inputs, each kernel set (check_case). */
Test(fused, bias_every_broadcast_and_mask_kind)
{
    for (int bias = BIAS_FULL; bias <= BIAS_F64; bias++)
        for (int mask = MASK_NONE; mask <= MASK_BOOL_KV; mask++) {
            uint64_t seed = (uint64_t)(200 + 5 * bias + mask);
            int layout = (bias + mask) % 3;
            fcase pre = {.B = 2, .S = 37, .T = 45, .Hkv = 2, .G = mask % 2 ? 3 : 0,
                         .D = 13, .Dv = 11, .mask = mask, .layout = layout, .bias = bias,
                         .dead_row = mask == MASK_BOOL ? 4 : -1,
                         .window = mask == MASK_CAUSAL && bias % 2 ? 7 : 0,
                         .positions = mask == MASK_CAUSAL && bias > BIAS_HEADS, .pad = 5};
            check_case(&pre, 0, seed);
            fcase dec = pre;
            dec.S = 3, dec.T = 53, dec.dead_row = mask == MASK_BOOL ? 1 : -1;
            dec.G = mask % 2 ? 0 : 2;
            check_case(&dec, 1, seed + 100);
        }
}

/* ALiBi computed in the kernels: MHA, GQA and MQA (slopes over kv_heads x
 * query_heads), causal, sliding window, left padding by positions, with
 * and without a bias array and a soft-cap, prefill and decode. */
Test(fused, alibi_mha_gqa_mqa_masks_and_padding)
{
    const int hkv[3] = {6, 2, 1}, g[3] = {0, 3, 6};
    for (int kind = 0; kind < 3; kind++)
        for (int v = 0; v < 4; v++) {
            uint64_t seed = (uint64_t)(300 + 10 * kind + v);
            fcase pre = {.B = 2, .S = 41, .T = v >= 2 ? 77 : 41, .Hkv = hkv[kind],
                         .G = g[kind], .D = 9, .Dv = 10, .mask = MASK_CAUSAL,
                         .alibi = true, .window = v == 1 ? 6 : 0, .positions = v >= 2,
                         .pad = v == 3 ? 11 : 0, .bias = v == 2 ? BIAS_FULL : BIAS_NONE,
                         .cap = v == 3 ? 1.5 : 0, .layout = v % 3, .dead_row = -1};
            check_case(&pre, 0, seed);
            fcase dec = pre;
            dec.S = kind == 1 ? 2 : 1, dec.T = 60, dec.positions = true; /* rows <= 8 */
            check_case(&dec, 1, seed + 100);
        }
    /* no mask at all: ALiBi alone, and the zero-row policy */
    check_case(&(fcase){.B = 1, .S = 20, .T = 31, .Hkv = 5, .D = 7, .Dv = 7,
                        .alibi = true, .dead_row = -1}, 0, 330);
    check_case(&(fcase){.B = 2, .S = 33, .T = 70, .Hkv = 2, .G = 2, .D = 8, .Dv = 8,
                        .mask = MASK_BOOL, .dead_row = 5, .zero_rows = true,
                        .alibi = true, .bias = BIAS_KV}, 0, 331);
}

/* Head dimensions 32..256 (each tile size), forced small tiles so the
 * last tile and the last block of rows are partial. */
Test(fused, bias_and_alibi_head_dims)
{
    const int dims[4] = {32, 64, 128, 256};
    for (int i = 0; i < 4; i++) {
        fcase c = {.B = 1, .S = 35, .T = 51, .Hkv = 2, .G = 2, .D = dims[i],
                   .Dv = dims[i], .mask = MASK_CAUSAL, .alibi = true,
                   .bias = i % 2 ? BIAS_HEADS : BIAS_FULL, .dead_row = -1};
        check_case(&c, 0, 340 + (uint64_t)i);
        na__fused_set_tiles(16, 7);
        check_case(&c, 0, 350 + (uint64_t)i);
        na__fused_set_tiles(0, 0);
        c.S = 1;
        check_case(&c, 1, 360 + (uint64_t)i);
    }
}

/* The fused path with a bias runs the kernels (the report says so) and a
 * bias placed after a mask is refused with the reason. */
Test(fused, report_fused_with_bias_layers)
{
    fcase c = {.B = 1, .S = 20, .T = 20, .Hkv = 2, .D = 8, .Dv = 8, .mask = MASK_CAUSAL,
               .bias = BIAS_HEADS, .alibi = true, .cap = 3.0, .dead_row = -1};
    fdata f = make_data(&c, 80);
    na_layer *m = core_model(&c);
    na_fused_report r;
    NA_OK_OR_FAIL(na_fused_report_get(m, &r));
    cr_assert(only_entry(&r)->fused, "bias layers must qualify: %s",
              only_entry(&r)->reason);
    na_fused_report_free(&r);
    na__fused_counts before = counts();
    na_value *y = NULL;
    NA_OK_OR_FAIL(na_layer_call(m, f.in, f.side, &y));
    cr_assert_eq(counts().prefill - before.prefill, 1u);
    cr_assert(rel_err(&c, &f, na_value_array(y, "t")) < 1e-5);
    na_value_free(y);
    NA_OK_OR_FAIL(na_fused_report_get(m, &r));
    cr_assert_eq(only_entry(&r)->last_call, NA_FUSED_LAST_FUSED);
    na_fused_report_free(&r);
    /* the bias moved after the causal mask: refused, and the reason given */
    na_layer *qk = na_tree_get(m, "query_key_to_attn"), *bias = NULL;
    NA_OK_OR_FAIL(na_sequential_remove(qk, 2, &bias));
    NA_OK_OR_FAIL(na_sequential_insert(qk, na_layer_child_count(qk) - 1, bias));
    NA_OK_OR_FAIL(na_fused_report_get(m, &r));
    cr_assert_not(only_entry(&r)->fused);
    cr_assert(strstr(only_entry(&r)->reason,
                     "query_key_to_attn child 4: an ApplyAttentionBias after a mask"),
              "%s", only_entry(&r)->reason);
    na_fused_report_free(&r);
    na_layer_free(m);
    free_data(&f);
}

/* A bias the fused path cannot evaluate fails as the general path does. */
Test(fused, bad_bias_fails_like_the_general_path)
{
    fcase c = {.B = 1, .S = 20, .T = 20, .Hkv = 2, .D = 8, .Dv = 8, .bias = BIAS_KV,
               .dead_row = -1};
    fdata f = make_data(&c, 81);
    na_layer *m = core_model(&c);
    na_array *bad = ts_random(NA_F32, NA_DIMS({"kv_seq", 19}), 1);
    NA_OK_OR_FAIL(na_side_set_array(f.side, "rel_bias", bad));
    na_value *y = NULL;
    NA_EXPECT_FAIL(na_layer_call(m, f.in, f.side, &y), NA_ERR_SHAPE, "ApplyAttentionBias",
                   "rel_bias");
    na_array_free(bad);
    na_layer_free(m);
    free_data(&f);
}

Test(fused, report_says_fused_and_why_not)
{
    fcase c = {.B = 1, .S = 20, .T = 20, .Hkv = 2, .D = 8, .Dv = 8, .mask = MASK_CAUSAL,
               .cap = 2.0, .dead_row = -1};
    fdata f = make_data(&c, 70);
    na_layer *m = core_model(&c);
    na_fused_report r;
    NA_OK_OR_FAIL(na_fused_report_get(m, &r));
    const na_fused_entry *e = only_entry(&r);
    cr_assert(e->fused, "soft-capped causal attention must qualify: %s", e->reason);
    cr_assert_str_eq(e->path, "");
    cr_assert_str_eq(e->type, "Attention");
    cr_assert_eq(e->last_call, NA_FUSED_LAST_NONE);
    na_fused_report_free(&r);
    na_value *y = NULL;
    NA_OK_OR_FAIL(na_layer_call(m, f.in, f.side, &y));
    na_value_free(y);
    NA_OK_OR_FAIL(na_fused_report_get(m, &r));
    cr_assert_eq(only_entry(&r)->last_call, NA_FUSED_LAST_FUSED);
    cr_assert_str_eq(only_entry(&r)->last_reason, "");
    na_fused_report_free(&r);
    /* a soft-cap placed after the mask: the kernels cannot, and say so */
    na_layer *qk = na_tree_get(m, "query_key_to_attn");
    na_selection *sel = NULL;
    NA_OK_OR_FAIL(na_select_type_name(&qk, "ApplyCausalMask", &sel));
    cr_assert_eq(na_selection_count(sel), 1);
    NA_OK_OR_FAIL(na_selection_insert_after(sel, make_cap, NULL));
    na_selection_free(sel);
    NA_OK_OR_FAIL(na_layer_call(m, f.in, f.side, &y));
    na_value_free(y);
    NA_OK_OR_FAIL(na_fused_report_get(m, &r));
    e = only_entry(&r);
    cr_assert_not(e->fused);
    cr_assert(strstr(e->reason, "query_key_to_attn child 3: a TanhSoftCap after a bias, a mask"),
              "%s", e->reason);
    cr_assert_eq(e->last_call, NA_FUSED_LAST_GENERAL);
    cr_assert_str_eq(e->last_reason, e->reason);
    na_fused_report_free(&r);
    /* per call: f64 arrays qualify by tree but not by dtype */
    NA_OK_OR_FAIL(na_attention_set_fused(m, false));
    NA_OK_OR_FAIL(na_fused_report_get(m, &r));
    cr_assert_str_eq(only_entry(&r)->reason, "turned off (na_attention_set_fused)");
    na_fused_report_free(&r);
    NA_EXPECT_FAIL(na_fused_report_get(NULL, &r), NA_ERR_ARGUMENT,
                   "na_fused_report_get: model is NULL");
    na_layer_free(m);
    free_data(&f);
}

Test(fused, report_names_call_time_reasons)
{
    fcase c = {.B = 1, .S = 20, .T = 20, .Hkv = 2, .D = 8, .Dv = 8, .dead_row = -1};
    fdata f = make_data(&c, 71);
    na_layer *m = core_model(&c);
    na_value *in64 = NULL, *y = NULL;
    na_value *items[3];
    for (int i = 0; i < 3; i++) {
        na_array *a = NULL;
        NA_OK_OR_FAIL(
            na_astype(na_value_array(na_value_item(f.in, i, "t"), "t"), NA_F64, &a));
        items[i] = na_value_from_array(a);
    }
    in64 = na_value_tuple(3, items);
    NA_OK_OR_FAIL(na_layer_call(m, in64, f.side, &y));
    na_fused_report r;
    NA_OK_OR_FAIL(na_fused_report_get(m, &r));
    const na_fused_entry *e = only_entry(&r);
    cr_assert(e->fused);
    cr_assert_eq(e->last_call, NA_FUSED_LAST_GENERAL);
    cr_assert(strstr(e->last_reason, "not f32"), "%s", e->last_reason);
    na_fused_report_free(&r);
    na_value_free(y);
    na_value_free(in64);
    na_layer_free(m);
    free_data(&f);
}

/* ---- when the fused path must not run ---------------------------------------------- */

static const fcase small = {.B = 2, .S = 9, .T = 11, .Hkv = 2, .D = 4, .Dv = 4,
                            .mask = MASK_CAUSAL, .dead_row = -1};

/* Call m and check it took the general path and matches the reference. */
static na_value *general_call(na_layer *m, const fdata *f)
{
    na__fused_counts before = counts();
    na_value *y = NULL;
    NA_OK_OR_FAIL(na_layer_call(m, f->in, f->side, &y));
    na__fused_counts after = counts();
    cr_assert(after.prefill == before.prefill && after.decode == before.decode,
              "the fused path ran");
    const na_array *a =
        na_value_array(y->kind == NA_VALUE_TUPLE ? y->items[0] : y, "test");
    cr_assert(rel_err(&small, f, a) < 1e-5);
    return y;
}

Test(fused, capture_takes_the_general_path)
{
    fdata f = make_data(&small, 40);
    na_layer *m = core_model(&small);
    na_capture *cap = NULL;
    NA_OK_OR_FAIL(na_capture_new(&cap));
    NA_OK_OR_FAIL(na_capture_add(cap, na_layer_child(m, 3), "weights"));
    na_capture_begin(cap);
    na_value *y = general_call(m, &f);
    na_capture_end(cap);
    const na_value *w = na_capture_find(cap, "weights", 0);
    cr_assert(w && w->kind == NA_VALUE_ARRAY);
    cr_assert_eq(na_axis_size(w->array, "kv_seq"), small.T);
    na_value_free(y);
    /* capture over: fused again */
    na__fused_counts before = counts();
    NA_OK_OR_FAIL(na_layer_call(m, f.in, f.side, &y));
    cr_assert_eq(counts().prefill, before.prefill + 1);
    na_value_free(y);
    na_capture_free(cap);
    na_layer_free(m);
    free_data(&f);
}

Test(fused, keep_and_return_weights_take_the_general_path)
{
    fdata f = make_data(&small, 41);
    na_layer *m = core_model(&small);
    NA_OK_OR_FAIL(na_attention_set_keep_weights(m, true));
    na_value *y = general_call(m, &f);
    cr_assert_not_null(na_attention_weights(m));
    na_value_free(y);
    NA_OK_OR_FAIL(na_attention_set_keep_weights(m, false));
    NA_OK_OR_FAIL(na_attention_set_return_weights(m, true));
    y = general_call(m, &f);
    cr_assert(y->kind == NA_VALUE_TUPLE && y->count == 2);
    na_value_free(y);
    na_layer_free(m);
    free_data(&f);
}

/* A softmax written outside the library: the tree is no longer standard. */
static na_status my_softmax_call(na_layer *self, const na_value *in, const na_side *side,
                                 na_value **out)
{
    (void)self, (void)side;
    const na_array *x = na_value_array(in, "MySoftmax");
    na_array *y = NULL;
    if (!x)
        return na_last_status();
    na_status st = na_softmax(x, NA_NAMES("kv_seq"), &y);
    if (st == NA_OK)
        *out = na_value_from_array(y);
    return st;
}

static const na_layer_type my_softmax_type = {
    .name = "MySoftmax", .call = my_softmax_call, .size = sizeof(na_layer)};

Test(fused, custom_sublayer_disables_fusion)
{
    fdata f = make_data(&small, 42);
    na_layer *m = core_model(&small);
    na_layer *qk = na_layer_child(m, 3);
    int n = na_layer_child_count(qk);
    cr_assert_str_eq(na_layer_type_name(na_layer_child(qk, n - 1)), "Softmax");
    na_layer *mine = NULL;
    NA_OK_OR_FAIL(na_layer_alloc(&my_softmax_type, &mine));
    NA_OK_OR_FAIL(na_sequential_remove(qk, n - 1, NULL));
    NA_OK_OR_FAIL(na_sequential_append(qk, mine));
    na_value *y = general_call(m, &f);
    na_value_free(y);
    na_layer_free(m);
    free_data(&f);
}

Test(fused, kernels_can_be_forced)
{
    cr_assert(na__fused_force_kernels("generic"));
    cr_assert_str_eq(na__fused_kernels(), "generic");
    cr_assert_not(na__fused_force_kernels("sse9"));
    bool avx2 = na__cpu_avx2_fma();
    bool avx512 = na__cpu_avx512() && na__cpu_get()->fma;
    cr_assert_eq(na__fused_force_kernels("avx2"), avx2);
    cr_assert_eq(na__fused_force_kernels("avx512"), avx512);
    cr_assert(na__fused_force_kernels(NULL));
    cr_assert_str_eq(na__fused_kernels(), avx512 ? "avx512" : avx2 ? "avx2" : "generic");
}

/* ---- edges and errors -------------------------------------------------------------- */

/* Zero queries or zero keys: the fused and the general path agree (the
 * fused path declines an empty key axis and runs nothing for no queries). */
static void empty_case(int S, int T)
{
    fcase c = {.B = 2, .S = S, .T = T, .Hkv = 2, .D = 4, .Dv = 3, .dead_row = -1};
    na_array *q = ts_random(
        NA_F32, NA_DIMS({"batch", 2}, {"seq", S}, {"heads", 2}, {"projection", 4}), 1);
    na_array *k = ts_random(
        NA_F32, NA_DIMS({"batch", 2}, {"kv_seq", T}, {"heads", 2}, {"projection", 4}), 2);
    na_array *v = ts_random(
        NA_F32, NA_DIMS({"batch", 2}, {"kv_seq", T}, {"heads", 2}, {"projection", 3}), 3);
    na_value *in =
        na_value_tuple(3, (na_value *[]){na_value_ref_array(q), na_value_ref_array(k),
                                         na_value_ref_array(v)});
    na_layer *m = core_model(&c);
    na_value *y1 = NULL, *y2 = NULL;
    NA_OK_OR_FAIL(na_layer_call(m, in, NULL, &y1));
    NA_OK_OR_FAIL(na_attention_set_fused(m, false));
    NA_OK_OR_FAIL(na_layer_call(m, in, NULL, &y2));
    cr_assert_eq(na_axis_size(y1->array, "seq"), S);
    cr_assert_eq(na_axis_size(y1->array, "projection"), 3);
    cr_assert_eq(ts_max_abs_diff(y1->array, y2->array), 0);
    na_value_free(y1), na_value_free(y2), na_value_free(in);
    TS_FREE(q, k, v);
    na_layer_free(m);
}

Test(fused, zero_queries)
{
    empty_case(0, 5);
}
Test(fused, zero_keys)
{
    empty_case(3, 0);
}

/* A bad mask: the fused path steps aside and the call fails exactly as the
 * general path does, naming the layer, the mask and the shapes. */
Test(fused, bad_mask_fails_like_the_general_path)
{
    fcase c = {.B = 2, .S = 9, .T = 11, .Hkv = 2, .D = 4, .Dv = 4, .mask = MASK_BOOL,
               .dead_row = -1};
    fdata f = make_data(&c, 50);
    na_layer *m = core_model(&c);
    na_array *wrong = ts_random(NA_BOOL, NA_DIMS({"batch", 2}, {"kv_seq", 12}), 1);
    NA_OK_OR_FAIL(na_side_set_array(f.side, "attn_mask", wrong));
    na_value *y = NULL;
    for (int fused = 1; fused >= 0; fused--) {
        NA_OK_OR_FAIL(na_attention_set_fused(m, fused));
        NA_EXPECT_FAIL(na_layer_call(m, f.in, f.side, &y), NA_ERR_SHAPE,
                       "ApplyAttentionMask", "kv_seq", "12");
        cr_assert_null(y);
    }
    na_side_remove(f.side, "attn_mask");
    NA_OK_OR_FAIL(na_attention_set_fused(m, true));
    NA_EXPECT_FAIL(na_layer_call(m, f.in, f.side, &y), NA_ERR_NOT_FOUND, "attn_mask");
    na_array_free(wrong);
    na_layer_free(m);
    free_data(&f);
}

/* A finite masked-out value (here -ln 2) does not underflow to a zero
 * weight: masked keys keep a share. The fused kernels drop masked keys, so
 * the planner must leave such a model to the general path, and the result
 * must equal the general path's (forced by capturing the weights). */
Test(fused, finite_masked_out_value_matches_the_general_path)
{
    fcase c = small;
    c.mask = MASK_BOOL;
    c.dead_row = -1;
    fdata f = make_data(&c, 43);
    na_dot_product_options o = {.mask_tag = "attn_mask", .masked_out_value = -M_LN2};
    na_layer *sel[3] = {0}, *qk = NULL, *comb = NULL, *av = NULL, *m = NULL;
    for (int i = 0; i < 3; i++)
        NA_OK_OR_FAIL(na_select_attention_input_new(i, NULL, NULL, &sel[i]));
    NA_OK_OR_FAIL(na_dot_product_attn_new(&o, &qk));
    NA_OK_OR_FAIL(na_attention_combine_new("kv_seq", &comb));
    NA_OK_OR_FAIL(na_sequential_new(1, &comb, &av));
    NA_OK_OR_FAIL(na_attention_new(sel[0], sel[1], sel[2], qk, av, &m));
    na_value *y1 = NULL, *y2 = NULL;
    NA_OK_OR_FAIL(na_layer_call(m, f.in, f.side, &y1));
    na_capture *cap = NULL;
    NA_OK_OR_FAIL(na_capture_new(&cap));
    NA_OK_OR_FAIL(na_capture_add(cap, na_layer_child(m, 3), "weights"));
    na_capture_begin(cap);
    NA_OK_OR_FAIL(na_layer_call(m, f.in, f.side, &y2));
    na_capture_end(cap);
    const na_array *a1 = na_value_array(y1, "test"), *a2 = na_value_array(y2, "test");
    cr_assert_not_null(a1);
    cr_assert_not_null(a2);
    double d = ts_max_abs_diff(a1, a2);
    cr_assert(d < 1e-6, "planned call and general path differ by %g", d);
    /* and the masked keys really count: the default value gives another result */
    cr_assert(rel_err(&c, &f, a2) > 1e-3, "-ln 2 acted like the default mask value");
    na_value_free(y1);
    na_value_free(y2);
    na_capture_free(cap);
    na_layer_free(m);
    free_data(&f);
}
/* clang-format on */
