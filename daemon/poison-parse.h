/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Pure parsers for the tracepoint ras:memory_failure_event: its tracefs "format" file and one line of
 * trace_pipe. The event prints "pfn %#lx: recovery action for %s: %s" with the page type and the result
 * through __print_symbolic() tables that differ between kernels (6.1 has "kernel slab page", 6.12 drops
 * it and adds "get hwpoison page" and "already poisoned", so the numbers shift): they are read from the
 * format file at run time, never compiled in. The reader (tracefs instance, sd-event source) is poison.c.
 */

#define MF_NAME_MAX 64   /* a type or result name, NUL included */
#define MF_SYMBOLS_MAX 64

typedef struct MfSymbol {
        int value;
        char name[MF_NAME_MAX];
} MfSymbol;

typedef struct MfFormat {
        unsigned id;                      /* the event's ID: line */
        bool has_pfn, has_type, has_result; /* the fields memhpd reads */
        bool shape_ok;                    /* print fmt is "pfn %#lx: recovery action for %s: %s" */
        MfSymbol types[MF_SYMBOLS_MAX];
        size_t n_types;
        MfSymbol results[MF_SYMBOLS_MAX];
        size_t n_results;
} MfFormat;

/*
 * Parse the format file. Returns 0, or -EBADMSG when it is not the memory_failure_event memhpd knows
 * (no "name: memory_failure_event", no pfn field, no print fmt, a symbol table that does not parse,
 * more than MF_SYMBOLS_MAX entries); *ret is not written on failure. A print fmt of another shape is
 * not an error (shape_ok is false): trace lines are then read for their "pfn 0x..." alone.
 */
int mf_format_parse(const char *text, MfFormat *ret);

/* The name for 'value' in a table, or NULL. */
const char *mf_symbol_name(const MfSymbol *table, size_t n, int value);
/* The value for 'name', or -1. */
int mf_symbol_value(const MfSymbol *table, size_t n, const char *name);

typedef struct MemoryFailure {
        uint64_t pfn;
        char type[MF_NAME_MAX];           /* as printed, e.g. "free buddy page"; "" if not read */
        char result[MF_NAME_MAX];         /* "Recovered", ... */
        int type_value, result_value;     /* from the format's tables, -1 if the name is not in them */
} MemoryFailure;

typedef enum MfLine {
        MF_LINE_EVENT,    /* a memory_failure_event: *ret filled */
        MF_LINE_LOST,     /* "CPU:N [LOST M EVENTS]": the ring buffer overflowed, events were lost */
        MF_LINE_OTHER,    /* anything else (another event, an empty line) */
} MfLine;

/*
 * Parse one trace_pipe line (without its newline, 'len' bytes, not NUL-terminated). Returns an MfLine,
 * or -EBADMSG for a memory_failure_event line that does not parse (no pfn, a pfn beyond 64 bits, a
 * name longer than MF_NAME_MAX - 1); *ret is written only for MF_LINE_EVENT.
 */
int mf_trace_line_parse(const char *line, size_t len, const MfFormat *fmt, MemoryFailure *ret);

/* A name as one word for files and records: spaces become '_', anything unusual '?'. */
void mf_name_to_word(const char *name, char *buf, size_t size);
