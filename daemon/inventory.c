/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the block and node cache: the scan of sysfs in named steps, one block's refresh after a uevent,
 * node page counts from /proc/zoneinfo and device classification from /proc/iomem and firmware_node. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "inventory.h"
#include "macro.h"
#include "procfs.h"

/* /proc/iomem and /proc/zoneinfo grow with devices and CPUs, not with blocks; cap what we accept. */
#define PROC_FILE_MAX (16u * 1024 * 1024)

int parse_indexed_name(const char *name, const char *prefix, uint32_t *ret) {
        size_t l = strlen(prefix);
        uint64_t v;

        if (strncmp(name, prefix, l) != 0)
                return -EINVAL;
        name += l;
        /* Decimal digits only, no sign, no leading zeros (the kernel never prints them). */
        if (!*name || strspn(name, "0123456789") != strlen(name) || (name[0] == '0' && name[1]))
                return -EINVAL;
        if (parse_u64(name, 10, &v) < 0 || v > UINT32_MAX - 1)
                return -ERANGE;
        *ret = (uint32_t) v;
        return 0;
}

int inventory_new(Root *root, Inventory **ret) {
        Inventory *inv;

        inv = calloc(1, sizeof(*inv));
        if (!inv)
                return -ENOMEM;
        inv->nodes = calloc(NODES_MAX, sizeof(NodeInfo));
        if (!inv->nodes) {
                free(inv);
                return -ENOMEM;
        }
        inv->root = root;
        inv->page_size = (uint64_t) sysconf(_SC_PAGESIZE);
        inv->topology_stale = true;
        *ret = inv;
        return 0;
}

Inventory *inventory_free(Inventory *inv) {
        if (!inv)
                return NULL;
        free(inv->blocks);
        free(inv->nodes);
        free(inv->iomem);
        origin_table_done(&inv->origins);
        free(inv);
        return NULL;
}

/* Make room for block 'index'. Growth is geometric and happens on the scan or on the first add of a
 * new, higher range, so the event path does not allocate in the steady state. */
/* x86-64 and arm64 physical addresses have at most 52 bits: no block lies above. */
#define PHYS_ADDR_BITS 52

/* The machine's physical address width: "address sizes : 46 bits physical, ..." in /proc/cpuinfo (x86),
 * else the architectural maximum. */
static unsigned read_phys_addr_bits(Inventory *inv) {
        _cleanup_free_ char *text = NULL;
        const char *p;
        unsigned bits;

        if (root_read_file(inv->root->fd, "proc/cpuinfo", PROC_FILE_MAX, &text, NULL, NULL) < 0)
                return PHYS_ADDR_BITS;
        p = strstr(text, "\naddress sizes");
        if (!p || !(p = strchr(p, ':')) || sscanf(p + 1, " %u bits physical", &bits) != 1 || bits < 20 ||
            bits > PHYS_ADDR_BITS)
                return PHYS_ADDR_BITS;
        return bits;
}

/* A forged sysfs tree or uevent must not make us allocate (and mlock) gigabytes. */
static bool block_index_possible(const Inventory *inv, uint32_t index) {
        return inv->block_size > 0 && (uint64_t) index < (1ULL << inv->phys_addr_bits) / inv->block_size;
}

static int inventory_reserve(Inventory *inv, uint32_t index) {
        uint32_t n;
        Block *b;

        if (index < inv->n_blocks)
                return 0;
        if (!block_index_possible(inv, index))
                return -ERANGE;
        n = inv->n_blocks ? inv->n_blocks : 1024;
        while (n <= index)
                n = n > UINT32_MAX / 2 ? UINT32_MAX : n * 2;

        b = realloc(inv->blocks, (size_t) n * sizeof(Block));
        if (!b)
                return -ENOMEM;
        for (uint32_t i = inv->n_blocks; i < n; i++)
                b[i] = (Block) { .node = -1 };
        inv->blocks = b;
        inv->n_blocks = n;
        return 0;
}

static int read_block_size(Inventory *inv) {
        char buf[ROOT_VALUE_MAX];
        uint64_t v;
        ssize_t r;

        r = root_read(inv->root->memory_fd, "block_size_bytes", buf, sizeof(buf));
        if (r < 0)
                return (int) r;
        if (parse_u64(buf, 16, &v) < 0 || v == 0 || (v & (v - 1)) != 0 || v < inv->page_size ||
            v >= 1ULL << PHYS_ADDR_BITS)
                return -EBADMSG;
        inv->block_size = v;
        if (inv->phys_addr_bits == 0)
                inv->phys_addr_bits = read_phys_addr_bits(inv);
        if (v >= 1ULL << inv->phys_addr_bits)
                return -EBADMSG; /* not even one block would fit */
        return 0;
}

static int iomem_refresh(Inventory *inv) {
        _cleanup_free_ char *text = NULL;
        IomemRange *ranges;
        size_t n;
        int r;

        inv->n_iomem_reads++;
        r = root_read_file(inv->root->fd, "proc/iomem", PROC_FILE_MAX, &text, NULL, NULL);
        inv->iomem_error = r < 0 ? r : 0;
        if (r < 0)
                return r;
        r = iomem_parse(text, &ranges, &n);
        if (r < 0)
                return r;
        /* Without CAP_SYS_ADMIN the kernel prints every range as 00000000-00000000. */
        inv->iomem_hidden = n > 0;
        for (size_t i = 0; i < n && inv->iomem_hidden; i++)
                inv->iomem_hidden = ranges[i].start == 0 && ranges[i].end == 0;
        free(inv->iomem);
        inv->iomem = ranges;
        inv->n_iomem = n;
        return 0;
}

static int zoneinfo_refresh(Inventory *inv) {
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ uint64_t *counts = NULL;
        int r;

        r = root_read_file(inv->root->fd, "proc/zoneinfo", PROC_FILE_MAX, &text, NULL, NULL);
        if (r < 0)
                return r;
        counts = malloc(2 * NODES_MAX * sizeof(uint64_t));
        if (!counts)
                return -ENOMEM;
        r = zoneinfo_parse(text, counts, counts + NODES_MAX, NODES_MAX);
        if (r < 0)
                return r;
        /* A node with online blocks has present pages: none means the file was cut short (or lies),
         * and a ratio computed from it would be made up. */
        for (size_t i = 0; i < NODES_MAX; i++)
                if (inv->nodes[i].n_blocks > inv->nodes[i].n_offline && counts[i] == 0 && counts[NODES_MAX + i] == 0)
                        return -EBADMSG;
        for (size_t i = 0; i < NODES_MAX; i++) {
                inv->nodes[i].kernel_pages = counts[i];
                inv->nodes[i].movable_pages = counts[NODES_MAX + i];
                inv->nodes[i].stats_stale = false;
        }
        return 0;
}

static void node_stats_account(Inventory *inv, const Block *b, int sign) {
        NodeInfo *n;
        uint64_t pages = inv->block_size / inv->page_size;

        if (b->node < 0 || b->node >= NODES_MAX)
                return;
        n = &inv->nodes[b->node];
        if (b->state != STATE_ONLINE)
                return;
        if (b->zone == ZONE_UNKNOWN) {
                /* We do not know where it went; ask /proc/zoneinfo next time it matters. */
                n->stats_stale = true;
                return;
        }
        if (b->zone == ZONE_MOVABLE) {
                if (sign > 0)
                        n->movable_pages += pages;
                else
                        n->movable_pages = n->movable_pages > pages ? n->movable_pages - pages : 0;
        } else {
                if (sign > 0)
                        n->kernel_pages += pages;
                else
                        n->kernel_pages = n->kernel_pages > pages ? n->kernel_pages - pages : 0;
        }
}

static void node_count(Inventory *inv, const Block *b, int sign) {
        NodeInfo *n;

        if (b->node < 0 || b->node >= NODES_MAX)
                return;
        n = &inv->nodes[b->node];
        n->n_blocks += sign;
        if (b->state != STATE_ONLINE)
                n->n_offline += sign;
        else if (n->n_blocks - n->n_offline == (sign > 0 ? 1u : 0u))
                /* The node's first memory came online or its last went: the kernel (6.1+) put it in a
                 * memory tier or took it out. */
                inv->topology_stale = true;
}

void inventory_block_set_node(Inventory *inv, uint32_t index, int node) {
        Block *b = &inv->blocks[index];

        if (b->node == node)
                return;
        node_count(inv, b, -1);
        node_stats_account(inv, b, -1);
        b->node = node;
        node_count(inv, b, +1);
        node_stats_account(inv, b, +1);
}

int inventory_block_read_node(Inventory *inv, uint32_t index) {
        char name[48];
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int node = -ENOENT, r;

        /* Fast path: the node of the block below (a hot-added range is one node), one faccessat()
         * instead of a directory listing. */
        if (index > 0 && index - 1 < inv->n_blocks && inv->blocks[index - 1].node >= 0) {
                int hint = inv->blocks[index - 1].node;

                snprintf(name, sizeof(name), "memory%" PRIu32 "/node%d", index, hint);
                if (faccessat(inv->root->memory_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                        return hint;
        }
        snprintf(name, sizeof(name), "memory%" PRIu32, index);
        d = root_opendir(inv->root->memory_fd, name);
        if (!d)
                return -errno;
        while ((r = root_readdir(d, &de)) > 0) {
                uint32_t v;

                if (parse_indexed_name(de->d_name, "node", &v) == 0 && v < NODES_MAX) {
                        node = (int) v;
                        break;
                }
        }
        return r < 0 ? r : node;
}

/* Read memoryN/state. Returns the state, or -errno with 'detail' describing what was wrong. */
static int read_state(Inventory *inv, uint32_t index, char *detail, size_t detail_size) {
        char path[48], buf[ROOT_VALUE_MAX];
        ssize_t r;
        int s;

        snprintf(path, sizeof(path), "memory%" PRIu32 "/state", index);
        r = root_read(inv->root->memory_fd, path, buf, sizeof(buf));
        if (r < 0) {
                if (detail)
                        snprintf(detail, detail_size, "cannot read %s", path);
                return (int) r;
        }
        s = block_state_from_string(buf);
        if (s < 0) {
                if (detail)
                        snprintf(detail, detail_size, "%s holds \"%.64s\", not online, offline or going-offline",
                                 path, buf);
                return -EBADMSG;
        }
        return s;
}

static void block_set_state(Inventory *inv, Block *b, BlockState s) {
        if (b->state == s)
                return;
        node_count(inv, b, -1);
        node_stats_account(inv, b, -1);
        if (b->state != STATE_ONLINE)
                inv->n_offline--;
        b->state = s;
        if (s != STATE_ONLINE) {
                inv->n_offline++;
                b->zone = ZONE_UNKNOWN;
        }
        node_count(inv, b, +1);
        node_stats_account(inv, b, +1);
}

/* A block appears: fresh flags, counted as offline until block_set_state() says otherwise. */
static void block_appear(Inventory *inv, uint32_t index, int node, bool at_start) {
        Block *b = &inv->blocks[index];

        *b = (Block) {
                .state = STATE_UNKNOWN,
                .node = node,
                .flags = BLOCK_PRESENT | (at_start ? BLOCK_AT_START : 0),
        };
        inv->n_present++;
        inv->n_offline++;
        node_count(inv, b, +1);
}

/* Returns 0, or -errno if sys/bus/acpi/devices could not be listed (a missing one is no ACPI). */
static int probe_platform(Inventory *inv) {
        char buf[ROOT_VALUE_MAX];
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int r;

        inv->xen = root_read(inv->root->fd, "sys/hypervisor/type", buf, sizeof(buf)) > 0 && strcmp(buf, "xen") == 0;
        inv->hyperv = faccessat(inv->root->fd, "sys/bus/vmbus", F_OK, 0) == 0;
        inv->acpi_memory_devices = false;
        d = root_opendir(inv->root->fd, "sys/bus/acpi/devices");
        if (!d)
                return 0;
        while ((r = root_readdir(d, &de)) > 0)
                if (strncmp(de->d_name, "PNP0C80:", 8) == 0) {
                        inv->acpi_memory_devices = true;
                        break;
                }
        return r < 0 ? r : 0;
}

static void block_vanish(Inventory *inv, uint32_t index) {
        Block *b = &inv->blocks[index];

        node_count(inv, b, -1);
        node_stats_account(inv, b, -1);
        if (b->state != STATE_ONLINE)
                inv->n_offline--;
        inv->n_present--;
        *b = (Block) { .node = -1 };
        if (index < inv->origins.n_blocks)
                inv->origins.blocks[index] = 0; /* who decided a block that is gone: nobody */
}

/* The nodes and which blocks each links. Nothing in 'inv' changes unless every listing succeeded. */
static int scan_nodes(Inventory *inv, int16_t **ret_map, uint32_t map_size) {
        _cleanup_free_ int16_t *map = NULL;
        _cleanup_free_ bool *present = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        uint32_t n_nodes = 0;
        int r;

        map = malloc((size_t) map_size * sizeof(int16_t));
        present = calloc(NODES_MAX, sizeof(bool));
        if (!map || !present)
                return -ENOMEM;
        for (uint32_t i = 0; i < map_size; i++)
                map[i] = -1;

        if (inv->root->node_fd >= 0) {
                d = root_opendir(inv->root->node_fd, ".");
                if (!d)
                        return -errno;
                while ((r = root_readdir(d, &de)) > 0) {
                        _cleanup_closedir_ DIR *nd = NULL;
                        struct dirent *me;
                        uint32_t node;

                        if (parse_indexed_name(de->d_name, "node", &node) < 0 || node >= NODES_MAX)
                                continue;
                        present[node] = true;
                        n_nodes++;
                        nd = root_opendir(inv->root->node_fd, de->d_name);
                        if (!nd)
                                continue;
                        while ((r = root_readdir(nd, &me)) > 0) {
                                uint32_t b;

                                if (parse_indexed_name(me->d_name, "memory", &b) == 0 && b < map_size)
                                        map[b] = (int16_t) node;
                        }
                        if (r < 0)
                                return r;
                }
                if (r < 0)
                        return r;
        }
        for (int i = 0; i < NODES_MAX; i++)
                inv->nodes[i].present = present[i];
        inv->n_nodes = n_nodes;
        inv->topology_stale = true; /* a scan (start, reload, lost events) reads the nodes' CPUs and tiers again */
        *ret_map = TAKE_PTR(map);
        return 0;
}

static void recount(Inventory *inv) {
        /* Page counts came fresh from /proc/zoneinfo; block counts are rebuilt here. */
        inv->n_present = inv->n_offline = 0;
        for (int i = 0; i < NODES_MAX; i++)
                inv->nodes[i].n_blocks = inv->nodes[i].n_offline = 0;
        for (uint32_t i = 0; i < inv->n_blocks; i++) {
                const Block *b = &inv->blocks[i];

                if (!(b->flags & BLOCK_PRESENT))
                        continue;
                inv->n_present++;
                if (b->state != STATE_ONLINE)
                        inv->n_offline++;
                node_count(inv, b, +1);
        }
}

#define SCRATCH_APPEARED 0xff
#define SCAN_DETAILS_MAX 64 /* problems reported with their text per scan; more get a generic one */

typedef struct ScanProblem {
        uint32_t index;
        int error;
        char detail[160];
} ScanProblem;

/* One scan's scratch state, passed between its steps. */
typedef struct Scan {
        bool at_start;
        uint32_t max_index;
        int16_t *node_map;       /* block index -> node, from the node directories */
        ScanProblem *problems;   /* the first SCAN_DETAILS_MAX unreadable states, with their text */
        size_t n_problems;
        BlockReport *vanished;
        size_t n_vanished, max_vanished;
} Scan;

static void scan_done(Scan *s) {
        free(s->node_map);
        free(s->problems);
        free(s->vanished);
}

/* Which blocks exist: mark them BLOCK_SEEN. No list: the block array itself carries the mark. */
static int scan_list_blocks(Inventory *inv, Scan *s) {
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int r;

        d = root_opendir(inv->root->memory_fd, ".");
        if (!d)
                return -errno;
        /* A listing that fails part-way must fail the scan: the blocks it did not reach would be taken
         * for removed, lose their flags, and come back as new blocks to decide on. */
        while ((r = root_readdir(d, &de)) > 0) {
                uint32_t index;

                if (parse_indexed_name(de->d_name, "memory", &index) < 0)
                        continue;
                r = inventory_reserve(inv, index);
                if (r == -ERANGE)
                        continue; /* beyond any physical address: not a real block */
                if (r < 0)
                        return r;
                inv->blocks[index].flags |= BLOCK_SEEN;
                if (index > s->max_index)
                        s->max_index = index;
        }
        return r;
}

/* A scan that failed: forget its marks, so the next one starts clean. */
static void scan_abort(Inventory *inv) {
        for (uint32_t i = 0; i < inv->n_blocks; i++)
                inv->blocks[i].flags &= ~(BLOCK_SEEN | BLOCK_REPORT);
}

/* The first scan knows the highest block: keep no slack until memory is hot-added. */
static void scan_trim(Inventory *inv, const Scan *s) {
        uint32_t n = (s->max_index | 4095) + 1;
        Block *b;

        if (inv->scanned || (uint64_t) inv->n_blocks <= (uint64_t) n)
                return;
        b = realloc(inv->blocks, (size_t) n * sizeof(Block));
        if (b) {
                inv->blocks = b;
                inv->n_blocks = n;
        }
}

/* /proc/iomem, the platform, /proc/zoneinfo: what classification and Zone=auto need. */
static int scan_proc(Inventory *inv) {
        int r;

        /* Without /proc/iomem we cannot tell devices apart; classification then says "unknown". */
        (void) iomem_refresh(inv);
        r = probe_platform(inv);
        if (r < 0)
                return r;
        if (zoneinfo_refresh(inv) < 0)
                inventory_nodes_stale(inv);
        return 0;
}

/* Bring every found block up to date. Reports wait until the counters are right. */
static int scan_update_blocks(Inventory *inv, Scan *s) {
        s->problems = calloc(SCAN_DETAILS_MAX, sizeof(ScanProblem));
        if (!s->problems)
                return -ENOMEM;

        for (uint32_t index = 0; index < inv->n_blocks; index++) {
                Block *b = &inv->blocks[index];
                char detail[160];
                int state;

                if (!(b->flags & BLOCK_SEEN))
                        continue;
                state = read_state(inv, index, detail, sizeof(detail));
                if (state == -ENOENT) {
                        /* Removed while we looked; its uevent follows. */
                        b->flags &= ~BLOCK_SEEN;
                        continue;
                }
                if (state < 0) {
                        if (s->n_problems < SCAN_DETAILS_MAX) {
                                ScanProblem *p = &s->problems[s->n_problems++];

                                p->index = index;
                                p->error = state;
                                memcpy(p->detail, detail, sizeof(detail));
                        }
                        state = STATE_UNKNOWN;
                        b->flags |= BLOCK_REPORT;
                }
                if (!(b->flags & BLOCK_PRESENT)) {
                        uint16_t keep = b->flags & (BLOCK_SEEN | BLOCK_REPORT);
                        *b = (Block) {
                                .state = state,
                                .node = s->node_map[index],
                                .scratch = SCRATCH_APPEARED,
                                .flags = keep | BLOCK_PRESENT | BLOCK_REPORT | (s->at_start ? BLOCK_AT_START : 0),
                        };
                } else {
                        b->scratch = b->state;
                        if (s->node_map[index] >= 0)
                                b->node = s->node_map[index];
                        if (b->state != state) {
                                b->state = state;
                                b->zone = ZONE_UNKNOWN;
                                b->flags |= BLOCK_REPORT;
                        }
                }
        }
        return 0;
}

/* Whatever was present and not found is gone: drop it, keeping what it was for the report. */
static int scan_drop_vanished(Inventory *inv, Scan *s) {
        for (uint32_t i = 0; i < inv->n_blocks; i++) {
                Block *b = &inv->blocks[i];

                if (!(b->flags & BLOCK_PRESENT) || (b->flags & BLOCK_SEEN))
                        continue;
                if (s->n_vanished == s->max_vanished) {
                        size_t n = s->max_vanished ? s->max_vanished * 2 : 64;
                        BlockReport *v = realloc(s->vanished, n * sizeof(BlockReport));
                        if (!v)
                                return -ENOMEM;
                        s->vanished = v;
                        s->max_vanished = n;
                }
                s->vanished[s->n_vanished++] = (BlockReport) {
                        .index = i, .change = BLOCK_VANISHED, .old_state = b->state, .old = *b,
                };
                *b = (Block) { .node = -1 };
        }
        return 0;
}

/* Report what appeared or changed, then what vanished; clear the scratch flags. */
static void scan_report(Inventory *inv, const Scan *s, inventory_change_t change, void *userdata) {
        for (uint32_t i = 0; i < inv->n_blocks; i++) {
                Block *b = &inv->blocks[i];
                BlockReport rep = { .index = i };

                if (!(b->flags & (BLOCK_SEEN | BLOCK_REPORT)))
                        continue;
                b->flags &= ~BLOCK_SEEN;
                if (!(b->flags & BLOCK_REPORT))
                        continue;
                b->flags &= ~BLOCK_REPORT;
                rep.change = b->scratch == SCRATCH_APPEARED ? BLOCK_APPEARED : BLOCK_STATE_CHANGED;
                rep.old_state = b->scratch == SCRATCH_APPEARED ? STATE_UNKNOWN : b->scratch;
                if (b->state == STATE_UNKNOWN) {
                        rep.error = -EBADMSG;
                        rep.detail = "state cannot be read or parsed";
                        for (size_t k = 0; k < s->n_problems; k++)
                                if (s->problems[k].index == i) {
                                        rep.error = s->problems[k].error;
                                        rep.detail = s->problems[k].detail;
                                        break;
                                }
                }
                if (change)
                        change(inv, &rep, userdata);
        }
        for (size_t i = 0; i < s->n_vanished; i++)
                if (change)
                        change(inv, &s->vanished[i], userdata);
}

int inventory_scan(Inventory *inv, inventory_change_t change, void *userdata) {
        _cleanup_(scan_done) Scan s = { .at_start = !inv->scanned };
        int r;

        if (inv->root->memory_fd < 0)
                return -ENOENT;
        r = read_block_size(inv);
        if (r < 0)
                return r;
        r = scan_list_blocks(inv, &s);
        if (r >= 0) {
                scan_trim(inv, &s);
                r = scan_nodes(inv, &s.node_map, inv->n_blocks);
        }
        if (r >= 0)
                r = scan_proc(inv);
        if (r < 0) {
                scan_abort(inv);
                return r;
        }
        r = scan_update_blocks(inv, &s);
        if (r < 0)
                return r;
        r = scan_drop_vanished(inv, &s);
        if (r < 0)
                return r;
        recount(inv);
        /* zoneinfo was read before the block counts were known: check it against them now. */
        for (int i = 0; i < NODES_MAX; i++)
                if (inv->nodes[i].n_blocks > inv->nodes[i].n_offline && inv->nodes[i].kernel_pages == 0 &&
                    inv->nodes[i].movable_pages == 0) {
                        inventory_nodes_stale(inv);
                        break;
                }
        inv->scanned = true;
        scan_report(inv, &s, change, userdata);
        return 0;
}

/* Is there a firmware_node link to an ACPI memory device (PNP0C80)? */
static bool block_has_acpi_dimm(Inventory *inv, uint32_t index) {
        char path[48], target[512];
        const char *base;
        ssize_t n;

        snprintf(path, sizeof(path), "memory%" PRIu32 "/firmware_node", index);
        n = readlinkat(inv->root->memory_fd, path, target, sizeof(target) - 1);
        if (n <= 0)
                return false;
        target[n] = '\0';
        base = strrchr(target, '/');
        base = base ? base + 1 : target;
        return strncmp(base, "PNP0C80:", 8) == 0;
}

int inventory_block_classify(Inventory *inv, uint32_t index, bool final) {
        const Block *b = &inv->blocks[index];
        uint64_t start = inventory_block_start(inv, index);
        const IomemRange *r;

        if (block_has_acpi_dimm(inv, index))
                return DEVICE_ACPI_DIMM;

        r = iomem_lookup(inv->iomem, inv->n_iomem, start);
        if (!r && !inv->iomem_hidden) {
                /* A range added after our last read: read again (once per new range, not per block:
                 * hot-added ranges of one device merge, and the kernel registers a range before it
                 * creates its blocks). */
                (void) iomem_refresh(inv);
                r = iomem_lookup(inv->iomem, inv->n_iomem, start);
        }
        if (r && r->device != DEVICE_UNKNOWN)
                return r->device;
        if (!r && inv->iomem_error < 0)
                /* No /proc/iomem: a virtio-mem or dax-kmem block looks like any other; do not call it
                 * boot memory (or a balloon's). */
                return DEVICE_UNKNOWN;

        /* Plain "System RAM": boot memory, an ACPI DIMM whose firmware_node is not linked yet, or
         * memory a Hyper-V or Xen balloon added (those leave no other mark). Boot memory is online
         * at boot, so an offline plain block on such a platform came from its balloon. */
        if ((b->flags & BLOCK_AT_START) && b->state == STATE_ONLINE)
                return DEVICE_BOOT;
        if (inv->hyperv)
                return DEVICE_HV_BALLOON;
        if (inv->xen)
                return DEVICE_XEN;
        if (b->flags & BLOCK_AT_START)
                return DEVICE_BOOT;
        if (inv->acpi_memory_devices && !final)
                return -EAGAIN;
        return DEVICE_UNKNOWN;
}

DeviceKind inventory_block_device(Inventory *inv, uint32_t index) {
        Block *b = &inv->blocks[index];
        int d;

        if (b->flags & BLOCK_CLASSIFIED)
                return b->device;
        d = inventory_block_classify(inv, index, true);
        b->device = (uint8_t) d;
        b->flags |= BLOCK_CLASSIFIED;
        return d;
}

int inventory_block_refresh(Inventory *inv, uint32_t index, BlockReport *ret, char *detail, size_t detail_size) {
        Block *b;
        int state, r;

        if (index >= inv->n_blocks) {
                char name[32];

                if (!block_index_possible(inv, index))
                        return -ERANGE;
                /* Memory is spent only on a block that exists: a uevent is no proof of that. */
                snprintf(name, sizeof(name), "memory%" PRIu32, index);
                if (faccessat(inv->root->memory_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                        return errno == ENOENT ? 0 : -errno;
        }
        r = inventory_reserve(inv, index);
        if (r < 0)
                return r;
        b = &inv->blocks[index];
        *ret = (BlockReport) { .index = index, .old_state = b->state };

        state = read_state(inv, index, detail, detail_size);
        if (state == -ENOENT) {
                if (!(b->flags & BLOCK_PRESENT))
                        return 0;
                ret->old = *b;
                block_vanish(inv, index);
                ret->change = BLOCK_VANISHED;
                return 1;
        }
        if (state < 0) {
                ret->error = state;
                ret->detail = detail;
                state = STATE_UNKNOWN;
        }
        if (!(b->flags & BLOCK_PRESENT)) {
                int node;

                block_appear(inv, index, -1, false);
                /* An offline newcomer settles next (inventory_block_settle() looks for its node, which
                 * in a hot-add does not exist yet); look here only for one that needs no settling. */
                if (state != STATE_OFFLINE) {
                        node = inventory_block_read_node(inv, index);
                        if (node >= 0)
                                inventory_block_set_node(inv, index, node);
                }
                block_set_state(inv, b, state);
                ret->change = BLOCK_APPEARED;
                ret->old_state = STATE_UNKNOWN;
                return 1;
        }
        if (b->node < 0) {
                int node = inventory_block_read_node(inv, index);
                if (node >= 0)
                        inventory_block_set_node(inv, index, node);
        }
        if (b->state != state) {
                block_set_state(inv, b, state);
                ret->change = BLOCK_STATE_CHANGED;
                return 1;
        }
        if (ret->error) {
                ret->change = BLOCK_STATE_CHANGED;
                return 1;
        }
        return 0;
}

int inventory_block_remove(Inventory *inv, uint32_t index) {
        if (!inventory_block(inv, index))
                return 0;
        block_vanish(inv, index);
        return 1;
}

void inventory_block_set_online(Inventory *inv, uint32_t index, Zone zone) {
        Block *b = &inv->blocks[index];

        if (b->state == STATE_ONLINE) {
                /* Same state; learn its zone if we did not know it. */
                if (b->zone == ZONE_UNKNOWN)
                        b->zone = zone;
                return;
        }
        /* It was not online: its pages were not counted, only the block (as offline). Count both anew,
         * the pages by the zone we now know. */
        node_count(inv, b, -1);
        inv->n_offline--;
        b->state = STATE_ONLINE;
        b->zone = zone;
        node_count(inv, b, +1);
        node_stats_account(inv, b, +1);
}

Zone inventory_block_zone(Inventory *inv, uint32_t index) {
        Block *b = &inv->blocks[index];
        char path[48], buf[ROOT_VALUE_MAX];
        int z;

        if (b->state != STATE_ONLINE)
                return ZONE_UNKNOWN;
        if (b->zone != ZONE_UNKNOWN)
                return b->zone;
        snprintf(path, sizeof(path), "memory%" PRIu32 "/valid_zones", index);
        if (root_read(inv->root->memory_fd, path, buf, sizeof(buf)) < 0)
                return ZONE_UNKNOWN;
        z = zone_from_string(buf);
        if (z < 0)
                return ZONE_UNKNOWN;
        /* Its pages were counted from /proc/zoneinfo (or marked stale); knowing the zone now only
         * lets a later offline subtract them precisely. */
        b->zone = (uint8_t) z;
        return z;
}

int inventory_block_valid_zones(Inventory *inv, uint32_t index, ZoneSet *ret) {
        char path[48], buf[ROOT_VALUE_MAX];
        ssize_t r;

        snprintf(path, sizeof(path), "memory%" PRIu32 "/valid_zones", index);
        r = root_read(inv->root->memory_fd, path, buf, sizeof(buf));
        if (r < 0)
                return (int) r;
        return zone_set_parse(buf, ret);
}

void inventory_nodes_stale(Inventory *inv) {
        for (int i = 0; i < NODES_MAX; i++)
                inv->nodes[i].stats_stale = true;
        inv->topology_stale = true;
}

int inventory_node_add(Inventory *inv, int node) {
        if (node < 0 || node >= NODES_MAX)
                return -ERANGE;
        if (inv->nodes[node].present)
                return 0;
        inv->nodes[node].present = true;
        inv->topology_stale = true;
        /* A new node starts with no memory online; let zoneinfo confirm when it matters. */
        inv->nodes[node].stats_stale = true;
        inv->n_nodes++;
        return 1;
}

int inventory_node_remove(Inventory *inv, int node) {
        if (node < 0 || node >= NODES_MAX)
                return -ERANGE;
        if (!inv->nodes[node].present)
                return 0;
        inv->nodes[node].present = false;
        inv->topology_stale = true;
        inv->n_nodes--;
        return 1;
}

int inventory_node_counts(Inventory *inv, int node, uint64_t *ret_kernel, uint64_t *ret_movable) {
        int r;

        if (node < 0 || node >= NODES_MAX)
                return -ERANGE;
        if (inv->nodes[node].stats_stale) {
                r = zoneinfo_refresh(inv);
                if (r < 0)
                        return r;
        }
        *ret_kernel = inv->nodes[node].kernel_pages;
        *ret_movable = inv->nodes[node].movable_pages;
        return 0;
}

const NodeInfo *inventory_node_stats(Inventory *inv, int node) {
        if (node < 0 || node >= NODES_MAX)
                return NULL;
        if (inv->nodes[node].stats_stale)
                (void) zoneinfo_refresh(inv);
        return &inv->nodes[node];
}

int parse_node_list(const char *s, uint64_t mask[NODES_MAX / 64]) {
        const char *p = s;

        /* The kernel's bitmap list format: "0-3,8", an empty string for no node; a trailing newline. */
        while (*p && *p != '\n') {
                char *end;
                unsigned long a, b;

                if (*p < '0' || *p > '9')
                        return -EINVAL;
                errno = 0;
                a = strtoul(p, &end, 10);
                b = a;
                if (*end == '-') {
                        if (end[1] < '0' || end[1] > '9')
                                return -EINVAL;
                        b = strtoul(end + 1, &end, 10);
                }
                if (errno != 0 || a > b)
                        return -EINVAL;
                if (b >= NODES_MAX)
                        return -ERANGE;
                for (unsigned long i = a; i <= b; i++)
                        mask[i / 64] |= 1ULL << (i % 64);
                if (*end == ',')
                        end++;
                else if (*end && *end != '\n')
                        return -EINVAL;
                p = end;
        }
        return 0;
}

/* A sysfs node list file (has_cpu, memory_tierN/nodelist) into 'mask'. */
static int read_node_list(int dirfd, const char *path, uint64_t mask[NODES_MAX / 64]) {
        char buf[4096]; /* a sysfs value is at most a page */
        ssize_t n;

        n = root_read(dirfd, path, buf, sizeof(buf));
        if (n < 0)
                return (int) n;
        return parse_node_list(buf, mask);
}

/* Every node's has_cpu fact from one file; -errno if it cannot be read (then per node, below). */
static int topology_read_cpus(Inventory *inv) {
        uint64_t mask[NODES_MAX / 64] = {};
        int r;

        r = read_node_list(inv->root->fd, "sys/devices/system/node/has_cpu", mask);
        if (r < 0)
                return r;
        for (int i = 0; i < NODES_MAX; i++)
                inv->nodes[i].cpus = (mask[i / 64] >> (i % 64)) & 1 ? NODE_CPUS_SOME : NODE_CPUS_NONE;
        return 0;
}

/* Which memory_tierN lists each node (6.1+; a node is in one tier at most). */
static int topology_read_tiers(Inventory *inv) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int r, dfd;

        for (int i = 0; i < NODES_MAX; i++)
                inv->nodes[i].in_tier = false;
        d = root_opendir(inv->root->fd, "sys/devices/virtual/memory_tiering");
        if (!d)
                return -errno;
        dfd = dirfd(d);
        while ((r = root_readdir(d, &de)) > 0) {
                uint64_t mask[NODES_MAX / 64] = {};
                char path[sizeof(de->d_name) + 16];
                uint32_t tier;

                if (parse_indexed_name(de->d_name, "memory_tier", &tier) < 0)
                        continue;
                snprintf(path, sizeof(path), "%s/nodelist", de->d_name);
                r = read_node_list(dfd, path, mask);
                if (r < 0)
                        return r;
                for (int i = 0; i < NODES_MAX; i++)
                        if ((mask[i / 64] >> (i % 64)) & 1) {
                                inv->nodes[i].in_tier = true;
                                inv->nodes[i].tier = tier;
                        }
        }
        return r;
}

int inventory_node_topology(Inventory *inv, int node, const NodeInfo **ret) {
        NodeInfo *n;
        int r = 0, k;

        if (node < 0 || node >= NODES_MAX)
                return -ERANGE;
        n = &inv->nodes[node];
        if (inv->topology_stale) {
                inv->topology_stale = false;
                r = topology_read_cpus(inv);
                if (r < 0)
                        for (int i = 0; i < NODES_MAX; i++)
                                inv->nodes[i].cpus = NODE_CPUS_UNKNOWN;
                k = topology_read_tiers(inv);
                if (k < 0) {
                        for (int i = 0; i < NODES_MAX; i++)
                                inv->nodes[i].in_tier = false;
                        r = r < 0 ? r : k;
                }
        }
        if (n->cpus == NODE_CPUS_UNKNOWN) {
                /* No has_cpu: an empty nodeN/cpulist is a CPU-less node. */
                char path[32], buf[4096];
                ssize_t len;

                snprintf(path, sizeof(path), "node%d/cpulist", node);
                len = inv->root->node_fd >= 0 ? root_read(inv->root->node_fd, path, buf, sizeof(buf)) : -ENOENT;
                if (len >= 0)
                        n->cpus = len == 0 ? NODE_CPUS_NONE : NODE_CPUS_SOME;
                else if (r >= 0)
                        r = (int) len;
        }
        *ret = n;
        return r;
}
