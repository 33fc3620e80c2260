/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A guest helper for the drain scenario (tests/vm/run.py), built static on the host and copied into the
 * busybox guest:
 *
 *   vm-pages fill NODE MIB   bind to NODE (MPOL_BIND), fill MIB of anonymous memory with a pattern, print
 *                            "ready", then on SIGUSR1 check every byte and print "intact" or "corrupt"
 *                            (a workload whose pages a drain must migrate, not lose)
 *   vm-pages now             print CLOCK_MONOTONIC in seconds (bench/drain.py times commands with it)
 *   vm-pages pin NODE KIB    bind to NODE, touch KIB (at most 1024) and vmsplice() them into a pipe nobody
 *                            reads, print "pinned", then sleep: the pipe holds references to the pages, so
 *                            an offline of their block retries migration until the writer gets a signal
 *                            (DESIGN, kernel facts)
 *
 * No libnuma in the guest: set_mempolicy(2) by its syscall number.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MPOL_BIND 2

static volatile sig_atomic_t check_now;

static void on_usr1(int sig) {
        (void) sig;
        check_now = 1;
}

static int bind_node(unsigned node) {
        unsigned long mask = 1UL << node;

        if (node >= 64 || syscall(SYS_set_mempolicy, MPOL_BIND, &mask, 64UL) < 0) {
                perror("set_mempolicy");
                return -1;
        }
        return 0;
}

/* One 64-bit word per step: byte loops are slow under TCG. */
static uint64_t pattern(size_t i) {
        return (uint64_t) i * 0x9e3779b97f4a7c15ULL;
}

static int fill(unsigned node, size_t mib) {
        size_t len = mib << 20;
        struct sigaction sa = { .sa_handler = on_usr1 };
        uint64_t *p;

        if (bind_node(node) < 0)
                return 1;
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
                perror("mmap");
                return 1;
        }
        for (size_t i = 0; i < len / 8; i++)
                p[i] = pattern(i);
        sigaction(SIGUSR1, &sa, NULL);
        printf("ready\n");
        fflush(stdout);
        while (!check_now)
                pause();
        for (size_t i = 0; i < len / 8; i++)
                if (p[i] != pattern(i)) {
                        printf("corrupt at %zu\n", i * 8);
                        return 1;
                }
        printf("intact\n");
        return 0;
}

static int pin(unsigned node, size_t kib) {
        size_t len = kib << 10;
        struct iovec iov;
        int fds[2];
        uint8_t *p;

        if (kib == 0 || kib > 1024 || bind_node(node) < 0)
                return 1;
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED || pipe(fds) < 0) {
                perror("mmap/pipe");
                return 1;
        }
        memset(p, 0x5a, len);
        /* The default pipe holds 16 pages; 1 MiB (pipe-max-size) holds 256. */
        if (fcntl(fds[1], F_SETPIPE_SZ, 1 << 20) < 0) {
                perror("F_SETPIPE_SZ");
                return 1;
        }
        iov = (struct iovec) { .iov_base = p, .iov_len = len };
        if (vmsplice(fds[1], &iov, 1, 0) != (ssize_t) len) {
                perror("vmsplice");
                return 1;
        }
        printf("pinned\n");
        fflush(stdout);
        for (;;)
                pause();
}

int main(int argc, char **argv) {
        if (argc == 2 && strcmp(argv[1], "now") == 0) {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                printf("%lld.%09ld\n", (long long) ts.tv_sec, ts.tv_nsec);
                return 0;
        }
        if (argc == 4 && strcmp(argv[1], "fill") == 0)
                return fill((unsigned) atoi(argv[2]), (size_t) atoi(argv[3]));
        if (argc == 4 && strcmp(argv[1], "pin") == 0)
                return pin((unsigned) atoi(argv[2]), (size_t) atoi(argv[3]));
        fprintf(stderr, "usage: vm-pages fill NODE MIB | pin NODE KIB | now\n");
        return 2;
}
