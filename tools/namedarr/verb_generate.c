/* namedarr generate MODEL_DIR --prompt TEXT | --tokens IDS [options]
 *
 * Prefills the prompt through the model's KV caches, then decodes one token
 * at a time (na_generate). With --prompt the continuation is streamed to
 * stdout as text; with --tokens the generated ids are printed
 * comma-separated as the last line of stdout. Timings go to stderr. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

CLI_VERB(generate, "MODEL_DIR (--prompt TEXT | --tokens IDS)", 1,
         "Generate a continuation of a prompt (streamed), greedy or sampled.",
         "MODEL_DIR is a Hugging Face model directory (config.json, model.safetensors\n"
         "or its sharded index, tokenizer.json) or a namedarr model file.\n"
         "Generation stops at max-new-tokens or at the eos_token_id of config.json.\n"
         "Timings (prefill and decode tokens/s) go to stderr.\n");

/* Streams text: decodes prompt + generated ids and prints what is new. */
typedef struct stream {
    const na_tokenizer *tok;
    int32_t *ids;
    size_t count, cap;
    size_t printed;    /* bytes of the decoded text already on stdout      */
    bool failed;
} stream;

static int on_token(void *user, int64_t row, int32_t token)
{
    stream *s = user;
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
    const char *prompt, *tokens, *mesh;
    int64_t max_new, top_k, seed, threads;
    double temperature, top_p, min_p;
    bool ignore_eos;
} gen_args;

static int run(const char *dir, const gen_args *a)
{
    const char *verb = "generate";
    cli_model m;
    na_token_list prompt = {0};
    stream s = {0};
    na_generation g = {0};
    cli_mesh *mesh = NULL;
    int load = cli_model_open(verb, dir, &m);
    int rc = cli_mesh_start(verb, a->mesh, load, &m, &mesh);
    if (rc != CLI_OK) {
        if (load == CLI_OK)
            cli_model_close(&m);
        cli_mesh_end(mesh);
        return rc;
    }
    bool main_process = cli_mesh_is_main(mesh);
    if ((rc = cli_prompt_ids(verb, &m, a->prompt, a->tokens, &prompt)) != CLI_OK ||
        (rc = cli_model_cache(verb, &m, (int64_t)prompt.count + a->max_new, 1)) != CLI_OK)
        goto done;
    if (a->prompt && main_process && (rc = stream_start(&s, m.tokenizer, &prompt)) != CLI_OK)
        goto done;
    if (cli_progress() && prompt.count > 512)
        fprintf(stderr, "prefill: %zu tokens ...\n", prompt.count);
    na_generate_options o = {
        .max_new_tokens = a->max_new,
        .sampling = {.temperature = a->temperature, .top_k = (int)a->top_k,
                     .top_p = a->top_p, .min_p = a->min_p, .seed = (uint64_t)a->seed},
        .stop_tokens = a->ignore_eos ? NULL : m.stop,
        .n_stop_tokens = a->ignore_eos ? 0 : m.n_stop,
        .on_token = a->prompt && main_process ? on_token : NULL,
        .user = &s};
    if (na_generate(m.layer, &prompt, 1, &o, &g) != NA_OK) {
        rc = cli_fail_na(verb, "generation failed");
        goto done;
    }
    if (s.failed) {
        rc = cli_fail_na(verb, "cannot decode the generated tokens");
        goto done;
    }
    if (!main_process)
        goto done;
    if (a->prompt)
        printf("\n");
    else
        print_ids(&g.tokens[0]);
    fflush(stdout);
    print_timings(&g);
done:
    na_generation_free(&g);
    free(s.ids);
    na_token_list_free(&prompt);
    cli_model_close(&m);
    cli_mesh_end(mesh);
    return rc;
}

int cli_generate(int argc, char **argv)
{
    gen_args a = {.max_new = 32};
    cli_opt opts[] = {
        CLI_STR("prompt", &a.prompt, "TEXT", "the prompt, through tokenizer.json"),
        CLI_STR("tokens", &a.tokens, "IDS", "the prompt as token ids: 5,17,2 (prints ids)"),
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
    };
    int n = (int)(sizeof opts / sizeof *opts);
    const char *dir = NULL;
    int st = cli_parse(&cli_verb_generate, opts, n, argc, argv, &dir);
    if (st != CLI_OK)
        return st < 0 ? CLI_OK : st;
    if (a.threads > 0)
        na_set_num_threads((int)a.threads);
    return run(dir, &a);
}
