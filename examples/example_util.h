/* Plumbing shared by the example programs (not part of the library, not
 * installed): the error check each of them uses, and where the trained
 * adder model is. Read the examples themselves first. */
#ifndef NAMEDARR_EXAMPLE_UTIL_H
#define NAMEDARR_EXAMPLE_UTIL_H

#include <stdio.h>
#include <sys/stat.h>

#include <namedarr/status.h>

/* Run `call` (a namedarr function returning na_status); when it fails,
 * print "<program>: <call> failed: <na_last_error()>" on stderr and run
 * `on_failure` (`goto done`, `return 1`, `exit(1)`). */
#define EXAMPLE_CHECK(program, call, on_failure)                                  \
    do {                                                                          \
        if ((call) != NA_OK) {                                                    \
            fprintf(stderr, "%s: %s failed: %s\n", program, #call, na_last_error()); \
            on_failure;                                                           \
        }                                                                         \
    } while (0)

/* The trained adder's directory: the first argument, else models/adder
 * below the current directory, else the one in the source tree this
 * program was built from. */
static inline const char *example_model_dir(int argc, char **argv)
{
    struct stat st;
    if (argc > 1)
        return argv[1];
    if (stat("models/adder/config.json", &st) == 0)
        return "models/adder";
#ifdef NAMEDARR_SOURCE_DIR
    return NAMEDARR_SOURCE_DIR "/models/adder";
#else
    return "models/adder";
#endif
}

#endif
