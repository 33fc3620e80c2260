/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory.h"
#include "macro.h"
#include "settle.h"
#include "unit-helpers.h"

#define MEM "sys/devices/system/memory"
#define NODE "sys/devices/system/node"

/* Blocks in the snapshot: boot memory0-7 on node0, virtio-mem 32-33 on node1, a DIMM as 64-67 on node0. */
static const uint32_t snapshot_blocks[] = { 0, 1, 2, 3, 4, 5, 6, 7, 32, 33, 64, 65, 66, 67 };

typedef struct Reports {
        BlockReport items[64];
        char *details[64];
        size_t n;
} Reports;

static void collect(Inventory *inv, const BlockReport *r, void *userdata) {
        Reports *reps = userdata;

        ck_assert_uint_lt(reps->n, ELEMENTSOF(reps->items));
        reps->items[reps->n] = *r;
        /* The detail string is freed after the callback: keep a copy. */
        reps->details[reps->n] = r->detail ? strdup(r->detail) : NULL;
        reps->items[reps->n].detail = reps->details[reps->n];
        reps->n++;
}

static void reports_clear(Reports *reps) {
        for (size_t i = 0; i < reps->n; i++)
                free(reps->details[i]);
        reps->n = 0;
}

static const BlockReport *report_for(const Reports *reps, uint32_t index) {
        const BlockReport *found = NULL;

        for (size_t i = 0; i < reps->n; i++)
                if (reps->items[i].index == index) {
                        ck_assert_msg(!found, "two reports for memory%u", index);
                        found = &reps->items[i];
                }
        return found;
}

typedef struct Fixture {
        char *dir;
        Root *root;
        Inventory *inv;
        Reports reps;
        SettleQueue settle;
} Fixture;

static void fixture_open(Fixture *f, char *dir) {
        *f = (Fixture) { .dir = dir };
        inventory_fixture_open(dir, &f->root, &f->inv);
}

/* The snapshot, materialised and scanned once. */
static void fixture_scan(Fixture *f) {
        fixture_open(f, fixture_root(SNAPSHOT_2NODE));
        ck_assert_int_eq(inventory_scan(f->inv, collect, &f->reps), 0);
}

static void rescan(Fixture *f) {
        reports_clear(&f->reps);
        ck_assert_int_eq(inventory_scan(f->inv, collect, &f->reps), 0);
}

static void fixture_close(Fixture *f) {
        reports_clear(&f->reps);
        settle_queue_done(&f->settle);
        inventory_fixture_close(f->root, f->inv);
        free(f->dir);
}

static uint64_t block_pages(const Inventory *inv) {
        return inv->block_size / inv->page_size;
}

START_TEST(scan_reports_every_block) {
        Fixture f;

        fixture_scan(&f);
        ck_assert_uint_eq(f.inv->block_size, 0x8000000);
        ck_assert_uint_eq(f.reps.n, ELEMENTSOF(snapshot_blocks));
        for (size_t i = 0; i < ELEMENTSOF(snapshot_blocks); i++) {
                uint32_t index = snapshot_blocks[i];
                const BlockReport *r = report_for(&f.reps, index);
                const Block *b = inventory_block(f.inv, index);

                ck_assert_msg(r, "no report for memory%u", index);
                ck_assert_int_eq(r->change, BLOCK_APPEARED);
                ck_assert_int_eq(r->error, 0);
                ck_assert_ptr_null(r->detail);
                ck_assert_ptr_nonnull(b);
                ck_assert_msg(b->flags & BLOCK_AT_START, "memory%u not marked as present at start", index);
                ck_assert_int_eq(b->state, index == 67 ? STATE_OFFLINE : STATE_ONLINE);
        }
        ck_assert_uint_eq(f.inv->n_present, 14);
        ck_assert_uint_eq(f.inv->n_offline, 1);
        ck_assert_uint_eq(f.inv->n_nodes, 2);
        ck_assert(f.inv->scanned);
        /* Not a block. */
        ck_assert_ptr_null(inventory_block(f.inv, 8));
        ck_assert_ptr_null(inventory_block(f.inv, 31));
        ck_assert_ptr_null(inventory_block(f.inv, 1u << 30));

        /* Nothing changed: a second scan reports nothing. */
        rescan(&f);
        ck_assert_uint_eq(f.reps.n, 0);
        ck_assert_uint_eq(f.inv->n_present, 14);
        ck_assert_uint_eq(f.inv->n_offline, 1);
        fixture_close(&f);
}
END_TEST

START_TEST(scan_node_mapping) {
        Fixture f;

        fixture_scan(&f);
        for (size_t i = 0; i < ELEMENTSOF(snapshot_blocks); i++) {
                uint32_t index = snapshot_blocks[i];

                ck_assert_msg(inventory_block(f.inv, index)->node == (index == 32 || index == 33 ? 1 : 0),
                              "memory%u on node %d", index, inventory_block(f.inv, index)->node);
                ck_assert_int_eq(inventory_block_read_node(f.inv, index), index == 32 || index == 33 ? 1 : 0);
        }
        ck_assert(f.inv->nodes[0].present);
        ck_assert(f.inv->nodes[1].present);
        ck_assert(!f.inv->nodes[2].present);
        ck_assert_uint_eq(f.inv->nodes[0].n_blocks, 12);
        ck_assert_uint_eq(f.inv->nodes[0].n_offline, 1);
        ck_assert_uint_eq(f.inv->nodes[1].n_blocks, 2);
        ck_assert_uint_eq(f.inv->nodes[1].n_offline, 0);
        fixture_close(&f);
}
END_TEST

START_TEST(scan_device_classes) {
        Fixture f;

        fixture_scan(&f);
        for (uint32_t i = 64; i <= 67; i++)
                ck_assert_msg(inventory_block_device(f.inv, i) == DEVICE_ACPI_DIMM, "memory%u is %s", i,
                              device_kind_to_string(inventory_block_device(f.inv, i)));
        ck_assert_int_eq(inventory_block_device(f.inv, 32), DEVICE_VIRTIO_MEM);
        ck_assert_int_eq(inventory_block_device(f.inv, 33), DEVICE_VIRTIO_MEM);
        for (uint32_t i = 0; i <= 7; i++)
                ck_assert_msg(inventory_block_device(f.inv, i) == DEVICE_BOOT, "memory%u is %s", i,
                              device_kind_to_string(inventory_block_device(f.inv, i)));
        ck_assert(inventory_block(f.inv, 67)->flags & BLOCK_CLASSIFIED);
        fixture_close(&f);
}
END_TEST

START_TEST(scan_zones) {
        Fixture f;
        ZoneSet z;

        fixture_scan(&f);
        ck_assert_int_eq(inventory_block_zone(f.inv, 64), ZONE_MOVABLE);
        ck_assert_int_eq(inventory_block_zone(f.inv, 66), ZONE_NORMAL);
        ck_assert_int_eq(inventory_block_zone(f.inv, 3), ZONE_DMA32);
        ck_assert_int_eq(inventory_block_zone(f.inv, 0), ZONE_NONE);
        ck_assert_int_eq(inventory_block_zone(f.inv, 67), ZONE_UNKNOWN); /* offline */
        ck_assert_int_eq(inventory_block_valid_zones(f.inv, 67, &z), 0);
        ck_assert(z.kernel);
        ck_assert(z.movable); /* "Normal Movable" */
        ck_assert_int_eq(z.first, ZONE_NORMAL);
        ck_assert_int_eq(inventory_block_valid_zones(f.inv, 40, &z), -ENOENT);
        fixture_close(&f);
}
END_TEST

START_TEST(scan_node_stats) {
        Fixture f;
        const NodeInfo *n;

        fixture_scan(&f);
        n = inventory_node_stats(f.inv, 0);
        ck_assert_ptr_nonnull(n);
        ck_assert(!n->stats_stale);
        ck_assert_uint_eq(n->kernel_pages, 3998 + 258048 + 32768);
        ck_assert_uint_eq(n->movable_pages, 65536);
        n = inventory_node_stats(f.inv, 1);
        ck_assert_uint_eq(n->kernel_pages, 0);
        ck_assert_uint_eq(n->movable_pages, 65536);
        ck_assert_ptr_null(inventory_node_stats(f.inv, -1));
        ck_assert_ptr_null(inventory_node_stats(f.inv, NODES_MAX));

        /* A stale node re-reads /proc/zoneinfo. */
        write_file(f.dir, "proc/zoneinfo", "Node 0, zone   Normal\n        present  100\n"
                                           "Node 1, zone  Movable\n        present  200\n");
        ck_assert_int_eq(inventory_node_add(f.inv, 2), 1);
        ck_assert_int_eq(inventory_node_add(f.inv, 2), 0);
        ck_assert_uint_eq(f.inv->n_nodes, 3);
        n = inventory_node_stats(f.inv, 2);
        ck_assert(!n->stats_stale);
        ck_assert_uint_eq(f.inv->nodes[0].kernel_pages, 100);
        ck_assert_uint_eq(f.inv->nodes[1].movable_pages, 200);
        ck_assert_int_eq(inventory_node_remove(f.inv, 2), 1);
        ck_assert_int_eq(inventory_node_remove(f.inv, 2), 0);
        ck_assert_int_eq(inventory_node_add(f.inv, NODES_MAX), -ERANGE);
        fixture_close(&f);
}
END_TEST

START_TEST(rescan_vanished) {
        Fixture f;
        const BlockReport *r;

        fixture_scan(&f);
        remove_tree(f.dir, MEM "/memory33");
        remove_tree(f.dir, NODE "/node1/memory33");
        rescan(&f);
        ck_assert_uint_eq(f.reps.n, 1);
        r = report_for(&f.reps, 33);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->change, BLOCK_VANISHED);
        ck_assert_int_eq(r->old_state, STATE_ONLINE);
        ck_assert_int_eq(r->error, 0);
        ck_assert_ptr_null(inventory_block(f.inv, 33));
        ck_assert_uint_eq(f.inv->n_present, 13);
        ck_assert_uint_eq(f.inv->nodes[1].n_blocks, 1);
        fixture_close(&f);
}
END_TEST

START_TEST(rescan_state_changed) {
        Fixture f;
        const BlockReport *r;

        fixture_scan(&f);
        write_file(f.dir, MEM "/memory67/state", "online\n");
        rescan(&f);
        ck_assert_uint_eq(f.reps.n, 1);
        r = report_for(&f.reps, 67);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->change, BLOCK_STATE_CHANGED);
        ck_assert_int_eq(r->old_state, STATE_OFFLINE);
        ck_assert_int_eq(r->error, 0);
        ck_assert_int_eq(inventory_block(f.inv, 67)->state, STATE_ONLINE);
        ck_assert_uint_eq(f.inv->n_offline, 0);
        ck_assert_uint_eq(f.inv->nodes[0].n_offline, 0);
        /* It stays the same block: still present from the start, still on node0. */
        ck_assert(inventory_block(f.inv, 67)->flags & BLOCK_AT_START);
        ck_assert_int_eq(inventory_block(f.inv, 67)->node, 0);

        write_file(f.dir, MEM "/memory64/state", "going-offline\n");
        rescan(&f);
        ck_assert_uint_eq(f.reps.n, 1);
        ck_assert_int_eq(f.reps.items[0].index, 64);
        ck_assert_int_eq(f.reps.items[0].old_state, STATE_ONLINE);
        ck_assert_int_eq(inventory_block(f.inv, 64)->state, STATE_GOING_OFFLINE);
        ck_assert_uint_eq(f.inv->n_offline, 1);
        fixture_close(&f);
}
END_TEST

START_TEST(rescan_new_block) {
        Fixture f;
        const BlockReport *r;

        fixture_scan(&f);
        write_file(f.dir, MEM "/memory34/state", "offline\n");
        make_symlink(f.dir, MEM "/memory34/node1", "../../node/node1");
        make_symlink(f.dir, NODE "/node1/memory34", "../../memory/memory34");
        rescan(&f);
        ck_assert_uint_eq(f.reps.n, 1);
        r = report_for(&f.reps, 34);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->change, BLOCK_APPEARED);
        ck_assert_int_eq(inventory_block(f.inv, 34)->node, 1);
        ck_assert_int_eq(inventory_block(f.inv, 34)->state, STATE_OFFLINE);
        /* Found by a later scan: not boot memory. */
        ck_assert(!(inventory_block(f.inv, 34)->flags & BLOCK_AT_START));
        ck_assert_uint_eq(f.inv->n_present, 15);
        ck_assert_uint_eq(f.inv->n_offline, 2);
        fixture_close(&f);
}
END_TEST

START_TEST(scan_garbage_state) {
        Fixture f;
        const BlockReport *r;

        fixture_open(&f, fixture_root(SNAPSHOT_2NODE));
        write_file(f.dir, MEM "/memory5/state", "bananas\n");
        ck_assert_int_eq(inventory_scan(f.inv, collect, &f.reps), 0);
        ck_assert_uint_eq(f.reps.n, 14);
        r = report_for(&f.reps, 5);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->change, BLOCK_APPEARED);
        ck_assert_int_lt(r->error, 0);
        ck_assert_ptr_nonnull(r->detail);
        ck_assert_msg(strstr(r->detail, "memory5/state"), "detail \"%s\" does not name the file", r->detail);
        ck_assert_msg(strstr(r->detail, "bananas"), "detail \"%s\" does not quote the value", r->detail);
        ck_assert_int_eq(inventory_block(f.inv, 5)->state, STATE_UNKNOWN);

        /* On a rescan a block that turns to garbage is reported as a change with the error. */
        write_file(f.dir, MEM "/memory6/state", "onl\x01ine\n");
        rescan(&f);
        r = report_for(&f.reps, 6);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->change, BLOCK_STATE_CHANGED);
        ck_assert_int_eq(r->old_state, STATE_ONLINE);
        ck_assert_int_lt(r->error, 0);
        ck_assert_msg(r->detail && strstr(r->detail, "memory6/state"), "detail \"%s\"", strna(r->detail));
        /* memory5 still holds garbage: still reported, still with the error. */
        r = report_for(&f.reps, 5);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_lt(r->error, 0);
        fixture_close(&f);
}
END_TEST

START_TEST(scan_without_memory_dir) {
        Fixture f;

        fixture_open(&f, test_tmpdir());
        ck_assert_int_eq(inventory_scan(f.inv, collect, &f.reps), -ENOENT);
        fixture_close(&f);

        /* block_size_bytes that is not a power of two is refused. */
        f.dir = fixture_root(SNAPSHOT_2NODE);
        write_file(f.dir, MEM "/block_size_bytes", "8000001\n");
        fixture_open(&f, f.dir);
        ck_assert_int_lt(inventory_scan(f.inv, collect, &f.reps), 0);
        ck_assert_uint_eq(f.reps.n, 0);
        fixture_close(&f);
}
END_TEST

START_TEST(scan_fails_on_readdir_error) {
        Fixture f;

        fixture_scan(&f);
        /* Someone took memory66 offline: memhpd must never online it again. */
        inventory_block(f.inv, 66)->flags |= BLOCK_BY_OTHER | BLOCK_DECIDED;

        /* The memory directory's listing fails after a few entries, at every point in turn. */
        for (int budget = 0; budget < 12; budget++) {
                readdir_fail_after(budget);
                reports_clear(&f.reps);
                ck_assert_int_eq(inventory_scan(f.inv, collect, &f.reps), -EIO);
                ck_assert_msg(f.reps.n == 0, "listing failing after %d entries: %zu reports", budget, f.reps.n);
                ck_assert_uint_eq(f.inv->n_present, ELEMENTSOF(snapshot_blocks));
                for (size_t i = 0; i < ELEMENTSOF(snapshot_blocks); i++)
                        ck_assert_ptr_nonnull(inventory_block(f.inv, snapshot_blocks[i]));
                ck_assert(inventory_block(f.inv, 66)->flags & BLOCK_BY_OTHER);
        }

        /* A failing node directory fails the scan too, and leaves the nodes as they were. */
        readdir_fail_reset();
        {
                int entries = 0;
                char *path;
                DIR *d;

                ck_assert(asprintf(&path, "%s/" MEM, f.dir) > 0);
                d = opendir(path);
                ck_assert_ptr_nonnull(d);
                while (readdir(d))
                        entries++;
                closedir(d);
                free(path);
                readdir_fail_after(entries + 1); /* the whole memory directory, then into the node listing */
        }
        reports_clear(&f.reps);
        ck_assert_int_eq(inventory_scan(f.inv, collect, &f.reps), -EIO);
        ck_assert_uint_eq(f.reps.n, 0);
        ck_assert_uint_eq(f.inv->n_nodes, 2);

        /* Once the listing works again nothing has changed: no block removed, none new. */
        readdir_fail_reset();
        rescan(&f);
        ck_assert_uint_eq(f.reps.n, 0);
        ck_assert(inventory_block(f.inv, 66)->flags & BLOCK_BY_OTHER);
        fixture_close(&f);
}
END_TEST

START_TEST(impossible_block_numbers_cost_nothing) {
        Fixture f;
        BlockReport r;
        char detail[160];
        uint32_t n_blocks;

        /* block_size_bytes of 2^52 or more: not one block fits in any physical address space. */
        f.dir = fixture_root(SNAPSHOT_2NODE);
        write_file(f.dir, MEM "/block_size_bytes", "10000000000000\n");
        fixture_open(&f, f.dir);
        ck_assert_int_eq(inventory_scan(f.inv, collect, &f.reps), -EBADMSG);
        fixture_close(&f);

        /* An "add" uevent for a block that does not exist grows nothing (it used to cost 268 MB). */
        fixture_scan(&f);
        n_blocks = f.inv->n_blocks;
        ck_assert_int_eq(inventory_block_refresh(f.inv, 33554431, &r, detail, sizeof(detail)), 0);
        ck_assert_uint_eq(f.inv->n_blocks, n_blocks);
        ck_assert_ptr_null(inventory_block(f.inv, 33554431));
        fixture_close(&f);

        /* A directory beyond the machine's physical address width is no block (it used to cost 2.9 GB
         * with 16 MiB blocks). */
        f.dir = fixture_root(SNAPSHOT_2NODE);
        write_file(f.dir, MEM "/block_size_bytes", "1000000\n");
        write_file(f.dir, MEM "/memory268435455/state", "offline\n");
        write_file(f.dir, "proc/cpuinfo", "processor\t: 0\naddress sizes\t: 40 bits physical, 48 bits virtual\n");
        fixture_open(&f, f.dir);
        ck_assert_int_eq(inventory_scan(f.inv, collect, &f.reps), 0);
        ck_assert_ptr_null(inventory_block(f.inv, 268435455));
        ck_assert_uint_le(f.inv->n_blocks, 1u << 16);
        ck_assert_ptr_nonnull(inventory_block(f.inv, 67));
        /* ... and so is a uevent for it, even though it exists. */
        ck_assert_int_eq(inventory_block_refresh(f.inv, 268435455, &r, detail, sizeof(detail)), -ERANGE);
        ck_assert_uint_le(f.inv->n_blocks, 1u << 16);
        fixture_close(&f);
}
END_TEST

START_TEST(settle_waits_for_node_link) {
        Fixture f;

        fixture_open(&f, fixture_root(SNAPSHOT_2NODE));
        /* memory33 as the kernel shows it right after its "add" uevent: no node link yet. */
        remove_tree(f.dir, MEM "/memory33/node1");
        remove_tree(f.dir, NODE "/node1/memory33");
        ck_assert_int_eq(inventory_scan(f.inv, collect, &f.reps), 0);
        ck_assert_int_eq(inventory_block(f.inv, 33)->node, -1);
        ck_assert_int_eq(inventory_block_read_node(f.inv, 33), -ENOENT);

        ck_assert_int_eq(settle_block(&f.settle, f.inv, 33, false, 1000), 0);
        ck_assert_uint_eq(f.settle.n, 1);
        ck_assert_uint_eq(f.settle.index[0], 33);
        ck_assert_uint_eq(f.settle.since[0], 1000);
        ck_assert(inventory_block(f.inv, 33)->flags & BLOCK_SETTLING);

        /* Asking again does not queue it twice nor reset its clock. */
        ck_assert_int_eq(settle_block(&f.settle, f.inv, 33, false, 2000), 0);
        ck_assert_uint_eq(f.settle.n, 1);
        ck_assert_uint_eq(f.settle.since[0], 1000);

        make_symlink(f.dir, MEM "/memory33/node1", "../../node/node1");
        ck_assert_int_eq(settle_block(&f.settle, f.inv, 33, false, 3000), 1);
        ck_assert_uint_eq(f.settle.n, 0);
        ck_assert(!(inventory_block(f.inv, 33)->flags & BLOCK_SETTLING));
        ck_assert_int_eq(inventory_block(f.inv, 33)->node, 1);
        ck_assert_uint_eq(f.inv->nodes[1].n_blocks, 2);
        ck_assert_int_eq(inventory_block_device(f.inv, 33), DEVICE_VIRTIO_MEM);
        fixture_close(&f);
}
END_TEST

START_TEST(settle_force) {
        Fixture f;

        fixture_open(&f, fixture_root(SNAPSHOT_2NODE));
        remove_tree(f.dir, MEM "/memory33/node1");
        remove_tree(f.dir, NODE "/node1/memory33");
        ck_assert_int_eq(inventory_scan(f.inv, collect, &f.reps), 0);

        ck_assert_int_eq(settle_block(&f.settle, f.inv, 33, true, 1000), 1);
        ck_assert_uint_eq(f.settle.n, 0);
        ck_assert_int_eq(inventory_block(f.inv, 33)->node, -1);
        ck_assert(inventory_block(f.inv, 33)->flags & BLOCK_CLASSIFIED);

        /* A pending block that is then forced leaves the list. */
        remove_tree(f.dir, MEM "/memory32/node1");
        inventory_block_set_node(f.inv, 32, -1);
        ck_assert_int_eq(settle_block(&f.settle, f.inv, 32, false, 1000), 0);
        ck_assert_uint_eq(f.settle.n, 1);
        ck_assert_int_eq(settle_block(&f.settle, f.inv, 32, true, 5000), 1);
        ck_assert_uint_eq(f.settle.n, 0);
        ck_assert(!(inventory_block(f.inv, 32)->flags & BLOCK_SETTLING));
        fixture_close(&f);
}
END_TEST

START_TEST(refresh_hot_add) {
        Fixture f;
        BlockReport r;
        char detail[160];
        uint64_t reads;
        char *iomem;

        fixture_scan(&f);
        /* virtio-mem plugs one more block: the uevent arrives, then the node link appears. */
        write_file(f.dir, MEM "/memory34/state", "offline\n");
        write_file(f.dir, MEM "/memory34/valid_zones", "Movable\n");
        iomem = read_text(f.dir, "proc/iomem");
        {
                char *at = strstr(iomem, "200000000-21fffffff : System RAM\n"), *grown;

                ck_assert_ptr_nonnull(at);
                *at = '\0';
                ck_assert(asprintf(&grown, "%s  110000000-117ffffff : System RAM (virtio_mem)\n%s", iomem,
                                   "200000000-21fffffff : System RAM\n") > 0);
                write_file(f.dir, "proc/iomem", grown);
                free(grown);
        }
        free(iomem);

        ck_assert_int_eq(inventory_block_refresh(f.inv, 34, &r, detail, sizeof(detail)), 1);
        ck_assert_int_eq(r.change, BLOCK_APPEARED);
        ck_assert_int_eq(r.index, 34);
        ck_assert_int_eq(r.error, 0);
        ck_assert_int_eq(inventory_block(f.inv, 34)->state, STATE_OFFLINE);
        ck_assert_int_eq(inventory_block(f.inv, 34)->node, -1);
        ck_assert_uint_eq(f.inv->n_present, 15);
        ck_assert_uint_eq(f.inv->n_offline, 2);

        ck_assert_int_eq(settle_block(&f.settle, f.inv, 34, false, 10), 0);
        make_symlink(f.dir, MEM "/memory34/node1", "../../node/node1");
        reads = f.inv->n_iomem_reads;
        ck_assert_int_eq(settle_block(&f.settle, f.inv, 34, false, 20), 1);
        ck_assert_int_eq(inventory_block(f.inv, 34)->node, 1);
        /* The range was added after our read of /proc/iomem; it was classified on the first settle. */
        ck_assert_int_eq(inventory_block_device(f.inv, 34), DEVICE_VIRTIO_MEM);
        ck_assert_uint_eq(f.inv->n_iomem_reads, reads);
        ck_assert_uint_eq(f.inv->nodes[1].n_blocks, 3);
        ck_assert_uint_eq(f.inv->nodes[1].n_offline, 1);

        /* Nothing changed. */
        ck_assert_int_eq(inventory_block_refresh(f.inv, 34, &r, detail, sizeof(detail)), 0);

        /* Onlined by the kernel; then removed. */
        write_file(f.dir, MEM "/memory34/state", "online\n");
        ck_assert_int_eq(inventory_block_refresh(f.inv, 34, &r, detail, sizeof(detail)), 1);
        ck_assert_int_eq(r.change, BLOCK_STATE_CHANGED);
        ck_assert_int_eq(r.old_state, STATE_OFFLINE);
        ck_assert_uint_eq(f.inv->n_offline, 1);
        ck_assert_uint_eq(f.inv->nodes[1].n_offline, 0);

        write_file(f.dir, MEM "/memory34/state", "garbage\n");
        ck_assert_int_eq(inventory_block_refresh(f.inv, 34, &r, detail, sizeof(detail)), 1);
        ck_assert_int_lt(r.error, 0);
        ck_assert_msg(r.detail && strstr(r.detail, "memory34/state"), "detail \"%s\"", strna(r.detail));

        remove_tree(f.dir, MEM "/memory34");
        ck_assert_int_eq(inventory_block_refresh(f.inv, 34, &r, detail, sizeof(detail)), 1);
        ck_assert_int_eq(r.change, BLOCK_VANISHED);
        ck_assert_ptr_null(inventory_block(f.inv, 34));
        ck_assert_uint_eq(f.inv->n_present, 14);
        ck_assert_uint_eq(f.inv->n_offline, 1);
        ck_assert_uint_eq(f.inv->nodes[1].n_blocks, 2);
        /* Gone and unknown: nothing to say. */
        ck_assert_int_eq(inventory_block_refresh(f.inv, 34, &r, detail, sizeof(detail)), 0);
        fixture_close(&f);
}
END_TEST

START_TEST(set_online_accounts_pages) {
        Fixture f;

        fixture_scan(&f);
        inventory_block_set_online(f.inv, 67, ZONE_MOVABLE);
        ck_assert_int_eq(inventory_block(f.inv, 67)->state, STATE_ONLINE);
        ck_assert_int_eq(inventory_block(f.inv, 67)->zone, ZONE_MOVABLE);
        ck_assert_uint_eq(f.inv->nodes[0].movable_pages, 65536 + block_pages(f.inv));
        ck_assert_uint_eq(f.inv->nodes[0].kernel_pages, 3998 + 258048 + 32768);
        ck_assert_uint_eq(f.inv->n_offline, 0);
        ck_assert_uint_eq(f.inv->nodes[0].n_offline, 0);
        /* Once more: the same state, no double counting. */
        inventory_block_set_online(f.inv, 67, ZONE_MOVABLE);
        ck_assert_uint_eq(f.inv->nodes[0].movable_pages, 65536 + block_pages(f.inv));
        ck_assert_uint_eq(f.inv->n_offline, 0);

        ck_assert_int_eq(inventory_block_remove(f.inv, 67), 1);
        ck_assert_int_eq(inventory_block_remove(f.inv, 67), 0);
        ck_assert_uint_eq(f.inv->nodes[0].movable_pages, 65536);
        ck_assert_uint_eq(f.inv->n_present, 13);
        fixture_close(&f);
}
END_TEST

static Suite *inventory_suite(void) {
        Suite *s = suite_create("inventory");
        TCase *tc = tcase_create("scan");

        tcase_add_test(tc, scan_reports_every_block);
        tcase_add_test(tc, scan_node_mapping);
        tcase_add_test(tc, scan_device_classes);
        tcase_add_test(tc, scan_zones);
        tcase_add_test(tc, scan_node_stats);
        tcase_add_test(tc, scan_garbage_state);
        tcase_add_test(tc, scan_without_memory_dir);
        suite_add_tcase(s, tc);

        tc = tcase_create("rescan");
        tcase_add_test(tc, rescan_vanished);
        tcase_add_test(tc, rescan_state_changed);
        tcase_add_test(tc, rescan_new_block);
        suite_add_tcase(s, tc);

        tc = tcase_create("hotplug");
        tcase_add_test(tc, scan_fails_on_readdir_error);
        tcase_add_test(tc, impossible_block_numbers_cost_nothing);
        tcase_add_test(tc, settle_waits_for_node_link);
        tcase_add_test(tc, settle_force);
        tcase_add_test(tc, refresh_hot_add);
        tcase_add_test(tc, set_online_accounts_pages);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return unit_main(inventory_suite());
}
