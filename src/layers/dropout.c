/* Dropout: seeded masks, shareable along named axes, identity when off. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/std_internal.h"

typedef struct dropout_layer {
    na_layer base;
    double rate;          /* probability of dropping, in [0, 1)            */
    const char **shared;  /* mask broadcast along these axes               */
    uint64_t seed;
    uint64_t calls;       /* masks drawn so far (atomic; not a field: a    */
                          /* clone starts the stream afresh)               */
    bool enabled;
} dropout_layer;

static dropout_layer *as_dropout(const na_layer *l)
{
    return l && l->type == &na_dropout_type ? (dropout_layer *)l : NULL;
}

/* The mask's dims: x's dims without the shared axes. */
static int mask_dims(const dropout_layer *l, const na_array *x, na_dim *dims)
{
    int n = 0;
    for (int d = 0; d < x->ndim; d++)
        if (!x->name[d] || !na__std_names_has(l->shared, x->name[d]))
            dims[n++] = (na_dim){x->name[d], x->shape[d]};
    return n;
}

/* keep (x's dtype): 1 with probability 1 - rate, from call number k. */
static na_status draw_keep(dropout_layer *l, const na_array *x, na_array **keep)
{
    uint64_t k = __atomic_fetch_add(&l->calls, 1, __ATOMIC_RELAXED);
    char stream[40];
    snprintf(stream, sizeof stream, "dropout/%llu", (unsigned long long)k);
    na_dim dims[NA_MAX_DIMS];
    int n = mask_dims(l, x, dims);
    na_array *mask = NULL;
    na_status st = na_random_bernoulli(na_init_seed_for(l->seed, stream), n, dims,
                                       1.0 - l->rate, &mask);
    if (st == NA_OK)
        st = na_astype(mask, x->dtype == NA_F64 ? NA_F64 : NA_F32, keep);
    na_array_free(mask);
    return st;
}

/* x: any named shape -> same named shape */
static na_status dropout_call(na_layer *self, const na_value *in, const na_side *side,
                              na_value **out)
{
    dropout_layer *l = as_dropout(self);
    const na_array *x = NULL;
    bool deterministic = false;
    na_status st = na__std_input(in, "Dropout", false, &x);
    if (st == NA_OK)
        st = na_side_flag(side, NA_DETERMINISTIC_KEY, false, "Dropout", &deterministic);
    if (st != NA_OK)
        return st;
    if (!l->enabled || l->rate == 0.0 || deterministic) {
        *out = na_value_ref_array(x);
        return *out ? NA_OK : na_last_status();
    }
    /* As in Penzai, a shared axis the input lacks is simply not there to
     * share: the mask varies along every other axis of the input. */
    na_array *keep = NULL, *kept = NULL, *y = NULL;
    st = draw_keep(l, x, &keep);
    if (st == NA_OK)
        st = na_mul(x, keep, &kept);
    if (st == NA_OK)
        st = na_binary_scalar(NA_MUL, kept, 1.0 / (1.0 - l->rate), &y);
    na_array_free(keep);
    na_array_free(kept);
    return st == NA_OK ? na__std_output(y, out) : st;
}

static const na_field_desc dropout_fields[] = {
    NA_FIELD(dropout_layer, rate, NA_FIELD_FLOAT),
    NA_FIELD_AS("shared", dropout_layer, shared, NA_FIELD_NAMES, NA_FIELD_OMIT_DEFAULT),
    NA_FIELD(dropout_layer, seed, NA_FIELD_INT),
    NA_FIELD(dropout_layer, enabled, NA_FIELD_BOOL),
};

static na_status dropout_finish(na_layer *self)
{
    const dropout_layer *l = as_dropout(self);
    if (!(l->rate >= 0.0 && l->rate < 1.0))
        return na__fail(NA_ERR_ARGUMENT, "Dropout: rate must be in [0, 1) (got %g)",
                        l->rate);
    return NA_OK;
}

const na_layer_type na_dropout_type = {
    .name = "Dropout",
    .call = dropout_call,
    .size = sizeof(dropout_layer),
    .fields = dropout_fields,
    .field_count = NA_FIELD_COUNT(dropout_fields),
    .finish = dropout_finish,
};

na_status na_dropout_new(double rate, const char *const *shared, uint64_t seed,
                         na_layer **out)
{
    const char *who = "na_dropout_new";
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "%s: out is NULL", who);
    *out = NULL;
    if (!(rate >= 0.0 && rate < 1.0))
        return na__fail(NA_ERR_ARGUMENT, "%s: rate must be in [0, 1) (got %g)", who,
                        rate);
    const char **names = na__std_names_dup(shared, who);
    na_layer *made = NULL;
    na_status st = names ? na_layer_alloc(&na_dropout_type, &made) : na_last_status();
    if (st != NA_OK) {
        free(names);
        return st;
    }
    dropout_layer *l = as_dropout(made);
    l->rate = rate;
    l->shared = names;
    l->seed = seed;
    l->enabled = true;
    *out = &l->base;
    return NA_OK;
}

na_status na_dropout_set_enabled(na_layer *layer, bool enabled)
{
    dropout_layer *l = as_dropout(layer);
    if (!l)
        return na__fail(NA_ERR_ARGUMENT, "na_dropout_set_enabled: %s is not a Dropout",
                        layer ? na_layer_type_name(layer) : "NULL");
    l->enabled = enabled;
    return NA_OK;
}

na_status na_dropout_reset(na_layer *layer, uint64_t seed)
{
    dropout_layer *l = as_dropout(layer);
    if (!l)
        return na__fail(NA_ERR_ARGUMENT, "na_dropout_reset: %s is not a Dropout",
                        layer ? na_layer_type_name(layer) : "NULL");
    l->seed = seed;
    __atomic_store_n(&l->calls, 0, __ATOMIC_RELAXED);
    return NA_OK;
}
