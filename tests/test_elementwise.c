/* Elementwise ops: name broadcasting, dtype rules, every op against a
 * plain-loop reference, strided / transposed / reversed views, errors. */
#include <math.h>

#include "support.h"

/* ---- reference helpers ------------------------------------------------- */

/* Value of x at the element of `out` at oidx (named axes by name,
 * positional right-aligned, size-1 positional stretched). */
static double bval(const na_array *x, const na_array *out, const int64_t *oidx)
{
    int64_t idx[NA_MAX_DIMS] = {0};
    int px = na_positional_count(x), po = na_positional_count(out), j = 0;
    for (int e = 0; e < x->ndim; e++) {
        int d = x->name[e] ? na_axis_index(out, x->name[e])
                           : na_positional_index(out, po - px + j++);
        cr_assert(d >= 0);
        idx[e] = x->shape[e] == 1 ? 0 : oidx[d];
    }
    return na_get(x, idx);
}

static bool close_to(double got, double want, double tol)
{
    if (isnan(want))
        return isnan(got);
    if (isinf(want))
        return got == want;
    return fabs(got - want) <= tol * (1 + fabs(want));
}

/* A view with dim d reversed (negative stride), values reversed too. */
static na_array *reversed(const na_array *x, int d)
{
    na_array *v = NULL;
    NA_OK_OR_FAIL(na_array_ref(x, &v));
    v->offset += (x->shape[d] - 1) * x->stride[d];
    v->stride[d] = -x->stride[d];
    return v;
}

static double ref_binary(na_binary_op op, double x, double y)
{
    switch (op) {
    case NA_ADD: return x + y;
    case NA_SUB: return x - y;
    case NA_MUL: return x * y;
    case NA_DIV: return x / y;
    case NA_POW: return pow(x, y);
    case NA_MAXIMUM: return x > y ? x : y;
    case NA_MINIMUM: return x < y ? x : y;
    case NA_LOGICAL_AND: return (x != 0) && (y != 0);
    case NA_LOGICAL_OR: return (x != 0) || (y != 0);
    case NA_EQ: return x == y;
    case NA_NE: return x != y;
    case NA_LT: return x < y;
    case NA_LE: return x <= y;
    case NA_GT: return x > y;
    case NA_GE: return x >= y;
    }
    return NAN;
}

/* Check out == op(a, b) elementwise by name; returns the worst error. */
static void check_binary(na_binary_op op, const na_array *a, const na_array *b,
                         const na_array *out, double tol)
{
    int64_t idx[NA_MAX_DIMS] = {0};
    if (na_size(out) == 0)
        return;
    do {
        double want = ref_binary(op, bval(a, out, idx), bval(b, out, idx));
        double got = na_get(out, idx);
        if (out->dtype == NA_F32 && (op == NA_ADD || op == NA_SUB ||
                                     op == NA_MUL || op == NA_DIV))
            want = (float)want;
        cr_assert(close_to(got, want, tol), "op %d: got %g want %g", op, got, want);
    } while (ts_next_index(out, idx));
}

static void expect_dims(const na_array *x, int n, const char *const *names,
                        const int64_t *sizes)
{
    cr_assert_eq(x->ndim, n, "ndim %d, want %d", x->ndim, n);
    for (int d = 0; d < n; d++) {
        if (names[d])
            cr_assert_str_eq(x->name[d], names[d]);
        else
            cr_assert_null(x->name[d]);
        cr_assert_eq(x->shape[d], sizes[d], "dim %d: %lld vs %lld", d,
                     (long long)x->shape[d], (long long)sizes[d]);
    }
}

/* ---- broadcasting ------------------------------------------------------ */

Test(elementwise, penzai_broadcast_by_name)
{
    /* {foo:2, bar:3} + {baz:5, foo:2} -> {foo:2, bar:3, baz:5} */
    na_array *a = ts_random(NA_F32, NA_DIMS({"foo", 2}, {"bar", 3}), 1);
    na_array *b = ts_random(NA_F32, NA_DIMS({"baz", 5}, {"foo", 2}), 2);
    na_array *c = NULL;
    NA_OK_OR_FAIL(na_add(a, b, &c));
    expect_dims(c, 3, (const char *[]){"foo", "bar", "baz"},
                (int64_t[]){2, 3, 5});
    char buf[64];
    na_shape_str(c, buf, sizeof buf);
    cr_assert_str_eq(buf, "f32[foo:2, bar:3, baz:5]");
    for (int64_t f = 0; f < 2; f++)
        for (int64_t r = 0; r < 3; r++)
            for (int64_t z = 0; z < 5; z++) {
                float want = (float)na_get(a, (int64_t[]){f, r}) +
                             (float)na_get(b, (int64_t[]){z, f});
                cr_assert_eq((float)na_get(c, (int64_t[]){f, r, z}), want);
            }
    TS_FREE(a, b, c);
}

Test(elementwise, size_clash_lists_both_named_shapes)
{
    na_array *a = ts_random(NA_F32, NA_DIMS({"foo", 2}, {"bar", 3}), 1);
    na_array *b = ts_random(NA_F32, NA_DIMS({"foo", 4}), 2);
    na_array *c = NULL;
    NA_EXPECT_FAIL(na_add(a, b, &c), NA_ERR_SHAPE,
                   "na_add: size clash on axis 'foo': lhs f32[foo:2, bar:3] vs "
                   "rhs f32[foo:4]");
    cr_assert_null(c);
    NA_EXPECT_FAIL(na_binary(NA_MUL, a, b, &c), NA_ERR_SHAPE, "na_binary(mul)",
                   "'foo'", "f32[foo:2, bar:3]", "f32[foo:4]");
    cr_assert_null(c);
    TS_FREE(a, b);
}

Test(elementwise, size_one_named_axes_do_not_stretch)
{
    na_array *a = ts_random(NA_F32, NA_DIMS({"foo", 1}), 1);
    na_array *b = ts_random(NA_F32, NA_DIMS({"foo", 3}), 2);
    na_array *c = NULL;
    NA_EXPECT_FAIL(na_sub(a, b, &c), NA_ERR_SHAPE, "na_sub", "'foo'",
                   "f32[foo:1]", "f32[foo:3]", "do not stretch");
    cr_assert_null(c);
    TS_FREE(a, b);
}

Test(elementwise, positional_axes_broadcast_like_numpy)
{
    na_array *a = ts_random(NA_F32, NA_DIMS({"n", 5}, {NULL, 3}, {NULL, 1}), 1);
    na_array *b = ts_random(NA_F32, NA_DIMS({NULL, 4}), 2);
    na_array *c = NULL;
    NA_OK_OR_FAIL(na_mul(a, b, &c));
    expect_dims(c, 3, (const char *[]){"n", NULL, NULL}, (int64_t[]){5, 3, 4});
    check_binary(NA_MUL, a, b, c, 0);
    na_array_free(c);
    /* positional first, named second: result puts named axes first */
    NA_OK_OR_FAIL(na_add(b, a, &c));
    expect_dims(c, 3, (const char *[]){"n", NULL, NULL}, (int64_t[]){5, 3, 4});
    check_binary(NA_ADD, b, a, c, 0);
    na_array_free(c);
    na_array *d = ts_random(NA_F32, NA_DIMS({NULL, 2}, {NULL, 4}), 3);
    NA_EXPECT_FAIL(na_add(a, d, &c), NA_ERR_SHAPE, "na_add", "positional",
                   "f32[n:5 | 3 1]", "f32[| 2 4]");
    TS_FREE(a, b, d);
}

/* ---- binary ops against the reference -------------------------------- */

static void all_binary_ops_on(const na_array *a, const na_array *b)
{
    for (int op = NA_ADD; op <= NA_GE; op++) {
        if (op == NA_LOGICAL_AND || op == NA_LOGICAL_OR)
            continue;
        na_array *c = NULL;
        NA_OK_OR_FAIL(na_binary((na_binary_op)op, a, b, &c));
        bool cmp = op >= NA_EQ;
        cr_assert_eq(c->dtype, cmp ? NA_BOOL : a->dtype, "op %d dtype", op);
        check_binary((na_binary_op)op, a, b, c, op == NA_POW ? 1e-5 : 1e-6);
        na_array_free(c);
    }
}

/* Positive operands so pow is defined. */
static na_array *positive(na_dtype t, int nd, const na_dim *dims, uint64_t seed)
{
    na_array *x = ts_random(t, nd, dims, seed), *y = NULL, *z = NULL;
    NA_OK_OR_FAIL(na_unary(NA_ABS, x, &y));
    NA_OK_OR_FAIL(na_binary_scalar(NA_ADD, y, 0.25, &z));
    TS_FREE(x, y);
    return z;
}

Test(elementwise, every_binary_op_odd_sizes_different_orders)
{
    na_array *a = positive(NA_F32, NA_DIMS({"x", 7}, {"y", 13}), 3);
    na_array *b = positive(NA_F32, NA_DIMS({"y", 13}, {"z", 3}, {"x", 7}), 4);
    all_binary_ops_on(a, b);
    na_array *sa = ts_strided_copy(a), *sb = ts_strided_copy(b);
    all_binary_ops_on(sa, sb);
    all_binary_ops_on(sa, b);
    na_array *ra = reversed(a, 1), *pb = ts_permuted(sb, (int[]){2, 0, 1});
    all_binary_ops_on(ra, pb);
    all_binary_ops_on(pb, ra);
    na_array *a64 = positive(NA_F64, NA_DIMS({"x", 33}, {"y", 1}), 5);
    na_array *b64 = positive(NA_F64, NA_DIMS({"y", 1}, {"x", 33}), 6);
    all_binary_ops_on(a64, b64);
    na_array *free_list[] = {a, b, sa, sb, ra, pb, a64, b64};
    for (int i = 0; i < 8; i++)
        na_array_free(free_list[i]);
}

Test(elementwise, integer_and_bool_ops)
{
    na_array *a = ts_random(NA_I32, NA_DIMS({"x", 13}, {"y", 7}), 1);
    na_array *b = ts_random(NA_I32, NA_DIMS({"y", 7}), 2);
    for (int op = NA_ADD; op <= NA_GE; op++) {
        if (op == NA_LOGICAL_AND || op == NA_LOGICAL_OR || op == NA_POW)
            continue;
        na_array *c = NULL;
        NA_OK_OR_FAIL(na_binary((na_binary_op)op, a, b, &c));
        na_dtype want = op >= NA_EQ ? NA_BOOL : op == NA_DIV ? NA_F32 : NA_I32;
        cr_assert_eq(c->dtype, want, "op %d", op);
        check_binary((na_binary_op)op, a, b, c, 1e-6);
        na_array_free(c);
    }
    /* integer pow */
    na_array *base = NULL, *e = NULL, *p = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_I32, NA_DIMS({"k", 5}),
                               (int32_t[]){2, -3, 1, -1, 5}, &base));
    NA_OK_OR_FAIL(na_from_data(NA_I32, NA_DIMS({"k", 5}),
                               (int32_t[]){10, 3, -4, -3, -1}, &e));
    NA_OK_OR_FAIL(na_binary(NA_POW, base, e, &p));
    int32_t want[] = {1024, -27, 1, -1, 0};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(((int32_t *)na_data(p))[i], want[i]);
    /* bool logic */
    na_array *m = ts_random(NA_BOOL, NA_DIMS({"x", 13}), 3);
    na_array *n = ts_random(NA_BOOL, NA_DIMS({"y", 7}), 4);
    for (int op = NA_LOGICAL_AND; op <= NA_LOGICAL_OR; op++) {
        na_array *c = NULL;
        NA_OK_OR_FAIL(na_binary((na_binary_op)op, m, n, &c));
        cr_assert_eq(c->dtype, NA_BOOL);
        check_binary((na_binary_op)op, m, n, c, 0);
        na_array_free(c);
    }
    na_array *arr[] = {a, b, base, e, p, m, n};
    for (int i = 0; i < 7; i++)
        na_array_free(arr[i]);
}

Test(elementwise, dtype_promotion)
{
    na_array *i = ts_random(NA_I32, NA_DIMS({"x", 7}), 1);
    na_array *f = ts_random(NA_F32, NA_DIMS({"x", 7}), 2);
    na_array *d = ts_random(NA_F64, NA_DIMS({"x", 7}), 3);
    na_array *b = ts_random(NA_BOOL, NA_DIMS({"x", 7}), 4);
    struct { const na_array *a, *b; na_dtype want; } cases[] = {
        {i, f, NA_F32}, {f, i, NA_F32}, {f, d, NA_F64}, {b, i, NA_I32},
        {b, f, NA_F32}, {i, d, NA_F64}, {b, b, NA_BOOL}};
    for (int k = 0; k < 7; k++) {
        na_array *c = NULL;
        NA_OK_OR_FAIL(na_add(cases[k].a, cases[k].b, &c));
        cr_assert_eq(c->dtype, cases[k].want, "case %d: %s", k,
                     na_dtype_name(c->dtype));
        if (c->dtype != NA_BOOL)
            check_binary(NA_ADD, cases[k].a, cases[k].b, c, 1e-6);
        na_array_free(c);
    }
    na_array *c = NULL;
    NA_OK_OR_FAIL(na_binary(NA_LT, i, d, &c));
    cr_assert_eq(c->dtype, NA_BOOL);
    check_binary(NA_LT, i, d, c, 0);
    TS_FREE(c, i, f, d, b);
}

Test(elementwise, bool_float_misuse_is_a_dtype_error)
{
    na_array *f = ts_random(NA_F32, NA_DIMS({"x", 3}), 1);
    na_array *b = ts_random(NA_BOOL, NA_DIMS({"x", 3}), 2);
    na_array *c = NULL;
    NA_EXPECT_FAIL(na_binary(NA_LOGICAL_AND, f, b, &c), NA_ERR_DTYPE,
                   "na_binary(logical_and)", "bool", "f32[x:3]", "bool[x:3]");
    NA_EXPECT_FAIL(na_unary(NA_LOGICAL_NOT, f, &c), NA_ERR_DTYPE,
                   "na_unary(logical_not)", "bool", "f32[x:3]");
    NA_EXPECT_FAIL(na_where(f, f, f, &c), NA_ERR_DTYPE, "na_where", "mask",
                   "bool", "f32[x:3]");
    NA_EXPECT_FAIL(na_sub(b, b, &c), NA_ERR_DTYPE, "na_sub", "bool[x:3]");
    NA_EXPECT_FAIL(na_unary(NA_NEG, b, &c), NA_ERR_DTYPE, "na_unary(neg)",
                   "bool[x:3]");
    cr_assert_null(c);
    NA_EXPECT_FAIL(na_unary((na_unary_op)99, f, &c), NA_ERR_ARGUMENT, "na_unary");
    NA_EXPECT_FAIL(na_add(NULL, f, &c), NA_ERR_ARGUMENT, "na_add");
    cr_assert_null(c);
    TS_FREE(f, b);
}

/* ---- unary ------------------------------------------------------------- */

static double ref_unary(na_unary_op op, double x)
{
    switch (op) {
    case NA_NEG: return -x;
    case NA_ABS: return fabs(x);
    case NA_EXP: return exp(x);
    case NA_LOG: return log(x);
    case NA_SQRT: return sqrt(x);
    case NA_RSQRT: return 1 / sqrt(x);
    case NA_SQUARE: return x * x;
    case NA_RECIP: return 1 / x;
    case NA_SIN: return sin(x);
    case NA_COS: return cos(x);
    case NA_TANH: return tanh(x);
    case NA_SIGMOID: return 1 / (1 + exp(-x));
    case NA_RELU: return x > 0 ? x : 0;
    case NA_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case NA_GELU_TANH:
        return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case NA_SILU: return x / (1 + exp(-x));
    case NA_SOFTPLUS: return log1p(exp(x));
    case NA_FLOOR: return floor(x);
    case NA_CEIL: return ceil(x);
    case NA_SIGN: return (x > 0) - (x < 0);
    case NA_LOGICAL_NOT: return x == 0;
    }
    return NAN;
}

static void check_unary(na_unary_op op, const na_array *x, double tol)
{
    na_array *y = NULL;
    NA_OK_OR_FAIL(na_unary(op, x, &y));
    cr_assert(na_same_shape(x, y));
    int64_t idx[NA_MAX_DIMS] = {0};
    if (na_size(x) == 0) {
        na_array_free(y);
        return;
    }
    do {
        double xv = na_get(x, idx);
        double want = ref_unary(op, xv), got = na_get(y, idx);
        cr_assert(close_to(got, want, tol), "op %d at x=%g: got %.9g want %.9g",
                  op, xv, got, want);
    } while (ts_next_index(x, idx));
    na_array_free(y);
}

Test(elementwise, every_unary_op_f32_f64_strided)
{
    na_array *x = ts_random(NA_F32, NA_DIMS({"a", 13}, {"b", 7}), 7);
    na_array *p = positive(NA_F32, NA_DIMS({"b", 7}, {"a", 13}), 8);
    na_array *sx = ts_strided_copy(x), *rx = reversed(x, 0);
    na_array *d = ts_random(NA_F64, NA_DIMS({"a", 33}), 9);
    for (int op = NA_NEG; op < NA_LOGICAL_NOT; op++) {
        bool needs_pos = op == NA_LOG || op == NA_SQRT || op == NA_RSQRT;
        check_unary((na_unary_op)op, needs_pos ? p : x, 2e-6);
        check_unary((na_unary_op)op, needs_pos ? p : sx, 2e-6);
        if (!needs_pos) {
            check_unary((na_unary_op)op, rx, 2e-6);
            check_unary((na_unary_op)op, d, 1e-14);
        }
    }
    TS_FREE(x, p, sx, rx, d);
}

Test(elementwise, unary_dtypes_for_int_and_bool)
{
    na_array *i = ts_random(NA_I32, NA_DIMS({"a", 7}, {NULL, 3}), 1);
    na_array *b = ts_random(NA_BOOL, NA_DIMS({"a", 7}), 2);
    na_array *y = NULL;
    NA_OK_OR_FAIL(na_unary(NA_EXP, i, &y));
    cr_assert_eq(y->dtype, NA_F32);
    na_array_free(y);
    NA_OK_OR_FAIL(na_unary(NA_ABS, i, &y));
    cr_assert_eq(y->dtype, NA_I32);
    na_array_free(y);
    NA_OK_OR_FAIL(na_unary(NA_SIGMOID, b, &y));
    cr_assert_eq(y->dtype, NA_F32);
    na_array_free(y);
    NA_OK_OR_FAIL(na_unary(NA_LOGICAL_NOT, b, &y));
    cr_assert_eq(y->dtype, NA_BOOL);
    na_array_free(y);
    int ops[] = {NA_NEG, NA_ABS, NA_SQUARE, NA_RELU, NA_SIGN, NA_FLOOR,
                 NA_CEIL, NA_EXP, NA_TANH, NA_GELU};
    for (int k = 0; k < 10; k++)
        check_unary((na_unary_op)ops[k], i, 1e-6);
    check_unary(NA_LOGICAL_NOT, b, 0);
    check_unary(NA_ABS, b, 0);
    TS_FREE(i, b);
}

Test(elementwise, gelu_known_values)
{
    na_array *x = NULL, *g = NULL, *t = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"v", 3}),
                               (float[]){-1.0f, 0.0f, 1.0f}, &x));
    NA_OK_OR_FAIL(na_unary(NA_GELU, x, &g));
    NA_OK_OR_FAIL(na_unary(NA_GELU_TANH, x, &t));
    /* jax.nn.gelu(1.0, approximate=False) = 0.8413447; approximate = 0.8411920 */
    cr_assert_float_eq(na_get(g, (int64_t[]){2}), 0.8413447, 1e-6);
    cr_assert_float_eq(na_get(g, (int64_t[]){0}), -0.1586553, 1e-6);
    cr_assert_float_eq(na_get(t, (int64_t[]){2}), 0.8411920, 1e-6);
    cr_assert_eq(na_get(g, (int64_t[]){1}), 0.0);
    TS_FREE(x, g, t);
}

/* ---- sizes: zero, one, large ------------------------------------------ */

Test(elementwise, zero_size_and_scalar_operands)
{
    na_array *z = ts_random(NA_F32, NA_DIMS({"a", 0}, {"b", 3}), 1);
    na_array *b = ts_random(NA_F32, NA_DIMS({"b", 3}), 2);
    na_array *s = NULL, *c = NULL;
    NA_OK_OR_FAIL(na_add(z, b, &c));
    expect_dims(c, 2, (const char *[]){"a", "b"}, (int64_t[]){0, 3});
    na_array_free(c);
    NA_OK_OR_FAIL(na_unary(NA_EXP, z, &c));
    cr_assert_eq(na_size(c), 0);
    na_array_free(c);
    NA_OK_OR_FAIL(na_scalar(NA_F32, 2.5, &s));
    NA_OK_OR_FAIL(na_mul(s, b, &c));
    check_binary(NA_MUL, s, b, c, 0);
    na_array_free(c);
    NA_OK_OR_FAIL(na_mul(s, s, &c));
    cr_assert_eq(c->ndim, 0);
    cr_assert_eq(na_get(c, NULL), 6.25);
    TS_FREE(c, z, b, s);
}

Test(elementwise, large_arrays_take_the_parallel_path)
{
    na_set_num_threads(4);
    /* many rows */
    na_array *a = ts_random(NA_F32, NA_DIMS({"r", 301}, {"c", 257}), 1);
    na_array *b = ts_random(NA_F32, NA_DIMS({"c", 257}), 2);
    na_array *c = NULL;
    NA_OK_OR_FAIL(na_sub(a, b, &c));
    check_binary(NA_SUB, a, b, c, 0);
    na_array_free(c);
    /* transposed second operand: strided inner loop */
    na_array *at = ts_permuted(a, (int[]){1, 0});
    NA_OK_OR_FAIL(na_add(a, at, &c));
    check_binary(NA_ADD, a, at, c, 0);
    na_array_free(c);
    /* one long contiguous row: split in tiles */
    na_array *l1 = ts_random(NA_F32, NA_DIMS({"n", 200003}), 3);
    na_array *l2 = ts_random(NA_F32, NA_DIMS({"n", 200003}), 4);
    NA_OK_OR_FAIL(na_mul(l1, l2, &c));
    check_binary(NA_MUL, l1, l2, c, 0);
    na_array_free(c);
    check_unary(NA_TANH, l1, 2e-6);
    na_set_num_threads(0);
    TS_FREE(a, b, at, l1, l2);
}

/* ---- scalar, where ---------------------------------------------------- */

Test(elementwise, binary_scalar_takes_the_array_dtype)
{
    na_array *x = ts_random(NA_F32, NA_DIMS({"a", 7}, {"b", 5}), 1);
    na_array *y = NULL;
    NA_OK_OR_FAIL(na_binary_scalar(NA_MUL, x, 3.0, &y));
    cr_assert_eq(y->dtype, NA_F32);
    for (int64_t i = 0; i < 7; i++)
        for (int64_t j = 0; j < 5; j++)
            cr_assert_eq((float)na_get(y, (int64_t[]){i, j}),
                         (float)(na_get(x, (int64_t[]){i, j}) * 3.0f));
    na_array_free(y);
    NA_OK_OR_FAIL(na_binary_scalar(NA_GT, x, 0.0, &y));
    cr_assert_eq(y->dtype, NA_BOOL);
    na_array_free(y);
    na_array *i = ts_random(NA_I32, NA_DIMS({"a", 7}), 2);
    NA_OK_OR_FAIL(na_binary_scalar(NA_ADD, i, 2.9, &y)); /* scalar -> i32 2 */
    cr_assert_eq(y->dtype, NA_I32);
    for (int64_t k = 0; k < 7; k++)
        cr_assert_eq(na_get(y, &k), na_get(i, &k) + 2);
    TS_FREE(y, i, x);
}

Test(elementwise, where_broadcasts_all_three_by_name)
{
    na_array *m = ts_random(NA_BOOL, NA_DIMS({"kv", 7}, {"q", 5}), 1);
    na_array *a = ts_random(NA_F32, NA_DIMS({"h", 3}, {"q", 5}, {"kv", 7}), 2);
    na_array *b = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_scalar(NA_F32, -1e9, &b));
    NA_OK_OR_FAIL(na_where(m, a, b, &y));
    expect_dims(y, 3, (const char *[]){"kv", "q", "h"}, (int64_t[]){7, 5, 3});
    int64_t idx[3] = {0};
    do {
        double want = bval(m, y, idx) != 0 ? bval(a, y, idx) : -1e9;
        cr_assert_eq(na_get(y, idx), (double)(float)want);
    } while (ts_next_index(y, idx));
    na_array_free(y);
    /* strided mask, i32 b promotes to f32 */
    na_array *sm = ts_strided_copy(m), *bi = ts_random(NA_I32, NA_DIMS({"q", 5}), 3);
    NA_OK_OR_FAIL(na_where(sm, a, bi, &y));
    cr_assert_eq(y->dtype, NA_F32);
    memset(idx, 0, sizeof idx);
    do {
        double want = bval(m, y, idx) != 0 ? bval(a, y, idx) : bval(bi, y, idx);
        cr_assert_eq(na_get(y, idx), want);
    } while (ts_next_index(y, idx));
    na_array_free(y);
    na_array *bad = ts_random(NA_F32, NA_DIMS({"q", 4}), 4);
    NA_EXPECT_FAIL(na_where(m, a, bad, &y), NA_ERR_SHAPE,
                   "na_where: size clash on axis 'q'", "mask bool[kv:7, q:5]",
                   "a f32[h:3, q:5, kv:7]", "b f32[q:4]");
    na_array *arr[] = {m, a, b, sm, bi, bad};
    for (int k = 0; k < 6; k++)
        na_array_free(arr[k]);
}
