#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Build a fake root with N memory blocks for the scale benchmarks:
    mkfake.py DIR N [--offline K]   (the last K blocks offline, hot-added ACPI DIMM blocks)
Block size 128 MiB, one node, /proc/iomem and /proc/zoneinfo consistent with the blocks."""
import os
import sys


def main():
    root, n = sys.argv[1], int(sys.argv[2])
    offline = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--offline" else 0
    mem = os.path.join(root, "sys/devices/system/memory")
    node = os.path.join(root, "sys/devices/system/node/node0")
    os.makedirs(mem, exist_ok=True)
    os.makedirs(node, exist_ok=True)
    os.makedirs(os.path.join(root, "proc"), exist_ok=True)
    for d in ("etc/memhpd/policies.d", "usr/lib/memhpd/policies.d", "run/memhpd/policies.d"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    with open(os.path.join(mem, "block_size_bytes"), "w") as f:
        f.write("8000000\n")
    for i in range(n):
        d = os.path.join(mem, f"memory{i}")
        os.mkdir(d)
        off = i >= n - offline
        for attr, val in (("state", "offline" if off else "online"),
                          ("valid_zones", "Normal Movable" if off else "Normal"),
                          ("phys_index", f"{i:08x}")):
            with open(os.path.join(d, attr), "w") as f:
                f.write(val + "\n")
        os.symlink("../../node/node0", os.path.join(d, "node0"))
        os.symlink(f"../../memory/memory{i}", os.path.join(node, f"memory{i}"))
    pages = (n - offline) * 32768
    end = n * 0x8000000 - 1
    with open(os.path.join(root, "proc/iomem"), "w") as f:
        f.write(f"00000000-{end:x} : System RAM\n")
    with open(os.path.join(root, "proc/zoneinfo"), "w") as f:
        f.write(f"Node 0, zone   Normal\n  pages free     1\n        present  {pages}\n"
                f"Node 0, zone  Movable\n  pages free     0\n        present  0\n")


if __name__ == "__main__":
    main()
