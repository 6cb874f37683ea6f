/* Small helpers of the dist module: MPI errors, shape strings, the
 * fingerprint exchange that turns a disagreement into an error on every
 * process instead of a hang. */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "dist_internal.h"

static na_dist_stats stats;

void na__dist_count(int64_t bytes, double t0)
{
    stats.calls++;
    stats.bytes += bytes;
    stats.seconds += MPI_Wtime() - t0;
}

void na_dist_stats_read(na_dist_stats *out)
{
    if (out)
        *out = stats;
}

void na_dist_stats_reset(void) { memset(&stats, 0, sizeof stats); }

na_status na__mpi_fail(int rc, const char *op)
{
    char msg[MPI_MAX_ERROR_STRING + 1] = "";
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS)
        snprintf(msg, sizeof msg, "MPI error %d", rc);
    return na_fail(NA_ERR_IO, "%s failed: %s", op, msg);
}

const char *na__dshape(const na_array *x)
{
    static _Thread_local char bufs[4][512];
    static _Thread_local int next;
    char *b = bufs[next++ & 3];
    na_shape_str(x, b, 512);
    return b;
}

MPI_Datatype na__mpi_type(na_dtype dtype)
{
    switch (dtype) {
    case NA_F32: return MPI_FLOAT;
    case NA_F64: return MPI_DOUBLE;
    case NA_I32: return MPI_INT32_T;
    default: return MPI_DATATYPE_NULL;
    }
}

/* What one process says before a collective. */
typedef struct fingerprint {
    uint64_t hash;
    int32_t status;
    char desc[500];
} fingerprint;

static void make_print(fingerprint *f, const char *op, const char *detail,
                       const na_array *x, na_status local)
{
    char full[1024];
    memset(f, 0, sizeof *f);
    if (local != NA_OK)
        snprintf(full, sizeof full, "%s", na_last_error());
    else
        snprintf(full, sizeof full, "%s %s %s", op, detail ? detail : "",
                 x ? na__dshape(x) : "");
    f->status = (int32_t)local;
    f->hash = local == NA_OK ? XXH64(full, strlen(full), 0x6e61) : 0;
    snprintf(f->desc, sizeof f->desc, "%.499s", full); /* desc holds 500 */
}

/* The same message on every process: the first failure, or each distinct
 * fingerprint with the first rank that sent it. */
static na_status explain(const fingerprint *all, int n, const char *op, const char *detail)
{
    for (int r = 0; r < n; r++)
        if (all[r].status != NA_OK)
            return na_fail((na_status)all[r].status, "%s: rank %d failed: %s", op, r,
                           all[r].desc);
    char msg[2048];
    size_t len = (size_t)snprintf(msg, sizeof msg, "%s%s%s: the processes disagree:", op,
                                  detail ? " " : "", detail ? detail : "");
    int shown = 0;
    for (int r = 0; r < n && shown < 4 && len < sizeof msg; r++) {
        bool seen = false;
        for (int q = 0; q < r; q++)
            seen |= all[q].hash == all[r].hash;
        if (!seen) {
            len += (size_t)snprintf(msg + len, sizeof msg - len, "%s rank %d has '%s'",
                                    shown ? ";" : "", r, all[r].desc);
            shown++;
        }
    }
    return na_fail(NA_ERR_SHAPE, "%s", msg);
}

na_status na__fingerprint_check(MPI_Comm comm, const char *op, const char *detail,
                                const na_array *x, na_status local)
{
    int n = 0;
    int rc = MPI_Comm_size(comm, &n);
    if (rc != MPI_SUCCESS)
        return na__mpi_fail(rc, op);
    fingerprint mine, *all = calloc((size_t)n, sizeof *all);
    if (!all)
        return na_fail(NA_ERR_NO_MEMORY, "%s: out of memory", op);
    make_print(&mine, op, detail, x, local);
    double t0 = MPI_Wtime();
    rc = MPI_Allgather(&mine, sizeof mine, MPI_BYTE, all, sizeof mine, MPI_BYTE, comm);
    stats.seconds += MPI_Wtime() - t0;
    na_status st = NA_OK;
    if (rc != MPI_SUCCESS) {
        st = na__mpi_fail(rc, op);
    } else {
        for (int r = 0; r < n && st == NA_OK; r++)
            if (all[r].status != NA_OK || all[r].hash != all[0].hash)
                st = explain(all, n, op, detail);
    }
    free(all);
    return st;
}
