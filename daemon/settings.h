/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <limits.h>
#include <stdint.h>

#include "conf-file.h"

/* The daemon's own settings: memhpd.conf and memhpd.conf.d/NAME.conf, section [Daemon]. */

typedef enum EventSource {
        SOURCE_KERNEL, /* netlink group 1: works without udevd (initramfs, minimal images) */
        SOURCE_UDEV,   /* netlink group 2: after udevd processed the event */
        _SOURCE_MAX,
} EventSource;

/* What memhpd does about the kernel's own auto-online (auto_online_blocks); see ownership.h. */
typedef enum KernelAutoOnline {
        KERNEL_AUTO_ONLINE_TAKEOVER, /* set it to offline while memhpd runs, put it back at stop */
        KERNEL_AUTO_ONLINE_KEEP,     /* leave it alone */
        KERNEL_AUTO_ONLINE_DELEGATE, /* program it to do what a uniform policy set says, else takeover */
        _KERNEL_AUTO_ONLINE_MAX,
} KernelAutoOnline;

typedef struct Settings {
        EventSource event_source;
        unsigned long long receive_buffer;  /* bytes */
        unsigned long long settle_usec;     /* longest wait for a new block's node/firmware links */
        bool lock_memory;                   /* mlockall(): keep working when memory runs out */
        KernelAutoOnline kernel_auto_online;
        char metrics_file[PATH_MAX];        /* MetricsFile=: absolute path, "" for none (metrics.c) */
} Settings;

#define SETTINGS_DEFAULT_RECEIVE_BUFFER (128ULL * 1024 * 1024)
#define SETTINGS_DEFAULT_SETTLE_USEC (2ULL * 1000 * 1000)

void settings_defaults(Settings *s);

/*
 * Apply one file's text (from 'path', for messages) on top of *s. Returns 0, or -EINVAL with every
 * problem in 'errors' (*s may then hold some of the file's values), or -ENOMEM.
 */
int settings_parse(const char *path, const char *text, Settings *s, ConfErrors *errors);

/*
 * Load the main file and the drop-ins under 'rootfd'. Returns 0 with *ret filled only if every file is
 * clean; otherwise -EINVAL with every problem in 'errors' and *ret untouched.
 */
int settings_load(int rootfd, Settings *ret, ConfErrors *errors);

const char *event_source_to_string(EventSource s);
const char *kernel_auto_online_to_string(KernelAutoOnline k);
