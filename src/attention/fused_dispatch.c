/* The one place that chooses the fused attention kernels: "avx512" on a
 * CPU with AVX-512 (F, DQ, BW, VL) and FMA, else "avx2" with AVX2 and FMA, else the
 * reference "generic" set; tests and benchmarks may force any set the CPU
 * can run. Also the tiled path's block sizes. */
#include <stdatomic.h>
#include <string.h>

#include "attention/fused_internal.h"
#include "core/cpu.h"

#if defined(__x86_64__)
/* The library's one CPU feature probe (src/core/cpu.c). */
static bool cpu_has_avx512(void)
{
    return na__cpu_avx512() && na__cpu_get()->fma;
}

static bool cpu_has_avx2(void)
{
    return na__cpu_avx2_fma();
}
#endif

/* The set called `name` if this CPU can run it, else NULL. */
static const na__fused_ops *ops_named(const char *name)
{
    if (strcmp(name, "generic") == 0)
        return &na__fused_ops_generic;
#if defined(__x86_64__)
    if (strcmp(name, "avx2") == 0 && cpu_has_avx2())
        return &na__fused_ops_avx2;
    if (strcmp(name, "avx512") == 0 && cpu_has_avx512())
        return &na__fused_ops_avx512;
#endif
    return NULL;
}

static const na__fused_ops *ops_best(void)
{
    const na__fused_ops *b = ops_named("avx512");
    if (!b)
        b = ops_named("avx2");
    return b ? b : &na__fused_ops_generic;
}

static _Atomic(const na__fused_ops *) g_forced, g_best;

const na__fused_ops *na__fused_ops_get(void)
{
    const na__fused_ops *f = atomic_load_explicit(&g_forced, memory_order_relaxed);
    if (f)
        return f;
    const na__fused_ops *b = atomic_load_explicit(&g_best, memory_order_acquire);
    if (!b) {
        b = ops_best();
        atomic_store_explicit(&g_best, b, memory_order_release);
    }
    return b;
}

bool na__fused_force_kernels(const char *name)
{
    const na__fused_ops *f = NULL;
    if (name && !(f = ops_named(name)))
        return false;
    atomic_store(&g_forced, f);
    return true;
}

const char *na__fused_kernels(void)
{
    return na__fused_ops_get()->name;
}

/* ---- block sizes ------------------------------------------------------------------- */

static atomic_int g_bq, g_bk;

/* A block of bq rows by bk keys touches the queries (dp x bq), a tile of
 * keys (bk x dp) and values (bk x dv), the weights (bk x bq) and the
 * running output (bq x dv). 64 rows keep 16 accumulators busy in the
 * kernels; the keys per tile shrink as the head grows so that the tile
 * and the weights stay in a 48 KB level-1 cache with the query block
 * streaming past: 64 keys up to dp + dv = 128, 32 up to 256, then 16. */
void na__fused_tile_sizes(int64_t dp, int64_t dv, int *bq, int *bk)
{
    int fq = atomic_load_explicit(&g_bq, memory_order_relaxed),
        fk = atomic_load_explicit(&g_bk, memory_order_relaxed);
    int64_t width = dp + dv;
    *bq = fq > 0 ? fq : 64;
    *bk = fk > 0 ? fk : width <= 128 ? 64 : width <= 256 ? 32 : 16;
}

void na__fused_set_tiles(int bq, int bk)
{
    bq = bq < 0 ? 0 : bq > 64 ? 64 : (bq + 15) / 16 * 16;
    atomic_store(&g_bq, bq);
    atomic_store(&g_bk, bk < 0 ? 0 : bk);
}
