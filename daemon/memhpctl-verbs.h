/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

/* memhpctl verbs that live outside memhpctl.c, one file each (memhpctl.c's first comment). */

/* memhpctl-log.c: this host's audit records, read from the journal by MESSAGE_ID (no bus needed). */
int verb_log(sd_bus *bus, int argc, char **argv);

/* memhpctl-quarantine.c: list the quarantine, or clear TARGET (root). */
int verb_quarantine(sd_bus *bus, int argc, char **argv);
