/*
 * fuzz_iam.c - IAM's answers from a broken or hostile server: a login's 2xx
 * answer (cce_iam_login_answer: the X-Subject-Token header and the body, with and
 * without the catalog wanted) and a project listing (cce_iam_projects_answer).
 * The input's first line is the header's value, the rest the body.  Never a
 * crash; a token that is accepted could go into a header line, an expiry is
 * set, a catalog endpoint is https; every accepted project id is an id.
 */
#include <string.h>

#include "fuzz.h"
#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nl = memchr(text, '\n', size);
    size_t tlen = nl ? (size_t)(nl - text) : size;
    const char *body = nl ? nl + 1 : "";
    size_t blen = nl ? size - tlen - 1 : 0;

    for (int catalog = 0; catalog <= 1; catalog++) {
        cce_iam_answer a;
        cce_error err = {0};
        if (cce_iam_login_answer(body, blen, text, tlen, catalog ? "eu-de" : NULL, &a, "IAM login", &err) == 0) {
            if (!a.token || strlen(a.token) != tlen || a.expires_at <= 0)
                FUZZ_FAIL("a login answer was accepted without a token or an expiry");
            for (const char *p = a.token; *p; p++)
                if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
                    FUZZ_FAIL("a token with a byte a header cannot carry was accepted");
            if (a.project_id && !cce_id_valid(a.project_id))
                FUZZ_FAIL("a project id that is no id was accepted");
            if (a.cce_endpoint && strncmp(a.cce_endpoint, "https://", 8) != 0)
                FUZZ_FAIL("a catalog endpoint that is not https was accepted");
            if (!catalog && a.cce_endpoint)
                FUZZ_FAIL("an endpoint was read though no catalog was wanted");
            cce_iam_answer_clear(&a);
        } else if (!err.message) {
            FUZZ_FAIL("a login answer was refused without a message");
        }
        cce_error_clear(&err);
    }

    cce_project *list;
    size_t n;
    cce_error err = {0};
    if (cce_iam_projects_answer(text, size, &list, &n, &err) == 0) {
        for (size_t i = 0; i < n; i++)
            if (!list[i].id || !cce_id_valid(list[i].id) || !list[i].name)
                FUZZ_FAIL("a project without a valid id or a name was accepted");
        cce_projects_free(list, n);
    } else if (!err.message) {
        FUZZ_FAIL("a project listing was refused without a message");
    }
    cce_error_clear(&err);
    return 0;
}
