#include "support.h"

#include <math.h>
#include <stdlib.h>

na_array *ts_random(na_dtype dtype, int ndim, const na_dim *dims, uint64_t seed)
{
    na_array *x = NULL;
    if (na_empty(dtype, ndim, dims, &x) != NA_OK)
        return NULL;
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    int64_t n = na_size(x);
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        double u = (double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0;
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
