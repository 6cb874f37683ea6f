/* Choosing the next token from one row of logits: greedy, or sampling with
 * temperature, top-k, top-p and min-p from a counter-based random number,
 * so that a (seed, row, step) always draws the same token whatever the
 * thread count or the batch it runs in. Pure functions, double precision. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "namedarr/generate.h"

#define WHO "na_sample_token"

/* SplitMix64 finaliser: a good 64-bit mix of a counter. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

double na_sample_uniform(uint64_t seed, uint64_t step)
{
    uint64_t h = mix64(mix64(seed) ^ mix64(step + 0x632BE59BD9B4E019ULL));
    return (double)(h >> 11) * 0x1.0p-53; /* [0, 1) */
}

int32_t na_argmax_f32(const float *logits, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (logits[i] > logits[best] || (isnan(logits[best]) && !isnan(logits[i])))
            best = i;
    return (int32_t)best;
}

typedef struct cand {
    double p;
    int32_t id;
} cand;

static int by_prob_desc(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->p != y->p)
        return x->p > y->p ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The kept candidates (sorted, most likely first) after the filters, as
 * unnormalised probabilities; returns how many are kept. */
static int64_t filter(cand *c, int64_t n, const na_sampling *s)
{
    qsort(c, (size_t)n, sizeof *c, by_prob_desc);
    int64_t keep = n;
    if (s->top_k > 0 && s->top_k < keep)
        keep = s->top_k;
    double total = 0;
    for (int64_t i = 0; i < keep; i++)
        total += c[i].p;
    if (s->top_p > 0 && s->top_p < 1) { /* the smallest prefix with mass >= p */
        double cum = 0;
        int64_t i = 0;
        while (i < keep && cum < s->top_p * total)
            cum += c[i++].p;
        keep = i > 0 ? i : 1;
    }
    if (s->min_p > 0) {
        int64_t i = 1;
        while (i < keep && c[i].p >= s->min_p * c[0].p)
            i++;
        keep = i;
    }
    return keep;
}

static na_status check(const float *logits, int64_t n, const na_sampling *s)
{
    if (!logits || n <= 0 || n > INT32_MAX)
        return na__fail(NA_ERR_ARGUMENT, WHO ": need logits and 0 < vocab <= 2^31-1 (got %lld)",
                        (long long)n);
    if (s && (s->temperature < 0 || isnan(s->temperature) || s->top_k < 0 || s->top_p < 0 ||
              s->top_p > 1 || s->min_p < 0 || s->min_p > 1))
        return na__fail(NA_ERR_ARGUMENT,
                        WHO ": bad sampling settings: temperature %g (>= 0), top_k %d (>= 0), "
                            "top_p %g and min_p %g (in [0, 1])",
                        s->temperature, s->top_k, s->top_p, s->min_p);
    return NA_OK;
}

na_status na_sample_token(const float *logits, int64_t n, const na_sampling *s, uint64_t step,
                          int32_t *out)
{
    na_status st = check(logits, n, s);
    if (st != NA_OK || !out)
        return st != NA_OK ? st : na__fail(NA_ERR_ARGUMENT, WHO ": NULL out");
    if (!s || s->temperature == 0 || s->top_k == 1) {
        *out = na_argmax_f32(logits, n);
        return NA_OK;
    }
    cand *c = malloc((size_t)n * sizeof *c);
    if (!c)
        return na__fail(NA_ERR_NO_MEMORY, WHO ": out of memory for %lld candidates", (long long)n);
    double mx = logits[na_argmax_f32(logits, n)];
    for (int64_t i = 0; i < n; i++) { /* softmax(logits / T), unnormalised */
        double z = ((double)logits[i] - mx) / s->temperature;
        c[i] = (cand){isnan(z) ? 0 : exp(z), (int32_t)i};
    }
    int64_t keep = filter(c, n, s);
    double total = 0;
    for (int64_t i = 0; i < keep; i++)
        total += c[i].p;
    double u = na_sample_uniform(s->seed, step) * total, cum = 0;
    int32_t pick = c[keep - 1].id;
    for (int64_t i = 0; i < keep; i++) {
        cum += c[i].p;
        if (u < cum) {
            pick = c[i].id;
            break;
        }
    }
    free(c);
    *out = pick;
    return NA_OK;
}
