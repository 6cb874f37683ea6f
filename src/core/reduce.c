/* Reductions over named axes, argmax, softmax and log-softmax.
 *
 * The engine: an accumulator array (double, or int64 for integer sums)
 * with one slot per kept element, laid out row-major over the kept dims in
 * the input's dim order, with stride 0 along the reduced dims. One pass of
 * na__iter over [acc, x], walked in x's memory order, folds every element
 * in; threads take slices of the outermost dim along which the accumulator
 * moves (so no two threads share a slot; a full reduction runs serially).
 * Row kernels keep 8 partial sums / extremes when the accumulator is fixed
 * along the row, so they are not latency bound; f32 sums accumulate in
 * double.
 *
 * Decisions beyond array.h:
 *  - sum: f32 -> f32, f64 -> f64, i32 -> i32 (wraps), bool -> i32 (count).
 *  - mean: float dtypes keep theirs, i32/bool give f32; the mean over zero
 *    elements is NaN (0/0).
 *  - max/min keep the dtype and propagate NaN; over zero elements they
 *    fail with NA_ERR_SHAPE.
 *  - argmax: i32, first index on ties; a NaN counts as the maximum.
 *  - bf16: sum/mean/max/min/softmax compute in f32 (sums in double as
 *    for f32) and round the result to bf16 once; argmax searches the
 *    exactly widened values.
 *  - softmax / log-softmax: i32/bool give f32. A group whose max is -inf
 *    (every element -inf) comes out uniform (softmax 1/n, log-softmax
 *    -log n), matching the attention layer's "fully masked row is uniform"
 *    policy; +inf or NaN inputs give NaN, as in JAX.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "broadcast.h"

/* ---- axis lists -------------------------------------------------------- */

/* Resolve names to dims of x: red[d] = true for reduced dims. */
static na_status reduced_dims(const char *op, const na_array *x,
                              const char *const *names, bool *red)
{
    for (int d = 0; d < NA_MAX_DIMS; d++)
        red[d] = false;
    for (int i = 0; names && names[i]; i++) {
        int d = na_axis_index(x, names[i]);
        if (d < 0)
            return na__fail(NA_ERR_AXIS, "%s: no axis '%s' in %s (axes: %s)", op,
                            names[i], na__shape(x), na__names(names));
        if (red[d])
            return na__fail(NA_ERR_AXIS, "%s: axis '%s' listed twice in (%s) for %s",
                            op, names[i], na__names(names), na__shape(x));
        red[d] = true;
    }
    return NA_OK;
}

/* The kept dims of x (in x's order) and the accumulator strides over
 * x's dims; returns the number of kept elements. */
static int64_t kept_layout(const na_array *x, const bool *red, int *nkept,
                           na_dim *kept, int64_t *acc_stride)
{
    int64_t kshape[NA_MAX_DIMS], kstride[NA_MAX_DIMS], n = 1;
    int k = 0;
    for (int d = 0; d < x->ndim; d++)
        if (!red[d]) {
            kept[k] = (na_dim){x->name[d], x->shape[d]};
            kshape[k++] = x->shape[d];
            n *= x->shape[d];
        }
    na__contiguous_strides(k, kshape, kstride);
    for (int d = 0, j = 0; d < x->ndim; d++)
        acc_stride[d] = red[d] ? 0 : kstride[j++];
    *nkept = k;
    return n;
}

static int64_t reduced_count(const na_array *x, const bool *red)
{
    int64_t n = 1;
    for (int d = 0; d < x->ndim; d++)
        if (red[d])
            n *= x->shape[d];
    return n;
}

/* ---- fold kernels: p[0] accumulator, p[1] input ------------------------- */

#define SUM_ROW(NAME, T, A)                                                   \
    static void NAME(int64_t n, char *const *p, const int64_t *s, void *ctx)  \
    {                                                                         \
        (void)ctx;                                                            \
        A *acc = (A *)p[0];                                                   \
        const T *x = (const T *)p[1];                                         \
        int64_t sa = s[0], sx = s[1], i = 0;                                  \
        if (sa != 0) {                                                        \
            for (; i < n; i++)                                                \
                acc[i * sa] += (A)x[i * sx];                                  \
            return;                                                           \
        }                                                                     \
        A part[8] = {0}, t = 0;                                               \
        for (; i + 8 <= n; i += 8)                                            \
            for (int j = 0; j < 8; j++)                                       \
                part[j] += (A)x[(i + j) * sx];                                \
        for (; i < n; i++)                                                    \
            t += (A)x[i * sx];                                                \
        for (int j = 0; j < 8; j++)                                           \
            t += part[j];                                                     \
        acc[0] += t;                                                          \
    }

SUM_ROW(sum_f32, float, double)
SUM_ROW(sum_f64, double, double)
SUM_ROW(sum_i32, int32_t, int64_t)
SUM_ROW(sum_bool, bool, int64_t)

/* CMP(v, a): v should replace a (NaN always wins and then sticks). */
#define GT_NAN(v, a) ((v) > (a) || (v) != (v))
#define LT_NAN(v, a) ((v) < (a) || (v) != (v))

#define EXT_ROW(NAME, T, CMP)                                                 \
    static void NAME(int64_t n, char *const *p, const int64_t *s, void *ctx)  \
    {                                                                         \
        (void)ctx;                                                            \
        double *acc = (double *)p[0];                                         \
        const T *x = (const T *)p[1];                                         \
        int64_t sa = s[0], sx = s[1], i = 0;                                  \
        if (sa != 0) {                                                        \
            for (; i < n; i++) {                                              \
                double v = (double)x[i * sx];                                 \
                if (CMP(v, acc[i * sa]))                                      \
                    acc[i * sa] = v;                                          \
            }                                                                 \
            return;                                                           \
        }                                                                     \
        double part[8], a = acc[0];                                           \
        for (int j = 0; j < 8; j++)                                           \
            part[j] = a;                                                      \
        for (; i + 8 <= n; i += 8)                                            \
            for (int j = 0; j < 8; j++) {                                     \
                double v = (double)x[(i + j) * sx];                           \
                part[j] = CMP(v, part[j]) ? v : part[j];                      \
            }                                                                 \
        for (; i < n; i++) {                                                  \
            double v = (double)x[i * sx];                                     \
            a = CMP(v, a) ? v : a;                                            \
        }                                                                     \
        for (int j = 0; j < 8; j++)                                           \
            a = CMP(part[j], a) ? part[j] : a;                                \
        acc[0] = a;                                                           \
    }

EXT_ROW(max_f32, float, GT_NAN)
EXT_ROW(max_f64, double, GT_NAN)
EXT_ROW(max_i32, int32_t, GT_NAN)
EXT_ROW(max_bool, bool, GT_NAN)
EXT_ROW(min_f32, float, LT_NAN)
EXT_ROW(min_f64, double, LT_NAN)
EXT_ROW(min_i32, int32_t, LT_NAN)
EXT_ROW(min_bool, bool, LT_NAN)

typedef enum fold_kind { FOLD_SUM, FOLD_MAX, FOLD_MIN } fold_kind;

static na__row_fn fold_kernel(fold_kind kind, na_dtype t)
{
    static const na__row_fn table[3][4] = {
        {sum_f32, sum_f64, sum_i32, sum_bool},
        {max_f32, max_f64, max_i32, max_bool},
        {min_f32, min_f64, min_i32, min_bool}};
    return table[kind][t];
}

/* Integer sums accumulate in int64, everything else in double. */
static bool int_acc(fold_kind kind, na_dtype t)
{
    return kind == FOLD_SUM && (t == NA_I32 || t == NA_BOOL);
}

/* Fold x into acc (initialised by the caller) over the reduced dims. */
static void fold(fold_kind kind, const na_array *x, void *acc,
                 const int64_t *acc_stride)
{
    na__iter it;
    char *base[2] = {acc, na_data(x)};
    size_t es[2] = {8, na_dtype_size(x->dtype)};
    const int64_t *strides[2] = {acc_stride, x->stride};
    na__iter_init(&it, x->ndim, x->shape, 2, base, es, strides, 1);
    na__iter_run_acc(&it, fold_kernel(kind, x->dtype), NULL, 0);
}

static void *acc_new(int64_t n, double init, bool is_int)
{
    void *acc = malloc((size_t)(n > 0 ? n : 1) * 8);
    if (!acc)
        return NULL;
    for (int64_t i = 0; i < n; i++) {
        if (is_int)
            ((int64_t *)acc)[i] = (int64_t)init;
        else
            ((double *)acc)[i] = init;
    }
    return acc;
}

/* ---- sum / mean / max / min ------------------------------------------- */

typedef struct reduce_spec {
    const char *op;
    fold_kind kind;
    bool mean;
} reduce_spec;

static na_dtype result_dtype(const reduce_spec *r, na_dtype t)
{
    if (r->kind == FOLD_SUM && t == NA_BOOL)
        return r->mean ? NA_F32 : NA_I32;
    if (r->mean && t == NA_I32)
        return NA_F32;
    return t;
}

static void store_result(na_array *y, const void *acc, bool is_int, double scale)
{
    int64_t n = na_size(y);
    void *dst = na_data(y);
    for (int64_t i = 0; i < n; i++) {
        if (is_int && y->dtype == NA_I32) /* integer sum: wrap */
            ((int32_t *)dst)[i] = (int32_t)(uint32_t)((const int64_t *)acc)[i];
        else {
            double v = is_int ? (double)((const int64_t *)acc)[i]
                              : ((const double *)acc)[i];
            na__store(y->dtype, dst, i, v * scale);
        }
    }
}

static na_status reduce(const reduce_spec *r, const na_array *x,
                        const char *const *names, na_array **out)
{
    if (!x || !out)
        return na__fail(NA_ERR_ARGUMENT, "%s: NULL argument", r->op);
    bool red[NA_MAX_DIMS];
    na_status st = reduced_dims(r->op, x, names, red);
    if (st != NA_OK)
        return st;
    int64_t count = reduced_count(x, red);
    if (r->kind != FOLD_SUM && count == 0)
        return na__fail(NA_ERR_SHAPE, "%s: over (%s) of %s: zero elements to reduce",
                        r->op, na__names(names), na__shape(x));
    na_dim kept[NA_MAX_DIMS];
    int64_t acc_stride[NA_MAX_DIMS];
    int nkept;
    int64_t nout = kept_layout(x, red, &nkept, kept, acc_stride);
    bool is_int = int_acc(r->kind, x->dtype);
    double init = r->kind == FOLD_MAX ? -INFINITY : r->kind == FOLD_MIN ? INFINITY : 0;
    void *acc = acc_new(nout, init, is_int);
    if (!acc)
        return na__fail(NA_ERR_NO_MEMORY, "%s: out of memory for %s", r->op,
                        na__shape(x));
    na_array *y = NULL, *xf = NULL; /* bf16 folds in f32, rounds at the end */
    st = na__new(r->op, result_dtype(r, x->dtype), nkept, kept, &y);
    if (st == NA_OK && x->dtype == NA_BF16)
        st = na_astype(x, NA_F32, &xf);
    if (st == NA_OK) {
        fold(r->kind, xf ? xf : x, acc, acc_stride);
        store_result(y, acc, is_int, r->mean ? 1.0 / (double)count : 1.0);
        *out = y;
    } else {
        na_array_free(y);
    }
    na_array_free(xf);
    free(acc);
    return st;
}

na_status na_sum(const na_array *x, const char *const *names, na_array **out)
{
    return reduce(&(reduce_spec){"na_sum", FOLD_SUM, false}, x, names, out);
}

na_status na_mean(const na_array *x, const char *const *names, na_array **out)
{
    return reduce(&(reduce_spec){"na_mean", FOLD_SUM, true}, x, names, out);
}

na_status na_max(const na_array *x, const char *const *names, na_array **out)
{
    return reduce(&(reduce_spec){"na_max", FOLD_MAX, false}, x, names, out);
}

na_status na_min(const na_array *x, const char *const *names, na_array **out)
{
    return reduce(&(reduce_spec){"na_min", FOLD_MIN, false}, x, names, out);
}

/* ---- argmax ------------------------------------------------------------ */

typedef struct argmax_ctx {
    int64_t len, stride; /* along the reduced axis                         */
    na_dtype dtype;
} argmax_ctx;

#define ARGMAX_ONE(T)                                                         \
    do {                                                                      \
        const T *v = (const T *)px;                                           \
        T best = v[0];                                                        \
        for (int64_t k = 1; k < len && best == best; k++)                     \
            if (GT_NAN(v[k * st], best)) {                                    \
                best = v[k * st];                                             \
                arg = k;                                                      \
            }                                                                 \
    } while (0)

static void argmax_row(int64_t n, char *const *p, const int64_t *s, void *ctx)
{
    const argmax_ctx *c = ctx;
    int32_t *o = (int32_t *)p[0];
    size_t es = na_dtype_size(c->dtype);
    int64_t len = c->len, st = c->stride;
    for (int64_t i = 0; i < n; i++) {
        const char *px = p[1] + i * s[1] * (int64_t)es;
        int64_t arg = 0;
        switch (c->dtype) {
        case NA_F32: ARGMAX_ONE(float); break;
        case NA_F64: ARGMAX_ONE(double); break;
        case NA_I32: ARGMAX_ONE(int32_t); break;
        case NA_BOOL: ARGMAX_ONE(bool); break;
        case NA_BF16: break; /* na_argmax widens bf16 to f32 first */
        }
        o[i * s[0]] = (int32_t)arg;
    }
}

static na_status argmax_impl(const na_array *x, const char *name, na_array **out);

/* bf16 is widened to f32 (exactly) and searched there. */
na_status na_argmax(const na_array *x, const char *name, na_array **out)
{
    if (!x || !name || !out || x->dtype != NA_BF16)
        return argmax_impl(x, name, out);
    na_array *xf = NULL;
    na_status st = na_astype(x, NA_F32, &xf);
    if (st == NA_OK)
        st = argmax_impl(xf, name, out);
    na_array_free(xf);
    return st;
}

static na_status argmax_impl(const na_array *x, const char *name, na_array **out)
{
    if (!x || !name || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_argmax: NULL argument");
    bool red[NA_MAX_DIMS];
    na_status st = reduced_dims("na_argmax", x, (const char *const[]){name, NULL},
                                red);
    if (st != NA_OK)
        return st;
    int ax = na_axis_index(x, name);
    if (x->shape[ax] == 0)
        return na__fail(NA_ERR_SHAPE, "na_argmax: axis '%s' of %s has size 0",
                        name, na__shape(x));
    if (x->shape[ax] > INT32_MAX)
        return na__fail(NA_ERR_SHAPE, "na_argmax: axis '%s' of %s too long for i32",
                        name, na__shape(x));
    na_dim kept[NA_MAX_DIMS];
    int64_t acc_stride[NA_MAX_DIMS], ostride[NA_MAX_DIMS], xstride[NA_MAX_DIMS];
    int nkept;
    kept_layout(x, red, &nkept, kept, acc_stride);
    na_array *y = NULL;
    st = na__new("na_argmax", NA_I32, nkept, kept, &y);
    if (st != NA_OK)
        return st;
    /* Iterate the kept dims; the row kernel walks the axis itself. */
    int64_t kshape[NA_MAX_DIMS];
    for (int d = 0, j = 0; d < x->ndim; d++)
        if (!red[d]) {
            kshape[j] = x->shape[d];
            ostride[j] = acc_stride[d];
            xstride[j++] = x->stride[d];
        }
    argmax_ctx c = {x->shape[ax], x->stride[ax], x->dtype};
    na__iter it;
    char *base[2] = {na_data(y), na_data(x)};
    size_t es[2] = {4, na_dtype_size(x->dtype)};
    const int64_t *strides[2] = {ostride, xstride};
    na__iter_init(&it, nkept, kshape, 2, base, es, strides, -1);
    na__iter_run(&it, argmax_row, &c, NA__PAR_ANY);
    *out = y;
    return NA_OK;
}

/* ---- softmax ----------------------------------------------------------- */

/* Pass 2: p = {out, x, max, sum}. out = exp(x - max) (1 where max = -inf),
 * sum += out. */
#define EXP_ROW(NAME, T, EXP)                                                 \
    static void NAME(int64_t n, char *const *p, const int64_t *s, void *ctx)  \
    {                                                                         \
        (void)ctx;                                                            \
        T *o = (T *)p[0];                                                     \
        const T *x = (const T *)p[1];                                         \
        const double *m = (const double *)p[2];                               \
        double *sum = (double *)p[3];                                         \
        if (s[2] == 0 && s[3] == 0) {                                         \
            const T mv = (T)m[0];                                             \
            double t = 0;                                                     \
            for (int64_t i = 0; i < n; i++) {                                 \
                T e = mv == -(T)INFINITY ? (T)1 : EXP(x[i * s[1]] - mv);      \
                o[i * s[0]] = e;                                              \
                t += e;                                                       \
            }                                                                 \
            sum[0] += t;                                                      \
            return;                                                           \
        }                                                                     \
        for (int64_t i = 0; i < n; i++) {                                     \
            T mv = (T)m[i * s[2]];                                            \
            T e = mv == -(T)INFINITY ? (T)1 : EXP(x[i * s[1]] - mv);          \
            o[i * s[0]] = e;                                                  \
            sum[i * s[3]] += e;                                               \
        }                                                                     \
    }

EXP_ROW(exp_f32, float, expf)
EXP_ROW(exp_f64, double, exp)

/* Pass 3: p = {out, x, max, k}; softmax: out *= k (k = 1/sum);
 * log-softmax: out = (x - max) - k (k = log sum), or -k for a group whose
 * max is -inf (uniform). */
#define FINISH_ROW(NAME, T, EXPR)                                             \
    static void NAME(int64_t n, char *const *p, const int64_t *s, void *ctx)  \
    {                                                                         \
        (void)ctx;                                                            \
        T *o = (T *)p[0];                                                     \
        const T *x = (const T *)p[1];                                         \
        const double *m = (const double *)p[2], *k = (const double *)p[3];    \
        for (int64_t i = 0; i < n; i++) {                                     \
            T mv = (T)m[i * s[2]], kv = (T)k[i * s[3]];                       \
            (void)x;                                                          \
            (void)mv;                                                         \
            o[i * s[0]] = (EXPR);                                             \
        }                                                                     \
    }

FINISH_ROW(scale_f32, float, o[i * s[0]] * kv)
FINISH_ROW(scale_f64, double, o[i * s[0]] * kv)
FINISH_ROW(logsub_f32, float, mv == -INFINITY ? -kv : (x[i * s[1]] - mv) - kv)
FINISH_ROW(logsub_f64, double, mv == -INFINITY ? -kv : (x[i * s[1]] - mv) - kv)

typedef struct softmax_bufs {
    double *max, *sum;
    int64_t acc_stride[NA_MAX_DIMS];
} softmax_bufs;

/* One pass over {out, x, max, sum}; `accumulates` when fn adds into sum. */
static void run_pass(const na_array *y, const na_array *x, softmax_bufs *b,
                     na__row_fn fn, bool accumulates)
{
    na__iter it;
    char *base[4] = {na_data(y), na_data(x), (char *)b->max, (char *)b->sum};
    size_t es[4] = {na_dtype_size(y->dtype), na_dtype_size(x->dtype), 8, 8};
    const int64_t *strides[4] = {y->stride, x->stride, b->acc_stride,
                                 b->acc_stride};
    na__iter_init(&it, x->ndim, x->shape, 4, base, es, strides, 1);
    if (accumulates)
        na__iter_run_acc(&it, fn, NULL, 3);
    else
        na__iter_run(&it, fn, NULL, NA__PAR_ANY);
}

/* Turn each group's sum into the pass-3 constant. */
static void finish_constants(double *sum, int64_t nout, bool log_sm)
{
    for (int64_t i = 0; i < nout; i++)
        sum[i] = log_sm ? log(sum[i]) : 1.0 / sum[i];
}

static na_status softmax_impl(const char *op, bool log_sm, const na_array *x0,
                              const char *const *names, na_array **out)
{
    if (!x0 || !out)
        return na__fail(NA_ERR_ARGUMENT, "%s: NULL argument", op);
    bool red[NA_MAX_DIMS];
    na_status st = reduced_dims(op, x0, names, red);
    if (st != NA_OK)
        return st;
    na_dtype t = x0->dtype == NA_F64 ? NA_F64 : NA_F32;
    na_array *x = NULL, *y = NULL;
    st = x0->dtype == t ? na_array_ref(x0, &x) : na_astype(x0, t, &x);
    if (st != NA_OK)
        return st;
    softmax_bufs b;
    na_dim kept[NA_MAX_DIMS];
    int nkept;
    int64_t nout = kept_layout(x, red, &nkept, kept, b.acc_stride);
    b.max = acc_new(nout, -INFINITY, false);
    b.sum = acc_new(nout, 0, false);
    if (!b.max || !b.sum)
        st = na__fail(NA_ERR_NO_MEMORY, "%s: out of memory for %s", op, na__shape(x));
    if (st == NA_OK)
        st = na__new_like(op, t, x, &y);
    if (st == NA_OK) {
        bool f32 = t == NA_F32;
        fold(FOLD_MAX, x, b.max, b.acc_stride);
        run_pass(y, x, &b, f32 ? exp_f32 : exp_f64, true);
        finish_constants(b.sum, nout, log_sm);
        if (log_sm)
            run_pass(y, x, &b, f32 ? logsub_f32 : logsub_f64, false);
        else
            run_pass(y, x, &b, f32 ? scale_f32 : scale_f64, false);
    }
    free(b.max);
    free(b.sum);
    na_array_free(x);
    if (st == NA_OK && x0->dtype == NA_BF16) { /* computed in f32, rounded once */
        na_array *r = NULL;
        st = na_astype(y, NA_BF16, &r);
        na_array_free(y);
        y = r;
    }
    if (st == NA_OK)
        *out = y;
    return st;
}

na_status na_softmax(const na_array *x, const char *const *names, na_array **out)
{
    return softmax_impl("na_softmax", false, x, names, out);
}

na_status na_log_softmax(const na_array *x, const char *const *names,
                         na_array **out)
{
    return softmax_impl("na_log_softmax", true, x, names, out);
}
