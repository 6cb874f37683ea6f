/* A program outside the namedarr tree, built against the installed copy. */
#include <namedarr/namedarr.h>
#include <stdio.h>

int main(void)
{
    na_array *a = NULL, *b = NULL, *c = NULL;
    if (na_ones(NA_F32, NA_DIMS({"foo", 2}, {"bar", 3}), &a) != NA_OK ||
        na_ones(NA_F32, NA_DIMS({"bar", 3}, {"foo", 2}), &b) != NA_OK ||
        na_add(a, b, &c) != NA_OK) {
        fprintf(stderr, "%s\n", na_last_error());
        return 1;
    }
    na_array_print(c, stdout);
    int ok = ((float *)na_data(c))[0] == 2.0f;
    na_array_free(a);
    na_array_free(b);
    na_array_free(c);
    return ok ? 0 : 1;
}
