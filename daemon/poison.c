/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns memory-failure events in: the private tracefs instance and its trace_pipe source, the start-up
 * /proc/kpageflags scan, and putting a poisoned block in quarantine with its policy's [Poison] Action=.
 * The parsers are poison-parse.c's, the quarantine file quarantine.c's. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "audit.h"
#include "engine.h"
#include "log.h"
#include "manager.h"
#include "offline-worker.h"
#include "poison.h"
#include "status.h"
#include "tracefs.h"

struct Poison {
        TracefsInstance trace; /* <tracefs>/instances/memhpd (tracefs.c) */
        int pipe_fd;
        MfFormat format;
        sd_event_source *source;
        char buf[4096];
        size_t len;
        unsigned long long n_events, n_lost, n_bad;
        bool said_bad;
};

#define EVENT_DIR "events/ras/memory_failure_event"

static uint64_t now_seconds(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec;
}


static const char *shown_root(Manager *m) {
        return strcmp(m->root->path, "/") ? m->root->path : "";
}

int poison_load_quarantine(Manager *m) {
        int r;

        if (m->quarantine)
                return 0;
        m->quarantine = calloc(1, sizeof(Quarantine));
        if (!m->quarantine)
                return -ENOMEM;
        r = quarantine_load(m->root->fd, m->quarantine, now_seconds(), !m->opts.dry_run);
        if (m->quarantine->n || m->quarantine->unbounded)
                log_info("Quarantine: %zu %s%s", m->quarantine->n, plural(m->quarantine->n, "range", "ranges"),
                         m->quarantine->unbounded ? ", and damaged: no block is onlined" : "");
        return r;
}

/* The device's identity where the kernel shows one: an ACPI memory device's name and _UID, or the dax
 * device whose range holds the block. Empty when there is none. */
static void block_identity(Manager *m, uint32_t index, DeviceKind kind, char *buf, size_t size) {
        char path[64], target[256], uid[64];
        ssize_t n;

        buf[0] = '\0';
        if (kind == DEVICE_ACPI_DIMM && m->root->memory_fd >= 0) {
                snprintf(path, sizeof(path), "memory%" PRIu32 "/firmware_node", index);
                n = readlinkat(m->root->memory_fd, path, target, sizeof(target) - 1);
                if (n <= 0)
                        return;
                target[n] = '\0';
                snprintf(path, sizeof(path), "memory%" PRIu32 "/firmware_node/uid", index);
                if (root_read(m->root->memory_fd, path, uid, sizeof(uid)) > 0) {
                        char both[sizeof(target) + sizeof(uid) + 8];
                        snprintf(both, sizeof(both), "%s/uid:%s", strrchr(target, '/') ? strrchr(target, '/') + 1 : target,
                                 uid);
                        mf_name_to_word(both, buf, size);
                } else
                        mf_name_to_word(strrchr(target, '/') ? strrchr(target, '/') + 1 : target, buf, size);
                return;
        }
        if (kind == DEVICE_DAX_KMEM) {
                /* /proc/iomem: "  480000000-67fffffff : dax0.0" holds the block's start. */
                _cleanup_free_ char *text = NULL;
                uint64_t addr = inventory_block_start(m->inv, index);

                if (root_read_file(m->root->fd, "proc/iomem", 16u << 20, &text, NULL, NULL) < 0)
                        return;
                for (char *line = text, *eol; line && *line; line = eol ? eol + 1 : NULL) {
                        unsigned long long a, b;
                        char name[64];

                        eol = strchr(line, '\n');
                        if (eol)
                                *eol = '\0';
                        if (sscanf(line, " %llx-%llx : %63s", &a, &b, name) == 3 && strncmp(name, "dax", 3) == 0 &&
                            a <= addr && addr <= b) {
                                mf_name_to_word(name, buf, size);
                                return;
                        }
                }
        }
}


static void on_poison_offline_done(Manager *m, uint32_t index, int result, void *userdata) {
        /* The offline engine recorded the outcome (offlined, offline-failed); the quarantine holds either
         * way. A block that stayed online (EBUSY, timeout) is tried again at its next poisoned page. */
        if (result < 0)
                log_warning_errno(result, "memory%" PRIu32 " holds poisoned pages and could not be taken offline "
                                  "(%m); it stays online and quarantined", index);
}

/* [Poison] Action=offline: drain the block through the offline engine (offline-worker.h). */
static void poison_apply_action(Manager *m, uint32_t index, const QuarantineEntry *e) {
        const Block *b = inventory_block(m->inv, index);
        const Policy *p;
        int r;

        if (!b || b->state != STATE_ONLINE)
                return; /* offline already: the quarantine keeps it so */
        p = engine_block_policy(m, index);
        if (!p || p->poison_action != POISON_ACTION_OFFLINE)
                return;
        if (e->pages < p->poison_threshold) {
                log_info("memory%" PRIu32 ": %" PRIu32 " of Threshold=%u poisoned pages (%s:%u); left online", index,
                         e->pages, p->poison_threshold, p->path, p->poison_line);
                return;
        }
        r = offline_job_submit(m, index, OFFLINE_CAUSE_POISON, on_poison_offline_done, NULL);
        if (r < 0 && r != -EALREADY && r != -EROFS)
                log_warning_errno(r, "memory%" PRIu32 ": [Poison] Action=offline (%s:%u) cannot start: %m", index,
                                  p->path, p->poison_line);
}

int poison_block(Manager *m, uint32_t index, QuarantineReason reason, uint64_t pfn, const MemoryFailure *mf) {
        Block *b = inventory_block(m->inv, index);
        QuarantineEntry e = {
                .device = -1,
                .reason = reason,
                .pages = 1,
                .time = now_seconds(),
        }, *entry = NULL;
        AuditFields f = AUDIT_FIELDS_INIT;
        char range[48], pfn_s[24] = "", type[MF_NAME_MAX] = "", result[MF_NAME_MAX] = "";
        int r, s;

        if (!m->quarantine && poison_load_quarantine(m) == -ENOMEM)
                log_oom_abort();
        e.start = inventory_block_start(m->inv, index);
        e.end = e.start + m->inv->block_size - 1;
        if (b) {
                DeviceKind kind = (b->flags & BLOCK_CLASSIFIED) ? b->device : inventory_block_device(m->inv, index);
                e.device = kind;
                block_identity(m, index, kind, e.id, sizeof(e.id));
                f = engine_block_fields(m, index);
                if (!f.device)
                        f.device = device_kind_to_string(kind);
        } else
                f.block = index;
        if (pfn != UINT64_MAX) {
                e.has_pfn = true;
                e.pfn = pfn;
                snprintf(pfn_s, sizeof(pfn_s), "0x%" PRIx64, pfn);
                f.pfn = pfn_s;
        }
        if (mf) {
                mf_name_to_word(mf->type, type, sizeof(type));
                mf_name_to_word(mf->result, result, sizeof(result));
                snprintf(e.type, sizeof(e.type), "%s", type);
                snprintf(e.result, sizeof(e.result), "%s", result);
                f.page_type = type[0] ? type : NULL;
                f.mf_result = result[0] ? result : NULL;
        }
        r = quarantine_add(m->quarantine, &e, &entry);
        if (r == -ENOMEM)
                log_oom_abort();
        /* Saved before the record says so: what the record says is then on disk. */
        if (!m->opts.dry_run) {
                s = quarantine_save(m->root->fd, m->quarantine);
                if (s < 0 && s != m->quarantine->save_error)
                        log_error_errno(s, "Cannot save /%s: %m; memory%" PRIu32 " is quarantined only until memhpd "
                                        "stops", QUARANTINE_FILE, index);
                else if (s >= 0 && m->quarantine->save_error < 0)
                        log_info("Saved /%s again", QUARANTINE_FILE);
                m->quarantine->save_error = s;
        }
        snprintf(range, sizeof(range), "0x%" PRIx64 "-0x%" PRIx64, e.start, e.end);
        f.range = range;
        f.reason = quarantine_reason_to_string(reason);
        f.action = "quarantine";
        if (r < 0) {
                f.result = "failed";
                f.error = r;
                audit_record(AUDIT_POISONED, &f, "memory%" PRIu32 " holds a poisoned page%s%s, and the quarantine is "
                             "full: memhpd onlines no block until an administrator clears it", index,
                             pfn_s[0] ? " at pfn " : "", pfn_s);
        } else {
                f.result = r > 0 ? "ok" : "already";
                audit_record(AUDIT_POISONED, &f, "memory%" PRIu32 " holds a poisoned page%s%s%s%s%s%s (%s); %s: memhpd "
                             "will not online it again until an administrator clears it (%" PRIu32 " poisoned %s known)",
                             index, pfn_s[0] ? " at pfn " : "", pfn_s, mf && mf->type[0] ? ", " : "",
                             mf ? mf->type : "", mf && mf->result[0] ? ": " : "", mf ? mf->result : "",
                             quarantine_reason_to_string(reason), r > 0 ? "quarantined" : "already quarantined",
                             entry ? entry->pages : 1, entry && entry->pages == 1 ? "page" : "pages");
        }
        if (entry)
                poison_apply_action(m, index, entry);
        status_changed(m);
        return r;
}

void poison_event(Manager *m, const MemoryFailure *mf) {
        uint64_t page = m->inv->page_size ?: 4096, bs = m->inv->block_size;
        uint64_t addr;
        uint32_t index;

        if (bs == 0 || mf->pfn > UINT64_MAX / page) {
                log_warning("memory_failure_event for pfn 0x%" PRIx64 ": not a physical address memhpd can place",
                            mf->pfn);
                return;
        }
        addr = mf->pfn * page;
        if (addr / bs > UINT32_MAX) {
                log_warning("memory_failure_event for pfn 0x%" PRIx64 ": beyond any memory block", mf->pfn);
                return;
        }
        index = (uint32_t) (addr / bs);
        (void) poison_block(m, index, QUARANTINE_REASON_MEMORY_FAILURE, mf->pfn, mf);
}

static void handle_line(Manager *m, Poison *p, const char *line, size_t len) {
        MemoryFailure mf;
        int r;

        r = mf_trace_line_parse(line, len, &p->format, &mf);
        if (r == MF_LINE_EVENT) {
                p->n_events++;
                poison_event(m, &mf);
        } else if (r == MF_LINE_LOST) {
                /* Poison may have been missed: look for it where it can be found. */
                p->n_lost++;
                log_warning("%s/%s/instances/" POISON_INSTANCE "/trace_pipe: %.*s; scanning /proc/kpageflags for "
                            "poisoned pages", shown_root(m), p->trace.tracefs, (int) len, line);
                (void) poison_scan_kpageflags(m);
        } else if (r < 0) {
                p->n_bad++;
                if (!p->said_bad)
                        log_warning("Cannot parse a memory_failure_event line, ignored (said once): %.*s",
                                    (int) (len > 200 ? 200 : len), line);
                p->said_bad = true;
        }
}

static int open_pipe(Poison *p) {
        p->pipe_fd = tracefs_pipe_open(&p->trace);
        return p->pipe_fd < 0 ? p->pipe_fd : 0;
}

static int on_trace_pipe(sd_event_source *s, int fd, uint32_t revents _unused_, void *userdata) {
        Manager *m = userdata;
        Poison *p = m->poison;

        for (;;) {
                ssize_t n = read(fd, p->buf + p->len, sizeof(p->buf) - p->len);
                char *start, *nl;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                log_warning_errno(errno, "Cannot read trace_pipe: %m");
                        return 0;
                }
                if (n == 0) {
                        /* Only a FIFO (a test's fake tracefs) ends; the kernel's trace_pipe does not. Reopen
                         * it so that the next writer is heard and EPOLLHUP does not spin the loop. */
                        _cleanup_close_ int old = p->pipe_fd;
                        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
                        s = p->source = sd_event_source_disable_unref(p->source);
                        if (open_pipe(p) < 0 ||
                            sd_event_add_io(m->event, &p->source, p->pipe_fd, EPOLLIN, on_trace_pipe, m) < 0)
                                log_warning("trace_pipe ended and cannot be reopened; memory_failure events are not "
                                            "read any more");
                        return 0;
                }
                p->len += (size_t) n;
                start = p->buf;
                while ((nl = memchr(start, '\n', p->len - (start - p->buf)))) {
                        handle_line(m, p, start, nl - start);
                        start = nl + 1;
                }
                p->len -= start - p->buf;
                memmove(p->buf, start, p->len);
                if (p->len == sizeof(p->buf)) {
                        /* A line longer than the buffer is not one of ours: drop it. */
                        handle_line(m, p, p->buf, p->len);
                        p->len = 0;
                }
        }
}

static void poison_free(Poison *p) {
        if (!p)
                return;
        sd_event_source_disable_unref(p->source);
        if (p->pipe_fd >= 0)
                close(p->pipe_fd);
        tracefs_instance_close(&p->trace);
        free(p);
}

/* Say once why poison is not watched; memhpd keeps onlining. */
static int poison_unavailable(Manager *m, Poison *p, int error, const char *msg) {
        log_warning_errno(error, "%s (%m): memory failures are not watched and poisoned blocks are quarantined only when an online "
                    "fails with EHWPOISON (6.2+) or the start-up /proc/kpageflags scan finds them; memhpd keeps "
                    "onlining", msg);
        poison_free(p);
        return 0;
}

int poison_start(Manager *m) {
        _cleanup_free_ char *format = NULL;
        const char *what = NULL;
        Poison *p;
        int r;

        if (m->opts.dry_run)
                return 0;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->trace = (TracefsInstance) TRACEFS_INSTANCE_INIT;
        p->pipe_fd = -EBADF;
        /* 64 kB a CPU holds hundreds of events: memory failures come one page at a time. */
        r = tracefs_instance_open(m->root, POISON_INSTANCE, 64, &p->trace, &what);
        if (r < 0)
                return poison_unavailable(m, p, r, what);
        r = root_read_file(p->trace.fd, EVENT_DIR "/format", 64 * 1024, &format, NULL, NULL);
        if (r == -ENOENT)
                return poison_unavailable(m, p, r,
                                          "This kernel has no ras:memory_failure_event (built without "
                                          "CONFIG_MEMORY_FAILURE, as Debian's cloud kernels of 6.1 are)");
        if (r < 0)
                return poison_unavailable(m, p, r, "Cannot read the format of ras:memory_failure_event");
        r = mf_format_parse(format, &p->format);
        if (r < 0)
                return poison_unavailable(m, p, r, "The format of ras:memory_failure_event is not one memhpd knows");
        if (!p->format.shape_ok)
                log_warning("ras:memory_failure_event prints a format memhpd does not know; only the pfn of each "
                            "event is read");
        r = tracefs_event_enable(&p->trace, "ras/memory_failure_event", true);
        if (r < 0)
                return poison_unavailable(m, p, r, "Cannot enable ras:memory_failure_event in the tracefs instance");
        r = open_pipe(p);
        if (r < 0)
                return poison_unavailable(m, p, r, "Cannot open the instance's trace_pipe");
        m->poison = p;
        r = sd_event_add_io(m->event, &p->source, p->pipe_fd, EPOLLIN, on_trace_pipe, m);
        if (r < 0) {
                m->poison = NULL;
                return poison_unavailable(m, p, r, "Cannot watch trace_pipe");
        }
        (void) sd_event_source_set_description(p->source, "memory-failure");
        log_info("Watching ras:memory_failure_event in %s/%s/instances/" POISON_INSTANCE " (%zu page types, %zu results)",
                 shown_root(m), p->trace.tracefs, p->format.n_types, p->format.n_results);
        return 0;
}

void poison_stop(Manager *m) {
        Poison *p = m->poison;

        if (p) {
                (void) tracefs_event_enable(&p->trace, "ras/memory_failure_event", false);
                /* An instance whose trace_pipe is open cannot be removed (EBUSY): poison_free() closes
                 * the pipe first. */
                poison_free(p);
                m->poison = NULL;
        }
        if (m->quarantine) {
                quarantine_done(m->quarantine);
                m->quarantine = mfree(m->quarantine);
        }
}

/* "HardwareCorrupted:     4 kB": 0 means no page is poisoned and nothing needs a scan. */
static int hardware_corrupted_kb(Manager *m, uint64_t *ret) {
        _cleanup_free_ char *text = NULL;
        const char *p;
        unsigned long long kb;
        int r;

        r = root_read_file(m->root->fd, "proc/meminfo", 1u << 20, &text, NULL, NULL);
        if (r < 0)
                return r;
        p = strstr(text, "\nHardwareCorrupted:");
        if (!p || sscanf(p + strlen("\nHardwareCorrupted:"), " %llu kB", &kb) != 1)
                return -ENOENT; /* a kernel without CONFIG_MEMORY_FAILURE does not print it */
        *ret = kb;
        return 0;
}

#define KPF_HWPOISON 19

int poison_scan_kpageflags(Manager *m) {
        _cleanup_close_ int fd = -EBADF;
        uint64_t kb = 0, pages_per_block, page = m->inv->page_size ?: 4096;
        uint64_t flags[512], t0;
        unsigned scanned = 0;
        int r, found = 0;

        r = hardware_corrupted_kb(m, &kb);
        if (r < 0 || kb == 0)
                return 0;
        fd = openat(m->root->fd, "proc/kpageflags", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                log_warning_errno(errno, "%" PRIu64 " kB of memory are poisoned (HardwareCorrupted), but "
                                  "/proc/kpageflags cannot be read (%m): memhpd cannot tell which blocks", kb);
                return -errno;
        }
        pages_per_block = m->inv->block_size / page;
        t0 = now_monotonic_usec();
        for (uint32_t i = 0; i < m->inv->n_blocks; i++) {
                const Block *b = &m->inv->blocks[i];
                uint64_t first = (uint64_t) i * pages_per_block;
                bool hit = false;

                /* Hot-added, online blocks: offline pages read as KPF_NOPAGE, boot memory is not memhpd's.
                 * A block online at start was never classified: it is now (firmware_node, /proc/iomem). */
                if (!(b->flags & BLOCK_PRESENT) || b->state != STATE_ONLINE ||
                    inventory_block_device(m->inv, i) == DEVICE_BOOT)
                        continue;
                if (quarantine_find(m->quarantine, inventory_block_start(m->inv, i), m->inv->block_size))
                        continue;
                if (scanned++ >= POISON_SCAN_BLOCKS_MAX) {
                        log_warning("/proc/kpageflags scan stopped after %u blocks; the others are not checked for "
                                    "poisoned pages", POISON_SCAN_BLOCKS_MAX);
                        break;
                }
                for (uint64_t pfn = first; pfn < first + pages_per_block && !hit;) {
                        size_t want = (size_t) (first + pages_per_block - pfn < ELEMENTSOF(flags) ?
                                                first + pages_per_block - pfn : ELEMENTSOF(flags));
                        ssize_t n = pread(fd, flags, want * 8, (off_t) (pfn * 8));
                        if (n <= 0 || n % 8)
                                break;
                        for (size_t k = 0; k < (size_t) n / 8; k++)
                                if (flags[k] & (UINT64_C(1) << KPF_HWPOISON)) {
                                        hit = true;
                                        (void) poison_block(m, i, QUARANTINE_REASON_KPAGEFLAGS, pfn + k, NULL);
                                        found++;
                                        break;
                                }
                        pfn += (uint64_t) n / 8;
                }
        }
        scanned = scanned > POISON_SCAN_BLOCKS_MAX ? POISON_SCAN_BLOCKS_MAX : scanned;
        log_info("HardwareCorrupted is %" PRIu64 " kB: scanned %u online hot-added %s in /proc/kpageflags in %" PRIu64
                 " ms, %d newly quarantined", kb, scanned, plural(scanned, "block", "blocks"),
                 (now_monotonic_usec() - t0) / 1000, found);
        return found;
}
