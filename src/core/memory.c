/* A caching allocator for array storage.
 *
 * First touch of a fresh page costs about 10 us on the target machines, and
 * glibc hands big blocks back to the kernel on free. Blocks of 64 KiB and up
 * are therefore rounded to a size class (4 classes per power of two) and,
 * when freed, kept on a per-class list for the next request of that class,
 * up to a byte limit (na_set_mem_cache_limit). Smaller blocks go straight
 * to malloc, which reuses them without page faults. When the system refuses
 * a block, every cached block is given back and the request tried again, so
 * the cache never makes an allocation fail that would succeed without it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define NA__ALIGN 64
#define NA__CACHE_MIN ((size_t)64 << 10)
#define NA__CLASSES 192
#define NA__MAX_REQUEST ((size_t)1 << 60) /* size classes stay in range */

typedef struct block {
    struct block *next;
} block;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static block *g_free[NA__CLASSES];
static size_t g_cached;
static size_t g_limit = (size_t)4 << 30;
static uint64_t g_allocs, g_reused;
static size_t g_live, g_peak; /* bytes requested and not yet freed; their peak */

static void count_alloc(size_t nbytes)
{
    size_t live = __atomic_add_fetch(&g_live, nbytes, __ATOMIC_RELAXED);
    size_t peak = __atomic_load_n(&g_peak, __ATOMIC_RELAXED);
    while (live > peak &&
           !__atomic_compare_exchange_n(&g_peak, &peak, live, true, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
        ;
}

/* Class index and rounded size for a request of n >= NA__CACHE_MIN bytes. */
static int size_class(size_t n, size_t *rounded)
{
    int log2 = 63 - __builtin_clzll((unsigned long long)n);
    size_t base = (size_t)1 << log2;
    size_t quarter = base / 4;
    size_t steps = (n - base + quarter - 1) / quarter; /* 0..4 */
    size_t size = base + steps * quarter;
    if (steps == 4) {
        log2++;
        steps = 0;
    }
    *rounded = size;
    int cls = (log2 - 16) * 4 + (int)steps;
    return cls < NA__CLASSES ? cls : -1;
}

static void trim_locked(void);

/* A block from the system; when it refuses, the cache goes back first and
 * the request is tried once more. */
static void *fresh_block(size_t nbytes)
{
    void *p = NULL;
    if (posix_memalign(&p, NA__ALIGN, nbytes) == 0)
        return p;
    pthread_mutex_lock(&g_lock);
    bool had = g_cached > 0;
    trim_locked();
    pthread_mutex_unlock(&g_lock);
    if (had && posix_memalign(&p, NA__ALIGN, nbytes) == 0)
        return p;
    return NULL;
}

void *na__mem_alloc(size_t nbytes)
{
    if (na__alloc_should_fail()) /* test hook (alloc.h) */
        return NULL;
    if (nbytes == 0)
        nbytes = 1;
    if (nbytes > NA__MAX_REQUEST)
        return NULL;
    if (nbytes < NA__CACHE_MIN) {
        size_t sz = (nbytes + NA__ALIGN - 1) / NA__ALIGN * NA__ALIGN;
        void *p = fresh_block(sz);
        if (p) {
            __atomic_fetch_add(&g_allocs, 1, __ATOMIC_RELAXED);
            count_alloc(nbytes);
        }
        return p;
    }
    size_t rounded;
    int cls = size_class(nbytes, &rounded);
    pthread_mutex_lock(&g_lock);
    __atomic_fetch_add(&g_allocs, 1, __ATOMIC_RELAXED);
    if (cls >= 0 && g_free[cls]) {
        block *b = g_free[cls];
        g_free[cls] = b->next;
        g_cached -= rounded;
        g_reused++;
        pthread_mutex_unlock(&g_lock);
        count_alloc(nbytes);
        return b;
    }
    pthread_mutex_unlock(&g_lock);
    void *p = fresh_block(cls >= 0 ? rounded : nbytes);
    if (p)
        count_alloc(nbytes);
    return p;
}

void na__mem_free(void *p, size_t nbytes)
{
    if (!p)
        return;
    if (nbytes == 0)
        nbytes = 1; /* as na__mem_alloc counted it */
    __atomic_sub_fetch(&g_live, nbytes, __ATOMIC_RELAXED);
    if (nbytes < NA__CACHE_MIN) {
        free(p);
        return;
    }
    size_t rounded;
    int cls = size_class(nbytes, &rounded);
    pthread_mutex_lock(&g_lock);
    if (cls >= 0 && g_cached + rounded <= g_limit) {
        block *b = p;
        b->next = g_free[cls];
        g_free[cls] = b;
        g_cached += rounded;
        p = NULL;
    }
    pthread_mutex_unlock(&g_lock);
    free(p);
}

static void trim_locked(void)
{
    for (int c = 0; c < NA__CLASSES; c++) {
        while (g_free[c]) {
            block *b = g_free[c];
            g_free[c] = b->next;
            free(b);
        }
    }
    g_cached = 0;
}

void na_mem_trim(void)
{
    pthread_mutex_lock(&g_lock);
    trim_locked();
    pthread_mutex_unlock(&g_lock);
}

void na_set_mem_cache_limit(size_t bytes)
{
    pthread_mutex_lock(&g_lock);
    g_limit = bytes;
    if (g_cached > g_limit)
        trim_locked();
    pthread_mutex_unlock(&g_lock);
}

void na_get_mem_stats(na_mem_stats *stats)
{
    if (!stats)
        return;
    pthread_mutex_lock(&g_lock);
    stats->allocs = __atomic_load_n(&g_allocs, __ATOMIC_RELAXED);
    stats->reused = g_reused;
    stats->cached_bytes = g_cached;
    stats->cache_limit = g_limit;
    stats->live_bytes = __atomic_load_n(&g_live, __ATOMIC_RELAXED);
    stats->peak_bytes = __atomic_load_n(&g_peak, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&g_lock);
}

void na_mem_reset_peak(void)
{
    __atomic_store_n(&g_peak, __atomic_load_n(&g_live, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
}

/* Give the cache back at exit so leak checkers see a clean heap. */
__attribute__((destructor)) static void mem_at_exit(void) { na_mem_trim(); }
