/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "inventory.h"
#include "uevent-parse.h"

/*
 * What a scan's or a uevent's news about a block does: the lifecycle (lifecycle.c) says what it means,
 * this applies it (flags, audit record, settle and decide, kept-offline save).
 */

typedef struct Manager Manager;

/* The inventory_change_t of every scan and refresh; 'userdata' is the Manager. */
void block_events_report(Inventory *inv, const BlockReport *rep, void *userdata);

/* Rescan everything now and apply what changed (start, reload, lost events); -errno, logged. */
int block_events_rescan(Manager *m);
/* Rescan once, after this loop iteration (the Manager's idle source, manager.c). */
void block_events_schedule_rescan(Manager *m);

void block_events_memory_uevent(Manager *m, const Uevent *u);
void block_events_node_uevent(Manager *m, const Uevent *u);
