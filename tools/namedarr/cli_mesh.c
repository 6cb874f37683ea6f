/* --mesh for the namedarr command: run one verb sharded across MPI
 * processes (namedarr_mpi, dist.h). Built with MPI when CMake finds it
 * (NAMEDARR_CLI_MPI); otherwise --mesh is refused with a clear message.
 *
 *   mpirun -np 2 namedarr generate MODEL_DIR --tokens 1,2,3 --mesh model=2
 *
 * Every process loads the model, keeps its block of the heads, kv_heads,
 * MLP hidden and vocabulary (NA_MAPPING_DEFAULT) and runs the same steps;
 * the logits stay split over the vocabulary and the processes choose each
 * token together (na_dist_sampler: a few bytes a row for greedy). With a
 * "data" mesh axis the prompts are split in blocks over it and the
 * generated rows are collected on process 0, which alone writes to
 * stdout. A process that fails to load makes the others fail with its
 * message. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#ifdef NAMEDARR_CLI_MPI
#include <namedarr/dist.h>

struct cli_mesh {
    na_mesh *mesh;
    na_dist_sampler sampler;
    const char *data;       /* the mesh axis of "batch", NULL: not split */
};

/* Agree on the load, then shard (the logits stay split over vocab). */
static int shard(const char *verb, const char *spec, cli_model *m, cli_mesh *c)
{
    na_axis_mapping *map = NULL;
    na_shard_report rep;
    na_shard_options o = {.keep_vocab_split = true};
    na_status st = na_axis_mapping_parse(NA_MAPPING_DEFAULT, &map);
    if (st == NA_OK)
        st = na_dist_shard_model_ex(c->mesh, map, &o, &m->layer, &rep);
    if (st == NA_OK) {
        c->sampler = (na_dist_sampler){c->mesh, na_axis_mapping_lookup(map, c->mesh, "vocab")};
        c->data = na_axis_mapping_lookup(map, c->mesh, "batch");
    }
    na_axis_mapping_free(map);
    if (st != NA_OK)
        return cli_fail_na(verb, "cannot shard the model");
    if (cli_progress() && na_mesh_rank(c->mesh) == 0)
        fprintf(stderr, "mesh %s: %lld of %lld parameters on process 0\n", spec,
                (long long)rep.local_params, (long long)rep.global_params);
    return CLI_OK;
}

int cli_mesh_start(const char *verb, const char *spec, int load_rc, cli_model *m,
                   cli_mesh **out)
{
    *out = NULL;
    if (!spec)
        return load_rc;
    cli_mesh *c = calloc(1, sizeof *c);
    if (!c || na_dist_init(NULL, NULL) != NA_OK ||
        na_mesh_parse(MPI_COMM_WORLD, spec, &c->mesh) != NA_OK) {
        free(c);
        return load_rc != CLI_OK ? load_rc : cli_fail_na(verb, "--mesh");
    }
    *out = c;
    /* the loader printed its own line; the others learn that it failed */
    na_status st = na_dist_agree(c->mesh, load_rc == CLI_OK ? NA_OK
                                                            : na_fail(NA_ERR_IO, "cannot "
                                                                      "load the model"),
                                 "--mesh");
    if (st != NA_OK)
        return load_rc != CLI_OK ? load_rc : cli_fail_na(verb, "");
    return shard(verb, spec, m, c);
}

bool cli_mesh_is_main(const cli_mesh *c) { return !c || na_mesh_rank(c->mesh) == 0; }

/* Block p of n rows split in `parts`: [first, first + count), the larger
 * blocks first (process 0 always has row 0 of a non-empty batch). */
static void block(size_t n, int parts, int p, size_t *first, size_t *count)
{
    size_t d = (size_t)parts;
    *first = (n * (size_t)p + d - 1) / d;
    *count = (n * (size_t)(p + 1) + d - 1) / d - *first;
}

void cli_mesh_rows(const cli_mesh *c, size_t n, size_t *first, size_t *count)
{
    int parts = c && c->data ? na_mesh_axis_size(c->mesh, c->data) : 1;
    block(n, parts, c && c->data ? na_mesh_coord(c->mesh, c->data) : 0, first, count);
}

na_token_chooser cli_mesh_chooser(cli_mesh *c)
{
    return c ? na_dist_sampler_chooser(&c->sampler) : (na_token_chooser){0};
}

/* This process's rows as {part:1, row:r, slot:1 + max_new} i32: the count,
 * then the ids. */
static na_status pack_rows(const na_generation *g, size_t count, int64_t r, int64_t max_new,
                           na_array **out)
{
    na_status st = na_zeros(NA_I32, 3, (na_dim[]){{"part", 1}, {"row", r}, {"slot", 1 + max_new}},
                            out);
    for (size_t i = 0; st == NA_OK && i < count; i++) {
        int32_t *row = (int32_t *)na_data(*out) + i * (size_t)(1 + max_new);
        row[0] = (int32_t)g->tokens[i].count;
        memcpy(row + 1, g->tokens[i].ids, g->tokens[i].count * sizeof *row);
    }
    return st;
}

static int unpack_rows(const char *verb, const na_array *all, int parts, size_t n,
                       na_token_list *rows)
{
    int64_t r = na_axis_size(all, "row"), slots = na_axis_size(all, "slot");
    const int32_t *d = na_data(all);
    for (int p = 0; p < parts; p++) {
        size_t first, count;
        block(n, parts, p, &first, &count);
        for (size_t i = 0; i < count; i++) {
            const int32_t *row = d + ((int64_t)p * r + (int64_t)i) * slots;
            rows[first + i].count = (size_t)row[0];
            rows[first + i].ids = malloc(((size_t)row[0] + 1) * sizeof *row);
            if (!rows[first + i].ids)
                return cli_fail(verb, CLI_FAIL, "out of memory");
            memcpy(rows[first + i].ids, row + 1, (size_t)row[0] * sizeof *row);
        }
    }
    return CLI_OK;
}

int cli_mesh_collect(const char *verb, cli_mesh *c, const na_generation *g, size_t count,
                     size_t n, int64_t max_new, na_token_list *rows)
{
    int parts = c && c->data ? na_mesh_axis_size(c->mesh, c->data) : 1;
    na_array *mine = NULL, *all = NULL;
    na_status st = pack_rows(g, count, (int64_t)((n + (size_t)parts - 1) / (size_t)parts),
                             max_new, &mine);
    if (parts > 1)
        st = na_all_gather(c->mesh, c->data, st == NA_OK ? mine : NULL, "part", &all);
    else if (st == NA_OK)
        st = na_array_ref(mine, &all);
    int rc = st == NA_OK ? unpack_rows(verb, all, parts, n, rows)
                         : cli_fail_na(verb, "cannot collect the generated rows");
    na_array_free(mine);
    na_array_free(all);
    return rc;
}

void cli_mesh_end(cli_mesh *c)
{
    if (!c)
        return;
    na_mesh_free(c->mesh);
    free(c);
    na_dist_finalize();
}

#else

int cli_mesh_start(const char *verb, const char *spec, int load_rc, cli_model *m,
                   cli_mesh **out)
{
    (void)m;
    *out = NULL;
    if (spec && load_rc == CLI_OK)
        return cli_fail(verb, CLI_USAGE, "--mesh %s: this namedarr was built without MPI "
                        "(install libopenmpi-dev and rebuild)", spec);
    return load_rc;
}

bool cli_mesh_is_main(const cli_mesh *c) { (void)c; return true; }
void cli_mesh_end(cli_mesh *c) { (void)c; }

void cli_mesh_rows(const cli_mesh *c, size_t n, size_t *first, size_t *count)
{
    (void)c;
    *first = 0, *count = n;
}

na_token_chooser cli_mesh_chooser(cli_mesh *c)
{
    (void)c;
    return (na_token_chooser){0};
}

int cli_mesh_collect(const char *verb, cli_mesh *c, const na_generation *g, size_t count,
                     size_t n, int64_t max_new, na_token_list *rows)
{
    (void)c, (void)n, (void)max_new;
    for (size_t i = 0; i < count; i++) {
        rows[i].count = g->tokens[i].count;
        rows[i].ids = malloc((g->tokens[i].count + 1) * sizeof *rows[i].ids);
        if (!rows[i].ids)
            return cli_fail(verb, CLI_FAIL, "out of memory");
        memcpy(rows[i].ids, g->tokens[i].ids, g->tokens[i].count * sizeof *rows[i].ids);
    }
    return CLI_OK;
}

#endif
