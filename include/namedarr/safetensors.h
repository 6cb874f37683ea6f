/* namedarr/safetensors.h — save and load named arrays as safetensors.
 *
 * A safetensors file is an 8-byte little-endian header length, a JSON
 * header ({"label": {"dtype", "shape", "data_offsets"}, "__metadata__":
 * {...}}) and the raw little-endian data. namedarr keeps each array's axis
 * names in the metadata (key "namedarr.axes.<label>", value "seq,heads"
 * with "" for a positional axis), so a saved model loads back with its
 * names; files without that metadata load as positional arrays.
 *
 *   // Save every parameter of a model under its label, then load it back.
 *   na_safetensors_save_model(model, "model.safetensors");
 *   na_safetensors_load_model(model, "model.safetensors");
 *
 *   // Or work with the file directly.
 *   na_safetensors *st;
 *   na_safetensors_open("model.safetensors", &st);
 *   na_array *w;
 *   na_safetensors_get(st, "block_0/mlp/up.weights", &w);
 *   na_safetensors_close(st);
 *
 * The JSON header is parsed with cJSON; every offset and size is checked
 * against the file before any data is read. F32, F64, I32, BOOL and BF16
 * load as themselves (BF16 as NA_BF16, bit for bit; na_astype widens it);
 * F16 loads as f32. NA_BF16 arrays are written as "BF16".
 */
#ifndef NAMEDARR_SAFETENSORS_H
#define NAMEDARR_SAFETENSORS_H

#include "namedarr/array.h"
#include "namedarr/layer.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default) /* the na_ API; the rest is hidden */

/* Write n arrays under the given labels (labels must be unique). */
na_status na_safetensors_write(const char *path, int n,
                               const char *const *labels,
                               const na_array *const *arrays);

/* Extra string metadata for the file's __metadata__ (keys "format" and
 * "namedarr.axes.*" are reserved; keys must not repeat). */
typedef struct na_safetensors_meta {
    int count;
    const char *const *keys;
    const char *const *values;
} na_safetensors_meta;

/* na_safetensors_write with extra metadata (meta NULL: none). */
na_status na_safetensors_write_ex(const char *path, int n, const char *const *labels,
                                  const na_array *const *arrays,
                                  const na_safetensors_meta *meta);

typedef struct na_safetensors na_safetensors; /* an open, validated file */

na_status na_safetensors_open(const char *path, na_safetensors **out);
void na_safetensors_close(na_safetensors *st);
int na_safetensors_count(const na_safetensors *st);
/* The string under `key` in the file's __metadata__, or NULL (absent or
 * not a string). Borrowed: valid until the file is closed. */
const char *na_safetensors_metadata(const na_safetensors *st, const char *key);
const char *na_safetensors_label(const na_safetensors *st, int i);
/* A new array (a copy of the file's data) with the saved axis names. */
na_status na_safetensors_get(const na_safetensors *st, const char *label,
                             na_array **out);

/* A read-only view of a tensor over the mapped file (no copy; its pages
 * are read when touched), with the saved names; valid until the file is
 * closed; never write through it. f16 and bool tensors, and misaligned
 * ones, come as a converted copy instead. */
na_status na_safetensors_view(const na_safetensors *st, const char *label, na_array **out);
/* A block of a tensor, reading only its bytes from the mapped file:
 * `ranges` are n NA_RANGE entries (by axis name, step 1), as for
 * na_index_by; the result is a new contiguous array with the saved names.
 * (f16 and bool tensors are converted whole, then cut.) What a process of
 * a sharded model reads (dist.h: na_dist_load_params). */
na_status na_safetensors_get_block(const na_safetensors *st, const char *label, int n,
                                   const na_index *ranges, na_array **out);
/* Every parameter (not state) of a model tree, each once, under its label. */
na_status na_safetensors_save_model(na_layer *model, const char *path);
/* Bind every parameter of the model from the file by label. Strict: a
 * label missing from the file, a tensor in the file that the model lacks,
 * or a shape or dtype mismatch is an error naming the label and shapes,
 * and leaves the model unchanged. */
na_status na_safetensors_load_model(na_layer *model, const char *path);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
