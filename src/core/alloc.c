/* Allocation wrappers with a test hook that makes the k-th allocation fail
 * (see alloc.h). The hook costs one relaxed atomic load per allocation when
 * it is off. */
#include <execinfo.h>
#include <stdatomic.h>
#include <unistd.h>

#include "alloc.h"

/* This file calls the real functions. */
#undef malloc
#undef calloc
#undef realloc
#undef strdup
#undef strndup

static atomic_long g_countdown; /* allocations left before the failing one */
static atomic_bool g_sticky;
static atomic_long g_failures;

void na__alloc_fail_after(long k, bool sticky)
{
    atomic_store(&g_failures, 0);
    atomic_store(&g_sticky, sticky);
    atomic_store(&g_countdown, k > 0 ? k : 0);
}

long na__alloc_failures(void) { return atomic_load(&g_failures); }

bool na__alloc_should_fail(void)
{
    if (atomic_load_explicit(&g_countdown, memory_order_relaxed) <= 0)
        return false;
    long left = atomic_fetch_sub(&g_countdown, 1);
    bool fail = left == 1;
    if (left <= 1 && atomic_load(&g_sticky)) {
        atomic_store(&g_countdown, 1); /* stay armed: every later one fails */
        fail = true;
    }
    if (fail) {
        atomic_fetch_add(&g_failures, 1);
        if (getenv("NAMEDARR_ALLOC_FAIL_TRACE")) { /* debugging aid: who failed */
            void *frames[24];
            int n = backtrace(frames, 24);
            write(2, "namedarr: injected allocation failure at\n", 41);
            backtrace_symbols_fd(frames, n, 2);
        }
    }
    return fail;
}

void *na__malloc(size_t n) { return na__alloc_should_fail() ? NULL : malloc(n); }

void *na__calloc(size_t count, size_t size)
{
    return na__alloc_should_fail() ? NULL : calloc(count, size);
}

void *na__realloc(void *p, size_t n)
{
    return na__alloc_should_fail() ? NULL : realloc(p, n);
}

char *na__raw_strdup(const char *s) { return na__alloc_should_fail() ? NULL : strdup(s); }

char *na__raw_strndup(const char *s, size_t n)
{
    return na__alloc_should_fail() ? NULL : strndup(s, n);
}
