/* Threads and runtime info.
 *
 * namedarr owns one thread count. BLIS receives it per call (an rntm_t
 * built in blis.c); namedarr's own OpenMP loops use it too, and a BLIS call
 * made inside one of those loops gets a single thread. */
#include <sched.h>
#include <unistd.h>

#include "blis_adapter.h"
#include "cpu.h"
#include "internal.h"

static int g_threads; /* 0 = default */

static int cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void na_set_num_threads(int n) { __atomic_store_n(&g_threads, n > 0 ? n : 0, __ATOMIC_RELAXED); }

int na_get_num_threads(void)
{
    int n = __atomic_load_n(&g_threads, __ATOMIC_RELAXED);
    if (n > 0)
        return n;
    /* the affinity is read once: a system call per op costs microseconds */
    static int g_cores;
    n = __atomic_load_n(&g_cores, __ATOMIC_RELAXED);
    if (n == 0) {
        n = cores();
        __atomic_store_n(&g_cores, n, __ATOMIC_RELAXED);
    }
    return n;
}

int na__threads(void) { return na_get_num_threads(); }

static int g_promotion = NA_PROMOTE_JAX;

void na_set_dtype_promotion(na_dtype_promotion policy)
{
    __atomic_store_n(&g_promotion, policy == NA_PROMOTE_STRICT, __ATOMIC_RELAXED);
}

na_dtype_promotion na_get_dtype_promotion(void)
{
    return __atomic_load_n(&g_promotion, __ATOMIC_RELAXED) ? NA_PROMOTE_STRICT
                                                           : NA_PROMOTE_JAX;
}

na_status na_get_runtime_info(na_runtime_info *out)
{
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "na_get_runtime_info: out is NULL");
    const na__blis_choice *c = na__blis();
    out->blis_version = c->version;
    out->blis_detected = c->detected;
    out->blis_config = c->config;
    out->gemm_kernel = c->gemm_kernel;
    out->reason = c->reason;
    out->num_threads = na_get_num_threads();
    out->num_cores = cores();
    out->cpu_features = na__cpu_features_str();
    na__blis_candidate cand[NA_BLIS_MAX_CANDIDATES];
    int n = na__blis_candidates(cand, NA_BLIS_MAX_CANDIDATES);
    out->blis_candidate_count = n < NA_BLIS_MAX_CANDIDATES ? n : NA_BLIS_MAX_CANDIDATES;
    for (int i = 0; i < out->blis_candidate_count; i++) {
        out->blis_candidates[i].config = cand[i].config;
        out->blis_candidates[i].gemm_kernel = cand[i].gemm_kernel;
        out->blis_candidates[i].gflops = cand[i].gflops;
    }
    return NA_OK;
}
