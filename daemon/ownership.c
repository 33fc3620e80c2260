/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Owns the kernel's auto-online knobs: detected, taken over, delegated to, saved in /run and restored.
 * The other agents (command line, udev, daxctl) are detected in agents.c. See ownership.h.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "conf-file.h"
#include "log.h"
#include "ownership.h"
#include "sysfs.h"

/* Survives a crash and restart of memhpd (/run), not a reboot: exactly as long as the kernel's
 * values it holds. Relative to run/memhpd. */
#define SAVED_DIR "run/memhpd"
#define SAVED_NAME "kernel-auto-online"
#define SAVED_SHOWN "/" SAVED_DIR "/" SAVED_NAME
#define SAVED_MAX 4096

/* ------------------------------------------------------------------------------------ the knobs */

static const char *const knob_names[_KNOB_MAX] = {
        [KNOB_ONLINE_POLICY] = "online_policy",
        [KNOB_AUTO_MOVABLE_RATIO] = "auto_movable_ratio",
        [KNOB_AUTO_MOVABLE_NUMA_AWARE] = "auto_movable_numa_aware",
        [KNOB_AUTO_ONLINE_BLOCKS] = "auto_online_blocks",
};

static const char *const knob_paths[_KNOB_MAX] = {
        [KNOB_ONLINE_POLICY] = "sys/module/memory_hotplug/parameters/online_policy",
        [KNOB_AUTO_MOVABLE_RATIO] = "sys/module/memory_hotplug/parameters/auto_movable_ratio",
        [KNOB_AUTO_MOVABLE_NUMA_AWARE] = "sys/module/memory_hotplug/parameters/auto_movable_numa_aware",
        [KNOB_AUTO_ONLINE_BLOCKS] = "sys/devices/system/memory/auto_online_blocks",
};

const char *knob_name(Knob k) {
        return k >= 0 && k < _KNOB_MAX ? knob_names[k] : "invalid";
}

const char *knob_path(Knob k) {
        return k >= 0 && k < _KNOB_MAX ? knob_paths[k] : "invalid";
}

static bool one_of(const char *v, const char *const *list) {
        for (; *list; list++)
                if (strcmp(v, *list) == 0)
                        return true;
        return false;
}

int knob_value_check(Knob k, const char *value) {
        static const char *const auto_online[] = { "offline", "online", "online_kernel", "online_movable", NULL };
        static const char *const policies[] = { "contig-zones", "auto-movable", NULL };
        static const char *const bools[] = { "Y", "N", NULL };
        size_t len = strlen(value);

        switch (k) {
        case KNOB_AUTO_ONLINE_BLOCKS:
                return one_of(value, auto_online) ? 0 : -EINVAL;
        case KNOB_ONLINE_POLICY:
                return one_of(value, policies) ? 0 : -EINVAL;
        case KNOB_AUTO_MOVABLE_NUMA_AWARE:
                return one_of(value, bools) ? 0 : -EINVAL;
        case KNOB_AUTO_MOVABLE_RATIO: {
                uint64_t v;
                /* An unsigned int in decimal, as the kernel prints it. */
                if (len == 0 || len > 10 || strspn(value, "0123456789") != len || parse_u64(value, 10, &v) < 0 ||
                    v > UINT_MAX)
                        return -EINVAL;
                return 0;
        }
        default:
                return -EINVAL;
        }
}

void knob_values_put(KnobValues *v, Knob k, const char *value) {
        v->set[k] = true;
        snprintf(v->value[k], sizeof(v->value[k]), "%s", value);
}

int knob_values_parse(const char *text, KnobValues *ret, unsigned *ret_bad_line) {
        KnobValues v = {};
        unsigned lineno = 0;

        for (const char *line = text; line && *line;) {
                const char *eol = strchr(line, '\n');
                size_t len = eol ? (size_t) (eol - line) : strlen(line);
                char buf[128], *eq;
                int k;

                lineno++;
                if (len == 0 || line[0] == '#')
                        goto next;
                if (len >= sizeof(buf))
                        goto bad;
                memcpy(buf, line, len);
                buf[len] = '\0';
                eq = strchr(buf, '=');
                if (!eq)
                        goto bad;
                *eq = '\0';
                for (k = 0; k < _KNOB_MAX; k++)
                        if (strcmp(buf, knob_names[k]) == 0)
                                break;
                if (k == _KNOB_MAX || v.set[k] || strlen(eq + 1) >= KNOB_VALUE_MAX || knob_value_check(k, eq + 1) < 0)
                        goto bad;
                knob_values_put(&v, k, eq + 1);
        next:
                line = eol ? eol + 1 : NULL;
                continue;
        bad:
                if (ret_bad_line)
                        *ret_bad_line = lineno;
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

int knob_values_format(const KnobValues *v, char *buf, size_t size) {
        size_t len;
        int n;

        n = snprintf(buf, size, "# The kernel's memory hot-plug settings before memhpd changed them. memhpd puts\n"
                                "# them back when it stops, also after a crash and restart. Cleared at reboot.\n");
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        len = n;
        for (int k = 0; k < _KNOB_MAX; k++) {
                if (!v->set[k])
                        continue;
                n = snprintf(buf + len, size - len, "%s=%s\n", knob_names[k], v->value[k]);
                if (n < 0 || (size_t) n >= size - len)
                        return -ENOBUFS;
                len += n;
        }
        return (int) len;
}

/* ------------------------------------------------------------------- what the kernel can do for us */

#define HOTADD_KINDS ((((uint32_t) 1 << _DEVICE_MAX) - 1) & ~((uint32_t) 1 << DEVICE_BOOT))

static bool can_match_hotadd(const Policy *p) {
        return !p->devices || (p->devices & HOTADD_KINDS);
}

/* The [Match] key that makes 'p' see only some hot-added blocks, or NULL if it sees them all. */
static const char *restriction(const Policy *p) {
        if (p->devices && (p->devices & HOTADD_KINDS) != HOTADD_KINDS)
                return "Device=";
        if (p->nodes.n)
                return "Node=";
        if (p->blocks.n)
                return "Block=";
        if (p->phys.n)
                return "PhysAddress=";
        if (p->cpuless >= 0)
                return "CpuLess=";
        if (p->tiers.n)
                return "MemoryTier=";
        return NULL;
}

static bool same_decision(const Policy *a, const Policy *b) {
        return a->zone == b->zone && a->when == b->when && a->fallback == b->fallback &&
               (a->zone != TARGET_AUTO || a->max_movable_ratio == b->max_movable_ratio);
}

int ownership_delegate_plan(const PolicySet *set, KnobValues *ret, const Policy **ret_policy, char *why,
                            size_t why_size) {
        const Policy *all = NULL;
        KnobValues v = {};
        size_t i;

        for (i = 0; i < set->n; i++)
                if (can_match_hotadd(&set->items[i]) && !restriction(&set->items[i])) {
                        all = &set->items[i];
                        break;
                }
        if (set->n == 0) {
                snprintf(why, why_size, "there is no policy: every new block stays offline");
                return 0;
        }
        if (!all) {
                const Policy *p = &set->items[0];
                for (size_t j = 0; j < set->n; j++)
                        if (can_match_hotadd(&set->items[j])) {
                                p = &set->items[j];
                                break;
                        }
                snprintf(why, why_size, "no policy matches every hot-added block (%s:%u has %s), and the kernel "
                         "would online the blocks memhpd leaves offline", p->path, p->line, strna(restriction(p)));
                return 0;
        }
        /* Policies before the catch-all see only some blocks; the kernel cannot tell those apart, so
         * they must decide as the catch-all does. Policies after it never see a hot-added block. */
        for (size_t j = 0; j < i; j++) {
                const Policy *p = &set->items[j];
                if (can_match_hotadd(p) && !same_decision(p, all)) {
                        snprintf(why, why_size, "%s:%u (%s) decides differently from %s:%u, and the kernel cannot "
                                 "see what %s matches", p->path, p->line, strna(restriction(p)), all->path, all->line,
                                 strna(restriction(p)));
                        return 0;
                }
        }
        if (all->when != WHEN_IMMEDIATE) {
                snprintf(why, why_size, "%s:%u has When=%s; the kernel can only online at once", all->path, all->line,
                         when_to_string(all->when));
                return 0;
        }
        switch (all->zone) {
        case TARGET_MOVABLE:
                knob_values_put(&v, KNOB_AUTO_ONLINE_BLOCKS, "online_movable");
                break;
        case TARGET_KERNEL:
                knob_values_put(&v, KNOB_AUTO_ONLINE_BLOCKS, "online_kernel");
                break;
        case TARGET_AUTO: {
                char ratio[16];
                snprintf(ratio, sizeof(ratio), "%u", all->max_movable_ratio);
                knob_values_put(&v, KNOB_ONLINE_POLICY, "auto-movable");
                knob_values_put(&v, KNOB_AUTO_MOVABLE_RATIO, ratio);
                /* memhpd's Zone=auto keeps the ratio per node; the kernel does that only when NUMA-aware. */
                knob_values_put(&v, KNOB_AUTO_MOVABLE_NUMA_AWARE, "Y");
                knob_values_put(&v, KNOB_AUTO_ONLINE_BLOCKS, "online");
                break;
        }
        default:
                snprintf(why, why_size, "%s:%u has Zone=%s: there is nothing for the kernel to online", all->path,
                         all->line, zone_target_to_string(all->zone));
                return 0;
        }
        *ret = v;
        if (ret_policy)
                *ret_policy = all;
        return 1;
}

/* ------------------------------------------------------------------------------------ detection */

/* Read one knob. Returns 0 with a valid value, -ENOENT if the kernel has no such file, or another
 * -errno (-EINVAL: a value memhpd does not know). */
static int knob_read(int rootfd, Knob k, char *buf, size_t size) {
        ssize_t n = root_read(rootfd, knob_paths[k], buf, size);

        if (n < 0)
                return (int) n;
        return knob_value_check(k, buf);
}

static const char *mode_consequence(KernelAutoOnline mode) {
        switch (mode) {
        case KERNEL_AUTO_ONLINE_KEEP:
                return "KernelAutoOnline=keep: memhpd leaves it so and acts only on blocks that stay offline; its "
                       "policies do not apply to what the kernel onlines";
        case KERNEL_AUTO_ONLINE_DELEGATE:
                return "KernelAutoOnline=delegate: while memhpd runs the kernel onlines as the policy says, or memhpd "
                       "takes it over";
        default:
                return "KernelAutoOnline=takeover: memhpd sets it to offline while it runs and puts it back when it stops";
        }
}

/* Returns false when the kernel has no auto-online memhpd can tell: then nothing else about it is said. */
static bool detect_kernel(int rootfd, const KnobValues *saved, KernelAutoOnline mode, Conflicts *c) {
        char cur[ROOT_VALUE_MAX], param[_KNOB_MAX][ROOT_VALUE_MAX] = {};
        const char *effective;
        int r;

        r = knob_read(rootfd, KNOB_AUTO_ONLINE_BLOCKS, cur, sizeof(cur));
        if (r == -ENOENT)
                return false; /* no memory hot-plug, or a kernel without auto-online: nobody to conflict with */
        if (r == -EINVAL) {
                conflicts_add(c, "kernel", "/sys/devices/system/memory/auto_online_blocks", 0, true, 0,
                              "auto_online_blocks holds \"%s\", which memhpd does not know: it cannot tell whether "
                              "the kernel onlines hot-added memory itself, and leaves it alone", cur);
                return false;
        }
        if (r < 0) {
                conflicts_add(c, "kernel", "/sys/devices/system/memory/auto_online_blocks", 0, true, r,
                              "cannot read auto_online_blocks (%m): memhpd cannot tell whether the kernel onlines "
                              "hot-added memory itself, and leaves it alone");
                return false;
        }
        /* Without memhpd the kernel does what the saved value says (our own "offline" is not its own). */
        effective = saved && saved->set[KNOB_AUTO_ONLINE_BLOCKS] ? saved->value[KNOB_AUTO_ONLINE_BLOCKS] : cur;

        for (Knob k = KNOB_ONLINE_POLICY; k <= KNOB_AUTO_MOVABLE_NUMA_AWARE; k++) {
                r = knob_read(rootfd, k, param[k], sizeof(param[k]));
                if (r == -ENOENT) {
                        param[k][0] = '\0'; /* before Linux 5.15 */
                        continue;
                }
                if (r < 0) {
                        char shown[128];
                        snprintf(shown, sizeof(shown), "/%s", knob_paths[k]);
                        if (r == -EINVAL)
                                conflicts_add(c, "kernel", shown, 0, true, 0, "memory_hotplug.%s holds \"%s\", which "
                                              "memhpd does not know: not using or changing it", knob_names[k], param[k]);
                        else
                                conflicts_add(c, "kernel", shown, 0, true, r, "cannot read memory_hotplug.%s (%m): not "
                                              "using or changing it", knob_names[k]);
                        param[k][0] = '\0';
                }
        }

        if (strcmp(effective, "offline") != 0) {
                const char *policy = saved && saved->set[KNOB_ONLINE_POLICY] ? saved->value[KNOB_ONLINE_POLICY]
                                                                              : param[KNOB_ONLINE_POLICY];
                char how[160];

                if (strcmp(effective, "online") != 0)
                        snprintf(how, sizeof(how), "as %.31s", effective);
                else if (strcmp(policy, "auto-movable") == 0)
                        snprintf(how, sizeof(how), "into the zone its auto-movable policy picks (ratio %.31s%%)",
                                 saved && saved->set[KNOB_AUTO_MOVABLE_RATIO] ? saved->value[KNOB_AUTO_MOVABLE_RATIO]
                                                                             : param[KNOB_AUTO_MOVABLE_RATIO]);
                else
                        snprintf(how, sizeof(how), "into ZONE_NORMAL (online_policy=%.31s)", policy[0] ? policy : "contig-zones");
                conflicts_add(c, "kernel", "/sys/devices/system/memory/auto_online_blocks", 0, false, 0,
                              "the kernel onlines every hot-added memory block itself, %s, before memhpd sees it "
                              "(auto_online_blocks=%s); %s", how, effective, mode_consequence(mode));
        }
        return true;
}

void ownership_detect(int rootfd, const KnobValues *saved, KernelAutoOnline mode, Conflicts *ret) {
        ret->n = 0;
        if (detect_kernel(rootfd, saved, mode, ret))
                agents_detect_cmdline(rootfd, ret);
        agents_detect_udev_and_daxctl(rootfd, ret);
}

void ownership_print_conflicts(int rootfd, KernelAutoOnline mode, FILE *out) {
        Conflicts *c = calloc(1, sizeof(*c));
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int dfd = -EBADF;
        KnobValues saved = {};

        if (!c)
                log_oom_abort();
        /* While memhpd runs (or after it crashed) the kernel's own values are the saved ones. */
        dfd = root_state_dir(rootfd, SAVED_DIR, false);
        if (dfd >= 0 && root_state_read(dfd, SAVED_NAME, SAVED_MAX, &text) >= 0 &&
            knob_values_parse(text, &saved, NULL) < 0)
                saved = (KnobValues) {};
        ownership_detect(rootfd, &saved, mode, c);
        conflicts_print(c, out);
        free(c);
}

/* ------------------------------------------------------------------------------------------- I/O */

struct Ownership {
        int rootfd;                 /* not owned */
        bool dry_run;
        bool loaded;                /* the saved file was looked at */
        bool applied;               /* ownership_apply() ran: a stop puts the values back */
        bool dir_said;              /* a problem with /run/memhpd was said once */
        KnobValues saved;           /* the kernel's values before memhpd changed them (= the file) */
        KernelAutoOnline active;    /* what is in force: delegate may have fallen back to takeover */
        char action[KNOB_VALUE_MAX];/* delegate: what the kernel writes (auto_online_blocks) */
};

int ownership_new(int rootfd, bool dry_run, Ownership **ret) {
        Ownership *o = calloc(1, sizeof(*o));

        if (!o)
                return -ENOMEM;
        o->rootfd = rootfd;
        o->dry_run = dry_run;
        o->active = KERNEL_AUTO_ONLINE_KEEP;
        *ret = o;
        return 0;
}

Ownership *ownership_free(Ownership *o) {
        if (!o)
                return NULL;
        if (o->applied)
                (void) ownership_release(o);
        free(o);
        return NULL;
}

static void say(Ownership *o, const char *result, int error, const char *fmt, ...) _printf_(4, 5);

/* One kernel-auto-online record; while formatting, %m names 'error'. */
static void say(Ownership *o, const char *result, int error, const char *fmt, ...) {
        AuditFields f = AUDIT_FIELDS_INIT;
        int saved_errno = errno;
        char text[512];
        va_list ap;

        errno = error < 0 ? -error : error;
        va_start(ap, fmt);
        (void) vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        errno = saved_errno;
        f.agent = "kernel";
        f.result = o->dry_run && strcmp(result, "failed") != 0 ? "dry-run" : result;
        f.error = error;
        audit_record(AUDIT_KERNEL_AUTO_ONLINE, &f, "%s", text);
}

static void say_dir_problem(Ownership *o, int r) {
        if (o->dir_said)
                return;
        o->dir_said = true;
        if (r == -EPERM || r == -ENOTDIR)
                say(o, "failed", r, "cannot use /%s (%s): memhpd cannot keep the kernel's auto-online values across "
                    "a crash, so it leaves them as they are", SAVED_DIR,
                    r == -EPERM ? "owned or writable by another user" : "not a directory");
        else
                say(o, "failed", r, "cannot use /%s (%m): memhpd cannot keep the kernel's auto-online values across "
                    "a crash, so it leaves them as they are", SAVED_DIR);
}

static void saved_load(Ownership *o) {
        _cleanup_close_ int dfd = -EBADF;
        _cleanup_free_ char *text = NULL;
        KnobValues v;
        unsigned bad = 0;
        int r;

        o->loaded = true;
        dfd = root_state_dir(o->rootfd, SAVED_DIR, false);
        if (dfd == -ENOENT)
                return;
        if (dfd < 0) {
                say_dir_problem(o, dfd);
                return;
        }
        r = root_state_read(dfd, SAVED_NAME, SAVED_MAX, &text);
        if (r == -ENOENT)
                return;
        if (r < 0) {
                say(o, "failed", r, "cannot read %s (%m): the kernel's values from before an earlier memhpd changed "
                    "them are unknown; nothing is restored from it", SAVED_SHOWN);
                return;
        }
        if (knob_values_parse(text, &v, &bad) < 0) {
                say(o, "failed", EINVAL, "%s:%u is not a knob=value line memhpd wrote: the kernel's values from "
                    "before an earlier memhpd changed them are unknown; nothing is restored from that file",
                    SAVED_SHOWN, bad);
                return;
        }
        o->saved = v;
        for (int k = 0; k < _KNOB_MAX; k++)
                if (v.set[k])
                        say(o, "ok", 0, "%s=%s was saved by an earlier memhpd that did not stop cleanly: it is put "
                            "back when memhpd stops", knob_names[k], v.value[k]);
}

static int saved_store(Ownership *o, const KnobValues *v) {
        _cleanup_close_ int dfd = -EBADF;
        char text[1024];
        bool any = false;
        int r;

        for (int k = 0; k < _KNOB_MAX; k++)
                any = any || v->set[k];
        /* Outside systemd (no RuntimeDirectory=) /run/memhpd does not exist yet. */
        dfd = root_state_dir(o->rootfd, SAVED_DIR, any);
        if (dfd == -ENOENT && !any)
                return 0;
        if (dfd < 0)
                return dfd;
        if (!any)
                return root_state_remove(dfd, SAVED_NAME);
        r = knob_values_format(v, text, sizeof(text));
        if (r < 0)
                return r;
        return root_state_write(dfd, SAVED_NAME, text);
}

/*
 * Make the kernel's knobs 'target' says; every knob memhpd changed and 'target' no longer names goes
 * back to its saved value. A knob that cannot be read or holds a value memhpd does not know is left
 * alone both ways (detection has said so). The original of a knob is saved before it is changed.
 */
static void reconcile(Ownership *o, KnobValues *target) {
        char cur[_KNOB_MAX][ROOT_VALUE_MAX];
        bool ok[_KNOB_MAX] = {}, restored = false;
        KnobValues next = o->saved;
        bool grow = false;
        int r;

        for (int k = 0; k < _KNOB_MAX; k++) {
                if (!target->set[k] && !o->saved.set[k])
                        continue;
                ok[k] = knob_read(o->rootfd, k, cur[k], sizeof(cur[k])) >= 0;
                if (!ok[k])
                        target->set[k] = false;
                else if (target->set[k] && !next.set[k] && strcmp(cur[k], target->value[k]) != 0) {
                        knob_values_put(&next, k, cur[k]);
                        grow = true;
                }
        }
        /* auto_online_blocks is programmed last: with the other knobs failed it must not be turned on. */
        if (target->set[KNOB_AUTO_ONLINE_BLOCKS] && strcmp(target->value[KNOB_AUTO_ONLINE_BLOCKS], "online") == 0)
                for (int k = 0; k < KNOB_AUTO_ONLINE_BLOCKS; k++)
                        if (!ok[k] && (k == KNOB_ONLINE_POLICY || k == KNOB_AUTO_MOVABLE_RATIO)) {
                                knob_values_put(target, KNOB_AUTO_ONLINE_BLOCKS, "offline");
                                break;
                        }

        if (o->dry_run) {
                for (int k = _KNOB_MAX - 1; k >= 0; k--)
                        if (ok[k] && o->saved.set[k] && !target->set[k] && strcmp(cur[k], o->saved.value[k]) != 0)
                                say(o, "dry-run", 0, "would put %s back to %s (dry run)", knob_names[k],
                                    o->saved.value[k]);
                for (int k = 0; k < _KNOB_MAX; k++)
                        if (target->set[k] && strcmp(cur[k], target->value[k]) != 0)
                                say(o, "dry-run", 0, "would set %s to %s, now %s, and put it back at stop (dry run)",
                                    knob_names[k], target->value[k], cur[k]);
                return;
        }

        if (grow) {
                r = saved_store(o, &next);
                if (r < 0) {
                        if (r == -EPERM || r == -ENOTDIR || r == -ENOENT)
                                say_dir_problem(o, r);
                        else
                                say(o, "failed", r, "cannot save the kernel's values in %s (%m): leaving them as they "
                                    "are", SAVED_SHOWN);
                        /* Change only what is saved already. */
                        for (int k = 0; k < _KNOB_MAX; k++)
                                if (target->set[k] && !o->saved.set[k])
                                        target->set[k] = false;
                        next = o->saved;
                }
                o->saved = next;
        }

        for (int k = _KNOB_MAX - 1; k >= 0; k--) {
                if (!ok[k] || !o->saved.set[k] || target->set[k])
                        continue;
                if (strcmp(cur[k], o->saved.value[k]) != 0) {
                        r = root_write(o->rootfd, knob_paths[k], o->saved.value[k]);
                        if (r < 0) {
                                say(o, "failed", r, "cannot put %s back to %s (%m): it stays %s; the value stays saved "
                                    "in %s", knob_names[k], o->saved.value[k], cur[k], SAVED_SHOWN);
                                continue;
                        }
                        say(o, "ok", 0, "put %s back to %s", knob_names[k], o->saved.value[k]);
                }
                o->saved.set[k] = false;
                restored = true;
        }

        for (int k = 0; k < _KNOB_MAX; k++) {
                if (!target->set[k])
                        continue;
                if (k == KNOB_AUTO_ONLINE_BLOCKS && strcmp(target->value[k], "offline") != 0)
                        for (int j = 0; j < KNOB_AUTO_ONLINE_BLOCKS; j++)
                                if (target->set[j] && strcmp(cur[j], target->value[j]) != 0) {
                                        /* A knob before it failed: the kernel must not online with the old
                                         * one. Take the auto-online over instead, saving it first. */
                                        say(o, "skipped", 0, "%s could not be set: taking the kernel's auto-online "
                                            "over instead of delegating to it", knob_names[j]);
                                        knob_values_put(target, k, "offline");
                                        if (!o->saved.set[k] && strcmp(cur[k], "offline") != 0) {
                                                KnobValues with = o->saved;
                                                knob_values_put(&with, k, cur[k]);
                                                r = saved_store(o, &with);
                                                if (r < 0) {
                                                        say(o, "failed", r, "cannot save %s in %s (%m): leaving it %s",
                                                            knob_names[k], SAVED_SHOWN, cur[k]);
                                                        target->set[k] = false;
                                                } else
                                                        o->saved = with;
                                        }
                                        break;
                                }
                if (!target->set[k] || strcmp(cur[k], target->value[k]) == 0)
                        continue;
                r = root_write(o->rootfd, knob_paths[k], target->value[k]);
                if (r < 0) {
                        say(o, "failed", r, "cannot set %s to %s (%m): it stays %s", knob_names[k], target->value[k],
                            cur[k]);
                        continue;
                }
                say(o, "ok", 0, "set %s to %s (it was %s; saved in %s, put back when memhpd stops)", knob_names[k],
                    target->value[k], o->saved.set[k] ? o->saved.value[k] : cur[k], SAVED_SHOWN);
                snprintf(cur[k], sizeof(cur[k]), "%s", target->value[k]);
        }

        if (restored) {
                r = saved_store(o, &o->saved);
                if (r < 0)
                        say(o, "failed", r, "cannot update %s (%m)", SAVED_SHOWN);
        }
}

static void audit_conflicts(Ownership *o, KernelAutoOnline mode) {
        Conflicts *c = calloc(1, sizeof(*c));

        if (!c)
                log_oom_abort();
        ownership_detect(o->rootfd, &o->saved, mode, c);
        conflicts_audit(c);
        free(c);
}

void ownership_report(Ownership *o, const Settings *s) {
        if (!o->loaded)
                saved_load(o);
        audit_conflicts(o, s->kernel_auto_online);
}

void ownership_apply(Ownership *o, const Settings *s, const PolicySet *set) {
        KnobValues target = {};
        KernelAutoOnline mode = s->kernel_auto_online;
        char why[512];

        if (!o->loaded)
                saved_load(o);
        audit_conflicts(o, mode);
        o->applied = true;

        if (mode == KERNEL_AUTO_ONLINE_DELEGATE) {
                const Policy *p = NULL;

                if (ownership_delegate_plan(set, &target, &p, why, sizeof(why)) > 0) {
                        char buf[ROOT_VALUE_MAX];

                        /* A knob that cannot be read cannot be saved: the kernel would then keep our value. */
                        for (int k = 0; k < KNOB_AUTO_ONLINE_BLOCKS; k++)
                                if (target.set[k] && knob_read(o->rootfd, k, buf, sizeof(buf)) < 0) {
                                        snprintf(why, sizeof(why), "memory_hotplug.%s cannot be read or holds a value "
                                                 "memhpd does not know", knob_names[k]);
                                        p = NULL;
                                        break;
                                }
                }
                if (p) {
                        AuditFields f = AUDIT_FIELDS_INIT;
                        f.agent = "kernel";
                        f.policy_path = p->path;
                        f.policy_line = p->line;
                        f.action = target.value[KNOB_AUTO_ONLINE_BLOCKS];
                        f.result = o->dry_run ? "dry-run" : "ok";
                        audit_record(AUDIT_KERNEL_AUTO_ONLINE, &f, "KernelAutoOnline=delegate: every hot-added block "
                                     "gets what %s:%u says, so the kernel onlines it inside the add "
                                     "(auto_online_blocks=%s%s%s)", p->path, p->line,
                                     target.value[KNOB_AUTO_ONLINE_BLOCKS],
                                     target.set[KNOB_ONLINE_POLICY] ? ", online_policy=auto-movable, auto_movable_ratio=" : "",
                                     target.set[KNOB_ONLINE_POLICY] ? target.value[KNOB_AUTO_MOVABLE_RATIO] : "");
                        o->active = KERNEL_AUTO_ONLINE_DELEGATE;
                        snprintf(o->action, sizeof(o->action), "%s", target.value[KNOB_AUTO_ONLINE_BLOCKS]);
                } else {
                        target = (KnobValues) {};
                        say(o, "skipped", 0, "KernelAutoOnline=delegate falls back to takeover: %s", why);
                        mode = KERNEL_AUTO_ONLINE_TAKEOVER;
                }
        }
        if (mode == KERNEL_AUTO_ONLINE_TAKEOVER) {
                knob_values_put(&target, KNOB_AUTO_ONLINE_BLOCKS, "offline");
                o->active = KERNEL_AUTO_ONLINE_TAKEOVER;
        } else if (mode == KERNEL_AUTO_ONLINE_KEEP)
                o->active = KERNEL_AUTO_ONLINE_KEEP;
        reconcile(o, &target);
        /* Delegation holds only if the kernel was actually programmed so. */
        if (o->active == KERNEL_AUTO_ONLINE_DELEGATE &&
            (!target.set[KNOB_AUTO_ONLINE_BLOCKS] || strcmp(target.value[KNOB_AUTO_ONLINE_BLOCKS], o->action) != 0))
                o->active = KERNEL_AUTO_ONLINE_TAKEOVER;
}

int ownership_release(Ownership *o) {
        KnobValues none = {};

        if (o->dry_run)
                return 0;
        reconcile(o, &none);
        o->active = KERNEL_AUTO_ONLINE_KEEP;
        for (int k = 0; k < _KNOB_MAX; k++)
                if (o->saved.set[k])
                        return -EIO;
        return 0;
}

bool ownership_kernel_onlined(Ownership *o, const PolicySet *set, Inventory *inv, uint32_t index, AuditFields *f) {
        BlockFacts facts;
        const Policy *p;
        Block *b;

        /* Under --dry-run the kernel was not programmed: whoever onlined the block, it was not for us. */
        if (!o || o->active != KERNEL_AUTO_ONLINE_DELEGATE || o->dry_run)
                return false;
        b = inventory_block(inv, index);
        if (!b)
                return false;
        facts = (BlockFacts) {
                .index = index,
                .start = inventory_block_start(inv, index),
                .size = inv->block_size,
                /* Not classified here: an ACPI DIMM's firmware_node link comes only after the add (and
                 * the kernel's online inside it); classifying now would fix it as "unknown" for good.
                 * Every policy that can match decides alike under delegate, so the match is the same. */
                .device = (b->flags & BLOCK_CLASSIFIED) ? b->device : DEVICE_UNKNOWN,
                .node = b->node,
        };
        p = policy_match(set, &facts);
        if (!p)
                return false;
        f->policy_path = p->path;
        f->policy_line = p->line;
        f->action = o->action;
        f->result = "ok";
        f->error = 0;
        audit_record(AUDIT_ONLINED, f, "memory%" PRIu32 " was onlined by the kernel for memhpd, in zone %s "
                     "(KernelAutoOnline=delegate, auto_online_blocks=%s): Zone=%s", index, strna(f->zone), o->action,
                     zone_target_to_string(p->zone));
        return true;
}
