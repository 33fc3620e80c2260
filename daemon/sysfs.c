/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns file access under the Root ("/" or --root): small attribute reads and writes, whole-file reads,
 * directory listings with their errors. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "macro.h"
#include "sysfs.h"

int root_open(const char *path, Root **ret) {
        _cleanup_close_ int fd = -EBADF;
        Root *r;

        fd = open(path ?: "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->path = strdup(path ?: "/");
        if (!r->path) {
                free(r);
                return -ENOMEM;
        }
        /* Missing memory or node directories are legal: a kernel without CONFIG_MEMORY_HOTPLUG or
         * CONFIG_NUMA. The caller decides what that means. */
        r->memory_fd = openat(fd, "sys/devices/system/memory", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (r->memory_fd < 0)
                r->memory_fd = -EBADF;
        r->node_fd = openat(fd, "sys/devices/system/node", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (r->node_fd < 0)
                r->node_fd = -EBADF;
        r->fd = TAKE_FD(fd);
        *ret = r;
        return 0;
}

Root *root_free(Root *r) {
        if (!r)
                return NULL;
        closep(&r->fd);
        closep(&r->memory_fd);
        closep(&r->node_fd);
        free(r->path);
        free(r);
        return NULL;
}

ssize_t root_read(int dirfd, const char *path, char *buf, size_t size) {
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        if (dirfd < 0)
                return -ENOENT;
        /* O_NONBLOCK: nothing to sysfs, but a FIFO planted where an attribute should be (or a fixture's
         * stuck "kernel") then reads as empty instead of blocking the loop. */
        fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, size);
        if (n < 0)
                return -errno;
        if ((size_t) n >= size)
                return -EFBIG;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
                n--;
        buf[n] = '\0';
        return n;
}

DIR *root_opendir(int dirfd, const char *path) {
        int fd;
        DIR *d;

        fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        d = fdopendir(fd);
        if (!d)
                closep(&fd);
        return d;
}

struct dirent *(*root_readdir_hook)(DIR *d) = NULL;

int root_readdir(DIR *d, struct dirent **ret) {
        struct dirent *de;

        errno = 0;
        de = root_readdir_hook ? root_readdir_hook(d) : readdir(d);
        if (!de)
                return errno > 0 ? -errno : 0;
        *ret = de;
        return 1;
}

int root_write(int dirfd, const char *path, const char *value) {
        _cleanup_close_ int fd = -EBADF;
        size_t len = strlen(value);
        ssize_t n;

        if (dirfd < 0)
                return -ENOENT;
        /* No O_CREAT: a sysfs attribute exists or it does not. O_TRUNC does nothing to sysfs; in a fixture
         * tree it keeps the file's content equal to what was written last, as in sysfs. */
        fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_TRUNC);
        if (fd < 0)
                return -errno;
        n = write(fd, value, len);
        if (n < 0)
                return -errno;
        if ((size_t) n != len)
                return -EIO;
        return 0;
}

/* Read all of 'fd' (at most 'max' bytes) into a new NUL-terminated buffer; 'st' is its fstat(). */
static int read_all(int fd, const struct stat *st, size_t max, char **ret, size_t *ret_len) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, alloc;

        if (S_ISDIR(st->st_mode))
                return -EISDIR;
        if (!S_ISREG(st->st_mode))
                return -EBADF;
        /* procfs files report size 0; start small and grow. One byte more than 'max' tells a file of
         * exactly 'max' bytes from a longer one. */
        alloc = st->st_size > 0 && (size_t) st->st_size <= max ? (size_t) st->st_size + 2 : 4096;
        if (alloc > max + 2)
                alloc = max + 2;
        buf = malloc(alloc);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n;

                if (len + 1 >= alloc) {
                        char *b;

                        if (alloc >= max + 2)
                                return -EFBIG;
                        alloc = alloc * 2 > max + 2 ? max + 2 : alloc * 2;
                        b = realloc(buf, alloc);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                }
                n = read(fd, buf + len, alloc - 1 - len);
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += n;
                if (len > max)
                        return -EFBIG;
        }
        buf[len] = '\0';
        if (ret_len)
                *ret_len = len;
        *ret = TAKE_PTR(buf);
        return 0;
}

int root_read_file(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len, struct stat *ret_st) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        int r;

        /* O_NONBLOCK: a FIFO dropped where a config file belongs must not hang the daemon. */
        fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        r = read_all(fd, &st, max, ret, ret_len);
        if (r >= 0 && ret_st)
                *ret_st = st;
        return r;
}

int root_state_dir(int rootfd, const char *path, bool create) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (create) {
                /* mkdir -p: outside systemd (no RuntimeDirectory=), and in a bare root, even /run may
                 * be missing. A component that exists as something else fails below. */
                char prefix[PATH_MAX];

                if ((size_t) snprintf(prefix, sizeof(prefix), "%s", path) >= sizeof(prefix))
                        return -ENAMETOOLONG;
                for (char *slash = strchr(prefix + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
                        *slash = '\0';
                        if (mkdirat(rootfd, prefix, 0755) < 0 && errno != EEXIST)
                                return -errno;
                        *slash = '/';
                }
                if (mkdirat(rootfd, path, 0755) < 0 && errno != EEXIST)
                        return -errno;
        }
        fd = openat(rootfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ELOOP ? -ENOTDIR : -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)))
                return -EPERM;
        return TAKE_FD(fd);
}

int root_state_read(int dirfd, const char *name, size_t max, char **ret) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        return read_all(fd, &st, max, ret, NULL);
}

int root_state_write(int dirfd, const char *name, const char *content) {
        _cleanup_close_ int fd = -EBADF;
        char tmp[256];
        size_t len = strlen(content), done = 0;

        if ((size_t) snprintf(tmp, sizeof(tmp), ".%s.tmp", name) >= sizeof(tmp))
                return -ENAMETOOLONG;
        /* A temporary file left by a crash, or planted: never written through, always replaced. */
        if (unlinkat(dirfd, tmp, 0) < 0 && errno != ENOENT)
                return -errno;
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0644);
        if (fd < 0)
                return -errno;
        while (done < len) {
                ssize_t n = write(fd, content + done, len - done);
                if (n < 0) {
                        int r = -errno;
                        (void) unlinkat(dirfd, tmp, 0);
                        return r;
                }
                done += n;
        }
        if (fsync(fd) < 0 || renameat(dirfd, tmp, dirfd, name) < 0) {
                int r = -errno;
                (void) unlinkat(dirfd, tmp, 0);
                return r;
        }
        return 0;
}

int root_state_remove(int dirfd, const char *name) {
        if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}
