/* Checked sizes and hostile specs: element counts past NA_MAX_ELEMENTS or
 * overflowing int64 fail cleanly in constructors, views, reshape, binary
 * ops, layers and unflatten; reserved internal axis names cannot be forged;
 * inspectors take NULL; the storage cache gives memory back when the
 * system refuses a block. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <namedarr/attention.h>
#include <namedarr/checkpoint.h>
#include <namedarr/combinators.h>
#include <namedarr/layers.h>
#include <namedarr/runtime.h>

#include "support.h"

#define HUGE62 ((int64_t)1 << 62)

#if defined(__SANITIZE_ADDRESS__)
#define TS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TS_ASAN 1
#endif
#endif

/* ---- constructors -------------------------------------------------------- */

Test(sizes, issue_reproducer_random_normal_and_empty_fail_cleanly)
{
    na_array *x = NULL;
    NA_EXPECT_FAIL(na_random_normal(1, NA_F32, 1, &(na_dim){"x", HUGE62}, 0, 1, &x),
                   NA_ERR_SHAPE, "na_random_normal", "[x:4611686018427387904]",
                   "2^48");
    cr_assert_null(x);
    NA_EXPECT_FAIL(na_empty(NA_F32, 1, &(na_dim){"x", HUGE62}, &x), NA_ERR_SHAPE,
                   "na_empty", "x:4611686018427387904");
    cr_assert_null(x);
    /* bytes = n * 8 wraps to 0 without the check */
    NA_EXPECT_FAIL(na_zeros(NA_F64, 1, &(na_dim){NULL, (int64_t)1 << 61}, &x),
                   NA_ERR_SHAPE, "na_zeros", "2305843009213693952");
    /* a product that overflows int64 */
    NA_EXPECT_FAIL(na_ones(NA_F32, NA_DIMS({"a", (int64_t)1 << 40}, {"b", (int64_t)1 << 40}),
                           &x),
                   NA_ERR_SHAPE, "na_ones", "a:1099511627776, b:1099511627776");
    /* the bound is on the extent: a zero axis does not excuse a huge one
     * (its neighbours' strides would overflow) */
    NA_EXPECT_FAIL(na_empty(NA_F32, NA_DIMS({"a", 0}, {"b", HUGE62}, {"c", 4}), &x),
                   NA_ERR_SHAPE, "na_empty");
    cr_assert_null(x);
}

Test(sizes, the_limit_itself_is_exact)
{
    na_array *x = NULL;
    /* 2^48 elements of bool would be 256 TiB: the shape passes the size
     * check and the allocation fails as out of memory, with a message. */
#ifdef TS_ASAN
    na_status st = NA_ERR_NO_MEMORY; /* ASan aborts on such a request */
    na_fail(st, "na_empty: (not tried under AddressSanitizer)");
#else
    na_status st = na_empty(NA_BOOL, NA_DIMS({"a", (int64_t)1 << 24}, {"b", (int64_t)1 << 24}),
                            &x);
#endif
    if (st == NA_OK) { /* an overcommitting system may hand it out */
        na_array_free(x);
    } else {
        cr_assert_eq(st, NA_ERR_NO_MEMORY, "%s", na_last_error());
        cr_assert(strstr(na_last_error(), "na_empty"), "%s", na_last_error());
    }
    x = NULL;
    NA_EXPECT_FAIL(na_empty(NA_BOOL, NA_DIMS({"a", ((int64_t)1 << 24) + 1}, {"b", (int64_t)1 << 24}),
                            &x),
                   NA_ERR_SHAPE, "na_empty");
    /* empty arrays with ordinary sizes are fine */
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"a", 0}, {"b", 1000}), &x));
    cr_assert_eq(na_size(x), 0);
    na_array_free(x);
}

Test(sizes, from_data_wrap_and_arange_are_checked)
{
    float v = 1;
    na_array *x = NULL;
    NA_EXPECT_FAIL(na_from_data(NA_F32, 1, &(na_dim){"x", HUGE62}, &v, &x),
                   NA_ERR_SHAPE, "na_from_data");
    NA_EXPECT_FAIL(na_wrap(NA_F32, 1, &(na_dim){"x", HUGE62}, &v, NULL, NULL, &x),
                   NA_ERR_SHAPE, "na_wrap");
    NA_EXPECT_FAIL(na_arange("x", HUGE62, NA_I32, &x), NA_ERR_SHAPE, "na_arange");
    cr_assert_null(x);
}

/* ---- views and ops -------------------------------------------------------- */

Test(sizes, broadcast_to_past_the_limit_fails)
{
    na_array *s = NULL, *b = NULL;
    NA_OK_OR_FAIL(na_scalar(NA_F32, 2, &s));
    NA_EXPECT_FAIL(na_broadcast_to(s, NA_DIMS({"a", (int64_t)1 << 30}, {"b", (int64_t)1 << 30}),
                                   &b),
                   NA_ERR_SHAPE, "na_broadcast_to", "a:1073741824, b:1073741824");
    NA_EXPECT_FAIL(na_broadcast_to(s, 1, &(na_dim){"a", HUGE62}, &b), NA_ERR_SHAPE,
                   "na_broadcast_to");
    cr_assert_null(b);
    /* two legal broadcast views whose union is too big */
    na_array *u = NULL, *v = NULL, *w = NULL;
    NA_OK_OR_FAIL(na_broadcast_to(s, 1, &(na_dim){"a", (int64_t)1 << 30}, &u));
    NA_OK_OR_FAIL(na_broadcast_to(s, 1, &(na_dim){"b", (int64_t)1 << 30}, &v));
    NA_EXPECT_FAIL(na_add(u, v, &w), NA_ERR_SHAPE, "na_add", "2^48");
    NA_EXPECT_FAIL(na_where(NULL, u, v, &w), NA_ERR_ARGUMENT, "na_where");
    cr_assert_null(w);
    TS_FREE(s, u, v);
}

Test(sizes, reshape_size_check_does_not_overflow)
{
    na_array *x = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_arange(NULL, 12, NA_F32, &x));
    /* 4 * 4611686018427387907 wraps to 12 in int64 */
    NA_EXPECT_FAIL(na_reshape(x, 2, (int64_t[]){4, 4611686018427387907LL}, &y),
                   NA_ERR_SHAPE, "na_reshape", "4611686018427387907");
    cr_assert_null(y);
    NA_EXPECT_FAIL(na_reshape(x, 3, (int64_t[]){0, HUGE62, 4}, &y), NA_ERR_SHAPE,
                   "na_reshape");
    NA_OK_OR_FAIL(na_reshape(x, 2, (int64_t[]){4, 3}, &y));
    cr_assert_eq(na_get(y, (int64_t[]){3, 2}), 11.0);
    TS_FREE(x, y);
}

Test(sizes, gather_result_is_checked)
{
    /* a legal broadcast table of 2^48 elements gathered by 64 ids would
     * give 2^52 */
    na_array *s = NULL, *t = NULL, *ids = NULL, *g = NULL;
    NA_OK_OR_FAIL(na_scalar(NA_F32, 1, &s));
    NA_OK_OR_FAIL(na_broadcast_to(s, NA_DIMS({"vocab", 4}, {"e", (int64_t)1 << 23},
                                             {"f", (int64_t)1 << 23}), &t));
    NA_OK_OR_FAIL(na_zeros(NA_I32, 1, &(na_dim){"tok", 64}, &ids));
    na_index ix = NA_GATHER("vocab", ids);
    NA_EXPECT_FAIL(na_index_by(t, 1, &ix, &g), NA_ERR_SHAPE, "e:8388608",
                   "tok:64");
    cr_assert_null(g);
    TS_FREE(s, t, ids);
}

/* ---- layers ---------------------------------------------------------------- */

Test(sizes, layer_constructors_with_huge_features_fail_cleanly)
{
    na_layer *l = NULL;
    NA_EXPECT_FAIL(na_linear_new("up", 1, &(na_dim){"in", (int64_t)1 << 40}, 1,
                                 &(na_dim){"out", (int64_t)1 << 40}, 1, &l),
                   NA_ERR_SHAPE, "in:1099511627776, out:1099511627776");
    cr_assert_null(l);
    NA_EXPECT_FAIL(
        na_linear_new("up", 1, &(na_dim){"in", HUGE62}, 1, &(na_dim){"out", 4}, 1, &l),
        NA_ERR_SHAPE, "in:4611686018427387904");
    cr_assert_null(l);
    na_mha_options o = {.num_heads = 2, .in_features = HUGE62, .no_bias = true};
    na_status st = na_mha_new(&o, &l);
    cr_assert(st == NA_ERR_SHAPE || st == NA_ERR_ARGUMENT, "%s: %s",
              na_status_name(st), na_last_error());
    cr_assert_null(l);
}

/* ---- unflatten and CheckStructure specs ----------------------------------- */

static na_array *flat16(void)
{
    na_array *x = NULL;
    NA_OK_OR_FAIL(na_arange(NULL, 16, NA_F32, &x));
    return x;
}

Test(sizes, unflatten_rejects_overflow_erange_and_trailing_commas)
{
    na_array *x = flat16(), *y = NULL;
    /* 4 * 4611686018427387908 wraps to 16: sizes past the limit are refused */
    NA_EXPECT_FAIL(na_unflatten(x, "(a:4 b:4611686018427387908)", &y), NA_ERR_ARGUMENT,
                   "na_unflatten", "bad size for 'b'");
    /* 2^40 * 2^40 * 2^40 wraps to 0 */
    NA_EXPECT_FAIL(na_unflatten(x, "(a:1099511627776 b:1099511627776 c:1099511627776 d)",
                                &y),
                   NA_ERR_SHAPE, "na_unflatten", "cannot split");
    NA_EXPECT_FAIL(na_unflatten(x, "(a:1099511627776 b:1099511627776 c:1099511627776)",
                                &y),
                   NA_ERR_SHAPE, "na_unflatten", "cannot split");
    /* strtoll clamps to INT64_MAX with ERANGE */
    NA_EXPECT_FAIL(na_unflatten(x, "(a:100000000000000000000000 b)", &y), NA_ERR_ARGUMENT,
                   "na_unflatten", "bad size for 'a'");
    NA_EXPECT_FAIL(na_unflatten(x, "a,", &y), NA_ERR_ARGUMENT, "trailing ','");
    NA_EXPECT_FAIL(na_unflatten(x, "a , ", &y), NA_ERR_ARGUMENT, "trailing ','");
    NA_EXPECT_FAIL(na_unflatten(x, "(a:-4 b)", &y), NA_ERR_ARGUMENT, "bad size");
    cr_assert_null(y);
    NA_OK_OR_FAIL(na_unflatten(x, "(a:4 b)", &y));
    cr_assert_eq(na_axis_size(y, "b"), 4);
    TS_FREE(x, y);
}

Test(sizes, unflatten_never_writes_past_sixteen_axes)
{
    /* one positional axis of size 1 and 15 named ones; a group of 16 names
     * would make 31 axes */
    na_dim dims[NA_MAX_DIMS];
    char names[NA_MAX_DIMS][8];
    for (int d = 0; d < NA_MAX_DIMS; d++) {
        snprintf(names[d], sizeof names[d], "n%d", d);
        dims[d] = (na_dim){d == 0 ? NULL : names[d], 1};
    }
    na_array *x = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_MAX_DIMS, dims, &x));
    NA_EXPECT_FAIL(na_unflatten(x, "(a:1 b:1 c:1 d:1 e:1 f:1 g:1 h:1 i:1 j:1 k:1 l:1 m:1 n:1 o:1 p:1)", &y),
                   NA_ERR_ARGUMENT, "na_unflatten", "more than 16 axes");
    NA_EXPECT_FAIL(na_unflatten(x, "(a:1 b:1)", &y), NA_ERR_ARGUMENT, "more than 16 axes");
    cr_assert_null(y);
    /* 18 groups against 16 positional axes */
    na_array *p = NULL;
    for (int d = 0; d < NA_MAX_DIMS; d++)
        dims[d].name = NULL;
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_MAX_DIMS, dims, &p));
    NA_EXPECT_FAIL(na_unflatten(p, "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r", &y),
                   NA_ERR_SHAPE, "more groups");
    NA_OK_OR_FAIL(na_unflatten(p, "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p", &y));
    cr_assert_eq(na_named_count(y), 16);
    TS_FREE(x, p, y);
}

Test(sizes, check_structure_rejects_trailing_comma_and_clamped_sizes)
{
    na_layer *c = NULL;
    NA_EXPECT_FAIL(na_check_structure_new("a:S,", &c), NA_ERR_ARGUMENT,
                   "trailing ','", "\"a:S,\"");
    NA_EXPECT_FAIL(na_check_structure_new("a:S, ", &c), NA_ERR_ARGUMENT, "trailing ','");
    NA_EXPECT_FAIL(na_check_structure_new("a:100000000000000000000000", &c),
                   NA_ERR_ARGUMENT, "bad size '100000000000000000000000'");
    NA_EXPECT_FAIL(na_check_structure_new("a:10^23", &c), NA_ERR_ARGUMENT,
                   "na_check_structure_new");
    cr_assert_null(c);
    NA_OK_OR_FAIL(na_check_structure_new("a:S, b:S", &c));
    na_layer_free(c);
}

/* ---- reserved names --------------------------------------------------------- */

Test(sizes, reserved_internal_names_cannot_be_forged)
{
    const char *forged = "\x1fi";
    cr_assert_null(na_intern(forged));
    cr_assert_eq(na_last_status(), NA_ERR_AXIS);
    cr_assert(strstr(na_last_error(), "reserved"), "%s", na_last_error());
    na_array *x = NULL, *y = NULL, *v = NULL;
    NA_EXPECT_FAIL(na_zeros(NA_F32, NA_DIMS({forged, 40}, {"a", 16}), &x), NA_ERR_AXIS,
                   "na_zeros", "reserved");
    cr_assert_null(x);
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"a", 16}, {NULL, 40}), &x));
    NA_EXPECT_FAIL(na_tag(x, NA_NAMES(forged), &v), NA_ERR_AXIS, "na_tag", "reserved");
    NA_EXPECT_FAIL(na_rename(x, NA_NAMES("a"), NA_NAMES(forged), &v), NA_ERR_AXIS,
                   "na_rename", "reserved");
    NA_EXPECT_FAIL(na_broadcast_to(x, NA_DIMS({"a", 16}, {forged, 3}, {NULL, 40}), &v),
                   NA_ERR_AXIS, "reserved");
    NA_EXPECT_FAIL(na_einsum("\x1fi:i -> b:i", 1, (const na_array *[]){x}, &y),
                   NA_ERR_AXIS, "na_einsum");
    cr_assert_null(v);
    cr_assert_null(y);
    /* the einsum of the issue, on a legal array: 'a' is summed nowhere */
    na_array *t = NULL;
    NA_OK_OR_FAIL(na_tag(x, NA_NAMES("c"), &t));
    NA_OK_OR_FAIL(na_einsum("a:i -> b:i", 1, (const na_array *[]){t}, &y));
    ts_expect_shape(y, "f32[c:40, b:16]");
    /* merged axes of one index must agree in size */
    na_array *z = NULL;
    NA_EXPECT_FAIL(na_einsum("a:i c:i -> b:i", 1, (const na_array *[]){t}, &z),
                   NA_ERR_SHAPE, "index 'i' has size 16", "40");
    TS_FREE(x, t, y);
}

/* ---- inspectors on NULL ------------------------------------------------------ */

Test(sizes, inspectors_take_null)
{
    cr_assert_eq(na_size(NULL), 0);
    cr_assert_eq(na_named_count(NULL), 0);
    cr_assert_eq(na_positional_count(NULL), 0);
    cr_assert_eq(na_axis_index(NULL, "a"), -1);
    cr_assert_eq(na_axis_size(NULL, "a"), -1);
    cr_assert_eq(na_positional_index(NULL, 0), -1);
    cr_assert(!na_is_contiguous(NULL));
    cr_assert_null(na_data(NULL));
    cr_assert(isnan(na_get(NULL, (int64_t[]){0})));
    cr_assert(!na_same_shape(NULL, NULL));
    char buf[16];
    cr_assert_eq(na_shape_str(NULL, buf, sizeof buf), 6);
    cr_assert_str_eq(buf, "(null)");
    cr_assert_eq(na_dtype_size((na_dtype)99), 0);
    cr_assert_str_eq(na_dtype_name((na_dtype)99), "?");
    na_array_free(NULL);
    na_array *x = NULL;
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"a", 2}), &x));
    cr_assert(!na_same_shape(x, NULL));
    cr_assert(isnan(na_get(x, NULL)));
    na_array_free(x);
}

/* ---- the storage cache ------------------------------------------------------- */

#ifndef TS_ASAN
static long vm_size_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb * 1024;
}

/* In a child under an address-space limit: a 1.17 GiB array freed into the
 * cache must not make a 0.86 GiB request fail. Exit code 0 = pass. */
static int cache_gives_back_child(void)
{
    na_set_mem_cache_limit((size_t)4 << 30);
    long base = vm_size_bytes();
    if (base <= 0)
        return 3;
    struct rlimit rl = {.rlim_cur = (rlim_t)base + ((rlim_t)1600 << 20),
                        .rlim_max = (rlim_t)base + ((rlim_t)1600 << 20)};
    if (setrlimit(RLIMIT_AS, &rl) != 0)
        return 4;
    na_array *a = NULL, *b = NULL;
    if (na_empty(NA_F32, 1, &(na_dim){"x", (int64_t)1170 << 18}, &a) != NA_OK)
        return 5; /* 1.17 GiB */
    na_array_free(a);
    na_mem_stats ms;
    na_get_mem_stats(&ms);
    if (ms.cached_bytes < ((size_t)1170 << 20))
        return 6; /* it went to the cache */
    if (na_empty(NA_F32, 1, &(na_dim){"x", (int64_t)860 << 18}, &b) != NA_OK)
        return 1; /* 0.86 GiB */
    na_array_free(b);
    return 0;
}

#endif

Test(sizes, cache_is_trimmed_when_an_allocation_fails)
{
#ifdef TS_ASAN
    cr_skip_test("an address-space limit does not work under AddressSanitizer");
#else
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(cache_gives_back_child());
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "child died (signal %d)", WTERMSIG(status));
    cr_assert_eq(WEXITSTATUS(status), 0, "child failed at step %d",
                 WEXITSTATUS(status));
#endif
}

Test(sizes, cache_limit_and_release)
{
    na_set_mem_cache_limit((size_t)1 << 20);
    na_array *a = NULL;
    NA_OK_OR_FAIL(na_empty(NA_F32, 1, &(na_dim){"x", 1 << 20}, &a)); /* 4 MiB */
    na_array_free(a);
    na_mem_stats ms;
    na_get_mem_stats(&ms);
    cr_assert_eq(ms.cache_limit, (size_t)1 << 20);
    cr_assert_leq(ms.cached_bytes, (size_t)1 << 20);
    na_set_mem_cache_limit((size_t)1 << 30);
    NA_OK_OR_FAIL(na_empty(NA_F32, 1, &(na_dim){"x", 1 << 20}, &a));
    na_array_free(a);
    na_get_mem_stats(&ms);
    cr_assert_geq(ms.cached_bytes, (size_t)4 << 20);
    na_mem_trim();
    na_get_mem_stats(&ms);
    cr_assert_eq(ms.cached_bytes, 0);
}
