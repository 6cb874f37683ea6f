/* Penzai's stateless_call: temporary parameter and state values, the layer
 * left untouched, the new state handed back (a KV-cache step). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <namedarr/namedarr.h>

#include "support.h"

static na_layer *caching_attention(void)
{
    na_layer *attn = NULL, *cached = NULL;
    NA_OK_OR_FAIL(na_mha_new(&(na_mha_options){.num_heads = 2, .in_features = 8,
                                                .causal = true, .seed = 3, .no_bias = true},
                             &attn));
    NA_OK_OR_FAIL(na_kv_cache_from_attention(attn, &(na_kv_cache_options){.capacity = 8},
                                             &cached));
    return cached;
}

static na_side *at_end(int64_t end)
{
    na_side *side = na_side_new();
    na_array *e = NULL;
    NA_OK_OR_FAIL(na_scalar(NA_I32, (double)end, &e));
    NA_OK_OR_FAIL(na_side_set_array(side, "cache_end_index", e));
    na_array_free(e);
    return side;
}

static void run(na_layer *l, const na_array *x, int64_t end, na_array **y)
{
    na_side *side = at_end(end);
    NA_OK_OR_FAIL(na_layer_call_array(l, x, side, y));
    na_side_free(side);
}

/* Copies of every state value, in tree order. */
static int states(const na_layer *l, na_array **out)
{
    na_param_list pl;
    NA_OK_OR_FAIL(na_tree_params(l, &pl));
    int n = 0;
    for (int i = 0; i < pl.count; i++)
        if (pl.items[i].param->kind == NA_STATE)
            NA_OK_OR_FAIL(na_copy(pl.items[i].param->value, &out[n++]));
    na_param_list_clear(&pl);
    return n;
}

Test(stateless, kv_cache_step_returns_the_new_cache_and_leaves_the_layer)
{
    na_layer *a = caching_attention(), *b = caching_attention();
    na_array *prompt = ts_random(NA_F32, NA_DIMS({"batch", 1}, {"seq", 3}, {"embedding", 8}), 1);
    na_array *tok = ts_random(NA_F32, NA_DIMS({"batch", 1}, {"seq", 1}, {"embedding", 8}), 2);
    na_array *y = NULL, *yn = NULL;
    run(a, prompt, 0, &y);
    na_array_free(y);
    run(b, prompt, 0, &y);
    na_array_free(y);
    na_array *before[8], *after_b[8], *after_a[8];
    int ns = states(a, before);
    cr_assert(ns >= 2, "a caching attention has its cache as state (%d)", ns);

    na_side *side = at_end(3);
    na_value *in = na_value_ref_array(tok), *out = NULL;
    na_state_list st = {0};
    NA_OK_OR_FAIL(na_stateless_call(a, 0, NULL, in, side, &out, &st));
    run(b, tok, 3, &yn); /* the same step, normally */
    cr_assert_eq(ts_max_abs_diff(na_value_array(out, "test"), yn), 0.0);
    /* the returned state is what the normal call left in b */
    int nb = states(b, after_b);
    cr_assert_eq(st.count, nb);
    for (int i = 0; i < nb; i++)
        cr_assert_eq(ts_max_abs_diff(st.values[i], after_b[i]), 0.0, "state %s", st.labels[i]);
    /* and a is untouched */
    cr_assert_eq(states(a, after_a), ns);
    for (int i = 0; i < ns; i++)
        cr_assert_eq(ts_max_abs_diff(after_a[i], before[i]), 0.0, "a's state %d moved", i);
    for (int i = 0; i < ns; i++)
        TS_FREE(before[i], after_a[i], after_b[i]);
    na_state_list_clear(&st);
    na_value_free(out);
    na_value_free(in);
    na_side_free(side);
    TS_FREE(prompt, tok, yn);
    na_layer_free(a);
    na_layer_free(b);
}

Test(stateless, temporary_parameters_and_errors)
{
    na_layer *lin = NULL;
    NA_OK_OR_FAIL(
        na_linear_new("lin", 1, &(na_dim){"a", 3}, 1, &(na_dim){"b", 2}, 1, &lin));
    na_array *x = ts_random(NA_F32, NA_DIMS({"a", 3}), 4);
    /* weights given in another axis order: ones {b, a} -> y = sum(x) */
    na_array *ones = NULL;
    NA_OK_OR_FAIL(na_ones(NA_F32, NA_DIMS({"b", 2}, {"a", 3}), &ones));
    na_value *in = na_value_ref_array(x), *out = NULL;
    na_labeled_array v = {"lin.weights", ones};
    NA_OK_OR_FAIL(na_stateless_call(lin, 1, &v, in, NULL, &out, NULL));
    double sum = 0;
    for (int i = 0; i < 3; i++)
        sum += ts_at(x, 1, NA_NAMES("a"), (int64_t[]){i});
    const na_array *y = na_value_array(out, "test");
    for (int j = 0; j < 2; j++)
        cr_assert(fabs(ts_at(y, 1, NA_NAMES("b"), (int64_t[]){j}) - sum) < 1e-6);
    na_value_free(out);
    /* the layer kept its own weights */
    na_array *y2 = NULL;
    NA_OK_OR_FAIL(na_layer_call_array(lin, x, NULL, &y2));
    cr_assert(fabs(ts_at(y2, 1, NA_NAMES("b"), (int64_t[]){0}) - sum) > 1e-6);

    out = NULL;
    na_labeled_array unknown = {"nope", ones};
    NA_EXPECT_FAIL(na_stateless_call(lin, 1, &unknown, in, NULL, &out, NULL),
                   NA_ERR_NOT_FOUND, "na_stateless_call", "'nope'");
    na_array *bad = NULL;
    NA_OK_OR_FAIL(na_ones(NA_F32, NA_DIMS({"b", 2}, {"a", 4}), &bad));
    na_labeled_array mis = {"lin.weights", bad};
    NA_EXPECT_FAIL(na_stateless_call(lin, 1, &mis, in, NULL, &out, NULL), NA_ERR_SHAPE,
                   "'lin.weights' is f32[b:2, a:4]", "parameter is f32[a:3, b:2]");
    NA_EXPECT_FAIL(na_stateless_call(lin, 2, (na_labeled_array[]){v, v}, in, NULL, &out,
                                     NULL),
                   NA_ERR_ARGUMENT, "'lin.weights' is given twice");
    NA_EXPECT_FAIL(na_stateless_call(NULL, 0, NULL, in, NULL, &out, NULL), NA_ERR_ARGUMENT,
                   "na_stateless_call");
    cr_assert_null(out);
    na_value_free(in);
    TS_FREE(x, ones, y2, bad);
    na_layer_free(lin);
}
