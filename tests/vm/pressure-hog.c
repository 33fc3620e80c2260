/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest helper of the VM scenario pressure-reserve and of bench/ (built static by tests/vm/run.py):
 * a memory hog that also measures how long memhpd takes from a PSI breach to the first reserve block
 * online.
 *
 *   pressure-hog TRIGGER MAX_MIB STEP_MIB PAUSE_MS memoryN...
 *
 * A watcher thread sets its own PSI trigger TRIGGER ("some 50000 500000", the same as memhpd's) on
 * /proc/pressure/memory: both triggers belong to the same PSI group and fire on the same breach. It
 * notes the time of the first POLLPRI, then reads the listed blocks' state every 200 µs until one is
 * online. The main thread touches STEP_MIB of anonymous memory at a time (never freed; no swap), then
 * sleeps PAUSE_MS, until every listed block is online or MAX_MIB are held; then waits up to 10 s for
 * a listed block to come online. Prints one line:
 *
 *   hog: held=MIB reserve_online=N/M breach_to_online_ms=X|none
 *
 * and exits 0 (the scenario checks the figures and dmesg).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static const char *trigger;
static char **blocks;
static int n_blocks;
static _Atomic long long breach_ns = -1, online_ns = -1;

static long long now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int count_online(void) {
        int n = 0;

        for (int i = 0; i < n_blocks; i++) {
                char path[128], buf[32] = "";
                int fd;
                ssize_t l;

                snprintf(path, sizeof(path), "/sys/devices/system/memory/%s/state", blocks[i]);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                l = read(fd, buf, sizeof(buf) - 1);
                close(fd);
                if (l > 0 && strncmp(buf, "online", 6) == 0)
                        n++;
        }
        return n;
}

static void *watch(void *arg) {
        struct pollfd p = { .events = POLLPRI };

        (void) arg;
        p.fd = open("/proc/pressure/memory", O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (p.fd < 0 || write(p.fd, trigger, strlen(trigger) + 1) < 0) {
                fprintf(stderr, "hog: cannot set the PSI trigger: %s\n", strerror(errno));
                return NULL;
        }
        while (poll(&p, 1, -1) < 0 && errno == EINTR)
                ;
        breach_ns = now_ns();
        while (count_online() == 0)
                usleep(200);
        online_ns = now_ns();
        return NULL;
}

int main(int argc, char **argv) {
        long max_mib, step_mib, pause_ms, held = 0;
        pthread_t t;

        if (argc < 6) {
                fprintf(stderr, "usage: pressure-hog TRIGGER MAX_MIB STEP_MIB PAUSE_MS memoryN...\n");
                return 2;
        }
        trigger = argv[1];
        max_mib = atol(argv[2]);
        step_mib = atol(argv[3]);
        pause_ms = atol(argv[4]);
        blocks = argv + 5;
        n_blocks = argc - 5;
        if (pthread_create(&t, NULL, watch, NULL) != 0)
                return 1;
        usleep(100000); /* the trigger is set before the first byte */
        while (held < max_mib && count_online() < n_blocks) {
                size_t size = (size_t) step_mib << 20;
                char *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

                if (m == MAP_FAILED)
                        break;
                for (size_t i = 0; i < size; i += 4096)
                        m[i] = 1;
                held += step_mib;
                if (pause_ms > 0)
                        usleep((useconds_t) pause_ms * 1000);
        }
        /* Held all it may: give a breach (and memhpd's step) up to 10 s to come. */
        for (int i = 0; i < 5000 && online_ns < 0 && count_online() < n_blocks; i++)
                usleep(2000);
        for (int i = 0; i < 500 && breach_ns >= 0 && online_ns < 0; i++)
                usleep(2000); /* the watcher polls every 200 µs: let it see the block */
        if (breach_ns >= 0 && online_ns >= 0)
                printf("hog: held=%ld reserve_online=%d/%d breach_to_online_ms=%.1f\n", held, count_online(),
                       n_blocks, (online_ns - breach_ns) / 1e6);
        else
                printf("hog: held=%ld reserve_online=%d/%d breach_to_online_ms=none\n", held, count_online(),
                       n_blocks);
        return 0;
}
