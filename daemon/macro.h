/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the small language helpers every file uses: cleanup attributes, TAKE_PTR/TAKE_FD, ELEMENTSOF. */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _noreturn_ __attribute__((noreturn))

/* Hand a pointer over to someone else; the cleanup of the old owner then sees NULL. */
#define TAKE_PTR(p)                           \
        ({                                    \
                typeof(p) _ptr_ = (p);        \
                (p) = NULL;                   \
                _ptr_;                        \
        })

#define TAKE_FD(fd)                           \
        ({                                    \
                int _fd_ = (fd);              \
                (fd) = -EBADF;                \
                _fd_;                         \
        })

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                (void) close(*fd);
                errno = saved;
        }
}
#define _cleanup_close_ _cleanup_(closep)

/* Destructors take NULL and return NULL so that "p = thing_free(p);" reads naturally. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)   \
        static inline void func##p(type *p) {     \
                if (*p)                           \
                        (void) func(*p);          \
        }

/* The position of 'x' in the sorted array 'a' of 'n', or where it would go (the first element >= x). */
static inline size_t u32_lower_bound(const uint32_t *a, size_t n, uint32_t x) {
        size_t lo = 0, hi = n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (a[mid] < x)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static inline const char *strna(const char *s) {
        return s ?: "n/a";
}

static inline const char *yes_no(int b) {
        return b ? "yes" : "no";
}

static inline const char *plural(unsigned long long n, const char *one, const char *many) {
        return n == 1 ? one : many;
}

/* CLOCK_MONOTONIC in microseconds: the clock of every timer and timestamp memhpd keeps. */
static inline uint64_t now_monotonic_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}
