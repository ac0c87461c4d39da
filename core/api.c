/* api.c - the CCE calls: list clusters, read a cluster, obtain a cluster certificate. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "internal.h"

void cce_cluster_clear(cce_cluster *cl)
{
    if (!cl)
        return;
    free(cl->id);
    free(cl->name);
    free(cl->phase);
    free(cl->version);
    free(cl->type);
    free(cl->flavor);
    free(cl->endpoint_internal);
    free(cl->endpoint_external);
    free(cl->raw_json);
    memset(cl, 0, sizeof *cl);
}

void cce_clusters_free(cce_cluster *list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        cce_cluster_clear(&list[i]);
    free(list);
}

static char *dup_path(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(json_object_get(o, a), b);
    const char *s = json_string_value(v);
    return s ? strdup(s) : NULL;
}

/*
 * status.endpoints comes as an OTC object {"internal": url, "external": url,
 * "external_otc": url} or as a Huawei array [{"url": .., "type": "Internal"}].
 */
static void read_endpoints(json_t *eps, cce_cluster *cl)
{
    if (json_is_object(eps)) {
        const char *in = json_string_value(json_object_get(eps, "internal"));
        const char *ex = json_string_value(json_object_get(eps, "external"));
        if (!ex || !*ex)
            ex = json_string_value(json_object_get(eps, "external_otc"));
        cl->endpoint_internal = in && *in ? strdup(in) : NULL;
        cl->endpoint_external = ex && *ex ? strdup(ex) : NULL;
        return;
    }
    size_t i;
    json_t *e;
    json_array_foreach(eps, i, e) {
        const char *url = json_string_value(json_object_get(e, "url"));
        const char *type = json_string_value(json_object_get(e, "type"));
        if (!url || !*url || !type)
            continue;
        if (strcasecmp(type, "Internal") == 0 && !cl->endpoint_internal)
            cl->endpoint_internal = strdup(url);
        else if (strcasecmp(type, "External") == 0 && !cl->endpoint_external)
            cl->endpoint_external = strdup(url);
    }
}

int cce_cluster_from_json(json_t *o, cce_cluster *cl, int with_raw, cce_error *err)
{
    memset(cl, 0, sizeof *cl);
    if (!json_is_object(o))
        return cce_set_error(err, CCE_E_BAD_RESPONSE, 200, "a cluster is not a JSON object");
    cl->id = dup_path(o, "metadata", "uid");
    cl->name = dup_path(o, "metadata", "name");
    if (!cl->id || !cl->name) {
        cce_cluster_clear(cl);
        return cce_set_error(err, CCE_E_BAD_RESPONSE, 200, "a cluster has no metadata.uid or metadata.name");
    }
    cl->phase = dup_path(o, "status", "phase");
    cl->version = dup_path(o, "spec", "version");
    cl->type = dup_path(o, "spec", "type");
    cl->flavor = dup_path(o, "spec", "flavor");
    read_endpoints(json_object_get(json_object_get(o, "status"), "endpoints"), cl);
    if (!with_raw)
        return 0;
    cl->raw_json = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!cl->raw_json) {
        cce_cluster_clear(cl);
        return cce_set_error(err, CCE_E_NOMEM, 0, "out of memory");
    }
    return 0;
}

static json_t *parse_body(const cce_http_resp *r, const char *what, cce_error *err)
{
    json_error_t je;
    /* A duplicate key would mean whatever the parser picks: refused, as no API answer has one. */
    json_t *v = json_loadb(r->body.data ? r->body.data : "", r->body.len, JSON_REJECT_DUPLICATES, &je);
    if (!v)
        cce_set_error(err, CCE_E_BAD_RESPONSE, (int)r->status, "%s: the response is not valid JSON (line %d, column %d: %s)",
                      what, je.line, je.column, je.text);
    else if (!json_is_object(v)) {
        json_decref(v);
        v = NULL;
        cce_set_error(err, CCE_E_BAD_RESPONSE, (int)r->status, "%s: the response is not a JSON object", what);
    }
    if (!v && err && r->request_id[0])
        snprintf(err->request_id, sizeof err->request_id, "%s", r->request_id);
    return v;
}

int cce_cluster_parse(const char *json, size_t len, cce_cluster *out, cce_error *err)
{
    json_error_t je;
    json_t *v = json_loadb(json, len, 0, &je);
    if (!v)
        return cce_set_error(err, CCE_E_PARSE, 0, "cluster JSON, line %d, column %d: %s", je.line, je.column, je.text);
    int rc = cce_cluster_from_json(v, out, 1, err);
    json_decref(v);
    return rc;
}

json_t *cce_clusters_response(const cce_http_resp *r, cce_error *err)
{
    json_t *v = parse_body(r, "list clusters", err), *items = NULL;
    if (!v)
        return NULL;
    items = json_object_get(v, "items");
    if (!items || json_is_null(items))
        items = json_array();
    else if (json_is_array(items))
        json_incref(items);
    else {
        items = NULL;
        cce_set_error(err, CCE_E_BAD_RESPONSE, (int)r->status, "list clusters: \"items\" is not an array");
    }
    json_decref(v);
    return items;
}

json_t *cce_clusters_list_json(cce_client *c, cce_error *err)
{
    cce_http_resp r = {0};
    json_t *items = NULL;
    if (cce_http_call(c, "GET", "clusters", NULL, "list clusters", &r, err) == 0)
        items = cce_clusters_response(&r, err);
    cce_http_resp_free(&r);
    return items;
}

int cce_clusters_from_items(json_t *items, cce_cluster **out, size_t *n, cce_error *err)
{
    *out = NULL;
    *n = 0;
    size_t cnt = json_array_size(items), i = 0;
    cce_cluster *list = calloc(cnt ? cnt : 1, sizeof *list);
    if (!list)
        return cce_set_error(err, CCE_E_NOMEM, 0, "out of memory");
    for (; i < cnt; i++)
        if (cce_cluster_from_json(json_array_get(items, i), &list[i], 1, err) < 0) {
            cce_clusters_free(list, i);
            return -1;
        }
    *out = list;
    *n = cnt;
    return 0;
}

int cce_clusters_list(cce_client *c, cce_cluster **out, size_t *n, cce_error *err)
{
    *out = NULL;
    *n = 0;
    json_t *items = cce_clusters_list_json(c, err);
    if (!items)
        return -1;
    int rc = cce_clusters_from_items(items, out, n, err);
    json_decref(items);
    return rc;
}

int cce_cluster_get(cce_client *c, const char *id, cce_cluster *out, cce_error *err)
{
    memset(out, 0, sizeof *out);
    if (!cce_id_valid(id))
        return cce_set_error(err, CCE_E_INVALID_ARGUMENT, 0,
                             "cluster id '%s' is not valid: only letters, digits and '-' are allowed", id ? id : "");
    char path[160], what[160];
    snprintf(path, sizeof path, "clusters/%s", id);
    snprintf(what, sizeof what, "read cluster %s", id);
    cce_http_resp r = {0};
    int rc = -1;
    json_t *v = NULL;
    if (cce_http_call(c, "GET", path, NULL, what, &r, err) == 0 && (v = parse_body(&r, what, err)) != NULL)
        rc = cce_cluster_from_json(v, out, 1, err);
    json_decref(v);
    cce_http_resp_free(&r);
    return rc;
}

int cce_clustercert_request(const char *id, long days, char *path, size_t path_len, char *body, size_t body_len,
                            cce_error *err)
{
    if (!cce_id_valid(id))
        return cce_set_error(err, CCE_E_INVALID_ARGUMENT, 0,
                             "cluster id '%s' is not valid: only letters, digits and '-' are allowed", id ? id : "");
    if (!cce_duration_valid(days))
        return cce_set_error(err, CCE_E_INVALID_ARGUMENT, 0, "duration %ld is not valid: use 1 to %d days, or -1 for the maximum",
                             days, CCE_DURATION_MAX);
    snprintf(path, path_len, "clusters/%s/clustercert", id);
    snprintf(body, body_len, "{\"duration\": %ld}", days);
    return 0;
}

/* ------------------------------------------------------ clustercert answers */

/*
 * The trust boundary.  A clustercert answer replaces credentials that work,
 * and kubectl acts on whatever a kubeconfig says: runs exec plugins, reads
 * files, sends tokens, goes through proxies.  So the kubeconfig handed on is
 * built anew from a whitelist of the answer's fields, each checked: per
 * cluster `server` (an https URL), `certificate-authority-data` (PEM
 * certificates), `tls-server-name`, `insecure-skip-tls-verify` (only true,
 * only without a CA); per user `client-certificate-data` and
 * `client-key-data` (a certificate valid now and the key that matches it);
 * per context its cluster and user.  Fields that would make kubectl
 * authenticate, connect or read files otherwise refuse the whole answer:
 * CCE never sends them, so their presence means a broken or hostile
 * endpoint, which the user should hear of rather than have silently fixed.
 * Anything else (extensions, namespaces, preferences) is left behind.
 */

typedef struct answer_ctx {
    const char *what;  /* "clustercert <id>" */
    int status;
    cce_error *err;
    json_t *cas_ok;    /* CA texts already checked: the entries of one answer share their CA */
} answer_ctx;

static int answer_fail(const answer_ctx *a, const char *fmt, ...) CCE_PRINTF(2, 3);
static int answer_fail(const answer_ctx *a, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cce_set_error(a->err, CCE_E_BAD_RESPONSE, a->status, "%s: %s", a->what, msg);
}

/* Keys that change how kubectl authenticates, connects or what it reads: never taken. */
static const char *const refused_cluster_keys[] = {"certificate-authority", "proxy-url", NULL};
static const char *const refused_user_keys[] = {
    "client-certificate", "client-key", "token", "tokenFile", "username", "password", "exec", "auth-provider",
    "as", "as-uid", "as-groups", "as-user-extra", NULL};

static int present(json_t *v)
{
    return v && !json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0);
}

static const char *refused_key(json_t *inner, const char *const *keys)
{
    for (const char *const *k = keys; *k; k++)
        if (present(json_object_get(inner, *k)))
            return *k;
    return NULL;
}

/* Printable ASCII only, no space: what a URL, a host name or an entry name from CCE is made of. */
static int plain_text(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] >= 0x7f || n >= max)
            return 0;
    return n > 0;
}

/* An https URL with a host, no user name or password, no query or fragment. */
static const char *server_problem(const char *url)
{
    if (!plain_text(url, 2048))
        return "is not a plain URL";
    if (strncasecmp(url, "https://", 8) != 0)
        return "is not an https:// URL";
    CURLU *u = curl_url();
    if (!u)
        return "cannot be checked (out of memory)";
    const char *why = NULL;
    char *part = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
        why = "is not a valid URL";
    else if (curl_url_get(u, CURLUPART_HOST, &part, 0) != CURLUE_OK || !part || !*part)
        why = "has no host";
    else {
        static const CURLUPart banned[] = {CURLUPART_USER, CURLUPART_PASSWORD, CURLUPART_OPTIONS, CURLUPART_QUERY,
                                           CURLUPART_FRAGMENT};
        static const char *const banned_why[] = {"names a user", "holds a password", "holds login options",
                                                 "has a query", "has a fragment"};
        for (size_t i = 0; i < sizeof banned / sizeof *banned && !why; i++) {
            curl_free(part);
            part = NULL;
            if (curl_url_get(u, banned[i], &part, 0) == CURLUE_OK && part)
                why = banned_why[i];
        }
    }
    curl_free(part);
    curl_url_cleanup(u);
    return why;
}

/* A DNS name or an IP address literal, as a TLS server name can be. */
static int host_name_ok(const char *s)
{
    if (!plain_text(s, 253))
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
              *p == '-' || *p == ':'))
            return 0;
    return 1;
}

/* The entry's name (checked: entry names go into messages and kubeconfig keys) and inner object. */
static int answer_entry(const answer_ctx *a, json_t *e, const char *section, const char *inner_key, size_t i,
                        const char **name, json_t **inner)
{
    *name = json_string_value(json_object_get(e, "name"));
    if (!json_is_object(e) || !*name || !plain_text(*name, 253))
        return answer_fail(a, "%s[%zu] has no valid name", section, i);
    *inner = json_object_get(e, inner_key);
    if (!json_is_object(*inner))
        return answer_fail(a, "%s \"%s\" has no \"%s\" mapping", inner_key, *name, inner_key);
    return 0;
}

static json_t *named(const char *name, const char *inner_key, json_t *inner)
{
    json_t *e = json_object();
    json_object_set_new(e, "name", json_string(name));
    json_object_set_new(e, inner_key, inner);
    return e;
}

static int answer_cluster(const answer_ctx *a, const char *name, json_t *in, json_t *out)
{
    const char *k = refused_key(in, refused_cluster_keys);
    if (k)
        return answer_fail(a, "cluster \"%s\" carries \"%s\", which cceauto never takes from an answer", name, k);
    const char *server = json_string_value(json_object_get(in, "server"));
    if (!server)
        return answer_fail(a, "cluster \"%s\" has no server", name);
    const char *why = server_problem(server);
    if (why)
        return answer_fail(a, "cluster \"%s\": the server %s", name, why);
    json_object_set_new(out, "server", json_string(server));

    json_t *ca = json_object_get(in, "certificate-authority-data");
    if (present(ca) && !(json_is_string(ca) && json_object_get(a->cas_ok, json_string_value(ca)))) {
        char reason[256];
        int rc = json_is_string(ca) ? cce_ca_check(json_string_value(ca), reason, sizeof reason)
                                    : (snprintf(reason, sizeof reason, "certificate-authority-data is not a string"), -1);
        if (rc == 0)
            json_object_set_new(a->cas_ok, json_string_value(ca), json_true());
        if (rc == -2)
            return cce_set_error(a->err, CCE_E_NOMEM, 0, "out of memory");
        if (rc < 0)
            return answer_fail(a, "cluster \"%s\": %s", name, reason);
    }
    if (present(ca))
        json_object_set(out, "certificate-authority-data", ca);
    json_t *sni = json_object_get(in, "tls-server-name");
    if (present(sni)) {
        if (!json_is_string(sni) || !host_name_ok(json_string_value(sni)))
            return answer_fail(a, "cluster \"%s\": tls-server-name is not a host name", name);
        json_object_set(out, "tls-server-name", sni);
    }
    json_t *insecure = json_object_get(in, "insecure-skip-tls-verify");
    if (insecure && !json_is_null(insecure) && !json_is_boolean(insecure))
        return answer_fail(a, "cluster \"%s\": insecure-skip-tls-verify is not a boolean", name);
    /* With a CA, verification is the safe reading (client-go refuses both at once). */
    if (json_is_true(insecure) && !present(ca))
        json_object_set_new(out, "insecure-skip-tls-verify", json_true());
    return 0;
}

static int answer_user(const answer_ctx *a, const char *name, json_t *in, json_t *out)
{
    const char *k = refused_key(in, refused_user_keys);
    if (k)
        return answer_fail(a, "user \"%s\" carries \"%s\", which cceauto never takes from an answer", name, k);
    json_t *cert = json_object_get(in, "client-certificate-data");
    json_t *key = json_object_get(in, "client-key-data");
    if (!json_is_string(cert) || !json_is_string(key))
        return answer_fail(a, "user \"%s\" has no client-certificate-data and client-key-data", name);
    char reason[256];
    int rc = cce_credential_check(json_string_value(cert), json_string_value(key), time(NULL), reason, sizeof reason);
    if (rc == -2)
        return cce_set_error(a->err, CCE_E_NOMEM, 0, "out of memory");
    if (rc < 0)
        return answer_fail(a, "user \"%s\": %s", name, reason);
    json_object_set(out, "client-certificate-data", cert);
    json_object_set(out, "client-key-data", key);
    return 0;
}

/* The kubeconfig taken from answer `v` (borrowed), or NULL with a BAD_RESPONSE error. */
static json_t *answer_take(const answer_ctx *a, json_t *v)
{
    static const char *const sections[] = {"clusters", "users", "contexts"};
    static const char *const inner_keys[] = {"cluster", "user", "context"};
    json_t *kind = json_object_get(v, "kind"), *api = json_object_get(v, "apiVersion");
    if ((kind && !json_is_null(kind) && !(json_is_string(kind) && strcmp(json_string_value(kind), "Config") == 0)) ||
        (api && !json_is_null(api) && !(json_is_string(api) && strcmp(json_string_value(api), "v1") == 0))) {
        answer_fail(a, "the answer is not a kubeconfig (kind Config, apiVersion v1)");
        return NULL;
    }
    json_t *out = json_object();
    json_object_set_new(out, "kind", json_string("Config"));
    json_object_set_new(out, "apiVersion", json_string("v1"));
    json_object_set_new(out, "preferences", json_object());
    json_t *names[3] = {json_object(), json_object(), json_object()};
    int rc = 0;
    for (int s = 0; s < 3 && rc == 0; s++) {
        json_t *arr = json_object_get(v, sections[s]), *list = json_array();
        json_object_set_new(out, sections[s], list);
        if (!json_is_array(arr) || json_array_size(arr) == 0) {
            rc = answer_fail(a, "the answer has no %s", sections[s]);
            break;
        }
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e) {
            const char *name;
            json_t *in = NULL, *o = json_object();
            if ((rc = answer_entry(a, e, sections[s], inner_keys[s], i, &name, &in)) < 0) {
                json_decref(o);
                break;
            }
            if (json_object_get(names[s], name)) {
                json_decref(o);
                rc = answer_fail(a, "two %s are named \"%s\"", sections[s], name);
                break;
            }
            json_object_set_new(names[s], name, json_true());
            if (s == 0)
                rc = answer_cluster(a, name, in, o);
            else if (s == 1)
                rc = answer_user(a, name, in, o);
            else {
                const char *cl = json_string_value(json_object_get(in, "cluster"));
                const char *us = json_string_value(json_object_get(in, "user"));
                if (!cl || !json_object_get(names[0], cl) || !us || !json_object_get(names[1], us))
                    rc = answer_fail(a, "context \"%s\" names no cluster and user of the answer", name);
                else {
                    json_object_set_new(o, "cluster", json_string(cl));
                    json_object_set_new(o, "user", json_string(us));
                }
            }
            if (rc < 0) {
                json_decref(o);
                break;
            }
            json_array_append_new(list, named(name, inner_keys[s], o));
        }
    }
    const char *cur = json_string_value(json_object_get(v, "current-context"));
    if (rc == 0 && cur && json_object_get(names[2], cur))
        json_object_set_new(out, "current-context", json_string(cur));
    for (int s = 0; s < 3; s++)
        json_decref(names[s]);
    if (rc < 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

cce_kubeconfig *cce_clustercert_response(const cce_http_resp *r, const char *what, cce_error *err)
{
    json_t *answer = parse_body(r, what, err);
    if (!answer)
        return NULL;
    answer_ctx a = {what, (int)r->status, err, json_object()};
    json_t *v = answer_take(&a, answer);
    json_decref(a.cas_ok);
    json_decref(answer);
    if (!v) {
        if (err && r->request_id[0])
            snprintf(err->request_id, sizeof err->request_id, "%s", r->request_id);
        return NULL;
    }
    cce_kubeconfig *kc = cce_kubeconfig_from_json(v, what, err); /* takes v */
    if (!kc && err) {
        err->status = (int)r->status;
        if (err->kind == CCE_E_PARSE) {
            err->kind = CCE_E_BAD_RESPONSE;
            snprintf(err->code, sizeof err->code, "%s", cce_error_kind_name(CCE_E_BAD_RESPONSE));
        }
        if (r->request_id[0])
            snprintf(err->request_id, sizeof err->request_id, "%s", r->request_id);
    }
    return kc;
}

cce_kubeconfig *cce_clustercert(cce_client *c, const char *id, long days, cce_error *err)
{
    char path[180], what[180], body[48];
    if (cce_clustercert_request(id, days, path, sizeof path, body, sizeof body, err) < 0)
        return NULL;
    snprintf(what, sizeof what, "clustercert %s", id);
    cce_http_resp r = {0};
    cce_kubeconfig *kc = NULL;
    if (cce_http_call(c, "POST", path, body, what, &r, err) == 0)
        kc = cce_clustercert_response(&r, what, err);
    cce_http_resp_free(&r);
    return kc;
}
