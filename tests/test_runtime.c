/* Runtime info (BLIS kernels in use), thread settings, and the BLIS
 * adapter's wrappers against its reference kernels. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "blis_adapter.h"
#include "internal.h"
#include "support.h"

Test(runtime, info_strings_are_filled)
{
    na_runtime_info info;
    memset(&info, 0, sizeof info);
    NA_OK_OR_FAIL(na_get_runtime_info(&info));
    const char *strs[] = {info.blis_version, info.blis_detected, info.blis_config,
                          info.gemm_kernel, info.reason};
    for (int i = 0; i < 5; i++) {
        cr_assert_not_null(strs[i]);
        cr_assert_gt(strlen(strs[i]), 0, "runtime string %d is empty", i);
    }
    cr_assert_str_eq(info.blis_version, "0.9.0");
    cr_assert_geq(info.num_threads, 1);
    cr_assert_geq(info.num_cores, 1);
    cr_log_info("BLIS %s: detected %s, using %s (%s): %s", info.blis_version,
                info.blis_detected, info.blis_config, info.gemm_kernel, info.reason);
}

Test(runtime, skx_kernels_on_avx512)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512dq") ||
        !__builtin_cpu_supports("avx512bw") || !__builtin_cpu_supports("avx512vl"))
        cr_skip_test("no AVX-512 on this machine");
    na_runtime_info info;
    NA_OK_OR_FAIL(na_get_runtime_info(&info));
    if (strcmp(info.blis_detected, "generic") != 0)
        cr_skip_test("BLIS chose %s itself", info.blis_detected);
    cr_assert_str_eq(info.blis_config, "skx");
    cr_assert(strstr(info.gemm_kernel, "skx"), "kernel %s", info.gemm_kernel);
    cr_assert(strstr(info.reason, "AVX-512"), "reason %s", info.reason);
}

Test(runtime, null_info_is_an_error)
{
    NA_EXPECT_FAIL(na_get_runtime_info(NULL), NA_ERR_ARGUMENT,
                   "na_get_runtime_info");
}

Test(runtime, thread_count_setting)
{
    na_runtime_info info;
    na_set_num_threads(1);
    cr_assert_eq(na_get_num_threads(), 1);
    NA_OK_OR_FAIL(na_get_runtime_info(&info));
    cr_assert_eq(info.num_threads, 1);
    na_set_num_threads(3);
    cr_assert_eq(na_get_num_threads(), 3);
    na_set_num_threads(0);
    NA_OK_OR_FAIL(na_get_runtime_info(&info));
    cr_assert_eq(info.num_threads, info.num_cores);
}

Test(runtime, no_blis_threads_inside_a_parallel_region)
{
    cr_assert_eq(na__blis_threads(4), 4);
    cr_assert_eq(na__blis_threads(0), 1);
    int inside = 0;
#pragma omp parallel num_threads(2)
    {
#pragma omp single
        inside = na__blis_threads(4);
    }
    cr_assert_eq(inside, 1);
}

Test(runtime, matrix_layout_checks)
{
    cr_assert(na__blis_matrix_ok(4, 5, 5, 1));    /* row-major        */
    cr_assert(na__blis_matrix_ok(4, 5, 1, 4));    /* column-major     */
    cr_assert(na__blis_matrix_ok(4, 5, 12, 2));   /* general, ok      */
    cr_assert(na__blis_matrix_ok(1, 5, 0, 3));    /* size-1 dim free  */
    cr_assert_not(na__blis_matrix_ok(4, 5, 0, 1)); /* broadcast rows  */
    cr_assert_not(na__blis_matrix_ok(4, 5, -5, 1));
    cr_assert_not(na__blis_matrix_ok(4, 5, 3, 2)); /* interleaved     */
    cr_assert_not(na__blis_matrix_ok(4, 5, 1, 1));
}

static void fill(float *p, int64_t n, unsigned seed)
{
    srand(seed);
    for (int64_t i = 0; i < n; i++)
        p[i] = (float)rand() / (float)RAND_MAX - 0.5f;
}

/* The wrappers (GEMM, GEMV routes, refused layouts, k = 0, beta) agree with
 * the reference kernel. */
Test(runtime, sgemm_wrapper_matches_reference)
{
    static const int64_t shapes[][3] = {{1, 1, 1}, {1, 40, 33}, {40, 1, 33},
                                        {7, 9, 0},  {65, 33, 17}, {300, 260, 40}};
    float *a = malloc(sizeof(float) * 300 * 80 * 2);
    float *b = malloc(sizeof(float) * 80 * 300 * 2);
    float *c = malloc(sizeof(float) * 300 * 300 * 2);
    float *r = malloc(sizeof(float) * 300 * 300 * 2);
    fill(a, 300 * 80 * 2, 1);
    fill(b, 80 * 300 * 2, 2);
    for (int s = 0; s < 6; s++) {
        int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        for (int layout = 0; layout < 3; layout++) {
            /* 0: row-major, 1: A column-major and B general, 2: B broadcast */
            int64_t rsa = k, csa = 1, rsb = n, csb = 1;
            if (layout == 1) {
                rsa = 1, csa = m;
                rsb = 2 * n, csb = 2;
            } else if (layout == 2) {
                rsb = 0;
            }
            for (int beta_one = 0; beta_one < 2; beta_one++) {
                fill(c, m * n, 3);
                memcpy(r, c, sizeof(float) * (size_t)(m * n));
                float beta = beta_one ? 1.0f : 0.0f;
                na__sgemm(m, n, k, 0.5f, a, rsa, csa, b, rsb, csb, beta, c, n, 1, 2);
                na__sgemm_ref(m, n, k, 0.5f, a, rsa, csa, b, rsb, csb, beta, r, n, 1);
                for (int64_t i = 0; i < m * n; i++)
                    cr_assert(fabsf(c[i] - r[i]) <= 1e-5f * (float)(k + 1),
                              "shape %d layout %d beta %g: %g vs %g", s, layout,
                              (double)beta, (double)c[i], (double)r[i]);
            }
        }
    }
    free(a);
    free(b);
    free(c);
    free(r);
}

/* On a CPU without AVX-512 namedarr falls back to BLIS's haswell kernels:
 * check they compute the right thing (this CPU runs both). */
Test(runtime, fallback_haswell_kernels_match_reference)
{
    int64_t m = 67, n = 45, k = 31;
    float *a = malloc(sizeof(float) * (size_t)(m * k));
    float *b = malloc(sizeof(float) * (size_t)(k * n));
    float *c = malloc(sizeof(float) * (size_t)(m * n));
    float *r = malloc(sizeof(float) * (size_t)(m * n));
    fill(a, m * k, 4);
    fill(b, k * n, 5);
    fill(c, m * n, 6);
    memcpy(r, c, sizeof(float) * (size_t)(m * n));
    float alpha = 0.75f, beta = 1.0f;
    cr_assert(na__sgemm_config("haswell", m, n, k, alpha, a, k, 1, b, n, 1, beta, c, n, 1),
              "this machine has AVX2+FMA");
    cr_assert(!na__sgemm_config("no-such-config", m, n, k, alpha, a, k, 1, b, n, 1, beta,
                                c, n, 1));
    na__sgemm_ref(m, n, k, alpha, a, k, 1, b, n, 1, beta, r, n, 1);
    for (int64_t i = 0; i < m * n; i++)
        cr_assert(fabsf(c[i] - r[i]) <= 1e-5f * (float)(k + 1), "%lld: %g vs %g",
                  (long long)i, (double)c[i], (double)r[i]);
    free(a), free(b), free(c), free(r);
}

Test(runtime, dgemv_split_over_threads_matches_reference)
{
    int64_t m = 1000, n = 130;
    double *a = malloc(sizeof(double) * (size_t)(m * n));
    double *x = malloc(sizeof(double) * (size_t)n);
    double *y = malloc(sizeof(double) * (size_t)m);
    double *r = malloc(sizeof(double) * (size_t)m);
    for (int64_t i = 0; i < m * n; i++)
        a[i] = sin((double)i);
    for (int64_t i = 0; i < n; i++)
        x[i] = cos((double)i);
    for (int64_t i = 0; i < m; i++)
        y[i] = r[i] = (double)i;
    na__dgemv(m, n, 1.0, a, n, 1, x, 1, 2.0, y, 1, 2);
    na__dgemm_ref(m, 1, n, 1.0, a, n, 1, x, 1, 1, 2.0, r, 1, 1);
    for (int64_t i = 0; i < m; i++)
        cr_assert(fabs(y[i] - r[i]) < 1e-10, "row %lld", (long long)i);
    free(a);
    free(x);
    free(y);
    free(r);
}
