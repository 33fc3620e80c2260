/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <signal.h>
#include <string.h>
#include <syslog.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "actuator.h"
#include "audit.h"
#include "build-config.h"
#include "manager.h"

#define PLANNED_NONE 0xff
/* Survives a restart of memhpd, not a reboot (/run is a tmpfs): exactly the lifetime of the kernel's
 * memory blocks, which is what "never fight the administrator" needs across restarts. */
#define KEPT_OFFLINE_FILE "run/memhpd/offline-by-others"
#define KEPT_OFFLINE_MAX (1u << 22)
#define SETTLE_POLL_USEC 1000 /* how often the newest settling block looks for its links */

static const char *plural(unsigned long long n, const char *one, const char *many) {
        return n == 1 ? one : many;
}

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static AuditFields block_fields(Manager *m, uint32_t index) {
        const Block *b = &m->inv->blocks[index];
        AuditFields f = AUDIT_FIELDS_INIT;

        f.block = index;
        f.node = b->node;
        if (b->flags & BLOCK_CLASSIFIED)
                f.device = device_kind_to_string(b->device);
        return f;
}

static void manager_update_status(Manager *m) {
        if (m->opts.once)
                return;
        (void) sd_notifyf(false,
                          "STATUS=Managing %" PRIu32 " memory blocks on %" PRIu32 " %s (%" PRIu32
                          " offline); %zu %s; %llu onlined, %u failed",
                          m->inv->n_present, m->inv->n_nodes, plural(m->inv->n_nodes, "node", "nodes"),
                          m->inv->n_offline, m->policies.n, plural(m->policies.n, "policy", "policies"), m->n_onlined,
                          m->n_failed);
}

/* Coalesce STATUS= updates: one per loop iteration that changed something, not one per uevent. */
static int on_status(sd_event_source *s _unused_, void *userdata) {
        manager_update_status(userdata);
        return 0;
}

static void status_changed(Manager *m) {
        if (m->status_source)
                (void) sd_event_source_set_enabled(m->status_source, SD_EVENT_ONESHOT);
}

/* --dry-run --once keeps what each block would get, for the report. */
static void plan_set(Manager *m, uint32_t index, Action a) {
        if (!(m->opts.dry_run && m->opts.once))
                return;
        if (m->n_planned < m->inv->n_blocks) {
                uint8_t *p = realloc(m->planned, m->inv->n_blocks);
                if (!p)
                        return;
                memset(p + m->n_planned, PLANNED_NONE, m->inv->n_blocks - m->n_planned);
                m->planned = p;
                m->n_planned = m->inv->n_blocks;
        }
        m->planned[index] = (uint8_t) a;
}

static uint8_t plan_get(Manager *m, uint32_t index) {
        return index < m->n_planned ? m->planned[index] : PLANNED_NONE;
}

static void decide_and_act(Manager *m, uint32_t index) {
        Block *b = &m->inv->blocks[index];
        AuditFields f = block_fields(m, index);
        BlockFacts facts = {
                .index = index,
                .start = inventory_block_start(m->inv, index),
                .size = m->inv->block_size,
                .device = b->device,
                .node = b->node,
                .block_pages = m->inv->block_size / m->inv->page_size,
        };
        Decision d;
        OnlineResult res;
        Zone zone;
        int r, err;

        b->flags |= BLOCK_DECIDED;
        b->flags &= ~BLOCK_REDECIDE;

        r = inventory_block_valid_zones(m->inv, index, &facts.zones);
        if (r < 0) {
                f.error = r;
                f.result = "skipped";
                audit_record(AUDIT_BAD_SYSFS, &f, "memory%" PRIu32 "/valid_zones cannot be read or parsed (%s); "
                             "leaving the block alone", index, strerror(-r));
                b->flags |= BLOCK_REDECIDE; /* a reload tries again */
                return;
        }
        if (b->node >= 0) {
                const NodeInfo *n = inventory_node_stats(m->inv, b->node);
                facts.node_kernel_pages = n->kernel_pages;
                facts.node_movable_pages = n->movable_pages;
        }

        policy_decide(&m->policies, &facts, &d);
        if (d.policy) {
                f.policy_path = d.policy->path;
                f.policy_line = d.policy->line;
        }
        plan_set(m, index, d.action);

        if (d.action == ACTION_LEAVE_OFFLINE) {
                b->flags |= BLOCK_REDECIDE;
                f.action = action_to_string(d.action);
                f.result = m->opts.dry_run ? "dry-run" : "ok";
                audit_record(AUDIT_LEFT_OFFLINE, &f, "left memory%" PRIu32 " offline: %s", index, d.why);
                return;
        }

        f.action = action_to_string(d.action);
        f.zone = d.action == ACTION_ONLINE_MOVABLE ? "movable" : "kernel";
        if (m->opts.dry_run) {
                f.result = "dry-run";
                audit_record(AUDIT_WOULD_ONLINE, &f, "would online memory%" PRIu32 " as %s (dry run): %s", index,
                             f.zone, d.why);
                return;
        }

        res = block_online(m->inv, index, d.action, &err, &zone);
        if (b->node < 0 && b->state == STATE_ONLINE)
                /* Its pages went to a node we do not know: every node's counts need a re-read. */
                inventory_nodes_stale(m->inv);
        switch (res) {
        case ONLINE_DONE:
        case ONLINE_ALREADY:
                m->n_onlined++;
                f.result = res == ONLINE_DONE ? "ok" : "already";
                audit_record(AUDIT_ONLINED, &f, "onlined memory%" PRIu32 " as %s%s: %s", index, f.zone,
                             res == ONLINE_ALREADY ? " (it already was)" : "", d.why);
                break;
        case ONLINE_BY_OTHER:
                b->flags |= BLOCK_BY_OTHER;
                f.zone = zone_to_string(zone);
                f.result = "skipped";
                f.error = err;
                /* ownership.c: under KernelAutoOnline=delegate the kernel was faster, acting for us. */
                if (!ownership_kernel_onlined(m->ownership, &m->policies, m->inv, index, &f))
                        audit_record(AUDIT_ONLINE_BY_OTHER, &f,
                                     "memory%" PRIu32 " was onlined by someone else, in zone %s; leaving it there",
                                     index, zone_to_string(zone));
                break;
        default:
                m->n_failed++;
                b->flags |= BLOCK_REDECIDE;
                f.result = "failed";
                f.error = err;
                audit_record(AUDIT_ONLINE_FAILED, &f, "failed to online memory%" PRIu32 " as %s: %s", index, f.zone,
                             strerror(-err));
        }
        status_changed(m);
}

static void settle_timer_arm(Manager *m) {
        if (!m->settle_timer)
                return;
        if (m->inv->n_pending == 0) {
                (void) sd_event_source_set_enabled(m->settle_timer, SD_EVENT_OFF);
                return;
        }
        if (sd_event_source_get_enabled(m->settle_timer, NULL) > 0)
                return;
        /* Links normally follow within milliseconds; a block still waiting after 100 ms (a
         * firmware_node that never comes) is looked at ten times less often. */
        (void) sd_event_source_set_time_relative(m->settle_timer,
                                                 now_usec() - m->inv->pending_since[0] < 100 * 1000 ?
                                                 SETTLE_POLL_USEC : 10 * SETTLE_POLL_USEC);
        (void) sd_event_source_set_enabled(m->settle_timer, SD_EVENT_ONESHOT);
}

/* A new offline block: wait for its links if needed, then decide. */
static void consider(Manager *m, uint32_t index) {
        Block *b = &m->inv->blocks[index];

        if (b->state != STATE_OFFLINE || (b->flags & BLOCK_DECIDED))
                return;
        if (inventory_block_settle(m->inv, index, m->opts.once, now_usec()) == 0) {
                settle_timer_arm(m);
                return;
        }
        decide_and_act(m, index);
}

/* A block left the pending list: decide on it unless someone else already did. */
static void settled(Manager *m, uint32_t index, bool forced) {
        Block *b = &m->inv->blocks[index];

        if (forced && b->node < 0) {
                AuditFields f = block_fields(m, index);
                f.result = "skipped";
                audit_record(AUDIT_BAD_SYSFS, &f, "memory%" PRIu32 " has no node link after %llu ms; deciding without its node",
                             index, m->settings.settle_usec / 1000);
        }
        if (b->state == STATE_OFFLINE && !(b->flags & BLOCK_DECIDED))
                decide_and_act(m, index);
}

static void settle_pending(Manager *m, bool force_all) {
        uint64_t now = now_usec();

        if (m->inv->n_pending == 0)
                return;
        if (!force_all && now - m->inv->pending_since[0] < m->settings.settle_usec) {
                /* The kernel links a range's blocks to their node and firmware_node in ascending order,
                 * after it created them all: until the newest waiting block is ready none is, so one
                 * probe per tick does, however large the hot-add. */
                uint32_t newest = m->inv->pending[m->inv->n_pending - 1];

                if (inventory_block_settle(m->inv, newest, false, now) == 0)
                        return;
                settled(m, newest, false);
        }

        /* Oldest first; settle() removes entries, so walk from the front. */
        for (size_t i = 0; i < m->inv->n_pending;) {
                uint32_t index = m->inv->pending[i];
                bool force = force_all || now - m->inv->pending_since[i] >= m->settings.settle_usec;

                if (inventory_block_settle(m->inv, index, force, now) == 0) {
                        i++;
                        continue;
                }
                settled(m, index, force);
        }
}

static int on_settle_timer(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        Manager *m = userdata;

        settle_pending(m, false);
        settle_timer_arm(m);
        return 0;
}

static int cmp_u32(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return x < y ? -1 : x > y;
}

/* Read what an earlier instance saved. A damaged file costs only its bad lines. */
static void kept_offline_load(Manager *m) {
        _cleanup_free_ char *text = NULL;
        size_t n = 0, alloc = 0;
        unsigned bad = 0;

        if (root_read_file(m->root->fd, KEPT_OFFLINE_FILE, 64u * 1024 * 1024, &text, NULL, NULL) < 0)
                return;
        for (char *line = text, *eol; line && *line; line = eol ? eol + 1 : NULL) {
                uint64_t v;

                eol = strchr(line, '\n');
                if (eol)
                        *eol = '\0';
                if (!*line || *line == '#')
                        continue;
                if (parse_u64(line, 10, &v) < 0 || v >= UINT32_MAX || n >= KEPT_OFFLINE_MAX) {
                        bad++;
                        continue;
                }
                if (n == alloc) {
                        size_t a = alloc ? alloc * 2 : 64;
                        uint32_t *k = realloc(m->kept_offline, a * sizeof(uint32_t));
                        if (!k)
                                break;
                        m->kept_offline = k;
                        alloc = a;
                }
                m->kept_offline[n++] = (uint32_t) v;
        }
        m->n_kept_offline = n;
        if (n > 1)
                qsort(m->kept_offline, n, sizeof(uint32_t), cmp_u32);
        if (bad)
                log_msg(LOG_WARNING, "/%s: ignored %u lines that are not block numbers", KEPT_OFFLINE_FILE, bad);
}

static bool kept_offline(Manager *m, uint32_t index) {
        return m->n_kept_offline &&
               bsearch(&index, m->kept_offline, m->n_kept_offline, sizeof(uint32_t), cmp_u32);
}

static int kept_offline_save(Manager *m) {
        _cleanup_close_ int fd = -EBADF;
        FILE *f;
        int r = 0;

        (void) mkdirat(m->root->fd, "run/memhpd", 0755);
        fd = openat(m->root->fd, KEPT_OFFLINE_FILE ".new", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return -errno;
        f = fdopen(fd, "w");
        if (!f)
                return -errno;
        fd = -EBADF;
        fputs("# Memory blocks someone other than memhpd took offline; memhpd leaves them offline\n"
              "# across its restarts. Written by memhpd; cleared at reboot.\n", f);
        for (uint32_t i = 0; i < m->inv->n_blocks; i++) {
                const Block *b = &m->inv->blocks[i];
                if ((b->flags & BLOCK_PRESENT) && (b->flags & BLOCK_BY_OTHER) && b->state != STATE_ONLINE)
                        fprintf(f, "%" PRIu32 "\n", i);
        }
        if (fflush(f) != 0 || ferror(f))
                r = -EIO;
        if (fclose(f) != 0 && r == 0)
                r = -errno;
        if (r == 0 && renameat(m->root->fd, KEPT_OFFLINE_FILE ".new", m->root->fd, KEPT_OFFLINE_FILE) < 0)
                r = -errno;
        return r;
}

static int on_save(sd_event_source *s _unused_, void *userdata) {
        Manager *m = userdata;
        int r = kept_offline_save(m);

        if (r < 0)
                log_msg(LOG_WARNING, "Cannot save /%s: %s; a restart may online blocks someone took offline",
                        KEPT_OFFLINE_FILE, strerror(-r));
        return 0;
}

/* Coalesced: one write per loop iteration, after a DIMM's worth of offline uevents. */
static void kept_offline_changed(Manager *m) {
        if (m->save_source && !m->opts.dry_run)
                (void) sd_event_source_set_enabled(m->save_source, SD_EVENT_ONESHOT);
}

static void on_block_report(Inventory *inv, const BlockReport *rep, void *userdata) {
        Manager *m = userdata;
        uint32_t index = rep->index;
        Block *b = &inv->blocks[index];
        AuditFields f = block_fields(m, index);

        if (rep->error) {
                f.error = rep->error;
                f.result = "skipped";
                audit_record(AUDIT_BAD_SYSFS, &f, "%s; leaving memory%" PRIu32 " alone", rep->detail, index);
                return;
        }

        switch (rep->change) {
        case BLOCK_APPEARED:
                if (b->state == STATE_OFFLINE && (b->flags & BLOCK_AT_START) && kept_offline(m, index)) {
                        b->flags |= BLOCK_BY_OTHER | BLOCK_DECIDED;
                        f.result = "skipped";
                        audit_record(AUDIT_LEFT_OFFLINE, &f, "left memory%" PRIu32 " offline: someone else took it "
                                     "offline before memhpd restarted (/%s)", index, KEPT_OFFLINE_FILE);
                } else if (b->state == STATE_OFFLINE)
                        consider(m, index);
                else if (b->state == STATE_ONLINE && !(b->flags & BLOCK_AT_START)) {
                        /* Someone (the kernel's auto-online, a udev rule) was faster than us. */
                        b->flags |= BLOCK_BY_OTHER | BLOCK_DECIDED;
                        f.zone = zone_to_string(inventory_block_zone(inv, index));
                        f.result = "skipped";
                        /* ownership.c: under KernelAutoOnline=delegate the kernel onlined it for us. */
                        if (!ownership_kernel_onlined(m->ownership, &m->policies, inv, index, &f))
                                audit_record(AUDIT_ONLINE_BY_OTHER, &f, "memory%" PRIu32 " appeared already online "
                                             "(zone %s); leaving it alone", index, f.zone);
                } else if (b->state == STATE_ONLINE)
                        b->flags |= BLOCK_DECIDED; /* boot memory: never touched */
                break;

        case BLOCK_STATE_CHANGED:
                if (b->state == STATE_ONLINE && rep->old_state == STATE_GOING_OFFLINE)
                        break; /* an offline that failed (EBUSY): the block simply stayed online */
                if (b->state == STATE_GOING_OFFLINE)
                        break; /* someone is offlining it; its offline uevent follows */
                if (b->state == STATE_ONLINE) {
                        /* ownership.c: only a block memhpd had not decided on can be the kernel's auto-online. */
                        bool undecided = !(b->flags & BLOCK_DECIDED);

                        if (b->flags & BLOCK_BY_OTHER)
                                kept_offline_changed(m);
                        b->flags |= BLOCK_BY_OTHER | BLOCK_DECIDED;
                        b->flags &= ~BLOCK_REDECIDE;
                        f.zone = zone_to_string(inventory_block_zone(inv, index));
                        f.result = "skipped";
                        /* ownership.c: under KernelAutoOnline=delegate the kernel onlined it for us. */
                        if (!undecided || !ownership_kernel_onlined(m->ownership, &m->policies, inv, index, &f))
                                audit_record(AUDIT_ONLINE_BY_OTHER, &f, "memory%" PRIu32 " was onlined by someone else "
                                             "(zone %s)", index, f.zone);
                } else if (b->state == STATE_OFFLINE &&
                           (rep->old_state == STATE_ONLINE || rep->old_state == STATE_GOING_OFFLINE)) {
                        /* The administrator (or a driver) took it offline: never fight that. */
                        b->flags |= BLOCK_BY_OTHER | BLOCK_DECIDED;
                        b->flags &= ~BLOCK_REDECIDE;
                        f.result = "skipped";
                        audit_record(AUDIT_OFFLINE_BY_OTHER, &f,
                                     "memory%" PRIu32 " was taken offline by someone else; not onlining it again",
                                     index);
                        kept_offline_changed(m);
                } else if (b->state == STATE_OFFLINE)
                        consider(m, index);
                break;

        case BLOCK_VANISHED:
                /* The block is gone from the inventory; the record tells where it was. */
                f.node = rep->old.node;
                f.device = (rep->old.flags & BLOCK_CLASSIFIED) ? device_kind_to_string(rep->old.device) : NULL;
                if (rep->old.flags & BLOCK_BY_OTHER)
                        kept_offline_changed(m);
                f.result = "ok";
                audit_record(AUDIT_BLOCK_REMOVED, &f, "memory%" PRIu32 " was removed (it was %s)", index,
                             block_state_to_string(rep->old_state));
                break;
        }
        status_changed(m);
}

static int manager_rescan(Manager *m) {
        int r;

        m->n_rescans++;
        r = inventory_scan(m->inv, on_block_report, m);
        if (r < 0)
                log_msg(LOG_ERR, "Scan of %s/sys/devices/system/memory failed: %s", m->root->path, strerror(-r));
        return r;
}

static int on_rescan(sd_event_source *s _unused_, void *userdata) {
        (void) manager_rescan(userdata);
        return 0;
}

static void schedule_rescan(Manager *m) {
        (void) sd_event_source_set_enabled(m->rescan_source, SD_EVENT_ONESHOT);
}

/* Drop a block from the inventory; the report keeps what it was. */
static BlockReport block_forget(Manager *m, uint32_t index) {
        BlockReport rep = {
                .index = index,
                .change = BLOCK_VANISHED,
                .old_state = m->inv->blocks[index].state,
                .old = m->inv->blocks[index],
        };

        inventory_block_remove(m->inv, index);
        return rep;
}

static void handle_memory_uevent(Manager *m, const char *action, uint32_t index, bool synthetic) {
        BlockReport rep;
        char detail[160];
        int r;

        if (!synthetic && strcmp(action, "add") == 0 && inventory_block(m->inv, index)) {
                /* The kernel sends a real "add" only for a new device: this block was removed and added
                 * again and we missed the remove. A new block, whatever was known of the old one.
                 * (udevadm trigger and "echo add > uevent" carry SYNTH_UUID and only refresh.) */
                AuditFields f = block_fields(m, index);

                f.result = "ok";
                audit_record(AUDIT_EVENTS_LOST, &f, "\"add\" for memory%" PRIu32 ", which memhpd knew: its removal "
                             "was missed, taking it as a new block", index);
                rep = block_forget(m, index);
                if (rep.old.flags & BLOCK_BY_OTHER)
                        kept_offline_changed(m);
        }

        if (strcmp(action, "remove") == 0) {
                if (!inventory_block(m->inv, index))
                        return;
                /* The same record as a removal a scan finds. */
                rep = block_forget(m, index);
                on_block_report(m->inv, &rep, m);
                return;
        }
        if (inventory_block(m->inv, index) &&
            ((strcmp(action, "online") == 0 && m->inv->blocks[index].state == STATE_ONLINE) ||
             (strcmp(action, "offline") == 0 && m->inv->blocks[index].state == STATE_OFFLINE)))
                /* What we know already, typically the kernel confirming our own write: nothing to read. */
                return;
        if (index >= m->inv->n_blocks || !(m->inv->blocks[index].flags & BLOCK_PRESENT)) {
                if (strcmp(action, "add") != 0) {
                        /* An online/offline for a block we never saw: we missed its add. */
                        AuditFields f = AUDIT_FIELDS_INIT;
                        f.block = index;
                        f.result = "ok";
                        audit_record(AUDIT_EVENTS_LOST, &f, "\"%s\" for unknown memory%" PRIu32 ": events were lost, "
                                     "rescanning", action, index);
                        schedule_rescan(m);
                        return;
                }
        }
        r = inventory_block_refresh(m->inv, index, &rep, detail, sizeof(detail));
        if (r == -ERANGE) {
                AuditFields f = AUDIT_FIELDS_INIT;
                f.result = "skipped";
                audit_record(AUDIT_BAD_UEVENT, &f, "ignored uevent ACTION=%s for memory%" PRIu32 ": beyond any physical "
                             "address with %" PRIu64 " MiB blocks", action, index, m->inv->block_size >> 20);
                return;
        }
        if (r == -ENOMEM) {
                log_msg(LOG_CRIT, "Out of memory tracking memory%" PRIu32, index);
                return;
        }
        if (r > 0)
                on_block_report(m->inv, &rep, m);
}

static void handle_node_uevent(Manager *m, const char *action, uint32_t node) {
        AuditFields f = AUDIT_FIELDS_INIT;

        f.node = (int) node;
        f.result = "ok";
        if (strcmp(action, "add") == 0 || strcmp(action, "online") == 0) {
                if (inventory_node_add(m->inv, (int) node) > 0) {
                        audit_record(AUDIT_NODE_ADDED, &f, "node%" PRIu32 " appeared", node);
                        /* Blocks waiting for their node link may find it now (or soon). */
                        settle_pending(m, false);
                        settle_timer_arm(m);
                }
        } else if (strcmp(action, "remove") == 0 || strcmp(action, "offline") == 0) {
                if (inventory_node_remove(m->inv, (int) node) > 0)
                        audit_record(AUDIT_NODE_REMOVED, &f, "node%" PRIu32 " went away", node);
        }
        status_changed(m);
}

static bool action_known(const char *a) {
        static const char *const actions[] = { "add", "remove", "change", "move", "online", "offline", "bind", "unbind" };

        for (size_t i = 0; i < ELEMENTSOF(actions); i++)
                if (strcmp(a, actions[i]) == 0)
                        return true;
        return false;
}

static void bad_uevent(const char *action, const char *devpath, const char *subsystem, const char *why) {
        AuditFields f = AUDIT_FIELDS_INIT;

        f.result = "skipped";
        audit_record(AUDIT_BAD_UEVENT, &f, "ignored uevent ACTION=%.32s SUBSYSTEM=%.32s DEVPATH=%.160s: %s",
                     strna(action), strna(subsystem), strna(devpath), why);
}

static void handle_uevent(Manager *m, struct udev_device *d) {
        const char *action = udev_device_get_action(d);
        const char *devpath = udev_device_get_devpath(d);
        const char *subsystem = udev_device_get_subsystem(d);
        uint32_t index;

        m->n_uevents++;
        if (!action || !devpath || !subsystem || !action_known(action)) {
                bad_uevent(action, devpath, subsystem, "missing or unknown ACTION, DEVPATH or SUBSYSTEM");
                return;
        }
        if (strcmp(subsystem, "memory") == 0) {
                if (strncmp(devpath, "/devices/system/memory/", 23) != 0 ||
                    parse_indexed_name(devpath + 23, "memory", &index) < 0) {
                        bad_uevent(action, devpath, subsystem, "DEVPATH is not /devices/system/memory/memoryN");
                        return;
                }
                handle_memory_uevent(m, action, index, udev_device_get_property_value(d, "SYNTH_UUID") != NULL);
        } else if (strcmp(subsystem, "node") == 0) {
                if (strncmp(devpath, "/devices/system/node/", 21) != 0 ||
                    parse_indexed_name(devpath + 21, "node", &index) < 0 || index >= NODES_MAX) {
                        bad_uevent(action, devpath, subsystem, "DEVPATH is not /devices/system/node/nodeN");
                        return;
                }
                handle_node_uevent(m, action, index);
        }
}

static int on_monitor(sd_event_source *s _unused_, int fd _unused_, uint32_t revents _unused_, void *userdata) {
        Manager *m = userdata;

        for (unsigned i = 0; i < 1024; i++) {
                struct udev_device *d;

                errno = 0;
                d = udev_monitor_receive_device(m->monitor);
                if (!d) {
                        if (errno == ENOBUFS) {
                                AuditFields f = AUDIT_FIELDS_INIT;
                                f.error = ENOBUFS;
                                f.result = "ok";
                                audit_record(AUDIT_EVENTS_LOST, &f,
                                             "uevent receive buffer overflowed (ReceiveBufferSize=%llu): "
                                             "events were lost, rescanning",
                                             m->settings.receive_buffer);
                                schedule_rescan(m);
                                continue; /* the error is reported once; read what is queued */
                        }
                        break; /* EAGAIN: drained (level-triggered, we are called again if not) */
                }
                handle_uevent(m, d);
                udev_device_unref(d);
        }
        return 0;
}

static void monitor_stop(Manager *m) {
        m->monitor_source = sd_event_source_disable_unref(m->monitor_source);
        m->monitor = udev_monitor_unref(m->monitor);
}

/* Open a monitor for the configured source; the old one (if any) is replaced only on success, so a
 * reload that asks for an unusable source leaves memhpd listening where it was. */
static int monitor_start(Manager *m) {
        const char *source = event_source_to_string(m->settings.event_source);
        struct udev_monitor *mon;
        sd_event_source *io = NULL;
        int r;

        mon = udev_monitor_new_from_netlink(m->udev, source);
        if (!mon)
                return log_msg(LOG_ERR, "Cannot create the %s uevent monitor: %m", source), -errno;
        r = udev_monitor_filter_add_match_subsystem_devtype(mon, "memory", NULL);
        if (r >= 0)
                r = udev_monitor_filter_add_match_subsystem_devtype(mon, "node", NULL);
        if (r < 0) {
                log_msg(LOG_ERR, "Cannot set the uevent filter: %s", strerror(-r));
                goto fail;
        }
        r = udev_monitor_set_receive_buffer_size(mon, (int) m->settings.receive_buffer);
        if (r < 0)
                log_msg(LOG_WARNING, "Cannot set the uevent receive buffer to %llu bytes (%s); a large hot-add may "
                        "overflow it and cost a rescan", m->settings.receive_buffer, strerror(-r));
        r = udev_monitor_enable_receiving(mon);
        if (r < 0) {
                log_msg(LOG_ERR, "Cannot listen for %s uevents: %s", source, strerror(-r));
                goto fail;
        }
        r = sd_event_add_io(m->event, &io, udev_monitor_get_fd(mon), EPOLLIN, on_monitor, m);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(io, "uevent-monitor");
        monitor_stop(m);
        m->monitor = mon;
        m->monitor_source = io;
        return 0;
fail:
        udev_monitor_unref(mon);
        return r;
}

static void audit_errors(AuditEvent e, const ConfErrors *errors) {
        for (size_t i = 0; i < errors->n; i++) {
                AuditFields f = AUDIT_FIELDS_INIT;
                f.result = "failed";
                audit_record(e, &f, "%s", errors->items[i].text);
        }
}

int manager_load_config(Manager *m, bool initial) {
        ConfErrors errors = {};
        Settings settings;
        PolicySet set = {};
        bool settings_ok, policies_ok;
        AuditFields f = AUDIT_FIELDS_INIT;

        settings_ok = settings_load(m->root->fd, &settings, &errors) >= 0;
        if (!settings_ok) {
                audit_errors(AUDIT_SETTINGS_REJECTED, &errors);
                conf_errors_clear(&errors);
        }
        policies_ok = policy_set_load(m->root->fd, policy_search_path, &set, &errors) >= 0;
        if (!policies_ok) {
                audit_errors(AUDIT_POLICY_REJECTED, &errors);
                f.result = "failed";
                audit_record(AUDIT_POLICY_REJECTED, &f, "policy set rejected (%zu errors)", errors.n);
                conf_errors_clear(&errors);
        }
        m->config_ok = settings_ok && policies_ok;

        if (!initial && !m->config_ok) {
                /* A reload is all or nothing: settings and policies are one configuration. */
                policy_set_done(&set);
                f.result = "failed";
                audit_record(settings_ok ? AUDIT_POLICY_REJECTED : AUDIT_SETTINGS_REJECTED, &f,
                             "reload rejected: keeping the previous settings and %zu %s", m->policies.n,
                             plural(m->policies.n, "policy", "policies"));
                return -EINVAL;
        }

        /* At start there is nothing to keep: a broken part falls back to the defaults (settings) or
         * to no policy at all (every new block stays offline until a reload succeeds). */
        if (settings_ok)
                m->settings = settings;
        else {
                f.result = "failed";
                audit_record(AUDIT_SETTINGS_REJECTED, &f, "settings rejected, using the defaults");
        }
        if (!policies_ok) {
                f.result = "failed";
                audit_record(AUDIT_POLICY_REJECTED, &f, "running with no policy: every new block stays offline "
                             "until a reload succeeds");
        }
        policy_set_done(&m->policies);
        m->policies = set;

        if (policies_ok) {
                f.result = "ok";
                audit_record(AUDIT_POLICY_LOADED, &f, "loaded %zu %s%s%s", set.n, plural(set.n, "policy", "policies"),
                             set.n ? ", first " : "", set.n ? set.items[0].path : "");
        }
        return m->config_ok ? 0 : -EINVAL;
}

static int on_sighup(sd_event_source *s _unused_, const struct signalfd_siginfo *si _unused_, void *userdata) {
        Manager *m = userdata;
        Settings old = m->settings;

        (void) sd_notify(false, "RELOADING=1");
        (void) manager_load_config(m, false);
        /* ownership.c: report the other agents again and apply the (new) KernelAutoOnline=. */
        ownership_apply(m->ownership, &m->settings, &m->policies);
        if ((old.event_source != m->settings.event_source || old.receive_buffer != m->settings.receive_buffer) &&
            monitor_start(m) < 0) {
                log_msg(LOG_ERR, "Keeping the %s uevent monitor", event_source_to_string(old.event_source));
                m->settings.event_source = old.event_source;
                m->settings.receive_buffer = old.receive_buffer;
        }
        /* Blocks left offline by the previous policy get the new one's say. */
        for (uint32_t i = 0; i < m->inv->n_blocks; i++) {
                Block *b = &m->inv->blocks[i];
                if ((b->flags & BLOCK_PRESENT) && (b->flags & BLOCK_REDECIDE) && b->state == STATE_OFFLINE) {
                        b->flags &= ~(BLOCK_DECIDED | BLOCK_REDECIDE);
                        consider(m, i);
                }
        }
        (void) manager_rescan(m);
        manager_update_status(m);
        (void) sd_notify(false, "READY=1");
        return 0;
}

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        AuditFields f = AUDIT_FIELDS_INIT;

        f.result = "ok";
        audit_record(AUDIT_STOPPED, &f, "stopping on %s", strsignal((int) si->ssi_signo));
        if (m->save_source && sd_event_source_get_enabled(m->save_source, NULL) > 0)
                (void) on_save(m->save_source, m); /* do not lose a pending save to the exit */
        (void) sd_notify(false, "STOPPING=1");
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

int manager_new(const ManagerOptions *opts, Manager **ret) {
        Manager *m;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->opts = *opts;
        settings_defaults(&m->settings);
        r = root_open(opts->root ?: "/", &m->root);
        if (r < 0) {
                free(m);
                return r;
        }
        r = inventory_new(m->root, &m->inv);
        if (r < 0) {
                manager_free(m);
                return r;
        }
        /* ownership.c: the kernel's auto-online and the other agents that online memory. */
        r = ownership_new(m->root->fd, opts->dry_run, &m->ownership);
        if (r < 0) {
                manager_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        /* ownership.c: a stop (SIGTERM, SIGINT, or an error) puts the kernel's auto-online back. */
        m->ownership = ownership_free(m->ownership);
        monitor_stop(m);
        sd_event_source_disable_unref(m->settle_timer);
        sd_event_source_disable_unref(m->rescan_source);
        sd_event_source_disable_unref(m->status_source);
        sd_event_source_disable_unref(m->save_source);
        free(m->kept_offline);
        udev_unref(m->udev);
        sd_event_unref(m->event);
        policy_set_done(&m->policies);
        inventory_free(m->inv);
        root_free(m->root);
        free(m->planned);
        free(m);
        return NULL;
}

int manager_coldplug(Manager *m) {
        int r;

        kept_offline_load(m);
        r = manager_rescan(m);
        /* Only the start-up scan needs the saved list; from now on the blocks' flags say it. */
        m->kept_offline = mfree(m->kept_offline);
        m->n_kept_offline = 0;
        if (r >= 0 && m->inv->iomem_hidden)
                log_msg(LOG_WARNING, "/proc/iomem shows no addresses (memhpd needs CAP_SYS_ADMIN to read them): "
                        "virtio-mem and dax-kmem blocks cannot be told from other memory");
        return r;
}

int manager_run(Manager *m) {
        AuditFields f = AUDIT_FIELDS_INIT;
        sigset_t mask;
        int r;

        r = sd_event_default(&m->event);
        if (r < 0)
                return r;
        m->udev = udev_new();
        if (!m->udev)
                return -ENOMEM;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        r = sd_event_add_signal(m->event, NULL, SIGTERM, on_sigterm, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, on_sigterm, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGHUP, on_sighup, m);
        if (r < 0)
                return r;

        r = sd_event_add_time_relative(m->event, &m->settle_timer, CLOCK_MONOTONIC, SETTLE_POLL_USEC, 1000,
                                       on_settle_timer, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(m->settle_timer, SD_EVENT_OFF);
        r = sd_event_add_defer(m->event, &m->rescan_source, on_rescan, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(m->rescan_source, SD_EVENT_OFF);
        /* After the uevents of one wake-up: rescan and status come last. */
        (void) sd_event_source_set_priority(m->rescan_source, SD_EVENT_PRIORITY_IDLE);
        r = sd_event_add_defer(m->event, &m->save_source, on_save, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(m->save_source, SD_EVENT_OFF);
        (void) sd_event_source_set_priority(m->save_source, SD_EVENT_PRIORITY_IDLE);
        r = sd_event_add_defer(m->event, &m->status_source, on_status, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(m->status_source, SD_EVENT_OFF);
        (void) sd_event_source_set_priority(m->status_source, SD_EVENT_PRIORITY_IDLE);
        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                log_msg(LOG_WARNING, "Cannot enable the watchdog: %s", strerror(-r));

        /* ownership.c: report the other agents, apply KernelAutoOnline= before the first scan. */
        ownership_apply(m->ownership, &m->settings, &m->policies);

        /* Listen before scanning: a block added during the scan then arrives as an event too. */
        r = monitor_start(m);
        if (r < 0)
                return r;
        r = manager_coldplug(m);
        if (r < 0)
                return r;

        f.result = "ok";
        audit_record(AUDIT_STARTED, &f, "started: %" PRIu32 " memory blocks of %" PRIu64 " MiB on %" PRIu32
                     " %s, %" PRIu32 " offline; %zu %s; %s uevents%s",
                     m->inv->n_present, m->inv->block_size >> 20, m->inv->n_nodes,
                     plural(m->inv->n_nodes, "node", "nodes"), m->inv->n_offline, m->policies.n,
                     plural(m->policies.n, "policy", "policies"), event_source_to_string(m->settings.event_source),
                     m->opts.dry_run ? "; dry run, writing nothing" : "");
        (void) sd_notify(false, "READY=1");
        manager_update_status(m);
        return sd_event_loop(m->event);
}

static void print_range(FILE *out, Manager *m, uint32_t first, uint32_t last) {
        const Block *b = &m->inv->blocks[first];
        uint64_t start = inventory_block_start(m->inv, first), end = inventory_block_start(m->inv, last + 1) - 1;
        char name[48], node[16];
        const char *plan;

        if (first == last)
                snprintf(name, sizeof(name), "memory%" PRIu32, first);
        else
                snprintf(name, sizeof(name), "memory%" PRIu32 "-%" PRIu32, first, last);
        snprintf(node, sizeof(node), b->node >= 0 ? "%d" : "?", b->node);
        if (b->state == STATE_ONLINE)
                plan = "leave: already online";
        else if (plan_get(m, first) == PLANNED_NONE)
                plan = "leave: state unknown";
        else if (plan_get(m, first) == ACTION_LEAVE_OFFLINE)
                plan = "leave offline";
        else
                plan = plan_get(m, first) == ACTION_ONLINE_MOVABLE ? "online_movable" : "online_kernel";
        fprintf(out, "%-22s 0x%010" PRIx64 "-0x%010" PRIx64 " %6" PRIu64 " MiB  %-8s %-8s %4s  %-10s %s\n", name,
                start, end, (end - start + 1) >> 20, block_state_to_string(b->state),
                b->state == STATE_ONLINE ? zone_to_string(b->zone) : "-", node,
                (b->flags & BLOCK_CLASSIFIED) ? device_kind_to_string(b->device) : "boot", plan);
}

void manager_print_report(Manager *m, FILE *out) {
        Inventory *inv = m->inv;
        uint32_t first = UINT32_MAX;

        fprintf(out, "memhpd %s: %" PRIu32 " memory blocks of %" PRIu64 " MiB under %s, %" PRIu32 " offline, %zu %s\n\n",
                m->opts.dry_run ? "dry run" : "report", inv->n_present, inv->block_size >> 20, m->root->path,
                inv->n_offline, m->policies.n, plural(m->policies.n, "policy", "policies"));
        fprintf(out, "%-22s %-25s %10s  %-8s %-8s %4s  %-10s %s\n", "BLOCKS", "PHYSICAL RANGE", "SIZE", "STATE",
                "ZONE", "NODE", "DEVICE", "POLICY DECISION");

        for (uint32_t i = 0; i < inv->n_blocks; i++) {
                Block *b = &inv->blocks[i];
                if (!(b->flags & BLOCK_PRESENT))
                        continue;
                if (b->state == STATE_ONLINE)
                        (void) inventory_block_zone(inv, i);
                if (!(b->flags & BLOCK_CLASSIFIED))
                        (void) inventory_block_device(inv, i);
        }
        /* Runs of adjacent blocks that look alike print as one line. */
        for (uint32_t i = 0; i <= inv->n_blocks; i++) {
                Block *b = i < inv->n_blocks ? &inv->blocks[i] : NULL;
                if (first != UINT32_MAX) {
                        Block *f = &inv->blocks[first];
                        if (!b || !(b->flags & BLOCK_PRESENT) || b->state != f->state || b->zone != f->zone ||
                            b->node != f->node || b->device != f->device || plan_get(m, i) != plan_get(m, first)) {
                                print_range(out, m, first, i - 1);
                                first = UINT32_MAX;
                        }
                }
                if (b && (b->flags & BLOCK_PRESENT) && first == UINT32_MAX)
                        first = i;
        }

        fprintf(out, "\n%-6s %14s %14s %8s %8s\n", "NODE", "KERNEL MiB", "MOVABLE MiB", "BLOCKS", "OFFLINE");
        for (int n = 0; n < NODES_MAX; n++) {
                const NodeInfo *ni = &inv->nodes[n];
                if (!ni->present && ni->n_blocks == 0)
                        continue;
                ni = inventory_node_stats(inv, n);
                fprintf(out, "node%-2d %14" PRIu64 " %14" PRIu64 " %8" PRIu32 " %8" PRIu32 "\n", n,
                        (ni->kernel_pages * inv->page_size) >> 20, (ni->movable_pages * inv->page_size) >> 20,
                        ni->n_blocks, ni->n_offline);
        }
        fprintf(out, "\nPolicies, first match wins:\n");
        if (m->policies.n == 0)
                fprintf(out, "  (none: every new block stays offline)\n");
        for (size_t i = 0; i < m->policies.n; i++) {
                const Policy *p = &m->policies.items[i];
                fprintf(out, "  %s:%u  Zone=%s When=%s%s\n", p->path, p->line, zone_target_to_string(p->zone),
                        when_to_string(p->when), p->zone == TARGET_AUTO ? "" : "");
        }
}
