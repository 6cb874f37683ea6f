/* namedarr/model_file.h — a model in one file that rebuilds itself.
 *
 * A model file is a safetensors file (namedarr/safetensors.h) holding every
 * parameter and state variable of a layer tree under its label, with its
 * axis names, plus the architecture: the tree itself, each layer's type
 * name and declared fields (namedarr/fields.h), as JSON in the metadata
 * under "namedarr.model". Loading needs no building code: each layer type
 * is found by name in the registry (na_layer_type_find), allocated, its
 * fields set, and its finish hook run.
 *
 *   na_model_save(model, "model.safetensors");
 *   na_layer *again = NULL;
 *   na_model_load("model.safetensors", &again);   // prints and computes
 *                                                 // exactly like `model`
 *
 * A program with its own layer types registers them first
 * (na_layer_type_register); loading a file that names a type nobody
 * registered is an error naming the type and where it sits in the tree.
 *
 * The JSON, for a Linear inside a Sequential:
 *   {"format": "namedarr.model/1",
 *    "root": {"type": "Sequential", "fields": {"children": [
 *       {"type": "Linear", "fields": {"in": ["embedding"], ...,
 *        "weights": {"param": "mlp/up.weights"}}}]}}}
 * Field values by kind: child -> a node or null; children -> a list of
 * nodes; param / state -> {"param": label} or {"state": label} (a parameter
 * shared by two layers appears twice with one label and loads as one
 * parameter) or null; names -> a list of strings or null; axis and string
 * -> a string or null; int -> a number (a string beyond 2^53); float -> a
 * number, or "inf", "-inf", "nan"; bool; enum -> its name; array ->
 * {"tensor": key} with the array stored in the file under that key, or null.
 *
 * Errors (status and message, nothing half-built is returned): an
 * unregistered type, a field missing from the file or unknown to the type,
 * a value of the wrong kind, a label without its tensor, truncated or
 * malformed JSON, a file that is not a model file.
 */
#ifndef NAMEDARR_MODEL_FILE_H
#define NAMEDARR_MODEL_FILE_H

#include "namedarr/layer.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default) /* the na_ API; the rest is hidden */

/* The metadata key holding the architecture. */
#define NA_MODEL_METADATA_KEY "namedarr.model"

/* Write `model` (parameters, state and architecture) to `path`. Every layer
 * in it needs a field table; two different parameters may not share a
 * label. */
na_status na_model_save(const na_layer *model, const char *path);

/* Rebuild the model saved in `path`; *out is a new tree (free it with
 * na_layer_free). */
na_status na_model_load(const char *path, na_layer **out);

/* The architecture alone, as the JSON text stored in a model file
 * (malloc'ed; free it with free()). */
na_status na_model_architecture_json(const na_layer *model, char **out);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
