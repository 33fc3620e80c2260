#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Integration tests: the real memhpd binary against a fake sysfs root, with uevents injected on a
real netlink socket (udev group, private network namespace).

    unshare --net --mount python3 tests/integration/run.py SCENARIO --memhpd build/daemon/memhpd

Each scenario builds its own root from the kernel snapshot, starts memhpd --root=ROOT, drives it,
and asserts on the tree and on memhpd's audit records. Needs root (CAP_NET_ADMIN for the netlink
multicast and SO_RCVBUFFORCE)."""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from auditlog import parse_audit  # noqa: E402
from fakesys import FakeKernel, UeventSender, materialise  # noqa: E402

DEFAULT_TIMEOUT = float(os.environ.get("MEMHPD_TEST_TIMEOUT", "60"))


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


class Daemon:
    def __init__(self, binary, root, args=(), env=None):
        self.root = root
        self.log_path = os.path.join(root, "memhpd.log")
        self.log = open(self.log_path, "w")
        e = dict(os.environ)
        e.pop("JOURNAL_STREAM", None)
        e.pop("NOTIFY_SOCKET", None)
        e.update(env or {})
        self.proc = subprocess.Popen([binary, f"--root={root}", *args], stdout=subprocess.DEVNULL,
                                     stderr=self.log, env=e)
        self.offset = 0

    def text(self):
        with open(self.log_path) as f:
            return f.read()

    def records(self):
        return parse_audit(self.text())

    def wait_record(self, pred, what, timeout=DEFAULT_TIMEOUT, kernel=None, blocks=()):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if kernel:
                kernel.complete_onlines(blocks)
            for r in self.records():
                if pred(r):
                    return r
            check(self.proc.poll() is None, f"memhpd exited ({self.proc.returncode}) while waiting for {what}")
            time.sleep(0.02)
        raise Failure(f"timed out waiting for {what}")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def write(root, rel, text, mode=0o644):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(text)
    os.chmod(p, mode)


SETTINGS = "[Daemon]\nEventSource=udev\nLockMemory=no\nSettleTimeoutSec=300ms\n"
MOVABLE = "[Match]\nDevice=any\n\n[Online]\nZone=movable\n"
KERNEL = "[Match]\nDevice=any\n\n[Online]\nZone=kernel\n"


class Scenario:
    def __init__(self, args, settings=SETTINGS, policies=None):
        self.args = args
        self.root = tempfile.mkdtemp(prefix="memhpd-it-")
        materialise(args.snapshot, self.root)
        write(self.root, "etc/memhpd/memhpd.conf", settings)
        for name, text in (policies or {"50-test.policy": MOVABLE}).items():
            write(self.root, f"etc/memhpd/policies.d/{name}", text)
        self.sender = UeventSender()
        self.kernel = FakeKernel(self.root, self.sender)
        self.daemon = None

    def start(self, *extra):
        self.daemon = Daemon(self.args.memhpd, self.root, extra)
        self.daemon.wait_record(lambda r: r["event"] == "started", "the started record")
        return self.daemon

    def onlined(self, index=None):
        return [r for r in self.daemon.records()
                if r["event"] == "onlined" and r.get("result") in ("ok", "already")
                and (index is None or r.get("block") == str(index))]

    def wait_all_online(self, blocks, timeout=DEFAULT_TIMEOUT):
        blocks = list(blocks)
        end = time.monotonic() + timeout
        pending = set(blocks)
        while pending and time.monotonic() < end:
            self.kernel.complete_onlines(pending)
            pending = {i for i in pending if self.kernel.read(i, "state") != "online"}
            check(self.daemon.proc.poll() is None, "memhpd exited")
            if pending:
                time.sleep(0.05)
        check(not pending, f"{len(pending)} of {len(blocks)} blocks never came online, e.g. "
              f"memory{sorted(pending)[0] if pending else ''}")

    def marker(self, index, node=0):
        """Add a block and wait for its onlined record. memhpd handles uevents in order, so everything
        sent before has been handled: a check that nothing happened is then meaningful, not a bet on
        how fast the daemon is."""
        self.kernel.add_block(index, node=node)
        self.wait_all_online([index])
        self.daemon.wait_record(lambda r: r["event"] == "onlined" and r.get("block") == str(index),
                                f"the marker memory{index}")

    def cleanup(self, ok):
        if self.daemon:
            rc = self.daemon.stop()
            if ok:
                check(rc == 0, f"memhpd exited {rc} on SIGTERM")
                check(any(r["event"] == "stopped" for r in self.daemon.records()), "no stopped record")
        self.sender.close()
        if ok and not self.args.keep:
            shutil.rmtree(self.root, ignore_errors=True)


def count_by_block(records):
    counts = {}
    for r in records:
        counts[r["block"]] = counts.get(r["block"], 0) + 1
    return counts


# ---------------------------------------------------------------------------------------- scenarios

def scenario_coldplug(s):
    """memory67 is offline in the snapshot: onlined at start-up; boot memory is never touched."""
    before = {i: s.kernel.read(i, "state") for i in range(0, 8)}
    d = s.start()
    s.wait_all_online([67])
    check(len(s.onlined(67)) == 1, "memory67 onlined once")
    check(s.kernel.read(67, "valid_zones") == "Movable", "memory67 went movable")
    check(len(s.onlined()) == 1, f"only memory67 was acted on: {s.onlined()}")
    for i, st in before.items():
        check(s.kernel.read(i, "state") == st, f"boot block memory{i} untouched")
    rec = s.onlined(67)[0]
    check(rec["device"] == "acpi-dimm" and rec["node"] == "0" and rec["action"] == "online_movable",
          f"record fields: {rec}")
    check(rec["policy"].endswith("/etc/memhpd/policies.d/50-test.policy:1"), f"policy field: {rec['policy']}")
    return d


def scenario_burst(s):
    """8192 add uevents in one burst: every block onlined, each exactly once."""
    n = int(os.environ.get("MEMHPD_BURST_BLOCKS", "8192"))
    d = s.start()
    first = 1024
    blocks = range(first, first + n)
    t0 = time.monotonic()
    for i in blocks:
        s.kernel.add_block(i, node=0)
    s.wait_all_online(blocks, timeout=max(DEFAULT_TIMEOUT, n / 50))
    elapsed = time.monotonic() - t0
    # Let the online uevents of the fake kernel drain, then count.
    s.marker(first + n)
    counts = count_by_block(s.onlined())
    dup = {b: c for b, c in counts.items() if c != 1}
    check(not dup, f"blocks onlined more than once: {list(dup.items())[:5]}")
    missing = [i for i in blocks if str(i) not in counts]
    check(not missing, f"{len(missing)} blocks without an onlined record, e.g. memory{missing[:3]}")
    check(not any(r["event"] in ("online-failed", "bad-sysfs", "events-lost") for r in d.records()),
          "no failures, bad values or lost events in a clean burst")
    print(f"burst: {n} blocks added and onlined in {elapsed:.2f} s")


def scenario_lost_events(s):
    """A tiny receive buffer and a stopped daemon: the burst overflows the socket; ENOBUFS makes
    memhpd rescan, and every block still comes online exactly once."""
    d = s.start()
    d.signal(signal.SIGSTOP)
    blocks = range(2048, 2048 + 600)
    for i in blocks:
        s.kernel.add_block(i, node=0)
    time.sleep(0.2)
    d.signal(signal.SIGCONT)
    d.wait_record(lambda r: r["event"] == "events-lost", "an events-lost record")
    s.wait_all_online(blocks)
    counts = count_by_block(s.onlined())
    check(all(counts.get(str(i)) == 1 for i in blocks), "each block onlined exactly once")


def scenario_online_by_other(s):
    """A block someone else onlined before memhpd got to it is left alone; so is one the
    administrator took offline after memhpd onlined it."""
    d = s.start()
    s.kernel.add_block(300, node=0, uevent=False)
    s.kernel.write(300, "state", "online")
    s.kernel.write(300, "valid_zones", "Normal")
    s.sender.memory("add", 300)
    d.wait_record(lambda r: r["event"] == "online-by-other" and r.get("block") == "300", "online-by-other 300")
    check(s.kernel.read(300, "state") == "online", "memory300 untouched")
    check(not s.onlined(300), "memory300 not onlined by memhpd")

    s.kernel.add_block(301, node=0)
    s.wait_all_online([301])
    s.kernel.write(301, "state", "offline")
    s.kernel.write(301, "valid_zones", "Normal Movable")
    s.sender.memory("offline", 301)
    d.wait_record(lambda r: r["event"] == "offline-by-other" and r.get("block") == "301", "offline-by-other 301")
    s.marker(302)
    check(s.kernel.read(301, "state") == "offline", "memory301 stays offline: never fight the administrator")
    check(len(s.onlined(301)) == 1, "memory301 onlined exactly once")

    # ...and across a restart of memhpd: the list survives in /run.
    check(d.stop() == 0, "memhpd stops cleanly")
    with open(os.path.join(s.root, "run/memhpd/offline-by-others")) as f:
        kept = [l for l in f.read().splitlines() if l and not l.startswith("#")]
    check(kept == ["301"], f"run/memhpd/offline-by-others lists memory301: {kept}")
    d = s.start()
    d.wait_record(lambda r: r["event"] == "left-offline" and r.get("block") == "301", "left-offline 301 after restart")
    check(s.kernel.read(301, "state") == "offline", "memory301 still offline after a restart")
    check(not s.onlined(301), "the new instance did not online memory301")


def scenario_readd(s):
    """A synthetic add (udevadm trigger, SYNTH_UUID) only refreshes: a block the administrator took
    offline stays offline. A real add for a block memhpd knew means its removal was missed: it is a
    new block and policy decides it."""
    d = s.start()
    s.kernel.add_block(310, node=0)
    s.wait_all_online([310])
    s.kernel.write(310, "state", "offline")
    s.kernel.write(310, "valid_zones", "Normal Movable")
    s.sender.memory("offline", 310)
    d.wait_record(lambda r: r["event"] == "offline-by-other" and r.get("block") == "310", "offline-by-other 310")
    s.sender.send("add", "/devices/system/memory/memory310", "memory", ["SYNTH_UUID=0"])
    s.kernel.add_block(311, node=0)  # a marker: handled after the synthetic add
    s.wait_all_online([311])
    check(s.kernel.read(310, "state") == "offline", "a synthetic add does not online an admin-offlined block")
    check(len(s.onlined(310)) == 1, "memory310 still onlined once")

    # The DIMM is replaced while memhpd misses the remove: same index, a new block.
    shutil.rmtree(s.kernel.path(310))
    os.unlink(os.path.join(s.root, "sys/devices/system/node/node0/memory310"))
    s.kernel.add_block(310, node=0)
    d.wait_record(lambda r: r["event"] == "events-lost" and r.get("block") == "310", "the missed removal")
    s.wait_all_online([310])
    check(len(s.onlined(310)) == 2, "the new memory310 was onlined by policy")


def scenario_reload_broken(s):
    """A broken policy delivered with SIGHUP is rejected and the old policy keeps working."""
    d = s.start()
    write(s.root, "etc/memhpd/policies.d/50-test.policy", "[Match]\nDevice=any\n\n[Online]\nZone=sideways\n")
    d.signal(signal.SIGHUP)
    rej = d.wait_record(lambda r: r["event"] == "policy-rejected" and "50-test.policy:5" in r["_line"],
                        "the rejection naming file and line")
    check("Zone=sideways" in rej["_line"], f"rejection says what: {rej['_line']}")
    d.wait_record(lambda r: r["event"] == "policy-rejected" and "keeping the previous settings and 1 policy"
                  in r["_line"], "keeping the previous policy")
    s.kernel.add_block(400, node=0)
    s.wait_all_online([400])
    check(s.kernel.read(400, "valid_zones") == "Movable", "old policy (movable) still applied")

    # A good reload takes effect for the next block.
    write(s.root, "etc/memhpd/policies.d/50-test.policy", KERNEL)
    d.signal(signal.SIGHUP)
    d.wait_record(lambda r: r["event"] == "policy-loaded" and r["_line"].count("loaded 1 policy,") and
                  d.text().count("loaded 1 policy,") >= 2, "the second policy-loaded record")
    s.kernel.add_block(401, node=0)
    s.wait_all_online([401])
    check(s.kernel.read(401, "valid_zones") == "Normal", "new policy (kernel) applied after reload")


def scenario_check(s):
    """--check validates without acting and names file and line of each error."""
    write(s.root, "etc/memhpd/policies.d/10-bad.policy",
          "# a comment\n[Match]\nDevice=acpi-dimm\nNode=3-1\n\n[Online]\nZone=movable\nColour=blue\n")
    write(s.root, "etc/memhpd/policies.d/20-ww.policy", MOVABLE, mode=0o666)
    r = subprocess.run([s.args.memhpd, f"--root={s.root}", "--check"], capture_output=True, text=True)
    check(r.returncode == 1, f"--check exits 1 on errors, got {r.returncode}")
    err = r.stderr
    check("/etc/memhpd/policies.d/10-bad.policy:4: Node=3-1: range \"3-1\" ends before it starts" in err, err)
    check("/etc/memhpd/policies.d/10-bad.policy:8: unknown key Colour= in section [Online]" in err, err)
    check("etc/memhpd/policies.d/20-ww.policy: world-writable" in err, err)
    check(s.kernel.read(67, "state") == "offline", "--check changed nothing")
    os.unlink(os.path.join(s.root, "etc/memhpd/policies.d/10-bad.policy"))
    os.unlink(os.path.join(s.root, "etc/memhpd/policies.d/20-ww.policy"))
    r = subprocess.run([s.args.memhpd, f"--root={s.root}", "--check"], capture_output=True, text=True)
    check(r.returncode == 0, f"--check exits 0 on a clean set: {r.stderr}")
    check("50-test.policy:1 Zone=movable" in r.stdout, r.stdout)


def scenario_bad_uevents(s):
    """uevents with DEVPATHs that are not memoryN/nodeN, and unknown actions, are reported and
    ignored; the daemon keeps working."""
    d = s.start()
    s.sender.send("add", "/devices/system/memory/memoryX", "memory")
    s.sender.send("add", "/devices/system/memory/memory12/../../../x", "memory")
    s.sender.send("add", "/devices/system/memory/memory00012", "memory")
    s.sender.send("add", "/devices/system/node/node99999", "node")
    s.sender.send("add", "/devices/system/memory/memory4000000000", "memory")  # 512 PiB: no such address
    d.wait_record(lambda r: r["event"] == "bad-uevent" and "beyond any physical address" in r["_line"],
                  "an impossible block number reported")
    # libudev itself drops an unknown ACTION; a valid but irrelevant one is ignored quietly.
    s.sender.send("explode", "/devices/system/memory/memory12", "memory")
    s.sender.send("change", "/devices/system/memory/memory3", "memory")
    d.wait_record(lambda r: r["event"] == "bad-uevent" and "node99999" in r["_line"], "bad node DEVPATH reported")
    bad = [r for r in d.records() if r["event"] == "bad-uevent"]
    check(len(bad) == 5, f"five bad uevents reported, got {len(bad)}: {[r['_line'] for r in bad]}")
    s.kernel.add_block(500, node=0)
    s.wait_all_online([500])


def scenario_bad_sysfs(s):
    """A state file that does not parse is reported by name and the block left alone."""
    d = s.start()
    s.kernel.add_block(600, node=0, uevent=False)
    s.kernel.write(600, "state", "sideways")
    s.sender.memory("add", 600)
    r = d.wait_record(lambda r: r["event"] == "bad-sysfs" and r.get("block") == "600", "bad-sysfs for 600")
    check("memory600/state holds \"sideways\"" in r["_line"], r["_line"])
    check(s.kernel.read(600, "state") == "sideways", "nothing written")
    s.kernel.add_block(601, node=0, zones="Bogus")
    d.wait_record(lambda r: r["event"] == "bad-sysfs" and r.get("block") == "601", "bad valid_zones for 601")
    check(s.kernel.read(601, "state") == "offline", "nothing written for 601")
    s.kernel.add_block(602, node=0)
    s.wait_all_online([602])


def scenario_node_late(s):
    """The memory add arrives before the node exists and before the block's node link (as for a
    DIMM on a new CPU-less node): memhpd waits and decides with the node known."""
    policies = {"10-node2.policy": "[Match]\nNode=2\n\n[Online]\nZone=kernel\n", "50-test.policy": MOVABLE}
    for name, text in policies.items():
        write(s.root, f"etc/memhpd/policies.d/{name}", text)
    d = s.start()
    s.kernel.add_block(700, node=2, link_node=False)
    s.marker(760)
    check(s.kernel.read(700, "state") == "offline", "memory700 waits for its node")
    s.kernel.add_node(2)
    s.kernel.link_node(700, 2)
    s.wait_all_online([700])
    check(s.kernel.read(700, "valid_zones") == "Normal", "Node=2 policy (kernel) applied")
    rec = s.onlined(700)[0]
    check(rec["node"] == "2" and rec["policy"].endswith("10-node2.policy:1"), f"record: {rec}")
    # A block whose link never comes is decided without its node after SettleTimeoutSec.
    s.kernel.add_block(701, node=2, link_node=False)
    s.wait_all_online([701])
    check(s.kernel.read(701, "valid_zones") == "Movable", "without a node, Node=2 does not match")
    check(any(r["event"] == "bad-sysfs" and r.get("block") == "701" for r in d.records()), "the wait is audited")


def scenario_late_links(s):
    """A hot-added range whose node links appear only after all its add uevents, as the kernel does
    it: the whole range is onlined as soon as the links exist, not when SettleTimeoutSec runs out."""
    write(s.root, "etc/memhpd/memhpd.conf", SETTINGS.replace("SettleTimeoutSec=300ms", "SettleTimeoutSec=30s"))
    d = s.start()
    blocks = range(900, 964)
    for i in blocks:
        s.kernel.add_block(i, node=0, link_node=False)
    s.marker(990)
    check(all(s.kernel.read(i, "state") == "offline" for i in blocks), "the blocks wait for their node links")
    t0 = time.monotonic()
    for i in blocks:
        s.kernel.link_node(i, 0)
    s.wait_all_online(blocks, timeout=10)
    elapsed = time.monotonic() - t0
    check(elapsed < 10, f"onlined {elapsed:.1f} s after the links appeared: waited for the 30 s timeout")
    check(not any(r["event"] == "bad-sysfs" for r in d.records()), "no block timed out")
    counts = count_by_block(s.onlined())
    check(all(counts.get(str(i)) == 1 and s.kernel.read(i, "valid_zones") == "Movable" for i in blocks),
          "every block onlined once, movable")


def scenario_remove(s):
    d = s.start()
    s.kernel.add_block(800, node=0)
    s.wait_all_online([800])
    shutil.rmtree(s.kernel.path(800))
    os.unlink(os.path.join(s.root, "sys/devices/system/node/node0/memory800"))
    s.sender.memory("remove", 800)
    rec = d.wait_record(lambda r: r["event"] == "removed" and r.get("block") == "800", "removed 800")
    check(rec.get("node") == "0" and rec.get("device") == "acpi-dimm", f"the record says where it was: {rec}")
    # A removal found by a rescan (its uevent lost) is recorded the same way.
    s.kernel.add_block(801, node=0)
    s.wait_all_online([801])
    shutil.rmtree(s.kernel.path(801))
    os.unlink(os.path.join(s.root, "sys/devices/system/node/node0/memory801"))
    d.signal(signal.SIGHUP)  # a reload rescans
    rec = d.wait_record(lambda r: r["event"] == "removed" and r.get("block") == "801", "removed 801 by rescan")
    check(rec.get("node") == "0" and rec.get("device") == "acpi-dimm", f"the record says where it was: {rec}")


def scenario_dry_run(s):
    """--dry-run --once lists every block and node with the decision, and writes nothing."""
    r = subprocess.run([s.args.memhpd, f"--root={s.root}", "--dry-run", "--once"], capture_output=True, text=True)
    check(r.returncode == 0, f"exit 0: {r.stderr}")
    out = r.stdout
    check(re.search(r"^memory67\s.*offline.*acpi-dimm\s+online_movable$", out, re.M), out)
    check(re.search(r"^memory32-33\s.*online\s+Movable\s+1\s+virtio-mem\s+leave: already online$", out, re.M), out)
    check(re.search(r"^node1\s+0\s+256\s+2\s+0$", out, re.M), out)
    check(s.kernel.read(67, "state") == "offline", "dry run wrote nothing")
    check("result=dry-run" in r.stderr, r.stderr)


def scenario_once_failure(s):
    """--once exits non-zero when an action failed (the state attribute cannot be written)."""
    # A read-only bind mount: reads say "offline", the write fails with EROFS, as root too. The
    # test runs in its own mount namespace (unshare --mount), so the mount dies with it.
    st = s.kernel.path(67, "state")
    subprocess.run(["mount", "--bind", st, st], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", st], check=True)
    try:
        r = subprocess.run([s.args.memhpd, f"--root={s.root}", "--once"], capture_output=True, text=True)
    finally:
        subprocess.run(["umount", st], check=True)
    check(r.returncode == 1, f"exit 1 when an action failed, got {r.returncode}: {r.stderr}")
    check(re.search(r"failed to online memory67 as movable: Read-only file system .*event=online-failed "
                    r"block=67 .*result=failed .*errno=30\]", r.stderr), r.stderr)
    check(s.kernel.read(67, "state") == "offline", "memory67 still offline")


def scenario_unread_counts(s):
    """Zone=auto needs the node's page counts: with /proc/zoneinfo missing, naming an impossible node
    or cut short, no ratio is made up: a bad-sysfs record, and the block stays offline. Without
    /proc/iomem, blocks are not silently called boot memory."""
    write(s.root, "etc/memhpd/policies.d/50-test.policy", "[Match]\nDevice=any\n\n[Online]\nZone=auto\n")
    zoneinfo = os.path.join(s.root, "proc/zoneinfo")
    with open(zoneinfo) as f:
        good = f.read()
    cases = {
        "missing": None,
        "impossible node": good.replace("Node 0, zone", "Node 5000, zone", 1),
        "truncated": good[:good.index("present")],
    }
    for what, text in cases.items():
        if text is None:
            os.unlink(zoneinfo)
        else:
            write(s.root, "proc/zoneinfo", text)
        r = subprocess.run([s.args.memhpd, f"--root={s.root}", "--once"], capture_output=True, text=True)
        check(re.search(r"page counts of node0 cannot be read from /proc/zoneinfo .*no Zone=auto decision.*"
                        r"event=bad-sysfs block=67 ", r.stderr), f"{what}: {r.stderr}")
        check("onlined memory67" not in r.stderr, f"{what}: decided on counts never read: {r.stderr}")
        check(s.kernel.read(67, "state") == "offline", f"{what}: memory67 stays offline")
    write(s.root, "proc/zoneinfo", good)
    r = subprocess.run([s.args.memhpd, f"--root={s.root}", "--once", "--dry-run"], capture_output=True, text=True)
    check("would online memory67" in r.stderr and "bad-sysfs" not in r.stderr, f"a good zoneinfo decides: {r.stderr}")

    os.unlink(os.path.join(s.root, "proc/iomem"))
    r = subprocess.run([s.args.memhpd, f"--root={s.root}", "--once", "--dry-run"], capture_output=True, text=True)
    check(re.search(r"/proc/iomem cannot be read \(No such file or directory\).*event=bad-sysfs", r.stderr), r.stderr)
    check(re.search(r"^memory32-33\s.*\s+unknown\s+leave: already online$", r.stdout, re.M),
          f"virtio-mem blocks are not called boot: {r.stdout}")


SCENARIOS = {name[len("scenario_"):].replace("_", "-"): fn for name, fn in globals().items()
             if name.startswith("scenario_")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=sorted(SCENARIOS) + ["all"])
    ap.add_argument("--memhpd", required=True)
    ap.add_argument("--snapshot", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures",
                                                       "debian-6.1-qemu-2node.txt"))
    ap.add_argument("--keep", action="store_true", help="keep the fixture root for poking at")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("integration tests need root (netlink multicast, SO_RCVBUFFORCE); run them as root", file=sys.stderr)
        return 1
    names = sorted(SCENARIOS) if args.scenario == "all" else [args.scenario]
    failed = 0
    for name in names:
        settings = SETTINGS
        if name == "lost-events":
            settings += "ReceiveBufferSize=4K\n"
        s = Scenario(args, settings=settings)
        ok = False
        try:
            SCENARIOS[name](s)
            ok = True
            s.cleanup(True)
            print(f"PASS {name}")
        except Failure as e:
            print(f"FAIL {name}: {e}")
            if s.daemon:
                print("---- memhpd log (last 60 lines) ----")
                print("\n".join(s.daemon.text().splitlines()[-60:]))
            print(f"fixture kept at {s.root}")
            s.cleanup(False)
            failed += 1
        finally:
            if not ok and s.daemon and s.daemon.proc.poll() is None:
                s.daemon.proc.kill()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
