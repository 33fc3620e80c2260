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
from fakesys import FakeDax, FakeKernel, UeventSender, materialise  # noqa: E402

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


def take_offline_by_other(s, d, index):
    """An administrator offlines a block memhpd onlined: one offline-by-other record, one save."""
    s.kernel.add_block(index, node=0)
    s.wait_all_online([index])
    s.kernel.write(index, "state", "offline")
    s.kernel.write(index, "valid_zones", "Normal Movable")
    s.sender.memory("offline", index)
    d.wait_record(lambda r: r["event"] == "offline-by-other" and r.get("block") == str(index),
                  f"offline-by-other {index}")


def scenario_no_run(s):
    """Outside systemd there is no RuntimeDirectory=: in a root without /run memhpd creates run/memhpd
    (0755) for its offline-by-others file. Where it cannot use it, it says so once, not on every
    change."""
    shutil.rmtree(os.path.join(s.root, "run"))
    d = s.start()
    for i in range(310, 314):
        take_offline_by_other(s, d, i)
    s.marker(314)
    check("Cannot save" not in d.text(), d.text())
    path = os.path.join(s.root, "run/memhpd/offline-by-others")
    check(os.path.isfile(path), "run/memhpd/offline-by-others created")
    check(os.stat(os.path.join(s.root, "run/memhpd")).st_mode & 0o7777 == 0o755, "run/memhpd is 0755")
    with open(path) as f:
        kept = [l for l in f.read().splitlines() if l and not l.startswith("#")]
    check(kept == ["310", "311", "312", "313"], f"offline-by-others lists the four blocks: {kept}")
    check(d.stop() == 0, "clean stop")

    # A /run/memhpd memhpd must not use (another user's): one message, whatever the number of changes.
    shutil.rmtree(os.path.join(s.root, "run/memhpd"))
    os.mkdir(os.path.join(s.root, "run/memhpd"), 0o755)
    os.chown(os.path.join(s.root, "run/memhpd"), 65534, 65534)
    d = s.start()
    for i in range(320, 325):
        take_offline_by_other(s, d, i)
    s.marker(325)
    said = [l for l in d.text().splitlines() if "Cannot save /run/memhpd/offline-by-others" in l]
    check(len(said) == 1, f"said once, not on every change: {said}")
    check("owned or writable by another user" in said[0], said[0])
    check(os.listdir(os.path.join(s.root, "run/memhpd")) == [], "nothing written there")


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


# ------------------------------------------------------------------- ownership of the onlining decision

AOB = "sys/devices/system/memory/auto_online_blocks"
PARAM = "sys/module/memory_hotplug/parameters/"
SAVED = "run/memhpd/kernel-auto-online"
PRESET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "policies", "50-default.policy")


def rd(root, rel):
    with open(os.path.join(root, rel)) as f:
        return f.read().strip()


def saved(root):
    p = os.path.join(root, SAVED)
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return dict(l.split("=", 1) for l in f.read().splitlines() if l and not l.startswith("#"))


def restart(s, *args):
    """Start memhpd again on the same tree (the fake kernel first completes what the last one wrote)."""
    s.kernel.complete_onlines([67])
    return s.start(*args)


def set_mode(s, mode):
    write(s.root, "etc/memhpd/memhpd.conf", SETTINGS + f"KernelAutoOnline={mode}\n")


def events(d, name, **fields):
    return [r for r in d.records() if r["event"] == name and all(r.get(k) == v for k, v in fields.items())]


def scenario_takeover(s):
    """KernelAutoOnline=takeover (the default): auto_online_blocks=online is reported, set to offline
    while memhpd runs (the old value saved in /run), and written back at SIGTERM; hot-added blocks
    follow the policy."""
    write(s.root, AOB, "online\n")
    d = s.start()
    c = events(d, "conflict", agent="kernel")
    check(len(c) == 1 and c[0]["file"] == "/sys/devices/system/memory/auto_online_blocks" and
          "auto_online_blocks=online" in c[0]["_line"] and "KernelAutoOnline=takeover" in c[0]["_line"], c)
    check(rd(s.root, AOB) == "offline", "auto_online_blocks taken over")
    check(saved(s.root) == {"auto_online_blocks": "online"}, f"saved: {saved(s.root)}")
    check(events(d, "kernel-auto-online", result="ok"), "the change is audited")
    s.kernel.add_block(1000, node=0)
    s.wait_all_online([1000])
    check(s.kernel.read(1000, "valid_zones") == "Movable", "policy decided the new block")
    check(d.stop() == 0, "clean stop")
    check(rd(s.root, AOB) == "online", "auto_online_blocks put back at SIGTERM")
    check(saved(s.root) is None, "saved file removed after the restore")
    check("put auto_online_blocks back to online" in d.text(), d.text())

    # SIGINT is a clean stop too; the kernel's value 'offline' needs no change and no file.
    write(s.root, AOB, "offline\n")
    d = restart(s)
    check(saved(s.root) is None and not events(d, "conflict", agent="kernel"), "nothing to take over")
    d.signal(signal.SIGINT)
    d.proc.wait(timeout=20)
    check(rd(s.root, AOB) == "offline", "still offline")


def scenario_takeover_crash(s):
    """kill -9 leaves the saved file; the next instance does not overwrite it with its own 'offline'
    and its SIGTERM restores the ORIGINAL value."""
    write(s.root, AOB, "online_movable\n")
    d = s.start()
    check(rd(s.root, AOB) == "offline", "taken over")
    d.proc.kill()
    d.proc.wait()
    check(rd(s.root, AOB) == "offline" and saved(s.root) == {"auto_online_blocks": "online_movable"},
          "after kill -9: kernel still offline, original saved")
    r = subprocess.run([s.args.memhpd, f"--root={s.root}", "--check"], capture_output=True, text=True)
    check("conflict: kernel /sys/devices/system/memory/auto_online_blocks:" in r.stdout and
          "auto_online_blocks=online_movable" in r.stdout, f"--check names the kernel's own value: {r.stdout}")
    d = restart(s)
    check(saved(s.root) == {"auto_online_blocks": "online_movable"}, f"not overwritten: {saved(s.root)}")
    check(any("saved by an earlier memhpd that did not stop cleanly" in r["_line"]
              for r in events(d, "kernel-auto-online")), d.text())
    c = events(d, "conflict", agent="kernel")
    check(c and "auto_online_blocks=online_movable" in c[0]["_line"], f"the conflict names the original: {c}")
    # A second crash and restart changes nothing either.
    d.proc.kill()
    d.proc.wait()
    d = restart(s)
    check(d.stop() == 0, "clean stop")
    check(rd(s.root, AOB) == "online_movable", f"original restored: {rd(s.root, AOB)}")
    check(saved(s.root) is None, "saved file removed")


def scenario_keep(s):
    """KernelAutoOnline=keep: the kernel is left alone and the conflict says policies do not apply to
    what it onlines; a reload to takeover takes it over, a reload back to keep restores it at once."""
    set_mode(s, "keep")
    write(s.root, AOB, "online\n")
    d = s.start()
    c = events(d, "conflict", agent="kernel")
    check(len(c) == 1 and "KernelAutoOnline=keep" in c[0]["_line"] and
          "policies do not apply to what the kernel onlines" in c[0]["_line"], c)
    check(rd(s.root, AOB) == "online" and saved(s.root) is None, "kernel untouched, nothing saved")
    # The kernel onlines a hot-added block: someone else's, as before.
    s.kernel.add_block(1100, node=0, state="online", zones="Normal")
    d.wait_record(lambda r: r["event"] == "online-by-other" and r.get("block") == "1100", "online-by-other 1100")

    set_mode(s, "takeover")
    d.signal(signal.SIGHUP)
    d.wait_record(lambda r: r["event"] == "kernel-auto-online" and "set auto_online_blocks to offline" in r["_line"],
                  "takeover on reload")
    check(rd(s.root, AOB) == "offline" and saved(s.root) == {"auto_online_blocks": "online"}, "taken over")
    set_mode(s, "keep")
    d.signal(signal.SIGHUP)
    d.wait_record(lambda r: r["event"] == "kernel-auto-online" and "put auto_online_blocks back" in r["_line"],
                  "restore on reload")
    check(rd(s.root, AOB) == "online" and saved(s.root) is None, "restored on reload to keep")
    check(d.stop() == 0, "clean stop")
    check(rd(s.root, AOB) == "online", "keep: unchanged at stop")


def scenario_delegate(s):
    """KernelAutoOnline=delegate with the shipped preset (Zone=auto, 301%): the kernel is programmed to
    online with its auto-movable policy; its onlines are audited with the policy's file:line; every
    knob is put back at stop."""
    set_mode(s, "delegate")
    os.unlink(os.path.join(s.root, "etc/memhpd/policies.d/50-test.policy"))
    shutil.copy(PRESET, os.path.join(s.root, "usr/lib/memhpd/policies.d/50-default.policy"))
    write(s.root, PARAM + "auto_movable_ratio", "200\n")
    d = s.start()
    rec = d.wait_record(lambda r: r["event"] == "kernel-auto-online" and "KernelAutoOnline=delegate" in r["_line"],
                        "the delegation record")
    check(rec["policy"] == "/usr/lib/memhpd/policies.d/50-default.policy:29", rec)
    check(rd(s.root, AOB) == "online" and rd(s.root, PARAM + "online_policy") == "auto-movable" and
          rd(s.root, PARAM + "auto_movable_ratio") == "301" and rd(s.root, PARAM + "auto_movable_numa_aware") == "Y",
          "knobs programmed")
    check(saved(s.root) == {"auto_online_blocks": "offline", "online_policy": "contig-zones",
                            "auto_movable_ratio": "200"}, f"saved: {saved(s.root)}")
    # The kernel onlines inside the add.
    s.kernel.add_block(1200, node=0, state="online", zones="Movable")
    rec = d.wait_record(lambda r: r["event"] == "onlined" and r.get("block") == "1200", "onlined 1200")
    check(rec["policy"] == "/usr/lib/memhpd/policies.d/50-default.policy:29" and rec["zone"] == "Movable" and
          rec["action"] == "online" and "onlined by the kernel for memhpd" in rec["_line"], rec)
    check(not events(d, "online-by-other", block="1200"), "not someone else's")
    # The kernel's online arrives while memhpd still waits for the block's node link.
    s.kernel.add_block(1202, node=0, link_node=False)
    s.kernel.write(1202, "valid_zones", "Movable")
    s.kernel.write(1202, "state", "online")
    s.sender.memory("online", 1202)
    rec = d.wait_record(lambda r: r["event"] == "onlined" and r.get("block") == "1202", "onlined 1202")
    check(rec["policy"] == "/usr/lib/memhpd/policies.d/50-default.policy:29", rec)
    # One the kernel could not online is decided by memhpd.
    s.kernel.add_block(1201, node=0)
    s.wait_all_online([1201])
    # A reload with a policy set the kernel cannot carry out: takeover, the module parameters go back.
    write(s.root, "etc/memhpd/policies.d/10-manual.policy", "[Match]\nDevice=dax-kmem\n\n[Online]\nWhen=manual\n")
    d.signal(signal.SIGHUP)
    rec = d.wait_record(lambda r: r["event"] == "kernel-auto-online" and r.get("result") == "skipped",
                        "the fallback on reload")
    check("10-manual.policy:1 (Device=) decides differently" in rec["_line"], rec["_line"])
    # The fallback is said before the knobs and the saved file are written; memhpd handles the next
    # uevent only after the whole reload, so its record is the marker.
    s.kernel.add_block(1203, node=0, state="online", zones="Normal")
    d.wait_record(lambda r: r["event"] == "online-by-other" and r.get("block") == "1203", "not claimed after fallback")
    check(rd(s.root, AOB) == "offline" and rd(s.root, PARAM + "online_policy") == "contig-zones" and
          rd(s.root, PARAM + "auto_movable_ratio") == "200", "taken over, parameters restored on reload")
    check(saved(s.root) == {"auto_online_blocks": "offline"}, f"saved: {saved(s.root)}")
    check(d.stop() == 0, "clean stop")
    check(rd(s.root, AOB) == "offline" and rd(s.root, PARAM + "online_policy") == "contig-zones" and
          rd(s.root, PARAM + "auto_movable_ratio") == "200" and rd(s.root, PARAM + "auto_movable_numa_aware") == "Y",
          "every knob put back")
    check(saved(s.root) is None, "saved file removed")


def scenario_delegate_fallback(s):
    """A policy set the kernel cannot carry out (a Node= policy that decides differently) falls back
    to takeover and says why; so does delegate with an unreadable module parameter, and with an
    unwritable one auto_online_blocks is not turned on."""
    set_mode(s, "delegate")
    write(s.root, "etc/memhpd/policies.d/10-node1.policy", "[Match]\nBlock=40-47\n\n[Online]\nZone=kernel\n")
    write(s.root, AOB, "online\n")
    d = s.start()
    rec = events(d, "kernel-auto-online", result="skipped")
    check(rec and "falls back to takeover" in rec[0]["_line"] and "10-node1.policy:1" in rec[0]["_line"], d.text())
    check(rd(s.root, AOB) == "offline", "taken over")
    s.kernel.add_block(1300, node=0)
    s.wait_all_online([1300])
    check(d.stop() == 0 and rd(s.root, AOB) == "online", "restored")

    # Unreadable online_policy (a directory where the file should be): fall back, write nothing to it.
    os.unlink(os.path.join(s.root, "etc/memhpd/policies.d/10-node1.policy"))
    write(s.root, "etc/memhpd/policies.d/50-test.policy", "[Online]\nZone=auto\n")
    os.unlink(os.path.join(s.root, PARAM + "online_policy"))
    os.mkdir(os.path.join(s.root, PARAM + "online_policy"))
    d = restart(s)
    c = events(d, "conflict", agent="kernel", result="unknown")
    check(c and "cannot read memory_hotplug.online_policy" in c[0]["_line"], d.text())
    check(events(d, "kernel-auto-online", result="skipped"), "falls back")
    check(rd(s.root, AOB) == "offline", "taken over")
    check(d.stop() == 0 and rd(s.root, AOB) == "online", "restored")
    os.rmdir(os.path.join(s.root, PARAM + "online_policy"))
    write(s.root, PARAM + "online_policy", "contig-zones\n")

    # Unwritable online_policy (read-only bind mount): auto_online_blocks must not go to 'online'.
    p = os.path.join(s.root, PARAM + "online_policy")
    subprocess.run(["mount", "--bind", p, p], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", p], check=True)
    try:
        d = restart(s)
        rec = d.wait_record(lambda r: r["event"] == "kernel-auto-online" and r.get("result") == "failed",
                            "the failed write")
        check("cannot set online_policy to auto-movable" in rec["_line"], rec["_line"])
        check(rd(s.root, AOB) == "offline", f"auto_online_blocks not turned on: {rd(s.root, AOB)}")
        s.kernel.add_block(1301, node=0)
        s.wait_all_online([1301])
        check(d.stop() == 0, "clean stop")
    finally:
        subprocess.run(["umount", p], check=True)
    check(rd(s.root, AOB) == "online" and rd(s.root, PARAM + "auto_movable_ratio") == "301", "restored")
    check(saved(s.root) is None, "saved file removed")


UDEV_RHEL = """# Memory hotadd request
SUBSYSTEM!="memory", GOTO="memory_hotplug_end"
ACTION!="add", GOTO="memory_hotplug_end"
PROGRAM="/bin/uname -p", RESULT=="s390*", GOTO="memory_hotplug_end"

ENV{.state}="online"
PROGRAM="/bin/systemd-detect-virt", RESULT=="none", ENV{.state}="online_movable"
ATTR{state}=="offline", ATTR{state}="$env{.state}"

LABEL="memory_hotplug_end"
"""
UDEV_SUSE = ('SUBSYSTEM=="cpu", ACTION=="add", ATTR{online}!="1", ATTR{online}="1"\n'
             'SUBSYSTEM=="memory", ACTION=="add", PROGRAM=="/bin/uname -m", RESULT!="s390x", '
             'ATTR{state}=="offline", ATTR{state}="online"\n')
UDEV_DAXCTL = ('ACTION=="add", SUBSYSTEM=="dax", TAG+="systemd", '
               'ENV{SYSTEMD_WANTS}="daxdev-reconfigure@$env{DEVNAME}.service"\n')
DAXCTL_CONF = """[reconfigure-device unique_identifier_foo]
nvdimm.uuid = 48d8e42c-a2f0-4312-9e70-a837faafe862
mode = system-ram
online = true
movable = false
"""


def scenario_conflicts(s):
    """Every other agent is one conflict record (the daemon, --check and --dry-run --once): the boot
    command line, udev rules in each directory with same-name and /dev/null masking, a rules file
    that does not parse, daxctl's rule with a daxctl.conf.d entry."""
    write(s.root, "proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/vda memhp_default_state=online quiet\n")
    write(s.root, "etc/udev/rules.d/40-redhat.rules", UDEV_RHEL)
    write(s.root, "usr/lib/udev/rules.d/80-hotplug-cpu-mem.rules", UDEV_SUSE)
    write(s.root, "lib/udev/rules.d/40-vm-hotadd.rules", UDEV_SUSE)           # masked by /dev/null below
    os.symlink("/dev/null", os.path.join(s.root, "etc/udev/rules.d/40-vm-hotadd.rules"))
    write(s.root, "usr/lib/udev/rules.d/60-overridden.rules", UDEV_SUSE)      # masked by /run's harmless one
    write(s.root, "run/udev/rules.d/60-overridden.rules", 'SUBSYSTEM=="block", TAG+="x"\n')
    write(s.root, "etc/udev/rules.d/70-broken.rules", 'SUBSYSTEM=="memory", ATTR{state}=online\n')
    write(s.root, "usr/lib/udev/rules.d/90-daxctl-device.rules", UDEV_DAXCTL)
    write(s.root, "etc/daxctl.conf.d/daxctl.conf", DAXCTL_CONF)
    write(s.root, "usr/lib/udev/rules.d/99-systemd.rules", 'SUBSYSTEM=="memory", ACTION=="add", TAG+="systemd"\n')

    def check_found(lines, fmt):
        expect = {
            ("cmdline", "/proc/cmdline"),
            ("udev", "/etc/udev/rules.d/40-redhat.rules:8"),
            ("udev", "/usr/lib/udev/rules.d/80-hotplug-cpu-mem.rules:2"),
            ("udev", "/etc/udev/rules.d/70-broken.rules:1"),
            ("daxctl", "/etc/daxctl.conf.d/daxctl.conf:1"),
        }
        got = set(fmt(l) for l in lines)
        check(got == expect, f"conflicts {sorted(got)} != {sorted(expect)}")

    d = s.start()
    recs = events(d, "conflict")
    check_found(recs, lambda r: (r["agent"], r["file"]))
    by_file = {r["file"]: r for r in recs}
    check(by_file["/etc/udev/rules.d/70-broken.rules:1"]["result"] == "unknown" and
          "does not parse" in by_file["/etc/udev/rules.d/70-broken.rules:1"]["_line"], recs)
    check("ln -s /dev/null /etc/udev/rules.d/40-redhat.rules" in
          by_file["/etc/udev/rules.d/40-redhat.rules:8"]["_line"], recs)
    dax = by_file["/etc/daxctl.conf.d/daxctl.conf:1"]["_line"]
    check("/usr/lib/udev/rules.d/90-daxctl-device.rules:1" in dax and "online = false" in dax, dax)
    check("memhp_default_state=online" in by_file["/proc/cmdline"]["_line"], recs)
    # A reload reports them again; nothing stops working.
    n = len(recs)
    d.signal(signal.SIGHUP)
    d.wait_record(lambda r: len(events(d, "conflict")) == 2 * n, "the conflicts again after a reload")
    s.kernel.add_block(1400, node=0)
    s.wait_all_online([1400])

    r = subprocess.run([s.args.memhpd, f"--root={s.root}", "--check"], capture_output=True, text=True)
    check(r.returncode == 0, f"conflicts are not --check errors: {r.returncode} {r.stderr}")
    lines = [l for l in r.stdout.splitlines() if l.startswith("conflict: ")]
    check_found(lines, lambda l: tuple(l[len("conflict: "):].split(":", 1)[0].rsplit(" ", 1)) if
                l.count(":") < 3 else (l.split()[1], l.split()[2].rstrip(":")))
    r = subprocess.run([s.args.memhpd, f"--root={s.root}", "--dry-run", "--once"], capture_output=True, text=True)
    check(r.returncode == 0, r.stderr)
    check(r.stderr.count("event=conflict") == 5, r.stderr)


def scenario_bad_kernel_input(s):
    """auto_online_blocks with a value memhpd does not know, a saved value in /run that is garbage, a
    /run/memhpd memhpd must not trust: a clear record, nothing written on their account, memhpd keeps
    running."""
    write(s.root, AOB, "sideways\n")
    d = s.start()
    c = events(d, "conflict", agent="kernel", result="unknown")
    check(c and 'holds "sideways"' in c[0]["_line"], d.text())
    check(rd(s.root, AOB) == "sideways" and saved(s.root) is None, "nothing written")
    s.kernel.add_block(1500, node=0)
    s.wait_all_online([1500])
    check(d.stop() == 0 and rd(s.root, AOB) == "sideways", "nothing written at stop")

    # Garbage saved value: recorded, nothing restored from it.
    write(s.root, AOB, "offline\n")
    write(s.root, SAVED, "auto_online_blocks=\x01\x02garbage\n")
    d = restart(s)
    rec = events(d, "kernel-auto-online", result="failed")
    check(rec and "kernel-auto-online:1 is not a knob=value line" in rec[0]["_line"], d.text())
    s.kernel.add_block(1501, node=0)
    s.wait_all_online([1501])
    check(d.stop() == 0, "clean stop")
    check(rd(s.root, AOB) == "offline", f"nothing restored from garbage: {rd(s.root, AOB)}")

    # Garbage saved value and a kernel that onlines: the current value is saved over it, and restored.
    write(s.root, AOB, "online\n")
    d = restart(s)
    check(rd(s.root, AOB) == "offline" and saved(s.root) == {"auto_online_blocks": "online"}, "saved over garbage")
    check(d.stop() == 0 and rd(s.root, AOB) == "online" and saved(s.root) is None, "restored")

    # /run/memhpd is a symlink someone planted: not followed, said once, the kernel left as it is.
    shutil.rmtree(os.path.join(s.root, "run/memhpd"))
    os.makedirs(os.path.join(s.root, "tmp/elsewhere"))
    os.symlink("../tmp/elsewhere", os.path.join(s.root, "run/memhpd"))
    d = restart(s)
    rec = events(d, "kernel-auto-online", result="failed")
    check(len(rec) == 1 and "cannot use /run/memhpd" in rec[0]["_line"], d.text())
    check(rd(s.root, AOB) == "online" and os.listdir(os.path.join(s.root, "tmp/elsewhere")) == [], "nothing written")
    check(d.stop() == 0 and rd(s.root, AOB) == "online", "still online")

    # /run/memhpd missing (no systemd RuntimeDirectory=): created.
    os.unlink(os.path.join(s.root, "run/memhpd"))
    d = restart(s)
    check(rd(s.root, AOB) == "offline" and saved(s.root) == {"auto_online_blocks": "online"}, "run/memhpd created")
    check(d.stop() == 0 and rd(s.root, AOB) == "online", "restored")


def scenario_kernel_auto_online_settings(s):
    """An unknown KernelAutoOnline= is a settings error naming file:line:key (--check exits 1; the
    daemon runs with the defaults, i.e. takeover); --dry-run writes nothing and says what it would."""
    write(s.root, "etc/memhpd/memhpd.conf", SETTINGS + "KernelAutoOnline=sometimes\n")
    write(s.root, AOB, "online\n")
    r = subprocess.run([s.args.memhpd, f"--root={s.root}", "--check"], capture_output=True, text=True)
    check(r.returncode == 1, f"--check exits 1: {r.returncode}")
    check("/etc/memhpd/memhpd.conf:5: KernelAutoOnline=sometimes: expected takeover, keep or delegate" in r.stderr,
          r.stderr)
    d = s.start()
    check(events(d, "settings-rejected"), "settings rejected")
    check(rd(s.root, AOB) == "offline", "defaults: takeover")
    check(d.stop() == 0 and rd(s.root, AOB) == "online", "restored")

    set_mode(s, "delegate")
    r = subprocess.run([s.args.memhpd, f"--root={s.root}", "--check"], capture_output=True, text=True)
    check(r.returncode == 0 and "KernelAutoOnline=delegate" in r.stdout, r.stdout + r.stderr)
    set_mode(s, "takeover")
    d = restart(s, "--dry-run")
    rec = events(d, "kernel-auto-online", result="dry-run")
    check(rec and "would set auto_online_blocks to offline, now online" in rec[0]["_line"], d.text())
    check(d.stop() == 0, "clean stop")
    check(rd(s.root, AOB) == "online" and saved(s.root) is None, "dry run wrote nothing")
    r = subprocess.run([s.args.memhpd, f"--root={s.root}", "--once"], capture_output=True, text=True)
    check(r.returncode == 0 and "event=conflict" in r.stderr, r.stderr)
    check(rd(s.root, AOB) == "online" and saved(s.root) is None, "--once changes no kernel setting")

# ------------------------------------------------------------------------ When=pressure: the reserve

PSI = "proc/pressure/memory"
RESERVE = "[Match]\nDevice=acpi-dimm\nBlock=700-799\n\n[Online]\nZone=movable\nWhen=pressure\nOnlineStep=2\n"
BREACH = b"some avg10=42.00 avg60=10.50 avg300=1.00 total=123456\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"


class FakePsi:
    """A unix socket where /proc/pressure/memory is: memhpd connects to it (only the open differs from
    the real file), writes its trigger, and polls it; the test signals a breach by sending the figures
    a read of the real file would give."""

    def __init__(self, root):
        import socket
        path = os.path.join(root, PSI)
        if os.path.exists(path):
            os.unlink(path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(4)
        self.conn = None

    def accept(self, timeout):
        """The trigger text memhpd wrote, or None if it did not connect within 'timeout'."""
        import socket
        self.server.settimeout(timeout)
        try:
            self.conn, _ = self.server.accept()
        except socket.timeout:
            return None
        self.conn.settimeout(5)
        data = b""
        while not data.endswith(b"\0"):
            chunk = self.conn.recv(64)
            check(chunk, f"memhpd closed the trigger after {data!r}")
            data += chunk
        return data

    def closed_by_peer(self, timeout):
        self.conn.settimeout(timeout)
        try:
            return self.conn.recv(64) == b""
        except OSError:
            return False

    def close(self):
        for s in (self.conn, self.server):
            if s:
                s.close()


def distances(root, rows):
    write(root, "sys/devices/system/node/online", f"0-{len(rows) - 1}\n")
    for n, row in enumerate(rows):
        write(root, f"sys/devices/system/node/node{n}/distance", " ".join(map(str, row)) + "\n")


def msg(rec):
    """The record's message: its line without the "memhpd: " prefix and the bracketed fields."""
    return re.sub(r"^.*?memhpd: ", "", rec["_line"]).rsplit(" [event=", 1)[0]


def reserve_steps(d):
    return [r for r in d.records() if r["event"] == "reserve-step"]


def scenario_pressure_reserve(s):
    """When=pressure: blocks kept offline as a reserve; the trigger exists only while the reserve holds
    a block; each breach onlines OnlineStep= blocks, the pressured node's first, then the nearest by
    distance; a reserve on a node that goes away is dropped with a record, and then nothing polls."""
    write(s.root, "etc/memhpd/policies.d/40-reserve.policy", RESERVE)
    # node1 is the pressured one (46% of its pages free, node0 87%), but with its page cache not short
    # by the watermark check (which would step on its own); from node1, node2 is nearer than node0.
    zi = os.path.join(s.root, "proc/zoneinfo")
    with open(zi) as f:
        text = f.read()
    n1 = text.index("Node 1, zone  Movable")
    text = text[:n1] + text[n1:].replace("pages free     65536", "pages free     30000", 1).replace(
        "nr_zone_active_file 0", "nr_zone_active_file 100000", 1)
    write(s.root, "proc/zoneinfo", text)
    distances(s.root, [[10, 30, 20], [30, 10, 20], [20, 20, 10]])
    s.kernel.add_node(2, uevent=False)
    psi = FakePsi(s.root)
    try:
        d = s.start()
        # memory67 is not in the reserve (Block=700-799): no reserve, no trigger.
        check(psi.accept(1.5) is None, "memhpd set a pressure trigger with no reserve")
        for index, node in ((700, 0), (701, 0), (702, 0), (710, 1), (711, 1), (720, 2), (721, 2)):
            s.kernel.add_block(index, node=node)
        trig = psi.accept(10)
        check(trig == b"some 100000 1000000\0", f"the trigger (10% of 1 s, NUL-terminated): {trig!r}")
        d.wait_record(lambda r: r["event"] == "reserved" and r.get("block") == "721", "memory721 reserved")
        reserved = [r for r in d.records() if r["event"] == "reserved"]
        check(len(reserved) == 7 and all(s.kernel.read(int(r["block"]), "state") == "offline" for r in reserved),
              f"seven blocks kept offline: {[r['block'] for r in reserved]}")
        check(not reserve_steps(d), "no step without pressure")

        def breach(n_before, want, node):
            psi.conn.sendall(BREACH)
            rec = d.wait_record(lambda r: r["event"] == "reserve-step" and len(reserve_steps(d)) > n_before,
                                f"reserve step {n_before + 1}")
            rec = reserve_steps(d)[n_before]
            check(rec.get("node") == str(node), f"step {n_before + 1} on node{node}: {rec}")
            check("PSI some avg10=42.00% avg60=10.50%" in msg(rec), f"the figures: {msg(rec)}")
            chosen = msg(rec).split("nearest node first: ")[1]
            check(chosen == " ".join(f"memory{i}" for i in want), f"step {n_before + 1} chose {chosen}, want {want}")
            s.wait_all_online(want)
            for i in want:
                on = d.wait_record(lambda r, i=i: r["event"] == "onlined" and r.get("block") == str(i),
                                   f"onlined memory{i}")
                check("reserve step" in msg(on) and on.get("zone") == "movable", f"record: {on}")

        breach(0, [710, 711], 1)          # the pressured node first
        breach(1, [720, 721], 1)          # then the nearest: node2 (20) before node0 (30)
        check(s.kernel.read(700, "state") == "offline", "memory700 still in the reserve")
        # A reserve block on a node that goes away: a removed record, nothing else lost.
        s.kernel.add_node(3)
        s.kernel.add_block(740, node=3)
        d.wait_record(lambda r: r["event"] == "reserved" and r.get("block") == "740", "memory740 reserved")
        shutil.rmtree(s.kernel.path(740))
        os.unlink(os.path.join(s.root, "sys/devices/system/node/node3/memory740"))
        s.sender.memory("remove", 740)
        shutil.rmtree(os.path.join(s.root, "sys/devices/system/node/node3"))
        s.sender.node("remove", 3)
        d.wait_record(lambda r: r["event"] == "node-removed" and r.get("node") == "3", "node3 removed")
        check(any(r["event"] == "removed" and r.get("block") == "740" and r.get("node") == "3" for r in d.records()),
              "the reserve block's removal is recorded with its node")
        # node0's blocks are taken out by someone else / removed: the reserve empties, the trigger goes.
        s.kernel.write(700, "state", "online")
        s.kernel.write(700, "valid_zones", "Normal")
        s.sender.memory("online", 700)
        d.wait_record(lambda r: r["event"] == "online-by-other" and r.get("block") == "700", "700 onlined by other")
        for i in (701, 702):
            shutil.rmtree(s.kernel.path(i))
            os.unlink(os.path.join(s.root, f"sys/devices/system/node/node0/memory{i}"))
            s.sender.memory("remove", i)
        d.wait_record(lambda r: r["event"] == "removed" and r.get("block") == "702", "removed 702")
        check(psi.closed_by_peer(10), "the trigger stays open with an empty reserve")
        check(len(reserve_steps(d)) == 2, "no step for blocks that left the reserve")
        # A new reserve block arms it again.
        s.kernel.add_block(730, node=0)
        check(psi.accept(10) == b"some 100000 1000000\0", "re-armed for a new reserve")
        # A reload with other settings sets the trigger again, with them.
        write(s.root, "etc/memhpd/memhpd.conf", SETTINGS + "MemoryPressureLimit=60%\nMemoryPressureDurationSec=2s\n")
        d.signal(signal.SIGHUP)
        check(psi.closed_by_peer(10), "the old trigger is kept after a reload that changed it")
        trig = psi.accept(10)
        check(trig == b"some 1200000 2000000\0", f"the new trigger: {trig!r}")
    finally:
        psi.close()


def scenario_pressure_cpuless(s):
    """A When=pressure reserve that matches by CpuLess= (far memory): a breach onlines its blocks. The step
    finds the blocks' policy with the node's facts, as the decision that reserved them did."""
    write(s.root, "etc/memhpd/policies.d/40-reserve.policy",
          "[Match]\nDevice=acpi-dimm\nCpuLess=yes\n\n[Online]\nZone=movable\nWhen=pressure\nOnlineStep=2\n")
    psi = FakePsi(s.root)
    try:
        d = s.start()
        for index in (710, 711):
            s.kernel.add_block(index, node=1)  # node1 has no CPUs in the snapshot
        check(psi.accept(10) is not None, "no trigger for a CpuLess= reserve")
        d.wait_record(lambda r: r["event"] == "reserved" and r.get("block") == "711", "memory711 reserved")
        psi.conn.sendall(BREACH)
        d.wait_record(lambda r: r["event"] == "reserve-step", "the step")
        s.wait_all_online([710, 711])
        for i in (710, 711):
            on = d.wait_record(lambda r, i=i: r["event"] == "onlined" and r.get("block") == str(i), f"onlined memory{i}")
            check("reserve step" in msg(on) and on.get("policy", "").endswith("40-reserve.policy:1"), f"record: {on}")
    finally:
        psi.close()


def scenario_pressure_fallback(s):
    """No PSI (no /proc/pressure): said once, then /proc/zoneinfo is read once a window while a reserve
    exists; a zoneinfo that does not parse decides nothing and the loop goes on. Bad trigger values in
    memhpd.conf are rejected with a clear error."""
    os.unlink(os.path.join(s.root, PSI))
    write(s.root, "etc/memhpd/policies.d/40-reserve.policy", RESERVE)
    write(s.root, "etc/memhpd/memhpd.conf", SETTINGS + "MemoryPressureDurationSec=500ms\n")
    zi = os.path.join(s.root, "proc/zoneinfo")
    with open(zi) as f:
        good = f.read()
    d = s.start()
    s.kernel.add_block(700, node=0)
    s.kernel.add_block(701, node=0)
    d.wait_record(lambda r: r["event"] == "pressure-source", "the no-PSI record")
    src = [r for r in d.records() if r["event"] == "pressure-source"]
    check("no PSI" in msg(src[0]) and "500 ms" in msg(src[0]), f"says why and what instead: {src[0]}")
    # Plenty free: no step. Garbage: no step, still running. Short: a step.
    time.sleep(1.5)
    check(not reserve_steps(d), "a step with plenty of free memory")
    write(s.root, "proc/zoneinfo", good.replace("present", "presnet"))
    time.sleep(1.2)
    check(not reserve_steps(d) and d.proc.poll() is None, "a broken zoneinfo decided something")
    n0 = good.index("Node 0, zone   Normal")
    short = good[:n0] + good[n0:].replace("pages free     32146", "pages free     0", 1)
    short = short.replace("pages free     211631", "pages free     100", 1)
    n1 = short.index("Node 1, zone  Movable")   # all nodes count: node1 has little free too
    short = short[:n1] + short[n1:].replace("pages free     65536", "pages free     1000", 1)
    write(s.root, "proc/zoneinfo", short)
    rec = d.wait_record(lambda r: r["event"] == "reserve-step", "a fallback step", timeout=10)
    check(re.match(r"memory running out: .* below their high watermarks .* \(no PSI\); node1: ", msg(rec))
          and rec.get("node") == "1", f"step record (node1 has the smallest free share): {rec}")
    s.wait_all_online([700, 701])
    check(len([r for r in d.records() if r["event"] == "pressure-source"]) == 1, "said once")
    d.stop()

    for bad, want in (("MemoryPressureLimit=0%", "expected a percentage from 1% to 100%"),
                     ("MemoryPressureDurationSec=20s", "expected a time span from 500ms to 10s")):
        write(s.root, "etc/memhpd/memhpd.conf", SETTINGS + bad + "\n")
        r = subprocess.run([s.args.memhpd, f"--root={s.root}", "--check"], capture_output=True, text=True)
        check(r.returncode != 0 and bad in r.stderr and want in r.stderr, f"{bad}: {r.returncode} {r.stderr}")
    s.daemon = None


# ---------------------------------------------------------------- memhpctl over the private socket (bus.c)

def ctl(s, *args, user=None, root=None):
    """Run memhpctl against this scenario's daemon; returns (exit status, stdout, stderr)."""
    cmd = [s.args.memhpctl, f"--root={root or s.root}", "--no-pager", *args]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def ctl_json(s, *args):
    import json
    rc, out, err = ctl(s, "status", "--json", *args)
    check(rc == 0, f"memhpctl status --json exited {rc}: {err}")
    try:
        return json.loads(out)
    except ValueError as e:
        raise Failure(f"memhpctl status --json is not JSON ({e}): {out[:300]}")


def tree_blocks(s):
    """{index: (state, zone or None)} as the fake sysfs says."""
    mem = os.path.join(s.root, "sys/devices/system/memory")
    out = {}
    for name in os.listdir(mem):
        if re.fullmatch(r"memory\d+", name):
            i = int(name[6:])
            st = s.kernel.read(i, "state")
            out[i] = (st, s.kernel.read(i, "valid_zones") if st == "online" else None)
    return out


def scenario_ctl_status(s):
    """memhpctl status (table and JSON) over the private socket equals the tree, and names the policy of
    each block memhpd onlined, and the other agent it finds; the socket is 0600."""
    write(s.root, "usr/lib/udev/rules.d/80-hotplug-cpu-mem.rules", UDEV_SUSE)
    d = s.start()
    for i in (40, 41, 42):
        s.kernel.add_block(i, node=1)
    s.wait_all_online([40, 41, 42, 67])
    s.marker(43, node=1)
    st = os.stat(os.path.join(s.root, "run/memhpd/bus"))
    check(oct(st.st_mode & 0o777) == "0o600", f"socket mode {oct(st.st_mode & 0o777)}")

    j = ctl_json(s)
    tree = tree_blocks(s)
    check(j["memhpd"]["blocks"] == len(tree), f"blocks {j['memhpd']['blocks']} != tree {len(tree)}")
    check(j["memhpd"]["policies"] == 1 and j["memhpd"]["block_size"] == 128 << 20, f"header: {j['memhpd']}")
    covered = {}
    for run in j["memory"]:
        first, _, last = run["block"].partition("-")
        first, last = int(first), int(last or first)
        start, _, end = run["range"].partition("-")
        check(int(start, 16) == first << 27 and int(end, 16) == ((last + 1) << 27) - 1, f"range of {run}")
        check(run["size"] == (last - first + 1) << 27, f"size of {run}")
        for i in range(first, last + 1):
            check(i not in covered, f"memory{i} in two runs")
            covered[i] = run
    check(sorted(covered) == sorted(tree), f"runs cover {sorted(covered)}, the tree has {sorted(tree)}")
    for i, (state, zone) in tree.items():
        run = covered[i]
        check(run["state"] == state, f"memory{i}: state {run['state']} != {state}")
        if zone:
            check(run["zone"] == zone, f"memory{i}: zone {run['zone']} != {zone}")
    for i in (40, 41, 42, 43, 67):
        check(covered[i]["decided_by"] == "policy" and
              covered[i]["policy"].endswith("/etc/memhpd/policies.d/50-test.policy:1"),
              f"memory{i} decided by {covered[i]['decided_by']} {covered[i]['policy']}")
    for i in range(0, 8):
        check(covered[i]["decided_by"] == "boot", f"boot block memory{i}: {covered[i]['decided_by']}")
    run40 = covered[40]
    check(run40["block"] == "40-43" and run40["node"] == 1 and run40["device"] == "acpi-dimm",
          f"the hot-added DIMM blocks are one run: {run40}")
    check({n["node"] for n in j["nodes"]} == {0, 1}, f"nodes: {j['nodes']}")
    agents = j["conflicting_agents"]
    check(j["memhpd"]["conflicts"] == 1 and len(agents) == 1 and agents[0]["agent"] == "udev" and
          agents[0]["file"] == "/usr/lib/udev/rules.d/80-hotplug-cpu-mem.rules:2", f"conflicts: {agents}")

    jb = ctl_json(s, "--blocks")
    check(len(jb["memory"]) == len(tree) and all("-" not in b["block"] for b in jb["memory"]),
          f"--blocks: {len(jb['memory'])} objects for {len(tree)} blocks")

    rc, out, err = ctl(s, "status")
    check(rc == 0, f"status exited {rc}: {err}")
    lines = out.splitlines()
    check(lines[0].startswith("memhpd ") and "Managing" in lines[0], f"header: {lines[0]}")
    title = [l for l in lines if l.startswith("RANGE")]
    check(title and "DECIDED BY" in title[0], "column titles")
    check(any(l.startswith("Conflict: udev /usr/lib/udev/rules.d/80-hotplug-cpu-mem.rules:2: ") for l in lines),
          f"the conflict under the header: {out}")
    row = [l for l in lines if re.search(r"\s40-43\s", l)]
    check(row and "acpi-dimm" in row[0] and "policy /etc/memhpd/policies.d/50-test.policy:1" in row[0]
          and "512M" in row[0], f"the DIMM's row: {row}")
    rc, out2, _ = ctl(s, "status", "--no-legend")
    check(rc == 0 and not any(l.startswith(("RANGE", "memhpd", "Node")) for l in out2.splitlines()) and
          len(out2.splitlines()) == len(j["memory"]), f"--no-legend: {out2}")
    check("\033[" not in out, "no colour when not on a terminal")
    return d


class BusPeer:
    """A raw D-Bus peer on the private socket: authenticates, then only listens (p2p: every signal memhpd
    emits reaches it)."""

    def __init__(self, path):
        import socket
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sock.sendall(b"\0AUTH EXTERNAL " + str(os.geteuid()).encode().hex().encode() + b"\r\n")
        check(self.sock.recv(256).startswith(b"OK "), "AUTH EXTERNAL accepted")
        self.sock.sendall(b"BEGIN\r\n")
        self.sock.settimeout(0.05)
        self.data = b""

    def pump(self, seconds):
        import socket
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            check(chunk, "memhpd closed the connection")
            self.data += chunk
        return self.data.count(b"PropertiesChanged")


def scenario_ctl_signals(s):
    """PropertiesChanged reaches a connected peer after the inventory changes, coalesced (a 256-block burst
    gives far fewer signals than blocks), and nothing while idle."""
    d = s.start()
    peer = BusPeer(os.path.join(s.root, "run/memhpd/bus"))
    check(peer.pump(1.0) == 0, "no signal while nothing happens")
    s.marker(40, node=1)
    n = peer.pump(0.5)
    check(n >= 1 and b"Runs" in peer.data and b"Status" in peer.data, f"a change signal after a hot-add: {n}")
    blocks = range(1024, 1024 + 256)
    for i in blocks:
        s.kernel.add_block(i, node=0)
    s.wait_all_online(blocks)
    s.marker(2000)
    total = peer.pump(0.5)
    print(f"ctl-signals: {total - n} PropertiesChanged for 257 blocks added and onlined")
    check(total - n < 128, f"{total - n} signals for 257 blocks: not coalesced")
    peer.data = b""
    check(peer.pump(1.0) == 0, "no signal while idle again")
    # A client that goes away mid-way: memhpd drops it and serves the next one.
    peer.sock.close()
    rc, out, err = ctl(s, "status", "--no-legend")
    check(rc == 0 and "1024-" in out, f"status after a peer left: {rc} {err}")
    return d


EXPLAIN_POLICIES = {
    "10-virtio.policy": "[Match]\nDevice=virtio-mem\n\n[Online]\nZone=kernel\n",
    "60-kernel.policy": "[Match]\nDevice=any\n\n[Online]\nZone=kernel\n",
}


def scenario_ctl_explain(s):
    """explain: an unmatched policy (Device=), the one that decides, a shadowed one; bad block names."""
    for name, text in EXPLAIN_POLICIES.items():
        write(s.root, f"etc/memhpd/policies.d/{name}", text)
    d = s.start()
    s.marker(40, node=1)
    rc, out, err = ctl(s, "explain", "memory40")
    check(rc == 0, f"explain exited {rc}: {err}")
    lines = out.splitlines()

    def line(pat):
        m = [l for l in lines if re.search(pat, l)]
        check(m, f"no line matching {pat!r} in:\n{out}")
        return m[0]
    line(r"no match\s+/etc/memhpd/policies.d/10-virtio.policy:1: Device= does not list acpi-dimm")
    line(r"decides\s+/etc/memhpd/policies.d/50-test.policy:1: matches$")
    line(r"shadowed\s+/etc/memhpd/policies.d/60-kernel.policy:1: matches, but "
         r"/etc/memhpd/policies.d/50-test.policy:1 matched first")
    order = [i for i, l in enumerate(lines) if ".policy:1" in l and ("no match" in l or "decides" in l or "shadowed" in l)]
    check(len(order) == 3 and "10-virtio" in lines[order[0]] and "60-kernel" in lines[order[2]], "policies in order")
    line(r"Decision: online_movable by /etc/memhpd/policies.d/50-test.policy:1: Zone=movable")
    line(r"decided by: policy /etc/memhpd/policies.d/50-test.policy:1")
    line(r"node: 1$")
    # Boot memory is never classified by the daemon: explain classifies it for its answer.
    rc, out, err = ctl(s, "explain", "3")
    check(rc == 0 and re.search(r"device: boot \(classified for this answer\)", out) and
          "decided by: boot" in out and "Device= does not list boot" in out, f"explain memory3: {rc} {out} {err}")

    # Zone=auto: the figures behind the decision (node 0's kernel and movable memory, the ratio).
    write(s.root, "etc/memhpd/policies.d/05-auto.policy", "[Match]\nBlock=41\n\n[Online]\nZone=auto\nMaxMovableRatio=50%\n")
    d.signal(signal.SIGHUP)
    d.wait_record(lambda r: len([x for x in d.records() if x["event"] == "policy-loaded"]) >= 2, "the reload")
    s.marker(41, node=0)
    rc, out, err = ctl(s, "explain", "memory41")
    lines = out.splitlines()
    for pat in (r"decides\s+/etc/memhpd/policies.d/05-auto.policy:1: matches$", r"node kernel: \d+ MiB$",
                r"node movable: \d+ MiB$", r"movable:kernel if movable: \d+%$", r"MaxMovableRatio: 50%$",
                r"Decision: online_(kernel|movable) by /etc/memhpd/policies.d/05-auto.policy:1: Zone=auto: node 0 has"):
        line(pat)
    zone = s.kernel.read(41, "valid_zones")
    ratio = int(re.search(r"movable:kernel if movable: (\d+)%", out).group(1))
    check((zone == "Movable") == (ratio <= 50), f"memory41 went {zone} with the ratio at {ratio}% (limit 50%)")

    for bad, want_rc, want in (("memory9999", 1, "memory9999 does not exist"),
                               ("memoryX", 2, "not a memory block"), ("-5", 2, ""), ("memory", 2, "not a memory block")):
        rc, out, err = ctl(s, "explain", "--", bad) if bad.startswith("-") else ctl(s, "explain", bad)
        check(rc == want_rc and want in err, f"explain {bad}: {rc} {err!r}")
    rc, _, err = ctl(s, "explain")
    check(rc == 2 and "argument" in err, f"explain without a block: {rc} {err!r}")
    rc, _, err = ctl(s, "frobnicate")
    check(rc == 2 and "Unknown command" in err, f"unknown verb: {rc} {err!r}")
    check(d.proc.poll() is None, "memhpd still runs")
    return d


def scenario_ctl_verify(s):
    """verify: no drift after start; a new policy with another zone (memhpctl reload) makes the block it
    onlined drift, listed with exit 1; a DIMM block the kernel onlined before memhpd started is drift too,
    boot memory never is."""
    write(s.root, "etc/memhpd/policies.d/50-test.policy", "[Match]\nDevice=any\nNode=1\n\n[Online]\nZone=movable\n")
    d = s.start()
    s.marker(40, node=1)
    rc, out, err = ctl(s, "verify")
    check(rc == 0 and "No drift" in out, f"verify on a clean host: {rc} {out} {err}")

    write(s.root, "etc/memhpd/policies.d/40-kernel.policy", "[Match]\nBlock=40-47\n\n[Online]\nZone=kernel\n")
    write(s.root, "etc/memhpd/policies.d/60-dimm.policy", "[Match]\nBlock=3,66\n\n[Online]\nZone=movable\n")
    rc, out, err = ctl(s, "reload")
    check(rc == 0, f"reload exited {rc}: {err}")
    d.wait_record(lambda r: len([x for x in d.records() if x["event"] == "policy-loaded"]) >= 2,
                  "the reload's policy-loaded")
    check(re.search(r"Reloading, as asked on the bus by uid=0 pid=\d+ comm=memhpctl", d.text()),
          "the reload names who asked")
    rc, out, err = ctl(s, "verify")
    drifts = [l for l in out.splitlines() if "drift:" in l]
    check(rc == 1, f"verify with drift exited {rc}: {out} {err}")
    want = {
        "memory40": "memory40: zone drift: online in zone Movable (decided by policy), but "
                    "/etc/memhpd/policies.d/40-kernel.policy:1 says Zone=kernel",
        "memory66": "memory66: zone drift: online in zone Normal (online since before memhpd started), but "
                    "/etc/memhpd/policies.d/60-dimm.policy:1 says Zone=movable",
    }
    for name, line in want.items():
        check(line in drifts, f"{name} drifts: {out}")
    check(len(drifts) == 2, f"only memory40 and memory66 drift (memory3 is boot memory): {out}")

    # Another agent appears (no reload needed: verify looks now).
    write(s.root, "usr/lib/udev/rules.d/80-hotplug-cpu-mem.rules", UDEV_SUSE)
    rc, out, err = ctl(s, "verify")
    check(rc == 1 and any(l.startswith("udev: agent drift: /usr/lib/udev/rules.d/80-hotplug-cpu-mem.rules:2: ")
                          for l in out.splitlines()) and "3 drifts." in out, f"verify with a udev rule: {rc} {out}")

    write(s.root, "etc/memhpd/policies.d/50-test.policy", "[Match]\nDevice=any\n[Online\nZone=kernel\n")
    rc, out, err = ctl(s, "reload")
    check(rc == 1 and "errors" in err, f"reload of a broken policy: {rc} {err!r}")
    check(d.proc.poll() is None, "memhpd still runs")
    return d


def scenario_ctl_access(s):
    """A daemon that is not running: a sentence and exit 3. A caller that is not root cannot use the
    private socket (exit 4), and memhpd keeps serving root."""
    rc, out, err = ctl(s, "status")
    check(rc == 3 and "memhpd is not running" in err and "org.freedesktop" not in err, f"not running: {rc} {err!r}")
    open(os.path.join(s.root, "run/memhpd/bus"), "w").close() if os.path.isdir(os.path.join(s.root, "run/memhpd")) \
        else None
    d = s.start()
    os.chmod(s.root, 0o755)  # let the unprivileged caller reach the socket itself
    for verb in ("status", "reload"):
        rc, out, err = ctl(s, verb, user=65534)
        check(rc == 4 and "Permission denied" in err, f"{verb} as nobody: {rc} {err!r}")
    rc, out, err = ctl(s, "status")
    check(rc == 0, f"status as root after the refusals: {rc} {err}")
    d.stop()
    rc, out, err = ctl(s, "status")
    check(rc == 3 and "not running" in err, f"after stop: {rc} {err!r}")
    check(not os.path.exists(os.path.join(s.root, "run/memhpd/bus")), "the socket is removed at stop")

    # A planted /run/memhpd symlink: no socket through it, said once, memhpd manages memory all the same.
    shutil.rmtree(os.path.join(s.root, "run/memhpd"))
    os.makedirs(os.path.join(s.root, "tmp/elsewhere"))
    os.symlink("../tmp/elsewhere", os.path.join(s.root, "run/memhpd"))
    d = s.start()
    s.marker(40, node=1)
    said = [l for l in d.text().splitlines() if "for the control channel's socket" in l]
    check(len(said) == 1 and "serving no private socket" in said[0], f"said once: {said}")
    check(os.listdir(os.path.join(s.root, "tmp/elsewhere")) == [], "nothing made through the symlink")
    rc, out, err = ctl(s, "status")
    check(rc == 3 and "not running" in err, f"no socket: {rc} {err!r}")
    check(d.stop() == 0, "clean stop")
    s.daemon = None
METRICS_DIR = "var/lib/prometheus/node-exporter"
METRICS_FILE = f"/{METRICS_DIR}/memhpd.prom"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def parse_metrics(text):
    """{(name, ((label, value), ...)): float} from the text format; fails on a line it cannot read."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        check(m, f"unreadable metrics line: {line!r}")
        labels = tuple(LABEL.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def tree_inventory(root):
    """What the fake sysfs holds: {(state, zone, node): blocks}, zone only for online blocks."""
    mem = os.path.join(root, "sys/devices/system/memory")
    counts = {}
    for e in os.listdir(mem):
        if not re.fullmatch(r"memory\d+", e):
            continue
        with open(os.path.join(mem, e, "state")) as f:
            state = f.read().strip()
        zone = ""
        if state == "online":
            with open(os.path.join(mem, e, "valid_zones")) as f:
                zone = f.read().strip()
        nodes = [n[4:] for n in os.listdir(os.path.join(mem, e)) if re.fullmatch(r"node\d+", n)]
        key = (state, zone, nodes[0] if nodes else "")
        counts[key] = counts.get(key, 0) + 1
    return counts


def metrics_inventory(samples, name):
    counts = {}
    for (n, labels), v in samples.items():
        if n == name:
            lab = dict(labels)
            key = (lab["state"], lab["zone"], lab["node"])
            counts[key] = counts.get(key, 0) + int(v)
    return counts


def scenario_metrics(s):
    """MetricsFile=: a missing directory, then a read-only one, cost one warning each and memhpd goes
    on; once the directory is writable the file comes back, and after a burst it equals the tree."""
    path = os.path.join(s.root, METRICS_FILE.lstrip("/"))
    mdir = os.path.dirname(path)
    # More boot blocks than memhpd reads the zones of in one write (METRICS_ZONE_READS_MAX, 2048).
    for i in range(20000, 22100):
        s.kernel.add_block(i, node=0, state="online", zones="Normal", dimm=False, uevent=False)
    # An offline block in the quarantine (quarantine.h): never onlined, counted as quarantined.
    q = 30000
    s.kernel.add_block(q, node=0, uevent=False)
    write(s.root, "var/lib/memhpd/quarantine",
          f"0x{q << 27:x}-0x{((q + 1) << 27) - 1:x} device=acpi-dimm id=PNP0C80:00 reason=memory-failure "
          "pfn=0x1 pages=1 type=free_buddy_page result=Recovered time=1764700000\n")
    d = s.start()
    s.wait_all_online([67])  # the snapshot's offline block, onlined by the start-up scan

    def warnings():
        return [l for l in d.text().splitlines() if "Cannot write MetricsFile=" in l]

    def add_and_online(blocks, node=0):
        for i in blocks:
            s.kernel.add_block(i, node=node)
        s.wait_all_online(blocks)

    # Missing: said once, however many changes follow.
    end = time.monotonic() + 10
    while not warnings() and time.monotonic() < end:
        time.sleep(0.05)
    check(len(warnings()) == 1 and "No such file or directory" in warnings()[0], f"one warning: {warnings()}")
    add_and_online(range(4096, 4100))
    s.marker(4100)
    time.sleep(1.2)  # past the coalescing window: the write after these changes has happened
    check(len(warnings()) == 1, f"a missing directory is said once: {warnings()}")

    # Read-only (a read-only bind mount: root ignores mode bits): one more warning, then none.
    os.makedirs(mdir)
    subprocess.run(["mount", "--bind", mdir, mdir], check=True)
    subprocess.run(["mount", "-o", "remount,ro,bind", mdir], check=True)
    try:
        add_and_online(range(4200, 4204))
        end = time.monotonic() + 10
        while len(warnings()) < 2 and time.monotonic() < end:
            time.sleep(0.05)
        check(len(warnings()) == 2 and "Read-only file system" in warnings()[1], f"EROFS said: {warnings()}")
        add_and_online(range(4204, 4208))
        s.marker(4208)
        time.sleep(1.2)
        check(len(warnings()) == 2, f"a read-only directory is said once: {warnings()}")
        check(not os.listdir(mdir), f"nothing written: {os.listdir(mdir)}")
    finally:
        subprocess.run(["umount", mdir], check=True)
    check(d.proc.poll() is None, "memhpd runs on")

    # Writable: one change, and without any other the next writes learn every boot block's zone.
    s.marker(4300)
    end = time.monotonic() + 10
    text = ""
    while time.monotonic() < end:
        if os.path.exists(path):
            with open(path) as f:
                text = f.read()
            if text and 'zone="unknown"' not in text:
                break
        time.sleep(0.1)
    check(text and 'zone="unknown"' not in text, f"zones still unknown:\n{text}")
    # The snapshot's DIMM blocks online at start are named as such, not "unknown" (the synthetic boot
    # blocks beyond /proc/iomem may stay unknown: no kernel has RAM outside it).
    # memory66 (kernel zone) is the only acpi-dimm block online at start outside ZONE_MOVABLE.
    check('memhpd_memory_blocks{state="online",zone="Normal",node="0",device="acpi-dimm"} 1\n' in text,
          f"the DIMM blocks online at start have their kind:\n{text}")

    # Writable again: a burst over two nodes, then the file equals the tree.
    t0 = time.monotonic()
    burst0, burst1 = range(8192, 8192 + 384), range(12288, 12288 + 128)
    for i in burst0:
        s.kernel.add_block(i, node=0)
    for i in burst1:
        s.kernel.add_block(i, node=1)
    s.wait_all_online(list(burst0) + list(burst1))
    s.marker(16384)
    expected = tree_inventory(s.root)
    end = time.monotonic() + 10
    samples, got = {}, {}
    while time.monotonic() < end:
        try:
            with open(path) as f:
                samples = parse_metrics(f.read())
            got = metrics_inventory(samples, "memhpd_memory_blocks")
            if got == expected:
                break
        except FileNotFoundError:
            pass
        time.sleep(0.1)
    check(got == expected, f"metrics {got} != tree {expected}")
    print(f"metrics: file equal to the tree {time.monotonic() - t0:.2f} s after the burst began")
    check(any("Wrote MetricsFile=" in l and "again" in l for l in d.text().splitlines()), "recovery said")
    check(os.stat(path).st_mode & 0o777 == 0o644, f"mode {oct(os.stat(path).st_mode)}")
    check(os.listdir(mdir) == ["memhpd.prom"], f"no temporary file left: {os.listdir(mdir)}")

    size = samples[("memhpd_block_size_bytes", ())]
    check(size == 128 << 20, f"block size {size}")
    for (n, labels), v in samples.items():
        if n == "memhpd_memory_blocks":
            check(samples[("memhpd_memory_bytes", labels)] == v * size, f"bytes of {labels}")
    dimm = sum(v for (n, labels), v in samples.items()
               if n == "memhpd_memory_blocks" and dict(labels)["device"] == "acpi-dimm")
    added = 4 + 1 + 8 + 1 + 1 + len(burst0) + len(burst1) + 1
    check(dimm >= added, f"acpi-dimm blocks {dimm} < {added}")
    onlined = [r for r in d.records() if r["event"] == "onlined"]
    check(samples[("memhpd_blocks_onlined_total", ())] == len(onlined),
          f"onlined_total {samples[('memhpd_blocks_onlined_total', ())]} != {len(onlined)} records")
    check(samples[("memhpd_online_failures_total", ())] == 0, "no failures")
    check(samples[("memhpd_events_lost_total", ())] == 0, "no events lost")
    check(samples[("memhpd_quarantined_blocks", ())] == 1, "memory30000 quarantined")
    check(s.kernel.read(q, "state") == "offline", "the quarantined block stays offline")
    # Every hot-added block is in the histogram (the one onlined at the start-up scan is not a hot-add).
    hist = samples[("memhpd_hotadd_online_latency_seconds_count", ())]
    check(hist == added, f"latency count {hist} != {added} hot-added blocks")
    buckets = sorted(((float(dict(l)["le"]), v) for (n, l), v in samples.items()
                      if n == "memhpd_hotadd_online_latency_seconds_bucket"))
    check(buckets[-1] == (float("inf"), hist), f"+Inf bucket {buckets[-1]}")
    check(all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), "cumulative buckets")
    check(samples[("memhpd_hotadd_online_latency_seconds_sum", ())] > 0, "latency sum")
    return d
# ---------------------------------------------------------------------------------------- poison
TRACEFS = "sys/kernel/tracing"
INSTANCE = TRACEFS + "/instances/memhpd"
EVENT = INSTANCE + "/events/ras/memory_failure_event"
QUARANTINE = "var/lib/memhpd/quarantine"
FORMATS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "tracefs")


def fake_tracefs(root, kernel="6.12"):
    """A tracefs with memhpd's instance already there (mkdir answers EEXIST, as for an instance left by a
    crash) and trace_pipe a FIFO the test writes event lines into."""
    with open(os.path.join(FORMATS, f"memory_failure_event-{kernel}.format")) as f:
        write(root, EVENT + "/format", f.read())
    write(root, EVENT + "/enable", "0\n")
    os.mkfifo(os.path.join(root, INSTANCE, "trace_pipe"))


class TracePipe:
    def __init__(self, root):
        self.fd = os.open(os.path.join(root, INSTANCE, "trace_pipe"), os.O_WRONLY | os.O_NONBLOCK)

    def event(self, pfn, type_="free buddy page", result="Recovered"):
        self.line(f"              sh-108     [001] .....     7.372568: memory_failure_event: pfn {pfn:#x}: "
                  f"recovery action for {type_}: {result}")

    def line(self, text):
        os.write(self.fd, (text + "\n").encode())

    def close(self):
        os.close(self.fd)


def quarantine_text(root):
    p = os.path.join(root, QUARANTINE)
    return open(p).read() if os.path.exists(p) else None


PFN67 = 67 * (0x8000000 // 4096) + 0x123     # a page of memory67 (128 MiB blocks, 4 KiB pages)


def scenario_poison(s):
    """A memory_failure_event from the private tracefs instance quarantines the page's block (file under
    var/lib/memhpd, one 'poisoned' record); garbage lines are ignored; the event is disabled at stop; kill -9
    and a restart keep the block offline ('quarantined'), while other blocks are still onlined."""
    fake_tracefs(s.root)
    d = s.start()
    check(rd(s.root, EVENT + "/enable") == "1", "the event is enabled in memhpd's instance")
    s.wait_all_online([67])
    pipe = TracePipe(s.root)
    pipe.line("garbage that is no event")
    pipe.line("x: memory_failure_event: pfn zz: recovery action for a: b")
    pipe.event(PFN67)
    rec = d.wait_record(lambda r: r["event"] == "poisoned", "the poisoned record")
    check(rec.get("block") == "67" and rec.get("pfn") == hex(PFN67) and rec.get("page_type") == "free_buddy_page"
          and rec.get("mf_result") == "Recovered" and rec.get("reason") == "memory-failure"
          and rec.get("range") == "0x218000000-0x21fffffff" and rec.get("result") == "ok", rec)
    q = quarantine_text(s.root)
    check(q and "\n0x218000000-0x21fffffff device=acpi-dimm id=PNP0C80:00" in q and f"pfn={PFN67:#x}" in q
          and "reason=memory-failure" in q, f"quarantine file: {q}")
    check("Cannot parse a memory_failure_event line" in d.text(), "the bad event line is said")
    # A second page of the same block: counted, still one range.
    pipe.event(PFN67 + 5, "dirty LRU page", "Delayed")
    d.wait_record(lambda r: r["event"] == "poisoned" and r.get("result") == "already", "the second page")
    q = quarantine_text(s.root)
    check(q.count("0x218000000-") == 1 and "pages=2" in q, q)
    # Other blocks are still onlined.
    s.marker(1000)
    pipe.close()

    # kill -9, the block goes offline (someone drains it), restart: the quarantine holds.
    d.proc.kill()
    d.proc.wait()
    s.kernel.write(67, "state", "offline")
    s.kernel.write(67, "valid_zones", "Normal Movable")
    d = s.start()
    rec = d.wait_record(lambda r: r["event"] == "quarantined", "the quarantined record")
    check(rec.get("block") == "67" and rec.get("reason") == "memory-failure" and rec.get("action") == "none", rec)
    check(s.kernel.read(67, "state") == "offline", "memory67 stays offline")
    check(not s.onlined(67), "memory67 not onlined")
    s.marker(1001)
    check(d.stop() == 0, "clean stop")
    check(rd(s.root, EVENT + "/enable") == "0", "the event is disabled at stop")


def fake_kpageflags(root, pfn, kb=4):
    """/proc/kpageflags with KPF_HWPOISON (bit 19) at 'pfn' (a sparse file, 8 bytes a page), and
    /proc/meminfo's HardwareCorrupted at 'kb'."""
    with open(os.path.join(root, "proc/meminfo")) as f:
        text = f.read()
    write(root, "proc/meminfo", re.sub(r"HardwareCorrupted:\s+\d+ kB", f"HardwareCorrupted:   {kb} kB", text))
    with open(os.path.join(root, "proc/kpageflags"), "wb") as f:
        f.seek(pfn * 8)
        f.write((1 << 19 | 1 << 5).to_bytes(8, "little"))   # HWPOISON, LRU
        f.seek((pfn + 1000) * 8)
        f.write((1 << 5).to_bytes(8, "little"))


def scenario_poison_scan(s):
    """Soft-offlined pages fire no event: at start, with HardwareCorrupted > 0, /proc/kpageflags is scanned
    over the online hot-added blocks and memory67's poisoned page quarantines it (reason kpageflags);
    with HardwareCorrupted 0 nothing is read."""
    fake_kpageflags(s.root, PFN67, kb=0)
    d = s.start()
    s.wait_all_online([67])
    check("in /proc/kpageflags in" not in d.text(), "HardwareCorrupted 0: no scan")
    check(d.stop() == 0, "clean stop")
    fake_kpageflags(s.root, PFN67, kb=4)
    d = restart(s)
    rec = d.wait_record(lambda r: r["event"] == "poisoned", "the poisoned record of the scan")
    check(rec.get("block") == "67" and rec.get("reason") == "kpageflags" and rec.get("pfn") == hex(PFN67), rec)
    check(re.search(r"scanned [1-9]\d* online hot-added blocks? in /proc/kpageflags in \d+ ms, 1 newly quarantined", d.text()),
          d.text())
    check("reason=kpageflags" in quarantine_text(s.root), quarantine_text(s.root))
    check(d.stop() == 0, "clean stop")


def scenario_poison_damaged(s):
    """A damaged quarantine file fails closed: kept aside, no hot-added block onlined ('quarantined',
    reason=damaged), and a restart remembers it; a bad field keeps its range only. Without tracefs memhpd
    says so once and keeps onlining."""
    write(s.root, QUARANTINE, "0x218000000-0x21fffffff reason=memory-failure\n&&& not a range\n")
    d = s.start()
    rec = d.wait_record(lambda r: r["event"] == "quarantined", "a quarantined record")
    check(rec.get("block") == "67" and rec.get("reason") == "memory-failure", rec)
    s.kernel.add_block(1000, node=0)
    rec = d.wait_record(lambda r: r["event"] == "quarantined" and r.get("block") == "1000", "memory1000 refused")
    check(rec.get("reason") == "damaged" and "quarantine is damaged (line 2" in rec["_line"], rec)
    check(s.kernel.read(1000, "state") == "offline", "memory1000 left offline")
    check("/var/lib/memhpd/quarantine is damaged: line 2 does not start with a range" in d.text(), d.text())
    kept = [n for n in os.listdir(os.path.join(s.root, "var/lib/memhpd")) if n.startswith("quarantine.damaged-")]
    check(len(kept) == 1, f"damaged file kept aside: {kept}")
    check("&&& not a range" in open(os.path.join(s.root, "var/lib/memhpd", kept[0])).read(), "kept verbatim")
    check("!damaged" in quarantine_text(s.root), "unbounded persisted")
    check("tracefs is not mounted" in d.text() and d.text().count("memory failures are not watched") == 1,
          "missing tracefs said once")
    d.proc.kill()
    d.proc.wait()
    d = s.start()
    d.wait_record(lambda r: r["event"] == "quarantined" and r.get("block") == "1000" and r.get("reason") == "damaged",
                  "still refused after a restart")
    check(d.stop() == 0, "clean stop")

    # Only a bad field: that range stays quarantined, nothing else is.
    write(s.root, QUARANTINE, "0x1f40000000-0x1f47ffffff reason=memory-failure colour=red\n")
    d = s.start()
    rec = d.wait_record(lambda r: r["event"] == "quarantined" and r.get("block") == "1000", "memory1000 refused")
    check(rec.get("reason") == "unknown" and rec.get("range") == "0x1f40000000-0x1f47ffffff", rec)
    s.wait_all_online([67])
    check(d.stop() == 0, "clean stop")


def scenario_poison_offline(s):
    """[Poison] Action=offline Threshold=2: the first poisoned page quarantines memory67 and leaves it online;
    the second takes it offline through the offline engine (its records); it is never onlined again,
    also after a restart; other blocks are still onlined."""
    write(s.root, "etc/memhpd/policies.d/50-test.policy", MOVABLE + "\n[Poison]\nAction=offline\nThreshold=2\n")
    fake_tracefs(s.root)
    d = s.start()
    s.wait_all_online([67])
    pipe = TracePipe(s.root)
    pipe.event(PFN67)
    d.wait_record(lambda r: r["event"] == "poisoned" and r.get("result") == "ok", "the first poisoned record")
    check("1 of Threshold=2 poisoned pages" in d.text(), d.text())
    check(s.kernel.read(67, "state") == "online", "below the threshold: still online")
    pipe.event(PFN67 + 1)
    rec = d.wait_record(lambda r: r["event"] == "offlined" and r.get("block") == "67", "memory67 offlined")
    check(s.kernel.read(67, "state") == "offline", "memory67 offline")
    check(any(r["event"] == "offline-started" and r.get("block") == "67" for r in d.records()), "the attempt recorded")
    pipe.close()
    s.marker(1000)
    d.proc.kill()
    d.proc.wait()
    d = s.start()
    s.marker(1001)
    check(s.kernel.read(67, "state") == "offline" and not s.onlined(67), "memory67 stays offline after a restart")
    check(events(d, "quarantined", block="67"), "...because it is quarantined:\n" + d.text())
    check(d.stop() == 0, "clean stop")


def scenario_quarantine_ctl(s):
    """memhpctl quarantine list shows what the file holds; clear TARGET (root) removes it, is audited with
    who asked, and the offline block is decided again (onlined); bad targets and non-root are refused."""
    write(s.root, QUARANTINE, "0x218000000-0x21fffffff device=acpi-dimm id=PNP0C80:00 reason=memory-failure "
                              "pfn=0x218123 pages=2 type=free_buddy_page result=Recovered time=1764700000\n"
                              "0x1f40000000-0x1f47ffffff reason=ehwpoison time=1764700001\n")
    d = s.start()
    d.wait_record(lambda r: r["event"] == "quarantined" and r.get("block") == "67", "memory67 refused")
    run67 = [r for r in ctl_json(s)["memory"] if r["block"] == "67"]
    check(run67 and run67[0].get("decided_by") == "quarantined", f"memhpctl status: {run67}")
    rc, out, err = ctl(s, "quarantine")
    check(rc == 0, f"list: {rc} {err}")
    lines = out.splitlines()
    check(lines[0].startswith("RANGE") and len(lines) == 3, out)
    check("0x218000000-0x21fffffff" in lines[1] and "memory67 " in lines[1] and "PNP0C80:00" in lines[1]
          and "memory-failure" in lines[1] and " 2 " in lines[1] and "0x218123" in lines[1]
          and "2025-12-02" in lines[1] and "free_buddy_page/Recovered" in lines[1], lines[1])
    check("memory1000 " in lines[2] and "ehwpoison" in lines[2], lines[2])
    rc, out2, _ = ctl(s, "quarantine", "list")
    check(rc == 0 and out2 == out, "list is the default")

    for bad in ("memory", "0x10", "a=b", "memory5-2"):
        rc, _, err = ctl(s, "quarantine", "clear", bad)
        check(rc == 1 and "is not a quarantine target" in err, f"clear {bad}: {rc} {err}")
    rc, _, err = ctl(s, "quarantine", "clear")
    check(rc == 2, f"clear without a target: {rc} {err}")
    rc, _, err = ctl(s, "quarantine", "frobnicate")
    check(rc == 2 and "expected list or clear" in err, err)
    rc, out, _ = ctl(s, "quarantine", "clear", "memory5")
    check(rc == 1 and "Nothing quarantined matches memory5" in out, out)
    rc, _, err = ctl(s, "quarantine", "clear", "memory67", user=65534)
    check(rc == 4 and "Permission denied" in err, f"as nobody: {rc} {err}")

    rc, out, err = ctl(s, "quarantine", "clear", "PNP0C80:00")
    check(rc == 0 and "Cleared PNP0C80:00" in out, f"{rc} {out} {err}")
    rec = d.wait_record(lambda r: r["event"] == "quarantine-cleared" and r.get("result") == "ok", "the cleared record")
    check(rec.get("caller", "").startswith("uid=0") and "memhpctl" in rec.get("caller", ""), rec)
    s.wait_all_online([67])
    d.wait_record(lambda r: r["event"] == "onlined" and r.get("block") == "67", "memory67 decided again: onlined")
    q = quarantine_text(s.root)
    check("0x218000000" not in q and "0x1f40000000" in q, q)
    rc, out, _ = ctl(s, "quarantine")
    check(rc == 0 and "memory67 " not in out and "memory1000 " in out, out)
    rc, out, _ = ctl(s, "quarantine", "clear", "all")
    check(rc == 0, out)
    check("0x1f40000000" not in quarantine_text(s.root), "all cleared")
    rc, out, _ = ctl(s, "quarantine")
    check(rc == 0 and "Nothing is quarantined." in out, out)


# ---------------------------------------------------- offline engine and drains (offline-worker.c, drain.c)
OFFLINE_SETTINGS = "[Daemon]\nOfflineTimeoutSec=1\nRetries=1\n"


def memhpctl(s, *args, timeout=60):
    """memhpctl beside the memhpd under test, on this scenario's private socket: (status, stdout, stderr)."""
    ctl = os.path.join(os.path.dirname(os.path.abspath(s.args.memhpd)), "memhpctl")
    r = subprocess.run([ctl, f"--root={s.root}", "--no-pager", *args], capture_output=True, text=True,
                       timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def memhpctl_bg(s, *args):
    ctl = os.path.join(os.path.dirname(os.path.abspath(s.args.memhpd)), "memhpctl")
    return subprocess.Popen([ctl, f"--root={s.root}", "--no-pager", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def stuck_block(s, index):
    """An offline of this block never returns: its state file is a FIFO nobody reads, so the worker's
    write blocks in open() until it is killed (like a page pinned by vmsplice in a real kernel)."""
    p = s.kernel.path(index, "state")
    os.unlink(p)
    os.mkfifo(p, 0o644)


def unstick_block(s, index, state="online"):
    p = s.kernel.path(index, "state")
    os.unlink(p)
    with open(p, "w") as f:
        f.write(state + "\n")


def records_of(d, event, index=None):
    return [r for r in d.records() if r["event"] == event and (index is None or r.get("block") == str(index))]


def online_blocks(s, d, blocks):
    for i in blocks:
        s.kernel.add_block(i, node=0)
    s.wait_all_online(blocks)
    for i in blocks:
        d.wait_record(lambda r, i=i: r["event"] == "onlined" and r.get("block") == str(i), f"onlined {i}")


def scenario_offline_timeout(s):
    """An offline whose write never returns is killed at OfflineTimeoutSec= and retried Retries= times,
    while the loop goes on onlining new blocks and answering control calls; then it fails with a
    timeout. The same block, unstuck, is offlined and kept offline."""
    write(s.root, "etc/memhpd/memhpd.conf.d/offline.conf", OFFLINE_SETTINGS)
    r = subprocess.run([s.args.memhpd, f"--root={s.root}", "--check"], capture_output=True, text=True)
    check(r.returncode == 0 and " OfflineTimeoutSec=1s Retries=1 " in r.stdout, f"--check shows them: {r.stdout}")
    d = s.start()
    online_blocks(s, d, [300])
    stuck_block(s, 300)
    t0 = time.monotonic()
    p = memhpctl_bg(s, "offline", "memory300")
    d.wait_record(lambda r: r["event"] == "offline-started" and r.get("block") == "300", "offline-started 300")
    # While the child hangs: a hot-added block is onlined, and a control call answers.
    s.marker(301)
    rc, out, err = memhpctl(s, "status")
    check(rc == 0, f"memhpctl status answers during the stuck offline: {rc} {err}")
    check(not records_of(d, "offline-retry", 300), "the marker and the status call came before the timeout")
    retry = d.wait_record(lambda r: r["event"] == "offline-retry" and r.get("block") == "300", "offline-retry 300")
    check(retry.get("result") == "timeout" and retry.get("errno") == "62", f"a timeout (ETIME): {retry}")
    fail = d.wait_record(lambda r: r["event"] == "offline-failed" and r.get("block") == "300", "offline-failed 300")
    took = time.monotonic() - t0
    check(fail.get("result") == "timeout" and fail.get("action") == "administrator", f"failed by timeout: {fail}")
    check(len(records_of(d, "offline-started", 300)) == 2, "two attempts: the first and Retries=1")
    # 1 s timeout, 1 s back-off, 1 s timeout: about 3 s, far less than the test's patience.
    check(2.5 < took < 20, f"the attempts were timed: {took:.1f}s")
    out, err = p.communicate(timeout=30)
    check(p.returncode == 1 and "memory300: timed out" in err, f"memhpctl offline says why: {p.returncode} {err!r}")
    check("uid=" in fail.get("_message", d.text()), "the record names who asked")
    check(d.proc.poll() is None, "memhpd still runs")

    # Unstuck: the offline succeeds and the block is the administrator's.
    unstick_block(s, 300)
    rc, out, err = memhpctl(s, "offline", "memory300")
    check(rc == 0 and "memory300: offline" in out, f"memhpctl offline: {rc} {out!r} {err!r}")
    rec = d.wait_record(lambda r: r["event"] == "offlined" and r.get("block") == "300", "offlined 300")
    check(rec.get("result") == "offlined", f"{rec}")
    check(s.kernel.read(300, "state") == "offline", "memory300 offline")
    # A second offline of an offline block is a success ("already"), and no job runs for it.
    rc, out, err = memhpctl(s, "offline", "300")
    check(rc == 0, f"offline of an offline block succeeds: {rc} {err}")
    # Bad arguments: a clear error, nothing done.
    rc, out, err = memhpctl(s, "offline", "memory99999")
    check(rc == 1 and "memory99999 does not exist" in err, f"no such block: {rc} {err!r}")
    rc, out, err = memhpctl(s, "offline", "banana")
    check(rc == 2 and "not a memory block" in err, f"garbage: {rc} {err!r}")


def scenario_drain_restart(s):
    """memhpctl drain of a block range offlines every online block, movable first; the drained blocks
    stay offline across kill -9 and a restart (offline-by-others, "N administrator"); memhpctl online
    brings one back and the list forgets it."""
    d = s.start()
    online_blocks(s, d, [300, 301, 302])
    s.kernel.add_block(303, node=0)  # offline, policy-free: left offline by a When=manual? no: onlined too
    s.wait_all_online([303])
    rc, out, err = memhpctl(s, "drain", "memory300-303")
    check(rc == 0, f"memhpctl drain: {rc} {out!r} {err!r}")
    check("Drain of memory300-303: 4 blocks offline." in out, f"the outcome: {out!r}")
    for i in range(300, 304):
        check(s.kernel.read(i, "state") == "offline", f"memory{i} offline")
    started = d.wait_record(lambda r: r["event"] == "drain-started", "drain-started")
    check("uid=0" in d.text(), f"who asked is recorded: {started}")
    fin = d.wait_record(lambda r: r["event"] == "drain-finished", "drain-finished")
    check(fin.get("result") == "ok", f"{fin}")
    check(len(records_of(d, "offlined")) == 4, "one offlined record per block")
    check(not records_of(d, "offline-by-other"), "memhpd's own offlines are not someone else's")
    # The kernel's offline uevents come after: still not someone else's, nothing re-onlined.
    for i in range(300, 304):
        s.sender.memory("offline", i)
    s.marker(310)
    check(not records_of(d, "offline-by-other"), "offline uevents of drained blocks are memhpd's")
    check(all(s.kernel.read(i, "state") == "offline" for i in range(300, 304)), "still offline")
    saved_text = open(os.path.join(s.root, "run/memhpd/offline-by-others")).read()
    for i in range(300, 304):
        check(f"\n{i} administrator\n" in saved_text, f"memory{i} saved as the administrator's: {saved_text!r}")

    # kill -9: no clean stop, no flush; the file was written as the drain went.
    d.proc.kill()
    d.proc.wait()
    d = s.start()
    for i in range(300, 304):
        rec = d.wait_record(lambda r, i=i: r["event"] == "left-offline" and r.get("block") == str(i),
                            f"left-offline {i} after kill -9")
        check("administrator" in d.text(), f"{rec}")
    s.marker(311)
    check(not s.onlined(300), "the restarted memhpd onlines no drained block")

    # The administrator brings one back: movable where allowed, and it leaves the list.
    rc, out, err = memhpctl(s, "online", "memory300")
    check(rc == 0 and "memory300: onlined" in out, f"memhpctl online: {rc} {out!r} {err!r}")
    s.wait_all_online([300])
    rec = d.wait_record(lambda r: r["event"] == "onlined" and r.get("block") == "300", "onlined 300")
    check(rec.get("action") == "administrator" and rec.get("zone") == "movable", f"{rec}")
    d.wait_record(lambda r: True, "")
    time.sleep(0.3)
    saved_text = open(os.path.join(s.root, "run/memhpd/offline-by-others")).read()
    check("\n300 administrator\n" not in saved_text and "\n301 administrator\n" in saved_text,
          f"the list forgets memory300 only: {saved_text!r}")


def scenario_drain_errors(s):
    """Drains that cannot be: a clear error each, nothing changed, memhpd keeps running. A second drain
    while one runs is refused; a client that goes away mid-drain stops nothing; a drain of an ACPI
    device with --eject writes its eject attribute."""
    write(s.root, "etc/memhpd/memhpd.conf.d/offline.conf", OFFLINE_SETTINGS)
    d = s.start()
    for target, want in (("node7", "no NUMA node node7"), ("memory9000-9001", "has no memory blocks"),
                         ("banana", "is not a drain target"), ("memory47-40", "ends before it starts"),
                         ("dax9.9", "no dax device dax9.9"), ("PNP0C80:77", "has no memory blocks")):
        rc, out, err = memhpctl(s, "drain", target)
        check(rc == 1 and want in err, f"drain {target}: {rc} {err!r}")
    # Boot memory in a kernel zone (memory0-7 here): refused as a whole.
    rc, out, err = memhpctl(s, "drain", "memory0-7")
    check(rc == 1 and "boot memory in a kernel zone" in err, f"boot memory: {rc} {err!r}")
    check(s.kernel.read(0, "state") == "online", "memory0 untouched")
    check(not records_of(d, "drain-started"), "no drain started")

    # One stuck block holds the drain; a second drain is refused meanwhile.
    online_blocks(s, d, [300, 301])
    stuck_block(s, 301)
    p = memhpctl_bg(s, "drain", "memory300-301")
    d.wait_record(lambda r: r["event"] == "offline-started" and r.get("block") == "301", "offline-started 301")
    rc, out, err = memhpctl(s, "drain", "memory300")
    check(rc == 1 and "a drain of memory300-301 is running" in err, f"second drain: {rc} {err!r}")
    # The client goes away: the drain goes on and finishes (with memory301 failed).
    p.kill()
    p.wait()
    fin = d.wait_record(lambda r: r["event"] == "drain-finished", "drain-finished after the client left")
    check(fin.get("result") == "failed" and "memory301" in d.text().split("drain of memory300-301 finished")[1],
          f"{fin}")
    check(s.kernel.read(300, "state") == "offline", "memory300 drained")
    rc, out, err = memhpctl(s, "status")
    check(rc == 0, "memhpd answers after the client left")
    # The outcome names the block that stayed online and why.
    unstick_block(s, 301)
    rc, out, err = memhpctl(s, "drain", "memory301")
    check(rc == 0, f"the unstuck block drains: {rc} {err!r}")

    # An ACPI DIMM by its firmware node, then eject (the attribute of the fake tree).
    fw = os.path.join(s.root, "sys/devices/LNXSYSTM:00/LNXSYBUS:00/PNP0A06:04/PNP0C80:00")
    os.makedirs(fw, exist_ok=True)
    with open(os.path.join(fw, "eject"), "w") as f:
        f.write("")
    online_blocks(s, d, [320, 321])
    rc, out, err = memhpctl(s, "drain", "PNP0C80:00", "--eject")
    check(rc == 0 and "Eject: asked for the removal of PNP0C80:00." in out, f"drain --eject: {rc} {out!r} {err!r}")
    check(open(os.path.join(fw, "eject")).read() == "1", "1 written to the device's eject attribute")
    rec = d.wait_record(lambda r: r["event"] == "eject", "eject record")
    check(rec.get("result") == "ok", f"{rec}")


# ------------------------------------------------------------------ tier: When=delay, CpuLess=, MemoryTier=

def delay_policy(delay, zone="movable"):
    return f"[Match]\nDevice=acpi-dimm\n\n[Online]\nZone={zone}\nWhen=delay\nDelay={delay}\n"


class NotifyListener:
    """The service manager's end of sd_notify(): a datagram socket whose messages are kept."""

    def __init__(self, root):
        import socket
        self.path = os.path.join(root, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setblocking(False)
        self.messages = []

    def statuses(self):
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                break
        return [l[len("STATUS="):] for m in self.messages for l in m.splitlines() if l.startswith("STATUS=")]

    def wait_status(self, pred, what, timeout=DEFAULT_TIMEOUT):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for st in self.statuses():
                if pred(st):
                    return st
            time.sleep(0.02)
        raise Failure(f"timed out waiting for STATUS= {what}; last: {self.statuses()[-1:]}")


def start_with_notify(s, *extra):
    n = NotifyListener(s.root)
    s.daemon = Daemon(s.args.memhpd, s.root, extra, env={"NOTIFY_SOCKET": n.path})
    s.daemon.wait_record(lambda r: r["event"] == "started", "the started record")
    return s.daemon, n


def deferred(d, span):
    return d.wait_record(lambda r: r["event"] == "deferred" and f"deferred {span} " in r["_line"],
                         f"a deferred record for {span}")


def scenario_delay(s):
    """When=delay: a DIMM's blocks, added out of order, are one group: one deferred record for the span,
    STATUS= counts them, nothing is onlined before Delay=2s, then all of them together."""
    write(s.root, "etc/memhpd/policies.d/40-delay.policy", delay_policy("2s"))
    d, n = start_with_notify(s)
    t0 = time.monotonic()
    for i in (102, 100, 103, 101):
        s.kernel.add_block(i, node=0)
    rec = deferred(d, "memory100-103")
    check(rec.get("block") == "100" and rec.get("device") == "acpi-dimm" and rec.get("node") == "0" and
          rec.get("action") == "defer" and rec.get("policy", "").endswith("40-delay.policy:1") and
          "Delay=2s" in rec["_line"], f"the deferred record: {rec['_line']}")
    # memory67 (offline in the snapshot, an ACPI DIMM block) is its own group since the start.
    st = n.wait_status(lambda t: re.search(r"; 5 blocks deferred, next decision in \d+\.\ds$", t), "5 blocks deferred")
    check(all(s.kernel.read(i, "state") == "offline" for i in range(100, 104)), "nothing onlined during the delay")
    s.wait_all_online(range(100, 104), timeout=15)
    elapsed = time.monotonic() - t0
    check(elapsed >= 1.9, f"onlined after the delay, not before: {elapsed:.2f} s")
    check(all(s.kernel.read(i, "valid_zones") == "Movable" for i in range(100, 104)), "the policy's zone")
    recs = [r for r in d.records() if r["event"] == "onlined" and r.get("block") in ("100", "101", "102", "103")]
    check(len(recs) == 4, f"each block onlined once: {len(recs)}")
    n.wait_status(lambda t: "deferred" not in t and "Managing" in t, "no block deferred any more")
    print(f"delay: 4 blocks deferred for Delay=2s, all online {elapsed:.2f} s after the first add; status was: {st}")
    # --dry-run --once does not wait: it says so, in the record and in the report.
    s.kernel.add_block(105, node=0, uevent=False)
    d.stop()
    s.daemon = None
    r = subprocess.run([s.args.memhpd, f"--root={s.root}", "--dry-run", "--once"], capture_output=True, text=True)
    check(r.returncode == 0, f"--dry-run --once: {r.returncode} {r.stderr[-300:]}")
    check(re.search(r"memory105 .* defer \(When=delay\)", r.stdout), f"the report: {r.stdout}")
    check("When=delay Delay=2000ms" in r.stdout, f"the report's policy list: {r.stdout}")
    recs = [x for x in parse_audit(r.stderr) if x["event"] == "deferred" and x.get("block") == "105"]
    check(len(recs) == 1 and recs[0].get("result") == "dry-run", f"one deferred record for 105: {recs}")
    check(s.kernel.read(105, "state") == "offline", "dry run wrote nothing")


def scenario_delay_by_other(s):
    """During the delay someone else onlines one block and onlines-then-offlines another, and a block of a
    second DIMM is hot-removed, then the rest of that DIMM too: memhpd leaves the claimed blocks alone,
    forgets the removed ones, and decides only the rest when the delay ends."""
    write(s.root, "etc/memhpd/policies.d/40-delay.policy", delay_policy("3s"))
    d = s.start()
    for i in range(110, 114):
        s.kernel.add_block(i, node=0)
    for i in range(120, 122):
        s.kernel.add_block(i, node=0)
    deferred(d, "memory110-113")
    deferred(d, "memory120-121")
    # The orchestrator claims 111 (online, kernel zone) and 112 (online, then offline again).
    for i in (111, 112):
        s.kernel.write(i, "state", "online")
        s.kernel.write(i, "valid_zones", "Normal")
        s.sender.memory("online", i)
    d.wait_record(lambda r: r["event"] == "online-by-other" and r.get("block") == "112", "online-by-other 112")
    s.kernel.write(112, "state", "offline")
    s.kernel.write(112, "valid_zones", "Normal Movable")
    s.sender.memory("offline", 112)
    d.wait_record(lambda r: r["event"] == "offline-by-other" and r.get("block") == "112", "offline-by-other 112")
    for i in (120, 121):
        shutil.rmtree(s.kernel.path(i))
        os.unlink(os.path.join(s.root, f"sys/devices/system/node/node0/memory{i}"))
        s.sender.memory("remove", i)
        d.wait_record(lambda r, i=i: r["event"] == "removed" and r.get("block") == str(i), f"removed {i}")
    s.wait_all_online([110, 113], timeout=15)
    check(s.kernel.read(111, "state") == "online" and s.kernel.read(111, "valid_zones") == "Normal",
          "111 stays where the orchestrator put it")
    check(s.kernel.read(112, "state") == "offline", "112 stays offline: the orchestrator took it back")
    for i in (111, 112):
        check(not s.onlined(i), f"memhpd did not online memory{i}")
    check(len(s.onlined(110)) == 1 and len(s.onlined(113)) == 1, "110 and 113 onlined once each")
    check(not any(r["event"] in ("online-failed", "bad-sysfs") and r.get("block") in ("120", "121")
                  for r in d.records()), "the removed group left nothing behind")


def scenario_delay_reload(s):
    """A reload during the delay decides the deferred blocks again with the new set: a shorter Delay=
    counts from the group's arrival (already past: at once), and a set without When=delay decides at once."""
    write(s.root, "etc/memhpd/policies.d/40-delay.policy", delay_policy("5min"))
    d = s.start()
    for i in (140, 141):
        s.kernel.add_block(i, node=0)
    deferred(d, "memory140-141")
    time.sleep(0.6)
    write(s.root, "etc/memhpd/policies.d/40-delay.policy", delay_policy("500ms", zone="kernel"))
    t0 = time.monotonic()
    d.signal(signal.SIGHUP)
    s.wait_all_online([140, 141], timeout=10)
    check(time.monotonic() - t0 < 5, "decided soon after the reload, not after 5min")
    check(all(s.kernel.read(i, "valid_zones") == "Normal" for i in (140, 141)), "by the new policy (kernel)")

    # Back to a long delay, then a set without it: the deferred blocks go by the next match at once.
    write(s.root, "etc/memhpd/policies.d/40-delay.policy", delay_policy("5min"))
    d.signal(signal.SIGHUP)
    d.wait_record(lambda r: r["event"] == "policy-loaded" and d.text().count("event=policy-loaded") >= 3,
                  "the second reload")
    for i in (150, 151):
        s.kernel.add_block(i, node=0)
    deferred(d, "memory150-151")
    # A rejected reload changes nothing: still deferred.
    write(s.root, "etc/memhpd/policies.d/40-delay.policy", "[Online]\nWhen=delay\n")
    d.signal(signal.SIGHUP)
    d.wait_record(lambda r: r["event"] == "policy-rejected" and "keeping the previous" in r["_line"], "rejected")
    time.sleep(0.3)
    check(s.kernel.read(150, "state") == "offline", "a rejected reload leaves the delay running")
    os.unlink(os.path.join(s.root, "etc/memhpd/policies.d/40-delay.policy"))
    d.signal(signal.SIGHUP)
    s.wait_all_online([150, 151], timeout=10)
    check(all(s.kernel.read(i, "valid_zones") == "Movable" for i in (150, 151)), "by 50-test (movable)")
    check(len(s.onlined(150)) == 1 and len(s.onlined(151)) == 1, "each onlined once")


def scenario_cpuless(s):
    """CpuLess=yes: far memory (node1 has no CPU in the snapshot) goes by its own policy, near memory by
    the next one; MemoryTier= matches the node the kernel lists in that tier."""
    write(s.root, "etc/memhpd/policies.d/40-far.policy", "[Match]\nCpuLess=yes\n\n[Online]\nZone=kernel\n")
    write(s.root, "etc/memhpd/policies.d/30-tier.policy",
          "[Match]\nMemoryTier=22\nBlock=202-203\n\n[Online]\nZone=offline\n")
    # As 6.1 shows them: node1 has online memory (the snapshot's virtio-mem), dax/kmem-like tier 22.
    write(s.root, "sys/devices/virtual/memory_tiering/memory_tier4/nodelist", "0\n")
    write(s.root, "sys/devices/virtual/memory_tiering/memory_tier22/nodelist", "1\n")
    d = s.start()
    s.kernel.add_block(200, node=1)
    s.kernel.add_block(201, node=0)
    s.wait_all_online([200, 201])
    check(s.kernel.read(200, "valid_zones") == "Normal", "node1 (CPU-less) block went by 40-far (kernel)")
    check(s.kernel.read(201, "valid_zones") == "Movable", "node0 block went by 50-test (movable)")
    check(s.onlined(200)[0].get("policy", "").endswith("40-far.policy:1"), "the record names 40-far")
    s.kernel.add_block(202, node=1)
    rec = d.wait_record(lambda r: r["event"] == "left-offline" and r.get("block") == "202", "left-offline 202")
    check(rec.get("policy", "").endswith("30-tier.policy:1"), f"by 30-tier: {rec['_line']}")
    s.marker(203)
    check(s.kernel.read(203, "valid_zones") == "Movable", "node0 (tier 4) is not matched by MemoryTier=22")
    r = subprocess.run([s.args.memhpd, f"--root={s.root}", "--check"], capture_output=True, text=True)
    check(r.returncode == 0, f"--check: {r.stdout} {r.stderr}")


# -------------------------------------------------------------------------------- dax devices (dax.c)

DAX_RAM = """[Match]
DaxDevice=dax0.*
Origin=pmem

[Dax]
Mode=system-ram

[Memmap]
OnMemory=yes

[Online]
Zone=movable
"""
DAX_KEEP = "[Match]\nDaxDevice=dax0.0\n\n[Dax]\nMode=devdax\n"
REST_KERNEL = "[Match]\nDevice=any\n\n[Online]\nZone=kernel\n"


def dax_setup(s, policy, memmap_param="Y", release="6.12.9+bpo-amd64", mem_free_kb=None):
    os.unlink(os.path.join(s.root, "etc/memhpd/policies.d/50-test.policy"))
    write(s.root, "etc/memhpd/policies.d/50-dax.policy", policy)
    write(s.root, "etc/memhpd/policies.d/90-rest.policy", REST_KERNEL)
    write(s.root, "sys/module/memory_hotplug/parameters/memmap_on_memory", memmap_param + "\n", 0o444)
    write(s.root, "proc/sys/kernel/osrelease", release + "\n")
    if mem_free_kb is not None:
        meminfo = rd(s.root, "proc/meminfo")
        write(s.root, "proc/meminfo", re.sub(r"MemFree:\s+\d+ kB", f"MemFree: {mem_free_kb} kB", meminfo))


def driver_files(dax):
    return {f"{drv}/{a}": dax.written(drv, a) for drv in ("device_dax", "kmem")
            for a in ("bind", "unbind", "new_id", "remove_id")}


def scenario_dax_system_ram(s):
    """A policy makes dax0.0 (pmem, node 1) system RAM with its memmap on the device: --dry-run --once
    says so and writes nothing; the daemon writes memmap_on_memory=1 before kmem binds, unbinds
    device_dax and binds kmem as daxctl does, each once, then onlines the 7 blocks kmem adds movable by
    the same policy, their records naming dax0.0. A restart finds it system RAM already and writes
    nothing."""
    dax_setup(s, DAX_RAM)
    dax = FakeDax(s.kernel)
    r = subprocess.run([s.args.memhpd, f"--root={s.root}", "--dry-run", "--once"], capture_output=True, text=True)
    check(r.returncode == 0, r.stderr)
    check(re.search(r"^dax0\.0\s+0x0*240000000\s+896 MiB\s+pmem\s+1\s+device_dax\s+ram\s+Mode=system-ram, "
                    r"OnMemory=yes$", r.stdout, re.M), r.stdout)
    check(re.search(r"would hand dax0.0 .*event=dax-system-ram node=1 device=dax-kmem action=system-ram "
                    r"result=dry-run policy=/etc/memhpd/policies.d/50-dax.policy:1 dax=dax0.0\]", r.stderr), r.stderr)
    check(all(v == "" for v in driver_files(dax).values()), f"dry run wrote nothing: {driver_files(dax)}")
    check(rd(s.root, FakeDax.DEV + "/memmap_on_memory").strip() == "0", "dry run left memmap_on_memory")

    d = s.start()
    rec = d.wait_record(lambda r: r["event"] in ("dax-system-ram", "dax-failed"), "the dax decision")
    check(rec["event"] == "dax-system-ram" and rec["result"] == "ok", rec["_line"])
    check("memory72-memory78" in rec["_line"] and "memmap on the device" in rec["_line"], rec["_line"])
    check(rd(s.root, FakeDax.DEV + "/memmap_on_memory").strip() == "1", "memmap_on_memory written before the bind")
    files = driver_files(dax)
    check(files == {"device_dax/bind": "", "device_dax/unbind": "dax0.0", "device_dax/new_id": "",
                    "device_dax/remove_id": "dax0.0", "kmem/bind": "dax0.0", "kmem/unbind": "",
                    "kmem/new_id": "dax0.0", "kmem/remove_id": ""}, files)
    end = time.monotonic() + DEFAULT_TIMEOUT
    while not dax.complete_bind() and time.monotonic() < end:
        time.sleep(0.02)
    s.wait_all_online(dax.blocks())
    for i in dax.blocks():
        check(s.kernel.read(i, "valid_zones") == "Movable", f"memory{i} movable by the dax policy, not 90-rest")
        recs = s.onlined(i)
        check(len(recs) == 1, f"memory{i} onlined once: {recs}")
        check(recs[0]["dax"] == "dax0.0" and recs[0]["device"] == "dax-kmem" and
              recs[0]["policy"].endswith("50-dax.policy:1"), recs[0]["_line"])
    s.marker(1500)
    check(len(events(d, "dax-system-ram")) == 1, "one dax record")
    check(not events(d, "memmap") and not events(d, "memmap-risk") and not events(d, "dax-failed"),
          "no memmap, risk or failure record")
    rc, out, err = ctl(s, "explain", f"memory{dax.blocks()[0]}")
    check(rc == 0 and re.search(r"dax device\s*:?\s+dax0\.0 \(896 MiB, ", out), f"explain names the device: {out} {err}")

    # A restart: kmem holds it already, nothing is written again.
    s.daemon.stop()
    for drv in ("device_dax", "kmem"):
        for a in ("bind", "unbind", "new_id", "remove_id"):
            write(s.root, f"sys/bus/dax/drivers/{drv}/{a}", "")
    restart(s)
    rec = s.daemon.wait_record(lambda r: r["event"].startswith("dax-"), "the dax record after the restart")
    check(rec["event"] == "dax-system-ram" and rec["result"] == "already", rec["_line"])
    s.marker(1501)
    check(all(v == "" for v in driver_files(dax).values()), f"nothing written twice: {driver_files(dax)}")


def scenario_memmap_risk(s):
    """Hot-added memory whose memmap came from existing memory (memmap_on_memory off) while node 0's kernel
    zones have almost nothing free: one memmap-risk record naming the boot parameter (for the snapshot's
    offline DIMM block at start); more DIMMs while the risk stands add none; once the kernel zones could
    hold another add, the next DIMM that could not be held again is recorded, with its own span and
    memmap size. memhpctl explain names where a block's memmap is."""
    write(s.root, "sys/module/memory_hotplug/parameters/memmap_on_memory", "N\n")
    zi = os.path.join(s.root, "proc/zoneinfo")
    with open(zi) as f:
        good = f.read()
    parts = re.split(r"(?m)^(?=Node )", good)
    short = "".join(re.sub(r"pages free\s+\d+", "pages free     10", p, count=1)
                    if re.match(r"Node 0, zone\s+(DMA|DMA32|Normal)\b", p) else p for p in parts)
    check(short != good, "the fixture's zoneinfo has node 0 kernel zones")
    write(s.root, "proc/zoneinfo", short)
    d = s.start()
    s.wait_all_online([67])
    risk = events(d, "memmap-risk")
    check(len(risk) == 1 and risk[0].get("block") == "67" and risk[0].get("device") == "acpi-dimm" and
          "memory_hotplug.memmap_on_memory=1" in risk[0]["_line"] and "kernel zones" in risk[0]["_line"],
          f"one risk record at start: {risk}")
    time.sleep(1.1)
    for i in range(600, 616):
        s.kernel.add_block(i, node=0)
    s.wait_all_online(list(range(600, 616)))
    check(len(events(d, "memmap-risk")) == 1, "said once while the risk stands")
    write(s.root, "proc/zoneinfo", good)
    time.sleep(1.1)
    s.kernel.add_block(620, node=0)
    s.wait_all_online([620])
    check(len(events(d, "memmap-risk")) == 1, "no risk with memory free")
    write(s.root, "proc/zoneinfo", short)
    time.sleep(1.1)
    # A 2 GiB DIMM on node 0 (32 MiB of memmap): as the kernel does, every block exists before the
    # first uevent is read.
    for i in range(630, 646):
        s.kernel.add_block(i, node=0, uevent=False)
    for i in range(630, 646):
        s.kernel.sender.memory("add", i)
    s.wait_all_online(list(range(630, 646)))
    risk = events(d, "memmap-risk")
    check(len(risk) == 2 and risk[1].get("block") == "630" and "memory630-645" in risk[1]["_line"] and
          "32 MiB of memmap" in risk[1]["_line"], f"the risk again, for the new DIMM: {risk[1:]}")
    rc, out, err = ctl(s, "explain", "memory630")
    check(rc == 0 and re.search(r"memmap\s*:?\s+in existing memory: memory_hotplug.memmap_on_memory is off", out),
          f"explain names the memmap ({rc}): {out} {err}")
    rc, out, err = ctl(s, "status")
    check(rc == 0 and "\nMemmap: memory_hotplug.memmap_on_memory=off (kernel " in out and
          "comes from existing memory" in out, f"status says where hot-added memory's memmap goes: {out}")
    check(d.proc.poll() is None, "memhpd keeps running")


def scenario_dax_auto(s):
    """All blocks of a dax device are decided together: Zone=auto with MaxMovableRatio=80% on node 0
    (1279 MiB kernel, 256 MiB movable once memory67 is onlined kernel) weighs the whole 896 MiB
    device at once: 256+896 > 80% of 1279, so every block goes kernel, none movable; block by block
    the first five would have gone movable."""
    dax_setup(s, DAX_RAM.replace("Zone=movable", "Zone=auto\nMaxMovableRatio=80%"))
    dax = FakeDax(s.kernel, node=0)
    d = s.start()
    d.wait_record(lambda r: r["event"] == "dax-system-ram", "the kmem bind")
    end = time.monotonic() + DEFAULT_TIMEOUT
    while not dax.complete_bind() and time.monotonic() < end:
        time.sleep(0.02)
    s.wait_all_online(dax.blocks())
    zones = [s.kernel.read(i, "valid_zones") for i in dax.blocks()]
    check(zones == ["Normal"] * len(zones), f"one decision for the device: {zones}")
    later = [r for i in dax.blocks()[1:] for r in s.onlined(i)]
    check(len(later) == len(dax.blocks()) - 1, later)
    # Once the first block went kernel, block by block the ratio would allow movable again: they follow.
    check(all("as the other blocks of dax0.0 (one decision per device), not online_movable" in r["_line"]
              for r in later), [r["_line"] for r in later])
    first = s.onlined(dax.blocks()[0])[0]
    check("Zone=auto" in first["_line"] and "kernel keeps MOVABLE:KERNEL from exceeding 80%" in first["_line"],
          first["_line"])


def scenario_dax_keep(s):
    """A keep-devdax policy: one dax-device record, nothing written; a reload with a system-ram policy
    decides it again and hands it to kmem. The device's removal is recorded;
    an add uevent for a device that is gone again, and a malformed dax uevent, change nothing and memhpd
    keeps running."""
    dax_setup(s, DAX_KEEP)
    dax = FakeDax(s.kernel)
    d = s.start()
    rec = d.wait_record(lambda r: r["event"].startswith("dax-"), "the dax record")
    check(rec["event"] == "dax-device" and rec["result"] == "ok" and rec["action"] == "devdax" and
          "stays as it is: Mode=devdax" in rec["_line"], rec["_line"])
    s.marker(1499)
    check(all(v == "" for v in driver_files(dax).values()), f"nothing written: {driver_files(dax)}")
    # A reload with a system-ram policy decides the device again: now it is handed to kmem.
    write(s.root, "etc/memhpd/policies.d/50-dax.policy", DAX_RAM)
    d.signal(signal.SIGHUP)
    rec = d.wait_record(lambda r: r["event"] == "dax-system-ram", "the device decided again after the reload")
    check(rec["result"] == "ok" and dax.written("kmem", "bind") == "dax0.0", rec["_line"])
    dax.remove()
    d.wait_record(lambda r: r["event"] == "dax-device" and r.get("action") == "removed", "the removal")
    dax.send("add")  # gone before memhpd could read it
    s.kernel.sender.send("add", "/devices/platform/hmem.0/dax_region0", "dax")
    s.marker(1500)
    bad = events(d, "bad-uevent")
    check(len(bad) == 1 and "daxX.Y" in bad[0]["_line"], bad)
    check(len([r for r in d.records() if r["event"].startswith("dax-")]) == 3, "no more dax records")


def scenario_dax_failures(s):
    """A 6.1 kernel (no per-device memmap_on_memory, the parameter off) with little free memory: --check
    warns that OnMemory=yes cannot be honoured, and that for an acpi-dimm policy only the boot parameter
    decides; the daemon records why (memmap) and the risk naming the parameter, then kmem refuses the
    bind: dax-failed, the device goes back to device_dax. A device that vanishes between the writes,
    and one daxctl is configured for, get their records; memhpd keeps running throughout."""
    dax_setup(s, DAX_RAM, memmap_param="N", release="6.1.0-28-amd64", mem_free_kb=8192)
    write(s.root, "etc/memhpd/policies.d/60-dimm.policy",
          "[Match]\nDevice=acpi-dimm\n[Online]\nZone=movable\n[Memmap]\nOnMemory=yes\n")
    r = subprocess.run([s.args.memhpd, f"--root={s.root}", "--check"], capture_output=True, text=True)
    check(r.returncode == 0, f"warnings are not errors: {r.returncode} {r.stderr}")
    check(re.search(r"^warning: /etc/memhpd/policies.d/50-dax.policy:8: OnMemory=yes cannot be honoured on this "
                    r"kernel \(6.1\).*Linux 6.8", r.stdout, re.M), r.stdout)
    check(re.search(r"^warning: /etc/memhpd/policies.d/60-dimm.policy:5: .*only the boot parameter "
                    r"memory_hotplug.memmap_on_memory decides \(now off\)", r.stdout, re.M), r.stdout)
    dax = FakeDax(s.kernel, memmap=None)
    for a in ("bind", "new_id"):  # kmem refuses it: the writes fail (EISDIR)
        p = os.path.join(s.root, "sys/bus/dax/drivers/kmem", a)
        os.unlink(p)
        os.makedirs(p)
    d = s.start()
    fail = d.wait_record(lambda r: r["event"] == "dax-failed", "the failed bind")
    check(fail["result"] == "failed" and fail["errno"] == "21" and "it is devdax again" in fail["_line"], fail["_line"])
    mm = events(d, "memmap")
    check(len(mm) == 1 and "no /sys/bus/dax/devices/dax0.0/memmap_on_memory (Linux 6.8+)" in mm[0]["_line"], mm)
    risk = events(d, "memmap-risk")
    check(len(risk) == 1 and "takes 14 MiB of memmap" in risk[0]["_line"] and "only 8 MiB is free" in risk[0]["_line"]
          and "memory_hotplug.memmap_on_memory=1" in risk[0]["_line"], risk)
    check(dax.written("device_dax", "bind") == "dax0.0", "given back to device_dax")
    s.marker(1500)
    check(len(events(d, "dax-failed")) == 1, "the failure is not retried")

    # Vanishes between the writes: unbind answers ENOENT and the device's directory is gone.
    dax.remove()
    d.wait_record(lambda r: r.get("action") == "removed", "the removal")
    dax = FakeDax(s.kernel, memmap=None)
    os.unlink(os.path.join(dax.dev, "uevent"))
    os.unlink(os.path.join(s.root, "sys/bus/dax/drivers/device_dax/unbind"))
    dax.send("add")
    rec = d.wait_record(lambda r: r["event"] == "dax-left", "the vanished device")
    check("vanished" in rec["_line"] and rec["result"] == "skipped", rec["_line"])

    # daxctl is configured to reconfigure dax devices: memhpd leaves them to it.
    dax.remove()  # memhpd dropped it when it vanished: no second removal record
    s.marker(1502)
    write(s.root, "etc/daxctl.conf.d/cxl.conf", DAXCTL_CONF)
    dax = FakeDax(s.kernel, memmap=None)
    write(s.root, "sys/bus/dax/drivers/device_dax/unbind", "")
    dax.send("add")
    rec = d.wait_record(lambda r: r["event"] == "dax-left" and r.get("agent") == "daxctl", "left to daxctl")
    check(rec["file"] == "/etc/daxctl.conf.d/cxl.conf:1", rec["_line"])
    s.marker(1501)
    check(dax.written("device_dax", "unbind") == "", "nothing written for daxctl's device")
    check(d.proc.poll() is None, "memhpd keeps running")


# ---------------------------------------------------------------------------------------- rebalance
RECLAIM = TRACEFS + "/instances/memhpd-reclaim"
RECLAIM_EVENTS = ("kmem/mm_page_alloc_extfrag", "vmscan/mm_vmscan_wakeup_kswapd", "vmscan/mm_vmscan_direct_reclaim_begin")
AUTO_WIDE = "[Match]\nDevice=acpi-dimm\n\n[Online]\nZone=auto\nMaxMovableRatio=1000%\n"
PAGES_PER_BLOCK = 0x8000000 // 4096


def fake_reclaim_tracefs(root):
    """memhpd-reclaim with its three events (enable "0") and trace_pipe a FIFO."""
    for ev in RECLAIM_EVENTS:
        write(root, f"{RECLAIM}/events/{ev}/enable", "0\n")
    write(root, f"{RECLAIM}/events/kmem/mm_page_alloc_extfrag/filter", "none\n")
    os.mkfifo(os.path.join(root, RECLAIM, "trace_pipe"))


def reclaim_enabled(root):
    return [rd(root, f"{RECLAIM}/events/{ev}/enable") for ev in RECLAIM_EVENTS]


def wait_enabled(d, root, want, what):
    end = time.monotonic() + DEFAULT_TIMEOUT
    while time.monotonic() < end:
        if reclaim_enabled(root) == [want] * len(RECLAIM_EVENTS):
            return
        check(d.proc.poll() is None, f"memhpd exited while waiting for {what}")
        time.sleep(0.02)
    raise Failure(f"timed out waiting for {what}: enable files {reclaim_enabled(root)}")


def kernel_zones_free(text, pages):
    """/proc/zoneinfo with node 0's DMA, DMA32 and Normal at 'pages' free."""
    parts = re.split(r"(?m)^(?=Node )", text)
    return "".join(re.sub(r"pages free\s+\d+", f"pages free     {pages}", p, count=1)
                   if re.match(r"Node 0, zone\s+(DMA|DMA32|Normal)\b", p) else p for p in parts)


def scenario_rebalance(s):
    """Zone=auto blocks in ZONE_MOVABLE move to a kernel zone when node 0's kernel zones run out: the reclaim
    events are enabled only while such a block exists; a kswapd wake-up with the kernel zones short moves
    the block with the fewest pages in use (/proc/kpageflags) -- offline, then online_kernel -- with a
    rebalance record; while still short the tick moves the next; with room again the events come back on.
    Garbage lines and an unreadable zoneinfo move nothing; Zone=movable blocks never move; a reload to
    Zone=movable switches the events off, and so does the stop."""
    write(s.root, "etc/memhpd/policies.d/50-test.policy", AUTO_WIDE)
    fake_reclaim_tracefs(s.root)
    zi = os.path.join(s.root, "proc/zoneinfo")
    with open(zi) as f:
        good = f.read()
    short = kernel_zones_free(good, 10)
    check(short != good, "the fixture's zoneinfo has node 0 kernel zones")
    # Pages in use per block: 603 all, 602 a hundred, 601, 600 and 67 none.
    with open(os.path.join(s.root, "proc/kpageflags"), "wb") as f:
        f.seek(603 * PAGES_PER_BLOCK * 8)
        f.write(((1 << 5) | (1 << 12)).to_bytes(8, "little") * PAGES_PER_BLOCK)
        f.seek(602 * PAGES_PER_BLOCK * 8)
        f.write((1 << 5).to_bytes(8, "little") * 100)
        f.seek(604 * PAGES_PER_BLOCK * 8 - 8)
        f.write(b"\0" * 8)
    d = s.start()
    s.wait_all_online([67])
    check(reclaim_enabled(s.root) == ["1"] * 3, "memory67 is a Zone=auto block in ZONE_MOVABLE: events on")
    check(rd(s.root, f"{RECLAIM}/events/kmem/mm_page_alloc_extfrag/filter") == "alloc_migratetype != 1",
          "page cache falling back is filtered out in the kernel")
    for i in range(600, 604):
        s.kernel.add_block(i, node=0)
    s.wait_all_online(range(600, 604))
    for i in [67] + list(range(600, 604)):
        check(s.kernel.read(i, "valid_zones") == "Movable", f"memory{i} movable")

    pipe = os.open(os.path.join(s.root, RECLAIM, "trace_pipe"), os.O_WRONLY | os.O_NONBLOCK)
    # Events with room in the kernel zones: nothing moves.
    os.write(pipe, b"   kswapd0-45 [000] ..... 12.3: mm_vmscan_wakeup_kswapd: nid=0 order=0 gfp_flags=GFP_KERNEL\n")
    os.write(pipe, b"  slab-files-250 [001] d..3. 9.07: mm_page_alloc_extfrag: page=0000000093d3135d pfn=0x8c00 "
                   b"alloc_order=2 fallback_order=10 pageblock_order=9 alloc_migratetype=0 fallback_migratetype=1 "
                   b"fragmenting=0 change_ownership=1\n")
    time.sleep(0.6)
    s.marker(1000)
    check(not events(d, "rebalance"), "room in the kernel zones: nothing moved")
    wait_enabled(d, s.root, "1", "the events back on after a look that found room")

    write(s.root, "proc/zoneinfo", short)
    os.write(pipe, b"   cat-99 [001] ..... 13.1: mm_vmscan_wakeup_kswapd: nid=0 order=0 gfp_flags=GFP_KERNEL\n")
    rec = d.wait_record(lambda r: r["event"] == "rebalance", "the first rebalance record")
    check(rec.get("block") == "601" and rec.get("node") == "0" and rec.get("action") == "rebalance"
          and "kswapd woken" in rec["_line"]
          and "moving memory601 (0 of its 32768 pages in use) from ZONE_MOVABLE to a kernel zone" in rec["_line"], rec["_line"])
    d.wait_record(lambda r: r["event"] == "offlined" and r.get("block") == "601" and r.get("action") == "rebalance",
                  "memory601 offlined for the move")
    on = d.wait_record(lambda r: r["event"] == "onlined" and r.get("block") == "601" and r.get("zone") == "kernel",
                       "memory601 onlined again",
                       kernel=s.kernel, blocks=[601])
    check(on.get("zone") == "kernel" and "moved from ZONE_MOVABLE" in on["_line"], on["_line"])
    check(reclaim_enabled(s.root) == ["0"] * 3, "the events are off while memhpd acts")
    # Still short: the tick moves the next one without another event (600: none in use, the highest).
    rec = d.wait_record(lambda r: r["event"] == "rebalance" and r.get("block") != "601", "the second move",
                        kernel=s.kernel, blocks=[600, 601])
    check(rec.get("block") == "600" and "still short" in rec["_line"], rec["_line"])
    d.wait_record(lambda r: r["event"] == "onlined" and r.get("block") == "600" and r.get("zone") == "kernel",
                  "memory600 in a kernel zone",
                  kernel=s.kernel, blocks=[600])
    write(s.root, "proc/zoneinfo", good)
    wait_enabled(d, s.root, "1", "the events back on once the kernel zones have room")
    s.kernel.complete_onlines([600, 601])
    check(s.kernel.read(601, "valid_zones") == "Normal" and s.kernel.read(600, "valid_zones") == "Normal",
          "both in a kernel zone")
    moved = {r["block"] for r in events(d, "rebalance")}
    # memhpctl status says how the kernel zones are watched and how many blocks moved.
    rc, out, err = ctl(s, "status")
    check(rc == 0 and "\nKernel zones: watching kernel-memory growth and reclaim (tracepoints, no polling); "
          f"{len(moved)} blocks moved from ZONE_MOVABLE to a kernel zone since start\n" in out, f"{rc} {out} {err}")
    check(ctl_json(s)["memhpd"]["kernel_zones"].endswith(f"; {len(moved)} blocks moved from ZONE_MOVABLE to a kernel "
                                                         "zone since start"), "kernel_zones in --json")
    # Bad input: garbage in trace_pipe and an unparsable zoneinfo move nothing, and memhpd keeps running.
    write(s.root, "proc/zoneinfo", short.replace("present", "presnet"))
    os.write(pipe, b"\x00\xff garbage without a newline")
    os.write(pipe, b"\nnot an event at all\n")
    time.sleep(0.6)
    s.marker(1001)
    check({r["block"] for r in events(d, "rebalance")} == moved, "nothing moved on a broken zoneinfo")
    write(s.root, "proc/zoneinfo", good)
    wait_enabled(d, s.root, "1", "the events back on after a broken zoneinfo")
    os.close(pipe)
    # A reload to Zone=movable: no block can move, the events go off.
    write(s.root, "etc/memhpd/policies.d/50-test.policy", MOVABLE)
    d.signal(signal.SIGHUP)
    wait_enabled(d, s.root, "0", "the events off under Zone=movable")
    check(d.stop() == 0, "clean stop")
    check(reclaim_enabled(s.root) == ["0"] * 3, "off at stop")


def scenario_rebalance_no_tracefs(s):
    """Without tracefs, a Zone=auto block in ZONE_MOVABLE gets one warning, no move and no polling; the loop
    keeps onlining."""
    write(s.root, "etc/memhpd/policies.d/50-test.policy", AUTO_WIDE)
    d = s.start()
    s.wait_all_online([67])
    for i in range(600, 602):
        s.kernel.add_block(i, node=0)
    s.wait_all_online(range(600, 602))
    s.marker(1000)
    text = d.text()
    check(text.count("are not moved to a kernel zone when the kernel zones run out") == 1, text)
    check("tracefs is not mounted" in text, text)
    check(d.stop() == 0, "clean stop")


SCENARIOS = {name[len("scenario_"):].replace("_", "-"): fn for name, fn in globals().items()
             if name.startswith("scenario_")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=sorted(SCENARIOS) + ["all"])
    ap.add_argument("--memhpd", required=True)
    ap.add_argument("--snapshot", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures",
                                                       "debian-6.1-qemu-2node.txt"))
    ap.add_argument("--memhpctl", help="the memhpctl binary (default: beside --memhpd)")
    ap.add_argument("--keep", action="store_true", help="keep the fixture root for poking at")
    args = ap.parse_args()
    args.memhpctl = args.memhpctl or os.path.join(os.path.dirname(args.memhpd), "memhpctl")
    if os.geteuid() != 0:
        print("integration tests need root (netlink multicast, SO_RCVBUFFORCE); run them as root", file=sys.stderr)
        return 1
    names = sorted(SCENARIOS) if args.scenario == "all" else [args.scenario]
    failed = 0
    for name in names:
        settings = SETTINGS
        if name == "lost-events":
            settings += "ReceiveBufferSize=4K\n"
        if name == "metrics":
            settings += f"MetricsFile={METRICS_FILE}\n"
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
