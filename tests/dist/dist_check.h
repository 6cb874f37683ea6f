/* A small harness for the MPI suites (tests/dist). Criterion runs each
 * test in a forked child, and an MPI process cannot be initialised again
 * in a fork, so these suites are plain programs run under mpirun: every
 * process runs every case in the same order, failures are counted per
 * process and summed over all of them at the end; the exit status is
 * non-zero on every process if any check failed anywhere. */
#ifndef NAMEDARR_DIST_CHECK_H
#define NAMEDARR_DIST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "namedarr/dist.h"

static int dc_failures, dc_checks, dc_rank;
static const char *dc_case = "";

#define DC_CHECK(cond, ...)                                                  \
    do {                                                                     \
        dc_checks++;                                                         \
        if (!(cond)) {                                                       \
            dc_failures++;                                                   \
            fprintf(stderr, "[rank %d] %s:%d in %s: check failed: %s: ", dc_rank, \
                    __FILE__, __LINE__, dc_case, #cond);                     \
            fprintf(stderr, __VA_ARGS__);                                    \
            fprintf(stderr, "\n");                                           \
        }                                                                    \
    } while (0)

/* A call that must succeed; prints the library's message otherwise. */
#define DC_OK(call) DC_CHECK((call) == NA_OK, "%s", na_last_error())

/* The message of the last failure contains `part`. */
#define DC_MSG_HAS(part)                                                     \
    DC_CHECK(strstr(na_last_error(), (part)) != NULL, "message '%s' lacks '%s'", \
             na_last_error(), (part))

/* x and y equal within tol (by name). */
#define DC_CLOSE(x, y, tol)                                                  \
    do {                                                                     \
        double dc_d = -1;                                                    \
        DC_OK(na_max_abs_diff((x), (y), &dc_d));                             \
        DC_CHECK(dc_d >= 0 && dc_d <= (tol), "max |diff| %g > %g", dc_d, (double)(tol)); \
    } while (0)

#define DC_RUN(fn)                                                           \
    do {                                                                     \
        dc_case = #fn;                                                       \
        int dc_before = dc_failures;                                         \
        fn();                                                                \
        if (dc_rank == 0)                                                    \
            printf("%-40s %s\n", #fn, dc_failures == dc_before ? "ok" : "FAILED"); \
        fflush(stdout);                                                      \
    } while (0)

/* Sum of the failures over all processes; prints the summary on rank 0. */
static int dc_finish(void)
{
    int total = 0, checks = 0;
    MPI_Allreduce(&dc_failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(&dc_checks, &checks, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (dc_rank == 0)
        printf("%d checks, %d failed\n", checks, total);
    return total ? 1 : 0;
}

/* MPI up, dc_rank and *world set; non-zero if MPI cannot start. */
static int dc_init(int *argc, char ***argv, int *world)
{
    if (na_dist_init(argc, argv) != NA_OK)
        return 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &dc_rank);
    MPI_Comm_size(MPI_COMM_WORLD, world);
    return 0;
}

/* The summary (dc_finish), then MPI down: the exit status. */
static int dc_end(void)
{
    int rc = dc_finish();
    na_dist_finalize();
    return rc;
}

#endif
