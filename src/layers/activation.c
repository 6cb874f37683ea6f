/* Activation-like layers: Softmax over names, Elementwise, TanhSoftCap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/std_internal.h"

/* ---- Softmax ---------------------------------------------------------------- */

typedef struct softmax_layer {
    na_layer base;
    const char **across;
} softmax_layer;

/* x: {..., across...} -> same named shape, summing to 1 over `across` */
static na_status softmax_call(na_layer *self, const na_value *in, const na_side *side,
                              na_value **out)
{
    (void)side;
    softmax_layer *l = (softmax_layer *)self;
    const na_array *x = NULL;
    na_status st = na__std_input(in, "Softmax", false, &x);
    if (st == NA_OK)
        st = na__std_require_axes(x, l->across, "Softmax", "axis");
    na_array *y = NULL;
    if (st == NA_OK)
        st = na_softmax(x, l->across, &y);
    return st == NA_OK ? na__std_output(y, out) : st;
}

static const na_field_desc softmax_fields[] = {
    NA_FIELD(softmax_layer, across, NA_FIELD_NAMES),
};

const na_layer_type na_softmax_layer_type = {
    .name = "Softmax",
    .call = softmax_call,
    .size = sizeof(softmax_layer),
    .fields = softmax_fields,
    .field_count = NA_FIELD_COUNT(softmax_fields),
};

na_status na_softmax_layer_new(const char *const *across, na_layer **out)
{
    const char *who = "na_softmax_layer_new";
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "%s: out is NULL", who);
    *out = NULL;
    if (na__std_names_len(across) == 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: name at least one axis", who);
    const char **names = na__std_names_dup(across, who);
    na_layer *made = NULL;
    na_status st = names ? na_layer_alloc(&na_softmax_layer_type, &made)
                         : na_last_status();
    if (st != NA_OK) {
        free(names);
        return st;
    }
    ((softmax_layer *)made)->across = names;
    *out = made;
    return NA_OK;
}

/* ---- Elementwise -------------------------------------------------------------- */

static const char *const unary_names[] = {
    [NA_NEG] = "neg", [NA_ABS] = "abs", [NA_EXP] = "exp", [NA_LOG] = "log",
    [NA_SQRT] = "sqrt", [NA_RSQRT] = "rsqrt", [NA_SQUARE] = "square",
    [NA_RECIP] = "reciprocal", [NA_SIN] = "sin", [NA_COS] = "cos",
    [NA_TANH] = "tanh", [NA_SIGMOID] = "sigmoid", [NA_RELU] = "relu",
    [NA_GELU] = "gelu", [NA_GELU_TANH] = "gelu_tanh", [NA_SILU] = "silu",
    [NA_SOFTPLUS] = "softplus", [NA_FLOOR] = "floor", [NA_CEIL] = "ceil",
    [NA_SIGN] = "sign", [NA_LOGICAL_NOT] = "logical_not", [NA_LOGICAL_NOT + 1] = NULL,
};

#define N_UNARY ((int)(sizeof unary_names / sizeof unary_names[0]) - 1)

const char *na_unary_op_name(na_unary_op op)
{
    return (int)op >= 0 && (int)op < N_UNARY && unary_names[op] ? unary_names[op]
                                                                 : "unknown";
}

typedef struct elementwise_layer {
    na_layer base;
    na_unary_op op;
} elementwise_layer;

static na_status elementwise_call(na_layer *self, const na_value *in,
                                  const na_side *side, na_value **out)
{
    (void)side;
    const na_array *x = NULL;
    na_status st = na__std_input(in, "Elementwise", false, &x);
    na_array *y = NULL;
    if (st == NA_OK)
        st = na_unary(((elementwise_layer *)self)->op, x, &y);
    return st == NA_OK ? na__std_output(y, out) : st;
}

static const na_field_desc elementwise_fields[] = {
    NA_FIELD_ENUM_AS("op", elementwise_layer, op, unary_names, 0),
};

const na_layer_type na_elementwise_type = {
    .name = "Elementwise",
    .call = elementwise_call,
    .size = sizeof(elementwise_layer),
    .fields = elementwise_fields,
    .field_count = NA_FIELD_COUNT(elementwise_fields),
};

na_status na_elementwise_new(na_unary_op op, na_layer **out)
{
    const char *who = "na_elementwise_new";
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "%s: out is NULL", who);
    *out = NULL;
    if ((int)op < 0 || (int)op >= N_UNARY || !unary_names[op])
        return na__fail(NA_ERR_ARGUMENT, "%s: unknown unary op %d", who, (int)op);
    na_status st = na_layer_alloc(&na_elementwise_type, out);
    if (st == NA_OK)
        ((elementwise_layer *)*out)->op = op;
    return st;
}

/* ---- TanhSoftCap ------------------------------------------------------------- */

typedef struct soft_cap_layer {
    na_layer base;
    double cap;
} soft_cap_layer;

/* y = cap * tanh(x / cap) */
static na_status soft_cap_call(na_layer *self, const na_value *in, const na_side *side,
                               na_value **out)
{
    (void)side;
    double cap = ((soft_cap_layer *)self)->cap;
    const na_array *x = NULL;
    na_status st = na__std_input(in, "TanhSoftCap", false, &x);
    na_array *a = NULL, *b = NULL, *y = NULL;
    if (st == NA_OK)
        st = na_binary_scalar(NA_DIV, x, cap, &a);
    if (st == NA_OK)
        st = na_unary(NA_TANH, a, &b);
    if (st == NA_OK)
        st = na_binary_scalar(NA_MUL, b, cap, &y);
    na_array_free(a);
    na_array_free(b);
    return st == NA_OK ? na__std_output(y, out) : st;
}

static const na_field_desc soft_cap_fields[] = {
    NA_FIELD(soft_cap_layer, cap, NA_FIELD_FLOAT),
};

const na_layer_type na_tanh_soft_cap_type = {
    .name = "TanhSoftCap",
    .call = soft_cap_call,
    .size = sizeof(soft_cap_layer),
    .fields = soft_cap_fields,
    .field_count = NA_FIELD_COUNT(soft_cap_fields),
};

na_status na_tanh_soft_cap_new(double cap, na_layer **out)
{
    const char *who = "na_tanh_soft_cap_new";
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "%s: out is NULL", who);
    *out = NULL;
    if (!(cap > 0))
        return na__fail(NA_ERR_ARGUMENT, "%s: cap must be positive (got %g)", who, cap);
    na_status st = na_layer_alloc(&na_tanh_soft_cap_type, out);
    if (st == NA_OK)
        ((soft_cap_layer *)*out)->cap = cap;
    return st;
}
