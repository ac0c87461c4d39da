/*
 * yaml.c - the YAML <-> jansson bridge (libyaml).
 *
 * Kubeconfig files are YAML, but the model keeps them as a jansson tree so
 * that every field it does not interpret survives a load/save cycle.  This
 * file converts in both directions and tries hard to behave like kubectl,
 * which reads YAML with go-yaml v2 (through sigs.k8s.io/yaml) and writes it by
 * converting to JSON and emitting that with go-yaml v2:
 *
 *   - plain scalars resolve with go-yaml v2's YAML 1.1 rules (resolve.go);
 *   - output is block style, keys sorted by bytes, strings quoted exactly
 *     when a plain scalar would read back as something other than a string.
 *
 * Neither direction recurses: both walk the tree with an explicit stack, so a
 * hostile document cannot exhaust the C stack.  Trees built by the loader are
 * at most MAX_DEPTH deep, which keeps jansson's own recursive functions
 * (json_deep_copy, json_equal, json_decref) safe on them too.
 */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "internal.h"

/* Integer resolution below assumes a 64-bit json_int_t, like Go's int64. */
_Static_assert(sizeof(json_int_t) == sizeof(int64_t), "json_int_t must be 64 bits");

/* Nesting limit for collections (the root collection is level 1). */
#define MAX_DEPTH ((size_t)CCE_YAML_MAX_DEPTH)
/* Cap on the number of nodes one document may produce, aliases expanded. */
#define MAX_NODES ((size_t)5000000)
/*
 * Cap on the nodes produced by alias expansion alone.  A real kubeconfig
 * uses few aliases, if any; a "billion laughs" document is nothing but
 * aliases.  This lower cap refuses such a bomb after a few hundred thousand
 * copies (milliseconds, tens of MB) instead of after MAX_NODES.
 */
#define MAX_ALIAS_NODES ((size_t)500000)

#define TAG_BINARY "tag:yaml.org,2002:binary"

/* ===================================================== number text, locale */

/*
 * strtod and printf follow LC_NUMERIC; a host program may have set a locale
 * whose decimal point is ",".  YAML always uses ".", so translate (the same
 * trick jansson uses).
 */
static const char *locale_point(void)
{
    const struct lconv *lc = localeconv();
    return (lc && lc->decimal_point && lc->decimal_point[0]) ? lc->decimal_point : ".";
}

/* Parses s[0..n) (already known to be YAML float syntax).  False on overflow. */
static bool parse_double(const char *s, size_t n, double *out)
{
    const char *point = locale_point();
    size_t plen = strlen(point);
    char small[128];
    size_t need = n * plen + 1; /* every '.' may grow to plen bytes */
    char *buf = need <= sizeof small ? small : malloc(need);
    if (!buf)
        return false;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            memcpy(buf + j, point, plen);
            j += plen;
        } else {
            buf[j++] = s[i];
        }
    }
    buf[j] = '\0';
    errno = 0;
    char *end = NULL;
    double d = strtod(buf, &end);
    bool ok = end == buf + j && !isinf(d) && !isnan(d);
    if (buf != small)
        free(buf);
    /* Underflow (ERANGE with a tiny result) is fine: Go accepts it too. */
    if (ok)
        *out = d;
    return ok;
}

/*
 * The shortest text that reads back as exactly d, laid out like Go's
 * strconv.FormatFloat(d, 'g', -1, 64), which go-yaml uses: exponent form
 * when the exponent is below -4 or at least 6 ("1e+06", "1e-05"), plain
 * decimals otherwise ("100", "0.0001").  "." is the decimal point whatever
 * the locale, and ".0" is added when needed so the text reads back as a
 * float rather than an integer ("100.0").  d is finite (jansson refuses
 * NaN and infinities).
 */
static void format_double(double d, char *buf, size_t size)
{
    const char *point = locale_point();
    size_t plen = strlen(point);
    int prec = 17;
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, size, "%.*e", p - 1, d);
        if (strtod(buf, NULL) == d) {
            prec = p;
            break;
        }
    }
    snprintf(buf, size, "%.*e", prec - 1, d);
    const char *e = strchr(buf, 'e');
    int exp = e ? atoi(e + 1) : 0;
    if (exp >= -4 && exp < 6)
        snprintf(buf, size, "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, d);
    if (plen != 1 || point[0] != '.') {
        char *p = strstr(buf, point);
        if (p) {
            *p = '.';
            memmove(p + 1, p + plen, strlen(p + plen) + 1);
        }
    }
    if (!strpbrk(buf, ".eE")) {
        size_t len = strlen(buf);
        if (len + 3 <= size)
            memcpy(buf + len, ".0", 3);
    }
}

/* ============================================================== base64 */

static int b64_digit(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/*
 * Go's base64.StdEncoding.Decode, which both go-yaml (!!binary) and
 * encoding/json ([]byte fields such as certificate-authority-data) use:
 * '\r' and '\n' are skipped anywhere, groups of four, '=' padding required
 * and only at the end.  Writes at most n / 4 * 3 bytes to out (may be NULL
 * to only check); the decoded length, or (size_t)-1.
 */
size_t cce_yaml_base64_decode(const char *s, size_t n, unsigned char *out)
{
    size_t len = 0;
    int group[4], k = 0, pad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r' || c == '\n')
            continue;
        if (pad) {
            /* After "x=" only one more "=" may come; after "xy==" or "xyz=" nothing. */
            if (c != '=' || k != 3 || pad != 1)
                return (size_t)-1;
            pad = 2;
            k = 0;
            continue;
        }
        if (c == '=') {
            if (k < 2)
                return (size_t)-1;
            pad = 1;
            if (k == 3) { /* "xyz=" */
                if (out) {
                    out[len] = (unsigned char)(group[0] << 2 | group[1] >> 4);
                    out[len + 1] = (unsigned char)(group[1] << 4 | group[2] >> 2);
                }
                len += 2;
                k = 0;
                pad = 2;
            } else {      /* "xy=" and one more '=' to come */
                if (out)
                    out[len] = (unsigned char)(group[0] << 2 | group[1] >> 4);
                len += 1;
                k = 3;
            }
            continue;
        }
        int d = b64_digit(c);
        if (d < 0)
            return (size_t)-1;
        group[k++] = d;
        if (k == 4) {
            if (out) {
                out[len] = (unsigned char)(group[0] << 2 | group[1] >> 4);
                out[len + 1] = (unsigned char)(group[1] << 4 | group[2] >> 2);
                out[len + 2] = (unsigned char)(group[2] << 6 | group[3]);
            }
            len += 3;
            k = 0;
        }
    }
    if (pad == 1 || k != 0)
        return (size_t)-1;
    return len;
}

/* ==================================================== scalar resolution */

typedef enum {
    RES_STR,       /* nothing special: the text is a string */
    RES_NULL,
    RES_BOOL,
    RES_INT,       /* integer that fits json_int_t (.i) */
    RES_BIGINT,    /* integer syntax, too big for json_int_t (.d) */
    RES_FLOAT,     /* finite float (.d) */
    RES_NONFINITE, /* .inf / .nan: a float in YAML, no JSON number */
} res_kind;

typedef struct res {
    res_kind kind;
    bool b;
    json_int_t i;
    double d;
} res;

/* go-yaml v2 resolve.go's resolveMap. */
static const char *const null_words[] = {"", "~", "null", "Null", "NULL", NULL};
static const char *const true_words[] = {"y",  "Y",    "yes",  "Yes", "YES", "true",
                                         "True", "TRUE", "on", "On",  "ON",  NULL};
static const char *const false_words[] = {"n",     "N",     "no",  "No",  "NO",  "false",
                                          "False", "FALSE", "off", "Off", "OFF", NULL};
static const char *const nonfinite_words[] = {".nan", ".NaN", ".NAN", ".inf",  ".Inf",  ".INF",
                                              "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
                                              NULL};

static bool word_in(const char *s, size_t n, const char *const *list)
{
    for (; *list; list++)
        if (strlen(*list) == n && memcmp(*list, s, n) == 0)
            return true;
    return false;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/*
 * go-yaml's yamlStyleFloat: ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
 */
static bool yaml_style_float(const char *s, size_t n)
{
    size_t i = 0, start;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    if (i < n && s[i] == '.') {
        start = ++i;
        while (i < n && is_digit(s[i]))
            i++;
        if (i == start)
            return false;
    } else {
        start = i;
        while (i < n && is_digit(s[i]))
            i++;
        if (i == start)
            return false;
        if (i < n && s[i] == '.')
            for (i++; i < n && is_digit(s[i]); i++)
                ;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        start = i;
        while (i < n && is_digit(s[i]))
            i++;
        if (i == start)
            return false;
    }
    return i == n;
}

/*
 * Go's strconv.ParseInt(s, 0, 64), falling back to ParseUint(s, 0, 64), on
 * text whose underscores are already removed: optional sign, then 0x/0o/0b
 * prefixes or a leading 0 for octal.  RES_STR when it is not an integer or
 * is out of range for both.
 */
static res_kind parse_go_int(const char *s, size_t n, res *r)
{
    size_t i = 0;
    bool neg = false, sign = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        neg = s[i] == '-';
        sign = true;
        i++;
    }
    if (i == n)
        return RES_STR;
    unsigned base = 10;
    if (s[i] == '0') {
        char c = n - i >= 3 ? (char)(s[i + 1] | 0x20) : '\0';
        if (c == 'x' || c == 'o' || c == 'b') {
            base = c == 'x' ? 16 : c == 'o' ? 8 : 2;
            i += 2;
        } else {
            base = 8; /* "0", "017"; "08" fails here and later reads as a float, as in Go */
            i += 1;
        }
    }
    uint64_t u = 0;
    for (; i < n; i++) {
        char c = s[i];
        unsigned d = is_digit(c)                 ? (unsigned)(c - '0')
                     : (c >= 'a' && c <= 'z') ? (unsigned)(c - 'a' + 10)
                     : (c >= 'A' && c <= 'Z') ? (unsigned)(c - 'A' + 10)
                                              : 99u;
        if (d >= base)
            return RES_STR;
        if (u > (UINT64_MAX - d) / base)
            return RES_STR; /* range error in both ParseInt and ParseUint */
        u = u * base + d;
    }
    if (neg) {
        if (u > (uint64_t)INT64_MAX + 1)
            return RES_STR;
        r->i = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(json_int_t)u;
        return RES_INT;
    }
    if (u <= (uint64_t)INT64_MAX) {
        r->i = (json_int_t)u;
        return RES_INT;
    }
    if (sign)
        return RES_STR; /* ParseUint takes no sign */
    r->d = (double)u;
    return RES_BIGINT;
}

/* go-yaml v2's resolve() for an untagged plain scalar. */
static res_kind resolve_plain(const char *s, size_t n, res *r)
{
    memset(r, 0, sizeof *r);
    if (word_in(s, n, null_words))
        return r->kind = RES_NULL;
    if (word_in(s, n, true_words)) {
        r->b = true;
        return r->kind = RES_BOOL;
    }
    if (word_in(s, n, false_words))
        return r->kind = RES_BOOL;
    if (word_in(s, n, nonfinite_words))
        return r->kind = RES_NONFINITE;

    char c = s[0]; /* n > 0: "" is in null_words */
    if (c == '.') {
        if (yaml_style_float(s, n) && parse_double(s, n, &r->d))
            return r->kind = RES_FLOAT;
        return r->kind = RES_STR;
    }
    if (!is_digit(c) && c != '+' && c != '-')
        return r->kind = RES_STR;

    /* Go strips every '_' before trying the number parsers.  (Zeroed only
     * to quiet a -Wmaybe-uninitialized false positive at -O2.) */
    char small[128] = {0};
    char *plain = n < sizeof small ? small : malloc(n + 1);
    if (!plain)
        return r->kind = RES_STR;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '_')
            plain[m++] = s[i];
    res_kind k = parse_go_int(plain, m, r);
    if (k == RES_STR && yaml_style_float(plain, m) && parse_double(plain, m, &r->d))
        k = RES_FLOAT;
    if (plain != small)
        free(plain);
    return r->kind = k;
}

/* Scans 1 or 2 digits at s[*i]; their value, or -1. */
static int digits12(const char *s, size_t n, size_t *i)
{
    if (*i >= n || !is_digit(s[*i]))
        return -1;
    int v = s[(*i)++] - '0';
    if (*i < n && is_digit(s[*i]))
        v = v * 10 + (s[(*i)++] - '0');
    return v;
}

/*
 * go-yaml v2 quotes strings that parse as a timestamp in one of its formats
 * ("2006-1-2", "2006-1-2 15:4:5[.frac]", "2006-1-2T15:4:5[.frac]Z07:00") even
 * though it loads them back as strings.  Mirror that so the dump matches
 * kubectl's bytes; over-quoting a near-miss would be harmless anyway.
 */
static bool looks_like_timestamp(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && is_digit(s[i]))
        i++;
    if (i != 4 || i == n || s[i] != '-')
        return false;
    i++;
    int mon = digits12(s, n, &i);
    if (mon < 1 || mon > 12 || i >= n || s[i] != '-')
        return false;
    i++;
    int day = digits12(s, n, &i);
    if (day < 1 || day > 31)
        return false;
    if (i == n)
        return true;
    char sep = s[i++];
    if (sep != 'T' && sep != 't' && sep != ' ')
        return false;
    int hh = digits12(s, n, &i);
    if (hh < 0 || hh > 23 || i >= n || s[i++] != ':')
        return false;
    int mm = digits12(s, n, &i);
    if (mm < 0 || mm > 59 || i >= n || s[i++] != ':')
        return false;
    int ss = digits12(s, n, &i);
    if (ss < 0 || ss > 59)
        return false;
    if (i < n && s[i] == '.') {
        size_t start = ++i;
        while (i < n && is_digit(s[i]))
            i++;
        if (i == start)
            return false;
    }
    if (sep == ' ')
        return i == n;
    if (i < n && s[i] == 'Z')
        return i + 1 == n;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        i++;
        int zh = digits12(s, n, &i);
        if (zh < 0 || i >= n || s[i++] != ':')
            return false;
        int zm = digits12(s, n, &i);
        return zm >= 0 && i == n;
    }
    return false;
}

/* go-yaml v2's isBase60Float: ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$ */
static bool looks_like_base60(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    if (i >= n || !is_digit(s[i]))
        return false;
    while (i < n && (is_digit(s[i]) || s[i] == '_'))
        i++;
    int groups = 0;
    while (i < n && s[i] == ':') {
        i++;
        if (i + 1 < n && s[i] >= '0' && s[i] <= '5' && is_digit(s[i + 1]))
            i += 2;
        else if (i < n && is_digit(s[i]))
            i += 1;
        else
            return false;
        groups++;
    }
    if (groups == 0)
        return false;
    if (i < n && s[i] == '.')
        for (i++; i < n && (is_digit(s[i]) || s[i] == '_'); i++)
            ;
    return i == n;
}

/* ============================================================== loading */

typedef struct anchor_ent {
    json_t *value;  /* the anchored node, complete (own reference) */
    char *text;     /* a scalar's text as a mapping key (see key_of), else NULL */
    size_t text_len;
    const char *key_problem; /* a scalar that cannot be a key: why */
    size_t nodes;   /* nodes one copy adds */
    size_t height;  /* collection levels inside (0 for a scalar) */
} anchor_ent;

typedef struct frame {
    json_t *node;        /* borrowed: owned by its parent or by loader.root */
    bool is_map;
    bool has_key;        /* maps: a key was read, its value is next */
    char *key;           /* maps: that key (heap) */
    size_t key_len;
    char *anchor;        /* anchor to register once the collection is complete */
    size_t start_nodes;  /* loader.nodes before this collection */
    size_t child_height; /* tallest child so far */
} frame;

typedef struct loader {
    const char *source;
    cce_error *err;
    const char *text;
    size_t len;
    frame *stack;
    size_t depth, cap;
    json_t *root;
    bool have_root;
    anchor_ent *anchors;
    size_t n_anchors, cap_anchors;
    json_t *anchor_index; /* anchor name -> index into anchors (latest wins) */
    size_t nodes, alias_nodes;
} loader;

static int fail_at(loader *L, size_t line, size_t col, const char *fmt, ...) CCE_PRINTF(4, 5);

/* "<source>:<line>:<column>: <message>" with 0-based libyaml positions in. */
static int fail_at(loader *L, size_t line, size_t col, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cce_set_error(L->err, CCE_E_PARSE, 0, "%s:%zu:%zu: %s", L->source, line + 1, col + 1, msg);
}

#define FAIL_MARK(L, mark, ...) fail_at((L), (mark).line, (mark).column, __VA_ARGS__)

static int fail_nomem(loader *L)
{
    return cce_set_error(L->err, CCE_E_NOMEM, 0, "%s: out of memory while parsing YAML", L->source);
}

/*
 * A short, printable, quoted rendering of untrusted text for an error
 * message: control bytes escaped, long text cut at a UTF-8 boundary.
 */
static void quote_for_msg(char *out, size_t size, const char *s, size_t n)
{
    size_t j = 0, limit = 48;
    out[j++] = '"';
    size_t i = 0;
    for (; i < n && j + 8 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i >= limit && (c & 0xC0) != 0x80)
            break;
        if (c == '"' || c == '\\') {
            out[j++] = '\\';
            out[j++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            j += (size_t)snprintf(out + j, size - j, "\\x%02x", c);
        } else {
            out[j++] = (char)c;
        }
    }
    if (i < n && j + 5 < size) {
        memcpy(out + j, "...", 3);
        j += 3;
    }
    out[j++] = '"';
    out[j] = '\0';
}

/* 0-based line and column of byte `off`, counted the way libyaml marks are. */
static void position_of(const char *text, size_t len, size_t off, size_t *line, size_t *col)
{
    *line = *col = 0;
    if (off > len)
        off = len;
    for (size_t i = 0; i < off; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n' || (c == '\r' && !(i + 1 < len && text[i + 1] == '\n'))) {
            (*line)++;
            *col = 0;
        } else if (c != '\r' && (c & 0xC0) != 0x80) {
            (*col)++; /* columns count characters, not bytes */
        }
    }
}

static int fail_parser(loader *L, const yaml_parser_t *p)
{
    switch (p->error) {
    case YAML_MEMORY_ERROR:
        return fail_nomem(L);
    case YAML_READER_ERROR: {
        /* Reader errors (bad UTF-8, control characters) carry a byte offset, no mark. */
        size_t line, col;
        position_of(L->text, L->len, p->problem_offset, &line, &col);
        if (p->problem_value >= 0)
            return fail_at(L, line, col, "%s (byte 0x%02x at offset %zu)",
                           p->problem ? p->problem : "invalid input", (unsigned)p->problem_value,
                           p->problem_offset);
        return fail_at(L, line, col, "%s (at offset %zu)", p->problem ? p->problem : "invalid input",
                       p->problem_offset);
    }
    default:
        if (p->context)
            return FAIL_MARK(L, p->problem_mark, "%s (%s)", p->problem ? p->problem : "syntax error",
                             p->context);
        return FAIL_MARK(L, p->problem_mark, "%s", p->problem ? p->problem : "syntax error");
    }
}

static void loader_free(loader *L)
{
    for (size_t i = 0; i < L->depth; i++) {
        free(L->stack[i].key);
        free(L->stack[i].anchor);
    }
    free(L->stack);
    json_decref(L->root); /* owns every open collection too */
    for (size_t i = 0; i < L->n_anchors; i++) {
        json_decref(L->anchors[i].value);
        free(L->anchors[i].text);
    }
    free(L->anchors);
    json_decref(L->anchor_index);
}

static char *memdup_z(const void *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        if (n)
            memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

/* Remembers an anchor; takes a new reference to value. */
static int add_anchor(loader *L, const char *name, json_t *value, const char *text, size_t text_len,
                      const char *key_problem, size_t nodes, size_t height)
{
    if (!L->anchor_index && !(L->anchor_index = json_object()))
        return fail_nomem(L);
    if (L->n_anchors == L->cap_anchors) {
        size_t cap = L->cap_anchors ? L->cap_anchors * 2 : 8;
        anchor_ent *a = realloc(L->anchors, cap * sizeof *a);
        if (!a)
            return fail_nomem(L);
        L->anchors = a;
        L->cap_anchors = cap;
    }
    anchor_ent *e = &L->anchors[L->n_anchors];
    e->text = NULL;
    e->text_len = text_len;
    e->key_problem = key_problem;
    if (text && !(e->text = memdup_z(text, text_len)))
        return fail_nomem(L);
    /* Anchor names are ASCII (libyaml scans alphanumerics, '-' and '_'). */
    if (json_object_set_new(L->anchor_index, name, json_integer((json_int_t)L->n_anchors)) < 0) {
        free(e->text);
        return fail_nomem(L);
    }
    e->value = json_incref(value);
    e->nodes = nodes;
    e->height = height;
    L->n_anchors++;
    return 0;
}

static const anchor_ent *find_anchor(const loader *L, const char *name)
{
    json_t *ix = L->anchor_index ? json_object_get(L->anchor_index, name) : NULL;
    return ix ? &L->anchors[json_integer_value(ix)] : NULL;
}

/* Counts `n` new nodes against the caps; mark is the node responsible. */
static int count_nodes(loader *L, size_t n, bool from_alias, yaml_mark_t mark)
{
    if (n > MAX_NODES - L->nodes)
        return FAIL_MARK(L, mark, "document has more than %zu nodes", MAX_NODES);
    if (from_alias && n > MAX_ALIAS_NODES - L->alias_nodes)
        return FAIL_MARK(L, mark,
                         "aliases expand to more than %zu nodes (refusing a possible alias bomb)",
                         MAX_ALIAS_NODES);
    L->nodes += n;
    if (from_alias)
        L->alias_nodes += n;
    return 0;
}

static bool awaiting_key(const loader *L)
{
    return L->depth > 0 && L->stack[L->depth - 1].is_map && !L->stack[L->depth - 1].has_key;
}

/* Takes the key text for the innermost mapping, refusing duplicates. */
static int take_key(loader *L, const char *s, size_t n, yaml_mark_t mark)
{
    frame *f = &L->stack[L->depth - 1];
    if (json_object_getn(f->node, s, n)) {
        char q[128];
        quote_for_msg(q, sizeof q, s, n);
        return FAIL_MARK(L, mark, "duplicate key %s", q);
    }
    if (!(f->key = memdup_z(s, n)))
        return fail_nomem(L);
    f->key_len = n;
    f->has_key = true;
    return 0;
}

/* Adds a finished node (reference stolen) to the innermost collection. */
static int add_value(loader *L, json_t *v, size_t height)
{
    if (!v)
        return fail_nomem(L);
    if (L->depth == 0) {
        L->root = v;
        L->have_root = true;
        return 0;
    }
    frame *f = &L->stack[L->depth - 1];
    int rc;
    if (f->is_map) {
        rc = json_object_setn_new(f->node, f->key, f->key_len, v);
        free(f->key);
        f->key = NULL;
        f->has_key = false;
    } else {
        rc = json_array_append_new(f->node, v);
    }
    if (rc < 0) /* jansson's *_new functions release v on failure */
        return fail_nomem(L);
    if (height > f->child_height)
        f->child_height = height;
    return 0;
}

static json_t *string_json(loader *L, const char *s, size_t n)
{
    json_t *v = json_stringn(s, n); /* libyaml has already validated the UTF-8 */
    if (!v)
        fail_nomem(L);
    return v;
}

/* The JSON value of a resolved scalar; strings and .inf/.nan keep the text. */
static json_t *resolved_json(loader *L, const res *r, const char *s, size_t n)
{
    json_t *v;
    switch (r->kind) {
    case RES_NULL:
        return json_null();
    case RES_BOOL:
        return json_boolean(r->b);
    case RES_INT:
        v = json_integer(r->i);
        break;
    case RES_BIGINT:
    case RES_FLOAT:
        v = json_real(r->d);
        break;
    default:
        return string_json(L, s, n);
    }
    if (!v)
        fail_nomem(L);
    return v;
}

/*
 * A scalar with an explicit tag other than the string-like ones: the tag
 * decides the type, and text that does not fit it is an error (as in
 * go-yaml) rather than silently becoming something else.
 */
static json_t *tagged_json(loader *L, const yaml_event_t *ev, const char *tag)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    res r;
    resolve_plain(s, n, &r);

    const char *name;
    bool fits;
    if (strcmp(tag, YAML_NULL_TAG) == 0) {
        name = "!!null";
        fits = r.kind == RES_NULL;
    } else if (strcmp(tag, YAML_BOOL_TAG) == 0) {
        name = "!!bool";
        fits = r.kind == RES_BOOL;
    } else if (strcmp(tag, YAML_INT_TAG) == 0) {
        name = "!!int";
        fits = r.kind == RES_INT || r.kind == RES_BIGINT;
    } else if (strcmp(tag, YAML_FLOAT_TAG) == 0) {
        name = "!!float";
        if (r.kind == RES_INT) { /* !!float 1 is 1.0 */
            r.kind = RES_FLOAT;
            r.d = (double)r.i;
        }
        fits = r.kind == RES_BIGINT || r.kind == RES_FLOAT || r.kind == RES_NONFINITE;
    } else {
        /* An unknown tag: ignored, the scalar resolves by its content and style. */
        if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
            return resolved_json(L, &r, s, n);
        return string_json(L, s, n);
    }
    if (!fits) {
        char q[128];
        quote_for_msg(q, sizeof q, s, n);
        FAIL_MARK(L, ev->start_mark, "cannot decode %s as %s", q, name);
        return NULL;
    }
    return resolved_json(L, &r, s, n);
}

/*
 * A !!binary scalar's bytes, as go-yaml v2 gives them to kubectl: Go's
 * base64.StdEncoding (padding required, line breaks skipped).  The model
 * holds text only, so bytes that are not UTF-8 are refused where kubectl
 * would put U+FFFD in their place.
 */
static json_t *binary_json(loader *L, const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    unsigned char *out = malloc(n / 4 * 3 + 3);
    if (!out) {
        fail_nomem(L);
        return NULL;
    }
    size_t len = cce_yaml_base64_decode(s, n, out);
    json_t *v = len == (size_t)-1 ? NULL : json_stringn((const char *)out, len);
    free(out);
    if (!v)
        FAIL_MARK(L, ev->start_mark, "%s", len == (size_t)-1 ? "!!binary value is not valid base64"
                                                              : "!!binary value is not UTF-8 text");
    return v;
}

/* A scalar's value as a new json_t, or NULL with the error set. */
static json_t *scalar_value(loader *L, const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;

    if (!tag) {
        /* Untagged: plain scalars resolve; quoted, literal and folded ones are strings. */
        if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
            return string_json(L, s, n);
        res r;
        resolve_plain(s, n, &r);
        return resolved_json(L, &r, s, n);
    }
    /*
     * "!" is the non-specific tag, which makes a scalar a string, and
     * !!timestamp stays text as go-yaml v2 keeps it when decoding into
     * interface{}.  !!binary is decoded, as go-yaml does.
     */
    if (strcmp(tag, "!") == 0 || strcmp(tag, YAML_STR_TAG) == 0 || strcmp(tag, YAML_TIMESTAMP_TAG) == 0)
        return string_json(L, s, n);
    if (strcmp(tag, TAG_BINARY) == 0)
        return binary_json(L, ev);
    return tagged_json(L, ev, tag);
}

/*
 * Float keys as sigs.k8s.io/yaml names them: strconv.FormatFloat(k, 'g', -1,
 * 32), i.e. the shortest text of the float32 nearest k, exponent form when
 * the exponent is below -4 or at least 6 ("1e+06", "0.1", "1.2345679e+08").
 */
static void format_float32_key(double d, char *buf, size_t size)
{
    float f = (float)d;
    if (isinf(f)) {
        snprintf(buf, size, "%s", f < 0 ? "-.inf" : ".inf");
        return;
    }
    int prec = 9;
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, size, "%.*e", p - 1, (double)f);
        if (strtof(buf, NULL) == f) {
            prec = p;
            break;
        }
    }
    snprintf(buf, size, "%.*e", prec - 1, (double)f);
    const char *e = strchr(buf, 'e');
    int exp = e ? atoi(e + 1) : 0;
    if (exp >= -4 && exp < 6)
        snprintf(buf, size, "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, (double)f);
    const char *point = locale_point();
    size_t plen = strlen(point);
    if (plen != 1 || point[0] != '.') {
        char *p = strstr(buf, point);
        if (p) {
            *p = '.';
            memmove(p + 1, p + plen, strlen(p + plen) + 1);
        }
    }
}

/* Whether go-yaml resolves this scalar's text (plain, or tagged with a core scalar tag). */
static bool scalar_resolves(const yaml_event_t *ev)
{
    const char *tag = (const char *)ev->data.scalar.tag;
    if (!tag)
        return ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    if (strcmp(tag, YAML_NULL_TAG) == 0 || strcmp(tag, YAML_BOOL_TAG) == 0 || strcmp(tag, YAML_INT_TAG) == 0 ||
        strcmp(tag, YAML_FLOAT_TAG) == 0)
        return true;
    return strcmp(tag, "!") != 0 && strcmp(tag, YAML_STR_TAG) != 0 && strcmp(tag, TAG_BINARY) != 0 &&
           strcmp(tag, YAML_TIMESTAMP_TAG) != 0 && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/*
 * The JSON key kubectl makes of a scalar mapping key (v is the scalar's
 * value).  sigs.k8s.io/yaml lets go-yaml v2 resolve the key first, so `yes:`
 * is the key "true", `010:` is "8" and `1.50:` is "1.5"; a null key or one
 * only an unsigned 64-bit integer holds is an error there.  A heap string
 * (*len set), or NULL with *why set (*why NULL: out of memory).
 */
static char *key_of(const yaml_event_t *ev, const json_t *v, size_t *len, const char **why)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    char buf[64];
    *why = NULL;
    if (scalar_resolves(ev)) {
        res r;
        res_kind k = resolve_plain(s, n, &r);
        if (k == RES_BIGINT && !json_is_string(v)) {
            *why = "an integer key above 2^63-1 (kubectl refuses such keys)";
            return NULL;
        }
        if (k == RES_NONFINITE) {
            const char *t = s[0] == '-' ? "-.inf" : (s[1] | 0x20) == 'n' ? ".nan" : ".inf";
            *len = strlen(t);
            return memdup_z(t, *len);
        }
    }
    switch (json_typeof(v)) {
    case JSON_STRING:
        *len = json_string_length(v);
        return memdup_z(json_string_value(v), *len);
    case JSON_NULL:
        *why = "a null mapping key (kubectl refuses it)";
        return NULL;
    case JSON_TRUE:
    case JSON_FALSE:
        snprintf(buf, sizeof buf, "%s", json_is_true(v) ? "true" : "false");
        break;
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        format_float32_key(json_real_value(v), buf, sizeof buf);
        break;
    default:
        *why = "mapping key must be a scalar";
        return NULL;
    }
    *len = strlen(buf);
    return memdup_z(buf, *len);
}

static int on_scalar(loader *L, const yaml_event_t *ev)
{
    const char *anchor = (const char *)ev->data.scalar.anchor;

    if (count_nodes(L, 1, false, ev->start_mark) < 0)
        return -1;
    if (!awaiting_key(L) && scalar_resolves(ev)) {
        /* JSON has no infinities or NaN: kubectl's YAML-to-JSON step refuses them. */
        res r;
        if (resolve_plain((const char *)ev->data.scalar.value, ev->data.scalar.length, &r) == RES_NONFINITE) {
            char q[128];
            quote_for_msg(q, sizeof q, (const char *)ev->data.scalar.value, ev->data.scalar.length);
            return FAIL_MARK(L, ev->start_mark, "%s is a float JSON cannot hold (kubectl refuses it too)", q);
        }
    }
    json_t *v = scalar_value(L, ev);
    if (!v)
        return -1;
    size_t klen = 0;
    const char *why = NULL;
    char *key = key_of(ev, v, &klen, &why);
    if (!key && !why) {
        json_decref(v);
        return fail_nomem(L);
    }
    int rc = 0;
    /* An anchored key may be aliased as a value later, and a value as a key. */
    if (anchor)
        rc = add_anchor(L, anchor, v, key, klen, why, 1, 0);
    if (rc == 0 && awaiting_key(L)) {
        rc = key ? take_key(L, key, klen, ev->start_mark) : FAIL_MARK(L, ev->start_mark, "%s", why);
        json_decref(v);
    } else if (rc == 0) {
        rc = add_value(L, v, 0);
    } else {
        json_decref(v);
    }
    free(key);
    return rc;
}

static int on_alias(loader *L, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    const anchor_ent *a = find_anchor(L, name);
    if (!a) {
        char q[128];
        quote_for_msg(q, sizeof q, name, strlen(name));
        return FAIL_MARK(L, ev->start_mark, "unknown alias %s", q);
    }
    if (awaiting_key(L)) {
        if (!a->text)
            return FAIL_MARK(L, ev->start_mark, "%s", a->key_problem ? a->key_problem : "mapping key must be a scalar");
        if (count_nodes(L, 1, true, ev->start_mark) < 0)
            return -1;
        return take_key(L, a->text, a->text_len, ev->start_mark);
    }
    /* Check the caps before copying, so a bomb is refused without building it. */
    if (count_nodes(L, a->nodes, true, ev->start_mark) < 0)
        return -1;
    if (L->depth + a->height > MAX_DEPTH)
        return FAIL_MARK(L, ev->start_mark, "nesting deeper than %zu levels", MAX_DEPTH);
    /* A deep copy: every place an alias expands to is independent. */
    return add_value(L, json_deep_copy(a->value), a->height);
}

static int on_collection_start(loader *L, const yaml_event_t *ev, bool is_map)
{
    const char *anchor = is_map ? (const char *)ev->data.mapping_start.anchor
                                : (const char *)ev->data.sequence_start.anchor;
    if (awaiting_key(L))
        return FAIL_MARK(L, ev->start_mark, "mapping key must be a scalar");
    if (L->depth >= MAX_DEPTH)
        return FAIL_MARK(L, ev->start_mark, "nesting deeper than %zu levels", MAX_DEPTH);
    size_t before = L->nodes;
    if (count_nodes(L, 1, false, ev->start_mark) < 0)
        return -1;
    if (L->depth == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 16;
        frame *st = realloc(L->stack, cap * sizeof *st);
        if (!st)
            return fail_nomem(L);
        L->stack = st;
        L->cap = cap;
    }
    char *anchor_copy = NULL;
    if (anchor && !(anchor_copy = cce_strdup(anchor)))
        return fail_nomem(L);
    json_t *node = is_map ? json_object() : json_array();
    /* Attach at once: the parent (or root) owns it, so error paths free it. */
    if (add_value(L, node, 1) < 0) {
        free(anchor_copy);
        return -1;
    }
    frame *f = &L->stack[L->depth++];
    memset(f, 0, sizeof *f);
    f->node = node;
    f->is_map = is_map;
    f->anchor = anchor_copy;
    f->start_nodes = before;
    return 0;
}

static int on_collection_end(loader *L)
{
    frame *f = &L->stack[--L->depth];
    size_t height = f->child_height + 1;
    int rc = 0;
    if (f->anchor)
        rc = add_anchor(L, f->anchor, f->node, NULL, 0, NULL, L->nodes - f->start_nodes, height);
    free(f->anchor);
    free(f->key); /* NULL: libyaml always pairs keys with values */
    if (L->depth > 0 && height > L->stack[L->depth - 1].child_height)
        L->stack[L->depth - 1].child_height = height;
    return rc;
}

json_t *cce_yaml_load(const char *text, size_t len, const char *source, cce_error *err)
{
    loader L;
    memset(&L, 0, sizeof L);
    L.source = source ? source : "<input>";
    L.err = err;
    L.text = text ? text : "";
    L.len = text ? len : 0;

    /*
     * libyaml refuses most control characters, but a NUL is worth a clear
     * message of its own (it usually means a binary or UTF-16 file).
     */
    const char *nul = memchr(L.text, '\0', L.len);
    if (nul) {
        size_t line, col;
        position_of(L.text, L.len, (size_t)(nul - L.text), &line, &col);
        fail_at(&L, line, col, "NUL byte in input (at offset %zu)", (size_t)(nul - L.text));
        return NULL;
    }

    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        fail_nomem(&L);
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)L.text, L.len);

    int rc = 0;
    bool done = false;
    while (!done && rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = fail_parser(&L, &parser);
            break;
        }
        switch (ev.type) {
        case YAML_SCALAR_EVENT:
            rc = on_scalar(&L, &ev);
            break;
        case YAML_ALIAS_EVENT:
            rc = on_alias(&L, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            rc = on_collection_start(&L, &ev, false);
            break;
        case YAML_MAPPING_START_EVENT:
            rc = on_collection_start(&L, &ev, true);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            rc = on_collection_end(&L);
            break;
        case YAML_DOCUMENT_END_EVENT: /* only the first document counts */
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default: /* stream/document start, no event */
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);

    if (rc < 0) {
        loader_free(&L);
        return NULL;
    }
    json_t *result = L.have_root ? L.root : json_null();
    L.root = NULL;
    loader_free(&L);
    return result;
}

/* ============================================================== dumping */

typedef struct key_ref {
    const char *s;
    size_t len;
    json_t *value;
} key_ref;

typedef struct dump_frame {
    const json_t *node;
    key_ref *keys; /* objects: sorted keys */
    size_t n, i;
} dump_frame;

static int key_cmp(const void *a, const void *b)
{
    const key_ref *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = n ? memcmp(x->s, y->s, n) : 0;
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static int write_out(void *data, unsigned char *buffer, size_t size)
{
    return cce_buf_append(data, buffer, size) == 0;
}

static int emit_scalar(yaml_emitter_t *em, const char *s, size_t n, yaml_scalar_style_t style)
{
    yaml_event_t ev;
    if (n > INT_MAX)
        return -1;
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)(uintptr_t)s, (int)n, 1, 1,
                                      style))
        return -1; /* e.g. invalid UTF-8 */
    return yaml_emitter_emit(em, &ev) ? 0 : -1; /* the emitter owns ev now */
}

/* Size of the line break ending at s + n (0 if none): \n, \r, NEL, LS, PS. */
static size_t break_before(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    if (n >= 1 && (u[n - 1] == '\n' || u[n - 1] == '\r'))
        return 1;
    if (n >= 2 && u[n - 2] == 0xC2 && u[n - 1] == 0x85)
        return 2;
    if (n >= 3 && u[n - 3] == 0xE2 && u[n - 2] == 0x80 && (u[n - 1] == 0xA8 || u[n - 1] == 0xA9))
        return 3;
    return 0;
}

static int emit_string(yaml_emitter_t *em, const char *s, size_t n)
{
    yaml_scalar_style_t style;
    if (memchr(s, '\n', n)) {
        /*
         * Literal block, unless the text ends in two line breaks (or is only
         * one): libyaml would need "|+" keep-chomping and then closes the
         * document with "..."; double quotes keep the output marker-free.
         */
        size_t b1 = break_before(s, n);
        bool keep = b1 && (b1 == n || break_before(s, n - b1));
        style = keep ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_LITERAL_SCALAR_STYLE;
    } else {
        res r;
        bool plain_ok = resolve_plain(s, n, &r) == RES_STR && !looks_like_base60(s, n) &&
                        !looks_like_timestamp(s, n);
        /* Plain is a request: libyaml falls back to quotes when plain is not allowed. */
        style = plain_ok ? YAML_PLAIN_SCALAR_STYLE : YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    }
    return emit_scalar(em, s, n, style);
}

/* Emits a scalar or an empty collection, or opens a non-empty one (push). */
static int emit_node(yaml_emitter_t *em, const json_t *v, dump_frame **stack, size_t *depth,
                     size_t *cap)
{
    char buf[64];
    yaml_event_t ev;
    switch (json_typeof(v)) {
    case JSON_NULL:
        return emit_scalar(em, "null", 4, YAML_PLAIN_SCALAR_STYLE);
    case JSON_TRUE:
        return emit_scalar(em, "true", 4, YAML_PLAIN_SCALAR_STYLE);
    case JSON_FALSE:
        return emit_scalar(em, "false", 5, YAML_PLAIN_SCALAR_STYLE);
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return emit_scalar(em, buf, strlen(buf), YAML_PLAIN_SCALAR_STYLE);
    case JSON_REAL:
        /*
         * An integer in [2^63, 2^64) was read as a real (jansson has no
         * uint64); go-yaml reads its digits back as the uint64 kubectl saw.
         */
        if (json_real_value(v) >= 9223372036854775808.0 && json_real_value(v) < 18446744073709551616.0 &&
            json_real_value(v) == (double)(uint64_t)json_real_value(v))
            snprintf(buf, sizeof buf, "%.0f", json_real_value(v));
        else
            format_double(json_real_value(v), buf, sizeof buf);
        return emit_scalar(em, buf, strlen(buf), YAML_PLAIN_SCALAR_STYLE);
    case JSON_STRING:
        return emit_string(em, json_string_value(v), json_string_length(v));
    case JSON_OBJECT:
    case JSON_ARRAY:
        break;
    default:
        return -1;
    }

    /*
     * The reader's nesting limit, empty collections included: what is
     * written must load again.  A cyclic tree (only one built by hand can
     * be) runs into this limit too.
     */
    if (*depth >= MAX_DEPTH)
        return -1;
    bool is_obj = json_is_object(v);
    size_t n = is_obj ? json_object_size(v) : json_array_size(v);
    /* Only empty collections use flow style: {} and [], as kubectl writes them. */
    int style = n ? (is_obj ? YAML_BLOCK_MAPPING_STYLE : YAML_BLOCK_SEQUENCE_STYLE)
                  : (is_obj ? YAML_FLOW_MAPPING_STYLE : YAML_FLOW_SEQUENCE_STYLE);
    int ok = is_obj ? yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, style)
                    : yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, style);
    if (!ok || !yaml_emitter_emit(em, &ev))
        return -1;
    if (n == 0) {
        ok = is_obj ? yaml_mapping_end_event_initialize(&ev) : yaml_sequence_end_event_initialize(&ev);
        return ok && yaml_emitter_emit(em, &ev) ? 0 : -1;
    }

    if (*depth == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        dump_frame *st = realloc(*stack, ncap * sizeof *st);
        if (!st)
            return -1;
        *stack = st;
        *cap = ncap;
    }
    dump_frame *f = &(*stack)[*depth];
    memset(f, 0, sizeof *f);
    f->node = v;
    f->n = n;
    if (is_obj) {
        if (!(f->keys = malloc(n * sizeof *f->keys)))
            return -1;
        const char *key;
        size_t key_len, k = 0;
        json_t *val;
        /* jansson has no const iterator; iterating does not modify the object. */
        json_t *obj = (json_t *)(uintptr_t)v;
        json_object_keylen_foreach(obj, key, key_len, val)
        {
            if (k < n)
                f->keys[k++] = (key_ref){key, key_len, val};
        }
        f->n = k;
        qsort(f->keys, k, sizeof *f->keys, key_cmp);
    }
    (*depth)++;
    return 0;
}

static int dump_tree(yaml_emitter_t *em, const json_t *root)
{
    dump_frame *stack = NULL;
    size_t depth = 0, cap = 0;
    int rc = emit_node(em, root, &stack, &depth, &cap);
    while (rc == 0 && depth > 0) {
        dump_frame *f = &stack[depth - 1];
        if (f->i == f->n) {
            yaml_event_t ev;
            int ok = f->keys ? yaml_mapping_end_event_initialize(&ev)
                             : yaml_sequence_end_event_initialize(&ev);
            free(f->keys);
            depth--;
            if (!ok || !yaml_emitter_emit(em, &ev))
                rc = -1;
            continue;
        }
        const json_t *child;
        if (f->keys) {
            const key_ref *k = &f->keys[f->i++];
            if (emit_string(em, k->s, k->len) < 0) {
                rc = -1;
                break;
            }
            child = k->value;
        } else {
            child = json_array_get(f->node, f->i++);
        }
        rc = emit_node(em, child, &stack, &depth, &cap); /* may move `stack` */
    }
    for (size_t k = 0; k < depth; k++)
        free(stack[k].keys);
    free(stack);
    return rc;
}

int cce_yaml_dump(const json_t *v, cce_buf *out)
{
    if (!v || !out)
        return -1;
    size_t start = out->len;
    yaml_emitter_t em;
    if (!yaml_emitter_initialize(&em))
        return -1;
    yaml_emitter_set_output(&em, write_out, out);
    yaml_emitter_set_unicode(&em, 1);  /* UTF-8 as is, not \u escapes */
    yaml_emitter_set_width(&em, -1);   /* never fold long lines */
    yaml_emitter_set_indent(&em, 2);
    yaml_emitter_set_break(&em, YAML_LN_BREAK);

    yaml_event_t ev;
    int rc = -1;
    if (yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) && yaml_emitter_emit(&em, &ev) &&
        yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) && yaml_emitter_emit(&em, &ev) &&
        dump_tree(&em, v) == 0 && yaml_document_end_event_initialize(&ev, 1) &&
        yaml_emitter_emit(&em, &ev) && yaml_stream_end_event_initialize(&ev) &&
        yaml_emitter_emit(&em, &ev) && yaml_emitter_flush(&em))
        rc = 0;
    yaml_emitter_delete(&em);

    if (rc < 0 && out->data) {
        /* Leave out as it was: drop whatever part of the document got written. */
        out->len = start;
        out->data[start] = '\0';
    }
    return rc;
}
