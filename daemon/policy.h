/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "conf-file.h"
#include "dax-parse.h"
#include "memory.h"

/*
 * Policy files and the decisions they make. Parsing turns text into plain structs; matching and
 * deciding are pure functions of those structs and the facts about one block: no files, no clock.
 */

typedef struct Range {
        uint64_t start, end; /* inclusive */
} Range;

typedef struct RangeList {
        Range *items;
        size_t n;
} RangeList;

#define POLICY_RANGES_MAX 1024 /* per key and file */

typedef enum ZoneTarget {
        TARGET_AUTO,
        TARGET_MOVABLE,
        TARGET_KERNEL,
        TARGET_OFFLINE,
        _TARGET_MAX,
} ZoneTarget;

typedef enum When {
        WHEN_IMMEDIATE,
        WHEN_MANUAL,
        WHEN_DELAY,            /* gather a hot-add's blocks for Delay=, then decide them together (delay.c) */
        WHEN_PRESSURE,         /* kept offline as a reserve, onlined OnlineStep= at a time under pressure */
        _WHEN_MAX,
} When;

typedef enum ZoneFallback {
        FALLBACK_OFFLINE, /* leave the block offline when the zone is not offered */
        FALLBACK_KERNEL,
        FALLBACK_MOVABLE,
        _FALLBACK_MAX,
} ZoneFallback;

typedef enum PoisonAction {
        POISON_ACTION_KEEP,    /* leave a poisoned block online; it stays quarantined once offline */
        POISON_ACTION_OFFLINE, /* drain it through the offline engine */
        _POISON_ACTION_MAX,
} PoisonAction;

#define POLICY_POISON_THRESHOLD_MAX 1000000
typedef enum DaxMode {
        DAX_MODE_DEVDAX,     /* leave the device to device_dax (the default) */
        DAX_MODE_SYSTEM_RAM, /* hand it to kmem; its blocks are then onlined by [Online] */
        _DAX_MODE_MAX,
} DaxMode;

#define POLICY_DAX_NAMES_MAX 64 /* DaxDevice= globs per file */

typedef struct Policy {
        char *path;            /* as shown to the user, e.g. /etc/memhpd/policies.d/50-x.policy */
        unsigned line;         /* the [Match] line (or the first section if there is no [Match]) */
        uint32_t devices;      /* bit per DeviceKind; 0 = any */
        RangeList nodes, blocks, phys;
        ZoneTarget zone;
        unsigned max_movable_ratio; /* percent */
        bool ratio_set;
        When when;
        ZoneFallback fallback;
        bool fallback_set;
        unsigned match_line, online_line;
        /* [Poison] (poison.c) */
        PoisonAction poison_action;
        unsigned poison_threshold;  /* poisoned pages in the block before Action= applies (default 1) */
        bool poison_threshold_set;
        unsigned poison_line;
        /* tier (issue 10): When=delay and the far-memory match */
        uint64_t delay_usec;        /* When=delay: Delay= */
        unsigned delay_line;        /* where Delay= was set, 0 if not */
        unsigned when_line;         /* where When= was set, 0 if not */
        int cpuless;                /* CpuLess=: -1 unset, 0 the node has CPUs, 1 it has none */
        RangeList tiers;            /* MemoryTier=: memory_tierN ids */
        /* When=pressure (pressure.c): OnlineStep= in blocks, or in bytes when online_step_bytes. */
        uint64_t online_step;
        bool online_step_bytes, online_step_set;
        /* dax devices (dax.c): [Match] DaxDevice=, Size=, Origin=; [Dax] Mode=; [Memmap] OnMemory= */
        char **dax_names;      /* globs (fnmatch) on daxX.Y */
        size_t n_dax_names;
        RangeList sizes;       /* the dax device's size */
        uint32_t origins;      /* bit per DaxOrigin; 0 = any */
        DaxMode dax_mode;
        bool dax_mode_set;
        int memmap_on_memory;  /* -1 unset, 0 no, 1 yes */
        unsigned dax_line, memmap_line;
} Policy;

#define POLICY_ONLINE_STEP_MAX (1ULL << 20) /* blocks: 2 PiB of 2 GiB blocks */

typedef struct PolicySet {
        Policy *items;
        size_t n;
        bool uses_node_topology;    /* tier: some policy matches on CpuLess= or MemoryTier= */
} PolicySet;

#define POLICY_DEFAULT_RATIO 301 /* the kernel's auto_movable_ratio default */

/*
 * Parse one policy file's text. Appends every problem to 'errors' as "PATH:LINE: message"; returns 0
 * and fills *ret only when the file is clean, -EINVAL otherwise.
 */
int policy_parse(const char *path, const char *text, Policy *ret, ConfErrors *errors);
void policy_done(Policy *p);

/* The search path, relative to the root, highest priority first: /etc, /run, the vendor dir. */
extern const char *const policy_search_path[];

/*
 * Load every *.policy file from the search path under 'rootfd'. 'dirs' are relative to the root
 * (highest priority first). Returns 0 with the set in *ret when every file is clean; otherwise
 * -EINVAL with all problems in 'errors' (nothing is half-loaded: reload keeps the old set).
 */
int policy_set_load(int rootfd, const char *const *dirs, PolicySet *ret, ConfErrors *errors);
void policy_set_done(PolicySet *set);

/* What the policy engine needs to know about one offline block. */
typedef struct BlockFacts {
        uint32_t index;
        uint64_t start, size;      /* physical range [start, start+size) */
        DeviceKind device;
        int node;                  /* -1 unknown */
        ZoneSet zones;             /* from valid_zones */
        uint64_t node_kernel_pages, node_movable_pages, block_pages;
        /* tier: filled when the set uses_node_topology, else unknown */
        NodeCpus node_cpus;        /* zero (unknown) when not filled */
        bool node_in_tier;         /* the node is in memory_tierN, N = node_tier */
        uint32_t node_tier;
        /* Zone=auto, pressure-aware (pressure.c): the node's kernel zones' free pages and high watermark
         * from /proc/zoneinfo; without them (kernel_watermarks false) the ratio alone decides. */
        bool kernel_watermarks;
        uint64_t node_kernel_free, node_kernel_high;
        const struct DaxFacts *dax; /* the dax device the block belongs to (dax.c), or NULL */
} BlockFacts;

/* What the policy engine needs to know about one dax device. */
typedef struct DaxFacts {
        const char *name;          /* daxX.Y */
        uint64_t start, size;      /* its resource; start 0 if unknown */
        int target_node;           /* -1 unknown */
        DaxOrigin origin;
} DaxFacts;

typedef struct DaxDecision {
        DaxMode mode;
        int memmap_on_memory;      /* -1: leave the device's setting, 0/1: write it before kmem binds */
        const Policy *policy;      /* NULL: nothing matched (devdax, untouched) */
        char why[192];
} DaxDecision;

/* Whether the policy has [Match] keys that only dax devices have (DaxDevice=, Size=, Origin=). */
bool policy_matches_dax_only(const Policy *p);
/* Whether the policy's [Match] accepts the dax device itself (Device= empty or with dax-kmem; Node= is
 * the target node; PhysAddress= holds its whole range; a policy with Block= never matches a device). */
bool policy_matches_dax(const Policy *p, const DaxFacts *f);
/* The first policy that matches the device decides its mode. Pure. */
void policy_decide_dax(const PolicySet *set, const DaxFacts *f, DaxDecision *ret);
const char *dax_mode_to_string(DaxMode m);

typedef enum Action {
        ACTION_ONLINE_MOVABLE,
        ACTION_ONLINE_KERNEL,
        ACTION_LEAVE_OFFLINE,
        _ACTION_MAX,
} Action;

typedef struct Decision {
        Action action;
        const Policy *policy;      /* NULL: nothing matched */
        char why[192];             /* one sentence for the audit record */
        bool reserve;              /* When=pressure: kept offline as a reserve (action is LEAVE_OFFLINE) */
} Decision;

/* Why a policy's [Match] does not accept a block: the first key that refuses it. */
typedef enum MatchResult {
        MATCH_OK,
        MATCH_FAILS_DEVICE,
        MATCH_FAILS_NODE,
        MATCH_FAILS_BLOCK,
        MATCH_FAILS_PHYS,
        MATCH_FAILS_CPULESS,
        MATCH_FAILS_TIER,
        MATCH_FAILS_DAX,
        _MATCH_MAX,
} MatchResult;

MatchResult policy_match_check(const Policy *p, const BlockFacts *f);

/* The first policy (in set order) whose [Match] accepts the block, or NULL. */
const Policy *policy_match(const PolicySet *set, const BlockFacts *f);
bool policy_matches(const Policy *p, const BlockFacts *f);

/* Decide what to do with an offline block. Pure. */
void policy_decide(const PolicySet *set, const BlockFacts *f, Decision *ret);
/* The zone part alone, for policy 'p' whatever its When= says: a reserve step (pressure.c) uses it. */
void policy_decide_zone(const Policy *p, const BlockFacts *f, Decision *ret);
/* OnlineStep= of 'p' in blocks of 'block_size' bytes (bytes rounded up), at least 1. */
uint64_t policy_online_step_blocks(const Policy *p, uint64_t block_size);

/* One decision for the blocks of one device (dax.c): 'd' becomes 'first' (the action its first block
 * got) when that zone is offered, with a why that says so. Pure. */
void policy_decision_follow(Decision *d, Action first, const ZoneSet *zones, const char *device);

const char *action_to_string(Action a);           /* online_movable, online_kernel, none */
const char *zone_target_to_string(ZoneTarget t);
const char *when_to_string(When w);
const char *poison_action_to_string(PoisonAction a);

/* Exposed for the unit tests. */
int range_list_parse(const char *value, bool with_units, uint64_t max, RangeList *list, char *err, size_t err_size);
bool range_list_contains(const RangeList *l, uint64_t v);

/* tier (issue 10): Delay= bounds, and what hot-add drivers tolerate. */
#define POLICY_DELAY_MAX_USEC (10ULL * 60 * 1000000)  /* 10 min */
/*
 * The longest a policy may hold offline the blocks of a driver that waits for them: hv_balloon waits at
 * most 5 s per chunk before it adds the next; virtio-mem plugs nothing more while about 1 GiB is
 * offline. memhpd.policy(5) argues the figure.
 */
#define POLICY_DRIVER_DELAY_MAX_USEC (1ULL * 1000000)

/*
 * Would a policy with this Device= mask (0 = any), When= and Delay= stall a driver that waits for its
 * blocks to be onlined (virtio-mem, hv-balloon)? Returns true and a sentence in 'why' if so. Pure; a
 * function of these three only, so that every timing that holds blocks back (When=pressure too) goes
 * through it.
 */
bool policy_timing_stalls(uint32_t devices, When when, uint64_t delay_usec, char *why, size_t why_size);

/* Delay= and the like: whitespace-separated terms that add up, each a number with an optional unit (us,
 * ms, s, min; bare = seconds): "90s", "1min 30s", "500ms". Returns 0, -EINVAL or -ERANGE. */
int policy_parse_timespan(const char *value, uint64_t *ret);
