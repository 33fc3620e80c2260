/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns where the memmap of hot-added memory goes (on the added memory or in existing memory, by the
 * kernel's rules for each kind and the memory_hotplug.memmap_on_memory boot parameter), the summary
 * memhpctl status shows, and the memmap-risk record after a hot-add (memmap.h). dax.c decides the
 * per-device setting of dax devices and checks their risk before kmem binds. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "dax.h"
#include "log.h"
#include "manager.h"
#include "memmap.h"
#include "pressure.h"
#include "settle.h"

uint64_t memmap_mem_free(Manager *m) {
        _cleanup_free_ char *text = NULL;
        const char *p;
        unsigned long long kb;

        if (root_read_file(m->root->fd, "proc/meminfo", 64 * 1024, &text, NULL, NULL) < 0)
                return UINT64_MAX;
        p = strstr(text, "MemFree:");
        if (!p || sscanf(p + 8, "%llu", &kb) != 1)
                return UINT64_MAX;
        return (uint64_t) kb * 1024;
}

/* The add block 'index' came with, as far as can be told: the run of blocks around it that are of its kind
 * or not known to memhpd yet but already in sysfs (the kernel creates every block of one add_memory()
 * before its uevents reach memhpd, so a DIMM's later blocks may be there unannounced). virtio-mem adds one
 * block at a time. Bounded: an add is never larger than this. */
#define MEMMAP_RUN_MAX 65536u

static bool memmap_same_add(Manager *m, uint32_t i, DeviceKind kind) {
        const Block *b = inventory_block(m->inv, i);
        char name[32];

        if (b && (b->flags & BLOCK_PRESENT))
                return (b->flags & BLOCK_CLASSIFIED) && b->device == kind;
        snprintf(name, sizeof(name), "memory%" PRIu32, i);
        return faccessat(m->root->memory_fd, name, F_OK, 0) >= 0;
}

static void memmap_run(Manager *m, uint32_t index, uint32_t *ret_first, uint32_t *ret_last) {
        DeviceKind kind = m->inv->blocks[index].device;
        uint32_t first = index, last = index;

        if (kind != DEVICE_VIRTIO_MEM) {
                while (first > 0 && index - first < MEMMAP_RUN_MAX && memmap_same_add(m, first - 1, kind))
                        first--;
                while (last < UINT32_MAX - 1 && last - index < MEMMAP_RUN_MAX && memmap_same_add(m, last + 1, kind))
                        last++;
        }
        *ret_first = first;
        *ret_last = last;
}

void memmap_of_block(Manager *m, uint32_t index, MemmapVerdict *ret) {
        DaxTable *t = dax_table(m);
        const Block *b = &m->inv->blocks[index];
        const DaxDevice *d = b->device == DEVICE_DAX_KMEM ? dax_device_of_block(m, index) : NULL;
        uint32_t first, last;
        MemmapFacts mf;

        memmap_run(m, index, &first, &last);
        mf = (MemmapFacts) {
                .device = b->device,
                .kernel_version = t->kernel_version,
                .global = t->global_memmap,
                .dax_attribute = d ? d->memmap_attr : -1,
                .add_size = d ? d->size : (uint64_t) (last - first + 1) * m->inv->block_size,
                .block_size = m->inv->block_size,
        };
        memmap_verdict(&mf, ret);
}

void memmap_summary(Manager *m, char *buf, size_t size) {
        DaxTable *t = dax_table(m);
        char version[32] = "unknown";

        if (t->kernel_version >= 0)
                snprintf(version, sizeof(version), "%d.%d", t->kernel_version / 1000, t->kernel_version % 1000);
        if (t->global_memmap <= 0)
                snprintf(buf, size, "memory_hotplug.memmap_on_memory=%s (kernel %s): the memmap of hot-added memory "
                         "comes from existing memory", t->global_memmap == 0 ? "off" : "unknown", version);
        else if (t->kernel_version >= 0 && t->kernel_version < 6008) /* 6.8: multi-block adds */
                snprintf(buf, size, "memory_hotplug.memmap_on_memory=%s (kernel %s): on the added memory for DIMMs of "
                         "one block; larger adds, dax, virtio-mem and balloons use existing memory",
                         t->global_memmap == 2 ? "force" : "on", version);
        else
                snprintf(buf, size, "memory_hotplug.memmap_on_memory=%s (kernel %s): on the added memory for DIMMs and "
                         "for dax devices whose memmap_on_memory is set; virtio-mem and balloons use existing memory",
                         t->global_memmap == 2 ? "force" : "on", version);
}

void memmap_watch(Manager *m, uint32_t index) {
        DaxTable *t = dax_table(m);
        const Block *b = &m->inv->blocks[index];
        uint64_t now = now_monotonic_usec(), need, free_bytes = UINT64_MAX, high = 0;
        bool zoneinfo = false;
        uint32_t first, last;
        AuditFields f = AUDIT_FIELDS_INIT;
        MemmapVerdict v;
        const char *hint;

        if (!(b->flags & BLOCK_CLASSIFIED) || b->device == DEVICE_BOOT || b->device == DEVICE_DAX_KMEM)
                return;
        if (t->memmap_checked_at && now - t->memmap_checked_at < 1000000)
                return;
        t->memmap_checked_at = now;
        memmap_of_block(m, index, &v);
        if (v.on_memory) {
                t->memmap_risk_said = false;
                return;
        }
        memmap_run(m, index, &first, &last);
        need = memmap_bytes((uint64_t) (last - first + 1) * m->inv->block_size, m->inv->page_size);
        /* The kernel allocates the memmap from the node's kernel zones: movable memory cannot hold it. */
        zoneinfo = b->node >= 0 && pressure_node_kernel(m, b->node, &free_bytes, &high) >= 0;
        if (zoneinfo)
                free_bytes *= m->inv->page_size;
        else
                free_bytes = memmap_mem_free(m);
        if (free_bytes == UINT64_MAX || need <= free_bytes) {
                t->memmap_risk_said = false;
                return;
        }
        if (t->memmap_risk_said)
                return;
        t->memmap_risk_said = true;
        hint = b->device == DEVICE_ACPI_DIMM ?
                "booting with memory_hotplug.memmap_on_memory=1 puts the memmap of a DIMM on the DIMM itself "
                "(before Linux 6.8 only for DIMMs of one memory block)" :
                "this kind never puts its memmap on the added memory: smaller adds, or more kernel memory "
                "(fewer blocks onlined movable), avoid it";
        f.block = first;
        f.node = b->node;
        f.device = device_kind_to_string(b->device);
        f.result = "ok";
        audit_record(AUDIT_MEMMAP_RISK, &f, "memory%" PRIu32 "-%" PRIu32 " (%s, %" PRIu64 " MiB) needed %" PRIu64
                     " MiB of memmap from existing memory (%s); only %" PRIu64 " MiB is free %s: another hot-add like "
                     "it may fail (add_memory: -ENOMEM); %s", first, last, f.device,
                     ((uint64_t) (last - first + 1) * m->inv->block_size) >> 20, need >> 20, v.why, free_bytes >> 20,
                     zoneinfo ? "in the node's kernel zones" : "(MemFree)", hint);
}
