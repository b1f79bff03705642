/* journal.c: the local recovery journal (journal.h), replayed by 'sealpub db recover'. */

/*
 * Why a journal: publish overwrites the object of an identity before it
 * writes the row (the key layout is fixed), so a republish whose row cannot
 * be written leaves the old row naming an object that no longer matches it.
 * The new key must then survive somewhere durable until the registry is
 * back. The entry is written just before the store commits the object and
 * removed once the row is committed, so a publish killed in between also
 * leaves it. An entry whose object was never committed, or was replaced
 * since, is recognised at replay by the object's header (its random
 * artifact id) and dropped.
 *
 * Format: one "field=value" line per row column plus "store=". Every value
 * comes from a restricted alphabet (names, hex, base64, a store description
 * without newlines), so no escaping is needed; anything else is refused.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "registry/journal.h"

sp_status sp_journal_dir(char *out, size_t cap, sp_error *err)
{
    const char *env = getenv("SEALPUB_RECOVERY_DIR");
    if (env && !*env) return sp_fail(err, SP_ERR_USAGE, "SEALPUB_RECOVERY_DIR is set but empty: unset it or give a folder");
    if (env) {
        if (sp_strlcpy(out, env, cap) != 0) return sp_fail(err, SP_ERR_USAGE, "SEALPUB_RECOVERY_DIR is too long");
    } else {
        char home[SP_OBJECT_KEY_MAX];
        SP_TRY(sp_default_home(home, sizeof(home), err));
        if (snprintf(out, cap, "%s/recovery", home) >= (int)cap)
            return sp_fail(err, SP_ERR_USAGE, "recovery folder path too long");
    }
    if (mkdir(out, 0700) != 0 && errno != EEXIST)
        return sp_fail(err, SP_ERR_IO, "cannot create the recovery folder %s: %s", out, strerror(errno));
    return SP_OK;
}

static int clean_value(const char *v)
{
    for (; *v; v++)
        if (*v == '\n' || *v == '\r') return 0;
    return 1;
}

sp_status sp_journal_write(const sp_row *row, const char *store_desc, char *path, size_t cap, sp_error *err)
{
    char dir[SP_OBJECT_KEY_MAX], tmp[SP_OBJECT_KEY_MAX + 64];
    SP_TRY(sp_journal_dir(dir, sizeof(dir), err));
    if (!clean_value(store_desc) || !clean_value(row->object_key))
        return sp_fail(err, SP_ERR_INTERNAL, "journal: a value holds a line break");
    if (snprintf(path, cap, "%s/%s.row", dir, row->artifact_id) >= (int)cap)
        return sp_fail(err, SP_ERR_USAGE, "recovery journal path too long");
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    char buf[4096];
    size_t n = (size_t)snprintf(buf, sizeof(buf), "sealpub-recovery=1\n");
    for (int i = 0; i < SP_ROW_WRITTEN && n < sizeof(buf); i++) {
        const sp_row_column *c = &sp_row_columns[i];
        const void *v = sp_row_ctext(row, c);
        if (c->cap) n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s=%s\n", c->name, (const char *)v);
        else n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s=%" PRIu64 "\n", c->name, *(const uint64_t *)v);
    }
    if (n < sizeof(buf)) n += (size_t)snprintf(buf + n, sizeof(buf) - n, "store=%s\n", store_desc);
    if (n >= sizeof(buf)) return sp_fail(err, SP_ERR_INTERNAL, "journal entry too long");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return sp_fail(err, SP_ERR_IO, "cannot write the recovery journal %s: %s", tmp, strerror(errno));
    int ok = write(fd, buf, n) == (ssize_t)n && fsync(fd) == 0;
    int e = errno;
    close(fd);
    OPENSSL_cleanse(buf, sizeof(buf));
    if (!ok || rename(tmp, path) != 0) {
        if (ok) e = errno;
        unlink(tmp);
        return sp_fail(err, SP_ERR_IO, "cannot write the recovery journal %s: %s", path, strerror(e));
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return SP_OK;
}

static sp_status field(const char *line, const char *name, char *dst, size_t cap, int *hit, sp_error *err)
{
    size_t n = strlen(name);
    if (strncmp(line, name, n) != 0 || line[n] != '=') return SP_OK;
    *hit = 1;
    if (sp_strlcpy(dst, line + n + 1, cap) != 0) return sp_fail(err, SP_ERR_FORMAT, "journal field %s too long", name);
    return SP_OK;
}

sp_status sp_journal_read(const char *path, sp_row *row, char *store_desc, size_t cap, sp_error *err)
{
    memset(row, 0, sizeof(*row));
    store_desc[0] = '\0';
    FILE *f = fopen(path, "re");
    if (!f) return sp_fail(err, SP_ERR_IO, "cannot read the recovery journal %s: %s", path, strerror(errno));
    char line[2048], num[32];
    int magic = 0;
    sp_status s = SP_OK;
    unsigned fields = 0;
    while (s == SP_OK && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        int hit = 0;
        if (strcmp(line, "sealpub-recovery=1") == 0) magic = 1;
        s = field(line, "store", store_desc, cap, &hit, err);
        for (int i = 0; i < SP_ROW_WRITTEN && s == SP_OK && !hit; i++) {
            const sp_row_column *c = &sp_row_columns[i];
            if (c->cap) {
                s = field(line, c->name, sp_row_text(row, c), c->cap, &hit, err);
            } else {
                s = field(line, c->name, num, sizeof(num), &hit, err);
                if (s == SP_OK && hit) *sp_row_u64(row, c) = strtoull(num, NULL, 10);
            }
        }
        fields += (unsigned)hit;
    }
    OPENSSL_cleanse(line, sizeof(line));
    fclose(f);
    if (s == SP_OK && (!magic || fields < 14 || !row->object_key[0] || !row->artifact_id[0]))
        s = sp_fail(err, SP_ERR_FORMAT, "%s is not a complete sealpub recovery journal entry", path);
    if (s != SP_OK) OPENSSL_cleanse(row, sizeof(*row));
    return s;
}

void sp_journal_remove(const char *path)
{
    if (path && *path) unlink(path);
}
