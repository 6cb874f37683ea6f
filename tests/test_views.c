/* Naming views: tag, untag, rename, order_as, broadcast_to/like, diagonal. */
#include "support.h"

/* ---- tag / untag -------------------------------------------------------- */

Test(views, tag_names_every_positional_axis_and_interns)
{
    na_array *x = ts_penzai_x();
    ts_expect_shape(x, "f32[foo:2, bar:3, baz:5]");
    cr_assert_eq(x->name[1], na_intern("bar"));
    cr_assert_eq(ts_at(x, 3, NA_NAMES("foo", "bar", "baz"), (int64_t[]){1, 2, 3}),
                 28.0);
    na_array_free(x);
}

Test(views, untag_bar_penzai)
{
    na_array *x = ts_penzai_x(), *y = NULL;
    NA_OK_OR_FAIL(na_untag(x, NA_NAMES("bar"), &y));
    cr_assert_eq(na_positional_count(y), 1);
    cr_assert_eq(y->shape[na_positional_index(y, 0)], 3);
    cr_assert_eq(na_named_count(y), 2);
    cr_assert_eq(na_axis_size(y, "foo"), 2);
    cr_assert_eq(na_axis_size(y, "baz"), 5);
    ts_expect_shape(y, "f32[foo:2, baz:5 | 3]");
    cr_assert_eq(y->storage, x->storage, "untag must not copy");
    cr_assert_eq(na_data(y), na_data(x));
    for (int64_t f = 0; f < 2; f++)
        for (int64_t r = 0; r < 3; r++)
            for (int64_t b = 0; b < 5; b++)
                cr_assert_eq(ts_at(y, 3, NA_NAMES("foo", "#0", "baz"),
                                   (int64_t[]){f, r, b}),
                             (double)(15 * f + 5 * r + b));
    TS_FREE(x, y);
}

Test(views, untag_then_tag_round_trips)
{
    na_array *x = ts_penzai_x(), *y = NULL, *z = NULL;
    NA_OK_OR_FAIL(na_untag(x, NA_NAMES("baz", "foo", "bar"), &y));
    ts_expect_shape(y, "f32[| 5 2 3]");
    NA_OK_OR_FAIL(na_tag(y, NA_NAMES("baz", "foo", "bar"), &z));
    cr_assert_eq(ts_max_abs_diff(x, z), 0.0);
    cr_assert_eq(z->storage, x->storage);
    TS_FREE(x, y, z);
}

Test(views, untag_errors_name_op_axes_and_shapes)
{
    na_array *x = ts_penzai_x(), *y = NULL, *out = NULL;
    NA_OK_OR_FAIL(na_untag(x, NA_NAMES("bar"), &y));
    NA_EXPECT_FAIL(na_untag(y, NA_NAMES("foo"), &out), NA_ERR_AXIS, "na_untag",
                   "positional", "f32[foo:2, baz:5 | 3]", "foo");
    cr_assert_null(out);
    NA_EXPECT_FAIL(na_untag(x, NA_NAMES("foo", "baz", "foo"), &out), NA_ERR_AXIS,
                   "na_untag", "'foo'", "repeats", "f32[foo:2, bar:3, baz:5]");
    cr_assert_null(out);
    NA_EXPECT_FAIL(na_untag(x, NA_NAMES("foo", "qux"), &out), NA_ERR_AXIS,
                   "na_untag", "'qux'", "f32[foo:2, bar:3, baz:5]");
    cr_assert_null(out);
    NA_EXPECT_FAIL(na_untag(x, NA_NAMES(""), &out), NA_ERR_ARGUMENT, "na_untag");
    cr_assert_null(out);
    TS_FREE(x, y);
}

Test(views, tag_errors_name_op_axes_and_shapes)
{
    na_array *a = NULL, *p = NULL, *x = ts_penzai_x(), *y = NULL, *out = NULL;
    NA_OK_OR_FAIL(na_arange(NULL, 30, NA_F32, &a));
    NA_OK_OR_FAIL(na_reshape(a, 3, (int64_t[]){2, 3, 5}, &p));
    NA_EXPECT_FAIL(na_tag(p, NA_NAMES("foo", "bar"), &out), NA_ERR_AXIS, "na_tag",
                   "2 names", "foo, bar", "3 positional", "f32[| 2 3 5]");
    cr_assert_null(out);
    NA_EXPECT_FAIL(na_tag(p, NA_NAMES("a", "b", "c", "d"), &out), NA_ERR_AXIS,
                   "na_tag", "4 names", "f32[| 2 3 5]");
    NA_EXPECT_FAIL(na_tag(p, NA_NAMES("a", "b", "a"), &out), NA_ERR_AXIS,
                   "na_tag", "'a'", "repeats", "f32[| 2 3 5]");
    /* A clash with an existing name. */
    NA_OK_OR_FAIL(na_untag(x, NA_NAMES("bar"), &y));
    NA_EXPECT_FAIL(na_tag(y, NA_NAMES("foo"), &out), NA_ERR_AXIS, "na_tag",
                   "'foo'", "clashes", "f32[foo:2, baz:5 | 3]");
    cr_assert_null(out);
    NA_EXPECT_FAIL(na_tag(NULL, NA_NAMES("foo"), &out), NA_ERR_ARGUMENT, "na_tag");
    TS_FREE(a, p, x, y);
}

Test(views, tag_prefix_names_leading_positional_axes)
{
    na_array *a = NULL, *p = NULL, *y = NULL, *out = NULL;
    NA_OK_OR_FAIL(na_arange(NULL, 30, NA_F32, &a));
    NA_OK_OR_FAIL(na_reshape(a, 3, (int64_t[]){2, 3, 5}, &p));
    NA_OK_OR_FAIL(na_tag_prefix(p, NA_NAMES("foo"), &y));
    ts_expect_shape(y, "f32[foo:2 | 3 5]");
    cr_assert_eq(y->storage, p->storage);
    cr_assert_eq(ts_at(y, 3, NA_NAMES("foo", "#0", "#1"), (int64_t[]){1, 2, 4}),
                 29.0);
    NA_EXPECT_FAIL(na_tag_prefix(p, NA_NAMES("a", "b", "c", "d"), &out),
                   NA_ERR_AXIS, "na_tag_prefix", "4 names", "f32[| 2 3 5]");
    cr_assert_null(out);
    NA_EXPECT_FAIL(na_tag_prefix(y, NA_NAMES("foo"), &out), NA_ERR_AXIS,
                   "na_tag_prefix", "'foo'", "f32[foo:2 | 3 5]");
    TS_FREE(a, p, y);
}

Test(views, untag_prefix_puts_new_axes_first)
{
    na_array *x = ts_penzai_x(), *y = NULL, *z = NULL, *out = NULL;
    NA_OK_OR_FAIL(na_untag(x, NA_NAMES("bar"), &y));
    NA_OK_OR_FAIL(na_untag_prefix(y, NA_NAMES("baz"), &z));
    ts_expect_shape(z, "f32[foo:2 | 5 3]");
    cr_assert_eq(z->storage, x->storage);
    for (int64_t f = 0; f < 2; f++)
        for (int64_t b = 0; b < 5; b++)
            for (int64_t r = 0; r < 3; r++)
                cr_assert_eq(ts_at(z, 3, NA_NAMES("foo", "#0", "#1"),
                                   (int64_t[]){f, b, r}),
                             (double)(15 * f + 5 * r + b));
    NA_EXPECT_FAIL(na_untag_prefix(y, NA_NAMES("bar"), &out), NA_ERR_AXIS,
                   "na_untag_prefix", "'bar'", "f32[foo:2, baz:5 | 3]");
    cr_assert_null(out);
    TS_FREE(x, y, z);
}

/* ---- rename / order_as -------------------------------------------------- */

Test(views, rename_swaps_and_renames)
{
    na_array *x = ts_penzai_x(), *y = NULL, *out = NULL;
    NA_OK_OR_FAIL(na_rename(x, NA_NAMES("foo", "bar"), NA_NAMES("bar", "foo"), &y));
    ts_expect_shape(y, "f32[bar:2, foo:3, baz:5]");
    cr_assert_eq(y->storage, x->storage);
    cr_assert_eq(y->name[0], na_intern("bar"));
    cr_assert_eq(ts_at(y, 3, NA_NAMES("bar", "foo", "baz"), (int64_t[]){1, 2, 3}),
                 28.0);
    NA_EXPECT_FAIL(na_rename(x, NA_NAMES("foo"), NA_NAMES("bar"), &out),
                   NA_ERR_AXIS, "na_rename", "'bar'", "twice",
                   "f32[foo:2, bar:3, baz:5]");
    NA_EXPECT_FAIL(na_rename(x, NA_NAMES("qux"), NA_NAMES("quux"), &out),
                   NA_ERR_AXIS, "na_rename", "'qux'", "f32[foo:2, bar:3, baz:5]");
    NA_EXPECT_FAIL(na_rename(x, NA_NAMES("foo", "bar"), NA_NAMES("a"), &out),
                   NA_ERR_ARGUMENT, "na_rename", "foo, bar", "a");
    cr_assert_null(out);
    TS_FREE(x, y);
}

Test(views, order_as_reorders_dims_positional_last)
{
    na_array *x = ts_penzai_x(), *u = NULL, *y = NULL, *out = NULL;
    NA_OK_OR_FAIL(na_untag(x, NA_NAMES("bar"), &u));
    NA_OK_OR_FAIL(na_order_as(u, NA_NAMES("baz", "foo"), &y));
    cr_assert_eq(y->name[0], na_intern("baz"));
    cr_assert_eq(y->name[1], na_intern("foo"));
    cr_assert_null(y->name[2]);
    cr_assert_eq(y->shape[2], 3);
    cr_assert_eq(ts_max_abs_diff(u, y), 0.0);
    cr_assert_eq(y->storage, x->storage);
    NA_EXPECT_FAIL(na_order_as(u, NA_NAMES("baz"), &out), NA_ERR_AXIS,
                   "na_order_as", "baz", "f32[foo:2, baz:5 | 3]");
    NA_EXPECT_FAIL(na_order_as(u, NA_NAMES("baz", "bar"), &out), NA_ERR_AXIS,
                   "na_order_as", "'bar'", "f32[foo:2, baz:5 | 3]");
    NA_EXPECT_FAIL(na_order_as(u, NA_NAMES("baz", "baz"), &out), NA_ERR_AXIS,
                   "na_order_as", "'baz'", "repeats");
    cr_assert_null(out);
    TS_FREE(x, u, y);
}

/* ---- broadcasting ------------------------------------------------------- */

/* y must equal x broadcast: y[foo, bar, baz | p, q] == x[foo, baz | q]. */
static void check_broadcast(const na_array *x, const na_array *y)
{
    for (int64_t f = 0; f < 2; f++)
        for (int64_t r = 0; r < 3; r++)
            for (int64_t b = 0; b < 5; b++)
                for (int64_t p = 0; p < 4; p++)
                    for (int64_t q = 0; q < 3; q++) {
                        double want = ts_at(x, 3, NA_NAMES("foo", "baz", "#0"),
                                            (int64_t[]){f, b, q});
                        double got = ts_at(y, 5,
                                           NA_NAMES("bar", "foo", "baz", "#0", "#1"),
                                           (int64_t[]){r, f, b, p, q});
                        cr_assert_eq(got, want);
                    }
}

Test(views, broadcast_to_adds_named_and_positional_axes)
{
    na_array *x = ts_random(NA_F32, NA_DIMS({"foo", 2}, {"baz", 5}, {NULL, 3}), 7);
    na_array *xs = ts_strided_copy(x);
    na_array *y = NULL, *z = NULL;
    na_dim target[] = {{"bar", 3}, {"foo", 2}, {NULL, 4}, {"baz", 5}, {NULL, 3}};
    NA_OK_OR_FAIL(na_broadcast_to(x, 5, target, &y));
    NA_OK_OR_FAIL(na_broadcast_to(xs, 5, target, &z));
    ts_expect_shape(y, "f32[bar:3, foo:2, baz:5 | 4 3]");
    cr_assert_eq(y->storage, x->storage);
    cr_assert_eq(y->stride[0], 0);
    cr_assert_eq(y->stride[2], 0);
    check_broadcast(x, y);
    check_broadcast(x, z);
    TS_FREE(x, xs, y, z);
}

Test(views, broadcast_positional_size_one_stretches_named_does_not)
{
    na_array *x = ts_random(NA_F32, NA_DIMS({NULL, 3}, {NULL, 1}), 3);
    na_array *n1 = ts_random(NA_F32, NA_DIMS({"foo", 1}), 4);
    na_array *y = NULL, *out = NULL;
    NA_OK_OR_FAIL(na_broadcast_to(x, 3, (na_dim[]){{NULL, 2}, {NULL, 3}, {NULL, 4}}, &y));
    for (int64_t i = 0; i < 2; i++)
        for (int64_t j = 0; j < 3; j++)
            for (int64_t k = 0; k < 4; k++)
                cr_assert_eq(na_get(y, (int64_t[]){i, j, k}),
                             na_get(x, (int64_t[]){j, 0}));
    NA_EXPECT_FAIL(na_broadcast_to(n1, 1, (na_dim[]){{"foo", 4}}, &out),
                   NA_ERR_SHAPE, "na_broadcast_to", "'foo'", "f32[foo:1]", "4");
    NA_EXPECT_FAIL(na_broadcast_to(x, 2, (na_dim[]){{NULL, 3}, {"a", 2}}, &out),
                   NA_ERR_SHAPE, "na_broadcast_to", "f32[| 3 1]");
    NA_EXPECT_FAIL(na_broadcast_to(x, 2, (na_dim[]){{NULL, 4}, {NULL, 1}}, &out),
                   NA_ERR_SHAPE, "na_broadcast_to", "f32[| 3 1]");
    NA_EXPECT_FAIL(na_broadcast_to(n1, 1, (na_dim[]){{"bar", 1}}, &out),
                   NA_ERR_AXIS, "na_broadcast_to", "'foo'", "f32[foo:1]");
    NA_EXPECT_FAIL(na_broadcast_to(n1, 2, (na_dim[]){{"foo", 1}, {"foo", 1}}, &out),
                   NA_ERR_AXIS, "na_broadcast_to", "'foo'");
    cr_assert_null(out);
    TS_FREE(x, n1, y);
}

Test(views, broadcast_zero_size_and_scalar)
{
    na_array *x = ts_random(NA_F64, NA_DIMS({NULL, 1}), 5), *s = NULL;
    na_array *y = NULL, *z = NULL;
    NA_OK_OR_FAIL(na_broadcast_to(x, 2, (na_dim[]){{"a", 3}, {NULL, 0}}, &y));
    ts_expect_shape(y, "f64[a:3 | 0]");
    cr_assert_eq(na_size(y), 0);
    NA_OK_OR_FAIL(na_scalar(NA_F32, 2.5, &s));
    NA_OK_OR_FAIL(na_broadcast_to(s, 2, (na_dim[]){{"a", 3}, {"b", 2}}, &z));
    cr_assert_eq(na_get(z, (int64_t[]){2, 1}), 2.5);
    TS_FREE(x, s, y, z);
}

Test(views, broadcast_like_takes_dims_of_another_array)
{
    na_array *x = ts_random(NA_F32, NA_DIMS({"foo", 2}, {"baz", 5}, {NULL, 3}), 9);
    na_array *like = NULL, *y = NULL, *out = NULL;
    NA_OK_OR_FAIL(na_zeros(NA_F64, NA_DIMS({"bar", 3}, {"foo", 2}, {NULL, 4},
                                           {"baz", 5}, {NULL, 3}), &like));
    NA_OK_OR_FAIL(na_broadcast_like(x, like, &y));
    cr_assert_eq(y->dtype, NA_F32);
    check_broadcast(x, y);
    NA_EXPECT_FAIL(na_broadcast_like(like, x, &out), NA_ERR_SHAPE,
                   "na_broadcast_like", "f64[bar:3, foo:2, baz:5 | 4 3]",
                   "positional");
    cr_assert_null(out);
    TS_FREE(x, like, y);
}

/* ---- diagonal ----------------------------------------------------------- */

static void check_diagonal(const na_array *x, const na_array *y)
{
    for (int64_t i = 0; i < 4; i++)
        for (int64_t c = 0; c < 3; c++)
            cr_assert_eq(ts_at(y, 2, NA_NAMES("d", "c"), (int64_t[]){i, c}),
                         ts_at(x, 3, NA_NAMES("a", "c", "b"),
                               (int64_t[]){i, c, i}));
}

Test(views, diagonal_is_a_view_of_two_axes)
{
    na_array *x = ts_random(NA_F32, NA_DIMS({"a", 4}, {"c", 3}, {"b", 4}), 11);
    na_array *xs = ts_strided_copy(x), *y = NULL, *z = NULL, *w = NULL;
    NA_OK_OR_FAIL(na_diagonal(x, "a", "b", "d", &y));
    ts_expect_shape(y, "f32[d:4, c:3]");
    cr_assert_eq(y->storage, x->storage);
    check_diagonal(x, y);
    NA_OK_OR_FAIL(na_diagonal(xs, "b", "a", "d", &z));
    check_diagonal(x, z);
    NA_OK_OR_FAIL(na_diagonal(x, "a", "b", "a", &w)); /* reuse a name */
    ts_expect_shape(w, "f32[a:4, c:3]");
    TS_FREE(x, xs, y, z, w);
}

Test(views, diagonal_errors)
{
    na_array *x = ts_random(NA_F32, NA_DIMS({"a", 4}, {"c", 3}, {"b", 4}), 11);
    na_array *out = NULL;
    NA_EXPECT_FAIL(na_diagonal(x, "a", "c", "d", &out), NA_ERR_SHAPE,
                   "na_diagonal", "'a'", "'c'", "f32[a:4, c:3, b:4]");
    NA_EXPECT_FAIL(na_diagonal(x, "a", "z", "d", &out), NA_ERR_AXIS,
                   "na_diagonal", "'z'", "f32[a:4, c:3, b:4]");
    NA_EXPECT_FAIL(na_diagonal(x, "a", "b", "c", &out), NA_ERR_AXIS,
                   "na_diagonal", "'c'", "f32[a:4, c:3, b:4]");
    NA_EXPECT_FAIL(na_diagonal(x, "a", "a", "d", &out), NA_ERR_AXIS,
                   "na_diagonal", "'a'");
    cr_assert_null(out);
    na_array_free(x);
}

Test(views, diagonal_size_one_and_zero)
{
    na_array *x = ts_random(NA_F64, NA_DIMS({"a", 1}, {"b", 1}, {"c", 2}), 12);
    na_array *e = ts_random(NA_F64, NA_DIMS({"a", 0}, {"b", 0}), 13);
    na_array *y = NULL, *z = NULL;
    NA_OK_OR_FAIL(na_diagonal(x, "b", "a", "d", &y));
    ts_expect_shape(y, "f64[d:1, c:2]");
    for (int64_t c = 0; c < 2; c++)
        cr_assert_eq(na_get(y, (int64_t[]){0, c}), na_get(x, (int64_t[]){0, 0, c}));
    NA_OK_OR_FAIL(na_diagonal(e, "a", "b", "d", &z));
    ts_expect_shape(z, "f64[d:0]");
    TS_FREE(x, e, y, z);
}

Test(views, names_from_temporary_buffers_are_interned)
{
    na_array *a = NULL, *y = NULL, *z = NULL;
    char buf[8] = "tmpname";
    NA_OK_OR_FAIL(na_arange(NULL, 4, NA_I32, &a));
    NA_OK_OR_FAIL(na_tag(a, (const char *const[]){buf, NULL}, &y));
    cr_assert_neq(y->name[0], (const char *)buf);
    cr_assert_eq(y->name[0], na_intern("tmpname"));
    buf[0] = 'X'; /* the header must not see this */
    cr_assert_eq(na_axis_size(y, "tmpname"), 4);
    NA_OK_OR_FAIL(na_rename(y, NA_NAMES("tmpname"), (const char *const[]){buf, NULL}, &z));
    cr_assert_eq(z->name[0], na_intern("Xmpname"));
    TS_FREE(a, y, z);
}

/* ---- views of every dtype ----------------------------------------------- */

Test(views, views_of_i32_and_bool_share_storage_and_values)
{
    const na_dtype dts[] = {NA_F64, NA_I32, NA_BOOL};
    for (int t = 0; t < 3; t++) {
        na_array *x = ts_random(dts[t], NA_DIMS({"a", 3}, {"b", 4}), 90 + t);
        na_array *o = NULL, *u = NULL, *r = NULL, *bc = NULL;
        NA_OK_OR_FAIL(na_order_as(x, NA_NAMES("b", "a"), &o));
        NA_OK_OR_FAIL(na_untag(o, NA_NAMES("a"), &u));
        NA_OK_OR_FAIL(na_rename(x, NA_NAMES("a"), NA_NAMES("c"), &r));
        NA_OK_OR_FAIL(na_broadcast_to(x, NA_DIMS({"z", 2}, {"b", 4}, {"a", 3}), &bc));
        na_array *all[] = {o, u, r, bc};
        for (int k = 0; k < 4; k++) {
            cr_assert_eq(all[k]->storage, x->storage);
            cr_assert_eq(all[k]->dtype, dts[t]);
        }
        for (int64_t a = 0; a < 3; a++)
            for (int64_t b = 0; b < 4; b++) {
                double v = ts_at(x, 2, NA_NAMES("a", "b"), (int64_t[]){a, b});
                cr_assert_eq(ts_at(o, 2, NA_NAMES("a", "b"), (int64_t[]){a, b}), v);
                cr_assert_eq(ts_at(u, 2, NA_NAMES("#0", "b"), (int64_t[]){a, b}), v);
                cr_assert_eq(ts_at(r, 2, NA_NAMES("c", "b"), (int64_t[]){a, b}), v);
                for (int64_t z = 0; z < 2; z++)
                    cr_assert_eq(ts_at(bc, 3, NA_NAMES("z", "a", "b"),
                                       (int64_t[]){z, a, b}),
                                 v);
            }
        TS_FREE(x, o, u, r, bc);
    }
}
