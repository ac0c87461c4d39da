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
    o->use_env = 1;
    if (!o->log_level) {
        int lv = cce_log_level_parse(env_first("CCEAUTO_LOG", NULL));
        if (lv >= 0)
            o->log_level = lv;
    }
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
    cce_auth_free(c);
    free(c->endpoint);
    free(c->project_id);
    free(c->region);
    free(c->ca_file);
    free(c);
}

/* $XDG_CACHE_HOME/cceauto, else ~/.cache/cceauto; NULL when neither is known. */
static char *default_cache_dir(void)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    cce_buf b = {0};
    if (xdg && xdg[0] == '/')
        cce_buf_printf(&b, "%s/cceauto", xdg);
    else if (home && home[0] == '/')
        cce_buf_printf(&b, "%s/.cache/cceauto", home);
    return b.data;
}

/* Everything but who the client is: timeouts, logging, the curl handles. */
static int client_setup(cce_client *c, const cce_client_opts *o)
{
    c->loop.epfd = -1;
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
    return (c->easy = curl_easy_init()) != NULL && cce_loop_init(&c->loop, curl_multi_init(), NULL) == 0 ? 0 : -1;
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
    cce_client *c = calloc(1, sizeof *c);
    if (!c) {
        cce_set_error(err, CCE_E_NOMEM, 0, "out of memory");
        return NULL;
    }
    c->loop.epfd = -1;
    if (cce_auth_resolve(c, o, err) < 0) {
        cce_client_free(c);
        return NULL;
    }
    c->interactive = o->interactive;
    if (!o->no_cache && c->auth_method == CCE_AUTH_PASSWORD)
        c->cache_dir = o->cache_dir && *o->cache_dir ? strdup(o->cache_dir) : default_cache_dir();
    if (client_setup(c, o) < 0) {
        cce_client_free(c);
        cce_set_error(err, CCE_E_NOMEM, 0, "out of memory");
        return NULL;
    }
    if (c->insecure)
        cce_log(c, CCE_LOG_WARN, "TLS verification is off for this client (insecure)");
    return c;
}

cce_client *cce_client_derive(cce_client *c, const char *project_id, const char *project_name, const char *region,
                              cce_error *err)
{
    if (project_id && *project_id && !cce_id_valid(project_id)) {
        cce_set_error(err, CCE_E_CONFIG, 0, "project id '%s' is not valid: only letters, digits and '-' are allowed",
                      project_id);
        return NULL;
    }
    if (region && *region && !cce_region_valid(region)) {
        cce_set_error(err, CCE_E_CONFIG, 0, "region '%s' is not valid", region);
        return NULL;
    }
    int other = (project_id && *project_id && (!c->project_id || strcmp(project_id, c->project_id) != 0)) ||
                (project_name && *project_name && (!c->project_name || strcmp(project_name, c->project_name) != 0)) ||
                (region && *region && (!c->region || strcmp(region, c->region) != 0));
    if (other && c->auth_method == CCE_AUTH_TOKEN) {
        cce_set_error(err, CCE_E_CONFIG, 0,
                      "a token is valid for its own project only: other projects or regions need a password or an "
                      "access key (AK/SK)");
        return NULL;
    }
    cce_client *d = calloc(1, sizeof *d);
    if (!d) {
        cce_set_error(err, CCE_E_NOMEM, 0, "out of memory");
        return NULL;
    }
    d->loop.epfd = -1;
    cce_client_opts o;
    memset(&o, 0, sizeof o);
    o.timeout_ms = c->timeout_ms;
    o.connect_timeout_ms = c->connect_timeout_ms;
    o.retries = c->retries ? c->retries : -1;
    o.backoff_ms = c->backoff_ms;
    o.max_backoff_ms = c->max_backoff_ms;
    o.max_response = c->max_response;
    o.log_level = c->log_level;
    o.log = c->log;
    o.log_ud = c->log_ud;
    o.stop_on_signals = c->stop_on_signals;
    int same_project = !(project_id && *project_id) && !(project_name && *project_name);
    const char *r = region && *region ? region : c->region;
    int new_region = r && (!c->region || strcmp(r, c->region) != 0);
    int ok = cce_auth_copy(d, c) == 0 && client_setup(d, &o) == 0;
    if (ok) {
        d->insecure = c->insecure;
        d->region = cce_strdup(r);
        d->ca_file = cce_strdup(c->ca_file);
        d->project_id = cce_strdup(same_project ? c->project_id : project_id && *project_id ? project_id : NULL);
        d->project_name = cce_strdup(same_project ? c->project_name : project_name && *project_name ? project_name : NULL);
        d->endpoint = new_region && !c->endpoint_set ? cce_auth_region_cce(r) : cce_strdup(c->endpoint);
        if (new_region && c->auth_url_default) {
            free(d->auth_url);
            d->auth_url = cce_auth_region_iam(r);
        }
        /* The same project in the same region: the parent's token serves (no second login,
         * also without the token cache). */
        if (d->auth_method == CCE_AUTH_PASSWORD && !new_region && c->token && c->project_id && d->project_id &&
            strcmp(c->project_id, d->project_id) == 0) {
            d->token = strdup(c->token);
            d->token_expires = c->token_expires;
            d->token_from_cache = c->token_from_cache;
            d->token_gen = 1;
            if (!d->project_name && c->project_name)
                d->project_name = strdup(c->project_name);
        }
        ok = (!r || d->region) && (!c->ca_file || d->ca_file);
    }
    if (!ok) {
        cce_client_free(d);
        cce_set_error(err, CCE_E_NOMEM, 0, "out of memory");
        return NULL;
    }
    if (!d->endpoint && d->auth_method != CCE_AUTH_PASSWORD) {
        cce_client_free(d);
        cce_set_error(err, CCE_E_CONFIG, 0,
                      "no CCE endpoint is known for region '%s': set endpoint (CCE_ENDPOINT), or log in with a "
                      "password to find it in the service catalog",
                      r ? r : "?");
        return NULL;
    }
    return d;
}

const char *cce_client_endpoint(const cce_client *c) { return c->endpoint; }
const char *cce_client_project_id(const cce_client *c) { return c->project_id; }
const char *cce_client_region(const cce_client *c) { return c->region; }
const char *cce_client_project_name(const cce_client *c) { return c->project_name; }
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

