/* util.c - buffers and errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

int cce_buf_reserve(cce_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int cce_buf_append(cce_buf *b, const void *p, size_t n)
{
    if (cce_buf_reserve(b, n) < 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int cce_buf_puts(cce_buf *b, const char *s) { return cce_buf_append(b, s, strlen(s)); }

int cce_buf_printf(cce_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || cce_buf_reserve(b, (size_t)n) < 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void cce_buf_free(cce_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *cce_buf_steal(cce_buf *b, size_t *len)
{
    if (!b->data && cce_buf_reserve(b, 0) < 0)
        return NULL;
    b->data[b->len] = '\0';
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

char *cce_strdup(const char *s) { return s ? strdup(s) : NULL; }

void cce_error_clear(cce_error *err)
{
    if (!err)
        return;
    free(err->message);
    memset(err, 0, sizeof *err);
}

static const char *const kind_names[] = {
    "",
#define CCE_E_NAME_(name, what) #name,
    CCE_ERROR_KINDS(CCE_E_NAME_)
#undef CCE_E_NAME_
};
static const char *const kind_texts[] = {
    "",
#define CCE_E_TEXT_(name, what) what,
    CCE_ERROR_KINDS(CCE_E_TEXT_)
#undef CCE_E_TEXT_
};

const char *cce_error_kind_name(cce_error_kind kind)
{
    return (unsigned)kind < CCE_E_COUNT_ ? kind_names[kind] : "";
}

const char *cce_error_kind_describe(cce_error_kind kind)
{
    return (unsigned)kind < CCE_E_COUNT_ ? kind_texts[kind] : "";
}

static int set_error_v(cce_error *err, cce_error_kind kind, const char *code, int status, const char *fmt, va_list ap0)
{
    if (!err)
        return -1;
    free(err->message);
    err->message = NULL;
    err->kind = kind;
    /* Messages carry server text (error bodies, cluster names): escaped, see errors.c. */
    cce_escape_control(code && *code ? code : cce_error_kind_name(kind), err->code, sizeof err->code);
    err->status = status;
    err->request_id[0] = '\0';
    va_list ap;
    va_copy(ap, ap0);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *raw = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (raw) {
        va_copy(ap, ap0);
        vsnprintf(raw, (size_t)n + 1, fmt, ap);
        va_end(ap);
        size_t cap = (size_t)n * 6 + 1; /* the longest escape is 6 bytes for 1 or 2 */
        if ((err->message = malloc(cap)) != NULL) {
            size_t len = cce_escape_control(raw, err->message, cap);
            char *shrunk = realloc(err->message, len + 1);
            if (shrunk)
                err->message = shrunk;
        }
        free(raw);
    }
    return -1;
}

int cce_set_error(cce_error *err, cce_error_kind kind, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_error_v(err, kind, NULL, status, fmt, ap);
    va_end(ap);
    return -1;
}

int cce_set_error_code(cce_error *err, cce_error_kind kind, const char *code, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_error_v(err, kind, code, status, fmt, ap);
    va_end(ap);
    return -1;
}

int cce_contains_ci(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (; *text; text++)
        if (strncasecmp(text, word, n) == 0)
            return 1;
    return 0;
}

const char *cce_json_str(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v && *v ? v : NULL;
}
