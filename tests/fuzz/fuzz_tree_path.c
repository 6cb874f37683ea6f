/* libFuzzer target: selecting by path ("block_0/attention/input_to_query",
 * "1/0", "") in a small model: na_tree_get, na_select_path and the paths a
 * selection reports; with the first byte odd, the selected site is also
 * removed and the edited model called once.
 * Input: one flag byte, then the path. */
#include "fuzz_common.h"

static na_layer *build_model(void)
{
    na_layer *attn = NULL, *up = NULL, *act = NULL, *down = NULL, *mlp = NULL;
    na_layer *res = NULL, *block = NULL, *model = NULL;
    na_mha_options o = {.num_heads = 2, .in_features = 4, .causal = true,
                        .name = "block_0/attention", .no_bias = true};
    na_status s = na_mha_new(&o, &attn);
    s = s ? s
          : na_linear_new("block_0/mlp/up", 1, &(na_dim){"embedding", 4}, 1,
                          &(na_dim){"hidden", 6}, 1, &up);
    s = s ? s : na_elementwise_new(NA_GELU, &act);
    s = s ? s
          : na_linear_new("block_0/mlp/down", 1, &(na_dim){"hidden", 6}, 1,
                          &(na_dim){"embedding", 4}, 2, &down);
    s = s ? s : na_named_group_new("mlp", NA_LAYERS(up, act, down), &mlp);
    s = s ? s : na_residual_new(mlp, &res);
    s = s ? s : na_named_group_new("block_0", NA_LAYERS(attn, res), &block);
    s = s ? s : na_sequential_new(NA_LAYERS(block), &model);
    if (s != NA_OK)
        abort();
    return model;
}

static void call_once(na_layer *model)
{
    na_array *x = NULL, *pos = NULL, *y = NULL;
    na_side *side = na_side_new();
    if (na_random_normal(5, NA_F32, NA_DIMS({"seq", 3}, {"embedding", 4}), 0, 1, &x) ||
        na_arange("seq", 3, NA_I32, &pos) || !side ||
        na_side_set_array(side, NA_QUERY_POSITIONS_KEY, pos))
        abort();
    fuzz_check_failure(na_layer_call_array(model, x, side, &y));
    na_array_free(y);
    na_array_free(x);
    na_array_free(pos);
    na_side_free(side);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    int edit = fuzz_byte(&in) & 1;
    char *path = fuzz_rest_string(&in);
    na_layer *model = build_model();
    na_layer *found = na_tree_get(model, path);
    fuzz_check_failure(found ? NA_OK : NA_ERR_NOT_FOUND);
    na_selection *sel = NULL;
    na_status s = na_select_path(&model, path, &sel);
    fuzz_check_failure(s);
    if (s == NA_OK) {
        if (na_selection_count(sel) != 1 || na_selection_layer(sel, 0) != found)
            abort(); /* select_path and tree_get must agree */
        const char *p = na_selection_path(sel, 0);
        if (!p || na_tree_get(model, p) != found)
            abort(); /* the reported path leads back to the layer */
        if (edit) {
            fuzz_check_failure(na_selection_remove(sel));
            call_once(model);
        }
        na_selection_free(sel);
    }
    na_layer_free(model);
    free(path);
    return 0;
}
