/* The BLIS adapter, part two: the product wrappers. Every call hands the
 * context chosen in blis_select.c to BLIS's expert API (bli_?gemm_ex,
 * bli_?gemv_ex).
 *
 * Threads: each call builds its own rntm_t with an explicit thread count
 * (BLIS's global setting is never touched). */
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blis_include.h"

#include "blis_adapter.h"

bool na__sgemm_config(const char *config, int64_t m, int64_t n, int64_t k, float alpha,
                      const float *a, int64_t rsa, int64_t csa, const float *b,
                      int64_t rsb, int64_t csb, float beta, float *c, int64_t rsc,
                      int64_t csc)
{
    cntx_t *cntx = na__blis_config_cntx(config);
    if (!cntx)
        return false;
    rntm_t r;
    bli_rntm_init(&r);
    bli_rntm_set_num_threads(1, &r);
    bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &alpha, (float *)a, rsa,
                 csa, (float *)b, rsb, csb, &beta, c, rsc, csc, cntx, &r);
    return true;
}

int na__blis_threads(int requested)
{
    if (requested < 1 || omp_in_parallel())
        return 1;
    return requested;
}

/* ---- layout checks ------------------------------------------------------ */

static int64_t iabs64(int64_t v) { return v < 0 ? -v : v; }

/* Give size-1 dims a stride consistent with the other dim, as BLIS wants. */
static void normalize(int64_t rows, int64_t cols, int64_t *rs, int64_t *cs)
{
    if (rows == 1 && cols == 1) {
        *rs = *cs = 1;
    } else if (rows == 1) {
        *rs = (*cs ? iabs64(*cs) : 1) * cols;
    } else if (cols == 1) {
        *cs = (*rs ? iabs64(*rs) : 1) * rows;
    }
}

bool na__blis_matrix_ok(int64_t rows, int64_t cols, int64_t rs, int64_t cs)
{
    if (rows <= 0 || cols <= 0)
        return true;
    normalize(rows, cols, &rs, &cs);
    if (rs <= 0 || cs <= 0)
        return false;
    if (rs == cs)
        return rows == 1 || cols == 1;
    if (rs == 1 || cs == 1)
        return true;
    /* general stride: the dims must not interleave */
    return cs > rs ? cs >= rs * rows : rs >= cs * cols;
}

static bool vector_ok(int64_t len, int64_t inc) { return len <= 1 || inc > 0; }

static rntm_t rntm_with(int nthreads)
{
    rntm_t r;
    bli_rntm_init(&r);
    bli_rntm_set_num_threads(na__blis_threads(nthreads), &r);
    return r;
}

/* BLIS's threads pay off from about 2 x 180^3 flops per product here (1
 * thread: 158 GFLOP/s at 160^3, 2 threads: 137; at 192^3, 177 vs 192):
 * give a product one thread per this many flops, up to the cap. */
#define NA__FLOPS_PER_THREAD 1.2e7

static int gemm_threads(int64_t m, int64_t n, int64_t k, int cap)
{
    double flops = 2.0 * (double)m * (double)n * (double)k;
    double want = 1.0 + flops / NA__FLOPS_PER_THREAD;
    return want < (double)cap ? (int)want : cap;
}

/* Big GEMVs split the rows of y over threads (BLIS's level 2 is serial). */
#define NA__GEMV_SPLIT_MIN ((int64_t)1 << 16)

/* ---- typed wrappers ----------------------------------------------------- */

#define NA__DEFINE_BLIS(ch, T)                                                \
    void na__##ch##gemm_ref(int64_t m, int64_t n, int64_t k, T alpha,         \
                            const T *a, int64_t rsa, int64_t csa, const T *b, \
                            int64_t rsb, int64_t csb, T beta, T *c,           \
                            int64_t rsc, int64_t csc)                         \
    {                                                                         \
        for (int64_t i = 0; i < m; i++)                                       \
            for (int64_t j = 0; j < n; j++) {                                 \
                double acc = 0;                                               \
                for (int64_t p = 0; p < k; p++)                               \
                    acc += (double)a[i * rsa + p * csa] *                     \
                           (double)b[p * rsb + j * csb];                      \
                T *cij = &c[i * rsc + j * csc];                               \
                *cij = (T)(alpha * acc) + (beta == 0 ? (T)0 : beta * *cij);   \
            }                                                                 \
    }                                                                         \
                                                                              \
    static void ch##scale(int64_t m, int64_t n, T beta, T *c, int64_t rsc,    \
                          int64_t csc)                                        \
    {                                                                         \
        for (int64_t i = 0; i < m; i++)                                       \
            for (int64_t j = 0; j < n; j++)                                   \
                c[i * rsc + j * csc] =                                        \
                    beta == 0 ? (T)0 : beta * c[i * rsc + j * csc];           \
    }                                                                         \
                                                                              \
    static void ch##gemv_blis(int64_t m, int64_t n, T alpha, const T *a,      \
                              int64_t rsa, int64_t csa, const T *x,           \
                              int64_t incx, T beta, T *y, int64_t incy)       \
    {                                                                         \
        rntm_t r = rntm_with(1);                                              \
        bli_##ch##gemv_ex(BLIS_NO_TRANSPOSE, BLIS_NO_CONJUGATE, m, n, &alpha, \
                          (T *)a, rsa, csa, (T *)x, incx, &beta, y, incy,     \
                          na__blis_cntx(), &r);                               \
    }                                                                         \
                                                                              \
    void na__##ch##gemv(int64_t m, int64_t n, T alpha, const T *a,            \
                        int64_t rsa, int64_t csa, const T *x, int64_t incx,   \
                        T beta, T *y, int64_t incy, int nthreads)             \
    {                                                                         \
        if (m <= 0)                                                           \
            return;                                                           \
        if (n <= 0) {                                                         \
            ch##scale(m, 1, beta, y, incy, 1);                                \
            return;                                                           \
        }                                                                     \
        normalize(m, n, &rsa, &csa);                                          \
        if (n == 1)                                                           \
            incx = 1;                                                         \
        if (m == 1)                                                           \
            incy = 1;                                                         \
        if (!na__blis_matrix_ok(m, n, rsa, csa) || !vector_ok(n, incx) ||     \
            !vector_ok(m, incy)) {                                            \
            na__##ch##gemm_ref(m, 1, n, alpha, a, rsa, csa, x, incx, 1, beta, \
                               y, incy, 1);                                   \
            return;                                                           \
        }                                                                     \
        int nt = na__blis_threads(nthreads);                                  \
        if (nt > 1 && m >= 64 * nt && m * n >= NA__GEMV_SPLIT_MIN) {          \
            _Pragma("omp parallel num_threads(nt)")                           \
            {                                                                 \
                int64_t t = omp_get_thread_num(), tn = omp_get_num_threads(); \
                int64_t per = (m + tn - 1) / tn;                              \
                per = (per + 15) / 16 * 16;                                   \
                int64_t lo = t * per, hi = lo + per < m ? lo + per : m;       \
                if (lo < hi)                                                  \
                    ch##gemv_blis(hi - lo, n, alpha, a + lo * rsa, rsa, csa,  \
                                  x, incx, beta, y + lo * incy, incy);        \
            }                                                                 \
        } else {                                                              \
            ch##gemv_blis(m, n, alpha, a, rsa, csa, x, incx, beta, y, incy);  \
        }                                                                     \
    }                                                                         \
                                                                              \
    void na__##ch##gemm(int64_t m, int64_t n, int64_t k, T alpha, const T *a, \
                        int64_t rsa, int64_t csa, const T *b, int64_t rsb,    \
                        int64_t csb, T beta, T *c, int64_t rsc, int64_t csc,  \
                        int nthreads)                                         \
    {                                                                         \
        if (m <= 0 || n <= 0)                                                 \
            return;                                                           \
        if (k <= 0) {                                                         \
            ch##scale(m, n, beta, c, rsc, csc);                               \
            return;                                                           \
        }                                                                     \
        if (m == 1) { /* c^T (n) = B^T (n x k) a^T (k) */                     \
            na__##ch##gemv(n, k, alpha, b, csb, rsb, a, csa, beta, c, csc,    \
                           nthreads);                                         \
            return;                                                           \
        }                                                                     \
        if (n == 1) { /* c (m) = A (m x k) b (k) */                           \
            na__##ch##gemv(m, k, alpha, a, rsa, csa, b, rsb, beta, c, rsc,    \
                           nthreads);                                         \
            return;                                                           \
        }                                                                     \
        normalize(m, k, &rsa, &csa);                                          \
        normalize(k, n, &rsb, &csb);                                          \
        if (!na__blis_matrix_ok(m, k, rsa, csa) ||                            \
            !na__blis_matrix_ok(k, n, rsb, csb) ||                            \
            !na__blis_matrix_ok(m, n, rsc, csc)) {                            \
            na__##ch##gemm_ref(m, n, k, alpha, a, rsa, csa, b, rsb, csb,      \
                               beta, c, rsc, csc);                            \
            return;                                                           \
        }                                                                     \
        rntm_t r = rntm_with(gemm_threads(m, n, k, nthreads));                \
        bli_##ch##gemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k,      \
                          &alpha, (T *)a, rsa, csa, (T *)b, rsb, csb, &beta,  \
                          c, rsc, csc, na__blis_cntx(), &r);                  \
    }

NA__DEFINE_BLIS(s, float)
NA__DEFINE_BLIS(d, double)
