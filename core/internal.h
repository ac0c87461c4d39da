/* internal.h - helpers shared by the core's translation units (not installed). */
#ifndef CCE_INTERNAL_H
#define CCE_INTERNAL_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>

#include "cce.h"

#if defined(__GNUC__)
#define CCE_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CCE_PRINTF(a, b)
#endif

/* A growable byte buffer, always NUL-terminated once anything was appended. */
typedef struct cce_buf {
    char *data;
    size_t len, cap;
} cce_buf;

int cce_buf_reserve(cce_buf *b, size_t extra);
int cce_buf_append(cce_buf *b, const void *p, size_t n);
int cce_buf_puts(cce_buf *b, const char *s);
int cce_buf_printf(cce_buf *b, const char *fmt, ...) CCE_PRINTF(2, 3);
void cce_buf_free(cce_buf *b);
/* Hands the data over (never NULL on success: an empty buffer gives ""). */
char *cce_buf_steal(cce_buf *b, size_t *len);

/* Fills err (if not NULL): code, HTTP status and a printf-style message. Returns -1. */
int cce_set_error(cce_error *err, cce_error_kind kind, int status, const char *fmt, ...) CCE_PRINTF(4, 5);
/* The same with a code of the answer's own (CCE_E_SERVICE, CCE_E_HTTP) or copied from another error. */
int cce_set_error_code(cce_error *err, cce_error_kind kind, const char *code, int status, const char *fmt, ...)
    CCE_PRINTF(5, 6);

char *cce_strdup(const char *s);  /* NULL-safe strdup */
/* The non-empty string at o[k], else NULL (o may be anything, NULL included). */
const char *cce_json_str(const json_t *o, const char *k);
/* 1 when `word` occurs in `text`, ignoring ASCII case. */
int cce_contains_ci(const char *text, const char *word);

/*
 * Copies `in` to out (at most cap bytes with the NUL) with control characters
 * escaped: "\n" "\r" "\t", other C0 bytes and DEL as "\x1b", C1 controls as
 * "\u009b".  Returns the length written.  cce_set_error() applies it to every
 * code and message, so server text never reaches a terminal raw.
 */
size_t cce_escape_control(const char *in, char *out, size_t cap);

/*
 * YAML <-> JSON tree (libyaml).  Kubeconfig files are YAML; the model keeps
 * them as a jansson tree so that every field it does not interpret survives.
 *
 * cce_yaml_load: parses one YAML document into a new reference.  Plain scalars
 * resolve as YAML 1.1 does for kubectl (null/~/empty, true/false/yes/no/on/off,
 * integers, floats); quoted scalars and !!str are strings.  Anchors and aliases
 * are expanded.  Mapping keys become text as sigs.k8s.io/yaml makes them
 * (`yes:` is "true", `010:` is "8"); a null key is an error.  On error: NULL and err->code "PARSE", message
 * "<source>:<line>:<column>: <problem>" (1-based).  JSON is YAML, so JSON text
 * loads too.
 *
 * cce_yaml_dump: block-style YAML the way kubectl writes it: mapping keys in
 * byte order at every level, sequences of mappings as "- key: ...", strings
 * quoted only when a plain scalar would read back as something else, empty
 * objects as {} and empty arrays as [].  The same tree always gives the same
 * bytes.  Returns 0, or -1 on allocation failure.
 */
json_t *cce_yaml_load(const char *text, size_t len, const char *source, cce_error *err);
int cce_yaml_dump(const json_t *v, cce_buf *out);

/*
 * Go's base64.StdEncoding.Decode (what kubectl applies to []byte fields and
 * !!binary): line breaks skipped, '=' padding required.  out (NULL: only
 * check) gets at most n / 4 * 3 bytes; the decoded length or (size_t)-1.
 */
size_t cce_yaml_base64_decode(const char *s, size_t n, unsigned char *out);

/*
 * Collection nesting both cce_yaml_load and cce_yaml_dump accept (the root
 * collection is level 1): what one writes, the other reads.
 */
#define CCE_YAML_MAX_DEPTH 512

/*
 * kcschema.c: a parsed kubeconfig checked against client-go's v1 types as
 * kubectl decodes them (types of the declared fields, Go base64 in []byte
 * fields, unique extension names) and against CCE_YAML_MAX_DEPTH, so what
 * kubectl refuses, or what could not be written back, is refused at load
 * with the entry and field named.  0, or -1 with err->code "PARSE".
 * check_inner does the same for one entry's inner mapping (section s:
 * 0 clusters, 1 users, 2 contexts).
 */
int cce_kcschema_check(const json_t *root, const char *source, cce_error *err);
int cce_kcschema_check_inner(int s, const json_t *inner, const char *source, const char *name, cce_error *err);

/* ------------------------------------------------------------- AK/SK signing */

/*
 * SDK-HMAC-SHA256, the documented AK/SK signature (shared CCE_API.md):
 * `target` is the path with its query as sent ("/v3/projects?name=x"); every
 * header in `headers` is signed and X-Sdk-Date must be one of them.  Fills
 * *out with the canonical request's hash, the signature and the whole
 * Authorization header value.  The SK is used only as the HMAC key.
 */
typedef struct cce_sign_header {
    const char *name, *value;
} cce_sign_header;
typedef struct cce_sign_result {
    char canonical_hash[65];
    char signature[65];
    char authorization[512];
} cce_sign_result;
int cce_sign_request(const char *method, const char *target, const cce_sign_header *headers, size_t nh,
                     const void *body, size_t body_len, const char *ak, const char *sk, cce_sign_result *out,
                     cce_error *err);

/* ------------------------------------------------------------------ HTTP */

/* One HTTP exchange's outcome, as the retry loop and the error reader see it. */
typedef struct cce_http_resp {
    long status;            /* 0: no response (transport failure) */
    cce_buf body;
    char request_id[96];    /* X-Request-Id header */
    char content_type[96];
    long retry_after_ms;    /* Retry-After header; -1 when absent */
    int too_large;          /* the body passed the client's cap */
    cce_buf subject_token;  /* X-Subject-Token (an IAM login's token): cleansed by cce_http_resp_free */
} cce_http_resp;

void cce_http_resp_reset(cce_http_resp *r);
void cce_http_resp_free(cce_http_resp *r);

/* What curl's callbacks fill during one transfer. */
typedef struct cce_xfer {
    cce_client *c;
    cce_http_resp *resp;
    struct curl_slist *headers;  /* this attempt's, with the token or signature; freed by the next prepare */
    unsigned token_gen;          /* the generation of the token sent */
} cce_xfer;
/* Frees (cleansing) the transfer's headers. */
void cce_xfer_done(cce_xfer *x);

/*
 * Sets up an easy handle for one attempt with the client's settings (TLS,
 * timeouts, headers with the token, size cap, trace), resetting *x->resp.
 * `url`, `body` and `errbuf` (CURL_ERROR_SIZE) must live until the transfer ends.
 * -1 (err filled) when the headers cannot be made (signing failed, no token).
 */
int cce_http_prepare(cce_client *c, CURL *h, const char *method, const char *url, const char *body, unsigned flags,
                     cce_xfer *x, char *errbuf, cce_error *err);
/* The client's API base for a path: "<endpoint>/api/v3/projects/<project>/<path>". */
int cce_http_url(const cce_client *c, const char *path, cce_buf *out);
long cce_client_timeout_ms(const cce_client *c);
void cce_client_count_request(cce_client *c, int retry);

/*
 * Sends METHOD base/api/v3/projects/<project>/<path> with an optional JSON body,
 * retrying as the client's policy says.  Returns 0 with a 2xx response in
 * *resp; otherwise -1 with *err describing the final failure.  `what` names
 * the operation in error messages ("list clusters", "clustercert <id>").
 * The transfer and the retry waits run on the client's epoll loop; with
 * stop_on_signals, SIGINT/SIGTERM end either at once with "INTERRUPTED".
 */
int cce_http_call(cce_client *c, const char *method, const char *path, const char *body,
                  const char *what, cce_http_resp *resp, cce_error *err);

/*
 * The retry policy, one function for the one-shot and the batch paths: the
 * delay before attempt `attempt + 1` (attempt counts from 0) after a transfer
 * that ended with curl code `curl_code` and HTTP status `status`, or -1 when
 * the failure is final.  On a Retry-After past the client's cap, *why says so.
 */
long cce_retry_delay_ms(cce_client *c, int attempt, int curl_code, long status,
                        long retry_after_ms, const char **why);

/*
 * What one attempt's end means, for the one-shot and the batch paths alike:
 * 0 success (2xx); 1 retry after *delay ms; -1 final, with *err filled (a
 * retry that would have to wait longer than max_delay_ms, when >= 0, is final).
 */
int cce_http_outcome(cce_client *c, int attempt, int curl_code, const cce_http_resp *resp, const char *errbuf,
                     const char *what, long max_delay_ms, long *delay, cce_error *err);

/* Turns a non-2xx response into an error (every CCE/IAM/APIG body format). */
int cce_error_from_response(const cce_http_resp *r, const char *what, cce_error *err);
/* Turns a transport failure (curl code, curl's error text) into an error. */
int cce_error_from_transport(int curl_code, const char *detail, const cce_http_resp *r,
                             const char *what, cce_error *err);

void cce_log(const cce_client *c, int level, const char *fmt, ...) CCE_PRINTF(3, 4);

/*
 * One line of curl's trace (`in`, n bytes, a trailing newline dropped) with
 * secrets replaced by "<redacted>": the values of secret headers (X-Auth-Token,
 * Authorization, X-Subject-Token, X-Security-Token, Proxy-Authorization,
 * Cookie, Set-Cookie; any case) as "Name: value" and as HTTP/2's
 * "[name: value]", and `token` (may be NULL) wherever it appears.
 */
void cce_redact_line(const char *in, size_t n, const char *token, cce_buf *out);

/* ------------------------------------------------------------ kubeconfig */

/* Entry i's inner mapping, borrowed (for the bindings: no JSON text round trip). */
json_t *cce_kubeconfig_entry_inner(const cce_kubeconfig *kc, enum cce_kc_section s, size_t i);
/* The entry (name and inner mapping) named `name`, borrowed, or NULL; O(1), unlike find + entry_inner after removals. */
json_t *cce_kubeconfig_entry_named(const cce_kubeconfig *kc, enum cce_kc_section s, const char *name);

/* The project's clusters as the API sent them (a new reference to the "items" array). */
json_t *cce_clusters_list_json(cce_client *c, cce_error *err);
/* verify.c: sets up `h` for GET {server}/api of the kubeconfig's context (see CCE_OP_VERIFY). */
int cce_verify_prepare(cce_client *c, CURL *h, const cce_kubeconfig *kc, const char *context, cce_xfer *x,
                       char *errbuf, cce_buf *url, struct curl_slist **connect_to, cce_error *err);
/* A 2xx list answer's "items" (a new reference), or NULL with err. */
json_t *cce_clusters_response(const cce_http_resp *r, cce_error *err);
/* The clusters of an "items" array, raw_json included. */
int cce_clusters_from_items(json_t *items, cce_cluster **out, size_t *n, cce_error *err);
/* Reads one cluster object; raw_json only when with_raw (the bindings read the tree itself). */
int cce_cluster_from_json(json_t *o, cce_cluster *cl, int with_raw, cce_error *err);

/* Reads a 2xx clustercert answer into a kubeconfig ("BAD_RESPONSE" when it is not one). */
cce_kubeconfig *cce_clustercert_response(const cce_http_resp *r, const char *what, cce_error *err);
/* The request of a clustercert call: path "clusters/<id>/clustercert" and body; -1 on invalid input. */
int cce_clustercert_request(const char *cluster_id, long days, char *path, size_t path_len, char *body, size_t body_len,
                            cce_error *err);

/*
 * Checks of a clustercert answer (x509.c), with OpenSSL: `cert_b64` and
 * `key_b64` (client-certificate-data, client-key-data) are strict base64 of
 * PEM, the certificate parses, its validity period is sane at `now` (not
 * expired, not starting more than CCE_CLOCK_SKEW_S ahead, ending after it
 * begins), the unencrypted private key parses and matches the certificate's
 * public key.  cce_ca_check: certificate-authority-data is base64 of PEM
 * certificates only.  0, -1 with the reason in `why` (never key material), or
 * -2 out of memory.
 */
#define CCE_CLOCK_SKEW_S 3600
int cce_credential_check(const char *cert_b64, const char *key_b64, time_t now, char *why, size_t cap);
int cce_ca_check(const char *ca_b64, char *why, size_t cap);

/* Takes the reference `root` (an object) and checks/normalises it into a model. */
cce_kubeconfig *cce_kubeconfig_from_json(json_t *root, const char *source, cce_error *err);

/* ------------------------------------------------------------------ files */

/*
 * Reads a whole file into *out (NUL-terminated).  A file that does not exist
 * gives 0 with *missing = 1 and an empty buffer; other failures -1 with "IO"
 * and *out freed (nothing for the caller to free).
 */
int cce_file_read(const char *path, cce_buf *out, int *missing, cce_error *err);

/*
 * Replaces `path` atomically: writes a temporary file in the target's own
 * directory, fsyncs it, renames it over the target and fsyncs the directory.
 * A symlink is followed: its final target is replaced, the link stays.  An
 * existing file keeps its mode (and, for root, its owner); a new one gets
 * `new_mode`.  On any failure the old file is untouched and no temporary file
 * is left behind; -1 with "IO" and a message naming the path and the reason.
 */
int cce_file_write_atomic(const char *path, const void *data, size_t len, unsigned new_mode, cce_error *err);
/*
 * The same, and an existing file's mode loses the bits in `clear_mode` (077:
 * no longer readable by group and others).  *old_mode (may be NULL) gets the
 * existing file's mode, 0 when there was none.
 */
int cce_file_write_atomic_mode(const char *path, const void *data, size_t len, unsigned new_mode, unsigned clear_mode,
                               unsigned *old_mode, cce_error *err);

/*
 * The kubeconfig lock, compatible with kubectl's: the file "<path>.lock"
 * created with O_EXCL.  The holder writes "<pid> <hostname>\n" into it and
 * keeps an flock() on it, so a lock whose holder died (even by kill -9) is
 * recognised as stale and broken safely; one with no flock, a dead or absent
 * pid and older than 30 s (kubectl's, or one from another machine) too.
 * Waits up to timeout_ms for a live lock, then fails with "LOCKED" and a
 * message that says who holds it.  `path` is resolved through symlinks first,
 * so every writer locks the real file.
 */
typedef struct cce_lock cce_lock;

/*
 * Removes what writers killed mid-save left beside `path`'s real target:
 * ".<name>.tmp-XXXXXX" files (call it only while holding the lock, when no
 * save of ours is in progress) and ".<name>.lock-XXXXXX" files older than 30 s.
 */
void cce_file_clean_stale(const char *path);
cce_lock *cce_lock_acquire(const char *path, long timeout_ms, cce_error *err);
void cce_lock_release(cce_lock *l); /* NULL-safe; removes the lock file */

#endif
