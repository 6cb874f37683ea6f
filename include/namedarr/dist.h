/* namedarr/dist.h — named axes sharded across processes with MPI.
 *
 * A mesh lays the processes of an MPI communicator out on named mesh axes
 * ({data:2}, {model:2}, {data:2, model:2}; row-major: the last axis
 * varies fastest with the rank). An axis mapping says which array axis
 * names are split over which mesh axis ("batch=data,heads=model"); an
 * entry whose mesh axis is not in the mesh is ignored, so one mapping
 * serves every mesh. A split axis is cut into equal contiguous blocks:
 * the process at coordinate c of mesh axis m (of size n) holds block c.
 *
 * Collectives go by name: an all-reduce over a mesh axis, an all-gather
 * or a reduce-scatter of an array axis over a mesh axis, a broadcast.
 * Before moving data every process of the group exchanges a fingerprint
 * of the operation, its axis names, the dtype and the shape (xxHash), so
 * processes that disagree all get the same error naming each one's shape,
 * never a hang; a process that rejects its own arguments joins that
 * exchange too, so the others fail with it. The communicator is
 * duplicated with MPI_ERRORS_RETURN: an MPI failure is a status, never an
 * abort.
 *
 *   na_dist_init(&argc, &argv);                 // MPI_Init_thread if needed
 *   na_mesh *mesh = NULL;
 *   na_mesh_parse(MPI_COMM_WORLD, "model=2", &mesh);
 *   na_axis_mapping *map = NULL;
 *   na_axis_mapping_parse(NA_MAPPING_DEFAULT, &map);
 *   // a built model (models.h), sharded in place: each process keeps its
 *   // heads, kv_heads, hidden and vocab blocks; the tree gains the
 *   // all-reduces and all-gathers it needs. The same calls as before:
 *   na_dist_shard_model(mesh, map, &model, NULL);
 *   na_layer_call_array(model, ids, NULL, &logits);   // full logits
 *
 * Ownership: every _new/_parse has its _free; sharded arrays own their
 * local block and borrow the mesh, which must outlive them (and the layers
 * of a sharded model). Results are new arrays owned by the caller.
 *
 * This header is the API of the separate library namedarr_mpi
 * (libnamedarr_mpi, built when CMake finds MPI); it includes <mpi.h>.
 * Every call here is collective over the processes of the mesh axis (or
 * the whole mesh) it names, and must be made by all of them in the same
 * order.
 */
#ifndef NAMEDARR_DIST_H
#define NAMEDARR_DIST_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "namedarr/array.h"
#include "namedarr/generate.h"
#include "namedarr/layer.h"
#include "namedarr/models.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default) /* the na_ API; the rest is hidden */

#define NA_MESH_MAX_AXES 4

/* ---- start and stop ---------------------------------------------------- */

/* MPI_Init_thread (MPI_THREAD_FUNNELED) unless MPI is already initialised;
 * argc/argv may be NULL. */
na_status na_dist_init(int *argc, char ***argv);
/* MPI_Finalize if namedarr initialised MPI (and it is not finalised). */
na_status na_dist_finalize(void);

/* ---- meshes ------------------------------------------------------------ */

typedef struct na_mesh na_mesh; /* opaque */

/* A mesh of `naxes` named axes over `comm` (duplicated: the mesh's
 * messages never mix with the caller's). The product of the sizes must
 * equal the communicator's size; names are distinct. Collective. */
na_status na_mesh_new(MPI_Comm comm, int naxes, const na_dim *axes, na_mesh **out);
/* The same from "data=2,model=2" (an axis size may be -1 once: it takes
 * what is left of the communicator). */
na_status na_mesh_parse(MPI_Comm comm, const char *spec, na_mesh **out);
void na_mesh_free(na_mesh *mesh);

int na_mesh_rank(const na_mesh *mesh);             /* in the mesh's comm  */
int na_mesh_size(const na_mesh *mesh);
int na_mesh_axis_count(const na_mesh *mesh);
const char *na_mesh_axis_name(const na_mesh *mesh, int i);
/* Size of a mesh axis (1 for NULL: the trivial axis; -1 if absent). */
int na_mesh_axis_size(const na_mesh *mesh, const char *axis);
/* This process's coordinate along a mesh axis (0 for NULL or absent). */
int na_mesh_coord(const na_mesh *mesh, const char *axis);
/* The communicator of the processes that differ only along `axis` (NULL:
 * every process of the mesh). Borrowed. */
MPI_Comm na_mesh_comm(const na_mesh *mesh, const char *axis);
/* "mesh{data:2, model:2} rank 3 at data=1, model=1". */
size_t na_mesh_str(const na_mesh *mesh, char *buf, size_t cap);

/* ---- axis mappings ----------------------------------------------------- */

/* Megatron-style tensor parallelism over "model" and data parallelism
 * over "data", for the trees of models.h. With fewer key/value heads than
 * processes along "model" (kv_heads=1 or 2 on model=4), the key/value
 * heads stay whole on every process and the query heads of each group are
 * split instead ("?": optional, see na_axis_mapping_parse). */
#define NA_MAPPING_DEFAULT                                                   \
    "batch=data,heads=model,kv_heads=model?,query_heads=model,hidden=model,vocab=model"

typedef struct na_axis_mapping na_axis_mapping; /* opaque */

/* From "array_axis=mesh_axis,..." (an array axis at most once). Within one
 * array (a parameter, a cache, an input), a mesh axis splits one axis at
 * most: the first, in the mapping's order, whose size it divides evenly.
 * An axis whose size does not divide is an error naming it, unless its
 * entry ends in '?' ("kv_heads=model?"): then it stays whole (replicated)
 * and a later entry for the same mesh axis may split another axis of the
 * array (query_heads). */
na_status na_axis_mapping_parse(const char *spec, na_axis_mapping **out);
void na_axis_mapping_free(na_axis_mapping *map);
/* The mesh axis `axis` is split over in `mesh`: NULL when it is not mapped,
 * its mesh axis is not in the mesh, or that mesh axis has size 1. */
const char *na_axis_mapping_lookup(const na_axis_mapping *map, const na_mesh *mesh,
                                   const char *axis);

/* ---- collectives by name (plain arrays) --------------------------------- */

typedef enum na_reduce_op { NA_REDUCE_SUM = 0, NA_REDUCE_MAX } na_reduce_op;

/* Element-wise sum or max over the processes along `mesh_axis` (NULL: the
 * whole mesh). f32, f64, i32, bf16 (widened to f32, reduced in f32 and
 * rounded back once; it travels as f32). Every process gets the result. */
na_status na_all_reduce(const na_mesh *mesh, const char *mesh_axis, na_reduce_op op,
                        const na_array *x, na_array **out);
/* Concatenate each process's `x` along its named axis `axis`, in the order
 * of the coordinates along `mesh_axis`: axis:n -> axis:n*size. */
na_status na_all_gather(const na_mesh *mesh, const char *mesh_axis, const na_array *x,
                        const char *axis, na_array **out);
/* Sum over `mesh_axis`, then keep this process's block of `axis`:
 * axis:n -> axis:n/size (n must divide). bf16 sums in f32, as above. */
na_status na_reduce_scatter(const na_mesh *mesh, const char *mesh_axis,
                            const na_array *x, const char *axis, na_array **out);
/* Process `root` (a coordinate along mesh_axis) sends `x` (its dtype and
 * named shape travel with it; ignored elsewhere, may be NULL there). */
na_status na_broadcast(const na_mesh *mesh, const char *mesh_axis, int root,
                       const na_array *x, na_array **out);
/* Agree on a local outcome: returns NA_OK on every process when every
 * `local` was NA_OK; else, on every process, the status of the lowest
 * failing rank with its message ("rank 1: na_safetensors_open: ...")
 * prefixed by `what`. */
na_status na_dist_agree(const na_mesh *mesh, na_status local, const char *what);

/* What the collectives of this process did since the last reset: calls,
 * bytes this process contributed to the data exchanges (not counting the
 * fingerprints), and wall time inside MPI (fingerprints included). For
 * benchmarks; one set of counters per process (MPI is used from one
 * thread). */
typedef struct na_dist_stats {
    int64_t calls;
    int64_t bytes;
    double seconds;
} na_dist_stats;

void na_dist_stats_read(na_dist_stats *out);
void na_dist_stats_reset(void);

/* ---- sharded arrays ----------------------------------------------------- */

/* This process's block of a global array, and where the rest is. */
typedef struct na_sharded {
    na_array *local;                       /* owned                          */
    const na_mesh *mesh;                   /* borrowed                       */
    int64_t global[NA_MAX_DIMS];           /* global size of each local dim  */
    const char *mesh_axis[NA_MAX_DIMS];    /* interned; NULL: replicated     */
} na_sharded;

/* This process's block of `full` (the same full array on every process; a
 * view: no copy). Named axes only; each split axis must divide evenly. */
na_status na_shard(const na_mesh *mesh, const na_axis_mapping *map,
                   const na_array *full, na_sharded **out);
/* A sharded array from this process's block (a new reference): split axes
 * have global size local * mesh axis size. The processes check that they
 * agree on the names and shapes. */
na_status na_sharded_from_local(const na_mesh *mesh, const na_axis_mapping *map,
                                const na_array *local, na_sharded **out);
void na_sharded_free(na_sharded *x);
/* The whole array on every process (all-gathers the split axes). */
na_status na_sharded_gather(const na_sharded *x, na_array **out);
/* "f32[seq:8, heads:32/2@model]": global sizes, "/n@axis" on split axes. */
size_t na_sharded_str(const na_sharded *x, char *buf, size_t cap);
/* na_contract on the local blocks; a summed axis that is split finishes
 * with the all-reduce over its mesh axis, so the result equals the
 * single-process contraction of the whole arrays (free axes keep their
 * split). A name split in one operand must be split the same way in the
 * other. */
na_status na_sharded_contract(const na_sharded *a, const na_sharded *b,
                              const char *const *sum, na_sharded **out);

/* ---- sharding a model --------------------------------------------------- */

extern const na_layer_type na_all_reduce_output_type;   /* "AllReduceOutput"  */
extern const na_layer_type na_all_gather_output_type;   /* "AllGatherOutput"  */
extern const na_layer_type na_sharded_lookup_type;      /* "ShardedEmbeddingLookup" */

typedef struct na_shard_report {
    int params_split;        /* parameters (and state) cut to a block     */
    int all_reduces;         /* AllReduceOutput layers added              */
    int all_gathers;         /* AllGatherOutput layers added              */
    int lookups;             /* ShardedEmbeddingLookup layers added       */
    int64_t local_params;    /* scalars this process holds (NA_PARAM)     */
    int64_t global_params;   /* scalars of the whole model                */
} na_shard_report;

/* Shard a built model in place, by its axis names, without rebuilding:
 *  - every parameter and state variable keeps only this process's block
 *    of each split axis (q/k/v, up/gate: column-parallel; caches keep
 *    their heads and batch rows);
 *  - a Linear that contracts a split axis (attention output, MLP down:
 *    row-parallel) is wrapped in AllReduceOutput (sum over its mesh axis;
 *    a bias after it is added once, after the sum);
 *  - a Linear or EmbeddingDecode that produces a split "vocab" axis is
 *    wrapped in AllGatherOutput (full logits on every process);
 *  - an EmbeddingLookup over a split vocab becomes a
 *    ShardedEmbeddingLookup (rows outside the block give zeros; summed).
 * Batch split over "data" applies to caches (allocate them for the local
 * batch, or convert before sharding with the global batch) and to the
 * inputs, which the caller splits (na_shard). *model may be replaced. */
na_status na_dist_shard_model(const na_mesh *mesh, const na_axis_mapping *map,
                              na_layer **model, na_shard_report *out);

typedef struct na_shard_options {
    /* The logits stay split over "vocab" (no AllGatherOutput): each process
     * gets {batch, seq, vocab:V/n}; generate with a na_dist_sampler as the
     * chooser, which moves a few candidates per row instead of the logits. */
    bool keep_vocab_split;
} na_shard_options;

/* na_dist_shard_model with options (NULL: the defaults, all false). */
na_status na_dist_shard_model_ex(const na_mesh *mesh, const na_axis_mapping *map,
                                 const na_shard_options *opts, na_layer **model,
                                 na_shard_report *out);

/* Choosing tokens when the logits are split over `mesh_axis` (a model
 * sharded with keep_vocab_split; NULL: not split), the same tokens as
 * na_sample_token on the whole rows with the same settings and seed:
 * greedy sends each process's best (value, id) per row (16 bytes) and
 * keeps the lowest id among the largest; top_k > 0 sends each process's
 * k best per row; temperature with only top-p / min-p gathers the rows.
 *
 *   na_dist_sampler ds = {mesh, na_axis_mapping_lookup(map, mesh, "vocab")};
 *   na_generate_options o = {.max_new_tokens = 16,
 *                            .chooser = na_dist_sampler_chooser(&ds)};
 *
 * `ds` is borrowed by the chooser and must outlive the generation. */
typedef struct na_dist_sampler {
    const na_mesh *mesh;
    const char *mesh_axis;
} na_dist_sampler;

na_token_chooser na_dist_sampler_chooser(na_dist_sampler *ds);

/* Read the parameters of a sharded model from a safetensors file that
 * holds the whole ones under their labels (na_safetensors_save_model of
 * the unsharded model): each process reads only its blocks (the file is
 * mapped; na_safetensors_get_block). Strict and all-or-nothing on every
 * process: a process that cannot open the file, or finds a label missing
 * or a shape that disagrees, makes every process fail with its message,
 * and no parameter changes. Tensors the model lacks are ignored. Which
 * axes are split is decided on the file's whole shapes by the mapping,
 * as na_dist_shard_model does (Hugging Face directories:
 * na_dist_hf_load). */
na_status na_dist_load_params(const na_mesh *mesh, const na_axis_mapping *map,
                              na_layer *model, const char *path);
/* A sharded model straight from a Hugging Face directory (models.h):
 * every process opens it (config.json and the safetensors headers, all
 * checked as na_hf_load does), builds the tree, shards it
 * (na_dist_shard_model_ex; opts may be NULL), then reads only its blocks
 * of each tensor: row blocks of q/k/v_proj and gate/up, column blocks of
 * o_proj and down, the columns of its heads in GPT-2's fused c_attn
 * [E, 3E], its vocabulary rows of the embedding and head. A process that
 * fails (cannot open the directory, a missing tensor) makes every process
 * fail with its message; no model is returned. report and info may be
 * NULL. (The tree is built whole with random weights before it is cut,
 * so each process briefly holds a whole model's worth of f32.) */
na_status na_dist_hf_load(const na_mesh *mesh, const na_axis_mapping *map,
                          const na_shard_options *opts, const char *dir, na_hf_info *info,
                          na_shard_report *report, na_layer **out);
/* Write the parameters of a sharded model to one safetensors file at
 * `path`: the file na_safetensors_save_model writes for the unsharded
 * model (the same labels, order, names and values). Each cut parameter is
 * gathered whole over its mesh axes, one at a time; process 0 holds them
 * all and writes. Collective; an error on any process is returned on
 * every process. */
na_status na_dist_save_params(const na_mesh *mesh, na_layer *model, const char *path);
/* Print what this process holds: a first line with the mesh, the rank and
 * the parameter counts (local of global), then the tree (print.h, without
 * colour) with the counts of what this process holds, and each parameter
 * that na_dist_shard_model cut shown with its whole shape and its split:
 * Param("block_0/attention/query.weights",
 *       f32[embedding:32, kv_heads:2/2@model, query_heads:2, projection:8]). */
na_status na_dist_print_model(const na_mesh *mesh, const na_layer *model,
                              const na_shard_report *report, FILE *f);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
