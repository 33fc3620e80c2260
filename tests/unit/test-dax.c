/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dax devices: the pure parsers of dax-parse.c, reading a device from a fixture tree laid out as a 6.12
 * guest shows an NVDIMM namespace in devdax mode, the memmap rules, and policy decisions per device. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dax.h"
#include "policy.h"
#include "uevent-parse.h"
#include "unit-helpers.h"

START_TEST(names) {
        ck_assert_int_eq(dax_name_valid("dax0.0"), 0);
        ck_assert_int_eq(dax_name_valid("dax12.3"), 0);
        ck_assert_int_eq(dax_name_valid("dax0"), -EINVAL);
        ck_assert_int_eq(dax_name_valid("dax0."), -EINVAL);
        ck_assert_int_eq(dax_name_valid("dax.0"), -EINVAL);
        ck_assert_int_eq(dax_name_valid("dax00.1"), -EINVAL);
        ck_assert_int_eq(dax_name_valid("dax0.0x"), -EINVAL);
        ck_assert_int_eq(dax_name_valid("dax-1.0"), -EINVAL);
        ck_assert_int_eq(dax_name_valid("dax_region0"), -EINVAL);
        ck_assert_int_eq(dax_name_valid("dax1234567890.0"), -EINVAL);
        ck_assert_int_eq(dax_name_valid(NULL), -EINVAL);
}
END_TEST

START_TEST(drivers_and_origins) {
        ck_assert_int_eq(dax_driver_from_link("../../../../../../../bus/dax/drivers/device_dax"), DAX_DRIVER_DEVICE_DAX);
        ck_assert_int_eq(dax_driver_from_link("../../../../bus/dax/drivers/kmem"), DAX_DRIVER_KMEM);
        ck_assert_int_eq(dax_driver_from_link("../../bus/dax/drivers/kmemx"), DAX_DRIVER_OTHER);
        ck_assert_int_eq(dax_driver_from_link(""), DAX_DRIVER_NONE);
        ck_assert_int_eq(dax_driver_from_link(NULL), DAX_DRIVER_NONE);

        ck_assert_int_eq(dax_origin_from_path("../../../devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/"
                                              "dax0.0/dax0.0"), DAX_ORIGIN_PMEM);
        ck_assert_int_eq(dax_origin_from_path("../../../devices/platform/ACPI0017:00/root0/decoder0.0/region0/"
                                              "dax_region0/dax0.0"), DAX_ORIGIN_CXL);
        ck_assert_int_eq(dax_origin_from_path("../../../devices/platform/hmem.0/dax0.0"), DAX_ORIGIN_SOFT_RESERVED);
        ck_assert_int_eq(dax_origin_from_path("../../../devices/virtual/foo/dax0.0"), DAX_ORIGIN_UNKNOWN);
        /* A component that only contains the word is not the kernel's device. */
        ck_assert_int_eq(dax_origin_from_path("../../../devices/xndbus/dax0.0"), DAX_ORIGIN_UNKNOWN);

        ck_assert_int_eq(dax_origin_from_string("soft-reserved"), DAX_ORIGIN_SOFT_RESERVED);
        ck_assert_int_eq(dax_origin_from_string("CXL"), -EINVAL);
}
END_TEST

START_TEST(iomem_soft_reserved) {
        const char *iomem = "00100000-5fffffff : System RAM\n"
                            "180000000-1bfffffff : Soft Reserved\n"
                            "  180000000-1bfffffff : dax0.0\n"
                            "1c0000000-1ffffffff : Soft Reservedx\n";

        ck_assert(dax_iomem_soft_reserved(iomem, 0x180000000, 0x1bfffffff));
        ck_assert(dax_iomem_soft_reserved(iomem, 0x190000000, 0x19fffffff));
        ck_assert(!dax_iomem_soft_reserved(iomem, 0x180000000, 0x1c0000000)); /* beyond its end */
        ck_assert(!dax_iomem_soft_reserved(iomem, 0x1c0000000, 0x1cfffffff)); /* another name */
        ck_assert(!dax_iomem_soft_reserved(iomem, 0x100000, 0x200000));
        ck_assert(!dax_iomem_soft_reserved("garbage\n-- : Soft Reserved\n", 0, 0));
}
END_TEST

START_TEST(versions_and_parameters) {
        ck_assert_int_eq(kernel_version_parse("6.1.0-28-amd64"), 6001);
        ck_assert_int_eq(kernel_version_parse("6.12.9+bpo-amd64"), 6012);
        ck_assert_int_eq(kernel_version_parse("5.10"), 5010);
        ck_assert_int_eq(kernel_version_parse("6"), -EINVAL);
        ck_assert_int_eq(kernel_version_parse("v6.1"), -EINVAL);
        ck_assert_int_eq(kernel_version_parse("6.1234"), -EINVAL);
        ck_assert_int_eq(memmap_param_parse("Y"), 1);
        ck_assert_int_eq(memmap_param_parse("N"), 0);
        ck_assert_int_eq(memmap_param_parse("force"), 2);
        ck_assert_int_eq(memmap_param_parse("yes"), -EINVAL);
        ck_assert_uint_eq(memmap_bytes(128ULL << 20, 4096), 2ULL << 20); /* 2 MiB per 128 MiB block */
}
END_TEST

#define MiB (1ULL << 20)

START_TEST(memmap_rules) {
        MemmapFacts f = { .device = DEVICE_ACPI_DIMM, .kernel_version = 6001, .global = 1, .dax_attribute = -1,
                          .add_size = 128 * MiB, .block_size = 128 * MiB };
        MemmapVerdict v;

        /* 6.1: only an add of exactly one block gets its memmap on itself. */
        memmap_verdict(&f, &v);
        ck_assert(v.on_memory);
        ck_assert(!v.policy_can_choose);
        f.add_size = 1024 * MiB;
        memmap_verdict(&f, &v);
        ck_assert(!v.on_memory);
        ck_assert_ptr_nonnull(strstr(v.why, "one memory block"));
        /* 6.12 splits a multi-block add per block. */
        f.kernel_version = 6012;
        memmap_verdict(&f, &v);
        ck_assert(v.on_memory);
        f.global = 0;
        memmap_verdict(&f, &v);
        ck_assert(!v.on_memory);
        ck_assert_ptr_nonnull(strstr(v.why, "boot parameter"));

        /* virtio-mem never asks, whatever the parameter. */
        f = (MemmapFacts) { .device = DEVICE_VIRTIO_MEM, .kernel_version = 6012, .global = 1, .dax_attribute = -1,
                            .add_size = 128 * MiB, .block_size = 128 * MiB };
        memmap_verdict(&f, &v);
        ck_assert(!v.on_memory);

        /* dax-kmem: the device's attribute decides, where it exists. */
        f = (MemmapFacts) { .device = DEVICE_DAX_KMEM, .kernel_version = 6012, .global = 1, .dax_attribute = 1,
                            .add_size = 896 * MiB, .block_size = 128 * MiB };
        memmap_verdict(&f, &v);
        ck_assert(v.on_memory);
        ck_assert(v.policy_can_choose);
        f.dax_attribute = 0;
        memmap_verdict(&f, &v);
        ck_assert(!v.on_memory);
        f.dax_attribute = -1; /* 6.1 */
        f.kernel_version = 6001;
        memmap_verdict(&f, &v);
        ck_assert(!v.on_memory);
        ck_assert(!v.policy_can_choose);
        ck_assert_ptr_nonnull(strstr(v.why, "6.8"));
}
END_TEST

/* dax0.0 of a QEMU NVDIMM namespace in devdax mode, as a 6.12 guest shows it. */
static char *dax_fixture(const char *driver, const char *memmap) {
        char *dir = test_tmpdir();
        const char *dev = "sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0/dax0.0";
        char path[256];

        snprintf(path, sizeof(path), "%s/size", dev);
        write_file(dir, path, "939524096\n");
        snprintf(path, sizeof(path), "%s/resource", dev);
        write_file(dir, path, "0x148200000\n");
        snprintf(path, sizeof(path), "%s/target_node", dev);
        write_file(dir, path, "1\n");
        snprintf(path, sizeof(path), "%s/align", dev);
        write_file(dir, path, "2097152\n");
        if (memmap) {
                snprintf(path, sizeof(path), "%s/memmap_on_memory", dev);
                write_file(dir, path, memmap);
        }
        make_dirs(dir, "sys/bus/dax/drivers/device_dax");
        make_dirs(dir, "sys/bus/dax/drivers/kmem");
        make_symlink(dir, "sys/bus/dax/devices/dax0.0",
                     "../../../devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0/dax0.0");
        if (driver) {
                char target[128];
                snprintf(path, sizeof(path), "%s/driver", dev);
                snprintf(target, sizeof(target), "../../../../../../../../bus/dax/drivers/%s", driver);
                make_symlink(dir, path, target);
        }
        return dir;
}

static int open_dir(const char *dir) {
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        return fd;
}

START_TEST(read_device) {
        char *dir = dax_fixture("device_dax", "0\n");
        const char *what = NULL;
        DaxDevice d;
        int fd = open_dir(dir);

        ck_assert_int_eq(dax_device_read(fd, "dax0.0", &d, &what), 0);
        ck_assert_str_eq(d.name, "dax0.0");
        ck_assert_uint_eq(d.size, 896 * MiB);
        ck_assert_uint_eq(d.start, 0x148200000);
        ck_assert_int_eq(d.target_node, 1);
        ck_assert_int_eq(d.driver, DAX_DRIVER_DEVICE_DAX);
        ck_assert_int_eq(d.origin, DAX_ORIGIN_PMEM);
        ck_assert_int_eq(d.memmap_attr, 0);
        ck_assert_int_eq(dax_device_read(fd, "dax1.0", &d, &what), -ENOENT);
        close(fd);
        free(dir);

        /* 6.1: no memmap_on_memory; kmem holds it. */
        dir = dax_fixture("kmem", NULL);
        fd = open_dir(dir);
        ck_assert_int_eq(dax_device_read(fd, "dax0.0", &d, &what), 0);
        ck_assert_int_eq(d.driver, DAX_DRIVER_KMEM);
        ck_assert_int_eq(d.memmap_attr, -1);
        close(fd);
        free(dir);

        /* A place in /sys/devices that names no origin: /proc/iomem's "Soft Reserved" says it. */
        dir = dax_fixture("device_dax", NULL);
        remove_tree(dir, "sys/bus/dax/devices/dax0.0");
        make_symlink(dir, "sys/bus/dax/devices/dax0.0", "../../../devices/virtual/x");
        fd = open_dir(dir);
        write_file(dir, "proc/iomem", "148000000-1803fffff : Soft Reserved\n  148200000-1801fffff : dax0.0\n");
        make_dirs(dir, "sys/devices/virtual/x");
        write_file(dir, "sys/devices/virtual/x/size", "939524096\n");
        write_file(dir, "sys/devices/virtual/x/resource", "0x148200000\n");
        ck_assert_int_eq(dax_device_read(fd, "dax0.0", &d, &what), 0);
        ck_assert_int_eq(d.origin, DAX_ORIGIN_SOFT_RESERVED);
        write_file(dir, "proc/iomem", "148000000-1803fffff : Reserved\n");
        ck_assert_int_eq(dax_device_read(fd, "dax0.0", &d, &what), 0);
        ck_assert_int_eq(d.origin, DAX_ORIGIN_UNKNOWN);
        close(fd);
        free(dir);

        /* No driver, a size that does not parse: the read fails and names the attribute. */
        dir = dax_fixture(NULL, "1\n");
        write_file(dir, "sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0/dax0.0/size", "lots\n");
        fd = open_dir(dir);
        ck_assert_int_eq(dax_device_read(fd, "dax0.0", &d, &what), -EINVAL);
        ck_assert_str_eq(what, "size");
        close(fd);
        free(dir);
}
END_TEST

START_TEST(policy_keys) {
        ConfErrors errors = {};
        Policy p;

        ck_assert_int_eq(policy_parse("/t.policy", "[Match]\nDaxDevice=dax0.* dax1.0\nOrigin=cxl pmem\nSize=1G-64G\n"
                                      "[Dax]\nMode=system-ram\n[Memmap]\nOnMemory=yes\n[Online]\nZone=movable\n",
                                      &p, &errors), 0);
        ck_assert_uint_eq(p.n_dax_names, 2);
        ck_assert_uint_eq(p.origins, (1u << DAX_ORIGIN_CXL) | (1u << DAX_ORIGIN_PMEM));
        ck_assert(p.dax_mode_set && p.dax_mode == DAX_MODE_SYSTEM_RAM);
        ck_assert_int_eq(p.memmap_on_memory, 1);
        policy_done(&p);

        /* Bad values name file, line and key. */
        ck_assert_int_eq(policy_parse("/t.policy", "[Match]\nOrigin=nvme\n", &p, &errors), -EINVAL);
        ck_assert_int_eq(policy_parse("/t.policy", "[Match]\nDaxDevice=/dev/dax0.0\n", &p, &errors), -EINVAL);
        ck_assert_int_eq(policy_parse("/t.policy", "[Dax]\nMode=ram\n", &p, &errors), -EINVAL);
        ck_assert_int_eq(policy_parse("/t.policy", "[Memmap]\nOnMemory=maybe\n", &p, &errors), -EINVAL);
        /* Cross-field: Mode= that can never match a dax device; OnMemory= for dax without system-ram. */
        ck_assert_int_eq(policy_parse("/t.policy", "[Match]\nDevice=acpi-dimm\n[Dax]\nMode=system-ram\n", &p, &errors),
                         -EINVAL);
        ck_assert_int_eq(policy_parse("/t.policy", "[Match]\nDevice=dax-kmem\n[Memmap]\nOnMemory=yes\n", &p, &errors),
                         -EINVAL);
        ck_assert_uint_eq(errors.n_total, 7); /* OnMemory=maybe alone also lacks [Match] */
        ck_assert_ptr_nonnull(strstr(errors.items[0].text, "/t.policy:2"));
        ck_assert_ptr_nonnull(strstr(errors.items[0].text, "unknown origin \"nvme\""));
        conf_errors_clear(&errors);
}
END_TEST

static DaxFacts pmem_facts(void) {
        return (DaxFacts) { .name = "dax0.0", .start = 0x148200000, .size = 896 * MiB, .target_node = 1,
                            .origin = DAX_ORIGIN_PMEM };
}

START_TEST(decide_device) {
        DaxFacts f = pmem_facts();
        DaxDecision d;
        PolicySet set;

        /* Nothing matches: devdax, nothing written. */
        set_from(&set, "[Match]\nDevice=virtio-mem\n[Online]\nZone=movable\n");
        policy_decide_dax(&set, &f, &d);
        ck_assert_int_eq(d.mode, DAX_MODE_DEVDAX);
        ck_assert_ptr_null(d.policy);
        policy_set_done(&set);

        /* First match wins; Origin=, Node= (the target node), Size= and the name glob all count. */
        set_from(&set, "[Match]\nOrigin=cxl\n[Dax]\nMode=system-ram\n",
                 "[Match]\nNode=0\n[Dax]\nMode=system-ram\n",
                 "[Match]\nSize=1G-1T\n[Dax]\nMode=system-ram\n",
                 "[Match]\nDaxDevice=dax1.*\n[Dax]\nMode=system-ram\n",
                 "[Match]\nDaxDevice=dax0.*\nOrigin=pmem\nNode=1\n[Dax]\nMode=system-ram\n[Memmap]\nOnMemory=yes\n");
        policy_decide_dax(&set, &f, &d);
        ck_assert_ptr_eq(d.policy, &set.items[4]);
        ck_assert_int_eq(d.mode, DAX_MODE_SYSTEM_RAM);
        ck_assert_int_eq(d.memmap_on_memory, 1);
        policy_set_done(&set);

        /* A matching policy without [Dax] Mode= keeps devdax; a Block= policy never matches a device. */
        set_from(&set, "[Match]\nBlock=41\n[Dax]\nMode=system-ram\n", "[Match]\nDevice=dax-kmem\n[Online]\nZone=movable\n");
        policy_decide_dax(&set, &f, &d);
        ck_assert_ptr_eq(d.policy, &set.items[1]);
        ck_assert_int_eq(d.mode, DAX_MODE_DEVDAX);
        ck_assert_int_eq(d.memmap_on_memory, -1);
        policy_set_done(&set);

        /* PhysAddress= must hold the whole device. */
        set_from(&set, "[Match]\nPhysAddress=0x148200000-0x150000000\n[Dax]\nMode=system-ram\n");
        policy_decide_dax(&set, &f, &d);
        ck_assert_ptr_null(d.policy);
        policy_set_done(&set);
}
END_TEST

START_TEST(blocks_of_a_device) {
        DaxFacts df = pmem_facts();
        BlockFacts b = { .index = 42, .start = 42 * 128 * MiB, .size = 128 * MiB, .device = DEVICE_DAX_KMEM, .node = 1,
                         .zones = { .kernel = true, .movable = true, .first = ZONE_NORMAL } };
        PolicySet set;
        Decision d;

        /* DaxDevice=/Origin= match a block only through its device. */
        set_from(&set, "[Match]\nOrigin=pmem\n[Dax]\nMode=system-ram\n[Online]\nZone=movable\n",
                 "[Match]\nDevice=any\n[Online]\nZone=kernel\n");
        policy_decide(&set, &b, &d);
        ck_assert_int_eq(d.action, ACTION_ONLINE_KERNEL);
        b.dax = &df;
        policy_decide(&set, &b, &d);
        ck_assert_int_eq(d.action, ACTION_ONLINE_MOVABLE);
        ck_assert_ptr_eq(d.policy, &set.items[0]);
        df.origin = DAX_ORIGIN_CXL;
        policy_decide(&set, &b, &d);
        ck_assert_ptr_eq(d.policy, &set.items[1]);
        policy_set_done(&set);
}
END_TEST

START_TEST(follow_the_device) {
        ZoneSet both = { .kernel = true, .movable = true, .first = ZONE_NORMAL };
        ZoneSet kernel_only = { .kernel = true, .first = ZONE_NORMAL };
        Decision d = { .action = ACTION_ONLINE_MOVABLE };

        snprintf(d.why, sizeof(d.why), "Zone=auto: ...");
        policy_decision_follow(&d, ACTION_ONLINE_KERNEL, &both, "dax0.0");
        ck_assert_int_eq(d.action, ACTION_ONLINE_KERNEL);
        ck_assert_str_eq(d.why, "as the other blocks of dax0.0 (one decision per device), not online_movable");
        /* A zone that is not offered, or a first block left offline, changes nothing. */
        d.action = ACTION_ONLINE_KERNEL;
        policy_decision_follow(&d, ACTION_ONLINE_MOVABLE, &kernel_only, "dax0.0");
        ck_assert_int_eq(d.action, ACTION_ONLINE_KERNEL);
        policy_decision_follow(&d, ACTION_LEAVE_OFFLINE, &both, "dax0.0");
        ck_assert_int_eq(d.action, ACTION_ONLINE_KERNEL);
}
END_TEST

START_TEST(dax_uevents) {
        const char *why = NULL;
        Uevent u;

        ck_assert_int_eq(uevent_parse("add", "/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0/dax0.0",
                                      "dax", NULL, &u, &why), 0);
        ck_assert_int_eq(u.subsystem, UEVENT_DAX);
        ck_assert_uint_eq(u.index, 0);
        ck_assert_uint_eq(u.id, 0);
        ck_assert_int_eq(uevent_parse("bind", "/devices/platform/hmem.0/dax12.3", "dax", NULL, &u, &why), 0);
        ck_assert_int_eq(u.action, UEVENT_BIND);
        ck_assert_uint_eq(u.index, 12);
        ck_assert_uint_eq(u.id, 3);
        /* The region device and anything not named daxX.Y are refused, saying why. */
        ck_assert_int_eq(uevent_parse("add", "/devices/platform/hmem.0/dax_region0", "dax", NULL, &u, &why), -EINVAL);
        ck_assert_ptr_nonnull(strstr(why, "daxX.Y"));
        ck_assert_int_eq(uevent_parse("add", "dax0.0", "dax", NULL, &u, &why), -EINVAL);
        ck_assert_int_eq(uevent_parse("add", "/devices/x/dax0.01", "dax", NULL, &u, &why), -EINVAL);
}
END_TEST

/* The shipped example is clean and does what its comment says. */
START_TEST(example_preset) {
        char *text = read_text(SOURCE_ROOT, "policies/examples/40-cxl-movable.policy");
        ConfErrors errors = {};
        DaxFacts f = pmem_facts();
        PolicySet set = {};
        DaxDecision d;
        Policy p;

        ck_assert_int_eq(policy_parse("/40-cxl-movable.policy", text, &p, &errors), 0);
        set.items = &p;
        set.n = 1;
        policy_decide_dax(&set, &f, &d);
        ck_assert_ptr_null(d.policy); /* pmem: not CXL */
        f.origin = DAX_ORIGIN_CXL;
        policy_decide_dax(&set, &f, &d);
        ck_assert_int_eq(d.mode, DAX_MODE_SYSTEM_RAM);
        ck_assert_int_eq(d.memmap_on_memory, 1);
        ck_assert_int_eq(p.zone, TARGET_MOVABLE);
        policy_done(&p);
        free(text);
}
END_TEST

static Suite *dax_suite(void) {
        Suite *s = suite_create("dax");
        TCase *tc = tcase_create("dax");

        tcase_add_test(tc, names);
        tcase_add_test(tc, drivers_and_origins);
        tcase_add_test(tc, iomem_soft_reserved);
        tcase_add_test(tc, versions_and_parameters);
        tcase_add_test(tc, memmap_rules);
        tcase_add_test(tc, read_device);
        tcase_add_test(tc, policy_keys);
        tcase_add_test(tc, decide_device);
        tcase_add_test(tc, blocks_of_a_device);
        tcase_add_test(tc, example_preset);
        tcase_add_test(tc, dax_uevents);
        tcase_add_test(tc, follow_the_device);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return unit_main(dax_suite());
}
