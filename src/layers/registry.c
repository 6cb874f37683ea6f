/* The registry of layer types by name (fields.h): the built-in types of
 * this module from the start, the attention module's when it is linked
 * (it registers them itself), and whatever a program registers. */
#include <pthread.h>
#include <string.h>

#include "layers/layers_internal.h"
#include "namedarr/combinators.h"
#include "namedarr/fields.h"
#include "namedarr/layers.h"

#define REGISTRY_CAP 512

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static const na_layer_type *g_types[REGISTRY_CAP];
static int g_count;

static const na_layer_type *const builtin[] = {
    &na_sequential_type, &na_named_group_type, &na_branch_add_type,
    &na_branch_mul_type, &na_residual_type, &na_identity_type,
    &na_check_structure_type, &na_linear_type, &na_add_bias_type,
    &na_affine_type, &na_named_einsum_type, &na_rename_axes_type,
    &na_constant_rescale_type, &na_cast_to_dtype_type, &na_standardize_type,
    &na_rms_standardize_type, &na_layer_norm_type, &na_rms_layer_norm_type,
    &na_softmax_layer_type, &na_elementwise_type, &na_tanh_soft_cap_type,
    &na_dropout_type, &na_embedding_lookup_type, &na_embedding_decode_type,
    &na_apply_rope_type, &na_apply_rope_subset_type,
};

/* Under the lock. */
static const na_layer_type *find_locked(const char *name)
{
    for (int i = 0; i < g_count; i++)
        if (strcmp(g_types[i]->name, name) == 0)
            return g_types[i];
    return NULL;
}

static na_status add_locked(const na_layer_type *type)
{
    const na_layer_type *old = find_locked(type->name);
    if (old == type)
        return NA_OK;
    if (old)
        return na__fail(NA_ERR_ARGUMENT, "na_layer_type_register: another type is "
                        "already registered as '%s'", type->name);
    if (g_count == REGISTRY_CAP)
        return na__fail(NA_ERR_NO_MEMORY, "na_layer_type_register: registry full "
                        "(%d types)", REGISTRY_CAP);
    g_types[g_count++] = type;
    return NA_OK;
}

static void register_builtin(void)
{
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        if (na__layer_declared(&(na_layer){builtin[i]}))
            add_locked(builtin[i]);
    pthread_mutex_unlock(&g_lock);
}

na_status na_layer_type_register(const na_layer_type *type)
{
    pthread_once(&g_once, register_builtin);
    if (!type || !type->name || !type->name[0] || !type->call ||
        type->size < sizeof(na_layer) || (type->field_count > 0 && !type->fields) ||
        type->field_count < 0)
        return na__fail(NA_ERR_ARGUMENT, "na_layer_type_register: type %s needs a "
                        "name, a call function, a size and its field table",
                        type && type->name ? type->name : "(unnamed)");
    pthread_mutex_lock(&g_lock);
    na_status st = add_locked(type);
    pthread_mutex_unlock(&g_lock);
    return st;
}

const na_layer_type *na_layer_type_find(const char *name)
{
    pthread_once(&g_once, register_builtin);
    if (!name)
        return NULL;
    pthread_mutex_lock(&g_lock);
    const na_layer_type *t = find_locked(name);
    pthread_mutex_unlock(&g_lock);
    return t;
}

int na_layer_type_registered_count(void)
{
    pthread_once(&g_once, register_builtin);
    pthread_mutex_lock(&g_lock);
    int n = g_count;
    pthread_mutex_unlock(&g_lock);
    return n;
}

const na_layer_type *na_layer_type_registered_at(int i)
{
    pthread_once(&g_once, register_builtin);
    pthread_mutex_lock(&g_lock);
    const na_layer_type *t = i >= 0 && i < g_count ? g_types[i] : NULL;
    pthread_mutex_unlock(&g_lock);
    return t;
}
