/* MaskedSoftmax: softmax over one axis with an explicit policy for rows
 * whose keys are all masked (uniform weights as in Penzai/Flax/JAX, or
 * zeros as in Keras/PyTorch; see masks.h). */
#include <stdlib.h>

#include "attention/attention_internal.h"

static na_status wrap(na_array *y, na_value **out)
{
    *out = na_value_from_array(y);
    return *out ? NA_OK : na_last_status();
}

/* ---- MaskedSoftmax ------------------------------------------------------------ */

typedef struct masked_softmax_layer {
    na_layer base;
    const char *axis;   /* interned */
    na_masked_rows rows;
    double value;
} masked_softmax_layer;

static const char *const row_policies[] = {[NA_MASKED_ROWS_DEFAULT] = "default",
                                           [NA_MASKED_ROWS_UNIFORM] = "uniform",
                                           [NA_MASKED_ROWS_ZERO] = "zero", NULL};

/* Zero the rows (along `axis`) of w whose logits are all masked. */
static na_status zero_masked_rows(const masked_softmax_layer *l, const na_array *x,
                                  const na_array *w, na_array **out)
{
    na_array *mx = NULL, *live = NULL, *zero = NULL, *live_b = NULL;
    na_status st = na_max(x, (const char *const[]){l->axis, NULL}, &mx);
    if (st == NA_OK)
        st = na_binary_scalar(NA_GT, mx, 0.5 * l->value, &live);
    if (st == NA_OK)
        st = na_broadcast_like(live, w, &live_b);
    if (st == NA_OK)
        st = na_scalar(w->dtype, 0, &zero);
    if (st == NA_OK)
        st = na_where(live_b, w, zero, out);
    na_array_free(mx);
    na_array_free(live);
    na_array_free(live_b);
    na_array_free(zero);
    return st;
}

/* x {.., kv_seq} -> softmax over kv_seq, fully masked rows per policy. */
static na_status masked_softmax_call(na_layer *self, const na_value *in,
                                     const na_side *side, na_value **out)
{
    NA__UNUSED(side);
    const masked_softmax_layer *l = (const masked_softmax_layer *)self;
    const na_array *x = na__attn_array(in, "MaskedSoftmax", "the input");
    if (!x)
        return na_last_status();
    if (na_axis_index(x, l->axis) < 0)
        return na__fail(NA_ERR_AXIS, "MaskedSoftmax: input %s has no axis '%s'",
                        na__shape(x), l->axis);
    na_array *w = NULL, *y = NULL;
    na_status st = na_softmax(x, (const char *const[]){l->axis, NULL}, &w);
    if (st != NA_OK || l->rows == NA_MASKED_ROWS_UNIFORM)
        return st == NA_OK ? wrap(w, out) : st;
    st = zero_masked_rows(l, x, w, &y);
    na_array_free(w);
    return st == NA_OK ? wrap(y, out) : st;
}

static na_status masked_softmax_finish(na_layer *self)
{
    const masked_softmax_layer *l = (const masked_softmax_layer *)self;
    if (!l->axis || !(l->value < 0))
        return na__fail(NA_ERR_ARGUMENT, "MaskedSoftmax: an axis and a negative "
                        "masked_out_value are required");
    if (l->rows != NA_MASKED_ROWS_UNIFORM && l->rows != NA_MASKED_ROWS_ZERO)
        return na__fail(NA_ERR_ARGUMENT, "MaskedSoftmax: masked_rows must be uniform "
                        "or zero");
    return NA_OK;
}

static const na_field_desc masked_softmax_fields[] = {
    NA_FIELD_AS("across", masked_softmax_layer, axis, NA_FIELD_AXIS, NA_FIELD_AS_LIST),
    NA_FIELD_ENUM_AS("masked_rows", masked_softmax_layer, rows, row_policies, 0),
    NA_FIELD_AS("masked_out_value", masked_softmax_layer, value, NA_FIELD_FLOAT,
                NA_FIELD_NOPRINT),
};

const na_layer_type na_masked_softmax_type = {
    .name = "MaskedSoftmax",
    .call = masked_softmax_call,
    .size = sizeof(masked_softmax_layer),
    .fields = masked_softmax_fields,
    .field_count = NA_FIELD_COUNT(masked_softmax_fields),
    .finish = masked_softmax_finish,
};

na_status na_masked_softmax_new(const char *axis, na_masked_rows rows,
                                double masked_out_value, na_layer **out)
{
    const char *who = "na_masked_softmax_new";
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "%s: out is NULL", who);
    if (rows == NA_MASKED_ROWS_DEFAULT)
        rows = NA_MASKED_ROWS_UNIFORM;
    if (rows != NA_MASKED_ROWS_UNIFORM && rows != NA_MASKED_ROWS_ZERO)
        return na__fail(NA_ERR_ARGUMENT, "%s: unknown row policy %d", who, (int)rows);
    if (masked_out_value > 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: masked_out_value %g must be negative",
                        who, masked_out_value);
    const char *a = na_intern(axis && *axis ? axis : "kv_seq");
    if (!a)
        return na_last_status();
    na_layer *made = NULL;
    na_status st = na_layer_alloc(&na_masked_softmax_type, &made);
    if (st != NA_OK)
        return st;
    masked_softmax_layer *l = (masked_softmax_layer *)made;
    l->axis = a;
    l->rows = rows;
    l->value = masked_out_value != 0 ? masked_out_value : NA_MASKED_OUT_DEFAULT;
    *out = made;
    return NA_OK;
}
