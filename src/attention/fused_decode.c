/* The decode path of the fused attention: a few query rows per group
 * (and chunk of keys when groups are fewer than threads): scores of the
 * rows over the live keys (dots; soft-cap, biases), exp2 and sum, weighted sum of the values
 * (wsum). The cache is read once and no product packs anything (a GEMM
 * with one row would). Chunks are merged by their maxima and sums. */
#include <math.h>
#include <string.h>

#include "attention/fused_internal.h"
#include "core/internal.h"

/* ---- the decode path --------------------------------------------------------------- */

/* An item is a set of groups [g0, g1) and a chunk of keys [j0, j0 + n).
 * Its groups are walked together, KB keys at a time: when the groups are
 * heads of one array (the usual {kv_seq, heads, projection} cache), the
 * item reads its chunk of the cache front to back, a stream the memory
 * system serves at full speed, instead of one strided pass per head. */
#define KB 32

typedef struct decode {
    int64_t n;              /* keys in the chunk (capacity)            */
    float *q;               /* [group][row][dp], scaled                */
    float *s;               /* [group][row][n]: scores, then weights   */
    float *kp, *vp, *acc;   /* KB rows packed (strided features); dv   */
    unsigned char *flags;   /* [group][n]: 1 some row sees the key,    */
                            /* 2 every row does                        */
    na__fused_rows *rows;   /* [group][row]                            */
    const char **kg, **vg;  /* [group]: keys and values at the chunk    */
    uint16_t *qb;           /* bf16 cache: [group][row][hi dp, lo dp]  */
} decode;

static size_t decode_bytes(const na__fused_job *J, int64_t gs, int64_t chunk)
{
    size_t f = sizeof(float), R = (size_t)J->group_rows, G = (size_t)gs;
    return na__fused_align64(f * G * R * (size_t)J->dp) +
           na__fused_align64(f * G * R * (size_t)chunk) +
           na__fused_align64(f * KB * (size_t)J->dp) +
           na__fused_align64(f * KB * (size_t)J->dv) +
           na__fused_align64(f * (size_t)J->dv) + na__fused_align64(G * (size_t)chunk) +
           na__fused_align64(sizeof(na__fused_rows) * G * R) +
           2 * na__fused_align64(sizeof(float *) * G) +
           (J->bf16 ? na__fused_align64(2 * sizeof(uint16_t) * G * R * (size_t)J->dp) : 0);
}

static decode decode_carve(const na__fused_job *J, na__fused_scratch *s, int64_t gs,
                           int64_t chunk)
{
    size_t f = sizeof(float), R = (size_t)J->group_rows, G = (size_t)gs;
    decode d;
    d.n = chunk;
    d.q = na__fused_carve(s, f * G * R * (size_t)J->dp);
    d.s = na__fused_carve(s, f * G * R * (size_t)chunk);
    d.kp = na__fused_carve(s, f * KB * (size_t)J->dp);
    d.vp = na__fused_carve(s, f * KB * (size_t)J->dv);
    d.acc = na__fused_carve(s, f * (size_t)J->dv);
    d.flags = na__fused_carve(s, G * (size_t)chunk);
    d.rows = na__fused_carve(s, sizeof(na__fused_rows) * G * R);
    d.kg = na__fused_carve(s, sizeof(float *) * G);
    d.vg = na__fused_carve(s, sizeof(float *) * G);
    d.qb = J->bf16 ? na__fused_carve(s, 2 * sizeof(uint16_t) * G * R * (size_t)J->dp) : NULL;
    return d;
}

/* Does row r see key j (of the chunk its pointers start at)? */
static bool row_sees(const na__fused_job *J, const na__fused_rows *r, int64_t j)
{
    if (J->has_mask && !r->m[j * J->m.col])
        return false;
    return !J->pos.q ||
           na__fused_visible(r->qpos, r->kpos[j * J->pos.kvcol], J->pos.window);
}

/* flags[j] for the n keys: which of the nr rows (pointers at the chunk's
 * first key) see them. */
static void key_flags(const na__fused_job *J, const na__fused_rows *rows, int nr,
                      int64_t n, unsigned char *flags)
{
    if (!J->has_mask && !J->pos.q) {
        memset(flags, 3, (size_t)n);
        return;
    }
    bool same = true; /* one mask row for all rows (a decode step's causal mask) */
    for (int r = 1; r < nr; r++)
        same &= rows[r].m == rows[0].m && rows[r].qpos == rows[0].qpos;
    if (same) {
        for (int64_t j = 0; j < n; j++)
            flags[j] = (unsigned char)(row_sees(J, &rows[0], j) * 3);
        return;
    }
    for (int64_t j = 0; j < n; j++) {
        bool any = false, all = true;
        for (int r = 0; r < nr; r++) {
            bool m = row_sees(J, &rows[r], j);
            any |= m, all &= m;
        }
        flags[j] = (unsigned char)(any | (all << 1));
    }
}

/* The next run [*a, *b) of keys some row sees, from *b up to end. */
static bool next_run(const unsigned char *flags, int64_t end, int64_t *a, int64_t *b)
{
    int64_t j = *b;
    while (j < end && !flags[j])
        j++;
    if (j == end)
        return false;
    *a = j;
    while (j < end && flags[j])
        j++;
    *b = j;
    return true;
}

/* Bytes per cached element (f32 or bf16). */
static int64_t kv_es(const na__fused_job *J)
{
    return J->bf16 ? 2 : (int64_t)sizeof(float);
}

/* n rows of x (row stride col, feature stride feat) with unit feature
 * stride: x itself, or a packed copy. */
static const float *unit_rows(const float *x, int64_t col, int64_t feat, int64_t width,
                              int64_t n, float *pack, int64_t *ld)
{
    if (feat == 1) {
        *ld = col;
        return x;
    }
    for (int64_t j = 0; j < n; j++)
        for (int64_t c = 0; c < width; c++)
            pack[j * width + c] = x[j * col + c * feat];
    *ld = width;
    return pack;
}

/* The same for bf16 rows whose features are strided: widened into pack
 * (the bf16 kernels take rows with unit feature stride only). */
static const float *widen_rows(const uint16_t *x, int64_t col, int64_t feat, int64_t width,
                               int64_t n, float *pack)
{
    for (int64_t j = 0; j < n; j++)
        for (int64_t c = 0; c < width; c++) {
            uint32_t u = (uint32_t)x[j * col + c * feat] << 16;
            memcpy(&pack[j * width + c], &u, sizeof u);
        }
    return pack;
}

/* Scores s[r*ls + j] of the rows' queries q (qb: split into bf16) for keys
 * [0, n) at k (f32 or bf16). */
static void key_dots(const na__fused_job *J, const decode *d, const float *q,
                     const uint16_t *qb, const char *k, int64_t n, float *s)
{
    int nr = (int)J->group_rows;
    if (J->bf16 && J->k.feat == 1) {
        J->bf16->dots(n, J->dp, nr, q, qb, (const uint16_t *)(const void *)k, J->k.col, s,
                      d->n);
        return;
    }
    int64_t ld = J->dp; /* widened rows are packed */
    const float *ku = J->bf16 ? widen_rows((const uint16_t *)(const void *)k, J->k.col,
                                           J->k.feat, J->dp, n, d->kp)
                              : unit_rows((const float *)(const void *)k, J->k.col,
                                          J->k.feat, J->dp, n, d->kp, &ld);
    J->ops->dots(n, J->dp, nr, q, ku, ld, s, d->n);
}

/* o[r*dv + c] += weights p (row stride lp) times values [0, n) at v. */
static void value_sums(const na__fused_job *J, const decode *d, const float *p,
                       const char *v, int64_t n, float *o)
{
    int nr = (int)J->group_rows;
    if (J->bf16 && J->v.feat == 1) {
        J->bf16->wsum(n, J->dv, nr, p, d->n, (const uint16_t *)(const void *)v, J->v.col, o);
        return;
    }
    int64_t ld = J->dv; /* widened rows are packed */
    const float *vu = J->bf16 ? widen_rows((const uint16_t *)(const void *)v, J->v.col,
                                           J->v.feat, J->dv, n, d->vp)
                              : unit_rows((const float *)(const void *)v, J->v.col,
                                          J->v.feat, J->dv, n, d->vp, &ld);
    J->ops->wsum(n, J->dv, nr, p, d->n, vu, ld, o);
}

/* Scores of group gi's rows for keys [a, b) of the chunk (k: its key 0). */
static void decode_scores(const na__fused_job *J, const decode *d, int gi, const char *k,
                          int64_t a, int64_t b)
{
    int nr = (int)J->group_rows;
    const unsigned char *flags = d->flags + gi * d->n;
    float *s = d->s + (int64_t)gi * nr * d->n;
    const na__fused_rows *rows = d->rows + gi * nr;
    key_dots(J, d, d->q + (int64_t)gi * nr * J->dp,
             d->qb ? d->qb + (int64_t)gi * nr * 2 * J->dp : NULL,
             k + a * J->k.col * kv_es(J), b - a, s + a);
    for (int r = 0; J->cap2 > 0 && r < nr; r++) /* soft-cap, biases, then the masks */
        J->ops->softcap(b - a, s + r * d->n + a, J->cap2);
    for (int r = 0; na__fused_has_bias(J) && r < nr; r++)
        na__fused_add_bias(J, &rows[r], a, b - a, s + r * d->n + a, 1);
    for (int64_t j = a; j < b; j++)
        if (flags[j] != 3)
            for (int r = 0; r < nr; r++)
                if (!row_sees(J, &rows[r], j))
                    s[r * d->n + j] = -INFINITY;
}

/* The item's keys (or values) as one span of memory, when its groups
 * tile it densely (heads side by side in each row): walked group by group
 * within each block of KB rows, the span is read almost in order, and a
 * prefetch running PF_AHEAD bytes ahead in plain address order keeps the
 * memory system streaming. Used when groups have several rows (grouped-
 * query decode: more work per byte); with one row per group the hardware
 * prefetchers did as well here on their own. */
#define PF_AHEAD (48 << 10)

typedef struct span {
    const char *lo, *hi, *next; /* next: first byte not yet requested */
} span;

static span span_of(const char *const *x, int gs, int64_t col, int64_t width, int64_t n,
                    int rows, int64_t es)
{
    const char *lo = x[0], *hi = x[0];
    for (int gi = 1; gi < gs; gi++) {
        lo = x[gi] < lo ? x[gi] : lo;
        hi = x[gi] > hi ? x[gi] : hi;
    }
    span s = {0};
    if (rows < 2) /* measured here: one row per group streams as well without */
        return s;
    int64_t bytes = (hi - lo) + ((n - 1) * col + width) * es;
    if (n > 0 && bytes <= 2 * (int64_t)gs * n * width * es) {
        s.lo = lo;
        s.hi = s.lo + bytes;
        s.next = s.lo;
    }
    return s;
}

/* Keep requests PF_AHEAD past `upto` (the furthest row start read). */
static void span_prefetch(span *s, const char *upto)
{
    if (!s->lo)
        return;
    const char *want = upto + PF_AHEAD;
    if (want > s->hi)
        want = s->hi;
    for (; s->next < want; s->next += 64)
        __builtin_prefetch(s->next, 0, 2);
}

/* One item: partial maxima pm, sums pl and outputs po (unnormalised) of
 * every row of groups [g0, g1), for keys [j0, j0 + n). Partials of group g
 * live at index g * chunks + c. */
static void decode_item(const na__fused_job *J, decode *d, int64_t g0, int64_t g1,
                        int64_t c, int64_t chunks, int64_t j0, int64_t n, float *pm,
                        float *pl, float *po)
{
    const na__fused_ops *ops = J->ops;
    int nr = (int)J->group_rows, gs = (int)(g1 - g0);
    const char **kg = d->kg, **vg = d->vg;
    int64_t es = kv_es(J);
    for (int gi = 0; gi < gs; gi++) {
        na__fused_group_kv_at(J, g0 + gi, &kg[gi], &vg[gi]);
        kg[gi] += j0 * J->k.col * es, vg[gi] += j0 * J->v.col * es;
        na__fused_rows *rows = d->rows + gi * nr;
        float *q = d->q + (int64_t)gi * nr * J->dp;
        for (int r = 0; r < nr; r++) {
            rows[r] = na__fused_row_at(J, g0 + gi, r);
            if (J->has_mask)
                rows[r].m += j0 * J->m.col;
            if (J->pos.q)
                rows[r].kpos += j0 * J->pos.kvcol;
            if (J->has_bias)
                rows[r].b += j0 * J->b.col;
            if (J->slope)
                rows[r].akpos += j0 * J->apos.kvcol;
            for (int64_t e = 0; e < J->dp; e++)
                q[r * J->dp + e] = rows[r].q[e * J->q.feat] * J->scale2;
            if (d->qb) {
                uint16_t *h = d->qb + ((int64_t)gi * nr + r) * 2 * J->dp;
                na__fused_split_bf16(J->dp, q + r * J->dp, h, h + J->dp);
            }
        }
        key_flags(J, rows, nr, n, d->flags + gi * d->n);
        float *s = d->s + (int64_t)gi * nr * d->n;
        for (int r = 0; r < nr; r++)
            for (int64_t j = 0; j < n; j++)
                s[r * d->n + j] = -INFINITY;
    }
    /* keys: every group, KB keys at a time */
    span ks = span_of(kg, gs, J->k.col, J->dp * J->k.feat, n, nr, es);
    for (int64_t jb = 0; jb < n; jb += KB) {
        int64_t end = na__fused_min64(n, jb + KB);
        for (int gi = 0; gi < gs; gi++) {
            span_prefetch(&ks, kg[gi] + (end - 1) * J->k.col * es);
            for (int64_t a = 0, b = jb; next_run(d->flags + gi * d->n, end, &a, &b);)
                decode_scores(J, d, gi, kg[gi], a, b);
        }
    }
    for (int gi = 0; gi < gs; gi++)
        for (int r = 0; r < nr; r++) {
            int64_t p = ((g0 + gi) * chunks + c) * nr + r;
            float *s = d->s + ((int64_t)gi * nr + r) * d->n, mx = ops->max(n, s);
            pm[p] = mx;
            pl[p] = ops->exp_sum(n, s, mx == -INFINITY ? 0.0f : mx);
            memset(po + p * J->dv, 0, sizeof(float) * (size_t)J->dv);
        }
    /* values: the same walk */
    span vs = span_of(vg, gs, J->v.col, J->dv * J->v.feat, n, nr, es);
    for (int64_t jb = 0; jb < n; jb += KB) {
        int64_t end = na__fused_min64(n, jb + KB);
        for (int gi = 0; gi < gs; gi++) {
            span_prefetch(&vs, vg[gi] + (end - 1) * J->v.col * es);
            float *o = po + ((g0 + gi) * chunks + c) * nr * J->dv;
            const float *s = d->s + (int64_t)gi * nr * d->n;
            for (int64_t a = 0, b = jb; next_run(d->flags + gi * d->n, end, &a, &b);)
                value_sums(J, d, s + a, vg[gi] + a * J->v.col * es, b - a, o);
        }
    }
}

/* Merge the chunks of a group and write its rows. */
static void decode_merge(const na__fused_job *J, int64_t group, int64_t chunks,
                         const float *pm, const float *pl, const float *po, float *acc)
{
    int nr = (int)J->group_rows;
    const char *k, *v;
    na__fused_group_kv_at(J, group, &k, &v);
    for (int r = 0; r < nr; r++) {
        float mx = -INFINITY, l = 0;
        for (int64_t c = 0; c < chunks; c++) {
            float m = pm[(group * chunks + c) * nr + r];
            mx = m > mx ? m : mx;
        }
        memset(acc, 0, sizeof(float) * (size_t)J->dv);
        for (int64_t c = 0; c < chunks && mx > -INFINITY; c++) {
            int64_t p = (group * chunks + c) * nr + r;
            float w = pm[p] == -INFINITY ? 0.0f : exp2f(pm[p] - mx);
            l += w * pl[p];
            for (int64_t e = 0; e < J->dv; e++)
                acc[e] += w * po[p * J->dv + e];
        }
        na__fused_finish_row(J, na__fused_row_at(J, group, r).y, acc, l, v);
    }
}

/* How to cut the work: key chunks of at least 256 keys, one per thread
 * when the keys are many; the groups in sets when the chunks are too few
 * for the threads or the scores would pass 4 MB per thread. */
static void decode_split(const na__fused_job *J, int threads, int64_t *kchunks,
                         int64_t *gsets)
{
    int64_t kc = na__fused_min64(threads, (J->skv + 255) / 256);
    kc = kc < 1 ? 1 : kc;
    int64_t gsn = na__fused_min64((threads + kc - 1) / kc, J->groups);
    int64_t clen = (J->skv + kc - 1) / kc;
    while (gsn < J->groups &&
           (J->groups + gsn - 1) / gsn * J->group_rows * clen > ((int64_t)1 << 20))
        gsn++;
    *kchunks = kc;
    *gsets = gsn < 1 ? 1 : gsn;
}

/* What the threads of one decode run share. */
typedef struct decode_run {
    const na__fused_job *J;
    int64_t chunks, clen, gs, items;
    size_t bytes;
    float *pm, *pl, *po; /* partial maxima, sums, outputs */
    bool oom;
} decode_run;

/* Item `it`: its groups over its chunk of keys; with `finish` (one chunk
 * per group) the groups' rows are written at once. */
static void decode_groups(const decode_run *R, decode *d, int64_t it, bool finish)
{
    const na__fused_job *J = R->J;
    int64_t g0 = (it / R->chunks) * R->gs, g1 = na__fused_min64(J->groups, g0 + R->gs);
    int64_t c = it % R->chunks, j0 = c * R->clen;
    int64_t n = na__fused_min64(R->clen, J->skv - j0);
    if (g0 >= g1)
        return;
    decode_item(J, d, g0, g1, c, R->chunks, j0, n > 0 ? n : 0, R->pm, R->pl, R->po);
    for (int64_t g = g0; finish && g < g1; g++)
        decode_merge(J, g, 1, R->pm, R->pl, R->po, d->acc);
}

/* One thread's part (the loops are shared out when inside a parallel
 * region; alone, the thread runs them all). */
static void decode_worker(decode_run *R)
{
    const na__fused_job *J = R->J;
    na__fused_scratch s;
    bool ok = na__fused_scratch_get(&s, R->bytes);
    decode d = {0};
    if (ok)
        d = decode_carve(J, &s, R->gs, R->clen);
    else {
#pragma omp atomic write
        R->oom = true;
    }
    if (R->chunks == 1) {
        /* one chunk per group: the thread that ran a group writes its rows,
         * no second pass and no barrier but the region's end */
#pragma omp for schedule(dynamic, 1) nowait
        for (int64_t it = 0; it < R->items; it++)
            if (ok)
                decode_groups(R, &d, it, true);
    } else {
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < R->items; it++)
            if (ok)
                decode_groups(R, &d, it, false);
#pragma omp for schedule(static)
        for (int64_t g = 0; g < J->groups; g++)
            if (ok)
                decode_merge(J, g, R->chunks, R->pm, R->pl, R->po, d.acc);
    }
    if (ok)
        na__fused_scratch_put(&s);
}

int na__fused_run_decode(const na__fused_job *J, int threads)
{
    decode_run R = {.J = J};
    int64_t gsets;
    decode_split(J, threads, &R.chunks, &gsets);
    R.clen = (J->skv + R.chunks - 1) / R.chunks;
    R.gs = (J->groups + gsets - 1) / gsets;
    R.items = gsets * R.chunks;
    R.bytes = decode_bytes(J, R.gs, R.clen);
    size_t part = (size_t)(J->groups * R.chunks * J->group_rows);
    size_t pbytes = sizeof(float) * part * (size_t)(J->dv + 2);
    R.pm = na__mem_alloc(pbytes);
    if (!R.pm)
        return NA_ERR_NO_MEMORY;
    R.pl = R.pm + part, R.po = R.pl + part;
    if (R.items < threads)
        threads = (int)R.items;
    if (threads > 1) {
#pragma omp parallel num_threads(threads)
        decode_worker(&R);
    } else {
        decode_worker(&R); /* no parallel region: no thread to wake */
    }
    na__mem_free(R.pm, pbytes);
    return R.oom ? NA_ERR_NO_MEMORY : NA_OK;
}
