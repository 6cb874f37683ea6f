/* Elementwise math: unary ops, binary ops with name broadcasting, where.
 *
 * Every op runs as row kernels over na__iter (see broadcast.h): the output
 * is a fresh contiguous array, so after coalescing the inner stride of the
 * output is 1 and the kernels special-case unit / zero input strides (these
 * loops vectorise). Mixed dtypes are converted up front to the promoted
 * dtype, so kernels only see one input dtype.
 *
 * Decisions beyond array.h:
 *  - NA_DIV on i32/bool is true division and gives f32 (as jnp.divide).
 *  - i32 add/sub/mul/neg/abs/square wrap around on overflow (no UB).
 *  - i32 pow with a negative exponent gives 0 except for bases 1 and -1.
 *  - bool: add/maximum = or, mul/minimum = and; sub and pow are dtype
 *    errors; neg is a dtype error; abs, relu, square, sign, floor, ceil are
 *    the identity; float-only ops give f32.
 *  - maximum/minimum propagate NaN (as JAX).
 *  - where(mask, a, b): result dims follow the broadcasting rule in argument
 *    order, so the mask's names come first; dtype = promote(a, b).
 *  - bf16 operands compute in f32; a bf16 result is rounded back to bf16
 *    (to nearest even) once, at the end.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "broadcast.h"

/* ---- names ------------------------------------------------------------- */

static const char *const unary_names[] = {
    "neg", "abs", "exp", "log", "sqrt", "rsqrt", "square", "recip",
    "sin", "cos", "tanh", "sigmoid", "relu", "gelu", "gelu_tanh",
    "silu", "softplus", "floor", "ceil", "sign", "logical_not"};

static const char *const binary_names[] = {
    "add", "sub", "mul", "div", "pow", "maximum", "minimum",
    "logical_and", "logical_or", "eq", "ne", "lt", "le", "gt", "ge"};

static bool is_comparison(na_binary_op op) { return op >= NA_EQ && op <= NA_GE; }
static bool is_logical(na_binary_op op)
{
    return op == NA_LOGICAL_AND || op == NA_LOGICAL_OR;
}

/* ---- row kernels ------------------------------------------------------- */

#define MAXV(x, y) (((x) > (y) || (x) != (x)) ? (x) : (y))
#define MINV(x, y) (((x) < (y) || (x) != (x)) ? (x) : (y))

/* o[i] = EXPR(x = a[i], y = b[i]) with unit/zero stride special cases. */
#define BIN_ROW(NAME, T, TO, EXPR)                                            \
    static void NAME(int64_t n, char *const *p, const int64_t *s, void *ctx)  \
    {                                                                         \
        (void)ctx;                                                            \
        TO *restrict o = (TO *)p[0];                                          \
        const T *restrict a = (const T *)p[1];                                \
        const T *restrict b = (const T *)p[2];                                \
        int64_t so = s[0], sa = s[1], sb = s[2];                              \
        if (so == 1 && sa == 1 && sb == 1) {                                  \
            for (int64_t i = 0; i < n; i++) {                                 \
                T x = a[i], y = b[i];                                         \
                o[i] = (EXPR);                                                \
            }                                                                 \
        } else if (so == 1 && sa == 1 && sb == 0) {                           \
            const T y = b[0];                                                 \
            for (int64_t i = 0; i < n; i++) {                                 \
                T x = a[i];                                                   \
                o[i] = (EXPR);                                                \
            }                                                                 \
        } else if (so == 1 && sa == 0 && sb == 1) {                           \
            const T x = a[0];                                                 \
            for (int64_t i = 0; i < n; i++) {                                 \
                T y = b[i];                                                   \
                o[i] = (EXPR);                                                \
            }                                                                 \
        } else {                                                              \
            for (int64_t i = 0; i < n; i++) {                                 \
                T x = a[i * sa], y = b[i * sb];                               \
                o[i * so] = (EXPR);                                           \
            }                                                                 \
        }                                                                     \
    }

/* Float kernels for one type; POW is the type's pow function. */
#define FLOAT_BINARY(SUF, T, POW)                                             \
    BIN_ROW(add_##SUF, T, T, x + y)                                           \
    BIN_ROW(sub_##SUF, T, T, x - y)                                           \
    BIN_ROW(mul_##SUF, T, T, x * y)                                           \
    BIN_ROW(div_##SUF, T, T, x / y)                                           \
    BIN_ROW(pow_##SUF, T, T, POW(x, y))                                       \
    BIN_ROW(max_##SUF, T, T, MAXV(x, y))                                      \
    BIN_ROW(min_##SUF, T, T, MINV(x, y))                                      \
    BIN_ROW(eq_##SUF, T, bool, x == y)                                        \
    BIN_ROW(ne_##SUF, T, bool, x != y)                                        \
    BIN_ROW(lt_##SUF, T, bool, x < y)                                         \
    BIN_ROW(le_##SUF, T, bool, x <= y)                                        \
    BIN_ROW(gt_##SUF, T, bool, x > y)                                         \
    BIN_ROW(ge_##SUF, T, bool, x >= y)                                        \
    static const na__row_fn binary_##SUF[] = {                                \
        add_##SUF, sub_##SUF, mul_##SUF, div_##SUF, pow_##SUF, max_##SUF,     \
        min_##SUF, NULL, NULL, eq_##SUF, ne_##SUF, lt_##SUF, le_##SUF,        \
        gt_##SUF, ge_##SUF};

FLOAT_BINARY(f32, float, powf)
FLOAT_BINARY(f64, double, pow)

/* Integer power by squaring, wrapping on overflow. */
static inline int32_t ipow32(int32_t base, int32_t e)
{
    if (e < 0)
        return base == 1 ? 1 : base == -1 ? (e % 2 ? -1 : 1) : 0;
    uint32_t r = 1, b = (uint32_t)base;
    while (e) {
        if (e & 1)
            r *= b;
        b *= b;
        e >>= 1;
    }
    return (int32_t)r;
}

#define WRAP32(EXPR) ((int32_t)(uint32_t)(EXPR))
BIN_ROW(add_i32, int32_t, int32_t, WRAP32((uint32_t)x + (uint32_t)y))
BIN_ROW(sub_i32, int32_t, int32_t, WRAP32((uint32_t)x - (uint32_t)y))
BIN_ROW(mul_i32, int32_t, int32_t, WRAP32((uint32_t)x * (uint32_t)y))
BIN_ROW(pow_i32, int32_t, int32_t, ipow32(x, y))
BIN_ROW(max_i32, int32_t, int32_t, x > y ? x : y)
BIN_ROW(min_i32, int32_t, int32_t, x < y ? x : y)
BIN_ROW(eq_i32, int32_t, bool, x == y)
BIN_ROW(ne_i32, int32_t, bool, x != y)
BIN_ROW(lt_i32, int32_t, bool, x < y)
BIN_ROW(le_i32, int32_t, bool, x <= y)
BIN_ROW(gt_i32, int32_t, bool, x > y)
BIN_ROW(ge_i32, int32_t, bool, x >= y)
static const na__row_fn binary_i32[] = {
    add_i32, sub_i32, mul_i32, NULL, pow_i32, max_i32, min_i32, NULL, NULL,
    eq_i32, ne_i32, lt_i32, le_i32, gt_i32, ge_i32};

BIN_ROW(or_b, bool, bool, x | y)
BIN_ROW(and_b, bool, bool, x & y)
BIN_ROW(eq_b, bool, bool, x == y)
BIN_ROW(ne_b, bool, bool, x != y)
BIN_ROW(lt_b, bool, bool, x < y)
BIN_ROW(le_b, bool, bool, x <= y)
BIN_ROW(gt_b, bool, bool, x > y)
BIN_ROW(ge_b, bool, bool, x >= y)
static const na__row_fn binary_bool[] = {
    or_b, NULL, and_b, NULL, NULL, or_b, and_b, and_b, or_b,
    eq_b, ne_b, lt_b, le_b, gt_b, ge_b};

static na__row_fn binary_kernel(na_binary_op op, na_dtype t)
{
    switch (t) {
    case NA_F32: return binary_f32[op];
    case NA_F64: return binary_f64[op];
    case NA_I32: return binary_i32[op];
    case NA_BOOL: return binary_bool[op];
    case NA_BF16: break; /* computed in f32 */
    }
    return NULL;
}

/* o[i] = EXPR(x = a[i]). */
#define UN_ROW(NAME, T, TO, EXPR)                                             \
    static void NAME(int64_t n, char *const *p, const int64_t *s, void *ctx)  \
    {                                                                         \
        (void)ctx;                                                            \
        TO *restrict o = (TO *)p[0];                                          \
        const T *restrict a = (const T *)p[1];                                \
        int64_t so = s[0], sa = s[1];                                         \
        if (so == 1 && sa == 1) {                                             \
            for (int64_t i = 0; i < n; i++) {                                 \
                T x = a[i];                                                   \
                o[i] = (EXPR);                                                \
            }                                                                 \
        } else {                                                              \
            for (int64_t i = 0; i < n; i++) {                                 \
                T x = a[i * sa];                                              \
                o[i * so] = (EXPR);                                           \
            }                                                                 \
        }                                                                     \
    }

#define SQRT1_2 0.70710678118654752440
#define SQRT_2_PI 0.79788456080286535588

/* Float kernels for one type; F(name) picks the type's libm function. */
#define FLOAT_UNARY(SUF, T, F)                                                \
    UN_ROW(neg_##SUF, T, T, -x)                                               \
    UN_ROW(abs_##SUF, T, T, F(fabs)(x))                                       \
    UN_ROW(exp_##SUF, T, T, F(exp)(x))                                        \
    UN_ROW(log_##SUF, T, T, F(log)(x))                                        \
    UN_ROW(sqrt_##SUF, T, T, F(sqrt)(x))                                      \
    UN_ROW(rsqrt_##SUF, T, T, (T)1 / F(sqrt)(x))                              \
    UN_ROW(square_##SUF, T, T, x * x)                                         \
    UN_ROW(recip_##SUF, T, T, (T)1 / x)                                       \
    UN_ROW(sin_##SUF, T, T, F(sin)(x))                                        \
    UN_ROW(cos_##SUF, T, T, F(cos)(x))                                        \
    UN_ROW(tanh_##SUF, T, T, F(tanh)(x))                                      \
    UN_ROW(sigmoid_##SUF, T, T, (T)1 / ((T)1 + F(exp)(-x)))                   \
    UN_ROW(relu_##SUF, T, T, x < (T)0 ? (T)0 : x)                             \
    UN_ROW(gelu_##SUF, T, T,                                                  \
           (T)0.5 * x * ((T)1 + F(erf)(x * (T)SQRT1_2)))                      \
    UN_ROW(gelu_tanh_##SUF, T, T,                                             \
           (T)0.5 * x *                                                       \
               ((T)1 + F(tanh)((T)SQRT_2_PI * (x + (T)0.044715 * x * x * x))))\
    UN_ROW(silu_##SUF, T, T, x / ((T)1 + F(exp)(-x)))                         \
    UN_ROW(softplus_##SUF, T, T,                                              \
           F(log1p)(F(exp)(-F(fabs)(x))) + (x > (T)0 ? x : (T)0))             \
    UN_ROW(floor_##SUF, T, T, F(floor)(x))                                    \
    UN_ROW(ceil_##SUF, T, T, F(ceil)(x))                                      \
    UN_ROW(sign_##SUF, T, T, x > (T)0 ? (T)1 : x < (T)0 ? (T)-1 : x)          \
    static const na__row_fn unary_##SUF[] = {                                 \
        neg_##SUF, abs_##SUF, exp_##SUF, log_##SUF, sqrt_##SUF, rsqrt_##SUF,  \
        square_##SUF, recip_##SUF, sin_##SUF, cos_##SUF, tanh_##SUF,          \
        sigmoid_##SUF, relu_##SUF, gelu_##SUF, gelu_tanh_##SUF, silu_##SUF,   \
        softplus_##SUF, floor_##SUF, ceil_##SUF, sign_##SUF, NULL};

#define F32FN(fn) fn##f
#define F64FN(fn) fn
FLOAT_UNARY(f32, float, F32FN)
FLOAT_UNARY(f64, double, F64FN)

UN_ROW(neg_i32, int32_t, int32_t, WRAP32(0u - (uint32_t)x))
UN_ROW(abs_i32, int32_t, int32_t, x < 0 ? WRAP32(0u - (uint32_t)x) : x)
UN_ROW(square_i32, int32_t, int32_t, WRAP32((uint32_t)x * (uint32_t)x))
UN_ROW(relu_i32, int32_t, int32_t, x < 0 ? 0 : x)
UN_ROW(sign_i32, int32_t, int32_t, (x > 0) - (x < 0))
UN_ROW(copy_i32, int32_t, int32_t, x)
UN_ROW(not_b, bool, bool, !x)
UN_ROW(copy_b, bool, bool, x)

static bool float_only(na_unary_op op)
{
    switch (op) {
    case NA_NEG: case NA_ABS: case NA_SQUARE: case NA_RELU: case NA_FLOOR:
    case NA_CEIL: case NA_SIGN: case NA_LOGICAL_NOT:
        return false;
    default:
        return true;
    }
}

static na__row_fn unary_int_kernel(na_unary_op op)
{
    switch (op) {
    case NA_NEG: return neg_i32;
    case NA_ABS: return abs_i32;
    case NA_SQUARE: return square_i32;
    case NA_RELU: return relu_i32;
    case NA_SIGN: return sign_i32;
    case NA_FLOOR: case NA_CEIL: return copy_i32;
    default: return NULL;
    }
}

static na__row_fn unary_bool_kernel(na_unary_op op)
{
    switch (op) {
    case NA_LOGICAL_NOT: return not_b;
    case NA_ABS: case NA_SQUARE: case NA_RELU: case NA_SIGN: case NA_FLOOR:
    case NA_CEIL: return copy_b;
    default: return NULL;
    }
}

static na__row_fn unary_kernel(na_unary_op op, na_dtype t)
{
    switch (t) {
    case NA_F32: return unary_f32[op];
    case NA_F64: return unary_f64[op];
    case NA_I32: return unary_int_kernel(op);
    case NA_BOOL: return unary_bool_kernel(op);
    case NA_BF16: break; /* computed in f32 */
    }
    return NULL;
}

/* ---- drivers ----------------------------------------------------------- */

/* x converted to dtype t (a new reference either way) in *tmp. */
static na_status converted(const na_array *x, na_dtype t, na_array **tmp)
{
    return x->dtype == t ? na_array_ref(x, tmp) : na_astype(x, t, tmp);
}

/* Replace *y (computed in f32) by its rounding to t if t is bf16; on
 * failure *y is freed. */
static na_status rounded_to(na_array **y, na_dtype t)
{
    if (t != NA_BF16 || (*y)->dtype == t)
        return NA_OK;
    na_array *r = NULL;
    na_status st = na_astype(*y, t, &r);
    na_array_free(*y);
    *y = r;
    return st;
}

/* Run a row kernel writing `out` from `n` inputs broadcast over bc. */
static void run_kernel(na__row_fn fn, na_array *out, int n,
                       const na_array *const *in, na__bcast *bc)
{
    char *base[NA__MAX_OPERANDS];
    size_t es[NA__MAX_OPERANDS];
    const int64_t *strides[NA__MAX_OPERANDS];
    base[0] = na_data(out);
    es[0] = na_dtype_size(out->dtype);
    strides[0] = out->stride;
    for (int k = 0; k < n; k++) {
        base[k + 1] = na_data(in[k]);
        es[k + 1] = na_dtype_size(in[k]->dtype);
        strides[k + 1] = bc->stride[k];
    }
    na__iter it;
    na__iter_init(&it, bc->ndim, bc->shape, n + 1, base, es, strides, -1);
    na__iter_run(&it, fn, NULL, NA__PAR_ANY);
}

na_status na_unary(na_unary_op op, const na_array *x, na_array **out)
{
    if (!x || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_unary: NULL argument");
    if ((unsigned)op > NA_LOGICAL_NOT)
        return na__fail(NA_ERR_ARGUMENT, "na_unary: unknown op %d", (int)op);
    const char *nm = unary_names[op];
    na_dtype t = x->dtype;
    if (op == NA_LOGICAL_NOT && t != NA_BOOL)
        return na__fail(NA_ERR_DTYPE, "na_unary(%s): needs a bool array, got %s",
                        nm, na__shape(x));
    if (op == NA_NEG && t == NA_BOOL)
        return na__fail(NA_ERR_DTYPE,
                        "na_unary(neg): not defined on bool %s (use logical_not)",
                        na__shape(x));
    if ((t == NA_I32 || t == NA_BOOL) && float_only(op))
        t = NA_F32;
    na_dtype ct = t == NA_BF16 ? NA_F32 : t; /* bf16 computes in f32 */
    na_array *xin = NULL, *y = NULL;
    na_status st = converted(x, ct, &xin);
    if (st == NA_OK)
        st = na__new_like("na_unary", ct, x, &y);
    if (st == NA_OK) {
        na__bcast bc;
        bc.ndim = x->ndim;
        memcpy(bc.shape, x->shape, sizeof bc.shape);
        memcpy(bc.stride[0], xin->stride, sizeof bc.stride[0]);
        run_kernel(unary_kernel(op, ct), y, 1, (const na_array *[]){xin}, &bc);
        st = rounded_to(&y, t);
    }
    if (st == NA_OK)
        *out = y;
    na_array_free(xin);
    return st;
}

/* The dtype the kernel computes in, or an error. */
static na_status binary_dtype(const char *nm, na_binary_op op, const na_array *a,
                              const na_array *b, na_dtype *t)
{
    na_status st = na__promote_checked(nm, a, b, t);
    if (st != NA_OK)
        return st;
    if (is_logical(op) && (a->dtype != NA_BOOL || b->dtype != NA_BOOL))
        return na__fail(NA_ERR_DTYPE, "%s: needs bool operands, got lhs %s and rhs %s",
                        nm, na__shape(a), na__shape(b));
    if (op == NA_DIV && (*t == NA_I32 || *t == NA_BOOL))
        *t = NA_F32;
    if (*t == NA_BOOL && (op == NA_SUB || op == NA_POW))
        return na__fail(NA_ERR_DTYPE,
                        "%s: not defined on bool operands lhs %s and rhs %s",
                        nm, na__shape(a), na__shape(b));
    return NA_OK;
}

/* Broadcast a and b, convert both to t, recompute their strides. */
static na_status binary_prepare(const char *nm, const na_array *a,
                                const na_array *b, na_dtype t, na__bcast *bc,
                                na_array **ca, na_array **cb)
{
    na_status st = na__broadcast(nm, 2, (const na_array *[]){a, b},
                                 (const char *[]){"lhs", "rhs"}, bc);
    if (st == NA_OK)
        st = converted(a, t, ca);
    if (st == NA_OK)
        st = converted(b, t, cb);
    if (st == NA_OK)
        st = na__align(nm, *ca, bc->ndim, bc->dims, bc->stride[0]);
    if (st == NA_OK)
        st = na__align(nm, *cb, bc->ndim, bc->dims, bc->stride[1]);
    return st;
}

static na_status binary_named(const char *nm, na_binary_op op, const na_array *a,
                              const na_array *b, na_array **out)
{
    if (!a || !b || !out)
        return na__fail(NA_ERR_ARGUMENT, "%s: NULL argument", nm);
    na_dtype t;
    na_status st = binary_dtype(nm, op, a, b, &t);
    if (st != NA_OK)
        return st;
    na__bcast bc;
    na_array *ca = NULL, *cb = NULL, *y = NULL;
    na_dtype ct = t == NA_BF16 ? NA_F32 : t; /* bf16 computes in f32 */
    st = binary_prepare(nm, a, b, ct, &bc, &ca, &cb);
    if (st == NA_OK)
        st = na__new(nm, is_comparison(op) ? NA_BOOL : ct, bc.ndim, bc.dims, &y);
    if (st == NA_OK) {
        run_kernel(binary_kernel(op, ct), y, 2, (const na_array *[]){ca, cb}, &bc);
        st = is_comparison(op) ? NA_OK : rounded_to(&y, t);
    }
    if (st == NA_OK)
        *out = y;
    na_array_free(ca);
    na_array_free(cb);
    return st;
}

na_status na_binary(na_binary_op op, const na_array *a, const na_array *b,
                    na_array **out)
{
    if ((unsigned)op > NA_GE)
        return na__fail(NA_ERR_ARGUMENT, "na_binary: unknown op %d", (int)op);
    char nm[48];
    snprintf(nm, sizeof nm, "na_binary(%s)", binary_names[op]);
    return binary_named(nm, op, a, b, out);
}

na_status na_add(const na_array *a, const na_array *b, na_array **out)
{
    return binary_named("na_add", NA_ADD, a, b, out);
}

na_status na_sub(const na_array *a, const na_array *b, na_array **out)
{
    return binary_named("na_sub", NA_SUB, a, b, out);
}

na_status na_mul(const na_array *a, const na_array *b, na_array **out)
{
    return binary_named("na_mul", NA_MUL, a, b, out);
}

na_status na_div(const na_array *a, const na_array *b, na_array **out)
{
    return binary_named("na_div", NA_DIV, a, b, out);
}

na_status na_binary_scalar(na_binary_op op, const na_array *x, double s,
                           na_array **out)
{
    if ((unsigned)op > NA_GE)
        return na__fail(NA_ERR_ARGUMENT, "na_binary_scalar: unknown op %d", (int)op);
    if (!x || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_binary_scalar: NULL argument");
    char nm[48];
    snprintf(nm, sizeof nm, "na_binary_scalar(%s)", binary_names[op]);
    na_array *sc = NULL;
    na_status st = na_scalar(x->dtype, s, &sc);
    if (st == NA_OK)
        st = binary_named(nm, op, x, sc, out);
    na_array_free(sc);
    return st;
}

/* ---- where ------------------------------------------------------------- */

#define WHERE_ROW(NAME, T)                                                    \
    static void NAME(int64_t n, char *const *p, const int64_t *s, void *ctx)  \
    {                                                                         \
        (void)ctx;                                                            \
        T *restrict o = (T *)p[0];                                            \
        const bool *restrict m = (const bool *)p[1];                          \
        const T *restrict a = (const T *)p[2], *restrict b = (const T *)p[3]; \
        if (s[0] == 1 && s[1] == 1 && s[2] == 1 && s[3] == 1) {               \
            for (int64_t i = 0; i < n; i++)                                   \
                o[i] = m[i] ? a[i] : b[i];                                    \
        } else {                                                              \
            for (int64_t i = 0; i < n; i++)                                   \
                o[i * s[0]] = m[i * s[1]] ? a[i * s[2]] : b[i * s[3]];        \
        }                                                                     \
    }

WHERE_ROW(where_1, uint8_t)
WHERE_ROW(where_2, uint16_t)
WHERE_ROW(where_4, uint32_t)
WHERE_ROW(where_8, uint64_t)

static na__row_fn where_kernel(na_dtype t)
{
    switch (na_dtype_size(t)) {
    case 1: return where_1;
    case 2: return where_2;
    case 4: return where_4;
    default: return where_8;
    }
}

na_status na_where(const na_array *mask, const na_array *a, const na_array *b,
                   na_array **out)
{
    if (!mask || !a || !b || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_where: NULL argument");
    if (mask->dtype != NA_BOOL)
        return na__fail(NA_ERR_DTYPE, "na_where: mask must be bool, got %s",
                        na__shape(mask));
    na_dtype t;
    na__bcast bc;
    na_array *ca = NULL, *cb = NULL, *y = NULL;
    na_status st = na__promote_checked("na_where", a, b, &t);
    if (st == NA_OK)
        st = na__broadcast("na_where", 3, (const na_array *[]){mask, a, b},
                                 (const char *[]){"mask", "a", "b"}, &bc);
    if (st == NA_OK)
        st = converted(a, t, &ca);
    if (st == NA_OK)
        st = converted(b, t, &cb);
    if (st == NA_OK)
        st = na__align("na_where", ca, bc.ndim, bc.dims, bc.stride[1]);
    if (st == NA_OK)
        st = na__align("na_where", cb, bc.ndim, bc.dims, bc.stride[2]);
    if (st == NA_OK)
        st = na__new("na_where", t, bc.ndim, bc.dims, &y);
    if (st == NA_OK) {
        run_kernel(where_kernel(t), y, 3, (const na_array *[]){mask, ca, cb}, &bc);
        *out = y;
    }
    na_array_free(ca);
    na_array_free(cb);
    return st;
}
