/* The tiled path of the fused attention, per group and block of up to BQ
 * query rows:
 *   qt = block of queries, transposed and scaled by scale * log2(e)
 *   for each tile of BK keys that some row of the block may see:
 *       st = kp[tile] qt                     (qk kernel)
 *       masked entries -> -inf                (only in partly masked tiles)
 *       online softmax: st -> weights, m, l   (softmax kernel)
 *       o = o * corr + st^T vp[tile]          (pv kernel)
 *   y = o / l (a row with no live key: the masked-row policy)
 * The keys and values of the group are packed once per thread (contiguous
 * rows, features padded to 16).
 */
#include <math.h>
#include <string.h>

#include "attention/fused_internal.h"
#include "core/internal.h"

#define BQ 64
#define BK 64

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

static int tile_state(const na__fused_job *J, const na__fused_rows *rows, int nr,
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

static void mask_tile(const na__fused_job *J, const na__fused_rows *rows, int nr,
                      int64_t j0, int64_t nk, int bq, float *st)
{
    static const float bias[2] = {-INFINITY, 0.0f}; /* no branch to mispredict */
    for (int r = 0; r < nr; r++) {
        const bool *p = rows[r].m + j0 * J->m.col;
        for (int64_t j = 0; j < nk; j++)
            st[j * bq + r] += bias[p[j * J->m.col]];
    }
}

/* ---- the tiled path ---------------------------------------------------------------- */

typedef struct tiled {
    float *qt, *st, *o, *m, *l, *corr, *kp, *vp;
    na__fused_rows *rows;
} tiled;

static size_t tiled_bytes(const na__fused_job *J)
{
    int64_t dvp = na__fused_round16(J->dv);
    size_t f = sizeof(float);
    return na__fused_align64(f * (size_t)(J->dp * BQ)) + na__fused_align64(f * BK * BQ) +
           na__fused_align64(f * (size_t)(BQ * dvp)) + 3 * na__fused_align64(f * BQ) +
           na__fused_align64(f * (size_t)(J->skv * J->dp)) +
           na__fused_align64(f * (size_t)(J->skv * dvp)) +
           na__fused_align64(sizeof(na__fused_rows) * BQ);
}

static tiled tiled_carve(const na__fused_job *J, na__fused_scratch *s)
{
    int64_t dvp = na__fused_round16(J->dv);
    size_t f = sizeof(float);
    tiled t;
    t.qt = na__fused_carve(s, f * (size_t)(J->dp * BQ));
    t.st = na__fused_carve(s, f * BK * BQ);
    t.o = na__fused_carve(s, f * (size_t)(BQ * dvp));
    t.m = na__fused_carve(s, f * BQ);
    t.l = na__fused_carve(s, f * BQ);
    t.corr = na__fused_carve(s, f * BQ);
    t.kp = na__fused_carve(s, f * (size_t)(J->skv * J->dp));
    t.vp = na__fused_carve(s, f * (size_t)(J->skv * dvp));
    t.rows = na__fused_carve(s, sizeof(na__fused_rows) * BQ);
    return t;
}

static void pack_group(const na__fused_job *J, const float *k, const float *v,
                       const tiled *t)
{
    int64_t dvp = na__fused_round16(J->dv);
    for (int64_t j = 0; j < J->skv; j++) {
        const float *kj = k + j * J->k.col, *vj = v + j * J->v.col;
        float *kd = t->kp + j * J->dp, *vd = t->vp + j * dvp;
        if (J->k.feat == 1)
            memcpy(kd, kj, sizeof *kd * (size_t)J->dp);
        else
            for (int64_t d = 0; d < J->dp; d++)
                kd[d] = kj[d * J->k.feat];
        if (J->v.feat == 1)
            memcpy(vd, vj, sizeof *vd * (size_t)J->dv);
        else
            for (int64_t c = 0; c < J->dv; c++)
                vd[c] = vj[c * J->v.feat];
        for (int64_t c = J->dv; c < dvp; c++)
            vd[c] = 0;
    }
}

/* The states of every tile of a block of rows of group 0 (all groups,
 * when the mask does not move along any batch-like axis). */
static void block_states(const na__fused_job *J, int64_t block, na__fused_rows *rows,
                         unsigned char *out)
{
    int64_t r0 = block * BQ;
    int nr = (int)na__fused_min64(BQ, J->group_rows - r0);
    for (int r = 0; r < nr; r++)
        rows[r] = na__fused_row_at(J, 0, r0 + r);
    for (int64_t j0 = 0, t = 0; j0 < J->skv; j0 += BK, t++)
        out[t] =
            (unsigned char)tile_state(J, rows, nr, j0, na__fused_min64(BK, J->skv - j0));
}

static void tiled_block(const na__fused_job *J, na__fused_scratch *s, const tiled *t,
                        int64_t group, int64_t block, const unsigned char *states)
{
    const na__fused_ops *ops = J->ops;
    int64_t dvp = na__fused_round16(J->dv);
    const float *k, *v;
    na__fused_group_kv(J, group, &k, &v);
    if (s->packed != group) {
        pack_group(J, k, v, t);
        s->packed = group;
    }
    int64_t r0 = block * BQ;
    int nr = (int)na__fused_min64(BQ, J->group_rows - r0),
        bq = (int)na__fused_round16(nr);
    for (int r = 0; r < nr; r++)
        t->rows[r] = na__fused_row_at(J, group, r0 + r);
    for (int r = 0; r < nr; r++) /* read rows in order, write qt across */
        for (int64_t d = 0; d < J->dp; d++)
            t->qt[d * bq + r] = t->rows[r].q[d * J->q.feat] * J->scale2;
    for (int64_t d = 0; d < J->dp; d++)
        for (int r = nr; r < bq; r++)
            t->qt[d * bq + r] = 0;
    for (int r = 0; r < bq; r++)
        t->m[r] = -INFINITY, t->l[r] = 0;
    memset(t->o, 0, sizeof(float) * (size_t)(bq * dvp));
    for (int64_t j0 = 0; j0 < J->skv; j0 += BK) {
        int64_t nk = na__fused_min64(BK, J->skv - j0);
        int state = states ? states[j0 / BK] : tile_state(J, t->rows, nr, j0, nk);
        if (state == TILE_DEAD)
            continue; /* no row of the block sees a key of this tile */
        ops->qk(nk, J->dp, t->kp + j0 * J->dp, t->qt, bq, t->st);
        if (state == TILE_PARTIAL)
            mask_tile(J, t->rows, nr, j0, nk, bq, t->st);
        ops->softmax(nk, bq, t->st, t->m, t->l, t->corr);
        ops->pv(nk, bq, dvp, t->st, t->vp + j0 * dvp, t->corr, t->o);
    }
    for (int r = 0; r < nr; r++)
        na__fused_finish_row(J, t->rows[r].y, t->o + r * dvp, t->l[r], v);
}

/* Does the mask stay the same along every batch-like axis? */
static bool mask_shared(const na__fused_job *J)
{
    for (int i = 0; i < J->ng; i++)
        if (J->m.g[i] != 0)
            return false;
    return J->has_mask;
}

/* What the threads of one tiled run share. */
typedef struct tiled_run {
    const na__fused_job *J;
    int64_t blocks, tiles, items;
    size_t bytes;
    unsigned char *states; /* [block][tile], or NULL */
    bool oom;
} tiled_run;

/* One thread's part (see decode_worker in fused_decode.c). */
static void tiled_worker(tiled_run *R)
{
    const na__fused_job *J = R->J;
    na__fused_scratch s;
    bool ok = na__fused_scratch_get(&s, R->bytes);
    tiled t = {0};
    if (ok)
        t = tiled_carve(J, &s);
    else {
#pragma omp atomic write
        R->oom = true;
    }
    if (R->states) {
#pragma omp for schedule(static)
        for (int64_t b = 0; b < R->blocks; b++)
            if (ok)
                block_states(J, b, t.rows, R->states + b * R->tiles);
    }
    /* group-major order: a thread repacks only when its group changes */
#pragma omp for schedule(dynamic, 1)
    for (int64_t it = 0; it < R->items; it++)
        if (ok)
            tiled_block(J, &s, &t, it / R->blocks, it % R->blocks,
                        R->states ? R->states + (it % R->blocks) * R->tiles : NULL);
    if (ok)
        na__fused_scratch_put(&s);
}

int na__fused_run_tiled(const na__fused_job *J, int threads)
{
    tiled_run R = {.J = J, .bytes = tiled_bytes(J)};
    R.blocks = (J->group_rows + BQ - 1) / BQ;
    R.tiles = (J->skv + BK - 1) / BK;
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
