/* na_tokenizer_decode: ids -> token strings -> the decoder chain -> bytes.
 * Each decoder maps a list of strings to a list of strings, as in the
 * `tokenizers` library; without a decoder the tokens are joined by spaces
 * (its rule too). Bytes that are not valid UTF-8 are returned as they are. */
#include <stdlib.h>
#include <string.h>

#include "models/tokenizer_internal.h"

#define WHO "na_tokenizer_decode"

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* "<0xNN>" -> NN, else -1 */
static int byte_token(const char *s, size_t n)
{
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
        return -1;
    int hi = hexval(s[3]), lo = hexval(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

static bool byte_fallback(const na__pieces *in, na__pieces *out)
{
    na__buf run = {0};
    bool ok = true;
    for (size_t i = 0; ok && i < in->count; i++) {
        int b = byte_token(NA__PIECE(in, i), in->len[i]);
        if (b >= 0) {
            unsigned char c = (unsigned char)b;
            ok = na__buf_add(&run, &c, 1);
            continue;
        }
        if (run.len)
            ok = na__pieces_add(out, run.p, run.len), run.len = 0;
        ok = ok && na__pieces_add(out, NA__PIECE(in, i), in->len[i]);
    }
    if (ok && run.len)
        ok = na__pieces_add(out, run.p, run.len);
    na__buf_free(&run);
    return ok;
}

/* All pieces joined; each character of the byte-level alphabet becomes its
 * byte (others keep their own bytes). */
static bool byte_level(const na__pieces *in, na__pieces *out)
{
    const unsigned char *s = (const unsigned char *)in->text.p;
    size_t n = in->text.len; /* pieces are stored back to back */
    na__buf b = {0};
    bool ok = na__buf_add(&b, "", 0);
    for (size_t i = 0; ok && i < n;) {
        size_t cl = na__utf8_len(s + i, n - i);
        int byte = cl > 1 || s[i] < 0x80 ? na__unicode_to_byte(na__utf8_decode(s + i, cl)) : -1;
        unsigned char c = (unsigned char)byte;
        ok = byte >= 0 ? na__buf_add(&b, &c, 1) : na__buf_add(&b, s + i, cl);
        i += cl;
    }
    ok = ok && na__pieces_add(out, b.p, b.len);
    na__buf_free(&b);
    return ok;
}

/* Replace `from` by `to` in each piece; `drop_all` removes it instead. */
static bool replace_each(const na__pieces *in, const char *from, const char *to, bool drop_first,
                         na__pieces *out)
{
    size_t fl = strlen(from), tl = strlen(to);
    na__buf b = {0};
    bool ok = true;
    for (size_t i = 0; ok && i < in->count; i++) {
        const char *s = NA__PIECE(in, i);
        size_t n = in->len[i];
        b.len = 0;
        ok = na__buf_add(&b, "", 0);
        for (size_t k = 0; ok && k < n;) {
            if (k + fl <= n && memcmp(s + k, from, fl) == 0) {
                ok = (drop_first && i == 0) || na__buf_add(&b, to, tl);
                k += fl;
            } else {
                ok = na__buf_add(&b, s + k++, 1);
            }
        }
        ok = ok && na__pieces_add(out, b.p, b.len);
    }
    na__buf_free(&b);
    return ok;
}

static bool strip_each(const na__pieces *in, const char *c, int start, int stop, na__pieces *out)
{
    size_t cl = strlen(c);
    bool ok = true;
    for (size_t i = 0; ok && i < in->count; i++) {
        const char *s = NA__PIECE(in, i);
        size_t a = 0, e = in->len[i];
        for (int k = 0; cl && k < start && a + cl <= e && memcmp(s + a, c, cl) == 0; k++)
            a += cl;
        for (int k = 0; cl && k < stop && e >= a + cl && memcmp(s + e - cl, c, cl) == 0; k++)
            e -= cl;
        ok = na__pieces_add(out, s + a, e - a);
    }
    return ok;
}

static bool apply_decoder(const na__decoder *d, const na__pieces *in, na__pieces *out)
{
    switch (d->kind) {
    case NA__DEC_BYTELEVEL:
        return byte_level(in, out);
    case NA__DEC_BYTEFALLBACK:
        return byte_fallback(in, out);
    case NA__DEC_FUSE:
        return na__pieces_add(out, in->text.p ? in->text.p : "", in->text.len);
    case NA__DEC_REPLACE:
        return replace_each(in, d->from, d->to, false, out);
    case NA__DEC_STRIP:
        return strip_each(in, d->from, d->start, d->stop, out);
    case NA__DEC_METASPACE: /* as `tokenizers`: the first token loses every marker */
        return replace_each(in, d->from, " ", d->prepend != NA__PREPEND_NEVER, out);
    }
    return false;
}

/* The token strings of ids (special ones skipped on request). */
static na_status id_pieces(const na_tokenizer *t, const int32_t *ids, size_t count, unsigned flags,
                           na__pieces *out)
{
    for (size_t i = 0; i < count; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->n_ids || !t->tokens[id])
            return na__fail(NA_ERR_INDEX, WHO ": id %d at position %zu is not in the vocabulary "
                                          "(size %d)",
                            (int)id, i, (int)t->n_ids);
        if ((flags & NA_DETOKENIZE_SKIP_SPECIAL) && t->special[id])
            continue;
        if (!na__pieces_add(out, t->tokens[id], t->token_len[id]))
            return na__fail(NA_ERR_NO_MEMORY, WHO ": out of memory");
    }
    return NA_OK;
}

static na_status join(const na__pieces *ps, const char *sep, na_text *out)
{
    na__buf b = {0};
    bool ok = na__buf_add(&b, "", 0);
    for (size_t i = 0; ok && i < ps->count; i++)
        ok = (i == 0 || na__buf_add(&b, sep, strlen(sep))) &&
             na__buf_add(&b, NA__PIECE(ps, i), ps->len[i]);
    if (!ok) {
        na__buf_free(&b);
        return na__fail(NA_ERR_NO_MEMORY, WHO ": out of memory");
    }
    out->bytes = b.p;
    out->len = b.len;
    return NA_OK;
}

na_status na_tokenizer_decode(const na_tokenizer *tok, const int32_t *ids, size_t count,
                              unsigned flags, na_text *out)
{
    if (!tok || (!ids && count) || !out)
        return na__fail(NA_ERR_ARGUMENT, WHO ": NULL argument");
    na__pieces cur = {0};
    na_status st = id_pieces(tok, ids, count, flags, &cur);
    for (size_t k = 0; st == NA_OK && k < tok->n_decoders; k++) {
        na__pieces next = {0};
        if (!apply_decoder(&tok->decoders[k], &cur, &next))
            st = na__fail(NA_ERR_NO_MEMORY, WHO ": out of memory");
        na__pieces_free(&cur);
        cur = next;
    }
    if (st == NA_OK)
        st = join(&cur, tok->has_decoder ? "" : " ", out);
    na__pieces_free(&cur);
    return st;
}

/* Every id decoded alone, packed into one allocation: the pointers, a NULL,
 * then the strings. */
na_status na_tokenizer_decode_each(const na_tokenizer *tok, const int32_t *ids, size_t count,
                                   unsigned flags, char ***out)
{
    if (!tok || (!ids && count) || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_tokenizer_decode_each: NULL argument");
    na_text *texts = calloc(count ? count : 1, sizeof *texts);
    if (!texts)
        return na__fail(NA_ERR_NO_MEMORY, "na_tokenizer_decode_each: out of memory");
    size_t bytes = (count + 1) * sizeof(char *);
    na_status st = NA_OK;
    for (size_t i = 0; i < count && st == NA_OK; i++) {
        st = na_tokenizer_decode(tok, &ids[i], 1, flags, &texts[i]);
        if (st == NA_ERR_INDEX)
            st = na__fail(st, "na_tokenizer_decode_each: id %d at position %zu is not in "
                          "the vocabulary (size %d)", (int)ids[i], i, (int)tok->n_ids);
        else if (st != NA_OK)
            st = na__fail_in("na_tokenizer_decode_each", st);
        bytes += texts[i].len + 1;
    }
    char **list = st == NA_OK ? malloc(bytes) : NULL;
    if (st == NA_OK && !list)
        st = na__fail(NA_ERR_NO_MEMORY, "na_tokenizer_decode_each: out of memory");
    if (st == NA_OK) {
        char *at = (char *)(list + count + 1);
        for (size_t i = 0; i < count; i++) {
            list[i] = at;
            memcpy(at, texts[i].bytes, texts[i].len);
            at[texts[i].len] = '\0';
            at += texts[i].len + 1;
        }
        list[count] = NULL;
        *out = list;
    }
    for (size_t i = 0; i < count; i++)
        na_text_free(&texts[i]);
    free(texts);
    return st;
}
