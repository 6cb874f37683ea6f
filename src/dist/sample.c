/* Choosing tokens from logits whose vocabulary is split across processes
 * (a model sharded with keep_vocab_split): each process sends only its
 * candidates, never its whole block, unless the settings need every logit.
 *
 *  - greedy: each process's argmax of each row (the first on ties, NaN
 *    never wins), as (value, global id) pairs, one all-gather of
 *    16 bytes a row; every process keeps the first of the largest in
 *    process order, which is the lowest global id, as na_argmax_f32.
 *  - top_k > 0: each process's k best (by logit, then id), then
 *    na_sample_token on the union ordered by global id: the same top-k,
 *    the same probabilities, the same draw as on the whole row (a logit
 *    whose probability underflows to 0 may be exchanged for another of
 *    probability 0, which is never drawn).
 *  - otherwise (temperature with top-p / min-p only): the rows gathered
 *    whole, then na_sample_token. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dist_internal.h"

#define WHO "na_dist_sampler"

/* Is a better than b as a candidate (higher logit; NaN lowest; lower id)? */
static bool better(float a, int64_t ia, float b, int64_t ib)
{
    if (isnan(a) != isnan(b))
        return isnan(b);
    if (a != b && !isnan(a))
        return a > b;
    return ia < ib;
}

static int by_id(const void *x, const void *y)
{
    const double *a = x, *b = y;
    return a[1] < b[1] ? -1 : a[1] > b[1];
}

/* Row's k best of [0, vocab) into pairs[k][2] = (logit, offset + id),
 * ordered by id; best[k] is scratch. Insertion into a sorted list: k is
 * small. */
static void local_best(const float *row, int64_t vocab, int64_t k, int64_t offset,
                       int64_t *best, double *pairs)
{
    int64_t n = 0;
    for (int64_t i = 0; i < vocab; i++) {
        if (n == k && !better(row[i], i, row[best[k - 1]], best[k - 1]))
            continue;
        int64_t j = n < k ? n++ : k - 1;
        while (j > 0 && better(row[i], i, row[best[j - 1]], best[j - 1]))
            best[j] = best[j - 1], j--;
        best[j] = i;
    }
    for (int64_t c = 0; c < k; c++)
        pairs[2 * c] = row[best[c]], pairs[2 * c + 1] = (double)(offset + best[c]);
    qsort(pairs, (size_t)k, 2 * sizeof *pairs, by_id);
}

/* Every process's candidates: {part:size, batch:n, cand:k, pair:2} f64.
 * A process that fails here still meets the others in the gather. */
static na_status gather_candidates(const na_dist_sampler *ds, const float *logits, int64_t n,
                                   int64_t vocab, int64_t k, na_array **out)
{
    na_array *mine = NULL;
    int64_t *best = malloc((size_t)k * sizeof *best);
    na_status st = best ? na_empty(NA_F64, 4, (na_dim[]){{"part", 1}, {"batch", n},
                                                         {"cand", k}, {"pair", 2}}, &mine)
                        : na_fail(NA_ERR_NO_MEMORY, WHO ": out of memory");
    int64_t offset = (int64_t)na_mesh_coord(ds->mesh, ds->mesh_axis) * vocab;
    for (int64_t b = 0; st == NA_OK && b < n; b++)
        local_best(logits + b * vocab, vocab, k, offset, best,
                   (double *)na_data(mine) + b * k * 2);
    free(best);
    st = na_all_gather(ds->mesh, ds->mesh_axis, st == NA_OK ? mine : NULL, "part", out);
    na_array_free(mine);
    return st;
}

/* Row b's token from the gathered candidates (parts in vocab order). */
static na_status pick(const na_array *all, int64_t b, const na_sampling *s, uint64_t step,
                      int32_t *token)
{
    int64_t parts = na_axis_size(all, "part"), n = na_axis_size(all, "batch");
    int64_t k = na_axis_size(all, "cand"), m = parts * k;
    const double *d = na_data(all);
    float *vals = malloc((size_t)m * sizeof *vals);
    if (!vals)
        return na_fail(NA_ERR_NO_MEMORY, WHO ": out of memory");
    for (int64_t p = 0; p < parts; p++)
        for (int64_t c = 0; c < k; c++)
            vals[p * k + c] = (float)d[((p * n + b) * k + c) * 2];
    int32_t at = 0;
    na_status st = na_sample_token(vals, m, s, step, &at);
    if (st == NA_OK)
        *token = (int32_t)d[((at / k * n + b) * k + at % k) * 2 + 1];
    free(vals);
    return st;
}

/* The rows whole on every process, then na_sample_token on each. */
static na_status choose_gathered(const na_dist_sampler *ds, const float *logits, int64_t n,
                                 int64_t vocab, const na_sampling *s, const uint64_t *steps,
                                 int32_t *tokens)
{
    na_array *mine = NULL, *all = NULL, *rows = NULL;
    na_status st = na_wrap(NA_F32, 2, (na_dim[]){{"batch", n}, {"vocab", vocab}},
                           (void *)logits, NULL, NULL, &mine);
    st = na_all_gather(ds->mesh, ds->mesh_axis, st == NA_OK ? mine : NULL, "vocab", &all);
    if (st == NA_OK)
        st = na_order_as(all, NA_NAMES("batch", "vocab"), &rows);
    na_array *flat = NULL;
    if (st == NA_OK)
        st = na_copy(rows, &flat);
    int64_t total = flat ? na_axis_size(flat, "vocab") : 0;
    for (int64_t b = 0; st == NA_OK && b < n; b++) {
        na_sampling r = *s;
        r.seed += (uint64_t)b;
        st = na_sample_token((const float *)na_data(flat) + b * total, total, &r, steps[b],
                             &tokens[b]);
    }
    na_array *tmp[] = {mine, all, rows, flat};
    for (int i = 0; i < 4; i++)
        na_array_free(tmp[i]);
    return st;
}

static na_status dist_choose(void *user, const float *logits, int64_t n, int64_t vocab,
                             const na_sampling *s, const uint64_t *steps, int32_t *tokens)
{
    const na_dist_sampler *ds = user;
    if (!ds->mesh_axis) { /* the vocabulary is whole here */
        for (int64_t b = 0; b < n; b++) {
            na_sampling r = s ? *s : (na_sampling){0};
            r.seed += (uint64_t)b;
            na_status st = na_sample_token(logits + b * vocab, vocab, &r, steps[b], &tokens[b]);
            if (st != NA_OK)
                return st;
        }
        return NA_OK;
    }
    bool greedy = !s || s->temperature == 0 || s->top_k == 1;
    if (!greedy && s->top_k <= 0)
        return choose_gathered(ds, logits, n, vocab, s, steps, tokens);
    int64_t k = greedy ? 1 : s->top_k < vocab ? s->top_k : vocab;
    na_array *all = NULL;
    na_status st = gather_candidates(ds, logits, n, vocab, k, &all);
    for (int64_t b = 0; st == NA_OK && b < n; b++) {
        na_sampling r = s ? *s : (na_sampling){0};
        r.seed += (uint64_t)b;
        st = pick(all, b, &r, steps[b], &tokens[b]);
    }
    na_array_free(all);
    return st;
}

na_token_chooser na_dist_sampler_chooser(na_dist_sampler *ds)
{
    return (na_token_chooser){.choose = dist_choose, .user = ds};
}
