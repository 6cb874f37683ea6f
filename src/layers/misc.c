/* Small reshaping layers: NamedEinsum, RenameAxes, ConstantRescale,
 * CastToDType. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/std_internal.h"
#include "namedarr/contract.h"

/* ---- NamedEinsum ---------------------------------------------------------- */

typedef struct einsum_layer {
    na_layer base;
    char *spec;
    int n_inputs;
} einsum_layer;

/* The arrays of `in`: the items of a tuple, or the one array. */
static na_status einsum_inputs(const einsum_layer *l, const na_value *in,
                               const na_array **xs)
{
    int n = in->kind == NA_VALUE_TUPLE ? in->count : 1;
    if (n != l->n_inputs) {
        char buf[256];
        na_value_shape_str(in, buf, sizeof buf);
        return na__fail(NA_ERR_ARGUMENT, "NamedEinsum: spec \"%s\" takes %d input%s, "
                        "got %s", l->spec, l->n_inputs, l->n_inputs == 1 ? "" : "s",
                        buf);
    }
    if (in->kind == NA_VALUE_ARRAY) {
        xs[0] = in->array;
        return NA_OK;
    }
    for (int i = 0; i < n; i++) {
        const na_value *v = na_value_item(in, i, "NamedEinsum");
        xs[i] = v ? na_value_array(v, "NamedEinsum") : NULL;
        if (!xs[i])
            return na_last_status();
    }
    return NA_OK;
}

/* (x_0, ..., x_{n-1}) -> the spec's output names plus batch axes */
static na_status einsum_call(na_layer *self, const na_value *in, const na_side *side,
                             na_value **out)
{
    (void)side;
    einsum_layer *l = (einsum_layer *)self;
    const na_array *xs[NA_MAX_DIMS];
    na_status st = einsum_inputs(l, in, xs);
    na_array *y = NULL;
    if (st == NA_OK)
        st = na_einsum(l->spec, l->n_inputs, xs, &y);
    return st == NA_OK ? na__std_output(y, out) : st;
}

static void einsum_describe(const na_layer *self, na_fields *f)
{
    na_fields_str(f, "spec", ((const einsum_layer *)self)->spec);
}

static void einsum_destroy(na_layer *self)
{
    free(((einsum_layer *)self)->spec);
    free(self);
}

const na_layer_type na_named_einsum_type = {
    .name = "NamedEinsum",
    .call = einsum_call,
    .describe = einsum_describe,
    .destroy = einsum_destroy,
};

na_status na_named_einsum_new(const char *spec, na_layer **result)
{
    const char *who = "na_named_einsum_new";
    if (!result || !spec)
        return na__fail(NA_ERR_ARGUMENT, "%s: spec and result are required", who);
    *result = NULL;
    const char *arrow = strstr(spec, "->");
    if (!arrow)
        return na__fail(NA_ERR_ARGUMENT, "%s: spec \"%s\" has no \"->\"", who, spec);
    int n = 1;
    for (const char *c = spec; c < arrow; c++)
        n += *c == ',';
    if (n > NA_MAX_DIMS)
        return na__fail(NA_ERR_ARGUMENT, "%s: spec \"%s\" has more than %d inputs",
                        who, spec, NA_MAX_DIMS);
    einsum_layer *l = calloc(1, sizeof *l);
    char *copy = na__strdup(who, spec);
    if (!l || !copy) {
        free(l);
        free(copy);
        return na__std_oom(who);
    }
    l->base.type = &na_named_einsum_type;
    l->spec = copy;
    l->n_inputs = n;
    *result = &l->base;
    return NA_OK;
}

/* ---- RenameAxes ------------------------------------------------------------ */

typedef struct rename_layer {
    na_layer base;
    const char **old, **new_names;
} rename_layer;

/* x: {old...} -> {new...} */
static na_status rename_call(na_layer *self, const na_value *in, const na_side *side,
                             na_value **out)
{
    (void)side;
    rename_layer *l = (rename_layer *)self;
    const na_array *x = NULL;
    na_status st = na__std_input(in, "RenameAxes", false, &x);
    if (st == NA_OK)
        st = na__std_require_axes(x, l->old, "RenameAxes", "axis");
    na_array *y = NULL;
    if (st == NA_OK)
        st = na_rename(x, l->old, l->new_names, &y);
    return st == NA_OK ? na__std_output(y, out) : st;
}

static void rename_describe(const na_layer *self, na_fields *f)
{
    const rename_layer *l = (const rename_layer *)self;
    na_fields_names(f, "old", l->old);
    na_fields_names(f, "new", l->new_names);
}

static void rename_destroy(na_layer *self)
{
    rename_layer *l = (rename_layer *)self;
    free(l->old);
    free(l->new_names);
    free(l);
}

const na_layer_type na_rename_axes_type = {
    .name = "RenameAxes",
    .call = rename_call,
    .describe = rename_describe,
    .destroy = rename_destroy,
};

na_status na_rename_axes_new(const char *const *old, const char *const *new_names,
                             na_layer **result)
{
    const char *who = "na_rename_axes_new";
    if (!result)
        return na__fail(NA_ERR_ARGUMENT, "%s: result is NULL", who);
    *result = NULL;
    if (na__std_names_len(old) != na__std_names_len(new_names))
        return na__fail(NA_ERR_ARGUMENT, "%s: %d old names [%s] but %d new names [%s]",
                        who, na__std_names_len(old), na__names(old),
                        na__std_names_len(new_names), na__names(new_names));
    rename_layer *l = calloc(1, sizeof *l);
    if (!l)
        return na__std_oom(who);
    l->base.type = &na_rename_axes_type;
    l->old = na__std_names_dup(old, who);
    l->new_names = l->old ? na__std_names_dup(new_names, who) : NULL;
    if (!l->new_names) {
        rename_destroy(&l->base);
        return na_last_status();
    }
    *result = &l->base;
    return NA_OK;
}

/* ---- ConstantRescale ------------------------------------------------------- */

typedef struct rescale_layer {
    na_layer base;
    double by;
} rescale_layer;

static na_status rescale_call(na_layer *self, const na_value *in, const na_side *side,
                              na_value **out)
{
    (void)side;
    const na_array *x = NULL;
    na_status st = na__std_input(in, "ConstantRescale", false, &x);
    na_array *y = NULL;
    if (st == NA_OK)
        st = na_binary_scalar(NA_MUL, x, ((rescale_layer *)self)->by, &y);
    return st == NA_OK ? na__std_output(y, out) : st;
}

static void rescale_describe(const na_layer *self, na_fields *f)
{
    na_fields_float(f, "by", ((const rescale_layer *)self)->by);
}

static void plain_destroy(na_layer *self) { free(self); }

const na_layer_type na_constant_rescale_type = {
    .name = "ConstantRescale",
    .call = rescale_call,
    .describe = rescale_describe,
    .destroy = plain_destroy,
};

na_status na_constant_rescale_new(double by, na_layer **result)
{
    if (!result)
        return na__fail(NA_ERR_ARGUMENT, "na_constant_rescale_new: result is NULL");
    rescale_layer *l = calloc(1, sizeof *l);
    if (!l)
        return na__std_oom("na_constant_rescale_new");
    l->base.type = &na_constant_rescale_type;
    l->by = by;
    *result = &l->base;
    return NA_OK;
}

/* ---- CastToDType ----------------------------------------------------------- */

typedef struct cast_layer {
    na_layer base;
    na_dtype dtype;
} cast_layer;

static na_status cast_call(na_layer *self, const na_value *in, const na_side *side,
                           na_value **out)
{
    (void)side;
    const na_array *x = NULL;
    na_status st = na__std_input(in, "CastToDType", false, &x);
    na_array *y = NULL;
    if (st == NA_OK)
        st = na_astype(x, ((cast_layer *)self)->dtype, &y);
    return st == NA_OK ? na__std_output(y, out) : st;
}

static void cast_describe(const na_layer *self, na_fields *f)
{
    na_fields_str(f, "dtype", na_dtype_name(((const cast_layer *)self)->dtype));
}

const na_layer_type na_cast_to_dtype_type = {
    .name = "CastToDType",
    .call = cast_call,
    .describe = cast_describe,
    .destroy = plain_destroy,
};

na_status na_cast_to_dtype_new(na_dtype dtype, na_layer **result)
{
    const char *who = "na_cast_to_dtype_new";
    if (!result)
        return na__fail(NA_ERR_ARGUMENT, "%s: result is NULL", who);
    *result = NULL;
    if ((int)dtype < NA_F32 || dtype > NA_BOOL)
        return na__fail(NA_ERR_DTYPE, "%s: unknown dtype %d", who, (int)dtype);
    cast_layer *l = calloc(1, sizeof *l);
    if (!l)
        return na__std_oom(who);
    l->base.type = &na_cast_to_dtype_type;
    l->dtype = dtype;
    *result = &l->base;
    return NA_OK;
}
