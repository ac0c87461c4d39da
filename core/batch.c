/*
 * batch.c - many clustercert calls in one curl multi loop.
 *
 * The shape is libcurl's 10-at-a-time: a fixed pool of easy handles (so TLS
 * sessions and the multi's connection cache are reused), refilled from the
 * queue whenever a transfer ends, driven by curl_multi_socket_action() and
 * epoll (cce_loop, transport.c).  A failed attempt that may be retried is
 * parked with a due time instead of sleeping, so one slow retry never holds
 * up the others; the wait ends at the earliest due time.
 * Everything that is not curl's own work (parsing answers, retry decisions,
 * progress) happens between transfers, on this thread, never in a callback.
 *
 * The loop's state is one struct (batch) with init, fill, wait, stop and free.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

enum { ST_QUEUED, ST_ACTIVE, ST_WAITING, ST_DONE };

typedef struct slot {
    CURL *h;
    long item;                /* -1 when free */
    cce_http_resp resp;
    cce_xfer x;
    cce_buf url;
    struct curl_slist *connect_to; /* VERIFY with tls-server-name */
    char body[48];
    char errbuf[CURL_ERROR_SIZE];
} slot;

typedef struct item_state {
    int state;
    int relogged;             /* repeated once after a 401 and a new login */
    long long first_ms;       /* when its first request started */
    long long due_ms;         /* ST_WAITING: when to retry */
} item_state;

typedef struct batch {
    cce_batch_item *items;
    size_t n;
    const cce_batch_opts *o;
    cce_batch_stats *stats;
    item_state *st;
    slot *slots;
    int conc;                 /* slots in use */
    long *waiting;            /* indices of ST_WAITING items */
    size_t nwait, done, failed, active, next;
    long interval;
    long long t0, last_report;
    int stopped;              /* a signal or the progress callback */
    int signal;               /* the signal that stopped it, 0: none */
    cce_loop loop;
    cce_stop stop;
} batch;

static void item_what(const cce_batch_item *it, char *what, size_t n)
{
    if (it->op == CCE_OP_VERIFY)
        snprintf(what, n, "verify");
    else if (it->op == CCE_OP_CLUSTERS)
        snprintf(what, n, "list clusters of project %s",
                 it->client && cce_client_project_id(it->client) ? cce_client_project_id(it->client) : "?");
    else
        snprintf(what, n, "clustercert %s", it->cluster_id ? it->cluster_id : "");
}

static void batch_settle(batch *b, long i);

static int item_ok(const cce_batch_item *it) { return it->kc || it->clusters || it->json || it->verified; }

static int ptr_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
    return x < y ? -1 : x > y;
}

/*
 * Every client of the batch ready before the first request: logged in (from
 * the cache or IAM), its project resolved.  Once per client, however many
 * items it has; its items fail with its error when that fails.
 */
static void batch_login(batch *b)
{
    cce_client **cl = malloc((b->n ? b->n : 1) * sizeof *cl);
    size_t k = 0;
    if (!cl)
        return; /* each transfer then meets the missing login itself */
    for (size_t i = 0; i < b->n; i++)
        if (b->st[i].state != ST_DONE && b->items[i].op != CCE_OP_VERIFY)
            cl[k++] = b->items[i].client;
    qsort(cl, k, sizeof *cl, ptr_cmp);
    for (size_t i = 0; i < k; i++)
        if (i == 0 || cl[i] != cl[i - 1])
            cce_auth_ensure(cl[i], NULL); /* a failure is kept in the client, read below */
    free(cl);
    for (size_t i = 0; i < b->n; i++)
        if (b->st[i].state != ST_DONE && b->items[i].op != CCE_OP_VERIFY &&
            cce_auth_ensure(b->items[i].client, &b->items[i].err) < 0)
            batch_settle(b, (long)i);
}

/* Item i is over (result or error). */
static void batch_settle(batch *b, long i)
{
    b->st[i].state = ST_DONE;
    b->done++;
    if (!item_ok(&b->items[i]))
        b->failed++;
}

/* Fails every item before anything is sent (the batch could not be set up). */
static int batch_fail_all(batch *b, const char *fmt, const char *detail)
{
    for (size_t i = 0; i < b->n; i++)
        cce_set_error(&b->items[i].err, CCE_E_NOMEM, 0, fmt, detail);
    b->failed = b->n;
    return -1;
}

static int batch_init(batch *b, cce_batch_item *items, size_t n, const cce_batch_opts *o, cce_batch_stats *stats)
{
    memset(b, 0, sizeof *b);
    b->items = items;
    b->n = n;
    b->o = o;
    b->stats = stats;
    b->loop.epfd = -1;
    b->t0 = cce_now_ms();
    b->interval = o->progress_interval_ms > 0 ? o->progress_interval_ms : 200;
    b->conc = o->concurrency > 0 ? o->concurrency : 16;
    if ((size_t)b->conc > n)
        b->conc = n ? (int)n : 1;
    for (size_t i = 0; i < n; i++) {
        items[i].kc = NULL;
        items[i].clusters = NULL;
        items[i].nclusters = 0;
        items[i].json = NULL;
        items[i].verified = 0;
        items[i].status = 0;
        items[i].attempts = 0;
        memset(&items[i].err, 0, sizeof items[i].err);
    }
    b->st = calloc(n ? n : 1, sizeof *b->st);
    b->slots = calloc((size_t)b->conc, sizeof *b->slots);
    b->waiting = calloc(n ? n : 1, sizeof *b->waiting);
    if (!b->st || !b->slots || !b->waiting || cce_global_init() != 0)
        return batch_fail_all(b, "out of memory starting the batch%s", "");
    cce_error err = {0};
    if (cce_loop_init(&b->loop, curl_multi_init(), &err) < 0) {
        batch_fail_all(b, "%s", err.message ? err.message : "out of memory");
        cce_error_clear(&err);
        return -1;
    }
    for (int k = 0; k < b->conc; k++) {
        b->slots[k].item = -1;
        if ((b->slots[k].h = curl_easy_init()) == NULL) {
            if (k == 0)
                return batch_fail_all(b, "out of memory starting the batch%s", "");
            b->conc = k; /* run with fewer rather than not at all */
            break;
        }
    }
    curl_multi_setopt(b->loop.multi, CURLMOPT_MAXCONNECTS, (long)b->conc);
    curl_multi_setopt(b->loop.multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);

    /* Refused before anything is sent: bad ids and durations, items without a client. */
    for (size_t i = 0; i < n; i++) {
        char p[180], body[48];
        if (!items[i].client)
            cce_set_error(&items[i].err, CCE_E_INVALID_ARGUMENT, 0, "item %zu has no client", i + 1);
        else if (items[i].op == CCE_OP_CLUSTERS)
            continue;
        else if (items[i].op == CCE_OP_VERIFY && !items[i].check)
            cce_set_error(&items[i].err, CCE_E_INVALID_ARGUMENT, 0, "item %zu has no kubeconfig to verify", i + 1);
        else if (items[i].op == CCE_OP_VERIFY)
            continue;
        else if (items[i].op != CCE_OP_CLUSTERCERT)
            cce_set_error(&items[i].err, CCE_E_INVALID_ARGUMENT, 0, "item %zu has an unknown operation", i + 1);
        else if (cce_clustercert_request(items[i].cluster_id, items[i].days, p, sizeof p, body, sizeof body,
                                         &items[i].err) == 0)
            continue;
        batch_settle(b, (long)i);
    }
    batch_login(b);
    cce_stop_begin(&b->stop, o->stop_on_signals);
    return 0;
}

/* Starts item i's next attempt on slot s. */
static int batch_start(batch *b, slot *s, long i, long long now)
{
    cce_batch_item *it = &b->items[i];
    item_state *st = &b->st[i];
    char path[180];
    int list = it->op == CCE_OP_CLUSTERS;
    s->x.c = it->client;
    s->x.resp = &s->resp;
    s->errbuf[0] = '\0';
    if (it->op == CCE_OP_VERIFY) {
        cce_error_clear(&it->err);
        curl_slist_free_all(s->connect_to);
        s->connect_to = NULL;
        if (cce_verify_prepare(it->client, s->h, it->check, it->check_context, &s->x, s->errbuf, &s->url,
                               &s->connect_to, &it->err) < 0)
            return -1;
    } else if (list)
        snprintf(path, sizeof path, "clusters");
    else if (cce_clustercert_request(it->cluster_id, it->days, path, sizeof path, s->body, sizeof s->body, &it->err) < 0)
        return -1;
    if (it->op != CCE_OP_VERIFY) {
        if (cce_http_url(it->client, path, &s->url) < 0)
            return -1;
        cce_error_clear(&it->err);
        if (cce_http_prepare(it->client, s->h, list ? "GET" : "POST", s->url.data, list ? NULL : s->body, 0, &s->x,
                             s->errbuf, &it->err) < 0)
            return -1;
    }
    s->item = i;
    curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
    curl_easy_setopt(s->h, CURLOPT_PIPEWAIT, 1L); /* wait to multiplex over HTTP/2 rather than open more connections */
    if (st->first_ms == 0)
        st->first_ms = now;
    if (b->o->deadline_ms > 0) {
        long left = (long)(st->first_ms + b->o->deadline_ms - now);
        long t = cce_client_timeout_ms(it->client);
        curl_easy_setopt(s->h, CURLOPT_TIMEOUT_MS, left < t ? (left > 1 ? left : 1) : t);
    }
    it->attempts++;
    cce_client_count_request(it->client, it->attempts > 1);
    st->state = ST_ACTIVE;
    if (curl_multi_add_handle(b->loop.multi, s->h) != CURLM_OK) {
        s->item = -1;
        return -1;
    }
    return 0;
}

/* A signal that arrived stops the batch; checked before every request. */
static int batch_signalled(batch *b)
{
    int sig = cce_stop_signal(&b->stop);
    if (sig && !b->stopped) {
        b->stopped = 1;
        b->signal = sig;
    }
    return b->stopped;
}

/* Fills free slots: due retries first, then new items.  Nothing starts once stopped. */
static void batch_fill(batch *b)
{
    long long now = cce_now_ms();
    for (int k = 0; k < b->conc; k++) {
        slot *s = &b->slots[k];
        if (s->item >= 0)
            continue;
        long pick = -1;
        for (size_t w = 0; w < b->nwait; w++)
            if (b->st[b->waiting[w]].due_ms <= now) {
                pick = b->waiting[w];
                b->waiting[w] = b->waiting[--b->nwait];
                break;
            }
        while (pick < 0 && b->next < b->n)
            if (b->st[b->next].state == ST_QUEUED)
                pick = (long)b->next++;
            else
                b->next++;
        if (pick < 0)
            break;
        if (batch_signalled(b)) {
            if (b->st[pick].state == ST_WAITING)
                b->waiting[b->nwait++] = pick; /* back: batch_stop reports it */
            else
                b->next--;
            return;
        }
        if (batch_start(b, s, pick, now) < 0) {
            if (!b->items[pick].err.code[0])
                cce_set_error(&b->items[pick].err, CCE_E_NOMEM, 0, "could not start the transfer");
            batch_settle(b, pick);
        } else {
            b->active++;
            b->stats->requests++;
        }
    }
}

/* A transfer ended: a result, a parked retry, or a final error. */
static void batch_finish(batch *b, slot *s, CURLcode cc)
{
    long i = s->item;
    cce_batch_item *it = &b->items[i];
    long long now = cce_now_ms();
    char what[200];
    item_what(it, what, sizeof what);
    long conns = 0;
    curl_easy_getinfo(s->h, CURLINFO_NUM_CONNECTS, &conns);
    b->stats->connections += (unsigned long)conns;
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->resp.status);
    s->item = -1;
    b->active--;
    unsigned gen = s->x.token_gen;
    cce_xfer_done(&s->x);
    it->status = s->resp.status;

    /* A refused token (revoked by a password change, expired early): one new
     * login for the client, however many of its transfers saw the 401, and
     * this request once more, at once. */
    if (cc == CURLE_OK && s->resp.status == 401 && it->op != CCE_OP_VERIFY && !b->st[i].relogged &&
        cce_auth_relogin(it->client, gen, NULL) == 0) {
        b->st[i].relogged = 1;
        b->st[i].state = ST_WAITING;
        b->st[i].due_ms = now;
        b->waiting[b->nwait++] = i;
        return;
    }

    long delay, deadline = b->o->deadline_ms;
    long max_delay = deadline > 0 ? (long)(b->st[i].first_ms + deadline - now) : -1;
    int outcome = cce_http_outcome(it->client, it->attempts - 1, cc, &s->resp, s->errbuf, what,
                                   max_delay < 0 && deadline > 0 ? 0 : max_delay, &delay, &it->err);
    if (outcome == 0 && it->op == CCE_OP_CLUSTERS) {
        json_t *items = cce_clusters_response(&s->resp, &it->err);
        if (items && it->want_json)
            it->json = items;
        else if (items) {
            cce_clusters_from_items(items, &it->clusters, &it->nclusters, &it->err);
            json_decref(items);
        }
    } else if (outcome == 0 && it->op == CCE_OP_VERIFY) {
        it->verified = 1;
    } else if (outcome == 0)
        it->kc = cce_clustercert_response(&s->resp, what, &it->err);
    if (outcome <= 0) {
        batch_settle(b, i);
        return;
    }
    cce_log(it->client, CCE_LOG_INFO, "%s: %s, retrying in %ld ms", what,
            cc != CURLE_OK ? (s->errbuf[0] ? s->errbuf : curl_easy_strerror(cc)) : "HTTP error", delay);
    b->st[i].state = ST_WAITING;
    b->st[i].due_ms = now + delay;
    b->waiting[b->nwait++] = i;
    b->stats->retries++;
}

/* Takes the ended transfers out of the multi and files their outcomes. */
static void batch_drain(batch *b)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(b->loop.multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        slot *s = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        CURLcode cc = msg->data.result;
        curl_multi_remove_handle(b->loop.multi, msg->easy_handle);
        batch_finish(b, s, cc);
    }
}

static void batch_report(batch *b, long long now)
{
    const cce_batch_opts *o = b->o;
    if (!o->progress)
        return;
    cce_batch_progress p;
    p.total = b->n;
    p.done = b->done;
    p.failed = b->failed;
    p.in_flight = b->active;
    p.waiting = b->nwait;
    p.elapsed_s = (double)(now - b->t0) / 1000.0;
    p.rate = p.elapsed_s > 0 ? (double)b->done / p.elapsed_s : 0;
    p.eta_s = p.rate > 0 ? (double)(b->n - b->done) / p.rate : -1;
    if (o->progress(o->progress_ud, &p) != 0)
        b->stopped = 1;
}

/* Sleeps until there is curl work, a retry falls due, it is time to report, or a signal comes. */
static void batch_wait(batch *b)
{
    long long now = cce_now_ms();
    long wait = -1; /* -1: until curl's own timeout */
    if (b->o->progress) {
        wait = (long)(b->last_report + b->interval - now);
        if (wait < 0)
            wait = 0;
    }
    for (size_t w = 0; w < b->nwait; w++) {
        long d = (long)(b->st[b->waiting[w]].due_ms - now);
        if (wait < 0 || d < wait)
            wait = d < 0 ? 0 : d;
    }
    cce_loop_wait(&b->loop, wait, &b->stop);
    batch_drain(b);
}

/* No new requests; what is in flight is abandoned, what is not done is INTERRUPTED. */
static void batch_stop(batch *b)
{
    for (int k = 0; k < b->conc; k++)
        if (b->slots[k].item >= 0) {
            curl_multi_remove_handle(b->loop.multi, b->slots[k].h);
            b->slots[k].item = -1;
        }
    b->active = 0;
    b->nwait = 0;
    const char *by = b->signal == SIGTERM ? " by SIGTERM" : b->signal == SIGINT ? " by SIGINT" : "";
    for (size_t i = 0; i < b->n; i++)
        if (b->st[i].state != ST_DONE) {
            char what[200];
            item_what(&b->items[i], what, sizeof what);
            cce_set_error(&b->items[i].err, CCE_E_INTERRUPTED, 0, "%s: not done, the batch was stopped%s", what, by);
            batch_settle(b, (long)i);
        }
    b->stats->interrupted = 1;
}

static void batch_free(batch *b)
{
    cce_stop_end(&b->stop);
    for (int k = 0; b->slots && k < b->conc; k++) {
        if (b->slots[k].h && b->slots[k].item >= 0)
            curl_multi_remove_handle(b->loop.multi, b->slots[k].h);
        if (b->slots[k].h)
            curl_easy_cleanup(b->slots[k].h);
        cce_http_resp_free(&b->slots[k].resp);
        cce_xfer_done(&b->slots[k].x);
        curl_slist_free_all(b->slots[k].connect_to);
        cce_buf_free(&b->slots[k].url);
    }
    cce_loop_free(&b->loop);
    free(b->slots);
    free(b->st);
    free(b->waiting);
    b->stats->failed = b->failed;
    b->stats->ok = b->n - b->failed;
    b->stats->elapsed_s = (double)(cce_now_ms() - b->t0) / 1000.0;
}

int cce_clustercert_batch(cce_batch_item *items, size_t n, const cce_batch_opts *opts, cce_batch_stats *stats)
{
    static const cce_batch_opts defaults;
    cce_batch_stats local;
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    batch b;
    if (batch_init(&b, items, n, opts ? opts : &defaults, stats) < 0) {
        batch_free(&b);
        return -1;
    }
    while (b.done < n && !batch_signalled(&b)) {
        batch_fill(&b);
        long long now = cce_now_ms();
        if (now - b.last_report >= b.interval) {
            batch_report(&b, now);
            b.last_report = now;
        }
        if (b.done >= n || b.stopped)
            break;
        batch_wait(&b);
    }
    if (b.stopped)
        batch_stop(&b);
    batch_report(&b, cce_now_ms());
    int rc = b.stopped ? -1 : 0;
    batch_free(&b);
    return rc;
}
