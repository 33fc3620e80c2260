/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The quarantine: physical ranges (whole memory blocks) that held a poisoned page. memhpd never onlines
 * a block that overlaps one, whatever the policies say, across restarts and reboots, until an
 * administrator clears it. On 6.1 re-onlining such a block succeeds and hands the bad page back to
 * the allocator; on 6.2+ the kernel refuses only until the block is removed. The kernel cannot tell a
 * later boot which ranges were bad, so this is the one thing memhpd persists for good:
 * /var/lib/memhpd/quarantine under the Root, replaced atomically (temporary file, fsync, rename).
 *
 * The file, one range a line (memhpd.8 documents it):
 *
 *   0x100000000-0x107ffffff device=acpi-dimm id=PNP0C80:00 reason=memory-failure pfn=0x100123 pages=1
 *        type=free_buddy_page result=Recovered time=1764700000
 *
 * The parser is strict and pure. A damaged file is never silently emptied, and damage fails closed:
 *   - a bad line whose range still parses keeps that range quarantined (reason "unknown");
 *   - a line whose range cannot be read, a file cut short inside a range, more than
 *     QUARANTINE_ENTRIES_MAX ranges, a file larger than QUARANTINE_FILE_MAX or one that cannot be read
 *     make the quarantine "unbounded": the lost lines could name any range, so memhpd onlines no block
 *     at all (quarantine_contains() is true for every range) until an administrator clears the
 *     quarantine ("memhpctl quarantine clear all", or repairs the file and restarts memhpd).
 * The damaged file is kept beside the new one as quarantine.damaged-TIME; an unbounded quarantine is
 * persisted as a "!damaged" line, so a restart does not forget it.
 */

#define QUARANTINE_DIR "var/lib/memhpd"
#define QUARANTINE_NAME "quarantine"
#define QUARANTINE_FILE QUARANTINE_DIR "/" QUARANTINE_NAME

#define QUARANTINE_FILE_MAX (16u * 1024 * 1024)
#define QUARANTINE_ENTRIES_MAX (1u << 18) /* two per block of a 16 TiB host of 128 MiB blocks */
#define QUARANTINE_LINE_MAX 1024
#define QUARANTINE_WORD_MAX 64            /* id=, type=, result= values, NUL included */

typedef enum QuarantineReason {
        QUARANTINE_REASON_UNKNOWN,        /* from a damaged line */
        QUARANTINE_REASON_MEMORY_FAILURE, /* ras:memory_failure_event */
        QUARANTINE_REASON_EHWPOISON,      /* an online the kernel refused with EHWPOISON (6.2+) */
        QUARANTINE_REASON_KPAGEFLAGS,     /* a HWPOISON page found by a /proc/kpageflags scan */
        QUARANTINE_REASON_ADMINISTRATOR,  /* put there through the control channel */
        _QUARANTINE_REASON_MAX,
} QuarantineReason;

typedef struct QuarantineEntry {
        uint64_t start, end;              /* physical, inclusive */
        int device;                       /* DeviceKind, or -1 when not known */
        QuarantineReason reason;
        bool has_pfn;
        uint64_t pfn;                     /* the first poisoned page frame found in it */
        uint32_t pages;                   /* poisoned pages seen in it (distinct pfns as far as known) */
        uint64_t time;                    /* seconds since the epoch, when it was quarantined */
        char id[QUARANTINE_WORD_MAX];     /* the device's identity where the kernel shows one, or "" */
        char type[QUARANTINE_WORD_MAX];   /* memory_failure_event's page type, spaces as '_' */
        char result[QUARANTINE_WORD_MAX]; /* memory_failure_event's result */
} QuarantineEntry;

typedef struct Quarantine {
        QuarantineEntry *entries;         /* sorted by start */
        size_t n, alloc;
        uint64_t max_len;                 /* the longest range, for the lookup */
        bool unbounded;                   /* fail closed: see above */
        unsigned bad_lines;               /* lines the last parse could not read in full */
        unsigned first_bad_line;          /* 1-based, 0 for none */
        char damage[160];                 /* what was wrong, for the messages; "" if nothing */
        int save_error;                   /* the last failed save, said once; 0 after a good one */
} Quarantine;

const char *quarantine_reason_to_string(QuarantineReason r);
int quarantine_reason_from_string(const char *s);

/*
 * Pure: parse the file's text ('len' bytes, NULs allowed and rejected) into *ret, which must be
 * zeroed. Damage is not an error: it is reported in ret->bad_lines, ret->unbounded and ret->damage
 * as described above. Returns 0, or -ENOMEM.
 */
int quarantine_parse(const char *text, size_t len, Quarantine *ret);

/* Pure: the file's text for 'q' (header, a "!damaged" line if unbounded, one line per range). */
int quarantine_format(const Quarantine *q, char **ret);

/* Does any quarantined range overlap [start, start+size)? Always true while unbounded. */
bool quarantine_contains(const Quarantine *q, uint64_t start, uint64_t size);
/* The entry overlapping [start, start+size), or NULL (also while unbounded). */
QuarantineEntry *quarantine_find(const Quarantine *q, uint64_t start, uint64_t size);

/*
 * Put [start, end] in quarantine, or count one more poisoned page in the entry that holds it. 'e'
 * gives the range and the facts; for an existing entry only 'pages' (when 'e->pfn' is another page)
 * changes. Returns 1 if the range is new, 0 if it was already quarantined, -E2BIG past
 * QUARANTINE_ENTRIES_MAX (the quarantine then becomes unbounded: fail closed), -EINVAL for end < start.
 * *ret_entry (if given) points at the entry until the next change.
 */
int quarantine_add(Quarantine *q, const QuarantineEntry *e, QuarantineEntry **ret_entry);

/*
 * Remove every range overlapping [start, end]; "all" (start 0, end UINT64_MAX) also ends an unbounded
 * quarantine. Returns how many ranges were removed (plus one if 'unbounded' was reset).
 */
size_t quarantine_clear(Quarantine *q, uint64_t start, uint64_t end);

/*
 * What an administrator names to clear (memhpctl quarantine clear TARGET, ClearQuarantine on the bus):
 *   all              every range, and an unbounded (damaged) quarantine;
 *   memoryN[-M]      the blocks' ranges (with 'block_size');
 *   0xSTART-0xEND    a physical range, inclusive;
 *   NAME             a device identity: every range whose id= is NAME or starts with "NAME/" (e.g.
 *                    PNP0C80:00 matches PNP0C80:00/uid:1; dax0.0).
 */
typedef struct QuarantineTarget {
        bool all, by_id;
        uint64_t start, end;
        char id[QUARANTINE_WORD_MAX];
} QuarantineTarget;

/* Pure. Returns 0, or -EINVAL with *ret untouched. */
int quarantine_target_parse(const char *s, uint64_t block_size, QuarantineTarget *ret);
/* Remove what 't' names; returns as quarantine_clear(). */
size_t quarantine_clear_target(Quarantine *q, const QuarantineTarget *t);

void quarantine_done(Quarantine *q);

/* One line of the file for 'e' (no newline), for messages and the control channel. */
int quarantine_entry_format(const QuarantineEntry *e, char *buf, size_t size);

/*
 * The I/O half, under the Root 'rootfd'. quarantine_load() reads the file into *q (zeroed): no file
 * is an empty quarantine; any damage is logged as an error, the damaged file linked aside as
 * quarantine.damaged-TIME and a repaired file written (with the "!damaged" line if unbounded).
 * Returns 0, or -errno for a file that cannot be read (then q->unbounded is set: fail closed). Without
 * 'repair' (--dry-run) nothing is written.
 */
int quarantine_load(int rootfd, Quarantine *q, uint64_t now, bool repair);
/* Write 'q' atomically, creating /var/lib/memhpd if missing. Returns 0 or -errno. */
int quarantine_save(int rootfd, const Quarantine *q);
