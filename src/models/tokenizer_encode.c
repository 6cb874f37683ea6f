/* na_tokenizer_encode: added tokens are found in the raw text first (the
 * longest at the leftmost position); the text between them goes through
 * normalizers, pre-tokenizers and the model; the post-processor's template
 * wraps the result. */
#include <stdlib.h>
#include <string.h>

#include "models/tokenizer_internal.h"

#define WHO "na_tokenizer_encode"

/* The longest added token starting at s[0..n), or NULL. */
static const na__added *added_at(const na_tokenizer *t, const char *s, size_t n)
{
    const na__added *best = NULL;
    for (size_t k = 0; k < t->n_added; k++) {
        const na__added *a = &t->added[k];
        if (a->len <= n && (!best || a->len > best->len) && s[0] == a->content[0] &&
            memcmp(s, a->content, a->len) == 0)
            best = a;
    }
    return best;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Normalize, pre-tokenize and run the model on text[0..n). */
static na_status encode_segment(const na_tokenizer *t, const char *s, size_t n, bool first,
                                na_token_list *ids, size_t *cap)
{
    if (n == 0)
        return NA_OK;
    na__buf norm = {0};
    na__pieces words = {0};
    na_status st = na__tok_normalize(t, s, n, &norm);
    if (st == NA_OK)
        st = na__tok_pretokenize(t, norm.p, norm.len, first, &words);
    for (size_t i = 0; st == NA_OK && i < words.count; i++)
        st = na__tok_model(t, NA__PIECE(&words, i), words.len[i], ids, cap);
    na__buf_free(&norm);
    na__pieces_free(&words);
    return st;
}

static na_status encode_text(const na_tokenizer *t, const char *s, size_t n, na_token_list *ids,
                             size_t *cap)
{
    size_t seg = 0, i = 0;
    na_status st = NA_OK;
    while (st == NA_OK && i < n) {
        const na__added *a = added_at(t, s + i, n - i);
        if (!a) {
            i++;
            continue;
        }
        size_t end = i; /* lstrip: the token takes the spaces before it */
        while (a->lstrip && end > seg && is_space(s[end - 1]))
            end--;
        st = encode_segment(t, s + seg, end - seg, seg == 0, ids, cap);
        if (st == NA_OK && !na__ids_push(ids, cap, a->id))
            st = na__fail(NA_ERR_NO_MEMORY, WHO ": out of memory");
        i += a->len;
        while (a->rstrip && i < n && is_space(s[i]))
            i++;
        seg = i;
    }
    if (st == NA_OK)
        st = encode_segment(t, s + seg, n - seg, seg == 0, ids, cap);
    return st;
}

/* Wrap ids in the post-processor's template (single-sequence form). */
static na_status apply_template(const na_tokenizer *t, na_token_list *ids)
{
    size_t total = 0;
    for (size_t k = 0; k < t->n_tmpl; k++)
        total += t->tmpl[k].ids ? t->tmpl[k].count : ids->count;
    int32_t *v = malloc((total ? total : 1) * sizeof *v);
    if (!v)
        return na__fail(NA_ERR_NO_MEMORY, WHO ": out of memory");
    size_t at = 0;
    for (size_t k = 0; k < t->n_tmpl; k++) {
        const int32_t *src = t->tmpl[k].ids ? t->tmpl[k].ids : ids->ids;
        size_t cnt = t->tmpl[k].ids ? t->tmpl[k].count : ids->count;
        if (cnt)
            memcpy(v + at, src, cnt * sizeof *v);
        at += cnt;
    }
    free(ids->ids);
    ids->ids = v;
    ids->count = total;
    return NA_OK;
}

na_status na_tokenizer_encode(const na_tokenizer *tok, const char *text, size_t len,
                              unsigned flags, na_token_list *out)
{
    if (!tok || (!text && len) || !out)
        return na__fail(NA_ERR_ARGUMENT, WHO ": NULL argument");
    na_token_list ids = {NULL, 0};
    size_t cap = 0;
    na_status st = encode_text(tok, text ? text : "", len, &ids, &cap);
    if (st == NA_OK && (flags & NA_TOKENIZE_ADD_SPECIAL) && tok->has_tmpl)
        st = apply_template(tok, &ids);
    if (st != NA_OK) {
        free(ids.ids);
        return st;
    }
    *out = ids;
    return NA_OK;
}
