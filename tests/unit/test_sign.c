/* test_sign.c - SDK-HMAC-SHA256 against the three test vectors of shared CCE_API.md. */
#include <string.h>

#include "check.h"
#include "internal.h"

static void test_vector_vpcs(void)
{
    const cce_sign_header h[] = {{"Content-Type", "application/json"},
                                 {"Host", "service.region.example.com"},
                                 {"X-Sdk-Date", "20191115T033655Z"}};
    cce_sign_result r;
    cce_error e = {0};
    CHECK(cce_sign_request("GET",
                           "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs?limit=2&marker=13551d6b-755d-4757-b956-536f674975c0",
                           h, 3, "", 0, "AK123", "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc", &r, &e) == 0);
    CHECK_STR(r.canonical_hash, "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a");
    CHECK_STR(r.signature, "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe");
    CHECK_STR(r.authorization, "SDK-HMAC-SHA256 Access=AK123, SignedHeaders=content-type;host;x-sdk-date, "
                               "Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe");
    /* The order the headers come in and the case of their names do not matter. */
    const cce_sign_header h2[] = {{"x-sdk-date", "20191115T033655Z"},
                                  {"HOST", " service.region.example.com "},
                                  {"content-type", "application/json"}};
    cce_sign_result r2;
    CHECK(cce_sign_request("GET",
                           "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs?marker=13551d6b-755d-4757-b956-536f674975c0&limit=2",
                           h2, 3, NULL, 0, "AK123", "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc", &r2, &e) == 0);
    CHECK_STR(r2.signature, r.signature);
}

static void test_vector_get_path(void)
{
    const cce_sign_header h[] = {{"X-Sdk-Date", "20060102T150405Z"}};
    cce_sign_result r;
    CHECK(cce_sign_request("GET", "/path?limit=1", h, 1, "", 0, "AK", "SecretKey", &r, NULL) == 0);
    CHECK_STR(r.signature, "5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624");
}

static void test_vector_post_body(void)
{
    const cce_sign_header h[] = {{"X-Sdk-Date", "20060102T150405Z"}};
    const char *body = "{\"Name\":\"test\",\"Id\":1}\n";
    cce_sign_result r;
    CHECK(cce_sign_request("POST", "/path?key=value", h, 1, body, strlen(body), "AK", "SecretKey", &r, NULL) == 0);
    CHECK_STR(r.signature, "cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59");
    /* Any change to what is signed changes the signature. */
    cce_sign_result r2;
    CHECK(cce_sign_request("POST", "/path?key=value", h, 1, body, strlen(body) - 1, "AK", "SecretKey", &r2, NULL) == 0);
    CHECK(strcmp(r.signature, r2.signature) != 0);
    CHECK(cce_sign_request("POST", "/path?key=value", h, 1, body, strlen(body), "AK", "SecretKeY", &r2, NULL) == 0);
    CHECK(strcmp(r.signature, r2.signature) != 0);
}

static void test_refusals(void)
{
    const cce_sign_header nodate[] = {{"Host", "x"}};
    cce_sign_result r;
    cce_error e = {0};
    CHECK(cce_sign_request("GET", "/p", nodate, 1, NULL, 0, "AK", "SK", &r, &e) == -1);
    CHECK_STR(e.code, "INVALID_ARGUMENT");
    CHECK_CONTAINS(e.message, "X-Sdk-Date");
    CHECK(strstr(e.message, "SK") == NULL || strstr(e.message, "an SK") != NULL); /* names the need, never the key */
    const cce_sign_header h[] = {{"X-Sdk-Date", "20060102T150405Z"}};
    CHECK(cce_sign_request("GET", "/p", h, 1, NULL, 0, "AK", "", &r, &e) == -1);
    CHECK(cce_sign_request("GET", "no-slash", h, 1, NULL, 0, "AK", "SK", &r, &e) == -1);
    cce_error_clear(&e);
}

int main(void)
{
    test_vector_vpcs();
    test_vector_get_path();
    test_vector_post_body();
    test_refusals();
    return check_report("test_sign");
}
