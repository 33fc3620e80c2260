/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* memhpctl's renderers (memhpctl-render.c) on fixture run lists: exact table and JSON text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memhpctl-render.h"
#include "unit-helpers.h"

static const RunRow runs[] = {
        { 0, 7, "online", "DMA32", 0, "", "boot", "" },
        { 32, 35, "online", "Movable", 1, "acpi-dimm", "policy", "/etc/memhpd/policies.d/50-dimm.policy:2" },
        { 36, 36, "offline", "", -1, "virtio-mem", "no policy", "" },
};
static const NodeRow nodes[] = {
        { 0, 1073741824, 0, 8, 0 },
        { 1, 0, 536870912, 4, 0 },
};
static const StatusHeader header = {
        .version = "0.1",
        .status = "Managing 13 memory blocks on 2 nodes (1 offline); 1 policy; 4 onlined, 0 failed",
        .event_source = "kernel",
        .memmap = "memory_hotplug.memmap_on_memory=off (kernel 6.1): the memmap of hot-added memory comes from existing memory",
        .kernel_zones = "watching kernel-memory growth and reclaim (tracepoints, no polling); 2 blocks moved from ZONE_MOVABLE to a kernel zone since start",
        .policies = 1,
        .conflicts = 0,
        .config_ok = true,
        .block_size = 128 << 20,
        .blocks = 13,
        .offline = 1,
        .onlined = 4,
};

typedef void (*render_t)(FILE *, const StatusHeader *, const RunRow *, size_t, const NodeRow *, size_t,
                         const RenderOptions *);

static char *render(render_t fn, const StatusHeader *h, const RunRow *r, size_t n, const RenderOptions *o) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        ck_assert_ptr_nonnull(f);
        fn(f, h, r, n, nodes, 2, o);
        ck_assert_int_eq(fclose(f), 0);
        return buf;
}

START_TEST(table_runs) {
        RenderOptions o = { .legend = true };
        char *t = render(render_status_table, &header, runs, 3, &o);

        ck_assert_str_eq(t,
                "memhpd 0.1: Managing 13 memory blocks on 2 nodes (1 offline); 1 policy; 4 onlined, 0 failed\n"
                "Source: kernel uevents; policies: 1; conflicts: 0; block size: 128M\n"
                "Memmap: memory_hotplug.memmap_on_memory=off (kernel 6.1): the memmap of hot-added memory comes from existing memory\n"
                "Kernel zones: watching kernel-memory growth and reclaim (tracepoints, no polling); 2 blocks moved from ZONE_MOVABLE to a kernel zone since start\n"
                "Node 0: 1G kernel, 0B movable; 8 blocks, 0 offline\n"
                "Node 1: 0B kernel, 512M movable; 4 blocks, 0 offline\n"
                "\n"
                "RANGE                                 SIZE STATE   ZONE    NODE DEVICE     BLOCK DECIDED BY\n"
                "0x0000000000000000-0x000000003fffffff   1G online  DMA32      0 -            0-7 boot\n"
                "0x0000000100000000-0x000000011fffffff 512M online  Movable    1 acpi-dimm  32-35 policy /etc/memhpd/policies.d/50-dimm.policy:2\n"
                "0x0000000120000000-0x0000000127ffffff 128M offline -          - virtio-mem    36 no policy\n");
        free(t);
}
END_TEST

START_TEST(table_no_legend_blocks) {
        RenderOptions o = { .blocks = true };
        char *t = render(render_status_table, &header, runs + 1, 2, &o);

        /* One row per block, no header, no titles: what a script reads with cut or awk. */
        ck_assert_str_eq(t,
                "0x0000000100000000-0x0000000107ffffff 128M online  Movable 1 acpi-dimm  32 policy /etc/memhpd/policies.d/50-dimm.policy:2\n"
                "0x0000000108000000-0x000000010fffffff 128M online  Movable 1 acpi-dimm  33 policy /etc/memhpd/policies.d/50-dimm.policy:2\n"
                "0x0000000110000000-0x0000000117ffffff 128M online  Movable 1 acpi-dimm  34 policy /etc/memhpd/policies.d/50-dimm.policy:2\n"
                "0x0000000118000000-0x000000011fffffff 128M online  Movable 1 acpi-dimm  35 policy /etc/memhpd/policies.d/50-dimm.policy:2\n"
                "0x0000000120000000-0x0000000127ffffff 128M offline -       - virtio-mem 36 no policy\n");
        free(t);
}
END_TEST

START_TEST(table_colour_only_when_asked) {
        RenderOptions o = { .legend = true, .colour = true };
        char *t = render(render_status_table, &header, runs, 3, &o);

        ck_assert_ptr_nonnull(strstr(t, "\033[0;33moffline\033[0m"));
        ck_assert_ptr_nonnull(strstr(t, "\033[1mmemhpd\033[0m"));
        free(t);
        o.colour = false;
        t = render(render_status_table, &header, runs, 3, &o);
        ck_assert_ptr_null(strchr(t, '\033'));
        free(t);
}
END_TEST

START_TEST(json_runs) {
        RenderOptions o = {};
        char *t = render(render_status_json, &header, runs, 3, &o);

        ck_assert_str_eq(t,
                "{\n"
                "   \"memhpd\": {\"version\": \"0.1\", \"status\": \"Managing 13 memory blocks on 2 nodes (1 offline); 1 policy; 4 onlined, 0 failed\", "
                "\"event_source\": \"kernel\", \"memmap\": \"memory_hotplug.memmap_on_memory=off (kernel 6.1): the memmap of hot-added memory comes from existing memory\", \"kernel_zones\": \"watching kernel-memory growth and reclaim (tracepoints, no polling); 2 blocks moved from ZONE_MOVABLE to a kernel zone since start\", \"policies\": 1, \"config_ok\": true, \"dry_run\": false, \"conflicts\": 0, "
                "\"block_size\": 134217728, \"blocks\": 13, \"offline\": 1, \"onlined\": 4, \"failed\": 0},\n"
                "   \"memory\": [\n"
                "      {\"range\": \"0x0000000000000000-0x000000003fffffff\", \"size\": 1073741824, \"state\": \"online\", \"zone\": \"DMA32\", \"node\": 0, \"device\": null, \"block\": \"0-7\", \"decided_by\": \"boot\", \"policy\": null},\n"
                "      {\"range\": \"0x0000000100000000-0x000000011fffffff\", \"size\": 536870912, \"state\": \"online\", \"zone\": \"Movable\", \"node\": 1, \"device\": \"acpi-dimm\", \"block\": \"32-35\", \"decided_by\": \"policy\", \"policy\": \"/etc/memhpd/policies.d/50-dimm.policy:2\"},\n"
                "      {\"range\": \"0x0000000120000000-0x0000000127ffffff\", \"size\": 134217728, \"state\": \"offline\", \"zone\": null, \"node\": null, \"device\": \"virtio-mem\", \"block\": \"36\", \"decided_by\": \"no policy\", \"policy\": null}\n"
                "   ],\n"
                "   \"nodes\": [\n"
                "      {\"node\": 0, \"kernel_bytes\": 1073741824, \"movable_bytes\": 0, \"blocks\": 8, \"offline\": 0},\n"
                "      {\"node\": 1, \"kernel_bytes\": 0, \"movable_bytes\": 536870912, \"blocks\": 4, \"offline\": 0}\n"
                "   ],\n"
                "   \"conflicting_agents\": []\n"
                "}\n");
        free(t);
}
END_TEST

START_TEST(json_blocks_and_empty) {
        RenderOptions o = { .blocks = true };
        char *t = render(render_status_json, &header, runs + 1, 1, &o);

        ck_assert_ptr_nonnull(strstr(t, "\"block\": \"32\""));
        ck_assert_ptr_nonnull(strstr(t, "\"block\": \"35\""));
        ck_assert_ptr_null(strstr(t, "\"block\": \"32-35\""));
        ck_assert_ptr_nonnull(strstr(t, "\"range\": \"0x0000000118000000-0x000000011fffffff\", \"size\": 134217728"));
        free(t);

        t = render(render_status_json, &header, runs, 0, &o);
        ck_assert_ptr_nonnull(strstr(t, "\"memory\": [],\n"));
        free(t);
}
END_TEST

START_TEST(json_escapes) {
        StatusHeader h = header;
        RunRow r = runs[1];
        RenderOptions o = {};
        char *t;

        /* A policy path is the administrator's: quotes, backslashes and control bytes stay valid JSON. */
        h.status = "a \"quoted\" \\ line\n";
        r.policy = "/etc/memhpd/policies.d/x\"y\\z\t\001.policy:1";
        t = render(render_status_json, &h, &r, 1, &o);
        ck_assert_ptr_nonnull(strstr(t, "\"status\": \"a \\\"quoted\\\" \\\\ line\\n\""));
        ck_assert_ptr_nonnull(strstr(t, "\"policy\": \"/etc/memhpd/policies.d/x\\\"y\\\\z\\t\\u0001.policy:1\""));
        free(t);
}
END_TEST

START_TEST(conflicts_listed) {
        static const ConflictRow rows[] = {
                { "udev", "/etc/udev/rules.d/40-redhat.rules:8", "onlines every hot-added block" },
                { "cmdline", "", "memhp_default_state=online" },
        };
        StatusHeader h = header;
        RenderOptions o = { .legend = true };
        char *t;

        h.conflicts = 2;
        h.conflict_rows = rows;
        t = render(render_status_table, &h, runs, 1, &o);
        ck_assert_ptr_nonnull(strstr(t, "conflicts: 2;"));
        ck_assert_ptr_nonnull(strstr(t, "\nConflict: udev /etc/udev/rules.d/40-redhat.rules:8: onlines every hot-added block\n"));
        ck_assert_ptr_nonnull(strstr(t, "\nConflict: cmdline: memhp_default_state=online\n"));
        free(t);
        o.legend = false;
        t = render(render_status_table, &h, runs, 1, &o);
        ck_assert_ptr_null(strstr(t, "Conflict"));
        free(t);
        t = render(render_status_json, &h, runs, 1, &o);
        ck_assert_ptr_nonnull(strstr(t, "\"conflicting_agents\": [\n"
                                        "      {\"agent\": \"udev\", \"file\": \"/etc/udev/rules.d/40-redhat.rules:8\", \"text\": \"onlines every hot-added block\"},\n"
                                        "      {\"agent\": \"cmdline\", \"file\": null, \"text\": \"memhp_default_state=online\"}\n"
                                        "   ]\n}\n"));
        free(t);
}
END_TEST

START_TEST(sizes) {
        char b[16];

        format_size(128 << 20, b, sizeof(b));
        ck_assert_str_eq(b, "128M");
        format_size(4160749568ULL, b, sizeof(b)); /* lsmem's 3.9G */
        ck_assert_str_eq(b, "3.9G");
        format_size(16ULL << 40, b, sizeof(b));
        ck_assert_str_eq(b, "16T");
        format_size(0, b, sizeof(b));
        ck_assert_str_eq(b, "0B");
        format_size(1536ULL << 20, b, sizeof(b));
        ck_assert_str_eq(b, "1.5G");
}
END_TEST

static Suite *render_suite(void) {
        Suite *s = suite_create("render");
        TCase *tc = tcase_create("status");

        tcase_add_test(tc, table_runs);
        tcase_add_test(tc, table_no_legend_blocks);
        tcase_add_test(tc, table_colour_only_when_asked);
        tcase_add_test(tc, json_runs);
        tcase_add_test(tc, json_blocks_and_empty);
        tcase_add_test(tc, json_escapes);
        tcase_add_test(tc, conflicts_listed);
        tcase_add_test(tc, sizes);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return unit_main(render_suite());
}
