/*
 * fuzz_glob.c - globs (core/glob.c) against a plain dynamic-programming matcher written
 * here from the same language description: any disagreement, or a validity verdict that
 * differs, is a failure.  libFuzzer's -timeout catches a matcher that is not linear-ish.
 * Input: byte 0 is the glob's length (mod what is left), then the glob, then the text.
 */
#include <string.h>

#include "cce.h"
#include "fuzz.h"

enum { REF_MAX = 256 };
enum { T_STAR, T_ANY, T_SET };  /* a literal byte is a one-member set */

typedef struct ref_tok {
    int kind;
    unsigned char in[256];  /* T_SET: 1 for the member bytes, negation applied */
} ref_tok;

static ref_tok toks[REF_MAX];

/* Tokens of the glob, or -1 when a set has no member. */
static int ref_compile(const unsigned char *g, size_t n, size_t *count)
{
    size_t i = 0, k = 0;
    while (i < n) {
        ref_tok *t = &toks[k++];
        memset(t, 0, sizeof *t);
        t->kind = T_SET;
        if (g[i] == '*') {
            t->kind = T_STAR;
            i++;
        } else if (g[i] == '?') {
            t->kind = T_ANY;
            i++;
        } else if (g[i] == '\\' && i + 1 < n) {
            t->in[g[i + 1]] = 1;
            i += 2;
        } else if (g[i] == '[') {
            size_t j = i + 1, close = 0;
            int neg = j < n && (g[j] == '!' || g[j] == '^');
            j += neg;
            for (size_t q = j + 1; q < n && !close; q++)
                if (g[q] == ']')
                    close = q;
            if (!close) {
                t->in['['] = 1;
                i++;
                continue;
            }
            int members = 0;
            for (size_t q = j; q < close;) {
                if (g[q] == '\\' && q + 1 < close)
                    q++;
                unsigned lo = g[q], hi = g[q];
                if (q + 2 < close && g[q + 1] == '-') {
                    hi = g[q + 2];
                    q += 3;
                } else {
                    q += 1;
                }
                for (unsigned c = lo; c <= hi; c++, members++)
                    t->in[c] = 1;
            }
            if (!members)
                return -1;
            if (neg)
                for (int c = 0; c < 256; c++)
                    t->in[c] = !t->in[c];
            i = close + 1;
        } else {
            t->in[g[i]] = 1;
            i++;
        }
    }
    *count = k;
    return 0;
}

/* ok[j]: the first i tokens match the first j bytes; rows by token. */
static int ref_match(size_t nt, const unsigned char *s, size_t n)
{
    unsigned char ok[REF_MAX + 1], nx[REF_MAX + 1];
    memset(ok, 0, sizeof ok);
    ok[0] = 1;
    for (size_t i = 0; i < nt; i++) {
        memset(nx, 0, sizeof nx);
        for (size_t j = 0; j <= n; j++) {
            if (toks[i].kind == T_STAR)
                nx[j] = ok[j] || (j > 0 && nx[j - 1]);
            else if (j > 0 && ok[j - 1])
                nx[j] = toks[i].kind == T_ANY || toks[i].in[s[j - 1]];
        }
        memcpy(ok, nx, sizeof ok);
    }
    return ok[n];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t gl = data[0] % size;  /* 0 .. size-1 */
    const char *glob = (const char *)data + 1, *text = glob + gl;
    size_t tl = size - 1 - gl;
    int got = cce_glob_match(glob, gl, text, tl);
    if (got < -1 || got > 1)
        FUZZ_FAIL("cce_glob_match returned %d", got);
    if (gl > REF_MAX || tl > REF_MAX)
        return 0;
    size_t nt = 0;
    int want = ref_compile((const unsigned char *)glob, gl, &nt) < 0 ? -1 : ref_match(nt, (const unsigned char *)text, tl);
    if (got != want)
        FUZZ_FAIL("glob '%.*s' ~ '%.*s': %d, the reference says %d", (int)gl, glob, (int)tl, text, got, want);
    /* A NUL-free glob gets the same verdict from cce_glob_valid. */
    if (memchr(glob, 0, gl) == NULL) {
        char g[REF_MAX + 1];
        memcpy(g, glob, gl);
        g[gl] = '\0';
        if ((cce_glob_valid(g, NULL) == 0) != (want >= 0))
            FUZZ_FAIL("cce_glob_valid disagrees on '%s'", g);
    }
    return 0;
}
