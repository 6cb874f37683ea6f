/* Turning Attention layers into KVCachingAttention (kv_cache.c), and
 * moving every cache of a tree at once (reset, rewind). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention_internal.h"
#include "namedarr/tree.h"

static na_status find_causal(na_layer *layer, const char *path, int depth, void *ctx)
{
    NA__UNUSED(path);
    NA__UNUSED(depth);
    if (na_layer_is(layer, &na_apply_causal_mask_type))
        *(bool *)ctx = true;
    return NA_OK;
}

/* Where to insert an ApplyCausalMask in query_key_to_attn: -1 if it has
 * one already; else the index of its softmax (error if none). */
static na_status causal_slot(na_layer *qk, int *slot)
{
    bool has = false;
    na_status st = na_tree_walk(qk, find_causal, &has);
    if (st != NA_OK || has) {
        *slot = -1;
        return st;
    }
    for (int i = 0; na_is_sequential(qk) && i < na_layer_child_count(qk); i++) {
        na_layer *c = na_layer_child(qk, i);
        if (na_layer_is(c, &na_softmax_layer_type) || na_layer_is(c, &na_masked_softmax_type)) {
            *slot = i;
            return NA_OK;
        }
    }
    return na__fail(NA_ERR_UNSUPPORTED, "na_kv_cache_from_attention: query_key_to_attn "
                    "(%s) has no ApplyCausalMask and is not a Sequential with a "
                    "Softmax to put one before; the cache needs a position mask",
                    na_layer_type_name(qk));
}

static na_status check_attention(const na_layer *attention, const na_kv_cache_options *opt,
                                 int *slot)
{
    const char *who = "na_kv_cache_from_attention";
    if (!attention || attention->type != &na_attention_type)
        return na__fail(NA_ERR_ARGUMENT, "%s: layer is a %s, not an Attention", who,
                        attention ? na_layer_type_name(attention) : "NULL");
    if (!opt || opt->capacity <= 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: capacity must be > 0", who);
    return causal_slot(na__attn_core_of(attention)->sub[NA__ATTN_QK], slot);
}

static na_status insert_causal(na_layer *qk, int slot, const na_kv_cache_options *opt)
{
    na_causal_mask_options co = {.query_positions_key = opt->query_positions_key,
                                 .kv_positions_key = opt->kv_positions_key};
    na_layer *m = NULL;
    na_status st = na_apply_causal_mask_new(&co, &m);
    return st == NA_OK ? na_sequential_insert(qk, slot, m) : st;
}

na_status na_kv_cache_from_attention(na_layer *attention, const na_kv_cache_options *opt,
                                     na_layer **out)
{
    int slot = -1;
    na_status st = out ? check_attention(attention, opt, &slot)
                       : na__fail(NA_ERR_ARGUMENT, "na_kv_cache_from_attention: out "
                                  "is NULL");
    na__attn_core *c = st == NA_OK ? na__attn_core_of(attention) : NULL;
    if (st == NA_OK && slot >= 0)
        st = insert_causal(c->sub[NA__ATTN_QK], slot, opt);
    if (st != NA_OK) {
        na_layer_free(attention);
        return st;
    }
    na_layer *sub[NA__ATTN_N];
    memcpy(sub, c->sub, sizeof sub);
    memset(c->sub, 0, sizeof c->sub);
    bool keep = c->keep_weights, ret = c->return_weights;
    na_layer_free(attention);
    st = na__kv_cache_new(sub, opt, out);
    if (st == NA_OK) {
        na__attn_core_of(*out)->keep_weights = keep;
        na__attn_core_of(*out)->return_weights = ret;
    }
    return st;
}

typedef struct convert_ctx {
    const na_kv_cache_options *opt;
} convert_ctx;

static na_status convert_one(na_layer *old, const char *path, void *ctx, na_layer **out)
{
    const convert_ctx *cc = ctx;
    int slot;
    na_status st = check_attention(old, cc->opt, &slot);
    if (st != NA_OK) {
        *out = old; /* still ours: hand it back */
        return st;
    }
    na_kv_cache_options o = *cc->opt;
    if (path && *path)
        o.label = path;
    return na_kv_cache_from_attention(old, &o, out);
}

na_status na_attention_to_kv_cache(na_layer **root, const na_kv_cache_options *opt,
                                   int *out)
{
    if (!root || !*root || !opt)
        return na__fail(NA_ERR_ARGUMENT, "na_attention_to_kv_cache: NULL argument");
    na_selection *sel = NULL;
    na_status st = na_select_type(root, &na_attention_type, &sel);
    if (st != NA_OK)
        return st;
    convert_ctx cc = {opt};
    st = na_selection_wrap_all(sel, convert_one, &cc);
    if (out)
        *out = st == NA_OK ? na_selection_count(sel) : 0;
    na_selection_free(sel);
    return st;
}

/* ---- every cache of a tree -------------------------------------------------------- */

typedef struct place_ctx {
    int64_t length;   /* < 0: reset */
    int count;
} place_ctx;

static na_status move_one(na_layer *layer, const char *path, int depth, void *ctx)
{
    NA__UNUSED(path);
    NA__UNUSED(depth);
    place_ctx *pc = ctx;
    if (!na_layer_is(layer, &na_kv_cache_attention_type))
        return NA_OK;
    pc->count++;
    return pc->length < 0 ? na_kv_cache_reset(layer) : na_kv_cache_rewind(layer, pc->length);
}

/* Check first (every cache holds at least `length` tokens), then move. */
static na_status check_one(na_layer *layer, const char *path, int depth, void *ctx)
{
    NA__UNUSED(depth);
    const place_ctx *pc = ctx;
    if (na_layer_is(layer, &na_kv_cache_attention_type) &&
        na_kv_cache_length(layer) < pc->length)
        return na__fail(NA_ERR_ARGUMENT, "na_tree_kv_cache_rewind: length %lld exceeds "
                        "the %lld cached token(s) of the cache at '%s'",
                        (long long)pc->length, (long long)na_kv_cache_length(layer), path);
    return NA_OK;
}

na_status na_tree_kv_cache_reset(na_layer *root, int *out)
{
    place_ctx pc = {-1, 0};
    if (!root)
        return na__fail(NA_ERR_ARGUMENT, "na_tree_kv_cache_reset: root is NULL");
    na_status st = na_tree_walk(root, move_one, &pc);
    if (out)
        *out = pc.count;
    return st;
}

na_status na_tree_kv_cache_rewind(na_layer *root, int64_t length, int *out)
{
    place_ctx pc = {length, 0};
    if (!root || length < 0)
        return na__fail(NA_ERR_ARGUMENT, "na_tree_kv_cache_rewind: %s", !root
                        ? "root is NULL" : "length must be >= 0");
    na_status st = na_tree_walk(root, check_one, &pc);
    if (st == NA_OK)
        st = na_tree_walk(root, move_one, &pc);
    if (out)
        *out = pc.count;
    return st;
}
