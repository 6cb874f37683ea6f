/* A program outside the namedarr tree, built against the installed copy:
 * the umbrella header, a named-array op, and a layer tree (an attention
 * block from the Flax-style builder) called and printed. */
#include <namedarr/namedarr.h>
#include <stdio.h>

static int fail(void)
{
    fprintf(stderr, "%s\n", na_last_error());
    return 1;
}

int main(void)
{
    na_array *a = NULL, *b = NULL, *c = NULL, *x = NULL, *y = NULL;
    if (na_ones(NA_F32, NA_DIMS({"foo", 2}, {"bar", 3}), &a) != NA_OK ||
        na_ones(NA_F32, NA_DIMS({"bar", 3}, {"foo", 2}), &b) != NA_OK ||
        na_add(a, b, &c) != NA_OK)
        return fail();
    na_array_print(c, stdout);
    int ok = ((float *)na_data(c))[0] == 2.0f;

    na_mha_options o = {.num_heads = 2, .in_features = 8, .seed = 1, .no_bias = true};
    na_layer *attn = NULL;
    if (na_mha_new(&o, &attn) != NA_OK)
        return fail();
    if (na_random_normal(3, NA_F32, NA_DIMS({"batch", 1}, {"seq", 3}, {"embedding", 8}),
                         0, 1, &x) != NA_OK ||
        na_layer_call_array(attn, x, NULL, &y) != NA_OK)
        return fail();
    na_print_tree(attn, stdout, NULL);
    ok = ok && y->ndim == 3;

    na_layer_free(attn);
    na_array_free(a);
    na_array_free(b);
    na_array_free(c);
    na_array_free(x);
    na_array_free(y);
    return ok ? 0 : 1;
}
