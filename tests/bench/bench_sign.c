/*
 * bench_sign.c - what AK/SK signing costs per request (issue 8: under 20 µs).
 *
 * Times the headers of one clustercert request as a transfer gets them
 * (cce_auth_headers: Content-Type, Host, X-Sdk-Date, X-Project-Id, the
 * SDK-HMAC-SHA256 signature), against the same call for a token client
 * (the X-Auth-Token header alone) in the same run as the baseline.  CPU time,
 * the median of RUNS rounds.  Prints figures; judges nothing.
 *
 * usage: bench_sign [N per round, default 200000] [RUNS, default 5]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median µs per request of `n` header sets for client c. */
static double round_us(cce_client *c, long n, int runs)
{
    static const char *url = "https://cce.eu-de.otc.t-systems.com/api/v3/projects/0123456789abcdef0123456789abcdef/"
                             "clusters/4b6b0b0e-5c6f-11ee-8c99-0242ac120002/clustercert";
    double t[32];
    for (int r = 0; r < runs; r++) {
        double t0 = cpu_now();
        for (long i = 0; i < n; i++) {
            unsigned gen;
            cce_error err = {0};
            struct curl_slist *h = cce_auth_headers(c, "POST", url, "{\"duration\": 30}", 0, &gen, &err);
            if (!h) {
                fprintf(stderr, "bench_sign: %s\n", err.message ? err.message : "failed");
                exit(1);
            }
            cce_headers_free(h);
        }
        t[r] = (cpu_now() - t0) / (double)n * 1e6;
    }
    qsort(t, (size_t)runs, sizeof *t, cmp);
    return t[runs / 2];
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    if (n <= 0 || runs <= 0 || runs > 31) {
        fprintf(stderr, "usage: bench_sign [N > 0] [RUNS 1..31]\n");
        return 2;
    }
    cce_client_opts o;
    memset(&o, 0, sizeof o);
    o.region = "eu-de";
    o.project_id = "0123456789abcdef0123456789abcdef";
    o.ak = "QTWAOYTTINDUT2QVKYUC";
    o.sk = "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc";
    cce_error err = {0};
    cce_client *aksk = cce_client_new(&o, &err);
    o.ak = o.sk = NULL;
    o.token = "MIIEhQYJKoZIhvcNAQcCoIIEdjCCBHICAQExDTALBglghkgBZQMEAgEwggLrBgkqhkiG9w0BBwGgggLcBIIC2HsidG9rZW4iOnsi";
    cce_client *tok = cce_client_new(&o, &err);
    if (!aksk || !tok) {
        fprintf(stderr, "bench_sign: %s\n", err.message ? err.message : "no client");
        return 1;
    }
    double base = round_us(tok, n, runs), sign = round_us(aksk, n, runs);
    printf("request headers, CPU µs per request (median of %d rounds of %ld):\n", runs, n);
    printf("  token (X-Auth-Token)          %6.2f µs   baseline\n", base);
    printf("  AK/SK (SDK-HMAC-SHA256)       %6.2f µs   %.1fx the baseline; target < 20 µs\n", sign,
           base > 0 ? sign / base : 0);
    cce_client_free(aksk);
    cce_client_free(tok);
    return 0;
}
