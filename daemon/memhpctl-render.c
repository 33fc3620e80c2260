/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns memhpctl's pure renderers: the status table and its JSON (memhpctl-render.h). */
#include <inttypes.h>
#include <string.h>

#include "memhpctl-render.h"

#define ANSI_BOLD "\033[1m"
#define ANSI_YELLOW "\033[0;33m"
#define ANSI_RED "\033[0;31m"
#define ANSI_RESET "\033[0m"

static bool empty(const char *s) {
        return !s || !*s;
}

void format_size(uint64_t bytes, char *buf, size_t size) {
        static const char suffix[] = "BKMGTPE";
        unsigned i = 0;
        uint64_t whole = bytes, rem = 0;

        while (whole >= 1024 && i < sizeof(suffix) - 2) {
                rem = whole % 1024;
                whole /= 1024;
                i++;
        }
        /* One decimal, rounded half up, as lsmem prints it (3.875 GiB is "3.9G"); none when it is 0. */
        uint64_t tenths = (rem * 10 + 512) / 1024;
        if (tenths == 10) {
                whole++;
                tenths = 0;
        }
        if (i > 0 && tenths > 0)
                (void) snprintf(buf, size, "%" PRIu64 ".%" PRIu64 "%c", whole, tenths, suffix[i]);
        else
                (void) snprintf(buf, size, "%" PRIu64 "%c", whole, suffix[i]);
}

void json_string(FILE *f, const char *s) {
        if (!s) {
                fputs("null", f);
                return;
        }
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                switch (*p) {
                case '"':
                        fputs("\\\"", f);
                        break;
                case '\\':
                        fputs("\\\\", f);
                        break;
                case '\n':
                        fputs("\\n", f);
                        break;
                case '\t':
                        fputs("\\t", f);
                        break;
                default:
                        if (*p < 0x20)
                                fprintf(f, "\\u%04x", *p);
                        else
                                fputc(*p, f);
                }
        }
        fputc('"', f);
}

static void json_string_or_null(FILE *f, const char *s) {
        json_string(f, empty(s) ? NULL : s);
}

/* "policy /etc/memhpd/policies.d/50-x.policy:3", "kernel ...:3" (delegate), "boot", "-". */
static void decided_by(const RunRow *r, char *buf, size_t size) {
        if (empty(r->origin))
                (void) snprintf(buf, size, "-");
        else if (!empty(r->policy))
                (void) snprintf(buf, size, "%s %s", r->origin, r->policy);
        else
                (void) snprintf(buf, size, "%s", r->origin);
}

/* Each row's cells, for one block of the run or the whole run. */
typedef struct Cells {
        char range[40], size[16], node[12], block[24], decided[4200];
        const char *state, *zone, *device;
} Cells;

static void cells_fill(const RunRow *r, uint32_t first, uint32_t last, uint64_t block_size, Cells *c) {
        uint64_t start = (uint64_t) first * block_size, end = ((uint64_t) last + 1) * block_size - 1;

        (void) snprintf(c->range, sizeof(c->range), "0x%016" PRIx64 "-0x%016" PRIx64, start, end);
        format_size(((uint64_t) last - first + 1) * block_size, c->size, sizeof(c->size));
        if (r->node < 0)
                (void) snprintf(c->node, sizeof(c->node), "-");
        else
                (void) snprintf(c->node, sizeof(c->node), "%" PRId32, r->node);
        if (first == last)
                (void) snprintf(c->block, sizeof(c->block), "%" PRIu32, first);
        else
                (void) snprintf(c->block, sizeof(c->block), "%" PRIu32 "-%" PRIu32, first, last);
        decided_by(r, c->decided, sizeof(c->decided));
        c->state = r->state ?: "-";
        c->zone = empty(r->zone) ? "-" : r->zone;
        c->device = empty(r->device) ? "-" : r->device;
}

typedef struct Widths {
        int range, size, state, zone, node, device, block;
} Widths;

static int max_int(int a, int b) {
        return a > b ? a : b;
}

static void widths_account(Widths *w, const Cells *c) {
        w->range = max_int(w->range, (int) strlen(c->range));
        w->size = max_int(w->size, (int) strlen(c->size));
        w->state = max_int(w->state, (int) strlen(c->state));
        w->zone = max_int(w->zone, (int) strlen(c->zone));
        w->node = max_int(w->node, (int) strlen(c->node));
        w->device = max_int(w->device, (int) strlen(c->device));
        w->block = max_int(w->block, (int) strlen(c->block));
}

static void row_print(FILE *f, const Widths *w, const Cells *c, const RenderOptions *o) {
        const char *on = "", *off = "";

        if (o->colour && strcmp(c->state, "online") != 0) {
                on = strcmp(c->state, "offline") == 0 ? ANSI_YELLOW : ANSI_RED;
                off = ANSI_RESET;
        }
        fprintf(f, "%-*s %*s %s%-*s%s %-*s %*s %-*s %*s %s\n", w->range, c->range, w->size, c->size, on, w->state,
                c->state, off, w->zone, c->zone, w->node, c->node, w->device, c->device, w->block, c->block,
                c->decided);
}

/* Call 'fn' for each row as shown: one per run, or one per block with o->blocks. */
#define FOR_EACH_ROW(runs, n_runs, o, r, first, last)                                                            \
        for (size_t _i = 0; _i < (n_runs); _i++)                                                                 \
                for (const RunRow *r = &(runs)[_i]; r; r = NULL)                                                 \
                        for (uint64_t _b = r->first; _b <= ((o)->blocks ? r->last : r->first); _b++)              \
                                for (uint32_t first = (uint32_t) _b, last = (o)->blocks ? first : r->last, _once = 1; \
                                     _once; _once = 0)

void render_status_table(FILE *f, const StatusHeader *h, const RunRow *runs, size_t n_runs, const NodeRow *nodes,
                         size_t n_nodes, const RenderOptions *o) {
        /* The titles' widths when they are printed; without them columns are as wide as their values. */
        Widths w = o->legend ? (Widths) { 5, 4, 5, 4, 4, 6, 5 } : (Widths) {};
        const char *bold = o->colour ? ANSI_BOLD : "", *reset = o->colour ? ANSI_RESET : "";
        Cells c;

        if (o->legend) {
                char bs[16];

                format_size(h->block_size, bs, sizeof(bs));
                fprintf(f, "%smemhpd%s %s: %s%s\n", bold, reset, h->version ?: "?", h->status ?: "",
                        h->dry_run ? " (dry run)" : "");
                fprintf(f, "Source: %s uevents; policies: %" PRIu32 "%s; conflicts: %s%" PRIu32 "%s; block size: %s\n",
                        h->event_source ?: "?", h->policies, h->config_ok ? "" : " (the last load had errors)",
                        h->conflicts && o->colour ? ANSI_RED : "", h->conflicts, h->conflicts && o->colour ? ANSI_RESET : "",
                        bs);
                if (!empty(h->memmap))
                        fprintf(f, "Memmap: %s\n", h->memmap);
                if (!empty(h->kernel_zones))
                        fprintf(f, "Kernel zones: %s\n", h->kernel_zones);
                for (uint32_t i = 0; h->conflict_rows && i < h->conflicts; i++)
                        fprintf(f, "%sConflict%s: %s%s%s: %s\n", o->colour ? ANSI_RED : "", o->colour ? ANSI_RESET : "",
                                h->conflict_rows[i].agent, empty(h->conflict_rows[i].file) ? "" : " ",
                                h->conflict_rows[i].file ?: "", h->conflict_rows[i].text);
                for (size_t i = 0; i < n_nodes; i++) {
                        char k[16], mv[16];

                        format_size(nodes[i].kernel_bytes, k, sizeof(k));
                        format_size(nodes[i].movable_bytes, mv, sizeof(mv));
                        fprintf(f, "Node %" PRIu32 ": %s kernel, %s movable; %" PRIu32 " %s, %" PRIu32 " offline\n",
                                nodes[i].node, k, mv, nodes[i].blocks, nodes[i].blocks == 1 ? "block" : "blocks",
                                nodes[i].offline);
                }
                fputc('\n', f);
        }

        FOR_EACH_ROW(runs, n_runs, o, r, first, last) {
                cells_fill(r, first, last, h->block_size, &c);
                widths_account(&w, &c);
        }
        if (o->legend)
                fprintf(f, "%s%-*s %*s %-*s %-*s %*s %-*s %*s %s%s\n", bold, w.range, "RANGE", w.size, "SIZE", w.state,
                        "STATE", w.zone, "ZONE", w.node, "NODE", w.device, "DEVICE", w.block, "BLOCK", "DECIDED BY",
                        reset);
        FOR_EACH_ROW(runs, n_runs, o, r, first, last) {
                cells_fill(r, first, last, h->block_size, &c);
                row_print(f, &w, &c, o);
        }
}

void render_status_json(FILE *f, const StatusHeader *h, const RunRow *runs, size_t n_runs, const NodeRow *nodes,
                        size_t n_nodes, const RenderOptions *o) {
        bool sep = false;

        fputs("{\n   \"memhpd\": {\"version\": ", f);
        json_string(f, h->version);
        fputs(", \"status\": ", f);
        json_string(f, h->status);
        fputs(", \"event_source\": ", f);
        json_string(f, h->event_source);
        fputs(", \"memmap\": ", f);
        json_string(f, h->memmap);
        fputs(", \"kernel_zones\": ", f);
        json_string(f, h->kernel_zones);
        fprintf(f, ", \"policies\": %" PRIu32 ", \"config_ok\": %s, \"dry_run\": %s, \"conflicts\": %" PRIu32
                ", \"block_size\": %" PRIu64 ", \"blocks\": %" PRIu64 ", \"offline\": %" PRIu64 ", \"onlined\": %" PRIu64
                ", \"failed\": %" PRIu64 "},\n",
                h->policies, h->config_ok ? "true" : "false", h->dry_run ? "true" : "false", h->conflicts, h->block_size,
                h->blocks, h->offline, h->onlined, h->failed);
        fputs("   \"memory\": [", f);
        FOR_EACH_ROW(runs, n_runs, o, r, first, last) {
                uint64_t start = (uint64_t) first * h->block_size, end = ((uint64_t) last + 1) * h->block_size - 1;

                fprintf(f, "%s\n      {\"range\": \"0x%016" PRIx64 "-0x%016" PRIx64 "\", \"size\": %" PRIu64 ", \"state\": ",
                        sep ? "," : "", start, end, ((uint64_t) last - first + 1) * h->block_size);
                sep = true;
                json_string_or_null(f, r->state);
                fputs(", \"zone\": ", f);
                json_string_or_null(f, r->zone);
                if (r->node < 0)
                        fputs(", \"node\": null", f);
                else
                        fprintf(f, ", \"node\": %" PRId32, r->node);
                fputs(", \"device\": ", f);
                json_string_or_null(f, r->device);
                if (first == last)
                        fprintf(f, ", \"block\": \"%" PRIu32 "\"", first);
                else
                        fprintf(f, ", \"block\": \"%" PRIu32 "-%" PRIu32 "\"", first, last);
                fputs(", \"decided_by\": ", f);
                json_string_or_null(f, r->origin);
                fputs(", \"policy\": ", f);
                json_string_or_null(f, r->policy);
                fputc('}', f);
        }
        fputs(n_runs ? "\n   ],\n" : "],\n", f);
        fputs("   \"nodes\": [", f);
        for (size_t i = 0; i < n_nodes; i++)
                fprintf(f, "%s\n      {\"node\": %" PRIu32 ", \"kernel_bytes\": %" PRIu64 ", \"movable_bytes\": %" PRIu64
                        ", \"blocks\": %" PRIu32 ", \"offline\": %" PRIu32 "}",
                        i ? "," : "", nodes[i].node, nodes[i].kernel_bytes, nodes[i].movable_bytes, nodes[i].blocks,
                        nodes[i].offline);
        fputs(n_nodes ? "\n   ],\n" : "],\n", f);
        fputs("   \"conflicting_agents\": [", f);
        for (uint32_t i = 0; h->conflict_rows && i < h->conflicts; i++) {
                fputs(i ? ",\n      {\"agent\": " : "\n      {\"agent\": ", f);
                json_string(f, h->conflict_rows[i].agent);
                fputs(", \"file\": ", f);
                json_string_or_null(f, h->conflict_rows[i].file);
                fputs(", \"text\": ", f);
                json_string(f, h->conflict_rows[i].text);
                fputc('}', f);
        }
        fputs(h->conflict_rows && h->conflicts ? "\n   ]\n}\n" : "]\n}\n", f);
}
