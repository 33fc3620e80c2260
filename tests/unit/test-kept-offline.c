/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /run/memhpd/offline-by-others against hostile contents: what cannot be read is an error, not a
 * silent empty list, and a save never writes through what someone planted at the .new name. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "kept-offline.h"
#include "manager.h"
#include "unit-helpers.h"

#define RUN "run/memhpd"

static Manager *manager_on(char *dir) {
        ManagerOptions opts = { .root = dir, .dry_run = true, .once = true };
        Manager *m;

        audit_init(AUDIT_TO_STDERR);
        ck_assert_int_eq(manager_new(&opts, &m), 0);
        ck_assert_int_eq(manager_coldplug(m), 0);
        return m;
}

/* Mark the first offline block as taken offline by someone else; returns its number. */
static uint32_t mark_kept(Manager *m) {
        for (uint32_t i = 0; i < m->inv->n_blocks; i++) {
                Block *b = inventory_block(m->inv, i);
                if (b && b->state == STATE_OFFLINE) {
                        b->flags |= BLOCK_BY_OTHER;
                        return i;
                }
        }
        ck_abort_msg("no offline block in the snapshot");
        return 0;
}

START_TEST(load_unreadable_is_an_error) {
        char *dir = fixture_root(SNAPSHOT_2NODE), *path;
        Manager *m = manager_on(dir);
        int fd;

        /* Nothing saved since boot: fine. */
        ck_assert_int_eq(kept_offline_load(m), 0);

        make_dirs(dir, KEPT_OFFLINE_FILE);
        ck_assert_int_eq(kept_offline_load(m), -EISDIR);
        remove_tree(dir, KEPT_OFFLINE_FILE);

        ck_assert(asprintf(&path, "%s/%s", dir, KEPT_OFFLINE_FILE) > 0);
        ck_assert_int_eq(mkfifo(path, 0600), 0);
        ck_assert_int_eq(kept_offline_load(m), -EBADF); /* and it did not hang on the FIFO */
        ck_assert_int_eq(unlink(path), 0);

        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, 64 * 1024 * 1024 + 1), 0);
        close(fd);
        ck_assert_int_eq(kept_offline_load(m), -EFBIG);
        ck_assert_int_eq(unlink(path), 0);

        if (geteuid() != 0) { /* root reads a 0000 file anyway */
                write_file_mode(dir, KEPT_OFFLINE_FILE, "32\n", 0000);
                ck_assert_int_eq(kept_offline_load(m), -EACCES);
        }

        write_file(dir, KEPT_OFFLINE_FILE, "# comment\n33\nnot-a-number\n32\n");
        ck_assert_int_eq(kept_offline_load(m), 0);
        ck_assert_uint_eq(m->n_kept_offline, 2);
        ck_assert(kept_offline(m, 32) && kept_offline(m, 33) && !kept_offline(m, 34));
        free(path);
        manager_free(m);
        free(dir);
}
END_TEST

START_TEST(save_replaces_planted_symlink) {
        char *dir = fixture_root(SNAPSHOT_2NODE), *victim_dir = test_tmpdir(), *target, *text, expect[32];
        Manager *m = manager_on(dir);
        uint32_t kept = mark_kept(m);

        write_file(victim_dir, "victim", "precious\n");
        ck_assert(asprintf(&target, "%s/victim", victim_dir) > 0);
        make_dirs(dir, RUN);
        make_symlink(dir, KEPT_OFFLINE_FILE ".new", target);

        /* Before: every later save failed on O_NOFOLLOW, and the symlink stayed. */
        ck_assert_int_eq(kept_offline_save(m), 0);
        ck_assert_int_eq(kept_offline_save(m), 0);
        text = read_text(victim_dir, "victim");
        ck_assert_str_eq(text, "precious\n");
        free(text);
        text = read_text(dir, KEPT_OFFLINE_FILE);
        snprintf(expect, sizeof(expect), "\n%u\n", kept);
        ck_assert_ptr_nonnull(strstr(text, expect));
        free(text);
        free(target);
        manager_free(m);
        free(victim_dir);
        free(dir);
}
END_TEST

START_TEST(save_does_not_write_through_hard_link) {
        char *dir = fixture_root(SNAPSHOT_2NODE), *victim, *planted, *text;
        Manager *m = manager_on(dir);
        struct stat st;

        (void) mark_kept(m);
        write_file(dir, "victim", "precious\n");
        make_dirs(dir, RUN);
        ck_assert(asprintf(&victim, "%s/victim", dir) > 0);
        ck_assert(asprintf(&planted, "%s/%s.new", dir, KEPT_OFFLINE_FILE) > 0);
        ck_assert_int_eq(link(victim, planted), 0);

        ck_assert_int_eq(kept_offline_save(m), 0);
        text = read_text(dir, "victim");
        ck_assert_str_eq(text, "precious\n");
        free(text);
        ck_assert_int_eq(stat(victim, &st), 0);
        ck_assert_uint_eq(st.st_nlink, 1);
        free(victim);
        free(planted);
        manager_free(m);
        free(dir);
}
END_TEST

/* The administrator's blocks (drain, memhpctl offline) share the file with a reason; a round trip keeps
 * the two apart, and a reason memhpd did not write is a bad line. */
START_TEST(admin_round_trip) {
        char *dir = fixture_root(SNAPSHOT_2NODE), *text;
        Manager *m = manager_on(dir);
        uint32_t admin = mark_kept(m);

        /* The administrator's mark wins over someone else's (the snapshot has one offline block). */
        m->inv->blocks[admin].flags |= BLOCK_BY_ADMIN;
        ck_assert_int_eq(kept_offline_save(m), 0);
        text = read_text(dir, KEPT_OFFLINE_FILE);
        {
                char want[64];
                snprintf(want, sizeof(want), "\n%u administrator\n", admin);
                ck_assert_msg(strstr(text, want), "no \"%u administrator\" line in:\n%s", admin, text);
        }
        free(text);
        ck_assert_int_eq(kept_offline_load(m), 0);
        ck_assert(kept_offline_by_admin(m, admin) && !kept_offline(m, admin));

        write_file(dir, KEPT_OFFLINE_FILE, "40 administrator\n41 someone\n42 administrator extra\n43\n 44\n");
        ck_assert_int_eq(kept_offline_load(m), 0);
        ck_assert_uint_eq(m->n_kept_admin, 1);
        ck_assert_uint_eq(m->n_kept_offline, 1);
        ck_assert(kept_offline_by_admin(m, 40) && !kept_offline_by_admin(m, 41) && !kept_offline(m, 41));
        ck_assert(!kept_offline_by_admin(m, 42) && kept_offline(m, 43) && !kept_offline(m, 44));
        kept_offline_forget(m);
        ck_assert(!kept_offline_by_admin(m, 40));
        manager_free(m);
        free(dir);
}
END_TEST

static Suite *kept_offline_suite(void) {
        Suite *s = suite_create("kept-offline");
        TCase *tc = tcase_create("kept-offline");

        tcase_add_test(tc, load_unreadable_is_an_error);
        tcase_add_test(tc, save_replaces_planted_symlink);
        tcase_add_test(tc, save_does_not_write_through_hard_link);
        tcase_add_test(tc, admin_round_trip);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return unit_main(kept_offline_suite());
}
