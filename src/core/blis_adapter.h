/* The BLIS adapter (blis_select.c, blis.c): the only place namedarr talks
 * to BLIS.
 *
 * Kernel selection happens once, on first use (blis_select.c): every BLIS
 * configuration in libblis.a that the CPU can run (skx, zen3, zen2, zen,
 * haswell, generic) is a candidate, whatever BLIS detected; when there is
 * more than one, a small product timed with each decides. Every product
 * below runs with the chosen context through BLIS's expert API.
 *
 * Matrices are given by (rows, cols, row stride, col stride), strides in
 * elements. The wrappers take an explicit thread count; inside an OpenMP
 * parallel region they always run single-threaded (no oversubscription).
 * A product with one row or one column goes to GEMV. Shapes BLIS cannot
 * take (zero or negative strides, overlapping general strides) run on the
 * plain-loop reference kernels, so the wrappers never fail; callers that
 * care about speed check na__blis_matrix_ok() first and pack.
 *
 * Not installed; prefix na__. This header does not include blis.h.
 */
#ifndef NAMEDARR_BLIS_ADAPTER_H
#define NAMEDARR_BLIS_ADAPTER_H

#include <stdbool.h>
#include <stdint.h>

typedef struct na__blis_choice {
    const char *version;     /* bli_info_get_version_str(): "0.9.0"        */
    const char *detected;    /* BLIS's own pick: "generic"                  */
    const char *config;      /* what namedarr uses: "skx"                   */
    const char *gemm_kernel; /* sgemm microkernel: "bli_sgemm_skx_asm_32x12_l2" */
    const char *reason;      /* one line on why                             */
} na__blis_choice;

/* Select the kernels (once, thread-safe) and describe the choice. The
 * strings are static. */
const na__blis_choice *na__blis(void);

/* The selected BLIS context, as a cntx_t* (for benchmarks and tests that
 * call BLIS's expert API directly with the same kernels). */
void *na__blis_cntx(void);

/* One candidate configuration: its name, sgemm microkernel, and measured
 * single-threaded GFLOP/s on the selection product (0: not measured). */
typedef struct na__blis_candidate {
    const char *config;
    const char *gemm_kernel;
    double gflops;
} na__blis_candidate;

/* Fill out[0..cap) with the candidates (preference order); returns how many
 * there are. */
int na__blis_candidates(na__blis_candidate *out, int cap);
/* The context of candidate `config`, or NULL if it is not one here. */
void *na__blis_config_cntx(const char *config);

/* One single-threaded sgemm with the kernels of candidate `config` ("skx",
 * "haswell", "generic", ...); false if it is not a candidate on this CPU
 * (tests check every candidate's kernels against the reference). */
bool na__sgemm_config(const char *config, int64_t m, int64_t n, int64_t k, float alpha,
                      const float *a, int64_t rsa, int64_t csa, const float *b,
                      int64_t rsb, int64_t csb, float beta, float *c, int64_t rsc,
                      int64_t csc);

/* The BLIS thread count a product may use: `requested` clamped to >= 1,
 * and 1 inside an OpenMP parallel region. */
int na__blis_threads(int requested);

/* Would BLIS take this rows x cols operand as is? Size-1 dims are ignored;
 * zero, negative, and inconsistent general strides are refused. */
bool na__blis_matrix_ok(int64_t rows, int64_t cols, int64_t rs, int64_t cs);

/* C = alpha * A B + beta * C, A m x k, B k x n, C m x n (C must not overlap
 * A or B; beta == 0 never reads C). m == 1 or n == 1 runs GEMV. k == 0
 * scales C by beta. */
void na__sgemm(int64_t m, int64_t n, int64_t k, float alpha, const float *a,
               int64_t rsa, int64_t csa, const float *b, int64_t rsb,
               int64_t csb, float beta, float *c, int64_t rsc, int64_t csc,
               int nthreads);
void na__dgemm(int64_t m, int64_t n, int64_t k, double alpha, const double *a,
               int64_t rsa, int64_t csa, const double *b, int64_t rsb,
               int64_t csb, double beta, double *c, int64_t rsc, int64_t csc,
               int nthreads);

/* y = alpha * A x + beta * y, A m x n, x of n, y of m. With nthreads > 1
 * (outside a parallel region) big products split y's rows over threads. */
void na__sgemv(int64_t m, int64_t n, float alpha, const float *a, int64_t rsa,
               int64_t csa, const float *x, int64_t incx, float beta, float *y,
               int64_t incy, int nthreads);
void na__dgemv(int64_t m, int64_t n, double alpha, const double *a,
               int64_t rsa, int64_t csa, const double *x, int64_t incx,
               double beta, double *y, int64_t incy, int nthreads);

/* Reference kernels (plain loops, double accumulation): the fallback for
 * layouts BLIS refuses, and a check for tests. */
void na__sgemm_ref(int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                   int64_t rsa, int64_t csa, const float *b, int64_t rsb,
                   int64_t csb, float beta, float *c, int64_t rsc, int64_t csc);
void na__dgemm_ref(int64_t m, int64_t n, int64_t k, double alpha,
                   const double *a, int64_t rsa, int64_t csa, const double *b,
                   int64_t rsb, int64_t csb, double beta, double *c,
                   int64_t rsc, int64_t csc);

#endif
