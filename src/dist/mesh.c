/* Meshes of MPI processes with named axes, and axis mappings. */
#include <stdlib.h>
#include <string.h>

#include "dist_internal.h"

static bool we_initialised;

na_status na_dist_init(int *argc, char ***argv)
{
    int done = 0;
    MPI_Initialized(&done);
    if (done)
        return NA_OK;
    int provided = 0;
    int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS)
        return na__mpi_fail(rc, "na_dist_init: MPI_Init_thread");
    we_initialised = true;
    return NA_OK;
}

na_status na_dist_finalize(void)
{
    na__split_notes_clear();
    int done = 0;
    MPI_Finalized(&done);
    if (!we_initialised || done)
        return NA_OK;
    int rc = MPI_Finalize();
    return rc == MPI_SUCCESS ? NA_OK : na__mpi_fail(rc, "na_dist_finalize: MPI_Finalize");
}

int na__mesh_axis_index(const na_mesh *mesh, const char *name)
{
    const char *n = name ? na_intern(name) : NULL;
    for (int i = 0; mesh && n && i < mesh->naxes; i++)
        if (mesh->name[i] == n)
            return i;
    return -1;
}

static na_status check_axes(MPI_Comm comm, int naxes, const na_dim *axes, int *size)
{
    const char *who = "na_mesh_new";
    if (naxes < 1 || naxes > NA_MESH_MAX_AXES || !axes)
        return na_fail(NA_ERR_ARGUMENT, "%s: between 1 and %d mesh axes, not %d", who,
                       NA_MESH_MAX_AXES, naxes);
    int rc = MPI_Comm_size(comm, size);
    if (rc != MPI_SUCCESS)
        return na__mpi_fail(rc, "na_mesh_new: MPI_Comm_size");
    long prod = 1;
    for (int i = 0; i < naxes; i++) {
        if (!axes[i].name || !*axes[i].name || axes[i].size < 1)
            return na_fail(NA_ERR_ARGUMENT, "%s: mesh axis %d needs a name and a size "
                           ">= 1", who, i);
        for (int j = 0; j < i; j++)
            if (!strcmp(axes[i].name, axes[j].name))
                return na_fail(NA_ERR_AXIS, "%s: mesh axis '%s' repeats", who,
                               axes[i].name);
        prod *= axes[i].size;
    }
    if (prod != *size)
        return na_fail(NA_ERR_SHAPE, "%s: the mesh axes multiply to %ld processes but "
                       "the communicator has %d", who, prod, *size);
    return NA_OK;
}

/* The sub-communicator along axis i: same coordinates on the other axes. */
static int split_axis(na_mesh *m, int i)
{
    int color = 0;
    for (int j = 0; j < m->naxes; j++)
        if (j != i)
            color = color * m->dim[j] + m->coord[j];
    return MPI_Comm_split(m->comm, color, m->coord[i], &m->sub[i]);
}

static na_status mesh_build(na_mesh *m, MPI_Comm comm)
{
    int rc = MPI_Comm_dup(comm, &m->comm);
    if (rc != MPI_SUCCESS) {
        m->comm = MPI_COMM_NULL;
        return na__mpi_fail(rc, "na_mesh_new: MPI_Comm_dup");
    }
    MPI_Comm_set_errhandler(m->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(m->comm, &m->rank);
    int r = m->rank;
    for (int i = m->naxes - 1; i >= 0; i--) {
        m->coord[i] = r % m->dim[i];
        r /= m->dim[i];
    }
    for (int i = 0; i < m->naxes; i++) {
        if ((rc = split_axis(m, i)) != MPI_SUCCESS)
            return na__mpi_fail(rc, "na_mesh_new: MPI_Comm_split");
        MPI_Comm_set_errhandler(m->sub[i], MPI_ERRORS_RETURN);
    }
    return NA_OK;
}

na_status na_mesh_new(MPI_Comm comm, int naxes, const na_dim *axes, na_mesh **out)
{
    if (!out)
        return na_fail(NA_ERR_ARGUMENT, "na_mesh_new: out is NULL");
    *out = NULL;
    int size = 0;
    na_status st = check_axes(comm, naxes, axes, &size);
    if (st != NA_OK)
        return st;
    na_mesh *m = calloc(1, sizeof *m);
    if (!m)
        return na_fail(NA_ERR_NO_MEMORY, "na_mesh_new: out of memory");
    m->size = size, m->naxes = naxes;
    for (int i = 0; i < NA_MESH_MAX_AXES; i++)
        m->sub[i] = MPI_COMM_NULL;
    for (int i = 0; i < naxes; i++)
        m->name[i] = na_intern(axes[i].name), m->dim[i] = (int)axes[i].size;
    if ((st = mesh_build(m, comm)) != NA_OK) {
        na_mesh_free(m);
        return st;
    }
    *out = m;
    return NA_OK;
}

/* "data=2,model=-1" -> dims (names point into `buf`). */
static na_status parse_spec(const char *spec, char *buf, na_dim *dims, int *n)
{
    const char *who = "na_mesh_parse";
    *n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '='), *end = NULL;
        if (*n == NA_MESH_MAX_AXES || !eq || eq == tok)
            return na_fail(NA_ERR_ARGUMENT, "%s: bad mesh spec '%s' (want "
                           "\"axis=size,...\", at most %d axes)", who, spec,
                           NA_MESH_MAX_AXES);
        *eq = '\0';
        long v = strtol(eq + 1, &end, 10);
        if (end == eq + 1 || *end || (v < 1 && v != -1))
            return na_fail(NA_ERR_ARGUMENT, "%s: bad size for mesh axis '%s' in '%s'",
                           who, tok, spec);
        dims[(*n)++] = (na_dim){tok, v};
    }
    return *n ? NA_OK : na_fail(NA_ERR_ARGUMENT, "%s: empty mesh spec", who);
}

/* A size -1 takes what the others leave of the communicator. */
static na_status fill_rest(MPI_Comm comm, const char *spec, na_dim *dims, int n)
{
    int size = 0, free_at = -1;
    long prod = 1;
    int rc = MPI_Comm_size(comm, &size);
    if (rc != MPI_SUCCESS)
        return na__mpi_fail(rc, "na_mesh_parse: MPI_Comm_size");
    for (int i = 0; i < n; i++) {
        if (dims[i].size > 0) {
            prod *= dims[i].size;
        } else if (free_at >= 0) {
            return na_fail(NA_ERR_ARGUMENT, "na_mesh_parse: more than one size -1 in '%s'",
                           spec);
        } else {
            free_at = i;
        }
    }
    if (free_at >= 0)
        dims[free_at].size = size % prod ? 0 : size / prod;
    return NA_OK;
}

na_status na_mesh_parse(MPI_Comm comm, const char *spec, na_mesh **out)
{
    if (!spec || !out)
        return na_fail(NA_ERR_ARGUMENT, "na_mesh_parse: NULL %s", spec ? "out" : "spec");
    char *buf = strdup(spec);
    if (!buf)
        return na_fail(NA_ERR_NO_MEMORY, "na_mesh_parse: out of memory");
    na_dim dims[NA_MESH_MAX_AXES];
    int n = 0;
    na_status st = parse_spec(spec, buf, dims, &n);
    if (st == NA_OK)
        st = fill_rest(comm, spec, dims, n);
    if (st == NA_OK)
        st = na_mesh_new(comm, n, dims, out);
    free(buf);
    return st;
}

void na_mesh_free(na_mesh *mesh)
{
    if (!mesh)
        return;
    int done = 0;
    MPI_Finalized(&done);
    for (int i = 0; !done && i < NA_MESH_MAX_AXES; i++)
        if (mesh->sub[i] != MPI_COMM_NULL)
            MPI_Comm_free(&mesh->sub[i]);
    if (!done && mesh->comm != MPI_COMM_NULL)
        MPI_Comm_free(&mesh->comm);
    free(mesh);
}

int na_mesh_rank(const na_mesh *mesh) { return mesh ? mesh->rank : -1; }
int na_mesh_size(const na_mesh *mesh) { return mesh ? mesh->size : 0; }
int na_mesh_axis_count(const na_mesh *mesh) { return mesh ? mesh->naxes : 0; }

const char *na_mesh_axis_name(const na_mesh *mesh, int i)
{
    return mesh && i >= 0 && i < mesh->naxes ? mesh->name[i] : NULL;
}

int na_mesh_axis_size(const na_mesh *mesh, const char *axis)
{
    if (!axis)
        return 1;
    int i = na__mesh_axis_index(mesh, axis);
    return i < 0 ? -1 : mesh->dim[i];
}

int na_mesh_coord(const na_mesh *mesh, const char *axis)
{
    int i = na__mesh_axis_index(mesh, axis);
    return i < 0 ? 0 : mesh->coord[i];
}

MPI_Comm na_mesh_comm(const na_mesh *mesh, const char *axis)
{
    if (!mesh)
        return MPI_COMM_NULL;
    if (!axis)
        return mesh->comm;
    int i = na__mesh_axis_index(mesh, axis);
    return i < 0 ? MPI_COMM_NULL : mesh->sub[i];
}

size_t na_mesh_str(const na_mesh *mesh, char *buf, size_t cap)
{
    char tmp[512];
    size_t n = 0;
    if (!mesh) {
        n = (size_t)snprintf(tmp, sizeof tmp, "(null)");
    } else {
        n += (size_t)snprintf(tmp, sizeof tmp, "mesh{");
        for (int i = 0; i < mesh->naxes; i++)
            n += (size_t)snprintf(tmp + n, sizeof tmp - n, "%s%s:%d", i ? ", " : "",
                                  mesh->name[i], mesh->dim[i]);
        n += (size_t)snprintf(tmp + n, sizeof tmp - n, "} rank %d at ", mesh->rank);
        for (int i = 0; i < mesh->naxes; i++)
            n += (size_t)snprintf(tmp + n, sizeof tmp - n, "%s%s=%d", i ? ", " : "",
                                  mesh->name[i], mesh->coord[i]);
    }
    if (buf && cap)
        snprintf(buf, cap, "%s", tmp);
    return n;
}
