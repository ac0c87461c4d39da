/*
 * test_answer.c - a clustercert answer is checked before anything is taken
 * from it (cce_clustercert_response, the path of c:clustercert and
 * cce.fetch): every hostile or broken answer is refused with BAD_RESPONSE
 * naming the entry and the reason, never quoting key material; a good one
 * gives a kubeconfig of the whitelisted fields only.  Certificates and keys
 * are made here with OpenSSL.
 */
#include <errno.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "internal.h"

static char tmpdir[512];

/* ------------------------------------------------------------ fixtures */

static EVP_PKEY *new_key(void) { return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"); }

/* A certificate for `key`, signed by `signer`, valid from now+from_s to now+to_s. */
static X509 *new_cert(EVP_PKEY *key, EVP_PKEY *signer, long from_s, long to_s, const char *cn)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
    X509_gmtime_adj(X509_getm_notBefore(x), from_s);
    X509_gmtime_adj(X509_getm_notAfter(x), to_s);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, n);
    X509_set_pubkey(x, key);
    if (!X509_sign(x, signer, EVP_sha256())) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* base64 (one line) of what `write` puts in a memory BIO; caller frees. */
static char *b64_of_bio(BIO *m)
{
    char *p = NULL;
    long n = BIO_get_mem_data(m, &p);
    char *out = malloc((size_t)n / 3 * 4 + 8);
    int w = EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)p, (int)n);
    out[w] = '\0';
    return out;
}

static char *cert_b64(X509 *x)
{
    BIO *m = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(m, x);
    char *s = b64_of_bio(m);
    BIO_free(m);
    return s;
}

static char *key_b64(EVP_PKEY *k, int encrypted)
{
    BIO *m = BIO_new(BIO_s_mem());
    if (encrypted)
        PEM_write_bio_PrivateKey(m, k, EVP_aes_128_cbc(), (unsigned char *)"secret", 6, NULL, NULL);
    else
        PEM_write_bio_PrivateKey(m, k, NULL, NULL, 0, NULL, NULL);
    char *s = b64_of_bio(m);
    BIO_free(m);
    return s;
}

static char *text_b64(const char *text)
{
    size_t n = strlen(text);
    char *out = malloc(n / 3 * 4 + 8);
    int w = EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)text, (int)n);
    out[w] = '\0';
    return out;
}

static char *CERT, *KEY, *CA, *OTHER_KEY, *EXPIRED, *FUTURE, *BACKWARDS, *ENC_KEY, *EXPIRED_KEY;
static char *TRAD_KEY, *RSA_CERT, *RSA_KEY, *PACKED_CERT, *PACKED_KEY;

/* The key in the pre-PKCS#8 form ("EC PRIVATE KEY", "RSA PRIVATE KEY"), as CCE and the simulator send it. */
static char *key_b64_traditional(EVP_PKEY *k)
{
    BIO *m = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey_traditional(m, k, NULL, NULL, 0, NULL, NULL);
    char *s = b64_of_bio(m);
    BIO_free(m);
    return s;
}

/*
 * k's key in `form` (0 PKCS#8, 1 traditional SEC1) with its private scalar
 * replaced by k2's: the key still carries k's public point, so only a check
 * that computes the point from the scalar sees that it is not k's key.
 */
static char *forged_key_b64(EVP_PKEY *k, EVP_PKEY *k2, int traditional)
{
    BIGNUM *d1 = NULL, *d2 = NULL;
    unsigned char s1[32], s2[32];
    if (!EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &d1) ||
        !EVP_PKEY_get_bn_param(k2, OSSL_PKEY_PARAM_PRIV_KEY, &d2) || BN_bn2binpad(d1, s1, 32) != 32 ||
        BN_bn2binpad(d2, s2, 32) != 32)
        return NULL;
    BN_clear_free(d1);
    BN_clear_free(d2);
    BIO *m = BIO_new(BIO_s_mem());
    if (traditional)
        PEM_write_bio_PrivateKey_traditional(m, k, NULL, NULL, 0, NULL, NULL);
    else
        PEM_write_bio_PrivateKey(m, k, NULL, NULL, 0, NULL, NULL);
    char *name = NULL, *hdr = NULL;
    unsigned char *der = NULL;
    long len = 0;
    char *out = NULL;
    if (PEM_read_bio(m, &name, &hdr, &der, &len) == 1) {
        unsigned char *at = NULL;
        for (long i = 0; i + 32 <= len && !at; i++)
            if (memcmp(der + i, s1, 32) == 0)
                at = der + i;
        if (at) {
            memcpy(at, s2, 32);
            BIO *m2 = BIO_new(BIO_s_mem());
            PEM_write_bio(m2, name, "", der, len);
            out = b64_of_bio(m2);
            BIO_free(m2);
        }
    }
    OPENSSL_free(name);
    OPENSSL_free(hdr);
    OPENSSL_free(der);
    BIO_free(m);
    return out;
}
static char *FORGED_KEY, *FORGED_TRAD_KEY;

static int make_fixtures(void)
{
    EVP_PKEY *ca = new_key(), *k = new_key(), *k2 = new_key();
    if (!ca || !k || !k2)
        return -1;
    X509 *cax = new_cert(ca, ca, -3600, 86400 * 400, "test CA");
    X509 *good = new_cert(k, ca, -60, 86400 * 30, "cce-user");
    X509 *old = new_cert(k2, ca, -86400 * 40, -86400 * 10, "cce-user");
    X509 *soon = new_cert(k, ca, 86400 * 2, 86400 * 30, "cce-user");
    X509 *back = new_cert(k, ca, 86400 * 30, 86400 * 1, "cce-user");
    if (!cax || !good || !old || !soon || !back)
        return -1;
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048), *packed = new_key();
    /* A certificate with the compressed form of the point: the key's own encoding differs. */
    if (!rsa || !packed ||
        !EVP_PKEY_set_utf8_string_param(packed, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed"))
        return -1;
    X509 *rsax = new_cert(rsa, ca, -60, 86400 * 30, "cce-user"), *packedx = new_cert(packed, ca, -60, 86400, "p");
    if (!rsax || !packedx)
        return -1;
    TRAD_KEY = key_b64_traditional(k);
    FORGED_KEY = forged_key_b64(k, k2, 0);
    FORGED_TRAD_KEY = forged_key_b64(k, k2, 1);
    if (!FORGED_KEY || !FORGED_TRAD_KEY)
        return -1;
    RSA_CERT = cert_b64(rsax);
    RSA_KEY = key_b64_traditional(rsa);
    PACKED_CERT = cert_b64(packedx);
    PACKED_KEY = key_b64(packed, 0);
    X509_free(rsax);
    X509_free(packedx);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(packed);
    CA = cert_b64(cax);
    CERT = cert_b64(good);
    KEY = key_b64(k, 0);
    OTHER_KEY = key_b64(k2, 0);
    EXPIRED = cert_b64(old);
    EXPIRED_KEY = key_b64(k2, 0);
    FUTURE = cert_b64(soon);
    BACKWARDS = cert_b64(back);
    ENC_KEY = key_b64(k, 1);
    X509_free(cax);
    X509_free(good);
    X509_free(old);
    X509_free(soon);
    X509_free(back);
    EVP_PKEY_free(ca);
    EVP_PKEY_free(k);
    EVP_PKEY_free(k2);
    return 0;
}

/* ------------------------------------------------------------- answers */

/* An answer as CCE sends it: an internal entry with a CA, an external one without. */
static json_t *good_answer(void)
{
    json_error_t je;
    json_t *v = json_pack_ex(
        &je, 0,
        "{s:s, s:s, s:{}, s:[{s:s, s:{s:s, s:s}}, {s:s, s:{s:s, s:b}}],"
        " s:[{s:s, s:{s:s, s:s}}],"
        " s:[{s:s, s:{s:s, s:s}}, {s:s, s:{s:s, s:s}}], s:s}",
        "kind", "Config", "apiVersion", "v1", "preferences", "clusters", "name", "internalCluster", "cluster", "server",
        "https://192.168.1.7:5443", "certificate-authority-data", CA, "name", "externalCluster", "cluster", "server",
        "https://80.158.1.2:5443", "insecure-skip-tls-verify", 1, "users", "name", "user", "user",
        "client-certificate-data", CERT, "client-key-data", KEY, "contexts", "name", "internal", "context", "cluster",
        "internalCluster", "user", "user", "name", "external", "context", "cluster", "externalCluster", "user", "user",
        "current-context", "external");
    if (!v)
        fprintf(stderr, "json_pack: %s\n", je.text);
    return v;
}

static json_t *cluster_of(json_t *v, size_t i)
{
    return json_object_get(json_array_get(json_object_get(v, "clusters"), i), "cluster");
}
static json_t *user_of(json_t *v) { return json_object_get(json_array_get(json_object_get(v, "users"), 0), "user"); }

/* Runs the answer body through the response reader. */
static cce_kubeconfig *answer_text(const char *body, cce_error *err)
{
    cce_http_resp r;
    memset(&r, 0, sizeof r);
    r.status = 200;
    snprintf(r.request_id, sizeof r.request_id, "req-1");
    cce_buf_puts(&r.body, body);
    memset(err, 0, sizeof *err);
    cce_kubeconfig *kc = cce_clustercert_response(&r, "clustercert 1234-abcd", err);
    cce_http_resp_free(&r);
    return kc;
}

static cce_kubeconfig *answer(json_t *v, cce_error *err)
{
    char *body = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    cce_kubeconfig *kc = answer_text(body, err);
    free(body);
    return kc;
}

/* A refused answer: BAD_RESPONSE, the message names the call and says `why`, no key material. */
static void refused_at(int line, json_t *v, const char *why)
{
    cce_error err;
    cce_kubeconfig *kc = answer(v, &err);
    int ok = kc == NULL && strcmp(err.code, "BAD_RESPONSE") == 0 && err.status == 200 && err.message &&
             strstr(err.message, "clustercert 1234-abcd: ") == err.message && strstr(err.message, why) &&
             strcmp(err.request_id, "req-1") == 0;
    /* Any 16 characters of a key's base64 would be key material. */
    for (const char *k = KEY; ok && err.message && strlen(k) >= 16; k += 8) {
        char piece[17];
        memcpy(piece, k, 16);
        piece[16] = '\0';
        if (strstr(err.message, piece))
            ok = 0;
    }
    check_count++;
    if (!ok) {
        check_failures++;
        fprintf(stderr, "%s:%d: expected refusal with '%s'; got %s: %s\n", __FILE__, line, why,
                kc ? "a kubeconfig" : err.code, err.message ? err.message : "(no message)");
    } else if (getenv("TEST_VERBOSE")) {
        printf("  %s\n", err.message);
    }
    cce_kubeconfig_free(kc);
    cce_error_clear(&err);
}
#define REFUSED(v, why) refused_at(__LINE__, (v), (why))

/* ---------------------------------------------------------------- tests */

static void test_good_answer_whitelisted(void)
{
    json_t *v = good_answer();
    /* Fields cceauto does not take, harmless or not, are left behind. */
    json_object_set_new(cluster_of(v, 0), "extensions", json_pack("[{s:s, s:{}}]", "name", "x", "extension"));
    json_object_set_new(cluster_of(v, 0), "disable-compression", json_true());
    json_object_set_new(json_object_get(json_array_get(json_object_get(v, "contexts"), 0), "context"), "namespace",
                        json_string("kube-system"));
    json_object_set_new(cluster_of(v, 0), "tls-server-name", json_string("kubernetes.default.svc"));
    json_object_set_new(v, "extensions", json_array());
    cce_error err;
    cce_kubeconfig *kc = answer(v, &err);
    CHECK(kc != NULL);
    if (!kc) {
        fprintf(stderr, "  %s\n", err.message);
        cce_error_clear(&err);
        return;
    }
    char *json = NULL;
    size_t len;
    CHECK(cce_kubeconfig_to_json(kc, 0, &json, &len, NULL) == 0);
    json_t *got = json_loads(json, 0, NULL);
    char expected[16384];
    snprintf(expected, sizeof expected,
             "{\"apiVersion\":\"v1\",\"clusters\":[{\"cluster\":{\"certificate-authority-data\":\"%s\","
             "\"server\":\"https://192.168.1.7:5443\",\"tls-server-name\":\"kubernetes.default.svc\"},"
             "\"name\":\"internalCluster\"},{\"cluster\":{\"insecure-skip-tls-verify\":true,"
             "\"server\":\"https://80.158.1.2:5443\"},\"name\":\"externalCluster\"}],"
             "\"contexts\":[{\"context\":{\"cluster\":\"internalCluster\",\"user\":\"user\"},\"name\":\"internal\"},"
             "{\"context\":{\"cluster\":\"externalCluster\",\"user\":\"user\"},\"name\":\"external\"}],"
             "\"current-context\":\"external\",\"kind\":\"Config\",\"preferences\":{},"
             "\"users\":[{\"name\":\"user\",\"user\":{\"client-certificate-data\":\"%s\",\"client-key-data\":\"%s\"}}]}",
             CA, CERT, KEY);
    json_t *want = json_loads(expected, 0, NULL);
    CHECK(want && got && json_equal(got, want));
    if (!(want && got && json_equal(got, want)))
        fprintf(stderr, "  got: %s\n", json);
    json_decref(got);
    json_decref(want);
    free(json);
    cce_kubeconfig_free(kc);
}

/* The key forms OpenSSL writes, and a certificate whose key is encoded otherwise than the key's. */
static void test_key_forms(void)
{
    const char *pairs[][2] = {{CERT, KEY}, {CERT, TRAD_KEY}, {RSA_CERT, RSA_KEY}, {PACKED_CERT, PACKED_KEY}};
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        char why[256] = "";
        int rc = cce_credential_check(pairs[i][0], pairs[i][1], time(NULL), why, sizeof why);
        CHECK(rc == 0);
        if (rc != 0)
            fprintf(stderr, "  pair %zu: %s\n", i, why);
    }
    /* The forged keys carry the certificate's public point beside another scalar. */
    const char *wrong[][2] = {{RSA_CERT, KEY},          {CERT, RSA_KEY},   {PACKED_CERT, KEY},
                              {CERT, PACKED_KEY},       {CERT, FORGED_KEY}, {CERT, FORGED_TRAD_KEY}};
    for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++) {
        char why[256] = "";
        CHECK(cce_credential_check(wrong[i][0], wrong[i][1], time(NULL), why, sizeof why) == -1);
        CHECK_STR(why, "client key does not match the certificate");
    }
}

static void test_ca_and_insecure(void)
{
    /* Both at once (a real CCE quirk): the CA stays, the flag goes. */
    json_t *v = good_answer();
    json_object_set_new(cluster_of(v, 0), "insecure-skip-tls-verify", json_true());
    cce_error err;
    cce_kubeconfig *kc = answer(v, &err);
    CHECK(kc != NULL);
    char *inner = kc ? cce_kubeconfig_entry_json(kc, CCE_KC_CLUSTERS, 0) : NULL;
    CHECK(inner && strstr(inner, "certificate-authority-data") && !strstr(inner, "insecure"));
    free(inner);
    cce_kubeconfig_free(kc);
    /* false is no flag at all */
    v = good_answer();
    json_object_set_new(cluster_of(v, 1), "insecure-skip-tls-verify", json_false());
    kc = answer(v, &err);
    inner = kc ? cce_kubeconfig_entry_json(kc, CCE_KC_CLUSTERS, 1) : NULL;
    CHECK(inner && !strstr(inner, "insecure"));
    free(inner);
    cce_kubeconfig_free(kc);
    /* only a boolean */
    v = good_answer();
    json_object_set_new(cluster_of(v, 1), "insecure-skip-tls-verify", json_string("true"));
    REFUSED(v, "cluster \"externalCluster\": insecure-skip-tls-verify is not a boolean");
}

static void set_user(json_t *v, const char *k, json_t *val) { json_object_set_new(user_of(v), k, val); }

static void test_bad_credentials(void)
{
    json_t *v = good_answer();
    set_user(v, "client-certificate-data", json_string("!!!not base64!!!"));
    REFUSED(v, "user \"user\": client-certificate-data is not base64");

    v = good_answer();
    set_user(v, "client-certificate-data", json_string(""));
    REFUSED(v, "user \"user\": client-certificate-data is empty");

    char *s = text_b64("this is not a certificate\n");
    v = good_answer();
    set_user(v, "client-certificate-data", json_string(s));
    REFUSED(v, "user \"user\": client-certificate-data does not decode to PEM");
    free(s);

    s = text_b64("-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGUgYXQgYWxs\n-----END CERTIFICATE-----\n");
    v = good_answer();
    set_user(v, "client-certificate-data", json_string(s));
    REFUSED(v, "user \"user\": client-certificate-data is not a PEM certificate");
    free(s);

    /* the key where the certificate should be */
    v = good_answer();
    set_user(v, "client-certificate-data", json_string(KEY));
    REFUSED(v, "user \"user\": client-certificate-data is not a PEM certificate");

    v = good_answer();
    set_user(v, "client-key-data", json_string(OTHER_KEY));
    REFUSED(v, "clustercert 1234-abcd: user \"user\": client key does not match the certificate");

    v = good_answer();
    set_user(v, "client-key-data", json_string(CERT));
    REFUSED(v, "user \"user\": client-key-data is not an unencrypted PEM private key");

    v = good_answer();
    set_user(v, "client-key-data", json_string("QUJD"));
    REFUSED(v, "user \"user\": client-key-data does not decode to PEM");

    /* Encrypted: refused without asking for a pass phrase (stdin is /dev/null, see main). */
    v = good_answer();
    set_user(v, "client-key-data", json_string(ENC_KEY));
    REFUSED(v, "user \"user\": client-key-data is an encrypted private key");

    v = good_answer();
    json_object_del(user_of(v), "client-key-data");
    REFUSED(v, "user \"user\" has no client-certificate-data and client-key-data");

    v = good_answer();
    set_user(v, "client-key-data", json_integer(7));
    REFUSED(v, "user \"user\" has no client-certificate-data and client-key-data");
}

static void test_bad_dates(void)
{
    json_t *v = good_answer();
    set_user(v, "client-certificate-data", json_string(EXPIRED));
    set_user(v, "client-key-data", json_string(EXPIRED_KEY));
    REFUSED(v, "user \"user\": the client certificate expired at 20");

    v = good_answer();
    set_user(v, "client-certificate-data", json_string(FUTURE));
    REFUSED(v, "user \"user\": the client certificate is not valid before 20");

    v = good_answer();
    set_user(v, "client-certificate-data", json_string(BACKWARDS));
    REFUSED(v, "user \"user\": the client certificate's validity ends");

    /* A server clock a little ahead of ours is fine. */
    char why[256];
    CHECK(cce_credential_check(FUTURE, KEY, time(NULL) + 86400 * 2 - CCE_CLOCK_SKEW_S + 60, why, sizeof why) == 0);
    CHECK(cce_credential_check(FUTURE, KEY, time(NULL) + 86400 * 2 - CCE_CLOCK_SKEW_S - 60, why, sizeof why) == -1);
}

static void test_refused_user_fields(void)
{
    static const char *const keys[] = {"token", "tokenFile", "username", "password", "as", "client-key",
                                       "client-certificate"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        json_t *v = good_answer();
        set_user(v, keys[i], json_string(strcmp(keys[i], "client-key") == 0 ? "/etc/shadow" : "x"));
        char why[128];
        snprintf(why, sizeof why, "user \"user\" carries \"%s\", which cceauto never takes", keys[i]);
        REFUSED(v, why);
    }
    json_t *v = good_answer();
    set_user(v, "exec", json_pack("{s:s, s:s, s:[s, s]}", "apiVersion", "client.authentication.k8s.io/v1beta1",
                                  "command", "/bin/sh", "args", "-c", "touch /tmp/pwned"));
    REFUSED(v, "user \"user\" carries \"exec\"");
    /* an exec user instead of the certificate */
    v = good_answer();
    json_object_clear(user_of(v));
    set_user(v, "exec", json_pack("{s:s}", "command", "/bin/sh"));
    REFUSED(v, "user \"user\" carries \"exec\"");
    v = good_answer();
    set_user(v, "auth-provider", json_pack("{s:s, s:{}}", "name", "oidc", "config"));
    REFUSED(v, "user \"user\" carries \"auth-provider\"");
    v = good_answer();
    set_user(v, "as-groups", json_pack("[s]", "system:masters"));
    REFUSED(v, "user \"user\" carries \"as-groups\"");
    /* null and empty are absent, as client-go reads them */
    v = good_answer();
    set_user(v, "token", json_null());
    set_user(v, "client-key", json_string(""));
    cce_error err;
    cce_kubeconfig *kc = answer(v, &err);
    CHECK(kc != NULL);
    cce_kubeconfig_free(kc);
}

static void test_file_paths_never_read(void)
{
    /* A FIFO nobody writes to: opening it for reading would block forever. */
    char fifo[600];
    snprintf(fifo, sizeof fifo, "%s/fifo", tmpdir);
    CHECK(mkfifo(fifo, 0600) == 0);
    alarm(20);
    const char *const paths[] = {"/etc/shadow", "/dev/zero", fifo};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = good_answer();
        json_object_del(user_of(v), "client-key-data");
        set_user(v, "client-key", json_string(paths[i]));
        REFUSED(v, "user \"user\" carries \"client-key\", which cceauto never takes from an answer");
        v = good_answer();
        json_object_set_new(cluster_of(v, 0), "certificate-authority", json_string(paths[i]));
        REFUSED(v, "cluster \"internalCluster\" carries \"certificate-authority\"");
    }
    alarm(0);
}

static void test_servers(void)
{
    static const struct {
        const char *url, *why;
    } bad[] = {
        {"http://192.168.1.7:5443", "the server is not an https:// URL"},
        {"HTTP://192.168.1.7", "the server is not an https:// URL"},
        {"ftp://x", "the server is not an https:// URL"},
        {"file:///etc/shadow", "the server is not an https:// URL"},
        {"https://", "the server is not a valid URL"},
        {"https://user:pw@192.168.1.7:5443", "the server names a user"},
        {"https://192.168.1.7:5443/?x=1", "the server has a query"},
        {"https://192.168.1.7:5443/#f", "the server has a fragment"},
        {"https://192.168.1.7:99999", "the server is not a valid URL"},
        {"https://192.168.1.7 :5443", "the server is not a plain URL"},
        {"https://evil\x1b[31m.example", "the server is not a plain URL"},
        {"", "the server is not a plain URL"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *v = good_answer();
        json_object_set_new(cluster_of(v, 0), "server", json_string(bad[i].url));
        char why[160];
        snprintf(why, sizeof why, "cluster \"internalCluster\": %s", bad[i].why);
        REFUSED(v, why);
    }
    json_t *v = good_answer();
    json_object_del(cluster_of(v, 1), "server");
    REFUSED(v, "cluster \"externalCluster\" has no server");
    v = good_answer();
    json_object_set_new(cluster_of(v, 0), "proxy-url", json_string("http://attacker:3128"));
    REFUSED(v, "cluster \"internalCluster\" carries \"proxy-url\"");
    v = good_answer();
    json_object_set_new(cluster_of(v, 0), "tls-server-name", json_string("a b"));
    REFUSED(v, "cluster \"internalCluster\": tls-server-name is not a host name");
    /* a path is fine (an API server behind a proxy path) */
    v = good_answer();
    json_object_set_new(cluster_of(v, 0), "server", json_string("https://cce.example.com/k8s/clusters/x"));
    cce_error err;
    cce_kubeconfig *kc = answer(v, &err);
    CHECK(kc != NULL);
    cce_kubeconfig_free(kc);
}

static void test_ca(void)
{
    json_t *v = good_answer();
    json_object_set_new(cluster_of(v, 0), "certificate-authority-data", json_string("%%%"));
    REFUSED(v, "cluster \"internalCluster\": certificate-authority-data is not base64");
    char *s = text_b64("hello\n");
    v = good_answer();
    json_object_set_new(cluster_of(v, 0), "certificate-authority-data", json_string(s));
    REFUSED(v, "cluster \"internalCluster\": certificate-authority-data does not decode to PEM");
    free(s);
    v = good_answer();
    json_object_set_new(cluster_of(v, 0), "certificate-authority-data", json_string(KEY));
    REFUSED(v, "cluster \"internalCluster\": certificate-authority-data holds a PEM block that is not a certificate");
    s = text_b64("-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGUgYXQgYWxs\n-----END CERTIFICATE-----\n");
    v = good_answer();
    json_object_set_new(cluster_of(v, 0), "certificate-authority-data", json_string(s));
    REFUSED(v, "cluster \"internalCluster\": certificate-authority-data is not a PEM certificate bundle");
    free(s);
    /* a bundle of two is fine; a key hidden after a certificate is not */
    char pem[16384];
    size_t n;
    unsigned char dec[8192];
    int w = EVP_DecodeBlock(dec, (const unsigned char *)CA, (int)strlen(CA));
    CHECK(w > 0);
    while (w > 0 && dec[w - 1] == '\0')
        w--;  /* EVP_DecodeBlock counts the padding as zero bytes */
    n = (size_t)snprintf(pem, sizeof pem, "%.*s%.*s", w, (const char *)dec, w, (const char *)dec);
    s = malloc(n / 3 * 4 + 8);
    s[EVP_EncodeBlock((unsigned char *)s, (unsigned char *)pem, (int)n)] = '\0';
    v = good_answer();
    json_object_set_new(cluster_of(v, 0), "certificate-authority-data", json_string(s));
    cce_error err;
    cce_kubeconfig *kc = answer(v, &err);
    CHECK(kc != NULL);
    cce_kubeconfig_free(kc);
    free(s);
    unsigned char kdec[8192];
    int kw = EVP_DecodeBlock(kdec, (const unsigned char *)KEY, (int)strlen(KEY));
    while (kw > 0 && kdec[kw - 1] == '\0')
        kw--;
    n = (size_t)snprintf(pem, sizeof pem, "%.*s%.*s", w, (const char *)dec, kw, (const char *)kdec);
    s = malloc(n / 3 * 4 + 8);
    s[EVP_EncodeBlock((unsigned char *)s, (unsigned char *)pem, (int)n)] = '\0';
    v = good_answer();
    json_object_set_new(cluster_of(v, 0), "certificate-authority-data", json_string(s));
    REFUSED(v, "certificate-authority-data holds a PEM block that is not a certificate");
    free(s);
}

/* The answer's text with `extra` inserted right after the first `after`. */
static char *spliced(const char *after, const char *extra)
{
    json_t *v = good_answer();
    char *body = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    char *at = strstr(body, after);
    if (!at)
        return body;
    at += strlen(after);
    size_t n = strlen(body) + strlen(extra) + 1;
    char *out = malloc(n);
    snprintf(out, n, "%.*s%s%s", (int)(at - body), body, extra, at);
    free(body);
    return out;
}

static void refused_text_at(int line, const char *body, const char *why)
{
    cce_error err;
    cce_kubeconfig *kc = answer_text(body, &err);
    int ok = !kc && strcmp(err.code, "BAD_RESPONSE") == 0 && err.message && strstr(err.message, why);
    check_count++;
    if (!ok) {
        check_failures++;
        fprintf(stderr, "%s:%d: expected refusal with '%s'; got %s: %s\n", __FILE__, line, why,
                kc ? "a kubeconfig" : err.code, err.message ? err.message : "(no message)");
    }
    cce_kubeconfig_free(kc);
    cce_error_clear(&err);
}
#define REFUSED_TEXT(b, why) refused_text_at(__LINE__, (b), (why))

static void test_structure(void)
{
    /* Duplicate keys: which one a parser takes is anyone's guess, so none is taken. */
    char *body = spliced("\"server\":\"https://192.168.1.7:5443\"", ",\"server\":\"https://evil.example:5443\"");
    CHECK(strstr(body, "evil.example") != NULL);
    REFUSED_TEXT(body, "clustercert 1234-abcd: the response is not valid JSON");
    REFUSED_TEXT(body, "duplicate object key");
    free(body);
    body = spliced("{", "\"users\":[],");
    REFUSED_TEXT(body, "duplicate object key");
    free(body);
    REFUSED_TEXT("[]", "the response is not a JSON object");

    json_t *v = good_answer();
    json_object_set_new(v, "kind", json_string("Cluster"));
    REFUSED(v, "the answer is not a kubeconfig");
    v = good_answer();
    json_object_del(v, "users");
    REFUSED(v, "the answer has no users");
    v = good_answer();
    json_object_set_new(v, "clusters", json_array());
    REFUSED(v, "the answer has no clusters");
    v = good_answer();
    json_object_set_new(v, "contexts", json_object());
    REFUSED(v, "the answer has no contexts");
    /* two clusters of one name: one would hide the other */
    v = good_answer();
    json_object_set_new(json_array_get(json_object_get(v, "clusters"), 1), "name", json_string("internalCluster"));
    REFUSED(v, "two clusters are named \"internalCluster\"");
    v = good_answer();
    json_object_set_new(json_array_get(json_object_get(v, "clusters"), 1), "name", json_string("ext\x1b]0;pwned\a"));
    REFUSED(v, "clusters[1] has no valid name");
    v = good_answer();
    json_object_set_new(json_array_get(json_object_get(v, "users"), 0), "user", json_string("x"));
    REFUSED(v, "user \"user\" has no \"user\" mapping");
    v = good_answer();
    json_object_set_new(json_object_get(json_array_get(json_object_get(v, "contexts"), 1), "context"), "cluster",
                        json_string("elsewhere"));
    REFUSED(v, "context \"external\" names no cluster and user of the answer");
    /* a current-context that names nothing is left out, as the rest is fine */
    v = good_answer();
    json_object_set_new(v, "current-context", json_string("nowhere"));
    cce_error err;
    cce_kubeconfig *kc = answer(v, &err);
    CHECK(kc && cce_kubeconfig_current_context(kc) == NULL);
    cce_kubeconfig_free(kc);
}

int main(void)
{
    /* An OpenSSL pass phrase prompt must never happen; with no terminal it would fail, not hang. */
    if (!freopen("/dev/null", "r", stdin))
        return 1;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/cce_answer_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    if (make_fixtures() != 0) {
        fprintf(stderr, "could not make the test certificates\n");
        CHECK(0);
    } else {
        test_good_answer_whitelisted();
        test_key_forms();
        test_ca_and_insecure();
        test_bad_credentials();
        test_bad_dates();
        test_refused_user_fields();
        test_file_paths_never_read();
        test_servers();
        test_ca();
        test_structure();
    }
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_report("test_answer");
}
