/*
 * testfile.h — the unit tests' one way to read a fixture file (the samples under
 * ../shared, files a test wrote): the whole file, NUL-terminated, or the test fails.
 * Include it after cmocka.h.
 */
#ifndef MCX_TESTFILE_H
#define MCX_TESTFILE_H

#include <stdio.h>

#include "server/util.h"

static inline char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct buf b;
    char chunk[65536];
    size_t n;

    if (f == NULL)
        fail_msg("cannot open %s", path);
    buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    return buf_steal(&b, len);
}

#endif
