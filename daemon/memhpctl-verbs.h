/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

/* memhpctl verbs that live outside memhpctl.c, one file each (memhpctl.c's first comment). */

/* memhpctl-log.c: this host's audit records, read from the journal by MESSAGE_ID (no bus needed). */
int verb_log(sd_bus *bus, int argc, char **argv);

/* memhpctl-drain.c: drain TARGET, online|offline BLOCK... (drain-bus.h). */
int verb_drain(sd_bus *bus, int argc, char **argv);
int verb_online(sd_bus *bus, int argc, char **argv);
int verb_offline(sd_bus *bus, int argc, char **argv);
/* memhpctl-quarantine.c: list the quarantine, or clear TARGET (root). */
int verb_quarantine(sd_bus *bus, int argc, char **argv);
