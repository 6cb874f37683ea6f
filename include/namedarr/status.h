/* namedarr/status.h — status codes and the per-thread error message.
 *
 * Every namedarr function that can fail returns an na_status. On failure the
 * calling thread's last-error message names the operation, the axes and the
 * shapes involved, e.g.
 *
 *   na_add: size clash on axis 'foo': lhs f32[foo:2, bar:3] vs rhs f32[foo:4]
 *
 *   na_array *y = NULL;
 *   if (na_add(a, b, &y) != NA_OK)
 *       fprintf(stderr, "%s\n", na_last_error());
 *
 * namedarr never aborts or exits on user input, and leaves every output
 * pointer untouched (or NULL) when it fails.
 */
#ifndef NAMEDARR_STATUS_H
#define NAMEDARR_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default) /* the na_ API; the rest is hidden */

typedef enum na_status {
    NA_OK = 0,
    NA_ERR_ARGUMENT,    /* a NULL pointer, a bad count, a malformed spec    */
    NA_ERR_AXIS,        /* an axis name absent, repeated, or clashing       */
    NA_ERR_SHAPE,       /* sizes that do not line up                         */
    NA_ERR_DTYPE,       /* a dtype the operation does not take               */
    NA_ERR_INDEX,       /* an index or range out of bounds                   */
    NA_ERR_NOT_FOUND,   /* a missing side input, label or key                */
    NA_ERR_STATE,       /* an object in the wrong state (cache full, ...)    */
    NA_ERR_NO_MEMORY,   /* allocation failed                                 */
    NA_ERR_IO,          /* a file could not be read or written               */
    NA_ERR_FORMAT,      /* a file or header is malformed                     */
    NA_ERR_UNSUPPORTED  /* valid but not implemented for these arguments     */
} na_status;

/* The message of the calling thread's last failure ("" if none). The string
 * stays valid until the next namedarr call on this thread. */
const char *na_last_error(void);

/* The last failure's status on this thread (NA_OK if none). */
na_status na_last_status(void);

/* Forget the calling thread's last failure. */
void na_clear_error(void);

/* A constant name for a status: "NA_ERR_SHAPE", ... */
const char *na_status_name(na_status status);

/* Record a failure from code outside the library (a custom layer, say) in
 * the same per-thread slot; returns `status` so it can be `return`ed. */
na_status na_fail(na_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
