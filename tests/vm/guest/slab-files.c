/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * slab-files DIR SECONDS: create empty files under DIR (10000 per subdirectory) until creation fails
 * or SECONDS pass. Every file costs the kernel a dentry and an inode (unmovable slab on tmpfs), nothing
 * else. Prints "count N elapsed S" about twice a second (so that a count survives an OOM kill) and
 * once at the end with how it ended: "done N S time" or "done N S errno-name".
 * Built static for the busybox guest by tests/vm/run.py (zone-rebalance) and bench/zone-slab.py.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
        char path[4096];
        unsigned long n = 0;
        double t0, last, limit;
        int fd;

        if (argc != 3) {
                fprintf(stderr, "usage: slab-files DIR SECONDS\n");
                return 2;
        }
        limit = atof(argv[2]);
        setvbuf(stdout, NULL, _IOLBF, 0);
        t0 = last = now();
        for (;;) {
                if (n % 1000 == 0) {
                        double t = now();

                        if (t - t0 >= limit) {
                                printf("done %lu %.1f time\n", n, t - t0);
                                return 0;
                        }
                        if (t - last >= 0.5) {
                                printf("count %lu elapsed %.1f\n", n, t - t0);
                                last = t;
                        }
                }
                if (n % 10000 == 0) {
                        snprintf(path, sizeof(path), "%s/d%lu", argv[1], n / 10000);
                        if (mkdir(path, 0700) < 0 && errno != EEXIST)
                                break;
                }
                snprintf(path, sizeof(path), "%s/d%lu/%lu", argv[1], n / 10000, n % 10000);
                fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
                if (fd < 0)
                        break;
                close(fd);
                n++;
        }
        printf("done %lu %.1f %s\n", n, now() - t0, strerror(errno));
        return 1;
}
