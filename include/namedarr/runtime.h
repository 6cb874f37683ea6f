/* namedarr/runtime.h — threads, the BLIS kernels in use, memory reuse.
 *
 * namedarr owns threading: one thread count (default: every core the
 * process may run on) used by BLIS calls and by namedarr's own parallel
 * loops, never both at once (no oversubscription).
 *
 * BLIS: Debian's BLIS 0.9.0 does not know recent CPUs (it picks its generic
 * kernels on AMD Zen 4/5 and AVX2 kernels on AVX-512 Xeons). namedarr
 * decides itself, once, at first use: every BLIS configuration the CPU can
 * run (skx needs AVX-512 F/DQ/BW/VL; zen3, zen2, zen, haswell need AVX2 and
 * FMA; generic runs anywhere) is a candidate; a small product timed with
 * each (a few ms) picks the fastest. na_get_runtime_info reports the
 * candidates, their speed and the choice. NAMEDARR_BLIS_KERNELS=<config>
 * in the environment or na_set_blis_kernels() forces one.
 *
 *   na_runtime_info info;
 *   na_get_runtime_info(&info);
 *   printf("BLIS %s, kernels %s (%s), %d threads\n", info.blis_version,
 *          info.blis_config, info.reason, info.num_threads);
 */
#ifndef NAMEDARR_RUNTIME_H
#define NAMEDARR_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "namedarr/status.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default) /* the na_ API; the rest is hidden */

#define NA_BLIS_MAX_CANDIDATES 8

typedef struct na_runtime_info {
    const char *blis_version;     /* "0.9.0"                                */
    const char *blis_detected;    /* what BLIS picked by itself: "generic"   */
    const char *blis_config;      /* what namedarr uses: "skx"               */
    const char *gemm_kernel;      /* BLIS's name for the sgemm microkernel   */
    const char *reason;           /* one line on why                          */
    int num_threads;              /* current setting                          */
    int num_cores;                /* cores available to the process           */
    const char *cpu_features;     /* usable: "avx avx2 fma ... avx512_bf16"   */
    int blis_candidate_count;     /* entries used in blis_candidates          */
    struct {
        const char *config;       /* "skx", "zen3", ..., "generic"            */
        const char *gemm_kernel;  /* its sgemm microkernel                    */
        double gflops;            /* measured, 1 thread, 192^3 (0: not run)   */
    } blis_candidates[NA_BLIS_MAX_CANDIDATES];
} na_runtime_info;

/* Select kernels (done on first use anyway) and report. */
na_status na_get_runtime_info(na_runtime_info *out);

/* Force the BLIS configuration `config` (one of the candidates reported by
 * na_get_runtime_info) for every later product; NULL or "auto" restores the
 * measured choice. A name that is not a candidate on this CPU is
 * NA_ERR_ARGUMENT (the message lists the candidates). */
na_status na_set_blis_kernels(const char *config);

/* Dtype promotion for operands of different dtypes (elementwise binary
 * ops, where, concatenate/stack, na_contract, na_einsum, and so every layer
 * built on them). NA_PROMOTE_JAX (the default) follows JAX's lattice
 * (jnp.promote_types, with jax_enable_x64 on) over namedarr's dtypes:
 * bool < i32 < bf16 < f32 < f64, so bool+i32 -> i32, i32+f32 -> f32,
 * i32+bf16 -> bf16, bf16+f32 -> f32, f32+f64 -> f64; a layer with f32 parameters called on f64 input computes in f64, as
 * Flax does (it promotes inputs and parameters to a common dtype).
 * Python scalars' weak types have no counterpart here: a scalar is an
 * array with a dtype (na_scalar), promoted like any other, so
 * na_scalar(NA_F64, 2) * f32 gives f64 where JAX's `2.0 * x` stays f32.
 * Products (contractions, einsum with a sum) need a float result dtype:
 * i32 x i32 is an error, i32 x f32 computes in f32 (bf16 x f32 gives f32,
 * bf16 x bf16 stays bf16, as in na_contract). NA_PROMOTE_STRICT
 * makes any two different dtypes an NA_ERR_DTYPE error naming the
 * operation and both operands. One process-wide setting. */
typedef enum na_dtype_promotion {
    NA_PROMOTE_JAX = 0,
    NA_PROMOTE_STRICT = 1
} na_dtype_promotion;
void na_set_dtype_promotion(na_dtype_promotion policy);
na_dtype_promotion na_get_dtype_promotion(void);

/* Threads for BLIS and namedarr's loops; n <= 0 restores the default. */
void na_set_num_threads(int n);
int na_get_num_threads(void);

/* Memory reuse: freed array storage of 64 KiB and up is kept in size
 * classes and handed out again, so repeating an operation with the same
 * shapes takes no fresh pages from the kernel. The cache holds at most
 * cache_limit bytes (default 4 GiB; na_set_mem_cache_limit changes it) and
 * never costs an allocation: when the system refuses a block, the cache
 * gives everything back and the request is tried again. */
typedef struct na_mem_stats {
    uint64_t allocs;          /* storage blocks handed out                   */
    uint64_t reused;          /* of which came from the cache                */
    size_t cached_bytes;      /* bytes held in the cache now                 */
    size_t cache_limit;       /* bytes the cache may hold                    */
    size_t live_bytes;        /* storage requested and not yet freed         */
    size_t peak_bytes;        /* the most live_bytes has been since the start */
                              /* or the last na_mem_reset_peak()             */
} na_mem_stats;

void na_get_mem_stats(na_mem_stats *stats);
/* Start measuring peak_bytes afresh (from live_bytes now): the extra
 * storage an operation needs is peak_bytes after it minus live_bytes
 * before it. */
void na_mem_reset_peak(void);
/* Cap the cache (bytes; 0 disables it and frees what it holds). */
void na_set_mem_cache_limit(size_t bytes);
/* Give every cached block back to the system. */
void na_mem_trim(void);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
