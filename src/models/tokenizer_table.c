/* Small containers for the tokenizer: byte buffers, piece lists, the
 * vocabulary and merge hash tables, UTF-8 and the byte-level alphabet. */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "models/tokenizer_internal.h"

/* ---- buffers ----------------------------------------------------------- */
bool na__buf_add(na__buf *b, const void *bytes, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return false;
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, bytes, n);
    b->len += n;
    b->p[b->len] = '\0';
    return true;
}

void na__buf_free(na__buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

bool na__pieces_add(na__pieces *ps, const void *bytes, size_t n)
{
    if (ps->count == ps->cap) {
        size_t cap = ps->cap ? 2 * ps->cap : 16;
        size_t *st = realloc(ps->start, cap * sizeof *st);
        if (!st)
            return false;
        ps->start = st;
        size_t *ln = realloc(ps->len, cap * sizeof *ln);
        if (!ln)
            return false;
        ps->len = ln;
        ps->cap = cap;
    }
    size_t at = ps->text.len;
    if (!na__buf_add(&ps->text, bytes, n))
        return false;
    ps->start[ps->count] = at;
    ps->len[ps->count] = n;
    ps->count++;
    return true;
}

void na__pieces_free(na__pieces *ps)
{
    na__buf_free(&ps->text);
    free(ps->start);
    free(ps->len);
    memset(ps, 0, sizeof *ps);
}

/* ---- string -> id ------------------------------------------------------ */
static bool strmap_grow(na__strmap *m)
{
    size_t cap = m->cap ? 2 * m->cap : 64;
    struct na__strmap_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return false;
    for (size_t i = 0; i < m->cap; i++) {
        struct na__strmap_slot *s = &m->slots[i];
        if (!s->key)
            continue;
        size_t j = XXH3_64bits(s->key, s->len) & (cap - 1);
        while (slots[j].key)
            j = (j + 1) & (cap - 1);
        slots[j] = *s;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return true;
}

static struct na__strmap_slot *strmap_find(const na__strmap *m, const char *key, size_t len)
{
    if (!m->cap)
        return NULL;
    size_t j = XXH3_64bits(key, len) & (m->cap - 1);
    while (m->slots[j].key) {
        struct na__strmap_slot *s = &m->slots[j];
        if (s->len == len && memcmp(s->key, key, len) == 0)
            return s;
        j = (j + 1) & (m->cap - 1);
    }
    return &m->slots[j];
}

bool na__strmap_put(na__strmap *m, const char *key, size_t len, int32_t val)
{
    if (2 * (m->count + 1) > m->cap && !strmap_grow(m))
        return false;
    struct na__strmap_slot *s = strmap_find(m, key, len);
    if (s->key) {
        s->val = val;
        return true;
    }
    char *k = malloc(len + 1);
    if (!k)
        return false;
    memcpy(k, key, len);
    k[len] = '\0';
    s->key = k;
    s->len = (uint32_t)len;
    s->val = val;
    m->count++;
    return true;
}

int32_t na__strmap_get(const na__strmap *m, const char *key, size_t len)
{
    struct na__strmap_slot *s = strmap_find(m, key, len);
    return s && s->key ? s->val : -1;
}

void na__strmap_free(na__strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* ---- (id, id) -> merge ------------------------------------------------- */
static size_t pair_hash(uint64_t key, size_t cap)
{
    return (size_t)(XXH3_64bits(&key, sizeof key) & (cap - 1));
}

static bool pairmap_grow(na__pairmap *m)
{
    size_t cap = m->cap ? 2 * m->cap : 64;
    struct na__pair_slot *slots = malloc(cap * sizeof *slots);
    if (!slots)
        return false;
    for (size_t i = 0; i < cap; i++)
        slots[i].key = UINT64_MAX;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key == UINT64_MAX)
            continue;
        size_t j = pair_hash(m->slots[i].key, cap);
        while (slots[j].key != UINT64_MAX)
            j = (j + 1) & (cap - 1);
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return true;
}

static struct na__pair_slot *pair_find(const na__pairmap *m, uint64_t key)
{
    size_t j = pair_hash(key, m->cap);
    while (m->slots[j].key != UINT64_MAX && m->slots[j].key != key)
        j = (j + 1) & (m->cap - 1);
    return &m->slots[j];
}

static uint64_t pair_key(int32_t a, int32_t b)
{
    return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
}

bool na__pairmap_put(na__pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t merged)
{
    if (2 * (m->count + 1) > m->cap && !pairmap_grow(m))
        return false;
    struct na__pair_slot *s = pair_find(m, pair_key(a, b));
    if (s->key == UINT64_MAX)
        m->count++;
    else if (s->rank <= rank)
        return true; /* a repeated merge keeps its first (lowest) rank */
    s->key = pair_key(a, b);
    s->rank = rank;
    s->merged = merged;
    return true;
}

bool na__pairmap_get(const na__pairmap *m, int32_t a, int32_t b, int32_t *rank,
                     int32_t *merged)
{
    if (!m->cap)
        return false;
    struct na__pair_slot *s = pair_find(m, pair_key(a, b));
    if (s->key == UINT64_MAX)
        return false;
    *rank = s->rank;
    *merged = s->merged;
    return true;
}

void na__pairmap_free(na__pairmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* ---- UTF-8 ------------------------------------------------------------- */
size_t na__utf8_len(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, min = 0x10000;
    else
        return 1;
    if (n > avail)
        return 1;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 1;
    uint32_t cp = na__utf8_decode(s, n);
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 1;
    return n;
}

uint32_t na__utf8_decode(const unsigned char *s, size_t n)
{
    if (n == 1)
        return s[0];
    uint32_t cp = s[0] & (0x7F >> n);
    for (size_t i = 1; i < n; i++)
        cp = (cp << 6) | (s[i] & 0x3F);
    return cp;
}

bool na__buf_add_cp(na__buf *b, uint32_t cp)
{
    unsigned char u[4];
    size_t n;
    if (cp < 0x80)
        u[0] = (unsigned char)cp, n = 1;
    else if (cp < 0x800)
        u[0] = (unsigned char)(0xC0 | (cp >> 6)), u[1] = (unsigned char)(0x80 | (cp & 0x3F)), n = 2;
    else if (cp < 0x10000)
        u[0] = (unsigned char)(0xE0 | (cp >> 12)), u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)),
        u[2] = (unsigned char)(0x80 | (cp & 0x3F)), n = 3;
    else
        u[0] = (unsigned char)(0xF0 | (cp >> 18)), u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F)),
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (unsigned char)(0x80 | (cp & 0x3F)),
        n = 4;
    return na__buf_add(b, u, n);
}

/* ---- the byte-level alphabet --------------------------------------------
 * Printable Latin-1 bytes ('!'..'~', 0xA1..0xAC, 0xAE..0xFF) stand for
 * themselves; the other 68 bytes take code points 256, 257, ... in byte
 * order, so every byte is a visible character (space is U+0120 'Ġ'). */
static bool byte_is_self(unsigned b)
{
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
}

uint32_t na__byte_to_unicode(unsigned char b)
{
    if (byte_is_self(b))
        return b;
    uint32_t n = 0;
    for (unsigned i = 0; i < b; i++)
        n += !byte_is_self(i);
    return 256 + n;
}

int na__unicode_to_byte(uint32_t cp)
{
    if (cp < 256)
        return byte_is_self(cp) ? (int)cp : -1;
    uint32_t n = 256;
    for (unsigned b = 0; b < 256; b++) {
        if (byte_is_self(b))
            continue;
        if (n == cp)
            return (int)b;
        n++;
    }
    return -1;
}
