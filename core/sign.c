/*
 * sign.c - AK/SK request signing, SDK-HMAC-SHA256 (the documented algorithm of
 * the Huawei Cloud API signing guide; see shared CCE_API.md for the three test
 * vectors that tests/unit/test_sign.c checks).  SHA-256 and HMAC come from
 * OpenSSL; nothing cryptographic is written here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "internal.h"

static const char hexdig[] = "0123456789abcdef";

static void hex(const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig[in[i] >> 4];
        out[2 * i + 1] = hexdig[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.' || c == '~';
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Appends s[0..n) percent-decoded (as the server reads it), then encoded the signer's way. */
static int encode(cce_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            c = (unsigned char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
            i += 2;
        }
        char esc[4] = {'%', "0123456789ABCDEF"[c >> 4], "0123456789ABCDEF"[c & 15], 0};
        if (unreserved(c) ? cce_buf_append(b, &c, 1) < 0 : cce_buf_append(b, esc, 3) < 0)
            return -1;
    }
    return 0;
}

typedef struct qpair {
    cce_buf k, v;
} qpair;

static int qpair_cmp(const void *a, const void *b)
{
    const qpair *x = a, *y = b;
    int c = strcmp(x->k.data ? x->k.data : "", y->k.data ? y->k.data : "");
    return c ? c : strcmp(x->v.data ? x->v.data : "", y->v.data ? y->v.data : "");
}

/* The canonical query: pairs encoded, sorted by key, then by value, joined by '&'. */
static int canonical_query(cce_buf *out, const char *q)
{
    size_t n = 0, cap = 1;
    for (const char *p = q; *p; p++)
        cap += *p == '&';
    qpair *pairs = calloc(cap, sizeof *pairs);
    if (!pairs)
        return -1;
    int rc = 0;
    for (const char *p = q; *p && rc == 0;) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len) {
            const char *eq = memchr(p, '=', len);
            size_t kl = eq ? (size_t)(eq - p) : len;
            qpair *pr = &pairs[n++];
            if (encode(&pr->k, p, kl) < 0 || cce_buf_append(&pr->k, "", 0) < 0 ||
                encode(&pr->v, eq ? eq + 1 : p + len, eq ? len - kl - 1 : 0) < 0 || cce_buf_append(&pr->v, "", 0) < 0)
                rc = -1;
        }
        p += len + (end ? 1 : 0);
    }
    if (rc == 0)
        qsort(pairs, n, sizeof *pairs, qpair_cmp);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = cce_buf_printf(out, "%s%s=%s", i ? "&" : "", pairs[i].k.data ? pairs[i].k.data : "",
                            pairs[i].v.data ? pairs[i].v.data : "");
    for (size_t i = 0; i < n; i++) {
        cce_buf_free(&pairs[i].k);
        cce_buf_free(&pairs[i].v);
    }
    free(pairs);
    return rc < 0 ? -1 : 0;
}

static int header_cmp(const void *a, const void *b)
{
    return strcasecmp(((const cce_sign_header *)a)->name, ((const cce_sign_header *)b)->name);
}

static void trimmed(const char *s, const char **start, size_t *len)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    *start = s;
    *len = n;
}

int cce_sign_request(const char *method, const char *target, const cce_sign_header *headers, size_t nh,
                     const void *body, size_t body_len, const char *ak, const char *sk, cce_sign_result *out,
                     cce_error *err)
{
    memset(out, 0, sizeof *out);
    if (!method || !target || *target != '/' || !ak || !*ak || !sk || !*sk || nh == 0 || nh > 32)
        return cce_set_error(err, CCE_E_INVALID_ARGUMENT, 0, "signing needs a method, a path, headers, an AK and an SK");
    cce_sign_header sorted[32];
    memcpy(sorted, headers, nh * sizeof *headers);
    qsort(sorted, nh, sizeof *sorted, header_cmp);
    const char *date = NULL;
    for (size_t i = 0; i < nh; i++)
        if (strcasecmp(sorted[i].name, "X-Sdk-Date") == 0)
            date = sorted[i].value;
    if (!date)
        return cce_set_error(err, CCE_E_INVALID_ARGUMENT, 0, "signing needs the X-Sdk-Date header among the signed ones");

    cce_buf canon = {0}, signed_names = {0};
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char body_hex[65], canon_hex[65];
    int rc = -1;
    if (!EVP_Digest(body ? body : "", body ? body_len : 0, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        goto out;
    hex(md, 32, body_hex);

    /* Method and canonical URI: each segment encoded, a '/' at the end. */
    const char *q = strchr(target, '?');
    size_t plen = q ? (size_t)(q - target) : strlen(target);
    if (cce_buf_printf(&canon, "%s\n", method) < 0)
        goto out;
    for (const char *p = target; p < target + plen;) {
        const char *slash = memchr(p + 1, '/', (size_t)(target + plen - p - 1));
        const char *seg_end = slash ? slash : target + plen;
        if (cce_buf_append(&canon, "/", 1) < 0 || encode(&canon, p + 1, (size_t)(seg_end - p - 1)) < 0)
            goto out;
        p = seg_end;
        if (!slash)
            break;
    }
    if (canon.len == 0 || canon.data[canon.len - 1] != '/')
        if (cce_buf_append(&canon, "/", 1) < 0)
            goto out;
    if (cce_buf_append(&canon, "\n", 1) < 0 || canonical_query(&canon, q ? q + 1 : "") < 0 ||
        cce_buf_append(&canon, "\n", 1) < 0)
        goto out;
    for (size_t i = 0; i < nh; i++) {
        const char *v;
        size_t vl;
        trimmed(sorted[i].value ? sorted[i].value : "", &v, &vl);
        for (const char *n = sorted[i].name; *n; n++) {
            char c = (char)((*n >= 'A' && *n <= 'Z') ? *n - 'A' + 'a' : *n);
            if (cce_buf_append(&canon, &c, 1) < 0 || cce_buf_append(&signed_names, &c, 1) < 0)
                goto out;
        }
        if (cce_buf_append(&canon, ":", 1) < 0 || cce_buf_append(&canon, v, vl) < 0 ||
            cce_buf_append(&canon, "\n", 1) < 0 || (i + 1 < nh && cce_buf_append(&signed_names, ";", 1) < 0))
            goto out;
    }
    if (cce_buf_printf(&canon, "\n%s\n%s", signed_names.data, body_hex) < 0)
        goto out;
    if (!EVP_Digest(canon.data, canon.len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        goto out;
    hex(md, 32, canon_hex);

    char to_sign[256];
    int n = snprintf(to_sign, sizeof to_sign, "SDK-HMAC-SHA256\n%s\n%s", date, canon_hex);
    if (n < 0 || (size_t)n >= sizeof to_sign ||
        !HMAC(EVP_sha256(), sk, (int)strlen(sk), (const unsigned char *)to_sign, (size_t)n, md, &mdlen) || mdlen != 32)
        goto out;
    memcpy(out->canonical_hash, canon_hex, sizeof canon_hex);
    hex(md, 32, out->signature);
    n = snprintf(out->authorization, sizeof out->authorization,
                 "SDK-HMAC-SHA256 Access=%s, SignedHeaders=%s, Signature=%s", ak, signed_names.data, out->signature);
    if (n < 0 || (size_t)n >= sizeof out->authorization) {
        rc = cce_set_error(err, CCE_E_INVALID_ARGUMENT, 0, "the access key or the signed headers are too long");
        goto done;
    }
    rc = 0;
out:
    if (rc < 0)
        cce_set_error(err, CCE_E_NOMEM, 0, "out of memory while signing the request");
done:
    OPENSSL_cleanse(md, sizeof md);
    cce_buf_free(&canon);
    cce_buf_free(&signed_names);
    return rc;
}
