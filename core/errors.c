/*
 * errors.c - reading error answers and transport failures into cce_error, and
 * keeping server text harmless on a terminal.
 *
 * Error bodies, header values and cluster names come from the network: a
 * message that carries them must not carry an escape sequence to the user's
 * terminal (or a line break into a log line), so every error message is made
 * through cce_set_error(), which escapes control characters with
 * cce_escape_control().
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

/* Length of the valid UTF-8 sequence at p (1 for ASCII), or 0 when p does not
 * start one: a stray byte 0x80..0xff is escaped, since a terminal in an 8-bit
 * mode obeys 0x9b like ESC [. */
static size_t utf8_len(const unsigned char *p)
{
    size_t n = *p < 0x80 ? 1 : *p >= 0xc2 && *p <= 0xdf ? 2 : *p >= 0xe0 && *p <= 0xef ? 3
             : *p >= 0xf0 && *p <= 0xf4 ? 4 : 0;
    for (size_t i = 1; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

/* C0 controls and DEL as \n \r \t \xHH; C1 controls (U+0080..U+009F, which some
 * terminals obey like ESC [) as \u00HH; bytes that are not UTF-8 as \xHH.
 * Other UTF-8 is kept.  scripts/cceauto/output.lua's escape() writes the same forms. */
size_t cce_escape_control(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (!cap)
        return 0;
    for (const unsigned char *p = (const unsigned char *)in; *p;) {
        char esc[8];
        size_t n = 0, len = utf8_len(p);
        if (*p == '\n' || *p == '\r' || *p == '\t') {
            esc[n++] = '\\';
            esc[n++] = *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't';
        } else if (*p < 0x20 || *p == 0x7f || len == 0) {
            esc[n++] = '\\';
            esc[n++] = 'x';
            esc[n++] = hex[*p >> 4];
            esc[n++] = hex[*p & 15];
        } else if (*p == 0xc2 && p[1] <= 0x9f) {
            memcpy(esc, "\\u00", 4);
            n = 4;
            esc[n++] = hex[p[1] >> 4];
            esc[n++] = hex[p[1] & 15];
        } else {
            memcpy(esc, p, len);
            n = len;
        }
        p += len ? len : 1;
        if (o + n >= cap)
            break; /* truncated, never inside an escape */
        memcpy(out + o, esc, n);
        o += n;
    }
    out[o] = '\0';
    return o;
}

const char *cce_http_reason(long s)
{
    switch (s) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
    }
}

int cce_error_from_response(const cce_http_resp *r, const char *what, cce_error *err)
{
    if (!err)
        return -1;
    json_t *body = NULL;
    if (r->body.len)
        body = json_loadb(r->body.data, r->body.len, 0, NULL);
    if (body && !json_is_object(body)) {
        json_decref(body);
        body = NULL;
    }
    const char *code = body ? cce_json_str(body, "error_code") : NULL;
    if (!code && body)
        code = cce_json_str(body, "errorCode");
    const char *msg = body ? cce_json_str(body, "error_msg") : NULL;
    if (!msg && body)
        msg = cce_json_str(body, "errorMessage");
    const char *extra = body ? cce_json_str(body, "message") : NULL;
    if (!msg) {
        msg = extra;
        extra = NULL;
    }
    if (extra && msg && strcmp(extra, msg) == 0)
        extra = NULL;

    /* The API gateway refuses an AK/SK signature whose X-Sdk-Date is more than
     * 15 minutes off its clock: say where to look. */
    const char *hint = "";
    if (code && strncmp(code, "APIGW.", 6) == 0 && msg &&
        (cce_contains_ci(msg, "date") || cce_contains_ci(msg, "time") || cce_contains_ci(msg, "expire") || cce_contains_ci(msg, "skew") ||
         cce_contains_ci(msg, "clock")))
        hint = " (the request's X-Sdk-Date was off the gateway's clock: check this machine's system clock, e.g. "
               "timedatectl)";
    char fallback[32];
    if (!code)
        snprintf(fallback, sizeof fallback, "HTTP_%ld", r->status);
    const char *reason = cce_http_reason(r->status);
    if (msg)
        cce_set_error_code(err, code ? CCE_E_SERVICE : CCE_E_HTTP, code ? code : fallback, (int)r->status, "%s: HTTP %ld%s%s: %s%s%s%s%s", what, r->status,
                      *reason ? " " : "", reason, msg, extra ? " (" : "", extra ? extra : "", extra ? ")" : "", hint);
    else if (r->body.len)
        cce_set_error_code(err, code ? CCE_E_SERVICE : CCE_E_HTTP, code ? code : fallback, (int)r->status, "%s: HTTP %ld%s%s (a %zu-byte %s body, not an API error)",
                      what, r->status, *reason ? " " : "", reason, r->body.len,
                      r->content_type[0] ? r->content_type : "untyped");
    else
        cce_set_error_code(err, code ? CCE_E_SERVICE : CCE_E_HTTP, code ? code : fallback, (int)r->status, "%s: HTTP %ld%s%s (empty body)", what, r->status,
                      *reason ? " " : "", reason);
    const char *rid = r->request_id[0] ? r->request_id : body ? cce_json_str(body, "request_id") : NULL;
    if (rid)
        cce_escape_control(rid, err->request_id, sizeof err->request_id);
    json_decref(body);
    return -1;
}

int cce_error_from_transport(int cc, const char *detail, const cce_http_resp *r, const char *what, cce_error *err)
{
    cce_error_kind code;
    switch ((CURLcode)cc) {
    case CURLE_OPERATION_TIMEDOUT: code = CCE_E_TIMEOUT; break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: code = CCE_E_RESOLVE; break;
    case CURLE_COULDNT_CONNECT: code = CCE_E_CONNECT; break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS: code = CCE_E_TLS; break;
    case CURLE_FILESIZE_EXCEEDED: code = CCE_E_TOO_LARGE; break;
    case CURLE_OUT_OF_MEMORY: code = CCE_E_NOMEM; break;
    default: code = CCE_E_NETWORK; break;
    }
    return cce_set_error(err, code, r ? (int)r->status : 0, "%s: %s", what,
                         detail && *detail ? detail : curl_easy_strerror((CURLcode)cc));
}

