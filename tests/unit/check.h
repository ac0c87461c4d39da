/* check.h - the few assertions the C unit tests need; failures print file:line. */
#ifndef CHECK_H
#define CHECK_H
#include <stdio.h>
#include <string.h>

static int check_failures, check_count;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        check_count++;                                                              \
        if (!(cond)) {                                                              \
            check_failures++;                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                           \
    } while (0)

#define CHECK_STR(a, b)                                                                              \
    do {                                                                                             \
        const char *a_ = (a), *b_ = (b);                                                             \
        check_count++;                                                                               \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                     \
            check_failures++;                                                                        \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s == %s\n  got:      %s\n  expected: %s\n",   \
                    __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");             \
        }                                                                                            \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                                                  \
    do {                                                                                             \
        const char *h_ = (hay), *n_ = (needle);                                                      \
        check_count++;                                                                               \
        if (!h_ || !strstr(h_, n_)) {                                                                \
            check_failures++;                                                                        \
            fprintf(stderr, "%s:%d: CHECK_CONTAINS failed: '%s' not in: %s\n", __FILE__, __LINE__,  \
                    n_, h_ ? h_ : "(null)");                                                         \
        }                                                                                            \
    } while (0)

static int check_report(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_count - check_failures, check_failures);
    return check_failures ? 1 : 0;
}
#endif
