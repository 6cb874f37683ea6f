/* na_generate: prefill a batch of prompts once (left-padded, with their
 * positions), then decode one token per row per step through the model's
 * self-tracking KV caches, sampling each row with its own seed. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"
#include "namedarr/attention.h"
#include "namedarr/generate.h"

#define WHO "na_generate"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static na_status check_args(const na_layer *model, const na_token_list *prompts, int64_t n,
                            const na_generate_options *o, int64_t *longest)
{
    if (!model || !prompts || !o)
        return na__fail(NA_ERR_ARGUMENT, WHO ": NULL argument");
    if (n <= 0 || o->max_new_tokens <= 0 || o->n_stop_tokens < 0 ||
        (o->n_stop_tokens && !o->stop_tokens))
        return na__fail(NA_ERR_ARGUMENT,
                        WHO ": need prompts > 0 (got %lld), max_new_tokens > 0 (got %lld) and "
                            "stop tokens",
                        (long long)n, (long long)o->max_new_tokens);
    *longest = 0;
    for (int64_t i = 0; i < n; i++) {
        if (prompts[i].count == 0 || !prompts[i].ids)
            return na__fail(NA_ERR_ARGUMENT, WHO ": prompt %lld is empty", (long long)i);
        if ((int64_t)prompts[i].count > *longest)
            *longest = (int64_t)prompts[i].count;
    }
    return NA_OK;
}

typedef struct axes {
    const char *batch, *seq, *vocab, *positions;
} axes;

/* ids {batch:n, seq:len} and, when `positions` is wanted, the positions
 * {batch, seq} (-1 on left padding). rows[i] == NULL: one pad token. */
static na_status make_inputs(const axes *ax, const na_token_list *rows, const int32_t *last,
                             int64_t n, int64_t len, int32_t pad, na_array **ids, na_array **pos)
{
    na_dim dims[2] = {{ax->batch, n}, {ax->seq, len}};
    na_status st = na_empty(NA_I32, 2, dims, ids);
    if (st == NA_OK && pos)
        st = na_empty(NA_I32, 2, dims, pos);
    if (st != NA_OK) {
        na_array_free(*ids);
        return st;
    }
    int32_t *d = na_data(*ids), *p = pos ? na_data(*pos) : NULL;
    for (int64_t b = 0; b < n; b++) {
        int64_t cnt = rows ? (int64_t)rows[b].count : 1, skip = len - cnt;
        for (int64_t s = 0; s < len; s++) {
            d[b * len + s] = s < skip ? pad : rows ? rows[b].ids[s - skip] : last[b];
            if (p)
                p[b * len + s] = s < skip ? -1 : (int32_t)(s - skip);
        }
    }
    return NA_OK;
}

/* The logits of the last position of every row into buf [n][vocab]. */
static na_status last_logits(const axes *ax, const na_array *logits, int64_t n, float *buf,
                             int64_t vocab)
{
    na_array *last = NULL, *ordered = NULL;
    int64_t len = na_axis_size(logits, ax->seq);
    if (na_axis_size(logits, ax->batch) != n || len <= 0 ||
        na_axis_size(logits, ax->vocab) != vocab)
        return na__fail(NA_ERR_SHAPE,
                        WHO ": the model's output %s is not logits {%s:%lld, %s, %s:%lld}",
                        na__shape(logits), ax->batch, (long long)n, ax->seq, ax->vocab,
                        (long long)vocab);
    na_status st = na_index_by(logits, 1, &NA_AT(ax->seq, len - 1), &last);
    if (st == NA_OK)
        st = na_order_as(last, (const char *const[]){ax->batch, ax->vocab, NULL}, &ordered);
    if (st == NA_OK)
        st = na_copy_to(ordered, NA_F32, buf);
    na_array_free(last);
    na_array_free(ordered);
    return st;
}

/* One model call: ids (+ positions) in, the last position's logits out. */
static na_status step(na_layer *model, const axes *ax, na_array *ids, na_array *pos, int64_t n,
                      float **buf, int64_t *vocab)
{
    na_side *side = NULL;
    na_array *logits = NULL;
    na_status st = NA_OK;
    if (pos) {
        side = na_side_new();
        st = side ? na_side_set_array(side, ax->positions, pos)
                  : na__fail(NA_ERR_NO_MEMORY, WHO ": out of memory");
    }
    if (st == NA_OK)
        st = na_layer_call_array(model, ids, side, &logits);
    if (st == NA_OK && !*buf) {
        *vocab = na_axis_size(logits, ax->vocab);
        *buf = *vocab > 0 ? malloc((size_t)(n * *vocab) * sizeof **buf) : NULL;
        if (!*buf)
            st = *vocab > 0 ? na__fail(NA_ERR_NO_MEMORY, WHO ": out of memory")
                            : na__fail(NA_ERR_AXIS, WHO ": the model's output %s has no axis '%s'",
                                       na__shape(logits), ax->vocab);
    }
    if (st == NA_OK)
        st = last_logits(ax, logits, n, *buf, *vocab);
    na_array_free(logits);
    na_side_free(side);
    return st;
}

static bool append_id(na_token_list *l, int32_t t)
{
    int32_t *v = realloc(l->ids, (l->count + 1) * sizeof *v);
    if (!v)
        return false;
    v[l->count++] = t;
    l->ids = v;
    return true;
}

static bool is_stop(const na_generate_options *o, int32_t t)
{
    for (int i = 0; i < o->n_stop_tokens; i++)
        if (o->stop_tokens[i] == t)
            return true;
    return false;
}

/* Record row b's token t: stop, append, call back, count. */
static na_status take(const na_generate_options *o, int64_t b, int32_t t, na_generation *g,
                      int32_t *last, int64_t *live, int64_t *sampled)
{
    last[b] = t;
    ++*sampled;
    if (is_stop(o, t)) {
        g->finished[b] = NA_GEN_STOP_TOKEN;
        return NA_OK;
    }
    if (!append_id(&g->tokens[b], t))
        return na__fail(NA_ERR_NO_MEMORY, WHO ": out of memory");
    if (o->on_token && o->on_token(o->user, b, t))
        g->finished[b] = NA_GEN_CALLBACK;
    else if ((int64_t)g->tokens[b].count >= o->max_new_tokens)
        g->finished[b] = NA_GEN_MAX_TOKENS;
    *live += !g->finished[b];
    return NA_OK;
}

/* Every row's candidate through the options' chooser (one call a step). */
static na_status choose_all(const na_generate_options *o, const float *buf, int64_t vocab,
                            int64_t n, const na_generation *g, int32_t *picks)
{
    uint64_t *steps = malloc((size_t)n * sizeof *steps);
    if (!steps)
        return na__fail(NA_ERR_NO_MEMORY, WHO ": out of memory");
    for (int64_t b = 0; b < n; b++)
        steps[b] = g->tokens[b].count, picks[b] = 0;
    na_status st = o->chooser.choose(o->chooser.user, buf, n, vocab, &o->sampling, steps,
                                     picks);
    free(steps);
    return st;
}

/* Choose each live row's next token, record it, call back, mark stops;
 * *live: rows still going; *sampled counts the tokens drawn. */
static na_status choose(const na_generate_options *o, const float *buf, int64_t vocab, int64_t n,
                        na_generation *g, int32_t *last, int64_t *live, int64_t *sampled)
{
    *live = 0;
    int32_t *picks = NULL;
    na_status st = NA_OK;
    if (o->chooser.choose) {
        picks = malloc((size_t)n * sizeof *picks);
        st = picks ? choose_all(o, buf, vocab, n, g, picks)
                   : na__fail(NA_ERR_NO_MEMORY, WHO ": out of memory");
    }
    for (int64_t b = 0; st == NA_OK && b < n; b++) {
        if (g->finished[b])
            continue;
        na_sampling s = o->sampling;
        s.seed += (uint64_t)b;
        int32_t t = picks ? picks[b] : 0;
        if (!picks)
            st = na_sample_token(buf + b * vocab, vocab, &s, g->tokens[b].count, &t);
        if (st == NA_OK)
            st = take(o, b, t, g, last, live, sampled);
    }
    free(picks);
    return st;
}

static na_status run(na_layer *model, const axes *ax, const na_token_list *prompts, int64_t n,
                     int64_t longest, const na_generate_options *o, na_generation *g)
{
    na_array *ids = NULL, *pos = NULL;
    float *buf = NULL;
    int64_t vocab = 0, live = n, first = 0;
    int32_t *last = calloc((size_t)n, sizeof *last);
    double t0 = now_seconds();
    na_status st = last ? make_inputs(ax, prompts, NULL, n, longest, o->pad_token, &ids, &pos)
                        : na__fail(NA_ERR_NO_MEMORY, WHO ": out of memory");
    if (st == NA_OK)
        st = step(model, ax, ids, pos, n, &buf, &vocab);
    if (st == NA_OK)
        st = choose(o, buf, vocab, n, g, last, &live, &first);
    g->prefill_seconds = now_seconds() - t0;
    t0 = now_seconds();
    while (st == NA_OK && live > 0) {
        na_array_free(ids);
        ids = NULL;
        for (int64_t b = 0; b < n; b++) /* finished rows run on with padding */
            last[b] = g->finished[b] ? o->pad_token : last[b];
        st = make_inputs(ax, NULL, last, n, 1, o->pad_token, &ids, NULL);
        if (st == NA_OK)
            st = step(model, ax, ids, NULL, n, &buf, &vocab);
        if (st == NA_OK)
            st = choose(o, buf, vocab, n, g, last, &live, &g->decode_tokens);
        g->decode_steps++;
    }
    g->decode_seconds = now_seconds() - t0;
    na_array_free(ids), na_array_free(pos);
    free(buf), free(last);
    return st;
}

na_status na_generate(na_layer *model, const na_token_list *prompts, int64_t n,
                      const na_generate_options *opt, na_generation *out)
{
    int64_t longest = 0;
    na_status st = check_args(model, prompts, n, opt, &longest);
    if (st != NA_OK || !out)
        return st != NA_OK ? st : na__fail(NA_ERR_ARGUMENT, WHO ": NULL out");
    axes ax = {opt->batch_axis ? opt->batch_axis : "batch", opt->seq_axis ? opt->seq_axis : "seq",
               opt->vocab_axis ? opt->vocab_axis : "vocab",
               opt->positions_key ? opt->positions_key : NA_QUERY_POSITIONS_KEY};
    int caches = 0;
    if ((st = na_tree_kv_cache_reset(model, &caches)) != NA_OK)
        return st;
    if (caches == 0)
        return na__fail(NA_ERR_ARGUMENT, WHO ": the model has no KVCachingAttention (convert it "
                                         "with na_attention_to_kv_cache first)");
    na_generation g = {.rows = n};
    g.tokens = calloc((size_t)n, sizeof *g.tokens);
    g.finished = calloc((size_t)n, sizeof *g.finished);
    st = g.tokens && g.finished ? run(model, &ax, prompts, n, longest, opt, &g)
                                : na__fail(NA_ERR_NO_MEMORY, WHO ": out of memory");
    if (st != NA_OK) {
        na_generation_free(&g);
        return st;
    }
    for (int64_t b = 0; b < n; b++)
        g.prefill_tokens += (int64_t)prompts[b].count;
    g.prefill_tokens_per_s = g.prefill_seconds > 0 ? g.prefill_tokens / g.prefill_seconds : 0;
    g.decode_tokens_per_s = g.decode_seconds > 0 ? g.decode_tokens / g.decode_seconds : 0;
    *out = g;
    return NA_OK;
}

void na_generation_free(na_generation *g)
{
    if (!g)
        return;
    for (int64_t b = 0; g->tokens && b < g->rows; b++)
        na_token_list_free(&g->tokens[b]);
    free(g->tokens);
    free(g->finished);
    memset(g, 0, sizeof *g);
}
