/* namedarr/contract.h — NamedEinsum: contraction by names, general form.
 *
 * na_contract (array.h) covers the common case. na_einsum is Penzai's
 * NamedEinsum in a string: each input maps its axis names to index letters,
 * the output maps index letters back to names.
 *
 *   // {foo:i, bar:i, baz:j} x {foo:j, qux:k} -> {x:i, y:k, z:j}
 *   na_einsum("foo:i bar:i baz:j, foo:j qux:k -> x:i y:k z:j",
 *             2, (const na_array *[]){a, b}, &out);
 *
 * - An index letter (any identifier) used twice in one input takes the
 *   diagonal of those axes (a view, no copy).
 * - An index in the inputs but not the output is summed over.
 * - Axis names an input does not mention are batch axes: carried to the
 *   output unchanged (same size wherever they occur), as Penzai vectorizes
 *   over unmentioned names.
 * - One input: diagonals, sums and renames. More than two: contracted left
 *   to right. Every matrix product runs in BLIS.
 * - Inputs of different dtypes are promoted to their common dtype first
 *   (JAX's lattice, runtime.h na_set_dtype_promotion; an error under
 *   NA_PROMOTE_STRICT); a spec that sums needs that dtype to be f32/f64.
 */
#ifndef NAMEDARR_CONTRACT_H
#define NAMEDARR_CONTRACT_H

#include "namedarr/array.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default) /* the na_ API; the rest is hidden */

na_status na_einsum(const char *spec, int n, const na_array *const *xs,
                    na_array **out);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
