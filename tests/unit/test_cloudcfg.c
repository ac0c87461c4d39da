/* test_cloudcfg.c - the clouds.yaml + secure.yaml reader (core/cloudcfg.c). */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "cloudcfg.h"
#include "internal.h"

static char base[256];

static int parse2(const char *clouds, const char *secure, const char *name, cce_cloud *c, cce_error *e)
{
    return cce_cloud_parse(clouds, strlen(clouds), "clouds.yaml", secure, secure ? strlen(secure) : 0, "secure.yaml",
                           name, c, e);
}

static int parse1(const char *clouds, const char *name, cce_cloud *c, cce_error *e)
{
    return parse2(clouds, NULL, name, c, e);
}

/* ------------------------------------------------------------------ keys */

static void test_every_key(void)
{
    const char *y = "clouds:\n"
                    "  other: {auth: {username: nobody}}\n"
                    "  otc:\n"
                    "    auth:\n"
                    "      auth_url: https://iam.eu-de.otc.t-systems.com:443/v3\n"
                    "      username: USER\n"
                    "      user_id: 0123abcd\n"
                    "      password: PASS\n"
                    "      user_domain_name: OTC00000000001000000xxx\n"
                    "      passcode: '012345'\n"
                    "      project_name: eu-de_p1\n"
                    "      project_id: 77b6a44cba5143ab91d13ab9a8ff44fd\n"
                    "      token: TOKEN\n"
                    "      ak: AKAUTH\n"
                    "      sk: SKAUTH\n"
                    "      security_token: STAUTH\n"
                    "      unknown_auth_key: [ignored]\n"
                    "    region_name: eu-de\n"
                    "    cacert: /etc/ssl/ca.pem\n"
                    "    verify: false\n"
                    "    cce_endpoint_override: https://cce.example:8443\n"
                    "    interface: public\n"
                    "    identity_api_version: 3\n"
                    "    some_tool: {nested: [1, 2]}\n";
    cce_cloud c;
    cce_error e = {0};
    CHECK(parse1(y, "otc", &c, &e) == 0);
    CHECK_STR(c.file, "clouds.yaml");
    CHECK(c.secure_file == NULL);
    CHECK_STR(c.auth_url, "https://iam.eu-de.otc.t-systems.com:443/v3");
    CHECK_STR(c.username, "USER");
    CHECK_STR(c.user_id, "0123abcd");
    CHECK_STR(c.password, "PASS");
    CHECK_STR(c.user_domain_name, "OTC00000000001000000xxx");
    CHECK_STR(c.passcode, "012345");
    CHECK_STR(c.project_name, "eu-de_p1");
    CHECK_STR(c.project_id, "77b6a44cba5143ab91d13ab9a8ff44fd");
    CHECK_STR(c.token, "TOKEN");
    CHECK_STR(c.ak, "AKAUTH");
    CHECK_STR(c.sk, "SKAUTH");
    CHECK_STR(c.security_token, "STAUTH");
    CHECK_STR(c.region, "eu-de");
    CHECK_STR(c.cacert, "/etc/ssl/ca.pem");
    CHECK_STR(c.cce_endpoint, "https://cce.example:8443");
    CHECK(c.verify == 0);
    cce_cloud_clear(&c);
    CHECK(c.password == NULL && c.file == NULL && c.verify == -1);
    cce_cloud_clear(&c); /* twice is harmless */
    cce_cloud_clear(NULL);

    /* A sparse entry: everything else NULL, verify unset; verify: true. */
    CHECK(parse1("clouds: {a: {verify: true}, b: {}, c: }", "a", &c, &e) == 0);
    CHECK(c.verify == 1 && c.auth_url == NULL && c.region == NULL && c.password == NULL);
    cce_cloud_clear(&c);
    CHECK(parse1("clouds: {a: {verify: true}, b: {}, c: }", "b", &c, &e) == 0);
    CHECK(c.verify == -1);
    cce_cloud_clear(&c);
    CHECK(parse1("clouds: {a: {verify: true}, b: {}, c: }", "c", &c, &e) == 0); /* `c:` with nothing under it */
    CHECK(c.verify == -1 && c.username == NULL);
    cce_cloud_clear(&c);
    /* JSON is read too. */
    CHECK(parse1("{\"clouds\": {\"j\": {\"auth\": {\"password\": \"pw\"}, \"region_name\": \"eu-nl\"}}}", "j", &c, &e) == 0);
    CHECK_STR(c.password, "pw");
    CHECK_STR(c.region, "eu-nl");
    cce_cloud_clear(&c);
    cce_error_clear(&e);
}

static void test_precedence(void)
{
    cce_cloud c;
    cce_error e = {0};
    /* auth: wins over the top level for ak, sk, security_token. */
    CHECK(parse1("clouds: {x: {ak: TOPAK, sk: TOPSK, security_token: TOPST,"
                 " auth: {ak: AUTHAK, sk: AUTHSK, security_token: AUTHST}}}",
                 "x", &c, &e) == 0);
    CHECK_STR(c.ak, "AUTHAK");
    CHECK_STR(c.sk, "AUTHSK");
    CHECK_STR(c.security_token, "AUTHST");
    cce_cloud_clear(&c);
    /* The top level when auth: lacks them, or has them empty. */
    CHECK(parse1("clouds: {x: {ak: TOPAK, sk: TOPSK, security_token: TOPST, auth: {ak: '', username: u}}}", "x", &c,
                 &e) == 0);
    CHECK_STR(c.ak, "TOPAK");
    CHECK_STR(c.sk, "TOPSK");
    CHECK_STR(c.security_token, "TOPST");
    cce_cloud_clear(&c);
    /* access_key / secret_key are synonyms; ak / sk win over them at the same level. */
    CHECK(parse1("clouds: {x: {access_key: AK2, secret_key: SK2}}", "x", &c, &e) == 0);
    CHECK_STR(c.ak, "AK2");
    CHECK_STR(c.sk, "SK2");
    cce_cloud_clear(&c);
    CHECK(parse1("clouds: {x: {auth: {access_key: AK3, secret_key: SK3}, ak: TOP}}", "x", &c, &e) == 0);
    CHECK_STR(c.ak, "AK3");
    CHECK_STR(c.sk, "SK3");
    cce_cloud_clear(&c);
    CHECK(parse1("clouds: {x: {auth: {access_key: AK3, ak: AK1}}}", "x", &c, &e) == 0);
    CHECK_STR(c.ak, "AK1");
    cce_cloud_clear(&c);
    /* domain_name when user_domain_name is absent or empty. */
    CHECK(parse1("clouds: {x: {auth: {domain_name: D1}}}", "x", &c, &e) == 0);
    CHECK_STR(c.user_domain_name, "D1");
    cce_cloud_clear(&c);
    CHECK(parse1("clouds: {x: {auth: {domain_name: D1, user_domain_name: D2}}}", "x", &c, &e) == 0);
    CHECK_STR(c.user_domain_name, "D2");
    cce_cloud_clear(&c);
    CHECK(parse1("clouds: {x: {auth: {domain_name: D1, user_domain_name: ''}}}", "x", &c, &e) == 0);
    CHECK_STR(c.user_domain_name, "D1");
    cce_cloud_clear(&c);
    /* Empty strings and nulls count as unset. */
    CHECK(parse1("clouds: {x: {auth: {password: '', username: ~, token: \"\"}, region_name: '', verify: ~}}", "x", &c,
                 &e) == 0);
    CHECK(c.password == NULL && c.username == NULL && c.token == NULL && c.region == NULL && c.verify == -1);
    cce_cloud_clear(&c);
    cce_error_clear(&e);
}

static void test_numbers(void)
{
    cce_cloud c;
    cce_error e = {0};
    /* A number where a string is expected: its text as written. */
    CHECK(parse1("clouds:\n  num:\n    auth:\n      password: 123456\n      project_id: 42\n      user_id: -7\n"
                 "      passcode: 1.50\n      username: 0123\n      token: 0x1F\n    region_name: 0\n"
                 "    ak: 12345678901234567890123456789012\n    sk: 1_000\n",
                 "num", &c, &e) == 0);
    CHECK_STR(c.password, "123456");
    CHECK_STR(c.project_id, "42");
    CHECK_STR(c.user_id, "-7");
    CHECK_STR(c.passcode, "1.50");  /* not 1.5 */
    CHECK_STR(c.username, "0123");  /* not octal 83 */
    CHECK_STR(c.token, "0x1F");     /* not 31 */
    CHECK_STR(c.region, "0");
    CHECK_STR(c.ak, "12345678901234567890123456789012"); /* past a double's digits */
    CHECK_STR(c.sk, "1_000");
    cce_cloud_clear(&c);
    /* The same in flow style, in JSON, and in the secure file. */
    CHECK(parse2("{\"clouds\": {\"num\": {\"auth\": {\"password\": 9223372036854775807, \"user_id\": 1e5}}}}",
                 "clouds: {num: {auth: {project_id: 00042}}}", "num", &c, &e) == 0);
    CHECK_STR(c.password, "9223372036854775807");
    CHECK_STR(c.user_id, "1e5");
    CHECK_STR(c.project_id, "00042");
    cce_cloud_clear(&c);
    /* A top-level key spelt "auth.password" is not auth's password. */
    CHECK(parse1("clouds: {num: {auth.password: 0777, auth: {password: 0123}, password: 0555}}", "num", &c, &e) == 0);
    CHECK_STR(c.password, "0123");
    cce_cloud_clear(&c);
    CHECK(parse1("clouds: {num: {auth: {password: 0123}, auth.password: 0777}}", "num", &c, &e) == 0);
    CHECK_STR(c.password, "0123");
    cce_cloud_clear(&c);
    /* Through an alias the text is not followed: the number's decimal text. */
    CHECK(parse1("x: &n 0123\ny: &f 2.50\nclouds: {num: {auth: {password: *n, passcode: *f}}}", "num", &c, &e) == 0);
    CHECK_STR(c.password, "83");
    CHECK_STR(c.passcode, "2.5");
    cce_cloud_clear(&c);
    /* Numbers as cloud names (keys become text). */
    CHECK(parse1("clouds: {123: {auth: {password: 0123}}}", "123", &c, &e) == 0);
    CHECK_STR(c.password, "0123");
    cce_cloud_clear(&c);
    /* Numbers elsewhere in the file are not taken for the entry's. */
    CHECK(parse1("clouds: {a: {auth: {password: 0123}}, num: {auth: {password: 0124}, x: {auth: {password: 0125}}}}",
                 "num", &c, &e) == 0);
    CHECK_STR(c.password, "0124");
    cce_cloud_clear(&c);
    cce_error_clear(&e);
}

/* Each wrong-typed value: CONFIG, the file, the cloud and the key named, no value shown. */
static void wrong(const char *yaml, const char *want, const char *secret)
{
    cce_cloud c;
    cce_error e = {0};
    CHECK(parse1(yaml, "otc", &c, &e) == -1);
    CHECK(e.kind == CCE_E_CONFIG);
    CHECK_STR(e.code, "CONFIG");
    CHECK_STR(e.message, want);
    if (secret && e.message && strstr(e.message, secret)) {
        check_failures++;
        fprintf(stderr, "secret '%s' in the message: %s\n", secret, e.message);
    }
    CHECK(c.password == NULL && c.file == NULL && c.verify == -1); /* nothing half-filled is left */
    cce_error_clear(&e);
}

static void test_wrong_types(void)
{
    wrong("clouds: {otc: {auth: {password: true, username: u}}}",
          "clouds.yaml: cloud 'otc': auth.password must be a string", NULL);
    wrong("clouds: {otc: {auth: {password: Sup3r-S3cret-pw, username: [a, b]}}}",
          "clouds.yaml: cloud 'otc': auth.username must be a string", "Sup3r-S3cret-pw");
    wrong("clouds: {otc: {auth: {password: Sup3r-S3cret-pw, project_id: {a: 1}}}}",
          "clouds.yaml: cloud 'otc': auth.project_id must be a string", "Sup3r-S3cret-pw");
    wrong("clouds: {otc: {sk: Sup3r-S3cret-sk, ak: yes}}", "clouds.yaml: cloud 'otc': ak must be a string",
          "Sup3r-S3cret-sk");
    /* A key that loses to another is still checked. */
    wrong("clouds: {otc: {auth: {ak: AK}, ak: false}}", "clouds.yaml: cloud 'otc': ak must be a string", NULL);
    wrong("clouds: {otc: {auth: {user_domain_name: D, domain_name: [x]}}}",
          "clouds.yaml: cloud 'otc': auth.domain_name must be a string", NULL);
    wrong("clouds: {otc: {region_name: [eu-de]}}", "clouds.yaml: cloud 'otc': region_name must be a string", NULL);
    wrong("clouds: {otc: {cacert: {}}}", "clouds.yaml: cloud 'otc': cacert must be a string", NULL);
    wrong("clouds: {otc: {cce_endpoint_override: true}}",
          "clouds.yaml: cloud 'otc': cce_endpoint_override must be a string", NULL);
    wrong("clouds: {otc: {verify: 'false'}}", "clouds.yaml: cloud 'otc': verify must be true or false", NULL);
    wrong("clouds: {otc: {verify: 0}}", "clouds.yaml: cloud 'otc': verify must be true or false", NULL);
    wrong("clouds: {otc: {auth: Sup3r-S3cret-pw}}", "clouds.yaml: cloud 'otc': auth must be a mapping",
          "Sup3r-S3cret-pw");
    wrong("clouds: {otc: [a]}", "clouds.yaml: cloud 'otc' is not a mapping", NULL);
    wrong("clouds: {otc: {auth: {password: \"Sup3r\\0S3cret\"}}}",
          "clouds.yaml: cloud 'otc': auth.password contains a NUL byte", "S3cret");
}

/* ---------------------------------------------------------------- errors */

static void test_errors(void)
{
    cce_cloud c;
    cce_error e = {0};
    /* A parse error: the file, line and column, prefixed with the cloud. */
    CHECK(parse1("clouds:\n  otc:\n    auth: {username: u\n  other: 1\n", "otc", &c, &e) == -1);
    CHECK(e.kind == CCE_E_CONFIG);
    CHECK(e.message && strncmp(e.message, "cloud 'otc': clouds.yaml:", 25) == 0);
    CHECK(e.message && strchr(e.message, '\n') == NULL);
    CHECK(parse1("clouds:\n  otc:\n    auth:\n      password: a\n     bad: indentation\n", "otc", &c, &e) == -1);
    CHECK(e.message && strncmp(e.message, "cloud 'otc': clouds.yaml:5:", 27) == 0);
    /* Scalars that the YAML reader quotes in its messages are not shown: one may be the password. */
    CHECK(parse1("clouds:\n  otc:\n    auth:\n      password: .inf\n", "otc", &c, &e) == -1);
    CHECK_STR(e.message, "cloud 'otc': clouds.yaml:4:17: a value is a float JSON cannot hold (kubectl refuses it too)");
    CHECK(parse1("clouds:\n  otc:\n    auth:\n      password: !!int Sup3r-S3cret-pw\n", "otc", &c, &e) == -1);
    CHECK_CONTAINS(e.message, "cloud 'otc': clouds.yaml:4:17: ");
    CHECK(e.message && !strstr(e.message, "Sup3r-S3cret-pw"));
    /* ... but a duplicate key is named. */
    CHECK(parse1("clouds:\n  otc: {}\n  otc: {}\n", "otc", &c, &e) == -1);
    CHECK_STR(e.message, "cloud 'otc': clouds.yaml:3:3: duplicate key \"otc\"");
    /* An unknown cloud: the file and the clouds it has, sorted. */
    CHECK(parse1("clouds: {zeta: {}, alpha: {}, mid: {}}", "otc", &c, &e) == -1);
    CHECK(e.kind == CCE_E_CONFIG);
    CHECK_STR(e.message, "cloud 'otc' is not in clouds.yaml (it has: alpha, mid, zeta)");
    CHECK(parse1("clouds: {}", "otc", &c, &e) == -1);
    CHECK_STR(e.message, "cloud 'otc' is not in clouds.yaml (it has: none)");
    /* No clouds: mapping. */
    CHECK(parse1("other: 1\n", "otc", &c, &e) == -1);
    CHECK_STR(e.message, "cloud 'otc': clouds.yaml has no 'clouds' mapping");
    CHECK(parse1("clouds: [otc]\n", "otc", &c, &e) == -1);
    CHECK_STR(e.message, "cloud 'otc': 'clouds' in clouds.yaml is not a mapping");
    CHECK(parse1("clouds:\n", "otc", &c, &e) == -1);
    CHECK_STR(e.message, "cloud 'otc': 'clouds' in clouds.yaml is not a mapping");
    CHECK(parse1("", "otc", &c, &e) == -1);
    CHECK_STR(e.message, "cloud 'otc': clouds.yaml is not a mapping with a 'clouds' key");
    CHECK(parse1("- a\n", "otc", &c, &e) == -1);
    CHECK_STR(e.message, "cloud 'otc': clouds.yaml is not a mapping with a 'clouds' key");
    CHECK(parse1("clouds: {otc: {}}", "", &c, &e) == -1);
    CHECK_STR(e.message, "no cloud name given");
    /* A cloud called no, on, y...: YAML 1.1 makes the key a boolean's text; it is found by its name all the same. */
    CHECK(parse1("clouds: {no: {region_name: r-no}, On: {region_name: r-on}}", "no", &c, &e) == 0);
    CHECK_STR(c.region, "r-no");
    cce_cloud_clear(&c);
    CHECK(parse1("clouds: {no: {region_name: r-no}, On: {region_name: r-on}}", "On", &c, &e) == 0);
    CHECK_STR(c.region, "r-on");
    cce_cloud_clear(&c);
    CHECK(parse1("clouds: {no: {auth: {password: 007}}}", "no", &c, &e) == 0);
    CHECK_STR(c.password, "007");
    cce_cloud_clear(&c);
    CHECK(parse1("clouds: {no: {auth: {password: 007}}}", "false", &c, &e) == 0);
    CHECK_STR(c.password, "7"); /* the key is spelt unlike the name: the number's decimal text */
    cce_cloud_clear(&c);
    CHECK(parse1("clouds: {no: {}}", "yes", &c, &e) == -1);
    /* Control characters in the name are escaped in the message. */
    CHECK(parse1("clouds: {a: {}}", "x\ny", &c, &e) == -1);
    CHECK_STR(e.message, "cloud 'x\\ny' is not in clouds.yaml (it has: a)");
    cce_error_clear(&e);
}

/* ----------------------------------------------------------- secure.yaml */

static void test_secure_merge(void)
{
    const char *clouds = "clouds:\n"
                         "  otc:\n"
                         "    auth:\n"
                         "      auth_url: https://iam.example/v3\n"
                         "      username: USER\n"
                         "      user_domain_name: DOMAIN\n"
                         "      project_name: eu-de\n"
                         "    region_name: eu-de\n"
                         "  plain:\n"
                         "    auth: {username: P, password: PLAINPW}\n";
    cce_cloud c;
    cce_error e = {0};
    /* The password only in secure.yaml; the other auth keys stay. */
    CHECK(parse2(clouds, "clouds:\n  otc:\n    auth:\n      password: SECUREPW\n", "otc", &c, &e) == 0);
    CHECK_STR(c.file, "clouds.yaml");
    CHECK_STR(c.secure_file, "secure.yaml");
    CHECK_STR(c.password, "SECUREPW");
    CHECK_STR(c.username, "USER");
    CHECK_STR(c.auth_url, "https://iam.example/v3");
    CHECK_STR(c.user_domain_name, "DOMAIN");
    CHECK_STR(c.project_name, "eu-de");
    CHECK_STR(c.region, "eu-de");
    cce_cloud_clear(&c);
    /* Key by key: the secure file's keys replace, top level and auth: alike. */
    CHECK(parse2(clouds,
                 "clouds: {otc: {auth: {password: S, project_name: eu-de_p1}, region_name: eu-nl, sk: SECSK}}",
                 "otc", &c, &e) == 0);
    CHECK_STR(c.project_name, "eu-de_p1");
    CHECK_STR(c.region, "eu-nl");
    CHECK_STR(c.username, "USER");
    CHECK_STR(c.sk, "SECSK");
    cce_cloud_clear(&c);
    /* A key the secure file sets empty replaces the value (as a merge does), so it is unset. */
    CHECK(parse2(clouds, "clouds: {otc: {region_name: ''}}", "otc", &c, &e) == 0);
    CHECK(c.region == NULL);
    cce_cloud_clear(&c);
    /* A secure file without that cloud, or without clouds:, or empty, is fine. */
    CHECK(parse2(clouds, "clouds: {otc: {auth: {password: S}}}", "plain", &c, &e) == 0);
    CHECK_STR(c.password, "PLAINPW");
    CHECK(c.secure_file == NULL);
    cce_cloud_clear(&c);
    CHECK(parse2(clouds, "", "plain", &c, &e) == 0);
    cce_cloud_clear(&c);
    CHECK(parse2(clouds, "other: 1", "plain", &c, &e) == 0);
    cce_cloud_clear(&c);
    /* A cloud only in secure.yaml is not found. */
    CHECK(parse2(clouds, "clouds: {ghost: {auth: {password: S}}}", "ghost", &c, &e) == -1);
    CHECK_STR(e.message, "cloud 'ghost' is not in clouds.yaml (it has: otc, plain)");
    /* Errors in the secure file name it. */
    CHECK(parse2(clouds, "clouds: {otc: {auth: {password: [Sup3r-S3cret-pw]}}}", "otc", &c, &e) == -1);
    CHECK_STR(e.message, "secure.yaml: cloud 'otc': auth.password must be a string");
    CHECK(parse2(clouds, "clouds: {otc: {auth: Sup3r-S3cret-pw}}", "otc", &c, &e) == -1);
    CHECK_STR(e.message, "secure.yaml: cloud 'otc': auth must be a mapping");
    CHECK(parse2(clouds, "clouds:\n  otc:\n    auth: {password: x\n", "otc", &c, &e) == -1);
    CHECK(e.message && strncmp(e.message, "cloud 'otc': secure.yaml:", 25) == 0);
    CHECK(parse2(clouds, "clouds: 1", "otc", &c, &e) == -1);
    CHECK_STR(e.message, "cloud 'otc': 'clouds' in secure.yaml is not a mapping");
    CHECK(parse2(clouds, "[1]", "otc", &c, &e) == -1);
    CHECK_STR(e.message, "cloud 'otc': secure.yaml is not a mapping with a 'clouds' key");
    /* A wrong type in the clouds file's key that the secure file replaces is not an error (merged first). */
    CHECK(parse2("clouds: {otc: {auth: {password: [x]}}}", "clouds: {otc: {auth: {password: S}}}", "otc", &c, &e) ==
          0);
    CHECK_STR(c.password, "S");
    cce_cloud_clear(&c);
    cce_error_clear(&e);
}

/* ---------------------------------------------------------------- search */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void mkdirs(const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    for (char *s = p + strlen(base) + 1; (s = strchr(s, '/')) != NULL; s++) {
        *s = '\0';
        mkdir(p, 0700);
        *s = '/';
    }
    mkdir(p, 0700);
}

static void put(const char *rel, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    write_file(p, text);
}

static void rm(const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    CHECK(unlink(p) == 0);
}

static char *at(const char *rel)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    return p;
}

/* Loads `name` and returns the region of the entry (where each test file says it is). */
static void expect_region(const char *name, const char *region, const char *file, const char *secure_file)
{
    cce_cloud c;
    cce_error e = {0};
    int rc = cce_cloud_load(name, &c, &e);
    CHECK(rc == 0);
    if (rc != 0)
        fprintf(stderr, "  error: %s\n", e.message ? e.message : "(none)");
    CHECK_STR(c.region, region);
    CHECK_STR(c.file, file);
    if (secure_file)
        CHECK_STR(c.secure_file, secure_file);
    else
        CHECK(c.secure_file == NULL);
    cce_cloud_clear(&c);
    cce_error_clear(&e);
}

static void test_search(void)
{
    char oldcwd[1024];
    CHECK(getcwd(oldcwd, sizeof oldcwd) != NULL);
    mkdirs("home/.config/openstack");
    mkdirs("xdg/openstack");
    mkdirs("cwd");
    mkdirs("other");
    CHECK(chdir(at("cwd")) == 0);
    setenv("HOME", at("home"), 1);
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("OS_CLIENT_CONFIG_FILE");
    unsetenv("OS_CLIENT_SECURE_FILE");
    int etc = access("/etc/openstack", F_OK) == 0;

    /* Nothing anywhere: every place in the message, in order. */
    cce_cloud c;
    cce_error e = {0};
    CHECK(cce_cloud_load("otc", &c, &e) == -1);
    CHECK(e.kind == CCE_E_CONFIG);
    if (!etc) {
        char want[2048];
        snprintf(want, sizeof want,
                 "cloud 'otc': no clouds.yaml found (looked in: ./clouds.yaml, ./clouds.yml, ./clouds.json, "
                 "%s/.config/openstack/clouds.yaml, %s/.config/openstack/clouds.yml, %s/.config/openstack/clouds.json, "
                 "/etc/openstack/clouds.yaml, /etc/openstack/clouds.yml, /etc/openstack/clouds.json)",
                 at("home"), at("home"), at("home"));
        CHECK_STR(e.message, want);
    }
    setenv("XDG_CONFIG_HOME", at("xdg"), 1);
    CHECK(cce_cloud_load("otc", &c, &e) == -1);
    CHECK_CONTAINS(e.message, "/xdg/openstack/clouds.json, ");
    CHECK(e.message && !strstr(e.message, "/home/"));
    unsetenv("XDG_CONFIG_HOME");

    /* ~/.config/openstack; XDG_CONFIG_HOME replaces ~/.config. */
    put("home/.config/openstack/clouds.yaml", "clouds: {otc: {region_name: home}}");
    expect_region("otc", "home", at("home/.config/openstack/clouds.yaml"), NULL);
    setenv("XDG_CONFIG_HOME", at("xdg"), 1);
    CHECK(cce_cloud_load("otc", &c, &e) == -1);
    CHECK_CONTAINS(e.message, "no clouds.yaml found");
    put("xdg/openstack/clouds.json", "{\"clouds\": {\"otc\": {\"region_name\": \"xdg\"}}}");
    expect_region("otc", "xdg", at("xdg/openstack/clouds.json"), NULL);
    /* .yml before .json in one place. */
    put("xdg/openstack/clouds.yml", "clouds: {otc: {region_name: xdg-yml}}");
    expect_region("otc", "xdg-yml", at("xdg/openstack/clouds.yml"), NULL);
    setenv("XDG_CONFIG_HOME", "", 1); /* empty: as if unset */
    expect_region("otc", "home", at("home/.config/openstack/clouds.yaml"), NULL);

    /* ./ before the user's directory; the first file found wins, nothing merged across places. */
    put("cwd/clouds.json", "{\"clouds\": {\"otc\": {\"region_name\": \"cwd-json\"}}}");
    expect_region("otc", "cwd-json", "./clouds.json", NULL);
    put("cwd/clouds.yaml", "clouds: {cwdonly: {region_name: cwd}}");
    expect_region("cwdonly", "cwd", "./clouds.yaml", NULL);
    CHECK(cce_cloud_load("otc", &c, &e) == -1);
    CHECK_STR(e.message, "cloud 'otc' is not in ./clouds.yaml (it has: cwdonly)");

    /* $OS_CLIENT_CONFIG_FILE before everything; it must exist. */
    put("other/my.yaml", "clouds: {otc: {region_name: env}}");
    setenv("OS_CLIENT_CONFIG_FILE", at("other/my.yaml"), 1);
    expect_region("otc", "env", at("other/my.yaml"), NULL);
    setenv("OS_CLIENT_CONFIG_FILE", at("other/missing.yaml"), 1);
    CHECK(cce_cloud_load("otc", &c, &e) == -1);
    CHECK(e.kind == CCE_E_CONFIG);
    char want[1024];
    snprintf(want, sizeof want, "cloud 'otc': OS_CLIENT_CONFIG_FILE=%s does not exist", at("other/missing.yaml"));
    CHECK_STR(e.message, want);
    /* A directory where a file should be: an error naming it, not a skip. */
    setenv("OS_CLIENT_CONFIG_FILE", at("other"), 1);
    CHECK(cce_cloud_load("otc", &c, &e) == -1);
    CHECK(e.kind == CCE_E_CONFIG);
    CHECK_CONTAINS(e.message, at("other"));
    unsetenv("OS_CLIENT_CONFIG_FILE");

    /* A parse error names the found file with line and column. */
    put("cwd/clouds.yaml", "clouds:\n  otc: {region_name: [\n");
    CHECK(cce_cloud_load("otc", &c, &e) == -1);
    CHECK(e.kind == CCE_E_CONFIG);
    CHECK(e.message && strncmp(e.message, "cloud 'otc': ./clouds.yaml:3:", 29) == 0);

    /* secure.yaml: searched on its own in the same places, merged over the entry. */
    put("cwd/clouds.yaml", "clouds: {otc: {region_name: cwd, auth: {username: U}}}");
    put("home/.config/openstack/secure.yaml", "clouds: {otc: {auth: {password: HOMEPW}}}");
    expect_region("otc", "cwd", "./clouds.yaml", at("home/.config/openstack/secure.yaml"));
    CHECK(cce_cloud_load("otc", &c, &e) == 0);
    CHECK_STR(c.password, "HOMEPW");
    CHECK_STR(c.username, "U");
    cce_cloud_clear(&c);
    put("cwd/secure.yml", "clouds: {otc: {auth: {password: CWDPW}}}");
    CHECK(cce_cloud_load("otc", &c, &e) == 0);
    CHECK_STR(c.password, "CWDPW");
    CHECK_STR(c.secure_file, "./secure.yml");
    cce_cloud_clear(&c);
    put("other/sec.json", "{\"clouds\": {\"otc\": {\"auth\": {\"password\": \"ENVPW\"}}}}");
    setenv("OS_CLIENT_SECURE_FILE", at("other/sec.json"), 1);
    CHECK(cce_cloud_load("otc", &c, &e) == 0);
    CHECK_STR(c.password, "ENVPW");
    CHECK_STR(c.secure_file, at("other/sec.json"));
    cce_cloud_clear(&c);
    setenv("OS_CLIENT_SECURE_FILE", at("other/nosuch.yaml"), 1);
    CHECK(cce_cloud_load("otc", &c, &e) == -1);
    CHECK_CONTAINS(e.message, "OS_CLIENT_SECURE_FILE=");
    CHECK_CONTAINS(e.message, "nosuch.yaml does not exist");
    unsetenv("OS_CLIENT_SECURE_FILE");
    /* A secure file that does not parse: named, with line and column; the password in it never shown. */
    put("cwd/secure.yml", "clouds:\n  otc:\n    auth: {password: Sup3r-S3cret-pw\n");
    CHECK(cce_cloud_load("otc", &c, &e) == -1);
    CHECK(e.message && strncmp(e.message, "cloud 'otc': ./secure.yml:", 26) == 0);
    CHECK(e.message && !strstr(e.message, "Sup3r-S3cret-pw"));
    rm("cwd/secure.yml");
    /* The secure file only has the cloud: not found in clouds.yaml. */
    put("home/.config/openstack/secure.yaml", "clouds: {ghost: {auth: {password: G}}}");
    CHECK(cce_cloud_load("ghost", &c, &e) == -1);
    CHECK_STR(e.message, "cloud 'ghost' is not in ./clouds.yaml (it has: otc)");

    CHECK(chdir(oldcwd) == 0);
    cce_error_clear(&e);
}

int main(void)
{
    snprintf(base, sizeof base, "%s/cce-cloudcfg-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 1;
    }
    test_every_key();
    test_precedence();
    test_numbers();
    test_wrong_types();
    test_errors();
    test_secure_merge();
    test_search();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", base);
    return check_report("test_cloudcfg");
}
