/* Declared layer fields: reading and setting by name, clone, equality,
 * the type registry. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <namedarr/namedarr.h>

#include "support.h"

static na_array *iota(void)
{
    na_array *x = NULL;
    float v[12];
    for (int i = 0; i < 12; i++)
        v[i] = (float)(i % 5) - 1.5f;
    NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"seq", 3}, {"kv_seq", 4}), v, &x));
    return x;
}

static na_array *run(na_layer *l, const na_array *x)
{
    na_array *y = NULL;
    NA_OK_OR_FAIL(na_layer_call_array(l, x, NULL, &y));
    return y;
}

/* ---- reading fields --------------------------------------------------------- */

Test(fields, softmax_across_by_name)
{
    na_layer *s = NULL;
    NA_OK_OR_FAIL(na_softmax_layer_new(NA_NAMES("kv_seq", "heads"), &s));
    const char *const *across = NULL;
    NA_OK_OR_FAIL(na_layer_field_names(s, "across", &across));
    cr_assert_str_eq(across[0], "kv_seq");
    cr_assert_str_eq(across[1], "heads");
    cr_assert_null(across[2]);
    cr_assert_eq(across[0], na_intern("kv_seq"), "names are interned");
    na_field_ref r;
    NA_OK_OR_FAIL(na_layer_field(s, "across", &r));
    cr_assert_eq(r.desc->kind, NA_FIELD_NAMES);
    cr_assert_str_eq(r.desc->name, "across");
    cr_assert_eq(*(const char *const **)r.ptr, across);
    cr_assert_eq(na_layer_type_field_count(&na_softmax_layer_type), 1);
    cr_assert_eq(na_layer_type_field_at(&na_softmax_layer_type, 0), r.desc);
    cr_assert_null(na_layer_type_field_at(&na_softmax_layer_type, 1));
    na_layer_free(s);
}

Test(fields, missing_field_and_wrong_kind)
{
    na_layer *s = NULL;
    NA_OK_OR_FAIL(na_softmax_layer_new(NA_NAMES("kv_seq"), &s));
    double eps = 0;
    NA_EXPECT_FAIL(na_layer_field_float(s, "eps", &eps), NA_ERR_ARGUMENT,
                   "na_layer_field_float: Softmax has no field 'eps' (fields: across)");
    int64_t n = 0;
    NA_EXPECT_FAIL(na_layer_field_int(s, "across", &n), NA_ERR_ARGUMENT,
                   "na_layer_field_int: field 'across' of Softmax is a name list, not "
                   "an int");
    NA_EXPECT_FAIL(na_layer_field_set_bool(s, "across", true), NA_ERR_ARGUMENT,
                   "na_layer_field_set_bool", "is a name list, not a bool");
    NA_EXPECT_FAIL(na_layer_field_names(s, "across", NULL), NA_ERR_ARGUMENT,
                   "out is NULL");
    NA_EXPECT_FAIL(na_layer_field(NULL, "across", &(na_field_ref){0}), NA_ERR_ARGUMENT,
                   "na_layer_field: layer and field name are required");
    NA_EXPECT_FAIL(na_layer_field_set_names(s, "across", NA_NAMES("a", "a")),
                   NA_ERR_AXIS, "axis 'a' is listed twice");
    const char *const *across = NULL;
    NA_OK_OR_FAIL(na_layer_field_names(s, "across", &across));
    cr_assert_str_eq(across[0], "kv_seq", "a failed set leaves the field alone");
    na_layer_free(s);
}

Test(fields, enum_by_value_and_name)
{
    na_layer *e = NULL;
    NA_OK_OR_FAIL(na_elementwise_new(NA_GELU, &e));
    int op = -1;
    NA_OK_OR_FAIL(na_layer_field_enum(e, "op", &op));
    cr_assert_eq(op, NA_GELU);
    na_field_ref r;
    NA_OK_OR_FAIL(na_layer_field(e, "op", &r));
    cr_assert_str_eq(r.desc->enum_names[op], "gelu");
    NA_OK_OR_FAIL(na_layer_field_set_enum_name(e, "op", "relu"));
    NA_OK_OR_FAIL(na_layer_field_enum(e, "op", &op));
    cr_assert_eq(op, NA_RELU);
    NA_EXPECT_FAIL(na_layer_field_set_enum_name(e, "op", "frobnicate"), NA_ERR_ARGUMENT,
                   "'frobnicate' is not a value of field 'op' of Elementwise");
    NA_EXPECT_FAIL(na_layer_field_set_enum(e, "op", 999), NA_ERR_ARGUMENT,
                   "999 is not a value of field 'op' of Elementwise");
    na_array *x = iota(), *y = run(e, x);
    cr_assert_eq(ts_at(y, 2, NA_NAMES("seq", "kv_seq"), (int64_t[]){0, 0}), 0.0f,
                 "relu(-1.5) = 0 after the edit");
    TS_FREE(x, y);
    na_layer_free(e);
}

Test(fields, children_by_name)
{
    na_layer *a = NULL, *b = NULL, *seq = NULL, *res = NULL;
    NA_OK_OR_FAIL(na_elementwise_new(NA_RELU, &a));
    NA_OK_OR_FAIL(na_tanh_soft_cap_new(2.0, &b));
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(a, b), &seq));
    NA_OK_OR_FAIL(na_residual_new(seq, &res));
    na_layer *delta = NULL;
    NA_OK_OR_FAIL(na_layer_field_child(res, "delta", &delta));
    cr_assert_eq(delta, seq);
    cr_assert_str_eq(na_layer_child_name(res, 0), "delta");
    int n = 0;
    na_layer *const *kids = NULL;
    NA_OK_OR_FAIL(na_layer_field_children(seq, "children", &n, &kids));
    cr_assert_eq(n, 2);
    cr_assert_eq(kids[1], b);
    cr_assert_str_eq(na_layer_child_name(seq, 1), "1");
    double cap = 0;
    NA_OK_OR_FAIL(na_layer_field_float(b, "cap", &cap));
    cr_assert_eq(cap, 2.0);
    na_layer_free(res);
}

/* ---- building from the table alone ------------------------------------------ */

Test(fields, alloc_set_finish)
{
    na_layer *c = NULL;
    NA_OK_OR_FAIL(na_layer_alloc(&na_check_structure_type, &c));
    NA_OK_OR_FAIL(na_layer_field_set_string(c, "spec", "seq:S kv_seq:4"));
    NA_OK_OR_FAIL(na_layer_finish(c));
    na_array *x = iota(), *y = run(c, x);
    TS_FREE(x, y);
    NA_OK_OR_FAIL(na_layer_field_set_string(c, "spec", "seq:"));
    NA_EXPECT_FAIL(na_layer_finish(c), NA_ERR_ARGUMENT,
                   "expected a size or variable after 'seq:'");
    na_layer_free(c);
    NA_EXPECT_FAIL(na_layer_alloc(NULL, &c), NA_ERR_ARGUMENT, "na_layer_alloc");
}

/* ---- clone and equality ------------------------------------------------------- */

static na_layer *small_tree(double cap)
{
    na_layer *chk = NULL, *soft = NULL, *act = NULL, *capl = NULL, *id = NULL,
             *grp = NULL, *seq = NULL, *res = NULL;
    NA_OK_OR_FAIL(na_check_structure_new("seq:S kv_seq:K", &chk));
    NA_OK_OR_FAIL(na_elementwise_new(NA_TANH, &act));
    NA_OK_OR_FAIL(na_tanh_soft_cap_new(cap, &capl));
    NA_OK_OR_FAIL(na_identity_new(&id));
    NA_OK_OR_FAIL(na_named_group_new("act", NA_LAYERS(act, capl, id), &grp));
    NA_OK_OR_FAIL(na_residual_new(grp, &res));
    NA_OK_OR_FAIL(na_softmax_layer_new(NA_NAMES("kv_seq"), &soft));
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(chk, res, soft), &seq));
    return seq;
}

Test(fields, clone_is_equal_and_independent)
{
    na_layer *m = small_tree(3.0), *c = NULL;
    NA_OK_OR_FAIL(na_layer_clone(m, NA_CLONE_COPY_PARAMS, &c));
    cr_assert_neq(c, m);
    cr_assert(na_layer_equal(m, c, true));
    cr_assert_neq(na_layer_child(m, 0), na_layer_child(c, 0), "a deep copy");
    na_array *x = iota(), *y1 = run(m, x), *y2 = run(c, x);
    cr_assert_eq(ts_max_abs_diff(y1, y2), 0.0);
    /* edit the clone: the original keeps its value */
    na_layer *cap = na_tree_get(c, "1/delta/1");
    cr_assert_str_eq(na_layer_type_name(cap), "TanhSoftCap");
    NA_OK_OR_FAIL(na_layer_field_set_float(cap, "cap", 0.5));
    cr_assert_not(na_layer_equal(m, c, false));
    double v = 0;
    NA_OK_OR_FAIL(na_layer_field_float(na_tree_get(m, "1/delta/1"), "cap", &v));
    cr_assert_eq(v, 3.0);
    na_array *y3 = run(c, x), *y4 = run(m, x);
    cr_assert_gt(ts_max_abs_diff(y1, y3), 1e-3);
    cr_assert_eq(ts_max_abs_diff(y1, y4), 0.0);
    TS_FREE(x, y1, y2, y3, y4);
    na_layer_free(m);
    na_layer_free(c);
}

Test(fields, clone_rebuilds_derived_state)
{
    na_layer *chk = NULL, *c = NULL;
    NA_OK_OR_FAIL(na_check_structure_new("seq:3 kv_seq:5", &chk));
    NA_OK_OR_FAIL(na_layer_clone(chk, NA_CLONE_SHARE_PARAMS, &c));
    na_array *x = iota(), *y = NULL;
    NA_EXPECT_FAIL(na_layer_call_array(c, x, NULL, &y), NA_ERR_SHAPE,
                   "axis 'kv_seq' has size 4, expected 5");
    na_array_free(x);
    na_layer_free(chk);
    na_layer_free(c);
}

Test(fields, equality_cases)
{
    na_layer *a = small_tree(3.0), *b = small_tree(3.0), *c = small_tree(2.0);
    cr_assert(na_layer_equal(a, b, true));
    cr_assert(na_layer_equal(a, a, true));
    cr_assert_not(na_layer_equal(a, c, false));
    cr_assert_not(na_layer_equal(a, NULL, false));
    cr_assert_not(na_layer_equal(a, na_layer_child(a, 0), false));
    NA_OK_OR_FAIL(na_layer_field_set_string(na_tree_get(b, "1/delta"), "name", "other"));
    cr_assert_not(na_layer_equal(a, b, false));
    na_layer_free(a);
    na_layer_free(b);
    na_layer_free(c);
}

/* ---- a type written outside the library --------------------------------------- */

typedef struct shift_layer {
    na_layer base;
    double by;
    const char **axes;
} shift_layer;

static na_status shift_call(na_layer *self, const na_value *in, const na_side *side,
                            na_value **out)
{
    (void)side;
    const na_array *x = na_value_array(in, "Shift");
    na_array *y = NULL;
    na_status st = x ? na_binary_scalar(NA_ADD, x, ((shift_layer *)self)->by, &y)
                     : na_last_status();
    if (st == NA_OK)
        *out = na_value_from_array(y);
    return st;
}

static const na_field_desc shift_fields[] = {
    NA_FIELD(shift_layer, by, NA_FIELD_FLOAT),
    NA_FIELD(shift_layer, axes, NA_FIELD_NAMES),
};

static const na_layer_type shift_type = {
    .name = "TestShift", .call = shift_call, .size = sizeof(shift_layer),
    .fields = shift_fields, .field_count = NA_FIELD_COUNT(shift_fields)};

static const na_layer_type impostor_type = {
    .name = "TestShift", .call = shift_call, .size = sizeof(shift_layer),
    .fields = shift_fields, .field_count = NA_FIELD_COUNT(shift_fields)};

Test(fields, registry)
{
    cr_assert_eq(na_layer_type_find("Softmax"), &na_softmax_layer_type);
    cr_assert_eq(na_layer_type_find("Sequential"), &na_sequential_type);
    cr_assert_null(na_layer_type_find("NoSuchLayer"));
    cr_assert_null(na_layer_type_find("TestShift"));
    NA_OK_OR_FAIL(na_layer_type_register(&shift_type));
    NA_OK_OR_FAIL(na_layer_type_register(&shift_type));
    cr_assert_eq(na_layer_type_find("TestShift"), &shift_type);
    NA_EXPECT_FAIL(na_layer_type_register(&impostor_type), NA_ERR_ARGUMENT,
                   "another type is already registered as 'TestShift'");
    NA_EXPECT_FAIL(na_layer_type_register(&(na_layer_type){.name = "X"}),
                   NA_ERR_ARGUMENT, "needs a name, a call function, a size");
    int n = na_layer_type_registered_count();
    cr_assert_geq(n, 10);
    cr_assert_eq(na_layer_type_registered_at(n - 1), &shift_type);
    cr_assert_null(na_layer_type_registered_at(n));
}

Test(fields, custom_type_from_table)
{
    const na_layer_type *t = &shift_type;
    na_layer *l = NULL, *c = NULL;
    NA_OK_OR_FAIL(na_layer_alloc(t, &l));
    NA_OK_OR_FAIL(na_layer_field_set_float(l, "by", 0.5));
    NA_OK_OR_FAIL(na_layer_field_set_names(l, "axes", NA_NAMES("seq")));
    NA_OK_OR_FAIL(na_layer_finish(l));
    NA_OK_OR_FAIL(na_layer_clone(l, NA_CLONE_COPY_PARAMS, &c));
    cr_assert(na_layer_equal(l, c, true));
    na_array *x = iota(), *y = run(c, x);
    cr_assert_float_eq(ts_at(y, 2, NA_NAMES("seq", "kv_seq"), (int64_t[]){0, 0}), -1.0,
                       1e-6);
    TS_FREE(x, y);
    char *text = NULL;
    na_print_options o = {.color = NA_COLOR_NEVER};
    NA_OK_OR_FAIL(na_print_tree_str(c, &o, &text));
    cr_assert(strstr(text, "TestShift(by=0.5, axes=[seq])"), "%s", text);
    free(text);
    na_layer_free(l);
    na_layer_free(c);
}

/* ---- every built-in type, read back through the field API --------------------- */

/* "name:kind=value; ..." for every field, through the typed getters. */
static void field_text(const na_layer *l, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int k = 0; k < na_layer_type_field_count(l->type); k++) {
        const na_field_desc *f = na_layer_type_field_at(l->type, k);
        char v[256] = "";
        na_layer *child = NULL;
        na_layer *const *kids = NULL;
        na_param *p = NULL;
        const char *const *names = NULL;
        const char *s = NULL;
        int64_t i = 0;
        double x = 0;
        bool b = false;
        int e = 0;
        const na_array *a = NULL;
        int count = 0;
        switch (f->kind) {
        case NA_FIELD_CHILD:
            NA_OK_OR_FAIL(na_layer_field_child(l, f->name, &child));
            snprintf(v, sizeof v, "%s", child ? na_layer_type_name(child) : "null");
            break;
        case NA_FIELD_CHILDREN:
            NA_OK_OR_FAIL(na_layer_field_children(l, f->name, &count, &kids));
            for (int c = 0; c < count; c++)
                snprintf(v + strlen(v), sizeof v - strlen(v), "%s%s", c ? "," : "",
                         na_layer_type_name(kids[c]));
            break;
        case NA_FIELD_PARAM:
        case NA_FIELD_STATE:
            NA_OK_OR_FAIL(na_layer_field_param(l, f->name, &p));
            snprintf(v, sizeof v, "%s", p ? p->label : "null");
            break;
        case NA_FIELD_NAMES:
            NA_OK_OR_FAIL(na_layer_field_names(l, f->name, &names));
            for (int c = 0; names && names[c]; c++)
                snprintf(v + strlen(v), sizeof v - strlen(v), "%s%s", c ? "," : "",
                         names[c]);
            break;
        case NA_FIELD_AXIS:
            NA_OK_OR_FAIL(na_layer_field_axis(l, f->name, &s));
            snprintf(v, sizeof v, "%s", s ? s : "null");
            break;
        case NA_FIELD_INT:
            NA_OK_OR_FAIL(na_layer_field_int(l, f->name, &i));
            snprintf(v, sizeof v, "%lld", (long long)i);
            break;
        case NA_FIELD_FLOAT:
            NA_OK_OR_FAIL(na_layer_field_float(l, f->name, &x));
            snprintf(v, sizeof v, "%g", x);
            break;
        case NA_FIELD_BOOL:
            NA_OK_OR_FAIL(na_layer_field_bool(l, f->name, &b));
            snprintf(v, sizeof v, "%s", b ? "true" : "false");
            break;
        case NA_FIELD_STRING:
            NA_OK_OR_FAIL(na_layer_field_string(l, f->name, &s));
            snprintf(v, sizeof v, "%s", s ? s : "null");
            break;
        case NA_FIELD_ENUM:
            NA_OK_OR_FAIL(na_layer_field_enum(l, f->name, &e));
            snprintf(v, sizeof v, "%s", f->enum_names[e]);
            break;
        case NA_FIELD_ARRAY:
            NA_OK_OR_FAIL(na_layer_field_array(l, f->name, &a));
            if (a)
                na_shape_str(a, v, sizeof v);
            break;
        }
        n += (size_t)snprintf(buf + n, cap - n, "%s%s:%s=%s", k ? "; " : "", f->name,
                              na_field_kind_name(f->kind), v);
    }
}

typedef struct type_case {
    const na_layer_type *type;
    na_layer *layer;
    const char *want;
} type_case;

static na_layer *leaf(void)
{
    na_layer *l = NULL;
    NA_OK_OR_FAIL(na_identity_new(&l));
    return l;
}

static na_layer *made_ok(na_status st, na_layer **made)
{
    cr_assert_eq(st, NA_OK, "%s", na_last_error());
    return *made;
}

#define MAKE(call) made_ok((call), &made)

static int all_types(type_case *c)
{
    na_layer *made = NULL;
    na_param *table = NULL;
    NA_OK_OR_FAIL(na_embedding_table_new("emb", "vocab", 7, 1, &(na_dim){"embedding", 4},
                                         1, &table));
    na_dim e4 = {"embedding", 4}, h3 = {"heads", 3}, p2 = {"projection", 2};
    na_kv_cache_options kvo = {.capacity = 16, .label = "blk"};
    na_causal_mask_options cmo = {.window = 4};
    na_rope_options ro = {.scale_factor = 2};
    int n = 0;
    c[n++] = (type_case){&na_sequential_type,
        MAKE(na_sequential_new(NA_LAYERS(leaf(), leaf()), &made)),
        "children:children=Identity,Identity"};
    c[n++] = (type_case){&na_named_group_type,
        MAKE(na_named_group_new("blk", NA_LAYERS(leaf()), &made)),
        "name:string=blk; children:children=Identity"};
    c[n++] = (type_case){&na_branch_add_type,
        MAKE(na_branch_add_new(NA_LAYERS(leaf()), &made)), "children:children=Identity"};
    c[n++] = (type_case){&na_branch_mul_type,
        MAKE(na_branch_mul_new(NA_LAYERS(leaf(), leaf()), &made)),
        "children:children=Identity,Identity"};
    c[n++] = (type_case){&na_residual_type, MAKE(na_residual_new(leaf(), &made)),
        "delta:child=Identity"};
    c[n++] = (type_case){&na_identity_type, leaf(), ""};
    c[n++] = (type_case){&na_check_structure_type,
        MAKE(na_check_structure_new("seq:S ...", &made)), "spec:string=seq:S ..."};
    c[n++] = (type_case){
        &na_linear_type,
        MAKE(na_linear_new("q", 1, &e4, 2, (na_dim[]){h3, p2}, 1, &made)),
        "weights:param=q.weights; in:names=embedding; out:names=heads,projection; "
        "weight_out:names=heads,projection; parallel:names="};
    c[n++] = (type_case){&na_add_bias_type, MAKE(na_add_bias_new("q", 1, &h3, &made)),
                         "bias:param=q.bias"};
    c[n++] =
        (type_case){&na_affine_type, MAKE(na_affine_new("o", 1, &e4, 1, &h3, 1, &made)),
                    "linear:child=Linear; bias:child=AddBias"};
    c[n++] = (type_case){&na_named_einsum_type,
        MAKE(na_named_einsum_new("a:i, b:i -> c:i", &made)),
        "spec:string=a:i, b:i -> c:i"};
    c[n++] = (type_case){&na_rename_axes_type,
        MAKE(na_rename_axes_new(NA_NAMES("seq"), NA_NAMES("kv_seq"), &made)),
        "old:names=seq; new:names=kv_seq"};
    c[n++] = (type_case){&na_constant_rescale_type,
        MAKE(na_constant_rescale_new(0.25, &made)), "by:float=0.25"};
    c[n++] = (type_case){&na_cast_to_dtype_type,
        MAKE(na_cast_to_dtype_new(NA_F64, &made)), "dtype:enum=f64"};
    c[n++] = (type_case){&na_standardize_type,
        MAKE(na_standardize_new(NA_NAMES("embedding"), &made)),
        "across:names=embedding; eps:float=1e-06"};
    c[n++] = (type_case){&na_rms_standardize_type,
        MAKE(na_rms_standardize_new(NA_NAMES("embedding"), &made)),
        "across:names=embedding; eps:float=1e-06"};
    c[n++] =
        (type_case){&na_layer_norm_type, MAKE(na_layer_norm_new("ln", 1, &e4, &made)),
                    "across:names=embedding; eps:float=1e-06; use_bias:bool=true; "
                    "scale:param=ln.scale; bias:param=ln.bias"};
    c[n++] = (type_case){&na_rms_layer_norm_type,
        MAKE(na_rms_layer_norm_new("rn", 1, &e4, &made)),
        "across:names=embedding; eps:float=1e-06; scale:param=rn.scale"};
    c[n++] = (type_case){&na_softmax_layer_type,
        MAKE(na_softmax_layer_new(NA_NAMES("kv_seq"), &made)), "across:names=kv_seq"};
    c[n++] = (type_case){&na_elementwise_type, MAKE(na_elementwise_new(NA_SILU, &made)),
        "op:enum=silu"};
    c[n++] = (type_case){&na_tanh_soft_cap_type,
        MAKE(na_tanh_soft_cap_new(30, &made)), "cap:float=30"};
    c[n++] = (type_case){&na_dropout_type,
        MAKE(na_dropout_new(0.1, NA_NAMES("heads"), 9, &made)),
        "rate:float=0.1; shared:names=heads; seed:int=9; enabled:bool=true"};
    c[n++] = (type_case){&na_embedding_lookup_type,
        MAKE(na_embedding_lookup_new(table, "vocab", &made)),
        "table:param=emb.embeddings; vocab_axis:axis=vocab; embedding:names=embedding"};
    c[n++] = (type_case){&na_embedding_decode_type,
        MAKE(na_embedding_decode_new(table, "vocab", &made)),
        "table:param=emb.embeddings; vocab_axis:axis=vocab; embedding:names=embedding"};
    c[n++] = (type_case){&na_apply_rope_type,
        MAKE(na_apply_rope_new("projection", &ro, &made)),
        "axis:axis=projection; rope_size:int=0; positions:string=token_positions; "
        "max_wavelength:float=10000; scale_factor:float=2; fraction:float=1; llama3_factor:float=0; llama3_low_freq_factor:float=0; "
        "llama3_high_freq_factor:float=0; llama3_original_max_position:float=0; "
        "default_positions_axis:axis=null"};
    c[n++] = (type_case){&na_apply_rope_subset_type,
        MAKE(na_apply_rope_subset_new("projection", 4, NULL, &made)),
        "axis:axis=projection; rope_size:int=4; positions:string=token_positions; "
        "max_wavelength:float=10000; scale_factor:float=1; fraction:float=1; llama3_factor:float=0; llama3_low_freq_factor:float=0; "
        "llama3_high_freq_factor:float=0; llama3_original_max_position:float=0; "
        "default_positions_axis:axis=null"};
    c[n++] = (type_case){&na_attention_type,
        MAKE(na_attention_new(leaf(), leaf(), leaf(), leaf(), leaf(), &made)),
        "input_to_query:child=Identity; input_to_key:child=Identity; "
        "input_to_value:child=Identity; query_key_to_attn:child=Identity; "
        "attn_value_to_output:child=Identity; keep_weights:bool=false; "
        "return_weights:bool=false; fused:bool=true; merge_weight_heads:bool=false"};
    c[n++] = (type_case){&na_kv_cache_attention_type,
        MAKE(na_kv_cache_attention_new(leaf(), leaf(), leaf(), leaf(), leaf(), &kvo,
                                       &made)),
        "capacity:int=16; batch:int=0; end_index:string=cache_end_index; "
        "query_positions:string=token_positions; kv_positions:string=kv_positions; "
        "label:string=blk; batch_axis:axis=batch; kv_dtype:enum=auto; "
        "input_to_query:child=Identity; "
        "input_to_key:child=Identity; input_to_value:child=Identity; "
        "query_key_to_attn:child=Identity; attn_value_to_output:child=Identity; "
        "keep_weights:bool=false; return_weights:bool=false; fused:bool=true; "
        "merge_weight_heads:bool=false; "
        "cache_keys:state=null; cache_values:state=null; cache_positions:state=null; "
        "cache_end_index:state=blk.cache_end_index"};
    c[n++] = (type_case){&na_select_attention_input_type,
        MAKE(na_select_attention_input_new(1, "seq", "kv_seq", &made)),
        "item:int=1; rename_from:axis=seq; rename_to:axis=kv_seq"};
    c[n++] = (type_case){&na_attention_logits_type,
        MAKE(na_attention_logits_new("projection", 0.5, &made)),
        "contract:axis=projection; scale:float=0.5; custom_scale:bool=false"};
    c[n++] = (type_case){&na_attention_combine_type,
        MAKE(na_attention_combine_new(NULL, &made)), "contract:axis=kv_seq"};
    c[n++] = (type_case){&na_apply_attention_mask_type,
        MAKE(na_apply_attention_mask_new("pad", -1e9, &made)),
        "mask_tag:string=pad; masked_out_value:float=-1e+09; optional:bool=false"};
    c[n++] = (type_case){&na_apply_causal_mask_type,
        MAKE(na_apply_causal_mask_new(&cmo, &made)),
        "window:int=4; query_positions:string=token_positions; "
        "kv_positions:string=kv_positions; masked_out_value:float=-2.38198e+38; "
        "query_axis:axis=seq; kv_axis:axis=kv_seq"};
    c[n++] = (type_case){&na_apply_attention_bias_type,
        MAKE(na_apply_attention_bias_new("rel", &made)), "bias_tag:string=rel; optional:bool=false"};
    c[n++] = (type_case){&na_apply_alibi_bias_type,
        MAKE(na_apply_alibi_bias_new(&(na_alibi_options){.num_heads = 4}, &made)),
        "num_heads:int=4; heads_axis:axis=heads; group_axis:axis=null; num_groups:int=0; "
        "query_positions:string=token_positions; kv_positions:string=kv_positions; "
        "query_axis:axis=seq; kv_axis:axis=kv_seq"};
    c[n++] = (type_case){&na_masked_softmax_type,
        MAKE(na_masked_softmax_new("kv_seq", NA_MASKED_ROWS_ZERO, 0, &made)),
        "across:axis=kv_seq; masked_rows:enum=zero; masked_out_value:float=-2.38198e+38"};
    na_param_release(table);
    return n;
}

Test(fields, every_builtin_type_read_back)
{
    type_case c[64];
    int n = all_types(c);
    cr_assert_eq(n, 36);
    for (int i = 0; i < n; i++) {
        const char *name = c[i].type->name;
        cr_assert_eq(c[i].layer->type, c[i].type, "%s", name);
        cr_assert_eq(na_layer_type_find(name), c[i].type, "%s is registered", name);
        char got[2048];
        field_text(c[i].layer, got, sizeof got);
        cr_assert_str_eq(got, c[i].want, "%s: %s", name, got);
        /* a clone prints the same and is equal */
        na_layer *k = NULL;
        NA_OK_OR_FAIL(na_layer_clone(c[i].layer, NA_CLONE_COPY_PARAMS, &k));
        cr_assert(na_layer_equal(c[i].layer, k, true), "%s", name);
        char *t1 = NULL, *t2 = NULL;
        na_print_options o = {.color = NA_COLOR_NEVER};
        NA_OK_OR_FAIL(na_print_tree_str(c[i].layer, &o, &t1));
        NA_OK_OR_FAIL(na_print_tree_str(k, &o, &t2));
        cr_assert_str_eq(t1, t2, "%s", name);
        free(t1);
        free(t2);
        na_layer_free(k);
        na_layer_free(c[i].layer);
    }
}

/* ---- a tied embedding ----------------------------------------------------------- */

static na_layer *tied_model(void)
{
    na_param *table = NULL;
    na_dim e = {"embedding", 6}, h = {"hidden", 8};
    NA_OK_OR_FAIL(na_embedding_table_new("emb", "vocab", 11, 1, &e, 3, &table));
    na_layer *look = NULL, *ln = NULL, *up = NULL, *act = NULL, *down = NULL,
             *mlp = NULL, *res = NULL, *dec = NULL, *m = NULL;
    NA_OK_OR_FAIL(na_embedding_lookup_new(table, "vocab", &look));
    NA_OK_OR_FAIL(na_layer_norm_new("ln", 1, &e, &ln));
    NA_OK_OR_FAIL(na_linear_new("up", 1, &e, 1, &h, 4, &up));
    NA_OK_OR_FAIL(na_elementwise_new(NA_GELU, &act));
    NA_OK_OR_FAIL(na_linear_new("down", 1, &h, 1, &e, 5, &down));
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(up, act, down), &mlp));
    NA_OK_OR_FAIL(na_residual_new(mlp, &res));
    NA_OK_OR_FAIL(na_embedding_decode_new(table, "vocab", &dec));
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(look, ln, res, dec), &m));
    na_param_release(table);
    return m;
}

static na_array *run_ids(na_layer *m)
{
    int32_t ids[] = {1, 4, 9, 0, 10, 3};
    na_array *x = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_I32, NA_DIMS({"batch", 2}, {"seq", 3}), ids, &x));
    NA_OK_OR_FAIL(na_layer_call_array(m, x, NULL, &y));
    na_array_free(x);
    return y;
}

static na_param *table_of(na_layer *m, const char *path)
{
    na_param *p = NULL;
    NA_OK_OR_FAIL(na_layer_field_param(na_tree_get(m, path), "table", &p));
    return p;
}

Test(fields, clone_keeps_tied_parameters_tied)
{
    na_layer *m = tied_model(), *c = NULL, *s = NULL;
    NA_OK_OR_FAIL(na_layer_clone(m, NA_CLONE_COPY_PARAMS, &c));
    NA_OK_OR_FAIL(na_layer_clone(m, NA_CLONE_SHARE_PARAMS, &s));
    cr_assert_eq(table_of(m, "0"), table_of(m, "3"));
    cr_assert_eq(table_of(c, "0"), table_of(c, "3"), "still one parameter");
    cr_assert_neq(table_of(c, "0"), table_of(m, "0"), "a copy");
    cr_assert_eq(table_of(s, "3"), table_of(m, "0"), "shared with the source");
    cr_assert_eq(table_of(m, "0")->refcount, 4, "two users in m, two in s");
    cr_assert_eq(na_tree_param_count(c), na_tree_param_count(m));
    na_array *y0 = run_ids(m), *y1 = run_ids(c), *y2 = run_ids(s);
    cr_assert_eq(ts_max_abs_diff(y0, y1), 0.0);
    cr_assert_eq(ts_max_abs_diff(y0, y2), 0.0);
    cr_assert(na_layer_equal(m, c, true));
    /* new values for the clone's table: both of its users see them, m not */
    na_array *zeros = NULL;
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"vocab", 11}, {"embedding", 6}), &zeros));
    na_param_set_value(table_of(c, "3"), zeros);
    cr_assert(na_layer_equal(m, c, false), "same structure");
    cr_assert_not(na_layer_equal(m, c, true), "other values");
    na_array *y3 = run_ids(c), *y4 = run_ids(m);
    cr_assert_eq(ts_max_abs_diff(y0, y4), 0.0, "the original is untouched");
    double mx = 0;
    for (int64_t i = 0; i < na_size(y3); i++) {
        int64_t idx[3] = {i / 33, (i / 11) % 3, i % 11};
        mx = fmax(mx, fabs(na_get(y3, idx)));
    }
    cr_assert_eq(mx, 0.0, "a zero table decodes to zero logits in the clone");
    TS_FREE(y0, y1, y2, y3, y4);
    na_layer_free(m);
    na_layer_free(c);
    na_layer_free(s);
}

Test(fields, clone_of_legacy_or_null)
{
    na_layer *out = NULL;
    NA_EXPECT_FAIL(na_layer_clone(NULL, NA_CLONE_COPY_PARAMS, &out), NA_ERR_ARGUMENT,
                   "na_layer_clone: layer is NULL");
    na_layer *id = leaf();
    NA_EXPECT_FAIL(na_layer_clone(id, (na_clone_params)7, &out), NA_ERR_ARGUMENT,
                   "unknown mode 7");
    na_layer_free(id);
}

/* Penzai's attributes_dict / from_attributes / key_for_field. */
Test(fields, attributes_from_attributes_key_for_field)
{
    na_layer *m = NULL, *copy = NULL, *mask = NULL, *mask2 = NULL;
    NA_OK_OR_FAIL(na_mha_new(&(na_mha_options){.num_heads = 2, .in_features = 4,
                                               .causal = true, .seed = 3}, &m));
    na_field_ref refs[16];
    int n = 0;
    NA_OK_OR_FAIL(na_layer_attributes(m, 16, refs, &n));
    cr_assert_eq(n, na_layer_type_field_count(m->type));
    cr_assert_str_eq(refs[0].desc->name, "input_to_query");
    NA_OK_OR_FAIL(na_layer_from_attributes(m->type, n, refs, &copy));
    cr_assert(na_layer_equal(m, copy, true), "rebuilt from its attributes");
    cr_assert_neq(na_layer_child(copy, 0), na_layer_child(m, 0), "children copied");
    const char *key = NULL;
    NA_OK_OR_FAIL(na_layer_key_for_field(m, "query_key_to_attn", &key));
    cr_assert_str_eq(key, "query_key_to_attn");
    cr_assert_eq(na_tree_get(m, key), na_layer_child(m, 3));
    NA_EXPECT_FAIL(na_layer_key_for_field(m, "fused", &key), NA_ERR_ARGUMENT,
                   "na_layer_key_for_field", "field 'fused' of Attention is a bool");
    /* a leaf: only some attributes given, the rest zero; checks run */
    NA_OK_OR_FAIL(na_apply_causal_mask_new(&(na_causal_mask_options){.window = 2}, &mask));
    NA_OK_OR_FAIL(na_layer_attributes(mask, 16, refs, &n));
    NA_OK_OR_FAIL(na_layer_from_attributes(&na_apply_causal_mask_type, n, refs, &mask2));
    cr_assert(na_layer_equal(mask, mask2, true));
    na_layer_free(mask2);
    NA_EXPECT_FAIL(na_layer_from_attributes(&na_apply_causal_mask_type, 1, refs, &mask2),
                   NA_ERR_ARGUMENT, "ApplyCausalMask", "na_layer_from_attributes");
    NA_EXPECT_FAIL(na_layer_from_attributes(&na_softmax_layer_type, 1, refs, &mask2),
                   NA_ERR_ARGUMENT, "Softmax has no field 'window'");
    na_layer_free(m), na_layer_free(copy), na_layer_free(mask);
}
