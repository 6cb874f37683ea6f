/* Threads: every parallel loop of the library with arrays big enough that
 * the worker threads really take part, checked against one thread, and
 * several user threads calling the library at once. The cases live in
 * threads_cases.h, which the ThreadSanitizer program also runs
 * (scripts/tsan.sh). */
#include "support.h"

#include "threads_cases.h"

static void setup(void) { cr_assert(tc_setup(), "setup: %s", na_last_error()); }

TestSuite(threads, .init = setup, .fini = tc_teardown, .timeout = 600);

#define TC_TEST(name)                                                         \
    Test(threads, name)                                                       \
    {                                                                         \
        const char *err = tc_##name();                                        \
        cr_assert_null(err, "%s", err);                                       \
    }

TC_TEST(elementwise_and_copies)
TC_TEST(reductions)
TC_TEST(contraction_and_attention)
TC_TEST(user_threads)
