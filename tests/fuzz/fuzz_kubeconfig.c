/*
 * fuzz_kubeconfig.c - kubeconfig text (YAML or JSON) from anywhere: cce_kubeconfig_parse
 * must never crash, and what it accepts must survive its own writers: parse(to_yaml(x))
 * and parse(to_json(x)) load again and hold the same document as x (compared as JSON
 * trees, key order aside: the YAML writer sorts keys).
 */
#include <jansson.h>
#include <string.h>

#include "cce.h"
#include "fuzz.h"

/* The model's JSON, as a tree. */
static json_t *tree_of(const cce_kubeconfig *kc, const char *what)
{
    char *text = NULL;
    size_t len = 0;
    cce_error err = { 0 };
    if (cce_kubeconfig_to_json(kc, 0, &text, &len, &err) != 0)
        FUZZ_FAIL("%s: to_json failed: %s: %s", what, err.code, err.message ? err.message : "");
    json_error_t je;
    json_t *t = json_loadb(text, len, JSON_ALLOW_NUL, &je);
    if (!t)
        FUZZ_FAIL("%s: to_json wrote what jansson cannot read (%s): %s", what, je.text, text);
    free(text);
    return t;
}

/* Serialises kc one way, parses it back and compares with `want`. */
static void round_trip(const cce_kubeconfig *kc, const json_t *want, int yaml)
{
    const char *how = yaml ? "yaml" : "json";
    char *text = NULL;
    size_t len = 0;
    cce_error err = { 0 };
    int rc = yaml ? cce_kubeconfig_to_yaml(kc, &text, &len, &err) : cce_kubeconfig_to_json(kc, 1, &text, &len, &err);
    if (rc != 0) {
        /* Running out of memory is no bug; anything else about a loaded document is. */
        if (strcmp(err.code, "NOMEM") == 0) {
            cce_error_clear(&err);
            return;
        }
        FUZZ_FAIL("to_%s failed on a document parse accepted: %s: %s", how, err.code,
                  err.message ? err.message : "");
    }
    cce_kubeconfig *again = cce_kubeconfig_parse(text, len, "<round trip>", &err);
    if (!again)
        FUZZ_FAIL("parse(to_%s(x)) failed: %s: %s\n--- written:\n%s", how, err.code, err.message ? err.message : "",
                  text);
    json_t *got = tree_of(again, "reparsed");
    if (!json_equal(got, want)) {
        char *a = json_dumps(want, JSON_SORT_KEYS), *b = json_dumps(got, JSON_SORT_KEYS);
        FUZZ_FAIL("parse(to_%s(x)) != x\n--- x:\n%s\n--- parse(to_%s(x)):\n%s\n--- written:\n%s", how, a, how, b,
                  text);
    }
    json_decref(got);
    cce_kubeconfig_free(again);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cce_error err = { 0 };
    cce_kubeconfig *kc = cce_kubeconfig_parse((const char *)data, size, "<fuzz>", &err);
    if (!kc) {
        if (!err.code[0] || !err.message)
            FUZZ_FAIL("parse failed without saying why");
        cce_error_clear(&err);
        return 0;
    }
    json_t *want = tree_of(kc, "parsed");
    round_trip(kc, want, 1);
    round_trip(kc, want, 0);

    /* The read-only views the scripts use, and the consistency check. */
    for (int s = CCE_KC_CLUSTERS; s <= CCE_KC_CONTEXTS; s++) {
        size_t n = cce_kubeconfig_count(kc, (enum cce_kc_section)s);
        for (size_t i = 0; i < n; i++) {
            const char *name = cce_kubeconfig_name(kc, (enum cce_kc_section)s, i);
            free(cce_kubeconfig_entry_json(kc, (enum cce_kc_section)s, i));
            if (name && cce_kubeconfig_find(kc, (enum cce_kc_section)s, name) < 0)
                FUZZ_FAIL("entry '%s' cannot be found by its name", name);
        }
    }
    char **problems = NULL;
    cce_kubeconfig_check(kc, &problems);
    cce_strings_free(problems);
    json_decref(want);
    cce_kubeconfig_free(kc);
    return 0;
}
