/*
 * replay_main.c - runs a fuzz target's LLVMFuzzerTestOneInput on files,
 * without libFuzzer: link it with one fuzz_<target>.c and the core sources
 * it needs (any C compiler, with or without sanitizers).
 * tests/test_corpus_repros.py replays the reproducers in tests/corpus/ this
 * way; a broken invariant aborts and a sanitizer report ends the process
 * with a non-zero status.
 *
 *     replay FILE...      prints "ok FILE" for each file that runs cleanly
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The whole file in a buffer of exactly its size; NULL on error. */
static uint8_t *
read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    long n;
    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        data = malloc(n ? (size_t)n : 1);
        if (data != NULL && fread(data, 1, (size_t)n, f) != (size_t)n) {
            free(data);
            data = NULL;
        }
        *size = (size_t)n;
    }
    fclose(f);
    return data;
}

int
main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        size_t size = 0;
        uint8_t *data = read_file(argv[i], &size);
        if (data == NULL) {
            fprintf(stderr, "cannot read %s\n", argv[i]);
            return 2;
        }
        LLVMFuzzerTestOneInput(data, size);
        free(data);
        printf("ok %s\n", argv[i]);
        fflush(stdout);
    }
    return 0;
}
