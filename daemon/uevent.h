/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The uevent source: the libudev monitor for memory blocks and nodes (with ENOBUFS -> rescan). Each
 * message is parsed (uevent-parse.h) and handed to block-events.c.
 */

#include "uevent-parse.h"

typedef struct Manager Manager;

/* Open a monitor for the configured source; the old one (if any) is replaced only on success. */
int uevent_monitor_start(Manager *m);
void uevent_monitor_stop(Manager *m);
