/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guest-side helper for the real-kernel benchmarks (bench/vmbench.py), linked statically and put
 * into the guest's initramfs.
 *
 *   guest-tool now                    print CLOCK_MONOTONIC in seconds (ns precision)
 *   guest-tool uevlog FILE N          log every kernel uevent as "SECONDS ACTION memoryN"
 *                                     (a memory block) or "SECONDS ACTION DEVPATH" (any other
 *                                     device; CLOCK_MONOTONIC at receipt) to FILE; exit after N
 *                                     memory blocks' "online" events (0: never)
 *   guest-tool hog LEFT_MIB           allocate and touch anonymous memory until MemAvailable is
 *                                     at most LEFT_MIB, print how much, then sleep until killed
 *
 * The logger listens on the kernel's own netlink group (1), the same events every agent sees
 * first, with a large receive buffer, and locks its memory so that memory pressure cannot stall
 * it. Its cost (one write per event) is the same whichever agent onlines the blocks. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double mono(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int uevlog(const char *path, long want) {
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1 };
        int sz = 64 << 20, fd, out;
        long online = 0;
        static char buf[16384];

        (void) mlockall(MCL_CURRENT | MCL_FUTURE);
        fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
        if (fd < 0 || (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0 &&
                       setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)) < 0) ||
            bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                perror("uevlog: netlink");
                return 1;
        }
        out = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (out < 0) {
                perror(path);
                return 1;
        }
        dprintf(out, "%.9f ready -\n", mono());
        for (;;) {
                ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
                double t = mono();
                const char *at, *name;
                char line[160];
                int len, block;

                if (n < 0) {
                        if (errno == ENOBUFS) {
                                dprintf(out, "%.9f lost -\n", t);
                                continue;
                        }
                        if (errno == EINTR)
                                continue;
                        perror("uevlog: recv");
                        return 1;
                }
                buf[n] = '\0';
                /* The kernel's header: "ACTION@DEVPATH". A memory block is logged as "memoryN", any
                 * other device (the ACPI memory device of a DIMM, the container, virtio) by its
                 * DEVPATH, for the profile of what happens before the blocks appear. */
                at = strchr(buf, '@');
                if (!at)
                        continue;
                block = strncmp(at + 1, "/devices/system/memory/memory", 29) == 0;
                name = block ? at + 1 + 23 : at + 1;
                len = snprintf(line, sizeof(line), "%.9f %.*s %.100s\n", t, (int) (at - buf), buf, name);
                if (len >= (int) sizeof(line))
                        len = sizeof(line) - 1;
                if (write(out, line, len) != len)
                        return 1;
                if (block && at - buf == 6 && strncmp(buf, "online", 6) == 0 && want > 0 && ++online >= want)
                        return 0;
        }
}

static long mem_available_kib(void) {
        char line[256];
        long v = -1;
        FILE *f = fopen("/proc/meminfo", "re");

        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "MemAvailable: %ld kB", &v) == 1)
                        break;
        fclose(f);
        return v;
}

static _Noreturn void hog(long left_mib) {
        long got = 0;

        for (;;) {
                long avail = mem_available_kib();
                char *p;

                if (avail < 0 || avail <= left_mib * 1024)
                        break;
                p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED)
                        break;
                for (long i = 0; i < (1 << 20); i += 4096)
                        p[i] = 1;
                got++;
        }
        printf("hog: holding %ld MiB, MemAvailable %ld MiB\n", got, mem_available_kib() / 1024);
        fflush(stdout);
        for (;;)
                pause();
}

int main(int argc, char **argv) {
        if (argc == 2 && strcmp(argv[1], "now") == 0) {
                printf("%.9f\n", mono());
                return 0;
        }
        if (argc == 4 && strcmp(argv[1], "uevlog") == 0)
                return uevlog(argv[2], atol(argv[3]));
        if (argc == 3 && strcmp(argv[1], "hog") == 0)
                hog(atol(argv[2]));
        fprintf(stderr, "usage: guest-tool now | uevlog FILE N | hog LEFT_MIB\n");
        return 2;
}
