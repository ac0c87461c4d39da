/*
 * test_yaml.c - unit tests for core/yaml.c (the YAML <-> jansson bridge).
 *
 * Plain C, no framework: every CHECK that fails prints file:line and the
 * expression, and main() returns 1 if any did.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <locale.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static int g_checks, g_failures;

#define CHECK(expr)                                                                    \
    do {                                                                               \
        g_checks++;                                                                    \
        if (!(expr)) {                                                                 \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr);   \
            g_failures++;                                                              \
        }                                                                              \
    } while (0)

/* String equality that shows both sides when it fails. */
#define CHECK_STR(got, want) check_str(__FILE__, __LINE__, #got, (got), (want))

static void check_str(const char *file, int line, const char *expr, const char *got, const char *want)
{
    g_checks++;
    if (got && want && strcmp(got, want) == 0)
        return;
    fprintf(stderr, "%s:%d: CHECK_STR failed: %s\n--- got:\n%s\n--- want:\n%s\n---\n", file, line,
            expr, got ? got : "(null)", want ? want : "(null)");
    g_failures++;
}

/* ------------------------------------------------------------ helpers */

/* Loads text with source "t"; prints the error if it fails. */
static json_t *load(const char *text)
{
    cce_error err = {0};
    json_t *v = cce_yaml_load(text, strlen(text), "t", &err);
    if (!v)
        fprintf(stderr, "  load failed: %s\n", err.message ? err.message : "(no message)");
    cce_error_clear(&err);
    return v;
}

/* Dumps v into a new heap string (NULL on failure). */
static char *dump(const json_t *v)
{
    cce_buf b = {0};
    if (cce_yaml_dump(v, &b) < 0) {
        cce_buf_free(&b);
        return NULL;
    }
    return cce_buf_steal(&b, NULL);
}

/* Loading text must fail with code PARSE and a message starting with prefix and containing needle. */
#define CHECK_ERROR(text, len, prefix, needle) \
    check_error(__FILE__, __LINE__, (text), (len), "t", (prefix), (needle))

static void check_error(const char *file, int line, const char *text, size_t len, const char *source,
                        const char *prefix, const char *needle)
{
    cce_error err = {0};
    json_t *v = cce_yaml_load(text, len, source, &err);
    g_checks++;
    bool ok = v == NULL && strcmp(err.code, "PARSE") == 0 && err.message &&
              strncmp(err.message, prefix, strlen(prefix)) == 0 &&
              (!needle || strstr(err.message, needle));
    if (!ok) {
        fprintf(stderr, "%s:%d: CHECK_ERROR failed: want \"%s...%s\", got %s [%s] \"%s\"\n", file, line,
                prefix, needle ? needle : "", v ? "a value" : "NULL", err.code,
                err.message ? err.message : "(null)");
        g_failures++;
    }
    json_decref(v);
    cce_error_clear(&err);
}

/* Loads "v: <scalar>" and compares v with the JSON text want. */
#define CHECK_SCALAR(scalar, want) check_scalar(__FILE__, __LINE__, (scalar), (want))

static void check_scalar(const char *file, int line, const char *scalar, const char *want)
{
    char text[512];
    snprintf(text, sizeof text, "v: %s\n", scalar);
    json_t *doc = load(text);
    json_error_t jerr;
    json_t *expect = json_loads(want, JSON_DECODE_ANY, &jerr);
    json_t *got = doc ? json_object_get(doc, "v") : NULL;
    g_checks++;
    if (!expect || !got || !json_equal(got, expect) || json_typeof(got) != json_typeof(expect)) {
        char *g = got ? json_dumps(got, JSON_ENCODE_ANY) : NULL;
        fprintf(stderr, "%s:%d: scalar %s: got %s, want %s\n", file, line, scalar, g ? g : "(none)",
                want);
        free(g);
        g_failures++;
    }
    json_decref(expect);
    json_decref(doc);
}

/* The dump of {"k": <string s>} must be exactly "k: <want>\n". */
#define CHECK_RENDER(s, want) check_render(__FILE__, __LINE__, (s), (want))

static void check_render(const char *file, int line, const char *s, const char *want)
{
    json_t *o = json_pack("{s:s}", "k", s);
    char *got = dump(o);
    char expect[512];
    snprintf(expect, sizeof expect, "k: %s\n", want);
    g_checks++;
    if (!got || strcmp(got, expect) != 0) {
        fprintf(stderr, "%s:%d: rendering of a string: got \"%s\", want \"%s\"\n", file, line,
                got ? got : "(null)", expect);
        g_failures++;
    }
    free(got);
    json_decref(o);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------- a kubectl kubeconfig */

#define CA_DATA                                                                                    \
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkekNDQVIyZ0F3SUJBZ0lCQURBS0JnZ3Foa2pPUFFRREFqQWpNU0" \
    "V3SHdZRFZRUUREQmhyTTNNdGMyVnkKZG1WeUxXTmhRREUzTURBd01EQXdNREF3SGhjTk1qUXdNVEF4TURBd01EQXdXaGNO" \
    "TXpRd01UQXhNREF3TURBdwotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg=="
#define CERT_DATA "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSURJVENDQWdtZ0F3SUJBZ0lJYzNWd1pYSXQKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="
#define KEY_DATA "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFb3dJQkFBS0NBUUVBeHl6CkVORCBSU0EgUFJJVkFURSBLRVktLS0tLQo="
#define TOKEN "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJl"

/* What `kubectl config view --raw` writes: sorted keys, indentless sequences. */
static const char kubectl_yaml[] =
    "apiVersion: v1\n"
    "clusters:\n"
    "- cluster:\n"
    "    certificate-authority-data: " CA_DATA "\n"
    "    extensions:\n"
    "    - extension:\n"
    "        last-update: Mon, 01 Jan 2024 10:00:00 CET\n"
    "        provider: minikube.sigs.k8s.io\n"
    "        ratio: 0.5\n"
    "        retries: 3\n"
    "        version: v1.32.0\n"
    "      name: cluster_info\n"
    "    server: https://192.168.49.2:8443\n"
    "  name: minikube\n"
    "- cluster:\n"
    "    insecure-skip-tls-verify: true\n"
    "    server: https://10.0.0.1:5443\n"
    "  name: cce-internal\n"
    "contexts:\n"
    "- context:\n"
    "    cluster: minikube\n"
    "    namespace: default\n"
    "    user: minikube\n"
    "  name: minikube\n"
    "- context:\n"
    "    cluster: cce-internal\n"
    "    namespace: kube-system\n"
    "    user: cce-exec\n"
    "  name: cce\n"
    "current-context: minikube\n"
    "kind: Config\n"
    "preferences: {}\n"
    "users:\n"
    "- name: cce-exec\n"
    "  user:\n"
    "    exec:\n"
    "      apiVersion: client.authentication.k8s.io/v1beta1\n"
    "      args:\n"
    "      - token\n"
    "      - --cluster-id\n"
    "      - 6a1f0c2e-0000-4000-8000-000000000001\n"
    "      command: cceauto\n"
    "      env:\n"
    "      - name: OS_CLOUD\n"
    "        value: otc\n"
    "      - name: CCE_TIMEOUT\n"
    "        value: \"30\"\n"
    "      interactiveMode: IfAvailable\n"
    "      provideClusterInfo: false\n"
    "- name: minikube\n"
    "  user:\n"
    "    client-certificate-data: " CERT_DATA "\n"
    "    client-key-data: " KEY_DATA "\n"
    "- name: token-user\n"
    "  user:\n"
    "    token: " TOKEN "\n";

/* The same configuration as a person might write it. */
static const char handwritten_yaml[] =
    "# kubeconfig edited by hand\n"
    "---\n"
    "kind: Config\n"
    "apiVersion: v1\n"
    "current-context: \"minikube\"\n"
    "preferences: {}\n"
    "clusters:\n"
    "  - name: minikube\n"
    "    cluster:\n"
    "      server: https://192.168.49.2:8443   # the VM\n"
    "      certificate-authority-data: " CA_DATA "\n"
    "      extensions:\n"
    "        - name: cluster_info\n"
    "          extension:\n"
    "            version: 'v1.32.0'\n"
    "            provider: minikube.sigs.k8s.io\n"
    "            retries: 3\n"
    "            ratio: 5e-1\n"
    "            last-update: Mon, 01 Jan 2024 10:00:00 CET\n"
    "  - name: cce-internal\n"
    "    cluster: {server: \"https://10.0.0.1:5443\", insecure-skip-tls-verify: yes}\n"
    "contexts:\n"
    "  - {name: minikube, context: {cluster: minikube, user: minikube, namespace: default}}\n"
    "  - name: cce\n"
    "    context:\n"
    "      user: cce-exec\n"
    "      cluster: cce-internal\n"
    "      namespace: kube-system\n"
    "users:\n"
    "- name: cce-exec\n"
    "  user:\n"
    "    exec:\n"
    "      command: cceauto\n"
    "      args: [token, --cluster-id, 6a1f0c2e-0000-4000-8000-000000000001]\n"
    "      apiVersion: client.authentication.k8s.io/v1beta1\n"
    "      env:\n"
    "        - name: OS_CLOUD\n"
    "          value: otc\n"
    "        - {name: CCE_TIMEOUT, value: '30'}\n"
    "      provideClusterInfo: off\n"
    "      interactiveMode: IfAvailable\n"
    "- name: minikube\n"
    "  user:\n"
    "    client-key-data: >-\n"
    "      " KEY_DATA "\n"
    "    client-certificate-data: " CERT_DATA "\n"
    "- name: token-user\n"
    "  user: {token: " TOKEN "}\n";

static json_t *path_get(json_t *root, const char *p1, size_t i, const char *p2)
{
    json_t *a = json_object_get(root, p1);
    json_t *e = json_array_get(a, i);
    return p2 ? json_object_get(e, p2) : e;
}

static void test_kubeconfig(void)
{
    json_t *kc = load(kubectl_yaml);
    CHECK(json_is_object(kc));
    if (!kc)
        return;
    CHECK(json_object_size(kc) == 7);
    CHECK_STR(json_string_value(json_object_get(kc, "apiVersion")), "v1");
    CHECK_STR(json_string_value(json_object_get(kc, "kind")), "Config");
    CHECK_STR(json_string_value(json_object_get(kc, "current-context")), "minikube");
    json_t *prefs = json_object_get(kc, "preferences");
    CHECK(json_is_object(prefs) && json_object_size(prefs) == 0);

    CHECK(json_array_size(json_object_get(kc, "clusters")) == 2);
    json_t *c0 = path_get(kc, "clusters", 0, "cluster");
    CHECK_STR(json_string_value(json_object_get(c0, "certificate-authority-data")), CA_DATA);
    CHECK_STR(json_string_value(json_object_get(c0, "server")), "https://192.168.49.2:8443");
    json_t *ext = json_object_get(json_array_get(json_object_get(c0, "extensions"), 0), "extension");
    CHECK(json_is_integer(json_object_get(ext, "retries")) &&
          json_integer_value(json_object_get(ext, "retries")) == 3);
    CHECK(json_is_real(json_object_get(ext, "ratio")) && json_real_value(json_object_get(ext, "ratio")) == 0.5);
    CHECK_STR(json_string_value(json_object_get(ext, "last-update")), "Mon, 01 Jan 2024 10:00:00 CET");
    CHECK_STR(json_string_value(json_object_get(ext, "version")), "v1.32.0");
    json_t *c1 = path_get(kc, "clusters", 1, "cluster");
    CHECK(json_is_true(json_object_get(c1, "insecure-skip-tls-verify")));
    CHECK_STR(json_string_value(path_get(kc, "clusters", 1, "name")), "cce-internal");

    CHECK(json_array_size(json_object_get(kc, "contexts")) == 2);
    json_t *ctx = path_get(kc, "contexts", 1, "context");
    CHECK_STR(json_string_value(json_object_get(ctx, "namespace")), "kube-system");

    CHECK(json_array_size(json_object_get(kc, "users")) == 3);
    json_t *exec = json_object_get(path_get(kc, "users", 0, "user"), "exec");
    json_t *args = json_object_get(exec, "args");
    CHECK(json_array_size(args) == 3);
    CHECK_STR(json_string_value(json_array_get(args, 1)), "--cluster-id");
    json_t *env = json_object_get(exec, "env");
    CHECK(json_array_size(env) == 2);
    json_t *timeout = json_object_get(json_array_get(env, 1), "value");
    CHECK(json_is_string(timeout) && strcmp(json_string_value(timeout), "30") == 0);
    CHECK(json_is_false(json_object_get(exec, "provideClusterInfo")));
    json_t *cert_user = path_get(kc, "users", 1, "user");
    CHECK_STR(json_string_value(json_object_get(cert_user, "client-certificate-data")), CERT_DATA);
    CHECK_STR(json_string_value(json_object_get(cert_user, "client-key-data")), KEY_DATA);
    CHECK_STR(json_string_value(json_object_get(path_get(kc, "users", 2, "user"), "token")), TOKEN);

    /* kubectl's own output survives load + dump byte for byte. */
    char *out = dump(kc);
    CHECK_STR(out, kubectl_yaml);
    free(out);

    /* A hand-written equivalent loads to the same tree and dumps to kubectl's layout. */
    json_t *hand = load(handwritten_yaml);
    CHECK(hand && json_equal(hand, kc));
    out = hand ? dump(hand) : NULL;
    CHECK_STR(out, kubectl_yaml);
    free(out);
    json_decref(hand);
    json_decref(kc);
}

static void test_json_input(void)
{
    const char *j = "{\"kind\":\"Config\",\"clusters\":[{\"name\":\"a\",\"cluster\":"
                    "{\"server\":\"https://x:5443\",\"insecure-skip-tls-verify\":true}}],"
                    "\"n\":null,\"i\":-42,\"f\":2.5,\"e\":1E3,\"esc\":\"caf\\u00e9 a\\/b \\\"q\\\" \\\\ \\t\"}";
    json_t *v = load(j);
    CHECK(v != NULL);
    if (v) {
        json_t *cl = json_object_get(json_array_get(json_object_get(v, "clusters"), 0), "cluster");
        CHECK_STR(json_string_value(json_object_get(cl, "server")), "https://x:5443");
        CHECK(json_is_true(json_object_get(cl, "insecure-skip-tls-verify")));
        CHECK(json_is_null(json_object_get(v, "n")));
        CHECK(json_is_integer(json_object_get(v, "i")) && json_integer_value(json_object_get(v, "i")) == -42);
        CHECK(json_is_real(json_object_get(v, "f")) && json_real_value(json_object_get(v, "f")) == 2.5);
        CHECK(json_is_real(json_object_get(v, "e")) && json_real_value(json_object_get(v, "e")) == 1000.0);
        CHECK_STR(json_string_value(json_object_get(v, "esc")), "caf\xc3\xa9 a/b \"q\" \\ \t");
        /* The YAML reading equals jansson's own reading of the same JSON. */
        json_t *ref = json_loads(j, 0, NULL);
        CHECK(ref && json_equal(ref, v));
        json_decref(ref);
    }
    json_decref(v);

    /* Pretty JSON indented with tabs (tabs are fine inside flow collections). */
    v = load("{\n\t\"a\": [\n\t\t1,\n\t\t\"x\"\n\t],\n\t\"b\": {}\n}\n");
    json_t *want = json_pack("{s:[i,s],s:{}}", "a", 1, "x", "b");
    CHECK(v && json_equal(v, want));
    json_decref(v);
    json_decref(want);
}

/* ------------------------------------------------------ round trips */

static const char *const tricky[] = {
    "",          " lead",       "trail ",     "true",
    "True",      "yes",         "n",          "null",
    "~",         "123",         "-1",         "0x1F",
    "0o17",      "017",         "1e3",        ".5",
    ".inf",      "a: b",        "#x",         "- x",
    "x #y",      "multi\nline\n", "multi\nline no trailing", "tab\tin",
    "quote'\"s", "é ünïcödé", "@at", "`tick",
    "%pct",      "*star",       "&amp",       "!bang",
    "[x]",       "{x}",         "a,b",        "http://h:1/p?q=1#f",
    /* a few more edges */
    "ends\n\n",  "\n",          "\nlead break", " x\ny",
    "x\ny ",     "---",         "...",        "? q",
    ": c",       "2024-01-02",  "1:20",       "1_000",
    "-",         "'",           "\"",         "a\r\nb",
    "NULL",      "Off",         "+.5",        "08",
    "\xe2\x80\xa8", "\xef\xbb\xbf" "bom", "line\xc2\x85next", "\x01" "ctl",
    "a\xe2\x80\xa8" "b", "x\xe2\x80\xa9",   "a\n\xe2\x80\xa8",  "k: v\n- x\n",
};

static void test_roundtrip(void)
{
    /* A 3000-character base64 string, like certificate data but longer. */
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char big[3001];
    unsigned seed = 12345;
    for (size_t i = 0; i < 2998; i++) {
        seed = seed * 1103515245u + 12345u;
        big[i] = b64[(seed >> 16) % 64];
    }
    big[2998] = big[2999] = '=';
    big[3000] = '\0';

    json_t *strings = json_array();
    json_t *as_keys = json_object();
    size_t n = sizeof tricky / sizeof tricky[0];
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(strings, json_string(tricky[i]));
        json_object_set_new(as_keys, tricky[i], json_integer((json_int_t)i));
    }
    json_array_append_new(strings, json_string(big));
    json_object_set_new(as_keys, big, json_string(big));
    /* A NUL inside a string survives too (written as "\0"). */
    json_array_append_new(strings, json_stringn("nul\0inside", 10));

    json_t *tree = json_pack(
        "{s:o, s:o, s:[i,i,I], s:[f,f,f,f], s:[b,b], s:[n,{s:n}], s:{s:{}, s:[], s:[{},[],[[]],{s:{}}]}}",
        "strings", strings, "keys", as_keys, "ints", 0, -5, (json_int_t)9007199254740993LL, "reals", 1.5,
        -0.25, 1e300, 0.1, "bools", 1, 0, "nulls", "n", "empties", "o", "a", "nested", "x");
    CHECK(tree != NULL);
    if (!tree)
        return;

    char *text = dump(tree);
    CHECK(text != NULL);
    if (text) {
        CHECK(strncmp(text, "---", 3) != 0);
        CHECK(strstr(text, "\n...") == NULL);
        size_t len = strlen(text);
        CHECK(len >= 2 && text[len - 1] == '\n' && text[len - 2] != '\n');
        CHECK(strstr(text, "\n  " "ABCDEFG") == NULL); /* nothing folded */

        cce_error err = {0};
        json_t *back = cce_yaml_load(text, len, "dump", &err);
        if (!back)
            fprintf(stderr, "  reload failed: %s\n%s\n", err.message, text);
        CHECK(back && json_equal(back, tree));
        /* Integer stays integer, real stays real (json_equal would already differ). */
        json_t *ints = json_object_get(back, "ints");
        CHECK(json_is_integer(json_array_get(ints, 2)) &&
              json_integer_value(json_array_get(ints, 2)) == 9007199254740993LL);
        CHECK(json_is_real(json_array_get(json_object_get(back, "reals"), 2)));
        /* Dumping what was read gives the same bytes again. */
        char *again = back ? dump(back) : NULL;
        CHECK_STR(again, text);
        free(again);
        json_decref(back);
        cce_error_clear(&err);
    }
    free(text);
    json_decref(tree);

    /* Each tricky string alone at the root, too. */
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_string(tricky[i]);
        char *t = dump(s);
        json_t *b = t ? load(t) : NULL;
        g_checks++;
        if (!b || !json_equal(b, s)) {
            fprintf(stderr, "%s:%d: root string %zu does not round-trip; dump: [%s]\n", __FILE__,
                    __LINE__, i, t ? t : "(null)");
            g_failures++;
        }
        json_decref(b);
        free(t);
        json_decref(s);
    }
}

static void test_string_rendering(void)
{
    /* Quoted like go-yaml v2: double quotes when plain would read as null/bool/number. */
    CHECK_RENDER("", "\"\"");
    CHECK_RENDER("true", "\"true\"");
    CHECK_RENDER("True", "\"True\"");
    CHECK_RENDER("yes", "\"yes\"");
    CHECK_RENDER("y", "\"y\"");
    CHECK_RENDER("n", "\"n\"");
    CHECK_RENDER("off", "\"off\"");
    CHECK_RENDER("null", "\"null\"");
    CHECK_RENDER("~", "\"~\"");
    CHECK_RENDER("123", "\"123\"");
    CHECK_RENDER("-1", "\"-1\"");
    CHECK_RENDER("0x1F", "\"0x1F\"");
    CHECK_RENDER("0o17", "\"0o17\"");
    CHECK_RENDER("017", "\"017\"");
    CHECK_RENDER("1e3", "\"1e3\"");
    CHECK_RENDER(".5", "\".5\"");
    CHECK_RENDER("1_000", "\"1_000\"");
    CHECK_RENDER(".inf", "\".inf\"");
    CHECK_RENDER("-.Inf", "\"-.Inf\"");
    CHECK_RENDER(".nan", "\".nan\"");
    /* go-yaml also quotes timestamps and base-60 numbers. */
    CHECK_RENDER("2024-01-02", "\"2024-01-02\"");
    CHECK_RENDER("2001-12-14t21:59:43.10-05:00", "\"2001-12-14t21:59:43.10-05:00\"");
    CHECK_RENDER("2001-12-14 21:59:43.10", "\"2001-12-14 21:59:43.10\"");
    CHECK_RENDER("1:20", "\"1:20\"");
    CHECK_RENDER("190:20:30.15", "\"190:20:30.15\"");
    /* Near misses stay plain. */
    CHECK_RENDER("2024-13-02", "2024-13-02");
    CHECK_RENDER("1:60", "1:60");
    CHECK_RENDER("yEs", "yEs");
    CHECK_RENDER("nUll", "nUll");
    CHECK_RENDER("1.2.3", "1.2.3");
    CHECK_RENDER("v1", "v1");
    CHECK_RENDER("--cluster-id", "--cluster-id");
    /* Plain not allowed: libyaml picks single quotes, or double for escapes. */
    CHECK_RENDER(" lead", "' lead'");
    CHECK_RENDER("trail ", "'trail '");
    CHECK_RENDER("a: b", "'a: b'");
    CHECK_RENDER("#x", "'#x'");
    CHECK_RENDER("- x", "'- x'");
    CHECK_RENDER("x #y", "'x #y'");
    CHECK_RENDER("@at", "'@at'");
    CHECK_RENDER("`tick", "'`tick'");
    CHECK_RENDER("%pct", "'%pct'");
    CHECK_RENDER("*star", "'*star'");
    CHECK_RENDER("&amp", "'&amp'");
    CHECK_RENDER("!bang", "'!bang'");
    CHECK_RENDER("[x]", "'[x]'");
    CHECK_RENDER("{x}", "'{x}'");
    CHECK_RENDER("tab\tin", "\"tab\\tin\"");
    /* Plain is fine for these. */
    CHECK_RENDER("a,b", "a,b");
    CHECK_RENDER("quote'\"s", "quote'\"s");
    CHECK_RENDER("http://h:1/p?q=1#f", "http://h:1/p?q=1#f");
    CHECK_RENDER("é ünïcödé", "é ünïcödé");
    /* Newlines: literal block scalars. */
    CHECK_RENDER("multi\nline\n", "|\n  multi\n  line");
    CHECK_RENDER("multi\nline no trailing", "|-\n  multi\n  line no trailing");
    CHECK_RENDER("  indented\nx\n", "|2\n    indented\n  x");
    /* ...except where a block scalar would need "|+" (and a "..." marker) or is not allowed. */
    CHECK_RENDER("ends\n\n", "\"ends\\n\\n\"");
    CHECK_RENDER("\n", "\"\\n\"");
    CHECK_RENDER("x\ny ", "\"x\\ny \"");

    /* Keys follow the same rules. */
    json_t *o = json_pack("{s:i,s:i,s:i}", "true", 1, "a: b", 2, "plain", 3);
    char *t = dump(o);
    CHECK_STR(t, "'a: b': 2\nplain: 3\n\"true\": 1\n");
    free(t);
    json_decref(o);
}

static void test_dump_layout(void)
{
    /* Built in reverse order, at every level: the dump is sorted by bytes. */
    json_t *a = json_object();
    json_t *inner = json_object();
    json_object_set_new(inner, "zeta", json_integer(1));
    json_object_set_new(inner, "beta", json_true());
    json_object_set_new(inner, "Alpha", json_null());
    json_object_set_new(a, "z", json_pack("[{s:s,s:s}, []]", "name", "n", "cluster", "c"));
    json_object_set_new(a, "\xc3\xa9", json_string("e-acute sorts after ASCII"));
    json_object_set_new(a, "a_b", json_integer(3));
    json_object_set_new(a, "a-b", json_integer(2));
    json_object_set_new(a, "a", inner);
    json_object_set_new(a, "B", json_object());
    const char *want = "B: {}\n"
                       "a:\n"
                       "  Alpha: null\n"
                       "  beta: true\n"
                       "  zeta: 1\n"
                       "a-b: 2\n"
                       "a_b: 3\n"
                       "z:\n"
                       "- cluster: c\n"
                       "  name: \"n\"\n"
                       "- []\n"
                       "\xc3\xa9: e-acute sorts after ASCII\n";
    char *t1 = dump(a);
    CHECK_STR(t1, want);

    /* The same tree built in another order gives the same bytes. */
    json_t *b = json_pack("{s:{}, s:i, s:i, s:{s:n, s:b, s:i}, s:[{s:s,s:s}, []], s:s}", "B", "a_b", 3,
                          "a-b", 2, "a", "Alpha", "beta", 1, "zeta", 1, "z", "cluster", "c", "name", "n",
                          "\xc3\xa9", "e-acute sorts after ASCII");
    CHECK(json_equal(a, b));
    char *t2 = dump(b);
    CHECK_STR(t2, want);
    char *t3 = dump(a);
    CHECK_STR(t3, t1);
    free(t1);
    free(t2);
    free(t3);
    json_decref(a);
    json_decref(b);

    /* Sequences of sequences and scalars at the root. */
    json_t *s = json_pack("[[i,i],{s:[s]},{}]", 1, 2, "k", "v");
    char *t = dump(s);
    CHECK_STR(t, "- - 1\n  - 2\n- k:\n  - v\n- {}\n");
    free(t);
    json_decref(s);

    struct {
        json_t *v;
        const char *want;
    } roots[] = {
        {json_object(), "{}\n"},       {json_array(), "[]\n"},     {json_null(), "null\n"},
        {json_true(), "true\n"},       {json_false(), "false\n"},  {json_integer(-7), "-7\n"},
        {json_real(1.5), "1.5\n"},     {json_real(-0.25), "-0.25\n"}, {json_real(1e300), "1e+300\n"},
        {json_real(100.0), "100.0\n"}, {json_real(0.1), "0.1\n"},  {json_real(-0.0), "-0.0\n"},
        {json_real(1.0 / 3.0), "0.3333333333333333\n"}, {json_real(0.0), "0.0\n"},
        {json_real(123456.0), "123456.0\n"}, {json_real(1e6), "1e+06\n"},
        {json_real(1234567.0), "1.234567e+06\n"}, {json_real(0.0001), "0.0001\n"},
        {json_real(1e-5), "1e-05\n"}, {json_real(5e-324), "5e-324\n"},
        {json_real(1.7976931348623157e308), "1.7976931348623157e+308\n"}, {json_string("plain"), "plain\n"},
        {json_string("123"), "\"123\"\n"},
    };
    for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++) {
        char *r = dump(roots[i].v);
        CHECK_STR(r, roots[i].want);
        /* Reals read back as the same real. */
        json_t *back = r ? load(r) : NULL;
        CHECK(back && json_equal(back, roots[i].v));
        json_decref(back);
        free(r);
        json_decref(roots[i].v);
    }

    /* A long string is never folded. */
    char line[401];
    memset(line, 'w', 400);
    for (size_t i = 9; i < 400; i += 10)
        line[i] = ' ';
    line[399] = 'w';
    line[400] = '\0';
    json_t *l = json_pack("{s:s}", "k", line);
    t = dump(l);
    CHECK(t && strlen(t) == 3 + 400 + 1 && strchr(t, '\n') == t + 403);
    free(t);
    json_decref(l);

    /* dump appends to what the buffer holds. */
    cce_buf buf = {0};
    cce_buf_puts(&buf, "# head\n");
    json_t *one = json_pack("{s:i}", "x", 1);
    CHECK(cce_yaml_dump(one, &buf) == 0);
    CHECK_STR(buf.data, "# head\nx: 1\n");
    json_decref(one);

    /* Failure leaves the buffer as it was: invalid UTF-8 cannot be emitted... */
    json_t *bad = json_pack("{s:[i,o]}", "a", 1, json_stringn_nocheck("\xff\xfe", 2));
    CHECK(cce_yaml_dump(bad, &buf) == -1);
    CHECK_STR(buf.data, "# head\nx: 1\n");
    CHECK(buf.len == strlen("# head\nx: 1\n"));
    json_decref(bad);

    /* ...and neither can a cycle built by hand. */
    json_t *c1 = json_array(), *c2 = json_array();
    json_array_append(c1, c2);
    json_array_append(c2, c1);
    CHECK(cce_yaml_dump(c1, &buf) == -1);
    CHECK(buf.len == strlen("# head\nx: 1\n"));
    json_array_clear(c2); /* break the cycle so both can be freed */
    json_decref(c1);
    json_decref(c2);
    cce_buf_free(&buf);
}

/* --------------------------------------------------------- resolution */

static void test_resolution(void)
{
    /* Plain scalars: null. */
    CHECK_SCALAR("", "null");
    CHECK_SCALAR("~", "null");
    CHECK_SCALAR("null", "null");
    CHECK_SCALAR("Null", "null");
    CHECK_SCALAR("NULL", "null");
    CHECK_SCALAR("nUll", "\"nUll\"");
    /* Booleans, YAML 1.1 style. */
    static const char *const yes[] = {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"};
    static const char *const no[] = {"n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        CHECK_SCALAR(yes[i], "true");
        CHECK_SCALAR(no[i], "false");
    }
    CHECK_SCALAR("tRue", "\"tRue\"");
    CHECK_SCALAR("yEs", "\"yEs\"");
    /* Integers. */
    CHECK_SCALAR("0", "0");
    CHECK_SCALAR("-0", "0");
    CHECK_SCALAR("+5", "5");
    CHECK_SCALAR("-17", "-17");
    CHECK_SCALAR("1_000", "1000");
    CHECK_SCALAR("1__000_", "1000");
    CHECK_SCALAR("0x1F", "31");
    CHECK_SCALAR("0X1f", "31");
    CHECK_SCALAR("-0x1F", "-31");
    CHECK_SCALAR("0x_1F", "31");
    CHECK_SCALAR("0o17", "15");
    CHECK_SCALAR("0O17", "15");
    CHECK_SCALAR("017", "15");
    CHECK_SCALAR("0b101", "5");
    CHECK_SCALAR("-0b101", "-5");
    CHECK_SCALAR("9007199254740993", "9007199254740993");
    CHECK_SCALAR("9223372036854775807", "9223372036854775807");
    CHECK_SCALAR("-9223372036854775808", "-9223372036854775808");
    /* Integers beyond json_int_t: a real when go-yaml has a number, else a string. */
    CHECK_SCALAR("9223372036854775808", "9223372036854775808.0");
    CHECK_SCALAR("-9223372036854775809", "-9223372036854775809.0");
    CHECK_SCALAR("0xFFFFFFFFFFFFFFFF", "18446744073709551615.0");
    CHECK_SCALAR("0x1FFFFFFFFFFFFFFFF", "\"0x1FFFFFFFFFFFFFFFF\"");
    CHECK_SCALAR("123456789012345678901234567890", "1.2345678901234568e29");
    /* Floats. */
    CHECK_SCALAR("1.5", "1.5");
    CHECK_SCALAR("-2e3", "-2000.0");
    CHECK_SCALAR("1e3", "1000.0");
    CHECK_SCALAR("1E+3", "1000.0");
    CHECK_SCALAR(".5", "0.5");
    CHECK_SCALAR("+.5", "0.5");
    CHECK_SCALAR("-.5e1", "-5.0");
    CHECK_SCALAR("1.", "1.0");
    CHECK_SCALAR("0.1", "0.1");
    CHECK_SCALAR("1_0.2_5", "10.25");
    CHECK_SCALAR("08", "8.0"); /* not octal; go-yaml reads a float */
    CHECK_SCALAR("1e-400", "0.0");
    CHECK_SCALAR("1e400", "\"1e400\"");
    /* Non-finite floats cannot be JSON numbers: refused, as kubectl refuses them; quoted, they are text. */
    CHECK_ERROR("v: .inf\n", 8, "t:1:4: ", "\".inf\" is a float JSON cannot hold");
    CHECK_ERROR("v: [-.Inf]\n", 11, "t:1:5: ", "float JSON cannot hold");
    CHECK_ERROR("v: {a: +.INF}\n", 14, "t:1:8: ", "float JSON cannot hold");
    CHECK_ERROR("v: .nan\n", 8, "t:1:4: ", "float JSON cannot hold");
    CHECK_ERROR("v: .NaN\n", 8, "t:1:4: ", "float JSON cannot hold");
    CHECK_SCALAR("'.inf'", "\".inf\"");
    /* Strings. */
    CHECK_SCALAR("0x", "\"0x\"");
    CHECK_SCALAR("0b2", "\"0b2\"");
    CHECK_SCALAR("+", "\"+\"");
    CHECK_SCALAR("-x", "\"-x\"");
    CHECK_SCALAR("_1", "\"_1\"");
    CHECK_SCALAR(".", "\".\"");
    CHECK_SCALAR(".5e", "\".5e\"");
    CHECK_SCALAR("1.2.3", "\"1.2.3\"");
    CHECK_SCALAR("1e", "\"1e\"");
    CHECK_SCALAR("0x1p-2", "\"0x1p-2\"");
    CHECK_SCALAR("2001-12-14", "\"2001-12-14\"");
    CHECK_SCALAR("1:20", "\"1:20\"");
    CHECK_SCALAR("v1.32.0", "\"v1.32.0\"");
    CHECK_SCALAR("hello world", "\"hello world\"");
    CHECK_SCALAR("<<", "\"<<\"");
    /* Quoted, literal and folded scalars are always strings. */
    CHECK_SCALAR("'true'", "\"true\"");
    CHECK_SCALAR("\"123\"", "\"123\"");
    CHECK_SCALAR("''", "\"\"");
    CHECK_SCALAR("'~'", "\"~\"");
    CHECK_SCALAR("\"null\"", "\"null\"");
    CHECK_SCALAR("\"caf\\u00e9\\/\\x41\"", "\"caf\\u00e9/A\"");
    CHECK_SCALAR("'it''s'", "\"it's\"");
    CHECK_SCALAR("|\n  123\n", "\"123\\n\"");
    CHECK_SCALAR(">\n  true\n  false\n", "\"true false\\n\"");
    /* Explicit tags win. */
    CHECK_SCALAR("!!str 123", "\"123\"");
    CHECK_SCALAR("!!str true", "\"true\"");
    CHECK_SCALAR("!!str", "\"\"");
    CHECK_SCALAR("!<tag:yaml.org,2002:str> 5", "\"5\"");
    CHECK_SCALAR("!!int \"42\"", "42");
    CHECK_SCALAR("!!int 0x10", "16");
    CHECK_SCALAR("!!bool yes", "true");
    CHECK_SCALAR("!!bool 'false'", "false");
    CHECK_SCALAR("!!float 1", "1.0");
    CHECK_SCALAR("!!float \"2.5\"", "2.5");
    CHECK_ERROR("v: !!float .inf\n", 16, "t:1:4: ", "float JSON cannot hold");
    CHECK_SCALAR("!!null ''", "null");
    CHECK_SCALAR("!!null ~", "null");
    CHECK_SCALAR("!!binary aGVsbG8=", "\"hello\""); /* decoded, as go-yaml does */
    CHECK_SCALAR("!!timestamp 2001-12-14", "\"2001-12-14\"");
    CHECK_SCALAR("! 123", "\"123\""); /* the non-specific tag means string */
    /* Unknown tags resolve by content. */
    CHECK_SCALAR("!custom 123", "123");
    CHECK_SCALAR("!custom true", "true");
    CHECK_SCALAR("!custom 'x'", "\"x\"");
    CHECK_SCALAR("!custom plain", "\"plain\"");
    CHECK_SCALAR("!!python/str 1.5", "1.5");
    /* A tag that does not fit its content is an error. */
    CHECK_ERROR("v: !!int abc\n", 13, "t:1:4: ", "cannot decode \"abc\" as !!int");
    CHECK_ERROR("v: !!bool 1\n", 12, "t:1:4: ", "as !!bool");
    CHECK_ERROR("v: !!null x\n", 12, "t:1:4: ", "as !!null");
    CHECK_ERROR("v: !!float abc\n", 15, "t:1:4: ", "as !!float");

    /*
     * Keys resolve as sigs.k8s.io/yaml makes them (checked against kubectl
     * 1.32): go-yaml v2 resolves them, then bools, ints and floats (as
     * float32, 'g' format) become text; quoted keys stay as written.
     */
    json_t *want = json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i}",
                             "true", 1, "123", 3, "q", 4, "8", 5, "31", 6, "", 7, "false", 8, "1.5", 9,
                             "1.2345679e+08", 10, "1e-07", 11, "100000", 12, "1e+06", 13, ".inf", 14, "-.inf", 15,
                             ".nan", 16, "-0", 17, "yes", 18, "2001-12-14", 19, "1000", 20, "0x10", 21);
    json_t *k = load("true: 1\n123: 3\n'q': 4\n010: 5\n0x1F: 6\n\"\": 7\nn: 8\n1.50: 9\n"
             "123456789.0: 10\n1e-7: 11\n100000.0: 12\n1000000.0: 13\n.Inf: 14\n-.inf: 15\n.NaN: 16\n"
             "-0.0: 17\n'yes': 18\n2001-12-14: 19\n1_000: 20\n!!str 0x10: 21\n");
    CHECK(k && json_equal(k, want));
    json_decref(k);
    json_decref(want);
    /* "true" and "yes" are the same key: a duplicate. */
    CHECK_ERROR("true: 1\nyes: 2\n", 15, "t:2:1: ", "duplicate key \"true\"");
    CHECK_ERROR("1: a\n\"1\": b\n", 12, "t:2:1: ", "duplicate key \"1\"");
    /* kubectl refuses a null key and one only uint64 holds. */
    CHECK_ERROR("~: 1\n", 5, "t:1:1: ", "null mapping key");
    CHECK_ERROR("18446744073709551615: 1\n", 24, "t:1:1: ", "above 2^63-1");
    /* ...but such a scalar is fine as a value, and an anchored one as a value elsewhere. */
    k = load("a: &x ~\nb: *x\n");
    CHECK(k && json_is_null(json_object_get(k, "b")));
    json_decref(k);
    CHECK_ERROR("a: &x ~\n*x : 1\n", 15, "t:2:1: ", "null mapping key");
    k = load("a: &x yes\n*x : 1\n");
    CHECK(k && json_integer_value(json_object_get(k, "true")) == 1);
    json_decref(k);
}

/* ----------------------------------------------------------- errors */

static void test_errors(void)
{
    const char *s;
    /* libyaml's own errors: position of the problem, then the context. */
    s = "a: b: c\n";
    CHECK_ERROR(s, strlen(s), "t:1:5: mapping values are not allowed in this context", NULL);
    s = "kind: Config\nusers:\n- name: x\n  user: a: b\n";
    CHECK_ERROR(s, strlen(s), "t:4:10: mapping values are not allowed in this context", NULL);
    s = "a:\n  b: 1\n c: 2\n";
    CHECK_ERROR(s, strlen(s), "t:3:2: did not find expected key (while parsing a block mapping)", NULL);
    s = "a: \"abc\nb: 1\n";
    CHECK_ERROR(s, strlen(s), "t:3:1: found unexpected end of stream (while scanning a quoted scalar)",
                NULL);
    s = "key: [a, b\nc: d\n";
    CHECK_ERROR(s, strlen(s), "t:2:2: did not find expected ',' or ']' (while parsing a flow sequence)",
                NULL);
    s = "a:\n\tb: 1\n";
    CHECK_ERROR(s, strlen(s), "t:2:1: found character that cannot start any token", NULL);
    /* The source name is used as given; NULL means "<input>". */
    s = "a: b: c\n";
    check_error(__FILE__, __LINE__, s, strlen(s), "config", "config:1:5: ", NULL);
    check_error(__FILE__, __LINE__, s, strlen(s), NULL, "<input>:1:5: ", NULL);

    /* Duplicate keys, at the second occurrence. */
    s = "a: 1\nb: 2\na: 3\n";
    CHECK_ERROR(s, strlen(s), "t:3:1: duplicate key \"a\"", NULL);
    s = "users:\n- name: x\n  user:\n    token: a\n    token: b\n";
    CHECK_ERROR(s, strlen(s), "t:5:5: duplicate key \"token\"", NULL);
    s = "{a: 1, \"a\": 2}";
    CHECK_ERROR(s, strlen(s), "t:1:8: duplicate key \"a\"", NULL);

    /* Keys must be scalars. */
    s = "? [a, b]\n: c\n";
    CHECK_ERROR(s, strlen(s), "t:1:3: mapping key must be a scalar", NULL);
    s = "x: {{a: 1}: b}\n";
    CHECK_ERROR(s, strlen(s), "t:1:5: mapping key must be a scalar", NULL);
    s = "a: &m {x: 1}\nb: {*m : 2}\n";
    CHECK_ERROR(s, strlen(s), "t:2:5: mapping key must be a scalar", NULL);

    /* Aliases must refer to an earlier anchor, and not to themselves. */
    s = "a: 1\nb: *nope\n";
    CHECK_ERROR(s, strlen(s), "t:2:4: unknown alias \"nope\"", NULL);
    s = "a: &x [1, *x]\n";
    CHECK_ERROR(s, strlen(s), "t:1:11: unknown alias \"x\"", NULL);

    /* Invalid UTF-8, control characters, NUL bytes. */
    s = "a: b\nc: \xff\n";
    CHECK_ERROR(s, strlen(s), "t:2:4: invalid leading UTF-8 octet", "0xff");
    s = "a: \xc3\xa9\xc3\n";
    CHECK_ERROR(s, strlen(s), "t:1:6: invalid trailing UTF-8 octet", NULL);
    s = "a: \xe2\x82";
    CHECK_ERROR(s, strlen(s), "t:1:4: incomplete UTF-8 octet sequence", NULL);
    s = "a: \xc0\x80\n"; /* overlong NUL */
    CHECK_ERROR(s, strlen(s), "t:1:4: ", "UTF-8");
    s = "a: \x01\n";
    CHECK_ERROR(s, strlen(s), "t:1:4: control characters are not allowed", NULL);
    CHECK_ERROR("a: b\0c\n", 7, "t:1:5: NUL byte in input", NULL);
    CHECK_ERROR("\0", 1, "t:1:1: NUL byte in input", NULL);

    /* The error is cleared of nothing: a later success leaves err alone, a failure overwrites. */
    cce_error err = {0};
    CHECK(cce_yaml_load("a: [", 4, "x", &err) == NULL);
    CHECK(strcmp(err.code, "PARSE") == 0 && err.status == 0 && err.message);
    CHECK(cce_yaml_load("a: b: c", 7, "y", &err) == NULL);
    CHECK(err.message && strncmp(err.message, "y:1:5: ", 7) == 0);
    cce_error_clear(&err);
    /* err may be NULL. */
    CHECK(cce_yaml_load("a: b: c", 7, "z", NULL) == NULL);
}

/* ---------------------------------------------------------- anchors */

static void test_anchors(void)
{
    json_t *v = load("base: &b {server: https://a, list: [1, 2]}\n"
                     "copy: *b\n"
                     "name: &n cluster-a\n"
                     "again: *n\n"
                     "seq: &s [x, y]\n"
                     "nested: {inner: *s}\n"
                     "&k keyname: 1\n"
                     "byvalue: *k\n"
                     "bykey: {*k : v}\n");
    CHECK(v != NULL);
    if (!v)
        return;
    json_t *base = json_object_get(v, "base"), *copy = json_object_get(v, "copy");
    CHECK(json_equal(base, copy));
    CHECK(base != copy);
    CHECK(json_object_get(base, "list") != json_object_get(copy, "list"));
    CHECK_STR(json_string_value(json_object_get(v, "again")), "cluster-a");
    CHECK(json_equal(json_object_get(v, "seq"), json_object_get(json_object_get(v, "nested"), "inner")));
    CHECK_STR(json_string_value(json_object_get(v, "byvalue")), "keyname");
    CHECK_STR(json_string_value(json_object_get(json_object_get(v, "bykey"), "keyname")), "v");

    /* Independent: changing one place leaves the others alone. */
    json_array_append_new(json_object_get(copy, "list"), json_integer(3));
    json_object_set_new(copy, "server", json_string("https://b"));
    CHECK(json_array_size(json_object_get(base, "list")) == 2);
    CHECK_STR(json_string_value(json_object_get(base, "server")), "https://a");
    CHECK(json_array_size(json_object_get(copy, "list")) == 3);
    json_decref(v);

    /* A redefined anchor: aliases see the latest definition. */
    v = load("a: &x 1\nb: &x two\nc: *x\n");
    CHECK(v && json_is_string(json_object_get(v, "c")));
    json_decref(v);

    /* An anchored scalar keeps its resolved type when aliased. */
    v = load("port: &p 5443\nother: *p\nflag: &f yes\nf2: *f\n");
    CHECK(v && json_integer_value(json_object_get(v, "other")) == 5443 &&
          json_is_true(json_object_get(v, "f2")));
    json_decref(v);
}

/* ------------------------------------------------------------ limits */

static char *repeat(const char *a, size_t na, const char *b, size_t nb)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la * na + lb * nb + 1);
    if (!s)
        return NULL;
    char *p = s;
    for (size_t i = 0; i < na; i++, p += la)
        memcpy(p, a, la);
    for (size_t i = 0; i < nb; i++, p += lb)
        memcpy(p, b, lb);
    *p = '\0';
    return s;
}

static void test_limits(void)
{
    /* Billion laughs: 9^9 copies if expanded.  Refused, and quickly. */
    const char *bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
                       "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                       "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                       "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                       "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                       "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                       "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
                       "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
                       "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
    double t0 = now_seconds();
    CHECK_ERROR(bomb, strlen(bomb), "t:", "refusing a possible alias bomb");
    double took = now_seconds() - t0;
    /* ~0.2 s natively (at most 500,000 copies are made before the refusal);
     * the bound leaves room for valgrind, and an exponential expansion would
     * never finish at all. */
    CHECK(took < 10.0);

    /* Aliases that stay within the limits still expand. */
    const char *small = "a: &a [1, 2, 3]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n";
    json_t *v = load(small);
    CHECK(v && json_array_size(json_object_get(v, "c")) == 3 &&
          json_integer_value(json_array_get(json_array_get(json_array_get(json_object_get(v, "c"), 2), 2), 2)) == 3);
    json_decref(v);

    /* Depth 10,000 is refused at level 513 (flow and block). */
    char *deep = repeat("[", 10000, "]", 10000);
    CHECK_ERROR(deep, strlen(deep), "t:1:513: nesting deeper than 512 levels", NULL);
    free(deep);
    deep = repeat("- ", 10000, "x\n", 1);
    CHECK_ERROR(deep, strlen(deep), "t:1:1025: nesting deeper than 512 levels", NULL);
    free(deep);
    deep = repeat("{a: ", 10000, "}", 10000);
    CHECK_ERROR(deep, strlen(deep), "t:1:2049: nesting deeper than 512 levels", NULL);
    free(deep);

    /* Exactly 512 levels load, dump and load again. */
    deep = repeat("[", 512, "]", 512);
    v = load(deep);
    CHECK(v != NULL);
    char *t = v ? dump(v) : NULL;
    json_t *back = t ? load(t) : NULL;
    CHECK(back && json_equal(back, v));
    json_decref(back);
    free(t);
    json_decref(v);
    free(deep);

    /* An alias cannot be used to get past the depth limit either. */
    char *anchored = repeat("[", 300, "]", 300);
    char *doc = malloc(2 * 300 + 1000);
    char *open = repeat("[", 300, "", 0), *close = repeat("]", 300, "", 0);
    snprintf(doc, 2 * 300 + 1000, "a: &x %s\nb: %s*x%s\n", anchored, open, close);
    CHECK_ERROR(doc, strlen(doc), "t:2:304: nesting deeper than 512 levels", NULL);
    free(anchored);
    free(doc);
    free(open);
    free(close);
}

/* ------------------------------------------------- kubectl fidelity */

/* Loads, dumps and loads again: the dump must load to the same tree. */
static void check_reload(const char *text)
{
    json_t *v = load(text);
    char *t = v ? dump(v) : NULL;
    json_t *back = t ? load(t) : NULL;
    g_checks++;
    if (!v || !back || !json_equal(v, back)) {
        fprintf(stderr, "reload failed for:\n%s\n--- dump:\n%s\n", text, t ? t : "(none)");
        g_failures++;
    }
    json_decref(back);
    free(t);
    json_decref(v);
}

static void test_fidelity(void)
{
    /* kubectl writes `args: null` for an exec user: it stays null, and is written as null. */
    json_t *v = load("users:\n- name: u\n  user:\n    exec:\n      args: null\n      env: ~\n"
                     "      installHint:\n    token: ''\n    as-groups: [~, null, '']\ncurrent-context: ~\n");
    json_t *exec = json_object_get(path_get(v, "users", 0, "user"), "exec");
    CHECK(json_is_null(json_object_get(exec, "args")));
    CHECK(json_is_null(json_object_get(exec, "env")));
    CHECK(json_is_null(json_object_get(exec, "installHint")));
    CHECK_STR(json_string_value(json_object_get(path_get(v, "users", 0, "user"), "token")), "");
    json_t *groups = json_object_get(path_get(v, "users", 0, "user"), "as-groups");
    CHECK(json_is_null(json_array_get(groups, 0)) && json_is_null(json_array_get(groups, 1)) &&
          json_is_string(json_array_get(groups, 2)));
    CHECK(json_is_null(json_object_get(v, "current-context")));
    char *out = v ? dump(v) : NULL;
    CHECK(out && strstr(out, "      args: null\n") && strstr(out, "current-context: null\n") &&
          !strstr(out, "\"null\"") && !strstr(out, "\"~\""));
    free(out);
    json_decref(v);

    /* YAML 1.1 scalars in extensions: n, yes, off are booleans there, as kubectl reads them. */
    v = load("extension: {a: n, b: yes, c: off, d: 'n', e: 0o17, f: 1_000}\n");
    json_t *ext = json_object_get(v, "extension");
    CHECK(json_is_false(json_object_get(ext, "a")) && json_is_true(json_object_get(ext, "b")) &&
          json_is_false(json_object_get(ext, "c")));
    CHECK_STR(json_string_value(json_object_get(ext, "d")), "n");
    CHECK(json_integer_value(json_object_get(ext, "e")) == 15 && json_integer_value(json_object_get(ext, "f")) == 1000);
    json_decref(v);

    /* Go's base64.StdEncoding: padding required, line breaks skipped, nothing after the padding. */
    unsigned char buf[16];
    CHECK(cce_yaml_base64_decode("aGVsbG8=", 8, buf) == 5 && memcmp(buf, "hello", 5) == 0);
    CHECK(cce_yaml_base64_decode("aGVs\nbG8=\r\n", 11, buf) == 5 && memcmp(buf, "hello", 5) == 0);
    CHECK(cce_yaml_base64_decode("aGk=", 4, buf) == 2 && cce_yaml_base64_decode("aA==", 4, buf) == 1);
    CHECK(cce_yaml_base64_decode("", 0, NULL) == 0);
    CHECK(cce_yaml_base64_decode("aGVsbG8", 7, NULL) == (size_t)-1);
    CHECK(cce_yaml_base64_decode("aA=", 3, NULL) == (size_t)-1);
    CHECK(cce_yaml_base64_decode("aA==aA==", 8, NULL) == (size_t)-1);
    CHECK(cce_yaml_base64_decode("a===", 4, NULL) == (size_t)-1);
    CHECK(cce_yaml_base64_decode("aGVs bG8=", 9, NULL) == (size_t)-1);
    CHECK(cce_yaml_base64_decode("!!!!", 4, NULL) == (size_t)-1);
    CHECK_ERROR("v: !!binary aGVsbG8\n", 19, "t:1:4: ", "not valid base64");
    CHECK_ERROR("v: !!binary /w==\n", 17, "t:1:4: ", "not UTF-8");

    /* Whatever loads dumps to text that loads again to the same tree. */
    check_reload("a: {yes: n, 1.5: ~, 010: '010', .inf: [], x: !!binary aGk=}\n");
    check_reload("- [[], {}, [[]], {a: {}}]\n- !!str 1\n- '2001-12-14'\n- 1:20\n- 'y'\n");

    /*
     * The writer keeps the reader's nesting limit, empty collections
     * included: 512 levels are written, 513 are refused instead of
     * written as a file that would not load again.
     */
    json_t *root = json_array(), *at = root;
    for (int i = 1; i < 512; i++) {
        json_t *inner = json_array();
        json_array_append_new(at, inner);
        at = inner;
    }
    out = dump(root);
    CHECK(out != NULL);
    json_t *back = out ? load(out) : NULL;
    CHECK(back && json_equal(back, root));
    json_decref(back);
    free(out);
    json_array_append_new(at, json_object()); /* an empty mapping at level 513 */
    CHECK(dump(root) == NULL);
    json_decref(root);
}

/* A JSON kubeconfig whose cluster "deep" holds an extension `levels` collections deep in all. */
static char *deep_kubeconfig(int levels)
{
    /* root, clusters, entry, cluster, extensions, item: the extension value is level 7 */
    int inner = levels - 6;
    char *open = repeat("[", (size_t)inner, "", 0), *close = repeat("]", (size_t)inner, "", 0);
    size_t size = strlen(open) * 2 + 200;
    char *text = malloc(size);
    snprintf(text, size,
             "{\"clusters\": [{\"name\": \"deep\", \"cluster\": {\"server\": \"https://d:1\", "
             "\"extensions\": [{\"name\": \"x\", \"extension\": %s%s}]}}]}",
             open, close);
    free(open);
    free(close);
    return text;
}

static void test_kubeconfig_depth(void)
{
    /*
     * JSON input may nest deeper than the YAML writer may write.  Such an
     * entry is refused at load, naming the entry, instead of failing at
     * save time after certificates were issued.
     */
    cce_error err = {0};
    char *text = deep_kubeconfig(513);
    cce_kubeconfig *kc = cce_kubeconfig_parse(text, strlen(text), "deep.json", &err);
    CHECK(kc == NULL);
    CHECK(err.message && strstr(err.message, "deep.json: cluster 'deep': clusters[0] is nested deeper than 512 levels"));
    cce_error_clear(&err);
    free(text);

    /* 512 levels load, are written, and load again. */
    text = deep_kubeconfig(512);
    kc = cce_kubeconfig_parse(text, strlen(text), "deep.json", &err);
    CHECK(kc != NULL);
    char *yaml = NULL;
    size_t len = 0;
    CHECK(kc && cce_kubeconfig_to_yaml(kc, &yaml, &len, &err) == 0);
    cce_kubeconfig *back = yaml ? cce_kubeconfig_parse(yaml, len, "again.yaml", &err) : NULL;
    CHECK(back != NULL);
    cce_kubeconfig_free(back);
    free(yaml);
    free(text);

    /* Setting an entry too deep is an error for that entry; the model stays as it was. */
    char *open = repeat("[", 520, "", 0), *close = repeat("]", 520, "", 0);
    size_t size = strlen(open) * 2 + 100;
    char *inner = malloc(size);
    snprintf(inner, size, "{\"extensions\": [{\"name\": \"x\", \"extension\": %s%s}]}", open, close);
    CHECK(kc && cce_kubeconfig_set_entry(kc, CCE_KC_USERS, "too-deep", inner, &err) < 0);
    CHECK(err.message && strstr(err.message, "user 'too-deep': user is nested deeper than 512 levels"));
    cce_error_clear(&err);
    CHECK(kc && cce_kubeconfig_find(kc, CCE_KC_USERS, "too-deep") < 0);
    /* ...and so is a field kubectl would refuse. */
    CHECK(kc && cce_kubeconfig_set_entry(kc, CCE_KC_USERS, "bad", "{\"exec\": {\"args\": \"x\"}}", &err) < 0);
    CHECK(err.message && strstr(err.message, "user 'bad': user.exec.args is a string"));
    cce_error_clear(&err);
    free(inner);
    free(open);
    free(close);
    cce_kubeconfig_free(kc);
}

/* ------------------------------------------------------------ empty */

static void test_empty(void)
{
    static const char *const nothing[] = {"", "\n", "   \n\n", "# just a comment\n", "---\n", "--- \n...\n",
                                          "~\n", "null"};
    for (size_t i = 0; i < sizeof nothing / sizeof nothing[0]; i++) {
        json_t *v = load(nothing[i]);
        CHECK(v && json_is_null(v));
        json_decref(v);
    }
    cce_error err = {0};
    json_t *v = cce_yaml_load(NULL, 0, NULL, &err);
    CHECK(v && json_is_null(v));
    json_decref(v);

    /* Only the first document counts. */
    v = load("a: 1\n---\nb: 2\n");
    json_t *want = json_pack("{s:i}", "a", 1);
    CHECK(v && json_equal(v, want));
    json_decref(v);
    json_decref(want);

    /* A bare scalar document. */
    v = load("--- hello\n");
    CHECK(v && json_is_string(v) && strcmp(json_string_value(v), "hello") == 0);
    json_decref(v);

    /* A UTF-8 byte order mark is accepted. */
    v = load("\xef\xbb\xbf" "a: 1\n");
    CHECK(v && json_integer_value(json_object_get(v, "a")) == 1);
    json_decref(v);

    /* CRLF line ends. */
    v = load("a: 1\r\nb:\r\n- x\r\n");
    want = json_pack("{s:i,s:[s]}", "a", 1, "b", "x");
    CHECK(v && json_equal(v, want));
    json_decref(v);
    json_decref(want);
}

/* Numbers use "." whatever LC_NUMERIC says (skipped if no comma locale is installed). */
static void test_locale(void)
{
    static const char *const names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8"};
    bool have = false;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !have; i++)
        have = setlocale(LC_NUMERIC, names[i]) != NULL;
    if (!have)
        return;
    json_t *v = load("a: 1.5\nb: -2e3\n");
    CHECK(v && json_real_value(json_object_get(v, "a")) == 1.5 &&
          json_real_value(json_object_get(v, "b")) == -2000.0);
    char *t = v ? dump(v) : NULL;
    CHECK_STR(t, "a: 1.5\nb: -2000.0\n");
    free(t);
    json_decref(v);
    setlocale(LC_NUMERIC, "C");
}

int main(void)
{
    test_kubeconfig();
    test_json_input();
    test_roundtrip();
    test_string_rendering();
    test_dump_layout();
    test_resolution();
    test_errors();
    test_anchors();
    test_limits();
    test_fidelity();
    test_kubeconfig_depth();
    test_empty();
    test_locale();
    printf("test_yaml: %d checks, %d failed\n", g_checks, g_failures);
    return g_failures ? 1 : 0;
}
