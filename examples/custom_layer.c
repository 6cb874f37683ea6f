/* A layer type written outside the library, with only the public headers:
 * a softmax over one named axis with a learned temperature,
 *
 *   y = softmax_{axis}(x / temperature)
 *
 * It takes a struct, a call function and a table of its fields; the library
 * derives the rest (freeing, printing, children and parameters, clone,
 * equality, reading fields by name). Used inside a Sequential: called,
 * printed, cloned, found by the tree tools, its parameter listed and
 * re-bound. Exits 0 when every check holds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <namedarr/namedarr.h>

/* ---- the layer: a struct that starts with na_layer, and its fields ------ */

typedef struct tempered_softmax {
    na_layer base;
    const char *axis;        /* interned: the axis the softmax runs over     */
    na_param *temperature;   /* 0-d f32                                      */
} tempered_softmax;

/* x: {..., axis, ...} -> same named shape, rows along `axis` sum to 1. */
static na_status ts_call(na_layer *self, const na_value *in, const na_side *side,
                         na_value **out)
{
    (void)side; /* side inputs this layer does not use are ignored */
    tempered_softmax *l = (tempered_softmax *)self;
    const na_array *x = na_value_array(in, "TemperedSoftmax");
    if (!x)
        return na_last_status();
    if (na_axis_index(x, l->axis) < 0) {
        char shape[128];
        na_shape_str(x, shape, sizeof shape);
        return na_fail(NA_ERR_AXIS, "TemperedSoftmax: input %s has no axis '%s'",
                       shape, l->axis);
    }
    na_array *scaled = NULL, *y = NULL;
    na_status st = na_div(x, l->temperature->value, &scaled);
    if (st == NA_OK)
        st = na_softmax(scaled, (const char *const[]){l->axis, NULL}, &y);
    na_array_free(scaled);
    if (st != NA_OK)
        return st;
    *out = na_value_from_array(y);
    return *out ? NA_OK : na_last_status();
}

static const na_field_desc ts_fields[] = {
    NA_FIELD(tempered_softmax, axis, NA_FIELD_AXIS),
    NA_FIELD(tempered_softmax, temperature, NA_FIELD_PARAM),
};

static const na_layer_type tempered_softmax_type = {
    .name = "TemperedSoftmax",
    .call = ts_call,
    .size = sizeof(tempered_softmax),
    .fields = ts_fields,
    .field_count = NA_FIELD_COUNT(ts_fields),
};

/* Built from the table alone, as a model-file loader does. */
static na_status tempered_softmax_new(const char *axis, double temperature,
                                      const char *label, na_layer **out)
{
    na_array *t = NULL;
    na_layer *l = NULL;
    na_status st = na_scalar(NA_F32, temperature, &t);
    na_param *p = st == NA_OK ? na_param_new(label, NA_PARAM, t) : NULL;
    if (st == NA_OK && !p)
        st = na_last_status();
    if (st == NA_OK)
        st = na_layer_alloc(&tempered_softmax_type, &l);
    if (st == NA_OK)
        st = na_layer_field_set_axis(l, "axis", axis);
    if (st == NA_OK)
        st = na_layer_field_set_param(l, "temperature", p); /* its own reference */
    na_param_release(p);
    if (st != NA_OK) {
        na_layer_free(l);
        return st;
    }
    *out = l;
    return NA_OK;
}

/* ---- using it ----------------------------------------------------------- */

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "custom_layer: check failed: " __VA_ARGS__);     \
            fprintf(stderr, " [%s]\n", na_last_error());                     \
            return 1;                                                        \
        }                                                                    \
    } while (0)

/* Largest |sum over kv_seq - 1| of a {seq, kv_seq} array. */
static double row_sum_error(const na_array *y)
{
    double worst = 0;
    int s = na_axis_index(y, "seq"), k = na_axis_index(y, "kv_seq");
    for (int64_t i = 0; i < y->shape[s]; i++) {
        double sum = 0;
        for (int64_t j = 0; j < y->shape[k]; j++) {
            int64_t idx[2];
            idx[s] = i;
            idx[k] = j;
            sum += na_get(y, idx);
        }
        worst = fmax(worst, fabs(sum - 1));
    }
    return worst;
}

static double at(const na_array *y, int64_t i, int64_t j)
{
    int64_t idx[2];
    idx[na_axis_index(y, "seq")] = i;
    idx[na_axis_index(y, "kv_seq")] = j;
    return na_get(y, idx);
}

static int run(void)
{
    na_layer *check = NULL, *soft = NULL, *id = NULL, *model = NULL;
    CHECK(na_check_structure_new("seq:S kv_seq:K", &check) == NA_OK, "check");
    CHECK(tempered_softmax_new("kv_seq", 2.0, "attn.temperature", &soft) == NA_OK,
          "new");
    CHECK(na_identity_new(&id) == NA_OK, "identity");
    CHECK(na_sequential_new(NA_LAYERS(check, soft, id), &model) == NA_OK, "sequential");

    /* Call it on logits {seq:2, kv_seq:3} = [[0, 1, 2], [2, 2, 2]]. */
    float logits[] = {0, 1, 2, 2, 2, 2};
    na_array *x = NULL, *y = NULL;
    CHECK(na_from_data(NA_F32, NA_DIMS({"seq", 2}, {"kv_seq", 3}), logits, &x) == NA_OK,
          "input");
    CHECK(na_layer_call_array(model, x, NULL, &y) == NA_OK, "call");
    CHECK(row_sum_error(y) < 1e-6, "rows sum to 1");
    double e = exp(0.5), expect = 1 / (1 + e + e * e);
    CHECK(fabs(at(y, 0, 0) - expect) < 1e-6, "softmax(x/2)[0,0] = %g", expect);
    CHECK(fabs(at(y, 1, 2) - 1.0 / 3) < 1e-6, "uniform row");
    na_array_free(y);

    /* Print the tree (colour on a terminal unless NO_COLOR is set). */
    CHECK(na_print_tree(model, stdout, NULL) == NA_OK, "print");

    /* Read a field by name; register the type so model files can name it. */
    const char *axis = NULL;
    CHECK(na_layer_field_axis(soft, "axis", &axis) == NA_OK && !strcmp(axis, "kv_seq"),
          "axis field");
    CHECK(na_layer_type_register(&tempered_softmax_type) == NA_OK, "register");

    /* A deep clone with its own parameters: same outputs; editing it
     * leaves the original alone. */
    na_layer *copy = NULL;
    na_array *y2 = NULL;
    CHECK(na_layer_clone(model, NA_CLONE_COPY_PARAMS, &copy) == NA_OK, "clone");
    CHECK(na_layer_equal(model, copy, true), "the clone is equal");
    CHECK(na_layer_call_array(copy, x, NULL, &y2) == NA_OK, "call clone");
    CHECK(fabs(at(y2, 0, 0) - expect) < 1e-6, "the clone computes the same");
    na_array_free(y2);
    na_param *t2 = NULL;
    CHECK(na_layer_field_param(na_tree_get(copy, "1"), "temperature", &t2) == NA_OK,
          "temperature field");
    na_array *hot = NULL;
    CHECK(na_scalar(NA_F32, 1e3, &hot) == NA_OK, "scalar");
    na_param_set_value(t2, hot);
    CHECK(!na_layer_equal(model, copy, true), "the clone differs now");
    CHECK(na_layer_call_array(model, x, NULL, &y2) == NA_OK, "call original");
    CHECK(fabs(at(y2, 0, 0) - expect) < 1e-6, "the original is unchanged");
    na_array_free(y2);
    na_layer_free(copy);

    /* Find it with the tree tools, by its type. */
    na_selection *sel = NULL;
    CHECK(na_select_type(&model, &tempered_softmax_type, &sel) == NA_OK, "select");
    CHECK(na_selection_count(sel) == 1, "one TemperedSoftmax");
    printf("found %s at path '%s'\n", na_layer_type_name(na_selection_layer(sel, 0)),
           na_selection_path(sel, 0));
    na_selection_free(sel);

    /* Its parameter is listed with the others and can be re-bound. */
    na_param_list params;
    CHECK(na_tree_params(model, &params) == NA_OK, "params");
    CHECK(params.count == 1 && strcmp(params.items[0].param->label,
                                      "attn.temperature") == 0, "label");
    printf("parameter '%s' at '%s'\n", params.items[0].param->label,
           params.items[0].path);
    na_param_list_clear(&params);
    na_array *cold = NULL;
    CHECK(na_scalar(NA_F32, 1e-3, &cold) == NA_OK, "scalar");
    na_labeled_array values[] = {{"attn.temperature", cold}};
    CHECK(na_tree_bind(model, 1, values, NA_BIND_STRICT) == NA_OK, "bind");
    na_array_free(cold);
    CHECK(na_layer_call_array(model, x, NULL, &y) == NA_OK, "call 2");
    CHECK(at(y, 0, 2) > 0.999, "a cold softmax is an argmax");
    na_array_free(y);

    /* A wrong input is a clear error naming the axis and shape. */
    na_array *bad = NULL;
    CHECK(na_zeros(NA_F32, NA_DIMS({"seq", 2}, {"keys", 3}), &bad) == NA_OK, "bad");
    CHECK(na_layer_call_array(soft, bad, NULL, &y) == NA_ERR_AXIS, "axis error");
    printf("error as expected: %s\n", na_last_error());
    na_array_free(bad);

    na_array_free(x);
    na_layer_free(model);
    return 0;
}

int main(void) { return run(); }
