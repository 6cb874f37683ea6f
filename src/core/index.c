/* Indexing by name: na_index_by, na_at_set, na_at_add.
 *
 * An index is a list of entries, each on one axis of x (by name, or by
 * position among x's positional axes when `axis` is NULL):
 *   AT      x{.., a:n, ..}  -> x{.., ..}          the axis disappears
 *   RANGE   x{.., a:n, ..}  -> x{.., a:m, ..}     python slice start:stop:step
 *   NEW     x{..}           -> x{.., a:1}         a size-1 axis, appended
 *   GATHER  x{.., a:n, ..}, ids{b:k, c:l} -> {.., b:k, c:l}
 * AT, RANGE and NEW only edit the header (a view). Gathers read through
 * i32 ids; several gathers broadcast their ids together by name, and the
 * union of the ids' axes is appended after the remaining axes. Ids (like AT
 * indexes) may be negative, counting from the end; anything else outside
 * the axis is an error.
 *
 * at_set / at_add follow Penzai's x.at[index].set(v) / .add(v): the
 * update is mapped over the named axes of the ids. Without gathers the
 * result is a copy of x with the region written. With gathers the result
 * carries x's axes, then the ids' named axes that x lacks: one updated copy
 * of x per value of those axes, each written at its own ids; an ids axis
 * that x also has (and no entry indexes) is mapped together with it, copy b
 * updating x's slice b. Positional axes of the ids scatter within one copy
 * (JAX's x.at[ids]): repeated ids accumulate for add, and for set the last
 * write wins, in row-major order of the ids. To accumulate many named ids
 * into one array (the old behaviour, an embedding gradient), untag the ids'
 * and the value's axis first. The value broadcasts by name against the
 * region and the ids, in the order of Penzai's dict index: the region's
 * named axes, the ids' axes, then the region's positional axes (positional
 * axes line up numpy-style, from the right). Where namedarr differs
 * from Penzai: a value axis that is neither in the region nor in the ids is
 * an error (Penzai would map over it too).
 */
#include <stdlib.h>
#include <string.h>

#include "broadcast.h"
#include "internal.h"

#define MAX_GATHER NA__MAX_OPERANDS

/* x with AT / RANGE / NEW applied and the gathered axes taken out. */
typedef struct plan {
    na_array view;                     /* header on x's storage (no ref)   */
    int ngather;
    int64_t glen[MAX_GATHER];          /* length of each gathered axis     */
    int64_t gstride[MAX_GATHER];       /* its stride in x                  */
    char glabel[MAX_GATHER][80];       /* "'vocab'" or "positional 0"      */
    const na_array *ids[MAX_GATHER];
    na__bcast bc;                      /* union of the ids' axes           */
    bool indexed[NA_MAX_DIMS];         /* x's dim has an index entry       */
    bool update;                       /* planning at_set / at_add         */
} plan;

/* "'name'" or "positional 2" for messages. */
static const char *entry_label(const na_index *e, char *buf, size_t cap)
{
    if (e->axis)
        snprintf(buf, cap, "'%s'", e->axis);
    else
        snprintf(buf, cap, "positional %d", e->pos);
    return buf;
}

/* The dim of x entry e refers to (-1 for NEW). */
static na_status entry_dim(const char *op, const na_array *x,
                           const na_index *e, int i, int *dim)
{
    char lab[80];
    *dim = -1;
    if (e->kind != NA_INDEX_AT && e->kind != NA_INDEX_RANGE &&
        e->kind != NA_INDEX_NEW && e->kind != NA_INDEX_GATHER)
        return na__fail(NA_ERR_ARGUMENT, "%s: entry %d has unknown kind %d", op,
                        i, (int)e->kind);
    if (e->kind == NA_INDEX_NEW) {
        if (!e->axis || !e->axis[0])
            return na__fail(NA_ERR_ARGUMENT,
                            "%s: entry %d adds a new axis but gives no name "
                            "(x %s)", op, i, na__shape(x));
        return NA_OK;
    }
    *dim = e->axis ? na_axis_index(x, e->axis) : na_positional_index(x, e->pos);
    if (*dim < 0)
        return na__fail(NA_ERR_AXIS, "%s: no %s axis in %s", op,
                        entry_label(e, lab, sizeof lab), na__shape(x));
    return NA_OK;
}

/* Python slice of an axis of length len: first element, count. */
static void slice_of(int64_t len, int64_t start, int64_t stop, int64_t step,
                     int64_t *first, int64_t *count)
{
    bool back = step < 0;
    if (back && stop == NA_END)
        stop = -1;                        /* down to and including 0      */
    else if (stop < 0 && (stop += len) < 0)
        stop = back ? -1 : 0;
    else if (stop >= len)
        stop = back ? len - 1 : len;
    if (start < 0 && (start += len) < 0)
        start = back ? -1 : 0;
    else if (start >= len)
        start = back ? len - 1 : len;
    uint64_t mag = back ? (uint64_t)0 - (uint64_t)step : (uint64_t)step;
    if (back)
        *count = stop < start ? (int64_t)((uint64_t)(start - stop - 1) / mag) + 1 : 0;
    else
        *count = start < stop ? (int64_t)((uint64_t)(stop - start - 1) / mag) + 1 : 0;
    *first = start;
}

/* Apply entry e (AT or RANGE) to dim d of x, appending to v if kept. */
static na_status apply_entry(const char *op, const na_array *x, int d,
                             const na_index *e, na_array *v)
{
    char lab[80];
    int64_t len = x->shape[d];
    if (e->kind == NA_INDEX_AT) {
        int64_t at = e->at < 0 ? e->at + len : e->at;
        if (at < 0 || at >= len)
            return na__fail(NA_ERR_INDEX,
                            "%s: index %lld is out of range for axis %s of size "
                            "%lld in %s", op, (long long)e->at,
                            entry_label(e, lab, sizeof lab), (long long)len,
                            na__shape(x));
        v->offset += at * x->stride[d];
        return NA_OK;
    }
    if (e->step == 0)
        return na__fail(NA_ERR_INDEX, "%s: range step 0 on axis %s of %s", op,
                        entry_label(e, lab, sizeof lab), na__shape(x));
    int64_t first, count;
    slice_of(len, e->start, e->stop, e->step, &first, &count);
    int k = v->ndim++;
    v->name[k] = x->name[d];
    v->shape[k] = count;
    v->stride[k] = count > 1 ? x->stride[d] * e->step : x->stride[d];
    if (count > 0)
        v->offset += first * x->stride[d];
    return NA_OK;
}

static na_status add_gather(const char *op, const na_array *x, int d,
                            const na_index *e, plan *p)
{
    const na_array *ids = e->ids;
    if (p->ngather == MAX_GATHER)
        return na__fail(NA_ERR_ARGUMENT, "%s: more than %d gathers on %s", op,
                        MAX_GATHER, na__shape(x));
    int g = p->ngather++;
    entry_label(e, p->glabel[g], sizeof p->glabel[g]);
    if (!ids)
        return na__fail(NA_ERR_ARGUMENT, "%s: gather on axis %s has NULL ids",
                        op, p->glabel[g]);
    bool positional = !p->update && na_positional_count(ids) > 0;
    if (ids->dtype != NA_I32 || positional)
        return na__fail(ids->dtype != NA_I32 ? NA_ERR_DTYPE : NA_ERR_AXIS,
                        "%s: ids for axis %s must be i32 with %s, got %s (x %s)",
                        op, p->glabel[g],
                        p->update ? "named or positional axes"
                                  : "named axes only",
                        na__shape(ids), na__shape(x));
    p->glen[g] = x->shape[d];
    p->gstride[g] = x->stride[d];
    p->ids[g] = ids;
    return NA_OK;
}

/* Append the NEW axes (stride 0) in entry order. */
static na_status add_new_axes(const char *op, const na_array *x, int n,
                              const na_index *idx, na_array *v)
{
    for (int i = 0; i < n; i++) {
        if (idx[i].kind != NA_INDEX_NEW)
            continue;
        if (v->ndim == NA_MAX_DIMS)
            return na__fail(NA_ERR_SHAPE, "%s: more than %d axes adding '%s' to %s",
                            op, NA_MAX_DIMS, idx[i].axis, na__shape(x));
        const char *nm = na_intern(idx[i].axis);
        if (!nm)
            return na__fail(NA_ERR_ARGUMENT, "%s: bad new axis name", op);
        int k = v->ndim++;
        v->name[k] = nm;
        v->shape[k] = 1;
        v->stride[k] = 0;
    }
    return NA_OK;
}

/* The dims of the indexed region: view dims, then the ids' union. */
static int region_dims(const plan *p, na_dim *dims)
{
    int nd = 0;
    for (int d = 0; d < p->view.ndim; d++)
        dims[nd++] = (na_dim){p->view.name[d], p->view.shape[d]};
    for (int d = 0; p->ngather && d < p->bc.ndim; d++)
        dims[nd++] = p->bc.dims[d];
    return nd;
}

/* For an update, the ids' named axes map the update (Penzai): each must be
 * an axis of x that no entry indexes (same size; one copy per value, shared
 * with x) or a new name. Positional ids axes scatter within one copy. */
static na_status check_update_ids(const char *op, const na_array *x,
                                  const plan *p)
{
    for (int d = 0; d < p->bc.ndim; d++) {
        const char *nm = p->bc.dims[d].name;
        if (!nm)
            continue;
        int xd = na_axis_index(x, nm);
        bool is_new = false; /* a NEW axis: in the view, not in x */
        for (int v = 0; v < p->view.ndim && xd < 0; v++)
            is_new |= p->view.name[v] == nm;
        if ((xd >= 0 && p->indexed[xd]) || is_new)
            return na__fail(NA_ERR_AXIS,
                            "%s: ids axis '%s' names an axis the index "
                            "itself uses (x %s)", op, nm, na__shape(x));
        if (xd >= 0 && x->shape[xd] != p->bc.dims[d].size)
            return na__fail(NA_ERR_SHAPE,
                            "%s: ids axis '%s' has size %lld, x %s", op, nm,
                            (long long)p->bc.dims[d].size, na__shape(x));
    }
    return NA_OK;
}

/* Union the ids, then check the region has at most NA_MAX_DIMS dims and no
 * name twice (a NEW or ids axis clashing with a remaining axis; for an
 * update, ids axes may be remaining axes of x: see check_update_ids). */
static na_status finish_plan(const char *op, const na_array *x, plan *p)
{
    if (p->ngather) {
        const char *labels[MAX_GATHER];
        char lab[MAX_GATHER][96];
        for (int g = 0; g < p->ngather; g++) {
            snprintf(lab[g], sizeof lab[g], "ids for %s", p->glabel[g]);
            labels[g] = lab[g];
        }
        na_status st = na__broadcast(op, p->ngather, p->ids, labels, &p->bc);
        if (st != NA_OK)
            return st;
        if (p->view.ndim + p->bc.ndim > NA_MAX_DIMS)
            return na__fail(NA_ERR_SHAPE, "%s: gathering into %s gives more "
                            "than %d axes", op, na__shape(x), NA_MAX_DIMS);
        if (p->update && (st = check_update_ids(op, x, p)) != NA_OK)
            return st;
    }
    na_dim dims[2 * NA_MAX_DIMS];
    int nd = region_dims(p, dims);
    if (p->update)
        nd = p->view.ndim; /* ids axes were checked above */
    for (int d = 0; d < nd; d++)
        for (int e = 0; e < d; e++)
            if (dims[d].name && dims[d].name == dims[e].name)
                return na__fail(NA_ERR_AXIS,
                                "%s: axis '%s' would appear twice in the result "
                                "of indexing %s (a new or ids axis clashes with "
                                "a remaining one)", op, dims[d].name,
                                na__shape(x));
    return NA_OK;
}

static na_status make_plan(const char *op, const na_array *x, int n,
                           const na_index *idx, bool update, plan *p)
{
    p->update = update;
    if (n < 0 || (n > 0 && !idx))
        return na__fail(NA_ERR_ARGUMENT, "%s: %d index entries%s for %s", op, n,
                        idx ? "" : " (NULL list)", na__shape(x));
    int entry_of[NA_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++)
        entry_of[d] = -1;
    for (int i = 0; i < n; i++) {
        int d;
        na_status st = entry_dim(op, x, &idx[i], i, &d);
        if (st != NA_OK)
            return st;
        if (d >= 0 && entry_of[d] >= 0) {
            char lab[80];
            return na__fail(NA_ERR_AXIS, "%s: axis %s of %s is indexed twice",
                            op, entry_label(&idx[i], lab, sizeof lab),
                            na__shape(x));
        }
        if (d >= 0)
            entry_of[d] = i;
    }
    p->view = *x;
    p->view.ndim = 0;
    p->ngather = 0;
    for (int d = 0; d < x->ndim; d++) {
        p->indexed[d] = entry_of[d] >= 0;
        const na_index *e = entry_of[d] >= 0 ? &idx[entry_of[d]] : NULL;
        na_status st = NA_OK;
        if (!e) {
            int k = p->view.ndim++;
            p->view.name[k] = x->name[d];
            p->view.shape[k] = x->shape[d];
            p->view.stride[k] = x->stride[d];
        } else if (e->kind == NA_INDEX_GATHER) {
            st = add_gather(op, x, d, e, p);
        } else {
            st = apply_entry(op, x, d, e, &p->view);
        }
        if (st != NA_OK)
            return st;
    }
    na_status st = add_new_axes(op, x, n, idx, &p->view);
    return st == NA_OK ? finish_plan(op, x, p) : st;
}

/* ---- gather offsets ----------------------------------------------------- */

/* Format the coordinates of an ids element, "batch=3, seq=1". */
static void coords_str(const na__bcast *bc, const int64_t *at, char *buf,
                       size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int d = 0; d < bc->ndim && used < cap; d++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s=%lld",
                                 d ? ", " : "", bc->dims[d].name,
                                 (long long)at[d]);
}

static na_status id_out_of_range(const char *op, const na_array *x,
                                 const plan *p, int g, int32_t id,
                                 const int64_t *at)
{
    char where[256];
    coords_str(&p->bc, at, where, sizeof where);
    return na__fail(NA_ERR_INDEX,
                    "%s: id %d (at %s) is out of range for axis %s of size "
                    "%lld in %s (ids %s)", op, (int)id, where, p->glabel[g],
                    (long long)p->glen[g], na__shape(x), na__shape(p->ids[g]));
}

/* goff[j] = sum over gathers g of id_g(j) * gstride[g], for j over the ids
 * union in row-major order; *count = its size. Checks every id. */
static na_status gather_offsets(const char *op, const na_array *x,
                                const plan *p, int64_t **goff, int64_t *count)
{
    const na__bcast *bc = &p->bc;
    int64_t n = 1;
    for (int d = 0; d < bc->ndim; d++)
        n *= bc->shape[d];
    int64_t *off = malloc((size_t)(n > 0 ? n : 1) * sizeof *off);
    if (!off)
        return na__fail(NA_ERR_NO_MEMORY, "%s: out of memory for %lld gather "
                        "offsets", op, (long long)n);
    int64_t at[NA_MAX_DIMS] = {0}, ioff[MAX_GATHER] = {0};
    for (int64_t j = 0; j < n; j++) {
        off[j] = 0;
        for (int g = 0; g < p->ngather; g++) {
            int32_t id = ((const int32_t *)na_data(p->ids[g]))[ioff[g]];
            int64_t k = id < 0 ? (int64_t)id + p->glen[g] : id;
            if (k < 0 || k >= p->glen[g]) {
                free(off);
                return id_out_of_range(op, x, p, g, id, at);
            }
            off[j] += k * p->gstride[g];
        }
        for (int d = bc->ndim - 1; d >= 0; d--) {
            for (int g = 0; g < p->ngather; g++)
                ioff[g] += bc->stride[g][d];
            if (++at[d] < bc->shape[d])
                break;
            for (int g = 0; g < p->ngather; g++)
                ioff[g] -= bc->stride[g][d] * bc->shape[d];
            at[d] = 0;
        }
    }
    *goff = off;
    *count = n;
    return NA_OK;
}

/* Offset (elements) of row-major element r over `ndim` dims. */
static int64_t unravel(int ndim, const int64_t *shape, const int64_t *stride,
                       int64_t r)
{
    int64_t off = 0;
    for (int d = ndim - 1; d >= 0; d--) {
        off += (r % shape[d]) * stride[d];
        r /= shape[d];
    }
    return off;
}

static int64_t view_rows(const na_array *v)
{
    int64_t r = 1;
    for (int d = 0; d < v->ndim; d++)
        r *= v->shape[d];
    return r;
}

/* ---- index_by ----------------------------------------------------------- */

#define GATHER_ROW(T)                                                        \
    for (int64_t j = 0; j < n; j++)                                          \
        ((T *)dst)[j] = ((const T *)src)[goff[j]]

/* dst[j] = src[goff[j]] for j < n, elements of `es` bytes. */
static void gather_row(size_t es, void *dst, const void *src,
                       const int64_t *goff, int64_t n)
{
    switch (es) {
    case 1: GATHER_ROW(uint8_t); break;
    case 2: GATHER_ROW(uint16_t); break;
    case 4: GATHER_ROW(uint32_t); break;
    default: GATHER_ROW(uint64_t); break;
    }
}

/* Ids gathered per block: the block's source rows (an embedding table's
 * rows, say) stay in cache while the loop sweeps the remaining axes. */
#define GATHER_BLOCK 64

/* out {view dims, ids dims}[r, j] = view[r] at gathered offset goff[j].
 * The result keeps the ids' axes innermost, so for each j the source row is
 * read along r while the result is written along j: the loop takes the ids
 * GATHER_BLOCK at a time and runs over every r inside a block, which reads
 * each gathered row contiguously instead of touching every row once per r. */
static na_status gather_new(const char *op, const na_array *x, const plan *p,
                            na_array **out)
{
    int64_t *goff, n;
    na_status st = gather_offsets(op, x, p, &goff, &n);
    if (st != NA_OK)
        return st;
    na_dim dims[2 * NA_MAX_DIMS];
    na_array *y = NULL;
    int64_t rows = n > 0 ? view_rows(&p->view) : 0;
    int64_t *roff = NULL;
    st = na__new(op, x->dtype, region_dims(p, dims), dims, &y);
    if (st == NA_OK && !(roff = malloc((size_t)(rows > 0 ? rows : 1) * sizeof *roff)))
        st = na__fail(NA_ERR_NO_MEMORY, "%s: out of memory for %lld row offsets", op,
                      (long long)rows);
    if (st != NA_OK) {
        na_array_free(y);
        free(goff);
        return st;
    }
    for (int64_t r = 0; r < rows; r++)
        roff[r] = unravel(p->view.ndim, p->view.shape, p->view.stride, r);
    size_t es = na_dtype_size(x->dtype);
    const char *src = na_data(&p->view);
    char *dst = na_data(y);
    int64_t nblk = (n + GATHER_BLOCK - 1) / GATHER_BLOCK;
    bool par = rows * n > NA__PAR_MIN;
    if (nblk > 1) {
#pragma omp parallel for num_threads(na__threads()) if (par)
        for (int64_t b = 0; b < nblk; b++) {
            int64_t j0 = b * GATHER_BLOCK;
            int64_t len = n - j0 < GATHER_BLOCK ? n - j0 : GATHER_BLOCK;
            for (int64_t r = 0; r < rows; r++)
                gather_row(es, dst + (size_t)(r * n + j0) * es,
                           src + roff[r] * (int64_t)es, goff + j0, len);
        }
    } else { /* one block of ids: share the rows out instead */
#pragma omp parallel for num_threads(na__threads()) if (par)
        for (int64_t r = 0; r < rows; r++)
            gather_row(es, dst + (size_t)(r * n) * es,
                       src + roff[r] * (int64_t)es, goff, n);
    }
    free(roff);
    free(goff);
    *out = y;
    return NA_OK;
}

na_status na_index_by(const na_array *x, int n, const na_index *idx,
                      na_array **out)
{
    const char *op = "na_index_by";
    if (!x || !out)
        return na__fail(NA_ERR_ARGUMENT, "%s: NULL argument", op);
    plan *p = malloc(sizeof *p);
    if (!p)
        return na__fail(NA_ERR_NO_MEMORY, "%s: out of memory", op);
    na_status st = make_plan(op, x, n, idx, false, p);
    if (st == NA_OK && p->ngather == 0) {
        na_array *v = na__view_of(&p->view);
        st = v ? NA_OK : NA_ERR_NO_MEMORY;
        if (v)
            *out = v;
    } else if (st == NA_OK) {
        st = gather_new(op, x, p, out);
    }
    free(p);
    return st;
}

/* ---- at_set / at_add ---------------------------------------------------- */

typedef struct add_ctx {
    na_dtype dst, src;
} add_ctx;

/* p[0][i] += p[1][i] along one row. */
static void add_row(int64_t n, char *const *p, const int64_t *s, void *ctx)
{
    const add_ctx *c = ctx;
    if (c->dst == NA_F32 && c->src == NA_F32) {
        float *o = (float *)p[0];
        const float *v = (const float *)p[1];
        for (int64_t i = 0; i < n; i++)
            o[i * s[0]] += v[i * s[1]];
        return;
    }
    for (int64_t i = 0; i < n; i++)
        na__store(c->dst, p[0], i * s[0],
                  na__load(c->dst, p[0], i * s[0]) +
                      na__load(c->src, p[1], i * s[1]));
}

/* region += value (value broadcast by name against the region). The region
 * has distinct elements, so rows may run in parallel. */
static na_status add_into(const char *op, na_array *region,
                          const na_array *value)
{
    na_dim dims[NA_MAX_DIMS];
    int64_t vstride[NA_MAX_DIMS];
    for (int d = 0; d < region->ndim; d++)
        dims[d] = (na_dim){region->name[d], region->shape[d]};
    na_status st = na__align(op, value, region->ndim, dims, vstride);
    if (st != NA_OK)
        return st;
    na__iter it;
    char *base[2] = {na_data(region), na_data(value)};
    size_t es[2] = {na_dtype_size(region->dtype), na_dtype_size(value->dtype)};
    const int64_t *strides[2] = {region->stride, vstride};
    na__iter_init(&it, region->ndim, region->shape, 2, base, es, strides, 0);
    add_ctx c = {region->dtype, value->dtype};
    na__iter_run(&it, add_row, &c, NA__PAR_ANY);
    return NA_OK;
}

/* ---- updates with gathers: mapped over the ids' named axes --------------- */

/* The loop of a mapped update: the ids' union dims first (nu of them), then
 * the region's dims the ids do not share. Strides (elements) in y, in the
 * value and in each ids array. */
typedef struct scatter_loop {
    int nd, nu;
    int64_t shape[2 * NA_MAX_DIMS];
    int64_t ys[2 * NA_MAX_DIMS], vs[2 * NA_MAX_DIMS];
    int64_t is[MAX_GATHER][2 * NA_MAX_DIMS];
} scatter_loop;

static int find_dim(int nd, const na_dim *dims, const char *name)
{
    for (int d = 0; name && d < nd; d++)
        if (dims[d].name == name)
            return d;
    return -1;
}

/* y's dims: x's dims, then the ids' named axes x lacks (one copy each). */
static na_status update_dims(const char *op, const na_array *x, const plan *p,
                             na_dim *dims, int *nd)
{
    int n = 0;
    for (int d = 0; d < x->ndim; d++)
        dims[n++] = (na_dim){x->name[d], x->shape[d]};
    for (int d = 0; d < p->bc.ndim; d++) {
        const char *nm = p->bc.dims[d].name;
        if (!nm || na_axis_index(x, nm) >= 0)
            continue;
        if (n == NA_MAX_DIMS)
            return na__fail(NA_ERR_SHAPE, "%s: mapping the update over the "
                            "ids' axes gives more than %d axes (x %s)", op,
                            NA_MAX_DIMS, na__shape(x));
        dims[n++] = p->bc.dims[d];
    }
    *nd = n;
    return NA_OK;
}

/* What the value must broadcast against, in the order Penzai's dict index
 * gives: the region's named axes, the ids' axes it lacks (named, then
 * positional), then the region's positional axes. v_at[d] / u_at[d] = where
 * view dim d / ids dim d sits in that list. */
static int value_dims(const plan *p, na_dim *vt, int *v_at, int *u_at)
{
    int n = 0;
    for (int d = 0; d < p->view.ndim; d++)
        if (p->view.name[d]) {
            v_at[d] = n;
            vt[n++] = (na_dim){p->view.name[d], p->view.shape[d]};
        }
    for (int d = 0; d < p->bc.ndim; d++) {
        int k = find_dim(n, vt, p->bc.dims[d].name);
        if (k < 0) {
            k = n;
            vt[n++] = p->bc.dims[d];
        }
        u_at[d] = k;
    }
    for (int d = 0; d < p->view.ndim; d++)
        if (!p->view.name[d]) {
            v_at[d] = n;
            vt[n++] = (na_dim){NULL, p->view.shape[d]};
        }
    return n;
}

static void build_loop(const na_array *y, const plan *p, const int *v_at,
                       const int *u_at, const int64_t *vstride, scatter_loop *L)
{
    const na__bcast *bc = &p->bc;
    int n = 0;
    for (int d = 0; d < bc->ndim; d++, n++) {
        const char *nm = bc->dims[d].name;
        int yd = nm ? na_axis_index(y, nm) : -1;
        L->shape[n] = bc->shape[d];
        L->ys[n] = yd >= 0 ? y->stride[yd] : 0;
        L->vs[n] = vstride[u_at[d]];
        for (int g = 0; g < p->ngather; g++)
            L->is[g][n] = bc->stride[g][d];
    }
    L->nu = n;
    for (int d = 0; d < p->view.ndim; d++) {
        if (find_dim(bc->ndim, bc->dims, p->view.name[d]) >= 0)
            continue; /* shared with the ids: mapped above */
        L->shape[n] = p->view.shape[d];
        L->ys[n] = p->view.stride[d];
        L->vs[n] = vstride[v_at[d]];
        for (int g = 0; g < p->ngather; g++)
            L->is[g][n] = 0;
        n++;
    }
    L->nd = n;
}

/* Offset in y of loop element `at` (ids read through io); checks the ids. */
static na_status scatter_offset(const char *op, const na_array *x,
                                const plan *p, const int64_t *io,
                                const int64_t *at, int64_t *o)
{
    for (int g = 0; g < p->ngather; g++) {
        int32_t id = ((const int32_t *)na_data(p->ids[g]))[io[g]];
        int64_t k = id < 0 ? (int64_t)id + p->glen[g] : id;
        if (k < 0 || k >= p->glen[g])
            return id_out_of_range(op, x, p, g, id, at);
        *o += k * p->gstride[g];
    }
    return NA_OK;
}

/* Serial, in row-major loop order: a repeated id within one copy (from
 * positional ids axes) accumulates for add, and the last write wins for set. */
static na_status run_scatter(const char *op, const na_array *x, const plan *p,
                             const scatter_loop *L, na_array *y,
                             const na_array *value, bool add)
{
    int64_t at[2 * NA_MAX_DIMS] = {0}, io[MAX_GATHER] = {0};
    int64_t yo = p->view.offset - y->offset, vo = 0, total = 1;
    for (int d = 0; d < L->nd; d++)
        if (__builtin_mul_overflow(total, L->shape[d], &total))
            return na__fail(NA_ERR_SHAPE, "%s: too many updates into %s", op,
                            na__shape(x));
    char *dst = na_data(y);
    const char *src = na_data(value);
    for (int64_t e = 0; e < total; e++) {
        int64_t o = yo;
        na_status st = scatter_offset(op, x, p, io, at, &o);
        if (st != NA_OK)
            return st;
        double v = na__load(value->dtype, src, vo);
        na__store(y->dtype, dst, o, add ? v + na__load(y->dtype, dst, o) : v);
        for (int d = L->nd - 1; d >= 0; d--) {
            yo += L->ys[d];
            vo += L->vs[d];
            for (int g = 0; g < p->ngather; g++)
                io[g] += L->is[g][d];
            if (++at[d] < L->shape[d])
                break;
            yo -= L->ys[d] * L->shape[d];
            vo -= L->vs[d] * L->shape[d];
            for (int g = 0; g < p->ngather; g++)
                io[g] -= L->is[g][d] * L->shape[d];
            at[d] = 0;
        }
    }
    return NA_OK;
}

/* x planned in px has gathers: y = x broadcast over the ids' new named axes,
 * then every copy updated at its own ids (py: the same index planned on y). */
static na_status update_mapped(const char *op, const na_array *x, int n,
                               const na_index *idx, const na_array *value,
                               bool add, plan *p, na_array **out)
{
    na_dim dims[NA_MAX_DIMS], vt[NA_MAX_DIMS];
    int nd = 0, v_at[NA_MAX_DIMS], u_at[NA_MAX_DIMS];
    int nvt = value_dims(&p[0], vt, v_at, u_at);
    int64_t vstride[NA_MAX_DIMS];
    na_array *y = NULL, yx;
    na_status st = na__align(op, value, nvt, vt, vstride);
    if (st == NA_OK)
        st = update_dims(op, x, &p[0], dims, &nd);
    if (st == NA_OK)
        st = na__new(op, x->dtype, nd, dims, &y);
    if (st == NA_OK)
        st = na__copy_into(op, y, x);
    if (st == NA_OK) {
        yx = *y; /* y's header over x's dims: copy 0 of the mapped axes */
        yx.ndim = x->ndim;
        st = make_plan(op, &yx, n, idx, true, &p[1]);
    }
    if (st == NA_OK) {
        scatter_loop *L = malloc(sizeof *L);
        st = L ? NA_OK : na__fail(NA_ERR_NO_MEMORY, "%s: out of memory", op);
        if (L) {
            build_loop(y, &p[1], v_at, u_at, vstride, L);
            st = run_scatter(op, x, &p[1], L, y, value, add);
        }
        free(L);
    }
    if (st != NA_OK) {
        na_array_free(y);
        return st;
    }
    *out = y;
    return NA_OK;
}

/* No gathers: a copy of x with the view region set or added in place. */
static na_status update_view(const char *op, const na_array *x, int n,
                             const na_index *idx, const na_array *value,
                             bool add, plan *p, na_array **out)
{
    na_array *y;
    na_status st = na_copy(x, &y);
    if (st != NA_OK)
        return st;
    st = make_plan(op, y, n, idx, true, p);
    if (st == NA_OK && add)
        st = add_into(op, &p->view, value);
    else if (st == NA_OK)
        st = na__copy_into(op, &p->view, value);
    if (st != NA_OK) {
        na_array_free(y);
        return st;
    }
    *out = y;
    return NA_OK;
}

static na_status at_update(const char *op, const na_array *x, int n,
                           const na_index *idx, const na_array *value,
                           bool add, na_array **out)
{
    if (!x || !value || !out)
        return na__fail(NA_ERR_ARGUMENT, "%s: NULL argument", op);
    plan *p = malloc(2 * sizeof *p);
    if (!p)
        return na__fail(NA_ERR_NO_MEMORY, "%s: out of memory", op);
    na_status st = make_plan(op, x, n, idx, true, &p[0]);
    if (st == NA_OK && p[0].ngather > 0)
        st = update_mapped(op, x, n, idx, value, add, p, out);
    else if (st == NA_OK)
        st = update_view(op, x, n, idx, value, add, &p[1], out);
    free(p);
    return st;
}

na_status na_at_set(const na_array *x, int n, const na_index *idx,
                    const na_array *value, na_array **out)
{
    return at_update("na_at_set", x, n, idx, value, false, out);
}

na_status na_at_add(const na_array *x, int n, const na_index *idx,
                    const na_array *value, na_array **out)
{
    return at_update("na_at_add", x, n, idx, value, true, out);
}
