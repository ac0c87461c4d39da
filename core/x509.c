/* x509.c - what a kubeconfig user needs to know about a client or CA certificate (libcrypto). */
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "internal.h"

/* Certificates are a few KiB; anything near this is not one we want to hold. */
#define CERT_FILE_MAX (1024L * 1024L)

static const char PEM_CERT_BEGIN[] = "-----BEGIN CERTIFICATE-----";

static const unsigned char *find_bytes(const unsigned char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    if (m == 0 || n < m)
        return NULL;
    for (size_t i = 0; i + m <= n; i++)
        if (hay[i] == (unsigned char)needle[0] && memcmp(hay + i, needle, m) == 0)
            return hay + i;
    return NULL;
}

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/*
 * Strict standard base64 with optional line breaks and padding.  Our own
 * decoder rather than EVP_Decode*: it tells "this is not base64" apart from
 * "broken base64" without leaving anything on OpenSSL's error queue.
 * Returns a heap buffer (caller cleanses and frees) or NULL when `in` is not
 * base64 at all.
 */
static unsigned char *b64_decode(const unsigned char *in, size_t n, size_t *outlen, int *nomem)
{
    size_t digits = 0, pad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = in[i];
        if (is_space(c))
            continue;
        if (c == '=') {
            pad++;
            continue;
        }
        if (b64_value(c) < 0 || pad)  /* data after padding */
            return NULL;
        digits++;
    }
    if (digits == 0 || pad > 2 || digits % 4 == 1 || (pad && (digits + pad) % 4 != 0))
        return NULL;
    unsigned char *out = malloc(digits / 4 * 3 + 3);
    if (!out) {
        *nomem = 1;
        return NULL;
    }
    size_t o = 0;
    unsigned long acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(in[i]);
        if (v < 0)
            continue;
        acc = (acc << 6 | (unsigned long)v) & 0xFFFFFFUL;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    *outlen = o;
    return out;
}

/* A PEM block's header could ask for a passphrase; a certificate never needs one, and we never prompt. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* The reason of OpenSSL's most recent error, for messages; never contains input bytes. */
static const char *ossl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    return r ? r : "unknown error";
}

static int cert_fail(cce_error *err, const char *fmt, ...) CCE_PRINTF(2, 3);
static int cert_fail(cce_error *err, const char *fmt, ...)
{
    if (err) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        cce_set_error(err, "CERT", 0, "%s", msg);
    }
    /* Left behind, these would be blamed on whatever the caller does next with OpenSSL (curl's TLS, for one). */
    ERR_clear_error();
    return -1;
}

static int is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'); }

/*
 * Copies a BIO's text into dst as one line.  When it does not fit, the cut
 * falls between RFC 2253 escapes ("\," "\\" "\C3"), never inside one, so the
 * truncated name is still well-formed.  XN_FLAG_RFC2253 escapes every byte
 * past 0x7F, so the text is ASCII and no UTF-8 sequence can be split.
 */
static void bio_to_str(BIO *b, char *dst, size_t cap)
{
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    size_t len = (n > 0 && p) ? (size_t)n : 0;
    while (len && (p[len - 1] == '\n' || p[len - 1] == '\r'))
        len--;
    if (len >= cap) {
        size_t i = 0;
        while (i < len) {
            size_t tok = 1;
            if (p[i] == '\\' && i + 2 < len && is_hex(p[i + 1]) && is_hex(p[i + 2]))
                tok = 3;
            else if (p[i] == '\\' && i + 1 < len)
                tok = 2;
            if (i + tok > cap - 1)
                break;
            i += tok;
        }
        len = i;
    }
    for (size_t i = 0; i < len; i++)
        dst[i] = (p[i] == '\n' || p[i] == '\r') ? ' ' : p[i];
    dst[len] = '\0';
}

static int name_to_str(const X509_NAME *name, char *dst, size_t cap)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return -1;
    int rc = X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) < 0 ? -1 : 0;
    if (rc == 0)
        bio_to_str(b, dst, cap);
    BIO_free(b);
    return rc;
}

/* Exactly what `openssl x509 -serial` prints: i2a_ASN1_INTEGER, minus its "\\\n" line continuations. */
static int serial_to_str(const ASN1_INTEGER *serial, char *dst, size_t cap)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return -1;
    int rc = i2a_ASN1_INTEGER(b, serial) <= 0 ? -1 : 0;
    if (rc == 0) {
        char *p = NULL;
        long n = BIO_get_mem_data(b, &p);
        size_t o = 0;
        for (long i = 0; i < n && o + 1 < cap; i++)
            if (p[i] != '\\' && p[i] != '\n' && p[i] != '\r')
                dst[o++] = p[i];
        dst[o] = '\0';
    }
    BIO_free(b);
    return rc;
}

static int fingerprint_sha256(const X509 *x, char *dst, size_t cap)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!X509_digest(x, EVP_sha256(), md, &n) || n == 0 || (size_t)n * 3 > cap)
        return -1;
    static const char hex[] = "0123456789ABCDEF";
    for (unsigned int i = 0; i < n; i++) {
        dst[3 * i] = hex[md[i] >> 4];
        dst[3 * i + 1] = hex[md[i] & 15];
        dst[3 * i + 2] = ':';
    }
    dst[3 * n - 1] = '\0';
    return 0;
}

static int asn1_time_to_utc(const ASN1_TIME *t, time_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return -1;
    /* ASN1_TIME_to_tm gives UTC fields; mktime would read them as local time. */
    time_t v = timegm(&tm);
    if (v == (time_t)-1 && !(tm.tm_year == 69 && tm.tm_mon == 11 && tm.tm_mday == 31))
        return -1;
    *out = v;
    return 0;
}

static int fill_info(const X509 *x, cce_cert_info *out, cce_error *err)
{
    if (asn1_time_to_utc(X509_get0_notBefore(x), &out->not_before) < 0 ||
        asn1_time_to_utc(X509_get0_notAfter(x), &out->not_after) < 0)
        return cert_fail(err, "certificate has an invalid validity period");
    out->days_left = difftime(out->not_after, time(NULL)) / 86400.0;
    if (name_to_str(X509_get_subject_name(x), out->subject, sizeof out->subject) < 0 ||
        name_to_str(X509_get_issuer_name(x), out->issuer, sizeof out->issuer) < 0 ||
        serial_to_str(X509_get0_serialNumber(x), out->serial, sizeof out->serial) < 0 ||
        fingerprint_sha256(x, out->sha256, sizeof out->sha256) < 0)
        return cert_fail(err, "cannot describe the certificate: %s", ossl_reason());
    return 0;
}

/* The first CERTIFICATE block at or after `begin` (which points at its BEGIN line). */
static X509 *read_pem(const unsigned char *begin, size_t n, cce_error *err)
{
    BIO *b = BIO_new_mem_buf(begin, (int)n);
    if (!b) {
        cert_fail(err, "cannot read the certificate: %s", ossl_reason());
        return NULL;
    }
    X509 *x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL);
    BIO_free(b);
    if (!x)
        cert_fail(err, "not a PEM or DER certificate: the PEM CERTIFICATE block is malformed (%s)", ossl_reason());
    return x;
}

static X509 *read_der(const unsigned char *data, size_t n)
{
    const unsigned char *p = data;
    return d2i_X509(NULL, &p, (long)n);
}

static int parse(const unsigned char *data, size_t len, int allow_base64, cce_cert_info *out, cce_error *err)
{
    size_t skip = 0;
    while (skip < len && is_space(data[skip]))
        skip++;
    if (skip == len)
        return cert_fail(err, "empty certificate data");
    if (len > INT_MAX)  /* BIO_new_mem_buf and d2i take int/long lengths */
        return cert_fail(err, "certificate data too large");

    X509 *x = NULL;
    const unsigned char *pem = find_bytes(data, len, PEM_CERT_BEGIN);
    if (pem) {
        /*
         * Starting at our own match, not at the top, means leading junk, keys or
         * other PEM blocks before the certificate are never even parsed.
         */
        x = read_pem(pem, len - (size_t)(pem - data), err);
        if (!x)
            return -1;
    } else if (data[0] == 0x30) {  /* DER: a SEQUENCE, no leading whitespace allowed */
        x = read_der(data, len);
        if (!x)
            return cert_fail(err, "not a PEM or DER certificate: DER decoding failed (%s)", ossl_reason());
    } else if (allow_base64) {
        /* kubeconfig *-data fields hold base64 of the PEM text; callers may pass the field as it is. */
        size_t dn = 0;
        int nomem = 0;
        unsigned char *dec = b64_decode(data + skip, len - skip, &dn, &nomem);
        if (!dec)
            return nomem ? cce_set_error(err, "NOMEM", 0, "out of memory decoding base64")
                         : cert_fail(err, "not a PEM or DER certificate");
        size_t k = 0;
        while (k < dn && is_space(dec[k]))
            k++;
        int rc = k < dn ? parse(dec, dn, 0, out, err) : cert_fail(err, "not a PEM or DER certificate");
        OPENSSL_cleanse(dec, dn);
        free(dec);
        return rc;
    } else {
        return cert_fail(err, "not a PEM or DER certificate");
    }

    int rc = fill_info(x, out, err);
    X509_free(x);
    return rc;
}

int cce_cert_parse(const void *data, size_t len, cce_cert_info *out, cce_error *err)
{
    if (!out)
        return cce_set_error(err, "INVALID_ARGUMENT", 0, "cce_cert_parse: no output");
    memset(out, 0, sizeof *out);
    if (!data || len == 0)
        return cce_set_error(err, "CERT", 0, "empty certificate data");
    int rc = parse(data, len, 1, out, err);
    if (rc < 0)
        memset(out, 0, sizeof *out);
    return rc;
}

static void errno_text(int e, char *buf, size_t cap)
{
    /* strerror's buffer is shared between threads; the XSI strerror_r (our feature macros) is not. */
    if (strerror_r(e, buf, cap) != 0)
        snprintf(buf, cap, "error %d", e);
}

/* Frees a buffer that may have held a private key (a PEM bundle next to the certificate). */
static void wipe_free(unsigned char *p, size_t n)
{
    if (p) {
        OPENSSL_cleanse(p, n);
        free(p);
    }
}

int cce_cert_parse_file(const char *path, cce_cert_info *out, cce_error *err)
{
    if (!out || !path)
        return cce_set_error(err, "INVALID_ARGUMENT", 0, "cce_cert_parse_file: no %s", path ? "output" : "path");
    memset(out, 0, sizeof *out);
    char ebuf[128];
    FILE *f = fopen(path, "rb");
    if (!f) {
        errno_text(errno, ebuf, sizeof ebuf);
        return cce_set_error(err, "IO", 0, "cannot open certificate file '%s': %s", path, ebuf);
    }
    /* Grown by hand rather than realloc so that no copy is left unwiped. One byte past the
       limit tells "exactly 1 MiB" from "more". */
    const size_t limit = (size_t)CERT_FILE_MAX;
    size_t cap = 16384, n = 0;
    unsigned char *buf = malloc(cap);
    int rc = 0, read_errno = 0;
    while (buf) {
        if (n == cap) {
            if (cap > limit)
                break;
            size_t ncap = cap * 2 > limit + 1 ? limit + 1 : cap * 2;
            unsigned char *nb = malloc(ncap);
            if (nb)
                memcpy(nb, buf, n);
            wipe_free(buf, n);
            buf = nb;
            cap = ncap;
            if (!buf)
                break;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f))
                read_errno = errno ? errno : EIO;
            break;
        }
    }
    fclose(f);
    if (!buf) {
        rc = cce_set_error(err, "NOMEM", 0, "out of memory reading '%s'", path);
    } else if (read_errno) {
        errno_text(read_errno, ebuf, sizeof ebuf);
        rc = cce_set_error(err, "IO", 0, "cannot read certificate file '%s': %s", path, ebuf);
    } else if (n > limit) {
        rc = cce_set_error(err, "CERT", 0, "certificate file '%s' is too large (over %zu bytes)", path, limit);
    } else {
        cce_error e2;
        memset(&e2, 0, sizeof e2);
        rc = cce_cert_parse(buf, n, out, &e2);
        if (rc < 0)
            cce_set_error(err, e2.code, e2.status, "%s: %s", path, e2.message ? e2.message : "invalid certificate");
        cce_error_clear(&e2);
    }
    wipe_free(buf, n);
    return rc;
}
