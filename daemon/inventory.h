/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memory.h"
#include "origin.h"
#include "procfs.h"
#include "sysfs.h"

/*
 * What memhpd knows about memory blocks and NUMA nodes. sysfs is the source of truth: this is a cache
 * that a scan rebuilds and that uevents keep current, one block at a time. A Block is 8 bytes and
 * the array is indexed by block number, so a 16 TiB host (131072 blocks) costs 1 MiB and every lookup
 * is O(1). A scan allocates only what is proportional to nodes and to problems, not to blocks.
 */

enum {
        BLOCK_PRESENT = 1 << 0,      /* memoryN exists */
        BLOCK_DECIDED = 1 << 1,      /* policy was applied since the block appeared */
        BLOCK_SETTLING = 1 << 2,     /* waiting for its nodeM or firmware_node link (made after the uevent) */
        BLOCK_BY_OTHER = 1 << 3,     /* its state was last changed by someone else */
        BLOCK_AT_START = 1 << 4,     /* present at the first scan */
        BLOCK_REDECIDE = 1 << 5,     /* left offline by policy or by a failure: decide again on reload */
        BLOCK_CLASSIFIED = 1 << 6,   /* 'device' is known */
        BLOCK_SEEN = 1 << 7,         /* scratch: found by the scan in progress */
        BLOCK_REPORT = 1 << 8,       /* scratch: the scan in progress has something to report */
        /* offline-worker.c, drain.c */
        BLOCK_OFFLINING = 1 << 9,    /* memhpd has an offline job for it: its going-offline/offline is ours */
        BLOCK_BY_ADMIN = 1 << 10,    /* the administrator took it offline through memhpd: never onlined by policy */
        BLOCK_DEFERRED = 1 << 11,    /* When=delay: waiting in a group of delay.c */
};

typedef struct Block {
        uint8_t state;   /* BlockState */
        uint8_t zone;    /* Zone; for an online block, ZONE_UNKNOWN until someone needed it */
        uint8_t device;  /* DeviceKind, valid with BLOCK_CLASSIFIED */
        uint8_t scratch; /* the scan in progress: the state before it, or SCRATCH_APPEARED */
        uint16_t flags;
        int16_t node;    /* -1 while unknown */
} Block;

#define NODES_MAX 1024 /* the kernel's MAX_NUMNODES with NODES_SHIFT=10, the x86 maximum */

typedef struct NodeInfo {
        bool present;
        bool stats_stale;       /* the page counts need a /proc/zoneinfo re-read */
        uint64_t kernel_pages;  /* present (= online) pages in DMA, DMA32, Normal */
        uint64_t movable_pages; /* present pages in ZONE_MOVABLE */
        uint32_t n_blocks;      /* memory blocks linked to this node */
        uint32_t n_offline;
        /* tier: topology facts, read by inventory_node_topology() */
        uint8_t cpus;           /* NodeCpus */
        bool in_tier;           /* listed in some memory_tierN/nodelist */
        uint32_t tier;          /* that N */
} NodeInfo;

typedef enum BlockChange {
        BLOCK_APPEARED,       /* new block: decide on it */
        BLOCK_STATE_CHANGED,  /* its state differs from what we knew */
        BLOCK_VANISHED,
} BlockChange;

typedef struct Inventory Inventory;
/* What a scan or refresh found for one block. 'error' is 0, or -errno with 'detail' naming the sysfs
 * value that could not be read or parsed; the block's state is then STATE_UNKNOWN. */
typedef struct BlockReport {
        uint32_t index;
        BlockChange change;
        BlockState old_state;
        Block old;              /* BLOCK_VANISHED: the block as it was (node, device for the record) */
        int error;
        const char *detail;
} BlockReport;

typedef void (*inventory_change_t)(Inventory *inv, const BlockReport *report, void *userdata);

struct Inventory {
        Root *root;              /* not owned */
        uint64_t block_size;
        uint64_t page_size;
        Block *blocks;
        uint32_t n_blocks;       /* valid indexes are < n_blocks */
        uint32_t n_present;
        uint32_t n_offline;
        uint32_t n_nodes;        /* nodes present */
        NodeInfo *nodes;         /* NODES_MAX entries */
        IomemRange *iomem;
        size_t n_iomem;
        bool hyperv, xen;        /* the platform, for plain "System RAM" that has no other mark */
        bool acpi_memory_devices; /* PNP0C80 devices exist: a plain range may still get its firmware_node */
        bool iomem_hidden;       /* /proc/iomem printed zeros: we lack CAP_SYS_ADMIN */
        int iomem_error;         /* the last read of /proc/iomem failed with this -errno */
        unsigned phys_addr_bits; /* the machine's physical address width, read at the first scan */
        bool scanned;
        /* Counters for --dry-run and the benchmarks. */
        uint64_t n_iomem_reads;
        /* bus: who decided each block (origin.h). */
        OriginTable origins;
        /* tier: the nodes' CPU and memory-tier facts need a re-read (node added or removed, memory of a
         * node came or went: the kernel puts a node in a tier when its first memory goes online). */
        bool topology_stale;
};

int inventory_new(Root *root, Inventory **ret);
Inventory *inventory_free(Inventory *inv);

/*
 * Read block_size_bytes, every memoryN and every nodeN, /proc/iomem and /proc/zoneinfo. Calls 'change'
 * for each block that appeared, changed state or vanished since the last scan. Returns 0 or -errno
 * (-ENOENT: no memory hot-plug support under this root). A directory listing that fails part-way fails
 * the scan before anything is reported or changed: a block the listing did not reach is not "removed".
 */
int inventory_scan(Inventory *inv, inventory_change_t change, void *userdata);

/*
 * Re-read one block after a uevent for it and fill *ret. Returns 1 if something changed (ret->change
 * says what; a block that no longer exists is BLOCK_VANISHED), 0 if nothing did (also for a block that
 * does not exist and never did), -ERANGE for a block number beyond the physical address width,
 * -ENOMEM, or another -errno if sysfs cannot be asked.
 */
int inventory_block_refresh(Inventory *inv, uint32_t index, BlockReport *ret, char *detail, size_t detail_size);
int inventory_block_remove(Inventory *inv, uint32_t index);

/* Record a state we caused ourselves (after a successful write), keeping node counters right. */
void inventory_block_set_online(Inventory *inv, uint32_t index, Zone zone);

/* Look for memoryN/nodeM. Returns the node, or -ENOENT if the link does not exist (yet). */
int inventory_block_read_node(Inventory *inv, uint32_t index);
void inventory_block_set_node(Inventory *inv, uint32_t index, int node);

/* Classify the block's device from its firmware_node and /proc/iomem. Returns the DeviceKind, or
 * -EAGAIN if a plain range might still get its firmware_node and 'final' is not set. */
int inventory_block_classify(Inventory *inv, uint32_t index, bool final);

/* Classify the block's device (firmware_node, /proc/iomem) once, without waiting for links. */
DeviceKind inventory_block_device(Inventory *inv, uint32_t index);

/* The zone of an online block (read from valid_zones when not known yet), or ZONE_UNKNOWN. */
Zone inventory_block_zone(Inventory *inv, uint32_t index);

/* The zones an offline block may join. */
int inventory_block_valid_zones(Inventory *inv, uint32_t index, ZoneSet *ret);

/* Mark every node's page counts for a /proc/zoneinfo re-read. */
void inventory_nodes_stale(Inventory *inv);
int inventory_node_add(Inventory *inv, int node);
int inventory_node_remove(Inventory *inv, int node);
/* Fresh per-zone page counts for 'node', re-reading /proc/zoneinfo if they went stale. Returns 0, or
 * -errno if /proc/zoneinfo cannot be read, parsed (a node beyond NODES_MAX: -ERANGE) or is missing a
 * node that has online blocks (-EBADMSG): then there are no counts to decide on. */
int inventory_node_counts(Inventory *inv, int node, uint64_t *ret_kernel, uint64_t *ret_movable);
/* For display: the counts as above, or the last ones known if they cannot be read. */
const NodeInfo *inventory_node_stats(Inventory *inv, int node);

static inline Block *inventory_block(Inventory *inv, uint32_t index) {
        return index < inv->n_blocks && (inv->blocks[index].flags & BLOCK_PRESENT) ? &inv->blocks[index] : NULL;
}

static inline uint64_t inventory_block_start(const Inventory *inv, uint32_t index) {
        return (uint64_t) index * inv->block_size;
}

/*
 * The CPU and memory-tier facts of 'node' (tier): /sys/devices/system/node/has_cpu and
 * /sys/devices/virtual/memory_tiering/memory_tierN/nodelist (6.1+), re-read when stale. Returns 0 with
 * *ret pointing into the inventory; facts that cannot be read stay unknown (NODE_CPUS_UNKNOWN, not
 * in a tier), and -errno says why (-ENOENT: no memory_tiering under this root, an older kernel).
 */
int inventory_node_topology(Inventory *inv, int node, const NodeInfo **ret);

/* Pure parser of a sysfs node or CPU list ("0-3,8"), exposed for the unit tests: sets the bits of
 * 'mask' (NODES_MAX bits). Returns 0, or -EINVAL/-ERANGE (a node beyond NODES_MAX). */
int parse_node_list(const char *s, uint64_t mask[NODES_MAX / 64]);

/* Pure parser, exposed for the unit tests: "memory123" -> 123, "node4" -> 4. -EINVAL on anything else. */
int parse_indexed_name(const char *name, const char *prefix, uint32_t *ret);
