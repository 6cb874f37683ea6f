/* Reductions, argmax, softmax and log-softmax against plain loops. */
#include <math.h>
#include <stdlib.h>

#include "support.h"
#include "internal.h"

static bool in_list(const char *name, const char *const *names)
{
    for (int i = 0; names && names[i]; i++)
        if (name && strcmp(name, names[i]) == 0)
            return true;
    return false;
}

typedef enum ref_kind { REF_SUM, REF_MEAN, REF_MAX, REF_MIN } ref_kind;

/* Reference reduction of x over names into a malloc'ed double array laid
 * out row-major over the kept dims (in x's order); also the kept count. */
static double *ref_reduce(const na_array *x, const char *const *names,
                          ref_kind kind, int64_t *nout)
{
    int64_t kept_stride[NA_MAX_DIMS], n = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        kept_stride[d] = in_list(x->name[d], names) ? 0 : n;
        n *= in_list(x->name[d], names) ? 1 : x->shape[d];
    }
    double *acc = malloc((size_t)(n ? n : 1) * sizeof *acc);
    int64_t *cnt = calloc((size_t)(n ? n : 1), sizeof *cnt);
    for (int64_t i = 0; i < n; i++)
        acc[i] = kind == REF_MAX ? -INFINITY : kind == REF_MIN ? INFINITY : 0;
    int64_t idx[NA_MAX_DIMS] = {0};
    if (na_size(x) > 0)
        do {
            int64_t o = 0;
            for (int d = 0; d < x->ndim; d++)
                o += idx[d] * kept_stride[d];
            double v = na_get(x, idx);
            cnt[o]++;
            if (kind == REF_MAX)
                acc[o] = v > acc[o] ? v : acc[o];
            else if (kind == REF_MIN)
                acc[o] = v < acc[o] ? v : acc[o];
            else
                acc[o] += v;
        } while (ts_next_index(x, idx));
    if (kind == REF_MEAN)
        for (int64_t i = 0; i < n; i++)
            acc[i] /= (double)cnt[i];
    free(cnt);
    *nout = n;
    return acc;
}

/* y (contiguous result) against the reference, element by element. */
static void check_against(const na_array *y, const double *want, int64_t n,
                          double tol)
{
    cr_assert_eq(na_size(y), n);
    cr_assert(na_is_contiguous(y));
    for (int64_t i = 0; i < n; i++) {
        double got = na__load(y->dtype, na_data(y), i);
        cr_assert(fabs(got - want[i]) <= tol * (1 + fabs(want[i])) ||
                      (isnan(got) && isnan(want[i])),
                  "element %lld: got %.9g want %.9g", (long long)i, got, want[i]);
    }
}

/* y's dims are x's dims without `names`, in x's order. */
static void check_kept_dims(const na_array *x, const char *const *names,
                            const na_array *y)
{
    int k = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (in_list(x->name[d], names))
            continue;
        cr_assert(k < y->ndim);
        cr_assert_eq(y->name[k], x->name[d], "dim %d: %s vs %s", k,
                     y->name[k] ? y->name[k] : "#", x->name[d] ? x->name[d] : "#");
        cr_assert_eq(y->shape[k], x->shape[d]);
        k++;
    }
    cr_assert_eq(k, y->ndim);
}

typedef na_status (*reduce_fn)(const na_array *, const char *const *, na_array **);

static void check_reduction(reduce_fn fn, ref_kind kind, const na_array *x,
                            const char *const *names, double tol)
{
    na_array *y = NULL;
    NA_OK_OR_FAIL(fn(x, names, &y));
    check_kept_dims(x, names, y);
    int64_t n;
    double *want = ref_reduce(x, names, kind, &n);
    check_against(y, want, n, tol);
    free(want);
    na_array_free(y);
}

static void all_reductions(const na_array *x, const char *const *names)
{
    check_reduction(na_sum, REF_SUM, x, names, 1e-6);
    check_reduction(na_mean, REF_MEAN, x, names, 1e-6);
    check_reduction(na_max, REF_MAX, x, names, 0);
    check_reduction(na_min, REF_MIN, x, names, 0);
}

static const char *const *subsets[] = {
    NA_NAMES("a"), NA_NAMES("b"), NA_NAMES("c"), NA_NAMES("a", "c"),
    NA_NAMES("c", "b"), NA_NAMES("a", "b", "c"), NULL};

Test(reduce, sum_mean_max_min_every_axis_subset)
{
    na_array *x = ts_random(NA_F32, NA_DIMS({"a", 7}, {"b", 13}, {"c", 5}), 1);
    na_array *sx = ts_strided_copy(x);
    na_array *px = ts_permuted(x, (int[]){2, 0, 1});
    na_array *d = ts_random(NA_F64, NA_DIMS({"c", 3}, {"b", 33}, {"a", 1}), 2);
    for (int i = 0; i < 7; i++) {
        all_reductions(x, subsets[i]);
        all_reductions(sx, subsets[i]);
        all_reductions(px, subsets[i]);
        all_reductions(d, subsets[i]);
    }
    TS_FREE(x, sx, px, d);
}

Test(reduce, keeps_remaining_dims_in_input_order_with_positional)
{
    na_array *x = ts_random(NA_F32, NA_DIMS({"a", 3}, {NULL, 4}, {"b", 5}, {NULL, 2}), 3);
    na_array *y = NULL;
    NA_OK_OR_FAIL(na_sum(x, NA_NAMES("b"), &y));
    char buf[64];
    na_shape_str(y, buf, sizeof buf);
    cr_assert_str_eq(buf, "f32[a:3 | 4 2]");
    cr_assert_null(y->name[1]);
    na_array_free(y);
    all_reductions(x, NA_NAMES("a", "b"));
    na_array_free(x);
}

Test(reduce, integer_and_bool_dtypes)
{
    na_array *i = ts_random(NA_I32, NA_DIMS({"a", 13}, {"b", 7}, {"c", 3}), 4);
    na_array *b = ts_random(NA_BOOL, NA_DIMS({"c", 3}, {"a", 13}, {"b", 7}), 5);
    na_array *y = NULL;
    NA_OK_OR_FAIL(na_sum(i, NA_NAMES("a"), &y));
    cr_assert_eq(y->dtype, NA_I32);
    na_array_free(y);
    NA_OK_OR_FAIL(na_sum(b, NA_NAMES("b"), &y));
    cr_assert_eq(y->dtype, NA_I32); /* a count */
    na_array_free(y);
    NA_OK_OR_FAIL(na_mean(i, NA_NAMES("b"), &y));
    cr_assert_eq(y->dtype, NA_F32);
    na_array_free(y);
    NA_OK_OR_FAIL(na_max(b, NA_NAMES("b"), &y));
    cr_assert_eq(y->dtype, NA_BOOL);
    na_array_free(y);
    for (int k = 0; k < 7; k++) {
        all_reductions(i, subsets[k]);
        all_reductions(b, subsets[k]);
    }
    TS_FREE(i, b);
}

Test(reduce, zero_size_axes)
{
    na_array *x = ts_random(NA_F32, NA_DIMS({"a", 0}, {"b", 3}), 6);
    na_array *y = NULL;
    NA_OK_OR_FAIL(na_sum(x, NA_NAMES("a"), &y));
    cr_assert_eq(y->ndim, 1);
    for (int64_t k = 0; k < 3; k++)
        cr_assert_eq(na_get(y, &k), 0.0);
    na_array_free(y);
    NA_OK_OR_FAIL(na_mean(x, NA_NAMES("a"), &y)); /* documented: NaN */
    cr_assert(isnan(na_get(y, (int64_t[]){0})));
    na_array_free(y);
    NA_OK_OR_FAIL(na_max(x, NA_NAMES("b"), &y)); /* nothing to reduce per slot */
    cr_assert_eq(na_size(y), 0);
    na_array_free(y);
    y = NULL;
    NA_EXPECT_FAIL(na_max(x, NA_NAMES("a"), &y), NA_ERR_SHAPE, "na_max", "zero",
                   "f32[a:0, b:3]");
    NA_EXPECT_FAIL(na_min(x, NA_NAMES("a", "b"), &y), NA_ERR_SHAPE, "na_min");
    NA_EXPECT_FAIL(na_argmax(x, "a", &y), NA_ERR_SHAPE, "na_argmax", "'a'");
    cr_assert_null(y);
    NA_OK_OR_FAIL(na_softmax(x, NA_NAMES("a"), &y));
    cr_assert_eq(na_size(y), 0);
    TS_FREE(y, x);
}

Test(reduce, absent_or_repeated_axis_is_an_axis_error)
{
    na_array *x = ts_random(NA_F32, NA_DIMS({"a", 7}, {"b", 13}, {"c", 5}), 1);
    na_array *y = NULL;
    NA_EXPECT_FAIL(na_sum(x, NA_NAMES("a", "nope"), &y), NA_ERR_AXIS,
                   "na_sum", "'nope'", "f32[a:7, b:13, c:5]");
    NA_EXPECT_FAIL(na_mean(x, NA_NAMES("b", "b"), &y), NA_ERR_AXIS, "na_mean",
                   "'b'", "twice");
    NA_EXPECT_FAIL(na_argmax(x, "z", &y), NA_ERR_AXIS, "na_argmax", "'z'",
                   "f32[a:7, b:13, c:5]");
    NA_EXPECT_FAIL(na_softmax(x, NA_NAMES("kv_seq"), &y), NA_ERR_AXIS,
                   "na_softmax", "'kv_seq'", "f32[a:7, b:13, c:5]");
    NA_EXPECT_FAIL(na_log_softmax(x, NA_NAMES("c", "c"), &y), NA_ERR_AXIS,
                   "na_log_softmax", "'c'");
    cr_assert_null(y);
    na_array_free(x);
}

Test(reduce, empty_list_reduces_nothing)
{
    na_array *x = ts_random(NA_F32, NA_DIMS({"a", 7}, {"b", 3}), 1);
    na_array *y = NULL;
    NA_OK_OR_FAIL(na_sum(x, NULL, &y));
    cr_assert_eq(ts_max_abs_diff(x, y), 0.0);
    na_array_free(y);
    NA_OK_OR_FAIL(na_max(x, NA_NAMES(NULL), &y));
    cr_assert_eq(ts_max_abs_diff(x, y), 0.0);
    TS_FREE(y, x);
}

Test(reduce, large_sums_are_accurate_and_parallel)
{
    na_set_num_threads(4);
    na_array *x = ts_random(NA_F32, NA_DIMS({"r", 513}, {"c", 257}), 7);
    na_array *xt = ts_permuted(x, (int[]){1, 0});
    const char *const *lists[] = {NA_NAMES("r"), NA_NAMES("c"),
                                  NA_NAMES("r", "c")};
    for (int k = 0; k < 3; k++) {
        check_reduction(na_sum, REF_SUM, x, lists[k], 1e-6);
        check_reduction(na_max, REF_MAX, xt, lists[k], 0);
        check_reduction(na_mean, REF_MEAN, xt, lists[k], 1e-6);
    }
    /* a long sum of equal values: exact in a double accumulator */
    na_array *ones = NULL, *s = NULL;
    NA_OK_OR_FAIL(na_full(NA_F32, NA_DIMS({"n", 20000001}), 0.1, &ones));
    NA_OK_OR_FAIL(na_sum(ones, NA_NAMES("n"), &s));
    cr_assert_eq(na_get(s, NULL), (double)(float)(20000001 * (double)0.1f));
    na_set_num_threads(0);
    TS_FREE(s, ones, x, xt);
}

/* ---- argmax ------------------------------------------------------------ */

static void check_argmax(const na_array *x, const char *name)
{
    na_array *y = NULL;
    NA_OK_OR_FAIL(na_argmax(x, name, &y));
    cr_assert_eq(y->dtype, NA_I32);
    check_kept_dims(x, NA_NAMES(name), y);
    int ax = na_axis_index(x, name);
    int64_t yidx[NA_MAX_DIMS] = {0}, xidx[NA_MAX_DIMS];
    if (na_size(y) > 0)
        do {
            for (int d = 0, k = 0; d < x->ndim; d++)
                xidx[d] = d == ax ? 0 : yidx[k++];
            int64_t best = 0;
            double bv = na_get(x, xidx);
            for (int64_t i = 1; i < x->shape[ax]; i++) {
                xidx[ax] = i;
                if (na_get(x, xidx) > bv) {
                    bv = na_get(x, xidx);
                    best = i;
                }
            }
            cr_assert_eq(na_get(y, yidx), (double)best);
        } while (ts_next_index(y, yidx));
    na_array_free(y);
}

Test(reduce, argmax_against_reference)
{
    na_array *x = ts_random(NA_F32, NA_DIMS({"a", 7}, {"b", 13}, {"c", 5}), 9);
    na_array *sx = ts_strided_copy(x);
    na_array *i = ts_random(NA_I32, NA_DIMS({"a", 33}, {"b", 3}), 10);
    const char *axes[] = {"a", "b", "c"};
    for (int k = 0; k < 3; k++) {
        check_argmax(x, axes[k]);
        check_argmax(sx, axes[k]);
    }
    check_argmax(i, "a"); /* i32 data in [-100, 100]: ties happen */
    check_argmax(i, "b");
    TS_FREE(x, sx, i);
}

Test(reduce, argmax_first_on_ties)
{
    na_array *x = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"v", 6}),
                               (float[]){1, 3, 2, 3, 3, 0}, &x));
    NA_OK_OR_FAIL(na_argmax(x, "v", &y));
    cr_assert_eq(y->ndim, 0);
    cr_assert_eq(((int32_t *)na_data(y))[0], 1);
    TS_FREE(x, y);
}

/* ---- softmax ----------------------------------------------------------- */

/* Reference (log-)softmax of x over names, compared element by element. */
static void check_softmax(const na_array *x, const char *const *names,
                          bool log_sm, double tol)
{
    na_array *y = NULL;
    NA_OK_OR_FAIL((log_sm ? na_log_softmax : na_softmax)(x, names, &y));
    cr_assert(na_same_shape(x, y));
    int64_t n;
    double *mx = ref_reduce(x, names, REF_MAX, &n);
    double *sum = calloc((size_t)(n ? n : 1), sizeof *sum);
    int64_t kept_stride[NA_MAX_DIMS], m = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        kept_stride[d] = in_list(x->name[d], names) ? 0 : m;
        m *= in_list(x->name[d], names) ? 1 : x->shape[d];
    }
    int64_t idx[NA_MAX_DIMS] = {0};
    for (int pass = 0; pass < 2 && na_size(x) > 0; pass++) {
        memset(idx, 0, sizeof idx);
        do {
            int64_t o = 0;
            for (int d = 0; d < x->ndim; d++)
                o += idx[d] * kept_stride[d];
            double v = na_get(x, idx) - mx[o];
            if (pass == 0) {
                sum[o] += exp(v);
                continue;
            }
            double want = log_sm ? v - log(sum[o]) : exp(v) / sum[o];
            double got = na_get(y, idx);
            cr_assert(fabs(got - want) <= tol * (1 + fabs(want)),
                      "got %.9g want %.9g", got, want);
        } while (ts_next_index(x, idx));
    }
    free(mx);
    free(sum);
    na_array_free(y);
}

Test(reduce, softmax_and_log_softmax_against_reference)
{
    na_array *x = ts_random(NA_F32, NA_DIMS({"a", 7}, {"b", 13}, {"c", 5}), 11);
    na_array *big = NULL, *sx = ts_strided_copy(x);
    na_array *px = ts_permuted(x, (int[]){1, 2, 0});
    NA_OK_OR_FAIL(na_binary_scalar(NA_MUL, x, 40.0, &big)); /* wide range */
    na_array *d = ts_random(NA_F64, NA_DIMS({"c", 3}, {"a", 33}, {"b", 1}), 12);
    for (int i = 0; i < 7; i++) {
        for (int lg = 0; lg < 2; lg++) {
            check_softmax(x, subsets[i], lg, 1e-6);
            check_softmax(sx, subsets[i], lg, 1e-6);
            check_softmax(px, subsets[i], lg, 1e-6);
            check_softmax(big, subsets[i], lg, 1e-5);
            check_softmax(d, subsets[i], lg, 1e-12);
        }
    }
    na_array *arr[] = {x, big, sx, px, d};
    for (int k = 0; k < 5; k++)
        na_array_free(arr[k]);
}

Test(reduce, softmax_is_stable_and_sums_to_one)
{
    na_array *x = NULL, *y = NULL, *s = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"q", 2}, {"kv", 3}),
                               (float[]){1000, 1001, 1002, -1e30f, 0, -1e30f}, &x));
    NA_OK_OR_FAIL(na_softmax(x, NA_NAMES("kv"), &y));
    NA_OK_OR_FAIL(na_sum(y, NA_NAMES("kv"), &s));
    for (int64_t q = 0; q < 2; q++)
        cr_assert_float_eq(na_get(s, &q), 1.0, 1e-6);
    cr_assert_float_eq(na_get(y, (int64_t[]){0, 2}), 0.66524096, 1e-6);
    cr_assert_eq(na_get(y, (int64_t[]){1, 1}), 1.0);
    TS_FREE(x, y, s);
}

Test(reduce, all_minus_inf_group_is_uniform)
{
    float ninf = -INFINITY;
    na_array *x = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"q", 2}, {"kv", 4}),
                               (float[]){ninf, ninf, ninf, ninf, 0, ninf, 1, ninf},
                               &x));
    NA_OK_OR_FAIL(na_softmax(x, NA_NAMES("kv"), &y));
    for (int64_t k = 0; k < 4; k++)
        cr_assert_float_eq(na_get(y, (int64_t[]){0, k}), 0.25, 1e-7);
    cr_assert_eq(na_get(y, (int64_t[]){1, 1}), 0.0);
    na_array_free(y);
    NA_OK_OR_FAIL(na_log_softmax(x, NA_NAMES("kv"), &y));
    for (int64_t k = 0; k < 4; k++)
        cr_assert_float_eq(na_get(y, (int64_t[]){0, k}), -log(4.0), 1e-6);
    cr_assert_eq(na_get(y, (int64_t[]){1, 1}), -INFINITY);
    TS_FREE(y, x);
}

Test(reduce, large_softmax_parallel_both_layouts)
{
    na_set_num_threads(4);
    na_array *x = ts_random(NA_F32, NA_DIMS({"q", 300}, {"kv", 257}), 13);
    na_array *xt = ts_permuted(x, (int[]){1, 0});
    check_softmax(x, NA_NAMES("kv"), false, 1e-6);
    check_softmax(x, NA_NAMES("q"), true, 1e-6);
    check_softmax(xt, NA_NAMES("kv"), false, 1e-6);
    check_softmax(x, NA_NAMES("q", "kv"), false, 1e-6);
    na_set_num_threads(0);
    TS_FREE(x, xt);
}

Test(reduce, softmax_of_int_gives_f32)
{
    na_array *i = ts_random(NA_I32, NA_DIMS({"a", 5}), 1), *y = NULL;
    NA_OK_OR_FAIL(na_softmax(i, NA_NAMES("a"), &y));
    cr_assert_eq(y->dtype, NA_F32);
    TS_FREE(y, i);
}
