/*
 * save_loop.c - driver for tests/unit/test_crash.sh.
 *
 *   save_loop PATH N [TIMEOUT_MS]   N times: lock PATH, read it (it must be
 *                                   complete), write_atomic a new self-checking
 *                                   version, unlock.  Exit 0, or 1 on an error,
 *                                   3 when PATH was found corrupt.
 *   save_loop --check PATH          verifies PATH; prints "ok seq=S len=L",
 *                                   exit 0, or the problem, exit 1.
 *
 * A version is a header line and a payload of 50-500 KB:
 *   "# cce-save-loop seq=<S> len=<payload bytes> sum=<FNV-1a 64, hex>\n"
 * followed by YAML comment lines, so a file cut anywhere does not verify.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define HEADER_FMT "# cce-save-loop seq=%lu len=%zu sum=%016" PRIx64 "\n"

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* 0 and the version's seq when `data` is a complete version; -1 and why otherwise. */
static int verify(const char *data, size_t len, unsigned long *seq, char *why, size_t whylen)
{
    const char *nl = memchr(data, '\n', len);
    unsigned long s;
    size_t plen;
    uint64_t sum;
    char *end;
    if (!nl || strncmp(data, "# cce-save-loop seq=", 20) != 0) {
        snprintf(why, whylen, "no header (%zu bytes)", len);
        return -1;
    }
    s = strtoul(data + 20, &end, 10);
    if (strncmp(end, " len=", 5) != 0) {
        snprintf(why, whylen, "bad header");
        return -1;
    }
    plen = (size_t)strtoull(end + 5, &end, 10);
    if (strncmp(end, " sum=", 5) != 0) {
        snprintf(why, whylen, "bad header");
        return -1;
    }
    sum = (uint64_t)strtoull(end + 5, &end, 16);
    if (end != nl) {
        snprintf(why, whylen, "bad header");
        return -1;
    }
    size_t have = len - (size_t)(nl + 1 - data);
    if (have != plen) {
        snprintf(why, whylen, "truncated or extended: payload %zu bytes, header says %zu", have, plen);
        return -1;
    }
    if (fnv1a(nl + 1, plen) != sum) {
        snprintf(why, whylen, "checksum mismatch (seq %lu)", s);
        return -1;
    }
    *seq = s;
    return 0;
}

static int check_file(const char *path)
{
    cce_buf b = {0};
    cce_error e = {0};
    int missing = 0;
    if (cce_file_read(path, &b, &missing, &e) < 0) {
        printf("error: %s\n", e.message);
        cce_error_clear(&e);
        return 1;
    }
    if (missing) {
        printf("missing: %s\n", path);
        cce_buf_free(&b);
        return 1;
    }
    unsigned long seq = 0;
    char why[200];
    int rc = verify(b.data, b.len, &seq, why, sizeof why);
    if (rc == 0)
        printf("ok seq=%lu len=%zu\n", seq, b.len);
    else
        printf("corrupt: %s: %s\n", path, why);
    cce_buf_free(&b);
    return rc == 0 ? 0 : 1;
}

static void make_version(cce_buf *out, unsigned long seq, unsigned *rng)
{
    cce_buf payload = {0};
    size_t target = 50 * 1024 + (size_t)(rand_r(rng) % (450 * 1024));
    cce_buf_printf(&payload, "# version %lu\n", seq);
    while (payload.len < target)
        cce_buf_printf(&payload, "# %lu %08x %08x %08x line %zu\n", seq, (unsigned)rand_r(rng),
                       (unsigned)rand_r(rng), (unsigned)rand_r(rng), payload.len);
    out->len = 0;
    cce_buf_printf(out, HEADER_FMT, seq, payload.len, fnv1a(payload.data, payload.len));
    cce_buf_append(out, payload.data, payload.len);
    cce_buf_free(&payload);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--check") == 0)
        return check_file(argv[2]);
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: save_loop PATH N [TIMEOUT_MS] | save_loop --check PATH\n");
        return 2;
    }
    const char *path = argv[1];
    long n = strtol(argv[2], NULL, 10);
    long timeout = argc == 4 ? strtol(argv[3], NULL, 10) : 10000;
    unsigned rng = (unsigned)getpid() ^ (unsigned)time(NULL);
    cce_buf cur = {0}, next = {0};
    int rc = 0;

    for (long i = 0; i < n; i++) {
        cce_error e = {0};
        cce_lock *l = cce_lock_acquire(path, timeout, &e);
        if (!l) {
            fprintf(stderr, "save_loop: %s: %s\n", e.code, e.message);
            cce_error_clear(&e);
            rc = 1;
            break;
        }
        int missing = 0;
        unsigned long seq = 0;
        char why[200];
        if (cce_file_read(path, &cur, &missing, &e) < 0) {
            fprintf(stderr, "save_loop: %s\n", e.message);
            rc = 1;
        } else if (!missing && verify(cur.data, cur.len, &seq, why, sizeof why) < 0) {
            fprintf(stderr, "save_loop: %s is corrupt: %s\n", path, why);
            rc = 3;
        } else {
            make_version(&next, seq + 1, &rng);
            if (cce_file_write_atomic(path, next.data, next.len, 0600, &e) < 0) {
                fprintf(stderr, "save_loop: %s\n", e.message);
                rc = 1;
            }
        }
        cce_error_clear(&e);
        cce_lock_release(l);
        if (rc)
            break;
    }
    cce_buf_free(&cur);
    cce_buf_free(&next);
    return rc;
}
