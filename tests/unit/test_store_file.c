/* test_store_file.c: the local-directory store's cleanup of what a killed publish leaves behind. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "helpers.h"
#include "store/store.h"

static void touch(const char *path, time_t mtime)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs("partial", f);
    fclose(f);
    struct utimbuf t = {mtime, mtime};
    cr_assert_eq(utime(path, &t), 0);
}

/* A SIGKILLed publish never reaches put_abort, so its ".NAME.XXXXXX" temp
 * file stays beside the objects; `sealpub cleanup` goes through the store
 * interface and removes those older than --older-than, nothing else. */
Test(store_file, cleanup_removes_old_temp_files_only)
{
    char dir[256], url[300], p[512];
    sp_test_tmpdir(dir, sizeof(dir));
    snprintf(url, sizeof(url), "file://%s/objects", dir);
    snprintf(p, sizeof(p), "%s/objects/dev", dir);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", p);
    cr_assert_eq(system(cmd), 0);
    time_t old = time(NULL) - 7200, now = time(NULL);
    char stale[600], fresh[600], object[600], lookalike[600];
    snprintf(stale, sizeof(stale), "%s/.a-amd64-1.enc.Ab3xY9", p);
    snprintf(fresh, sizeof(fresh), "%s/.a-amd64-2.enc.Qw9zX1", p);
    snprintf(object, sizeof(object), "%s/a-amd64-1.enc", p);
    snprintf(lookalike, sizeof(lookalike), "%s/.keep", p);
    touch(stale, old);
    touch(fresh, now);
    touch(object, old);
    touch(lookalike, old);
    unsigned removed = 99;
    sp_error err;
    cr_assert_eq(sp_store_cleanup(url, 3600, &removed, &err), SP_OK, "%s", err.msg);
    cr_expect_eq(removed, 1);
    cr_expect_neq(access(stale, F_OK), 0, "the stale temp file is gone");
    cr_expect_eq(access(fresh, F_OK), 0, "a publish still writing is left alone");
    cr_expect_eq(access(object, F_OK), 0, "published objects are never touched");
    cr_expect_eq(access(lookalike, F_OK), 0, "other dot files are not temp files");
    cr_assert_eq(sp_store_cleanup(url, 0, &removed, &err), SP_OK, "%s", err.msg);
    cr_expect_eq(removed, 1, "--older-than 0 takes the fresh one too");
    sp_test_rmtree(dir);
}

/* --on-exists fail commits create-only (link(), not rename()): an object that
 * appeared meanwhile is never replaced, and the probe says it is supported. */
Test(store_file, create_only_never_replaces)
{
    char dir[256], url[300];
    sp_test_tmpdir(dir, sizeof(dir));
    snprintf(url, sizeof(url), "file://%s/objects", dir);
    sp_store st;
    sp_error err = {0};
    cr_assert_eq(sp_store_open(url, &st, &err), SP_OK, "%s", err.msg);
    int supported = 0;
    cr_assert_not_null(st.ops->probe_create_only);
    cr_assert_eq(st.ops->probe_create_only(st.impl, &supported, &err), SP_OK);
    cr_expect_eq(supported, 1);
    sp_upload *up = NULL;
    cr_assert_eq(st.ops->put_begin(st.impl, "dev/k.enc", UINT64_MAX, &up, &err), SP_OK, "%s", err.msg);
    st.ops->put_create_only(up);
    cr_assert_eq(st.ops->put_write(up, "first", 5, &err), SP_OK);
    cr_assert_eq(st.ops->put_commit(up, &err), SP_OK, "%s", err.msg);
    cr_assert_eq(st.ops->put_begin(st.impl, "dev/k.enc", UINT64_MAX, &up, &err), SP_OK, "%s", err.msg);
    st.ops->put_create_only(up);
    cr_assert_eq(st.ops->put_write(up, "second", 6, &err), SP_OK);
    cr_expect_eq(st.ops->put_commit(up, &err), SP_ERR_EXISTS);
    cr_expect(strstr(err.msg, "already exists") != NULL, "%s", err.msg);
    char got[8] = "";
    cr_assert_eq(st.ops->read_range(st.impl, "dev/k.enc", 0, got, 5, &err), SP_OK, "%s", err.msg);
    cr_expect(memcmp(got, "first", 5) == 0, "the first object was replaced");
    /* Without create-only the same commit replaces, as before. */
    cr_assert_eq(st.ops->put_begin(st.impl, "dev/k.enc", UINT64_MAX, &up, &err), SP_OK, "%s", err.msg);
    cr_assert_eq(st.ops->put_write(up, "third", 5, &err), SP_OK);
    cr_expect_eq(st.ops->put_commit(up, &err), SP_OK, "%s", err.msg);
    sp_store_close(&st);
}
