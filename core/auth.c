/*
 * auth.c - who the client is and how it proves it.
 *
 * - Resolution: the options, a clouds.yaml entry (cloudcfg.c) and the OS_*
 *   variables, in that order of precedence, into one set of credentials.
 * - IAM password (+ virtual MFA) login, lazily at the first request, with a
 *   token cache on disk so that a second run makes no IAM request.
 * - AK/SK: the headers of every request signed when it is sent (sign.c).
 * - Project names resolved to ids; the projects the credentials can use.
 *
 * Secrets (password, passcode, SK, security token, tokens) live in heap
 * strings that are cleansed when freed, in the login body (cleansed after the
 * request) and in the per-transfer headers (cleansed by cce_headers_free).
 * No message is ever formatted with one of them; the cache's file names are a
 * hash of who and where, not the token.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cloudcfg.h"
#include "http.h"

/* A token is used until this long before it expires. */
#define TOKEN_MARGIN_S 600

/* ------------------------------------------------------------------ regions */

/* The hosts OTC documents per region (shared CCE_API.md).  A region outside
 * the table gets its CCE host from the service catalog of a login, never a guess. */
static const struct region_hosts {
    const char *region, *cce, *iam;
} regions[] = {
    {"eu-de", "https://cce.eu-de.otc.t-systems.com", "https://iam.eu-de.otc.t-systems.com/v3"},
    {"eu-nl", "https://cce.eu-nl.otc.t-systems.com", "https://iam.eu-nl.otc.t-systems.com/v3"},
    {"eu-ch2", NULL, "https://iam-pub.eu-ch2.sc.otc.t-systems.com/v3"},
};

static const struct region_hosts *region_find(const char *r)
{
    for (size_t i = 0; r && i < sizeof regions / sizeof *regions; i++)
        if (strcmp(regions[i].region, r) == 0)
            return &regions[i];
    return NULL;
}

char *cce_auth_region_iam(const char *region)
{
    const struct region_hosts *h = region_find(region);
    if (h)
        return cce_strdup(h->iam);
    if (!region)
        return NULL;
    cce_buf b = {0};
    if (cce_buf_printf(&b, "https://iam.%s.otc.t-systems.com/v3", region) < 0)
        return NULL;
    return b.data;
}

char *cce_auth_region_cce(const char *region)
{
    const struct region_hosts *h = region_find(region);
    return h && h->cce ? cce_strdup(h->cce) : NULL;
}

/* ------------------------------------------------------------------ helpers */

static void secret_free(char **s)
{
    if (*s) {
        OPENSSL_cleanse(*s, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

static const char *nz(const char *s) { return s && *s ? s : NULL; }

static const char *env_get(const char *a, const char *b)
{
    const char *v = nz(getenv(a));
    return v ? v : b ? nz(getenv(b)) : NULL;
}

static void error_copy(cce_error *dst, const cce_error *src)
{
    cce_error_clear(dst);
    *dst = *src;
    dst->message = cce_strdup(src->message);
}

/* "user 'alice' (domain 'OTC00...')": names who logs in, for messages. */
static void who(const cce_client *c, char *out, size_t n)
{
    if (c->username)
        snprintf(out, n, "user '%s' (domain '%s')", c->username, c->domain ? c->domain : "?");
    else
        snprintf(out, n, "user id '%s'", c->user_id ? c->user_id : "?");
}

/* Region names become host names: keep them to what a host label allows. */
int cce_region_valid(const char *r)
{
    if (!*r || strlen(r) > 63)
        return 0;
    for (const char *p = r; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-')
            return 0;
    return 1;
}

/* ---------------------------------------------------------------- resolution */

typedef struct source {
    const char *name;
    const char *token, *ak, *sk, *security_token, *username, *user_id, *password, *domain, *passcode,
        *project_id, *project_name, *auth_url, *region, *endpoint, *ca_file;
    int insecure; /* -1 unset */
} source;

#define FIRST(field)                                                                                                   \
    (nz(s[0].field) ? s[0].field : nz(s[1].field) ? s[1].field : nz(s[2].field) ? s[2].field : NULL)

static int dup_into(char **dst, const char *v)
{
    *dst = NULL;
    if (!v)
        return 0;
    return (*dst = strdup(v)) ? 0 : -1;
}

static int https_url(const char *u) { return strncasecmp(u, "https://", 8) == 0 && u[8]; }

static void strip_slashes(char *u)
{
    size_t n = strlen(u);
    while (n > 8 && u[n - 1] == '/')
        u[--n] = '\0';
}

int cce_auth_resolve(cce_client *c, const cce_client_opts *o, cce_error *err)
{
    source s[3];
    memset(s, 0, sizeof s);
    s[0] = (source){"the options", o->token, o->ak, o->sk, o->security_token, o->username, o->user_id, o->password,
                    o->user_domain_name, o->passcode, o->project_id, o->project_name, o->auth_url, o->region,
                    o->endpoint, o->ca_file, o->insecure ? 1 : -1};
    s[1].insecure = s[2].insecure = -1;
    s[1].name = "clouds.yaml";
    s[2].name = "the environment";
    cce_cloud cloud;
    memset(&cloud, 0, sizeof cloud);
    const char *cloud_name = nz(o->cloud) ? o->cloud : o->use_env ? env_get("OS_CLOUD", NULL) : NULL;
    if (cloud_name) {
        if (cce_cloud_load(cloud_name, &cloud, err) < 0)
            return -1;
        s[1] = (source){"clouds.yaml", cloud.token, cloud.ak, cloud.sk, cloud.security_token, cloud.username,
                        cloud.user_id, cloud.password, cloud.user_domain_name, cloud.passcode, cloud.project_id,
                        cloud.project_name, cloud.auth_url, cloud.region, cloud.cce_endpoint, cloud.cacert,
                        cloud.verify == 0 ? 1 : -1};
    }
    if (o->use_env) {
        const char *ins = env_get("OS_INSECURE", NULL);
        s[2] = (source){"the environment", env_get("OS_AUTH_TOKEN", "OS_TOKEN"), env_get("OS_ACCESS_KEY", "OS_AK"),
                        env_get("OS_SECRET_KEY", "OS_SK"), env_get("OS_SECURITY_TOKEN", NULL),
                        env_get("OS_USERNAME", NULL), env_get("OS_USER_ID", NULL), env_get("OS_PASSWORD", NULL),
                        env_get("OS_USER_DOMAIN_NAME", "OS_DOMAIN_NAME"), env_get("OS_PASSCODE", NULL),
                        env_get("OS_PROJECT_ID", NULL), env_get("OS_PROJECT_NAME", NULL), env_get("OS_AUTH_URL", NULL),
                        env_get("OS_REGION_NAME", NULL), env_get("CCE_ENDPOINT", NULL), env_get("OS_CACERT", NULL),
                        ins && (strcmp(ins, "1") == 0 || strcasecmp(ins, "true") == 0 || strcasecmp(ins, "yes") == 0)
                            ? 1
                            : -1};
    }

    /* The method: the first source with a credential, and in it token > AK/SK > password. */
    int method = 0, from = -1;
    for (int i = 0; i < 3 && !method; i++) {
        if (nz(s[i].token))
            method = CCE_AUTH_TOKEN;
        else if (nz(s[i].ak) || nz(s[i].sk))
            method = CCE_AUTH_AKSK;
        else if (nz(s[i].password) || nz(s[i].username) || nz(s[i].user_id))
            method = CCE_AUTH_PASSWORD;
        from = i;
    }
    int rc = -1;
    if (!method) {
        cce_set_error(err, CCE_E_CONFIG, 0,
                      "no credentials: set a token (token, OS_AUTH_TOKEN), an access key (ak and sk, OS_ACCESS_KEY "
                      "and OS_SECRET_KEY) or a user and password (username, OS_USERNAME and OS_PASSWORD), or name a "
                      "clouds.yaml entry (cloud, OS_CLOUD)%s",
                      cloud_name ? " that has one" : "");
        goto out;
    }
    c->auth_method = method;
    /* A project is one pair: the first source that names one gives both. */
    const char *pid = NULL, *pname = NULL;
    for (int i = 0; i < 3; i++)
        if (nz(s[i].project_id) || nz(s[i].project_name)) {
            pid = nz(s[i].project_id);
            pname = nz(s[i].project_name);
            break;
        }
    const char *region = FIRST(region), *endpoint = FIRST(endpoint), *ca = FIRST(ca_file), *auth_url = FIRST(auth_url);
    int insecure = s[0].insecure == 1 || (s[0].insecure < 0 && (s[1].insecure == 1 || s[2].insecure == 1));

    if (pid && !cce_id_valid(pid)) {
        cce_set_error(err, CCE_E_CONFIG, 0, "project id '%s' is not valid: only letters, digits and '-' are allowed",
                      pid);
        goto out;
    }
    if (region && !cce_region_valid(region)) {
        cce_set_error(err, CCE_E_CONFIG, 0, "region '%s' is not valid", region);
        goto out;
    }
    if (endpoint && !https_url(endpoint)) {
        cce_set_error(err, CCE_E_CONFIG, 0, "endpoint '%s' is not an https:// URL", endpoint);
        goto out;
    }
    if (auth_url && !https_url(auth_url)) {
        cce_set_error(err, CCE_E_CONFIG, 0, "auth_url '%s' is not an https:// URL", auth_url);
        goto out;
    }
    if (ca && access(ca, R_OK) != 0) {
        cce_set_error(err, CCE_E_CONFIG, 0, "CA file '%s' cannot be read: %s", ca, strerror(errno));
        goto out;
    }
    if (!region && !endpoint) {
        cce_set_error(err, CCE_E_CONFIG, 0,
                      "no region or endpoint: set region (OS_REGION_NAME, region_name) or endpoint (CCE_ENDPOINT)");
        goto out;
    }
    if (!endpoint && !(region_find(region) && region_find(region)->cce) && method != CCE_AUTH_PASSWORD) {
        cce_set_error(err, CCE_E_CONFIG, 0,
                      "no CCE endpoint is known for region '%s': set endpoint (CCE_ENDPOINT, or cce_endpoint_override "
                      "in clouds.yaml), or log in with a password to find it in the service catalog",
                      region);
        goto out;
    }

    const char *token = NULL, *ak = NULL, *sk = NULL, *stoken = NULL, *password = NULL, *passcode = NULL;
    if (method == CCE_AUTH_TOKEN) {
        token = nz(s[from].token);
        if (strpbrk(token, "\r\n")) {
            cce_set_error(err, CCE_E_CONFIG, 0, "the token contains a line break");
            goto out;
        }
        if (strlen(token) >= 65536) {
            cce_set_error(err, CCE_E_CONFIG, 0, "the token is longer than 65535 bytes");
            goto out;
        }
    } else if (method == CCE_AUTH_AKSK) {
        ak = FIRST(ak);
        sk = FIRST(sk);
        stoken = FIRST(security_token);
        if (!ak || !sk) {
            cce_set_error(err, CCE_E_CONFIG, 0, "%s", !ak ? "a secret key without its access key: set ak (OS_ACCESS_KEY)"
                                                          : "an access key without its secret key: set sk (OS_SECRET_KEY)");
            goto out;
        }
        if (strpbrk(ak, "\r\n, \t") || (stoken && strpbrk(stoken, "\r\n")) || strlen(ak) > 128) {
            cce_set_error(err, CCE_E_CONFIG, 0, "the access key or the security token contains a line break, a space "
                                                "or a comma, or the access key is longer than 128 bytes");
            goto out;
        }
    } else {
        password = FIRST(password);
        passcode = FIRST(passcode);
        if (!FIRST(username) && !FIRST(user_id)) {
            cce_set_error(err, CCE_E_CONFIG, 0, "a password without a user: set username (OS_USERNAME) or user_id (OS_USER_ID)");
            goto out;
        }
        if (FIRST(username) && !FIRST(user_id) && !FIRST(domain)) {
            cce_set_error(err, CCE_E_CONFIG, 0,
                          "user '%s' needs its domain, the OTC tenant (OTC000...): set user_domain_name "
                          "(OS_USER_DOMAIN_NAME)",
                          FIRST(username));
            goto out;
        }
    }
    if (method == CCE_AUTH_TOKEN && !pid && !pname) {
        cce_set_error(err, CCE_E_CONFIG, 0, "no project: set project_id or project_name (OS_PROJECT_ID, OS_PROJECT_NAME)");
        goto out;
    }

    c->auth_url_default = auth_url == NULL;
    c->endpoint_set = endpoint != NULL;
    if (dup_into(&c->region, region) < 0 || dup_into(&c->project_id, pid) < 0 ||
        dup_into(&c->project_name, pname) < 0 || dup_into(&c->ca_file, ca) < 0 ||
        dup_into(&c->username, FIRST(username)) < 0 || dup_into(&c->user_id, FIRST(user_id)) < 0 ||
        dup_into(&c->domain, FIRST(domain)) < 0 || dup_into(&c->cloud, cloud_name) < 0 ||
        dup_into(&c->token, token) < 0 || dup_into(&c->ak, ak) < 0 || dup_into(&c->sk, sk) < 0 ||
        dup_into(&c->security_token, stoken) < 0 || dup_into(&c->password, password) < 0 ||
        dup_into(&c->passcode, passcode) < 0)
        goto nomem;
    c->endpoint = endpoint ? strdup(endpoint) : cce_auth_region_cce(region);
    if (endpoint && !c->endpoint)
        goto nomem;
    if (c->endpoint)
        strip_slashes(c->endpoint);
    c->auth_url = auth_url ? strdup(auth_url) : cce_auth_region_iam(region);
    if (c->auth_url) {
        strip_slashes(c->auth_url);
        size_t n = strlen(c->auth_url);
        if (n < 3 || strcmp(c->auth_url + n - 3, "/v3") != 0) { /* clouds.yaml often has the bare IAM host */
            char *v3 = malloc(n + 4);
            if (!v3)
                goto nomem;
            snprintf(v3, n + 4, "%s/v3", c->auth_url);
            free(c->auth_url);
            c->auth_url = v3;
        }
    } else if (auth_url || region) {
        goto nomem;
    }
    c->insecure = insecure;
    if (token)
        c->token_gen = 1;
    rc = 0;
    goto out;
nomem:
    rc = cce_set_error(err, CCE_E_NOMEM, 0, "out of memory");
out:
    cce_cloud_clear(&cloud);
    return rc;
}

void cce_auth_free(cce_client *c)
{
    secret_free(&c->token);
    secret_free(&c->password);
    secret_free(&c->passcode);
    secret_free(&c->sk);
    secret_free(&c->security_token);
    free(c->ak);
    free(c->auth_url);
    free(c->username);
    free(c->user_id);
    free(c->domain);
    free(c->project_name);
    free(c->cloud);
    free(c->cache_dir);
    cce_error_clear(&c->auth_err);
    c->ak = c->auth_url = c->username = c->user_id = c->domain = c->project_name = c->cloud = c->cache_dir = NULL;
}

/* Copies who `src` is into `dst` (a fresh client): not its token, project or failures. */
int cce_auth_copy(cce_client *dst, const cce_client *src)
{
    dst->auth_method = src->auth_method;
    dst->interactive = src->interactive;
    dst->auth_url_default = src->auth_url_default;
    dst->endpoint_set = src->endpoint_set;
    if (dup_into(&dst->auth_url, src->auth_url) < 0 || dup_into(&dst->username, src->username) < 0 ||
        dup_into(&dst->user_id, src->user_id) < 0 || dup_into(&dst->domain, src->domain) < 0 ||
        dup_into(&dst->password, src->password) < 0 || dup_into(&dst->passcode, src->passcode) < 0 ||
        dup_into(&dst->ak, src->ak) < 0 || dup_into(&dst->sk, src->sk) < 0 ||
        dup_into(&dst->security_token, src->security_token) < 0 || dup_into(&dst->cloud, src->cloud) < 0 ||
        dup_into(&dst->cache_dir, src->cache_dir) < 0)
        return -1;
    /* A given token is for its project: another project needs credentials, which a token is not. */
    if (src->auth_method == CCE_AUTH_TOKEN) {
        if (dup_into(&dst->token, src->token) < 0)
            return -1;
        dst->token_gen = 1;
    }
    return 0;
}

/* -------------------------------------------------------------------- time */

static long long now_s(void) { return (long long)time(NULL); }

/* "2015-11-09T01:42:57.527363Z" (IAM writes UTC) -> Unix seconds; 0 if unreadable. */
static long long parse_iso(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                     &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    return t == (time_t)-1 ? 0 : (long long)t;
}

/* ------------------------------------------------------------------- cache */

/*
 * One file per auth URL + domain + user + scope, named by a hash of them: the
 * name tells nothing about who or what.  The file is 0600 in a 0700
 * directory, replaced atomically, and its token is used until TOKEN_MARGIN_S
 * before it expires.  A lock beside it (the kubeconfig lock of fileio.c)
 * makes concurrent runs wait for one login instead of each making their own.
 */
static void scope_key(const cce_client *c, cce_buf *out)
{
    out->len = 0;
    if (c->project_id)
        cce_buf_printf(out, "project-id:%s", c->project_id);
    else if (c->project_name)
        cce_buf_printf(out, "project-name:%s", c->project_name);
    else
        cce_buf_puts(out, "domain");
}

static char *cache_path_for(const cce_client *c, const char *scope_text);

static char *cache_path(const cce_client *c)
{
    cce_buf scope = {0};
    scope_key(c, &scope);
    char *path = scope.data ? cache_path_for(c, scope.data) : NULL;
    cce_buf_free(&scope);
    return path;
}

static char *cache_path_for(const cce_client *c, const char *scope_text)
{
    if (!c->cache_dir)
        return NULL;
    cce_buf key = {0};
    /* Who as configured: a login adds the user id to a client that named its user, which
     * must not move the entry. */
    cce_buf_printf(&key, "cceauto-token-v1\n%s\n%s\n%s:%s\n%s", c->auth_url ? c->auth_url : "",
                   c->domain ? c->domain : "", c->username ? "name" : "id",
                   c->username ? c->username : c->user_id ? c->user_id : "", scope_text);
    unsigned char md[32];
    unsigned int mdlen = 0;
    char *path = NULL;
    if (key.data && EVP_Digest(key.data, key.len, md, &mdlen, EVP_sha256(), NULL) && mdlen == 32) {
        cce_buf p = {0};
        cce_buf_printf(&p, "%s/token-", c->cache_dir);
        for (int i = 0; i < 16; i++)
            cce_buf_printf(&p, "%02x", md[i]);
        cce_buf_puts(&p, ".json");
        path = p.data;
    }
    cce_buf_free(&key);
    return path;
}

/* A token goes into a header line: printable ASCII only, and not absurdly long. */
static int token_ok(const char *t, size_t n)
{
    if (n == 0 || n >= 65536)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] < 0x21 || (unsigned char)t[i] > 0x7e)
            return 0;
    return 1;
}

static int same(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

static void set_token(cce_client *c, const char *token, long long expires, int from_cache)
{
    secret_free(&c->token);
    c->token = strdup(token);
    c->token_expires = expires;
    c->token_from_cache = from_cache;
    c->token_gen++;
}

/* Fills a project id, name or endpoint the client did not know from a login's or the cache's record. */
static void adopt(cce_client *c, const char *pid, const char *pname, const char *endpoint, const char *user_id)
{
    if (!c->project_id && pid && cce_id_valid(pid))
        c->project_id = strdup(pid);
    if (!c->project_name && pname)
        c->project_name = strdup(pname);
    if (!c->endpoint && endpoint && https_url(endpoint)) {
        c->endpoint = strdup(endpoint);
        if (c->endpoint)
            strip_slashes(c->endpoint);
    }
    if (!c->user_id && user_id)
        c->user_id = strdup(user_id);
}

/* The cached token, if the file is ours, is for this client and lives long enough: 1, else 0. */
static int cache_read(cce_client *c, const char *path, const char *not_this)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
        cce_log(c, CCE_LOG_WARN, "token cache file %s is not a private file of this user: not used", path);
        return 0;
    }
    cce_buf b = {0};
    int missing = 0, ok = 0;
    if (cce_file_read(path, &b, &missing, NULL) < 0 || missing)
        return 0;
    json_t *v = json_loadb(b.data, b.len, 0, NULL);
    OPENSSL_cleanse(b.data, b.len);
    cce_buf_free(&b);
    const char *tok = cce_json_str(v, "token");
    long long exp = (long long)json_integer_value(json_object_get(v, "expires_at"));
    cce_buf scope = {0};
    scope_key(c, &scope);
    if (tok && token_ok(tok, strlen(tok)) && exp - now_s() > TOKEN_MARGIN_S && same(cce_json_str(v, "auth_url"), c->auth_url) &&
        same(cce_json_str(v, "scope"), scope.data) && (!not_this || strcmp(tok, not_this) != 0) &&
        (!c->project_id || same(cce_json_str(v, "project_id"), c->project_id)) &&
        (c->endpoint || (!c->project_id && !c->project_name) || cce_json_str(v, "cce_endpoint"))) {
        set_token(c, tok, exp, 1);
        adopt(c, cce_json_str(v, "project_id"), cce_json_str(v, "project_name"), cce_json_str(v, "cce_endpoint"), cce_json_str(v, "user_id"));
        ok = c->token != NULL;
    }
    cce_buf_free(&scope);
    if (v) {
        json_t *t = json_object_get(v, "token");
        if (json_is_string(t)) /* jansson keeps its own copy of the token */
            OPENSSL_cleanse((char *)json_string_value(t), json_string_length(t));
        json_decref(v);
    }
    return ok;
}

static void cache_write(cce_client *c, const char *path, const char *scope_text, const char *endpoint)
{
    cce_error err = {0};
    if (cce_dir_create(c->cache_dir, 0700, &err) < 0) {
        cce_log(c, CCE_LOG_WARN, "token cache not written: %s", err.message ? err.message : "");
        cce_error_clear(&err);
        return;
    }
    json_t *v = json_object();
    json_object_set_new(v, "version", json_integer(1));
    json_object_set_new(v, "auth_url", json_string(c->auth_url ? c->auth_url : ""));
    json_object_set_new(v, "scope", json_string(scope_text));
    if (c->username)
        json_object_set_new(v, "user", json_string(c->username));
    if (c->user_id)
        json_object_set_new(v, "user_id", json_string(c->user_id));
    if (c->domain)
        json_object_set_new(v, "domain", json_string(c->domain));
    if (c->project_id)
        json_object_set_new(v, "project_id", json_string(c->project_id));
    if (c->project_name)
        json_object_set_new(v, "project_name", json_string(c->project_name));
    if (endpoint)
        json_object_set_new(v, "cce_endpoint", json_string(endpoint));
    json_object_set_new(v, "expires_at", json_integer((json_int_t)c->token_expires));
    json_object_set_new(v, "token", json_string(c->token));
    char *text = json_dumps(v, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_t *t = json_object_get(v, "token");
    if (json_is_string(t))
        OPENSSL_cleanse((char *)json_string_value(t), json_string_length(t));
    json_decref(v);
    if (!text)
        return;
    size_t n = strlen(text);
    if (cce_file_write_atomic_mode(path, text, n, 0600, 077, NULL, &err) < 0) {
        cce_log(c, CCE_LOG_WARN, "token cache not written: %s", err.message ? err.message : "");
        cce_error_clear(&err);
    } else {
        cce_log(c, CCE_LOG_DEBUG, "token cached in %s", path);
    }
    OPENSSL_cleanse(text, n);
    free(text);
}

/* ------------------------------------------------------------------ prompt */

static volatile sig_atomic_t prompt_signal;
static void on_prompt_signal(int sig) { prompt_signal = sig; }

/*
 * Asks on the terminal without echo.  Only when the client may ask and stdin
 * is a terminal: a run without one gets a configuration error, never a wait.
 * ^C (or SIGTERM, SIGHUP) while it waits puts the terminal's echo back before
 * the signal does what it would have done.
 */
static char *prompt_secret(const cce_client *c, const char *question)
{
    if (!c->interactive || !isatty(STDIN_FILENO))
        return NULL;
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        fd = dup(STDIN_FILENO);
    if (fd < 0)
        return NULL;
    struct termios old, quiet;
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa, saved[3];
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_prompt_signal; /* no SA_RESTART: read() returns */
    sigemptyset(&sa.sa_mask);
    prompt_signal = 0;
    for (int i = 0; i < 3; i++)
        sigaction(sigs[i], &sa, &saved[i]);
    int have = tcgetattr(fd, &old) == 0;
    if (have) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        quiet.c_lflag |= ICANON;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    if (write(fd, question, strlen(question)) < 0) { /* the answer is read anyway */
    }
    char buf[1024];
    size_t n = 0;
    for (;;) {
        char ch;
        ssize_t r = read(fd, &ch, 1);
        if (r <= 0 || prompt_signal || ch == '\n' || ch == '\r')
            break;
        if (n + 1 < sizeof buf)
            buf[n++] = ch;
    }
    buf[n] = '\0';
    if (have)
        tcsetattr(fd, TCSAFLUSH, &old);
    if (write(fd, "\n", 1) < 0) {
    }
    close(fd);
    for (int i = 0; i < 3; i++)
        sigaction(sigs[i], &saved[i], NULL);
    char *answer = n && !prompt_signal ? strdup(buf) : NULL;
    OPENSSL_cleanse(buf, sizeof buf);
    if (prompt_signal)
        raise(prompt_signal); /* as if it had come outside the prompt */
    return answer;
}

/* ------------------------------------------------------------------- login */

static int iam_url(const cce_client *c, const char *path, cce_buf *out, cce_error *err)
{
    out->len = 0;
    if (!c->auth_url)
        return cce_set_error(err, CCE_E_CONFIG, 0, "no IAM URL: set auth_url (OS_AUTH_URL) or a region (OS_REGION_NAME)");
    if (cce_buf_printf(out, "%s/%s", c->auth_url, path) < 0)
        return cce_set_error(err, CCE_E_NOMEM, 0, "out of memory");
    return 0;
}

static int mentions_mfa(const cce_http_resp *r)
{
    if (!r->body.data)
        return 0;
    static const char *const words[] = {"passcode", "verification code", "mfa", "totp"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (cce_contains_ci(r->body.data, words[i]))
            return 1;
    return 0;
}

/* The CCE endpoint of the client's region in a login's service catalog, or NULL. */
static const char *catalog_cce(json_t *catalog, const char *region)
{
    size_t i, j;
    json_t *svc, *ep;
    json_array_foreach(catalog, i, svc) {
        const char *type = cce_json_str(svc, "type");
        if (!type || strcmp(type, "ccev2.0") != 0)
            continue;
        json_array_foreach(json_object_get(svc, "endpoints"), j, ep) {
            const char *itf = cce_json_str(ep, "interface"), *url = cce_json_str(ep, "url");
            const char *r1 = cce_json_str(ep, "region_id"), *r2 = cce_json_str(ep, "region");
            if (url && https_url(url) && (!itf || strcmp(itf, "public") == 0) &&
                (!region || same(r1, region) || same(r2, region)))
                return url;
        }
    }
    return NULL;
}

void cce_iam_answer_clear(cce_iam_answer *a)
{
    secret_free(&a->token);
    free(a->project_id);
    free(a->project_name);
    free(a->user_id);
    free(a->cce_endpoint);
    memset(a, 0, sizeof *a);
}

int cce_iam_login_answer(const char *body, size_t len, const char *subject, size_t slen, const char *region,
                         cce_iam_answer *out, const char *what, cce_error *err)
{
    memset(out, 0, sizeof *out);
    if (!subject || !token_ok(subject, slen))
        return cce_set_error(err, CCE_E_BAD_RESPONSE, 0,
                             "%s: the answer has no usable X-Subject-Token header (missing, empty, over 64 KiB or with "
                             "characters a header cannot carry)",
                             what);
    json_t *v = json_loadb(body ? body : "", body ? len : 0, JSON_REJECT_DUPLICATES, NULL);
    json_t *tok = json_object_get(v, "token");
    json_t *proj = json_object_get(tok, "project");
    const char *pid = cce_json_str(proj, "id");
    int rc = 0;
    out->expires_at = parse_iso(cce_json_str(tok, "expires_at"));
    if (!json_is_object(tok))
        rc = cce_set_error(err, CCE_E_BAD_RESPONSE, 0, "%s: the answer is not a JSON object with \"token\"", what);
    else if (out->expires_at <= 0)
        rc = cce_set_error(err, CCE_E_BAD_RESPONSE, 0, "%s: the answer has no readable token.expires_at", what);
    else if (pid && !cce_id_valid(pid))
        rc = cce_set_error(err, CCE_E_BAD_RESPONSE, 0, "%s: the answer's project id is not an id", what);
    if (rc == 0) {
        const char *ep = region ? catalog_cce(json_object_get(tok, "catalog"), region) : NULL;
        out->token = malloc(slen + 1);
        if (out->token) {
            memcpy(out->token, subject, slen);
            out->token[slen] = '\0';
        }
        out->project_id = cce_strdup(pid);
        out->project_name = cce_strdup(cce_json_str(proj, "name"));
        out->user_id = cce_strdup(cce_json_str(json_object_get(tok, "user"), "id"));
        out->cce_endpoint = cce_strdup(ep);
        if (!out->token || (pid && !out->project_id) || (ep && !out->cce_endpoint)) {
            cce_iam_answer_clear(out);
            rc = cce_set_error(err, CCE_E_NOMEM, 0, "out of memory");
        }
    }
    json_decref(v);
    return rc;
}

/* The login body (secret: the caller cleanses it). */
static char *login_body(const cce_client *c, int domain_scope)
{
    json_t *user = json_object();
    if (c->user_id)
        json_object_set_new(user, "id", json_string(c->user_id));
    else {
        json_object_set_new(user, "name", json_string(c->username));
        json_object_set_new(user, "domain", json_pack("{ss}", "name", c->domain));
    }
    json_object_set_new(user, "password", json_string(c->password));
    json_t *methods = json_pack("[s]", "password");
    json_t *identity = json_object();
    json_object_set_new(identity, "password", json_pack("{so}", "user", user));
    if (c->passcode) {
        json_array_append_new(methods, json_string("totp"));
        json_object_set_new(identity, "totp",
                            json_pack("{s{ssss}}", "user", "id", c->user_id, "passcode", c->passcode));
    }
    json_object_set_new(identity, "methods", methods);
    json_t *scope = NULL;
    if (!domain_scope && c->project_id)
        scope = json_pack("{s{ss}}", "project", "id", c->project_id);
    else if (!domain_scope && c->project_name)
        scope = c->domain ? json_pack("{s{sss{ss}}}", "project", "name", c->project_name, "domain", "name", c->domain)
                          : json_pack("{s{ss}}", "project", "name", c->project_name);
    else if (c->domain)
        scope = json_pack("{s{ss}}", "domain", "name", c->domain);
    json_t *auth = json_pack("{so}", "identity", identity);
    if (scope)
        json_object_set_new(auth, "scope", scope);
    json_t *root = json_pack("{so}", "auth", auth);
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    /* jansson's copies of the password and passcode */
    json_t *pw = json_object_get(json_object_get(json_object_get(identity, "password"), "user"), "password");
    if (json_is_string(pw))
        OPENSSL_cleanse((char *)json_string_value(pw), json_string_length(pw));
    json_t *pc = json_object_get(json_object_get(json_object_get(identity, "totp"), "user"), "passcode");
    if (json_is_string(pc))
        OPENSSL_cleanse((char *)json_string_value(pc), json_string_length(pc));
    json_decref(root);
    return text;
}

/* POST auth/tokens: 0 with the client's token set, or -1. */
static int login(cce_client *c, int domain_scope, const char *cache, cce_error *err)
{
    char whom[300];
    who(c, whom, sizeof whom);
    if (c->passcode && !c->user_id)
        return cce_set_error(err, CCE_E_CONFIG, 0,
                             "%s: an MFA passcode needs the user's id: set user_id (OS_USER_ID)", whom);
    if (!c->password) {
        char q[400];
        snprintf(q, sizeof q, "IAM password for %s: ", whom);
        c->password = prompt_secret(c, q);
        if (!c->password)
            return cce_set_error(err, CCE_E_CONFIG, 0,
                                 "no password for %s: set password (OS_PASSWORD, or password in secure.yaml%s%s%s), "
                                 "or run on a terminal to be asked",
                                 whom, c->cloud ? " of cloud '" : "", c->cloud ? c->cloud : "", c->cloud ? "'" : "");
    }
    int need_catalog = !c->endpoint && !domain_scope;
    cce_buf url = {0};
    if (iam_url(c, need_catalog ? "auth/tokens" : "auth/tokens?nocatalog=true", &url, err) < 0)
        return -1;
    /* The cache entry is for the scope asked for (a project name stays a name
     * in the key, though the login tells its id). */
    cce_buf scope = {0};
    scope_key(c, &scope);

    char what[400];
    snprintf(what, sizeof what, "IAM login of %s at %s", whom, c->auth_url);
    cce_http_resp r = {0};
    int rc = -1;
    for (int round = 0; round < 2; round++) {
        char *body = login_body(c, domain_scope);
        if (!body) {
            rc = cce_set_error(err, CCE_E_NOMEM, 0, "out of memory");
            break;
        }
        cce_log(c, CCE_LOG_DEBUG, "logging in: %s, %s scope", whom,
                domain_scope || (!c->project_id && !c->project_name) ? "domain" : "project");
        rc = cce_http_request(c, "POST", url.data, body, CCE_REQ_NOAUTH | CCE_REQ_IAM, what, &r, err);
        OPENSSL_cleanse(body, strlen(body));
        free(body);
        /* IAM wants the virtual MFA code: asked for once when a terminal is there. */
        if (rc < 0 && r.status == 401 && !c->passcode && round == 0 && mentions_mfa(&r) && c->user_id) {
            char q[400];
            snprintf(q, sizeof q, "MFA passcode for %s: ", whom);
            if ((c->passcode = prompt_secret(c, q)) != NULL) {
                cce_error_clear(err);
                continue;
            }
        }
        break;
    }
    cce_iam_answer a;
    if (rc == 0 && cce_iam_login_answer(r.body.data, r.body.len, r.subject_token.data, r.subject_token.len,
                                        need_catalog ? c->region : NULL, &a, what, err) < 0)
        rc = -1;
    if (rc == 0) {
        if (!domain_scope && !c->project_id && !a.project_id) {
            rc = cce_set_error(err, CCE_E_BAD_RESPONSE, (int)r.status, "%s: the answer names no project", what);
        } else {
            if (!domain_scope)
                adopt(c, a.project_id, a.project_name, a.cce_endpoint, a.user_id);
            else
                adopt(c, NULL, NULL, NULL, a.user_id);
            set_token(c, a.token, a.expires_at, 0);
            if (!c->token)
                rc = cce_set_error(err, CCE_E_NOMEM, 0, "out of memory");
            else if (need_catalog && !c->endpoint)
                rc = cce_set_error(err, CCE_E_CONFIG, 0,
                                   "no CCE endpoint for region '%s': the service catalog has no ccev2.0 entry for it; "
                                   "set endpoint (CCE_ENDPOINT)",
                                   c->region ? c->region : "?");
            else {
                cce_log(c, CCE_LOG_INFO, "logged in as %s, token valid until %lld", whom, a.expires_at);
                if (cache && scope.data) {
                    cache_write(c, cache, scope.data, need_catalog ? c->endpoint : NULL);
                    /* A project asked for by name is also kept under its id, which
                     * clients made for the same project by id look for. */
                    if (strncmp(scope.data, "project-name:", 13) == 0 && c->project_id) {
                        cce_buf idscope = {0};
                        cce_buf_printf(&idscope, "project-id:%s", c->project_id);
                        char *path = idscope.data ? cache_path_for(c, idscope.data) : NULL;
                        if (path)
                            cache_write(c, path, idscope.data, need_catalog ? c->endpoint : NULL);
                        free(path);
                        cce_buf_free(&idscope);
                    }
                }
            }
        }
        cce_iam_answer_clear(&a);
    }
    cce_http_resp_free(&r);
    cce_buf_free(&url);
    cce_buf_free(&scope);
    return rc;
}

/*
 * A token for the client's scope (its project, or its domain when it has no
 * project): the one in memory, the cached one, or a new login.  `refresh`:
 * the token in use was refused: a different one is wanted (another run may
 * have cached one already), and its cache file goes.
 */
static int password_token(cce_client *c, int refresh, cce_error *err)
{
    if (!refresh && c->token && c->token_expires - now_s() > TOKEN_MARGIN_S)
        return 0;
    int domain_scope = !c->project_id && !c->project_name;
    char *path = cache_path(c);
    cce_lock *lock = NULL;
    char *refused = refresh && c->token ? strdup(c->token) : NULL;
    if (path) {
        cce_error lerr = {0};
        /* Another run may be logging in for the same scope: wait for its token. */
        if (cce_dir_create(c->cache_dir, 0700, &lerr) == 0)
            lock = cce_lock_acquire(path, 60000, &lerr);
        if (!lock)
            cce_log(c, CCE_LOG_DEBUG, "token cache lock not taken (%s): going on without it",
                    lerr.message ? lerr.message : "");
        cce_error_clear(&lerr);
        if (cache_read(c, path, refused)) {
            cce_log(c, CCE_LOG_DEBUG, "token from the cache (%s)", path);
            cce_lock_release(lock);
            free(path);
            secret_free(&refused);
            return 0;
        }
        if (refresh)
            unlink(path);
    }
    secret_free(&refused);
    int rc = login(c, domain_scope, path, err);
    cce_lock_release(lock);
    free(path);
    return rc;
}

/* ---------------------------------------------------------------- projects */

int cce_iam_projects_answer(const char *body, size_t len, cce_project **out, size_t *n, cce_error *err)
{
    *out = NULL;
    *n = 0;
    json_t *v = json_loadb(body ? body : "", body ? len : 0, JSON_REJECT_DUPLICATES, NULL);
    json_t *list = json_object_get(v, "projects");
    if (!json_is_array(list)) {
        json_decref(v);
        return cce_set_error(err, CCE_E_BAD_RESPONSE, 0, "IAM list projects: the answer has no \"projects\" array");
    }
    size_t m = json_array_size(list), k = 0;
    cce_project *p = calloc(m ? m : 1, sizeof *p);
    if (!p) {
        json_decref(v);
        return cce_set_error(err, CCE_E_NOMEM, 0, "out of memory");
    }
    for (size_t i = 0; i < m; i++) {
        json_t *o = json_array_get(list, i);
        const char *id = cce_json_str(o, "id"), *name = cce_json_str(o, "name");
        if (!id || !cce_id_valid(id)) /* it would go into URL paths */
            continue;
        p[k].id = strdup(id);
        p[k].name = strdup(name ? name : "");
        json_t *en = json_object_get(o, "enabled");
        p[k].enabled = !en || json_is_true(en);
        if (!p[k].id || !p[k].name) {
            cce_projects_free(p, k + 1);
            json_decref(v);
            return cce_set_error(err, CCE_E_NOMEM, 0, "out of memory");
        }
        k++;
    }
    json_decref(v);
    *out = p;
    *n = k;
    return 0;
}

/* IAM's project listing: /auth/projects with a token, /projects[?name=] with AK/SK. */
static int get_projects(cce_client *c, const char *query_name, cce_project **out, size_t *n, cce_error *err)
{
    *out = NULL;
    *n = 0;
    cce_buf path = {0}, url = {0};
    if (c->auth_method == CCE_AUTH_AKSK) {
        cce_buf_puts(&path, "projects");
        if (query_name) {
            cce_buf_puts(&path, "?name=");
            for (const unsigned char *p = (const unsigned char *)query_name; *p; p++)
                if (isalnum(*p) || strchr("-_.~", *p))
                    cce_buf_append(&path, p, 1);
                else
                    cce_buf_printf(&path, "%%%02X", *p);
        }
    } else {
        if (c->auth_method == CCE_AUTH_PASSWORD && password_token(c, 0, err) < 0)
            return -1;
        cce_buf_puts(&path, "auth/projects");
    }
    int rc = -1;
    cce_http_resp r = {0};
    if (!path.data)
        rc = cce_set_error(err, CCE_E_NOMEM, 0, "out of memory");
    else if (iam_url(c, path.data, &url, err) == 0) {
        unsigned gen = c->token_gen;
        rc = cce_http_request(c, "GET", url.data, NULL, CCE_REQ_IAM, "IAM list projects", &r, err);
        if (rc < 0 && r.status == 401 && cce_auth_relogin(c, gen, NULL) == 0) {
            cce_error_clear(err);
            rc = cce_http_request(c, "GET", url.data, NULL, CCE_REQ_IAM, "IAM list projects", &r, err);
        }
    }
    if (rc == 0)
        rc = cce_iam_projects_answer(r.body.data, r.body.len, out, n, err);
    cce_http_resp_free(&r);
    cce_buf_free(&path);
    cce_buf_free(&url);
    return rc;
}

void cce_projects_free(cce_project *list, size_t n)
{
    for (size_t i = 0; list && i < n; i++) {
        free(list[i].id);
        free(list[i].name);
    }
    free(list);
}

int cce_client_projects(cce_client *c, cce_project **out, size_t *n, cce_error *err)
{
    return get_projects(c, NULL, out, n, err);
}

/* A project name -> its id through IAM (AK/SK and token clients; a password login does it itself). */
static int resolve_project(cce_client *c, cce_error *err)
{
    cce_project *list;
    size_t n;
    if (get_projects(c, c->project_name, &list, &n, err) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && !c->project_id; i++)
        if (strcmp(list[i].name, c->project_name) == 0 && (c->project_id = strdup(list[i].id)) == NULL)
            rc = cce_set_error(err, CCE_E_NOMEM, 0, "out of memory");
    if (rc == 0 && !c->project_id)
        rc = cce_set_error(err, CCE_E_CONFIG, 0, "project '%s' not found at IAM %s (for these credentials)",
                           c->project_name, c->auth_url ? c->auth_url : "");
    cce_projects_free(list, n);
    return rc;
}

/*
 * A password login scoped to a project name that IAM refused: when a
 * domain-scoped login works, the name is what is wrong, and that is a
 * configuration error with the projects there are.
 */
static void explain_project_refusal(cce_client *c, cce_error *err)
{
    char *name = c->project_name;
    c->project_name = NULL;
    cce_error derr = {0};
    cce_project *list = NULL;
    size_t n = 0;
    if (login(c, 1, NULL, &derr) == 0 && get_projects(c, NULL, &list, &n, &derr) == 0) {
        int known = 0;
        cce_buf names = {0};
        for (size_t i = 0; i < n; i++) {
            known |= strcmp(list[i].name, name) == 0;
            cce_buf_printf(&names, "%s%s", names.len ? ", " : "", list[i].name);
        }
        if (!known) {
            char whom[300];
            who(c, whom, sizeof whom);
            cce_set_error(err, CCE_E_CONFIG, 0, "project '%s' not found for %s (projects: %s)", name, whom,
                          names.data ? names.data : "none");
        }
        cce_buf_free(&names);
    }
    cce_projects_free(list, n);
    cce_error_clear(&derr);
    secret_free(&c->token); /* the domain token is not for CCE */
    c->project_name = name;
}

int cce_auth_ensure(cce_client *c, cce_error *err)
{
    if (c->auth_failed) {
        if (err)
            error_copy(err, &c->auth_err);
        return -1;
    }
    if (!c->project_id && !c->project_name)
        return cce_set_error(err, CCE_E_CONFIG, 0,
                             "no project: set project_id or project_name (OS_PROJECT_ID, OS_PROJECT_NAME)");
    cce_error local = {0};
    cce_error *e = err ? err : &local;
    int rc = 0;
    if (c->auth_method == CCE_AUTH_PASSWORD) {
        rc = password_token(c, 0, e);
        if (rc < 0 && !c->project_id && (e->status == 401 || e->status == 404 || e->status == 400))
            explain_project_refusal(c, e);
    } else if (!c->project_id) {
        rc = resolve_project(c, e);
    }
    if (rc == 0 && !c->endpoint)
        rc = cce_set_error(e, CCE_E_CONFIG, 0, "no CCE endpoint for region '%s': set endpoint (CCE_ENDPOINT)",
                           c->region ? c->region : "?");
    if (rc < 0 && e->kind != CCE_E_INTERRUPTED) {
        c->auth_failed = 1;
        error_copy(&c->auth_err, e);
    }
    cce_error_clear(&local);
    return rc;
}

int cce_auth_relogin(cce_client *c, unsigned gen, cce_error *err)
{
    if (c->auth_method != CCE_AUTH_PASSWORD)
        return -1;
    if (gen != c->token_gen)
        return 0; /* another transfer's 401 already brought a new token */
    if (c->relogins >= 3) /* a CCE that refuses every new token must not get a login per request */
        return -1;
    c->relogins++;
    cce_log(c, CCE_LOG_INFO, "the token was refused: logging in again");
    cce_error local = {0};
    int rc = password_token(c, 1, err ? err : &local);
    cce_error_clear(&local);
    return rc;
}

int cce_client_auth_info(cce_client *c, cce_auth_info *out, cce_error *err)
{
    memset(out, 0, sizeof *out);
    if (c->project_id || c->project_name) {
        if (cce_auth_ensure(c, err) < 0)
            return -1;
    } else if (c->auth_method == CCE_AUTH_PASSWORD && password_token(c, 0, err) < 0) {
        return -1;
    }
    out->method = c->auth_method == CCE_AUTH_TOKEN ? "token" : c->auth_method == CCE_AUTH_AKSK ? "aksk" : "password";
    out->project_id = c->project_id;
    out->project_name = c->project_name;
    out->user = c->username;
    out->user_id = c->user_id;
    out->domain = c->domain;
    out->region = c->region;
    out->auth_url = c->auth_url;
    out->cloud = c->cloud;
    out->expires_at = c->auth_method == CCE_AUTH_PASSWORD ? c->token_expires : 0;
    out->from_cache = c->token_from_cache;
    return 0;
}

/* ------------------------------------------------------------------ headers */

void cce_headers_free(struct curl_slist *h)
{
    for (struct curl_slist *p = h; p; p = p->next)
        OPENSSL_cleanse(p->data, strlen(p->data));
    curl_slist_free_all(h);
}

static int add(struct curl_slist **h, const char *line)
{
    struct curl_slist *t = curl_slist_append(*h, line);
    if (!t)
        return -1;
    *h = t;
    return 0;
}

/* Host (as sent: the URL's authority without a default port) and path?query of an https URL. */
static int split_url(const char *url, char *host, size_t hn, const char **target)
{
    const char *a = strstr(url, "://");
    if (!a)
        return -1;
    a += 3;
    const char *slash = strchr(a, '/');
    size_t n = slash ? (size_t)(slash - a) : strlen(a);
    if (n >= 4 && strncmp(a + n - 4, ":443", 4) == 0)
        n -= 4;
    if (n == 0 || n >= hn)
        return -1;
    memcpy(host, a, n);
    host[n] = '\0';
    *target = slash ? slash : "/";
    return 0;
}

struct curl_slist *cce_auth_headers(cce_client *c, const char *method, const char *url, const char *body,
                                    unsigned flags, unsigned *gen, cce_error *err)
{
    struct curl_slist *h = NULL;
    const char *ctype = flags & CCE_REQ_NOAUTH ? "application/json;charset=utf8" : "application/json";
    char line[600];
    snprintf(line, sizeof line, "Content-Type: %s", ctype);
    *gen = c->token_gen;
    if (add(&h, "Accept: application/json") < 0 || add(&h, line) < 0)
        goto nomem;
    if (flags & CCE_REQ_NOAUTH)
        return h;
    if (c->auth_method != CCE_AUTH_AKSK) {
        if (!c->token) {
            cce_headers_free(h);
            cce_set_error(err, CCE_E_CONFIG, 0, "no token: not logged in");
            return NULL;
        }
        cce_buf b = {0};
        int ok = cce_buf_printf(&b, "X-Auth-Token: %s", c->token) == 0 && add(&h, b.data) == 0;
        if (b.data)
            OPENSSL_cleanse(b.data, b.cap);
        cce_buf_free(&b);
        if (!ok)
            goto nomem;
        return h;
    }
    /* AK/SK: signed now, with the time of this attempt. */
    char host[300], date[32];
    const char *target;
    if (split_url(url, host, sizeof host, &target) < 0) {
        cce_headers_free(h);
        cce_set_error(err, CCE_E_INVALID_ARGUMENT, 0, "cannot sign a request to a URL without a host");
        return NULL;
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y%m%dT%H%M%SZ", &tm);
    cce_sign_header sh[5] = {{"Content-Type", ctype}, {"Host", host}, {"X-Sdk-Date", date}};
    size_t nh = 3;
    int with_project = !(flags & CCE_REQ_IAM) && c->project_id;
    if (with_project)
        sh[nh++] = (cce_sign_header){"X-Project-Id", c->project_id};
    if (c->security_token)
        sh[nh++] = (cce_sign_header){"X-Security-Token", c->security_token};
    cce_sign_result sig;
    if (cce_sign_request(method, target, sh, nh, body, body ? strlen(body) : 0, c->ak, c->sk, &sig, err) < 0) {
        cce_headers_free(h);
        return NULL;
    }
    int ok = 1;
    for (size_t i = 1; i < nh && ok; i++) { /* Content-Type is in already */
        cce_buf b = {0};
        ok = cce_buf_printf(&b, "%s: %s", sh[i].name, sh[i].value) == 0 && add(&h, b.data) == 0;
        if (b.data)
            OPENSSL_cleanse(b.data, b.cap);
        cce_buf_free(&b);
    }
    snprintf(line, sizeof line, "Authorization: %s", sig.authorization);
    ok = ok && add(&h, line) == 0;
    OPENSSL_cleanse(&sig, sizeof sig);
    OPENSSL_cleanse(line, sizeof line);
    if (ok)
        return h;
nomem:
    cce_headers_free(h);
    cce_set_error(err, CCE_E_NOMEM, 0, "out of memory");
    return NULL;
}
