/* The fused attention kernels one by one (src/attention/fused_ref.c,
 * fused_avx2.c, fused_avx512.c), every set the CPU can run, against plain
 * double-precision loops on random data: odd tile sizes, key and value
 * rows at odd strides, feature counts that are not multiples of 16, masked
 * (-inf) logits and rows with nothing live. The whole path is tested in
 * test_fused.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../src/attention/fused_internal.h"
#include "support.h"

static const char *const g_sets[] = {"generic", "avx2", "avx512"};

/* The set called name, or NULL when the CPU cannot run it. */
static const na__fused_ops *set_named(const char *name)
{
    if (!na__fused_force_kernels(name))
        return NULL;
    const na__fused_ops *ops = na__fused_ops_get();
    na__fused_force_kernels(NULL);
    cr_assert_str_eq(ops->name, name);
    return ops;
}

/* 64-byte aligned, zeroed, n floats (the kernels' buffers are aligned) */
static float *buf(size_t n)
{
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64 + 64);
    memset(p, 0, n * sizeof(float) + 64);
    return p;
}

/* the harness's seeded data (a new seed per buffer), copied to aligned memory */
static float *rnd(size_t n, float scale)
{
    static uint64_t seed = 88172645463325252ull;
    float *p = buf(n), *r = ts_random_buffer(n, scale, seed++);
    memcpy(p, r, n * sizeof(float));
    free(r);
    return p;
}

#define CLOSE(got, want, tol, ...)                                                       \
    cr_assert(fabs((double)(got) - (want)) <= (tol) * (1.0 + fabs(want)), __VA_ARGS__)

/* ---- the tiled path's kernels ------------------------------------------------------ */

static void check_qk(const na__fused_ops *ops, int64_t nk, int64_t dp, int bq)
{
    int64_t kld = dp + 3;
    float *k = rnd((size_t)(nk * kld), 1), *qt = rnd((size_t)(dp * bq), 1);
    float *st = buf((size_t)(nk * bq)), *mx = buf((size_t)bq);
    ops->qk(nk, dp, k, kld, qt, bq, st, mx);
    for (int i = 0; i < bq; i++) {
        double best = -INFINITY;
        for (int64_t j = 0; j < nk; j++) {
            double dot = 0;
            for (int64_t d = 0; d < dp; d++)
                dot += (double)k[j * kld + d] * qt[d * bq + i];
            CLOSE(st[j * bq + i], dot, 1e-5, "%s qk nk %ld dp %ld bq %d: st[%ld][%d]",
                  ops->name, (long)nk, (long)dp, bq, (long)j, i);
            best = fmax(best, (double)st[j * bq + i]);
        }
        cr_assert_eq(mx[i], (float)best, "%s qk nk %ld dp %ld bq %d: max of row %d",
                     ops->name, (long)nk, (long)dp, bq, i);
    }
    free(k), free(qt), free(st), free(mx);
}

Test(fused_kernels, qk_logits_and_row_maxima)
{
    for (int s = 0; s < 3; s++) {
        const na__fused_ops *ops = set_named(g_sets[s]);
        if (!ops)
            continue;
        const int64_t nks[] = {1, 2, 3, 7, 16, 37, 64};
        const int64_t dps[] = {1, 5, 32, 80, 128};
        for (int a = 0; a < 7; a++)
            for (int b = 0; b < 5; b++)
                for (int bq = 16; bq <= 64; bq += 16)
                    check_qk(ops, nks[a], dps[b], bq);
    }
}

static void check_softmax(const na__fused_ops *ops, int64_t nk, int bq)
{
    float *st = rnd((size_t)(nk * bq), 20), *ref = buf((size_t)(nk * bq));
    float *tmx = buf((size_t)bq), *m = buf((size_t)bq), *l = buf((size_t)bq),
          *corr = buf((size_t)bq);
    float *u = rnd((size_t)(2 * bq), 1);
    for (int i = 0; i < bq; i++) {
        m[i] = i % 5 == 0 ? -INFINITY : u[2 * i] * 20; /* some rows: nothing yet */
        l[i] = m[i] == -INFINITY ? 0 : 1 + u[2 * i + 1] * 0.5f;
        tmx[i] = -INFINITY;
        for (int64_t j = 0; j < nk; j++) {
            if ((i + 3 * j) % 4 == 0 || i % 7 == 3) /* masked; row 3 mod 7: all */
                st[j * bq + i] = -INFINITY;
            tmx[i] = fmaxf(tmx[i], st[j * bq + i]);
        }
    }
    memcpy(ref, st, sizeof(float) * (size_t)(nk * bq));
    float m0[64], l0[64];
    memcpy(m0, m, sizeof(float) * (size_t)bq), memcpy(l0, l, sizeof(float) * (size_t)bq);
    ops->softmax(nk, bq, st, tmx, m, l, corr);
    for (int i = 0; i < bq; i++) {
        double mx = fmax(m0[i], tmx[i]), use = mx == -INFINITY ? 0 : mx, sum = 0;
        for (int64_t j = 0; j < nk; j++) {
            double p = ref[j * bq + i] == -INFINITY ? 0 : exp2((double)ref[j * bq + i] - use);
            if (p == 0)
                cr_assert_eq(st[j * bq + i], 0.0f, "%s softmax: masked weight not 0",
                             ops->name);
            CLOSE(st[j * bq + i], p, 1e-6, "%s softmax nk %ld bq %d: p[%ld][%d]", ops->name,
                  (long)nk, bq, (long)j, i);
            sum += p;
        }
        double c = m0[i] == -INFINITY ? 0 : exp2((double)m0[i] - use);
        CLOSE(corr[i], c, 1e-6, "%s softmax: corr[%d]", ops->name, i);
        CLOSE(l[i], l0[i] * c + sum, 1e-6, "%s softmax: l[%d]", ops->name, i);
        cr_assert_eq(m[i], (float)mx, "%s softmax: m[%d]", ops->name, i);
    }
    free(st), free(ref), free(tmx), free(m), free(l), free(corr), free(u);
}

Test(fused_kernels, online_softmax_step)
{
    for (int s = 0; s < 3; s++) {
        const na__fused_ops *ops = set_named(g_sets[s]);
        if (!ops)
            continue;
        const int64_t nks[] = {1, 2, 5, 16, 33, 64};
        for (int a = 0; a < 6; a++)
            for (int bq = 16; bq <= 64; bq += 16)
                check_softmax(ops, nks[a], bq);
    }
}

static void check_pv(const na__fused_ops *ops, int64_t nk, int bq, int64_t dv)
{
    int64_t dvp = na__fused_round16(dv), vld = dv + 5;
    float *st = rnd((size_t)(nk * bq), 1), *v = rnd((size_t)(nk * vld), 1);
    float *o = buf((size_t)(bq * dvp)), *o0 = buf((size_t)(bq * dvp)),
          *corr = rnd((size_t)bq, 1);
    float *u = rnd((size_t)(bq * dv), 1);
    for (int i = 0; i < bq; i++)
        for (int64_t c = 0; c < dv; c++)
            o[i * dvp + c] = u[i * dv + c];
    free(u);
    memcpy(o0, o, sizeof(float) * (size_t)(bq * dvp));
    ops->pv(nk, bq, dv, dvp, st, v, vld, corr, o);
    for (int i = 0; i < bq; i++) {
        for (int64_t c = 0; c < dv; c++) {
            double want = (double)o0[i * dvp + c] * corr[i];
            for (int64_t j = 0; j < nk; j++)
                want += (double)st[j * bq + i] * v[j * vld + c];
            CLOSE(o[i * dvp + c], want, 1e-5, "%s pv nk %ld bq %d dv %ld: o[%d][%ld]",
                  ops->name, (long)nk, bq, (long)dv, i, (long)c);
        }
        for (int64_t c = dv; c < dvp; c++) /* the padding never reads past a row */
            cr_assert_eq(o[i * dvp + c], 0.0f, "%s pv dv %ld: padding column %ld",
                         ops->name, (long)dv, (long)c);
    }
    free(st), free(v), free(o), free(o0), free(corr);
}

Test(fused_kernels, weighted_values)
{
    for (int s = 0; s < 3; s++) {
        const na__fused_ops *ops = set_named(g_sets[s]);
        if (!ops)
            continue;
        const int64_t nks[] = {1, 3, 16, 37};
        const int64_t dvs[] = {1, 15, 16, 17, 64, 83, 128, 130};
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 8; b++)
                for (int bq = 16; bq <= 64; bq += 16)
                    check_pv(ops, nks[a], bq, dvs[b]);
    }
}

/* ---- the decode path's kernels ----------------------------------------------------- */

static void check_dots(const na__fused_ops *ops, int64_t nk, int64_t dp, int nr)
{
    int64_t kc = dp + 7, ls = nk + 3;
    float *q = rnd((size_t)(nr * dp), 1), *k = rnd((size_t)(nk * kc), 1);
    float *s = buf((size_t)(nr * ls));
    ops->dots(nk, dp, nr, q, k, kc, s, ls);
    for (int r = 0; r < nr; r++)
        for (int64_t j = 0; j < nk; j++) {
            double dot = 0;
            for (int64_t d = 0; d < dp; d++)
                dot += (double)q[r * dp + d] * k[j * kc + d];
            CLOSE(s[r * ls + j], dot, 1e-5, "%s dots nk %ld dp %ld nr %d: [%d][%ld]",
                  ops->name, (long)nk, (long)dp, nr, r, (long)j);
        }
    free(q), free(k), free(s);
}

static void check_wsum(const na__fused_ops *ops, int64_t nk, int64_t dv, int nr)
{
    int64_t lp = nk + 2, vc = dv + 3;
    float *p = rnd((size_t)(nr * lp), 1), *v = rnd((size_t)(nk * vc), 1);
    float *o = rnd((size_t)(nr * dv), 1), *o0 = buf((size_t)(nr * dv));
    memcpy(o0, o, sizeof(float) * (size_t)(nr * dv));
    ops->wsum(nk, dv, nr, p, lp, v, vc, o);
    for (int r = 0; r < nr; r++)
        for (int64_t c = 0; c < dv; c++) {
            double want = o0[r * dv + c];
            for (int64_t j = 0; j < nk; j++)
                want += (double)p[r * lp + j] * v[j * vc + c];
            CLOSE(o[r * dv + c], want, 1e-5, "%s wsum nk %ld dv %ld nr %d: [%d][%ld]",
                  ops->name, (long)nk, (long)dv, nr, r, (long)c);
        }
    free(p), free(v), free(o), free(o0);
}

Test(fused_kernels, decode_dots_and_weighted_sums)
{
    for (int s = 0; s < 3; s++) {
        const na__fused_ops *ops = set_named(g_sets[s]);
        if (!ops)
            continue;
        const int64_t nks[] = {1, 15, 16, 17, 33, 100};
        const int64_t ds[] = {1, 3, 16, 33, 80, 128};
        for (int a = 0; a < 6; a++)
            for (int b = 0; b < 6; b++)
                for (int nr = 1; nr <= 8; nr += 3) {
                    check_dots(ops, nks[a], ds[b], nr);
                    check_wsum(ops, nks[a], ds[b], nr);
                }
    }
}

Test(fused_kernels, decode_max_and_exp_sum)
{
    for (int s = 0; s < 3; s++) {
        const na__fused_ops *ops = set_named(g_sets[s]);
        if (!ops)
            continue;
        for (int64_t n = 0; n <= 70; n += 7) {
            float *x = rnd((size_t)n, 30), *ref = buf((size_t)n);
            for (int64_t j = 0; j < n; j += 3)
                x[j] = -INFINITY;
            double mx = -INFINITY;
            for (int64_t j = 0; j < n; j++)
                mx = fmax(mx, (double)x[j]);
            cr_assert_eq(ops->max(n, x), (float)mx, "%s max n %ld", ops->name, (long)n);
            memcpy(ref, x, sizeof(float) * (size_t)n);
            float m = n > 1 ? (float)mx : 0.0f;
            float sum = ops->exp_sum(n, x, m);
            double want = 0;
            for (int64_t j = 0; j < n; j++) {
                double p = ref[j] == -INFINITY ? 0 : exp2((double)ref[j] - m);
                CLOSE(x[j], p, 1e-6, "%s exp_sum n %ld: [%ld]", ops->name, (long)n, (long)j);
                want += p;
            }
            CLOSE(sum, want, 1e-6, "%s exp_sum n %ld: sum", ops->name, (long)n);
            free(x), free(ref);
        }
    }
}

/* exp2 over its range: relative error below 4e-7 (the polynomial's 2e-7 plus
 * rounding); exactly 1 at 0, exactly 0 below -126. */
Test(fused_kernels, exp2_accuracy)
{
    for (int s = 0; s < 3; s++) {
        const na__fused_ops *ops = set_named(g_sets[s]);
        if (!ops)
            continue;
        enum { N = 4096 };
        float *x = buf(N), *ref = buf(N);
        for (int j = 0; j < N; j++)
            x[j] = -125.0f * (float)j / (N - 1);
        x[1] = 0.0f, x[2] = -0.5f, x[3] = -126.5f, x[4] = -INFINITY;
        memcpy(ref, x, sizeof(float) * N);
        ops->exp_sum(N, x, 0.0f);
        for (int j = 0; j < N; j++) {
            double want = ref[j] < -126 ? 0 : exp2((double)ref[j]);
            cr_assert(fabs(x[j] - want) <= 4e-7 * want, "%s exp2(%g) = %g, want %g",
                      ops->name, (double)ref[j], (double)x[j], want);
        }
        cr_assert_eq(x[1], 1.0f);
        free(x), free(ref);
    }
}

/* The soft-cap c * tanh(s / c) against tanh in double: odd lengths (vector
 * tails), values across the series / exp boundary (|s / c| = 1/4), tiny,
 * huge and exactly zero logits; odd and monotone like tanh. */
static void check_softcap(const na__fused_ops *ops, int64_t n, float c)
{
    float *s = rnd((size_t)n, 1), *ref = buf((size_t)n);
    for (int64_t j = 0; j < n; j++)
        s[j] *= (j % 3 == 0 ? 0.3f : j % 3 == 1 ? 3.0f : 300.0f) * c;
    if (n > 6) {
        s[0] = 0.0f, s[1] = 0.25f * c, s[2] = -0.25f * c, s[3] = 1e-30f;
        s[4] = 1e30f, s[5] = -1e30f, s[6] = nextafterf(0.25f * c, 0.0f);
    }
    memcpy(ref, s, sizeof(float) * (size_t)n);
    ops->softcap(n, s, c);
    for (int64_t j = 0; j < n; j++) {
        double want = c * tanh((double)ref[j] / c);
        cr_assert(fabs(s[j] - want) <= 5e-7 * fabs(want) + 1e-7 * c,
                  "%s softcap(%g, c %g) = %.9g, want %.9g", ops->name, (double)ref[j],
                  (double)c, (double)s[j], want);
    }
    if (n > 6) {
        cr_assert_eq(s[0], 0.0f, "%s: softcap(0) must be exactly 0", ops->name);
        cr_assert_eq(s[4], c, "%s: softcap(huge) must be exactly c", ops->name);
        cr_assert_eq(s[5], -c, "%s: softcap(-huge) must be exactly -c", ops->name);
    }
    /* monotone: a sorted ramp stays sorted (the row maxima rely on it) */
    for (int64_t j = 0; j < n; j++)
        s[j] = -4.0f * c + 8.0f * c * (float)j / (float)(n > 1 ? n - 1 : 1);
    ops->softcap(n, s, c);
    for (int64_t j = 1; j < n; j++)
        cr_assert(s[j] >= s[j - 1], "%s: softcap not monotone at %ld", ops->name,
                  (long)j);
    free(s), free(ref);
}

Test(fused_kernels, soft_cap)
{
    for (int s = 0; s < 3; s++) {
        const na__fused_ops *ops = set_named(g_sets[s]);
        if (!ops)
            continue;
        const int64_t lens[] = {1, 15, 16, 17, 333, 4099};
        for (int i = 0; i < 6; i++) {
            check_softcap(ops, lens[i], 50.0f * 1.442695f); /* Gemma 2's cap, base 2 */
            check_softcap(ops, lens[i], 0.7f);
        }
    }
}
