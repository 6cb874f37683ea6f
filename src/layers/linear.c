/* Linear maps by name: Linear, AddBias, Affine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/std_internal.h"

/* ---- Linear ------------------------------------------------------------ */

typedef struct linear_layer {
    na_layer base;
    na_param *weights;        /* {in..., weight_out..., parallel...}          */
    const char **in;          /* contracted with the input                    */
    const char **out;         /* output names as the caller sees them         */
    const char **weight_out;  /* the same axes as named in the weight         */
    const char **parallel;    /* every other weight axis                      */
    bool renamed;             /* some weight_out[i] != out[i] (in place)      */
} linear_layer;

static linear_layer *as_linear(const na_layer *l)
{
    return l && l->type == &na_linear_type ? (linear_layer *)l : NULL;
}

/* Every input axis present with the weight's size; no output axis already
 * in the input; parallel axes that are present have the weight's size. */
static na_status linear_check(const linear_layer *l, const na_array *x)
{
    const na_array *w = l->weights->value;
    for (int i = 0; l->in[i]; i++) {
        if (na_axis_index(x, l->in[i]) < 0)
            return na__fail(NA_ERR_AXIS, "Linear: input %s lacks input axis '%s' "
                            "(weights '%s' %s)", na__shape(x), l->in[i],
                            l->weights->label, na__shape(w));
        na_status st = na__std_require_size(x, l->in[i], na_axis_size(w, l->in[i]),
                                            "Linear");
        if (st != NA_OK)
            return st;
    }
    for (int i = 0; l->weight_out[i]; i++) {
        const char *o = l->weight_out[i];
        if (na_axis_index(x, o) >= 0 && !na__std_names_has(l->in, o))
            return na__fail(NA_ERR_AXIS, "Linear: input %s already has output axis "
                            "'%s' (weights '%s' %s)", na__shape(x), o,
                            l->weights->label, na__shape(w));
    }
    for (int i = 0; l->parallel[i]; i++) {
        if (na_axis_index(x, l->parallel[i]) < 0)
            continue; /* broadcast: appears in the output */
        na_status st = na__std_require_size(x, l->parallel[i],
                                            na_axis_size(w, l->parallel[i]), "Linear");
        if (st != NA_OK)
            return st;
    }
    return NA_OK;
}

/* x: {batch, in...[, parallel...]} -> {batch, out..., parallel...} */
static na_status linear_call(na_layer *self, const na_value *in, const na_side *side,
                             na_value **out)
{
    (void)side;
    linear_layer *l = as_linear(self);
    const na_array *x = NULL;
    na_status st = na__std_input(in, "Linear", true, &x);
    if (st == NA_OK)
        st = linear_check(l, x);
    if (st != NA_OK)
        return st;
    na_array *y = NULL;
    st = l->in[0] ? na_contract(x, l->weights->value, l->in, &y)
                  : na_mul(x, l->weights->value, &y);
    if (st == NA_OK && l->renamed) {
        na_array *r = NULL;
        st = na_rename(y, l->weight_out, l->out, &r);
        na_array_free(y);
        y = r;
    }
    return st == NA_OK ? na__std_output(y, out) : st;
}

/* `renamed` is derived: some output axis has another name in the weight. */
static na_status linear_finish(na_layer *self)
{
    linear_layer *l = as_linear(self);
    if (!l->weights || !l->weights->value || !l->in || !l->out || !l->weight_out ||
        !l->parallel || na__std_names_len(l->out) != na__std_names_len(l->weight_out))
        return na__fail(NA_ERR_ARGUMENT, "Linear: weights, in, out, weight_out and "
                        "parallel are required (out and weight_out of one length)");
    l->renamed = false;
    for (int i = 0; l->out[i]; i++)
        l->renamed |= l->out[i] != l->weight_out[i];
    return NA_OK;
}

static const na_field_desc linear_fields[] = {
    NA_FIELD(linear_layer, weights, NA_FIELD_PARAM),
    NA_FIELD(linear_layer, in, NA_FIELD_NAMES),
    NA_FIELD(linear_layer, out, NA_FIELD_NAMES),
    NA_FIELD_AS("weight_out", linear_layer, weight_out, NA_FIELD_NAMES, NA_FIELD_NOPRINT),
    NA_FIELD_AS("parallel", linear_layer, parallel, NA_FIELD_NAMES,
                NA_FIELD_OMIT_DEFAULT),
};

const na_layer_type na_linear_type = {
    .name = "Linear",
    .call = linear_call,
    .size = sizeof(linear_layer),
    .fields = linear_fields,
    .field_count = NA_FIELD_COUNT(linear_fields),
    .finish = linear_finish,
};

/* The weight axes that are neither in `in` nor in `wout`. */
static const char **other_axes(const na_array *w, const char *const *in,
                               const char *const *wout, const char *who)
{
    const char *names[NA_MAX_DIMS + 1] = {0};
    int n = 0;
    for (int d = 0; d < w->ndim; d++)
        if (w->name[d] && !na__std_names_has(in, w->name[d]) &&
            !na__std_names_has(wout, w->name[d]))
            names[n++] = w->name[d];
    return na__std_names_dup(names, who);
}

/* Build the layer; takes ownership of the lists and of one weight ref. */
static na_status linear_make(na_param *weights, const char **in, const char **out,
                             const char **wout, const char *who, na_layer **result)
{
    na_layer *made = NULL;
    const char **par = other_axes(weights->value, in, wout, who);
    na_status st = par ? na_layer_alloc(&na_linear_type, &made) : na_last_status();
    if (st != NA_OK) {
        free(par);
        free(in);
        free(out);
        free(wout);
        na_param_release(weights);
        return st;
    }
    linear_layer *l = as_linear(made);
    l->weights = weights;
    l->in = in;
    l->out = out;
    l->weight_out = wout;
    l->parallel = par;
    linear_finish(made);
    *result = made;
    return NA_OK;
}

static na_status check_weight_axes(const na_param *w, const char *const *names,
                                   const char *who)
{
    for (int i = 0; names[i]; i++)
        if (na_axis_index(w->value, names[i]) < 0)
            return na__fail(NA_ERR_AXIS, "%s: weights '%s' %s have no axis '%s'", who,
                            w->label, na__shape(w->value), names[i]);
    return NA_OK;
}

na_status na_linear_from_param(na_param *weights, const char *const *in_names,
                               const char *const *out_names, na_layer **out)
{
    const char *who = "na_linear_from_param";
    if (!out || !weights || !weights->value)
        return na__fail(NA_ERR_ARGUMENT, "%s: weights and out are required", who);
    *out = NULL;
    const char **in = na__std_names_dup(in_names, who);
    const char **produced = in ? na__std_names_dup(out_names, who) : NULL;
    const char **wout = produced ? na__std_names_dup(out_names, who) : NULL;
    na_status st = wout ? NA_OK : na_last_status();
    if (st == NA_OK)
        st = check_weight_axes(weights, in, who);
    if (st == NA_OK)
        st = check_weight_axes(weights, produced, who);
    for (int i = 0; st == NA_OK && produced[i]; i++)
        if (na__std_names_has(in, produced[i]))
            st = na__fail(NA_ERR_AXIS,
                          "%s: axis '%s' is both an input and an "
                          "output axis",
                          who, produced[i]);
    if (st != NA_OK) {
        free(in);
        free(produced);
        free(wout);
        return st;
    }
    return linear_make(na_param_retain(weights), in, produced, wout, who, out);
}

na_param *na_linear_weights(const na_layer *layer)
{
    linear_layer *l = as_linear(layer);
    return l ? l->weights : NULL;
}

const char *const *na__linear_in_names(const na_layer *layer)
{
    linear_layer *l = as_linear(layer);
    return l && !l->renamed ? (const char *const *)l->in : NULL;
}

/* The weight's output dims: an output name that is also an input name is
 * primed ("<name>_out"), as Penzai's LinearInPlace does. */
static na_status primed_out_dims(int n_in, const na_dim *in, int n_out,
                                 const na_dim *out, na_dim *dims, char (*buf)[128],
                                 const char *who)
{
    for (int i = 0; i < n_out; i++) {
        dims[i] = out[i];
        bool clash = false;
        for (int j = 0; j < n_in && out[i].name; j++)
            clash |= in[j].name && strcmp(in[j].name, out[i].name) == 0;
        if (!clash)
            continue;
        int len = snprintf(buf[i], sizeof buf[i], "%s_out", out[i].name);
        if (len < 0 || (size_t)len >= sizeof buf[i])
            return na__fail(NA_ERR_AXIS, "%s: axis name '%s' is too long", who,
                            out[i].name);
        for (int j = 0; j < n_in; j++)
            if (in[j].name && strcmp(in[j].name, buf[i]) == 0)
                return na__fail(NA_ERR_AXIS, "%s: output axis '%s' overlaps an input "
                                "axis and its primed name '%s' is an input axis too",
                                who, out[i].name, buf[i]);
        dims[i].name = buf[i];
    }
    return NA_OK;
}

/* The options of the basic calls: no parallel axes, default initializers. */
static na_linear_options basic_options(const char *name, int n_in, const na_dim *in,
                                       int n_out, const na_dim *out, uint64_t seed)
{
    na_linear_options o = {.name = name, .seed = seed};
    o.n_in = n_in, o.in = in, o.n_out = n_out, o.out = out;
    return o;
}

static na_status linear_new(const na_linear_options *opt, const char *who, na_layer **out)
{
    if (!out || !opt)
        return na__fail(NA_ERR_ARGUMENT, "%s: %s is NULL", who, out ? "opt" : "out");
    *out = NULL;
    int n_in = opt->n_in, n_out = opt->n_out;
    if (n_out < 0 || n_out > NA_MAX_DIMS || (n_out > 0 && !opt->out) || n_in < 0 ||
        (n_in > 0 && !opt->in))
        return na__fail(NA_ERR_ARGUMENT, "%s: bad input/output dim lists (counts "
                        "%d, %d)", who, n_in, n_out);
    if (opt->bias_init)
        return na__fail(NA_ERR_ARGUMENT,
                        "%s: a Linear has no bias (bias_init is "
                        "for na_affine_new_ex)",
                        who);
    na_dim wout_dims[NA_MAX_DIMS];
    char primed[NA_MAX_DIMS][128];
    na_status st =
        primed_out_dims(n_in, opt->in, n_out, opt->out, wout_dims, primed, who);
    if (st != NA_OK)
        return st;
    const char **in_names = na__std_dim_names(n_in, opt->in, who);
    const char **out_names = in_names ? na__std_dim_names(n_out, opt->out, who) : NULL;
    const char **wout = out_names ? na__std_dim_names(n_out, wout_dims, who) : NULL;
    char *label = wout ? na__std_label(opt->name, "weights", who) : NULL;
    na_init_options io = {.init = opt->init,
                          .seed = opt->seed,
                          .n_in = n_in,
                          .in = opt->in,
                          .n_out = n_out,
                          .out = wout_dims,
                          .n_parallel = opt->n_parallel,
                          .parallel = opt->parallel};
    na_param *w = NULL;
    st = label ? na_init_param_ex(label, &io, &w) : na_last_status();
    free(label);
    if (st != NA_OK) {
        free(in_names);
        free(out_names);
        free(wout);
        return na__fail_in(who, st);
    }
    return linear_make(w, in_names, out_names, wout, who, out);
}

na_status na_linear_new(const char *name, int n_in, const na_dim *in, int n_out,
                        const na_dim *out_dims, uint64_t seed, na_layer **out)
{
    na_linear_options o = basic_options(name, n_in, in, n_out, out_dims, seed);
    return linear_new(&o, "na_linear_new", out);
}

na_status na_linear_new_ex(const na_linear_options *opt, na_layer **out)
{
    return linear_new(opt, "na_linear_new_ex", out);
}

/* ---- AddBias ------------------------------------------------------------ */

typedef struct bias_layer {
    na_layer base;
    na_param *bias;
} bias_layer;

static na_status bias_check(const bias_layer *l, const na_array *x)
{
    const na_array *b = l->bias->value;
    for (int d = 0; d < b->ndim; d++) {
        if (b->name[d] && na_axis_index(x, b->name[d]) < 0)
            return na__fail(NA_ERR_AXIS, "AddBias: input %s lacks biased axis '%s' "
                            "(bias '%s' %s)", na__shape(x), b->name[d],
                            l->bias->label, na__shape(b));
        if (b->name[d] && na_axis_size(x, b->name[d]) != b->shape[d])
            return na__fail(NA_ERR_SHAPE, "AddBias: input %s has %s:%lld but bias "
                            "'%s' is %s", na__shape(x), b->name[d],
                            (long long)na_axis_size(x, b->name[d]), l->bias->label,
                            na__shape(b));
    }
    return NA_OK;
}

/* x: {..., biased...} -> same named shape */
static na_status bias_call(na_layer *self, const na_value *in, const na_side *side,
                           na_value **out)
{
    (void)side;
    bias_layer *l = (bias_layer *)self;
    const na_array *x = NULL;
    na_status st = na__std_input(in, "AddBias", false, &x);
    if (st == NA_OK)
        st = bias_check(l, x);
    na_array *y = NULL;
    if (st == NA_OK)
        st = na_add(x, l->bias->value, &y);
    return st == NA_OK ? na__std_output(y, out) : st;
}

/* The biased axes are the bias's named axes. */
static void bias_describe(const na_layer *self, na_fields *f)
{
    const na_array *b = ((const bias_layer *)self)->bias->value;
    const char *names[NA_MAX_DIMS + 1] = {0};
    for (int d = 0, n = 0; d < b->ndim; d++)
        if (b->name[d])
            names[n++] = b->name[d];
    na_fields_names(f, "biased", names);
}

static na_status bias_finish(na_layer *self)
{
    const na_param *b = ((const bias_layer *)self)->bias;
    return b && b->value ? NA_OK
                         : na__fail(NA_ERR_ARGUMENT, "AddBias: a bias is required");
}

static const na_field_desc bias_fields[] = {
    NA_FIELD(bias_layer, bias, NA_FIELD_PARAM),
};

const na_layer_type na_add_bias_type = {
    .name = "AddBias",
    .call = bias_call,
    .size = sizeof(bias_layer),
    .fields = bias_fields,
    .field_count = NA_FIELD_COUNT(bias_fields),
    .finish = bias_finish,
    .describe = bias_describe,
};

static na_status add_bias_new(const na_add_bias_options *opt, const char *who,
                              na_layer **out)
{
    if (!out || !opt)
        return na__fail(NA_ERR_ARGUMENT, "%s: %s is NULL", who, out ? "opt" : "out");
    *out = NULL;
    na_init zeros = na_init_zeros();
    char *label = na__std_label(opt->name, "bias", who);
    if (!label)
        return na_last_status();
    na_init_options io = {.init = opt->init ? opt->init : &zeros,
                          .seed = opt->seed,
                          .n_out = opt->n_biased,
                          .out = opt->biased};
    na_param *b = NULL;
    na_status st = na_init_param_ex(label, &io, &b);
    free(label);
    if (st != NA_OK)
        return na__fail_in(who, st);
    st = na_layer_alloc(&na_add_bias_type, out);
    if (st != NA_OK) {
        na_param_release(b);
        return st;
    }
    ((bias_layer *)*out)->bias = b;
    return NA_OK;
}

na_status na_add_bias_new(const char *name, int n, const na_dim *biased, na_layer **out)
{
    na_add_bias_options o = {.name = name, .n_biased = n, .biased = biased};
    return add_bias_new(&o, "na_add_bias_new", out);
}

na_status na_add_bias_new_ex(const na_add_bias_options *opt, na_layer **out)
{
    return add_bias_new(opt, "na_add_bias_new_ex", out);
}

/* ---- Affine: Linear then AddBias ---------------------------------------- */

typedef struct affine_layer {
    na_layer base;
    na_layer *linear;
    na_layer *bias;
} affine_layer;

static na_status affine_call(na_layer *self, const na_value *in, const na_side *side,
                             na_value **out)
{
    affine_layer *l = (affine_layer *)self;
    na_value *h = NULL;
    na_status st = na_layer_call(l->linear, in, side, &h);
    if (st != NA_OK)
        return st;
    st = na_layer_call(l->bias, h, side, out);
    na_value_free(h);
    return st;
}

static const na_field_desc affine_fields[] = {
    NA_FIELD(affine_layer, linear, NA_FIELD_CHILD),
    NA_FIELD(affine_layer, bias, NA_FIELD_CHILD),
};

const na_layer_type na_affine_type = {
    .name = "Affine",
    .call = affine_call,
    .size = sizeof(affine_layer),
    .fields = affine_fields,
    .field_count = NA_FIELD_COUNT(affine_fields),
};

static na_status affine_new(const na_linear_options *opt, const char *who, na_layer **out)
{
    if (!out || !opt)
        return na__fail(NA_ERR_ARGUMENT, "%s: %s is NULL", who, out ? "opt" : "out");
    *out = NULL;
    int n_out = opt->n_out, n_parallel = opt->n_parallel;
    if (n_out < 0 || n_parallel < 0 || n_out + n_parallel > NA_MAX_DIMS ||
        (n_out > 0 && !opt->out) || (n_parallel > 0 && !opt->parallel))
        return na__fail(NA_ERR_ARGUMENT, "%s: bad output/parallel dim counts %d, %d",
                        who, n_out, n_parallel);
    na_dim bias_dims[NA_MAX_DIMS];
    for (int i = 0; i < n_out; i++)
        bias_dims[i] = opt->out[i];
    for (int i = 0; i < n_parallel; i++)
        bias_dims[n_out + i] = opt->parallel[i];
    na_linear_options lo = *opt;
    lo.bias_init = NULL;
    na_add_bias_options bo = {.name = opt->name,
                              .n_biased = n_out + n_parallel,
                              .biased = bias_dims,
                              .init = opt->bias_init,
                              .seed = opt->seed};
    na_layer *lin = NULL, *bias = NULL;
    na_status st = linear_new(&lo, who, &lin);
    if (st == NA_OK)
        st = add_bias_new(&bo, who, &bias);
    na_layer *made = NULL;
    if (st == NA_OK)
        st = na_layer_alloc(&na_affine_type, &made);
    if (st != NA_OK) {
        na_layer_free(lin);
        na_layer_free(bias);
        return na__fail_in(who, st);
    }
    ((affine_layer *)made)->linear = lin;
    ((affine_layer *)made)->bias = bias;
    *out = made;
    return NA_OK;
}

na_status na_affine_new(const char *name, int n_in, const na_dim *in, int n_out,
                        const na_dim *out_dims, uint64_t seed, na_layer **out)
{
    na_linear_options o = basic_options(name, n_in, in, n_out, out_dims, seed);
    return affine_new(&o, "na_affine_new", out);
}

na_status na_affine_new_ex(const na_linear_options *opt, na_layer **out)
{
    return affine_new(opt, "na_affine_new_ex", out);
}
