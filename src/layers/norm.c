/* Normalisation: Standardize, RMSStandardize, LayerNorm, RMSLayerNorm. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/std_internal.h"

typedef struct norm_layer {
    na_layer base;
    const char **across;   /* the axes normalised over (jointly)            */
    double eps;
    bool use_bias;         /* LayerNorm: has a bias                          */
    na_param *scale;       /* {across...}: LayerNorm, RMSLayerNorm           */
    na_param *bias;        /* {across...}: LayerNorm with use_bias           */
} norm_layer;

/* Divide by the RMS, no centring? */
static bool is_rms(const na_layer_type *t)
{
    return t == &na_rms_standardize_type || t == &na_rms_layer_norm_type;
}

static norm_layer *as_norm(const na_layer *l)
{
    if (!l)
        return NULL;
    const na_layer_type *t = l->type;
    bool ok = t == &na_standardize_type || t == &na_rms_standardize_type ||
              t == &na_layer_norm_type || t == &na_rms_layer_norm_type;
    return ok ? (norm_layer *)l : NULL;
}

/* (x - mean) * rsqrt(var + eps), or x * rsqrt(mean(x^2) + eps) */
static na_status standardize(const norm_layer *l, const na_array *x, na_array **y)
{
    na_array *mean = NULL, *c = NULL, *sq = NULL, *var = NULL, *ve = NULL, *inv = NULL;
    na_status st = NA_OK;
    if (is_rms(l->base.type))
        st = na_array_ref(x, &c);
    else if ((st = na_mean(x, l->across, &mean)) == NA_OK)
        st = na_sub(x, mean, &c);
    if (st == NA_OK)
        st = na_unary(NA_SQUARE, c, &sq);
    if (st == NA_OK)
        st = na_mean(sq, l->across, &var);
    if (st == NA_OK)
        st = na_binary_scalar(NA_ADD, var, l->eps, &ve);
    if (st == NA_OK)
        st = na_unary(NA_RSQRT, ve, &inv);
    if (st == NA_OK)
        st = na_mul(c, inv, y);
    na_array *tmp[] = {mean, c, sq, var, ve, inv};
    for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++)
        na_array_free(tmp[i]);
    return st;
}

static na_status norm_check(const norm_layer *l, const na_array *x, const char *who)
{
    if (x->dtype != NA_F32 && x->dtype != NA_F64)
        return na__fail(NA_ERR_DTYPE, "%s: input %s must be f32 or f64", who,
                        na__shape(x));
    na_status st = na__std_require_axes(x, l->across, who, "axis");
    const na_array *s = l->scale ? l->scale->value : NULL;
    for (int d = 0; st == NA_OK && s && d < s->ndim; d++)
        if (s->name[d])
            st = na__std_require_size(x, s->name[d], s->shape[d], who);
    return st;
}

/* Multiply by the scale and add the bias, when present; takes `y`. */
static na_status scale_and_shift(const norm_layer *l, na_array *y, na_array **out)
{
    na_status st = NA_OK;
    na_param *ps[2] = {l->scale, l->bias};
    for (int i = 0; i < 2 && st == NA_OK; i++) {
        if (!ps[i])
            continue;
        na_array *t = NULL;
        st = i == 0 ? na_mul(y, ps[i]->value, &t) : na_add(y, ps[i]->value, &t);
        na_array_free(y);
        y = t;
    }
    if (st == NA_OK)
        *out = y;
    return st;
}

/* x: {..., across...} -> same named shape */
static na_status norm_call(na_layer *self, const na_value *in, const na_side *side,
                           na_value **out)
{
    (void)side;
    norm_layer *l = as_norm(self);
    const char *who = na_layer_type_name(self);
    const na_array *x = NULL;
    na_status st = na__std_input(in, who, false, &x);
    if (st == NA_OK)
        st = norm_check(l, x, who);
    na_array *z = NULL, *y = NULL;
    if (st == NA_OK)
        st = standardize(l, x, &z);
    if (st == NA_OK)
        st = scale_and_shift(l, z, &y);
    return st == NA_OK ? na__std_output(y, out) : st;
}

/* A learned norm has its scale (and LayerNorm its bias when use_bias). */
static na_status norm_finish(na_layer *self)
{
    const norm_layer *l = as_norm(self);
    const na_layer_type *t = self->type;
    bool learned = t == &na_layer_norm_type || t == &na_rms_layer_norm_type;
    if (na__std_names_len(l->across) == 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: name at least one axis", t->name);
    if (learned != (l->scale != NULL) || (l->bias != NULL) != l->use_bias)
        return na__fail(NA_ERR_ARGUMENT, "%s: the scale (and bias when use_bias) "
                        "parameters do not match the type", t->name);
    return NA_OK;
}

static const na_field_desc standardize_fields[] = {
    NA_FIELD(norm_layer, across, NA_FIELD_NAMES),
    NA_FIELD(norm_layer, eps, NA_FIELD_FLOAT),
};

static const na_field_desc rms_layer_norm_fields[] = {
    NA_FIELD(norm_layer, across, NA_FIELD_NAMES),
    NA_FIELD(norm_layer, eps, NA_FIELD_FLOAT),
    NA_FIELD(norm_layer, scale, NA_FIELD_PARAM),
};

static const na_field_desc layer_norm_fields[] = {
    NA_FIELD(norm_layer, across, NA_FIELD_NAMES),
    NA_FIELD(norm_layer, eps, NA_FIELD_FLOAT),
    NA_FIELD(norm_layer, use_bias, NA_FIELD_BOOL),
    NA_FIELD(norm_layer, scale, NA_FIELD_PARAM),
    NA_FIELD(norm_layer, bias, NA_FIELD_PARAM),
};

#define NORM_TYPE(var, type_name, table)                                     \
    const na_layer_type var = {                                              \
        .name = type_name,                                                   \
        .call = norm_call,                                                   \
        .size = sizeof(norm_layer),                                          \
        .fields = table,                                                     \
        .field_count = NA_FIELD_COUNT(table),                                \
        .finish = norm_finish,                                               \
    }

NORM_TYPE(na_standardize_type, "Standardize", standardize_fields);
NORM_TYPE(na_rms_standardize_type, "RMSStandardize", standardize_fields);
NORM_TYPE(na_layer_norm_type, "LayerNorm", layer_norm_fields);
NORM_TYPE(na_rms_layer_norm_type, "RMSLayerNorm", rms_layer_norm_fields);

/* ---- constructors ------------------------------------------------------------ */

static na_status norm_make(const na_layer_type *type, const char **across,
                           na_param *scale, na_param *bias, const char *who,
                           na_layer **out)
{
    na_layer *made = NULL;
    na_status st = across ? na_layer_alloc(type, &made) : na_last_status();
    if (st != NA_OK) {
        free(across);
        na_param_release(scale);
        na_param_release(bias);
        return st;
    }
    norm_layer *l = as_norm(made);
    l->across = across;
    l->eps = NA_NORM_DEFAULT_EPS;
    l->use_bias = bias != NULL;
    l->scale = scale;
    l->bias = bias;
    *out = made;
    return NA_OK;
}

static na_status standardize_new(const na_layer_type *type, const char *who,
                                 const char *const *across, na_layer **out)
{
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "%s: out is NULL", who);
    *out = NULL;
    if (na__std_names_len(across) == 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: name at least one axis", who);
    return norm_make(type, na__std_names_dup(across, who), NULL, NULL, who, out);
}

na_status na_standardize_new(const char *const *across, na_layer **out)
{
    return standardize_new(&na_standardize_type, "na_standardize_new", across, out);
}

na_status na_rms_standardize_new(const char *const *across, na_layer **out)
{
    return standardize_new(&na_rms_standardize_type, "na_rms_standardize_new", across,
                           out);
}

/* A constant parameter {across...} labelled "<name>.<suffix>". */
static na_status constant_param(const char *name, const char *suffix, double value,
                                int n, const na_dim *across, const char *who,
                                na_param **p)
{
    char *label = na__std_label(name, suffix, who);
    if (!label)
        return na_last_status();
    na_init init = na_init_constant(value);
    na_status st = na_init_param(label, &init, 0, 0, NULL, n, across, p);
    free(label);
    return st;
}

static na_status learned_norm_new(const na_layer_type *type, const char *who,
                                  const na_norm_options *opt, na_layer **out)
{
    if (!out || !opt)
        return na__fail(NA_ERR_ARGUMENT, "%s: %s is NULL", who, out ? "opt" : "out");
    *out = NULL;
    int n = opt->n_across;
    if (n <= 0 || !opt->across)
        return na__fail(NA_ERR_ARGUMENT, "%s: name at least one axis", who);
    if (opt->no_bias && type != &na_layer_norm_type)
        return na__fail(NA_ERR_ARGUMENT,
                        "%s: an RMSLayerNorm has no bias to drop "
                        "(no_bias is for na_layer_norm_new_ex)",
                        who);
    if (opt->custom_eps && !(opt->eps >= 0))
        return na__fail(NA_ERR_ARGUMENT, "%s: eps %g must be >= 0", who, opt->eps);
    const char **names = na__std_dim_names(n, opt->across, who);
    if (!names)
        return na_last_status();
    na_param *scale = NULL, *bias = NULL;
    na_status st = constant_param(opt->name, "scale", 1.0, n, opt->across, who, &scale);
    if (st == NA_OK && type == &na_layer_norm_type && !opt->no_bias)
        st = constant_param(opt->name, "bias", 0.0, n, opt->across, who, &bias);
    if (st != NA_OK) {
        free(names);
        na_param_release(scale);
        return na__fail_in(who, st);
    }
    st = norm_make(type, names, scale, bias, who, out);
    if (st == NA_OK && opt->custom_eps)
        as_norm(*out)->eps = opt->eps;
    return st;
}

na_status na_layer_norm_new_ex(const na_norm_options *opt, na_layer **out)
{
    return learned_norm_new(&na_layer_norm_type, "na_layer_norm_new_ex", opt, out);
}

na_status na_rms_layer_norm_new_ex(const na_norm_options *opt, na_layer **out)
{
    return learned_norm_new(&na_rms_layer_norm_type, "na_rms_layer_norm_new_ex", opt,
                            out);
}

na_status na_layer_norm_new(const char *name, int n, const na_dim *across, na_layer **out)
{
    na_norm_options o = {.name = name, .n_across = n, .across = across};
    return learned_norm_new(&na_layer_norm_type, "na_layer_norm_new", &o, out);
}

na_status na_rms_layer_norm_new(const char *name, int n, const na_dim *across,
                                na_layer **out)
{
    na_norm_options o = {.name = name, .n_across = n, .across = across};
    return learned_norm_new(&na_rms_layer_norm_type, "na_rms_layer_norm_new", &o, out);
}

na_status na_norm_set_eps(na_layer *layer, double eps)
{
    norm_layer *l = as_norm(layer);
    if (!l)
        return na__fail(NA_ERR_ARGUMENT, "na_norm_set_eps: %s is not a Standardize, "
                        "LayerNorm, RMSStandardize or RMSLayerNorm",
                        layer ? na_layer_type_name(layer) : "NULL");
    if (!(eps >= 0))
        return na__fail(NA_ERR_ARGUMENT, "na_norm_set_eps: eps must be >= 0 (got %g)",
                        eps);
    l->eps = eps;
    return NA_OK;
}

double na_norm_eps(const na_layer *layer)
{
    const norm_layer *l = as_norm(layer);
    return l ? l->eps : NAN;
}
