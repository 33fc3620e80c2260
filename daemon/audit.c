/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the audit trail: the record kinds and their MESSAGE_IDs, and writing one record to the journal or
 * to stderr. Plain diagnostics are in log.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <systemd/sd-journal.h>

#include "audit.h"

typedef struct AuditKind {
        const char *name;
        const char *id;
        int priority;
} AuditKind;

/* MESSAGE_IDs are part of the interface: never change one. Each has an entry in memhpd.catalog. */
static const AuditKind audit_kinds[_AUDIT_MAX] = {
        [AUDIT_STARTED] = { "started", "a9e6bb61970e4d1e808859d2149b6c3e", LOG_INFO },
        [AUDIT_STOPPED] = { "stopped", "6438fd474c5f43ce8bef459fd7900df2", LOG_INFO },
        [AUDIT_ONLINED] = { "onlined", "15617fb694d041709337b1a943a61fc9", LOG_INFO },
        [AUDIT_WOULD_ONLINE] = { "would-online", "bfd518d3fd964aac82c73dc3ef42e3da", LOG_INFO },
        [AUDIT_ONLINE_FAILED] = { "online-failed", "f7874c4be819426380900ee9bdcae76d", LOG_ERR },
        [AUDIT_LEFT_OFFLINE] = { "left-offline", "7a0fd4a547904126b3d489a2806e05cb", LOG_NOTICE },
        [AUDIT_ONLINE_BY_OTHER] = { "online-by-other", "baf098a563464594a430e53e1ac720f6", LOG_NOTICE },
        [AUDIT_OFFLINE_BY_OTHER] = { "offline-by-other", "95b3b4d12f9f41fe8f20044281bb9b51", LOG_NOTICE },
        [AUDIT_BLOCK_REMOVED] = { "removed", "1335b71570ea4319986a685f67d364e5", LOG_INFO },
        [AUDIT_NODE_ADDED] = { "node-added", "0bf7fbafa634458699df512df402e4bc", LOG_INFO },
        [AUDIT_NODE_REMOVED] = { "node-removed", "adc991b7ec054c819b0ca890293968f8", LOG_INFO },
        [AUDIT_POLICY_LOADED] = { "policy-loaded", "1bc7341a24e34f75881bb3c23b3d89b6", LOG_INFO },
        [AUDIT_POLICY_REJECTED] = { "policy-rejected", "b4b39e4287a74253a169758b2ede2ec3", LOG_ERR },
        [AUDIT_SETTINGS_REJECTED] = { "settings-rejected", "50683aebac53419f9810b7304e90c436", LOG_ERR },
        [AUDIT_EVENTS_LOST] = { "events-lost", "ee86999fc2cf4e198d3735c8aa0ba7da", LOG_WARNING },
        [AUDIT_BAD_UEVENT] = { "bad-uevent", "bfe9c7bb89bb4b62bc5000e3244fff8b", LOG_WARNING },
        [AUDIT_BAD_SYSFS] = { "bad-sysfs", "dd0c8a2c88ef4a378838da46c0ccbe8b", LOG_WARNING },
        [AUDIT_CONFLICT] = { "conflict", "8bcc7a8dce444945be40d52cc6ae6aa8", LOG_WARNING },
        [AUDIT_KERNEL_AUTO_ONLINE] = { "kernel-auto-online", "9abfd29f4c324d239acf325e0bd67755", LOG_NOTICE },
        [AUDIT_POISONED] = { "poisoned", "501b5135586d4a0bb0a415fba65c1bad", LOG_WARNING },
        [AUDIT_QUARANTINED] = { "quarantined", "571d4dd83f034d3391438db7841a64dc", LOG_NOTICE },
        [AUDIT_QUARANTINE_CLEARED] = { "quarantine-cleared", "a978072e8346405d9877416790633e51", LOG_NOTICE },
        [AUDIT_OFFLINE_STARTED] = { "offline-started", "3a599672804748da8c8cdeecfe990bc7", LOG_INFO },
        [AUDIT_OFFLINE_RETRY] = { "offline-retry", "e5fa4e2f739c450880f8df52d53a055b", LOG_WARNING },
        [AUDIT_OFFLINED] = { "offlined", "e799019adac84a09a5294dba11e68c6d", LOG_INFO },
        [AUDIT_OFFLINE_FAILED] = { "offline-failed", "76bb59cf2d5a4ee382f2e543a41a351d", LOG_ERR },
        [AUDIT_DRAIN_STARTED] = { "drain-started", "fe189d39d96d404594bf65dc7e218919", LOG_NOTICE },
        [AUDIT_DRAIN_FINISHED] = { "drain-finished", "0633d15031a44d7a9b139e772594ce01", LOG_NOTICE },
        [AUDIT_EJECT] = { "eject", "abfd0067fc4444e99d3e8be338ca13c8", LOG_NOTICE },
        [AUDIT_DEFERRED] = { "deferred", "9ee66474742d4a5090a544a84dc186a9", LOG_INFO },
        [AUDIT_RESERVED] = { "reserved", "a2392f31565844329c1de4a73e1216c7", LOG_INFO },
        [AUDIT_RESERVE_STEP] = { "reserve-step", "d3f0ccbef6e14578babbd12c2bc29598", LOG_NOTICE },
        [AUDIT_PRESSURE_SOURCE] = { "pressure-source", "5973025dd1354cdba8538408a0b7b324", LOG_WARNING },
        [AUDIT_REBALANCE] = { "rebalance", "76a7613680484e57a0107404f32c835f", LOG_NOTICE },
        [AUDIT_DAX_DEVICE] = { "dax-device", "535212f01d2b43efa9e40969aa621210", LOG_INFO },
        [AUDIT_DAX_SYSTEM_RAM] = { "dax-system-ram", "76b62a34ba984d12bffbd53d270ee705", LOG_INFO },
        [AUDIT_DAX_FAILED] = { "dax-failed", "524288497b6c4397a2a672bbd6fcd5da", LOG_ERR },
        [AUDIT_DAX_LEFT] = { "dax-left", "ce2484b1eb2b4d90a80fbeb72c429dd7", LOG_NOTICE },
        [AUDIT_MEMMAP] = { "memmap", "c849d31d5b174b88b9c8fcf7f712cf82", LOG_NOTICE },
        [AUDIT_MEMMAP_RISK] = { "memmap-risk", "936821cb0a394376b4314de0bbe25451", LOG_WARNING },
};

static bool use_journal;
static audit_observer_t observer;
static void *observer_userdata;

void audit_set_observer(audit_observer_t o, void *userdata) {
        observer = o;
        observer_userdata = userdata;
}

static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return st.st_dev == dev && st.st_ino == ino;
}

void audit_init(AuditTarget target) {
        use_journal = target == AUDIT_TO_JOURNAL || (target == AUDIT_TO_AUTO && stderr_is_journal());
}

bool audit_to_journal(void) {
        return use_journal;
}

const char *audit_event_name(AuditEvent e) {
        return e >= 0 && e < _AUDIT_MAX ? audit_kinds[e].name : "invalid";
}

const char *audit_event_id(AuditEvent e) {
        return e >= 0 && e < _AUDIT_MAX ? audit_kinds[e].id : "00000000000000000000000000000000";
}

/* Values we print on the stderr line are single words; keep them so for a simple parser. */
static void append_field(char *buf, size_t size, size_t *len, const char *key, const char *value) {
        int n;

        if (!value || *len >= size)
                return;
        n = snprintf(buf + *len, size - *len, " %s=", key);
        if (n < 0)
                return;
        *len += (size_t) n;
        for (const char *p = value; *p && *len + 1 < size; p++)
                buf[(*len)++] = (*p == ' ' || *p == ']') ? '_' : *p;
        if (*len < size)
                buf[*len] = '\0';
}

void audit_record(AuditEvent e, const AuditFields *f, const char *fmt, ...) {
        static const AuditKind invalid = { "invalid", "00000000000000000000000000000000", LOG_ERR };
        const AuditKind *k = e >= 0 && e < _AUDIT_MAX ? &audit_kinds[e] : &invalid;
        char message[512];
        char block[32] = "", node[32] = "", policy[512] = "", err[32] = "";
        va_list ap;
        int saved_errno;

        /* %m names the record's error; the caller's errno is kept. */
        saved_errno = errno;
        errno = f->error < 0 ? -f->error : f->error;
        va_start(ap, fmt);
        (void) vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        errno = saved_errno;
        if (observer)
                observer(e, f, observer_userdata);

        if (f->block >= 0)
                snprintf(block, sizeof(block), "%lld", f->block);
        if (f->node >= 0)
                snprintf(node, sizeof(node), "%d", f->node);
        if (f->policy_path)
                snprintf(policy, sizeof(policy), "%s:%u", f->policy_path, f->policy_line);
        if (f->error)
                snprintf(err, sizeof(err), "%d", f->error > 0 ? f->error : -f->error);

        if (use_journal) {
                /* Fixed-size iovecs on the stack: nothing to allocate on the event path. */
                char v[24][600]; /* 21 fields today */
                struct iovec iov[24];
                int n = 0;

#define ADD(fmtstr, val)                                                                       \
        do {                                                                                   \
                const char *_v = (val);                                                        \
                if (_v && *_v && n < (int) (sizeof(iov) / sizeof(iov[0]))) {                 \
                        int _l = snprintf(v[n], sizeof(v[n]), fmtstr, _v);                     \
                        iov[n] = (struct iovec) { v[n], _l < (int) sizeof(v[n]) ? (size_t) _l : sizeof(v[n]) - 1 }; \
                        n++;                                                                   \
                }                                                                              \
        } while (0)
                char prio[2] = { (char) ('0' + k->priority), 0 };
                ADD("MESSAGE=%s", message);
                ADD("MESSAGE_ID=%s", k->id);
                ADD("PRIORITY=%s", prio);
                ADD("MEMHPD_EVENT=%s", k->name);
                ADD("MEMHPD_BLOCK=%s", block);
                ADD("MEMHPD_NODE=%s", node);
                ADD("MEMHPD_DEVICE=%s", f->device);
                ADD("MEMHPD_ZONE=%s", f->zone);
                ADD("MEMHPD_ACTION=%s", f->action);
                ADD("MEMHPD_RESULT=%s", f->result);
                ADD("MEMHPD_POLICY=%s", policy);
                ADD("ERRNO=%s", err);
                ADD("MEMHPD_AGENT=%s", f->agent);
                ADD("MEMHPD_FILE=%s", f->file);
                ADD("MEMHPD_RANGE=%s", f->range);
                ADD("MEMHPD_REASON=%s", f->reason);
                ADD("MEMHPD_PFN=%s", f->pfn);
                ADD("MEMHPD_PAGE_TYPE=%s", f->page_type);
                ADD("MEMHPD_MF_RESULT=%s", f->mf_result);
                ADD("MEMHPD_CALLER=%s", f->caller);
                ADD("MEMHPD_DAX_DEVICE=%s", f->dax);
#undef ADD
                if (sd_journal_sendv(iov, n) >= 0)
                        return;
                /* journald gone: fall through to stderr so the record is not lost. */
        }

        char line[1536];
        size_t len = 0;
        int l = snprintf(line, sizeof(line), "memhpd: %s [event=%s", message, k->name);
        len = l > 0 ? ((size_t) l < sizeof(line) ? (size_t) l : sizeof(line) - 1) : 0;
        append_field(line, sizeof(line), &len, "block", block[0] ? block : NULL);
        append_field(line, sizeof(line), &len, "node", node[0] ? node : NULL);
        append_field(line, sizeof(line), &len, "device", f->device);
        append_field(line, sizeof(line), &len, "zone", f->zone);
        append_field(line, sizeof(line), &len, "action", f->action);
        append_field(line, sizeof(line), &len, "result", f->result);
        append_field(line, sizeof(line), &len, "policy", policy[0] ? policy : NULL);
        append_field(line, sizeof(line), &len, "errno", err[0] ? err : NULL);
        append_field(line, sizeof(line), &len, "agent", f->agent);
        append_field(line, sizeof(line), &len, "file", f->file);
        append_field(line, sizeof(line), &len, "range", f->range);
        append_field(line, sizeof(line), &len, "reason", f->reason);
        append_field(line, sizeof(line), &len, "pfn", f->pfn);
        append_field(line, sizeof(line), &len, "page_type", f->page_type);
        append_field(line, sizeof(line), &len, "mf_result", f->mf_result);
        append_field(line, sizeof(line), &len, "caller", f->caller);
        append_field(line, sizeof(line), &len, "dax", f->dax);
        if (len + 2 < sizeof(line)) {
                line[len++] = ']';
                line[len++] = '\n';
        } else {
                line[sizeof(line) - 3] = ']';
                line[sizeof(line) - 2] = '\n';
                len = sizeof(line) - 1;
        }
        (void) !write(STDERR_FILENO, line, len);
}
