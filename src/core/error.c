/* Per-thread error state. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define NA__MSG_CAP 2048
#define NA__RING 8
#define NA__RING_CAP 512

static _Thread_local char tl_msg[NA__MSG_CAP];
static _Thread_local na_status tl_status;
static _Thread_local char tl_ring[NA__RING][NA__RING_CAP];
static _Thread_local unsigned tl_ring_next;

const char *na_last_error(void) { return tl_msg; }
na_status na_last_status(void) { return tl_status; }

void na_clear_error(void)
{
    tl_msg[0] = '\0';
    tl_status = NA_OK;
}

const char *na_status_name(na_status status)
{
    switch (status) {
    case NA_OK: return "NA_OK";
    case NA_ERR_ARGUMENT: return "NA_ERR_ARGUMENT";
    case NA_ERR_AXIS: return "NA_ERR_AXIS";
    case NA_ERR_SHAPE: return "NA_ERR_SHAPE";
    case NA_ERR_DTYPE: return "NA_ERR_DTYPE";
    case NA_ERR_INDEX: return "NA_ERR_INDEX";
    case NA_ERR_NOT_FOUND: return "NA_ERR_NOT_FOUND";
    case NA_ERR_STATE: return "NA_ERR_STATE";
    case NA_ERR_NO_MEMORY: return "NA_ERR_NO_MEMORY";
    case NA_ERR_IO: return "NA_ERR_IO";
    case NA_ERR_FORMAT: return "NA_ERR_FORMAT";
    case NA_ERR_UNSUPPORTED: return "NA_ERR_UNSUPPORTED";
    }
    return "NA_ERR_UNKNOWN";
}

static na_status vfail(na_status status, const char *fmt, va_list ap)
{
    vsnprintf(tl_msg, sizeof tl_msg, fmt, ap);
    tl_status = status;
    return status;
}

na_status na_fail(na_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(status, fmt, ap);
    va_end(ap);
    return status;
}

/* The library's own name for the same function. */
extern __typeof__(na_fail) na__fail __attribute__((alias("na_fail")));

void na__fail_append(const char *fmt, ...)
{
    size_t used = strlen(tl_msg);
    if (used + 1 >= sizeof tl_msg)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tl_msg + used, sizeof tl_msg - used, fmt, ap);
    va_end(ap);
}

na_status na__fail_in(const char *op, na_status status)
{
    size_t n = strlen(op);
    if (strncmp(tl_msg, op, n) == 0 && tl_msg[n] == ':')
        return status;
    if (!tl_msg[0])
        snprintf(tl_msg, sizeof tl_msg, "failed (%s)", na_status_name(status));
    size_t used = strlen(tl_msg), shift = n + 2;
    if (shift >= sizeof tl_msg)
        return status;
    if (used + shift >= sizeof tl_msg)
        used = sizeof tl_msg - shift - 1; /* cut the tail */
    memmove(tl_msg + shift, tl_msg, used);
    tl_msg[shift + used] = '\0';
    memcpy(tl_msg, op, n);
    memcpy(tl_msg + n, ": ", 2);
    tl_status = status;
    return status;
}

static char *ring_slot(void)
{
    char *slot = tl_ring[tl_ring_next++ % NA__RING];
    slot[0] = '\0';
    return slot;
}

const char *na__shape(const na_array *x)
{
    char *slot = ring_slot();
    if (!x) {
        snprintf(slot, NA__RING_CAP, "(null)");
        return slot;
    }
    na_shape_str(x, slot, NA__RING_CAP);
    return slot;
}

const char *na__names(const char *const *names)
{
    char *slot = ring_slot();
    size_t used = 0;
    for (int i = 0; names && names[i] && used + 1 < NA__RING_CAP; i++) {
        int w = snprintf(slot + used, NA__RING_CAP - used, "%s%s",
                         i ? ", " : "", names[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    return slot;
}
