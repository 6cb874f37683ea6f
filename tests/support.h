/* The shared test harness of the Criterion suites: status assertions,
 * seeded random data, element access by axis name, strided and permuted
 * views, tolerance checks, the one plain-loop attention reference, and a
 * test leaf layer. Every suite under tests/ includes it (fast-kernel
 * tests that cannot use arrays take ts_random_buffer). */
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
/* n floats in [-scale, scale) from `seed` (the same generator as ts_random),
 * in a malloc'ed buffer with 16 spare floats (free it). */
float *ts_random_buffer(size_t n, float scale, uint64_t seed);
/* The value of x at the coordinates given by name (named axes) — `n` pairs
 * of (name, index); positional axes are addressed by names "#0", "#1"... */
double ts_at(const na_array *x, int n, const char *const *names,
             const int64_t *idx);
/* Max |a - b| over all elements, matching axes by name (shapes must agree). */
double ts_max_abs_diff(const na_array *a, const na_array *b);
/* Assert max |got - want| <= tol (axes matched by name), printing the
 * difference and `what` when not. */
#define TS_EXPECT_CLOSE(got, want, tol, what)                                 \
    do {                                                                      \
        double d_ = ts_max_abs_diff((got), (want));                           \
        cr_assert(d_ <= (tol), "%s: max |diff| %g > %g", (what), d_,          \
                  (double)(tol));                                             \
    } while (0)
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

/* ---- the plain-loop attention reference ---------------------------------
 * One query row against T keys, in double, as every framework defines it:
 *   s_j = (q . k_j) * scale; with cap > 0, s_j = cap * tanh(s_j / cap)
 *   (Gemma 2: soft cap before the mask); then s_j += bias[j] when bias is
 *   not NULL (Flax: logits + bias, then the mask); keys with keep[j] false are
 *   masked out; p = softmax_j(s); y = sum_j p_j v_j.
 * A row with no key kept gets uniform weights (Penzai, Flax and JAX, whose
 * masked-out value is a large finite negative) or zeros with zero_rows
 * (Keras, PyTorch). k_j is k + j * k_stride (D values), v_j is
 * v + j * v_stride (Dv values); keep NULL keeps every key; p (T values,
 * the weights) may be NULL. Every attention test builds its expected
 * values from this function. */
typedef struct ts_attn_row {
    int T, D, Dv;
    double scale;   /* the factor on q . k                                  */
    double cap;     /* > 0: tanh soft cap on the scaled logits              */
    bool zero_rows; /* a fully masked row gives zeros instead of uniform    */
} ts_attn_row;
void ts_attend_row(const ts_attn_row *r, const double *q, const double *k,
                   ptrdiff_t k_stride, const double *v, ptrdiff_t v_stride,
                   const bool *keep, const double *bias, double *p, double *y);
/* A malloc'ed double copy of n floats. */
double *ts_widen(const float *x, size_t n);

/* ---- the test leaf layer --------------------------------------------------
 * Type "Leaf" by default: the identity on its input, with up to two
 * optional parameters p[0], p[1] (fields "w" and "b") and a number `v`
 * (field "v"). Suites that need another name or describe() declare their
 * own na_layer_type with ts_leaf_call and ts_leaf_fields. The leaf owns
 * its parameters (released with the layer). */
typedef struct ts_leaf {
    na_layer base;
    na_param *p[2];
    double v;
} ts_leaf;
na_status ts_leaf_call(na_layer *self, const na_value *in, const na_side *side,
                       na_value **out);
#define TS_LEAF_FIELD_COUNT 2
extern const na_field_desc ts_leaf_fields[TS_LEAF_FIELD_COUNT];
extern const na_layer_type ts_leaf_type;
/* A new leaf of `type` (ts_leaf_type if NULL) holding a and b (NULL: none). */
na_layer *ts_leaf_new(const na_layer_type *type, na_param *a, na_param *b);

#endif
