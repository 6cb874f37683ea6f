/* Opening MODEL_DIR for the verbs: a Hugging Face model directory or a
 * namedarr model file, with its tokenizer and end-of-sequence ids. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool is_file(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0 && S_ISREG(s.st_mode);
}

/* Bytes of the *.safetensors files in `dir` (for the progress line). */
static double safetensors_bytes(const char *dir)
{
    double total = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len > 12 && strcmp(e->d_name + len - 12, ".safetensors") == 0) {
            char p[4096];
            struct stat s;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (stat(p, &s) == 0)
                total += (double)s.st_size;
        }
    }
    closedir(d);
    return total;
}

/* Add the ids of "eos_token_id" (a number or a list) in dir/name. */
static void read_eos(const char *dir, const char *name, cli_model *m)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (!f)
        return;
    char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *root = cJSON_Parse(buf);
    const cJSON *eos = cJSON_GetObjectItemCaseSensitive(root, "eos_token_id");
    const cJSON *item = cJSON_IsArray(eos) ? eos->child : eos;
    for (; item && m->n_stop < 8; item = cJSON_IsArray(eos) ? item->next : NULL) {
        if (!cJSON_IsNumber(item) || item->valuedouble < 0)
            continue;
        int32_t id = (int32_t)item->valuedouble;
        bool dup = false;
        for (int i = 0; i < m->n_stop; i++)
            dup |= m->stop[i] == id;
        if (!dup)
            m->stop[m->n_stop++] = id;
    }
    cJSON_Delete(root);
}

static int load_hf_dir(const char *verb, const char *dir, cli_model *m)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/config.json", dir);
    if (!is_file(p))
        return cli_fail(verb, CLI_FAIL, "%s is not a model directory: it has no config.json", dir);
    double bytes = safetensors_bytes(dir), t0 = cli_now();
    bool show = cli_progress_for(bytes, 64e6);
    if (show)
        fprintf(stderr, "loading %s (%.0f MB) ...", dir, bytes / 1e6);
    na_hf_info info;
    if (na_hf_load(dir, &m->layer, &info) != NA_OK) {
        if (show)
            fprintf(stderr, "\n");
        return cli_fail_na(verb, dir);
    }
    if (show)
        fprintf(stderr, " %.1f s\n", cli_now() - t0);
    snprintf(m->arch, sizeof m->arch, "%s", info.architecture);
    if (info.arch == NA_HF_GPT2) /* a learned position table: a hard limit */
        m->max_positions = info.gpt2.n_positions;
    return CLI_OK;
}

int cli_model_open(const char *verb, const char *path, cli_model *out)
{
    memset(out, 0, sizeof *out);
    struct stat s;
    if (stat(path, &s) != 0)
        return cli_fail(verb, CLI_FAIL, "%s: %s", path, strerror(errno));
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    int st;
    if (S_ISDIR(s.st_mode)) {
        st = load_hf_dir(verb, path, out);
    } else {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s", path);
        snprintf(dir, sizeof dir, "%s", dirname(tmp));
        snprintf(out->arch, sizeof out->arch, "namedarr model");
        bool show = cli_progress_for((double)s.st_size, 64e6);
        double t0 = cli_now();
        if (show)
            fprintf(stderr, "loading %s (%.0f MB) ...", path, (double)s.st_size / 1e6);
        st = na_model_load(path, &out->layer) == NA_OK ? CLI_OK : CLI_FAIL;
        if (show)
            fprintf(stderr, st == CLI_OK ? " %.1f s\n" : "\n", cli_now() - t0);
        if (st != CLI_OK)
            return cli_fail_na(verb, path);
    }
    if (st != CLI_OK)
        return st;
    char tok[4096 + 16];
    snprintf(tok, sizeof tok, "%s/tokenizer.json", dir);
    if (is_file(tok) && na_tokenizer_load(tok, &out->tokenizer) != NA_OK) {
        cli_model_close(out);
        return cli_fail_na(verb, tok);
    }
    read_eos(dir, "config.json", out);
    read_eos(dir, "generation_config.json", out);
    return CLI_OK;
}

void cli_model_close(cli_model *m)
{
    na_layer_free(m->layer);
    na_tokenizer_free(m->tokenizer);
    memset(m, 0, sizeof *m);
}

int cli_model_cache(const char *verb, cli_model *m, int64_t capacity, int64_t batch,
                    na_dtype kv_dtype)
{
    if (m->max_positions > 0 && capacity > m->max_positions)
        return cli_fail(verb, CLI_USAGE,
                        "prompt plus new tokens (%lld) exceed the model's %lld positions",
                        (long long)capacity, (long long)m->max_positions);
    na_kv_cache_options o = {.capacity = capacity, .batch_size = batch, .dtype = kv_dtype};
    if (na_model_to_kv_cache_ex(&m->layer, &o) != NA_OK)
        return cli_fail_na(verb, "cannot decode with a KV cache");
    m->cached = true;
    return CLI_OK;
}

int cli_prompt_ids(const char *verb, const cli_model *m, const char *prompt,
                   const char *tokens, na_token_list *out)
{
    memset(out, 0, sizeof *out);
    if ((prompt != NULL) == (tokens != NULL))
        return cli_fail(verb, CLI_USAGE, "give exactly one of --prompt TEXT and --tokens IDS");
    if (tokens)
        return cli_parse_ids(verb, tokens, out);
    if (!m->tokenizer)
        return cli_fail(verb, CLI_USAGE,
                        "--prompt needs a tokenizer.json beside the model (or use --tokens)");
    if (na_tokenizer_encode(m->tokenizer, prompt, strlen(prompt), NA_TOKENIZE_ADD_SPECIAL,
                            out) != NA_OK)
        return cli_fail_na(verb, "cannot encode the prompt");
    if (out->count == 0)
        return cli_fail(verb, CLI_USAGE, "the prompt encodes to no tokens");
    return CLI_OK;
}
