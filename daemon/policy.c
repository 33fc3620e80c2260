/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "build-config.h"
#include "inventory.h"
#include "log.h"
#include "policy.h"
#include "pressure.h"

const char *const policy_search_path[] = {
        "etc/memhpd/policies.d",
        "run/memhpd/policies.d",
        MEMHPD_VENDOR_DIR "/policies.d",
        NULL,
};

static const char *const zone_target_table[_TARGET_MAX] = {
        [TARGET_AUTO] = "auto",
        [TARGET_MOVABLE] = "movable",
        [TARGET_KERNEL] = "kernel",
        [TARGET_OFFLINE] = "offline",
};

static const char *const when_table[_WHEN_MAX] = {
        [WHEN_IMMEDIATE] = "immediate",
        [WHEN_MANUAL] = "manual",
        [WHEN_DELAY] = "delay",
        [WHEN_PRESSURE] = "pressure",
};

static const char *const fallback_table[_FALLBACK_MAX] = {
        [FALLBACK_OFFLINE] = "offline",
        [FALLBACK_KERNEL] = "kernel",
        [FALLBACK_MOVABLE] = "movable",
};

static const char *const poison_action_table[_POISON_ACTION_MAX] = {
        [POISON_ACTION_KEEP] = "keep",
        [POISON_ACTION_OFFLINE] = "offline",
};

const char *poison_action_to_string(PoisonAction a) {
        return a >= 0 && a < _POISON_ACTION_MAX ? poison_action_table[a] : "invalid";
}

static const char *const action_table[_ACTION_MAX] = {
        [ACTION_ONLINE_MOVABLE] = "online_movable",
        [ACTION_ONLINE_KERNEL] = "online_kernel",
        [ACTION_LEAVE_OFFLINE] = "none",
};

static const char *const dax_mode_table[_DAX_MODE_MAX] = {
        [DAX_MODE_DEVDAX] = "devdax",
        [DAX_MODE_SYSTEM_RAM] = "system-ram",
};

const char *dax_mode_to_string(DaxMode m) {
        return m >= 0 && m < _DAX_MODE_MAX ? dax_mode_table[m] : "invalid";
}

const char *zone_target_to_string(ZoneTarget t) {
        return t >= 0 && t < _TARGET_MAX ? zone_target_table[t] : "invalid";
}

const char *when_to_string(When w) {
        return w >= 0 && w < _WHEN_MAX ? when_table[w] : "invalid";
}

const char *action_to_string(Action a) {
        return a >= 0 && a < _ACTION_MAX ? action_table[a] : "invalid";
}

int range_list_parse(const char *value, bool with_units, uint64_t max, RangeList *list, char *err, size_t err_size) {
        ConfUnit units = with_units ? CONF_UNIT_BYTES : CONF_UNIT_NONE;
        const char *p = value;

        if (!*value) {
                /* An empty assignment resets the list, as in systemd. */
                free(list->items);
                *list = (RangeList) {};
                return 0;
        }
        while (*p) {
                size_t len = strcspn(p, " \t,"), dash;
                uint64_t a, b;
                Range *items;
                int r;

                if (len == 0) {
                        p++;
                        continue;
                }
                /* "A-B" or "A"; a dash at position 0 is a sign, and numbers are unsigned. */
                dash = strcspn(p, "-");
                if (dash < len) {
                        r = conf_parse_number(p, dash, units, &a);
                        if (r >= 0)
                                r = conf_parse_number(p + dash + 1, len - dash - 1, units, &b);
                } else {
                        r = conf_parse_number(p, len, units, &a);
                        b = a;
                }
                if (r == -ERANGE) {
                        snprintf(err, err_size, "\"%.*s\" is beyond the largest allowed value %" PRIu64, (int) len, p,
                                 max);
                        return -EINVAL;
                }
                if (r < 0) {
                        snprintf(err, err_size, "\"%.*s\" is not a number or a range A-B", (int) len, p);
                        return -EINVAL;
                }
                if (a > b) {
                        snprintf(err, err_size, "range \"%.*s\" ends before it starts", (int) len, p);
                        return -EINVAL;
                }
                if (b > max) {
                        snprintf(err, err_size, "\"%.*s\" is beyond the largest allowed value %" PRIu64, (int) len, p,
                                 max);
                        return -EINVAL;
                }
                if (list->n >= POLICY_RANGES_MAX) {
                        snprintf(err, err_size, "more than %d ranges", POLICY_RANGES_MAX);
                        return -EINVAL;
                }
                items = realloc(list->items, (list->n + 1) * sizeof(Range));
                if (!items)
                        log_oom_abort();
                list->items = items;
                list->items[list->n++] = (Range) { a, b };
                p += len;
        }
        return 0;
}

bool range_list_contains(const RangeList *l, uint64_t v) {
        for (size_t i = 0; i < l->n; i++)
                if (l->items[i].start <= v && v <= l->items[i].end)
                        return true;
        return false;
}

static int lookup(const char *const *table, int n, const char *value, char *err, size_t err_size, const char *what) {
        char choices[128] = "";

        for (int i = 0; i < n; i++)
                if (strcmp(table[i], value) == 0)
                        return i;
        for (int i = 0; i < n; i++) {
                strncat(choices, table[i], sizeof(choices) - strlen(choices) - 1);
                if (i + 1 < n)
                        strncat(choices, i + 2 == n ? " or " : ", ", sizeof(choices) - strlen(choices) - 1);
        }
        snprintf(err, err_size, "unknown %s, expected %s", what, choices);
        return -EINVAL;
}

static int parse_devices(const char *value, void *data, char *err, size_t err_size) {
        uint32_t *mask = data;
        const char *p = value;

        if (!*value) {
                *mask = 0;
                return 0;
        }
        while (*p) {
                size_t len = strcspn(p, " \t,");
                char word[32];
                int d;

                if (len == 0) {
                        p++;
                        continue;
                }
                if (len >= sizeof(word)) {
                        snprintf(err, err_size, "unknown device \"%.*s\"", (int) len, p);
                        return -EINVAL;
                }
                memcpy(word, p, len);
                word[len] = '\0';
                if (strcmp(word, "any") == 0)
                        *mask = (1u << _DEVICE_MAX) - 1;
                else {
                        d = device_kind_from_string(word);
                        if (d < 0) {
                                snprintf(err, err_size,
                                         "unknown device \"%s\", expected acpi-dimm, virtio-mem, dax-kmem, "
                                         "hv-balloon, xen, boot, unknown or any",
                                         word);
                                return -EINVAL;
                        }
                        *mask |= 1u << d;
                }
                p += len;
        }
        return 0;
}

static int parse_nodes(const char *value, void *data, char *err, size_t err_size) {
        return range_list_parse(value, false, NODES_MAX - 1, data, err, err_size);
}

static int parse_blocks(const char *value, void *data, char *err, size_t err_size) {
        return range_list_parse(value, false, UINT32_MAX - 1, data, err, err_size);
}

static int parse_phys(const char *value, void *data, char *err, size_t err_size) {
        return range_list_parse(value, true, UINT64_MAX, data, err, err_size);
}

static int parse_zone(const char *value, void *data, char *err, size_t err_size) {
        int r = lookup(zone_target_table, _TARGET_MAX, value, err, err_size, "zone");
        if (r < 0)
                return r;
        *(ZoneTarget *) data = r;
        return 0;
}

static int parse_when(const char *value, void *data, char *err, size_t err_size) {
        int r = lookup(when_table, _WHEN_MAX, value, err, err_size, "value");
        if (r < 0)
                return r;
        *(When *) data = r;
        return 0;
}

static int parse_fallback(const char *value, void *data, char *err, size_t err_size) {
        Policy *p = (Policy *) ((char *) data - offsetof(Policy, fallback));
        int r = lookup(fallback_table, _FALLBACK_MAX, value, err, err_size, "fallback");
        if (r < 0)
                return r;
        p->fallback = r;
        p->fallback_set = true;
        return 0;
}

static int parse_ratio(const char *value, void *data, char *err, size_t err_size) {
        Policy *p = (Policy *) ((char *) data - offsetof(Policy, max_movable_ratio));
        uint64_t v;
        size_t len = strlen(value);

        if (len > 0 && value[len - 1] == '%')
                len--;
        if (conf_parse_number(value, len, CONF_UNIT_NONE, &v) < 0 || v > 100000) {
                snprintf(err, err_size, "expected a percentage such as 301%% (MOVABLE:KERNEL, 0-100000)");
                return -EINVAL;
        }
        p->max_movable_ratio = (unsigned) v;
        p->ratio_set = true;
        return 0;
}

static int parse_poison_action(const char *value, void *data, char *err, size_t err_size) {
        int r = lookup(poison_action_table, _POISON_ACTION_MAX, value, err, err_size, "action");
        if (r < 0)
                return r;
        *(PoisonAction *) data = r;
        return 0;
}

static int parse_poison_threshold(const char *value, void *data, char *err, size_t err_size) {
        Policy *p = (Policy *) ((char *) data - offsetof(Policy, poison_threshold));
        uint64_t v;

        if (conf_parse_number(value, strlen(value), CONF_UNIT_NONE, &v) < 0 || v < 1 ||
            v > POLICY_POISON_THRESHOLD_MAX) {
                snprintf(err, err_size, "expected a number of poisoned pages from 1 to %d",
                         POLICY_POISON_THRESHOLD_MAX);
                return -EINVAL;
        }
        p->poison_threshold = (unsigned) v;
        p->poison_threshold_set = true;
        return 0;
}

static int parse_delay(const char *value, void *data, char *err, size_t err_size) {
        uint64_t v;
        int r = policy_parse_timespan(value, &v);

        if (r == -ERANGE || (r >= 0 && v > POLICY_DELAY_MAX_USEC)) {
                snprintf(err, err_size, "\"%s\" is longer than the longest delay, 10min", value);
                return -EINVAL;
        }
        if (r < 0) {
                snprintf(err, err_size, "expected a time span such as 30s, 500ms or 1min 30s (us, ms, s, min)");
                return -EINVAL;
        }
        if (v == 0) {
                snprintf(err, err_size, "a delay of 0 is When=immediate; use that");
                return -EINVAL;
        }
        *(uint64_t *) data = v;
        return 0;
}

static int parse_cpuless(const char *value, void *data, char *err, size_t err_size) {
        bool b;

        if (!*value) {
                *(int *) data = -1;
                return 0;
        }
        if (conf_parse_bool(value, &b) < 0) {
                snprintf(err, err_size, "expected yes or no");
                return -EINVAL;
        }
        *(int *) data = b;
        return 0;
}

static int parse_tiers(const char *value, void *data, char *err, size_t err_size) {
        /* memory_tierN: N is the abstract distance >> 7..10 (kernel version), an int. */
        return range_list_parse(value, false, INT32_MAX, data, err, err_size);
}

/* OnlineStep=: a number of blocks ("4") or a size ("512M", "1G"); a size is rounded up to whole blocks
 * when the block size is known. */
static int parse_online_step(const char *value, void *data, char *err, size_t err_size) {
        Policy *p = (Policy *) ((char *) data - offsetof(Policy, online_step));
        size_t len = strlen(value);
        bool bytes = len > 0 && !(value[len - 1] >= '0' && value[len - 1] <= '9');
        uint64_t v;
        int r;

        r = conf_parse_number(value, len, bytes ? CONF_UNIT_BYTES : CONF_UNIT_NONE, &v);
        if (r < 0 || v == 0 || (!bytes && v > POLICY_ONLINE_STEP_MAX)) {
                snprintf(err, err_size, "expected a number of blocks (1-%llu) or a size such as 512M",
                         POLICY_ONLINE_STEP_MAX);
                return -EINVAL;
        }
        p->online_step = v;
        p->online_step_bytes = bytes;
        p->online_step_set = true;
        return 0;
}

/* The next item of a list separated by blanks or commas: skips separators, returns its length (0 at
 * the end) with *p at its start. */
static size_t next_item(const char **p) {
        *p += strspn(*p, " \t,");
        return strcspn(*p, " \t,");
}

static int parse_dax_names(const char *value, void *data, char *err, size_t err_size) {
        Policy *p = (Policy *) ((char *) data - offsetof(Policy, dax_names));
        const char *v = value;
        size_t len;

        if (!*value) {
                for (size_t i = 0; i < p->n_dax_names; i++)
                        free(p->dax_names[i]);
                p->dax_names = mfree(p->dax_names);
                p->n_dax_names = 0;
                return 0;
        }
        for (; (len = next_item(&v)) > 0; v += len) {
                char **names;

                if (len > 64 || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789.*?[]-!") < len) {
                        snprintf(err, err_size, "\"%.*s\" is not a dax device name or glob such as dax0.0 or dax1.*",
                                 (int) (len > 64 ? 64 : len), v);
                        return -EINVAL;
                }
                if (p->n_dax_names >= POLICY_DAX_NAMES_MAX) {
                        snprintf(err, err_size, "more than %d names", POLICY_DAX_NAMES_MAX);
                        return -EINVAL;
                }
                names = realloc(p->dax_names, (p->n_dax_names + 1) * sizeof(char *));
                if (!names)
                        log_oom_abort();
                p->dax_names = names;
                p->dax_names[p->n_dax_names] = strndup(v, len);
                if (!p->dax_names[p->n_dax_names])
                        log_oom_abort();
                p->n_dax_names++;
        }
        return 0;
}

static int parse_sizes(const char *value, void *data, char *err, size_t err_size) {
        return range_list_parse(value, true, UINT64_MAX, data, err, err_size);
}

static int parse_origins(const char *value, void *data, char *err, size_t err_size) {
        uint32_t *mask = data;
        const char *v = value;
        size_t len;

        if (!*value)
                *mask = 0;
        for (; (len = next_item(&v)) > 0; v += len) {
                char word[32];
                int o = -EINVAL;

                if (len < sizeof(word)) {
                        memcpy(word, v, len);
                        word[len] = '\0';
                        o = dax_origin_from_string(word);
                }
                if (o < 0) {
                        snprintf(err, err_size, "unknown origin \"%.*s\", expected cxl, pmem, soft-reserved or unknown",
                                 (int) (len > 32 ? 32 : len), v);
                        return -EINVAL;
                }
                *mask |= 1u << o;
        }
        return 0;
}

static int parse_dax_mode(const char *value, void *data, char *err, size_t err_size) {
        Policy *p = (Policy *) ((char *) data - offsetof(Policy, dax_mode));
        int r = lookup(dax_mode_table, _DAX_MODE_MAX, value, err, err_size, "mode");
        if (r < 0)
                return r;
        p->dax_mode = r;
        p->dax_mode_set = true;
        return 0;
}

static int parse_on_memory(const char *value, void *data, char *err, size_t err_size) {
        int *v = data;

        if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
                *v = 1;
        else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
                *v = 0;
        else if (!*value)
                *v = -1;
        else {
                snprintf(err, err_size, "expected yes or no");
                return -EINVAL;
        }
        return 0;
}

static const ConfKey policy_keys[] = {
        { "Match", "Device", parse_devices, offsetof(Policy, devices) },
        { "Match", "Node", parse_nodes, offsetof(Policy, nodes) },
        { "Match", "Block", parse_blocks, offsetof(Policy, blocks) },
        { "Match", "PhysAddress", parse_phys, offsetof(Policy, phys) },
        { "Online", "Zone", parse_zone, offsetof(Policy, zone) },
        { "Online", "MaxMovableRatio", parse_ratio, offsetof(Policy, max_movable_ratio) },
        { "Online", "When", parse_when, offsetof(Policy, when) },
        { "Online", "ZoneFallback", parse_fallback, offsetof(Policy, fallback) },
        { "Poison", "Action", parse_poison_action, offsetof(Policy, poison_action) },
        { "Poison", "Threshold", parse_poison_threshold, offsetof(Policy, poison_threshold) },
        { "Online", "Delay", parse_delay, offsetof(Policy, delay_usec) },
        { "Match", "CpuLess", parse_cpuless, offsetof(Policy, cpuless) },
        { "Match", "MemoryTier", parse_tiers, offsetof(Policy, tiers) },
        { "Online", "OnlineStep", parse_online_step, offsetof(Policy, online_step) },
        { "Match", "DaxDevice", parse_dax_names, offsetof(Policy, dax_names) },
        { "Match", "Size", parse_sizes, offsetof(Policy, sizes) },
        { "Match", "Origin", parse_origins, offsetof(Policy, origins) },
        { "Dax", "Mode", parse_dax_mode, offsetof(Policy, dax_mode) },
        { "Memmap", "OnMemory", parse_on_memory, offsetof(Policy, memmap_on_memory) },
        {}
};

static int policy_section(const char *section, unsigned line, void *target) {
        Policy *p = target;

        if (strcmp(section, "Match") == 0) {
                if (!p->match_line)
                        p->match_line = line;
                return 0;
        }
        if (strcmp(section, "Online") == 0) {
                if (!p->online_line)
                        p->online_line = line;
                return 0;
        }
        if (strcmp(section, "Poison") == 0) {
                if (!p->poison_line)
                        p->poison_line = line;
                return 0;
        }
        if (strcmp(section, "Dax") == 0) {
                if (!p->dax_line)
                        p->dax_line = line;
                return 0;
        }
        if (strcmp(section, "Memmap") == 0) {
                if (!p->memmap_line)
                        p->memmap_line = line;
                return 0;
        }
        return -EINVAL;
}

void policy_done(Policy *p) {
        free(p->path);
        free(p->nodes.items);
        free(p->blocks.items);
        free(p->phys.items);
        free(p->tiers.items);
        free(p->sizes.items);
        for (size_t i = 0; i < p->n_dax_names; i++)
                free(p->dax_names[i]);
        free(p->dax_names);
        *p = (Policy) {};
}

/* The line of the last "KEY=" assignment in 'text', 0 if none: the parsers do not see line numbers, and a
 * cross-field error should point at the key it is about. */
static unsigned key_line(const char *text, const char *key) {
        size_t klen = strlen(key);
        unsigned line = 1, found = 0;

        for (const char *p = text; *p; line++) {
                const char *q = p + strspn(p, " \t");

                if (strncmp(q, key, klen) == 0 && q[klen + strspn(q + klen, " \t")] == '=')
                        found = line;
                p = strchrnul(p, '\n');
                if (*p)
                        p++;
        }
        return found;
}

int policy_parse(const char *path, const char *text, Policy *ret, ConfErrors *errors) {
        Policy p = {
                .zone = TARGET_AUTO,
                .max_movable_ratio = POLICY_DEFAULT_RATIO,
                .when = WHEN_IMMEDIATE,
                .fallback = FALLBACK_OFFLINE,
                .poison_action = POISON_ACTION_KEEP,
                .poison_threshold = 1,
                .cpuless = -1,
                .online_step = 1,
                .memmap_on_memory = -1,
        };
        char why[384];
        int r;

        r = conf_parse_text(path, text, policy_keys, policy_section, &p, errors);
        if (r < 0)
                log_oom_abort();

        /* Cross-field checks: say what would silently do nothing. */
        if (!p.match_line && !p.online_line && !p.poison_line && !p.dax_line) {
                conf_errors_addf(errors, path, 0, "no [Match] or [Online] section; an empty policy file is a mistake "
                                                  "(mask a vendor file with a symlink to /dev/null)");
                r++;
        }
        if (p.ratio_set && p.zone != TARGET_AUTO) {
                conf_errors_addf(errors, path, p.online_line, "MaxMovableRatio= only applies to Zone=auto, not Zone=%s",
                                 zone_target_to_string(p.zone));
                r++;
        }
        if (p.fallback_set && p.zone != TARGET_MOVABLE && p.zone != TARGET_KERNEL) {
                conf_errors_addf(errors, path, p.online_line,
                                 "ZoneFallback= only applies to Zone=movable or Zone=kernel, not Zone=%s",
                                 zone_target_to_string(p.zone));
                r++;
        } else if (p.fallback_set && ((p.zone == TARGET_MOVABLE && p.fallback == FALLBACK_MOVABLE) ||
                                      (p.zone == TARGET_KERNEL && p.fallback == FALLBACK_KERNEL))) {
                conf_errors_addf(errors, path, p.online_line, "ZoneFallback=%s is the same zone as Zone=",
                                 fallback_table[p.fallback]);
                r++;
        }
        if (p.poison_threshold_set && p.poison_action != POISON_ACTION_OFFLINE) {
                conf_errors_addf(errors, path, p.poison_line, "Threshold= only applies to Action=offline, not Action=%s",
                                 poison_action_to_string(p.poison_action));
                r++;
        }
        p.delay_line = key_line(text, "Delay");
        p.when_line = key_line(text, "When");
        if (p.when == WHEN_DELAY && !p.delay_usec && !p.delay_line) {
                conf_errors_addf(errors, path, p.when_line, "When=delay needs Delay= (how long to wait, e.g. Delay=30s)");
                r++;
        } else if (p.when == WHEN_DELAY && !p.delay_usec) {
                /* Delay= is there but was rejected: its own error says why. */
        } else if (p.delay_usec && p.when != WHEN_DELAY) {
                conf_errors_addf(errors, path, p.delay_line, "Delay= only applies to When=delay, not When=%s",
                                 when_to_string(p.when));
                r++;
        } else if (p.when == WHEN_DELAY && p.zone == TARGET_OFFLINE) {
                conf_errors_addf(errors, path, p.when_line, "When=delay with Zone=offline waits to do nothing; "
                                 "drop When=delay");
                r++;
        } else if (!(p.when == WHEN_PRESSURE && p.zone == TARGET_OFFLINE) && /* its own error below */
                   policy_timing_stalls(p.devices, p.when, p.delay_usec, why, sizeof(why))) {
                conf_errors_addf(errors, path, p.delay_line ?: p.when_line, "%s", why);
                r++;
        }
        if (p.online_step_set && p.when != WHEN_PRESSURE) {
                conf_errors_addf(errors, path, p.online_line, "OnlineStep= only applies to When=pressure, not When=%s",
                                 when_to_string(p.when));
                r++;
        }
        if (p.when == WHEN_PRESSURE && p.zone == TARGET_OFFLINE) {
                conf_errors_addf(errors, path, p.online_line,
                                 "When=pressure with Zone=offline would keep a reserve that is never onlined");
                r++;
        }
        if (p.dax_mode_set && p.devices && !(p.devices & (1u << DEVICE_DAX_KMEM))) {
                conf_errors_addf(errors, path, p.dax_line, "[Dax] Mode= applies to dax devices, but Device= excludes "
                                 "dax-kmem: the policy never matches one");
                r++;
        }
        if (p.memmap_on_memory >= 0 && !(p.dax_mode_set && p.dax_mode == DAX_MODE_SYSTEM_RAM) &&
            p.devices == (1u << DEVICE_DAX_KMEM)) {
                conf_errors_addf(errors, path, p.memmap_line, "[Memmap] OnMemory= is applied when a dax device is "
                                 "handed to kmem: it needs [Dax] Mode=system-ram");
                r++;
        }
        if (r > 0) {
                policy_done(&p);
                return -EINVAL;
        }
        p.line = p.match_line ?: p.online_line ?: p.poison_line ?: p.dax_line;
        p.path = strdup(path);
        if (!p.path)
                log_oom_abort();
        *ret = p;
        return 0;
}

void policy_set_done(PolicySet *set) {
        for (size_t i = 0; i < set->n; i++)
                policy_done(&set->items[i]);
        free(set->items);
        *set = (PolicySet) {};
}

int policy_set_load(int rootfd, const char *const *dirs, PolicySet *ret, ConfErrors *errors) {
        PolicySet set = {};
        ConfFile *files = NULL;
        size_t before = errors->n_total;
        int n;

        n = conf_files_list(rootfd, dirs, ".policy", &files, errors);
        if (n < 0)
                return n;
        set.items = calloc(n ? n : 1, sizeof(Policy));
        if (!set.items)
                log_oom_abort();
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *text = NULL, *shown = NULL;

                if (asprintf(&shown, "/%s", files[i].path) < 0)
                        log_oom_abort();
                /* Errors are recorded by conf_read_file(); -ENOENT means removed while we listed it. */
                if (conf_read_file(rootfd, files[i].path, shown, &text, errors) < 0)
                        continue;
                if (policy_parse(shown, text, &set.items[set.n], errors) == 0) {
                        const Policy *p = &set.items[set.n++];
                        set.uses_node_topology |= p->cpuless >= 0 || p->tiers.n > 0;
                }
        }
        conf_files_free(files, n);
        if (errors->n_total > before) {
                policy_set_done(&set);
                return -EINVAL;
        }
        *ret = set;
        return 0;
}

bool policy_matches_dax_only(const Policy *p) {
        return p->n_dax_names || p->sizes.n || p->origins;
}

static bool dax_keys_match(const Policy *p, const DaxFacts *d) {
        if (p->n_dax_names) {
                bool hit = false;
                for (size_t i = 0; i < p->n_dax_names && !hit; i++)
                        hit = fnmatch(p->dax_names[i], d->name, 0) == 0;
                if (!hit)
                        return false;
        }
        if (p->sizes.n && !range_list_contains(&p->sizes, d->size))
                return false;
        if (p->origins && !(p->origins & (1u << d->origin)))
                return false;
        return true;
}

bool policy_matches_dax(const Policy *p, const DaxFacts *f) {
        if (p->devices && !(p->devices & (1u << DEVICE_DAX_KMEM)))
                return false;
        if (p->blocks.n)
                return false;
        if (p->nodes.n && (f->target_node < 0 || !range_list_contains(&p->nodes, (uint64_t) f->target_node)))
                return false;
        if (p->phys.n) {
                bool hit = false;
                for (size_t i = 0; i < p->phys.n && !hit; i++)
                        hit = f->size > 0 && p->phys.items[i].start <= f->start &&
                              f->start + (f->size - 1) <= p->phys.items[i].end;
                if (!hit)
                        return false;
        }
        return dax_keys_match(p, f);
}

void policy_decide_dax(const PolicySet *set, const DaxFacts *f, DaxDecision *ret) {
        DaxDecision d = { .mode = DAX_MODE_DEVDAX, .memmap_on_memory = -1 };

        for (size_t i = 0; i < set->n && !d.policy; i++)
                if (policy_matches_dax(&set->items[i], f))
                        d.policy = &set->items[i];
        if (!d.policy)
                snprintf(d.why, sizeof(d.why), "no policy matches %s: it stays as it is", f->name);
        else if (!d.policy->dax_mode_set)
                snprintf(d.why, sizeof(d.why), "the policy has no [Dax] Mode=: devdax, left as it is");
        else {
                d.mode = d.policy->dax_mode;
                d.memmap_on_memory = d.mode == DAX_MODE_SYSTEM_RAM ? d.policy->memmap_on_memory : -1;
                if (d.memmap_on_memory >= 0)
                        snprintf(d.why, sizeof(d.why), "Mode=%s, OnMemory=%s", dax_mode_to_string(d.mode),
                                 d.memmap_on_memory ? "yes" : "no");
                else
                        snprintf(d.why, sizeof(d.why), "Mode=%s", dax_mode_to_string(d.mode));
        }
        *ret = d;
}

MatchResult policy_match_check(const Policy *p, const BlockFacts *f) {
        if (p->devices && !(p->devices & (1u << f->device)))
                return MATCH_FAILS_DEVICE;
        /* DaxDevice=, Size= and Origin= match only the blocks of a dax device. */
        if (policy_matches_dax_only(p) && (!f->dax || !dax_keys_match(p, f->dax)))
                return MATCH_FAILS_DAX;
        if (p->nodes.n && (f->node < 0 || !range_list_contains(&p->nodes, (uint64_t) f->node)))
                return MATCH_FAILS_NODE;
        if (p->blocks.n && !range_list_contains(&p->blocks, f->index))
                return MATCH_FAILS_BLOCK;
        /* Far memory: a node whose facts are unknown matches neither CpuLess=yes nor CpuLess=no. */
        if (p->cpuless >= 0 && (f->node_cpus == NODE_CPUS_UNKNOWN || p->cpuless != (f->node_cpus == NODE_CPUS_NONE)))
                return MATCH_FAILS_CPULESS;
        if (p->tiers.n && (!f->node_in_tier || !range_list_contains(&p->tiers, f->node_tier)))
                return MATCH_FAILS_TIER;
        if (p->phys.n) {
                /* A range matches the blocks that lie wholly inside it, so "4G-8G" and
                 * "0x100000000-0x1ffffffff" mean the same blocks; a single address matches the block
                 * that holds it. */
                bool hit = false;
                for (size_t i = 0; i < p->phys.n && !hit; i++) {
                        const Range *r = &p->phys.items[i];
                        if (r->start == r->end)
                                hit = f->start <= r->start && r->start - f->start < f->size;
                        else
                                hit = r->start <= f->start && f->size > 0 && f->start + (f->size - 1) <= r->end;
                }
                if (!hit)
                        return MATCH_FAILS_PHYS;
        }
        return MATCH_OK;
}

bool policy_matches(const Policy *p, const BlockFacts *f) {
        return policy_match_check(p, f) == MATCH_OK;
}

const Policy *policy_match(const PolicySet *set, const BlockFacts *f) {
        for (size_t i = 0; i < set->n; i++)
                if (policy_matches(&set->items[i], f))
                        return &set->items[i];
        return NULL;
}

static bool offered(const ZoneSet *z, Action a) {
        return a == ACTION_ONLINE_MOVABLE ? z->movable : z->kernel;
}

static const char *offered_text(const ZoneSet *z) {
        return z->kernel && z->movable ? "kernel and movable" : z->kernel ? "only kernel" : z->movable ? "only movable" : "no zone";
}

uint64_t policy_online_step_blocks(const Policy *p, uint64_t block_size) {
        uint64_t n = p->online_step;

        if (p->online_step_bytes)
                n = block_size ? n / block_size + (n % block_size != 0) : 1;
        return n ? (n > POLICY_ONLINE_STEP_MAX ? POLICY_ONLINE_STEP_MAX : n) : 1;
}

void policy_decide(const PolicySet *set, const BlockFacts *f, Decision *ret) {
        const Policy *p = policy_match(set, f);
        Decision d = { .action = ACTION_LEAVE_OFFLINE, .policy = p };

        if (!p) {
                snprintf(d.why, sizeof(d.why), "no policy matches this block");
                *ret = d;
                return;
        }
        if (p->when == WHEN_MANUAL) {
                snprintf(d.why, sizeof(d.why), "When=manual: left for the administrator");
                *ret = d;
                return;
        }
        if (p->when == WHEN_PRESSURE) {
                d.reserve = true;
                snprintf(d.why, sizeof(d.why), "When=pressure: kept offline as a reserve until memory pressure calls "
                         "for it");
                *ret = d;
                return;
        }
        policy_decide_zone(p, f, ret);
}

/* Zone=auto: the ratio is the hard cap on movable; under it, a node whose kernel zones are short gets
 * kernel memory anyway (pressure-aware). Returns what it wants and writes why. */
static Action decide_auto(const Policy *p, const BlockFacts *f, char *why, size_t size) {
        unsigned __int128 movable = (unsigned __int128) f->node_movable_pages + f->block_pages;
        unsigned __int128 limit = (unsigned __int128) p->max_movable_ratio * f->node_kernel_pages;
        uint64_t page = f->block_pages ? f->size / f->block_pages : 4096;

        if (movable * 100 > limit) {
                snprintf(why, size,
                         "Zone=auto: node %d has %" PRIu64 " MiB kernel, %" PRIu64 " MiB movable; "
                         "kernel keeps MOVABLE:KERNEL from exceeding %u%%",
                         f->node, (f->node_kernel_pages * page) >> 20, (f->node_movable_pages * page) >> 20,
                         p->max_movable_ratio);
                return ACTION_ONLINE_KERNEL;
        }
        if (f->kernel_watermarks && pressure_kernel_short(f->node_kernel_free, f->node_kernel_high)) {
                snprintf(why, size,
                         "Zone=auto: node %d's kernel zones have %" PRIu64 " MiB free, below their high watermark "
                         "%" PRIu64 " MiB + %d%%; kernel although MOVABLE:KERNEL %u%% would allow movable",
                         f->node, (f->node_kernel_free * page) >> 20, (f->node_kernel_high * page) >> 20,
                         PRESSURE_MARGIN_PERCENT, p->max_movable_ratio);
                return ACTION_ONLINE_KERNEL;
        }
        if (f->kernel_watermarks)
                snprintf(why, size,
                         "Zone=auto: node %d has %" PRIu64 " MiB kernel (%" PRIu64 " MiB free, high watermark %" PRIu64
                         " MiB), %" PRIu64 " MiB movable; movable keeps MOVABLE:KERNEL within %u%%",
                         f->node, (f->node_kernel_pages * page) >> 20, (f->node_kernel_free * page) >> 20,
                         (f->node_kernel_high * page) >> 20, (f->node_movable_pages * page) >> 20,
                         p->max_movable_ratio);
        else
                snprintf(why, size,
                         "Zone=auto: node %d has %" PRIu64 " MiB kernel, %" PRIu64 " MiB movable; "
                         "movable keeps MOVABLE:KERNEL within %u%%",
                         f->node, (f->node_kernel_pages * page) >> 20, (f->node_movable_pages * page) >> 20,
                         p->max_movable_ratio);
        return ACTION_ONLINE_MOVABLE;
}

void policy_decide_zone(const Policy *p, const BlockFacts *f, Decision *ret) {
        Decision d = { .action = ACTION_LEAVE_OFFLINE, .policy = p };

        switch (p->zone) {
        case TARGET_OFFLINE:
                snprintf(d.why, sizeof(d.why), "Zone=offline");
                break;

        case TARGET_MOVABLE:
        case TARGET_KERNEL: {
                Action want = p->zone == TARGET_MOVABLE ? ACTION_ONLINE_MOVABLE : ACTION_ONLINE_KERNEL;
                Action other = want == ACTION_ONLINE_MOVABLE ? ACTION_ONLINE_KERNEL : ACTION_ONLINE_MOVABLE;

                if (offered(&f->zones, want)) {
                        d.action = want;
                        snprintf(d.why, sizeof(d.why), "Zone=%s", zone_target_to_string(p->zone));
                } else if (p->fallback != FALLBACK_OFFLINE && offered(&f->zones, other)) {
                        d.action = other;
                        snprintf(d.why, sizeof(d.why), "Zone=%s is not offered (%s), ZoneFallback=%s",
                                 zone_target_to_string(p->zone), offered_text(&f->zones), fallback_table[p->fallback]);
                } else
                        snprintf(d.why, sizeof(d.why), "Zone=%s is not offered (%s), ZoneFallback=%s",
                                 zone_target_to_string(p->zone), offered_text(&f->zones),
                                 p->fallback_set ? fallback_table[p->fallback] : "offline (default)");
                break;
        }

        case TARGET_AUTO: {
                char why[sizeof(d.why)];
                Action want = decide_auto(p, f, why, sizeof(why));
                Action other = want == ACTION_ONLINE_MOVABLE ? ACTION_ONLINE_KERNEL : ACTION_ONLINE_MOVABLE;

                if (offered(&f->zones, want)) {
                        d.action = want;
                        memcpy(d.why, why, sizeof(d.why));
                } else if (offered(&f->zones, other)) {
                        d.action = other;
                        snprintf(d.why, sizeof(d.why), "Zone=auto: %s is not offered (%s), using %s",
                                 want == ACTION_ONLINE_MOVABLE ? "movable" : "kernel", offered_text(&f->zones),
                                 other == ACTION_ONLINE_MOVABLE ? "movable" : "kernel");
                } else
                        snprintf(d.why, sizeof(d.why), "Zone=auto: no zone is offered");
                break;
        }

        default:
                snprintf(d.why, sizeof(d.why), "invalid policy zone");
        }
        *ret = d;
}

bool policy_timing_stalls(uint32_t devices, When when, uint64_t delay_usec, char *why, size_t why_size) {
        /* "unknown" is what a virtio-mem block is when /proc/iomem cannot be read. */
        const uint32_t waiting = 1u << DEVICE_VIRTIO_MEM | 1u << DEVICE_HV_BALLOON | 1u << DEVICE_UNKNOWN;
        uint32_t hit = (devices ?: (1u << _DEVICE_MAX) - 1) & waiting;
        char names[64] = "", span[48];
        uint64_t hold;

        /* How long this timing holds a new block offline, at most. A When= that may hold it for ever
         * (When=pressure, a reserve) is UINT64_MAX here. */
        switch (when) {
        case WHEN_DELAY:
                hold = delay_usec;
                break;
        case WHEN_PRESSURE:
                hold = UINT64_MAX; /* a reserve waits for pressure that may never come */
                break;
        default:
                hold = 0; /* immediate; manual is the administrator's own call */
        }
        if (!hit || hold <= POLICY_DRIVER_DELAY_MAX_USEC)
                return false;
        for (int d = 0; d < _DEVICE_MAX; d++)
                if (hit & (1u << d)) {
                        if (names[0])
                                strncat(names, ", ", sizeof(names) - strlen(names) - 1);
                        strncat(names, device_kind_to_string(d), sizeof(names) - strlen(names) - 1);
                }
        if (hold == UINT64_MAX)
                snprintf(span, sizeof(span), "for as long as it takes");
        else if (hold % 1000000)
                snprintf(span, sizeof(span), "up to %" PRIu64 "ms", hold / 1000);
        else
                snprintf(span, sizeof(span), "up to %" PRIu64 "s", hold / 1000000);
        snprintf(why, why_size,
                 "When=%s holds blocks %s but can match %s%s: hv_balloon waits at most 5 s per chunk "
                 "and virtio-mem stops plugging with 1 GiB offline; hold them at most %llus, or leave them out of "
                 "Device=",
                 when_to_string(when), span, devices ? "" : "any device (Device= is unset): ", names,
                 POLICY_DRIVER_DELAY_MAX_USEC / 1000000);
        return true;
}

int policy_parse_timespan(const char *value, uint64_t *ret) {
        uint64_t sum = 0;
        const char *p = value;
        bool any = false;

        while (*p) {
                size_t len = strcspn(p, " \t");
                uint64_t v;
                int r;

                if (len == 0) {
                        p++;
                        continue;
                }
                r = conf_parse_number(p, len, CONF_UNIT_USEC, &v);
                if (r < 0)
                        return r;
                if (v > UINT64_MAX - sum)
                        return -ERANGE;
                sum += v;
                any = true;
                p += len;
        }
        if (!any)
                return -EINVAL;
        *ret = sum;
        return 0;
}

void policy_decision_follow(Decision *d, Action first, const ZoneSet *zones, const char *device) {
        char why[sizeof(d->why) + 80];
        size_t n;

        if (d->action == first || first == ACTION_LEAVE_OFFLINE || first >= _ACTION_MAX || !offered(zones, first))
                return;
        snprintf(why, sizeof(why), "as the other blocks of %.24s (one decision per device), not %s",
                 device, action_to_string(d->action));
        n = strlen(why);
        if (n >= sizeof(d->why))
                n = sizeof(d->why) - 1;
        memcpy(d->why, why, n);
        d->why[n] = '\0';
        d->action = first;
}
