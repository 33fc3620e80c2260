/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Pure parsers for the /proc files memhpd reads: /proc/iomem (which device a physical range belongs to)
 * and /proc/zoneinfo (present pages, free pages and watermarks per node and zone). They take the file's text and fill plain
 * structs; reading the file (through the rooted sysfs module) is the caller's business.
 *
 * Both are strict: the kernel's format is fixed and a line we do not understand means the text is not
 * what we think it is (a truncated read, a foreign file, a bind mount someone planted). A decision
 * made on half a file is worse than no decision, so every such text is -EBADMSG, never a best effort.
 * Each line is parsed within its own bounds: no scanf, which skips newlines as whitespace.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "procfs.h"

/* One line of 'text' from *p: its start and length without the '\n'. Returns 1 for a line ending in
 * '\n', 0 for a last line without one (a truncated read: the kernel ends every line), -1 at the end. */
static int next_line(const char **p, const char **ret_line, size_t *ret_len) {
        const char *line = *p, *eol;

        if (!line || !*line)
                return -1;
        eol = strchr(line, '\n');
        *ret_line = line;
        if (!eol) {
                *ret_len = strlen(line);
                *p = NULL;
                return 0;
        }
        *ret_len = (size_t) (eol - line);
        *p = eol + 1;
        return 1;
}

static size_t span_spaces(const char *s, size_t len) {
        size_t i = 0;

        while (i < len && s[i] == ' ')
                i++;
        return i;
}

/* Digits of 'base' (10 or 16) from s[*i], no sign, no prefix, at least one. -ERANGE past UINT64_MAX. */
static int parse_digits(const char *s, size_t len, size_t *i, int base, uint64_t *ret) {
        uint64_t v = 0;
        size_t start = *i;

        for (; *i < len; (*i)++) {
                char c = s[*i];
                unsigned d;

                if (c >= '0' && c <= '9')
                        d = (unsigned) (c - '0');
                else if (base == 16 && c >= 'a' && c <= 'f')
                        d = (unsigned) (c - 'a' + 10);
                else if (base == 16 && c >= 'A' && c <= 'F')
                        d = (unsigned) (c - 'A' + 10);
                else
                        break;
                if (v > (UINT64_MAX - d) / (unsigned) base)
                        return -ERANGE;
                v = v * (unsigned) base + d;
        }
        if (*i == start)
                return -EINVAL;
        *ret = v;
        return 0;
}

static bool has_prefix(const char *s, size_t len, const char *prefix) {
        size_t l = strlen(prefix);

        return len >= l && memcmp(s, prefix, l) == 0;
}

static DeviceKind iomem_name_to_device(const char *name, size_t len) {
        static const struct {
                const char *name;
                DeviceKind device;
        } table[] = {
                { "System RAM (virtio_mem)", DEVICE_VIRTIO_MEM },
                { "System RAM (kmem)", DEVICE_DAX_KMEM },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (len == strlen(table[i].name) && memcmp(name, table[i].name, len) == 0)
                        return table[i].device;
        return DEVICE_UNKNOWN;
}

/* "  100000000-10fffffff : System RAM (virtio_mem)": indentation (two spaces a level), start-end in hex,
 * " : ", the name (anything, to the end of the line). */
static int iomem_parse_line(const char *line, size_t len, uint64_t *ret_start, uint64_t *ret_end,
                            const char **ret_name, size_t *ret_name_len) {
        uint64_t start, end;
        size_t i = span_spaces(line, len);

        if (parse_digits(line, len, &i, 16, &start) < 0)
                return -EBADMSG;
        if (i >= len || line[i] != '-')
                return -EBADMSG;
        i++;
        if (parse_digits(line, len, &i, 16, &end) < 0)
                return -EBADMSG;
        if (!has_prefix(line + i, len - i, " : "))
                return -EBADMSG;
        i += 3;
        if (start > end || i >= len)
                return -EBADMSG;
        *ret_start = start;
        *ret_end = end;
        *ret_name = line + i;
        *ret_name_len = len - i;
        return 0;
}

int iomem_parse(const char *text, IomemRange **ret, size_t *ret_n) {
        _cleanup_free_ IomemRange *ranges = NULL;
        size_t n = 0, alloc = 0, len;
        const char *p = text, *line;
        int k;

        while ((k = next_line(&p, &line, &len)) >= 0) {
                uint64_t start, end;
                const char *name;
                size_t name_len;

                if (k == 0)
                        return -EBADMSG;
                if (iomem_parse_line(line, len, &start, &end, &name, &name_len) < 0)
                        return -EBADMSG;
                if (!has_prefix(name, name_len, "System RAM"))
                        continue;
                if (n == alloc) {
                        size_t a = alloc ? alloc * 2 : 32;
                        IomemRange *r = realloc(ranges, a * sizeof(*r));
                        if (!r)
                                return -ENOMEM;
                        ranges = r;
                        alloc = a;
                }
                ranges[n++] = (IomemRange) {
                        .start = start, .end = end, .device = iomem_name_to_device(name, name_len),
                };
        }
        /* Every machine has System RAM: a file without any is not /proc/iomem, or was cut short. */
        if (n == 0)
                return -EBADMSG;
        *ret = TAKE_PTR(ranges);
        *ret_n = n;
        return 0;
}

const IomemRange *iomem_lookup(const IomemRange *ranges, size_t n, uint64_t addr) {
        /* Few entries (one per device range, hot-added ranges merge); a linear walk is fine. The
         * innermost match wins because children follow their parent in the file. */
        const IomemRange *found = NULL;

        for (size_t i = 0; i < n; i++)
                if (ranges[i].start <= addr && addr <= ranges[i].end)
                        found = &ranges[i];
        return found;
}

#define ZONES_PER_NODE_MAX 8 /* MAX_NR_ZONES is at most 6 (DMA, DMA32, Normal, HighMem, Movable, Device) */
#define ZONE_NAME_MAX 16

/* "Node 0, zone   Normal" (the kernel pads the name to 8). Returns 1 and the node and name for a
 * header, 0 for a line that is not one, -EBADMSG for a line that starts like one but is not, -ERANGE
 * for a node number that does not fit. */
static int zoneinfo_parse_header(const char *line, size_t len, uint64_t *ret_node, char ret_zone[static ZONE_NAME_MAX]) {
        size_t i = 4, j, name_start;
        uint64_t node;
        int r;

        if (!has_prefix(line, len, "Node "))
                return 0;
        i += span_spaces(line + i, len - i);
        r = parse_digits(line, len, &i, 10, &node);
        if (r == -ERANGE)
                return -ERANGE;
        if (r < 0)
                return -EBADMSG;
        if (!has_prefix(line + i, len - i, ", zone "))
                return -EBADMSG;
        i += strlen(", zone ");
        i += span_spaces(line + i, len - i);
        name_start = i;
        while (i < len && line[i] != ' ')
                i++;
        if (i == name_start || i - name_start >= ZONE_NAME_MAX)
                return -EBADMSG;
        j = i + span_spaces(line + i, len - i);
        if (j != len)
                return -EBADMSG;
        for (size_t k = name_start; k < i; k++)
                if (!(line[k] >= 'A' && line[k] <= 'Z') && !(line[k] >= 'a' && line[k] <= 'z') &&
                    !(line[k] >= '0' && line[k] <= '9'))
                        return -EBADMSG;
        memcpy(ret_zone, line + name_start, i - name_start);
        ret_zone[i - name_start] = '\0';
        *ret_node = node;
        return 1;
}

/* "<indent><word> <count>" for one of the per-zone counts memhpd reads ("present", "min", "low",
 * "high", and "pages free"). Returns 1 and the count, 0 for another line (also "high:" of the pagesets
 * and words that only start with 'word'), -EBADMSG for a bad count. */
static int zoneinfo_parse_count(const char *line, size_t len, const char *word, uint64_t *ret) {
        size_t i = span_spaces(line, len);
        uint64_t v;

        if (!has_prefix(line + i, len - i, word))
                return 0;
        i += strlen(word);
        if (i < len && line[i] != ' ')
                return 0; /* another word that starts with 'word', or "high:" */
        i += span_spaces(line + i, len - i);
        if (parse_digits(line, len, &i, 10, &v) < 0)
                return -EBADMSG;
        if (i + span_spaces(line + i, len - i) != len)
                return -EBADMSG;
        if (v > ZONEINFO_PAGES_MAX)
                return -EBADMSG;
        *ret = v;
        return 1;
}

/* "<indent>protection: (N, N, ...)", the zone's lowmem_reserve[] by allocation zone index. Returns 1 with
 * the values, 0 for another line, -EBADMSG for a bad one. */
static int zoneinfo_parse_protection(const char *line, size_t len, uint64_t ret[static ZONES_PER_NODE_MAX],
                                     size_t *ret_n) {
        size_t i = span_spaces(line, len), n = 0;

        if (!has_prefix(line + i, len - i, "protection: ("))
                return 0;
        i += strlen("protection: (");
        for (;;) {
                uint64_t v;

                if (n >= ZONES_PER_NODE_MAX || parse_digits(line, len, &i, 10, &v) < 0 || v > ZONEINFO_PAGES_MAX)
                        return -EBADMSG;
                ret[n++] = v;
                if (i < len && line[i] == ')')
                        break;
                if (i + 2 > len || line[i] != ',' || line[i + 1] != ' ')
                        return -EBADMSG;
                i += 2;
        }
        i++;
        if (i + span_spaces(line + i, len - i) != len)
                return -EBADMSG;
        *ret_n = n;
        return 1;
}

/* One zone's figures for the node's kernel room, kept until the node ends (the zone index of
 * ZONE_NORMAL, which every protection tuple is read at, is known only then). */
typedef struct ZoneRoom {
        bool kernel, judged;      /* a kernel zone; with free pages and watermarks */
        bool is_normal;
        uint64_t free, file;
        uint64_t protection[ZONES_PER_NODE_MAX];
        size_t n_protection;
} ZoneRoom;

/* The node's zones are all read: its kernel room and page cache. GFP_KERNEL allocates up to
 * ZONE_NORMAL (the last kernel zone where there is no "Normal"). */
static void zoneinfo_node_room(ZoneinfoNode *n, const ZoneRoom *z, size_t n_zones) {
        size_t normal = SIZE_MAX;

        for (size_t k = 0; k < n_zones; k++)
                if (z[k].kernel && (normal == SIZE_MAX || !z[normal].is_normal))
                        normal = k;
        if (normal == SIZE_MAX)
                return;
        for (size_t k = 0; k <= normal; k++) {
                uint64_t reserve;

                if (!z[k].kernel || !z[k].judged)
                        continue;
                reserve = normal < z[k].n_protection ? z[k].protection[normal] : 0;
                n->kernel_room += z[k].free > reserve ? z[k].free - reserve : 0;
                n->kernel_file_pages += z[k].file;
        }
}

enum {
        ZI_PRESENT,
        ZI_FREE,
        ZI_MIN,
        ZI_LOW,
        ZI_HIGH,
        ZI_INACTIVE_FILE, /* optional: only populated zones print them */
        ZI_ACTIVE_FILE,
        _ZI_MAX,
};

static const char *const zoneinfo_words[_ZI_MAX] = {
        [ZI_PRESENT] = "present",
        [ZI_FREE] = "pages free",
        [ZI_MIN] = "min",
        [ZI_LOW] = "low",
        [ZI_HIGH] = "high",
        [ZI_INACTIVE_FILE] = "nr_zone_inactive_file",
        [ZI_ACTIVE_FILE] = "nr_zone_active_file",
};

/* Add 'v' to '*sum' within ZONEINFO_PAGES_MAX (each term is at most that, so it cannot wrap first). */
static int zoneinfo_add(uint64_t *sum, uint64_t v) {
        if (*sum + v > ZONEINFO_PAGES_MAX)
                return -EBADMSG;
        *sum += v;
        return 0;
}

/* The zone that just ended: what zoneinfo_node_room() needs of it. */
static void zoneinfo_zone_room(ZoneRoom *z, const char *name, bool movable, unsigned seen,
                               const uint64_t v[static _ZI_MAX]) {
        const unsigned wm = (1u << ZI_MIN) | (1u << ZI_LOW) | (1u << ZI_HIGH) | (1u << ZI_FREE);

        z->kernel = !movable;
        z->is_normal = strcmp(name, "Normal") == 0;
        z->judged = (seen & wm) == wm;
        z->free = v[ZI_FREE];
        z->file = v[ZI_INACTIVE_FILE] + v[ZI_ACTIVE_FILE];
}

/* The zone that just ended: its counts into its node, and into 'room' what the node's kernel room needs. */
static int zoneinfo_zone_done(ZoneinfoNode *n, ZoneRoom *room, const char *name, bool movable, unsigned seen,
                              const uint64_t v[static _ZI_MAX]) {
        const unsigned marks = (1u << ZI_MIN) | (1u << ZI_LOW) | (1u << ZI_HIGH);
        const unsigned wm = marks | (1u << ZI_FREE);
        int r;

        zoneinfo_zone_room(room, name, movable, seen, v);

        /* A zone without its "present" line: the file was cut short. */
        if (!(seen & (1u << ZI_PRESENT)))
                return -EBADMSG;
        /* The kernel prints min, low and high as one block: some but not all is not its file. */
        if ((seen & marks) != 0 && (seen & marks) != marks)
                return -EBADMSG;
        r = zoneinfo_add(movable ? &n->movable_present : &n->kernel_present, v[ZI_PRESENT]);
        if (r >= 0 && (seen & (1u << ZI_INACTIVE_FILE)))
                r = zoneinfo_add(&n->file_pages, v[ZI_INACTIVE_FILE]);
        if (r >= 0 && (seen & (1u << ZI_ACTIVE_FILE)))
                r = zoneinfo_add(&n->file_pages, v[ZI_ACTIVE_FILE]);
        if (r < 0)
                return r;
        if ((seen & wm) != wm) {
                n->watermarks_missing = true;
                return 0;
        }
        if (!movable) {
                r = zoneinfo_add(&n->kernel_free, v[ZI_FREE]);
                if (r >= 0)
                        r = zoneinfo_add(&n->kernel_min, v[ZI_MIN]);
                if (r >= 0)
                        r = zoneinfo_add(&n->kernel_low, v[ZI_LOW]);
                if (r >= 0)
                        r = zoneinfo_add(&n->kernel_high, v[ZI_HIGH]);
        } else {
                r = zoneinfo_add(&n->movable_free, v[ZI_FREE]);
                if (r >= 0)
                        r = zoneinfo_add(&n->movable_high, v[ZI_HIGH]);
        }
        return r;
}

int zoneinfo_parse_nodes(const char *text, ZoneinfoNode *ret, size_t n_nodes) {
        _cleanup_free_ ZoneinfoNode *nodes = NULL;
        char zones[ZONES_PER_NODE_MAX][ZONE_NAME_MAX];
        ZoneRoom rooms[ZONES_PER_NODE_MAX] = {};
        size_t n_zones = 0, len;
        uint64_t node = 0, v[_ZI_MAX] = {};
        unsigned seen = 0;
        bool in_zone = false, is_movable = false, skip = false, seen_zone = false;
        const char *p = text, *line;
        int k, r;

        /* Sums go to a scratch array first: the caller's array is not written on failure. */
        nodes = calloc(n_nodes ?: 1, sizeof(ZoneinfoNode));
        if (!nodes)
                return -ENOMEM;

        while ((k = next_line(&p, &line, &len)) >= 0) {
                char zone[ZONE_NAME_MAX];
                uint64_t nd, value, prot[ZONES_PER_NODE_MAX];
                size_t w, n_prot;

                if (k == 0)
                        return -EBADMSG;

                r = zoneinfo_parse_header(line, len, &nd, zone);
                if (r < 0)
                        return r;
                if (r > 0) {
                        if (nd >= n_nodes)
                                return -ERANGE;
                        if (in_zone && !skip) {
                                r = zoneinfo_zone_done(&nodes[node], &rooms[n_zones - 1], zones[n_zones - 1], is_movable,
                                                       seen, v);
                                if (r < 0)
                                        return r;
                        } else if (in_zone && !(seen & (1u << ZI_PRESENT)))
                                return -EBADMSG;
                        /* The kernel walks nodes in increasing order and prints each zone once. */
                        if (seen_zone && nd < node)
                                return -EBADMSG;
                        if (seen_zone && nd != node)
                                zoneinfo_node_room(&nodes[node], rooms, n_zones);
                        if (!seen_zone || nd != node) {
                                n_zones = 0;
                                memset(rooms, 0, sizeof(rooms));
                        }
                        for (size_t z = 0; z < n_zones; z++)
                                if (strcmp(zones[z], zone) == 0)
                                        return -EBADMSG;
                        if (n_zones >= ZONES_PER_NODE_MAX)
                                return -EBADMSG;
                        strcpy(zones[n_zones++], zone);

                        node = nd;
                        is_movable = strcmp(zone, "Movable") == 0;
                        /* ZONE_DEVICE pages are not memory blocks' business (always 0 present). */
                        skip = strcmp(zone, "Device") == 0;
                        in_zone = seen_zone = true;
                        nodes[node].has_zone = true;
                        seen = 0;
                        memset(v, 0, sizeof(v));
                        continue;
                }

                r = zoneinfo_parse_protection(line, len, prot, &n_prot);
                if (r < 0)
                        return r;
                if (r > 0) {
                        /* Once per zone, inside one. */
                        if (!in_zone || rooms[n_zones - 1].n_protection > 0)
                                return -EBADMSG;
                        memcpy(rooms[n_zones - 1].protection, prot, sizeof(prot));
                        rooms[n_zones - 1].n_protection = n_prot;
                        continue;
                }
                for (w = 0; w < _ZI_MAX; w++) {
                        r = zoneinfo_parse_count(line, len, zoneinfo_words[w], &value);
                        if (r != 0)
                                break;
                }
                if (w == _ZI_MAX)
                        continue;
                if (r < 0)
                        return r;
                /* A count before any zone, or twice in one zone. */
                if (!in_zone || (seen & (1u << w)))
                        return -EBADMSG;
                seen |= 1u << w;
                v[w] = value;
        }
        if (!seen_zone)
                return -EBADMSG;
        if (!skip) {
                r = zoneinfo_zone_done(&nodes[node], &rooms[n_zones - 1], zones[n_zones - 1], is_movable, seen, v);
                if (r < 0)
                        return r;
        } else if (!(seen & (1u << ZI_PRESENT)))
                return -EBADMSG;
        zoneinfo_node_room(&nodes[node], rooms, n_zones);

        memcpy(ret, nodes, n_nodes * sizeof(ZoneinfoNode));
        return 0;
}

int zoneinfo_parse(const char *text, uint64_t *kernel, uint64_t *movable, size_t n_nodes) {
        _cleanup_free_ ZoneinfoNode *nodes = NULL;
        int r;

        nodes = calloc(n_nodes ?: 1, sizeof(ZoneinfoNode));
        if (!nodes)
                return -ENOMEM;
        r = zoneinfo_parse_nodes(text, nodes, n_nodes);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_nodes; i++) {
                kernel[i] = nodes[i].kernel_present;
                movable[i] = nodes[i].movable_present;
        }
        return 0;
}
