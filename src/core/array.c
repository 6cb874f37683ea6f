/* The array header: storage, construction, inspection, copies. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- dtypes ---------------------------------------------------------- */

size_t na_dtype_size(na_dtype dtype)
{
    switch (dtype) {
    case NA_F32: return 4;
    case NA_F64: return 8;
    case NA_I32: return 4;
    case NA_BOOL: return 1;
    case NA_BF16: return 2;
    }
    return 0;
}

const char *na_dtype_name(na_dtype dtype)
{
    switch (dtype) {
    case NA_F32: return "f32";
    case NA_F64: return "f64";
    case NA_I32: return "i32";
    case NA_BOOL: return "bool";
    case NA_BF16: return "bf16";
    }
    return "?";
}

static bool dtype_ok(na_dtype dtype)
{
    return dtype == NA_F32 || dtype == NA_F64 || dtype == NA_I32 ||
           dtype == NA_BOOL || dtype == NA_BF16;
}

double na__load(na_dtype dt, const void *base, int64_t off)
{
    switch (dt) {
    case NA_F32: return ((const float *)base)[off];
    case NA_F64: return ((const double *)base)[off];
    case NA_I32: return ((const int32_t *)base)[off];
    case NA_BOOL: return ((const unsigned char *)base)[off] ? 1.0 : 0.0;
    case NA_BF16: return na_bf16_to_f32(((const na_bf16 *)base)[off]);
    }
    return 0.0;
}

void na__store(na_dtype dt, void *base, int64_t off, double v)
{
    switch (dt) {
    case NA_F32: ((float *)base)[off] = (float)v; break;
    case NA_F64: ((double *)base)[off] = v; break;
    case NA_I32: ((int32_t *)base)[off] = (int32_t)v; break;
    case NA_BOOL: ((bool *)base)[off] = v != 0.0; break;
    case NA_BF16: ((na_bf16 *)base)[off] = na_bf16_from_f32((float)v); break;
    }
}

/* ---- storage --------------------------------------------------------- */

na_storage *na__storage_new(size_t nbytes)
{
    na_storage *s = malloc(sizeof *s);
    if (!s)
        return NULL;
    s->data = na__mem_alloc(nbytes);
    if (!s->data) {
        free(s);
        return NULL;
    }
    atomic_init(&s->refcount, 1);
    s->nbytes = nbytes;
    s->release = NULL;
    s->ctx = NULL;
    return s;
}

void na__storage_retain(na_storage *s)
{
    if (s)
        atomic_fetch_add_explicit(&s->refcount, 1, memory_order_relaxed);
}

void na__storage_release(na_storage *s)
{
    if (!s || atomic_fetch_sub_explicit(&s->refcount, 1, memory_order_acq_rel) != 1)
        return;
    if (s->release)
        s->release(s->ctx);
    else if (!s->ctx)
        na__mem_free(s->data, s->nbytes);
    free(s);
}

/* ---- headers --------------------------------------------------------- */

void na_array_free(na_array *x)
{
    if (!x)
        return;
    na__storage_release(x->storage);
    free(x);
}

na_array *na__view_of(const na_array *x)
{
    na_array *v = malloc(sizeof *v);
    if (!v) {
        na__fail(NA_ERR_NO_MEMORY, "out of memory for an array header");
        return NULL;
    }
    *v = *x;
    na__storage_retain(v->storage);
    return v;
}

na_status na_array_ref(const na_array *x, na_array **out)
{
    if (!x || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_array_ref: NULL argument");
    na_array *v = na__view_of(x);
    if (!v)
        return NA_ERR_NO_MEMORY;
    *out = v;
    return NA_OK;
}

void na__set_contiguous_strides(na_array *x)
{
    int64_t s = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        x->stride[d] = s;
        s *= x->shape[d] > 0 ? x->shape[d] : 1;
    }
}

int na__names_count(const char *const *names)
{
    int n = 0;
    while (names && names[n])
        n++;
    return n;
}

/* ---- checked sizes ---------------------------------------------------- */

int64_t na__checked_count(int ndim, const int64_t *shape)
{
    int64_t n = 1, extent = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0 ||
            !na__mul_ok(extent, shape[d] > 0 ? shape[d] : 1, &extent) ||
            extent > NA_MAX_ELEMENTS)
            return -1;
        n *= shape[d];
    }
    return n;
}

/* "[x:4611686018427387904, 3]" for sizes and optional names. */
static const char *sizes_str(int ndim, const int64_t *shape,
                             const char *const *names, char *buf, size_t cap)
{
    size_t used = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < ndim && used < cap; d++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s%s%lld",
                                 d ? ", " : "", names && names[d] ? names[d] : "",
                                 names && names[d] ? ":" : "", (long long)shape[d]);
    if (used < cap)
        snprintf(buf + used, cap - used, "]");
    return buf;
}

na_status na__check_count(const char *op, int ndim, const int64_t *shape,
                          const char *const *names, int64_t *n)
{
    int64_t count = na__checked_count(ndim, shape);
    if (count >= 0) {
        if (n)
            *n = count;
        return NA_OK;
    }
    char buf[512];
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 0)
            return na__fail(NA_ERR_SHAPE, "%s: shape %s has a negative size",
                            op, sizes_str(ndim, shape, names, buf, sizeof buf));
    return na__fail(NA_ERR_SHAPE,
                    "%s: shape %s has more than %lld elements (2^48, the most "
                    "an array may hold)",
                    op, sizes_str(ndim, shape, names, buf, sizeof buf),
                    (long long)NA_MAX_ELEMENTS);
}

bool na__bytes_ok(int64_t n, na_dtype dtype, size_t *bytes)
{
    int64_t b;
    if (n < 0 || !na__mul_ok(n, (int64_t)na_dtype_size(dtype), &b) ||
        (uint64_t)b > SIZE_MAX)
        return false;
    *bytes = (size_t)b;
    return true;
}

/* Check dims and fill a header (no storage). */
static na_status header_from_dims(const char *op, na_dtype dtype, int ndim,
                                  const na_dim *dims, na_array *x)
{
    if (!dtype_ok(dtype))
        return na__fail(NA_ERR_DTYPE, "%s: unknown dtype %d", op, (int)dtype);
    if (ndim < 0 || ndim > NA_MAX_DIMS || (ndim > 0 && !dims))
        return na__fail(NA_ERR_ARGUMENT, "%s: %d dims (0..%d allowed)", op,
                        ndim, NA_MAX_DIMS);
    memset(x, 0, sizeof *x);
    x->dtype = dtype;
    x->ndim = ndim;
    for (int d = 0; d < ndim; d++) {
        if (dims[d].size < 0)
            return na__fail(NA_ERR_SHAPE, "%s: axis %d ('%s') has size %lld",
                            op, d, dims[d].name ? dims[d].name : "positional",
                            (long long)dims[d].size);
        x->shape[d] = dims[d].size;
        if (dims[d].name) {
            const char *nm = na_intern(dims[d].name);
            if (!nm)
                return na__fail(na_last_status(), "%s: axis %d has %s name",
                                op, d, dims[d].name[0] ? "a reserved" : "an empty");
            for (int e = 0; e < d; e++)
                if (x->name[e] == nm)
                    return na__fail(NA_ERR_AXIS, "%s: axis name '%s' repeats",
                                    op, nm);
            x->name[d] = nm;
        }
    }
    na_status st = na__check_count(op, ndim, x->shape, x->name, NULL);
    if (st != NA_OK)
        return st;
    na__set_contiguous_strides(x);
    return NA_OK;
}

static int64_t header_size(const na_array *x)
{
    int64_t n = 1;
    for (int d = 0; d < x->ndim; d++)
        n *= x->shape[d];
    return n;
}

static na_status alloc_header(const char *op, na_array *hdr, na_array **out)
{
    int64_t n;
    size_t bytes = 0;
    na_status st = na__check_count(op, hdr->ndim, hdr->shape, hdr->name, &n);
    if (st != NA_OK)
        return st;
    if (!na__bytes_ok(n, hdr->dtype, &bytes))
        return na__fail(NA_ERR_NO_MEMORY, "%s: %s needs more bytes than fit in "
                        "memory", op, na__shape(hdr));
    na_array *x = malloc(sizeof *x);
    na_storage *s = x ? na__storage_new(bytes) : NULL;
    if (!s) {
        free(x);
        return na__fail(NA_ERR_NO_MEMORY, "%s: out of memory for %s (%zu bytes)",
                        op, na__shape(hdr), bytes);
    }
    *x = *hdr;
    x->storage = s;
    x->offset = 0;
    *out = x;
    return NA_OK;
}

na_status na__new(const char *op, na_dtype dtype, int ndim, const na_dim *dims,
                  na_array **out)
{
    na_array hdr;
    na_status st = header_from_dims(op, dtype, ndim, dims, &hdr);
    if (st != NA_OK)
        return st;
    return alloc_header(op, &hdr, out);
}

na_status na__new_like(const char *op, na_dtype dtype, const na_array *like,
                       na_array **out)
{
    na_array hdr = *like;
    hdr.storage = NULL;
    hdr.offset = 0;
    hdr.dtype = dtype;
    na__set_contiguous_strides(&hdr);
    return alloc_header(op, &hdr, out);
}

na_status na_empty(na_dtype dtype, int ndim, const na_dim *dims, na_array **out)
{
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "na_empty: out is NULL");
    return na__new("na_empty", dtype, ndim, dims, out);
}

static void fill(na_array *x, double v)
{
    int64_t n = na_size(x);
    void *p = na_data(x);
    if (v == 0.0) {
        memset(p, 0, (size_t)n * na_dtype_size(x->dtype));
        return;
    }
    switch (x->dtype) {
    case NA_F32: for (int64_t i = 0; i < n; i++) ((float *)p)[i] = (float)v; break;
    case NA_F64: for (int64_t i = 0; i < n; i++) ((double *)p)[i] = v; break;
    case NA_I32: for (int64_t i = 0; i < n; i++) ((int32_t *)p)[i] = (int32_t)v; break;
    case NA_BOOL: memset(p, 1, (size_t)n); break;
    case NA_BF16: {
        na_bf16 b = na_bf16_from_f32((float)v);
        for (int64_t i = 0; i < n; i++)
            ((na_bf16 *)p)[i] = b;
        break;
    }
    }
}

static na_status filled(const char *op, na_dtype dtype, int ndim,
                        const na_dim *dims, double value, na_array **out)
{
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "%s: out is NULL", op);
    na_array *x;
    na_status st = na__new(op, dtype, ndim, dims, &x);
    if (st != NA_OK)
        return st;
    fill(x, value);
    *out = x;
    return NA_OK;
}

na_status na_full(na_dtype dtype, int ndim, const na_dim *dims, double value,
                  na_array **out)
{
    return filled("na_full", dtype, ndim, dims, value, out);
}

na_status na_zeros(na_dtype dtype, int ndim, const na_dim *dims, na_array **out)
{
    return filled("na_zeros", dtype, ndim, dims, 0.0, out);
}

na_status na_ones(na_dtype dtype, int ndim, const na_dim *dims, na_array **out)
{
    return filled("na_ones", dtype, ndim, dims, 1.0, out);
}

na_status na_scalar(na_dtype dtype, double value, na_array **out)
{
    return filled("na_scalar", dtype, 0, NULL, value, out);
}

na_status na_from_data(na_dtype dtype, int ndim, const na_dim *dims,
                       const void *data, na_array **out)
{
    if (!out || !data)
        return na__fail(NA_ERR_ARGUMENT, "na_from_data: NULL %s",
                        out ? "data" : "out");
    na_array *x;
    na_status st = na__new("na_from_data", dtype, ndim, dims, &x);
    if (st != NA_OK)
        return st;
    memcpy(na_data(x), data, (size_t)na_size(x) * na_dtype_size(dtype));
    *out = x;
    return NA_OK;
}

na_status na_wrap(na_dtype dtype, int ndim, const na_dim *dims, void *data,
                  void (*release)(void *ctx), void *ctx, na_array **out)
{
    if (!out || !data)
        return na__fail(NA_ERR_ARGUMENT, "na_wrap: NULL %s", out ? "data" : "out");
    na_array hdr;
    na_status st = header_from_dims("na_wrap", dtype, ndim, dims, &hdr);
    if (st != NA_OK)
        return st;
    na_array *x = malloc(sizeof *x);
    na_storage *s = malloc(sizeof *s);
    if (!x || !s) {
        free(x);
        free(s);
        return na__fail(NA_ERR_NO_MEMORY, "na_wrap: out of memory");
    }
    atomic_init(&s->refcount, 1);
    s->data = data;
    s->nbytes = (size_t)header_size(&hdr) * na_dtype_size(dtype);
    s->release = release;
    /* ctx non-NULL with release NULL still means "not ours to free". */
    s->ctx = release ? ctx : (void *)s;
    *x = hdr;
    x->storage = s;
    *out = x;
    return NA_OK;
}

na_status na_arange(const char *name, int64_t n, na_dtype dtype, na_array **out)
{
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "na_arange: out is NULL");
    if (dtype == NA_BOOL)
        return na__fail(NA_ERR_DTYPE, "na_arange: bool arange is not defined");
    na_array *x;
    na_status st = na__new("na_arange", dtype, 1, &(na_dim){name, n}, &x);
    if (st != NA_OK)
        return st;
    void *p = na_data(x);
    for (int64_t i = 0; i < n; i++)
        na__store(dtype, p, i, (double)i);
    *out = x;
    return NA_OK;
}

/* ---- inspection ------------------------------------------------------ */

int na_named_count(const na_array *x)
{
    int n = 0;
    if (!x)
        return 0;
    for (int d = 0; d < x->ndim; d++)
        n += x->name[d] != NULL;
    return n;
}

int na_positional_count(const na_array *x)
{
    return x ? x->ndim - na_named_count(x) : 0;
}

int64_t na_size(const na_array *x) { return x ? header_size(x) : 0; }

int na_axis_index(const na_array *x, const char *name)
{
    if (!x || !name)
        return -1;
    /* Interned pointers first; fall back to text for names never interned. */
    for (int d = 0; d < x->ndim; d++)
        if (x->name[d] == name)
            return d;
    for (int d = 0; d < x->ndim; d++)
        if (x->name[d] && strcmp(x->name[d], name) == 0)
            return d;
    return -1;
}

int64_t na_axis_size(const na_array *x, const char *name)
{
    int d = na_axis_index(x, name);
    return d < 0 ? -1 : x->shape[d];
}

int na_positional_index(const na_array *x, int pos)
{
    if (!x)
        return -1;
    int np = na_positional_count(x);
    if (pos < 0)
        pos += np;
    if (pos < 0 || pos >= np)
        return -1;
    for (int d = 0; d < x->ndim; d++)
        if (!x->name[d] && pos-- == 0)
            return d;
    return -1;
}

bool na_is_contiguous(const na_array *x)
{
    int64_t s = 1;
    if (!x)
        return false;
    for (int d = x->ndim - 1; d >= 0; d--) {
        if (x->shape[d] == 0)
            return true;
        if (x->shape[d] != 1 && x->stride[d] != s)
            return false;
        s *= x->shape[d];
    }
    return true;
}

void *na_data(const na_array *x)
{
    if (!x || !x->storage)
        return NULL;
    return (char *)x->storage->data + x->offset * (int64_t)na_dtype_size(x->dtype);
}

double na_get(const na_array *x, const int64_t *idx)
{
    int64_t off = 0;
    if (!x || (!idx && x->ndim > 0) || !x->storage)
        return NAN;
    for (int d = 0; d < x->ndim; d++)
        off += idx[d] * x->stride[d];
    return na__load(x->dtype, na_data(x), off);
}

bool na_same_shape(const na_array *a, const na_array *b)
{
    if (!a || !b)
        return false;
    if (a->ndim != b->ndim)
        return false;
    int pa = 0, pb = 0;
    for (int d = 0; d < a->ndim; d++) {
        if (a->name[d]) {
            if (na_axis_size(b, a->name[d]) != a->shape[d])
                return false;
        } else {
            int e = na_positional_index(b, pa++);
            if (e < 0 || b->shape[e] != a->shape[d])
                return false;
        }
        pb += b->name[d] == NULL;
    }
    return pa == pb;
}

/* Append to buf (capacity cap, may be NULL) at *used, counting what would
 * have been written, like snprintf. */
__attribute__((format(printf, 4, 5)))
static void shape_put(char *buf, size_t cap, size_t *used, const char *fmt, ...)
{
    char *dst = buf && *used < cap ? buf + *used : NULL;
    size_t room = dst ? cap - *used : 0;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(dst, room, fmt, ap);
    va_end(ap);
    if (w > 0)
        *used += (size_t)w;
}

size_t na_shape_str(const na_array *x, char *buf, size_t cap)
{
    size_t used = 0;
#define PUT(...) shape_put(buf, cap, &used, __VA_ARGS__)
    if (!x) {
        PUT("(null)");
        return used;
    }
    PUT("%s[", na_dtype_name(x->dtype));
    bool first = true;
    for (int d = 0; d < x->ndim; d++) {
        if (!x->name[d])
            continue;
        PUT("%s%s:%lld", first ? "" : ", ", x->name[d], (long long)x->shape[d]);
        first = false;
    }
    if (na_positional_count(x) > 0) {
        PUT("%s|", first ? "" : " ");
        for (int d = 0; d < x->ndim; d++)
            if (!x->name[d])
                PUT(" %lld", (long long)x->shape[d]);
    }
    PUT("]");
#undef PUT
    return used;
}

/* ---- copies ---------------------------------------------------------- */

/* Walk every element of x in row-major dim order, calling back with the
 * element offset relative to na_data(x). */
/* One row of `inner` elements from src (element stride `is`) to a
 * contiguous dst, converting from dtype `from` to `to`. */
static void copy_row(na_dtype from, const void *src, int64_t is, na_dtype to, void *dst,
                     int64_t inner)
{
    if (from == to && na_dtype_size(to) == 4) {
        const uint32_t *s = src;
        uint32_t *o = dst;
        for (int64_t j = 0; j < inner; j++)
            o[j] = s[j * is];
    } else if (from == to && to == NA_BF16) {
        const na_bf16 *s = src;
        na_bf16 *o = dst;
        for (int64_t j = 0; j < inner; j++)
            o[j] = s[j * is];
    } else if (from == NA_BF16 && to == NA_F32 && is == 1) {
        na_bf16_to_f32_n(src, dst, inner);
    } else if (from == NA_F32 && to == NA_BF16 && is == 1) {
        na_bf16_from_f32_n(src, dst, inner);
    } else {
        for (int64_t j = 0; j < inner; j++)
            na__store(to, dst, j, na__load(from, src, j * is));
    }
}

/* Copy every element of x in row-major dim order to dst, as dtype dt. */
static void copy_strided(const na_array *x, na_dtype dt, void *dst)
{
    int64_t n = na_size(x);
    if (n == 0)
        return;
    const char *src = na_data(x);
    if (na_is_contiguous(x) && dt == x->dtype) {
        memcpy(dst, src, (size_t)n * na_dtype_size(dt));
        return;
    }
    int64_t idx[NA_MAX_DIMS] = {0};
    int64_t off = 0;
    int nd = x->ndim;
    int64_t inner = nd ? x->shape[nd - 1] : 1;
    int64_t istride = nd ? x->stride[nd - 1] : 0;
    size_t es = na_dtype_size(x->dtype), eo = na_dtype_size(dt);
    for (int64_t i = 0; i < n; i += inner) {
        copy_row(x->dtype, src + off * (int64_t)es, istride, dt, (char *)dst + i * (int64_t)eo,
                 inner);
        for (int d = nd - 2; d >= 0; d--) {
            off += x->stride[d];
            if (++idx[d] < x->shape[d])
                break;
            off -= x->stride[d] * x->shape[d];
            idx[d] = 0;
        }
    }
}

na_status na_copy_to(const na_array *x, na_dtype dtype, void *out)
{
    if (!x || (!out && na_size(x) > 0))
        return na__fail(NA_ERR_ARGUMENT, "na_copy_to: NULL argument");
    if (!dtype_ok(dtype))
        return na__fail(NA_ERR_DTYPE, "na_copy_to: unknown dtype %d", (int)dtype);
    copy_strided(x, dtype, out);
    return NA_OK;
}

na_status na_astype(const na_array *x, na_dtype dtype, na_array **out)
{
    if (!x || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_astype: NULL argument");
    if (!dtype_ok(dtype))
        return na__fail(NA_ERR_DTYPE, "na_astype: unknown dtype %d", (int)dtype);
    na_array *y;
    na_status st = na__new_like("na_astype", dtype, x, &y);
    if (st != NA_OK)
        return st;
    copy_strided(x, dtype, na_data(y));
    *out = y;
    return NA_OK;
}

na_status na_copy(const na_array *x, na_array **out)
{
    if (!x || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_copy: NULL argument");
    return na_astype(x, x->dtype, out);
}

na_status na_contiguous(const na_array *x, na_array **out)
{
    if (!x || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_contiguous: NULL argument");
    if (na_is_contiguous(x))
        return na_array_ref(x, out);
    return na_copy(x, out);
}

na_status na_reshape(const na_array *x, int ndim, const int64_t *sizes,
                     na_array **out)
{
    if (!x || !out || (ndim > 0 && !sizes))
        return na__fail(NA_ERR_ARGUMENT, "na_reshape: NULL argument");
    if (na_named_count(x) > 0)
        return na__fail(NA_ERR_AXIS,
                        "na_reshape: %s has named axes; untag them first "
                        "(reshape works on positional axes only)",
                        na__shape(x));
    if (ndim < 0 || ndim > NA_MAX_DIMS)
        return na__fail(NA_ERR_ARGUMENT, "na_reshape: %d dims", ndim);
    for (int d = 0; d < ndim; d++)
        if (sizes[d] < 0)
            return na__fail(NA_ERR_SHAPE, "na_reshape: size %lld at axis %d",
                            (long long)sizes[d], d);
    int64_t n = 0;
    na_status st = na__check_count("na_reshape", ndim, sizes, NULL, &n);
    if (st != NA_OK)
        return st;
    if (n != na_size(x)) {
        char want[256];
        size_t used = 0;
        for (int d = 0; d < ndim && used < sizeof want; d++)
            used += (size_t)snprintf(want + used, sizeof want - used, "%s%lld",
                                     d ? ", " : "", (long long)sizes[d]);
        if (ndim == 0)
            want[0] = '\0';
        return na__fail(NA_ERR_SHAPE,
                        "na_reshape: cannot reshape %s (%lld elements) to (%s)",
                        na__shape(x), (long long)na_size(x), want);
    }
    na_array *src;
    st = na_contiguous(x, &src);
    if (st != NA_OK)
        return st;
    src->ndim = ndim;
    for (int d = 0; d < ndim; d++) {
        src->shape[d] = sizes[d];
        src->name[d] = NULL;
    }
    na__set_contiguous_strides(src);
    *out = src;
    return NA_OK;
}

/* ---- printing -------------------------------------------------------- */

static void print_value(FILE *f, na_dtype dt, double v)
{
    switch (dt) {
    case NA_F32:
    case NA_F64:
    case NA_BF16: fprintf(f, "%.6g", v); break;
    case NA_I32: fprintf(f, "%d", (int)v); break;
    case NA_BOOL: fputs(v != 0.0 ? "true" : "false", f); break;
    }
}

static void print_level(FILE *f, const na_array *x, int d, int64_t off,
                        int indent)
{
    const int64_t edge = 3, full = 8;
    if (d == x->ndim) {
        print_value(f, x->dtype, na__load(x->dtype, na_data(x), off));
        return;
    }
    int64_t n = x->shape[d];
    bool cut = n > full;
    fputc('[', f);
    for (int64_t i = 0; i < n; i++) {
        if (cut && i == edge) {
            fputs(d == x->ndim - 1 ? "..., " : "...,\n", f);
            if (d != x->ndim - 1)
                fprintf(f, "%*s", indent + 1, "");
            i = n - edge;
        }
        print_level(f, x, d + 1, off + i * x->stride[d], indent + 1);
        if (i + 1 < n) {
            if (d == x->ndim - 1)
                fputs(", ", f);
            else
                fprintf(f, ",\n%*s", indent + 1, "");
        }
    }
    fputc(']', f);
}

na_status na_array_print(const na_array *x, FILE *f)
{
    if (!x || !f)
        return na__fail(NA_ERR_ARGUMENT, "na_array_print: NULL argument");
    fprintf(f, "%s", na__shape(x));
    if (x->ndim > 0) {
        fputs(" axes (", f);
        for (int d = 0; d < x->ndim; d++) {
            if (x->name[d])
                fprintf(f, "%s%s", d ? ", " : "", x->name[d]);
            else
                fprintf(f, "%s#%d", d ? ", " : "", d);
        }
        fputc(')', f);
    }
    fputs(":\n", f);
    if (na_size(x) == 0)
        fputs("[]", f);
    else
        print_level(f, x, 0, 0, 0);
    fputc('\n', f);
    return NA_OK;
}
