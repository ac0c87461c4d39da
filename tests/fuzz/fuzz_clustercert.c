/*
 * fuzz_clustercert.c - a clustercert answer (POST .../clustercert) from a broken or
 * hostile endpoint, read by cce_clustercert_response as the one-shot and batch paths do,
 * then written back as YAML, alone and merged into a user's kubeconfig.
 */
#include <string.h>

#include "fuzz.h"
#include "internal.h"

/* A user's file with entries an answer may name too. */
static const char BASE[] =
    "apiVersion: v1\nkind: Config\ncurrent-context: external\n"
    "clusters:\n- name: externalCluster\n  cluster: {server: https://old.example:5443}\n"
    "users:\n- name: user\n  user: {token: old}\n"
    "contexts:\n- name: external\n  context: {cluster: externalCluster, user: user}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cce_http_resp r;
    memset(&r, 0, sizeof r);
    r.status = 201;
    r.retry_after_ms = -1;
    snprintf(r.request_id, sizeof r.request_id, "fuzz-request");
    snprintf(r.content_type, sizeof r.content_type, "application/json");
    if (cce_buf_append(&r.body, data, size) != 0)
        return 0;
    cce_error err = { 0 };
    cce_kubeconfig *kc = cce_clustercert_response(&r, "clustercert fuzz", &err);
    if (kc) {
        char *yaml = NULL;
        size_t len = 0;
        if (cce_kubeconfig_to_yaml(kc, &yaml, &len, &err) == 0) {
            cce_kubeconfig *again = cce_kubeconfig_parse(yaml, len, "<written>", &err);
            if (!again)
                FUZZ_FAIL("an accepted answer, written as YAML, does not load: %s\n%s", err.message, yaml);
            cce_kubeconfig_free(again);
        }
        free(yaml);
        /* Merged into a user's file, replacing entries of the same names, it must still load. */
        cce_kubeconfig *base = cce_kubeconfig_parse(BASE, sizeof BASE - 1, "<base>", &err);
        if (!base)
            FUZZ_FAIL("the base kubeconfig does not load: %s", err.message);
        cce_merge_stats st;
        if (cce_kubeconfig_merge(base, kc, CCE_MERGE_REPLACE, &st, &err) == 0 &&
            cce_kubeconfig_to_yaml(base, &yaml, &len, &err) == 0) {
            cce_kubeconfig *again = cce_kubeconfig_parse(yaml, len, "<merged>", &err);
            if (!again)
                FUZZ_FAIL("an accepted answer merged into a kubeconfig does not load: %s\n%s", err.message, yaml);
            cce_kubeconfig_free(again);
            free(yaml);
        }
        cce_error_clear(&err);
        cce_kubeconfig_free(base);
        cce_kubeconfig_free(kc);
    } else if (!err.message || strcmp(err.request_id, "fuzz-request") != 0) {
        FUZZ_FAIL("a refused answer's error lacks its message or request id (%s)", err.code);
    }
    cce_error_clear(&err);
    cce_http_resp_free(&r);
    return 0;
}
