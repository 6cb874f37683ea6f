/* Helpers for the model suites: read a model's parameters into the plain
 * buffers of ref_transformer.h, compare logits. Header-only (static). */
#ifndef MODEL_SUPPORT_H
#define MODEL_SUPPORT_H

#include <namedarr/tree.h>

#include "ref_transformer.h"
#include "support.h"

/* The parameter labelled `label` (borrowed from the tree), or NULL. */
static inline na_param *ms_param(na_layer *model, const char *label)
{
    na_param_list list = {0};
    NA_OK_OR_FAIL(na_tree_params(model, &list));
    na_param *found = NULL;
    for (int i = 0; i < list.count; i++)
        if (strcmp(list.items[i].param->label, label) == 0)
            found = list.items[i].param;
    na_param_list_clear(&list);
    return found;
}

/* A malloc'ed f32 copy of `label` with its axes in the order of the first
 * of `orders` (NULL-separated name lists, ending with an empty list) whose
 * names it has exactly; NULL when the label is absent and `optional`. */
static inline float *ms_take(na_layer *model, const char *label, bool optional,
                             const char *const *orders)
{
    na_param *p = ms_param(model, label);
    if (!p) {
        cr_assert(optional, "no parameter '%s'", label);
        return NULL;
    }
    const na_array *x = p->value;
    for (const char *const *o = orders; *o; ) {
        int n = 0;
        while (o[n])
            n++;
        bool ok = n == x->ndim;
        for (int i = 0; ok && i < n; i++)
            ok = na_axis_index(x, o[i]) >= 0;
        if (ok) {
            na_array *v = NULL;
            NA_OK_OR_FAIL(na_order_as(x, o, &v));
            float *buf = malloc((size_t)na_size(v) * sizeof(float));
            NA_OK_OR_FAIL(na_copy_to(v, NA_F32, buf));
            na_array_free(v);
            return buf;
        }
        o += n + 1;
    }
    cr_assert_fail("parameter '%s' has unexpected axes", label);
    return NULL;
}

#define MS_ORDERS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* The attention weights of one block under `prefix` ("block_0/attention"). */
static inline void ms_take_attention(na_layer *model, const char *prefix, ref_block *b)
{
    char l[256];
    const char *const *q_orders = MS_ORDERS("embedding", "heads", "projection", NULL,
                                            "embedding", "kv_heads", "query_heads",
                                            "projection", NULL);
    const char *const *kv_orders = MS_ORDERS("embedding", "heads", "projection", NULL,
                                             "embedding", "kv_heads", "projection", NULL);
    const char *const *o_orders = MS_ORDERS("heads", "projection", "embedding", NULL,
                                            "kv_heads", "query_heads", "projection",
                                            "embedding", NULL);
    const char *const *qb_orders = MS_ORDERS("heads", "projection", NULL, "kv_heads",
                                             "query_heads", "projection", NULL);
    const char *const *kb_orders = MS_ORDERS("heads", "projection", NULL, "kv_heads",
                                             "projection", NULL);
    snprintf(l, sizeof l, "%s/query.weights", prefix);
    b->q = ms_take(model, l, false, q_orders);
    snprintf(l, sizeof l, "%s/key.weights", prefix);
    b->k = ms_take(model, l, false, kv_orders);
    snprintf(l, sizeof l, "%s/value.weights", prefix);
    b->v = ms_take(model, l, false, kv_orders);
    snprintf(l, sizeof l, "%s/output.weights", prefix);
    b->o = ms_take(model, l, false, o_orders);
    snprintf(l, sizeof l, "%s/query.bias", prefix);
    b->qb = ms_take(model, l, true, qb_orders);
    snprintf(l, sizeof l, "%s/key.bias", prefix);
    b->kb = ms_take(model, l, true, kb_orders);
    snprintf(l, sizeof l, "%s/value.bias", prefix);
    b->vb = ms_take(model, l, true, kb_orders);
    snprintf(l, sizeof l, "%s/output.bias", prefix);
    b->ob = ms_take(model, l, true, MS_ORDERS("embedding", NULL));
}

static inline void ms_free_block(ref_block *b)
{
    float *all[] = {b->ln1, b->ln1_b, b->q, b->k, b->v, b->o, b->qb, b->kb,
                    b->vb, b->ob, b->post_attn, b->ln2, b->ln2_b, b->gate, b->up,
                    b->down, b->gate_b, b->up_b, b->down_b, b->post_mlp, b->q_norm,
                    b->k_norm};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
    memset(b, 0, sizeof *b);
}

/* An i32 array {batch:B, seq:S} from data. */
static inline na_array *ms_i32(int B, int S, const int *data)
{
    na_array *x = NULL;
    int32_t *tmp = malloc((size_t)B * S * sizeof(int32_t));
    for (int i = 0; i < B * S; i++)
        tmp[i] = data[i];
    NA_OK_OR_FAIL(na_from_data(NA_I32, NA_DIMS({"batch", B}, {"seq", S}), tmp, &x));
    free(tmp);
    return x;
}

static inline float *ms_take_opt(na_layer *m, const char *fmt, int i, const char *const *o)
{
    char l[256];
    snprintf(l, sizeof l, fmt, i);
    return ms_take(m, l, true, o);
}

/* Every weight of a model from models.h into ref_weights (for `c`). */
static inline void ms_take_model(na_layer *m, const ref_cfg *c, ref_weights *w)
{
    const char *const *e = MS_ORDERS("embedding", NULL);
    const char *const *p = MS_ORDERS("projection", NULL);
    const char *const *eh = MS_ORDERS("embedding", "hidden", NULL);
    const char *const *he = MS_ORDERS("hidden", "embedding", NULL);
    const char *const *h = MS_ORDERS("hidden", NULL);
    memset(w, 0, sizeof *w);
    w->embed = ms_take(m, "embed.embeddings", false, MS_ORDERS("vocab", "embedding", NULL));
    w->pos = ms_take(m, "position_embed.embeddings", true,
                     MS_ORDERS("position", "embedding", NULL));
    w->final_norm = ms_take(m, "final_norm.scale", false, e);
    w->final_b = ms_take(m, "final_norm.bias", true, e);
    w->head = ms_take(m, "lm_head.weights", true, MS_ORDERS("embedding", "vocab", NULL));
    w->b = calloc((size_t)c->layers, sizeof *w->b);
    for (int i = 0; i < c->layers; i++) {
        ref_block *b = &w->b[i];
        char prefix[64];
        snprintf(prefix, sizeof prefix, "block_%d/attention", i);
        ms_take_attention(m, prefix, b);
        b->ln1 = ms_take_opt(m, "block_%d/pre_attention_norm.scale", i, e);
        b->ln1_b = ms_take_opt(m, "block_%d/pre_attention_norm.bias", i, e);
        b->post_attn = ms_take_opt(m, "block_%d/post_attention_norm.scale", i, e);
        b->ln2 = ms_take_opt(m, "block_%d/pre_mlp_norm.scale", i, e);
        b->ln2_b = ms_take_opt(m, "block_%d/pre_mlp_norm.bias", i, e);
        b->post_mlp = ms_take_opt(m, "block_%d/post_mlp_norm.scale", i, e);
        b->gate = ms_take_opt(m, "block_%d/mlp/gate.weights", i, eh);
        b->up = ms_take_opt(m, "block_%d/mlp/up.weights", i, eh);
        b->down = ms_take_opt(m, "block_%d/mlp/down.weights", i, he);
        b->gate_b = ms_take_opt(m, "block_%d/mlp/gate.bias", i, h);
        b->up_b = ms_take_opt(m, "block_%d/mlp/up.bias", i, h);
        b->down_b = ms_take_opt(m, "block_%d/mlp/down.bias", i, e);
        b->q_norm = ms_take_opt(m, "block_%d/attention/query_norm.scale", i, p);
        b->k_norm = ms_take_opt(m, "block_%d/attention/key_norm.scale", i, p);
    }
}

static inline void ms_free_model(const ref_cfg *c, ref_weights *w)
{
    for (int i = 0; i < c->layers; i++)
        ms_free_block(&w->b[i]);
    free(w->b), free(w->embed), free(w->pos), free(w->final_norm), free(w->final_b);
    free(w->head);
}

/* Replace every parameter of `m` by seeded normal values times `scale`
 * (norm scales become 1 + noise, so nothing is left at its init). */
static inline void ms_randomize(na_layer *m, uint64_t seed, double scale)
{
    na_param_list list = {0};
    NA_OK_OR_FAIL(na_tree_params(m, &list));
    for (int i = 0; i < list.count; i++) {
        na_param *p = list.items[i].param;
        if (p->kind != NA_PARAM)
            continue;
        na_dim dims[NA_MAX_DIMS];
        for (int d = 0; d < p->value->ndim; d++)
            dims[d] = (na_dim){p->value->name[d], p->value->shape[d]};
        bool is_scale = strstr(p->label, ".scale") != NULL;
        na_array *x = NULL;
        NA_OK_OR_FAIL(na_random_normal(seed + (uint64_t)i, NA_F32, p->value->ndim, dims,
                                       is_scale ? 1.0 : 0.0, is_scale ? 0.1 : scale, &x));
        na_param_set_value(p, x);
    }
    na_param_list_clear(&list);
}

/* Logits {batch, seq, vocab} -> malloc'ed [B][S][V] floats. */
static inline float *ms_logits(const na_array *y)
{
    na_array *o = NULL;
    NA_OK_OR_FAIL(na_order_as(y, NA_NAMES("batch", "seq", "vocab"), &o));
    float *buf = malloc((size_t)na_size(o) * sizeof(float));
    NA_OK_OR_FAIL(na_copy_to(o, NA_F32, buf));
    na_array_free(o);
    return buf;
}

#endif
