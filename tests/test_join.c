/* concatenate / stack / unstack along named axes. */
#include <stdlib.h>

#include "support.h"

/* x at the coordinates of y's element yidx, by name, with axis `shift_name`
 * shifted by -shift (positional axes by position). */
static double at_named(const na_array *x, const na_array *y, const int64_t *yidx,
                       const char *shift_name, int64_t shift)
{
    int64_t idx[NA_MAX_DIMS] = {0};
    for (int e = 0, p = 0; e < x->ndim; e++) {
        int d = x->name[e] ? na_axis_index(y, x->name[e])
                           : na_positional_index(y, p++);
        idx[e] = yidx[d];
        if (x->name[e] && shift_name && strcmp(x->name[e], shift_name) == 0)
            idx[e] -= shift;
    }
    return na_get(x, idx);
}

/* y is the concatenation of xs along name. */
static void check_concat(const na_array *y, int n, const na_array *const *xs,
                         const char *name)
{
    int ax = na_axis_index(y, name);
    int64_t idx[NA_MAX_DIMS] = {0};
    if (na_size(y) == 0)
        return;
    do {
        int64_t pos = idx[ax], start = 0;
        int k = 0;
        while (pos - start >= na_axis_size(xs[k], name)) {
            start += na_axis_size(xs[k], name);
            k++;
        }
        cr_assert(k < n);
        cr_assert_eq(na_get(y, idx), at_named(xs[k], y, idx, name, start));
    } while (ts_next_index(y, idx));
}

Test(join, concatenate_matches_by_name_in_any_order)
{
    na_array *a = ts_random(NA_F32, NA_DIMS({"seq", 3}, {"emb", 7}), 1);
    na_array *b = ts_random(NA_F32, NA_DIMS({"emb", 7}, {"seq", 5}), 2);
    na_array *c0 = ts_random(NA_F32, NA_DIMS({"seq", 13}, {"emb", 7}), 3);
    na_array *c = ts_strided_copy(c0);
    na_array *z = ts_random(NA_F32, NA_DIMS({"seq", 0}, {"emb", 7}), 4);
    const na_array *xs[] = {a, b, z, c};
    na_array *y = NULL;
    NA_OK_OR_FAIL(na_concatenate(4, xs, "seq", &y));
    char buf[64];
    na_shape_str(y, buf, sizeof buf);
    cr_assert_str_eq(buf, "f32[seq:21, emb:7]");
    check_concat(y, 4, xs, "seq");
    na_array_free(y);
    /* along the inner axis, first input transposed */
    na_array *bt = ts_permuted(b, (int[]){1, 0});
    na_array *d = ts_random(NA_F32, NA_DIMS({"seq", 5}, {"emb", 1}), 5);
    const na_array *ys[] = {bt, d};
    NA_OK_OR_FAIL(na_concatenate(2, ys, "emb", &y));
    na_shape_str(y, buf, sizeof buf);
    cr_assert_str_eq(buf, "f32[seq:5, emb:8]");
    check_concat(y, 2, ys, "emb");
    na_array_free(y);
    na_array *arr[] = {a, b, c0, c, z, bt, d};
    for (int k = 0; k < 7; k++)
        na_array_free(arr[k]);
}

Test(join, concatenate_promotes_dtypes_and_keeps_positional_axes)
{
    na_array *a = ts_random(NA_I32, NA_DIMS({"k", 2}, {NULL, 3}), 1);
    na_array *b = ts_random(NA_F32, NA_DIMS({NULL, 3}, {"k", 4}), 2);
    na_array *y = NULL;
    NA_OK_OR_FAIL(na_concatenate(2, (const na_array *[]){a, b}, "k", &y));
    cr_assert_eq(y->dtype, NA_F32);
    char buf[64];
    na_shape_str(y, buf, sizeof buf);
    cr_assert_str_eq(buf, "f32[k:6 | 3]");
    check_concat(y, 2, (const na_array *[]){a, b}, "k");
    TS_FREE(y, a, b);
}

Test(join, concatenate_errors_name_inputs_and_shapes)
{
    na_array *a = ts_random(NA_F32, NA_DIMS({"seq", 3}, {"emb", 7}), 1);
    na_array *b = ts_random(NA_F32, NA_DIMS({"seq", 2}, {"emb", 6}), 2);
    na_array *c = ts_random(NA_F32, NA_DIMS({"emb", 7}), 3);
    na_array *y = NULL;
    NA_EXPECT_FAIL(na_concatenate(2, (const na_array *[]){a, b}, "seq", &y),
                   NA_ERR_SHAPE, "na_concatenate", "'seq'", "input 1",
                   "f32[seq:2, emb:6]", "f32[seq:3, emb:7]");
    NA_EXPECT_FAIL(na_concatenate(2, (const na_array *[]){a, c}, "seq", &y),
                   NA_ERR_AXIS, "na_concatenate", "no axis 'seq'", "input 1",
                   "f32[emb:7]");
    NA_EXPECT_FAIL(na_concatenate(0, (const na_array *[]){a}, "seq", &y),
                   NA_ERR_ARGUMENT, "na_concatenate");
    cr_assert_null(y);
    TS_FREE(a, b, c);
}

Test(join, stack_adds_the_new_axis_first)
{
    na_array *a = ts_random(NA_F32, NA_DIMS({"h", 3}, {"d", 5}), 1);
    na_array *b0 = ts_random(NA_F32, NA_DIMS({"d", 5}, {"h", 3}), 2);
    na_array *b = ts_strided_copy(b0);
    na_array *c = ts_random(NA_F64, NA_DIMS({"h", 3}, {"d", 5}), 3);
    const na_array *xs[] = {a, b, c};
    na_array *y = NULL;
    NA_OK_OR_FAIL(na_stack(3, xs, "layer", &y));
    cr_assert_eq(y->dtype, NA_F64);
    char buf[64];
    na_shape_str(y, buf, sizeof buf);
    cr_assert_str_eq(buf, "f64[layer:3, h:3, d:5]");
    int64_t idx[3] = {0};
    do {
        const na_array *x = xs[idx[0]];
        double want = na_get(x, (int64_t[]){x->name[0] == y->name[1] ? idx[1] : idx[2],
                                            x->name[0] == y->name[1] ? idx[2] : idx[1]});
        cr_assert_eq(na_get(y, idx), want);
    } while (ts_next_index(y, idx));
    na_array_free(y);
    /* round trip through unstack */
    NA_OK_OR_FAIL(na_stack(3, xs, "layer", &y));
    int n = 0;
    na_array **parts = NULL;
    NA_OK_OR_FAIL(na_unstack(y, "layer", &n, &parts));
    cr_assert_eq(n, 3);
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(ts_max_abs_diff(parts[k], xs[k]), 0.0);
        na_array_free(parts[k]);
    }
    free(parts);
    TS_FREE(y, a, b0, b, c);
}

Test(join, stack_errors)
{
    na_array *a = ts_random(NA_F32, NA_DIMS({"h", 3}, {"d", 5}), 1);
    na_array *b = ts_random(NA_F32, NA_DIMS({"h", 3}, {"d", 4}), 2);
    na_array *y = NULL;
    NA_EXPECT_FAIL(na_stack(2, (const na_array *[]){a, b}, "layer", &y),
                   NA_ERR_SHAPE, "na_stack", "input 1", "f32[h:3, d:4]",
                   "f32[h:3, d:5]");
    NA_EXPECT_FAIL(na_stack(2, (const na_array *[]){a, a}, "h", &y),
                   NA_ERR_AXIS, "na_stack", "'h'", "f32[h:3, d:5]");
    cr_assert_null(y);
    TS_FREE(a, b);
}

Test(join, unstack_gives_views)
{
    na_array *x = ts_random(NA_F32, NA_DIMS({"a", 7}, {"b", 13}, {"c", 1}), 1);
    int n = 0;
    na_array **parts = NULL;
    NA_OK_OR_FAIL(na_unstack(x, "b", &n, &parts));
    cr_assert_eq(n, 13);
    for (int k = 0; k < n; k++) {
        cr_assert_eq(parts[k]->storage, x->storage);
        char buf[64];
        na_shape_str(parts[k], buf, sizeof buf);
        cr_assert_str_eq(buf, "f32[a:7, c:1]");
        for (int64_t i = 0; i < 7; i++)
            cr_assert_eq(na_get(parts[k], (int64_t[]){i, 0}),
                         na_get(x, (int64_t[]){i, k, 0}));
        na_array_free(parts[k]);
    }
    free(parts);
    na_array *z = ts_random(NA_F32, NA_DIMS({"a", 0}, {"b", 2}), 2);
    NA_OK_OR_FAIL(na_unstack(z, "a", &n, &parts));
    cr_assert_eq(n, 0);
    free(parts);
    parts = NULL;
    NA_EXPECT_FAIL(na_unstack(x, "nope", &n, &parts), NA_ERR_AXIS, "na_unstack",
                   "'nope'", "f32[a:7, b:13, c:1]");
    cr_assert_null(parts);
    TS_FREE(z, x);
}

Test(join, large_concatenate_parallel_copy)
{
    na_set_num_threads(4);
    na_array *a = ts_random(NA_F32, NA_DIMS({"r", 301}, {"c", 257}), 1);
    na_array *b = ts_random(NA_F32, NA_DIMS({"c", 257}, {"r", 99}), 2);
    na_array *y = NULL;
    NA_OK_OR_FAIL(na_concatenate(2, (const na_array *[]){a, b}, "r", &y));
    check_concat(y, 2, (const na_array *[]){a, b}, "r");
    na_array_free(y);
    na_set_num_threads(0);
    TS_FREE(a, b);
}

/* ---- every dtype ---------------------------------------------------------- */

Test(join, concatenate_stack_unstack_every_dtype)
{
    const na_dtype dts[] = {NA_F32, NA_F64, NA_I32, NA_BOOL};
    for (int t = 0; t < 4; t++) {
        na_array *x1 = ts_random(dts[t], NA_DIMS({"a", 3}, {"b", 5}), 50 + t);
        na_array *x2r = ts_random(dts[t], NA_DIMS({"b", 5}, {"a", 1}), 60 + t);
        na_array *x2 = ts_strided_copy(x2r); /* other dim order, strided */
        na_array *cat = NULL, *st = NULL, **parts = NULL;
        NA_OK_OR_FAIL(na_concatenate(2, (const na_array *[]){x1, x2}, "a", &cat));
        cr_assert_eq(cat->dtype, dts[t]);
        ts_expect_shape(cat, t == 0   ? "f32[a:4, b:5]"
                             : t == 1 ? "f64[a:4, b:5]"
                             : t == 2 ? "i32[a:4, b:5]"
                                      : "bool[a:4, b:5]");
        for (int64_t a = 0; a < 4; a++)
            for (int64_t b = 0; b < 5; b++) {
                double want = a < 3 ? ts_at(x1, 2, NA_NAMES("a", "b"), (int64_t[]){a, b})
                                    : ts_at(x2r, 2, NA_NAMES("a", "b"), (int64_t[]){0, b});
                cr_assert_eq(ts_at(cat, 2, NA_NAMES("a", "b"), (int64_t[]){a, b}), want,
                             "dtype %d [%lld, %lld]", t, (long long)a, (long long)b);
            }
        /* stack the three rows of x1 (views) back along a new axis */
        int n = 0;
        NA_OK_OR_FAIL(na_unstack(x1, "a", &n, &parts));
        cr_assert_eq(n, 3);
        NA_OK_OR_FAIL(na_stack(n, (const na_array *const *)parts, "row", &st));
        for (int64_t r = 0; r < 3; r++)
            for (int64_t b = 0; b < 5; b++)
                cr_assert_eq(ts_at(st, 2, NA_NAMES("row", "b"), (int64_t[]){r, b}),
                             ts_at(x1, 2, NA_NAMES("a", "b"), (int64_t[]){r, b}));
        for (int i = 0; i < n; i++)
            na_array_free(parts[i]);
        free(parts);
        TS_FREE(x1, x2r, x2, cat, st);
    }
}
