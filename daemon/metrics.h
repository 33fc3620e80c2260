/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "inventory.h"

/*
 * MetricsFile=: the Prometheus text exposition file (format 0.0.4) that node_exporter's textfile
 * collector serves, e.g. /var/lib/prometheus/node-exporter/memhpd.prom. Rendering is pure: a
 * MetricsSnapshot in, text out (metrics_render()). The Manager side keeps the counters (from the audit
 * records), the hot-add-to-online latency of new blocks, and writes the file atomically, coalesced: a
 * change arms a one-shot timer, and nothing runs while nothing changes.
 */

typedef struct Manager Manager;

/* valid_zones reads per write for the zones of boot memory: all 131072 of them took 4.6 s on a loaded
 * machine (bench/), too long to stall the loop; 2048 a write keeps each write short, and the file
 * has every zone about 30 s after the start of the largest host. */
#define METRICS_ZONE_READS_MAX 2048

/* Upper bounds of the latency histogram's buckets, in seconds, ascending; "+Inf" follows them. */
#define METRICS_LATENCY_BUCKETS 14
extern const double metrics_latency_bounds[METRICS_LATENCY_BUCKETS];

typedef struct MetricsHistogram {
        uint64_t bucket[METRICS_LATENCY_BUCKETS + 1]; /* per bucket, not cumulative; the last is > every bound */
        uint64_t count;
        uint64_t sum_usec;
} MetricsHistogram;

void metrics_histogram_observe(MetricsHistogram *h, uint64_t usec);

typedef enum MetricsCounter {
        METRICS_ONLINED,        /* "onlined" records */
        METRICS_ONLINE_FAILED,  /* "online-failed" records */
        METRICS_LEFT_OFFLINE,   /* "left-offline" records */
        METRICS_EVENTS_LOST,    /* "events-lost" records */
        METRICS_CONFLICTS,      /* "conflict" records */
        METRICS_REBALANCED,     /* "rebalance" records */
        METRICS_UEVENTS,        /* uevents received */
        METRICS_RESCANS,        /* full scans of sysfs */
        _METRICS_COUNTER_MAX,
} MetricsCounter;

typedef struct MetricsSnapshot {
        const Block *blocks;          /* the inventory's array; only BLOCK_PRESENT entries count */
        uint32_t n_blocks;
        uint64_t block_size;
        uint64_t quarantined_blocks;
        uint64_t policies;
        bool config_ok;
        unsigned long long counter[_METRICS_COUNTER_MAX];
        const MetricsHistogram *latency;
        const char *version;
} MetricsSnapshot;

/* Write 's' to 'f' in the text exposition format. Returns 0, -ENOMEM, or -EIO if 'f' failed. */
int metrics_render(const MetricsSnapshot *s, FILE *f);

/* Write 'value' as a label value: backslash, double quote and newline escaped as the format says. */
void metrics_write_label_value(FILE *f, const char *value);

/* Check MetricsFile='s value: empty (off), or an absolute path to a file. Returns 0 or -EINVAL. */
int metrics_file_valid(const char *path);

/* Manager side. */
int metrics_start(Manager *m);
/* Write a pending change now, and free everything. */
void metrics_stop(Manager *m);
/* Something the file shows changed: write it once, METRICS_DELAY_USEC from now. */
void metrics_changed(Manager *m);
/* A new block was seen offline: the start of its hot-add-to-online latency. */
void metrics_block_seen(Manager *m, uint32_t index);
/* Write the file now. Returns 0, or -errno (the directory is missing, read-only, ...). */
int metrics_write(Manager *m);
