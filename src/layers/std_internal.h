/* Helpers shared by the standard layers (linear.c, norm.c, ...). Prefix
 * na__std_. Not installed. */
#ifndef NAMEDARR_STD_INTERNAL_H
#define NAMEDARR_STD_INTERNAL_H

#include "layers/layers_internal.h"
#include "namedarr/init.h"
#include "namedarr/layers.h"

/* The array of `in` (borrowed), or an error naming `who`. Fails unless the
 * array has named axes only when `named_only`. */
na_status na__std_input(const na_value *in, const char *who, bool named_only,
                        const na_array **x);
/* Wrap `y` (owned) as the call's output. */
na_status na__std_output(na_array *y, na_value **out);

/* A malloc'ed NULL-terminated copy of a name list, each name interned
 * (NULL list: an empty list). NULL on error (message names `who`):
 * an empty name or a repeated one. */
const char **na__std_names_dup(const char *const *names, const char *who);
/* The names of a dim list, as above. */
const char **na__std_dim_names(int n, const na_dim *dims, const char *who);
int na__std_names_len(const char *const *names);
bool na__std_names_has(const char *const *names, const char *name);

/* Every name must be an axis of x: else NA_ERR_AXIS,
 * "<who>: input f32[..] lacks <what> 'foo'". */
na_status na__std_require_axes(const na_array *x, const char *const *names,
                               const char *who, const char *what);
/* x's named axis `name` (present) must have size `size`. */
na_status na__std_require_size(const na_array *x, const char *name, int64_t size,
                               const char *who);

/* "<name>.<suffix>" (malloc'ed) or NULL with an error naming `who`. */
char *na__std_label(const char *name, const char *suffix, const char *who);

/* An out-of-memory failure naming `who`. */
na_status na__std_oom(const char *who);

#endif
