/* Tree tools: select, replace, insert, remove, count, list, bind, capture
 * and submodel extraction — checked by the printed tree and by the call. */
#include <stdlib.h>

#include <namedarr/combinators.h>
#include <namedarr/layer.h>
#include <namedarr/print.h>
#include <namedarr/tree.h>

#include "support.h"

/* ---- test leaves ------------------------------------------------------- */

/* Scale: y = x * factor.  AddConstant: y = x + value.  Bias: y = x + w. */
typedef struct leaf {
    na_layer base;
    double v;
    na_param *w;
} leaf;

static na_status leaf_call(na_layer *self, const na_value *in, const na_side *side,
                           na_value **out);
static void leaf_describe(const na_layer *self, na_fields *f);
static const na_field_desc leaf_fields[] = {
    NA_FIELD(leaf, v, NA_FIELD_FLOAT),
    NA_FIELD(leaf, w, NA_FIELD_PARAM),
};

#define LEAF_TYPE(var, name)                                                  \
    static const na_layer_type var = {name, leaf_call, .size = sizeof(leaf),  \
                                      .fields = leaf_fields,                  \
                                      .field_count = NA_FIELD_COUNT(leaf_fields), \
                                      .describe = leaf_describe}
LEAF_TYPE(scale_type, "Scale");
LEAF_TYPE(addc_type, "AddConstant");
LEAF_TYPE(bias_type, "Bias");

static na_status leaf_call(na_layer *self, const na_value *in, const na_side *side,
                           na_value **out)
{
    (void)side;
    leaf *l = (leaf *)self;
    const na_array *x = na_value_array(in, na_layer_type_name(self));
    if (!x)
        return na_last_status();
    na_array *y = NULL;
    na_status st;
    if (self->type == &scale_type)
        st = na_binary_scalar(NA_MUL, x, l->v, &y);
    else if (self->type == &addc_type)
        st = na_binary_scalar(NA_ADD, x, l->v, &y);
    else
        st = na_add(x, l->w->value, &y);
    if (st == NA_OK)
        *out = na_value_from_array(y);
    return st;
}

static void leaf_describe(const na_layer *self, na_fields *f)
{
    if (self->type != &bias_type)
        na_fields_float(f, self->type == &scale_type ? "factor" : "value",
                        ((const leaf *)self)->v);
}

static na_layer *mk(const na_layer_type *t, double v, na_param *w)
{
    leaf *l = calloc(1, sizeof *l);
    *l = (leaf){{t}, v, w};
    return &l->base;
}

static na_layer *scale(double v) { return mk(&scale_type, v, NULL); }
static na_layer *addc(double v) { return mk(&addc_type, v, NULL); }

static na_param *param(const char *label, double v)
{
    na_array *x = NULL;
    NA_OK_OR_FAIL(na_full(NA_F32, 1, (na_dim[]){{"seq", 3}}, v, &x));
    return na_param_new(label, NA_PARAM, x);
}

static na_layer *bias(const char *label, double v) { return mk(&bias_type, 0, param(label, v)); }

/* block_i = NamedGroup(Bias(w_i), Residual(Scale(2))) */
static na_layer *block(const char *name, const char *label, double w)
{
    na_layer *r = NULL, *g = NULL;
    NA_OK_OR_FAIL(na_residual_new(scale(2), &r));
    NA_OK_OR_FAIL(na_named_group_new(name, NA_LAYERS(bias(label, w), r), &g));
    return g;
}

/* x -> block_0 (w=1) -> block_1 (w=2) -> Scale(10).
 * x=1: 1+1=2, 2*2+2=6; 6+2=8, 8*2+8=24; 240. */
static na_layer *model(void)
{
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(block("block_0", "block_0/bias", 1),
                                              block("block_1", "block_1/bias", 2),
                                              scale(10)), &m));
    return m;
}

static double run(na_layer *m, double in)
{
    na_array *x = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_full(NA_F32, 1, (na_dim[]){{"seq", 3}}, in, &x));
    NA_OK_OR_FAIL(na_layer_call_array(m, x, NULL, &y));
    double v = ((float *)na_data(y))[2];
    na_array_free(x);
    na_array_free(y);
    return v;
}

static void expect_tree(const na_layer *m, const char *want)
{
    na_print_options o = {.color = NA_COLOR_NEVER, .hide_total = true,
                          .hide_params = true};
    char *s = NULL;
    NA_OK_OR_FAIL(na_print_tree_str(m, &o, &s));
    cr_assert_str_eq(s, want, "printed tree:\n%s\nwanted:\n%s", s, want);
    free(s);
}

/* ---- walking, lookup, selection ---------------------------------------- */

static na_status record_path(na_layer *l, const char *path, int depth, void *ctx)
{
    char *buf = ctx;
    sprintf(buf + strlen(buf), "%d:%s:%s;", depth, path, na_layer_type_name(l));
    return NA_OK;
}

Test(tree, walk_paths_preorder)
{
    na_layer *m = model();
    char buf[1024] = "";
    NA_OK_OR_FAIL(na_tree_walk(m, record_path, buf));
    cr_assert_str_eq(buf, "0::Sequential;1:block_0:NamedGroup;2:block_0/0:Bias;"
                     "2:block_0/1:Residual;3:block_0/1/delta:Scale;"
                     "1:block_1:NamedGroup;2:block_1/0:Bias;2:block_1/1:Residual;"
                     "3:block_1/1/delta:Scale;1:2:Scale;");
    na_layer_free(m);
}

Test(tree, get_by_path_and_errors)
{
    na_layer *m = model();
    cr_assert_eq(na_tree_get(m, ""), m);
    cr_assert_str_eq(na_layer_type_name(na_tree_get(m, "block_1/1/delta")), "Scale");
    cr_assert_eq(na_tree_get(m, "0/1"), na_tree_get(m, "block_0/1"));
    cr_assert_null(na_tree_get(m, "block_9/x"));
    cr_assert_eq(na_last_status(), NA_ERR_NOT_FOUND);
    cr_assert_str_eq(na_last_error(), "layer tree: no child 'block_9' under the root "
                     "(a Sequential with children: block_0, block_1, 2) looking up "
                     "\"block_9/x\"");
    cr_assert_null(na_tree_get(m, "block_0/1/delta/x"));
    cr_assert(strstr(na_last_error(), "no child 'x' under 'block_0/1/delta' (a Scale "
                     "with no children)"));
    na_layer_free(m);
}

static bool is_bias_of_block_1(const na_layer *l, const char *path, void *ctx)
{
    (void)ctx;
    return l->type == &bias_type && strncmp(path, "block_1", 7) == 0;
}

Test(tree, select_by_type_name_predicate_path)
{
    na_layer *m = model();
    na_selection *sel = NULL;
    NA_OK_OR_FAIL(na_select_type(&m, &scale_type, &sel));
    cr_assert_eq(na_selection_count(sel), 3);
    cr_assert_str_eq(na_selection_path(sel, 0), "block_0/1/delta");
    cr_assert_str_eq(na_selection_path(sel, 2), "2");
    na_selection_free(sel);
    NA_OK_OR_FAIL(na_select_type_name(&m, "NamedGroup", &sel));
    cr_assert_eq(na_selection_count(sel), 2); /* outermost: not their insides */
    na_selection_free(sel);
    NA_OK_OR_FAIL(na_select_type_name(&m, "Sequential", &sel));
    cr_assert_eq(na_selection_count(sel), 1);
    cr_assert_eq(na_selection_layer(sel, 0), m);
    na_selection_free(sel);
    NA_OK_OR_FAIL(na_select_where(&m, is_bias_of_block_1, NULL, &sel));
    cr_assert_eq(na_selection_count(sel), 1);
    cr_assert_str_eq(na_selection_path(sel, 0), "block_1/0");
    na_selection_free(sel);
    NA_OK_OR_FAIL(na_select_type_name(&m, "Linear", &sel));
    cr_assert_eq(na_selection_count(sel), 0);
    na_selection_free(sel);
    NA_EXPECT_FAIL(na_select_path(&m, "block_0/7", &sel), NA_ERR_NOT_FOUND,
                   "no child '7' under 'block_0'");
    cr_assert_null(sel);
    na_layer_free(m);
}

/* ---- edits ------------------------------------------------------------- */

static na_status bigger_scale(na_layer *target, const char *path, void *ctx,
                              na_layer **out)
{
    (void)path;
    (void)ctx;
    *out = scale(((leaf *)target)->v + 1);
    return NA_OK;
}

Test(edit, replace_every_scale)
{
    na_layer *m = model();
    cr_assert_float_eq(run(m, 1), 240.0, 1e-4);
    na_selection *sel = NULL;
    NA_OK_OR_FAIL(na_select_type(&m, &scale_type, &sel));
    NA_OK_OR_FAIL(na_selection_replace_all(sel, bigger_scale, NULL));
    na_selection_free(sel);
    /* 1+1=2, 2*3+2=8; 8+2=10, 10*3+10=40; 40*11 */
    cr_assert_float_eq(run(m, 1), 440.0, 1e-4);
    expect_tree(m,
        "Sequential(  # 6 params\n"
        "  NamedGroup(name=\"block_0\",  # 3 params\n"
        "    Bias(),  # 3 params\n"
        "    Residual(\n"
        "      delta=Scale(factor=3),\n"
        "    ),\n"
        "  ),\n"
        "  NamedGroup(name=\"block_1\",  # 3 params\n"
        "    Bias(),  # 3 params\n"
        "    Residual(\n"
        "      delta=Scale(factor=3),\n"
        "    ),\n"
        "  ),\n"
        "  Scale(factor=11),\n"
        ")\n");
    na_layer_free(m);
}

Test(edit, replace_the_root)
{
    na_layer *m = model();
    na_selection *sel = NULL;
    NA_OK_OR_FAIL(na_select_path(&m, "", &sel));
    NA_OK_OR_FAIL(na_selection_replace(sel, 0, scale(5)));
    cr_assert_str_eq(na_layer_type_name(m), "Scale");
    cr_assert_float_eq(run(m, 2), 10.0, 1e-6);
    NA_EXPECT_FAIL(na_selection_replace(sel, 1, scale(1)), NA_ERR_INDEX,
                   "site 1 out of range (1 sites)");
    na_selection_free(sel);
    na_layer_free(m);
}

static na_status make_add100(na_layer *target, const char *path, void *ctx,
                             na_layer **out)
{
    (void)target;
    (void)path;
    (void)ctx;
    *out = addc(100);
    return NA_OK;
}

Test(edit, insert_before_every_residual_in_place)
{
    na_layer *m = model();
    na_selection *sel = NULL;
    NA_OK_OR_FAIL(na_select_type_name(&m, "Residual", &sel));
    NA_OK_OR_FAIL(na_selection_insert_before(sel, make_add100, NULL));
    cr_assert_str_eq(na_selection_path(sel, 0), "block_0/2");
    cr_assert_str_eq(na_selection_path(sel, 1), "block_1/2");
    na_selection_free(sel);
    /* 1+1=2, +100=102, *3=306; +2=308, +100=408, *3=1224; *10 */
    cr_assert_float_eq(run(m, 1), 12240.0, 1e-2);
    expect_tree(m,
        "Sequential(  # 6 params\n"
        "  NamedGroup(name=\"block_0\",  # 3 params\n"
        "    Bias(),  # 3 params\n"
        "    AddConstant(value=100),\n"
        "    Residual(\n"
        "      delta=Scale(factor=2),\n"
        "    ),\n"
        "  ),\n"
        "  NamedGroup(name=\"block_1\",  # 3 params\n"
        "    Bias(),  # 3 params\n"
        "    AddConstant(value=100),\n"
        "    Residual(\n"
        "      delta=Scale(factor=2),\n"
        "    ),\n"
        "  ),\n"
        "  Scale(factor=10),\n"
        ")\n");
    na_layer_free(m);
}

Test(edit, insert_after_wraps_outside_a_sequential)
{
    na_layer *m = model();
    na_selection *sel = NULL;
    NA_OK_OR_FAIL(na_select_path(&m, "block_0/1/delta", &sel));
    NA_OK_OR_FAIL(na_selection_insert_after(sel, make_add100, NULL));
    cr_assert_str_eq(na_selection_path(sel, 0), "block_0/1/delta/0");
    cr_assert_str_eq(na_layer_type_name(na_selection_layer(sel, 0)), "Scale");
    NA_OK_OR_FAIL(na_selection_insert_before(sel, make_add100, NULL));
    cr_assert_str_eq(na_selection_path(sel, 0), "block_0/1/delta/1");
    na_selection_free(sel);
    /* 2 -> delta: (2+100)*2+100 = 304, +2 = 306; +2=308, *3=924; *10 */
    cr_assert_float_eq(run(m, 1), 9240.0, 1e-2);
    expect_tree(m,
        "Sequential(  # 6 params\n"
        "  NamedGroup(name=\"block_0\",  # 3 params\n"
        "    Bias(),  # 3 params\n"
        "    Residual(\n"
        "      delta=Sequential(\n"
        "        AddConstant(value=100),\n"
        "        Scale(factor=2),\n"
        "        AddConstant(value=100),\n"
        "      ),\n"
        "    ),\n"
        "  ),\n"
        "  NamedGroup(name=\"block_1\",  # 3 params\n"
        "    Bias(),  # 3 params\n"
        "    Residual(\n"
        "      delta=Scale(factor=2),\n"
        "    ),\n"
        "  ),\n"
        "  Scale(factor=10),\n"
        ")\n");
    na_layer_free(m);
}

Test(edit, remove_from_sequential_and_elsewhere)
{
    na_layer *m = model();
    na_selection *sel = NULL;
    NA_OK_OR_FAIL(na_select_path(&m, "block_1", &sel));
    NA_OK_OR_FAIL(na_selection_remove(sel));
    cr_assert_null(na_selection_layer(sel, 0));
    NA_EXPECT_FAIL(na_selection_replace(sel, 0, scale(1)), NA_ERR_STATE,
                   "site 0 ('block_1') was removed");
    na_selection_free(sel);
    cr_assert_float_eq(run(m, 1), 60.0, 1e-4);
    NA_OK_OR_FAIL(na_select_path(&m, "block_0/1/delta", &sel));
    NA_OK_OR_FAIL(na_selection_remove(sel));
    na_selection_free(sel);
    /* 1+1=2, residual(identity) = 4; *10 */
    cr_assert_float_eq(run(m, 1), 40.0, 1e-4);
    expect_tree(m,
        "Sequential(  # 3 params\n"
        "  NamedGroup(name=\"block_0\",  # 3 params\n"
        "    Bias(),  # 3 params\n"
        "    Residual(\n"
        "      delta=Identity(),\n"
        "    ),\n"
        "  ),\n"
        "  Scale(factor=10),\n"
        ")\n");
    na_layer_free(m);
}

Test(edit, removing_siblings_keeps_sites_right)
{
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(scale(2), addc(1), scale(3), addc(4),
                                              scale(5)), &m));
    na_selection *sel = NULL;
    NA_OK_OR_FAIL(na_select_type(&m, &scale_type, &sel));
    NA_OK_OR_FAIL(na_selection_remove(sel));
    na_selection_free(sel);
    cr_assert_eq(na_layer_child_count(m), 2);
    cr_assert_float_eq(run(m, 1), 6.0, 1e-6);
    na_layer_free(m);
}

static na_status wrap_in_residual(na_layer *old, const char *path, void *ctx,
                                  na_layer **out)
{
    (void)path;
    (void)ctx;
    return na_residual_new(old, out);
}

static na_status failing_wrap(na_layer *old, const char *path, void *ctx,
                              na_layer **out)
{
    (void)ctx;
    *out = old; /* hand it back */
    return na_fail(NA_ERR_STATE, "wrap refused '%s'", path);
}

Test(edit, wrap_all_and_failure_keeps_tree)
{
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(scale(2), addc(1)), &m));
    na_selection *sel = NULL;
    NA_OK_OR_FAIL(na_select_type(&m, &scale_type, &sel));
    NA_OK_OR_FAIL(na_selection_wrap_all(sel, wrap_in_residual, NULL));
    cr_assert_float_eq(run(m, 1), 4.0, 1e-6); /* 1*2+1, +1 */
    NA_EXPECT_FAIL(na_selection_wrap_all(sel, failing_wrap, NULL), NA_ERR_STATE,
                   "wrap refused '0'");
    cr_assert_float_eq(run(m, 1), 4.0, 1e-6);
    na_selection_free(sel);
    na_layer_free(m);
}

/* ---- parameters -------------------------------------------------------- */

Test(params, count_list_shared_once)
{
    na_layer *m = model();
    na_layer *b0 = na_tree_get(m, "block_0/0");
    na_param *w0 = na_layer_param(b0, 0);
    na_layer *tied = mk(&bias_type, 0, na_param_retain(w0));
    NA_OK_OR_FAIL(na_sequential_append(m, tied));
    cr_assert_eq(na_tree_param_count(m), 6);
    cr_assert_eq(na_tree_param_count(na_tree_get(m, "block_1")), 3);
    na_param_stats st;
    NA_OK_OR_FAIL(na_tree_param_stats(m, &st));
    cr_assert_eq(st.params, 2);
    cr_assert_eq(st.shared, 1);
    cr_assert_eq(st.states, 0);
    na_param_list l;
    NA_OK_OR_FAIL(na_tree_params(m, &l));
    cr_assert_eq(l.count, 2);
    cr_assert_str_eq(l.items[0].param->label, "block_0/bias");
    cr_assert_str_eq(l.items[0].path, "block_0/0");
    cr_assert_eq(l.items[0].uses, 2);
    cr_assert_str_eq(l.items[1].param->label, "block_1/bias");
    cr_assert_eq(l.items[1].uses, 1);
    na_param_list_clear(&l);
    na_layer_free(m);
}

static na_array *seqv(int64_t n, double v)
{
    na_array *x = NULL;
    NA_OK_OR_FAIL(na_full(NA_F32, 1, (na_dim[]){{"seq", n}}, v, &x));
    return x;
}

Test(params, bind_by_label)
{
    na_layer *m = model();
    na_array *a = seqv(3, 0), *b = seqv(3, 0);
    na_labeled_array vals[] = {{"block_0/bias", a}, {"block_1/bias", b}};
    NA_OK_OR_FAIL(na_tree_bind(m, 2, vals, NA_BIND_STRICT));
    /* 1, *3 = 3; 3, *3 = 9; *10 */
    cr_assert_float_eq(run(m, 1), 90.0, 1e-4);
    na_array_free(a);
    na_array_free(b);
    na_layer_free(m);
}

/* Penzai's bind_variables(allow_unused=True): values the model has no
 * parameter for are skipped; the others are bound; strict refuses them. */
Test(params, bind_allow_unused)
{
    na_layer *m = model();
    na_array *a = seqv(3, 0), *b = seqv(3, 0), *c = seqv(5, 7);
    na_labeled_array vals[] = {{"block_0/bias", a}, {"unused/weights", c},
                               {"block_1/bias", b}};
    NA_EXPECT_FAIL(na_tree_bind(m, 3, vals, NA_BIND_STRICT), NA_ERR_NOT_FOUND,
                   "no parameter labelled 'unused/weights'");
    NA_OK_OR_FAIL(na_tree_bind(m, 3, vals, NA_BIND_ALLOW_UNUSED));
    cr_assert_float_eq(run(m, 1), 90.0, 1e-4); /* as bind_by_label */
    na_array_free(a);
    na_array_free(b);
    na_array_free(c);
    na_layer_free(m);
}

Test(params, bind_errors_change_nothing)
{
    na_layer *m = model();
    na_array *ok = seqv(3, 0), *bad = seqv(4, 0), *i32 = NULL;
    NA_OK_OR_FAIL(na_zeros(NA_I32, 1, (na_dim[]){{"seq", 3}}, &i32));
    na_labeled_array missing[] = {{"block_0/bias", ok}};
    NA_EXPECT_FAIL(na_tree_bind(m, 1, missing, NA_BIND_STRICT), NA_ERR_NOT_FOUND,
                   "no value for parameter 'block_1/bias' f32[seq:3] (at 'block_1/0')");
    NA_OK_OR_FAIL(na_tree_bind(m, 1, missing, NA_BIND_ALLOW_MISSING));
    na_labeled_array extra[] = {{"block_0/bias", ok}, {"block_1/bias", ok},
                                {"block_2/bias", ok}};
    NA_EXPECT_FAIL(na_tree_bind(m, 3, extra, NA_BIND_STRICT), NA_ERR_NOT_FOUND,
                   "no parameter labelled 'block_2/bias' (value f32[seq:3])");
    na_labeled_array shaped[] = {{"block_0/bias", ok}, {"block_1/bias", bad}};
    NA_EXPECT_FAIL(na_tree_bind(m, 2, shaped, NA_BIND_STRICT), NA_ERR_SHAPE,
                   "value for 'block_1/bias' is f32[seq:4], the parameter is f32[seq:3]");
    na_labeled_array typed[] = {{"block_0/bias", i32}};
    NA_EXPECT_FAIL(na_tree_bind(m, 1, typed, NA_BIND_ALLOW_MISSING), NA_ERR_SHAPE,
                   "is i32[seq:3], the parameter is f32[seq:3]");
    na_labeled_array twice[] = {{"block_0/bias", ok}, {"block_0/bias", ok}};
    NA_EXPECT_FAIL(na_tree_bind(m, 2, twice, NA_BIND_ALLOW_MISSING), NA_ERR_ARGUMENT,
                   "label 'block_0/bias' given twice");
    /* block_0 was zeroed by the one good bind; block_1 untouched (w=2):
     * 1, *3=3; 5, *3=15; *10 */
    cr_assert_float_eq(run(m, 1), 150.0, 1e-4);
    na_array_free(ok);
    na_array_free(bad);
    na_array_free(i32);
    na_layer_free(m);
}

Test(params, bind_reorders_axes)
{
    na_array *w = NULL;
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"a", 2}, {"b", 3}), &w));
    na_layer *l = mk(&bias_type, 0, na_param_new("w", NA_PARAM, w));
    na_array *v = NULL;
    NA_OK_OR_FAIL(na_arange(NULL, 6, NA_F32, &v));
    na_array *r = NULL, *t = NULL;
    NA_OK_OR_FAIL(na_reshape(v, 2, (int64_t[]){3, 2}, &r));
    NA_OK_OR_FAIL(na_tag(r, NA_NAMES("b", "a"), &t));
    na_labeled_array vals[] = {{"w", t}};
    NA_OK_OR_FAIL(na_tree_bind(l, 1, vals, NA_BIND_STRICT));
    const na_array *p = na_layer_param(l, 0)->value;
    cr_assert_str_eq(p->name[0], "a");
    cr_assert_float_eq(na_get(p, (int64_t[]){1, 2}), 5.0, 0);
    na_array_free(v);
    na_array_free(r);
    na_array_free(t);
    na_layer_free(l);
}

/* ---- capture and extraction -------------------------------------------- */

Test(capture, outputs_of_selected_layers)
{
    na_layer *m = model();
    na_selection *sel = NULL;
    NA_OK_OR_FAIL(na_select_type_name(&m, "Residual", &sel));
    na_capture *c = NULL;
    NA_OK_OR_FAIL(na_capture_new(&c));
    NA_OK_OR_FAIL(na_capture_add_selection(c, sel));
    NA_OK_OR_FAIL(na_capture_add(c, m, "model"));
    na_selection_free(sel);
    na_array *x = seqv(3, 1);
    na_value *in = na_value_ref_array(x), *y = NULL;
    NA_OK_OR_FAIL(na_call_capturing(m, in, NULL, c, &y));
    cr_assert_eq(na_capture_count(c), 3);
    cr_assert_str_eq(na_capture_name(c, 0), "block_0/1");
    cr_assert_str_eq(na_capture_name(c, 1), "block_1/1");
    cr_assert_str_eq(na_capture_name(c, 2), "model");
    cr_assert_float_eq(((float *)na_data(na_capture_value(c, 0)->array))[0], 6.0, 1e-6);
    cr_assert_float_eq(((float *)na_data(na_capture_find(c, "block_1/1", 0)->array))[0],
                       24.0, 1e-6);
    cr_assert_null(na_capture_find(c, "block_1/1", 1));
    na_value_free(y);
    /* outside capturing nothing is recorded; a second call appends */
    NA_OK_OR_FAIL(na_layer_call(m, in, NULL, &y));
    na_value_free(y);
    cr_assert_eq(na_capture_count(c), 3);
    NA_OK_OR_FAIL(na_call_capturing(m, in, NULL, c, &y));
    na_value_free(y);
    cr_assert_eq(na_capture_count(c), 6);
    cr_assert(na_capture_find(c, "block_1/1", 1));
    na_capture_clear(c);
    cr_assert_eq(na_capture_count(c), 0);
    na_capture_free(c);
    na_value_free(in);
    na_array_free(x);
    na_layer_free(m);
}

Test(capture, failing_call_ends_capture)
{
    na_layer *m = model();
    na_capture *c = NULL;
    NA_OK_OR_FAIL(na_capture_new(&c));
    NA_OK_OR_FAIL(na_capture_add(c, na_tree_get(m, "block_0"), "b0"));
    na_array *x = seqv(4, 1);
    na_value *in = na_value_ref_array(x), *y = NULL;
    NA_EXPECT_FAIL(na_call_capturing(m, in, NULL, c, &y), NA_ERR_SHAPE, "(in block_0/0)");
    cr_assert_eq(na_capture_count(c), 0);
    na_capture_free(c);
    na_value_free(in);
    na_array_free(x);
    na_layer_free(m);
}

Test(extract, submodel_with_its_input_and_side)
{
    na_layer *m = model();
    na_side *side = na_side_new();
    na_array *x = seqv(3, 1);
    NA_OK_OR_FAIL(na_side_set_array(side, "positions", x));
    na_value *in = na_value_ref_array(x), *y = NULL;
    na_submodel sub;
    NA_OK_OR_FAIL(na_call_and_extract_submodel(m, "block_1/1", in, side, &sub, &y));
    cr_assert_eq(sub.layer, na_tree_get(m, "block_1/1"));
    cr_assert_str_eq(sub.path, "block_1/1");
    cr_assert_float_eq(((float *)na_data(sub.input->array))[0], 8.0, 1e-6);
    cr_assert_float_eq(((float *)na_data(sub.output->array))[0], 24.0, 1e-6);
    cr_assert_float_eq(((float *)na_data(y->array))[0], 240.0, 1e-4);
    cr_assert(na_side_get(sub.side, "positions"));
    cr_assert_neq((void *)sub.side, (void *)side);
    na_value *again = NULL;
    NA_OK_OR_FAIL(na_layer_call(sub.layer, sub.input, sub.side, &again));
    cr_assert_float_eq(((float *)na_data(again->array))[0], 24.0, 1e-6);
    na_value_free(again);
    na_value_free(y);
    na_submodel_clear(&sub);
    NA_EXPECT_FAIL(na_call_and_extract_submodel(m, "block_7", in, side, &sub, NULL),
                   NA_ERR_NOT_FOUND, "no child 'block_7'");
    cr_assert_null(sub.path);
    na_value_free(in);
    na_side_free(side);
    na_array_free(x);
    na_layer_free(m);
}

/* A layer with a child it never calls. */
typedef struct skip_layer {
    na_layer base;
    na_layer *child;
} skip_layer;

static na_status skip_call(na_layer *self, const na_value *in, const na_side *side,
                           na_value **out)
{
    (void)self;
    (void)side;
    *out = na_value_clone(in);
    return NA_OK;
}
static const na_field_desc skip_fields[] = {NA_FIELD(skip_layer, child, NA_FIELD_CHILD)};
static const na_layer_type skip_type = {"Skip", skip_call, .size = sizeof(skip_layer),
                                        .fields = skip_fields,
                                        .field_count = NA_FIELD_COUNT(skip_fields)};

Test(extract, uncalled_layer_is_an_error)
{
    skip_layer *s = calloc(1, sizeof *s);
    s->base.type = &skip_type;
    s->child = scale(2);
    na_array *x = seqv(3, 1);
    na_value *in = na_value_ref_array(x);
    na_submodel sub;
    NA_EXPECT_FAIL(na_call_and_extract_submodel(&s->base, "child", in, NULL, &sub, NULL),
                   NA_ERR_NOT_FOUND, "the Scale at 'child' was not called");
    na_value_free(in);
    na_array_free(x);
    na_layer_free(&s->base);
}

/* ---- error context: the whole path of the failing layer ---------------- */

Test(error_path, failure_names_the_full_path_once)
{
    /* block_1's bias has 4 entries, the input 3: the failure is in
     * block_1/0, inside the outer Sequential and its NamedGroup. */
    na_layer *inner = NULL, *m = NULL, *b1 = NULL;
    NA_OK_OR_FAIL(na_residual_new(scale(2), &inner));
    na_array *w = NULL;
    NA_OK_OR_FAIL(na_full(NA_F32, 1, (na_dim[]){{"seq", 4}}, 1, &w));
    NA_OK_OR_FAIL(na_named_group_new("block_1", NA_LAYERS(inner,
                  mk(&bias_type, 0, na_param_new("block_1/bias", NA_PARAM, w))), &b1));
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(block("block_0", "block_0/bias", 1), b1),
                                    &m));
    na_array *x = seqv(3, 1), *y = NULL;
    NA_EXPECT_FAIL(na_layer_call_array(m, x, NULL, &y), NA_ERR_SHAPE,
                   "lhs f32[seq:3] vs rhs f32[seq:4] (in block_1/1)");
    const char *msg = na_last_error();
    cr_assert_null(strstr(msg, "block_0"), "%s", msg);
    cr_assert_null(strstr(strstr(msg, "(in ") + 1, "(in "), "annotated twice: %s", msg);
    cr_assert_null(y);
    na_array_free(x);
    na_layer_free(m);
}

Test(error_path, path_in_message_resolves_to_the_failing_layer)
{
    /* The Bias inside a Residual inside two groups fails. */
    na_layer *r = NULL, *inner = NULL, *outer = NULL, *b = bias("w", 1);
    NA_OK_OR_FAIL(na_residual_new(b, &r));
    NA_OK_OR_FAIL(na_named_group_new("inner", NA_LAYERS(scale(1), r), &inner));
    NA_OK_OR_FAIL(na_named_group_new("outer", NA_LAYERS(inner), &outer));
    na_array *x = seqv(5, 1), *y = NULL;
    NA_EXPECT_FAIL(na_layer_call_array(outer, x, NULL, &y), NA_ERR_SHAPE, "seq",
                   "(in inner/1/");
    char path[128];
    const char *at = strstr(na_last_error(), "(in ") + 4;
    snprintf(path, sizeof path, "%.*s", (int)strcspn(at, ")"), at);
    cr_assert_eq(na_tree_get(outer, path), b, "path '%s' in: %s", path, na_last_error());
    na_array_free(x);
    na_layer_free(outer);
}
