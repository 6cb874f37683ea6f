/* Activation-like layers: Softmax over names, Elementwise, TanhSoftCap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/std_internal.h"

static void plain_destroy(na_layer *self) { free(self); }

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

static void softmax_describe(const na_layer *self, na_fields *f)
{
    na_fields_names(f, "across", ((const softmax_layer *)self)->across);
}

static void softmax_destroy(na_layer *self)
{
    free(((softmax_layer *)self)->across);
    free(self);
}

const na_layer_type na_softmax_layer_type = {
    .name = "Softmax",
    .call = softmax_call,
    .describe = softmax_describe,
    .destroy = softmax_destroy,
};

na_status na_softmax_layer_new(const char *const *across, na_layer **result)
{
    const char *who = "na_softmax_layer_new";
    if (!result)
        return na__fail(NA_ERR_ARGUMENT, "%s: result is NULL", who);
    *result = NULL;
    if (na__std_names_len(across) == 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: name at least one axis", who);
    softmax_layer *l = calloc(1, sizeof *l);
    const char **names = l ? na__std_names_dup(across, who) : NULL;
    if (!names) {
        na_status st = l ? na_last_status() : na__std_oom(who);
        free(l);
        return st;
    }
    l->base.type = &na_softmax_layer_type;
    l->across = names;
    *result = &l->base;
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
    [NA_SIGN] = "sign", [NA_LOGICAL_NOT] = "logical_not",
};

#define N_UNARY ((int)(sizeof unary_names / sizeof unary_names[0]))

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

static void elementwise_describe(const na_layer *self, na_fields *f)
{
    na_fields_str(f, "op", na_unary_op_name(((const elementwise_layer *)self)->op));
}

const na_layer_type na_elementwise_type = {
    .name = "Elementwise",
    .call = elementwise_call,
    .describe = elementwise_describe,
    .destroy = plain_destroy,
};

na_status na_elementwise_new(na_unary_op op, na_layer **result)
{
    const char *who = "na_elementwise_new";
    if (!result)
        return na__fail(NA_ERR_ARGUMENT, "%s: result is NULL", who);
    *result = NULL;
    if ((int)op < 0 || (int)op >= N_UNARY || !unary_names[op])
        return na__fail(NA_ERR_ARGUMENT, "%s: unknown unary op %d", who, (int)op);
    elementwise_layer *l = calloc(1, sizeof *l);
    if (!l)
        return na__std_oom(who);
    l->base.type = &na_elementwise_type;
    l->op = op;
    *result = &l->base;
    return NA_OK;
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

static void soft_cap_describe(const na_layer *self, na_fields *f)
{
    na_fields_float(f, "cap", ((const soft_cap_layer *)self)->cap);
}

const na_layer_type na_tanh_soft_cap_type = {
    .name = "TanhSoftCap",
    .call = soft_cap_call,
    .describe = soft_cap_describe,
    .destroy = plain_destroy,
};

na_status na_tanh_soft_cap_new(double cap, na_layer **result)
{
    const char *who = "na_tanh_soft_cap_new";
    if (!result)
        return na__fail(NA_ERR_ARGUMENT, "%s: result is NULL", who);
    *result = NULL;
    if (!(cap > 0))
        return na__fail(NA_ERR_ARGUMENT, "%s: cap must be positive (got %g)", who, cap);
    soft_cap_layer *l = calloc(1, sizeof *l);
    if (!l)
        return na__std_oom(who);
    l->base.type = &na_tanh_soft_cap_type;
    l->cap = cap;
    *result = &l->base;
    return NA_OK;
}
