/* Threads and runtime info. (Stub: BLIS selection lands in blis.c.) */
#include <sched.h>
#include <unistd.h>

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
    return n > 0 ? n : cores();
}

int na__threads(void) { return na_get_num_threads(); }
