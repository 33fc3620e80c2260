/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Shared by the unit tests: temporary directories that are removed when the run ends (also when a
 * forked test failed), fixture files from tests/unit/fixtures/, and a root tree materialised from a
 * kernel snapshot. Helpers fail the current test with ck_assert on any error.
 */

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SNAPSHOT_2NODE "debian-6.1-qemu-2node.txt"

/* A new empty directory below this run's base directory. The caller frees the string. */
char *test_tmpdir(void);

/* Materialise FIXTURE_DIR/'snapshot' ("@@@ PATH" + lines, "@@L PATH -> TARGET") into a new temporary
 * directory and return its path: DIR/sys/..., DIR/proc/iomem, ... */
char *fixture_root(const char *snapshot);

/* The content of FIXTURE_DIR/'name', NUL-terminated. */
char *fixture_text(const char *name);

/* Create 'rel' below 'dir' (and its parents) with 'content' and 'mode'. */
void write_file(const char *dir, const char *rel, const char *content);
void write_file_mode(const char *dir, const char *rel, const char *content, mode_t mode);
void write_bytes(const char *dir, const char *rel, const void *data, size_t size);
char *read_text(const char *dir, const char *rel);
void make_dirs(const char *dir, const char *rel);
void make_symlink(const char *dir, const char *rel, const char *target);
void remove_tree(const char *dir, const char *rel);

/* A Root on 'dir' and a new, unscanned Inventory over it; and their release. Shared by the tests that
 * work on a materialised snapshot (test-inventory, test-actuator). */
struct Root;
struct Inventory;
void inventory_fixture_open(const char *dir, struct Root **ret_root, struct Inventory **ret_inv);
void inventory_fixture_close(struct Root *root, struct Inventory *inv);
/* A policy set from policy texts, in order, named /test/0.policy, /test/1.policy...; each must be clean. */
struct PolicySet;
void policy_set_from_texts(struct PolicySet *set, const char *const *texts);
#define set_from(set, ...) policy_set_from_texts(set, (const char *const[]) { __VA_ARGS__, NULL })

/* Make root_readdir() fail with EIO after 'entries' more entries (across listings), once; -1 (or
 * readdir_fail_reset()) lets it list normally again. */
void readdir_fail_after(int entries);
void readdir_fail_reset(void);

/* Run the suite, remove the temporary directories, return the exit status. */
int unit_main(Suite *s);
