/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/*
 * Every file memhpd reads or writes is reached through a Root: a directory file descriptor for "/" or
 * for the tree given with --root. Paths are relative to it ("sys/devices/system/memory/..."), so the
 * same code runs against the live system and against a test fixture.
 */
typedef struct Root {
        int fd;               /* the root directory */
        int memory_fd;        /* sys/devices/system/memory, or -EBADF if it does not exist */
        int node_fd;          /* sys/devices/system/node, or -EBADF if it does not exist */
        char *path;           /* as given, for messages */
} Root;

/* Longest sysfs value memhpd reads with root_read(); attributes are one short line. */
#define ROOT_VALUE_MAX 256

int root_open(const char *path, Root **ret);
Root *root_free(Root *r);

/*
 * Read a small attribute at 'path' relative to 'dirfd' into 'buf', NUL-terminated, with the trailing
 * newline removed. Returns the length or -errno; -EFBIG if the value does not fit in 'size'.
 */
ssize_t root_read(int dirfd, const char *path, char *buf, size_t size);

/* Open the directory at 'path' relative to 'dirfd' for root_readdir(). NULL with errno set on failure. */
DIR *root_opendir(int dirfd, const char *path);

/*
 * The next entry of 'd' in *ret: returns 1, 0 at the end of the listing, or -errno if the listing failed
 * part-way (readdir() returns NULL for both; only errno tells them apart). A caller that takes "not
 * listed" to mean "gone" must fail on -errno instead.
 */
int root_readdir(DIR *d, struct dirent **ret);

/* For the unit tests only: replaces readdir() to make a listing fail part-way. NULL: readdir(). */
extern struct dirent *(*root_readdir_hook)(DIR *d);

static inline void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}
#define _cleanup_closedir_ __attribute__((cleanup(closedirp)))

/* Write 'value' to the attribute in one write(2). Returns 0 or the -errno the kernel answered. */
int root_write(int dirfd, const char *path, const char *value);

/*
 * Read a whole file (procfs, a config file) into a new NUL-terminated buffer, at most 'max' bytes;
 * -EFBIG if it is larger. If 'ret_st' is given it receives the file's fstat().
 */
int root_read_file(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len, struct stat *ret_st);

/*
 * memhpd's own state under the root (/run/memhpd): root_state_dir() opens the directory 'path',
 * creating it and its missing parents 0755 if 'create' is set, and refuses one memhpd must not trust
 * (-ENOTDIR for a symlink or a non-directory, -EPERM if another user owns it or may write to it).
 * Returns the fd or -errno. The others work inside that directory and never follow a symlink.
 */
int root_state_dir(int rootfd, const char *path, bool create);
/* Read 'name' (a regular file, at most 'max' bytes) into a new NUL-terminated buffer; -errno. */
int root_state_read(int dirfd, const char *name, size_t max, char **ret);
/* Replace 'name' atomically: write 'content' to a temporary file, fsync, rename it over 'name'. */
int root_state_write(int dirfd, const char *name, const char *content);
/* Remove 'name'; a missing file is success. */
int root_state_remove(int dirfd, const char *name);
