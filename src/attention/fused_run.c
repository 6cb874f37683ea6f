/* The fused attention job runner: what the tiled path (fused_tiles.c) and
 * the decode path (fused_decode.c) share — where a row's query, mask and
 * output live, the keys and values of a group, the masked-row policy,
 * scratch from the library's caching allocator — and the choice between
 * the two paths. */
#include <math.h>
#include <string.h>

#include "attention/fused_internal.h"
#include "core/internal.h"

/* ---- where rows live --------------------------------------------------------------- */

na__fused_rows na__fused_row_at(const na__fused_job *J, int64_t group, int64_t row)
{
    const na__fused_positions *P = &J->pos, *A = &J->apos;
    int64_t qo = 0, mo = 0, yo = 0, po = 0, ko = 0, bo = 0, so = 0, apo = 0, ako = 0;
    for (int a = J->n_outer - 1; a >= 0; a--) {
        int d = J->outer[a];
        int64_t i = group % J->gsize[d];
        group /= J->gsize[d];
        qo += i * J->q.g[d], mo += i * J->m.g[d], yo += i * J->yg[d];
        po += i * P->qg[d], ko += i * P->kvg[d];
        bo += i * J->b.g[d], so += i * J->slope_g[d], apo += i * A->qg[d],
            ako += i * A->kvg[d];
    }
    int64_t shared = J->group_rows / (J->sq > 0 ? J->sq : 1);
    int64_t pos = row / shared, sh = row % shared;
    for (int a = J->n_shared - 1; a >= 0; a--) {
        int d = J->shared[a];
        int64_t i = sh % J->gsize[d];
        sh /= J->gsize[d];
        qo += i * J->q.g[d], mo += i * J->m.g[d], yo += i * J->yg[d];
        po += i * P->qg[d]; /* key positions never move along a shared axis */
        bo += i * J->b.g[d], so += i * J->slope_g[d], apo += i * A->qg[d];
    }
    qo += pos * J->q.row, mo += pos * J->m.row, yo += pos * J->dv, bo += pos * J->b.row;
    na__fused_rows r = {.q = (const float *)J->q.base + qo,
                        .m = J->has_mask ? (const bool *)J->m.base + mo : NULL,
                        .y = J->y + yo};
    if (P->q) {
        r.qpos = P->q[po + pos * P->qrow];
        r.kpos = P->kv + ko;
    }
    if (J->has_bias)
        r.b = (const float *)J->b.base + bo;
    if (J->slope) {
        r.slope2 = J->slope[so] * 1.4426950408889634f; /* log2(e) */
        r.aqpos = A->q[apo + pos * A->qrow];
        r.akpos = A->kv + ako;
    }
    return r;
}

void na__fused_add_bias(const na__fused_job *J, const na__fused_rows *r, int64_t j0,
                        int64_t n, float *s, int64_t ss)
{
    const float l2e = 1.4426950408889634f;
    if (J->has_bias) {
        const float *b = r->b + j0 * J->b.col;
        for (int64_t j = 0; j < n; j++)
            s[j * ss] += l2e * b[j * J->b.col];
    }
    if (J->slope) {
        const int32_t *kp = r->akpos + j0 * J->apos.kvcol;
        for (int64_t j = 0; j < n; j++)
            s[j * ss] += r->slope2 * (float)((int64_t)kp[j * J->apos.kvcol] - r->aqpos);
    }
}

/* Offsets of the group's keys and values. */
void na__fused_group_kv(const na__fused_job *J, int64_t group, const float **k,
                        const float **v)
{
    int64_t ko = 0, vo = 0;
    for (int a = J->n_outer - 1; a >= 0; a--) {
        int d = J->outer[a];
        int64_t i = group % J->gsize[d];
        group /= J->gsize[d];
        ko += i * J->k.g[d], vo += i * J->v.g[d];
    }
    *k = (const float *)J->k.base + ko;
    *v = (const float *)J->v.base + vo;
}

void na__fused_group_kv_at(const na__fused_job *J, int64_t group, const char **k,
                           const char **v)
{
    int64_t ko = 0, vo = 0, es = J->bf16 ? 2 : 4;
    for (int a = J->n_outer - 1; a >= 0; a--) {
        int d = J->outer[a];
        int64_t i = group % J->gsize[d];
        group /= J->gsize[d];
        ko += i * J->k.g[d], vo += i * J->v.g[d];
    }
    *k = (const char *)J->k.base + ko * es;
    *v = (const char *)J->v.base + vo * es;
}

/* Mean of the group's values over every key (the uniform policy for a row
 * whose keys are all masked), in double like the general path's sums. */
static void value_mean(const na__fused_job *J, const void *v, float *mean)
{
    const float *vf = v;
    const uint16_t *vb = v;
    for (int64_t c = 0; c < J->dv; c++) {
        double sum = 0;
        for (int64_t j = 0; j < J->skv; j++) {
            int64_t at = j * J->v.col + c * J->v.feat;
            if (J->bf16) {
                uint32_t u = (uint32_t)vb[at] << 16;
                float f;
                memcpy(&f, &u, sizeof f);
                sum += f;
            } else {
                sum += vf[at];
            }
        }
        mean[c] = (float)(sum / (double)J->skv);
    }
}

/* y = o / l, or the policy for a row with no live key. */
void na__fused_finish_row(const na__fused_job *J, float *restrict y,
                          const float *restrict o, float l, const void *v)
{
    if (l > 0) {
        float inv = 1.0f / l;
#pragma omp simd
        for (int64_t c = 0; c < J->dv; c++)
            y[c] = o[c] * inv;
    } else if (J->zero_rows || J->skv == 0) {
        memset(y, 0, sizeof *y * (size_t)J->dv);
    } else {
        value_mean(J, v, y);
    }
}

/* ---- na__fused_scratch
 * -------------------------------------------------------------------- */

void *na__fused_carve(na__fused_scratch *s, size_t bytes)
{
    void *p = s->next;
    s->next += na__fused_align64(bytes);
    return p;
}

bool na__fused_scratch_get(na__fused_scratch *s, size_t bytes)
{
    s->bytes = bytes;
    s->block = na__mem_alloc(bytes);
    s->next = s->block;
    s->packed = -1;
    return s->block != NULL;
}

void na__fused_scratch_put(na__fused_scratch *s)
{
    na__mem_free(s->block, s->bytes);
}

int na__fused_run(const na__fused_job *J, int threads)
{
    if (threads < 1)
        threads = 1;
    if (J->group_rows <= NA__FUSED_DECODE_ROWS)
        return na__fused_run_decode(J, threads);
    return na__fused_run_tiled(J, threads);
}
