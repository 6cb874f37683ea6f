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

/* Free every listed array (NULL entries are fine): TS_FREE(a, b, c). */
#define TS_FREE(...)                                                          \
    ts_free_n((int)(sizeof((na_array *[]){__VA_ARGS__}) / sizeof(na_array *)), \
              (na_array *[]){__VA_ARGS__})
void ts_free_n(int n, na_array *const *xs);

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
/* Step idx (one entry per dim of x) to the next element in row-major dim
 * order; false after the last. */
bool ts_next_index(const na_array *x, int64_t *idx);
/* A view of x whose dim i is x's dim perm[i] (names, sizes, strides). */
na_array *ts_permuted(const na_array *x, const int *perm);
/* Penzai's running example: arange(30) reshaped (2, 3, 5), tagged foo, bar,
 * baz (f32). */
na_array *ts_penzai_x(void);
/* Assert na_shape_str(x) is `want`, e.g. "f32[foo:2, bar:3 | 5]". */
void ts_expect_shape(const na_array *x, const char *want);

#endif
