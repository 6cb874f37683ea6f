/* Matrix-vector kernels for decode steps (gemv.c): y = alpha * A x + beta * y
 * with A in f32 or bf16, x and y in f32. BLIS packs its operands even for a
 * product with one row, which makes a decode step 5-10x slower than a
 * matrix-vector pass that streams the weights once; these kernels read A
 * once, in its own layout, widening bf16 by a 16-bit shift.
 *
 * Kernel sets, chosen at run time from cpu.h: "avx512_bf16" (bf16 rows
 * times x by vdpbf16ps, x split into a bf16 high part and a bf16 remainder
 * so the products keep about 16 bits of x), "avx512" (AVX-512 F/BW/VL
 * widening loads) and "portable" (plain C). Rows of A with unit stride run
 * as dot products, columns with unit stride as scaled-row sums; other
 * layouts run the plain loops. Big products split y over threads (none
 * inside a parallel region).
 *
 * Not installed; prefix na__. */
#ifndef NAMEDARR_CORE_GEMV_H
#define NAMEDARR_CORE_GEMV_H

#include <stdbool.h>
#include <stdint.h>

#include "namedarr/array.h"

/* A is m x n: element (i, j) at a[i * rsa + j * csa]; x has n elements
 * (stride incx), y has m (stride incy); beta == 0 never reads y. */
void na__gemv_bf16(int64_t m, int64_t n, float alpha, const na_bf16 *a, int64_t rsa,
                   int64_t csa, const float *x, int64_t incx, float beta, float *y,
                   int64_t incy, int nthreads);
void na__gemv_f32(int64_t m, int64_t n, float alpha, const float *a, int64_t rsa,
                  int64_t csa, const float *x, int64_t incx, float beta, float *y,
                  int64_t incy, int nthreads);

/* Small-M products for batched decode steps: C (m x n) = A (m x k) B
 * (k x n), A in f32, B in f32 or bf16, C in f32; element (i, j) of X at
 * x[i * rsx + j * csx]. The rows of A (copied contiguous) are taken four at
 * a time, and each pass reads B once for all four, in its own layout
 * (rows of B contiguous, or columns); BLIS would pack B for every call.
 * Meant for m <= NA__GEMM_SMALL_M; C's columns split over threads when
 * the product is big (none inside a parallel region). */
#define NA__GEMM_SMALL_M 8
void na__gemm_small_f32(int64_t m, int64_t n, int64_t k, const float *a, int64_t rsa,
                        int64_t csa, const float *b, int64_t rsb, int64_t csb, float *c,
                        int64_t rsc, int64_t csc, int nthreads);
void na__gemm_small_bf16(int64_t m, int64_t n, int64_t k, const float *a, int64_t rsa,
                         int64_t csa, const na_bf16 *b, int64_t rsb, int64_t csb, float *c,
                         int64_t rsc, int64_t csc, int nthreads);

/* The kernel set in use ("avx512_bf16", "avx512", "portable"). */
const char *na__gemv_kernels(void);
/* Force a set by name (NULL: automatic again); false if this CPU cannot
 * run it. Tests run every set against the reference. */
bool na__gemv_force(const char *name);

#endif
