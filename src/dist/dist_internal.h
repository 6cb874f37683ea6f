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
};

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

#endif
