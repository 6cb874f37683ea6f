/* namedarr/namedarr.h — the whole public API in one include.
 *
 *   #include <namedarr/namedarr.h>
 *
 * Modules (each header opens with what it is for and a short example):
 *   status.h       status codes, the per-thread error message
 *   array.h        the named array: views, indexing, math, reductions
 *   contract.h     contraction by names (na_contract, na_einsum)
 *   runtime.h      threads, BLIS kernels in use, memory reuse
 *   layer.h        the layer protocol: values, side inputs, parameters,
 *                  declared fields
 *   fields.h       fields by name, clone, equality, the type registry
 *   combinators.h  Sequential, Residual, Branch..., NamedGroup
 *   layers.h       the standard layers (Linear, norms, RoPE, ...)
 *   init.h         seeded initializers
 *   tree.h         walk, select, edit, capture, bind and list parameters
 *   print.h        the pretty-printers (text, HTML)
 *   attention.h    the Attention combinator, builders, KV caching
 *   masks.h        attention masks from side inputs, Flax-style helpers
 *   safetensors.h  parameters saved and loaded with their axis names
 *   model_file.h   a model in one file: parameters, state and the tree
 *   checkpoint.h   Hugging Face checkpoint layouts
 */
#ifndef NAMEDARR_H
#define NAMEDARR_H

#include "namedarr/status.h"
#include "namedarr/array.h"
#include "namedarr/contract.h"
#include "namedarr/runtime.h"
#include "namedarr/layer.h"
#include "namedarr/fields.h"
#include "namedarr/combinators.h"
#include "namedarr/layers.h"
#include "namedarr/init.h"
#include "namedarr/tree.h"
#include "namedarr/print.h"
#include "namedarr/attention.h"
#include "namedarr/attention_fn.h"
#include "namedarr/masks.h"
#include "namedarr/models.h"
#include "namedarr/safetensors.h"
#include "namedarr/model_file.h"
#include "namedarr/checkpoint.h"
#include "namedarr/tokenizer.h"
#include "namedarr/generate.h"

#define NAMEDARR_VERSION_MAJOR 0
#define NAMEDARR_VERSION_MINOR 1
#define NAMEDARR_VERSION_PATCH 0

#endif
