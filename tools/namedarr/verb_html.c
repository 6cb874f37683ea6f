/* namedarr html MODEL_DIR OUT.html [--prompt TEXT | --tokens IDS]
 *
 * One self-contained HTML page with the layer tree (foldable, parameters
 * as heatmaps) and, given a prompt, the attention weights of every
 * attention layer on that prompt ({seq x kv_seq} per head), captured from
 * the Softmax layers during one call of the whole model. With a tokenizer,
 * the rows and columns are labelled with the prompt's tokens (each decoded
 * on its own, special tokens included). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

CLI_VERB(html, "MODEL_DIR OUT.html", 2,
         "Write the model's tree, and the attention patterns of a prompt, as HTML.",
         "With --prompt or --tokens, each attention layer's weights on the prompt are\n"
         "drawn as one seq x kv_seq heatmap per head, above the tree, its rows and\n"
         "columns labelled with the prompt's tokens (when the model has a tokenizer).\n");

/* Run the model on `ids` capturing every Softmax output. */
static int capture_attention(cli_model *m, const na_token_list *ids, na_capture *cap)
{
    na_selection *sel = NULL;
    na_array *x = NULL;
    na_value *in = NULL, *out = NULL;
    int rc = CLI_FAIL;
    if (na_select_type_name(&m->layer, "Softmax", &sel) != NA_OK ||
        na_capture_add_selection(cap, sel) != NA_OK ||
        na_from_data(NA_I32, NA_DIMS({"batch", 1}, {"seq", (int64_t)ids->count}), ids->ids,
                     &x) != NA_OK ||
        !(in = na_value_ref_array(x)) || na_call_capturing(m->layer, in, NULL, cap, &out) != NA_OK)
        rc = cli_fail_na("html", "cannot run the model on the prompt");
    else
        rc = CLI_OK;
    na_value_free(out);
    na_value_free(in);
    na_array_free(x);
    na_selection_free(sel);
    return rc;
}

/* The captured weights as page arrays, drawn seq down and kv_seq across,
 * with the tokens (or NULL) as row and column labels. */
static na_html_array *weight_arrays(const na_capture *cap, char (*labels)[160],
                                    char **tokens, int *n)
{
    int count = na_capture_count(cap);
    na_html_array *arr = calloc(count > 0 ? (size_t)count : 1, sizeof *arr);
    *n = 0;
    for (int i = 0; arr && i < count && i < 256; i++) {
        const na_value *v = na_capture_value(cap, i);
        if (!v || v->kind != NA_VALUE_ARRAY)
            continue;
        bool seq = na_axis_index(v->array, "seq") >= 0 && na_axis_index(v->array, "kv_seq") >= 0;
        int k = (*n)++;
        snprintf(labels[k], 160, "attention weights: %s", na_capture_name(cap, i));
        const char *const *names = seq ? (const char **)tokens : NULL;
        arr[k] = (na_html_array){.label = labels[k], .value = v->array,
                                 .rows = seq ? "seq" : NULL, .cols = seq ? "kv_seq" : NULL,
                                 .row_labels = names, .col_labels = names};
    }
    return arr;
}

static int write_page(cli_model *m, const char *dir, const char *path, const char *prompt,
                      const char *tokens)
{
    na_token_list ids = {0};
    na_capture *cap = NULL;
    na_html_array *arr = NULL;
    char **shown = NULL; /* each token decoded alone: the heatmaps' labels */
    static char labels[256][160];
    int n = 0, rc = CLI_OK;
    char title[512];
    snprintf(title, sizeof title, "namedarr: %s (%s)", dir, m->arch);
    if (prompt || tokens) {
        if ((rc = cli_prompt_ids("html", m, prompt, tokens, &ids)) != CLI_OK)
            goto done;
        if (na_capture_new(&cap) != NA_OK) {
            rc = cli_fail_na("html", "capture");
            goto done;
        }
        if ((rc = capture_attention(m, &ids, cap)) != CLI_OK)
            goto done;
        if (m->tokenizer &&
            na_tokenizer_decode_each(m->tokenizer, ids.ids, ids.count, 0, &shown) != NA_OK) {
            rc = cli_fail_na("html", "cannot decode the prompt's tokens");
            goto done;
        }
        if (!(arr = weight_arrays(cap, labels, shown, &n))) {
            rc = cli_fail("html", CLI_FAIL, "out of memory");
            goto done;
        }
        snprintf(title, sizeof title, "namedarr: %s (%s), prompt \"%.200s\"", dir, m->arch,
                 prompt ? prompt : tokens);
    }
    na_html_options o = {.title = title, .open_depth = 2, .max_slices = 64, .n_arrays = n,
                         .arrays = arr};
    if (na_layer_save_html(m->layer, &o, path) != NA_OK)
        rc = cli_fail_na("html", path);
    else
        fprintf(stderr, "wrote %s (%d attention maps)\n", path, n);
done:
    free(arr);
    free(shown);
    na_capture_free(cap);
    na_token_list_free(&ids);
    return rc;
}

int cli_html(int argc, char **argv)
{
    const char *prompt = NULL, *tokens = NULL;
    cli_opt opts[] = {
        CLI_STR("prompt", &prompt, "TEXT", "draw the attention weights on this prompt"),
        CLI_STR("tokens", &tokens, "IDS", "the same with token ids: 5,17,2"),
    };
    const char *pos[2] = {NULL, NULL};
    int st = cli_parse(&cli_verb_html, opts, 2, argc, argv, pos);
    if (st != CLI_OK)
        return st < 0 ? CLI_OK : st;
    cli_model m;
    if ((st = cli_model_open("html", pos[0], &m)) != CLI_OK)
        return st;
    st = write_page(&m, pos[0], pos[1], prompt, tokens);
    cli_model_close(&m);
    return st;
}
