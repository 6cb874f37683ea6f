/* The functional attention API (namedarr/attention_fn.h) against a plain
 * loop that follows Flax's dot_product_attention_weights step by step:
 * scale the query, logits, add the bias, mask with finfo(f32).min, softmax
 * over the keys, dropout. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <namedarr/attention_fn.h>

#include "../src/attention/fused_internal.h"
#include "support.h"

enum { B = 2, S = 3, T = 5, H = 2, D = 4 };

/* Row-major test data: q[b][s][h][d], k/v[b][t][h][d], bias[h][s][t],
 * mask[b][s][t]. */
typedef struct data {
    float q[B][S][H][D], k[B][T][H][D], v[B][T][H][D];
    float bias[H][S][T];
    bool mask[B][S][T];
} data;

static void fill(data *x, unsigned seed)
{
    srand(seed);
    float *all[] = {&x->q[0][0][0][0], &x->k[0][0][0][0], &x->v[0][0][0][0],
                    &x->bias[0][0][0]};
    size_t counts[] = {B * S * H * D, B * T * H * D, B * T * H * D, H * S * T};
    for (int a = 0; a < 4; a++)
        for (size_t i = 0; i < counts[a]; i++)
            all[a][i] = (float)((double)rand() / RAND_MAX * 2 - 1);
    for (int b = 0; b < B; b++)
        for (int s = 0; s < S; s++)
            for (int t = 0; t < T; t++)
                x->mask[b][s][t] = (rand() % 3) != 0;
    for (int t = 0; t < T; t++) /* a fully masked row: uniform weights */
        x->mask[1][2][t] = false;
}

/* w[b][h][s][t] by Flax's recipe (no dropout). */
static void reference_weights(const data *x, bool bias, bool mask, bool causal,
                              double scale, double w[B][H][S][T])
{
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int s = 0; s < S; s++) {
                double row[T], mx = -INFINITY, sum = 0;
                for (int t = 0; t < T; t++) {
                    double acc = 0;
                    for (int d = 0; d < D; d++)
                        acc += (double)(float)(x->q[b][s][h][d] * (float)scale) *
                               x->k[b][t][h][d];
                    if (bias)
                        acc += x->bias[h][s][t];
                    bool keep = (!mask || x->mask[b][s][t]) && (!causal || s >= t);
                    row[t] = keep ? acc : -FLT_MAX;
                    mx = fmax(mx, row[t]);
                }
                for (int t = 0; t < T; t++)
                    sum += row[t] = exp(row[t] - mx);
                for (int t = 0; t < T; t++)
                    w[b][h][s][t] = row[t] / sum;
            }
}

typedef struct arrays {
    na_array *q, *k, *v, *bias, *mask;
} arrays;

static arrays wrap(data *x)
{
    arrays a = {0};
    NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"batch", B}, {"seq", S}, {"heads", H},
                                               {"projection", D}), x->q, &a.q));
    NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"batch", B}, {"kv_seq", T}, {"heads", H},
                                               {"projection", D}), x->k, &a.k));
    NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"batch", B}, {"kv_seq", T}, {"heads", H},
                                               {"projection", D}), x->v, &a.v));
    NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"heads", H}, {"seq", S}, {"kv_seq", T}),
                               x->bias, &a.bias));
    NA_OK_OR_FAIL(na_from_data(NA_BOOL, NA_DIMS({"batch", B}, {"seq", S}, {"kv_seq", T}),
                               x->mask, &a.mask));
    return a;
}

static void free_arrays(arrays *a)
{
    TS_FREE(a->q, a->k, a->v, a->bias, a->mask);
}

static double w_at(const na_array *w, int b, int h, int s, int t)
{
    return ts_at(w, 4, NA_NAMES("batch", "heads", "seq", "kv_seq"),
                 (int64_t[]){b, h, s, t});
}

static void expect_weights(const na_array *w, double ref[B][H][S][T], double tol)
{
    ts_expect_shape(w, "f32[batch:2, heads:2, seq:3, kv_seq:5]");
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int s = 0; s < S; s++)
                for (int t = 0; t < T; t++)
                    cr_assert(fabs(w_at(w, b, h, s, t) - ref[b][h][s][t]) < tol,
                              "w[%d,%d,%d,%d] = %g, want %g", b, h, s, t,
                              w_at(w, b, h, s, t), ref[b][h][s][t]);
}

/* out[b][s][h][d] = sum_t w[b][h][s][t] v[b][t][h][d] */
static void expect_output(const na_array *y, const data *x, double w[B][H][S][T],
                          double tol)
{
    ts_expect_shape(y, "f32[batch:2, seq:3, heads:2, projection:4]");
    for (int b = 0; b < B; b++)
        for (int s = 0; s < S; s++)
            for (int h = 0; h < H; h++)
                for (int d = 0; d < D; d++) {
                    double want = 0;
                    for (int t = 0; t < T; t++)
                        want += w[b][h][s][t] * x->v[b][t][h][d];
                    double got = ts_at(y, 4, NA_NAMES("batch", "seq", "heads", "projection"),
                                       (int64_t[]){b, s, h, d});
                    cr_assert(fabs(got - want) < tol, "y[%d,%d,%d,%d] = %g, want %g", b, s,
                              h, d, got, want);
                }
}

Test(attention_fn, plain_weights_and_output)
{
    static data x;
    fill(&x, 1);
    arrays a = wrap(&x);
    static double ref[B][H][S][T];
    reference_weights(&x, false, false, false, 0.5, ref);
    na_array *w = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_dot_product_attention_weights(a.q, a.k, NULL, &w));
    expect_weights(w, ref, 1e-6);
    NA_OK_OR_FAIL(na_dot_product_attention(a.q, a.k, a.v, NULL, &y));
    expect_output(y, &x, ref, 1e-5);
    TS_FREE(w, y);
    free_arrays(&a);
}

Test(attention_fn, bias_mask_causal_and_scale)
{
    static data x;
    fill(&x, 2);
    arrays a = wrap(&x);
    static double ref[B][H][S][T];
    reference_weights(&x, true, true, true, 0.3, ref);
    na_dpa_options o = na_dpa_defaults();
    o.bias = a.bias, o.mask = a.mask, o.is_causal = true;
    o.custom_scale = true, o.scale = 0.3;
    na_array *w = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_dot_product_attention_weights(a.q, a.k, &o, &w));
    expect_weights(w, ref, 1e-6);
    /* the fully masked row is uniform (Flax: finfo.min, not -inf) */
    for (int t = 0; t < T; t++)
        cr_assert(fabs(w_at(w, 1, 0, 2, t) - 0.2) < 1e-7);
    NA_OK_OR_FAIL(na_dot_product_attention(a.q, a.k, a.v, &o, &y));
    expect_output(y, &x, ref, 1e-5);
    TS_FREE(w, y);
    /* a scale of 0 is honoured: uniform weights over the kept keys */
    o.scale = 0, o.bias = NULL, o.mask = NULL;
    NA_OK_OR_FAIL(na_dot_product_attention_weights(a.q, a.k, &o, &w));
    cr_assert(fabs(w_at(w, 0, 1, 2, 0) - 1.0 / 3) < 1e-7);
    cr_assert_eq(w_at(w, 0, 1, 1, 2), 0.0);
    TS_FREE(w);
    free_arrays(&a);
}

/* Dropout: every weight is 0 or w / (1 - rate); with Flax's default
 * broadcast the pattern is shared by every batch index and head; with
 * deterministic there is none. */
Test(attention_fn, dropout_broadcast_and_deterministic)
{
    static data x;
    fill(&x, 3);
    arrays a = wrap(&x);
    static double ref[B][H][S][T];
    reference_weights(&x, false, false, false, 0.5, ref);
    na_dpa_options o = {.dropout_rate = 0.5, .dropout_seed = 7};
    na_array *w = NULL;
    for (int mode = 0; mode < 2; mode++) {
        o.independent_dropout = mode == 1;
        NA_OK_OR_FAIL(na_dot_product_attention_weights(a.q, a.k, &o, &w));
        int dropped = 0, differs = 0;
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++)
                for (int s = 0; s < S; s++)
                    for (int t = 0; t < T; t++) {
                        double got = w_at(w, b, h, s, t);
                        bool zero = got == 0;
                        dropped += zero;
                        if (!zero)
                            cr_assert(fabs(got - 2 * ref[b][h][s][t]) < 1e-6);
                        differs += zero != (w_at(w, 0, 0, s, t) == 0);
                    }
        cr_assert(dropped > 10 && dropped < 50, "dropped %d of 60", dropped);
        if (mode == 0)
            cr_assert_eq(differs, 0, "broadcast dropout must share one mask");
        else
            cr_assert(differs > 0, "independent dropout shares its mask");
        TS_FREE(w);
    }
    o.deterministic = true;
    NA_OK_OR_FAIL(na_dot_product_attention_weights(a.q, a.k, &o, &w));
    expect_weights(w, ref, 1e-6);
    TS_FREE(w);
    free_arrays(&a);
}

/* No batch axis, and grouped-query names: q {kv_heads, query_heads, seq,
 * projection} against k {kv_heads, kv_seq, projection}. */
Test(attention_fn, no_batch_and_grouped_query)
{
    na_array *q = ts_random(NA_F32, NA_DIMS({"kv_heads", 2}, {"query_heads", 3},
                                               {"seq", 4}, {"projection", 8}), 11);
    na_array *k = ts_random(NA_F32, NA_DIMS({"kv_heads", 2}, {"kv_seq", 6},
                                               {"projection", 8}), 12);
    na_array *v = ts_random(NA_F32, NA_DIMS({"kv_seq", 6}, {"kv_heads", 2},
                                               {"feature", 5}), 13);
    na_array *y = NULL;
    NA_OK_OR_FAIL(na_dot_product_attention(q, k, v, &(na_dpa_options){.is_causal = true},
                                           &y));
    ts_expect_shape(y, "f32[kv_heads:2, query_heads:3, seq:4, feature:5]");
    for (int g = 0; g < 2; g++)
        for (int hq = 0; hq < 3; hq++)
            for (int s = 0; s < 4; s++) {
                double l[6], mx = -INFINITY, sum = 0;
                for (int t = 0; t < 6; t++) {
                    double acc = 0;
                    for (int d = 0; d < 8; d++)
                        acc += ts_at(q, 4, NA_NAMES("kv_heads", "query_heads", "seq",
                                                    "projection"),
                                     (int64_t[]){g, hq, s, d}) *
                               ts_at(k, 3, NA_NAMES("kv_heads", "kv_seq", "projection"),
                                     (int64_t[]){g, t, d});
                    l[t] = s >= t ? acc / sqrt(8.0) : -FLT_MAX;
                    mx = fmax(mx, l[t]);
                }
                for (int t = 0; t < 6; t++)
                    sum += l[t] = exp(l[t] - mx);
                for (int f = 0; f < 5; f++) {
                    double want = 0;
                    for (int t = 0; t < 6; t++)
                        want += l[t] / sum *
                                ts_at(v, 3, NA_NAMES("kv_seq", "kv_heads", "feature"),
                                      (int64_t[]){t, g, f});
                    double got = ts_at(y, 4, NA_NAMES("kv_heads", "query_heads", "seq",
                                                      "feature"),
                                       (int64_t[]){g, hq, s, f});
                    cr_assert(fabs(got - want) < 1e-5, "got %g want %g", got, want);
                }
            }
    TS_FREE(q, k, v, y);
}

Test(attention_fn, errors_name_the_operation_and_shapes)
{
    static data x;
    fill(&x, 4);
    arrays a = wrap(&x);
    na_array *w = NULL, *extra = NULL, *pos = NULL;
    const char *op = "na_dot_product_attention_weights";
    NA_EXPECT_FAIL(na_dot_product_attention_weights(NULL, a.k, NULL, &w), NA_ERR_ARGUMENT,
                   op, "query is NULL");
    NA_EXPECT_FAIL(na_dot_product_attention_weights(a.q, a.k, NULL, NULL), NA_ERR_ARGUMENT,
                   "out is NULL");
    /* keys passed as queries: no seq axis */
    NA_EXPECT_FAIL(na_dot_product_attention_weights(a.k, a.k, NULL, &w), NA_ERR_AXIS,
                   "query f32[batch:2, kv_seq:5, heads:2, projection:4]", "'seq'");
    /* a mask with an axis the logits lack would add it: refused */
    extra = ts_random(NA_F32, NA_DIMS({"other", 3}), 1);
    NA_OK_OR_FAIL(na_binary_scalar(NA_GT, extra, 0, &pos));
    NA_EXPECT_FAIL(na_dot_product_attention_weights(a.q, a.k, &(na_dpa_options){.mask = pos},
                                                    &w),
                   NA_ERR_SHAPE, "mask bool[other:3]", "axis 'other'");
    NA_EXPECT_FAIL(na_dot_product_attention_weights(a.q, a.k,
                                                    &(na_dpa_options){.mask = a.bias}, &w),
                   NA_ERR_DTYPE, "mask f32[heads:2, seq:3, kv_seq:5] must be bool");
    NA_EXPECT_FAIL(na_dot_product_attention_weights(a.q, a.k,
                                                    &(na_dpa_options){.bias = a.mask}, &w),
                   NA_ERR_DTYPE, "bias bool[batch:2, seq:3, kv_seq:5]");
    NA_EXPECT_FAIL(na_dot_product_attention_weights(
                       a.q, a.k, &(na_dpa_options){.dropout_rate = 1}, &w),
                   NA_ERR_ARGUMENT, "dropout_rate 1");
    NA_EXPECT_FAIL(na_dot_product_attention(a.q, a.k, a.q, NULL, &w), NA_ERR_AXIS,
                   "na_dot_product_attention: value", "'kv_seq'");
    cr_assert_null(w);
    TS_FREE(extra, pos);
    free_arrays(&a);
}

/* ---- the fused route and dtype promotion -------------------------------------- */

static uint64_t fused_calls(void)
{
    na__fused_counts c;
    na__fused_get_counts(&c);
    return c.prefill + c.decode;
}

/* The output on the general path: the weights (always materialised) summed
 * with v over kv_seq. */
static na_array *general_output(const na_array *q, const na_array *k, const na_array *v,
                                const na_dpa_options *o)
{
    na_array *w = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_dot_product_attention_weights(q, k, o, &w));
    NA_OK_OR_FAIL(na_contract(w, v, NA_NAMES("kv_seq"), &y));
    na_array_free(w);
    return y;
}

/* na_dot_product_attention took the fused kernels once and equals the
 * general path (axes matched by name). */
static void expect_fused_equal(const na_array *q, const na_array *k, const na_array *v,
                               const na_dpa_options *o, const char *what)
{
    uint64_t before = fused_calls();
    na_array *y = NULL;
    NA_OK_OR_FAIL(na_dot_product_attention(q, k, v, o, &y));
    cr_assert_eq(fused_calls() - before, 1u, "%s: the fused kernels did not run", what);
    na_array *g = general_output(q, k, v, o);
    double d = ts_max_abs_diff(y, g);
    cr_assert(d < 2e-6, "%s: fused vs general %g", what, d);
    cr_assert_eq(y->dtype, q->dtype);
    TS_FREE(y, g);
}

/* With and without batch axes, bias / mask / causal in every combination,
 * MHA and grouped-query names, sizes past one tile; the 3 x 5 data of the
 * plain-loop tests too. */
Test(attention_fn, fused_route_equals_general_path)
{
    for (int batch = 0; batch < 2; batch++)
        for (int combo = 0; combo < 8; combo++) {
            uint64_t seed = (uint64_t)(50 + 8 * batch + combo);
            na_array *q, *k, *v, *bias, *mask, *t;
            if (batch) {
                q = ts_random(NA_F32, NA_DIMS({"batch", 2}, {"seq", 37}, {"heads", 3},
                                              {"projection", 9}), seed);
                k = ts_random(NA_F32, NA_DIMS({"batch", 2}, {"kv_seq", 70}, {"heads", 3},
                                              {"projection", 9}), seed + 1);
                v = ts_random(NA_F32, NA_DIMS({"batch", 2}, {"kv_seq", 70}, {"heads", 3},
                                              {"feature", 7}), seed + 2);
                t = ts_random(NA_F32, NA_DIMS({"batch", 2}, {"kv_seq", 70}), seed + 3);
            } else {
                q = ts_random(NA_F32, NA_DIMS({"seq", 37}, {"kv_heads", 2},
                                              {"query_heads", 2}, {"projection", 9}), seed);
                k = ts_random(NA_F32, NA_DIMS({"kv_seq", 70}, {"kv_heads", 2},
                                              {"projection", 9}), seed + 1);
                v = ts_random(NA_F32, NA_DIMS({"kv_seq", 70}, {"kv_heads", 2},
                                              {"feature", 7}), seed + 2);
                t = ts_random(NA_F32, NA_DIMS({"kv_seq", 70}), seed + 3);
            }
            bias = ts_random(batch ? NA_F32 : NA_F64,
                             NA_DIMS({batch ? "heads" : "query_heads", batch ? 3 : 2},
                                     {"seq", 37}, {"kv_seq", 70}), seed + 4);
            NA_OK_OR_FAIL(na_binary_scalar(NA_GT, t, -0.5, &mask));
            na_dpa_options o = {.bias = combo & 1 ? bias : NULL,
                                .mask = combo & 2 ? mask : NULL,
                                .is_causal = combo & 4};
            char what[64];
            snprintf(what, sizeof what, "batch %d, combo %d", batch, combo);
            expect_fused_equal(q, k, v, &o, what);
            TS_FREE(q, k, v, bias, mask, t);
        }
    static data x;
    fill(&x, 9);
    arrays a = wrap(&x);
    expect_fused_equal(a.q, a.k, a.v,
                       &(na_dpa_options){.bias = a.bias, .mask = a.mask, .is_causal = true,
                                         .custom_scale = true, .scale = 0.7},
                       "small");
    free_arrays(&a);
}

/* Dropout that is on needs the weights: the general path; deterministic
 * (or rate 0) is fused. */
Test(attention_fn, dropout_takes_the_general_path)
{
    static data x;
    fill(&x, 10);
    arrays a = wrap(&x);
    na_dpa_options o = {.dropout_rate = 0.5, .dropout_seed = 3};
    uint64_t before = fused_calls();
    na_array *y = NULL, *g = NULL;
    NA_OK_OR_FAIL(na_dot_product_attention(a.q, a.k, a.v, &o, &y));
    cr_assert_eq(fused_calls(), before, "dropout ran on the fused path");
    g = general_output(a.q, a.k, a.v, &o);
    cr_assert(ts_max_abs_diff(y, g) < 1e-6, "the same keep-mask as the weights");
    TS_FREE(y, g);
    o.deterministic = true;
    expect_fused_equal(a.q, a.k, a.v, &o, "deterministic");
    free_arrays(&a);
}

/* Flax's promote_dtype: q, k, v to their common dtype; the weights in it
 * even when an f64 bias makes the logits f64. */
Test(attention_fn, mixed_dtypes_promote_like_flax)
{
    static data x;
    fill(&x, 11);
    arrays a = wrap(&x);
    na_array *q64 = NULL, *k64 = NULL, *v64 = NULL, *b64 = NULL, *y = NULL, *want = NULL,
             *w = NULL;
    NA_OK_OR_FAIL(na_astype(a.q, NA_F64, &q64));
    NA_OK_OR_FAIL(na_astype(a.k, NA_F64, &k64));
    NA_OK_OR_FAIL(na_astype(a.v, NA_F64, &v64));
    NA_OK_OR_FAIL(na_astype(a.bias, NA_F64, &b64));
    NA_OK_OR_FAIL(na_dot_product_attention(q64, k64, v64, NULL, &want));
    NA_OK_OR_FAIL(na_dot_product_attention(q64, a.k, a.v, NULL, &y)); /* f64 x f32 */
    cr_assert_eq(y->dtype, NA_F64);
    cr_assert(ts_max_abs_diff(y, want) < 1e-12);
    na_array_free(y);
    NA_OK_OR_FAIL(na_dot_product_attention_weights(a.q, k64, NULL, &w));
    cr_assert_eq(w->dtype, NA_F64);
    na_array_free(w);
    /* f32 inputs, f64 bias: logits in f64, weights back in f32 */
    NA_OK_OR_FAIL(na_dot_product_attention_weights(a.q, a.k, &(na_dpa_options){.bias = b64},
                                                   &w));
    cr_assert_eq(w->dtype, NA_F32);
    static double ref[B][H][S][T];
    reference_weights(&x, true, false, false, 0.5, ref);
    expect_weights(w, ref, 1e-6);
    na_array_free(w);
    na_set_dtype_promotion(NA_PROMOTE_STRICT);
    NA_EXPECT_FAIL(na_dot_product_attention(a.q, k64, a.v, NULL, &y), NA_ERR_DTYPE,
                   "na_dot_product_attention", "mixed dtypes", "f64[batch:2, kv_seq:5");
    na_set_dtype_promotion(NA_PROMOTE_JAX);
    TS_FREE(q64, k64, v64, b64, want);
    free_arrays(&a);
}
