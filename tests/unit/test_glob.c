/*
 * test_glob.c - the shell globs of --match and --version (core/glob.c): the language
 * fleet.lua has always accepted, and matching that stays linear-ish on patterns a
 * backtracking matcher never finishes.  (tests/scripts/test_tools.lua also checks,
 * on random globs, that it agrees with the Lua pattern fleet.lua used to build.)
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "internal.h"

static int m(const char *glob, const char *text)
{
    return cce_glob_match(glob, strlen(glob), text, strlen(text));
}

static void test_language(void)
{
    static const struct { const char *glob, *text; int want; } cases[] = {
        { "prod-*", "prod-000", 1 }, { "prod-*", "xprod-000", 0 }, { "prod-00?", "prod-0001", 0 },
        { "prod-00?", "prod-001", 1 }, { "*", "", 1 }, { "?", "", 0 }, { "", "", 1 }, { "", "a", 0 },
        { "a.b", "a.b", 1 }, { "a.b", "axb", 0 }, { "x%y", "x%y", 1 }, { "(x)+", "(x)+", 1 }, { "$^", "$^", 1 },
        /* sets, ranges, negation */
        { "[!a]*", "bcd", 1 }, { "[!a]*", "abc", 0 }, { "[^0-9]", "5", 0 }, { "[^0-9]", "x", 1 },
        { "[a-c]", "b", 1 }, { "[a-c]", "d", 0 }, { "[a-]x", "-x", 1 }, { "[a-]x", "ax", 1 }, { "[-a]", "-", 1 },
        { "[]]", "]", 1 }, { "[!]]", "]", 0 }, { "[!]]", "x", 1 }, { "[%]", "%", 1 }, { "[+--]", ",", 1 },
        { "[a-cx-z]", "y", 1 }, { "[a-cx-z]", "m", 0 }, { "[0-z]", "Q", 1 }, { "[z-ab]", "b", 1 },
        { "[z-ab]", "m", 0 }, { "[a-b-c]", "-", 1 }, { "[a-b-c]", "c", 1 },
        /* escapes: outside a set, inside one, a range's first end; a trailing backslash is literal;
           a set still ends at the first `]` after its first member, escaped or not */
        { "\\*", "*", 1 }, { "\\*", "a", 0 }, { "\\?", "?", 1 }, { "\\[a]", "[a]", 1 }, { "a\\", "a\\", 1 },
        { "[\\]]", "\\]", 1 }, { "[\\]]", "]", 0 }, { "[\\-]", "-", 1 }, { "[\\!a]", "!", 1 }, { "[\\a-c]", "b", 1 }, { "[a\\]", "\\", 1 },
        /* a `[` with no closing `]` is literal, and so is what follows it */
        { "a[", "a[", 1 }, { "[!a", "[!a", 1 }, { "[", "[", 1 }, { "[]", "[]", 1 },
        /* stars */
        { "*a", "bba", 1 }, { "*a", "ab", 0 }, { "a*b*c", "aXbYbZc", 1 }, { "a*b*c", "aXbYbZ", 0 },
        { "**", "x", 1 }, { "*?*", "", 0 }, { "*?", "x", 1 }, { "a*", "a", 1 }, { "*ab", "aab", 1 },
        { "*[0-9]-*", "prod-eu-7-x", 1 }, { "v1.28*", "v1.28.3-r0", 1 }, { "v1.28*", "v1.29.0", 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = m(cases[i].glob, cases[i].text);
        if (got != cases[i].want)
            fprintf(stderr, "glob '%s' ~ '%s': got %d, want %d\n", cases[i].glob, cases[i].text, got,
                    cases[i].want);
        CHECK(got == cases[i].want);
    }
    /* Bytes, not characters: a UTF-8 letter is two `?`; NUL bytes inside the lengths count. */
    CHECK(m("??", "\xc3\xa9") == 1);
    CHECK(m("?", "\xc3\xa9") == 0);
    CHECK(m("[\xc3]?", "\xc3\xa9") == 1);
    CHECK(cce_glob_match("a?b", 3, "a\0b", 3) == 1);
    CHECK(cce_glob_match("a*", 2, "a\0\0", 3) == 1);
    CHECK(cce_glob_match("ab", 1, "a", 1) == 1);   /* glen, not strlen */
}

static void test_invalid(void)
{
    cce_error err = { 0 };
    CHECK(cce_glob_valid("prod-[a-c]*", &err) == 0);
    CHECK(cce_glob_valid("[a", &err) == 0);
    CHECK(cce_glob_valid("[z-a]", &err) == -1);
    CHECK_STR(err.code, "INVALID_ARGUMENT");
    CHECK_STR(err.message, "empty set in pattern '[z-a]'");
    cce_error_clear(&err);
    CHECK(cce_glob_valid("x[!z-a]", &err) == -1);
    CHECK_STR(err.message, "empty set in pattern 'x[!z-a]'");
    cce_error_clear(&err);
    CHECK(cce_glob_valid("[z-ab]", NULL) == 0);
    CHECK(cce_glob_valid(NULL, NULL) == -1);
    /* An invalid glob matches nothing, not even where it would never be reached. */
    CHECK(m("[z-a]", "a") == -1);
    CHECK(m("x[z-a]", "y") == -1);
}

/*
 * A backtracking matcher tries every way to split the text between the stars: about
 * C(60, 12) ways here, which never ends.  These would hang (ctest's timeout fails them).
 */
static void test_pathological(void)
{
    char text[61];
    memset(text, 'a', 60);
    text[60] = '\0';
    CHECK(m("*a*a*a*a*a*a*a*a*a*a*a*ab", text) == 0);
    text[59] = 'b';
    CHECK(m("*a*a*a*a*a*a*a*a*a*a*a*ab", text) == 1);
    CHECK(m("*?*?*?*?*?*?*?*?*?*?*?*?b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") == 0);
    CHECK(m("*[a]*[a]*[a]*[a]*[a]*[a]*[a]*[a]*[a]*[a]*ab", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") == 0);

    /* Big: 2,000 stars against 20,000 bytes is 4e7 steps at worst, well under a second. */
    size_t gl = 4001, tl = 20000;
    char *g = malloc(gl + 1), *t = malloc(tl + 1);
    CHECK(g && t);
    if (!g || !t)
        return;
    for (size_t i = 0; i + 1 < gl; i += 2) {
        g[i] = '*';
        g[i + 1] = 'a';
    }
    g[gl - 1] = 'b';
    memset(t, 'a', tl);
    CHECK(cce_glob_match(g, gl, t, tl) == 0);
    t[tl - 1] = 'b';
    CHECK(cce_glob_match(g, gl, t, tl) == 1);
    free(g);
    free(t);
}

int main(void)
{
    test_language();
    test_invalid();
    test_pathological();
    return check_report("test_glob");
}
