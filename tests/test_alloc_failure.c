/* Allocation-failure sweep: for representative operations, make the k-th
 * library allocation fail (k = 1, 2, ... until the operation no longer
 * allocates that many times), once as a single failure and once as "every
 * allocation from the k-th on". Every run must either succeed with the same
 * result as without failures, or return a status with a message and leave
 * its output untouched. Leaks on those error paths are caught by
 * LeakSanitizer in the sanitizer build (scripts/test.sh --sanitize). */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "alloc.h" /* the test hook: na__alloc_fail_after */

/* Test code allocates with libc, not through the hook. */
#undef malloc
#undef calloc
#undef realloc
#undef strdup
#undef strndup

static na_array *g_q, *g_k, *g_x, *g_tokens;
static na_layer *g_mlp;
static char g_path[64];

/* Sum of every element without allocating (safe while the hook is armed). */
static double total(const na_array *x)
{
    int64_t idx[NA_MAX_DIMS] = {0};
    double s = 0;
    if (na_size(x) == 0)
        return 0;
    do
        s += na_get(x, idx);
    while (ts_next_index(x, idx));
    return s;
}

/* Finish a one-array operation: on failure the output must be untouched. */
static na_status finish(na_status s, na_array **out, double *sum)
{
    na_array *y = *out;
    if (s != NA_OK) {
        cr_assert_null(y, "a failed call wrote its output: %s", na_last_error());
        return s;
    }
    *sum = total(y);
    na_array_free(y);
    return NA_OK;
}

/* ---- the operations ------------------------------------------------------ */

static na_status op_contract(double *sum)
{
    na_array *y = NULL;
    return finish(na_contract(g_q, g_k, NA_NAMES("projection"), &y), &y, sum);
}

static na_status op_einsum(double *sum)
{
    na_array *y = NULL;
    const na_array *xs[] = {g_q, g_k};
    return finish(na_einsum("seq:i projection:p, kv_seq:j projection:p -> a:i b:j", 2, xs,
                            &y),
                  &y, sum);
}

static na_status op_softmax(double *sum)
{
    na_array *y = NULL;
    return finish(na_softmax(g_q, NA_NAMES("seq", "projection"), &y), &y, sum);
}

static na_status op_broadcast_add(double *sum)
{
    na_array *y = NULL;
    return finish(na_add(g_q, g_k, &y), &y, sum);
}

static na_status op_mlp_call(double *sum)
{
    na_array *y = NULL;
    return finish(na_layer_call_array(g_mlp, g_x, NULL, &y), &y, sum);
}

/* Build an MLP (constructors nest: a NULL child makes the parent fail and
 * free the rest), call it, free it. */
static na_status op_mlp_build_call(double *sum)
{
    na_layer *up = NULL, *act = NULL, *down = NULL, *seq = NULL, *res = NULL;
    na_linear_new("mlp/up", 1, &(na_dim){"embedding", 8}, 1, &(na_dim){"hidden", 12}, 1,
                  &up);
    na_elementwise_new(NA_GELU, &act);
    na_linear_new("mlp/down", 1, &(na_dim){"hidden", 12}, 1, &(na_dim){"embedding", 8}, 2,
                  &down);
    na_sequential_new(NA_LAYERS(up, act, down), &seq);
    na_status s = na_residual_new(seq, &res);
    if (s != NA_OK) {
        cr_assert_null(res);
        return s;
    }
    na_array *y = NULL;
    s = finish(na_layer_call_array(res, g_x, NULL, &y), &y, sum);
    na_layer_free(res);
    return s;
}

/* Flax-style attention with a causal mask from positions; `weights` asks
 * for the weights (the general, materialised path) instead of the fused
 * kernel. Built, called and freed under the hook. */
static na_status attention(bool weights, int kv_heads, double *sum)
{
    na_mha_options o = {.num_heads = 4, .in_features = 8, .num_kv_heads = kv_heads,
                        .causal = true, .capture_weights = weights, .mask_tag = "",
                        .seed = 3, .no_bias = true};
    na_layer *attn = NULL;
    na_status s = na_mha_new(&o, &attn);
    if (s != NA_OK) {
        cr_assert_null(attn);
        return s;
    }
    na_side *side = na_side_new();
    na_array *pos = NULL, *y = NULL;
    s = side ? na_arange("seq", 5, NA_I32, &pos)
             : na_fail(NA_ERR_NO_MEMORY, "test: na_side_new returned NULL");
    if (s == NA_OK)
        s = na_side_set_array(side, NA_QUERY_POSITIONS_KEY, pos);
    if (s == NA_OK)
        s = finish(na_layer_call_array(attn, g_x, side, &y), &y, sum);
    na_array_free(pos);
    na_side_free(side);
    na_layer_free(attn);
    return s;
}

static na_status op_attention_fused(double *sum) { return attention(false, 0, sum); }
static na_status op_attention_general(double *sum) { return attention(true, 0, sum); }
static na_status op_attention_gqa(double *sum) { return attention(false, 2, sum); }

/* Decode through a KV cache: prefill 3 tokens, then one step. */
static na_status op_kv_cache_decode(double *sum)
{
    na_mha_options o = {.num_heads = 2, .in_features = 8, .causal = true, .mask_tag = "",
                        .seed = 4, .no_bias = true};
    na_layer *model = NULL;
    int converted = 0;
    na_status s = na_mha_new(&o, &model);
    if (s == NA_OK)
        s = na_attention_to_kv_cache(&model, &(na_kv_cache_options){.capacity = 8},
                                     &converted);
    na_side *side = s == NA_OK ? na_side_new() : NULL;
    if (s == NA_OK && !side)
        s = na_fail(NA_ERR_NO_MEMORY, "test: na_side_new returned NULL");
    *sum = 0;
    for (int step = 0; s == NA_OK && step < 2; step++) {
        int64_t start = step ? 3 : 0, n = step ? 1 : 3;
        na_array *x = NULL, *end = NULL, *y = NULL;
        s = na_index_by(g_x, 1, &NA_RANGE("seq", start, start + n, 1), &x);
        if (s == NA_OK)
            s = na_scalar(NA_I32, (double)start, &end);
        if (s == NA_OK)
            s = na_side_set_array(side, "cache_end_index", end);
        if (s == NA_OK) {
            double part = 0;
            s = finish(na_layer_call_array(model, x, side, &y), &y, &part);
            *sum += part;
        }
        na_array_free(x);
        na_array_free(end);
    }
    na_side_free(side);
    na_layer_free(model);
    return s;
}

/* Save the MLP's parameters, open the file, read one tensor, load back. */
static na_status op_safetensors(double *sum)
{
    na_status s = na_safetensors_save_model(g_mlp, g_path);
    na_safetensors *st = NULL;
    if (s == NA_OK)
        s = na_safetensors_open(g_path, &st);
    if (s == NA_OK) {
        na_array *w = NULL;
        s = finish(na_safetensors_get(st, na_safetensors_label(st, 0), &w), &w, sum);
        na_safetensors_close(st);
    } else {
        cr_assert_null(st);
    }
    if (s == NA_OK)
        s = na_safetensors_load_model(g_mlp, g_path);
    return s;
}

static na_status op_print_tree(double *sum)
{
    char *text = NULL;
    na_print_options po = {.color = NA_COLOR_NEVER};
    na_status s = na_print_tree_str(g_mlp, &po, &text);
    if (s != NA_OK) {
        cr_assert_null(text);
        return s;
    }
    uint64_t h = 1469598103934665603ull; /* FNV-1a: the exact text matters */
    for (const char *c = text; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ull;
    *sum = (double)(h >> 11);
    free(text);
    return NA_OK;
}

static na_status op_unflatten(double *sum)
{
    na_array *flat = NULL, *y = NULL;
    na_status s = na_untag(g_k, NA_NAMES("kv_seq", "projection"), &flat);
    if (s == NA_OK)
        s = finish(na_unflatten(flat, "(a:2 b:2), (c:2 d)", &y), &y, sum);
    na_array_free(flat);
    return s;
}

/* ---- the sweep ------------------------------------------------------------ */

typedef na_status (*op_fn)(double *sum);

static void sweep(const char *name, op_fn op, bool sticky)
{
    double want = 0, got = 0;
    NA_OK_OR_FAIL(op(&want)); /* also interns names and warms caches */
    int points = 0, failed = 0, recovered = 0;
    for (long k = 1;; k++) {
        cr_assert_lt(k, 100000, "%s: the allocations never end", name);
        na_clear_error();
        na__alloc_fail_after(k, sticky);
            na_status s = op(&got);
        long fired = na__alloc_failures();
        na__alloc_fail_after(0, false);
        if (fired == 0) { /* k is past the last allocation */
            cr_assert_eq(s, NA_OK, "%s: %s", name, na_last_error());
            cr_assert_float_eq(got, want, 1e-5 * (1 + fabs(want)), "%s", name);
            break;
        }
        points++;
        if (s == NA_OK) { /* the failure was absorbed: same result */
            recovered++;
            cr_assert_float_eq(got, want, 1e-5 * (1 + fabs(want)),
                               "%s: k=%ld succeeded with a different result: %.17g vs %.17g",
                               name, k, got, want);
            continue;
        }
        failed++;
        cr_assert_neq(na_last_error()[0], '\0', "%s: k=%ld: %s without a message", name,
                      k, na_status_name(s));
        cr_assert_eq(na_last_status(), s, "%s: k=%ld", name, k);
    }
    /* Every operation here allocates, and the hook must reach it. */
    cr_assert_gt(points, 0, "%s: no allocation was failed", name);
    fprintf(stderr, "alloc sweep %-22s %-7s %4d failure points: %4d errors, %4d absorbed\n",
            name, sticky ? "sticky" : "single", points, failed, recovered);
}

static void setup(void)
{
    na_set_num_threads(1); /* the same allocation sequence every run */
    snprintf(g_path, sizeof g_path, "/tmp/na_alloc_fail_%d.safetensors", (int)getpid());
    g_q = ts_random(NA_F32, NA_DIMS({"seq", 5}, {"heads", 2}, {"projection", 6}), 1);
    g_k = ts_random(NA_F32, NA_DIMS({"kv_seq", 4}, {"projection", 6}, {"heads", 2}), 2);
    g_x = ts_random(NA_F32, NA_DIMS({"seq", 5}, {"embedding", 8}), 3);
    g_tokens = NULL;
    na_layer *up = NULL, *act = NULL, *down = NULL;
    na_linear_new("mlp/up", 1, &(na_dim){"embedding", 8}, 1, &(na_dim){"hidden", 12}, 1,
                  &up);
    na_elementwise_new(NA_RELU, &act);
    na_linear_new("mlp/down", 1, &(na_dim){"hidden", 12}, 1, &(na_dim){"embedding", 8}, 2,
                  &down);
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(up, act, down), &g_mlp));
}

static void teardown(void)
{
    na__alloc_fail_after(0, false);
    TS_FREE(g_q, g_k, g_x, g_tokens);
    na_layer_free(g_mlp);
    unlink(g_path);
}

TestSuite(alloc_failure, .init = setup, .fini = teardown, .timeout = 300);

#define SWEEP_TEST(op)                                                        \
    Test(alloc_failure, op)                                                   \
    {                                                                         \
        sweep(#op, op_##op, false);                                           \
        sweep(#op, op_##op, true);                                            \
    }

SWEEP_TEST(contract)
SWEEP_TEST(einsum)
SWEEP_TEST(softmax)
SWEEP_TEST(broadcast_add)
SWEEP_TEST(mlp_call)
SWEEP_TEST(mlp_build_call)
SWEEP_TEST(attention_fused)
SWEEP_TEST(attention_general)
SWEEP_TEST(attention_gqa)
SWEEP_TEST(kv_cache_decode)
SWEEP_TEST(safetensors)
SWEEP_TEST(print_tree)
SWEEP_TEST(unflatten)

/* The hook itself: single failures fail once, sticky ones keep failing. */
Test(alloc_failure, hook_counts_and_stops)
{
    na_array *y = NULL;
    cr_assert_not_null(na_intern("a")); /* interned before the hook is armed */
    na__alloc_fail_after(1, false);
    NA_EXPECT_FAIL(na_zeros(NA_F32, NA_DIMS({"a", 3}), &y), NA_ERR_NO_MEMORY, "na_zeros");
    cr_assert_null(y);
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"a", 3}), &y)); /* one-shot */
    cr_assert_eq(na__alloc_failures(), 1);
    na_array_free(y);
    y = NULL;
    na__alloc_fail_after(1, true);
    NA_EXPECT_FAIL(na_zeros(NA_F32, NA_DIMS({"a", 3}), &y), NA_ERR_NO_MEMORY, "na_zeros");
    NA_EXPECT_FAIL(na_zeros(NA_F32, NA_DIMS({"a", 3}), &y), NA_ERR_NO_MEMORY, "na_zeros");
    cr_assert_geq(na__alloc_failures(), 2);
    na__alloc_fail_after(0, false);
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"a", 3}), &y));
    na_array_free(y);
}
