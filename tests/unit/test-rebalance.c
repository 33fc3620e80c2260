/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pure half of rebalance.c and what it reads: the kernel zones' room in /proc/zoneinfo (free pages
 * above the lowmem reserve of a GFP_KERNEL allocation), when a node needs kernel memory, and the pages in
 * use of a block from /proc/kpageflags words. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory.h"
#include "macro.h"
#include "procfs.h"
#include "rebalance.h"
#include "unit-helpers.h"

/* The 6.1 snapshot's node0: DMA free 3808 (protection for Normal 1008), DMA32 211631 (128), Normal
 * 32146 (0), Movable 65056; node1 is Movable only. */
START_TEST(room_snapshot) {
        char *root = fixture_root(SNAPSHOT_2NODE);
        char *text = read_text(root, "proc/zoneinfo");
        ZoneinfoNode *n = calloc(NODES_MAX, sizeof(*n));

        ck_assert_int_eq(zoneinfo_parse_nodes(text, n, NODES_MAX), 0);
        ck_assert_uint_eq(n[0].kernel_room, (3808 - 1008) + (211631 - 128) + 32146);
        ck_assert_uint_eq(n[0].kernel_free, 3808 + 211631 + 32146);
        ck_assert_uint_eq(n[1].kernel_room, 0);
        /* Plenty of room on node0 for 128 MiB blocks (32768 pages); node1 has no kernel zone. */
        ck_assert(!rebalance_node_needs(&n[0], 32768));
        ck_assert(!rebalance_node_needs(&n[1], 32768));
        free(n);
        free(text);
        free(root);
}
END_TEST

/* As the 512 MiB guest of the VM test looks when slab has filled DMA32 and the hot-added Normal: DMA
 * still has 3808 pages free, but all of them behind its reserve from Normal allocations. */
static const char small_guest[] =
        "Node 0, zone      DMA\n"
        "  pages free     3808\n"
        "        min      20\n"
        "        low      26\n"
        "        high     32\n"
        "        spanned  4095\n"
        "        present  3998\n"
        "        managed  3840\n"
        "        protection: (0, 426, 4426, 4426, 4426)\n"
        "Node 0, zone    DMA32\n"
        "  pages free     700\n"
        "        min      600\n"
        "        low      750\n"
        "        high     900\n"
        "        spanned  126944\n"
        "        present  126944\n"
        "        managed  109000\n"
        "        protection: (0, 0, 4000, 4000, 4000)\n"
        "      nr_zone_inactive_file 10\n"
        "      nr_zone_active_file 5\n"
        "Node 0, zone   Normal\n"
        "  pages free     5000\n"
        "        min      100\n"
        "        low      125\n"
        "        high     150\n"
        "        spanned  32768\n"
        "        present  32768\n"
        "        managed  32768\n"
        "        protection: (0, 0, 0, 0, 0)\n"
        "Node 0, zone  Movable\n"
        "  pages free     200000\n"
        "        min      300\n"
        "        low      375\n"
        "        high     450\n"
        "        spanned  229376\n"
        "        present  229376\n"
        "        managed  229376\n"
        "        protection: (0, 0, 0, 0, 0)\n"
        "Node 0, zone   Device\n"
        "  pages free     0\n"
        "        min      0\n"
        "        low      0\n"
        "        high     0\n"
        "        spanned  0\n"
        "        present  0\n"
        "        managed  0\n"
        "        protection: (0, 0, 0, 0, 0)\n";

START_TEST(room_small_guest) {
        ZoneinfoNode n[2] = {};

        ck_assert_int_eq(zoneinfo_parse_nodes(small_guest, n, 2), 0);
        /* DMA: 3808 < 4426 reserved, nothing; DMA32: 700 < 4000, nothing; Normal: 5000. */
        ck_assert_uint_eq(n[0].kernel_room, 5000);
        ck_assert_uint_eq(n[0].kernel_file_pages, 15);
        ck_assert_uint_eq(n[0].kernel_high, 32 + 900 + 150);
        /* room 5015 < 1082 * 1.25 + one block of 8192 pages: short, and Movable has 200000 free. */
        ck_assert(rebalance_node_needs(&n[0], 8192));
        /* With room for a block above the margin it is not (1082 * 1.25 = 1352 (integer), + 3000 = 4352). */
        ck_assert(!rebalance_node_needs(&n[0], 3000));
        ck_assert(rebalance_node_needs(&n[0], 3664));
        /* Settled from two blocks of room on: 5015 >= 1352 + 2 * 1831 = 5014, not with 1832. */
        ck_assert(rebalance_node_settled(&n[0], 1831));
        ck_assert(!rebalance_node_settled(&n[0], 1832));
        /* Movable must give a whole block above its own high watermark + 25% (450 -> 562). */
        n[0].movable_free = 8192 + 562 - 1;
        ck_assert(!rebalance_node_needs(&n[0], 8192));
        n[0].movable_free = 8192 + 562;
        ck_assert(rebalance_node_needs(&n[0], 8192));
        /* Page cache in the kernel zones is room too. */
        n[0].kernel_file_pages = 10000;
        ck_assert(!rebalance_node_needs(&n[0], 8192));
        /* Never judged: no watermarks, no kernel zones, no block size. */
        n[0].kernel_file_pages = 15;
        n[0].watermarks_missing = true;
        ck_assert(!rebalance_node_needs(&n[0], 8192));
        n[0].watermarks_missing = false;
        ck_assert(!rebalance_node_needs(&n[0], 0));
        n[0].kernel_high = 0;
        ck_assert(!rebalance_node_needs(&n[0], 8192));
        ck_assert(rebalance_node_settled(&n[0], 8192));
}
END_TEST

/* Without a Normal zone (the 512 MiB guest before anything went to a kernel zone) the last kernel zone
 * stands for it; a file without protection lines has no reserve. */
START_TEST(room_without_normal) {
        ZoneinfoNode n[1] = {};

        ck_assert_int_eq(zoneinfo_parse_nodes("Node 0, zone      DMA\n  pages free     100\n        min 1\n"
                                              "        low 2\n        high 3\n        present  200\n"
                                              "        protection: (0, 50, 50)\n"
                                              "Node 0, zone    DMA32\n  pages free     900\n        min 1\n"
                                              "        low 2\n        high 3\n        present  1000\n"
                                              "        protection: (0, 0, 0)\n"
                                              "Node 0, zone  Movable\n  pages free     5\n        min 1\n"
                                              "        low 2\n        high 3\n        present  9\n", n, 1), 0);
        ck_assert_uint_eq(n[0].kernel_room, 50 + 900);
        ck_assert_int_eq(zoneinfo_parse_nodes("Node 0, zone   Normal\n  pages free     77\n        min 1\n"
                                              "        low 2\n        high 3\n        present  100\n", n, 1), 0);
        ck_assert_uint_eq(n[0].kernel_room, 77);
}
END_TEST

START_TEST(protection_rejects) {
        static const char *const bad[] = {
                "        protection: (0, 1\n",
                "        protection: (0,1)\n",
                "        protection: (0, -1)\n",
                "        protection: ()\n",
                "        protection: (0, 0) x\n",
                "        protection: (0, 0, 0, 0, 0, 0, 0, 0, 0)\n", /* more zones than a node has */
                "        protection: (0, 1099511627777)\n",
                "        protection: (0)\n        protection: (0)\n", /* twice in a zone */
        };
        ZoneinfoNode n[1];

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char text[256];

                snprintf(text, sizeof(text), "Node 0, zone   Normal\n  pages free 1\n        min 1\n        low 1\n"
                         "        high 1\n        present  5\n%s", bad[i]);
                ck_assert_msg(zoneinfo_parse_nodes(text, n, 1) == -EBADMSG, "accepted: \"%s\"", bad[i]);
        }
        /* Before any zone. */
        ck_assert_int_eq(zoneinfo_parse_nodes("        protection: (0)\nNode 0, zone   Normal\n        present  5\n",
                                              n, 1), -EBADMSG);
}
END_TEST

START_TEST(used_pages) {
        /* A free buddy head, its tails (0), an anonymous LRU page, a THP tail, an idle free page. */
        const uint64_t flags[] = { 1u << 10, 0, 0, 0, (1u << 12) | (1u << 5) | (1u << 11), 1u << 16,
                                   (1u << 10) | (1u << 25), 1u << 25 };

        ck_assert_uint_eq(rebalance_used_pages(flags, ELEMENTSOF(flags)), 2);
        ck_assert_uint_eq(rebalance_used_pages(flags, 0), 0);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("rebalance");
        TCase *tc = tcase_create("pure");

        tcase_add_test(tc, room_snapshot);
        tcase_add_test(tc, room_small_guest);
        tcase_add_test(tc, room_without_normal);
        tcase_add_test(tc, protection_rejects);
        tcase_add_test(tc, used_pages);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return unit_main(suite());
}
