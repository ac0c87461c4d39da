/*
 * fuzz_clouds.c - clouds.yaml and secure.yaml text from anyone: cce_cloud_parse for the
 * cloud "otc" and for the clouds file's first cloud.  Never a crash or a leak; a refusal
 * is a one-line CONFIG (or NOMEM) error; an accepted entry has only non-empty strings, a
 * verify of -1, 0 or 1, and the secure file named only when it was given.
 * Input: byte 0 is the clouds text's length (mod what is left), then the clouds text,
 * then the secure text (none when empty).
 */
#include <jansson.h>
#include <string.h>

#include "cloudcfg.h"
#include "fuzz.h"
#include "internal.h"

static void check_str(const char *what, const char *s)
{
    if (s && !*s)
        FUZZ_FAIL("%s is an empty string (should be NULL)", what);
}

static void run(const char *ct, size_t cn, const char *st, size_t sn, const char *name)
{
    cce_cloud c;
    cce_error err = {0};
    int rc = cce_cloud_parse(ct, cn, "clouds.yaml", st, sn, "secure.yaml", name, &c, &err);
    if (rc == 0) {
        if (!c.file || strcmp(c.file, "clouds.yaml") != 0)
            FUZZ_FAIL("file is not clouds.yaml");
        if (c.secure_file && (!st || strcmp(c.secure_file, "secure.yaml") != 0))
            FUZZ_FAIL("secure_file set without a secure text");
        if (c.verify < -1 || c.verify > 1)
            FUZZ_FAIL("verify is %d", c.verify);
        const char *all[] = {c.auth_url, c.username, c.user_id, c.password, c.user_domain_name, c.passcode,
                             c.project_name, c.project_id, c.token, c.ak, c.sk, c.security_token,
                             c.region, c.cacert, c.cce_endpoint};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++)
            check_str("a field", all[i]);
        if (err.message)
            FUZZ_FAIL("success with an error message: %s", err.message);
    } else {
        if (rc != -1)
            FUZZ_FAIL("cce_cloud_parse returned %d", rc);
        if (err.kind != CCE_E_CONFIG && err.kind != CCE_E_NOMEM)
            FUZZ_FAIL("refused with kind %d", (int)err.kind);
        if (!err.message || strchr(err.message, '\n'))
            FUZZ_FAIL("refused without a one-line message");
        if (c.file || c.password || c.verify != -1)
            FUZZ_FAIL("a refused entry was left half-filled");
    }
    cce_cloud_clear(&c);
    cce_error_clear(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t cn = data[0] % size;
    const char *ct = (const char *)data + 1, *st = ct + cn;
    size_t sn = size - 1 - cn;
    run(ct, cn, sn ? st : NULL, sn, "otc");

    /* The first cloud's name, so that inputs which name their own cloud reach the keys too. */
    json_t *root = cce_yaml_load(ct, cn, "clouds.yaml", NULL);
    json_t *clouds = json_is_object(root) ? json_object_get(root, "clouds") : NULL;
    void *it = json_is_object(clouds) ? json_object_iter(clouds) : NULL;
    if (it) {
        const char *name = json_object_iter_key(it);
        if (*name && strlen(name) < 256)
            run(ct, cn, sn ? st : NULL, sn, name);
    }
    json_decref(root);
    return 0;
}
