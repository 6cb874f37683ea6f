/* The path of the layer being called, for error messages: every
 * na_layer_call pushes a frame on a per-thread stack, and a failure names
 * the failing layer by its path from the outermost call
 * ("block_1/attention/query_key_to_attn"). */
#include <stdio.h>
#include <string.h>

#include "layers/tree_internal.h"

static _Thread_local na__call_frame *tl_frames;

void na__call_frame_push(na__call_frame *frame, na_layer *layer)
{
    frame->layer = layer;
    frame->prev = tl_frames;
    tl_frames = frame;
}

void na__call_frame_pop(na__call_frame *frame)
{
    tl_frames = frame->prev;
}

/* Append "/name" (no slash at the start) to buf, truncating. */
static void append(char *buf, size_t cap, const char *name)
{
    size_t len = strlen(buf);
    if (len + 1 < cap)
        snprintf(buf + len, cap - len, "%s%s", len ? "/" : "", name);
}

/* Append the path from `from` down to its descendant `to`; false (buf
 * unchanged) when `to` is not below `from`. */
static bool append_descendant(char *buf, size_t cap, const na_layer *from,
                              const na_layer *to, int depth)
{
    int n = na_layer_child_count(from);
    size_t len = strlen(buf);
    for (int i = 0; i < n && depth < 64; i++) {
        const na_layer *child = na_layer_child(from, i);
        if (!child)
            continue;
        char num[16];
        append(buf, cap, na__child_name(from, i, num, sizeof num));
        if (child == to || append_descendant(buf, cap, child, to, depth + 1))
            return true;
        buf[len] = '\0';
    }
    return false;
}

const char *na__call_path(const na__call_frame *frame, char *buf, size_t cap)
{
    const na__call_frame *chain[64];
    int n = 0;
    for (const na__call_frame *f = frame; f && n < 64; f = f->prev)
        chain[n++] = f;
    buf[0] = '\0';
    if (n == 64)
        append(buf, cap, "...");
    for (int i = n - 2; i >= 0; i--) {
        const na_layer *caller = chain[i + 1]->layer, *callee = chain[i]->layer;
        if (!append_descendant(buf, cap, caller, callee, 0)) {
            char other[64];
            snprintf(other, sizeof other, "<%s>", na_layer_type_name(callee));
            append(buf, cap, other);
        }
    }
    return buf;
}
