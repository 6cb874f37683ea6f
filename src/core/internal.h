/* Internal helpers shared by src/ (not installed). Prefix na__. */
#ifndef NAMEDARR_INTERNAL_H
#define NAMEDARR_INTERNAL_H

#include "alloc.h" /* first: redirects malloc & co. to the hooked wrappers */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "namedarr/array.h"
#include "namedarr/contract.h"
#include "namedarr/runtime.h"
#include "namedarr/status.h"

/* Reference-counted storage. */
struct na_storage {
    atomic_long refcount;
    void *data;
    size_t nbytes;
    void (*release)(void *ctx); /* NULL: data came from na__mem_alloc      */
    void *ctx;
};

/* ---- errors (error.c) ---- */
/* Set the thread's message (printf style) and return `status`. */
na_status na__fail(na_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Append to the current message (for multi-part messages). */
void na__fail_append(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A public function `op` whose callee failed with `status`: prefix the
 * callee's message with "op: " (unless it already starts so), so that every
 * message names the function the user called. Returns `status`. */
na_status na__fail_in(const char *op, na_status status);
/* The named shape of x as a string in a thread-local ring of 8 buffers:
 * usable several times in one message. */
const char *na__shape(const na_array *x);
/* A name list as "foo, bar" in the same ring. */
const char *na__names(const char *const *names);

/* ---- checked sizes (array.c) ----
 * Every element count, byte size and stride is computed through these.
 * An array holds at most NA_MAX_ELEMENTS elements, counting a size-0 axis
 * as 1 so that the strides of empty arrays stay bounded too; below that
 * bound no product of sizes, strides or byte counts overflows int64. */
static inline bool na__mul_ok(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}
/* The element count of `ndim` sizes, or -1 if a size is negative or the
 * extent (sizes, 0 counted as 1) passes NA_MAX_ELEMENTS. */
int64_t na__checked_count(int ndim, const int64_t *shape);
/* The same as a status: NA_ERR_SHAPE with a message naming `op` and the
 * shape (`names` may be NULL: all positional). *n may be NULL. */
na_status na__check_count(const char *op, int ndim, const int64_t *shape,
                          const char *const *names, int64_t *n);
/* n elements of dtype in bytes, checked (false on overflow). */
bool na__bytes_ok(int64_t n, na_dtype dtype, size_t *bytes);

/* ---- names (names.c) ----
 * Internal axis names (einsum's index names) start with this byte; na_intern
 * refuses it, so no name from a user or a file can collide with them. */
#define NA__RESERVED_NAME_BYTE '\x1f'
/* na_intern without the reserved-prefix check (name non-empty). */
const char *na__intern_reserved(const char *name);

/* ---- memory (memory.c): size-class cache for big blocks ---- */
void *na__mem_alloc(size_t nbytes);          /* 64-byte aligned; NULL on OOM */
void na__mem_free(void *p, size_t nbytes);

/* ---- storage and headers (array.c) ---- */
na_storage *na__storage_new(size_t nbytes);  /* refcount 1; NULL on OOM     */
void na__storage_retain(na_storage *s);
void na__storage_release(na_storage *s);
/* A new header duplicating the view x (dims, strides, offset), sharing
 * and retaining its storage. */
na_array *na__view_of(const na_array *x);
/* A new contiguous uninitialised array. `op` names the caller for the
 * out-of-memory message. */
na_status na__new(const char *op, na_dtype dtype, int ndim, const na_dim *dims,
                  na_array **out);
/* Same, taking the dims (names and sizes) of an existing array. */
na_status na__new_like(const char *op, na_dtype dtype, const na_array *like,
                       na_array **out);
/* Recompute nothing: fill contiguous row-major strides for x->shape. */
void na__set_contiguous_strides(na_array *x);
/* Count of names in a NULL-terminated list (NULL list = 0). */
int na__names_count(const char *const *names);

/* Element read/write as double at a flat element offset. */
double na__load(na_dtype dt, const void *base, int64_t off);
void na__store(na_dtype dt, void *base, int64_t off, double v);

/* ---- runtime (runtime.c) ---- */
int na__threads(void);      /* current thread count (>= 1)               */

#define NA__UNUSED(x) (void)(x)

#endif
