/* The functional attention API (namedarr/attention_fn.h) against a plain
 * loop that follows Flax's dot_product_attention_weights step by step:
 * scale the query, logits, add the bias, mask with finfo(f32).min, softmax
 * over the keys, dropout. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <namedarr/attention_fn.h>

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
