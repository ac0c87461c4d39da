/*
 * embed_fetch.c - using libcceauto from C, no Lua involved.
 *
 *   cc embed_fetch.c -lcceauto $(pkg-config --libs libcurl yaml-0.1 jansson libcrypto)
 *   OS_PROJECT_ID=... OS_AUTH_TOKEN=... OS_REGION_NAME=eu-de ./embed_fetch CLUSTER_ID [DAYS]
 *
 * Lists the project's clusters on stderr and prints the kubeconfig of one as YAML.
 */
#include <cce.h>
#include <stdio.h>
#include <stdlib.h>

static int fail(cce_error *err)
{
    fprintf(stderr, "embed_fetch: %s: %s\n", err->code, err->message ? err->message : "error");
    cce_error_clear(err);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CLUSTER_ID [DAYS]\n", argv[0]);
        return 2;
    }
    cce_error err = {0};
    cce_client_opts opts = {0};
    cce_client_opts_from_env(&opts); /* OS_PROJECT_ID, OS_AUTH_TOKEN, OS_REGION_NAME, CCE_ENDPOINT, OS_CACERT */
    cce_client *c = cce_client_new(&opts, &err);
    if (!c)
        return fail(&err);

    cce_cluster *list;
    size_t n;
    if (cce_clusters_list(c, &list, &n, &err) < 0) {
        cce_client_free(c);
        return fail(&err);
    }
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%-12s %-12s %s\n", list[i].name, list[i].phase, list[i].id);
    cce_clusters_free(list, n);

    cce_kubeconfig *kc = cce_clustercert(c, argv[1], argc > 2 ? atol(argv[2]) : 30, &err);
    cce_client_free(c);
    if (!kc)
        return fail(&err);
    char *yaml;
    size_t len;
    if (cce_kubeconfig_to_yaml(kc, &yaml, &len, &err) < 0) {
        cce_kubeconfig_free(kc);
        return fail(&err);
    }
    fwrite(yaml, 1, len, stdout);
    free(yaml);
    cce_kubeconfig_free(kc);
    return 0;
}
