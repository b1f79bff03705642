/* hermetic.c: linked into every unit test; clears the caller's environment of what could redirect a test. */
#include <stdlib.h>
#include <string.h>

extern char **environ;

/* A suite that needs a server names the variables it reads its coordinates
 * from (DATABASE_URL, AWS_ENDPOINT_URL_S3, ...) with SP_TEST_ENV_KEEP; every
 * other suite runs with none of them. Without this, a shell with PGHOST or
 * SEALPUB_STORE set sends a test's publishes somewhere the test does not
 * read back (issue 13); tests/unit/hostile_env.sh proves the suite passes
 * in such a shell. */
extern const char *const sp_test_env_keep[] __attribute__((weak));

static int kept(const char *name, size_t len)
{
    static const char *const always[] = {"SEALPUB_REQUIRE_SERVICES", NULL};
    for (const char *const *k = always; *k; k++)
        if (strlen(*k) == len && !strncmp(*k, name, len)) return 1;
    if (sp_test_env_keep)
        for (const char *const *k = sp_test_env_keep; *k; k++)
            if (strlen(*k) == len && !strncmp(*k, name, len)) return 1;
    return 0;
}

static int redirects(const char *name, size_t len)
{
    static const char *const prefixes[] = {"PG", "AWS_", "SEALPUB_", NULL};
    static const char *const exact[] = {"DATABASE_URL", "XDG_DATA_HOME", "SSL_CERT_FILE", "SSL_CERT_DIR",
                                        "CURL_CA_BUNDLE", "http_proxy", "https_proxy", "HTTP_PROXY",
                                        "HTTPS_PROXY", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy", NULL};
    for (const char *const *p = prefixes; *p; p++)
        if (len >= strlen(*p) && !strncmp(name, *p, strlen(*p))) return 1;
    for (const char *const *e = exact; *e; e++)
        if (strlen(*e) == len && !strncmp(*e, name, len)) return 1;
    return 0;
}

__attribute__((constructor)) static void sp_test_clear_env(void)
{
    /* Collect first: unsetenv reshuffles environ under the loop. */
    char names[256][128];
    size_t n = 0;
    for (char **e = environ; e && *e && n < 256; e++) {
        const char *eq = strchr(*e, '=');
        size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
        if (len < sizeof(names[0]) && redirects(*e, len) && !kept(*e, len)) {
            memcpy(names[n], *e, len);
            names[n++][len] = '\0';
        }
    }
    for (size_t i = 0; i < n; i++) unsetenv(names[i]);
}
