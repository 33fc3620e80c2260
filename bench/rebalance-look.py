#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What rebalance.c's look over the blocks costs at scale: a burst of hot-added blocks into a fake sysfs
of many blocks, with and without a Zone=auto policy that matches nothing (the worst case: every look goes
over every block and finds no block that could move).

    unshare --net --mount python3 bench/rebalance-look.py [--blocks 131072] [--burst 8192] [--runs 5]
        -> bench/REBALANCE-LOOK.md

A  the burst with one Zone=movable policy (no Zone=auto policy: rebalance.c looks at nothing);
B  the same with a second policy, [Match] Node=5 / [Online] Zone=auto, which matches no block;
C  B once more with --log-level=debug, for the duration of each look ("Looked for ... in N us").
The tree's /proc/zoneinfo shows ZONE_MOVABLE on node 0, so that the zones of the blocks online at start
are read (REBALANCE_READS_PER_LOOK per look) instead of skipped."""
import argparse
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import record  # noqa: E402
import scale  # noqa: E402

AUTO_NOTHING = "[Match]\nNode=5\n\n[Online]\nZone=auto\n"


def tree(n):
    path = f"/dev/shm/memhpd-bench/rebalance-{n}"
    if not os.path.exists(os.path.join(path, f"sys/devices/system/memory/memory{n - 1}")):
        subprocess.run(["rm", "-rf", path], check=True)
        subprocess.run([sys.executable, os.path.join(HERE, "mkfake.py"), path, str(n)], check=True)
    zi = os.path.join(path, "proc/zoneinfo")
    with open(zi) as f:
        text = f.read()
    text = re.sub(r"(zone\s+Movable\n(?:.*\n)*?\s+present\s+)0\b", r"\g<1>1048576", text, count=1)
    with open(zi, "w") as f:
        f.write(text)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--memhpd", default=os.path.join(HERE, "..", "build", "daemon", "memhpd"))
    ap.add_argument("--blocks", type=int, default=131072)
    ap.add_argument("--burst", type=int, default=8192)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--output", default=os.path.join(HERE, "REBALANCE-LOOK.md"))
    a = ap.parse_args()
    path = tree(a.blocks)
    auto = os.path.join(path, "etc/memhpd/policies.d/20-auto.policy")
    with record.Record(a.output, "rebalance.c's look over the blocks at scale (issue 10)"):
        print(f"A burst of {a.burst} hot-added blocks into a fake sysfs of {a.blocks} blocks (bench/mkfake.py, "
              f"ZONE_MOVABLE shown on node 0), {a.runs} runs each, median; the real memhpd binary, uevents on real "
              f"netlink (scale.py burst).\n")
        rows = {}
        for name, with_auto in (("A: Zone=movable only", False), ("B: + a Zone=auto policy matching nothing", True)):
            if with_auto:
                scale.write(auto, AUTO_NOTHING)
            elif os.path.exists(auto):
                os.unlink(auto)
            runs = [scale.one_burst(a.memhpd, path, a.blocks, a.burst, 300) for _ in range(a.runs)]
            rows[name] = (statistics.median(r["events_per_s"] for r in runs),
                          statistics.median(r["cpu_ns_per_event"] for r in runs),
                          statistics.median(r["vmhwm_kib"] for r in runs))
        logs = []
        scale.write(auto, AUTO_NOTHING)
        scale.one_burst(a.memhpd, path, a.blocks, a.burst, 300, args=["--log-level=debug"], log=logs)
        os.unlink(auto)
        looks = [int(x) for x in re.findall(r"Looked for Zone=auto blocks that could move to a kernel zone in (\d+) us",
                                            logs[0])]
        print("| | events/s | CPU per event, us | VmHWM, KiB |\n| --- | --- | --- | --- |")
        for name, (eps, ns, hwm) in rows.items():
            print(f"| {name} | {eps:.0f} | {ns / 1000:.1f} | {hwm:.0f} |")
        ea, eb = rows["A: Zone=movable only"][0], rows["B: + a Zone=auto policy matching nothing"][0]
        print(f"\nB/A events per second: {eb / ea:.2f}x.")
        print(f"\nC: {len(looks)} looks during start and the burst (at most one a second after the first), "
              f"{', '.join(f'{x / 1000:.1f}' for x in looks)} ms each"
              + (f"; the longest {max(looks) / 1000:.1f} ms" if looks else "") + ".")


if __name__ == "__main__":
    main()
