/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

/*
 * The quarantine on the control channel (bus.h): two methods of org.memhpd1.Manager whose vtable lines
 * are in bus.c.
 *   ListQuarantine() -> (b damaged, s damage, a(ttsssuttss) ranges): start, end (inclusive), device, id,
 *       reason, pages, time, pfn (UINT64_MAX: none), page type, result. Open to every caller.
 *   ClearQuarantine(s target) -> (u cleared): root-only; TARGET as quarantine_target_parse() reads it.
 *       Audited (quarantine-cleared) with who asked; the offline blocks of the cleared ranges are decided
 *       again with the policies.
 */

int quarantine_method_list(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int quarantine_method_clear(sd_bus_message *msg, void *userdata, sd_bus_error *error);

#define BUS_ERROR_BAD_TARGET "org.memhpd1.BadTarget"
