/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "build-config.h"
#include "log.h"
#include "metrics.h"
#include "settings.h"

static const char *const event_source_table[_SOURCE_MAX] = {
        [SOURCE_KERNEL] = "kernel",
        [SOURCE_UDEV] = "udev",
};

const char *event_source_to_string(EventSource s) {
        return s >= 0 && s < _SOURCE_MAX ? event_source_table[s] : "invalid";
}

static const char *const kernel_auto_online_table[_KERNEL_AUTO_ONLINE_MAX] = {
        [KERNEL_AUTO_ONLINE_TAKEOVER] = "takeover",
        [KERNEL_AUTO_ONLINE_KEEP] = "keep",
        [KERNEL_AUTO_ONLINE_DELEGATE] = "delegate",
};

const char *kernel_auto_online_to_string(KernelAutoOnline k) {
        return k >= 0 && k < _KERNEL_AUTO_ONLINE_MAX ? kernel_auto_online_table[k] : "invalid";
}

void settings_defaults(Settings *s) {
        *s = (Settings) {
                .event_source = SOURCE_KERNEL,
                .receive_buffer = SETTINGS_DEFAULT_RECEIVE_BUFFER,
                .settle_usec = SETTINGS_DEFAULT_SETTLE_USEC,
                .lock_memory = true,
                .kernel_auto_online = KERNEL_AUTO_ONLINE_TAKEOVER,
        };
}

static int parse_source(const char *value, void *data, char *err, size_t err_size) {
        for (int i = 0; i < _SOURCE_MAX; i++)
                if (strcmp(value, event_source_table[i]) == 0) {
                        *(EventSource *) data = i;
                        return 0;
                }
        snprintf(err, err_size, "expected kernel or udev");
        return -EINVAL;
}

static int parse_buffer(const char *value, void *data, char *err, size_t err_size) {
        uint64_t v;

        /* The kernel clamps SO_RCVBUF to INT_MAX/2; below 4 KiB a single uevent may not fit. */
        if (conf_parse_size(value, &v) < 0 || v < 4096 || v > (1ULL << 30)) {
                snprintf(err, err_size, "expected a size between 4K and 1G, such as 128M");
                return -EINVAL;
        }
        *(unsigned long long *) data = v;
        return 0;
}

static int parse_settle(const char *value, void *data, char *err, size_t err_size) {
        uint64_t v;

        if (conf_parse_usec(value, &v) < 0 || v > 60ULL * 1000 * 1000) {
                snprintf(err, err_size, "expected a time span up to 60s, such as 2s or 500ms");
                return -EINVAL;
        }
        *(unsigned long long *) data = v;
        return 0;
}

static int parse_lock(const char *value, void *data, char *err, size_t err_size) {
        if (conf_parse_bool(value, data) < 0) {
                snprintf(err, err_size, "expected yes or no");
                return -EINVAL;
        }
        return 0;
}

static int parse_kernel_auto_online(const char *value, void *data, char *err, size_t err_size) {
        for (int i = 0; i < _KERNEL_AUTO_ONLINE_MAX; i++)
                if (strcmp(value, kernel_auto_online_table[i]) == 0) {
                        *(KernelAutoOnline *) data = i;
                        return 0;
                }
        snprintf(err, err_size, "expected takeover, keep or delegate");
        return -EINVAL;
}

static int parse_metrics_file(const char *value, void *data, char *err, size_t err_size) {
        if (metrics_file_valid(value) < 0) {
                snprintf(err, err_size, "expected an absolute file name, such as "
                         "/var/lib/prometheus/node-exporter/memhpd.prom, or nothing");
                return -EINVAL;
        }
        strcpy(data, value); /* metrics_file_valid() checked it fits in PATH_MAX */
        return 0;
}

static const ConfKey settings_keys[] = {
        { "Daemon", "LockMemory", parse_lock, offsetof(Settings, lock_memory) },
        { "Daemon", "EventSource", parse_source, offsetof(Settings, event_source) },
        { "Daemon", "ReceiveBufferSize", parse_buffer, offsetof(Settings, receive_buffer) },
        { "Daemon", "SettleTimeoutSec", parse_settle, offsetof(Settings, settle_usec) },
        { "Daemon", "KernelAutoOnline", parse_kernel_auto_online, offsetof(Settings, kernel_auto_online) },
        { "Daemon", "MetricsFile", parse_metrics_file, offsetof(Settings, metrics_file) },
        {}
};

static int settings_section(const char *section, unsigned line _unused_, void *target _unused_) {
        return strcmp(section, "Daemon") == 0 ? 0 : -EINVAL;
}

int settings_parse(const char *path, const char *text, Settings *s, ConfErrors *errors) {
        int r = conf_parse_text(path, text, settings_keys, settings_section, s, errors);
        return r > 0 ? -EINVAL : r;
}

static int settings_load_one(int rootfd, const char *path, Settings *s, ConfErrors *errors) {
        _cleanup_free_ char *text = NULL, *shown = NULL;
        int r;

        if (asprintf(&shown, "/%s", path) < 0)
                log_oom_abort();
        r = conf_read_file(rootfd, path, shown, &text, errors);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        return settings_parse(shown, text, s, errors);
}

int settings_load(int rootfd, Settings *ret, ConfErrors *errors) {
        static const char *const dropin_dirs[] = {
                "etc/memhpd/memhpd.conf.d",
                "run/memhpd/memhpd.conf.d",
                MEMHPD_VENDOR_DIR "/memhpd.conf.d",
                NULL,
        };
        size_t before = errors->n_total;
        ConfFile *files = NULL;
        Settings s;
        int n;

        settings_defaults(&s);
        (void) settings_load_one(rootfd, "etc/memhpd/memhpd.conf", &s, errors);
        n = conf_files_list(rootfd, dropin_dirs, ".conf", &files, errors);
        for (int i = 0; i < n; i++)
                (void) settings_load_one(rootfd, files[i].path, &s, errors);
        if (n >= 0)
                conf_files_free(files, n);
        if (errors->n_total > before)
                return -EINVAL;
        *ret = s;
        return 0;
}
