#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""memhpd's reaction to a PSI breach: from the breach reaching memhpd's trigger fd to the first reserve
block's state write, on the fake root of tests/integration (a unix socket stands where
/proc/pressure/memory is; only the open differs from the real file). Writes bench/RESULTS-pressure.md.

    unshare --net --mount python3 bench/pressure.py --memhpd build/daemon/memhpd [--rounds 20]

What it does not measure: the kernel's own delay from the stall to POLLPRI (PSI checks a trigger every
window/10 while memory stalls happen). In the busybox VM guest no PSI breach could be produced before
the OOM killer (anonymous memory, no swap): see tests/vm pressure-reserve and memhpd.policy(5) RESERVE."""
import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import run as it  # noqa: E402

WINDOW_MS = 1000


def one_run(args, rounds):
    ns = argparse.Namespace(memhpd=args.memhpd, snapshot=os.path.join(HERE, "..", "tests", "fixtures",
                                                                      "debian-6.1-qemu-2node.txt"), keep=False)
    s = it.Scenario(ns)
    it.write(s.root, "etc/memhpd/policies.d/40-reserve.policy",
             "[Match]\nDevice=acpi-dimm\nBlock=700-999\n\n[Online]\nZone=movable\nWhen=pressure\nOnlineStep=1\n")
    psi = it.FakePsi(s.root)
    lat = []
    try:
        d = s.start()
        blocks = list(range(700, 700 + rounds))
        for i in blocks:
            s.kernel.add_block(i, node=0)
        it.check(psi.accept(30) is not None, "no trigger")
        d.wait_record(lambda r: r["event"] == "reserved" and r.get("block") == str(blocks[-1]), "reserve")
        for i in blocks:   # OnlineStep=1: each breach onlines the lowest block left
            t0 = time.monotonic()
            psi.conn.sendall(it.BREACH)
            while s.kernel.read(i, "state") == "offline":
                if time.monotonic() - t0 > 10:
                    raise it.Failure(f"memory{i} not onlined 10 s after a breach")
                time.sleep(0.0002)
            lat.append((time.monotonic() - t0) * 1000)
            s.wait_all_online([i])
            time.sleep(0.05)
        s.cleanup(True)
    finally:
        psi.close()
    return lat


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--memhpd", required=True)
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    load0 = os.getloadavg()
    lat = one_run(args, args.rounds)
    med, mx = statistics.median(lat), max(lat)
    rev = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    text = f"""# memhpd reserve: PSI breach to the first reserve block online

Written by `bench/pressure.py`; do not edit by hand: re-run the command.

- command: `unshare --net --mount python3 bench/pressure.py --memhpd build/daemon/memhpd --rounds {args.rounds}`
- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; memhpd at commit {rev}; host kernel {platform.release()}
- host load average at start: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} (2 CPUs shared with other work)
- setup: tests/integration's fake root; a unix socket at proc/pressure/memory stands for the PSI file;
  a When=pressure reserve of {args.rounds} blocks with OnlineStep=1; each round sends a breach and times
  until memhpd has written the first block's state (the daemon's part: wake-up, /proc/zoneinfo, distances,
  audit records, the sysfs write)

| row | rounds | median | max | goal: under one PSI window ({WINDOW_MS} ms, the default) |
| --- | --- | --- | --- | --- |
| breach on the trigger fd -> first reserve block's state written | {len(lat)} | {med:.1f} ms | {mx:.1f} ms | {'met' if mx < WINDOW_MS else '**missed**'} |

Not measured: the kernel's delay from a stall to POLLPRI (PSI polls a trigger at window/10 while tasks
stall). In the busybox VM guest (tests/vm pressure-reserve) anonymous memory without swap reached the OOM
killer with PSI "some" at total=0, so no real breach could be timed there; the reserve's watermark check
onlined it instead (four 128 MiB steps for a 608 MiB hog in a 512 MiB guest, no OOM kill, 6.1 and 6.12).
"""
    with open(os.path.join(HERE, "RESULTS-pressure.md"), "w") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
