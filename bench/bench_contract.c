/* bench_contract: na_contract against raw BLIS, and both against the
 * machine's FMA peak, measured here.
 *
 * One JSON object per line per case:
 *   {"bench":"contract","case":"2048^3","threads":2,"named_gflops":...,
 *    "blis_gflops":...,"ratio":...,"peak_gflops":...,"page_faults_per_call":...}
 * blis_gflops runs bli_sgemm_ex with the same kernel context namedarr
 * selected, on the same shapes and data, in the same run. Figures are
 * medians over repetitions; named and raw samples alternate.
 *
 *   bench_contract            full sizes (512^3 ... 2048^3, attention, projection)
 *   bench_contract --quick    tiny sizes, for CI
 *   bench_contract --reps N   repetitions per case (default 7; quick 3)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blis_include.h"

#include <namedarr/namedarr.h>

#include "blis_adapter.h"
#include "bench_util.h"

static const char *g_isa = "none";

/* ---- cases ----------------------------------------------------------------- */

/* A raw BLIS product: nb sgemms with the given strides, offsets per batch. */
typedef struct raw {
    int64_t nb, m, n, k;
    const float *a, *b;
    float *c;
    int64_t rsa, csa, bsa, rsb, csb, bsb;
} raw;

static void run_raw(const raw *r, int threads)
{
    cntx_t *cntx = na__blis_cntx();
    float one = 1.0f, zero = 0.0f;
    rntm_t rn;
    bli_rntm_init(&rn);
    bli_rntm_set_num_threads(threads, &rn);
    for (int64_t p = 0; p < r->nb; p++)
        bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, r->m, r->n, r->k, &one,
                     (float *)r->a + p * r->bsa, r->rsa, r->csa,
                     (float *)r->b + p * r->bsb, r->rsb, r->csb, &zero,
                     r->c + p * r->m * r->n, r->n, 1, cntx, &rn);
}

typedef struct bcase {
    const char *name;
    const na_array *a, *b;
    const char *const *sum;
    raw raw;
} bcase;

static int g_reps = 7;

static int run_case(const bcase *bc, int threads, double peak_per_thread,
                    const char *config)
{
    double flops = 2.0 * (double)bc->raw.nb * (double)bc->raw.m *
                   (double)bc->raw.n * (double)bc->raw.k;
    /* enough calls per sample for ~0.1 s at 100 GFLOP/s */
    int calls = (int)(1e10 / flops);
    if (calls < 1)
        calls = 1;
    if (calls > 1000)
        calls = 1000;
    na_set_num_threads(threads);
    na_array *c = NULL;
    /* warm-up: kernels selected, caches and BLIS pools filled */
    if (na_contract(bc->a, bc->b, bc->sum, &c) != NA_OK) {
        fprintf(stderr, "%s: %s\n", bc->name, na_last_error());
        return 1;
    }
    na_array_free(c);
    run_raw(&bc->raw, threads);

    double named[64], blis[64];
    long faults = 0, named_calls = 0;
    for (int rep = 0; rep < g_reps; rep++) {
        for (int side = 0; side < 2; side++) {
            bool do_named = (side == 0) == (rep % 2 == 0);
            double t0 = bu_now();
            if (do_named) {
                long f0 = bu_minor_faults();
                for (int i = 0; i < calls; i++) {
                    c = NULL; /* a failure leaves c alone: never free twice */
                    na_contract(bc->a, bc->b, bc->sum, &c);
                    na_array_free(c);
                }
                faults += bu_minor_faults() - f0;
                named_calls += calls;
                named[rep] = flops * calls / (bu_now() - t0) / 1e9;
            } else {
                for (int i = 0; i < calls; i++)
                    run_raw(&bc->raw, threads);
                blis[rep] = flops * calls / (bu_now() - t0) / 1e9;
            }
        }
    }
    double ng = bu_median(named, g_reps), bg = bu_median(blis, g_reps);
    double peak = peak_per_thread * threads;
    printf("{\"bench\":\"contract\",\"case\":\"%s\",\"threads\":%d,"
           "\"batch\":%lld,\"m\":%lld,\"n\":%lld,\"k\":%lld,"
           "\"named_gflops\":%.1f,\"blis_gflops\":%.1f,\"ratio\":%.3f,"
           "\"peak_gflops\":%.1f,\"named_frac_peak\":%.3f,"
           "\"page_faults_per_call\":%.2f,\"reps\":%d,\"calls_per_rep\":%d,"
           "\"blis_config\":\"%s\",\"peak_isa\":\"%s\"}\n",
           bc->name, threads, (long long)bc->raw.nb, (long long)bc->raw.m,
           (long long)bc->raw.n, (long long)bc->raw.k, ng, bg, ng / bg, peak,
           peak > 0 ? ng / peak : 0.0, (double)faults / (double)named_calls,
           g_reps, calls, config, g_isa);
    fflush(stdout);
    return 0;
}

static na_array *random_array(int ndim, const na_dim *dims, uint64_t seed)
{
    na_array *x = NULL;
    if (na_random_uniform(seed, NA_F32, ndim, dims, -1.0, 1.0, &x) != NA_OK) {
        /* fall back to a cheap deterministic fill */
        if (na_empty(NA_F32, ndim, dims, &x) != NA_OK)
            return NULL;
        float *p = na_data(x);
        for (int64_t i = 0; i < na_size(x); i++)
            p[i] = (float)((i * 2654435761u + seed) % 1000) / 500.0f - 1.0f;
    }
    return x;
}

int main(int argc, char **argv)
{
    bool quick = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = true;
            g_reps = 3;
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            g_reps = atoi(argv[++i]);
            if (g_reps < 1)
                g_reps = 1;
            if (g_reps > 64)
                g_reps = 64;
        } else {
            fprintf(stderr, "usage: %s [--quick] [--reps N]\n", argv[0]);
            return 2;
        }
    }
    na_runtime_info info;
    if (na_get_runtime_info(&info) != NA_OK)
        return 1;
    double peak1 = bu_measure_peak(1, quick ? 2000000 : 100000000, &g_isa);
    double peak2 = bu_measure_peak(2, quick ? 2000000 : 100000000, &g_isa) / 2;
    int status = 0;

    /* cubes {m,k} x {k,n} */
    const int64_t cubes_full[] = {512, 1024, 2048}, cubes_quick[] = {64, 128};
    const int64_t *cubes = quick ? cubes_quick : cubes_full;
    int ncubes = quick ? 2 : 3;
    for (int ci = 0; ci < ncubes; ci++) {
        int64_t s = cubes[ci];
        na_array *a = random_array(NA_DIMS({"m", s}, {"k", s}), 1);
        na_array *b = random_array(NA_DIMS({"k", s}, {"n", s}), 2);
        float *c = malloc(sizeof(float) * (size_t)(s * s));
        if (!a || !b || !c)
            return 1;
        char name[32];
        snprintf(name, sizeof name, "%lld^3", (long long)s);
        bcase bc = {name, a, b, NA_NAMES("k"),
                    {1, s, s, s, na_data(a), na_data(b), c, s, 1, 0, s, 1, 0}};
        for (int t = 2; t >= 1; t--)
            status |= run_case(&bc, t, t == 1 ? peak1 : peak2, info.blis_config);
        free(c);
        na_array_free(a);
        na_array_free(b);
    }

    /* attention logits: {heads, seq, projection} x {heads, kv_seq, projection} */
    {
        int64_t h = quick ? 2 : 8, sq = quick ? 64 : 2048, p = quick ? 16 : 64;
        na_array *q = random_array(NA_DIMS({"heads", h}, {"seq", sq}, {"projection", p}), 3);
        na_array *k = random_array(NA_DIMS({"heads", h}, {"kv_seq", sq}, {"projection", p}), 4);
        float *c = malloc(sizeof(float) * (size_t)(h * sq * sq));
        if (!q || !k || !c)
            return 1;
        bcase bc = {"attention_logits", q, k, NA_NAMES("projection"),
                    {h, sq, sq, p, na_data(q), na_data(k), c, p, 1, sq * p, 1, p,
                     sq * p}};
        status |= run_case(&bc, 2, peak2, info.blis_config);
        free(c);
        na_array_free(q);
        na_array_free(k);
    }

    /* projection: {batch, seq, embedding} x {embedding, heads, projection} */
    {
        int64_t bt = quick ? 2 : 4, sq = quick ? 32 : 1024, e = quick ? 32 : 512,
                h = quick ? 2 : 8, p = quick ? 8 : 64;
        na_array *x = random_array(NA_DIMS({"batch", bt}, {"seq", sq}, {"embedding", e}), 5);
        na_array *w = random_array(NA_DIMS({"embedding", e}, {"heads", h}, {"projection", p}), 6);
        float *c = malloc(sizeof(float) * (size_t)(bt * sq * h * p));
        if (!x || !w || !c)
            return 1;
        bcase bc = {"projection", x, w, NA_NAMES("embedding"),
                    {1, bt * sq, h * p, e, na_data(x), na_data(w), c, e, 1, 0,
                     h * p, 1, 0}};
        status |= run_case(&bc, 2, peak2, info.blis_config);
        free(c);
        na_array_free(x);
        na_array_free(w);
    }
    return status;
}
