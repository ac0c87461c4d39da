/*
 * http.h - the client object's layout and the event loop, shared by the
 * HTTP files only: client.c (configuration), transport.c (one exchange, the
 * trace, the event loop, stopping on signals), retry.c (the retry policy) and
 * errors.c (reading error answers).  Not installed.
 */
#ifndef CCE_HTTP_H
#define CCE_HTTP_H

#include <signal.h>
#include <stdint.h>

#include "internal.h"

/*
 * An event loop over a curl multi handle, driven by curl_multi_socket_action
 * and epoll (hiperfifo's way): curl hears which socket is ready instead of
 * being asked to look at every transfer on each wake-up.
 */
typedef struct cce_loop {
    CURLM *multi;
    int epfd;
    long long timer_ms;  /* when curl wants its timeout action; -1: none */
} cce_loop;

/* Sets up the loop on `multi` (which the loop then owns). -1 with err filled on failure. */
int cce_loop_init(cce_loop *l, CURLM *multi, cce_error *err);
void cce_loop_free(cce_loop *l);

/*
 * Stopping on SIGINT/SIGTERM.  Between cce_stop_begin() and cce_stop_end()
 * the two signals are blocked and have a handler that records them; they are
 * unblocked only inside cce_loop_wait()'s epoll_pwait, so a signal either
 * ends that wait at once or stays pending until cce_stop_signal() sees it:
 * no wake-up polling, and no window in which a signal is missed.  The record
 * is cleared by every cce_stop_begin().
 */
typedef struct cce_stop {
    int active;
    sigset_t wait_mask;   /* the caller's mask without the two signals: used during waits */
    sigset_t saved_mask;
    struct sigaction old_int, old_term;
} cce_stop;

void cce_stop_begin(cce_stop *s, int catch_signals);
/* The signal that arrived since cce_stop_begin (caught or still pending), else 0. */
int cce_stop_signal(const cce_stop *s);
/* Restores the mask and the handlers; returns the signal that arrived (0: none). */
int cce_stop_end(cce_stop *s);

/*
 * Waits up to max_ms (-1: until curl's next timeout) for socket events,
 * curl's timer or a stop signal, and hands what happened to curl.
 */
void cce_loop_wait(cce_loop *l, long max_ms, const cce_stop *s);

long long cce_now_ms(void);  /* CLOCK_MONOTONIC */

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
    int stop_on_signals;
    int caught_signal;           /* what a call caught, until cce_client_take_signal() */
    /* Who the client is (auth.c).  Secrets live only here, in heap strings
     * that cce_client_free() cleanses, and in the per-transfer headers. */
    int auth_method;             /* CCE_AUTH_* */
    char *auth_url;              /* IAM base ending in /v3, no trailing '/' */
    int auth_url_default;        /* auth_url came from the region table (derive recomputes it) */
    int endpoint_set;            /* the endpoint was given (derive keeps it) */
    char *username, *user_id, *domain, *password, *passcode;
    char *ak, *sk, *security_token;
    char *project_name;
    char *cloud;                 /* the clouds.yaml entry, for messages */
    char *cache_dir;             /* NULL: no cache */
    int interactive;
    char *token;                 /* X-Auth-Token: given, cached or from a login; NULL until then */
    long long token_expires;     /* Unix seconds; 0 unknown */
    int token_from_cache;
    unsigned token_gen;          /* counts new tokens: a 401 on an older one needs no new login */
    int relogins;                /* logins after a 401: at most three per client */
    cce_error auth_err;          /* a failed login or project lookup, kept: one attempt per client */
    int auth_failed;
    CURL *easy;                  /* reused, so keep-alive connections are reused */
    cce_loop loop;               /* the one-shot calls' loop; its multi keeps the connections */
    char user_agent[48];
    uint64_t rng;
    cce_client_stats stats;
};

enum { CCE_AUTH_TOKEN = 1, CCE_AUTH_AKSK, CCE_AUTH_PASSWORD };

/* Request flags of cce_http_prepare / cce_http_request. */
enum {
    CCE_REQ_NOAUTH = 1,   /* no token and no signature (the login itself) */
    CCE_REQ_IAM = 2,      /* an IAM request: no X-Project-Id */
};

/*
 * auth.c.  cce_auth_ensure: makes the client ready to send CCE requests: the
 * project id resolved, a token that is valid for 10 more minutes (from
 * memory, the cache, or a login), the CCE endpoint known.  A failure is kept
 * in the client and returned again without a new attempt.
 * cce_auth_relogin: after a 401 on a token of generation `gen`: discards it
 * (and its cache file) and logs in once more; 0 when a new token is there
 * (also when another transfer already got one), -1 when no new login may or
 * could be made.
 * cce_auth_headers: the headers of one transfer (Accept, Content-Type, and the
 * token or the AK/SK signature made now, per attempt); *gen gets the token's
 * generation.  cce_headers_free cleanses them.
 */
int cce_auth_resolve(cce_client *c, const cce_client_opts *o, cce_error *err);
int cce_auth_ensure(cce_client *c, cce_error *err);
int cce_auth_relogin(cce_client *c, unsigned gen, cce_error *err);
struct curl_slist *cce_auth_headers(cce_client *c, const char *method, const char *url, const char *body,
                                    unsigned flags, unsigned *gen, cce_error *err);
void cce_headers_free(struct curl_slist *h);
void cce_auth_free(cce_client *c);
/* The region's hosts: CCE from the built-in table only (NULL outside it), IAM by OTC's pattern. */
char *cce_auth_region_cce(const char *region);
char *cce_auth_region_iam(const char *region);
int cce_region_valid(const char *region);
int cce_auth_copy(cce_client *dst, const cce_client *src);

/*
 * An IAM login's 2xx answer: the token (X-Subject-Token, `subject`), its
 * expiry, the project and user it names, and with `region` the CCE endpoint
 * of that region in the service catalog.  Heap strings; 0, or -1 with
 * "BAD_RESPONSE" naming what is missing.  (A parser of outside input: fuzzed
 * by tests/fuzz/fuzz_iam.c.)
 */
typedef struct cce_iam_answer {
    char *token;
    long long expires_at;
    char *project_id, *project_name, *user_id, *cce_endpoint;
} cce_iam_answer;
int cce_iam_login_answer(const char *body, size_t len, const char *subject, size_t slen, const char *region,
                         cce_iam_answer *out, const char *what, cce_error *err);
void cce_iam_answer_clear(cce_iam_answer *a);
/* A project listing's answer ({"projects": [...]}) as cce_project entries (ids checked). */
int cce_iam_projects_answer(const char *body, size_t len, cce_project **out, size_t *n, cce_error *err);

/*
 * One exchange with any URL (IAM or CCE), retried by the client's policy,
 * no login and no 401 handling: what cce_http_call and the login use.
 */
int cce_http_request(cce_client *c, const char *method, const char *url, const char *body, unsigned flags,
                     const char *what, cce_http_resp *resp, cce_error *err);

/* The reason phrase of an HTTP status ("" when not a common one). */
const char *cce_http_reason(long status);

#endif
