/* Tokenizers from tokenizer.json: small files of each type built here with
 * encodings worked out by hand, round trips on arbitrary bytes, added and
 * special tokens, and the errors for what is not supported. */
#include "support.h"

#include <stdlib.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <namedarr/tokenizer.h>

#define SP "\xe2\x96\x81" /* ▁ */

/* ---- helpers ---------------------------------------------------------- */
static na_tokenizer *load_json(cJSON *root)
{
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    na_tokenizer *tok = NULL;
    NA_OK_OR_FAIL(na_tokenizer_from_json(text, strlen(text), &tok));
    free(text);
    return tok;
}

static na_status try_load(const char *json)
{
    na_tokenizer *tok = NULL;
    na_status st = na_tokenizer_from_json(json, strlen(json), &tok);
    na_tokenizer_free(tok);
    return st;
}

static void expect_ids(const na_tokenizer *tok, const char *text, size_t len, unsigned flags,
                       const int32_t *want, size_t n)
{
    na_token_list ids = {0};
    NA_OK_OR_FAIL(na_tokenizer_encode(tok, text, len, flags, &ids));
    cr_expect_eq(ids.count, n, "'%.*s': %zu ids, want %zu", (int)len, text, ids.count, n);
    for (size_t i = 0; i < n && i < ids.count; i++)
        cr_expect_eq(ids.ids[i], want[i], "'%.*s': id %zu is %d, want %d", (int)len, text, i,
                     ids.ids[i], want[i]);
    na_token_list_free(&ids);
}
#define EXPECT_IDS(tok, text, flags, ...)                                                  \
    expect_ids(tok, text, strlen(text), flags, (const int32_t[]){__VA_ARGS__},             \
               sizeof((const int32_t[]){__VA_ARGS__}) / sizeof(int32_t))

static void expect_decode(const na_tokenizer *tok, const int32_t *ids, size_t n, unsigned flags,
                          const char *want)
{
    na_text text = {0};
    NA_OK_OR_FAIL(na_tokenizer_decode(tok, ids, n, flags, &text));
    cr_expect_eq(text.len, strlen(want), "decoded '%s', want '%s'", text.bytes, want);
    cr_expect(memcmp(text.bytes, want, text.len) == 0, "decoded '%s', want '%s'", text.bytes, want);
    na_text_free(&text);
}
#define EXPECT_DECODE(tok, flags, want, ...)                                               \
    expect_decode(tok, (const int32_t[]){__VA_ARGS__},                                     \
                  sizeof((const int32_t[]){__VA_ARGS__}) / sizeof(int32_t), flags, want)

/* decode(encode(bytes)) == bytes */
static void expect_round_trip(const na_tokenizer *tok, const char *s, size_t n)
{
    na_token_list ids = {0};
    na_text text = {0};
    NA_OK_OR_FAIL(na_tokenizer_encode(tok, s, n, 0, &ids));
    NA_OK_OR_FAIL(na_tokenizer_decode(tok, ids.ids, ids.count, 0, &text));
    cr_expect(text.len == n && memcmp(text.bytes, s, n) == 0,
              "round trip of %zu bytes gave %zu bytes", n, text.len);
    na_token_list_free(&ids);
    na_text_free(&text);
}

static cJSON *added_token(int id, const char *content, bool special)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddNumberToObject(a, "id", id);
    cJSON_AddStringToObject(a, "content", content);
    cJSON_AddBoolToObject(a, "special", special);
    return a;
}

static cJSON *typed(const char *type)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    return o;
}

/* The GPT-2 byte alphabet, written out independently of the library:
 * printable Latin-1 bytes are themselves, the others 256, 257, ... */
static void byte_char(int b, char out[3])
{
    int cp = b;
    if (!((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae)) {
        cp = 256;
        for (int i = 0; i < b; i++)
            cp += !((i >= 0x21 && i <= 0x7e) || (i >= 0xa1 && i <= 0xac) || i >= 0xae);
    }
    if (cp < 0x80) {
        out[0] = (char)cp, out[1] = 0;
    } else {
        out[0] = (char)(0xc0 | (cp >> 6)), out[1] = (char)(0x80 | (cp & 0x3f)), out[2] = 0;
    }
}

/* ---- byte-level BPE (GPT-2 style) -------------------------------------
 * ids 0..255: the byte-level character of that byte; merges:
 *   0 "Ġ t"->256  1 "h e"->257  2 "Ġt he"->258  3 "i n"->259  4 "in g"->260
 *   5 "o ,"->262  6 "Ġ Ġ"->263;  added: <|endoftext|> 261 (special). */
static na_tokenizer *byte_level_bpe(void)
{
    cJSON *vocab = cJSON_CreateObject(), *merges = cJSON_CreateArray();
    for (int b = 0; b < 256; b++) {
        char s[3];
        byte_char(b, s);
        cJSON_AddNumberToObject(vocab, s, b);
    }
    const char *m[][3] = {{"Ġ t", "Ġt", "256"}, {"h e", "he", "257"}, {"Ġt he", "Ġthe", "258"},
                          {"i n", "in", "259"}, {"in g", "ing", "260"}, {"o ,", "o,", "262"},
                          {"Ġ Ġ", "ĠĠ", "263"}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        cJSON_AddNumberToObject(vocab, m[i][1], atoi(m[i][2]));
        cJSON_AddItemToArray(merges, cJSON_CreateString(m[i][0]));
    }
    cJSON *model = typed("BPE"), *pre = typed("ByteLevel"), *root = cJSON_CreateObject();
    cJSON_AddItemToObject(model, "vocab", vocab);
    cJSON_AddItemToObject(model, "merges", merges);
    cJSON_AddBoolToObject(pre, "add_prefix_space", false);
    cJSON_AddBoolToObject(pre, "use_regex", true);
    cJSON *added = cJSON_CreateArray();
    cJSON_AddItemToArray(added, added_token(261, "<|endoftext|>", true));
    cJSON_AddItemToObject(root, "added_tokens", added);
    cJSON_AddNullToObject(root, "normalizer");
    cJSON_AddItemToObject(root, "pre_tokenizer", pre);
    cJSON_AddItemToObject(root, "post_processor", typed("ByteLevel"));
    cJSON_AddItemToObject(root, "decoder", typed("ByteLevel"));
    cJSON_AddItemToObject(root, "model", model);
    return load_json(root);
}

Test(tokenizer, byte_level_bpe_merges_by_rank)
{
    na_tokenizer *tok = byte_level_bpe();
    cr_expect_eq(na_tokenizer_vocab_size(tok), 264);
    /* "the" -> t + he; " thing" -> Ġt (rank 0), in (3), ing (4): h stays */
    EXPECT_IDS(tok, "the thing", 0, 't', 257, 256, 'h', 260);
    /* Ġ t, then h e, then Ġt he */
    EXPECT_IDS(tok, " the", 0, 258);
    EXPECT_DECODE(tok, 0, "the thing", 't', 257, 256, 'h', 260);
    na_tokenizer_free(tok);
}

Test(tokenizer, byte_level_split_regex_keeps_merges_inside_pieces)
{
    na_tokenizer *tok = byte_level_bpe();
    /* "o," would merge, but the GPT-2 pattern puts "," in its own piece */
    EXPECT_IDS(tok, "o,", 0, 'o', ',');
    /* three spaces before b: "\s+(?!\S)" takes two (merged), " b" the third */
    EXPECT_IDS(tok, "a   b", 0, 'a', 263, ' ', 'b');
    /* Unicode letters stay one piece; the bytes of é are byte tokens */
    EXPECT_IDS(tok, "h\xc3\xa9", 0, 'h', 0xc3, 0xa9);
    na_tokenizer_free(tok);
}

Test(tokenizer, added_special_tokens_are_found_in_text_and_skippable)
{
    na_tokenizer *tok = byte_level_bpe();
    EXPECT_IDS(tok, "the<|endoftext|>the", 0, 't', 257, 261, 't', 257);
    EXPECT_DECODE(tok, 0, "the<|endoftext|>", 't', 257, 261);
    EXPECT_DECODE(tok, NA_DETOKENIZE_SKIP_SPECIAL, "the", 't', 257, 261);
    cr_expect(na_tokenizer_is_special(tok, 261));
    cr_expect(!na_tokenizer_is_special(tok, 257));
    int32_t id = -1;
    NA_OK_OR_FAIL(na_tokenizer_token_id(tok, "<|endoftext|>", &id));
    cr_expect_eq(id, 261);
    cr_expect_str_eq(na_tokenizer_token(tok, 258), "Ġthe");
    cr_expect_null(na_tokenizer_token(tok, 264));
    na_tokenizer_free(tok);
}

Test(tokenizer, byte_level_round_trips_any_bytes)
{
    na_tokenizer *tok = byte_level_bpe();
    const char *cases[] = {"", "plain ascii, with punctuation!!", "emoji \xf0\x9f\x98\x80\xf0\x9f\x91\x8d",
                           "combining e\xcc\x81 and a\xcc\x8a", "tabs\t\nnewlines  \n ",
                           "bad \xff\xfe bytes \xc3 cut \x80", "nul \0 inside"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_round_trip(tok, cases[i], i == 6 ? 13 : strlen(cases[i]));
    uint64_t x = 12345;
    char buf[97];
    for (int r = 0; r < 200; r++) { /* random bytes, seeded */
        size_t n = (size_t)(r % 97);
        for (size_t k = 0; k < n; k++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            buf[k] = (char)(x >> 56);
        }
        expect_round_trip(tok, buf, n);
    }
    na_tokenizer_free(tok);
}

/* ---- SentencePiece-style BPE with byte fallback (Llama 2 style) ---------
 * <unk> 0, <s> 1, </s> 2, <0x00>..<0xFF> 3..258, ▁ 259, h 260, e 261,
 * l 262, o 263; merges ▁h 264, ll 265, ▁he 266, llo 267, ▁hello 268. */
static na_tokenizer *sentencepiece_bpe(bool metaspace)
{
    cJSON *vocab = cJSON_CreateObject(), *merges = cJSON_CreateArray();
    const char *first[] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 3; i++)
        cJSON_AddNumberToObject(vocab, first[i], i);
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        cJSON_AddNumberToObject(vocab, name, 3 + b);
    }
    const char *chars[] = {SP, "h", "e", "l", "o"};
    for (int i = 0; i < 5; i++)
        cJSON_AddNumberToObject(vocab, chars[i], 259 + i);
    const char *m[][2] = {{SP " h", SP "h"}, {"l l", "ll"}, {SP "h e", SP "he"}, {"ll o", "llo"},
                          {SP "he llo", SP "hello"}};
    for (int i = 0; i < 5; i++) {
        cJSON_AddNumberToObject(vocab, m[i][1], 264 + i);
        cJSON_AddItemToArray(merges, cJSON_CreateString(m[i][0]));
    }
    cJSON *model = typed("BPE"), *root = cJSON_CreateObject();
    cJSON_AddItemToObject(model, "vocab", vocab);
    cJSON_AddItemToObject(model, "merges", merges);
    cJSON_AddStringToObject(model, "unk_token", "<unk>");
    cJSON_AddBoolToObject(model, "byte_fallback", true);
    cJSON_AddBoolToObject(model, "fuse_unk", true);
    cJSON *added = cJSON_CreateArray();
    for (int i = 0; i < 3; i++)
        cJSON_AddItemToArray(added, added_token(i, first[i], true));
    cJSON_AddItemToObject(root, "added_tokens", added);
    const char *norm =
        "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"" SP "\"},"
        "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"" SP "\"}]}";
    const char *dec =
        "{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"" SP
        "\"},\"content\":\" \"},{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},"
        "{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]}";
    const char *meta = "{\"type\":\"Metaspace\",\"replacement\":\"" SP
                       "\",\"prepend_scheme\":\"first\",\"split\":false}";
    cJSON_AddItemToObject(root, "normalizer", metaspace ? cJSON_CreateNull() : cJSON_Parse(norm));
    cJSON_AddItemToObject(root, "pre_tokenizer", metaspace ? cJSON_Parse(meta) : cJSON_CreateNull());
    char meta_dec[512];
    snprintf(meta_dec, sizeof meta_dec,
             "{\"type\":\"Sequence\",\"decoders\":[%s,{\"type\":\"ByteFallback\"},"
             "{\"type\":\"Fuse\"}]}", meta);
    cJSON_AddItemToObject(root, "decoder", cJSON_Parse(metaspace ? meta_dec : dec));
    cJSON_AddItemToObject(root, "post_processor", cJSON_Parse(
        "{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},"
        "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"special_tokens\":{\"<s>\":{\"id\":\"<s>\","
        "\"ids\":[1],\"tokens\":[\"<s>\"]}}}"));
    cJSON_AddItemToObject(root, "model", model);
    return load_json(root);
}

#define BYTE(b) (3 + (b))

Test(tokenizer, sentencepiece_bpe_spaces_and_byte_fallback)
{
    na_tokenizer *tok = sentencepiece_bpe(false);
    EXPECT_IDS(tok, "hello", NA_TOKENIZE_ADD_SPECIAL, 1, 268);
    EXPECT_IDS(tok, "hello hello", 0, 268, 268);
    /* i is not in the vocab: its byte token */
    EXPECT_IDS(tok, "hi", 0, 264, BYTE('i'));
    /* an emoji: four byte tokens after the ▁ */
    EXPECT_IDS(tok, "\xf0\x9f\x98\x80", 0, 259, BYTE(0xf0), BYTE(0x9f), BYTE(0x98), BYTE(0x80));
    EXPECT_DECODE(tok, 0, "hello hi", 268, 264, BYTE('i'));
    EXPECT_DECODE(tok, 0, "<s> hello", 1, 268);
    EXPECT_DECODE(tok, NA_DETOKENIZE_SKIP_SPECIAL, "hello", 1, 268);
    /* the Prepend normalizer runs on each piece between added tokens */
    EXPECT_IDS(tok, "<s>hello", 0, 1, 268);
    na_tokenizer_free(tok);
}

Test(tokenizer, sentencepiece_round_trips_unicode_and_bad_bytes)
{
    na_tokenizer *tok = sentencepiece_bpe(false);
    const char *cases[] = {"hello world", " leading and trailing ", "e\xcc\x81\xcc\x81 marks",
                           "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb zwj", "bad \xff\xc3 bytes \x80",
                           "\xe4\xb8\xad\xe6\x96\x87"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_round_trip(tok, cases[i], strlen(cases[i]));
    na_tokenizer_free(tok);
}

Test(tokenizer, metaspace_prepends_only_at_the_start)
{
    na_tokenizer *tok = sentencepiece_bpe(true);
    EXPECT_IDS(tok, "hello hello", NA_TOKENIZE_ADD_SPECIAL, 1, 268, 268);
    /* prepend_scheme "first": the text after <s> gets no ▁ */
    EXPECT_IDS(tok, "<s>hello", 0, 1, 260, 261, 267);
    EXPECT_DECODE(tok, 0, "hello hello", 268, 268);
    expect_round_trip(tok, "hello hi \xe2\x9c\x93", 12);
    na_tokenizer_free(tok);
}

/* ---- WordLevel ---------------------------------------------------------- */
static const char wordlevel_json[] =
    "{\"added_tokens\":[],\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"Whitespace\"},"
    "\"post_processor\":null,\"decoder\":null,\"model\":{\"type\":\"WordLevel\",\"vocab\":"
    "{\"[UNK]\":0,\"hello\":1,\"world\":2,\"!\":3,\"?!\":4},\"unk_token\":\"[UNK]\"}}";

Test(tokenizer, wordlevel_words_and_unknowns)
{
    na_tokenizer *tok = NULL;
    NA_OK_OR_FAIL(na_tokenizer_from_json(wordlevel_json, strlen(wordlevel_json), &tok));
    EXPECT_IDS(tok, "hello world!", 0, 1, 2, 3);
    EXPECT_IDS(tok, "  hello there ?!", 0, 1, 0, 4);
    /* no decoder: tokens joined by spaces, as the tokenizers library does */
    EXPECT_DECODE(tok, 0, "hello world !", 1, 2, 3);
    na_tokenizer_free(tok);
}

/* ---- the adder's own format: characters, no merges, <s> in front --------- */
Test(tokenizer, character_bpe_with_template)
{
    const char *json =
        "{\"added_tokens\":[{\"id\":1,\"content\":\"<s>\",\"special\":true},{\"id\":2,\"content\":"
        "\"</s>\",\"special\":true}],\"normalizer\":null,\"pre_tokenizer\":null,"
        "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":"
        "\"<s>\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"special_tokens\":{"
        "\"<s>\":{\"id\":\"<s>\",\"ids\":[1],\"tokens\":[\"<s>\"]}}},\"decoder\":{\"type\":\"Fuse\"},"
        "\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"vocab\":{\"<unk>\":0,\"<s>\":1,"
        "\"</s>\":2,\"0\":3,\"1\":4,\"2\":5,\"3\":6,\"4\":7,\"5\":8,\"6\":9,\"7\":10,\"8\":11,"
        "\"9\":12,\"+\":13,\"=\":14},\"merges\":[]}}";
    na_tokenizer *tok = NULL;
    NA_OK_OR_FAIL(na_tokenizer_from_json(json, strlen(json), &tok));
    EXPECT_IDS(tok, "123+45=", NA_TOKENIZE_ADD_SPECIAL, 1, 4, 5, 6, 13, 7, 8, 14);
    EXPECT_IDS(tok, "9x", 0, 12, 0);
    EXPECT_DECODE(tok, NA_DETOKENIZE_SKIP_SPECIAL, "168", 4, 9, 11, 2);
    EXPECT_DECODE(tok, 0, "168</s>", 4, 9, 11, 2);
    /* each token alone (heatmap labels): one allocation, NULL after the last */
    char **each = NULL;
    NA_OK_OR_FAIL(na_tokenizer_decode_each(tok, (const int32_t[]){1, 4, 13, 2}, 4, 0, &each));
    const char *want[] = {"<s>", "1", "+", "</s>"};
    for (int i = 0; i < 4; i++)
        cr_expect_str_eq(each[i], want[i]);
    cr_expect_null(each[4]);
    free(each);
    NA_OK_OR_FAIL(na_tokenizer_decode_each(tok, (const int32_t[]){1, 4}, 2,
                                           NA_DETOKENIZE_SKIP_SPECIAL, &each));
    cr_expect_str_eq(each[0], "");
    cr_expect_str_eq(each[1], "1");
    free(each);
    NA_OK_OR_FAIL(na_tokenizer_decode_each(tok, NULL, 0, 0, &each));
    cr_expect_null(each[0]);
    free(each);
    each = NULL;
    NA_EXPECT_FAIL(na_tokenizer_decode_each(tok, (const int32_t[]){4, 99}, 2, 0, &each),
                   NA_ERR_INDEX, "na_tokenizer_decode_each: id 99 at position 1 is not in "
                   "the vocabulary (size 15)");
    cr_expect_null(each);
    NA_EXPECT_FAIL(na_tokenizer_decode_each(NULL, (const int32_t[]){4}, 1, 0, &each),
                   NA_ERR_ARGUMENT, "na_tokenizer_decode_each: NULL argument");
    na_tokenizer_free(tok);
}

/* ---- errors ---------------------------------------------------------------- */
Test(tokenizer, unsupported_parts_are_named)
{
    NA_EXPECT_FAIL(try_load("{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}"), NA_ERR_UNSUPPORTED,
                   "na_tokenizer_load", "model type 'Unigram' is not supported");
    NA_EXPECT_FAIL(try_load("{\"normalizer\":{\"type\":\"NFC\"},\"model\":{\"type\":\"WordLevel\","
                            "\"vocab\":{\"a\":0}}}"),
                   NA_ERR_UNSUPPORTED, "normalizer type 'NFC' is not supported");
    NA_EXPECT_FAIL(try_load("{\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},\"model\":{\"type\":"
                            "\"WordLevel\",\"vocab\":{\"a\":0}}}"),
                   NA_ERR_UNSUPPORTED, "pre_tokenizer type 'BertPreTokenizer'");
    NA_EXPECT_FAIL(try_load("{\"decoder\":{\"type\":\"WordPiece\"},\"model\":{\"type\":\"WordLevel\","
                            "\"vocab\":{\"a\":0}}}"),
                   NA_ERR_UNSUPPORTED, "decoder type 'WordPiece'");
    NA_EXPECT_FAIL(try_load("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[],"
                            "\"continuing_subword_prefix\":\"##\"}}"),
                   NA_ERR_UNSUPPORTED, "continuing_subword_prefix");
}

Test(tokenizer, malformed_files_fail_cleanly)
{
    NA_EXPECT_FAIL(try_load("{\"model\": "), NA_ERR_FORMAT, "not a JSON object");
    NA_EXPECT_FAIL(try_load("{}"), NA_ERR_FORMAT, "no \"model\" object");
    NA_EXPECT_FAIL(try_load("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":"
                            "[\"a b\"]}}"),
                   NA_ERR_FORMAT, "merge 0 (a b) uses a token not in the vocab");
    NA_EXPECT_FAIL(try_load("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"ab\"]}}"),
                   NA_ERR_FORMAT, "merge 0 'ab' is not \"a b\"");
    NA_EXPECT_FAIL(try_load("{\"model\":{\"type\":\"WordLevel\",\"vocab\":{\"a\":-3}}}"),
                   NA_ERR_FORMAT, "vocab entry 'a' has a bad id");
    NA_EXPECT_FAIL(try_load("{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(\"},"
                            "\"behavior\":\"Isolated\"},\"model\":{\"type\":\"WordLevel\",\"vocab\":"
                            "{\"a\":0}}}"),
                   NA_ERR_FORMAT, "bad split regex /(/");
    na_tokenizer *tok = NULL;
    NA_EXPECT_FAIL(na_tokenizer_load("/nonexistent/tokenizer.json", &tok), NA_ERR_IO,
                   "cannot open '/nonexistent/tokenizer.json'");
    cr_expect_null(tok);
}

Test(tokenizer, bad_ids_and_missing_words)
{
    na_tokenizer *tok = NULL;
    const char *json = "{\"model\":{\"type\":\"WordLevel\",\"vocab\":{\"a\":0,\"b\":1}},"
                       "\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"}}";
    NA_OK_OR_FAIL(na_tokenizer_from_json(json, strlen(json), &tok));
    na_token_list ids = {0};
    NA_EXPECT_FAIL(na_tokenizer_encode(tok, "a c", 3, 0, &ids), NA_ERR_NOT_FOUND,
                   "WordLevel word 'c' is not in the vocabulary");
    cr_expect_null(ids.ids);
    na_text text = {0};
    NA_EXPECT_FAIL(na_tokenizer_decode(tok, (const int32_t[]){0, 7}, 2, 0, &text), NA_ERR_INDEX,
                   "id 7 at position 1 is not in the vocabulary (size 2)");
    int32_t id;
    NA_EXPECT_FAIL(na_tokenizer_token_id(tok, "zz", &id), NA_ERR_NOT_FOUND, "no token 'zz'");
    NA_EXPECT_FAIL(na_tokenizer_encode(NULL, "a", 1, 0, &ids), NA_ERR_ARGUMENT, "NULL");
    na_tokenizer_free(tok);
}

Test(tokenizer, file_round_trip)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/na_tok_test_%d.json", (int)getpid());
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fputs(wordlevel_json, f);
    fclose(f);
    na_tokenizer *tok = NULL;
    NA_OK_OR_FAIL(na_tokenizer_load(path, &tok));
    unlink(path);
    EXPECT_IDS(tok, "world hello", 0, 2, 1);
    na_tokenizer_free(tok);
}
