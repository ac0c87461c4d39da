/*
 * fuzz_clustercert.c - a clustercert answer (POST .../clustercert) from a broken or
 * hostile endpoint, read by cce_clustercert_response as the one-shot and batch paths do,
 * then written back as YAML (what merging into a kubeconfig does with it).
 */
#include <string.h>

#include "fuzz.h"
#include "internal.h"

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
        cce_kubeconfig_free(kc);
    } else if (!err.message || strcmp(err.request_id, "fuzz-request") != 0) {
        FUZZ_FAIL("a refused answer's error lacks its message or request id (%s)", err.code);
    }
    cce_error_clear(&err);
    cce_http_resp_free(&r);
    return 0;
}
