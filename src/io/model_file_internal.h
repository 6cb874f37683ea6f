/* Shared by model_save.c and model_load.c (not installed). */
#ifndef NAMEDARR_MODEL_FILE_INTERNAL_H
#define NAMEDARR_MODEL_FILE_INTERNAL_H

#include "core/internal.h"
#include "namedarr/fields.h"
#include "namedarr/layer.h"
#include "namedarr/model_file.h"
#include "namedarr/safetensors.h"

/* The "format" of the architecture JSON. */
#define NA__MODEL_FORMAT "namedarr.model/1"
/* Array fields are stored as tensors under this prefix and a number. */
#define NA__MODEL_ARRAY_PREFIX "namedarr.array."
/* Paths in messages are cut at this length. */
#define NA__MODEL_PATH_MAX 512

#endif
