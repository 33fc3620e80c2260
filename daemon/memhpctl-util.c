/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns what memhpctl's verbs share: connecting, error sentences, pager, colour (memhpctl-util.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "memhpctl-util.h"

CtlOptions arg;

static char socket_shown[4200];
static bool via_private;

/* D-Bus addresses escape every byte outside [-0-9A-Za-z_/.\*] as %xx. */
static int address_for(const char *path, char **ret) {
        size_t n = strlen(path);
        char *a = malloc(strlen("unix:path=") + 3 * n + 1), *p;

        if (!a)
                return -ENOMEM;
        p = stpcpy(a, "unix:path=");
        for (const unsigned char *s = (const unsigned char *) path; *s; s++) {
                if ((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                    strchr("-_/.\\*", *s))
                        *p++ = (char) *s;
                else
                        p += sprintf(p, "%%%02x", *s);
        }
        *p = '\0';
        *ret = a;
        return 0;
}

int ctl_connect(sd_bus **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *address = NULL;
        int r;

        if (arg.root || geteuid() == 0) {
                const char *root = arg.root && strcmp(arg.root, "/") != 0 ? arg.root : "";

                via_private = true;
                (void) snprintf(socket_shown, sizeof(socket_shown), "%s/run/memhpd/bus", root);
                r = address_for(socket_shown, &address);
                if (r >= 0)
                        r = sd_bus_new(&bus);
                if (r >= 0)
                        r = sd_bus_set_address(bus, address);
                if (r >= 0)
                        r = sd_bus_start(bus);
        } else {
                via_private = false;
                (void) snprintf(socket_shown, sizeof(socket_shown), "the system bus");
                r = sd_bus_open_system(&bus);
        }
        if (r == -ENOENT || r == -ECONNREFUSED) {
                fprintf(stderr, "memhpd is not running (nothing listens on %s).\n", socket_shown);
                return EXIT_NOT_RUNNING;
        }
        if (r == -EACCES || r == -EPERM) {
                fprintf(stderr, "Permission denied on %s: only root may use memhpd's private socket.\n", socket_shown);
                return EXIT_DENIED;
        }
        if (r < 0) {
                fprintf(stderr, "Cannot connect to memhpd on %s: %s\n", socket_shown, strerror(-r));
                return EXIT_NOT_RUNNING;
        }
        *ret = TAKE_PTR(bus);
        return 0;
}

const char *ctl_destination(void) {
        return via_private ? NULL : MEMHPD_BUS_NAME;
}

int ctl_error(const sd_bus_error *error, int r, const char *what) {
        if (sd_bus_error_has_names(error, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER,
                                   SD_BUS_ERROR_UNKNOWN_OBJECT, SD_BUS_ERROR_DISCONNECTED, SD_BUS_ERROR_NO_REPLY) ||
            (!sd_bus_error_is_set(error) && (r == -ECONNRESET || r == -ENOTCONN || r == -EPIPE))) {
                fprintf(stderr, "memhpd is not running (%s is not served on %s).\n", MEMHPD_BUS_NAME, socket_shown);
                return EXIT_NOT_RUNNING;
        }
        if (sd_bus_error_has_names(error, SD_BUS_ERROR_ACCESS_DENIED, SD_BUS_ERROR_AUTH_FAILED) || r == -EACCES ||
            r == -EPERM) {
                fprintf(stderr, "Permission denied: %s.\n",
                        sd_bus_error_is_set(error) && error->message ? error->message : "only root may do that");
                return EXIT_DENIED;
        }
        if (sd_bus_error_has_name(error, "org.memhpd1.NoSuchBlock")) {
                fprintf(stderr, "%s.\n", error->message);
                return EXIT_FAILED;
        }
        if (sd_bus_error_has_name(error, SD_BUS_ERROR_UNKNOWN_METHOD)) {
                fprintf(stderr, "This memhpd does not know how to %s (it is older than memhpctl?).\n", what);
                return EXIT_FAILED;
        }
        if (sd_bus_error_is_set(error) && error->message)
                fprintf(stderr, "Cannot %s: %s.\n", what, error->message);
        else
                fprintf(stderr, "Cannot %s: %s.\n", what, strerror(r < 0 ? -r : EIO));
        return EXIT_FAILED;
}

int ctl_call(sd_bus *bus, const char *method, sd_bus_message **reply, const char *types, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, ctl_destination(), MEMHPD_BUS_PATH,
                                           MEMHPD_BUS_INTERFACE, method);
        if (r >= 0 && types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
        }
        if (r >= 0)
                r = sd_bus_call(bus, m, 0, &error, reply);
        if (r < 0)
                return ctl_error(&error, r, method);
        return 0;
}

bool ctl_colour(void) {
        const char *term = getenv("TERM");

        return isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && term && strcmp(term, "dumb") != 0;
}

static pid_t pager_pid;

void ctl_pager_open(void) {
        const char *pager;
        int fds[2];
        pid_t pid;

        if (arg.no_pager || !isatty(STDOUT_FILENO))
                return;
        pager = getenv("MEMHPCTL_PAGER") ?: getenv("PAGER");
        if (pager && (!*pager || strcmp(pager, "cat") == 0))
                return;
        fflush(stdout);
        if (pipe2(fds, O_CLOEXEC) < 0)
                return;
        pid = fork();
        if (pid < 0) {
                close(fds[0]);
                close(fds[1]);
                return;
        }
        if (pid == 0) {
                (void) dup2(fds[0], STDIN_FILENO);
                /* less: quit if one screen, raw colours, no init; as systemctl does. */
                (void) setenv("LESS", "FRSXMK", 0);
                if (pager)
                        execl("/bin/sh", "sh", "-c", pager, (char *) NULL);
                execlp("less", "less", (char *) NULL);
                execlp("more", "more", (char *) NULL);
                /* No pager: copy through. */
                char buf[4096];
                ssize_t n;
                while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
                        if (write(STDOUT_FILENO, buf, (size_t) n) != n)
                                break;
                _exit(0);
        }
        (void) dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        (void) signal(SIGPIPE, SIG_IGN);
        pager_pid = pid;
}

void ctl_pager_close(void) {
        if (pager_pid <= 0)
                return;
        fflush(stdout);
        (void) close(STDOUT_FILENO);
        (void) waitpid(pager_pid, NULL, 0);
        pager_pid = 0;
}
