/* Matrix-vector kernels for decode (see gemv.h). */
#include <immintrin.h>
#include <omp.h>
#include <stdatomic.h>
#include <string.h>

#include "blis_adapter.h"
#include "cpu.h"
#include "gemv.h"
#include "internal.h"

#define CHUNK 256 /* rows of y per kernel call (the axpy form's registers) */

/* Raw sums out[i] = sum_j A(i, j) x[j] for i < m <= CHUNK, x contiguous.
 * dot: A(i, j) = a[i * rs + j]; axpy: A(i, j) = a[i + j * cs]. `xb` is x
 * as bf16 high parts then remainders (2n values) for the bf16 dot kernel. */
typedef void (*dot_fn)(int64_t m, int64_t n, const void *a, int64_t rs, const float *x,
                       const na_bf16 *xb, float *out);
typedef void (*axpy_fn)(int64_t m, int64_t n, const void *a, int64_t cs, const float *x,
                        float *out);

/* Small-M products, rows of A (m <= 4, row stride k, contiguous) times B:
 * out[r * ldo + j] = sum_p a[r * k + p] B(p, j) for j < n <= CHUNK.
 * rows: B(p, j) = b[p * rs + j] (B's rows contiguous: one pass over them
 * serves every row of A); cols: B(p, j) = b[p + j * cs]. */
typedef void (*small_fn)(int m, int64_t n, int64_t k, const float *a, const void *b,
                         int64_t s, float *out, int64_t ldo);

typedef struct gemv_ops {
    const char *name;
    dot_fn dot_bf16, dot_f32;
    axpy_fn axpy_bf16, axpy_f32;
    small_fn rows_bf16, rows_f32, cols_bf16, cols_f32;
} gemv_ops;

/* ---- portable ------------------------------------------------------------ */

static inline float wide(na_bf16 b)
{
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

#define PORTABLE(SUF, T, LOAD)                                                           \
    static void dot_##SUF##_c(int64_t m, int64_t n, const void *a, int64_t rs,           \
                              const float *x, const na_bf16 *xb, float *out)             \
    {                                                                                    \
        (void)xb;                                                                        \
        for (int64_t i = 0; i < m; i++) {                                                \
            const T *r = (const T *)a + i * rs;                                          \
            float acc[8] = {0};                                                          \
            int64_t j = 0;                                                               \
            for (; j + 8 <= n; j += 8)                                                   \
                for (int e = 0; e < 8; e++)                                              \
                    acc[e] += LOAD(r[j + e]) * x[j + e];                                 \
            for (; j < n; j++)                                                           \
                acc[0] += LOAD(r[j]) * x[j];                                             \
            out[i] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) +                           \
                     ((acc[4] + acc[5]) + (acc[6] + acc[7]));                            \
        }                                                                                \
    }                                                                                    \
    static void axpy_##SUF##_c(int64_t m, int64_t n, const void *a, int64_t cs,          \
                               const float *x, float *out)                               \
    {                                                                                    \
        for (int64_t i = 0; i < m; i++)                                                  \
            out[i] = 0;                                                                  \
        for (int64_t j = 0; j < n; j++) {                                                \
            const T *c = (const T *)a + j * cs;                                          \
            for (int64_t i = 0; i < m; i++)                                              \
                out[i] += LOAD(c[i]) * x[j];                                             \
        }                                                                                \
    }

#define SMALL_PORTABLE(SUF, T, LOAD)                                                     \
    static void rows_##SUF##_c(int m, int64_t n, int64_t k, const float *a, const void *b, \
                               int64_t rs, float *out, int64_t ldo)                      \
    {                                                                                    \
        for (int r = 0; r < m; r++)                                                      \
            for (int64_t j = 0; j < n; j++)                                              \
                out[r * ldo + j] = 0;                                                    \
        for (int64_t p = 0; p < k; p++) {                                                \
            const T *row = (const T *)b + p * rs;                                        \
            for (int r = 0; r < m; r++) {                                                \
                float ap = a[r * k + p];                                                 \
                for (int64_t j = 0; j < n; j++)                                          \
                    out[r * ldo + j] += ap * LOAD(row[j]);                               \
            }                                                                            \
        }                                                                                \
    }                                                                                    \
    static void cols_##SUF##_c(int m, int64_t n, int64_t k, const float *a, const void *b, \
                               int64_t cs, float *out, int64_t ldo)                      \
    {                                                                                    \
        for (int r = 0; r < m; r++)                                                      \
            dot_##SUF##_c(n, k, b, cs, a + r * k, NULL, out + r * ldo);                  \
    }

#define ID(v) (v)
PORTABLE(bf16, na_bf16, wide)
PORTABLE(f32, float, ID)
SMALL_PORTABLE(bf16, na_bf16, wide)
SMALL_PORTABLE(f32, float, ID)

static const gemv_ops ops_portable = {"portable",  dot_bf16_c,  dot_f32_c,
                                      axpy_bf16_c, axpy_f32_c,  rows_bf16_c,
                                      rows_f32_c,  cols_bf16_c, cols_f32_c};

/* ---- AVX-512 ------------------------------------------------------------- */

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))
#define AVX512_INLINE static inline __attribute__((always_inline)) AVX512

static inline __mmask16 tail16(int64_t n) { return n >= 16 ? 0xffff : (__mmask16)((1u << n) - 1); }

/* 16 elements (the first `k` of them, the rest 0) as f32. */
AVX512_INLINE __m512 load_bf16(const na_bf16 *p, __mmask16 k)
{
    __m256i h = _mm256_maskz_loadu_epi16(k, p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

AVX512_INLINE __m512 load_f32(const float *p, __mmask16 k)
{
    return _mm512_maskz_loadu_ps(k, p);
}

/* Four rows at a time, two accumulators per row (eight FMA chains). */
#define DOT512(SUF, T)                                                                   \
    AVX512 static void dot_##SUF##_512(int64_t m, int64_t n, const void *a, int64_t rs,  \
                                       const float *x, const na_bf16 *xb, float *out)    \
    {                                                                                    \
        (void)xb;                                                                        \
        const T *base = a;                                                               \
        for (int64_t i = 0; i < m; i += 4) {                                             \
            int nr = m - i < 4 ? (int)(m - i) : 4;                                       \
            __m512 acc[4][2];                                                            \
            for (int r = 0; r < 4; r++)                                                  \
                acc[r][0] = acc[r][1] = _mm512_setzero_ps();                             \
            const T *row[4];                                                             \
            for (int r = 0; r < 4; r++)                                                  \
                row[r] = base + (i + (r < nr ? r : 0)) * rs;                             \
            int64_t j = 0;                                                               \
            for (; j + 32 <= n; j += 32) {                                               \
                __m512 x0 = _mm512_loadu_ps(x + j), x1 = _mm512_loadu_ps(x + j + 16);    \
                for (int r = 0; r < 4; r++) {                                            \
                    acc[r][0] = _mm512_fmadd_ps(load_##SUF(row[r] + j, 0xffff), x0,      \
                                                acc[r][0]);                              \
                    acc[r][1] = _mm512_fmadd_ps(load_##SUF(row[r] + j + 16, 0xffff), x1, \
                                                acc[r][1]);                              \
                }                                                                        \
            }                                                                            \
            for (; j < n; j += 16) {                                                     \
                __mmask16 k = tail16(n - j);                                             \
                __m512 x0 = _mm512_maskz_loadu_ps(k, x + j);                             \
                for (int r = 0; r < 4; r++)                                              \
                    acc[r][0] = _mm512_fmadd_ps(load_##SUF(row[r] + j, k), x0, acc[r][0]); \
            }                                                                            \
            for (int r = 0; r < nr; r++)                                                 \
                out[i + r] = _mm512_reduce_add_ps(_mm512_add_ps(acc[r][0], acc[r][1]));  \
        }                                                                                \
    }

/* Up to CHUNK outputs in 16 registers... in blocks of 64 (4 vectors). */
#define AXPY512(SUF, T)                                                                  \
    AVX512 static void axpy_##SUF##_512(int64_t m, int64_t n, const void *a, int64_t cs, \
                                        const float *x, float *out)                      \
    {                                                                                    \
        const T *base = a;                                                               \
        for (int64_t i = 0; i < m; i += 64) {                                            \
            __mmask16 k[4];                                                              \
            __m512 acc[4];                                                               \
            for (int v = 0; v < 4; v++) {                                                \
                int64_t left = m - i - 16 * v;                                           \
                k[v] = left <= 0 ? 0 : tail16(left);                                     \
                acc[v] = _mm512_setzero_ps();                                            \
            }                                                                            \
            for (int64_t j = 0; j < n; j++) {                                            \
                __m512 xj = _mm512_set1_ps(x[j]);                                        \
                const T *c = base + j * cs + i;                                          \
                for (int v = 0; v < 4; v++)                                              \
                    acc[v] = _mm512_fmadd_ps(load_##SUF(c + 16 * v, k[v]), xj, acc[v]);  \
            }                                                                            \
            for (int v = 0; v < 4; v++)                                                  \
                _mm512_mask_storeu_ps(out + i + 16 * v, k[v], acc[v]);                   \
        }                                                                                \
    }

/* m <= 4 rows of A times B's rows: 64 outputs per row in registers
 * (16 accumulators), each row of B loaded once for all rows of A. */
#define ROWS512(SUF, T)                                                                  \
    AVX512 static void rows_##SUF##_512(int m, int64_t n, int64_t k, const float *a,     \
                                        const void *b, int64_t rs, float *out,           \
                                        int64_t ldo)                                     \
    {                                                                                    \
        const T *base = b;                                                               \
        for (int64_t j0 = 0; j0 < n; j0 += 64) {                                         \
            __mmask16 msk[4];                                                            \
            __m512 acc[4][4];                                                            \
            for (int v = 0; v < 4; v++) {                                                \
                int64_t left = n - j0 - 16 * v;                                          \
                msk[v] = left <= 0 ? 0 : tail16(left);                                   \
                for (int r = 0; r < 4; r++)                                              \
                    acc[r][v] = _mm512_setzero_ps();                                     \
            }                                                                            \
            for (int64_t p = 0; p < k; p++) {                                            \
                const T *row = base + p * rs + j0;                                       \
                __m512 bv[4];                                                            \
                for (int v = 0; v < 4; v++)                                              \
                    bv[v] = load_##SUF(row + 16 * v, msk[v]);                            \
                for (int r = 0; r < 4; r++) {                                            \
                    if (r >= m)                                                          \
                        break;                                                           \
                    __m512 ar = _mm512_set1_ps(a[r * k + p]);                            \
                    for (int v = 0; v < 4; v++)                                          \
                        acc[r][v] = _mm512_fmadd_ps(ar, bv[v], acc[r][v]);               \
                }                                                                        \
            }                                                                            \
            for (int r = 0; r < m; r++)                                                  \
                for (int v = 0; v < 4; v++)                                              \
                    _mm512_mask_storeu_ps(out + r * ldo + j0 + 16 * v, msk[v], acc[r][v]); \
        }                                                                                \
    }

/* m <= 4 rows of A times columns of B (each contiguous along k): four
 * columns at a time, each loaded once for all rows of A. */
#define COLS512(SUF, T)                                                                  \
    AVX512 static void cols_##SUF##_512(int m, int64_t n, int64_t k, const float *a,     \
                                        const void *b, int64_t cs, float *out,           \
                                        int64_t ldo)                                     \
    {                                                                                    \
        const T *base = b;                                                               \
        for (int64_t j = 0; j < n; j += 4) {                                             \
            int nc = n - j < 4 ? (int)(n - j) : 4;                                       \
            const T *col[4];                                                             \
            __m512 acc[4][4];                                                            \
            for (int c = 0; c < 4; c++) {                                                \
                col[c] = base + (j + (c < nc ? c : 0)) * cs;                             \
                for (int r = 0; r < 4; r++)                                              \
                    acc[r][c] = _mm512_setzero_ps();                                     \
            }                                                                            \
            for (int64_t p = 0; p < k; p += 16) {                                        \
                __mmask16 t = tail16(k - p);                                             \
                __m512 bv[4];                                                            \
                for (int c = 0; c < 4; c++)                                              \
                    bv[c] = load_##SUF(col[c] + p, t);                                   \
                for (int r = 0; r < 4; r++) {                                            \
                    if (r >= m)                                                          \
                        break;                                                           \
                    __m512 ar = _mm512_maskz_loadu_ps(t, a + r * k + p);                 \
                    for (int c = 0; c < 4; c++)                                          \
                        acc[r][c] = _mm512_fmadd_ps(ar, bv[c], acc[r][c]);               \
                }                                                                        \
            }                                                                            \
            for (int r = 0; r < m; r++)                                                  \
                for (int c = 0; c < nc; c++)                                             \
                    out[r * ldo + j + c] = _mm512_reduce_add_ps(acc[r][c]);              \
        }                                                                                \
    }

DOT512(bf16, na_bf16)
DOT512(f32, float)
AXPY512(bf16, na_bf16)
AXPY512(f32, float)
ROWS512(bf16, na_bf16)
ROWS512(f32, float)
COLS512(bf16, na_bf16)
COLS512(f32, float)

static const gemv_ops ops_avx512 = {"avx512",      dot_bf16_512,  dot_f32_512,
                                    axpy_bf16_512, axpy_f32_512,  rows_bf16_512,
                                    rows_f32_512,  cols_bf16_512, cols_f32_512};

/* ---- AVX512-BF16 ----------------------------------------------------------- */

#define BF16TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma")))

/* One row: a . xh + a . xl over pairs of bf16, 32 elements a step. */
BF16TGT static void dot_bf16_dp(int64_t m, int64_t n, const void *a, int64_t rs,
                                const float *x, const na_bf16 *xb, float *out)
{
    const na_bf16 *base = a, *xh = xb, *xl = xb + n;
    for (int64_t i = 0; i < m; i++) {
        const na_bf16 *r = base + i * rs;
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
        int64_t j = 0;
        for (; j + 32 <= n; j += 32) {
            __m512bh av = (__m512bh)_mm512_loadu_si512(r + j);
            acc0 = _mm512_dpbf16_ps(acc0, av, (__m512bh)_mm512_loadu_si512(xh + j));
            acc1 = _mm512_dpbf16_ps(acc1, av, (__m512bh)_mm512_loadu_si512(xl + j));
        }
        float tail = 0;
        for (; j < n; j++)
            tail += wide(r[j]) * x[j];
        out[i] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + tail;
    }
}

static const gemv_ops ops_avx512_bf16 = {
    "avx512_bf16", dot_bf16_dp,   dot_f32_512,  axpy_bf16_512, axpy_f32_512,
    rows_bf16_512, rows_f32_512,  cols_bf16_512, cols_f32_512};

/* ---- selection ------------------------------------------------------------- */

static _Atomic(const gemv_ops *) g_forced;

static const gemv_ops *ops(void)
{
    const gemv_ops *f = atomic_load_explicit(&g_forced, memory_order_relaxed);
    if (f)
        return f;
    return na__cpu_avx512_bf16() ? &ops_avx512_bf16
           : na__cpu_avx512()    ? &ops_avx512
                                 : &ops_portable;
}

const char *na__gemv_kernels(void) { return ops()->name; }

bool na__gemv_force(const char *name)
{
    const gemv_ops *f = NULL;
    if (name && strcmp(name, "portable") == 0)
        f = &ops_portable;
    else if (name && strcmp(name, "avx512") == 0 && na__cpu_avx512())
        f = &ops_avx512;
    else if (name && strcmp(name, "avx512_bf16") == 0 && na__cpu_avx512_bf16())
        f = &ops_avx512_bf16;
    else if (name)
        return false;
    atomic_store(&g_forced, f);
    return true;
}

/* ---- the driver ------------------------------------------------------------ */

typedef struct gemv_job {
    const gemv_ops *o;
    bool bf16;
    const void *a;
    int64_t rsa, csa, n;
    const float *x;    /* contiguous, or NULL: use xs/incx (strided path) */
    const na_bf16 *xb; /* x split into bf16 high parts and remainders     */
    const float *xs;
    int64_t incx;
    float alpha, beta;
    float *y;
    int64_t incy;
} gemv_job;

/* Any layout, plain loops (no temporaries). */
static void strided(const gemv_job *j, int64_t i0, int64_t m, float *out)
{
    for (int64_t i = 0; i < m; i++) {
        float acc = 0;
        for (int64_t p = 0; p < j->n; p++) {
            int64_t off = (i0 + i) * j->rsa + p * j->csa;
            float av = j->bf16 ? wide(((const na_bf16 *)j->a)[off]) : ((const float *)j->a)[off];
            acc += av * j->xs[p * j->incx];
        }
        out[i] = acc;
    }
}

static void run_rows(const gemv_job *j, int64_t lo, int64_t hi)
{
    float out[CHUNK];
    size_t es = j->bf16 ? 2 : 4;
    for (int64_t i = lo; i < hi; i += CHUNK) {
        int64_t m = hi - i < CHUNK ? hi - i : CHUNK;
        const char *a = (const char *)j->a + i * j->rsa * (int64_t)es;
        if (!j->x)
            strided(j, i, m, out);
        else if (j->csa == 1)
            (j->bf16 ? j->o->dot_bf16 : j->o->dot_f32)(m, j->n, a, j->rsa, j->x, j->xb, out);
        else if (j->rsa == 1)
            (j->bf16 ? j->o->axpy_bf16 : j->o->axpy_f32)(m, j->n, a, j->csa, j->x, out);
        else
            strided(j, i, m, out);
        for (int64_t r = 0; r < m; r++) {
            float *yr = j->y + (i + r) * j->incy;
            *yr = j->alpha * out[r] + (j->beta == 0 ? 0.0f : j->beta * *yr);
        }
    }
}

static void run(const gemv_job *j, int64_t m, int nthreads)
{
    int nt = na__blis_threads(nthreads);
    if (nt > 1 && m >= 64 * nt && m * j->n >= ((int64_t)1 << 16)) {
#pragma omp parallel num_threads(nt)
        {
            int64_t t = omp_get_thread_num(), tn = omp_get_num_threads();
            int64_t per = ((m + tn - 1) / tn + 63) / 64 * 64;
            int64_t lo = t * per, hi = lo + per < m ? lo + per : m;
            if (lo < hi)
                run_rows(j, lo, hi);
        }
    } else {
        run_rows(j, 0, m);
    }
}

static void gemv(bool bf16, int64_t m, int64_t n, float alpha, const void *a, int64_t rsa,
                 int64_t csa, const float *x, int64_t incx, float beta, float *y,
                 int64_t incy, int nthreads)
{
    if (m <= 0)
        return;
    gemv_job j = {ops(), bf16, a, rsa, csa, n, NULL, NULL, x, incx, alpha, beta, y, incy};
    bool split = bf16 && j.o->dot_bf16 == dot_bf16_dp && csa == 1;
    size_t bytes = (size_t)(n > 0 ? n : 1) * (sizeof(float) + (split ? 2 * sizeof(na_bf16) : 0));
    void *tmp = NULL;
    if (incx == 1 && !split) {
        j.x = x;
    } else if ((tmp = malloc(bytes)) != NULL) { /* else: the strided loops */
        float *xc = tmp;
        for (int64_t p = 0; p < n; p++)
            xc[p] = x[p * incx];
        j.x = xc;
        if (split) {
            na_bf16 *xh = (na_bf16 *)(xc + n), *xl = xh + n;
            for (int64_t p = 0; p < n; p++) {
                xh[p] = na_bf16_from_f32(xc[p]);
                xl[p] = na_bf16_from_f32(xc[p] - wide(xh[p]));
            }
            j.xb = xh;
        }
    }
    run(&j, m, nthreads);
    free(tmp);
}

void na__gemv_bf16(int64_t m, int64_t n, float alpha, const na_bf16 *a, int64_t rsa,
                   int64_t csa, const float *x, int64_t incx, float beta, float *y,
                   int64_t incy, int nthreads)
{
    gemv(true, m, n, alpha, a, rsa, csa, x, incx, beta, y, incy, nthreads);
}

void na__gemv_f32(int64_t m, int64_t n, float alpha, const float *a, int64_t rsa,
                  int64_t csa, const float *x, int64_t incx, float beta, float *y,
                  int64_t incy, int nthreads)
{
    gemv(false, m, n, alpha, a, rsa, csa, x, incx, beta, y, incy, nthreads);
}

/* ---- small M: a few rows of A times B, B read once ------------------------ */

typedef struct small_job {
    const gemv_ops *o;
    bool bf16;
    int64_t m, n, k;
    const float *a; /* m x k, contiguous                       */
    const void *b;
    int64_t rsb, csb;
    float *c;
    int64_t rsc, csc;
} small_job;

/* Columns [lo, hi) of C, CHUNK at a time, four rows of A per pass. */
static void small_cols(const small_job *j, int64_t lo, int64_t hi)
{
    float out[4 * CHUNK];
    size_t es = j->bf16 ? 2 : 4;
    for (int64_t c0 = lo; c0 < hi; c0 += CHUNK) {
        int64_t n = hi - c0 < CHUNK ? hi - c0 : CHUNK;
        for (int64_t r0 = 0; r0 < j->m; r0 += 4) {
            int m = j->m - r0 < 4 ? (int)(j->m - r0) : 4;
            const float *a = j->a + r0 * j->k;
            if (j->csb == 1) {
                const char *b = (const char *)j->b + c0 * (int64_t)es;
                (j->bf16 ? j->o->rows_bf16 : j->o->rows_f32)(m, n, j->k, a, b, j->rsb, out,
                                                            CHUNK);
            } else {
                const char *b = (const char *)j->b + c0 * j->csb * (int64_t)es;
                (j->bf16 ? j->o->cols_bf16 : j->o->cols_f32)(m, n, j->k, a, b, j->csb, out,
                                                            CHUNK);
            }
            for (int r = 0; r < m; r++)
                for (int64_t x = 0; x < n; x++)
                    j->c[(r0 + r) * j->rsc + (c0 + x) * j->csc] = out[r * CHUNK + x];
        }
    }
}

static void small(bool bf16, int64_t m, int64_t n, int64_t k, const float *a, int64_t rsa,
                  int64_t csa, const void *b, int64_t rsb, int64_t csb, float *c,
                  int64_t rsc, int64_t csc, int nthreads)
{
    if (m <= 0 || n <= 0)
        return;
    float *ac = malloc(sizeof(float) * (size_t)(m * (k > 0 ? k : 1)));
    if (!ac) { /* no memory for A's copy: one row at a time */
        for (int64_t r = 0; r < m; r++)
            gemv(bf16, n, k, 1.0f, b, csb, rsb, a + r * rsa, csa, 0.0f, c + r * rsc, csc,
                 nthreads);
        return;
    }
    for (int64_t r = 0; r < m; r++)
        for (int64_t p = 0; p < k; p++)
            ac[r * k + p] = a[r * rsa + p * csa];
    small_job j = {ops(), bf16, m, n, k, ac, b, rsb, csb, c, rsc, csc};
    if (rsb != 1 && csb != 1) { /* neither layout: the strided GEMV per row */
        for (int64_t r = 0; r < m; r++)
            gemv(bf16, n, k, 1.0f, b, csb, rsb, ac + r * k, 1, 0.0f, c + r * rsc, csc,
                 nthreads);
        free(ac);
        return;
    }
    int nt = na__blis_threads(nthreads);
    if (nt > 1 && n >= 64 * nt && m * n * k >= ((int64_t)1 << 16)) {
#pragma omp parallel num_threads(nt)
        {
            int64_t t = omp_get_thread_num(), tn = omp_get_num_threads();
            int64_t per = ((n + tn - 1) / tn + 63) / 64 * 64;
            int64_t lo = t * per, hi = lo + per < n ? lo + per : n;
            if (lo < hi)
                small_cols(&j, lo, hi);
        }
    } else {
        small_cols(&j, 0, n);
    }
    free(ac);
}

void na__gemm_small_f32(int64_t m, int64_t n, int64_t k, const float *a, int64_t rsa,
                        int64_t csa, const float *b, int64_t rsb, int64_t csb, float *c,
                        int64_t rsc, int64_t csc, int nthreads)
{
    small(false, m, n, k, a, rsa, csa, b, rsb, csb, c, rsc, csc, nthreads);
}

void na__gemm_small_bf16(int64_t m, int64_t n, int64_t k, const float *a, int64_t rsa,
                         int64_t csa, const na_bf16 *b, int64_t rsb, int64_t csb, float *c,
                         int64_t rsc, int64_t csc, int nthreads)
{
    small(true, m, n, k, a, rsa, csa, b, rsb, csb, c, rsc, csc, nthreads);
}
