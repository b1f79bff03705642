/* aws_config_file.c: a bounded reader of the AWS shared credentials/config INI files, one profile at a time. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "store/aws_config_file.h"

typedef struct entry {
    char key[96];    /* "region", "s3.addressing_style" */
    const char *val; /* into one of the file texts */
    int from_credentials;
} entry;

struct sp_aws_profile {
    char name[128];
    char *text[2]; /* secret copies of the two files, NUL-separated in place */
    size_t text_cap[2];
    entry e[SP_AWS_PROFILE_ENTRIES_MAX];
    size_t n;
};

static sp_status read_file(const char *path, char **out, size_t *cap, int *exists, sp_error *err)
{
    *out = NULL;
    *exists = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT || errno == ENOTDIR) return SP_OK;
        return sp_fail(err, SP_ERR_USAGE, "cannot read AWS file %.300s: %s", path, strerror(errno));
    }
    *exists = 1;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || (size_t)sb.st_size >= SP_AWS_FILE_MAX) {
        fclose(f);
        return sp_fail(err, SP_ERR_USAGE, "AWS file %.300s is not a regular file under 1 MiB", path);
    }
    size_t n = (size_t)sb.st_size;
    char *t = sp_secret_alloc(n + 2);
    if (!t) {
        fclose(f);
        return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    }
    size_t got = fread(t, 1, n, f);
    fclose(f);
    t[got] = '\0';
    *out = t;
    *cap = n + 2;
    return SP_OK;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = '\0';
    return s;
}

static void put(sp_aws_profile *p, const char *key, const char *val, int from_credentials)
{
    /* Credentials-file values win over config-file ones; within a file the
     * last assignment wins, as in the AWS CLI. */
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->e[i].key, key) != 0) continue;
        if (p->e[i].from_credentials && !from_credentials) return;
        p->e[i].val = val;
        p->e[i].from_credentials = from_credentials;
        return;
    }
    if (p->n == SP_AWS_PROFILE_ENTRIES_MAX) return;
    snprintf(p->e[p->n].key, sizeof(p->e[p->n].key), "%s", key);
    p->e[p->n].val = val;
    p->e[p->n].from_credentials = from_credentials;
    p->n++;
}

/* Parses text in place, keeping the keys of the wanted section. Returns 1
 * if the section was present. */
static int parse(sp_aws_profile *p, char *text, int is_credentials, const char *path, sp_status *bad, sp_error *err)
{
    int in = 0, found = 0, line_no = 0;
    char sub[48] = ""; /* the nested section ("s3") being read, or "" */
    char *line = text;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        line_no++;
        int indented = line[0] == ' ' || line[0] == '\t';
        char *l = trim(line);
        char *next = nl ? nl + 1 : NULL;
        if (!*l || *l == '#' || *l == ';') {
            line = next;
            continue;
        }
        if (*l == '[') {
            char *close = strchr(l, ']');
            if (!close) {
                *bad = sp_fail(err, SP_ERR_USAGE, "%.300s line %d: section header without ']'", path, line_no);
                return 0;
            }
            *close = '\0';
            char *name = trim(l + 1);
            in = 0;
            sub[0] = '\0';
            if (is_credentials) {
                in = strcmp(name, p->name) == 0;
            } else if (!strncmp(name, "profile", 7) && (name[7] == ' ' || name[7] == '\t')) {
                in = strcmp(trim(name + 8), p->name) == 0;
            } else {
                in = strcmp(p->name, "default") == 0 && strcmp(name, "default") == 0;
            }
            found |= in;
            line = next;
            continue;
        }
        if (!in) {
            line = next;
            continue;
        }
        char *eq = strchr(l, '=');
        if (!eq) {
            *bad = sp_fail(err, SP_ERR_USAGE, "%.300s line %d: expected 'name = value'", path, line_no);
            return 0;
        }
        *eq = '\0';
        char *k = trim(l), *v = trim(eq + 1);
        for (char *c = k; *c; c++)
            if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
        if (indented && sub[0]) {
            char full[96];
            snprintf(full, sizeof(full), "%s.%s", sub, k);
            put(p, full, v, is_credentials);
        } else if (!*v && strlen(k) < sizeof(sub)) {
            /* "s3 =" opens a nested section of indented lines. */
            snprintf(sub, sizeof(sub), "%s", k);
        } else {
            sub[0] = '\0';
            put(p, k, v, is_credentials);
        }
        line = next;
    }
    return found;
}

static const char *home_path(const sp_creds_env *env, const char *var, const char *rel, char *buf, size_t cap)
{
    const char *v = sp_creds_getenv(env, var);
    if (v) return v;
    const char *home = sp_creds_getenv(env, "HOME");
    if (!home) return NULL;
    snprintf(buf, cap, "%s/%s", home, rel);
    return buf;
}

sp_status sp_aws_profile_load(const sp_creds_env *env, const char *name, sp_aws_profile **out, sp_error *err)
{
    *out = NULL;
    if (!name) name = env->profile[0] ? env->profile : "default";
    if (strlen(name) >= sizeof(((sp_aws_profile *)0)->name))
        return sp_fail(err, SP_ERR_USAGE, "AWS profile name too long");
    sp_aws_profile *p = calloc(1, sizeof(*p));
    if (!p) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    snprintf(p->name, sizeof(p->name), "%s", name);
    char b1[1024], b2[1024];
    const char *paths[2] = {home_path(env, "AWS_CONFIG_FILE", ".aws/config", b1, sizeof(b1)),
                            home_path(env, "AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials", b2, sizeof(b2))};
    int found = 0;
    sp_status s = SP_OK;
    /* Config first, then credentials, whose values win. */
    for (int i = 0; i < 2 && s == SP_OK; i++) {
        if (!paths[i]) continue;
        int exists;
        s = read_file(paths[i], &p->text[i], &p->text_cap[i], &exists, err);
        if (s == SP_OK && p->text[i]) found |= parse(p, p->text[i], i == 1, paths[i], &s, err);
    }
    if (s == SP_OK && !found)
        s = sp_fail(err, SP_ERR_NOT_FOUND, "no profile '%.100s' in %.300s or %.300s", name,
                    paths[1] ? paths[1] : "(no HOME)", paths[0] ? paths[0] : "(no HOME)");
    if (s != SP_OK) {
        sp_aws_profile_free(p);
        return s;
    }
    *out = p;
    return SP_OK;
}

const char *sp_aws_profile_get(const sp_aws_profile *p, const char *key)
{
    if (!p) return NULL;
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->e[i].key, key)) return p->e[i].val[0] ? p->e[i].val : NULL;
    return NULL;
}

const char *sp_aws_profile_name(const sp_aws_profile *p) { return p->name; }

void sp_aws_profile_free(sp_aws_profile *p)
{
    if (!p) return;
    for (int i = 0; i < 2; i++)
        if (p->text[i]) sp_secret_free(p->text[i], p->text_cap[i]);
    free(p);
}
