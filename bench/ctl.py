#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The control channel at scale, without a VM: memhpctl against memhpd on a fake tree of N blocks
(bench/mkfake.py; 131072 = 16 TiB of 128 MiB blocks), through the private socket.

    unshare --net --mount python3 bench/ctl.py --memhpd build/daemon/memhpd [--blocks 131072] [--runs 10]

Prints, in one run and against baselines measured the same way on the same tree:
  - `memhpd --dry-run --once` wall time and peak RSS (the start-up scan: the baseline);
  - the running daemon's VmRSS/VmHWM before any client, and after status calls with a client connected;
  - `memhpctl status`, `status --json`, `status --json --blocks` wall times (first call, then the median);
  - context switches and CPU of memhpd in --idle seconds with a client connected (the goal is 0).
Goals (issue 11): status < 100 ms, RSS < 8 MiB, 0 idle wake-ups with the channel open.
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as benchrun  # noqa: E402  (bench/run.py: the shared trees)
import record  # noqa: E402
import scale  # noqa: E402


def vm_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


def timed(cmd):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.decode()[-500:]}")
    return dt, p.stdout


def hold_client(path):
    """A D-Bus peer that authenticates and then stays connected, silent: what an idle memhpctl-like
    client (a monitor, an exporter) looks like to memhpd."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(b"\0AUTH EXTERNAL " + str(os.geteuid()).encode().hex().encode() + b"\r\n")
    reply = s.recv(256)
    if not reply.startswith(b"OK"):
        raise RuntimeError(f"AUTH refused: {reply!r}")
    s.sendall(b"BEGIN\r\n")
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--memhpd", required=True)
    ap.add_argument("--memhpctl")
    ap.add_argument("--blocks", type=int, default=131072)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--idle", type=float, default=10.0)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    ap.add_argument("--output", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "CTL.md"),
                    help="write what is printed, with the command and the host load, here ('' for none)")
    ap.add_argument("--baseline-memhpd", help="a memhpd without the control channel (e.g. main's before it): "
                    "its idle VmHWM on the same tree, for the channel's own RSS cost")
    a = ap.parse_args()
    memhpd = os.path.abspath(a.memhpd)
    ctl = os.path.abspath(a.memhpctl or os.path.join(os.path.dirname(memhpd), "memhpctl"))
    tree = benchrun.tree(a.blocks)  # built once in /dev/shm/memhpd-bench, reused
    scale.prepare_root(tree, conf="[Daemon]\nEventSource=udev\n")  # LockMemory=yes: the default, as deployed
    res = {"blocks": a.blocks}

    # Baseline: the start-up scan alone.
    walls, rss = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", memhpd, f"--root={tree}", "--dry-run", "--once"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=scale.clean_env(), text=True)
        walls.append(time.perf_counter() - t0)
        rss.append(int(p.stderr.strip().splitlines()[-1]))
    res["once_wall_s"] = statistics.median(walls)
    res["once_maxrss_kib"] = max(rss)

    d = scale.Daemon(memhpd, tree)
    try:
        d.wait_started()
        time.sleep(0.5)
        res["daemon_before_client"] = vm_status(d.pid)
        sock = os.path.join(tree, "run/memhpd/bus")
        base = [ctl, f"--root={tree}", "--no-pager"]
        # The first status right after start-up, while memhpd still learns boot memory's zones.
        res["status_at_start_s"], _ = timed(base + ["status", "--json"])
        t0 = time.monotonic()
        while True:
            j = json.loads(timed(base + ["status", "--json"])[1])
            if not any(r["state"] == "online" and r["zone"] is None for r in j["memory"]):
                break
            time.sleep(0.2)
        res["zones_learned_after_s"] = time.monotonic() - t0 + 0.5
        for name, args in (("status", ["status"]), ("status_json", ["status", "--json"]),
                           ("status_json_blocks", ["status", "--json", "--blocks"])):
            first, out = timed(base + args)
            times = [timed(base + args)[0] for _ in range(a.runs)]
            res[name] = {"first_s": first, "median_s": statistics.median(times), "max_s": max(times),
                         "bytes": len(out)}
            if name == "status_json":
                j = json.loads(out)
                res[name]["runs"] = len(j["memory"])
        # memhpctl's own start-up: --version neither connects nor reads.
        res["memhpctl_version_median_s"] = statistics.median(timed([ctl, "--version"])[0] for _ in range(a.runs))

        client = hold_client(sock)
        time.sleep(0.5)
        c0, x0 = scale.proc_cpu(d.pid), scale.proc_ctxt(d.pid)
        time.sleep(a.idle)
        c1, x1 = scale.proc_cpu(d.pid), scale.proc_ctxt(d.pid)
        res["idle"] = {"seconds": a.idle, "ctxt_switches": sum(x1) - sum(x0), "cpu_ns": c1[1] - c0[1]}
        res["daemon_with_client"] = vm_status(d.pid)
        client.close()
    finally:
        d.stop()

    if a.baseline_memhpd:
        b = scale.Daemon(os.path.abspath(a.baseline_memhpd), tree)
        try:
            b.wait_started()
            time.sleep(max(2.0, res.get("zones_learned_after_s", 0)))
            res["baseline_daemon"] = vm_status(b.pid)
        finally:
            b.stop()

    with record.Record(a.output, f"Control channel: memhpctl against memhpd at {a.blocks} blocks"):
        kib = lambda k: f"{k} KiB ({k / 1024:.1f} MiB)"  # noqa: E731
        print(f"tree: {a.blocks} blocks of 128 MiB (bench/mkfake.py), memhpd default settings (LockMemory=yes)")
        print(f"baseline memhpd --dry-run --once: {res['once_wall_s'] * 1000:.0f} ms, peak RSS {kib(res['once_maxrss_kib'])}")
        for name in ("status", "status_json", "status_json_blocks"):
            r = res[name]
            print(f"memhpctl {name.replace('_', ' --').replace('--json --blocks', '--json --blocks')}: first "
                  f"{r['first_s'] * 1000:.0f} ms, then median {r['median_s'] * 1000:.1f} ms (max {r['max_s'] * 1000:.1f}), "
                  f"{r['bytes']} bytes" + (f", {r['runs']} runs" if "runs" in r else ""))
        print(f"memhpctl status --json right after start-up: {res['status_at_start_s'] * 1000:.0f} ms; every zone known "
              f"{res['zones_learned_after_s']:.1f} s after start-up")
        print(f"memhpctl --version (process start only): {res['memhpctl_version_median_s'] * 1000:.1f} ms")
        print(f"memhpd VmRSS/VmHWM before any client: {kib(res['daemon_before_client']['VmRSS'])} / "
              f"{kib(res['daemon_before_client']['VmHWM'])}")
        print(f"memhpd VmRSS/VmHWM after the status calls, a client connected: {kib(res['daemon_with_client']['VmRSS'])} / "
              f"{kib(res['daemon_with_client']['VmHWM'])}")
        if "baseline_daemon" in res:
            print(f"baseline daemon ({a.baseline_memhpd}) VmRSS/VmHWM: {kib(res['baseline_daemon']['VmRSS'])} / "
                  f"{kib(res['baseline_daemon']['VmHWM'])}")
        print(f"idle {a.idle:.0f} s with a client connected: {res['idle']['ctxt_switches']} context switches, "
              f"{res['idle']['cpu_ns']} ns CPU")
        if a.json:
            print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
