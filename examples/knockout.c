/* knockout — which attention heads does the trained adder need?
 *
 * The interpretability workflow Penzai's tutorials teach, on models/adder
 * (a 2-layer Llama with 4 query heads sharing 2 key/value heads, trained to
 * add; numbers are written least significant digit first, so 123 + 45 is
 * "<s>321+540=" -> "8610</s>"):
 *
 *   1. solve N random problems greedily through the KV cache: the baseline;
 *   2. for every layer and head, copy the model (sharing its weights) and
 *      edit the copy's tree: after the AttentionCombine of that layer
 *      (whose output is {batch, seq, kv_heads, query_heads, projection},
 *      the heads before the output projection) insert a Linear with no
 *      input or output axes and a weight {kv_heads, query_heads} of ones
 *      with a 0 for the knocked-out head: an elementwise mask by name,
 *      so that head's contribution to the output projection is zero. Solve
 *      the same problems again and print the accuracy drop per head;
 *      (checked once against the other route: zeroing that head's slice of
 *      the output projection's weights gives the same logits);
 *   3. capture the attention weights (every Softmax) on one problem and
 *      write the HTML view: the tree plus one seq x kv_seq heatmap per
 *      layer and head.
 *
 *   ./knockout [MODEL_DIR [OUT.html [PROBLEMS]]]
 *   (defaults: models/adder, knockout.html, 500 problems)
 *
 * The model runs on 1 thread (its products are tiny; a second thread
 * mostly waits). Exits 1 if the untouched model solves fewer than 99% of
 * the problems: then something in the library is wrong.
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

#define DIGITS 3     /* operand digits; the sum has DIGITS + 1 */
#define PROMPT_LEN 9 /* <s> ddd + ddd =                        */
#define ANSWER_LEN 5 /* dddd </s>                              */

#define CHECK(call) EXAMPLE_CHECK("knockout", call, goto done)

typedef struct problems {
    int n;
    int (*ab)[2];
    na_token_list *prompts;
    na_token_list *answers; /* the expected ids: dddd (without </s>)  */
} problems;

/* 168, 4 -> "8610" */
static void little_endian(int v, int digits, char *out)
{
    for (int i = 0; i < digits; i++, v /= 10)
        out[i] = (char)('0' + v % 10);
    out[digits] = 0;
}

static na_status make_problems(const na_tokenizer *tok, int n, problems *p)
{
    p->n = n;
    p->ab = calloc((size_t)n, sizeof *p->ab);
    p->prompts = calloc((size_t)n, sizeof *p->prompts);
    p->answers = calloc((size_t)n, sizeof *p->answers);
    if (!p->ab || !p->prompts || !p->answers)
        return na_fail(NA_ERR_NO_MEMORY, "knockout: %d problems", n);
    uint64_t x = 7;
    for (int i = 0; i < n; i++) {
        char a[8], b[8], sum[8], text[32];
        for (int j = 0; j < 2; j++) { /* a small LCG: the same problems every run */
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            p->ab[i][j] = (int)((x >> 33) % 1000);
        }
        little_endian(p->ab[i][0], DIGITS, a);
        little_endian(p->ab[i][1], DIGITS, b);
        little_endian(p->ab[i][0] + p->ab[i][1], DIGITS + 1, sum);
        snprintf(text, sizeof text, "%s+%s=", a, b);
        na_status st = na_tokenizer_encode(tok, text, strlen(text), NA_TOKENIZE_ADD_SPECIAL,
                                           &p->prompts[i]);
        if (st == NA_OK)
            st = na_tokenizer_encode(tok, sum, strlen(sum), 0, &p->answers[i]);
        if (st != NA_OK)
            return st;
    }
    return NA_OK;
}

static void free_problems(problems *p)
{
    for (int i = 0; i < p->n; i++) {
        if (p->prompts)
            na_token_list_free(&p->prompts[i]);
        if (p->answers)
            na_token_list_free(&p->answers[i]);
    }
    free(p->ab), free(p->prompts), free(p->answers);
}

/* Fraction of the problems that `model` (not yet caching; it is consumed)
 * answers exactly: the answer's digits, then </s>. */
static na_status accuracy(na_layer *model, const problems *p, int32_t eos, double *out)
{
    na_generation g = {0};
    na_generate_options o = {.max_new_tokens = ANSWER_LEN, .stop_tokens = &eos,
                             .n_stop_tokens = 1, .pad_token = eos};
    na_status st = na_model_to_kv_cache(&model, PROMPT_LEN + ANSWER_LEN, p->n);
    if (st == NA_OK)
        st = na_generate(model, p->prompts, p->n, &o, &g);
    int right = 0;
    for (int i = 0; st == NA_OK && i < p->n; i++)
        right += g.finished[i] == NA_GEN_STOP_TOKEN && g.tokens[i].count == p->answers[i].count &&
                 memcmp(g.tokens[i].ids, p->answers[i].ids,
                        g.tokens[i].count * sizeof(int32_t)) == 0;
    *out = (double)right / p->n;
    na_generation_free(&g);
    na_layer_free(model);
    return st;
}

/* ---- the tree edit ---------------------------------------------------------- */

typedef struct knock {
    int kv, q;          /* the head: key/value head kv, query head q of its group */
    int64_t n_kv, n_q;  /* kv_heads and query_heads sizes                        */
} knock;

/* A Linear over a weight {kv_heads, query_heads} of ones with one zero: no
 * axis is contracted or added, so it multiplies each head's slice. */
static na_status make_mask(na_layer *target, const char *path, void *ctx, na_layer **out)
{
    (void)target, (void)path;
    const knock *k = ctx;
    na_array *w = NULL, *zero = NULL, *masked = NULL;
    na_status st = na_ones(NA_F32, NA_DIMS({"kv_heads", k->n_kv}, {"query_heads", k->n_q}), &w);
    if (st == NA_OK)
        st = na_scalar(NA_F32, 0, &zero);
    if (st == NA_OK)
        st = na_at_set(w, 2, (na_index[]){NA_AT("kv_heads", k->kv), NA_AT("query_heads", k->q)},
                       zero, &masked);
    na_param *p = st == NA_OK ? na_param_new("knockout.mask", NA_PARAM, masked) : NULL;
    if (st == NA_OK && !p)
        st = na_last_status();
    if (st == NA_OK)
        st = na_linear_from_param(p, (const char *const[]){NULL}, (const char *const[]){NULL},
                                  out);
    na_param_release(p);
    na_array_free(w);
    na_array_free(zero);
    if (st != NA_OK)
        na_array_free(masked); /* not taken by a parameter */
    return st;
}

/* A copy of `model` with head k of layer `layer` knocked out. */
static na_status knocked_out(const na_layer *model, int layer, const knock *k, na_layer **out)
{
    na_layer *copy = NULL;
    na_selection *sel = NULL;
    char path[128];
    na_status st = na_layer_clone(model, NA_CLONE_SHARE_PARAMS, &copy);
    /* the AttentionCombine inside block <layer>'s attention */
    if (st == NA_OK)
        st = na_select_type_name(&copy, "AttentionCombine", &sel);
    if (st == NA_OK && na_selection_count(sel) <= layer)
        st = na_fail(NA_ERR_NOT_FOUND, "knockout: no AttentionCombine for layer %d", layer);
    if (st == NA_OK) {
        snprintf(path, sizeof path, "%s", na_selection_path(sel, layer));
        na_selection_free(sel);
        sel = NULL;
        st = na_select_path(&copy, path, &sel);
    }
    if (st == NA_OK)
        st = na_selection_insert_after(sel, make_mask, (void *)k);
    na_selection_free(sel);
    if (st != NA_OK) {
        na_layer_free(copy);
        return st;
    }
    *out = copy;
    return NA_OK;
}

/* The same knockout by another route: zero the head's slice of the output
 * projection's weights (in a copy with its own parameters). Both models
 * must give the same logits on `ids`; returns the largest difference. */
static na_status check_by_weights(na_layer *model, int layer, const knock *k,
                                  const na_array *ids, double *diff, double *effect)
{
    na_layer *edited = NULL, *zeroed = NULL;
    na_array *w2 = NULL, *zero = NULL, *a = NULL, *b = NULL, *c = NULL;
    na_param_list params = {0};
    char label[64];
    snprintf(label, sizeof label, "block_%d/attention/output.weights", layer);
    na_status st = knocked_out(model, layer, k, &edited);
    if (st == NA_OK)
        st = na_layer_clone(model, NA_CLONE_COPY_PARAMS, &zeroed);
    if (st == NA_OK)
        st = na_tree_params(zeroed, &params);
    na_param *w = NULL;
    for (int i = 0; st == NA_OK && i < params.count; i++)
        if (strcmp(params.items[i].param->label, label) == 0)
            w = params.items[i].param;
    if (st == NA_OK && !w)
        st = na_fail(NA_ERR_NOT_FOUND, "knockout: no parameter %s", label);
    if (st == NA_OK)
        st = na_scalar(NA_F32, 0, &zero);
    if (st == NA_OK)
        st = na_at_set(w->value, 2, (na_index[]){NA_AT("kv_heads", k->kv),
                                                  NA_AT("query_heads", k->q)}, zero, &w2);
    if (st == NA_OK)
        na_param_set_value(w, w2); /* takes w2 */
    if (st == NA_OK)
        st = na_layer_call_array(edited, ids, NULL, &a);
    if (st == NA_OK)
        st = na_layer_call_array(zeroed, ids, NULL, &b);
    if (st == NA_OK)
        st = na_max_abs_diff(a, b, diff);
    if (st == NA_OK) /* and the knockout changes something */
        st = na_layer_call_array(model, ids, NULL, &c);
    if (st == NA_OK)
        st = na_max_abs_diff(a, c, effect);
    na_param_list_clear(&params);
    na_array_free(zero), na_array_free(a), na_array_free(b), na_array_free(c);
    na_layer_free(edited);
    na_layer_free(zeroed);
    return st;
}

/* ---- the table and the page -------------------------------------------------- */

static int table(const na_layer *model, const na_hf_info *info, const problems *p, int32_t eos,
                 double base)
{
    knock k = {.n_kv = info->llama.num_key_value_heads};
    k.n_q = info->llama.num_attention_heads / k.n_kv;
    printf("\n%-8s %-5s %-8s %-11s %-9s %s\n", "layer", "head", "kv_head", "query_head",
           "accuracy", "drop");
    double worst = 0;
    int worst_l = 0, worst_h = 0;
    for (int l = 0; l < info->llama.num_hidden_layers; l++) {
        for (int h = 0; h < info->llama.num_attention_heads; h++) {
            na_layer *edited = NULL;
            double acc = 0;
            k.kv = (int)(h / k.n_q), k.q = (int)(h % k.n_q); /* HF's order: h / group */
            if (knocked_out(model, l, &k, &edited) != NA_OK ||
                accuracy(edited, p, eos, &acc) != NA_OK) {
                fprintf(stderr, "knockout: layer %d head %d: %s\n", l, h, na_last_error());
                return 1;
            }
            printf("block_%-2d %-5d %-8d %-11d %7.1f%% %+6.1f\n", l, h, k.kv, k.q, 100 * acc,
                   100 * (acc - base));
            if (base - acc > worst)
                worst = base - acc, worst_l = l, worst_h = h;
        }
    }
    printf("\nthe head the model needs most: block_%d head %d (accuracy -%.1f points)\n",
           worst_l, worst_h, 100 * worst);
    return 0;
}

/* Capture every Softmax on one problem and write the page. */
static int write_html(na_layer *model, const na_tokenizer *tok, const char *path)
{
    int rc = 1, n = 0;
    na_token_list ids = {0};
    na_capture *cap = NULL;
    na_html_array arrays[16];
    char labels[16][96];
    char **tokens = NULL; /* "<s>", "3", "2", ...: the heatmaps' row and column labels */
    CHECK(na_tokenizer_encode(tok, "321+540=", 8, NA_TOKENIZE_ADD_SPECIAL, &ids));
    CHECK(na_tokenizer_decode_each(tok, ids.ids, ids.count, 0, &tokens));
    CHECK(example_capture_attention(&model, ids.ids, (int64_t)ids.count, &cap));
    for (int i = 0; i < na_capture_count(cap) && n < 16; i++, n++) {
        snprintf(labels[n], sizeof labels[n], "attention weights on 123+45 (<s>321+540=): %s",
                 na_capture_name(cap, i));
        arrays[n] = (na_html_array){.label = labels[n], .value = na_capture_value(cap, i)->array,
                                    .rows = "seq", .cols = "kv_seq",
                                    .row_labels = (const char **)tokens,
                                    .col_labels = (const char **)tokens};
    }
    na_html_options o = {.title = "namedarr knockout: the adder's attention", .open_depth = 2,
                         .n_arrays = n, .arrays = arrays};
    CHECK(na_layer_save_html(model, &o, path));
    printf("wrote %s: %d attention maps (one seq x kv_seq heatmap per head)\n", path, n);
    rc = 0;
done:
    free(tokens);
    na_capture_free(cap);
    na_token_list_free(&ids);
    return rc;
}

int main(int argc, char **argv)
{
    const char *dir = example_model_dir(argc, argv);
    const char *page = argc > 2 ? argv[2] : "knockout.html";
    int n = argc > 3 ? atoi(argv[3]) : 500, rc = 1;
    na_layer *model = NULL, *copy = NULL;
    na_array *ids = NULL;
    na_tokenizer *tok = NULL;
    problems p = {0};
    na_hf_info info;
    char tok_path[512];
    int32_t eos = 0;
    double base = 0;
    if (n < 1 || n > 100000) {
        fprintf(stderr, "knockout: PROBLEMS must be in [1, 100000]\n");
        return 2;
    }
    na_set_num_threads(1);
    snprintf(tok_path, sizeof tok_path, "%s/tokenizer.json", dir);
    CHECK(na_hf_load(dir, &model, &info));
    if (info.arch != NA_HF_LLAMA) {
        fprintf(stderr, "knockout: %s is a %s, not a Llama-like model\n", dir, info.architecture);
        goto done;
    }
    CHECK(na_tokenizer_load(tok_path, &tok));
    CHECK(na_tokenizer_token_id(tok, "</s>", &eos));
    CHECK(make_problems(tok, n, &p));
    CHECK(na_layer_clone(model, NA_CLONE_SHARE_PARAMS, &copy));
    CHECK(accuracy(copy, &p, eos, &base));
    printf("knockout: %s, %d random problems, greedy through the KV cache\n", dir, n);
    printf("baseline accuracy: %.1f%%\n", 100 * base);
    /* the mask layer does what zeroing the weights does (layer 1, head 3) */
    knock k = {.kv = 1, .q = 1, .n_kv = info.llama.num_key_value_heads};
    k.n_q = info.llama.num_attention_heads / k.n_kv;
    k.kv = (int)(k.n_kv - 1), k.q = (int)(k.n_q - 1);
    double diff = 1, effect = 0;
    CHECK(na_from_data(NA_I32, NA_DIMS({"batch", 1}, {"seq", PROMPT_LEN}), p.prompts[0].ids, &ids));
    CHECK(check_by_weights(model, info.llama.num_hidden_layers - 1, &k, ids, &diff, &effect));
    printf("mask layer vs zeroed output weights: max |logit difference| %.2g "
           "(vs the untouched model: %.2g)\n", diff, effect);
    if (diff > 1e-4 || effect < 1e-3) {
        fprintf(stderr, "knockout: the mask layer and the zeroed weights disagree, or change nothing\n");
        goto done;
    }
    if (table(model, &info, &p, eos, base) != 0 || write_html(model, tok, page) != 0)
        goto done;
    rc = base >= 0.99 ? 0 : 1;
    if (rc)
        fprintf(stderr, "knockout: the untouched model solves only %.1f%%\n", 100 * base);
done:
    na_array_free(ids);
    free_problems(&p);
    na_tokenizer_free(tok);
    na_layer_free(model);
    return rc;
}
