/* libFuzzer target: the safetensors reader. The input is a whole file: it is
 * written to an anonymous memory file and opened by its /proc path, then
 * every tensor is read and summed, and the file is loaded into a small
 * model (strict binding by label). */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"

static na_layer *g_model; /* Linear "w" {a:2} -> {b:3}: label "w.weights" */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (na_linear_new("w", 1, &(na_dim){"a", 2}, 1, &(na_dim){"b", 3}, 1, &g_model) !=
        NA_OK)
        abort();
    return 0;
}

static void read_all(const char *path)
{
    na_safetensors *st = NULL;
    na_status s = na_safetensors_open(path, &st);
    fuzz_check_failure(s);
    if (s != NA_OK)
        return;
    int n = na_safetensors_count(st);
    for (int i = 0; i < n; i++) {
        const char *label = na_safetensors_label(st, i);
        if (!label)
            abort();
        na_array *x = NULL;
        s = na_safetensors_get(st, label, &x);
        fuzz_check_failure(s);
        if (s == NA_OK)
            fuzz_touch(x);
        na_array_free(x);
    }
    na_safetensors_close(st);
    fuzz_check_failure(na_safetensors_load_model(g_model, path));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz.safetensors", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0)
            abort();
        done += (size_t)w;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    read_all(path);
    close(fd);
    return 0;
}
