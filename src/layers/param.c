/* Parameters and state: labelled, reference-counted named arrays. */
#include <stdlib.h>
#include <string.h>

#include "layers/layers_internal.h"

na_param *na_param_new(const char *label, na_param_kind kind, na_array *value)
{
    if (!value) {
        na__fail(NA_ERR_ARGUMENT, "na_param_new: value for '%s' is NULL",
                 label ? label : "(unlabelled)");
        return NULL;
    }
    na_param *p = calloc(1, sizeof *p);
    char *l = na__strdup("na_param_new", label ? label : "");
    if (!p || !l) {
        free(p);
        free(l);
        na_array_free(value);
        na__fail(NA_ERR_NO_MEMORY, "na_param_new: out of memory ('%s')",
                 label ? label : "");
        return NULL;
    }
    p->refcount = 1;
    p->kind = kind;
    p->label = l;
    p->value = value;
    return p;
}

na_param *na_param_retain(na_param *p)
{
    if (p)
        __atomic_add_fetch(&p->refcount, 1, __ATOMIC_RELAXED);
    return p;
}

void na_param_release(na_param *p)
{
    if (!p || __atomic_sub_fetch(&p->refcount, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    na_array_free(p->value);
    free(p->label);
    free(p);
}

void na_param_set_value(na_param *p, na_array *value)
{
    if (!p) {
        na_array_free(value);
        return;
    }
    if (value == p->value)
        return;
    na_array_free(p->value);
    p->value = value;
}

na_status na_param_set_label(na_param *p, const char *label)
{
    if (!p || !label)
        return na__fail(NA_ERR_ARGUMENT, "na_param_set_label: parameter and label "
                        "are required");
    char *l = na__strdup("na_param_set_label", label);
    if (!l)
        return NA_ERR_NO_MEMORY;
    free(p->label);
    p->label = l;
    return NA_OK;
}
