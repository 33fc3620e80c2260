/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

/*
 * What every memhpctl verb shares (memhpctl.c's first comment says how verbs are added): the connection
 * to memhpd, errors turned into sentences and exit statuses, the pager and colours.
 */

/* Exit statuses (memhpctl(8)). */
enum {
        EXIT_OK = 0,
        EXIT_FAILED = 1,       /* the request failed, or verify found drift */
        EXIT_USAGE = 2,        /* bad arguments */
        EXIT_NOT_RUNNING = 3,  /* memhpd is not running (or not reachable) */
        EXIT_DENIED = 4,       /* permission denied */
};

typedef struct CtlOptions {
        const char *root;   /* --root=DIR: the private socket under DIR (tests) */
        bool no_pager, no_legend, json, blocks;
        unsigned lines;     /* log -n */
} CtlOptions;

extern CtlOptions arg;

#define MEMHPD_BUS_NAME "org.memhpd1"
#define MEMHPD_BUS_PATH "/org/memhpd1"
#define MEMHPD_BUS_INTERFACE "org.memhpd1.Manager"

/* Connect: the private socket as root or with --root, else the system bus. On failure prints why and
 * returns the exit status (> 0); 0 on success. */
int ctl_connect(sd_bus **ret);

/* The destination of calls: NULL on the private socket (peer to peer), org.memhpd1 on the system bus. */
const char *ctl_destination(void);

/* Call a method of org.memhpd1.Manager. On failure prints a sentence for 'error' and returns the exit
 * status (> 0); 0 with *reply on success. */
int ctl_call(sd_bus *bus, const char *method, sd_bus_message **reply, const char *types, ...);

/* Print a clear sentence for a failed call or a failed read of a reply; returns the exit status. */
int ctl_error(const sd_bus_error *error, int r, const char *what);

/* Colour and pager only on a terminal. */
bool ctl_colour(void);
void ctl_pager_open(void);
void ctl_pager_close(void);
