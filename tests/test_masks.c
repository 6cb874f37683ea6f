/* Masks: ApplyAttentionMask, the fully-masked-row policies (Keras's
 * masked softmax case), position-based causal and sliding-window masks,
 * and the Flax-style helpers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <namedarr/attention.h>
#include <namedarr/combinators.h>
#include <namedarr/masks.h>

#include "support.h"

#define SK NA_NAMES("seq", "kv_seq")

static double at2(const na_array *x, int64_t i, int64_t j)
{
    return ts_at(x, 2, SK, (int64_t[]){i, j});
}

/* query_key_to_attn-like chain: mask then (masked) softmax. */
static na_layer *mask_then_softmax(na_masked_rows rows)
{
    na_layer *mask = NULL, *soft = NULL, *seq = NULL;
    NA_OK_OR_FAIL(na_apply_attention_mask_new("attn_mask", NA_MASKED_OUT_DEFAULT, &mask));
    NA_OK_OR_FAIL(na_masked_softmax_new("kv_seq", rows, 0, &soft));
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(mask, soft), &seq));
    return seq;
}

/* Keras: logits [1, 2, masked, masked] -> [0.268941, 0.731059, 0, 0]; a
 * fully masked row -> zeros (zero mode) or uniform (default). */
Test(masks, keras_masked_softmax_rows)
{
    float logits[] = {1, 2, 3, 4, 5, 6, 7, 8};
    bool keep[] = {1, 1, 0, 0, 0, 0, 0, 0};
    na_array *x = NULL, *m = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"seq", 2}, {"kv_seq", 4}), logits, &x));
    NA_OK_OR_FAIL(na_from_data(NA_BOOL, NA_DIMS({"seq", 2}, {"kv_seq", 4}), keep, &m));
    na_side *side = na_side_new();
    NA_OK_OR_FAIL(na_side_set_array(side, "attn_mask", m));

    na_layer *zero = mask_then_softmax(NA_MASKED_ROWS_ZERO);
    NA_OK_OR_FAIL(na_layer_call_array(zero, x, side, &y));
    const double want[] = {0.268941, 0.731059, 0, 0};
    for (int j = 0; j < 4; j++) {
        cr_assert(fabs(at2(y, 0, j) - want[j]) < 1e-6, "y[0,%d] = %g", j, at2(y, 0, j));
        cr_assert_eq(at2(y, 1, j), 0.0);
    }
    na_array_free(y);

    na_layer *uniform = mask_then_softmax(NA_MASKED_ROWS_UNIFORM);
    NA_OK_OR_FAIL(na_layer_call_array(uniform, x, side, &y));
    for (int j = 0; j < 4; j++) {
        cr_assert(fabs(at2(y, 0, j) - want[j]) < 1e-6);
        cr_assert(fabs(at2(y, 1, j) - 0.25) < 1e-7, "uniform row: %g", at2(y, 1, j));
    }
    na_array_free(y);
    na_layer_free(zero);
    na_layer_free(uniform);
    na_side_free(side);
    na_array_free(x);
    na_array_free(m);
}

/* The same two policies through the standard dot-product layer, with a
 * padding mask {batch, kv_seq} broadcast against {batch, heads, seq, kv_seq}. */
Test(masks, padding_mask_broadcasts_by_name)
{
    na_array *q = ts_random(NA_F32, NA_DIMS({"batch", 2}, {"seq", 3}, {"heads", 2},
                                            {"projection", 4}), 1);
    na_array *k = ts_random(NA_F32, NA_DIMS({"batch", 2}, {"kv_seq", 5}, {"heads", 2},
                                            {"projection", 4}), 2);
    bool pad[] = {1, 1, 1, 0, 0, 0, 0, 0, 0, 0}; /* batch 1 fully padded */
    na_array *m = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_BOOL, NA_DIMS({"batch", 2}, {"kv_seq", 5}), pad, &m));
    na_side *side = na_side_new();
    NA_OK_OR_FAIL(na_side_set_array(side, "attn_mask", m));
    na_value *in = na_value_tuple(2, (na_value *[]){na_value_ref_array(q),
                                                    na_value_ref_array(k)});
    for (int policy = 0; policy < 2; policy++) {
        na_dot_product_options o = {.mask_tag = "attn_mask",
                                    .masked_rows = policy ? NA_MASKED_ROWS_ZERO
                                                          : NA_MASKED_ROWS_UNIFORM};
        na_layer *l = NULL;
        na_value *w = NULL;
        NA_OK_OR_FAIL(na_dot_product_attn_new(&o, &l));
        NA_OK_OR_FAIL(na_layer_call(l, in, side, &w));
        const na_array *a = w->array;
        const char *const n[] = {"batch", "heads", "seq", "kv_seq", NULL};
        cr_assert_eq(a->ndim, 4);
        for (int h = 0; h < 2; h++)
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 5; j++) {
                    double a0 = ts_at(a, 4, n, (int64_t[]){0, h, i, j});
                    double a1 = ts_at(a, 4, n, (int64_t[]){1, h, i, j});
                    cr_assert(j < 3 ? a0 > 0 : a0 == 0);
                    cr_assert(fabs(a1 - (policy ? 0.0 : 0.2)) < 1e-7, "%g", a1);
                }
        na_value_free(w);
        na_layer_free(l);
    }
    na_value_free(in);
    na_side_free(side);
    na_array_free(q), na_array_free(k), na_array_free(m);
}

/* ---- errors -------------------------------------------------------------------- */

Test(masks, mask_errors_name_layer_key_and_shapes)
{
    na_layer *l = NULL;
    NA_OK_OR_FAIL(na_apply_attention_mask_new("attn_mask", NA_MASKED_OUT_DEFAULT, &l));
    na_array *x = ts_random(NA_F32, NA_DIMS({"seq", 2}, {"kv_seq", 3}), 1), *y = NULL;
    na_side *side = na_side_new();
    NA_EXPECT_FAIL(na_layer_call_array(l, x, side, &y), NA_ERR_NOT_FOUND,
                   "ApplyAttentionMask", "'attn_mask'", "missing", "f32[seq:2, kv_seq:3]");
    /* float where bool is needed */
    na_array *fm = NULL, *bm = NULL, *bad = NULL, *pos = NULL;
    NA_OK_OR_FAIL(na_ones(NA_F32, NA_DIMS({"kv_seq", 3}), &fm));
    NA_OK_OR_FAIL(na_side_set_array(side, "attn_mask", fm));
    NA_EXPECT_FAIL(na_layer_call_array(l, x, side, &y), NA_ERR_DTYPE,
                   "ApplyAttentionMask", "'attn_mask'", "f32[kv_seq:3]", "bool");
    /* sizes that do not line up */
    NA_OK_OR_FAIL(na_ones(NA_BOOL, NA_DIMS({"kv_seq", 4}), &bm));
    NA_OK_OR_FAIL(na_side_set_array(side, "attn_mask", bm));
    NA_EXPECT_FAIL(na_layer_call_array(l, x, side, &y), NA_ERR_SHAPE,
                   "axis 'kv_seq'", "size 4", "bool[kv_seq:4]", "f32[seq:2, kv_seq:3]");
    /* an axis the logits lack */
    NA_OK_OR_FAIL(na_ones(NA_BOOL, NA_DIMS({"batch", 2}, {"kv_seq", 3}), &bad));
    NA_OK_OR_FAIL(na_side_set_array(side, "attn_mask", bad));
    NA_EXPECT_FAIL(na_layer_call_array(l, x, side, &y), NA_ERR_AXIS,
                   "axis 'batch' is not in the logits");
    /* positional axes */
    na_array_free(bad);
    NA_OK_OR_FAIL(na_ones(NA_BOOL, NA_DIMS({NULL, 3}), &bad));
    NA_OK_OR_FAIL(na_side_set_array(side, "attn_mask", bad));
    NA_EXPECT_FAIL(na_layer_call_array(l, x, side, &y), NA_ERR_AXIS, "positional");
    /* positions of the wrong size, and bool positions */
    na_layer *c = NULL;
    NA_OK_OR_FAIL(na_apply_causal_mask_new(NULL, &c));
    NA_OK_OR_FAIL(na_arange("seq", 5, NA_I32, &pos));
    NA_OK_OR_FAIL(na_side_set_array(side, "token_positions", pos));
    NA_EXPECT_FAIL(na_layer_call_array(c, x, side, &y), NA_ERR_SHAPE,
                   "ApplyCausalMask", "'token_positions'", "i32[seq:5]");
    na_array *bp = NULL, *z = NULL;
    NA_OK_OR_FAIL(na_ones(NA_BOOL, NA_DIMS({"seq", 2}), &bp));
    NA_OK_OR_FAIL(na_side_set_array(side, "token_positions", bp));
    NA_EXPECT_FAIL(na_layer_call_array(c, x, side, &y), NA_ERR_DTYPE, "positions");
    NA_OK_OR_FAIL(na_ones(NA_F32, NA_DIMS({"seq", 2}), &z));
    NA_EXPECT_FAIL(na_layer_call_array(c, z, NULL, &y), NA_ERR_AXIS, "'kv_seq'");
    cr_assert_null(y);
    na_array_free(x), na_array_free(fm), na_array_free(bm), na_array_free(bad);
    na_array_free(pos), na_array_free(bp), na_array_free(z);
    na_side_free(side);
    na_layer_free(l);
    na_layer_free(c);
}

Test(masks, optional_mask_absent_is_identity)
{
    na_layer *l = NULL;
    NA_OK_OR_FAIL(na_apply_attention_mask_new("attn_mask", -1e9, &l));
    NA_OK_OR_FAIL(na_apply_attention_mask_set_optional(l, true));
    na_array *x = ts_random(NA_F32, NA_DIMS({"seq", 2}, {"kv_seq", 3}), 1), *y = NULL;
    NA_OK_OR_FAIL(na_layer_call_array(l, x, NULL, &y));
    cr_assert_eq(ts_max_abs_diff(x, y), 0);
    na_array_free(x), na_array_free(y);
    na_layer_free(l);
}

/* ---- position masks ---------------------------------------------------------------- */

/* Weights of the standard dot-product layer (causal, window) for S = 8. */
static na_array *causal_weights(int64_t window, const na_side *side)
{
    na_array *q = ts_random(NA_F32, NA_DIMS({"seq", 8}, {"heads", 2}, {"projection", 4}), 3);
    na_array *k = ts_random(NA_F32, NA_DIMS({"kv_seq", 8}, {"heads", 2}, {"projection", 4}), 4);
    na_value *in = na_value_tuple(2, (na_value *[]){na_value_ref_array(q),
                                                    na_value_ref_array(k)});
    na_dot_product_options o = {.causal = true, .window = window,
                                .masked_rows = NA_MASKED_ROWS_ZERO};
    na_layer *l = NULL;
    na_value *w = NULL;
    NA_OK_OR_FAIL(na_dot_product_attn_new(&o, &l));
    NA_OK_OR_FAIL(na_layer_call(l, in, side, &w));
    na_array *a = NULL;
    NA_OK_OR_FAIL(na_array_ref(w->array, &a));
    na_value_free(w), na_value_free(in);
    na_layer_free(l);
    na_array_free(q), na_array_free(k);
    return a;
}

static double w_at(const na_array *a, int h, int i, int j)
{
    return ts_at(a, 3, NA_NAMES("heads", "seq", "kv_seq"), (int64_t[]){h, i, j});
}

Test(masks, sliding_window_three_with_causal)
{
    na_array *a = causal_weights(3, NULL);
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < 8; i++)
            for (int j = 0; j < 8; j++) {
                bool want = j <= i && i - j < 3;
                cr_assert_eq(w_at(a, h, i, j) > 0, want, "w[%d,%d,%d] = %g", h, i, j,
                             w_at(a, h, i, j));
            }
    na_array_free(a);
    a = causal_weights(0, NULL);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++)
            cr_assert_eq(w_at(a, 1, i, j) > 0, j <= i);
    na_array_free(a);
}

/* Positions from the side inputs: a negative position is padding; the
 * keys take the query positions when there are as many. */
Test(masks, positions_with_padding)
{
    int32_t pos[] = {-1, -1, 0, 1, 2, 3, 4, 5};
    na_array *p = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_I32, NA_DIMS({"seq", 8}), pos, &p));
    na_side *side = na_side_new();
    NA_OK_OR_FAIL(na_side_set_array(side, "token_positions", p));
    na_array *a = causal_weights(0, side);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) {
            bool want = pos[i] >= pos[j] && pos[j] >= 0;
            cr_assert_eq(w_at(a, 0, i, j) > 0, want, "w[%d,%d] = %g", i, j, w_at(a, 0, i, j));
        }
    na_array_free(a);
    na_array_free(p);
    na_side_free(side);
}

Test(masks, causal_positions_mask_function)
{
    /* decode alignment: one query at position 5 against keys 0..7 with two
     * empty slots (-1) */
    int32_t qp[] = {5}, kp[] = {0, 1, 2, 3, 4, 5, -1, -1};
    na_array *q = NULL, *k = NULL, *m = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_I32, NA_DIMS({"seq", 1}), qp, &q));
    NA_OK_OR_FAIL(na_from_data(NA_I32, NA_DIMS({"kv_seq", 8}), kp, &k));
    NA_OK_OR_FAIL(na_causal_positions_mask(q, k, 3, &m));
    cr_assert_eq(m->dtype, NA_BOOL);
    for (int j = 0; j < 8; j++)
        cr_assert_eq(at2(m, 0, j) != 0, j >= 3 && j <= 5, "j=%d", j);
    na_array_free(m);
    NA_EXPECT_FAIL(na_causal_positions_mask(q, k, -1, &m), NA_ERR_ARGUMENT, "window");
    /* float positions are refused (4.5 >= 4 would silently hold) */
    na_array *qf = NULL;
    m = NULL;
    NA_OK_OR_FAIL(na_full(NA_F32, NA_DIMS({"seq", 1}), 4.5, &qf));
    NA_EXPECT_FAIL(na_causal_positions_mask(qf, k, 0, &m), NA_ERR_DTYPE,
                   "na_causal_positions_mask", "must be i32", "f32[seq:1]");
    cr_assert_null(m);
    na_array_free(q), na_array_free(k), na_array_free(qf);
}

/* ---- Flax helpers -------------------------------------------------------------------- */

Test(masks, make_attention_mask_and_ge)
{
    int32_t tq[] = {3, 5, 0, 7, 1, 0}, tk[] = {1, 0, 4, 2, 0, 9, 9, 0};
    na_array *q = NULL, *k = NULL, *m = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_I32, NA_DIMS({"batch", 2}, {"seq", 3}), tq, &q));
    NA_OK_OR_FAIL(na_from_data(NA_I32, NA_DIMS({"batch", 2}, {"seq", 4}), tk, &k));
    const char *const n[] = {"batch", "seq", "kv_seq", NULL};
    NA_OK_OR_FAIL(na_make_attention_mask(q, k, NULL, NULL, &m)); /* and (multiply) */
    cr_assert_eq(na_axis_size(m, "kv_seq"), 4);
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++)
                cr_assert_eq(ts_at(m, 3, n, (int64_t[]){b, i, j}) != 0,
                             tq[b * 3 + i] != 0 && tk[b * 4 + j] != 0);
    na_array_free(m);
    NA_OK_OR_FAIL(na_make_attention_mask(q, k, na_pairwise_ge, NULL, &m));
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++)
                cr_assert_eq(ts_at(m, 3, n, (int64_t[]){b, i, j}) != 0,
                             tq[b * 3 + i] >= tk[b * 4 + j]);
    na_array_free(m);
    na_array_free(q), na_array_free(k);
}

static na_status pair_eq(const na_array *q, const na_array *k, void *ctx, na_array **out)
{
    (*(int *)ctx)++;
    return na_binary(NA_EQ, q, k, out);
}

Test(masks, make_attention_mask_user_fn)
{
    int32_t tq[] = {1, 2}, tk[] = {2, 1, 2};
    na_array *q = NULL, *k = NULL, *m = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_I32, NA_DIMS({"seq", 2}), tq, &q));
    NA_OK_OR_FAIL(na_from_data(NA_I32, NA_DIMS({"kv_seq", 3}), tk, &k));
    int calls = 0;
    NA_OK_OR_FAIL(na_make_attention_mask(q, k, pair_eq, &calls, &m));
    cr_assert_eq(calls, 1);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            cr_assert_eq(at2(m, i, j) != 0, tq[i] == tk[j]);
    na_array_free(m);
    NA_EXPECT_FAIL(na_make_attention_mask(k, q, NULL, NULL, &m), NA_ERR_AXIS, "'seq'");
    na_array_free(q), na_array_free(k);
}

Test(masks, make_causal_mask_top_left)
{
    na_array *x = NULL, *m = NULL;
    NA_OK_OR_FAIL(na_zeros(NA_I32, NA_DIMS({"batch", 2}, {"seq", 5}), &x));
    NA_OK_OR_FAIL(na_make_causal_mask(x, NULL, &m));
    cr_assert_eq(m->ndim, 2);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            cr_assert_eq(at2(m, i, j) != 0, i >= j);
    na_array_free(m);
    NA_EXPECT_FAIL(na_make_causal_mask(x, "tokens", &m), NA_ERR_AXIS, "'tokens'");
    na_array_free(x);
}

Test(masks, combine_masks_skips_absent)
{
    na_array *c = NULL, *p = NULL, *m = NULL, *f = NULL;
    bool pad[] = {1, 1, 1, 0};
    NA_OK_OR_FAIL(na_arange("seq", 4, NA_I32, &f));
    NA_OK_OR_FAIL(na_make_causal_mask(f, "seq", &c));
    NA_OK_OR_FAIL(na_from_data(NA_BOOL, NA_DIMS({"kv_seq", 4}), pad, &p));
    NA_OK_OR_FAIL(na_combine_masks(3, (const na_array *[]){c, NULL, p}, &m));
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            cr_assert_eq(at2(m, i, j) != 0, i >= j && j < 3);
    na_array_free(m);
    m = (na_array *)1;
    NA_OK_OR_FAIL(na_combine_masks(2, (const na_array *[]){NULL, NULL}, &m));
    cr_assert_null(m);
    NA_OK_OR_FAIL(na_combine_masks(0, NULL, &m));
    cr_assert_null(m);
    NA_EXPECT_FAIL(na_combine_masks(2, (const na_array *[]){c, f}, &m), NA_ERR_DTYPE,
                   "mask 1", "expected bool");
    na_array_free(c), na_array_free(p), na_array_free(f);
}

/* A literal masked-out value of 0 (issue 8 item 5: a setting whose
 * legitimate value is 0 is expressible), by custom_masked_out_value as
 * custom_scale does for the scale; without it 0 still means the default. */
Test(masks, literal_zero_masked_out_value)
{
    na_array *x = ts_random(NA_F32, NA_DIMS({"seq", 4}, {"kv_seq", 4}), 31), *y = NULL;
    na_layer *l = NULL;
    double v = 1;
    NA_OK_OR_FAIL(na_apply_causal_mask_new(
        &(na_causal_mask_options){.custom_masked_out_value = true}, &l));
    NA_OK_OR_FAIL(na_layer_field_float(l, "masked_out_value", &v));
    cr_assert_eq(v, 0.0);
    NA_OK_OR_FAIL(na_layer_call_array(l, x, NULL, &y));
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            cr_assert_eq(at2(y, i, j), j <= i ? at2(x, i, j) : 0.0, "y[%d,%d]", i, j);
    TS_FREE(y);
    na_layer_free(l);
    NA_OK_OR_FAIL(na_apply_causal_mask_new(&(na_causal_mask_options){0}, &l));
    NA_OK_OR_FAIL(na_layer_field_float(l, "masked_out_value", &v));
    cr_assert_eq(v, NA_MASKED_OUT_DEFAULT);
    na_layer_free(l);
    /* the standard query_key_to_attn: both mask layers get the 0, and the
     * weights are softmax over the row with masked logits 0 */
    na_dot_product_options o = {.causal = true, .mask_tag = "attn_mask",
                                .custom_masked_out_value = true,
                                .custom_scale = true, .scale = 1.0};
    na_layer *qk = NULL;
    NA_OK_OR_FAIL(na_dot_product_attn_new(&o, &qk));
    for (int c = 1; c <= 2; c++) {
        NA_OK_OR_FAIL(na_layer_field_float(na_layer_child(qk, c), "masked_out_value", &v));
        cr_assert_eq(v, 0.0, "child %d", c);
    }
    na_array *q = ts_random(NA_F32, NA_DIMS({"seq", 4}, {"projection", 3}), 32),
             *k = ts_random(NA_F32, NA_DIMS({"kv_seq", 4}, {"projection", 3}), 33),
             *m = NULL;
    bool keep[4] = {true, true, false, true};
    NA_OK_OR_FAIL(na_from_data(NA_BOOL, NA_DIMS({"kv_seq", 4}), keep, &m));
    na_side *side = na_side_new();
    NA_OK_OR_FAIL(na_side_set_array(side, "attn_mask", m));
    na_value *in = na_value_tuple(2, (na_value *[]){na_value_ref_array(q),
                                                    na_value_ref_array(k)}),
             *w = NULL;
    NA_OK_OR_FAIL(na_layer_call(qk, in, side, &w));
    const na_array *wa = na_value_array(w, "test");
    for (int i = 0; i < 4; i++) {
        double lg[4], sum = 0;
        for (int j = 0; j < 4; j++) {
            double dot = 0;
            for (int d = 0; d < 3; d++)
                dot += ts_at(q, 2, NA_NAMES("seq", "projection"), (int64_t[]){i, d}) *
                       ts_at(k, 2, NA_NAMES("kv_seq", "projection"), (int64_t[]){j, d});
            lg[j] = j <= i && keep[j] ? dot : 0.0;
            sum += exp(lg[j]);
        }
        for (int j = 0; j < 4; j++)
            cr_assert(fabs(at2(wa, i, j) - exp(lg[j]) / sum) < 1e-6, "w[%d,%d] = %g, want %g",
                      i, j, at2(wa, i, j), exp(lg[j]) / sum);
    }
    na_value_free(in), na_value_free(w);
    na_side_free(side);
    na_layer_free(qk);
    TS_FREE(x, q, k, m);
}
