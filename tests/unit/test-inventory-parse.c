/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory.h"
#include "macro.h"
#include "procfs.h"
#include "unit-helpers.h"

/* The /proc/iomem section of the snapshot, cut out of the file that fixture_root() reads. */
static char *snapshot_section(const char *path) {
        char *text = fixture_text(SNAPSHOT_2NODE), *start, *end, *r;
        char header[128];

        snprintf(header, sizeof(header), "@@@ %s\n", path);
        start = strstr(text, header);
        ck_assert_msg(start, "%s not in the snapshot", path);
        start += strlen(header);
        end = strstr(start, "\n@@");
        r = strndup(start, end ? (size_t) (end - start) + 1 : strlen(start));
        ck_assert(r);
        free(text);
        return r;
}

static void parse_iomem(const char *text, IomemRange **ranges, size_t *n) {
        ck_assert_int_eq(iomem_parse(text, ranges, n), 0);
}

START_TEST(iomem_snapshot) {
        char *text = snapshot_section("/proc/iomem");
        IomemRange *r;
        size_t n;
        const IomemRange *x;

        parse_iomem(text, &r, &n);
        /* Only "System RAM" lines: two boot ranges, the virtio-mem range and the DIMM's range. */
        ck_assert_uint_eq(n, 4);

        x = iomem_lookup(r, n, 0x100000000ULL); /* memory32 */
        ck_assert_ptr_nonnull(x);
        ck_assert_int_eq(x->device, DEVICE_VIRTIO_MEM);
        ck_assert_uint_eq(x->start, 0x100000000ULL);
        ck_assert_uint_eq(x->end, 0x10fffffffULL);
        x = iomem_lookup(r, n, 0x108000000ULL); /* memory33 */
        ck_assert_ptr_nonnull(x);
        ck_assert_int_eq(x->device, DEVICE_VIRTIO_MEM);
        x = iomem_lookup(r, n, 0x10fffffffULL); /* last byte */
        ck_assert_ptr_nonnull(x);
        ck_assert_int_eq(x->device, DEVICE_VIRTIO_MEM);

        /* Inside "virtio0" but not plugged: not RAM. */
        ck_assert_ptr_null(iomem_lookup(r, n, 0x110000000ULL));

        /* Boot RAM and the ACPI DIMM are plain "System RAM". */
        x = iomem_lookup(r, n, 0x8000000ULL); /* memory1 */
        ck_assert_ptr_nonnull(x);
        ck_assert_int_eq(x->device, DEVICE_UNKNOWN);
        ck_assert_uint_eq(x->start, 0x100000);
        ck_assert_uint_eq(x->end, 0x3fffffff);
        x = iomem_lookup(r, n, 0x218000000ULL); /* memory67 */
        ck_assert_ptr_nonnull(x);
        ck_assert_int_eq(x->device, DEVICE_UNKNOWN);
        ck_assert_uint_eq(x->start, 0x200000000ULL);

        /* Outside any System RAM: reserved, PCI, holes, and beyond the end. */
        ck_assert_ptr_null(iomem_lookup(r, n, 0));
        ck_assert_ptr_null(iomem_lookup(r, n, 0x40000000ULL));
        ck_assert_ptr_null(iomem_lookup(r, n, 0xfee00000ULL));
        ck_assert_ptr_null(iomem_lookup(r, n, 0x220000000ULL));
        ck_assert_ptr_null(iomem_lookup(r, n, UINT64_MAX));
        free(r);
        free(text);
}
END_TEST

START_TEST(iomem_virtio_mem_sample) {
        char *text = fixture_text("iomem-virtio-mem.txt");
        IomemRange *r;
        size_t n;
        const IomemRange *x;

        parse_iomem(text, &r, &n);
        ck_assert_uint_eq(n, 6);
        x = iomem_lookup(r, n, 0x140000000ULL);
        ck_assert_ptr_nonnull(x);
        ck_assert_int_eq(x->device, DEVICE_VIRTIO_MEM);
        ck_assert_uint_eq(x->end, 0x1bfffffffULL);
        x = iomem_lookup(r, n, 0x348000000ULL);
        ck_assert_ptr_nonnull(x);
        ck_assert_int_eq(x->device, DEVICE_VIRTIO_MEM);
        ck_assert_uint_eq(x->start, 0x348000000ULL);
        /* Boot RAM above 4 GiB, right below the first device. */
        x = iomem_lookup(r, n, 0x13fffffffULL);
        ck_assert_ptr_nonnull(x);
        ck_assert_int_eq(x->device, DEVICE_UNKNOWN);
        ck_assert_ptr_null(iomem_lookup(r, n, 0x1c0000000ULL)); /* virtio0, not plugged */
        ck_assert_ptr_null(iomem_lookup(r, n, 0x350000000ULL)); /* virtio1, not plugged */
        ck_assert_ptr_null(iomem_lookup(r, n, 0x7000000000ULL));
        free(r);
        free(text);
}
END_TEST

START_TEST(iomem_cxl_kmem_sample) {
        char *text = fixture_text("iomem-cxl-kmem.txt");
        IomemRange *r;
        size_t n;
        const IomemRange *x;

        parse_iomem(text, &r, &n);
        ck_assert_uint_eq(n, 5);
        /* "CXL Window 0" > "region0" > "dax0.0" > "System RAM (kmem)" */
        x = iomem_lookup(r, n, 0x480000000ULL);
        ck_assert_ptr_nonnull(x);
        ck_assert_int_eq(x->device, DEVICE_DAX_KMEM);
        ck_assert_uint_eq(x->start, 0x480000000ULL);
        ck_assert_uint_eq(x->end, 0x67fffffffULL);
        /* PMEM: "Persistent Memory" > "namespace0.0" > "dax1.0" > "System RAM (kmem)" */
        x = iomem_lookup(r, n, 0x888000000ULL);
        ck_assert_ptr_nonnull(x);
        ck_assert_int_eq(x->device, DEVICE_DAX_KMEM);
        /* The namespace's metadata in front of dax1.0 is not RAM. */
        ck_assert_ptr_null(iomem_lookup(r, n, 0x880000000ULL));
        /* The rest of the window and a region without kmem. */
        ck_assert_ptr_null(iomem_lookup(r, n, 0x680000000ULL));
        ck_assert_ptr_null(iomem_lookup(r, n, 0xa00000000ULL));
        x = iomem_lookup(r, n, 0x400000000ULL);
        ck_assert_ptr_nonnull(x);
        ck_assert_int_eq(x->device, DEVICE_UNKNOWN);
        free(r);
        free(text);
}
END_TEST

START_TEST(iomem_odd_lines) {
        IomemRange *r;
        size_t n;

        /* Upper-case hex, deep indentation, names that only start like "System RAM". */
        parse_iomem("00001000-00001FFF : System RAM\n"
                    "      00002000-00002fff : System RAMBO\n"
                    "00003000-00003fff : System RAM (virtio_mem)\n"
                    "00004000-00004fff : System RAM (kmem) \n"
                    "00000000-00000000 : System RAM\n", &r, &n);
        ck_assert_uint_eq(n, 5);
        ck_assert_uint_eq(r[0].start, 0x1000);
        ck_assert_uint_eq(r[0].end, 0x1fff);
        ck_assert_int_eq(r[1].device, DEVICE_UNKNOWN);
        ck_assert_int_eq(r[2].device, DEVICE_VIRTIO_MEM);
        ck_assert_uint_eq(r[2].end, 0x3fff);
        ck_assert_int_eq(r[3].device, DEVICE_UNKNOWN); /* not the kernel's exact name */
        free(r);

        /* 64-bit limits. */
        parse_iomem("ffffffffffffffff-ffffffffffffffff : System RAM\n", &r, &n);
        ck_assert_uint_eq(n, 1);
        ck_assert_uint_eq(r[0].start, UINT64_MAX);
        ck_assert_ptr_eq(iomem_lookup(r, n, UINT64_MAX), &r[0]);
        free(r);
}
END_TEST

/* Hostile-input review: every text the kernel would not print is -EBADMSG, and nothing is returned. */
START_TEST(iomem_rejects) {
        static const char *const bad[] = {
                "",                                                     /* empty: no System RAM */
                "00000000-00000fff : Reserved\n",                       /* no System RAM at all */
                "\n00001000-00001fff : System RAM\n",                   /* blank line */
                "garbage\n00001000-00001fff : System RAM\n",
                "00001000-00001fff : System RAM\n00002000-00002fff : System",  /* cut mid-line */
                "00001000-00001fff : System RAM",                       /* no final newline */
                "00002000-00001000 : System RAM\n",                     /* inverted */
                "  : System RAM\n",
                "-1-fff : System RAM\n",                                /* sign */
                "00001000--1 : System RAM\n",
                "0x1000-0x1fff : System RAM\n",                         /* prefix */
                "10000000000000000-10000000000000001 : System RAM\n",   /* 65 bits */
                "00001000-00001fff: System RAM\n",                      /* separator */
                "00001000-00001fff : \n",                               /* no name */
                "00001000 - 00001fff : System RAM\n",
                "\t00001000-00001fff : System RAM\n",                   /* tab indentation */
                "00001000-00001fff : System RAM\r\n00002000-00002fff\r\n",
        };
        IomemRange *r = (IomemRange *) 0x1;
        size_t n = 77;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ck_assert_msg(iomem_parse(bad[i], &r, &n) == -EBADMSG, "accepted: \"%s\"", bad[i]);
                ck_assert_ptr_eq(r, (IomemRange *) 0x1);
                ck_assert_uint_eq(n, 77);
        }
}
END_TEST

/* A newline inside a range line is not skipped as whitespace (sscanf " %llx" did). */
START_TEST(iomem_line_bounds) {
        IomemRange *r;
        size_t n;

        ck_assert_int_eq(iomem_parse("00001000-\n00001fff : System RAM\n", &r, &n), -EBADMSG);
        ck_assert_int_eq(iomem_parse("00001000-00001fff :\nSystem RAM\n", &r, &n), -EBADMSG);
        /* A very long name is fine (the old parser skipped lines over 168 bytes). */
        {
                char line[600];
                int l = snprintf(line, sizeof(line), "00001000-00001fff : System RAM (virtio_mem)\n"
                                 "  00002000-00002fff : %0500d\n", 0);

                ck_assert_int_lt(l, (int) sizeof(line));
                parse_iomem(line, &r, &n);
                ck_assert_uint_eq(n, 1);
                free(r);
        }
}
END_TEST

START_TEST(zoneinfo_snapshot) {
        char *text = snapshot_section("/proc/zoneinfo");
        uint64_t kernel[4], movable[4];

        memset(kernel, 0xff, sizeof(kernel));
        memset(movable, 0xff, sizeof(movable));
        ck_assert_int_eq(zoneinfo_parse(text, kernel, movable, 4), 0);
        ck_assert_uint_eq(kernel[0], 3998 + 258048 + 32768);
        ck_assert_uint_eq(movable[0], 65536);
        ck_assert_uint_eq(kernel[1], 0);
        ck_assert_uint_eq(movable[1], 65536);
        /* Nodes without a zone in the file are zeroed. */
        ck_assert_uint_eq(kernel[2], 0);
        ck_assert_uint_eq(movable[3], 0);
        free(text);
}
END_TEST

START_TEST(zoneinfo_sample) {
        char *text = fixture_text("zoneinfo-cxl.txt");
        uint64_t kernel[2], movable[2];

        ck_assert_int_eq(zoneinfo_parse(text, kernel, movable, 2), 0);
        ck_assert_uint_eq(kernel[0], 3998 + 392160 + 3670016);
        ck_assert_uint_eq(movable[0], 0);
        ck_assert_uint_eq(kernel[1], 0);
        ck_assert_uint_eq(movable[1], 2097152);

        /* A node beyond the arrays is an error, not a silent overflow. */
        ck_assert_int_eq(zoneinfo_parse(text, kernel, movable, 1), -ERANGE);
        free(text);
}
END_TEST

START_TEST(zoneinfo_rejects) {
        static const char *const bad[] = {
                "",
                "nothing here\n present 5\n",
                /* "present" before any zone header counts nowhere: not the kernel's file. */
                "        present  7\nNode 0, zone   Normal\n        present  5\n",
                /* Cut short: mid-line, a zone without its present line, no final newline. */
                "Node 0, zone   Normal\n        pres",
                "Node 0, zone   Normal\n        present  5\nNode 0, zone  Movable\n        spanned  0\n",
                "Node 0, zone   Normal\n        present  5\nNode 0, zone  Movable\n",
                "Node 0, zone   Normal\n        present  5",
                /* Counts the kernel never prints. */
                "Node 0, zone   Normal\n        present  18446744073709551615\n",
                "Node 0, zone   Normal\n        present  18446744073709551616\n",
                "Node 0, zone   Normal\n        present  -1\n",
                "Node 0, zone   Normal\n        present  +1\n",
                "Node 0, zone   Normal\n        present  0x10\n",
                "Node 0, zone   Normal\n        present  12abc\n",
                "Node 0, zone   Normal\n        present\n",
                "Node 0, zone   Normal\n        present  1099511627777\n", /* 2^40 + 1 */
                /* Twice the same zone, twice "present", nodes going backwards. */
                "Node 0, zone   Normal\n        present  5\nNode 0, zone   Normal\n        present  5\n",
                "Node 0, zone   Normal\n        present  5\n        present  5\n",
                "Node 1, zone   Normal\n        present  5\nNode 0, zone  Movable\n        present  5\n",
                /* Headers that start like one but are not. */
                "Node -1, zone   Normal\n        present  5\n",
                "Node 0 zone   Normal\n        present  5\n",
                "Node 0, zone\n        present  5\n",
                "Node 0, zone   Nor/mal\n        present  5\n",
                "Node 0, zone   Normal extra\n        present  5\n",
                "Node 0, zone   Normal\r\n        present  5\r\n",
        };
        uint64_t kernel[2] = { 1, 2 }, movable[2] = { 3, 4 };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ck_assert_msg(zoneinfo_parse(bad[i], kernel, movable, 2) == -EBADMSG, "accepted: \"%s\"", bad[i]);
                /* Not written on failure. */
                ck_assert_uint_eq(kernel[0], 1);
                ck_assert_uint_eq(kernel[1], 2);
                ck_assert_uint_eq(movable[0], 3);
                ck_assert_uint_eq(movable[1], 4);
        }
}
END_TEST

/* A blank line made sscanf(" present %llu") read the next line too: the count was added twice. */
START_TEST(zoneinfo_blank_line) {
        uint64_t kernel[1], movable[1];

        ck_assert_int_eq(zoneinfo_parse("Node 0, zone   Normal\n\n        present  5\n        managed  5\n\n",
                                        kernel, movable, 1), 0);
        ck_assert_uint_eq(kernel[0], 5);
        ck_assert_uint_eq(movable[0], 0);
        /* Words that merely start with "present" are other fields. */
        ck_assert_int_eq(zoneinfo_parse("Node 0, zone  Movable\n        presently 9\n        present 6\n",
                                        kernel, movable, 1), 0);
        ck_assert_uint_eq(kernel[0], 0);
        ck_assert_uint_eq(movable[0], 6);
}
END_TEST

/* Sums stop at ZONEINFO_PAGES_MAX instead of wrapping (UBSan flagged the old sum). */
START_TEST(zoneinfo_sums_bounded) {
        uint64_t kernel[1], movable[1];

        ck_assert_int_eq(zoneinfo_parse("Node 0, zone   Normal\n        present  1099511627776\n"
                                        "Node 0, zone  Movable\n        present  1099511627776\n",
                                        kernel, movable, 1), 0);
        ck_assert_uint_eq(kernel[0], ZONEINFO_PAGES_MAX);
        ck_assert_uint_eq(movable[0], ZONEINFO_PAGES_MAX);
        ck_assert_int_eq(zoneinfo_parse("Node 0, zone      DMA\n        present  1099511627776\n"
                                        "Node 0, zone   Normal\n        present  1\n",
                                        kernel, movable, 1), -EBADMSG);
        /* Device pages are not counted, but still must be a number. */
        ck_assert_int_eq(zoneinfo_parse("Node 0, zone   Normal\n        present  3\n"
                                        "Node 0, zone   Device\n        present  1099511627776\n",
                                        kernel, movable, 1), 0);
        ck_assert_uint_eq(kernel[0], 3);
        ck_assert_uint_eq(movable[0], 0);
}
END_TEST

/* "Node 5000" beyond the caller's arrays is -ERANGE, told apart from a malformed file. */
START_TEST(zoneinfo_node_beyond) {
        uint64_t kernel[4] = { 9, 9, 9, 9 }, movable[4] = { 9, 9, 9, 9 };

        ck_assert_int_eq(zoneinfo_parse("Node 0, zone   Normal\n        present  5\n"
                                        "Node 5000, zone   Normal\n        present  5\n",
                                        kernel, movable, 4), -ERANGE);
        ck_assert_int_eq(zoneinfo_parse("Node 4, zone   Normal\n        present  5\n", kernel, movable, 4), -ERANGE);
        ck_assert_int_eq(zoneinfo_parse("Node 99999999999999999999999, zone   Normal\n        present  5\n",
                                        kernel, movable, 4), -ERANGE);
        ck_assert_uint_eq(kernel[0], 9);
        ck_assert_uint_eq(movable[3], 9);
        ck_assert_int_eq(zoneinfo_parse("Node 3, zone   Normal\n        present  5\n", kernel, movable, 4), 0);
        ck_assert_uint_eq(kernel[3], 5);
        ck_assert_uint_eq(kernel[0], 0);
        ck_assert_int_eq(zoneinfo_parse("Node 0, zone   Normal\n        present  5\n", kernel, movable, 0), -ERANGE);
}
END_TEST

/* Free pages and watermarks from the real 6.1 file: the kernel zones (DMA, DMA32, Normal) summed apart
 * from Movable, Device left out; the pagesets' "high:" is not the high watermark. */
START_TEST(zoneinfo_watermarks_snapshot) {
        char *text = snapshot_section("/proc/zoneinfo");
        ZoneinfoNode n[3];

        memset(n, 0xff, sizeof(n));
        ck_assert_int_eq(zoneinfo_parse_nodes(text, n, 3), 0);
        ck_assert(n[0].has_zone && !n[0].watermarks_missing);
        ck_assert_uint_eq(n[0].kernel_present, 3998 + 258048 + 32768);
        ck_assert_uint_eq(n[0].kernel_free, 3808 + 211631 + 32146);
        ck_assert_uint_eq(n[0].kernel_min, 127 + 7479 + 1087);
        ck_assert_uint_eq(n[0].kernel_low, 158 + 9348 + 1358);
        ck_assert_uint_eq(n[0].kernel_high, 189 + 11217 + 1629);
        ck_assert_uint_eq(n[0].movable_free, 65056);
        ck_assert_uint_eq(n[0].movable_high, 3260);
        ck_assert_uint_eq(n[0].file_pages, 0); /* nr_zone_{in,}active_file: 0 in this guest */
        /* Node 1 is CPU-less with only hot-added movable memory: empty kernel zones. */
        ck_assert(n[1].has_zone && !n[1].watermarks_missing);
        ck_assert_uint_eq(n[1].kernel_present, 0);
        ck_assert_uint_eq(n[1].kernel_free, 0);
        ck_assert_uint_eq(n[1].kernel_high, 0);
        ck_assert_uint_eq(n[1].movable_free, 65536);
        ck_assert_uint_eq(n[1].movable_high, 3260);
        ck_assert(!n[2].has_zone);
        ck_assert_uint_eq(n[2].kernel_free, 0);
        free(text);
}
END_TEST

/* A hand-made file without watermarks parses as before, and says so. */
START_TEST(zoneinfo_watermarks_missing) {
        char *text = fixture_text("zoneinfo-cxl.txt");
        ZoneinfoNode n[2];

        ck_assert_int_eq(zoneinfo_parse_nodes(text, n, 2), 0);
        ck_assert(n[0].watermarks_missing); /* DMA32 has "pages free" but no min/low/high */
        ck_assert_uint_eq(n[0].kernel_free, 3840);
        ck_assert_uint_eq(n[0].kernel_min, 12);
        free(text);

        ck_assert_int_eq(zoneinfo_parse_nodes("Node 0, zone   Normal\n  pages free     7\n        min      1\n"
                                              "        low      2\n        high     3\n        present  9\n", n, 1), 0);
        ck_assert(!n[0].watermarks_missing);
        ck_assert_uint_eq(n[0].kernel_free, 7);
        ck_assert_uint_eq(n[0].kernel_high, 3);
        /* Page cache per zone, summed over the node's zones. */
        ck_assert_int_eq(zoneinfo_parse_nodes("Node 0, zone   Normal\n      nr_zone_inactive_file 5\n"
                                              "      nr_zone_active_file 6\n        present  9\n"
                                              "Node 0, zone  Movable\n      nr_zone_active_file 7\n        present  9\n",
                                              n, 1), 0);
        ck_assert_uint_eq(n[0].file_pages, 18);
}
END_TEST

START_TEST(zoneinfo_watermarks_rejects) {
        static const char *const bad[] = {
                /* min/low/high are one block: one missing is not the kernel's file. */
                "Node 0, zone   Normal\n  pages free 7\n        min 1\n        low 2\n        present 9\n",
                "Node 0, zone   Normal\n        high 3\n        present 9\n",
                /* Twice, before any zone, bad counts. */
                "Node 0, zone   Normal\n  pages free 7\n  pages free 7\n        present 9\n",
                "Node 0, zone   Normal\n        min 1\n        min 1\n        low 2\n        high 3\n        present 9\n",
                "        min 1\nNode 0, zone   Normal\n        present 9\n",
                "Node 0, zone   Normal\n  pages free -7\n        present 9\n",
                "Node 0, zone   Normal\n  pages free 7x\n        present 9\n",
                "Node 0, zone   Normal\n        min 1\n        low 2\n        high 1099511627777\n        present 9\n",
                "Node 0, zone   Normal\n  pages free\n        present 9\n",
        };
        ZoneinfoNode n[1] = { { .kernel_free = 42 } };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ck_assert_msg(zoneinfo_parse_nodes(bad[i], n, 1) == -EBADMSG, "accepted: \"%s\"", bad[i]);
                ck_assert_uint_eq(n[0].kernel_free, 42); /* not written on failure */
        }
        /* Other words that start like ours are not ours. */
        ck_assert_int_eq(zoneinfo_parse_nodes("Node 0, zone   Normal\n        highatomic 5\n              high:  79\n"
                                              "        minimum 3\n        present 9\n", n, 1), 0);
        ck_assert(n[0].watermarks_missing);
        ck_assert_uint_eq(n[0].kernel_high, 0);
}
END_TEST

START_TEST(indexed_names) {
        uint32_t v = 7;

        ck_assert_int_eq(parse_indexed_name("memory12", "memory", &v), 0);
        ck_assert_uint_eq(v, 12);
        ck_assert_int_eq(parse_indexed_name("memory0", "memory", &v), 0);
        ck_assert_uint_eq(v, 0);
        ck_assert_int_eq(parse_indexed_name("node3", "node", &v), 0);
        ck_assert_uint_eq(v, 3);
        ck_assert_int_eq(parse_indexed_name("memory4294967294", "memory", &v), 0);
        ck_assert_uint_eq(v, 4294967294u);

        v = 7;
        ck_assert_int_lt(parse_indexed_name("memory012", "memory", &v), 0);
        ck_assert_int_lt(parse_indexed_name("memory00", "memory", &v), 0);
        ck_assert_int_lt(parse_indexed_name("memory", "memory", &v), 0);
        ck_assert_int_lt(parse_indexed_name("memoryX", "memory", &v), 0);
        ck_assert_int_lt(parse_indexed_name("memory1x", "memory", &v), 0);
        ck_assert_int_lt(parse_indexed_name("memory-1", "memory", &v), 0);
        ck_assert_int_lt(parse_indexed_name("memory+1", "memory", &v), 0);
        ck_assert_int_lt(parse_indexed_name("memory 1", "memory", &v), 0);
        ck_assert_int_lt(parse_indexed_name("node3", "memory", &v), 0);
        ck_assert_int_lt(parse_indexed_name("memory12", "node", &v), 0);
        ck_assert_int_lt(parse_indexed_name("memory_tier1", "memory", &v), 0);
        ck_assert_int_lt(parse_indexed_name("memory4294967295", "memory", &v), 0);
        ck_assert_int_lt(parse_indexed_name("memory99999999999999999999999", "memory", &v), 0);
        ck_assert_uint_eq(v, 7);
}
END_TEST

static Suite *inventory_parse_suite(void) {
        Suite *s = suite_create("inventory-parse");
        TCase *tc = tcase_create("iomem");

        tcase_add_test(tc, iomem_snapshot);
        tcase_add_test(tc, iomem_virtio_mem_sample);
        tcase_add_test(tc, iomem_cxl_kmem_sample);
        tcase_add_test(tc, iomem_odd_lines);
        tcase_add_test(tc, iomem_rejects);
        tcase_add_test(tc, iomem_line_bounds);
        suite_add_tcase(s, tc);

        tc = tcase_create("zoneinfo");
        tcase_add_test(tc, zoneinfo_snapshot);
        tcase_add_test(tc, zoneinfo_sample);
        tcase_add_test(tc, zoneinfo_rejects);
        tcase_add_test(tc, zoneinfo_blank_line);
        tcase_add_test(tc, zoneinfo_sums_bounded);
        tcase_add_test(tc, zoneinfo_node_beyond);
        tcase_add_test(tc, zoneinfo_watermarks_snapshot);
        tcase_add_test(tc, zoneinfo_watermarks_missing);
        tcase_add_test(tc, zoneinfo_watermarks_rejects);
        suite_add_tcase(s, tc);

        tc = tcase_create("names");
        tcase_add_test(tc, indexed_names);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return unit_main(inventory_parse_suite());
}
