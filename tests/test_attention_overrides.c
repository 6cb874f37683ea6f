/* Flax's per-call overrides on the Flax-style builder: deterministic
 * (dropout off for one call), sow_weights (keep one call's weights), and
 * decode with init_cache(input_shape) semantics (a cache of batch rows and
 * max_length slots, filled one token per step). */
#include <math.h>
#include <stdlib.h>

#include <namedarr/attention.h>
#include <namedarr/fields.h>
#include <namedarr/tree.h>

#include "support.h"

enum { B = 2, S = 5, E = 8 };

static na_layer *mha(double dropout, bool causal)
{
    na_mha_options o = {.num_heads = 2, .in_features = E, .dropout_rate = dropout,
                        .causal = causal, .seed = 11};
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_mha_new(&o, &m));
    return m;
}

static na_array *input(void)
{
    return ts_random(NA_F32, NA_DIMS({"batch", B}, {"seq", S}, {"embedding", E}), 3);
}

static na_array *call(na_layer *m, const na_array *x, const na_side *side)
{
    na_array *y = NULL;
    NA_OK_OR_FAIL(na_layer_call_array(m, x, side, &y));
    return y;
}

/* The Dropout inside query_key_to_attn (the last child). */
static na_layer *dropout_of(na_layer *m)
{
    na_layer *qk = na_tree_get(m, "query_key_to_attn");
    return na_layer_child(qk, na_layer_child_count(qk) - 1);
}

Test(attention_overrides, deterministic_turns_dropout_off_for_one_call)
{
    na_layer *m = mha(0.5, false), *plain = NULL;
    NA_OK_OR_FAIL(na_layer_clone(m, NA_CLONE_SHARE_PARAMS, &plain));
    NA_OK_OR_FAIL(na_dropout_set_enabled(dropout_of(plain), false));
    na_array *x = input();
    na_side *det = na_side_new(), *none = na_side_new();
    NA_OK_OR_FAIL(na_side_set_flag(det, NA_DETERMINISTIC_KEY, true));
    na_array *want = call(plain, x, none), *got = call(m, x, det);
    cr_assert_eq(ts_max_abs_diff(want, got), 0, "deterministic=True: no dropout");
    na_array *dropped = call(m, x, none);
    cr_assert(ts_max_abs_diff(want, dropped) > 1e-3, "without it dropout runs");
    /* deterministic=False is the layer's own setting */
    NA_OK_OR_FAIL(na_side_set_flag(det, NA_DETERMINISTIC_KEY, false));
    na_array *again = call(m, x, det);
    cr_assert(ts_max_abs_diff(want, again) > 1e-3);
    /* a switch is one value */
    na_array *two = ts_random(NA_F32, NA_DIMS({"seq", 2}), 1), *y = NULL;
    NA_OK_OR_FAIL(na_side_set_array(det, NA_DETERMINISTIC_KEY, two));
    NA_EXPECT_FAIL(na_layer_call_array(m, x, det, &y), NA_ERR_SHAPE, "Dropout",
                   "side input 'deterministic' must be one value", "f32[seq:2]");
    TS_FREE(x, want, got, dropped, again, two);
    na_side_free(det), na_side_free(none);
    na_layer_free(m), na_layer_free(plain);
}

/* sow_weights=True for one call: the weights are kept (softmax rows sum
 * to 1, causal zeros above the diagonal); other calls keep nothing. */
Test(attention_overrides, sow_weights_for_one_call)
{
    na_layer *m = mha(0, true);
    na_array *x = input();
    na_side *none = na_side_new(), *sow = na_side_new();
    NA_OK_OR_FAIL(na_side_set_flag(sow, NA_SOW_WEIGHTS_KEY, true));
    na_array *y0 = call(m, x, none);
    cr_assert_null(na_attention_weights(m), "nothing sown by default");
    na_array *y1 = call(m, x, sow);
    cr_assert(ts_max_abs_diff(y0, y1) < 1e-5, "same output (general vs fused path)");
    const na_array *w = na_attention_weights(m);
    cr_assert_not_null(w);
    ts_expect_shape(w, "f32[batch:2, heads:2, seq:5, kv_seq:5]");
    const char *const n[] = {"batch", "heads", "seq", "kv_seq", NULL};
    for (int b = 0; b < B; b++)
        for (int h = 0; h < 2; h++)
            for (int i = 0; i < S; i++) {
                double sum = 0;
                for (int j = 0; j < S; j++) {
                    double a = ts_at(w, 4, n, (int64_t[]){b, h, i, j});
                    cr_assert(j <= i || a == 0, "causal");
                    sum += a;
                }
                cr_assert(fabs(sum - 1) < 1e-5);
            }
    TS_FREE(x, y0, y1);
    na_side_free(none), na_side_free(sow);
    na_layer_free(m);
}

/* init_cache((batch, max_length, features)) then one token per call equals
 * the full causal call, row by row. */
Test(attention_overrides, init_cache_then_decode_equals_full)
{
    na_layer *full = mha(0, true), *dec = mha(0, true);
    NA_OK_OR_FAIL(na_mha_init_cache(&dec, B, S + 2));
    cr_assert(na_layer_is(dec, &na_kv_cache_attention_type));
    cr_assert_eq(na_kv_cache_capacity(dec), S + 2);
    cr_assert_eq(na_kv_cache_length(dec), 0);
    na_param *keys = NULL;
    NA_OK_OR_FAIL(na_layer_field_param(dec, "cache_keys", &keys));
    cr_assert_not_null(keys, "the cache exists before the first call");
    ts_expect_shape(keys->value, "f32[batch:2, kv_seq:7, heads:2, projection:4]");
    na_array *x = input(), *yf = call(full, x, NULL);
    for (int t = 0; t < S; t++) {
        na_array *xs = NULL, *ys = NULL, *want = NULL;
        na_index r = NA_RANGE("seq", t, t + 1, 1);
        NA_OK_OR_FAIL(na_index_by(x, 1, &r, &xs));
        NA_OK_OR_FAIL(na_index_by(yf, 1, &r, &want));
        ys = call(dec, xs, NULL);
        cr_assert(ts_max_abs_diff(ys, want) < 1e-5, "step %d", t);
        cr_assert_eq(na_kv_cache_length(dec), t + 1);
        TS_FREE(xs, ys, want);
    }
    TS_FREE(x, yf);
    na_layer_free(full), na_layer_free(dec);
    /* each message names only the failing condition */
    na_layer *bad = mha(0, true);
    NA_EXPECT_FAIL(na_mha_init_cache(&bad, 0, 4), NA_ERR_ARGUMENT, "na_mha_init_cache",
                   "batch is 0 (must be > 0)");
    cr_assert_null(strstr(na_last_error(), "max_length"), "%s", na_last_error());
    cr_assert_null(strstr(na_last_error(), "Attention"), "%s", na_last_error());
    cr_assert_null(bad, "freed on failure");
    bad = mha(0, true);
    NA_EXPECT_FAIL(na_mha_init_cache(&bad, 2, -1), NA_ERR_ARGUMENT,
                   "na_mha_init_cache: max_length is -1 (must be > 0)");
    cr_assert_null(strstr(na_last_error(), "batch"), "%s", na_last_error());
    NA_OK_OR_FAIL(na_identity_new(&bad));
    NA_EXPECT_FAIL(na_mha_init_cache(&bad, 2, 4), NA_ERR_ARGUMENT,
                   "na_mha_init_cache: needs an Attention, got Identity");
    cr_assert_null(strstr(na_last_error(), "max_length"), "%s", na_last_error());
    NA_EXPECT_FAIL(na_mha_init_cache(NULL, 1, 4), NA_ERR_ARGUMENT, "attention is NULL");
}
