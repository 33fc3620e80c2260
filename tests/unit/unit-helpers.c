/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inventory.h"
#include "sysfs.h"
#include "policy.h"
#include "unit-helpers.h"

#ifndef FIXTURE_DIR
#error "FIXTURE_DIR must point at tests/unit/fixtures"
#endif

/* ck_assert() records every passing check (a write(2) per call in fork mode): too slow for loops over
 * a whole snapshot. These only talk to check on failure. */
#define require(expr) require_msg(expr, "%s", #expr)
#define require_msg(expr, ...)                      \
        do {                                        \
                if (!(expr))                        \
                        ck_abort_msg(__VA_ARGS__);  \
        } while (0)

/* Made before srunner_run_all(): forked tests inherit it, and main() removes it afterwards. */
static char base_dir[4096];

char *test_tmpdir(void) {
        char *p;

        require_msg(base_dir[0], "unit_main() did not create the base directory");
        require(asprintf(&p, "%s/t-XXXXXX", base_dir) > 0);
        require_msg(mkdtemp(p), "mkdtemp(%s): %s", p, strerror(errno));
        return p;
}

static char *join(const char *dir, const char *rel) {
        char *p;

        while (*rel == '/')
                rel++;
        require(asprintf(&p, "%s/%s", dir, rel) > 0);
        return p;
}

void make_dirs(const char *dir, const char *rel) {
        char *p = join(dir, rel);

        for (char *s = p + strlen(dir) + 1; s && *s; s = strchr(s + 1, '/')) {
                char c = *s;

                if (c != '/')
                        continue;
                *s = '\0';
                require_msg(mkdir(p, 0755) == 0 || errno == EEXIST, "mkdir(%s): %s", p, strerror(errno));
                *s = c;
        }
        require_msg(mkdir(p, 0755) == 0 || errno == EEXIST, "mkdir(%s): %s", p, strerror(errno));
        free(p);
}

static void make_parent(const char *dir, const char *rel) {
        char *r = strdup(rel), *slash;

        require(r);
        slash = strrchr(r, '/');
        if (slash && slash != r) {
                *slash = '\0';
                make_dirs(dir, r);
        }
        free(r);
}

void write_bytes(const char *dir, const char *rel, const void *data, size_t size) {
        char *p = join(dir, rel);
        int fd;

        make_parent(dir, rel);
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        require_msg(fd >= 0, "open(%s): %s", p, strerror(errno));
        require_msg(write(fd, data, size) == (ssize_t) size, "write(%s): %s", p, strerror(errno));
        require(close(fd) == 0);
        free(p);
}

void write_file_mode(const char *dir, const char *rel, const char *content, mode_t mode) {
        char *p = join(dir, rel);

        write_bytes(dir, rel, content, strlen(content));
        /* chmod after creation: the umask would strip o+w. */
        require_msg(chmod(p, mode) == 0, "chmod(%s): %s", p, strerror(errno));
        free(p);
}

void write_file(const char *dir, const char *rel, const char *content) {
        write_file_mode(dir, rel, content, 0644);
}

void make_symlink(const char *dir, const char *rel, const char *target) {
        char *p = join(dir, rel);

        make_parent(dir, rel);
        require_msg(symlink(target, p) == 0, "symlink(%s -> %s): %s", p, target, strerror(errno));
        free(p);
}

static char *read_path(const char *p) {
        FILE *f = fopen(p, "re");
        char *buf = NULL;
        size_t size = 0;

        require_msg(f, "fopen(%s): %s", p, strerror(errno));
        /* open_memstream keeps the text NUL-terminated whatever its length. */
        {
                FILE *m = open_memstream(&buf, &size);
                char chunk[4096];
                size_t n;

                require(m);
                while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                        require(fwrite(chunk, 1, n, m) == n);
                require(fclose(m) == 0);
        }
        fclose(f);
        return buf;
}

char *read_text(const char *dir, const char *rel) {
        char *p = join(dir, rel), *t;

        t = read_path(p);
        free(p);
        return t;
}

char *fixture_text(const char *name) {
        return read_text(FIXTURE_DIR, name);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) ftw;
        if (flag == FTW_DP || flag == FTW_D)
                return rmdir(path) < 0 ? -1 : 0;
        return unlink(path) < 0 ? -1 : 0;
}

static int remove_path(const char *path) {
        struct stat st;

        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlink(path) < 0 ? -errno : 0;
        return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) < 0 ? -errno : 0;
}

void remove_tree(const char *dir, const char *rel) {
        char *p = join(dir, rel);
        int r = remove_path(p);

        require_msg(r == 0, "removing %s: %s", p, strerror(-r));
        free(p);
}

char *fixture_root(const char *snapshot) {
        char *text = fixture_text(snapshot), *root = test_tmpdir();
        char *line, *next = text, *path = NULL;
        FILE *out = NULL;
        size_t n_files = 0;

        /* Lines before the first "@@" are the snapshot's own comments. */
        /* strsep() keeps empty lines, which are part of a file's content. */
        while ((line = strsep(&next, "\n"))) {
                if (!next && !*line)
                        break; /* after the final newline */
                if (strncmp(line, "@@@ ", 4) == 0 || strncmp(line, "@@L ", 4) == 0) {
                        if (out) {
                                require(fclose(out) == 0);
                                out = NULL;
                        }
                        free(path);
                        path = NULL;
                }
                if (strncmp(line, "@@@ ", 4) == 0) {
                        path = join(root, line + 4);
                        make_parent(root, line + 4);
                        out = fopen(path, "we");
                        require_msg(out, "fopen(%s): %s", path, strerror(errno));
                        n_files++;
                } else if (strncmp(line, "@@L ", 4) == 0) {
                        char *arrow = strstr(line + 4, " -> ");

                        require_msg(arrow, "bad symlink line in %s: %s", snapshot, line);
                        *arrow = '\0';
                        make_symlink(root, line + 4, arrow + 4);
                } else if (out)
                        require(fprintf(out, "%s\n", line) >= 0);
        }
        if (out)
                require(fclose(out) == 0);
        free(path);
        free(text);
        require_msg(n_files > 0, "%s holds no files", snapshot);
        return root;
}

static int readdir_budget = -1;

static struct dirent *failing_readdir(DIR *d) {
        if (readdir_budget == 0) {
                readdir_fail_reset();
                errno = EIO;
                return NULL;
        }
        if (readdir_budget > 0)
                readdir_budget--;
        return readdir(d);
}

void readdir_fail_after(int entries) {
        readdir_budget = entries;
        root_readdir_hook = entries >= 0 ? failing_readdir : NULL;
}

void readdir_fail_reset(void) {
        readdir_fail_after(-1);
}

int unit_main(Suite *s) {
        SRunner *sr;
        int failed, r;

        const char *tmp = getenv("TMPDIR");

        snprintf(base_dir, sizeof(base_dir), "%s/memhpd-unit-XXXXXX", tmp && *tmp == '/' ? tmp : "/tmp");
        if (!mkdtemp(base_dir)) {
                perror("mkdtemp");
                return EXIT_FAILURE;
        }
        sr = srunner_create(s);
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        r = remove_path(base_dir);
        if (r < 0)
                fprintf(stderr, "removing %s: %s\n", base_dir, strerror(-r));
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

void inventory_fixture_open(const char *dir, Root **ret_root, Inventory **ret_inv) {
        int r;

        r = root_open(dir, ret_root);
        require_msg(r == 0, "root_open(%s): %s", dir, strerror(-r));
        r = inventory_new(*ret_root, ret_inv);
        require_msg(r == 0, "inventory_new(): %s", strerror(-r));
}

void inventory_fixture_close(Root *root, Inventory *inv) {
        inventory_free(inv);
        root_free(root);
}

void policy_set_from_texts(PolicySet *set, const char *const *texts) {
        size_t n = 0;

        while (texts[n])
                n++;
        *set = (PolicySet) { .items = calloc(n ? n : 1, sizeof(Policy)) };
        ck_assert_ptr_nonnull(set->items);
        for (size_t i = 0; i < n; i++) {
                ConfErrors e = {};
                char path[64];

                snprintf(path, sizeof(path), "/test/%zu.policy", i);
                ck_assert_msg(policy_parse(path, texts[i], &set->items[i], &e) == 0, "%s",
                              e.n ? e.items[0].text : "?");
                set->n++;
        }
}
