/* cpus.h: the CPUs this process may use, for the default thread count. */
#ifndef SP_CPUS_H
#define SP_CPUS_H

#include "sealpub/sealpub.h"

typedef struct sp_cpus {
    unsigned online;   /* sysconf(_SC_NPROCESSORS_ONLN) */
    unsigned affinity; /* CPUs in sched_getaffinity's mask (taskset, cpuset) */
    double quota;      /* cgroup v1/v2 CPU quota in CPUs, 0 when unlimited */
    unsigned usable;   /* min(affinity, quota rounded up), at least 1 */
} sp_cpus;

void sp_cpus_probe(sp_cpus *c);
/* The tightest CPU quota of the cgroups listed in proc_cgroup (the format
 * of /proc/self/cgroup) under cgroup_root (normally /sys/fs/cgroup), in
 * CPUs; 0 when none is set. Paths are parameters so tests can point them at
 * a folder of their own. */
double sp_cgroup_cpu_quota(const char *proc_cgroup, const char *cgroup_root);

#endif
