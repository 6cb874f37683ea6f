/* namedarr generate MODEL_DIR --prompt TEXT | --tokens IDS [options]
 *
 * Prefills the prompt through the model's KV caches, then decodes one token
 * at a time (na_generate). With --prompt the continuation is streamed to
 * stdout as text; with --tokens the generated ids are printed
 * comma-separated as the last line of stdout. Timings go to stderr. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

CLI_VERB(generate, "MODEL_DIR (--prompt TEXT | --tokens IDS[;IDS...])", 1,
         "Generate a continuation of a prompt (streamed), greedy or sampled.",
         "MODEL_DIR is a Hugging Face model directory (config.json, model.safetensors\n"
         "or its sharded index, tokenizer.json) or a namedarr model file.\n"
         "Generation stops at max-new-tokens or at the eos_token_id of config.json.\n"
         "Timings (prefill and decode tokens/s) go to stderr.\n"
         "--tokens '1,5,6;1,7' generates a batch: one line of ids per prompt, in order\n"
         "(row i samples with seed + i). Under mpirun with --mesh data=N the prompts are\n"
         "split in blocks over the processes; with model=N the model is sharded.\n");

/* Streams text: decodes prompt + generated ids and prints what is new
 * (tok NULL: no text), and ends the prefill's progress line. */
typedef struct stream {
    double prefill_start; /* > 0: "prefill: N tokens ..." waits for its end */
    const na_tokenizer *tok;
    int32_t *ids;
    size_t count, cap;
    size_t printed;    /* bytes of the decoded text already on stdout      */
    bool failed;
} stream;

static int on_token(void *user, int64_t row, int32_t token)
{
    stream *s = user;
    if (s->prefill_start > 0) {
        fprintf(stderr, " %.2f s\n", cli_now() - s->prefill_start);
        s->prefill_start = 0;
    }
    if (!s->tok)
        return 0;
    if (s->count == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        int32_t *ids = realloc(s->ids, cap * sizeof *ids);
        if (!ids)
            return s->failed = true, 1;
        s->ids = ids, s->cap = cap;
    }
    s->ids[s->count++] = token;
    na_text t = {0};
    if (na_tokenizer_decode(s->tok, s->ids, s->count, NA_DETOKENIZE_SKIP_SPECIAL, &t) != NA_OK)
        return s->failed = true, 1;
    if (t.len > s->printed) {
        fwrite(t.bytes + s->printed, 1, t.len - s->printed, stdout);
        fflush(stdout);
        s->printed = t.len;
    }
    na_text_free(&t);
    return 0;
}

/* Remember the prompt (its text is not printed again). */
static int stream_start(stream *s, const na_tokenizer *tok, const na_token_list *prompt)
{
    *s = (stream){.tok = tok, .cap = prompt->count + 64};
    na_text t = {0};
    if (!(s->ids = malloc(s->cap * sizeof *s->ids)))
        return cli_fail("generate", CLI_FAIL, "out of memory");
    memcpy(s->ids, prompt->ids, prompt->count * sizeof *s->ids);
    s->count = prompt->count;
    if (na_tokenizer_decode(tok, s->ids, s->count, NA_DETOKENIZE_SKIP_SPECIAL, &t) != NA_OK)
        return cli_fail_na("generate", "cannot decode the prompt");
    s->printed = t.len;
    na_text_free(&t);
    return CLI_OK;
}

static void print_ids(const na_token_list *ids)
{
    for (size_t i = 0; i < ids->count; i++)
        printf("%s%d", i ? "," : "", ids->ids[i]);
    printf("\n");
}

static void print_timings(const na_generation *g)
{
    fprintf(stderr,
            "prefill: %lld tokens in %.1f ms (%.1f tokens/s); decode: %lld tokens in %.1f ms "
            "(%.1f tokens/s); threads: %d\n",
            (long long)g->prefill_tokens, 1e3 * g->prefill_seconds, g->prefill_tokens_per_s,
            (long long)g->decode_tokens, 1e3 * g->decode_seconds, g->decode_tokens_per_s,
            na_get_num_threads());
}

typedef struct gen_args {
    const char *prompt, *tokens, *mesh, *kv_dtype;
    int64_t max_new, top_k, seed, threads;
    double temperature, top_p, min_p;
    bool ignore_eos;
} gen_args;

/* The prompts: one from --prompt, or --tokens with ';' between prompts
 * ("1,5,6;1,7"). */
static int prompt_batch(const char *verb, const cli_model *m, const gen_args *a,
                        na_token_list **out, size_t *n)
{
    *n = 1;
    for (const char *c = a->tokens; c && *c; c++)
        *n += *c == ';';
    if (!(*out = calloc(*n, sizeof **out)))
        return cli_fail(verb, CLI_FAIL, "out of memory");
    if (!a->tokens || *n == 1)
        return cli_prompt_ids(verb, m, a->prompt, a->tokens, *out);
    char *copy = a->prompt ? NULL : strdup(a->tokens), *save = NULL, *tok = copy;
    int rc = a->prompt ? cli_fail(verb, CLI_USAGE, "give exactly one of --prompt TEXT and "
                                  "--tokens IDS")
             : copy ? CLI_OK : cli_fail(verb, CLI_FAIL, "out of memory");
    for (size_t i = 0; rc == CLI_OK && i < *n; i++, tok = NULL) {
        char *one = strtok_r(tok, ";", &save);
        rc = one ? cli_parse_ids(verb, one, &(*out)[i])
                 : cli_fail(verb, CLI_USAGE, "--tokens: an empty prompt in '%s'", a->tokens);
    }
    free(copy);
    return rc;
}

static void free_batch(na_token_list *l, size_t n)
{
    for (size_t i = 0; l && i < n; i++)
        na_token_list_free(&l[i]);
    free(l);
}

typedef struct gen_run {
    cli_model m;
    cli_mesh *mesh;
    na_token_list *prompts, *rows;
    size_t n, first, count;
    stream s;
    na_generation g;
} gen_run;

/* This process's block of the prompts through na_generate. */
static int generate_rows(gen_run *r, const gen_args *a, bool main_process)
{
    const char *verb = "generate";
    size_t longest = 0;
    for (size_t i = 0; i < r->n; i++)
        longest = r->prompts[i].count > longest ? r->prompts[i].count : longest;
    cli_mesh_rows(r->mesh, r->n, &r->first, &r->count);
    na_dtype kv = a->kv_dtype && !strcmp(a->kv_dtype, "bf16") ? NA_BF16 : NA_F32;
    int rc = cli_model_cache(verb, &r->m, (int64_t)longest + a->max_new,
                             r->count ? (int64_t)r->count : 1, kv);
    bool streaming = a->prompt && main_process && r->count;
    if (rc == CLI_OK && streaming)
        rc = stream_start(&r->s, r->m.tokenizer, &r->prompts[0]);
    if (rc != CLI_OK || !r->count)
        return rc;
    if (main_process && cli_progress_for((double)longest, 512)) {
        fprintf(stderr, "prefill: %zu tokens ...", longest);
        r->s.prefill_start = cli_now();
    }
    na_generate_options o = {
        .max_new_tokens = a->max_new,
        .sampling = {.temperature = a->temperature, .top_k = (int)a->top_k,
                     .top_p = a->top_p, .min_p = a->min_p,
                     .seed = (uint64_t)a->seed + r->first}, /* row b: seed + b */
        .stop_tokens = a->ignore_eos ? NULL : r->m.stop,
        .n_stop_tokens = a->ignore_eos ? 0 : r->m.n_stop,
        .on_token = streaming || r->s.prefill_start > 0 ? on_token : NULL,
        .user = &r->s,
        .chooser = cli_mesh_chooser(r->mesh)};
    na_status gen = na_generate(r->m.layer, r->prompts + r->first, (int64_t)r->count, &o, &r->g);
    if (r->s.prefill_start > 0) /* no token came: end the progress line */
        fputc('\n', stderr);
    if (gen != NA_OK)
        return cli_fail_na(verb, "generation failed");
    if (r->s.failed)
        return cli_fail_na(verb, "cannot decode the generated tokens");
    return CLI_OK;
}

/* One line of ids per prompt, in order (process 0). */
static int print_rows(gen_run *r, const gen_args *a, bool main_process)
{
    if (!(r->rows = calloc(r->n, sizeof *r->rows)))
        return cli_fail("generate", CLI_FAIL, "out of memory");
    int rc = cli_mesh_collect("generate", r->mesh, &r->g, r->count, r->n, a->max_new, r->rows);
    if (rc != CLI_OK || !main_process)
        return rc;
    if (a->prompt)
        printf("\n");
    else
        for (size_t i = 0; i < r->n; i++)
            print_ids(&r->rows[i]);
    fflush(stdout);
    print_timings(&r->g);
    return CLI_OK;
}

static int run(const char *dir, const gen_args *a)
{
    const char *verb = "generate";
    gen_run r = {0};
    int load = cli_model_open(verb, dir, &r.m);
    int rc = cli_mesh_start(verb, a->mesh, load, &r.m, &r.mesh);
    if (rc != CLI_OK) {
        if (load == CLI_OK)
            cli_model_close(&r.m);
        cli_mesh_end(r.mesh);
        return rc;
    }
    bool main_process = cli_mesh_is_main(r.mesh);
    if ((rc = prompt_batch(verb, &r.m, a, &r.prompts, &r.n)) == CLI_OK &&
        (rc = generate_rows(&r, a, main_process)) == CLI_OK)
        rc = print_rows(&r, a, main_process);
    na_generation_free(&r.g);
    free(r.s.ids);
    free_batch(r.prompts, r.n);
    free_batch(r.rows, r.n);
    cli_model_close(&r.m);
    cli_mesh_end(r.mesh);
    return rc;
}

int cli_generate(int argc, char **argv)
{
    gen_args a = {.max_new = 32};
    cli_opt opts[] = {
        CLI_STR("prompt", &a.prompt, "TEXT", "the prompt, through tokenizer.json"),
        CLI_STR("tokens", &a.tokens, "IDS",
                "the prompt as token ids: 5,17,2 (prints ids); ';' between prompts of a batch"),
        CLI_INT_OPT("max-new-tokens", &a.max_new, "N", "tokens to generate at most (32)", 1, 1e7),
        CLI_NUM("temperature", &a.temperature, "T", "0 is greedy (0)", 0, 1e6),
        CLI_INT_OPT("top-k", &a.top_k, "K", "keep the K most likely tokens (0: off)", 0, 1e9),
        CLI_NUM("top-p", &a.top_p, "P", "nucleus mass in (0, 1] (0: off)", 0, 1),
        CLI_NUM("min-p", &a.min_p, "P", "drop tokens below P times the best (0: off)", 0, 1),
        CLI_INT_OPT("seed", &a.seed, "S", "sampling seed (0)", 0, 9.007199254740992e15),
        CLI_INT_OPT("threads", &a.threads, "N", "threads (default: the library's)", 1, 1024),
        CLI_FLAG_OPT("ignore-eos", &a.ignore_eos, "do not stop at eos_token_id"),
        CLI_STR("mesh", &a.mesh, "SPEC",
                "shard across MPI processes, e.g. model=2 (run under mpirun)"),
        CLI_STR("kv-dtype", &a.kv_dtype, "T",
                "KV cache storage: f32 (the model's own) or bf16 (half the bytes)"),
    };
    int n = (int)(sizeof opts / sizeof *opts);
    const char *dir = NULL;
    int st = cli_parse(&cli_verb_generate, opts, n, argc, argv, &dir);
    if (st != CLI_OK)
        return st < 0 ? CLI_OK : st;
    if (a.kv_dtype && strcmp(a.kv_dtype, "f32") && strcmp(a.kv_dtype, "bf16"))
        return cli_fail("generate", CLI_USAGE, "--kv-dtype must be f32 or bf16, not '%s'",
                        a.kv_dtype);
    if (a.threads > 0)
        na_set_num_threads((int)a.threads);
    return run(dir, &a);
}
