/* namedarr print MODEL_DIR [--depth N]: the layer tree with parameter
 * counts (na_print_tree; colour on a terminal unless NO_COLOR is set). */
#include "cli.h"

CLI_VERB(print, "MODEL_DIR", 1,
         "Print the model's layer tree with parameter counts.",
         "Colour on a terminal; NO_COLOR=1 turns it off, FORCE_COLOR=1 forces it.\n");

int cli_print(int argc, char **argv)
{
    int64_t depth = 0;
    bool no_params = false;
    cli_opt opts[] = {
        CLI_INT_OPT("depth", &depth, "N", "levels shown (0: all; 1: the root only)", 0, 1000),
        CLI_FLAG_OPT("no-params", &no_params, "omit the Param(...) lines"),
    };
    const char *dir = NULL;
    int st = cli_parse(&cli_verb_print, opts, 2, argc, argv, &dir);
    if (st != CLI_OK)
        return st < 0 ? CLI_OK : st;
    cli_model m;
    if ((st = cli_model_open("print", dir, &m)) != CLI_OK)
        return st;
    na_print_options o = {.max_depth = (int)depth, .hide_params = no_params};
    if (na_print_tree(m.layer, stdout, &o) != NA_OK)
        st = cli_fail_na("print", "cannot print the tree");
    cli_model_close(&m);
    return st;
}
