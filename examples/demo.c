/* demo — named arrays at work.
 *
 * Builds a few arrays, broadcasts them by name, contracts them by name,
 * indexes and reduces by name, and prints each with its named shape. Ends
 * with the BLIS kernels namedarr selected on this machine. */
#include <stdio.h>
#include <stdlib.h>

#include <namedarr/namedarr.h>

#include "example_util.h"

#define CHECK(call) EXAMPLE_CHECK("demo", call, exit(1))

static void show(const char *title, const na_array *x)
{
    printf("-- %s\n", title);
    na_array_print(x, stdout);
}

int main(void)
{
    na_array *flat = NULL, *grid = NULL, *x = NULL;

    /* arange(30) -> (2, 3, 5) -> {foo, bar, baz} */
    CHECK(na_arange(NULL, 30, NA_F32, &flat));
    CHECK(na_reshape(flat, 3, (int64_t[]){2, 3, 5}, &grid));
    CHECK(na_tag(grid, NA_NAMES("foo", "bar", "baz"), &x));
    show("x = arange(30) tagged (foo, bar, baz)", x);

    /* Broadcasting goes by name: {foo, bar} + {baz, foo} -> {foo, bar, baz}. */
    na_array *a = NULL, *b = NULL, *ab = NULL;
    CHECK(na_ones(NA_F32, NA_DIMS({"foo", 2}, {"bar", 3}), &a));
    CHECK(na_arange("baz", 5, NA_F32, &b));
    na_array *b2 = NULL;
    CHECK(na_broadcast_to(b, NA_DIMS({"baz", 5}, {"foo", 2}), &b2));
    CHECK(na_add(a, b2, &ab));
    show("ones{foo:2, bar:3} + arange{baz:5, foo:2}", ab);

    /* Indexing by name: baz = 2, bar reversed. */
    na_array *picked = NULL;
    na_index idx[] = {NA_AT("baz", 2), NA_REVERSED("bar")};
    CHECK(na_index_by(x, 2, idx, &picked));
    show("x[baz=2, bar=reversed]", picked);

    /* Contraction by name: sum over baz; foo/bar and qux stay free. */
    na_array *w = NULL, *y = NULL;
    CHECK(na_random_normal(42, NA_F32, NA_DIMS({"baz", 5}, {"qux", 4}), 0.0, 1.0, &w));
    CHECK(na_contract(x, w, NA_NAMES("baz"), &y));
    show("contract(x{foo, bar, baz}, w{baz, qux}) over baz", y);

    /* Softmax over a named axis, then a named reduction. */
    na_array *p = NULL, *total = NULL;
    CHECK(na_softmax(y, NA_NAMES("qux"), &p));
    CHECK(na_sum(p, NA_NAMES("qux"), &total));
    show("softmax over qux, summed over qux (all ones)", total);

    /* A mistake is a message, not a crash. */
    na_array *bad = NULL, *c = NULL;
    CHECK(na_ones(NA_F32, NA_DIMS({"foo", 4}), &bad));
    if (na_add(x, bad, &c) != NA_OK)
        printf("-- adding {foo:4} to x fails cleanly:\n   %s\n", na_last_error());

    na_runtime_info info;
    CHECK(na_get_runtime_info(&info));
    printf("-- runtime\n   BLIS %s: detected '%s', using '%s' (%s)\n"
           "   sgemm kernel: %s; threads: %d of %d cores\n",
           info.blis_version, info.blis_detected, info.blis_config, info.reason,
           info.gemm_kernel, info.num_threads, info.num_cores);
    printf("   CPU features: %s\n   candidates:", info.cpu_features);
    for (int i = 0; i < info.blis_candidate_count; i++)
        printf(" %s %.0f GFLOP/s%s", info.blis_candidates[i].config,
               info.blis_candidates[i].gflops,
               i + 1 < info.blis_candidate_count ? "," : "\n");

    na_array *all[] = {flat, grid, x, a, b, b2, ab, picked, w, y, p, total, bad, c};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        na_array_free(all[i]);
    return 0;
}
