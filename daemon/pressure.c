/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Owns memory pressure: the reserve of When=pressure blocks, the PSI trigger and the zoneinfo watermark
 * check that exist only while the reserve holds a block, and the reserve steps.
 * The pure evaluation comes first and is unit-tested; the I/O follows. See pressure.h.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-event.h>

#include "audit.h"
#include "engine.h"
#include "inventory.h"
#include "log.h"
#include "manager.h"
#include "pressure.h"
#include "status.h"

/* ---- pure evaluation ---- */

bool pressure_kernel_short(uint64_t free, uint64_t high) {
        unsigned __int128 f = free, h = high;

        if (high == 0)
                return false;
        return f * 100 < h * (100 + PRESSURE_MARGIN_PERCENT);
}

/* "12.34" -> 1234: digits, a dot, exactly two digits, at most 100.00. Advances *p. */
static int parse_avg(const char **p, unsigned *ret) {
        const char *s = *p;
        unsigned v = 0;
        int n = 0;

        while (*s >= '0' && *s <= '9' && n < 4) {
                v = v * 10 + (unsigned) (*s++ - '0');
                n++;
        }
        if (n == 0 || *s != '.' || !(s[1] >= '0' && s[1] <= '9') || !(s[2] >= '0' && s[2] <= '9'))
                return -EBADMSG;
        v = v * 100 + (unsigned) (s[1] - '0') * 10 + (unsigned) (s[2] - '0');
        if (v > 10000)
                return -EBADMSG;
        *p = s + 3;
        *ret = v;
        return 0;
}

static int expect(const char **p, const char *word) {
        size_t l = strlen(word);

        if (strncmp(*p, word, l) != 0)
                return -EBADMSG;
        *p += l;
        return 0;
}

int pressure_psi_parse(const char *text, PsiFigures *ret) {
        const char *p = text;
        PsiFigures f = {};
        int n = 0;

        /* "some" is the first line since PSI exists (4.20); "full" follows from 5.2 on. */
        if (expect(&p, "some avg10=") < 0 || parse_avg(&p, &f.avg10) < 0 || expect(&p, " avg60=") < 0 ||
            parse_avg(&p, &f.avg60) < 0 || expect(&p, " avg300=") < 0 || parse_avg(&p, &f.avg300) < 0 ||
            expect(&p, " total=") < 0)
                return -EBADMSG;
        for (; *p >= '0' && *p <= '9'; p++, n++) {
                if (f.total_usec > (UINT64_MAX - (uint64_t) (*p - '0')) / 10)
                        return -EBADMSG;
                f.total_usec = f.total_usec * 10 + (uint64_t) (*p - '0');
        }
        if (n == 0 || *p != '\n')
                return -EBADMSG;
        *ret = f;
        return 0;
}

int pressure_trigger_format(unsigned limit_percent, uint64_t window_usec, char *buf, size_t size) {
        uint64_t stall;
        int n;

        if (limit_percent < 1 || limit_percent > 100 || window_usec < PRESSURE_WINDOW_MIN_USEC ||
            window_usec > PRESSURE_WINDOW_MAX_USEC)
                return -ERANGE;
        stall = window_usec * limit_percent / 100;
        n = snprintf(buf, size, "some %" PRIu64 " %" PRIu64, stall, window_usec);
        return n < 0 || (size_t) n >= size ? -ENOBUFS : 0;
}

int pressure_pick_node(const ZoneinfoNode *nodes, size_t n_nodes) {
        int best = -1;
        unsigned __int128 best_free = 0, best_present = 1;

        for (size_t i = 0; i < n_nodes; i++) {
                const ZoneinfoNode *n = &nodes[i];
                unsigned __int128 free = (unsigned __int128) n->kernel_free + n->movable_free;
                unsigned __int128 present = (unsigned __int128) n->kernel_present + n->movable_present;

                if (!n->has_zone || n->watermarks_missing || present == 0)
                        continue;
                /* free/present < best_free/best_present, without division. */
                if (best < 0 || free * best_present < best_free * present) {
                        best = (int) i;
                        best_free = free;
                        best_present = present;
                }
        }
        return best;
}

int pressure_short_node(const ZoneinfoNode *nodes, size_t n_nodes, uint64_t headroom) {
        unsigned __int128 avail = 0, high = 0;
        bool any = false;

        for (size_t i = 0; i < n_nodes; i++) {
                const ZoneinfoNode *n = &nodes[i];

                if (!n->has_zone || n->watermarks_missing || n->kernel_present + n->movable_present == 0)
                        continue;
                avail += (unsigned __int128) n->kernel_free + n->movable_free + n->file_pages;
                high += (unsigned __int128) n->kernel_high + n->movable_high;
                any = true;
        }
        if (!any || avail >= high * (100 + PRESSURE_MARGIN_PERCENT) / 100 + headroom)
                return -1;
        return pressure_pick_node(nodes, n_nodes);
}

int pressure_distance_parse(const char *text, const uint16_t *online, size_t n_online, uint16_t *row) {
        uint16_t v[NODES_MAX];
        const char *p = text;
        size_t n = 0;

        if (n_online > NODES_MAX)
                return -EBADMSG;
        for (;;) {
                unsigned d = 0;
                int digits = 0;

                while (*p == ' ')
                        p++;
                if (*p == '\n' || *p == '\0')
                        break;
                for (; *p >= '0' && *p <= '9' && digits < 4; p++, digits++)
                        d = d * 10 + (unsigned) (*p - '0');
                /* The kernel's distances are 10 (local) .. 254; 255 means unreachable. */
                if (digits == 0 || d > 255 || (*p != ' ' && *p != '\n' && *p != '\0') || n >= n_online)
                        return -EBADMSG;
                v[n++] = (uint16_t) d;
        }
        if (n != n_online)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++)
                row[online[i]] = v[i];
        return 0;
}

typedef struct OrderKey {
        int node;
        const uint16_t *row;
        size_t row_size;
} OrderKey;

static unsigned candidate_rank(const ReserveCandidate *c, const OrderKey *k) {
        if (c->node < 0)
                return 0x30000;
        if (c->node == k->node)
                return 0;
        if (!k->row || (size_t) c->node >= k->row_size || k->row[c->node] == PRESSURE_DISTANCE_UNKNOWN)
                return 0x20000;
        return 0x10000 + k->row[c->node];
}

static OrderKey order_key; /* qsort has no context argument; set just around the call */

static int candidate_compare(const void *a, const void *b) {
        const ReserveCandidate *x = a, *y = b;
        unsigned rx = candidate_rank(x, &order_key), ry = candidate_rank(y, &order_key);

        if (rx != ry)
                return rx < ry ? -1 : 1;
        if (x->node != y->node)
                return x->node < y->node ? -1 : 1;
        return x->index < y->index ? -1 : x->index > y->index;
}

void pressure_order(ReserveCandidate *c, size_t n, int pressured_node, const uint16_t *row, size_t row_size) {
        order_key = (OrderKey) { .node = pressured_node, .row = row, .row_size = row_size };
        qsort(c, n, sizeof(*c), candidate_compare);
        order_key = (OrderKey) {};
}

/* ---- the reserve and its event sources ---- */

#define PSI_PATH "proc/pressure/memory"
#define PSI_READ_MAX 512

struct Pressure {
        uint32_t *reserve;              /* sorted, unique block indexes */
        size_t n_reserve, alloc;
        int fd;                         /* the trigger; -EBADF while disarmed */
        sd_event_source *io;            /* on 'fd' */
        sd_event_source *timer;         /* the watermark check, one window, only while a reserve exists */
        bool psi_unavailable;           /* said once (pressure-source record); the watermark check alone */
        ZoneinfoNode *zoneinfo;         /* NODES_MAX entries, read once per loop iteration */
        uint64_t zoneinfo_iteration;
        int zoneinfo_error;             /* of that read */
        bool zoneinfo_valid;
        unsigned long long n_steps;
        unsigned armed_limit;           /* the settings the armed source was made with */
        unsigned long long armed_window;
};

int pressure_new(Pressure **ret) {
        Pressure *p = calloc(1, sizeof(*p));

        if (!p)
                return -ENOMEM;
        p->fd = -EBADF;
        *ret = p;
        return 0;
}

static void pressure_disarm(Pressure *p) {
        p->io = sd_event_source_disable_unref(p->io);
        p->timer = sd_event_source_disable_unref(p->timer);
        if (p->fd >= 0)
                (void) close(p->fd); /* closing the file destroys the kernel's trigger */
        p->fd = -EBADF;
}

Pressure *pressure_free(Pressure *p) {
        if (!p)
                return NULL;
        pressure_disarm(p);
        free(p->reserve);
        free(p->zoneinfo);
        free(p);
        return NULL;
}

size_t pressure_reserve_size(const Pressure *p) {
        return p ? p->n_reserve : 0;
}

/* Position of 'index' in the sorted reserve, or where it would go. */
static size_t reserve_find(const Pressure *p, uint32_t index, bool *ret_found) {
        size_t lo = u32_lower_bound(p->reserve, p->n_reserve, index);

        *ret_found = lo < p->n_reserve && p->reserve[lo] == index;
        return lo;
}

void pressure_reserve_add(Manager *m, uint32_t index) {
        Pressure *p = m->pressure;
        bool found;
        size_t i;

        if (!p || (i = reserve_find(p, index, &found), found))
                return;
        if (p->n_reserve >= PRESSURE_RESERVE_MAX)
                return; /* cannot happen with real block counts; the block just stays offline */
        if (p->n_reserve == p->alloc) {
                size_t a = p->alloc ? p->alloc * 2 : 64;
                uint32_t *r = realloc(p->reserve, a * sizeof(uint32_t));
                if (!r)
                        log_oom_abort();
                p->reserve = r;
                p->alloc = a;
        }
        memmove(p->reserve + i + 1, p->reserve + i, (p->n_reserve - i) * sizeof(uint32_t));
        p->reserve[i] = index;
        p->n_reserve++;
        status_changed(m); /* the status defer arms the trigger */
}

void pressure_reserve_remove(Manager *m, uint32_t index) {
        Pressure *p = m->pressure;
        bool found;
        size_t i;

        if (!p || (i = reserve_find(p, index, &found), !found))
                return;
        memmove(p->reserve + i, p->reserve + i + 1, (p->n_reserve - i - 1) * sizeof(uint32_t));
        p->n_reserve--;
}

/* Still a reserve block: present, offline, decided by memhpd and not someone else's, not taken by the
 * administrator (drain, memhpctl offline) and not quarantined since. A block whose node went away with
 * it is gone from the inventory: nothing was lost, it was offline. */
static bool reserve_valid(Manager *m, uint32_t index) {
        const Block *b = inventory_block(m->inv, index);

        return b && b->state == STATE_OFFLINE && (b->flags & BLOCK_DECIDED) &&
               !(b->flags & (BLOCK_BY_OTHER | BLOCK_BY_ADMIN)) &&
               !quarantine_contains(m->quarantine, inventory_block_start(m->inv, index), m->inv->block_size);
}

static void reserve_prune(Manager *m) {
        Pressure *p = m->pressure;
        size_t j = 0;

        for (size_t i = 0; i < p->n_reserve; i++)
                if (reserve_valid(m, p->reserve[i]))
                        p->reserve[j++] = p->reserve[i];
                else
                        log_info("memory%" PRIu32 " left the reserve (onlined, removed or taken by someone else)",
                                 p->reserve[i]);
        p->n_reserve = j;
}

/* /proc/zoneinfo with watermarks, at most once per loop iteration (a hot-add of 32 blocks decides them
 * in one iteration: one read). */
int pressure_zoneinfo(Manager *m, const ZoneinfoNode **ret) {
        Pressure *p = m->pressure;
        _cleanup_free_ char *text = NULL;
        uint64_t it = 0;
        int r;

        if (!p)
                return -ENODATA;
        if (m->event && sd_event_get_iteration(m->event, &it) >= 0 && p->zoneinfo_valid &&
            p->zoneinfo_iteration == it) {
                if (p->zoneinfo_error < 0)
                        return p->zoneinfo_error;
                *ret = p->zoneinfo;
                return 0;
        }
        if (!p->zoneinfo) {
                p->zoneinfo = calloc(NODES_MAX, sizeof(ZoneinfoNode));
                if (!p->zoneinfo)
                        log_oom_abort();
        }
        r = root_read_file(m->root->fd, "proc/zoneinfo", 16 * 1024 * 1024, &text, NULL, NULL);
        if (r >= 0)
                r = zoneinfo_parse_nodes(text, p->zoneinfo, NODES_MAX);
        p->zoneinfo_error = r < 0 ? r : 0;
        p->zoneinfo_iteration = it;
        p->zoneinfo_valid = m->event != NULL;
        if (r < 0)
                return r;
        *ret = p->zoneinfo;
        return 0;
}

int pressure_node_kernel(Manager *m, int node, uint64_t *ret_free, uint64_t *ret_high) {
        const ZoneinfoNode *z;
        int r;

        if (node < 0 || node >= NODES_MAX)
                return -ENOENT;
        r = pressure_zoneinfo(m, &z);
        if (r < 0)
                return r;
        if (!z[node].has_zone)
                return -ENOENT;
        if (z[node].watermarks_missing)
                return -ENODATA;
        *ret_free = z[node].kernel_free;
        *ret_high = z[node].kernel_high;
        return 0;
}

/* The distances from 'node' to every online node (sys/devices/system/node/online and
 * nodeN/distance under the Root) into row[NODES_MAX]; unknown entries stay PRESSURE_DISTANCE_UNKNOWN. */
static int pressure_read_distances(Manager *m, int node, uint16_t *row) {
        char online_text[ROOT_VALUE_MAX], path[64], *text = NULL;
        RangeList online = {};
        uint16_t *list = NULL;
        size_t n = 0;
        char err[128];
        ssize_t l;
        int r;

        for (size_t i = 0; i < NODES_MAX; i++)
                row[i] = PRESSURE_DISTANCE_UNKNOWN;
        if (node < 0)
                return -ENOENT;
        l = root_read(m->root->fd, "sys/devices/system/node/online", online_text, sizeof(online_text));
        if (l < 0)
                return (int) l;
        if (range_list_parse(online_text, false, NODES_MAX - 1, &online, err, sizeof(err)) < 0)
                return -EBADMSG;
        list = malloc(NODES_MAX * sizeof(uint16_t));
        if (!list)
                log_oom_abort();
        /* The kernel prints the online list in increasing order; each range once. */
        for (size_t i = 0; i < online.n; i++)
                for (uint64_t v = online.items[i].start; v <= online.items[i].end && n < NODES_MAX; v++)
                        list[n++] = (uint16_t) v;
        free(online.items);
        snprintf(path, sizeof(path), "sys/devices/system/node/node%d/distance", node);
        r = root_read_file(m->root->fd, path, 8192, &text, NULL, NULL);
        if (r >= 0)
                r = pressure_distance_parse(text, list, n, row);
        free(text);
        free(list);
        return r;
}

static void pressure_arm(Manager *m);

/* One step: online up to OnlineStep= reserved blocks, the pressured node's first, then the nearest.
 * 'trigger' describes the breach for the record. */
static void pressure_step(Manager *m, const char *trigger, int pressured_node) {
        Pressure *p = m->pressure;
        _cleanup_free_ ReserveCandidate *c = NULL;
        _cleanup_free_ uint16_t *row = NULL;
        char chosen[256] = "", figures[224] = "";
        const ZoneinfoNode *z;
        AuditFields f = AUDIT_FIELDS_INIT;
        size_t n = 0, len = 0, onlined = 0;
        uint64_t step = 1;
        int r, rd;

        reserve_prune(m);
        if (p->n_reserve == 0)
                return;
        c = malloc(p->n_reserve * sizeof(*c));
        row = malloc(NODES_MAX * sizeof(uint16_t));
        if (!c || !row)
                log_oom_abort();
        for (size_t i = 0; i < p->n_reserve; i++)
                c[n++] = (ReserveCandidate) { .index = p->reserve[i], .node = m->inv->blocks[p->reserve[i]].node };

        r = pressure_zoneinfo(m, &z);
        if (pressured_node < 0 && r >= 0)
                pressured_node = pressure_pick_node(z, NODES_MAX);
        if (r >= 0 && pressured_node >= 0) {
                const ZoneinfoNode *zn = &z[pressured_node];
                uint64_t kib = m->inv->page_size / 1024;

                snprintf(figures, sizeof(figures), "; node%d: kernel zones %" PRIu64 " kB free (high watermark %" PRIu64
                         " kB), all zones %" PRIu64 " kB free (high watermarks %" PRIu64 " kB)", pressured_node,
                         zn->kernel_free * kib, zn->kernel_high * kib, (zn->kernel_free + zn->movable_free) * kib,
                         (zn->kernel_high + zn->movable_high) * kib);
        }
        else if (r < 0)
                snprintf(figures, sizeof(figures), "; /proc/zoneinfo unreadable (%s)", strerror(-r));
        rd = pressure_read_distances(m, pressured_node, row);
        if (rd < 0 && pressured_node >= 0)
                log_debug_errno(rd, "No distances from node%d, ordering by node number: %m", pressured_node);
        pressure_order(c, n, pressured_node, row, NODES_MAX);

        {
                const Policy *pol = engine_block_policy(m, c[0].index);
                if (pol) {
                        step = policy_online_step_blocks(pol, m->inv->block_size);
                        f.policy_path = pol->path;
                        f.policy_line = pol->line;
                }
        }
        for (size_t i = 0; i < n && i < step; i++) {
                int k = snprintf(chosen + len, sizeof(chosen) - len, "%smemory%" PRIu32, i ? " " : "", c[i].index);
                if (k < 0 || (size_t) k >= sizeof(chosen) - len) {
                        snprintf(chosen + (len < sizeof(chosen) - 5 ? len : sizeof(chosen) - 5), 5, " ...");
                        break;
                }
                len += (size_t) k;
        }
        p->n_steps++;
        f.node = pressured_node;
        f.action = "reserve-step";
        f.result = m->opts.dry_run ? "dry-run" : "ok";
        audit_record(AUDIT_RESERVE_STEP, &f, "%s%s: onlining %" PRIu64 " of %zu reserved %s, nearest node first: %s",
                     trigger, figures, step < n ? step : (uint64_t) n, n, plural(n, "block", "blocks"), chosen);

        for (size_t i = 0; i < n && onlined < step; i++) {
                r = engine_online_reserved(m, c[i].index);
                if (r != -EAGAIN)
                        pressure_reserve_remove(m, c[i].index);
                if (r >= 0)
                        onlined++;
        }
        pressure_reserve_check(m);
}

static int on_psi(sd_event_source *s _unused_, int fd, uint32_t revents _unused_, void *userdata) {
        Manager *m = userdata;
        Pressure *p = m->pressure;
        char buf[PSI_READ_MAX + 1], trigger[192];
        PsiFigures psi;
        ssize_t l;

        /* The figures of the breach: the trigger's file reads as /proc/pressure/memory does. A socket
         * (the tests' fake) reads what the test sent; only the open and the event mask differ. */
        (void) lseek(fd, 0, SEEK_SET);
        l = read(fd, buf, PSI_READ_MAX);
        if (l == 0 || (l < 0 && errno != EAGAIN && errno != EINTR)) {
                AuditFields f = AUDIT_FIELDS_INIT;

                f.result = "failed";
                f.error = l < 0 ? errno : EPIPE;
                audit_record(AUDIT_PRESSURE_SOURCE, &f, "the memory pressure trigger went away (%m); only the "
                             "watermark check of /proc/zoneinfo, once per %llu ms while a reserve exists, goes on",
                             m->settings.memory_pressure_duration_usec / 1000);
                p->psi_unavailable = true;
                pressure_disarm(p);
                pressure_arm(m);
                return 0;
        }
        if (l < 0)
                l = 0;
        buf[l] = '\0';
        if (pressure_psi_parse(buf, &psi) >= 0)
                snprintf(trigger, sizeof(trigger),
                         "memory pressure above %u%% of %llu ms (PSI some avg10=%u.%02u%% avg60=%u.%02u%% total=%" PRIu64
                         " us)", m->settings.memory_pressure_limit, m->settings.memory_pressure_duration_usec / 1000,
                         psi.avg10 / 100, psi.avg10 % 100, psi.avg60 / 100, psi.avg60 % 100, psi.total_usec);
        else
                snprintf(trigger, sizeof(trigger), "memory pressure above %u%% of %llu ms (PSI figures unreadable)",
                         m->settings.memory_pressure_limit, m->settings.memory_pressure_duration_usec / 1000);
        pressure_step(m, trigger, -1);
        return 0;
}

/* The reserve's step in pages: the OnlineStep= of the policy of its first block. */
static uint64_t reserve_step_pages(Manager *m) {
        Pressure *p = m->pressure;
        const Policy *pol;

        if (p->n_reserve == 0)
                return 0;
        pol = engine_block_policy(m, p->reserve[0]);
        return (pol ? policy_online_step_blocks(pol, m->inv->block_size) : 1) * (m->inv->block_size / m->inv->page_size);
}

static int on_watermark_timer(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        Manager *m = userdata;
        Pressure *p = m->pressure;
        const ZoneinfoNode *z;
        char trigger[256];
        uint64_t headroom, kib = m->inv->page_size / 1024;
        int node, r;

        p->timer = sd_event_source_disable_unref(p->timer);
        reserve_prune(m);
        headroom = reserve_step_pages(m);
        r = pressure_zoneinfo(m, &z);
        if (r < 0)
                log_debug_errno(r, "Cannot read /proc/zoneinfo for the reserve: %m");
        else if (p->n_reserve > 0 && (node = pressure_short_node(z, NODES_MAX, headroom)) >= 0) {
                snprintf(trigger, sizeof(trigger),
                         "memory running out: free memory and page cache of all nodes below their high watermarks "
                         "+ %d%% + one step of %" PRIu64 " kB%s",
                         PRESSURE_MARGIN_PERCENT, headroom * kib, p->psi_unavailable ? " (no PSI)" : "");
                pressure_step(m, trigger, node);
        }
        pressure_arm(m);
        return 0;
}

/* The trigger's file under the Root. On the live system it is /proc/pressure/memory; under --root a
 * test may put a unix socket there (open() says ENXIO): connect to it instead. */
static int psi_open(Manager *m) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd, sfd, r;

        fd = openat(m->root->fd, PSI_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd >= 0 || errno != ENXIO || strcmp(m->root->path, "/") == 0)
                return fd >= 0 ? fd : -errno;
        r = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", m->root->path, PSI_PATH);
        if (r < 0 || (size_t) r >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        sfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (sfd < 0)
                return -errno;
        if (connect(sfd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                r = -errno;
                (void) close(sfd);
                return r;
        }
        return sfd;
}

static int psi_arm(Manager *m) {
        Pressure *p = m->pressure;
        _cleanup_close_ int fd = -EBADF;
        char trigger[64];
        struct stat st;
        int r;

        r = pressure_trigger_format(m->settings.memory_pressure_limit, m->settings.memory_pressure_duration_usec,
                                    trigger, sizeof(trigger));
        if (r < 0)
                return r;
        fd = psi_open(m);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        /* The PSI file is always readable (EPOLLIN): only EPOLLPRI means a breach. Added before the
         * trigger is written: a plain file (not procfs) cannot be polled and is then left unwritten. */
        r = sd_event_add_io(m->event, &p->io, fd, S_ISSOCK(st.st_mode) ? EPOLLIN : EPOLLPRI, on_psi, m);
        if (r < 0)
                return r;
        /* With its NUL, as Documentation/accounting/psi.rst writes it: psi_write() terminates the
         * copied bytes by overwriting the last one. */
        if (write(fd, trigger, strlen(trigger) + 1) < 0) {
                r = -errno;
                p->io = sd_event_source_disable_unref(p->io);
                return r;
        }
        (void) sd_event_source_set_description(p->io, "memory-pressure");
        p->fd = TAKE_FD(fd);
        log_debug("Memory pressure trigger \"%s\" armed for a reserve of %zu blocks", trigger, p->n_reserve);
        return 0;
}

static void pressure_arm(Manager *m) {
        Pressure *p = m->pressure;
        int r;

        if (!m->event || p->n_reserve == 0)
                return;
        p->armed_limit = m->settings.memory_pressure_limit;
        p->armed_window = m->settings.memory_pressure_duration_usec;
        if (!p->io && !p->psi_unavailable) {
                r = psi_arm(m);
                if (r == -ENOMEM)
                        log_oom_abort();
                if (r < 0) {
                        AuditFields f = AUDIT_FIELDS_INIT;

                        p->io = sd_event_source_disable_unref(p->io);
                        f.error = -r;
                        f.result = "failed";
                        audit_record(AUDIT_PRESSURE_SOURCE, &f, "%s/%s: %s (%m); only the watermark check of "
                                     "/proc/zoneinfo, once per %llu ms while a reserve exists, can online it",
                                     strcmp(m->root->path, "/") ? m->root->path : "", PSI_PATH,
                                     r == -ENOENT || r == -EOPNOTSUPP ? "this kernel has no PSI"
                                                                      : "the pressure trigger cannot be set",
                                     m->settings.memory_pressure_duration_usec / 1000);
                        p->psi_unavailable = true; /* said once */
                }
        }
        if (p->timer)
                return;
        r = sd_event_add_time_relative(m->event, &p->timer, CLOCK_MONOTONIC, m->settings.memory_pressure_duration_usec,
                                       m->settings.memory_pressure_duration_usec / 10, on_watermark_timer, m);
        if (r < 0)
                log_error_errno(r, "Cannot start the watermark check for the reserve: %m");
        else
                (void) sd_event_source_set_description(p->timer, "memory-reserve-watermarks");
}

void pressure_reserve_check(Manager *m) {
        Pressure *p = m->pressure;

        if (!p)
                return;
        reserve_prune(m);
        if (p->n_reserve == 0) {
                if (p->io || p->timer)
                        log_info("The reserve is empty: memory pressure is no longer watched");
                pressure_disarm(p);
                return;
        }
        /* A reload changed the settings: set the trigger (or timer) again with the new ones. */
        if ((p->io || p->timer) && (p->armed_limit != m->settings.memory_pressure_limit ||
                                    p->armed_window != m->settings.memory_pressure_duration_usec))
                pressure_disarm(p);
        pressure_arm(m);
}
