#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Run every memhpd benchmark, print a table and rewrite bench/RESULTS.md (and bench/results.json).

    python3 bench/run.py            # the full run, both guest kernels (~25 min on 2 cores)
    python3 bench/run.py --quick    # one round, smaller bursts, 10 s idle
    python3 bench/run.py --no-vm    # only the benchmarks without a VM
    python3 bench/run.py --vm-only --kernel 6.12 --rounds 1 --rows dimm4 --output /tmp/b/RESULTS.md

Needs root (network namespaces, netlink multicast, QEMU). Builds nothing but calls .ci/setup when
build/daemon/memhpd is missing; the VM parts use tests/vm's harness and its cache (build/vm-cache).
See bench/README.md.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TREES = "/dev/shm/memhpd-bench"
SIZES = (8192, 131072)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# ---------------------------------------------------------------------------------------------
# machine

def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    try:
        qemu = subprocess.run(["qemu-system-x86_64", "--version"], stdout=subprocess.PIPE,
                              text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        qemu = "none"
    commit = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], stdout=subprocess.PIPE,
                            text=True).stdout.strip()
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem_kib / 1048576, 1),
            "host_kernel": platform.release(), "qemu": qemu, "commit": commit}


def have_strace():
    """strace on the host for the profiling runs: installed with apt-get if missing (as
    tests/vm/setup.sh installs QEMU)."""
    if shutil.which("strace"):
        return True
    log("strace is missing: apt-get install strace (for the profiling runs; --no-strace skips them)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "strace"], env=env,
                   stdout=subprocess.DEVNULL)
    if not shutil.which("strace"):
        log("strace is still missing: the profiling runs are skipped")
        return False
    return True


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# ---------------------------------------------------------------------------------------------
# without a VM

def tree(n):
    """A fake root with n blocks, all online, reused across runs (bench/mkfake.py)."""
    path = os.path.join(TREES, f"tree-{n}")
    mem = os.path.join(path, "sys/devices/system/memory")
    if os.path.isdir(mem) and os.path.exists(os.path.join(mem, f"memory{n - 1}")) and \
            not os.path.exists(os.path.join(mem, f"memory{n}")):
        return path
    shutil.rmtree(path, ignore_errors=True)
    shutil.rmtree(path + ".tmp", ignore_errors=True)
    os.makedirs(TREES, exist_ok=True)
    log(f"building a fake tree of {n} blocks in {path}")
    subprocess.run([sys.executable, os.path.join(HERE, "mkfake.py"), path + ".tmp", str(n)], check=True)
    os.rename(path + ".tmp", path)
    return path


def scale_cmd(what, memhpd, path, *args, netns=False):
    argv = [sys.executable, os.path.join(HERE, "scale.py"), what, "--memhpd", memhpd, "--tree", path, *args]
    if netns:
        argv = ["unshare", "--net", "--mount"] + argv
    r = subprocess.run(argv, stdout=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode})")
    return json.loads(r.stdout)


def bench_scale(memhpd, cfg):
    out = {"scan": {}, "burst": {}}
    for n in SIZES:
        path = tree(n)
        for offline in (0, n // 100):
            log(f"start-up scan: {n} blocks, {offline} offline, {cfg['scan_runs']} runs")
            r = scale_cmd("scan", memhpd, path, "--runs", str(cfg["scan_runs"]), "--offline", str(offline))
            runs = r["runs"]
            out["scan"][f"{n}/{offline}"] = {
                "blocks": n, "offline": offline, "runs": len(runs),
                "wall_s": med(x["wall_s"] for x in runs), "cpu_s": med(x["cpu_s"] for x in runs),
                "maxrss_kib": max(x["maxrss_kib"] for x in runs), "raw": runs}
        if n == SIZES[-1] and out["scan"][f"{n}/0"]["wall_s"] >= 1.0 and shutil.which("strace"):
            # The goal (< 1 s) is missed: profile one more all-online scan (the tree as scale.py left it).
            log(f"start-up scan of {n} blocks took >= 1 s: strace -c -f of one more")
            r = subprocess.run(["strace", "-c", "-f", "-o", "/dev/stderr", memhpd, f"--root={path}", "--once"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            sys.path.insert(0, HERE)
            import vmbench as vb
            out["scan_strace"] = {"blocks": n, "text": r.stderr, "rows": vb.parse_strace_c(r.stderr)}
        log(f"burst: {cfg['burst']} add uevents into a daemon with {n} blocks, {cfg['burst_runs']} runs")
        r = scale_cmd("burst", memhpd, path, "--runs", str(cfg["burst_runs"]), "--blocks", str(cfg["burst"]),
                      netns=True)
        runs = r["runs"]
        out["burst"][str(n)] = {
            "blocks": n, "events": cfg["burst"], "runs": len(runs),
            "events_per_s": med(x["events_per_s"] for x in runs),
            "elapsed_s": med(x["elapsed_s"] for x in runs),
            "cpu_us_per_event": med(x["cpu_ns_per_event"] / 1000 for x in runs),
            "vmhwm_kib": max(x["vmhwm_kib"] for x in runs),
            "lost": sum(x["events_lost_records"] for x in runs), "raw": runs}
    n = SIZES[-1]
    log(f"MetricsFile= render+write with {n} blocks, {cfg['scan_runs'] * 4} runs")
    out["metrics"] = scale_cmd("metrics", memhpd, tree(n), "--runs", str(cfg["scan_runs"] * 4))
    return out


METRICS_TEXT = (
    "MetricsFile=: `python3 bench/scale.py metrics --memhpd build/daemon/memhpd --tree TREE --runs R` builds "
    "bench/metrics-bench.c against the build's libmemhpd-core.a, scans the tree as memhpd does and times "
    "`metrics_write()` (snapshot, render, temp file, rename; median of R, interleaved with the baselines): "
    "`kept_offline_save()`, memhpd's other file rewritten from a walk over every block, and the same bytes "
    "written and renamed without rendering. The first writes also read `valid_zones` of boot blocks "
    "(METRICS_ZONE_READS_MAX = 2048 per write), timed apart.\n")


def bench_idle(memhpd, cfg):
    path = tree(SIZES[-1])
    log(f"idle: {cfg['idle_s']} s with default settings, {SIZES[-1]} blocks")
    return scale_cmd("idle", memhpd, path, "--seconds", str(cfg["idle_s"]), "--default-conf", netns=True)


# ---------------------------------------------------------------------------------------------
# real kernel

def bench_vm(memhpd, cfg, out, save):
    """Fills out (res["vm"]) row by row, calling save() after each, so that an interrupted run
    leaves the rows it finished in RESULTS.md."""
    sys.path.insert(0, HERE)
    import vmbench as vb
    sys.path.insert(0, os.path.join(ROOT, "tests", "vm"))
    import vmlib

    cache = vmlib.cache_dir_default(ROOT)
    for k in cfg["kernels"]:
        vmlib.run_setup(cache, k)
    env = {"memhpd": memhpd, "cache": cache, "tool": vb.guest_tool(cache), "dimm_mem": "2G",
           "timeout": 300, "pressure_timeout": cfg["pressure_timeout"], "udev_root": None}
    notes = []
    try:
        env["udev_root"] = vb.udevd_dir(cache)
        with open(os.path.join(env["udev_root"], "deb-name")) as f:
            notes.append(f"udev agent: systemd-udevd from {f.read().strip()} (unpacked, not installed)")
    except (vb.BenchError, OSError, subprocess.CalledProcessError) as e:
        notes.append(f"udev agent unavailable: {e}")
    agents = [a for a in vb.AGENTS if a != "udev" or env["udev_root"]]
    out.update({"agents": agents, "notes": notes, "kernels": {}, "pressure": {},
                "pressure_kernel": cfg["kernels"][0], "strace": bool(cfg["strace"])})

    def rounds(name, fn, *args, runs):
        res = {a: [] for a in agents}
        for i in range(runs):
            for a in agents:   # interleaved: drift over the run hits every agent alike
                log(f"{env['kernel']} {name}: agent {a}, run {i + 1}/{runs}")
                r = vb.run_guarded(fn, a, *args, env)
                if "error" in r:
                    log(f"  {a}: {r['error']}")
                res[a].append(r)
        return res

    for k in cfg["kernels"]:
        env["kernel"] = k
        kv = out["kernels"][k] = {"kernel": vb.kernel_version(cache, k), "accel": vmlib.choose_accel(cache, k),
                                  "dimm": {}, "virtio_mem": {}}
        for gib in cfg["dimm_gib"]:
            kv["dimm"][str(gib)] = rounds(f"DIMM {gib} GiB", vb.bench_dimm, gib, runs=cfg["vm_runs"])
            save()
        if cfg["virtio_mem"]:
            kv["virtio_mem"]["4"] = rounds("virtio-mem 0->4 GiB", vb.bench_virtio_mem, 4, runs=cfg["vm_runs"])
            save()
        if cfg["strace"]:
            env["strace_bin"] = shutil.which("strace")
            kv["strace"] = {}
            for a in ("takeover", "delegate"):
                log(f"{k} profile: strace -c -f of memhpd ({a}) over a {cfg['strace_gib']} GiB DIMM hot-add")
                r = vb.run_guarded(vb.bench_strace, a, cfg["strace_gib"], env)
                if "error" in r:
                    log(f"  {a}: {r['error']}")
                kv["strace"][a] = r
            env["strace_bin"] = None
            save()
    env["kernel"] = out["pressure_kernel"]
    for left in cfg["hog_left_mib"]:
        out["pressure"][str(left)] = rounds(f"pressure 8 GiB, {left} MiB left", vb.bench_pressure, 8, left,
                                            runs=cfg["pressure_runs"])
        save()
    return out


# ---------------------------------------------------------------------------------------------
# report

def fmt(v, spec=".3f", unit=""):
    return "n/a" if v is None else f"{v:{spec}}{unit}"


def ratio(a, b):
    return a / b if a is not None and b else None


def latency_summary(runs):
    ok = [r for r in runs if r.get("complete") and r.get("latency_s") is not None and "error" not in r]
    return {"n": len(runs), "ok": len(ok), "latency_s": med(r["latency_s"] for r in ok),
            "from_first_add_s": med(r.get("from_first_add_s") for r in ok),
            "errors": [r["error"] for r in runs if "error" in r]}


def paired_ratio(runs_a, runs_b):
    """Median of per-round ratios a/b (round i of a and b ran back to back)."""
    rs = [ra["latency_s"] / rb["latency_s"] for ra, rb in zip(runs_a, runs_b)
          if ra.get("latency_s") and rb.get("latency_s") and "error" not in ra and "error" not in rb]
    return med(rs)


def median_run(runs):
    """The run whose latency is the median (the lower middle one): its profile stands for the agent."""
    ok = sorted((r for r in runs if r.get("complete") and r.get("latency_s") and "error" not in r),
                key=lambda r: r["latency_s"])
    return ok[(len(ok) - 1) // 2] if ok else None


LABEL = {"kernel": "kernel auto-online", "takeover": "memhpd takeover", "delegate": "memhpd delegate",
         "udev": "udev rule"}
# The VM goals (issue 8): memhpd delegate and takeover against the kernel's own auto-online measured
# in the same run, and against the udev rule.
VM_GOALS = (("delegate", "kernel", 1.05, "<="), ("takeover", "kernel", 1.10, "<="),
            ("udev", "delegate", 1.0, ">"), ("udev", "takeover", 1.0, ">"))


def goal_ok(x, limit, op):
    if x is None:
        return False
    return x <= limit if op == "<=" else x > limit


def vm_rows(kv):
    """(row key, row label, blocks, {agent: runs}) for every latency row of one kernel."""
    out = []
    for gib, by_agent in kv["dimm"].items():
        out.append((f"dimm{gib}", f"{gib} GiB DIMM", int(gib) * 8, by_agent))
    for gib, by_agent in kv["virtio_mem"].items():
        out.append((f"virtio_mem{gib}", f"virtio-mem 0->{gib} GiB", int(gib) * 8, by_agent))
    return out


def profile_line(p, run):
    return (f"interrupt {fmt(run.get('irq_s'))} s, adds {p['first_add']:.3f}-{p['last_add']:.3f} s, onlines {p['first_online']:.3f}-"
            f"{p['last_online']:.3f} s, {p['online_before_last_add']} online before the last add, "
            f"{p['tail_ms']:.0f} ms after it, per block add->online {fmt(p['gap_ms_median'], '.1f')} ms, "
            f"online->online {fmt(p['step_ms_median'], '.2f')} ms")


def report_vm(res, cfg, goals):
    """Sections 1-3 and the VM goal table; appends to goals the pressure goal."""
    v = res["vm"]
    agents = v["agents"]
    ratios = res.setdefault("ratios", {})
    gt = ["| kernel | row | " + " | ".join(f"{LABEL[a]} / {LABEL[b]} ({op} {lim:.2f})" for a, b, lim, op in VM_GOALS)
          + " |", "|" + " --- |" * (2 + len(VM_GOALS))]
    limits = []
    t1 = ["## 1. Hot-add latency on both kernels (DIMM via QMP device_add; virtio-mem requested-size)\n",
          "From the guest's CLOCK_MONOTONIC just before QMP `device_add` (DIMM) or `qom-set requested-size` "
          "(virtio-mem) to the last new block's `online` kernel uevent (guest-side timestamps; `guest-tool "
          "uevlog`). \"after first add\" starts at the first block's `add` uevent instead, leaving out ACPI and "
          "the add itself. \"vs kernel\" is the ratio of the medians; \"per round\" the median of the ratios of "
          "runs made back to back.\n",
          "| kernel | row | blocks | agent | runs ok | latency s (median) | after first add s | vs kernel | "
          "per round vs kernel | after first add vs kernel | udev / this |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    tp = ["### Profile: per-block uevent timestamps\n",
          "For each agent, the run with the median latency: when the guest kernel took the interrupt that announces the hot-add (the ACPI SCI of a DIMM, virtio-mem's config-change interrupt; `irq_handler_entry` tracepoint on the same clock): what came before it is the guest shell, the harness and QEMU on the host; the `add` and `online` uevents of its blocks as the "
          "guest's logger stamped them (seconds from the trigger), how many blocks were online before the last "
          "`add`, how long the onlining went on after the last `add`, and the medians over blocks of the gap "
          "from a block's `add` to its `online` and of the interval between consecutive `online`s.\n",
          "| kernel | row | agent | interrupt s | adds s | onlines s | online before last add | after last add ms | "
          "add->online ms | online->online ms | memhpd audited |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    errs = []
    for k, kv in v["kernels"].items():
        for key, label, blocks, by_agent in vm_rows(kv):
            s = {a: latency_summary(r) for a, r in by_agent.items()}
            lat = {a: x["latency_s"] for a, x in s.items()}
            r = {}
            for a, b, lim, op in VM_GOALS:
                r[f"{a}/{b}"] = ratio(lat.get(a), lat.get(b))
                r[f"{a}/{b}_paired"] = paired_ratio(by_agent.get(a, []), by_agent.get(b, []))
                r[f"{a}/{b}_after_first_add"] = ratio(s.get(a, {}).get("from_first_add_s"),
                                                      s.get(b, {}).get("from_first_add_s"))
            ratios.setdefault(k, {})[key] = r
            cells = []
            for a, b, lim, op in VM_GOALS:
                x = r[f"{a}/{b}"]
                ok = goal_ok(x, lim, op)
                cells.append(f"{fmt(x, '.2f')} {'met' if ok else '**missed**'} (per round "
                             f"{fmt(r[f'{a}/{b}_paired'], '.2f')}; after first add {fmt(r[f'{a}/{b}_after_first_add'], '.2f')})")
                if not ok:
                    limits.append((k, key, label, a, b, x, lim, op))
            gt.append(f"| {k} | {label} | " + " | ".join(cells) + " |")
            for a in agents:
                x = s.get(a)
                if not x:
                    continue
                t1.append(f"| {k} | {label} | {blocks} | {LABEL[a]} | {x['ok']}/{x['n']} | {fmt(x['latency_s'])} | "
                          f"{fmt(x['from_first_add_s'])} | {fmt(ratio(x['latency_s'], lat.get('kernel')), '.2f')} | "
                          f"{fmt(paired_ratio(by_agent[a], by_agent.get('kernel', [])), '.2f')} | "
                          f"{fmt(ratio(x['from_first_add_s'], s.get('kernel', {}).get('from_first_add_s')), '.2f')} | "
                          f"{fmt(ratio(lat.get('udev'), x['latency_s']), '.2f')} |")
                m = median_run(by_agent[a])
                p = m.get("profile") if m else None
                if p:
                    tp.append(f"| {k} | {label} | {LABEL[a]} | {fmt(m.get('irq_s'))} | {p['first_add']:.3f}-{p['last_add']:.3f} | "
                              f"{p['first_online']:.3f}-{p['last_online']:.3f} | {p['online_before_last_add']}/{blocks} | "
                              f"{p['tail_ms']:.0f} | {fmt(p['gap_ms_median'], '.1f')} | {fmt(p['step_ms_median'], '.2f')} | " +
                              (f"{m.get('audited', '')}" + (f" ({m['audited_already']} raced)" if m.get("audited_already") else "")
                               if a == "delegate" else "") + " |")
                for e in x["errors"]:
                    errs.append(f"- {k}, {label}, {LABEL[a]}: a run failed and is left out of the medians: {e}")
                plugged = [q.get("plugged_mib") for q in by_agent[a] if q.get("plugged_mib") is not None]
                if key.startswith("virtio") and plugged and min(plugged) < blocks * 128:
                    errs.append(f"- {k}, {label}, {LABEL[a]}: only {min(plugged)} MiB plugged in a run")
    t1 += [""] + errs + [""] + tp + [""]
    ts = []
    for k, kv in v["kernels"].items():
        for a, r in (kv.get("strace") or {}).items():
            if "error" in r and not r.get("strace"):
                ts.append(f"| {k} | {LABEL[a]} | failed: {r['error']} | | | | |")
                continue
            rows = r.get("strace") or []
            n = r.get("blocks") or 1
            total = sum(x["calls"] for x in rows)
            secs = sum(x["seconds"] for x in rows)
            top = sorted(rows, key=lambda x: -x["calls"])[:8]
            slow = sorted(rows, key=lambda x: -x["seconds"])[:3]
            ts.append(f"| {k} | {LABEL[a]} | {fmt(r.get('latency_s'))} | {total} ({total / n:.1f} per block) | "
                      f"{secs * 1000:.1f} | " + ", ".join(
                          f"{x['syscall']} {x['calls'] / n:.1f}" + (f" ({x['errors']} err)" if x["errors"] else "")
                          for x in top) + " | " + ", ".join(
                          f"{x['syscall']} {x['seconds'] * 1000:.1f} ms ({x['calls']} calls, {x['usecs_per_call']} µs each)"
                          for x in slow) + " |")
    if ts:
        gib = cfg.get("strace_gib", 4)
        t1 += ["### Profile: `strace -c -f` of memhpd in the guest\n",
               f"One extra run per kernel and memhpd mode, not counted above: a {gib} GiB DIMM ({gib * 8} blocks) "
               "hot-added while `strace -c -f -p` (the host's strace, copied into the guest with its libraries as "
               "vmlib copies memhpd) is attached to memhpd, from before the trigger until a second after the last "
               "`online`. The traced latency is inflated by ptrace; the counts are what memhpd asks of the "
               "kernel. System time is strace's own measure (seconds in the kernel, summed over calls). Full "
               "tables in results.json.\n",
               "| kernel | mode | latency s (traced) | system calls | system ms | most frequent, calls per block | "
               "most system time |",
               "| --- | --- | --- | --- | --- | --- | --- |"] + ts + [""]

    # What limits each missed goal: the profile of the median runs of the two agents compared.
    lim_lines = []
    for k, key, label, a, b, x, lim, op in limits:
        kv = v["kernels"][k]
        by_agent = dict((rk, ba) for rk, _, _, ba in vm_rows(kv))[key]
        ma, mb = median_run(by_agent.get(a, [])), median_run(by_agent.get(b, []))
        pa, pb = (ma or {}).get("profile"), (mb or {}).get("profile")
        line = f"- {k}, {label}: {LABEL[a]} / {LABEL[b]} = {fmt(x, '.2f')} (goal {op} {lim:.2f})."
        if pa and pb:
            pre = pa["first_add"] - pb["first_add"]
            post = (pa["last_online"] - pa["first_add"]) - (pb["last_online"] - pb["first_add"])
            line += (f" Of the {1000 * (ma['latency_s'] - mb['latency_s']):+.0f} ms between the median runs, "
                     f"{1000 * pre:+.0f} ms came before the first block's `add` uevent (QMP, the guest's ACPI or "
                     f"virtio-mem work and the add itself: no uevent reaches an agent before it) and "
                     f"{1000 * post:+.0f} ms from the first `add` to the last `online`.")
            if abs(pre) > abs(post):
                def firsts(agent):
                    return ", ".join(f"{q['first_add_s']:.3f}" for q in by_agent.get(agent, [])
                                     if q.get("first_add_s") is not None)
                line += (f" The first `add` in each run, seconds from the trigger: {LABEL[a]} {firsts(a)}; "
                         f"{LABEL[b]} {firsts(b)}.")
            line += f" Profile of the median runs: {LABEL[a]}: {profile_line(pa, ma)}; {LABEL[b]}: {profile_line(pb, mb)}."
        for agent in (a, b):
            st = (kv.get("strace") or {}).get(agent)
            if st and st.get("strace"):
                rows = st["strace"]
                n = st.get("blocks") or 1
                slow = sorted(rows, key=lambda x: -x["seconds"])[:2]
                line += (f" strace of memhpd {agent} ({k}, {n} blocks): {sum(x['calls'] for x in rows) / n:.1f} system "
                         f"calls per block, most system time in " + " and ".join(
                             f"{x['syscall']} ({x['calls'] / n:.1f} per block, {x['usecs_per_call']} µs each)"
                             for x in slow) + ".")
        lim_lines.append(line)
    prof = [r["profile"] for kv in v["kernels"].values() for _, _, _, ba in vm_rows(kv)
            for runs in ba.values() for r in runs if r.get("profile")]
    before = sum(1 for p in prof if p.get("uevents_before_first_add"))
    if lim_lines and prof:
        lim_lines.append(f"- In {len(prof) - before} of {len(prof)} latency runs of this run the guest's uevent logger "
                         "saw no uevent of any device between the trigger and the first block's `add`: until then no "
                         "agent has anything to act on, and the time before it is not the agent's work.")
    res["vm_limits"] = lim_lines

    t3 = [f"## 2. Hot-add under memory pressure ({v['pressure_kernel']} only)\n",
          "512 MiB guest; a hog (`guest-tool hog LEFT`) allocates and touches anonymous memory until "
          "MemAvailable is at most LEFT MiB (the 8 GiB DIMM's memmap alone takes 128 MiB of it: at 140 MiB "
          "about 12 MiB stay free after the add, at 100 MiB the add itself cannot fit without the OOM "
          f"killer); then 8 GiB (64 blocks) are hot-added. Timeout {cfg['pressure_timeout']} s.\n",
          "| LEFT MiB | agent | run | hog | all 64 online | online | latency s | agent alive | hog alive | OOM kills (dmesg) |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    pressure_ok = None
    add_failed = []
    for left, by_agent in v["pressure"].items():
        for a, runs in by_agent.items():
            for i, r in enumerate(runs):
                kills = r.get("oom", "")
                kills = "; ".join(l.split("] ", 1)[-1] for l in kills.splitlines() if "Killed process" in l) or "none"
                t3.append(f"| {left} | {LABEL[a]} | {i + 1} | {r.get('hog', 'n/a').replace('hog: ', '')} | "
                          f"{'yes' if r.get('complete') else 'no'} | {r.get('online', 'n/a')} | "
                          f"{fmt(r.get('latency_s'))} | {r.get('alive', 'n/a')} | {r.get('hog_alive', 'n/a')} | "
                          f"{kills} |")
                if "error" in r or r.get("dmesg"):
                    t3.append(f"\n- {left} MiB, {LABEL[a]}: {r.get('error', 'incomplete')}; guest log: "
                              + " / ".join(l.strip() for l in r.get("dmesg", "").splitlines()) + "\n")
                if a in ("takeover", "delegate") and r.get("new_blocks", 1) == 0:
                    add_failed.append(f"{left} MiB ({a})")
                elif a in ("takeover", "delegate"):
                    ok = bool(r.get("complete")) and r.get("alive") is True
                    pressure_ok = ok if pressure_ok is None else (pressure_ok and ok)
    t3.append("")
    if v["pressure"]:
        goals.append(("pressure: every block online, memhpd alive (takeover and delegate)", bool(pressure_ok),
                      ("yes" if pressure_ok else "no") +
                      (f" (not counted: at {', '.join(add_failed)} left the kernel's own add failed, no block "
                       "was created for any agent to online)" if add_failed else "")))
    return gt, lim_lines, t1 + t3


def report(res, cfg, command, started, duration):
    m = res["machine"]
    L = []
    L.append("# memhpd benchmark results\n")
    L.append("Written by `bench/run.py`; every figure below comes from the run described here. "
             "Do not edit by hand: re-run the command.\n")
    L.append(f"- command: `{command}`" + (" (quick mode: fewer runs, smaller sizes)" if cfg["quick"] else ""))
    L.append(f"- date: {started} (took {duration / 60:.1f} min)")
    if not res.get("meta", {}).get("complete", True):
        L.append("- **incomplete**: the run had not finished when this file was written (it was stopped, or "
                 "is still running); every figure below is from the rows it had finished, listed under "
                 "\"this run covers\"")
    L.append(f"- machine: {m['nproc']} CPUs, {m['cpu']}, {m['ram_gib']} GiB RAM, host kernel {m['host_kernel']}")
    if m.get("load"):
        L.append(f"- host load average (1/5/15 min) at the start: {m['load']['start']}, when this file was written: "
                 f"{m['load'].get('end', 'n/a')} (other work shares the CPUs when these exceed about 0.5)")
    L.append(f"- memhpd: {res['memhpd']} at commit {m['commit']}")
    if "vm" in res:
        v = res["vm"]
        for k, kv in v["kernels"].items():
            L.append(f"- guest kernel {k}: Debian {kv['kernel']} under {m['qemu']}, accel {kv['accel']}, 2 vCPUs")
        for n in v["notes"]:
            L.append(f"- {n}")
    L.append(f"- medians over: start-up scan {cfg['scan_runs']} runs, burst {cfg['burst_runs']} runs, "
             f"VM hot-add and virtio-mem {cfg['vm_runs']} runs per agent and kernel (agents interleaved), pressure "
             f"{cfg['pressure_runs']} run(s) per agent, idle 1 run of {cfg['idle_s']} s")
    covered = []
    if "vm" in res and res["vm"].get("kernels") is not None:
        v = res["vm"]
        for k, kv in v["kernels"].items():
            rows = [label for _, label, _, _ in vm_rows(kv)]
            if kv.get("strace"):
                rows.append("strace profile")
            covered.append(f"VM rows on {k}: " + (", ".join(rows) if rows else "none"))
        if v.get("pressure"):
            covered.append(f"pressure on {v['pressure_kernel']} ({', '.join(v['pressure'])} MiB left)")
    else:
        covered.append("no VM rows")
    covered.append("scale and idle: " + ("yes" if "scale" in res else "no"))
    L.append("- this run covers: " + "; ".join(covered))
    L.append("")

    goals = []
    tables = []
    vm_goal_table, vm_limits = [], []
    if "vm" in res:
        vm_goal_table, vm_limits, t = report_vm(res, cfg, goals)
        tables += t

    if "scale" in res:
        sc = res["scale"]
        t = ["## 3. Scale without a VM (fake sysfs trees on tmpfs)\n",
             "Start-up scan: `memhpd --root=TREE --once` (one policy, Zone=movable; with 1% offline it writes "
             "`online_movable` to those blocks' state files); wall time from spawn to exit, CPU "
             "(user+system), peak RSS from /usr/bin/time %M.\n",
             "| blocks | offline | scan wall s | CPU s | CPU µs/block | peak RSS KiB |",
             "| --- | --- | --- | --- | --- | --- |"]
        for k, x in sc["scan"].items():
            t.append(f"| {x['blocks']} | {x['offline']} | {fmt(x['wall_s'])} | {fmt(x['cpu_s'])} | "
                     f"{fmt(x['cpu_s'] * 1e6 / x['blocks'], '.2f')} | {x['maxrss_kib']} |")
        s_small = sc["scan"][f"{SIZES[0]}/0"]
        s_big = sc["scan"][f"{SIZES[1]}/0"]
        scan_ratio = ratio(s_big["cpu_s"] / SIZES[1], s_small["cpu_s"] / SIZES[0])
        t.append(f"\nScan CPU per block, {SIZES[1]} vs {SIZES[0]} blocks: **{fmt(scan_ratio, '.2f')}x**.\n")
        t += ["Burst: the daemon runs (`EventSource=udev`, `LockMemory=no`) inside `unshare --net --mount` "
              "on the tree; the new blocks' directories are made first, then one `add` uevent per block is "
              "multicast on netlink (tests/integration/fakesys.py); time until every new block's state "
              "file says `online_movable`. CPU = the daemon's on-CPU time (/proc/PID/schedstat) over the burst.\n",
              "| blocks in tree | events | events/s | elapsed s | CPU µs/event | daemon VmHWM KiB | events-lost records |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
        for k, x in sc["burst"].items():
            t.append(f"| {x['blocks']} | {x['events']} | {fmt(x['events_per_s'], '.0f')} | {fmt(x['elapsed_s'])} | "
                     f"{fmt(x['cpu_us_per_event'], '.1f')} | {x['vmhwm_kib']} | {x['lost']} |")
        b_small, b_big = sc["burst"][str(SIZES[0])], sc["burst"][str(SIZES[1])]
        burst_ratio = ratio(b_big["cpu_us_per_event"], b_small["cpu_us_per_event"])
        t.append(f"\nCPU per event with {SIZES[1]} vs {SIZES[0]} blocks in the tree: **{fmt(burst_ratio, '.2f')}x** "
                 "(1.0 = per-event work does not grow with the number of blocks).\n")
        if "metrics" in sc:
            x = sc["metrics"]
            t += [METRICS_TEXT,
                  "| blocks | file bytes | render+write ms | baseline: kept-offline save ms | baseline: same bytes "
                  "written+renamed ms | first writes (zone reads) | their max ms | their total ms |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |",
                  f"| {x['blocks']} | {x['bytes']} | {fmt(x['write_ms'])} | {fmt(x['kept_offline_save_ms'])} | "
                  f"{fmt(x['io_floor_ms'])} | {x['zone_writes']} | {fmt(x['zone_write_max_ms'], '.1f')} | "
                  f"{fmt(x['zone_writes_total_ms'], '.0f')} |", ""]
        tables += t
        res["ratios_scale"] = {"scan_cpu_per_block": scan_ratio, "burst_cpu_per_event": burst_ratio}
        worst_scan = max(sc["scan"][f"{SIZES[1]}/{o}"]["wall_s"] for o in (0, SIZES[1] // 100))
        goals.append((f"{SIZES[1]}-block start-up scan < 1 s", worst_scan < 1.0, f"{worst_scan:.3f} s (slower of all-online and 1% offline)"))
        st = sc.get("scan_strace")
        if st and st.get("rows"):
            n = st["blocks"]
            rows = st["rows"]
            slow = sorted(rows, key=lambda x: -x["seconds"])[:4]
            res["scan_limits"] = [
                f"- {n}-block start-up scan: `strace -c -f memhpd --root=TREE --once` of one more all-online scan: "
                f"{sum(x['calls'] for x in rows) / n:.2f} system calls per block, "
                + ", ".join(f"{x['syscall']} {x['calls'] / n:.2f} per block ({x['seconds'] * 1000:.0f} ms, "
                            f"{x['usecs_per_call']} µs each)" for x in slow)
                + f"; {sum(x['seconds'] for x in rows):.3f} s of system time in all (strace's own measure) against "
                f"{sc['scan'][f'{n}/0']['cpu_s']:.3f} s CPU of an untraced scan: the scan's time is one open, read "
                "and close of a block's state file per block (the fake tree is on tmpfs), in the host kernel."]
        rss = max(max(sc["scan"][f"{SIZES[1]}/{o}"]["maxrss_kib"] for o in (0, SIZES[1] // 100)),
                  b_big["vmhwm_kib"], res.get("idle", {}).get("vmhwm_kib", 0))
        goals.append((f"peak RSS < 8 MiB at {SIZES[1]} blocks", rss < 8192,
                      f"{rss} KiB ({rss / 1024:.1f} MiB; max of the --once scans, the daemon's VmHWM after the "
                      "burst, and the idle daemon's VmHWM with default settings, i.e. LockMemory=yes)"))
        goals.append(("per-event cost independent of block count (burst CPU/event ratio <= 1.25)",
                      burst_ratio is not None and burst_ratio <= 1.25, fmt(burst_ratio, ".2f")))

    if "idle" in res:
        x = res["idle"]
        wake = x["voluntary"] + x["involuntary"]
        tables += ["## 4. Idle cost\n",
                   f"The daemon with no settings file (all defaults: EventSource=kernel, LockMemory=yes) on the "
                   f"{x['blocks']}-block tree, in a private network namespace, {x['seconds']:.0f} s after start-up "
                   "settled; deltas from /proc/PID/status, /proc/PID/stat and /proc/PID/schedstat.\n",
                   "| seconds | voluntary ctx switches | involuntary | CPU ticks | on-CPU ns | times scheduled | VmHWM KiB |",
                   "| --- | --- | --- | --- | --- | --- | --- |",
                   f"| {x['seconds']:.0f} | {x['voluntary']} | {x['involuntary']} | {x['cpu_ticks']} | {x['cpu_ns']} | "
                   f"{x['runs_on_cpu']} | {x['vmhwm_kib']} |", ""]
        goals.append(("zero idle wakeups", wake == 0, f"{wake} context switches, {x['cpu_ns']} ns CPU in {x['seconds']:.0f} s"))

    L.append("## Goals (issues 4 and 8)\n")
    if vm_goal_table:
        L.append("Hot-add latency, memhpd against the kernel's own auto-online and the udev rule measured in the "
                 "same run: the ratio of the median latencies from the trigger to the last block's `online`, which "
                 "the goal is judged on; in parentheses the median of the per-round ratios and the ratio of the "
                 "medians from the first block's `add` (section 1):\n")
        L += vm_goal_table
        L.append("")
    if goals:
        L.append("| goal | met | figure |")
        L.append("| --- | --- | --- |")
        for g, ok, fig in goals:
            L.append(f"| {g} | {'met' if ok else '**missed**'} | {fig} |")
        L.append("")
    if res.get("scan_limits"):
        vm_limits = vm_limits + res["scan_limits"]
    if vm_limits:
        L.append("Where a goal is missed, what limits it, from a profile: for the latency rows the per-block "
                 "uevent timestamps of the median runs (section 1) and `strace -c -f` of memhpd in the guest "
                 "(section 1's last table), for the start-up scan `strace -c -f` of one more scan:\n")
        L += vm_limits
        L.append("")
    L += LIMITS_NOTE
    L.append("")
    L += tables
    L += OTHER_NOTE
    L += METHOD_NOTE
    return "\n".join(L) + "\n"


LIMITS_NOTE = [
    "How to read the figures:",
    "- Under TCG the guest's times are inflated several-fold; ratios between agents measured in the same run "
    "are what count, and they still carry run-to-run noise (compare the per-round ratios).",
    "- The latency starts in the guest shell (`guest-tool now`) before the host sends the QMP command: the "
    "shell's answer over the serial port, the harness and QEMU's handling of the command are in every agent's "
    "figure, the same work whichever agent runs, but as noisy as the host is busy (results.json: "
    "`host_clock_rtt_s`, the host's round trip for that shell command, per run). \"after first add\" leaves "
    "them out; the profile's \"adds s\" column shows how much of each latency passed before the first block "
    "existed.",
    "- The kernel's auto-online happens inside the add: a block's `online` uevent follows its `add` with no "
    "userspace step. memhpd takeover and the udev rule online only after the `add` uevent reached them, one "
    "`state` write per block; memhpd delegate leaves the onlining to the kernel and only audits it, so the "
    "kernel work is that of the kernel row, and what memhpd does per block (the strace table) runs beside it "
    "on the guest's 2 vCPUs.",
    "- Burst CPU per event, 131072 vs 8192 blocks in the tree: memhpd's per-event work is O(1) (the block "
    "array is indexed by block number, nothing on the event path walks the blocks), so this ratio measures "
    "the file system; medians of 5 runs of about 25-35 µs per event land on either side of 1.0 from run to "
    "run, and a ratio above 1.25 in one run is that noise, not growth.",
    "- Peak RSS at 131072 blocks comes from the idle daemon with LockMemory=yes (mlockall faults in every "
    "mapping); the --once scan and the LockMemory=no daemon stay near 4-5 MiB.",
]

OTHER_NOTE = [
    "## Other benchmarks\n",
    "Each writes its own file, with the command that made it, the date and the host load; run it again rather "
    "than edit it:\n",
    "| figures | file | command |",
    "| --- | --- | --- |",
    "| control channel at 131072 blocks: `memhpctl status` time, memhpd RSS with a client, idle wake-ups "
    "(issue 11) | [CTL.md](CTL.md) | `unshare --net --mount python3 bench/ctl.py --memhpd build/daemon/memhpd` |",
    "| MetricsFile= render and write at 131072 blocks, against rewriting memhpd's other state file (issue 11) "
    "| [METRICS.md](METRICS.md) | `python3 bench/scale.py metrics --memhpd build/daemon/memhpd --tree "
    "/dev/shm/memhpd-bench/tree-131072 --runs 20 --output bench/METRICS.md` |",
    "| drain throughput against `chmem -d`, both kernels (issue 9) | [DRAIN.md](DRAIN.md) | "
    "`python3 bench/drain.py --kernel all --rounds 5` |",
    "| hard poison to the block offline, 4 GiB movable workload, both kernels (issue 9) | [POISON.md](POISON.md) | "
    "`python3 bench/poison-offline.py` |",
    "| pressure-aware `Zone=auto` against the kernel's auto-movable policy (ratio 301%): tmpfs small files "
    "(slab) after a 4 GiB hot-add into a 512 MiB guest, files created and OOM kills, both kernels (issue 10) | "
    "[ZONE-SLAB.md](ZONE-SLAB.md) | `python3 bench/zone-slab.py --kernel all` |",
    "| PSI breach to the first reserve block online (issue 10) | [RESULTS-pressure.md](RESULTS-pressure.md) | "
    "`unshare --net --mount python3 bench/pressure.py --memhpd build/daemon/memhpd --rounds 20` |",
    "",
]

METHOD_NOTE = [
    "## How it is measured\n",
    "- `bench/scale.py` (no VM): trees from `bench/mkfake.py` in /dev/shm, reused across runs and removed at the "
    "end; uevents injected with `tests/integration/fakesys.py` (`UeventSender`, `FakeKernel`).",
    "- `bench/vmbench.py` (VM): `tests/vm/vmlib.py`'s VM on the kernel named (tests/vm's 6.1 and 6.12), "
    "subclassed to append one more initramfs archive (`bench/guest-tool.c`, built statically into the VM "
    "cache; udevd for the udev agent; strace for the profiling runs) and to give the DIMM guests 2 GiB of boot "
    "memory (the memmap of 16 GiB takes 256 MiB). One fresh guest per agent and run, agents interleaved round "
    "by round. Every agent onlines into ZONE_MOVABLE: kernel auto-online = `auto_online_blocks=online_movable`; "
    "memhpd takeover = defaults (`KernelAutoOnline=takeover`) plus a `Device=any`, `Zone=movable` policy; "
    "memhpd delegate = the same with `KernelAutoOnline=delegate` (checked in each run: memhpd programmed "
    "`auto_online_blocks=online_movable` and audited every block as onlined by the kernel on its behalf); "
    "udev rule = Debian 12's `systemd-udevd --daemon` with only the rule `SUBSYSTEM==\"memory\", "
    "ACTION==\"add\", ATTR{state}==\"offline\", ATTR{state}=\"online_movable\"` and "
    "`auto_online_blocks=offline`.",
    "- Raw per-run figures (with each run's per-block profile and the full strace tables): `bench/results.json`.",
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer runs and smaller sizes, for development")
    ap.add_argument("--no-vm", action="store_true", help="skip the real-kernel benchmarks")
    ap.add_argument("--vm-only", action="store_true", help="only the real-kernel benchmarks")
    ap.add_argument("--kernel", choices=("6.1", "6.12", "all"), default="all",
                    help="the guest kernel(s) of the VM latency rows (default all: 6.1 and 6.12); pressure "
                         "runs on the first")
    ap.add_argument("--rounds", type=int, metavar="N",
                    help="VM latency rounds (every agent once per round, interleaved); default 3, --quick 1")
    ap.add_argument("--rows", default="dimm4,dimm16,virtio-mem,pressure", metavar="LIST",
                    help="the VM rows to run, comma-separated from dimm4, dimm16, virtio-mem, pressure "
                         "(default all)")
    ap.add_argument("--no-strace", action="store_true",
                    help="skip the profiling runs (strace -c -f of memhpd in the guest over a 4 GiB DIMM, per "
                         "kernel and memhpd mode; not counted in the latency figures)")
    ap.add_argument("--memhpd", default=os.path.join(ROOT, "build", "daemon", "memhpd"))
    ap.add_argument("--keep-trees", action="store_true", help=f"keep the fake trees in {TREES}")
    ap.add_argument("--output", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--report-only", action="store_true",
                    help="re-render RESULTS.md from the results.json beside it (no benchmark runs)")
    a = ap.parse_args()
    if a.report_only:
        with open(os.path.join(os.path.dirname(a.output), "results.json")) as f:
            res = json.load(f)
        meta = res["meta"]
        text = report(res, res["config"], meta["command"], meta["started"], meta["duration_s"])
        with open(a.output, "w") as f:
            f.write(text)
        print(text)
        return
    command = "python3 bench/run.py" + "".join(f" {x}" for x in sys.argv[1:])

    if os.getuid() != 0:
        sys.exit("bench/run.py needs root (network namespaces, netlink multicast, QEMU set-up)")
    memhpd = os.path.abspath(a.memhpd)
    if not os.access(memhpd, os.X_OK) and memhpd == os.path.join(ROOT, "build", "daemon", "memhpd"):
        # A fresh clone (or a build/ that holds only the VM cache): build as .ci/setup does.
        log(f"{os.path.relpath(memhpd, ROOT)} is missing: running .ci/setup")
        subprocess.run([os.path.join(ROOT, ".ci", "setup")], cwd=ROOT, check=True)
    if not os.access(memhpd, os.X_OK):
        sys.exit(f"no memhpd binary at {memhpd}")

    rows = [x for x in a.rows.split(",") if x]
    bad = [x for x in rows if x not in ("dimm4", "dimm16", "virtio-mem", "pressure")]
    if bad:
        sys.exit(f"--rows: unknown {', '.join(bad)} (dimm4, dimm16, virtio-mem, pressure)")
    if a.rounds is not None and a.rounds < 1:
        sys.exit("--rounds must be at least 1")
    cfg = {"quick": a.quick,
           "scan_runs": 3 if a.quick else 7, "burst_runs": 2 if a.quick else 5,
           "burst": 2048 if a.quick else 8192, "idle_s": 10 if a.quick else 60,
           "vm_runs": a.rounds or (1 if a.quick else 3), "pressure_runs": 1,
           "kernels": ["6.1", "6.12"] if a.kernel == "all" else [a.kernel],
           "dimm_gib": [g for g in (4, 16) if f"dimm{g}" in rows], "virtio_mem": "virtio-mem" in rows,
           "hog_left_mib": ([] if "pressure" not in rows else (140,) if a.quick else (140, 100)),
           "pressure_timeout": 60 if a.quick else 120,
           "strace": not a.no_strace and not a.no_vm and have_strace(), "strace_gib": 4}

    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    t0 = time.monotonic()
    res = {"machine": machine(), "memhpd": os.path.relpath(memhpd, ROOT), "config": cfg}
    res["machine"]["load"] = {"start": loadavg()}
    res["meta"] = {"command": command, "started": started, "duration_s": 0, "complete": False}

    def save(final=False):
        """(Re)write RESULTS.md and results.json with what has run so far."""
        res["meta"]["duration_s"] = time.monotonic() - t0
        res["meta"]["complete"] = final
        res["machine"]["load"]["end"] = loadavg()
        text = report(res, cfg, command, started, res["meta"]["duration_s"])
        os.makedirs(os.path.dirname(os.path.abspath(a.output)), exist_ok=True)
        with open(a.output + ".tmp", "w") as f:
            f.write(text)
        os.rename(a.output + ".tmp", a.output)
        js = os.path.join(os.path.dirname(a.output), "results.json")
        with open(js + ".tmp", "w") as f:
            json.dump(res, f, indent=1, default=str)
            f.write("\n")
        os.rename(js + ".tmp", js)
        return text

    # The VM rows first: they take most of the time, and the goals of issue 8 are theirs.
    if not a.no_vm:
        res["vm"] = {}
        bench_vm(memhpd, cfg, res["vm"], save)
    try:
        if not a.vm_only:
            res["scale"] = bench_scale(memhpd, cfg)
            res["idle"] = bench_idle(memhpd, cfg)
    finally:
        if not a.keep_trees:
            shutil.rmtree(TREES, ignore_errors=True)
    duration = time.monotonic() - t0
    text = save(final=True)
    print(text)
    log(f"wrote {a.output} in {duration / 60:.1f} min")


if __name__ == "__main__":
    main()
