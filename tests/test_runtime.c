/* Runtime info (BLIS kernels in use), thread settings, and the BLIS
 * adapter's wrappers against its reference kernels. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "blis_adapter.h"
#include "cpu.h"
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

/* Every configuration the CPU can run is a candidate, whatever BLIS chose:
 * skx on AVX-512, generic always; the choice is one of them and follows
 * the rule (the preferred skx unless another is over 5% faster). */
Test(runtime, candidates_and_choice)
{
    na_runtime_info info;
    NA_OK_OR_FAIL(na_get_runtime_info(&info));
    cr_assert_not_null(info.cpu_features);
    bool avx512 = na__cpu_avx512(), has_skx = false, has_generic = false;
    int chosen = -1, skx = -1;
    cr_assert_geq(info.blis_candidate_count, 1);
    for (int i = 0; i < info.blis_candidate_count; i++) {
        const char *c = info.blis_candidates[i].config;
        cr_log_info("candidate %s (%s): %.1f GFLOP/s", c,
                    info.blis_candidates[i].gemm_kernel, info.blis_candidates[i].gflops);
        if (strcmp(c, "skx") == 0)
            has_skx = true, skx = i;
        has_generic |= strcmp(c, "generic") == 0;
        if (strcmp(c, info.blis_config) == 0)
            chosen = i;
        if (info.blis_candidate_count > 1)
            cr_assert_gt(info.blis_candidates[i].gflops, 0, "%s not measured", c);
    }
    cr_assert(has_generic, "the portable kernels are always a candidate");
    cr_assert_eq(has_skx, avx512, "skx is a candidate exactly on AVX-512 CPUs");
    cr_assert_geq(chosen, 0, "chosen %s is not a candidate", info.blis_config);
    if (skx >= 0 && chosen != skx)
        cr_assert_gt(info.blis_candidates[chosen].gflops,
                     1.05 * info.blis_candidates[skx].gflops,
                     "%s chosen over skx without being 5%% faster", info.blis_config);
    if (avx512)
        cr_assert(strstr(info.cpu_features, "avx512bw"), "%s", info.cpu_features);
}

Test(runtime, cpu_probe_agrees_with_the_compiler)
{
    __builtin_cpu_init();
    const na__cpu *c = na__cpu_get();
    /* the OS saves AVX state on every Linux this runs on */
    cr_assert_eq(c->avx2, (bool)__builtin_cpu_supports("avx2"));
    cr_assert_eq(c->fma, (bool)__builtin_cpu_supports("fma"));
    cr_assert_eq(c->avx512f, (bool)__builtin_cpu_supports("avx512f"));
    cr_assert_eq(c->avx512bw, (bool)__builtin_cpu_supports("avx512bw"));
    cr_assert_eq(c->avx512vl, (bool)__builtin_cpu_supports("avx512vl"));
    cr_assert_eq(na__cpu_avx512_bf16(), c->avx512_bf16 && na__cpu_avx512());
}

Test(runtime, forcing_an_unknown_config_is_an_error)
{
    NA_EXPECT_FAIL(na_set_blis_kernels("no-such-config"), NA_ERR_ARGUMENT,
                   "na_set_blis_kernels: 'no-such-config' is not a candidate on this CPU "
                   "(candidates: ");
    cr_assert(strstr(na_last_error(), "generic"), "%s", na_last_error());
    NA_OK_OR_FAIL(na_set_blis_kernels(NULL));
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

/* Every candidate's kernels (raw, and forced for na_contract) agree with
 * the reference on odd sizes: the fallbacks are right even on a machine
 * that has better ones. */
Test(runtime, every_candidate_matches_reference)
{
    int64_t m = 67, n = 45, k = 31;
    float *a = malloc(sizeof(float) * (size_t)(m * k));
    float *b = malloc(sizeof(float) * (size_t)(k * n));
    float *c = malloc(sizeof(float) * (size_t)(m * n));
    float *r = malloc(sizeof(float) * (size_t)(m * n));
    fill(a, m * k, 4);
    fill(b, k * n, 5);
    na__blis_candidate cand[8];
    int nc = na__blis_candidates(cand, 8);
    cr_assert(!na__sgemm_config("no-such-config", m, n, k, 1, a, k, 1, b, n, 1, 0, c, n, 1));
    na_array *x = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"m", m}, {"k", k}), a, &x));
    NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"k", k}, {"n", n}), b, &y));
    for (int i = 0; i < nc && i < 8; i++) {
        fill(c, m * n, 6);
        memcpy(r, c, sizeof(float) * (size_t)(m * n));
        cr_assert(na__sgemm_config(cand[i].config, m, n, k, 0.75f, a, k, 1, b, n, 1, 1.0f,
                                   c, n, 1), "%s", cand[i].config);
        na__sgemm_ref(m, n, k, 0.75f, a, k, 1, b, n, 1, 1.0f, r, n, 1);
        for (int64_t e = 0; e < m * n; e++)
            cr_assert(fabsf(c[e] - r[e]) <= 1e-5f * (float)(k + 1), "%s %lld: %g vs %g",
                      cand[i].config, (long long)e, (double)c[e], (double)r[e]);
        NA_OK_OR_FAIL(na_set_blis_kernels(cand[i].config));
        na_runtime_info info;
        NA_OK_OR_FAIL(na_get_runtime_info(&info));
        cr_assert_str_eq(info.blis_config, cand[i].config);
        na_array *z = NULL;
        NA_OK_OR_FAIL(na_contract(x, y, NA_NAMES("k"), &z));
        na__sgemm_ref(m, n, k, 1.0f, a, k, 1, b, n, 1, 0.0f, r, n, 1);
        const float *zp = na_data(z);
        for (int64_t e = 0; e < m * n; e++)
            cr_assert(fabsf(zp[e] - r[e]) <= 1e-5f * (float)(k + 1), "%s contract %lld",
                      cand[i].config, (long long)e);
        na_array_free(z);
    }
    NA_OK_OR_FAIL(na_set_blis_kernels("auto"));
    na_array_free(x), na_array_free(y);
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
