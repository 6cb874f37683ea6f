#include "support.h"

#include <math.h>
#include <stdlib.h>

/* The test data generator: xorshift64 from a seed, uniform in [-1, 1). */
static double next_uniform(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (double)(*s >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

float *ts_random_buffer(size_t n, float scale, uint64_t seed)
{
    float *b = calloc(n + 16, sizeof *b);
    cr_assert(b, "ts_random_buffer: out of memory");
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++)
        b[i] = (float)(next_uniform(&s) * scale);
    return b;
}

na_array *ts_random(na_dtype dtype, int ndim, const na_dim *dims, uint64_t seed)
{
    na_array *x = NULL;
    if (na_empty(dtype, ndim, dims, &x) != NA_OK)
        return NULL;
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    int64_t n = na_size(x);
    for (int64_t i = 0; i < n; i++) {
        double u = next_uniform(&s);
        switch (dtype) {
        case NA_F32: ((float *)na_data(x))[i] = (float)u; break;
        case NA_F64: ((double *)na_data(x))[i] = u; break;
        case NA_I32: ((int32_t *)na_data(x))[i] = (int32_t)(u * 100); break;
        case NA_BOOL: ((bool *)na_data(x))[i] = u > 0; break;
        case NA_BF16: ((na_bf16 *)na_data(x))[i] = na_bf16_from_f32((float)u); break;
        }
    }
    return x;
}

static int dim_of(const na_array *x, const char *name)
{
    if (name[0] == '#')
        return na_positional_index(x, atoi(name + 1));
    return na_axis_index(x, name);
}

double ts_at(const na_array *x, int n, const char *const *names,
             const int64_t *idx)
{
    int64_t full[NA_MAX_DIMS] = {0};
    cr_assert_eq(n, x->ndim, "ts_at: %d coordinates for %d dims", n, x->ndim);
    for (int i = 0; i < n; i++) {
        int d = dim_of(x, names[i]);
        cr_assert(d >= 0, "ts_at: no axis %s", names[i]);
        full[d] = idx[i];
    }
    return na_get(x, full);
}

double ts_max_abs_diff(const na_array *a, const na_array *b)
{
    double worst = 0;
    na_status st = na_max_abs_diff(a, b, &worst);
    cr_assert_eq(st, NA_OK, "%s", na_last_error());
    return worst;
}

na_array *ts_strided_copy(const na_array *x)
{
    /* Build a bigger buffer with every dim doubled plus one, then view it. */
    na_dim dims[NA_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++)
        dims[d] = (na_dim){x->name[d], x->shape[d] * 2 + 1};
    na_array *big = NULL;
    if (na_zeros(x->dtype, x->ndim, dims, &big) != NA_OK)
        return NULL;
    /* Set big[1::2 ...] = x by hand. */
    int64_t n = na_size(x);
    int64_t idx[NA_MAX_DIMS] = {0};
    for (int64_t i = 0; i < n; i++) {
        int64_t off = 0;
        for (int d = 0; d < x->ndim; d++)
            off += (2 * idx[d] + 1) * big->stride[d];
        double v = na_get(x, idx);
        switch (x->dtype) {
        case NA_F32: ((float *)na_data(big))[off] = (float)v; break;
        case NA_F64: ((double *)na_data(big))[off] = v; break;
        case NA_I32: ((int32_t *)na_data(big))[off] = (int32_t)v; break;
        case NA_BOOL: ((bool *)na_data(big))[off] = v != 0; break;
        case NA_BF16: ((na_bf16 *)na_data(big))[off] = na_bf16_from_f32((float)v); break;
        }
        for (int d = x->ndim - 1; d >= 0; d--) {
            if (++idx[d] < x->shape[d])
                break;
            idx[d] = 0;
        }
    }
    /* The view: offset to element (1,1,...), strides doubled. */
    na_array *v = NULL;
    na_array_ref(big, &v);
    na_array_free(big);
    for (int d = 0; d < x->ndim; d++) {
        v->offset += v->stride[d];
        v->stride[d] *= 2;
        v->shape[d] = x->shape[d];
    }
    return v;
}

na_array *ts_permuted(const na_array *x, const int *perm)
{
    na_array *v = NULL;
    NA_OK_OR_FAIL(na_array_ref(x, &v));
    for (int i = 0; i < x->ndim; i++) {
        v->shape[i] = x->shape[perm[i]];
        v->stride[i] = x->stride[perm[i]];
        v->name[i] = x->name[perm[i]];
    }
    return v;
}

na_array *ts_penzai_x(void)
{
    na_array *a = NULL, *b = NULL, *x = NULL;
    NA_OK_OR_FAIL(na_arange(NULL, 30, NA_F32, &a));
    NA_OK_OR_FAIL(na_reshape(a, 3, (int64_t[]){2, 3, 5}, &b));
    NA_OK_OR_FAIL(na_tag(b, NA_NAMES("foo", "bar", "baz"), &x));
    na_array_free(a);
    na_array_free(b);
    return x;
}

void ts_expect_shape(const na_array *x, const char *want)
{
    char buf[256];
    na_shape_str(x, buf, sizeof buf);
    cr_assert_str_eq(buf, want);
}

bool ts_next_index(const na_array *x, int64_t *idx)
{
    for (int d = x->ndim - 1; d >= 0; d--) {
        if (++idx[d] < x->shape[d])
            return true;
        idx[d] = 0;
    }
    return false;
}

void ts_free_n(int n, na_array *const *xs)
{
    for (int i = 0; i < n; i++)
        na_array_free(xs[i]);
}

/* ---- the plain-loop attention reference ----------------------------------- */

void ts_attend_row(const ts_attn_row *r, const double *q, const double *k,
                   ptrdiff_t k_stride, const double *v, ptrdiff_t v_stride,
                   const bool *keep, const double *bias, double *p, double *y)
{
    double *w = p ? p : malloc(sizeof(double) * (size_t)(r->T + 1));
    double mx = -INFINITY, sum = 0;
    int live = 0;
    for (int j = 0; j < r->T; j++) {
        double s = 0;
        for (int d = 0; d < r->D; d++)
            s += q[d] * k[j * k_stride + d];
        s *= r->scale;
        if (r->cap > 0)
            s = r->cap * tanh(s / r->cap);
        if (bias)
            s += bias[j];
        bool kept = !keep || keep[j];
        w[j] = kept ? s : -INFINITY;
        live += kept;
        mx = fmax(mx, w[j]);
    }
    for (int j = 0; j < r->T; j++) {
        w[j] = live ? exp(w[j] - mx) : (r->zero_rows ? 0.0 : 1.0);
        sum += w[j];
    }
    for (int j = 0; j < r->T; j++)
        w[j] = sum > 0 ? w[j] / sum : 0.0;
    for (int e = 0; e < r->Dv; e++) {
        double acc = 0;
        for (int j = 0; j < r->T; j++)
            acc += w[j] * v[j * v_stride + e];
        y[e] = acc;
    }
    if (!p)
        free(w);
}

double *ts_widen(const float *x, size_t n)
{
    double *d = malloc(sizeof(double) * (n + 1));
    cr_assert(d, "ts_widen: out of memory");
    for (size_t i = 0; i < n; i++)
        d[i] = x[i];
    return d;
}

/* ---- the test leaf layer ---------------------------------------------------- */

na_status ts_leaf_call(na_layer *self, const na_value *in, const na_side *side,
                       na_value **out)
{
    (void)self;
    (void)side;
    *out = na_value_clone(in);
    return *out ? NA_OK : na_last_status();
}

const na_field_desc ts_leaf_fields[TS_LEAF_FIELD_COUNT] = {
    NA_FIELD_AS("w", ts_leaf, p[0], NA_FIELD_PARAM, 0),
    NA_FIELD_AS("b", ts_leaf, p[1], NA_FIELD_PARAM, 0),
};

const na_layer_type ts_leaf_type = {"Leaf", ts_leaf_call, .size = sizeof(ts_leaf),
                                    .fields = ts_leaf_fields,
                                    .field_count = TS_LEAF_FIELD_COUNT};

na_layer *ts_leaf_new(const na_layer_type *type, na_param *a, na_param *b)
{
    na_layer *made = NULL;
    NA_OK_OR_FAIL(na_layer_alloc(type ? type : &ts_leaf_type, &made));
    ts_leaf *l = (ts_leaf *)made;
    l->p[0] = a;
    l->p[1] = b;
    return made;
}
