/* namedarr/tokenizer.h — text <-> token ids from a Hugging Face tokenizer.json.
 *
 * Reads the `tokenizers` library's JSON format and reproduces its encode and
 * decode for the tokenizers that causal language models ship with:
 *
 *   - byte-level BPE (GPT-2, Llama 3, ...): the ByteLevel pre-tokenizer or a
 *     Split regex (run by PCRE2 with UTF and Unicode properties), the
 *     byte-to-unicode map, merges applied by rank;
 *   - SentencePiece-style BPE (Llama 2, Gemma, ...): "▁" for spaces (Prepend
 *     and Replace normalizers or the Metaspace pre-tokenizer), <0xNN> byte
 *     tokens for characters outside the vocabulary (byte_fallback);
 *   - WordLevel (one id per pre-tokenized word, unk_token otherwise);
 *   - added and special tokens (matched in the input text first, as the
 *     `tokenizers` library does) and the TemplateProcessing post-processor
 *     (a BOS token in front, say).
 *
 *   na_tokenizer *tok = NULL;
 *   na_token_list ids = {0};
 *   na_text text = {0};
 *   if (na_tokenizer_load("models/adder/tokenizer.json", &tok) != NA_OK ||
 *       na_tokenizer_encode(tok, "321+540=", 8, NA_TOKENIZE_ADD_SPECIAL, &ids) != NA_OK ||
 *       na_tokenizer_decode(tok, ids.ids, ids.count, NA_DETOKENIZE_SKIP_SPECIAL, &text) != NA_OK)
 *       fprintf(stderr, "%s\n", na_last_error());
 *   // ids.ids = {1, 6, 5, 4, 13, 8, 7, 3, 14}: <s> 3 2 1 + 5 4 0 =
 *   // (the demo model writes 123 + 45 least significant digit first)
 *   // text.bytes = "321+540="
 *   na_token_list_free(&ids);
 *   na_text_free(&text);
 *   na_tokenizer_free(tok);
 *
 * Round trip: any byte string, valid UTF-8 or not (emoji, combining marks,
 * stray continuation bytes), decodes back to the same bytes with byte-level
 * BPE, and with byte_fallback BPE up to the normalizer's own changes (the
 * leading "▁"). Where `tokenizers` would turn undecodable bytes into U+FFFD,
 * namedarr returns the bytes themselves.
 *
 * Unsupported parts of a tokenizer.json (a Unigram or WordPiece model, an NFC
 * or Lowercase normalizer, ...) make the load fail with NA_ERR_UNSUPPORTED and
 * a message naming the part, never a silently different tokenization. Not
 * implemented: added tokens' single_word and normalized flags (tokens are
 * matched in the raw text), BPE dropout, continuing_subword_prefix.
 *
 * Ownership: the tokenizer is immutable after loading and may be shared by
 * threads; lists and texts belong to the caller (free them with
 * na_token_list_free / na_text_free).
 */
#ifndef NAMEDARR_TOKENIZER_H
#define NAMEDARR_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "namedarr/status.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default) /* the na_ API; the rest is hidden */

typedef struct na_tokenizer na_tokenizer;

/* Token ids; `ids` is malloc'ed (NULL when count is 0). */
typedef struct na_token_list {
    int32_t *ids;
    size_t count;
} na_token_list;

/* Bytes, NUL-terminated for convenience (they may also contain NULs). */
typedef struct na_text {
    char *bytes;
    size_t len;
} na_text;

enum {
    /* Apply the post-processor (e.g. prepend <s>). */
    NA_TOKENIZE_ADD_SPECIAL = 1u << 0,
};

enum {
    /* Leave out tokens marked special (<s>, </s>, <|eot_id|>, ...). */
    NA_DETOKENIZE_SKIP_SPECIAL = 1u << 0,
};

/* Load a tokenizer.json file. NA_ERR_IO if it cannot be read,
 * NA_ERR_FORMAT if it is malformed, NA_ERR_UNSUPPORTED for a model,
 * normalizer, pre-tokenizer, post-processor or decoder type not listed
 * above. */
na_status na_tokenizer_load(const char *path, na_tokenizer **out);

/* The same from JSON text in memory (`len` bytes). */
na_status na_tokenizer_from_json(const char *json, size_t len, na_tokenizer **out);

void na_tokenizer_free(na_tokenizer *tok);

/* Encode `len` bytes of `text` (any bytes). `flags`: NA_TOKENIZE_*. */
na_status na_tokenizer_encode(const na_tokenizer *tok, const char *text, size_t len,
                              unsigned flags, na_token_list *out);

/* Decode ids back to bytes. An id outside the vocabulary is NA_ERR_INDEX.
 * `flags`: NA_DETOKENIZE_*. */
na_status na_tokenizer_decode(const na_tokenizer *tok, const int32_t *ids, size_t count,
                              unsigned flags, na_text *out);

/* Each id decoded on its own: what each token shows as, e.g. to label the
 * axes of attention heatmaps ("<s>", "3", "+", " the"). `*out` gets
 * `count` strings and a NULL after them, in one allocation: free(*out)
 * releases all. `flags`: NA_DETOKENIZE_* (a skipped special token gives
 * ""). Bytes are kept as decoded, so a piece of a multi-byte character is
 * not well-formed UTF-8 on its own (the HTML view replaces such bytes). An
 * id outside the vocabulary is NA_ERR_INDEX. */
na_status na_tokenizer_decode_each(const na_tokenizer *tok, const int32_t *ids, size_t count,
                                   unsigned flags, char ***out);

/* Number of ids (1 + the largest id of the model and the added tokens). */
int32_t na_tokenizer_vocab_size(const na_tokenizer *tok);

/* The id of a token string ("<s>", "</s>", "Ġthe"); NA_ERR_NOT_FOUND if
 * the vocabulary lacks it. */
na_status na_tokenizer_token_id(const na_tokenizer *tok, const char *token, int32_t *out);

/* The token string of an id (owned by the tokenizer), or NULL if out of
 * range. */
const char *na_tokenizer_token(const na_tokenizer *tok, int32_t id);

/* Whether an id is an added token marked special. */
int na_tokenizer_is_special(const na_tokenizer *tok, int32_t id);

void na_token_list_free(na_token_list *list);
void na_text_free(na_text *text);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
