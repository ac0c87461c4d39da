/*
 * cloudcfg.h - the OpenStack clouds.yaml (+ secure.yaml) reader: the entry a
 * user names with `cloud = NAME` / OS_CLOUD, as the credential sources of
 * issue 8 need it.  Not installed; the client (core/client.c) turns a
 * cce_cloud into its options.
 */
#ifndef CCE_CLOUDCFG_H
#define CCE_CLOUDCFG_H

#include <stddef.h>

#include "cce.h"

/*
 * Every string is heap-allocated, non-empty, or NULL when not set (an empty
 * string in the file counts as not set).
 */
typedef struct cce_cloud {
    char *file;          /* the clouds.yaml the entry came from */
    char *secure_file;   /* the secure.yaml merged over it, NULL if none */
    char *auth_url, *username, *user_id, *password, *user_domain_name, *passcode,
         *project_name, *project_id, *token, *ak, *sk, *security_token,
         *region, *cacert, *cce_endpoint;
    int verify;          /* -1 not set, 0 verify: false, 1 verify: true */
} cce_cloud;

/*
 * Finds and reads the entry `name`; 0, or -1 with err->kind CCE_E_CONFIG (and
 * *out cleared).  The clouds file is the first that exists of:
 * $OS_CLIENT_CONFIG_FILE (when set it must exist), ./clouds.{yaml,yml,json},
 * ${XDG_CONFIG_HOME:-$HOME/.config}/openstack/clouds.{yaml,yml,json},
 * /etc/openstack/clouds.{yaml,yml,json}; only that one is read, files are
 * not merged across places.  The secure file likewise: $OS_CLIENT_SECURE_FILE
 * (when set it must exist), else the first secure.{yaml,yml,json} of the same
 * places; its `clouds.NAME` is merged over the clouds file's entry key by key
 * (recursively in mappings), and a key it has (even empty or null) replaces
 * the clouds file's.  A cloud only in the secure file is not found.
 *
 * Read from `clouds.NAME`: auth.{auth_url, username, user_id, password,
 * user_domain_name (else domain_name), passcode, project_name, project_id,
 * token, ak, sk, security_token}; ak, sk, security_token also at the top
 * level, where `auth:` wins when both are set; access_key / secret_key are
 * synonyms of ak / sk (ak, sk win when both are set); region_name, cacert,
 * verify (a boolean), cce_endpoint_override.  Other keys are ignored.  A YAML
 * number where a string is expected becomes its text as written (password:
 * 0123 is "0123", not octal 83; a 32-digit id keeps its digits), or its
 * decimal text when reached through an alias; a boolean, sequence or mapping
 * there is an error naming the file, cloud and key.  A cloud called no, on,
 * y... (keys YAML 1.1 reads as booleans) is found by that name.  No message
 * ever carries a value read from the files (the YAML reader's quoted scalars
 * are replaced by "a value").
 */
int cce_cloud_load(const char *name, cce_cloud *out, cce_error *err);

/*
 * What cce_cloud_load does once the files are found: clouds_text (n bytes,
 * named clouds_file in messages) and secure_text (sn bytes, named
 * secure_file; NULL when there is no secure file).
 */
int cce_cloud_parse(const char *clouds_text, size_t n, const char *clouds_file, const char *secure_text, size_t sn,
                    const char *secure_file, const char *name, cce_cloud *out, cce_error *err);

/* Frees every string after OPENSSL_cleanse()-ing it, and zeroes *c (verify -1).  NULL-safe. */
void cce_cloud_clear(cce_cloud *c);

#endif
