/*
 * fuzz_clusters.c - a cluster list answer (GET .../clusters) from a broken or hostile
 * endpoint: the body's "items" read the way cce_clusters_list_json does, each item
 * through cce_cluster_from_json (as cce_clusters_list and the bindings read them), and
 * the whole body as one cluster object (cce_cluster_parse).  Never a crash; a cluster
 * that is accepted has an id and a name.
 */
#include <jansson.h>
#include <string.h>

#include "fuzz.h"
#include "internal.h"

static void check(const cce_cluster *cl)
{
    if (!cl->id || !cl->name)
        FUZZ_FAIL("a cluster was accepted without id or name");
    if (cl->raw_json) {
        json_t *raw = json_loads(cl->raw_json, 0, NULL);
        if (!json_is_object(raw))
            FUZZ_FAIL("raw_json is not a JSON object: %s", cl->raw_json);
        json_decref(raw);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cce_error err = { 0 };
    cce_cluster cl;
    if (cce_cluster_parse((const char *)data, size, &cl, &err) == 0) {
        check(&cl);
        cce_cluster_clear(&cl);
    }
    cce_error_clear(&err);

    json_t *body = json_loadb((const char *)data, size, 0, NULL);
    json_t *items = json_is_object(body) ? json_object_get(body, "items") : NULL;
    size_t i;
    json_t *item;
    if (json_is_array(items)) {
        json_array_foreach(items, i, item) {
            for (int with_raw = 0; with_raw <= 1; with_raw++) {
                if (cce_cluster_from_json(item, &cl, with_raw, &err) == 0) {
                    check(&cl);
                    cce_cluster_clear(&cl);
                } else if (!err.message) {
                    FUZZ_FAIL("a cluster was refused without a message");
                }
                cce_error_clear(&err);
            }
        }
    }
    json_decref(body);
    return 0;
}
