/* Plumbing shared by the example programs (not part of the library, not
 * installed): the error check each of them uses, and where the trained
 * adder model is. Read the examples themselves first. */
#ifndef NAMEDARR_EXAMPLE_UTIL_H
#define NAMEDARR_EXAMPLE_UTIL_H

#include <stdio.h>
#include <sys/stat.h>

#include <namedarr/namedarr.h>

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

/* Call `model` on one row of token ids {batch:1, seq:n}, recording every
 * Softmax output (the attention weights, {batch, ..., seq, kv_seq}) in a
 * new capture, *out (na_capture_free). */
static inline na_status example_capture_attention(na_layer **model, const int32_t *ids,
                                                  int64_t n, na_capture **out)
{
    na_array *x = NULL;
    na_value *in = NULL, *y = NULL;
    na_selection *softmax = NULL;
    na_capture *cap = NULL;
    na_status st = na_from_data(NA_I32, NA_DIMS({"batch", 1}, {"seq", n}), ids, &x);
    if (st == NA_OK)
        st = na_capture_new(&cap);
    if (st == NA_OK)
        st = na_select_type_name(model, "Softmax", &softmax);
    if (st == NA_OK)
        st = na_capture_add_selection(cap, softmax);
    if (st == NA_OK && !(in = na_value_ref_array(x)))
        st = na_last_status();
    if (st == NA_OK)
        st = na_call_capturing(*model, in, NULL, cap, &y);
    na_value_free(y);
    na_value_free(in);
    na_selection_free(softmax);
    na_array_free(x);
    if (st == NA_OK)
        *out = cap;
    else
        na_capture_free(cap);
    return st;
}

#endif
