/* Helpers shared by the benchmarks (header only: each bench is one
 * program): a monotonic clock, medians, page-fault counts, and the
 * machine's own limits measured in the same run — the FMA peak (independent
 * FMA chains, AVX-512 or AVX2 picked at run time) and the streaming read
 * bandwidth (a buffer far bigger than the caches, read with wide loads).
 * Benchmarks report their figures as fractions of these. */
#ifndef NAMEDARR_BENCH_UTIL_H
#define NAMEDARR_BENCH_UTIL_H

#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static inline double bu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static inline int bu_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n) (sorts v). */
static inline double bu_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bu_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static inline long bu_minor_faults(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

/* The kernel's record of this process's peak resident memory (VmHWM) is
 * reset to the current resident size (Linux: clear_refs 5); false where
 * that is not possible. */
static inline bool bu_reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return false;
    bool ok = fputs("5", f) >= 0;
    return (fclose(f) == 0) && ok;
}

/* Peak resident memory since the start or the last reset, in MB (VmHWM). */
static inline double bu_peak_rss_mb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = atof(line + 6);
    if (f)
        fclose(f);
    return kb < 0 ? -1 : kb / 1024.0;
}

/* ---- FMA peak ---------------------------------------------------------------------- */

__attribute__((target("avx512f"))) static inline float bu_fma_chains_avx512(long iters)
{
    __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    __m512 a[16];
    for (int i = 0; i < 16; i++) /* distinct starts: equal chains would merge */
        a[i] = _mm512_set1_ps(1.0f + 0.01f * (float)i);
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++)
            a[i] = _mm512_fmadd_ps(a[i], m, c);
    }
    for (int i = 1; i < 16; i++)
        a[0] = _mm512_add_ps(a[0], a[i]);
    return _mm512_reduce_add_ps(a[0]);
}

__attribute__((target("avx2,fma"))) static inline float bu_fma_chains_avx2(long iters)
{
    __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    __m256 a[12];
    for (int i = 0; i < 12; i++)
        a[i] = _mm256_set1_ps(1.0f + 0.01f * (float)i);
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++)
            a[i] = _mm256_fmadd_ps(a[i], m, c);
    }
    for (int i = 1; i < 12; i++)
        a[0] = _mm256_add_ps(a[0], a[i]);
    float out[8];
    _mm256_storeu_ps(out, a[0]);
    return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}

typedef struct bu_peak_arg {
    bool avx512;
    long iters;
    float sink;
} bu_peak_arg;

static inline void *bu_peak_thread(void *p)
{
    bu_peak_arg *a = p;
    a->sink = a->avx512 ? bu_fma_chains_avx512(a->iters) : bu_fma_chains_avx2(a->iters);
    return NULL;
}

/* Best of three: f32 flops per second (in GFLOP/s) with `threads` threads
 * running FMA chains; 0 without AVX2+FMA. *isa: "avx512", "avx2", "none". */
static inline double bu_measure_peak(int threads, long iters, const char **isa)
{
    __builtin_cpu_init();
    bool avx512 = __builtin_cpu_supports("avx512f");
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    *isa = avx512 ? "avx512" : avx2 ? "avx2" : "none";
    if (!avx512 && !avx2)
        return 0;
    double flops_per_iter = avx512 ? 16 * 16 * 2 : 12 * 8 * 2, best = 0;
    if (threads > 64)
        threads = 64;
    for (int rep = 0; rep < 3; rep++) {
        pthread_t tid[64];
        bu_peak_arg args[64];
        double t0 = bu_now();
        for (int t = 0; t < threads; t++) {
            args[t] = (bu_peak_arg){.avx512 = avx512, .iters = iters};
            pthread_create(&tid[t], NULL, bu_peak_thread, &args[t]);
        }
        for (int t = 0; t < threads; t++)
            pthread_join(tid[t], NULL);
        double gf = flops_per_iter * (double)iters * threads / (bu_now() - t0) / 1e9;
        if (gf > best)
            best = gf;
    }
    return best;
}

/* ---- streaming read bandwidth ------------------------------------------------------ */

__attribute__((target("avx512f"))) static inline float bu_read_avx512(const float *p,
                                                                      size_t n)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i + 64 <= n; i += 64) {
        a0 = _mm512_add_ps(a0, _mm512_load_ps(p + i));
        a1 = _mm512_add_ps(a1, _mm512_load_ps(p + i + 16));
        a2 = _mm512_add_ps(a2, _mm512_load_ps(p + i + 32));
        a3 = _mm512_add_ps(a3, _mm512_load_ps(p + i + 48));
    }
    return _mm512_reduce_add_ps(
        _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

static inline float bu_read_plain(const float *p, size_t n)
{
    float a[8] = {0};
    for (size_t i = 0; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            a[k] += p[i + k];
    return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}

typedef struct bu_read_arg {
    const float *p;
    size_t n;
    bool avx512;
    float sink;
} bu_read_arg;

static inline void *bu_read_thread(void *p)
{
    bu_read_arg *a = p;
    a->sink = a->avx512 ? bu_read_avx512(a->p, a->n) : bu_read_plain(a->p, a->n);
    return NULL;
}

/* A pool of reader threads, started once (creating a thread costs tens
 * of microseconds here, as much as reading a megabyte). */
typedef struct bu_pool {
    int threads;
    pthread_t tid[64];
    pthread_barrier_t start, done;
    bu_read_arg args[64];
    bool quit;
} bu_pool;

static bu_pool g_bu_pool __attribute__((unused));

static inline void *bu_pool_main(void *p)
{
    int t = (int)(intptr_t)p;
    for (;;) {
        pthread_barrier_wait(&g_bu_pool.start);
        if (g_bu_pool.quit)
            return NULL;
        bu_read_thread(&g_bu_pool.args[t]);
        pthread_barrier_wait(&g_bu_pool.done);
    }
}

static inline void bu_pool_start(int threads)
{
    if (g_bu_pool.threads)
        return;
    threads = threads < 1 ? 1 : threads > 64 ? 64 : threads;
    g_bu_pool.threads = threads;
    pthread_barrier_init(&g_bu_pool.start, NULL, (unsigned)threads);
    pthread_barrier_init(&g_bu_pool.done, NULL, (unsigned)threads);
    for (int t = 1; t < threads; t++)
        pthread_create(&g_bu_pool.tid[t], NULL, bu_pool_main, (void *)(intptr_t)t);
}

static inline void bu_pool_stop(void)
{
    if (!g_bu_pool.threads)
        return;
    g_bu_pool.quit = true;
    pthread_barrier_wait(&g_bu_pool.start);
    for (int t = 1; t < g_bu_pool.threads; t++)
        pthread_join(g_bu_pool.tid[t], NULL);
    pthread_barrier_destroy(&g_bu_pool.start);
    pthread_barrier_destroy(&g_bu_pool.done);
    g_bu_pool.threads = 0;
    g_bu_pool.quit = false;
}

/* Read n floats at p (64-byte aligned, n a multiple of 64) split over the
 * pool's threads (bu_pool_start first); returns the sum (keeps the reads). */
static inline float bu_read(const float *p, size_t n)
{
    __builtin_cpu_init();
    bool avx512 = __builtin_cpu_supports("avx512f");
    int threads = g_bu_pool.threads;
    size_t per = n / (size_t)threads / 64 * 64;
    for (int t = 0; t < threads; t++) {
        size_t len = t == threads - 1 ? n - per * (size_t)t : per;
        g_bu_pool.args[t] = (bu_read_arg){p + (size_t)t * per, len, avx512, 0};
    }
    if (threads > 1)
        pthread_barrier_wait(&g_bu_pool.start);
    bu_read_thread(&g_bu_pool.args[0]);
    if (threads > 1)
        pthread_barrier_wait(&g_bu_pool.done);
    float sum = 0;
    for (int t = 0; t < threads; t++)
        sum += g_bu_pool.args[t].sink;
    return sum;
}

/* Best of three: GB/s reading `bytes` (far more than the last-level cache)
 * split over the pool's threads. 0 if the buffer cannot be allocated. */
static inline double bu_measure_read_bw(size_t bytes)
{
    size_t n = bytes / sizeof(float) / 64 * 64;
    float *buf = NULL;
    if (posix_memalign((void **)&buf, 64, n * sizeof(float)) != 0)
        return 0;
    for (size_t i = 0; i < n; i++) /* touch every page before timing */
        buf[i] = (float)(i & 7);
    double best = 0;
    volatile float sink = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = bu_now();
        sink += bu_read(buf, n);
        double gbs = (double)(n * sizeof(float)) / (bu_now() - t0) / 1e9;
        if (gbs > best)
            best = gbs;
    }
    (void)sink;
    free(buf);
    return best;
}

#endif
