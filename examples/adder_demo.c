/* adder_demo — the main demo: a small Llama trained to add, run by namedarr.
 *
 * models/adder is a Hugging Face model directory (config.json,
 * model.safetensors, tokenizer.json) written by
 * scripts/train_demo_model.py, which trained it with PyTorch on sums of two
 * numbers from 0 to 999. Numbers in its text are written least significant
 * digit first, zero-padded: 123 + 45 = 168 is "<s>321+540=" -> "8610</s>".
 * (In that order every answer digit sits at a fixed distance from the two
 * operand digits it adds, so RoPE attention finds them.)
 *
 * The demo
 *   1. loads the directory through the Hugging Face importer and prints the
 *      layer tree with parameter counts, then one block in full;
 *   2. solves a few problems with greedy generation through the KV cache,
 *      streaming each answer digit as it is generated, then checks it;
 *   3. solves 1,000 random problems in one batch and reports the accuracy
 *      and the prefill and decode tokens per second;
 *   4. captures the attention weights (every Softmax) on one problem, prints
 *      how much each head attends to the operand digits of the place it is
 *      computing, and writes the HTML view: the tree plus one heatmap per
 *      layer and head.
 *
 *   ./adder_demo [MODEL_DIR [OUT.html [THREADS]]]
 *   (defaults: models/adder, adder.html, 1 thread: this model's products are
 *   so small that a second thread mostly waits at BLIS's barriers, and on
 *   a busy machine 2 threads ran 3-10x slower than 1)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <namedarr/namedarr.h>
#include <namedarr/generate.h>
#include <namedarr/models.h>
#include <namedarr/print.h>
#include <namedarr/runtime.h>
#include <namedarr/tokenizer.h>
#include <namedarr/tree.h>

#include "example_util.h"

#define DIGITS 3         /* operand digits; the sum has DIGITS + 1        */
#define PROMPT_LEN 9     /* <s> ddd + ddd =                               */
#define ANSWER_LEN 5     /* dddd </s>                                     */
#define BATCH 1000

#define CHECK(call) EXAMPLE_CHECK("adder_demo", call, goto done)

/* 168, 4 -> "8610" */
static void little_endian(int v, int digits, char *out)
{
    for (int i = 0; i < digits; i++, v /= 10)
        out[i] = (char)('0' + v % 10);
    out[digits] = 0;
}

/* "8610" -> 168 (-1 if not digits) */
static int from_little_endian(const char *s)
{
    int v = 0;
    for (int i = (int)strlen(s) - 1; i >= 0; i--) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return strlen(s) ? v : -1;
}

static na_status encode_problem(const na_tokenizer *tok, int a, int b, na_token_list *out)
{
    char la[8], lb[8], text[32];
    little_endian(a, DIGITS, la);
    little_endian(b, DIGITS, lb);
    snprintf(text, sizeof text, "%s+%s=", la, lb);
    return na_tokenizer_encode(tok, text, strlen(text), NA_TOKENIZE_ADD_SPECIAL, out);
}

/* The answer of one row as text ("8610"), decoded without </s>. */
static na_status answer_text(const na_tokenizer *tok, const na_token_list *ids, char *out,
                             size_t cap)
{
    na_text t = {0};
    na_status st = na_tokenizer_decode(tok, ids->ids, ids->count, NA_DETOKENIZE_SKIP_SPECIAL, &t);
    if (st == NA_OK)
        snprintf(out, cap, "%s", t.bytes);
    na_text_free(&t);
    return st;
}

typedef struct stream {
    const na_tokenizer *tok;
} stream;

/* Print each generated digit as it arrives. */
static int print_token(void *user, int64_t row, int32_t token)
{
    const stream *s = user;
    na_text t = {0};
    (void)row;
    if (na_tokenizer_decode(s->tok, &token, 1, 0, &t) == NA_OK)
        printf(" %s", t.bytes);
    na_text_free(&t);
    fflush(stdout);
    return 0;
}

typedef struct demo {
    const char *dir;
    na_tokenizer *tok;
    int32_t eos, pad;
} demo;

static na_generate_options greedy_options(demo *d)
{
    return (na_generate_options){.max_new_tokens = ANSWER_LEN, .stop_tokens = &d->eos,
                                 .n_stop_tokens = 1, .pad_token = d->pad};
}

/* Step 2: one problem at a time, the answer streamed. */
static int solve_a_few(demo *d)
{
    static const int problems[][2] = {{123, 45}, {999, 1}, {7, 8}, {500, 500}, {86, 314},
                                      {658, 779}};
    int rc = 1, n = (int)(sizeof problems / sizeof problems[0]), right = 0;
    na_layer *model = NULL;
    na_token_list prompt = {0};
    na_generation g = {0};
    stream s = {d->tok};
    CHECK(na_hf_load(d->dir, &model, NULL));
    CHECK(na_model_to_kv_cache(&model, PROMPT_LEN + ANSWER_LEN, 1));
    printf("\n== a few problems (greedy, KV cache; digits stream least significant first) ==\n");
    for (int i = 0; i < n; i++) {
        int a = problems[i][0], b = problems[i][1];
        char la[8], lb[8], ans[16];
        little_endian(a, DIGITS, la);
        little_endian(b, DIGITS, lb);
        printf("%3d + %3d   prompt <s>%s+%s=   model writes:", a, b, la, lb);
        fflush(stdout);
        CHECK(encode_problem(d->tok, a, b, &prompt));
        na_generate_options o = greedy_options(d);
        o.on_token = print_token, o.user = &s;
        CHECK(na_generate(model, &prompt, 1, &o, &g));
        CHECK(answer_text(d->tok, &g.tokens[0], ans, sizeof ans));
        int sum = from_little_endian(ans);
        right += sum == a + b;
        printf("   -> %d %s\n", sum, sum == a + b ? "correct" : "WRONG");
        na_generation_free(&g);
        na_token_list_free(&prompt);
    }
    printf("%d of %d correct\n", right, n);
    rc = 0;
done:
    na_generation_free(&g);
    na_token_list_free(&prompt);
    na_layer_free(model);
    return rc;
}

/* Step 3: BATCH random problems in one call. */
static int solve_a_batch(demo *d)
{
    int rc = 1, right = 0;
    na_layer *model = NULL;
    na_token_list *prompts = calloc(BATCH, sizeof *prompts);
    int (*ab)[2] = calloc(BATCH, sizeof *ab);
    na_generation g = {0};
    if (!prompts || !ab)
        goto done;
    uint64_t x = 2026;
    for (int i = 0; i < BATCH; i++) {
        for (int j = 0; j < 2; j++) { /* a small LCG: the same problems every run */
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            ab[i][j] = (int)((x >> 33) % 1000);
        }
        CHECK(encode_problem(d->tok, ab[i][0], ab[i][1], &prompts[i]));
    }
    CHECK(na_hf_load(d->dir, &model, NULL));
    CHECK(na_model_to_kv_cache(&model, PROMPT_LEN + ANSWER_LEN, BATCH));
    na_generate_options o = greedy_options(d);
    CHECK(na_generate(model, prompts, BATCH, &o, &g));
    for (int i = 0; i < BATCH; i++) {
        char ans[16];
        CHECK(answer_text(d->tok, &g.tokens[i], ans, sizeof ans));
        right += from_little_endian(ans) == ab[i][0] + ab[i][1];
    }
    printf("\n== %d random problems in one batch ==\n", BATCH);
    printf("correct: %d of %d (%.1f%%)\n", right, BATCH, 100.0 * right / BATCH);
    printf("prefill: %lld tokens in %.3f s = %.0f tokens/s (%d thread%s)\n",
           (long long)g.prefill_tokens, g.prefill_seconds, g.prefill_tokens_per_s,
           na_get_num_threads(), na_get_num_threads() == 1 ? "" : "s");
    printf("decode:  %lld tokens in %lld steps, %.3f s = %.0f tokens/s\n",
           (long long)g.decode_tokens, (long long)g.decode_steps, g.decode_seconds,
           g.decode_tokens_per_s);
    rc = right >= BATCH * 99 / 100 ? 0 : 1;
    if (rc)
        fprintf(stderr, "adder_demo: accuracy below 99%%\n");
done:
    na_generation_free(&g);
    for (int i = 0; prompts && i < BATCH; i++)
        na_token_list_free(&prompts[i]);
    free(prompts);
    free(ab);
    na_layer_free(model);
    return rc;
}

/* How much of its attention each head puts, in the rows that predict answer
 * digits 0-2 (positions 8-10: "=", then the digits written so far), on the
 * two operand digits of that place (positions 1-3 and 5-7). w is one
 * layer's weights {batch:1, kv_heads, seq, query_heads, kv_seq}. Prints a
 * line per head; returns the best score and sets *best_kv, *best_q. */
static double place_attention(const na_array *w, const char *layer, int *best_kv, int *best_q)
{
    const int64_t K = na_axis_size(w, "kv_heads"), Q = na_axis_size(w, "query_heads"),
                  S = na_axis_size(w, "seq");
    na_array *v = NULL;
    float *buf = NULL;
    double best = -1;
    if (K < 1 || Q < 1 || S != PROMPT_LEN + DIGITS + 1 ||
        na_order_as(w, NA_NAMES("batch", "kv_heads", "query_heads", "seq", "kv_seq"), &v) != NA_OK)
        return -1;
    buf = malloc((size_t)na_size(v) * sizeof *buf);
    if (buf && na_copy_to(v, NA_F32, buf) == NA_OK) {
        for (int64_t k = 0; k < K; k++) {
            printf("  %s kv_heads=%lld:", layer, (long long)k);
            for (int64_t q = 0; q < Q; q++) {
                const float *m = buf + (k * Q + q) * S * S; /* [seq][kv_seq] */
                double score = 0;
                for (int i = 0; i < DIGITS; i++)
                    score += m[(8 + i) * S + 1 + i] + m[(8 + i) * S + 5 + i];
                score /= DIGITS;
                printf("  query_heads=%lld %.2f", (long long)q, score);
                if (score > best)
                    best = score, *best_kv = (int)k, *best_q = (int)q;
            }
            printf("\n");
        }
    }
    free(buf);
    na_array_free(v);
    return best;
}

/* Step 4: the attention weights of one whole problem, written as HTML. */
static int write_html(demo *d, const char *path)
{
    int rc = 1;
    na_layer *model = NULL;
    na_token_list ids = {0};
    na_capture *cap = NULL;
    na_html_array *arrays = NULL;
    char (*labels)[256] = NULL;
    char **tokens = NULL; /* each token as text: the heatmaps' row and column labels */
    const char *text = "321+540=8610"; /* 123 + 45 = 168, answer included */
    CHECK(na_hf_load(d->dir, &model, NULL));
    CHECK(na_tokenizer_encode(d->tok, text, strlen(text), NA_TOKENIZE_ADD_SPECIAL, &ids));
    CHECK(na_tokenizer_decode_each(d->tok, ids.ids, ids.count, 0, &tokens));
    CHECK(example_capture_attention(&model, ids.ids, (int64_t)ids.count, &cap));

    int n = na_capture_count(cap), best_kv = 0, best_q = 0, best_layer = -1;
    double best = -1;
    arrays = calloc((size_t)n + 1, sizeof *arrays);
    labels = calloc((size_t)n + 1, sizeof *labels);
    if (!arrays || !labels)
        goto done;
    printf("\n== attention on 123+45 (<s> 3 2 1 + 5 4 0 = 8 6 1 0, positions 0-12) ==\n"
           "weight that the rows predicting answer digits 0-2 (8-10) put on the operand digits\n"
           "of their place (1-3 and 5-7), mean over the three rows:\n");
    for (int i = 0; i < n; i++) {
        const na_value *w = na_capture_value(cap, i);
        if (!w || w->kind != NA_VALUE_ARRAY)
            goto done;
        char layer[64]; /* "block_1" from "block_1/0/delta/1/query_key_to_attn/3" */
        snprintf(layer, sizeof layer, "%.*s", (int)strcspn(na_capture_name(cap, i), "/"),
                 na_capture_name(cap, i));
        int kv = 0, q = 0;
        double score = place_attention(w->array, layer, &kv, &q);
        if (score > best)
            best = score, best_kv = kv, best_q = q, best_layer = i;
        snprintf(labels[i], sizeof labels[i],
                 "%s attention weights (%s) on <s> 3 2 1 + 5 4 0 = 8 6 1 0 (123+45=168): "
                 "rows = query position seq 0-12, columns = key position kv_seq",
                 layer, na_capture_name(cap, i));
        arrays[i] = (na_html_array){.label = labels[i], .value = w->array, .rows = "seq",
                                    .cols = "kv_seq", .row_labels = (const char **)tokens,
                                    .col_labels = (const char **)tokens};
    }
    na_html_options o = {.title = "namedarr: a 2-layer Llama that adds (models/adder)",
                         .open_depth = 2, .n_arrays = n, .arrays = arrays};
    CHECK(na_layer_save_html(model, &o, path));
    printf("\n== HTML view ==\nwrote %s: the tree (click to fold and unfold) and, above it, "
           "the attention maps\nof every layer and head on 123+45.\n", path);
    if (best_layer >= 0)
        printf("Look at %.*s, kv_heads=%d, query_heads=%d (%.0f%% of its weight on the place's "
               "digits):\nin rows 8-10, two diagonals of bright cells at key positions 1-3 and "
               "5-7; each answer\ndigit is read off the two digits it adds.\n",
               (int)strcspn(na_capture_name(cap, best_layer), "/"),
               na_capture_name(cap, best_layer), best_kv, best_q, 100 * best);
    rc = 0;
done:
    free(arrays);
    free(labels);
    free(tokens);
    na_capture_free(cap);
    na_token_list_free(&ids);
    na_layer_free(model);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 1;
    na_layer *model = NULL;
    na_hf_info info;
    demo d = {.dir = example_model_dir(argc, argv)};
    const char *html = argc > 2 ? argv[2] : "adder.html";
    na_set_num_threads(argc > 3 ? atoi(argv[3]) : 1);
    char path[1024];
    snprintf(path, sizeof path, "%s/tokenizer.json", d.dir);
    CHECK(na_tokenizer_load(path, &d.tok));
    CHECK(na_tokenizer_token_id(d.tok, "</s>", &d.eos));
    CHECK(na_tokenizer_token_id(d.tok, "<pad>", &d.pad));

    CHECK(na_hf_load(d.dir, &model, &info));
    printf("== %s: %s, %d layers, %d query heads sharing %d key/value heads, RoPE ==\n",
           d.dir, info.architecture, info.llama.num_hidden_layers,
           info.llama.num_attention_heads, info.llama.num_key_value_heads);
    CHECK(na_print_tree(model, stdout, &(na_print_options){.max_depth = 4, .hide_params = true}));
    na_layer *block = na_tree_get(model, "block_0");
    if (block) { /* one block unfolded: Penzai's attention combinator, the labels */
        printf("\n== block_0 in full ==\n");
        CHECK(na_print_tree(block, stdout, NULL));
    }

    rc = solve_a_few(&d) | solve_a_batch(&d) | write_html(&d, html);
done:
    na_layer_free(model);
    na_tokenizer_free(d.tok);
    return rc;
}
