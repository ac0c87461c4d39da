/*
 * glob.c - the shell globs of --match and --version, matched in linear-ish time.
 *
 * The language is the one scripts/cceauto/fleet.lua has always accepted: `*` any bytes,
 * `?` one byte, `[...]` one byte of a set (`a-z` byte ranges, `!` or `^` first negates,
 * `\x` inside a set is x), `\x` the byte x, everything else itself.  A set runs to the
 * first `]` that is not its first member; a `[` without one is literal, as is a trailing
 * `\`.  A range whose ends are reversed is empty; a set with nothing in it is the one
 * invalid glob.  The whole text must match.
 *
 * Lua's matcher (and any backtracking regex) tries every split of the text between the
 * stars: `*a*a*a*a*a*a*a*a*a*a*a*ab` against 60 `a` never ends.  This matcher keeps one
 * saved position instead; see glob_match below for why that is enough and what it costs.
 */
#include <stdint.h>
#include <string.h>

#include "internal.h"

enum glob_kind { GLOB_STAR, GLOB_ANY, GLOB_BYTE, GLOB_SET };

typedef struct glob_tok {
    enum glob_kind kind;
    unsigned char byte;       /* GLOB_BYTE */
    int negate;               /* GLOB_SET */
    size_t body, body_end;    /* GLOB_SET: the members, glob[body..body_end) */
    size_t next;              /* where the next token starts */
} glob_tok;

/* Reads the token at glob[i] (i < glen). */
static void glob_token(const char *glob, size_t glen, size_t i, glob_tok *t)
{
    unsigned char c = (unsigned char)glob[i];
    t->next = i + 1;
    if (c == '*') {
        t->kind = GLOB_STAR;
    } else if (c == '?') {
        t->kind = GLOB_ANY;
    } else if (c == '\\' && i + 1 < glen) {
        t->kind = GLOB_BYTE;
        t->byte = (unsigned char)glob[i + 1];
        t->next = i + 2;
    } else if (c == '[') {
        size_t j = i + 1;
        int negate = 0;
        if (j < glen && (glob[j] == '!' || glob[j] == '^')) {
            negate = 1;
            j++;
        }
        /* The first member may be `]` itself, so the search for the end starts after it. */
        const char *close = j + 1 < glen ? memchr(glob + j + 1, ']', glen - j - 1) : NULL;
        if (close == NULL) {
            t->kind = GLOB_BYTE;
            t->byte = '[';
            return;
        }
        t->kind = GLOB_SET;
        t->negate = negate;
        t->body = j;
        t->body_end = (size_t)(close - glob);
        t->next = t->body_end + 1;
    } else {
        t->kind = GLOB_BYTE;
        t->byte = c;
    }
}

/*
 * Walks a set's members.  With c >= 0: 1 when byte c is a member.  With c < 0: 1 when
 * the set has any member at all.  A range's first end may be escaped, its second end is
 * taken as written (as fleet.lua did).
 */
static int glob_set_has(const char *glob, const glob_tok *t, int c)
{
    size_t k = t->body, end = t->body_end;
    while (k < end) {
        unsigned char a = (unsigned char)glob[k];
        if (a == '\\' && k + 1 < end)
            a = (unsigned char)glob[++k];
        if (k + 2 < end && glob[k + 1] == '-') {
            unsigned char b = (unsigned char)glob[k + 2];
            if (a <= b && (c < 0 || (c >= a && c <= b)))
                return 1;
            k += 3;
        } else {
            if (c < 0 || c == a)
                return 1;
            k += 1;
        }
    }
    return 0;
}

static int glob_check(const char *glob, size_t glen)
{
    glob_tok t;
    for (size_t i = 0; i < glen; i = t.next) {
        glob_token(glob, glen, i, &t);
        if (t.kind == GLOB_SET && !glob_set_has(glob, &t, -1))
            return -1;
    }
    return 0;
}

int cce_glob_valid(const char *glob, cce_error *err)
{
    if (glob == NULL)
        return cce_set_error(err, CCE_E_INVALID_ARGUMENT, 0, "no pattern given");
    if (glob_check(glob, strlen(glob)) != 0)
        return cce_set_error(err, CCE_E_INVALID_ARGUMENT, 0, "empty set in pattern '%s'", glob);
    return 0;
}

/*
 * Greedy matching with one saved star.  Tokens are matched left to right; at a `*` we
 * note where the pattern after it starts (star_p) and the text position it was reached
 * at (star_t), first letting the star match nothing.  On a mismatch we let the most
 * recent star swallow one more byte (star_t + 1) and retry the pattern after it; with no
 * star to extend, there is no match.
 *
 * Why forgetting earlier stars loses no match: say the pattern is P * Q * R, and the
 * second star was reached with Q matched at the earliest place it fits after the first
 * star (the scan tries star_t = t0, t0+1, ... in order, so the first placement it finds
 * is the leftmost).  Any match of the whole text places Q somewhere at or after that
 * leftmost end; since the second star can absorb any bytes, moving Q to its leftmost
 * place keeps the match valid.  So once a later star is reached, backtracking into an
 * earlier one can only find placements the later star already covers.
 *
 * Bounds: star_t never decreases (a new star saves the current t, and t >= star_t since
 * t only grows after a retry sets t = star_t), and every retry raises it by one, so
 * there are at most tlen + 1 retries.  Between two retries each step moves p forward by
 * one token, so at most one pass over the glob: O(glen) bytes read, a set's members
 * included.  Worst case O((glen + 1) x (tlen + 1)) time, O(1) memory, no recursion;
 * `*a*a*a*a*a*a*a*a*a*a*a*ab` against 60 bytes takes a few thousand steps.
 */
int cce_glob_match(const char *glob, size_t glen, const char *text, size_t tlen)
{
    if (glob == NULL || (text == NULL && tlen > 0) || glob_check(glob, glen) != 0)
        return -1;
    size_t p = 0, t = 0, star_p = SIZE_MAX, star_t = 0;
    for (;;) {
        if (p < glen) {
            glob_tok tok;
            glob_token(glob, glen, p, &tok);
            if (tok.kind == GLOB_STAR) {
                star_p = tok.next;
                star_t = t;
                p = tok.next;
                continue;
            }
            if (t < tlen) {
                unsigned char c = (unsigned char)text[t];
                int hit = tok.kind == GLOB_ANY || (tok.kind == GLOB_BYTE && tok.byte == c) ||
                          (tok.kind == GLOB_SET && glob_set_has(glob, &tok, c) != tok.negate);
                if (hit) {
                    p = tok.next;
                    t++;
                    continue;
                }
            }
        } else if (t == tlen) {
            return 1;
        }
        if (star_p == SIZE_MAX || star_t >= tlen)
            return 0;
        star_t++;
        t = star_t;
        p = star_p;
    }
}
