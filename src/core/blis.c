/* The BLIS adapter: kernel selection and the product wrappers.
 *
 * Debian's BLIS 0.9.0 has no Zen 4/5 configuration and picks its generic
 * reference kernels on those CPUs (about 35 GFLOP/s per core, against
 * about 190 with the skx kernels, which run correctly there). BLIS is
 * linked statically, so its global kernel structure (gks) holds a context
 * for every x86-64 configuration it was built with; when BLIS fell back to
 * generic, we look the CPU's features up ourselves and hand the matching
 * context to BLIS's expert API (bli_?gemm_ex, bli_?gemv_ex) on every call.
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

/* ---- kernel selection -------------------------------------------------- */

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static cntx_t *g_cntx;
static na__blis_choice g_choice;
static char g_reason[256];
static char g_kernel[128];

static bool cpu_has_avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}

static bool cpu_has_avx2_fma(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* The native context of a configuration, or NULL if BLIS lacks it. */
static cntx_t *native_cntx(arch_t id)
{
    cntx_t **set = bli_gks_lookup_id(id);
    return set ? set[BLIS_NAT] : NULL;
}

static cntx_t *config_cntx(const char *config)
{
    na__blis(); /* BLIS initialised */
    if (strcmp(config, "skx") == 0)
        return cpu_has_avx512() ? native_cntx(BLIS_ARCH_SKX) : NULL;
    if (strcmp(config, "haswell") == 0)
        return cpu_has_avx2_fma() ? native_cntx(BLIS_ARCH_HASWELL) : NULL;
    return NULL;
}

bool na__sgemm_config(const char *config, int64_t m, int64_t n, int64_t k, float alpha,
                      const float *a, int64_t rsa, int64_t csa, const float *b,
                      int64_t rsb, int64_t csb, float beta, float *c, int64_t rsc,
                      int64_t csc)
{
    cntx_t *cntx = config_cntx(config);
    if (!cntx)
        return false;
    bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &alpha, (float *)a, rsa,
                 csa, (float *)b, rsb, csb, &beta, c, rsc, csc, cntx, NULL);
    return true;
}

/* BLIS's name for the sgemm microkernel of `cntx`. */
static void name_kernel(cntx_t *cntx, arch_t id)
{
    void_fp ukr = bli_cntx_get_l3_nat_ukr_dt(BLIS_FLOAT, BLIS_GEMM_UKR, cntx);
    static const struct {
        void_fp fp;
        const char *name;
    } known[] = {
        {(void_fp)bli_sgemm_skx_asm_32x12_l2, "bli_sgemm_skx_asm_32x12_l2"},
        {(void_fp)bli_sgemm_haswell_asm_6x16, "bli_sgemm_haswell_asm_6x16"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (ukr == known[i].fp) {
            snprintf(g_kernel, sizeof g_kernel, "%s", known[i].name);
            return;
        }
    }
    long mr = (long)bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_MR, cntx);
    long nr = (long)bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_NR, cntx);
    bool ref = bli_gks_cntx_l3_nat_ukr_is_ref(BLIS_FLOAT, BLIS_GEMM_UKR, cntx);
    snprintf(g_kernel, sizeof g_kernel, "bli_sgemm_%s_%s (%ldx%ld)",
             bli_arch_string(id), ref ? "ref" : "optimized", mr, nr);
}

static void select_kernels(void)
{
    bli_init();
    arch_t detected = bli_arch_query_id();
    arch_t use = detected;
    cntx_t *cntx = NULL;

    if (detected != BLIS_ARCH_GENERIC) {
        cntx = bli_gks_query_cntx();
        snprintf(g_reason, sizeof g_reason,
                 "BLIS recognised this CPU as %s; using its own choice",
                 bli_arch_string(detected));
    } else if (cpu_has_avx512() && (cntx = native_cntx(BLIS_ARCH_SKX))) {
        use = BLIS_ARCH_SKX;
        snprintf(g_reason, sizeof g_reason,
                 "BLIS %s chose generic for this CPU; it has AVX-512 F/DQ/BW/VL, "
                 "so namedarr uses the skx kernels",
                 bli_info_get_version_str());
    } else if (cpu_has_avx2_fma() && (cntx = native_cntx(BLIS_ARCH_HASWELL))) {
        use = BLIS_ARCH_HASWELL;
        snprintf(g_reason, sizeof g_reason,
                 "BLIS %s chose generic for this CPU; it has AVX2 and FMA, "
                 "so namedarr uses the haswell kernels",
                 bli_info_get_version_str());
    } else {
        cntx = bli_gks_query_cntx();
        snprintf(g_reason, sizeof g_reason,
                 "no AVX-512 or AVX2+FMA kernels apply; using BLIS's generic kernels");
    }
    g_cntx = cntx;
    name_kernel(cntx, use);
    g_choice = (na__blis_choice){
        .version = bli_info_get_version_str(),
        .detected = bli_arch_string(detected),
        .config = bli_arch_string(use),
        .gemm_kernel = g_kernel,
        .reason = g_reason,
    };
}

const na__blis_choice *na__blis(void)
{
    pthread_once(&g_once, select_kernels);
    return &g_choice;
}

void *na__blis_cntx(void)
{
    pthread_once(&g_once, select_kernels);
    return g_cntx;
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
