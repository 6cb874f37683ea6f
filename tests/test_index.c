/* Indexing by name: na_index_by (views and gathers), na_at_set, na_at_add
 * (Penzai's mapped update over the ids' named axes). */
#include "support.h"

#include <math.h>

static na_array *ids_of(int ndim, const na_dim *dims, const int32_t *v)
{
    na_array *ids = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_I32, ndim, dims, v, &ids));
    return ids;
}

/* Write one element (dim-order coordinates) of an array we own. */
static void put(na_array *x, const int64_t *idx, double v)
{
    int64_t off = 0;
    for (int d = 0; d < x->ndim; d++)
        off += idx[d] * x->stride[d];
    switch (x->dtype) {
    case NA_F32: ((float *)na_data(x))[off] = (float)v; break;
    case NA_F64: ((double *)na_data(x))[off] = v; break;
    case NA_I32: ((int32_t *)na_data(x))[off] = (int32_t)v; break;
    case NA_BOOL: ((bool *)na_data(x))[off] = v != 0; break;
    case NA_BF16: ((na_bf16 *)na_data(x))[off] = na_bf16_from_f32((float)v); break;
    }
}

/* ---- published Penzai cases --------------------------------------------- */

Test(index, penzai_untag_then_positional_index)
{
    na_array *x = ts_penzai_x(), *u = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_untag(x, NA_NAMES("baz", "bar"), &u));
    na_index idx[] = {NA_POS_AT(0, 2), NA_POS_REVERSED(1)};
    NA_OK_OR_FAIL(na_index_by(u, 2, idx, &y));
    ts_expect_shape(y, "f32[foo:2 | 3]");
    cr_assert_eq(y->storage, x->storage, "indexing without gathers is a view");
    const double want[3][2] = {{12, 27}, {7, 22}, {2, 17}};
    for (int64_t r = 0; r < 3; r++)
        for (int64_t f = 0; f < 2; f++)
            cr_assert_eq(ts_at(y, 2, NA_NAMES("#0", "foo"), (int64_t[]){r, f}),
                         want[r][f], "[%lld][%lld]", (long long)r, (long long)f);
    TS_FREE(x, u, y);
}

Test(index, penzai_index_by_name)
{
    na_array *x = ts_penzai_x(), *y = NULL;
    na_index idx[] = {NA_AT("baz", 2), NA_REVERSED("bar")};
    NA_OK_OR_FAIL(na_index_by(x, 2, idx, &y));
    ts_expect_shape(y, "f32[foo:2, bar:3]");
    cr_assert_eq(y->storage, x->storage);
    const double want[2][3] = {{12, 7, 2}, {27, 22, 17}};
    for (int64_t f = 0; f < 2; f++)
        for (int64_t b = 0; b < 3; b++)
            cr_assert_eq(ts_at(y, 2, NA_NAMES("foo", "bar"), (int64_t[]){f, b}),
                         want[f][b]);
    TS_FREE(x, y);
}

/* table {vocab:100, features:3} = arange(300); ids {batch:5}. */
static na_array *penzai_table(void)
{
    na_array *a = NULL, *b = NULL, *t = NULL;
    NA_OK_OR_FAIL(na_arange(NULL, 300, NA_F32, &a));
    NA_OK_OR_FAIL(na_reshape(a, 2, (int64_t[]){100, 3}, &b));
    NA_OK_OR_FAIL(na_tag(b, NA_NAMES("vocab", "features"), &t));
    TS_FREE(a, b);
    return t;
}

Test(index, penzai_gather_embedding_lookup)
{
    na_array *table = penzai_table(), *y = NULL;
    na_array *ids = ids_of(NA_DIMS({"batch", 5}), (int32_t[]){2, 61, 3, 10, 40});
    NA_OK_OR_FAIL(na_index_by(table, 1, &NA_GATHER("vocab", ids), &y));
    ts_expect_shape(y, "f32[features:3, batch:5]");
    cr_assert_neq(y->storage, table->storage);
    const double want[5] = {6, 183, 9, 30, 120};
    for (int64_t b = 0; b < 5; b++) {
        cr_assert_eq(ts_at(y, 2, NA_NAMES("features", "batch"), (int64_t[]){0, b}),
                     want[b]);
        cr_assert_eq(ts_at(y, 2, NA_NAMES("features", "batch"), (int64_t[]){2, b}),
                     want[b] + 2);
    }
    TS_FREE(table, ids, y);
}

/* ---- ranges: python slice semantics --------------------------------------- */

typedef struct slice_case {
    int64_t len, start, stop, step, count;
    int64_t idx[8];
} slice_case;

/* Expected indices from python: list(range(len))[start:stop:step] (NA_END
 * standing for None as a stop or as a start with step < 0). */
static const slice_case k_slices[] = {
    {0, 0, NA_END, 1, 0, {0}},
    {0, NA_END, NA_END, -1, 0, {0}},
    {0, 1, 6, 2, 0, {0}},
    {0, 5, 0, -2, 0, {0}},
    {0, -2, NA_END, -3, 0, {0}},
    {0, 10, -10, 1, 0, {0}},
    {0, -10, 10, 1, 0, {0}},
    {0, 0, -1, 1, 0, {0}},
    {0, 2, 2, 1, 0, {0}},
    {0, -1, NA_END, -1, 0, {0}},
    {0, NA_END, 3, -1, 0, {0}},
    {0, 3, NA_END, 2, 0, {0}},
    {0, 6, NA_END, -4, 0, {0}},
    {0, -100, NA_END, -1, 0, {0}},
    {0, NA_END, -100, -1, 0, {0}},
    {0, 1, NA_END, 100, 0, {0}},
    {0, NA_END, NA_END, -100, 0, {0}},
    {0, NA_END, NA_END, 1, 0, {0}},
    {1, 0, NA_END, 1, 1, {0}},
    {1, NA_END, NA_END, -1, 1, {0}},
    {1, 1, 6, 2, 0, {0}},
    {1, 5, 0, -2, 0, {0}},
    {1, -2, NA_END, -3, 0, {0}},
    {1, 10, -10, 1, 0, {0}},
    {1, -10, 10, 1, 1, {0}},
    {1, 0, -1, 1, 0, {0}},
    {1, 2, 2, 1, 0, {0}},
    {1, -1, NA_END, -1, 1, {0}},
    {1, NA_END, 3, -1, 0, {0}},
    {1, 3, NA_END, 2, 0, {0}},
    {1, 6, NA_END, -4, 1, {0}},
    {1, -100, NA_END, -1, 0, {0}},
    {1, NA_END, -100, -1, 1, {0}},
    {1, 1, NA_END, 100, 0, {0}},
    {1, NA_END, NA_END, -100, 1, {0}},
    {1, NA_END, NA_END, 1, 0, {0}},
    {5, 0, NA_END, 1, 5, {0, 1, 2, 3, 4}},
    {5, NA_END, NA_END, -1, 5, {4, 3, 2, 1, 0}},
    {5, 1, 6, 2, 2, {1, 3}},
    {5, 5, 0, -2, 2, {4, 2}},
    {5, -2, NA_END, -3, 2, {3, 0}},
    {5, 10, -10, 1, 0, {0}},
    {5, -10, 10, 1, 5, {0, 1, 2, 3, 4}},
    {5, 0, -1, 1, 4, {0, 1, 2, 3}},
    {5, 2, 2, 1, 0, {0}},
    {5, -1, NA_END, -1, 5, {4, 3, 2, 1, 0}},
    {5, NA_END, 3, -1, 1, {4}},
    {5, 3, NA_END, 2, 1, {3}},
    {5, 6, NA_END, -4, 2, {4, 0}},
    {5, -100, NA_END, -1, 0, {0}},
    {5, NA_END, -100, -1, 5, {4, 3, 2, 1, 0}},
    {5, 1, NA_END, 100, 1, {1}},
    {5, NA_END, NA_END, -100, 1, {4}},
    {5, NA_END, NA_END, 1, 0, {0}},
    {7, 0, NA_END, 1, 7, {0, 1, 2, 3, 4, 5, 6}},
    {7, NA_END, NA_END, -1, 7, {6, 5, 4, 3, 2, 1, 0}},
    {7, 1, 6, 2, 3, {1, 3, 5}},
    {7, 5, 0, -2, 3, {5, 3, 1}},
    {7, -2, NA_END, -3, 2, {5, 2}},
    {7, 10, -10, 1, 0, {0}},
    {7, -10, 10, 1, 7, {0, 1, 2, 3, 4, 5, 6}},
    {7, 0, -1, 1, 6, {0, 1, 2, 3, 4, 5}},
    {7, 2, 2, 1, 0, {0}},
    {7, -1, NA_END, -1, 7, {6, 5, 4, 3, 2, 1, 0}},
    {7, NA_END, 3, -1, 3, {6, 5, 4}},
    {7, 3, NA_END, 2, 2, {3, 5}},
    {7, 6, NA_END, -4, 2, {6, 2}},
    {7, -100, NA_END, -1, 0, {0}},
    {7, NA_END, -100, -1, 7, {6, 5, 4, 3, 2, 1, 0}},
    {7, 1, NA_END, 100, 1, {1}},
    {7, NA_END, NA_END, -100, 1, {6}},
    {7, NA_END, NA_END, 1, 0, {0}},
};

static void check_slice(const na_array *x, const na_array *y, const slice_case *c)
{
    cr_assert_eq(y->shape[0], c->count, "len %lld [%lld:%lld:%lld] gives %lld",
                 (long long)c->len, (long long)c->start, (long long)c->stop,
                 (long long)c->step, (long long)y->shape[0]);
    for (int64_t k = 0; k < c->count; k++)
        for (int64_t j = 0; j < 3; j++)
            cr_assert_eq(na_get(y, (int64_t[]){k, j}),
                         na_get(x, (int64_t[]){c->idx[k], j}));
}

Test(index, ranges_follow_python_slices)
{
    int n = (int)(sizeof k_slices / sizeof k_slices[0]);
    for (int i = 0; i < n; i++) {
        const slice_case *c = &k_slices[i];
        na_array *x = ts_random(NA_F64, NA_DIMS({"a", c->len}, {"b", 3}), (uint64_t)i);
        na_array *xs = ts_strided_copy(x), *u = NULL, *y = NULL, *z = NULL, *w = NULL;
        NA_OK_OR_FAIL(na_index_by(x, 1, &NA_RANGE("a", c->start, c->stop, c->step), &y));
        NA_OK_OR_FAIL(na_index_by(xs, 1, &NA_RANGE("a", c->start, c->stop, c->step), &z));
        NA_OK_OR_FAIL(na_untag(xs, NA_NAMES("a", "b"), &u));
        NA_OK_OR_FAIL(na_index_by(u, 1, &NA_POS_RANGE(0, c->start, c->stop, c->step), &w));
        check_slice(x, y, c);
        check_slice(x, z, c);
        check_slice(x, w, c);
        cr_assert_eq(y->name[0], na_intern("a"));
        TS_FREE(x, xs, u, y, z, w);
    }
}

Test(index, mixed_view_index_against_loops)
{
    na_array *x0 = ts_random(NA_F32, NA_DIMS({"a", 7}, {"b", 1}, {"c", 5}, {NULL, 3}), 21);
    na_array *x = ts_strided_copy(x0), *y = NULL;
    na_index idx[] = {NA_RANGE("a", 5, 0, -2), NA_AT("c", -2),
                      NA_POS_RANGE(0, 0, NA_END, 2), NA_NEWAXIS("z")};
    NA_OK_OR_FAIL(na_index_by(x, 4, idx, &y));
    ts_expect_shape(y, "f32[a:3, b:1, z:1 | 2]");
    cr_assert_eq(y->storage, x->storage);
    const int64_t as[] = {5, 3, 1};
    for (int64_t i = 0; i < 3; i++)
        for (int64_t p = 0; p < 2; p++)
            cr_assert_eq(ts_at(y, 4, NA_NAMES("a", "b", "z", "#0"),
                               (int64_t[]){i, 0, 0, p}),
                         ts_at(x0, 4, NA_NAMES("a", "b", "c", "#0"),
                               (int64_t[]){as[i], 0, 3, 2 * p}));
    TS_FREE(x0, x, y);
}

Test(index, zero_size_axes_and_empty_index)
{
    na_array *x = ts_random(NA_F32, NA_DIMS({"a", 0}, {"b", 3}), 1);
    na_array *y = NULL, *z = NULL, *w = NULL, *out = NULL;
    NA_OK_OR_FAIL(na_index_by(x, 1, &NA_AT("b", 1), &y));
    ts_expect_shape(y, "f32[a:0]");
    NA_OK_OR_FAIL(na_index_by(x, 0, NULL, &z));
    cr_assert_eq(z->storage, x->storage);
    na_array *none = ids_of(1, (na_dim[]){{"k", 0}}, (int32_t[]){0});
    na_array *two = ids_of(NA_DIMS({"k", 2}), (int32_t[]){0, 0});
    NA_OK_OR_FAIL(na_index_by(x, 1, &NA_GATHER("a", none), &w));
    ts_expect_shape(w, "f32[b:3, k:0]");
    NA_EXPECT_FAIL(na_index_by(x, 1, &NA_GATHER("a", two), &out), NA_ERR_INDEX,
                   "na_index_by", "'a'", "size 0");
    cr_assert_null(out);
    TS_FREE(x, y, z, w, none, two);
}

/* ---- gathers ------------------------------------------------------------- */

Test(index, gather_with_two_id_axes_negative_ids_strided)
{
    na_array *x0 = ts_random(NA_F32, NA_DIMS({"v", 7}, {"f", 3}, {"g", 2}), 5);
    na_array *x = ts_strided_copy(x0), *y = NULL;
    const int32_t raw[8] = {0, 6, -1, 3, 2, 2, 5, -7};
    na_array *ids0 = ids_of(NA_DIMS({"batch", 4}, {"seq", 2}), raw);
    na_array *ids = ts_strided_copy(ids0);
    NA_OK_OR_FAIL(na_index_by(x, 1, &NA_GATHER("v", ids), &y));
    ts_expect_shape(y, "f32[f:3, g:2, batch:4, seq:2]");
    for (int64_t b = 0; b < 4; b++)
        for (int64_t s = 0; s < 2; s++) {
            int64_t v = raw[b * 2 + s] < 0 ? raw[b * 2 + s] + 7 : raw[b * 2 + s];
            for (int64_t f = 0; f < 3; f++)
                for (int64_t g = 0; g < 2; g++)
                    cr_assert_eq(ts_at(y, 4, NA_NAMES("f", "g", "batch", "seq"),
                                       (int64_t[]){f, g, b, s}),
                                 ts_at(x0, 3, NA_NAMES("v", "f", "g"),
                                       (int64_t[]){v, f, g}));
        }
    TS_FREE(x0, x, ids0, ids, y);
}

Test(index, gather_mixed_with_at_and_reversed_range)
{
    na_array *x = ts_random(NA_F64, NA_DIMS({"v", 7}, {"f", 3}, {"g", 2}), 6);
    na_array *ids = ids_of(NA_DIMS({"k", 3}), (int32_t[]){4, 4, 1}), *y = NULL;
    na_index idx[] = {NA_GATHER("v", ids), NA_AT("g", 1), NA_REVERSED("f")};
    NA_OK_OR_FAIL(na_index_by(x, 3, idx, &y));
    ts_expect_shape(y, "f64[f:3, k:3]");
    const int64_t vs[] = {4, 4, 1};
    for (int64_t f = 0; f < 3; f++)
        for (int64_t k = 0; k < 3; k++)
            cr_assert_eq(ts_at(y, 2, NA_NAMES("f", "k"), (int64_t[]){f, k}),
                         ts_at(x, 3, NA_NAMES("v", "f", "g"),
                               (int64_t[]){vs[k], 2 - f, 1}));
    TS_FREE(x, ids, y);
}

Test(index, two_gathers_broadcast_ids_by_name)
{
    na_array *x = ts_random(NA_F32, NA_DIMS({"r", 5}, {"c", 6}), 8), *y = NULL, *z = NULL;
    na_array *i1 = ids_of(NA_DIMS({"k", 4}), (int32_t[]){0, 4, 2, 1});
    na_array *i2 = ids_of(NA_DIMS({"k", 4}), (int32_t[]){5, 0, 3, 3});
    na_array *i3 = ids_of(NA_DIMS({"m", 2}), (int32_t[]){1, 2});
    na_index same[] = {NA_GATHER("r", i1), NA_GATHER("c", i2)};
    NA_OK_OR_FAIL(na_index_by(x, 2, same, &y));
    ts_expect_shape(y, "f32[k:4]");
    const int64_t r1[] = {0, 4, 2, 1}, c1[] = {5, 0, 3, 3};
    for (int64_t k = 0; k < 4; k++)
        cr_assert_eq(na_get(y, &k), na_get(x, (int64_t[]){r1[k], c1[k]}));
    na_index outer[] = {NA_GATHER("c", i3), NA_GATHER("r", i1)};
    NA_OK_OR_FAIL(na_index_by(x, 2, outer, &z));
    for (int64_t k = 0; k < 4; k++)
        for (int64_t m = 0; m < 2; m++)
            cr_assert_eq(ts_at(z, 2, NA_NAMES("k", "m"), (int64_t[]){k, m}),
                         na_get(x, (int64_t[]){r1[k], m + 1}));
    TS_FREE(x, i1, i2, i3, y, z);
}

Test(index, gather_on_positional_axis)
{
    na_array *table = penzai_table(), *u = NULL, *y = NULL;
    na_array *ids = ids_of(NA_DIMS({"batch", 2}), (int32_t[]){99, 1});
    NA_OK_OR_FAIL(na_untag(table, NA_NAMES("vocab"), &u));
    na_index g = {.axis = NULL, .pos = 0, .kind = NA_INDEX_GATHER, .ids = ids};
    NA_OK_OR_FAIL(na_index_by(u, 1, &g, &y));
    ts_expect_shape(y, "f32[features:3, batch:2]");
    cr_assert_eq(ts_at(y, 2, NA_NAMES("features", "batch"), (int64_t[]){1, 0}), 298.0);
    cr_assert_eq(ts_at(y, 2, NA_NAMES("features", "batch"), (int64_t[]){2, 1}), 5.0);
    TS_FREE(table, u, ids, y);
}

/* ---- index errors -------------------------------------------------------- */

Test(index, index_errors_name_op_axes_and_shapes)
{
    na_array *x = ts_penzai_x(), *out = NULL;
    const char *sx = "f32[foo:2, bar:3, baz:5]";
    NA_EXPECT_FAIL(na_index_by(x, 1, &NA_AT("bar", 3), &out), NA_ERR_INDEX,
                   "na_index_by", "index 3", "'bar'", "size 3", sx);
    NA_EXPECT_FAIL(na_index_by(x, 1, &NA_AT("bar", -4), &out), NA_ERR_INDEX,
                   "na_index_by", "index -4", "'bar'", sx);
    NA_EXPECT_FAIL(na_index_by(x, 1, &NA_AT("qux", 0), &out), NA_ERR_AXIS,
                   "na_index_by", "'qux'", sx);
    na_index twice[] = {NA_AT("bar", 0), NA_RANGE("bar", 0, 2, 1)};
    NA_EXPECT_FAIL(na_index_by(x, 2, twice, &out), NA_ERR_AXIS, "na_index_by",
                   "'bar'", "twice", sx);
    NA_EXPECT_FAIL(na_index_by(x, 1, &NA_RANGE("baz", 0, 5, 0), &out),
                   NA_ERR_INDEX, "na_index_by", "step 0", "'baz'", sx);
    NA_EXPECT_FAIL(na_index_by(x, 1, &NA_POS_AT(0, 0), &out), NA_ERR_AXIS,
                   "na_index_by", "positional 0", sx);
    NA_EXPECT_FAIL(na_index_by(x, 1, &NA_NEWAXIS("foo"), &out), NA_ERR_AXIS,
                   "na_index_by", "'foo'", sx);
    NA_EXPECT_FAIL(na_index_by(x, 1, &(na_index){.kind = NA_INDEX_NEW}, &out),
                   NA_ERR_ARGUMENT, "na_index_by", "name", sx);
    NA_EXPECT_FAIL(na_index_by(x, -1, NULL, &out), NA_ERR_ARGUMENT, "na_index_by");
    cr_assert_null(out);
    na_array_free(x);
}

Test(index, gather_errors_name_op_axes_and_shapes)
{
    na_array *table = penzai_table(), *out = NULL, *fids = NULL, *pids = NULL;
    const char *st = "f32[vocab:100, features:3]";
    na_array *bad = ids_of(NA_DIMS({"batch", 5}), (int32_t[]){2, 100, 3, 10, 40});
    na_array *clash = ids_of(NA_DIMS({"features", 2}), (int32_t[]){1, 2});
    na_array *k3 = ids_of(NA_DIMS({"k", 3}), (int32_t[]){1, 2, 0});
    na_array *k2 = ids_of(NA_DIMS({"k", 2}), (int32_t[]){1, 2});
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"batch", 2}), &fids));
    NA_OK_OR_FAIL(na_zeros(NA_I32, NA_DIMS({NULL, 2}), &pids));
    NA_EXPECT_FAIL(na_index_by(table, 1, &NA_GATHER("vocab", bad), &out),
                   NA_ERR_INDEX, "na_index_by", "id 100", "batch=1", "'vocab'",
                   "size 100", st, "i32[batch:5]");
    NA_EXPECT_FAIL(na_index_by(table, 1, &NA_GATHER("vocab", fids), &out),
                   NA_ERR_DTYPE, "na_index_by", "'vocab'", "f32[batch:2]", st);
    NA_EXPECT_FAIL(na_index_by(table, 1, &NA_GATHER("vocab", pids), &out),
                   NA_ERR_AXIS, "na_index_by", "'vocab'", "i32[| 2]", st);
    NA_EXPECT_FAIL(na_index_by(table, 1, &NA_GATHER("vocab", clash), &out),
                   NA_ERR_AXIS, "na_index_by", "'features'", st);
    NA_EXPECT_FAIL(na_index_by(table, 1, &NA_GATHER("vocab", NULL), &out),
                   NA_ERR_ARGUMENT, "na_index_by", "'vocab'");
    na_index two[] = {NA_GATHER("vocab", k3), NA_GATHER("features", k2)};
    NA_EXPECT_FAIL(na_index_by(table, 2, two, &out), NA_ERR_SHAPE,
                   "na_index_by", "'k'", "i32[k:3]", "i32[k:2]");
    cr_assert_null(out);
    TS_FREE(table, bad, clash, k3, k2, fids, pids);
}

/* ---- at_set / at_add on views --------------------------------------------- */

/* x {a:5, b:4 | 3}; the region a=1:5:2, b=-1 is {a:2 | 3}. */
static void check_region_update(bool add, const na_array *value, bool value_has_a)
{
    na_array *x0 = ts_random(NA_F32, NA_DIMS({"a", 5}, {"b", 4}, {NULL, 3}), 31);
    na_array *x = ts_strided_copy(x0), *ref = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_copy(x0, &ref));
    for (int64_t i = 0; i < 2; i++)
        for (int64_t p = 0; p < 3; p++) {
            int64_t at[3] = {1 + 2 * i, 3, p};
            double v = value_has_a
                           ? ts_at(value, 2, NA_NAMES("a", "#0"), (int64_t[]){i, p})
                           : na_get(value, (int64_t[]){p});
            put(ref, at, add ? na_get(x0, at) + v : v);
        }
    na_index idx[] = {NA_RANGE("a", 1, 5, 2), NA_AT("b", -1)};
    if (add)
        NA_OK_OR_FAIL(na_at_add(x, 2, idx, value, &y));
    else
        NA_OK_OR_FAIL(na_at_set(x, 2, idx, value, &y));
    cr_assert(na_same_shape(y, x0));
    cr_assert_eq(ts_max_abs_diff(y, ref), 0.0);
    cr_assert_eq(ts_max_abs_diff(x, x0), 0.0, "the input must not change");
    cr_assert_neq(y->storage, x->storage);
    TS_FREE(x0, x, ref, y);
}

Test(index, at_set_and_add_on_a_strided_region)
{
    na_array *v = ts_random(NA_F32, NA_DIMS({NULL, 3}, {"a", 2}), 77);
    na_array *vs = ts_strided_copy(v);
    na_array *row = ts_random(NA_F32, NA_DIMS({NULL, 3}), 78);
    check_region_update(false, v, true);
    check_region_update(true, v, true);
    check_region_update(false, vs, true);
    check_region_update(true, vs, true);
    check_region_update(false, row, false); /* broadcasts over a */
    check_region_update(true, row, false);
    TS_FREE(v, vs, row);
}

Test(index, at_set_scalar_dtype_conversion_and_empty_region)
{
    na_array *x = NULL, *s = NULL, *y = NULL, *z = NULL;
    NA_OK_OR_FAIL(na_zeros(NA_I32, NA_DIMS({"a", 4}, {"b", 3}), &x));
    NA_OK_OR_FAIL(na_scalar(NA_F64, 7.0, &s));
    NA_OK_OR_FAIL(na_at_set(x, 1, &NA_AT("a", -1), s, &y));
    cr_assert_eq(y->dtype, NA_I32);
    for (int64_t a = 0; a < 4; a++)
        for (int64_t b = 0; b < 3; b++)
            cr_assert_eq(na_get(y, (int64_t[]){a, b}), a == 3 ? 7.0 : 0.0);
    NA_OK_OR_FAIL(na_at_add(x, 1, &NA_RANGE("a", 2, 2, 1), s, &z));
    cr_assert_eq(ts_max_abs_diff(z, x), 0.0);
    TS_FREE(x, s, y, z);
}

Test(index, at_update_errors_leave_output_alone)
{
    na_array *x = ts_penzai_x(), *out = NULL, *v3 = NULL, *vq = NULL, *v1 = NULL;
    na_array *sc = NULL;
    na_array *ids = ids_of(NA_DIMS({"k", 2}), (int32_t[]){0, 5});
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"bar", 2}), &v3));
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"q", 2}), &vq));
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"foo", 1}), &v1));
    NA_OK_OR_FAIL(na_scalar(NA_F32, 1.0, &sc));
    NA_EXPECT_FAIL(na_at_set(x, 1, &NA_AT("baz", 0), v3, &out), NA_ERR_SHAPE,
                   "na_at_set", "'bar'", "f32[bar:2]");
    NA_EXPECT_FAIL(na_at_add(x, 1, &NA_AT("baz", 0), vq, &out), NA_ERR_AXIS,
                   "na_at_add", "'q'", "f32[q:2]");
    NA_EXPECT_FAIL(na_at_set(x, 1, &NA_AT("baz", 0), v1, &out), NA_ERR_SHAPE,
                   "na_at_set", "'foo'", "f32[foo:1]");
    NA_EXPECT_FAIL(na_at_set(x, 1, &NA_AT("baz", 9), v1, &out), NA_ERR_INDEX,
                   "na_at_set", "index 9", "'baz'", "f32[foo:2, bar:3, baz:5]");
    NA_EXPECT_FAIL(na_at_add(x, 1, &NA_GATHER("baz", ids), sc, &out), NA_ERR_INDEX,
                   "na_at_add", "id 5", "k=1", "'baz'", "size 5");
    NA_EXPECT_FAIL(na_at_add(x, 1, &NA_GATHER("baz", ids), vq, &out), NA_ERR_AXIS,
                   "na_at_add", "'q'");
    NA_EXPECT_FAIL(na_at_set(x, 0, NULL, NULL, &out), NA_ERR_ARGUMENT, "na_at_set");
    cr_assert_null(out);
    TS_FREE(x, ids, v3, vq, v1, sc);
}

/* ---- at_set / at_add with gathers: Penzai's mapped update ----------------- */

/* Penzai's test array: arange("foo", 5) + arange("bar", 4), i32. */
static na_array *penzai_foo_bar(void)
{
    na_array *f = NULL, *b = NULL, *x = NULL;
    NA_OK_OR_FAIL(na_arange("foo", 5, NA_I32, &f));
    NA_OK_OR_FAIL(na_arange("bar", 4, NA_I32, &b));
    NA_OK_OR_FAIL(na_add(f, b, &x));
    TS_FREE(f, b);
    return x;
}

/* want[foo][bar] (or want[qux][foo][bar] when nq = 2). */
static void expect_foo_bar(const na_array *y, int nq, const int *want)
{
    for (int q = 0; q < nq; q++)
        for (int64_t f = 0; f < 5; f++)
            for (int64_t b = 0; b < 4; b++) {
                double got = nq == 1 ? ts_at(y, 2, NA_NAMES("foo", "bar"), (int64_t[]){f, b})
                                     : ts_at(y, 3, NA_NAMES("qux", "foo", "bar"),
                                             (int64_t[]){q, f, b});
                cr_assert_eq(got, want[(q * 5 + f) * 4 + b], "[%d][%lld][%lld]", q,
                             (long long)f, (long long)b);
            }
}

/* penzai tests/core/named_axes_test.py test_indexed_update_at, dict style. */
Test(index, penzai_indexed_update_at)
{
    na_array *x = penzai_foo_bar(), *c100 = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_scalar(NA_I32, 100, &c100));
    static const int set_ordinary[20] = {0, 1, 2, 3, 1, 2, 3, 4, 2, 3, 4, 5,
                                         100, 100, 100, 100, 4, 5, 6, 7};
    NA_OK_OR_FAIL(na_at_set(x, 1, &NA_AT("foo", 3), c100, &y));
    expect_foo_bar(y, 1, set_ordinary);
    na_array_free(y);
    static const int add_ordinary[20] = {0, 1, 2, 3, 1, 2, 3, 4, 2, 3, 4, 5,
                                         103, 104, 105, 106, 4, 5, 6, 7};
    NA_OK_OR_FAIL(na_at_add(x, 1, &NA_AT("foo", 3), c100, &y));
    expect_foo_bar(y, 1, add_ordinary);
    na_array_free(y);
    /* add_along_named: x.at[{"bar": 2}].add(100 * arange("foo", 5)) */
    na_array *af = NULL, *vf = NULL;
    NA_OK_OR_FAIL(na_arange("foo", 5, NA_I32, &af));
    NA_OK_OR_FAIL(na_mul(af, c100, &vf));
    static const int along[20] = {0, 1, 2, 3, 1, 2, 103, 4, 2, 3, 204, 5,
                                  3, 4, 305, 6, 4, 5, 406, 7};
    NA_OK_OR_FAIL(na_at_add(x, 1, &NA_AT("bar", 2), vf, &y));
    expect_foo_bar(y, 1, along);
    na_array_free(y);
    /* add_new_named: x.at[{"bar": arange("qux", 2) + 1}].add(
     *     100 + 100 * arange("qux", 2)) -> {qux, foo, bar} */
    na_array *ids = ids_of(NA_DIMS({"qux", 2}), (int32_t[]){1, 2}), *vq = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_I32, NA_DIMS({"qux", 2}), (int32_t[]){100, 200}, &vq));
    static const int new_named[40] = {
        0, 101, 2, 3, 1, 102, 3, 4, 2, 103, 4, 5, 3, 104, 5, 6, 4, 105, 6, 7,
        0, 1, 202, 3, 1, 2, 203, 4, 2, 3, 204, 5, 3, 4, 205, 6, 4, 5, 206, 7};
    NA_OK_OR_FAIL(na_at_add(x, 1, &NA_GATHER("bar", ids), vq, &y));
    ts_expect_shape(y, "i32[foo:5, bar:4, qux:2]");
    expect_foo_bar(y, 2, new_named);
    TS_FREE(x, c100, af, vf, ids, vq, y);
}

/* penzai test_complicated_dict_indexed_update: x {indexed_scalar:2,
 * indexed_unnamed:3, indexed_named:3, sliced:3, common:2, lhs_only:2 | 2, 2}
 * = arange; index {indexed_scalar: 0, sliced: 1:, indexed_unnamed: [2,0,1]
 * (positional ids), new: None, indexed_named: ids {common:2 | 3}}. The
 * value lines up as {sliced:2, common:2, new:1 | 3, 2, 2} (Penzai's dict
 * order: the ids' positional axis before x's positional axes). */
static na_array *complicated_x(void)
{
    na_array *a = NULL, *b = NULL, *c = NULL;
    NA_OK_OR_FAIL(na_arange(NULL, 2 * 3 * 3 * 3 * 2 * 2 * 2 * 2, NA_F32, &a));
    NA_OK_OR_FAIL(na_reshape(a, 8, (int64_t[]){2, 3, 3, 3, 2, 2, 2, 2}, &b));
    NA_OK_OR_FAIL(na_tag(b, NA_NAMES("indexed_scalar", "indexed_unnamed", "indexed_named",
                                     "sliced", "common", "lhs_only", "p1", "p2"),
                         &c));
    TS_FREE(a, b);
    na_array *x = NULL;
    NA_OK_OR_FAIL(na_untag(c, NA_NAMES("p1", "p2"), &x));
    na_array_free(c);
    return x;
}

/* The value for loop coordinates: value has some of {sliced, common, new}
 * and positional axes aligned from the right against (j:3, p1:2, p2:2). */
static double complicated_value(const na_array *v, int64_t s, int64_t c,
                                int64_t j, int64_t p1, int64_t p2)
{
    int64_t pos[3] = {j, p1, p2}, idx[NA_MAX_DIMS];
    int np = na_positional_count(v), k = 0;
    for (int d = 0; d < v->ndim; d++) {
        const char *nm = v->name[d];
        if (!nm)
            idx[d] = v->shape[d] == 1 ? 0 : pos[3 - np + k++];
        else
            idx[d] = !strcmp(nm, "sliced") ? s : !strcmp(nm, "common") ? c : 0;
    }
    return na_get(v, idx);
}

static void check_complicated(const na_array *value)
{
    na_array *x = complicated_x(), *y = NULL;
    na_array *iu = ids_of(NA_DIMS({NULL, 3}), (int32_t[]){2, 0, 1});
    const int32_t named[2][3] = {{0, 0, 1}, {2, 1, 2}};
    na_array *in = ids_of(NA_DIMS({"common", 2}, {NULL, 3}), &named[0][0]);
    na_index idx[] = {NA_AT("indexed_scalar", 0), NA_RANGE("sliced", 1, NA_END, 1),
                      NA_GATHER("indexed_unnamed", iu), NA_NEWAXIS("new"),
                      NA_GATHER("indexed_named", in)};
    NA_OK_OR_FAIL(na_at_add(x, 5, idx, value, &y));
    ts_expect_shape(y, "f32[indexed_scalar:2, indexed_unnamed:3, indexed_named:3, sliced:3, "
                       "common:2, lhs_only:2 | 2 2]");
    const int unnamed[3] = {2, 0, 1};
    /* dim of each role: scalar, unnamed, named, sliced, common, p1, p2 */
    const int r[7] = {na_axis_index(x, "indexed_scalar"), na_axis_index(x, "indexed_unnamed"),
                      na_axis_index(x, "indexed_named"),  na_axis_index(x, "sliced"),
                      na_axis_index(x, "common"),         na_positional_index(x, 0),
                      na_positional_index(x, 1)};
    int64_t at[8] = {0};
    do {
        double want = na_get(x, at);
        for (int64_t j = 0; j < 3; j++)
            if (at[r[0]] == 0 && at[r[3]] >= 1 && at[r[1]] == unnamed[j] &&
                at[r[2]] == named[at[r[4]]][j])
                want += complicated_value(value, at[r[3]] - 1, at[r[4]], j, at[r[5]],
                                          at[r[6]]);
        cr_assert_eq(na_get(y, at), want, "%g vs %g", na_get(y, at), want);
    } while (ts_next_index(x, at));
    TS_FREE(x, iu, in, y);
}

Test(index, penzai_complicated_dict_indexed_update)
{
    na_array *a = NULL, *b = NULL, *full = NULL;
    NA_OK_OR_FAIL(na_arange(NULL, 2 * 2 * 3 * 2 * 2, NA_F32, &a));
    NA_OK_OR_FAIL(na_reshape(a, 5, (int64_t[]){2, 2, 3, 2, 2}, &b));
    NA_OK_OR_FAIL(na_tag_prefix(b, NA_NAMES("sliced", "common"), &full));
    na_array *full_new = NULL; /* add_full: [{"new": None}] */
    NA_OK_OR_FAIL(na_index_by(full, 1, &NA_NEWAXIS("new"), &full_new));
    check_complicated(full_new);
    na_array *a1 = NULL, *b1 = NULL, *bc1 = NULL; /* add_broadcasting_1 */
    NA_OK_OR_FAIL(na_arange(NULL, 4, NA_F32, &a1));
    NA_OK_OR_FAIL(na_reshape(a1, 2, (int64_t[]){2, 2}, &b1));
    NA_OK_OR_FAIL(na_tag_prefix(b1, NA_NAMES("common"), &bc1));
    check_complicated(bc1);
    na_array *a2 = NULL, *b2 = NULL, *bc2 = NULL; /* add_broadcasting_2 */
    NA_OK_OR_FAIL(na_arange(NULL, 8, NA_F32, &a2));
    NA_OK_OR_FAIL(na_reshape(a2, 3, (int64_t[]){2, 2, 2}, &b2));
    NA_OK_OR_FAIL(na_tag_prefix(b2, NA_NAMES("sliced", "common"), &bc2));
    check_complicated(bc2);
    TS_FREE(a, b, full, full_new, a1, b1, bc1, a2, b2, bc2);
}

/* Named ids map the update: one copy of x per id, repeated ids included. */
static void check_mapped(bool add)
{
    na_array *x0 = ts_random(NA_F32, NA_DIMS({"v", 7}, {"f", 3}, {"g", 2}), 41);
    na_array *x = ts_strided_copy(x0), *y = NULL;
    na_array *val = ts_random(NA_F32, NA_DIMS({"k", 4}, {"f", 3}), 42);
    na_array *vals = ts_strided_copy(val);
    const int32_t raw[4] = {6, 0, -1, 6};
    na_array *ids = ids_of(NA_DIMS({"k", 4}), raw);
    na_index idx[] = {NA_AT("g", 0), NA_GATHER("v", ids), NA_REVERSED("f")};
    if (add)
        NA_OK_OR_FAIL(na_at_add(x, 3, idx, vals, &y));
    else
        NA_OK_OR_FAIL(na_at_set(x, 3, idx, vals, &y));
    ts_expect_shape(y, "f32[v:7, f:3, g:2, k:4]");
    int64_t at[4] = {0};
    do {
        int64_t v = at[0], f = at[1], g = at[2], k = at[3];
        int64_t row = raw[k] < 0 ? raw[k] + 7 : raw[k];
        double want = na_get(x0, at);
        if (g == 0 && v == row) {
            double u = ts_at(val, 2, NA_NAMES("k", "f"), (int64_t[]){k, 2 - f});
            want = add ? (double)(float)(want + u) : u; /* as the library */
        }
        cr_assert_eq(na_get(y, at), want);
    } while (ts_next_index(y, at));
    cr_assert_eq(ts_max_abs_diff(x, x0), 0.0, "the input must not change");
    TS_FREE(x0, x, y, val, vals, ids);
}

Test(index, at_update_with_named_ids_maps_one_copy_per_id)
{
    check_mapped(false);
    check_mapped(true);
}

Test(index, at_update_ids_axis_shared_with_x_is_mapped_jointly)
{
    na_array *x = ts_random(NA_F64, NA_DIMS({"batch", 3}, {"vocab", 5}), 5), *y = NULL;
    na_array *ids = ids_of(NA_DIMS({"batch", 3}), (int32_t[]){4, 0, 4}), *v = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_F64, NA_DIMS({"batch", 3}), (double[]){10, 20, 30}, &v));
    NA_OK_OR_FAIL(na_at_set(x, 1, &NA_GATHER("vocab", ids), v, &y));
    ts_expect_shape(y, "f64[batch:3, vocab:5]");
    const int id[3] = {4, 0, 4};
    for (int64_t b = 0; b < 3; b++)
        for (int64_t w = 0; w < 5; w++)
            cr_assert_eq(na_get(y, (int64_t[]){b, w}),
                         w == id[b] ? 10.0 * (double)(b + 1) : na_get(x, (int64_t[]){b, w}));
    TS_FREE(x, ids, v, y);
}

/* Positional ids scatter into one array: add accumulates repeated ids. */
Test(index, at_add_positional_ids_accumulate_repeated_ids)
{
    na_array *x = NULL, *ones = NULL, *fv = NULL, *y = NULL, *z = NULL;
    na_array *ids = ids_of(NA_DIMS({NULL, 4}), (int32_t[]){1, 3, 1, -1});
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"v", 5}, {"f", 2}), &x));
    NA_OK_OR_FAIL(na_ones(NA_F32, NA_DIMS({NULL, 4}, {"f", 2}), &ones));
    NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"f", 2}), (float[]){10, 20}, &fv));
    NA_OK_OR_FAIL(na_at_add(x, 1, &NA_GATHER("v", ids), ones, &y));
    NA_OK_OR_FAIL(na_at_add(x, 1, &NA_GATHER("v", ids), fv, &z));
    ts_expect_shape(y, "f32[v:5, f:2]");
    const double count[5] = {0, 2, 0, 1, 1};
    for (int64_t v = 0; v < 5; v++)
        for (int64_t f = 0; f < 2; f++) {
            cr_assert_eq(na_get(y, (int64_t[]){v, f}), count[v]);
            cr_assert_eq(na_get(z, (int64_t[]){v, f}), count[v] * (f ? 20 : 10));
        }
    TS_FREE(x, ones, fv, ids, y, z);
}

Test(index, at_set_positional_ids_last_write_wins)
{
    na_array *x = NULL, *val = NULL, *y = NULL;
    na_array *ids = ids_of(NA_DIMS({NULL, 4}), (int32_t[]){1, 3, 1, -1});
    NA_OK_OR_FAIL(na_full(NA_F64, NA_DIMS({"v", 5}), -1.0, &x));
    NA_OK_OR_FAIL(na_from_data(NA_F64, NA_DIMS({NULL, 4}), (double[]){10, 20, 30, 40}, &val));
    NA_OK_OR_FAIL(na_at_set(x, 1, &NA_GATHER("v", ids), val, &y));
    const double want[5] = {-1, 30, -1, 20, 40};
    for (int64_t v = 0; v < 5; v++)
        cr_assert_eq(na_get(y, &v), want[v]);
    TS_FREE(x, val, ids, y);
}

Test(index, at_update_mapped_errors_name_op_axes_and_shapes)
{
    na_array *x = ts_penzai_x(), *out = NULL, *sc = NULL;
    na_array *onfoo = ids_of(NA_DIMS({"foo", 2}), (int32_t[]){0, 1});
    na_array *onbar = ids_of(NA_DIMS({"bar", 2}), (int32_t[]){0, 1});
    na_array *onnew = ids_of(NA_DIMS({"n", 2}), (int32_t[]){0, 1});
    NA_OK_OR_FAIL(na_scalar(NA_F32, 1.0, &sc));
    na_index at_foo[] = {NA_AT("foo", 0), NA_GATHER("baz", onfoo)};
    NA_EXPECT_FAIL(na_at_set(x, 2, at_foo, sc, &out), NA_ERR_AXIS, "na_at_set",
                   "ids axis 'foo'", "f32[foo:2, bar:3, baz:5]");
    NA_EXPECT_FAIL(na_at_add(x, 1, &NA_GATHER("baz", onbar), sc, &out), NA_ERR_SHAPE,
                   "na_at_add", "ids axis 'bar'", "size 2", "f32[foo:2, bar:3, baz:5]");
    na_index newax[] = {NA_NEWAXIS("n"), NA_GATHER("baz", onnew)};
    NA_EXPECT_FAIL(na_at_add(x, 2, newax, sc, &out), NA_ERR_AXIS, "na_at_add",
                   "ids axis 'n'");
    cr_assert_null(out);
    TS_FREE(x, onfoo, onbar, onnew, sc);
}

/* ---- a big gather (parallel path) ---------------------------------------- */

Test(index, big_gather_matches_loops_across_thread_counts)
{
    na_array *x = ts_random(NA_F32, NA_DIMS({"v", 50}, {"f", 300}), 3);
    int32_t raw[400];
    for (int i = 0; i < 400; i++)
        raw[i] = (int32_t)((i * 37) % 50);
    na_array *ids = ids_of(NA_DIMS({"k", 400}), raw), *y1 = NULL, *y2 = NULL;
    na_set_num_threads(1);
    NA_OK_OR_FAIL(na_index_by(x, 1, &NA_GATHER("v", ids), &y1));
    na_set_num_threads(4);
    NA_OK_OR_FAIL(na_index_by(x, 1, &NA_GATHER("v", ids), &y2));
    na_set_num_threads(0);
    cr_assert_eq(ts_max_abs_diff(y1, y2), 0.0);
    for (int64_t k = 0; k < 400; k++)
        for (int64_t f = 0; f < 300; f++)
            cr_assert_eq(ts_at(y2, 2, NA_NAMES("f", "k"), (int64_t[]){f, k}),
                         na_get(x, (int64_t[]){raw[k], f}));
    TS_FREE(x, ids, y1, y2);
}

Test(index, at_set_with_new_axis_and_zero_size_x)
{
    na_array *x = ts_random(NA_F32, NA_DIMS({"a", 3}, {"b", 2}), 50);
    na_array *v = NULL, *y = NULL, *e = NULL, *s = NULL, *w = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"z", 1}, {"b", 2}), (float[]){4, 5}, &v));
    na_index idx[] = {NA_AT("a", 1), NA_NEWAXIS("z")};
    NA_OK_OR_FAIL(na_at_set(x, 2, idx, v, &y));
    for (int64_t a = 0; a < 3; a++)
        for (int64_t b = 0; b < 2; b++)
            cr_assert_eq(na_get(y, (int64_t[]){a, b}),
                         a == 1 ? 4.0 + (double)b : na_get(x, (int64_t[]){a, b}));
    NA_OK_OR_FAIL(na_zeros(NA_F64, NA_DIMS({"a", 0}, {"b", 2}), &e));
    NA_OK_OR_FAIL(na_scalar(NA_F64, 1.0, &s));
    NA_OK_OR_FAIL(na_at_add(e, 1, &NA_AT("b", 1), s, &w));
    cr_assert_eq(na_size(w), 0);
    TS_FREE(x, v, y, e, s, w);
}

/* ---- every dtype ----------------------------------------------------------- */

Test(index, gather_and_at_set_every_dtype_against_loops)
{
    const na_dtype dts[] = {NA_F32, NA_F64, NA_I32, NA_BOOL};
    const int32_t idv[4] = {6, 0, -4, 6}; /* -4 counts from the end: row 3 */
    na_array *ids = ids_of(NA_DIMS({"batch", 4}), idv);
    for (int t = 0; t < 4; t++) {
        na_array *tab = ts_random(dts[t], NA_DIMS({"vocab", 7}, {"f", 3}), 70 + t);
        na_array *st = ts_strided_copy(tab), *g = NULL, *u = NULL, *val = NULL;
        NA_OK_OR_FAIL(na_index_by(st, 1, &NA_GATHER("vocab", ids), &g));
        cr_assert_eq(g->dtype, dts[t]);
        for (int64_t b = 0; b < 4; b++)
            for (int64_t f = 0; f < 3; f++) {
                int64_t row = idv[b] < 0 ? idv[b] + 7 : idv[b];
                cr_assert_eq(ts_at(g, 2, NA_NAMES("batch", "f"), (int64_t[]){b, f}),
                             ts_at(tab, 2, NA_NAMES("vocab", "f"), (int64_t[]){row, f}));
            }
        /* at_set on row 2, every feature, from a {f} array of the same dtype */
        val = ts_random(dts[t], NA_DIMS({"f", 3}), 80 + t);
        NA_OK_OR_FAIL(na_at_set(st, 1, &NA_AT("vocab", 2), val, &u));
        cr_assert_eq(u->dtype, dts[t]);
        for (int64_t v = 0; v < 7; v++)
            for (int64_t f = 0; f < 3; f++) {
                double want = v == 2 ? ts_at(val, 1, NA_NAMES("f"), &f)
                                     : ts_at(tab, 2, NA_NAMES("vocab", "f"), (int64_t[]){v, f});
                cr_assert_eq(ts_at(u, 2, NA_NAMES("vocab", "f"), (int64_t[]){v, f}), want);
            }
        /* at_add on the gathered rows (row 6 twice: it accumulates) */
        na_array *add = NULL, *gv = NULL;
        if (dts[t] != NA_BOOL) {
            gv = ts_random(dts[t], NA_DIMS({"batch", 4}, {"f", 3}), 85 + t);
            na_array *pids = NULL, *pgv = NULL; /* positional: one copy */
            NA_OK_OR_FAIL(na_untag(ids, NA_NAMES("batch"), &pids));
            NA_OK_OR_FAIL(na_untag(gv, NA_NAMES("batch"), &pgv));
            NA_OK_OR_FAIL(na_at_add(st, 1, &NA_GATHER("vocab", pids), pgv, &add));
            TS_FREE(pids, pgv);
            for (int64_t v = 0; v < 7; v++)
                for (int64_t f = 0; f < 3; f++) {
                    double want = ts_at(tab, 2, NA_NAMES("vocab", "f"), (int64_t[]){v, f});
                    for (int64_t b = 0; b < 4; b++)
                        if ((idv[b] < 0 ? idv[b] + 7 : idv[b]) == v)
                            want += ts_at(gv, 2, NA_NAMES("batch", "f"), (int64_t[]){b, f});
                    double got = ts_at(add, 2, NA_NAMES("vocab", "f"), (int64_t[]){v, f});
                    cr_assert(fabs(got - want) <= 1e-6 * (1 + fabs(want)),
                              "dtype %d [%lld, %lld]: %g vs %g", t, (long long)v,
                              (long long)f, got, want);
                }
        }
        TS_FREE(tab, st, g, u, val, add, gv);
    }
    na_array_free(ids);
}

Test(index, blocked_gather_two_id_axes_strided_table_every_element_size)
{
    /* 7 x 11 = 77 ids: one full block of 64 and a tail, over 15 rows of two
     * remaining axes of a strided table, for 8-, 4- and 1-byte elements. */
    int32_t raw[77];
    for (int i = 0; i < 77; i++)
        raw[i] = (int32_t)((i * 13 + 5) % 20) - (i % 3 == 0 ? 20 : 0);
    na_array *ids = ids_of(NA_DIMS({"p", 7}, {"q", 11}), raw);
    const na_dtype dts[] = {NA_F64, NA_I32, NA_BOOL};
    for (int t = 0; t < 3; t++) {
        na_array *x0 = ts_random(dts[t], NA_DIMS({"a", 3}, {"v", 20}, {"f", 5}), 100 + t);
        na_array *x = ts_strided_copy(x0), *y = NULL;
        NA_OK_OR_FAIL(na_index_by(x, 1, &NA_GATHER("v", ids), &y));
        ts_expect_shape(y, t == 0   ? "f64[a:3, f:5, p:7, q:11]"
                           : t == 1 ? "i32[a:3, f:5, p:7, q:11]"
                                    : "bool[a:3, f:5, p:7, q:11]");
        for (int64_t a = 0; a < 3; a++)
            for (int64_t f = 0; f < 5; f++)
                for (int64_t i = 0; i < 77; i++) {
                    int64_t v = raw[i] < 0 ? raw[i] + 20 : raw[i];
                    cr_assert_eq(ts_at(y, 4, NA_NAMES("a", "f", "p", "q"),
                                       (int64_t[]){a, f, i / 11, i % 11}),
                                 ts_at(x0, 3, NA_NAMES("a", "v", "f"), (int64_t[]){a, v, f}),
                                 "dtype %d a %lld f %lld id %lld", t, (long long)a,
                                 (long long)f, (long long)i);
                }
        TS_FREE(x0, x, y);
    }
    na_array_free(ids);
}
