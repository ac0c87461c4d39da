/*
 * cce.h - the cceauto embedding API (plain C, no Lua needed).
 *
 * libcceauto calls the Open Telekom Cloud CCE API and models kubeconfig files.
 * Every object it hands out is owned by the caller and released with the
 * matching *_free(), which accepts NULL.  Functions that can fail operationally
 * (network, HTTP, bad response, bad input) take a `cce_error *` that may be
 * NULL; on failure they fill it and return NULL / -1.  Free an error's heap
 * parts with cce_error_clear().  No function ever prints a token, password,
 * secret key or private key, at any log level.
 *
 * Thread safety: call cce_global_init() once before starting threads.  After
 * that, distinct objects may be used from distinct threads; one object must
 * not be used from two threads at once.
 */
#ifndef CCE_H
#define CCE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CCE_VERSION "0.1.0"

/* ------------------------------------------------------------------ errors */

/*
 * Every kind of operational error, as curl's CURLcode: X(NAME, "meaning").
 * err->kind is CCE_E_<NAME>; err->code is the kind's name, except for
 * CCE_E_SERVICE and CCE_E_HTTP, whose code comes from the answer.
 */
#define CCE_ERROR_KINDS(X)                                                                                  \
    X(SERVICE, "the service's own error code, when the body had one: \"CCE.01404001\", \"APIG.0101\"")       \
    X(HTTP, "an HTTP error whose body named no code: code \"HTTP_<status>\"")                                  \
    X(TIMEOUT, "the request took longer than the client's timeout")                                          \
    X(TLS, "the TLS handshake or certificate verification failed")                                           \
    X(CONNECT, "no connection could be made")                                                                \
    X(RESOLVE, "the host name did not resolve")                                                              \
    X(NETWORK, "the connection broke during the exchange")                                                   \
    X(BAD_RESPONSE, "a 2xx answer that is not what the API documents, or that fails the checks of an answer") \
    X(TOO_LARGE, "a response past the client's size cap")                                                    \
    X(INVALID_ARGUMENT, "refused before anything was sent (bad id, duration, option)")                      \
    X(CONFIG, "missing or contradictory configuration")                                                      \
    X(INTERRUPTED, "SIGINT/SIGTERM stopped the call (stop_on_signals)")                                      \
    X(PARSE, "a kubeconfig, YAML or JSON text that cannot be read (message: where and what)")               \
    X(IO, "a file could not be read, written, locked or created")                                            \
    X(LOCKED, "another writer holds the kubeconfig's lock (message: who), or the lock file is not a file")  \
    X(NOT_FOUND, "no entry of that name")                                                                    \
    X(EXISTS, "the new name of a rename is taken")                                                           \
    X(CERT, "bytes that are not a certificate")                                                              \
    X(NO_CERT, "a user that authenticates otherwise (token, exec, auth-provider)")                           \
    X(NOMEM, "out of memory")

typedef enum cce_error_kind {
    CCE_E_NONE = 0,
#define CCE_E_ENUM_(name, what) CCE_E_##name,
    CCE_ERROR_KINDS(CCE_E_ENUM_)
#undef CCE_E_ENUM_
    CCE_E_COUNT_
} cce_error_kind;

/* "IO" for CCE_E_IO; "" for CCE_E_NONE or an unknown value. */
const char *cce_error_kind_name(cce_error_kind kind);
/* The sentence of CCE_ERROR_KINDS for it ("" when unknown). */
const char *cce_error_kind_describe(cce_error_kind kind);

/*
 * An operational error.  `kind` says what went wrong (CCE_ERROR_KINDS); `code`
 * is its stable, machine-readable string: the kind's name, or for
 * CCE_E_SERVICE/CCE_E_HTTP the service's code or "HTTP_<status>".  `status`
 * is the HTTP status (0 when no response arrived), `message` a human-readable
 * sentence with control characters escaped, `request_id` the service's
 * request id ("" if none).
 */
typedef struct cce_error {
    char code[64];
    int status;
    char request_id[96];
    char *message;  /* heap, may be NULL; freed by cce_error_clear() */
    cce_error_kind kind;
} cce_error;

void cce_error_clear(cce_error *err);

/* ----------------------------------------------------------------- logging */

/*
 * Log levels.  0 is "default" in cce_client_opts (warn, or CCEAUTO_LOG), so
 * every real level, error included, can be chosen.
 */
enum {
    CCE_LOG_DEFAULT = 0,
    CCE_LOG_ERROR = 1,
    CCE_LOG_WARN = 2,
    CCE_LOG_INFO = 3,  /* retries */
    CCE_LOG_DEBUG = 4, /* each request */
    CCE_LOG_TRACE = 5  /* curl's header and info trace, secrets redacted */
};

/* Receives one line (no trailing newline).  Secrets are already redacted. */
typedef void (*cce_log_fn)(void *ud, int level, const char *line);

/*
 * Parses "error|warn|info|debug|trace" ("warning" too, any case) or a digit
 * "0".."4" counted from error ("0" = error, "4" = trace, as CCEAUTO_LOG has
 * always read them) into a CCE_LOG_* level; -1 when unknown.
 */
int cce_log_level_parse(const char *s);

/* ------------------------------------------------------------------ global */

/* Initialises libcurl and OpenSSL.  Idempotent; returns 0 on success. */
int cce_global_init(void);
const char *cce_version(void);
/* "libcurl/7.88.1 OpenSSL/3.0.x libyaml/0.2.5 jansson/2.14": what the core was linked with. */
const char *cce_build_info(void);

/* ------------------------------------------------------------------ client */

typedef struct cce_client cce_client;

/*
 * Client options.  A NULL string or a zero number means "default": see
 * cce_client_opts_from_env(), else the built-in default noted beside the field.
 *
 * Credentials, in this order of precedence (first match wins): the options
 * here > the clouds.yaml entry `cloud` (or OS_CLOUD) with its secure.yaml >
 * the OS_* variables.  The first of those sources that holds a credential
 * chooses the method: a token, else an AK/SK pair, else a user's password;
 * the other fields (user, domain, region, ...) are taken field by field from
 * the first source that has them, a project id or name as one pair.
 *
 * A client with a password logs in lazily, at its first request, and keeps
 * the token in the token cache (see cache_dir); AK/SK signs every request.
 */
typedef struct cce_client_opts {
    const char *region;       /* OS_REGION_NAME / region_name; selects the CCE and IAM hosts */
    const char *project_id;   /* OS_PROJECT_ID / project_id */
    const char *project_name; /* OS_PROJECT_NAME / project_name: resolved to its id through IAM */
    const char *token;        /* OS_AUTH_TOKEN, else OS_TOKEN; sent as X-Auth-Token */
    const char *endpoint;     /* CCE_ENDPOINT / cce_endpoint_override; overrides the region's CCE URL */
    const char *ca_file;      /* OS_CACERT / cacert; CA bundle used to verify the endpoints */
    int insecure;             /* 1: skip TLS verification (never the default; clouds.yaml verify: false) */
    const char *cloud;        /* OS_CLOUD: an entry of clouds.yaml */
    const char *auth_url;     /* OS_AUTH_URL / auth_url; default the region's IAM, https://iam.{region}.otc.t-systems.com/v3 */
    const char *username;     /* OS_USERNAME / username */
    const char *user_id;      /* OS_USER_ID / user_id (needed with passcode) */
    const char *password;     /* OS_PASSWORD / password */
    const char *user_domain_name; /* OS_USER_DOMAIN_NAME, else OS_DOMAIN_NAME / user_domain_name, domain_name */
    const char *passcode;     /* OS_PASSCODE / passcode: a virtual MFA code, adds the totp method */
    const char *ak, *sk;      /* OS_ACCESS_KEY or OS_AK, OS_SECRET_KEY or OS_SK / ak, sk: AK/SK signing */
    const char *security_token; /* OS_SECURITY_TOKEN / security_token: temporary AK/SK */
    const char *cache_dir;    /* token cache; default $XDG_CACHE_HOME/cceauto, else ~/.cache/cceauto */
    int no_cache;             /* 1: never read or write the token cache */
    int interactive;          /* 1: a missing password or MFA passcode is asked for when stdin is a terminal */
    int use_env;              /* 1 (set by cce_client_opts_from_env): OS_CLOUD and the OS_* variables fill what is unset */
    long timeout_ms;          /* total time for one attempt; default 30000 */
    long connect_timeout_ms;  /* default 10000 */
    int retries;              /* extra attempts on 429/502/503/504/connection loss; default 4; -1 = none */
    long backoff_ms;          /* first backoff step, doubled per attempt, with jitter; default 500 */
    long max_backoff_ms;      /* cap of one wait, Retry-After included; default 60000 */
    size_t max_response;      /* response size cap in bytes; default 16 MiB */
    int log_level;            /* CCE_LOG_*; default (0) CCE_LOG_WARN */
    cce_log_fn log;           /* default: lines on stderr prefixed "cceauto: " */
    void *log_ud;
    int stop_on_signals;      /* 1: SIGINT/SIGTERM end a call of this client (a transfer, a retry wait)
                                 at once with "INTERRUPTED"; the signal is then kept for
                                 cce_client_take_signal().  The two signals are blocked during the
                                 call except while it waits, and have a handler of ours then
                                 (process-wide: one such call at a time). */
} cce_client_opts;

/* Lets the environment fill what the options leave unset: sets use_env (the
 * OS_* variables, OS_CLOUD, CCE_ENDPOINT, OS_CACERT, OS_INSECURE are read by
 * cce_client_new, below clouds.yaml) and reads CCEAUTO_LOG into log_level. */
void cce_client_opts_from_env(cce_client_opts *o);

/* Validates the options and copies every string; NULL on a configuration error. */
cce_client *cce_client_new(const cce_client_opts *o, cce_error *err);
void cce_client_free(cce_client *c);

/*
 * A client for another project and/or region with the same credentials (a
 * password asked for on the terminal is not asked again).  NULL arguments keep
 * the client's own; a project name is resolved at the first request.
 */
cce_client *cce_client_derive(cce_client *c, const char *project_id, const char *project_name, const char *region,
                              cce_error *err);

/* Who the client is; never a secret.  Strings point into the client. */
typedef struct cce_auth_info {
    const char *method;       /* "token", "aksk" or "password" */
    const char *project_id, *project_name, *user, *user_id, *domain, *region, *auth_url, *cloud;
    long long expires_at;     /* the token's expiry (Unix seconds), 0 when unknown or none */
    int from_cache;           /* the token came from the token cache */
} cce_auth_info;

/* Logs in or resolves the project first when that is still to be done. */
int cce_client_auth_info(cce_client *c, cce_auth_info *out, cce_error *err);

typedef struct cce_project {
    char *id, *name;
    int enabled;
} cce_project;

/* The projects the credentials can use (IAM /auth/projects, or /projects with AK/SK). */
int cce_client_projects(cce_client *c, cce_project **out, size_t *n, cce_error *err);
void cce_projects_free(cce_project *list, size_t n);

/* The base URL in use, e.g. "https://cce.eu-de.otc.t-systems.com" (NULL until a
 * login found it in the service catalog, for a region outside the built-in table). */
const char *cce_client_endpoint(const cce_client *c);
const char *cce_client_project_id(const cce_client *c);
const char *cce_client_region(const cce_client *c);
const char *cce_client_project_name(const cce_client *c);  /* NULL until known */

/* Statistics since the client was made (for tests and benchmarks). */
typedef struct cce_client_stats {
    unsigned long requests;   /* HTTP attempts sent */
    unsigned long retries;    /* of which were retries */
} cce_client_stats;
void cce_client_stats_get(const cce_client *c, cce_client_stats *out);

/*
 * The signal (SIGINT or SIGTERM) a call of this client caught with
 * stop_on_signals, else 0; clears it.  A caller that wants the signal to act
 * as it would have without cceauto raises it again: the Lua binding does, so
 * ^C during c:clustercert() is "interrupted!" as in Lua code.
 */
int cce_client_take_signal(cce_client *c);

/* ---------------------------------------------------------------- clusters */

typedef struct cce_cluster {
    char *id;                 /* metadata.uid */
    char *name;               /* metadata.name */
    char *phase;              /* status.phase */
    char *version;            /* spec.version */
    char *type;               /* spec.type */
    char *flavor;             /* spec.flavor */
    char *endpoint_internal;  /* from either endpoints shape; NULL if absent */
    char *endpoint_external;  /* NULL when the cluster has no EIP */
    char *raw_json;           /* the whole cluster object as the API sent it */
} cce_cluster;

void cce_cluster_clear(cce_cluster *cl);
void cce_clusters_free(cce_cluster *list, size_t n);

/* Lists the project's clusters.  *out is an array of *n clusters. */
int cce_clusters_list(cce_client *c, cce_cluster **out, size_t *n, cce_error *err);
/* Reads one cluster. */
int cce_cluster_get(cce_client *c, const char *cluster_id, cce_cluster *out, cce_error *err);

/* Parses one cluster object (JSON text) as returned by the API. */
int cce_cluster_parse(const char *json, size_t len, cce_cluster *out, cce_error *err);

/* Ids go into URL paths: only letters, digits and '-' are accepted. */
int cce_id_valid(const char *id);

#define CCE_DURATION_MAX 1825

/* 1..1825 days, or -1 for the maximum. */
int cce_duration_valid(long days);

typedef struct cce_kubeconfig cce_kubeconfig;

/*
 * Obtains a cluster certificate: POST .../clusters/{id}/clustercert with
 * {"duration": days}.  Returns the kubeconfig the API sent.  An invalid id or
 * duration is refused with INVALID_ARGUMENT before any request is sent.
 */
cce_kubeconfig *cce_clustercert(cce_client *c, const char *cluster_id, long days, cce_error *err);

/* ------------------------------------------------------------------- batch */

/*
 * Many clustercert calls at once, possibly for several clients (projects,
 * regions): one curl multi loop with bounded concurrency, connections reused
 * (HTTP/2 multiplexing when the server offers it), retries scheduled inside
 * the loop without holding up other transfers (Retry-After honoured), a
 * deadline per item, progress between transfers, and results in input order.
 */
enum cce_batch_op {
    CCE_OP_CLUSTERCERT = 0,   /* POST clusters/{id}/clustercert: kc */
    CCE_OP_CLUSTERS = 1,      /* GET clusters (the client's project): clusters, nclusters */
    CCE_OP_VERIFY = 2,        /* GET {server}/api with a kubeconfig's client certificate: verified */
};

typedef struct cce_batch_item {
    cce_client *client;       /* in */
    const char *cluster_id;   /* in (CLUSTERCERT); must live during the call */
    long days;                /* in (CLUSTERCERT): 1..1825 or -1 */
    int op;                   /* in: enum cce_batch_op */
    cce_kubeconfig *kc;       /* out on success (CLUSTERCERT); the caller frees it */
    cce_cluster *clusters;    /* out on success (CLUSTERS, unless want_json); cce_clusters_free() */
    size_t nclusters;
    int want_json;            /* in (CLUSTERS): leave the answer's "items" in `json` instead (bindings) */
    void *json;               /* out: a jansson array reference, see want_json */
    const cce_kubeconfig *check;  /* in (VERIFY): the kubeconfig whose context is checked, its server reached
                                     with its CA data (or none with insecure-skip-tls-verify), its user's
                                     certificate and key; the client gives only timeouts and retries */
    const char *check_context;    /* in (VERIFY): NULL: the current context, else the only one */
    int verified;                 /* out (VERIFY): the API server answered 2xx */
    long status;                  /* out: the last HTTP status, 0 when none came */
    cce_error err;            /* out on failure ("INTERRUPTED" when stopped before it ended) */
    int attempts;             /* out: requests sent for it */
} cce_batch_item;

typedef struct cce_batch_progress {
    size_t total, done, failed, in_flight, waiting;  /* waiting: for a retry */
    double elapsed_s, rate, eta_s;                   /* items per second; eta -1 when unknown */
} cce_batch_progress;

/* Called between transfers, never inside curl; return non-zero to stop the batch. */
typedef int (*cce_batch_progress_fn)(void *ud, const cce_batch_progress *p);

typedef struct cce_batch_opts {
    int concurrency;                 /* transfers at once; default 16 */
    long deadline_ms;                /* per item, from its first request; 0: none */
    cce_batch_progress_fn progress;  /* may be NULL */
    void *progress_ud;
    long progress_interval_ms;       /* default 200; the last call comes when all are done */
    int stop_on_signals;             /* 1: SIGINT/SIGTERM stop the batch while it runs: no request starts
                                        after the signal; blocked except while the batch waits, with a
                                        handler of ours (process-wide: one such batch at a time).  The
                                        signal is consumed: the batch's result reports it. */
} cce_batch_opts;

typedef struct cce_batch_stats {
    size_t ok, failed;
    unsigned long requests, retries, connections;  /* connections: TLS connections opened */
    double elapsed_s;
    int interrupted;                 /* a signal or the progress callback stopped it */
} cce_batch_stats;

/*
 * Runs the batch; every item ends with kc or err set.  Returns 0, or -1 when
 * it was stopped (the items that finished keep their results).
 */
int cce_clustercert_batch(cce_batch_item *items, size_t n, const cce_batch_opts *opts, cce_batch_stats *stats);

/* -------------------------------------------------------------- kubeconfig */

/* Parses YAML or JSON kubeconfig text.  `source` names it in errors (a path, "<response>"). */
cce_kubeconfig *cce_kubeconfig_parse(const char *text, size_t len, const char *source, cce_error *err);
cce_kubeconfig *cce_kubeconfig_new(void);
cce_kubeconfig *cce_kubeconfig_copy(const cce_kubeconfig *kc);
void cce_kubeconfig_free(cce_kubeconfig *kc);

/* Serialises; *out is a NUL-terminated heap string the caller frees with free(). */
int cce_kubeconfig_to_yaml(const cce_kubeconfig *kc, char **out, size_t *len, cce_error *err);
int cce_kubeconfig_to_json(const cce_kubeconfig *kc, int pretty, char **out, size_t *len, cce_error *err);

/* NULL when unset.  The string belongs to kc and lives until kc changes. */
const char *cce_kubeconfig_current_context(const cce_kubeconfig *kc);
/* Sets current-context to an existing context (NULL unsets it); "NOT_FOUND" otherwise. */
int cce_kubeconfig_use_context(cce_kubeconfig *kc, const char *name, cce_error *err);

enum cce_kc_section { CCE_KC_CLUSTERS = 0, CCE_KC_USERS = 1, CCE_KC_CONTEXTS = 2 };

/*
 * Cost: set, remove, rename (references included) and remove_context are
 * O(1) amortised, count O(1).  The positional calls (name, entry_json, find)
 * first sweep out the places of removed entries, O(n) once after a run of
 * removals; use names, not positions, between edits.
 */

/* Number of entries in a section, and the name of entry i (owned by kc). */
size_t cce_kubeconfig_count(const cce_kubeconfig *kc, enum cce_kc_section s);
const char *cce_kubeconfig_name(const cce_kubeconfig *kc, enum cce_kc_section s, size_t i);
/* Entry i's inner object ("cluster", "user" or "context") as compact JSON; caller frees. */
char *cce_kubeconfig_entry_json(const cce_kubeconfig *kc, enum cce_kc_section s, size_t i);
/* Index of the entry with that name, or -1. */
long cce_kubeconfig_find(const cce_kubeconfig *kc, enum cce_kc_section s, const char *name);
/* Adds or replaces an entry; `inner_json` is its inner object as JSON text. */
int cce_kubeconfig_set_entry(cce_kubeconfig *kc, enum cce_kc_section s, const char *name, const char *inner_json,
                             cce_error *err);
/* Removes one entry (no cascading); "NOT_FOUND" when absent. */
int cce_kubeconfig_remove(cce_kubeconfig *kc, enum cce_kc_section s, const char *name, cce_error *err);

/*
 * Renames an entry.  Renaming a cluster or user updates the contexts that
 * refer to it; renaming the current context updates current-context.
 * "NOT_FOUND" when `from` is absent, "EXISTS" when `to` is taken.
 */
int cce_kubeconfig_rename(cce_kubeconfig *kc, enum cce_kc_section s, const char *from, const char *to, cce_error *err);

/*
 * Removes a context, then its cluster and user when no other context refers
 * to them (unless keep_orphans).  A removed current context unsets
 * current-context.
 */
int cce_kubeconfig_remove_context(cce_kubeconfig *kc, const char *name, int keep_orphans, cce_error *err);

/*
 * A new kubeconfig holding one context (NULL: the current one), its cluster
 * and its user, with current-context set to it, like
 * `kubectl config view --minify --flatten`: certificate and key files are
 * read and inlined as *-data (relative paths against the file the entry came
 * from).
 */
cce_kubeconfig *cce_kubeconfig_select(const cce_kubeconfig *kc, const char *context, cce_error *err);

enum {
    CCE_MERGE_REPLACE = 1,      /* an entry of `other` replaces one of the same name (default: keep ours) */
    CCE_MERGE_SET_CURRENT = 2,  /* take other's current-context (default: ours stays) */
};
typedef struct cce_merge_stats {
    size_t added, replaced, kept;
} cce_merge_stats;
/* Merges other's clusters, users and contexts into kc.  `stats` may be NULL. */
int cce_kubeconfig_merge(cce_kubeconfig *kc, const cce_kubeconfig *other, unsigned flags, cce_merge_stats *stats,
                         cce_error *err);

/*
 * Problems that kubectl tolerates but a user should hear of: a context that
 * names a missing cluster or user, a current-context that names no context.
 * Returns how many; *out (may be NULL) gets a NULL-terminated array of
 * messages to free with cce_strings_free().
 */
size_t cce_kubeconfig_check(const cce_kubeconfig *kc, char ***out);
void cce_strings_free(char **list);

/*
 * Loads like kubectl: path NULL means every file of $KUBECONFIG (':'-separated,
 * the first file that names an entry wins, as kubectl merges) or else
 * ~/.kube/config.  A missing file is an empty config.  The object remembers
 * which file each entry came from, for cce_kubeconfig_save(kc, NULL, ...).
 */
cce_kubeconfig *cce_kubeconfig_load(const char *path, cce_error *err);
/* The files it was loaded from (NULL past the end). */
const char *cce_kubeconfig_file(const cce_kubeconfig *kc, size_t i);

typedef struct cce_save_opts {
    long lock_timeout_ms;  /* how long to wait for another writer's lock; default 10000 */
    int overwrite;         /* 1: write exactly this document, dropping what else the file has */
    /*
     * Called (may be NULL) with each thing the save did that the user should
     * hear of: a file holding private keys made private (mode 0600), a missing
     * directory created.  `text` names the path; it lives for the call only.
     */
    void (*notice)(void *ud, const char *text);
    void *notice_ud;
} cce_save_opts;

/*
 * Saves without ever losing data.  Under the file's lock (<file>.lock, as
 * kubectl), the file is read again and this object's changes since it was
 * loaded (entries added, changed, renamed or removed; current-context) are
 * applied to what is on disk now, so entries written meanwhile by another
 * program survive.  Saving to a file the object was not loaded from adds or
 * replaces its entries there and never removes any; current-context is set
 * only when the file has none.  The file is replaced atomically (temporary
 * file, fsync, rename, fsync of the directory), mode 0600 when new, its mode
 * kept otherwise; through a symlink its target is updated.  path NULL: back
 * to the files it was loaded from, each changed entry to the file it came
 * from and new entries to the first file.  Nothing is written when nothing
 * changed.  Afterwards the object shows the file(s) as saved.
 * *written (may be NULL) tells how many files were written.
 * A file written with a user's client-key-data in it loses its group and
 * other permissions (0644 becomes 0600), and a missing directory of the
 * target is created with mode 0700; both are told through opts->notice.
 * Cost: O(entries of the files) per save, whatever was changed.
 */
int cce_kubeconfig_save(cce_kubeconfig *kc, const char *path, const cce_save_opts *opts, size_t *written,
                        cce_error *err);

/*
 * Creates directory `path` and its missing parents (mkdir -p), each new one
 * with mode `mode` (0700 for cceauto's own).  An existing directory is fine;
 * anything else in the way is an error ("IO") naming the path.
 */
int cce_dir_create(const char *path, unsigned mode, cce_error *err);

/* -------------------------------------------------------------- certificates */

/* What a kubeconfig user needs to know about an X.509 certificate. */
typedef struct cce_cert_info {
    time_t not_before;     /* UTC, seconds since the epoch */
    time_t not_after;
    double days_left;      /* (not_after - now) / 86400; negative once expired */
    char subject[256];     /* one line, RFC 2253 order: "CN=cce-user,O=system:masters" */
    char issuer[256];
    char serial[80];       /* uppercase hex, no separators, as `openssl x509 -serial` */
    char sha256[96];       /* "AB:CD:...", as `openssl x509 -fingerprint -sha256` */
} cce_cert_info;

/* The first certificate in PEM (or DER) bytes.  Error codes: "CERT" (not a certificate). */
int cce_cert_parse(const void *data, size_t len, cce_cert_info *out, cce_error *err);
/* The same for a file; "IO" when it cannot be read. */
int cce_cert_parse_file(const char *path, cce_cert_info *out, cce_error *err);

/*
 * A user's client certificate (client-certificate-data, else the file named by
 * client-certificate) or a cluster's CA (certificate-authority-data /
 * certificate-authority).  Errors: "NOT_FOUND" (no such entry), "NO_CERT"
 * (the user authenticates otherwise: token, exec, auth-provider), "CERT",
 * "IO".
 */
int cce_kubeconfig_user_cert(const cce_kubeconfig *kc, const char *user, cce_cert_info *out, cce_error *err);
int cce_kubeconfig_cluster_ca(const cce_kubeconfig *kc, const char *cluster, cce_cert_info *out, cce_error *err);

/* -------------------------------------------------------------------- globs */

/*
 * The shell globs of --match and --version: `*` any bytes, `?` one byte, `[abc]`,
 * `[a-z]`, `[!a-c]` or `[^a-c]` one byte of / not of a set (`\x` inside a set is x),
 * `\x` the byte x; a `[` with no closing `]` and a trailing `\` are literal.  The whole
 * text must match.  Matching takes O(glob length x text length) time at worst and no
 * memory: no backtracking blow-up whatever the pattern.
 */
/* 0, or -1 with "INVALID_ARGUMENT" when the glob has a set with no member ("[z-a]"). */
int cce_glob_valid(const char *glob, cce_error *err);
/* 1 when text matches glob, 0 when not, -1 when the glob is not valid. */
int cce_glob_match(const char *glob, size_t glen, const char *text, size_t tlen);

#ifdef __cplusplus
}
#endif
#endif
