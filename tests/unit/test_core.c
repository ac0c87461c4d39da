/* test_core.c - validation, error reading, retry policy, client configuration, response model. */
#include <curl/curl.h>
#include <signal.h>
#include <stdlib.h>

#include "check.h"
#include "http.h"
#include "internal.h"

static void resp_set(cce_http_resp *r, long status, const char *ctype, const char *rid, const char *body)
{
    cce_http_resp_reset(r);
    r->status = status;
    snprintf(r->content_type, sizeof r->content_type, "%s", ctype ? ctype : "");
    snprintf(r->request_id, sizeof r->request_id, "%s", rid ? rid : "");
    if (body)
        cce_buf_puts(&r->body, body);
}

static void test_validation(void)
{
    CHECK(cce_id_valid("3f6c2a4e-1b2c-11ee-9b0a-0255ac100b02"));
    CHECK(cce_id_valid("abc"));
    CHECK(!cce_id_valid(""));
    CHECK(!cce_id_valid(NULL));
    CHECK(!cce_id_valid("../x"));
    CHECK(!cce_id_valid("a/b"));
    CHECK(!cce_id_valid("a?b=1"));
    CHECK(!cce_id_valid("a%2fb"));
    CHECK(!cce_id_valid("a b"));
    CHECK(!cce_id_valid("a\nb"));
    CHECK(cce_duration_valid(1));
    CHECK(cce_duration_valid(1825));
    CHECK(cce_duration_valid(-1));
    CHECK(!cce_duration_valid(0));
    CHECK(!cce_duration_valid(1826));
    CHECK(!cce_duration_valid(-2));
}

static void test_error_bodies(void)
{
    cce_http_resp r = {0};
    cce_error e = {0};

    /* The Status format: error_code wins over errorCode, error_msg over errorMessage, message appended. */
    resp_set(&r, 400, "application/json", "req-1",
             "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"code\":400,"
             "\"errorCode\":\"CCE.01400001\",\"errorMessage\":\"Invalid request.\",\"error_code\":\"CCE_CM.0004\","
             "\"error_msg\":\"Request is invalid\",\"message\":\"not support this version v1.9.2-r2\",\"reason\":\"BadRequest\"}");
    cce_error_from_response(&r, "clustercert x", &e);
    CHECK_STR(e.code, "CCE_CM.0004");
    CHECK(e.status == 400);
    CHECK_STR(e.request_id, "req-1");
    CHECK_CONTAINS(e.message, "clustercert x: HTTP 400 Bad Request: Request is invalid (not support this version v1.9.2-r2)");

    resp_set(&r, 401, "application/json", NULL, "{\"errorMessage\": \"Authorization failed.\", \"errorCode\": \"CCE.01401001\"}");
    cce_error_from_response(&r, "list clusters", &e);
    CHECK_STR(e.code, "CCE.01401001");
    CHECK_CONTAINS(e.message, "HTTP 401 Unauthorized: Authorization failed.");
    CHECK_STR(e.request_id, "");

    resp_set(&r, 403, "application/json", "hdr-id",
             "{\"error_code\": \"CCE_CM.0201\", \"error_msg\": \"Request body invalid\", "
             "\"message\": \"Need authorize CCE to operate user resources\", \"errorCode\": \"E.CFE.4000201\"}");
    cce_error_from_response(&r, "list clusters", &e);
    CHECK_STR(e.code, "CCE_CM.0201");
    CHECK_CONTAINS(e.message, "Request body invalid (Need authorize CCE to operate user resources)");

    /* APIG: the request id comes from the body when the header is absent. */
    resp_set(&r, 404, "application/json", NULL,
             "{\"error_msg\": \"The API does not exist or has not been published in the environment\", "
             "\"error_code\": \"APIG.0101\", \"request_id\": \"body-rid\"}");
    cce_error_from_response(&r, "list clusters", &e);
    CHECK_STR(e.code, "APIG.0101");
    CHECK_STR(e.request_id, "body-rid");
    /* ... and the header wins when both are there. */
    resp_set(&r, 404, "application/json", "header-rid",
             "{\"error_msg\": \"x\", \"error_code\": \"APIG.0101\", \"request_id\": \"body-rid\"}");
    cce_error_from_response(&r, "list clusters", &e);
    CHECK_STR(e.request_id, "header-rid");

    /* "message" alone is the message. */
    resp_set(&r, 409, "application/json", NULL, "{\"message\": \"conflict here\"}");
    cce_error_from_response(&r, "w", &e);
    CHECK_STR(e.code, "HTTP_409");
    CHECK_CONTAINS(e.message, "HTTP 409 Conflict: conflict here");

    /* A proxy's HTML page still names the status. */
    resp_set(&r, 502, "text/html", NULL, "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>");
    cce_error_from_response(&r, "list clusters", &e);
    CHECK_STR(e.code, "HTTP_502");
    CHECK(e.status == 502);
    CHECK_CONTAINS(e.message, "HTTP 502 Bad Gateway");
    CHECK_CONTAINS(e.message, "text/html");

    resp_set(&r, 503, "", NULL, NULL);
    cce_error_from_response(&r, "list clusters", &e);
    CHECK_STR(e.code, "HTTP_503");
    CHECK_CONTAINS(e.message, "HTTP 503 Service Unavailable (empty body)");

    /* JSON that is not an object, and an object with no known field. */
    resp_set(&r, 500, "application/json", NULL, "[1,2]");
    cce_error_from_response(&r, "w", &e);
    CHECK_STR(e.code, "HTTP_500");
    resp_set(&r, 500, "application/json", NULL, "{\"foo\": 1}");
    cce_error_from_response(&r, "w", &e);
    CHECK_STR(e.code, "HTTP_500");
    CHECK_CONTAINS(e.message, "not an API error");

    cce_error_from_transport(CURLE_PEER_FAILED_VERIFICATION, "SSL certificate problem", NULL, "list clusters", &e);
    CHECK_STR(e.code, "TLS");
    CHECK_CONTAINS(e.message, "list clusters: SSL certificate problem");
    cce_error_from_transport(CURLE_OPERATION_TIMEDOUT, "", NULL, "w", &e);
    CHECK_STR(e.code, "TIMEOUT");
    cce_error_from_transport(CURLE_COULDNT_CONNECT, "", NULL, "w", &e);
    CHECK_STR(e.code, "CONNECT");
    cce_error_from_transport(CURLE_FILESIZE_EXCEEDED, "", NULL, "w", &e);
    CHECK_STR(e.code, "TOO_LARGE");

    cce_error_clear(&e);
    cce_http_resp_free(&r);
}

static cce_client *make_client(int retries, long backoff_ms, long max_backoff_ms)
{
    cce_client_opts o = {0};
    o.project_id = "p1";
    o.token = "secret-token";
    o.endpoint = "https://127.0.0.1:1";
    o.retries = retries;
    o.backoff_ms = backoff_ms;
    o.max_backoff_ms = max_backoff_ms;
    return cce_client_new(&o, NULL);
}

static void test_retry_policy(void)
{
    cce_client *c = make_client(3, 100, 1000);
    const char *why;
    CHECK(c != NULL);
    /* Never on client errors. */
    CHECK(cce_retry_delay_ms(c, 0, CURLE_OK, 400, -1, &why) < 0);
    CHECK(cce_retry_delay_ms(c, 0, CURLE_OK, 401, -1, &why) < 0);
    CHECK(cce_retry_delay_ms(c, 0, CURLE_OK, 403, -1, &why) < 0);
    CHECK(cce_retry_delay_ms(c, 0, CURLE_OK, 404, -1, &why) < 0);
    CHECK(cce_retry_delay_ms(c, 0, CURLE_OK, 500, -1, &why) < 0);
    /* Never on TLS verification failures or timeouts. */
    CHECK(cce_retry_delay_ms(c, 0, CURLE_PEER_FAILED_VERIFICATION, 0, -1, &why) < 0);
    CHECK(cce_retry_delay_ms(c, 0, CURLE_OPERATION_TIMEDOUT, 0, -1, &why) < 0);
    /* Transient ones, with backoff growing within [d/2, d]. */
    for (int i = 0; i < 50; i++) {
        long d0 = cce_retry_delay_ms(c, 0, CURLE_OK, 503, -1, &why);
        long d1 = cce_retry_delay_ms(c, 1, CURLE_RECV_ERROR, 0, -1, &why);
        long d2 = cce_retry_delay_ms(c, 2, CURLE_OK, 502, -1, &why);
        CHECK(d0 >= 50 && d0 <= 100);
        CHECK(d1 >= 100 && d1 <= 200);
        CHECK(d2 >= 200 && d2 <= 400);
    }
    CHECK(cce_retry_delay_ms(c, 0, CURLE_GOT_NOTHING, 0, -1, &why) >= 0);
    CHECK(cce_retry_delay_ms(c, 0, CURLE_PARTIAL_FILE, 0, -1, &why) >= 0);
    CHECK(cce_retry_delay_ms(c, 0, CURLE_OK, 504, -1, &why) >= 0);
    /* The budget ends. */
    CHECK(cce_retry_delay_ms(c, 3, CURLE_OK, 503, -1, &why) < 0);
    /* Retry-After is honoured exactly (plus at most backoff/4 of jitter) ... */
    long d = cce_retry_delay_ms(c, 0, CURLE_OK, 429, 700, &why);
    CHECK(d >= 700 && d <= 725);
    /* ... and one past the cap ends the retries with a reason. */
    CHECK(cce_retry_delay_ms(c, 0, CURLE_OK, 429, 5000, &why) < 0);
    CHECK(why != NULL);
    cce_client_free(c);

    c = make_client(0, 0, 0); /* 0 = default: 4 retries */
    CHECK(cce_retry_delay_ms(c, 3, CURLE_OK, 503, -1, &why) >= 0);
    CHECK(cce_retry_delay_ms(c, 4, CURLE_OK, 503, -1, &why) < 0);
    cce_client_free(c);
    c = make_client(-1, 0, 0); /* -1 = none */
    CHECK(cce_retry_delay_ms(c, 0, CURLE_OK, 503, -1, &why) < 0);
    cce_client_free(c);
}

static void test_attempt_outcome(void)
{
    cce_client *c = make_client(2, 100, 1000);
    cce_http_resp r = {0};
    cce_error e = {0};
    long delay = -1;
    resp_set(&r, 200, "application/json", NULL, "{}");
    CHECK(cce_http_outcome(c, 0, CURLE_OK, &r, "", "w", -1, &delay, &e) == 0);
    resp_set(&r, 503, "application/json", NULL, NULL);
    CHECK(cce_http_outcome(c, 0, CURLE_OK, &r, "", "w", -1, &delay, &e) == 1);
    CHECK(delay >= 50 && delay <= 100);
    /* a retry that would end past the deadline is final, and says so */
    CHECK(cce_http_outcome(c, 0, CURLE_OK, &r, "", "w", 10, &delay, &e) == -1);
    CHECK_STR(e.code, "HTTP_503");
    CHECK_CONTAINS(e.message, "(the deadline would pass before the next attempt)");
    /* out of retries */
    CHECK(cce_http_outcome(c, 2, CURLE_OK, &r, "", "w", -1, &delay, &e) == -1);
    r.too_large = 1;
    CHECK(cce_http_outcome(c, 0, CURLE_WRITE_ERROR, &r, "", "w", -1, &delay, &e) == -1);
    CHECK_STR(e.code, "TOO_LARGE");
    resp_set(&r, 0, "", NULL, NULL);
    CHECK(cce_http_outcome(c, 0, CURLE_RECV_ERROR, &r, "Connection reset", "w", -1, &delay, &e) == 1);
    CHECK(cce_http_outcome(c, 0, CURLE_PEER_FAILED_VERIFICATION, &r, "bad cert", "w", -1, &delay, &e) == -1);
    CHECK_STR(e.code, "TLS");
    CHECK_CONTAINS(e.message, "w: bad cert");
    cce_error_clear(&e);
    cce_http_resp_free(&r);
    cce_client_free(c);
}

/* The hosts of CCE_API.md's table: CCE only where documented, IAM by OTC's pattern but eu-ch2's own. */
static void test_region_hosts(void)
{
    char *s;
    CHECK_STR((s = cce_auth_region_cce("eu-de")), "https://cce.eu-de.otc.t-systems.com");
    free(s);
    CHECK_STR((s = cce_auth_region_cce("eu-nl")), "https://cce.eu-nl.otc.t-systems.com");
    free(s);
    CHECK(cce_auth_region_cce("eu-ch2") == NULL);
    CHECK(cce_auth_region_cce("xx-nowhere") == NULL);
    CHECK_STR((s = cce_auth_region_iam("eu-ch2")), "https://iam-pub.eu-ch2.sc.otc.t-systems.com/v3");
    free(s);
    CHECK_STR((s = cce_auth_region_iam("eu-de")), "https://iam.eu-de.otc.t-systems.com/v3");
    free(s);
    CHECK_STR((s = cce_auth_region_iam("xx-nowhere")), "https://iam.xx-nowhere.otc.t-systems.com/v3");
    free(s);
    CHECK(!cce_region_valid("eu_de") && !cce_region_valid("") && cce_region_valid("eu-ch2"));
}

static void test_client_config(void)
{
    cce_error e = {0};
    cce_client_opts o = {0};
    CHECK(cce_client_new(&o, &e) == NULL);
    CHECK_STR(e.code, "CONFIG");
    CHECK_CONTAINS(e.message, "no credentials");
    CHECK_CONTAINS(e.message, "OS_AUTH_TOKEN");
    CHECK_CONTAINS(e.message, "OS_CLOUD");

    o.token = "tok-very-secret";
    o.endpoint = "https://127.0.0.1:8443";
    CHECK(cce_client_new(&o, &e) == NULL);
    CHECK_CONTAINS(e.message, "OS_PROJECT_ID");
    o.endpoint = NULL;

    o.project_id = "p1";
    CHECK(cce_client_new(&o, &e) == NULL);
    CHECK_CONTAINS(e.message, "region");
    /* A region outside the table has no CCE host to guess. */
    o.region = "xx-nowhere";
    CHECK(cce_client_new(&o, &e) == NULL);
    CHECK_CONTAINS(e.message, "no CCE endpoint is known for region 'xx-nowhere'");
    o.region = NULL;

    o.endpoint = "http://127.0.0.1:8080";
    CHECK(cce_client_new(&o, &e) == NULL);
    CHECK_CONTAINS(e.message, "not an https:// URL");
    CHECK(strstr(e.message, "tok-very-secret") == NULL);

    o.endpoint = NULL;
    o.region = "eu-de/../x";
    CHECK(cce_client_new(&o, &e) == NULL);
    o.region = "eu-de";
    o.project_id = "p/../1";
    CHECK(cce_client_new(&o, &e) == NULL);
    CHECK_CONTAINS(e.message, "project id");
    o.project_id = "p1";
    o.token = "tok\r\nX-Evil: 1";
    CHECK(cce_client_new(&o, &e) == NULL);
    o.token = "tok";
    o.ca_file = "/nonexistent/ca.pem";
    CHECK(cce_client_new(&o, &e) == NULL);
    CHECK_CONTAINS(e.message, "/nonexistent/ca.pem");
    o.ca_file = NULL;

    cce_client *c = cce_client_new(&o, &e);
    CHECK(c != NULL);
    if (c) {
        CHECK_STR(cce_client_endpoint(c), "https://cce.eu-de.otc.t-systems.com");
        CHECK_STR(cce_client_region(c), "eu-de");
    }
    cce_client_free(c);
    o.endpoint = "https://127.0.0.1:8443///";
    c = cce_client_new(&o, &e);
    CHECK(c && strcmp(cce_client_endpoint(c), "https://127.0.0.1:8443") == 0);
    cce_client_free(c);
    cce_client_free(NULL);

    /* Refused before any request: the endpoint does not exist, so a sent request would say CONNECT. */
    o.retries = -1;
    c = cce_client_new(&o, &e);
    CHECK(cce_clustercert(c, "abc", 0, &e) == NULL);
    CHECK_STR(e.code, "INVALID_ARGUMENT");
    CHECK_CONTAINS(e.message, "duration 0");
    CHECK(cce_clustercert(c, "a/b", 30, &e) == NULL);
    CHECK_STR(e.code, "INVALID_ARGUMENT");
    cce_cluster cl;
    CHECK(cce_cluster_get(c, "x?y", &cl, &e) < 0);
    CHECK_STR(e.code, "INVALID_ARGUMENT");
    cce_client_stats st;
    cce_client_stats_get(c, &st);
    CHECK(st.requests == 0);
    cce_client_free(c);
    cce_error_clear(&e);
}

static void test_cluster_shapes(void)
{
    cce_cluster cl;
    cce_error e = {0};
    const char *otc = "{\"kind\":\"Cluster\",\"metadata\":{\"name\":\"prod-a\",\"uid\":\"u-1\"},"
                      "\"spec\":{\"type\":\"VirtualMachine\",\"flavor\":\"cce.s1.small\",\"version\":\"v1.28.3-r0\"},"
                      "\"status\":{\"phase\":\"Available\",\"endpoints\":{\"internal\":\"https://10.0.0.1:5443\","
                      "\"external\":\"https://80.158.1.2:5443\",\"external_otc\":\"https://u-1.cce.eu-de.otc.t-systems.com\"}}}";
    CHECK(cce_cluster_parse(otc, strlen(otc), &cl, &e) == 0);
    CHECK_STR(cl.id, "u-1");
    CHECK_STR(cl.name, "prod-a");
    CHECK_STR(cl.phase, "Available");
    CHECK_STR(cl.version, "v1.28.3-r0");
    CHECK_STR(cl.endpoint_internal, "https://10.0.0.1:5443");
    CHECK_STR(cl.endpoint_external, "https://80.158.1.2:5443");
    CHECK_CONTAINS(cl.raw_json, "\"external_otc\"");
    cce_cluster_clear(&cl);

    const char *hw = "{\"metadata\":{\"name\":\"b\",\"uid\":\"u-2\"},\"status\":{\"phase\":\"Creating\",\"endpoints\":["
                     "{\"url\":\"https://10.0.0.2:5443\",\"type\":\"Internal\"}]}}";
    CHECK(cce_cluster_parse(hw, strlen(hw), &cl, &e) == 0);
    CHECK_STR(cl.endpoint_internal, "https://10.0.0.2:5443");
    CHECK(cl.endpoint_external == NULL);
    CHECK(cl.version == NULL);
    cce_cluster_clear(&cl);

    CHECK(cce_cluster_parse("{\"metadata\":{}}", 15, &cl, &e) < 0);
    CHECK_CONTAINS(e.message, "metadata.uid");
    CHECK(cce_cluster_parse("{", 1, &cl, &e) < 0);
    CHECK_STR(e.code, "PARSE");
    cce_error_clear(&e);
}

#define PARSE(lit, src, e) cce_kubeconfig_parse(lit, strlen(lit), src, e)

static void test_response_model(void)
{
    const char *resp =
        "{\"kind\": \"Config\", \"apiVersion\": \"v1\", \"preferences\": {},"
        " \"clusters\": [{\"name\": \"internalCluster\", \"cluster\": {\"server\": \"https://192.168.1.7:5443\","
        "   \"certificate-authority-data\": \"Q0E=\"}},"
        "  {\"name\": \"externalCluster\", \"cluster\": {\"server\": \"https://80.1.1.1:5443\","
        "   \"certificate-authority-data\": \"Q0E=\", \"insecure-skip-tls-verify\": true}}],"
        " \"users\": [{\"name\": \"user\", \"user\": {\"client-certificate-data\": \"Y2VydA==\", \"client-key-data\": \"a2V5\"}}],"
        " \"contexts\": [{\"name\": \"internal\", \"context\": {\"cluster\": \"internalCluster\", \"user\": \"user\"}},"
        "   {\"name\": \"external\", \"context\": {\"cluster\": \"externalCluster\", \"user\": \"user\"}}],"
        " \"current-context\": \"external\"}";
    cce_error e = {0};
    cce_kubeconfig *kc = cce_kubeconfig_parse(resp, strlen(resp), "<response>", &e);
    CHECK(kc != NULL);
    if (!kc)
        return;
    CHECK_STR(cce_kubeconfig_current_context(kc), "external");
    CHECK(cce_kubeconfig_count(kc, CCE_KC_CLUSTERS) == 2);
    CHECK(cce_kubeconfig_count(kc, CCE_KC_USERS) == 1);
    CHECK(cce_kubeconfig_count(kc, CCE_KC_CONTEXTS) == 2);
    CHECK_STR(cce_kubeconfig_name(kc, CCE_KC_CONTEXTS, 1), "external");
    /* The CCE quirk: CA kept, insecure flag dropped. */
    char *j = cce_kubeconfig_entry_json(kc, CCE_KC_CLUSTERS, 1);
    CHECK_CONTAINS(j, "certificate-authority-data");
    CHECK(strstr(j, "insecure-skip-tls-verify") == NULL);
    free(j);
    char *y = NULL;
    size_t n = 0;
    CHECK(cce_kubeconfig_to_yaml(kc, &y, &n, &e) == 0);
    CHECK_CONTAINS(y, "apiVersion: v1\nclusters:\n- cluster:\n");
    CHECK_CONTAINS(y, "current-context: external\nkind: Config\npreferences: {}\nusers:\n- name: user\n");
    /* The YAML reads back to the same model. */
    cce_kubeconfig *kc2 = cce_kubeconfig_parse(y, n, "<yaml>", &e);
    CHECK(kc2 != NULL);
    char *a = NULL, *b = NULL;
    cce_kubeconfig_to_json(kc, 0, &a, NULL, &e);
    if (kc2)
        cce_kubeconfig_to_json(kc2, 0, &b, NULL, &e);
    CHECK_STR(a, b);
    free(a);
    free(b);
    free(y);
    cce_kubeconfig_free(kc2);
    cce_kubeconfig_free(kc);

    /* Wrong kind, bad sections, and errors that name the place. */
    CHECK(PARSE("{\"kind\": \"Pod\"}", "f.json", &e) == NULL);
    CHECK_CONTAINS(e.message, "f.json: kind is 'Pod'");
    CHECK(PARSE("{\"clusters\": 3}", "f.json", &e) == NULL);
    CHECK_CONTAINS(e.message, "f.json: clusters is a number, where kubectl reads only a list");
    CHECK(PARSE("{\"clusters\": [{\"cluster\": {}}, {\"cluster\": {}}]}", "f.json", &e) == NULL);
    CHECK_CONTAINS(e.message, "clusters[0] and clusters[1] are both named ''");
    CHECK(PARSE("{\n  \"kind\": \"Config\",\n  oops\n}", "f.json", &e) == NULL);
    CHECK_CONTAINS(e.message, "f.json:3:");
    /* An empty document is an empty config. */
    kc = PARSE("", "empty", &e);
    CHECK(kc && cce_kubeconfig_count(kc, CCE_KC_CONTEXTS) == 0 && cce_kubeconfig_current_context(kc) == NULL);
    cce_kubeconfig_free(kc);
    cce_error_clear(&e);
}

static int log_seen[8];

static void capture_log(void *ud, int level, const char *line)
{
    (void)ud;
    (void)line;
    if (level >= 0 && level < 8)
        log_seen[level]++;
}

/* 0 is "default", so every level, error included, can be chosen. */
static void test_log_levels(void)
{
    CHECK(CCE_LOG_DEFAULT == 0);
    CHECK(cce_log_level_parse("error") == CCE_LOG_ERROR);
    CHECK(cce_log_level_parse("ERROR") == CCE_LOG_ERROR);
    CHECK(cce_log_level_parse("warn") == CCE_LOG_WARN);
    CHECK(cce_log_level_parse("warning") == CCE_LOG_WARN);
    CHECK(cce_log_level_parse("trace") == CCE_LOG_TRACE);
    CHECK(cce_log_level_parse("0") == CCE_LOG_ERROR); /* CCEAUTO_LOG digits count from error */
    CHECK(cce_log_level_parse("1") == CCE_LOG_WARN);
    CHECK(cce_log_level_parse("4") == CCE_LOG_TRACE);
    CHECK(cce_log_level_parse("5") == -1);
    CHECK(cce_log_level_parse("") == -1);
    CHECK(cce_log_level_parse(NULL) == -1);
    CHECK(cce_log_level_parse("loud") == -1);

    cce_client_opts o = {0};
    o.project_id = "p1";
    o.token = "tok";
    o.region = "eu-de";
    o.log = capture_log;
    o.log_level = CCE_LOG_ERROR;
    cce_error e = {0};
    cce_client *c = cce_client_new(&o, &e);
    CHECK(c != NULL);
    memset(log_seen, 0, sizeof log_seen);
    cce_log(c, CCE_LOG_ERROR, "e");
    cce_log(c, CCE_LOG_WARN, "w");
    CHECK(log_seen[CCE_LOG_ERROR] == 1);
    CHECK(log_seen[CCE_LOG_WARN] == 0);
    cce_client_free(c);

    o.log_level = CCE_LOG_DEFAULT; /* warn */
    c = cce_client_new(&o, &e);
    memset(log_seen, 0, sizeof log_seen);
    cce_log(c, CCE_LOG_WARN, "w");
    cce_log(c, CCE_LOG_INFO, "i");
    CHECK(log_seen[CCE_LOG_WARN] == 1);
    CHECK(log_seen[CCE_LOG_INFO] == 0);
    cce_client_free(c);
}

static int has_control(const char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || ((unsigned char)*s == 0xc2 && (unsigned char)s[1] >= 0x80 &&
                                                      (unsigned char)s[1] <= 0x9f))
            return 1;
    return 0;
}

/* Server text never reaches a terminal raw: error bodies, header values, names. */
static void test_control_characters_escaped(void)
{
    char out[64];
    cce_escape_control("a\tb\x7f\x1b[2J\xc2\x9b" "1m\n", out, sizeof out);
    CHECK_STR(out, "a\\tb\\x7f\\x1b[2J\\u009b1m\\n");
    cce_escape_control("caf\xc3\xa9 \xe2\x82\xac", out, sizeof out); /* other UTF-8 is kept */
    CHECK_STR(out, "caf\xc3\xa9 \xe2\x82\xac");
    cce_escape_control("x\x9b" "2J \xe2\x82 \xff\xc2", out, sizeof out); /* bytes that are not UTF-8 */
    CHECK_STR(out, "x\\x9b2J \\xe2\\x82 \\xff\\xc2");
    cce_escape_control("ab\x1b", out, 5); /* an escape that does not fit is left out whole */
    CHECK_STR(out, "ab");

    cce_http_resp r = {0};
    cce_error e = {0};
    resp_set(&r, 404, "text/x\x1b[8m", "rid\x1b[2J",
             "{\"error_code\":\"CCE.01\\u001b[31m\",\"error_msg\":\"bad \\u001b]0;pwned\\u0007 name\\nnext \\u009b\","
             "\"message\":\"\\r\"}");
    cce_error_from_response(&r, "clustercert x", &e);
    CHECK(!has_control(e.message));
    CHECK(!has_control(e.code));
    CHECK(!has_control(e.request_id));
    CHECK_CONTAINS(e.message, "bad \\x1b]0;pwned\\x07 name\\nnext \\u009b (\\r)");
    CHECK_STR(e.code, "CCE.01\\x1b[31m");
    CHECK_STR(e.request_id, "rid\\x1b[2J");
    resp_set(&r, 502, "text/html\x1b[8m", NULL, "<html>");
    cce_error_from_response(&r, "list clusters", &e);
    CHECK(!has_control(e.message));
    CHECK_CONTAINS(e.message, "text/html\\x1b[8m");
    cce_error_from_transport(CURLE_RECV_ERROR, "peer said \x1b[1mhi", NULL, "w", &e);
    CHECK_CONTAINS(e.message, "peer said \\x1b[1mhi");
    cce_set_error_code(&e, CCE_E_SERVICE, "X\n", 0, "cluster '%s' clashes", "evil\x1b]52;c;AAAA\x07");
    CHECK_STR(e.code, "X\\n");
    CHECK_STR(e.message, "cluster 'evil\\x1b]52;c;AAAA\\x07' clashes");
    cce_error_clear(&e);
    cce_http_resp_free(&r);
}

static void check_redact(const char *line, const char *token, const char *want)
{
    cce_buf b = {0};
    cce_redact_line(line, strlen(line), token, &b);
    CHECK_STR(b.data, want);
    cce_buf_free(&b);
}

/* Every form curl's trace shows a secret in (HTTP/1.1 headers, HTTP/2 info text). */
static void test_trace_redaction(void)
{
    const char *tok = "MIIsecretTOKEN42";
    check_redact("X-Auth-Token: MIIsecretTOKEN42\r\n", tok, "X-Auth-Token: <redacted>");
    check_redact("x-auth-token:MIIsecretTOKEN42", NULL, "x-auth-token: <redacted>");
    check_redact("[HTTP/2] [1] [x-auth-token: MIIsecretTOKEN42]", NULL, "[HTTP/2] [1] [x-auth-token: <redacted>]");
    check_redact("[HTTP/2] [1] [X-Security-Token: zz] [:path: /api/v3]", NULL,
                 "[HTTP/2] [1] [X-Security-Token: <redacted>] [:path: /api/v3]");
    check_redact("h2h3 [authorization: Bearer abc", NULL, "h2h3 [authorization: <redacted>]");
    check_redact("Authorization: Bearer abc", NULL, "Authorization: <redacted>");
    check_redact("Set-Cookie: s=1; HttpOnly", NULL, "Set-Cookie: <redacted>");
    check_redact("X-Subject-Token: t", NULL, "X-Subject-Token: <redacted>");
    check_redact("some future form token=MIIsecretTOKEN42 and MIIsecretTOKEN42", tok,
                 "some future form token=<redacted> and <redacted>");
    check_redact("Content-Type: application/json", tok, "Content-Type: application/json");
    check_redact("[HTTP/2] [1] [:method: POST]", tok, "[HTTP/2] [1] [:method: POST]");
    check_redact("Connected to 127.0.0.1 (127.0.0.1) port 8443 (#0)\n", tok,
                 "Connected to 127.0.0.1 (127.0.0.1) port 8443 (#0)");
}

static int raise_term_once(void *ud, const cce_batch_progress *p)
{
    (void)p;
    int *raised = ud;
    if (!(*raised)++)
        raise(SIGTERM);
    return 0;
}

/* A batch stopped by a signal does not stop the next one, with or without stop_on_signals. */
static void test_batch_after_interrupted(void)
{
    cce_client_opts o = {0};
    o.project_id = "p1";
    o.token = "tok";
    o.endpoint = "https://127.0.0.1:1"; /* nothing listens: CONNECT, quickly */
    o.retries = -1;
    cce_error e = {0};
    cce_client *c = cce_client_new(&o, &e);
    CHECK(c != NULL);
    cce_batch_item items[3];
    memset(items, 0, sizeof items);
    for (int i = 0; i < 3; i++) {
        items[i].client = c;
        items[i].cluster_id = "abc";
        items[i].days = 1;
    }
    int raised = 0;
    cce_batch_opts bo = {0};
    bo.concurrency = 1;
    bo.stop_on_signals = 1;
    bo.progress = raise_term_once;
    bo.progress_ud = &raised;
    cce_batch_stats st;
    CHECK(cce_clustercert_batch(items, 3, &bo, &st) == -1); /* and the process is still alive */
    CHECK(st.interrupted == 1);
    CHECK_STR(items[2].err.code, "INTERRUPTED");
    CHECK_CONTAINS(items[2].err.message, "by SIGTERM");
    CHECK(st.requests == 1); /* the one started before the signal; none after */
    for (int i = 0; i < 3; i++)
        cce_error_clear(&items[i].err);

    cce_batch_opts plain = {0};
    CHECK(cce_clustercert_batch(items, 3, &plain, &st) == 0);
    CHECK(st.interrupted == 0);
    for (int i = 0; i < 3; i++) {
        CHECK_STR(items[i].err.code, "CONNECT");
        cce_error_clear(&items[i].err);
    }
    bo.progress = NULL;
    CHECK(cce_clustercert_batch(items, 3, &bo, &st) == 0);
    CHECK(st.interrupted == 0);
    CHECK(st.requests == 3);
    for (int i = 0; i < 3; i++)
        cce_error_clear(&items[i].err);
    cce_client_free(c);
}

/* One table of error kinds: names as the codes scripts compare, every kind described. */
static void test_error_kinds(void)
{
    CHECK_STR(cce_error_kind_name(CCE_E_IO), "IO");
    CHECK_STR(cce_error_kind_name(CCE_E_BAD_RESPONSE), "BAD_RESPONSE");
    CHECK_STR(cce_error_kind_name(CCE_E_NONE), "");
    CHECK_STR(cce_error_kind_name((cce_error_kind)999), "");
    for (int k = CCE_E_NONE + 1; k < CCE_E_COUNT_; k++) {
        CHECK(*cce_error_kind_name((cce_error_kind)k) != '\0');
        CHECK(strlen(cce_error_kind_describe((cce_error_kind)k)) > 10);
    }
    cce_error e = {0};
    cce_set_error(&e, CCE_E_LOCKED, 0, "held by %d", 7);
    CHECK(e.kind == CCE_E_LOCKED);
    CHECK_STR(e.code, "LOCKED");
    CHECK_STR(e.message, "held by 7");
    cce_http_resp r = {0};
    resp_set(&r, 404, "application/json", NULL, "{\"error_code\":\"CCE.01404001\",\"error_msg\":\"gone\"}");
    cce_error_from_response(&r, "get", &e);
    CHECK(e.kind == CCE_E_SERVICE);
    CHECK_STR(e.code, "CCE.01404001");
    resp_set(&r, 418, "text/plain", NULL, "");
    cce_error_from_response(&r, "get", &e);
    CHECK(e.kind == CCE_E_HTTP);
    CHECK_STR(e.code, "HTTP_418");
    cce_error_from_transport(CURLE_OPERATION_TIMEDOUT, NULL, NULL, "get", &e);
    CHECK(e.kind == CCE_E_TIMEOUT);
    CHECK_STR(e.code, "TIMEOUT");
    cce_error_clear(&e);
    cce_http_resp_free(&r);
}

int main(void)
{
    unsetenv("CCE_ENDPOINT");
    test_validation();
    test_error_bodies();
    test_retry_policy();
    test_attempt_outcome();
    test_region_hosts();
    test_client_config();
    test_cluster_shapes();
    test_response_model();
    test_log_levels();
    test_control_characters_escaped();
    test_error_kinds();
    test_trace_redaction();
    test_batch_after_interrupted();
    return check_report("test_core");
}
