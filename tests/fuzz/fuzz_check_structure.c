/* libFuzzer target: CheckStructure specs ("seq:S heads:H projection:P, ...")
 * built, then called on one array or a pair (a tuple input).
 * Input: a byte whose low bit picks one array or a pair, the arrays' shape
 * bytes (see fuzz_common.h), then the spec. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    int pair = fuzz_byte(&in) & 1;
    na_array *a = fuzz_array(&in);
    na_array *b = pair ? fuzz_array(&in) : NULL;
    char *spec = fuzz_rest_string(&in);
    na_layer *check = NULL;
    na_status s = na_check_structure_new(spec, &check);
    fuzz_check_failure(s);
    if (s == NA_OK) {
        na_value *items[2] = {na_value_ref_array(a), b ? na_value_ref_array(b) : NULL};
        na_value *v = pair ? na_value_tuple(2, items) : items[0];
        na_value *out = NULL;
        if (v) {
            s = na_layer_call(check, v, NULL, &out);
            fuzz_check_failure(s);
        }
        na_value_free(out);
        na_value_free(v);
        na_layer_free(check);
    }
    na_array_free(a);
    na_array_free(b);
    free(spec);
    return 0;
}
