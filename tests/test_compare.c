/* na_max_abs_diff and na_allclose: by name, tolerances, NaN, errors. */
#include <math.h>
#include <string.h>

#include "support.h"

static na_array *arr(const char *n0, int64_t s0, const char *n1, int64_t s1,
                     const float *v)
{
    na_array *x = NULL;
    NA_OK_OR_FAIL(na_zeros(NA_F32, 2, (na_dim[]){{n0, s0}, {n1, s1}}, &x));
    memcpy(na_data(x), v, (size_t)(s0 * s1) * sizeof *v);
    return x;
}

Test(compare, lines_up_by_name_not_position)
{
    /* b is a transposed copy of a, with one entry off by 0.5. */
    na_array *a = arr("foo", 2, "bar", 3, (float[]){1, 2, 3, 4, 5, 6});
    na_array *b = arr("bar", 3, "foo", 2, (float[]){1, 4, 2, 5, 3, 6.5f});
    double d = -1;
    NA_OK_OR_FAIL(na_max_abs_diff(a, b, &d));
    cr_assert_float_eq(d, 0.5, 1e-12);
    bool ok = true;
    NA_OK_OR_FAIL(na_allclose(a, b, 0, 0.4, &ok));
    cr_assert(!ok);
    NA_OK_OR_FAIL(na_allclose(a, b, 0, 0.5, &ok));
    cr_assert(ok);
    /* rtol is relative to |b|: 0.5 <= 0.1 * 6.5 */
    NA_OK_OR_FAIL(na_allclose(a, b, 0.1, 0, &ok));
    cr_assert(ok);
    NA_OK_OR_FAIL(na_allclose(a, b, 0.07, 0, &ok));
    cr_assert(!ok);
    na_array_free(a);
    na_array_free(b);
}

Test(compare, nan_equals_nan_and_is_far_from_numbers)
{
    na_array *a = arr("x", 1, "y", 2, (float[]){NAN, 1});
    na_array *b = arr("x", 1, "y", 2, (float[]){NAN, 1});
    na_array *c = arr("x", 1, "y", 2, (float[]){0, 1});
    double d = -1;
    bool ok = false;
    NA_OK_OR_FAIL(na_max_abs_diff(a, b, &d));
    cr_assert_eq(d, 0);
    NA_OK_OR_FAIL(na_allclose(a, b, 0, 0, &ok));
    cr_assert(ok);
    NA_OK_OR_FAIL(na_max_abs_diff(a, c, &d));
    cr_assert(isinf(d));
    NA_OK_OR_FAIL(na_allclose(a, c, 1, 1, &ok));
    cr_assert(!ok);
    na_array_free(a);
    na_array_free(b);
    na_array_free(c);
}

Test(compare, mismatched_named_shapes_are_errors)
{
    na_array *a = arr("foo", 2, "bar", 3, (float[]){0, 0, 0, 0, 0, 0});
    na_array *b = arr("foo", 2, "baz", 3, (float[]){0, 0, 0, 0, 0, 0});
    na_array *c = arr("foo", 3, "bar", 2, (float[]){0, 0, 0, 0, 0, 0});
    double d = 7;
    bool ok = true;
    NA_EXPECT_FAIL(na_max_abs_diff(a, b, &d), NA_ERR_SHAPE,
                   "na_max_abs_diff: named shapes differ: a f32[foo:2, bar:3] vs b "
                   "f32[foo:2, baz:3]");
    NA_EXPECT_FAIL(na_allclose(a, c, 0, 0, &ok), NA_ERR_SHAPE,
                   "na_allclose: named shapes differ: a f32[foo:2, bar:3] vs b "
                   "f32[foo:3, bar:2]");
    cr_assert_eq(d, 7);
    cr_assert(ok);
    NA_EXPECT_FAIL(na_allclose(a, a, -1, 0, &ok), NA_ERR_ARGUMENT, "rtol (-1)");
    NA_EXPECT_FAIL(na_allclose(a, a, 0, NAN, &ok), NA_ERR_ARGUMENT, "atol (nan)");
    NA_EXPECT_FAIL(na_max_abs_diff(a, NULL, &d), NA_ERR_ARGUMENT, "na_max_abs_diff");
    NA_EXPECT_FAIL(na_allclose(a, a, 0, 0, NULL), NA_ERR_ARGUMENT, "na_allclose");
    na_array_free(a);
    na_array_free(b);
    na_array_free(c);
}

Test(compare, mixed_dtypes_and_positional_axes)
{
    na_array *f = NULL, *i = NULL;
    NA_OK_OR_FAIL(na_arange("seq", 5, NA_F32, &f));
    NA_OK_OR_FAIL(na_astype(f, NA_I32, &i));
    double d = -1;
    NA_OK_OR_FAIL(na_max_abs_diff(f, i, &d));
    cr_assert_eq(d, 0);
    na_array *uf = NULL, *ui = NULL;
    NA_OK_OR_FAIL(na_untag(f, NA_NAMES("seq"), &uf));
    NA_OK_OR_FAIL(na_untag(i, NA_NAMES("seq"), &ui));
    NA_OK_OR_FAIL(na_max_abs_diff(uf, ui, &d));
    cr_assert_eq(d, 0);
    NA_EXPECT_FAIL(na_max_abs_diff(f, uf, &d), NA_ERR_SHAPE, "f32[seq:5] vs b f32[| 5]");
    na_array_free(f);
    na_array_free(i);
    na_array_free(uf);
    na_array_free(ui);
}
