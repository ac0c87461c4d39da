/*
 * verify.c - what a kubeconfig's context needs to check its credentials
 * against the cluster's API server before they replace anything: GET
 * {server}/api with the client certificate and key from memory, verified
 * against the cluster's CA data as kubectl would (or not at all for an entry
 * with insecure-skip-tls-verify), tls-server-name honoured.  The batch
 * (batch.c, CCE_OP_VERIFY) runs the requests; this file reads the entry and
 * sets up the easy handle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "http.h"

/* base64 (as kubectl reads []byte fields) -> bytes in *out. */
static int unbase64(const char *s, cce_buf *out)
{
    size_t n = strlen(s);
    if (cce_buf_reserve(out, n / 4 * 3 + 4) < 0)
        return -1;
    size_t len = cce_yaml_base64_decode(s, n, (unsigned char *)out->data);
    if (len == (size_t)-1)
        return -1;
    out->len = len;
    out->data[len] = '\0';
    return 0;
}

static void blob(CURL *h, CURLoption opt, const cce_buf *b)
{
    struct curl_blob cb = {b->data, b->len, CURL_BLOB_COPY}; /* copied: the buffer may go at once */
    curl_easy_setopt(h, opt, &cb);
}

/*
 * Reads the context's cluster and user and prepares `h` for the check on the
 * client's settings (timeouts, no redirects, https only).  `url` and
 * `connect_to` (a curl_slist for tls-server-name, or NULL) must live during
 * the transfer.  0, or -1 with err ("INVALID_ARGUMENT": the entry cannot be
 * checked, e.g. no certificate data).
 */
int cce_verify_prepare(cce_client *c, CURL *h, const cce_kubeconfig *kc, const char *context, cce_xfer *x,
                       char *errbuf, cce_buf *url, struct curl_slist **connect_to, cce_error *err)
{
    *connect_to = NULL;
    const char *cur = context && *context ? context : cce_kubeconfig_current_context(kc);
    if ((!cur || !*cur) && cce_kubeconfig_count(kc, CCE_KC_CONTEXTS) == 1)
        cur = cce_kubeconfig_name(kc, CCE_KC_CONTEXTS, 0);
    json_t *ctx = cur ? json_object_get(cce_kubeconfig_entry_named(kc, CCE_KC_CONTEXTS, cur), "context") : NULL;
    if (!ctx)
        return cce_set_error(err, CCE_E_INVALID_ARGUMENT, 0, "verify: the kubeconfig has no context '%s'",
                             cur ? cur : "(none)");
    const char *cname = cce_json_str(ctx, "cluster"), *uname = cce_json_str(ctx, "user");
    json_t *cl = cname ? json_object_get(cce_kubeconfig_entry_named(kc, CCE_KC_CLUSTERS, cname), "cluster") : NULL;
    json_t *us = uname ? json_object_get(cce_kubeconfig_entry_named(kc, CCE_KC_USERS, uname), "user") : NULL;
    const char *server = cce_json_str(cl, "server");
    const char *cert = cce_json_str(us, "client-certificate-data"), *key = cce_json_str(us, "client-key-data");
    if (!server || strncasecmp(server, "https://", 8) != 0)
        return cce_set_error(err, CCE_E_INVALID_ARGUMENT, 0, "verify: context '%s' has no https server", cur);
    if (!cert || !key)
        return cce_set_error(err, CCE_E_INVALID_ARGUMENT, 0,
                             "verify: context '%s' has no client certificate and key data to check", cur);

    /* The URL: the server's, with tls-server-name as its host when there is one (curl
     * then sends that name and checks the certificate for it), connecting to the
     * server's own address. */
    const char *tsn = cce_json_str(cl, "tls-server-name");
    const char *auth = server + 8;
    size_t alen = strcspn(auth, "/?#");
    const char *rest = auth + alen;
    size_t rlen = strcspn(rest, "?#");
    while (rlen && rest[rlen - 1] == '/')
        rlen--;
    url->len = 0;
    int rc = 0;
    if (tsn) {
        const char *colon = alen && auth[0] == '[' ? memchr(auth, ']', alen) : auth;
        colon = colon ? memchr(colon, ':', (size_t)(auth + alen - colon)) : NULL;
        const char *port = colon ? colon + 1 : "443";
        size_t plen = colon ? (size_t)(auth + alen - port) : 3;
        size_t hlen = colon ? (size_t)(colon - auth) : alen;
        char map[600];
        int n = snprintf(map, sizeof map, "%s:%.*s:%.*s:%.*s", tsn, (int)plen, port, (int)hlen, auth, (int)plen, port);
        struct curl_slist *l = n > 0 && (size_t)n < sizeof map ? curl_slist_append(NULL, map) : NULL;
        if (!l)
            return cce_set_error(err, CCE_E_INVALID_ARGUMENT, 0, "verify: context '%s': tls-server-name too long", cur);
        *connect_to = l;
        rc = cce_buf_printf(url, "https://%s:%.*s%.*s/api", tsn, (int)plen, port, (int)rlen, rest);
    } else {
        rc = cce_buf_printf(url, "https://%.*s%.*s/api", (int)alen, auth, (int)rlen, rest);
    }
    if (rc < 0)
        return cce_set_error(err, CCE_E_NOMEM, 0, "out of memory");
    if (cce_http_prepare(c, h, "GET", url->data, NULL, CCE_REQ_NOAUTH, x, errbuf, err) < 0)
        return -1;

    cce_buf pem = {0};
    int ok = 1;
    const char *ca = cce_json_str(cl, "certificate-authority-data");
    json_t *insecure = json_object_get(cl, "insecure-skip-tls-verify");
    if (json_is_true(insecure)) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (ca) {
        if ((ok = unbase64(ca, &pem) == 0))
            blob(h, CURLOPT_CAINFO_BLOB, &pem);
    } else {
        curl_easy_setopt(h, CURLOPT_CAINFO, NULL); /* the system's, as kubectl; not the CCE endpoint's CA file */
    }
    if (ok && (ok = unbase64(cert, &pem) == 0)) {
        blob(h, CURLOPT_SSLCERT_BLOB, &pem);
        curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (ok && (ok = unbase64(key, &pem) == 0)) {
        blob(h, CURLOPT_SSLKEY_BLOB, &pem);
        curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (pem.data)
        OPENSSL_cleanse(pem.data, pem.cap);
    cce_buf_free(&pem);
    if (*connect_to)
        curl_easy_setopt(h, CURLOPT_CONNECT_TO, *connect_to);
    if (!ok) {
        curl_slist_free_all(*connect_to);
        *connect_to = NULL;
        return cce_set_error(err, CCE_E_INVALID_ARGUMENT, 0, "verify: context '%s' has data that is not base64", cur);
    }
    return 0;
}
