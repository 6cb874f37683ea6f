/* model_demo — a small language-model-shaped network from the standard
 * layers, run on a few token ids, then printed as a tree.
 *
 *   ids {batch:1, seq:6} (i32)
 *     -> EmbeddingLookup                 {embedding:16, batch, seq}
 *     -> 2 x Residual(pre-norm gated MLP):
 *          RMSLayerNorm over embedding
 *          gelu(x W_gate) * (x W_up)     {batch, seq, hidden:32}
 *          Linear down                   {batch, seq, embedding:16}
 *     -> RMSLayerNorm
 *     -> EmbeddingDecode (tied table)    {batch, seq, vocab:32}
 */
#include <stdio.h>
#include <stdlib.h>

#include <namedarr/namedarr.h>
#include <namedarr/combinators.h>
#include <namedarr/layers.h>
#include <namedarr/print.h>
#include <namedarr/tree.h>

#include "example_util.h"

#define VOCAB 32
#define EMBED 16
#define HIDDEN 32
#define SEED 2024

#define CHECK(call) EXAMPLE_CHECK("model_demo", call, return 1)

/* A Linear named "<block>/mlp/<what>" (NULL on failure, error recorded). */
static na_layer *linear(const char *block, const char *what, const char *in, int64_t n_in,
                        const char *out, int64_t n_out)
{
    char name[64];
    snprintf(name, sizeof name, "%s/mlp/%s", block, what);
    na_layer *l = NULL;
    na_linear_new(name, 1, &(na_dim){in, n_in}, 1, &(na_dim){out, n_out}, SEED, &l);
    return l;
}

/* Residual(NamedGroup(block: RMSLayerNorm, gelu(gate) * up, down)). The
 * combinators take ownership of their children even when they fail, so a
 * NULL from any step just propagates. */
static na_status block(const char *name, na_layer **out)
{
    char norm_name[64];
    snprintf(norm_name, sizeof norm_name, "%s/norm", name);
    na_layer *norm = NULL, *act = NULL, *gate = NULL, *gated = NULL, *mlp = NULL;
    na_rms_layer_norm_new(norm_name, 1, &(na_dim){"embedding", EMBED}, &norm);
    na_elementwise_new(NA_GELU, &act);
    na_sequential_new(NA_LAYERS(linear(name, "gate", "embedding", EMBED, "hidden", HIDDEN),
                                act), &gate);
    na_branch_mul_new(NA_LAYERS(gate, linear(name, "up", "embedding", EMBED, "hidden",
                                             HIDDEN)), &gated);
    na_named_group_new(name, NA_LAYERS(norm, gated,
                                       linear(name, "down", "hidden", HIDDEN, "embedding",
                                              EMBED)), &mlp);
    return na_residual_new(mlp, out);
}

static na_status build(na_layer **model)
{
    na_param *table = NULL;
    na_status st = na_embedding_table_new("embed", "vocab", VOCAB, 1,
                                          &(na_dim){"embedding", EMBED}, SEED, &table);
    if (st != NA_OK)
        return st;
    na_layer *lookup = NULL, *decode = NULL, *b0 = NULL, *b1 = NULL, *norm = NULL;
    na_embedding_lookup_new(table, "vocab", &lookup);
    na_embedding_decode_new(table, "vocab", &decode);
    na_param_release(table); /* the two layers hold it now */
    block("block_0", &b0);
    block("block_1", &b1);
    na_rms_layer_norm_new("final_norm", 1, &(na_dim){"embedding", EMBED}, &norm);
    return na_sequential_new(NA_LAYERS(lookup, b0, b1, norm, decode), model);
}

int main(void)
{
    na_layer *model = NULL;
    CHECK(build(&model));

    int32_t tokens[6] = {3, 14, 15, 9, 26, 5};
    na_array *ids = NULL, *logits = NULL;
    CHECK(na_from_data(NA_I32, NA_DIMS({"batch", 1}, {"seq", 6}), tokens, &ids));
    CHECK(na_layer_call_array(model, ids, NULL, &logits));

    char shape[128];
    na_shape_str(logits, shape, sizeof shape);
    printf("logits: %s\n", shape);
    for (int64_t s = 0; s < 2; s++) {
        printf("  seq %lld, vocab 0..4:", (long long)s);
        for (int64_t v = 0; v < 5; v++) {
            int64_t idx[3];
            idx[na_axis_index(logits, "batch")] = 0;
            idx[na_axis_index(logits, "seq")] = s;
            idx[na_axis_index(logits, "vocab")] = v;
            printf(" %+.4f", na_get(logits, idx));
        }
        printf("\n");
    }
    na_array *best = NULL;
    CHECK(na_argmax(logits, "vocab", &best));
    printf("argmax over vocab: ");
    CHECK(na_array_print(best, stdout));

    na_param_stats stats;
    CHECK(na_tree_param_stats(model, &stats));
    printf("%d parameters (%lld scalars), %d shared (the tied embedding table)\n\n",
           stats.params, (long long)stats.param_elements, stats.shared);
    CHECK(na_print_tree(model, stdout, NULL));

    na_array_free(best);
    na_array_free(ids);
    na_array_free(logits);
    na_layer_free(model);
    return 0;
}
