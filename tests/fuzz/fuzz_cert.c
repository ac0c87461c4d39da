/*
 * fuzz_cert.c - certificate bytes as kubeconfigs and answers carry them: PEM, DER, or
 * base64 of either (the *-data fields), through cce_cert_parse.  Never a crash; what is
 * accepted is a sane description.
 */
#include <string.h>

#include "cce.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cce_cert_info info;
    cce_error err = { 0 };
    if (cce_cert_parse(data, size, &info, &err) == 0) {
        if (memchr(info.subject, 0, sizeof info.subject) == NULL || memchr(info.issuer, 0, sizeof info.issuer) == NULL ||
            memchr(info.serial, 0, sizeof info.serial) == NULL || memchr(info.sha256, 0, sizeof info.sha256) == NULL)
            FUZZ_FAIL("a field of the description is not terminated");
        if (strlen(info.sha256) != 95)
            FUZZ_FAIL("fingerprint '%s' is not 32 hex pairs", info.sha256);
    } else if (!err.message || !err.code[0]) {
        FUZZ_FAIL("a refusal without a message");
    }
    cce_error_clear(&err);
    return 0;
}
