#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Drain throughput: memhpd's drain (memhpctl drain: the offline engine, one child per block) against
util-linux `chmem -d` on the same guest, the same DIMM and the same workload, rounds interleaved.

    python3 bench/drain.py [--kernel 6.1|6.12|all] [--rounds 3] [--memhpd build/daemon/memhpd]

Each round, for each tool: a 2 GiB pc-dimm (16 blocks of 128 MiB) is online movable; a workload
(tests/vm/guest/vm-pages fill) fills 192 MiB, which the allocator puts in ZONE_MOVABLE, i.e. on the
DIMM; the tool offlines the DIMM's 16 blocks (memhpctl drain memory32-47, or chmem -d -b 32-47),
timed with the guest's CLOCK_MONOTONIC around the command; every block must be offline and the
workload intact; then memhpctl online brings the blocks back. Throughput = 2 GiB / time. Writes
bench/DRAIN.md (do not edit by hand: re-run the command).
"""
import argparse
import os
import re
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "vm"))
import vmlib  # noqa: E402
from vmlib import GiB, MiB, VM, Scenario  # noqa: E402

DIMM = 2 * GiB
WORKLOAD_MIB = 192  # must fit in the boot memory left once the DIMM is gone
POLICY = "[Match]\nDevice=any\n\n[Online]\nZone=movable\n"
CONF = "[Daemon]\nOfflineTimeoutSec=600\nRetries=0\n"


def helper(cache):
    src = os.path.join(SOURCE_ROOT, "tests", "vm", "guest", "vm-pages.c")
    out = os.path.join(cache, "vm-pages")
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
        subprocess.run(["cc", "-static", "-O2", "-o", out + ".tmp", src], check=True)
        os.rename(out + ".tmp", out)
    return out


def timed(vm, cmd):
    rc, out = vm.sh(f"s=$(vm-pages now); {cmd} >/tmp/tool.out 2>&1; rc=$?; e=$(vm-pages now); echo $rc $s $e",
                    timeout=900)
    rc_tool, s, e = out.split()[-3:]
    if rc_tool != "0":
        raise RuntimeError(f"{cmd} failed ({rc_tool}): {vm.sh('cat /tmp/tool.out')[1]}")
    return float(e) - float(s)


def wait_file(vm, path, text, timeout=300):
    deadline = time.monotonic() + timeout
    while text not in vm.sh(f"cat {path} 2>/dev/null")[1]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} never said {text!r}")
        time.sleep(0.5)


def run_kernel(args, kernel):
    cache = args.cache
    files = {"/usr/bin/vm-pages": helper(cache), "/usr/bin/chmem": shutil.which("chmem")}
    scn = Scenario(conf=CONF, policies={"10-movable.policy": POLICY}, files=files)
    vm = VM(scn, args.memhpd, SOURCE_ROOT, cache, kernel=kernel)
    vm.start()
    times = {"memhpd": [], "chmem": []}
    times["retries"], times["offline_s"] = [], []  # memhpd's own records of each drain
    try:
        vm.wait_started()
        bs = vm.block_size()
        addr = vm.add_dimm("dimm1", DIMM, node=0)
        first, last = addr // bs, (addr + DIMM) // bs - 1
        idx = list(range(first, last + 1))
        vm.wait_blocks(lambda b: all(i in b and b[i]["state"] == "online" for i in idx), 120, "DIMM online")
        for rnd in range(args.rounds):
            order = ("memhpd", "chmem") if rnd % 2 == 0 else ("chmem", "memhpd")
            for tool in order:
                vm.sh("rm -f /tmp/fill.out")
                vm.out(f"vm-pages fill 0 {WORKLOAD_MIB} > /tmp/fill.out 2>&1 & echo $! > /tmp/fill.pid")
                wait_file(vm, "/tmp/fill.out", "ready")
                cmd = (f"memhpctl drain memory{first}-{last}" if tool == "memhpd"
                       else f"chmem -d -b {first}-{last}")
                n_rec = len(vm.audit())
                t = timed(vm, cmd)
                if tool == "memhpd":
                    recs = vm.audit()[n_rec:]
                    times["retries"].append(sum(1 for r in recs if r.get("event") == "offline-retry"))
                    times["offline_s"].append(sum(float(m.group(1)) for r in recs if r.get("event") == "offlined"
                                                  for m in [re.search(r" in (\d+\.\d+)s", r["_line"])] if m))
                blocks = vm.blocks()
                if not all(blocks[i]["state"] == "offline" for i in idx):
                    raise RuntimeError(f"{tool}: not every block offline:\n" + vmlib.format_blocks(blocks))
                vm.out("kill -USR1 $(cat /tmp/fill.pid)")
                wait_file(vm, "/tmp/fill.out", "intact")
                times[tool].append(t)
                vmlib.log(f"{kernel} round {rnd + 1}: {tool} {t:.3f}s ({DIMM / GiB / t:.3f} GiB/s)")
                vm.out(f"memhpctl online memory{first}-{last} >/dev/null", timeout=300)
                vm.wait_blocks(lambda b: all(b[i]["state"] == "online" for i in idx), 120, "DIMM online again")
    finally:
        vm.stop()
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", default="all", choices=["6.1", "6.12", "all"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--memhpd", default=os.path.join(SOURCE_ROOT, "build", "daemon", "memhpd"))
    ap.add_argument("--cache", default=os.path.join(SOURCE_ROOT, "build", "vm-cache"))
    args = ap.parse_args()
    kernels = ["6.1", "6.12"] if args.kernel == "all" else [args.kernel]
    t0 = time.time()
    load0 = os.getloadavg()
    rows = []
    for k in kernels:
        vmlib.run_setup(args.cache, k)
        times = run_kernel(args, k)
        m, c = statistics.median(times["memhpd"]), statistics.median(times["chmem"])
        rows.append(f"| {k} | {len(times['memhpd'])} | {m:.3f} s ({DIMM / GiB / m:.3f} GiB/s) | "
                    f"{c:.3f} s ({DIMM / GiB / c:.3f} GiB/s) | {m / c:.2f} | "
                    f"{', '.join(f'{x:.2f}' for x in times['memhpd'])} / {', '.join(f'{x:.2f}' for x in times['chmem'])} | "
                    f"{', '.join(str(x) for x in times['retries'])} | {', '.join(f'{x:.2f}' for x in times['offline_s'])} |")
    commit = subprocess.run(["git", "-C", SOURCE_ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    text = f"""# Drain throughput: memhpd against chmem -d

Written by `bench/drain.py`; do not edit by hand: re-run the command.

- command: `python3 bench/drain.py --kernel {args.kernel} --rounds {args.rounds}`
- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(t0))} (took {(time.time() - t0) / 60:.1f} min)
- machine: {os.cpu_count()} CPUs, host kernel {platform.release()}; load average at the start
  {' '.join(f'{x:.2f}' for x in load0)}, at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}
  (other work shares the CPUs when these exceed about 0.5)
- memhpd: {args.memhpd} at commit {commit}; chmem: the host's {shutil.which('chmem')} (util-linux), copied into the guest
- guest: tests/vm busybox initramfs, 512 MiB boot memory, QEMU TCG; a {DIMM // GiB} GiB pc-dimm (16 blocks)
  online movable, {WORKLOAD_MIB} MiB of it filled by `vm-pages fill`; times are the guest's CLOCK_MONOTONIC
  around `memhpctl drain memoryA-B` (it returns when the drain finished) and `chmem -d -b A-B`

| kernel | rounds | memhpd drain, median | chmem -d, median | memhpd / chmem | every round (s), memhpd / chmem | memhpd offline-retry records, per round | memhpd's offlined records: sum of the blocks' offline times (s), per round |
| --- | --- | --- | --- | --- | --- | --- | --- |
""" + "\n".join(rows) + "\n"
    with open(os.path.join(HERE, "DRAIN.md"), "w") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
