/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <systemd/sd-bus.h>

/*
 * The control channel: the object /org/memhpd1, interface org.memhpd1.Manager, served
 *   - always on the private socket <root>/run/memhpd/bus (peer-to-peer sd-bus, mode 0600, only root or
 *     memhpd's own uid may connect: one sd_bus per accepted connection, attached to the loop, dropped
 *     when the client disconnects), and
 *   - on the system bus as org.memhpd1 when one is reachable and the root is "/" (a test daemon under
 *     --root=DIR never takes the host's name).
 *
 * Adding to it: bus.c holds the ONE vtable (bus_vtable[] in bus.c). Another module adds a line there,
 * SD_BUS_METHOD_WITH_ARGS("Drain", ..., drain_method_start, 0), whose handler lives in its own file and
 * is declared in its own header; the handler calls bus_verify_privileged() first if it changes anything,
 * bus_caller_describe() for the audit record's "who asked", and bus_emit_changed() after a change its
 * properties show. userdata of every handler is the Manager.
 */

typedef struct Manager Manager;

/* Listen on the private socket and join the system bus if there is one. Returns 0 or -errno (the private
 * socket could not be made; logged). */
int bus_start(Manager *m);
/* Close every connection and the socket. Safe on a Manager without a bus. */
void bus_stop(Manager *m);

/* Methods that change state call this first: 0 if the caller may (root, or any peer of the private socket,
 * which only root can reach), else -EPERM with 'error' set to org.freedesktop.DBus.Error.AccessDenied. */
int bus_verify_privileged(sd_bus_message *msg, sd_bus_error *error);

/* "uid=0 pid=123 comm=memhpctl" (what the bus knows of the caller) into buf. Returns 0 or -errno (buf then
 * holds "unknown caller"). */
int bus_caller_describe(sd_bus_message *msg, char *buf, size_t n);

/* Properties (by name, NULL-terminated) changed: one PropertiesChanged per connection within 100 ms,
 * however many calls came before it; nothing at all while no client is connected. */
void bus_emit_changed(Manager *m, ...) __attribute__((sentinel));

/* The inventory changed (blocks, nodes, counters): the properties that show it. Called from the
 * Manager's status source (once per loop iteration that changed something). */
void bus_inventory_changed(Manager *m);

/* The error names memhpctl maps to messages. */
#define BUS_ERROR_NO_SUCH_BLOCK "org.memhpd1.NoSuchBlock"
#define BUS_ERROR_RELOAD_FAILED "org.memhpd1.ReloadFailed"
