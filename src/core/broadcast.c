/* Name-based broadcasting, stride alignment and strided N-d iteration. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "broadcast.h"

/* ---- dtype promotion --------------------------------------------------- */

static int dtype_rank(na_dtype t)
{
    switch (t) {
    case NA_BOOL: return 0;
    case NA_I32: return 1;
    case NA_BF16: return 2;
    case NA_F32: return 3;
    case NA_F64: return 4;
    }
    return 0;
}

na_dtype na__promote(na_dtype a, na_dtype b)
{
    return dtype_rank(a) >= dtype_rank(b) ? a : b;
}

na_status na__promote_checked(const char *op, const na_array *a,
                              const na_array *b, na_dtype *t)
{
    if (a->dtype != b->dtype && na_get_dtype_promotion() == NA_PROMOTE_STRICT)
        return na__fail(NA_ERR_DTYPE,
                        "%s: mixed dtypes %s and %s under strict dtype "
                        "promotion (NA_PROMOTE_JAX would compute in %s)", op,
                        na__shape(a), na__shape(b),
                        na_dtype_name(na__promote(a->dtype, b->dtype)));
    *t = na__promote(a->dtype, b->dtype);
    return NA_OK;
}

void na__contiguous_strides(int ndim, const int64_t *shape, int64_t *stride)
{
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        stride[d] = s;
        s *= shape[d] > 0 ? shape[d] : 1;
    }
}

/* ---- alignment --------------------------------------------------------- */

/* "[foo:2, bar:3 | 5]" for a dims list, in a caller buffer. */
static const char *dims_str(int ndim, const na_dim *dims, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    used += (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < ndim && used < cap; d++) {
        if (dims[d].name)
            used += (size_t)snprintf(buf + used, cap - used, "%s%s:%lld",
                                     d ? ", " : "", dims[d].name,
                                     (long long)dims[d].size);
        else
            used += (size_t)snprintf(buf + used, cap - used, "%s#%lld",
                                     d ? ", " : "", (long long)dims[d].size);
    }
    if (used < cap)
        snprintf(buf + used, cap - used, "]");
    return buf;
}

static int find_name(int ndim, const na_dim *dims, const char *name)
{
    for (int d = 0; d < ndim; d++)
        if (dims[d].name == name)
            return d;
    return -1;
}

na_status na__align(const char *op, const na_array *x, int ndim,
                    const na_dim *dims, int64_t *stride)
{
    char buf[512];
    int tpos[NA_MAX_DIMS], ntpos = 0;
    for (int d = 0; d < ndim; d++) {
        stride[d] = 0;
        if (!dims[d].name)
            tpos[ntpos++] = d;
    }
    int px = na_positional_count(x);
    if (px > ntpos)
        return na__fail(NA_ERR_SHAPE,
                        "%s: %s has %d positional axes, target %s only %d", op,
                        na__shape(x), px, dims_str(ndim, dims, buf, sizeof buf),
                        ntpos);
    int j = ntpos - px;
    for (int e = 0; e < x->ndim; e++) {
        int d = x->name[e] ? find_name(ndim, dims, x->name[e]) : tpos[j++];
        if (d < 0)
            return na__fail(NA_ERR_AXIS, "%s: axis '%s' of %s is not in target %s",
                            op, x->name[e], na__shape(x),
                            dims_str(ndim, dims, buf, sizeof buf));
        if (x->shape[e] == dims[d].size)
            stride[d] = x->stride[e];
        else if (!x->name[e] && x->shape[e] == 1)
            stride[d] = 0;
        else
            return na__fail(NA_ERR_SHAPE,
                            "%s: axis %s%s%s of %s has size %lld, target %s wants %lld",
                            op, x->name[e] ? "'" : "positional ",
                            x->name[e] ? x->name[e] : "",
                            x->name[e] ? "'" : "", na__shape(x),
                            (long long)x->shape[e],
                            dims_str(ndim, dims, buf, sizeof buf),
                            (long long)dims[d].size);
    }
    return NA_OK;
}

/* ---- broadcasting ------------------------------------------------------ */

static const char *label_of(const char *const *labels, int k, char *buf)
{
    if (labels && labels[k])
        return labels[k];
    snprintf(buf, 16, "x%d", k);
    return buf;
}

/* Finish a clash message: every operand's label and named shape. */
static void append_operands(int n, const na_array *const *xs,
                            const char *const *labels)
{
    char buf[16];
    for (int k = 0; k < n; k++)
        na__fail_append("%s%s %s", k ? " vs " : "", label_of(labels, k, buf),
                        na__shape(xs[k]));
}

static na_status named_union(const char *op, int n, const na_array *const *xs,
                             const char *const *labels, na__bcast *bc)
{
    for (int k = 0; k < n; k++) {
        const na_array *x = xs[k];
        for (int e = 0; e < x->ndim; e++) {
            if (!x->name[e])
                continue;
            int d = find_name(bc->ndim, bc->dims, x->name[e]);
            if (d < 0) {
                if (bc->ndim == NA_MAX_DIMS)
                    goto too_many;
                bc->dims[bc->ndim++] = (na_dim){x->name[e], x->shape[e]};
            } else if (bc->dims[d].size != x->shape[e]) {
                na__fail(NA_ERR_SHAPE, "%s: size clash on axis '%s': ", op,
                         x->name[e]);
                append_operands(n, xs, labels);
                if (bc->dims[d].size == 1 || x->shape[e] == 1)
                    na__fail_append(" (named axes of size 1 do not stretch)");
                return NA_ERR_SHAPE;
            }
        }
    }
    return NA_OK;
too_many:
    na__fail(NA_ERR_SHAPE, "%s: more than %d axes in the result of ", op,
             NA_MAX_DIMS);
    append_operands(n, xs, labels);
    return NA_ERR_SHAPE;
}

static na_status positional_union(const char *op, int n, const na_array *const *xs,
                                  const char *const *labels, na__bcast *bc)
{
    int npos = 0;
    for (int k = 0; k < n; k++) {
        int p = na_positional_count(xs[k]);
        npos = p > npos ? p : npos;
    }
    if (bc->ndim + npos > NA_MAX_DIMS) {
        na__fail(NA_ERR_SHAPE, "%s: more than %d axes in the result of ", op,
                 NA_MAX_DIMS);
        append_operands(n, xs, labels);
        return NA_ERR_SHAPE;
    }
    for (int j = 1; j <= npos; j++) { /* j-th from the right */
        int64_t size = 1;
        for (int k = 0; k < n; k++) {
            int e = na_positional_index(xs[k], -j);
            if (e < 0 || xs[k]->shape[e] == 1)
                continue;
            if (size != 1 && size != xs[k]->shape[e]) {
                na__fail(NA_ERR_SHAPE,
                         "%s: positional axes do not broadcast (%lld vs %lld at "
                         "position -%d): ", op, (long long)size,
                         (long long)xs[k]->shape[e], j);
                append_operands(n, xs, labels);
                return NA_ERR_SHAPE;
            }
            size = xs[k]->shape[e];
        }
        bc->dims[bc->ndim + npos - j] = (na_dim){NULL, size};
    }
    bc->ndim += npos;
    return NA_OK;
}

na_status na__broadcast(const char *op, int n, const na_array *const *xs,
                        const char *const *labels, na__bcast *out)
{
    if (n < 1 || n > NA__MAX_OPERANDS || !xs || !out)
        return na__fail(NA_ERR_ARGUMENT, "%s: bad broadcast of %d operands", op, n);
    for (int k = 0; k < n; k++)
        if (!xs[k])
            return na__fail(NA_ERR_ARGUMENT, "%s: operand %d is NULL", op, k);
    na__bcast *bc = malloc(sizeof *bc);
    if (!bc)
        return na__fail(NA_ERR_NO_MEMORY, "%s: out of memory", op);
    bc->ndim = 0;
    na_status st = named_union(op, n, xs, labels, bc);
    if (st == NA_OK)
        st = positional_union(op, n, xs, labels, bc);
    for (int k = 0; k < n && st == NA_OK; k++)
        st = na__align(op, xs[k], bc->ndim, bc->dims, bc->stride[k]);
    if (st == NA_OK) {
        const char *names[NA_MAX_DIMS];
        for (int d = 0; d < bc->ndim; d++) {
            bc->shape[d] = bc->dims[d].size;
            names[d] = bc->dims[d].name;
        }
        st = na__check_count(op, bc->ndim, bc->shape, names, NULL);
    }
    if (st == NA_OK)
        *out = *bc;
    free(bc);
    return st;
}

/* ---- iteration --------------------------------------------------------- */

static int64_t iabs64(int64_t v) { return v < 0 ? -v : v; }

/* Stable sort of dims by |stride| of operand k, largest first. */
static void sort_dims(na__iter *it, int k)
{
    for (int i = 1; i < it->ndim; i++) {
        for (int d = i; d > 0; d--) {
            if (iabs64(it->stride[k][d - 1]) >= iabs64(it->stride[k][d]))
                break;
            int64_t t = it->shape[d];
            it->shape[d] = it->shape[d - 1];
            it->shape[d - 1] = t;
            for (int o = 0; o < it->nops; o++) {
                t = it->stride[o][d];
                it->stride[o][d] = it->stride[o][d - 1];
                it->stride[o][d - 1] = t;
            }
        }
    }
}

/* Merge dim d into d+1 wherever every operand is contiguous across them. */
static void coalesce(na__iter *it)
{
    int nd = 0;
    for (int d = 0; d < it->ndim; d++) {
        if (nd > 0) {
            bool ok = true;
            for (int k = 0; k < it->nops && ok; k++)
                ok = it->stride[k][nd - 1] == it->stride[k][d] * it->shape[d];
            if (ok) {
                it->shape[nd - 1] *= it->shape[d];
                for (int k = 0; k < it->nops; k++)
                    it->stride[k][nd - 1] = it->stride[k][d];
                continue;
            }
        }
        it->shape[nd] = it->shape[d];
        for (int k = 0; k < it->nops; k++)
            it->stride[k][nd] = it->stride[k][d];
        nd++;
    }
    it->ndim = nd;
}

void na__iter_init(na__iter *it, int ndim, const int64_t *shape, int nops,
                   char *const *base, const size_t *elsize,
                   const int64_t *const *stride, int order_by)
{
    it->nops = nops;
    it->ndim = 0;
    it->size = 1;
    for (int k = 0; k < nops; k++) {
        it->base[k] = base[k];
        it->elsize[k] = elsize[k];
    }
    for (int d = 0; d < ndim; d++) {
        it->size *= shape[d];
        if (shape[d] == 1)
            continue;
        it->shape[it->ndim] = shape[d];
        for (int k = 0; k < nops; k++)
            it->stride[k][it->ndim] = stride[k][d];
        it->ndim++;
    }
    if (order_by >= 0 && order_by < nops)
        sort_dims(it, order_by);
    coalesce(it);
    if (it->ndim == 0) {
        it->ndim = 1;
        it->shape[0] = 1;
        for (int k = 0; k < nops; k++)
            it->stride[k][0] = 0;
    }
}

/* Run work items [b, e): item i is tile (i % tiles) of row (i / tiles). */
static void run_items(const na__iter *it, na__row_fn fn, void *ctx,
                      int64_t tiles, int64_t tile_len, int64_t b, int64_t e)
{
    if (b >= e)
        return;
    int nd = it->ndim, no = it->nops;
    int64_t inner = it->shape[nd - 1];
    int64_t idx[NA_MAX_DIMS], off[NA__MAX_OPERANDS] = {0}, s[NA__MAX_OPERANDS];
    char *p[NA__MAX_OPERANDS];
    int64_t r = b / tiles, t = b % tiles;
    for (int d = nd - 2; d >= 0; d--) {
        idx[d] = r % it->shape[d];
        r /= it->shape[d];
        for (int k = 0; k < no; k++)
            off[k] += idx[d] * it->stride[k][d];
    }
    for (int k = 0; k < no; k++)
        s[k] = it->stride[k][nd - 1];
    for (int64_t i = b; i < e; i++) {
        int64_t j0 = t * tile_len, j1 = j0 + tile_len < inner ? j0 + tile_len : inner;
        for (int k = 0; k < no; k++)
            p[k] = it->base[k] + (off[k] + j0 * s[k]) * (int64_t)it->elsize[k];
        fn(j1 - j0, p, s, ctx);
        if (++t < tiles)
            continue;
        t = 0;
        for (int d = nd - 2; d >= 0; d--) {
            for (int k = 0; k < no; k++)
                off[k] += it->stride[k][d];
            if (++idx[d] < it->shape[d])
                break;
            for (int k = 0; k < no; k++)
                off[k] -= it->stride[k][d] * it->shape[d];
            idx[d] = 0;
        }
    }
}

/* Tiles per row so that a few long rows still feed every thread. */
static int64_t tile_count(int64_t rows, int64_t inner, int threads)
{
    int64_t want = 4 * (int64_t)threads;
    if (rows >= want)
        return 1;
    int64_t tiles = (want + rows - 1) / rows;
    int64_t most = inner / 4096;
    if (tiles > most)
        tiles = most;
    return tiles < 1 ? 1 : tiles;
}

static bool go_parallel(const na__iter *it, int threads)
{
    return threads > 1 && it->size >= NA__PAR_MIN && !omp_in_parallel();
}

void na__iter_run(const na__iter *it, na__row_fn fn, void *ctx, na__par par)
{
    if (it->size == 0)
        return;
    int64_t inner = it->shape[it->ndim - 1];
    int64_t rows = it->size / inner;
    int threads = na__threads();
    if (par == NA__SERIAL || !go_parallel(it, threads)) {
        run_items(it, fn, ctx, 1, inner, 0, rows);
        return;
    }
    int64_t tiles = tile_count(rows, inner, threads);
    int64_t tile_len = (inner + tiles - 1) / tiles;
    tile_len = (tile_len + 15) / 16 * 16;
    tiles = (inner + tile_len - 1) / tile_len;
    int64_t items = rows * tiles;
#pragma omp parallel num_threads(threads)
    {
        int64_t id = omp_get_thread_num(), nt = omp_get_num_threads();
        run_items(it, fn, ctx, tiles, tile_len, items * id / nt,
                  items * (id + 1) / nt);
    }
}

/* The iterator restricted to [b, e) of dim d. */
static void sub_iter(const na__iter *it, int d, int64_t b, int64_t e,
                     na__iter *sub)
{
    *sub = *it;
    sub->shape[d] = e - b;
    sub->size = it->size / it->shape[d] * (e - b);
    for (int k = 0; k < it->nops; k++)
        sub->base[k] += b * it->stride[k][d] * (int64_t)it->elsize[k];
}

void na__iter_run_acc(const na__iter *it, na__row_fn fn, void *ctx, int acc)
{
    if (it->size == 0)
        return;
    int d = 0, threads = na__threads();
    while (d < it->ndim && it->stride[acc][d] == 0)
        d++;
    if (d == it->ndim || !go_parallel(it, threads)) {
        na__iter_run(it, fn, ctx, NA__SERIAL);
        return;
    }
    int64_t n = it->shape[d];
#pragma omp parallel num_threads(threads)
    {
        int64_t id = omp_get_thread_num(), nt = omp_get_num_threads();
        na__iter sub;
        sub_iter(it, d, n * id / nt, n * (id + 1) / nt, &sub);
        if (sub.size > 0)
            na__iter_run(&sub, fn, ctx, NA__SERIAL);
    }
}

/* ---- copying ----------------------------------------------------------- */

typedef struct copy_ctx {
    na_dtype to, from;
} copy_ctx;

#define COPY_ROW(T)                                                           \
    do {                                                                      \
        T *o = (T *)p[0];                                                     \
        const T *x = (const T *)p[1];                                         \
        if (s[0] == 1 && s[1] == 1)                                           \
            memcpy(o, x, (size_t)n * sizeof(T));                              \
        else                                                                  \
            for (int64_t i = 0; i < n; i++)                                   \
                o[i * s[0]] = x[i * s[1]];                                    \
    } while (0)

static void copy_row(int64_t n, char *const *p, const int64_t *s, void *ctx)
{
    const copy_ctx *c = ctx;
    if (c->to != c->from) {
        for (int64_t i = 0; i < n; i++)
            na__store(c->to, p[0], i * s[0], na__load(c->from, p[1], i * s[1]));
        return;
    }
    switch (na_dtype_size(c->to)) {
    case 1: COPY_ROW(uint8_t); break;
    case 2: COPY_ROW(uint16_t); break;
    case 4: COPY_ROW(uint32_t); break;
    default: COPY_ROW(uint64_t); break;
    }
}

na_status na__copy_into(const char *op, na_array *dst, const na_array *src)
{
    na_dim dims[NA_MAX_DIMS];
    int64_t sstride[NA_MAX_DIMS];
    for (int d = 0; d < dst->ndim; d++)
        dims[d] = (na_dim){dst->name[d], dst->shape[d]};
    na_status st = na__align(op, src, dst->ndim, dims, sstride);
    if (st != NA_OK)
        return st;
    na__iter it;
    char *base[2] = {na_data(dst), na_data(src)};
    size_t es[2] = {na_dtype_size(dst->dtype), na_dtype_size(src->dtype)};
    const int64_t *strides[2] = {dst->stride, sstride};
    na__iter_init(&it, dst->ndim, dst->shape, 2, base, es, strides, 0);
    copy_ctx c = {dst->dtype, src->dtype};
    na__iter_run(&it, copy_row, &c, NA__PAR_ANY);
    return NA_OK;
}
