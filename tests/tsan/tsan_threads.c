/* The threaded cases (tests/threads_cases.h) as a plain program, for the
 * ThreadSanitizer build (scripts/tsan.sh): Criterion cannot start under
 * TSan. Exit status 0 when every case passes. */
#include "threads_cases.h"

int main(void)
{
    if (!tc_setup()) {
        fprintf(stderr, "setup: %s\n", na_last_error());
        return 1;
    }
    struct {
        const char *name;
        const char *(*run)(void);
    } cases[] = {{"elementwise_and_copies", tc_elementwise_and_copies},
                 {"reductions", tc_reductions},
                 {"contraction_and_attention", tc_contraction_and_attention},
                 {"user_threads", tc_user_threads}};
    int failed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *err = cases[i].run();
        printf("%-28s %s%s\n", cases[i].name, err ? "FAIL: " : "ok", err ? err : "");
        failed += err != NULL;
    }
    tc_teardown();
    return failed ? 1 : 0;
}
