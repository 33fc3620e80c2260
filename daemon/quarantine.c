/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the quarantine: the pure parser and formatter of /var/lib/memhpd/quarantine, the range lookup,
 * and loading and saving the file under the Root. What goes in it is poison.c's and engine.c's. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "memory.h"
#include "quarantine.h"
#include "sysfs.h"

static const char *const reason_table[_QUARANTINE_REASON_MAX] = {
        [QUARANTINE_REASON_UNKNOWN] = "unknown",
        [QUARANTINE_REASON_MEMORY_FAILURE] = "memory-failure",
        [QUARANTINE_REASON_EHWPOISON] = "ehwpoison",
        [QUARANTINE_REASON_KPAGEFLAGS] = "kpageflags",
        [QUARANTINE_REASON_ADMINISTRATOR] = "administrator",
};

const char *quarantine_reason_to_string(QuarantineReason r) {
        return r >= 0 && r < _QUARANTINE_REASON_MAX ? reason_table[r] : "invalid";
}

int quarantine_reason_from_string(const char *s) {
        for (int i = 0; i < _QUARANTINE_REASON_MAX; i++)
                if (strcmp(reason_table[i], s) == 0)
                        return i;
        return -EINVAL;
}

/* "0x" then 1-16 hex digits, exactly 'len' bytes. */
static int parse_hex(const char *s, size_t len, uint64_t *ret) {
        uint64_t v = 0;

        if (len < 3 || len > 18 || s[0] != '0' || s[1] != 'x')
                return -EINVAL;
        for (size_t i = 2; i < len; i++) {
                char c = s[i];
                unsigned d;

                if (c >= '0' && c <= '9')
                        d = c - '0';
                else if (c >= 'a' && c <= 'f')
                        d = c - 'a' + 10;
                else if (c >= 'A' && c <= 'F')
                        d = c - 'A' + 10;
                else
                        return -EINVAL;
                v = v << 4 | d;
        }
        *ret = v;
        return 0;
}

/* Plain decimal, no sign, at most 20 digits, no overflow. */
static int parse_dec(const char *s, size_t len, uint64_t *ret) {
        uint64_t v = 0;

        if (len == 0 || len > 20)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                if (v > (UINT64_MAX - (uint64_t) (s[i] - '0')) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        *ret = v;
        return 0;
}

static bool word_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' || c == '.' ||
               c == '_' || c == '-' || c == '+' || c == '/';
}

static int parse_word(const char *s, size_t len, char *buf) {
        if (len == 0 || len >= QUARANTINE_WORD_MAX)
                return -EINVAL;
        for (size_t i = 0; i < len; i++)
                if (!word_char(s[i]))
                        return -EINVAL;
        memcpy(buf, s, len);
        buf[len] = '\0';
        return 0;
}

/* "0xSTART-0xEND" */
static int parse_range(const char *s, size_t len, uint64_t *ret_start, uint64_t *ret_end) {
        const char *dash = memchr(s, '-', len);
        uint64_t a, b;

        if (!dash || parse_hex(s, dash - s, &a) < 0 || parse_hex(dash + 1, len - (dash + 1 - s), &b) < 0 || a > b)
                return -EINVAL;
        *ret_start = a;
        *ret_end = b;
        return 0;
}

/* The fields after the range. 0, or -EINVAL at the first field that is not right. */
static int parse_fields(const char *p, const char *end, QuarantineEntry *e) {
        unsigned seen = 0;

        while (p < end) {
                const char *tok = p, *eq, *val;
                size_t tlen, klen, vlen;
                unsigned bit;
                uint64_t v;
                int k;
                static const char *const keys[] = { "device", "id", "reason", "pfn", "pages", "type", "result", "time" };

                if (*p != ' ')
                        return -EINVAL;
                tok = ++p;
                while (p < end && *p != ' ')
                        p++;
                tlen = p - tok;
                eq = memchr(tok, '=', tlen);
                if (!eq)
                        return -EINVAL;
                klen = eq - tok;
                val = eq + 1;
                vlen = tlen - klen - 1;
                for (k = 0; k < (int) ELEMENTSOF(keys); k++)
                        if (strlen(keys[k]) == klen && memcmp(keys[k], tok, klen) == 0)
                                break;
                if (k == (int) ELEMENTSOF(keys))
                        return -EINVAL;
                bit = 1u << k;
                if (seen & bit)
                        return -EINVAL; /* a key twice: which one is meant? */
                seen |= bit;

                char word[QUARANTINE_WORD_MAX];
                switch (k) {
                case 0: /* device */
                        if (parse_word(val, vlen, word) < 0 || (e->device = device_kind_from_string(word)) < 0)
                                return -EINVAL;
                        break;
                case 1:
                        if (parse_word(val, vlen, e->id) < 0)
                                return -EINVAL;
                        break;
                case 2: {
                        int r;
                        if (parse_word(val, vlen, word) < 0 || (r = quarantine_reason_from_string(word)) < 0)
                                return -EINVAL;
                        e->reason = r;
                        break;
                }
                case 3:
                        if (parse_hex(val, vlen, &e->pfn) < 0)
                                return -EINVAL;
                        e->has_pfn = true;
                        break;
                case 4:
                        if (parse_dec(val, vlen, &v) < 0 || v == 0 || v > UINT32_MAX)
                                return -EINVAL;
                        e->pages = (uint32_t) v;
                        break;
                case 5:
                        if (parse_word(val, vlen, e->type) < 0)
                                return -EINVAL;
                        break;
                case 6:
                        if (parse_word(val, vlen, e->result) < 0)
                                return -EINVAL;
                        break;
                case 7:
                        if (parse_dec(val, vlen, &e->time) < 0)
                                return -EINVAL;
                        break;
                }
        }
        /* reason= is what the entry is; without it the line is not one memhpd wrote. */
        return (seen & (1u << 2)) ? 0 : -EINVAL;
}

static void set_damage(Quarantine *q, unsigned line, const char *what) {
        q->bad_lines++;
        if (!q->first_bad_line) {
                q->first_bad_line = line;
                snprintf(q->damage, sizeof(q->damage), "line %u %s", line, what);
        }
}

static int cmp_entry(const void *a, const void *b) {
        const QuarantineEntry *x = a, *y = b;
        return x->start < y->start ? -1 : x->start > y->start ? 1 : (x->end > y->end) - (x->end < y->end);
}

static int append_entry(Quarantine *q, const QuarantineEntry *e) {
        if (q->n >= QUARANTINE_ENTRIES_MAX)
                return -E2BIG;
        if (q->n == q->alloc) {
                size_t a = q->alloc ? q->alloc * 2 : 16;
                QuarantineEntry *n = realloc(q->entries, a * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                q->entries = n;
                q->alloc = a;
        }
        q->entries[q->n++] = *e;
        if (e->end - e->start > q->max_len)
                q->max_len = e->end - e->start;
        return 0;
}

int quarantine_parse(const char *text, size_t len, Quarantine *q) {
        const char *p = text, *end = text + len;
        unsigned line = 0;
        int r;

        while (p < end) {
                const char *eol = memchr(p, '\n', end - p), *stop = eol ?: end, *sp;
                QuarantineEntry e = { .device = -1, .pages = 1 };
                bool range_ok;

                line++;
                if (memchr(p, '\0', stop - p)) {
                        set_damage(q, line, "holds a NUL byte");
                        q->unbounded = true;
                        goto next;
                }
                if (stop == p || *p == '#')
                        goto next;
                if (!eol) {
                        /* Cut short: the rest of the range (or of the file) is lost. */
                        set_damage(q, line, "is cut short (no newline at the end of the file)");
                        q->unbounded = true;
                        goto next;
                }
                if (stop - p >= QUARANTINE_LINE_MAX) {
                        set_damage(q, line, "is longer than 1024 bytes");
                        q->unbounded = true;
                        goto next;
                }
                if (*p == '!') {
                        /* "!damaged ..." persists an unbounded quarantine; anything else after '!' too. */
                        if (stop - p < 8 || memcmp(p, "!damaged", 8) != 0 || (stop - p > 8 && p[8] != ' '))
                                set_damage(q, line, "is an unknown directive");
                        q->unbounded = true;
                        goto next;
                }
                sp = memchr(p, ' ', stop - p);
                range_ok = parse_range(p, (sp ?: stop) - p, &e.start, &e.end) >= 0;
                if (!range_ok) {
                        set_damage(q, line, "does not start with a range 0xSTART-0xEND");
                        q->unbounded = true;
                        goto next;
                }
                if (sp && parse_fields(sp, stop, &e) < 0) {
                        /* The range is still quarantined; what it was for is lost. */
                        QuarantineEntry keep = { .start = e.start, .end = e.end, .device = -1, .pages = 1 };
                        set_damage(q, line, "has a field memhpd cannot read");
                        e = keep;
                } else if (!sp) {
                        set_damage(q, line, "has no reason=");
                        e.reason = QUARANTINE_REASON_UNKNOWN;
                }
                r = append_entry(q, &e);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        set_damage(q, line, "and the ones after it are beyond 262144 ranges");
                        q->unbounded = true;
                        break;
                }
        next:
                if (!eol)
                        break;
                p = eol + 1;
        }
        if (q->n > 1)
                qsort(q->entries, q->n, sizeof(QuarantineEntry), cmp_entry);
        return 0;
}

int quarantine_entry_format(const QuarantineEntry *e, char *buf, size_t size) {
        char pfn[32] = "", pages[32] = "";
        int n;

        if (e->has_pfn)
                snprintf(pfn, sizeof(pfn), " pfn=0x%" PRIx64, e->pfn);
        if (e->pages > 1)
                snprintf(pages, sizeof(pages), " pages=%" PRIu32, e->pages);
        n = snprintf(buf, size, "0x%" PRIx64 "-0x%" PRIx64 "%s%s%s%s reason=%s%s%s%s%s%s%s time=%" PRIu64, e->start,
                     e->end, e->device >= 0 ? " device=" : "", e->device >= 0 ? device_kind_to_string(e->device) : "",
                     e->id[0] ? " id=" : "", e->id, quarantine_reason_to_string(e->reason), pfn, pages,
                     e->type[0] ? " type=" : "", e->type, e->result[0] ? " result=" : "", e->result, e->time);
        if (n < 0)
                return -EINVAL;
        return (size_t) n < size ? n : -ENOBUFS;
}

int quarantine_format(const Quarantine *q, char **ret) {
        static const char header[] =
                "# memhpd quarantine: physical memory ranges that held a poisoned page. memhpd never onlines\n"
                "# a block that overlaps one. Written by memhpd; clear with \"memhpctl quarantine clear\".\n";
        size_t size = sizeof(header) + 128 + q->n * QUARANTINE_LINE_MAX, len;
        char *buf = malloc(size);

        if (!buf)
                return -ENOMEM;
        len = strlen(strcpy(buf, header));
        if (q->unbounded)
                len += snprintf(buf + len, size - len, "!damaged memhpd onlines no block until this line is removed\n");
        for (size_t i = 0; i < q->n; i++) {
                int n = quarantine_entry_format(&q->entries[i], buf + len, size - len - 1);
                if (n < 0) {
                        free(buf);
                        return n;
                }
                len += n;
                buf[len++] = '\n';
        }
        buf[len] = '\0';
        *ret = buf;
        return 0;
}

/* The index of the first entry with start > 'addr'. */
static size_t upper_bound(const Quarantine *q, uint64_t addr) {
        size_t lo = 0, hi = q->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (q->entries[mid].start <= addr)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

QuarantineEntry *quarantine_find(const Quarantine *q, uint64_t start, uint64_t size) {
        uint64_t last;

        if (!q || size == 0)
                return NULL;
        last = start + (size - 1) < start ? UINT64_MAX : start + (size - 1);
        /* Entries starting at or before 'last', newest start first; none can reach back further than
         * the longest range. */
        for (size_t i = upper_bound(q, last); i > 0; i--) {
                QuarantineEntry *e = &q->entries[i - 1];
                if (e->end >= start)
                        return e;
                if (start - e->start > q->max_len)
                        break;
        }
        return NULL;
}

bool quarantine_contains(const Quarantine *q, uint64_t start, uint64_t size) {
        return q && (q->unbounded || quarantine_find(q, start, size));
}

int quarantine_add(Quarantine *q, const QuarantineEntry *e, QuarantineEntry **ret_entry) {
        QuarantineEntry *old;
        size_t i;
        int r;

        if (e->end < e->start)
                return -EINVAL;
        old = quarantine_find(q, e->start, e->end - e->start + 1);
        if (old) {
                if (e->has_pfn && (!old->has_pfn || old->pfn != e->pfn) && old->pages < UINT32_MAX)
                        old->pages++;
                if (e->has_pfn && !old->has_pfn) {
                        old->has_pfn = true;
                        old->pfn = e->pfn;
                }
                if (ret_entry)
                        *ret_entry = old;
                return 0;
        }
        r = append_entry(q, e);
        if (r == -E2BIG)
                q->unbounded = true;
        if (r < 0)
                return r;
        /* Keep the order: move the new entry to its place. */
        i = q->n - 1;
        while (i > 0 && cmp_entry(&q->entries[i - 1], &q->entries[i]) > 0) {
                QuarantineEntry t = q->entries[i - 1];
                q->entries[i - 1] = q->entries[i];
                q->entries[i] = t;
                i--;
        }
        if (ret_entry)
                *ret_entry = &q->entries[i];
        return 1;
}

size_t quarantine_clear(Quarantine *q, uint64_t start, uint64_t end) {
        size_t removed = 0, j = 0;

        for (size_t i = 0; i < q->n; i++) {
                if (q->entries[i].start <= end && q->entries[i].end >= start)
                        removed++;
                else
                        q->entries[j++] = q->entries[i];
        }
        q->n = j;
        q->max_len = 0;
        for (size_t i = 0; i < q->n; i++)
                if (q->entries[i].end - q->entries[i].start > q->max_len)
                        q->max_len = q->entries[i].end - q->entries[i].start;
        if (start == 0 && end == UINT64_MAX && q->unbounded) {
                q->unbounded = false;
                q->bad_lines = 0;
                q->first_bad_line = 0;
                q->damage[0] = '\0';
                removed++;
        }
        return removed;
}

static int parse_block_number(const char *s, size_t len, uint64_t *ret) {
        if (len <= 6 || memcmp(s, "memory", 6) != 0)
                return -EINVAL;
        if (parse_dec(s + 6, len - 6, ret) < 0 || *ret > UINT32_MAX)
                return -EINVAL;
        return 0;
}

int quarantine_target_parse(const char *s, uint64_t block_size, QuarantineTarget *ret) {
        QuarantineTarget t = {};
        size_t len = strlen(s);
        const char *dash;
        uint64_t a, b;

        if (strcmp(s, "all") == 0) {
                t.all = true;
                t.end = UINT64_MAX;
        } else if (strncmp(s, "0x", 2) == 0) {
                if (parse_range(s, len, &t.start, &t.end) < 0)
                        return -EINVAL;
        } else if (strncmp(s, "memory", 6) == 0) {
                if (block_size == 0)
                        return -EINVAL;
                dash = strchr(s, '-');
                if (parse_block_number(s, dash ? (size_t) (dash - s) : len, &a) < 0)
                        return -EINVAL;
                b = a;
                /* "memory40-47" or "memory40-memory47" */
                if (dash) {
                        const char *e = dash + 1;
                        size_t elen = len - (e - s);
                        if (strncmp(e, "memory", 6) == 0 ? parse_block_number(e, elen, &b) < 0 :
                                                           (parse_dec(e, elen, &b) < 0 || b > UINT32_MAX))
                                return -EINVAL;
                        if (b < a)
                                return -EINVAL;
                }
                if (a > UINT64_MAX / block_size || b + 1 > UINT64_MAX / block_size)
                        return -EINVAL;
                t.start = a * block_size;
                t.end = (b + 1) * block_size - 1;
        } else {
                if (parse_word(s, len, t.id) < 0)
                        return -EINVAL;
                t.by_id = true;
        }
        *ret = t;
        return 0;
}

static bool id_matches(const char *id, const char *name) {
        size_t n = strlen(name);
        return strncmp(id, name, n) == 0 && (id[n] == '\0' || id[n] == '/');
}

size_t quarantine_clear_target(Quarantine *q, const QuarantineTarget *t) {
        size_t removed = 0, j = 0;

        if (!t->by_id)
                return quarantine_clear(q, t->start, t->end);
        for (size_t i = 0; i < q->n; i++) {
                if (id_matches(q->entries[i].id, t->id))
                        removed++;
                else
                        q->entries[j++] = q->entries[i];
        }
        q->n = j;
        return removed;
}

void quarantine_done(Quarantine *q) {
        free(q->entries);
        *q = (Quarantine) {};
}

int quarantine_save(int rootfd, const Quarantine *q) {
        _cleanup_close_ int dfd = -EBADF;
        _cleanup_free_ char *text = NULL;
        int r;

        r = quarantine_format(q, &text);
        if (r < 0)
                return r;
        /* Outside systemd (no StateDirectory=) /var/lib/memhpd, even /var/lib, may not exist yet. */
        dfd = root_state_dir(rootfd, QUARANTINE_DIR, true);
        if (dfd < 0)
                return dfd;
        r = root_state_write(dfd, QUARANTINE_NAME, text);
        if (r < 0)
                return r;
        /* The rename itself must survive a power cut: the quarantine outlives reboots. */
        if (fsync(dfd) < 0)
                return -errno;
        return 0;
}

/* Keep the damaged file for the administrator: a hard link beside it, never overwritten. */
static int keep_damaged(int dfd, uint64_t now, char *name, size_t size) {
        snprintf(name, size, QUARANTINE_NAME ".damaged-%" PRIu64, now);
        if (linkat(dfd, QUARANTINE_NAME, dfd, name, 0) < 0)
                return -errno;
        return 0;
}

int quarantine_load(int rootfd, Quarantine *q, uint64_t now, bool repair) {
        _cleanup_close_ int dfd = -EBADF;
        _cleanup_free_ char *text = NULL;
        char kept[64] = "";
        struct stat st;
        size_t len = 0;
        int r;

        dfd = root_state_dir(rootfd, QUARANTINE_DIR, false);
        if (dfd == -ENOENT)
                return 0;
        if (dfd < 0) {
                q->unbounded = true;
                snprintf(q->damage, sizeof(q->damage), "/%s cannot be opened or trusted", QUARANTINE_DIR);
                return log_error_errno(dfd, "Cannot open /%s (%s): memhpd cannot know which memory is poisoned "
                                       "and onlines no block until this is fixed",
                                       QUARANTINE_DIR, dfd == -EPERM ? "owned or writable by another user" :
                                       dfd == -ENOTDIR ? "not a directory" : strerror(-dfd));
        }
        if (fstatat(dfd, QUARANTINE_NAME, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT)
                        return 0;
                r = -errno;
        } else if (!S_ISREG(st.st_mode))
                r = -EBADF;
        else if ((uint64_t) st.st_size > QUARANTINE_FILE_MAX)
                r = -EFBIG;
        else
                r = root_read_file(dfd, QUARANTINE_NAME, QUARANTINE_FILE_MAX, &text, &len, NULL);
        if (r < 0) {
                q->unbounded = true;
                snprintf(q->damage, sizeof(q->damage), "/%s cannot be read: %s", QUARANTINE_FILE,
                         r == -EBADF ? "not a regular file" : r == -EFBIG ? "larger than 16 MiB" : strerror(-r));
                log_error("%s; memhpd cannot know which memory is poisoned and onlines no block until an "
                          "administrator clears the quarantine (memhpctl quarantine clear all)", q->damage);
                /* A regular file that is only too large is kept aside and replaced, so the fail-closed
                 * state is written down; one that cannot be read at all is left where it is. */
                if (repair && r == -EFBIG && keep_damaged(dfd, now, kept, sizeof(kept)) >= 0)
                        (void) quarantine_save(rootfd, q);
                return r;
        }
        r = quarantine_parse(text, len, q);
        if (r < 0)
                return r;
        if (q->bad_lines == 0)
                return 0;
        r = repair ? keep_damaged(dfd, now, kept, sizeof(kept)) : -EROFS;
        log_error("/%s is damaged: %s (%u bad %s). %s%s%s%s", QUARANTINE_FILE, q->damage, q->bad_lines,
                  plural(q->bad_lines, "line", "lines"),
                  q->unbounded ? "memhpd cannot know which memory is poisoned and onlines no block until an "
                                 "administrator clears the quarantine (memhpctl quarantine clear all). "
                               : "The ranges it names stay quarantined. ",
                  r >= 0 ? "The damaged file is kept as /" QUARANTINE_DIR "/" : "It could not be kept aside, so it is left as it is",
                  r >= 0 ? kept : "", r >= 0 ? "." : ".");
        if (r >= 0) {
                r = quarantine_save(rootfd, q);
                if (r < 0)
                        log_error_errno(r, "Cannot rewrite /%s: %m", QUARANTINE_FILE);
        }
        return 0;
}
