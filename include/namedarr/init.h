/* namedarr/init.h — seeded initializers for parameters with named axes.
 *
 * An initializer fills a new array whose axes are split in three groups,
 * as in Penzai: *input* axes (contracted with a layer's input), *output*
 * axes (produced by the layer) and *parallel* axes (one independent
 * operator per slice). Fan-in and fan-out are products over the input and
 * output axes only, so a stack of per-head projections is scaled like one.
 *
 *   // weights {embedding:512, heads:8, projection:64}, fan_in 512, fan_out 64
 *   na_init init = na_init_xavier_uniform();
 *   na_array *w = NULL;
 *   na_init_options o = {.init = &init, .seed = 42,
 *                        .n_in = 1, .in = (na_dim[]){{"embedding", 512}},
 *                        .n_out = 1, .out = (na_dim[]){{"projection", 64}},
 *                        .n_parallel = 1, .parallel = (na_dim[]){{"heads", 8}}};
 *   na_init_array_ex(&o, &w);                  // dtype 0 is f32
 *
 *   // without parallel axes, f32:
 *   na_init_array(&init, 42, NA_DIMS({"embedding", 512}),
 *                 NA_DIMS({"projection", 64}), &w);
 *
 * Random numbers come from the counter-based generator (na_random_*): a
 * seed gives the same array on every machine and thread count. Layers
 * derive each parameter's seed from their seed and the parameter's label
 * (na_init_seed_for), so one seed for a whole model still gives every
 * parameter its own numbers.
 */
#ifndef NAMEDARR_INIT_H
#define NAMEDARR_INIT_H

#include <stdint.h>

#include "namedarr/array.h"
#include "namedarr/layer.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default) /* the na_ API; the rest is hidden */

typedef enum na_init_kind {
    NA_INIT_CONSTANT = 0,     /* every element = value (zeros, ones)        */
    NA_INIT_VARIANCE_SCALING  /* random, variance = scale / n               */
} na_init_kind;

/* Which fan is n in variance = scale / n. */
typedef enum na_fan_mode { NA_FAN_IN = 0, NA_FAN_OUT, NA_FAN_AVG } na_fan_mode;

typedef enum na_init_distribution {
    NA_DIST_NORMAL = 0,        /* N(0, variance)                              */
    NA_DIST_TRUNCATED_NORMAL,  /* N(0, s^2) cut at +-2s, s chosen so the     */
                               /* truncated variance is `variance`           */
    NA_DIST_UNIFORM            /* U(-sqrt(3 variance), +sqrt(3 variance))     */
} na_init_distribution;

/* A plain value: build it with the functions below or by hand. */
typedef struct na_init {
    na_init_kind kind;
    double value;                      /* NA_INIT_CONSTANT                    */
    double scale;                      /* NA_INIT_VARIANCE_SCALING            */
    na_fan_mode mode;
    na_init_distribution distribution;
    double fan_in, fan_out;            /* > 0: used instead of the products   */
                                       /* over the input / output axes (a     */
                                       /* framework's own fan rule, e.g.      */
                                       /* Keras's einsum shapes); 0: computed */
} na_init;

na_init na_init_zeros(void);
na_init na_init_ones(void);
na_init na_init_constant(double value);
/* Glorot: variance 1 / fan_avg, uniform or normal. */
na_init na_init_xavier_uniform(void);
na_init na_init_xavier_normal(void);
/* LeCun normal (1 / fan_in, truncated normal) and He normal (2 / fan_in,
 * truncated normal), as in Flax/Keras. */
na_init na_init_lecun_normal(void);
na_init na_init_he_normal(void);
na_init na_init_variance_scaling(double scale, na_fan_mode mode,
                                 na_init_distribution distribution);

/* Options of na_init_array_ex and na_init_param_ex (zeroed = default). */
typedef struct na_init_options {
    const na_init *init;          /* NULL: xavier uniform                    */
    uint64_t seed;
    na_dtype dtype;               /* NA_F32 (0) or NA_F64                    */
    int n_in;                     /* input axes (fan in)                     */
    const na_dim *in;
    int n_out;                    /* output axes (fan out)                   */
    const na_dim *out;
    int n_parallel;               /* parallel axes (no fan); 0: none         */
    const na_dim *parallel;
} na_init_options;

/* A new array with dims in, out, parallel (in that order; names must be
 * distinct), filled by `init` from `seed`. Errors: a repeated name, a
 * negative size, a non-positive scale, a dtype other than f32/f64.
 * na_init_array: f32, no parallel axes; NULL `init` means xavier uniform. */
na_status na_init_array(const na_init *init, uint64_t seed, int n_in, const na_dim *in,
                        int n_out, const na_dim *out_dims, na_array **out);
na_status na_init_array_ex(const na_init_options *opt, na_array **out);

/* The same, wrapped in a new NA_PARAM labelled `label`, drawn from
 * na_init_seed_for(seed, label). */
na_status na_init_param(const char *label, const na_init *init, uint64_t seed,
                        int n_in, const na_dim *in, int n_out, const na_dim *out_dims,
                        na_param **out);
na_status na_init_param_ex(const char *label, const na_init_options *opt,
                           na_param **out);

/* The seed for parameter `label` under base seed `seed` (a hash of both). */
uint64_t na_init_seed_for(uint64_t seed, const char *label);

/* A short description ("xavier_uniform", "constant(0)",
 * "variance_scaling(2, fan_in, truncated_normal)") written into buf. */
const char *na_init_describe(const na_init *init, char *buf, size_t cap);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
