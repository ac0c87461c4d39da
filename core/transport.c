/*
 * transport.c - one HTTP exchange: the easy handle's set-up, the response
 * callbacks, the redacted trace, the epoll event loop both paths wait in, and
 * stopping on SIGINT/SIGTERM.
 *
 * Secrets: at TRACE level curl's own header and info trace goes through
 * cce_redact_line() and bodies are never traced (a clustercert answer carries
 * a private key).
 */
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "http.h"

long long cce_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------- trace */

/* Header names whose values are secrets; matched case-insensitively. */
static const char *const secret_headers[] = {
    "x-auth-token", "authorization", "x-subject-token", "x-security-token", "proxy-authorization", "cookie", "set-cookie",
};

static int secret_name(const char *name, size_t n)
{
    while (n && (name[n - 1] == ' ' || name[n - 1] == '\t'))
        n--;
    for (size_t i = 0; i < sizeof secret_headers / sizeof *secret_headers; i++)
        if (strlen(secret_headers[i]) == n && strncasecmp(name, secret_headers[i], n) == 0)
            return 1;
    return 0;
}

/*
 * curl shows a header in three forms: "X-Auth-Token: v" (HTTP/1 headers, and
 * the HTTP/1-style copy of HTTP/2 request headers), "[x-auth-token: v]" in its
 * HTTP/2 info text (curl 7.88), and whatever a future version prints.  The
 * first two are redacted by name; the token itself is redacted wherever it
 * appears, so an unknown form cannot show it either.
 */
void cce_redact_line(const char *in, size_t n, const char *token, cce_buf *out)
{
    out->len = 0;
    cce_buf_reserve(out, n + 16);
    while (n && (in[n - 1] == '\n' || in[n - 1] == '\r'))
        n--;
    size_t tl = token ? strlen(token) : 0;
    size_t i = 0;
    const char *colon = memchr(in, ':', n);
    size_t lead = strspn(in, " \t");
    if (colon && lead < (size_t)(colon - in) && in[lead] != '[' && secret_name(in + lead, (size_t)(colon - in) - lead)) {
        cce_buf_append(out, in, (size_t)(colon - in) + 1);
        cce_buf_puts(out, " <redacted>");
        return;
    }
    while (i < n) {
        if (in[i] == '[') {
            const char *end = memchr(in + i, ']', n - i);
            size_t span = end ? (size_t)(end - (in + i)) : n - i;
            const char *c = memchr(in + i, ':', span);
            if (c && secret_name(in + i + 1, (size_t)(c - (in + i + 1)))) {
                cce_buf_append(out, in + i, (size_t)(c - (in + i)) + 1);
                cce_buf_puts(out, " <redacted>]");
                i += span + (end ? 1 : 0);
                continue;
            }
        }
        if (tl >= 4 && n - i >= tl && memcmp(in + i, token, tl) == 0) {
            cce_buf_puts(out, "<redacted>");
            i += tl;
            continue;
        }
        cce_buf_append(out, in + i, 1);
        i++;
    }
    if (!out->data)
        cce_buf_puts(out, "");
}

static int curl_trace(CURL *h, curl_infotype type, char *data, size_t size, void *ud)
{
    (void)h;
    cce_client *c = ud;
    const char *tag;
    switch (type) {
    case CURLINFO_TEXT: tag = "*"; break;
    case CURLINFO_HEADER_OUT: tag = ">"; break;
    case CURLINFO_HEADER_IN: tag = "<"; break;
    default: return 0; /* bodies and TLS data are never traced */
    }
    /* HEADER_OUT arrives as one block of lines: split it. */
    cce_buf line = {0};
    const char *p = data, *end = data + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p + 1) : (size_t)(end - p);
        cce_redact_line(p, n, c->token, &line);
        if (line.len)
            cce_log(c, CCE_LOG_TRACE, "%s %s", tag, line.data);
        p += n;
    }
    cce_buf_free(&line);
    return 0;
}

/* ---------------------------------------------------------------- response */

static void subject_token_clear(cce_http_resp *r)
{
    if (r->subject_token.data)
        OPENSSL_cleanse(r->subject_token.data, r->subject_token.cap);
    r->subject_token.len = 0;
}

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
    subject_token_clear(r);
}

void cce_http_resp_free(cce_http_resp *r)
{
    subject_token_clear(r);
    cce_buf_free(&r->subject_token);
    cce_buf_free(&r->body);
}

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
    else if (nl == 15 && strncasecmp(p, "X-Subject-Token", 15) == 0) {
        subject_token_clear(x->resp);
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        if (vl < 65536)
            cce_buf_append(&x->resp->subject_token, v, vl);
    } else if (nl == 11 && strncasecmp(p, "Retry-After", 11) == 0) {
        copy_header_value(v, vl, tmp, sizeof tmp);
        x->resp->retry_after_ms = parse_retry_after(tmp);
    }
    return len;
}


/* ---------------------------------------------------------------- signals */

static volatile sig_atomic_t caught_signal;

static void on_stop_signal(int sig) { caught_signal = sig; }

void cce_stop_begin(cce_stop *s, int catch_signals)
{
    memset(s, 0, sizeof *s);
    if (!catch_signals)
        return;
    sigset_t both;
    sigemptyset(&both);
    sigaddset(&both, SIGINT);
    sigaddset(&both, SIGTERM);
    /* Blocked before the handler is set: nothing is delivered in between. */
    pthread_sigmask(SIG_BLOCK, &both, &s->saved_mask);
    s->wait_mask = s->saved_mask;
    sigdelset(&s->wait_mask, SIGINT);
    sigdelset(&s->wait_mask, SIGTERM);
    caught_signal = 0; /* every call starts afresh, whatever stopped the one before */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &s->old_int);
    sigaction(SIGTERM, &sa, &s->old_term);
    s->active = 1;
}

int cce_stop_signal(const cce_stop *s)
{
    if (!s || !s->active)
        return 0;
    if (caught_signal)
        return caught_signal;
    sigset_t pending;
    if (sigpending(&pending) == 0) {
        if (sigismember(&pending, SIGINT) == 1)
            return SIGINT;
        if (sigismember(&pending, SIGTERM) == 1)
            return SIGTERM;
    }
    return 0;
}

int cce_stop_end(cce_stop *s)
{
    if (!s->active)
        return 0;
    /* A signal still pending is delivered here, to our handler, unless the
     * caller had it blocked (an outer call that stops on signals: it sees it). */
    pthread_sigmask(SIG_SETMASK, &s->saved_mask, NULL);
    sigaction(SIGINT, &s->old_int, NULL);
    sigaction(SIGTERM, &s->old_term, NULL);
    s->active = 0;
    int sig = caught_signal;
    caught_signal = 0;
    return sig;
}

/* -------------------------------------------------------------- event loop */

static int on_socket(CURL *h, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)h;
    (void)socketp;
    cce_loop *l = userp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
        return 0;
    }
    struct epoll_event e;
    memset(&e, 0, sizeof e);
    e.data.fd = fd;
    e.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &e) < 0 && errno == EEXIST)
        epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &e);
    return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    cce_loop *l = userp;
    l->timer_ms = timeout_ms < 0 ? -1 : cce_now_ms() + timeout_ms;
    return 0;
}

int cce_loop_init(cce_loop *l, CURLM *multi, cce_error *err)
{
    l->multi = multi;
    l->timer_ms = -1;
    if (!multi) {
        l->epfd = -1;
        return cce_set_error(err, CCE_E_NOMEM, 0, "out of memory (curl multi handle)");
    }
    if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        return cce_set_error(err, CCE_E_NOMEM, 0, "cannot create an epoll instance: %s", strerror(errno));
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, l);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, l);
    return 0;
}

void cce_loop_free(cce_loop *l)
{
    if (l->multi)
        curl_multi_cleanup(l->multi); /* may still tell on_socket to forget sockets: epfd stays open until then */
    if (l->epfd >= 0)
        close(l->epfd);
    l->multi = NULL;
    l->epfd = -1;
}

void cce_loop_wait(cce_loop *l, long max_ms, const cce_stop *s)
{
    long long now = cce_now_ms();
    long wait = max_ms < 0 || max_ms > 60000 ? 60000 : max_ms; /* a bound, never a poll: signals end a wait at once */
    if (l->timer_ms >= 0 && l->timer_ms - now < wait)
        wait = l->timer_ms <= now ? 0 : (long)(l->timer_ms - now);
    struct epoll_event ready[64];
    int nready = s && s->active ? epoll_pwait(l->epfd, ready, 64, (int)wait, &s->wait_mask)
                                : epoll_wait(l->epfd, ready, 64, (int)wait);
    /* A signal (which may come with ready events, not only as EINTR): the caller
     * looks at it before curl does anything more; epoll is level-triggered, so
     * nothing is lost if it goes on. */
    if ((nready < 0 && errno == EINTR) || cce_stop_signal(s))
        return;
    int running = 0;
    for (int r = 0; r < nready; r++) {
        int flags = (ready[r].events & EPOLLIN ? CURL_CSELECT_IN : 0) | (ready[r].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                    (ready[r].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(l->multi, ready[r].data.fd, flags, &running);
    }
    if (l->timer_ms >= 0 && l->timer_ms <= cce_now_ms()) {
        l->timer_ms = -1;
        curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
}

/* ---------------------------------------------------------------- exchange */

void cce_xfer_done(cce_xfer *x)
{
    cce_headers_free(x->headers);
    x->headers = NULL;
}

int cce_http_prepare(cce_client *c, CURL *h, const char *method, const char *url, const char *body, unsigned flags,
                     cce_xfer *x, char *errbuf, cce_error *err)
{
    curl_easy_reset(h);
    cce_http_resp_reset(x->resp);
    cce_xfer_done(x);
    /* Made per attempt: an AK/SK signature carries the time it was made. */
    x->headers = cce_auth_headers(c, method, url, body, flags, &x->token_gen, err);
    if (!x->headers)
        return -1;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->headers);
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
    return 0;
}

/* Runs one transfer on the client's loop: 0 when it ended (*cc), else the signal that stopped it. */
static int run_transfer(cce_client *c, CURL *h, const cce_stop *s, CURLcode *cc)
{
    CURLM *m = c->loop.multi;
    if (curl_multi_add_handle(m, h) != CURLM_OK) {
        *cc = CURLE_OUT_OF_MEMORY;
        return 0;
    }
    int sig = 0;
    for (;;) {
        CURLMsg *msg;
        int left, ended = 0;
        while ((msg = curl_multi_info_read(m, &left)) != NULL)
            if (msg->msg == CURLMSG_DONE && msg->easy_handle == h) {
                *cc = msg->data.result;
                ended = 1;
            }
        if (ended || (sig = cce_stop_signal(s)) != 0)
            break;
        cce_loop_wait(&c->loop, -1, s);
    }
    curl_multi_remove_handle(m, h);
    return sig;
}

/* Waits out a retry delay; 0, or the signal that ended the wait. */
static int wait_delay(cce_client *c, long ms, const cce_stop *s)
{
    long long end = cce_now_ms() + ms;
    int sig;
    for (long long now = cce_now_ms(); (sig = cce_stop_signal(s)) == 0 && now < end; now = cce_now_ms())
        cce_loop_wait(&c->loop, (long)(end - now), s);
    return sig;
}

static const char *signal_name(int sig) { return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal"; }

int cce_http_request(cce_client *c, const char *method, const char *url, const char *body, unsigned flags,
                     const char *what, cce_http_resp *resp, cce_error *err)
{
    CURL *h = c->easy;
    cce_xfer x = {c, resp, NULL, 0};
    char errbuf[CURL_ERROR_SIZE];
    int rc = -1, sig = 0;
    cce_stop stop;
    cce_stop_begin(&stop, c->stop_on_signals);
    for (int attempt = 0;; attempt++) {
        if ((sig = cce_stop_signal(&stop)) != 0)
            break;
        errbuf[0] = '\0';
        if (cce_http_prepare(c, h, method, url, body, flags, &x, errbuf, err) < 0)
            break;

        long long t0 = cce_now_ms();
        CURLcode cc = CURLE_OK;
        sig = run_transfer(c, h, &stop, &cc);
        long ms = (long)(cce_now_ms() - t0);
        cce_client_count_request(c, attempt > 0);
        if (sig)
            break;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
        if (cc == CURLE_OK)
            cce_log(c, CCE_LOG_DEBUG, "%s %s -> %ld (%ld ms, %zu bytes, attempt %d)", method, url, resp->status, ms,
                    resp->body.len, attempt + 1);
        else
            cce_log(c, CCE_LOG_DEBUG, "%s %s -> %s (%ld ms, attempt %d)", method, url,
                    errbuf[0] ? errbuf : curl_easy_strerror(cc), ms, attempt + 1);

        long delay;
        int outcome = cce_http_outcome(c, attempt, cc, resp, errbuf, what, -1, &delay, err);
        if (outcome <= 0) {
            rc = outcome;
            break;
        }
        cce_log(c, CCE_LOG_INFO, "%s: %s, retrying in %ld ms (attempt %d of %d)", what,
                cc != CURLE_OK ? (errbuf[0] ? errbuf : curl_easy_strerror(cc)) : cce_http_reason(resp->status), delay,
                attempt + 2, c->retries + 1);
        if ((sig = wait_delay(c, delay, &stop)) != 0)
            break;
    }
    cce_xfer_done(&x);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    if (sig) {
        cce_http_resp_reset(resp);
        cce_set_error(err, CCE_E_INTERRUPTED, 0, "%s: interrupted by %s", what, signal_name(sig));
        rc = -1;
    }
    int caught = cce_stop_end(&stop);
    if (caught)
        c->caught_signal = caught;
    return rc;
}

int cce_http_call(cce_client *c, const char *method, const char *path, const char *body, const char *what,
                  cce_http_resp *resp, cce_error *err)
{
    if (cce_auth_ensure(c, err) < 0)
        return -1;
    cce_buf url = {0};
    if (cce_http_url(c, path, &url) < 0)
        return cce_set_error(err, CCE_E_NOMEM, 0, "out of memory");
    unsigned gen = c->token_gen;
    int rc = cce_http_request(c, method, url.data, body, 0, what, resp, err);
    /* A token that IAM revoked (a password change) or that expired early:
     * one new login, and the request once more. */
    if (rc < 0 && resp->status == 401 && cce_auth_relogin(c, gen, NULL) == 0) {
        cce_log(c, CCE_LOG_INFO, "%s: the token was refused (HTTP 401); logged in again, repeating the request", what);
        cce_error_clear(err);
        rc = cce_http_request(c, method, url.data, body, 0, what, resp, err);
    }
    cce_buf_free(&url);
    return rc;
}

int cce_client_take_signal(cce_client *c)
{
    int sig = c->caught_signal;
    c->caught_signal = 0;
    return sig;
}
