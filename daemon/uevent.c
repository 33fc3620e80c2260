/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the uevent source: the libudev monitor, ENOBUFS -> rescan. The parser is uevent-parse.c; what a
 * parsed uevent does to a block is block-events.c's business, to a dax device dax.c's. */
#include <string.h>

#include "audit.h"
#include "block-events.h"
#include "dax.h"
#include "inventory.h"
#include "log.h"
#include "manager.h"
#include "uevent.h"

static void bad_uevent(const char *action, const char *devpath, const char *subsystem, const char *why) {
        AuditFields f = AUDIT_FIELDS_INIT;

        f.result = "skipped";
        audit_record(AUDIT_BAD_UEVENT, &f, "ignored uevent ACTION=%.32s SUBSYSTEM=%.32s DEVPATH=%.160s: %s",
                     strna(action), strna(subsystem), strna(devpath), why);
}

static void handle_uevent(Manager *m, struct udev_device *d) {
        const char *action = udev_device_get_action(d);
        const char *devpath = udev_device_get_devpath(d);
        const char *subsystem = udev_device_get_subsystem(d);
        const char *why;
        Uevent u;

        m->n_uevents++;
        if (uevent_parse(action, devpath, subsystem, udev_device_get_property_value(d, "SYNTH_UUID"), &u, &why) < 0) {
                bad_uevent(action, devpath, subsystem, why);
                return;
        }
        switch (u.subsystem) {
        case UEVENT_MEMORY:
                block_events_memory_uevent(m, &u);
                break;
        case UEVENT_NODE:
                block_events_node_uevent(m, &u);
                break;
        case UEVENT_DAX:
                dax_uevent(m, &u);
                break;
        case UEVENT_OTHER:
                log_debug("Ignoring uevent ACTION=%s SUBSYSTEM=%s DEVPATH=%s: not memory, node or dax", action,
                          subsystem, devpath);
                break;
        }
}

static int on_monitor(sd_event_source *s _unused_, int fd _unused_, uint32_t revents _unused_, void *userdata) {
        Manager *m = userdata;

        for (unsigned i = 0; i < 1024; i++) {
                struct udev_device *d;

                errno = 0;
                d = udev_monitor_receive_device(m->monitor);
                if (!d) {
                        if (errno == ENOBUFS) {
                                AuditFields f = AUDIT_FIELDS_INIT;
                                f.error = ENOBUFS;
                                f.result = "ok";
                                audit_record(AUDIT_EVENTS_LOST, &f,
                                             "uevent receive buffer overflowed (ReceiveBufferSize=%llu): "
                                             "events were lost, rescanning",
                                             m->settings.receive_buffer);
                                block_events_schedule_rescan(m);
                                continue; /* the error is reported once; read what is queued */
                        }
                        break; /* EAGAIN: drained (level-triggered, we are called again if not) */
                }
                handle_uevent(m, d);
                udev_device_unref(d);
        }
        return 0;
}

void uevent_monitor_stop(Manager *m) {
        m->monitor_source = sd_event_source_disable_unref(m->monitor_source);
        m->monitor = udev_monitor_unref(m->monitor);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_monitor *, udev_monitor_unref);

/* A reload that asks for an unusable source leaves memhpd listening where it was. */
int uevent_monitor_start(Manager *m) {
        const char *source = event_source_to_string(m->settings.event_source);
        _cleanup_(udev_monitor_unrefp) struct udev_monitor *mon = NULL;
        sd_event_source *io = NULL;
        int r;

        mon = udev_monitor_new_from_netlink(m->udev, source);
        if (!mon)
                return log_error_errno(errno > 0 ? errno : EINVAL, "Cannot create the %s uevent monitor: %m", source);
        r = udev_monitor_filter_add_match_subsystem_devtype(mon, "memory", NULL);
        if (r >= 0)
                r = udev_monitor_filter_add_match_subsystem_devtype(mon, "node", NULL);
        if (r >= 0)
                r = udev_monitor_filter_add_match_subsystem_devtype(mon, "dax", NULL);
        if (r < 0)
                return log_error_errno(r, "Cannot set the uevent filter: %m");
        r = udev_monitor_set_receive_buffer_size(mon, (int) m->settings.receive_buffer);
        if (r < 0)
                log_warning_errno(r, "Cannot set the uevent receive buffer to %llu bytes (%m); a large hot-add may "
                                  "overflow it and cost a rescan", m->settings.receive_buffer);
        r = udev_monitor_enable_receiving(mon);
        if (r < 0)
                return log_error_errno(r, "Cannot listen for %s uevents: %m", source);
        r = sd_event_add_io(m->event, &io, udev_monitor_get_fd(mon), EPOLLIN, on_monitor, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(io, "uevent-monitor");
        uevent_monitor_stop(m);
        m->monitor = TAKE_PTR(mon);
        m->monitor_source = io;
        return 0;
}
