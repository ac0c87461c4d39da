/* fuzz.h - what every harness in tests/fuzz shares. */
#ifndef CCE_FUZZ_H
#define CCE_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* libFuzzer's entry point (also called by replay.c for the committed inputs). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property failed: print why and abort, so that libFuzzer (or ctest) records the input as a crash. */
#define FUZZ_FAIL(...)                                                  \
    do {                                                                \
        fprintf(stderr, "%s:%d: property failed: ", __FILE__, __LINE__); \
        fprintf(stderr, __VA_ARGS__);                                   \
        fputc('\n', stderr);                                            \
        abort();                                                        \
    } while (0)
#endif
