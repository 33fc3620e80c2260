#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Scale and idle benchmarks without a VM: the real memhpd binary against fake sysfs trees.

    python3 bench/scale.py scan  --memhpd BIN --tree DIR --offline K --runs R      (prints JSON)
    unshare --net --mount python3 bench/scale.py burst --memhpd BIN --tree DIR --blocks B --runs R
    unshare --net --mount python3 bench/scale.py idle  --memhpd BIN --tree DIR --seconds S
    python3 bench/scale.py metrics --memhpd BIN --tree DIR --runs R   (MetricsFile= render+write)

bench/run.py drives these; they are separate commands because the burst and the idle runs need
a private network namespace (the uevents are multicast on real netlink) and the scan does not.
Trees come from bench/mkfake.py (N blocks, all online); each command puts them back as it found
them (blocks it added are removed, blocks it set offline are set online again).
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from fakesys import FakeKernel, UeventSender  # noqa: E402
sys.path.insert(0, HERE)
import record  # noqa: E402

TIME = "/usr/bin/time"
MOVABLE = "[Match]\nDevice=any\n\n[Online]\nZone=movable\n"
BURST_CONF = "[Daemon]\nEventSource=udev\nLockMemory=no\n"


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def prepare_root(tree, conf=None, policy=True):
    """memhpd's own files under the tree: the bench policy, settings, nothing left in run/."""
    pol = os.path.join(tree, "etc/memhpd/policies.d/10-bench.policy")
    if policy:
        write(pol, MOVABLE)
    elif os.path.exists(pol):
        os.unlink(pol)
    conf_path = os.path.join(tree, "etc/memhpd/memhpd.conf")
    if conf is None:
        if os.path.exists(conf_path):
            os.unlink(conf_path)
    else:
        write(conf_path, conf)
    shutil.rmtree(os.path.join(tree, "run/memhpd"), ignore_errors=True)
    os.makedirs(os.path.join(tree, "run/memhpd/policies.d"), exist_ok=True)


def n_blocks(tree):
    mem = os.path.join(tree, "sys/devices/system/memory")
    return sum(1 for e in os.listdir(mem) if e.startswith("memory"))


def set_blocks(tree, indexes, state):
    mem = os.path.join(tree, "sys/devices/system/memory")
    zones = "Normal Movable" if state == "offline" else "Normal"
    for i in indexes:
        for attr, val in (("state", state), ("valid_zones", zones)):
            with open(os.path.join(mem, f"memory{i}", attr), "w") as f:
                f.write(val + "\n")


def read_state(tree, i):
    with open(os.path.join(tree, f"sys/devices/system/memory/memory{i}/state")) as f:
        return f.read().strip()


def clean_env():
    e = dict(os.environ)
    for k in ("JOURNAL_STREAM", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        e.pop(k, None)
    return e


def proc_cpu(pid):
    """(utime+stime in ticks, on-CPU time in ns from schedstat, run count)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    with open(f"/proc/{pid}/schedstat") as f:
        ns, _wait, slices = (int(x) for x in f.read().split())
    return ticks, ns, slices


def proc_ctxt(pid):
    vol = invol = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                vol = int(line.split()[1])
            elif line.startswith("nonvoluntary_ctxt_switches:"):
                invol = int(line.split()[1])
    return vol, invol


def proc_hwm(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


# ---------------------------------------------------------------------------------------------
# start-up scan: memhpd --once

def one_scan(memhpd, tree, offline_idx):
    set_blocks(tree, offline_idx, "offline")
    prepare_root(tree)
    log = open(os.path.join(tree, "scan.log"), "w")
    t0 = time.perf_counter()
    # Peak RSS from /usr/bin/time: a child spawned by this Python process would inherit Python's
    # high-water mark in its own ru_maxrss (exec keeps the larger one); time(1) is small.
    rss_file = os.path.join(tree, "scan.rss")
    p = subprocess.Popen([TIME, "-f", "%M", "-o", rss_file, memhpd, f"--root={tree}", "--once"],
                         stdout=subprocess.DEVNULL, stderr=log, env=clean_env())
    _, status, ru = os.wait4(p.pid, 0)   # CPU of time(1) and memhpd together; time's is ~1 ms
    wall = time.perf_counter() - t0
    with open(rss_file) as f:
        maxrss = int(f.read().split()[-1])
    log.close()
    rc = os.waitstatus_to_exitcode(status)
    written = sum(1 for i in offline_idx if read_state(tree, i) == "online_movable")
    set_blocks(tree, offline_idx, "online")
    if rc != 0:
        raise RuntimeError(f"memhpd --once exited {rc}; see {tree}/scan.log")
    if written != len(offline_idx):
        raise RuntimeError(f"memhpd --once onlined {written} of {len(offline_idx)} offline blocks")
    return {"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "maxrss_kib": maxrss}


def cmd_scan(a):
    n = n_blocks(a.tree)
    offline_idx = list(range(n - a.offline, n)) if a.offline else []
    one_scan(a.memhpd, a.tree, offline_idx)  # warm the dentry cache; not counted
    runs = [one_scan(a.memhpd, a.tree, offline_idx) for _ in range(a.runs)]
    return {"blocks": n, "offline": a.offline, "runs": runs}


# ---------------------------------------------------------------------------------------------
# running daemon helpers

class Daemon:
    def __init__(self, memhpd, tree, args=()):
        self.log_path = os.path.join(tree, "memhpd.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([memhpd, f"--root={tree}", *args], stdout=subprocess.DEVNULL,
                                     stderr=self.log, env=clean_env())
        self.pid = self.proc.pid

    def text(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_started(self, timeout=120):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if "event=started" in self.text():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"memhpd exited {self.proc.returncode}: {self.text()[-2000:]}")
            time.sleep(0.01)
        raise RuntimeError("memhpd did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


# ---------------------------------------------------------------------------------------------
# burst: B add uevents into a running daemon

def remove_blocks(tree, first, count):
    mem = os.path.join(tree, "sys/devices/system/memory")
    node = os.path.join(tree, "sys/devices/system/node/node0")
    for i in range(first, first + count):
        shutil.rmtree(os.path.join(mem, f"memory{i}"), ignore_errors=True)
        try:
            os.unlink(os.path.join(node, f"memory{i}"))
        except FileNotFoundError:
            pass


def one_burst(memhpd, tree, first, count, timeout, args=(), log=None):
    prepare_root(tree, BURST_CONF)
    remove_blocks(tree, first, count)
    sender = UeventSender()
    kernel = FakeKernel(tree, sender)
    d = Daemon(memhpd, tree, args)
    try:
        d.wait_started()
        time.sleep(0.2)
        rss_idle = proc_hwm(d.pid)
        # The kernel would have created the directories before its uevents: do it before the clock.
        for i in range(first, first + count):
            kernel.add_block(i, node=0, uevent=False)
        last = first + count - 1
        ticks0, ns0, _ = proc_cpu(d.pid)
        t0 = time.perf_counter()
        for i in range(first, first + count):
            sender.memory("add", i)
        t_sent = time.perf_counter() - t0
        end = time.monotonic() + timeout
        state_last = os.path.join(kernel.mem, f"memory{last}", "state")
        while True:
            with open(state_last) as f:
                if f.read().startswith("online_movable"):
                    break
            if time.monotonic() > end:
                raise RuntimeError(f"memory{last} not written within {timeout}s")
            if d.proc.poll() is not None:
                raise RuntimeError(f"memhpd exited {d.proc.returncode}")
            time.sleep(0.0005)
        t_last = time.perf_counter() - t0
        ticks1, ns1, _ = proc_cpu(d.pid)
        # Events are handled in order; confirm every block, waiting for stragglers if any.
        pending = [i for i in range(first, first + count) if read_state(tree, i) != "online_movable"]
        while pending and time.monotonic() < end:
            time.sleep(0.01)
            pending = [i for i in pending if read_state(tree, i) != "online_movable"]
        elapsed = time.perf_counter() - t0
        ticks2, ns2, _ = proc_cpu(d.pid)
        if pending:
            raise RuntimeError(f"{len(pending)} of {count} blocks never written, e.g. memory{pending[0]}")
        lost = d.text().count("event=events-lost")
        rss = proc_hwm(d.pid)
    finally:
        rc = d.stop()
        sender.close()
        remove_blocks(tree, first, count)
        if log is not None:
            log.append(d.text())
    if rc != 0:
        raise RuntimeError(f"memhpd exited {rc} on SIGTERM")
    straggled = elapsed > t_last + 0.02
    t_done = elapsed if straggled else t_last
    if straggled:   # count the CPU up to the last block written
        ticks1, ns1 = ticks2, ns2
    return {"events": count, "send_s": t_sent, "elapsed_s": t_done, "events_per_s": count / t_done,
            "cpu_ns_per_event": (ns1 - ns0) / count, "cpu_ticks": ticks1 - ticks0,
            "events_lost_records": lost, "vmhwm_kib_before": rss_idle, "vmhwm_kib": rss}


def cmd_burst(a):
    n = n_blocks(a.tree)
    runs = [one_burst(a.memhpd, a.tree, n, a.blocks, a.timeout) for _ in range(a.runs)]
    return {"blocks": n, "burst": a.blocks, "runs": runs}


# ---------------------------------------------------------------------------------------------
# idle: default settings, nothing happening

def cmd_idle(a):
    prepare_root(a.tree, conf=None if a.default_conf else "[Daemon]\nLockMemory=no\n")
    d = Daemon(a.memhpd, a.tree)
    try:
        d.wait_started()
        time.sleep(a.settle)
        v0, i0 = proc_ctxt(d.pid)
        t0, ns0, s0 = proc_cpu(d.pid)
        time.sleep(a.seconds)
        v1, i1 = proc_ctxt(d.pid)
        t1, ns1, s1 = proc_cpu(d.pid)
        rss = proc_hwm(d.pid)
    finally:
        rc = d.stop()
    if rc != 0:
        raise RuntimeError(f"memhpd exited {rc} on SIGTERM")
    return {"blocks": n_blocks(a.tree), "seconds": a.seconds, "voluntary": v1 - v0,
            "involuntary": i1 - i0, "cpu_ticks": t1 - t0, "cpu_ns": ns1 - ns0, "runs_on_cpu": s1 - s0,
            "vmhwm_kib": rss}


# ---------------------------------------------------------------------------------------------
# MetricsFile=: render+write with every block of the tree, and two baselines from the same process

def build_metrics_bench(memhpd):
    """Compile bench/metrics-bench.c against the libmemhpd-core.a of the build holding memhpd."""
    build = os.path.dirname(os.path.dirname(memhpd))
    lib = os.path.join(build, "daemon", "libmemhpd-core.a")
    out = os.path.join(build, "bench-metrics")
    src = os.path.join(HERE, "metrics-bench.c")
    if os.path.exists(out) and os.path.getmtime(out) > max(os.path.getmtime(src), os.path.getmtime(lib)):
        return out
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libsystemd", "libudev", "inih"],
                           stdout=subprocess.PIPE, text=True, check=True).stdout.split()
    subprocess.run(["cc", "-O2", "-D_GNU_SOURCE", "-I", os.path.join(HERE, "..", "daemon"), "-I", build,
                    src, lib, "-o", out, *flags], check=True)
    return out


def cmd_metrics(a):
    prepare_root(a.tree)
    binary = build_metrics_bench(a.memhpd)
    r = subprocess.run([binary, a.tree, str(a.runs)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       text=True, env=clean_env())
    shutil.rmtree(os.path.join(a.tree, "run/memhpd-bench"), ignore_errors=True)
    if r.returncode != 0:
        raise RuntimeError(f"{binary} {a.tree} failed ({r.returncode})")
    return json.loads(r.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=("scan", "burst", "idle", "metrics"))
    ap.add_argument("--memhpd", required=True)
    ap.add_argument("--tree", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--offline", type=int, default=0)
    ap.add_argument("--blocks", type=int, default=8192)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--settle", type=float, default=2)
    ap.add_argument("--default-conf", action="store_true", help="idle: no memhpd.conf at all")
    ap.add_argument("--output", default="", help="also write the figures, the command and the host load "
                    "into this Markdown file (bench/record.py)")
    a = ap.parse_args()
    a.memhpd = os.path.abspath(a.memhpd)
    with record.Record(a.output, f"bench/scale.py {a.what}"):
        res = {"scan": cmd_scan, "burst": cmd_burst, "idle": cmd_idle, "metrics": cmd_metrics}[a.what](a)
        json.dump(res, sys.stdout, indent=1 if a.output else None)
        print()


if __name__ == "__main__":
    main()
