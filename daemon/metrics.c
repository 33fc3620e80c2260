/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns MetricsFile=: the pure renderer of the Prometheus text format, the counters and the latency
 * histogram, and writing the file (atomically, coalesced by a one-shot timer). */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "audit.h"
#include "build-config.h"
#include "log.h"
#include "manager.h"
#include "metrics.h"
#include "quarantine.h"

/*
 * How long a change waits before the file is written. A DIMM's blocks are added and onlined within a
 * few hundred milliseconds, so one write covers the whole hot-add; during a long burst (virtio-mem
 * growing for minutes) the file is written at most twice a second, a few milliseconds each even with
 * 131072 blocks (bench/). Prometheus scrapes every 15-60 s: nobody sees the half second.
 */
#define METRICS_DELAY_USEC (500ULL * 1000)
/* Blocks waiting for their first online, for the latency; more than this and the oldest are forgotten. */
#define METRICS_PENDING_MAX (1u << 18)

const double metrics_latency_bounds[METRICS_LATENCY_BUCKETS] = {
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
};

typedef struct MetricsPending {
        uint32_t index;  /* UINT32_MAX: taken */
        uint64_t since;  /* CLOCK_MONOTONIC usec */
} MetricsPending;

typedef struct Metrics {
        sd_event_source *timer;
        unsigned long long records[_AUDIT_MAX];
        MetricsHistogram latency;
        /* New blocks not onlined yet, in the order they were seen; a burst is onlined in that order,
         * so the one looked for is almost always at 'head'. */
        MetricsPending *pending;
        size_t head, n, alloc;
        unsigned long long zones_read_at; /* n_rescans + 1 when the online blocks' zones were all read */
        uint32_t zone_cursor;             /* the next block whose zone to read, since the last rescan */
        unsigned long long zone_scan;     /* the rescan 'zone_cursor' belongs to */
        int write_error;                  /* the last failed write, said once; 0 after a good one */
} Metrics;

void metrics_histogram_observe(MetricsHistogram *h, uint64_t usec) {
        size_t i;

        for (i = 0; i < METRICS_LATENCY_BUCKETS; i++)
                if ((double) usec <= metrics_latency_bounds[i] * 1e6)
                        break;
        h->bucket[i]++;
        h->count++;
        h->sum_usec += usec;
}

void metrics_write_label_value(FILE *f, const char *value) {
        for (const char *p = value; *p; p++)
                switch (*p) {
                case '\\':
                        fputs("\\\\", f);
                        break;
                case '"':
                        fputs("\\\"", f);
                        break;
                case '\n':
                        fputs("\\n", f);
                        break;
                default:
                        fputc(*p, f);
                }
}

static void family(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One group of blocks with the same labels: node + 1 (0: unknown), state, zone, device. */
typedef struct BlockGroup {
        uint64_t key;
        uint64_t n;
} BlockGroup;

static uint64_t group_key(const Block *b) {
        uint64_t node = b->node < 0 ? 0 : (uint64_t) b->node + 1;
        uint64_t zone = b->state == STATE_ONLINE ? b->zone : _ZONE_MAX; /* _ZONE_MAX: no zone */
        uint64_t device = (b->flags & BLOCK_CLASSIFIED) ? b->device : DEVICE_UNKNOWN;

        return node << 24 | (uint64_t) b->state << 16 | zone << 8 | device;
}

static int cmp_group(const void *a, const void *b) {
        uint64_t x = ((const BlockGroup *) a)->key, y = ((const BlockGroup *) b)->key;
        return x < y ? -1 : x > y;
}

/* Count the present blocks by labels. Returns the number of groups in *ret, or -ENOMEM. */
static int group_blocks(const MetricsSnapshot *s, BlockGroup **ret) {
        BlockGroup *g = NULL;
        size_t n = 0, alloc = 0, last = 0;

        for (uint32_t i = 0; i < s->n_blocks; i++) {
                const Block *b = &s->blocks[i];
                uint64_t key;
                size_t j;

                if (!(b->flags & BLOCK_PRESENT))
                        continue;
                key = group_key(b);
                /* Neighbouring blocks nearly always share their labels: try the last group first. */
                if (n > 0 && g[last].key == key) {
                        g[last].n++;
                        continue;
                }
                for (j = 0; j < n && g[j].key != key; j++)
                        ;
                if (j == n) {
                        if (n == alloc) {
                                size_t a = alloc ? alloc * 2 : 16;
                                BlockGroup *p = realloc(g, a * sizeof(*g));
                                if (!p) {
                                        free(g);
                                        return -ENOMEM;
                                }
                                g = p;
                                alloc = a;
                        }
                        g[n++] = (BlockGroup) { key, 0 };
                }
                g[j].n++;
                last = j;
        }
        if (n > 1)
                qsort(g, n, sizeof(*g), cmp_group);
        *ret = g;
        return (int) n;
}

static void group_labels(FILE *f, uint64_t key) {
        uint64_t node = key >> 24;
        unsigned state = (key >> 16) & 0xff, zone = (key >> 8) & 0xff, device = key & 0xff;

        fputs("{state=\"", f);
        metrics_write_label_value(f, block_state_to_string(state));
        fputs("\",zone=\"", f);
        if (zone < _ZONE_MAX)
                metrics_write_label_value(f, zone_to_string(zone));
        fputs("\",node=\"", f);
        if (node > 0)
                fprintf(f, "%" PRIu64, node - 1);
        fputs("\",device=\"", f);
        metrics_write_label_value(f, device_kind_to_string(device));
        fputs("\"}", f);
}

static const struct {
        const char *name;
        const char *help;
} counter_families[_METRICS_COUNTER_MAX] = {
        [METRICS_ONLINED] = { "memhpd_blocks_onlined_total", "Memory blocks memhpd onlined (onlined records)." },
        [METRICS_ONLINE_FAILED] = { "memhpd_online_failures_total",
                                    "Online writes that failed (online-failed records)." },
        [METRICS_LEFT_OFFLINE] = { "memhpd_blocks_left_offline_total",
                                   "Decisions to leave a memory block offline (left-offline records)." },
        [METRICS_EVENTS_LOST] = { "memhpd_events_lost_total",
                                  "Times uevents were lost and sysfs was rescanned (events-lost records)." },
        [METRICS_CONFLICTS] = { "memhpd_conflicts_total",
                                "Other agents found onlining memory (conflict records)." },
        [METRICS_REBALANCED] = { "memhpd_blocks_rebalanced_total",
                                 "Zone=auto blocks moved from ZONE_MOVABLE to a kernel zone (rebalance records)." },
        [METRICS_UEVENTS] = { "memhpd_uevents_total", "Memory and node uevents received." },
        [METRICS_RESCANS] = { "memhpd_rescans_total", "Full scans of /sys/devices/system/memory." },
};

int metrics_render(const MetricsSnapshot *s, FILE *f) {
        _cleanup_free_ BlockGroup *groups = NULL;
        uint64_t cumulative = 0;
        int n;

        n = group_blocks(s, &groups);
        if (n < 0)
                return n;

        family(f, "memhpd_build_info", "gauge", "memhpd's version, as a label; always 1.");
        fputs("memhpd_build_info{version=\"", f);
        metrics_write_label_value(f, s->version ?: "");
        fputs("\"} 1\n", f);

        family(f, "memhpd_block_size_bytes", "gauge", "Size of one memory block (block_size_bytes).");
        fprintf(f, "memhpd_block_size_bytes %" PRIu64 "\n", s->block_size);

        family(f, "memhpd_memory_blocks", "gauge",
               "Memory blocks by state, zone (online blocks), NUMA node and device kind.");
        for (int i = 0; i < n; i++) {
                fputs("memhpd_memory_blocks", f);
                group_labels(f, groups[i].key);
                fprintf(f, " %" PRIu64 "\n", groups[i].n);
        }
        family(f, "memhpd_memory_bytes", "gauge",
               "Bytes of memory blocks by state, zone (online blocks), NUMA node and device kind.");
        for (int i = 0; i < n; i++) {
                fputs("memhpd_memory_bytes", f);
                group_labels(f, groups[i].key);
                fprintf(f, " %" PRIu64 "\n", groups[i].n * s->block_size);
        }

        for (int i = 0; i < _METRICS_COUNTER_MAX; i++) {
                family(f, counter_families[i].name, "counter", counter_families[i].help);
                fprintf(f, "%s %llu\n", counter_families[i].name, s->counter[i]);
        }

        family(f, "memhpd_quarantined_blocks", "gauge",
               "Memory blocks memhpd never onlines again because they hold poisoned pages.");
        fprintf(f, "memhpd_quarantined_blocks %" PRIu64 "\n", s->quarantined_blocks);
        family(f, "memhpd_policies", "gauge", "Policies loaded.");
        fprintf(f, "memhpd_policies %" PRIu64 "\n", s->policies);
        family(f, "memhpd_config_ok", "gauge", "1 if the last load of settings and policies was clean, else 0.");
        fprintf(f, "memhpd_config_ok %d\n", s->config_ok ? 1 : 0);

        family(f, "memhpd_hotadd_online_latency_seconds", "histogram",
               "From a hot-added block's first sight (its uevent) to its successful online.");
        for (int i = 0; i <= METRICS_LATENCY_BUCKETS; i++) {
                cumulative += s->latency ? s->latency->bucket[i] : 0;
                if (i < METRICS_LATENCY_BUCKETS)
                        fprintf(f, "memhpd_hotadd_online_latency_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                                metrics_latency_bounds[i], cumulative);
                else
                        fprintf(f, "memhpd_hotadd_online_latency_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n",
                                cumulative);
        }
        fprintf(f, "memhpd_hotadd_online_latency_seconds_sum %.6f\n",
                s->latency ? (double) s->latency->sum_usec / 1e6 : 0.0);
        fprintf(f, "memhpd_hotadd_online_latency_seconds_count %" PRIu64 "\n", s->latency ? s->latency->count : 0);

        return ferror(f) ? -EIO : 0;
}

int metrics_file_valid(const char *path) {
        const char *name;

        if (!*path)
                return 0;
        if (path[0] != '/' || strlen(path) >= PATH_MAX)
                return -EINVAL;
        name = strrchr(path, '/') + 1;
        if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return -EINVAL;
        return 0;
}

/* Manager side. */


static void pending_compact(Metrics *mt) {
        while (mt->head < mt->n && mt->pending[mt->head].index == UINT32_MAX)
                mt->head++;
        if (mt->head == mt->n)
                mt->head = mt->n = 0;
        else if (mt->head > mt->alloc / 2) {
                memmove(mt->pending, mt->pending + mt->head, (mt->n - mt->head) * sizeof(*mt->pending));
                mt->n -= mt->head;
                mt->head = 0;
        }
}

void metrics_block_seen(Manager *m, uint32_t index) {
        Metrics *mt = m->metrics;
        uint64_t now;

        if (!mt || (m->inv->blocks[index].flags & BLOCK_AT_START))
                return;
        /* The loop's wake-up: when the uevent was there to read, not when this block's turn came. */
        if (!m->event || sd_event_now(m->event, CLOCK_MONOTONIC, &now) < 0)
                now = now_monotonic_usec();
        if (mt->n - mt->head >= METRICS_PENDING_MAX) {
                mt->pending[mt->head].index = UINT32_MAX; /* forget the oldest */
                pending_compact(mt);
        }
        if (mt->n == mt->alloc) {
                if (mt->head > 0) {
                        memmove(mt->pending, mt->pending + mt->head, (mt->n - mt->head) * sizeof(*mt->pending));
                        mt->n -= mt->head;
                        mt->head = 0;
                } else {
                        size_t a = mt->alloc ? mt->alloc * 2 : 256;
                        MetricsPending *p = realloc(mt->pending, a * sizeof(*p));
                        if (!p)
                                log_oom_abort();
                        mt->pending = p;
                        mt->alloc = a;
                }
        }
        mt->pending[mt->n++] = (MetricsPending) { index, now };
}

/* The block's fate is known: take it off the pending list; returns when it was seen, or 0. */
static uint64_t pending_take(Metrics *mt, uint32_t index) {
        for (size_t i = mt->head; i < mt->n; i++)
                if (mt->pending[i].index == index) {
                        uint64_t since = mt->pending[i].since;
                        mt->pending[i].index = UINT32_MAX;
                        pending_compact(mt);
                        return since;
                }
        return 0;
}

/* Every audit record: count it, and take the block's latency when it ends its wait. */
static void on_audit_record(AuditEvent e, const AuditFields *f, void *userdata) {
        Manager *m = userdata;
        Metrics *mt = m->metrics;
        uint64_t since;

        if (!mt || e < 0 || e >= _AUDIT_MAX)
                return;
        mt->records[e]++;
        switch (e) {
        case AUDIT_ONLINED:
        case AUDIT_WOULD_ONLINE:
        case AUDIT_ONLINE_FAILED:
        case AUDIT_LEFT_OFFLINE:
        case AUDIT_ONLINE_BY_OTHER:
        case AUDIT_OFFLINE_BY_OTHER:
        case AUDIT_BLOCK_REMOVED:
                if (f->block < 0 || f->block >= UINT32_MAX || mt->n == mt->head)
                        break;
                since = pending_take(mt, (uint32_t) f->block);
                /* "already": someone else was faster, not memhpd's latency. */
                if (since > 0 && e == AUDIT_ONLINED && f->result && strcmp(f->result, "ok") == 0) {
                        uint64_t now = now_monotonic_usec();
                        metrics_histogram_observe(&mt->latency, now > since ? now - since : 0);
                }
                break;
        default:
                break;
        }
        metrics_changed(m);
}

/* An online block's zone is read when something needs it: here, once, for the blocks a scan found
 * online (boot memory); blocks onlined later have it already. At most METRICS_ZONE_READS_MAX per
 * write; returns true if more are left (the caller writes again soon). */
static bool metrics_read_zones(Manager *m) {
        Metrics *mt = m->metrics;
        unsigned reads = 0;

        if (mt->zones_read_at == m->n_rescans + 1)
                return false;
        if (mt->zone_scan != m->n_rescans + 1) {
                mt->zone_scan = m->n_rescans + 1;
                mt->zone_cursor = 0;
        }
        for (; mt->zone_cursor < m->inv->n_blocks; mt->zone_cursor++) {
                const Block *b = &m->inv->blocks[mt->zone_cursor];
                /* Online blocks nothing decided on (online at start): their zone, and their kind, which
                 * is boot memory or, after a restart of memhpd, memory hot-added before it. */
                bool zone = b->zone == ZONE_UNKNOWN, kind = !(b->flags & BLOCK_CLASSIFIED);

                if (!(b->flags & BLOCK_PRESENT) || b->state != STATE_ONLINE || (!zone && !kind))
                        continue;
                if (reads++ == METRICS_ZONE_READS_MAX)
                        return true;
                if (zone)
                        (void) inventory_block_zone(m->inv, mt->zone_cursor);
                if (kind)
                        (void) inventory_block_device(m->inv, mt->zone_cursor);
        }
        mt->zones_read_at = m->n_rescans + 1;
        return false;
}

/* Present blocks memhpd will not online: every one while the quarantine is unbounded (fail closed). */
static uint64_t metrics_quarantined_blocks(Manager *m) {
        uint64_t n = 0;

        if (!m->quarantine)
                return 0;
        for (uint32_t i = 0; i < m->inv->n_blocks; i++)
                if ((m->inv->blocks[i].flags & BLOCK_PRESENT) &&
                    quarantine_contains(m->quarantine, inventory_block_start(m->inv, i), m->inv->block_size))
                        n++;
        return n;
}

static void metrics_snapshot(Manager *m, MetricsSnapshot *ret) {
        Metrics *mt = m->metrics;

        *ret = (MetricsSnapshot) {
                .blocks = m->inv->blocks,
                .n_blocks = m->inv->n_blocks,
                .block_size = m->inv->block_size,
                .quarantined_blocks = metrics_quarantined_blocks(m),
                .policies = m->policies.n,
                .config_ok = m->config_ok,
                .latency = &mt->latency,
                .version = MEMHPD_VERSION,
        };
        ret->counter[METRICS_ONLINED] = mt->records[AUDIT_ONLINED];
        ret->counter[METRICS_ONLINE_FAILED] = mt->records[AUDIT_ONLINE_FAILED];
        ret->counter[METRICS_LEFT_OFFLINE] = mt->records[AUDIT_LEFT_OFFLINE];
        ret->counter[METRICS_EVENTS_LOST] = mt->records[AUDIT_EVENTS_LOST];
        ret->counter[METRICS_CONFLICTS] = mt->records[AUDIT_CONFLICT];
        ret->counter[METRICS_REBALANCED] = mt->records[AUDIT_REBALANCE];
        ret->counter[METRICS_UEVENTS] = m->n_uevents;
        ret->counter[METRICS_RESCANS] = m->n_rescans;
}

int metrics_write(Manager *m) {
        const char *path = m->settings.metrics_file;
        _cleanup_free_ char *dir = NULL, *tmp = NULL;
        _cleanup_close_ int dfd = -EBADF, fd = -EBADF;
        const char *name = strrchr(path, '/');
        MetricsSnapshot s;
        bool more;
        FILE *f;
        int r;

        if (!m->metrics || !name)
                return -EINVAL;
        name++;
        /* Relative to the root, like every file memhpd opens. */
        dir = strndup(path + 1, (size_t) (name - path - 1));
        if (!dir || asprintf(&tmp, "%s.tmp", name) < 0)
                return -ENOMEM;
        dfd = openat(m->root->fd, *dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        /* The textfile collector reads only *.prom: NAME.tmp is never served half-written. Whatever is
         * planted there is unlinked, never written through; O_EXCL makes the file our own new one. */
        if (unlinkat(dfd, tmp, 0) < 0 && errno != ENOENT)
                return -errno;
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return -errno;
        /* UMask=0077 in the unit: node_exporter runs as another user and must read it. */
        if (fchmod(fd, 0644) < 0) {
                r = -errno;
                (void) unlinkat(dfd, tmp, 0);
                return r;
        }
        f = fdopen(fd, "w");
        if (!f) {
                r = -errno;
                (void) unlinkat(dfd, tmp, 0);
                return r;
        }
        fd = -EBADF;
        more = metrics_read_zones(m);
        metrics_snapshot(m, &s);
        r = metrics_render(&s, f);
        if (fflush(f) != 0 && r == 0)
                r = -errno;
        /* No fsync: the rename is atomic for readers, which is what matters; after a crash memhpd
         * rewrites the file at its start-up scan, and an fsync could stall the loop on a busy disk. */
        if (fclose(f) != 0 && r == 0)
                r = -errno;
        if (r == 0 && renameat(dfd, tmp, dfd, name) < 0)
                r = -errno;
        if (r < 0)
                (void) unlinkat(dfd, tmp, 0);
        else if (more)
                metrics_changed(m); /* the zones of more boot blocks, in the next write */
        return r;
}

static int on_metrics_timer(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        Manager *m = userdata;
        Metrics *mt = m->metrics;
        const char *path = m->settings.metrics_file;
        int r;

        if (!*path)
                return 0;
        r = metrics_write(m);
        /* Said once per problem, not on every change: the next change retries and fails the same way. */
        if (r < 0 && r != mt->write_error) {
                if (r == -ENOMEM)
                        log_oom_abort();
                log_warning_errno(r, "Cannot write MetricsFile=%s: %m; memhpd goes on without it and retries at "
                                  "the next change", path);
        } else if (r < 0)
                log_debug_errno(r, "Cannot write MetricsFile=%s: %m (said before)", path);
        else if (mt->write_error < 0)
                log_info("Wrote MetricsFile=%s again", path);
        mt->write_error = r;
        return 0;
}

void metrics_changed(Manager *m) {
        Metrics *mt = m->metrics;
        int enabled;

        if (!mt || !mt->timer || !m->settings.metrics_file[0])
                return;
        /* Already armed: this change goes out with the write it is waiting for. Re-arming would put off
         * the write for as long as a burst lasts. */
        if (sd_event_source_get_enabled(mt->timer, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                return;
        if (sd_event_source_set_time_relative(mt->timer, METRICS_DELAY_USEC) >= 0)
                (void) sd_event_source_set_enabled(mt->timer, SD_EVENT_ONESHOT);
}

int metrics_start(Manager *m) {
        Metrics *mt;
        int r;

        /* --dry-run writes nothing; --once has no loop to write it from. */
        if (m->opts.dry_run || m->opts.once)
                return 0;
        mt = calloc(1, sizeof(*mt));
        if (!mt)
                return -ENOMEM;
        m->metrics = mt;
        r = sd_event_add_time_relative(m->event, &mt->timer, CLOCK_MONOTONIC, METRICS_DELAY_USEC,
                                       METRICS_DELAY_USEC / 5, on_metrics_timer, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(mt->timer, "metrics-write");
        (void) sd_event_source_set_enabled(mt->timer, SD_EVENT_OFF);
        audit_set_observer(on_audit_record, m);
        return 0;
}

void metrics_stop(Manager *m) {
        Metrics *mt = m->metrics;
        int enabled;

        if (!mt)
                return;
        audit_set_observer(NULL, NULL);
        /* Do not lose the last change to the exit. */
        if (mt->timer && sd_event_source_get_enabled(mt->timer, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                (void) on_metrics_timer(mt->timer, 0, m);
        sd_event_source_disable_unref(mt->timer);
        free(mt->pending);
        free(mt);
        m->metrics = NULL;
}
