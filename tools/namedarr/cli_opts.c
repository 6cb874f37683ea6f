/* The options parser shared by the verbs, and the one-line error report. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int cli_fail(const char *verb, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *c = msg; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    fprintf(stderr, "namedarr%s%s: %s\n", verb ? " " : "", verb ? verb : "", msg);
    return code;
}

int cli_fail_na(const char *verb, const char *what)
{
    const char *err = na_last_error();
    return cli_fail(verb, CLI_FAIL, "%s: %s", what, err && *err ? err : "failed");
}

bool cli_progress(void)
{
    return isatty(STDERR_FILENO);
}

bool cli_progress_for(double amount, double threshold)
{
    const char *all = getenv("NAMEDARR_PROGRESS");
    return cli_progress() && (amount >= threshold || (all && strcmp(all, "all") == 0));
}

double cli_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void cli_print_help(const cli_verb *verb, const cli_opt *opts, int n, FILE *f)
{
    fprintf(f, "usage: namedarr %s %s [options]\n\n%s\n\noptions:\n", verb->name, verb->args,
            verb->summary);
    for (int i = 0; i < n; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", opts[i].name, opts[i].metavar ? " " : "",
                 opts[i].metavar ? opts[i].metavar : "");
        fprintf(f, "  %-24s %s\n", left, opts[i].help);
    }
    fprintf(f, "  %-24s %s\n", "-h, --help", "show this help");
    if (verb->details)
        fprintf(f, "\n%s", verb->details);
}

/* Store `value` into option `o`; CLI_OK or CLI_USAGE (reported). */
static int set_value(const cli_verb *verb, cli_opt *o, const char *value)
{
    char *end = NULL;
    errno = 0;
    if (o->kind == CLI_STRING) {
        *(const char **)o->dest = value;
        return CLI_OK;
    }
    double v = o->kind == CLI_INT ? (double)strtoll(value, &end, 10) : strtod(value, &end);
    while (end && isspace((unsigned char)*end))
        end++;
    if (end == value || !end || *end || errno == ERANGE || isnan(v))
        return cli_fail(verb->name, CLI_USAGE, "--%s wants %s, got '%s'", o->name,
                        o->kind == CLI_INT ? "an integer" : "a number", value);
    if (v < o->min || v > o->max)
        return cli_fail(verb->name, CLI_USAGE, "--%s must be in [%g, %g], got %s", o->name,
                        o->min, o->max, value);
    if (o->kind == CLI_INT)
        *(int64_t *)o->dest = (int64_t)v;
    else
        *(double *)o->dest = v;
    return CLI_OK;
}

static cli_opt *find_opt(cli_opt *opts, int n, const char *name, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return &opts[i];
    return NULL;
}

/* One "--name[=value]" at argv[*i]; advances *i past a separate value. */
static int parse_long(const cli_verb *verb, cli_opt *opts, int n, int argc, char **argv,
                      int *i)
{
    const char *arg = argv[*i] + 2, *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    cli_opt *o = find_opt(opts, n, arg, len);
    if (!o)
        return cli_fail(verb->name, CLI_USAGE, "unknown option '--%.*s' (see namedarr %s --help)",
                        (int)len, arg, verb->name);
    o->seen = true;
    if (o->kind == CLI_FLAG) {
        if (eq)
            return cli_fail(verb->name, CLI_USAGE, "--%s takes no value", o->name);
        *(bool *)o->dest = true;
        return CLI_OK;
    }
    if (eq)
        return set_value(verb, o, eq + 1);
    if (*i + 1 >= argc)
        return cli_fail(verb->name, CLI_USAGE, "--%s needs a value (%s)", o->name, o->metavar);
    return set_value(verb, o, argv[++*i]);
}

int cli_parse(const cli_verb *verb, cli_opt *opts, int n, int argc, char **argv,
              const char **pos)
{
    int n_pos = 0;
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            cli_print_help(verb, opts, n, stdout);
            return -1;
        }
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = true;
        } else if (!only_pos && a[0] == '-' && a[1] == '-') {
            int st = parse_long(verb, opts, n, argc, argv, &i);
            if (st != CLI_OK)
                return st;
        } else if (!only_pos && a[0] == '-' && a[1] != '\0') {
            return cli_fail(verb->name, CLI_USAGE, "unknown option '%s' (see namedarr %s --help)",
                            a, verb->name);
        } else {
            if (n_pos == verb->n_positional)
                return cli_fail(verb->name, CLI_USAGE, "unexpected argument '%s' (usage: namedarr %s %s)",
                                a, verb->name, verb->args);
            pos[n_pos++] = a;
        }
    }
    if (n_pos < verb->n_positional)
        return cli_fail(verb->name, CLI_USAGE, "missing argument (usage: namedarr %s %s)",
                        verb->name, verb->args);
    return CLI_OK;
}

int cli_parse_ids(const char *verb, const char *text, na_token_list *out)
{
    size_t cap = 1;
    for (const char *c = text; *c; c++)
        cap += *c == ',';
    out->ids = malloc(cap * sizeof *out->ids);
    out->count = 0;
    if (!out->ids)
        return cli_fail(verb, CLI_FAIL, "out of memory");
    const char *c = text;
    for (;;) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(c, &end, 10);
        while (end && isspace((unsigned char)*end))
            end++;
        if (end == c || errno == ERANGE || v < 0 || v > INT32_MAX || (*end && *end != ',')) {
            na_token_list_free(out);
            return cli_fail(verb, CLI_USAGE,
                            "--tokens wants ids >= 0 separated by commas (like 5,17,2), got '%s'",
                            text);
        }
        out->ids[out->count++] = (int32_t)v;
        if (!*end)
            return CLI_OK;
        c = end + 1;
    }
}
