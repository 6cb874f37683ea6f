/* The tiled path of the fused attention, per group and block of up to BQ
 * query rows:
 *   qt = block of queries, transposed and scaled by scale * log2(e)
 *   for each tile of BK keys that some row of the block may see:
 *       st = k[tile] qt, its row maxima       (qk kernel)
 *       st = cap tanh(st / cap)               (with a soft-cap)
 *       masked entries -> -inf                (only in partly masked tiles)
 *       online softmax: st -> weights, m, l   (softmax kernel)
 *       o = o * corr + st^T v[tile]           (pv kernel)
 *   y = o / l (a row with no live key: the masked-row policy)
 * The kernels read the keys and values where they are (rows at any
 * stride); only inputs whose features are strided are packed, once per
 * thread and group. Blocks are sized by the head dimensions
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

/* The state under the positional mask: from the extreme query positions of
 * the rows and key positions of the tile, no per-pair work. */
static int pos_state(const na__fused_job *J, const na__fused_rows *rows, int nr,
                     int64_t j0, int64_t nk)
{
    const na__fused_positions *P = &J->pos;
    if (!P->q)
        return TILE_LIVE;
    int64_t pmin = INT64_MAX, pmax = INT64_MIN, kmin = INT64_MAX, kmax = INT64_MIN;
    for (int r = 0; r < nr; r++) {
        pmin = rows[r].qpos < pmin ? rows[r].qpos : pmin;
        pmax = rows[r].qpos > pmax ? rows[r].qpos : pmax;
    }
    bool pad = false; /* a key at a negative position */
    const int32_t *kp = rows[0].kpos + j0 * P->kvcol;
    for (int64_t j = 0; j < nk; j++) {
        int64_t x = kp[j * P->kvcol];
        pad |= x < 0;
        if (x >= 0) {
            kmin = x < kmin ? x : kmin;
            kmax = x > kmax ? x : kmax;
        }
    }
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

/* Masked entries of a partly visible tile -> -inf, and the tile's row
 * maxima taken again. */
static void mask_tile(const na__fused_job *J, const na__fused_rows *rows, int nr,
                      int64_t j0, int64_t nk, int bq, float *st, float *mx)
{
    static const float bias[2] = {-INFINITY, 0.0f}; /* no branch to mispredict */
    const na__fused_positions *P = &J->pos;
    for (int r = 0; r < nr; r++) {
        if (J->has_mask) {
            const bool *p = rows[r].m + j0 * J->m.col;
            for (int64_t j = 0; j < nk; j++)
                st[j * bq + r] += bias[p[j * J->m.col]];
        }
        if (P->q) {
            const int32_t *kp = rows[r].kpos + j0 * P->kvcol;
            int64_t qp = rows[r].qpos;
            for (int64_t j = 0; j < nk; j++)
                st[j * bq + r] += bias[na__fused_visible(qp, kp[j * P->kvcol], P->window)];
        }
    }
    for (int i = 0; i < bq; i++)
        mx[i] = -INFINITY;
    for (int64_t j = 0; j < nk; j++) /* rows of st in order: vectorises */
        for (int i = 0; i < bq; i++)
            mx[i] = st[j * bq + i] > mx[i] ? st[j * bq + i] : mx[i];
}

/* ---- the tiled path ---------------------------------------------------------------- */

/* One thread's buffers. k and v point at the group's keys and values: the
 * inputs themselves when their features are contiguous, else kp / vp. */
typedef struct tiled {
    float *qt, *st, *o, *m, *l, *corr, *tmx, *kp, *vp;
    const float *k, *v;
    int64_t kld, vld;
    na__fused_rows *rows;
} tiled;

/* What the threads of one tiled run share. */
typedef struct tiled_run {
    const na__fused_job *J;
    int bq, bk;              /* rows per block (at most 64), keys per tile  */
    bool pack_k, pack_v;     /* features strided: copy the group's keys    */
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
           (R->pack_k ? na__fused_align64(f * (size_t)(J->skv * J->dp)) : 0) +
           (R->pack_v ? na__fused_align64(f * (size_t)(J->skv * J->dv)) : 0) +
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
    if (R->pack_k)
        t.kp = na__fused_carve(s, f * (size_t)(J->skv * J->dp));
    if (R->pack_v)
        t.vp = na__fused_carve(s, f * (size_t)(J->skv * J->dv));
    t.rows = na__fused_carve(s, sizeof(na__fused_rows) * bq);
    return t;
}

/* Point t at the group's keys and values, packing those with strided
 * features (rows of dp / dv floats). */
static void use_group(const tiled_run *R, int64_t group, tiled *t)
{
    const na__fused_job *J = R->J;
    const float *k, *v;
    na__fused_group_kv(J, group, &k, &v);
    t->k = k, t->kld = J->k.col, t->v = v, t->vld = J->v.col;
    if (R->pack_k) {
        for (int64_t j = 0; j < J->skv; j++)
            for (int64_t d = 0; d < J->dp; d++)
                t->kp[j * J->dp + d] = k[j * J->k.col + d * J->k.feat];
        t->k = t->kp, t->kld = J->dp;
    }
    if (R->pack_v) {
        for (int64_t j = 0; j < J->skv; j++)
            for (int64_t c = 0; c < J->dv; c++)
                t->vp[j * J->dv + c] = v[j * J->v.col + c * J->v.feat];
        t->v = t->vp, t->vld = J->dv;
    }
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

/* The block's queries, transposed and scaled; its online-softmax state reset. */
static void block_start(const na__fused_job *J, const tiled *t, int nr, int bq,
                        int64_t dvp)
{
    for (int r = 0; r < nr; r++) /* read rows in order, write qt across */
        for (int64_t d = 0; d < J->dp; d++)
            t->qt[d * bq + r] = t->rows[r].q[d * J->q.feat] * J->scale2;
    for (int64_t d = 0; d < J->dp; d++)
        for (int r = nr; r < bq; r++)
            t->qt[d * bq + r] = 0;
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
    for (int64_t j0 = 0; j0 < J->skv; j0 += R->bk) {
        int64_t nk = na__fused_min64(R->bk, J->skv - j0);
        int state = states ? states[j0 / R->bk] : bool_state(J, t->rows, nr, j0, nk);
        state = combine_states(state, pos_state(J, t->rows, nr, j0, nk));
        if (state == TILE_DEAD)
            continue; /* no row of the block sees a key of this tile */
        ops->qk(nk, J->dp, t->k + j0 * t->kld, t->kld, t->qt, bq, t->st, t->tmx);
        if (J->cap2 > 0) { /* soft-cap before the masks, as the general path */
            ops->softcap(nk * bq, t->st, J->cap2);
            ops->softcap(bq, t->tmx, J->cap2);
        }
        if (state == TILE_PARTIAL)
            mask_tile(J, t->rows, nr, j0, nk, bq, t->st, t->tmx);
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
    tiled_run R = {.J = J, .pack_k = J->k.feat != 1, .pack_v = J->v.feat != 1};
    na__fused_tile_sizes(J->dp, J->dv, &R.bq, &R.bk);
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
