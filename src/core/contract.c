/* na_contract: the product of two named arrays, by names, through BLIS.
 *
 * Axis classes:  batch  in both, not summed   -> loop (or OpenMP) index
 *                K      in both, summed       -> the GEMM's k
 *                M      only in a             -> the GEMM's m (a's order)
 *                N      only in b             -> the GEMM's n (b's order)
 * The result is contiguous {batch..., M..., N...}, so C is always a
 * row-major m x n block per batch index. Each group of a and b is folded
 * into one stride when its strides chain (K in whichever order lets both
 * operands fold); an operand that cannot fold, or that BLIS would refuse
 * (broadcast or negative strides), is packed into a contiguous temporary
 * from the caching allocator. Nothing else is copied.
 *
 * bf16 operands: the product accumulates in f32. bf16 x bf16 gives bf16
 * (rounded once at the end), bf16 x f32 gives f32. A vector times a bf16
 * matrix (decode: one row, no batch) reads the matrix as bf16 in the GEMV
 * kernels (gemv.h); otherwise bf16 operands are widened to f32 for BLIS. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "blis_adapter.h"
#include "gemv.h"
#include "broadcast.h"
#include "internal.h"

#define OP "na_contract"

/* Products below this many flops gain nothing from BLIS's threads: run
 * them side by side over the batch instead. */
#define NA__SMALL_PRODUCT_FLOPS 4.0e6

/* One class of axes with their sizes and strides in a and in b. */
typedef struct axes {
    int n;
    const char *name[NA_MAX_DIMS];
    int64_t size[NA_MAX_DIMS];
    int64_t sa[NA_MAX_DIMS]; /* stride in a (batch, M, K) */
    int64_t sb[NA_MAX_DIMS]; /* stride in b (batch, N, K) */
} axes;

static void axes_push(axes *g, const char *name, int64_t size, int64_t sa,
                      int64_t sb)
{
    g->name[g->n] = name;
    g->size[g->n] = size;
    g->sa[g->n] = sa;
    g->sb[g->n] = sb;
    g->n++;
}

static int64_t axes_count(const axes *g)
{
    int64_t n = 1;
    for (int i = 0; i < g->n; i++)
        n *= g->size[i];
    return n;
}

/* ---- checks ------------------------------------------------------------- */

static bool in_list(const char *const *list, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (list[i] == name)
            return true;
    return false;
}

static na_status check_operand(const na_array *x, const char *which)
{
    if (na_positional_count(x) > 0)
        return na__fail(NA_ERR_AXIS,
                        "%s: operand %s %s has positional axes; name them with "
                        "na_tag first (contraction works by name only)",
                        OP, which, na__shape(x));
    return NA_OK;
}

static na_status check_args(const na_array *a, const na_array *b,
                            const char *const *sum, const char **isum,
                            int *nsum)
{
    na_status st;
    if ((st = check_operand(a, "a")) != NA_OK || (st = check_operand(b, "b")) != NA_OK)
        return st;
    bool single = (a->dtype == NA_F32 || a->dtype == NA_BF16) &&
                  (b->dtype == NA_F32 || b->dtype == NA_BF16);
    if (!single && (a->dtype != NA_F64 || b->dtype != NA_F64))
        return na__fail(NA_ERR_DTYPE,
                        "%s: operands must be f32 or bf16 (in any mix), or both f64: "
                        "a %s, b %s",
                        OP, na__shape(a), na__shape(b));
    int n = na__names_count(sum);
    if (n > NA_MAX_DIMS)
        return na__fail(NA_ERR_AXIS, "%s: %d sum axes (at most %d)", OP, n,
                        NA_MAX_DIMS);
    for (int i = 0; i < n; i++) {
        const char *nm = sum[i][0] ? na_intern(sum[i]) : NULL;
        if (!nm)
            return na__fail(sum[i][0] ? NA_ERR_AXIS : NA_ERR_ARGUMENT,
                            "%s: sum axis %d has %s name", OP, i,
                            sum[i][0] ? "a reserved" : "an empty");
        if (in_list(isum, i, nm))
            return na__fail(NA_ERR_AXIS, "%s: sum axis '%s' listed twice (%s)",
                            OP, nm, na__names(sum));
        bool in_a = na_axis_index(a, nm) >= 0, in_b = na_axis_index(b, nm) >= 0;
        if (!in_a || !in_b)
            return na__fail(NA_ERR_AXIS,
                            "%s: sum axis '%s' must be in both operands but is "
                            "not in %s: a %s, b %s",
                            OP, nm, !in_a && !in_b ? "either" : !in_a ? "a" : "b",
                            na__shape(a), na__shape(b));
        isum[i] = nm;
    }
    *nsum = n;
    for (int d = 0; d < a->ndim; d++) {
        int e = na_axis_index(b, a->name[d]);
        if (e >= 0 && b->shape[e] != a->shape[d])
            return na__fail(NA_ERR_SHAPE,
                            "%s: size clash on axis '%s' (%lld vs %lld): a %s, b %s",
                            OP, a->name[d], (long long)a->shape[d],
                            (long long)b->shape[e], na__shape(a), na__shape(b));
    }
    return NA_OK;
}

/* ---- layout: folding and packing ----------------------------------------- */

/* Fold dims (outer to inner as listed by `order`) into one stride: true if
 * each non-trivial dim's stride is the next one's stride times its size. */
static bool fold(const axes *g, const int64_t *stride, const int *order,
                 int64_t *folded)
{
    bool any = false;
    int64_t inner = 1, expect = 0;
    for (int i = g->n - 1; i >= 0; i--) {
        int d = order ? order[i] : i;
        if (g->size[d] == 1)
            continue;
        if (any && stride[d] != expect)
            return false;
        if (!any)
            inner = stride[d];
        any = true;
        expect = stride[d] * g->size[d];
    }
    *folded = inner;
    return true;
}

/* Indices of g's dims sorted by |stride| descending (ties: dim order). */
static void order_by_stride(const axes *g, const int64_t *stride, int *order)
{
    for (int i = 0; i < g->n; i++) {
        int j = i;
        int64_t s = llabs(stride[i]);
        while (j > 0 && llabs(stride[order[j - 1]]) < s) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
}

/* Copy a strided block into contiguous `dst` (row-major over the dims). */
static void gather(size_t es, const char *src, int nd, const int64_t *size,
                   const int64_t *stride, char *dst)
{
    int64_t idx[3 * NA_MAX_DIMS] = {0};
    int64_t total = 1;
    for (int d = 0; d < nd; d++)
        total *= size[d];
    if (total == 0)
        return;
    int64_t inner = nd ? size[nd - 1] : 1, is = nd ? stride[nd - 1] : 0;
    for (int64_t done = 0; done < total; done += inner) {
        int64_t off = 0;
        for (int d = 0; d + 1 < nd; d++)
            off += idx[d] * stride[d];
        if (es == 2) {
            const uint16_t *s = (const uint16_t *)src + off;
            uint16_t *o = (uint16_t *)dst;
            for (int64_t i = 0; i < inner; i++)
                o[i] = s[i * is];
        } else if (es == 4) {
            const uint32_t *s = (const uint32_t *)src + off;
            uint32_t *o = (uint32_t *)dst;
            for (int64_t i = 0; i < inner; i++)
                o[i] = s[i * is];
        } else {
            const uint64_t *s = (const uint64_t *)src + off;
            uint64_t *o = (uint64_t *)dst;
            for (int64_t i = 0; i < inner; i++)
                o[i] = s[i * is];
        }
        dst += (size_t)inner * es;
        for (int d = nd - 2; d >= 0; d--) {
            if (++idx[d] < size[d])
                break;
            idx[d] = 0;
        }
    }
}

/* One operand as BLIS will see it: a base pointer, batch strides, and the
 * matrix strides; `temp` is set when it was packed. */
typedef struct operand {
    const char *base;
    int64_t bstride[NA_MAX_DIMS];
    int64_t rs, cs;
    void *temp;
    size_t temp_bytes;
} operand;

/* Pack into contiguous {batch, rows-group, cols-group}. `rows`/`cols` are
 * the groups with strides taken from `rstride`/`cstride`; cols in
 * `corder`. */
static na_status pack(const na_array *x, size_t es, const axes *batch,
                      const int64_t *bstride, const axes *rows,
                      const int64_t *rstride, const int *rorder,
                      const axes *cols, const int64_t *cstride,
                      const int *corder, operand *o)
{
    int64_t size[3 * NA_MAX_DIMS], stride[3 * NA_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < batch->n; i++, nd++) {
        size[nd] = batch->size[i];
        stride[nd] = bstride[i];
    }
    for (int i = 0; i < rows->n; i++, nd++) {
        int d = rorder ? rorder[i] : i;
        size[nd] = rows->size[d];
        stride[nd] = rstride[d];
    }
    for (int i = 0; i < cols->n; i++, nd++) {
        int d = corder ? corder[i] : i;
        size[nd] = cols->size[d];
        stride[nd] = cstride[d];
    }
    int64_t nr = axes_count(rows), nc = axes_count(cols);
    size_t bytes = (size_t)(axes_count(batch) * nr * nc) * es;
    o->temp = na__mem_alloc(bytes);
    if (!o->temp)
        return na__fail(NA_ERR_NO_MEMORY,
                        "%s: out of memory packing %s (%zu bytes)", OP,
                        na__shape(x), bytes);
    o->temp_bytes = bytes;
    gather(es, (const char *)na_data(x), nd, size, stride, o->temp);
    o->base = o->temp;
    int64_t s = nr * nc;
    for (int i = batch->n - 1; i >= 0; i--) {
        o->bstride[i] = s;
        s *= batch->size[i];
    }
    o->rs = nc;
    o->cs = 1;
    return NA_OK;
}

/* ---- the product loop ----------------------------------------------------- */

typedef struct job {
    na_dtype dtype, da, db; /* the result's; each operand's (bf16 on GEMVs) */
    size_t es;
    const axes *batch;
    const operand *a, *b;
    char *c;
    int64_t m, n, k;
} job;

/* A few rows times a matrix (f32 or bf16), the matrix read once. */
static void small_m(bool bf16, int64_t m, int64_t n, int64_t k, const float *a, int64_t rsa,
                    int64_t csa, const char *b, int64_t rsb, int64_t csb, float *c,
                    int64_t rsc, int64_t csc, int nthreads)
{
    if (bf16)
        na__gemm_small_bf16(m, n, k, a, rsa, csa, (const na_bf16 *)(const void *)b, rsb, csb,
                            c, rsc, csc, nthreads);
    else
        na__gemm_small_f32(m, n, k, a, rsa, csa, (const float *)(const void *)b, rsb, csb, c,
                           rsc, csc, nthreads);
}

static void run_one(const job *j, int64_t p, int nthreads)
{
    int64_t oa = 0, ob = 0, rest = p;
    for (int i = j->batch->n - 1; i >= 0; i--) {
        int64_t q = rest % j->batch->size[i];
        rest /= j->batch->size[i];
        oa += q * j->a->bstride[i];
        ob += q * j->b->bstride[i];
    }
    const char *pa = j->a->base + oa * (int64_t)na_dtype_size(j->da);
    const char *pb = j->b->base + ob * (int64_t)na_dtype_size(j->db);
    char *pc = j->c + p * j->m * j->n * (int64_t)j->es;
    bool f32 = j->dtype == NA_F32;
    if (j->db == NA_BF16 && j->m == 1) /* c^T (n) = B^T (n x k) a^T (k) */
        na__gemv_bf16(j->n, j->k, 1.0f, (const na_bf16 *)pb, j->b->cs, j->b->rs,
                      (const float *)pa, j->a->cs, 0.0f, (float *)pc, 1, nthreads);
    else if (j->da == NA_BF16 && j->n == 1) /* c (m) = A (m x k) b (k) */
        na__gemv_bf16(j->m, j->k, 1.0f, (const na_bf16 *)pa, j->a->rs, j->a->cs,
                      (const float *)pb, j->b->rs, 0.0f, (float *)pc, 1, nthreads);
    else if (j->db == NA_BF16 || (f32 && j->m > 1 && j->m <= NA__GEMM_SMALL_M))
        small_m(j->db == NA_BF16, j->m, j->n, j->k, (const float *)pa, j->a->rs, j->a->cs,
                pb, j->b->rs, j->b->cs, (float *)pc, j->n, 1, nthreads);
    else if (j->da == NA_BF16 || (f32 && j->n > 1 && j->n <= NA__GEMM_SMALL_M))
        /* c^T (n x m) = B^T (n x k) A^T (k x m) */
        small_m(j->da == NA_BF16, j->n, j->m, j->k, (const float *)pb, j->b->cs, j->b->rs,
                pa, j->a->cs, j->a->rs, (float *)pc, 1, j->n, nthreads);
    else if (j->dtype == NA_F32)
        na__sgemm(j->m, j->n, j->k, 1.0f, (const float *)pa, j->a->rs, j->a->cs,
                  (const float *)pb, j->b->rs, j->b->cs, 0.0f, (float *)pc, j->n,
                  1, nthreads);
    else
        na__dgemm(j->m, j->n, j->k, 1.0, (const double *)pa, j->a->rs, j->a->cs,
                  (const double *)pb, j->b->rs, j->b->cs, 0.0, (double *)pc,
                  j->n, 1, nthreads);
}

/* Many small products run side by side, one BLIS thread each; otherwise
 * one product at a time with every thread in BLIS. */
static bool parallel_over_batch(int threads, int64_t nb, int64_t m, int64_t n,
                                int64_t k)
{
    if (threads < 2 || nb < 2 || omp_in_parallel())
        return false;
    double flops = 2.0 * (double)m * (double)n * (double)k;
    if (flops < NA__SMALL_PRODUCT_FLOPS)
        return true;
    if (nb < threads)
        return false;
    /* big products: only when the batch splits evenly (>= 90% busy) */
    int64_t rounds = (nb + threads - 1) / threads;
    return (double)nb >= 0.9 * (double)(rounds * threads);
}

static void run_all(const job *j, int64_t nb)
{
    int threads = na__threads();
    if (parallel_over_batch(threads, nb, j->m, j->n, j->k)) {
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
        for (int64_t p = 0; p < nb; p++)
            run_one(j, p, 1);
    } else {
        for (int64_t p = 0; p < nb; p++)
            run_one(j, p, threads);
    }
}

/* ---- na_contract --------------------------------------------------------- */

/* Decide the K order and which operands to pack. */
static void plan_layout(const axes *M, const axes *N, const axes *K,
                        int64_t nb, int *korder, bool *pack_a, bool *pack_b)
{
    int ka[NA_MAX_DIMS], kb[NA_MAX_DIMS];
    int64_t s;
    order_by_stride(K, K->sa, ka);
    order_by_stride(K, K->sb, kb);
    bool m_ok = fold(M, M->sa, NULL, &s), n_ok = fold(N, N->sb, NULL, &s);
    bool a_in_ka = fold(K, K->sa, ka, &s), b_in_ka = fold(K, K->sb, ka, &s);
    bool a_in_kb = fold(K, K->sa, kb, &s), b_in_kb = fold(K, K->sb, kb, &s);
    const int *use = ka;
    if (!m_ok && n_ok) {
        use = kb;
        *pack_a = true;
        *pack_b = !b_in_kb;
    } else if (m_ok && !n_ok) {
        *pack_a = !a_in_ka;
        *pack_b = true;
    } else if (!m_ok && !n_ok) {
        *pack_a = *pack_b = true;
    } else if (a_in_ka && b_in_ka) {
        *pack_a = *pack_b = false;
    } else if (a_in_kb && b_in_kb) {
        use = kb;
        *pack_a = *pack_b = false;
    } else {
        /* no common order: pack the smaller operand if the other folds */
        double cost_a = (double)nb * (double)axes_count(M) * (double)axes_count(K);
        double cost_b = (double)nb * (double)axes_count(N) * (double)axes_count(K);
        if (a_in_ka && (cost_b <= cost_a || !b_in_kb)) {
            *pack_a = false;
            *pack_b = true;
        } else if (b_in_kb) {
            use = kb;
            *pack_a = true;
            *pack_b = false;
        } else {
            *pack_a = *pack_b = true;
        }
    }
    memcpy(korder, use, sizeof(int) * (size_t)K->n);
}

static na_status contract_checked(const na_array *a, const na_array *b,
                                  const char *isum[], int nsum, na_array **out);

/* The number of elements of x's own axes (those not in y). */
static int64_t own_count(const na_array *x, const na_array *y)
{
    int64_t n = 1;
    for (int d = 0; d < x->ndim; d++)
        if (na_axis_index(y, x->name[d]) < 0)
            n *= x->shape[d];
    return n;
}

/* Is the product a few rows (at most NA__GEMM_SMALL_M, no batch axis)
 * times a bf16 matrix? Then the matrix is read as bf16 by the GEMV and
 * small-M kernels: *keep_a or *keep_b says which operand stays bf16. */
static bool bf16_gemv(const na_array *a, const na_array *b, const char *isum[], int nsum,
                      bool *keep_a, bool *keep_b)
{
    *keep_a = *keep_b = false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] > 1 && na_axis_index(b, a->name[d]) >= 0 &&
            !in_list(isum, nsum, a->name[d]))
            return false; /* a batch axis */
    int64_t m = own_count(a, b), n = own_count(b, a);
    if (m <= NA__GEMM_SMALL_M && b->dtype == NA_BF16 && n >= m)
        *keep_b = true;
    else if (n <= NA__GEMM_SMALL_M && a->dtype == NA_BF16)
        *keep_a = true;
    return *keep_a || *keep_b;
}

/* Widen bf16 operands to f32 (all but a small product's matrix), contract,
 * round to bf16 if both were bf16. */
static na_status contract_bf16(const na_array *a, const na_array *b, const char *isum[],
                               int nsum, na_array **out)
{
    na_array *wa = NULL, *wb = NULL, *c = NULL;
    bool keep_a, keep_b;
    bf16_gemv(a, b, isum, nsum, &keep_a, &keep_b);
    na_status st = a->dtype == NA_BF16 && !keep_a ? na_astype(a, NA_F32, &wa)
                                                  : na_array_ref(a, &wa);
    if (st == NA_OK)
        st = b->dtype == NA_BF16 && !keep_b ? na_astype(b, NA_F32, &wb)
                                            : na_array_ref(b, &wb);
    if (st == NA_OK)
        st = contract_checked(wa, wb, isum, nsum, &c);
    if (st == NA_OK && a->dtype == NA_BF16 && b->dtype == NA_BF16) {
        na_array *r = NULL;
        st = na_astype(c, NA_BF16, &r);
        na_array_free(c);
        c = r;
    }
    na_array_free(wa);
    na_array_free(wb);
    if (st == NA_OK)
        *out = c;
    return st;
}

/* Operands already f32/bf16 (any mix) or both f64. */
static na_status contract_dtypes(const na_array *a, const na_array *b,
                                 const char *const *sum, na_array **out)
{
    const char *isum[NA_MAX_DIMS];
    int nsum = 0;
    na_status st = check_args(a, b, sum, isum, &nsum);
    if (st != NA_OK)
        return st;
    if (a->dtype == NA_BF16 || b->dtype == NA_BF16)
        return contract_bf16(a, b, isum, nsum, out);
    return contract_checked(a, b, isum, nsum, out);
}

static na_status contract_checked(const na_array *a, const na_array *b,
                                  const char *isum[], int nsum, na_array **out)
{
    na_status st = NA_OK;

    axes batch = {0}, M = {0}, N = {0}, K = {0};
    for (int d = 0; d < a->ndim; d++) {
        int e = na_axis_index(b, a->name[d]);
        if (e < 0)
            axes_push(&M, a->name[d], a->shape[d], a->stride[d], 0);
        else
            axes_push(in_list(isum, nsum, a->name[d]) ? &K : &batch, a->name[d],
                      a->shape[d], a->stride[d], b->stride[e]);
    }
    for (int e = 0; e < b->ndim; e++)
        if (na_axis_index(a, b->name[e]) < 0)
            axes_push(&N, b->name[e], b->shape[e], 0, b->stride[e]);

    int ndim = batch.n + M.n + N.n;
    if (ndim > NA_MAX_DIMS)
        return na__fail(NA_ERR_SHAPE,
                        "%s: the result would have %d axes (at most %d): a %s, b %s",
                        OP, ndim, NA_MAX_DIMS, na__shape(a), na__shape(b));
    na_dim dims[NA_MAX_DIMS];
    int nd = 0;
    const axes *groups[3] = {&batch, &M, &N};
    for (int g = 0; g < 3; g++)
        for (int i = 0; i < groups[g]->n; i++)
            dims[nd++] = (na_dim){groups[g]->name[i], groups[g]->size[i]};
    na_array *c = NULL;
    na_dtype dt = a->dtype == NA_F64 ? NA_F64 : NA_F32;
    if ((st = na__new(OP, dt, ndim, dims, &c)) != NA_OK)
        return st;

    int64_t nb = axes_count(&batch), m = axes_count(&M), n = axes_count(&N),
            k = axes_count(&K);
    size_t es = na_dtype_size(dt);
    if (nb == 0 || m == 0 || n == 0) {
        *out = c;
        return NA_OK;
    }
    if (k == 0) {
        memset(na_data(c), 0, (size_t)(nb * m * n) * es);
        *out = c;
        return NA_OK;
    }

    int korder[NA_MAX_DIMS];
    bool pack_a = false, pack_b = false;
    plan_layout(&M, &N, &K, nb, korder, &pack_a, &pack_b);

    operand oa = {.base = na_data(a)}, ob = {.base = na_data(b)};
    if (!pack_a) {
        fold(&M, M.sa, NULL, &oa.rs);
        fold(&K, K.sa, korder, &oa.cs);
        memcpy(oa.bstride, batch.sa, sizeof batch.sa);
        pack_a = !na__blis_matrix_ok(m, k, oa.rs, oa.cs);
    }
    if (!pack_b) {
        fold(&K, K.sb, korder, &ob.rs);
        fold(&N, N.sb, NULL, &ob.cs);
        memcpy(ob.bstride, batch.sb, sizeof batch.sb);
        pack_b = !na__blis_matrix_ok(k, n, ob.rs, ob.cs);
    }
    if (pack_a)
        st = pack(a, na_dtype_size(a->dtype), &batch, batch.sa, &M, M.sa, NULL, &K, K.sa, korder, &oa);
    if (st == NA_OK && pack_b)
        st = pack(b, na_dtype_size(b->dtype), &batch, batch.sb, &K, K.sb, korder, &N, N.sb, NULL, &ob);
    if (st == NA_OK) {
        job j = {.dtype = dt, .da = a->dtype, .db = b->dtype, .es = es,
                 .batch = &batch, .a = &oa,
                 .b = &ob, .c = na_data(c), .m = m, .n = n, .k = k};
        run_all(&j, nb);
    }
    na__mem_free(oa.temp, oa.temp_bytes);
    na__mem_free(ob.temp, ob.temp_bytes);
    if (st != NA_OK) {
        na_array_free(c);
        return st;
    }
    *out = c;
    return NA_OK;
}

/* Promote a and b to their common dtype (JAX's lattice, runtime.h), which
 * must be a float, then contract (f32 with bf16 needs no conversion: the
 * bf16 side is widened, or read as bf16 by a GEMV, in contract_dtypes). */
na_status na_contract(const na_array *a, const na_array *b,
                      const char *const *sum, na_array **out)
{
    if (!a || !b || !out)
        return na__fail(NA_ERR_ARGUMENT, "%s: a, b and out must not be NULL", OP);
    na_dtype t;
    na_status st = na__promote_checked(OP, a, b, &t);
    bool single = (a->dtype == NA_F32 || a->dtype == NA_BF16) &&
                  (b->dtype == NA_F32 || b->dtype == NA_BF16);
    if (st != NA_OK || single || (a->dtype == NA_F64 && b->dtype == NA_F64))
        return st != NA_OK ? st : contract_dtypes(a, b, sum, out);
    if (t != NA_F32 && t != NA_F64 && t != NA_BF16)
        return na__fail(NA_ERR_DTYPE,
                        "%s: operands must promote to a float dtype: a %s, b %s",
                        OP, na__shape(a), na__shape(b));
    na_array *ca = NULL, *cb = NULL;
    st = a->dtype == t ? na_array_ref(a, &ca) : na_astype(a, t, &ca);
    if (st == NA_OK)
        st = b->dtype == t ? na_array_ref(b, &cb) : na_astype(b, t, &cb);
    if (st == NA_OK)
        st = contract_dtypes(ca, cb, sum, out);
    na_array_free(ca);
    na_array_free(cb);
    return st;
}
