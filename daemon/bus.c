/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the control channel (bus.h): the private socket and its connections, the system bus name, the one
 * vtable of org.memhpd1.Manager with its property getters, and coalesced change signals. What Explain and
 * Verify compute is bus-inspect.c's; this file only marshals. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-id128.h>

#include "build-config.h"
#include "bus-inspect.h"
#include "bus.h"
#include "drain-bus.h"
#include "quarantine-bus.h"
#include "log.h"
#include "manager.h"
#include "memmap.h"
#include "rebalance.h"
#include "reload.h"
#include "sysfs.h"
#include "status.h"

#define BUS_OBJECT_PATH "/org/memhpd1"
#define BUS_INTERFACE "org.memhpd1.Manager"
#define BUS_NAME "org.memhpd1"
#define BUS_SOCKET_DIR "run/memhpd"
#define BUS_SOCKET_NAME "bus"
#define BUS_SOCKET BUS_SOCKET_DIR "/" BUS_SOCKET_NAME
#define BUS_CONNECTIONS_MAX 64 /* private connections at once; more are refused */
#define BUS_PENDING_MAX 16
#define BUS_EMIT_DELAY_USEC (100 * 1000) /* change signals: at most one per 100 ms */

typedef struct BusServer BusServer;

struct BusServer {
        int listen_fd;
        int dir_fd;          /* run/memhpd, where the socket is */
        sd_event_source *listen_source;
        sd_bus *private[BUS_CONNECTIONS_MAX];
        size_t n_private;
        sd_bus *system;
        char socket_path[sizeof(((struct sockaddr_un *) NULL)->sun_path)];
        /* Property names changed since the last signal, emitted by 'emit_source' (a one-shot timer). */
        const char *pending[BUS_PENDING_MAX + 1];
        size_t n_pending;
        sd_event_source *emit_source;
        /* Learning the zone of every online block once, after start (see on_zones). */
        sd_event_source *zones_source;
        uint32_t zones_next;
};

/* ---- properties ---- */

static int property_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", MEMHPD_VERSION);
}

static int property_status(sd_bus *bus, const char *path, const char *interface, const char *property,
                           sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        char text[256];

        status_format(userdata, text, sizeof(text));
        return sd_bus_message_append(reply, "s", text);
}

static int property_event_source(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "s", event_source_to_string(m->settings.event_source));
}

static int property_memmap(sd_bus *bus, const char *path, const char *interface, const char *property,
                           sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        char text[256];

        memmap_summary(userdata, text, sizeof(text));
        return sd_bus_message_append(reply, "s", text);
}

static int property_kernel_zones(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        char text[256];

        rebalance_summary(userdata, text, sizeof(text));
        return sd_bus_message_append(reply, "s", text);
}

static int property_policies(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "u", (uint32_t) m->policies.n);
}

static int property_config_ok(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "b", m->config_ok);
}

static int property_dry_run(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "b", m->opts.dry_run);
}

static int property_conflicts(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_free_ Conflicts *c = calloc(1, sizeof(*c));
        int r;

        if (!c)
                return -ENOMEM;
        bus_inspect_conflicts(m, c);
        r = sd_bus_message_open_container(reply, 'a', "(sss)");
        for (size_t i = 0; r >= 0 && i < c->n; i++)
                r = sd_bus_message_append(reply, "(sss)", c->items[i].agent, c->items[i].file, c->items[i].text);
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int property_counter(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        uint64_t v = 0;

        if (strcmp(property, "Onlined") == 0)
                v = m->n_onlined;
        else if (strcmp(property, "Failed") == 0)
                v = m->n_failed;
        else if (strcmp(property, "Uevents") == 0)
                v = m->n_uevents;
        else if (strcmp(property, "Rescans") == 0)
                v = m->n_rescans;
        else if (strcmp(property, "Blocks") == 0)
                v = m->inv->n_present;
        else if (strcmp(property, "OfflineBlocks") == 0)
                v = m->inv->n_offline;
        else if (strcmp(property, "BlockSize") == 0)
                v = m->inv->block_size;
        return sd_bus_message_append(reply, "t", v);
}

static int property_runs(sd_bus *bus, const char *path, const char *interface, const char *property,
                         sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(uussisss)");
        if (r < 0)
                return r;
        for (uint32_t i = 0; i < m->inv->n_blocks;) {
                BlockRun run;

                i = bus_inspect_next_run(m, i, &run);
                if (i == UINT32_MAX)
                        break;
                r = sd_bus_message_append(reply, "(uussisss)", run.first, run.last, block_state_to_string(run.state),
                                          run.zone == ZONE_UNKNOWN ? "" : zone_to_string(run.zone), run.node,
                                          (run.flags & BLOCK_CLASSIFIED) ? device_kind_to_string(run.device) : "",
                                          origin_to_string(origin_kind(run.origin)),
                                          inventory_origin_source(m->inv, run.origin) ?: "");
                if (r < 0)
                        return r;
                i = run.last + 1;
        }
        return sd_bus_message_close_container(reply);
}

static int property_nodes(sd_bus *bus, const char *path, const char *interface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(uttuu)");
        for (int n = 0; r >= 0 && n < NODES_MAX; n++) {
                const NodeInfo *ni;

                if (!m->inv->nodes[n].present)
                        continue;
                ni = inventory_node_stats(m->inv, n);
                r = sd_bus_message_append(reply, "(uttuu)", (uint32_t) n, ni->kernel_pages * m->inv->page_size,
                                          ni->movable_pages * m->inv->page_size, ni->n_blocks, ni->n_offline);
        }
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int property_settings(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const Settings *s = &m->settings;
        char buffer[32], settle[32];
        int r;

        (void) snprintf(buffer, sizeof(buffer), "%llu", s->receive_buffer);
        (void) snprintf(settle, sizeof(settle), "%llu.%03llus", s->settle_usec / 1000000, s->settle_usec / 1000 % 1000);
        r = sd_bus_message_open_container(reply, 'a', "(ss)");
        if (r >= 0)
                r = sd_bus_message_append(reply, "(ss)(ss)(ss)(ss)(ss)", "EventSource",
                                          event_source_to_string(s->event_source), "ReceiveBufferSize", buffer,
                                          "SettleTimeoutSec", settle, "LockMemory", yes_no(s->lock_memory),
                                          "KernelAutoOnline", kernel_auto_online_to_string(s->kernel_auto_online));
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

/* ---- methods ---- */

static int method_reload(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        char who[160];
        int r;

        r = bus_verify_privileged(msg, error);
        if (r < 0)
                return r;
        (void) bus_caller_describe(msg, who, sizeof(who));
        log_info("Reloading, as asked on the bus by %s", who);
        reload_now(m);
        if (!m->config_ok)
                return sd_bus_error_set(error, BUS_ERROR_RELOAD_FAILED,
                                        "the settings or policies have errors (see the journal); the previous ones stay");
        return sd_bus_reply_method_return(msg, NULL);
}

static int block_argument(Manager *m, sd_bus_message *msg, uint32_t *ret, sd_bus_error *error) {
        uint32_t index;
        int r;

        r = sd_bus_message_read(msg, "u", &index);
        if (r < 0)
                return r;
        if (!inventory_block(m->inv, index))
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_BLOCK, "memory%" PRIu32 " does not exist", index);
        *ret = index;
        return 0;
}

static int method_explain(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        _cleanup_free_ ExplainStep *steps = NULL;
        BlockExplanation e;
        uint32_t index = 0; /* block_argument() sets it; gcc -O2 cannot tell */
        char where[4200];
        int r;

        r = block_argument(m, msg, &index, error);
        if (r < 0)
                return r;
        steps = calloc(m->policies.n ?: 1, sizeof(*steps));
        if (!steps)
                return -ENOMEM;
        bus_inspect_explain(m, index, steps, &e);

        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(sss)");
        for (size_t i = 0; r >= 0 && i < m->policies.n; i++) {
                (void) snprintf(where, sizeof(where), "%s:%u", steps[i].policy->path, steps[i].policy->line);
                r = sd_bus_message_append(reply, "(sss)", where,
                                          steps[i].decides ? "decides" : steps[i].shadowed ? "shadowed" : "no match",
                                          steps[i].why);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0) {
                if (e.decision.policy)
                        (void) snprintf(where, sizeof(where), "%s:%u", e.decision.policy->path, e.decision.policy->line);
                else
                        where[0] = '\0';
                r = sd_bus_message_append(reply, "sss", action_to_string(e.decision.action), where, e.decision.why);
        }
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(ss)");
        for (size_t i = 0; r >= 0 && i < e.n_facts; i++)
                r = sd_bus_message_append(reply, "(ss)", e.facts[i].name, e.facts[i].value);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_verify(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(drifts_freep) Drifts *d = NULL;
        Manager *m = userdata;
        int r;

        r = bus_inspect_verify(m, &d);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(sss)");
        for (size_t i = 0; r >= 0 && i < d->n; i++)
                r = sd_bus_message_append(reply, "(sss)", d->items[i].subject, d->items[i].kind, d->items[i].text);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

#define P(name, sig, getter, flags) SD_BUS_PROPERTY(name, sig, getter, 0, flags)
#define CHANGES SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE
#define INVALIDATES SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION

/* The one vtable of org.memhpd1.Manager (bus.h says how other modules add to it). Append only. */
static const sd_bus_vtable bus_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        P("Status", "s", property_status, CHANGES),
        P("EventSource", "s", property_event_source, CHANGES),
        P("Policies", "u", property_policies, CHANGES),
        P("Memmap", "s", property_memmap, 0),
        P("KernelZones", "s", property_kernel_zones, 0),
        P("ConfigOK", "b", property_config_ok, CHANGES),
        SD_BUS_PROPERTY("DryRun", "b", property_dry_run, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        P("Conflicts", "a(sss)", property_conflicts, 0),
        P("BlockSize", "t", property_counter, CHANGES),
        P("Blocks", "t", property_counter, CHANGES),
        P("OfflineBlocks", "t", property_counter, CHANGES),
        P("Onlined", "t", property_counter, CHANGES),
        P("Failed", "t", property_counter, CHANGES),
        P("Uevents", "t", property_counter, 0),
        P("Rescans", "t", property_counter, 0),
        P("Runs", "a(uussisss)", property_runs, INVALIDATES),
        P("Nodes", "a(uttuu)", property_nodes, INVALIDATES),
        P("Settings", "a(ss)", property_settings, INVALIDATES),
        SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Explain", SD_BUS_ARGS("u", block),
                                SD_BUS_RESULT("a(sss)", policies, "s", action, "s", policy, "s", why, "a(ss)", facts),
                                method_explain, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Verify", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(sss)", drifts), method_verify,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        /* drain-bus.c */
        SD_BUS_METHOD_WITH_ARGS("Drain", SD_BUS_ARGS("s", target, "t", flags), SD_BUS_NO_RESULT, drain_method_start,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Online", SD_BUS_ARGS("au", blocks), SD_BUS_RESULT("a(uis)", results),
                                drain_method_online, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Offline", SD_BUS_ARGS("au", blocks), SD_BUS_RESULT("a(uis)", results),
                                drain_method_offline, SD_BUS_VTABLE_UNPRIVILEGED),
        P("DrainTarget", "s", drain_property_get, CHANGES),
        P("DrainRunning", "b", drain_property_get, CHANGES),
        P("DrainDone", "t", drain_property_get, CHANGES),
        P("DrainTotal", "t", drain_property_get, CHANGES),
        P("DrainBlocks", "a(uiss)", drain_property_get, CHANGES),
        P("DrainEject", "s", drain_property_get, CHANGES),
        /* quarantine-bus.c */
        SD_BUS_METHOD_WITH_ARGS("ListQuarantine", SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("b", damaged, "s", damage, "a(ttsssuttss)", ranges),
                                quarantine_method_list, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ClearQuarantine", SD_BUS_ARGS("s", target), SD_BUS_RESULT("u", cleared),
                                quarantine_method_clear, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* ---- privileges ---- */

int bus_verify_privileged(sd_bus_message *msg, sd_bus_error *error) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        uid_t euid;
        int r;

        /* A peer of the private socket passed the check at accept (root or our own uid). */
        if (!sd_bus_is_bus_client(sd_bus_message_get_bus(msg)))
                return 0;
        r = sd_bus_query_sender_creds(msg, SD_BUS_CREDS_EUID, &creds);
        if (r >= 0)
                r = sd_bus_creds_get_euid(creds, &euid);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Cannot tell who is asking: %m");
        if (euid != 0 && euid != geteuid())
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED,
                                        "Only root may change what memhpd does");
        return 0;
}

int bus_caller_describe(sd_bus_message *msg, char *buf, size_t n) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        uint64_t mask = SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID | SD_BUS_CREDS_COMM | SD_BUS_CREDS_AUGMENT;
        sd_bus *bus = sd_bus_message_get_bus(msg);
        const char *comm = NULL;
        char comm_buf[32];
        uid_t uid = (uid_t) -1;
        pid_t pid = 0;
        int r;

        /* A private connection's peer is the socket's (SO_PEERCRED, the rest from /proc). */
        r = sd_bus_is_bus_client(bus) ? sd_bus_query_sender_creds(msg, mask, &creds)
                                      : sd_bus_get_owner_creds(bus, mask, &creds);
        if (r < 0) {
                (void) snprintf(buf, n, "unknown caller");
                return r;
        }
        (void) sd_bus_creds_get_euid(creds, &uid);
        (void) sd_bus_creds_get_pid(creds, &pid);
        (void) sd_bus_creds_get_comm(creds, &comm);
        if (!comm && pid > 0) {
                /* sd-bus does not augment a peer-to-peer connection's creds from /proc: the live /proc
                 * (not the Root's: the caller runs on this system whatever --root says). */
                char path[64];
                FILE *f;

                (void) snprintf(path, sizeof(path), "/proc/%d/comm", (int) pid);
                f = fopen(path, "re");
                if (f) {
                        if (fgets(comm_buf, sizeof(comm_buf), f)) {
                                comm_buf[strcspn(comm_buf, "\n")] = '\0';
                                comm = comm_buf;
                        }
                        (void) fclose(f);
                }
        }
        if (uid == (uid_t) -1)
                (void) snprintf(buf, n, "uid=? pid=%d comm=%s", (int) pid, comm ?: "?");
        else
                (void) snprintf(buf, n, "uid=%u pid=%d comm=%s", (unsigned) uid, (int) pid, comm ?: "?");
        return 0;
}

/* ---- connections ---- */

static int bus_add_object(Manager *m, sd_bus *bus) {
        int r;

        r = sd_bus_add_object_vtable(bus, NULL, BUS_OBJECT_PATH, BUS_INTERFACE, bus_vtable, m);
        if (r < 0)
                return r;
        return sd_bus_add_object_manager(bus, NULL, BUS_OBJECT_PATH);
}

static void private_drop(BusServer *s, sd_bus *bus) {
        for (size_t i = 0; i < s->n_private; i++)
                if (s->private[i] == bus) {
                        s->private[i] = s->private[--s->n_private];
                        break;
                }
        sd_bus_flush_close_unref(bus);
}

static int on_private_disconnected(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        sd_bus *bus = sd_bus_message_get_bus(msg);

        log_debug("A private bus client went away");
        private_drop(m->bus, bus);
        return 0;
}

/* Only root and memhpd's own uid (a test daemon) may use the private socket, even if its mode were wrong. */
static int peer_allowed(int fd) {
        struct ucred cred;
        socklen_t len = sizeof(cred);

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return -errno;
        return cred.uid == 0 || cred.uid == geteuid() ? 0 : -EPERM;
}

static int on_private_connection(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
        Manager *m = userdata;
        BusServer *s = m->bus;
        _cleanup_close_ int nfd = -EBADF;
        sd_id128_t id;
        int r;

        nfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (nfd < 0) {
                if (errno != EAGAIN && errno != EINTR)
                        log_warning_errno(-errno, "Cannot accept a connection on the private bus socket: %m");
                return 0;
        }
        r = peer_allowed(nfd);
        if (r < 0) {
                log_warning_errno(r, "Refusing a private bus connection from a caller that is not root: %m");
                return 0;
        }
        if (s->n_private >= BUS_CONNECTIONS_MAX) {
                log_warning("Refusing a private bus connection: %d are open already", BUS_CONNECTIONS_MAX);
                return 0;
        }
        r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_fd(bus, nfd, nfd);
        if (r >= 0) {
                TAKE_FD(nfd);
                (void) sd_id128_randomize(&id);
                r = sd_bus_set_server(bus, 1, id);
        }
        if (r >= 0)
                r = sd_bus_negotiate_creds(bus, true, SD_BUS_CREDS_PID | SD_BUS_CREDS_UID | SD_BUS_CREDS_EUID);
        if (r >= 0)
                r = sd_bus_set_description(bus, "private-bus-connection");
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                                        "org.freedesktop.DBus.Local", "Disconnected", on_private_disconnected, m);
        if (r >= 0)
                r = bus_add_object(m, bus);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r >= 0)
                r = sd_bus_attach_event(bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0) {
                log_warning_errno(r, "Cannot set up a private bus connection: %m");
                return 0;
        }
        s->private[s->n_private++] = TAKE_PTR(bus);
        log_debug("Accepted a private bus connection");
        return 0;
}

/* The socket is made inside the trusted run/memhpd (root_state_dir(): no symlink, nobody else's), bound
 * through that directory's fd so that no path component is looked up again. */
static int private_listen(Manager *m) {
        BusServer *s = m->bus;
        union {
                struct sockaddr sa;
                struct sockaddr_un un;
        } addr = { .un.sun_family = AF_UNIX };
        const char *root = strcmp(m->root->path, "/") == 0 ? "" : m->root->path;
        _cleanup_close_ int dfd = -EBADF;
        mode_t old_umask;
        int r;

        (void) snprintf(s->socket_path, sizeof(s->socket_path), "%s/%s", root, BUS_SOCKET);
        /* Outside systemd (no RuntimeDirectory=) run/memhpd, even run, may not exist yet. */
        dfd = root_state_dir(m->root->fd, BUS_SOCKET_DIR, true);
        if (dfd < 0)
                return log_error_errno(dfd, "Cannot use %s/%s for the control channel's socket (%m); serving "
                                       "no private socket", root, BUS_SOCKET_DIR);
        (void) snprintf(addr.un.sun_path, sizeof(addr.un.sun_path), "/proc/self/fd/%d/%s", dfd, BUS_SOCKET_NAME);

        s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (s->listen_fd < 0)
                return log_error_errno(-errno, "Cannot make the private bus socket: %m");
        (void) unlinkat(dfd, BUS_SOCKET_NAME, 0); /* an earlier instance's */
        /* Created 0700 from the start (0600 below): nobody but root can connect in between. */
        old_umask = umask(0077);
        r = bind(s->listen_fd, &addr.sa, sizeof(addr.un));
        (void) umask(old_umask);
        if (r < 0)
                return log_error_errno(-errno, "Cannot bind the private bus socket %s: %m", s->socket_path);
        s->dir_fd = TAKE_FD(dfd);
        /* Read and write for root is what connecting needs; the directory is ours alone, so no race. */
        if (fchmodat(s->dir_fd, BUS_SOCKET_NAME, 0600, 0) < 0)
                return log_error_errno(-errno, "Cannot set the mode of the private bus socket %s: %m", s->socket_path);
        if (listen(s->listen_fd, SOMAXCONN) < 0)
                return log_error_errno(-errno, "Cannot listen on the private bus socket %s: %m", s->socket_path);
        r = sd_event_add_io(m->event, &s->listen_source, s->listen_fd, EPOLLIN, on_private_connection, m);
        if (r < 0)
                return log_error_errno(r, "Cannot watch the private bus socket: %m");
        (void) sd_event_source_set_description(s->listen_source, "bus-private-listen");
        log_debug("Listening on %s", s->socket_path);
        return 0;
}

/* dbus-daemon restarted or stopped: drop the connection rather than keep a dead one (no reconnection:
 * the private socket still serves; a restart of memhpd joins again). */
static int on_system_disconnected(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;

        log_info("The system bus went away; %s is served on the private socket only", BUS_NAME);
        m->bus->system = sd_bus_flush_close_unref(m->bus->system);
        return 0;
}

static void system_bus_join(Manager *m) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        if (strcmp(m->root->path, "/") != 0) {
                log_debug("Not joining the system bus: --root=%s is not this system", m->root->path);
                return;
        }
        r = sd_bus_open_system_with_description(&bus, "system-bus");
        if (r < 0) {
                log_debug_errno(r, "No system bus (%m): serving the private socket only");
                return;
        }
        r = bus_add_object(m, bus);
        if (r >= 0)
                r = sd_bus_match_signal_async(bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                                              "org.freedesktop.DBus.Local", "Disconnected", on_system_disconnected,
                                              NULL, m);
        if (r >= 0)
                r = sd_bus_request_name_async(bus, NULL, BUS_NAME, 0, NULL, NULL);
        if (r >= 0)
                r = sd_bus_attach_event(bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0) {
                log_warning_errno(r, "Cannot serve %s on the system bus: %m", BUS_NAME);
                return;
        }
        m->bus->system = TAKE_PTR(bus);
}

/* ---- change signals ---- */

static void emit_on(sd_bus *bus, char **names) {
        int r;

        r = sd_bus_emit_properties_changed_strv(bus, BUS_OBJECT_PATH, BUS_INTERFACE, names);
        if (r < 0)
                log_debug_errno(r, "Cannot send PropertiesChanged: %m");
}

static int on_emit(sd_event_source *source, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        BusServer *s = m->bus;

        s->pending[s->n_pending] = NULL;
        if (s->n_pending == 0)
                return 0;
        for (size_t i = 0; i < s->n_private; i++)
                emit_on(s->private[i], (char **) s->pending);
        if (s->system)
                emit_on(s->system, (char **) s->pending);
        s->n_pending = 0;
        return 0;
}

void bus_emit_changed(Manager *m, ...) {
        BusServer *s = m->bus;
        va_list ap;

        if (!s)
                return;
        va_start(ap, m);
        for (const char *name; (name = va_arg(ap, const char *));) {
                bool known = false;

                for (size_t i = 0; i < s->n_pending && !known; i++)
                        known = strcmp(s->pending[i], name) == 0;
                if (!known && s->n_pending < BUS_PENDING_MAX)
                        s->pending[s->n_pending++] = name; /* names are string literals */
        }
        va_end(ap);
        /* Nobody listening: nothing to send, and no wake-up for it. Otherwise one signal per
         * BUS_EMIT_DELAY_USEC at most: a burst of thousands of uevents is a handful of signals. */
        if (s->n_private == 0 && !s->system)
                s->n_pending = 0;
        else {
                int enabled = SD_EVENT_OFF;

                (void) sd_event_source_get_enabled(s->emit_source, &enabled);
                if (enabled == SD_EVENT_OFF &&
                    sd_event_source_set_time_relative(s->emit_source, BUS_EMIT_DELAY_USEC) >= 0)
                        (void) sd_event_source_set_enabled(s->emit_source, SD_EVENT_ONESHOT);
        }
}

void bus_inventory_changed(Manager *m) {
        bus_emit_changed(m, "Status", "Blocks", "OfflineBlocks", "Onlined", "Failed", "Runs", "Nodes", NULL);
}

/* ---- zones ---- */

#define ZONES_PER_ITERATION 1024

/* Runs show each online block's zone, which the inventory learns from valid_zones only when someone needs
 * it: on a 16 TiB host the first status would read 131072 files. This idle source reads them in slices
 * after start-up, below every event (uevents first), and turns itself off when done: no cost while idle.
 * Runs never read a zone themselves (a status stays fast): until then a zone shows as unknown. */
static int on_zones(sd_event_source *source, void *userdata) {
        Manager *m = userdata;
        BusServer *s = m->bus;
        uint32_t end = s->zones_next + ZONES_PER_ITERATION;

        for (; s->zones_next < m->inv->n_blocks && s->zones_next < end; s->zones_next++)
                if (inventory_block(m->inv, s->zones_next))
                        (void) inventory_block_zone(m->inv, s->zones_next);
        if (s->zones_next >= m->inv->n_blocks)
                (void) sd_event_source_set_enabled(source, SD_EVENT_OFF);
        return 0;
}

/* ---- start and stop ---- */

/* Drop the listening socket (after a failed start, or at stop). Returns true if there was one. */
static bool s_close_listen(BusServer *s) {
        bool had = s->listen_fd >= 0;

        s->listen_source = sd_event_source_disable_unref(s->listen_source);
        if (s->listen_fd >= 0)
                (void) close(s->listen_fd);
        if (s->dir_fd >= 0)
                (void) close(s->dir_fd);
        s->listen_fd = s->dir_fd = -EBADF;
        return had;
}

int bus_start(Manager *m) {
        int r;

        if (m->bus)
                return 0;
        m->bus = calloc(1, sizeof(BusServer));
        if (!m->bus)
                return -ENOMEM;
        m->bus->listen_fd = m->bus->dir_fd = -EBADF;
        r = sd_event_add_time_relative(m->event, &m->bus->emit_source, CLOCK_MONOTONIC, BUS_EMIT_DELAY_USEC,
                                       BUS_EMIT_DELAY_USEC / 10, on_emit, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(m->bus->emit_source, "bus-emit");
        (void) sd_event_source_set_enabled(m->bus->emit_source, SD_EVENT_OFF);
        (void) sd_event_source_set_priority(m->bus->emit_source, SD_EVENT_PRIORITY_IDLE);
        r = sd_event_add_defer(m->event, &m->bus->zones_source, on_zones, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(m->bus->zones_source, "bus-zones");
        (void) sd_event_source_set_priority(m->bus->zones_source, SD_EVENT_PRIORITY_IDLE + 1);
        (void) sd_event_source_set_enabled(m->bus->zones_source, SD_EVENT_ON);
        /* Without the private socket (a /run/memhpd memhpd must not use) memhpd still manages memory:
         * said once above, the system bus may still serve. */
        r = private_listen(m);
        if (r < 0) {
                if (m->bus->dir_fd >= 0)
                        (void) unlinkat(m->bus->dir_fd, BUS_SOCKET_NAME, 0);
                (void) s_close_listen(m->bus);
        }
        system_bus_join(m);
        return 0;
}

void bus_stop(Manager *m) {
        BusServer *s = m->bus;

        if (!s)
                return;
        while (s->n_private > 0)
                private_drop(s, s->private[0]);
        sd_bus_flush_close_unref(s->system);
        sd_event_source_disable_unref(s->emit_source);
        sd_event_source_disable_unref(s->zones_source);
        if (s->listen_fd >= 0 && s->dir_fd >= 0)
                (void) unlinkat(s->dir_fd, BUS_SOCKET_NAME, 0);
        (void) s_close_listen(s);
        free(s);
        m->bus = NULL;
}
