/* namedarr — the command-line front door of the library.
 *
 *   namedarr generate MODEL_DIR --prompt "12+34=" [--max-new-tokens N ...]
 *   namedarr generate MODEL_DIR --tokens 5,17,2      (ids in, ids out)
 *   namedarr print MODEL_DIR [--depth N]
 *   namedarr html MODEL_DIR OUT.html [--prompt TEXT]
 *   namedarr bench MODEL_DIR
 *
 * MODEL_DIR is a Hugging Face model directory or a namedarr model file.
 * `namedarr VERB --help` describes each verb. */
#include "cli.h"

#include <string.h>

static const cli_verb *const verbs[] = {&cli_verb_generate, &cli_verb_print, &cli_verb_html,
                                        &cli_verb_bench};
#define N_VERBS ((int)(sizeof verbs / sizeof *verbs))

static void usage(FILE *f)
{
    fprintf(f, "usage: namedarr VERB MODEL_DIR [options]\n\n"
               "MODEL_DIR is a Hugging Face model directory (config.json, model.safetensors\n"
               "or a sharded index, tokenizer.json) or a namedarr model file.\n\nverbs:\n");
    for (int i = 0; i < N_VERBS; i++)
        fprintf(f, "  %-10s %s\n", verbs[i]->name, verbs[i]->summary);
    fprintf(f, "\n`namedarr VERB --help` lists a verb's options. namedarr %s\n",
            NAMEDARR_CLI_VERSION);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return cli_fail(NULL, CLI_USAGE,
                        "missing verb (generate, print, html, bench); see namedarr --help");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("namedarr %s\n", NAMEDARR_CLI_VERSION);
        return CLI_OK;
    }
    for (int i = 0; i < N_VERBS; i++)
        if (strcmp(argv[1], verbs[i]->name) == 0)
            return verbs[i]->run(argc - 1, argv + 1);
    return cli_fail(NULL, CLI_USAGE, "unknown verb '%s' (verbs: generate, print, html, bench)",
                    argv[1]);
}
