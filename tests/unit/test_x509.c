/*
 * test_x509.c - certificate inspection, checked field by field against what
 * the openssl command line prints for the same certificate.  Certificates are
 * made at run time (openssl, and python3's cryptography for validity periods
 * OpenSSL 3.0's command line cannot set) in a private temporary directory.
 */
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
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

/* Runs a shell command inside the temporary directory; its output goes to a log there. */
static int sh(const char *fmt, ...) CCE_PRINTF(1, 2);
static int sh(const char *fmt, ...)
{
    char cmd[4096], full[4800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "cd '%s' && { %s ; } >>log.txt 2>&1", tmpdir, cmd);
    int rc = system(full);
    if (rc != 0)
        fprintf(stderr, "command failed (%d): %s  (see %s/log.txt)\n", rc, cmd, tmpdir);
    return rc;
}

static void path_of(char *dst, size_t cap, const char *name) { snprintf(dst, cap, "%s/%s", tmpdir, name); }

static char *slurp(const char *name, size_t *len)
{
    char p[1024];
    path_of(p, sizeof p, name);
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    cce_buf b = {0};
    char chunk[4096];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0)
        cce_buf_append(&b, chunk, r);
    fclose(f);
    return cce_buf_steal(&b, len);
}

static void spit(const char *name, const void *data, size_t len)
{
    char p[1024];
    path_of(p, sizeof p, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(data, 1, len, f) != len)
        fprintf(stderr, "cannot write %s\n", p);
    if (f)
        fclose(f);
}

/* "Nov 29 04:41:55 2027 GMT" (the day may be space-padded) as a UTC time_t. */
static time_t parse_gmt(const char *s)
{
    static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char mon[4] = "";
    int d, h, mi, sec, y;
    char zone[8] = "";
    if (sscanf(s, "%3s %d %d:%d:%d %d %7s", mon, &d, &h, &mi, &sec, &y, zone) != 7 || strcmp(zone, "GMT") != 0)
        return (time_t)-2;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_mon = -1;
    for (int i = 0; i < 12; i++)
        if (strcmp(mon, months[i]) == 0)
            tm.tm_mon = i;
    if (tm.tm_mon < 0)
        return (time_t)-2;
    tm.tm_year = y - 1900;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    return timegm(&tm);
}

typedef struct expect {
    time_t not_before, not_after;
    char serial[256], subject[2048], issuer[2048], sha256[256];
    int have;  /* bit per field found */
} expect;

static void after(const char *line, const char *prefix, char *dst, size_t cap, int bit, int *have)
{
    size_t n = strlen(prefix);
    if (strncmp(line, prefix, n) != 0)
        return;
    /* Copied by length (snprintf of a 4 KiB line into a small field warns in Release);
       a line too long is cut, and then differs from ours: no silent pass. */
    size_t len = strcspn(line + n, "\r\n");
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, line + n, len);
    dst[len] = '\0';
    *have |= bit;
}

/* What `openssl x509` prints for the file `name` (PEM or DER). */
static int openssl_expect(const char *name, const char *inform, expect *e)
{
    memset(e, 0, sizeof *e);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && openssl x509 -in '%s' -inform %s -noout -startdate -enddate -serial -subject -issuer"
             " -fingerprint -sha256 -nameopt RFC2253",
             tmpdir, name, inform);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char line[4096], nb[128] = "", na[128] = "";
    while (fgets(line, sizeof line, p)) {
        after(line, "notBefore=", nb, sizeof nb, 1, &e->have);
        after(line, "notAfter=", na, sizeof na, 2, &e->have);
        after(line, "serial=", e->serial, sizeof e->serial, 4, &e->have);
        after(line, "subject=", e->subject, sizeof e->subject, 8, &e->have);
        after(line, "issuer=", e->issuer, sizeof e->issuer, 16, &e->have);
        after(line, "sha256 Fingerprint=", e->sha256, sizeof e->sha256, 32, &e->have);
    }
    int rc = pclose(p);
    e->not_before = parse_gmt(nb);
    e->not_after = parse_gmt(na);
    if (rc != 0 || e->have != 63 || e->not_before == (time_t)-2 || e->not_after == (time_t)-2) {
        fprintf(stderr, "openssl x509 on %s: rc %d, fields %d\n", name, rc, e->have);
        return -1;
    }
    return 0;
}

static double absd(double v) { return v < 0 ? -v : v; }

/* Every field of `got` against openssl's view; `what` names the case when something differs. */
static void check_same(const cce_cert_info *got, const expect *e, const char *what)
{
    int before = check_failures;
    double expected_days = difftime(e->not_after, time(NULL)) / 86400.0;
    CHECK(got->not_before == e->not_before);
    CHECK(got->not_after == e->not_after);
    CHECK(absd(got->days_left - expected_days) <= 5.0 / 86400.0);
    CHECK_STR(got->serial, e->serial);
    CHECK_STR(got->subject, e->subject);
    CHECK_STR(got->issuer, e->issuer);
    CHECK_STR(got->sha256, e->sha256);
    if (check_failures != before)
        fprintf(stderr, "  ... in case: %s\n", what);
}

/* Parses the file both ways (by path, and its bytes from memory) and compares with openssl. */
static void check_file(const char *name, const char *inform, const char *what)
{
    expect e;
    int before = check_failures;
    CHECK(openssl_expect(name, inform, &e) == 0);

    char p[1024];
    path_of(p, sizeof p, name);
    cce_cert_info info;
    cce_error err = {0};
    CHECK(cce_cert_parse_file(p, &info, &err) == 0);
    if (err.message)
        fprintf(stderr, "  error: %s %s\n", err.code, err.message);
    check_same(&info, &e, what);
    cce_error_clear(&err);

    size_t len = 0;
    char *data = slurp(name, &len);
    CHECK(data != NULL);
    CHECK(cce_cert_parse(data, len, &info, &err) == 0);
    check_same(&info, &e, what);
    cce_error_clear(&err);
    free(data);
    if (check_failures != before)
        fprintf(stderr, "  ... in file case: %s\n", what);
}

/* Parses `data` and expects the fields of the certificate file `like`. */
static void check_data_like(const void *data, size_t len, const char *like, const char *what)
{
    expect e;
    CHECK(openssl_expect(like, "PEM", &e) == 0);
    cce_cert_info info;
    cce_error err = {0};
    int rc = cce_cert_parse(data, len, &info, &err);
    CHECK(rc == 0);
    if (rc != 0)
        fprintf(stderr, "  %s: %s %s\n", what, err.code, err.message ? err.message : "");
    check_same(&info, &e, what);
    cce_error_clear(&err);
}

static void check_fails(const void *data, size_t len, const char *code, const char *msg_part, const char *what)
{
    cce_cert_info info;
    memset(&info, 0x5A, sizeof info);
    cce_error err = {0};
    int before = check_failures;
    CHECK(cce_cert_parse(data, len, &info, &err) == -1);
    CHECK_STR(err.code, code);
    CHECK_CONTAINS(err.message, msg_part);
    CHECK(ERR_peek_error() == 0);  /* nothing left on OpenSSL's queue for the next caller */
    CHECK(info.subject[0] == '\0' && info.serial[0] == '\0' && info.not_after == 0);
    if (check_failures != before)
        fprintf(stderr, "  ... in failure case: %s\n", what);
    cce_error_clear(&err);
}

static void check_file_fails(const char *path, const char *code, const char *msg_part, const char *what)
{
    cce_cert_info info;
    cce_error err = {0};
    int before = check_failures;
    CHECK(cce_cert_parse_file(path, &info, &err) == -1);
    CHECK_STR(err.code, code);
    CHECK_CONTAINS(err.message, path);
    CHECK_CONTAINS(err.message, msg_part);
    CHECK(ERR_peek_error() == 0);
    if (check_failures != before)
        fprintf(stderr, "  ... in file failure case: %s\n", what);
    cce_error_clear(&err);
}

/* ---------------------------------------------------------------- fixtures */

static int make_fixtures(void)
{
    int rc = 0;
    rc |= sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem"
             " -days 3650 -subj '/CN=Test CA/O=cceauto'");
    /* Commas, a multi-valued RDN, UTF-8, quotes, RFC 2253 specials, a backslash and a leading space. */
    rc |= sh("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout c.key -out c.csr -utf8"
             " -subj '/CN=Doe, John+UID=jd/O=M\xC3\xBCller \"GmbH\" <x>;#1/OU=a\\/b\\\\c =d/L= lead'");
    rc |= sh("openssl x509 -req -in c.csr -CA ca.pem -CAkey ca.key -set_serial 0x0A -days 30 -out c.pem");
    rc |= sh("openssl x509 -in c.pem -outform DER -out c.der");
    rc |= sh("openssl base64 -A -in c.pem -out c.b64");   /* one line, as in a kubeconfig */
    rc |= sh("openssl base64 -in c.pem -out c.b64w");     /* wrapped at 64 columns */
    rc |= sh("cat c.pem ca.pem > chain.pem && cat ca.pem c.pem > rchain.pem");
    rc |= sh("openssl base64 -A -in chain.pem -out chain.b64");
    rc |= sh("{ printf 'Bag Attributes\\n    localKeyID: 01 02\\nsubject=junk\\n\\n'; cat c.key c.pem ca.pem; } > bundle.pem");

    /* Serials: zero, one byte, high bit set (DER adds a 00 byte openssl does not print), 20 bytes, decimal. */
    static const char *serials[] = {"0", "0x80", "0x7F", "0x0102030405060708090A0B0C0D0E0F1011121314",
                                    "0xFFEEDDCCBBAA99887766554433221100FFEEDDCC", "123456789012345678901234567890"};
    for (size_t i = 0; i < sizeof serials / sizeof *serials; i++)
        rc |= sh("openssl x509 -req -in c.csr -CA ca.pem -CAkey ca.key -set_serial %s -days 365 -out s%zu.pem",
                 serials[i], i);

    /*
     * OpenSSL 3.0's command line cannot back-date a certificate, so python3's
     * cryptography makes the expired one, one valid past 2049 (GeneralizedTime)
     * and one that started before 1970 (a negative time_t).
     */
    static const char py[] =
        "import datetime\n"
        "from cryptography import x509\n"
        "from cryptography.x509.oid import NameOID\n"
        "from cryptography.hazmat.primitives import hashes, serialization\n"
        "from cryptography.hazmat.primitives.asymmetric import ec\n"
        "utc = datetime.timezone.utc\n"
        "now = datetime.datetime.now(utc).replace(microsecond=0)\n"
        "def make(path, nb, na, serial, cn):\n"
        "    key = ec.generate_private_key(ec.SECP256R1())\n"
        "    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),\n"
        "                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'system:masters')])\n"
        "    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)\n"
        "            .public_key(key.public_key()).serial_number(serial)\n"
        "            .not_valid_before(nb).not_valid_after(na).sign(key, hashes.SHA256()))\n"
        "    open(path, 'wb').write(cert.public_bytes(serialization.Encoding.PEM))\n"
        "d = datetime.timedelta\n"
        "make('expired.pem', now - d(days=10), now - d(days=2, hours=3), 0x1234, 'expired')\n"
        "make('future.pem', datetime.datetime(1965, 3, 4, 5, 6, 7, tzinfo=utc),\n"
        "     datetime.datetime(2060, 1, 2, 3, 4, 5, tzinfo=utc), 0xABCDEF, 'far future')\n";
    spit("mk.py", py, sizeof py - 1);
    rc |= sh("if [ -x /usr/bin/python3 ]; then /usr/bin/python3 mk.py; else python3 mk.py; fi");

    /* Long names, each shifting where the 255-byte cut falls relative to the "\C3\BC" and "\," escapes. */
    for (int k = 0; k < 7; k++) {
        char pad[8] = "";
        memset(pad, 'x', (size_t)k);
        char u20[64] = "", uc[64] = "";
        for (int i = 0; i < 20; i++)
            strcat(u20, "\xC3\xBC");
        for (int i = 0; i < 10; i++)
            strcat(uc, "\xC3\xBC,");
        rc |= sh("openssl req -x509 -key ca.key -utf8 -days 1 -out long%d.pem"
                 " -subj '/CN=long/OU=%s/O=%s/L=%s%s'",
                 k, u20, uc, pad, u20);
    }
    return rc;
}

/* ------------------------------------------------------------------ tests */

static void test_fields(void)
{
    check_file("ca.pem", "PEM", "self-signed EC P-256 CA");
    check_file("c.pem", "PEM", "client cert, serial 0x0A, special subject");
    check_file("c.der", "DER", "DER");
    check_file("expired.pem", "PEM", "expired (python)");
    check_file("future.pem", "PEM", "GeneralizedTime, pre-1970 start");
    for (int i = 0; i < 6; i++) {
        char name[32];
        snprintf(name, sizeof name, "s%d.pem", i);
        check_file(name, "PEM", name);
    }

    char p[1024];
    cce_cert_info info;
    cce_error err = {0};

    /* The values themselves, not only agreement with openssl. */
    path_of(p, sizeof p, "c.pem");
    CHECK(cce_cert_parse_file(p, &info, &err) == 0);
    CHECK_STR(info.serial, "0A");
    CHECK_STR(info.issuer, "O=cceauto,CN=Test CA");
    CHECK_STR(info.subject, "L=\\ lead,OU=a/b\\\\c =d,O=M\\C3\\BCller \\\"GmbH\\\" \\<x\\>\\;#1,UID=jd+CN=Doe\\, John");
    CHECK(info.days_left > 29.99 && info.days_left < 30.01);
    CHECK(info.not_after - info.not_before == 30 * 86400);
    CHECK(strlen(info.sha256) == 95);

    path_of(p, sizeof p, "s0.pem");
    CHECK(cce_cert_parse_file(p, &info, &err) == 0);
    CHECK_STR(info.serial, "00");
    path_of(p, sizeof p, "s1.pem");
    CHECK(cce_cert_parse_file(p, &info, &err) == 0);
    CHECK_STR(info.serial, "80");
    path_of(p, sizeof p, "s3.pem");
    CHECK(cce_cert_parse_file(p, &info, &err) == 0);
    CHECK_STR(info.serial, "0102030405060708090A0B0C0D0E0F1011121314");

    path_of(p, sizeof p, "expired.pem");
    CHECK(cce_cert_parse_file(p, &info, &err) == 0);
    CHECK(info.days_left < -2.12 && info.days_left > -2.13);
    CHECK_STR(info.subject, "O=system:masters,CN=expired");

    path_of(p, sizeof p, "future.pem");
    CHECK(cce_cert_parse_file(p, &info, &err) == 0);
    CHECK(info.not_before == (time_t)-152391233);   /* 1965-03-04T05:06:07Z */
    CHECK(info.not_after == (time_t)2840238245);    /* 2060-01-02T03:04:05Z */
    cce_error_clear(&err);
}

/* Whether `len` falls between RFC 2253 escapes of `s` (not inside "\C3" or "\,"). */
static int cut_ok(const char *s, size_t len)
{
    size_t i = 0, n = strlen(s);
    while (i < len && i < n) {
        size_t tok = 1;
        if (s[i] == '\\' && i + 2 < n && strchr("0123456789ABCDEFabcdef", s[i + 1]) &&
            strchr("0123456789ABCDEFabcdef", s[i + 2]))
            tok = 3;
        else if (s[i] == '\\' && i + 1 < n)
            tok = 2;
        i += tok;
    }
    return i == len;
}

static void test_truncation(void)
{
    int cut_inside_escape = 0;
    for (int k = 0; k < 7; k++) {
        char name[32], p[1024];
        snprintf(name, sizeof name, "long%d.pem", k);
        path_of(p, sizeof p, name);
        expect e;
        CHECK(openssl_expect(name, "PEM", &e) == 0);
        CHECK(strlen(e.subject) > 300);
        cce_cert_info info;
        cce_error err = {0};
        CHECK(cce_cert_parse_file(p, &info, &err) == 0);
        size_t n = strlen(info.subject);
        CHECK(n <= 255 && n >= 253);
        CHECK(strncmp(info.subject, e.subject, n) == 0);
        CHECK(cut_ok(e.subject, n));
        CHECK_STR(info.issuer, info.subject);
        if (!cut_ok(e.subject, 255))
            cut_inside_escape = 1;
        cce_error_clear(&err);
    }
    CHECK(cut_inside_escape);  /* the fixtures did exercise the careful cut */
}

static void test_encodings(void)
{
    size_t len = 0;
    char *s;

    s = slurp("c.b64", &len);
    CHECK(s && len > 100 && strncmp(s, "LS0tLS1CRUdJTi", 14) == 0);
    check_data_like(s, len, "c.pem", "base64 of PEM, one line");
    free(s);

    s = slurp("c.b64w", &len);
    check_data_like(s, len, "c.pem", "base64 of PEM, wrapped");
    free(s);

    s = slurp("chain.b64", &len);
    check_data_like(s, len, "c.pem", "base64 of a chain");
    free(s);

    /* A base64 field as a caller might hand it over, with surrounding whitespace. */
    s = slurp("c.b64", &len);
    cce_buf b = {0};
    cce_buf_puts(&b, "  \n");
    cce_buf_append(&b, s, len);
    cce_buf_puts(&b, "\n");
    check_data_like(b.data, b.len, "c.pem", "base64 with surrounding whitespace");
    cce_buf_free(&b);
    free(s);

    s = slurp("c.der", &len);
    check_data_like(s, len, "c.pem", "DER from memory");
    free(s);

    s = slurp("chain.pem", &len);
    check_data_like(s, len, "c.pem", "chain: first certificate wins");
    free(s);
    s = slurp("rchain.pem", &len);
    check_data_like(s, len, "ca.pem", "reversed chain: the CA comes first");
    free(s);
    s = slurp("bundle.pem", &len);
    check_data_like(s, len, "c.pem", "junk and a private key before the certificate");
    free(s);

    /* CRLF line ends. */
    s = slurp("chain.pem", &len);
    cce_buf_free(&b);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\n')
            cce_buf_puts(&b, "\r");
        cce_buf_append(&b, s + i, 1);
    }
    check_data_like(b.data, b.len, "c.pem", "CRLF PEM");
    spit("crlf.pem", b.data, b.len);
    cce_buf_free(&b);
    free(s);

    /* Without a trailing newline, and with no NUL after the data (ASan sees any over-read). */
    s = slurp("c.pem", &len);
    while (len && (s[len - 1] == '\n'))
        len--;
    char *exact = malloc(len);
    memcpy(exact, s, len);
    check_data_like(exact, len, "c.pem", "PEM without trailing newline, unterminated");
    free(exact);
    free(s);

    s = slurp("c.b64", &len);
    exact = malloc(len);
    memcpy(exact, s, len);
    check_data_like(exact, len, "c.pem", "base64, unterminated");
    free(exact);
    free(s);

    char p[1024];
    cce_cert_info info;
    cce_error err = {0};
    path_of(p, sizeof p, "crlf.pem");
    CHECK(cce_cert_parse_file(p, &info, &err) == 0);
    path_of(p, sizeof p, "c.b64");
    CHECK(cce_cert_parse_file(p, &info, &err) == 0);
    CHECK_STR(info.serial, "0A");
    cce_error_clear(&err);
}

static void test_errors(void)
{
    check_fails("", 0, "CERT", "empty certificate data", "zero length");
    check_fails(NULL, 0, "CERT", "empty certificate data", "NULL");
    check_fails(" \r\n\t\n", 5, "CERT", "empty certificate data", "only whitespace");
    check_fails("hello world", 11, "CERT", "not a PEM or DER certificate", "text");
    check_fails("aGVsbG8gd29ybGQ=", 16, "CERT", "not a PEM or DER certificate", "base64 of text");
    check_fails("ICAgCg==", 8, "CERT", "not a PEM or DER certificate", "base64 of whitespace");
    check_fails("\x30\x82\x01\x00\x01\x02", 6, "CERT", "not a PEM or DER certificate", "truncated DER");
    check_fails("\x30\x03\x02\x01\x05", 5, "CERT", "not a PEM or DER certificate", "DER, not a certificate");
    const char bad_pem[] = "-----BEGIN CERTIFICATE-----\nMIIB!!!notbase64\n-----END CERTIFICATE-----\n";
    check_fails(bad_pem, sizeof bad_pem - 1, "CERT", "not a PEM or DER certificate", "broken PEM body");
    const char no_end[] = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUJ\n";
    check_fails(no_end, sizeof no_end - 1, "CERT", "not a PEM or DER certificate", "PEM without END");
    const char csr_b64[] = "-----BEGIN CERTIFICATE-----\nMAMCAQU=\n-----END CERTIFICATE-----\n";
    check_fails(csr_b64, sizeof csr_b64 - 1, "CERT", "not a PEM or DER certificate", "PEM of a non-certificate");

    /* A private key alone: refused, and nothing of it appears in the message. */
    size_t len = 0;
    char *key = slurp("c.key", &len);
    CHECK(key != NULL);
    if (key) {
        cce_error err = {0};
        cce_cert_info info;
        CHECK(cce_cert_parse(key, len, &info, &err) == -1);
        CHECK_STR(err.code, "CERT");
        CHECK(err.message && !strstr(err.message, "PRIVATE") && !strstr(err.message, "MI"));
        CHECK(ERR_peek_error() == 0);
        cce_error_clear(&err);
        free(key);
    }
    char *csr = slurp("c.csr", &len);
    check_fails(csr, len, "CERT", "not a PEM or DER certificate", "a CSR");
    free(csr);

    /* A NULL error pointer is allowed. */
    cce_cert_info info;
    CHECK(cce_cert_parse("junk", 4, &info, NULL) == -1);
    CHECK(ERR_peek_error() == 0);
    cce_error err = {0};
    CHECK(cce_cert_parse("junk", 4, NULL, &err) == -1);
    CHECK_STR(err.code, "INVALID_ARGUMENT");
    CHECK(cce_cert_parse_file(NULL, &info, &err) == -1);
    CHECK_STR(err.code, "INVALID_ARGUMENT");
    cce_error_clear(&err);

    /* Files. */
    char p[1024];
    path_of(p, sizeof p, "does-not-exist.pem");
    check_file_fails(p, "IO", "No such file or directory", "missing file");
    check_file_fails(tmpdir, "IO", "directory", "a directory");
    spit("empty.pem", "", 0);
    path_of(p, sizeof p, "empty.pem");
    check_file_fails(p, "CERT", "empty certificate data", "empty file");
    spit("garbage.pem", "garbage\n", 8);
    path_of(p, sizeof p, "garbage.pem");
    check_file_fails(p, "CERT", "not a PEM or DER certificate", "garbage file");

    /* The 1 MiB limit: a certificate padded to exactly 1 MiB reads, one byte more does not. */
    char *pem = slurp("c.pem", &len);
    size_t limit = 1024 * 1024;
    char *big = malloc(limit + 1);
    memcpy(big, pem, len);
    memset(big + len, '\n', limit + 1 - len);
    spit("limit.pem", big, limit);
    spit("toolarge.pem", big, limit + 1);
    path_of(p, sizeof p, "limit.pem");
    CHECK(cce_cert_parse_file(p, &info, &err) == 0);
    CHECK_STR(info.serial, "0A");
    path_of(p, sizeof p, "toolarge.pem");
    check_file_fails(p, "CERT", "too large", "file over 1 MiB");
    free(big);
    free(pem);
    cce_error_clear(&err);
}

/* After a failure, a later call (and any other OpenSSL user) must see a clean error queue. */
static void test_error_queue(void)
{
    char p[1024];
    cce_cert_info info;
    cce_error err = {0};
    const char bad_pem[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    CHECK(cce_cert_parse(bad_pem, sizeof bad_pem - 1, &info, &err) == -1);
    CHECK(ERR_peek_error() == 0);
    path_of(p, sizeof p, "c.pem");
    CHECK(cce_cert_parse_file(p, &info, &err) == 0);
    CHECK_STR(info.serial, "0A");
    CHECK(ERR_peek_error() == 0);
    cce_error_clear(&err);
}

/* --------------------------------------------- libcrypto as the reference */

/*
 * What libcrypto's own decoder says of a certificate: the calls `openssl
 * x509` makes, for more certificates than it is worth starting the command
 * for.  Returns -1 when libcrypto refuses the certificate, -2 when it has no
 * valid validity period.
 */
static int libcrypto_expect(const void *data, size_t len, int pem, expect *e)
{
    memset(e, 0, sizeof *e);
    X509 *x = NULL;
    if (pem) {
        BIO *m = BIO_new_mem_buf(data, (int)len);
        x = m ? PEM_read_bio_X509(m, NULL, NULL, NULL) : NULL;
        BIO_free(m);
    } else {
        const unsigned char *p = data;
        x = d2i_X509(NULL, &p, (long)len);
    }
    if (!x) {
        ERR_clear_error();
        return -1;
    }
    int rc = 0;
    BIO *b = BIO_new(BIO_s_mem());
    char *t = NULL;
    long n;
    struct tm tm;
    X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253);
    n = BIO_get_mem_data(b, &t);
    snprintf(e->subject, sizeof e->subject, "%.*s", (int)n, t);
    (void)BIO_reset(b);
    X509_NAME_print_ex(b, X509_get_issuer_name(x), 0, XN_FLAG_RFC2253);
    n = BIO_get_mem_data(b, &t);
    snprintf(e->issuer, sizeof e->issuer, "%.*s", (int)n, t);
    (void)BIO_reset(b);
    i2a_ASN1_INTEGER(b, X509_get0_serialNumber(x));
    n = BIO_get_mem_data(b, &t);
    size_t o = 0;
    for (long i = 0; i < n && o + 1 < sizeof e->serial; i++)
        if (t[i] != '\\' && t[i] != '\n' && t[i] != '\r')
            e->serial[o++] = t[i];
    e->serial[o] = '\0';
    BIO_free(b);
    memset(&tm, 0, sizeof tm);
    if (ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm) != 1)
        rc = -2;
    e->not_before = timegm(&tm);
    memset(&tm, 0, sizeof tm);
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
        rc = -2;
    e->not_after = timegm(&tm);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdn = 0;
    X509_digest(x, EVP_sha256(), md, &mdn);
    for (unsigned int i = 0; i < mdn; i++)
        snprintf(e->sha256 + 3 * i, sizeof e->sha256 - 3 * i, "%02X%s", md[i], i + 1 < mdn ? ":" : "");
    e->have = 63;
    X509_free(x);
    ERR_clear_error();
    return rc;
}

/* A name as printed: all of it, or (past 255 characters) a prefix cut between RFC 2253 escapes. */
static int name_like(const char *got, const char *full)
{
    size_t n = strlen(got);
    if (strlen(full) < 256)
        return strcmp(got, full) == 0;
    return n <= 255 && n >= 253 && strncmp(got, full, n) == 0 && cut_ok(full, n);
}

/* check_same, for names that may be long. */
static void check_same_names(const cce_cert_info *got, const expect *e, const char *what)
{
    int before = check_failures;
    CHECK(got->not_before == e->not_before);
    CHECK(got->not_after == e->not_after);
    CHECK_STR(got->serial, e->serial);
    CHECK(name_like(got->subject, e->subject));
    CHECK(name_like(got->issuer, e->issuer));
    CHECK_STR(got->sha256, e->sha256);
    if (check_failures != before)
        fprintf(stderr, "  ... in case: %s\n  subject %s\n     want %s\n  issuer  %s\n     want %s\n", what,
                got->subject, e->subject, got->issuer, e->issuer);
}

/* ------------------------------------------------- 200 generated certificates */

/*
 * Serials of 1 to 159 bits, names of random attributes (multi-valued RDNs,
 * every special character, UTF-8, BMPString, an unregistered OID), validity
 * from 1950 to 2100 (UTCTime and GeneralizedTime), EC, RSA and Ed25519 keys.
 */
static void test_generated(void)
{
    static const char py[] =
        "import datetime, random\n"
        "from cryptography import x509\n"
        "from cryptography.x509.oid import NameOID\n"
        "from cryptography.x509.name import _ASN1Type as T\n"
        "from cryptography.hazmat.primitives import hashes, serialization\n"
        "from cryptography.hazmat.primitives.asymmetric import ec, rsa, ed25519\n"
        "random.seed(5280)\n"
        "utc = datetime.timezone.utc\n"
        "ca = ec.generate_private_key(ec.SECP256R1())\n"
        "keys = [ec.generate_private_key(ec.SECP256R1()).public_key(),\n"
        "        rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key(),\n"
        "        ed25519.Ed25519PrivateKey.generate().public_key()]\n"
        "oids = [NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME,\n"
        "        NameOID.LOCALITY_NAME, NameOID.STATE_OR_PROVINCE_NAME, NameOID.DOMAIN_COMPONENT, NameOID.USER_ID,\n"
        "        NameOID.EMAIL_ADDRESS, NameOID.SERIAL_NUMBER, NameOID.TITLE, NameOID.STREET_ADDRESS,\n"
        "        NameOID.GIVEN_NAME, NameOID.SURNAME, x509.ObjectIdentifier('1.2.3.4.5')]\n"
        "chars = 'abcxyzABCXYZ0189 #\"+,;<>\\\\=/:@*._-'\n"
        "def value():\n"
        "    v = ''.join(random.choice(chars) for _ in range(random.randint(1, 16)))\n"
        "    if random.random() < 0.1: v += random.choice(['\\u00fc', '\\u65e5\\u672c', '\\u00e9t\\u00e9'])\n"
        "    return v\n"
        "def attr(oid):\n"
        "    v = value()\n"
        "    r = random.random()\n"
        "    if r < 0.15 and v.isascii(): return x509.NameAttribute(oid, v, _type=T.PrintableString)\n"
        "    if r < 0.3 and v.isascii(): return x509.NameAttribute(oid, v, _type=T.IA5String)\n"
        "    if r < 0.35: return x509.NameAttribute(oid, v, _type=T.BMPString)\n"
        "    return x509.NameAttribute(oid, v)\n"
        "def name():\n"
        "    rdns = []\n"
        "    if random.random() < 0.3: rdns.append(x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, random.choice(['DE', 'CN', 'US']))]))\n"
        "    for _ in range(random.randint(0, 4)):\n"
        "        k = 2 if random.random() < 0.15 else 1\n"
        "        rdns.append(x509.RelativeDistinguishedName([attr(o) for o in random.sample(oids, k)]))\n"
        "    return x509.Name(rdns)\n"
        "lo = datetime.datetime(1950, 1, 1, tzinfo=utc).timestamp()\n"
        "hi = datetime.datetime(2099, 1, 1, tzinfo=utc).timestamp()\n"
        "for i in range(200):\n"
        "    nb = datetime.datetime.fromtimestamp(random.randint(int(lo), int(hi)), utc)\n"
        "    na = min(nb + datetime.timedelta(seconds=random.randint(1, 40 * 365 * 86400)), datetime.datetime(2099, 12, 31, tzinfo=utc))\n"
        "    b = (x509.CertificateBuilder().subject_name(name()).issuer_name(name())\n"
        "         .public_key(keys[i % 3]).serial_number(random.getrandbits(random.randint(1, 159)) | 1)\n"
        "         .not_valid_before(nb).not_valid_after(na))\n"
        "    if i % 4 == 0: b = b.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)\n"
        "    if i % 5 == 0: b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName('u%d.example' % i)]), critical=False)\n"
        "    open('gen%03d.pem' % i, 'wb').write(b.sign(ca, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))\n";
    spit("gen.py", py, sizeof py - 1);
    if (sh("if [ -x /usr/bin/python3 ]; then /usr/bin/python3 gen.py; else python3 gen.py; fi") != 0) {
        CHECK(0);
        return;
    }
    for (int i = 0; i < 200; i++) {
        char name[32], what[64];
        snprintf(name, sizeof name, "gen%03d.pem", i);
        snprintf(what, sizeof what, "generated %s", name);
        size_t len = 0;
        char *pem = slurp(name, &len);
        CHECK(pem != NULL);
        if (!pem)
            continue;
        expect e;
        CHECK(libcrypto_expect(pem, len, 1, &e) == 0);
        cce_cert_info info;
        cce_error err = {0};
        int rc = cce_cert_parse(pem, len, &info, &err);
        CHECK(rc == 0);
        if (rc != 0)
            fprintf(stderr, "  %s: %s\n", what, err.message ? err.message : "");
        check_same_names(&info, &e, what);
        cce_error_clear(&err);
        free(pem);
        /* The command line too, for some (it takes a while to start). */
        if (i % 20 == 0 && strlen(e.subject) < 256 && strlen(e.issuer) < 256)
            check_file(name, "PEM", what);
    }
}

/* ---------------------------------------------------------- name printing */

/* `tmpl` with these names, as DER (OPENSSL_free), or NULL when libcrypto cannot encode them. */
static unsigned char *with_names(X509 *tmpl, const X509_NAME *subject, const X509_NAME *issuer, size_t *len)
{
    unsigned char *der = NULL;
    int n = 0;
    /* i2d_re_X509_tbs: without it, i2d_X509 would reuse the tbsCertificate as first decoded. */
    if (X509_set_subject_name(tmpl, subject) && X509_set_issuer_name(tmpl, issuer) && i2d_re_X509_tbs(tmpl, NULL) > 0)
        n = i2d_X509(tmpl, &der);
    ERR_clear_error();
    if (n <= 0)
        return NULL;
    *len = (size_t)n;
    return der;
}

/* RFC 2253 text of `name` as it comes back from its own DER, as the old d2i_X509 path printed it. */
static void print_name(const X509_NAME *name, char *dst, size_t cap)
{
    unsigned char *der = NULL;
    int n = i2d_X509_NAME(name, &der);
    const unsigned char *p = der;
    X509_NAME *back = n > 0 ? d2i_X509_NAME(NULL, &p, n) : NULL;
    BIO *b = BIO_new(BIO_s_mem());
    char *t = NULL;
    if (back)
        X509_NAME_print_ex(b, back, 0, XN_FLAG_RFC2253);
    long k = BIO_get_mem_data(b, &t);
    snprintf(dst, cap, "%.*s", (int)k, t ? t : "");
    BIO_free(b);
    X509_NAME_free(back);
    OPENSSL_free(der);
    ERR_clear_error();
}

/* Parses `tmpl` with these names and compares both with libcrypto's printing. */
static int names_case(X509 *tmpl, const X509_NAME *subject, const X509_NAME *issuer, const char *what)
{
    size_t len = 0;
    unsigned char *der = with_names(tmpl, subject, issuer, &len);
    if (!der)
        return 0;
    char want_s[2048], want_i[2048];
    print_name(subject, want_s, sizeof want_s);
    print_name(issuer, want_i, sizeof want_i);
    cce_cert_info info;
    cce_error err = {0};
    int before = check_failures;
    CHECK(cce_cert_parse(der, len, &info, &err) == 0);
    CHECK(name_like(info.subject, want_s));
    CHECK(name_like(info.issuer, want_i));
    if (check_failures != before)
        fprintf(stderr, "  ... in name case %s\n  subject %s\n     want %s\n  issuer  %s\n     want %s\n", what,
                info.subject, want_s, info.issuer, want_i);
    cce_error_clear(&err);
    OPENSSL_free(der);
    return 1;
}

static void add_entry(X509_NAME *n, const char *oid, int type, const void *v, size_t len, int set)
{
    ASN1_OBJECT *o = OBJ_txt2obj(oid, 0);
    CHECK(o && X509_NAME_add_entry_by_OBJ(n, o, type, (const unsigned char *)v, (int)len, -1, set));
    ASN1_OBJECT_free(o);
}

/* Bytes of `s` in a string type of width w (1, BMPString 2, UniversalString 4), big-endian. */
static size_t widen(const unsigned char *s, size_t n, int w, unsigned char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        for (int k = 1; k < w; k++)
            out[o++] = 0;
        out[o++] = s[i];
    }
    return o;
}

/*
 * Every byte value, alone and first, inside, last and twice in a value, in
 * every string type a name may use; multi-valued RDNs; each attribute type
 * printed by name; an unregistered OID; empty names and values; names past
 * the fast path's limits.  Printable ASCII in UTF8String, PrintableString or
 * IA5String takes cce's own printer, the rest libcrypto's: both must print
 * what libcrypto prints.
 */
static void test_names(void)
{
    size_t len = 0;
    char *pem = slurp("c.pem", &len);
    BIO *m = pem ? BIO_new_mem_buf(pem, (int)len) : NULL;
    X509 *tmpl = m ? PEM_read_bio_X509(m, NULL, NULL, NULL) : NULL;
    BIO_free(m);
    free(pem);
    CHECK(tmpl != NULL);
    if (!tmpl)
        return;

    static const struct { int type, width; } types[] = {
        {V_ASN1_UTF8STRING, 1}, {V_ASN1_PRINTABLESTRING, 1}, {V_ASN1_IA5STRING, 1}, {V_ASN1_T61STRING, 1},
        {V_ASN1_BMPSTRING, 2}, {V_ASN1_UNIVERSALSTRING, 4}};
    int built = 0, tried = 0;
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        for (int c = 0; c < 256; c++) {
            unsigned char forms[5][3] = {{(unsigned char)c}, {(unsigned char)c, 'a', 'b'}, {'a', (unsigned char)c, 'b'},
                                         {'a', 'b', (unsigned char)c}, {(unsigned char)c, (unsigned char)c}};
            static const size_t flen[5] = {1, 3, 3, 3, 2};
            X509_NAME *s = X509_NAME_new(), *i = X509_NAME_new();
            for (int f = 0; f < 5; f++) {
                unsigned char w[16];
                size_t wn = widen(forms[f], flen[f], types[t].width, w);
                add_entry(s, "2.5.4.3", types[t].type, w, wn, -1);
                /* The issuer: the same values, two to an RDN. */
                add_entry(i, f % 2 ? "2.5.4.10" : "2.5.4.11", types[t].type, w, wn, f % 2 ? 0 : -1);
            }
            char what[64];
            snprintf(what, sizeof what, "type %d, byte 0x%02X", types[t].type, c);
            tried++;
            built += names_case(tmpl, s, i, what);
            X509_NAME_free(s);
            X509_NAME_free(i);
        }
    }
    CHECK(built > tried * 9 / 10);  /* only UTF8String's invalid UTF-8 cannot be encoded */

    /* Each attribute type our printer names itself, and one OpenSSL knows but we do not. */
    static const char *oids[] = {"2.5.4.3", "2.5.4.10", "2.5.4.11", "2.5.4.6", "2.5.4.7", "2.5.4.8", "2.5.4.5",
                                 "2.5.4.9", "2.5.4.12", "2.5.4.42", "2.5.4.4", "0.9.2342.19200300.100.1.25",
                                 "0.9.2342.19200300.100.1.1", "1.2.840.113549.1.9.1", "2.5.4.65", "1.2.3.4.5"};
    X509_NAME *s = X509_NAME_new(), *i = X509_NAME_new();
    for (size_t k = 0; k < sizeof oids / sizeof *oids; k++) {
        add_entry(k < 8 ? s : i, oids[k], V_ASN1_UTF8STRING, "v", 1, -1);
        X509_NAME *one = X509_NAME_new();
        add_entry(one, oids[k], V_ASN1_PRINTABLESTRING, "x y", 3, -1);
        CHECK(names_case(tmpl, one, one, oids[k]));
        X509_NAME_free(one);
    }
    CHECK(names_case(tmpl, s, i, "every attribute type"));
    X509_NAME_free(s);
    X509_NAME_free(i);

    /* Empty: a name with no RDN, a value with no character, UTF-8 proper. */
    s = X509_NAME_new();
    i = X509_NAME_new();
    add_entry(i, "2.5.4.3", V_ASN1_UTF8STRING, "", 0, -1);
    add_entry(i, "2.5.4.10", V_ASN1_UTF8STRING, "M\xC3\xBCller \xE6\x97\xA5", 11, -1);
    CHECK(names_case(tmpl, s, i, "empty name, empty value, UTF-8"));
    X509_NAME_free(s);
    X509_NAME_free(i);

    /* Long: 40 RDNs (past the fast path's 32), and 20 long values (past its 1 KiB of text). */
    s = X509_NAME_new();
    i = X509_NAME_new();
    for (int k = 0; k < 40; k++)
        add_entry(s, "2.5.4.11", V_ASN1_UTF8STRING, k % 3 ? "unit,x" : "u", k % 3 ? 6 : 1, -1);
    char longv[120];
    for (size_t k = 0; k < sizeof longv; k++)
        longv[k] = "a,b+c d"[k % 7];
    for (int k = 0; k < 20; k++)
        add_entry(i, "2.5.4.3", V_ASN1_PRINTABLESTRING, longv, sizeof longv - (size_t)k, k % 4 == 1 ? 0 : -1);
    CHECK(names_case(tmpl, s, i, "long names"));
    X509_NAME_free(s);
    X509_NAME_free(i);
    X509_free(tmpl);
}

/* ------------------------------------------------------------- corruption */

/* A copy of exactly n bytes, so that ASan sees any read past them. */
static unsigned char *exact_copy(const void *data, size_t n)
{
    unsigned char *p = malloc(n ? n : 1);
    if (p && n)
        memcpy(p, data, n);
    return p;
}

/* Parses damaged data: a clean success that libcrypto agrees with, or a clean "CERT" failure. */
static void damaged(const unsigned char *data, size_t n, int is_der, const char *what, long where)
{
    unsigned char *p = exact_copy(data, n);
    cce_cert_info info;
    memset(&info, 0x5A, sizeof info);
    cce_error err = {0};
    int before = check_failures;
    int rc = cce_cert_parse(p, n, &info, &err);
    CHECK(ERR_peek_error() == 0);
    if (rc == 0) {
        CHECK(err.code[0] == '\0');
        if (is_der) {
            /* Nothing libcrypto refuses is accepted, and what both accept, both read alike. */
            expect e;
            CHECK(libcrypto_expect(p, n, 0, &e) == 0);
            check_same_names(&info, &e, what);
        }
    } else {
        CHECK(rc == -1);
        CHECK_STR(err.code, "CERT");
        CHECK(err.message && (strstr(err.message, "not a PEM or DER certificate") ||
                              strstr(err.message, "invalid validity period")));
        CHECK(info.subject[0] == '\0' && info.serial[0] == '\0' && info.not_after == 0);
    }
    if (check_failures != before)
        fprintf(stderr, "  ... in damaged case %s at %ld: %s\n", what, where, err.message ? err.message : "(ok)");
    cce_error_clear(&err);
    free(p);
}

static void test_corruption(void)
{
    static const char *ders[] = {"c.der", "future.der"};
    CHECK(sh("openssl x509 -in future.pem -outform DER -out future.der") == 0);
    for (size_t f = 0; f < sizeof ders / sizeof *ders; f++) {
        size_t n = 0;
        unsigned char *der = (unsigned char *)slurp(ders[f], &n);
        CHECK(der && n > 200);
        if (!der)
            continue;
        /* Cut anywhere: always refused, never read past the end. */
        for (size_t l = 1; l < n; l++) {
            unsigned char *p = exact_copy(der, l);
            check_fails(p, l, "CERT", "not a PEM or DER certificate", ders[f]);
            free(p);
        }
        /* Damaged bytes, and trailing data after the certificate. */
        static const unsigned char masks[] = {0x01, 0x80, 0xFF};
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < sizeof masks; k++) {
                der[i] ^= masks[k];
                damaged(der, n, 1, ders[f], (long)i);
                der[i] ^= masks[k];
            }
        unsigned char *more = malloc(n + 3);
        memcpy(more, der, n);
        memcpy(more + n, "\x30\x00\xFF", 3);
        damaged(more, n + 3, 0, "DER with trailing data", 0);
        cce_cert_info info;
        CHECK(cce_cert_parse(more, n + 3, &info, NULL) == 0);
        free(more);
        free(der);
    }

    /* PEM and base64-of-PEM cut anywhere: refused until the END line is whole. */
    size_t n = 0;
    char *pem = slurp("c.pem", &n);
    const char *end = pem ? strstr(pem, "-----END CERTIFICATE-----") : NULL;
    CHECK(end != NULL);
    if (end) {
        size_t whole = (size_t)(end - pem) + strlen("-----END CERTIFICATE-----");
        for (size_t l = 1; l <= n; l++) {
            if (l < whole) {
                unsigned char *p = exact_copy(pem, l);
                check_fails(p, l, "CERT", "not a PEM or DER certificate", "cut PEM");
                free(p);
            } else {
                damaged((const unsigned char *)pem, l, 0, "PEM cut after END", (long)l);
            }
        }
        /* Damaged characters in the text. */
        for (size_t i = 0; i < n; i += 3) {
            char keep = pem[i];
            pem[i] = "\n A=-:!"[i % 7];
            damaged((const unsigned char *)pem, n, 0, "damaged PEM", (long)i);
            pem[i] = keep;
        }
    }
    free(pem);
    char *b64 = slurp("c.b64", &n);
    for (size_t l = 1; b64 && l <= n; l++)
        damaged((const unsigned char *)b64, l, 0, "cut base64", (long)l);
    free(b64);
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/cce_x509_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    if (make_fixtures() != 0) {
        fprintf(stderr, "could not make the test certificates (openssl/python3 missing?)\n");
        CHECK(0);
    } else {
        test_fields();
        test_truncation();
        test_encodings();
        test_errors();
        test_error_queue();
        test_generated();
        test_names();
        test_corruption();
    }
    if (!check_failures) {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    } else {
        fprintf(stderr, "fixtures kept in %s\n", tmpdir);
    }
    return check_report("test_x509");
}
