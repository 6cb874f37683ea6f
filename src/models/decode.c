/* The caching form of a model: every Attention becomes a
 * KVCachingAttention, and the root is wrapped in KVCachePositions, which
 * hands the positions of the new tokens (each row after its last cached
 * position) to the whole model when the caller gives none — so GPT-2's
 * learned positions and every cache agree, and a decode step needs only
 * the new token ids. */
#include <stdlib.h>

#include "models/models_internal.h"
#include "namedarr/masks.h"
#include "namedarr/tree.h"

typedef struct cache_positions_layer {
    na_layer base;
    na_layer *model;
} cache_positions_layer;

#define WHO "KVCachePositions"

static na_status first_cache(na_layer *layer, const char *path, int depth, void *ctx)
{
    NA__UNUSED(path);
    NA__UNUSED(depth);
    na_layer **found = ctx;
    if (!*found && na_layer_is(layer, &na_kv_cache_attention_type))
        *found = layer;
    return NA_OK;
}

static na_status cache_positions_call(na_layer *self, const na_value *in,
                                      const na_side *side, na_value **out)
{
    cache_positions_layer *l = (cache_positions_layer *)self;
    na_layer *cache = NULL;
    const na_array *ids = in && in->kind == NA_VALUE_ARRAY ? in->array : NULL;
    if (na_side_get(side, NA_QUERY_POSITIONS_KEY) || !ids ||
        na_axis_index(ids, "seq") < 0)
        return na_layer_call(l->model, in, side, out);
    na_status st = na_tree_walk(l->model, first_cache, &cache);
    if (st != NA_OK || !cache)
        return st != NA_OK ? st : na_layer_call(l->model, in, side, out);
    na_array *pos = NULL;
    na_side *s = NULL;
    st = na_kv_cache_next_positions(cache, na_axis_size(ids, "seq"), &pos);
    if (st == NA_OK && !(s = na_side_clone(side)))
        st = na_last_status();
    if (st == NA_OK)
        st = na_side_set_array(s, NA_QUERY_POSITIONS_KEY, pos);
    if (st == NA_OK)
        st = na_layer_call(l->model, in, s, out);
    na_side_free(s);
    na_array_free(pos);
    return st;
}

static const na_field_desc cache_positions_fields[] = {
    NA_FIELD(cache_positions_layer, model, NA_FIELD_CHILD),
};

const na_layer_type na__cache_positions_type = {
    .name = "KVCachePositions",
    .call = cache_positions_call,
    .size = sizeof(cache_positions_layer),
    .fields = cache_positions_fields,
    .field_count = NA_FIELD_COUNT(cache_positions_fields),
};

static na_status to_kv_cache(const char *who, na_layer **model, const na_kv_cache_options *opt)
{
    if (!model || !*model || !opt)
        return na__fail(NA_ERR_ARGUMENT, "%s: %s is NULL", who,
                        !model || !*model ? "model" : "opt");
    if (opt->capacity <= 0 || opt->batch_size <= 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: capacity > 0 (got %lld) and batch_size > 0 "
                        "(got %lld) are required", who, (long long)opt->capacity,
                        (long long)opt->batch_size);
    na_layer *wrap = NULL;
    na_status st = na_layer_alloc(&na__cache_positions_type, &wrap);
    if (st != NA_OK)
        return st;
    int n = 0;
    st = na_attention_to_kv_cache(model, opt, &n);
    if (st == NA_OK && n == 0)
        st = na__fail(NA_ERR_ARGUMENT, "%s: the model (%s) has no Attention layer", who,
                      na_layer_type_name(*model));
    if (st != NA_OK) {
        na_layer_free(wrap);
        return st;
    }
    ((cache_positions_layer *)wrap)->model = *model;
    *model = wrap;
    return NA_OK;
}

na_status na_model_to_kv_cache(na_layer **model, int64_t capacity, int64_t batch_size)
{
    na_kv_cache_options o = {.capacity = capacity, .batch_size = batch_size};
    return to_kv_cache("na_model_to_kv_cache", model, &o);
}

na_status na_model_to_kv_cache_ex(na_layer **model, const na_kv_cache_options *opt)
{
    return to_kv_cache("na_model_to_kv_cache_ex", model, opt);
}
