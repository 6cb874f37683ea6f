/* Collectives by name over a mesh axis: all-reduce, all-gather,
 * reduce-scatter, broadcast, and agreeing on a local outcome. Each one
 * first exchanges a fingerprint (util.c), so a disagreement is an error on
 * every process rather than a hang or a corrupt buffer. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "dist_internal.h"

/* The group's communicator and its size, or a failure (recorded). */
static na_status group(const na_mesh *mesh, const char *mesh_axis, const char *op,
                       MPI_Comm *comm, int *size)
{
    if (!mesh)
        return na_fail(NA_ERR_ARGUMENT, "%s: mesh is NULL", op);
    if (mesh_axis && na__mesh_axis_index(mesh, mesh_axis) < 0)
        return na_fail(NA_ERR_AXIS, "%s: the mesh has no axis '%s'", op, mesh_axis);
    *comm = na_mesh_comm(mesh, mesh_axis);
    *size = na_mesh_axis_size(mesh, mesh_axis);
    if (!mesh_axis)
        *size = mesh->size;
    return NA_OK;
}

/* Local checks of x for `op`; `axis` (may be NULL) must be one of its
 * named axes, and then x must have named axes only. */
static na_status check_input(const char *op, const na_array *x, const char *axis,
                             bool reduce)
{
    if (!x)
        return na_fail(NA_ERR_ARGUMENT, "%s: x is NULL", op);
    if (reduce && x->dtype != NA_BF16 && na__mpi_type(x->dtype) == MPI_DATATYPE_NULL)
        return na_fail(NA_ERR_DTYPE, "%s: cannot reduce %s (f32, f64, i32 or bf16)", op,
                       na__dshape(x));
    if (na_size(x) > INT_MAX)
        return na_fail(NA_ERR_SHAPE, "%s: %s has more than %d elements", op,
                       na__dshape(x), INT_MAX);
    if (axis && (na_positional_count(x) || na_axis_index(x, axis) < 0))
        return na_fail(NA_ERR_AXIS, "%s: %s %s", op, na__dshape(x),
                       na_positional_count(x) ? "has positional axes"
                                              : "lacks the gathered axis");
    return NA_OK;
}

/* Fingerprint first, then the group: the local status travels too. */
static na_status prologue(const na_mesh *mesh, const char *mesh_axis, const char *op,
                          const char *detail, const na_array *x, na_status local,
                          MPI_Comm *comm, int *size)
{
    na_status st = group(mesh, mesh_axis, op, comm, size);
    if (st != NA_OK)
        return st; /* the same on every process: the mesh is shared */
    return na__fingerprint_check(*comm, op, detail, x, local);
}

/* A copy to reduce in place: bf16 widened to f32 (sums accumulate in f32). */
static na_status reduce_copy(const na_array *x, na_array **out)
{
    return x->dtype == NA_BF16 ? na_astype(x, NA_F32, out) : na_copy(x, out);
}

/* The reduced copy back in x's dtype (bf16 rounded once, at the end). */
static na_status reduce_result(const na_array *x, na_array *y, na_array **out)
{
    if (x->dtype != NA_BF16) {
        *out = y;
        return NA_OK;
    }
    na_status st = na_astype(y, NA_BF16, out);
    na_array_free(y);
    return st;
}

na_status na_all_reduce(const na_mesh *mesh, const char *mesh_axis, na_reduce_op op,
                        const na_array *x, na_array **out)
{
    const char *who = "na_all_reduce";
    char detail[96];
    snprintf(detail, sizeof detail, "%s over '%s'", op == NA_REDUCE_MAX ? "max" : "sum",
             mesh_axis ? mesh_axis : "(all)");
    na_status local = out ? check_input(who, x, NULL, true)
                          : na_fail(NA_ERR_ARGUMENT, "%s: out is NULL", who);
    MPI_Comm comm = MPI_COMM_NULL;
    int size = 0;
    na_status st = prologue(mesh, mesh_axis, who, detail, x, local, &comm, &size);
    na_array *y = NULL;
    if (st == NA_OK)
        st = reduce_copy(x, &y);
    if (st == NA_OK && size > 1) {
        double t0 = MPI_Wtime();
        int rc = MPI_Allreduce(MPI_IN_PLACE, na_data(y), (int)na_size(y),
                               na__mpi_type(y->dtype), op == NA_REDUCE_MAX ? MPI_MAX : MPI_SUM,
                               comm);
        na__dist_count(na_size(y) * (int64_t)na_dtype_size(y->dtype), t0);
        if (rc != MPI_SUCCESS)
            st = na__mpi_fail(rc, "na_all_reduce: MPI_Allreduce");
    }
    if (st != NA_OK) {
        na_array_free(y);
        return st;
    }
    return reduce_result(x, y, out);
}

/* x with `axis` first (a contiguous copy); names[] gets the original
 * order (NULL-terminated) for putting it back. */
static na_status axis_first(const na_array *x, const char *axis, const char **names,
                            na_array **out)
{
    const char *first[NA_MAX_DIMS + 1];
    const char *a = na_intern(axis);
    int n = 1;
    first[0] = a;
    for (int d = 0; d < x->ndim; d++) {
        names[d] = x->name[d];
        if (x->name[d] != a)
            first[n++] = x->name[d];
    }
    names[x->ndim] = NULL;
    first[n] = NULL;
    na_array *v = NULL;
    na_status st = na_order_as(x, first, &v);
    if (st == NA_OK)
        st = na_copy(v, out);
    na_array_free(v);
    return st;
}

/* An array over `buf` (taken) shaped like `like` but with axis 0 of size
 * n0, put back in the order `names`, as a contiguous copy. */
static na_status from_buffer(const na_array *like, int64_t n0, void *buf,
                             const char *const *names, na_array **out)
{
    na_dim dims[NA_MAX_DIMS];
    for (int d = 0; d < like->ndim; d++)
        dims[d] = (na_dim){like->name[d], d ? like->shape[d] : n0};
    na_array *w = NULL, *v = NULL;
    na_status st = na_wrap(like->dtype, like->ndim, dims, buf, free, buf, &w);
    if (st != NA_OK) {
        free(buf);
        return st;
    }
    st = na_order_as(w, names, &v);
    if (st == NA_OK)
        st = na_copy(v, out);
    na_array_free(v);
    na_array_free(w);
    return st;
}

typedef na_status (*along_data)(MPI_Comm comm, int size, const na_array *first,
                                const char *const *names, na_array **out);

static na_status gather_data(MPI_Comm comm, int size, const na_array *first,
                             const char *const *names, na_array **out)
{
    size_t esz = na_dtype_size(first->dtype);
    int64_t n = na_size(first);
    if (n * size > INT_MAX)
        return na_fail(NA_ERR_SHAPE, "na_all_gather: %d x %s is more than %d elements",
                       size, na__dshape(first), INT_MAX);
    void *buf = malloc((size_t)(n * size) * esz + 1);
    if (!buf)
        return na_fail(NA_ERR_NO_MEMORY, "na_all_gather: out of memory");
    double t0 = MPI_Wtime();
    int rc = MPI_Allgather(na_data(first), (int)(n * (int64_t)esz), MPI_BYTE, buf,
                           (int)(n * (int64_t)esz), MPI_BYTE, comm);
    na__dist_count(n * (int64_t)esz, t0);
    if (rc != MPI_SUCCESS) {
        free(buf);
        return na__mpi_fail(rc, "na_all_gather: MPI_Allgather");
    }
    return from_buffer(first, first->shape[0] * size, buf, names, out);
}

/* Sums in f32 for bf16 (`first` is then f32; the result is rounded back
 * by the caller). */
static na_status scatter_data(MPI_Comm comm, int size, const na_array *first,
                              const char *const *names, na_array **out)
{
    int64_t block = na_size(first) / size;
    size_t esz = na_dtype_size(first->dtype);
    void *buf = malloc((size_t)block * esz + 1);
    if (!buf)
        return na_fail(NA_ERR_NO_MEMORY, "na_reduce_scatter: out of memory");
    double t0 = MPI_Wtime();
    int rc = MPI_Reduce_scatter_block(na_data(first), buf, (int)block,
                                      na__mpi_type(first->dtype), MPI_SUM, comm);
    na__dist_count(na_size(first) * (int64_t)esz, t0);
    if (rc != MPI_SUCCESS) {
        free(buf);
        return na__mpi_fail(rc, "na_reduce_scatter: MPI_Reduce_scatter_block");
    }
    return from_buffer(first, first->shape[0] / size, buf, names, out);
}

/* The shared body of the collectives along a named array axis: local
 * checks (a reduce-scatter also needs the axis to split evenly), the
 * fingerprint, `axis` moved first, then `data` moves it. */
static na_status along_axis(const na_mesh *mesh, const char *mesh_axis, const char *who,
                            const na_array *x, const char *axis, bool reduce,
                            along_data data, na_array **out)
{
    char detail[128];
    snprintf(detail, sizeof detail, "of '%s' over '%s'", axis ? axis : "(null)",
             mesh_axis ? mesh_axis : "(all)");
    na_status local = out && axis ? check_input(who, x, axis, reduce)
                                  : na_fail(NA_ERR_ARGUMENT, "%s: %s is NULL", who,
                                            out ? "axis" : "out");
    int parts = mesh ? (mesh_axis ? na_mesh_axis_size(mesh, mesh_axis) : mesh->size) : 1;
    if (reduce && local == NA_OK && parts > 0 && na_axis_size(x, axis) % parts)
        local = na_fail(NA_ERR_SHAPE, "%s: axis '%s' of %s does not split into %d "
                        "equal blocks", who, axis, na__dshape(x), parts);
    MPI_Comm comm = MPI_COMM_NULL;
    int size = 0;
    na_status st = prologue(mesh, mesh_axis, who, detail, x, local, &comm, &size);
    if (st != NA_OK)
        return st;
    const char *names[NA_MAX_DIMS + 1];
    na_array *wide = NULL, *first = NULL, *y = NULL;
    st = reduce ? reduce_copy(x, &wide) : na_array_ref(x, &wide);
    if (st == NA_OK)
        st = axis_first(wide, axis, names, &first);
    if (st == NA_OK)
        st = data(comm, size, first, names, &y);
    na_array_free(first);
    na_array_free(wide);
    if (st != NA_OK)
        return st;
    if (reduce)
        return reduce_result(x, y, out);
    *out = y;
    return NA_OK;
}

na_status na_all_gather(const na_mesh *mesh, const char *mesh_axis, const na_array *x,
                        const char *axis, na_array **out)
{
    return along_axis(mesh, mesh_axis, "na_all_gather", x, axis, false, gather_data, out);
}

na_status na_reduce_scatter(const na_mesh *mesh, const char *mesh_axis,
                            const na_array *x, const char *axis, na_array **out)
{
    return along_axis(mesh, mesh_axis, "na_reduce_scatter", x, axis, true, scatter_data,
                      out);
}

/* ---- broadcast: the header (dtype and named shape) travels first ------- */

typedef struct bcast_header {
    int32_t dtype, ndim;
    int64_t size[NA_MAX_DIMS];
    char name[NA_MAX_DIMS][64];
} bcast_header;

static na_status pack_header(const na_array *x, bcast_header *h)
{
    memset(h, 0, sizeof *h);
    h->dtype = (int32_t)x->dtype, h->ndim = x->ndim;
    for (int d = 0; d < x->ndim; d++) {
        h->size[d] = x->shape[d];
        if (x->name[d] && strlen(x->name[d]) >= sizeof h->name[d])
            return na_fail(NA_ERR_AXIS, "na_broadcast: axis name '%s' is longer than %zu "
                           "bytes", x->name[d], sizeof h->name[d] - 1);
        if (x->name[d])
            snprintf(h->name[d], sizeof h->name[d], "%s", x->name[d]);
    }
    return na_size(x) > INT_MAX ? na_fail(NA_ERR_SHAPE, "na_broadcast: %s has more "
                                          "than %d elements", na__dshape(x), INT_MAX)
                                : NA_OK;
}

static na_status receive(MPI_Comm comm, int root, bool is_root, const na_array *x,
                         na_array **out)
{
    bcast_header h;
    if (is_root)
        pack_header(x, &h); /* checked before the fingerprint */
    int rc = MPI_Bcast(&h, sizeof h, MPI_BYTE, root, comm);
    if (rc != MPI_SUCCESS)
        return na__mpi_fail(rc, "na_broadcast: MPI_Bcast");
    na_dim dims[NA_MAX_DIMS];
    for (int d = 0; d < h.ndim; d++)
        dims[d] = (na_dim){h.name[d][0] ? h.name[d] : NULL, h.size[d]};
    na_array *y = NULL;
    na_status st = is_root ? na_copy(x, &y) : na_empty((na_dtype)h.dtype, h.ndim, dims, &y);
    if (st != NA_OK)
        return st; /* the others wait in MPI_Bcast: see na_broadcast */
    double t0 = MPI_Wtime();
    rc = MPI_Bcast(na_data(y), (int)(na_size(y) * (int64_t)na_dtype_size(y->dtype)),
                   MPI_BYTE, root, comm);
    na__dist_count(is_root ? na_size(y) * (int64_t)na_dtype_size(y->dtype) : 0, t0);
    if (rc != MPI_SUCCESS) {
        na_array_free(y);
        return na__mpi_fail(rc, "na_broadcast: MPI_Bcast");
    }
    *out = y;
    return NA_OK;
}

na_status na_broadcast(const na_mesh *mesh, const char *mesh_axis, int root,
                       const na_array *x, na_array **out)
{
    const char *who = "na_broadcast";
    char detail[96];
    snprintf(detail, sizeof detail, "from %d over '%s'", root,
             mesh_axis ? mesh_axis : "(all)");
    int parts = mesh ? (mesh_axis ? na_mesh_axis_size(mesh, mesh_axis) : mesh->size) : 1;
    bool is_root = mesh && (mesh_axis ? na_mesh_coord(mesh, mesh_axis) : mesh->rank) == root;
    na_status local = NA_OK;
    bcast_header h;
    if (!out)
        local = na_fail(NA_ERR_ARGUMENT, "%s: out is NULL", who);
    else if (root < 0 || root >= parts)
        local = na_fail(NA_ERR_ARGUMENT, "%s: root %d outside 0..%d", who, root, parts - 1);
    else if (is_root && !x)
        local = na_fail(NA_ERR_ARGUMENT, "%s: x is NULL on the root", who);
    else if (is_root)
        local = pack_header(x, &h);
    MPI_Comm comm = MPI_COMM_NULL;
    int size = 0;
    na_status st = prologue(mesh, mesh_axis, who, detail, NULL, local, &comm, &size);
    return st == NA_OK ? receive(comm, root, is_root, x, out) : st;
}

na_status na_dist_agree(const na_mesh *mesh, na_status local, const char *what)
{
    MPI_Comm comm = MPI_COMM_NULL;
    int size = 0;
    na_status st = group(mesh, NULL, what ? what : "na_dist_agree", &comm, &size);
    if (st != NA_OK)
        return st;
    return na__fingerprint_check(comm, what ? what : "na_dist_agree", NULL, NULL, local);
}
