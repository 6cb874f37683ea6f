/* AddLearnedPositions: GPT-2's learned position embeddings added to the
 * token embeddings. x {batch, seq, embedding} -> x + table[positions],
 * positions from side "token_positions" ({batch, seq} or {seq}; a negative
 * position — left padding — reads row 0) or arange(seq). */
#include <stdlib.h>

#include "models/models_internal.h"
#include "namedarr/masks.h"

typedef struct positions_layer {
    na_layer base;
    na_param *table;   /* {position, embedding}                           */
} positions_layer;

#define WHO "AddLearnedPositions"

/* Positions clamped to [0, ...) and checked against the table (i32). */
static na_status positions_of(const positions_layer *l, const na_array *x,
                              const na_side *side, na_array **out)
{
    int64_t n = na_axis_size(x, "seq"), rows = na_axis_size(l->table->value, "position");
    if (n < 0)
        return na__fail(NA_ERR_AXIS, WHO ": input %s has no 'seq' axis", na__shape(x));
    const na_value *v = na_side_get(side, NA_QUERY_POSITIONS_KEY);
    na_array *p = NULL;
    na_status st;
    if (!v)
        st = na_arange("seq", n, NA_I32, &p);
    else if (v->kind != NA_VALUE_ARRAY || na_axis_size(v->array, "seq") != n)
        return na__fail(NA_ERR_SHAPE, WHO ": positions '%s' must be an array with 'seq' "
                        "of size %lld (the input %s)", NA_QUERY_POSITIONS_KEY,
                        (long long)n, na__shape(x));
    else
        st = na_astype(v->array, NA_I32, &p);
    if (st != NA_OK)
        return st;
    int32_t *d = na_data(p); /* astype/arange give a fresh contiguous array */
    for (int64_t i = 0; i < na_size(p); i++) {
        d[i] = d[i] < 0 ? 0 : d[i];
        if (d[i] >= rows) {
            int bad = (int)d[i];
            na_array_free(p);
            return na__fail(NA_ERR_SHAPE, WHO ": position %d is past the %lld learned "
                            "positions ('%s')", bad, (long long)rows, l->table->label);
        }
    }
    *out = p;
    return NA_OK;
}

static na_status positions_call(na_layer *self, const na_value *in, const na_side *side,
                                na_value **out)
{
    positions_layer *l = (positions_layer *)self;
    const na_array *x = na_value_array(in, WHO);
    if (!x)
        return na_last_status();
    na_array *p = NULL, *rows = NULL, *y = NULL;
    na_status st = positions_of(l, x, side, &p);
    if (st == NA_OK)
        st = na_index_by(l->table->value, 1, (na_index[]){NA_GATHER("position", p)}, &rows);
    if (st == NA_OK)
        st = na_add(x, rows, &y);
    na_array_free(p);
    na_array_free(rows);
    if (st != NA_OK)
        return st;
    *out = na_value_from_array(y);
    return *out ? NA_OK : na_last_status();
}

static const na_field_desc positions_fields[] = {
    NA_FIELD(positions_layer, table, NA_FIELD_PARAM),
};

const na_layer_type na__learned_positions_type = {
    .name = "AddLearnedPositions",
    .call = positions_call,
    .size = sizeof(positions_layer),
    .fields = positions_fields,
    .field_count = NA_FIELD_COUNT(positions_fields),
};

na_status na__learned_positions_new(na_param *table, na_layer **out)
{
    if (!table || na_axis_index(table->value, "position") < 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: the table needs a 'position' axis", WHO);
    na_layer *l = NULL;
    na_status st = na_layer_alloc(&na__learned_positions_type, &l);
    if (st != NA_OK)
        return st;
    ((positions_layer *)l)->table = na_param_retain(table);
    *out = l;
    return NA_OK;
}
