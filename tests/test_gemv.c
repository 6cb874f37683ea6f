/* The matrix-vector kernels for decode (src/core/gemv.c): every kernel set
 * this CPU can run, f32 and bf16 matrices, row-major, column-major and
 * general strides, strided x and y, alpha/beta, odd sizes, one and two
 * threads, against a plain double-precision reference; and na_contract
 * routing a vector times a bf16 matrix through them. */
#include <math.h>
#include <stdlib.h>

#include "gemv.h"
#include "support.h"

static float rnd(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return (float)((*s >> 11) % 2001) / 1000.0f - 1.0f;
}

static void check_case(bool bf16, int64_t m, int64_t n, int layout, int threads)
{
    int64_t rsa = n, csa = 1; /* 0: rows contiguous */
    if (layout == 1)
        rsa = 1, csa = m; /* columns contiguous */
    else if (layout == 2)
        rsa = 3 * n + 1, csa = 3; /* general strides */
    int64_t span = (m - 1) * rsa + (n - 1) * csa + 1, incx = 2, incy = 3;
    float *af = malloc(sizeof(float) * (size_t)span);
    na_bf16 *ab = malloc(sizeof(na_bf16) * (size_t)span);
    float *x = malloc(sizeof(float) * (size_t)(n * incx));
    float *y = malloc(sizeof(float) * (size_t)(m * incy));
    double *want = malloc(sizeof(double) * (size_t)m);
    double *mag = malloc(sizeof(double) * (size_t)m);
    uint64_t s = (uint64_t)(m * 1000 + n) * 7919 + 1;
    for (int64_t i = 0; i < span; i++) {
        ab[i] = na_bf16_from_f32(rnd(&s));
        af[i] = bf16 ? na_bf16_to_f32(ab[i]) : rnd(&s);
    }
    for (int64_t j = 0; j < n * incx; j++)
        x[j] = rnd(&s);
    for (int beta_on = 0; beta_on < 2; beta_on++) {
        float alpha = 0.75f, beta = beta_on ? 0.5f : 0.0f;
        for (int64_t i = 0; i < m; i++) {
            y[i * incy] = beta_on ? (float)i : NAN; /* beta 0 never reads y */
            double acc = 0, sa = 0;
            for (int64_t j = 0; j < n; j++) {
                double p = (double)af[i * rsa + j * csa] * x[j * incx];
                acc += p, sa += fabs(p);
            }
            want[i] = alpha * acc + (beta_on ? beta * (double)i : 0);
            mag[i] = sa + (beta_on ? beta * (double)i : 0);
        }
        if (bf16)
            na__gemv_bf16(m, n, alpha, ab, rsa, csa, x, incx, beta, y, incy, threads);
        else
            na__gemv_f32(m, n, alpha, af, rsa, csa, x, incx, beta, y, incy, threads);
        for (int64_t i = 0; i < m; i++) {
            double tol = mag[i] * (3e-5 + 2e-7 * (double)n) + 1e-6;
            cr_assert(fabs(y[i * incy] - want[i]) <= tol,
                      "%s %s m%lld n%lld layout %d t%d beta %g row %lld: %g vs %g",
                      na__gemv_kernels(), bf16 ? "bf16" : "f32", (long long)m,
                      (long long)n, layout, threads, (double)beta, (long long)i,
                      (double)y[i * incy], want[i]);
        }
    }
    free(af), free(ab), free(x), free(y), free(want), free(mag);
}

Test(gemv, every_kernel_set_matches_reference)
{
    static const int64_t sizes[][2] = {{1, 1}, {3, 5}, {17, 33}, {67, 129}, {300, 257},
                                       {1, 4099}, {257, 1}};
    const char *sets[] = {"portable", "avx512", "avx512_bf16"};
    int ran = 0;
    for (int k = 0; k < 3; k++) {
        if (!na__gemv_force(sets[k]))
            continue;
        ran++;
        cr_assert_str_eq(na__gemv_kernels(), sets[k]);
        for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++)
            for (int layout = 0; layout < 3; layout++)
                for (int bf16 = 0; bf16 < 2; bf16++)
                    for (int t = 1; t <= 2; t++)
                        check_case(bf16, sizes[c][0], sizes[c][1], layout, t);
    }
    cr_assert_geq(ran, 1, "the portable set always runs");
    cr_assert_not(na__gemv_force("no-such-set"));
    cr_assert(na__gemv_force(NULL));
}

/* na_contract: a vector times a bf16 matrix (both weight layouts, a
 * strided view) reads bf16 directly and equals the widened product. */
Test(gemv, contract_vector_times_bf16_matrix)
{
    na_array *x = ts_random(NA_F32, NA_DIMS({"in", 257}), 1);
    na_array *wf = ts_random(NA_F32, NA_DIMS({"in", 257}, {"out", 301}), 2);
    na_array *w = NULL, *ws = NULL, *wt = NULL, *y = NULL, *y2 = NULL, *y3 = NULL,
             *ref = NULL, *ww = NULL;
    NA_OK_OR_FAIL(na_astype(wf, NA_BF16, &w));
    ws = ts_strided_copy(w);
    wt = ts_permuted(ws, (int[]){1, 0});
    NA_OK_OR_FAIL(na_astype(w, NA_F32, &ww));
    NA_OK_OR_FAIL(na_contract(x, ww, NA_NAMES("in"), &ref));
    for (int t = 1; t <= 2; t++) {
        na_set_num_threads(t);
        NA_OK_OR_FAIL(na_contract(x, w, NA_NAMES("in"), &y));
        NA_OK_OR_FAIL(na_contract(ws, x, NA_NAMES("in"), &y2));
        NA_OK_OR_FAIL(na_contract(x, wt, NA_NAMES("in"), &y3));
        ts_expect_shape(y, "f32[out:301]");
        cr_assert_lt(ts_max_abs_diff(y, ref), 1e-4);
        cr_assert_lt(ts_max_abs_diff(y2, ref), 1e-4);
        cr_assert_lt(ts_max_abs_diff(y3, ref), 1e-4);
        TS_FREE(y, y2, y3);
    }
    na_set_num_threads(0);
    TS_FREE(x, wf, w, ws, wt, ref, ww);
}

/* ---- small M: a few rows times a matrix, the matrix read once ------------------------ */

/* C (m x n) = A (m x k) B (k x n) with A strided (rows rsa = 2k + 1,
 * columns 2), B with its rows contiguous (layout 0), its columns (1), and C
 * transposed with a padded stride, against a plain double reference. */
static void check_small(bool bf16, int64_t m, int64_t n, int64_t k, int layout, int threads)
{
    int64_t rsa = 2 * k + 1, csa = 2;
    int64_t rsb = layout == 0 ? n + 3 : 1, csb = layout == 0 ? 1 : k + 5;
    int64_t rsc = 1, csc = m + 2; /* C^T, padded */
    int64_t aspan = (m - 1) * rsa + (k - 1) * csa + 1;
    int64_t bspan = (k - 1) * rsb + (n - 1) * csb + 1, cspan = (n - 1) * csc + m;
    float *a = malloc(sizeof(float) * (size_t)aspan), *bf = malloc(sizeof(float) * (size_t)bspan);
    na_bf16 *bb = malloc(sizeof(na_bf16) * (size_t)bspan);
    float *c = malloc(sizeof(float) * (size_t)cspan);
    uint64_t s = (uint64_t)(m * 7 + n * 131 + k) * 2654435761u + 3;
    for (int64_t i = 0; i < aspan; i++)
        a[i] = rnd(&s);
    for (int64_t i = 0; i < bspan; i++) {
        bb[i] = na_bf16_from_f32(rnd(&s));
        bf[i] = bf16 ? na_bf16_to_f32(bb[i]) : rnd(&s);
    }
    for (int64_t i = 0; i < cspan; i++)
        c[i] = NAN; /* every element of C is written */
    if (bf16)
        na__gemm_small_bf16(m, n, k, a, rsa, csa, bb, rsb, csb, c, rsc, csc, threads);
    else
        na__gemm_small_f32(m, n, k, a, rsa, csa, bf, rsb, csb, c, rsc, csc, threads);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double want = 0, mag = 0;
            for (int64_t p = 0; p < k; p++) {
                double t = (double)a[i * rsa + p * csa] * bf[p * rsb + j * csb];
                want += t, mag += fabs(t);
            }
            double got = c[i * rsc + j * csc];
            cr_assert(fabs(got - want) <= mag * (1e-6 + 2e-7 * (double)k) + 1e-6,
                      "%s %s m%lld n%lld k%lld layout %d t%d [%lld,%lld]: %g vs %g",
                      na__gemv_kernels(), bf16 ? "bf16" : "f32", (long long)m, (long long)n,
                      (long long)k, layout, threads, (long long)i, (long long)j, got, want);
        }
    free(a), free(bf), free(bb), free(c);
}

Test(gemv, small_m_every_kernel_set_matches_reference)
{
    static const int64_t sizes[][3] = {{2, 1, 1}, {3, 17, 5},  {4, 65, 33},  {5, 300, 129},
                                       {7, 259, 67}, {8, 33, 1000}, {2, 700, 300}};
    const char *sets[] = {"portable", "avx512", "avx512_bf16"};
    for (int ks = 0; ks < 3; ks++) {
        if (!na__gemv_force(sets[ks]))
            continue;
        for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++)
            for (int layout = 0; layout < 2; layout++)
                for (int bf16 = 0; bf16 < 2; bf16++)
                    for (int t = 1; t <= 2; t++)
                        check_small(bf16, sizes[c][0], sizes[c][1], sizes[c][2], layout, t);
    }
    na__gemv_force(NULL);
}

/* na_contract: 4 and 7 rows times a matrix (f32 and bf16, both weight
 * layouts, a strided view; the rows on either side) equal the product of
 * the widened matrix through BLIS's path for big products. */
Test(gemv, contract_few_rows_times_matrix)
{
    for (int rows = 4; rows <= 7; rows += 3) {
        na_array *x = ts_random(NA_F32, NA_DIMS({"batch", rows}, {"in", 257}), 1);
        na_array *wf = ts_random(NA_F32, NA_DIMS({"in", 257}, {"out", 301}), 2);
        na_array *w = NULL, *ws = NULL, *wt = NULL, *ww = NULL, *ref = NULL, *x64 = NULL,
                 *w64 = NULL, *r64 = NULL;
        NA_OK_OR_FAIL(na_astype(wf, NA_BF16, &w));
        ws = ts_strided_copy(w);
        wt = ts_permuted(ws, (int[]){1, 0});
        NA_OK_OR_FAIL(na_astype(w, NA_F32, &ww));
        NA_OK_OR_FAIL(na_astype(x, NA_F64, &x64));
        NA_OK_OR_FAIL(na_astype(ww, NA_F64, &w64));
        NA_OK_OR_FAIL(na_contract(x64, w64, NA_NAMES("in"), &r64));
        NA_OK_OR_FAIL(na_astype(r64, NA_F32, &ref));
        const na_array *mats[] = {w, ws, wt, ww};
        for (int t = 1; t <= 2; t++) {
            na_set_num_threads(t);
            for (int i = 0; i < 4; i++) {
                na_array *y = NULL, *y2 = NULL;
                NA_OK_OR_FAIL(na_contract(x, mats[i], NA_NAMES("in"), &y));
                NA_OK_OR_FAIL(na_contract(mats[i], x, NA_NAMES("in"), &y2));
                ts_expect_shape(y2, rows == 4 ? "f32[out:301, batch:4]" : "f32[out:301, batch:7]");
                cr_assert_lt(ts_max_abs_diff(y, ref), 2e-5, "matrix %d", i);
                cr_assert_lt(ts_max_abs_diff(y2, ref), 2e-5, "matrix %d", i);
                TS_FREE(y, y2);
            }
        }
        na_set_num_threads(0);
        TS_FREE(x, wf, w, ws, wt, ww, ref, x64, w64, r64);
    }
}
