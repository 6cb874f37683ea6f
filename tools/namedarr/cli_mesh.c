/* --mesh for the namedarr command: run one verb sharded across MPI
 * processes (namedarr_mpi, dist.h). Built with MPI when CMake finds it
 * (NAMEDARR_CLI_MPI); otherwise --mesh is refused with a clear message.
 *
 *   mpirun -np 2 namedarr generate MODEL_DIR --tokens 1,2,3 --mesh model=2
 *
 * Every process loads the model, keeps its block of the heads, kv_heads,
 * MLP hidden and vocabulary (NA_MAPPING_DEFAULT) and runs the same steps;
 * the logits are whole on every process, so each picks the same tokens.
 * Only process 0 writes to stdout. A process that fails to load makes the
 * others fail with its message. */
#include "cli.h"

#include <stdlib.h>

#ifdef NAMEDARR_CLI_MPI
#include <namedarr/dist.h>

struct cli_mesh {
    na_mesh *mesh;
};

/* Agree on the load, then shard. */
static int shard(const char *verb, const char *spec, cli_model *m, cli_mesh *c)
{
    na_axis_mapping *map = NULL;
    na_shard_report rep;
    na_status st = na_axis_mapping_parse(NA_MAPPING_DEFAULT, &map);
    if (st == NA_OK)
        st = na_dist_shard_model(c->mesh, map, &m->layer, &rep);
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

#endif
