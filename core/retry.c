/*
 * retry.c - the retry policy, one for the one-shot and the batch paths: which
 * failures are retried, how long to wait (backoff with jitter, Retry-After),
 * and what one attempt's end means.
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

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

int cce_http_outcome(cce_client *c, int attempt, int cc, const cce_http_resp *resp, const char *errbuf,
                     const char *what, long max_delay_ms, long *delay, cce_error *err)
{
    if (cc == CURLE_OK && resp->status >= 200 && resp->status < 300)
        return 0;
    if (resp->too_large || cc == CURLE_FILESIZE_EXCEEDED)
        return cce_set_error(err, CCE_E_TOO_LARGE, (int)resp->status,
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
