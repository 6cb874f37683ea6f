/* Axis-name interning: xxHash over the bytes, an open-addressing table of
 * canonical copies guarded by a mutex. Interned names live until exit. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "internal.h"

typedef struct slot {
    uint64_t hash;
    const char *name;
} slot;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static slot *g_slots;
static size_t g_cap, g_count;

static const char *probe(slot *slots, size_t cap, uint64_t h, const char *s,
                         size_t len, size_t *where)
{
    size_t i = (size_t)h & (cap - 1);
    for (;;) {
        if (!slots[i].name) {
            *where = i;
            return NULL;
        }
        if (slots[i].hash == h && strncmp(slots[i].name, s, len) == 0 &&
            slots[i].name[len] == '\0')
            return slots[i].name;
        i = (i + 1) & (cap - 1);
    }
}

static bool grow(void)
{
    size_t cap = g_cap ? g_cap * 2 : 256;
    slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return false;
    for (size_t i = 0; i < g_cap; i++) {
        if (!g_slots[i].name)
            continue;
        size_t j = (size_t)g_slots[i].hash & (cap - 1);
        while (slots[j].name)
            j = (j + 1) & (cap - 1);
        slots[j] = g_slots[i];
    }
    free(g_slots);
    g_slots = slots;
    g_cap = cap;
    return true;
}

/* Whether `name` is itself a canonical interned copy (internal code hands
 * its reserved names around as those pointers; text from outside never is). */
static bool is_interned(const char *name)
{
    size_t len = strlen(name), where = 0;
    uint64_t h = XXH3_64bits(name, len);
    pthread_mutex_lock(&g_lock);
    bool yes = g_cap && probe(g_slots, g_cap, h, name, len, &where) == name;
    pthread_mutex_unlock(&g_lock);
    return yes;
}

const char *na_intern(const char *name)
{
    if (!name || !name[0]) {
        na__fail(NA_ERR_ARGUMENT, "na_intern: axis name is %s",
                 name ? "empty" : "NULL");
        return NULL;
    }
    if (name[0] == NA__RESERVED_NAME_BYTE && !is_interned(name)) {
        na__fail(NA_ERR_AXIS,
                 "na_intern: axis name \"\\x1f%s\" starts with the byte 0x1f, "
                 "which is reserved for internal names",
                 name + 1);
        return NULL;
    }
    return na__intern_reserved(name);
}

const char *na__intern_reserved(const char *name)
{
    size_t len = strlen(name);
    uint64_t h = XXH3_64bits(name, len);
    const char *found = NULL;
    pthread_mutex_lock(&g_lock);
    size_t where = 0;
    if (g_cap && (found = probe(g_slots, g_cap, h, name, len, &where)))
        goto done;
    if ((g_count + 1) * 2 > g_cap) {
        if (!grow())
            goto oom;
        probe(g_slots, g_cap, h, name, len, &where);
    }
    char *copy = malloc(len + 1);
    if (!copy)
        goto oom;
    memcpy(copy, name, len + 1);
    g_slots[where] = (slot){h, copy};
    g_count++;
    found = copy;
done:
    pthread_mutex_unlock(&g_lock);
    return found;
oom:
    pthread_mutex_unlock(&g_lock);
    na__fail(NA_ERR_NO_MEMORY, "na_intern: out of memory interning '%s'", name);
    return NULL;
}
