/*
 * batch.c - many clustercert calls in one curl multi loop.
 *
 * The shape is libcurl's 10-at-a-time: a fixed pool of easy handles (so TLS
 * sessions and the multi's connection cache are reused), refilled from the
 * queue whenever a transfer ends, driven by curl_multi_socket_action() and
 * epoll (hiperfifo's way).  A failed attempt that may be retried is parked
 * with a due time instead of sleeping, so one slow retry never holds up the
 * others; the wait ends at the earliest due time.
 * Everything that is not curl's own work (parsing answers, retry decisions,
 * progress) happens between transfers, on this thread, never in a callback.
 */
#include <errno.h>
#include <signal.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

enum { ST_QUEUED, ST_ACTIVE, ST_WAITING, ST_DONE };

typedef struct slot {
    CURL *h;
    long item;                /* -1 when free */
    cce_http_resp resp;
    cce_xfer x;
    cce_buf url;
    char body[48];
    char errbuf[CURL_ERROR_SIZE];
} slot;

typedef struct item_state {
    int state;
    long long first_ms;       /* when its first request started */
    long long due_ms;         /* ST_WAITING: when to retry */
} item_state;

static volatile sig_atomic_t stop_signal;

/*
 * Event-driven transfers (curl_multi_socket_action with epoll): curl is told
 * which socket is ready instead of being asked to look at every transfer on
 * each wake-up, which with dozens of connections was most of the loop's CPU.
 */
typedef struct events {
    int epfd;
    long long timer_ms;  /* when curl wants its timeout action; -1: none */
} events;

static int on_socket(CURL *h, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)h;
    events *ev = userp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(ev->epfd, EPOLL_CTL_DEL, fd, NULL);
        return 0;
    }
    struct epoll_event e;
    memset(&e, 0, sizeof e);
    e.data.fd = fd;
    e.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    (void)socketp;
    if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, fd, &e) < 0 && errno == EEXIST)
        epoll_ctl(ev->epfd, EPOLL_CTL_MOD, fd, &e);
    return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *userp);

static void on_stop_signal(int sig) { stop_signal = sig; }

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    events *ev = userp;
    ev->timer_ms = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    return 0;
}

static void item_what(const cce_batch_item *it, char *what, size_t n)
{
    snprintf(what, n, "clustercert %s", it->cluster_id ? it->cluster_id : "");
}

/* Starts item i's next attempt on slot s. */
static int start(CURLM *m, slot *s, cce_batch_item *items, item_state *st, long i, long deadline_ms, long long now)
{
    cce_batch_item *it = &items[i];
    char path[180];
    if (cce_clustercert_request(it->cluster_id, it->days, path, sizeof path, s->body, sizeof s->body, &it->err) < 0 ||
        cce_http_url(it->client, path, &s->url) < 0)
        return -1;
    s->item = i;
    s->x.c = it->client;
    s->x.resp = &s->resp;
    s->errbuf[0] = '\0';
    cce_http_prepare(it->client, s->h, "POST", s->url.data, s->body, &s->x, s->errbuf);
    curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
    curl_easy_setopt(s->h, CURLOPT_PIPEWAIT, 1L); /* wait to multiplex over HTTP/2 rather than open more connections */
    if (st[i].first_ms == 0)
        st[i].first_ms = now;
    if (deadline_ms > 0) {
        long left = (long)(st[i].first_ms + deadline_ms - now);
        long t = cce_client_timeout_ms(it->client);
        curl_easy_setopt(s->h, CURLOPT_TIMEOUT_MS, left < t ? (left > 1 ? left : 1) : t);
    }
    it->attempts++;
    cce_client_count_request(it->client, it->attempts > 1);
    st[i].state = ST_ACTIVE;
    return curl_multi_add_handle(m, s->h) == CURLM_OK ? 0 : -1;
}

/* A transfer ended: a result, a parked retry, or a final error. */
static void finish(slot *s, CURLcode cc, cce_batch_item *items, item_state *st, long deadline_ms, long long now,
                   cce_batch_stats *stats)
{
    long i = s->item;
    cce_batch_item *it = &items[i];
    char what[200];
    item_what(it, what, sizeof what);
    long conns = 0;
    curl_easy_getinfo(s->h, CURLINFO_NUM_CONNECTS, &conns);
    stats->connections += (unsigned long)conns;
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->resp.status);
    s->item = -1;

    long delay;
    long max_delay = deadline_ms > 0 ? (long)(st[i].first_ms + deadline_ms - now) : -1;
    int outcome = cce_http_outcome(it->client, it->attempts - 1, cc, &s->resp, s->errbuf, what,
                                   max_delay < 0 && deadline_ms > 0 ? 0 : max_delay, &delay, &it->err);
    if (outcome == 0)
        it->kc = cce_clustercert_response(&s->resp, what, &it->err);
    if (outcome <= 0) {
        st[i].state = ST_DONE;
        return;
    }
    cce_log(it->client, CCE_LOG_INFO, "%s: %s, retrying in %ld ms", what,
            cc != CURLE_OK ? (s->errbuf[0] ? s->errbuf : curl_easy_strerror(cc)) : "HTTP error", delay);
    st[i].state = ST_WAITING;
    st[i].due_ms = now + delay;
    stats->retries++;
}

/* Takes the ended transfers out of the multi and files their outcomes. */
static void drain(CURLM *m, cce_batch_item *items, item_state *st, long deadline_ms, cce_batch_stats *stats,
                  long *waiting, size_t *nwait, size_t *done, size_t *failed, size_t *active)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        slot *s = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        CURLcode cc = msg->data.result;
        curl_multi_remove_handle(m, msg->easy_handle);
        (*active)--;
        long i = s->item;
        finish(s, cc, items, st, deadline_ms, now_ms(), stats);
        if (st[i].state == ST_WAITING) {
            waiting[(*nwait)++] = i;
        } else {
            (*done)++;
            if (!items[i].kc)
                (*failed)++;
        }
    }
}

static void report(const cce_batch_opts *o, size_t n, size_t done, size_t failed, size_t active, size_t waiting,
                   long long t0, long long now, int *stop)
{
    if (!o->progress)
        return;
    cce_batch_progress p;
    p.total = n;
    p.done = done;
    p.failed = failed;
    p.in_flight = active;
    p.waiting = waiting;
    p.elapsed_s = (double)(now - t0) / 1000.0;
    p.rate = p.elapsed_s > 0 ? (double)done / p.elapsed_s : 0;
    p.eta_s = p.rate > 0 ? (double)(n - done) / p.rate : -1;
    if (o->progress(o->progress_ud, &p) != 0)
        *stop = 1;
}

int cce_clustercert_batch(cce_batch_item *items, size_t n, const cce_batch_opts *opts, cce_batch_stats *stats)
{
    static const cce_batch_opts defaults;
    const cce_batch_opts *o = opts ? opts : &defaults;
    cce_batch_stats local;
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    int conc = o->concurrency > 0 ? o->concurrency : 16;
    if ((size_t)conc > n)
        conc = n ? (int)n : 1;
    long interval = o->progress_interval_ms > 0 ? o->progress_interval_ms : 200;
    long long t0 = now_ms();

    item_state *st = calloc(n ? n : 1, sizeof *st);
    slot *slots = calloc((size_t)conc, sizeof *slots);
    long *waiting = calloc(n ? n : 1, sizeof *waiting); /* indices of ST_WAITING items */
    CURLM *m = cce_global_init() == 0 ? curl_multi_init() : NULL;
    int rc = 0, stop = 0;
    events ev = {-1, -1};
    size_t nwait = 0, done = 0, failed = 0, active = 0, next = 0;
    struct sigaction old_int, old_term;
    if (!st || !slots || !waiting || !m) {
        for (size_t i = 0; i < n; i++)
            cce_set_error(&items[i].err, "NOMEM", 0, "out of memory starting the batch");
        failed = n;
        rc = -1;
        goto out;
    }
    for (int k = 0; k < conc; k++) {
        slots[k].item = -1;
        if ((slots[k].h = curl_easy_init()) == NULL) {
            conc = k > 0 ? k : 1; /* run with fewer rather than not at all */
            break;
        }
    }
    if (!slots[0].h) {
        for (size_t i = 0; i < n; i++)
            cce_set_error(&items[i].err, "NOMEM", 0, "out of memory starting the batch");
        failed = n;
        rc = -1;
        goto out;
    }
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)(conc > 0 ? conc : 1));
    curl_multi_setopt(m, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    if ((ev.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        for (size_t i = 0; i < n; i++)
            cce_set_error(&items[i].err, "NOMEM", 0, "cannot create an epoll instance: %s", strerror(errno));
        failed = n;
        rc = -1;
        goto out;
    }
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(m, CURLMOPT_SOCKETDATA, &ev);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(m, CURLMOPT_TIMERDATA, &ev);

    /* Refused before anything is sent: bad ids and durations, items without a client. */
    for (size_t i = 0; i < n; i++) {
        items[i].kc = NULL;
        items[i].attempts = 0;
        memset(&items[i].err, 0, sizeof items[i].err);
        char p[180], b[48];
        if (!items[i].client)
            cce_set_error(&items[i].err, "INVALID_ARGUMENT", 0, "item %zu has no client", i + 1);
        else if (cce_clustercert_request(items[i].cluster_id, items[i].days, p, sizeof p, b, sizeof b, &items[i].err) == 0)
            continue;
        st[i].state = ST_DONE;
        done++;
        failed++;
    }

    if (o->stop_on_signals) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_stop_signal;
        sigemptyset(&sa.sa_mask);
        stop_signal = 0;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
    }

    long long last_report = 0;
    while (done < n && !stop) {
        long long now = now_ms();
        /* Fill free slots: due retries first, then new items. */
        for (int k = 0; k < conc && !stop; k++) {
            if (slots[k].item >= 0)
                continue;
            long pick = -1;
            for (size_t w = 0; w < nwait; w++)
                if (st[waiting[w]].due_ms <= now) {
                    pick = waiting[w];
                    waiting[w] = waiting[--nwait];
                    break;
                }
            while (pick < 0 && next < n)
                if (st[next].state == ST_QUEUED)
                    pick = (long)next++;
                else
                    next++;
            if (pick < 0)
                break;
            if (start(m, &slots[k], items, st, pick, o->deadline_ms, now) < 0) {
                slots[k].item = -1;
                if (!items[pick].err.code[0])
                    cce_set_error(&items[pick].err, "NOMEM", 0, "could not start the transfer");
                st[pick].state = ST_DONE;
                done++;
                failed++;
            } else {
                active++;
                stats->requests++;
            }
        }

        int running = 0;
        if (ev.timer_ms >= 0 && ev.timer_ms <= now_ms()) {
            ev.timer_ms = -1;
            curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, &running);
        }
        drain(m, items, st, o->deadline_ms, stats, waiting, &nwait, &done, &failed, &active);

        now = now_ms();
        if (stop_signal)
            stop = 1;
        if (now - last_report >= interval) {
            report(o, n, done, failed, active, nwait, t0, now, &stop);
            last_report = now;
        }
        if (done >= n || stop)
            break;
        /* Sleep until there is curl work, a retry falls due, or it is time to report. */
        long wait = interval;
        for (size_t w = 0; w < nwait; w++) {
            long d = (long)(st[waiting[w]].due_ms - now);
            if (d < wait)
                wait = d < 0 ? 0 : d;
        }
        if (o->stop_on_signals && wait > 100)
            wait = 100; /* epoll_wait may miss a signal that arrives just before it: look again soon */
        if (ev.timer_ms >= 0) {
            long t = (long)(ev.timer_ms - now);
            if (t < wait)
                wait = t < 0 ? 0 : t;
        }
        struct epoll_event ready[64];
        int nready = epoll_wait(ev.epfd, ready, 64, (int)wait);
        for (int r = 0; r < nready; r++) {
            int flags = (ready[r].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                        (ready[r].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                        (ready[r].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
            curl_multi_socket_action(m, ready[r].data.fd, flags, &running);
        }
        drain(m, items, st, o->deadline_ms, stats, waiting, &nwait, &done, &failed, &active);
    }

    if (stop) {
        /* No new requests; what is in flight is abandoned. */
        for (int k = 0; k < conc; k++)
            if (slots[k].item >= 0) {
                curl_multi_remove_handle(m, slots[k].h);
                slots[k].item = -1;
            }
        for (size_t i = 0; i < n; i++)
            if (st[i].state != ST_DONE) {
                char what[200];
                item_what(&items[i], what, sizeof what);
                cce_set_error(&items[i].err, "INTERRUPTED", 0, "%s: not done, the batch was stopped%s", what,
                              stop_signal == SIGTERM ? " by SIGTERM" : stop_signal == SIGINT ? " by SIGINT" : "");
                st[i].state = ST_DONE;
                done++;
                failed++;
            }
        stats->interrupted = 1;
        rc = -1;
    }
    report(o, n, done, failed, 0, 0, t0, now_ms(), &stop);
    if (o->stop_on_signals) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }

out:
    for (int k = 0; slots && k < conc; k++) {
        if (slots[k].h)
            curl_easy_cleanup(slots[k].h);
        cce_http_resp_free(&slots[k].resp);
        cce_buf_free(&slots[k].url);
    }
    if (m)
        curl_multi_cleanup(m);
    if (ev.epfd >= 0)
        close(ev.epfd);
    free(slots);
    free(st);
    free(waiting);
    stats->failed = failed;
    stats->ok = n - failed;
    stats->elapsed_s = (double)(now_ms() - t0) / 1000.0;
    return rc;
}
