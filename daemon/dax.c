/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns dax devices: their table (scan, uevents), the decision per device and the writes that hand one
 * to kmem (memmap_on_memory, unbind device_dax, new_id and bind kmem), with one audit record each. The
 * parsers are dax-parse.c; the decision is policy.c's policy_decide_dax(). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agents.h"
#include "audit.h"
#include "block-events.h"
#include "dax.h"
#include "memmap.h"
#include "log.h"
#include "manager.h"

#define DAX_DEVICES "sys/bus/dax/devices"
#define DAX_DRIVERS "sys/bus/dax/drivers"

void dax_probe_kernel(int rootfd, int *ret_global, int *ret_version) {
        char buf[ROOT_VALUE_MAX];

        *ret_global = root_read(rootfd, "sys/module/memory_hotplug/parameters/memmap_on_memory", buf, sizeof(buf)) >= 0
                ? memmap_param_parse(buf) : -1;
        if (*ret_global < -1)
                *ret_global = -1;
        *ret_version = root_read(rootfd, "proc/sys/kernel/osrelease", buf, sizeof(buf)) >= 0 ? kernel_version_parse(buf) : -1;
        if (*ret_version < -1)
                *ret_version = -1;
}

static int read_u64(int rootfd, const char *name, const char *attr, int base, uint64_t *ret) {
        char path[128], buf[ROOT_VALUE_MAX];
        ssize_t r;

        snprintf(path, sizeof(path), DAX_DEVICES "/%s/%s", name, attr);
        r = root_read(rootfd, path, buf, sizeof(buf));
        if (r < 0)
                return (int) r;
        return parse_u64(base == 16 && strncmp(buf, "0x", 2) == 0 ? buf + 2 : buf, base, ret);
}

static ssize_t read_link(int rootfd, const char *path, char *buf, size_t size) {
        ssize_t n = readlinkat(rootfd, path, buf, size - 1);

        if (n < 0)
                return -errno;
        buf[n] = '\0';
        return n;
}

int dax_device_read(int rootfd, const char *name, DaxDevice *ret, const char **ret_what) {
        DaxDevice d = { .target_node = -1, .memmap_attr = -1, .block_action = -1 };
        char path[128], link[512], buf[ROOT_VALUE_MAX];
        uint64_t v;
        ssize_t n;
        int r;

        snprintf(d.name, sizeof(d.name), "%s", name);
        snprintf(path, sizeof(path), DAX_DEVICES "/%s", name);
        n = read_link(rootfd, path, link, sizeof(link));
        if (n == -ENOENT)
                return -ENOENT;
        d.origin = n >= 0 ? dax_origin_from_path(link) : DAX_ORIGIN_UNKNOWN;

        r = read_u64(rootfd, name, "size", 10, &d.size);
        if (r < 0) {
                *ret_what = "size";
                return r;
        }
        /* resource (5.10+) is the start of the first range, "%#llx". */
        if (read_u64(rootfd, name, "resource", 16, &v) >= 0)
                d.start = v;
        snprintf(path, sizeof(path), DAX_DEVICES "/%s/target_node", name);
        if (root_read(rootfd, path, buf, sizeof(buf)) >= 0) {
                char *end;
                long t;
                errno = 0;
                t = strtol(buf, &end, 10);
                if (errno == 0 && *end == '\0' && end != buf && t >= -1 && t < NODES_MAX)
                        d.target_node = (int) t;
        }
        snprintf(path, sizeof(path), DAX_DEVICES "/%s/memmap_on_memory", name);
        if (root_read(rootfd, path, buf, sizeof(buf)) >= 0)
                d.memmap_attr = strcmp(buf, "1") == 0 ? 1 : 0;
        snprintf(path, sizeof(path), DAX_DEVICES "/%s/driver", name);
        n = read_link(rootfd, path, link, sizeof(link));
        d.driver = n >= 0 ? dax_driver_from_link(link) : DAX_DRIVER_NONE;
        if (d.origin == DAX_ORIGIN_UNKNOWN && d.start && d.size) {
                /* Where the device's place does not say, /proc/iomem may: "Soft Reserved" around it. */
                _cleanup_free_ char *iomem = NULL;
                if (root_read_file(rootfd, "proc/iomem", 1024 * 1024, &iomem, NULL, NULL) >= 0 &&
                    dax_iomem_soft_reserved(iomem, d.start, d.start + d.size - 1))
                        d.origin = DAX_ORIGIN_SOFT_RESERVED;
        }
        *ret = d;
        return 0;
}

static DaxDevice *dax_find(DaxTable *t, const char *name) {
        for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->items[i].name, name) == 0)
                        return &t->items[i];
        return NULL;
}

DaxTable *dax_table(Manager *m) {
        if (!m->dax) {
                m->dax = calloc(1, sizeof(DaxTable));
                if (!m->dax)
                        log_oom_abort();
                dax_probe_kernel(m->root->fd, &m->dax->global_memmap, &m->dax->kernel_version);
        }
        return m->dax;
}

void dax_table_free(Manager *m) {
        if (!m->dax)
                return;
        free(m->dax->items);
        m->dax = mfree(m->dax);
}

static void dax_remove_entry(DaxTable *t, DaxDevice *d) {
        size_t i = (size_t) (d - t->items);
        memmove(&t->items[i], &t->items[i + 1], (t->n - i - 1) * sizeof(DaxDevice));
        t->n--;
}

static DaxDevice *dax_add_entry(DaxTable *t, const DaxDevice *d) {
        DaxDevice *items;

        if (t->n >= DAX_DEVICES_MAX)
                return NULL;
        items = realloc(t->items, (t->n + 1) * sizeof(DaxDevice));
        if (!items)
                log_oom_abort();
        t->items = items;
        t->items[t->n] = *d;
        return &t->items[t->n++];
}

/* The blocks kmem adds for the device: drivers/dax/kmem.c aligns the range inward to whole blocks. */
static bool dax_blocks(const Manager *m, const DaxDevice *d, uint32_t *ret_first, uint32_t *ret_last) {
        uint64_t bs = m->inv->block_size, first, end;

        if (!bs || !d->start || !d->size)
                return false;
        first = (d->start + bs - 1) / bs;
        end = (d->start + d->size) / bs;
        if (end <= first || end - 1 > UINT32_MAX)
                return false;
        *ret_first = (uint32_t) first;
        *ret_last = (uint32_t) (end - 1);
        return true;
}

static void blocks_text(const Manager *m, const DaxDevice *d, char *buf, size_t size) {
        uint32_t a, b;

        if (dax_blocks(m, d, &a, &b))
                snprintf(buf, size, "memory%" PRIu32 "-memory%" PRIu32, a, b);
        else
                snprintf(buf, size, "blocks unknown (no resource)");
}

void dax_device_facts(const DaxDevice *d, DaxFacts *ret) {
        *ret = (DaxFacts) {
                .name = d->name,
                .start = d->start,
                .size = d->size,
                .target_node = d->target_node,
                .origin = d->origin,
        };
}

static AuditFields dax_fields(const DaxDevice *d, const DaxDecision *dd) {
        AuditFields f = AUDIT_FIELDS_INIT;

        f.dax = d->name;
        f.node = d->target_node;
        f.device = "dax-kmem";
        if (dd) {
                f.action = dax_mode_to_string(dd->mode);
                if (dd->policy) {
                        f.policy_path = dd->policy->path;
                        f.policy_line = dd->policy->line;
                }
        }
        return f;
}

/* Write 'value' to 'path' (relative to the root); 0 or -errno. */
static int dax_write(Manager *m, const char *path, const char *value) {
        return root_write(m->root->fd, path, value);
}

/* Every device directory in sysfs has its "uevent"; it is gone with the device. */
static bool dax_exists(Manager *m, const char *name) {
        char path[128];

        snprintf(path, sizeof(path), DAX_DEVICES "/%s/uevent", name);
        return faccessat(m->root->fd, path, F_OK, 0) >= 0;
}

static void dax_vanished(Manager *m, DaxDevice *d, const DaxDecision *dd, int error) {
        AuditFields f = dax_fields(d, dd);

        f.result = "skipped";
        f.error = error;
        audit_record(AUDIT_DAX_LEFT, &f, "%s vanished while memhpd was handing it to kmem; nothing more is written",
                     d->name);
        dax_remove_entry(m->dax, d);
}

/* Apply OnMemory= to the device before kmem binds. Returns whether the memmap will be on the device. */
static bool dax_apply_memmap(Manager *m, DaxDevice *d, const DaxDecision *dd) {
        DaxTable *t = m->dax;
        AuditFields f = dax_fields(d, dd);
        char path[128];
        int r;

        if (dd->memmap_on_memory < 0)
                return d->memmap_attr == 1;
        if (d->memmap_attr < 0) {
                if (dd->memmap_on_memory == 0)
                        return false; /* honoured: the memmap is in existing memory anyway */
                f.result = "skipped";
                audit_record(AUDIT_MEMMAP, &f, "OnMemory=yes cannot be honoured for %s: this kernel has no "
                             "%s/%s/memmap_on_memory (Linux 6.8+); its memmap comes from existing memory",
                             d->name, "/" DAX_DEVICES, d->name);
                return false;
        }
        if (d->memmap_attr == dd->memmap_on_memory)
                return d->memmap_attr == 1;
        if (dd->memmap_on_memory == 1 && t->global_memmap == 0) {
                f.result = "skipped";
                audit_record(AUDIT_MEMMAP, &f, "OnMemory=yes cannot be honoured for %s: memory_hotplug.memmap_on_memory "
                             "is off, and only the boot parameter (memory_hotplug.memmap_on_memory=1) turns it on; its "
                             "memmap comes from existing memory", d->name);
                return false;
        }
        if (m->opts.dry_run)
                return dd->memmap_on_memory == 1;
        snprintf(path, sizeof(path), DAX_DEVICES "/%s/memmap_on_memory", d->name);
        r = dax_write(m, path, dd->memmap_on_memory ? "1" : "0");
        if (r < 0) {
                f.result = "failed";
                f.error = r;
                audit_record(AUDIT_MEMMAP, &f, "OnMemory=%s cannot be honoured for %s: writing %s failed (%m)%s",
                             dd->memmap_on_memory ? "yes" : "no", d->name, path,
                             r == -EOPNOTSUPP ? "; the kernel does not support memmap_on_memory here" : "");
                return d->memmap_attr == 1;
        }
        d->memmap_attr = (int8_t) dd->memmap_on_memory;
        return d->memmap_attr == 1;
}


static void dax_check_risk(Manager *m, DaxDevice *d, const DaxDecision *dd) {
        uint64_t need = memmap_bytes(d->size, m->inv->page_size), free_bytes = memmap_mem_free(m);
        AuditFields f = dax_fields(d, dd);

        if (free_bytes == UINT64_MAX || need <= free_bytes)
                return;
        f.result = "ok";
        audit_record(AUDIT_MEMMAP_RISK, &f, "handing %s (%" PRIu64 " MiB) to kmem takes %" PRIu64 " MiB of memmap from "
                     "existing memory, but only %" PRIu64 " MiB is free; booting with memory_hotplug.memmap_on_memory=1 "
                     "(and [Memmap] OnMemory=yes, Linux 6.8+) puts it on the device itself",
                     d->name, d->size >> 20, need >> 20, free_bytes >> 20);
}

static bool driver_loaded(Manager *m, const char *driver) {
        char path[128];

        snprintf(path, sizeof(path), DAX_DRIVERS "/%s", driver);
        return faccessat(m->root->fd, path, F_OK, 0) >= 0;
}

static DaxDriver reread_driver(Manager *m, const char *name) {
        char path[128], link[512];

        snprintf(path, sizeof(path), DAX_DEVICES "/%s/driver", name);
        return read_link(m->root->fd, path, link, sizeof(link)) >= 0 ? dax_driver_from_link(link) : DAX_DRIVER_NONE;
}

/* As daxctl does (libdaxctl.c: daxctl_unbind(), daxctl_bind()): remove_id and unbind at device_dax, then
 * new_id and bind at kmem. The kernel's answers say what happened, as for a block's state write (new_id
 * already attaches the device, after which bind answers EBUSY); the driver link is read back only when
 * an answer is a failure, since someone else may have done it. */
static void dax_make_system_ram(Manager *m, DaxDevice *d, const DaxDecision *dd) {
        AuditFields f = dax_fields(d, dd);
        char blocks[64];
        int r, r_new;

        if (!driver_loaded(m, "kmem")) {
                f.result = "failed";
                f.error = ENOENT;
                audit_record(AUDIT_DAX_FAILED, &f, "cannot hand %s to kmem: the kmem driver is not loaded (/%s/kmem "
                             "does not exist; load it with modprobe kmem); %s stays as it is", d->name, DAX_DRIVERS, d->name);
                m->n_failed++;
                return;
        }
        if (d->driver == DAX_DRIVER_DEVICE_DAX) {
                (void) dax_write(m, DAX_DRIVERS "/device_dax/remove_id", d->name);
                r = dax_write(m, DAX_DRIVERS "/device_dax/unbind", d->name);
                if (r < 0 && !dax_exists(m, d->name)) {
                        dax_vanished(m, d, dd, r);
                        return;
                }
                if (r < 0 && reread_driver(m, d->name) != DAX_DRIVER_NONE) {
                        f.result = "failed";
                        f.error = r;
                        audit_record(AUDIT_DAX_FAILED, &f, "cannot unbind %s from device_dax (%m); it stays devdax",
                                     d->name);
                        d->driver = reread_driver(m, d->name);
                        m->n_failed++;
                        return;
                }
                d->driver = DAX_DRIVER_NONE;
        }
        r_new = dax_write(m, DAX_DRIVERS "/kmem/new_id", d->name);
        r = dax_write(m, DAX_DRIVERS "/kmem/bind", d->name);
        if (r == 0 || (r == -EBUSY && r_new == 0) || reread_driver(m, d->name) == DAX_DRIVER_KMEM)
                d->driver = DAX_DRIVER_KMEM;
        else {
                int rebind;

                if (!dax_exists(m, d->name)) {
                        dax_vanished(m, d, dd, r);
                        return;
                }
                /* Give the device back to device_dax rather than leave it without a driver. */
                rebind = dax_write(m, DAX_DRIVERS "/device_dax/bind", d->name);
                d->driver = rebind == 0 ? DAX_DRIVER_DEVICE_DAX : reread_driver(m, d->name);
                f.result = "failed";
                f.error = r_new < 0 && r_new != -EBUSY ? r_new : r;
                audit_record(AUDIT_DAX_FAILED, &f, "binding %s to kmem failed (%m); %s", d->name,
                             d->driver == DAX_DRIVER_DEVICE_DAX ? "it is devdax again"
                             : rebind < 0 ? "binding it back to device_dax failed too: it has no driver now"
                             : "it has no driver now");
                m->n_failed++;
                return;
        }
        d->ours = true;
        m->dax->n_bound++;
        blocks_text(m, d, blocks, sizeof(blocks));
        f.result = "ok";
        audit_record(AUDIT_DAX_SYSTEM_RAM, &f, "handed %s (%" PRIu64 " MiB, node %d) to kmem: %s; its blocks %s follow "
                     "[Online] as they appear, memmap %s", d->name, d->size >> 20, d->target_node, dd->why, blocks,
                     d->memmap_attr == 1 ? "on the device" : "in existing memory");
}

int dax_give_back(Manager *m, const char *name, char *why, size_t why_size) {
        DaxDevice *d = dax_find(dax_table(m), name);
        int r, r_new;

        if (!d) {
                snprintf(why, why_size, "memhpd knows no dax device %s", name);
                return -ENOENT;
        }
        if (d->driver != DAX_DRIVER_KMEM && reread_driver(m, name) != DAX_DRIVER_KMEM) {
                snprintf(why, why_size, "%s is not system RAM (not bound to kmem): nothing to give back", name);
                return -EINVAL;
        }
        /* Nothing re-decides it now: neither its uevents (decided) nor a reload (no redecide). */
        d->decided = true;
        d->redecide = false;
        d->ours = false;
        d->block_action = -1;
        (void) dax_write(m, DAX_DRIVERS "/kmem/remove_id", name);
        r = dax_write(m, DAX_DRIVERS "/kmem/unbind", name);
        if (r < 0 && reread_driver(m, name) == DAX_DRIVER_KMEM) {
                snprintf(why, why_size, "unbinding %s from kmem failed: %s", name, strerror(-r));
                return r;
        }
        d->driver = DAX_DRIVER_NONE;
        r_new = dax_write(m, DAX_DRIVERS "/device_dax/new_id", name);
        r = dax_write(m, DAX_DRIVERS "/device_dax/bind", name);
        if (r == 0 || (r == -EBUSY && r_new == 0) || reread_driver(m, name) == DAX_DRIVER_DEVICE_DAX) {
                d->driver = DAX_DRIVER_DEVICE_DAX;
                snprintf(why, why_size, "gave %s back to device_dax: devdax again, its memory removed", name);
                return 0;
        }
        d->driver = reread_driver(m, name);
        /* dev_dax_kmem_remove() keeps (leaks) a range it could not remove until reboot: device_dax then
         * cannot claim it. */
        snprintf(why, why_size, "%s left kmem, but binding it to device_dax failed: %s (memory the kernel "
                 "could not remove stays reserved until reboot)", name, strerror(r < 0 ? -r : EIO));
        return r < 0 ? r : -EIO;
}

static void dax_decide(Manager *m, DaxDevice *d) {
        DaxFacts facts;
        DaxDecision dd;
        AuditFields f;
        char blocks[64], daxctl[320];

        d->decided = true;
        dax_device_facts(d, &facts);
        policy_decide_dax(&m->policies, &facts, &dd);
        f = dax_fields(d, &dd);
        blocks_text(m, d, blocks, sizeof(blocks));

        switch (d->driver) {
        case DAX_DRIVER_KMEM:
                f.result = dd.mode == DAX_MODE_SYSTEM_RAM ? "already" : "skipped";
                f.agent = "someone else";
                audit_record(dd.mode == DAX_MODE_SYSTEM_RAM ? AUDIT_DAX_SYSTEM_RAM : AUDIT_DAX_LEFT, &f,
                             "%s (%" PRIu64 " MiB, %s, node %d) is already system RAM, handed to kmem by someone else "
                             "(%s); leaving it there: %s", d->name, d->size >> 20, dax_origin_to_string(d->origin),
                             d->target_node, blocks, dd.why);
                return;
        case DAX_DRIVER_OTHER:
                f.result = "skipped";
                f.agent = "someone else";
                audit_record(AUDIT_DAX_LEFT, &f, "%s is bound to a driver memhpd does not know; leaving it", d->name);
                return;
        default:
                break;
        }
        if (dd.mode == DAX_MODE_DEVDAX) {
                d->redecide = true;
                f.result = "ok";
                audit_record(AUDIT_DAX_DEVICE, &f, "%s (%" PRIu64 " MiB, %s, node %d, %s) stays as it is: %s", d->name,
                             d->size >> 20, dax_origin_to_string(d->origin), d->target_node,
                             dax_driver_to_string(d->driver), dd.why);
                return;
        }
        if (agents_daxctl_claims_dax(m->root->fd, daxctl, sizeof(daxctl)) > 0) {
                f.result = "skipped";
                f.agent = "daxctl";
                f.file = daxctl;
                audit_record(AUDIT_DAX_LEFT, &f, "%s is left to daxctl, which is configured to reconfigure dax devices "
                             "(mode = system-ram); remove that section (or this policy) so that one agent decides",
                             d->name);
                return;
        }
        if (!dax_apply_memmap(m, d, &dd))
                dax_check_risk(m, d, &dd);
        if (m->opts.dry_run) {
                f.result = "dry-run";
                audit_record(AUDIT_DAX_SYSTEM_RAM, &f, "would hand %s (%" PRIu64 " MiB, node %d) to kmem (dry run): %s; "
                             "blocks %s", d->name, d->size >> 20, d->target_node, dd.why, blocks);
                return;
        }
        dax_make_system_ram(m, d, &dd);
}

int dax_scan(Manager *m) {
        DaxTable *t = dax_table(m);
        _cleanup_closedir_ DIR *dir = NULL;
        struct dirent *de;
        unsigned bound = t->n_bound;
        int r;

        t->scanned_at_uevent = m->n_uevents + 1;
        dir = root_opendir(m->root->fd, DAX_DEVICES);
        if (!dir)
                return errno == ENOENT ? 0 : log_warning_errno(errno, "Cannot list /%s: %m", DAX_DEVICES);
        for (size_t i = 0; i < t->n; i++)
                t->items[i].seen = false;
        while ((r = root_readdir(dir, &de)) > 0) {
                const char *what = NULL;
                DaxDevice d, *known;

                if (dax_name_valid(de->d_name) < 0)
                        continue;
                known = dax_find(t, de->d_name);
                r = dax_device_read(m->root->fd, de->d_name, &d, &what);
                if (r == -ENOENT)
                        continue;
                if (r < 0) {
                        AuditFields f = AUDIT_FIELDS_INIT;
                        f.dax = de->d_name;
                        f.error = r;
                        f.result = "skipped";
                        if (!known || !known->decided)
                                audit_record(AUDIT_BAD_SYSFS, &f, "/%s/%s/%s cannot be read or parsed (%m); leaving "
                                             "the device alone", DAX_DEVICES, de->d_name, what);
                        if (known)
                                known->seen = true;
                        continue;
                }
                if (known) {
                        d.decided = known->decided;
                        d.ours = known->ours;
                        d.redecide = known->redecide;
                        d.block_action = known->block_action;
                        *known = d;
                        known->seen = true;
                        continue;
                }
                d.seen = true;
                if (!dax_add_entry(t, &d)) {
                        log_warning("More than %d dax devices: %s is not managed", DAX_DEVICES_MAX, d.name);
                        continue;
                }
        }
        if (r < 0)
                return log_warning_errno(r, "Listing /%s failed part-way: %m", DAX_DEVICES);
        for (size_t i = t->n; i > 0; i--)
                if (!t->items[i - 1].seen)
                        dax_remove_entry(t, &t->items[i - 1]);
        for (size_t i = 0; i < t->n; i++)
                if (!t->items[i].decided) {
                        dax_decide(m, &t->items[i]);
                        /* dax_decide() may drop a vanished device: look at this index again. */
                        if (i < t->n && !t->items[i].decided)
                                i--;
                }
        return (int) (t->n_bound - bound);
}

void dax_uevent(Manager *m, const Uevent *u) {
        DaxTable *t = dax_table(m);
        char name[24];
        const char *what = NULL;
        DaxDevice d, *known;
        int r;

        snprintf(name, sizeof(name), "dax%" PRIu32 ".%" PRIu32, u->index, u->id);
        known = dax_find(t, name);
        r = dax_device_read(m->root->fd, name, &d, &what);
        if (r == -ENOENT || u->action == UEVENT_REMOVE) {
                if (known) {
                        AuditFields f = dax_fields(known, NULL);
                        f.result = "ok";
                        f.action = "removed";
                        audit_record(AUDIT_DAX_DEVICE, &f, "%s was removed", name);
                        dax_remove_entry(t, known);
                }
                return;
        }
        if (r < 0) {
                AuditFields f = AUDIT_FIELDS_INIT;
                f.dax = name;
                f.error = r;
                f.result = "skipped";
                audit_record(AUDIT_BAD_SYSFS, &f, "/%s/%s/%s cannot be read or parsed after its %s uevent (%m); "
                             "leaving the device alone", DAX_DEVICES, name, what, uevent_action_to_string(u->action));
                return;
        }
        if (known) {
                bool to_kmem = known->driver != DAX_DRIVER_KMEM && d.driver == DAX_DRIVER_KMEM && !known->ours;

                d.decided = known->decided;
                d.ours = known->ours;
                d.redecide = known->redecide;
                d.block_action = known->block_action;
                *known = d;
                if (to_kmem) {
                        AuditFields f = dax_fields(known, NULL);
                        f.result = "skipped";
                        f.agent = "someone else";
                        audit_record(AUDIT_DAX_LEFT, &f, "%s was handed to kmem by someone else; leaving it there",
                                     name);
                }
                if (known->decided)
                        return;
        } else {
                known = dax_add_entry(t, &d);
                if (!known) {
                        log_warning("More than %d dax devices: %s is not managed", DAX_DEVICES_MAX, name);
                        return;
                }
        }
        dax_decide(m, known);
}

static DaxDevice *dax_device_of_block_mut(Manager *m, uint32_t index) {
        return (DaxDevice *) dax_device_of_block(m, index);
}

void dax_block_facts(Manager *m, uint32_t index, BlockFacts *facts) {
        DaxDevice *d = dax_device_of_block_mut(m, index);
        uint32_t first, last;

        if (d && d->block_action < 0 && dax_blocks(m, d, &first, &last))
                facts->block_pages *= (uint64_t) (last - first + 1);
}

void dax_block_decided(Manager *m, uint32_t index, const BlockFacts *facts, Decision *d) {
        DaxDevice *dev = dax_device_of_block_mut(m, index);

        if (!dev)
                return;
        if (dev->block_action < 0)
                dev->block_action = (int8_t) d->action;
        else
                policy_decision_follow(d, (Action) dev->block_action, &facts->zones, dev->name);
}

void dax_reload(Manager *m) {
        DaxTable *t = dax_table(m);

        for (size_t i = 0; i < t->n; i++)
                if (t->items[i].redecide && t->items[i].driver != DAX_DRIVER_KMEM) {
                        t->items[i].decided = false;
                        t->items[i].redecide = false;
                }
        (void) dax_scan(m);
}

const DaxDevice *dax_device_of_block(Manager *m, uint32_t index) {
        uint64_t start = inventory_block_start(m->inv, index);
        DaxTable *t = dax_table(m);

        for (int pass = 0; pass < 2; pass++) {
                for (size_t i = 0; i < t->n; i++) {
                        const DaxDevice *d = &t->items[i];
                        if (d->driver == DAX_DRIVER_KMEM && d->size && d->start <= start && start - d->start < d->size)
                                return d;
                }
                /* Someone else may have bound it since: look again once per batch of uevents. */
                if (pass > 0 || t->scanned_at_uevent == m->n_uevents + 1)
                        break;
                (void) dax_scan(m);
        }
        return NULL;
}

void dax_check_policies(int rootfd, const PolicySet *set, FILE *out) {
        int global, version;
        bool has_dax;

        dax_probe_kernel(rootfd, &global, &version);
        has_dax = faccessat(rootfd, DAX_DEVICES, F_OK, 0) >= 0;
        for (size_t i = 0; i < set->n; i++) {
                const Policy *p = &set->items[i];
                uint32_t others = p->devices ? p->devices & ~(1u << DEVICE_DAX_KMEM) : ~(1u << DEVICE_DAX_KMEM);
                bool dax = p->dax_mode_set && p->dax_mode == DAX_MODE_SYSTEM_RAM;

                if (p->memmap_on_memory != 1)
                        continue;
                if (dax && version >= 0 && version < 6008)
                        fprintf(out, "warning: %s:%u: OnMemory=yes cannot be honoured on this kernel (%d.%d): the "
                                "per-device memmap_on_memory of dax devices exists from Linux 6.8 on; their memmap "
                                "comes from existing memory\n", p->path, p->memmap_line, version / 1000, version % 1000);
                else if (dax && global == 0)
                        fprintf(out, "warning: %s:%u: OnMemory=yes cannot be honoured: memory_hotplug.memmap_on_memory "
                                "is off, and only the boot parameter memory_hotplug.memmap_on_memory=1 turns it on\n",
                                p->path, p->memmap_line);
                else if (dax && !has_dax && version < 0)
                        fprintf(out, "warning: %s:%u: OnMemory=yes: this host shows no dax bus and no kernel version; "
                                "it needs Linux 6.8+ and memory_hotplug.memmap_on_memory=1\n", p->path, p->memmap_line);
                /* Only policies that can match blocks of other kinds, or that do not hand dax devices to kmem. */
                if (!dax || (others && !policy_matches_dax_only(p)))
                        fprintf(out, "warning: %s:%u: OnMemory=yes only applies to dax devices that a policy hands to "
                                "kmem ([Dax] Mode=system-ram); for acpi-dimm blocks only the boot parameter "
                                "memory_hotplug.memmap_on_memory decides (now %s), and virtio-mem, hv-balloon and xen "
                                "never put the memmap on the added memory\n", p->path, p->memmap_line,
                                global == 1 ? "on" : global == 2 ? "force" : global == 0 ? "off" : "unknown");
        }
}

void dax_report_print(Manager *m, FILE *out) {
        Inventory *inv = m->inv;
        DaxTable *t = dax_table(m);
        uint32_t first = UINT32_MAX;

        char version[32] = "unknown";

        if (t->kernel_version >= 0)
                snprintf(version, sizeof(version), "%d.%d", t->kernel_version / 1000, t->kernel_version % 1000);
        fprintf(out, "\nmemory_hotplug.memmap_on_memory: %s; kernel %s; %zu dax %s\n",
                t->global_memmap == 1 ? "on" : t->global_memmap == 2 ? "force" : t->global_memmap == 0 ? "off" : "unknown",
                version, t->n, plural(t->n, "device", "devices"));
        if (t->n) {
                fprintf(out, "%-10s %-20s %10s  %-14s %4s  %-10s %-7s %s\n", "DAX", "START", "SIZE", "ORIGIN", "NODE",
                        "DRIVER", "MEMMAP", "POLICY DECISION");
                for (size_t i = 0; i < t->n; i++) {
                        const DaxDevice *d = &t->items[i];
                        DaxFacts facts;
                        DaxDecision dd;

                        dax_device_facts(d, &facts);
                        policy_decide_dax(&m->policies, &facts, &dd);
                        fprintf(out, "%-10s 0x%018" PRIx64 " %6" PRIu64 " MiB  %-14s %4d  %-10s %-7s %s\n", d->name,
                                d->start, d->size >> 20, dax_origin_to_string(d->origin), d->target_node,
                                dax_driver_to_string(d->driver),
                                d->memmap_attr < 0 ? "-" : d->memmap_attr ? "device" : "ram", dd.why);
                }
        }
        /* The memmap of every hot-added block, by the kernel's rules, for runs of one device kind. */
        fprintf(out, "\n%-22s %-10s %-9s %s\n", "HOT-ADDED BLOCKS", "DEVICE", "MEMMAP", "WHY");
        for (uint32_t i = 0; i <= inv->n_blocks; i++) {
                const Block *b = i < inv->n_blocks ? &inv->blocks[i] : NULL;
                bool hot = b && (b->flags & BLOCK_PRESENT) && (b->flags & BLOCK_CLASSIFIED) && b->device != DEVICE_BOOT;

                if (first != UINT32_MAX && (!hot || b->device != inv->blocks[first].device)) {
                        const Block *fb = &inv->blocks[first];
                        const DaxDevice *d = fb->device == DEVICE_DAX_KMEM ? dax_device_of_block(m, first) : NULL;
                        MemmapFacts mf = {
                                .device = fb->device,
                                .kernel_version = t->kernel_version,
                                .global = t->global_memmap,
                                .dax_attribute = d ? d->memmap_attr : -1,
                                .add_size = d ? d->size : (uint64_t) (i - first) * inv->block_size,
                                .block_size = inv->block_size,
                        };
                        MemmapVerdict v;
                        char name[48];

                        memmap_verdict(&mf, &v);
                        if (i - 1 == first)
                                snprintf(name, sizeof(name), "memory%" PRIu32, first);
                        else
                                snprintf(name, sizeof(name), "memory%" PRIu32 "-%" PRIu32, first, i - 1);
                        fprintf(out, "%-22s %-10s %-9s %s\n", name, d ? d->name : device_kind_to_string(fb->device),
                                v.on_memory ? "on-memory" : "in-ram", v.why);
                        first = UINT32_MAX;
                }
                if (hot && first == UINT32_MAX)
                        first = i;
        }
}
