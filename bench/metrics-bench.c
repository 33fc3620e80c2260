/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * MetricsFile= at scale: the time memhpd's metrics_write() (snapshot, render, temp file, rename) takes
 * on a fake tree (bench/mkfake.py), with two baselines measured in the same process on the same tree:
 * kept_offline_save() (the other file memhpd rewrites from a walk over every block) and the I/O floor
 * (the same bytes written to a temp file and renamed, nothing rendered). Built and run by
 * `python3 bench/scale.py metrics --memhpd build/daemon/memhpd --tree DIR` against the build's
 * libmemhpd-core.a; prints one JSON object.
 *
 *   metrics-bench ROOT RUNS
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "audit.h"
#include "block-events.h"
#include "kept-offline.h"
#include "manager.h"
#include "metrics.h"

#define DIR_REL "run/memhpd-bench"

static double now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
        qsort(v, (size_t) n, sizeof(double), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The same bytes, written and renamed: what any writer of this file pays. */
static int io_floor(const char *dir, const char *text, size_t len) {
        char tmp[4096], dst[4096];
        int fd;

        snprintf(tmp, sizeof(tmp), "%s/floor.tmp", dir);
        snprintf(dst, sizeof(dst), "%s/floor.prom", dir);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, text, len) != (ssize_t) len || close(fd) < 0)
                return -1;
        return rename(tmp, dst);
}

int main(int argc, char **argv) {
        ManagerOptions opts = {};
        Manager *m;
        char dir[4096], path[4096];
        double warm_total = 0, warm_max = 0, *w, *k, *f;
        int runs, r, warmup;
        char *text = NULL;
        size_t len = 0;
        FILE *in;

        if (argc != 3 || (runs = atoi(argv[2])) < 1) {
                fprintf(stderr, "usage: %s ROOT RUNS\n", argv[0]);
                return 2;
        }
        opts.root = argv[1];
        audit_init(AUDIT_TO_STDERR);
        if (manager_new(&opts, &m) < 0 || sd_event_default(&m->event) < 0)
                return 1;
        snprintf(dir, sizeof(dir), "%s/" DIR_REL, argv[1]);
        (void) mkdir(dir, 0755);
        snprintf(m->settings.metrics_file, sizeof(m->settings.metrics_file), "/" DIR_REL "/memhpd.prom");
        if (metrics_start(m) < 0 || block_events_rescan(m) < 0)
                return 1;

        /* The first writes also read valid_zones of the blocks the scan found online (boot memory),
         * METRICS_ZONE_READS_MAX a write: time them apart, until every zone is known. */
        warmup = m->inv->n_present / METRICS_ZONE_READS_MAX + 1;
        for (int i = 0; i < warmup; i++) {
                double t = now_ms();
                if ((r = metrics_write(m)) < 0) {
                        fprintf(stderr, "metrics_write: %s\n", strerror(-r));
                        return 1;
                }
                t = now_ms() - t;
                warm_total += t;
                if (t > warm_max)
                        warm_max = t;
        }

        w = calloc((size_t) runs, sizeof(double));
        k = calloc((size_t) runs, sizeof(double));
        f = calloc((size_t) runs, sizeof(double));
        snprintf(path, sizeof(path), "%s/memhpd.prom", dir);
        in = fopen(path, "re");
        if (!w || !k || !f || !in || getdelim(&text, &len, '\0', in) < 0)
                return 1;
        len = strlen(text);
        fclose(in);
        /* After the first writes every boot block's zone is known: no block is left "unknown". */
        if (strstr(text, "zone=\"unknown\"")) {
                fprintf(stderr, "zones still unknown after %d writes:\n%s", warmup, text);
                return 1;
        }
        /* Interleaved, so that a change in the machine's load hits all three alike. */
        for (int i = 0; i < runs; i++) {
                double t = now_ms();
                if (metrics_write(m) < 0)
                        return 1;
                w[i] = now_ms() - t;
                t = now_ms();
                if (kept_offline_save(m) < 0)
                        return 1;
                k[i] = now_ms() - t;
                t = now_ms();
                if (io_floor(dir, text, len) < 0)
                        return 1;
                f[i] = now_ms() - t;
        }
        printf("{\"blocks\": %u, \"bytes\": %zu, \"runs\": %d, \"zone_writes\": %d, \"zone_write_max_ms\": %.3f, "
               "\"zone_writes_total_ms\": %.3f, \"write_ms\": %.3f, \"kept_offline_save_ms\": %.3f, "
               "\"io_floor_ms\": %.3f}\n",
               m->inv->n_present, len, runs, warmup, warm_max, warm_total, median(w, runs), median(k, runs),
               median(f, runs));
        free(text);
        free(w);
        free(k);
        free(f);
        manager_free(m);
        return 0;
}
