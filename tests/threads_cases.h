/* Threaded cases shared by the Criterion suite (tests/test_threads.c) and
 * the ThreadSanitizer program (tests/tsan/tsan_threads.c; Criterion cannot
 * run under TSan: its process arena clashes with TSan's memory layout).
 * Each case returns NULL when it passes, else a message. Only the public
 * API is used here.
 *
 * Sizes are chosen so the worker threads really run: elementwise arrays
 * above the 65,536-element parallel threshold, attention above the fused
 * kernels' work threshold. */
#ifndef NAMEDARR_THREADS_CASES_H
#define NAMEDARR_THREADS_CASES_H

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <namedarr/namedarr.h>

#define TC_THREADS 4

static char tc_msg[512];
static na_array *tc_a, *tc_b, *tc_ids, *tc_q, *tc_k, *tc_v;

static const char *tc_fail(const char *what, const char *detail)
{
    snprintf(tc_msg, sizeof tc_msg, "%s: %s", what, detail);
    return tc_msg;
}

/* max |a - b| (same named shape), or -1 when it cannot be computed. */
static double tc_max_abs_diff(const na_array *a, const na_array *b)
{
    na_array *d = NULL, *m = NULL;
    double r = -1;
    const char *names[NA_MAX_DIMS + 1] = {0};
    for (int i = 0; i < a->ndim; i++)
        names[i] = a->name[i];
    if (na_sub(a, b, &d) == NA_OK && na_unary(NA_ABS, d, &m) == NA_OK) {
        na_array *mx = NULL;
        if (na_max(m, names, &mx) == NA_OK)
            r = na_get(mx, (int64_t[1]){0});
        na_array_free(mx);
    }
    na_array_free(d);
    na_array_free(m);
    return r;
}

static bool tc_setup(void)
{
    na_set_num_threads(TC_THREADS);
    int32_t ids[300];
    for (int i = 0; i < 300; i++)
        ids[i] = (i * 37) % 384;
    /* 384 x 512 = 196,608 elements: three times the parallel threshold;
     * attention: 2 heads x 128 rows x 128 keys x (64 + 64) >> 262,144 */
    return na_random_uniform(1, NA_F32, NA_DIMS({"rows", 384}, {"cols", 512}), -1, 1,
                             &tc_a) == NA_OK &&
           na_random_uniform(2, NA_F32, NA_DIMS({"cols", 512}), -1, 1, &tc_b) == NA_OK &&
           na_from_data(NA_I32, NA_DIMS({"tokens", 300}), ids, &tc_ids) == NA_OK &&
           na_random_uniform(3, NA_F32,
                             NA_DIMS({"seq", 128}, {"heads", 2}, {"projection", 64}), -1, 1,
                             &tc_q) == NA_OK &&
           na_random_uniform(4, NA_F32,
                             NA_DIMS({"kv_seq", 128}, {"heads", 2}, {"projection", 64}), -1,
                             1, &tc_k) == NA_OK &&
           na_random_uniform(5, NA_F32,
                             NA_DIMS({"kv_seq", 128}, {"heads", 2}, {"projection", 64}), -1,
                             1, &tc_v) == NA_OK;
}

static void tc_teardown(void)
{
    na_array *all[] = {tc_a, tc_b, tc_ids, tc_q, tc_k, tc_v};
    for (int i = 0; i < 6; i++)
        na_array_free(all[i]);
    na_set_num_threads(0);
}

/* Run `op` on 1 thread and on TC_THREADS threads; results must agree. */
typedef na_status (*tc_op)(na_array **out);

static const char *tc_same_on_threads(const char *what, tc_op op, double tol)
{
    na_array *one = NULL, *many = NULL;
    na_set_num_threads(1);
    na_status s = op(&one);
    na_set_num_threads(TC_THREADS);
    if (s == NA_OK)
        s = op(&many);
    const char *err = NULL;
    if (s != NA_OK) {
        err = tc_fail(what, na_last_error());
    } else {
        double d = tc_max_abs_diff(one, many);
        if (d < 0 || d > tol) {
            char buf[96];
            snprintf(buf, sizeof buf, "1 vs %d threads differ by %g", TC_THREADS, d);
            err = tc_fail(what, buf);
        }
    }
    na_array_free(one);
    na_array_free(many);
    return err;
}

static na_status tc_op_add(na_array **out) { return na_add(tc_a, tc_b, out); }
static na_status tc_op_exp(na_array **out) { return na_unary(NA_EXP, tc_a, out); }
static na_status tc_op_sum_rows(na_array **out) { return na_sum(tc_a, NA_NAMES("rows"), out); }
static na_status tc_op_softmax(na_array **out)
{
    return na_softmax(tc_a, NA_NAMES("cols"), out);
}
static na_status tc_op_random(na_array **out)
{
    return na_random_normal(9, NA_F32, NA_DIMS({"x", 300}, {"y", 300}), 0, 1, out);
}
static na_status tc_op_gather(na_array **out)
{
    return na_index_by(tc_a, 1, &NA_GATHER("rows", tc_ids), out);
}
static na_status tc_op_copy_transposed(na_array **out)
{
    na_array *t = NULL;
    na_status s = na_order_as(tc_a, NA_NAMES("cols", "rows"), &t);
    if (s == NA_OK)
        s = na_copy(t, out);
    na_array_free(t);
    return s;
}
static na_status tc_op_batched_contract(na_array **out)
{
    /* 8 small products: the library runs the batch in parallel */
    na_array *x = NULL, *y = NULL;
    na_status s = na_random_uniform(1, NA_F32, NA_DIMS({"batch", 8}, {"i", 24}, {"k", 16}),
                                    -1, 1, &x);
    if (s == NA_OK)
        s = na_random_uniform(2, NA_F32, NA_DIMS({"batch", 8}, {"k", 16}, {"j", 20}), -1, 1,
                              &y);
    if (s == NA_OK)
        s = na_contract(x, y, NA_NAMES("k"), out);
    na_array_free(x);
    na_array_free(y);
    return s;
}
static na_status tc_op_fused_attention(na_array **out)
{
    na_dpa_options o = na_dpa_defaults();
    o.is_causal = true;
    o.deterministic = true;
    return na_dot_product_attention(tc_q, tc_k, tc_v, &o, out);
}
static na_status tc_op_fused_decode(na_array **out)
{
    na_array *q1 = NULL;
    na_status s = na_index_by(tc_q, 1, &NA_RANGE("seq", 0, 1, 1), &q1);
    na_dpa_options o = na_dpa_defaults();
    o.deterministic = true;
    if (s == NA_OK)
        s = na_dot_product_attention(q1, tc_k, tc_v, &o, out);
    na_array_free(q1);
    return s;
}

/* The cases, each a list of (name, op, tolerance). */
#define TC_CHECK(what, op, tol)                                               \
    do {                                                                      \
        const char *e_ = tc_same_on_threads(what, op, tol);                   \
        if (e_)                                                               \
            return e_;                                                        \
    } while (0)

static const char *tc_elementwise_and_copies(void)
{
    TC_CHECK("add", tc_op_add, 0);
    TC_CHECK("exp", tc_op_exp, 0);
    TC_CHECK("copy of a transposed view", tc_op_copy_transposed, 0);
    TC_CHECK("gather", tc_op_gather, 0);
    TC_CHECK("random_normal", tc_op_random, 0); /* counter-based: exact */
    return NULL;
}

static const char *tc_reductions(void)
{
    TC_CHECK("sum over rows", tc_op_sum_rows, 1e-4);
    TC_CHECK("softmax", tc_op_softmax, 1e-6);
    return NULL;
}

static const char *tc_contraction_and_attention(void)
{
    TC_CHECK("batched contract", tc_op_batched_contract, 1e-5);
    TC_CHECK("fused attention (prefill)", tc_op_fused_attention, 1e-5);
    TC_CHECK("fused attention (decode)", tc_op_fused_decode, 1e-5);
    return NULL;
}

/* ---- user threads calling the library at once ---------------------------- */

typedef struct tc_worker {
    int id;
    bool ok;
    char why[256];
} tc_worker;

static void *tc_work(void *arg)
{
    tc_worker *w = arg;
    w->ok = true;
    char name[32];
    for (int i = 0; i < 200 && w->ok; i++) {
        /* fresh names (interned concurrently) and names every thread shares */
        if (i % 2)
            snprintf(name, sizeof name, "t%d_axis_%d", w->id, i);
        else
            snprintf(name, sizeof name, "shared_%d", i);
        na_array *x = NULL, *y = NULL, *s = NULL;
        int64_t n = 8 + (i % 5) * 4096; /* some blocks reach the storage cache */
        na_status st = na_full(NA_F32, 1, &(na_dim){name, n}, (double)w->id, &x);
        if (st == NA_OK)
            st = na_binary_scalar(NA_MUL, x, 2.0, &y);
        if (st == NA_OK)
            st = na_sum(y, NA_NAMES(name), &s);
        if (st != NA_OK || na_get(s, (int64_t[1]){0}) != 2.0 * w->id * (double)n) {
            w->ok = false;
            snprintf(w->why, sizeof w->why, "%s: %s", name, na_last_error());
        }
        na_array_free(x);
        na_array_free(y);
        na_array_free(s);
        /* an error message belongs to the thread that caused it */
        na_array *bad = NULL;
        snprintf(name, sizeof name, "missing_%d", w->id);
        if (na_sum(tc_a, NA_NAMES(name), &bad) == NA_OK || !strstr(na_last_error(), name)) {
            w->ok = false;
            snprintf(w->why, sizeof w->why, "error message: %s", na_last_error());
        }
    }
    return NULL;
}

static const char *tc_user_threads(void)
{
    na_set_num_threads(1); /* the user threads are the parallelism here */
    pthread_t t[TC_THREADS];
    tc_worker w[TC_THREADS];
    for (int i = 0; i < TC_THREADS; i++) {
        w[i] = (tc_worker){.id = i + 1};
        if (pthread_create(&t[i], NULL, tc_work, &w[i]) != 0)
            return tc_fail("user threads", "pthread_create failed");
    }
    for (int i = 0; i < TC_THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < TC_THREADS; i++)
        if (!w[i].ok)
            return tc_fail("user threads", w[i].why);
    return NULL;
}

#endif
