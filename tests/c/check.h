/*
 * check.h - the failure counter and the CHECK macros of the C test programs
 * in tests/c.
 *
 * Each test program includes this header once, checks with CHECK() (or
 * CHECK_MSG() where the condition alone does not say enough), and at the end
 * of main() exits 1 when `failures` is not zero.  A failed check is printed
 * to stderr with its file and line and the run goes on, so one run reports
 * every failure.  The counter is static: one per program, nothing shared
 * between programs.
 */
#ifndef RD_TESTS_CHECK_H
#define RD_TESTS_CHECK_H

#include <stdio.h>

static int failures;

/* Count and print a failed condition. */
#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
            failures++;                                                      \
        }                                                                    \
    } while (0)

/* CHECK, printing a printf-style message (the values involved) as well. */
#define CHECK_MSG(cond, ...)                                                 \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, \
                    #cond);                                                  \
            fprintf(stderr, __VA_ARGS__);                                    \
            fprintf(stderr, "\n");                                           \
            failures++;                                                      \
        }                                                                    \
    } while (0)

#endif /* RD_TESTS_CHECK_H */
