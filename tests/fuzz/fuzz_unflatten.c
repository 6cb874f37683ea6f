/* libFuzzer target: na_unflatten specs ("(heads:4 projection), embedding")
 * against a small positional array.
 * Input: a byte for the rank (1..4), a byte per size (1..64,
 * at most 4096 elements in all), then the spec. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    int rank = 1 + fuzz_byte(&in) % 4;
    na_dim dims[4];
    int64_t total = 1;
    for (int i = 0; i < rank; i++) {
        int64_t n = 1 + fuzz_byte(&in) % 64;
        if (total * n > 4096) /* keep each run fast */
            n = 1;
        total *= n;
        dims[i] = (na_dim){NULL, n};
    }
    na_array *x = NULL;
    if (na_random_uniform(3, NA_F32, rank, dims, -1, 1, &x) != NA_OK)
        abort();
    char *spec = fuzz_rest_string(&in);
    na_array *y = NULL;
    na_status s = na_unflatten(x, spec, &y);
    fuzz_check_failure(s);
    if (s == NA_OK) {
        if (na_size(y) != na_size(x))
            abort(); /* unflattening never changes the element count */
        fuzz_touch(y);
    }
    na_array_free(y);
    na_array_free(x);
    free(spec);
    return 0;
}
