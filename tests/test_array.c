/* Array basics: construction, inspection, copies, printing. */
#include "support.h"

Test(array, arange_reshape_tag_shape_string)
{
    na_array *x = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_arange(NULL, 30, NA_F32, &x));
    NA_OK_OR_FAIL(na_reshape(x, 3, (int64_t[]){2, 3, 5}, &y));
    char buf[128];
    na_shape_str(y, buf, sizeof buf);
    cr_assert_str_eq(buf, "f32[| 2 3 5]");
    cr_assert_eq(na_get(y, (int64_t[]){1, 2, 4}), 29.0);
    na_array_free(x);
    na_array_free(y);
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
