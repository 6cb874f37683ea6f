/* Shared helpers for the libFuzzer targets (tests/fuzz/fuzz_*.c).
 *
 * A target reads its input as a few leading shape bytes (decoded below into
 * small named arrays, so the fuzzer can reach the size and name checks) and
 * then a text spec. Everything here is deterministic: the same input gives
 * the same arrays. */
#ifndef NAMEDARR_FUZZ_COMMON_H
#define NAMEDARR_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <namedarr/namedarr.h>

/* Names the shape bytes pick from; the dictionaries list the same words. */
static const char *const fuzz_names[8] = {"a", "b", "c", "foo", "bar", "seq",
                                          "heads", "projection"};

typedef struct fuzz_input {
    const uint8_t *p;
    size_t n;
} fuzz_input;

static inline int fuzz_byte(fuzz_input *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

/* One array from the input: a byte for the rank (0..4), then a byte per
 * dimension: high bit set = positional, else name = bits 0-2, size =
 * 1 + bits 3-5 (1..8). Repeated names are skipped (constructors reject
 * them; that path has its own tests). Values are arange-like. */
static inline na_array *fuzz_array(fuzz_input *in)
{
    int rank = fuzz_byte(in) % 5;
    na_dim dims[4];
    int nd = 0;
    for (int i = 0; i < rank; i++) {
        int b = fuzz_byte(in);
        const char *name = (b & 0x80) ? NULL : fuzz_names[b & 7];
        int dup = 0;
        for (int j = 0; j < nd; j++)
            dup |= name && dims[j].name && strcmp(dims[j].name, name) == 0;
        if (dup)
            continue;
        dims[nd].name = name;
        dims[nd].size = 1 + ((b >> 3) & 7);
        nd++;
    }
    na_array *x = NULL;
    if (na_random_uniform(7, NA_F32, nd, dims, -1, 1, &x) != NA_OK)
        abort(); /* small valid shapes must always build */
    return x;
}

/* The rest of the input as a NUL-terminated string (caller frees). */
static inline char *fuzz_rest_string(fuzz_input *in)
{
    char *s = malloc(in->n + 1);
    if (!s)
        abort();
    memcpy(s, in->p, in->n);
    s[in->n] = '\0';
    in->p += in->n;
    in->n = 0;
    return s;
}

/* Read every element of x (catches views whose strides or offset point
 * outside the storage) and check a failed call left a message. */
static inline void fuzz_touch(const na_array *x)
{
    na_array *c = NULL;
    if (na_contiguous(x, &c) != NA_OK)
        abort();
    volatile double acc = 0;
    int64_t n = na_size(c);
    const float *d = na_data(c);
    if (c->dtype == NA_F32)
        for (int64_t i = 0; i < n; i++)
            acc += d[i];
    (void)acc;
    na_array_free(c);
}

static inline void fuzz_check_failure(na_status s)
{
    if (s != NA_OK && na_last_error()[0] == '\0')
        abort(); /* every failure must say why */
}

#endif
