/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the kept-offline file (/run/memhpd/offline-by-others): loading it at start, saving it (coalesced)
 * when the set of blocks someone else took offline changes. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "delay.h"
#include "kept-offline.h"
#include "log.h"
#include "manager.h"
#include "origin.h"

#define KEPT_OFFLINE_MAX (1u << 22)
#define KEPT_OFFLINE_FILE_MAX (64u * 1024 * 1024)

static int cmp_u32(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return x < y ? -1 : x > y;
}

static void list_append(uint32_t **list, size_t *n, size_t *alloc, uint32_t v) {
        if (*n == *alloc) {
                size_t a = *alloc ? *alloc * 2 : 64;
                uint32_t *k = realloc(*list, a * sizeof(uint32_t));
                if (!k)
                        log_oom_abort();
                *list = k;
                *alloc = a;
        }
        (*list)[(*n)++] = v;
}

int kept_offline_load(Manager *m) {
        _cleanup_free_ char *text = NULL;
        size_t n = 0, alloc = 0, n_admin = 0, alloc_admin = 0;
        unsigned bad = 0;
        int r;

        r = root_read_file(m->root->fd, KEPT_OFFLINE_FILE, KEPT_OFFLINE_FILE_MAX, &text, NULL, NULL);
        if (r == -ENOENT)
                return 0;
        if (r == -EBADF || r == -EFBIG)
                return log_error_errno(r, "Cannot read /%s: %s; blocks someone else took offline before this "
                                       "start may be onlined again", KEPT_OFFLINE_FILE,
                                       r == -EBADF ? "not a regular file" : "larger than 64 MiB");
        if (r < 0)
                return log_error_errno(r, "Cannot read /%s: %m; blocks someone else took offline before this "
                                       "start may be onlined again", KEPT_OFFLINE_FILE);
        for (char *line = text, *eol; line && *line; line = eol ? eol + 1 : NULL) {
                uint64_t v;
                char *reason;

                eol = strchr(line, '\n');
                if (eol)
                        *eol = '\0';
                if (!*line || *line == '#')
                        continue;
                /* "N administrator": taken offline through memhpd (drain, memhpctl offline). */
                reason = strchr(line, ' ');
                if (reason)
                        *reason++ = '\0';
                if (parse_u64(line, 10, &v) < 0 || v >= UINT32_MAX || n + n_admin >= KEPT_OFFLINE_MAX ||
                    (reason && strcmp(reason, KEPT_OFFLINE_REASON_ADMIN) != 0)) {
                        bad++;
                        continue;
                }
                if (reason)
                        list_append(&m->kept_admin, &n_admin, &alloc_admin, (uint32_t) v);
                else
                        list_append(&m->kept_offline, &n, &alloc, (uint32_t) v);
        }
        m->n_kept_offline = n;
        if (n > 1)
                qsort(m->kept_offline, n, sizeof(uint32_t), cmp_u32);
        m->n_kept_admin = n_admin;
        if (n_admin > 1)
                qsort(m->kept_admin, n_admin, sizeof(uint32_t), cmp_u32);
        if (bad)
                log_warning("/%s: ignored %u lines that are not block numbers", KEPT_OFFLINE_FILE, bad);
        return 0;
}

void kept_offline_forget(Manager *m) {
        m->kept_offline = mfree(m->kept_offline);
        m->n_kept_offline = 0;
        m->kept_admin = mfree(m->kept_admin);
        m->n_kept_admin = 0;
}

bool kept_offline_by_admin(Manager *m, uint32_t index) {
        return m->n_kept_admin &&
               bsearch(&index, m->kept_admin, m->n_kept_admin, sizeof(uint32_t), cmp_u32);
}

bool kept_offline(Manager *m, uint32_t index) {
        return m->n_kept_offline &&
               bsearch(&index, m->kept_offline, m->n_kept_offline, sizeof(uint32_t), cmp_u32);
}

int kept_offline_save(Manager *m) {
        _cleanup_close_ int dfd = -EBADF, fd = -EBADF;
        FILE *f;
        int r = 0;

        /* Outside systemd (no RuntimeDirectory=) /run/memhpd, even /run, may not exist yet. */
        dfd = root_state_dir(m->root->fd, KEPT_OFFLINE_DIR, true);
        if (dfd < 0)
                return dfd;
        /* Whatever is planted at .new (a symlink, a hard link to another file) is only unlinked, never
         * written through; O_EXCL then makes sure the file we write is our own new one. */
        if (unlinkat(dfd, KEPT_OFFLINE_NAME ".new", 0) < 0 && errno != ENOENT)
                return -errno;
        fd = openat(dfd, KEPT_OFFLINE_NAME ".new", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return -errno;
        f = fdopen(fd, "w");
        if (!f)
                return -errno;
        fd = -EBADF;
        fputs("# Memory blocks someone other than memhpd took offline (\"N\") or the administrator took\n"
              "# offline through memhpd (\"N administrator\"); memhpd leaves them offline across its\n"
              "# restarts. Written by memhpd; cleared at reboot.\n", f);
        for (uint32_t i = 0; i < m->inv->n_blocks; i++) {
                const Block *b = &m->inv->blocks[i];
                if (!(b->flags & BLOCK_PRESENT) || b->state == STATE_ONLINE)
                        continue;
                if (b->flags & BLOCK_BY_ADMIN)
                        fprintf(f, "%" PRIu32 " " KEPT_OFFLINE_REASON_ADMIN "\n", i);
                else if (b->flags & BLOCK_BY_OTHER)
                        fprintf(f, "%" PRIu32 "\n", i);
        }
        if (fflush(f) != 0 || ferror(f))
                r = -EIO;
        if (fclose(f) != 0 && r == 0)
                r = -errno;
        if (r == 0 && renameat(dfd, KEPT_OFFLINE_NAME ".new", dfd, KEPT_OFFLINE_NAME) < 0)
                r = -errno;
        return r;
}

static int on_save(sd_event_source *s _unused_, void *userdata) {
        Manager *m = userdata;
        int r = kept_offline_save(m);

        /* Said once per problem, not on every change: the next change fails the same way. */
        if (r < 0 && r != m->kept_offline_save_error) {
                if (r == -EPERM || r == -ENOTDIR)
                        log_warning_errno(r, "Cannot save /%s: /%s is %s; a restart may online blocks someone "
                                          "took offline", KEPT_OFFLINE_FILE, KEPT_OFFLINE_DIR,
                                          r == -EPERM ? "owned or writable by another user" : "not a directory");
                else
                        log_warning_errno(r, "Cannot save /%s: %m; a restart may online blocks someone took "
                                          "offline", KEPT_OFFLINE_FILE);
        } else if (r < 0)
                log_debug_errno(r, "Cannot save /%s: %m (said before)", KEPT_OFFLINE_FILE);
        else if (m->kept_offline_save_error < 0)
                log_info("Saved /%s again", KEPT_OFFLINE_FILE);
        m->kept_offline_save_error = r;
        return 0;
}

/* Coalesced: one write per loop iteration, after a DIMM's worth of offline uevents. */
void kept_offline_mark_admin(Manager *m, uint32_t index) {
        Block *b = inventory_block(m->inv, index);

        b->flags |= BLOCK_BY_ADMIN | BLOCK_DECIDED;
        b->flags &= ~(BLOCK_BY_OTHER | BLOCK_REDECIDE);
        inventory_block_set_origin(m->inv, index, ORIGIN_ADMINISTRATOR, NULL, 0);
        if (b->flags & BLOCK_DEFERRED)
                delay_drop(m, index);
        kept_offline_changed(m);
}

void kept_offline_changed(Manager *m) {
        if (m->save_source && !m->opts.dry_run)
                (void) sd_event_source_set_enabled(m->save_source, SD_EVENT_ONESHOT);
}

int kept_offline_attach(Manager *m) {
        int r;

        r = sd_event_add_defer(m->event, &m->save_source, on_save, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(m->save_source, "kept-offline-save");
        (void) sd_event_source_set_enabled(m->save_source, SD_EVENT_OFF);
        return sd_event_source_set_priority(m->save_source, SD_EVENT_PRIORITY_IDLE);
}

void kept_offline_flush(Manager *m) {
        if (m->save_source && sd_event_source_get_enabled(m->save_source, NULL) > 0)
                (void) on_save(m->save_source, m);
}
