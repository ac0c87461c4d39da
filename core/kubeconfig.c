/*
 * kubeconfig.c - the kubeconfig model.
 *
 * The model is the document itself, held as a jansson tree: whatever kubectl
 * or another tool wrote (exec users, extensions, fields newer than this code)
 * survives a load and a save because nothing is copied into narrower structs.
 * The functions here check and interpret the parts cceauto needs.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct cce_kubeconfig {
    json_t *root;
};

static const char *const section_key[] = {"clusters", "users", "contexts"};
static const char *const inner_key[] = {"cluster", "user", "context"};

/* Checks one of clusters/users/contexts: an array of {"name": str, <inner>: object}. */
static int check_section(json_t *root, int s, const char *source, cce_error *err)
{
    json_t *arr = json_object_get(root, section_key[s]);
    if (!arr || json_is_null(arr)) {
        json_object_set_new(root, section_key[s], json_array());
        return 0;
    }
    if (!json_is_array(arr))
        return cce_set_error(err, "PARSE", 0, "%s: \"%s\" is not a list", source, section_key[s]);
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        const char *name = json_string_value(json_object_get(e, "name"));
        if (!json_is_object(e) || !name || !*name)
            return cce_set_error(err, "PARSE", 0, "%s: %s[%zu] has no name", source, section_key[s], i);
        json_t *inner = json_object_get(e, inner_key[s]);
        if (inner && !json_is_object(inner) && !json_is_null(inner))
            return cce_set_error(err, "PARSE", 0, "%s: %s entry '%s': \"%s\" is not a mapping", source,
                                 section_key[s], name, inner_key[s]);
        if (!inner || json_is_null(inner))
            json_object_set_new(e, inner_key[s], json_object());
    }
    return 0;
}

/*
 * CCE sends some external cluster entries with both certificate-authority-data
 * and insecure-skip-tls-verify: true, which client-go rejects.  Keep the CA
 * (verification is the safe reading) and drop the flag.
 */
static void fix_ca_and_insecure(json_t *root)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(root, "clusters"), i, e) {
        json_t *c = json_object_get(e, "cluster");
        if (json_object_get(c, "certificate-authority-data") && json_is_true(json_object_get(c, "insecure-skip-tls-verify")))
            json_object_del(c, "insecure-skip-tls-verify");
    }
}

cce_kubeconfig *cce_kubeconfig_from_json(json_t *root, const char *source, cce_error *err)
{
    if (!source)
        source = "<input>";
    if (json_is_null(root)) {
        json_decref(root);
        root = json_object();
    }
    if (!json_is_object(root)) {
        json_decref(root);
        cce_set_error(err, "PARSE", 0, "%s: a kubeconfig must be a mapping", source);
        return NULL;
    }
    json_t *kind = json_object_get(root, "kind");
    json_t *api = json_object_get(root, "apiVersion");
    if (kind && !json_is_null(kind) && (!json_is_string(kind) || strcmp(json_string_value(kind), "Config") != 0)) {
        cce_set_error(err, "PARSE", 0, "%s: kind is '%s', not 'Config'", source,
                      json_is_string(kind) ? json_string_value(kind) : "(not a string)");
        json_decref(root);
        return NULL;
    }
    if (api && !json_is_null(api) && (!json_is_string(api) || strcmp(json_string_value(api), "v1") != 0)) {
        cce_set_error(err, "PARSE", 0, "%s: apiVersion is '%s', not 'v1'", source,
                      json_is_string(api) ? json_string_value(api) : "(not a string)");
        json_decref(root);
        return NULL;
    }
    for (int s = 0; s < 3; s++)
        if (check_section(root, s, source, err) < 0) {
            json_decref(root);
            return NULL;
        }
    json_t *cur = json_object_get(root, "current-context");
    if (cur && !json_is_string(cur) && !json_is_null(cur)) {
        cce_set_error(err, "PARSE", 0, "%s: current-context is not a string", source);
        json_decref(root);
        return NULL;
    }
    if (!kind || json_is_null(kind))
        json_object_set_new(root, "kind", json_string("Config"));
    if (!api || json_is_null(api))
        json_object_set_new(root, "apiVersion", json_string("v1"));
    if (!json_is_object(json_object_get(root, "preferences")))
        json_object_set_new(root, "preferences", json_object());
    fix_ca_and_insecure(root);

    cce_kubeconfig *kc = calloc(1, sizeof *kc);
    if (!kc) {
        json_decref(root);
        cce_set_error(err, "NOMEM", 0, "out of memory");
        return NULL;
    }
    kc->root = root;
    return kc;
}

cce_kubeconfig *cce_kubeconfig_new(void) { return cce_kubeconfig_from_json(json_object(), NULL, NULL); }

cce_kubeconfig *cce_kubeconfig_parse(const char *text, size_t len, const char *source, cce_error *err)
{
    if (!source)
        source = "<input>";
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
        i++;
    json_t *root;
    if (i < len && text[i] == '{') {
        /* JSON is YAML, but jansson is faster and names the position just as well. */
        json_error_t je;
        root = json_loadb(text, len, JSON_ALLOW_NUL, &je);
        if (!root) {
            cce_set_error(err, "PARSE", 0, "%s:%d:%d: %s", source, je.line, je.column, je.text);
            return NULL;
        }
    } else if ((root = cce_yaml_load(text, len, source, err)) == NULL) {
        return NULL;
    }
    return cce_kubeconfig_from_json(root, source, err);
}

cce_kubeconfig *cce_kubeconfig_copy(const cce_kubeconfig *kc)
{
    json_t *r = json_deep_copy(kc->root);
    return r ? cce_kubeconfig_from_json(r, NULL, NULL) : NULL;
}

void cce_kubeconfig_free(cce_kubeconfig *kc)
{
    if (!kc)
        return;
    json_decref(kc->root);
    free(kc);
}

int cce_kubeconfig_to_yaml(const cce_kubeconfig *kc, char **out, size_t *len, cce_error *err)
{
    cce_buf b = {0};
    if (cce_yaml_dump(kc->root, &b) < 0 || !(*out = cce_buf_steal(&b, len))) {
        cce_buf_free(&b);
        return cce_set_error(err, "NOMEM", 0, "out of memory while writing YAML");
    }
    return 0;
}

int cce_kubeconfig_to_json(const cce_kubeconfig *kc, int pretty, char **out, size_t *len, cce_error *err)
{
    size_t flags = JSON_SORT_KEYS | (pretty ? JSON_INDENT(2) : JSON_COMPACT);
    char *s = json_dumps(kc->root, flags);
    if (!s)
        return cce_set_error(err, "NOMEM", 0, "out of memory while writing JSON");
    size_t n = strlen(s);
    if (pretty) {
        char *t = realloc(s, n + 2);
        if (t) {
            s = t;
            s[n++] = '\n';
            s[n] = '\0';
        }
    }
    *out = s;
    if (len)
        *len = n;
    return 0;
}

const char *cce_kubeconfig_current_context(const cce_kubeconfig *kc)
{
    const char *s = json_string_value(json_object_get(kc->root, "current-context"));
    return s && *s ? s : NULL;
}

size_t cce_kubeconfig_count(const cce_kubeconfig *kc, enum cce_kc_section s)
{
    return json_array_size(json_object_get(kc->root, section_key[s]));
}

const char *cce_kubeconfig_name(const cce_kubeconfig *kc, enum cce_kc_section s, size_t i)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(kc->root, section_key[s]), i), "name"));
}

char *cce_kubeconfig_entry_json(const cce_kubeconfig *kc, enum cce_kc_section s, size_t i)
{
    json_t *e = json_array_get(json_object_get(kc->root, section_key[s]), i);
    json_t *inner = json_object_get(e, inner_key[s]);
    return inner ? json_dumps(inner, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
}
