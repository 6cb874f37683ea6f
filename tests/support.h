/* Helpers shared by the Criterion suites. */
#ifndef NAMEDARR_TEST_SUPPORT_H
#define NAMEDARR_TEST_SUPPORT_H

#include <criterion/criterion.h>
#include <string.h>

#include <namedarr/namedarr.h>

/* Assert a call succeeds, printing the library's message if not. */
#define NA_OK_OR_FAIL(call)                                                   \
    do {                                                                      \
        na_status st_ = (call);                                               \
        cr_assert_eq(st_, NA_OK, "%s -> %s: %s", #call, na_status_name(st_),  \
                     na_last_error());                                        \
    } while (0)

/* Assert a call fails with `status` and a message containing each of the
 * given substrings. */
#define NA_EXPECT_FAIL(call, status, ...)                                     \
    do {                                                                      \
        na_status st_ = (call);                                               \
        cr_assert_eq(st_, (status), "%s -> %s (want %s): %s", #call,          \
                     na_status_name(st_), na_status_name(status),             \
                     na_last_error());                                        \
        const char *subs_[] = {__VA_ARGS__, NULL};                            \
        for (int i_ = 0; subs_[i_]; i_++)                                     \
            cr_assert(strstr(na_last_error(), subs_[i_]),                     \
                      "message of %s lacks \"%s\": %s", #call, subs_[i_],     \
                      na_last_error());                                       \
    } while (0)

/* A deterministic pseudo-random f32/f64 array in [-1, 1) (test data). */
na_array *ts_random(na_dtype dtype, int ndim, const na_dim *dims, uint64_t seed);
/* The value of x at the coordinates given by name (named axes) — `n` pairs
 * of (name, index); positional axes are addressed by names "#0", "#1"... */
double ts_at(const na_array *x, int n, const char *const *names,
             const int64_t *idx);
/* Max |a - b| over all elements, matching axes by name (shapes must agree). */
double ts_max_abs_diff(const na_array *a, const na_array *b);
/* A strided (non-contiguous) copy of x: same values and dims, but every
 * dim's stride padded (made from a bigger buffer). */
na_array *ts_strided_copy(const na_array *x);

#endif
