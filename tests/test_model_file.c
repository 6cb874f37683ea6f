/* Model files: a tree saved with its architecture loads back with no
 * building code, prints identically, compares equal and computes
 * bit-identical outputs; every built-in layer type round-trips; a custom
 * registered type too; broken files give clear errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <namedarr/namedarr.h>

#include "support.h"

static char g_path[64];

static void make_path(void)
{
    snprintf(g_path, sizeof g_path, "/tmp/na_model_test_%d.safetensors", (int)getpid());
}

static void cleanup(void) { unlink(g_path); }

TestSuite(model_file, .init = make_path, .fini = cleanup);

static char *tree_text(const na_layer *l)
{
    char *s = NULL;
    na_print_options o = {0};
    NA_OK_OR_FAIL(na_print_tree_str(l, &o, &s));
    return s;
}

/* Save, load, and check the printout and structure (with values). */
static na_layer *round_trip(const na_layer *model)
{
    NA_OK_OR_FAIL(na_model_save(model, g_path));
    na_layer *back = NULL;
    NA_OK_OR_FAIL(na_model_load(g_path, &back));
    char *a = tree_text(model), *b = tree_text(back);
    cr_assert_str_eq(b, a, "the loaded tree prints differently:\n%s\n---\n%s", b, a);
    free(a);
    free(b);
    cr_assert(na_layer_equal(model, back, true), "loaded tree is not equal");
    return back;
}

/* The same output, bit for bit. */
static void same_output(na_layer *a, na_layer *b, const na_array *x, const na_side *side)
{
    na_array *ya = NULL, *yb = NULL;
    NA_OK_OR_FAIL(na_layer_call_array(a, x, side, &ya));
    NA_OK_OR_FAIL(na_layer_call_array(b, x, side, &yb));
    cr_assert(na_same_shape(ya, yb));
    cr_assert_eq(ts_max_abs_diff(ya, yb), 0.0, "outputs differ");
    TS_FREE(ya, yb);
}

/* A small pre-norm transformer-ish model with a tied embedding. */
static na_layer *tied_model(void)
{
    na_param *table = NULL;
    NA_OK_OR_FAIL(na_embedding_table_new("embed", "vocab", 11, 1,
                                         &(na_dim){"embedding", 8}, 1, &table));
    na_layer *look = NULL, *norm = NULL, *up = NULL, *act = NULL, *down = NULL,
             *mlp = NULL, *res = NULL, *dec = NULL, *model = NULL, *cap = NULL;
    NA_OK_OR_FAIL(na_embedding_lookup_new(table, "vocab", &look));
    NA_OK_OR_FAIL(na_rms_layer_norm_new("norm", 1, &(na_dim){"embedding", 8}, &norm));
    NA_OK_OR_FAIL(na_norm_set_eps(norm, 1e-5));
    NA_OK_OR_FAIL(na_linear_new("up", 1, &(na_dim){"embedding", 8}, 1,
                                &(na_dim){"hidden", 16}, 2, &up));
    NA_OK_OR_FAIL(na_elementwise_new(NA_GELU_TANH, &act));
    NA_OK_OR_FAIL(na_affine_new("down", 1, &(na_dim){"hidden", 16}, 1,
                                &(na_dim){"embedding", 8}, 3, &down));
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(norm, up, act, down), &mlp));
    NA_OK_OR_FAIL(na_residual_new(mlp, &res));
    NA_OK_OR_FAIL(na_embedding_decode_new(table, "vocab", &dec));
    NA_OK_OR_FAIL(na_tanh_soft_cap_new(30.0, &cap));
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(look, res, dec, cap), &model));
    na_param_release(table);
    return model;
}

static na_array *token_ids(void)
{
    int32_t ids[] = {1, 5, 7, 10, 0, 3};
    na_array *x = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_I32, NA_DIMS({"batch", 2}, {"seq", 3}), ids, &x));
    return x;
}

Test(model_file, tied_model_round_trips_and_stays_tied)
{
    na_layer *model = tied_model(), *back = round_trip(model);
    na_array *x = token_ids();
    same_output(model, back, x, NULL);
    /* the tied table is one parameter in the loaded tree */
    na_param_stats s1, s2;
    NA_OK_OR_FAIL(na_tree_param_stats(model, &s1));
    NA_OK_OR_FAIL(na_tree_param_stats(back, &s2));
    cr_assert_eq(s2.params, s1.params);
    cr_assert_eq(s2.param_elements, s1.param_elements);
    cr_assert_eq(s2.shared, 1);
    na_param *a = na_layer_param(na_layer_child(back, 0), 0);
    na_param *b = na_layer_param(na_layer_child(back, 2), 0);
    cr_assert_eq(a, b, "the tied embedding loaded as two parameters");
    char *json = NULL;
    NA_OK_OR_FAIL(na_model_architecture_json(model, &json));
    cr_assert(strstr(json, "\"type\":\"EmbeddingDecode\""), "%s", json);
    cr_assert(strstr(json, "\"param\":\"embed.embeddings\""), "%s", json);
    free(json);
    na_array_free(x);
    na_layer_free(model);
    na_layer_free(back);
}

Test(model_file, attention_model_round_trips_bit_identically)
{
    na_mha_options o = {.num_heads = 4, .in_features = 16, .num_kv_heads = 2,
                        .causal = true, .normalize_qk = true,
                        .seed = 5};
    na_layer *attn = NULL;
    NA_OK_OR_FAIL(na_mha_new(&o, &attn));
    na_layer *back = round_trip(attn);
    na_array *x = ts_random(NA_F32, NA_DIMS({"batch", 2}, {"seq", 5}, {"embedding", 16}), 9);
    same_output(attn, back, x, NULL);
    na_array_free(x);
    na_layer_free(attn);
    na_layer_free(back);
}

/* One of every registered built-in type somewhere in a (not callable)
 * tree; the test fails if a built-in type is added and left out here. */
static na_layer *zoo(void)
{
    na_layer *l[40] = {0};
    int n = 0;
    na_param *table = NULL;
    NA_OK_OR_FAIL(
        na_embedding_table_new("t", "vocab", 5, 1, &(na_dim){"embedding", 4}, 1, &table));
    NA_OK_OR_FAIL(na_embedding_lookup_new(table, "vocab", &l[n++]));
    NA_OK_OR_FAIL(na_embedding_decode_new(table, "vocab", &l[n++]));
    na_param_release(table);
    na_linear_options lo = {.name = "lin",
                            .n_in = 1,
                            .in = &(na_dim){"embedding", 4},
                            .n_out = 1,
                            .out = &(na_dim){"out", 3},
                            .n_parallel = 1,
                            .parallel = &(na_dim){"heads", 2},
                            .seed = 1};
    NA_OK_OR_FAIL(na_linear_new_ex(&lo, &l[n++]));
    NA_OK_OR_FAIL(na_add_bias_new("b", 1, &(na_dim){"out", 3}, &l[n++]));
    NA_OK_OR_FAIL(
        na_affine_new("aff", 1, &(na_dim){"out", 3}, 1, &(na_dim){"o2", 2}, 2, &l[n++]));
    NA_OK_OR_FAIL(na_named_einsum_new("a:i b:j, b:j -> a:i", &l[n++]));
    NA_OK_OR_FAIL(na_rename_axes_new(NA_NAMES("a"), NA_NAMES("z"), &l[n++]));
    NA_OK_OR_FAIL(na_constant_rescale_new(0.0, &l[n++]));
    NA_OK_OR_FAIL(na_standardize_new(NA_NAMES("embedding"), &l[n++]));
    NA_OK_OR_FAIL(na_rms_standardize_new(NA_NAMES("embedding"), &l[n++]));
    NA_OK_OR_FAIL(na_layer_norm_new("ln", 1, &(na_dim){"embedding", 4}, &l[n++]));
    NA_OK_OR_FAIL(na_rms_layer_norm_new("rms", 1, &(na_dim){"embedding", 4}, &l[n++]));
    NA_OK_OR_FAIL(na_softmax_layer_new(NA_NAMES("kv_seq"), &l[n++]));
    NA_OK_OR_FAIL(na_elementwise_new(NA_SILU, &l[n++]));
    NA_OK_OR_FAIL(na_tanh_soft_cap_new(50, &l[n++]));
    NA_OK_OR_FAIL(na_cast_to_dtype_new(NA_F64, &l[n++]));
    NA_OK_OR_FAIL(na_dropout_new(0.25, NA_NAMES("seq"), 3, &l[n++]));
    NA_OK_OR_FAIL(na_apply_rope_new("projection", &(na_rope_options){.max_wavelength = 500},
                                    &l[n++]));
    NA_OK_OR_FAIL(na_apply_rope_subset_new("projection", 4, NULL, &l[n++]));
    NA_OK_OR_FAIL(na_check_structure_new("batch:B seq:S ...", &l[n++]));
    NA_OK_OR_FAIL(na_identity_new(&l[n++]));
    na_layer *i1 = NULL, *i2 = NULL, *i3 = NULL, *i4 = NULL, *i5 = NULL;
    NA_OK_OR_FAIL(na_identity_new(&i1));
    NA_OK_OR_FAIL(na_identity_new(&i2));
    NA_OK_OR_FAIL(na_identity_new(&i3));
    NA_OK_OR_FAIL(na_identity_new(&i4));
    NA_OK_OR_FAIL(na_identity_new(&i5));
    NA_OK_OR_FAIL(na_residual_new(i1, &l[n++]));
    NA_OK_OR_FAIL(na_branch_add_new(2, (na_layer *[]){i2, i3}, &l[n++]));
    NA_OK_OR_FAIL(na_branch_mul_new(1, (na_layer *[]){i4}, &l[n++]));
    NA_OK_OR_FAIL(na_named_group_new("group", 1, (na_layer *[]){i5}, &l[n++]));
    NA_OK_OR_FAIL(na_apply_attention_mask_new("m", -0.6931471805599453, &l[n++]));
    NA_OK_OR_FAIL(na_apply_causal_mask_new(&(na_causal_mask_options){.window = 3}, &l[n++]));
    NA_OK_OR_FAIL(na_masked_softmax_new("kv_seq", NA_MASKED_ROWS_ZERO, 0, &l[n++]));
    NA_OK_OR_FAIL(na_apply_attention_bias_new("rel", &l[n++]));
    NA_OK_OR_FAIL(na_apply_alibi_bias_new(&(na_alibi_options){.num_heads = 6,
                                                              .group_axis = "kv_heads",
                                                              .num_groups = 2},
                                          &l[n++]));
    na_gqa_options g = {.head_dim = 4, .num_query_heads = 4, .num_key_value_heads = 2,
                        .query_features = 8, .use_causal_mask = true,
                        .sliding_window = 3, .seed = 4, .name = "gqa", .no_bias = true};
    na_layer *gqa = NULL, *mha = NULL;
    NA_OK_OR_FAIL(na_gqa_new(&g, &gqa));
    l[n++] = gqa;
    NA_OK_OR_FAIL(na_mha_new(&(na_mha_options){.num_heads = 2, .in_features = 8, .seed = 6, .name = "mha", .no_bias = true},
                             &mha));
    NA_OK_OR_FAIL(na_kv_cache_from_attention(mha, &(na_kv_cache_options){.capacity = 16},
                                             &l[n++]));
    na_layer *root = NULL;
    NA_OK_OR_FAIL(na_sequential_new(n, l, &root));
    return root;
}

static na_status count_type(na_layer *layer, const char *path, int depth, void *ctx)
{
    (void)path, (void)depth;
    const na_layer_type **seen = ctx;
    for (int i = 0; i < na_layer_type_registered_count(); i++)
        if (na_layer_type_registered_at(i) == layer->type)
            seen[i] = layer->type;
    return NA_OK;
}

Test(model_file, every_builtin_type_round_trips)
{
    na_layer *root = zoo(), *back = round_trip(root);
    const na_layer_type *seen[256] = {0};
    int total = na_layer_type_registered_count();
    cr_assert(total > 20 && total < 256);
    NA_OK_OR_FAIL(na_tree_walk(back, count_type, seen));
    for (int i = 0; i < total; i++)
        cr_assert_not_null(seen[i], "built-in type %s is not in the round-trip zoo",
                           na_layer_type_registered_at(i)->name);
    na_layer_free(root);
    na_layer_free(back);
}

/* ---- a custom type, registered by the program ---------------------------- */

typedef struct scaled_softmax {
    na_layer base;
    const char **axes;
    double temperature;
} scaled_softmax;

static na_status scaled_softmax_call(na_layer *self, const na_value *in,
                                     const na_side *side, na_value **out)
{
    (void)side;
    const scaled_softmax *l = (const scaled_softmax *)self;
    const na_array *x = na_value_array(in, "ScaledSoftmax");
    if (!x)
        return na_last_status();
    na_array *t = NULL, *y = NULL;
    na_status st = na_binary_scalar(NA_DIV, x, l->temperature, &t);
    if (st == NA_OK)
        st = na_softmax(t, l->axes, &y);
    na_array_free(t);
    if (st == NA_OK && !(*out = na_value_from_array(y)))
        st = na_last_status();
    return st;
}

static const na_field_desc scaled_softmax_fields[] = {
    NA_FIELD(scaled_softmax, axes, NA_FIELD_NAMES),
    NA_FIELD(scaled_softmax, temperature, NA_FIELD_FLOAT),
};

static const na_layer_type scaled_softmax_type = {
    .name = "test.ScaledSoftmax",
    .call = scaled_softmax_call,
    .size = sizeof(scaled_softmax),
    .fields = scaled_softmax_fields,
    .field_count = NA_FIELD_COUNT(scaled_softmax_fields),
};

static na_layer *custom(void)
{
    na_layer *l = NULL;
    NA_OK_OR_FAIL(na_layer_alloc(&scaled_softmax_type, &l));
    NA_OK_OR_FAIL(na_layer_field_set_names(l, "axes", NA_NAMES("kv_seq")));
    NA_OK_OR_FAIL(na_layer_field_set_float(l, "temperature", 0.5));
    NA_OK_OR_FAIL(na_layer_finish(l));
    return l;
}

Test(model_file, custom_type_needs_registration)
{
    na_layer *l = custom(), *back = NULL;
    NA_OK_OR_FAIL(na_model_save(l, g_path));
    NA_EXPECT_FAIL(na_model_load(g_path, &back), NA_ERR_NOT_FOUND,
                   "layer type 'test.ScaledSoftmax' at '/' is not registered");
    cr_assert_null(back);
    NA_OK_OR_FAIL(na_layer_type_register(&scaled_softmax_type));
    back = round_trip(l);
    na_array *x = ts_random(NA_F32, NA_DIMS({"seq", 3}, {"kv_seq", 4}), 2);
    same_output(l, back, x, NULL);
    na_array_free(x);
    na_layer_free(l);
    na_layer_free(back);
}

/* ---- broken files ---------------------------------------------------------- */

/* Save `model` with its architecture JSON replaced by `json`. */
static void save_with_json(const na_layer *model, const char *json)
{
    na_param_list pl;
    NA_OK_OR_FAIL(na_tree_params(model, &pl));
    const char *labels[16];
    const na_array *arrays[16];
    cr_assert(pl.count <= 16);
    for (int i = 0; i < pl.count; i++) {
        labels[i] = pl.items[i].param->label;
        arrays[i] = pl.items[i].param->value;
    }
    const char *keys[] = {NA_MODEL_METADATA_KEY};
    NA_OK_OR_FAIL(na_safetensors_write_ex(g_path, pl.count, labels, arrays,
                                          &(na_safetensors_meta){1, keys, &json}));
    na_param_list_clear(&pl);
}

Test(model_file, broken_files_give_clear_errors)
{
    na_layer *lin = NULL, *back = NULL;
    NA_OK_OR_FAIL(
        na_linear_new("lin", 1, &(na_dim){"a", 2}, 1, &(na_dim){"b", 3}, 1, &lin));
    char *json = NULL;
    NA_OK_OR_FAIL(na_model_architecture_json(lin, &json));

    /* truncated JSON */
    char *cut = strdup(json);
    cut[strlen(cut) / 2] = 0;
    save_with_json(lin, cut);
    NA_EXPECT_FAIL(na_model_load(g_path, &back), NA_ERR_FORMAT, "not valid JSON");
    free(cut);

    /* an unknown type */
    save_with_json(lin, "{\"format\":\"namedarr.model/1\",\"root\":{\"type\":\"Nope\","
                        "\"fields\":{}}}");
    NA_EXPECT_FAIL(na_model_load(g_path, &back), NA_ERR_NOT_FOUND, "'Nope'",
                   "not registered");

    /* a field the type does not have */
    char *extra = malloc(strlen(json) + 64);
    const char *f = strstr(json, "\"fields\":{");
    cr_assert_not_null(f);
    size_t at = (size_t)(f - json) + strlen("\"fields\":{");
    sprintf(extra, "%.*s\"bogus\":1,%s", (int)at, json, json + at);
    save_with_json(lin, extra);
    NA_EXPECT_FAIL(na_model_load(g_path, &back), NA_ERR_FORMAT,
                   "Linear at '/' has no field 'bogus'");
    free(extra);

    /* a field of the wrong kind */
    save_with_json(lin, "{\"format\":\"namedarr.model/1\",\"root\":{\"type\":\"Sequential\","
                        "\"fields\":{\"children\":7}}}");
    NA_EXPECT_FAIL(na_model_load(g_path, &back), NA_ERR_FORMAT,
                   "field 'children' of Sequential at '/' must be a list of layers");

    /* a missing field */
    save_with_json(lin, "{\"format\":\"namedarr.model/1\",\"root\":{\"type\":\"Sequential\","
                        "\"fields\":{}}}");
    NA_EXPECT_FAIL(na_model_load(g_path, &back), NA_ERR_FORMAT,
                   "field 'children' of Sequential at '/' is missing");

    /* a plain safetensors file (no architecture) */
    NA_OK_OR_FAIL(na_safetensors_save_model(lin, g_path));
    NA_EXPECT_FAIL(na_model_load(g_path, &back), NA_ERR_FORMAT, "without a model architecture");

    /* bad arguments */
    NA_EXPECT_FAIL(na_model_load(NULL, &back), NA_ERR_ARGUMENT, "na_model_load");
    NA_EXPECT_FAIL(na_model_save(NULL, g_path), NA_ERR_ARGUMENT, "model is NULL");
    NA_EXPECT_FAIL(na_model_load("/nonexistent/x.safetensors", &back), NA_ERR_IO,
                   "cannot open");
    cr_assert_null(back);
    free(json);
    na_layer_free(lin);
}
