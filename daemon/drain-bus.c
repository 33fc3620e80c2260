/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the control channel's Drain, Online and Offline methods and the drain properties (drain-bus.h):
 * arguments in, the administrator's intent handed to drain.c, offline-worker.c and the actuator, replies
 * and progress out. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "actuator.h"
#include "audit.h"
#include "bus.h"
#include "drain-bus.h"
#include "delay.h"
#include "drain.h"
#include "engine.h"
#include "kept-offline.h"
#include "log.h"
#include "manager.h"
#include "offline-worker.h"
#include "origin.h"
#include "status.h"

void drain_bus_changed(Manager *m) {
        bus_emit_changed(m, "DrainTarget", "DrainRunning", "DrainDone", "DrainTotal", "DrainBlocks", "DrainEject",
                         NULL);
}

int drain_method_start(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *target;
        char who[160], err[256] = "";
        uint64_t flags;
        int r;

        r = bus_verify_privileged(msg, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "st", &target, &flags);
        if (r < 0)
                return r;
        (void) bus_caller_describe(msg, who, sizeof(who));
        r = drain_start(m, target, flags, who, err, sizeof(err));
        switch (r) {
        case 0:
                return sd_bus_reply_method_return(msg, NULL);
        case -EINVAL:
        case -EOPNOTSUPP:
                return sd_bus_error_set(error, BUS_ERROR_INVALID_TARGET, err);
        case -ENOENT:
                return sd_bus_error_set(error, BUS_ERROR_NO_SUCH_TARGET, err);
        case -EBUSY:
                return sd_bus_error_set(error, BUS_ERROR_DRAIN_RUNNING, err);
        case -EPERM:
        case -EROFS:
                return sd_bus_error_set(error, BUS_ERROR_DRAIN_REFUSED, err);
        default:
                return r;
        }
}

int drain_property_get(sd_bus *bus _unused_, const char *path _unused_, const char *interface _unused_,
                       const char *property, sd_bus_message *reply, void *userdata, sd_bus_error *error _unused_) {
        const Drain *d = drain_current(userdata);
        int r;

        if (strcmp(property, "DrainTarget") == 0)
                return sd_bus_message_append(reply, "s", d ? d->target : "");
        if (strcmp(property, "DrainRunning") == 0)
                return sd_bus_message_append(reply, "b", d && d->running);
        if (strcmp(property, "DrainDone") == 0)
                return sd_bus_message_append(reply, "t", (uint64_t) (d ? d->n_done : 0));
        if (strcmp(property, "DrainTotal") == 0)
                return sd_bus_message_append(reply, "t", (uint64_t) (d ? d->n_blocks : 0));
        if (strcmp(property, "DrainEject") == 0)
                return sd_bus_message_append(reply, "s", d ? d->eject : "");
        /* DrainBlocks */
        r = sd_bus_message_open_container(reply, 'a', "(uiss)");
        for (size_t i = 0; r >= 0 && d && i < d->n_blocks; i++)
                r = sd_bus_message_append(reply, "(uiss)", d->blocks[i].index, d->blocks[i].result,
                                          d->blocks[i].zone != ZONE_UNKNOWN ? zone_to_string(d->blocks[i].zone) : "",
                                          drain_block_why(d->blocks[i].result));
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

/* The blocks of an Online or Offline call: present, no duplicates, not too many. */
static int read_blocks(Manager *m, sd_bus_message *msg, uint32_t **ret, size_t *ret_n, sd_bus_error *error) {
        const uint32_t *a;
        size_t size, n;
        uint32_t *copy;
        int r;

        r = sd_bus_message_read_array(msg, 'u', (const void **) &a, &size);
        if (r < 0)
                return r;
        n = size / sizeof(uint32_t);
        if (n == 0 || n > DRAIN_BUS_BLOCKS_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "expected 1 to %d blocks, got %zu",
                                         DRAIN_BUS_BLOCKS_MAX, n);
        for (size_t i = 0; i < n; i++) {
                if (!inventory_block(m->inv, a[i]))
                        return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_BLOCK, "memory%" PRIu32 " does not exist", a[i]);
                for (size_t k = 0; k < i; k++)
                        if (a[k] == a[i])
                                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "memory%" PRIu32
                                                         " is named twice", a[i]);
        }
        copy = malloc(n * sizeof(uint32_t));
        if (!copy)
                return -ENOMEM;
        memcpy(copy, a, n * sizeof(uint32_t));
        *ret = copy;
        *ret_n = n;
        return 0;
}

/* What Online and Offline share: root only, the blocks, not under --dry-run, who asked. */
static int admin_request(Manager *m, sd_bus_message *msg, const char *verb, uint32_t **ret_blocks, size_t *ret_n,
                         char *who, size_t who_size, sd_bus_error *error) {
        uint32_t *blocks;
        size_t n;
        int r;

        r = bus_verify_privileged(msg, error);
        if (r < 0)
                return r;
        r = read_blocks(m, msg, &blocks, &n, error);
        if (r < 0)
                return r;
        if (m->opts.dry_run) {
                free(blocks);
                return sd_bus_error_setf(error, BUS_ERROR_DRAIN_REFUSED, "memhpd runs with --dry-run: it %s nothing",
                                         verb);
        }
        (void) bus_caller_describe(msg, who, who_size);
        *ret_blocks = blocks;
        *ret_n = n;
        return 0;
}

/* ---- Offline: replied when every job ended ---- */

typedef struct OfflineRequest {
        sd_bus_message *msg;
        size_t n, n_done;
        uint32_t *blocks;
        int *results;
} OfflineRequest;

static void request_reply(OfflineRequest *req) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(req->msg, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(uis)");
        for (size_t i = 0; r >= 0 && i < req->n; i++)
                r = sd_bus_message_append(reply, "(uis)", req->blocks[i], req->results[i],
                                          drain_block_why(req->results[i]));
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        /* The client may have gone: the jobs ran anyway; nothing else to do. */
        if (r < 0)
                log_debug_errno(r, "Cannot reply to an Offline call: %m");
        sd_bus_message_unref(req->msg);
        free(req->blocks);
        free(req->results);
        free(req);
}

static void on_offline_done(Manager *m _unused_, uint32_t index, int result, void *userdata) {
        OfflineRequest *req = userdata;

        for (size_t i = 0; i < req->n; i++)
                if (req->blocks[i] == index && req->results[i] == -EINPROGRESS) {
                        req->results[i] = result;
                        req->n_done++;
                        break;
                }
        if (req->n_done == req->n)
                request_reply(req);
}

int drain_method_offline(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        OfflineRequest *req;
        uint32_t *blocks;
        char who[160];
        size_t n;
        int r;

        r = admin_request(m, msg, "offlines", &blocks, &n, who, sizeof(who), error);
        if (r < 0)
                return r;
        req = calloc(1, sizeof(*req));
        if (!req || !(req->results = calloc(n, sizeof(int)))) {
                free(req);
                free(blocks);
                return -ENOMEM;
        }
        req->msg = sd_bus_message_ref(msg);
        req->blocks = blocks;
        req->n = n;
        for (size_t i = 0; i < n; i++)
                req->results[i] = -EINPROGRESS;
        /* Submitting may finish a job at once (a fork that fails): count every block first. */
        for (size_t i = 0; i < n; i++) {
                Block *b = inventory_block(m->inv, blocks[i]);

                if (b->state == STATE_OFFLINE) {
                        /* Already offline: keep it so, as asked. */
                        kept_offline_mark_admin(m, blocks[i]);
                        on_offline_done(m, blocks[i], 0, req);
                        continue;
                }
                r = offline_job_submit_as(m, blocks[i], OFFLINE_CAUSE_ADMIN, who, on_offline_done, req);
                if (r == -ENOMEM)
                        log_oom_abort();
                if (r < 0)
                        on_offline_done(m, blocks[i], r, req);
        }
        return 1; /* the reply follows when the jobs end */
}

/* ---- Online: at once ---- */

/* Movable where the kernel allows it, so that the block can be offlined again; the kernel zone else. */
static const char *online_as_administrator(Manager *m, uint32_t index, const char *who, int *ret_error) {
        Block *b = inventory_block(m->inv, index);
        AuditFields f = engine_block_fields(m, index);
        OnlineResult res;
        ZoneSet zones;
        Action action;
        Zone zone;
        int r, err;

        *ret_error = 0;
        if (offline_job_pending(m, index)) {
                *ret_error = -EBUSY;
                return "an offline job holds it";
        }
        if (b->state == STATE_ONLINE)
                return "already online";
        if (b->state != STATE_OFFLINE) {
                *ret_error = -EBUSY;
                return "it is not offline (going-offline or unreadable)";
        }
        if (quarantine_contains(m->quarantine, inventory_block_start(m->inv, index), m->inv->block_size)) {
                /* A poisoned page: never onlined again until `memhpctl quarantine clear`. */
                *ret_error = -EHWPOISON;
                return "it is quarantined (a poisoned page); memhpctl quarantine clear first";
        }
        r = inventory_block_valid_zones(m->inv, index, &zones);
        if (r < 0) {
                *ret_error = r;
                return "its valid_zones cannot be read";
        }
        action = zones.movable ? ACTION_ONLINE_MOVABLE : ACTION_ONLINE_KERNEL;
        res = block_online(m->inv, index, action, &err, &zone);
        f.action = "administrator";
        f.zone = action == ACTION_ONLINE_MOVABLE ? "movable" : "kernel";
        if (res == ONLINE_DONE || res == ONLINE_ALREADY || res == ONLINE_BY_OTHER) {
                /* The administrator's intent from now on: policy neither offlines nor re-decides it. */
                b->flags |= BLOCK_DECIDED;
                b->flags &= ~(BLOCK_BY_ADMIN | BLOCK_BY_OTHER | BLOCK_REDECIDE);
                inventory_block_set_origin(m->inv, index, ORIGIN_ADMINISTRATOR, NULL, 0);
                if (b->flags & BLOCK_DEFERRED)
                        delay_drop(m, index); /* decided: its When=delay group lets it go */
                kept_offline_changed(m);
                m->n_onlined++;
                f.result = res == ONLINE_DONE ? "ok" : "already";
                if (res != ONLINE_DONE)
                        f.zone = zone_to_string(zone);
                audit_record(AUDIT_ONLINED, &f, "onlined memory%" PRIu32 " as %s: asked by %s", index, f.zone, who);
                return res == ONLINE_DONE ? "onlined" : "already online";
        }
        m->n_failed++;
        f.result = "failed";
        f.error = err;
        audit_record(AUDIT_ONLINE_FAILED, &f, "failed to online memory%" PRIu32 " as %s (asked by %s): %m", index,
                     f.zone, who);
        *ret_error = err < 0 ? err : -EIO;
        return "the kernel refused";
}

int drain_method_online(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ uint32_t *blocks = NULL;
        Manager *m = userdata;
        char who[160];
        size_t n;
        int r;

        r = admin_request(m, msg, "onlines", &blocks, &n, who, sizeof(who), error);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(uis)");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                int err = 0;
                const char *why = online_as_administrator(m, blocks[i], who, &err);
                r = sd_bus_message_append(reply, "(uis)", blocks[i], err, why);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        status_changed(m);
        return sd_bus_send(NULL, reply, NULL);
}
