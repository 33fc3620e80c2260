/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns drains (drain.h): parsing a target, finding its blocks, submitting them to the offline engine,
 * the progress, the final record and the eject. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "dax.h"
#include "engine.h"
#include "drain.h"
#include "drain-bus.h"
#include "kept-offline.h"
#include "log.h"
#include "manager.h"
#include "offline-worker.h"
#include "status.h"


static int parse_u32_dec(const char *s, size_t len, uint32_t *ret) {
        uint64_t v = 0;

        if (len == 0 || len > 10)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        if (v >= UINT32_MAX)
                return -ERANGE;
        *ret = (uint32_t) v;
        return 0;
}

int drain_target_parse(const char *s, DrainTarget *ret, char *err, size_t err_size) {
        DrainTarget t = {};
        size_t len = s ? strlen(s) : 0;

        if (len == 0 || len >= 64)
                goto bad;
        if (strncmp(s, "node", 4) == 0) {
                t.kind = DRAIN_TARGET_NODE;
                if (parse_u32_dec(s + 4, len - 4, &t.first) < 0 || t.first >= 1024)
                        goto bad;
                t.last = t.first;
        } else if (strncmp(s, "memory", 6) == 0) {
                const char *dash = strchr(s + 6, '-');

                t.kind = DRAIN_TARGET_BLOCKS;
                if (parse_u32_dec(s + 6, dash ? (size_t) (dash - s - 6) : len - 6, &t.first) < 0)
                        goto bad;
                t.last = t.first;
                if (dash) {
                        /* memory40-47, also memory40-memory47 */
                        const char *e = dash + 1;
                        if (strncmp(e, "memory", 6) == 0)
                                e += 6;
                        if (parse_u32_dec(e, strlen(e), &t.last) < 0)
                                goto bad;
                        if (t.last < t.first) {
                                snprintf(err, err_size, "\"%s\": the range ends before it starts", s);
                                return -EINVAL;
                        }
                        if (t.last - t.first >= DRAIN_BLOCKS_MAX) {
                                snprintf(err, err_size, "\"%s\": more than %u blocks", s, DRAIN_BLOCKS_MAX);
                                return -EINVAL;
                        }
                }
        } else if (strncmp(s, "PNP0C80:", 8) == 0) {
                t.kind = DRAIN_TARGET_ACPI;
                if (len == 8 || len >= sizeof(t.name))
                        goto bad;
                for (const char *p = s + 8; *p; p++)
                        if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'F') || (*p >= 'a' && *p <= 'f')))
                                goto bad;
                memcpy(t.name, s, len + 1);
        } else if (strncmp(s, "dax", 3) == 0) {
                const char *dot = strchr(s + 3, '.');
                uint32_t a, b;

                t.kind = DRAIN_TARGET_DAX;
                if (!dot || parse_u32_dec(s + 3, (size_t) (dot - s - 3), &a) < 0 ||
                    parse_u32_dec(dot + 1, strlen(dot + 1), &b) < 0 || len >= sizeof(t.name))
                        goto bad;
                memcpy(t.name, s, len + 1);
        } else
                goto bad;
        *ret = t;
        return 0;
bad:
        snprintf(err, err_size, "\"%.64s\" is not a drain target: expected a node (node1), a block or range "
                 "(memory40, memory40-47), an ACPI memory device (PNP0C80:03) or a dax device (dax0.0)",
                 s ? s : "");
        return -EINVAL;
}

const char *drain_block_why(int result) {
        switch (result) {
        case 0:
                return "offline";
        case -EINPROGRESS:
                return "pending";
        case -EPERM:
                return "boot memory in a kernel zone, not tried";
        case -EBUSY:
                return "busy after every retry (unmovable pages)";
        case -ETIME:
                return "timed out after every retry";
        case -EHWPOISON:
                return "hardware poison";
        case -ENODEV:
                return "gone (removed)";
        case -ECANCELED:
                return "cancelled";
        case -EALREADY:
                return "another offline job holds it";
        default:
                return "failed";
        }
}

const Drain *drain_current(Manager *m) {
        return m->drain;
}

void drain_free(Manager *m) {
        if (!m->drain)
                return;
        offline_jobs_forget_userdata(m, m->drain);
        free(m->drain->blocks);
        m->drain = mfree(m->drain);
}

/* The ACPI device a block's firmware_node names, "" if none. */
static void block_firmware_node(Manager *m, uint32_t index, char *buf, size_t size) {
        char path[48], target[512];
        const char *base;
        ssize_t n;

        buf[0] = '\0';
        snprintf(path, sizeof(path), "memory%" PRIu32 "/firmware_node", index);
        n = readlinkat(m->root->memory_fd, path, target, sizeof(target) - 1);
        if (n <= 0)
                return;
        target[n] = '\0';
        base = strrchr(target, '/');
        base = base ? base + 1 : target;
        snprintf(buf, size, "%s", base);
}

static bool target_has(Manager *m, const DrainTarget *t, uint32_t index, uint64_t dax_first, uint64_t dax_last) {
        const Block *b = inventory_block(m->inv, index);
        char fw[64];

        if (!b)
                return false;
        switch (t->kind) {
        case DRAIN_TARGET_NODE:
                return b->node == (int) t->first;
        case DRAIN_TARGET_BLOCKS:
                return index >= t->first && index <= t->last;
        case DRAIN_TARGET_DAX:
                return index >= dax_first && index <= dax_last;
        case DRAIN_TARGET_ACPI:
                block_firmware_node(m, index, fw, sizeof(fw));
                return strcasecmp(fw, t->name) == 0;
        default:
                return false;
        }
}

/* A dax device's blocks, from its resource and size. */
static int dax_blocks(Manager *m, const char *name, uint64_t *ret_first, uint64_t *ret_last) {
        char path[96], buf[ROOT_VALUE_MAX];
        uint64_t start, size;

        snprintf(path, sizeof(path), "sys/bus/dax/devices/%s/resource", name);
        if (root_read(m->root->fd, path, buf, sizeof(buf)) < 0 ||
            parse_u64(strncmp(buf, "0x", 2) == 0 ? buf + 2 : buf, 16, &start) < 0)
                return -ENOENT;
        snprintf(path, sizeof(path), "sys/bus/dax/devices/%s/size", name);
        if (root_read(m->root->fd, path, buf, sizeof(buf)) < 0 || parse_u64(buf, 10, &size) < 0 || size == 0)
                return -ENOENT;
        *ret_first = start / m->inv->block_size;
        *ret_last = (start + size - 1) / m->inv->block_size;
        return 0;
}

static int cmp_drain_block(const void *a, const void *b) {
        const DrainBlock *x = a, *y = b;
        int mx = x->zone == ZONE_MOVABLE, my = y->zone == ZONE_MOVABLE;

        if (mx != my)
                return my - mx; /* movable first: they can be offlined, kernel-zone blocks may not */
        return x->index < y->index ? -1 : x->index > y->index;
}

static void drain_progress(Manager *m) {
        status_changed(m);
        drain_bus_changed(m);
}

static void drain_eject(Manager *m, Drain *d) {
        AuditFields f = AUDIT_FIELDS_INIT;
        char fw[64] = "", path[80];
        DeviceKind kind = DEVICE_UNKNOWN;
        int r;

        f.action = "eject";
        for (size_t i = 0; i < d->n_blocks && !fw[0]; i++) {
                if (!inventory_block(m->inv, d->blocks[i].index))
                        continue;
                kind = inventory_block_device(m->inv, d->blocks[i].index);
                block_firmware_node(m, d->blocks[i].index, fw, sizeof(fw));
                f.device = device_kind_to_string(kind);
        }
        if (d->n_failed > 0) {
                f.result = "skipped";
                snprintf(d->eject, sizeof(d->eject), "not ejected: %zu %s still online", d->n_failed,
                         plural(d->n_failed, "block is", "blocks are"));
        } else if (fw[0] && strncmp(fw, "PNP0C80:", 8) == 0) {
                /* Every block of the device the drain found is offline; the kernel offlines any other
                 * itself before it ejects, and fails the eject if it cannot. */
                for (size_t i = 0; i < d->n_blocks; i++) {
                        if (!inventory_block(m->inv, d->blocks[i].index))
                                continue;
                        snprintf(path, sizeof(path), "memory%" PRIu32 "/firmware_node/eject", d->blocks[i].index);
                        break;
                }
                r = root_write(m->root->memory_fd, path, "1");
                f.result = r < 0 ? "failed" : "ok";
                f.error = r;
                if (r < 0)
                        snprintf(d->eject, sizeof(d->eject), "eject of %s failed: %s", fw, strerror(-r));
                else
                        snprintf(d->eject, sizeof(d->eject), "asked for the removal of %s", fw);
        } else if (kind == DEVICE_VIRTIO_MEM) {
                f.result = "skipped";
                snprintf(d->eject, sizeof(d->eject), "not ejected: virtio-mem memory is unplugged by the hypervisor "
                         "(it shrinks the device's requested-size), not by the guest");
        } else if (kind == DEVICE_DAX_KMEM && strncmp(d->target, "dax", 3) == 0) {
                /* kmem's removal takes the (offline) blocks away; the device is devdax again. */
                r = dax_give_back(m, d->target, d->eject, sizeof(d->eject));
                f.result = r < 0 ? "failed" : "ok";
                f.error = r;
                f.dax = d->target;
        } else if (kind == DEVICE_DAX_KMEM) {
                f.result = "skipped";
                snprintf(d->eject, sizeof(d->eject), "not ejected: name the dax device (daxX.Y) as the drain "
                         "target to give it back to devdax");
        } else if (d->n_blocks == 0) {
                f.result = "skipped";
                snprintf(d->eject, sizeof(d->eject), "not ejected: the target has no blocks left");
        } else {
                f.result = "skipped";
                snprintf(d->eject, sizeof(d->eject), "not ejected: %s memory has no eject attribute",
                         device_kind_to_string(kind));
        }
        audit_record(AUDIT_EJECT, &f, "drain of %s: %s (asked by %s)", d->target, d->eject, d->who);
}

static void drain_finish(Manager *m, Drain *d) {
        AuditFields f = AUDIT_FIELDS_INIT;
        char list[400] = "";
        size_t len = 0;

        if (!d->running)
                return; /* a job's callback already finished it */
        d->running = false;
        d->result = d->n_failed ? -EBUSY : 0;
        for (size_t i = 0; i < d->n_blocks; i++) {
                const DrainBlock *b = &d->blocks[i];
                int n;

                if (b->result == 0 || b->result == -ENODEV || len >= sizeof(list))
                        continue;
                n = snprintf(list + len, sizeof(list) - len, "%smemory%" PRIu32 " (%s%s: %s)", len ? ", " : "",
                             b->index, b->zone != ZONE_UNKNOWN ? "zone " : "",
                             b->zone != ZONE_UNKNOWN ? zone_to_string(b->zone) : "state unknown",
                             drain_block_why(b->result));
                if (n > 0)
                        len += (size_t) n;
        }
        f.action = "drain";
        f.result = d->n_failed ? "failed" : "ok";
        if (d->n_failed)
                audit_record(AUDIT_DRAIN_FINISHED, &f, "drain of %s finished: %zu of %zu blocks offline; still "
                             "online: %s (asked by %s)", d->target, d->n_blocks - d->n_failed, d->n_blocks, list, d->who);
        else
                audit_record(AUDIT_DRAIN_FINISHED, &f, "drain of %s finished: all %zu blocks offline (asked by %s)",
                             d->target, d->n_blocks, d->who);
        if (d->flags & DRAIN_FLAG_EJECT)
                drain_eject(m, d);
}

static void on_block_done(Manager *m, uint32_t index, int result, void *userdata) {
        Drain *d = userdata;

        for (size_t i = 0; i < d->n_blocks; i++) {
                if (d->blocks[i].index != index || d->blocks[i].result != -EINPROGRESS)
                        continue;
                d->blocks[i].result = result;
                d->n_done++;
                if (result < 0 && result != -ENODEV)
                        d->n_failed++;
                break;
        }
        if (d->n_done == d->n_blocks)
                drain_finish(m, d);
        drain_progress(m);
}

static bool boot_kernel_block(Manager *m, uint32_t index, Zone zone) {
        return zone_is_kernel(zone) && inventory_block_device(m->inv, index) == DEVICE_BOOT;
}

int drain_start(Manager *m, const char *target, uint64_t flags, const char *who, char *err, size_t err_size) {
        AuditFields f = AUDIT_FIELDS_INIT;
        uint64_t dax_first = 0, dax_last = 0;
        size_t n = 0, n_online = 0, n_boot = 0, n_offline = 0, n_movable = 0;
        DrainTarget t;
        Drain *d;
        int r;

        r = drain_target_parse(target, &t, err, err_size);
        if (r < 0)
                return r;
        if (flags & ~(uint64_t) _DRAIN_FLAGS_ALL) {
                snprintf(err, err_size, "unknown drain flags 0x%" PRIx64, flags & ~(uint64_t) _DRAIN_FLAGS_ALL);
                return -EOPNOTSUPP;
        }
        if (m->drain && m->drain->running) {
                snprintf(err, err_size, "a drain of %s is running (%zu of %zu blocks done); one drain at a time",
                         m->drain->target, m->drain->n_done, m->drain->n_blocks);
                return -EBUSY;
        }
        if (m->opts.dry_run) {
                snprintf(err, err_size, "memhpd runs with --dry-run: it offlines nothing");
                return -EROFS;
        }
        if (t.kind == DRAIN_TARGET_DAX && dax_blocks(m, t.name, &dax_first, &dax_last) < 0) {
                snprintf(err, err_size, "no dax device %s (or its resource and size cannot be read)", t.name);
                return -ENOENT;
        }
        if (t.kind == DRAIN_TARGET_NODE && (t.first >= NODES_MAX || !m->inv->nodes[t.first].present)) {
                snprintf(err, err_size, "no NUMA node %s", target);
                return -ENOENT;
        }

        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        for (uint32_t i = 0; i < m->inv->n_blocks; i++) {
                const Block *b;
                Zone z;

                if (!target_has(m, &t, i, dax_first, dax_last))
                        continue;
                b = inventory_block(m->inv, i);
                if (b->state == STATE_OFFLINE) {
                        /* Already offline: the administrator wants it kept so. */
                        kept_offline_mark_admin(m, i);
                        n_offline++;
                        continue;
                }
                if (n % 64 == 0) {
                        DrainBlock *nb = realloc(d->blocks, (n + 64) * sizeof(DrainBlock));
                        if (!nb) {
                                free(d->blocks);
                                free(d);
                                return -ENOMEM;
                        }
                        d->blocks = nb;
                }
                z = inventory_block_zone(m->inv, i);
                d->blocks[n++] = (DrainBlock) { .index = i, .result = -EINPROGRESS, .zone = (uint8_t) z };
                n_online++;
                if (boot_kernel_block(m, i, z))
                        n_boot++;
        }
        if (n_offline)
                kept_offline_changed(m);
        if (n_online == 0 && n_offline == 0) {
                snprintf(err, err_size, "%s has no memory blocks", target);
                free(d);
                return -ENOENT;
        }
        if (n_online > 0 && n_boot == n_online) {
                snprintf(err, err_size, "%s is boot memory in a kernel zone (%zu %s): memhpd does not offline it",
                         target, n_boot, plural(n_boot, "block", "blocks"));
                free(d->blocks);
                free(d);
                return -EPERM;
        }
        if (n > 1)
                qsort(d->blocks, n, sizeof(DrainBlock), cmp_drain_block);
        for (size_t i = 0; i < n; i++)
                n_movable += d->blocks[i].zone == ZONE_MOVABLE;
        snprintf(d->target, sizeof(d->target), "%s", target);
        snprintf(d->who, sizeof(d->who), "%s", who && *who ? who : "unknown");
        d->t = t;
        d->flags = flags;
        d->n_blocks = n;
        d->running = true;

        drain_free(m); /* the last drain's result */
        m->drain = d;
        f.action = "drain";
        f.result = "ok";
        audit_record(AUDIT_DRAIN_STARTED, &f, "draining %s: %zu online %s to offline (%zu movable first), "
                     "%zu already offline%s; asked by %s", target, n, plural(n, "block", "blocks"),
                     n_movable,
                     n_offline, flags & DRAIN_FLAG_EJECT ? ", then eject" : "", d->who);

        for (size_t i = 0; i < n; i++) {
                DrainBlock *b = &d->blocks[i];

                if (boot_kernel_block(m, b->index, b->zone)) {
                        b->result = -EPERM;
                        d->n_done++;
                        d->n_failed++;
                        continue;
                }
                r = offline_job_submit_as(m, b->index, OFFLINE_CAUSE_DRAIN, d->who, on_block_done, d);
                if (r == -ENOMEM)
                        log_oom_abort();
                if (r < 0) {
                        b->result = r == -EALREADY ? -EALREADY : r;
                        d->n_done++;
                        d->n_failed++;
                }
        }
        /* Nothing was queued (every block refused): finish now. */
        if (d->n_done == d->n_blocks)
                drain_finish(m, d);
        drain_progress(m);
        return 0;
}
