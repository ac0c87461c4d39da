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
 * An operational error.  `code` is a stable, machine-readable string:
 *   "CCE.01404001", "APIG.0101", ...  the service's own error code, when the body had one
 *   "HTTP_<status>"                   an HTTP error whose body named no code
 *   "TIMEOUT" "TLS" "CONNECT" "RESOLVE" "NETWORK"   transport failures
 *   "BAD_RESPONSE"                    a 2xx answer that is not what the API documents
 *   "TOO_LARGE"                       a response past the client's size cap
 *   "INVALID_ARGUMENT"                refused before anything was sent
 *   "CONFIG"                          missing or contradictory configuration
 *   "PARSE" "IO" "NOMEM"
 * `status` is the HTTP status (0 when no response arrived), `message` a
 * human-readable sentence, `request_id` the service's request id ("" if none).
 */
typedef struct cce_error {
    char code[64];
    int status;
    char request_id[96];
    char *message;  /* heap, may be NULL; freed by cce_error_clear() */
} cce_error;

void cce_error_clear(cce_error *err);

/* ----------------------------------------------------------------- logging */

enum { CCE_LOG_ERROR = 0, CCE_LOG_WARN = 1, CCE_LOG_INFO = 2, CCE_LOG_DEBUG = 3, CCE_LOG_TRACE = 4 };

/* Receives one line (no trailing newline).  Secrets are already redacted. */
typedef void (*cce_log_fn)(void *ud, int level, const char *line);

/* Parses "error|warn|info|debug|trace" or a digit; -1 when unknown. */
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
 * Client options.  A NULL string or a zero number means "default": the
 * environment when cce_client_opts_from_env() filled it, else the built-in
 * default noted beside the field.
 */
typedef struct cce_client_opts {
    const char *region;       /* OS_REGION_NAME; selects https://cce.{region}.otc.t-systems.com */
    const char *project_id;   /* OS_PROJECT_ID; required */
    const char *token;        /* OS_AUTH_TOKEN, else OS_TOKEN; sent as X-Auth-Token */
    const char *endpoint;     /* CCE_ENDPOINT; overrides the region's URL */
    const char *ca_file;      /* OS_CACERT; CA bundle used to verify the endpoint */
    int insecure;             /* 1: skip TLS verification (never the default) */
    long timeout_ms;          /* total time for one attempt; default 30000 */
    long connect_timeout_ms;  /* default 10000 */
    int retries;              /* extra attempts on 429/502/503/504/connection loss; default 4; -1 = none */
    long backoff_ms;          /* first backoff step, doubled per attempt, with jitter; default 500 */
    long max_backoff_ms;      /* cap of one wait, Retry-After included; default 60000 */
    size_t max_response;      /* response size cap in bytes; default 16 MiB */
    int log_level;            /* CCE_LOG_*; default CCE_LOG_WARN */
    cce_log_fn log;           /* default: lines on stderr prefixed "cceauto: " */
    void *log_ud;
} cce_client_opts;

/* Fills unset fields of *o from the environment (OS_*, CCE_ENDPOINT, CCEAUTO_LOG).
 * The strings point into the environment: copy them if the environment may change. */
void cce_client_opts_from_env(cce_client_opts *o);

/* Validates the options and copies every string; NULL on a configuration error. */
cce_client *cce_client_new(const cce_client_opts *o, cce_error *err);
void cce_client_free(cce_client *c);

/* The base URL in use, e.g. "https://cce.eu-de.otc.t-systems.com". */
const char *cce_client_endpoint(const cce_client *c);
const char *cce_client_project_id(const cce_client *c);
const char *cce_client_region(const cce_client *c);

/* Statistics since the client was made (for tests and benchmarks). */
typedef struct cce_client_stats {
    unsigned long requests;   /* HTTP attempts sent */
    unsigned long retries;    /* of which were retries */
} cce_client_stats;
void cce_client_stats_get(const cce_client *c, cce_client_stats *out);

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

enum cce_kc_section { CCE_KC_CLUSTERS = 0, CCE_KC_USERS = 1, CCE_KC_CONTEXTS = 2 };

/* Number of entries in a section, and the name of entry i (owned by kc). */
size_t cce_kubeconfig_count(const cce_kubeconfig *kc, enum cce_kc_section s);
const char *cce_kubeconfig_name(const cce_kubeconfig *kc, enum cce_kc_section s, size_t i);
/* Entry i's inner object ("cluster", "user" or "context") as compact JSON; caller frees. */
char *cce_kubeconfig_entry_json(const cce_kubeconfig *kc, enum cce_kc_section s, size_t i);

#ifdef __cplusplus
}
#endif
#endif
