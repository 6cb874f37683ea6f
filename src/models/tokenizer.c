/* Loading a tokenizer.json: the model (BPE or WordLevel vocabulary and
 * merges), the added tokens, and the pipeline sections; lookups; freeing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "models/tokenizer_internal.h"

static na_status oom(void)
{
    return na__fail(NA_ERR_NO_MEMORY, NA__TOK_LOAD ": out of memory");
}

/* Give id `id` the token text (first name wins: the model's own vocab is read
 * before added tokens, as HF does). */
static na_status set_token(na_tokenizer *t, int32_t id, const char *s, size_t n)
{
    if (id < 0 || id >= t->n_ids)
        return na__fail(NA_ERR_FORMAT, NA__TOK_LOAD ": token id %d out of range", (int)id);
    if (!t->tokens[id]) {
        t->tokens[id] = malloc(n + 1);
        if (!t->tokens[id])
            return oom();
        memcpy(t->tokens[id], s, n);
        t->tokens[id][n] = '\0';
        t->token_len[id] = n;
    }
    if (na__strmap_get(&t->vocab, s, n) < 0 && !na__strmap_put(&t->vocab, s, n, id))
        return oom();
    return NA_OK;
}

/* The largest id in the model vocab and the added tokens, to size tables. */
static na_status count_ids(na_tokenizer *t, const cJSON *vocab, const cJSON *added)
{
    double max = -1;
    const cJSON *v;
    cJSON_ArrayForEach(v, vocab) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e8)
            return na__fail(NA_ERR_FORMAT, NA__TOK_LOAD ": vocab entry '%s' has a bad id",
                            v->string ? v->string : "?");
        max = v->valuedouble > max ? v->valuedouble : max;
    }
    cJSON_ArrayForEach(v, added) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(v, "id");
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble > 1e8 ||
            !na__json_str(v, "content"))
            return na__fail(NA_ERR_FORMAT, NA__TOK_LOAD ": added_tokens entry lacks id or content");
        max = id->valuedouble > max ? id->valuedouble : max;
    }
    t->n_ids = (int32_t)max + 1;
    t->tokens = calloc((size_t)t->n_ids + 1, sizeof *t->tokens);
    t->token_len = calloc((size_t)t->n_ids + 1, sizeof *t->token_len);
    t->special = calloc((size_t)t->n_ids + 1, 1);
    return t->tokens && t->token_len && t->special ? NA_OK : oom();
}

/* One merge "a b" (or ["a", "b"]) of rank r. */
static na_status add_merge(na_tokenizer *t, const cJSON *m, int32_t rank)
{
    char buf[1024];
    const char *a, *b;
    if (cJSON_IsString(m)) {
        const char *sp = strchr(m->valuestring, ' ');
        size_t n = strlen(m->valuestring);
        if (!sp || strchr(sp + 1, ' ') || n >= sizeof buf)
            return na__fail(NA_ERR_FORMAT, NA__TOK_LOAD ": merge %d '%s' is not \"a b\"",
                            (int)rank, m->valuestring);
        memcpy(buf, m->valuestring, n + 1);
        buf[sp - m->valuestring] = '\0';
        a = buf, b = buf + (sp - m->valuestring) + 1;
    } else if (cJSON_GetArraySize(m) == 2 && cJSON_IsString(cJSON_GetArrayItem(m, 0)) &&
               cJSON_IsString(cJSON_GetArrayItem(m, 1))) {
        a = cJSON_GetArrayItem(m, 0)->valuestring, b = cJSON_GetArrayItem(m, 1)->valuestring;
    } else {
        return na__fail(NA_ERR_FORMAT, NA__TOK_LOAD ": merge %d is neither \"a b\" nor [a, b]",
                        (int)rank);
    }
    size_t la = strlen(a), lb = strlen(b);
    char joined[2048];
    if (la + lb >= sizeof joined)
        return na__fail(NA_ERR_FORMAT, NA__TOK_LOAD ": merge %d is too long", (int)rank);
    memcpy(joined, a, la), memcpy(joined + la, b, lb);
    int32_t ia = na__strmap_get(&t->vocab, a, la), ib = na__strmap_get(&t->vocab, b, lb);
    int32_t im = na__strmap_get(&t->vocab, joined, la + lb);
    if (ia < 0 || ib < 0 || im < 0)
        return na__fail(NA_ERR_FORMAT, NA__TOK_LOAD ": merge %d (%s %s) uses a token not in the vocab",
                        (int)rank, a, b);
    return na__pairmap_put(&t->merges, ia, ib, rank, im) ? NA_OK : oom();
}

static na_status parse_model(na_tokenizer *t, const cJSON *model)
{
    const char *type = na__json_str(model, "type");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *v;
    na_status st;
    cJSON_ArrayForEach(v, vocab) {
        if ((st = set_token(t, (int32_t)v->valuedouble, v->string, strlen(v->string))) != NA_OK)
            return st;
    }
    const char *unk = na__json_str(model, "unk_token");
    t->unk_id = unk ? na__strmap_get(&t->vocab, unk, strlen(unk)) : -1;
    if (strcmp(type, "WordLevel") == 0) {
        t->model = NA__MODEL_WORDLEVEL;
        return NA_OK;
    }
    t->model = NA__MODEL_BPE;
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    const char *prefix = na__json_str(model, "continuing_subword_prefix");
    const char *suffix = na__json_str(model, "end_of_word_suffix");
    if ((cJSON_IsNumber(dropout) && dropout->valuedouble > 0) || (prefix && prefix[0]) ||
        (suffix && suffix[0]))
        return na__fail(NA_ERR_UNSUPPORTED, NA__TOK_LOAD
                        ": BPE with dropout, continuing_subword_prefix or end_of_word_suffix "
                        "is not supported");
    t->byte_fallback = na__json_bool(model, "byte_fallback", false);
    t->fuse_unk = na__json_bool(model, "fuse_unk", false);
    t->ignore_merges = na__json_bool(model, "ignore_merges", false);
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        t->byte_ids[b] = na__strmap_get(&t->vocab, name, 6);
    }
    int32_t rank = 0;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(model, "merges")) {
        if ((st = add_merge(t, v, rank++)) != NA_OK)
            return st;
    }
    return NA_OK;
}

static na_status parse_added(na_tokenizer *t, const cJSON *added)
{
    int n = cJSON_GetArraySize(added);
    t->added = calloc((size_t)n + 1, sizeof *t->added);
    if (!t->added)
        return oom();
    const cJSON *v;
    cJSON_ArrayForEach(v, added) {
        const char *content = na__json_str(v, "content");
        int32_t id = (int32_t)cJSON_GetObjectItemCaseSensitive(v, "id")->valuedouble;
        na__added *a = &t->added[t->n_added];
        a->len = strlen(content);
        if (!a->len)
            return na__fail(NA_ERR_FORMAT, NA__TOK_LOAD ": added token %d is empty", (int)id);
        a->content = strdup(content);
        if (!a->content)
            return oom();
        t->n_added++;
        a->id = id;
        a->special = na__json_bool(v, "special", false);
        a->lstrip = na__json_bool(v, "lstrip", false);
        a->rstrip = na__json_bool(v, "rstrip", false);
        t->special[id] = a->special;
        na_status st = set_token(t, id, content, a->len);
        if (st != NA_OK)
            return st;
    }
    return NA_OK;
}

static na_status check_model(const cJSON *model)
{
    const char *type = na__json_str(model, "type");
    if (!cJSON_IsObject(model))
        return na__fail(NA_ERR_FORMAT, NA__TOK_LOAD ": no \"model\" object");
    if (!type) /* old files: a BPE model has merges, WordLevel has none */
        return na__fail(NA_ERR_FORMAT, NA__TOK_LOAD ": the model has no \"type\"");
    if (strcmp(type, "BPE") != 0 && strcmp(type, "WordLevel") != 0)
        return na__fail(NA_ERR_UNSUPPORTED,
                        NA__TOK_LOAD ": model type '%s' is not supported (BPE, WordLevel)", type);
    if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(model, "vocab")))
        return na__fail(NA_ERR_FORMAT, NA__TOK_LOAD ": the %s model has no \"vocab\" object", type);
    return NA_OK;
}

static na_status parse_all(na_tokenizer *t, const cJSON *root)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    na_status st;
    if ((st = check_model(model)) != NA_OK ||
        (st = count_ids(t, cJSON_GetObjectItemCaseSensitive(model, "vocab"), added)) != NA_OK ||
        (st = parse_model(t, model)) != NA_OK || (st = parse_added(t, added)) != NA_OK ||
        (st = na__tok_parse_normalizer(t, cJSON_GetObjectItemCaseSensitive(root, "normalizer"))) ||
        (st = na__tok_parse_pretok(t, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"))) ||
        (st = na__tok_parse_postproc(t, cJSON_GetObjectItemCaseSensitive(root, "post_processor"))) ||
        (st = na__tok_parse_decoder(t, cJSON_GetObjectItemCaseSensitive(root, "decoder"))))
        return st;
    return NA_OK;
}

na_status na_tokenizer_from_json(const char *json, size_t len, na_tokenizer **out)
{
    if (!json || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_tokenizer_from_json: NULL argument");
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return na__fail(NA_ERR_FORMAT, NA__TOK_LOAD ": not a JSON object");
    }
    na_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        cJSON_Delete(root);
        return oom();
    }
    na_status st = parse_all(t, root);
    cJSON_Delete(root);
    if (st != NA_OK) {
        na_tokenizer_free(t);
        return st;
    }
    *out = t;
    return NA_OK;
}

na_status na_tokenizer_load(const char *path, na_tokenizer **out)
{
    if (!path || !out)
        return na__fail(NA_ERR_ARGUMENT, NA__TOK_LOAD ": NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f)
        return na__fail(NA_ERR_IO, NA__TOK_LOAD ": cannot open '%s': %s", path, strerror(errno));
    na__buf b = {0};
    char chunk[65536];
    size_t n;
    bool ok = true;
    while (ok && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ok = na__buf_add(&b, chunk, n);
    bool err = ferror(f);
    fclose(f);
    if (!ok || err) {
        na__buf_free(&b);
        return ok ? na__fail(NA_ERR_IO, NA__TOK_LOAD ": cannot read '%s'", path) : oom();
    }
    na_status st = na_tokenizer_from_json(b.p ? b.p : "", b.len, out);
    na__buf_free(&b);
    if (st != NA_OK)
        na__fail_append(" (in '%s')", path);
    return st;
}

void na_tokenizer_free(na_tokenizer *t)
{
    if (!t)
        return;
    na__strmap_free(&t->vocab);
    na__pairmap_free(&t->merges);
    for (int32_t i = 0; t->tokens && i < t->n_ids; i++)
        free(t->tokens[i]);
    free(t->tokens), free(t->token_len), free(t->special);
    for (size_t i = 0; i < t->n_added; i++)
        free(t->added[i].content);
    free(t->added);
    for (size_t i = 0; i < t->n_norms; i++)
        free(t->norms[i].from), free(t->norms[i].to);
    free(t->norms);
    for (size_t i = 0; i < t->n_pretoks; i++) {
        if (t->pretoks[i].re)
            pcre2_code_free(t->pretoks[i].re);
        free(t->pretoks[i].replacement);
    }
    free(t->pretoks);
    for (size_t i = 0; i < t->n_decoders; i++)
        free(t->decoders[i].from), free(t->decoders[i].to);
    free(t->decoders);
    for (size_t i = 0; i < t->n_tmpl; i++)
        free(t->tmpl[i].ids);
    free(t->tmpl);
    free(t);
}

int32_t na_tokenizer_vocab_size(const na_tokenizer *tok)
{
    return tok ? tok->n_ids : 0;
}

na_status na_tokenizer_token_id(const na_tokenizer *tok, const char *token, int32_t *out)
{
    if (!tok || !token || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_tokenizer_token_id: NULL argument");
    int32_t id = na__strmap_get(&tok->vocab, token, strlen(token));
    if (id < 0)
        return na__fail(NA_ERR_NOT_FOUND, "na_tokenizer_token_id: no token '%s' in the vocabulary",
                        token);
    *out = id;
    return NA_OK;
}

const char *na_tokenizer_token(const na_tokenizer *tok, int32_t id)
{
    return tok && id >= 0 && id < tok->n_ids ? tok->tokens[id] : NULL;
}

int na_tokenizer_is_special(const na_tokenizer *tok, int32_t id)
{
    return tok && id >= 0 && id < tok->n_ids && tok->special[id];
}

void na_token_list_free(na_token_list *list)
{
    if (!list)
        return;
    free(list->ids);
    list->ids = NULL;
    list->count = 0;
}

void na_text_free(na_text *text)
{
    if (!text)
        return;
    free(text->bytes);
    text->bytes = NULL;
    text->len = 0;
}
