/*
 * kcschema.c - a kubeconfig checked the way kubectl reads it.
 *
 * kubectl (client-go) turns YAML into JSON without knowing the schema and
 * then decodes that JSON into clientcmd's v1 structs: a number or boolean
 * where a string field is declared is an error there, null is "not set"
 * everywhere, []byte fields must be Go base64, and names in a list of
 * extensions must be unique.  The model keeps the document as a tree, so
 * these rules are checked here, once, when a document is loaded: a file
 * kubectl refuses is refused too, with the place named, instead of being
 * written back for kubectl to fail on later.  Fields the schema does not
 * name are kept and not checked (kubectl ignores them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef enum {
    F_STR,       /* string */
    F_BOOL,      /* bool */
    F_BYTES,     /* []byte: a base64 string */
    F_STRLIST,   /* []string */
    F_STRMAP,    /* map[string]string */
    F_LISTMAP,   /* map[string][]string */
    F_OBJ,       /* a struct: its fields in sub */
    F_OBJLIST,   /* []struct: the item's fields in sub */
    F_NAMED,     /* []NamedExtension: items {name, extension}, names unique */
} ftype;

typedef struct field {
    const char *key;
    ftype type;
    const struct field *sub;
} field;

#define END {NULL, F_STR, NULL}

static const field env_var[] = {{"name", F_STR, NULL}, {"value", F_STR, NULL}, END};
static const field exec_config[] = {
    {"command", F_STR, NULL},       {"args", F_STRLIST, NULL},       {"env", F_OBJLIST, env_var},
    {"apiVersion", F_STR, NULL},    {"installHint", F_STR, NULL},    {"provideClusterInfo", F_BOOL, NULL},
    {"interactiveMode", F_STR, NULL}, END};
static const field auth_provider[] = {{"name", F_STR, NULL}, {"config", F_STRMAP, NULL}, END};
static const field cluster[] = {
    {"server", F_STR, NULL},         {"tls-server-name", F_STR, NULL},     {"insecure-skip-tls-verify", F_BOOL, NULL},
    {"certificate-authority", F_STR, NULL}, {"certificate-authority-data", F_BYTES, NULL},
    {"proxy-url", F_STR, NULL},      {"disable-compression", F_BOOL, NULL}, {"extensions", F_NAMED, NULL}, END};
static const field auth_info[] = {
    {"client-certificate", F_STR, NULL}, {"client-certificate-data", F_BYTES, NULL}, {"client-key", F_STR, NULL},
    {"client-key-data", F_BYTES, NULL},  {"token", F_STR, NULL},         {"tokenFile", F_STR, NULL},
    {"as", F_STR, NULL},                 {"as-uid", F_STR, NULL},        {"as-groups", F_STRLIST, NULL},
    {"as-user-extra", F_LISTMAP, NULL},  {"username", F_STR, NULL},      {"password", F_STR, NULL},
    {"auth-provider", F_OBJ, auth_provider}, {"exec", F_OBJ, exec_config}, {"extensions", F_NAMED, NULL}, END};
static const field context[] = {{"cluster", F_STR, NULL}, {"user", F_STR, NULL}, {"namespace", F_STR, NULL},
                                {"extensions", F_NAMED, NULL}, END};
static const field preferences[] = {{"colors", F_BOOL, NULL}, {"extensions", F_NAMED, NULL}, END};
static const field config[] = {
    {"kind", F_STR, NULL},           {"apiVersion", F_STR, NULL},         {"preferences", F_OBJ, preferences},
    {"current-context", F_STR, NULL}, {"extensions", F_NAMED, NULL},      END};

static const field *const inner_fields[3] = {cluster, auth_info, context};
static const char *const section_key[3] = {"clusters", "users", "contexts"};
static const char *const inner_key[3] = {"cluster", "user", "context"};
static const char *const section_noun[3] = {"cluster", "user", "context"};

static const char *type_noun(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "a mapping";
    case JSON_ARRAY:
        return "a list";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* Where a check is: "<source>: <entry>: <path>" pieces, kept short. */
typedef struct where {
    const char *source;
    const char *entry; /* "user 'admin'" or NULL */
    char path[256];
} where;

static int fail(const where *w, cce_error *err, const char *what)
{
    if (w->entry)
        return cce_set_error(err, CCE_E_PARSE, 0, "%s: %s: %s %s", w->source, w->entry, w->path, what);
    return cce_set_error(err, CCE_E_PARSE, 0, "%s: %s %s", w->source, w->path, what);
}

static int wrong_type(const where *w, const json_t *v, const char *want, cce_error *err)
{
    char what[128];
    snprintf(what, sizeof what, "is %s, where kubectl reads only %s (or null)", type_noun(v), want);
    return fail(w, err, what);
}

/* Appends ".key" or "[i]" to the path; returns the old length to restore. */
static size_t path_push(where *w, const char *key, long index)
{
    size_t len = strlen(w->path);
    if (key)
        snprintf(w->path + len, sizeof w->path - len, "%s%s", len ? "." : "", key);
    else
        snprintf(w->path + len, sizeof w->path - len, "[%ld]", index);
    return len;
}

static int check_value(const json_t *v, const field *f, where *w, cce_error *err);

static int check_string(const json_t *v, const where *w, cce_error *err)
{
    return !v || json_is_null(v) || json_is_string(v) ? 0 : wrong_type(w, v, "a string", err);
}

static int check_fields(const json_t *obj, const field *fields, where *w, cce_error *err)
{
    for (const field *f = fields; f->key; f++) {
        const json_t *v = json_object_get(obj, f->key);
        if (!v)
            continue;
        size_t mark = path_push(w, f->key, 0);
        int rc = check_value(v, f, w, err);
        w->path[mark] = '\0';
        if (rc < 0)
            return -1;
    }
    return 0;
}


/* A list of NamedExtension: names unique, as client-go's conversion to a map demands. */
static int check_named(const json_t *arr, where *w, cce_error *err)
{
    json_t *seen = json_object();
    if (!seen)
        return cce_set_error(err, CCE_E_NOMEM, 0, "out of memory");
    size_t i;
    json_t *e;
    int rc = 0;
    json_array_foreach(arr, i, e) {
        size_t mark = path_push(w, NULL, (long)i);
        if (!json_is_null(e) && !json_is_object(e)) {
            rc = wrong_type(w, e, "a mapping", err);
        } else {
            const json_t *name = json_object_get(e, "name");
            size_t nm = path_push(w, "name", 0);
            rc = check_string(name, w, err);
            w->path[nm] = '\0';
            const char *n = json_string_value(name) ? json_string_value(name) : "";
            /*
             * client-go's conversion to a map refuses a name only when an
             * earlier entry of that name holds an extension: one without
             * (missing or null) is simply replaced.
             */
            if (rc == 0 && json_object_get(seen, n)) {
                char what[160];
                snprintf(what, sizeof what, "repeats the extension name '%.100s' (kubectl refuses the file)", n);
                rc = fail(w, err, what);
            }
            const json_t *ext = json_object_get(e, "extension");
            if (rc == 0 && ext && !json_is_null(ext) && json_object_set_new(seen, n, json_true()) < 0)
                rc = cce_set_error(err, CCE_E_NOMEM, 0, "out of memory");
        }
        w->path[mark] = '\0';
        if (rc < 0)
            break;
    }
    json_decref(seen);
    return rc;
}

static int check_value(const json_t *v, const field *f, where *w, cce_error *err)
{
    if (json_is_null(v))
        return 0;
    size_t i;
    json_t *x;
    const char *k;
    switch (f->type) {
    case F_STR:
        return check_string(v, w, err);
    case F_BOOL:
        return json_is_boolean(v) ? 0 : wrong_type(w, v, "true or false", err);
    case F_BYTES:
        /* encoding/json also fills a []byte from a list of numbers 0..255 (null is 0). */
        if (json_is_array(v)) {
            json_array_foreach(v, i, x) {
                double d = json_number_value(x);
                if (!json_is_null(x) && (!json_is_number(x) || d < 0 || d > 255 || d != (double)(int)d)) {
                    size_t mark = path_push(w, NULL, (long)i);
                    int rc = wrong_type(w, x, "a byte (0 to 255)", err);
                    w->path[mark] = '\0';
                    return rc;
                }
            }
            return 0;
        }
        if (!json_is_string(v))
            return wrong_type(w, v, "a base64 string", err);
        if (cce_yaml_base64_decode(json_string_value(v), json_string_length(v), NULL) == (size_t)-1)
            return fail(w, err, "is not valid base64 (kubectl refuses it)");
        return 0;
    case F_STRLIST:
        if (!json_is_array(v))
            return wrong_type(w, v, "a list of strings", err);
        json_array_foreach(v, i, x) {
            size_t mark = path_push(w, NULL, (long)i);
            int rc = check_string(x, w, err);
            w->path[mark] = '\0';
            if (rc < 0)
                return -1;
        }
        return 0;
    case F_STRMAP:
    case F_LISTMAP:
        if (!json_is_object(v))
            return wrong_type(w, v, "a mapping", err);
        json_object_foreach((json_t *)v, k, x) {
            size_t mark = path_push(w, k, 0);
            field item = {k, f->type == F_STRMAP ? F_STR : F_STRLIST, NULL};
            int rc = check_value(x, &item, w, err);
            w->path[mark] = '\0';
            if (rc < 0)
                return -1;
        }
        return 0;
    case F_OBJ:
        return json_is_object(v) ? check_fields(v, f->sub, w, err) : wrong_type(w, v, "a mapping", err);
    case F_OBJLIST:
        if (!json_is_array(v))
            return wrong_type(w, v, "a list", err);
        json_array_foreach(v, i, x) {
            size_t mark = path_push(w, NULL, (long)i);
            int rc = json_is_null(x) ? 0
                     : json_is_object(x) ? check_fields(x, f->sub, w, err)
                                         : wrong_type(w, x, "a mapping", err);
            w->path[mark] = '\0';
            if (rc < 0)
                return -1;
        }
        return 0;
    case F_NAMED:
        return json_is_array(v) ? check_named(v, w, err) : wrong_type(w, v, "a list", err);
    }
    return 0;
}

/*
 * Collection levels in v (0 for a scalar, 1 for [] or {}), counted without
 * recursion and only up to `limit`: more than limit returns limit + 1.
 */
static size_t depth_of(const json_t *v, size_t limit)
{
    if (!json_is_object(v) && !json_is_array(v))
        return 0;
    typedef struct {
        const json_t *node;
        void *iter;  /* objects */
        size_t next; /* arrays */
    } lvl;
    lvl *stack = malloc((limit + 1) * sizeof *stack);
    if (!stack)
        return limit + 1; /* refuse rather than guess */
    size_t depth = 1, max = 1;
    stack[0] = (lvl){v, json_object_iter((json_t *)v), 0};
    while (depth > 0) {
        lvl *t = &stack[depth - 1];
        const json_t *child = NULL;
        if (json_is_object(t->node)) {
            if (t->iter) {
                child = json_object_iter_value(t->iter);
                t->iter = json_object_iter_next((json_t *)t->node, t->iter);
            }
        } else if (t->next < json_array_size(t->node)) {
            child = json_array_get(t->node, t->next++);
        }
        if (!child) {
            depth--;
            continue;
        }
        if (!json_is_object(child) && !json_is_array(child))
            continue;
        if (depth == limit) {
            max = limit + 1;
            break;
        }
        stack[depth++] = (lvl){child, json_is_object(child) ? json_object_iter((json_t *)child) : NULL, 0};
        if (depth > max)
            max = depth;
    }
    free(stack);
    return max;
}

static int too_deep(const where *w, cce_error *err)
{
    char what[96];
    snprintf(what, sizeof what, "is nested deeper than %d levels, which cceauto cannot write back",
             CCE_YAML_MAX_DEPTH);
    return fail(w, err, what);
}


int cce_kcschema_check_inner(int s, const json_t *inner, const char *source, const char *name, cce_error *err)
{
    char entry[160];
    snprintf(entry, sizeof entry, "%s '%.100s'", section_noun[s], name ? name : "");
    where w = {source ? source : "<input>", entry, {0}};
    path_push(&w, inner_key[s], 0);
    /* root, section list, entry, inner: the inner mapping is at level 4 */
    if (3 + depth_of(inner, CCE_YAML_MAX_DEPTH) > CCE_YAML_MAX_DEPTH)
        return too_deep(&w, err);
    return json_is_object(inner) ? check_fields(inner, inner_fields[s], &w, err)
                                 : check_value(inner, &(field){inner_key[s], F_OBJ, inner_fields[s]}, &w, err);
}

/* The entries of section s (clusters, users, contexts), each named in errors. */
static int check_entries(const json_t *root, int s, where *w, cce_error *err)
{
    const json_t *arr = json_object_get(root, section_key[s]);
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr)) {
        path_push(w, section_key[s], 0);
        return wrong_type(w, arr, "a list", err);
    }
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        snprintf(w->path, sizeof w->path, "%s[%zu]", section_key[s], i);
        if (json_is_null(e))
            continue;
        if (!json_is_object(e))
            return wrong_type(w, e, "a mapping", err);
        const json_t *name = json_object_get(e, "name");
        if (name && !json_is_null(name) && !json_is_string(name)) {
            path_push(w, "name", 0);
            return wrong_type(w, name, "a string", err);
        }
        if (2 + depth_of(e, CCE_YAML_MAX_DEPTH) > CCE_YAML_MAX_DEPTH) {
            char entry[160];
            snprintf(entry, sizeof entry, "%s '%.100s'", section_noun[s], name ? json_string_value(name) : "");
            w->entry = entry;
            return too_deep(w, err);
        }
        json_t *inner = json_object_get(e, inner_key[s]);
        if (inner && cce_kcschema_check_inner(s, inner, w->source, json_string_value(name), err) < 0)
            return -1;
    }
    w->path[0] = '\0';
    return 0;
}

int cce_kcschema_check(const json_t *root, const char *source, cce_error *err)
{
    where w = {source ? source : "<input>", NULL, {0}};
    if (check_fields(root, config, &w, err) < 0)
        return -1;
    for (int s = 0; s < 3; s++)
        if (check_entries(root, s, &w, err) < 0)
            return -1;
    /* Nesting of everything else: name the top-level key that is too deep. */
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)root, k, v) {
        if (strcmp(k, "clusters") == 0 || strcmp(k, "users") == 0 || strcmp(k, "contexts") == 0)
            continue;
        if (1 + depth_of(v, CCE_YAML_MAX_DEPTH) > CCE_YAML_MAX_DEPTH) {
            path_push(&w, k, 0);
            return too_deep(&w, err);
        }
    }
    return 0;
}
