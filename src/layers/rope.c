/* Rotary position embeddings, half-split form: ApplyRoPE and
 * ApplyRoPEToSubset. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/std_internal.h"

#define ROPE_DEFAULT_KEY "token_positions"
#define ROPE_DEFAULT_WAVELENGTH 10000.0

typedef struct rope_layer {
    na_layer base;
    const char *axis;        /* interned: the feature axis rotated          */
    char *positions_key;
    double max_wavelength;
    double scale_factor;
    int64_t rope_size;       /* 0: the whole axis (times fraction)           */
    double fraction;         /* 1: the whole axis                            */
    double l3_factor, l3_low, l3_high, l3_original; /* factor 0: off         */
    const char *default_axis; /* interned; NULL: positions are required      */
} rope_layer;

static rope_layer *as_rope(const na_layer *l) { return (rope_layer *)l; }

/* Positions: named axes, each an axis of x (not the feature axis). */
static na_status check_positions(const rope_layer *l, const na_array *x,
                                 const na_array *pos, const char *who)
{
    if (pos->dtype != NA_I32 && pos->dtype != NA_F32 && pos->dtype != NA_F64)
        return na__fail(NA_ERR_DTYPE, "%s: positions '%s' %s must be i32 or float",
                        who, l->positions_key, na__shape(pos));
    for (int d = 0; d < pos->ndim; d++) {
        const char *a = pos->name[d];
        if (!a || a == l->axis || na_axis_size(x, a) != pos->shape[d])
            return na__fail(NA_ERR_AXIS, "%s: positions '%s' %s must have only named "
                            "axes of the input %s, with the same sizes, and not the "
                            "feature axis '%s'", who, l->positions_key,
                            na__shape(pos), na__shape(x), l->axis);
    }
    return NA_OK;
}

/* Rotated size R: even, 0 < R <= D. */
static na_status rope_width(const rope_layer *l, const na_array *x, const char *who,
                            int64_t *r)
{
    if (x->dtype != NA_F32 && x->dtype != NA_F64)
        return na__fail(NA_ERR_DTYPE, "%s: input %s must be f32 or f64", who,
                        na__shape(x));
    int64_t d = na_axis_size(x, l->axis);
    if (d < 0)
        return na__fail(NA_ERR_AXIS, "%s: input %s lacks feature axis '%s'", who,
                        na__shape(x), l->axis);
    *r = l->rope_size ? l->rope_size
         : l->fraction < 1 ? (int64_t)((double)d * l->fraction) / 2 * 2 : d;
    if (*r > d || *r % 2 != 0 || *r <= 0)
        return na__fail(NA_ERR_SHAPE, "%s: rotated size %lld must be even and at most "
                        "%s:%lld (input %s)", who, (long long)*r, l->axis, (long long)d,
                        na__shape(x));
    return NA_OK;
}

/* Llama 3's frequency scaling of one inverse frequency (see layers.h). */
static double llama3_scaled(const rope_layer *l, double f)
{
    double w = 2.0 * M_PI / f;
    if (w < l->l3_original / l->l3_high)
        return f;
    if (w > l->l3_original / l->l3_low)
        return f / l->l3_factor;
    double s = (l->l3_original / w - l->l3_low) / (l->l3_high - l->l3_low);
    return (1.0 - s) * f / l->l3_factor + s * f;
}

/* cos and sin of theta = pos / scale / wavelength^(2i/R), i < R/2, in x's
 * dtype: {positions' axes..., axis:R/2}. */
static na_status angles(const rope_layer *l, const na_array *pos, int64_t r,
                        na_dtype dtype, na_array **cos_out, na_array **sin_out)
{
    int64_t half = r / 2;
    double *inv = malloc((size_t)half * sizeof *inv);
    if (!inv)
        return na__std_oom(na_layer_type_name(&l->base));
    for (int64_t i = 0; i < half; i++) {
        double f = pow(l->max_wavelength, -2.0 * (double)i / (double)r);
        inv[i] = (l->l3_factor > 0 ? llama3_scaled(l, f) : f) / l->scale_factor;
    }
    na_array *freq = NULL, *p = NULL, *theta = NULL, *c = NULL, *s = NULL;
    na_status st = na_from_data(NA_F64, 1, &(na_dim){l->axis, half}, inv, &freq);
    free(inv);
    if (st == NA_OK)
        st = na_astype(pos, NA_F64, &p);
    if (st == NA_OK)
        st = na_mul(p, freq, &theta);
    if (st == NA_OK)
        st = na_unary(NA_COS, theta, &c);
    if (st == NA_OK)
        st = na_unary(NA_SIN, theta, &s);
    if (st == NA_OK)
        st = na_astype(c, dtype, cos_out);
    if (st == NA_OK && (st = na_astype(s, dtype, sin_out)) != NA_OK) {
        na_array_free(*cos_out);
        *cos_out = NULL;
    }
    na_array *tmp[] = {freq, p, theta, c, s};
    for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++)
        na_array_free(tmp[i]);
    return st;
}

/* a * c + sign * b * s */
static na_status rotate(const na_array *a, const na_array *b, const na_array *c,
                        const na_array *s, na_binary_op sign, na_array **out)
{
    na_array *ac = NULL, *bs = NULL;
    na_status st = na_mul(a, c, &ac);
    if (st == NA_OK)
        st = na_mul(b, s, &bs);
    if (st == NA_OK)
        st = na_binary(sign, ac, bs, out);
    na_array_free(ac);
    na_array_free(bs);
    return st;
}

/* [x1 c - x2 s, x2 c + x1 s, rest] along the feature axis */
static na_status apply(const rope_layer *l, const na_array *x, int64_t r,
                       const na_array *c, const na_array *s, na_array **out)
{
    int64_t half = r / 2, d = na_axis_size(x, l->axis);
    na_array *x1 = NULL, *x2 = NULL, *rest = NULL, *parts[3] = {NULL, NULL, NULL};
    na_status st = na_index_by(x, 1, (na_index[]){NA_RANGE(l->axis, 0, half, 1)}, &x1);
    if (st == NA_OK)
        st = na_index_by(x, 1, (na_index[]){NA_RANGE(l->axis, half, r, 1)}, &x2);
    if (st == NA_OK && r < d)
        st = na_index_by(x, 1, (na_index[]){NA_RANGE(l->axis, r, d, 1)}, &rest);
    if (st == NA_OK)
        st = rotate(x1, x2, c, s, NA_SUB, &parts[0]);
    if (st == NA_OK)
        st = rotate(x2, x1, c, s, NA_ADD, &parts[1]);
    parts[2] = rest;
    if (st == NA_OK)
        st = na_concatenate(rest ? 3 : 2, (const na_array *const *)parts, l->axis, out);
    na_array *tmp[] = {x1, x2, rest, parts[0], parts[1]};
    for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++)
        na_array_free(tmp[i]);
    return st;
}

/* x: {batch, seq, heads, axis}, side[key]: {batch, seq} -> same as x */
static na_status rope_call(na_layer *self, const na_value *in, const na_side *side,
                           na_value **out)
{
    rope_layer *l = as_rope(self);
    const char *who = na_layer_type_name(self);
    const na_array *x = NULL, *pos = NULL;
    na_array *own_pos = NULL;
    int64_t r = 0;
    na_status st = na__std_input(in, who, true, &x);
    if (st == NA_OK)
        st = rope_width(l, x, who, &r);
    if (st == NA_OK && l->default_axis && !na_side_get(side, l->positions_key) &&
        na_axis_index(x, l->default_axis) >= 0) {
        st = na_arange(l->default_axis, na_axis_size(x, l->default_axis), NA_I32, &own_pos);
        pos = own_pos;
    }
    if (st == NA_OK && !pos && !(pos = na_side_require_array(side, l->positions_key, who)))
        st = na_last_status();
    if (st == NA_OK)
        st = check_positions(l, x, pos, who);
    na_array *c = NULL, *s = NULL, *y = NULL;
    if (st == NA_OK)
        st = angles(l, pos, r, x->dtype, &c, &s);
    if (st == NA_OK)
        st = apply(l, x, r, c, s, &y);
    na_array_free(c);
    na_array_free(s);
    na_array_free(own_pos);
    return st == NA_OK ? na__std_output(y, out) : st;
}

static void rope_describe(const na_layer *self, na_fields *f)
{
    const rope_layer *l = as_rope(self);
    na_fields_str(f, "axis", l->axis);
    if (l->rope_size)
        na_fields_int(f, "rope_size", l->rope_size);
    na_fields_str(f, "positions", l->positions_key);
    na_fields_float(f, "max_wavelength", l->max_wavelength);
    if (l->scale_factor != 1.0)
        na_fields_float(f, "scale_factor", l->scale_factor);
    if (l->fraction != 1.0)
        na_fields_float(f, "fraction", l->fraction);
    if (l->l3_factor > 0) {
        na_fields_float(f, "llama3_factor", l->l3_factor);
        na_fields_float(f, "llama3_low_freq_factor", l->l3_low);
        na_fields_float(f, "llama3_high_freq_factor", l->l3_high);
        na_fields_float(f, "llama3_original_max_position", l->l3_original);
    }
}

static const na_field_desc rope_fields[] = {
    NA_FIELD(rope_layer, axis, NA_FIELD_AXIS),
    NA_FIELD(rope_layer, rope_size, NA_FIELD_INT),
    NA_FIELD_AS("positions", rope_layer, positions_key, NA_FIELD_STRING, 0),
    NA_FIELD(rope_layer, max_wavelength, NA_FIELD_FLOAT),
    NA_FIELD(rope_layer, scale_factor, NA_FIELD_FLOAT),
    NA_FIELD(rope_layer, fraction, NA_FIELD_FLOAT),
    NA_FIELD_AS("llama3_factor", rope_layer, l3_factor, NA_FIELD_FLOAT, 0),
    NA_FIELD_AS("llama3_low_freq_factor", rope_layer, l3_low, NA_FIELD_FLOAT, 0),
    NA_FIELD_AS("llama3_high_freq_factor", rope_layer, l3_high, NA_FIELD_FLOAT, 0),
    NA_FIELD_AS("llama3_original_max_position", rope_layer, l3_original,
                NA_FIELD_FLOAT, 0),
    NA_FIELD_AS("default_positions_axis", rope_layer, default_axis, NA_FIELD_AXIS, 0),
};

#define ROPE_TYPE(var, type_name)                                            \
    const na_layer_type var = {                                              \
        .name = type_name,                                                   \
        .call = rope_call,                                                   \
        .size = sizeof(rope_layer),                                          \
        .fields = rope_fields,                                               \
        .field_count = NA_FIELD_COUNT(rope_fields),                          \
        .describe = rope_describe,                                           \
    }

ROPE_TYPE(na_apply_rope_type, "ApplyRoPE");
ROPE_TYPE(na_apply_rope_subset_type, "ApplyRoPEToSubset");


/* Defaults and checks of the fraction and the Llama 3 scaling. */
static na_status rope_defaults(na_rope_options *o, const char *who)
{
    o->fraction = o->fraction != 0 ? o->fraction : 1.0;
    if (!(o->fraction > 0 && o->fraction <= 1))
        return na__fail(NA_ERR_ARGUMENT, "%s: fraction %g not in (0, 1]", who,
                        o->fraction);
    if (o->llama3_factor == 0)
        return NA_OK;
    if (o->llama3_low_freq_factor == 0)
        o->llama3_low_freq_factor = 1;
    if (o->llama3_high_freq_factor == 0)
        o->llama3_high_freq_factor = 4;
    if (o->llama3_original_max_position == 0)
        o->llama3_original_max_position = 8192;
    if (!(o->llama3_factor > 0) || !(o->llama3_low_freq_factor > 0) ||
        !(o->llama3_high_freq_factor > o->llama3_low_freq_factor) ||
        !(o->llama3_original_max_position > 0))
        return na__fail(NA_ERR_ARGUMENT, "%s: Llama 3 scaling needs factor (%g) > 0, "
                        "0 < low_freq_factor (%g) < high_freq_factor (%g) and "
                        "original_max_position (%g) > 0", who, o->llama3_factor,
                        o->llama3_low_freq_factor, o->llama3_high_freq_factor,
                        o->llama3_original_max_position);
    return NA_OK;
}

static na_status rope_new(const na_layer_type *type, const char *who, const char *axis,
                          int64_t rope_size, const na_rope_options *opt, na_layer **out)
{
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "%s: out is NULL", who);
    *out = NULL;
    na_rope_options o = opt ? *opt : (na_rope_options){0};
    o.positions_key = o.positions_key ? o.positions_key : ROPE_DEFAULT_KEY;
    o.max_wavelength = o.max_wavelength != 0 ? o.max_wavelength : ROPE_DEFAULT_WAVELENGTH;
    o.scale_factor = o.scale_factor != 0 ? o.scale_factor : 1.0;
    if (!axis || !axis[0] || !o.positions_key[0])
        return na__fail(NA_ERR_ARGUMENT, "%s: a feature axis and a positions key are "
                        "required", who);
    if (!(o.max_wavelength > 0) || !(o.scale_factor > 0))
        return na__fail(NA_ERR_ARGUMENT, "%s: max_wavelength (%g) and scale_factor "
                        "(%g) must be positive", who, o.max_wavelength, o.scale_factor);
    na_status st = rope_defaults(&o, who);
    if (st != NA_OK)
        return st;
    na_layer *made = NULL;
    char *key = na__strdup(who, o.positions_key);
    st = key ? na_layer_alloc(type, &made) : na_last_status();
    if (st != NA_OK) {
        free(key);
        return st;
    }
    rope_layer *l = as_rope(made);
    l->axis = na_intern(axis);
    l->positions_key = key;
    l->max_wavelength = o.max_wavelength;
    l->scale_factor = o.scale_factor;
    l->rope_size = rope_size;
    l->fraction = o.fraction;
    l->l3_factor = o.llama3_factor;
    l->l3_low = o.llama3_low_freq_factor;
    l->l3_high = o.llama3_high_freq_factor;
    l->l3_original = o.llama3_original_max_position;
    l->default_axis = o.default_positions_axis ? na_intern(o.default_positions_axis) : NULL;
    *out = made;
    return NA_OK;
}

na_status na_apply_rope_new(const char *axis, const na_rope_options *opt, na_layer **out)
{
    return rope_new(&na_apply_rope_type, "na_apply_rope_new", axis, 0, opt, out);
}

na_status na_apply_rope_subset_new(const char *axis, int64_t rope_size,
                                   const na_rope_options *opt, na_layer **out)
{
    if (rope_size <= 0 || rope_size % 2 != 0)
        return na__fail(NA_ERR_ARGUMENT, "na_apply_rope_subset_new: rope_size must be "
                        "even and positive (got %lld)", (long long)rope_size);
    return rope_new(&na_apply_rope_subset_type, "na_apply_rope_subset_new", axis,
                    rope_size, opt, out);
}
