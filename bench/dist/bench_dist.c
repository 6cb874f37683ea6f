/* Tensor-parallel prefill and decode: a Llama-like model of about 100M
 * parameters (vocab 32000, hidden 768, MLP 2048, 8 layers, 12 heads over
 * 4 kv heads) run whole on process 0 alone, then sharded over every
 * process ({model:n}), in the same run, twice: with the logits gathered
 * whole on every process ("logits":"gathered", argmax everywhere) and with
 * them left split over the vocabulary ("logits":"split", greedy through
 * na_dist_sampler: 16 bytes a row instead of the logits). JSON lines on
 * process 0: tokens/s, bytes each process sends per token, and the share
 * of the time spent in the collectives, for 1 and n processes, and the
 * n/1 ratios.
 *
 *   mpirun -np 2 --bind-to none build/bench_dist [--quick] [--threads N]
 *
 * Each process uses one thread unless --threads says otherwise (two
 * processes of one thread on two cores against one process of one thread).
 * While process 0 runs alone the others wait without spinning. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "namedarr/dist.h"
#include "namedarr/models.h"
#include "namedarr/runtime.h"
#include "namedarr/tree.h"

typedef struct setup {
    na_llama_config c;
    int64_t prompt, steps;
    int reps;
} setup;

typedef struct result {
    double prefill_s, decode_s;          /* medians                      */
    na_dist_stats prefill, decode;       /* of the median repetition     */
} result;

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static setup make_setup(bool quick)
{
    setup s = {.prompt = quick ? 16 : 128, .steps = quick ? 4 : 16, .reps = 3};
    na_llama_config_init(&s.c);
    s.c.vocab_size = quick ? 512 : 32000, s.c.hidden_size = quick ? 64 : 768;
    s.c.intermediate_size = quick ? 128 : 2048;
    s.c.num_hidden_layers = quick ? 2 : 8, s.c.num_attention_heads = quick ? 4 : 12;
    s.c.num_key_value_heads = quick ? 2 : 4, s.c.head_dim = quick ? 16 : 64;
    s.c.max_position_embeddings = 4096;
    return s;
}

#define CHECK(call)                                                          \
    do {                                                                     \
        if ((call) != NA_OK) {                                               \
            fprintf(stderr, "bench_dist: %s\n", na_last_error());            \
            MPI_Abort(MPI_COMM_WORLD, 1);                                    \
        }                                                                    \
    } while (0)

/* The next token of each row: the argmax at the last position, or the
 * chooser's greedy pick over the split logits. */
static na_array *next_ids(const na_array *logits, const na_token_chooser *ch)
{
    na_array *last = NULL, *best = NULL, *ids = NULL, *rows = NULL, *flat = NULL;
    int64_t seq = na_axis_size(logits, "seq");
    CHECK(na_index_by(logits, 1, &NA_AT("seq", seq - 1), &last));
    if (!ch) {
        CHECK(na_argmax(last, "vocab", &best));
    } else {
        int64_t n = na_axis_size(last, "batch"), v = na_axis_size(last, "vocab");
        int32_t tok[64];
        uint64_t steps[64] = {0};
        CHECK(na_order_as(last, NA_NAMES("batch", "vocab"), &rows));
        CHECK(na_copy(rows, &flat));
        CHECK(ch->choose(ch->user, na_data(flat), n, v, &(na_sampling){0}, steps, tok));
        CHECK(na_empty(NA_I32, 1, &(na_dim){"batch", n}, &best));
        memcpy(na_data(best), tok, (size_t)n * sizeof *tok);
    }
    CHECK(na_index_by(best, 1, &NA_NEWAXIS("seq"), &ids));
    na_array_free(last), na_array_free(best), na_array_free(rows), na_array_free(flat);
    return ids;
}

/* One prefill and `steps` decode steps; times and counters. */
static void one_run(na_layer *model, const setup *s, const na_token_chooser *ch, double *tp,
                    double *td, na_dist_stats *sp, na_dist_stats *sd)
{
    na_array *u = NULL, *ids = NULL, *logits = NULL;
    CHECK(na_random_uniform(3, NA_F32, NA_DIMS({"batch", 1}, {"seq", s->prompt}), 0,
                            (double)s->c.vocab_size - 0.01, &u));
    CHECK(na_astype(u, NA_I32, &ids));
    CHECK(na_tree_kv_cache_reset(model, NULL));
    na_dist_stats_reset();
    double t0 = MPI_Wtime();
    CHECK(na_layer_call_array(model, ids, NULL, &logits));
    *tp = MPI_Wtime() - t0;
    na_dist_stats_read(sp);
    na_dist_stats_reset();
    t0 = MPI_Wtime();
    for (int64_t i = 0; i < s->steps; i++) {
        na_array *next = next_ids(logits, ch);
        na_array_free(logits);
        logits = NULL;
        CHECK(na_layer_call_array(model, next, NULL, &logits));
        na_array_free(next);
    }
    *td = MPI_Wtime() - t0;
    na_dist_stats_read(sd);
    na_array_free(u), na_array_free(ids), na_array_free(logits);
}

static result measure(na_layer *model, const setup *s, const na_token_chooser *ch)
{
    double tp[16], td[16], sorted[16];
    na_dist_stats sp[16], sd[16];
    one_run(model, s, ch, &tp[0], &td[0], &sp[0], &sd[0]); /* warm-up */
    for (int r = 0; r < s->reps; r++)
        one_run(model, s, ch, &tp[r], &td[r], &sp[r], &sd[r]);
    result res;
    memcpy(sorted, td, sizeof td);
    qsort(sorted, (size_t)s->reps, sizeof *sorted, cmp);
    res.decode_s = sorted[s->reps / 2];
    memcpy(sorted, tp, sizeof tp);
    qsort(sorted, (size_t)s->reps, sizeof *sorted, cmp);
    res.prefill_s = sorted[s->reps / 2];
    for (int r = 0; r < s->reps; r++) {
        if (tp[r] == res.prefill_s)
            res.prefill = sp[r];
        if (td[r] == res.decode_s)
            res.decode = sd[r];
    }
    return res;
}

static na_layer *build(const setup *s, const na_mesh *mesh, bool split, int64_t *params)
{
    na_layer *m = NULL;
    CHECK(na_llama_new(&s->c, 1, &m));
    *params = na_tree_param_count(m);
    if (mesh) {
        na_axis_mapping *map = NULL;
        CHECK(na_axis_mapping_parse(NA_MAPPING_DEFAULT, &map));
        na_shard_options o = {.keep_vocab_split = split};
        CHECK(na_dist_shard_model_ex(mesh, map, &o, &m, NULL));
        na_axis_mapping_free(map);
    }
    CHECK(na_model_to_kv_cache(&m, s->prompt + s->steps + 1, 1));
    return m;
}

/* Process 0 alone; the others wait politely (no busy barrier). */
static result alone(const setup *s, int rank, int64_t *params)
{
    result r = {0};
    if (rank == 0) {
        na_layer *m = build(s, NULL, false, params);
        r = measure(m, s, NULL);
        na_layer_free(m);
    }
    MPI_Request req;
    MPI_Ibarrier(MPI_COMM_WORLD, &req);
    for (int done = 0; !done;) {
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (!done)
            nanosleep(&(struct timespec){0, 2000000}, NULL);
    }
    return r;
}

static void print_line(const char *phase, const char *logits, int ranks, int64_t params,
                       int threads, int64_t tokens, double seconds, const na_dist_stats *st,
                       bool quick)
{
    printf("{\"bench\":\"dist\",\"phase\":\"%s\",\"logits\":\"%s\",\"ranks\":%d,"
           "\"mesh\":\"model=%d\",\"params\":%lld,\"threads_per_rank\":%d,\"tokens\":%lld,"
           "\"tokens_per_s\":%.2f,\"bytes_per_token\":%.0f,\"collectives_per_token\":%.1f,"
           "\"comm_share\":%.3f,\"quick\":%s}\n",
           phase, logits, ranks, ranks, (long long)params, threads, (long long)tokens,
           (double)tokens / seconds, (double)st->bytes / (double)tokens,
           (double)st->calls / (double)tokens, st->seconds / seconds, quick ? "true" : "false");
}

int main(int argc, char **argv)
{
    bool quick = false;
    int threads = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = true;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
    }
    CHECK(na_dist_init(&argc, &argv));
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    na_set_num_threads(threads);
    setup s = make_setup(quick);
    int64_t params = 0;
    result one = alone(&s, rank, &params);
    na_mesh *mesh = NULL;
    char spec[32];
    snprintf(spec, sizeof spec, "model=%d", size);
    CHECK(na_mesh_parse(MPI_COMM_WORLD, spec, &mesh));
    na_layer *m = build(&s, mesh, false, &params);
    result many = measure(m, &s, NULL);
    na_layer_free(m);
    na_dist_sampler ds = {mesh, size > 1 ? "model" : NULL};
    na_token_chooser ch = na_dist_sampler_chooser(&ds);
    m = build(&s, mesh, true, &params);
    result split = measure(m, &s, &ch);
    na_layer_free(m);
    if (rank == 0) {
        print_line("prefill", "whole", 1, params, threads, s.prompt, one.prefill_s,
                   &one.prefill, quick);
        print_line("decode", "whole", 1, params, threads, s.steps, one.decode_s, &one.decode,
                   quick);
        const result *rs[2] = {&many, &split};
        const char *kind[2] = {"gathered", "split"};
        for (int k = 0; k < 2; k++) {
            print_line("prefill", kind[k], size, params, threads, s.prompt, rs[k]->prefill_s,
                       &rs[k]->prefill, quick);
            print_line("decode", kind[k], size, params, threads, s.steps, rs[k]->decode_s,
                       &rs[k]->decode, quick);
        }
        printf("{\"bench\":\"dist\",\"ranks\":%d,\"prefill_speedup\":%.3f,"
               "\"decode_speedup_gathered\":%.3f,\"decode_speedup_split\":%.3f,"
               "\"decode_bytes_per_token_gathered\":%.0f,\"decode_bytes_per_token_split\":%.0f,"
               "\"quick\":%s}\n", size, one.prefill_s / split.prefill_s,
               one.decode_s / many.decode_s, one.decode_s / split.decode_s,
               (double)many.decode.bytes / (double)s.steps,
               (double)split.decode.bytes / (double)s.steps, quick ? "true" : "false");
    }
    na_mesh_free(mesh);
    na_dist_finalize();
    return 0;
}
