/* Tensor- and data-parallel models: a Llama-like model (grouped-query
 * and multi-head, tied and untied head) sharded with the default mapping
 * gives the single-process logits, through full calls and through the
 * KV cache; the tree says what each process holds. Run with mpirun -np
 * 1, 2 or 4 ({model:n}, and {data:2, model:2} for 4; {data:2} too). */
#include "dist_check.h"
#include "namedarr/models.h"
#include "namedarr/print.h"
#include "namedarr/safetensors.h"
#include "namedarr/tree.h"

static int world;
static int query_heads = 4;   /* num_attention_heads of small_llama */

static na_llama_config small_llama(int kv_heads, bool tie)
{
    na_llama_config c;
    na_llama_config_init(&c);
    c.vocab_size = 64, c.hidden_size = 32, c.intermediate_size = 48;
    c.num_hidden_layers = 2, c.num_attention_heads = query_heads, c.num_key_value_heads = kv_heads;
    c.head_dim = 8, c.tie_word_embeddings = tie, c.max_position_embeddings = 64;
    return c;
}

static na_array *token_ids(int64_t batch, int64_t seq, uint64_t seed)
{
    na_array *u = NULL, *ids = NULL;
    na_random_uniform(seed, NA_F32, NA_DIMS({"batch", batch}, {"seq", seq}), 0, 63.99, &u);
    na_astype(u, NA_I32, &ids);
    na_array_free(u);
    return ids;
}

static na_mesh *make_mesh(const char *spec)
{
    na_mesh *m = NULL;
    DC_OK(na_mesh_parse(MPI_COMM_WORLD, spec, &m));
    return m;
}

/* logits of the sharded model (batch gathered back) vs the whole one. */
static void check_model(const char *spec, int kv_heads, bool tie)
{
    na_mesh *mesh = make_mesh(spec);
    na_axis_mapping *map = NULL;
    na_axis_mapping_parse(NA_MAPPING_DEFAULT, &map);
    na_llama_config c = small_llama(kv_heads, tie);
    na_layer *whole = NULL, *part = NULL;
    DC_OK(na_llama_new(&c, 7, &whole));
    DC_OK(na_llama_new(&c, 7, &part));
    na_shard_report rep;
    DC_OK(na_dist_shard_model(mesh, map, &part, &rep));
    int model = na_mesh_axis_size(mesh, "model") > 0 ? na_mesh_axis_size(mesh, "model") : 1;
    DC_CHECK(rep.global_params == na_tree_param_count(whole), "global %lld",
             (long long)rep.global_params);
    if (model > 1) {
        DC_CHECK(rep.local_params < rep.global_params, "local %lld", (long long)rep.local_params);
        DC_CHECK(rep.all_reduces == 2 * c.num_hidden_layers, "all-reduces %d", rep.all_reduces);
        DC_CHECK(rep.all_gathers == 1 && rep.lookups == 1, "gathers %d lookups %d",
                 rep.all_gathers, rep.lookups);
    }
    na_array *ids = token_ids(4, 6, 3), *want = NULL, *got_local = NULL, *got = NULL;
    DC_OK(na_layer_call_array(whole, ids, NULL, &want));
    na_sharded *sids = NULL;
    DC_OK(na_shard(mesh, map, ids, &sids));
    DC_OK(na_layer_call_array(part, sids->local, NULL, &got_local));
    /* the logits come back whole along vocab; only batch stays split */
    na_sharded *sy = NULL;
    na_axis_mapping *batch_only = NULL;
    na_axis_mapping_parse("batch=data", &batch_only);
    DC_OK(na_sharded_from_local(mesh, batch_only, got_local, &sy));
    na_axis_mapping_free(batch_only);
    DC_OK(na_sharded_gather(sy, &got));
    DC_CLOSE(got, want, 1e-5);
    na_sharded_free(sids), na_sharded_free(sy);
    na_array_free(ids), na_array_free(want), na_array_free(got_local), na_array_free(got);
    na_layer_free(whole), na_layer_free(part);
    na_axis_mapping_free(map);
    na_mesh_free(mesh);
}

static void test_tensor_parallel_gqa(void) { check_model(world >= 2 ? "model=2,data=-1" : "model=1", 2, false); }
static void test_tensor_parallel_mha_tied(void) { check_model(world >= 2 ? "model=2,data=-1" : "model=1", 4, true); }
/* Fewer key/value heads than processes along model: they stay whole on
 * every process and the query heads of each group are split (MQA on
 * model=2; 8 query heads on 2 key/value heads with model=4). */
static void test_fewer_kv_heads(void)
{
    query_heads = world == 4 ? 8 : 4;
    check_model(world == 4 ? "model=4" : world == 2 ? "model=2" : "model=1",
                world == 4 ? 2 : 1, false);
    query_heads = 4;
}

static void test_data_parallel(void) { check_model(world >= 2 ? "data=2,model=-1" : "data=1", 2, false); }

/* Greedy decoding through the per-process KV caches (each holds its
 * kv_heads) equals the whole model's. */
static void check_kv_cache_decode(const char *spec, int kv_heads, int local_kv)
{
    na_mesh *mesh = make_mesh(spec);
    na_axis_mapping *map = NULL;
    na_axis_mapping_parse(NA_MAPPING_DEFAULT, &map);
    na_llama_config c = small_llama(kv_heads, false);
    na_layer *whole = NULL, *part = NULL;
    na_llama_new(&c, 11, &whole);
    na_llama_new(&c, 11, &part);
    DC_OK(na_dist_shard_model(mesh, map, &part, NULL));
    DC_OK(na_model_to_kv_cache(&whole, 16, 2));
    DC_OK(na_model_to_kv_cache(&part, 16, 2));
    na_array *ids = token_ids(2, 5, 9);
    double worst = 0;
    for (int step = 0; step < 4; step++) {
        na_array *a = NULL, *b = NULL, *next = NULL, *last = NULL;
        DC_OK(na_layer_call_array(whole, ids, NULL, &a));
        DC_OK(na_layer_call_array(part, ids, NULL, &b));
        double d = 1;
        DC_OK(na_max_abs_diff(a, b, &d));
        worst = d > worst ? d : worst;
        int64_t seq = na_axis_size(a, "seq");
        na_index_by(a, 1, &NA_AT("seq", seq - 1), &last);
        na_argmax(last, "vocab", &next);
        na_array_free(ids);
        ids = NULL;
        na_index_by(next, 1, &NA_NEWAXIS("seq"), &ids);
        na_array_free(a), na_array_free(b), na_array_free(next), na_array_free(last);
    }
    DC_CHECK(worst <= 1e-5, "decode differs by %g", worst);
    /* each process's cache holds its kv_heads */
    na_param_list list = {0};
    na_tree_params(part, &list);
    int caches = 0;
    for (int i = 0; i < list.count; i++) {
        na_param *p = list.items[i].param;
        if (p->kind == NA_STATE && na_axis_index(p->value, "kv_heads") >= 0) {
            caches++;
            DC_CHECK(na_axis_size(p->value, "kv_heads") == local_kv, "%s", p->label);
        }
    }
    DC_CHECK(caches == 2 * c.num_hidden_layers, "caches %d", caches);
    na_param_list_clear(&list);
    na_array_free(ids);
    na_layer_free(whole), na_layer_free(part);
    na_axis_mapping_free(map);
    na_mesh_free(mesh);
}

static void test_kv_cache_decode(void)
{
    check_kv_cache_decode(world >= 2 ? "model=2,data=-1" : "model=1", 2, world >= 2 ? 1 : 2);
    /* one key/value head: each process caches it whole */
    check_kv_cache_decode(world >= 2 ? "model=2,data=-1" : "model=1", 1, 1);
    if (world == 4) { /* 8 query heads on 2 key/value heads, model=4 */
        query_heads = 8;
        check_kv_cache_decode("model=4", 2, 2);
        query_heads = 4;
    }
}

static void test_print(void)
{
    na_mesh *mesh = make_mesh(world >= 2 ? "model=2,data=-1" : "model=1");
    na_axis_mapping *map = NULL;
    na_axis_mapping_parse(NA_MAPPING_DEFAULT, &map);
    na_llama_config c = small_llama(2, false);
    na_layer *part = NULL;
    na_llama_new(&c, 7, &part);
    na_shard_report rep;
    DC_OK(na_dist_shard_model(mesh, map, &part, &rep));
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    DC_OK(na_dist_print_model(mesh, part, &rep, f));
    fclose(f);
    char want[128];
    snprintf(want, sizeof want, "parameters here of %lld", (long long)rep.global_params);
    DC_CHECK(strstr(text, want) != NULL, "%.200s", text);
    if (world >= 2) {
        DC_CHECK(strstr(text, "AllReduceOutput") && strstr(text, "AllGatherOutput") &&
                 strstr(text, "ShardedEmbeddingLookup"), "wrappers:\n%s", text);
        /* each cut parameter: its whole shape and its split */
        DC_CHECK(strstr(text, "Param(\"block_0/attention/query.weights\", f32[embedding:32, "
                              "kv_heads:2/2@model, query_heads:2, projection:8]),  # 512") ||
                 strstr(text, "Param(\"block_0/attention/query.weights\", f32[kv_heads:2/2@model"),
                 "split query:\n%.3000s", text);
        DC_CHECK(strstr(text, "Param(\"embed.embeddings\", f32[vocab:64/2@model, "
                              "embedding:32]),  # 1,024") != NULL, "split vocab:\n%.3000s", text);
        DC_CHECK(strstr(text, "Param(\"final_norm.scale\", f32[embedding:32]),  # 32") != NULL,
                 "whole norm");
    }
    free(text);
    /* an axis that does not split: every process fails, nothing changes */
    if (world >= 2) {
        na_layer *odd = NULL;
        query_heads = 3;
        na_llama_config o = small_llama(3, false);
        query_heads = 4;
        na_llama_new(&o, 7, &odd);
        int64_t before = na_tree_param_count(odd);
        DC_CHECK(na_dist_shard_model(mesh, map, &odd, NULL) == NA_ERR_SHAPE, "odd");
        DC_MSG_HAS("na_dist_shard_model: axis 'heads' of 'block_0/attention/query.weights' "
                   "(size 3) does not split into 2 equal blocks over mesh axis 'model'");
        DC_CHECK(na_tree_param_count(odd) == before, "unchanged");
        na_layer_free(odd);
    }
    na_layer_free(part);
    na_axis_mapping_free(map);
    na_mesh_free(mesh);
}

/* Saving a sharded model writes the file of the unsharded one, byte for
 * byte; it loads back into a whole model with the same logits. */
static void test_save(void)
{
    na_mesh *mesh = make_mesh(world >= 2 ? "model=2,data=-1" : "model=1");
    na_axis_mapping *map = NULL;
    na_axis_mapping_parse(NA_MAPPING_DEFAULT, &map);
    na_llama_config c = small_llama(2, false);
    na_layer *whole = NULL, *part = NULL, *back = NULL;
    na_llama_new(&c, 13, &whole);
    na_llama_new(&c, 13, &part);
    DC_OK(na_dist_shard_model(mesh, map, &part, NULL));
    char mine[64], ref[64];
    snprintf(mine, sizeof mine, "dist_save_sharded_np%d.safetensors", world);
    snprintf(ref, sizeof ref, "dist_save_whole_np%d.safetensors", world);
    DC_OK(na_dist_save_params(mesh, part, mine));
    if (dc_rank == 0) {
        DC_OK(na_safetensors_save_model(whole, ref));
        FILE *a = fopen(mine, "rb"), *b = fopen(ref, "rb");
        int ca = 0, cb = 0;
        long bytes = 0;
        bool same = a && b;
        while (same && (ca = fgetc(a)) != EOF && (cb = fgetc(b)) != EOF)
            same = ca == cb, bytes++;
        same = same && fgetc(b) == EOF && ca == EOF;
        DC_CHECK(same && bytes > 1000, "the files differ (after %ld bytes)", bytes);
        if (a)
            fclose(a);
        if (b)
            fclose(b);
        na_llama_new(&c, 99, &back);
        DC_OK(na_safetensors_load_model(back, mine));
        na_array *ids = token_ids(2, 5, 6), *x = NULL, *y = NULL;
        DC_OK(na_layer_call_array(whole, ids, NULL, &x));
        DC_OK(na_layer_call_array(back, ids, NULL, &y));
        DC_CLOSE(x, y, 0);
        na_array_free(ids), na_array_free(x), na_array_free(y);
        remove(mine), remove(ref);
    }
    DC_OK(na_dist_agree(mesh, NA_OK, "saved"));
    /* a process that cannot write: every process fails */
    DC_CHECK(na_dist_save_params(mesh, part, "/no/such/dir/x.safetensors") != NA_OK, "unwritable");
    DC_MSG_HAS("na_dist_save_params: rank 0 failed");
    na_layer_free(whole), na_layer_free(part), na_layer_free(back);
    na_axis_mapping_free(map);
    na_mesh_free(mesh);
}

/* Each process reads its blocks of the saved whole model. */
static void test_load_blocks(void)
{
    na_mesh *mesh = make_mesh(world >= 2 ? "model=2,data=-1" : "model=1");
    na_axis_mapping *map = NULL;
    na_axis_mapping_parse(NA_MAPPING_DEFAULT, &map);
    na_llama_config c = small_llama(2, true);
    na_layer *whole = NULL, *part = NULL;
    na_llama_new(&c, 7, &whole);
    /* one file per world size: the np1/np2/np4 runs of this test may run at
     * the same time in the same directory */
    char path[64];
    snprintf(path, sizeof path, "dist_load_test_np%d.safetensors", world);
    na_status saved = dc_rank == 0 ? na_safetensors_save_model(whole, path) : NA_OK;
    DC_OK(na_dist_agree(mesh, saved, "save"));
    na_llama_new(&c, 8, &part);  /* other weights, replaced by the file's */
    DC_OK(na_dist_shard_model(mesh, map, &part, NULL));
    DC_OK(na_dist_load_params(mesh, map, part, path));
    na_array *ids = token_ids(2, 5, 4), *want = NULL, *got = NULL;
    DC_OK(na_layer_call_array(whole, ids, NULL, &want));
    DC_OK(na_layer_call_array(part, ids, NULL, &got));
    DC_CLOSE(got, want, 1e-5);
    /* one process cannot open its file: every process fails, nothing changes */
    na_array *before = NULL;
    na_param *table = NULL;
    na_param_list list = {0};
    na_tree_params(part, &list);
    table = list.items[0].param;
    na_copy(table->value, &before);
    const char *mine = dc_rank == world - 1 ? "no_such_file.safetensors" : path;
    DC_CHECK(na_dist_load_params(mesh, map, part, mine) == NA_ERR_IO, "missing");
    char want_msg[96];
    snprintf(want_msg, sizeof want_msg, "na_dist_load_params: rank %d failed:", world - 1);
    DC_MSG_HAS(want_msg);
    DC_MSG_HAS("no_such_file.safetensors");
    DC_CLOSE(table->value, before, 0);
    na_param_list_clear(&list);
    /* a model whose blocks do not match the file */
    na_layer *other = NULL;
    na_llama_config o = small_llama(2, true);
    o.intermediate_size = 64;
    na_llama_new(&o, 8, &other);
    DC_CHECK(na_dist_load_params(mesh, map, other, path) == NA_ERR_SHAPE, "shape");
    DC_MSG_HAS("does not match the parameter");
    na_layer_free(other);
    DC_OK(na_dist_agree(mesh, NA_OK, "done"));
    if (dc_rank == 0)
        remove(path);
    na_array_free(ids), na_array_free(want), na_array_free(got), na_array_free(before);
    na_layer_free(whole), na_layer_free(part);
    na_axis_mapping_free(map);
    na_mesh_free(mesh);
}

int main(int argc, char **argv)
{
    if (dc_init(&argc, &argv, &world))
        return 1;
    DC_RUN(test_tensor_parallel_gqa);
    DC_RUN(test_tensor_parallel_mha_tied);
    DC_RUN(test_data_parallel);
    DC_RUN(test_fewer_kv_heads);
    DC_RUN(test_kv_cache_decode);
    DC_RUN(test_print);
    DC_RUN(test_load_blocks);
    DC_RUN(test_save);
    return dc_end();
}
