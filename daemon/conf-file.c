/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <limits.h>
#include <dirent.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "conf-file.h"
#include "log.h"
#include "sysfs.h"

#define UTF8_BOM "\xef\xbb\xbf"

/* Copy 'msg' to 'out' with every control character (and DEL) written as \xNN: a carriage return or an
 * escape sequence from a hostile file must not reach the terminal or the journal raw. */
static void escape_controls(const char *msg, char *out, size_t size) {
        size_t o = 0;

        for (const char *p = msg; *p && o + 5 < size; p++) {
                unsigned char c = (unsigned char) *p;

                if (c < 0x20 || c == 0x7f)
                        o += (size_t) snprintf(out + o, size - o, "\\x%02x", c);
                else
                        out[o++] = (char) c;
        }
        out[o] = '\0';
}

static void errors_append(ConfErrors *e, char *text) {
        if (e->n == e->n_allocated) {
                size_t a = e->n_allocated ? e->n_allocated * 2 : 16;
                ConfError *items = realloc(e->items, a * sizeof(ConfError));

                if (!items)
                        log_oom_abort();
                e->items = items;
                e->n_allocated = a;
        }
        e->items[e->n++].text = text;
}

/* (Re)write the item '*slot' names (1 + its index; 0: append a new one and set '*slot'). */
static void errors_set(ConfErrors *e, size_t *slot, const char *fmt, ...) _printf_(3, 4);
static void errors_set(ConfErrors *e, size_t *slot, const char *fmt, ...) {
        char *text;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&text, fmt, ap);
        va_end(ap);
        if (r < 0)
                log_oom_abort();
        if (*slot == 0) {
                errors_append(e, text);
                *slot = e->n;
                return;
        }
        free(e->items[*slot - 1].text);
        e->items[*slot - 1].text = text;
}

/* While formatting, %m names 'error'. Changes errno: the callers put it back. */
static void errors_addv(ConfErrors *e, int error, const char *file, unsigned line, const char *fmt, va_list ap)
        _printf_(5, 0);

static void errors_addv(ConfErrors *e, int error, const char *file, unsigned line, const char *fmt, va_list ap) {
        char msg[512], clean[sizeof(msg) * 4 + 1], where[512], *text;
        int r;

        e->n_total++;
        if (!e->file || strcmp(e->file, file) != 0) {
                free(e->file);
                e->file = strdup(file);
                if (!e->file)
                        log_oom_abort();
                e->n_file = 0;
                e->file_summary = 0;
        }
        e->n_file++;

        /* Past a cap, count instead of listing: one line that says how many more there are,
         * rewritten in place, so that a file of junk costs neither memory nor minutes. */
        if (e->n_shown >= CONF_ERRORS_MAX) {
                e->n_hidden++;
                errors_set(e, &e->summary, "%zu more error%s not shown (at most %d are listed)", e->n_hidden,
                           e->n_hidden == 1 ? "" : "s", CONF_ERRORS_MAX);
                return;
        }
        escape_controls(file, where, sizeof(where));
        if (e->n_file > CONF_ERRORS_PER_FILE_MAX) {
                size_t more = e->n_file - CONF_ERRORS_PER_FILE_MAX;

                errors_set(e, &e->file_summary, "%s: %zu more error%s in this file not shown", where, more,
                           more == 1 ? "" : "s");
                return;
        }

        errno = error < 0 ? -error : error;
        (void) vsnprintf(msg, sizeof(msg), fmt, ap);
        escape_controls(msg, clean, sizeof(clean));
        if (line > 0)
                r = asprintf(&text, "%s:%u: %s", where, line, clean);
        else
                r = asprintf(&text, "%s: %s", where, clean);
        if (r < 0)
                log_oom_abort();
        errors_append(e, text);
        e->n_shown++;
}

void conf_errors_addf(ConfErrors *e, const char *file, unsigned line, const char *fmt, ...) {
        int error = errno; /* for %m: taken before anything here can change it */
        va_list ap;

        va_start(ap, fmt);
        errors_addv(e, error, file, line, fmt, ap);
        va_end(ap);
        errno = error;
}

void conf_errors_add_errno(ConfErrors *e, int error, const char *file, unsigned line, const char *fmt, ...) {
        int saved_errno = errno;
        va_list ap;

        va_start(ap, fmt);
        errors_addv(e, error, file, line, fmt, ap);
        va_end(ap);
        errno = saved_errno;
}

void conf_errors_clear(ConfErrors *e) {
        for (size_t i = 0; i < e->n; i++)
                free(e->items[i].text);
        free(e->items);
        free(e->file);
        *e = (ConfErrors) {};
}

typedef struct ParseState {
        const char *path;
        const char *pos;         /* next unread byte of the text */
        unsigned line;           /* number of the line last handed to inih */
        const ConfKey *keys;
        conf_section_t section_cb;
        void *target;
        ConfErrors *errors;
        size_t n_errors_before;
        bool section_ok;         /* keys in an unknown section were reported with the section */
        char section[64];
} ParseState;

/*
 * Feed inih one line at a time, as fgets() would, so that we know each line's number (Debian's
 * libinih is built without INI_HANDLER_LINENO) and can catch what inih would misread: over-long
 * lines, which it would split, and indented lines, which it would glue to the previous value.
 */
static char *conf_reader(char *str, int num, void *stream) {
        ParseState *st = stream;
        const char *eol;
        size_t len, advance, max = (size_t) num - 1;
        char *p, *end;

        if (!*st->pos)
                return NULL;
        st->line++;
        eol = strchr(st->pos, '\n');
        len = eol ? (size_t) (eol - st->pos) : strlen(st->pos);
        advance = len + (eol ? 1 : 0);
        /* The '\r' of a CRLF line end is not part of the line (nor of its length). */
        if (len > 0 && st->pos[len - 1] == '\r')
                len--;
        if (len > max) {
                conf_errors_addf(st->errors, st->path, st->line, "line is longer than %zu characters", max);
                str[0] = '\0';
                st->pos += advance;
                return str;
        }
        memcpy(str, st->pos, len);
        str[len] = '\0';
        st->pos += advance;

        /* A CRLF line end was dropped above: a '\r' here is inside the line. */
        for (p = str; *p; p++)
                if (iscntrl((unsigned char) *p) && *p != '\t') {
                        conf_errors_addf(st->errors, st->path, st->line, "control character 0x%02x in line",
                                         (unsigned char) *p);
                        str[0] = '\0';
                        return str;
                }

        /* Strip leading blanks (no continuation lines) and trailing comments after a blank. */
        p = str + strspn(str, " \t");
        memmove(str, p, strlen(p) + 1);
        if (str[0] == '#' || str[0] == ';') {
                str[0] = '\0';
                return str;
        }
        for (p = str; *p; p++)
                if ((*p == '#' || *p == ';') && p > str && (p[-1] == ' ' || p[-1] == '\t')) {
                        *p = '\0';
                        break;
                }
        end = str + strlen(str);
        while (end > str && isspace((unsigned char) end[-1]))
                *--end = '\0';

        if (!str[0])
                return str;
        if (str[0] == '[') {
                size_t l = strlen(str);

                if (str[l - 1] != ']' || l < 3 || l - 2 >= sizeof(st->section) || strpbrk(str + 1, "[") ||
                    memchr(str + 1, ']', l - 2)) {
                        conf_errors_addf(st->errors, st->path, st->line, "malformed section header \"%s\"", str);
                        str[0] = '\0';
                        st->section_ok = false;
                        st->section[0] = '\0';
                        return str;
                }
                memcpy(st->section, str + 1, l - 2);
                st->section[l - 2] = '\0';
                st->section_ok = st->section_cb(st->section, st->line, st->target) >= 0;
                if (!st->section_ok)
                        conf_errors_addf(st->errors, st->path, st->line, "unknown section [%s]", st->section);
                return str;
        }
        p = strchr(str, '=');
        if (!p) {
                conf_errors_addf(st->errors, st->path, st->line, "expected [Section] or Key=Value, got \"%s\"", str);
                str[0] = '\0';
        } else if (memchr(str, ':', (size_t) (p - str))) {
                /* inih splits at the first '=' or ':': "Zone:x=movable" would assign "x=movable" to Zone. */
                conf_errors_addf(st->errors, st->path, st->line, "\"%.*s\" is not a key name (':' is not allowed)",
                                 (int) (p - str), str);
                str[0] = '\0';
        }
        return str;
}

static int conf_handler(void *user, const char *section, const char *name, const char *value) {
        ParseState *st = user;
        char err[256] = "";

        if (!section[0]) {
                conf_errors_addf(st->errors, st->path, st->line, "%s= outside of a section", name);
                return 1;
        }
        if (!st->section_ok)
                return 1; /* reported with the section header */

        for (const ConfKey *k = st->keys; k->key; k++) {
                if (strcmp(k->section, section) != 0 || strcmp(k->key, name) != 0)
                        continue;
                if (k->parse(value, (char *) st->target + k->offset, err, sizeof(err)) < 0)
                        conf_errors_addf(st->errors, st->path, st->line, "%s=%s: %s", name, value, err);
                return 1;
        }
        conf_errors_addf(st->errors, st->path, st->line, "unknown key %s= in section [%s]", name, section);
        return 1;
}

int conf_parse_text(const char *path, const char *text, const ConfKey *keys, conf_section_t section_cb,
                    void *target, ConfErrors *errors) {
        ParseState st = {
                .path = path,
                .pos = text,
                .keys = keys,
                .section_cb = section_cb,
                .target = target,
                .errors = errors,
                .n_errors_before = errors->n_total,
                .section_ok = true,
        };
        int r;

        /* Editors on other systems may save a UTF-8 byte order mark; systemd's parser skips it too. */
        if (strncmp(st.pos, UTF8_BOM, strlen(UTF8_BOM)) == 0)
                st.pos += strlen(UTF8_BOM);

        r = ini_parse_stream(conf_reader, &st, conf_handler, &st);
        if (r > 0 && errors->n_total == st.n_errors_before)
                /* Something inih rejected that our reader let through. */
                conf_errors_addf(errors, path, (unsigned) r, "syntax error");
        else if (r < 0)
                return -ENOMEM;
        return (int) (errors->n_total - st.n_errors_before);
}

/*
 * The trust rules, as sudo and sshd apply them: the service runs as root without CAP_DAC_OVERRIDE
 * (units/memhpd.service), so a file steers it only if no one but root could have written it, and it
 * can read only what the owner's bits allow. --check runs the same code, so it refuses exactly what
 * the service would. (A test run as another user trusts that user too, as sshd trusts the user.)
 */
static bool owner_trusted(uid_t uid) {
        return uid == 0 || uid == geteuid();
}

/* Adds the error unless the same text is already listed: every file below a bad directory would
 * otherwise repeat it. */
static void errors_add_once(ConfErrors *errors, const char *shown, const char *msg) {
        _cleanup_free_ char *text = NULL;

        if (asprintf(&text, "%s: %s", shown, msg) < 0)
                log_oom_abort();
        for (size_t i = 0; i < errors->n; i++)
                if (strcmp(errors->items[i].text, text) == 0) {
                        errors->n_total++; /* still an error, only not listed twice */
                        return;
                }
        conf_errors_addf(errors, shown, 0, "%s", msg);
}

/* Check one file's or directory's owner and mode; 'list' = a directory whose entries we read, 'above' = a
 * directory on the way to it. */
static int check_trust(const struct stat *st, bool list, bool above, const char *shown, ConfErrors *errors) {
        bool dir = S_ISDIR(st->st_mode);
        char msg[256];

        if (!owner_trusted(st->st_uid)) {
                snprintf(msg, sizeof(msg), "owned by uid %u, not by root: refusing to trust it (chown root)",
                         (unsigned) st->st_uid);
                errors_add_once(errors, shown, msg);
                return -EPERM;
        }
        /* A sticky directory of root's on the way (the 1777 "/" of an initramfs on tmpfs, or /tmp) is
         * safe: only root may rename or remove root's entries in it, and the next one must be root's. */
        if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(above && (st->st_mode & S_ISVTX) && st->st_uid == 0)) {
                snprintf(msg, sizeof(msg), "%s, refusing to trust it (chmod go-w)",
                         st->st_mode & S_IWOTH ? "world-writable" : "group-writable");
                errors_add_once(errors, shown, msg);
                return -EPERM;
        }
        if (dir ? !(st->st_mode & S_IXUSR) || (list && !(st->st_mode & S_IRUSR)) : !(st->st_mode & S_IRUSR)) {
                snprintf(msg, sizeof(msg), "mode %04o: the service, which has no CAP_DAC_OVERRIDE, cannot %s it",
                         (unsigned) (st->st_mode & 07777), dir ? (list ? "list" : "enter") : "read");
                errors_add_once(errors, shown, msg);
                return -EACCES;
        }
        return 0;
}

/*
 * Check every directory above 'path' (relative to the root), and 'path' itself if it is a directory,
 * along the path the kernel resolves, symbolic links followed (a link in /etc to a file elsewhere
 * is trusted only if that elsewhere is). Directories above the root are the caller's (tests use a
 * root in /tmp); the real root is "/".
 */
static int check_directories(int rootfd, const char *path, bool list, ConfErrors *errors) {
        _cleanup_close_ int fd = -EBADF;
        char proc[64], real[PATH_MAX], rootreal[PATH_MAX], shown[PATH_MAX + 1];
        const char *rel = path;
        int base = rootfd;
        struct stat st;
        ssize_t l, rl;
        int r = 0;

        fd = openat(rootfd, path, O_PATH | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        l = readlink(proc, real, sizeof(real) - 1);
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", rootfd);
        rl = readlink(proc, rootreal, sizeof(rootreal) - 1);
        if (l > 0 && rl > 0) { /* without /proc: the path as named */
                real[l] = rootreal[rl] = '\0';
                if (strcmp(rootreal, "/") == 0)
                        rel = real + 1;
                else if (strncmp(real, rootreal, (size_t) rl) == 0 && real[rl] == '/')
                        rel = real + rl + 1;
                else {
                        /* Resolved outside the root: check it as the real system would. */
                        base = AT_FDCWD;
                        rel = real;
                }
        }

        /* The base itself ("/" or the root), then each prefix of 'rel' that ends before a '/'. */
        for (const char *p = rel;; p++) {
                bool last = !*p;
                struct stat d;
                char prefix[PATH_MAX];
                size_t pl = (size_t) (p - rel);

                if (*p && *p != '/' && p != rel)
                        continue;
                if (last && !S_ISDIR(st.st_mode))
                        break;
                if (pl == 0)
                        snprintf(prefix, sizeof(prefix), "%s", base == AT_FDCWD ? "/" : ".");
                else
                        snprintf(prefix, sizeof(prefix), "%.*s", (int) pl, rel);
                if (fstatat(base, prefix, &d, 0) < 0)
                        return -errno;
                if (base == AT_FDCWD || pl == 0)
                        snprintf(shown, sizeof(shown), "%s", pl == 0 ? "/" : prefix);
                else
                        snprintf(shown, sizeof(shown), "/%s", prefix);
                r = check_trust(&d, last && list, !last, shown, errors);
                if (r < 0 || last)
                        break;
        }
        return r;
}

int conf_read_file(int rootfd, const char *path, const char *shown, char **ret, ConfErrors *errors) {
        struct stat st;
        size_t len;
        char *text;
        int r;

        r = root_read_file(rootfd, path, CONF_FILE_MAX, &text, &len, &st);
        if (r == -ENOENT) {
                char target[PATH_MAX];
                ssize_t l = readlinkat(rootfd, path, target, sizeof(target) - 1);

                /* Missing is fine; a link to nothing is a mistake (and would mask a vendor file). */
                if (l < 0)
                        return r;
                target[l] = '\0';
                conf_errors_addf(errors, shown, 0, "dangling symbolic link to %s", target);
                return -ENOLINK;
        }
        if (r == -EFBIG) {
                conf_errors_addf(errors, shown, 0, "larger than %d bytes, refusing to parse it", CONF_FILE_MAX);
                return r;
        }
        if (r == -EBADF || r == -EISDIR) {
                conf_errors_addf(errors, shown, 0, "not a regular file");
                return r;
        }
        if (r < 0) {
                conf_errors_add_errno(errors, r, shown, 0, "cannot read: %m");
                return r;
        }
        if (!S_ISREG(st.st_mode)) {
                conf_errors_addf(errors, shown, 0, "not a regular file");
                free(text);
                return -EBADF;
        }
        r = check_trust(&st, false, false, shown, errors);
        if (r >= 0)
                r = check_directories(rootfd, path, false, errors);
        if (r < 0) {
                if (r != -EPERM && r != -EACCES)
                        conf_errors_add_errno(errors, r, shown, 0, "cannot check the directories above it: %m");
                free(text);
                return r;
        }
        if (memchr(text, '\0', len)) {
                conf_errors_addf(errors, shown, 0, "contains a NUL byte, not a text file");
                free(text);
                return -EBADMSG;
        }
        *ret = text;
        return 0;
}

void conf_files_free(ConfFile *files, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(files[i].name);
                free(files[i].path);
        }
        free(files);
}

static int conf_file_cmp(const void *a, const void *b) {
        return strcmp(((const ConfFile *) a)->name, ((const ConfFile *) b)->name);
}

int conf_files_list(int rootfd, const char *const *dirs, const char *suffix, ConfFile **ret, ConfErrors *errors) {
        ConfFile *files = NULL;
        size_t n = 0, sl = strlen(suffix);
        bool *masked = NULL;

        for (const char *const *dir = dirs; *dir; dir++) {
                DIR *d = root_opendir(rootfd, *dir);
                char shown[PATH_MAX];
                int r;

                snprintf(shown, sizeof(shown), "/%s", *dir);
                if (!d) {
                        if (errno != ENOENT)
                                conf_errors_addf(errors, shown, 0, "cannot open directory: %m");
                        continue;
                }
                /* An untrusted directory is one error; its files are not read (nor listed). */
                r = check_directories(rootfd, *dir, true, errors);
                if (r < 0) {
                        if (r != -EPERM && r != -EACCES)
                                conf_errors_add_errno(errors, r, shown, 0, "cannot check the directory: %m");
                        closedir(d);
                        continue;
                }
                for (struct dirent *de; (r = root_readdir(d, &de)) > 0;) {
                        size_t l = strlen(de->d_name);
                        char target[64];
                        bool dup = false, is_mask;
                        ssize_t tl;

                        if (de->d_name[0] == '.' || l <= sl || strcmp(de->d_name + l - sl, suffix) != 0)
                                continue;
                        for (size_t i = 0; i < n; i++)
                                if (strcmp(files[i].name, de->d_name) == 0) {
                                        dup = true; /* a higher directory has it */
                                        break;
                                }
                        if (dup)
                                continue;
                        if (n >= CONF_FILES_MAX) {
                                conf_errors_addf(errors, shown, 0, "more than %d files, ignoring the rest",
                                                 CONF_FILES_MAX);
                                break;
                        }
                        tl = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
                        is_mask = tl == 9 && memcmp(target, "/dev/null", 9) == 0;

                        ConfFile *nf = realloc(files, (n + 1) * sizeof(ConfFile));
                        if (!nf)
                                log_oom_abort();
                        files = nf;
                        bool *nm = realloc(masked, (n + 1) * sizeof(bool));
                        if (!nm)
                                log_oom_abort();
                        masked = nm;
                        masked[n] = is_mask;
                        files[n].name = strdup(de->d_name);
                        if (asprintf(&files[n].path, "%s/%s", *dir, de->d_name) < 0 || !files[n].name)
                                log_oom_abort();
                        n++;
                }
                closedir(d);
                if (r < 0) {
                        /* A listing that failed part-way would silently drop the files not yet seen:
                         * a policy, or the mask of one, would be missing. Fail the whole listing. */
                        conf_errors_add_errno(errors, r, shown, 0, "cannot list the directory: %m");
                        conf_files_free(files, n);
                        free(masked);
                        return r;
                }
        }

        /* Drop the masks; they did their work by being found first. */
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                if (masked[i]) {
                        free(files[i].name);
                        free(files[i].path);
                        continue;
                }
                files[k++] = files[i];
        }
        free(masked);
        if (k > 0)
                qsort(files, k, sizeof(ConfFile), conf_file_cmp);
        *ret = files;
        return (int) k;
}

int conf_parse_bool(const char *value, bool *ret) {
        static const char *const yes[] = { "1", "yes", "true", "on" }, *const no[] = { "0", "no", "false", "off" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(value, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(value, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

typedef struct ConfUnitName {
        const char *name;
        uint64_t factor;
} ConfUnitName;

/* Units start with a letter that is not a hex digit, so that "0x1G" is 1 GiB and "0x1E" stays 30. */
static const ConfUnitName byte_units[] = {
        { "K", 1ULL << 10 }, { "M", 1ULL << 20 }, { "G", 1ULL << 30 }, { "T", 1ULL << 40 }, { "P", 1ULL << 50 },
        { "KiB", 1ULL << 10 }, { "MiB", 1ULL << 20 }, { "GiB", 1ULL << 30 }, { "TiB", 1ULL << 40 }, { "PiB", 1ULL << 50 },
        {}
}, time_units[] = {
        { "us", 1 }, { "usec", 1 }, { "ms", 1000 }, { "msec", 1000 }, { "s", 1000000 }, { "sec", 1000000 },
        { "min", 60000000 },
        {}
}, no_units[] = {
        {}
};

int conf_parse_number(const char *s, size_t len, ConfUnit unit, uint64_t *ret) {
        const ConfUnitName *units = unit == CONF_UNIT_BYTES ? byte_units : unit == CONF_UNIT_USEC ? time_units : no_units;
        uint64_t v = 0, f = 1;
        size_t i = 0;
        int base = 10;

        if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
                base = 16;
                i = 2;
        }
        /* Digits only: no sign, no blank, no fraction (strtoull() would take the first two). */
        for (size_t start = i;; i++) {
                unsigned d;

                if (i < len && s[i] >= '0' && s[i] <= '9')
                        d = (unsigned) (s[i] - '0');
                else if (base == 16 && i < len && isxdigit((unsigned char) s[i]))
                        d = (unsigned) (tolower((unsigned char) s[i]) - 'a' + 10);
                else {
                        if (i == start)
                                return -EINVAL;
                        break;
                }
                if (v > (UINT64_MAX - d) / (unsigned) base)
                        return -ERANGE;
                v = v * (unsigned) base + d;
        }

        if (i < len) {
                const ConfUnitName *u = units;

                while (u->name && !(strlen(u->name) == len - i && memcmp(s + i, u->name, len - i) == 0))
                        u++;
                if (!u->name)
                        return -EINVAL;
                f = u->factor;
        } else if (unit == CONF_UNIT_USEC)
                f = 1000000; /* a bare number is seconds, as in systemd */

        if (v > UINT64_MAX / f)
                return -ERANGE;
        *ret = v * f;
        return 0;
}

int conf_parse_size(const char *value, uint64_t *ret) {
        return conf_parse_number(value, strlen(value), CONF_UNIT_BYTES, ret);
}

int conf_parse_usec(const char *value, uint64_t *ret) {
        return conf_parse_number(value, strlen(value), CONF_UNIT_USEC, ret);
}
