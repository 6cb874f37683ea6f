/* The `namedarr` command: shared pieces of its verbs (generate, print,
 * html, bench). Only the public API of the library is used here.
 *
 *   cli_opts.c    the small options parser every verb shares
 *   cli_model.c   opening MODEL_DIR (a Hugging Face directory or a
 *                 namedarr model file), its tokenizer and stop tokens
 *   verb_*.c      one file per verb
 *   main.c        the verb table and the top-level help
 *
 * Every failure prints one line on stderr, "namedarr <verb>: <what>", and
 * the verb returns a non-zero exit code (2 for bad usage, 1 otherwise).
 */
#ifndef NAMEDARR_CLI_H
#define NAMEDARR_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <namedarr/namedarr.h>
#include <namedarr/generate.h>

/* Exit codes. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* ---- options ------------------------------------------------------------- */

typedef enum cli_opt_kind {
    CLI_FLAG,    /* bool, no value                                         */
    CLI_INT,     /* int64_t within [min, max]                              */
    CLI_DOUBLE,  /* double within [min, max]                               */
    CLI_STRING   /* const char * (points into argv)                        */
} cli_opt_kind;

typedef struct cli_opt {
    const char *name;      /* "max-new-tokens" (given as --max-new-tokens)  */
    cli_opt_kind kind;
    void *dest;            /* bool *, int64_t *, double * or const char **  */
    const char *metavar;   /* "N", "T", "TEXT" (NULL for flags)             */
    const char *help;
    double min, max;       /* CLI_INT, CLI_DOUBLE: accepted range           */
    bool seen;             /* set by the parser                             */
} cli_opt;

/* Table entries: CLI_STR("prompt", &prompt, "TEXT", "the prompt"), ... */
#define CLI_FLAG_OPT(n, d, h) {.name = n, .kind = CLI_FLAG, .dest = d, .help = h}
#define CLI_STR(n, d, mv, h) {.name = n, .kind = CLI_STRING, .dest = d, .metavar = mv, .help = h}
#define CLI_INT_OPT(n, d, mv, h, lo, hi)                                                     \
    {.name = n, .kind = CLI_INT, .dest = d, .metavar = mv, .help = h, .min = lo, .max = hi}
#define CLI_NUM(n, d, mv, h, lo, hi)                                                         \
    {.name = n, .kind = CLI_DOUBLE, .dest = d, .metavar = mv, .help = h, .min = lo, .max = hi}

/* Defines cli_verb_<id>, named "<id>" and run by cli_<id>:
 *   CLI_VERB(print, "MODEL_DIR", 1, "one-line summary", "--help text\n"); */
#define CLI_VERB(id, args_, n_positional_, summary_, details_)                     \
    const cli_verb cli_verb_##id = {.name = #id, .args = args_,                   \
                                    .summary = summary_, .details = details_,     \
                                    .n_positional = n_positional_, .run = cli_##id}

typedef struct cli_verb {
    const char *name;              /* "generate"                            */
    const char *args;              /* "MODEL_DIR [OUT.html]": usage line    */
    const char *summary;           /* one line for the top-level help       */
    const char *details;           /* printed after the options by --help   */
    int n_positional;              /* positional arguments required         */
    int (*run)(int argc, char **argv);
} cli_verb;

/* Parse argv[1..argc) (argv[0] is the verb) into `opts` (n of them) and
 * exactly verb->n_positional positional arguments (stored in pos[]).
 * Returns CLI_OK, CLI_USAGE after printing one line on stderr, or -1 after
 * printing the verb's help on stdout (--help / -h: exit 0). "--" ends the
 * options; "--name=value" and "--name value" both work. */
int cli_parse(const cli_verb *verb, cli_opt *opts, int n, int argc, char **argv,
              const char **pos);
void cli_print_help(const cli_verb *verb, const cli_opt *opts, int n, FILE *f);

/* "namedarr <verb>: <fmt...>" on stderr, one line (newlines in the text
 * become spaces). Returns `code`. */
int cli_fail(const char *verb, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with na_last_error() as the text after `what`. */
int cli_fail_na(const char *verb, const char *what);

/* Parse "5,17,2" (ids >= 0; spaces allowed) into a list (malloc'ed). */
int cli_parse_ids(const char *verb, const char *text, na_token_list *out);

/* Whether progress lines go to stderr (it is a terminal). */
bool cli_progress(void);
/* Whether a step of this size shows progress: stderr is a terminal and
 * amount >= threshold (a large file, a long prompt), or NAMEDARR_PROGRESS=all
 * (every step; still only on a terminal). */
bool cli_progress_for(double amount, double threshold);
double cli_now(void);

/* ---- the model ------------------------------------------------------------ */

typedef struct cli_model {
    na_layer *layer;           /* ids {batch, seq} -> logits {batch, seq, vocab} */
    na_tokenizer *tokenizer;   /* NULL when the directory has none           */
    char arch[64];             /* "LlamaForCausalLM" or "namedarr model"     */
    int32_t stop[8];           /* eos ids from config.json (and generation_config.json) */
    int n_stop;
    int64_t max_positions;     /* 0: unknown                                 */
    bool cached;               /* na_model_to_kv_cache ran                   */
} cli_model;

/* Open MODEL_DIR: a directory is read with na_hf_load (config.json,
 * safetensors, tokenizer.json if present); a file with na_model_load (and
 * tokenizer.json / config.json beside it if present). One line on stderr
 * and non-zero on failure. */
int cli_model_open(const char *verb, const char *path, cli_model *out);
void cli_model_close(cli_model *m);

/* The caching form with room for `capacity` tokens in `batch` rows, keys
 * and values stored as `kv_dtype` (NA_F32: the model's own; NA_BF16). */
int cli_model_cache(const char *verb, cli_model *m, int64_t capacity, int64_t batch,
                    na_dtype kv_dtype);

/* Token ids from --prompt (through the tokenizer, with its special tokens)
 * or --tokens; exactly one of them must be given. */
int cli_prompt_ids(const char *verb, const cli_model *m, const char *prompt,
                   const char *tokens, na_token_list *out);

/* ---- --mesh: sharded across MPI processes (cli_mesh.c) ------------------- */

typedef struct cli_mesh cli_mesh;

/* With `spec` ("model=2"): set MPI up, agree with the other processes on
 * `load_rc` (the outcome of cli_model_open) and shard m->layer. Without:
 * returns load_rc, *out NULL. Non-zero (one line printed) on failure;
 * then call cli_mesh_end (and close the model only if it was opened). */
int cli_mesh_start(const char *verb, const char *spec, int load_rc, cli_model *m,
                   cli_mesh **out);
/* Whether this process writes the output (process 0, or no mesh). */
bool cli_mesh_is_main(const cli_mesh *c);
/* The prompts this process generates, [*first, *first + *count) of n: a
 * block of them along the mesh axis of "batch" (all without a mesh). */
void cli_mesh_rows(const cli_mesh *c, size_t n, size_t *first, size_t *count);
/* How the sharded model's tokens are chosen (zero: na_sample_token). */
na_token_chooser cli_mesh_chooser(cli_mesh *c);
/* Every process's generated rows (g holds this process's `count`), in
 * prompt order, into rows[n] (ids malloc'ed). Collective with a mesh. */
int cli_mesh_collect(const char *verb, cli_mesh *c, const na_generation *g, size_t count,
                     size_t n, int64_t max_new, na_token_list *rows);
void cli_mesh_end(cli_mesh *c);

/* ---- verbs ----------------------------------------------------------------- */

int cli_generate(int argc, char **argv);
int cli_print(int argc, char **argv);
int cli_html(int argc, char **argv);
int cli_bench(int argc, char **argv);

extern const cli_verb cli_verb_generate, cli_verb_print, cli_verb_html, cli_verb_bench;

#endif
