/* Encoding, first half: normalizers and pre-tokenizers turn one segment of
 * text (between added tokens) into the words the model sees. Regexes run in
 * PCRE2 with UTF, Unicode properties and invalid-UTF matching, so bytes that
 * are not UTF-8 never match and stay in the gaps (and so in the output). */
#include <stdlib.h>
#include <string.h>

#include "models/tokenizer_internal.h"

#define WHO "na_tokenizer_encode"

static na_status oom(void)
{
    return na__fail(NA_ERR_NO_MEMORY, WHO ": out of memory");
}

/* Replace every `from` in s[0..n) by `to`, into out. */
static bool replace_all(const char *s, size_t n, const char *from, const char *to, na__buf *out)
{
    size_t fl = strlen(from), tl = strlen(to), i = 0;
    while (i < n) {
        if (i + fl <= n && memcmp(s + i, from, fl) == 0) {
            if (!na__buf_add(out, to, tl))
                return false;
            i += fl;
        } else {
            if (!na__buf_add(out, s + i, 1))
                return false;
            i++;
        }
    }
    return na__buf_add(out, "", 0);
}

na_status na__tok_normalize(const na_tokenizer *t, const char *s, size_t n, na__buf *out)
{
    na__buf cur = {0};
    if (!na__buf_add(&cur, s, n))
        return oom();
    for (size_t k = 0; k < t->n_norms; k++) {
        const na__normalizer *nm = &t->norms[k];
        na__buf next = {0};
        bool ok = true;
        if (nm->kind == NA__NORM_PREPEND)
            ok = cur.len == 0 ? na__buf_add(&next, "", 0)
                              : na__buf_add(&next, nm->to, strlen(nm->to)) &&
                                    na__buf_add(&next, cur.p, cur.len);
        else
            ok = replace_all(cur.p, cur.len, nm->from, nm->to, &next);
        na__buf_free(&cur);
        cur = next;
        if (!ok) {
            na__buf_free(&cur);
            return oom();
        }
    }
    *out = cur;
    return NA_OK;
}

/* ---- splitting by a pattern ------------------------------------------- */
typedef struct range {
    size_t start, end;
    bool match;
} range;

typedef struct ranges {
    range *v;
    size_t count, cap;
} ranges;

static bool ranges_push(ranges *r, size_t start, size_t end, bool match)
{
    if (start == end)
        return true;
    if (r->count == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 16;
        range *v = realloc(r->v, cap * sizeof *v);
        if (!v)
            return false;
        r->v = v, r->cap = cap;
    }
    r->v[r->count++] = (range){start, end, match};
    return true;
}

/* Matches of re (or of a literal when re is NULL) and the gaps between. */
static na_status find_ranges(const pcre2_code *re, const char *lit, const char *s, size_t n,
                             bool invert, ranges *out)
{
    pcre2_match_data *md = re ? pcre2_match_data_create_from_pattern(re, NULL) : NULL;
    if (re && !md)
        return oom();
    size_t at = 0, gap = 0, ll = lit ? strlen(lit) : 0;
    bool ok = true;
    while (ok && at < n) {
        size_t ms, me;
        if (re) {
            int rc = pcre2_match(re, (PCRE2_SPTR)s, n, at, 0, md, NULL);
            if (rc < 0)
                break;
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            ms = ov[0], me = ov[1];
        } else {
            const char *hit = ll ? memmem(s + at, n - at, lit, ll) : NULL;
            if (!hit)
                break;
            ms = (size_t)(hit - s), me = ms + ll;
        }
        if (me == ms) { /* an empty match: step over one character */
            at = ms + na__utf8_len((const unsigned char *)s + ms, n - ms);
            continue;
        }
        ok = ranges_push(out, gap, ms, invert) && ranges_push(out, ms, me, !invert);
        gap = at = me;
    }
    ok = ok && ranges_push(out, gap, n, invert);
    pcre2_match_data_free(md);
    return ok ? NA_OK : oom();
}

/* Apply a split behavior to the ranges of one piece (as `tokenizers` does). */
static na_status emit_ranges(const ranges *r, na__split_behavior b, const char *s, na__pieces *out)
{
    bool ok = true;
    for (size_t i = 0; ok && i < r->count; i++) {
        size_t st = r->v[i].start, en = r->v[i].end;
        bool m = r->v[i].match;
        if (b == NA__SPLIT_REMOVED && m)
            continue;
        if (b == NA__SPLIT_MERGED_PREV && !m && i + 1 < r->count && r->v[i + 1].match)
            en = r->v[++i].end; /* the match joins the piece before it */
        else if (b == NA__SPLIT_MERGED_NEXT && m && i + 1 < r->count && !r->v[i + 1].match)
            en = r->v[++i].end; /* the match joins the piece after it */
        else if (b == NA__SPLIT_CONTIGUOUS && m)
            while (i + 1 < r->count && r->v[i + 1].match)
                en = r->v[++i].end;
        ok = na__pieces_add(out, s + st, en - st);
    }
    return ok ? NA_OK : oom();
}

static na_status split_piece(const pcre2_code *re, const char *lit, na__split_behavior b,
                             bool invert, const char *s, size_t n, na__pieces *out)
{
    ranges r = {0};
    na_status st = find_ranges(re, lit, s, n, invert, &r);
    if (st == NA_OK)
        st = emit_ranges(&r, b, s, out);
    free(r.v);
    return st;
}

/* ---- ByteLevel and Metaspace --------------------------------------------- */
static na_status byte_level(const na__pretok *p, const char *s, size_t n, na__pieces *out)
{
    na__buf pre = {0}, mapped = {0};
    na__pieces words = {0};
    na_status st = NA_OK;
    bool ok = (!p->add_prefix_space || (n && s[0] == ' ') || na__buf_add(&pre, " ", 1)) &&
              na__buf_add(&pre, s, n);
    if (ok && p->re)
        st = split_piece(p->re, NULL, NA__SPLIT_ISOLATED, false, pre.p, pre.len, &words);
    else if (ok)
        ok = na__pieces_add(&words, pre.p, pre.len);
    for (size_t i = 0; ok && st == NA_OK && i < words.count; i++) {
        mapped.len = 0;
        const unsigned char *w = (const unsigned char *)NA__PIECE(&words, i);
        for (size_t k = 0; ok && k < words.len[i]; k++)
            ok = na__buf_add_cp(&mapped, na__byte_to_unicode(w[k]));
        ok = ok && na__pieces_add(out, mapped.p, mapped.len);
    }
    na__buf_free(&pre), na__buf_free(&mapped), na__pieces_free(&words);
    return st != NA_OK ? st : ok ? NA_OK : oom();
}

static na_status metaspace(const na__pretok *p, const char *s, size_t n, bool first,
                           na__pieces *out)
{
    na__buf rep = {0}, cur = {0};
    size_t rl = strlen(p->replacement);
    bool ok = replace_all(s, n, " ", p->replacement, &rep);
    bool starts = ok && rep.len >= rl && memcmp(rep.p, p->replacement, rl) == 0;
    bool prefix = p->prepend == NA__PREPEND_ALWAYS || (p->prepend == NA__PREPEND_FIRST && first);
    if (ok && prefix && !starts)
        ok = na__buf_add(&cur, p->replacement, rl);
    ok = ok && na__buf_add(&cur, rep.p, rep.len);
    na_status st = !ok                ? oom()
                   : p->split         ? split_piece(NULL, p->replacement, NA__SPLIT_MERGED_NEXT,
                                                    false, cur.p, cur.len, out)
                   : na__pieces_add(out, cur.p, cur.len) ? NA_OK
                                                         : oom();
    na__buf_free(&rep), na__buf_free(&cur);
    return st;
}

static na_status pretok_piece(const na__pretok *p, const char *s, size_t n, bool first,
                              na__pieces *out)
{
    switch (p->kind) {
    case NA__PRE_SPLIT:
        return split_piece(p->re, NULL, p->behavior, p->invert, s, n, out);
    case NA__PRE_BYTELEVEL:
        return byte_level(p, s, n, out);
    case NA__PRE_METASPACE:
        return metaspace(p, s, n, first, out);
    }
    return na__fail(NA_ERR_STATE, WHO ": unknown pre-tokenizer");
}

na_status na__tok_pretokenize(const na_tokenizer *t, const char *s, size_t n, bool first,
                              na__pieces *out)
{
    na__pieces cur = {0};
    if (!na__pieces_add(&cur, s, n))
        return oom();
    for (size_t k = 0; k < t->n_pretoks; k++) {
        na__pieces next = {0};
        na_status st = NA_OK;
        for (size_t i = 0; st == NA_OK && i < cur.count; i++)
            st = pretok_piece(&t->pretoks[k], NA__PIECE(&cur, i), cur.len[i], first && i == 0,
                              &next);
        na__pieces_free(&cur);
        cur = next;
        if (st != NA_OK) {
            na__pieces_free(&cur);
            return st;
        }
    }
    *out = cur;
    return NA_OK;
}
