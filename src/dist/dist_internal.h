/* Private to src/dist: the mesh and mapping structs and small helpers.
 * The dist module is a separate library above the public API: it uses
 * only na_ functions (no na__ internals of the other modules). */
#ifndef NAMEDARR_DIST_INTERNAL_H
#define NAMEDARR_DIST_INTERNAL_H

#include "namedarr/dist.h"

#define NA__MAP_MAX 32

struct na_mesh {
    MPI_Comm comm;                         /* a duplicate, MPI_ERRORS_RETURN */
    int rank, size, naxes;
    const char *name[NA_MESH_MAX_AXES];    /* interned                       */
    int dim[NA_MESH_MAX_AXES];
    int coord[NA_MESH_MAX_AXES];
    MPI_Comm sub[NA_MESH_MAX_AXES];        /* the processes along axis i     */
};

struct na_axis_mapping {
    int n;
    const char *axis[NA__MAP_MAX];         /* interned array axis names      */
    const char *mesh_axis[NA__MAP_MAX];    /* interned mesh axis names       */
    bool optional[NA__MAP_MAX];            /* "axis=mesh?": replicate when   */
                                           /* it does not divide evenly      */
};

/* Which mesh axis splits each dim of an array of global named shape
 * (names, sizes) under `map`: each mesh axis splits at most one dim, the
 * first in the mapping's order whose size it divides; an optional entry
 * that does not divide leaves its axis whole (replicated), a required one
 * is an error naming `who`, `label`, the axis and the sizes. split[d]: the
 * mesh axis of dim d, or NULL. The same rule serves sharding a model and
 * reading its blocks from a file (where the global shape comes from). */
na_status na__mapping_split(const na_axis_mapping *map, const na_mesh *mesh, const char *who,
                            const char *label, int ndim, const char *const *names,
                            const int64_t *sizes, const char **split);
/* The same for a whole array x. */
na_status na__array_split(const na_axis_mapping *map, const na_mesh *mesh, const char *who,
                          const char *label, const na_array *x, const char **split);

/* The index of a mesh axis, or -1. `name` need not be interned. */
int na__mesh_axis_index(const na_mesh *mesh, const char *name);

/* NA_ERR_IO with MPI's own words for a failed MPI call inside `op`. */
na_status na__mpi_fail(int rc, const char *op);

/* A named shape "f32[a:2, b:3]" in one of a few rotating per-thread
 * buffers (valid for the next few calls on this thread). */
const char *na__dshape(const na_array *x);

/* Exchange a fingerprint of (op, detail, x's dtype and named shape) among
 * the processes of `comm`, or of a local failure when `local` is not
 * NA_OK (its message is the current error). Returns NA_OK when every
 * process sent the same fingerprint; else the same error on every process
 * naming what each one had. `x` may be NULL (no shape). */
na_status na__fingerprint_check(MPI_Comm comm, const char *op, const char *detail,
                                const na_array *x, na_status local);

/* Count one collective's bytes and the time since `t0` (MPI_Wtime). */
void na__dist_count(int64_t bytes, double t0);

/* The MPI datatype of a dtype (MPI_DATATYPE_NULL for bool under reduce). */
MPI_Datatype na__mpi_type(na_dtype dtype);

/* x gathered whole along each dim d with a mesh_axis[d] (sharded.c). */
na_status na__gather_splits(const na_mesh *mesh, const na_array *x,
                            const char *const *mesh_axis, na_array **out);

/* What na_dist_shard_model cut (splits.c): per parameter, each dim's name,
 * whole size and mesh axis (NULL: whole). */
typedef struct na__split_note {
    na_param *param;                       /* retained                       */
    int ndim;
    const char *name[NA_MAX_DIMS];
    const char *mesh_axis[NA_MAX_DIMS];
    int64_t global[NA_MAX_DIMS];
} na__split_note;

/* Note p's split (split[d] for each dim of p->value, taken before the cut). */
na_status na__split_note_add(na_param *p, const char *const *split);
/* The note of p, or NULL (not cut by na_dist_shard_model). */
const na__split_note *na__split_note_find(const na_param *p);
void na__split_notes_clear(void);
/* "f32[heads:8/2@model, projection:16]": whole sizes, "/n@axis" on split
 * dims. Returns the length it needed. */
size_t na__split_shape_str(const na_mesh *mesh, na_dtype dtype, int ndim,
                           const char *const *names, const int64_t *global,
                           const char *const *mesh_axis, char *buf, size_t cap);

#endif
