/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns memhpd's private tracefs instances: finding tracefs, creating, sizing and removing an instance,
 * enabling its events and opening its trace_pipe. What the events mean is poison.c's and rebalance.c's. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "tracefs.h"

static void close_fds(TracefsInstance *t) {
        if (t->fd >= 0)
                (void) close(t->fd);
        if (t->instances_fd >= 0)
                (void) close(t->instances_fd);
        t->fd = t->instances_fd = -1;
}

int tracefs_instance_open(Root *root, const char *name, unsigned buffer_kb, TracefsInstance *ret,
                          const char **ret_what) {
        static const char *const dirs[] = { "sys/kernel/tracing", "sys/kernel/debug/tracing" };
        TracefsInstance t = TRACEFS_INSTANCE_INIT;
        int r;

        t.name = name;
        for (size_t i = 0; i < ELEMENTSOF(dirs) && t.instances_fd < 0; i++) {
                char path[64];

                snprintf(path, sizeof(path), "%s/instances", dirs[i]);
                t.instances_fd = openat(root->fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                t.tracefs = dirs[i];
        }
        if (t.instances_fd < 0) {
                *ret_what = "tracefs is not mounted (no /sys/kernel/tracing/instances or "
                            "/sys/kernel/debug/tracing/instances)";
                return -ENOENT;
        }
        /* One left by a memhpd that crashed is taken over, and removed at stop all the same. */
        if (mkdirat(t.instances_fd, name, 0700) < 0 && errno != EEXIST) {
                r = -errno;
                *ret_what = "Cannot create the tracefs instance";
                close_fds(&t);
                return r;
        }
        t.created = true;
        t.fd = openat(t.instances_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (t.fd < 0) {
                r = -errno;
                *ret_what = "Cannot open the tracefs instance";
                tracefs_instance_close(&t);
                return r;
        }
        if (buffer_kb > 0) {
                char kb[16];

                snprintf(kb, sizeof(kb), "%u", buffer_kb);
                r = root_write(t.fd, "buffer_size_kb", kb);
                if (r < 0)
                        log_debug_errno(r, "Cannot size the tracefs instance %s to %s kB per CPU: %m", name, kb);
        }
        /* A precaution (tracefs.h); absent on older kernels, and harmless to miss. */
        r = root_write(t.fd, "buffer_percent", "0");
        if (r < 0 && r != -ENOENT)
                log_debug_errno(r, "Cannot set buffer_percent of the tracefs instance %s: %m", name);
        *ret = t;
        return 0;
}

int tracefs_event_enable(TracefsInstance *t, const char *group_event, bool enable) {
        char path[128];

        if (snprintf(path, sizeof(path), "events/%s/enable", group_event) >= (int) sizeof(path))
                return -ENAMETOOLONG;
        return root_write(t->fd, path, enable ? "1" : "0");
}

int tracefs_pipe_open(TracefsInstance *t) {
        int fd = openat(t->fd, "trace_pipe", O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

        return fd < 0 ? -errno : fd;
}

void tracefs_instance_close(TracefsInstance *t) {
        bool remove = t->created && t->instances_fd >= 0;
        int instances_fd = t->instances_fd;

        if (t->fd >= 0)
                (void) close(t->fd);
        t->fd = -1;
        if (remove && unlinkat(instances_fd, t->name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                log_debug_errno(errno, "Cannot remove the tracefs instance %s: %m", t->name);
        if (instances_fd >= 0)
                (void) close(instances_fd);
        t->instances_fd = -1;
        t->created = false;
}
