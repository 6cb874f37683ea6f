/* The fused attention path's pieces: the kernels (fused_ref.c,
 * fused_avx2.c, fused_avx512.c, chosen in fused_dispatch.c), the
 * job fused.c describes and the runner executes (fused_run.c, with the
 * tiled path in fused_tiles.c and the decode path in fused_decode.c), and
 * the hooks tests and benchmarks use to look at it. Not installed; prefix
 * na__. Self-contained: tests and benchmarks include it by relative path.
 *
 * Layouts. Logits are kept in base 2: queries arrive pre-multiplied by
 * scale * log2(e), so exp(x * scale) == exp2(x').
 *   qt  {projection, row:bq}      a block of bq query rows, transposed
 *   st  {key:nk, row:bq}          logits, then weights, of one key tile
 *   o   {row:bq, feature:dvp}     running (unnormalised) output
 *   k   {key, projection}         keys, rows kld apart (the input itself
 *                                 when its projection is contiguous)
 *   v   {key, feature}            values, rows vld apart (likewise)
 * bq is a multiple of 16 (at most 64); dvp is dv rounded up to 16. */
#ifndef NAMEDARR_FUSED_INTERNAL_H
#define NAMEDARR_FUSED_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct na__fused_ops {
    const char *name; /* "avx512", "avx2" or "generic" */
    /* st[j*bq + i] = sum_d k[j*kld + d] * qt[d*bq + i]   (j < nk, i < bq), and
     * mx[i] = the largest st[j*bq + i] over j (the tile's row maxima). */
    void (*qk)(int64_t nk, int64_t dp, const float *k, int64_t kld, const float *qt,
               int bq, float *st, float *mx);
    /* Online softmax step over one tile whose row maxima are tmx: st (-inf
     * where masked) becomes exp2(st - m_new); m, l (bq each) updated;
     * corr[i] = exp2(m_old - m_new), the factor the running output rows must
     * be scaled by. A row with no live key so far keeps m = -inf, l = 0 and
     * gets weights 0. */
    void (*softmax)(int64_t nk, int bq, float *st, const float *tmx, float *m, float *l,
                    float *corr);
    /* o[i*dvp + c] = o[i*dvp + c] * corr[i] + sum_j st[j*bq + i] * v[j*vld + c]
     * (c < dv; v is read only at c < dv, columns dv..dvp of o stay 0). */
    void (*pv)(int64_t nk, int bq, int64_t dv, int64_t dvp, const float *st,
               const float *v, int64_t vld, const float *corr, float *o);
    /* Decode: s[r*ls + j] = sum_d q[r*dp + d] * k[j*kc + d]  (r < nr, j < nk;
     * k contiguous along d). */
    void (*dots)(int64_t nk, int64_t dp, int nr, const float *q, const float *k,
                 int64_t kc, float *s, int64_t ls);
    /* The largest of s[0..n) (-inf when n == 0). */
    float (*max)(int64_t n, const float *s);
    /* s[j] = exp2(s[j] - mx) (0 for -inf); returns the sum. */
    float (*exp_sum)(int64_t n, float *s, float mx);
    /* Decode: o[r*dv + c] += sum_j p[r*lp + j] * v[j*vc + c]  (r < nr, c < dv;
     * v contiguous along c). */
    void (*wsum)(int64_t nk, int64_t dv, int nr, const float *p, int64_t lp,
                 const float *v, int64_t vc, float *o);
    /* The logit soft-cap (Gemma's attn_logit_softcapping) in the kernels'
     * base-2 units: s[j] = c * tanh(s[j] / c) for j < n, c = cap * log2(e).
     * Applied to finite logits before any mask; monotone (up to a rounding
     * step, which the online softmax tolerates), so it maps a row's maximum
     * to the maximum of the capped row. */
    void (*softcap)(int64_t n, float *s, float c);
} na__fused_ops;

/* The kernel sets (fused_ref.c, fused_avx2.c, fused_avx512.c); the
 * dispatch (fused_dispatch.c) picks one. The avx2 and avx512 sets exist
 * only on x86-64 builds and run only on CPUs that have the features. */
extern const na__fused_ops na__fused_ops_generic;
#if defined(__x86_64__)
extern const na__fused_ops na__fused_ops_avx2;
extern const na__fused_ops na__fused_ops_avx512;
#endif

/* The decode path's kernels for a bf16 cache (fused_bf16.c): keys and
 * values are bf16 (uint16_t bits), contiguous along the feature.
 * dots: s[r*ls + j] = sum_d q[r*dp + d] * k[j*kc + d]; qb holds each row's
 * query split into bf16 parts, [row][hi dp, lo dp] (na__fused_split_bf16).
 * wsum: o[r*dv + c] += sum_j p[r*lp + j] * v[j*vc + c]. */
typedef struct na__fused_bf16_ops {
    const char *name; /* "generic", "avx2", "avx512", "avx512_bf16" */
    void (*dots)(int64_t nk, int64_t dp, int nr, const float *q, const uint16_t *qb,
                 const uint16_t *k, int64_t kc, float *s, int64_t ls);
    void (*wsum)(int64_t nk, int64_t dv, int nr, const float *p, int64_t lp,
                 const uint16_t *v, int64_t vc, float *o);
} na__fused_bf16_ops;
/* The set matching the fused kernels in use, unless forced. */
const na__fused_bf16_ops *na__fused_bf16_ops_get(void);
/* Force a set by name (NULL: automatic); false if it cannot run here. */
bool na__fused_force_bf16(const char *name);
/* hi[i] = bf16(q[i]), lo[i] = bf16(q[i] - hi[i]) (round to nearest even). */
void na__fused_split_bf16(int64_t n, const float *q, uint16_t *hi, uint16_t *lo);

/* ---- one fused call, as fused.c hands it to fused_run.c ---------------------------- */

#define NA__FUSED_MAX_G 16

/* Strides (in elements) of one operand. */
typedef struct na__fused_operand {
    const void *base;           /* f32 (q, k, v) or bool (mask)           */
    int64_t g[NA__FUSED_MAX_G]; /* along each batch-like axis              */
    int64_t row, col;           /* along seq / kv_seq                      */
    int64_t feat;               /* along projection / the value feature    */
} na__fused_operand;

/* A causal (or sliding-window) mask given by positions, never as a
 * {seq, kv_seq} array: key j is visible from query row i when
 *   kv[j] >= 0  and  kv[j] <= q[i]  and  (window == 0 or q[i] - kv[j] < window).
 * Strides in elements; the positions are i32. */
typedef struct na__fused_positions {
    const int32_t *q, *kv;       /* NULL: no positional mask               */
    int64_t qg[NA__FUSED_MAX_G]; /* q along each batch-like axis           */
    int64_t kvg[NA__FUSED_MAX_G];
    int64_t qrow, kvcol; /* along seq / kv_seq                    */
    int64_t window;      /* 0: no window                          */
} na__fused_positions;

static inline bool na__fused_visible(int64_t qpos, int64_t kpos, int64_t window)
{
    return kpos >= 0 && kpos <= qpos && (window == 0 || qpos - kpos < window);
}

/* Rows are the query positions of every batch-like axis. Axes along which
 * the keys and the values do not move (query_heads in grouped-query
 * attention, or a broadcast) are "shared": their rows form one group with
 * one set of keys and values, read once for all of them. */
typedef struct na__fused_job {
    const na__fused_ops *ops;
    int64_t sq, skv, dp, dv; /* queries, keys, projection, value feature */
    int ng;
    int64_t gsize[NA__FUSED_MAX_G];
    na__fused_operand q, k, v, m;
    const na__fused_bf16_ops *bf16; /* k and v are bf16 (decode path only) */
    bool has_mask;
    na__fused_positions pos; /* causal mask by positions (pos.q != NULL)  */
    /* Additive biases, added after the scale and soft-cap, before the
     * masks (Flax's order): one f32 array addressed like the mask (the sum
     * of the ApplyAttentionBias layers' arrays), and ALiBi computed from a
     * slope per row and positions: slope * (kv_pos - q_pos). */
    na__fused_operand b;     /* f32 bias (has_bias)                      */
    bool has_bias;
    const float *slope;      /* ALiBi slopes (NULL: no ALiBi)            */
    int64_t slope_g[NA__FUSED_MAX_G]; /* slope strides along each axis   */
    na__fused_positions apos; /* ALiBi's positions (window unused)       */
    bool zero_rows; /* fully masked rows: zeros (else uniform) */
    float scale2;   /* logits scale times log2(e)              */
    float cap2;     /* soft-cap times log2(e); 0: no soft-cap  */
    float *y;       /* {G..., seq, dv} contiguous              */
    int64_t yg[NA__FUSED_MAX_G];
    int n_outer, n_shared; /* indexes into gsize                       */
    int outer[NA__FUSED_MAX_G], shared[NA__FUSED_MAX_G];
    int64_t groups, group_rows; /* group_rows = sq * product of shared axes */
} na__fused_job;

/* Run the job with `threads` threads: the tiled path, or the decode path
 * when a group has at most NA__FUSED_DECODE_ROWS rows. NA_OK or
 * NA_ERR_NO_MEMORY (as an int: this header stays self-contained). */
#define NA__FUSED_DECODE_ROWS 8
int na__fused_run(const na__fused_job *job, int threads);
int na__fused_run_tiled(const na__fused_job *job, int threads);  /* fused_tiles.c  */
int na__fused_run_decode(const na__fused_job *job, int threads); /* fused_decode.c */

/* ---- shared by the two paths (fused_run.c) ----------------------------------------- */

static inline int64_t na__fused_min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}
static inline int64_t na__fused_round16(int64_t n)
{
    return (n + 15) / 16 * 16;
}
static inline size_t na__fused_align64(size_t n)
{
    return (n + 63) / 64 * 64;
}

/* Where row `row` of group `group` reads its query and mask (NULL: no
 * mask) and writes its output; its query position and the group's key
 * positions (at key 0; NULL without a positional mask). Rows run over the
 * positions first and the shared axes second: row = pos * shared + s, so
 * a block of rows holds every query head of a key/value group at a few
 * positions, and each tile of keys and values serves all of them. */
typedef struct na__fused_rows {
    const float *q;
    const bool *m;
    float *y;
    int64_t qpos;
    const int32_t *kpos;
    const float *b;        /* the bias row (at key 0), or NULL         */
    float slope2;          /* ALiBi: slope * log2(e) (0 without)       */
    int64_t aqpos;         /* ALiBi: the query position                */
    const int32_t *akpos;  /* ALiBi: the group's key positions (key 0) */
} na__fused_rows;
na__fused_rows na__fused_row_at(const na__fused_job *J, int64_t group, int64_t row);
/* The biases of row r for keys [j0, j0 + n) (r's pointers at key 0) in
 * base-2 units, added to s[0], s[ss], ... (a row of logits). */
void na__fused_add_bias(const na__fused_job *J, const na__fused_rows *r, int64_t j0,
                        int64_t n, float *s, int64_t ss);
static inline bool na__fused_has_bias(const na__fused_job *J)
{
    return J->has_bias || J->slope;
}
/* The group's keys and values (at key 0), f32 caches only. */
void na__fused_group_kv(const na__fused_job *J, int64_t group, const float **k,
                        const float **v);
/* The same as byte addresses, for f32 or bf16 keys and values. */
void na__fused_group_kv_at(const na__fused_job *J, int64_t group, const char **k,
                           const char **v);
/* y = o / l, or the masked-row policy when l == 0 (v: the group's values,
 * f32, or bf16 when J->bf16). */
void na__fused_finish_row(const na__fused_job *J, float *y, const float *o, float l,
                          const void *v);

/* One block from the library's caching allocator, cut into buffers. */
typedef struct na__fused_scratch {
    void *block;
    size_t bytes;
    char *next;
    int64_t packed; /* the tiled path: group whose keys and values are packed */
} na__fused_scratch;
bool na__fused_scratch_get(na__fused_scratch *s, size_t bytes);
void na__fused_scratch_put(na__fused_scratch *s);
/* The next `bytes` (64-byte aligned) of the block. */
void *na__fused_carve(na__fused_scratch *s, size_t bytes);

/* The kernels this CPU runs best ("avx512" with AVX-512F, else "avx2" with
 * AVX2 and FMA, else "generic"), unless forced. */
const na__fused_ops *na__fused_ops_get(void);
/* Force "generic", "avx2" or "avx512" (if the CPU has it), or NULL
 * (automatic).
 * false if the requested kernels cannot run here. For tests. */
bool na__fused_force_kernels(const char *name);
/* The name of the kernels in use. */
const char *na__fused_kernels(void);

/* The tiled path's blocks: bq query rows (a multiple of 16, at most 64)
 * by bk keys, chosen from the head dimensions so that a block's working
 * set stays in the level-1 cache, unless set for tests and benchmarks
 * (na__fused_set_tiles(0, 0): automatic again). */
void na__fused_tile_sizes(int64_t dp, int64_t dv, int *bq, int *bk);
void na__fused_set_tiles(int bq, int bk);

/* How many calls took each fused path since the start (all threads). */
typedef struct na__fused_counts {
    uint64_t prefill; /* tiled path: blocks of queries x tiles of keys */
    uint64_t decode;  /* a few query rows per key/value head (GEMV-style) */
} na__fused_counts;
void na__fused_get_counts(na__fused_counts *c);

#endif
