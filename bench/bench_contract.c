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
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include <blis.h>
#pragma GCC diagnostic pop

#include <namedarr/namedarr.h>

#include "blis_adapter.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static long minor_faults(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

/* ---- FMA peak: independent FMA chains, chosen by the CPU at run time ---- */

__attribute__((target("avx512f"))) static float fma_chains_avx512(long iters)
{
    __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    /* distinct starting values: identical chains would be merged */
#define NA_S(i) _mm512_set1_ps(1.0f + 0.01f * (i))
    __m512 a0 = NA_S(0), a1 = NA_S(1), a2 = NA_S(2), a3 = NA_S(3), a4 = NA_S(4),
           a5 = NA_S(5), a6 = NA_S(6), a7 = NA_S(7), a8 = NA_S(8), a9 = NA_S(9),
           a10 = NA_S(10), a11 = NA_S(11), a12 = NA_S(12), a13 = NA_S(13),
           a14 = NA_S(14), a15 = NA_S(15);
#undef NA_S
    for (long i = 0; i < iters; i++) {
        a0 = _mm512_fmadd_ps(a0, m, c);
        a1 = _mm512_fmadd_ps(a1, m, c);
        a2 = _mm512_fmadd_ps(a2, m, c);
        a3 = _mm512_fmadd_ps(a3, m, c);
        a4 = _mm512_fmadd_ps(a4, m, c);
        a5 = _mm512_fmadd_ps(a5, m, c);
        a6 = _mm512_fmadd_ps(a6, m, c);
        a7 = _mm512_fmadd_ps(a7, m, c);
        a8 = _mm512_fmadd_ps(a8, m, c);
        a9 = _mm512_fmadd_ps(a9, m, c);
        a10 = _mm512_fmadd_ps(a10, m, c);
        a11 = _mm512_fmadd_ps(a11, m, c);
        a12 = _mm512_fmadd_ps(a12, m, c);
        a13 = _mm512_fmadd_ps(a13, m, c);
        a14 = _mm512_fmadd_ps(a14, m, c);
        a15 = _mm512_fmadd_ps(a15, m, c);
    }
    __m512 s = _mm512_add_ps(
        _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                      _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7))),
        _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)),
                      _mm512_add_ps(_mm512_add_ps(a12, a13), _mm512_add_ps(a14, a15))));
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float fma_chains_avx2(long iters)
{
    __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
#define NA_S(i) _mm256_set1_ps(1.0f + 0.01f * (i))
    __m256 a0 = NA_S(0), a1 = NA_S(1), a2 = NA_S(2), a3 = NA_S(3), a4 = NA_S(4),
           a5 = NA_S(5), a6 = NA_S(6), a7 = NA_S(7), a8 = NA_S(8), a9 = NA_S(9),
           a10 = NA_S(10), a11 = NA_S(11);
#undef NA_S
    for (long i = 0; i < iters; i++) {
        a0 = _mm256_fmadd_ps(a0, m, c);
        a1 = _mm256_fmadd_ps(a1, m, c);
        a2 = _mm256_fmadd_ps(a2, m, c);
        a3 = _mm256_fmadd_ps(a3, m, c);
        a4 = _mm256_fmadd_ps(a4, m, c);
        a5 = _mm256_fmadd_ps(a5, m, c);
        a6 = _mm256_fmadd_ps(a6, m, c);
        a7 = _mm256_fmadd_ps(a7, m, c);
        a8 = _mm256_fmadd_ps(a8, m, c);
        a9 = _mm256_fmadd_ps(a9, m, c);
        a10 = _mm256_fmadd_ps(a10, m, c);
        a11 = _mm256_fmadd_ps(a11, m, c);
    }
    __m256 s = _mm256_add_ps(
        _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
        _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)),
                      _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11))));
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}

typedef struct peak_arg {
    bool avx512;
    long iters;
    float sink;
} peak_arg;

static void *peak_thread(void *p)
{
    peak_arg *a = p;
    a->sink = a->avx512 ? fma_chains_avx512(a->iters) : fma_chains_avx2(a->iters);
    return NULL;
}

static const char *g_isa = "none";

/* Best of three: flops per second with `threads` threads running chains. */
static double measure_peak(int threads, long iters)
{
    __builtin_cpu_init();
    bool avx512 = __builtin_cpu_supports("avx512f");
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (!avx512 && !avx2)
        return 0;
    g_isa = avx512 ? "avx512" : "avx2";
    double flops_per_iter = avx512 ? 16 * 16 * 2 : 12 * 8 * 2;
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        pthread_t tid[64];
        peak_arg args[64];
        double t0 = now();
        for (int t = 0; t < threads; t++) {
            args[t] = (peak_arg){.avx512 = avx512, .iters = iters};
            pthread_create(&tid[t], NULL, peak_thread, &args[t]);
        }
        for (int t = 0; t < threads; t++)
            pthread_join(tid[t], NULL);
        double dt = now() - t0;
        double gf = flops_per_iter * (double)iters * threads / dt / 1e9;
        if (gf > best)
            best = gf;
    }
    return best;
}

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
            double t0 = now();
            if (do_named) {
                long f0 = minor_faults();
                for (int i = 0; i < calls; i++) {
                    na_contract(bc->a, bc->b, bc->sum, &c);
                    na_array_free(c);
                }
                faults += minor_faults() - f0;
                named_calls += calls;
                named[rep] = flops * calls / (now() - t0) / 1e9;
            } else {
                for (int i = 0; i < calls; i++)
                    run_raw(&bc->raw, threads);
                blis[rep] = flops * calls / (now() - t0) / 1e9;
            }
        }
    }
    double ng = median(named, g_reps), bg = median(blis, g_reps);
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
    double peak1 = measure_peak(1, quick ? 2000000 : 100000000);
    double peak2 = measure_peak(2, quick ? 2000000 : 100000000) / 2;
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
