/* The text pretty-printer: golden text, colour rules, depth limit, shared
 * parameters. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <namedarr/combinators.h>
#include <namedarr/layer.h>
#include <namedarr/print.h>

#include "support.h"

/* A leaf with a describe() of every field kind and optional parameters. */
typedef struct leaf {
    na_layer base;
    int nparams;
    na_param *p[2];
} leaf;

static na_status leaf_call(na_layer *self, const na_value *in, const na_side *side,
                           na_value **out)
{
    (void)self;
    (void)side;
    *out = na_value_clone(in);
    return *out ? NA_OK : na_last_status();
}

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

static int leaf_nparams(const na_layer *self) { return ((const leaf *)self)->nparams; }
static na_param *leaf_param(na_layer *self, int i) { return ((leaf *)self)->p[i]; }
static void leaf_destroy(na_layer *self) { free(self); }

static const na_layer_type dense_type = {"Dense", leaf_call, .param_count = leaf_nparams,
                                         .param_at = leaf_param,
                                         .describe = dense_describe,
                                         .destroy = leaf_destroy};
static const na_layer_type knob_type = {"Knobs", leaf_call, .describe = knob_describe,
                                        .destroy = leaf_destroy};

static na_param *param(const char *label, na_param_kind kind, int n,
                       const na_dim *dims)
{
    na_array *x = NULL;
    NA_OK_OR_FAIL(na_zeros(NA_F32, n, dims, &x));
    return na_param_new(label, kind, x);
}

static na_layer *dense(na_param *w, na_param *b)
{
    leaf *l = calloc(1, sizeof *l);
    *l = (leaf){{&dense_type}, b ? 2 : 1, {w, b}};
    return &l->base;
}

static na_layer *knobs(void)
{
    leaf *l = calloc(1, sizeof *l);
    l->base.type = &knob_type;
    return &l->base;
}

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
    unsetenv("NO_COLOR");
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
