/* cpus.c: how many CPUs this process may really use (affinity mask, cgroup v1/v2 CPU quota): the default thread count. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpus.h"

/* Reads the first line of a small file; 0 on success. */
static int read_line(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    int ok = fgets(buf, (int)cap, f) != NULL;
    fclose(f);
    if (!ok) return -1;
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

/* CPUs allowed by one cgroup folder's quota, or 0 when it sets none. v2 has
 * "cpu.max" = "QUOTA PERIOD" or "max PERIOD"; v1 has cpu.cfs_quota_us (-1:
 * none) and cpu.cfs_period_us. */
static double quota_in(const char *dir)
{
    char path[4096], line[128];
    snprintf(path, sizeof path, "%s/cpu.max", dir);
    if (read_line(path, line, sizeof line) == 0) {
        char q[32];
        double period = 0;
        if (sscanf(line, "%31s %lf", q, &period) == 2 && strcmp(q, "max") != 0 && period > 0) {
            double quota = strtod(q, NULL);
            if (quota > 0) return quota / period;
        }
        return 0;
    }
    snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir);
    if (read_line(path, line, sizeof line) != 0) return 0;
    double quota = strtod(line, NULL);
    snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
    if (quota <= 0 || read_line(path, line, sizeof line) != 0) return 0;
    double period = strtod(line, NULL);
    return period > 0 ? quota / period : 0;
}

/* The smallest quota on the way from the process's cgroup up to the
 * hierarchy's root (a parent's limit binds its children too), 0 when none.
 * Inside a container with its own cgroup namespace the path is "/" and the
 * container's limit is on the mounted root itself. */
static double quota_along(const char *mount, const char *cg_path)
{
    char dir[4096];
    double best = 0;
    snprintf(dir, sizeof dir, "%s%s", mount, strcmp(cg_path, "/") == 0 ? "" : cg_path);
    size_t root_len = strlen(mount);
    for (;;) {
        double q = quota_in(dir);
        if (q > 0 && (best == 0 || q < best)) best = q;
        char *slash = strrchr(dir, '/');
        if (!slash || (size_t)(slash - dir) < root_len) break;
        *slash = '\0';
    }
    return best;
}

double sp_cgroup_cpu_quota(const char *proc_cgroup, const char *cgroup_root)
{
    FILE *f = fopen(proc_cgroup, "re");
    if (!f) return 0;
    char line[4096], mount[4096];
    double best = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        /* "ID:CONTROLLERS:PATH"; v2 is "0::PATH". */
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2 || c2[1] != '/') continue;
        *c2 = '\0';
        const char *controllers = c1 + 1, *path = c2 + 1;
        double q = 0;
        if (*controllers == '\0') {
            /* v2: the unified mount is the root, or root/unified on hybrid systems. */
            snprintf(mount, sizeof mount, "%s", cgroup_root);
            q = quota_along(mount, path);
            if (q == 0) {
                snprintf(mount, sizeof mount, "%s/unified", cgroup_root);
                q = quota_along(mount, path);
            }
        } else {
            /* v1: the cpu controller, mounted alone or as "cpu,cpuacct". */
            char list[256];
            snprintf(list, sizeof list, ",%s,", controllers);
            if (!strstr(list, ",cpu,")) continue;
            snprintf(mount, sizeof mount, "%s/%s", cgroup_root, controllers);
            q = quota_along(mount, path);
            if (q == 0) {
                snprintf(mount, sizeof mount, "%s/cpu", cgroup_root);
                q = quota_along(mount, path);
            }
        }
        if (q > 0 && (best == 0 || q < best)) best = q;
    }
    fclose(f);
    return best;
}

void sp_cpus_probe(sp_cpus *c)
{
    memset(c, 0, sizeof *c);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    c->online = online > 0 ? (unsigned)online : 1;
    cpu_set_t set;
    CPU_ZERO(&set);
    c->affinity = sched_getaffinity(0, sizeof set, &set) == 0 ? (unsigned)CPU_COUNT(&set) : c->online;
    if (c->affinity == 0) c->affinity = c->online;
    c->quota = sp_cgroup_cpu_quota("/proc/self/cgroup", "/sys/fs/cgroup");
    c->usable = c->affinity;
    if (c->quota > 0) {
        /* A quota of 1.5 CPUs still gives two threads work to share. */
        unsigned q = (unsigned)c->quota;
        if ((double)q < c->quota) q++;
        if (q < c->usable) c->usable = q;
    }
    if (c->usable == 0) c->usable = 1;
}

unsigned sp_default_threads(void)
{
    sp_cpus c;
    sp_cpus_probe(&c);
    return c.usable;
}
