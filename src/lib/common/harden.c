/* harden.c: keeps a process's memory, and so its keys, out of core dumps. */
#include <sys/prctl.h>
#include <sys/resource.h>

#include "common/sp_common.h"

/* OpenSSL keeps AES key schedules, and libpq, libcurl and the C library keep
 * copies of keys and credentials, in ordinary heap memory that
 * MADV_DONTDUMP on sp_secret_alloc's pages does not cover: only a process
 * that cannot dump at all keeps them out of a core file. Non-dumpable also
 * makes /proc/PID/mem and ptrace attach need CAP_SYS_PTRACE. */
int sp_disable_core_dumps(void)
{
    int rc = 0;
    struct rlimit none = {0, 0};
    if (setrlimit(RLIMIT_CORE, &none) != 0) rc = -1;
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) rc = -1;
    return rc;
}
