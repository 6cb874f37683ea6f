/* EmbeddingTable shared by EmbeddingLookup and EmbeddingDecode. */
#include <math.h>
#include <stdlib.h>

#include <namedarr/combinators.h>
#include <namedarr/layers.h>
#include <namedarr/tree.h>

#include "support.h"

#define IDX(...) ((const int64_t[]){__VA_ARGS__})

static double at(const na_array *x, const char *const *names, const int64_t *idx)
{
    return ts_at(x, x->ndim, names, idx);
}

static void expect_shape(const na_array *y, const char *want)
{
    char buf[256];
    na_shape_str(y, buf, sizeof buf);
    cr_assert_str_eq(buf, want);
}

static na_param *table17(void)
{
    na_param *t = NULL;
    NA_OK_OR_FAIL(na_embedding_table_new("embed", "vocabulary", 17,
                                         NA_DIMS({"foo", 5}, {"bar", 7}), 3, &t));
    return t;
}

Test(embedding, penzai_lookup_and_decode)
{
    na_param *t = table17();
    cr_assert_str_eq(t->label, "embed.embeddings");
    expect_shape(t->value, "f32[vocabulary:17, foo:5, bar:7]");
    na_layer *lookup = NULL, *decode = NULL;
    NA_OK_OR_FAIL(na_embedding_lookup_new(t, "vocabulary", &lookup));
    NA_OK_OR_FAIL(na_embedding_decode_new(t, "vocabulary", &decode));
    cr_assert_eq(na_layer_param(lookup, 0), na_layer_param(decode, 0));
    cr_assert_eq(t->refcount, 3);
    na_param_release(t);

    na_array *ids = NULL, *e = NULL, *logits = NULL;
    NA_OK_OR_FAIL(na_arange("baz", 3, NA_I32, &ids));
    NA_OK_OR_FAIL(na_layer_call_array(lookup, ids, NULL, &e));
    cr_assert_eq(e->ndim, 3);
    cr_assert_eq(na_axis_size(e, "foo"), 5);
    cr_assert_eq(na_axis_size(e, "bar"), 7);
    cr_assert_eq(na_axis_size(e, "baz"), 3);
    const na_array *tv = na_layer_param(lookup, 0)->value;
    for (int64_t z = 0; z < 3; z++)
        for (int64_t f = 0; f < 5; f++)
            for (int64_t b = 0; b < 7; b++)
                cr_assert_eq(at(e, NA_NAMES("foo", "bar", "baz"), IDX(f, b, z)),
                             at(tv, NA_NAMES("vocabulary", "foo", "bar"), IDX(z, f, b)));

    NA_OK_OR_FAIL(na_layer_call_array(decode, e, NULL, &logits));
    expect_shape(logits, "f32[baz:3, vocabulary:17]");
    for (int64_t z = 0; z < 3; z++)
        for (int64_t v = 0; v < 17; v++) {
            double ref = 0;
            for (int64_t f = 0; f < 5; f++)
                for (int64_t b = 0; b < 7; b++)
                    ref += at(tv, NA_NAMES("vocabulary", "foo", "bar"), IDX(z, f, b)) *
                           at(tv, NA_NAMES("vocabulary", "foo", "bar"), IDX(v, f, b));
            cr_assert_float_eq(at(logits, NA_NAMES("baz", "vocabulary"), IDX(z, v)), ref,
                               1e-4);
        }
    na_array_free(ids);
    na_array_free(e);
    na_array_free(logits);
    na_layer_free(lookup);
    na_layer_free(decode);
}

Test(embedding, tied_table_is_one_shared_parameter)
{
    na_param *t = table17();
    na_layer *lookup = NULL, *decode = NULL, *model = NULL;
    NA_OK_OR_FAIL(na_embedding_lookup_new(t, "vocabulary", &lookup));
    NA_OK_OR_FAIL(na_embedding_decode_new(t, "vocabulary", &decode));
    na_param_release(t);
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(lookup, decode), &model));
    na_param_stats stats;
    NA_OK_OR_FAIL(na_tree_param_stats(model, &stats));
    cr_assert_eq(stats.params, 1);
    cr_assert_eq(stats.shared, 1);
    cr_assert_eq(stats.param_elements, 17 * 5 * 7);
    /* binding the label changes both layers */
    na_array *ones = NULL, *ids = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_ones(NA_F32, NA_DIMS({"vocabulary", 17}, {"foo", 5}, {"bar", 7}), &ones));
    na_labeled_array v[] = {{"embed.embeddings", ones}};
    NA_OK_OR_FAIL(na_tree_bind(model, 1, v, NA_BIND_STRICT));
    NA_OK_OR_FAIL(na_from_data(NA_I32, NA_DIMS({"seq", 2}), (int32_t[]){4, 16}, &ids));
    NA_OK_OR_FAIL(na_layer_call_array(model, ids, NULL, &y));
    expect_shape(y, "f32[seq:2, vocabulary:17]");
    cr_assert_float_eq(at(y, NA_NAMES("seq", "vocabulary"), IDX(1, 9)), 35.0, 1e-5);
    na_array_free(ones);
    na_array_free(ids);
    na_array_free(y);
    na_layer_free(model);
}

Test(embedding, errors)
{
    na_param *t = table17();
    na_layer *lookup = NULL, *decode = NULL, *bad = NULL;
    NA_EXPECT_FAIL(na_embedding_lookup_new(t, "vocab", &bad), NA_ERR_AXIS, "'vocab'",
                   "embed.embeddings");
    NA_OK_OR_FAIL(na_embedding_lookup_new(t, "vocabulary", &lookup));
    NA_OK_OR_FAIL(na_embedding_decode_new(t, "vocabulary", &decode));
    na_param_release(t);
    na_array *x = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_arange("seq", 3, NA_F32, &x));
    NA_EXPECT_FAIL(na_layer_call_array(lookup, x, NULL, &y), NA_ERR_DTYPE,
                   "EmbeddingLookup", "i32", "f32[seq:3]");
    na_array_free(x);
    NA_OK_OR_FAIL(na_from_data(NA_I32, NA_DIMS({"seq", 2}), (int32_t[]){3, 17}, &x));
    cr_assert_neq(na_layer_call_array(lookup, x, NULL, &y), NA_OK);
    cr_assert_null(y);
    na_array_free(x);
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"seq", 2}, {"foo", 5}), &x));
    NA_EXPECT_FAIL(na_layer_call_array(decode, x, NULL, &y), NA_ERR_AXIS,
                   "EmbeddingDecode", "'bar'", "f32[seq:2, foo:5]");
    na_array_free(x);
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"foo", 5}, {"bar", 6}), &x));
    NA_EXPECT_FAIL(na_layer_call_array(decode, x, NULL, &y), NA_ERR_SHAPE, "bar:6", "bar:7");
    na_array_free(x);
    na_layer_free(lookup);
    na_layer_free(decode);
    na_param *p = NULL;
    NA_EXPECT_FAIL(na_embedding_table_new("e", "v", 0, NA_DIMS({"d", 2}), 0, &p),
                   NA_ERR_ARGUMENT, "vocabulary size");
}

Test(embedding, table_options)
{
    /* the _ex form: an explicit initializer (constant 0.25), and the same
     * table as the basic call when the options hold only the basics */
    na_init quarter = na_init_constant(0.25);
    na_embedding_options o = {.name = "t", .vocab_axis = "vocab", .vocab_size = 3,
                              .n_embedding = 1, .embedding = &(na_dim){"embedding", 2},
                              .init = &quarter};
    na_param *a = NULL, *b = NULL, *c = NULL;
    NA_OK_OR_FAIL(na_embedding_table_new_ex(&o, &a));
    ts_expect_shape(a->value, "f32[vocab:3, embedding:2]");
    cr_assert_eq(((const float *)na_data(a->value))[5], 0.25f);
    o.init = NULL;
    o.seed = 7;
    NA_OK_OR_FAIL(na_embedding_table_new_ex(&o, &b));
    NA_OK_OR_FAIL(na_embedding_table_new("t", "vocab", 3, 1, &(na_dim){"embedding", 2}, 7,
                                         &c));
    cr_assert_eq(ts_max_abs_diff(b->value, c->value), 0);
    cr_assert_gt(ts_max_abs_diff(a->value, b->value), 0);
    na_param_release(a);
    na_param_release(b);
    na_param_release(c);
    o.vocab_axis = NULL;
    NA_EXPECT_FAIL(na_embedding_table_new_ex(&o, &a), NA_ERR_ARGUMENT,
                   "na_embedding_table_new", "vocab_axis");
}
