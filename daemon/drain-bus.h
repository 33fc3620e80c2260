/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

/*
 * The control channel's administrator actions (bus.c's vtable names these handlers): Drain, Online,
 * Offline and the drain's progress properties. Every method is root-only (bus_verify_privileged) and
 * audited with who asked (bus_caller_describe); what it does is the administrator's intent (origin
 * "administrator"): policy never undoes it.
 *
 *   Drain(s target, t flags)         returns at once; progress in DrainTarget, DrainRunning, DrainDone,
 *                                    DrainTotal, DrainBlocks a(uiss) (block, -errno, zone, why), DrainEject
 *   Offline(au blocks) -> a(uis)     replies when every block's offline job ended: (block, -errno, why)
 *   Online(au blocks) -> a(uis)      onlines each offline block at once, in the zone the kernel offers
 *                                    first (valid_zones), and lets policy keep it online
 */

#define BUS_ERROR_INVALID_TARGET "org.memhpd1.InvalidTarget"
#define BUS_ERROR_NO_SUCH_TARGET "org.memhpd1.NoSuchTarget"
#define BUS_ERROR_DRAIN_RUNNING "org.memhpd1.DrainRunning"
#define BUS_ERROR_DRAIN_REFUSED "org.memhpd1.DrainRefused"

#define DRAIN_BUS_BLOCKS_MAX 4096 /* blocks in one Online or Offline call: 512 GiB of 128 MiB blocks */

typedef struct Manager Manager;

int drain_method_start(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int drain_method_online(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int drain_method_offline(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int drain_property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
                       sd_bus_message *reply, void *userdata, sd_bus_error *error);

/* The drain's properties changed (drain.c calls it after every block). */
void drain_bus_changed(Manager *m);
