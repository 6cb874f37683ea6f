/* html_view — write a model and its attention weights as one HTML page.
 *
 *   ids {batch:1, seq:10} (i32)
 *     -> EmbeddingLookup                      {batch, seq, embedding:32}
 *     -> Residual(block_0: RMSLayerNorm, causal 4-head attention)
 *     -> RMSLayerNorm -> EmbeddingDecode (tied table) {batch, seq, vocab:40}
 *
 * The softmax output inside the attention (its weights, {batch, heads, seq,
 * kv_seq}) is captured during the call (Penzai's save_intermediates) and
 * drawn as one seq x kv_seq heatmap per head above the tree.
 *
 *   ./html_view [out.html]        (default: model.html)
 *
 * Open the file in any browser; nothing else is needed.
 */
#include <stdio.h>

#include <namedarr/namedarr.h>
#include <namedarr/attention.h>
#include <namedarr/combinators.h>
#include <namedarr/layers.h>
#include <namedarr/masks.h>
#include <namedarr/print.h>
#include <namedarr/tree.h>

#include "example_util.h"

#define VOCAB 40
#define EMBED 32
#define HEADS 4
#define SEQ 10
#define SEED 7

#define CHECK(call) EXAMPLE_CHECK("html_view", call, goto done)

/* Combinators own their children even when they fail, so a NULL from any
 * step propagates into a failing na_sequential_new. */
static na_status build(na_layer **model)
{
    na_param *table = NULL;
    na_status st = na_embedding_table_new("embed", "vocab", VOCAB, 1,
                                          &(na_dim){"embedding", EMBED}, SEED, &table);
    if (st != NA_OK)
        return st;
    na_layer *lookup = NULL, *decode = NULL, *norm = NULL, *attn = NULL, *group = NULL,
             *block = NULL, *final_norm = NULL;
    na_embedding_lookup_new(table, "vocab", &lookup);
    na_embedding_decode_new(table, "vocab", &decode);
    na_param_release(table); /* the two layers hold it now: a shared parameter */
    na_rms_layer_norm_new("block_0/norm", 1, &(na_dim){"embedding", EMBED}, &norm);
    na_mha_options o = {.num_heads = HEADS, .in_features = EMBED, .causal = true,
                        .mask_tag = "", .name = "block_0/attention", .seed = SEED, .no_bias = true};
    na_mha_new(&o, &attn);
    na_named_group_new("block_0", NA_LAYERS(norm, attn), &group);
    na_residual_new(group, &block);
    na_rms_layer_norm_new("final_norm", 1, &(na_dim){"embedding", EMBED}, &final_norm);
    return na_sequential_new(NA_LAYERS(lookup, block, final_norm, decode), model);
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "model.html";
    int rc = 1;
    na_layer *model = NULL;
    na_array *ids = NULL, *pos = NULL, *kv_pos = NULL;
    na_side *side = na_side_new();
    na_capture *cap = NULL;
    na_selection *softmax = NULL;
    na_value *in = NULL, *out = NULL;
    if (!side)
        return 1;

    CHECK(build(&model));
    int32_t tokens[SEQ] = {3, 14, 15, 9, 26, 5, 35, 8, 9, 7};
    CHECK(na_from_data(NA_I32, NA_DIMS({"batch", 1}, {"seq", SEQ}), tokens, &ids));
    CHECK(na_arange("seq", SEQ, NA_I32, &pos));
    CHECK(na_arange("kv_seq", SEQ, NA_I32, &kv_pos));
    CHECK(na_side_set_array(side, NA_QUERY_POSITIONS_KEY, pos));
    CHECK(na_side_set_array(side, NA_KV_POSITIONS_KEY, kv_pos));

    /* Capture every Softmax output (the attention weights), named by path. */
    CHECK(na_capture_new(&cap));
    CHECK(na_select_type_name(&model, "Softmax", &softmax));
    CHECK(na_capture_add_selection(cap, softmax));
    in = na_value_ref_array(ids);
    if (!in)
        goto done;
    CHECK(na_call_capturing(model, in, side, cap, &out));

    const na_value *w = na_capture_value(cap, 0);
    if (!w || w->kind != NA_VALUE_ARRAY) {
        fprintf(stderr, "html_view: no attention weights were captured\n");
        goto done;
    }
    char shape[128];
    na_shape_str(w->array, shape, sizeof shape);
    na_html_array extra = {.label = "attention weights, block_0 (causal)",
                           .value = w->array, .rows = "seq", .cols = "kv_seq"};
    na_html_options o = {.title = "namedarr: a one-block causal language model",
                         .open_params = true, .n_arrays = 1, .arrays = &extra};
    CHECK(na_layer_save_html(model, &o, path));
    printf("attention weights %s\nwrote %s\n", shape, path);
    rc = 0;
done:
    na_selection_free(softmax);
    na_capture_free(cap);
    na_value_free(in);
    na_value_free(out);
    na_side_free(side);
    na_array_free(ids);
    na_array_free(pos);
    na_array_free(kv_pos);
    na_layer_free(model);
    return rc;
}
