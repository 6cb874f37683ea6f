/* The namedarr command (tools/namedarr), run as a separate process on tiny
 * model directories this suite writes: a Llama-like, a GPT-2 and a
 * Gemma 2 model exported with na_hf_save plus a character tokenizer.json,
 * and a namedarr model file. Each verb's output is checked against the
 * library called in this process (the same greedy and sampled ids, the same
 * text, the same tree), with its exit code; bad input gives one line on
 * stderr and a non-zero exit. Progress lines are checked through a
 * pseudo-terminal (forkpty). */
#include "support.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <namedarr/generate.h>
#include <namedarr/model_file.h>
#include <namedarr/models.h>
#include <namedarr/print.h>
#include <pty.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define VOCAB 16

/* The adder's tokenizer format: characters, <s> in front, </s> = 2. */
static const char TOKENIZER_JSON[] =
    "{\"added_tokens\":[{\"id\":1,\"content\":\"<s>\",\"special\":true},{\"id\":2,\"content\":"
    "\"</s>\",\"special\":true}],\"normalizer\":null,\"pre_tokenizer\":null,"
    "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":"
    "\"<s>\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"special_tokens\":{"
    "\"<s>\":{\"id\":\"<s>\",\"ids\":[1],\"tokens\":[\"<s>\"]}}},\"decoder\":{\"type\":\"Fuse\"},"
    "\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"vocab\":{\"<unk>\":0,\"<s>\":1,"
    "\"</s>\":2,\"0\":3,\"1\":4,\"2\":5,\"3\":6,\"4\":7,\"5\":8,\"6\":9,\"7\":10,\"8\":11,"
    "\"9\":12,\"+\":13,\"=\":14,\" \":15},\"merges\":[]}}";

typedef struct run_result {
    int code;
    char *out, *err;
} run_result;

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static char g_tmp[256];

static const char *tmp_root(void)
{
    if (!g_tmp[0]) {
        snprintf(g_tmp, sizeof g_tmp, "/tmp/namedarr-cli-XXXXXX");
        cr_assert_not_null(mkdtemp(g_tmp));
    }
    return g_tmp;
}

static void rm_tmp(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root());
    cr_assert_eq(system(cmd), 0);
    g_tmp[0] = '\0';
}

/* Run `namedarr args...` (NULL-terminated), capturing stdout and stderr. */
static run_result run_cli(const char *const *args)
{
#ifndef NAMEDARR_CLI
    cr_skip_test("the namedarr command is not built (NAMEDARR_BUILD_TOOLS=OFF)");
#else
    char out[300], err[300];
    snprintf(out, sizeof out, "%s/stdout", tmp_root());
    snprintf(err, sizeof err, "%s/stderr", tmp_root());
    char *argv[32] = {(char *)NAMEDARR_CLI};
    int n = 1;
    for (; args[n - 1]; n++)
        argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, NAMEDARR_CLI, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "namedarr %s did not exit normally", args[0]);
    return (run_result){WEXITSTATUS(status), slurp(out), slurp(err)};
#endif
}

static void run_free(run_result *r)
{
    free(r->out);
    free(r->err);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* A failing run: exit `code`, nothing on stdout, one line on stderr with `want`. */
static void expect_error(const char *const *args, int code, const char *want)
{
    run_result r = run_cli(args);
    cr_expect_eq(r.code, code, "namedarr %s: exit %d, want %d (%s)", args[0], r.code, code, r.err);
    cr_expect_str_eq(r.out, "");
    cr_expect_eq(count_lines(r.err), 1, "one line on stderr, got: %s", r.err);
    cr_expect(strstr(r.err, want), "stderr lacks \"%s\": %s", want, r.err);
    cr_expect(strncmp(r.err, "namedarr", 8) == 0, "stderr: %s", r.err);
    run_free(&r);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* ---- tiny model directories ------------------------------------------------ */

static void tiny_info(na_hf_arch arch, na_hf_info *info)
{
    memset(info, 0, sizeof *info);
    info->arch = arch;
    if (arch == NA_HF_LLAMA) {
        strcpy(info->architecture, "LlamaForCausalLM"), strcpy(info->model_type, "llama");
        na_llama_config *c = &info->llama;
        na_llama_config_init(c);
        c->vocab_size = VOCAB, c->hidden_size = 32, c->intermediate_size = 48;
        c->num_hidden_layers = 2, c->num_attention_heads = 4, c->num_key_value_heads = 2;
        c->head_dim = 8, c->max_position_embeddings = 64;
    } else if (arch == NA_HF_GPT2) {
        strcpy(info->architecture, "GPT2LMHeadModel"), strcpy(info->model_type, "gpt2");
        na_gpt2_config *c = &info->gpt2;
        na_gpt2_config_init(c);
        c->vocab_size = VOCAB, c->n_positions = 32, c->n_embd = 32, c->n_layer = 2, c->n_head = 4;
        c->n_inner = 64;
    } else {
        strcpy(info->architecture, "Gemma2ForCausalLM"), strcpy(info->model_type, "gemma2");
        na_gemma_config *c = &info->gemma;
        na_gemma_config_init(c, 2);
        c->vocab_size = VOCAB, c->hidden_size = 32, c->intermediate_size = 48;
        c->num_hidden_layers = 2, c->num_attention_heads = 4, c->num_key_value_heads = 2;
        c->head_dim = 8, c->query_pre_attn_scalar = 8, c->sliding_window = 4;
        c->max_position_embeddings = 64;
    }
}

static na_layer *tiny_model(const na_hf_info *info, uint64_t seed)
{
    na_layer *m = NULL;
    if (info->arch == NA_HF_LLAMA)
        NA_OK_OR_FAIL(na_llama_new(&info->llama, seed, &m));
    else if (info->arch == NA_HF_GPT2)
        NA_OK_OR_FAIL(na_gpt2_new(&info->gpt2, seed, &m));
    else
        NA_OK_OR_FAIL(na_gemma_new(&info->gemma, seed, &m));
    return m;
}

/* A Hugging Face directory <tmp>/<name> for `arch`, with the tokenizer. */
static const char *tiny_dir(const char *name, na_hf_arch arch)
{
    static char dir[8][300];
    static int next;
    char *d = dir[next++ % 8];
    snprintf(d, 300, "%s/%s", tmp_root(), name);
    cr_assert_eq(mkdir(d, 0755), 0);
    na_hf_info info;
    tiny_info(arch, &info);
    na_layer *m = tiny_model(&info, 11);
    NA_OK_OR_FAIL(na_hf_save(m, &info, d));
    na_layer_free(m);
    write_file(d, "tokenizer.json", TOKENIZER_JSON);
    return d;
}

/* What the library itself generates from `dir` (loaded here). */
static na_token_list expected_ids(const char *dir, const int32_t *prompt, int n, int max_new,
                                  na_sampling s, const int32_t *stop, int n_stop)
{
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_hf_load(dir, &m, NULL));
    NA_OK_OR_FAIL(na_model_to_kv_cache(&m, n + max_new, 1));
    na_token_list p = {(int32_t *)prompt, (size_t)n};
    na_generation g;
    NA_OK_OR_FAIL(na_generate(m, &p, 1,
                              &(na_generate_options){.max_new_tokens = max_new, .sampling = s,
                                                     .stop_tokens = stop, .n_stop_tokens = n_stop},
                              &g));
    na_token_list out = g.tokens[0];
    g.tokens[0] = (na_token_list){0};
    na_generation_free(&g);
    na_layer_free(m);
    return out;
}

static char *ids_text(const na_token_list *ids)
{
    char *s = calloc(ids->count * 12 + 2, 1);
    for (size_t i = 0; i < ids->count; i++)
        sprintf(s + strlen(s), "%s%d", i ? "," : "", ids->ids[i]);
    strcat(s, "\n");
    return s;
}

/* The last line of stdout. */
static const char *last_line(const char *out)
{
    size_t n = strlen(out);
    cr_assert(n > 0 && out[n - 1] == '\n', "stdout does not end a line: '%s'", out);
    const char *p = out + n - 1;
    while (p > out && p[-1] != '\n')
        p--;
    return p;
}

/* ---- generate ---------------------------------------------------------------- */

Test(cli, generate_tokens_greedy_equals_the_library_for_each_architecture)
{
    const int32_t prompt[] = {1, 4, 5, 13, 6};
    na_hf_arch archs[] = {NA_HF_LLAMA, NA_HF_GPT2, NA_HF_GEMMA2};
    const char *names[] = {"llama", "gpt2", "gemma2"};
    for (int k = 0; k < 3; k++) {
        const char *dir = tiny_dir(names[k], archs[k]);
        na_token_list want = expected_ids(dir, prompt, 5, 7, (na_sampling){0}, NULL, 0);
        char *want_text = ids_text(&want);
        run_result r = run_cli((const char *[]){"generate", dir, "--tokens", "1,4,5,13,6",
                                                "--max-new-tokens", "7", "--ignore-eos", NULL});
        cr_expect_eq(r.code, 0, "%s: %s", names[k], r.err);
        cr_expect_eq(want.count, 7u);
        cr_expect_str_eq(last_line(r.out), want_text, "%s", names[k]);
        cr_expect(strstr(r.err, "prefill: 5 tokens") && strstr(r.err, "decode: 6 tokens") &&
                      strstr(r.err, "tokens/s"),
                  "timings on stderr: %s", r.err);
        free(want_text);
        na_token_list_free(&want);
        run_free(&r);
    }
    rm_tmp();
}

Test(cli, generate_sampled_is_seeded_and_the_same_on_1_and_2_threads)
{
    const char *dir = tiny_dir("llama", NA_HF_LLAMA);
    const int32_t prompt[] = {3, 9, 4};
    na_sampling s = {.temperature = 1.5, .top_k = 8, .top_p = 0.9, .min_p = 0.01, .seed = 1234};
    na_token_list want = expected_ids(dir, prompt, 3, 12, s, NULL, 0);
    char *want_text = ids_text(&want);
    const char *threads[] = {"1", "2"};
    for (int t = 0; t < 2; t++) {
        run_result r = run_cli((const char *[]){
            "generate", dir, "--tokens", "3, 9, 4", "--max-new-tokens=12", "--temperature", "1.5",
            "--top-k", "8", "--top-p", "0.9", "--min-p", "0.01", "--seed", "1234", "--threads",
            threads[t], "--ignore-eos", NULL});
        cr_expect_eq(r.code, 0, "%s", r.err);
        cr_expect_str_eq(r.out, want_text, "threads %s", threads[t]);
        cr_expect(strstr(r.err, t ? "threads: 2" : "threads: 1"), "%s", r.err);
        run_free(&r);
    }
    /* another seed, other tokens (12 draws over a wide distribution) */
    run_result r = run_cli((const char *[]){"generate", dir, "--tokens", "3,9,4",
                                            "--max-new-tokens", "12", "--temperature", "1.5",
                                            "--seed", "99", "--ignore-eos", NULL});
    cr_expect_eq(r.code, 0);
    cr_expect_str_neq(r.out, want_text);
    run_free(&r);
    free(want_text);
    na_token_list_free(&want);
    rm_tmp();
}

Test(cli, generate_prompt_streams_the_decoded_continuation)
{
    const char *dir = tiny_dir("llama", NA_HF_LLAMA);
    na_tokenizer *tok = NULL;
    NA_OK_OR_FAIL(na_tokenizer_from_json(TOKENIZER_JSON, strlen(TOKENIZER_JSON), &tok));
    const int32_t prompt[] = {1, 5, 6, 13, 7, 8, 14}; /* <s>23+45= */
    na_token_list want = expected_ids(dir, prompt, 7, 6, (na_sampling){0}, NULL, 0);
    na_text text = {0};
    NA_OK_OR_FAIL(na_tokenizer_decode(tok, want.ids, want.count, NA_DETOKENIZE_SKIP_SPECIAL, &text));
    char *want_out = malloc(text.len + 2);
    memcpy(want_out, text.bytes, text.len);
    strcpy(want_out + text.len, "\n");
    run_result r = run_cli((const char *[]){"generate", dir, "--prompt", "23+45=",
                                            "--max-new-tokens", "6", "--ignore-eos", NULL});
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.out, want_out);
    cr_expect(strstr(r.err, "prefill: 7 tokens"), "%s", r.err);
    free(want_out);
    na_text_free(&text);
    na_token_list_free(&want);
    na_tokenizer_free(tok);
    run_free(&r);
    rm_tmp();
}

Test(cli, generate_stops_at_eos_from_generation_config)
{
    const char *dir = tiny_dir("llama", NA_HF_LLAMA);
    /* the first prompt whose greedy run brings a new token at step >= 1:
     * stopping there leaves the tokens before it */
    const int32_t prompts[4][4] = {{1, 4, 4, 13}, {1, 12, 3, 14}, {1, 9, 13, 5}, {1, 7, 7, 7}};
    na_token_list all = {0};
    int at = -1, k = 0;
    for (; k < 4 && at < 0; k++) {
        na_token_list_free(&all);
        all = expected_ids(dir, prompts[k], 4, 8, (na_sampling){0}, NULL, 0);
        for (int i = 1; i < (int)all.count && at < 0; i++) {
            bool seen = false;
            for (int j = 0; j < i; j++)
                seen |= all.ids[j] == all.ids[i];
            if (!seen)
                at = i;
        }
    }
    cr_assert(at >= 1, "every greedy run repeats one token");
    char cfg[64], ids[64];
    snprintf(cfg, sizeof cfg, "{\"eos_token_id\": [%d]}", all.ids[at]);
    write_file(dir, "generation_config.json", cfg);
    const int32_t *p = prompts[k - 1];
    snprintf(ids, sizeof ids, "%d,%d,%d,%d", p[0], p[1], p[2], p[3]);
    na_token_list head = {all.ids, (size_t)at};
    char *want = ids_text(&head);
    run_result r = run_cli((const char *[]){"generate", dir, "--tokens", ids,
                                            "--max-new-tokens", "8", NULL});
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.out, want);
    run_free(&r);
    free(want);
    na_token_list_free(&all);
    rm_tmp();
}

/* The same model as a namedarr model file gives the same ids. */
Test(cli, generate_from_a_model_file)
{
    const char *dir = tiny_dir("llama", NA_HF_LLAMA);
    const int32_t prompt[] = {1, 7, 3};
    na_token_list want = expected_ids(dir, prompt, 3, 5, (na_sampling){0}, NULL, 0);
    char *want_text = ids_text(&want);
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_hf_load(dir, &m, NULL));
    char file[400];
    snprintf(file, sizeof file, "%s/tiny.safetensors", tmp_root());
    NA_OK_OR_FAIL(na_model_save(m, file));
    na_layer_free(m);
    run_result r = run_cli((const char *[]){"generate", file, "--tokens", "1,7,3",
                                            "--max-new-tokens", "5", NULL});
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.out, want_text);
    run_free(&r);
    /* no tokenizer.json beside it: --prompt is a usage error */
    expect_error((const char *[]){"generate", file, "--prompt", "1+1=", NULL}, 2,
                 "--prompt needs a tokenizer.json");
    free(want_text);
    na_token_list_free(&want);
    rm_tmp();
}

/* ---- print, html, bench -------------------------------------------------------- */

Test(cli, print_shows_the_tree_and_its_parameter_count)
{
    const char *dir = tiny_dir("llama", NA_HF_LLAMA);
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_hf_load(dir, &m, NULL));
    char *want = NULL;
    NA_OK_OR_FAIL(na_print_tree_str(m, &(na_print_options){.color = NA_COLOR_NEVER}, &want));
    run_result r = run_cli((const char *[]){"print", dir, NULL});
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.out, want); /* NO_COLOR or not, a file is not a terminal */
    char count[32], line[64];
    na_format_count(na_tree_param_count(m), false, count, sizeof count);
    snprintf(line, sizeof line, "%s params", count);
    cr_expect(strstr(r.out, line), "print lacks '%s'", line);
    run_free(&r);
    free(want);
    r = run_cli((const char *[]){"print", dir, "--depth", "2", NULL});
    cr_expect_eq(r.code, 0);
    cr_expect(strstr(r.out, "folded") && !strstr(r.out, "Param("), "%s", r.out);
    cr_expect_eq(count_lines(r.out), 15, "root, 4 groups of 3 lines, ')', total: %s", r.out);
    run_free(&r);
    na_layer_free(m);
    rm_tmp();
}

Test(cli, html_draws_one_attention_map_per_layer)
{
    const char *dir = tiny_dir("llama", NA_HF_LLAMA);
    char page[400];
    snprintf(page, sizeof page, "%s/view.html", tmp_root());
    run_result r = run_cli((const char *[]){"html", dir, page, "--prompt", "12+34=", NULL});
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect(strstr(r.err, "(2 attention maps)"), "%s", r.err);
    char *html = slurp(page);
    cr_expect(strstr(html, "<html") && strstr(html, "</html>") && strstr(html, "<svg"));
    cr_expect(strstr(html, "attention weights: block_0/"), "no block_0 map");
    cr_expect(strstr(html, "attention weights: block_1/"), "no block_1 map");
    cr_expect(strstr(html, "12+34="), "the prompt is in the title");
    /* rows and columns labelled with the tokens <s> 1 2 + 3 4 =, escaped */
    cr_expect(strstr(html, "text-anchor=\"end\">&lt;s&gt;</text>"), "no <s> row label");
    cr_expect(strstr(html, "rotate(-90)\">=</text>"), "no = column label");
    cr_expect(strstr(html, "<title>seq=3 (+), kv_seq=0 (&lt;s&gt;): "), "no labelled tooltip");
    free(html);
    run_free(&r);
    /* the tree alone */
    r = run_cli((const char *[]){"html", dir, page, NULL});
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect(strstr(r.err, "(0 attention maps)"), "%s", r.err);
    run_free(&r);
    rm_tmp();
}

Test(cli, bench_prints_one_json_line)
{
    const char *dir = tiny_dir("gpt2", NA_HF_GPT2);
    run_result r = run_cli((const char *[]){"bench", dir, "--prompt-tokens", "9",
                                            "--decode-tokens", "4", "--repeats", "2", "--batch",
                                            "2", NULL});
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_eq(count_lines(r.out), 1, "%s", r.out);
    cJSON *j = cJSON_Parse(r.out);
    cr_assert_not_null(j, "not JSON: %s", r.out);
    cr_expect_str_eq(cJSON_GetObjectItem(j, "bench")->valuestring, "cli");
    cr_expect_str_eq(cJSON_GetObjectItem(j, "arch")->valuestring, "GPT2LMHeadModel");
    cr_expect_eq(cJSON_GetObjectItem(j, "prompt_tokens")->valueint, 9);
    cr_expect_eq(cJSON_GetObjectItem(j, "batch")->valueint, 2);
    cr_expect_gt(cJSON_GetObjectItem(j, "params")->valuedouble, 1000);
    cr_expect_gt(cJSON_GetObjectItem(j, "prefill_tokens_per_s")->valuedouble, 0);
    cr_expect_gt(cJSON_GetObjectItem(j, "decode_tokens_per_s")->valuedouble, 0);
    cJSON_Delete(j);
    run_free(&r);
    /* 30 + 4 tokens exceed GPT-2's 32 learned positions */
    expect_error((const char *[]){"bench", dir, "--prompt-tokens", "30", "--decode-tokens", "4",
                                  NULL},
                 2, "exceed the model's 32 positions");
    rm_tmp();
}

/* ---- help and bad input ---------------------------------------------------------- */

Test(cli, help_for_each_verb)
{
    const char *verbs[] = {"generate", "print", "html", "bench"};
    for (int i = 0; i < 4; i++) {
        run_result r = run_cli((const char *[]){verbs[i], "--help", NULL});
        char want[64];
        snprintf(want, sizeof want, "usage: namedarr %s ", verbs[i]);
        cr_expect_eq(r.code, 0);
        cr_expect(strncmp(r.out, want, strlen(want)) == 0, "%s", r.out);
        cr_expect_str_eq(r.err, "");
        run_free(&r);
    }
    run_result r = run_cli((const char *[]){"--help", NULL});
    cr_expect_eq(r.code, 0);
    cr_expect(strstr(r.out, "generate") && strstr(r.out, "bench"), "%s", r.out);
    run_free(&r);
    r = run_cli((const char *[]){"generate", "--help", NULL});
    cr_expect(strstr(r.out, "--max-new-tokens N") && strstr(r.out, "--top-p P") &&
              strstr(r.out, "--min-p P") && strstr(r.out, "--seed S"), "%s", r.out);
    run_free(&r);
    rm_tmp();
}

Test(cli, bad_input_is_one_line_and_a_nonzero_exit)
{
    const char *dir = tiny_dir("llama", NA_HF_LLAMA);
    char missing[400], bert[400], cfg[460];
    snprintf(missing, sizeof missing, "%s/nothing-here", tmp_root());
    expect_error((const char *[]){NULL}, 2, "missing verb");
    expect_error((const char *[]){"train", dir, NULL}, 2, "unknown verb 'train'");
    expect_error((const char *[]){"print", missing, NULL}, 1, "No such file or directory");
    expect_error((const char *[]){"print", NULL}, 2, "missing argument");
    expect_error((const char *[]){"print", dir, "extra", NULL}, 2, "unexpected argument 'extra'");
    expect_error((const char *[]){"print", dir, "--bogus", NULL}, 2, "unknown option '--bogus'");
    expect_error((const char *[]){"print", dir, "-x", NULL}, 2, "unknown option '-x'");
    expect_error((const char *[]){"print", dir, "--depth", NULL}, 2, "--depth needs a value");
    expect_error((const char *[]){"print", dir, "--depth", "two", NULL}, 2,
                 "--depth wants an integer, got 'two'");
    expect_error((const char *[]){"print", dir, "--no-params=1", NULL}, 2, "takes no value");
    expect_error((const char *[]){"generate", dir, "--tokens", "1,2", "--top-p", "1.5", NULL}, 2,
                 "--top-p must be in [0, 1], got 1.5");
    expect_error((const char *[]){"generate", dir, "--tokens", "1,x", NULL}, 2,
                 "--tokens wants ids >= 0");
    expect_error((const char *[]){"generate", dir, "--tokens", "1,-2", NULL}, 2,
                 "--tokens wants ids >= 0");
    expect_error((const char *[]){"generate", dir, NULL}, 2, "exactly one of --prompt");
    expect_error((const char *[]){"generate", dir, "--prompt", "1", "--tokens", "1", NULL}, 2,
                 "exactly one of --prompt");
    /* an id past the vocabulary fails inside the model, with its message */
    expect_error((const char *[]){"generate", dir, "--tokens", "1,99", NULL}, 1,
                 "generation failed");
    /* a directory without config.json, an unknown architecture */
    snprintf(bert, sizeof bert, "%s/bert", tmp_root());
    cr_assert_eq(mkdir(bert, 0755), 0);
    expect_error((const char *[]){"print", bert, NULL}, 1, "has no config.json");
    write_file(bert, "config.json", "{\"architectures\": [\"BertModel\"], \"model_type\": \"bert\"}");
    expect_error((const char *[]){"generate", bert, "--tokens", "1", NULL}, 1, "BertModel");
    /* a file that is not a model file */
    snprintf(cfg, sizeof cfg, "%s/config.json", bert);
    expect_error((const char *[]){"print", cfg, NULL}, 1, cfg);
    rm_tmp();
}

/* ---- the trained demo model (models/adder) ---------------------------------------- */

#ifdef NAMEDARR_SOURCE_DIR
#define ADDER NAMEDARR_SOURCE_DIR "/models/adder"

/* Digits least significant first: 123 + 45 = 168 is "321+540=" -> "8610". */
Test(cli, adder_answers_sums_streamed_and_as_ids)
{
    const char *cases[][2] = {{"321+540=", "8610\n"}, {"999+999=", "8991\n"},
                              {"000+000=", "0000\n"}, {"705+250=", "9550\n"}};
    for (int i = 0; i < 4; i++) {
        run_result r = run_cli((const char *[]){"generate", ADDER, "--prompt", cases[i][0],
                                                "--threads", "1", NULL});
        cr_expect_eq(r.code, 0, "%s", r.err);
        cr_expect_str_eq(r.out, cases[i][1], "%s", cases[i][0]); /* stops at </s> */
        run_free(&r);
    }
    /* <s> 3 2 1 + 5 4 0 = -> 8 6 1 0 (ids: digit d is d + 3; </s> is not printed) */
    run_result r = run_cli((const char *[]){"generate", ADDER, "--tokens", "1,6,5,4,13,8,7,3,14",
                                            NULL});
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(last_line(r.out), "11,9,4,3\n");
    run_free(&r);
    char page[400];
    snprintf(page, sizeof page, "%s/adder.html", tmp_root());
    r = run_cli((const char *[]){"html", ADDER, page, "--prompt", "321+540=", NULL});
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect(strstr(r.err, "(2 attention maps)"), "%s", r.err);
    run_free(&r);
    r = run_cli((const char *[]){"print", ADDER, NULL});
    cr_expect(strstr(r.out, "# total: ") && strstr(r.out, "100,672 params"), "%s", r.out);
    run_free(&r);
    rm_tmp();
}

/* --kv-dtype bf16: keys and values stored in bf16; the greedy answers stay
 * right; a dtype other than f32 and bf16 is a usage error. */
Test(cli, adder_answers_with_a_bf16_kv_cache)
{
    const char *cases[][2] = {{"321+540=", "8610\n"}, {"999+999=", "8991\n"}};
    for (int i = 0; i < 2; i++) {
        run_result r = run_cli((const char *[]){"generate", ADDER, "--prompt", cases[i][0],
                                                "--kv-dtype", "bf16", NULL});
        cr_expect_eq(r.code, 0, "%s", r.err);
        cr_expect_str_eq(r.out, cases[i][1], "%s", cases[i][0]);
        run_free(&r);
    }
    expect_error((const char *[]){"generate", ADDER, "--prompt", "1+1=", "--kv-dtype", "f16",
                                  NULL},
                 2, "--kv-dtype must be f32 or bf16, not 'f16'");
}
#endif

/* ---- progress on a terminal ----------------------------------------------- */

/* Run `namedarr args...` with stdin and stderr on a pseudo-terminal and
 * stdout to a file; `progress` is NAMEDARR_PROGRESS (NULL: unset). Returns
 * what the terminal showed in .err. */
static run_result run_cli_tty(const char *const *args, const char *progress)
{
#ifndef NAMEDARR_CLI
    (void)args, (void)progress;
    cr_skip_test("the namedarr command is not built (NAMEDARR_BUILD_TOOLS=OFF)");
#else
    char out[300];
    snprintf(out, sizeof out, "%s/stdout", tmp_root());
    char *argv[32] = {(char *)NAMEDARR_CLI};
    int n = 1;
    for (; args[n - 1]; n++)
        argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    int term = -1;
    pid_t pid = forkpty(&term, NULL, NULL, NULL);
    cr_assert_neq(pid, -1, "forkpty failed");
    if (pid == 0) { /* stdin, stdout and stderr are the terminal: stdout to the file */
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, 1) < 0)
            _exit(126);
        if (progress)
            setenv("NAMEDARR_PROGRESS", progress, 1);
        else
            unsetenv("NAMEDARR_PROGRESS");
        execv(NAMEDARR_CLI, argv);
        _exit(127);
    }
    size_t len = 0, cap = 4096;
    char *shown = malloc(cap);
    for (ssize_t got; (got = read(term, shown + len, cap - 1 - len)) > 0;) {
        len += (size_t)got;
        if (len + 1 == cap)
            shown = realloc(shown, cap *= 2);
    }
    shown[len] = '\0'; /* read ends with EIO once the child closed the terminal */
    close(term);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "namedarr %s did not exit normally", args[0]);
    return (run_result){WEXITSTATUS(status), slurp(out), shown};
#endif
}

/* Loading and prefill progress lines reach a terminal (NAMEDARR_PROGRESS=all
 * shows them for the small adder; by default only a file over 64 MB and a
 * prompt over 512 tokens do), and never a file or a pipe. */
Test(cli, progress_goes_to_a_terminal_only)
{
    const char *dir = NAMEDARR_SOURCE_DIR "/models/adder";
    const char *args[] = {"generate", dir, "--prompt", "321+540=", "--max-new-tokens", "5",
                          NULL};
    run_result r = run_cli_tty(args, "all");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "8610\n", "the answer on stdout");
    char want[600];
    snprintf(want, sizeof want, "loading %s (0 MB) ... ", dir);
    cr_expect(strstr(r.err, want), "no loading line on the terminal: %s", r.err);
    cr_expect(strstr(r.err, "prefill: 9 tokens ... "), "no prefill line: %s", r.err);
    cr_expect(strstr(r.err, " s\r\n"), "the lines end with the time taken: %s", r.err);
    cr_expect(strstr(r.err, "prefill: 9 tokens in "), "the timings follow: %s", r.err);
    run_free(&r);
    /* the default thresholds: a 0.4 MB model and 9 tokens show none */
    r = run_cli_tty(args, NULL);
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_null(strstr(r.err, "loading"), "%s", r.err);
    cr_expect_null(strstr(r.err, "..."), "%s", r.err);
    run_free(&r);
    /* stderr to a file: no progress even when asked for */
    setenv("NAMEDARR_PROGRESS", "all", 1);
    r = run_cli(args);
    unsetenv("NAMEDARR_PROGRESS");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "8610\n");
    cr_expect_null(strstr(r.err, "loading"), "%s", r.err);
    cr_expect_null(strstr(r.err, "..."), "%s", r.err);
    cr_expect(strstr(r.err, "prefill: 9 tokens in "), "the timings are still there: %s", r.err);
    run_free(&r);
    rm_tmp();
}
