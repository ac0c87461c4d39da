/*
 * http.c - the client object, one HTTP exchange with retries, and the
 * reading of error answers.
 *
 * Secrets: the token lives in one curl_slist built at client creation and is
 * never formatted into any message.  At TRACE level curl's own header trace is
 * passed through redact_header() and bodies are never traced (a clustercert
 * answer carries a private key).
 */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "internal.h"

struct cce_client {
    char *endpoint;      /* base URL without trailing '/' */
    char *project_id;
    char *region;
    char *ca_file;
    int insecure;
    long timeout_ms, connect_timeout_ms, backoff_ms, max_backoff_ms;
    int retries;
    size_t max_response;
    int log_level;
    cce_log_fn log;
    void *log_ud;
    struct curl_slist *headers;  /* holds the token: never logged */
    CURL *easy;                  /* reused, so keep-alive connections are reused */
    char user_agent[48];
    uint64_t rng;
    cce_client_stats stats;
};

/* ------------------------------------------------------------------ global */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_status = -1;

static void global_init_once(void) { init_status = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1; }

int cce_global_init(void)
{
    pthread_once(&init_once, global_init_once);
    return init_status;
}

const char *cce_version(void) { return CCE_VERSION; }

const char *cce_build_info(void)
{
    static char info[160];
    if (!info[0]) { /* idempotent: a race writes the same bytes */
        const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
        snprintf(info, sizeof info, "libcurl/%s %s libyaml/%s jansson/%s", cv->version,
                 OpenSSL_version(OPENSSL_VERSION), yaml_get_version_string(), JANSSON_VERSION);
    }
    return info;
}

int cce_log_level_parse(const char *s)
{
    static const char *names[] = {"error", "warn", "info", "debug", "trace"};
    if (!s || !*s)
        return -1;
    if (s[0] >= '0' && s[0] <= '4' && s[1] == '\0')
        return s[0] - '0';
    for (int i = 0; i < 5; i++)
        if (strcasecmp(s, names[i]) == 0)
            return i;
    if (strcasecmp(s, "warning") == 0)
        return CCE_LOG_WARN;
    return -1;
}

/* ------------------------------------------------------------------ logging */

static void default_log(void *ud, int level, const char *line)
{
    (void)ud;
    static const char *tags[] = {"error", "warn", "info", "debug", "trace"};
    fprintf(stderr, "cceauto: %s: %s\n", tags[level < 0 ? 0 : level > 4 ? 4 : level], line);
}

void cce_log(const cce_client *c, int level, const char *fmt, ...)
{
    if (!c || level > c->log_level)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    c->log(c->log_ud, level, line);
}

/* Header names whose values are secrets; matched case-insensitively. */
static const char *const secret_headers[] = {
    "x-auth-token", "authorization", "x-subject-token", "x-security-token", "proxy-authorization", "cookie", "set-cookie",
};

static void redact_header(const char *in, size_t n, char *out, size_t cap)
{
    size_t len = n < cap - 1 ? n : cap - 1;
    memcpy(out, in, len);
    out[len] = '\0';
    while (len && (out[len - 1] == '\n' || out[len - 1] == '\r'))
        out[--len] = '\0';
    char *colon = strchr(out, ':');
    if (!colon)
        return;
    for (size_t i = 0; i < sizeof secret_headers / sizeof *secret_headers; i++) {
        size_t hl = strlen(secret_headers[i]);
        if ((size_t)(colon - out) == hl && strncasecmp(out, secret_headers[i], hl) == 0) {
            snprintf(colon + 1, cap - (size_t)(colon + 1 - out), " <redacted>");
            return;
        }
    }
}

static int curl_trace(CURL *h, curl_infotype type, char *data, size_t size, void *ud)
{
    (void)h;
    cce_client *c = ud;
    char line[512];
    const char *tag;
    switch (type) {
    case CURLINFO_TEXT: tag = "*"; break;
    case CURLINFO_HEADER_OUT: tag = ">"; break;
    case CURLINFO_HEADER_IN: tag = "<"; break;
    default: return 0; /* bodies and TLS data are never traced */
    }
    /* HEADER_OUT arrives as one block of lines: split it. */
    const char *p = data, *end = data + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p + 1) : (size_t)(end - p);
        redact_header(p, n, line, sizeof line);
        if (line[0])
            cce_log(c, CCE_LOG_TRACE, "%s %s", tag, line);
        p += n;
    }
    return 0;
}

/* ------------------------------------------------------------------ client */

static const char *env_first(const char *a, const char *b)
{
    const char *v = getenv(a);
    if ((!v || !*v) && b)
        v = getenv(b);
    return v && *v ? v : NULL;
}

void cce_client_opts_from_env(cce_client_opts *o)
{
    if (!o->region)
        o->region = env_first("OS_REGION_NAME", NULL);
    if (!o->project_id)
        o->project_id = env_first("OS_PROJECT_ID", NULL);
    if (!o->token)
        o->token = env_first("OS_AUTH_TOKEN", "OS_TOKEN");
    if (!o->endpoint)
        o->endpoint = env_first("CCE_ENDPOINT", NULL);
    if (!o->ca_file)
        o->ca_file = env_first("OS_CACERT", NULL);
    if (!o->log_level) {
        int lv = cce_log_level_parse(env_first("CCEAUTO_LOG", NULL));
        if (lv >= 0)
            o->log_level = lv;
    }
}

/* Region names become host names: keep them to what a host label allows. */
static int region_valid(const char *r)
{
    if (!*r || strlen(r) > 63)
        return 0;
    for (const char *p = r; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-')
            return 0;
    return 1;
}

int cce_id_valid(const char *id)
{
    if (!id || !*id || strlen(id) > 128)
        return 0;
    for (const char *p = id; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-')
            return 0;
    return 1;
}

int cce_duration_valid(long days) { return days == -1 || (days >= 1 && days <= CCE_DURATION_MAX); }

void cce_client_free(cce_client *c)
{
    if (!c)
        return;
    if (c->easy)
        curl_easy_cleanup(c->easy);
    /* The token should not outlive the client in freed memory. */
    for (struct curl_slist *h = c->headers; h; h = h->next)
        OPENSSL_cleanse(h->data, strlen(h->data));
    curl_slist_free_all(c->headers);
    free(c->endpoint);
    free(c->project_id);
    free(c->region);
    free(c->ca_file);
    free(c);
}

cce_client *cce_client_new(const cce_client_opts *o, cce_error *err)
{
    static const cce_client_opts none;
    if (!o)
        o = &none;
    if (cce_global_init() != 0) {
        cce_set_error(err, "NOMEM", 0, "libcurl could not be initialised");
        return NULL;
    }
    if (!o->project_id || !*o->project_id) {
        cce_set_error(err, "CONFIG", 0, "no project id: set project_id or OS_PROJECT_ID");
        return NULL;
    }
    if (!cce_id_valid(o->project_id)) {
        cce_set_error(err, "CONFIG", 0, "project id '%s' is not valid: only letters, digits and '-' are allowed",
                      o->project_id);
        return NULL;
    }
    if (!o->token || !*o->token) {
        cce_set_error(err, "CONFIG", 0, "no token: set token or OS_AUTH_TOKEN");
        return NULL;
    }
    if (strpbrk(o->token, "\r\n")) {
        cce_set_error(err, "CONFIG", 0, "the token contains a line break");
        return NULL;
    }
    if (o->region && *o->region && !region_valid(o->region)) {
        cce_set_error(err, "CONFIG", 0, "region '%s' is not valid", o->region);
        return NULL;
    }
    if (!o->endpoint && (!o->region || !*o->region)) {
        cce_set_error(err, "CONFIG", 0, "no region or endpoint: set region (OS_REGION_NAME) or endpoint (CCE_ENDPOINT)");
        return NULL;
    }
    if (o->endpoint && strncasecmp(o->endpoint, "https://", 8) != 0) {
        cce_set_error(err, "CONFIG", 0, "endpoint '%s' is not an https:// URL", o->endpoint);
        return NULL;
    }
    if (o->ca_file && *o->ca_file && access(o->ca_file, R_OK) != 0) {
        cce_set_error(err, "CONFIG", 0, "CA file '%s' cannot be read: %s", o->ca_file, strerror(errno));
        return NULL;
    }

    cce_client *c = calloc(1, sizeof *c);
    if (!c) {
        cce_set_error(err, "NOMEM", 0, "out of memory");
        return NULL;
    }
    if (o->endpoint) {
        c->endpoint = strdup(o->endpoint);
        if (c->endpoint) {
            size_t n = strlen(c->endpoint);
            while (n > 8 && c->endpoint[n - 1] == '/')
                c->endpoint[--n] = '\0';
        }
    } else {
        size_t n = strlen(o->region) + 40;
        if ((c->endpoint = malloc(n)) != NULL)
            snprintf(c->endpoint, n, "https://cce.%s.otc.t-systems.com", o->region);
    }
    c->project_id = strdup(o->project_id);
    c->region = cce_strdup(o->region && *o->region ? o->region : NULL);
    c->ca_file = cce_strdup(o->ca_file && *o->ca_file ? o->ca_file : NULL);
    c->insecure = o->insecure;
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
    c->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 10000;
    c->retries = o->retries < 0 ? 0 : o->retries > 0 ? o->retries : 4;
    c->backoff_ms = o->backoff_ms > 0 ? o->backoff_ms : 500;
    c->max_backoff_ms = o->max_backoff_ms > 0 ? o->max_backoff_ms : 60000;
    c->max_response = o->max_response > 0 ? o->max_response : (size_t)16 << 20;
    c->log_level = o->log_level > 0 ? o->log_level : CCE_LOG_WARN;
    c->log = o->log ? o->log : default_log;
    c->log_ud = o->log_ud;
    snprintf(c->user_agent, sizeof c->user_agent, "cceauto/%s", CCE_VERSION);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    c->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40) ^ (uintptr_t)c;
    if (!c->rng)
        c->rng = 0x9e3779b97f4a7c15ULL;

    char tokhdr[16 + 4096];
    int ok = c->endpoint && c->project_id && (!o->region || !*o->region || c->region) &&
             (!o->ca_file || !*o->ca_file || c->ca_file) && strlen(o->token) < 4096;
    if (ok) {
        snprintf(tokhdr, sizeof tokhdr, "X-Auth-Token: %s", o->token);
        struct curl_slist *h = NULL, *t;
        const char *fixed[] = {"Accept: application/json", "Content-Type: application/json", tokhdr};
        for (size_t i = 0; ok && i < 3; i++) {
            if ((t = curl_slist_append(h, fixed[i])) == NULL)
                ok = 0;
            else
                h = t;
        }
        c->headers = h;
        OPENSSL_cleanse(tokhdr, sizeof tokhdr); /* memset could be optimised away */
    }
    if (ok)
        ok = (c->easy = curl_easy_init()) != NULL;
    if (!ok) {
        cce_client_free(c);
        cce_set_error(err, strlen(o->token) >= 4096 ? "CONFIG" : "NOMEM", 0,
                      strlen(o->token) >= 4096 ? "the token is longer than 4096 bytes" : "out of memory");
        return NULL;
    }
    return c;
}

const char *cce_client_endpoint(const cce_client *c) { return c->endpoint; }
const char *cce_client_project_id(const cce_client *c) { return c->project_id; }
const char *cce_client_region(const cce_client *c) { return c->region; }
void cce_client_stats_get(const cce_client *c, cce_client_stats *out) { *out = c->stats; }
long cce_client_timeout_ms(const cce_client *c) { return c->timeout_ms; }

void cce_client_count_request(cce_client *c, int retry)
{
    c->stats.requests++;
    if (retry)
        c->stats.retries++;
}

int cce_http_url(const cce_client *c, const char *path, cce_buf *out)
{
    out->len = 0;
    return cce_buf_printf(out, "%s/api/v3/projects/%s/%s", c->endpoint, c->project_id, path);
}

/* ---------------------------------------------------------------- response */

void cce_http_resp_reset(cce_http_resp *r)
{
    r->status = 0;
    r->body.len = 0;
    if (r->body.data)
        r->body.data[0] = '\0';
    r->request_id[0] = '\0';
    r->content_type[0] = '\0';
    r->retry_after_ms = -1;
    r->too_large = 0;
}

void cce_http_resp_free(cce_http_resp *r) { cce_buf_free(&r->body); }

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    cce_xfer *x = ud;
    size_t len = size * n;
    if (x->resp->body.len + len > x->c->max_response) {
        x->resp->too_large = 1;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    return cce_buf_append(&x->resp->body, p, len) == 0 ? len : 0;
}

static void copy_header_value(const char *v, size_t n, char *out, size_t cap)
{
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, v, n);
    out[n] = '\0';
}

/* Retry-After is either delta-seconds or an HTTP date. */
static long parse_retry_after(const char *v)
{
    char *end;
    long s = strtol(v, &end, 10);
    if (end != v && *end == '\0')
        return s < 0 ? 0 : s > 86400 ? 86400000L : s * 1000;
    time_t when = curl_getdate(v, NULL);
    if (when == (time_t)-1)
        return -1;
    long delta = (long)difftime(when, time(NULL));
    return delta <= 0 ? 0 : delta > 86400 ? 86400000L : delta * 1000;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    cce_xfer *x = ud;
    size_t len = size * n;
    /* A new status line starts a new header block (after 100-continue, redirects). */
    if (len > 5 && strncmp(p, "HTTP/", 5) == 0) {
        x->resp->request_id[0] = '\0';
        x->resp->retry_after_ms = -1;
        return len;
    }
    const char *colon = memchr(p, ':', len);
    if (!colon)
        return len;
    size_t nl = (size_t)(colon - p);
    const char *v = colon + 1;
    size_t vl = len - nl - 1;
    char tmp[96];
    if (nl == 12 && strncasecmp(p, "X-Request-Id", 12) == 0)
        copy_header_value(v, vl, x->resp->request_id, sizeof x->resp->request_id);
    else if (nl == 12 && strncasecmp(p, "Content-Type", 12) == 0)
        copy_header_value(v, vl, x->resp->content_type, sizeof x->resp->content_type);
    else if (nl == 11 && strncasecmp(p, "Retry-After", 11) == 0) {
        copy_header_value(v, vl, tmp, sizeof tmp);
        x->resp->retry_after_ms = parse_retry_after(tmp);
    }
    return len;
}

/* ------------------------------------------------------------------ errors */

static const char *reason_phrase(long s)
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

static const char *json_str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s && *s ? s : NULL;
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
    const char *code = body ? json_str(body, "error_code") : NULL;
    if (!code && body)
        code = json_str(body, "errorCode");
    const char *msg = body ? json_str(body, "error_msg") : NULL;
    if (!msg && body)
        msg = json_str(body, "errorMessage");
    const char *extra = body ? json_str(body, "message") : NULL;
    if (!msg) {
        msg = extra;
        extra = NULL;
    }
    if (extra && msg && strcmp(extra, msg) == 0)
        extra = NULL;

    char fallback[32];
    if (!code)
        snprintf(fallback, sizeof fallback, "HTTP_%ld", r->status);
    const char *reason = reason_phrase(r->status);
    if (msg)
        cce_set_error(err, code ? code : fallback, (int)r->status, "%s: HTTP %ld%s%s: %s%s%s%s", what, r->status,
                      *reason ? " " : "", reason, msg, extra ? " (" : "", extra ? extra : "", extra ? ")" : "");
    else if (r->body.len)
        cce_set_error(err, code ? code : fallback, (int)r->status, "%s: HTTP %ld%s%s (a %zu-byte %s body, not an API error)",
                      what, r->status, *reason ? " " : "", reason, r->body.len,
                      r->content_type[0] ? r->content_type : "untyped");
    else
        cce_set_error(err, code ? code : fallback, (int)r->status, "%s: HTTP %ld%s%s (empty body)", what, r->status,
                      *reason ? " " : "", reason);
    const char *rid = r->request_id[0] ? r->request_id : body ? json_str(body, "request_id") : NULL;
    if (rid)
        snprintf(err->request_id, sizeof err->request_id, "%s", rid);
    json_decref(body);
    return -1;
}

int cce_error_from_transport(int cc, const char *detail, const cce_http_resp *r, const char *what, cce_error *err)
{
    const char *code;
    switch ((CURLcode)cc) {
    case CURLE_OPERATION_TIMEDOUT: code = "TIMEOUT"; break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: code = "RESOLVE"; break;
    case CURLE_COULDNT_CONNECT: code = "CONNECT"; break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS: code = "TLS"; break;
    case CURLE_FILESIZE_EXCEEDED: code = "TOO_LARGE"; break;
    case CURLE_OUT_OF_MEMORY: code = "NOMEM"; break;
    default: code = "NETWORK"; break;
    }
    return cce_set_error(err, code, r ? (int)r->status : 0, "%s: %s", what,
                         detail && *detail ? detail : curl_easy_strerror((CURLcode)cc));
}

/* ------------------------------------------------------------------- retry */

static uint64_t rng_next(cce_client *c)
{
    /* xorshift64*: jitter only, not security. */
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return c->rng * 2685821657736338717ULL;
}

static int transient_transport(int cc)
{
    switch ((CURLcode)cc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM: return 1;
    default: return 0;
    }
}

long cce_retry_delay_ms(cce_client *c, int attempt, int cc, long status, long retry_after_ms, const char **why)
{
    *why = NULL;
    if (attempt >= c->retries)
        return -1;
    if (cc != CURLE_OK) {
        if (!transient_transport(cc))
            return -1;
    } else if (status != 429 && status != 502 && status != 503 && status != 504) {
        return -1;
    }
    if (retry_after_ms >= 0 && (status == 429 || status == 503)) {
        if (retry_after_ms > c->max_backoff_ms) {
            *why = "the server's Retry-After is longer than the client's max_backoff";
            return -1;
        }
        /* Honour the server exactly, plus a little jitter so a fleet of waiting
         * requests does not return in one burst. */
        return retry_after_ms + (long)(rng_next(c) % (uint64_t)(c->backoff_ms / 4 + 1));
    }
    long d = c->backoff_ms;
    for (int i = 0; i < attempt && d < c->max_backoff_ms; i++)
        d *= 2;
    if (d > c->max_backoff_ms)
        d = c->max_backoff_ms;
    /* "Equal jitter": at least half the step, so retries still back off. */
    return d / 2 + (long)(rng_next(c) % (uint64_t)(d / 2 + 1));
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---------------------------------------------------------------- exchange */

void cce_http_prepare(cce_client *c, CURL *h, const char *method, const char *url, const char *body, cce_xfer *x,
                      char *errbuf)
{
    curl_easy_reset(h);
    cce_http_resp_reset(x->resp);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect must not carry the token elsewhere */
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->insecure ? 0L : 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->insecure ? 0L : 2L);
    if (c->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    if (c->log_level >= CCE_LOG_TRACE) {
        curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
        curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, curl_trace);
        curl_easy_setopt(h, CURLOPT_DEBUGDATA, c);
    }
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    if (strcmp(method, body ? "POST" : "GET") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
}

int cce_http_outcome(cce_client *c, int attempt, int cc, const cce_http_resp *resp, const char *errbuf,
                     const char *what, long max_delay_ms, long *delay, cce_error *err)
{
    if (cc == CURLE_OK && resp->status >= 200 && resp->status < 300)
        return 0;
    if (resp->too_large || cc == CURLE_FILESIZE_EXCEEDED)
        return cce_set_error(err, "TOO_LARGE", (int)resp->status,
                             "%s: the response is larger than the %zu-byte limit (max_response)", what, c->max_response);
    const char *why = NULL;
    *delay = cce_retry_delay_ms(c, attempt, cc, resp->status, resp->retry_after_ms, &why);
    if (*delay >= 0 && max_delay_ms >= 0 && *delay > max_delay_ms) {
        *delay = -1;
        why = "the deadline would pass before the next attempt";
    }
    if (*delay >= 0)
        return 1;
    if (cc != CURLE_OK)
        cce_error_from_transport(cc, errbuf, resp, what, err);
    else
        cce_error_from_response(resp, what, err);
    if (why && err && err->message) {
        size_t n = strlen(err->message) + strlen(why) + 4;
        char *m = realloc(err->message, n);
        if (m) {
            strcat(strcat(strcat(m, " ("), why), ")");
            err->message = m;
        }
    }
    return -1;
}

int cce_http_call(cce_client *c, const char *method, const char *path, const char *body, const char *what,
                  cce_http_resp *resp, cce_error *err)
{
    cce_buf url = {0};
    if (cce_http_url(c, path, &url) < 0)
        return cce_set_error(err, "NOMEM", 0, "out of memory");

    CURL *h = c->easy;
    cce_xfer x = {c, resp};
    char errbuf[CURL_ERROR_SIZE];
    int rc = -1;
    for (int attempt = 0;; attempt++) {
        errbuf[0] = '\0';
        cce_http_prepare(c, h, method, url.data, body, &x, errbuf);

        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        CURLcode cc = curl_easy_perform(h);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        cce_client_count_request(c, attempt > 0);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
        if (cc == CURLE_OK)
            cce_log(c, CCE_LOG_DEBUG, "%s %s -> %ld (%ld ms, %zu bytes, attempt %d)", method, url.data, resp->status, ms,
                    resp->body.len, attempt + 1);
        else
            cce_log(c, CCE_LOG_DEBUG, "%s %s -> %s (%ld ms, attempt %d)", method, url.data,
                    errbuf[0] ? errbuf : curl_easy_strerror(cc), ms, attempt + 1);

        long delay;
        int outcome = cce_http_outcome(c, attempt, cc, resp, errbuf, what, -1, &delay, err);
        if (outcome <= 0) {
            rc = outcome;
            break;
        }
        cce_log(c, CCE_LOG_INFO, "%s: %s, retrying in %ld ms (attempt %d of %d)", what,
                cc != CURLE_OK ? (errbuf[0] ? errbuf : curl_easy_strerror(cc)) : reason_phrase(resp->status), delay,
                attempt + 2, c->retries + 1);
        sleep_ms(delay);
    }
    cce_buf_free(&url);
    return rc;
}
