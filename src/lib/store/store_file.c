/* store_file.c: the local-directory store: temp file, fsync, rename on commit, unlink on abort. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

typedef struct file_store {
    char root[PATH_MAX];
} file_store;

/* Dirty pages are handed to the disk every WRITEBACK_STEP bytes while the
 * pipeline still computes, so the fsync at commit finds little left to do
 * (on a 190 MB/s disk a 300 MB object otherwise waits ~1.6 s at the end);
 * the range two steps back is waited for, which bounds dirty memory. */
#define WRITEBACK_STEP ((uint64_t)8 << 20)

struct sp_upload {
    int fd;
    uint64_t written, flushed;
    char tmp[PATH_MAX];
    char final[PATH_MAX];
    int create_only; /* link() instead of rename(): an existing object is never replaced */
};

static void fs_put_create_only(sp_upload *up) { up->create_only = 1; }

/* link() fails with EEXIST where rename() would replace: create-only is exact here. */
static sp_status fs_probe_create_only(void *impl, int *supported, sp_error *err)
{
    (void)impl;
    (void)err;
    *supported = 1;
    return SP_OK;
}

static sp_status mkdirs_for(const char *path, sp_error *err)
{
    char buf[PATH_MAX];
    sp_strlcpy(buf, path, sizeof(buf));
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return sp_fail(err, SP_ERR_STORE, "cannot create %s: %s", buf, strerror(errno));
        *p = '/';
    }
    return SP_OK;
}

/* Keys come from validated names, but the store does not rely on that. */
static sp_status object_path(file_store *fs, const char *key, char *out, size_t cap, sp_error *err)
{
    if (!*key || key[0] == '/' || strstr(key, "..") || strstr(key, "//"))
        return sp_fail(err, SP_ERR_USAGE, "invalid object key '%.200s'", key);
    int n = snprintf(out, cap, "%s/%s", fs->root, key);
    if (n < 0 || (size_t)n >= cap) return sp_fail(err, SP_ERR_USAGE, "object path too long");
    return SP_OK;
}

static sp_status fsync_parent(const char *path, sp_error *err)
{
    char dir[PATH_MAX];
    sp_strlcpy(dir, path, sizeof(dir));
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return sp_fail(err, SP_ERR_STORE, "cannot open %s: %s", dir, strerror(errno));
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? SP_OK : sp_fail(err, SP_ERR_STORE, "fsync %s: %s", dir, strerror(errno));
}

static sp_status fs_put_begin(void *impl, const char *key, uint64_t size_hint, sp_upload **out, sp_error *err)
{
    file_store *fs = impl;
    sp_upload *up = calloc(1, sizeof(*up));
    if (!up) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    sp_status s = object_path(fs, key, up->final, sizeof(up->final), err);
    if (s == SP_OK) s = mkdirs_for(up->final, err);
    if (s != SP_OK) {
        free(up);
        return s;
    }
    /* The temp name lives beside the final one so rename is atomic, and
     * starts with a dot so listings of published objects never show it. */
    char *slash = strrchr(up->final, '/');
    snprintf(up->tmp, sizeof(up->tmp), "%.*s/.%s.XXXXXX", (int)(slash - up->final), up->final, slash + 1);
    up->fd = mkostemp(up->tmp, O_CLOEXEC);
    if (up->fd < 0) {
        s = sp_fail(err, SP_ERR_STORE, "cannot create %s: %s", up->tmp, strerror(errno));
        free(up);
        return s;
    }
    (void)size_hint;
    *out = up;
    return SP_OK;
}

static sp_status fs_put_write(sp_upload *up, const void *buf, size_t len, sp_error *err)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = write(up->fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return sp_fail(err, SP_ERR_STORE, "write %s: %s", up->tmp, n < 0 ? strerror(errno) : "no progress");
        p += n;
        len -= (size_t)n;
        up->written += (uint64_t)n;
    }
    while (up->written - up->flushed >= WRITEBACK_STEP) {
        /* Advisory: a filesystem without it still gets the fsync at commit. */
        (void)sync_file_range(up->fd, (off_t)up->flushed, (off_t)WRITEBACK_STEP, SYNC_FILE_RANGE_WRITE);
        if (up->flushed >= 2 * WRITEBACK_STEP)
            (void)sync_file_range(up->fd, (off_t)(up->flushed - 2 * WRITEBACK_STEP), (off_t)WRITEBACK_STEP,
                                  SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
        up->flushed += WRITEBACK_STEP;
    }
    return SP_OK;
}

static void fs_put_abort(sp_upload *up)
{
    if (!up) return;
    if (up->fd >= 0) close(up->fd);
    unlink(up->tmp);
    free(up);
}

static sp_status fs_put_commit(sp_upload *up, sp_error *err)
{
    struct stat sb;
    sp_status s = SP_OK;
    if (fsync(up->fd) != 0)
        s = sp_fail(err, SP_ERR_STORE, "fsync %s: %s", up->tmp, strerror(errno));
    else if (fstat(up->fd, &sb) != 0 || (uint64_t)sb.st_size != up->written)
        s = sp_fail(err, SP_ERR_STORE, "%s: size after write is not the %llu bytes written", up->tmp,
                    (unsigned long long)up->written);
    else if (up->create_only && link(up->tmp, up->final) != 0)
        s = errno == EEXIST ? sp_fail(err, SP_ERR_EXISTS,
                                      "an object already exists at %s (written outside sealpub's claim?); nothing was "
                                      "replaced",
                                      up->final)
                            : sp_fail(err, SP_ERR_STORE, "link to %s: %s", up->final, strerror(errno));
    else if (up->create_only)
        unlink(up->tmp);
    else if (rename(up->tmp, up->final) != 0)
        s = sp_fail(err, SP_ERR_STORE, "rename to %s: %s", up->final, strerror(errno));
    if (s != SP_OK) {
        fs_put_abort(up);
        return s;
    }
    close(up->fd);
    s = fsync_parent(up->final, err);
    free(up);
    return s;
}

static sp_status fs_stat(void *impl, const char *key, uint64_t *size, sp_error *err)
{
    char path[PATH_MAX];
    struct stat sb;
    SP_TRY(object_path(impl, key, path, sizeof(path), err));
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT) return sp_fail(err, SP_ERR_NOT_FOUND, "no object %s", path);
        return sp_fail(err, SP_ERR_STORE, "stat %s: %s", path, strerror(errno));
    }
    *size = (uint64_t)sb.st_size;
    return SP_OK;
}

static sp_status fs_read_range(void *impl, const char *key, uint64_t off, void *buf, size_t len, sp_error *err)
{
    char path[PATH_MAX];
    SP_TRY(object_path(impl, key, path, sizeof(path), err));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sp_fail(err, errno == ENOENT ? SP_ERR_NOT_FOUND : SP_ERR_STORE, "open %s: %s", path, strerror(errno));
    size_t done = 0;
    sp_status s = SP_OK;
    while (done < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { s = sp_fail(err, SP_ERR_STORE, "read %s: %s", path, strerror(errno)); break; }
        if (n == 0) { s = sp_fail(err, SP_ERR_TRUNCATED, "%s ends before byte %llu", path, (unsigned long long)(off + len)); break; }
        done += (size_t)n;
    }
    close(fd);
    return s;
}

static sp_status fs_remove(void *impl, const char *key, sp_error *err)
{
    char path[PATH_MAX];
    SP_TRY(object_path(impl, key, path, sizeof(path), err));
    if (unlink(path) != 0 && errno != ENOENT) return sp_fail(err, SP_ERR_STORE, "delete %s: %s", path, strerror(errno));
    return SP_OK;
}

/* A writer's temp file: ".NAME.XXXXXX" (fs_put_begin), six characters
 * from mkostemp's alphabet after the last dot. */
static int is_temp_name(const char *n)
{
    size_t len = strlen(n);
    if (n[0] != '.' || len < 9 || n[len - 7] != '.') return 0;
    for (size_t i = len - 6; i < len; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return 0;
    }
    return 1;
}

typedef struct sweep {
    time_t cutoff;
    unsigned removed;
    sp_error *err;
} sweep;

/* Removes the temp files under dir that a killed publish left behind (a
 * SIGKILL never reaches fs_put_abort); symbolic links are not followed,
 * and the depth is bounded because keys have a few segments at most. */
static sp_status sweep_dir(const char *dir, int depth, sweep *w)
{
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? SP_OK : sp_fail(w->err, SP_ERR_STORE, "cannot list %s: %s", dir, strerror(errno));
    sp_status s = SP_OK;
    struct dirent *e;
    while (s == SP_OK && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path)) continue;
        struct stat sb;
        if (lstat(path, &sb) != 0) continue; /* gone meanwhile */
        if (S_ISDIR(sb.st_mode) && depth < 32) s = sweep_dir(path, depth + 1, w);
        else if (S_ISREG(sb.st_mode) && is_temp_name(e->d_name) && sb.st_mtime <= w->cutoff) {
            if (unlink(path) == 0) w->removed++;
            else if (errno != ENOENT) s = sp_fail(w->err, SP_ERR_STORE, "delete %s: %s", path, strerror(errno));
        }
    }
    closedir(d);
    return s;
}

/* A temp file still being written is younger than older_than_seconds (its
 * mtime moves with every write), so a running publish is never touched. */
static sp_status fs_cleanup(void *impl, long older_than_seconds, unsigned *removed, sp_error *err)
{
    file_store *fs = impl;
    sweep w = {time(NULL) - older_than_seconds, 0, err};
    sp_status s = sweep_dir(fs->root, 0, &w);
    *removed = w.removed;
    return s;
}

static void fs_close(void *impl) { free(impl); }

static const sp_store_ops file_ops = {
    .scheme = "file",
    .put_begin = fs_put_begin,
    .put_write = fs_put_write,
    .put_commit = fs_put_commit,
    .put_create_only = fs_put_create_only,
    .probe_create_only = fs_probe_create_only,
    .put_abort = fs_put_abort,
    .stat = fs_stat,
    .read_range = fs_read_range,
    .remove = fs_remove,
    .cleanup = fs_cleanup,
    .close = fs_close,
};

sp_status sp_store_file_open(const char *dir, sp_store *st, sp_error *err)
{
    if (!dir || dir[0] != '/')
        return sp_fail(err, SP_ERR_USAGE, "store folder '%.200s' must be an absolute path (file:///DIR)", dir ? dir : "");
    file_store *fs = calloc(1, sizeof(*fs));
    if (!fs) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    if (sp_strlcpy(fs->root, dir, sizeof(fs->root)) != 0 || strlen(dir) > PATH_MAX - 300) {
        free(fs);
        return sp_fail(err, SP_ERR_USAGE, "store folder path too long");
    }
    size_t n = strlen(fs->root);
    while (n > 1 && fs->root[n - 1] == '/') fs->root[--n] = '\0';
    char probe[PATH_MAX];
    snprintf(probe, sizeof(probe), "%s/x", fs->root);
    sp_status s = mkdirs_for(probe, err);
    if (s != SP_OK) {
        free(fs);
        return s;
    }
    st->ops = &file_ops;
    st->impl = fs;
    snprintf(st->desc, sizeof(st->desc), "file://%s", fs->root);
    return SP_OK;
}
