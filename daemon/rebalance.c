/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns moving Zone=auto blocks from ZONE_MOVABLE to a kernel zone when a node's kernel zones run out: the
 * reclaim events that wake it (a tracefs instance of its own), the check of /proc/zoneinfo while the
 * node is short, the choice of block and the move (offline engine, then engine_online_rebalanced()). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "engine.h"
#include "log.h"
#include "manager.h"
#include "offline-worker.h"
#include "pressure.h"
#include "quarantine.h"
#include "rebalance.h"
#include "status.h"
#include "tracefs.h"

#define KPF_BUDDY 10
#define KPF_IDLE 25

/* Growth first: an unmovable or reclaimable allocation took a pageblock from another migrate type, which
 * slab and page tables do every 2-4 MiB as they grow, long before any watermark (measured under 6.1: the
 * first one came with 280 MiB free in the kernel zones). Then the late ones, at the low watermark. */
static const char *const events[] = { "kmem/mm_page_alloc_extfrag", "vmscan/mm_vmscan_wakeup_kswapd",
                                      "vmscan/mm_vmscan_direct_reclaim_begin" };
/* Page cache stealing from unmovable pageblocks is no sign of kernel memory growing: dropped in the kernel. */
#define EXTFRAG_FILTER "alloc_migratetype != 1"


bool rebalance_node_needs(const ZoneinfoNode *z, uint64_t block_pages) {
        unsigned __int128 room, want, movable_spare;

        if (!z->has_zone || z->watermarks_missing || z->kernel_high == 0 || block_pages == 0)
                return false;
        room = (unsigned __int128) z->kernel_room + z->kernel_file_pages;
        want = (unsigned __int128) z->kernel_high * (100 + PRESSURE_MARGIN_PERCENT) / 100 + block_pages;
        movable_spare = (unsigned __int128) z->movable_high * (100 + PRESSURE_MARGIN_PERCENT) / 100 + block_pages;
        return room < want && z->movable_free >= movable_spare;
}

bool rebalance_node_settled(const ZoneinfoNode *z, uint64_t block_pages) {
        unsigned __int128 room, want;

        if (!z->has_zone || z->watermarks_missing || z->kernel_high == 0 || block_pages == 0)
                return true;
        room = (unsigned __int128) z->kernel_room + z->kernel_file_pages;
        want = (unsigned __int128) z->kernel_high * (100 + PRESSURE_MARGIN_PERCENT) / 100 + 2 * (unsigned __int128) block_pages;
        return room >= want;
}

uint64_t rebalance_used_pages(const uint64_t *flags, size_t n) {
        const uint64_t free_marks = (UINT64_C(1) << KPF_BUDDY) | (UINT64_C(1) << KPF_IDLE);
        uint64_t used = 0;

        for (size_t i = 0; i < n; i++)
                used += (flags[i] & ~free_marks) != 0;
        return used;
}

struct Rebalance {
        TracefsInstance trace;
        int pipe_fd;
        sd_event_source *io, *timer;
        bool enabled;            /* the events are on and the pipe watched */
        bool unavailable;        /* said once why not; the loop goes on without it */
        char why_unavailable[160];
        uint32_t moving;         /* the block on its way, UINT32_MAX for none */
        uint32_t failed[16];     /* blocks whose offline failed: not chosen again until they go offline */
        size_t n_failed;
        unsigned long long n_moved;
        /* While active: the kernel zones' room (all nodes) when it last shrank, and since when it has not. */
        uint64_t room_mark, quiet_since;
        bool cooling;            /* the timer is the rest before the events come back on */
        sd_event_source *check_timer;
        uint64_t last_check;     /* the last look over the blocks (rebalance_check()) */
        unsigned reads_left;     /* sysfs reads (zone, device) the look in progress may still make */
};


static Rebalance *rebalance_get(Manager *m) {
        Rebalance *r = m->rebalance;

        if (r)
                return r;
        r = calloc(1, sizeof(*r));
        if (!r)
                log_oom_abort();
        r->trace = (TracefsInstance) TRACEFS_INSTANCE_INIT;
        r->pipe_fd = -EBADF;
        r->moving = UINT32_MAX;
        m->rebalance = r;
        return r;
}

Rebalance *rebalance_free(Rebalance *r) {
        if (!r)
                return NULL;
        sd_event_source_disable_unref(r->io);
        sd_event_source_disable_unref(r->timer);
        sd_event_source_disable_unref(r->check_timer);
        if (r->pipe_fd >= 0)
                (void) close(r->pipe_fd);
        tracefs_instance_close(&r->trace);
        free(r);
        return NULL;
}

static bool failed_before(const Rebalance *r, uint32_t index) {
        for (size_t i = 0; i < r->n_failed; i++)
                if (r->failed[i] == index)
                        return true;
        return false;
}

/* Is any policy Zone=auto? Without one no block can move, and no block is looked at. */
static bool any_auto_policy(Manager *m) {
        for (size_t i = 0; i < m->policies.n; i++)
                if (m->policies.items[i].zone == TARGET_AUTO && m->policies.items[i].when != WHEN_MANUAL)
                        return true;
        return false;
}

/* Could block 'index' move to a kernel zone ('node' >= 0: and is it on that node)? */
static bool block_movable_candidate(Manager *m, uint32_t index, int node) {
        Block *b = &m->inv->blocks[index];
        const Policy *p;
        DeviceKind d;
        Origin o;

        if (!(b->flags & BLOCK_PRESENT) || b->state != STATE_ONLINE ||
            (b->flags & (BLOCK_BY_OTHER | BLOCK_BY_ADMIN | BLOCK_OFFLINING)))
                return false;
        if (node >= 0 && b->node != node)
                return false;
        /* A block online at start has its zone unread: not worth a sysfs read on a node without ZONE_MOVABLE
         * (boot memory of most hosts), and at most REBALANCE_READS_PER_LOOK reads of zone or device per look
         * (131072 blocks would cost half a second at once); the others are read by the next looks. */
        if (b->zone == ZONE_UNKNOWN) {
                if (b->node >= 0 && b->node < NODES_MAX && !m->inv->nodes[b->node].stats_stale &&
                    m->inv->nodes[b->node].movable_pages == 0)
                        return false;
                if (m->rebalance->reads_left == 0)
                        return false;
                m->rebalance->reads_left--;
                if (inventory_block_zone(m->inv, index) != ZONE_MOVABLE)
                        return false;
        } else if (b->zone != ZONE_MOVABLE)
                return false;
        if (!(b->flags & BLOCK_CLASSIFIED)) {
                if (m->rebalance->reads_left == 0)
                        return false;
                m->rebalance->reads_left--;
        }
        d = inventory_block_device(m->inv, index);
        if (d != DEVICE_ACPI_DIMM && d != DEVICE_DAX_KMEM && d != DEVICE_UNKNOWN)
                return false;
        o = origin_kind(inventory_block_origin(m->inv, index));
        if (o == ORIGIN_ADMINISTRATOR || o == ORIGIN_OTHER || o == ORIGIN_QUARANTINED)
                return false;
        if (quarantine_contains(m->quarantine, inventory_block_start(m->inv, index), m->inv->block_size))
                return false;
        if (failed_before(m->rebalance, index))
                return false;
        p = engine_block_policy(m, index);
        return p && p->zone == TARGET_AUTO && p->when != WHEN_MANUAL;
}

static bool any_candidate(Manager *m, int node) {
        if (!any_auto_policy(m))
                return false;
        m->rebalance->reads_left = REBALANCE_READS_PER_LOOK;
        for (uint32_t i = m->inv->n_blocks; i-- > 0;)
                if (block_movable_candidate(m, i, node))
                        return true;
        return false;
}

/* The block to move on 'node': of the last REBALANCE_INSPECT_MAX candidates, the one with the fewest pages
 * in use (the offline migrates them), the highest number if /proc/kpageflags cannot be read. Returns
 * UINT32_MAX if there is none; *ret_used gets its pages in use (UINT64_MAX: not counted). */
static uint32_t choose_block(Manager *m, int node, uint64_t *ret_used) {
        uint64_t pages = m->inv->block_size / m->inv->page_size, best_used = UINT64_MAX, buf[4096];
        uint32_t best = UINT32_MAX;
        unsigned looked = 0;
        int fd;

        m->rebalance->reads_left = REBALANCE_READS_PER_LOOK;
        fd = openat(m->root->fd, "proc/kpageflags", O_RDONLY | O_CLOEXEC);
        for (uint32_t i = m->inv->n_blocks; i-- > 0 && looked < REBALANCE_INSPECT_MAX;) {
                uint64_t used = 0, first = (uint64_t) i * pages;
                bool ok = fd >= 0;

                if (!block_movable_candidate(m, i, node))
                        continue;
                looked++;
                if (best == UINT32_MAX)
                        best = i; /* the highest, should counting fail */
                for (uint64_t pfn = first; ok && pfn < first + pages;) {
                        size_t want = first + pages - pfn < ELEMENTSOF(buf) ? first + pages - pfn : ELEMENTSOF(buf);
                        ssize_t n = pread(fd, buf, want * 8, (off_t) (pfn * 8));

                        if (n <= 0 || n % 8) {
                                ok = false;
                                break;
                        }
                        used += rebalance_used_pages(buf, (size_t) n / 8);
                        pfn += (uint64_t) n / 8;
                }
                if (ok && used < best_used) {
                        best_used = used;
                        best = i;
                }
        }
        if (fd >= 0)
                (void) close(fd);
        *ret_used = best_used;
        return best;
}

static void rebalance_arm_timer(Manager *m, uint64_t usec);

static void on_offlined(Manager *m, uint32_t index, int result, void *userdata _unused_) {
        Rebalance *r = m->rebalance;

        if (!r)
                return;
        r->moving = UINT32_MAX;
        if (result == -ECANCELED)
                return;
        if (result < 0) {
                /* The offline engine recorded why; this block is not chosen again while it stays. */
                if (r->n_failed < ELEMENTSOF(r->failed))
                        r->failed[r->n_failed++] = index;
        } else if (engine_online_rebalanced(m, index) >= 0)
                r->n_moved++;
        status_changed(m);
        rebalance_arm_timer(m, REBALANCE_TICK_USEC);
}

/* Move one block on 'node', with the figures that called for it in the record. */
static bool rebalance_move(Manager *m, int node, const ZoneinfoNode *z, const char *trigger) {
        Rebalance *r = m->rebalance;
        AuditFields f;
        uint64_t used, kib = m->inv->page_size / 1024, pages = m->inv->block_size / m->inv->page_size;
        uint32_t index;
        char in_use[48] = "";
        int k;

        index = choose_block(m, node, &used);
        if (index == UINT32_MAX)
                return false;
        f = engine_block_fields(m, index);
        f.zone = "movable";
        f.action = "rebalance";
        f.result = m->opts.dry_run ? "dry-run" : "ok";
        if (used != UINT64_MAX)
                snprintf(in_use, sizeof(in_use), " (%" PRIu64 " of its %" PRIu64 " pages in use)", used, pages);
        audit_record(AUDIT_REBALANCE, &f,
                     "%s: node%d's kernel zones have %" PRIu64 " kB of room above their lowmem reserve and %" PRIu64
                     " kB of page cache, below their high watermark of %" PRIu64 " kB + %d%% + one block; ZONE_MOVABLE "
                     "has %" PRIu64 " kB free: moving memory%" PRIu32 "%s from ZONE_MOVABLE to a kernel zone",
                     trigger, node, z->kernel_room * kib, z->kernel_file_pages * kib, z->kernel_high * kib,
                     PRESSURE_MARGIN_PERCENT, z->movable_free * kib, index, in_use);
        if (m->opts.dry_run)
                return false;
        k = offline_job_submit(m, index, OFFLINE_CAUSE_REBALANCE, on_offlined, NULL);
        if (k < 0) {
                log_warning_errno(k, "Cannot offline memory%" PRIu32 " to move it to a kernel zone: %m", index);
                if (r->n_failed < ELEMENTSOF(r->failed))
                        r->failed[r->n_failed++] = index;
                return false;
        }
        r->moving = index;
        return true;
}

/* Read /proc/zoneinfo and move a block on the first node that needs kernel memory. Returns true while
 * watching should go on: a move is under way, or some node (with a block that could move) has less than
 * two blocks of room and its kernel zones were still being used up within REBALANCE_QUIET_USEC. */
static bool rebalance_evaluate(Manager *m, const char *trigger) {
        Rebalance *r = m->rebalance;
        uint64_t pages = m->inv->block_size / m->inv->page_size, room = 0, now = now_monotonic_usec();
        const ZoneinfoNode *z;
        bool unsettled = false;
        int k;

        if (r->moving != UINT32_MAX)
                return true;
        k = pressure_zoneinfo(m, &z);
        if (k < 0) {
                log_debug_errno(k, "Cannot read /proc/zoneinfo for the kernel zones' room: %m");
                return false;
        }
        for (int node = 0; node < NODES_MAX; node++) {
                if (rebalance_node_settled(&z[node], pages))
                        continue;
                /* One move at a time; choosing the block is the look over that node's blocks. */
                if (rebalance_node_needs(&z[node], pages) && rebalance_move(m, node, &z[node], trigger))
                        return true;
                if (!any_candidate(m, node))
                        continue;
                unsettled = true;
                room += z[node].kernel_room + z[node].kernel_file_pages;
        }
        if (!unsettled || m->opts.dry_run)
                return false;
        /* Still being used up? A move raises the room: only a fall counts. */
        if (r->quiet_since == 0 || room + REBALANCE_QUIET_PAGES < r->room_mark) {
                r->room_mark = room;
                r->quiet_since = now;
        } else if (room > r->room_mark)
                r->room_mark = room;
        return now - r->quiet_since < REBALANCE_QUIET_USEC;
}

static void rebalance_unavailable(Manager *m, int error, const char *what);

/* Switch the events and the pipe's source on or off. Returns how many events are on (or were switched off),
 * -errno if none could be switched on. */
static int events_set(Manager *m, bool on) {
        Rebalance *r = m->rebalance;
        int n = 0, error = 0;

        if (r->enabled == on)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(events); i++) {
                int k = tracefs_event_enable(&r->trace, events[i], on);
                if (k < 0) {
                        log_debug_errno(k, "Cannot %s %s: %m", on ? "enable" : "disable", events[i]);
                        error = k;
                } else
                        n++;
        }
        if (on && n == 0) {
                rebalance_unavailable(m, error, "Cannot enable kmem:mm_page_alloc_extfrag, vmscan:mm_vmscan_wakeup_kswapd "
                                      "or mm_vmscan_direct_reclaim_begin in the tracefs instance " REBALANCE_INSTANCE);
                return error;
        }
        if (r->io)
                (void) sd_event_source_set_enabled(r->io, on ? SD_EVENT_ON : SD_EVENT_OFF);
        r->enabled = on;
        return n;
}

static int on_tick(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        Manager *m = userdata;
        Rebalance *r = m->rebalance;

        r->timer = sd_event_source_disable_unref(r->timer);
        if (r->cooling) {
                /* A second of rest before the events come back on: a host whose page allocator falls
                 * back all the time wakes memhpd at most about once a second. */
                r->cooling = false;
                rebalance_check(m);
        } else if (rebalance_evaluate(m, "kernel zones still short"))
                rebalance_arm_timer(m, REBALANCE_TICK_USEC);
        else {
                r->cooling = true;
                rebalance_arm_timer(m, REBALANCE_COOLDOWN_USEC);
        }
        return 0;
}

static void rebalance_arm_timer(Manager *m, uint64_t usec) {
        Rebalance *r = m->rebalance;
        int k;

        if (r->timer || !m->event)
                return;
        k = sd_event_add_time_relative(m->event, &r->timer, CLOCK_MONOTONIC, usec, usec / 10, on_tick, m);
        if (k < 0)
                log_warning_errno(k, "Cannot start the check of the kernel zones' room: %m");
        else
                (void) sd_event_source_set_description(r->timer, "rebalance-tick");
}

static int on_trace_pipe(sd_event_source *s, int fd, uint32_t revents, void *userdata);

static void reopen_pipe(Manager *m) {
        Rebalance *r = m->rebalance;
        int k;

        r->io = sd_event_source_disable_unref(r->io);
        if (r->pipe_fd >= 0)
                r->pipe_fd = (close(r->pipe_fd), -EBADF);
        k = tracefs_pipe_open(&r->trace);
        if (k >= 0) {
                r->pipe_fd = k;
                k = sd_event_add_io(m->event, &r->io, r->pipe_fd, EPOLLIN, on_trace_pipe, m);
        }
        if (k < 0) {
                rebalance_unavailable(m, k, "trace_pipe of " REBALANCE_INSTANCE " ended and cannot be reopened");
                return;
        }
        (void) sd_event_source_set_description(r->io, "reclaim-events");
        (void) sd_event_source_set_enabled(r->io, r->enabled ? SD_EVENT_ON : SD_EVENT_OFF);
}

static int on_trace_pipe(sd_event_source *s _unused_, int fd, uint32_t revents _unused_, void *userdata) {
        Manager *m = userdata;
        Rebalance *r = m->rebalance;
        char buf[4096], trigger[96] = "the kernel zones are being used";
        bool any = false;

        /* The lines only say that reclaim started: which event first is all the record needs. */
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf) - 1);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n == 0) {
                        /* Only a FIFO (a test's fake tracefs) ends; the kernel's trace_pipe does not.
                         * Reopen it so that the next writer is heard and EPOLLHUP does not spin the loop. */
                        reopen_pipe(m);
                        break;
                }
                if (n < 0)
                        break;
                buf[n] = '\0';
                if (!any) {
                        if (strstr(buf, "mm_vmscan_direct_reclaim_begin"))
                                snprintf(trigger, sizeof(trigger), "an allocation had to reclaim (direct reclaim)");
                        else if (strstr(buf, "mm_vmscan_wakeup_kswapd"))
                                snprintf(trigger, sizeof(trigger), "a zone fell below its low watermark (kswapd woken)");
                        else if (strstr(buf, "mm_page_alloc_extfrag"))
                                snprintf(trigger, sizeof(trigger), "kernel memory grows (an unmovable allocation took "
                                         "a new pageblock)");
                }
                any = true;
        }
        if (!any)
                return 0;
        r->quiet_since = 0;
        r->cooling = false;
        /* Quiet until the tick finds room again: the events can come thousands a second. */
        events_set(m, false);
        (void) rebalance_evaluate(m, trigger);
        rebalance_arm_timer(m, REBALANCE_TICK_USEC);
        return 0;
}

static void rebalance_unavailable(Manager *m, int error, const char *what) {
        Rebalance *r = m->rebalance;

        r->unavailable = true;
        r->enabled = false;
        r->io = sd_event_source_disable_unref(r->io);
        snprintf(r->why_unavailable, sizeof(r->why_unavailable), "%s: %s", what, strerror(error < 0 ? -error : error));
        log_warning_errno(error, "%s (%m): Zone=auto blocks in ZONE_MOVABLE are not moved to a kernel zone when the "
                          "kernel zones run out; memhpd keeps onlining", what);
        if (r->pipe_fd >= 0)
                r->pipe_fd = (close(r->pipe_fd), -EBADF);
        tracefs_instance_close(&r->trace);
}

static int rebalance_open(Manager *m) {
        Rebalance *r = m->rebalance;
        const char *what = NULL;
        int k;

        /* 4 kB a CPU: the lines are only a wake-up, and the events are off while memhpd acts. */
        k = tracefs_instance_open(m->root, REBALANCE_INSTANCE, 4, &r->trace, &what);
        if (k < 0) {
                rebalance_unavailable(m, k, what);
                return k;
        }
        k = tracefs_pipe_open(&r->trace);
        if (k < 0) {
                rebalance_unavailable(m, k, "Cannot open trace_pipe of the tracefs instance " REBALANCE_INSTANCE);
                return k;
        }
        r->pipe_fd = k;
        k = sd_event_add_io(m->event, &r->io, r->pipe_fd, EPOLLIN, on_trace_pipe, m);
        if (k < 0) {
                rebalance_unavailable(m, k, "Cannot watch trace_pipe of " REBALANCE_INSTANCE);
                return k;
        }
        (void) sd_event_source_set_description(r->io, "reclaim-events");
        (void) sd_event_source_set_enabled(r->io, SD_EVENT_OFF);
        k = root_write(r->trace.fd, "events/kmem/mm_page_alloc_extfrag/filter", EXTFRAG_FILTER);
        if (k < 0)
                log_debug_errno(k, "Cannot filter mm_page_alloc_extfrag (\"" EXTFRAG_FILTER "\"): %m");
        return 0;
}

static int on_check_timer(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        Manager *m = userdata;

        m->rebalance->check_timer = sd_event_source_disable_unref(m->rebalance->check_timer);
        rebalance_check(m);
        return 0;
}

void rebalance_check(Manager *m) {
        Rebalance *r;
        uint64_t now;
        bool want;

        if (!m->event || m->opts.once || m->opts.dry_run)
                return;
        r = rebalance_get(m);
        if (r->unavailable || r->timer || r->moving != UINT32_MAX)
                return; /* the tick decides when to wait for events again */
        /* At most one look over the blocks a second: a burst of hot-adds changes the status every loop
         * iteration, and a look may match a policy per movable block. The last change is looked at later. */
        now = now_monotonic_usec();
        if (r->last_check > 0 && now - r->last_check < REBALANCE_CHECK_USEC) {
                if (!r->check_timer &&
                    sd_event_add_time_relative(m->event, &r->check_timer, CLOCK_MONOTONIC,
                                               REBALANCE_CHECK_USEC - (now - r->last_check), REBALANCE_CHECK_USEC / 10,
                                               on_check_timer, m) >= 0)
                        (void) sd_event_source_set_description(r->check_timer, "rebalance-check");
                return;
        }
        r->last_check = now;
        /* A block that failed and went offline since may be chosen again once it is back. */
        for (size_t i = 0; i < r->n_failed;)
                if (!inventory_block(m->inv, r->failed[i]) || inventory_block(m->inv, r->failed[i])->state != STATE_ONLINE)
                        r->failed[i] = r->failed[--r->n_failed];
                else
                        i++;
        want = any_candidate(m, -1);
        log_debug("Looked for Zone=auto blocks that could move to a kernel zone in %" PRIu64 " us: %s", now_monotonic_usec() - now,
                  want ? "found one" : "none");
        if (want && r->trace.fd < 0 && rebalance_open(m) < 0)
                return;
        if (want != r->enabled && r->trace.fd >= 0) {
                if (events_set(m, want) < 0)
                        return;
                log_debug("%s the kernel's reclaim events for Zone=auto blocks in ZONE_MOVABLE",
                          want ? "Watching" : "No Zone=auto block can move: not watching");
        }
}

void rebalance_stop(Manager *m) {
        Rebalance *r = m->rebalance;

        if (!r)
                return;
        if (r->trace.fd >= 0)
                events_set(m, false);
        r->io = sd_event_source_disable_unref(r->io);
        if (r->pipe_fd >= 0)
                r->pipe_fd = (close(r->pipe_fd), -EBADF);
        m->rebalance = rebalance_free(r);
}

void rebalance_summary(Manager *m, char *buf, size_t size) {
        Rebalance *r = m->rebalance;
        const char *state;
        unsigned long long moved = r ? r->n_moved : 0;

        if (m->opts.dry_run)
                state = "not watched (--dry-run moves nothing)";
        else if (!r)
                state = "not watched (no Zone=auto block in ZONE_MOVABLE yet)";
        else if (r->unavailable)
                state = r->why_unavailable;
        else if (r->timer && !r->cooling)
                state = "a node's kernel zones are short: checking every 250 ms";
        else if (r->moving != UINT32_MAX)
                state = "moving a block";
        else if (r->enabled)
                state = "watching kernel-memory growth and reclaim (tracepoints, no polling)";
        else if (r->timer)
                state = "room again; watching again in a second";
        else
                state = "not watched (no Zone=auto block in ZONE_MOVABLE)";
        snprintf(buf, size, "%s; %llu %s moved from ZONE_MOVABLE to a kernel zone since start", state, moved,
                 moved == 1 ? "block" : "blocks");
}
