/* threads.c: starting worker threads that leave SIGINT/SIGTERM to the calling thread. */
#include <pthread.h>
#include <signal.h>

#include "common/sp_common.h"

unsigned sp_start_workers(pthread_t *th, unsigned n, void *(*fn)(void *), void *arg)
{
    /* The calling thread is the one that may sit in read() on a silent pipe
     * and that checks the cancel flag: workers start with the signals blocked
     * so that they always reach it. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    unsigned started = 0;
    while (started < n && pthread_create(&th[started], NULL, fn, arg) == 0) started++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return started;
}
