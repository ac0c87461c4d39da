/*
 * kubeconfig.c - the kubeconfig model: parse, check, change, load and save.
 *
 * The model is the document itself, held as a jansson tree: whatever kubectl
 * or another tool wrote (exec users, extensions, fields newer than this code)
 * survives because nothing is copied into narrower structs.
 *
 * Saving never loses data.  The object keeps a snapshot of each entry as it
 * was loaded (shared, not copied: entries are changed copy-on-write through
 * entry_mut(), so an unchanged entry is the very same json_t as its snapshot).
 * save() takes the file's lock, reads the file again and applies only the
 * difference between the object and its snapshot, so whatever another
 * program wrote meanwhile survives.
 */
#include <errno.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

#define NSECT 3
static const char *const section_key[NSECT] = {"clusters", "users", "contexts"};
static const char *const inner_key[NSECT] = {"cluster", "user", "context"};
static const char *const section_noun[NSECT] = {"cluster", "user", "context"};

/*
 * Every edit is O(1) amortised, so that a fleet owner's 30,000-context file
 * can be rewritten entry by entry: entries are found through a name index kept
 * up to date, a removed entry leaves a tombstone (JSON null) in its list so no
 * other entry moves, and the tombstones are swept out (keeping the order) only
 * when something reads the lists by position or as a whole, which costs O(n)
 * anyway.  Which contexts name each cluster and user is indexed too, so a
 * rename updates its references without scanning every context.
 */
struct cce_kubeconfig {
    json_t *root;             /* the (merged) document; sections may hold tombstones */
    json_t *index[NSECT];     /* name -> position in root's section; NULL when stale */
    size_t dead[NSECT];       /* tombstones in root's sections */
    json_t *refs[2];          /* cluster (0) / user (1) name -> {context name: true}; NULL until needed */
    /* What was loaded or last saved; NULL for a document that never touched a file. */
    json_t *snap[NSECT];      /* name -> entry (shared with root while unchanged) */
    json_t *snap_top;         /* other top-level keys as loaded, current-context included */
    json_t *origin[NSECT];    /* name -> index into files[] */
    json_t *renamed[NSECT];   /* new name -> the name it had in the files (rename keeps its place) */
    struct kc_file *files;    /* the files it was loaded from, in precedence order */
    size_t nfiles;
};

/* One file of a loaded kubeconfig: what it held when last read or written. */
struct kc_file {
    char *path;
    json_t *doc;                /* its document (entries shared with the model) */
    unsigned char sha256[32];   /* of its bytes then: unchanged bytes need no new parse */
};

/* ------------------------------------------------------------- plumbing */

static json_t *sect(const cce_kubeconfig *kc, int s) { return json_object_get(kc->root, section_key[s]); }

static const char *entry_name(json_t *e) { return json_string_value(json_object_get(e, "name")); }

static void index_drop(cce_kubeconfig *kc, int s)
{
    json_decref(kc->index[s]);
    kc->index[s] = NULL;
}

static void refs_drop(cce_kubeconfig *kc)
{
    for (int k = 0; k < 2; k++) {
        json_decref(kc->refs[k]);
        kc->refs[k] = NULL;
    }
}

/* Sweeps the tombstones out of the sections, keeping the order (O(n), only when there are any). */
static void compact(const cce_kubeconfig *kc_const)
{
    cce_kubeconfig *kc = (cce_kubeconfig *)kc_const; /* same document, without the holes */
    for (int s = 0; s < NSECT; s++) {
        if (!kc->dead[s])
            continue;
        json_t *arr = sect(kc, s), *live = json_array();
        size_t i;
        json_t *e;
        if (!live)
            continue; /* still correct with the holes: try again next time */
        json_array_foreach(arr, i, e) {
            if (!json_is_null(e))
                json_array_append(live, e);
        }
        json_object_set_new(kc->root, section_key[s], live);
        kc->dead[s] = 0;
        index_drop(kc, s);
    }
}

static json_t *index_get(const cce_kubeconfig *kc_const, int s)
{
    cce_kubeconfig *kc = (cce_kubeconfig *)kc_const; /* the index is a cache */
    if (!kc->index[s]) {
        json_t *ix = json_object();
        size_t i;
        json_t *e;
        json_array_foreach(sect(kc, s), i, e) {
            const char *n = entry_name(e);
            if (n && !json_object_get(ix, n))
                json_object_set_new(ix, n, json_integer((json_int_t)i));
        }
        kc->index[s] = ix;
    }
    return kc->index[s];
}

/* The position of `name` in root's section as it is now, tombstones included. */
static long find_raw(const cce_kubeconfig *kc, int s, const char *name)
{
    if (!name || (unsigned)s >= NSECT)
        return -1;
    json_t *v = json_object_get(index_get(kc, s), name);
    return v ? (long)json_integer_value(v) : -1;
}

long cce_kubeconfig_find(const cce_kubeconfig *kc, enum cce_kc_section s, const char *name)
{
    compact(kc); /* the caller reads by position */
    return find_raw(kc, s, name);
}

/* Records (add) or forgets the references of context entry `ctx` in the reference index. */
static const char *const ref_field[2] = {"cluster", "user"};

static void refs_edit(cce_kubeconfig *kc, json_t *ctx, int add)
{
    const char *cname = entry_name(ctx);
    json_t *inner = json_object_get(ctx, "context");
    for (int k = 0; k < 2 && cname; k++) {
        const char *ref = json_string_value(json_object_get(inner, ref_field[k]));
        if (!kc->refs[k] || !ref)
            continue;
        json_t *set = json_object_get(kc->refs[k], ref);
        if (add) {
            if (!set && json_object_set_new(kc->refs[k], ref, set = json_object()) < 0)
                set = NULL;
            if (!set || json_object_set_new(set, cname, json_true()) < 0) {
                refs_drop(kc); /* rebuilt when next needed */
                return;
            }
        } else if (set) {
            json_object_del(set, cname);
            if (json_object_size(set) == 0)
                json_object_del(kc->refs[k], ref);
        }
    }
}

/* The reference index for clusters (k = 0) or users (k = 1), built on first use. */
static json_t *refs_get(cce_kubeconfig *kc, int k)
{
    if (!kc->refs[0] || !kc->refs[1]) {
        refs_drop(kc);
        kc->refs[0] = json_object();
        kc->refs[1] = json_object();
        if (!kc->refs[0] || !kc->refs[1]) {
            refs_drop(kc);
            return NULL;
        }
        size_t i;
        json_t *e;
        json_array_foreach(sect(kc, CCE_KC_CONTEXTS), i, e) {
            if (!json_is_null(e))
                refs_edit(kc, e, 1);
        }
    }
    return kc->refs[k];
}

/*
 * The entry at i, made private to this object so that its top level ("name")
 * can be changed.  A shallow copy: the inner mapping (certificates, keys)
 * stays shared until inner_mut() is asked for it, so a rename copies no
 * certificate.
 */
static json_t *entry_mut(cce_kubeconfig *kc, int s, size_t i)
{
    json_t *arr = sect(kc, s), *e = json_array_get(arr, i);
    if (e && e->refcount > 1) {
        json_t *copy = json_copy(e);
        if (!copy)
            return NULL;
        json_array_set_new(arr, i, copy);
        e = copy;
    }
    return e;
}

static json_t *inner_mut(cce_kubeconfig *kc, int s, size_t i)
{
    json_t *e = entry_mut(kc, s, i);
    json_t *in = json_object_get(e, inner_key[s]);
    if (in && in->refcount > 1) {
        json_t *copy = json_deep_copy(in);
        if (!copy || json_object_set_new(e, inner_key[s], copy) < 0)
            return NULL;
        in = copy;
    }
    return in;
}

static int nomem(cce_error *err) { return cce_set_error(err, CCE_E_NOMEM, 0, "out of memory"); }

/* ------------------------------------------------------------ structure */

/* Checks one of clusters/users/contexts: a list of {"name": str, <inner>: mapping}, names unique. */
static int check_section(json_t *root, int s, const char *source, cce_error *err)
{
    json_t *arr = json_object_get(root, section_key[s]);
    if (!arr || json_is_null(arr)) {
        json_object_set_new(root, section_key[s], json_array());
        return 0;
    }
    if (!json_is_array(arr))
        return cce_set_error(err, CCE_E_PARSE, 0, "%s: \"%s\" is not a list", source, section_key[s]);
    json_t *seen = json_object();
    size_t i;
    json_t *e;
    int rc = 0;
    json_array_foreach(arr, i, e) {
        /* kubectl reads a null entry, or one without a name, as the name "" (types checked already). */
        if (json_is_null(e)) {
            e = json_object();
            json_array_set_new(arr, i, e);
        }
        if (!json_is_string(json_object_get(e, "name")))
            json_object_set_new(e, "name", json_string(""));
        const char *name = json_string_value(json_object_get(e, "name"));
        if (!name) {
            rc = nomem(err);
            break;
        }
        json_t *prev = json_object_get(seen, name);
        if (prev) {
            /* client-go refuses such a file too: which one would win is not obvious. */
            rc = cce_set_error(err, CCE_E_PARSE, 0, "%s: %s[%zu] and %s[%lld] are both named '%s'", source, section_key[s],
                               (size_t)json_integer_value(prev), section_key[s], (long long)i, name);
            break;
        }
        json_object_set_new(seen, name, json_integer((json_int_t)i));
        json_t *inner = json_object_get(e, inner_key[s]);
        if (inner && !json_is_object(inner) && !json_is_null(inner)) {
            rc = cce_set_error(err, CCE_E_PARSE, 0, "%s: %s '%s': \"%s\" is not a mapping", source, section_noun[s], name,
                               inner_key[s]);
            break;
        }
        if (!inner || json_is_null(inner))
            json_object_set_new(e, inner_key[s], json_object());
    }
    json_decref(seen);
    return rc;
}

/*
 * CCE sends some external cluster entries with both certificate-authority-data
 * and insecure-skip-tls-verify: true, which client-go rejects.  Keep the CA
 * (verification is the safe reading) and drop the flag.
 */
static void fix_cluster_ca_and_insecure(json_t *c)
{
    if (json_object_get(c, "certificate-authority-data") && json_is_true(json_object_get(c, "insecure-skip-tls-verify")))
        json_object_del(c, "insecure-skip-tls-verify");
}

static void fix_ca_and_insecure(json_t *root)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(root, "clusters"), i, e) fix_cluster_ca_and_insecure(json_object_get(e, "cluster"));
}

/* Checks and normalises a parsed document in place (takes no reference). */
static int normalise(json_t *root, const char *source, cce_error *err)
{
    if (!json_is_object(root))
        return cce_set_error(err, CCE_E_PARSE, 0, "%s: a kubeconfig must be a mapping", source);
    if (cce_kcschema_check(root, source, err) < 0)
        return -1;
    /* kubectl reads an empty kind or apiVersion as not set: the defaults below. */
    json_t *kind = json_object_get(root, "kind");
    json_t *api = json_object_get(root, "apiVersion");
    if (json_is_string(kind) && !*json_string_value(kind))
        kind = NULL;
    if (json_is_string(api) && !*json_string_value(api))
        api = NULL;
    if (kind && !json_is_null(kind) && (!json_is_string(kind) || strcmp(json_string_value(kind), "Config") != 0))
        return cce_set_error(err, CCE_E_PARSE, 0, "%s: kind is '%s', not 'Config'", source,
                             json_is_string(kind) ? json_string_value(kind) : "(not a string)");
    if (api && !json_is_null(api) && (!json_is_string(api) || strcmp(json_string_value(api), "v1") != 0))
        return cce_set_error(err, CCE_E_PARSE, 0, "%s: apiVersion is '%s', not 'v1'", source,
                             json_is_string(api) ? json_string_value(api) : "(not a string)");
    for (int s = 0; s < NSECT; s++)
        if (check_section(root, s, source, err) < 0)
            return -1;
    json_t *cur = json_object_get(root, "current-context");
    if (cur && !json_is_string(cur) && !json_is_null(cur))
        return cce_set_error(err, CCE_E_PARSE, 0, "%s: current-context is not a string", source);
    if (!kind || json_is_null(kind))
        json_object_set_new(root, "kind", json_string("Config"));
    if (!api || json_is_null(api))
        json_object_set_new(root, "apiVersion", json_string("v1"));
    if (!json_is_object(json_object_get(root, "preferences")))
        json_object_set_new(root, "preferences", json_object());
    fix_ca_and_insecure(root);
    return 0;
}

static int is_section_key(const char *k)
{
    for (int s = 0; s < NSECT; s++)
        if (strcmp(k, section_key[s]) == 0)
            return 1;
    return 0;
}

static void clear_state(cce_kubeconfig *kc)
{
    refs_drop(kc);
    for (int s = 0; s < NSECT; s++) {
        index_drop(kc, s);
        kc->dead[s] = 0;
        json_decref(kc->snap[s]);
        json_decref(kc->origin[s]);
        json_decref(kc->renamed[s]);
        kc->snap[s] = kc->origin[s] = kc->renamed[s] = NULL;
    }
    json_decref(kc->snap_top);
    kc->snap_top = NULL;
}

static void free_files(cce_kubeconfig *kc)
{
    for (size_t i = 0; i < kc->nfiles; i++) {
        free(kc->files[i].path);
        json_decref(kc->files[i].doc);
    }
    free(kc->files);
    kc->files = NULL;
    kc->nfiles = 0;
}

/* Remembers the present state as "what the files hold". */
static void take_snapshot(cce_kubeconfig *kc)
{
    for (int s = 0; s < NSECT; s++) {
        json_decref(kc->snap[s]);
        kc->snap[s] = json_object();
        size_t i;
        json_t *e;
        json_array_foreach(sect(kc, s), i, e) json_object_set(kc->snap[s], entry_name(e), e);
    }
    json_decref(kc->snap_top);
    kc->snap_top = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(kc->root, k, v) {
        if (!is_section_key(k))
            json_object_set_new(kc->snap_top, k, json_deep_copy(v));
    }
}

/*
 * Builds the merged view of documents docs[0..n) (precedence order, as kubectl:
 * the first file that names an entry wins; top-level keys likewise) and makes
 * it the object's state, with origins and a snapshot.  Takes no references.
 */
static int reset_from_docs(cce_kubeconfig *kc, json_t *const *docs, size_t n)
{
    clear_state(kc);
    json_t *root = json_object();
    for (int s = 0; s < NSECT; s++) {
        json_t *arr = json_array();
        kc->origin[s] = json_object();
        for (size_t f = 0; f < n; f++) {
            size_t i;
            json_t *e;
            json_array_foreach(json_object_get(docs[f], section_key[s]), i, e) {
                const char *name = entry_name(e);
                if (json_object_get(kc->origin[s], name))
                    continue;
                json_object_set_new(kc->origin[s], name, json_integer((json_int_t)f));
                json_array_append(arr, e);
            }
        }
        json_object_set_new(root, section_key[s], arr);
    }
    for (size_t f = 0; f < n; f++) {
        const char *k;
        json_t *v;
        json_object_foreach(docs[f], k, v) {
            if (is_section_key(k))
                continue;
            json_t *have = json_object_get(root, k);
            /* An empty current-context or preferences does not hide a later file's. */
            int empty_have = have && ((json_is_string(have) && !*json_string_value(have)) ||
                                      (json_is_object(have) && json_object_size(have) == 0));
            if (!have || empty_have)
                json_object_set(root, k, v);
        }
    }
    json_decref(kc->root);
    kc->root = root;
    take_snapshot(kc);
    return 0;
}

static cce_kubeconfig *kc_alloc(json_t *root)
{
    cce_kubeconfig *kc = calloc(1, sizeof *kc);
    if (!kc) {
        json_decref(root);
        return NULL;
    }
    kc->root = root;
    return kc;
}

/* Takes `root` (an empty document, null, is an empty config); the checked document or NULL. */
static json_t *normalised(json_t *root, const char *source, cce_error *err)
{
    if (!root) {
        nomem(err);
        return NULL;
    }
    if (json_is_null(root)) {
        json_decref(root);
        root = json_object();
    }
    if (normalise(root, source, err) < 0) {
        json_decref(root);
        return NULL;
    }
    return root;
}

cce_kubeconfig *cce_kubeconfig_from_json(json_t *root, const char *source, cce_error *err)
{
    if ((root = normalised(root, source ? source : "<input>", err)) == NULL)
        return NULL;
    cce_kubeconfig *kc = kc_alloc(root);
    if (!kc)
        nomem(err);
    return kc;
}

cce_kubeconfig *cce_kubeconfig_new(void) { return cce_kubeconfig_from_json(json_object(), NULL, NULL); }

/* Parses text into a normalised document (a new reference). */
static json_t *parse_doc(const char *text, size_t len, const char *source, cce_error *err)
{
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
        i++;
    json_t *root;
    if (i < len && text[i] == '{') {
        /* JSON is YAML, but jansson is faster and names the position just as well. */
        json_error_t je;
        root = json_loadb(text, len, 0, &je);
        if (!root) {
            cce_set_error(err, CCE_E_PARSE, 0, "%s:%d:%d: %s", source, je.line, je.column, je.text);
            return NULL;
        }
    } else if ((root = cce_yaml_load(text, len, source, err)) == NULL) {
        return NULL;
    }
    return normalised(root, source, err);
}

cce_kubeconfig *cce_kubeconfig_parse(const char *text, size_t len, const char *source, cce_error *err)
{
    json_t *root = parse_doc(text, len, source ? source : "<input>", err);
    if (!root)
        return NULL;
    cce_kubeconfig *kc = kc_alloc(root);
    if (!kc)
        nomem(err);
    return kc;
}

cce_kubeconfig *cce_kubeconfig_copy(const cce_kubeconfig *kc)
{
    compact(kc);
    json_t *r = json_deep_copy(kc->root);
    return r ? kc_alloc(r) : NULL;
}

void cce_kubeconfig_free(cce_kubeconfig *kc)
{
    if (!kc)
        return;
    clear_state(kc);
    free_files(kc);
    json_decref(kc->root);
    free(kc);
}

/* --------------------------------------------------------------- output */

int cce_kubeconfig_to_yaml(const cce_kubeconfig *kc, char **out, size_t *len, cce_error *err)
{
    compact(kc);
    cce_buf b = {0};
    if (cce_yaml_dump(kc->root, &b) < 0 || !(*out = cce_buf_steal(&b, len))) {
        cce_buf_free(&b);
        return cce_set_error(err, CCE_E_NOMEM, 0, "out of memory while writing YAML");
    }
    return 0;
}

int cce_kubeconfig_to_json(const cce_kubeconfig *kc, int pretty, char **out, size_t *len, cce_error *err)
{
    compact(kc);
    size_t flags = JSON_SORT_KEYS | (pretty ? JSON_INDENT(2) : JSON_COMPACT);
    char *s = json_dumps(kc->root, flags);
    if (!s)
        return cce_set_error(err, CCE_E_NOMEM, 0, "out of memory while writing JSON");
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

/* --------------------------------------------------------------- access */

const char *cce_kubeconfig_current_context(const cce_kubeconfig *kc)
{
    const char *s = json_string_value(json_object_get(kc->root, "current-context"));
    return s && *s ? s : NULL;
}

int cce_kubeconfig_use_context(cce_kubeconfig *kc, const char *name, cce_error *err)
{
    if (!name) {
        json_object_del(kc->root, "current-context");
        return 0;
    }
    if (find_raw(kc, CCE_KC_CONTEXTS, name) < 0)
        return cce_set_error(err, CCE_E_NOT_FOUND, 0, "no context named '%s'", name);
    json_object_set_new(kc->root, "current-context", json_string(name));
    return 0;
}

size_t cce_kubeconfig_count(const cce_kubeconfig *kc, enum cce_kc_section s)
{
    return (unsigned)s < NSECT ? json_array_size(sect(kc, s)) - kc->dead[s] : 0;
}

const char *cce_kubeconfig_name(const cce_kubeconfig *kc, enum cce_kc_section s, size_t i)
{
    compact(kc);
    return (unsigned)s < NSECT ? entry_name(json_array_get(sect(kc, s), i)) : NULL;
}

json_t *cce_kubeconfig_entry_inner(const cce_kubeconfig *kc, enum cce_kc_section s, size_t i)
{
    compact(kc);
    return (unsigned)s < NSECT ? json_object_get(json_array_get(sect(kc, s), i), inner_key[s]) : NULL;
}

json_t *cce_kubeconfig_entry_named(const cce_kubeconfig *kc, enum cce_kc_section s, const char *name)
{
    long i = find_raw(kc, s, name);
    return i < 0 ? NULL : json_array_get(sect(kc, s), (size_t)i);
}

char *cce_kubeconfig_entry_json(const cce_kubeconfig *kc, enum cce_kc_section s, size_t i)
{
    json_t *inner = cce_kubeconfig_entry_inner(kc, s, i);
    return inner ? json_dumps(inner, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
}

/* Adds or replaces the entry named as `e` is (reference taken), keeping the indexes. */
static int put_entry_json(cce_kubeconfig *kc, int s, json_t *e)
{
    const char *name = entry_name(e);
    json_t *ix = index_get(kc, s);
    long i = find_raw(kc, s, name);
    if (s == CCE_KC_CONTEXTS && i >= 0)
        refs_edit(kc, json_array_get(sect(kc, s), (size_t)i), 0);
    int rc;
    if (i >= 0) {
        rc = json_array_set_new(sect(kc, s), (size_t)i, e);
    } else if ((rc = json_array_append_new(sect(kc, s), e)) == 0 && ix &&
               json_object_set_new(ix, name, json_integer((json_int_t)json_array_size(sect(kc, s)) - 1)) < 0) {
        index_drop(kc, s);
    }
    if (rc == 0 && s == CCE_KC_CONTEXTS)
        refs_edit(kc, e, 1);
    return rc;
}

/* Adds or replaces the entry `name` with `inner` (reference taken). */
static int put_entry(cce_kubeconfig *kc, int s, const char *name, json_t *inner)
{
    json_t *e = json_object();
    if (!e || !inner || json_object_set_new(e, "name", json_string(name)) < 0 ||
        json_object_set_new(e, inner_key[s], inner) < 0) {
        json_decref(e);
        return -1;
    }
    return put_entry_json(kc, s, e);
}

int cce_kubeconfig_set_entry(cce_kubeconfig *kc, enum cce_kc_section s, const char *name, const char *inner_json,
                             cce_error *err)
{
    if ((unsigned)s >= NSECT || !name || !*name)
        return cce_set_error(err, CCE_E_INVALID_ARGUMENT, 0, "an entry needs a non-empty name");
    json_error_t je;
    json_t *inner = json_loads(inner_json ? inner_json : "{}", 0, &je);
    if (!json_is_object(inner)) {
        json_decref(inner);
        return cce_set_error(err, CCE_E_INVALID_ARGUMENT, 0, "%s '%s': the entry must be a mapping", section_noun[s], name);
    }
    if (cce_kcschema_check_inner((int)s, inner, "set", name, err) < 0) {
        json_decref(inner);
        return -1;
    }
    if (s == CCE_KC_CLUSTERS)
        fix_cluster_ca_and_insecure(inner);
    if (put_entry(kc, s, name, inner) < 0)
        return nomem(err);
    return 0;
}

int cce_kubeconfig_remove(cce_kubeconfig *kc, enum cce_kc_section s, const char *name, cce_error *err)
{
    long i = find_raw(kc, s, name);
    if (i < 0)
        return cce_set_error(err, CCE_E_NOT_FOUND, 0, "no %s named '%s'", (unsigned)s < NSECT ? section_noun[s] : "entry",
                             name ? name : "");
    json_t *arr = sect(kc, s);
    if (s == CCE_KC_CONTEXTS)
        refs_edit(kc, json_array_get(arr, (size_t)i), 0);
    json_object_del(kc->index[s], name); /* before the entry (and so `name`, perhaps) goes */
    if ((size_t)i + 1 == json_array_size(arr)) {
        json_array_remove(arr, (size_t)i); /* the last one: no hole needed */
    } else {
        json_array_set(arr, (size_t)i, json_null());
        kc->dead[s]++;
    }
    return 0;
}

static int rename_follow(cce_kubeconfig *kc, int s, const char *from, const char *to, cce_error *err);

int cce_kubeconfig_rename(cce_kubeconfig *kc, enum cce_kc_section s, const char *from, const char *to, cce_error *err)
{
    if ((unsigned)s >= NSECT || !from || !to || !*to)
        return cce_set_error(err, CCE_E_INVALID_ARGUMENT, 0, "rename needs an old and a new, non-empty name");
    long i = find_raw(kc, s, from);
    if (i < 0)
        return cce_set_error(err, CCE_E_NOT_FOUND, 0, "no %s named '%s'", section_noun[s], from);
    if (strcmp(from, to) == 0)
        return 0;
    if (find_raw(kc, s, to) >= 0)
        return cce_set_error(err, CCE_E_EXISTS, 0, "a %s named '%s' exists already", section_noun[s], to);
    /* `from` may be the entry's own name, which the rename frees. */
    char *old = strdup(from);
    json_t *e = old ? entry_mut(kc, s, (size_t)i) : NULL;
    if (e && s == CCE_KC_CONTEXTS)
        refs_edit(kc, e, 0);
    if (!e || json_object_set_new(e, "name", json_string(to)) < 0) {
        free(old);
        refs_drop(kc);
        return nomem(err);
    }
    from = old;
    if (s == CCE_KC_CONTEXTS)
        refs_edit(kc, e, 1);
    json_t *ix = kc->index[s];
    if (ix && (json_object_set_new(ix, to, json_integer((json_int_t)i)) < 0 || json_object_del(ix, from) < 0))
        index_drop(kc, s);
    int rc = rename_follow(kc, s, from, to, err);
    free(old);
    return rc;
}

/* After a rename: the files' bookkeeping and every reference follow the entry. */
static int rename_follow(cce_kubeconfig *kc, int s, const char *from, const char *to, cce_error *err)
{
    /* The renamed entry still belongs to the file it came from. */
    json_t *o = kc->origin[s] ? json_object_get(kc->origin[s], from) : NULL;
    if (o) {
        json_object_set(kc->origin[s], to, o);
        if (!kc->renamed[s])
            kc->renamed[s] = json_object();
        json_t *was = json_object_get(kc->renamed[s], from);
        json_object_set_new(kc->renamed[s], to, json_string(was ? json_string_value(was) : from));
        json_object_del(kc->renamed[s], from);
    }
    if (s == CCE_KC_CONTEXTS) {
        const char *cur = cce_kubeconfig_current_context(kc);
        if (cur && strcmp(cur, from) == 0)
            json_object_set_new(kc->root, "current-context", json_string(to));
        return 0;
    }
    int k = s == CCE_KC_CLUSTERS ? 0 : 1;
    json_t *refs = refs_get(kc, k);
    if (!refs)
        return nomem(err);
    json_t *users = json_incref(json_object_get(refs, from)); /* the contexts that name it */
    if (!users)
        return 0;
    json_object_del(refs, from);
    json_t *dst = json_object_get(refs, to);
    if (!dst && json_object_set_new(refs, to, dst = json_object()) < 0)
        dst = NULL;
    int rc = 0;
    const char *cname;
    json_t *v;
    json_object_foreach(users, cname, v) {
        long c = find_raw(kc, CCE_KC_CONTEXTS, cname);
        json_t *m = c >= 0 ? inner_mut(kc, CCE_KC_CONTEXTS, (size_t)c) : NULL;
        if (c >= 0 && (!m || json_object_set_new(m, ref_field[k], json_string(to)) < 0)) {
            rc = nomem(err);
            break;
        }
        if (c >= 0 && (!dst || json_object_set(dst, cname, json_true()) < 0))
            dst = NULL;
    }
    json_decref(users);
    if (!dst || rc < 0)
        refs_drop(kc); /* rebuilt from the contexts when next needed */
    return rc;
}

static int referenced(cce_kubeconfig *kc, int k, const char *name)
{
    json_t *refs = refs_get(kc, k);
    /* Out of memory: say "used", which keeps an entry rather than losing one. */
    return !refs || json_object_size(json_object_get(refs, name)) > 0;
}

int cce_kubeconfig_remove_context(cce_kubeconfig *kc, const char *name, int keep_orphans, cce_error *err)
{
    long i = find_raw(kc, CCE_KC_CONTEXTS, name);
    if (i < 0)
        return cce_set_error(err, CCE_E_NOT_FOUND, 0, "no context named '%s'", name ? name : "");
    json_t *ctx = json_object_get(json_array_get(sect(kc, CCE_KC_CONTEXTS), (size_t)i), "context");
    char *cluster = cce_strdup(json_string_value(json_object_get(ctx, "cluster")));
    char *user = cce_strdup(json_string_value(json_object_get(ctx, "user")));
    cce_kubeconfig_remove(kc, CCE_KC_CONTEXTS, name, NULL);
    const char *cur = cce_kubeconfig_current_context(kc);
    if (cur && strcmp(cur, name) == 0)
        json_object_del(kc->root, "current-context");
    if (!keep_orphans) {
        if (cluster && !referenced(kc, 0, cluster))
            cce_kubeconfig_remove(kc, CCE_KC_CLUSTERS, cluster, NULL);
        if (user && !referenced(kc, 1, user))
            cce_kubeconfig_remove(kc, CCE_KC_USERS, user, NULL);
    }
    free(cluster);
    free(user);
    return 0;
}

int cce_kubeconfig_merge(cce_kubeconfig *kc, const cce_kubeconfig *other, unsigned flags, cce_merge_stats *stats,
                         cce_error *err)
{
    cce_merge_stats st = {0, 0, 0};
    if (stats)
        *stats = st;
    if (!kc || !other)
        return cce_set_error(err, CCE_E_INVALID_ARGUMENT, 0, "merge needs two kubeconfigs");
    if (flags & ~(unsigned)(CCE_MERGE_REPLACE | CCE_MERGE_SET_CURRENT))
        return cce_set_error(err, CCE_E_INVALID_ARGUMENT, 0, "merge: unknown flags 0x%x",
                             flags & ~(unsigned)(CCE_MERGE_REPLACE | CCE_MERGE_SET_CURRENT));
    int rc = 0;
    for (int s = 0; s < NSECT && rc == 0; s++) {
        size_t i;
        json_t *e;
        json_array_foreach(sect(other, s), i, e) {
            if (json_is_null(e))
                continue; /* a removed entry's place */
            long at = find_raw(kc, s, entry_name(e));
            if (at >= 0 && !(flags & CCE_MERGE_REPLACE)) {
                st.kept++;
                continue;
            }
            /* Shared, not copied: both objects change entries copy-on-write. */
            if (put_entry_json(kc, s, json_incref(e)) < 0) {
                rc = cce_set_error(err, CCE_E_NOMEM, 0, "out of memory merging %s '%s'", section_noun[s], entry_name(e));
                break;
            }
            if (at >= 0)
                st.replaced++;
            else
                st.added++;
        }
    }
    const char *cur = cce_kubeconfig_current_context(other);
    if (rc == 0 && (flags & CCE_MERGE_SET_CURRENT) && cur &&
        json_object_set_new(kc->root, "current-context", json_string(cur)) < 0)
        rc = nomem(err);
    if (stats)
        *stats = st;
    return rc;
}

size_t cce_kubeconfig_check(const cce_kubeconfig *kc, char ***out)
{
    compact(kc);
    cce_buf lines = {0};
    size_t n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(sect(kc, CCE_KC_CONTEXTS), i, e) {
        json_t *ctx = json_object_get(e, "context");
        const char *cl = json_string_value(json_object_get(ctx, "cluster"));
        const char *us = json_string_value(json_object_get(ctx, "user"));
        if (!cl || !*cl)
            n++, cce_buf_printf(&lines, "context '%s' names no cluster%c", entry_name(e), 0);
        else if (cce_kubeconfig_find(kc, CCE_KC_CLUSTERS, cl) < 0)
            n++, cce_buf_printf(&lines, "context '%s' refers to cluster '%s', which does not exist%c", entry_name(e), cl, 0);
        if (us && *us && cce_kubeconfig_find(kc, CCE_KC_USERS, us) < 0)
            n++, cce_buf_printf(&lines, "context '%s' refers to user '%s', which does not exist%c", entry_name(e), us, 0);
    }
    const char *cur = cce_kubeconfig_current_context(kc);
    if (cur && cce_kubeconfig_find(kc, CCE_KC_CONTEXTS, cur) < 0)
        n++, cce_buf_printf(&lines, "current-context is '%s', which does not exist%c", cur, 0);
    if (out) {
        char **list = calloc(n + 1, sizeof *list);
        const char *p = lines.data;
        for (size_t k = 0; list && k < n; k++) {
            list[k] = strdup(p);
            p += strlen(p) + 1;
        }
        *out = list;
    }
    cce_buf_free(&lines);
    return n;
}

void cce_strings_free(char **list)
{
    if (!list)
        return;
    for (char **p = list; *p; p++)
        free(*p);
    free(list);
}

/* ------------------------------------------------------ files and paths */

const char *cce_kubeconfig_file(const cce_kubeconfig *kc, size_t i) { return i < kc->nfiles ? kc->files[i].path : NULL; }

/* The file an entry came from (NULL for entries made in memory). */
static const char *origin_file(const cce_kubeconfig *kc, int s, const char *name)
{
    json_t *o = kc->origin[s] ? json_object_get(kc->origin[s], name) : NULL;
    return o ? cce_kubeconfig_file(kc, (size_t)json_integer_value(o)) : NULL;
}

/* A path from a kubeconfig entry: relative ones are relative to the file's directory. */
static char *resolve_path(const char *path, const char *from_file)
{
    if (path[0] == '/' || !from_file)
        return strdup(path);
    char *dup = strdup(from_file);
    if (!dup)
        return NULL;
    cce_buf b = {0};
    cce_buf_printf(&b, "%s/%s", dirname(dup), path);
    free(dup);
    return cce_buf_steal(&b, NULL);
}

/* Reads a file named by an entry field, for inlining or inspection. */
static int read_entry_file(const char *path, const char *from_file, cce_buf *out, cce_error *err)
{
    char *full = resolve_path(path, from_file);
    if (!full)
        return nomem(err);
    int missing = 0;
    int rc = cce_file_read(full, out, &missing, err);
    if (rc == 0 && missing) {
        rc = cce_set_error(err, CCE_E_IO, 0, "cannot read %s: no such file", full);
        cce_buf_free(out);
    }
    free(full);
    return rc;
}

static json_t *base64_of(const cce_buf *b)
{
    size_t n = 4 * ((b->len + 2) / 3) + 1;
    unsigned char *out = malloc(n);
    if (!out)
        return NULL;
    EVP_EncodeBlock(out, (const unsigned char *)b->data, (int)b->len);
    json_t *s = json_string((const char *)out);
    free(out);
    return s;
}

/* Replaces "<field>" (a path) by "<field>-data" (base64 of the file). */
static int inline_file(json_t *inner, const char *field, const char *from_file, cce_error *err)
{
    const char *path = json_string_value(json_object_get(inner, field));
    if (!path || !*path)
        return 0;
    char data_field[64];
    snprintf(data_field, sizeof data_field, "%s-data", field);
    cce_buf b = {0};
    if (read_entry_file(path, from_file, &b, err) < 0)
        return -1;
    json_t *v = base64_of(&b);
    cce_buf_free(&b);
    if (!v)
        return nomem(err);
    json_object_set_new(inner, data_field, v);
    json_object_del(inner, field);
    return 0;
}

cce_kubeconfig *cce_kubeconfig_select(const cce_kubeconfig *kc, const char *context, cce_error *err)
{
    if (!context)
        context = cce_kubeconfig_current_context(kc);
    if (!context) {
        cce_set_error(err, CCE_E_NOT_FOUND, 0, "no context given and current-context is not set");
        return NULL;
    }
    long ci = find_raw(kc, CCE_KC_CONTEXTS, context);
    if (ci < 0) {
        cce_set_error(err, CCE_E_NOT_FOUND, 0, "no context named '%s'", context);
        return NULL;
    }
    cce_kubeconfig *out = cce_kubeconfig_new();
    if (!out) {
        nomem(err);
        return NULL;
    }
    json_t *ctx = json_array_get(sect(kc, CCE_KC_CONTEXTS), (size_t)ci);
    json_array_append_new(sect(out, CCE_KC_CONTEXTS), json_deep_copy(ctx));
    const char *refs[2] = {json_string_value(json_object_get(json_object_get(ctx, "context"), "cluster")),
                           json_string_value(json_object_get(json_object_get(ctx, "context"), "user"))};
    static const struct {
        int s;
        const char *fields[3];
    } files[2] = {{CCE_KC_CLUSTERS, {"certificate-authority", NULL, NULL}},
                  {CCE_KC_USERS, {"client-certificate", "client-key", "tokenFile"}}};
    for (int k = 0; k < 2; k++) {
        int s = files[k].s;
        long i = refs[k] ? find_raw(kc, s, refs[k]) : -1;
        if (i < 0)
            continue; /* a dangling reference stays dangling, as kubectl --minify does */
        json_t *e = json_deep_copy(json_array_get(sect(kc, s), (size_t)i));
        json_array_append_new(sect(out, s), e);
        json_t *inner = json_object_get(e, inner_key[s]);
        for (int f = 0; f < 3 && files[k].fields[f]; f++) {
            if (strcmp(files[k].fields[f], "tokenFile") == 0)
                continue; /* kubectl --flatten keeps tokenFile as a path too */
            if (inline_file(inner, files[k].fields[f], origin_file(kc, s, refs[k]), err) < 0) {
                cce_kubeconfig_free(out);
                return NULL;
            }
        }
    }
    json_object_set_new(out->root, "current-context", json_string(context));
    return out;
}

/* Finds the certificate of an entry: "<field>-data" (base64 PEM) or the file "<field>". */
static int entry_cert(const cce_kubeconfig *kc, int s, const char *name, const char *field, cce_cert_info *out,
                      cce_error *err)
{
    long i = find_raw(kc, s, name);
    if (i < 0)
        return cce_set_error(err, CCE_E_NOT_FOUND, 0, "no %s named '%s'", section_noun[s], name ? name : "");
    json_t *inner = json_object_get(json_array_get(sect(kc, s), (size_t)i), inner_key[s]);
    char data_field[64];
    snprintf(data_field, sizeof data_field, "%s-data", field);
    const char *data = json_string_value(json_object_get(inner, data_field));
    const char *path = json_string_value(json_object_get(inner, field));
    int rc;
    if (data && *data) {
        rc = cce_cert_parse(data, strlen(data), out, err);
    } else if (path && *path) {
        char *full = resolve_path(path, origin_file(kc, s, name));
        if (!full)
            return nomem(err);
        rc = cce_cert_parse_file(full, out, err);
        free(full);
    } else if (s == CCE_KC_USERS) {
        const char *how = json_object_get(inner, "exec")            ? "an exec plugin"
                          : json_object_get(inner, "auth-provider") ? "an auth-provider"
                          : json_object_get(inner, "token") || json_object_get(inner, "tokenFile") ? "a token"
                          : json_object_get(inner, "username")                                     ? "a password"
                                                                    : "no credentials";
        return cce_set_error(err, CCE_E_NO_CERT, 0, "user '%s' has no client certificate (it uses %s)", name, how);
    } else {
        return cce_set_error(err, CCE_E_NO_CERT, 0, "cluster '%s' has no certificate authority", name);
    }
    if (rc < 0 && err && err->message && strncmp(err->message, section_noun[s], strlen(section_noun[s])) != 0) {
        /* Say which entry the unreadable certificate belongs to. */
        char *m = err->message;
        err->message = NULL;
        char code[sizeof err->code];
        memcpy(code, err->code, sizeof code);
        cce_set_error_code(err, err->kind, code, 0, "%s '%s': %s", section_noun[s], name, m);
        free(m);
    }
    return rc;
}

int cce_kubeconfig_user_cert(const cce_kubeconfig *kc, const char *user, cce_cert_info *out, cce_error *err)
{
    return entry_cert(kc, CCE_KC_USERS, user, "client-certificate", out, err);
}

int cce_kubeconfig_cluster_ca(const cce_kubeconfig *kc, const char *cluster, cce_cert_info *out, cce_error *err)
{
    return entry_cert(kc, CCE_KC_CLUSTERS, cluster, "certificate-authority", out, err);
}

/* ---------------------------------------------------------- load & save */

static char *default_path(void)
{
    const char *home = getenv("HOME");
    cce_buf b = {0};
    cce_buf_printf(&b, "%s/.kube/config", home && *home ? home : ".");
    return cce_buf_steal(&b, NULL);
}

/*
 * The list of files to load: an explicit path, else $KUBECONFIG, else
 * ~/.kube/config.  Empty elements of $KUBECONFIG are skipped, as kubectl
 * does; one of only empty elements (":") gives no file, an empty config.
 * -1 when out of memory.
 */
static int file_list(const char *path, char ***out, size_t *count)
{
    char **list = NULL;
    size_t n = 0;
    int rc = 0;
    const char *env = path ? NULL : getenv("KUBECONFIG");
    if (path || !env || !*env) {
        list = calloc(1, sizeof *list);
        if (list && (list[0] = path ? strdup(path) : default_path()) != NULL)
            n = 1;
        else
            rc = -1;
    } else {
        char *dup = strdup(env), *save = NULL;
        if (!dup)
            rc = -1;
        for (char *tok = dup ? strtok_r(dup, ":", &save) : NULL; tok; tok = strtok_r(NULL, ":", &save)) {
            /* The same file twice (also through a symlink) would be locked twice by save(). */
            int seen = 0;
            char *real = realpath(tok, NULL);
            for (size_t i = 0; i < n && !seen; i++) {
                char *other = real ? realpath(list[i], NULL) : NULL;
                seen = strcmp(list[i], tok) == 0 || (other && strcmp(other, real) == 0);
                free(other);
            }
            free(real);
            if (seen)
                continue;
            char **t = realloc(list, (n + 1) * sizeof *list);
            if (!t || (t[n] = strdup(tok)) == NULL) {
                if (t)
                    list = t;
                rc = -1;
                break;
            }
            list = t;
            n++;
        }
        free(dup);
    }
    *out = list;
    *count = n;
    return rc;
}

/* The bytes of one file as read under the lock (or at load), and their digest. */
typedef struct file_bytes {
    cce_buf buf;
    int missing;
    unsigned char sha256[32];
} file_bytes;

static int read_bytes(const char *path, file_bytes *fb, cce_error *err)
{
    memset(fb, 0, sizeof *fb);
    if (cce_file_read(path, &fb->buf, &fb->missing, err) < 0)
        return -1;
    EVP_Digest(fb->buf.data ? fb->buf.data : "", fb->buf.len, fb->sha256, NULL, EVP_sha256(), NULL);
    return 0;
}

/*
 * A copy of a document that can be changed at the top level and in its
 * section lists without touching the original; entries stay shared.
 */
static json_t *doc_shallow_copy(json_t *doc)
{
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(doc, k, v) {
        json_t *c = is_section_key(k) ? json_copy(v) : json_incref(v);
        if (!out || !c || json_object_set_new(out, k, c) < 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

cce_kubeconfig *cce_kubeconfig_load(const char *path, cce_error *err)
{
    char **paths = NULL;
    size_t n = 0;
    if (file_list(path, &paths, &n) < 0) {
        for (size_t k = 0; k < n; k++)
            free(paths[k]);
        free(paths);
        nomem(err);
        return NULL;
    }
    if (n == 0) { /* KUBECONFIG of empty elements only: an empty config, as kubectl */
        free(paths);
        return cce_kubeconfig_from_json(json_object(), "KUBECONFIG", err);
    }
    cce_kubeconfig *kc = kc_alloc(json_object());
    struct kc_file *files = calloc(n, sizeof *files);
    json_t **docs = calloc(n, sizeof *docs);
    size_t i = 0;
    if (!kc || !files || !docs) {
        nomem(err);
    } else {
        for (; i < n; i++) {
            file_bytes fb;
            files[i].path = paths[i];
            paths[i] = NULL;
            if (read_bytes(files[i].path, &fb, err) < 0)
                break;
            docs[i] = files[i].doc = parse_doc(fb.buf.data ? fb.buf.data : "", fb.buf.len, files[i].path, err);
            memcpy(files[i].sha256, fb.sha256, sizeof fb.sha256);
            cce_buf_free(&fb.buf);
            if (!docs[i])
                break;
        }
    }
    if (kc && files && docs && i == n) {
        reset_from_docs(kc, docs, n);
        kc->files = files;
        kc->nfiles = n;
        free(docs);
        free(paths);
        return kc;
    }
    for (size_t k = 0; files && k < n; k++) {
        free(files[k].path);
        json_decref(files[k].doc);
    }
    for (size_t k = 0; k < n; k++)
        free(paths[k]);
    free(paths);
    free(files);
    free(docs);
    cce_kubeconfig_free(kc);
    return NULL;
}

/*
 * One file's document being rebased: the name index of each section, built
 * on first use, and how many entries were removed (left as JSON null until
 * doc_compact, so that no position in the index moves).
 */
typedef struct doc_edit {
    json_t *doc;
    json_t *ix[NSECT];
    size_t dead[NSECT];
} doc_edit;

static json_t *doc_index(doc_edit *d, int s)
{
    if (!d->ix[s]) {
        json_t *ix = json_object();
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(d->doc, section_key[s]), i, x) {
            const char *n = entry_name(x);
            if (ix && n && json_object_set_new(ix, n, json_integer((json_int_t)i)) < 0) {
                json_decref(ix);
                ix = NULL;
            }
        }
        d->ix[s] = ix;
    }
    return d->ix[s];
}

/*
 * Puts `e` into doc's section: replaces the entry of the same name, else the
 * one named `was` (a renamed entry keeps its place), else appends.
 */
static int doc_upsert(doc_edit *d, int s, json_t *e, const char *was)
{
    json_t *arr = json_object_get(d->doc, section_key[s]), *ix = doc_index(d, s);
    const char *name = entry_name(e);
    if (!ix)
        return -1;
    json_t *at = json_object_get(ix, name);
    if (at)
        return json_array_set(arr, (size_t)json_integer_value(at), e);
    if (was && (at = json_object_get(ix, was)) != NULL) {
        size_t i = (size_t)json_integer_value(at);
        if (json_object_set_new(ix, name, json_integer((json_int_t)i)) < 0)
            return -1;
        json_object_del(ix, was); /* before the entry holding the name `was` is replaced */
        return json_array_set(arr, i, e);
    }
    if (json_array_append(arr, e) < 0)
        return -1;
    return json_object_set_new(ix, name, json_integer((json_int_t)json_array_size(arr) - 1));
}

static int doc_remove(doc_edit *d, int s, const char *name)
{
    json_t *arr = json_object_get(d->doc, section_key[s]), *ix = doc_index(d, s);
    if (!ix)
        return -1;
    json_t *at = json_object_get(ix, name);
    if (!at)
        return 0; /* gone already, or a renamed entry took its place */
    size_t i = (size_t)json_integer_value(at);
    json_object_del(ix, name);
    d->dead[s]++;
    return json_array_set(arr, i, json_null());
}

/* Drops the removed entries' places, keeping the order; frees the indexes. */
static int doc_compact(doc_edit *d)
{
    int rc = 0;
    for (int s = 0; s < NSECT; s++) {
        json_decref(d->ix[s]);
        d->ix[s] = NULL;
        if (!d->dead[s])
            continue;
        json_t *live = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(d->doc, section_key[s]), i, x) {
            if (!json_is_null(x) && json_array_append(live, x) < 0)
                rc = -1;
        }
        if (!live || json_object_set_new(d->doc, section_key[s], live) < 0)
            rc = -1;
        d->dead[s] = 0;
    }
    return rc;
}

static long origin_index(const cce_kubeconfig *kc, int s, const char *name)
{
    json_t *o = kc->origin[s] ? json_object_get(kc->origin[s], name) : NULL;
    return o ? (long)json_integer_value(o) : -1;
}

/*
 * Applies this object's changes to d's document, the fresh content of file
 * number `f` among kc->files.  `dest` is the file that gets new entries and
 * top-level changes.  Returns how many changes were applied, -1 when out of
 * memory.  O(entries): unchanged entries are the very json_t of the snapshot.
 */
static long apply_changes(const cce_kubeconfig *kc, doc_edit *d, long f, long dest, long cur_file)
{
    long changes = 0;
    json_t *doc = d->doc;
    for (int s = 0; s < NSECT; s++) {
        const char *name;
        json_t *old;
        /* Renamed entries first, so each takes the place of its old name. */
        size_t i;
        json_t *e;
        json_array_foreach(sect(kc, s), i, e) {
            name = entry_name(e);
            old = json_object_get(kc->snap[s], name);
            if (old && (old == e || json_equal(old, e)))
                continue;
            long o = origin_index(kc, s, name);
            if ((o >= 0 ? o : dest) != f)
                continue;
            const char *was = kc->renamed[s] ? json_string_value(json_object_get(kc->renamed[s], name)) : NULL;
            if (doc_upsert(d, s, e, was && find_raw(kc, s, was) < 0 ? was : NULL) < 0)
                return -1;
            changes++;
        }
        json_object_foreach(kc->snap[s], name, old) {
            if (find_raw(kc, s, name) < 0 && origin_index(kc, s, name) == f) {
                if (doc_remove(d, s, name) < 0) /* a no-op when a renamed entry took its place */
                    return -1;
                changes++;
            }
        }
    }
    const char *k;
    json_t *v;
    json_object_foreach(kc->root, k, v) {
        if (is_section_key(k))
            continue;
        json_t *was = json_object_get(kc->snap_top, k);
        long owner = strcmp(k, "current-context") == 0 ? cur_file : dest;
        if (owner == f && !(was && json_equal(was, v))) {
            json_object_set(doc, k, v);
            changes++;
        }
    }
    json_object_foreach(kc->snap_top, k, v) {
        long owner = strcmp(k, "current-context") == 0 ? cur_file : dest;
        if (owner == f && !json_object_get(kc->root, k)) {
            json_object_del(doc, k);
            changes++;
        }
    }
    return changes;
}

/* Adds every entry of kc to d's document (a file kc was not loaded from); never removes. */
static int apply_all(const cce_kubeconfig *kc, doc_edit *d)
{
    for (int s = 0; s < NSECT; s++) {
        size_t i;
        json_t *e;
        json_array_foreach(sect(kc, s), i, e) {
            if (doc_upsert(d, s, e, NULL) < 0)
                return -1;
        }
    }
    const char *k;
    json_t *v;
    json_object_foreach(kc->root, k, v) {
        if (is_section_key(k))
            continue;
        json_t *have = json_object_get(d->doc, k);
        int empty = !have || json_is_null(have) || (json_is_string(have) && !*json_string_value(have)) ||
                    (json_is_object(have) && json_object_size(have) == 0);
        if (empty)
            json_object_set(d->doc, k, v);
    }
    return 0;
}

/* Whether a document holds a private key, which makes its file private too. */
static int holds_private_key(json_t *doc)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "users"), i, e) {
        json_t *u = json_object_get(e, "user");
        const char *key = json_string_value(json_object_get(u, "client-key-data"));
        if (key && *key)
            return 1;
    }
    return 0;
}

static void notify(const cce_save_opts *opts, const char *fmt, ...) CCE_PRINTF(2, 3);
static void notify(const cce_save_opts *opts, const char *fmt, ...)
{
    if (!opts || !opts->notice)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!text)
        return;
    va_start(ap, fmt);
    vsnprintf(text, (size_t)n + 1, fmt, ap);
    va_end(ap);
    opts->notice(opts->notice_ud, text);
    free(text);
}

/*
 * Writes doc as YAML; digest gets the SHA-256 of the bytes written.  A file
 * that holds a private key is made unreadable to group and others, saying so.
 */
static int write_doc(const char *path, json_t *doc, unsigned char digest[32], const cce_save_opts *opts,
                     cce_error *err)
{
    cce_buf b = {0};
    if (cce_yaml_dump(doc, &b) < 0) {
        cce_buf_free(&b);
        return nomem(err);
    }
    unsigned clear = holds_private_key(doc) ? 077 : 0, before = 0;
    int rc = cce_file_write_atomic_mode(path, b.data, b.len, 0600, clear, &before, err);
    if (rc == 0)
        EVP_Digest(b.data, b.len, digest, NULL, EVP_sha256(), NULL);
    cce_buf_free(&b);
    if (rc == 0 && (before & clear))
        notify(opts,
               "%s holds private keys but was readable by %s (mode %04o): its mode is now %04o", path,
               (before & 07) ? "everyone" : "its group", before & 07777, before & 07777 & ~clear);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether the object differs from what its files held (cheap: unchanged entries are shared). */
static int has_changes(const cce_kubeconfig *kc)
{
    for (int s = 0; s < NSECT; s++) {
        if (!kc->snap[s] || json_object_size(kc->snap[s]) != json_array_size(sect(kc, s)))
            return 1;
        size_t i;
        json_t *e;
        json_array_foreach(sect(kc, s), i, e) {
            json_t *old = json_object_get(kc->snap[s], entry_name(e));
            if (!old || (old != e && !json_equal(old, e)))
                return 1;
        }
    }
    size_t top = 0;
    const char *k;
    json_t *v;
    json_object_foreach(kc->root, k, v) {
        if (is_section_key(k))
            continue;
        json_t *was = json_object_get(kc->snap_top, k);
        if (!was || !json_equal(was, v))
            return 1;
        top++;
    }
    return top != json_object_size(kc->snap_top);
}

/*
 * One save, in its phases: plan (which files, anything to do?), lock,
 * reread, rebase (apply this object's changes to what is on disk now),
 * write (serialise and replace each changed file), commit (the object now
 * shows the files as saved).
 */
typedef struct save_job {
    cce_kubeconfig *kc;
    const char *path;
    const cce_save_opts *opts;
    long timeout;
    int overwrite;
    long own;          /* path is this object's only file: its index (0), else -1 */
    int own_files;     /* rebase onto the files this object was loaded from */
    size_t n;          /* files to save */
    const char **targets;
    char **order;      /* targets in lock order */
    cce_lock **locks;
    doc_edit *docs;
    long *changes;
    file_bytes *fbs;
} save_job;

static void save_job_free(save_job *j)
{
    for (size_t i = 0; j->locks && i < j->n; i++)
        cce_lock_release(j->locks[i]);
    for (size_t i = 0; j->docs && i < j->n; i++) {
        json_decref(j->docs[i].doc);
        for (int s = 0; s < NSECT; s++)
            json_decref(j->docs[i].ix[s]);
    }
    for (size_t i = 0; j->fbs && i < j->n; i++)
        cce_buf_free(&j->fbs[i].buf);
    free(j->fbs);
    free(j->changes);
    free(j->docs);
    free(j->locks);
    free(j->order);
    free(j->targets);
}

/* Which files, and whether there is anything to do: 1 = nothing, 0 = go on, -1 = error. */
static int save_plan(save_job *j, cce_error *err)
{
    cce_kubeconfig *kc = j->kc;
    j->own = -1;
    if (j->path) {
        for (size_t i = 0; i < kc->nfiles; i++)
            if (strcmp(kc->files[i].path, j->path) == 0)
                j->own = (long)i;
        if (j->own >= 0 && kc->nfiles > 1)
            j->own = -1; /* one file of several: treat it as a new target */
    } else if (kc->nfiles == 0) {
        return cce_set_error(err, CCE_E_INVALID_ARGUMENT, 0, "this kubeconfig was not loaded from a file: give save() a path");
    }
    j->own_files = !j->overwrite && (!j->path || j->own >= 0);
    compact(kc); /* the rebase walks the sections as lists */
    if (j->own_files && !has_changes(kc))
        return 1;
    j->n = j->path ? 1 : kc->nfiles;
    j->targets = malloc(j->n * sizeof *j->targets);
    j->order = malloc(j->n * sizeof *j->order);
    j->locks = calloc(j->n, sizeof *j->locks);
    j->docs = calloc(j->n, sizeof *j->docs);
    j->changes = calloc(j->n, sizeof *j->changes);
    j->fbs = calloc(j->n, sizeof *j->fbs);
    if (!j->targets || !j->order || !j->locks || !j->docs || !j->changes || !j->fbs)
        return nomem(err);
    for (size_t i = 0; i < j->n; i++)
        j->order[i] = (char *)(j->targets[i] = j->path ? j->path : kc->files[i].path);
    return 0;
}

/* Creates a target's missing directory (0700), as kubectl creates ~/.kube. */
static int ensure_dir(const char *target, const cce_save_opts *opts, cce_error *err)
{
    char *dup = strdup(target);
    if (!dup)
        return nomem(err);
    char *dir = dirname(dup);
    struct stat st;
    int rc = 0;
    if (stat(dir, &st) < 0 && errno == ENOENT) {
        if ((rc = cce_dir_create(dir, 0700, err)) == 0)
            notify(opts, "created directory %s (mode 0700) for %s", dir, target);
    }
    free(dup);
    return rc;
}

static int save_lock(save_job *j, cce_error *err)
{
    /* A fixed order, so two savers of the same files cannot deadlock. */
    qsort(j->order, j->n, sizeof *j->order, cmp_str);
    for (size_t i = 0; i < j->n; i++) {
        if (ensure_dir(j->order[i], j->opts, err) < 0)
            return -1;
        if ((j->locks[i] = cce_lock_acquire(j->order[i], j->timeout, err)) == NULL)
            return -1;
        cce_file_clean_stale(j->order[i]); /* what a writer killed mid-save left behind */
    }
    return 0;
}

/* Reads every target again, now that nobody else can write it. */
static int save_reread(save_job *j, cce_error *err)
{
    cce_kubeconfig *kc = j->kc;
    for (size_t i = 0; i < j->n; i++) {
        file_bytes *fb = &j->fbs[i];
        if (read_bytes(j->targets[i], fb, err) < 0)
            return -1;
        long fi = j->path ? j->own : (long)i;
        int parsed = 0;
        json_t *doc;
        if (j->overwrite)
            doc = doc_shallow_copy(kc->root);
        else if (fi >= 0 && memcmp(fb->sha256, kc->files[fi].sha256, 32) == 0)
            doc = doc_shallow_copy(kc->files[fi].doc); /* unchanged since we read it: no new parse */
        else
            parsed = 1, doc = parse_doc(fb->buf.data ? fb->buf.data : "", fb->buf.len, j->targets[i], err);
        cce_buf_free(&fb->buf);
        if (!doc)
            return parsed ? -1 : nomem(err);
        j->docs[i].doc = doc;
    }
    return 0;
}

/* Applies this object's changes to the documents just read. */
static int save_rebase(save_job *j, cce_error *err)
{
    cce_kubeconfig *kc = j->kc;
    if (j->overwrite) {
        j->changes[0] = 1;
        return 0;
    }
    if (!j->own_files) {
        j->changes[0] = 1;
        if (apply_all(kc, &j->docs[0]) < 0 || doc_compact(&j->docs[0]) < 0)
            return nomem(err);
        return 0;
    }
    /* New entries go to the first file that exists, as kubectl does; else the first. */
    long dest = 0, cur_file = -1;
    for (size_t i = 0; i < j->n; i++)
        if (!j->fbs[i].missing) {
            dest = (long)i;
            break;
        }
    /* current-context lives in the first file that sets it. */
    for (size_t i = 0; i < j->n && cur_file < 0; i++) {
        const char *c = json_string_value(json_object_get(j->docs[i].doc, "current-context"));
        if (c && *c)
            cur_file = (long)i;
    }
    if (cur_file < 0)
        cur_file = dest;
    for (size_t i = 0; i < j->n; i++) {
        j->changes[i] = apply_changes(kc, &j->docs[i], j->path ? j->own : (long)i, dest, cur_file);
        if (j->changes[i] < 0 || doc_compact(&j->docs[i]) < 0)
            return nomem(err);
    }
    return 0;
}

/* Serialises and replaces each file that changed. */
static int save_write(save_job *j, size_t *written, cce_error *err)
{
    for (size_t i = 0; i < j->n; i++) {
        if (!j->changes[i])
            continue;
        if (write_doc(j->targets[i], j->docs[i].doc, j->fbs[i].sha256, j->opts, err) < 0)
            return -1;
        j->fbs[i].missing = 0;
        if (written)
            (*written)++;
    }
    return 0;
}

/* The object now shows the files as they are. */
static int save_commit(save_job *j, cce_error *err)
{
    cce_kubeconfig *kc = j->kc;
    struct kc_file *files = calloc(j->n, sizeof *files);
    json_t **docs = calloc(j->n, sizeof *docs);
    for (size_t i = 0; files && docs && i < j->n; i++) {
        if ((files[i].path = strdup(j->targets[i])) == NULL) {
            for (size_t k = 0; k < i; k++) {
                free(files[k].path);
                json_decref(files[k].doc);
            }
            free(files);
            files = NULL;
            break;
        }
        docs[i] = files[i].doc = json_incref(j->docs[i].doc);
        memcpy(files[i].sha256, j->fbs[i].sha256, 32);
    }
    if (!files || !docs) {
        free(files);
        free(docs);
        return nomem(err);
    }
    reset_from_docs(kc, docs, j->n);
    free(docs);
    free_files(kc);
    kc->files = files;
    kc->nfiles = j->n;
    return 0;
}

int cce_kubeconfig_save(cce_kubeconfig *kc, const char *path, const cce_save_opts *opts, size_t *written, cce_error *err)
{
    save_job j = {0};
    j.kc = kc;
    j.path = path;
    j.opts = opts;
    j.timeout = opts && opts->lock_timeout_ms > 0 ? opts->lock_timeout_ms : 10000;
    j.overwrite = opts && opts->overwrite;
    if (written)
        *written = 0;
    int rc = save_plan(&j, err);
    if (rc == 0)
        rc = save_lock(&j, err) < 0 || save_reread(&j, err) < 0 || save_rebase(&j, err) < 0 ||
                     save_write(&j, written, err) < 0 || save_commit(&j, err) < 0
                 ? -1
                 : 0;
    else if (rc > 0)
        rc = 0; /* nothing changed: nothing to lock, read or write */
    save_job_free(&j);
    return rc;
}
