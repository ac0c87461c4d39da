/*
 * client.c - the client's configuration: global initialisation, options from
 * the environment, validation, the client object, and logging.
 *
 * Secrets: the token lives in one curl_slist built at client creation and is
 * never formatted into any message (see transport.c for the trace).
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

#include "http.h"


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

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

int cce_log_level_parse(const char *s)
{
    if (!s || !*s)
        return -1;
    /* Digits count from error = 0, as CCEAUTO_LOG always read them. */
    if (s[0] >= '0' && s[0] <= '4' && s[1] == '\0')
        return CCE_LOG_ERROR + (s[0] - '0');
    for (int i = 0; i < 5; i++)
        if (strcasecmp(s, level_names[i]) == 0)
            return CCE_LOG_ERROR + i;
    if (strcasecmp(s, "warning") == 0)
        return CCE_LOG_WARN;
    return -1;
}

/* ------------------------------------------------------------------ logging */

static void default_log(void *ud, int level, const char *line)
{
    (void)ud;
    int i = level < CCE_LOG_ERROR ? 0 : level > CCE_LOG_TRACE ? 4 : level - CCE_LOG_ERROR;
    fprintf(stderr, "cceauto: %s: %s\n", level_names[i], line);
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
    cce_loop_free(&c->loop);
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
        cce_set_error(err, CCE_E_NOMEM, 0, "libcurl could not be initialised");
        return NULL;
    }
    if (!o->project_id || !*o->project_id) {
        cce_set_error(err, CCE_E_CONFIG, 0, "no project id: set project_id or OS_PROJECT_ID");
        return NULL;
    }
    if (!cce_id_valid(o->project_id)) {
        cce_set_error(err, CCE_E_CONFIG, 0, "project id '%s' is not valid: only letters, digits and '-' are allowed",
                      o->project_id);
        return NULL;
    }
    if (!o->token || !*o->token) {
        cce_set_error(err, CCE_E_CONFIG, 0, "no token: set token or OS_AUTH_TOKEN");
        return NULL;
    }
    if (strpbrk(o->token, "\r\n")) {
        cce_set_error(err, CCE_E_CONFIG, 0, "the token contains a line break");
        return NULL;
    }
    if (o->region && *o->region && !region_valid(o->region)) {
        cce_set_error(err, CCE_E_CONFIG, 0, "region '%s' is not valid", o->region);
        return NULL;
    }
    if (!o->endpoint && (!o->region || !*o->region)) {
        cce_set_error(err, CCE_E_CONFIG, 0, "no region or endpoint: set region (OS_REGION_NAME) or endpoint (CCE_ENDPOINT)");
        return NULL;
    }
    if (o->endpoint && strncasecmp(o->endpoint, "https://", 8) != 0) {
        cce_set_error(err, CCE_E_CONFIG, 0, "endpoint '%s' is not an https:// URL", o->endpoint);
        return NULL;
    }
    if (o->ca_file && *o->ca_file && access(o->ca_file, R_OK) != 0) {
        cce_set_error(err, CCE_E_CONFIG, 0, "CA file '%s' cannot be read: %s", o->ca_file, strerror(errno));
        return NULL;
    }

    cce_client *c = calloc(1, sizeof *c);
    if (!c) {
        cce_set_error(err, CCE_E_NOMEM, 0, "out of memory");
        return NULL;
    }
    c->loop.epfd = -1;
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
    c->log_level = o->log_level <= CCE_LOG_DEFAULT ? CCE_LOG_WARN : o->log_level > CCE_LOG_TRACE ? CCE_LOG_TRACE : o->log_level;
    c->stop_on_signals = o->stop_on_signals;
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
        if (ok)
            c->token = strchr(h->next->next->data, ':') + 2;
        OPENSSL_cleanse(tokhdr, sizeof tokhdr); /* memset could be optimised away */
    }
    if (ok)
        ok = (c->easy = curl_easy_init()) != NULL && cce_loop_init(&c->loop, curl_multi_init(), NULL) == 0;
    if (!ok) {
        cce_client_free(c);
        cce_set_error(err, strlen(o->token) >= 4096 ? CCE_E_CONFIG : CCE_E_NOMEM, 0,
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

