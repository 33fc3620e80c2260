/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memhpctl: the command-line client of memhpd's control channel (bus.h). Owns the command line and the
 * verb table; each verb reads properties or calls a method and hands plain rows to the renderers
 * (memhpctl-render.c). memhpctl-util.c connects (the private socket as root or with --root, else the
 * system bus), turns D-Bus errors into sentences and exit statuses, and runs the pager.
 *
 * Adding a verb: write `int verb_NAME(sd_bus *bus, int argc, char **argv)` in its own file
 * (daemon/memhpctl-drain.c), declare it in memhpctl-verbs.h, add one line to 'verbs' below (name, the
 * least and most arguments after the verb, whether it needs the bus, the handler), then the man page and
 * the bash completion. The handler returns an exit status (memhpctl-util.h); ctl_call() prints errors.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-config.h"
#include "macro.h"
#include "memhpctl-render.h"
#include "memhpctl-util.h"
#include "memhpctl-verbs.h"
#include "drain-bus.h"

static int parse_block(const char *s, uint32_t *ret) {
        const char *digits = s;
        char *end;
        unsigned long long v;

        if (strncmp(s, "memory", 6) == 0)
                digits = s + 6;
        if (!*digits || *digits < '0' || *digits > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(digits, &end, 10);
        if (errno || *end || v > UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}

/* ---- status ---- */

typedef struct StatusData {
        StatusHeader h;
        RunRow *runs;
        size_t n_runs;
        NodeRow *nodes;
        size_t n_nodes;
        ConflictRow *conflicts; /* h.conflicts of them */
} StatusData;

static int read_runs(sd_bus_message *m, StatusData *d) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "(uussisss)");
        if (r < 0)
                return r;
        for (;;) {
                RunRow row = {};
                RunRow *n;

                r = sd_bus_message_read(m, "(uussisss)", &row.first, &row.last, &row.state, &row.zone, &row.node,
                                        &row.device, &row.origin, &row.policy);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                n = realloc(d->runs, (d->n_runs + 1) * sizeof(RunRow));
                if (!n)
                        return -ENOMEM;
                d->runs = n;
                d->runs[d->n_runs++] = row;
        }
        return sd_bus_message_exit_container(m);
}

static int read_nodes(sd_bus_message *m, StatusData *d) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "(uttuu)");
        if (r < 0)
                return r;
        for (;;) {
                NodeRow row = {};
                NodeRow *n;

                r = sd_bus_message_read(m, "(uttuu)", &row.node, &row.kernel_bytes, &row.movable_bytes, &row.blocks,
                                        &row.offline);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                n = realloc(d->nodes, (d->n_nodes + 1) * sizeof(NodeRow));
                if (!n)
                        return -ENOMEM;
                d->nodes = n;
                d->nodes[d->n_nodes++] = row;
        }
        return sd_bus_message_exit_container(m);
}

static int read_conflicts(sd_bus_message *m, StatusData *d) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "(sss)");
        if (r < 0)
                return r;
        for (;;) {
                ConflictRow row;
                ConflictRow *n;

                r = sd_bus_message_read(m, "(sss)", &row.agent, &row.file, &row.text);
                if (r <= 0)
                        break;
                n = realloc(d->conflicts, (d->h.conflicts + 1) * sizeof(ConflictRow));
                if (!n)
                        return -ENOMEM;
                d->conflicts = n;
                d->conflicts[d->h.conflicts++] = row;
        }
        if (r < 0)
                return r;
        d->h.conflict_rows = d->conflicts;
        return sd_bus_message_exit_container(m);
}

/* One GetAll: every property in one round trip; strings point into 'reply'. */
static int read_status(sd_bus_message *reply, StatusData *d) {
        static const struct {
                const char *name;
                char type;
                size_t offset;
        } scalars[] = {
                { "Version", 's', offsetof(StatusHeader, version) },
                { "Status", 's', offsetof(StatusHeader, status) },
                { "EventSource", 's', offsetof(StatusHeader, event_source) },
                { "Memmap", 's', offsetof(StatusHeader, memmap) },
                { "KernelZones", 's', offsetof(StatusHeader, kernel_zones) },
                { "Policies", 'u', offsetof(StatusHeader, policies) },
                { "ConfigOK", 'b', offsetof(StatusHeader, config_ok) },
                { "DryRun", 'b', offsetof(StatusHeader, dry_run) },
                { "BlockSize", 't', offsetof(StatusHeader, block_size) },
                { "Blocks", 't', offsetof(StatusHeader, blocks) },
                { "OfflineBlocks", 't', offsetof(StatusHeader, offline) },
                { "Onlined", 't', offsetof(StatusHeader, onlined) },
                { "Failed", 't', offsetof(StatusHeader, failed) },
        };
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                const char *name, *contents;
                bool done = false;
                char type;

                r = sd_bus_message_read(reply, "s", &name);
                if (r < 0)
                        return r;
                r = sd_bus_message_peek_type(reply, &type, &contents);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < ELEMENTSOF(scalars) && !done; i++) {
                        char sig[2] = { scalars[i].type, 0 };
                        void *p = (char *) &d->h + scalars[i].offset;
                        int b;

                        if (strcmp(name, scalars[i].name) != 0 || strcmp(contents, sig) != 0)
                                continue;
                        r = sd_bus_message_enter_container(reply, 'v', sig);
                        if (r >= 0)
                                r = scalars[i].type == 'b' ? sd_bus_message_read_basic(reply, 'b', &b)
                                                           : sd_bus_message_read_basic(reply, scalars[i].type, p);
                        if (r >= 0 && scalars[i].type == 'b')
                                *(bool *) p = b;
                        if (r >= 0)
                                r = sd_bus_message_exit_container(reply);
                        if (r < 0)
                                return r;
                        done = true;
                }
                if (!done && strcmp(name, "Runs") == 0 && strcmp(contents, "a(uussisss)") == 0) {
                        r = sd_bus_message_enter_container(reply, 'v', contents);
                        if (r >= 0)
                                r = read_runs(reply, d);
                        if (r >= 0)
                                r = sd_bus_message_exit_container(reply);
                        done = true;
                } else if (!done && strcmp(name, "Nodes") == 0 && strcmp(contents, "a(uttuu)") == 0) {
                        r = sd_bus_message_enter_container(reply, 'v', contents);
                        if (r >= 0)
                                r = read_nodes(reply, d);
                        if (r >= 0)
                                r = sd_bus_message_exit_container(reply);
                        done = true;
                } else if (!done && strcmp(name, "Conflicts") == 0 && strcmp(contents, "a(sss)") == 0) {
                        r = sd_bus_message_enter_container(reply, 'v', contents);
                        if (r >= 0)
                                r = read_conflicts(reply, d);
                        if (r >= 0)
                                r = sd_bus_message_exit_container(reply);
                        done = true;
                }
                if (!done)
                        r = sd_bus_message_skip(reply, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(reply);
}

static int ctl_get_all(sd_bus *bus, sd_bus_message **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_call_method(bus, ctl_destination(), MEMHPD_BUS_PATH, "org.freedesktop.DBus.Properties", "GetAll",
                               &error, ret, "s", MEMHPD_BUS_INTERFACE);
        if (r < 0)
                return ctl_error(&error, r, "read memhpd's status");
        return 0;
}

static int verb_status(sd_bus *bus, int argc, char **argv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        StatusData d = {};
        RenderOptions o = { .legend = !arg.no_legend, .colour = ctl_colour(), .blocks = arg.blocks };
        int r;

        r = ctl_get_all(bus, &reply);
        if (r > 0)
                return r;
        r = read_status(reply, &d);
        if (r < 0) {
                free(d.runs);
                free(d.nodes);
                free(d.conflicts);
                return ctl_error(NULL, r, "read memhpd's status");
        }
        if (arg.json)
                render_status_json(stdout, &d.h, d.runs, d.n_runs, d.nodes, d.n_nodes, &o);
        else {
                ctl_pager_open();
                render_status_table(stdout, &d.h, d.runs, d.n_runs, d.nodes, d.n_nodes, &o);
        }
        free(d.runs);
        free(d.nodes);
        free(d.conflicts);
        return EXIT_OK;
}

/* ---- explain ---- */

static int verb_explain(sd_bus *bus, int argc, char **argv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *action, *policy, *why, *a, *b, *c;
        uint32_t index;
        int r;

        if (parse_block(argv[1], &index) < 0) {
                fprintf(stderr, "\"%s\" is not a memory block: expected memoryN or N.\n", argv[1]);
                return EXIT_USAGE;
        }
        r = ctl_call(bus, "Explain", &reply, "u", index);
        if (r > 0)
                return r;

        /* Figures first (what the decision rests on), then the policies, then the decision. */
        r = sd_bus_message_skip(reply, "a(sss)sss");
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "(ss)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(ss)", &a, &b)) > 0)
                printf("%*s: %s\n", 26, a, b);
        if (r >= 0)
                r = sd_bus_message_rewind(reply, true);
        if (r < 0)
                return ctl_error(NULL, r, "read the explanation");

        printf("\nPolicies, in the order memhpd tries them:\n");
        r = sd_bus_message_enter_container(reply, 'a', "(sss)");
        bool any = false;
        while (r >= 0 && (r = sd_bus_message_read(reply, "(sss)", &a, &b, &c)) > 0) {
                printf("  %-9s %s: %s\n", b, a, c);
                any = true;
        }
        if (r >= 0 && !any)
                printf("  (none loaded)\n");
        if (r >= 0)
                r = sd_bus_message_exit_container(reply);
        if (r >= 0)
                r = sd_bus_message_read(reply, "sss", &action, &policy, &why);
        if (r < 0)
                return ctl_error(NULL, r, "read the explanation");
        printf("\nDecision: %s%s%s: %s\n", action, *policy ? " by " : "", policy, why);
        return EXIT_OK;
}

/* ---- verify ---- */

static int verb_verify(sd_bus *bus, int argc, char **argv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *subject, *kind, *text;
        unsigned n = 0;
        int r;

        r = ctl_call(bus, "Verify", &reply, NULL);
        if (r > 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(sss)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(sss)", &subject, &kind, &text)) > 0) {
                printf("%s: %s drift: %s\n", subject, kind, text);
                n++;
        }
        if (r < 0)
                return ctl_error(NULL, r, "read the drifts");
        if (n == 0) {
                if (!arg.no_legend)
                        printf("No drift: every block is where the policies put it, and no other agent competes.\n");
                return EXIT_OK;
        }
        if (!arg.no_legend)
                printf("%u %s.\n", n, n == 1 ? "drift" : "drifts");
        return EXIT_FAILED;
}

/* ---- reload ---- */

static int verb_reload(sd_bus *bus, int argc, char **argv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;

        return ctl_call(bus, "Reload", &reply, NULL);
}

/* ---- the table ---- */

typedef struct Verb {
        const char *name;
        int min_args, max_args; /* after the verb */
        bool bus;
        int (*run)(sd_bus *bus, int argc, char **argv);
} Verb;

static const Verb verbs[] = {
        { "status", 0, 0, true, verb_status },
        { "explain", 1, 1, true, verb_explain },
        { "verify", 0, 0, true, verb_verify },
        { "reload", 0, 0, true, verb_reload },
        { "log", 0, 0, false, verb_log },
        { "drain", 1, 1, true, verb_drain },
        { "online", 1, DRAIN_BUS_BLOCKS_MAX, true, verb_online },
        { "offline", 1, DRAIN_BUS_BLOCKS_MAX, true, verb_offline },
        { "quarantine", 0, 2, true, verb_quarantine },
};

static void help(void) {
        printf("memhpctl [OPTIONS] [COMMAND]\n\n"
               "Ask memhpd, the memory hot-plug policy daemon, what it manages and why.\n\n"
               "Commands:\n"
               "  status              Runs of memory blocks, who decided each, and a summary (default)\n"
               "  explain memoryN     Every policy tried for a block, why it matched or not, the decision\n"
               "  verify              List blocks not where their policy says, and competing agents;\n"
               "                      exit 1 if there are any\n"
               "  reload              Reload settings and policies (root)\n"
               "  log                 This host's memhpd audit records from the journal\n"
               "  drain TARGET        Offline every block of a node (node1), blocks (memory40-47) or\n"
               "                      device (PNP0C80:03, dax0.0) and keep them offline (root)\n"
               "  offline BLOCK...    Offline blocks and keep them offline (root)\n"
               "  online BLOCK...     Online blocks, movable where the kernel allows (root)\n"
               "  quarantine [list]   Physical ranges memhpd never onlines again (poisoned pages)\n"
               "  quarantine clear TARGET  Clear all, memoryN[-M], 0xSTART-0xEND or a device (root)\n\n"
               "Options:\n"
               "  -h --help           Show this help\n"
               "     --version        Show the version\n"
               "     --json           status: JSON, in lsmem's style\n"
               "     --blocks         status: one row (object) per block instead of runs\n"
               "     --no-pager       Do not pipe the output into a pager\n"
               "     --no-legend      Do not print the header and column titles\n"
               "  -n --lines=N        log: only the last N records\n"
               "     --no-wait        drain: return once it started\n"
               "     --eject          drain: then ask for the device's removal\n"
               "     --root=DIR       Talk to the memhpd running with --root=DIR (tests)\n\n"
               "See memhpctl(8).\n");
}

int main(int argc, char **argv) {
        enum { ARG_VERSION = 0x100, ARG_JSON, ARG_BLOCKS, ARG_NO_PAGER, ARG_NO_LEGEND, ARG_ROOT, ARG_NO_WAIT, ARG_EJECT };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "json", no_argument, NULL, ARG_JSON },
                { "blocks", no_argument, NULL, ARG_BLOCKS },
                { "no-pager", no_argument, NULL, ARG_NO_PAGER },
                { "no-legend", no_argument, NULL, ARG_NO_LEGEND },
                { "lines", required_argument, NULL, 'n' },
                { "root", required_argument, NULL, ARG_ROOT },
                { "no-wait", no_argument, NULL, ARG_NO_WAIT },
                { "eject", no_argument, NULL, ARG_EJECT },
                {},
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const Verb *verb = NULL;
        const char *name;
        char *end;
        int c, r, nargs;

        while ((c = getopt_long(argc, argv, "hn:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return EXIT_OK;
                case ARG_VERSION:
                        printf("memhpctl %s\n", MEMHPD_VERSION);
                        return EXIT_OK;
                case ARG_JSON:
                        arg.json = true;
                        break;
                case ARG_BLOCKS:
                        arg.blocks = true;
                        break;
                case ARG_NO_PAGER:
                        arg.no_pager = true;
                        break;
                case ARG_NO_LEGEND:
                        arg.no_legend = true;
                        break;
                case 'n': {
                        unsigned long v;
                        errno = 0;
                        v = strtoul(optarg, &end, 10);
                        if (errno || *end || !*optarg || v > 1000000) {
                                fprintf(stderr, "--lines= takes a number up to 1000000, not \"%s\".\n", optarg);
                                return EXIT_USAGE;
                        }
                        arg.lines = (unsigned) v;
                        break;
                }
                case ARG_ROOT:
                        arg.root = optarg;
                        break;
                case ARG_NO_WAIT:
                        arg.no_wait = true;
                        break;
                case ARG_EJECT:
                        arg.eject = true;
                        break;
                default:
                        return EXIT_USAGE;
                }

        name = optind < argc ? argv[optind] : "status";
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (strcmp(verbs[i].name, name) == 0)
                        verb = &verbs[i];
        if (!verb) {
                fprintf(stderr, "Unknown command \"%s\"; see memhpctl --help.\n", name);
                return EXIT_USAGE;
        }
        nargs = optind < argc ? argc - optind - 1 : 0;
        if (nargs < verb->min_args || nargs > verb->max_args) {
                if (verb->min_args == verb->max_args && verb->max_args == 0)
                        fprintf(stderr, "\"%s\" takes no arguments.\n", name);
                else
                        fprintf(stderr, "\"%s\" takes %d argument%s; see memhpctl --help.\n", name, verb->max_args,
                                verb->max_args == 1 ? "" : "s");
                return EXIT_USAGE;
        }
        if (verb->bus) {
                r = ctl_connect(&bus);
                if (r > 0)
                        return r;
        }
        r = verb->run(bus, nargs + 1, optind < argc ? argv + optind : (char *[]) { (char *) name, NULL });
        ctl_pager_close();
        return r;
}
