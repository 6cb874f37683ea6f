/* Sharded loading straight from Hugging Face directories
 * (na_dist_hf_load): every process's parameters equal its slices of the
 * whole import (Llama with grouped and single key/value heads, GPT-2's
 * fused Conv1D c_attn), the sharded logits equal the single-process ones,
 * and a process that cannot open the directory makes all fail. Run with
 * mpirun -np 1, 2 or 4. */
#include <sys/stat.h>
#include <unistd.h>

#include "dist_check.h"
#include "namedarr/models.h"
#include "namedarr/tree.h"

static int world;

static na_mesh *make_mesh(void)
{
    na_mesh *m = NULL;
    DC_OK(na_mesh_parse(MPI_COMM_WORLD, world >= 2 ? "model=2,data=-1" : "model=1", &m));
    return m;
}

static na_hf_info llama_info(int heads, int kv_heads, bool tie)
{
    na_hf_info info = {.arch = NA_HF_LLAMA};
    snprintf(info.architecture, sizeof info.architecture, "LlamaForCausalLM");
    snprintf(info.model_type, sizeof info.model_type, "llama");
    na_llama_config *c = &info.llama;
    na_llama_config_init(c);
    c->vocab_size = 64, c->hidden_size = 32, c->intermediate_size = 48;
    c->num_hidden_layers = 2, c->num_attention_heads = heads, c->num_key_value_heads = kv_heads;
    c->head_dim = 8, c->tie_word_embeddings = tie, c->max_position_embeddings = 64;
    return info;
}

static na_hf_info gpt2_info(void)
{
    na_hf_info info = {.arch = NA_HF_GPT2};
    snprintf(info.architecture, sizeof info.architecture, "GPT2LMHeadModel");
    snprintf(info.model_type, sizeof info.model_type, "gpt2");
    na_gpt2_config *c = &info.gpt2;
    na_gpt2_config_init(c);
    c->vocab_size = 64, c->n_positions = 32, c->n_embd = 32, c->n_layer = 2, c->n_head = 4;
    c->n_inner = 48;
    return info;
}

/* Process 0 writes the directory of a fresh model (one per world size and
 * name: the np1/np2/np4 runs may share the build directory). */
static void write_dir(const na_mesh *mesh, const na_hf_info *info, const char *name,
                      char *dir, size_t cap)
{
    snprintf(dir, cap, "dist_hf_%s_np%d", name, world);
    na_status st = NA_OK;
    if (dc_rank == 0) {
        na_layer *m = NULL;
        mkdir(dir, 0755);
        st = info->arch == NA_HF_GPT2 ? na_gpt2_new(&info->gpt2, 5, &m)
                                      : na_llama_new(&info->llama, 5, &m);
        if (st == NA_OK)
            st = na_hf_save(m, info, dir);
        na_layer_free(m);
    }
    DC_OK(na_dist_agree(mesh, st, "write_dir"));
}

static void remove_dir(const na_mesh *mesh, const char *dir)
{
    na_dist_agree(mesh, NA_OK, "done");
    if (dc_rank != 0)
        return;
    char path[256];
    const char *files[] = {"config.json", "model.safetensors", "generation_config.json"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* This process's slice of a whole parameter: along every axis where the
 * local block is smaller, block `coord` of the mesh axis "model". */
static na_array *slice_of(const na_mesh *mesh, const na_array *whole, const na_array *local)
{
    na_index idx[NA_MAX_DIMS];
    int n = 0;
    for (int d = 0; d < whole->ndim; d++) {
        int64_t b = na_axis_size(local, whole->name[d]);
        if (b != whole->shape[d]) {
            int64_t c = na_mesh_coord(mesh, "model");
            idx[n++] = NA_RANGE(whole->name[d], c * b, (c + 1) * b, 1);
        }
    }
    na_array *v = NULL;
    na_index_by(whole, n, idx, &v);
    return v;
}

static na_param *find_param(const na_param_list *l, const char *label)
{
    for (int i = 0; i < l->count; i++)
        if (!strcmp(l->items[i].param->label, label))
            return l->items[i].param;
    return NULL;
}

/* Every parameter is this process's slice of the whole import; the
 * logits equal the single-process ones. Returns the split count. */
static int check_against_whole(const na_mesh *mesh, const char *dir, const char *what)
{
    na_axis_mapping *map = NULL;
    na_axis_mapping_parse(NA_MAPPING_DEFAULT, &map);
    na_layer *whole = NULL, *part = NULL;
    na_shard_report rep = {0};
    na_hf_info info;
    DC_OK(na_hf_load(dir, &whole, NULL));
    DC_OK(na_dist_hf_load(mesh, map, NULL, dir, &info, &rep, &part));
    int split = 0;
    if (whole && part) {
        na_param_list lp = {0}, lw = {0};
        na_tree_params(part, &lp);
        na_tree_params(whole, &lw);
        for (int i = 0; i < lp.count; i++) {
            na_param *p = lp.items[i].param, *w = find_param(&lw, p->label);
            DC_CHECK(w != NULL, "%s: '%s' in the whole import", what, p->label);
            if (!w)
                continue;
            na_array *want = slice_of(mesh, w->value, p->value);
            split += na_size(want) < na_size(w->value);
            DC_CLOSE(p->value, want, 0);
            na_array_free(want);
        }
        na_param_list_clear(&lp), na_param_list_clear(&lw);
        na_array *ids = NULL, *u = NULL, *a = NULL, *b = NULL;
        na_random_uniform(4, NA_F32, NA_DIMS({"batch", 2}, {"seq", 7}), 0, 63.99, &u);
        na_astype(u, NA_I32, &ids);
        DC_OK(na_layer_call_array(whole, ids, NULL, &a));
        DC_OK(na_layer_call_array(part, ids, NULL, &b));
        DC_CLOSE(b, a, 1e-5);
        DC_CHECK(rep.global_params == na_tree_param_count(whole), "%s: %lld of %lld", what,
                 (long long)rep.global_params, (long long)na_tree_param_count(whole));
        na_array_free(ids), na_array_free(u), na_array_free(a), na_array_free(b);
    }
    na_layer_free(whole), na_layer_free(part);
    na_axis_mapping_free(map);
    return split;
}

static void check_arch(const na_hf_info *info, const char *name, int min_split)
{
    na_mesh *mesh = make_mesh();
    char dir[64];
    write_dir(mesh, info, name, dir, sizeof dir);
    int split = check_against_whole(mesh, dir, name);
    if (world >= 2)
        DC_CHECK(split >= min_split, "%s: %d parameters split", name, split);
    remove_dir(mesh, dir);
    na_mesh_free(mesh);
}

/* Llama, 4 query heads on 2 key/value heads, untied head: per block
 * q, k, v, o, gate, up, down are cut, and the embedding and the head. */
static void test_llama_gqa(void)
{
    na_hf_info info = llama_info(4, 2, false);
    check_arch(&info, "llama_gqa", 2 * 7 + 2);
}

/* One key/value head on model=2: k and v stay whole, the query heads of
 * the group are split (q, o: query_heads). */
static void test_llama_mqa(void)
{
    na_hf_info info = llama_info(4, 1, true);
    check_arch(&info, "llama_mqa", 2 * 5 + 1);
}

/* GPT-2: c_attn [E, 3E] read as the columns of this process's heads of
 * q, k and v (weights and biases), c_proj rows, c_fc columns. */
static void test_gpt2_fused(void)
{
    na_hf_info info = gpt2_info();
    check_arch(&info, "gpt2", 2 * 9 + 1);
}

/* One process cannot open its directory: every process fails with its
 * message, no model. */
static void test_missing_dir(void)
{
    na_mesh *mesh = make_mesh();
    na_axis_mapping *map = NULL;
    na_axis_mapping_parse(NA_MAPPING_DEFAULT, &map);
    na_hf_info info = llama_info(4, 2, false);
    char dir[64];
    write_dir(mesh, &info, "missing", dir, sizeof dir);
    const char *mine = dc_rank == world - 1 ? "no_such_model_dir" : dir;
    na_layer *m = NULL;
    DC_CHECK(na_dist_hf_load(mesh, map, NULL, mine, NULL, NULL, &m) != NA_OK, "fails");
    char want[96];
    snprintf(want, sizeof want, "na_dist_hf_load: rank %d failed:", world - 1);
    DC_MSG_HAS(want);
    DC_MSG_HAS("no_such_model_dir");
    DC_CHECK(m == NULL, "no model");
    remove_dir(mesh, dir);
    na_axis_mapping_free(map);
    na_mesh_free(mesh);
}

int main(int argc, char **argv)
{
    if (dc_init(&argc, &argv, &world))
        return 1;
    DC_RUN(test_llama_gqa);
    DC_RUN(test_llama_mqa);
    DC_RUN(test_gpt2_fused);
    DC_RUN(test_missing_dir);
    return dc_end();
}
