/* The library's allocation wrappers and the allocation-failure hook used by
 * the tests (tests/test_alloc_failure.c). Internal, prefix na__.
 *
 * internal.h includes this header, so every library source that includes
 * internal.h (directly or through a module's private header) calls
 * na__malloc, na__calloc, na__realloc, na__raw_strdup and na__raw_strndup when it
 * writes malloc, calloc, ... : the macros below redirect the standard
 * names. <stdlib.h> and <string.h> are included first so their own
 * declarations are not renamed. na__mem_alloc (memory.c) consults the same
 * hook. Only library code is affected: tests and programs keep libc's
 * functions. */
#ifndef NAMEDARR_ALLOC_H
#define NAMEDARR_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

void *na__malloc(size_t n);
void *na__calloc(size_t count, size_t size);
void *na__realloc(void *p, size_t n);
char *na__raw_strdup(const char *s);
char *na__raw_strndup(const char *s, size_t n);

/* True when the hook says this allocation must fail (counts the call). */
bool na__alloc_should_fail(void);

/* Test hook: the k-th library allocation from now on fails (k >= 1; 0
 * turns the hook off). With `sticky`, every allocation from the k-th on
 * fails. Thread-safe; counts allocations on every thread. */
void na__alloc_fail_after(long k, bool sticky);
/* How many allocations the hook has failed since it was last set. */
long na__alloc_failures(void);

#define malloc(n) na__malloc(n)
#define calloc(count, size) na__calloc(count, size)
#define realloc(p, n) na__realloc(p, n)
#define strdup(s) na__raw_strdup(s)
#define strndup(s, n) na__raw_strndup(s, n)

#endif
