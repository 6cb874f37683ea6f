/* ApplyRoPE and ApplyRoPEToSubset: rotation at known angles, against a
 * plain loop, and the side-input errors. */
#include <math.h>
#include <stdlib.h>

#include <namedarr/layers.h>
#include <namedarr/print.h>

#include "support.h"

#define IDX(...) ((const int64_t[]){__VA_ARGS__})

static double at(const na_array *x, const char *const *names, const int64_t *idx)
{
    return ts_at(x, x->ndim, names, idx);
}

static na_side *positions(const char *key, int n, const int32_t *pos)
{
    na_side *side = na_side_new();
    na_array *p = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_I32, 1, &(na_dim){"seq", n}, pos, &p));
    NA_OK_OR_FAIL(na_side_set_array(side, key, p));
    na_array_free(p);
    return side;
}

static double xat(const na_array *x, int64_t s, int64_t h, int64_t d)
{
    return at(x, NA_NAMES("seq", "heads", "dim"), IDX(s, h, d));
}

/* y = rope(x) by a loop: x {seq:S, heads:H, dim:D}, rotating the first R. */
static void check_against_loop(const na_array *x, const na_array *y, const int32_t *pos,
                               int64_t r, double wavelength, double scale)
{
    int64_t S = na_axis_size(x, "seq"), H = na_axis_size(x, "heads");
    int64_t D = na_axis_size(x, "dim"), half = r / 2;
    cr_assert(na_same_shape(x, y));
    for (int64_t s = 0; s < S; s++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t d = 0; d < D; d++) {
                double want = xat(x, s, h, d);
                if (d < r) {
                    int64_t i = d % half;
                    double th = pos[s] / scale * pow(wavelength, -2.0 * i / r);
                    double a = xat(x, s, h, i), b = xat(x, s, h, i + half);
                    want = d < half ? a * cos(th) - b * sin(th) : b * cos(th) + a * sin(th);
                }
                cr_assert_float_eq(xat(y, s, h, d), want, 2e-6, "[%ld, %ld, %ld]",
                                   (long)s, (long)h, (long)d);
            }
}

Test(rope, known_angles)
{
    /* x = e_0 on dim:4 at positions 0, 1, 2: frequencies 1 and 1/100. */
    na_layer *rope = NULL;
    NA_OK_OR_FAIL(na_apply_rope_new("dim", NULL, &rope));
    float data[3][1][4] = {{{1, 0, 0, 0}}, {{1, 0, 0, 0}}, {{0, 1, 0, 0}}};
    na_array *x = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"seq", 3}, {"heads", 1}, {"dim", 4}), data,
                               &x));
    na_side *side = positions("token_positions", 3, (int32_t[]){0, 1, 2});
    NA_OK_OR_FAIL(na_layer_call_array(rope, x, side, &y));
    /* pos 0: unchanged */
    cr_assert_float_eq(xat(y, 0, 0, 0), 1.0, 1e-7);
    cr_assert_float_eq(xat(y, 0, 0, 2), 0.0, 1e-7);
    /* pos 1, pair (0, 2) at angle 1: (cos 1, sin 1) */
    cr_assert_float_eq(xat(y, 1, 0, 0), cos(1.0), 1e-6);
    cr_assert_float_eq(xat(y, 1, 0, 2), sin(1.0), 1e-6);
    cr_assert_float_eq(xat(y, 1, 0, 1), 0.0, 1e-7);
    /* pos 2, pair (1, 3) at angle 2/100 */
    cr_assert_float_eq(xat(y, 2, 0, 1), cos(0.02), 1e-6);
    cr_assert_float_eq(xat(y, 2, 0, 3), sin(0.02), 1e-6);
    na_array_free(x);
    na_array_free(y);
    na_side_free(side);
    na_layer_free(rope);
}

Test(rope, against_loop_with_options)
{
    int32_t pos[] = {0, 3, 7, 100, -1};
    na_array *x = ts_random(NA_F32, NA_DIMS({"seq", 5}, {"heads", 2}, {"dim", 8}), 4), *y = NULL;
    na_layer *rope = NULL;
    NA_OK_OR_FAIL(na_apply_rope_new("dim", NULL, &rope));
    na_side *side = positions("token_positions", 5, pos);
    NA_OK_OR_FAIL(na_layer_call_array(rope, x, side, &y));
    check_against_loop(x, y, pos, 8, 10000, 1);
    na_array_free(y);
    na_layer_free(rope);
    na_side_free(side);

    na_rope_options o = {.positions_key = "pos", .max_wavelength = 500, .scale_factor = 4};
    NA_OK_OR_FAIL(na_apply_rope_new("dim", &o, &rope));
    side = positions("pos", 5, pos);
    NA_OK_OR_FAIL(na_layer_call_array(rope, x, side, &y));
    check_against_loop(x, y, pos, 8, 500, 4);
    na_print_options po = {.color = NA_COLOR_NEVER, .hide_total = true};
    char *s = NULL;
    NA_OK_OR_FAIL(na_print_tree_str(rope, &po, &s));
    cr_assert(strstr(s, "ApplyRoPE(axis=\"dim\", positions=\"pos\", max_wavelength=500, "
                        "scale_factor=4)"), "%s", s);
    free(s);
    na_array_free(y);
    na_layer_free(rope);
    na_side_free(side);
    na_array_free(x);
}

Test(rope, subset_passes_the_rest_through)
{
    int32_t pos[] = {2, 5, 9};
    na_array *x = ts_random(NA_F32, NA_DIMS({"seq", 3}, {"heads", 2}, {"dim", 10}), 5), *y = NULL;
    na_layer *rope = NULL;
    NA_OK_OR_FAIL(na_apply_rope_subset_new("dim", 4, NULL, &rope));
    cr_assert_str_eq(na_layer_type_name(rope), "ApplyRoPEToSubset");
    na_side *side = positions("token_positions", 3, pos);
    NA_OK_OR_FAIL(na_layer_call_array(rope, x, side, &y));
    check_against_loop(x, y, pos, 4, 10000, 1);
    na_array_free(y);
    na_layer_free(rope);
    NA_OK_OR_FAIL(na_apply_rope_subset_new("dim", 12, NULL, &rope));
    NA_EXPECT_FAIL(na_layer_call_array(rope, x, side, &y), NA_ERR_SHAPE,
                   "ApplyRoPEToSubset", "12", "dim:10");
    na_layer_free(rope);
    NA_EXPECT_FAIL(na_apply_rope_subset_new("dim", 3, NULL, &rope), NA_ERR_ARGUMENT, "even");
    na_side_free(side);
    na_array_free(x);
}

/* <rope(q, m), rope(k, n)> depends on m - n only. */
Test(rope, relative_positions)
{
    na_layer *rope = NULL;
    NA_OK_OR_FAIL(na_apply_rope_new("dim", NULL, &rope));
    na_array *q = ts_random(NA_F64, NA_DIMS({"seq", 1}, {"heads", 1}, {"dim", 16}), 6);
    na_array *k = ts_random(NA_F64, NA_DIMS({"seq", 1}, {"heads", 1}, {"dim", 16}), 7);
    double dots[2];
    int32_t pairs[2][2] = {{5, 2}, {45, 42}};
    for (int p = 0; p < 2; p++) {
        na_side *sq = positions("token_positions", 1, &pairs[p][0]);
        na_side *sk = positions("token_positions", 1, &pairs[p][1]);
        na_array *rq = NULL, *rk = NULL, *d = NULL;
        NA_OK_OR_FAIL(na_layer_call_array(rope, q, sq, &rq));
        NA_OK_OR_FAIL(na_layer_call_array(rope, k, sk, &rk));
        NA_OK_OR_FAIL(na_contract(rq, rk, NA_NAMES("dim"), &d));
        dots[p] = at(d, NA_NAMES("seq", "heads"), IDX(0, 0));
        na_array_free(rq);
        na_array_free(rk);
        na_array_free(d);
        na_side_free(sq);
        na_side_free(sk);
    }
    cr_assert_float_eq(dots[0], dots[1], 1e-12);
    na_array_free(q);
    na_array_free(k);
    na_layer_free(rope);
}

Test(rope, errors)
{
    na_layer *rope = NULL;
    NA_OK_OR_FAIL(na_apply_rope_new("dim", NULL, &rope));
    na_array *x = ts_random(NA_F32, NA_DIMS({"seq", 3}, {"dim", 4}), 8), *y = NULL;
    /* missing side input: names the layer and the key */
    NA_EXPECT_FAIL(na_layer_call_array(rope, x, NULL, &y), NA_ERR_NOT_FOUND, "ApplyRoPE",
                   "'token_positions'");
    na_side *wrong = positions("positions", 3, (int32_t[]){0, 1, 2});
    NA_EXPECT_FAIL(na_layer_call_array(rope, x, wrong, &y), NA_ERR_NOT_FOUND,
                   "token_positions");
    na_side_free(wrong);
    /* positions with the wrong length */
    na_side *short_pos = positions("token_positions", 2, (int32_t[]){0, 1});
    NA_EXPECT_FAIL(na_layer_call_array(rope, x, short_pos, &y), NA_ERR_AXIS, "ApplyRoPE",
                   "i32[seq:2]", "f32[seq:3, dim:4]");
    na_side_free(short_pos);
    cr_assert_null(y);
    na_array_free(x);
    /* odd feature axis; missing feature axis */
    na_side *side = positions("token_positions", 3, (int32_t[]){0, 1, 2});
    x = ts_random(NA_F32, NA_DIMS({"seq", 3}, {"dim", 5}), 9);
    NA_EXPECT_FAIL(na_layer_call_array(rope, x, side, &y), NA_ERR_SHAPE, "even", "dim:5");
    na_array_free(x);
    x = ts_random(NA_F32, NA_DIMS({"seq", 3}, {"features", 4}), 9);
    NA_EXPECT_FAIL(na_layer_call_array(rope, x, side, &y), NA_ERR_AXIS, "'dim'");
    na_array_free(x);
    na_side_free(side);
    na_layer_free(rope);
}
