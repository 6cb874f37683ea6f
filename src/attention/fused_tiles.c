/* The tiled path of the fused attention, per group and block of up to BQ
 * query rows:
 *   qt = block of queries, transposed and scaled by scale * log2(e)
 *   for each tile of BK keys that some row of the block may see:
 *       st = k[tile] qt, its row maxima       (qk kernel)
 *       st = cap tanh(st / cap)               (with a soft-cap)
 *       st += bias, ALiBi slope (kv - q)      (with bias layers)
 *       masked entries -> -inf                (only in partly masked tiles)
 *       online softmax: st -> weights, m, l   (softmax kernel)
 *       o = o * corr + st^T v[tile]           (pv kernel)
 *   y = o / l (a row with no live key: the masked-row policy)
 * Each thread copies the keys and values of its group into contiguous rows
 * (dp and dv floats) tile by tile, just before a tile is first needed: the
 * kernels then stream whole pages, and a causal block packs only the
 * tiles it sees; a group with fewer rows than a block (little reuse) is
 * read in place, unless its features are strided. Blocks are sized by the head dimensions
 * (na__fused_tile_sizes). Rows run over positions first and query heads
 * second (na__fused_row_at), so in grouped-query attention one block holds
 * every query head of a key/value head and each tile of keys and values is
 * read once for all of them. Masks: a bool mask from the side inputs, and a
 * causal / sliding-window mask from positions — tiles nobody sees are
 * skipped, tiles everybody sees run unmasked, and only the tiles on the
 * edge are masked entry by entry; nothing of size seq x kv_seq exists.
 */
#include <math.h>
#include <string.h>

#include "attention/fused_internal.h"
#include "core/internal.h"

/* ---- masks ------------------------------------------------------------------------- */

enum { TILE_DEAD, TILE_LIVE, TILE_PARTIAL };

/* Are any / all of the n mask entries p[0], p[s], ... true? */
static void scan_mask(const bool *p, int64_t s, int64_t n, bool *any, bool *all)
{
    bool a = false, b = true;
    int64_t j = 0;
    if (s == 1) { /* 8 bools (bytes 0 or 1) at a time */
        uint64_t or_ = 0, and_ = ~(uint64_t)0;
        for (; j + 8 <= n; j += 8) {
            uint64_t w;
            memcpy(&w, p + j, 8);
            or_ |= w, and_ &= w;
        }
        a = or_ != 0, b = and_ == 0x0101010101010101ull;
    }
    for (; j < n; j++) {
        a |= p[j * s];
        b &= p[j * s];
    }
    *any = a, *all = b;
}

/* The state of keys [j0, j0 + nk) for the nr rows under the bool mask. */
static int bool_state(const na__fused_job *J, const na__fused_rows *rows, int nr,
                      int64_t j0, int64_t nk)
{
    if (!J->has_mask)
        return TILE_LIVE;
    bool any = false, all = true;
    for (int r = 0; r < nr; r++) {
        bool a, b;
        scan_mask(rows[r].m + j0 * J->m.col, J->m.col, nk, &a, &b);
        any |= a, all &= b;
        if (any && !all)
            return TILE_PARTIAL;
    }
    return any ? TILE_LIVE : TILE_DEAD;
}

/* The smallest and largest query positions of the block's rows (once per
 * block, not per tile). */
static void row_positions(const na__fused_rows *rows, int nr, int64_t *pmin, int64_t *pmax)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int r = 0; r < nr; r++) {
        lo = rows[r].qpos < lo ? rows[r].qpos : lo;
        hi = rows[r].qpos > hi ? rows[r].qpos : hi;
    }
    *pmin = lo, *pmax = hi;
}

/* The state under the positional mask: from the extreme query positions of
 * the rows (pmin, pmax) and key positions of the tile, no per-pair work.
 * *live: one past the last key of the tile that some row may see (the
 * keys after it weigh nothing: the kernels skip them). */
static int pos_state(const na__fused_job *J, const na__fused_rows *rows, int64_t pmin,
                     int64_t pmax, int64_t j0, int64_t nk, int64_t *live)
{
    const na__fused_positions *P = &J->pos;
    *live = nk;
    if (!P->q)
        return TILE_LIVE;
    int64_t kmin = INT64_MAX, kmax = INT64_MIN, last = -1;
    bool pad = false; /* a key at a negative position */
    const int32_t *kp = rows[0].kpos + j0 * P->kvcol;
    for (int64_t j = 0; j < nk; j++) {
        int64_t x = kp[j * P->kvcol];
        pad |= x < 0;
        if (x >= 0) {
            kmin = x < kmin ? x : kmin;
            kmax = x > kmax ? x : kmax;
            if (x <= pmax && (!P->window || pmin - x < P->window))
                last = j;
        }
    }
    *live = last + 1;
    if (kmax == INT64_MIN || kmin > pmax || (P->window && pmin - kmax >= P->window))
        return TILE_DEAD;
    if (!pad && kmax <= pmin && (!P->window || pmax - kmin < P->window))
        return TILE_LIVE;
    return TILE_PARTIAL;
}

static int combine_states(int a, int b)
{
    if (a == TILE_DEAD || b == TILE_DEAD)
        return TILE_DEAD;
    return a == TILE_LIVE && b == TILE_LIVE ? TILE_LIVE : TILE_PARTIAL;
}

/* The positional mask over a tile: key x is seen by the query positions
 * lo..hi (x..x + window - 1, none when x < 0), so a key's column is one
 * range test across the rows, which the compiler vectorises (int32: the
 * positions are i32). */
static void mask_positions(const na__fused_job *J, const na__fused_rows *rows, int nr,
                           int64_t j0, int64_t nk, int bq, float *st)
{
    const na__fused_positions *P = &J->pos;
    int32_t qp[64];
    for (int r = 0; r < nr; r++)
        qp[r] = (int32_t)rows[r].qpos;
    const int32_t *kp = rows[0].kpos + j0 * P->kvcol; /* one group per block */
    for (int64_t j = 0; j < nk; j++) {
        int64_t x = kp[j * P->kvcol];
        int64_t h = P->window == 0 || P->window > INT32_MAX ? INT32_MAX : x + P->window - 1;
        int32_t lo = x < 0 ? INT32_MAX : (int32_t)x,
                hi = x < 0 ? INT32_MIN : h > INT32_MAX ? INT32_MAX : (int32_t)h;
        float *s = st + j * bq;
#pragma omp simd
        for (int r = 0; r < nr; r++)
            s[r] = (qp[r] >= lo) & (qp[r] <= hi) ? s[r] : -INFINITY;
    }
}

/* The biases of a tile, in base-2 units (before its masks, Flax's order):
 * the bias array row by row; ALiBi key by key across the rows, which share
 * their key positions (one group per block). */
static void bias_tile(const na__fused_job *J, const na__fused_rows *rows, int nr,
                      int64_t j0, int64_t nk, int bq, float *st)
{
    for (int r = 0; J->has_bias && r < nr; r++) {
        const float *b = rows[r].b + j0 * J->b.col;
        for (int64_t j = 0; j < nk; j++)
            st[j * bq + r] += 1.4426950408889634f * b[j * J->b.col]; /* log2(e) */
    }
    if (!J->slope)
        return;
    float sl[64] = {0}, qp[64] = {0}; /* rows past nr add 0 */
    for (int r = 0; r < nr; r++)
        sl[r] = rows[r].slope2, qp[r] = (float)rows[r].aqpos;
    const int32_t *kp = rows[0].akpos + j0 * J->apos.kvcol;
    for (int64_t j = 0; j < nk; j++) { /* rows of st in order */
        float k = (float)kp[j * J->apos.kvcol];
#pragma omp simd
        for (int i = 0; i < bq; i++)
            st[j * bq + i] += sl[i] * (k - qp[i]);
    }
}

/* The tile's row maxima, taken again after biases or masks. */
static void tile_maxima(int64_t nk, int bq, const float *st, float *mx)
{
    for (int i = 0; i < bq; i++)
        mx[i] = -INFINITY;
    for (int64_t j = 0; j < nk; j++) /* rows of st in order */
#pragma omp simd
        for (int i = 0; i < bq; i++)
            mx[i] = st[j * bq + i] > mx[i] ? st[j * bq + i] : mx[i];
}

/* Masked entries of a partly visible tile -> -inf. */
static void mask_tile(const na__fused_job *J, const na__fused_rows *rows, int nr,
                      int64_t j0, int64_t nk, int bq, float *st)
{
    static const float bias[2] = {-INFINITY, 0.0f}; /* no branch to mispredict */
    for (int r = 0; J->has_mask && r < nr; r++) {
        const bool *p = rows[r].m + j0 * J->m.col;
        for (int64_t j = 0; j < nk; j++)
            st[j * bq + r] += bias[p[j * J->m.col]];
    }
    if (J->pos.q)
        mask_positions(J, rows, nr, j0, nk, bq, st);
}

/* ---- the tiled path ---------------------------------------------------------------- */

/* One thread's buffers. k and v point at the group's keys and values: kp
 * and vp, of which the first `packed` keys are filled (from ksrc, vsrc),
 * or the inputs themselves when not packing. */
typedef struct tiled {
    float *qt, *st, *o, *m, *l, *corr, *tmx, *kp, *vp;
    const float *k, *v, *ksrc, *vsrc;
    int64_t kld, vld, packed;
    na__fused_rows *rows;
} tiled;

/* What the threads of one tiled run share. */
typedef struct tiled_run {
    const na__fused_job *J;
    int bq, bk;              /* rows per block (at most 64), keys per tile  */
    bool pack;               /* copy keys and values into kp, vp           */
    int64_t blocks, tiles, items;
    size_t bytes;
    unsigned char *states; /* [block][tile] under a shared bool mask, or NULL */
    bool oom;
} tiled_run;

static size_t tiled_bytes(const tiled_run *R)
{
    const na__fused_job *J = R->J;
    int64_t dvp = na__fused_round16(J->dv);
    size_t f = sizeof(float), bq = (size_t)R->bq;
    return na__fused_align64(f * (size_t)J->dp * bq) +
           na__fused_align64(f * (size_t)R->bk * bq) +
           na__fused_align64(f * bq * (size_t)dvp) + 4 * na__fused_align64(f * bq) +
           (R->pack ? na__fused_align64(f * (size_t)(J->skv * J->dp)) +
                          na__fused_align64(f * (size_t)(J->skv * J->dv))
                    : 0) +
           na__fused_align64(sizeof(na__fused_rows) * bq);
}

static tiled tiled_carve(const tiled_run *R, na__fused_scratch *s)
{
    const na__fused_job *J = R->J;
    int64_t dvp = na__fused_round16(J->dv);
    size_t f = sizeof(float), bq = (size_t)R->bq;
    tiled t = {0};
    t.qt = na__fused_carve(s, f * (size_t)J->dp * bq);
    t.st = na__fused_carve(s, f * (size_t)R->bk * bq);
    t.o = na__fused_carve(s, f * bq * (size_t)dvp);
    t.m = na__fused_carve(s, f * bq);
    t.l = na__fused_carve(s, f * bq);
    t.corr = na__fused_carve(s, f * bq);
    t.tmx = na__fused_carve(s, f * bq);
    if (R->pack) {
        t.kp = na__fused_carve(s, f * (size_t)(J->skv * J->dp));
        t.vp = na__fused_carve(s, f * (size_t)(J->skv * J->dv));
    }
    t.rows = na__fused_carve(s, sizeof(na__fused_rows) * bq);
    return t;
}

/* Rows [j0, j1) of n floats from src (rows `col` apart, features `feat`
 * apart) to dst, contiguous. */
static void pack_rows(float *dst, const float *src, int64_t j0, int64_t j1, int64_t n,
                      int64_t col, int64_t feat)
{
    for (int64_t j = j0; j < j1; j++) {
        if (feat == 1)
            memcpy(dst + j * n, src + j * col, sizeof(float) * (size_t)n);
        else
            for (int64_t d = 0; d < n; d++)
                dst[j * n + d] = src[j * col + d * feat];
    }
}

/* Point t at the group's keys and values (nothing packed yet). */
static void use_group(const tiled_run *R, int64_t group, tiled *t)
{
    const na__fused_job *J = R->J;
    na__fused_group_kv(J, group, &t->ksrc, &t->vsrc);
    t->packed = 0;
    if (R->pack)
        t->k = t->kp, t->kld = J->dp, t->v = t->vp, t->vld = J->dv;
    else
        t->k = t->ksrc, t->kld = J->k.col, t->v = t->vsrc, t->vld = J->v.col;
}

/* Keys and values up to key n packed (when packing). */
static void pack_upto(const tiled_run *R, tiled *t, int64_t n)
{
    const na__fused_job *J = R->J;
    if (!R->pack || n <= t->packed)
        return;
    pack_rows(t->kp, t->ksrc, t->packed, n, J->dp, J->k.col, J->k.feat);
    pack_rows(t->vp, t->vsrc, t->packed, n, J->dv, J->v.col, J->v.feat);
    t->packed = n;
}

/* The bool-mask states of every tile of a block of rows of group 0 (all
 * groups: the mask does not move along any batch-like axis). */
static void block_states(const tiled_run *R, int64_t block, na__fused_rows *rows,
                         unsigned char *out)
{
    const na__fused_job *J = R->J;
    int64_t r0 = block * R->bq;
    int nr = (int)na__fused_min64(R->bq, J->group_rows - r0);
    for (int r = 0; r < nr; r++)
        rows[r] = na__fused_row_at(J, 0, r0 + r);
    for (int64_t j0 = 0, t = 0; j0 < J->skv; j0 += R->bk, t++)
        out[t] = (unsigned char)bool_state(J, rows, nr, j0,
                                           na__fused_min64(R->bk, J->skv - j0));
}

/* The block's queries, transposed and scaled; its online-softmax state
 * reset. Features outer, rows inner: the first line of every row is asked
 * for at once, so their cache misses overlap (rows are often a whole
 * {heads, projection} apart), and qt is written in order. */
static void block_start(const na__fused_job *J, const tiled *t, int nr, int bq,
                        int64_t dvp)
{
    const float *q[64];
    for (int r = 0; r < nr; r++)
        q[r] = t->rows[r].q;
    const float sc = J->scale2;
    const int64_t fs = J->q.feat;
    for (int64_t d = 0; d < J->dp; d++) {
        float *qd = t->qt + d * bq;
        for (int r = 0; r < nr; r++)
            qd[r] = q[r][d * fs] * sc;
        for (int r = nr; r < bq; r++)
            qd[r] = 0;
    }
    for (int r = 0; r < bq; r++)
        t->m[r] = -INFINITY, t->l[r] = 0;
    memset(t->o, 0, sizeof(float) * (size_t)(bq * dvp));
}

static void tiled_block(const tiled_run *R, na__fused_scratch *s, tiled *t,
                        int64_t group, int64_t block, const unsigned char *states)
{
    const na__fused_job *J = R->J;
    const na__fused_ops *ops = J->ops;
    int64_t dvp = na__fused_round16(J->dv);
    if (s->packed != group) {
        use_group(R, group, t);
        s->packed = group;
    }
    int64_t r0 = block * R->bq;
    int nr = (int)na__fused_min64(R->bq, J->group_rows - r0),
        bq = (int)na__fused_round16(nr);
    for (int r = 0; r < nr; r++)
        t->rows[r] = na__fused_row_at(J, group, r0 + r);
    block_start(J, t, nr, bq, dvp);
    int64_t pmin = 0, pmax = 0;
    if (J->pos.q)
        row_positions(t->rows, nr, &pmin, &pmax);
    for (int64_t j0 = 0; j0 < J->skv; j0 += R->bk) {
        int64_t nk = na__fused_min64(R->bk, J->skv - j0), live;
        int state = states ? states[j0 / R->bk] : bool_state(J, t->rows, nr, j0, nk);
        state = combine_states(state, pos_state(J, t->rows, pmin, pmax, j0, nk, &live));
        if (state == TILE_DEAD)
            continue; /* no row of the block sees a key of this tile */
        nk = live;
        pack_upto(R, t, j0 + nk);
        ops->qk(nk, J->dp, t->k + j0 * t->kld, t->kld, t->qt, bq, t->st, t->tmx);
        if (J->cap2 > 0) { /* soft-cap before the masks, as the general path */
            ops->softcap(nk * bq, t->st, J->cap2);
            ops->softcap(bq, t->tmx, J->cap2);
        }
        bool biased = na__fused_has_bias(J);
        if (biased) /* after the soft-cap, before the masks */
            bias_tile(J, t->rows, nr, j0, nk, bq, t->st);
        if (state == TILE_PARTIAL)
            mask_tile(J, t->rows, nr, j0, nk, bq, t->st);
        if (biased || state == TILE_PARTIAL)
            tile_maxima(nk, bq, t->st, t->tmx);
        ops->softmax(nk, bq, t->st, t->tmx, t->m, t->l, t->corr);
        ops->pv(nk, bq, J->dv, dvp, t->st, t->v + j0 * t->vld, t->vld, t->corr, t->o);
    }
    const float *k0, *v0;
    na__fused_group_kv(J, group, &k0, &v0);
    for (int r = 0; r < nr; r++)
        na__fused_finish_row(J, t->rows[r].y, t->o + r * dvp, t->l[r], v0);
}

/* Does the bool mask stay the same along every batch-like axis? */
static bool mask_shared(const na__fused_job *J)
{
    for (int i = 0; i < J->ng; i++)
        if (J->m.g[i] != 0)
            return false;
    return J->has_mask;
}

/* One thread's part (see decode_worker in fused_decode.c). */
static void tiled_worker(tiled_run *R)
{
    na__fused_scratch s;
    bool ok = na__fused_scratch_get(&s, R->bytes);
    tiled t = {0};
    if (ok)
        t = tiled_carve(R, &s);
    else {
#pragma omp atomic write
        R->oom = true;
    }
    if (R->states) {
#pragma omp for schedule(static)
        for (int64_t b = 0; b < R->blocks; b++)
            if (ok)
                block_states(R, b, t.rows, R->states + b * R->tiles);
    }
    /* group-major order: a thread repacks only when its group changes */
#pragma omp for schedule(dynamic, 1)
    for (int64_t it = 0; it < R->items; it++)
        if (ok)
            tiled_block(R, &s, &t, it / R->blocks, it % R->blocks,
                        R->states ? R->states + (it % R->blocks) * R->tiles : NULL);
    if (ok)
        na__fused_scratch_put(&s);
}

int na__fused_run_tiled(const na__fused_job *J, int threads)
{
    tiled_run R = {.J = J};
    na__fused_tile_sizes(J->dp, J->dv, &R.bq, &R.bk);
    R.pack = J->k.feat != 1 || J->v.feat != 1 || J->group_rows >= R.bq;
    R.bytes = tiled_bytes(&R);
    R.blocks = (J->group_rows + R.bq - 1) / R.bq;
    R.tiles = (J->skv + R.bk - 1) / R.bk;
    R.items = J->groups * R.blocks;
    size_t sbytes = (size_t)(R.blocks * R.tiles);
    if (mask_shared(J)) { /* one table of tile states: the mask is scanned once */
        R.states = na__mem_alloc(sbytes);
        if (!R.states)
            return NA_ERR_NO_MEMORY;
    }
    if (R.items < threads)
        threads = (int)R.items;
    if (threads > 1) {
#pragma omp parallel num_threads(threads)
        tiled_worker(&R);
    } else {
        tiled_worker(&R);
    }
    na__mem_free(R.states, sbytes);
    return R.oom ? NA_ERR_NO_MEMORY : NA_OK;
}
