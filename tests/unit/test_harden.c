/* test_harden.c: sp_disable_core_dumps leaves the process non-dumpable with a zero core limit. */
#include <criterion/criterion.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sealpub/sealpub.h"

/* In a child, so the test runner itself keeps its settings. */
Test(harden, no_core_dumps)
{
    struct rlimit big = {RLIM_INFINITY, RLIM_INFINITY};
    struct rlimit cur;
    cr_assert_eq(getrlimit(RLIMIT_CORE, &cur), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        /* Start from a process that could dump (as far as the hard limit allows). */
        big.rlim_max = cur.rlim_max;
        big.rlim_cur = cur.rlim_max;
        (void)setrlimit(RLIMIT_CORE, &big);
        (void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
        if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1) _exit(2);
        if (sp_disable_core_dumps() != 0) _exit(3);
        struct rlimit after;
        if (getrlimit(RLIMIT_CORE, &after) != 0 || after.rlim_cur != 0 || after.rlim_max != 0) _exit(4);
        if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) _exit(5);
        _exit(0);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    cr_assert_eq(WEXITSTATUS(status), 0, "child step %d failed", WEXITSTATUS(status));
}
