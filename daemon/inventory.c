/* SPDX-License-Identifier: LGPL-2.1-or-later */
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
        *ret = inv;
        return 0;
}

Inventory *inventory_free(Inventory *inv) {
        if (!inv)
                return NULL;
        free(inv->blocks);
        free(inv->nodes);
        free(inv->iomem);
        free(inv->pending);
        free(inv->pending_since);
        free(inv);
        return NULL;
}

/* Make room for block 'index'. Growth is geometric and happens on the scan or on the first add of a
 * new, higher range, so the event path does not allocate in the steady state. */
/* x86-64 and arm64 physical addresses have at most 52 bits: no block lies above. */
#define PHYS_ADDR_BITS 52

static int inventory_reserve(Inventory *inv, uint32_t index) {
        uint32_t n;
        Block *b;

        if (index < inv->n_blocks)
                return 0;
        /* A forged sysfs tree or uevent must not make us allocate (and mlock) gigabytes. */
        if (inv->block_size == 0 || (uint64_t) index >= (1ULL << PHYS_ADDR_BITS) / inv->block_size)
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
        if (parse_u64(buf, 16, &v) < 0 || v == 0 || (v & (v - 1)) != 0 || v < inv->page_size)
                return -EBADMSG;
        inv->block_size = v;
        return 0;
}

static int iomem_refresh(Inventory *inv) {
        _cleanup_free_ char *text = NULL;
        IomemRange *ranges;
        size_t n;
        int r;

        inv->n_iomem_reads++;
        r = root_read_file(inv->root->fd, "proc/iomem", PROC_FILE_MAX, &text, NULL, NULL);
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
}

static int pending_add(Inventory *inv, uint32_t index, uint64_t now) {
        Block *b = &inv->blocks[index];

        if (b->flags & BLOCK_SETTLING)
                return 0;
        if (inv->n_pending == inv->max_pending) {
                size_t n = inv->max_pending ? inv->max_pending * 2 : 256;
                uint32_t *p = realloc(inv->pending, n * sizeof(uint32_t));
                uint64_t *t;

                if (!p)
                        return -ENOMEM;
                inv->pending = p;
                t = realloc(inv->pending_since, n * sizeof(uint64_t));
                if (!t)
                        return -ENOMEM;
                inv->pending_since = t;
                inv->max_pending = n;
        }
        b->flags |= BLOCK_SETTLING;
        inv->pending_since[inv->n_pending] = now;
        inv->pending[inv->n_pending++] = index;
        return 0;
}

static void pending_drop(Inventory *inv, uint32_t index) {
        Block *b = &inv->blocks[index];

        if (!(b->flags & BLOCK_SETTLING))
                return;
        b->flags &= ~BLOCK_SETTLING;
        for (size_t i = 0; i < inv->n_pending; i++)
                if (inv->pending[i] == index) {
                        /* Keep arrival order: the oldest entry times out first. */
                        memmove(inv->pending + i, inv->pending + i + 1, (inv->n_pending - i - 1) * sizeof(uint32_t));
                        memmove(inv->pending_since + i, inv->pending_since + i + 1,
                                (inv->n_pending - i - 1) * sizeof(uint64_t));
                        inv->n_pending--;
                        break;
                }
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
        DIR *d;
        int node = -ENOENT;

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
        for (struct dirent *de; (de = readdir(d));) {
                uint32_t v;

                if (parse_indexed_name(de->d_name, "node", &v) == 0 && v < NODES_MAX) {
                        node = (int) v;
                        break;
                }
        }
        closedir(d);
        return node;
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

static void probe_platform(Inventory *inv) {
        char buf[ROOT_VALUE_MAX];
        DIR *d;

        inv->xen = root_read(inv->root->fd, "sys/hypervisor/type", buf, sizeof(buf)) > 0 && strcmp(buf, "xen") == 0;
        inv->hyperv = faccessat(inv->root->fd, "sys/bus/vmbus", F_OK, 0) == 0;
        inv->acpi_memory_devices = false;
        d = root_opendir(inv->root->fd, "sys/bus/acpi/devices");
        if (!d)
                return;
        for (struct dirent *de; (de = readdir(d));)
                if (strncmp(de->d_name, "PNP0C80:", 8) == 0) {
                        inv->acpi_memory_devices = true;
                        break;
                }
        closedir(d);
}

static void block_vanish(Inventory *inv, uint32_t index) {
        Block *b = &inv->blocks[index];

        pending_drop(inv, index);
        node_count(inv, b, -1);
        node_stats_account(inv, b, -1);
        if (b->state != STATE_ONLINE)
                inv->n_offline--;
        inv->n_present--;
        *b = (Block) { .node = -1 };
}

static int scan_nodes(Inventory *inv, int16_t **ret_map, uint32_t map_size) {
        _cleanup_free_ int16_t *map = NULL;
        DIR *d;

        map = malloc((size_t) map_size * sizeof(int16_t));
        if (!map)
                return -ENOMEM;
        for (uint32_t i = 0; i < map_size; i++)
                map[i] = -1;
        for (int i = 0; i < NODES_MAX; i++)
                inv->nodes[i].present = false;
        inv->n_nodes = 0;

        if (inv->root->node_fd < 0) {
                *ret_map = TAKE_PTR(map);
                return 0;
        }
        d = root_opendir(inv->root->node_fd, ".");
        if (!d)
                return -errno;
        for (struct dirent *de; (de = readdir(d));) {
                uint32_t node;
                DIR *nd;

                if (parse_indexed_name(de->d_name, "node", &node) < 0 || node >= NODES_MAX)
                        continue;
                inv->nodes[node].present = true;
                inv->n_nodes++;
                nd = root_opendir(inv->root->node_fd, de->d_name);
                if (!nd)
                        continue;
                for (struct dirent *me; (me = readdir(nd));) {
                        uint32_t b;

                        if (parse_indexed_name(me->d_name, "memory", &b) == 0 && b < map_size)
                                map[b] = (int16_t) node;
                }
                closedir(nd);
        }
        closedir(d);
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

int inventory_scan(Inventory *inv, inventory_change_t change, void *userdata) {
        _cleanup_free_ int16_t *node_map = NULL;
        _cleanup_free_ ScanProblem *problems = NULL;
        _cleanup_free_ BlockReport *vanished = NULL;
        size_t n_problems = 0, n_vanished = 0, max_vanished = 0;
        uint32_t max_index = 0;
        bool at_start = !inv->scanned;
        DIR *d;
        int r;

        if (inv->root->memory_fd < 0)
                return -ENOENT;
        r = read_block_size(inv);
        if (r < 0)
                return r;

        /* Pass 1: which blocks exist. No list: the block array itself carries the mark. */
        d = root_opendir(inv->root->memory_fd, ".");
        if (!d)
                return -errno;
        for (struct dirent *de; (de = readdir(d));) {
                uint32_t index;

                if (parse_indexed_name(de->d_name, "memory", &index) < 0)
                        continue;
                r = inventory_reserve(inv, index);
                if (r == -ERANGE)
                        continue; /* beyond any physical address: not a real block */
                if (r < 0) {
                        closedir(d);
                        return r;
                }
                inv->blocks[index].flags |= BLOCK_SEEN;
                if (index > max_index)
                        max_index = index;
        }
        closedir(d);
        if (!inv->scanned && (uint64_t) inv->n_blocks > (uint64_t) (max_index | 4095) + 1) {
                /* The first scan knows the highest block: keep no slack until memory is hot-added. */
                uint32_t n = (max_index | 4095) + 1;
                Block *b = realloc(inv->blocks, (size_t) n * sizeof(Block));
                if (b) {
                        inv->blocks = b;
                        inv->n_blocks = n;
                }
        }

        r = scan_nodes(inv, &node_map, inv->n_blocks);
        if (r < 0)
                return r;
        /* Without /proc/iomem we cannot tell devices apart; classification then says "unknown". */
        (void) iomem_refresh(inv);
        probe_platform(inv);
        if (zoneinfo_refresh(inv) < 0)
                inventory_nodes_stale(inv);
        problems = calloc(SCAN_DETAILS_MAX, sizeof(ScanProblem));
        if (!problems)
                return -ENOMEM;

        /* Pass 2: bring every found block up to date. Reports wait until the counters are right. */
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
                        if (n_problems < SCAN_DETAILS_MAX) {
                                problems[n_problems].index = index;
                                problems[n_problems].error = state;
                                memcpy(problems[n_problems].detail, detail, sizeof(detail));
                                n_problems++;
                        }
                        state = STATE_UNKNOWN;
                        b->flags |= BLOCK_REPORT;
                }
                if (!(b->flags & BLOCK_PRESENT)) {
                        uint16_t keep = b->flags & (BLOCK_SEEN | BLOCK_REPORT);
                        *b = (Block) {
                                .state = state,
                                .node = node_map[index],
                                .scratch = SCRATCH_APPEARED,
                                .flags = keep | BLOCK_PRESENT | BLOCK_REPORT | (at_start ? BLOCK_AT_START : 0),
                        };
                } else {
                        b->scratch = b->state;
                        if (node_map[index] >= 0)
                                b->node = node_map[index];
                        if (b->state != state) {
                                b->state = state;
                                b->zone = ZONE_UNKNOWN;
                                b->flags |= BLOCK_REPORT;
                        }
                }
        }

        /* Whatever was present and not found is gone. */
        for (uint32_t i = 0; i < inv->n_blocks; i++) {
                Block *b = &inv->blocks[i];

                if (!(b->flags & BLOCK_PRESENT) || (b->flags & BLOCK_SEEN))
                        continue;
                if (n_vanished == max_vanished) {
                        size_t n = max_vanished ? max_vanished * 2 : 64;
                        BlockReport *v = realloc(vanished, n * sizeof(BlockReport));
                        if (!v)
                                return -ENOMEM;
                        vanished = v;
                        max_vanished = n;
                }
                vanished[n_vanished++] = (BlockReport) {
                        .index = i, .change = BLOCK_VANISHED, .old_state = b->state, .old = *b,
                };
                pending_drop(inv, i);
                *b = (Block) { .node = -1 };
        }
        recount(inv);
        inv->scanned = true;

        /* Pass 3: report. */
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
                        for (size_t k = 0; k < n_problems; k++)
                                if (problems[k].index == i) {
                                        rep.error = problems[k].error;
                                        rep.detail = problems[k].detail;
                                        break;
                                }
                }
                if (change)
                        change(inv, &rep, userdata);
        }
        for (size_t i = 0; i < n_vanished; i++)
                if (change)
                        change(inv, &vanished[i], userdata);
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

/* Returns the kind, or -EAGAIN if a plain range might still get its firmware_node. */
static int classify(Inventory *inv, uint32_t index, bool final) {
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
        d = classify(inv, index, true);
        b->device = (uint8_t) d;
        b->flags |= BLOCK_CLASSIFIED;
        return d;
}

int inventory_block_settle(Inventory *inv, uint32_t index, bool force, uint64_t now) {
        Block *b = &inv->blocks[index];
        bool settled = true;

        /* In a hot-add the block below is still waiting for its links: so is this one (the kernel links
         * them in ascending order). Join the queue without probing; once queued, the newest is probed
         * for all. */
        if (!force && !(b->flags & BLOCK_SETTLING) && index > 0 && index - 1 < inv->n_blocks &&
            (inv->blocks[index - 1].flags & BLOCK_SETTLING)) {
                if (pending_add(inv, index, now) < 0)
                        return 1;
                return 0;
        }

        if (b->node < 0) {
                int node = inventory_block_read_node(inv, index);
                if (node >= 0)
                        inventory_block_set_node(inv, index, node);
                else
                        settled = false;
        }
        if (!(b->flags & BLOCK_CLASSIFIED)) {
                int d = classify(inv, index, force);
                if (d >= 0) {
                        b->device = (uint8_t) d;
                        b->flags |= BLOCK_CLASSIFIED;
                } else
                        settled = false;
        }
        if (settled || force) {
                pending_drop(inv, index);
                if (!(b->flags & BLOCK_CLASSIFIED))
                        (void) inventory_block_device(inv, index);
                return 1;
        }
        if (pending_add(inv, index, now) < 0)
                return 1; /* no memory to wait: decide with what we have */
        return 0;
}

int inventory_block_refresh(Inventory *inv, uint32_t index, BlockReport *ret, char *detail, size_t detail_size) {
        Block *b;
        int state, r;

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
        /* block_set_state() accounts the pages by b->zone once the block is online. */
        node_stats_account(inv, b, -1);
        node_count(inv, b, -1);
        if (b->state != STATE_ONLINE)
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
}

int inventory_node_add(Inventory *inv, int node) {
        if (node < 0 || node >= NODES_MAX)
                return -ERANGE;
        if (inv->nodes[node].present)
                return 0;
        inv->nodes[node].present = true;
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
        inv->n_nodes--;
        return 1;
}

const NodeInfo *inventory_node_stats(Inventory *inv, int node) {
        if (node < 0 || node >= NODES_MAX)
                return NULL;
        if (inv->nodes[node].stats_stale)
                (void) zoneinfo_refresh(inv);
        return &inv->nodes[node];
}
