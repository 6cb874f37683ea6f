/* Choosing tokens with the vocabulary split across processes
 * (na_dist_sampler): the same tokens as na_sample_token on whole rows,
 * ties going to the lowest global id; generation with a sharded model
 * whose logits stay split equals the single-process generation and moves
 * fewer bytes. Run with mpirun -np 1, 2 or 4. */
#include <math.h>

#include "dist_check.h"
#include "namedarr/models.h"
#include "namedarr/tree.h"

static int world;

static na_mesh *model_mesh(void)
{
    na_mesh *m = NULL;
    DC_OK(na_mesh_parse(MPI_COMM_WORLD, world >= 2 ? "model=2,data=-1" : "model=1", &m));
    return m;
}

/* Rows of logits every process knows whole: ties and repeated values on
 * purpose (values on a coarse grid), a NaN in row 2. */
static float *whole_rows(int64_t n, int64_t vocab, uint64_t seed)
{
    float *r = malloc((size_t)(n * vocab) * sizeof *r);
    for (int64_t i = 0; i < n * vocab; i++)
        r[i] = (float)floor(8 * na_sample_uniform(seed, (uint64_t)i)) / 2;
    r[0 * vocab + vocab - 1] = 10;      /* row 0: the max in the last block */
    r[1 * vocab + 3] = 10;              /* row 1: the same max in two blocks */
    r[1 * vocab + vocab - 2] = 10;
    r[2 * vocab + 0] = NAN;             /* row 2: NaN never wins */
    return r;
}

static void check_choices(const na_sampling *s, const char *what)
{
    na_mesh *mesh = model_mesh();
    int parts = na_mesh_axis_size(mesh, "model"), me = na_mesh_coord(mesh, "model");
    const int64_t n = 3, vocab = 40, local = vocab / parts;
    na_dist_sampler ds = {mesh, parts > 1 ? "model" : NULL};
    na_token_chooser ch = na_dist_sampler_chooser(&ds);
    float *rows = whole_rows(n, vocab, 5), *mine = malloc((size_t)(n * local) * sizeof *mine);
    for (int64_t b = 0; b < n; b++)
        memcpy(mine + b * local, rows + b * vocab + me * local, (size_t)local * sizeof *mine);
    for (uint64_t step = 0; step < 20; step++) {
        uint64_t steps[3] = {step, step + 1, step + 2};
        int32_t got[3] = {-1, -1, -1};
        DC_OK(ch.choose(ch.user, mine, n, local, s, steps, got));
        for (int64_t b = 0; b < n; b++) {
            na_sampling r = *s;
            r.seed += (uint64_t)b;
            int32_t want = -1;
            na_sample_token(rows + b * vocab, vocab, &r, steps[b], &want);
            DC_CHECK(got[b] == want, "%s: row %lld step %llu: %d, whole row %d", what,
                     (long long)b, (unsigned long long)step, got[b], want);
        }
    }
    free(rows), free(mine);
    na_mesh_free(mesh);
}

static void test_greedy_choice(void)
{
    check_choices(&(na_sampling){0}, "greedy");
    /* the lowest global id among equal maxima, and past a NaN */
    na_mesh *mesh = model_mesh();
    int parts = na_mesh_axis_size(mesh, "model"), me = na_mesh_coord(mesh, "model");
    float row[40];
    for (int i = 0; i < 40; i++)
        row[i] = i == 3 || i == 39 ? 10 : 0;
    row[0] = NAN;
    na_dist_sampler ds = {mesh, parts > 1 ? "model" : NULL};
    na_token_chooser ch = na_dist_sampler_chooser(&ds);
    int32_t got = -1;
    DC_OK(ch.choose(ch.user, row + me * (40 / parts), 1, 40 / parts, &(na_sampling){0},
                    (uint64_t[]){0}, &got));
    DC_CHECK(got == 3 && na_argmax_f32(row, 40) == 3, "argmax %d", got);
    na_mesh_free(mesh);
}

static void test_sampled_choice(void)
{
    check_choices(&(na_sampling){.temperature = 0.7, .top_k = 5, .seed = 3}, "top-k");
    check_choices(&(na_sampling){.temperature = 1.3, .top_k = 40, .top_p = 0.8, .seed = 4},
                  "top-k all + top-p");
    check_choices(&(na_sampling){.temperature = 0.9, .top_p = 0.9, .min_p = 0.05, .seed = 5},
                  "top-p (gathered)");
    check_choices(&(na_sampling){.temperature = 2, .seed = 6}, "temperature (gathered)");
    /* bad settings: every process fails the same way */
    na_mesh *mesh = model_mesh();
    na_dist_sampler ds = {mesh, na_mesh_axis_size(mesh, "model") > 1 ? "model" : NULL};
    na_token_chooser ch = na_dist_sampler_chooser(&ds);
    float row[20] = {0};
    int32_t got = 0;
    DC_CHECK(ch.choose(ch.user, row, 1, 20, &(na_sampling){.temperature = 1, .top_k = 3,
                                                             .top_p = 2},
                       (uint64_t[]){0}, &got) == NA_ERR_ARGUMENT, "bad top_p");
    DC_MSG_HAS("na_sample_token: bad sampling settings");
    na_mesh_free(mesh);
}

static na_layer *cached_llama(bool shard, bool keep_split, const na_mesh *mesh)
{
    na_llama_config c;
    na_llama_config_init(&c);
    c.vocab_size = 64, c.hidden_size = 32, c.intermediate_size = 48;
    c.num_hidden_layers = 2, c.num_attention_heads = 4, c.num_key_value_heads = 2;
    c.head_dim = 8, c.max_position_embeddings = 64;
    na_layer *m = NULL;
    DC_OK(na_llama_new(&c, 21, &m));
    if (shard) {
        na_axis_mapping *map = NULL;
        na_axis_mapping_parse(NA_MAPPING_DEFAULT, &map);
        na_shard_options o = {.keep_vocab_split = keep_split};
        DC_OK(na_dist_shard_model_ex(mesh, map, &o, &m, NULL));
        na_axis_mapping_free(map);
    }
    DC_OK(na_model_to_kv_cache(&m, 32, 2));
    return m;
}

/* Tokens and bytes sent by this process. */
static void generate(na_layer *m, na_token_chooser ch, const na_sampling *s, na_generation *g,
                     int64_t *bytes)
{
    int32_t p0[] = {1, 5, 9, 2}, p1[] = {7, 3};
    na_token_list prompts[2] = {{p0, 4}, {p1, 2}};
    na_generate_options o = {.max_new_tokens = 8, .sampling = *s, .chooser = ch};
    na_dist_stats before, after;
    na_dist_stats_read(&before);
    DC_OK(na_generate(m, prompts, 2, &o, g));
    na_dist_stats_read(&after);
    *bytes = after.bytes - before.bytes;
}

static void check_generation(const na_sampling *s, const char *what)
{
    na_mesh *mesh = model_mesh();
    int parts = na_mesh_axis_size(mesh, "model");
    na_layer *whole = cached_llama(false, false, NULL);
    na_layer *gathered = cached_llama(true, false, mesh);
    na_layer *split = cached_llama(true, true, mesh);
    na_dist_sampler ds = {mesh, parts > 1 ? "model" : NULL};
    na_generation gw = {0}, gg = {0}, gs = {0};
    int64_t bw = 0, bg = 0, bs = 0;
    generate(whole, (na_token_chooser){0}, s, &gw, &bw);
    generate(gathered, (na_token_chooser){0}, s, &gg, &bg);
    generate(split, na_dist_sampler_chooser(&ds), s, &gs, &bs);
    for (int b = 0; b < 2; b++) {
        bool same = gw.tokens[b].count == gs.tokens[b].count &&
                    gw.tokens[b].count == gg.tokens[b].count;
        for (size_t i = 0; same && i < gw.tokens[b].count; i++)
            same = gw.tokens[b].ids[i] == gs.tokens[b].ids[i] &&
                   gw.tokens[b].ids[i] == gg.tokens[b].ids[i];
        DC_CHECK(same, "%s: row %d differs from one process", what, b);
    }
    if (parts > 1) /* the logits' gather is gone: 64/2 f32 x 2 rows a step */
        DC_CHECK(bs < bg, "%s: %lld bytes split vs %lld gathered", what, (long long)bs,
                 (long long)bg);
    na_generation_free(&gw), na_generation_free(&gg), na_generation_free(&gs);
    na_layer_free(whole), na_layer_free(gathered), na_layer_free(split);
    na_mesh_free(mesh);
}

static void test_generate_greedy(void) { check_generation(&(na_sampling){0}, "greedy"); }

static void test_generate_sampled(void)
{
    check_generation(&(na_sampling){.temperature = 0.8, .top_k = 6, .seed = 9}, "top-k");
    check_generation(&(na_sampling){.temperature = 0.8, .top_p = 0.9, .seed = 9}, "top-p");
}

int main(int argc, char **argv)
{
    if (dc_init(&argc, &argv, &world))
        return 1;
    DC_RUN(test_greedy_choice);
    DC_RUN(test_sampled_choice);
    DC_RUN(test_generate_greedy);
    DC_RUN(test_generate_sampled);
    return dc_end();
}
