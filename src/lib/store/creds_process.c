/* creds_process.c: a profile's credential_process: runs the command and reads its JSON from stdout. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/creds.h"

#define PROCESS_OUT_MAX ((size_t)64 << 10)
#define PROCESS_TIMEOUT_MS 60000 /* a helper that asks for a hardware key may wait on a person */

extern char **environ;

sp_status sp_creds_process_run(const char *command, const char *profile, sp_creds *out, sp_error *err)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return sp_fail(err, SP_ERR_IO, "credential_process: pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    /* The command line is a shell command, as the AWS SDKs run it on Unix;
     * its stderr goes to ours so its prompts and errors reach the user. */
    char sh[] = "/bin/sh", dash_c[] = "-c";
    char *cmd = strdup(command);
    char *argv[] = {sh, dash_c, cmd, NULL};
    pid_t pid;
    int rc = cmd ? posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ) : ENOMEM;
    free(cmd);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return sp_fail(err, SP_ERR_IO, "credential_process of profile '%.100s': cannot start /bin/sh: %s", profile,
                       strerror(rc));
    }
    char *buf = sp_secret_alloc(PROCESS_OUT_MAX + 1);
    size_t len = 0;
    int too_big = 0, timed_out = 0;
    double deadline = sp_now() + PROCESS_TIMEOUT_MS / 1000.0;
    while (buf) {
        struct pollfd pf = {fds[0], POLLIN, 0};
        int ms = (int)((deadline - sp_now()) * 1000);
        if (ms <= 0 || poll(&pf, 1, ms) == 0) {
            timed_out = 1;
            break;
        }
        ssize_t n = read(fds[0], buf + len, PROCESS_OUT_MAX - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
        if (len == PROCESS_OUT_MAX) {
            too_big = 1;
            break;
        }
    }
    close(fds[0]);
    if (timed_out || too_big || !buf) kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    sp_status s = SP_OK;
    if (!buf) s = sp_fail(err, SP_ERR_NOMEM, "out of memory");
    else if (timed_out)
        s = sp_fail(err, SP_ERR_USAGE, "credential_process of profile '%.100s' did not finish within %d s", profile,
                    PROCESS_TIMEOUT_MS / 1000);
    else if (too_big)
        s = sp_fail(err, SP_ERR_USAGE, "credential_process of profile '%.100s' wrote more than 64 KiB", profile);
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        s = sp_fail(err, SP_ERR_USAGE, "credential_process of profile '%.100s' failed (%s %d)", profile,
                    WIFEXITED(status) ? "exit status" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    else {
        char what[160];
        snprintf(what, sizeof(what), "credential_process of profile '%.100s'", profile);
        memset(out, 0, sizeof(*out));
        s = sp_creds_from_json(buf, len, "SessionToken", out, what, err);
    }
    if (buf) sp_secret_free(buf, PROCESS_OUT_MAX + 1);
    if (s != SP_OK) memset(out, 0, sizeof(*out));
    return s;
}
