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

#endif
