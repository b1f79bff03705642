/* fetch_docker.c: `sealpub fetch --docker-load`: only an archive verified in full is handed to the Docker engine. */
#include "fetch_docker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

sp_status cli_fetch_docker_load(sp_fetch_opts *o, sp_fetch_result *r, char *loaded, size_t cap, sp_error *err)
{
    /* Why a file and not a pipe into the engine: the engine imports layers
     * as they arrive and keeps them, and a container's last chunk or final
     * record can still fail. sp_fetch writes its output under a temporary
     * name and renames it only after the final record authenticated, so the
     * file exists only if the whole artifact was verified. */
    const char *tmp = getenv("TMPDIR");
    char dir[4096], path[4200], api[16];
    /* An engine that is not there fails now, not after the download. */
    sp_status s = sp_docker_check(o->cancel, api, sizeof(api), err);
    if (s != SP_OK) return s;
    if (!tmp || !*tmp) tmp = "/tmp";
    if ((size_t)snprintf(dir, sizeof(dir), "%s/sealpub-load-XXXXXX", tmp) >= sizeof(dir)) {
        err->status = SP_ERR_USAGE;
        snprintf(err->msg, sizeof(err->msg), "TMPDIR is too long");
        return err->status;
    }
    if (!mkdtemp(dir)) {
        err->status = SP_ERR_IO;
        snprintf(err->msg, sizeof(err->msg), "cannot make a temporary folder in %s: %s (set TMPDIR)", tmp,
                 strerror(errno));
        return err->status;
    }
    snprintf(path, sizeof(path), "%s/image.tar", dir);
    o->output = path;
    s = sp_fetch(o, r, err);
    int fd = -1;
    if (s == SP_OK && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        err->status = s = SP_ERR_IO;
        snprintf(err->msg, sizeof(err->msg), "%s: %s", path, strerror(errno));
    }
    (void)unlink(path);
    (void)rmdir(dir);
    o->output = NULL;
    if (s != SP_OK) return s;
    s = sp_docker_load(fd, o->cancel, loaded, cap, err);
    close(fd);
    return s;
}
