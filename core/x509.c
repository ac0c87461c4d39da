/* x509.c - what a kubeconfig user needs to know about a client or CA certificate (libcrypto). */
/*
 * A kubeconfig may hold 10,000 users, and checking them all must take well
 * under a second.  d2i_X509 is far too slow for that in OpenSSL 3.0: it
 * decodes the subject public key through the provider decoder framework
 * (some 200 us a certificate), and we never use the key.  So the DER is
 * walked here, strictly and with every length checked against what is left,
 * and libcrypto only sees the small parts it is good at: the two Names
 * (d2i_X509_NAME, printed as RFC 2253) and SHA-256 of the whole certificate.
 */
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "internal.h"

/* Certificates are a few KiB; anything near this is not one we want to hold. */
#define CERT_FILE_MAX (1024L * 1024L)

static const char PEM_CERT_BEGIN[] = "-----BEGIN CERTIFICATE-----";
static const char PEM_CERT_END[] = "-----END CERTIFICATE-----";

static const unsigned char *find_bytes(const unsigned char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    if (m == 0 || n < m)
        return NULL;
    const unsigned char *p = hay, *last = hay + (n - m);
    while (p <= last) {
        p = memchr(p, (unsigned char)needle[0], (size_t)(last - p) + 1);
        if (!p)
            return NULL;
        if (memcmp(p, needle, m) == 0)
            return p;
        p++;
    }
    return NULL;
}

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

/* ---------------------------------------------------------------- base64 */

enum { B64_SPACE = 0x40, B64_PAD = 0x41 };  /* 0..63: a digit; 0xFF: not base64 */

static const unsigned char B64[256] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x40, 0x40, 0x40, 0x40, 0x40, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0x40, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3E, 0xFF, 0xFF, 0xFF, 0x3F,
    0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0xFF, 0xFF, 0xFF, 0x41, 0xFF, 0xFF,
    0xFF, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E,
    0x0F, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,
    0x29, 0x2A, 0x2B, 0x2C, 0x2D, 0x2E, 0x2F, 0x30, 0x31, 0x32, 0x33, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
};

/*
 * The same digits pre-shifted to their place in a 4-digit group, anything
 * else with the top byte set: one OR of four lookups both combines a group
 * and tells whether all four were digits.
 */
#define B64V(c)                                                                                          \
    ((c) >= 'A' && (c) <= 'Z'   ? (c) - 'A'                                                              \
     : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26                                                         \
     : (c) >= '0' && (c) <= '9' ? (c) - '0' + 52                                                         \
     : (c) == '+'               ? 62                                                                     \
     : (c) == '/'               ? 63                                                                     \
                                : -1)
#define B64S(c, s) (B64V(c) < 0 ? 0xFF000000u : (uint32_t)B64V(c) << (s))
#define B64R(s, r)                                                                                       \
    B64S((r) + 0, s), B64S((r) + 1, s), B64S((r) + 2, s), B64S((r) + 3, s), B64S((r) + 4, s),            \
        B64S((r) + 5, s), B64S((r) + 6, s), B64S((r) + 7, s), B64S((r) + 8, s), B64S((r) + 9, s),        \
        B64S((r) + 10, s), B64S((r) + 11, s), B64S((r) + 12, s), B64S((r) + 13, s), B64S((r) + 14, s),   \
        B64S((r) + 15, s)
#define B64T(s)                                                                                          \
    {B64R(s, 0),   B64R(s, 16),  B64R(s, 32),  B64R(s, 48),  B64R(s, 64),  B64R(s, 80),                  \
     B64R(s, 96),  B64R(s, 112), B64R(s, 128), B64R(s, 144), B64R(s, 160), B64R(s, 176),                 \
     B64R(s, 192), B64R(s, 208), B64R(s, 224), B64R(s, 240)}
static const uint32_t B64_0[256] = B64T(18), B64_1[256] = B64T(12), B64_2[256] = B64T(6), B64_3[256] = B64T(0);

/* What b64_decode_into may write for n input bytes. */
static size_t b64_room(size_t n) { return n / 4 * 3 + 3; }

/*
 * Strict standard base64: whitespace anywhere, '=' padding (optional) only at
 * the end, at least one digit.  Our own decoder rather than EVP_Decode*: it
 * tells "this is not base64" apart from "broken base64" without leaving
 * anything on OpenSSL's error queue.  `out` has b64_room(n) bytes.  Returns
 * 0 and the decoded length, or -1 when `in` is not such base64 (what was
 * written to `out` by then is the caller's to wipe).
 */
static int b64_decode_into(const unsigned char *in, size_t n, unsigned char *out, size_t *outlen)
{
    size_t i = 0, o = 0;
    uint32_t acc = 0;
    unsigned k = 0;  /* digits in acc */
    while (i < n) {
        /* The common case: four digits in a row, three bytes out. */
        while (k == 0 && n - i >= 4) {
            uint32_t v = B64_0[in[i]] | B64_1[in[i + 1]] | B64_2[in[i + 2]] | B64_3[in[i + 3]];
            if (v >> 24)
                break;
            out[o] = (unsigned char)(v >> 16);
            out[o + 1] = (unsigned char)(v >> 8);
            out[o + 2] = (unsigned char)v;
            o += 3;
            i += 4;
        }
        if (i == n)
            break;
        unsigned v = B64[in[i++]];
        if (v < 64) {
            acc = acc << 6 | v;
            if (++k == 4) {
                out[o] = (unsigned char)(acc >> 16);
                out[o + 1] = (unsigned char)(acc >> 8);
                out[o + 2] = (unsigned char)acc;
                o += 3;
                k = 0;
                acc = 0;
            }
        } else if (v == B64_PAD) {
            unsigned pad = 1;
            for (; i < n; i++) {
                v = B64[in[i]];
                if (v == B64_PAD)
                    pad++;
                else if (v != B64_SPACE)
                    return -1;  /* data after padding */
            }
            if (pad > 2 || (k + pad) % 4 != 0)
                return -1;
        } else if (v != B64_SPACE) {
            return -1;
        }
    }
    if ((o == 0 && k == 0) || k == 1)
        return -1;
    if (k == 2) {
        out[o++] = (unsigned char)(acc >> 4);
    } else if (k == 3) {
        out[o++] = (unsigned char)(acc >> 10);
        out[o++] = (unsigned char)(acc >> 2);
    }
    *outlen = o;
    return 0;
}

/*
 * Returns a heap buffer (caller cleanses and frees) or NULL when `in` is not
 * base64 at all (*nomem tells the other reason).
 */
static unsigned char *b64_decode(const unsigned char *in, size_t n, size_t *outlen, int *nomem)
{
    size_t room = b64_room(n);
    unsigned char *out = malloc(room);
    if (!out) {
        *nomem = 1;
        return NULL;
    }
    if (b64_decode_into(in, n, out, outlen) < 0) {
        OPENSSL_cleanse(out, room);  /* a part of a key bundle, perhaps */
        free(out);
        return NULL;
    }
    return out;
}

/* ---------------------------------------------------------------- errors */

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
        cce_set_error(err, CCE_E_CERT, 0, "%s", msg);
    }
    /* Left behind, these would be blamed on whatever the caller does next with OpenSSL (curl's TLS, for one). */
    ERR_clear_error();
    return -1;
}

/* ------------------------------------------------------------------- DER */

/*
 * One TLV of strict DER: a one-byte tag (no field we walk has a high tag
 * number), a definite length in its shortest form and of at most 4 bytes,
 * and contents that lie inside what is left.
 */
typedef struct tlv {
    unsigned tag;
    const unsigned char *start;  /* the tag byte */
    const unsigned char *c;      /* contents */
    size_t len;                  /* of the contents */
    size_t full;                 /* of the whole TLV */
} tlv;

/* Reads the TLV at *p, which must end by `end`, and moves *p past it. */
static int der_read(const unsigned char **p, const unsigned char *end, tlv *t)
{
    const unsigned char *q = *p;
    size_t avail = (size_t)(end - q);
    if (avail < 2 || (q[0] & 0x1F) == 0x1F)
        return -1;
    size_t len = q[1], hdr = 2;
    if (len & 0x80) {
        size_t nb = len & 0x7F;
        /* Indefinite, longer than any certificate, cut short, or not the shortest form. */
        if (nb == 0 || nb > 4 || nb > avail - 2 || q[2] == 0)
            return -1;
        len = 0;
        for (size_t i = 0; i < nb; i++)
            len = len << 8 | q[2 + i];
        if (len < 0x80)
            return -1;
        hdr += nb;
    }
    if (len > avail - hdr)
        return -1;
    t->tag = q[0];
    t->start = q;
    t->c = q + hdr;
    t->len = len;
    t->full = hdr + len;
    *p = q + hdr + len;
    return 0;
}

static int der_expect(const unsigned char **p, const unsigned char *end, unsigned tag, tlv *t)
{
    return der_read(p, end, t) == 0 && t->tag == tag ? 0 : -1;
}

/* What c2i_ASN1_INTEGER accepts: not empty, no redundant leading 00 or FF. */
static int int_ok(const tlv *t)
{
    const unsigned char *c = t->c;
    if (t->len == 0)
        return 0;
    return t->len == 1 || !((c[0] == 0x00 && !(c[1] & 0x80)) || (c[0] == 0xFF && (c[1] & 0x80)));
}

/* What c2i_ASN1_OBJECT accepts: not empty, no 0x80 starting a subidentifier, the last one complete. */
static int oid_ok(const tlv *t)
{
    const unsigned char *c = t->c;
    if (t->len == 0 || (c[t->len - 1] & 0x80))
        return 0;
    for (size_t i = 0; i < t->len; i++)
        if (c[i] == 0x80 && (i == 0 || !(c[i - 1] & 0x80)))
            return 0;
    return 1;
}

/* What c2i_ASN1_BIT_STRING accepts: the unused-bits octet, at most 7. */
static int bits_ok(const tlv *t) { return t->len >= 1 && t->c[0] <= 7; }

/*
 * And as DER has it: the unused bits zero (and none in an empty string).
 * Outside tbsCertificate this matters for the fingerprint: X509_digest
 * re-encodes those parts, clearing such bits, so a hash of the bytes as they
 * are would differ from `openssl x509 -fingerprint`.
 */
static int bits_der_ok(const tlv *t)
{
    if (!bits_ok(t) || (t->len == 1 && t->c[0] != 0))
        return 0;
    return (t->c[t->len - 1] & ((1u << t->c[0]) - 1u)) == 0;
}

/*
 * An ANY (algorithm parameters) as d2i decodes it, and in the DER form it
 * re-encodes to (the signature algorithm is outside tbsCertificate, see
 * bits_der_ok): no end-of-contents, SEQUENCE and SET constructed and no other
 * universal type so, and the checks c2i makes of the primitives.
 */
static int any_ok(const tlv *t)
{
    if (t->tag & 0xC0)  /* not universal: kept as it is */
        return 1;
    if (t->tag & 0x20)
        return t->tag == 0x30 || t->tag == 0x31;
    switch (t->tag) {
    case 0x00: case 0x10: case 0x11: return 0;
    case 0x01: return t->len == 1 && (t->c[0] == 0x00 || t->c[0] == 0xFF);  /* BOOLEAN */
    case 0x02: case 0x0A: return int_ok(t);                                   /* INTEGER, ENUMERATED */
    case 0x03: return bits_der_ok(t);
    case 0x05: return t->len == 0;                                            /* NULL */
    case 0x06: return oid_ok(t);
    case 0x1C: return t->len % 4 == 0;                                        /* UniversalString */
    case 0x1E: return t->len % 2 == 0;                                        /* BMPString */
    default: return 1;
    }
}

/* AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL } */
static int der_algor(const tlv *t)
{
    const unsigned char *p = t->c, *end = t->c + t->len;
    tlv f;
    if (t->tag != 0x30 || der_expect(&p, end, 0x06, &f) < 0 || !oid_ok(&f))
        return -1;
    if (p < end && (der_read(&p, end, &f) < 0 || !any_ok(&f)))
        return -1;
    return p == end ? 0 : -1;
}

/* [3] EXPLICIT SEQUENCE OF Extension ::= SEQUENCE { extnID OID, critical BOOLEAN OPTIONAL, extnValue OCTET STRING } */
static int der_extensions(const tlv *t)
{
    const unsigned char *p = t->c, *end = t->c + t->len;
    tlv seq, ext, f;
    if (der_expect(&p, end, 0x30, &seq) < 0 || p != end)
        return -1;
    p = seq.c;
    end = seq.c + seq.len;
    while (p < end) {
        if (der_expect(&p, end, 0x30, &ext) < 0)
            return -1;
        const unsigned char *q = ext.c, *qe = ext.c + ext.len;
        if (der_expect(&q, qe, 0x06, &f) < 0 || !oid_ok(&f) || der_read(&q, qe, &f) < 0)
            return -1;
        if (f.tag == 0x01 && (f.len != 1 || der_read(&q, qe, &f) < 0))
            return -1;
        if (f.tag != 0x04 || q != qe)
            return -1;
    }
    return 0;
}

/* UTCTime or GeneralizedTime, the Time CHOICE. */
static int der_time(const unsigned char **p, const unsigned char *end, tlv *t)
{
    return der_read(p, end, t) == 0 && (t->tag == 0x17 || t->tag == 0x18) ? 0 : -1;
}

/* ------------------------------------------------------------------ names */

/* The attribute types certificates commonly name, with OpenSSL's short names for them (OBJ_nid2sn). */
static const struct known_attr {
    unsigned char len;
    unsigned char oid[10];
    char sn[13];
} KNOWN_ATTRS[] = {
    {3, {0x55, 0x04, 0x03}, "CN"},
    {3, {0x55, 0x04, 0x0A}, "O"},
    {3, {0x55, 0x04, 0x0B}, "OU"},
    {3, {0x55, 0x04, 0x06}, "C"},
    {3, {0x55, 0x04, 0x07}, "L"},
    {3, {0x55, 0x04, 0x08}, "ST"},
    {3, {0x55, 0x04, 0x05}, "serialNumber"},
    {3, {0x55, 0x04, 0x09}, "street"},
    {3, {0x55, 0x04, 0x0C}, "title"},
    {3, {0x55, 0x04, 0x2A}, "GN"},
    {3, {0x55, 0x04, 0x04}, "SN"},
    {10, {0x09, 0x92, 0x26, 0x89, 0x93, 0xF2, 0x2C, 0x64, 0x01, 0x19}, "DC"},
    {10, {0x09, 0x92, 0x26, 0x89, 0x93, 0xF2, 0x2C, 0x64, 0x01, 0x01}, "UID"},
    {9, {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x01}, "emailAddress"},
};

static const char *known_attr(const tlv *oid)
{
    for (size_t i = 0; i < sizeof KNOWN_ATTRS / sizeof *KNOWN_ATTRS; i++)
        if (oid->len == KNOWN_ATTRS[i].len && memcmp(oid->c, KNOWN_ATTRS[i].oid, oid->len) == 0)
            return KNOWN_ATTRS[i].sn;
    return NULL;
}

#define NAME_FAST_MAX 32  /* attributes; a longer name goes to OpenSSL */

typedef struct name_attr {
    const char *sn;
    const unsigned char *v;
    size_t vlen;
    size_t rdn;  /* which RDN (SET) it belongs to */
} name_attr;

/* A Name: either its attributes, read here, or OpenSSL's decoding of it. */
typedef struct name_der {
    name_attr a[NAME_FAST_MAX];
    size_t n;
    X509_NAME *x;
} name_der;

/*
 * The names nearly every certificate has, which we print ourselves: each RDN
 * a SET of one or more { a type in KNOWN_ATTRS, a UTF8String, PrintableString
 * or IA5String of printable ASCII }.  Every such name is one d2i_X509_NAME
 * accepts.  Returns -1 for anything else, which OpenSSL then decodes and prints.
 */
static int name_simple(const tlv *t, name_der *nd)
{
    const unsigned char *p = t->c, *end = t->c + t->len;
    size_t rdn = 0;
    nd->n = 0;
    for (; p < end; rdn++) {
        tlv set;
        if (der_expect(&p, end, 0x31, &set) < 0 || set.len == 0)
            return -1;
        const unsigned char *q = set.c, *qe = set.c + set.len;
        while (q < qe) {
            tlv atv, oid, val;
            if (nd->n == NAME_FAST_MAX || der_expect(&q, qe, 0x30, &atv) < 0)
                return -1;
            const unsigned char *r = atv.c, *re = atv.c + atv.len;
            if (der_expect(&r, re, 0x06, &oid) < 0 || der_read(&r, re, &val) < 0 || r != re)
                return -1;
            if (val.tag != 0x0C && val.tag != 0x13 && val.tag != 0x16)
                return -1;
            const char *sn = known_attr(&oid);
            if (!sn)
                return -1;
            for (size_t i = 0; i < val.len; i++)
                if (val.c[i] < 0x20 || val.c[i] > 0x7E)
                    return -1;
            nd->a[nd->n++] = (name_attr){sn, val.c, val.len, rdn};
        }
    }
    return 0;
}

/* The parts of a certificate we describe, pointing into its DER. */
typedef struct cert_der {
    const unsigned char *der;  /* the whole Certificate TLV */
    size_t der_len;
    tlv serial, not_before, not_after, spki;
    name_der issuer, subject;
} cert_der;

static int name_read(const tlv *t, name_der *nd)
{
    nd->x = NULL;
    if (name_simple(t, nd) == 0)
        return 0;
    const unsigned char *p = t->start;
    if (t->full > LONG_MAX)
        return -1;
    nd->x = d2i_X509_NAME(NULL, &p, (long)t->full);
    if (nd->x && p != t->start + t->full) {
        X509_NAME_free(nd->x);
        nd->x = NULL;
    }
    return nd->x ? 0 : -1;
}

static void cert_der_free(cert_der *cd)
{
    X509_NAME_free(cd->issuer.x);
    X509_NAME_free(cd->subject.x);
    cd->issuer.x = cd->subject.x = NULL;
}

/*
 * Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm AlgorithmIdentifier, signature BIT STRING }
 * TBSCertificate ::= SEQUENCE { [0] EXPLICIT version OPTIONAL, serialNumber INTEGER, signature
 *     AlgorithmIdentifier, issuer Name, validity SEQUENCE { notBefore Time, notAfter Time }, subject Name,
 *     subjectPublicKeyInfo SEQUENCE { AlgorithmIdentifier, BIT STRING }, [1] IMPLICIT issuerUniqueID
 *     OPTIONAL, [2] IMPLICIT subjectUniqueID OPTIONAL, [3] EXPLICIT extensions OPTIONAL }
 * The structure d2i_X509 insists on, checked as strictly (and DER only); the public key is never
 * decoded.  Anything after the certificate (a chain, a key) is left alone.  Sets *why on failure.
 */
static int der_walk(const unsigned char *data, size_t n, cert_der *cd, const char **why)
{
    cd->issuer.x = cd->subject.x = NULL;
    const unsigned char *p = data, *end = data + n;
    tlv cert, tbs, f, g;
    *why = "truncated or not DER";
    if (der_read(&p, end, &cert) < 0)
        return -1;
    *why = "not a certificate";
    if (cert.tag != 0x30)
        return -1;
    cd->der = cert.start;
    cd->der_len = cert.full;

    /* The outer SEQUENCE: exactly three parts. */
    p = cert.c;
    end = cert.c + cert.len;
    if (der_expect(&p, end, 0x30, &tbs) < 0 || der_read(&p, end, &f) < 0 || der_algor(&f) < 0 ||
        der_expect(&p, end, 0x03, &f) < 0 || !bits_der_ok(&f) || p != end)
        return -1;

    p = tbs.c;
    end = tbs.c + tbs.len;
    if (der_read(&p, end, &f) < 0)
        return -1;
    if (f.tag == 0xA0) {  /* version: one INTEGER inside, nothing else */
        const unsigned char *q = f.c;
        if (der_expect(&q, f.c + f.len, 0x02, &g) < 0 || !int_ok(&g) || q != f.c + f.len ||
            der_read(&p, end, &f) < 0)
            return -1;
    }
    if (f.tag != 0x02 || !int_ok(&f))
        return -1;
    cd->serial = f;
    if (der_read(&p, end, &f) < 0 || der_algor(&f) < 0)
        return -1;
    tlv issuer, subject;
    if (der_expect(&p, end, 0x30, &issuer) < 0 || der_expect(&p, end, 0x30, &f) < 0)
        return -1;
    const unsigned char *q = f.c, *qe = f.c + f.len;
    if (der_time(&q, qe, &cd->not_before) < 0 || der_time(&q, qe, &cd->not_after) < 0 || q != qe)
        return -1;
    if (der_expect(&p, end, 0x30, &subject) < 0 || der_expect(&p, end, 0x30, &f) < 0)
        return -1;
    cd->spki = f;
    q = f.c;
    qe = f.c + f.len;
    if (der_read(&q, qe, &g) < 0 || der_algor(&g) < 0 || der_expect(&q, qe, 0x03, &g) < 0 || !bits_ok(&g) ||
        q != qe)
        return -1;
    /* Then, each at most once and in this order: [1] and [2] IMPLICIT BIT STRING, [3] extensions. */
    int last = 0;
    while (p < end) {
        if (der_read(&p, end, &f) < 0)
            return -1;
        int which = f.tag == 0x81 ? 1 : f.tag == 0x82 ? 2 : f.tag == 0xA3 ? 3 : 0;
        if (which <= last || (which < 3 && !bits_ok(&f)) || (which == 3 && der_extensions(&f) < 0))
            return -1;
        last = which;
    }

    *why = "bad issuer or subject name";
    if (name_read(&issuer, &cd->issuer) < 0 || name_read(&subject, &cd->subject) < 0) {
        cert_der_free(cd);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ fields */

static int is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'); }

/*
 * Copies a printed name into dst as one line.  When it does not fit, the cut
 * falls between RFC 2253 escapes ("\," "\\" "\C3"), never inside one, so the
 * truncated name is still well-formed.  XN_FLAG_RFC2253 escapes every byte
 * past 0x7F, so the text is ASCII and no UTF-8 sequence can be split.
 */
static void text_to_field(const char *p, size_t len, char *dst, size_t cap)
{
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

/* Printed text, of which only the start is kept: enough for any field, and to cut it well. */
typedef struct text {
    char buf[1024];
    size_t n;  /* as if nothing were dropped */
} text;

static void text_putc(text *t, char c)
{
    if (t->n < sizeof t->buf)
        t->buf[t->n] = c;
    t->n++;
}

/*
 * What X509_NAME_print_ex(..., XN_FLAG_RFC2253) prints for a name_simple
 * name: the attributes last to first, "+" inside an RDN and "," between RDNs,
 * and of printable ASCII only "\" escapes: always before " + , ; < > \,
 * before a space that ends the value, or a space or "#" that starts it (a
 * value of one character counts only as ending).  The tests hold this
 * against OpenSSL for every such character and position.
 */
static void name_print_simple(const name_der *nd, char *dst, size_t cap)
{
    text t;
    t.n = 0;
    for (size_t i = nd->n; i-- > 0;) {
        const name_attr *a = &nd->a[i];
        if (i + 1 < nd->n)
            text_putc(&t, a->rdn == nd->a[i + 1].rdn ? '+' : ',');
        for (const char *s = a->sn; *s; s++)
            text_putc(&t, *s);
        text_putc(&t, '=');
        for (size_t j = 0; j < a->vlen; j++) {
            char c = (char)a->v[j];
            int esc = c == '"' || c == '+' || c == ',' || c == ';' || c == '<' || c == '>' || c == '\\';
            if (j + 1 == a->vlen)
                esc |= c == ' ';
            else if (j == 0)
                esc |= c == ' ' || c == '#';
            if (esc)
                text_putc(&t, '\\');
            text_putc(&t, c);
        }
    }
    text_to_field(t.buf, t.n < sizeof t.buf ? t.n : sizeof t.buf, dst, cap);
}

/* Either way of printing; *b is a BIO made on first need, for both names. */
static int name_to_str(const name_der *nd, BIO **b, char *dst, size_t cap)
{
    if (!nd->x) {
        name_print_simple(nd, dst, cap);
        return 0;
    }
    if (!*b && !(*b = BIO_new(BIO_s_mem())))
        return -1;
    if (BIO_reset(*b) <= 0 || X509_NAME_print_ex(*b, nd->x, 0, XN_FLAG_RFC2253) < 0)
        return -1;
    char *p = NULL;
    long n = BIO_get_mem_data(*b, &p);
    text_to_field(p, (n > 0 && p) ? (size_t)n : 0, dst, cap);
    return 0;
}

/*
 * Exactly what `openssl x509 -serial` prints (i2a_ASN1_INTEGER, minus its
 * "\\\n" line continuations): uppercase hex of the magnitude, "-" first when
 * negative, the DER's sign octet (00 before a high bit, FF) left out, "00"
 * for zero.  `t` passed int_ok.
 */
static void serial_to_str(const tlv *t, char *dst, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *c = t->c;
    size_t n = t->len, o = 0, last = n;
    int neg = (c[0] & 0x80) != 0;
    if (neg) {
        /* Two's complement: invert every octet, and add one at the last non-zero one (the carry stops there). */
        while (last > 0 && c[last - 1] == 0)
            last--;
        if (o + 1 < cap)
            dst[o++] = '-';
    }
    for (size_t i = 0; i < n; i++) {
        unsigned v = c[i];
        if (neg)
            v = i + 1 < last ? (~v & 0xFFu) : i + 1 == last ? ((0x100u - v) & 0xFFu) : 0;
        if (i == 0 && n > 1 && v == 0)
            continue;  /* the sign octet */
        if (o + 1 < cap)
            dst[o++] = hex[v >> 4];
        if (o + 1 < cap)
            dst[o++] = hex[v & 15];
    }
    if (cap)
        dst[o] = '\0';
}

static int fingerprint_sha256(const unsigned char *der, size_t n, char *dst, size_t cap)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdn = 0;
    if (!EVP_Digest(der, n, md, &mdn, EVP_sha256(), NULL) || mdn == 0 || (size_t)mdn * 3 > cap)
        return -1;
    static const char hex[] = "0123456789ABCDEF";
    for (unsigned int i = 0; i < mdn; i++) {
        dst[3 * i] = hex[md[i] >> 4];
        dst[3 * i + 1] = hex[md[i] & 15];
        dst[3 * i + 2] = ':';
    }
    dst[3 * mdn - 1] = '\0';
    return 0;
}

static int two_digits(const unsigned char *s) { return (s[0] - '0') * 10 + (s[1] - '0'); }

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar, as timegm counts them. */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

/*
 * The forms RFC 5280 requires, UTCTime "YYMMDDHHMMSSZ" (YY >= 50 is 19YY) and
 * GeneralizedTime "YYYYMMDDHHMMSSZ", every field in range.  Returns 0 for
 * anything else, which then goes to ASN1_TIME_to_tm (it accepts more, such as
 * offsets and missing seconds) exactly as before.
 */
static int time_fast(const tlv *t, time_t *out)
{
    static const unsigned char mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    size_t yl = t->tag == 0x17 ? 2 : 4;
    const unsigned char *c = t->c;
    if (t->len != yl + 11 || c[t->len - 1] != 'Z')
        return 0;
    for (size_t i = 0; i + 1 < t->len; i++)
        if (c[i] < '0' || c[i] > '9')
            return 0;
    long long year = two_digits(c);
    if (yl == 2)
        year += year >= 50 ? 1900 : 2000;
    else
        year = year * 100 + two_digits(c + 2);
    const unsigned char *r = c + yl;
    int mon = two_digits(r), day = two_digits(r + 2), h = two_digits(r + 4), mi = two_digits(r + 6),
        s = two_digits(r + 8);
    if (mon < 1 || mon > 12 || h > 23 || mi > 59 || s > 59 || day < 1)
        return 0;
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > mdays[mon - 1] + (mon == 2 && leap))
        return 0;
    long long v = days_from_civil(year, (unsigned)mon, (unsigned)day) * 86400 + h * 3600 + mi * 60 + s;
    if ((long long)(time_t)v != v)
        return 0;
    *out = (time_t)v;
    return 1;
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

static int time_to_utc(const tlv *t, time_t *out)
{
    if (time_fast(t, out))
        return 0;
    if (t->full > LONG_MAX)
        return -1;
    const unsigned char *p = t->start;
    ASN1_TIME *at = d2i_ASN1_TIME(NULL, &p, (long)t->full);
    int rc = asn1_time_to_utc(at, out);
    ASN1_TIME_free(at);
    return rc;
}

static int fill_info(const cert_der *cd, cce_cert_info *out, cce_error *err)
{
    if (time_to_utc(&cd->not_before, &out->not_before) < 0 || time_to_utc(&cd->not_after, &out->not_after) < 0)
        return cert_fail(err, "certificate has an invalid validity period");
    out->days_left = difftime(out->not_after, time(NULL)) / 86400.0;
    BIO *b = NULL;
    int rc = name_to_str(&cd->subject, &b, out->subject, sizeof out->subject) == 0 &&
                     name_to_str(&cd->issuer, &b, out->issuer, sizeof out->issuer) == 0 &&
                     fingerprint_sha256(cd->der, cd->der_len, out->sha256, sizeof out->sha256) == 0
                 ? 0
                 : -1;
    BIO_free(b);
    if (rc < 0)
        return cert_fail(err, "cannot describe the certificate: %s", ossl_reason());
    serial_to_str(&cd->serial, out->serial, sizeof out->serial);
    return 0;
}

/* Describes the certificate at the start of `der`; `what` says where a broken one came from. */
static int describe(const unsigned char *der, size_t n, const char *what, cce_cert_info *out, cce_error *err)
{
    cert_der cd;
    const char *why = NULL;
    if (der_walk(der, n, &cd, &why) < 0)
        return cert_fail(err, "not a PEM or DER certificate: %s (%s)", what, why);
    int rc = fill_info(&cd, out, err);
    cert_der_free(&cd);
    return rc;
}

/* ------------------------------------------------------------------- PEM */

/* Past `p`, only what PEM readers strip (bytes up to ' ') until the line ends.  Returns the next line, or NULL. */
static const unsigned char *blank_to_eol(const unsigned char *p, const unsigned char *end, int eof_ok)
{
    for (; p < end && *p != '\n'; p++)
        if (*p > ' ')
            return NULL;
    return p < end ? p + 1 : eof_ok ? p : NULL;
}

/*
 * The first CERTIFICATE block at or after `pem` (which points at a BEGIN
 * marker): a BEGIN line (a marker with more on its line is skipped, as PEM
 * readers do), base64 with any line breaks and no headers (an encrypted
 * certificate is nothing we read), an END line.
 */
static int read_pem(const unsigned char *pem, const unsigned char *end, cce_cert_info *out, cce_error *err)
{
    static const char what[] = "the PEM CERTIFICATE block is malformed";
    const size_t bl = sizeof PEM_CERT_BEGIN - 1, el = sizeof PEM_CERT_END - 1;
    const unsigned char *body = NULL;
    for (const unsigned char *m = pem; m && !body; m = find_bytes(m + 1, (size_t)(end - m - 1), PEM_CERT_BEGIN))
        body = blank_to_eol(m + bl, end, 0);
    if (!body)
        return cert_fail(err, "not a PEM or DER certificate: %s (no BEGIN line)", what);
    /* Base64 has no '-': the first one starts the END line. */
    const unsigned char *stop = memchr(body, '-', (size_t)(end - body));
    if (!stop)
        return cert_fail(err, "not a PEM or DER certificate: %s (no END line)", what);
    if ((stop != body && stop[-1] != '\n') || (size_t)(end - stop) < el || memcmp(stop, PEM_CERT_END, el) != 0 ||
        !blank_to_eol(stop + el, end, 1))
        return cert_fail(err, "not a PEM or DER certificate: %s (bad END line)", what);

    size_t n = (size_t)(stop - body), room = b64_room(n), dn = 0;
    unsigned char small[4096];
    unsigned char *der = room <= sizeof small ? small : malloc(room);
    if (!der)
        return cce_set_error(err, CCE_E_NOMEM, 0, "out of memory decoding PEM");
    int rc = b64_decode_into(body, n, der, &dn) < 0
                 ? cert_fail(err, "not a PEM or DER certificate: %s (bad base64)", what)
                 : describe(der, dn, what, out, err);
    if (der != small)
        free(der);
    return rc;
}

static int parse(const unsigned char *data, size_t len, int allow_base64, cce_cert_info *out, cce_error *err)
{
    size_t skip = 0;
    while (skip < len && is_space(data[skip]))
        skip++;
    if (skip == len)
        return cert_fail(err, "empty certificate data");
    if (len > INT_MAX)  /* as before the walk: nothing this size is a certificate */
        return cert_fail(err, "certificate data too large");

    const unsigned char *pem = find_bytes(data, len, PEM_CERT_BEGIN);
    if (pem) {
        /*
         * Starting at our own match, not at the top, means leading junk, keys or
         * other PEM blocks before the certificate are never even parsed.
         */
        return read_pem(pem, data + len, out, err);
    } else if (data[0] == 0x30) {  /* DER: a SEQUENCE, no leading whitespace allowed */
        return describe(data, len, "DER decoding failed", out, err);
    } else if (allow_base64) {
        /* kubeconfig *-data fields hold base64 of the PEM text; callers may pass the field as it is. */
        size_t dn = 0;
        int nomem = 0;
        unsigned char *dec = b64_decode(data + skip, len - skip, &dn, &nomem);
        if (!dec)
            return nomem ? cce_set_error(err, CCE_E_NOMEM, 0, "out of memory decoding base64")
                         : cert_fail(err, "not a PEM or DER certificate");
        size_t k = 0;
        while (k < dn && is_space(dec[k]))
            k++;
        int rc = k < dn ? parse(dec, dn, 0, out, err) : cert_fail(err, "not a PEM or DER certificate");
        OPENSSL_cleanse(dec, dn);
        free(dec);
        return rc;
    }
    return cert_fail(err, "not a PEM or DER certificate");
}

int cce_cert_parse(const void *data, size_t len, cce_cert_info *out, cce_error *err)
{
    if (!out)
        return cce_set_error(err, CCE_E_INVALID_ARGUMENT, 0, "cce_cert_parse: no output");
    memset(out, 0, sizeof *out);
    if (!data || len == 0)
        return cce_set_error(err, CCE_E_CERT, 0, "empty certificate data");
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
        return cce_set_error(err, CCE_E_INVALID_ARGUMENT, 0, "cce_cert_parse_file: no %s", path ? "output" : "path");
    memset(out, 0, sizeof *out);
    char ebuf[128];
    FILE *f = fopen(path, "rb");
    if (!f) {
        errno_text(errno, ebuf, sizeof ebuf);
        return cce_set_error(err, CCE_E_IO, 0, "cannot open certificate file '%s': %s", path, ebuf);
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
        rc = cce_set_error(err, CCE_E_NOMEM, 0, "out of memory reading '%s'", path);
    } else if (read_errno) {
        errno_text(read_errno, ebuf, sizeof ebuf);
        rc = cce_set_error(err, CCE_E_IO, 0, "cannot read certificate file '%s': %s", path, ebuf);
    } else if (n > limit) {
        rc = cce_set_error(err, CCE_E_CERT, 0, "certificate file '%s' is too large (over %zu bytes)", path, limit);
    } else {
        cce_error e2;
        memset(&e2, 0, sizeof e2);
        rc = cce_cert_parse(buf, n, out, &e2);
        if (rc < 0)
            cce_set_error_code(err, e2.kind, e2.code, e2.status, "%s: %s", path, e2.message ? e2.message : "invalid certificate");
        cce_error_clear(&e2);
    }
    wipe_free(buf, n);
    return rc;
}

/* ------------------------------------------------------ answer checks */

/*
 * A clustercert answer replaces credentials that work, so what it carries is
 * checked before anything is taken from it.  Parsing goes through OpenSSL's
 * PEM readers (the key's type is whatever the server chose), never through
 * our own DER walk: the key is what kubectl will use, so it must be what
 * OpenSSL reads.
 */

static int why_set(char *why, size_t cap, const char *fmt, ...) CCE_PRINTF(3, 4);
static int why_set(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    ERR_clear_error();
    return -1;
}

/*
 * Strict base64 of PEM text: the decoded bytes (caller wipes and frees) or
 * NULL with *why set.  `field` names the field in the reason.
 */
static unsigned char *pem_of_field(const char *b64, const char *field, size_t *len, int *nomem, char *why, size_t cap)
{
    size_t n = b64 ? strlen(b64) : 0;
    if (n == 0) {
        why_set(why, cap, "%s is empty", field);
        return NULL;
    }
    unsigned char *dec = b64_decode((const unsigned char *)b64, n, len, nomem);
    if (!dec) {
        if (*nomem)
            why_set(why, cap, "out of memory decoding %s", field);
        else
            why_set(why, cap, "%s is not base64", field);
        return NULL;
    }
    size_t k = 0;
    while (k < *len && is_space(dec[k]))
        k++;
    if (*len - k < 11 || memcmp(dec + k, "-----BEGIN ", 11) != 0) {
        wipe_free(dec, *len);
        why_set(why, cap, "%s does not decode to PEM", field);
        return NULL;
    }
    return dec;
}

static void iso_time(time_t t, char *dst, size_t cap)
{
    struct tm tm;
    if (gmtime_r(&t, &tm))
        strftime(dst, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
    else
        snprintf(dst, cap, "(time %lld)", (long long)t);
}

/* One PEM block (name, no headers) from `pem`: its DER in *der (OPENSSL_clear_free it), or -1. */
static int pem_block(const unsigned char *pem, size_t n, char **name, unsigned char **der, long *len, int *headers)
{
    BIO *b = n <= INT_MAX ? BIO_new_mem_buf(pem, (int)n) : NULL;
    char *hdr = NULL;
    *name = NULL;
    *der = NULL;
    int ok = b && PEM_read_bio(b, name, &hdr, der, len) == 1;
    BIO_free(b);
    *headers = ok && hdr && *hdr;
    OPENSSL_free(hdr);
    return ok ? 0 : -1;
}

/*
 * The private key of a PEM block, by its type: what PEM_read_bio_PrivateKey
 * would read, minus its guessing (it tries every decoder OpenSSL has, some
 * 300 us a key; naming the type costs a third of that).
 */
static EVP_PKEY *key_of_block(const char *name, const unsigned char *der, long len)
{
    const unsigned char *p = der;
    if (strcmp(name, "EC PRIVATE KEY") == 0)
        return d2i_PrivateKey(EVP_PKEY_EC, NULL, &p, len);
    if (strcmp(name, "RSA PRIVATE KEY") == 0)
        return d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, len);
    if (strcmp(name, "PRIVATE KEY") == 0) {
        PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, len);
        EVP_PKEY *k = p8 ? EVP_PKCS82PKEY(p8) : NULL;
        PKCS8_PRIV_KEY_INFO_free(p8);
        return k;
    }
    return NULL;
}

/* An AlgorithmIdentifier that is id-ecPublicKey on a named curve: the curve's OID TLV, or -1. */
static int ec_algorithm(const tlv *alg, tlv *curve)
{
    static const unsigned char id_ec_public_key[] = {0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01};
    const unsigned char *q = alg->c, *qe = alg->c + alg->len;
    tlv oid;
    if (der_expect(&q, qe, 0x06, &oid) < 0 || oid.full != sizeof id_ec_public_key ||
        memcmp(oid.start, id_ec_public_key, sizeof id_ec_public_key) != 0 || der_expect(&q, qe, 0x06, curve) < 0 ||
        q != qe)
        return -1;
    return 0;
}

static int tlv_same(const tlv *a, const tlv *b)
{
    return a->full == b->full && memcmp(a->start, b->start, a->full) == 0;
}

/* The curve OID TLV and the public point of a certificate's id-ecPublicKey SubjectPublicKeyInfo. */
static int cert_ec_key(const cert_der *cd, tlv *curve, tlv *point)
{
    const unsigned char *p = cd->spki.c, *end = cd->spki.c + cd->spki.len;
    tlv alg;
    if (der_expect(&p, end, 0x30, &alg) < 0 || der_expect(&p, end, 0x03, point) < 0 || p != end || point->len < 2 ||
        point->c[0] != 0 || ec_algorithm(&alg, curve) < 0)
        return -1;
    point->c++; /* past the BIT STRING's unused-bits byte */
    point->len--;
    return 0;
}

/*
 * The private scalar and curve OID of an EC key in SEC1 (RFC 5915) or PKCS#8
 * (RFC 5208) DER; curve->len is 0 when the key does not name its curve.
 * -1 when it is not an EC key of either shape.
 */
static int ec_key_scalar(const char *pem_name, const unsigned char *der, size_t len, tlv *scalar, tlv *curve)
{
    const unsigned char *p = der, *end = der + len;
    tlv seq, ver, t;
    memset(curve, 0, sizeof *curve);
    if (strcmp(pem_name, "PRIVATE KEY") == 0) {
        tlv alg, inner;
        if (der_expect(&p, end, 0x30, &seq) < 0 || p != end)
            return -1;
        p = seq.c;
        end = seq.c + seq.len;
        if (der_expect(&p, end, 0x02, &ver) < 0 || ver.len != 1 || ver.c[0] != 0 || der_expect(&p, end, 0x30, &alg) < 0 ||
            der_expect(&p, end, 0x04, &inner) < 0 || ec_algorithm(&alg, curve) < 0)
            return -1;
        p = inner.c;
        end = inner.c + inner.len;
    } else if (strcmp(pem_name, "EC PRIVATE KEY") != 0) {
        return -1;
    }
    if (der_expect(&p, end, 0x30, &seq) < 0 || p != end)
        return -1;
    p = seq.c;
    end = seq.c + seq.len;
    if (der_expect(&p, end, 0x02, &ver) < 0 || ver.len != 1 || ver.c[0] != 1 || der_expect(&p, end, 0x04, scalar) < 0 ||
        scalar->len == 0)
        return -1;
    while (p < end) { /* [0] parameters, [1] public key: the latter is never trusted */
        if (der_read(&p, end, &t) < 0)
            return -1;
        if (t.tag == 0xA0) {
            const unsigned char *q = t.c;
            tlv named;
            if (der_expect(&q, t.c + t.len, 0x06, &named) < 0 || q != t.c + t.len ||
                (curve->len && !tlv_same(curve, &named)))
                return -1;
            *curve = named;
        }
    }
    return 0;
}

/*
 * An EC key against the certificate: the public point is computed from the
 * private scalar (never read from the key's optional copy of it, which a
 * hostile answer could set to the certificate's while the scalar is another:
 * Go's tls.X509KeyPair, and so kubectl, would then refuse the pair).  1 when
 * they match, 0 when not, -1 when the key is not an EC key this reads (then
 * OpenSSL's decoders decide).  EC_GROUP and EC_POINT skip the provider
 * decoders, which cost ~90 us a key in OpenSSL 3.0.
 */
static int ec_key_matches(const cert_der *cd, const char *pem_name, const unsigned char *der, size_t len)
{
    tlv scalar, kcurve, ccurve, point;
    if (ec_key_scalar(pem_name, der, len, &scalar, &kcurve) < 0)
        return -1;
    if (cert_ec_key(cd, &ccurve, &point) < 0 || ccurve.full > LONG_MAX ||
        (kcurve.len && !tlv_same(&kcurve, &ccurve)))
        return 0; /* a certificate for another key type or curve */
    const unsigned char *c = ccurve.start;
    ASN1_OBJECT *o = d2i_ASN1_OBJECT(NULL, &c, (long)ccurve.full);
    int nid = o ? OBJ_obj2nid(o) : NID_undef;
    ASN1_OBJECT_free(o);
    EC_GROUP *g = nid != NID_undef ? EC_GROUP_new_by_curve_name(nid) : NULL;
    BIGNUM *d = g && scalar.len <= INT_MAX ? BN_bin2bn(scalar.c, (int)scalar.len, NULL) : NULL;
    EC_POINT *pub = g ? EC_POINT_new(g) : NULL;
    unsigned char enc[160];
    int ok = 0;
    if (d && pub && !BN_is_zero(d) && BN_cmp(d, EC_GROUP_get0_order(g)) < 0 &&
        EC_POINT_mul(g, pub, d, NULL, NULL, NULL) == 1) {
        point_conversion_form_t form = point.c[0] == 0x02 || point.c[0] == 0x03 ? POINT_CONVERSION_COMPRESSED
                                                                                : POINT_CONVERSION_UNCOMPRESSED;
        size_t n = EC_POINT_point2oct(g, pub, form, enc, sizeof enc, NULL);
        ok = n > 0 && n == point.len && memcmp(enc, point.c, n) == 0;
    }
    BN_clear_free(d);
    EC_POINT_free(pub);
    EC_GROUP_free(g);
    return ok;
}

/*
 * Whether `pk` is the certificate's key and a consistent pair (the public
 * half really belongs to the private one, as Go's tls.X509KeyPair checks).
 */
static int key_matches(const cert_der *cd, EVP_PKEY *pk)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    int pair = ctx && EVP_PKEY_pairwise_check(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!pair)
        return 0;
    unsigned char *spki = NULL;
    int n = i2d_PUBKEY(pk, &spki);
    int same = n > 0 && (size_t)n == cd->spki.full && memcmp(spki, cd->spki.start, (size_t)n) == 0;
    OPENSSL_free(spki);
    if (same)
        return 1;
    const unsigned char *p = cd->der;
    X509 *x = cd->der_len <= LONG_MAX ? d2i_X509(NULL, &p, (long)cd->der_len) : NULL;
    int ok = x && X509_check_private_key(x, pk) == 1;
    X509_free(x);
    return ok;
}

int cce_credential_check(const char *cert_b64, const char *key_b64, time_t now, char *why, size_t cap)
{
    size_t cn = 0, kn = 0;
    int nomem = 0, rc = -1, headers = 0, have_cd = 0;
    unsigned char *cpem = NULL, *kpem = NULL, *cder = NULL, *kder = NULL;
    char *cname = NULL, *kname = NULL;
    long clen = 0, klen = 0;
    cert_der cd;
    const char *walk_why = NULL;
    EVP_PKEY *pk = NULL;
    if (!(cpem = pem_of_field(cert_b64, "client-certificate-data", &cn, &nomem, why, cap)))
        goto out;
    if (pem_block(cpem, cn, &cname, &cder, &clen, &headers) < 0 || strcmp(cname, "CERTIFICATE") != 0 || headers) {
        why_set(why, cap, "client-certificate-data is not a PEM certificate (%s)",
                cname ? cname : ossl_reason());
        goto out;
    }
    /* The walk every certificate cceauto reads goes through: strict DER, every length checked. */
    have_cd = der_walk(cder, (size_t)clen, &cd, &walk_why) == 0;
    if (!have_cd || cd.der_len != (size_t)clen) {
        why_set(why, cap, "client-certificate-data is not a PEM certificate (%s)", have_cd ? "trailing data" : walk_why);
        goto out;
    }
    time_t nb, na;
    if (time_to_utc(&cd.not_before, &nb) < 0 || time_to_utc(&cd.not_after, &na) < 0) {
        why_set(why, cap, "the client certificate has an unreadable validity period");
        goto out;
    }
    char t1[40], t2[40];
    if (na <= nb) {
        iso_time(nb, t1, sizeof t1);
        iso_time(na, t2, sizeof t2);
        why_set(why, cap, "the client certificate's validity ends (%s) before it begins (%s)", t2, t1);
        goto out;
    }
    if (na <= now) {
        iso_time(na, t2, sizeof t2);
        why_set(why, cap, "the client certificate expired at %s", t2);
        goto out;
    }
    if (nb > now && nb - now > CCE_CLOCK_SKEW_S) {
        iso_time(nb, t1, sizeof t1);
        why_set(why, cap, "the client certificate is not valid before %s (more than %d minutes from now)", t1,
                CCE_CLOCK_SKEW_S / 60);
        goto out;
    }

    if (!(kpem = pem_of_field(key_b64, "client-key-data", &kn, &nomem, why, cap)))
        goto out;
    if (pem_block(kpem, kn, &kname, &kder, &klen, &headers) < 0) {
        why_set(why, cap, "client-key-data is not an unencrypted PEM private key (%s)", ossl_reason());
        goto out;
    }
    /* An encrypted key is nothing kubectl could use; and no pass phrase is ever asked for. */
    if (headers || strcmp(kname, "ENCRYPTED PRIVATE KEY") == 0) {
        why_set(why, cap, "client-key-data is an encrypted private key");
        goto out;
    }
    int ec = ec_key_matches(&cd, kname, kder, (size_t)klen);
    if (ec == 0) {
        why_set(why, cap, "client key does not match the certificate");
        goto out;
    }
    if (ec == 1) {
        rc = 0;
        goto out;
    }
    if (!(pk = key_of_block(kname, kder, klen))) {
        why_set(why, cap, "client-key-data is not an unencrypted PEM private key (%s)",
                ERR_peek_last_error() ? ossl_reason() : kname);
        goto out;
    }
    if (!key_matches(&cd, pk)) {
        why_set(why, cap, "client key does not match the certificate");
        goto out;
    }
    rc = 0;
out:
    if (nomem)
        rc = -2;
    if (have_cd)
        cert_der_free(&cd);
    EVP_PKEY_free(pk);
    OPENSSL_free(cname);
    OPENSSL_free(kname);
    OPENSSL_free(cder);
    OPENSSL_clear_free(kder, kder ? (size_t)klen : 0);
    wipe_free(cpem, cn);
    wipe_free(kpem, kn);
    ERR_clear_error();
    return rc;
}

int cce_ca_check(const char *ca_b64, char *why, size_t cap)
{
    size_t n = 0;
    int nomem = 0, rc = -1, count = 0;
    unsigned char *pem = pem_of_field(ca_b64, "certificate-authority-data", &n, &nomem, why, cap);
    if (!pem)
        return nomem ? -2 : -1;
    BIO *b = n <= INT_MAX ? BIO_new_mem_buf(pem, (int)n) : NULL;
    if (!b) {
        why_set(why, cap, "cannot read certificate-authority-data");
        goto out;
    }
    /* A bundle: every PEM block a certificate; the end shows as "no start line". */
    for (;;) {
        char *name = NULL, *hdr = NULL;
        unsigned char *der = NULL;
        long len = 0;
        if (PEM_read_bio(b, &name, &hdr, &der, &len) != 1) {
            unsigned long e = ERR_peek_last_error();
            if (count > 0 && ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
                rc = 0;
            else
                why_set(why, cap, "certificate-authority-data is not a PEM certificate bundle (%s)", ossl_reason());
            break;
        }
        cert_der cd;
        const char *walk_why = "not a certificate";
        int is_cert = strcmp(name, "CERTIFICATE") == 0 && !(hdr && *hdr);
        int walked = is_cert && der_walk(der, (size_t)len, &cd, &walk_why) == 0;
        int whole = walked && cd.der_len == (size_t)len;
        if (walked)
            cert_der_free(&cd);
        OPENSSL_free(name);
        OPENSSL_free(hdr);
        OPENSSL_free(der);
        if (!is_cert) {
            why_set(why, cap, "certificate-authority-data holds a PEM block that is not a certificate");
            break;
        }
        if (!whole) {
            why_set(why, cap, "certificate-authority-data is not a PEM certificate bundle (%s)",
                    walked ? "trailing data" : walk_why);
            break;
        }
        count++;
    }
    BIO_free(b);
out:
    wipe_free(pem, n);
    ERR_clear_error();
    return rc;
}
