#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Pressure-aware Zone=auto against the kernel's auto-movable policy, under a kernel-memory workload.

    python3 bench/zone-slab.py [--kernel 6.1|6.12|all] [--memhpd build/daemon/memhpd]   -> bench/ZONE-SLAB.md

Issue 10: a small guest (--mem, 512 MiB) hot-adds a large DIMM (--dimm, 4 GiB); the memmap of the
hot-add comes from kernel memory. Then tests/vm/guest/slab-files.c creates empty files on a tmpfs (each one a
dentry and an inode: unmovable slab, only kernel zones can hold it) until creation fails, the OOM killer
stops it, or --seconds pass. Two agents, each in a fresh guest:

  memhpd  a policy [Match] Device=acpi-dimm / [Online] Zone=auto MaxMovableRatio=301% (takeover: memhpd
          onlines every block, kernel zone when the node's kernel zones are short, daemon/pressure.c;
          later moves Zone=auto blocks to a kernel zone when the kernel zones run out,
          daemon/rebalance.c), with oom_score_adj -1000 as units/memhpd.service sets it;
  kernel  no memhpd: auto_online_blocks=online, memory_hotplug.online_policy=auto-movable,
          auto_movable_ratio=301, set before the hot-add.

Printed per agent: the DIMM's blocks in Movable and Normal, the kernel zones' free pages against their
high watermark after the hot-add, files created, how the helper ended, OOM killer runs (from the kernel
console), MemFree/Slab at the end. TCG, 2 vCPUs."""
import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "vm"))
from vmlib import VM, Scenario, GiB, MiB, VMError  # noqa: E402
sys.path.insert(0, HERE)
import record  # noqa: E402

POLICY = "[Match]\nDevice=acpi-dimm\n\n[Online]\nZone=auto\nMaxMovableRatio=301%\n"
MHP = "/sys/module/memory_hotplug/parameters"
AOB = "/sys/devices/system/memory/auto_online_blocks"
KERNEL_ZONES = ("DMA", "DMA32", "Normal")


def helper(cache):
    """tests/vm/guest/slab-files.c built static for the busybox guest, cached beside the kernels."""
    src = os.path.join(SRC, "tests", "vm", "guest", "slab-files.c")
    out = os.path.join(cache, "bench", "slab-files")
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
        os.makedirs(os.path.dirname(out), exist_ok=True)
        subprocess.run(["cc", "-static", "-O2", "-Wall", "-o", out + ".tmp", src], check=True)
        os.rename(out + ".tmp", out)
    return out


def zoneinfo(text):
    """{(node, zone): {'free':, 'high':, 'present':}} in pages."""
    res, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"Node (\d+), zone\s+(\S+)", line)
        if m:
            cur = res.setdefault((int(m.group(1)), m.group(2)), {})
            continue
        f = line.split()
        if cur is not None and len(f) == 2 and f[0] in ("high", "present") and f[1].isdigit():
            cur[f[0]] = int(f[1])
        elif cur is not None and len(f) == 3 and f[:2] == ["pages", "free"]:
            cur["free"] = int(f[2])
    return res


def kernel_zone_figures(vm, present=False):
    """(free MiB, high watermark MiB) of the kernel zones, (free MiB) of Movable, all nodes; with present,
    the MiB present in the kernel zones instead."""
    z = zoneinfo(vm.out("cat /proc/zoneinfo"))
    pg = 4096
    if present:
        return sum(v.get("present", 0) for (n, name), v in z.items() if name in KERNEL_ZONES) * pg / MiB
    kf = sum(v.get("free", 0) for (n, name), v in z.items() if name in KERNEL_ZONES) * pg / MiB
    kh = sum(v.get("high", 0) for (n, name), v in z.items() if name in KERNEL_ZONES) * pg / MiB
    mf = sum(v.get("free", 0) for (n, name), v in z.items() if name == "Movable") * pg / MiB
    return kf, kh, mf


def meminfo(vm):
    out = vm.out("cat /proc/meminfo")
    return {f[0].rstrip(":"): int(f[1]) for f in (line.split() for line in out.splitlines()) if len(f) >= 2}


def console_oom(vm):
    """(OOM killer runs, the names of the processes it killed) from the guest's kernel console."""
    text = vm.console()
    runs = len(re.findall(r"invoked oom-killer", text))
    killed = re.findall(r"Out of memory: Killed process \d+ \(([^)]*)\)", text)
    return runs, killed


def one(kernel, agent, args, slab):
    scn = Scenario(autostart=False, presets=False, policies={"10-auto.policy": POLICY} if agent == "memhpd" else {},
                   files={"/usr/bin/slab-files": slab})
    vm = VM(scn, os.path.abspath(args.memhpd), SRC, args.cache, kernel=kernel, mem=args.mem)
    r = {"agent": agent}
    vm.start()
    try:
        if agent == "memhpd":
            # rebalance.c's tracepoints: the guest's init does not mount tracefs.
            vm.out("mount -t tracefs nodev /sys/kernel/tracing")
            vm.start_memhpd()
            vm.wait_started()
            # As units/memhpd.service does (OOMScoreAdjust=-1000): the guest has no systemd.
            vm.out("echo -1000 > /proc/$(cat /run/memhpd.pid)/oom_score_adj")
        else:
            vm.out(f"echo auto-movable > {MHP}/online_policy && echo 301 > {MHP}/auto_movable_ratio && "
                   f"echo online > {AOB}")
        r["knobs"] = " ".join(vm.out(f"cat {AOB} {MHP}/online_policy {MHP}/auto_movable_ratio").split())
        bs = vm.block_size()
        r["kpresent0"] = kernel_zone_figures(vm, present=True)
        t0 = time.monotonic()
        first = vm.add_dimm("d1", args.dimm * GiB, node=0) // bs
        idx = list(range(first, first + args.dimm * GiB // bs))
        blocks = vm.wait_blocks(lambda b: all(i in b and b[i]["state"] == "online" for i in idx), 600,
                                "the DIMM online")
        r["online_s"] = time.monotonic() - t0
        zones = [" ".join(blocks[i]["zones"]) for i in idx]
        r["movable"] = sum(z == "Movable" for z in zones)
        r["kernel"] = sum(z in ("Normal", "DMA32") for z in zones)
        r["blocks"] = len(idx)
        if agent == "memhpd":
            recs = [x for x in vm.audit() if x.get("event") == "onlined"]
            r["by_watermark"] = sum("below their high watermark" in x["_line"] for x in recs)
            r["by_ratio"] = sum("kernel keeps MOVABLE:KERNEL" in x["_line"] for x in recs)
        r["kfree0"], r["khigh0"], r["mfree0"] = kernel_zone_figures(vm)
        m0 = meminfo(vm)
        r["memfree0"], r["slab0"] = m0["MemFree"] / 1024, m0["Slab"] / 1024

        vm.out("mkdir -p /w && mount -t tmpfs -o size=64M,nr_inodes=0 tmpfs /w")
        vm.out("(echo 1000 > /proc/self/oom_score_adj; exec slab-files /w %d) > /tmp/slab.out 2>&1 &"
               % args.seconds)
        deadline = time.monotonic() + args.seconds + 120
        last, r["end"], r["shell"] = "", None, "answers"
        while time.monotonic() < deadline:
            time.sleep(5)
            try:
                rc, out = vm.sh("tail -n1 /tmp/slab.out; pidof slab-files >/dev/null && echo running || echo gone",
                                timeout=60)
            except (VMError, OSError) as e:
                r["shell"] = f"no answer ({e.__class__.__name__})"
                r["end"] = "unknown: the guest shell stopped answering (files: the last count it read)"
                break
            lines = out.strip().splitlines()
            if len(lines) >= 1 and lines[0].startswith(("count", "done")):
                last = lines[0]
            if last.startswith("done"):
                r["end"] = last.split()[3] if len(last.split()) > 3 else "?"
                break
            if lines and lines[-1] == "gone":
                r["end"] = "killed"
                break
        else:
            r["end"] = "still running at the harness deadline"
        f = last.split()
        r["files"] = int(f[1]) if len(f) > 1 and f[1].isdigit() else 0
        r["elapsed"] = float(f[3] if f and f[0] == "count" else f[2]) if len(f) > 2 else 0.0
        r["oom_runs"], r["oom_killed"] = console_oom(vm)
        if r["shell"] == "answers":
            m = meminfo(vm)
            r["memfree"], r["slab"] = m["MemFree"] / 1024, m["Slab"] / 1024
            r["sreclaim"], r["sunreclaim"] = m["SReclaimable"] / 1024, m["SUnreclaim"] / 1024
            r["kfree"], r["khigh"], r["mfree"] = kernel_zone_figures(vm)
            r["memhpd_alive"] = vm.memhpd_pid() is not None if agent == "memhpd" else None
            end = vm.blocks()
            zones = [" ".join(end[i]["zones"]) for i in idx if i in end]
            r["movable_end"] = sum(z == "Movable" for z in zones)
            r["kernel_end"] = sum(z in ("Normal", "DMA32") for z in zones)
        if agent == "memhpd":
            r["moved"] = sum(1 for x in vm.audit() if x.get("event") == "rebalance")
    finally:
        vm.stop()
    return r


def fmt(v, spec="{:.0f}"):
    return "-" if v is None else spec.format(v)


def report(kernel, rs, args):
    print(f"\n## {kernel}\n")
    rows = [
        ("knobs (auto_online_blocks, online_policy, ratio)", lambda r: r["knobs"]),
        (f"DIMM blocks movable / kernel (of {rs[0]['blocks']})", lambda r: f"{r['movable']} / {r['kernel']}"),
        ("memhpd kernel-zone decisions: ratio / watermark",
         lambda r: f"{r['by_ratio']} / {r['by_watermark']}" if "by_ratio" in r else "-"),
        ("hot-add to all online, s", lambda r: f"{r['online_s']:.1f}"),
        ("memhpd: blocks moved to a kernel zone during the run", lambda r: str(r["moved"]) if "moved" in r else "-"),
        ("end: DIMM blocks movable / kernel", lambda r: f"{r['movable_end']} / {r['kernel_end']}"
         if "movable_end" in r else "-"),
        ("after the hot-add: kernel zones free / high, MiB",
         lambda r: f"{r['kfree0']:.0f} / {r['khigh0']:.1f}"),
        ("after the hot-add: Movable free, MiB", lambda r: fmt(r["mfree0"])),
        ("after the hot-add: MemFree / Slab, MiB", lambda r: f"{r['memfree0']:.0f} / {r['slab0']:.0f}"),
        ("files created", lambda r: str(r["files"]) if r["shell"] == "answers" else f"at least {r['files']}"),
        ("in s", lambda r: f"{r['elapsed']:.1f}"),
        ("files/s", lambda r: f"{r['files'] / r['elapsed']:.0f}" if r["elapsed"] else "-"),
        ("how the helper ended", lambda r: r["end"] or "?"),
        ("guest shell at the end", lambda r: r["shell"]),
        ("OOM killer runs (console)", lambda r: str(r["oom_runs"])),
        ("processes it killed", lambda r: ", ".join(r["oom_killed"]) or "none"),
        ("end: MemFree / Slab, MiB", lambda r: f"{fmt(r.get('memfree'))} / {fmt(r.get('slab'))}"),
        ("end: SReclaimable / SUnreclaim, MiB",
         lambda r: f"{fmt(r.get('sreclaim'))} / {fmt(r.get('sunreclaim'))}"),
        ("end: kernel zones free / high, MiB", lambda r: f"{fmt(r.get('kfree'))} / {fmt(r.get('khigh'), '{:.1f}')}"),
        ("end: Movable free, MiB", lambda r: fmt(r.get("mfree"))),
        ("memhpd still running", lambda r: "-" if r.get("memhpd_alive") is None else
         ("yes" if r["memhpd_alive"] else "no")),
    ]
    names = {"memhpd": "memhpd Zone=auto 301%", "kernel": "kernel auto-movable 301%"}
    print("| | " + " | ".join(names[r["agent"]] for r in rs) + " |")
    print("| --- |" + " --- |" * len(rs))
    for label, get in rows:
        print(f"| {label} | " + " | ".join(get(r) for r in rs) + " |")
    print()
    interpret(kernel, {r["agent"]: r for r in rs}, args)


def interpret(kernel, by, args):
    a, b = by["memhpd"], by["kernel"]
    oom = {k: (r["oom_runs"] > 0 or r["end"] == "killed" or r["shell"] != "answers") for k, r in by.items()}
    say = []
    if a["files"] == b["files"]:
        say.append(f"both created {a['files']} files")
    else:
        more, less = (a, b) if a["files"] > b["files"] else (b, a)
        say.append(f"{'memhpd' if more is a else 'the kernel'} created more files: {more['files']} against "
                   f"{less['files']} ({(more['files'] - less['files']) / max(less['files'], 1) * 100:.0f}% more)")
    if not any(oom.values()):
        say.append(f"neither guest ran the OOM killer; both helpers ended by "
                   f"{' and '.join(sorted({a['end'], b['end']}))}")
    else:
        for k, r in by.items():
            if oom[k]:
                say.append(f"{'memhpd' if k == 'memhpd' else 'the kernel alone'}: OOM killer ran {r['oom_runs']} "
                           f"time(s), killed {', '.join(r['oom_killed']) or 'nothing'}, helper ended by {r['end']}")
            else:
                say.append(f"{'memhpd' if k == 'memhpd' else 'the kernel alone'}: no OOM, helper ended by {r['end']}")
    bmib = args.dimm * 1024 // a["blocks"]
    if (a["movable"], a["kernel"]) == (b["movable"], b["kernel"]):
        layout = (f"both put the DIMM into the same zones ({a['movable']} movable, {a['kernel']} kernel blocks)")
    else:
        layout = (f"memhpd put {a['kernel']} of the DIMM's {a['blocks']} blocks into a kernel zone "
                  f"({a['kernel'] * bmib} MiB), the kernel {b['kernel']} ({b['kernel'] * bmib} MiB)")
        if b["movable"] == 0 and a["movable"] > 0 and not a.get("moved"):
            layout += (f": the kernel's auto-movable policy onlines a DIMM (one static memory group) movable "
                       f"only if all of it fits the ratio, and {args.dimm * 1024} MiB is more than 301% of the "
                       f"{b['kpresent0']:.0f} MiB of kernel zones before the hot-add, so the whole DIMM went "
                       f"kernel; memhpd decides block by block and took movable up to the ratio "
                       f"({a['movable'] * bmib} MiB movable against {a['kpresent0'] + a['kernel'] * bmib:.0f} "
                       f"MiB kernel)")
    why = ""
    if a.get("moved"):
        why = (f"; memhpd moved {a['moved']} of the DIMM's movable blocks to a kernel zone while the files "
               f"were created (rebalance records), as the kernel zones ran out")
    elif a.get("by_watermark", 0) == 0:
        why = (f"; memhpd's watermark check never decided a block and no block was moved: after the hot-add the kernel zones had "
               f"{a['kfree0']:.0f} MiB free against a high watermark of {a['khigh0']:.1f} MiB (+25%), far from "
               f"short, so the ratio alone decided (the slab workload starts only after "
               f"the onlining; Zone=auto decides at online time)")
    else:
        why = f"; {a['by_watermark']} block(s) went kernel because the kernel zones were short"
    if oom["memhpd"] and a.get("moved"):
        if a["moved"] >= a["blocks"]:
            why += (f"; memhpd's OOM came only after it had moved all {a['blocks']} of the DIMM's blocks to a kernel "
                    f"zone: the slab had used up the guest's memory")
        else:
            why += (f"; memhpd's OOM came only after it had moved {a['moved']} of the DIMM's {a['blocks']} blocks: the "
                    f"slab had used up the guest's memory but for the movable memory left, less than a block free "
                    f"above ZONE_MOVABLE's high watermark + 25%, which a move needs (daemon/rebalance.c)")
    if oom["kernel"] and b["movable"] > 0:
        why += (f"; the kernel alone ran out of kernel memory with {b['mfree0']:.0f} MiB free in ZONE_MOVABLE, which "
                f"slab cannot use")
    for k, r in by.items():
        if "memhpd" in r["oom_killed"]:
            why += f"; the OOM killer also killed memhpd itself (in the {k} guest)"
    print(f"{kernel}: " + "; ".join(say) + "; " + layout + why + ".")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", default="all", choices=("6.1", "6.12", "all"))
    ap.add_argument("--memhpd", default=os.path.join(SRC, "build", "daemon", "memhpd"))
    ap.add_argument("--cache", default=os.path.join(SRC, "build", "vm-cache"))
    ap.add_argument("--mem", default="512M", help="guest boot memory (QEMU -m)")
    ap.add_argument("--dimm", type=int, default=4, help="GiB hot-added")
    ap.add_argument("--seconds", type=int, default=90, help="cap on the file creation")
    ap.add_argument("--agents", default="memhpd,kernel")
    ap.add_argument("--output", default=os.path.join(HERE, "ZONE-SLAB.md"),
                    help="write what is printed, with the command and the host load, here ('' for none)")
    args = ap.parse_args()
    slab = helper(args.cache)
    agents = args.agents.split(",")
    with record.Record(args.output, "Pressure-aware Zone=auto against the kernel's auto-movable policy: "
                                    "small files on tmpfs after a large hot-add (issue 10)"):
        print(f"A {args.mem} guest (TCG, 2 vCPUs) hot-adds a {args.dimm} GiB pc-dimm on node 0, then "
              f"tests/vm/guest/slab-files.c creates empty files on a tmpfs (a dentry and an inode each: unmovable slab) "
              f"for at most {args.seconds} s, until creation fails or the OOM killer stops it (the helper's "
              "oom_score_adj is 1000). Each agent in a fresh guest: memhpd with [Match] Device=acpi-dimm, "
              "[Online] Zone=auto MaxMovableRatio=301% (takeover; oom_score_adj -1000, as its unit's "
              "OOMScoreAdjust= sets), and the kernel alone with "
              "auto_online_blocks=online, online_policy=auto-movable, auto_movable_ratio=301 set before the "
              "hot-add. OOM killer runs are counted on the kernel console.")
        for k in (("6.1", "6.12") if args.kernel == "all" else (args.kernel,)):
            rs = [one(k, agent, args, slab) for agent in agents]
            if len(rs) == 2:
                report(k, rs, args)
            else:
                print(rs)


if __name__ == "__main__":
    main()
