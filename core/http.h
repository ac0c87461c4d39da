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
    struct curl_slist *headers;  /* holds the token: never logged */
    const char *token;           /* points into `headers`, for redaction only */
    CURL *easy;                  /* reused, so keep-alive connections are reused */
    cce_loop loop;               /* the one-shot calls' loop; its multi keeps the connections */
    char user_agent[48];
    uint64_t rng;
    cce_client_stats stats;
};

/* The reason phrase of an HTTP status ("" when not a common one). */
const char *cce_http_reason(long status);

#endif
