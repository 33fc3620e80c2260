/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/*
 * Reading systemd-style INI files: the search path with masking, the checks on each file, and a
 * table-driven key parser over libinih that reports every problem as "FILE:LINE: message".
 */

#define CONF_FILE_MAX (1024 * 1024) /* bigger than any sane policy; more is an error */
#define CONF_FILES_MAX 1024         /* files across one search path's directories */
#define CONF_LINE_MAX 199           /* libinih's INI_MAX_LINE minus the NUL */

#define CONF_ERRORS_PER_FILE_MAX 50 /* listed per file; the rest are counted */
#define CONF_ERRORS_MAX 500         /* listed in all */

typedef struct ConfError {
        char *text; /* "FILE:LINE: message" or "FILE: message", control characters escaped as \xNN */
} ConfError;

/*
 * Every problem found while loading a configuration. A file of junk must not cost memory or time in
 * proportion to its lines: past CONF_ERRORS_PER_FILE_MAX errors in one file, one item "FILE: N more
 * errors in this file not shown" counts the rest; past CONF_ERRORS_MAX in all, a last item "N more
 * errors not shown". So 'n' is what to print, and 'n_total' is how many errors there were: "is it
 * clean" is n_total == 0 (or unchanged).
 */
typedef struct ConfErrors {
        ConfError *items;
        size_t n, n_allocated;
        size_t n_total;              /* every error reported, listed or not */
        size_t n_shown, n_hidden;    /* real errors listed; errors past CONF_ERRORS_MAX */
        char *file;                  /* the file the last error was about */
        size_t n_file;               /* errors reported for it */
        size_t file_summary, summary; /* 1 + the index of each "more errors" item, 0: none yet */
} ConfErrors; /* = {} is empty */

/* Add one error about 'file' (and 'line', if not 0). %m names errno as it was at the call... The
 * caller's errno is kept. */
void conf_errors_addf(ConfErrors *e, const char *file, unsigned line, const char *fmt, ...) _printf_(4, 5);
/* ...or 'error' (a -errno or errno) here. */
void conf_errors_add_errno(ConfErrors *e, int error, const char *file, unsigned line, const char *fmt, ...)
        _printf_(5, 6);
void conf_errors_clear(ConfErrors *e);

/*
 * A value parser: 'data' points at the field. Returns 0, or -EINVAL having written why into 'err'
 * (without file, line or key: the caller adds them).
 */
typedef int (*conf_parse_t)(const char *value, void *data, char *err, size_t err_size);

typedef struct ConfKey {
        const char *section;
        const char *key;
        conf_parse_t parse;
        size_t offset; /* of the field inside the target struct */
} ConfKey;

/* Called for each [Section] line, with its line number; returns 0 or -EINVAL for an unknown one. */
typedef int (*conf_section_t)(const char *section, unsigned line, void *target);

/*
 * Parse 'text' (from 'path', for messages) against 'keys'. Every problem is added to 'errors';
 * returns the number of errors this file added (0 = clean) or -ENOMEM.
 */
int conf_parse_text(const char *path, const char *text, const ConfKey *keys, conf_section_t section_cb,
                    void *target, ConfErrors *errors);

/*
 * Read one configuration file relative to 'rootfd', refusing what the service (root without
 * CAP_DAC_OVERRIDE) must not trust or could not read: non-regular files (a FIFO does not block),
 * files or directories above them (along the resolved path, up to the root) not owned by root or
 * writable by group or others, a file its owner cannot read or a directory its owner cannot enter,
 * files above CONF_FILE_MAX, NUL bytes. Errors name the file as 'shown' (the absolute path the user
 * knows). Returns 0; -ENOENT for a missing file (no error added: the caller decides); -ENOLINK for a
 * dangling symbolic link, or another -errno, after adding an error.
 */
int conf_read_file(int rootfd, const char *path, const char *shown, char **ret, ConfErrors *errors);

typedef struct ConfFile {
        char *name; /* "50-default.policy" */
        char *path; /* relative to the root: "etc/memhpd/policies.d/50-default.policy" */
} ConfFile;

/*
 * List the files ending in 'suffix' across 'dirs' (relative to the root, highest priority first): a
 * name in a higher directory masks the same name lower down, and a symlink to /dev/null masks it
 * entirely. Sorted by name. A directory that fails the trust rules of conf_read_file() is one error
 * in 'errors' and contributes no file. A listing that fails part-way (readdir()) is an error in
 * 'errors' and fails the whole list: a file not seen could be a policy or the mask of one. Returns the
 * count or -errno.
 */
int conf_files_list(int rootfd, const char *const *dirs, const char *suffix, ConfFile **ret, ConfErrors *errors);
void conf_files_free(ConfFile *files, size_t n);

/* Shared value parsers. */
int conf_parse_bool(const char *value, bool *ret);

typedef enum ConfUnit {
        CONF_UNIT_NONE,  /* a plain number */
        CONF_UNIT_BYTES, /* optional K, M, G, T, P or KiB, MiB, GiB, TiB, PiB: powers of 1024 */
        CONF_UNIT_USEC,  /* optional us, usec, ms, msec, s, sec, min; without a unit: seconds */
} ConfUnit;

/*
 * The one number parser behind every numeric key, so that all keys take the same forms: decimal, or
 * hexadecimal with "0x", then the unit, if 'unit' allows one, with no blank in between. No sign, no
 * fraction. Parses exactly 'len' bytes of 's'. Returns 0, -EINVAL, or -ERANGE past 2^64-1.
 */
int conf_parse_number(const char *s, size_t len, ConfUnit unit, uint64_t *ret);
int conf_parse_size(const char *value, uint64_t *ret);  /* CONF_UNIT_BYTES: 128M, 4096, 2GiB, 0x1000 */
int conf_parse_usec(const char *value, uint64_t *ret);  /* CONF_UNIT_USEC: 2, 2s, 500ms, 100us */
