/* Combinators: Sequential, NamedGroup, Residual, branches, Identity and
 * CheckStructure. */
#include <stdlib.h>

#include <namedarr/combinators.h>
#include <namedarr/layer.h>

#include "support.h"

/* ---- test leaves: y = x * mul + add (+ side[key]) ---------------------- */

typedef struct op_layer {
    na_layer base;
    double mul, add;
    const char *key;
} op_layer;

static na_status op_call(na_layer *self, const na_value *in, const na_side *side,
                         na_value **out)
{
    op_layer *l = (op_layer *)self;
    const na_array *x = na_value_array(in, l->base.type->name);
    if (!x)
        return na_last_status();
    na_array *a = NULL, *b = NULL;
    na_status st = na_binary_scalar(NA_MUL, x, l->mul, &a);
    if (st == NA_OK)
        st = na_binary_scalar(NA_ADD, a, l->add, &b);
    na_array_free(a);
    if (st == NA_OK && l->key) {
        const na_array *s = na_side_require_array(side, l->key, l->base.type->name);
        a = b;
        b = NULL;
        st = s ? na_add(a, s, &b) : na_last_status();
        na_array_free(a);
    }
    if (st != NA_OK)
        return st;
    *out = na_value_from_array(b);
    return NA_OK;
}

static void op_describe(const na_layer *self, na_fields *f)
{
    const op_layer *l = (const op_layer *)self;
    na_fields_float(f, "value", l->add ? l->add : l->mul);
}

static const na_field_desc op_fields[] = {
    NA_FIELD(op_layer, mul, NA_FIELD_FLOAT),
    NA_FIELD(op_layer, add, NA_FIELD_FLOAT),
};

static const na_layer_type add_const_type = {
    "AddConstant", op_call, .size = sizeof(op_layer), .fields = op_fields,
    .field_count = NA_FIELD_COUNT(op_fields), .describe = op_describe};
static const na_layer_type scale_type = {
    "Scale", op_call, .size = sizeof(op_layer), .fields = op_fields,
    .field_count = NA_FIELD_COUNT(op_fields), .describe = op_describe};

static na_layer *add_const(double v)
{
    op_layer *l = calloc(1, sizeof *l);
    *l = (op_layer){{&add_const_type}, 1, v, NULL};
    return &l->base;
}

static na_layer *scale(double v)
{
    op_layer *l = calloc(1, sizeof *l);
    *l = (op_layer){{&scale_type}, v, 0, NULL};
    return &l->base;
}

static na_layer *add_side(const char *key)
{
    op_layer *l = calloc(1, sizeof *l);
    *l = (op_layer){{&add_const_type}, 1, 0, key};
    return &l->base;
}

static na_array *vec(double v)
{
    na_array *x = NULL;
    NA_OK_OR_FAIL(na_full(NA_F32, 2, (na_dim[]){{"batch", 2}, {"seq", 3}}, v, &x));
    return x;
}

static double first(const na_array *x) { return ((const float *)na_data(x))[0]; }

static double run(na_layer *l, double in, const na_side *side)
{
    na_array *x = vec(in), *y = NULL;
    NA_OK_OR_FAIL(na_layer_call_array(l, x, side, &y));
    double v = first(y);
    cr_assert(na_same_shape(x, y));
    na_array_free(x);
    na_array_free(y);
    return v;
}

/* ---- Sequential and NamedGroup ---------------------------------------- */

Test(sequential, runs_in_order)
{
    na_layer *s = NULL;
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(add_const(1), scale(10), add_const(2)), &s));
    cr_assert_float_eq(run(s, 1, NULL), 22.0, 1e-6);
    cr_assert_eq(na_layer_child_count(s), 3);
    cr_assert_str_eq(na_layer_child_name(s, 2), "2");
    cr_assert(na_is_sequential(s));
    na_layer_free(s);
}

Test(sequential, empty_is_identity)
{
    na_layer *s = NULL;
    NA_OK_OR_FAIL(na_sequential_new(0, NULL, &s));
    cr_assert_float_eq(run(s, 5, NULL), 5.0, 0);
    na_layer_free(s);
}

Test(sequential, append_insert_remove)
{
    na_layer *s = NULL, *taken = NULL;
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(add_const(1)), &s));
    for (int i = 0; i < 10; i++)
        NA_OK_OR_FAIL(na_sequential_append(s, add_const(0)));
    NA_OK_OR_FAIL(na_sequential_insert(s, 0, scale(3)));   /* (x*3)+1 */
    cr_assert_float_eq(run(s, 2, NULL), 7.0, 1e-6);
    NA_OK_OR_FAIL(na_sequential_remove(s, 0, &taken));
    cr_assert_str_eq(na_layer_type_name(taken), "Scale");
    na_layer_free(taken);
    cr_assert_float_eq(run(s, 2, NULL), 3.0, 1e-6);
    NA_EXPECT_FAIL(na_sequential_remove(s, 11, NULL), NA_ERR_INDEX,
                   "index 11 out of range (11 children)");
    NA_EXPECT_FAIL(na_sequential_insert(s, 13, add_const(1)), NA_ERR_INDEX,
                   "index 13 out of range 0..11");
    na_layer *id = NULL;
    NA_OK_OR_FAIL(na_identity_new(&id));
    NA_EXPECT_FAIL(na_sequential_append(id, add_const(1)), NA_ERR_ARGUMENT,
                   "target is a Identity, not a Sequential");
    na_layer_free(id);
    na_layer_free(s);
}

Test(sequential, null_child_fails_and_frees_the_rest)
{
    na_layer *s = NULL;
    NA_EXPECT_FAIL(na_sequential_new(NA_LAYERS(add_const(1), NULL), &s),
                   NA_ERR_ARGUMENT, "child 1 is NULL");
    cr_assert_null(s);
}

Test(named_group, name_paths_and_describe)
{
    na_layer *g0 = NULL, *g1 = NULL, *dup = NULL, *s = NULL;
    NA_OK_OR_FAIL(na_named_group_new("block_0", NA_LAYERS(add_const(1)), &g0));
    NA_OK_OR_FAIL(na_named_group_new("block_1", NA_LAYERS(scale(2)), &g1));
    NA_OK_OR_FAIL(na_named_group_new("block_1", 0, NULL, &dup));
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(g0, g1, dup, scale(1)), &s));
    cr_assert_str_eq(na_named_group_name(g0), "block_0");
    cr_assert_null(na_named_group_name(s));
    cr_assert_str_eq(na_layer_child_name(s, 0), "block_0");
    cr_assert_str_eq(na_layer_child_name(s, 1), "1");   /* name not unique */
    cr_assert_str_eq(na_layer_child_name(s, 2), "2");
    cr_assert_str_eq(na_layer_child_name(s, 3), "3");
    cr_assert_float_eq(run(s, 1, NULL), 4.0, 1e-6);
    NA_EXPECT_FAIL(na_named_group_new("", 0, NULL, &dup), NA_ERR_ARGUMENT,
                   "a name is required");
    na_layer_free(s);
}

/* ---- Residual, branches, Identity -------------------------------------- */

Test(residual, adds_the_input)
{
    na_layer *r = NULL;
    NA_OK_OR_FAIL(na_residual_new(scale(3), &r));
    cr_assert_float_eq(run(r, 2, NULL), 8.0, 1e-6);
    cr_assert_str_eq(na_layer_child_name(r, 0), "delta");
    na_layer_free(r);
    NA_EXPECT_FAIL(na_residual_new(NULL, &r), NA_ERR_ARGUMENT, "delta is NULL");
}

/* A delta whose output has the wrong size: the sum must fail naming both
 * shapes. */
static na_status wrong_seq_call(na_layer *self, const na_value *in,
                                const na_side *side, na_value **out)
{
    (void)self;
    (void)in;
    (void)side;
    na_array *y = NULL;
    na_status st = na_full(NA_F32, 1, (na_dim[]){{"seq", 5}}, 0, &y);
    if (st == NA_OK)
        *out = na_value_from_array(y);
    return st;
}

static const na_layer_type bad_type = {"WrongSeq", wrong_seq_call,
                                       .size = sizeof(op_layer)};

Test(residual, mismatch_names_shapes)
{
    op_layer *bad = calloc(1, sizeof *bad);
    bad->base.type = &bad_type;
    na_layer *r = NULL;
    NA_OK_OR_FAIL(na_residual_new(&bad->base, &r));
    na_array *x = vec(1), *y = NULL;
    NA_EXPECT_FAIL(na_layer_call_array(r, x, NULL, &y), NA_ERR_SHAPE,
                   "Residual: adding delta f32[seq:5] to input f32[batch:2, seq:3]");
    na_array_free(x);
    na_layer_free(r);
}

Test(branches, add_and_multiply)
{
    na_layer *add = NULL, *mul = NULL;
    NA_OK_OR_FAIL(na_branch_add_new(NA_LAYERS(scale(2), add_const(5), scale(-1)), &add));
    cr_assert_float_eq(run(add, 3, NULL), 6.0 + 8.0 - 3.0, 1e-6);
    NA_OK_OR_FAIL(na_branch_mul_new(NA_LAYERS(scale(2), add_const(5)), &mul));
    cr_assert_float_eq(run(mul, 3, NULL), 6.0 * 8.0, 1e-6);
    na_layer_free(add);
    na_layer_free(mul);
    NA_EXPECT_FAIL(na_branch_add_new(0, NULL, &add), NA_ERR_ARGUMENT,
                   "needs at least 1 layer");
}

Test(identity, returns_input_sharing_storage)
{
    na_layer *id = NULL;
    NA_OK_OR_FAIL(na_identity_new(&id));
    na_array *x = vec(4), *y = NULL;
    NA_OK_OR_FAIL(na_layer_call_array(id, x, NULL, &y));
    cr_assert_eq(x->storage, y->storage);
    na_array_free(x);
    na_array_free(y);
    na_layer_free(id);
}

Test(combinators, side_inputs_reach_every_sublayer)
{
    na_layer *r = NULL, *s = NULL, *b = NULL;
    NA_OK_OR_FAIL(na_residual_new(add_side("bias"), &r));
    NA_OK_OR_FAIL(na_branch_add_new(NA_LAYERS(add_side("bias"), scale(0)), &b));
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(add_side("bias"), r, b), &s));
    na_side *side = na_side_new();
    na_array *bias = vec(1);
    NA_OK_OR_FAIL(na_side_set_array(side, "bias", bias));
    /* x=0 -> 1 -> (1+1)+1 = 3 -> (3+1) + 0 = 4 */
    cr_assert_float_eq(run(s, 0, side), 4.0, 1e-6);
    na_array *x = vec(0), *y = NULL;
    NA_EXPECT_FAIL(na_layer_call_array(s, x, NULL, &y), NA_ERR_NOT_FOUND,
                   "AddConstant: side input 'bias' is missing");
    na_array_free(x);
    na_array_free(bias);
    na_side_free(side);
    na_layer_free(s);
}

/* ---- CheckStructure ---------------------------------------------------- */

static na_array *shaped(int n, const na_dim *dims)
{
    na_array *x = NULL;
    NA_OK_OR_FAIL(na_zeros(NA_F32, n, dims, &x));
    return x;
}

static na_status check(const char *spec, na_array *x)
{
    na_layer *c = NULL;
    NA_OK_OR_FAIL(na_check_structure_new(spec, &c));
    na_array *y = NULL;
    na_status st = na_layer_call_array(c, x, NULL, &y);
    if (st == NA_OK)
        cr_assert_eq(y->storage, x->storage);
    na_array_free(y);
    na_layer_free(c);
    return st;
}

Test(check_structure, variables_bind_and_check)
{
    na_array *x = shaped(NA_DIMS({"batch", 2}, {"seq", 8}, {"embedding", 512}));
    NA_OK_OR_FAIL(check("batch:B seq:S embedding:512", x));
    NA_OK_OR_FAIL(check("embedding:512 seq:S batch:2", x));
    NA_OK_OR_FAIL(check("seq:S ...", x));
    NA_EXPECT_FAIL(check("batch:B seq:S embedding:256", x), NA_ERR_SHAPE,
                   "axis 'embedding' has size 512, expected 256",
                   "input f32[batch:2, seq:8, embedding:512]");
    NA_EXPECT_FAIL(check("batch:S seq:S embedding:E", x), NA_ERR_SHAPE,
                   "axis 'seq' has size 8, but S = 2 (bound by axis 'batch')");
    NA_EXPECT_FAIL(check("batch:B seq:S", x), NA_ERR_AXIS, "unexpected axis 'embedding'");
    NA_EXPECT_FAIL(check("batch:B heads:H embedding:E", x), NA_ERR_AXIS,
                   "missing axis 'heads'");
    na_array_free(x);
}

Test(check_structure, tuples_share_variables)
{
    na_array *q = shaped(NA_DIMS({"seq", 4}, {"heads", 2}));
    na_array *k = shaped(NA_DIMS({"kv_seq", 6}, {"heads", 3}));
    na_layer *c = NULL;
    NA_OK_OR_FAIL(na_check_structure_new("seq:S heads:H, kv_seq:K heads:H", &c));
    na_value *t = na_value_tuple(2, (na_value *[]){na_value_ref_array(q),
                                                   na_value_ref_array(k)});
    na_value *y = NULL;
    NA_EXPECT_FAIL(na_layer_call(c, t, NULL, &y), NA_ERR_SHAPE,
                   "axis 'heads' has size 3, but H = 2 (bound by axis 'heads')");
    na_value *x = na_value_ref_array(q);
    NA_EXPECT_FAIL(na_layer_call(c, x, NULL, &y), NA_ERR_ARGUMENT,
                   "expected a tuple of 2 items");
    na_value_free(x);
    na_value_free(t);
    na_array_free(q);
    na_array_free(k);
    na_layer_free(c);
}

Test(check_structure, bad_specs)
{
    na_layer *c = NULL;
    NA_EXPECT_FAIL(na_check_structure_new("batch", &c), NA_ERR_ARGUMENT,
                   "expected \"name:size\" at \"batch\"");
    NA_EXPECT_FAIL(na_check_structure_new("batch:", &c), NA_ERR_ARGUMENT,
                   "expected a size or variable after 'batch:'");
    NA_EXPECT_FAIL(na_check_structure_new("a:1 a:2", &c), NA_ERR_AXIS,
                   "axis 'a' listed twice");
    NA_EXPECT_FAIL(na_check_structure_new("a:12x", &c), NA_ERR_ARGUMENT,
                   "bad size '12x' for axis 'a'");
    cr_assert_null(c);
}

Test(check_structure, positional_axes_rejected_unless_open)
{
    na_array *x = shaped(NA_DIMS({"seq", 2}, {NULL, 3}));
    NA_EXPECT_FAIL(check("seq:2", x), NA_ERR_AXIS, "unexpected positional axes");
    NA_OK_OR_FAIL(check("seq:2 ...", x));
    na_array_free(x);
}
