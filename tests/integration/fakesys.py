# SPDX-License-Identifier: LGPL-2.1-or-later
"""A fake root tree for memhpd --root=DIR, built from a real kernel's snapshot, and a fake kernel
that answers memhpd's sysfs writes and sends uevents the way the kernel does.

The snapshot format (shared/kernel-snapshots/*.txt): '@@@ PATH' then the file's content lines,
'@@L PATH -> TARGET' for a symlink.
"""
import os
import shutil
import socket
import struct

NETLINK_KOBJECT_UEVENT = 15
UDEV_GROUP = 2
UDEV_MONITOR_MAGIC = 0xFEEDCAFE


def load_snapshot(path):
    files, links = {}, {}
    cur = None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("@@@ "):
                cur = line[4:]
                files[cur] = []
            elif line.startswith("@@L "):
                src, dst = line[4:].split(" -> ")
                links[src] = dst
                cur = None
            elif cur is not None:
                files[cur].append(line)
            # lines before the first marker are comments
    return {k: "\n".join(v) + "\n" for k, v in files.items()}, links


def materialise(snapshot, root):
    files, links = load_snapshot(snapshot)
    for p, content in files.items():
        dst = os.path.join(root, p.lstrip("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst, "w") as f:
            f.write(content)
    for p, target in links.items():
        dst = os.path.join(root, p.lstrip("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if not os.path.lexists(dst):
            os.symlink(target, dst)
    for d in ("etc/memhpd/policies.d", "run/memhpd/policies.d", "usr/lib/memhpd/policies.d"):
        os.makedirs(os.path.join(root, d), exist_ok=True)


def murmur2(data, seed=0):
    """MurmurHash2 as libudev hashes subsystem names for its socket filter."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (seed ^ length) & 0xFFFFFFFF
    i = 0
    while length >= 4:
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
        i += 4
        length -= 4
    if length == 3:
        h ^= data[i + 2] << 16
    if length >= 2:
        h ^= data[i + 1] << 8
    if length >= 1:
        h ^= data[i]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


class UeventSender:
    """Multicasts udev-format messages on the uevent netlink family, group 2, as udevd does.

    Needs CAP_NET_ADMIN; run inside a private network namespace (unshare --net) so that nothing
    else on the host sees the fake events."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_KOBJECT_UEVENT)
        self.sock.bind((0, 0))
        self.seqnum = 1000

    def send(self, action, devpath, subsystem, extra=None):
        self.seqnum += 1
        props = [f"ACTION={action}", f"DEVPATH={devpath}", f"SUBSYSTEM={subsystem}", f"SEQNUM={self.seqnum}"]
        props += extra or []
        body = b"".join(p.encode() + b"\0" for p in props)
        header_size = 40
        header = b"libudev\0" + struct.pack(
            "!I", UDEV_MONITOR_MAGIC) + struct.pack(
            "=III", header_size, header_size, len(body)) + struct.pack(
            "!IIII", murmur2(subsystem.encode()), 0, 0, 0)
        assert len(header) == header_size
        self.sock.sendto(header + body, (0, UDEV_GROUP))

    def memory(self, action, index):
        self.send(action, f"/devices/system/memory/memory{index}", "memory")

    def node(self, action, node):
        self.send(action, f"/devices/system/node/node{node}", "node")

    def close(self):
        self.sock.close()


class FakeKernel:
    """Block-level sysfs the way drivers/base/memory.c shows it, under a fixture root."""

    def __init__(self, root, sender):
        self.root = root
        self.mem = os.path.join(root, "sys/devices/system/memory")
        self.nodes = os.path.join(root, "sys/devices/system/node")
        self.sender = sender

    def path(self, index, attr=""):
        return os.path.join(self.mem, f"memory{index}", attr)

    def read(self, index, attr):
        with open(self.path(index, attr)) as f:
            return f.read().strip()

    def write(self, index, attr, value):
        # sysfs attributes change atomically for a reader; a rename gives the same here.
        p = self.path(index, attr)
        with open(p + ".new", "w") as f:
            f.write(value + "\n")
        os.replace(p + ".new", p)

    def add_block(self, index, node=0, state="offline", zones="Normal Movable", dimm=True, link_node=True,
                  uevent=True):
        d = self.path(index)
        os.makedirs(d)
        for attr, val in (("phys_index", f"{index:08x}"), ("state", state), ("online", "0" if state == "offline" else "1"),
                          ("valid_zones", zones), ("removable", "1"), ("phys_device", "0"), ("uevent", "")):
            with open(os.path.join(d, attr), "w") as f:
                f.write(val + "\n")
        os.symlink("../../../../bus/memory", os.path.join(d, "subsystem"))
        if dimm:
            os.symlink("../../../LNXSYSTM:00/LNXSYBUS:00/PNP0A06:04/PNP0C80:00", os.path.join(d, "firmware_node"))
        if link_node:
            self.link_node(index, node)
        if uevent:
            self.sender.memory("add", index)

    def link_node(self, index, node):
        nd = os.path.join(self.nodes, f"node{node}")
        os.makedirs(nd, exist_ok=True)
        os.symlink(f"../../node/node{node}", self.path(index, f"node{node}"))
        os.symlink(f"../../memory/memory{index}", os.path.join(nd, f"memory{index}"))

    def add_node(self, node, uevent=True):
        os.makedirs(os.path.join(self.nodes, f"node{node}"), exist_ok=True)
        if uevent:
            self.sender.node("add", node)

    def complete_onlines(self, indexes):
        """What the kernel does inside the write: the block is online in the zone asked for, and an
        'online' uevent follows. Returns how many blocks it completed."""
        n = 0
        for i in indexes:
            try:
                s = self.read(i, "state")
            except FileNotFoundError:
                continue
            if s in ("online_movable", "online_kernel"):
                zone = "Movable" if s == "online_movable" else "Normal"
                self.write(i, "valid_zones", zone)
                self.write(i, "online", "1")
                self.write(i, "state", "online")
                self.sender.memory("online", i)
                n += 1
        return n


class FakeDax:
    """A dax device the way drivers/dax/bus.c shows it (dax0.0 of an NVDIMM namespace in devdax mode,
    laid out as a 6.12 guest shows it), and a fake kmem: when memhpd writes the device's name to
    kmem/new_id or kmem/bind, the driver link moves to kmem, /proc/iomem gets "System RAM (kmem)" and
    the device's blocks appear offline, with their add uevents, as drivers/dax/kmem.c makes them."""

    DEV = "sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0/dax0.0"
    DEVPATH = "/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0/dax0.0"

    def __init__(self, kernel, start=0x240000000, size=896 << 20, node=1, driver="device_dax", memmap="0"):
        self.kernel = kernel
        self.root = kernel.root
        self.start, self.size, self.node = start, size, node
        self.dev = os.path.join(self.root, self.DEV)
        os.makedirs(self.dev)
        attrs = {"size": str(size), "resource": hex(start), "target_node": str(node), "numa_node": str(node),
                 "align": "2097152", "modalias": "dax:t0*", "uevent": "MAJOR=252\nMINOR=0\nDEVNAME=dax0.0"}
        if memmap is not None:
            attrs["memmap_on_memory"] = memmap
        for k, v in attrs.items():
            with open(os.path.join(self.dev, k), "w") as f:
                f.write(v + "\n")
        self.drivers = os.path.join(self.root, "sys/bus/dax/drivers")
        for drv in ("device_dax", "kmem"):
            os.makedirs(os.path.join(self.drivers, drv), exist_ok=True)
            for attr in ("bind", "unbind", "new_id", "remove_id"):
                p = os.path.join(self.drivers, drv, attr)
                if not os.path.exists(p):
                    open(p, "w").close()
        os.makedirs(os.path.join(self.root, "sys/bus/dax/devices"), exist_ok=True)
        os.symlink("../../../" + self.DEV[len("sys/"):], os.path.join(self.root, "sys/bus/dax/devices/dax0.0"))
        if driver:
            self.link_driver(driver)
        self.bound = False

    def link_driver(self, driver):
        p = os.path.join(self.dev, "driver")
        if os.path.lexists(p):
            os.unlink(p)
        if driver:
            os.symlink("../../../../../../../../bus/dax/drivers/" + driver, p)

    def driver(self):
        p = os.path.join(self.dev, "driver")
        return os.path.basename(os.readlink(p)) if os.path.lexists(p) else None

    def written(self, drv, attr):
        p = os.path.join(self.drivers, drv, attr)
        if not os.path.isfile(p):
            return ""
        with open(p) as f:
            return f.read().strip()

    def blocks(self):
        bs = 128 << 20
        return list(range((self.start + bs - 1) // bs, (self.start + self.size) // bs))

    def send(self, action):
        self.kernel.sender.send(action, self.DEVPATH, "dax")

    def complete_bind(self):
        """What the kernel does inside the kmem bind: returns True once it happened."""
        if self.bound or "dax0.0" not in (self.written("kmem", "new_id"), self.written("kmem", "bind")):
            return self.bound
        self.bound = True
        self.link_driver("kmem")
        end = self.start + self.size - 1
        iomem = os.path.join(self.root, "proc/iomem")
        with open(iomem) as f:
            lines = f.read().splitlines()
        add = [f"{self.start:x}-{end:x} : Persistent Memory", f"  {self.start:x}-{end:x} : namespace0.0",
               f"    {self.start:x}-{end:x} : dax0.0", f"      {self.start:x}-{end:x} : System RAM (kmem)"]
        at = next(i for i, l in enumerate(lines) if int(l.split("-")[0], 16) > self.start and not l.startswith(" "))
        with open(iomem + ".new", "w") as f:
            f.write("\n".join(lines[:at] + add + lines[at:]) + "\n")
        os.replace(iomem + ".new", iomem)
        for i in self.blocks():
            self.kernel.add_block(i, node=self.node, dimm=False)
        self.send("bind")
        return True

    def remove(self):
        shutil.rmtree(os.path.join(self.root, "sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0"))
        os.unlink(os.path.join(self.root, "sys/bus/dax/devices/dax0.0"))
        self.send("remove")
