/* Array basics: construction, inspection, copies, printing. */
#include "support.h"

#include <stdlib.h>

Test(array, arange_reshape_tag_shape_string)
{
    na_array *x = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_arange(NULL, 30, NA_F32, &x));
    NA_OK_OR_FAIL(na_reshape(x, 3, (int64_t[]){2, 3, 5}, &y));
    char buf[128];
    na_shape_str(y, buf, sizeof buf);
    cr_assert_str_eq(buf, "f32[| 2 3 5]");
    cr_assert_eq(na_get(y, (int64_t[]){1, 2, 4}), 29.0);
    TS_FREE(x, y);
}

Test(array, zeros_named_shape_and_print)
{
    na_array *x = NULL;
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"seq", 8}, {"heads", 4}), &x));
    char buf[128];
    na_shape_str(x, buf, sizeof buf);
    cr_assert_str_eq(buf, "f32[seq:8, heads:4]");
    cr_assert_eq(na_axis_size(x, "heads"), 4);
    cr_assert_eq(na_axis_index(x, "seq"), 0);
    cr_assert_eq(na_axis_size(x, "nope"), -1);
    na_array_free(x);
}

Test(array, repeated_name_is_an_error)
{
    na_array *x = NULL;
    NA_EXPECT_FAIL(na_zeros(NA_F32, NA_DIMS({"a", 2}, {"a", 3}), &x), NA_ERR_AXIS,
                   "na_zeros", "'a'");
    cr_assert_null(x);
}

Test(array, reshape_size_mismatch_names_shapes)
{
    na_array *x = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_arange(NULL, 30, NA_F32, &x));
    NA_EXPECT_FAIL(na_reshape(x, 2, (int64_t[]){4, 8}, &y), NA_ERR_SHAPE,
                   "na_reshape", "f32[| 30]", "(4, 8)");
    na_array_free(x);
}

/* ---- constructors, every dtype ------------------------------------------ */

static const na_dtype k_dtypes[] = {NA_F32, NA_F64, NA_I32, NA_BOOL};

/* Every element of x equals v (read through na_get, any layout). */
static void expect_all(const na_array *x, double v)
{
    int64_t n = na_size(x), idx[NA_MAX_DIMS] = {0};
    for (int64_t i = 0; i < n; i++) {
        cr_assert_eq(na_get(x, idx), v, "%s element %lld", na_dtype_name(x->dtype),
                     (long long)i);
        for (int d = x->ndim - 1; d >= 0; d--) {
            if (++idx[d] < x->shape[d])
                break;
            idx[d] = 0;
        }
    }
}

Test(array, zeros_ones_full_every_dtype_odd_and_zero_sizes)
{
    const int64_t sizes[] = {0, 1, 7};
    for (size_t t = 0; t < 4; t++)
        for (size_t s = 0; s < 3; s++) {
            na_dtype dt = k_dtypes[t];
            na_array *z = NULL, *o = NULL, *f = NULL;
            NA_OK_OR_FAIL(na_zeros(dt, NA_DIMS({"a", 3}, {NULL, sizes[s]}, {"b", 5}), &z));
            NA_OK_OR_FAIL(na_ones(dt, NA_DIMS({"a", 3}, {NULL, sizes[s]}, {"b", 5}), &o));
            NA_OK_OR_FAIL(na_full(dt, NA_DIMS({"a", 3}, {NULL, sizes[s]}, {"b", 5}),
                                  -3.0, &f));
            cr_assert_eq(z->dtype, dt);
            cr_assert_eq(na_size(z), 15 * sizes[s]);
            cr_assert(na_is_contiguous(z));
            expect_all(z, 0.0);
            expect_all(o, 1.0);
            expect_all(f, dt == NA_BOOL ? 1.0 : -3.0);
            TS_FREE(z, o, f);
        }
}

Test(array, arange_from_data_scalar_every_dtype)
{
    for (size_t t = 0; t < 3; t++) { /* bool arange is an error, below */
        na_array *x = NULL;
        NA_OK_OR_FAIL(na_arange("seq", 13, k_dtypes[t], &x));
        ts_expect_shape(x, k_dtypes[t] == NA_F32   ? "f32[seq:13]"
                           : k_dtypes[t] == NA_F64 ? "f64[seq:13]"
                                                   : "i32[seq:13]");
        for (int64_t i = 0; i < 13; i++)
            cr_assert_eq(na_get(x, &i), (double)i);
        na_array_free(x);
    }
    na_array *e = NULL;
    NA_OK_OR_FAIL(na_arange(NULL, 0, NA_F32, &e));
    ts_expect_shape(e, "f32[| 0]");
    na_array_free(e);

    const double d[6] = {0.5, -1, 2, 3.25, -4, 5};
    const int32_t i[6] = {7, -8, 9, 0, 1, -2};
    const bool b[6] = {true, false, false, true, true, false};
    const void *src[] = {(const float[]){0.5f, -1, 2, 3.25f, -4, 5}, d, i, b};
    for (size_t t = 0; t < 4; t++) {
        na_array *x = NULL;
        NA_OK_OR_FAIL(na_from_data(k_dtypes[t], NA_DIMS({"r", 2}, {"c", 3}), src[t], &x));
        for (int64_t r = 0; r < 2; r++)
            for (int64_t c = 0; c < 3; c++) {
                double want = t < 2 ? d[r * 3 + c] : t == 2 ? i[r * 3 + c] : b[r * 3 + c];
                cr_assert_eq(ts_at(x, 2, NA_NAMES("r", "c"), (int64_t[]){r, c}), want);
            }
        na_array_free(x);
    }
    na_array *s = NULL;
    NA_OK_OR_FAIL(na_scalar(NA_F64, 2.5, &s));
    cr_assert_eq(s->ndim, 0);
    cr_assert_eq(na_size(s), 1);
    cr_assert_eq(na_get(s, NULL), 2.5);
    na_array_free(s);
}

Test(array, constructor_errors_name_op_and_leave_out_null)
{
    na_array *x = NULL;
    NA_EXPECT_FAIL(na_zeros((na_dtype)9, NA_DIMS({"a", 2}), &x), NA_ERR_DTYPE,
                   "na_zeros", "dtype 9");
    NA_EXPECT_FAIL(na_ones(NA_F32, NA_DIMS({"a", 2}, {"b", -1}), &x), NA_ERR_SHAPE,
                   "na_ones", "'b'", "-1");
    NA_EXPECT_FAIL(na_full(NA_I32, NA_DIMS({"a", 2}, {"", 3}), 1.0, &x),
                   NA_ERR_ARGUMENT, "na_full", "axis 1", "empty name");
    NA_EXPECT_FAIL(na_empty(NA_F32, NA_MAX_DIMS + 1, (na_dim[NA_MAX_DIMS + 1]){{0}}, &x),
                   NA_ERR_ARGUMENT, "na_empty", "17 dims");
    NA_EXPECT_FAIL(na_arange("a", 4, NA_BOOL, &x), NA_ERR_DTYPE, "na_arange", "bool");
    NA_EXPECT_FAIL(na_from_data(NA_F32, NA_DIMS({"a", 2}), NULL, &x), NA_ERR_ARGUMENT,
                   "na_from_data", "data");
    NA_EXPECT_FAIL(na_zeros(NA_F32, NA_DIMS({"a", 2}), NULL), NA_ERR_ARGUMENT,
                   "na_zeros", "out");
    cr_assert_null(x);
}

/* ---- copies of strided views, against loops ----------------------------- */

Test(array, copy_astype_contiguous_of_strided_views)
{
    na_array *x = ts_random(NA_F64, NA_DIMS({"a", 3}, {"b", 1}, {NULL, 5}), 11);
    na_array *s = ts_strided_copy(x);
    cr_assert(!na_is_contiguous(s));
    for (size_t t = 0; t < 4; t++) {
        na_array *y = NULL;
        NA_OK_OR_FAIL(na_astype(s, k_dtypes[t], &y));
        cr_assert(na_is_contiguous(y));
        cr_assert(na_same_shape(x, y));
        for (int64_t a = 0; a < 3; a++)
            for (int64_t p = 0; p < 5; p++) {
                double v = ts_at(x, 3, NA_NAMES("a", "b", "#0"), (int64_t[]){a, 0, p});
                double want = k_dtypes[t] == NA_F32   ? (double)(float)v
                              : k_dtypes[t] == NA_I32 ? (double)(int32_t)v
                              : k_dtypes[t] == NA_BOOL ? (double)(v != 0)
                                                       : v;
                cr_assert_eq(ts_at(y, 3, NA_NAMES("a", "b", "#0"), (int64_t[]){a, 0, p}),
                             want);
            }
        na_array_free(y);
    }
    na_array *c = NULL, *r = NULL, *cp = NULL;
    NA_OK_OR_FAIL(na_contiguous(s, &c));
    cr_assert_neq(c->storage, s->storage, "a strided view is copied");
    cr_assert_eq(ts_max_abs_diff(c, x), 0.0);
    NA_OK_OR_FAIL(na_contiguous(x, &r));
    cr_assert_eq(r->storage, x->storage, "a contiguous array is shared");
    NA_OK_OR_FAIL(na_copy(x, &cp));
    cr_assert_neq(cp->storage, x->storage);
    cr_assert_eq(ts_max_abs_diff(cp, x), 0.0);
    double buf[15];
    NA_OK_OR_FAIL(na_copy_to(s, NA_F64, buf));
    for (int64_t i = 0; i < 15; i++)
        cr_assert_eq(buf[i], ((double *)na_data(x))[i]);
    TS_FREE(x, s, c, r, cp);
}

static int g_released;
static void count_release(void *ctx) { g_released += *(int *)ctx; }

Test(array, wrap_shares_caller_memory_and_releases_once)
{
    float data[6] = {1, 2, 3, 4, 5, 6};
    int one = 1;
    g_released = 0;
    na_array *x = NULL, *v = NULL, *t = NULL;
    NA_OK_OR_FAIL(na_wrap(NA_F32, NA_DIMS({"r", 2}, {"c", 3}), data, count_release,
                          &one, &x));
    cr_assert_eq(na_data(x), (void *)data);
    NA_OK_OR_FAIL(na_array_ref(x, &v));
    NA_OK_OR_FAIL(na_untag(x, NA_NAMES("c", "r"), &t));
    ts_expect_shape(t, "f32[| 3 2]");
    cr_assert_eq(na_get(t, (int64_t[]){2, 1}), 6.0);
    TS_FREE(x, t);
    cr_assert_eq(g_released, 0, "released while a view is alive");
    na_array_free(v);
    cr_assert_eq(g_released, 1);
}

/* ---- printing ----------------------------------------------------------- */

static char *printed(const na_array *x)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    NA_OK_OR_FAIL(na_array_print(x, f));
    fclose(f);
    return text;
}

static void expect_printed(const na_array *x, const char *want)
{
    char *got = printed(x);
    cr_assert_str_eq(got, want);
    free(got);
}

Test(array, print_shows_dtype_named_shape_and_values)
{
    na_array *a = NULL, *x = NULL, *i = NULL, *b = NULL, *s = NULL, *z = NULL,
             *big = NULL;
    NA_OK_OR_FAIL(na_arange(NULL, 6, NA_F32, &a));
    NA_OK_OR_FAIL(na_reshape(a, 2, (int64_t[]){2, 3}, &x));
    na_array_free(a);
    NA_OK_OR_FAIL(na_tag(x, NA_NAMES("foo", "bar"), &a));
    expect_printed(a, "f32[foo:2, bar:3] axes (foo, bar):\n[[0, 1, 2],\n [3, 4, 5]]\n");
    /* A transposed view prints in its own dim order. */
    na_array *t = ts_permuted(a, (int[]){1, 0});
    expect_printed(t, "f32[bar:3, foo:2] axes (bar, foo):\n[[0, 3],\n [1, 4],\n [2, 5]]\n");
    NA_OK_OR_FAIL(na_arange(NULL, 4, NA_I32, &i));
    expect_printed(i, "i32[| 4] axes (#0):\n[0, 1, 2, 3]\n");
    NA_OK_OR_FAIL(na_from_data(NA_BOOL, NA_DIMS({"m", 3}), (bool[]){true, false, true}, &b));
    expect_printed(b, "bool[m:3] axes (m):\n[true, false, true]\n");
    NA_OK_OR_FAIL(na_scalar(NA_F64, 2.5, &s));
    expect_printed(s, "f64[]:\n2.5\n");
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"a", 0}), &z));
    expect_printed(z, "f32[a:0] axes (a):\n[]\n");
    NA_OK_OR_FAIL(na_arange("n", 10, NA_F64, &big));
    expect_printed(big, "f64[n:10] axes (n):\n[0, 1, 2, ..., 7, 8, 9]\n");
    NA_EXPECT_FAIL(na_array_print(NULL, stdout), NA_ERR_ARGUMENT, "na_array_print");
    na_array *all[] = {a, x, t, i, b, s, z, big};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        na_array_free(all[k]);
}
