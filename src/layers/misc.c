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
    int n_inputs;       /* derived from the spec                         */
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

/* The number of inputs of a spec (the commas before "->", plus one). */
static na_status einsum_count(const char *who, const char *spec, int *n)
{
    const char *arrow = spec ? strstr(spec, "->") : NULL;
    if (!arrow)
        return na__fail(NA_ERR_ARGUMENT, "%s: spec \"%s\" has no \"->\"", who,
                        spec ? spec : "");
    *n = 1;
    for (const char *c = spec; c < arrow; c++)
        *n += *c == ',';
    if (*n > NA_MAX_DIMS)
        return na__fail(NA_ERR_ARGUMENT, "%s: spec \"%s\" has more than %d inputs",
                        who, spec, NA_MAX_DIMS);
    return NA_OK;
}

/* The number of inputs is derived from the spec. */
static na_status einsum_finish(na_layer *self)
{
    einsum_layer *l = (einsum_layer *)self;
    return einsum_count("NamedEinsum", l->spec, &l->n_inputs);
}

static const na_field_desc einsum_fields[] = {
    NA_FIELD(einsum_layer, spec, NA_FIELD_STRING),
};

const na_layer_type na_named_einsum_type = {
    .name = "NamedEinsum",
    .call = einsum_call,
    .size = sizeof(einsum_layer),
    .fields = einsum_fields,
    .field_count = NA_FIELD_COUNT(einsum_fields),
    .finish = einsum_finish,
};

na_status na_named_einsum_new(const char *spec, na_layer **out)
{
    const char *who = "na_named_einsum_new";
    if (!out || !spec)
        return na__fail(NA_ERR_ARGUMENT, "%s: spec and out are required", who);
    *out = NULL;
    int n = 0;
    na_status st = einsum_count(who, spec, &n);
    na_layer *l = NULL;
    if (st == NA_OK)
        st = na_layer_alloc(&na_named_einsum_type, &l);
    if (st == NA_OK)
        st = na_layer_field_set_string(l, "spec", spec);
    if (st == NA_OK)
        st = na_layer_finish(l);
    if (st != NA_OK) {
        na_layer_free(l);
        return st;
    }
    *out = l;
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

static const na_field_desc rename_fields[] = {
    NA_FIELD(rename_layer, old, NA_FIELD_NAMES),
    NA_FIELD_AS("new", rename_layer, new_names, NA_FIELD_NAMES, 0),
};

const na_layer_type na_rename_axes_type = {
    .name = "RenameAxes",
    .call = rename_call,
    .size = sizeof(rename_layer),
    .fields = rename_fields,
    .field_count = NA_FIELD_COUNT(rename_fields),
};

na_status na_rename_axes_new(const char *const *old, const char *const *new_names,
                             na_layer **out)
{
    const char *who = "na_rename_axes_new";
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "%s: out is NULL", who);
    *out = NULL;
    if (na__std_names_len(old) != na__std_names_len(new_names))
        return na__fail(NA_ERR_ARGUMENT, "%s: %d old names [%s] but %d new names [%s]",
                        who, na__std_names_len(old), na__names(old),
                        na__std_names_len(new_names), na__names(new_names));
    na_layer *made = NULL;
    na_status st = na_layer_alloc(&na_rename_axes_type, &made);
    rename_layer *l = (rename_layer *)made;
    if (st == NA_OK && !(l->old = na__std_names_dup(old, who)))
        st = na_last_status();
    if (st == NA_OK && !(l->new_names = na__std_names_dup(new_names, who)))
        st = na_last_status();
    if (st != NA_OK) {
        na_layer_free(made);
        return st;
    }
    *out = made;
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

static const na_field_desc rescale_fields[] = {
    NA_FIELD(rescale_layer, by, NA_FIELD_FLOAT),
};

const na_layer_type na_constant_rescale_type = {
    .name = "ConstantRescale",
    .call = rescale_call,
    .size = sizeof(rescale_layer),
    .fields = rescale_fields,
    .field_count = NA_FIELD_COUNT(rescale_fields),
};

na_status na_constant_rescale_new(double by, na_layer **out)
{
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "na_constant_rescale_new: out is NULL");
    na_status st = na_layer_alloc(&na_constant_rescale_type, out);
    if (st == NA_OK)
        ((rescale_layer *)*out)->by = by;
    return st;
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

static const char *const dtype_names[] = {
    [NA_F32] = "f32", [NA_F64] = "f64", [NA_I32] = "i32", [NA_BOOL] = "bool",
    [NA_BOOL + 1] = NULL};

static const na_field_desc cast_fields[] = {
    NA_FIELD_ENUM_AS("dtype", cast_layer, dtype, dtype_names, 0),
};

const na_layer_type na_cast_to_dtype_type = {
    .name = "CastToDType",
    .call = cast_call,
    .size = sizeof(cast_layer),
    .fields = cast_fields,
    .field_count = NA_FIELD_COUNT(cast_fields),
};

na_status na_cast_to_dtype_new(na_dtype dtype, na_layer **out)
{
    const char *who = "na_cast_to_dtype_new";
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "%s: out is NULL", who);
    *out = NULL;
    if ((int)dtype < NA_F32 || dtype > NA_BOOL)
        return na__fail(NA_ERR_DTYPE, "%s: unknown dtype %d", who, (int)dtype);
    na_status st = na_layer_alloc(&na_cast_to_dtype_type, out);
    if (st == NA_OK)
        ((cast_layer *)*out)->dtype = dtype;
    return st;
}
