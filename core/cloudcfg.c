/*
 * cloudcfg.c - the clouds.yaml + secure.yaml reader (see cloudcfg.h).
 *
 * These files hold passwords and keys, so: every message is made from names
 * (files, the cloud, keys), never from values, including the YAML reader's
 * own messages, which may quote a scalar; and the file text and the parsed
 * tree are wiped before they are freed, as the strings handed out are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <yaml.h>

#include "cloudcfg.h"
#include "internal.h"

/* The cloud's entry in one file: the secure file's (merged over) and the clouds file's. */
typedef struct cloud_src {
    json_t *entry; /* borrowed from the file's tree; NULL when the file has no such entry */
    json_t *auth;  /* entry's auth: mapping, borrowed; NULL when absent */
    json_t *raw;   /* "0key" / "1key" (auth:) -> a number's text as written (raw_numbers), borrowed */
    const char *file;
} cloud_src;

typedef struct cloud_ctx {
    const char *name;
    cloud_src src[2]; /* [0] secure, [1] clouds: the first that has a key wins */
    cce_error *err;
} cloud_ctx;

/* ------------------------------------------------------------ clean-up */

static void free_secret(char **p)
{
    if (*p) {
        OPENSSL_cleanse(*p, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

void cce_cloud_clear(cce_cloud *c)
{
    if (!c)
        return;
    char **all[] = {&c->file,     &c->secure_file,      &c->auth_url,     &c->username,  &c->user_id,
                    &c->password, &c->user_domain_name, &c->passcode,     &c->project_name,
                    &c->project_id, &c->token,          &c->ak,           &c->sk,        &c->security_token,
                    &c->region,   &c->cacert,           &c->cce_endpoint};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        free_secret(all[i]);
    memset(c, 0, sizeof *c);
    c->verify = -1;
}

/*
 * jansson frees its strings without wiping them; the tree is ours alone (a
 * fresh parse), so its string values are wiped in place before the decref.
 */
static void wipe_tree(json_t *v, int depth)
{
    if (!v || depth > CCE_YAML_MAX_DEPTH + 1)
        return;
    if (json_is_string(v)) {
        OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
    } else if (json_is_object(v)) {
        const char *k;
        json_t *e;
        json_object_foreach(v, k, e) wipe_tree(e, depth + 1);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) wipe_tree(e, depth + 1);
    }
}

static void free_tree(json_t *v)
{
    wipe_tree(v, 0);
    json_decref(v);
}

static void free_text(cce_buf *b)
{
    if (b->data)
        OPENSSL_cleanse(b->data, b->len);
    cce_buf_free(b);
}

/* ------------------------------------------------------------- parsing */

/*
 * The YAML reader's message ("<source>:<line>:<col>: <problem>") without the
 * scalar values it may quote ("1e999" is a float JSON cannot hold, cannot
 * decode "x" as !!int): such a scalar may be a password.  The keys of
 * "duplicate key" and anchor names of "unknown alias" are names and stay.
 */
static void hide_values(const char *msg, const char *source, cce_buf *out)
{
    size_t i = 0, n = strlen(msg), sl = strlen(source);
    if (strncmp(msg, source, sl) == 0) {
        cce_buf_append(out, msg, sl);
        i = sl;
    }
    while (i < n) {
        if (msg[i] != '"') {
            cce_buf_append(out, msg + i, 1);
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < n && msg[j] != '"')
            j += msg[j] == '\\' && j + 1 < n ? 2 : 1;
        size_t end = j < n ? j + 1 : n;
        const char *keep[] = {"duplicate key ", "unknown alias "};
        int named = 0;
        for (size_t k = 0; k < 2; k++) {
            size_t kl = strlen(keep[k]);
            named |= i >= kl && strncmp(msg + i - kl, keep[k], kl) == 0;
        }
        if (named)
            cce_buf_append(out, msg + i, end - i);
        else
            cce_buf_puts(out, "a value");
        i = end;
    }
}

static json_t *parse_file(const char *text, size_t n, const char *file, const char *name, cce_error *err)
{
    cce_error perr = {0};
    json_t *root = cce_yaml_load(text, n, file, &perr);
    if (!root) {
        if (perr.kind == CCE_E_NOMEM) {
            cce_set_error(err, CCE_E_NOMEM, 0, "cloud '%s': out of memory reading %s", name, file);
        } else {
            cce_buf b = {0};
            hide_values(perr.message ? perr.message : "cannot be parsed", file, &b);
            cce_set_error(err, CCE_E_CONFIG, 0, "cloud '%s': %s", name, b.data ? b.data : file);
            cce_buf_free(&b);
        }
    }
    cce_error_clear(&perr);
    return root;
}

/* "a, b, c" of the mapping's keys in byte order, or "none". */
static void key_list(json_t *obj, cce_buf *out)
{
    size_t n = json_object_size(obj), k = 0;
    const char **keys = n ? malloc(n * sizeof *keys) : NULL;
    const char *key;
    json_t *v;
    if (keys) {
        json_object_foreach(obj, key, v) keys[k++] = key;
        for (size_t i = 1; i < k; i++) /* insertion sort: a handful of clouds */
            for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
                const char *t = keys[j];
                keys[j] = keys[j - 1];
                keys[j - 1] = t;
            }
    }
    for (size_t i = 0; i < k; i++)
        cce_buf_printf(out, "%s%s", i ? ", " : "", keys[i]);
    if (!k)
        cce_buf_puts(out, "none");
    free(keys);
}

/*
 * The key a plain `name:` becomes in the tree: the YAML reader reads mapping
 * keys as YAML 1.1 (and kubectl) do, so a cloud called `no` or `on` is the
 * key "false" or "true".  NULL when the name is not such a spelling.
 */
static const char *bool_key(const char *name)
{
    static const char *const t[] = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
    static const char *const f[] = {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        if (strcmp(name, t[i]) == 0)
            return "true";
        if (strcmp(name, f[i]) == 0)
            return "false";
    }
    return NULL;
}

/*
 * The entry `name` of one file's tree into *src.  The clouds file must have
 * it; the secure file may lack it, or lack `clouds:` altogether.
 */
static int find_entry(json_t *root, const char *file, int secure, const char *name, cloud_src *src, cce_error *err)
{
    src->file = file;
    src->entry = src->auth = NULL;
    if (json_is_null(root) && secure)
        return 0;
    if (!json_is_object(root))
        return cce_set_error(err, CCE_E_CONFIG, 0, "cloud '%s': %s is not a mapping with a 'clouds' key", name, file);
    json_t *clouds = json_object_get(root, "clouds");
    if (!clouds && secure)
        return 0;
    if (!clouds)
        return cce_set_error(err, CCE_E_CONFIG, 0, "cloud '%s': %s has no 'clouds' mapping", name, file);
    if (!json_is_object(clouds))
        return cce_set_error(err, CCE_E_CONFIG, 0, "cloud '%s': 'clouds' in %s is not a mapping", name, file);
    json_t *entry = json_object_get(clouds, name);
    if (!entry && bool_key(name))
        entry = json_object_get(clouds, bool_key(name));
    if (!entry && !secure) {
        cce_buf b = {0};
        key_list(clouds, &b);
        cce_set_error(err, CCE_E_CONFIG, 0, "cloud '%s' is not in %s (it has: %s)", name, file,
                      b.data ? b.data : "?");
        cce_buf_free(&b);
        return -1;
    }
    if (!entry || json_is_null(entry)) /* `otc:` with nothing under it: an empty entry */
        return 0;
    if (!json_is_object(entry))
        return cce_set_error(err, CCE_E_CONFIG, 0, "%s: cloud '%s' is not a mapping", file, name);
    src->entry = entry;
    json_t *auth = json_object_get(entry, "auth");
    if (auth && !json_is_null(auth) && !json_is_object(auth))
        return cce_set_error(err, CCE_E_CONFIG, 0, "%s: cloud '%s': auth must be a mapping", file, name);
    src->auth = json_is_object(auth) ? auth : NULL;
    return 0;
}

/*
 * The text of the entry's plain scalars as written, for the keys where the
 * YAML reader made a number: a password 0123 is "0123", not octal 83, and a
 * 32-digit project id keeps its digits, which a double would not.  A second,
 * event-level pass over the text (already known to parse) that follows the
 * paths clouds.NAME.KEY and clouds.NAME.auth.KEY; anything it cannot follow
 * (an alias, a key spelt unlike its text: `yes:` is "true") falls back to the number's text.
 */
typedef struct raw_frame {
    int is_map, want_key;
    char *key; /* the current key of a mapping, NULL when not a plain text */
} raw_frame;

static void raw_consumed(raw_frame *f, const char *key)
{
    if (!f->is_map)
        return;
    if (f->want_key) {
        free(f->key);
        f->key = key ? cce_strdup(key) : NULL;
        f->want_key = 0;
    } else {
        f->want_key = 1;
    }
}

static json_t *raw_numbers(const char *text, size_t n, const char *name)
{
    json_t *raw = json_object();
    yaml_parser_t p;
    if (!raw || !yaml_parser_initialize(&p))
        return raw;
    yaml_parser_set_input_string(&p, (const unsigned char *)text, n);
    raw_frame st[5];
    size_t depth = 0, extra = 0; /* extra: collections nested below what is followed */
    for (int done = 0; !done;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev))
            break;
        raw_frame *top = depth && !extra ? &st[depth - 1] : NULL;
        switch (ev.type) {
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            if (extra || depth == sizeof st / sizeof *st) {
                extra++;
            } else {
                st[depth].is_map = ev.type == YAML_MAPPING_START_EVENT;
                st[depth].want_key = 1;
                st[depth++].key = NULL;
            }
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            if (extra) {
                extra--;
            } else if (depth) {
                free(st[--depth].key);
                if (depth)
                    raw_consumed(&st[depth - 1], NULL);
            }
            break;
        case YAML_SCALAR_EVENT: {
            const char *v = (const char *)ev.data.scalar.value;
            int plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
            if (top && top->is_map && !top->want_key && plain && (depth == 3 || depth == 4) && st[0].key &&
                strcmp(st[0].key, "clouds") == 0 && st[1].key && strcmp(st[1].key, name) == 0 && st[2].key &&
                (depth == 3 || strcmp(st[2].key, "auth") == 0) && st[depth - 1].key) {
                char path[300];
                /* "1" auth's, "0" the top level's: a top-level key "auth.x" is not auth: x */
                snprintf(path, sizeof path, "%c%s", depth == 4 ? '1' : '0', st[depth - 1].key);
                json_object_set_new(raw, path, json_string(v));
            }
            if (top)
                raw_consumed(top, v); /* a key is its text, quoted or not */
            break;
        }
        case YAML_ALIAS_EVENT:
            if (top)
                raw_consumed(top, NULL);
            break;
        case YAML_DOCUMENT_END_EVENT:
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    while (depth)
        free(st[--depth].key);
    yaml_parser_delete(&p);
    return raw;
}

/* The merged value of `key` (under auth: when in_auth), and the file it comes from; NULL when absent. */
static json_t *lookup(const cloud_ctx *x, int in_auth, const char *key, const char **from, json_t **raw)
{
    for (int i = 0; i < 2; i++) {
        json_t *m = in_auth ? x->src[i].auth : x->src[i].entry;
        json_t *v = m ? json_object_get(m, key) : NULL;
        /*
         * Merged key by key: the secure file's auth: replaces only the keys
         * it has, and a secure file whose auth: is absent or null has none.
         */
        if (v) {
            *from = x->src[i].file;
            if (raw)
                *raw = x->src[i].raw;
            return v;
        }
    }
    return NULL;
}

/* A number's text: integers exactly, other numbers in the shortest form that reads back the same. */
static void number_text(json_t *v, char *out, size_t cap)
{
    if (json_is_integer(v)) {
        snprintf(out, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return;
    }
    double d = json_real_value(v);
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, cap, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            return;
    }
}

/* Reads one string-valued key into *dst unless *dst is already set by a key that wins. */
static int read_string(const cloud_ctx *x, int in_auth, const char *key, char **dst)
{
    const char *from = NULL;
    json_t *raw = NULL;
    json_t *v = lookup(x, in_auth, key, &from, &raw);
    if (!v || json_is_null(v))
        return 0;
    char num[64];
    const char *s;
    size_t len;
    if (json_is_string(v)) {
        s = json_string_value(v);
        len = json_string_length(v);
        if (strlen(s) != len)
            return cce_set_error(x->err, CCE_E_CONFIG, 0, "%s: cloud '%s': %s%s contains a NUL byte", from, x->name,
                                 in_auth ? "auth." : "", key);
    } else if (json_is_number(v)) {
        char path[300];
        snprintf(path, sizeof path, "%c%s", in_auth ? '1' : '0', key);
        const char *as_written = json_string_value(json_object_get(raw, path));
        if (as_written) {
            s = as_written;
        } else {
            number_text(v, num, sizeof num);
            s = num;
        }
        len = strlen(s);
    } else {
        return cce_set_error(x->err, CCE_E_CONFIG, 0, "%s: cloud '%s': %s%s must be a string", from, x->name,
                             in_auth ? "auth." : "", key);
    }
    if (len && !*dst && !(*dst = cce_strdup(s)))
        return cce_set_error(x->err, CCE_E_NOMEM, 0, "cloud '%s': out of memory", x->name);
    OPENSSL_cleanse(num, sizeof num);
    return 0;
}

#define FIELD(f) offsetof(cce_cloud, f)
/*
 * In order of precedence: of the keys that fill one field, the first that is
 * set wins.  Every key is type-checked even when an earlier one won, so that
 * a mistake is reported rather than silently shadowed.
 */
static const struct {
    int in_auth;
    const char *key;
    size_t field;
} string_keys[] = {
    {1, "auth_url", FIELD(auth_url)},
    {1, "username", FIELD(username)},
    {1, "user_id", FIELD(user_id)},
    {1, "password", FIELD(password)},
    {1, "user_domain_name", FIELD(user_domain_name)},
    {1, "domain_name", FIELD(user_domain_name)},
    {1, "passcode", FIELD(passcode)},
    {1, "project_name", FIELD(project_name)},
    {1, "project_id", FIELD(project_id)},
    {1, "token", FIELD(token)},
    {1, "ak", FIELD(ak)},
    {1, "access_key", FIELD(ak)},
    {0, "ak", FIELD(ak)},
    {0, "access_key", FIELD(ak)},
    {1, "sk", FIELD(sk)},
    {1, "secret_key", FIELD(sk)},
    {0, "sk", FIELD(sk)},
    {0, "secret_key", FIELD(sk)},
    {1, "security_token", FIELD(security_token)},
    {0, "security_token", FIELD(security_token)},
    {0, "region_name", FIELD(region)},
    {0, "cacert", FIELD(cacert)},
    {0, "cce_endpoint_override", FIELD(cce_endpoint)},
};

static int read_entry(const cloud_ctx *x, cce_cloud *out)
{
    for (size_t i = 0; i < sizeof string_keys / sizeof *string_keys; i++) {
        char **dst = (char **)((char *)out + string_keys[i].field);
        if (read_string(x, string_keys[i].in_auth, string_keys[i].key, dst) < 0)
            return -1;
    }
    const char *from = NULL;
    json_t *v = lookup(x, 0, "verify", &from, NULL);
    if (v && json_is_boolean(v))
        out->verify = json_is_true(v);
    else if (v && !json_is_null(v))
        return cce_set_error(x->err, CCE_E_CONFIG, 0, "%s: cloud '%s': verify must be true or false", from, x->name);
    return 0;
}

int cce_cloud_parse(const char *clouds_text, size_t n, const char *clouds_file, const char *secure_text, size_t sn,
                    const char *secure_file, const char *name, cce_cloud *out, cce_error *err)
{
    memset(out, 0, sizeof *out);
    out->verify = -1;
    if (!name || !*name)
        return cce_set_error(err, CCE_E_CONFIG, 0, "no cloud name given");
    if (!clouds_file)
        clouds_file = "clouds.yaml";
    if (!secure_file)
        secure_file = "secure.yaml";
    cloud_ctx x = {.name = name, .err = err};
    json_t *croot = NULL, *sroot = NULL, *craw = NULL, *sraw = NULL;
    int rc = -1;
    if (!(croot = parse_file(clouds_text, n, clouds_file, name, err)))
        goto done;
    if (find_entry(croot, clouds_file, 0, name, &x.src[1], err) < 0)
        goto done;
    x.src[1].raw = craw = raw_numbers(clouds_text, n, name);
    if (secure_text) {
        if (!(sroot = parse_file(secure_text, sn, secure_file, name, err)))
            goto done;
        if (find_entry(sroot, secure_file, 1, name, &x.src[0], err) < 0)
            goto done;
        x.src[0].raw = sraw = raw_numbers(secure_text, sn, name);
    }
    if (read_entry(&x, out) < 0)
        goto done;
    if (!(out->file = cce_strdup(clouds_file)) ||
        (x.src[0].entry && !(out->secure_file = cce_strdup(secure_file)))) {
        cce_set_error(err, CCE_E_NOMEM, 0, "cloud '%s': out of memory", name);
        goto done;
    }
    rc = 0;
done:
    if (rc < 0)
        cce_cloud_clear(out);
    free_tree(croot);
    free_tree(sroot);
    free_tree(craw);
    free_tree(sraw);
    return rc;
}

/* ------------------------------------------------------------- finding */

/* The places searched, in order, each as a directory prefix ("./", ".../openstack/"). */
static int search_dirs(cce_buf dirs[3], size_t *n)
{
    *n = 0;
    cce_buf_puts(&dirs[(*n)++], "./");
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (xdg && *xdg)
        cce_buf_printf(&dirs[(*n)++], "%s/openstack/", xdg);
    else if (home && *home)
        cce_buf_printf(&dirs[(*n)++], "%s/.config/openstack/", home);
    cce_buf_puts(&dirs[(*n)++], "/etc/openstack/");
    for (size_t i = 0; i < *n; i++)
        if (!dirs[i].data)
            return -1;
    return 0;
}

/*
 * The first existing file of $env, else <dir><base>.{yaml,yml,json} over the
 * search places: 1 with *path and *text set, 0 when none exists (`looked`
 * gets the list), -1 on error.  A set $env must name an existing file.
 */
static int find_file(const char *env, const char *base, const char *name, char **path, cce_buf *text,
                     cce_buf *looked, cce_error *err)
{
    static const char *const exts[] = {"yaml", "yml", "json"};
    cce_buf dirs[3] = {{0}};
    size_t nd = 0;
    int rc = 0;
    const char *ev = getenv(env);
    size_t ncand = ev && *ev ? 1 : 0;
    if (search_dirs(dirs, &nd) < 0) {
        rc = cce_set_error(err, CCE_E_NOMEM, 0, "cloud '%s': out of memory", name);
        goto done;
    }
    if (!ncand)
        ncand = nd * 3;
    for (size_t i = 0; i < ncand && rc == 0; i++) {
        cce_buf p = {0};
        if (ev && *ev)
            cce_buf_puts(&p, ev);
        else
            cce_buf_printf(&p, "%s%s.%s", dirs[i / 3].data, base, exts[i % 3]);
        if (!p.data) {
            rc = cce_set_error(err, CCE_E_NOMEM, 0, "cloud '%s': out of memory", name);
            break;
        }
        int missing = 0;
        cce_error ferr = {0};
        if (cce_file_read(p.data, text, &missing, &ferr) < 0) {
            rc = cce_set_error(err, ferr.kind == CCE_E_NOMEM ? CCE_E_NOMEM : CCE_E_CONFIG, 0, "cloud '%s': %s", name,
                               ferr.message ? ferr.message : p.data);
        } else if (missing && ev && *ev) {
            rc = cce_set_error(err, CCE_E_CONFIG, 0, "cloud '%s': %s=%s does not exist", name, env, p.data);
        } else if (missing) {
            cce_buf_printf(looked, "%s%s", looked->len ? ", " : "", p.data);
        } else {
            *path = cce_buf_steal(&p, NULL);
            rc = 1;
        }
        cce_error_clear(&ferr);
        cce_buf_free(&p);
    }
done:
    for (size_t i = 0; i < 3; i++)
        cce_buf_free(&dirs[i]);
    return rc;
}

int cce_cloud_load(const char *name, cce_cloud *out, cce_error *err)
{
    memset(out, 0, sizeof *out);
    out->verify = -1;
    if (!name || !*name)
        return cce_set_error(err, CCE_E_CONFIG, 0, "no cloud name given");
    char *cpath = NULL, *spath = NULL;
    cce_buf ctext = {0}, stext = {0}, looked = {0};
    int rc = -1;
    int found = find_file("OS_CLIENT_CONFIG_FILE", "clouds", name, &cpath, &ctext, &looked, err);
    if (found == 0)
        cce_set_error(err, CCE_E_CONFIG, 0, "cloud '%s': no clouds.yaml found (looked in: %s)", name,
                      looked.data ? looked.data : "nowhere");
    if (found <= 0)
        goto done;
    cce_buf_free(&looked);
    found = find_file("OS_CLIENT_SECURE_FILE", "secure", name, &spath, &stext, &looked, err);
    if (found < 0)
        goto done;
    rc = cce_cloud_parse(ctext.data ? ctext.data : "", ctext.len, cpath, found ? (stext.data ? stext.data : "") : NULL,
                         stext.len, spath, name, out, err);
done:
    free_text(&ctext);
    free_text(&stext);
    cce_buf_free(&looked);
    free(cpath);
    free(spath);
    return rc;
}
