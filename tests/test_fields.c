/* Declared layer fields: reading and setting by name, clone, equality,
 * the type registry. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <namedarr/namedarr.h>

#include "support.h"

static na_array *iota(void)
{
    na_array *x = NULL;
    float v[12];
    for (int i = 0; i < 12; i++)
        v[i] = (float)(i % 5) - 1.5f;
    NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"seq", 3}, {"kv_seq", 4}), v, &x));
    return x;
}

static na_array *run(na_layer *l, const na_array *x)
{
    na_array *y = NULL;
    NA_OK_OR_FAIL(na_layer_call_array(l, x, NULL, &y));
    return y;
}

/* ---- reading fields --------------------------------------------------------- */

Test(fields, softmax_across_by_name)
{
    na_layer *s = NULL;
    NA_OK_OR_FAIL(na_softmax_layer_new(NA_NAMES("kv_seq", "heads"), &s));
    const char *const *across = NULL;
    NA_OK_OR_FAIL(na_layer_field_names(s, "across", &across));
    cr_assert_str_eq(across[0], "kv_seq");
    cr_assert_str_eq(across[1], "heads");
    cr_assert_null(across[2]);
    cr_assert_eq(across[0], na_intern("kv_seq"), "names are interned");
    na_field_ref r;
    NA_OK_OR_FAIL(na_layer_field(s, "across", &r));
    cr_assert_eq(r.desc->kind, NA_FIELD_NAMES);
    cr_assert_str_eq(r.desc->name, "across");
    cr_assert_eq(*(const char *const **)r.ptr, across);
    cr_assert_eq(na_layer_type_field_count(&na_softmax_layer_type), 1);
    cr_assert_eq(na_layer_type_field_at(&na_softmax_layer_type, 0), r.desc);
    cr_assert_null(na_layer_type_field_at(&na_softmax_layer_type, 1));
    na_layer_free(s);
}

Test(fields, missing_field_and_wrong_kind)
{
    na_layer *s = NULL;
    NA_OK_OR_FAIL(na_softmax_layer_new(NA_NAMES("kv_seq"), &s));
    double eps = 0;
    NA_EXPECT_FAIL(na_layer_field_float(s, "eps", &eps), NA_ERR_ARGUMENT,
                   "na_layer_field_float: Softmax has no field 'eps' (fields: across)");
    int64_t n = 0;
    NA_EXPECT_FAIL(na_layer_field_int(s, "across", &n), NA_ERR_ARGUMENT,
                   "na_layer_field_int: field 'across' of Softmax is a name list, not "
                   "an int");
    NA_EXPECT_FAIL(na_layer_field_set_bool(s, "across", true), NA_ERR_ARGUMENT,
                   "na_layer_field_set_bool", "is a name list, not a bool");
    NA_EXPECT_FAIL(na_layer_field_names(s, "across", NULL), NA_ERR_ARGUMENT,
                   "out is NULL");
    NA_EXPECT_FAIL(na_layer_field(NULL, "across", &(na_field_ref){0}), NA_ERR_ARGUMENT,
                   "na_layer_field: layer and field name are required");
    NA_EXPECT_FAIL(na_layer_field_set_names(s, "across", NA_NAMES("a", "a")),
                   NA_ERR_AXIS, "axis 'a' is listed twice");
    const char *const *across = NULL;
    NA_OK_OR_FAIL(na_layer_field_names(s, "across", &across));
    cr_assert_str_eq(across[0], "kv_seq", "a failed set leaves the field alone");
    na_layer_free(s);
}

Test(fields, enum_by_value_and_name)
{
    na_layer *e = NULL;
    NA_OK_OR_FAIL(na_elementwise_new(NA_GELU, &e));
    int op = -1;
    NA_OK_OR_FAIL(na_layer_field_enum(e, "op", &op));
    cr_assert_eq(op, NA_GELU);
    na_field_ref r;
    NA_OK_OR_FAIL(na_layer_field(e, "op", &r));
    cr_assert_str_eq(r.desc->enum_names[op], "gelu");
    NA_OK_OR_FAIL(na_layer_field_set_enum_name(e, "op", "relu"));
    NA_OK_OR_FAIL(na_layer_field_enum(e, "op", &op));
    cr_assert_eq(op, NA_RELU);
    NA_EXPECT_FAIL(na_layer_field_set_enum_name(e, "op", "frobnicate"), NA_ERR_ARGUMENT,
                   "'frobnicate' is not a value of field 'op' of Elementwise");
    NA_EXPECT_FAIL(na_layer_field_set_enum(e, "op", 999), NA_ERR_ARGUMENT,
                   "999 is not a value of field 'op' of Elementwise");
    na_array *x = iota(), *y = run(e, x);
    cr_assert_eq(ts_at(y, 2, NA_NAMES("seq", "kv_seq"), (int64_t[]){0, 0}), 0.0f,
                 "relu(-1.5) = 0 after the edit");
    TS_FREE(x, y);
    na_layer_free(e);
}

Test(fields, children_by_name)
{
    na_layer *a = NULL, *b = NULL, *seq = NULL, *res = NULL;
    NA_OK_OR_FAIL(na_elementwise_new(NA_RELU, &a));
    NA_OK_OR_FAIL(na_tanh_soft_cap_new(2.0, &b));
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(a, b), &seq));
    NA_OK_OR_FAIL(na_residual_new(seq, &res));
    na_layer *delta = NULL;
    NA_OK_OR_FAIL(na_layer_field_child(res, "delta", &delta));
    cr_assert_eq(delta, seq);
    cr_assert_str_eq(na_layer_child_name(res, 0), "delta");
    int n = 0;
    na_layer *const *kids = NULL;
    NA_OK_OR_FAIL(na_layer_field_children(seq, "children", &n, &kids));
    cr_assert_eq(n, 2);
    cr_assert_eq(kids[1], b);
    cr_assert_str_eq(na_layer_child_name(seq, 1), "1");
    double cap = 0;
    NA_OK_OR_FAIL(na_layer_field_float(b, "cap", &cap));
    cr_assert_eq(cap, 2.0);
    na_layer_free(res);
}

/* ---- building from the table alone ------------------------------------------ */

Test(fields, alloc_set_finish)
{
    na_layer *c = NULL;
    NA_OK_OR_FAIL(na_layer_alloc(&na_check_structure_type, &c));
    NA_OK_OR_FAIL(na_layer_field_set_string(c, "spec", "seq:S kv_seq:4"));
    NA_OK_OR_FAIL(na_layer_finish(c));
    na_array *x = iota(), *y = run(c, x);
    TS_FREE(x, y);
    NA_OK_OR_FAIL(na_layer_field_set_string(c, "spec", "seq:"));
    NA_EXPECT_FAIL(na_layer_finish(c), NA_ERR_ARGUMENT,
                   "expected a size or variable after 'seq:'");
    na_layer_free(c);
    NA_EXPECT_FAIL(na_layer_alloc(NULL, &c), NA_ERR_ARGUMENT, "na_layer_alloc");
}

/* ---- clone and equality ------------------------------------------------------- */

static na_layer *small_tree(double cap)
{
    na_layer *chk = NULL, *soft = NULL, *act = NULL, *capl = NULL, *id = NULL,
             *grp = NULL, *seq = NULL, *res = NULL;
    NA_OK_OR_FAIL(na_check_structure_new("seq:S kv_seq:K", &chk));
    NA_OK_OR_FAIL(na_elementwise_new(NA_TANH, &act));
    NA_OK_OR_FAIL(na_tanh_soft_cap_new(cap, &capl));
    NA_OK_OR_FAIL(na_identity_new(&id));
    NA_OK_OR_FAIL(na_named_group_new("act", NA_LAYERS(act, capl, id), &grp));
    NA_OK_OR_FAIL(na_residual_new(grp, &res));
    NA_OK_OR_FAIL(na_softmax_layer_new(NA_NAMES("kv_seq"), &soft));
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(chk, res, soft), &seq));
    return seq;
}

Test(fields, clone_is_equal_and_independent)
{
    na_layer *m = small_tree(3.0), *c = NULL;
    NA_OK_OR_FAIL(na_layer_clone(m, NA_CLONE_COPY_PARAMS, &c));
    cr_assert_neq(c, m);
    cr_assert(na_layer_equal(m, c, true));
    cr_assert_neq(na_layer_child(m, 0), na_layer_child(c, 0), "a deep copy");
    na_array *x = iota(), *y1 = run(m, x), *y2 = run(c, x);
    cr_assert_eq(ts_max_abs_diff(y1, y2), 0.0);
    /* edit the clone: the original keeps its value */
    na_layer *cap = na_tree_get(c, "1/delta/1");
    cr_assert_str_eq(na_layer_type_name(cap), "TanhSoftCap");
    NA_OK_OR_FAIL(na_layer_field_set_float(cap, "cap", 0.5));
    cr_assert_not(na_layer_equal(m, c, false));
    double v = 0;
    NA_OK_OR_FAIL(na_layer_field_float(na_tree_get(m, "1/delta/1"), "cap", &v));
    cr_assert_eq(v, 3.0);
    na_array *y3 = run(c, x), *y4 = run(m, x);
    cr_assert_gt(ts_max_abs_diff(y1, y3), 1e-3);
    cr_assert_eq(ts_max_abs_diff(y1, y4), 0.0);
    TS_FREE(x, y1, y2, y3, y4);
    na_layer_free(m);
    na_layer_free(c);
}

Test(fields, clone_rebuilds_derived_state)
{
    na_layer *chk = NULL, *c = NULL;
    NA_OK_OR_FAIL(na_check_structure_new("seq:3 kv_seq:5", &chk));
    NA_OK_OR_FAIL(na_layer_clone(chk, NA_CLONE_SHARE_PARAMS, &c));
    na_array *x = iota(), *y = NULL;
    NA_EXPECT_FAIL(na_layer_call_array(c, x, NULL, &y), NA_ERR_SHAPE,
                   "axis 'kv_seq' has size 4, expected 5");
    na_array_free(x);
    na_layer_free(chk);
    na_layer_free(c);
}

Test(fields, equality_cases)
{
    na_layer *a = small_tree(3.0), *b = small_tree(3.0), *c = small_tree(2.0);
    cr_assert(na_layer_equal(a, b, true));
    cr_assert(na_layer_equal(a, a, true));
    cr_assert_not(na_layer_equal(a, c, false));
    cr_assert_not(na_layer_equal(a, NULL, false));
    cr_assert_not(na_layer_equal(a, na_layer_child(a, 0), false));
    NA_OK_OR_FAIL(na_layer_field_set_string(na_tree_get(b, "1/delta"), "name", "other"));
    cr_assert_not(na_layer_equal(a, b, false));
    na_layer_free(a);
    na_layer_free(b);
    na_layer_free(c);
}

/* ---- a type written outside the library --------------------------------------- */

typedef struct shift_layer {
    na_layer base;
    double by;
    const char **axes;
} shift_layer;

static na_status shift_call(na_layer *self, const na_value *in, const na_side *side,
                            na_value **out)
{
    (void)side;
    const na_array *x = na_value_array(in, "Shift");
    na_array *y = NULL;
    na_status st = x ? na_binary_scalar(NA_ADD, x, ((shift_layer *)self)->by, &y)
                     : na_last_status();
    if (st == NA_OK)
        *out = na_value_from_array(y);
    return st;
}

static const na_field_desc shift_fields[] = {
    NA_FIELD(shift_layer, by, NA_FIELD_FLOAT),
    NA_FIELD(shift_layer, axes, NA_FIELD_NAMES),
};

static const na_layer_type shift_type = {
    .name = "TestShift", .call = shift_call, .size = sizeof(shift_layer),
    .fields = shift_fields, .field_count = NA_FIELD_COUNT(shift_fields)};

static const na_layer_type impostor_type = {
    .name = "TestShift", .call = shift_call, .size = sizeof(shift_layer),
    .fields = shift_fields, .field_count = NA_FIELD_COUNT(shift_fields)};

Test(fields, registry)
{
    cr_assert_eq(na_layer_type_find("Softmax"), &na_softmax_layer_type);
    cr_assert_eq(na_layer_type_find("Sequential"), &na_sequential_type);
    cr_assert_null(na_layer_type_find("NoSuchLayer"));
    cr_assert_null(na_layer_type_find("TestShift"));
    NA_OK_OR_FAIL(na_layer_type_register(&shift_type));
    NA_OK_OR_FAIL(na_layer_type_register(&shift_type));
    cr_assert_eq(na_layer_type_find("TestShift"), &shift_type);
    NA_EXPECT_FAIL(na_layer_type_register(&impostor_type), NA_ERR_ARGUMENT,
                   "another type is already registered as 'TestShift'");
    NA_EXPECT_FAIL(na_layer_type_register(&(na_layer_type){.name = "X"}),
                   NA_ERR_ARGUMENT, "needs a name, a call function, a size");
    int n = na_layer_type_registered_count();
    cr_assert_geq(n, 10);
    cr_assert_eq(na_layer_type_registered_at(n - 1), &shift_type);
    cr_assert_null(na_layer_type_registered_at(n));
}

Test(fields, custom_type_from_table)
{
    const na_layer_type *t = &shift_type;
    na_layer *l = NULL, *c = NULL;
    NA_OK_OR_FAIL(na_layer_alloc(t, &l));
    NA_OK_OR_FAIL(na_layer_field_set_float(l, "by", 0.5));
    NA_OK_OR_FAIL(na_layer_field_set_names(l, "axes", NA_NAMES("seq")));
    NA_OK_OR_FAIL(na_layer_finish(l));
    NA_OK_OR_FAIL(na_layer_clone(l, NA_CLONE_COPY_PARAMS, &c));
    cr_assert(na_layer_equal(l, c, true));
    na_array *x = iota(), *y = run(c, x);
    cr_assert_float_eq(ts_at(y, 2, NA_NAMES("seq", "kv_seq"), (int64_t[]){0, 0}), -1.0,
                       1e-6);
    TS_FREE(x, y);
    char *text = NULL;
    na_print_options o = {.color = NA_COLOR_NEVER};
    NA_OK_OR_FAIL(na_print_tree_str(c, &o, &text));
    cr_assert(strstr(text, "TestShift(by=0.5, axes=[seq])"), "%s", text);
    free(text);
    na_layer_free(l);
    na_layer_free(c);
}
