/* libFuzzer target: na_einsum specs against small named arrays.
 * Input: a byte for the operand count (1..3), each operand's shape bytes
 * (see fuzz_common.h), then the spec text, e.g. "a:i foo:j, a:j -> bar:i". */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    int n = 1 + fuzz_byte(&in) % 3;
    na_array *xs[3] = {NULL, NULL, NULL};
    for (int i = 0; i < n; i++)
        xs[i] = fuzz_array(&in);
    char *spec = fuzz_rest_string(&in);
    na_array *y = NULL;
    na_status s = na_einsum(spec, n, (const na_array *const *)xs, &y);
    fuzz_check_failure(s);
    if (s == NA_OK)
        fuzz_touch(y);
    na_array_free(y);
    for (int i = 0; i < n; i++)
        na_array_free(xs[i]);
    free(spec);
    return 0;
}
