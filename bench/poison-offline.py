#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Time from a memory failure to its block offline (memhpd [Poison] Action=offline), in a real guest.

    python3 bench/poison-offline.py [--kernel 6.1|6.12|all] [--memhpd build/daemon/memhpd]   -> bench/POISON.md

A 4 GiB DIMM is hot-added and onlined movable by memhpd, 3.6 GiB of tmpfs fill it, then a page of a
block in its middle is hard-poisoned (/sys/devices/system/memory/hard_offline_page). Printed: the host's
wall time from that write to memhpd's 'offlined' record (guest round trips included), and the offline
time memhpd itself records (the migration of the block's pages by the kernel). TCG, 2 vCPUs."""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "vm"))
from vmlib import VM, Scenario, GiB  # noqa: E402
sys.path.insert(0, HERE)
import record  # noqa: E402

POLICY = "[Match]\nDevice=any\n\n[Online]\nZone=movable\n\n[Poison]\nAction=offline\n"


def one(kernel, memhpd, cache):
    vm = VM(Scenario(autostart=False, policies={"10-poison.policy": POLICY}), memhpd, SRC, cache, kernel=kernel)
    vm.start()
    try:
        vm.out("mount -t tracefs nodev /sys/kernel/tracing")
        vm.start_memhpd()
        vm.wait_started()
        bs = vm.block_size()
        first = vm.add_dimm("d1", 4 * GiB, node=0) // bs
        idx = list(range(first, first + 4 * GiB // bs))
        vm.wait_blocks(lambda b: all(i in b and b[i]["state"] == "online" for i in idx), 180, "DIMM online")
        vm.out("mkdir -p /w && mount -t tmpfs -o size=4G tmpfs /w && dd if=/dev/zero of=/w/f bs=1M count=3600 "
               "2>/dev/null", timeout=300)
        target = idx[len(idx) // 2]
        t0 = time.monotonic()
        vm.out(f"echo {target * bs + 0x40000:#x} > /sys/devices/system/memory/hard_offline_page")
        rec = vm.wait_audit(lambda r: r.get("event") in ("offlined", "offline-failed")
                            and r.get("block") == str(target), 300, "the offline outcome")[0]
        wall = time.monotonic() - t0
        print(f"{kernel}: memory{target}: {wall:.2f} s from the hard_offline_page write to the outcome record; "
              f"{rec['_line']}")
    finally:
        vm.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", default="all", choices=("6.1", "6.12", "all"))
    ap.add_argument("--memhpd", default=os.path.join(SRC, "build", "daemon", "memhpd"))
    ap.add_argument("--cache", default=os.path.join(SRC, "build", "vm-cache"))
    ap.add_argument("--output", default=os.path.join(HERE, "POISON.md"),
                    help="write what is printed, with the command and the host load, here ('' for none)")
    args = ap.parse_args()
    with record.Record(args.output, "Poison: from hard_offline_page to the block offline ([Poison] Action=offline)"):
        print("A 4 GiB DIMM onlined movable by memhpd, 3.6 GiB of tmpfs in it, then one page of a block in its "
              "middle hard-poisoned; TCG, 2 vCPUs.")
        for k in (("6.1", "6.12") if args.kernel == "all" else (args.kernel,)):
            one(k, os.path.abspath(args.memhpd), args.cache)


if __name__ == "__main__":
    main()
