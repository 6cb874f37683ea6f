/* Encoding, second half: the model turns one pre-tokenized word into ids.
 * BPE starts from the word's characters (a byte that is not UTF-8 is a
 * character of its own), falls back to <0xNN> byte tokens or unk_token for
 * characters outside the vocabulary, then applies merges lowest rank first
 * (leftmost first among equal ranks) with a heap, so a long word (a whole
 * sentence without a pre-tokenizer, as in Llama 2) costs n log n. */
#include <stdlib.h>
#include <string.h>

#include "models/tokenizer_internal.h"

#define WHO "na_tokenizer_encode"

bool na__ids_push(na_token_list *ids, size_t *cap, int32_t id)
{
    if (ids->count == *cap) {
        size_t c = *cap ? 2 * *cap : 32;
        int32_t *v = realloc(ids->ids, c * sizeof *v);
        if (!v)
            return false;
        ids->ids = v, *cap = c;
    }
    ids->ids[ids->count++] = id;
    return true;
}

typedef struct sym {
    int32_t id;
    int prev, next; /* -1: none; a merged-away symbol has id -1 */
} sym;

typedef struct cand {
    int32_t rank;
    int pos;
    int32_t left, right, merged;
} cand;

typedef struct heap {
    cand *v;
    size_t count, cap;
} heap;

static bool cand_less(const cand *a, const cand *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static bool heap_push(heap *h, cand c)
{
    if (h->count == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 32;
        cand *v = realloc(h->v, cap * sizeof *v);
        if (!v)
            return false;
        h->v = v, h->cap = cap;
    }
    size_t i = h->count++;
    while (i > 0 && cand_less(&c, &h->v[(i - 1) / 2])) {
        h->v[i] = h->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->v[i] = c;
    return true;
}

static cand heap_pop(heap *h)
{
    cand top = h->v[0], last = h->v[--h->count];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->count)
            break;
        if (c + 1 < h->count && cand_less(&h->v[c + 1], &h->v[c]))
            c++;
        if (!cand_less(&h->v[c], &last))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->count)
        h->v[i] = last;
    return top;
}

/* Queue the merge of symbol `pos` with its right neighbour, if any. */
static bool offer(const na_tokenizer *t, const sym *s, int pos, heap *h)
{
    int nx = s[pos].next;
    int32_t rank, merged;
    if (nx < 0 || !na__pairmap_get(&t->merges, s[pos].id, s[nx].id, &rank, &merged))
        return true;
    return heap_push(h, (cand){rank, pos, s[pos].id, s[nx].id, merged});
}

/* The initial symbols: one per character, or its byte tokens, or unk. */
static bool initial_symbols(const na_tokenizer *t, const char *w, size_t n, sym *s, int *count)
{
    int k = 0;
    for (size_t i = 0; i < n;) {
        size_t cl = na__utf8_len((const unsigned char *)w + i, n - i);
        int32_t id = na__strmap_get(&t->vocab, w + i, cl);
        bool bytes_ok = t->byte_fallback;
        for (size_t b = 0; id < 0 && bytes_ok && b < cl; b++)
            bytes_ok = t->byte_ids[(unsigned char)w[i + b]] >= 0;
        if (id >= 0) {
            s[k++].id = id;
        } else if (t->byte_fallback && bytes_ok) {
            for (size_t b = 0; b < cl; b++)
                s[k++].id = t->byte_ids[(unsigned char)w[i + b]];
        } else if (t->unk_id >= 0 && !(t->fuse_unk && k > 0 && s[k - 1].id == t->unk_id)) {
            s[k++].id = t->unk_id;
        } /* else: no unk token — the character is dropped, as `tokenizers` does */
        i += cl;
    }
    for (int i = 0; i < k; i++)
        s[i].prev = i - 1, s[i].next = i + 1 < k ? i + 1 : -1;
    *count = k;
    return true;
}

static na_status bpe_word(const na_tokenizer *t, const char *w, size_t n, na_token_list *ids,
                          size_t *cap)
{
    int32_t whole = t->ignore_merges ? na__strmap_get(&t->vocab, w, n) : -1;
    if (whole >= 0)
        return na__ids_push(ids, cap, whole) ? NA_OK : na__fail(NA_ERR_NO_MEMORY, WHO ": out of memory");
    sym *s = malloc((n ? n : 1) * sizeof *s);
    heap h = {0};
    int count = 0;
    bool ok = s && initial_symbols(t, w, n, s, &count);
    for (int i = 0; ok && i < count; i++)
        ok = offer(t, s, i, &h);
    while (ok && h.count) {
        cand c = heap_pop(&h);
        int nx = s[c.pos].next;
        if (s[c.pos].id != c.left || nx < 0 || s[nx].id != c.right)
            continue; /* stale: one side has merged since */
        s[c.pos].id = c.merged;
        s[c.pos].next = s[nx].next;
        if (s[nx].next >= 0)
            s[s[nx].next].prev = c.pos;
        s[nx].id = -1;
        ok = (s[c.pos].prev < 0 || offer(t, s, s[c.pos].prev, &h)) && offer(t, s, c.pos, &h);
    }
    for (int i = count ? 0 : -1; ok && i >= 0; i = s[i].next)
        ok = na__ids_push(ids, cap, s[i].id);
    free(s), free(h.v);
    return ok ? NA_OK : na__fail(NA_ERR_NO_MEMORY, WHO ": out of memory");
}

na_status na__tok_model(const na_tokenizer *t, const char *w, size_t n, na_token_list *ids,
                        size_t *cap)
{
    if (n == 0)
        return NA_OK;
    if (t->model == NA__MODEL_BPE)
        return bpe_word(t, w, n, ids, cap);
    int32_t id = na__strmap_get(&t->vocab, w, n);
    if (id < 0)
        id = t->unk_id;
    if (id < 0)
        return na__fail(NA_ERR_NOT_FOUND,
                        WHO ": WordLevel word '%.*s' is not in the vocabulary and there is no "
                            "unk_token",
                        (int)(n > 64 ? 64 : n), w);
    return na__ids_push(ids, cap, id) ? NA_OK : na__fail(NA_ERR_NO_MEMORY, WHO ": out of memory");
}
