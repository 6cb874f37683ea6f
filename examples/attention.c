/* Multi-head attention two ways: by hand from the Attention combinator and
 * its standard sublayers, and through the Flax-style builder. Both trees
 * are printed, run with a padding mask given as a side input, checked
 * against each other (same weights), and the captured attention weights of
 * one head are printed. Exits 0 when every check holds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <namedarr/namedarr.h>
#include <namedarr/attention.h>
#include <namedarr/combinators.h>
#include <namedarr/layers.h>
#include <namedarr/print.h>
#include <namedarr/tree.h>

#include "example_util.h"

enum { BATCH = 2, SEQ = 5, EMBED = 16, HEADS = 4, HEAD_DIM = 4 };

#define CHECK(call) EXAMPLE_CHECK("attention example", call, return 1)

/* x {batch, seq, embedding} -> {batch, seq, heads, projection}, and for keys
 * and values seq renamed to kv_seq. */
static na_status projection(const char *label, bool rename, na_layer **out)
{
    na_layer *lin = NULL, *ren = NULL;
    na_status st =
        na_linear_new(label, NA_DIMS({"embedding", EMBED}),
                      NA_DIMS({"heads", HEADS}, {"projection", HEAD_DIM}), 42, &lin);
    if (st != NA_OK || !rename) {
        *out = lin;
        return st;
    }
    st = na_rename_axes_new(NA_NAMES("seq"), NA_NAMES("kv_seq"), &ren);
    if (st != NA_OK) {
        na_layer_free(lin);
        return st;
    }
    return na_sequential_new(NA_LAYERS(lin, ren), out);
}

/* The combinator with its five sublayers spelled out. */
static na_status build_by_hand(na_layer **out)
{
    na_layer *q = NULL, *k = NULL, *v = NULL, *qk = NULL, *comb = NULL, *o = NULL,
             *av = NULL;
    na_dot_product_options dp = {.mask_tag = "attn_mask"};
    if (projection("attention/query", false, &q) != NA_OK ||
        projection("attention/key", true, &k) != NA_OK ||
        projection("attention/value", true, &v) != NA_OK ||
        na_dot_product_attn_new(&dp, &qk) != NA_OK ||
        na_attention_combine_new("kv_seq", &comb) != NA_OK ||
        na_linear_new("attention/output",
                      NA_DIMS({"heads", HEADS}, {"projection", HEAD_DIM}),
                      NA_DIMS({"embedding", EMBED}), 42, &o) != NA_OK) {
        na_layer *all[] = {q, k, v, qk, comb, o};
        for (int i = 0; i < 6; i++)
            na_layer_free(all[i]);
        return na_last_status();
    }
    na_status st = na_sequential_new(NA_LAYERS(comb, o), &av);
    if (st != NA_OK) {
        na_layer *rest[] = {q, k, v, qk};
        for (int i = 0; i < 4; i++)
            na_layer_free(rest[i]);
        return st;
    }
    return na_attention_new(q, k, v, qk, av, out);
}

/* Copy every parameter of `from` into `to` by label. */
static na_status copy_weights(const na_layer *from, na_layer *to)
{
    na_param_list list = {0};
    na_status st = na_tree_params(from, &list);
    if (st != NA_OK)
        return st;
    na_labeled_array vals[16];
    int n = 0;
    for (int i = 0; i < list.count && n < 16; i++)
        vals[n++] = (na_labeled_array){list.items[i].param->label,
                                       list.items[i].param->value};
    st = na_tree_bind(to, n, vals, NA_BIND_STRICT);
    na_param_list_clear(&list);
    return st;
}

/* Padding: batch 0 has 5 real tokens, batch 1 has 3 (then 2 pad tokens). */
static na_status padding_mask(na_array **mask)
{
    bool valid[BATCH * SEQ] = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    na_array *v = NULL;
    na_status st = na_from_data(NA_BOOL, NA_DIMS({"batch", BATCH}, {"seq", SEQ}), valid, &v);
    if (st == NA_OK) /* {batch, seq, kv_seq}: query and key both real */
        st = na_make_attention_mask(v, v, na_pairwise_and, NULL, mask);
    na_array_free(v);
    return st;
}

static void print_head(const na_array *w, int batch, int head)
{
    printf("attention weights, batch %d, head %d (rows: queries, cols: keys)\n", batch,
           head);
    for (int64_t i = 0; i < SEQ; i++) {
        printf("  ");
        for (int64_t j = 0; j < SEQ; j++) {
            int64_t idx[NA_MAX_DIMS] = {0};
            idx[na_axis_index(w, "batch")] = batch;
            idx[na_axis_index(w, "heads")] = head;
            idx[na_axis_index(w, "seq")] = i;
            idx[na_axis_index(w, "kv_seq")] = j;
            printf(" %.4f", na_get(w, idx));
        }
        printf("\n");
    }
}

static int run(na_layer *hand, na_layer *built)
{
    printf("== by hand ==\n");
    CHECK(na_print_tree(hand, stdout, NULL));
    printf("\n== builder (na_mha_new) ==\n");
    CHECK(na_print_tree(built, stdout, NULL));
    CHECK(copy_weights(hand, built));

    na_array *x = NULL, *mask = NULL, *y1 = NULL, *y2 = NULL, *d = NULL, *m = NULL;
    CHECK(na_random_normal(7, NA_F32, NA_DIMS({"batch", BATCH}, {"seq", SEQ},
                                             {"embedding", EMBED}), 0, 1, &x));
    CHECK(padding_mask(&mask));
    na_side *side = na_side_new();
    CHECK(na_side_set_array(side, "attn_mask", mask));
    CHECK(na_layer_call_array(hand, x, side, &y1));
    CHECK(na_layer_call_array(built, x, side, &y2));
    CHECK(na_sub(y1, y2, &d));
    CHECK(na_unary(NA_ABS, d, &m));
    na_array *mx = NULL;
    CHECK(na_max(m, NA_NAMES("batch", "seq", "embedding"), &mx));
    double diff = na_get(mx, NULL);
    char shape[128];
    na_shape_str(y2, shape, sizeof shape);
    printf("\noutput %s; max |hand - builder| = %.3g\n\n", shape, diff);
    print_head(na_attention_weights(built), 1, 0);
    printf("(queries 3 and 4 are padding: every key is masked, so their weights are\n"
           " uniform, the Penzai/Flax policy; NA_MASKED_ROWS_ZERO gives zeros)\n");

    int bad = !(diff < 1e-5) || !na_attention_weights(built);
    na_array *arrs[] = {x, mask, y1, y2, d, m, mx};
    for (int i = 0; i < 7; i++)
        na_array_free(arrs[i]);
    na_side_free(side);
    return bad;
}

int main(void)
{
    na_layer *hand = NULL, *built = NULL;
    na_mha_options o = {.num_heads = HEADS, .in_features = EMBED,
                        .capture_weights = true, .seed = 1, .no_bias = true};
    CHECK(build_by_hand(&hand));
    CHECK(na_mha_new(&o, &built));
    int rc = run(hand, built);
    na_layer_free(hand);
    na_layer_free(built);
    if (rc)
        fprintf(stderr, "attention example: a check failed\n");
    return rc;
}
