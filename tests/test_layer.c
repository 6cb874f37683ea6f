/* The layer protocol: values, side inputs, parameters, the call choke
 * point and freeing. */
#include <stdlib.h>

#include <namedarr/layer.h>

#include "support.h"

/* ---- a small test layer: y = x + side[key] (if key) + w (if param) ---- */

typedef struct add_layer {
    na_layer base;
    const char *key;
    na_param *w;
    int *destroyed;
} add_layer;

static na_status add_call(na_layer *self, const na_value *in, const na_side *side,
                          na_value **out)
{
    add_layer *l = (add_layer *)self;
    const na_array *x = na_value_array(in, "AddSide");
    if (!x)
        return na_last_status();
    na_array *y = NULL;
    na_status st = na_array_ref(x, &y);
    if (st == NA_OK && l->key) {
        const na_array *s = na_side_require_array(side, l->key, "AddSide");
        na_array *t = NULL;
        st = s ? na_add(y, s, &t) : na_last_status();
        na_array_free(y);
        y = t;
    }
    if (st == NA_OK && l->w) {
        na_array *t = NULL;
        st = na_add(y, l->w->value, &t);
        na_array_free(y);
        y = t;
    }
    if (st != NA_OK)
        return st;
    *out = na_value_from_array(y);
    return NA_OK;
}

/* Extra cleanup: the fields and the struct are freed by na_layer_free. */
static void add_destroy(na_layer *self)
{
    add_layer *l = (add_layer *)self;
    if (l->destroyed)
        ++*l->destroyed;
}

static const na_field_desc add_fields[] = {NA_FIELD(add_layer, w, NA_FIELD_PARAM)};

static const na_layer_type add_type = {
    .name = "AddSide",
    .call = add_call,
    .size = sizeof(add_layer),
    .fields = add_fields,
    .field_count = NA_FIELD_COUNT(add_fields),
    .destroy = add_destroy,
};

static na_layer *add_new(const char *key, na_param *w, int *destroyed)
{
    add_layer *l = calloc(1, sizeof *l);
    cr_assert(l);
    *l = (add_layer){{&add_type}, key, w, destroyed};
    return &l->base;
}

static na_array *full1(const char *name, int64_t n, double v)
{
    na_array *x = NULL;
    NA_OK_OR_FAIL(na_full(NA_F32, 1, (na_dim[]){{name, n}}, v, &x));
    return x;
}

/* ---- values ------------------------------------------------------------ */

Test(value, array_and_tuple)
{
    na_value *a = na_value_from_array(full1("seq", 3, 1));
    na_value *b = na_value_ref_array(a->array);
    cr_assert(a && b);
    cr_assert_neq(a->array, b->array);
    cr_assert_eq(a->array->storage, b->array->storage);
    na_value *t = na_value_tuple(2, (na_value *[]){a, b});
    cr_assert(t);
    char buf[128];
    na_value_shape_str(t, buf, sizeof buf);
    cr_assert_str_eq(buf, "(f32[seq:3], f32[seq:3])");
    cr_assert_eq(na_value_item(t, 1, "test"), b);
    cr_assert_null(na_value_item(t, 2, "test"));
    cr_assert(strstr(na_last_error(), "test: tuple item 2 out of range"));
    cr_assert_null(na_value_array(t, "MyLayer"));
    cr_assert(strstr(na_last_error(), "MyLayer: expected an array, got a tuple of 2"));
    na_value *c = na_value_clone(t);
    cr_assert(c && c->kind == NA_VALUE_TUPLE && c->count == 2);
    cr_assert_eq(c->items[0]->array->storage, a->array->storage);
    na_value_free(t);
    na_value_free(c);
}

Test(value, shape_str_truncates_and_reports_length)
{
    na_value *a = na_value_from_array(full1("embedding", 512, 0));
    char buf[8];
    size_t n = na_value_shape_str(a, buf, sizeof buf);
    cr_assert_eq(n, strlen("f32[embedding:512]"));
    cr_assert_str_eq(buf, "f32[emb");
    na_value *one = na_value_tuple(1, (na_value *[]){a});
    char big[64];
    na_value_shape_str(one, big, sizeof big);
    cr_assert_str_eq(big, "(f32[embedding:512],)");
    na_value_free(one);
}

Test(value, tuple_with_null_item_frees_the_rest)
{
    na_value *a = na_value_from_array(full1("seq", 2, 0));
    cr_assert_null(na_value_tuple(2, (na_value *[]){a, NULL}));
    cr_assert_eq(na_last_status(), NA_ERR_ARGUMENT);
    cr_assert(strstr(na_last_error(), "item 1 is NULL"));
    cr_assert_null(na_value_from_array(NULL));
}

/* ---- side inputs ------------------------------------------------------- */

Test(side, set_get_replace_remove)
{
    na_side *s = na_side_new();
    na_array *m = full1("seq", 4, 1);
    NA_OK_OR_FAIL(na_side_set_array(s, "mask", m));
    NA_OK_OR_FAIL(na_side_set_array(s, "positions", m));
    cr_assert_eq(na_side_count(s), 2);
    cr_assert_str_eq(na_side_key(s, 1), "positions");
    cr_assert_null(na_side_key(s, 2));
    cr_assert_eq(na_side_get(s, "mask")->array->storage, m->storage);
    NA_OK_OR_FAIL(na_side_set(s, "mask", na_value_from_array(full1("kv", 2, 0))));
    cr_assert_eq(na_side_count(s), 2);
    cr_assert_eq(na_axis_size(na_side_get(s, "mask")->array, "kv"), 2);
    na_side_remove(s, "mask");
    na_side_remove(s, "absent");
    cr_assert_null(na_side_get(s, "mask"));
    cr_assert_eq(na_side_count(s), 1);
    na_side *c = na_side_clone(s);
    cr_assert_eq(na_side_count(c), 1);
    cr_assert_null(na_side_get(NULL, "x"));
    na_side_free(c);
    na_side_free(s);
    na_array_free(m);
}

Test(side, require_names_key_layer_and_given_keys)
{
    na_side *s = na_side_new();
    na_array *m = full1("seq", 4, 1);
    NA_OK_OR_FAIL(na_side_set_array(s, "positions", m));
    cr_assert_null(na_side_require_array(s, "attn_mask", "ApplyAttentionMask"));
    cr_assert_eq(na_last_status(), NA_ERR_NOT_FOUND);
    cr_assert_str_eq(na_last_error(), "ApplyAttentionMask: side input 'attn_mask' "
                     "is missing (given: 'positions')");
    cr_assert_null(na_side_require_array(NULL, "k", "L"));
    cr_assert(strstr(na_last_error(), "(given: none)"));
    na_value *t = na_value_tuple(1, (na_value *[]){na_value_ref_array(m)});
    NA_OK_OR_FAIL(na_side_set(s, "pair", t));
    cr_assert_null(na_side_require_array(s, "pair", "L"));
    cr_assert(strstr(na_last_error(), "side input 'pair' must be an array"));
    cr_assert_eq(na_side_require_array(s, "positions", "L")->storage, m->storage);
    cr_assert_eq(na_side_set(s, NULL, na_value_ref_array(m)), NA_ERR_ARGUMENT);
    na_side_free(s);
    na_array_free(m);
}

/* ---- parameters -------------------------------------------------------- */

Test(param, refcount_and_set_value)
{
    na_param *p = na_param_new("block_0/w", NA_PARAM, full1("embedding", 4, 2));
    cr_assert(p && p->refcount == 1 && p->kind == NA_PARAM);
    cr_assert_str_eq(p->label, "block_0/w");
    cr_assert_eq(na_param_retain(p), p);
    cr_assert_eq(p->refcount, 2);
    na_param_release(p);
    cr_assert_eq(p->refcount, 1);
    na_param_set_value(p, full1("embedding", 4, 3));
    cr_assert_float_eq(((float *)na_data(p->value))[0], 3.0f, 0);
    NA_OK_OR_FAIL(na_param_set_label(p, "renamed"));
    cr_assert_str_eq(p->label, "renamed");
    na_param_release(p);
    cr_assert_null(na_param_new("x", NA_STATE, NULL));
    cr_assert(strstr(na_last_error(), "na_param_new: value for 'x' is NULL"));
}

/* ---- calls ------------------------------------------------------------- */

Test(layer, call_with_side_input_and_param)
{
    na_param *w = na_param_new("w", NA_PARAM, full1("seq", 3, 10));
    na_layer *l = add_new("offset", w, NULL);
    na_side *side = na_side_new();
    na_array *off = full1("seq", 3, 100);
    NA_OK_OR_FAIL(na_side_set_array(side, "offset", off));
    NA_OK_OR_FAIL(na_side_set_array(side, "unused", off));
    na_array *x = full1("seq", 3, 1), *y = NULL;
    NA_OK_OR_FAIL(na_layer_call_array(l, x, side, &y));
    cr_assert_float_eq(((float *)na_data(y))[2], 111.0f, 0);
    cr_assert_eq(na_layer_param_count(l), 1);
    cr_assert_eq(na_layer_param(l, 0), w);
    cr_assert_null(na_layer_param(l, 1));
    cr_assert_eq(na_layer_child_count(l), 0);
    cr_assert_null(na_layer_child(l, 0));
    cr_assert_str_eq(na_layer_type_name(l), "AddSide");
    cr_assert(na_layer_is(l, &add_type));
    na_array_free(x);
    na_array_free(y);
    na_array_free(off);
    na_side_free(side);
    na_layer_free(l);
}

Test(layer, missing_side_key_names_key_and_layer)
{
    na_layer *l = add_new("attn_mask", NULL, NULL);
    na_array *x = full1("seq", 3, 1), *y = NULL;
    NA_EXPECT_FAIL(na_layer_call_array(l, x, NULL, &y), NA_ERR_NOT_FOUND,
                   "AddSide: side input 'attn_mask' is missing");
    cr_assert_null(y);
    na_array_free(x);
    na_layer_free(l);
}

Test(layer, op_error_gets_layer_context_once)
{
    na_param *w = na_param_new("w", NA_PARAM, full1("seq", 4, 0));
    na_layer *l = add_new(NULL, w, NULL);
    na_array *x = full1("seq", 3, 1), *y = NULL;
    NA_EXPECT_FAIL(na_layer_call_array(l, x, NULL, &y), NA_ERR_SHAPE, "seq",
                   "(in AddSide)");
    const char *msg = na_last_error();
    cr_assert_null(strstr(strstr(msg, "(in AddSide)") + 1, "(in AddSide)"));
    na_array_free(x);
    na_layer_free(l);
}

Test(layer, bad_arguments)
{
    na_value *y = NULL;
    na_value *x = na_value_from_array(full1("seq", 1, 0));
    NA_EXPECT_FAIL(na_layer_call(NULL, x, NULL, &y), NA_ERR_ARGUMENT,
                   "na_layer_call: layer is NULL");
    na_layer *l = add_new(NULL, NULL, NULL);
    NA_EXPECT_FAIL(na_layer_call(l, NULL, NULL, &y), NA_ERR_ARGUMENT,
                   "na_layer_call: input value is NULL (layer AddSide)");
    NA_EXPECT_FAIL(na_layer_call(l, x, NULL, NULL), NA_ERR_ARGUMENT, "out is NULL");
    na_value_free(x);
    na_layer_free(l);
}

/* A layer returning a tuple, for na_layer_call_array's error path. */
static na_status pair_call(na_layer *self, const na_value *in, const na_side *side,
                           na_value **out)
{
    (void)self;
    (void)side;
    *out = na_value_tuple(2, (na_value *[]){na_value_clone(in), na_value_clone(in)});
    return *out ? NA_OK : na_last_status();
}

static const na_layer_type pair_type = {"Pair", pair_call, .size = sizeof(na_layer)};

Test(layer, call_array_rejects_tuple_output)
{
    na_layer *l = NULL;
    NA_OK_OR_FAIL(na_layer_alloc(&pair_type, &l));
    na_array *x = full1("seq", 2, 0), *y = NULL;
    NA_EXPECT_FAIL(na_layer_call_array(l, x, NULL, &y), NA_ERR_ARGUMENT,
                   "Pair returned a tuple (f32[seq:2], f32[seq:2])");
    na_value *v = na_value_ref_array(x), *out = NULL;
    NA_OK_OR_FAIL(na_layer_call(l, v, NULL, &out));
    cr_assert_eq(out->count, 2);
    na_value_free(out);
    na_value_free(v);
    na_array_free(x);
    na_layer_free(l);
}

Test(layer, free_releases_params_and_calls_destroy)
{
    int destroyed = 0;
    na_param *w = na_param_new("shared", NA_PARAM, full1("seq", 3, 0));
    na_layer *a = add_new(NULL, na_param_retain(w), &destroyed);
    na_layer *b = add_new(NULL, na_param_retain(w), &destroyed);
    cr_assert_eq(w->refcount, 3);
    na_layer_free(a);
    cr_assert_eq(w->refcount, 2);
    na_layer_free(b);
    cr_assert_eq(w->refcount, 1);
    cr_assert_eq(destroyed, 2);
    na_param_release(w);
    na_layer_free(NULL);
}
