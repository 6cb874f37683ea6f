/* Reading the pipeline sections of tokenizer.json: normalizer,
 * pre_tokenizer, post_processor and decoder. Every type the encoder or
 * decoder cannot honour exactly is refused here, by name. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "models/tokenizer_internal.h"

const char *na__json_str(const cJSON *node, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(node, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

bool na__json_bool(const cJSON *node, const char *key, bool dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(node, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

static na_status unsupported(const char *section, const char *type)
{
    return na__fail(NA_ERR_UNSUPPORTED,
                    NA__TOK_LOAD ": %s type '%s' is not supported", section,
                    type ? type : "(missing)");
}

static char *dup_str(const char *s)
{
    return s ? strdup(s) : NULL;
}

na_status na__tok_regex(const char *pattern, bool literal, pcre2_code **out)
{
    int err = 0;
    PCRE2_SIZE at = 0;
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | (literal ? PCRE2_LITERAL : 0);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &err, &at, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return na__fail(NA_ERR_FORMAT, NA__TOK_LOAD ": bad split regex /%s/ at offset %zu: %s",
                        pattern, (size_t)at, (const char *)msg);
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional: falls back if unavailable */
    *out = re;
    return NA_OK;
}

/* {"String": "x"} or {"Regex": "x"} -> the text and whether it is literal. */
static na_status read_pattern(const cJSON *node, const char *who, const char **text, bool *literal)
{
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(node, "pattern");
    *literal = na__json_str(pat, "String") != NULL;
    *text = *literal ? na__json_str(pat, "String") : na__json_str(pat, "Regex");
    if (!*text)
        return na__fail(NA_ERR_FORMAT, NA__TOK_LOAD ": %s needs a pattern {\"String\"} or {\"Regex\"}",
                        who);
    return NA_OK;
}

/* ---- the shape every component shares ----------------------------------------
 * A component (normalizer, pre-tokenizer, decoder, post-processor) is null,
 * one typed node, or {"type": "Sequence", <list_key>: [components...]}. */
typedef na_status (*component_fn)(na_tokenizer *t, const cJSON *node, const char *type);

static na_status parse_component(na_tokenizer *t, const cJSON *node, const char *what,
                                 const char *list_key, component_fn one)
{
    if (!node || cJSON_IsNull(node))
        return NA_OK;
    const char *type = na__json_str(node, "type");
    if (!type)
        return unsupported(what, NULL);
    if (strcmp(type, "Sequence") != 0)
        return one(t, node, type);
    const cJSON *item;
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(node, list_key)) {
        na_status st = parse_component(t, item, what, list_key, one);
        if (st != NA_OK)
            return st;
    }
    return NA_OK;
}

/* ---- normalizers ------------------------------------------------------- */
static na_status push_norm(na_tokenizer *t, na__norm_kind kind, const char *from, const char *to)
{
    na__normalizer *n = realloc(t->norms, (t->n_norms + 1) * sizeof *n);
    if (!n)
        return na__fail(NA_ERR_NO_MEMORY, NA__TOK_LOAD ": out of memory");
    t->norms = n;
    n[t->n_norms] = (na__normalizer){kind, dup_str(from), dup_str(to)};
    t->n_norms++;
    if ((from && !n[t->n_norms - 1].from) || (to && !n[t->n_norms - 1].to))
        return na__fail(NA_ERR_NO_MEMORY, NA__TOK_LOAD ": out of memory");
    return NA_OK;
}

static na_status parse_normalizer_one(na_tokenizer *t, const cJSON *node, const char *type)
{
    if (strcmp(type, "Prepend") == 0) {
        const char *p = na__json_str(node, "prepend");
        if (!p)
            return na__fail(NA_ERR_FORMAT, NA__TOK_LOAD ": Prepend normalizer lacks \"prepend\"");
        return push_norm(t, NA__NORM_PREPEND, NULL, p);
    }
    if (strcmp(type, "Replace") == 0) {
        const char *text, *content = na__json_str(node, "content");
        bool literal;
        na_status st = read_pattern(node, "Replace normalizer", &text, &literal);
        if (st != NA_OK)
            return st;
        if (!literal || !content || !text[0])
            return na__fail(NA_ERR_UNSUPPORTED, NA__TOK_LOAD
                            ": Replace normalizer: only a non-empty String pattern and a content "
                            "string are supported");
        return push_norm(t, NA__NORM_REPLACE, text, content);
    }
    return unsupported("normalizer", type);
}

na_status na__tok_parse_normalizer(na_tokenizer *t, const cJSON *node)
{
    return parse_component(t, node, "normalizer", "normalizers", parse_normalizer_one);
}

/* ---- pre-tokenizers ----------------------------------------------------- */
static na_status push_pretok(na_tokenizer *t, na__pretok p)
{
    na__pretok *v = realloc(t->pretoks, (t->n_pretoks + 1) * sizeof *v);
    if (!v) {
        if (p.re)
            pcre2_code_free(p.re);
        free(p.replacement);
        return na__fail(NA_ERR_NO_MEMORY, NA__TOK_LOAD ": out of memory");
    }
    t->pretoks = v;
    v[t->n_pretoks++] = p;
    return NA_OK;
}

static na_status parse_behavior(const cJSON *node, na__split_behavior *out)
{
    static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext",
                                  "Contiguous"};
    const char *b = na__json_str(node, "behavior");
    for (int i = 0; b && i < 5; i++)
        if (strcmp(b, names[i]) == 0) {
            *out = (na__split_behavior)i;
            return NA_OK;
        }
    return na__fail(NA_ERR_UNSUPPORTED, NA__TOK_LOAD ": Split behavior '%s' is not supported",
                    b ? b : "(missing)");
}

/* The GPT-2 pattern the ByteLevel pre-tokenizer uses when use_regex is on. */
static const char gpt2_split[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static na_status parse_split(na_tokenizer *t, const cJSON *node, const char *type)
{
    na__pretok p = {.kind = NA__PRE_SPLIT};
    na_status st;
    if (strcmp(type, "Split") == 0) {
        const char *text;
        bool literal;
        if ((st = read_pattern(node, "Split pre-tokenizer", &text, &literal)) != NA_OK ||
            (st = parse_behavior(node, &p.behavior)) != NA_OK ||
            (st = na__tok_regex(text, literal, &p.re)) != NA_OK)
            return st;
        p.invert = na__json_bool(node, "invert", false);
    } else if (strcmp(type, "Whitespace") == 0) { /* words and punctuation runs */
        p.behavior = NA__SPLIT_REMOVED, p.invert = true;
        if ((st = na__tok_regex("\\w+|[^\\w\\s]+", false, &p.re)) != NA_OK)
            return st;
    } else { /* WhitespaceSplit */
        p.behavior = NA__SPLIT_REMOVED;
        if ((st = na__tok_regex("\\s+", false, &p.re)) != NA_OK)
            return st;
    }
    return push_pretok(t, p);
}

static na_status parse_prepend_scheme(const cJSON *node, na__prepend *out)
{
    const char *s = na__json_str(node, "prepend_scheme");
    if (!s)
        *out = na__json_bool(node, "add_prefix_space", true) ? NA__PREPEND_ALWAYS : NA__PREPEND_NEVER;
    else if (strcmp(s, "always") == 0)
        *out = NA__PREPEND_ALWAYS;
    else if (strcmp(s, "first") == 0)
        *out = NA__PREPEND_FIRST;
    else if (strcmp(s, "never") == 0)
        *out = NA__PREPEND_NEVER;
    else
        return na__fail(NA_ERR_UNSUPPORTED, NA__TOK_LOAD ": Metaspace prepend_scheme '%s'", s);
    return NA_OK;
}

static na_status parse_pretok_one(na_tokenizer *t, const cJSON *node, const char *type)
{
    na_status st;
    if (strcmp(type, "Split") == 0 || strcmp(type, "Whitespace") == 0 ||
        strcmp(type, "WhitespaceSplit") == 0)
        return parse_split(t, node, type);
    if (strcmp(type, "ByteLevel") == 0) {
        na__pretok p = {.kind = NA__PRE_BYTELEVEL, .behavior = NA__SPLIT_ISOLATED};
        p.add_prefix_space = na__json_bool(node, "add_prefix_space", true);
        if (na__json_bool(node, "use_regex", true) &&
            (st = na__tok_regex(gpt2_split, false, &p.re)) != NA_OK)
            return st;
        return push_pretok(t, p);
    }
    if (strcmp(type, "Metaspace") == 0) {
        na__pretok p = {.kind = NA__PRE_METASPACE};
        const char *r = na__json_str(node, "replacement");
        if ((st = parse_prepend_scheme(node, &p.prepend)) != NA_OK)
            return st;
        p.split = na__json_bool(node, "split", true);
        p.replacement = strdup(r ? r : "\xe2\x96\x81");
        if (!p.replacement)
            return na__fail(NA_ERR_NO_MEMORY, NA__TOK_LOAD ": out of memory");
        return push_pretok(t, p);
    }
    if (strcmp(type, "Digits") == 0) { /* digits apart, one by one or in runs */
        na__pretok p = {.kind = NA__PRE_SPLIT};
        p.behavior = na__json_bool(node, "individual_digits", false) ? NA__SPLIT_ISOLATED
                                                                      : NA__SPLIT_CONTIGUOUS;
        if ((st = na__tok_regex("\\p{N}", false, &p.re)) != NA_OK)
            return st;
        return push_pretok(t, p);
    }
    return unsupported("pre_tokenizer", type);
}

na_status na__tok_parse_pretok(na_tokenizer *t, const cJSON *node)
{
    return parse_component(t, node, "pre_tokenizer", "pretokenizers", parse_pretok_one);
}

/* ---- decoders ----------------------------------------------------------- */
static na_status push_decoder(na_tokenizer *t, na__decoder d)
{
    na__decoder *v = realloc(t->decoders, (t->n_decoders + 1) * sizeof *v);
    if (!v) {
        free(d.from), free(d.to);
        return na__fail(NA_ERR_NO_MEMORY, NA__TOK_LOAD ": out of memory");
    }
    t->decoders = v;
    v[t->n_decoders++] = d;
    return NA_OK;
}

static na_status parse_decoder_one(na_tokenizer *t, const cJSON *node, const char *type)
{
    static const struct { const char *name; na__dec_kind kind; } plain[] = {
        {"ByteLevel", NA__DEC_BYTELEVEL}, {"ByteFallback", NA__DEC_BYTEFALLBACK},
        {"Fuse", NA__DEC_FUSE}};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (strcmp(type, plain[i].name) == 0)
            return push_decoder(t, (na__decoder){.kind = plain[i].kind});
    na__decoder d = {0};
    na_status st;
    if (strcmp(type, "Replace") == 0) {
        const char *text, *content = na__json_str(node, "content");
        bool literal;
        if ((st = read_pattern(node, "Replace decoder", &text, &literal)) != NA_OK)
            return st;
        if (!literal || !content || !text[0])
            return na__fail(NA_ERR_UNSUPPORTED, NA__TOK_LOAD
                            ": Replace decoder: only a non-empty String pattern is supported");
        d = (na__decoder){.kind = NA__DEC_REPLACE, .from = strdup(text), .to = strdup(content)};
    } else if (strcmp(type, "Strip") == 0) {
        const char *c = na__json_str(node, "content");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(node, "start");
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(node, "stop");
        d = (na__decoder){.kind = NA__DEC_STRIP, .from = strdup(c ? c : " "),
                          .start = cJSON_IsNumber(a) ? a->valueint : 0,
                          .stop = cJSON_IsNumber(b) ? b->valueint : 0};
    } else if (strcmp(type, "Metaspace") == 0) {
        const char *r = na__json_str(node, "replacement");
        d = (na__decoder){.kind = NA__DEC_METASPACE, .from = strdup(r ? r : "\xe2\x96\x81")};
        if ((st = parse_prepend_scheme(node, &d.prepend)) != NA_OK) {
            free(d.from);
            return st;
        }
    } else {
        return unsupported("decoder", type);
    }
    if (!d.from || (d.kind == NA__DEC_REPLACE && !d.to)) {
        free(d.from), free(d.to);
        return na__fail(NA_ERR_NO_MEMORY, NA__TOK_LOAD ": out of memory");
    }
    return push_decoder(t, d);
}

na_status na__tok_parse_decoder(na_tokenizer *t, const cJSON *node)
{
    if (node && !cJSON_IsNull(node))
        t->has_decoder = true;
    return parse_component(t, node, "decoder", "decoders", parse_decoder_one);
}

/* ---- post-processors ---------------------------------------------------- */
static na_status push_tmpl(na_tokenizer *t, const int32_t *ids, size_t count)
{
    na__tmpl_item *v = realloc(t->tmpl, (t->n_tmpl + 1) * sizeof *v);
    if (!v)
        return na__fail(NA_ERR_NO_MEMORY, NA__TOK_LOAD ": out of memory");
    t->tmpl = v;
    na__tmpl_item it = {NULL, 0};
    if (ids) {
        it.ids = malloc((count ? count : 1) * sizeof *it.ids);
        if (!it.ids)
            return na__fail(NA_ERR_NO_MEMORY, NA__TOK_LOAD ": out of memory");
        memcpy(it.ids, ids, count * sizeof *ids);
        it.count = count;
    }
    v[t->n_tmpl++] = it;
    return NA_OK;
}

/* One "SpecialToken" item: its ids from the template's special_tokens map. */
static na_status tmpl_special(na_tokenizer *t, const cJSON *specials, const char *name)
{
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(specials, name), "ids");
    int n = cJSON_GetArraySize(ids);
    if (!cJSON_IsArray(ids) || n > 64)
        return na__fail(NA_ERR_FORMAT, NA__TOK_LOAD
                        ": TemplateProcessing: special token '%s' has no ids", name);
    int32_t buf[64];
    for (int i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetArrayItem(ids, i);
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble >= t->n_ids)
            return na__fail(NA_ERR_FORMAT, NA__TOK_LOAD
                            ": TemplateProcessing: special token '%s' has a bad id", name);
        buf[i] = (int32_t)v->valuedouble;
    }
    return push_tmpl(t, buf, (size_t)n);
}

static na_status parse_template(na_tokenizer *t, const cJSON *node)
{
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(node, "single");
    const cJSON *specials = cJSON_GetObjectItemCaseSensitive(node, "special_tokens");
    const cJSON *item;
    if (!cJSON_IsArray(single))
        return na__fail(NA_ERR_FORMAT, NA__TOK_LOAD ": TemplateProcessing lacks \"single\"");
    t->has_tmpl = true;
    cJSON_ArrayForEach(item, single) {
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(item, "SpecialToken");
        na_status st;
        if (sp)
            st = tmpl_special(t, specials, na__json_str(sp, "id") ? na__json_str(sp, "id") : "");
        else if (cJSON_GetObjectItemCaseSensitive(item, "Sequence"))
            st = push_tmpl(t, NULL, 0);
        else
            st = na__fail(NA_ERR_FORMAT, NA__TOK_LOAD ": TemplateProcessing: bad item");
        if (st != NA_OK)
            return st;
    }
    return NA_OK;
}

/* BertProcessing / RobertaProcessing: cls A sep, as ["[CLS]", 101]. */
static na_status parse_cls_sep(na_tokenizer *t, const cJSON *node)
{
    const cJSON *cls = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(node, "cls"), 1);
    const cJSON *sep = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(node, "sep"), 1);
    if (!cJSON_IsNumber(cls) || !cJSON_IsNumber(sep))
        return na__fail(NA_ERR_FORMAT, NA__TOK_LOAD ": post_processor lacks cls/sep ids");
    int32_t c = (int32_t)cls->valuedouble, s = (int32_t)sep->valuedouble;
    na_status st;
    t->has_tmpl = true;
    if ((st = push_tmpl(t, &c, 1)) != NA_OK || (st = push_tmpl(t, NULL, 0)) != NA_OK)
        return st;
    return push_tmpl(t, &s, 1);
}

static na_status parse_postproc_one(na_tokenizer *t, const cJSON *node, const char *type)
{
    if (strcmp(type, "ByteLevel") == 0) /* offsets only: ids unchanged */
        return NA_OK;
    if (strcmp(type, "TemplateProcessing") == 0)
        return t->has_tmpl ? unsupported("post_processor", "two templates")
                           : parse_template(t, node);
    if (strcmp(type, "BertProcessing") == 0 || strcmp(type, "RobertaProcessing") == 0)
        return t->has_tmpl ? unsupported("post_processor", "two templates")
                           : parse_cls_sep(t, node);
    return unsupported("post_processor", type);
}

na_status na__tok_parse_postproc(na_tokenizer *t, const cJSON *node)
{
    return parse_component(t, node, "post_processor", "processors", parse_postproc_one);
}
