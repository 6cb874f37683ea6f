/* Internals of the tokenizer.json reader (src/models/tokenizer_*.c). */
#ifndef NAMEDARR_TOKENIZER_INTERNAL_H
#define NAMEDARR_TOKENIZER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/internal.h"
#include "namedarr/tokenizer.h"

#define NA__TOK_LOAD "na_tokenizer_load"

/* ---- growable byte buffer and a list of byte strings (tokenizer_table.c) */
typedef struct na__buf {
    char *p;
    size_t len, cap;
} na__buf;

bool na__buf_add(na__buf *b, const void *bytes, size_t n);  /* false: OOM */
void na__buf_free(na__buf *b);

/* Pieces of text: piece i is text.p[start[i] .. start[i] + len[i]). */
typedef struct na__pieces {
    na__buf text;
    size_t *start, *len;
    size_t count, cap;
} na__pieces;

bool na__pieces_add(na__pieces *ps, const void *bytes, size_t n);
void na__pieces_free(na__pieces *ps);
#define NA__PIECE(ps, i) ((ps)->text.p + (ps)->start[i])

/* ---- hash tables (tokenizer_table.c) ---------------------------------- */
/* byte string -> int32 (the vocabulary) */
typedef struct na__strmap {
    struct na__strmap_slot {
        char *key; /* NULL: empty */
        uint32_t len;
        int32_t val;
    } *slots;
    size_t cap, count;
} na__strmap;

bool na__strmap_put(na__strmap *m, const char *key, size_t len, int32_t val);
/* -1 if absent */
int32_t na__strmap_get(const na__strmap *m, const char *key, size_t len);
void na__strmap_free(na__strmap *m);

/* (left id, right id) -> (rank, merged id): the BPE merges */
typedef struct na__pairmap {
    struct na__pair_slot {
        uint64_t key; /* UINT64_MAX: empty */
        int32_t rank, merged;
    } *slots;
    size_t cap, count;
} na__pairmap;

bool na__pairmap_put(na__pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t merged);
/* false if absent */
bool na__pairmap_get(const na__pairmap *m, int32_t a, int32_t b, int32_t *rank,
                     int32_t *merged);
void na__pairmap_free(na__pairmap *m);

/* ---- UTF-8 and the GPT-2 byte-to-unicode map (tokenizer_table.c) ------- */
/* Length of the UTF-8 sequence at s (1..4), or 1 for an invalid byte. */
size_t na__utf8_len(const unsigned char *s, size_t avail);
/* The code point of byte b in the byte-level alphabet. */
uint32_t na__byte_to_unicode(unsigned char b);
/* The byte for a code point of that alphabet, or -1. */
int na__unicode_to_byte(uint32_t cp);
/* Append the UTF-8 encoding of cp. */
bool na__buf_add_cp(na__buf *b, uint32_t cp);
/* Decode the valid UTF-8 sequence at s of length n (from na__utf8_len). */
uint32_t na__utf8_decode(const unsigned char *s, size_t n);

/* ---- pipeline steps ----------------------------------------------------- */
typedef enum { NA__NORM_PREPEND, NA__NORM_REPLACE } na__norm_kind;

typedef struct na__normalizer {
    na__norm_kind kind;
    char *from, *to; /* prepend: `to`; replace: `from` -> `to` */
} na__normalizer;

typedef enum {
    NA__SPLIT_REMOVED,
    NA__SPLIT_ISOLATED,
    NA__SPLIT_MERGED_PREV,
    NA__SPLIT_MERGED_NEXT,
    NA__SPLIT_CONTIGUOUS
} na__split_behavior;

typedef enum {
    NA__PRE_SPLIT,      /* regex or literal, a behavior, invert           */
    NA__PRE_BYTELEVEL,  /* optional GPT-2 regex, then the byte alphabet   */
    NA__PRE_METASPACE   /* ' ' -> replacement, prefix, split               */
} na__pre_kind;

typedef enum { NA__PREPEND_ALWAYS, NA__PREPEND_FIRST, NA__PREPEND_NEVER } na__prepend;

typedef struct na__pretok {
    na__pre_kind kind;
    pcre2_code *re;              /* SPLIT, BYTELEVEL with use_regex       */
    na__split_behavior behavior;
    bool invert;
    bool add_prefix_space;       /* BYTELEVEL                              */
    char *replacement;           /* METASPACE                              */
    na__prepend prepend;         /* METASPACE                              */
    bool split;                  /* METASPACE                              */
} na__pretok;

typedef enum {
    NA__DEC_BYTELEVEL,
    NA__DEC_REPLACE,
    NA__DEC_BYTEFALLBACK,
    NA__DEC_FUSE,
    NA__DEC_STRIP,
    NA__DEC_METASPACE
} na__dec_kind;

typedef struct na__decoder {
    na__dec_kind kind;
    char *from, *to;   /* REPLACE; METASPACE: from = replacement          */
    int start, stop;   /* STRIP: how many `from` characters to drop       */
    na__prepend prepend;
} na__decoder;

/* One item of the post-processor's template: a special token's ids, or the
 * encoded sequence itself (ids == NULL). */
typedef struct na__tmpl_item {
    int32_t *ids;
    size_t count;
} na__tmpl_item;

typedef struct na__added {
    char *content;
    size_t len;
    int32_t id;
    bool special, lstrip, rstrip;
} na__added;

typedef enum { NA__MODEL_BPE, NA__MODEL_WORDLEVEL } na__model_kind;

struct na_tokenizer {
    na__model_kind model;
    na__strmap vocab;          /* model vocabulary and added tokens        */
    char **tokens;             /* id -> token (NULL: unused id)            */
    size_t *token_len;
    uint8_t *special;          /* id -> 1 if an added special token        */
    int32_t n_ids;
    na__pairmap merges;
    int32_t unk_id;            /* -1: none                                 */
    bool byte_fallback, fuse_unk, ignore_merges;
    int32_t byte_ids[256];     /* <0xNN> ids, -1 if absent                 */
    na__added *added;
    size_t n_added;
    na__normalizer *norms;
    size_t n_norms;
    na__pretok *pretoks;
    size_t n_pretoks;
    na__decoder *decoders;
    size_t n_decoders;
    bool has_decoder;          /* false: join tokens with ' ' (as HF)      */
    na__tmpl_item *tmpl;
    size_t n_tmpl;
    bool has_tmpl;
};

/* tokenizer_config.c: parse the pipeline sections (cJSON nodes). */
struct cJSON;
na_status na__tok_parse_normalizer(na_tokenizer *t, const struct cJSON *node);
na_status na__tok_parse_pretok(na_tokenizer *t, const struct cJSON *node);
na_status na__tok_parse_decoder(na_tokenizer *t, const struct cJSON *node);
na_status na__tok_parse_postproc(na_tokenizer *t, const struct cJSON *node);
/* The JSON string field `key` of node, or NULL. */
const char *na__json_str(const struct cJSON *node, const char *key);
bool na__json_bool(const struct cJSON *node, const char *key, bool dflt);
/* Compile a regex with UTF, Unicode properties and invalid-UTF matching. */
na_status na__tok_regex(const char *pattern, bool literal, pcre2_code **out);

/* tokenizer_split.c: normalizers and pre-tokenizers on one text segment. */
na_status na__tok_normalize(const na_tokenizer *t, const char *s, size_t n, na__buf *out);
na_status na__tok_pretokenize(const na_tokenizer *t, const char *s, size_t n, bool first,
                              na__pieces *out);

/* tokenizer_bpe.c: the model on one pre-tokenized word; appends ids. */
na_status na__tok_model(const na_tokenizer *t, const char *word, size_t n, na_token_list *ids,
                        size_t *cap);
bool na__ids_push(na_token_list *ids, size_t *cap, int32_t id);

#endif
