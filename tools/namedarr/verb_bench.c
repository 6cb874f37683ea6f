/* namedarr bench MODEL_DIR: prefill and decode tokens per second as one
 * JSON line (medians over --repeats runs after one warm-up), on a fixed
 * pseudo-random prompt so that no tokenizer is needed:
 *
 *   {"bench":"cli","model":"models/adder","arch":"LlamaForCausalLM",
 *    "params":103424,"threads":2,"batch":1,"prompt_tokens":128,
 *    "decode_tokens":32,"repeats":3,"prefill_tokens_per_s":...,
 *    "decode_tokens_per_s":...}
 *
 * Decode tokens/s counts the tokens of all rows (batch x steps). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

CLI_VERB(bench, "MODEL_DIR", 1,
         "Measure prefill and decode tokens per second (one JSON line on stdout).",
         "The prompt is pseudo-random ids below the vocabulary size (no tokenizer\n"
         "needed); generation never stops early. Medians of --repeats runs.\n");

/* The size of the first "vocab" axis among the model's parameters. */
static int64_t vocab_size(const na_layer *model)
{
    na_param_list list = {0};
    int64_t vocab = 0;
    if (na_tree_params(model, &list) != NA_OK)
        return 0;
    for (int i = 0; i < list.count && vocab <= 0; i++)
        vocab = na_axis_size(list.items[i].param->value, "vocab");
    na_param_list_clear(&list);
    return vocab > 0 ? vocab : 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Prompts: `batch` rows of `len` ids from a fixed LCG, below `vocab`. */
static int make_prompts(int64_t batch, int64_t len, int64_t vocab, na_token_list *rows)
{
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (int64_t b = 0; b < batch; b++) {
        rows[b].ids = malloc((size_t)len * sizeof(int32_t));
        rows[b].count = (size_t)len;
        if (!rows[b].ids)
            return CLI_FAIL;
        for (int64_t i = 0; i < len; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            rows[b].ids[i] = (int32_t)((s >> 33) % (uint64_t)vocab);
        }
    }
    return CLI_OK;
}

typedef struct bench_args {
    int64_t prompt_len, decode_len, repeats, batch, threads;
} bench_args;

static void print_json(const char *dir, const cli_model *m, const bench_args *a,
                       double prefill, double decode)
{
    printf("{\"bench\":\"cli\",\"model\":\"");
    for (const char *c = dir; *c; c++)
        printf(*c == '"' || *c == '\\' ? "\\%c" : (unsigned char)*c < 32 ? "?" : "%c", *c);
    printf("\",\"arch\":\"%s\",\"params\":%lld,\"threads\":%d,\"batch\":%lld,"
           "\"prompt_tokens\":%lld,\"decode_tokens\":%lld,\"repeats\":%lld,"
           "\"prefill_tokens_per_s\":%.1f,\"decode_tokens_per_s\":%.1f}\n",
           m->arch, (long long)na_tree_param_count(m->layer), na_get_num_threads(),
           (long long)a->batch, (long long)a->prompt_len, (long long)a->decode_len,
           (long long)a->repeats, prefill, decode);
}

static int measure(const char *dir, cli_model *m, const bench_args *a)
{
    int64_t vocab = vocab_size(m->layer);
    if (vocab <= 0)
        return cli_fail("bench", CLI_FAIL, "%s: no parameter has a 'vocab' axis", dir);
    na_token_list rows[64] = {{0}};
    double pre[64], dec[64];
    int rc = make_prompts(a->batch, a->prompt_len, vocab, rows);
    if (rc == CLI_OK)
        rc = cli_model_cache("bench", m, a->prompt_len + a->decode_len, a->batch, NA_F32);
    for (int64_t r = -1; rc == CLI_OK && r < a->repeats; r++) { /* r = -1: warm-up */
        na_generation g;
        na_generate_options o = {.max_new_tokens = r < 0 ? 2 : a->decode_len};
        if (na_generate(m->layer, rows, a->batch, &o, &g) != NA_OK) {
            rc = cli_fail_na("bench", "generation failed");
            break;
        }
        if (r >= 0)
            pre[r] = g.prefill_tokens_per_s, dec[r] = g.decode_tokens_per_s;
        na_generation_free(&g);
    }
    if (rc == CLI_OK)
        print_json(dir, m, a, median(pre, (int)a->repeats), median(dec, (int)a->repeats));
    for (int64_t b = 0; b < a->batch; b++)
        free(rows[b].ids);
    return rc;
}

int cli_bench(int argc, char **argv)
{
    bench_args a = {.prompt_len = 128, .decode_len = 32, .repeats = 3, .batch = 1};
    cli_opt opts[] = {
        CLI_INT_OPT("prompt-tokens", &a.prompt_len, "N", "prompt length (128)", 1, 1e6),
        CLI_INT_OPT("decode-tokens", &a.decode_len, "N", "tokens decoded (32)", 2, 1e6),
        CLI_INT_OPT("batch", &a.batch, "B", "prompts decoded together (1)", 1, 64),
        CLI_INT_OPT("repeats", &a.repeats, "R", "timed runs, median reported (3)", 1, 64),
        CLI_INT_OPT("threads", &a.threads, "N", "threads (default: the library's)", 1, 1024),
    };
    const char *dir = NULL;
    int st = cli_parse(&cli_verb_bench, opts, 5, argc, argv, &dir);
    if (st != CLI_OK)
        return st < 0 ? CLI_OK : st;
    if (a.threads > 0)
        na_set_num_threads((int)a.threads);
    cli_model m;
    if ((st = cli_model_open("bench", dir, &m)) != CLI_OK)
        return st;
    st = measure(dir, &m, &a);
    cli_model_close(&m);
    return st;
}
