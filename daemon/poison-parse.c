/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the pure parsers of ras:memory_failure_event: its format file and its trace_pipe lines. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "poison-parse.h"

#define MF_PRINT_FMT "pfn %#lx: recovery action for %s: %s"

static const char *line_starting(const char *text, const char *prefix) {
        size_t n = strlen(prefix);

        for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (strncmp(p, prefix, n) == 0)
                        return p;
        return NULL;
}

/* "{ 0, "reserved kernel page" }, { 1, ... })" after "__print_symbolic(REC->NAME, " into 'table'. */
static int parse_symbols(const char *fmt_line, const char *field, MfSymbol *table, size_t *ret_n) {
        char key[64];
        const char *p;
        size_t n = 0;

        snprintf(key, sizeof(key), "__print_symbolic(REC->%s,", field);
        p = strstr(fmt_line, key);
        if (!p)
                return 0; /* no table: names are printed as numbers; not an error */
        p += strlen(key);
        for (;;) {
                const char *q;
                char *end;
                long v;
                size_t len;

                while (*p == ' ')
                        p++;
                if (*p == ')')
                        break;
                if (*p != '{')
                        return -EBADMSG;
                p++;
                while (*p == ' ')
                        p++;
                errno = 0;
                v = strtol(p, &end, 0);
                if (end == p || errno || v < -0x7fffffffL || v > 0x7fffffffL)
                        return -EBADMSG;
                p = end;
                while (*p == ' ')
                        p++;
                if (*p != ',')
                        return -EBADMSG;
                p++;
                while (*p == ' ')
                        p++;
                if (*p != '"')
                        return -EBADMSG;
                p++;
                q = strchr(p, '"');
                if (!q || memchr(p, '\n', q - p) || memchr(p, '\\', q - p))
                        return -EBADMSG;
                len = q - p;
                if (len == 0 || len >= MF_NAME_MAX || n >= MF_SYMBOLS_MAX)
                        return -EBADMSG;
                table[n].value = (int) v;
                memcpy(table[n].name, p, len);
                table[n].name[len] = '\0';
                n++;
                p = q + 1;
                while (*p == ' ')
                        p++;
                if (*p != '}')
                        return -EBADMSG;
                p++;
                while (*p == ' ')
                        p++;
                if (*p == ',')
                        p++;
                else if (*p != ')')
                        return -EBADMSG;
        }
        *ret_n = n;
        return 0;
}

int mf_format_parse(const char *text, MfFormat *ret) {
        MfFormat f = {};
        const char *p, *q;
        unsigned long id;
        char *end;

        if (!line_starting(text, "name: memory_failure_event\n"))
                return -EBADMSG;
        p = line_starting(text, "ID: ");
        if (p) {
                errno = 0;
                id = strtoul(p + 4, &end, 10);
                if (end != p + 4 && !errno && id <= 0xffffffffUL && *end == '\n')
                        f.id = (unsigned) id;
        }
        f.has_pfn = strstr(text, "\tfield:unsigned long pfn;") != NULL;
        f.has_type = strstr(text, "\tfield:int type;") != NULL;
        f.has_result = strstr(text, "\tfield:int result;") != NULL;
        if (!f.has_pfn)
                return -EBADMSG;
        p = line_starting(text, "print fmt: \"");
        if (!p)
                return -EBADMSG;
        p += strlen("print fmt: \"");
        q = strchr(p, '"');
        if (!q)
                return -EBADMSG;
        f.shape_ok = (size_t) (q - p) == strlen(MF_PRINT_FMT) && memcmp(p, MF_PRINT_FMT, q - p) == 0;
        if (parse_symbols(q, "type", f.types, &f.n_types) < 0 ||
            parse_symbols(q, "result", f.results, &f.n_results) < 0)
                return -EBADMSG;
        *ret = f;
        return 0;
}

const char *mf_symbol_name(const MfSymbol *table, size_t n, int value) {
        for (size_t i = 0; i < n; i++)
                if (table[i].value == value)
                        return table[i].name;
        return NULL;
}

int mf_symbol_value(const MfSymbol *table, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(table[i].name, name) == 0)
                        return table[i].value;
        return -1;
}

static const char *memmem_str(const char *hay, size_t len, const char *needle) {
        size_t n = strlen(needle);

        if (n > len)
                return NULL;
        for (size_t i = 0; i + n <= len; i++)
                if (memcmp(hay + i, needle, n) == 0)
                        return hay + i;
        return NULL;
}

static int copy_name(const char *p, size_t len, char *buf) {
        if (len == 0 || len >= MF_NAME_MAX || memchr(p, '\0', len))
                return -EBADMSG;
        memcpy(buf, p, len);
        buf[len] = '\0';
        return 0;
}

int mf_trace_line_parse(const char *line, size_t len, const MfFormat *fmt, MemoryFailure *ret) {
        static const char tag[] = "memory_failure_event: ", action[] = ": recovery action for ";
        const char *p, *end = line + len, *q, *last;
        MemoryFailure mf = { .type_value = -1, .result_value = -1 };
        uint64_t pfn = 0;
        size_t digits = 0;

        p = memmem_str(line, len, tag);
        if (!p) {
                /* The ring buffer overflowed: "CPU:1 [LOST 12 EVENTS]". */
                if (memmem_str(line, len, " EVENTS]") && memmem_str(line, len, "[LOST "))
                        return MF_LINE_LOST;
                return MF_LINE_OTHER;
        }
        p += strlen(tag);
        if (end - p < 5 || memcmp(p, "pfn ", 4) != 0)
                return -EBADMSG;
        p += 4;
        /* %#lx: "0x1f3a0", or "0" for zero. */
        if (end - p >= 2 && p[0] == '0' && p[1] == 'x')
                p += 2;
        else if (!(p < end && *p == '0'))
                return -EBADMSG;
        for (; p < end; p++) {
                unsigned d;
                if (*p >= '0' && *p <= '9')
                        d = *p - '0';
                else if (*p >= 'a' && *p <= 'f')
                        d = *p - 'a' + 10;
                else
                        break;
                if (pfn >> 60)
                        return -EBADMSG;
                pfn = pfn << 4 | d;
                digits++;
        }
        if (digits == 0)
                return -EBADMSG;
        mf.pfn = pfn;
        if (p == end || (fmt && !fmt->shape_ok)) {
                /* Only the pfn is certain; the rest is not a shape memhpd knows. */
                *ret = mf;
                return MF_LINE_EVENT;
        }
        if ((size_t) (end - p) < strlen(action) || memcmp(p, action, strlen(action)) != 0)
                return -EBADMSG;
        p += strlen(action);
        /* The type may itself hold ": " only in theory; the result is the last field. */
        last = NULL;
        for (q = p; (q = memmem_str(q, end - q, ": ")); q += 2)
                last = q;
        if (!last)
                return -EBADMSG;
        if (copy_name(p, last - p, mf.type) < 0 || copy_name(last + 2, end - (last + 2), mf.result) < 0)
                return -EBADMSG;
        if (fmt) {
                mf.type_value = mf_symbol_value(fmt->types, fmt->n_types, mf.type);
                mf.result_value = mf_symbol_value(fmt->results, fmt->n_results, mf.result);
        }
        *ret = mf;
        return MF_LINE_EVENT;
}

void mf_name_to_word(const char *name, char *buf, size_t size) {
        size_t i = 0;

        if (size == 0)
                return;
        for (; name[i] && i + 1 < size; i++) {
                char c = name[i];
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                          c == '.' || c == ':' || c == '_' || c == '+' || c == '/';
                buf[i] = c == ' ' ? '_' : ok ? c : '?';
        }
        buf[i] = '\0';
}
