/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * memhpctl's renderers: pure functions from plain rows (what the bus's properties hold) to text on a
 * FILE. No bus, no terminal probing: the caller says whether to colour and whether to print the legend.
 * Unit-tested on fixture run lists (tests/unit/test-render.c).
 *
 * JSON (memhpctl status --json), stable, in lsmem's style:
 *   { "memhpd": { "version", "status", "event_source", "policies", "config_ok", "dry_run", "conflicts",
 *                 "block_size", "blocks", "offline", "onlined", "failed" },
 *     "memory": [ { "range": "0x...-0x...", "size": BYTES, "state", "zone", "node", "device",
 *                   "block": "FIRST-LAST" (or "N" for one block), "decided_by", "policy" } ... ],
 *     "nodes": [ { "node", "kernel_bytes", "movable_bytes", "blocks", "offline" } ... ],
 *     "conflicting_agents": [ { "agent", "file", "text" } ... ] }
 * Each other agent memhpd finds is one line under the header of the table (with the legend).
 * "zone", "device", "decided_by" and "policy" are null when not known; "node" is null for -1. With
 * --blocks "memory" holds one object per block.
 */

typedef struct RunRow {
        uint32_t first, last;
        const char *state;
        const char *zone;     /* "" or NULL: not known */
        int32_t node;         /* -1: not known */
        const char *device;   /* "" or NULL: not known */
        const char *origin;   /* "boot", "policy", ... "" or NULL: not known */
        const char *policy;   /* "FILE:LINE" or "" */
} RunRow;

typedef struct NodeRow {
        uint32_t node;
        uint64_t kernel_bytes, movable_bytes;
        uint32_t blocks, offline;
} NodeRow;

typedef struct ConflictRow {
        const char *agent, *file, *text;
} ConflictRow;

typedef struct StatusHeader {
        const char *version, *status, *event_source, *memmap, *kernel_zones;
        uint32_t policies, conflicts;
        const struct ConflictRow *conflict_rows; /* 'conflicts' of them, or NULL */
        bool config_ok, dry_run;
        uint64_t block_size, blocks, offline, onlined, failed;
} StatusHeader;

typedef struct RenderOptions {
        bool legend;   /* header lines and column titles */
        bool colour;
        bool blocks;   /* one row per block instead of runs */
} RenderOptions;

/* lsmem's sizes: "128M", "3.9G", "16T". */
void format_size(uint64_t bytes, char *buf, size_t size);
/* A JSON string literal with its quotes; NULL prints null. */
void json_string(FILE *f, const char *s);

void render_status_table(FILE *f, const StatusHeader *h, const RunRow *runs, size_t n_runs, const NodeRow *nodes,
                         size_t n_nodes, const RenderOptions *o);
void render_status_json(FILE *f, const StatusHeader *h, const RunRow *runs, size_t n_runs, const NodeRow *nodes,
                        size_t n_nodes, const RenderOptions *o);
