/* The text pretty-printer: golden text, colour rules, depth limit, shared
 * parameters. */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include <namedarr/combinators.h>
#include <namedarr/layers.h>
#include <namedarr/tree.h>
#include <namedarr/layer.h>
#include <namedarr/print.h>

#include "support.h"

/* Test leaves (support.h) with a describe() of every field kind. */
static void dense_describe(const na_layer *self, na_fields *f)
{
    (void)self;
    na_fields_names(f, "in", NA_NAMES("embedding"));
    na_fields_names(f, "out", NA_NAMES("heads", "projection"));
    na_fields_bool(f, "bias", true);
}

static void knob_describe(const na_layer *self, na_fields *f)
{
    (void)self;
    na_fields_int(f, "n", -3);
    na_fields_float(f, "eps", 1e-6);
    na_fields_str(f, "mode", "tanh");
    na_array *x = NULL;
    if (na_zeros(NA_I32, 1, (na_dim[]){{"seq", 8}}, &x) == NA_OK)
        na_fields_array(f, "table", x);
    na_array_free(x);
}

static const na_layer_type dense_type = {"Dense", ts_leaf_call, .size = sizeof(ts_leaf),
                                         .fields = ts_leaf_fields,
                                         .field_count = TS_LEAF_FIELD_COUNT,
                                         .describe = dense_describe};
static const na_layer_type knob_type = {"Knobs", ts_leaf_call, .size = sizeof(ts_leaf),
                                        .describe = knob_describe};

static na_param *param(const char *label, na_param_kind kind, int n,
                       const na_dim *dims)
{
    na_array *x = NULL;
    NA_OK_OR_FAIL(na_zeros(NA_F32, n, dims, &x));
    return na_param_new(label, kind, x);
}

static na_layer *dense(na_param *w, na_param *b) { return ts_leaf_new(&dense_type, w, b); }

static na_layer *knobs(void) { return ts_leaf_new(&knob_type, NULL, NULL); }

/* embed(tied) -> block_0[check, Residual(dense)] -> block_1[...] -> decode(tied) */
static na_layer *model(void)
{
    na_param *emb = param("embed.table", NA_PARAM, NA_DIMS({"vocabulary", 100},
                                                           {"embedding", 16}));
    na_layer *blocks[2];
    for (int i = 0; i < 2; i++) {
        char wl[32], bl[32];
        snprintf(wl, sizeof wl, "block_%d/query.weights", i);
        snprintf(bl, sizeof bl, "block_%d/query.bias", i);
        na_param *w = param(wl, NA_PARAM, NA_DIMS({"embedding", 16}, {"heads", 4},
                                                   {"projection", 8}));
        na_param *b = param(bl, NA_PARAM, NA_DIMS({"heads", 4}, {"projection", 8}));
        na_layer *chk = NULL, *res = NULL;
        NA_OK_OR_FAIL(na_check_structure_new("seq:S embedding:16", &chk));
        NA_OK_OR_FAIL(na_residual_new(dense(w, b), &res));
        char name[16];
        snprintf(name, sizeof name, "block_%d", i);
        NA_OK_OR_FAIL(na_named_group_new(name, NA_LAYERS(chk, res), &blocks[i]));
    }
    na_param *cache = param("cache.keys", NA_STATE, NA_DIMS({"kv_seq", 4}, {"embedding", 16}));
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(dense(emb, NULL), blocks[0], blocks[1],
                                              knobs(), dense(na_param_retain(emb), cache)),
                                    &m));
    return m;
}

static char *print(const na_layer *m, na_print_options o)
{
    char *s = NULL;
    NA_OK_OR_FAIL(na_print_tree_str(m, &o, &s));
    return s;
}

/* The colour tests must not depend on the caller's environment. */
static void clear_colour_env(void)
{
    unsetenv("NO_COLOR");
    unsetenv("FORCE_COLOR");
    unsetenv("CLICOLOR_FORCE");
}

static const char *GOLDEN =
    "Sequential(  # 2,688 params, 64 state\n"
    "  Dense(in=[embedding], out=[heads, projection], bias=true,  # 1,600 params\n"
    "    Param(\"embed.table\", f32[vocabulary:100, embedding:16]),  # 1,600 (shared)\n"
    "  ),\n"
    "  NamedGroup(name=\"block_0\",  # 544 params\n"
    "    CheckStructure(spec=\"seq:S embedding:16\"),\n"
    "    Residual(  # 544 params\n"
    "      delta=Dense(in=[embedding], out=[heads, projection], bias=true,  # 544 params\n"
    "        Param(\"block_0/query.weights\", f32[embedding:16, heads:4, projection:8]),  # 512\n"
    "        Param(\"block_0/query.bias\", f32[heads:4, projection:8]),  # 32\n"
    "      ),\n"
    "    ),\n"
    "  ),\n"
    "  NamedGroup(name=\"block_1\",  # 544 params\n"
    "    CheckStructure(spec=\"seq:S embedding:16\"),\n"
    "    Residual(  # 544 params\n"
    "      delta=Dense(in=[embedding], out=[heads, projection], bias=true,  # 544 params\n"
    "        Param(\"block_1/query.weights\", f32[embedding:16, heads:4, projection:8]),  # 512\n"
    "        Param(\"block_1/query.bias\", f32[heads:4, projection:8]),  # 32\n"
    "      ),\n"
    "    ),\n"
    "  ),\n"
    "  Knobs(n=-3, eps=1e-06, mode=\"tanh\", table=i32[seq:8]),\n"
    "  Dense(in=[embedding], out=[heads, projection], bias=true,  # 1,600 params, 64 state\n"
    "    Param(\"embed.table\", f32[vocabulary:100, embedding:16]),  # 1,600 (shared)\n"
    "    State(\"cache.keys\", f32[kv_seq:4, embedding:16]),  # 64\n"
    "  ),\n"
    ")\n"
    "# total: 12 layers, 2,688 params (1 shared), 64 state\n";

Test(print, golden_text)
{
    na_layer *m = model();
    char *s = print(m, (na_print_options){.color = NA_COLOR_NEVER});
    cr_assert_str_eq(s, GOLDEN, "got:\n%s", s);
    free(s);
    na_layer_free(m);
}

Test(print, depth_limit_folds_with_summary)
{
    clear_colour_env();
    na_layer *m = model();
    char *s = print(m, (na_print_options){.max_depth = 2, .hide_params = true});
    cr_assert_str_eq(s,
        "Sequential(  # 2,688 params, 64 state\n"
        "  Dense(in=[embedding], out=[heads, projection], bias=true),  # 1,600 params\n"
        "  NamedGroup(name=\"block_0\",  # 544 params\n"
        "    ... 3 layers, 544 params folded\n"
        "  ),\n"
        "  NamedGroup(name=\"block_1\",  # 544 params\n"
        "    ... 3 layers, 544 params folded\n"
        "  ),\n"
        "  Knobs(n=-3, eps=1e-06, mode=\"tanh\", table=i32[seq:8]),\n"
        "  Dense(in=[embedding], out=[heads, projection], bias=true),  # 1,600 params, 64 state\n"
        ")\n"
        "# total: 12 layers, 2,688 params (1 shared), 64 state\n", "got:\n%s", s);
    free(s);
    s = print(m, (na_print_options){.max_depth = 1, .hide_total = true});
    cr_assert_str_eq(s, "Sequential(  # 2,688 params, 64 state\n"
                        "  ... 11 layers, 2.7K params folded\n"
                        ")\n", "got:\n%s", s);
    free(s);
    na_layer_free(m);
}

Test(print, forced_colour)
{
    clear_colour_env();
    na_layer *m = model();
    char *s = print(m, (na_print_options){.color = NA_COLOR_ALWAYS});
    cr_assert(strstr(s, "\x1b[1;34mSequential\x1b[0m("));
    cr_assert(strstr(s, "\x1b[1;35m (shared)\x1b[0m"));
    cr_assert(strstr(s, "\x1b[36mf32[heads:4, projection:8]\x1b[0m"));
    free(s);
    s = print(m, (na_print_options){.color = NA_COLOR_AUTO});
    cr_assert_null(strchr(s, '\x1b')); /* a string is not a terminal */
    free(s);
    na_layer_free(m);
}

/* Print to a pseudo-terminal with NA_COLOR_AUTO; return what arrived. */
static char *print_to_pty(const na_layer *m)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) || unlockpt(master))
        return NULL;
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    FILE *f = slave >= 0 ? fdopen(slave, "w") : NULL;
    if (!f) {
        close(master);
        return NULL;
    }
    na_print_options o = {.hide_params = true, .hide_total = true, .max_depth = 1};
    NA_OK_OR_FAIL(na_print_tree(m, f, &o));
    fclose(f);
    char *buf = calloc(1, 4096);
    ssize_t n = read(master, buf, 4095);
    close(master);
    if (n < 0)
        n = 0;
    buf[n] = '\0';
    return buf;
}

Test(print, terminal_colour_and_no_color)
{
    na_layer *m = model();
    clear_colour_env();
    char *s = print_to_pty(m);
    if (!s) {
        na_layer_free(m);
        cr_skip_test("no pseudo-terminal available");
    }
    cr_assert(strchr(s, '\x1b'), "expected colour on a terminal: %s", s);
    free(s);
    setenv("NO_COLOR", "1", 1);
    s = print_to_pty(m);
    cr_assert_null(strchr(s, '\x1b'), "NO_COLOR set, got: %s", s);
    free(s);
    unsetenv("NO_COLOR");
    FILE *f = tmpfile();
    NA_OK_OR_FAIL(na_print_tree(m, f, NULL));
    rewind(f);
    char buf[256] = "";
    cr_assert(fgets(buf, sizeof buf, f));
    cr_assert_str_eq(buf, "Sequential(  # 2,688 params, 64 state\n");
    fclose(f);
    na_layer_free(m);
}

Test(print, count_format)
{
    char b[32];
    cr_assert_str_eq(na_format_count(0, false, b, sizeof b), "0");
    cr_assert_str_eq(na_format_count(999, false, b, sizeof b), "999");
    cr_assert_str_eq(na_format_count(1234567, false, b, sizeof b), "1,234,567");
    cr_assert_str_eq(na_format_count(-1000, false, b, sizeof b), "-1,000");
    cr_assert_str_eq(na_format_count(999, true, b, sizeof b), "999");
    cr_assert_str_eq(na_format_count(3400, true, b, sizeof b), "3.4K");
    cr_assert_str_eq(na_format_count(999999, true, b, sizeof b), "1.0M");
    cr_assert_str_eq(na_format_count(7000000000, true, b, sizeof b), "7.0B");
}

Test(print, errors)
{
    char *s = NULL;
    NA_EXPECT_FAIL(na_print_tree_str(NULL, NULL, &s), NA_ERR_ARGUMENT, "root is NULL");
    NA_EXPECT_FAIL(na_print_tree(NULL, stdout, NULL), NA_ERR_ARGUMENT,
                   "na_print_tree: root and stream are required");
}

/* ---- the standard layers: a small model, edits, depth, tied embedding ---- */

/* lookup (tied) -> Residual(block_0: LayerNorm, up, Softmax over hidden,
 * down) -> decode (tied). vocab 8, embedding 4, hidden 6. */
static na_layer *real_model(void)
{
    na_param *table = NULL;
    NA_OK_OR_FAIL(na_embedding_table_new("embed", "vocab", 8, 1,
                                         &(na_dim){"embedding", 4}, 1, &table));
    na_layer *lookup = NULL, *decode = NULL, *norm = NULL, *up = NULL, *soft = NULL,
             *down = NULL, *group = NULL, *res = NULL, *m = NULL;
    NA_OK_OR_FAIL(na_embedding_lookup_new(table, "vocab", &lookup));
    NA_OK_OR_FAIL(na_embedding_decode_new(table, "vocab", &decode));
    na_param_release(table);
    NA_OK_OR_FAIL(na_layer_norm_new("block_0/norm", 1, &(na_dim){"embedding", 4}, &norm));
    NA_OK_OR_FAIL(na_linear_new("block_0/up", 1, &(na_dim){"embedding", 4}, 1,
                                &(na_dim){"hidden", 6}, 2, &up));
    NA_OK_OR_FAIL(na_softmax_layer_new(NA_NAMES("hidden"), &soft));
    NA_OK_OR_FAIL(na_linear_new("block_0/down", 1, &(na_dim){"hidden", 6}, 1,
                                &(na_dim){"embedding", 4}, 3, &down));
    NA_OK_OR_FAIL(na_named_group_new("block_0", NA_LAYERS(norm, up, soft, down), &group));
    NA_OK_OR_FAIL(na_residual_new(group, &res));
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(lookup, res, decode), &m));
    return m;
}

static char *plain(const na_layer *m, int max_depth)
{
    return print(m, (na_print_options){.color = NA_COLOR_NEVER, .max_depth = max_depth});
}

/* Runs on ids {seq:3} and returns the logits' named shape. */
static void expect_runs(na_layer *m, const char *want_shape)
{
    na_array *ids = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_I32, NA_DIMS({"seq", 3}), (int32_t[]){1, 5, 7}, &ids));
    NA_OK_OR_FAIL(na_layer_call_array(m, ids, NULL, &y));
    char shape[128];
    na_shape_str(y, shape, sizeof shape);
    cr_assert_str_eq(shape, want_shape);
    na_array_free(ids);
    na_array_free(y);
}

static const char *REAL_GOLDEN =
    "Sequential(  # 88 params\n"
    "  EmbeddingLookup(vocab_axis=\"vocab\", embedding=[embedding],  # 32 params\n"
    "    Param(\"embed.embeddings\", f32[vocab:8, embedding:4]),  # 32 (shared)\n"
    "  ),\n"
    "  Residual(  # 56 params\n"
    "    delta=NamedGroup(name=\"block_0\",  # 56 params\n"
    "      LayerNorm(across=[embedding], eps=1e-06, use_bias=true,  # 8 params\n"
    "        Param(\"block_0/norm.scale\", f32[embedding:4]),  # 4\n"
    "        Param(\"block_0/norm.bias\", f32[embedding:4]),  # 4\n"
    "      ),\n"
    "      Linear(in=[embedding], out=[hidden],  # 24 params\n"
    "        Param(\"block_0/up.weights\", f32[embedding:4, hidden:6]),  # 24\n"
    "      ),\n"
    "      Softmax(across=[hidden]),\n"
    "      Linear(in=[hidden], out=[embedding],  # 24 params\n"
    "        Param(\"block_0/down.weights\", f32[hidden:6, embedding:4]),  # 24\n"
    "      ),\n"
    "    ),\n"
    "  ),\n"
    "  EmbeddingDecode(vocab_axis=\"vocab\", embedding=[embedding],  # 32 params\n"
    "    Param(\"embed.embeddings\", f32[vocab:8, embedding:4]),  # 32 (shared)\n"
    "  ),\n"
    ")\n"
    "# total: 9 layers, 88 params (1 shared)\n";

Test(print_layers, small_model_golden)
{
    na_layer *m = real_model();
    char *s = plain(m, 0);
    cr_assert_str_eq(s, REAL_GOLDEN, "got:\n%s", s);
    free(s);
    expect_runs(m, "f32[seq:3, vocab:8]");
    na_layer_free(m);
}

/* Replace a Linear by an Affine over the same two axes, labelled
 * "<name>2" (new weights and a bias). */
static na_status linear_to_affine(na_layer *target, const char *path, void *ctx,
                                  na_layer **out)
{
    (void)path;
    (void)ctx;
    const na_param *w = na_linear_weights(target);
    cr_assert(w && w->value->ndim == 2);
    char name[64];
    snprintf(name, sizeof name, "%.*s2", (int)(strlen(w->label) - strlen(".weights")),
             w->label);
    const na_array *x = w->value;
    return na_affine_new(name, 1, &(na_dim){x->name[0], x->shape[0]}, 1,
                         &(na_dim){x->name[1], x->shape[1]}, 9, out);
}

static na_status make_rescale(na_layer *target, const char *path, void *ctx,
                              na_layer **out)
{
    (void)target;
    (void)path;
    (void)ctx;
    return na_constant_rescale_new(0.5, out);
}

static const na_array *param_value(na_layer *m, const char *label)
{
    na_param_list list = {0};
    NA_OK_OR_FAIL(na_tree_params(m, &list));
    const na_array *x = NULL;
    for (int i = 0; i < list.count; i++)
        if (strcmp(list.items[i].param->label, label) == 0)
            x = list.items[i].param->value; /* the tree keeps it alive */
    na_param_list_clear(&list);
    cr_assert(x, "no parameter '%s'", label);
    return x;
}

static double at2(const na_array *x, const char *a, int64_t i, const char *b, int64_t j)
{
    return ts_at(x, 2, NA_NAMES(a, b), (int64_t[]){i, j});
}

static double at1(const na_array *x, const char *a, int64_t i)
{
    return ts_at(x, 1, NA_NAMES(a), (int64_t[]){i});
}

/* The edited model by plain loops: r = x + Affine_down(softmax(0.5 *
 * Affine_up(x))), logits = r . table, for ids 1, 5, 7. */
static void expect_edited_result(na_layer *m)
{
    const na_array *E = param_value(m, "embed.embeddings");
    const na_array *wu = param_value(m, "block_0/up2.weights");
    const na_array *bu = param_value(m, "block_0/up2.bias");
    const na_array *wd = param_value(m, "block_0/down2.weights");
    const na_array *bd = param_value(m, "block_0/down2.bias");
    int32_t ids[3] = {1, 5, 7};
    na_array *in = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_I32, NA_DIMS({"seq", 3}), ids, &in));
    NA_OK_OR_FAIL(na_layer_call_array(m, in, NULL, &y));
    for (int s = 0; s < 3; s++) {
        double x[4], h[6], p[6], r[4], z = 0, mx = -1e300;
        for (int e = 0; e < 4; e++)
            x[e] = at2(E, "vocab", ids[s], "embedding", e);
        for (int k = 0; k < 6; k++) {
            h[k] = at1(bu, "hidden", k);
            for (int e = 0; e < 4; e++)
                h[k] += x[e] * at2(wu, "embedding", e, "hidden", k);
            h[k] *= 0.5;
            mx = h[k] > mx ? h[k] : mx;
        }
        for (int k = 0; k < 6; k++)
            z += p[k] = exp(h[k] - mx);
        for (int e = 0; e < 4; e++) {
            r[e] = x[e] + at1(bd, "embedding", e);
            for (int k = 0; k < 6; k++)
                r[e] += p[k] / z * at2(wd, "hidden", k, "embedding", e);
        }
        for (int v = 0; v < 8; v++) {
            double want = 0;
            for (int e = 0; e < 4; e++)
                want += r[e] * at2(E, "vocab", v, "embedding", e);
            cr_assert_float_eq(at2(y, "seq", s, "vocab", v), want, 1e-5,
                               "seq %d vocab %d", s, v);
        }
    }
    na_array_free(in);
    na_array_free(y);
}

Test(print_layers, edited_trees_golden)
{
    na_layer *m = real_model();
    na_selection *sel = NULL;
    /* Replace every Linear. */
    NA_OK_OR_FAIL(na_select_type(&m, &na_linear_type, &sel));
    cr_assert_eq(na_selection_count(sel), 2);
    NA_OK_OR_FAIL(na_selection_replace_all(sel, linear_to_affine, NULL));
    na_selection_free(sel);
    /* Insert before every Softmax. */
    NA_OK_OR_FAIL(na_select_type(&m, &na_softmax_layer_type, &sel));
    cr_assert_eq(na_selection_count(sel), 1);
    NA_OK_OR_FAIL(na_selection_insert_before(sel, make_rescale, NULL));
    na_selection_free(sel);
    /* Remove a sublayer. */
    NA_OK_OR_FAIL(na_select_path(&m, "1/delta/0", &sel));
    cr_assert_str_eq(na_layer_type_name(na_selection_layer(sel, 0)), "LayerNorm");
    NA_OK_OR_FAIL(na_selection_remove(sel));
    na_selection_free(sel);
    char *s = plain(m, 0);
    cr_assert_str_eq(s,
        "Sequential(  # 90 params\n"
        "  EmbeddingLookup(vocab_axis=\"vocab\", embedding=[embedding],  # 32 params\n"
        "    Param(\"embed.embeddings\", f32[vocab:8, embedding:4]),  # 32 (shared)\n"
        "  ),\n"
        "  Residual(  # 58 params\n"
        "    delta=NamedGroup(name=\"block_0\",  # 58 params\n"
        "      Affine(  # 30 params\n"
        "        linear=Linear(in=[embedding], out=[hidden],  # 24 params\n"
        "          Param(\"block_0/up2.weights\", f32[embedding:4, hidden:6]),  # 24\n"
        "        ),\n"
        "        bias=AddBias(biased=[hidden],  # 6 params\n"
        "          Param(\"block_0/up2.bias\", f32[hidden:6]),  # 6\n"
        "        ),\n"
        "      ),\n"
        "      ConstantRescale(by=0.5),\n"
        "      Softmax(across=[hidden]),\n"
        "      Affine(  # 28 params\n"
        "        linear=Linear(in=[hidden], out=[embedding],  # 24 params\n"
        "          Param(\"block_0/down2.weights\", f32[hidden:6, embedding:4]),  # 24\n"
        "        ),\n"
        "        bias=AddBias(biased=[embedding],  # 4 params\n"
        "          Param(\"block_0/down2.bias\", f32[embedding:4]),  # 4\n"
        "        ),\n"
        "      ),\n"
        "    ),\n"
        "  ),\n"
        "  EmbeddingDecode(vocab_axis=\"vocab\", embedding=[embedding],  # 32 params\n"
        "    Param(\"embed.embeddings\", f32[vocab:8, embedding:4]),  # 32 (shared)\n"
        "  ),\n"
        ")\n"
        "# total: 13 layers, 90 params (1 shared)\n", "got:\n%s", s);
    free(s);
    expect_runs(m, "f32[seq:3, vocab:8]");
    expect_edited_result(m);
    na_layer_free(m);
}

Test(print_layers, depth_limit_golden)
{
    na_layer *m = real_model();
    char *s = plain(m, 3);
    cr_assert_str_eq(s,
        "Sequential(  # 88 params\n"
        "  EmbeddingLookup(vocab_axis=\"vocab\", embedding=[embedding],  # 32 params\n"
        "    Param(\"embed.embeddings\", f32[vocab:8, embedding:4]),  # 32 (shared)\n"
        "  ),\n"
        "  Residual(  # 56 params\n"
        "    delta=NamedGroup(name=\"block_0\",  # 56 params\n"
        "      ... 4 layers, 56 params folded\n"
        "    ),\n"
        "  ),\n"
        "  EmbeddingDecode(vocab_axis=\"vocab\", embedding=[embedding],  # 32 params\n"
        "    Param(\"embed.embeddings\", f32[vocab:8, embedding:4]),  # 32 (shared)\n"
        "  ),\n"
        ")\n"
        "# total: 9 layers, 88 params (1 shared)\n", "got:\n%s", s);
    free(s);
    s = plain(m, 2);
    cr_assert(strstr(s, "  Residual(  # 56 params\n    ... 5 layers, 56 params folded\n  ),\n"),
              "got:\n%s", s);
    free(s);
    na_layer_free(m);
}

Test(print_layers, tied_embedding_counted_once)
{
    na_param *table = NULL;
    NA_OK_OR_FAIL(na_embedding_table_new(
        "tok", "vocab", 10, NA_DIMS({"heads", 2}, {"projection", 3}), 1, &table));
    na_layer *lookup = NULL, *decode = NULL, *m = NULL;
    NA_OK_OR_FAIL(na_embedding_lookup_new(table, "vocab", &lookup));
    NA_OK_OR_FAIL(na_embedding_decode_new(table, "vocab", &decode));
    na_param_release(table);
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(lookup, decode), &m));
    char *s = plain(m, 0);
    cr_assert_str_eq(s,
        "Sequential(  # 60 params\n"
        "  EmbeddingLookup(vocab_axis=\"vocab\", embedding=[heads, projection],  # 60 params\n"
        "    Param(\"tok.embeddings\", f32[vocab:10, heads:2, projection:3]),  # 60 (shared)\n"
        "  ),\n"
        "  EmbeddingDecode(vocab_axis=\"vocab\", embedding=[heads, projection],  # 60 params\n"
        "    Param(\"tok.embeddings\", f32[vocab:10, heads:2, projection:3]),  # 60 (shared)\n"
        "  ),\n"
        ")\n"
        "# total: 3 layers, 60 params (1 shared)\n", "got:\n%s", s);
    free(s);
    cr_assert_eq(na_tree_param_count(m), 60);
    na_layer_free(m);
}

Test(print, positional_sizes_after_bar)
{
    na_layer *m = dense(param("pos", NA_PARAM, NA_DIMS({"seq", 8}, {NULL, 16}, {"heads", 4})),
                        NULL);
    char *s = print(m, (na_print_options){.color = NA_COLOR_NEVER, .hide_total = true});
    cr_assert_str_eq(s,
        "Dense(in=[embedding], out=[heads, projection], bias=true,  # 512 params\n"
        "  Param(\"pos\", f32[seq:8, heads:4 | 16]),  # 512\n"
        ")\n", "got:\n%s", s);
    free(s);
    na_layer_free(m);
}

/* FORCE_COLOR turns colour on where NA_COLOR_AUTO would not (a string is
 * not a terminal); NO_COLOR still wins. Golden text with the ANSI codes. */
Test(print, force_color_env_golden)
{
    na_layer *m = dense(param("w", NA_PARAM, NA_DIMS({"seq", 2})), NULL);
    na_layer *g = NULL;
    NA_OK_OR_FAIL(na_named_group_new("g", NA_LAYERS(m, knobs()), &g));
    clear_colour_env();
    setenv("FORCE_COLOR", "1", 1);
    char *s = print(g, (na_print_options){0});
    cr_assert_str_eq(s,
        "\x1b[1;34mNamedGroup\x1b[0m(name=\x1b[32m\"g\"\x1b[0m,  \x1b[90m# 2 params\x1b[0m\n"
        "  \x1b[1;34mDense\x1b[0m(in=[embedding], out=[heads, projection], "
        "bias=\x1b[33mtrue\x1b[0m,  \x1b[90m# 2 params\x1b[0m\n"
        "    Param(\x1b[32m\"w\"\x1b[0m, \x1b[36mf32[seq:2]\x1b[0m),  \x1b[90m# 2\x1b[0m\n"
        "  ),\n"
        "  \x1b[1;34mKnobs\x1b[0m(n=\x1b[33m-3\x1b[0m, eps=\x1b[33m1e-06\x1b[0m, "
        "mode=\x1b[32m\"tanh\"\x1b[0m, table=\x1b[36mi32[seq:8]\x1b[0m),\n"
        ")\n"
        "\x1b[90m# total: 3 layers, 2 params\x1b[0m\n", "got:\n%s", s);
    free(s);
    setenv("FORCE_COLOR", "0", 1);
    s = print(g, (na_print_options){0});
    cr_assert_null(strchr(s, '\x1b'), "FORCE_COLOR=0 forces nothing");
    free(s);
    setenv("FORCE_COLOR", "1", 1);
    setenv("NO_COLOR", "1", 1);
    s = print(g, (na_print_options){0});
    cr_assert_null(strchr(s, '\x1b'), "NO_COLOR wins over FORCE_COLOR");
    free(s);
    s = print(g, (na_print_options){.color = NA_COLOR_ALWAYS});
    cr_assert(strchr(s, '\x1b'), "the option overrides NO_COLOR");
    free(s);
    unsetenv("NO_COLOR");
    unsetenv("FORCE_COLOR");
    setenv("CLICOLOR_FORCE", "1", 1);
    s = print(g, (na_print_options){0});
    cr_assert(strchr(s, '\x1b'), "CLICOLOR_FORCE forces colour too");
    free(s);
    unsetenv("CLICOLOR_FORCE");
    na_layer_free(g);
}

Test(print, bad_options)
{
    na_layer *m = knobs();
    char *s = NULL;
    NA_EXPECT_FAIL(na_print_tree_str(m, &(na_print_options){.max_depth = -1}, &s),
                   NA_ERR_ARGUMENT, "na_print_tree: max_depth -1 is negative");
    cr_assert_null(s);
    NA_EXPECT_FAIL(na_print_tree(m, stdout, &(na_print_options){.color = 7}),
                   NA_ERR_ARGUMENT, "na_print_tree: unknown colour mode 7");
    na_layer_free(m);
}
