/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Prometheus text renderer on fixture inventories: the counts and labels it gives, label escaping,
 * and a checker of the exposition format's rules (text format 0.0.4) run over everything it renders. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "metrics.h"
#include "unit-helpers.h"

static char *render(const MetricsSnapshot *s) {
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(metrics_render(s, f), 0);
        ck_assert_int_eq(fclose(f), 0);
        return text;
}

static bool name_ok(const char *s, size_t n, bool colon) {
        if (n == 0 || !(isalpha((unsigned char) s[0]) || s[0] == '_' || (colon && s[0] == ':')))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!(isalnum((unsigned char) s[i]) || s[i] == '_' || (colon && s[i] == ':')))
                        return false;
        return true;
}

static bool ends_with(const char *s, size_t n, const char *suffix) {
        size_t l = strlen(suffix);
        return n >= l && memcmp(s + n - l, suffix, l) == 0;
}

/*
 * Check 'text' against the exposition format. Returns the number of samples, or -1 with the first
 * broken rule in 'err'. The rules: every line ends in \n; HELP and TYPE name a valid metric name; one TYPE per
 * family, before its samples; a family's samples are contiguous; metric and label names have the
 * allowed characters; a label value is quoted with only \\, \" and \n escapes; values are numbers;
 * a histogram has _bucket samples with increasing le, cumulative counts, a last le="+Inf" equal to
 * _count, and a _sum; counters end in _total.
 */
#define REQUIRE(cond, ...)                                      \
        do {                                                    \
                if (!(cond)) {                                  \
                        snprintf(err, errsize, __VA_ARGS__);    \
                        return -1;                              \
                }                                               \
        } while (0)

static int check_exposition(const char *text, char *err, size_t errsize) {
        char family[128] = "", type[16] = "";
        char seen[64][128];
        int n_seen = 0, samples = 0;
        double last_le = -INFINITY, last_bucket = -1, inf_bucket = -1;
        bool have_sum = false, have_count = false;

        REQUIRE(*text && text[strlen(text) - 1] == '\n', "%s", "*text && text[strlen(text) - 1] == '\\n'");
        for (const char *line = text; *line; line = strchr(line, '\n') + 1) {
                size_t len = strcspn(line, "\n");
                const char *p = line, *name;
                size_t nlen;
                double value;
                char *end;

                if (strncmp(line, "# TYPE ", 7) == 0 || strncmp(line, "# HELP ", 7) == 0) {
                        bool is_type = line[2] == 'T';
                        name = line + 7;
                        nlen = strcspn(name, " \n");
                        REQUIRE(name_ok(name, nlen, true), "bad name in: %.*s", (int) len, line);
                        if (!is_type)
                                continue;
                        /* The previous family is complete. */
                        if (strcmp(type, "histogram") == 0)
                                REQUIRE(have_sum && have_count && inf_bucket >= 0, "%s incomplete", family);
                        REQUIRE(nlen < sizeof(family), "%s", "nlen < sizeof(family)");
                        memcpy(family, name, nlen);
                        family[nlen] = '\0';
                        for (int i = 0; i < n_seen; i++)
                                REQUIRE(strcmp(seen[i], family) != 0, "second TYPE for %s", family);
                        REQUIRE(n_seen < 64, "%s", "n_seen < 64");
                        strcpy(seen[n_seen++], family);
                        p = name + nlen + 1;
                        REQUIRE(strncmp(p, "counter\n", 8) == 0 || strncmp(p, "gauge\n", 6) == 0 ||
                                      strncmp(p, "histogram\n", 10) == 0 || strncmp(p, "summary\n", 8) == 0 ||
                                      strncmp(p, "untyped\n", 8) == 0, "bad type in: %.*s", (int) len, line);
                        snprintf(type, sizeof(type), "%.*s", (int) strcspn(p, "\n"), p);
                        if (strcmp(type, "counter") == 0)
                                REQUIRE(ends_with(family, strlen(family), "_total"), "counter %s", family);
                        last_le = -INFINITY;
                        last_bucket = inf_bucket = -1;
                        have_sum = have_count = false;
                        continue;
                }
                REQUIRE(line[0] != '#', "unknown comment: %.*s", (int) len, line);

                /* A sample: name{labels} value */
                name = p;
                nlen = strcspn(p, "{ ");
                REQUIRE(name_ok(name, nlen, true), "bad metric name in: %.*s", (int) len, line);
                REQUIRE(*family, "sample before any TYPE: %.*s", (int) len, line);
                if (strcmp(type, "histogram") == 0)
                        REQUIRE((nlen == strlen(family) + 7 && strncmp(name, family, strlen(family)) == 0 &&
                                       ends_with(name, nlen, "_bucket")) ||
                                      (nlen == strlen(family) + 4 && strncmp(name, family, strlen(family)) == 0 &&
                                       (ends_with(name, nlen, "_sum"))) ||
                                      (nlen == strlen(family) + 6 && strncmp(name, family, strlen(family)) == 0 &&
                                       ends_with(name, nlen, "_count")),
                                      "sample %.*s outside its family %s", (int) nlen, name, family);
                else
                        REQUIRE(nlen == strlen(family) && strncmp(name, family, nlen) == 0,
                                      "sample %.*s outside its family %s", (int) nlen, name, family);
                p += nlen;
                double le = NAN;
                if (*p == '{') {
                        p++;
                        while (*p != '}') {
                                size_t ln = strcspn(p, "=");
                                bool is_le;
                                char val[256];
                                size_t vn = 0;

                                REQUIRE(name_ok(p, ln, false), "bad label name in: %.*s", (int) len, line);
                                REQUIRE(!(ln >= 2 && p[0] == '_' && p[1] == '_'), "reserved label name");
                                is_le = ln == 2 && strncmp(p, "le", 2) == 0;
                                p += ln;
                                REQUIRE(p[0] == '=' && p[1] == '"', "%s", "p[0] == '=' && p[1] == '\"'");
                                p += 2;
                                while (*p != '"') {
                                        REQUIRE(*p && *p != '\n', "unterminated label value: %.*s", (int) len, line);
                                        if (*p == '\\') {
                                                REQUIRE(p[1] == '\\' || p[1] == '"' || p[1] == 'n',
                                                              "bad escape in: %.*s", (int) len, line);
                                                p++;
                                        }
                                        REQUIRE(vn < sizeof(val) - 1, "%s", "vn < sizeof(val) - 1");
                                        val[vn++] = *p++;
                                }
                                val[vn] = '\0';
                                p++;
                                if (is_le)
                                        le = strcmp(val, "+Inf") == 0 ? INFINITY : strtod(val, NULL);
                                if (*p == ',')
                                        p++;
                                else
                                        REQUIRE(*p == '}', "bad label list in: %.*s", (int) len, line);
                        }
                        p++;
                }
                REQUIRE(*p == ' ', "no value in: %.*s", (int) len, line);
                p++;
                errno = 0;
                value = strtod(p, &end);
                REQUIRE(errno == 0 && end != p && *end == '\n', "bad value in: %.*s", (int) len, line);
                samples++;

                if (ends_with(name, nlen, "_bucket") && strcmp(type, "histogram") == 0) {
                        REQUIRE(!isnan(le), "bucket without le: %.*s", (int) len, line);
                        REQUIRE(le > last_le, "le not increasing: %.*s", (int) len, line);
                        REQUIRE(value >= last_bucket, "buckets not cumulative: %.*s", (int) len, line);
                        last_le = le;
                        last_bucket = value;
                        if (isinf(le))
                                inf_bucket = value;
                } else if (ends_with(name, nlen, "_sum") && strcmp(type, "histogram") == 0)
                        have_sum = true;
                else if (ends_with(name, nlen, "_count") && strcmp(type, "histogram") == 0) {
                        REQUIRE(inf_bucket >= 0 && value == inf_bucket, "+Inf bucket != _count in %s", family);
                        have_count = true;
                }
        }
        if (strcmp(type, "histogram") == 0)
                REQUIRE(have_sum && have_count && inf_bucket >= 0, "%s incomplete", family);
        return samples;
}

static int assert_exposition(const char *text) {
        char err[256];
        int n = check_exposition(text, err, sizeof(err));

        ck_assert_msg(n >= 0, "%s\n---\n%s", err, text);
        return n;
}

static Block block(BlockState state, Zone zone, int node, DeviceKind device) {
        return (Block) { .state = state, .zone = zone, .device = device, .node = (int16_t) node,
                         .flags = BLOCK_PRESENT | BLOCK_CLASSIFIED };
}

START_TEST(label_escaping) {
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        metrics_write_label_value(f, "a\\b\"c\nd");
        metrics_write_label_value(f, "");
        metrics_write_label_value(f, "plain-1.0");
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_str_eq(text, "a\\\\b\\\"c\\ndplain-1.0");
        free(text);
}
END_TEST

START_TEST(render_counts_blocks_by_labels) {
        Block blocks[12] = {};
        MetricsHistogram h = {};
        MetricsSnapshot s = { .blocks = blocks, .n_blocks = 12, .block_size = 128 << 20, .quarantined_blocks = 2,
                              .policies = 3, .config_ok = true, .latency = &h, .version = "0.1" };
        char *text;

        for (int i = 0; i < 4; i++)
                blocks[i] = block(STATE_ONLINE, ZONE_NORMAL, 0, DEVICE_BOOT);
        blocks[4] = block(STATE_ONLINE, ZONE_MOVABLE, 1, DEVICE_ACPI_DIMM);
        blocks[5] = block(STATE_ONLINE, ZONE_MOVABLE, 1, DEVICE_ACPI_DIMM);
        blocks[6] = block(STATE_OFFLINE, ZONE_UNKNOWN, 1, DEVICE_ACPI_DIMM);
        blocks[7] = block(STATE_OFFLINE, ZONE_UNKNOWN, -1, DEVICE_VIRTIO_MEM);
        /* A block that is not present counts nowhere; an unclassified one is "unknown". */
        blocks[8] = block(STATE_ONLINE, ZONE_NORMAL, 0, DEVICE_BOOT);
        blocks[8].flags = 0;
        blocks[9] = block(STATE_OFFLINE, ZONE_UNKNOWN, 0, DEVICE_XEN);
        blocks[9].flags &= ~BLOCK_CLASSIFIED;
        /* Not adjacent to its kind: still the same group as blocks 0-3. */
        blocks[10] = block(STATE_ONLINE, ZONE_NORMAL, 0, DEVICE_BOOT);
        blocks[11] = block(STATE_ONLINE, ZONE_MOVABLE, 1, DEVICE_ACPI_DIMM);
        s.counter[METRICS_ONLINED] = 3;
        s.counter[METRICS_EVENTS_LOST] = 1;

        text = render(&s);
        assert_exposition(text);
        ck_assert_ptr_nonnull(strstr(text, "\nmemhpd_memory_blocks{state=\"online\",zone=\"Normal\",node=\"0\",device=\"boot\"} 5\n"));
        ck_assert_ptr_nonnull(strstr(text, "\nmemhpd_memory_blocks{state=\"online\",zone=\"Movable\",node=\"1\",device=\"acpi-dimm\"} 3\n"));
        ck_assert_ptr_nonnull(strstr(text, "\nmemhpd_memory_blocks{state=\"offline\",zone=\"\",node=\"1\",device=\"acpi-dimm\"} 1\n"));
        ck_assert_ptr_nonnull(strstr(text, "\nmemhpd_memory_blocks{state=\"offline\",zone=\"\",node=\"\",device=\"virtio-mem\"} 1\n"));
        ck_assert_ptr_nonnull(strstr(text, "\nmemhpd_memory_blocks{state=\"offline\",zone=\"\",node=\"0\",device=\"unknown\"} 1\n"));
        ck_assert_ptr_nonnull(strstr(text, "\nmemhpd_memory_bytes{state=\"online\",zone=\"Movable\",node=\"1\",device=\"acpi-dimm\"} 402653184\n"));
        ck_assert_ptr_nonnull(strstr(text, "\nmemhpd_block_size_bytes 134217728\n"));
        ck_assert_ptr_nonnull(strstr(text, "\nmemhpd_blocks_onlined_total 3\n"));
        ck_assert_ptr_nonnull(strstr(text, "\nmemhpd_events_lost_total 1\n"));
        ck_assert_ptr_nonnull(strstr(text, "\nmemhpd_conflicts_total 0\n"));
        ck_assert_ptr_nonnull(strstr(text, "\nmemhpd_blocks_rebalanced_total 0\n"));
        ck_assert_ptr_nonnull(strstr(text, "\nmemhpd_quarantined_blocks 2\n"));
        ck_assert_ptr_nonnull(strstr(text, "\nmemhpd_policies 3\n"));
        ck_assert_ptr_nonnull(strstr(text, "\nmemhpd_config_ok 1\n"));
        /* Five groups: as many lines per family, no more. */
        int groups = 0;
        for (const char *p = text; (p = strstr(p, "\nmemhpd_memory_blocks{")); p++)
                groups++;
        ck_assert_int_eq(groups, 5);
        free(text);
}
END_TEST

START_TEST(render_histogram) {
        MetricsHistogram h = {};
        MetricsSnapshot s = { .block_size = 128 << 20, .latency = &h, .version = "0.1" };
        char *text;

        metrics_histogram_observe(&h, 1000);     /* exactly 1 ms: in le="0.001" */
        metrics_histogram_observe(&h, 1001);     /* le="0.0025" */
        metrics_histogram_observe(&h, 300000);   /* le="0.5" */
        metrics_histogram_observe(&h, 60000000); /* beyond every bound: only +Inf */
        ck_assert_uint_eq(h.count, 4);

        text = render(&s);
        ck_assert_int_gt(assert_exposition(text), 0);
        ck_assert_ptr_nonnull(strstr(text, "memhpd_hotadd_online_latency_seconds_bucket{le=\"0.001\"} 1\n"));
        ck_assert_ptr_nonnull(strstr(text, "memhpd_hotadd_online_latency_seconds_bucket{le=\"0.0025\"} 2\n"));
        ck_assert_ptr_nonnull(strstr(text, "memhpd_hotadd_online_latency_seconds_bucket{le=\"0.25\"} 2\n"));
        ck_assert_ptr_nonnull(strstr(text, "memhpd_hotadd_online_latency_seconds_bucket{le=\"0.5\"} 3\n"));
        ck_assert_ptr_nonnull(strstr(text, "memhpd_hotadd_online_latency_seconds_bucket{le=\"30\"} 3\n"));
        ck_assert_ptr_nonnull(strstr(text, "memhpd_hotadd_online_latency_seconds_bucket{le=\"+Inf\"} 4\n"));
        ck_assert_ptr_nonnull(strstr(text, "memhpd_hotadd_online_latency_seconds_sum 60.302001\n"));
        ck_assert_ptr_nonnull(strstr(text, "memhpd_hotadd_online_latency_seconds_count 4\n"));
        free(text);
}
END_TEST

START_TEST(render_escapes_hostile_label) {
        MetricsSnapshot s = { .block_size = 1, .version = "1\"} 9\nmemhpd_fake 1\n\\" };
        char *text = render(&s);

        /* The checker fails on an injected sample or a broken quote; the value round-trips escaped. */
        assert_exposition(text);
        ck_assert_ptr_nonnull(strstr(text, "memhpd_build_info{version=\"1\\\"} 9\\nmemhpd_fake 1\\n\\\\\"} 1\n"));
        ck_assert_ptr_null(strstr(text, "\nmemhpd_fake"));
        free(text);
}
END_TEST

START_TEST(checker_catches_broken_text) {
        /* The checker itself must be able to fail. */
        static const char *const bad[] = {
                "# TYPE a gauge\n# TYPE a gauge\na 1\n",                     /* two TYPEs */
                "# TYPE a gauge\nb 1\n",                                     /* outside its family */
                "# TYPE a gauge\na{x=\"1\\t\"} 1\n",                          /* bad escape */
                "# TYPE 1a gauge\n1a 1\n",                                   /* bad name */
                "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
                "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", /* no +Inf */
                "# TYPE c counter\nc 1\n",                                   /* counter without _total */
                "# TYPE a gauge\na one\n",                                   /* not a number */
        };
        char err[256];

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(check_exposition(bad[i], err, sizeof(err)) < 0, "checker accepted bad text %zu", i);
        ck_assert_int_eq(check_exposition("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\n"
                                          "h_sum 1\nh_count 1\n", err, sizeof(err)), 2 + 2);
}
END_TEST

START_TEST(metrics_file_names) {
        ck_assert_int_eq(metrics_file_valid(""), 0);
        ck_assert_int_eq(metrics_file_valid("/var/lib/prometheus/node-exporter/memhpd.prom"), 0);
        ck_assert_int_eq(metrics_file_valid("/memhpd.prom"), 0);
        ck_assert_int_eq(metrics_file_valid("memhpd.prom"), -EINVAL);
        ck_assert_int_eq(metrics_file_valid("/var/lib/"), -EINVAL);
        ck_assert_int_eq(metrics_file_valid("/var/lib/.."), -EINVAL);
}
END_TEST

static Suite *metrics_suite(void) {
        Suite *s = suite_create("metrics");
        TCase *tc = tcase_create("metrics");

        tcase_add_test(tc, label_escaping);
        tcase_add_test(tc, render_counts_blocks_by_labels);
        tcase_add_test(tc, render_histogram);
        tcase_add_test(tc, render_escapes_hostile_label);
        tcase_add_test(tc, checker_catches_broken_text);
        tcase_add_test(tc, metrics_file_names);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return unit_main(metrics_suite());
}
