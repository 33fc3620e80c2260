/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Owns the detection of the other agents that online memory: memhp_default_state= on the kernel command
 * line, udev rules and daxctl's configuration, the list of conflicts they make and the search-path file
 * scan. The kernel's own knobs are ownership.c's. See agents.h.
 */
#include <ctype.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "agents.h"
#include "audit.h"
#include "conf-file.h"
#include "log.h"
#include "sysfs.h"

/* The largest rules or configuration file read. */
#define AGENT_FILE_MAX (1024 * 1024)

/* ----------------------------------------------------------------------------- the command line */

int cmdline_memhp_default_state(const char *cmdline, char *buf, size_t size) {
        static const char key[] = "memhp_default_state=";
        int found = 0;

        for (const char *p = cmdline; *p;) {
                size_t len;

                p += strspn(p, " \t\n");
                len = strcspn(p, " \t\n");
                if (len > sizeof(key) - 1 && strncmp(p, key, sizeof(key) - 1) == 0) {
                        /* The kernel applies each occurrence in turn: the last one wins. */
                        snprintf(buf, size, "%.*s", (int) (len - (sizeof(key) - 1)), p + sizeof(key) - 1);
                        found = 1;
                }
                p += len;
        }
        return found;
}

/* ------------------------------------------------------------------------------ udev rule files */

typedef struct UdevToken {
        char key[32];
        char attr[64];
        char op[3];
        char value[256];
} UdevToken;

/* One KEY[{attr}] OP "value" token of a udev rule line. Returns 1, 0 at the end, -EINVAL. */
static int udev_next_token(const char **pp, UdevToken *t, char *err, size_t err_size) {
        const char *p = *pp;
        size_t n;

        p += strspn(p, " \t,");
        if (!*p)
                return 0;
        *t = (UdevToken) {};
        n = 0;
        while (isalnum((unsigned char) *p) || *p == '_') {
                if (n + 1 < sizeof(t->key))
                        t->key[n++] = *p;
                p++;
        }
        if (n == 0) {
                snprintf(err, err_size, "expected a key at \"%.20s\"", p);
                return -EINVAL;
        }
        if (*p == '{') {
                const char *end = strchr(p, '}');
                if (!end || memchr(p, '"', end - p)) {
                        snprintf(err, err_size, "unterminated {attribute} after %s", t->key);
                        return -EINVAL;
                }
                snprintf(t->attr, sizeof(t->attr), "%.*s", (int) (end - p - 1), p + 1);
                p = end + 1;
        }
        p += strspn(p, " \t");
        if ((p[0] == '=' || p[0] == '!' || p[0] == '+' || p[0] == '-' || p[0] == ':') && p[1] == '=') {
                memcpy(t->op, p, 2);
                p += 2;
        } else if (p[0] == '=') {
                t->op[0] = '=';
                p++;
        } else {
                snprintf(err, err_size, "expected an operator after %s", t->key);
                return -EINVAL;
        }
        p += strspn(p, " \t");
        if ((*p == 'e' || *p == 'E') && p[1] == '"')
                p++; /* e"..." : escapes are processed; the text is the same for our purpose */
        if (*p != '"') {
                snprintf(err, err_size, "the value of %s is not in double quotes", t->key);
                return -EINVAL;
        }
        p++;
        n = 0;
        for (;; p++) {
                if (!*p) {
                        snprintf(err, err_size, "unterminated value of %s", t->key);
                        return -EINVAL;
                }
                if (*p == '"')
                        break;
                if (*p == '\\' && p[1])
                        p++;
                if (n + 1 < sizeof(t->value))
                        t->value[n++] = *p;
        }
        p++;
        if (*p && *p != ' ' && *p != '\t' && *p != ',') {
                snprintf(err, err_size, "no separator after the value of %s", t->key);
                return -EINVAL;
        }
        *pp = p;
        return 1;
}

/* udev's patterns: alternatives separated by '|', each a glob. */
static bool udev_pattern_matches(const char *pattern, const char *s) {
        char alt[256];

        for (const char *p = pattern;;) {
                size_t len = strcspn(p, "|");
                snprintf(alt, sizeof(alt), "%.*s", (int) len, p);
                if (fnmatch(alt, s, 0) == 0)
                        return true;
                if (!p[len])
                        return false;
                p += len + 1;
        }
}

static bool token_is(const UdevToken *t, const char *key, const char *attr) {
        return strcmp(t->key, key) == 0 && (!attr || strcmp(t->attr, attr) == 0);
}

static bool token_assigns(const UdevToken *t) {
        return strcmp(t->op, "=") == 0 || strcmp(t->op, ":=") == 0 || strcmp(t->op, "+=") == 0;
}

void udev_rules_scan(const char *text, UdevRuleScan *ret) {
        UdevRuleScan s = {};
        char label[64] = ""; /* inside SUBSYSTEM!="memory", GOTO="label" ... LABEL="label" */
        _cleanup_free_ char *rule = NULL;
        size_t alloc = 0;
        unsigned lineno = 0;

        for (const char *line = text; line && *line;) {
                unsigned first = lineno + 1;
                size_t len = 0;
                bool memory = label[0] != '\0', not_memory = false, dax = false, daxctl = false;
                char assigns[160] = "", go[64] = "", lab[64] = "", err[160];
                const char *p;
                UdevToken t;
                int r;

                /* Join continued lines ("\" at the end). */
                for (;;) {
                        const char *eol = strchr(line, '\n');
                        size_t l = eol ? (size_t) (eol - line) : strlen(line);
                        bool cont = l > 0 && line[l - 1] == '\\';

                        lineno++;
                        if (len + l + 1 > alloc) {
                                char *b = realloc(rule, len + l + 64);
                                if (!b)
                                        log_oom_abort();
                                rule = b;
                                alloc = len + l + 64;
                        }
                        memcpy(rule + len, line, cont ? l - 1 : l);
                        len += cont ? l - 1 : l;
                        line = eol ? eol + 1 : NULL;
                        if (!cont || !line)
                                break;
                }
                rule[len] = '\0';
                p = rule + strspn(rule, " \t");
                if (!*p || *p == '#')
                        continue;

                while ((r = udev_next_token(&p, &t, err, sizeof(err))) > 0) {
                        bool eq = strcmp(t.op, "==") == 0, ne = strcmp(t.op, "!=") == 0;

                        if ((token_is(&t, "SUBSYSTEM", NULL) || token_is(&t, "SUBSYSTEMS", NULL)) && (eq || ne)) {
                                bool m = udev_pattern_matches(t.value, "memory");
                                if (eq && m)
                                        memory = true;
                                if (ne && m)
                                        not_memory = true;
                                if (eq && udev_pattern_matches(t.value, "dax"))
                                        dax = true;
                        } else if (token_is(&t, "DEVPATH", NULL) && eq &&
                                   udev_pattern_matches(t.value, "/devices/system/memory/memory1"))
                                memory = true;
                        else if (token_is(&t, "KERNEL", NULL) && eq && udev_pattern_matches(t.value, "memory1"))
                                memory = true;
                        else if (token_is(&t, "ATTR", "state") && token_assigns(&t) && strcmp(t.value, "offline") != 0)
                                snprintf(assigns, sizeof(assigns), "ATTR{state}%s\"%.120s\"", t.op, t.value);
                        else if (token_is(&t, "RUN", NULL) && token_assigns(&t)) {
                                if (strstr(t.value, "daxctl"))
                                        daxctl = true;
                                else if (strstr(t.value, "state") && strstr(t.value, "online"))
                                        snprintf(assigns, sizeof(assigns), "RUN%s\"%.120s\"", t.op, t.value);
                        } else if (token_is(&t, "ENV", "SYSTEMD_WANTS") && token_assigns(&t) &&
                                   strstr(t.value, "daxdev-reconfigure"))
                                daxctl = true;
                        else if (token_is(&t, "GOTO", NULL))
                                snprintf(go, sizeof(go), "%.63s", t.value);
                        else if (token_is(&t, "LABEL", NULL))
                                snprintf(lab, sizeof(lab), "%.63s", t.value);
                }
                if (r < 0) {
                        if (s.bad_line == 0) {
                                s.bad_line = first;
                                snprintf(s.bad, sizeof(s.bad), "%s", err);
                        }
                        continue;
                }
                if (memory && assigns[0] && s.kind != UDEV_RULE_ONLINES_MEMORY) {
                        s.kind = UDEV_RULE_ONLINES_MEMORY;
                        s.line = first;
                        snprintf(s.what, sizeof(s.what), "%s", assigns);
                } else if ((daxctl && (dax || !memory)) && s.kind == UDEV_RULE_NONE) {
                        s.kind = UDEV_RULE_RUNS_DAXCTL;
                        s.line = first;
                        snprintf(s.what, sizeof(s.what), "daxctl reconfigure-device for new dax devices");
                }
                if (not_memory && go[0] && !label[0])
                        snprintf(label, sizeof(label), "%s", go);
                if (lab[0] && strcmp(lab, label) == 0)
                        label[0] = '\0';
        }
        *ret = s;
}

/* --------------------------------------------------------------------------------- daxctl config */

static char *strip(char *s) {
        char *e;

        s += strspn(s, " \t\r");
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                *--e = '\0';
        return s;
}

void daxctl_conf_scan(const char *text, DaxctlConfScan *ret) {
        DaxctlConfScan s = {};
        char section[64] = "";
        unsigned section_line = 0, lineno = 0;
        bool system_ram = false, online = true;

        /* A section ends at the next header or at the end of the file. */
#define SECTION_DONE()                                                                        \
        do {                                                                                  \
                if (section[0] && system_ram && s.n_system_ram++ == 0) {                      \
                        s.system_ram_line = section_line;                                     \
                }                                                                             \
                if (section[0] && system_ram && online) {                                     \
                        if (s.n_online++ == 0) {                                              \
                                s.line = section_line;                                        \
                                snprintf(s.name, sizeof(s.name), "%s", section);              \
                        }                                                                     \
                }                                                                             \
        } while (0)

        for (const char *line = text; line && *line;) {
                const char *eol = strchr(line, '\n');
                size_t len = eol ? (size_t) (eol - line) : strlen(line);
                char buf[512], *l, *eq;

                lineno++;
                snprintf(buf, sizeof(buf), "%.*s", (int) len, line);
                line = eol ? eol + 1 : NULL;
                l = strip(buf);
                if (!*l || *l == '#' || *l == ';')
                        continue;
                if (*l == '[') {
                        char *end = strchr(l, ']');
                        SECTION_DONE();
                        section[0] = '\0';
                        system_ram = false;
                        online = true;
                        if (!end) {
                                if (!s.bad_line)
                                        s.bad_line = lineno;
                                continue;
                        }
                        *end = '\0';
                        l = strip(l + 1);
                        if (strncmp(l, "reconfigure-device", 18) == 0 && (l[18] == ' ' || l[18] == '\t')) {
                                snprintf(section, sizeof(section), "%s", strip(l + 18));
                                section_line = lineno;
                        }
                        continue;
                }
                eq = strchr(l, '=');
                if (!eq) {
                        if (!s.bad_line)
                                s.bad_line = lineno;
                        continue;
                }
                *eq = '\0';
                {
                        char *k = strip(l), *v = strip(eq + 1);
                        if (strcmp(k, "mode") == 0)
                                system_ram = strcmp(v, "system-ram") == 0;
                        else if (strcmp(k, "online") == 0)
                                online = !(strcasecmp(v, "false") == 0 || strcasecmp(v, "no") == 0 ||
                                           strcmp(v, "0") == 0 || strcasecmp(v, "off") == 0);
                }
        }
        SECTION_DONE();
#undef SECTION_DONE
        *ret = s;
}

/* ------------------------------------------------------------------------------- the conflicts */

void conflicts_add(Conflicts *c, const char *agent, const char *file, unsigned line, bool unknown, int error,
                   const char *fmt, ...) {
        int saved_errno = errno;
        Conflict *x;
        va_list ap;

        if (c->n >= CONFLICTS_MAX)
                return;
        x = &c->items[c->n++];
        *x = (Conflict) { .agent = agent, .unknown = unknown, .error = error < 0 ? -error : error };
        if (file && line)
                snprintf(x->file, sizeof(x->file), "%s:%u", file, line);
        else if (file)
                snprintf(x->file, sizeof(x->file), "%s", file);
        errno = x->error; /* %m names the finding's error */
        va_start(ap, fmt);
        (void) vsnprintf(x->text, sizeof(x->text), fmt, ap);
        va_end(ap);
        errno = saved_errno;
}

void conflicts_audit(const Conflicts *c) {
        for (size_t i = 0; i < c->n; i++) {
                AuditFields f = AUDIT_FIELDS_INIT;
                f.agent = c->items[i].agent;
                f.file = c->items[i].file[0] ? c->items[i].file : NULL;
                f.result = c->items[i].unknown ? "unknown" : "found";
                f.error = c->items[i].error;
                audit_record(AUDIT_CONFLICT, &f, "%s", c->items[i].text);
        }
}

void conflicts_print(const Conflicts *c, FILE *out) {
        for (size_t i = 0; i < c->n; i++)
                fprintf(out, "conflict: %s%s%s: %s\n", c->items[i].agent, c->items[i].file[0] ? " " : "",
                        c->items[i].file, c->items[i].text);
}

/* ------------------------------------------------------------------------------ the search paths */

void agents_scan_files(int rootfd, const char *const *dirs, const char *suffix, const char *agent,
                       agents_file_scan_t scan, void *userdata, Conflicts *c) {
        ConfErrors errors = {};
        ConfFile *files = NULL;
        int n;

        n = conf_files_list(rootfd, dirs, suffix, &files, &errors);
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *text = NULL, *shown = NULL;
                int r;

                if (asprintf(&shown, "/%s", files[i].path) < 0)
                        log_oom_abort();
                r = root_read_file(rootfd, files[i].path, AGENT_FILE_MAX, &text, NULL, NULL);
                if (r < 0)
                        conflicts_add(c, agent, shown, 0, true, r, "cannot read %s (%m): memhpd cannot tell whether %s "
                                      "onlines memory", files[i].name, agent);
                else
                        scan(c, shown, files[i].name, text, userdata);
        }
        if (n >= 0)
                conf_files_free(files, n);
        else
                /* The search path could not be listed (a directory failed part-way): no file of it was
                 * scanned, so memhpd cannot tell. */
                for (size_t i = 0; i < errors.n; i++)
                        conflicts_add(c, agent, NULL, 0, true, n, "%s: memhpd cannot tell whether %s onlines memory",
                                      errors.items[i].text, agent);
        conf_errors_clear(&errors);
}

static void scan_udev_rules(Conflicts *c, const char *shown, const char *name, const char *text, void *userdata) {
        char *daxctl_rule = userdata; /* the first rule that runs daxctl, for the daxctl conflict */
        UdevRuleScan scan;

        udev_rules_scan(text, &scan);
        if (scan.bad_line)
                conflicts_add(c, "udev", shown, scan.bad_line, true, 0, "line %u of %s does not parse (%s): udevd "
                              "skips it, and memhpd cannot tell whether it onlines memory", scan.bad_line, name, scan.bad);
        if (scan.kind == UDEV_RULE_ONLINES_MEMORY)
                conflicts_add(c, "udev", shown, scan.line, false, 0,
                              "udev onlines hot-added memory blocks (%s) in a race with memhpd; mask the rule "
                               "(ln -s /dev/null /etc/udev/rules.d/%s) and run udevadm control --reload", scan.what, name);
        else if (scan.kind == UDEV_RULE_RUNS_DAXCTL && !daxctl_rule[0])
                snprintf(daxctl_rule, 320, "%.300s:%u", shown, scan.line);
}

static void scan_daxctl_conf(Conflicts *c, const char *shown, const char *name, const char *text, void *userdata) {
        const char *daxctl_rule = userdata;
        DaxctlConfScan scan;
        char when[400];

        daxctl_conf_scan(text, &scan);
        if (scan.bad_line)
                conflicts_add(c, "daxctl", shown, scan.bad_line, true, 0, "line %u of %s does not parse: memhpd cannot "
                              "tell whether daxctl onlines memory", scan.bad_line, name);
        if (!scan.n_online)
                return;
        if (daxctl_rule[0])
                snprintf(when, sizeof(when), "as soon as the device appears (its udev rule %s runs daxctl)", daxctl_rule);
        else
                snprintf(when, sizeof(when), "when daxctl reconfigure-device --check-config runs");
        conflicts_add(c, "daxctl", shown, scan.line, false, 0,
                      "daxctl onlines the memory of %u dax device%s ([reconfigure-device %s], mode = system-ram) %s; "
                      "set online = false there to leave it to memhpd", scan.n_online, scan.n_online == 1 ? "" : "s",
                      scan.name, when);
}

/* ---------------------------------------------------------------------------------- the agents */

void agents_detect_cmdline(int rootfd, Conflicts *c) {
        _cleanup_free_ char *cmdline = NULL;
        char state[64];

        if (root_read_file(rootfd, "proc/cmdline", 64 * 1024, &cmdline, NULL, NULL) >= 0 &&
            cmdline_memhp_default_state(cmdline, state, sizeof(state)) > 0 && strcmp(state, "offline") != 0)
                conflicts_add(c, "cmdline", "/proc/cmdline", 0, false, 0,
                              "the kernel was booted with memhp_default_state=%s, which sets auto_online_blocks at "
                              "boot; remove it from the boot loader's command line so that hot-added memory waits "
                              "for memhpd", state);
}

void agents_detect_udev_and_daxctl(int rootfd, Conflicts *c) {
        static const char *const udev_dirs[] = {
                "etc/udev/rules.d", "run/udev/rules.d", "usr/lib/udev/rules.d", "lib/udev/rules.d", NULL,
        };
        static const char *const daxctl_dirs[] = { "etc/daxctl.conf.d", NULL };
        char daxctl_rule[320] = "";

        agents_scan_files(rootfd, udev_dirs, ".rules", "udev", scan_udev_rules, daxctl_rule, c);
        agents_scan_files(rootfd, daxctl_dirs, ".conf", "daxctl", scan_daxctl_conf, daxctl_rule, c);
}

/* dax.c: daxctl binds kmem itself for every [reconfigure-device] section with mode = system-ram (online
 * or not); memhpd cannot map the section's nvdimm.uuid to a device cheaply, so any such section leaves
 * every dax device to daxctl. */
static void scan_daxctl_claims(Conflicts *c _unused_, const char *shown, const char *name _unused_, const char *text,
                               void *userdata) {
        char *where = userdata;
        DaxctlConfScan scan;

        daxctl_conf_scan(text, &scan);
        if (scan.n_system_ram && !where[0])
                snprintf(where, 320, "%.300s:%u", shown, scan.system_ram_line);
}

int agents_daxctl_claims_dax(int rootfd, char *ret_file, size_t size) {
        static const char *const daxctl_dirs[] = { "etc/daxctl.conf.d", NULL };
        _cleanup_free_ Conflicts *c = calloc(1, sizeof(Conflicts));
        char where[320] = "";

        if (!c)
                log_oom_abort();
        agents_scan_files(rootfd, daxctl_dirs, ".conf", "daxctl", scan_daxctl_claims, where, c);
        if (!where[0])
                return 0;
        snprintf(ret_file, size, "%s", where);
        return 1;
}
