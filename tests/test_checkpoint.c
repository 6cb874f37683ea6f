/* Checkpoint layouts: na_unflatten and the Llama / GPT-2 loaders on small
 * synthetic checkpoints whose values encode their own coordinates. */
#include "support.h"

#include <unistd.h>

#include <namedarr/checkpoint.h>

static char g_path[64];
static void make_path(void)
{
    snprintf(g_path, sizeof g_path, "/tmp/na_ckpt_test_%d.safetensors", (int)getpid());
}
static void cleanup(void) { unlink(g_path); }
TestSuite(checkpoint, .init = make_path, .fini = cleanup);

/* A positional [rows, cols] f32 matrix with value rows_scale*r + c. */
static na_array *coded(int64_t rows, int64_t cols, double row_scale)
{
    na_array *x = NULL;
    NA_OK_OR_FAIL(na_empty(NA_F32, NA_DIMS({NULL, rows}, {NULL, cols}), &x));
    float *p = na_data(x);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            p[r * cols + c] = (float)(row_scale * (double)r + (double)c);
    return x;
}

static double at4(const na_array *x, const char *a, int64_t i, const char *b, int64_t j,
                  const char *c, int64_t k, const char *d, int64_t l)
{
    return ts_at(x, 4, (const char *[]){a, b, c, d}, (int64_t[]){i, j, k, l});
}

static double at3(const na_array *x, const char *a, int64_t i, const char *b, int64_t j,
                  const char *c, int64_t k)
{
    return ts_at(x, 3, (const char *[]){a, b, c}, (int64_t[]){i, j, k});
}

Test(checkpoint, unflatten_splits_row_major_as_a_view)
{
    na_array *w = coded(12, 5, 100), *named = NULL;
    NA_OK_OR_FAIL(na_unflatten(w, "(heads:4 projection), embedding", &named));
    char buf[128];
    na_shape_str(named, buf, sizeof buf);
    cr_assert_str_eq(buf, "f32[heads:4, projection:3, embedding:5]");
    cr_assert_eq(na_data(named), na_data(w), "na_unflatten copied");
    /* row = head * 3 + projection */
    cr_assert_eq(at3(named, "heads", 2, "projection", 1, "embedding", 4), 704.0);
    na_array_free(w);
    na_array_free(named);
}

Test(checkpoint, unflatten_errors_name_the_problem)
{
    na_array *w = coded(12, 5, 100), *named = NULL;
    NA_EXPECT_FAIL(na_unflatten(w, "(heads:5 projection), embedding", &named),
                   NA_ERR_SHAPE, "na_unflatten", "size 12", "heads");
    NA_EXPECT_FAIL(na_unflatten(w, "(heads projection), embedding", &named),
                   NA_ERR_ARGUMENT, "only one size");
    NA_EXPECT_FAIL(na_unflatten(w, "embedding", &named), NA_ERR_SHAPE, "1 groups",
                   "2 positional");
    NA_EXPECT_FAIL(na_unflatten(w, "(a:3 a:4), b", &named), NA_ERR_AXIS, "'a' appears twice");
    NA_EXPECT_FAIL(na_unflatten(w, "(a:3 b:4, c", &named), NA_ERR_ARGUMENT, "na_unflatten");
    cr_assert_null(named);
    na_array_free(w);
}

Test(checkpoint, llama_grouped_query_layout)
{
    /* Hq = 4, Hkv = 2, head_dim 3, hidden 5. */
    na_array *q = coded(12, 5, 100), *k = coded(6, 5, 100), *v = coded(6, 5, 10);
    na_array *o = coded(5, 12, 1000);
    const char *labels[] = {"l0.attn.q_proj.weight", "l0.attn.k_proj.weight",
                            "l0.attn.v_proj.weight", "l0.attn.o_proj.weight"};
    const na_array *arrays[] = {q, k, v, o};
    NA_OK_OR_FAIL(na_safetensors_write(g_path, 4, labels, arrays));
    na_safetensors *st = NULL;
    NA_OK_OR_FAIL(na_safetensors_open(g_path, &st));
    na_attention_params w;
    NA_OK_OR_FAIL(na_load_llama_attention(st, "l0.attn", 4, 2, &w));
    char buf[160];
    na_shape_str(w.query, buf, sizeof buf);
    cr_assert_str_eq(buf, "f32[kv_heads:2, query_heads:2, projection:3, embedding:5]");
    /* Query head h = kv_head * 2 + query_head sits in rows h*3 .. h*3+2. */
    cr_assert_eq(at4(w.query, "kv_heads", 1, "query_heads", 0, "projection", 2,
                     "embedding", 4), 804.0);
    na_shape_str(w.key, buf, sizeof buf);
    cr_assert_str_eq(buf, "f32[kv_heads:2, projection:3, embedding:5]");
    cr_assert_eq(at3(w.key, "kv_heads", 1, "projection", 1, "embedding", 0), 400.0);
    cr_assert_eq(at3(w.value, "kv_heads", 0, "projection", 2, "embedding", 3), 23.0);
    cr_assert_eq(at4(w.output, "embedding", 2, "kv_heads", 1, "query_heads", 1,
                     "projection", 0), 2009.0);
    cr_assert_null(w.query_bias);
    na_attention_params_free(&w);

    /* The same file read as plain multi-head attention fails: k_proj has
     * 6 rows, not 4 heads of 3. */
    NA_EXPECT_FAIL(na_load_llama_attention(st, "l0.attn", 4, 4, &w), NA_ERR_SHAPE,
                   "k_proj.weight");
    NA_EXPECT_FAIL(na_load_llama_attention(st, "l0.attn", 4, 3, &w), NA_ERR_ARGUMENT,
                   "must divide");
    NA_EXPECT_FAIL(na_load_llama_attention(st, "l9.attn", 4, 2, &w), NA_ERR_NOT_FOUND,
                   "l9.attn.q_proj.weight");
    na_safetensors_close(st);
    na_array *all[] = {q, k, v, o};
    for (int i = 0; i < 4; i++)
        na_array_free(all[i]);
}

Test(checkpoint, gpt2_packed_qkv_layout)
{
    /* hidden 4, 2 heads of 2: c_attn [4, 12] = [q | k | v]. */
    na_array *w = coded(4, 12, 100), *proj = coded(4, 4, 10), *bias = NULL, *pbias = NULL;
    NA_OK_OR_FAIL(na_arange(NULL, 12, NA_F32, &bias));
    NA_OK_OR_FAIL(na_arange(NULL, 4, NA_F32, &pbias));
    const char *labels[] = {"h.0.attn.c_attn.weight", "h.0.attn.c_attn.bias",
                            "h.0.attn.c_proj.weight", "h.0.attn.c_proj.bias"};
    const na_array *arrays[] = {w, bias, proj, pbias};
    NA_OK_OR_FAIL(na_safetensors_write(g_path, 4, labels, arrays));
    na_safetensors *st = NULL;
    NA_OK_OR_FAIL(na_safetensors_open(g_path, &st));
    na_attention_params aw;
    NA_OK_OR_FAIL(na_load_gpt2_attention(st, "h.0.attn", 2, &aw));
    char buf[128];
    na_shape_str(aw.value, buf, sizeof buf);
    cr_assert_str_eq(buf, "f32[embedding:4, heads:2, projection:2]");
    /* value column = 2*4 + head*2 + p */
    cr_assert_eq(at3(aw.value, "embedding", 3, "heads", 1, "projection", 0), 310.0);
    cr_assert_eq(at3(aw.query, "embedding", 1, "heads", 0, "projection", 1), 101.0);
    cr_assert_eq(ts_at(aw.key_bias, 2, (const char *[]){"heads", "projection"},
                       (int64_t[]){0, 1}), 5.0);
    /* c_proj rows are (head, projection) inputs. */
    cr_assert_eq(at3(aw.output, "heads", 1, "projection", 0, "embedding", 3), 23.0);
    cr_assert_eq(ts_at(aw.output_bias, 1, (const char *[]){"embedding"}, (int64_t[]){2}), 2.0);
    na_attention_params_free(&aw);
    NA_EXPECT_FAIL(na_load_gpt2_attention(st, "h.0.attn", 5, &aw), NA_ERR_SHAPE,
                   "c_attn.weight");
    na_safetensors_close(st);
    na_array *all[] = {w, proj, bias, pbias};
    for (int i = 0; i < 4; i++)
        na_array_free(all[i]);
}
