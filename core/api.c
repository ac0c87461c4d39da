/* api.c - the CCE calls: list clusters, read a cluster, obtain a cluster certificate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
        return cce_set_error(err, "BAD_RESPONSE", 200, "a cluster is not a JSON object");
    cl->id = dup_path(o, "metadata", "uid");
    cl->name = dup_path(o, "metadata", "name");
    if (!cl->id || !cl->name) {
        cce_cluster_clear(cl);
        return cce_set_error(err, "BAD_RESPONSE", 200, "a cluster has no metadata.uid or metadata.name");
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
        return cce_set_error(err, "NOMEM", 0, "out of memory");
    }
    return 0;
}

static json_t *parse_body(const cce_http_resp *r, const char *what, cce_error *err)
{
    json_error_t je;
    json_t *v = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, &je);
    if (!v)
        cce_set_error(err, "BAD_RESPONSE", (int)r->status, "%s: the response is not valid JSON (line %d, column %d: %s)",
                      what, je.line, je.column, je.text);
    else if (!json_is_object(v)) {
        json_decref(v);
        v = NULL;
        cce_set_error(err, "BAD_RESPONSE", (int)r->status, "%s: the response is not a JSON object", what);
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
        return cce_set_error(err, "PARSE", 0, "cluster JSON, line %d, column %d: %s", je.line, je.column, je.text);
    int rc = cce_cluster_from_json(v, out, 1, err);
    json_decref(v);
    return rc;
}

json_t *cce_clusters_list_json(cce_client *c, cce_error *err)
{
    cce_http_resp r = {0};
    json_t *v = NULL, *items = NULL;
    if (cce_http_call(c, "GET", "clusters", NULL, "list clusters", &r, err) == 0 &&
        (v = parse_body(&r, "list clusters", err)) != NULL) {
        items = json_object_get(v, "items");
        if (!items || json_is_null(items))
            items = json_array();
        else if (json_is_array(items))
            json_incref(items);
        else {
            items = NULL;
            cce_set_error(err, "BAD_RESPONSE", (int)r.status, "list clusters: \"items\" is not an array");
        }
    }
    json_decref(v);
    cce_http_resp_free(&r);
    return items;
}

int cce_clusters_list(cce_client *c, cce_cluster **out, size_t *n, cce_error *err)
{
    *out = NULL;
    *n = 0;
    json_t *items = cce_clusters_list_json(c, err);
    if (!items)
        return -1;
    size_t cnt = json_array_size(items), i = 0;
    cce_cluster *list = calloc(cnt ? cnt : 1, sizeof *list);
    int rc = -1;
    if (!list)
        cce_set_error(err, "NOMEM", 0, "out of memory");
    else {
        for (; i < cnt; i++)
            if (cce_cluster_from_json(json_array_get(items, i), &list[i], 1, err) < 0)
                break;
        if (i == cnt) {
            *out = list;
            *n = cnt;
            rc = 0;
        } else {
            cce_clusters_free(list, i);
        }
    }
    json_decref(items);
    return rc;
}

int cce_cluster_get(cce_client *c, const char *id, cce_cluster *out, cce_error *err)
{
    memset(out, 0, sizeof *out);
    if (!cce_id_valid(id))
        return cce_set_error(err, "INVALID_ARGUMENT", 0,
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
        return cce_set_error(err, "INVALID_ARGUMENT", 0,
                             "cluster id '%s' is not valid: only letters, digits and '-' are allowed", id ? id : "");
    if (!cce_duration_valid(days))
        return cce_set_error(err, "INVALID_ARGUMENT", 0, "duration %ld is not valid: use 1 to %d days, or -1 for the maximum",
                             days, CCE_DURATION_MAX);
    snprintf(path, path_len, "clusters/%s/clustercert", id);
    snprintf(body, body_len, "{\"duration\": %ld}", days);
    return 0;
}

cce_kubeconfig *cce_clustercert_response(const cce_http_resp *r, const char *what, cce_error *err)
{
    json_t *v = parse_body(r, what, err);
    if (!v)
        return NULL;
    cce_kubeconfig *kc = cce_kubeconfig_from_json(v, what, err); /* takes v */
    if (!kc && err) {
        err->status = (int)r->status;
        if (strcmp(err->code, "PARSE") == 0)
            snprintf(err->code, sizeof err->code, "BAD_RESPONSE");
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
