#!/usr/bin/env python3
"""Real-kernel scenarios for memhpd: QEMU (TCG) boots a Debian kernel (6.1 by default, or the 6.12
of bookworm-backports) with a busybox initramfs holding memhpd, QMP hot-adds and removes memory,
the guest shell reads sysfs and memhpd's log.

    python3 tests/vm/run.py --list
    python3 tests/vm/run.py dimm-default [more names | all] [--kernel 6.12] [--keep]

Exit status: 0 all passed, 1 a scenario failed, 77 the VM tooling is unavailable (skip).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import systemdvm as SDV  # noqa: E402
import vmlib  # noqa: E402
from vmlib import GiB, MiB, VM, VMError, Scenario, format_blocks, log  # noqa: E402

SCENARIOS = {}
NOT_IN_ALL = set()   # run only when named (the demo)


def scenario(name, doc, in_all=True):
    def reg(fn):
        SCENARIOS[name] = (fn, doc)
        if not in_all:
            NOT_IN_ALL.add(name)
        return fn
    return reg


class Failed(Exception):
    pass


class Skip(Exception):
    """The scenario cannot run here (exit 77 when nothing failed): only for a non-root user."""


def check(cond, msg):
    if not cond:
        raise Failed(msg)


# ---------------------------------------------------------------------------------------------
# helpers shared by scenarios

def policy(match, online):
    """A policy file's text from two dicts of keys."""
    lines = ["[Match]"] + [f"{k}={v}" for k, v in match.items()]
    lines += ["", "[Online]"] + [f"{k}={v}" for k, v in online.items()]
    return "\n".join(lines) + "\n"


def block_of(rec):
    b = rec.get("block", "")
    if b.startswith("memory"):
        b = b[len("memory"):]
    try:
        return int(b)
    except ValueError:
        return None


def is_movable(blk):
    return blk["zones"][:1] == ["Movable"]


def new_online(before, want):
    """Predicate: `want` blocks that were not in `before` exist and are all online."""
    def pred(blocks):
        new = [i for i in blocks if i not in before]
        return len(new) >= want and all(blocks[i]["state"] == "online" for i in new)
    return pred


def new_blocks(before, after):
    return sorted(i for i in after if i not in before)


def zone_of_record(rec):
    """'movable' or 'kernel' as an audit record says, from zone= or else action=."""
    z = rec.get("zone", "")
    a = rec.get("action", "")
    if z in ("movable", "Movable") or a == "online_movable":
        return "movable"
    if z in ("kernel", "normal", "Normal") or a == "online_kernel":
        return "kernel"
    return z or a


def check_onlined_once(vm, blocks, idx):
    """Each block in idx has exactly one onlined/ok audit record, whose zone is the real zone."""
    recs = vm.audit()
    bad = []
    for i in idx:
        on = [r for r in recs if r.get("event") == "onlined" and block_of(r) == i]
        if len(on) != 1:
            bad.append(f"memory{i}: {len(on)} 'onlined' records")
            continue
        r = on[0]
        if r.get("result") != "ok":
            bad.append(f"memory{i}: result={r.get('result')}")
        z = zone_of_record(r)
        real = "movable" if is_movable(blocks[i]) else "kernel"
        if z != real:
            bad.append(f"memory{i}: audit says zone {z!r}, sysfs says {blocks[i]['zones']}")
    check(not bad, "audit/sysfs mismatch:\n  " + "\n  ".join(bad))


def check_no_failures(vm):
    failed = [r["_line"] for r in vm.audit() if r.get("result") == "failed"]
    check(not failed, "memhpd logged failures:\n  " + "\n  ".join(failed))


def check_alive(vm):
    if vm.memhpd_pid() is None:
        raise Failed(f"memhpd is not running (exit status {vm.memhpd_exit_status()})")


def boot(ctx, scn):
    vm = VM(scn, ctx.memhpd, ctx.source_root, ctx.cache, keep=ctx.keep,
            workdir=ctx.workdir, kernel=ctx.kernel, cmdline_extra=ctx.cmdline_extra)
    ctx.vm = vm
    vm.start()
    return vm


# ---------------------------------------------------------------------------------------------
# scenarios

@scenario("dimm-default", "2 GiB pc-dimm on node 0, shipped presets only: 16 blocks online once")
def s_dimm_default(ctx):
    vm = boot(ctx, Scenario())
    vm.wait_started()
    before = vm.blocks()
    bs = vm.block_size()
    t0 = time.monotonic()
    vm.add_dimm("dimm1", 2 * GiB, node=0)
    n = 2 * GiB // bs
    after = vm.wait_blocks(new_online(before, n), 120, f"{n} new blocks online")
    ctx.note(f"{n} blocks online {time.monotonic() - t0:.1f}s after device_add")
    idx = new_blocks(before, after)
    check(len(idx) == n, f"expected {n} new blocks, got {len(idx)}")
    check_onlined_once(vm, after, idx)
    check_no_failures(vm)
    check_ctl_status(vm, after, idx)


def check_ctl_status(vm, blocks, idx):
    """memhpctl status --json over the private socket (no dbus-daemon in this guest): every block is in
    one run that agrees with sysfs, and each hot-added block names the policy its onlined record names."""
    rc, out = vm.sh("memhpctl status --json --no-pager")
    check(rc == 0, f"memhpctl status --json exited {rc}: {out}")
    try:
        j = json.loads(out[out.index("{"):])
    except ValueError as e:
        raise Failed(f"memhpctl status --json: not JSON ({e}): {out[:400]}")
    runs = {}
    for run in j["memory"]:
        first, _, last = run["block"].partition("-")
        for i in range(int(first), int(last or first) + 1):
            runs[i] = run
    check(sorted(runs) == sorted(blocks), f"runs cover {len(runs)} blocks, sysfs has {len(blocks)}")
    recs = {block_of(r): r for r in vm.audit() if r.get("event") == "onlined"}
    bad = []
    for i in idx:
        run = runs[i]
        if run["state"] != blocks[i]["state"]:
            bad.append(f"memory{i}: state {run['state']} != {blocks[i]['state']}")
        if run["decided_by"] != "policy" or run["policy"] != recs[i].get("policy"):
            bad.append(f"memory{i}: decided by {run['decided_by']} {run['policy']}, its record says "
                       f"{recs[i].get('policy')}")
        if (run["zone"] == "Movable") != is_movable(blocks[i]):
            bad.append(f"memory{i}: zone {run['zone']}, sysfs {blocks[i]['zones']}")
    check(not bad, "memhpctl status --json disagrees:\n  " + "\n  ".join(bad))
    rc, out = vm.sh(f"memhpctl explain memory{idx[0]}; memhpctl verify")
    check(rc == 0 and "decides" in out and "No drift" in out, f"explain/verify in the guest ({rc}): {out}")


@scenario("auto-ratio", "Zone=auto MaxMovableRatio=100% on node 0: movable <= ratio x kernel")
def s_auto_ratio(ctx):
    ratio = 1.0
    vm = boot(ctx, Scenario(policies={"10-ratio.policy": policy(
        {"Device": "any", "Node": "0"}, {"Zone": "auto", "MaxMovableRatio": "100%"})}))
    vm.wait_started()
    bs = vm.block_size()
    before = vm.blocks()
    k0 = sum(1 for b in before.values() if b["node"] in (0, None) and b["state"] == "online"
             and not is_movable(b))
    ctx.note(f"boot: {k0} kernel blocks on node 0")
    new_total = 0
    for i, size in enumerate((1 * GiB, 1 * GiB, 1 * GiB)):
        prev = vm.blocks()
        vm.add_dimm(f"dimm{i}", size, node=0)
        new_total += size // bs
        after = vm.wait_blocks(new_online(before, new_total), 120, f"{new_total} blocks online")
        check_onlined_once(vm, after, new_blocks(prev, after))
        node0 = [b for b in after.values() if b["node"] in (0, None) and b["state"] == "online"]
        mov = sum(1 for b in node0 if is_movable(b))
        ker = len(node0) - mov
        # The best split the ratio allows: m <= r * (k0 + n - m).
        best = int(ratio * (k0 + new_total) / (1 + ratio))
        ctx.note(f"after {new_total} new blocks: kernel={ker} movable={mov} (best allowed {best})")
        check(mov <= ratio * ker, f"movable {mov} > {ratio:.0%} of kernel {ker}")
        check(mov >= best - 1, f"movable {mov}, the ratio allows {best}: auto is too timid")
    check_no_failures(vm)


@scenario("cpuless-node", "DIMM on CPU-less node 1 follows its Node=1 policy, node 0 another")
def s_cpuless_node(ctx):
    vm = boot(ctx, Scenario(numa=True, policies={
        "10-node1.policy": policy({"Node": "1"}, {"Zone": "kernel"}),
        "20-others.policy": policy({"Device": "any"}, {"Zone": "movable"})}))
    vm.wait_started()
    bs = vm.block_size()
    n = GiB // bs
    before = vm.blocks()
    vm.add_dimm("dimm1", GiB, node=1)
    after = vm.wait_blocks(new_online(before, n), 120, "node 1 blocks online")
    idx1 = new_blocks(before, after)
    check(all(after[i]["node"] == 1 for i in idx1), "blocks not on node 1:\n" + format_blocks(after))
    check(all(not is_movable(after[i]) for i in idx1),
          "node 1 blocks not in a kernel zone:\n" + format_blocks(after))
    check_onlined_once(vm, after, idx1)
    recs = [r for r in vm.audit() if r.get("event") == "onlined" and block_of(r) in idx1]
    check(all("10-node1.policy" in r.get("policy", "") for r in recs),
          "node 1 blocks not decided by 10-node1.policy:\n  "
          + "\n  ".join(r["_line"] for r in recs))

    before = after
    vm.add_dimm("dimm0", GiB, node=0)
    after = vm.wait_blocks(new_online(before, n), 120, "node 0 blocks online")
    idx0 = new_blocks(before, after)
    check(all(after[i]["node"] == 0 and is_movable(after[i]) for i in idx0),
          "node 0 blocks not movable on node 0:\n" + format_blocks(after))
    check_onlined_once(vm, after, idx0)
    check_no_failures(vm)


@scenario("far-memory-delay", "CpuLess=yes: a DIMM on CPU-less node 1 goes movable; When=delay on node 0: "
          "a block onlined by hand during the delay is left alone, the rest decided at its end")
def s_far_memory_delay(ctx):
    vm = boot(ctx, Scenario(numa=True, policies={
        "10-far.policy": policy({"CpuLess": "yes"}, {"Zone": "movable"}),
        "20-near.policy": policy({"Device": "acpi-dimm"},
                                 {"Zone": "auto", "MaxMovableRatio": "0%", "When": "delay", "Delay": "4s"})}))
    vm.wait_started()
    facts = "cat /sys/devices/system/node/has_cpu; for t in /sys/devices/virtual/memory_tiering/memory_tier*; " \
            "do echo \"$t: $(cat $t/nodelist)\"; done"
    ctx.note("before: has_cpu and tiers: " + vm.out(facts).replace("\n", "; "))
    bs = vm.block_size()
    n = 512 * MiB // bs
    before = vm.blocks()
    vm.add_dimm("dimm1", 512 * MiB, node=1)
    after = vm.wait_blocks(new_online(before, n), 60, "node 1 blocks online")
    idx1 = new_blocks(before, after)
    check(all(after[i]["node"] == 1 and is_movable(after[i]) for i in idx1),
          "far memory (node 1) not movable:\n" + format_blocks(after))
    recs = [r for r in vm.audit() if r.get("event") == "onlined" and block_of(r) in idx1]
    check(len(recs) == n and all("10-far.policy" in r.get("policy", "") for r in recs),
          "node 1 not decided by 10-far.policy:\n  " + "\n  ".join(r["_line"] for r in recs))
    ctx.note("after node 1 memory online: " + vm.out(facts).replace("\n", "; "))

    before = after
    vm.add_dimm("dimm0", 512 * MiB, node=0)
    vm.wait_audit(lambda r: r.get("event") == "deferred", 30, "a deferred record")
    t_deferred = time.monotonic()
    idx0 = new_blocks(before, vm.blocks())
    check(len(idx0) == n, f"{len(idx0)} new blocks on node 0, expected {n}")
    span = f"deferred memory{idx0[0]}-{idx0[-1]} ({n} blocks"
    vm.wait_audit(lambda r: r.get("event") == "deferred" and span in r["_line"], 5, "one group for the DIMM")
    hand = idx0[1]
    vm.out(f"echo online_movable > /sys/devices/system/memory/memory{hand}/state")
    after = vm.wait_blocks(new_online(before, n), 30, "node 0 blocks online")
    waited = time.monotonic() - t_deferred
    check(waited >= 2.5, f"node 0 decided {waited:.1f} s after the deferred record, before Delay=4s")
    check(is_movable(after[hand]), f"memory{hand}, onlined by hand, is not where the hand put it")
    rest = [i for i in idx0 if i != hand]
    check(all(not is_movable(after[i]) for i in rest), "the rest not by 20-near (kernel):\n" + format_blocks(after))
    check_onlined_once(vm, after, rest)
    check(not [r for r in vm.audit() if r.get("event") == "onlined" and block_of(r) == hand],
          f"memhpd onlined memory{hand} too")
    vm.wait_audit(lambda r: r.get("event") == "online-by-other" and block_of(r) == hand, 10,
                  f"online-by-other for memory{hand}")
    ctx.note(f"group of {n} decided {waited:.1f} s after its deferred record (Delay=4s), memory{hand} left to the hand")
    check_no_failures(vm)


@scenario("virtio-mem", "virtio-mem grows 0 -> 2 GiB (all online movable), shrinks to 256 MiB")
def s_virtio_mem(ctx):
    vm = boot(ctx, Scenario(
        policies={"10-vmem.policy": policy({"Device": "virtio-mem"}, {"Zone": "movable"})},
        extra_qemu=["-object", "memory-backend-ram,id=vmem0,size=2G",
                    "-device", "virtio-mem-pci,id=vm0,memdev=vmem0,node=0,requested-size=0"]))
    vm.wait_started()
    bs = vm.block_size()
    before = vm.blocks()
    t0 = time.monotonic()
    vm.qom_set("vm0", "requested-size", 2 * GiB)
    deadline = time.monotonic() + 180
    while vm.qom_get("vm0", "size") != 2 * GiB:
        if time.monotonic() > deadline:
            raise Failed(f"virtio-mem size stuck at {vm.qom_get('vm0', 'size') // MiB} MiB:\n"
                         + format_blocks(vm.blocks()))
        time.sleep(0.5)
    ctx.note(f"virtio-mem reached 2 GiB in {time.monotonic() - t0:.1f}s")
    n = 2 * GiB // bs
    after = vm.wait_blocks(new_online(before, n), 60, f"{n} virtio-mem blocks online")
    idx = new_blocks(before, after)
    check(all(is_movable(after[i]) for i in idx), "blocks not movable:\n" + format_blocks(after))
    check_onlined_once(vm, after, idx)
    recs = [r for r in vm.audit() if r.get("event") == "onlined" and block_of(r) in idx]
    check(all(r.get("device") == "virtio-mem" for r in recs),
          "device not classified virtio-mem:\n  " + "\n  ".join(r["_line"] for r in recs))

    t0 = time.monotonic()
    vm.qom_set("vm0", "requested-size", 256 * MiB)
    deadline = time.monotonic() + 180
    while vm.qom_get("vm0", "size") != 256 * MiB:
        if time.monotonic() > deadline:
            raise Failed(f"virtio-mem size stuck at {vm.qom_get('vm0', 'size') // MiB} MiB:\n"
                         + format_blocks(vm.blocks()))
        time.sleep(0.5)
    ctx.note(f"virtio-mem shrank to 256 MiB in {time.monotonic() - t0:.1f}s")
    time.sleep(1)
    left = vm.blocks()
    rest = [i for i in idx if i in left]
    check(all(left[i]["state"] == "online" for i in rest),
          "offline virtio-mem blocks left after shrink:\n" + format_blocks(left))
    check_no_failures(vm)
    check_alive(vm)


@scenario("coldplug", "a DIMM present at boot: offline until memhpd starts, then online; on a kernel "
          "that onlines at boot (6.12), left alone as boot memory")
def s_coldplug(ctx):
    vm = boot(ctx, Scenario(autostart=False, extra_qemu=[
        "-object", "memory-backend-ram,id=d0,size=1G",
        "-device", "pc-dimm,id=dimm0,memdev=d0"]))
    aob = vm.out("cat /sys/devices/system/memory/auto_online_blocks")
    check(aob in ("offline", "online"), f"auto_online_blocks is {aob!r}")
    bs = vm.block_size()
    n = GiB // bs
    blocks = vm.blocks()
    dimm = [i for i in blocks if i * bs >= 4 * GiB]
    check(len(dimm) == n, f"expected {n} cold-plugged blocks:\n" + format_blocks(blocks))
    if aob == "online":
        # The kernel (CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE=y) onlined the DIMM at boot, before any
        # userspace: memhpd finds boot memory, leaves it alone, and takes the auto-online over.
        check(all(blocks[i]["state"] == "online" for i in dimm),
              "auto_online_blocks=online, yet cold-plugged blocks are offline:\n" + format_blocks(blocks))
        vm.start_memhpd()
        vm.wait_started()
        check(vm.out("cat /sys/devices/system/memory/auto_online_blocks") == "offline",
              "memhpd did not take the kernel's auto-online over")
        recs = vm.audit()
        check(any(r.get("event") == "conflict" and r.get("agent") == "kernel" for r in recs),
              "no conflict record for the kernel's auto-online")
        touched = [r["_line"] for r in recs if block_of(r) in dimm]
        check(not touched, "memhpd recorded blocks that were online at boot:\n  " + "\n  ".join(touched))
        after = vm.blocks()
        check(all(after[i]["state"] == "online" for i in dimm), "boot-online blocks changed:\n"
              + format_blocks(after))
        check_no_failures(vm)
        return
    time.sleep(1)
    blocks = vm.blocks()
    check(all(blocks[i]["state"] == "offline" for i in dimm),
          "cold-plugged blocks online before memhpd:\n" + format_blocks(blocks))
    t0 = time.monotonic()
    vm.start_memhpd()
    after = vm.wait_blocks(lambda b: all(b[i]["state"] == "online" for i in dimm), 60,
                           "cold-plugged blocks online")
    ctx.note(f"{n} cold-plugged blocks online {time.monotonic() - t0:.1f}s after memhpd start")
    check_onlined_once(vm, after, dimm)
    check_no_failures(vm)


@scenario("burst", "8 GiB hot-added at once (4 DIMMs back to back): every block online, once")
def s_burst(ctx):
    vm = boot(ctx, Scenario())
    vm.wait_started()
    bs = vm.block_size()
    before = vm.blocks()
    t0 = time.monotonic()
    for i in range(4):
        vm.add_dimm(f"dimm{i}", 2 * GiB, node=0)
    n = 8 * GiB // bs
    after = vm.wait_blocks(new_online(before, n), 300, f"{n} blocks online", interval=1)
    ctx.note(f"{n} blocks online {time.monotonic() - t0:.1f}s after the first device_add")
    idx = new_blocks(before, after)
    check(len(idx) == n, f"expected {n} new blocks, got {len(idx)}")
    check_onlined_once(vm, after, idx)
    check_no_failures(vm)


@scenario("dimm-remove", "movable DIMM hot-added then device_del: blocks gone, removal logged")
def s_dimm_remove(ctx):
    vm = boot(ctx, Scenario(policies={
        "10-movable.policy": policy({"Device": "any"}, {"Zone": "movable"})}))
    vm.wait_started()
    bs = vm.block_size()
    n = GiB // bs
    before = vm.blocks()
    vm.add_dimm("dimm1", GiB, node=0)
    after = vm.wait_blocks(new_online(before, n), 120, "DIMM blocks online")
    idx = new_blocks(before, after)
    check(all(is_movable(after[i]) for i in idx), "blocks not movable:\n" + format_blocks(after))
    check_onlined_once(vm, after, idx)
    t0 = time.monotonic()
    vm.del_device("dimm1", timeout=120)
    ctx.note(f"DEVICE_DELETED {time.monotonic() - t0:.1f}s after device_del")
    vm.wait_blocks(lambda b: not any(i in b for i in idx), 30, "DIMM blocks to disappear")
    vm.wait_audit(lambda r: r.get("event") == "removed" and block_of(r) in idx, 30,
                  "'removed' record for the DIMM's blocks")
    check_no_failures(vm)
    check_alive(vm)


@scenario("manual", "When=manual: hot-added blocks stay offline")
def s_manual(ctx):
    vm = boot(ctx, Scenario(policies={
        "10-manual.policy": policy({"Device": "any"}, {"Zone": "movable", "When": "manual"})}))
    vm.wait_started()
    bs = vm.block_size()
    n = GiB // bs
    before = vm.blocks()
    vm.add_dimm("dimm1", GiB, node=0)
    vm.wait_blocks(lambda b: len(new_blocks(before, b)) >= n, 60, "DIMM blocks to appear")
    recs = vm.wait_audit(lambda r: r.get("event") in ("left-offline", "onlined")
                         and block_of(r) is not None and block_of(r) not in before, 30,
                         "decision record for the new blocks")
    time.sleep(5)
    after = vm.blocks()
    idx = new_blocks(before, after)
    check(all(after[i]["state"] == "offline" for i in idx),
          "blocks onlined despite When=manual:\n" + format_blocks(after))
    on = [r["_line"] for r in vm.audit() if r.get("event") == "onlined"]
    check(not on, "onlined records despite When=manual:\n  " + "\n  ".join(on))
    ctx.note(f"{len(recs)} decision records, e.g. {recs[0]['_line']}")
    check_no_failures(vm)
    check_alive(vm)


@scenario("reload-broken", "SIGHUP with a broken policy keeps the old set; hot-add follows it")
def s_reload_broken(ctx):
    vm = boot(ctx, Scenario(policies={
        "10-test.policy": policy({"Device": "any"}, {"Zone": "movable"})}))
    vm.wait_started()
    pid = vm.memhpd_pid()
    check(pid is not None, "memhpd is not running")
    path = f"{vm.sysconfdir}/policies.d/10-test.policy"
    vm.out(f"printf '[Match]\\nDevice=any\\n\\n[Online]\\nZone=sideways\\nBogus\\n' > {path}")
    vm.out(f"kill -HUP {pid}")
    rej = vm.wait_audit(lambda r: r.get("event") == "policy-rejected", 30,
                        "policy-rejected record")
    ctx.note(f"rejection: {rej[0]['_line']}")
    check(vm.memhpd_pid() == pid, "memhpd died or restarted on SIGHUP")
    bs = vm.block_size()
    n = GiB // bs
    before = vm.blocks()
    vm.add_dimm("dimm1", GiB, node=0)
    after = vm.wait_blocks(new_online(before, n), 120, "DIMM blocks online")
    idx = new_blocks(before, after)
    check(all(is_movable(after[i]) for i in idx),
          "blocks not movable per the old policy:\n" + format_blocks(after))
    check_onlined_once(vm, after, idx)
    recs = [r for r in vm.audit() if r.get("event") == "onlined" and block_of(r) in idx]
    check(all("10-test.policy" in r.get("policy", "") for r in recs),
          "blocks not decided by the old 10-test.policy:\n  "
          + "\n  ".join(r["_line"] for r in recs))


@scenario("lost-events", "tiny receive buffer, memhpd stopped during a 4 GiB hot-add: rescan")
def s_lost_events(ctx):
    vm = boot(ctx, Scenario(conf="[Daemon]\nReceiveBufferSize=4096\n", policies={
        "10-movable.policy": policy({"Device": "any"}, {"Zone": "movable"})}))
    vm.wait_started()
    pid = vm.memhpd_pid()
    check(pid is not None, "memhpd is not running")
    bs = vm.block_size()
    n = 4 * GiB // bs
    before = vm.blocks()
    vm.out(f"kill -STOP {pid}")
    vm.add_dimm("dimm1", 2 * GiB, node=0)
    vm.add_dimm("dimm2", 2 * GiB, node=0)
    vm.wait_blocks(lambda b: len(new_blocks(before, b)) >= n, 60, f"{n} blocks to appear")
    time.sleep(1)
    b = vm.blocks()
    check(all(b[i]["state"] == "offline" for i in new_blocks(before, b)),
          "blocks onlined while memhpd was stopped (kernel auto-online?):\n" + format_blocks(b))
    t0 = time.monotonic()
    vm.out(f"kill -CONT {pid}")
    after = vm.wait_blocks(new_online(before, n), 120, f"{n} blocks online after SIGCONT")
    ctx.note(f"{n} blocks online {time.monotonic() - t0:.1f}s after SIGCONT")
    lost = vm.wait_audit(lambda r: r.get("event") == "events-lost", 10, "events-lost record")
    ctx.note(f"events-lost: {lost[0]['_line']}")
    check_onlined_once(vm, after, new_blocks(before, after))
    check_no_failures(vm)


# ---------------------------------------------------------------------------------------------
# Who owns the onlining decision (KernelAutoOnline=, memhpd(8) OTHER AGENTS)

AOB = "/sys/devices/system/memory/auto_online_blocks"
MHP = "/sys/module/memory_hotplug/parameters"
KNOBS = ("auto_online_blocks", "online_policy", "auto_movable_ratio", "auto_movable_numa_aware")
SAVED = "/run/memhpd/kernel-auto-online"


def kernel_online_first(ctx):
    """AUTO_ONLINE_BLOCKS for a scenario that needs the kernel's auto-online on before memhpd
    starts: 6.12 has it on by default (left as the kernel has it), 6.1 gets `online` from /init."""
    return None if ctx.kernel == "6.12" else "online"


def knobs(vm):
    """The kernel's auto-online settings, {name: value}."""
    out = vm.out(f"cat {AOB}; for k in {' '.join(KNOBS[1:])}; do cat {MHP}/$k; done")
    return dict(zip(KNOBS, out.split()))


def saved_knobs(vm):
    """memhpd's saved file as {knob: value}, or None if it does not exist."""
    rc, out = vm.sh(f"cat {SAVED}")
    if rc != 0:
        return None
    return dict(line.split("=", 1) for line in out.splitlines()
                if "=" in line and not line.startswith("#"))


def wait_count(vm, event, n, timeout=30, pred=lambda r: True):
    """Wait until memhpd's log holds at least n records of 'event' (that match pred)."""
    what = f"{n} '{event}' record(s)"
    deadline = time.monotonic() + timeout
    while True:
        recs = [r for r in vm.audit() if r.get("event") == event and pred(r)]
        if len(recs) >= n:
            return recs
        if time.monotonic() > deadline:
            raise Failed(f"no {what} within {timeout}s:\n" + vm.memhpd_log()[-3000:])
        time.sleep(0.3)


def kao_records(vm, text=""):
    return [r for r in vm.audit() if r.get("event") == "kernel-auto-online" and text in r["_line"]]


def check_aob(vm, want, when):
    aob = vm.out(f"cat {AOB}")
    check(aob == want, f"auto_online_blocks is {aob!r} {when}, expected {want!r}")


def add_and_wait_blocks(vm, ident, size, timeout=60):
    """Hot-add a DIMM on node 0; returns (its block indexes, blocks) once they all exist."""
    bs = vm.block_size()
    n = size // bs
    before = vm.blocks()
    addr = vm.add_dimm(ident, size, node=0)
    want = set(range(addr // bs, addr // bs + n))
    after = vm.wait_blocks(lambda b: want <= set(b), timeout, f"{n} blocks of {ident}")
    check(not (want & set(before)), f"{ident}'s blocks existed before it was added")
    return sorted(want), after


def wait_online(vm, idx, what, timeout=60):
    """Wait until every block in idx is online; returns the blocks."""
    return vm.wait_blocks(lambda b: all(b[i]["state"] == "online" for i in idx), timeout, what)


# ---------------------------------------------------------------------------------------------
# drain (offline-worker.c, drain.c, memhpctl drain)

def build_guest_tool(ctx, name):
    """tests/vm/guest/NAME.c built static for the busybox guest (cached beside the kernels)."""
    src = os.path.join(ctx.source_root, "tests", "vm", "guest", name + ".c")
    out = os.path.join(ctx.cache, name)
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
        r = subprocess.run(["cc", "-static", "-O2", "-Wall", "-o", out + ".tmp", src], capture_output=True, text=True)
        if r.returncode != 0:
            raise Failed(f"cannot build the guest tool {name}: {r.stderr}")
        os.rename(out + ".tmp", out)
    return out


def add_dimm_online(vm, ident, size, node, timeout=120):
    """Hot-add a DIMM on 'node' and wait until memhpd onlined its blocks; returns their indexes."""
    bs = vm.block_size()
    addr = vm.add_dimm(ident, size, node=node)
    idx = list(range(addr // bs, addr // bs + size // bs))
    vm.wait_blocks(lambda b: all(i in b and b[i]["state"] == "online" for i in idx), timeout, f"{ident} online")
    return idx


def wait_guest_file(vm, path, text, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        out = vm.sh(f"cat {path} 2>/dev/null")[1]
        if text in out:
            return out
        if time.monotonic() > deadline:
            raise Failed(f"{path} never said {text!r}: {out!r}")
        time.sleep(0.3)


def line_of(vm, pred):
    """The position in memhpd's log of the first record that matches, or None."""
    for n, r in enumerate(vm.audit()):
        if pred(r):
            return n
    return None


@scenario("drain", "memhpctl drain: a node with a workload (it survives, blocks offline); a range with boot "
          "memory and a block pinned by vmsplice (reported, the others finish; memhpd answers during the "
          "stuck offline); drain --eject of a DIMM (DEVICE_DELETED); a device_del is not fought")
def s_drain(ctx):
    vm = boot(ctx, Scenario(numa=True, conf="[Daemon]\nOfflineTimeoutSec=10\nRetries=0\n",
                            policies={"10-movable.policy": policy({"Device": "any"}, {"Zone": "movable"})},
                            files={"/usr/bin/vm-pages": build_guest_tool(ctx, "vm-pages")}))
    vm.wait_started()

    # 1. A node with a workload on it: drained, the workload's pages moved, not lost.
    a = add_dimm_online(vm, "dimmA", 256 * MiB, node=1)
    vm.out("vm-pages fill 1 64 > /tmp/fill.out 2>&1 & echo $! > /tmp/fill.pid")
    wait_guest_file(vm, "/tmp/fill.out", "ready")
    used = int(vm.out("awk '/MemUsed/ {print $4}' /sys/devices/system/node/node1/meminfo"))
    check(used >= 60 * 1024, f"the workload is on node 1 (MemUsed {used} kB)")
    t0 = time.monotonic()
    rc, out = vm.sh("memhpctl drain node1", timeout=120)
    took = time.monotonic() - t0
    check(rc == 0 and f"Drain of node1: {len(a)} blocks offline." in out, f"drain node1 ({rc}): {out}")
    ctx.note(f"drain of node1 ({len(a)} blocks, 64 MiB workload) took {took:.1f}s")
    blocks = vm.blocks()
    check(all(blocks[i]["state"] == "offline" for i in a), "node 1 drained:\n" + format_blocks(blocks))
    vm.out("kill -USR1 $(cat /tmp/fill.pid)")
    wait_guest_file(vm, "/tmp/fill.out", "intact")
    check(not [r for r in vm.audit() if r.get("event") == "offline-by-other"], "memhpd's offlines are its own")

    # 2. A range with boot memory (kernel zone: reported, not tried) and a block pinned by vmsplice
    #    (times out); meanwhile a new DIMM is onlined.
    #    The pinned pages go to the only online memory of node 1 then: dimmB's one block, the first
    #    (movable, lowest) block of the drain; dimmB2's block comes online after the pin.
    b = add_dimm_online(vm, "dimmB", 128 * MiB, node=1)
    vm.out("vm-pages pin 1 1024 > /tmp/pin.out 2>&1 & echo $! > /tmp/pin.pid")
    wait_guest_file(vm, "/tmp/pin.out", "pinned")
    stuck = b[0]
    b += add_dimm_online(vm, "dimmB2", 128 * MiB, node=1)
    target = f"memory3-{b[-1]}"
    vm.out(f"(memhpctl drain {target} > /tmp/drain.out 2>&1; echo $? > /tmp/drain.rc) &")
    vm.wait_audit(lambda r: r.get("event") == "offline-started" and block_of(r) == stuck, 30,
                  f"the offline of memory{stuck}")
    # The loop answers while the write hangs: a control call, and a reload (SIGHUP).
    t0 = time.monotonic()
    n_loaded = len([r for r in vm.audit() if r.get("event") == "policy-loaded"])
    rc, out = vm.sh("memhpctl status >/dev/null && kill -HUP $(cat /run/memhpd.pid)")
    check(rc == 0, f"memhpctl status during the stuck offline ({rc}): {out}")
    wait_count(vm, "policy-loaded", n_loaded + 1, timeout=8)
    check(line_of(vm, lambda r: r.get("event") == "offline-failed" and block_of(r) == stuck) is None,
          f"status and reload answered before the timeout ({time.monotonic() - t0:.1f}s)")
    # A DIMM added now waits for the kernel's memory hot-plug lock, which the stuck offline holds: it
    # comes online once the write is killed (measured on 6.1 and 6.12).
    c = add_dimm_online(vm, "dimmC", 256 * MiB, node=0, timeout=60)
    wait_guest_file(vm, "/tmp/drain.rc", "1", timeout=60)
    out = vm.out("cat /tmp/drain.out")
    check("memory3: boot memory in a kernel zone" in out and f"memory{stuck}: timed out" in out,
          f"the drain names the boot block and the stuck one:\n{out}")
    blocks = vm.blocks()
    check(blocks[stuck]["state"] == "online", f"memory{stuck} stays online")
    check(all(blocks[i]["state"] == "offline" for i in b if i != stuck), "dimmB2's block drained:\n"
          + format_blocks(blocks))
    check(blocks[3]["state"] == "online", "boot memory untouched")
    on_c = line_of(vm, lambda r: r.get("event") == "onlined" and block_of(r) == c[-1])
    failed = line_of(vm, lambda r: r.get("event") == "offline-failed" and block_of(r) == stuck)
    check(on_c is not None and failed is not None, "dimmC onlined, the stuck offline failed")
    ctx.note(f"dimmC onlined {'after' if on_c > failed else 'before'} the stuck offline was killed")

    # 3. drain --eject of a DIMM by its ACPI device: QEMU removes it.
    fw = vm.out(f"basename $(readlink /sys/devices/system/memory/memory{c[0]}/firmware_node)")
    rc, out = vm.sh(f"memhpctl drain {fw} --eject", timeout=120)
    check(rc == 0 and f"asked for the removal of {fw}" in out, f"drain --eject ({rc}): {out}")
    vm.qmp.wait_event("DEVICE_DELETED", 60, lambda d: d.get("device") == "dimmC")
    vm.wait_blocks(lambda bl: not any(i in bl for i in c), 30, "dimmC's blocks to disappear")

    # 4. The hypervisor removes dimmB (its pinned block free again): the kernel offlines it itself;
    #    memhpd records someone else's offline and the removal, and onlines nothing.
    vm.out("kill $(cat /tmp/pin.pid)")
    n_onlined = len([r for r in vm.audit() if r.get("event") == "onlined"])
    vm.del_device("dimmB", timeout=120)
    vm.wait_blocks(lambda bl: stuck not in bl, 30, "dimmB's block to disappear")
    vm.wait_audit(lambda r: r.get("event") == "removed" and block_of(r) == stuck, 30, f"memory{stuck} removed")
    check(len([r for r in vm.audit() if r.get("event") == "onlined"]) == n_onlined, "nothing re-onlined")


def build_hog(ctx):
    """tests/vm/pressure-hog.c, static, for the guest (busybox has no libc to link against)."""
    import subprocess
    src = os.path.join(ctx.source_root, "tests", "vm", "pressure-hog.c")
    out = os.path.join(ctx.build_dir or os.path.join(ctx.source_root, "build"), "pressure-hog")
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
        subprocess.run(["cc", "-static", "-O2", "-pthread", "-o", out, src], check=True)
    return out


PRESSURE_CONF = "[Daemon]\nMemoryPressureLimit=10%\nMemoryPressureDurationSec=500ms\n"
HOG_TRIGGER = "some 50000 500000"   # the trigger memhpd sets with PRESSURE_CONF


@scenario("pressure-reserve", "512 MiB guest, a 512 MiB DIMM kept as a When=pressure reserve: an "
          "anonymous hog grows, memhpd onlines 128 MiB steps before the OOM killer; an empty reserve "
          "polls nothing")
def s_pressure_reserve(ctx):
    vm = boot(ctx, Scenario(conf=PRESSURE_CONF, files={"/bin/pressure-hog": build_hog(ctx)}, policies={
        "40-reserve.policy": policy({"Device": "acpi-dimm"},
                                    {"Zone": "movable", "When": "pressure", "OnlineStep": "128M"})}))
    vm.wait_started()
    pid = vm.memhpd_pid()
    psi_fd = "for f in /proc/%d/fd/*; do readlink $f; done | grep -c /proc/pressure/memory" % pid
    check(vm.out(psi_fd + " || true").strip() == "0", "a pressure trigger before any reserve")
    idx, _ = add_and_wait_blocks(vm, "dimm1", 512 * MiB)
    vm.wait_audit(lambda r: r.get("event") == "reserved" and block_of(r) == idx[-1], 30, "the reserve")
    blocks = vm.blocks()
    check(all(blocks[i]["state"] == "offline" for i in idx), "reserve blocks onlined without pressure")
    check(vm.out(psi_fd + " || true").strip() == "1", "no pressure trigger while a reserve exists")

    # Anonymous memory without swap: nothing to reclaim, so almost no stall before the OOM killer
    # (measured here: PSI "some" stayed at total=0 up to the OOM kill; a hog throttled by its cgroup's
    # memory.high, 72M held over 64M, did not breach 10% of 500 ms, and 64M over 32M stalled the guest
    # shell past 60 s). The watermark
    # check (free + page cache vs high watermarks + one step, once a window) brings the reserve in.
    out = vm.out("pressure-hog '%s' 900 8 50 %s; dmesg | grep -ci -e 'out of memory' -e oom-kill || true"
                 % (HOG_TRIGGER, " ".join(f"memory{i}" for i in idx)), timeout=120)
    ctx.note("anonymous phase: " + out.replace("\n", "; "))
    m = re.search(r"hog: held=(\d+) reserve_online=(\d+)/(\d+)", out)
    check(m, f"the hog did not finish: {out}")
    check(out.strip().splitlines()[-1] == "0", f"the OOM killer ran: {out}")
    check(m.group(2) == m.group(3), f"the hog finished with part of the reserve offline: {out}")
    steps = [r for r in vm.audit() if r.get("event") == "reserve-step"]
    check(len(steps) == 4 and all("memory running out" in r["_line"] and "onlining 1 of" in r["_line"]
                                  for r in steps), f"four watermark steps of one block: {[r['_line'] for r in steps]}")
    ctx.note(f"first step: {steps[0]['_line']}")
    blocks = vm.blocks()
    check_onlined_once(vm, blocks, idx)
    check(all("reserve step" in r["_line"] for r in vm.audit()
              if r.get("event") == "onlined" and block_of(r) in idx), "onlined records name the reserve step")
    check(all(is_movable(blocks[i]) for i in idx), "Zone=movable")

    # An empty reserve: no trigger, no timer, no wakeups.
    vm.wait_blocks(lambda b: True, 1)
    check(vm.out(psi_fd + " || true").strip() == "0", "the trigger stays open with an empty reserve")
    ctxt = "grep voluntary_ctxt_switches /proc/%d/status | head -1" % pid
    a = vm.out(ctxt)
    time.sleep(4)
    b = vm.out(ctxt)
    check(a == b, f"memhpd woke up with an empty reserve: {a} -> {b}")
    check_no_failures(vm)
    check_alive(vm)


RECLAIM = "/sys/kernel/tracing/instances/memhpd-reclaim/events"


@scenario("zone-rebalance", "512 MiB guest, a 1 GiB DIMM onlined movable by Zone=auto: millions of small files "
          "on tmpfs (unmovable slab) fill the kernel zones; memhpd moves free movable blocks to a kernel zone "
          "and the workload runs to its end without the OOM killer; idle, nothing wakes memhpd")
def s_zone_rebalance(ctx):
    seconds = 30
    vm = boot(ctx, Scenario(autostart=False, presets=False, files={"/bin/slab-files": build_guest_tool(ctx, "slab-files")},
                            policies={"10-auto.policy": policy({"Device": "acpi-dimm"},
                                                               {"Zone": "auto", "MaxMovableRatio": "1000%"})}))
    vm.out(f"mount -t tracefs nodev {TRACING}")
    vm.start_memhpd()
    vm.wait_started()
    pid = vm.memhpd_pid()
    # As units/memhpd.service does (OOMScoreAdjust=-1000); the guest's shell too, so that it answers.
    vm.out(f"echo -1000 > /proc/{pid}/oom_score_adj; echo -1000 > /proc/$$/oom_score_adj; "
           f"for p in /proc/[0-9]*; do echo -1000 > $p/oom_score_adj; done 2>/dev/null; true")
    enabled = (f"cat {RECLAIM}/kmem/mm_page_alloc_extfrag/enable {RECLAIM}/vmscan/mm_vmscan_wakeup_kswapd/enable "
               f"{RECLAIM}/vmscan/mm_vmscan_direct_reclaim_begin/enable 2>/dev/null")
    check(vm.sh(enabled)[1].split() in ([], ["0"] * 3), "reclaim events on before any Zone=auto block is movable")
    idx = add_dimm_online(vm, "dimm1", 1024 * MiB, 0)
    blocks = vm.blocks()
    check(all(is_movable(blocks[i]) for i in idx), f"the DIMM onlined movable: {format_blocks(blocks)}")
    deadline = time.monotonic() + 10
    while vm.out(enabled).split() != ["1"] * 3:
        check(time.monotonic() < deadline, "the reclaim events were never enabled: " + vm.out(enabled))
        time.sleep(0.2)
    check(vm.out(f"cat {RECLAIM}/kmem/mm_page_alloc_extfrag/filter") == "alloc_migratetype != 1",
          "page cache falling back is filtered out in the kernel")
    # Idle with the events on: no wake-up.
    ctxt = "grep voluntary_ctxt_switches /proc/%d/status | head -1" % pid
    a = vm.out(ctxt)
    time.sleep(4)
    b = vm.out(ctxt)
    check(a == b, f"memhpd woke up while idle, watching reclaim: {a} -> {b}")

    vm.out("mkdir -p /w && mount -t tmpfs -o size=64M,nr_inodes=0 tmpfs /w")
    t0 = time.monotonic()
    out = vm.out(f"(echo 1000 > /proc/self/oom_score_adj; exec slab-files /w {seconds}) > /tmp/slab.out 2>&1; "
                 "tail -n1 /tmp/slab.out; dmesg | grep -c -e 'invoked oom-killer' || true", timeout=seconds + 120)
    lines = out.strip().splitlines()
    ctx.note(f"slab-files: {lines[0] if lines else out!r} ({time.monotonic() - t0:.0f} s)")
    check(len(lines) == 2 and lines[1] == "0", f"the OOM killer ran: {out}\n" + vm.memhpd_log()[-3000:])
    check(lines[0].startswith("done ") and lines[0].endswith(" time"), f"slab-files did not run to its end: {out}")
    moves = [r for r in vm.audit() if r.get("event") == "rebalance"]
    ctx.note(f"{len(moves)} blocks moved; first: {moves[0]['_line'] if moves else '-'}")
    check(moves, "no block moved although the files outgrew the boot memory's kernel zones")
    blocks = vm.blocks()
    moved = [int(r["block"]) for r in moves]
    check(all(blocks[i]["state"] == "online" and not is_movable(blocks[i]) for i in moved),
          f"moved blocks not in a kernel zone: {format_blocks(blocks)}")
    recs = vm.audit()
    for i in moved:
        on = [r for r in recs if r.get("event") == "onlined" and block_of(r) == i]
        check(len(on) == 2 and zone_of_record(on[-1]) == "kernel", f"memory{i}: onlined records {on}")
    # The slab outgrew the boot memory's kernel zones: more kernel memory than boot had (~ 480 MiB).
    slab = meminfo_kib(vm, "Slab")
    ctx.note(f"Slab at the end: {slab // 1024} MiB; the move ended with the events on: {vm.out(enabled).split()}")
    check(slab > 512 * 1024, f"Slab {slab} kB: the workload did not outgrow the boot memory")
    check_no_failures(vm)
    check_alive(vm)


# dax.c: an emulated NVDIMM made a devdax device through sysfs, as ndctl does.
MAKE_DEVDAX = r"""
load-nvdimm || exit 1
i=0; while [ ! -e /sys/bus/nd/devices/namespace0.0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
nd=/sys/bus/nd/devices
# ndctl create-namespace -f -e namespace0.0 -m devdax: disable the raw namespace, give the
# region's dax seed a uuid, the memmap location (pmem: on the device) and the namespace, then bind
# dax_pmem, which writes the info block and registers dax0.0 on the dax bus (device_dax takes it).
[ -e $nd/namespace0.0/driver ] && echo namespace0.0 > /sys/bus/nd/drivers/nd_pmem/unbind
seed=$(cat $nd/region0/dax_seed)
cat /proc/sys/kernel/random/uuid > $nd/$seed/uuid || exit 1
echo pmem > $nd/$seed/mode || exit 1
echo namespace0.0 > $nd/$seed/namespace || exit 1
echo $seed > /sys/bus/nd/drivers/dax_pmem/bind || exit 1
i=0; while [ ! -e /sys/bus/dax/devices/dax0.0/driver ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
basename $(readlink /sys/bus/dax/devices/dax0.0/driver)
"""


def meminfo_kib(vm, key):
    return int(vm.out(f"sed -n 's/^{key}: *\\([0-9]*\\) kB/\\1/p' /proc/meminfo"))


@scenario("dax", "1 GiB NVDIMM made devdax (dax0.0): a keep-devdax policy leaves it; after a reload a "
          "system-ram policy hands it to kmem, memmap on the device (6.12) or the honest 'cannot' "
          "(6.1), and its blocks go movable")
def s_dax(ctx):
    keep = "[Match]\nDaxDevice=dax0.*\n\n[Dax]\nMode=devdax\n"
    ram = ("[Match]\nDaxDevice=dax0.*\nOrigin=pmem\n\n[Dax]\nMode=system-ram\n\n[Memmap]\nOnMemory=yes\n\n"
           "[Online]\nZone=movable\n")
    new612 = ctx.kernel == "6.12"
    vm = boot(ctx, Scenario(nvdimm="1G", policies={"40-dax.policy": keep},
                            cmdline="memory_hotplug.memmap_on_memory=1" if new612 else ""))
    vm.wait_started()
    before = vm.blocks()
    drv = vm.out(MAKE_DEVDAX, timeout=60).strip().splitlines()
    check(drv and drv[-1] == "device_dax", f"dax0.0 is not devdax: {drv}")
    rec = vm.wait_audit(lambda r: r.get("event", "").startswith("dax-"), 30, "the dax record")[0]
    check(rec["event"] == "dax-device" and rec.get("dax") == "dax0.0" and rec.get("action") == "devdax" and
          "pmem" in rec["_line"], rec["_line"])
    time.sleep(1)
    check(vm.out("basename $(readlink /sys/bus/dax/devices/dax0.0/driver)") == "device_dax",
          "the keep policy left dax0.0 on device_dax")
    check(set(vm.blocks()) == set(before), "no blocks added while dax0.0 is devdax")
    attr = vm.sh("cat /sys/bus/dax/devices/dax0.0/memmap_on_memory")
    check((attr[0] == 0) == new612, f"memmap_on_memory attribute on {ctx.kernel}: {attr}")
    size = int(vm.out("cat /sys/bus/dax/devices/dax0.0/size"))

    total0, free0 = meminfo_kib(vm, "MemTotal"), meminfo_kib(vm, "MemFree")
    vm.out(f"cat > {vm.sysconfdir}/policies.d/40-dax.policy <<'EOF'\n{ram}EOF\nkill -HUP $(cat /run/memhpd.pid)")
    rec = vm.wait_audit(lambda r: r.get("event") in ("dax-system-ram", "dax-failed"), 30, "the kmem bind")[0]
    check(rec["event"] == "dax-system-ram" and rec["result"] == "ok", rec["_line"])
    bs = vm.block_size()
    start = int(vm.out("cat /sys/bus/dax/devices/dax0.0/resource"), 16)
    idx = list(range((start + bs - 1) // bs, (start + size) // bs))
    after = wait_online(vm, idx, f"the {len(idx)} blocks of dax0.0 online", timeout=60)
    check(all(is_movable(after[i]) for i in idx), "dax0.0's blocks movable:\n" + format_blocks(after))
    check_onlined_once(vm, after, idx)
    recs = [r for r in vm.audit() if r.get("event") == "onlined" and block_of(r) in idx]
    check(all(r.get("dax") == "dax0.0" and r.get("device") == "dax-kmem" for r in recs), recs)
    mm = [r["_line"] for r in vm.audit() if r.get("event") == "memmap"]
    total1, free1 = meminfo_kib(vm, "MemTotal"), meminfo_kib(vm, "MemFree")
    added = len(idx) * bs // 1024
    ctx.note(f"dax0.0 {size >> 20} MiB, {len(idx)} blocks; MemTotal +{(total1 - total0) >> 10} MiB, MemFree "
             f"+{(free1 - free0) >> 10} MiB for {added >> 10} MiB of blocks")
    if new612:
        check(vm.out("cat /sys/bus/dax/devices/dax0.0/memmap_on_memory") == "1", "memmap_on_memory=1 written")
        check(not mm, f"no 'cannot' record on 6.12: {mm}")
        # The memmap (64 bytes per 4 KiB page) lives in the blocks: MemTotal grows by less than they hold.
        check(added - (total1 - total0) >= len(idx) * (bs // 4096 * 64 // 1024) * 3 // 4,
              f"memmap on the device: MemTotal +{total1 - total0} kB for {added} kB of blocks")
    else:
        check(len(mm) == 1 and "Linux 6.8+" in mm[0], f"the honest 'cannot' on 6.1: {mm}")
        check(total1 - total0 == added, f"memmap in RAM: MemTotal +{total1 - total0} kB for {added} kB of blocks")

    # Drain --eject of the device (issue 9): its blocks offline, kmem lets go (the kernel removes the
    # memory), device_dax takes it back, and the system-ram policy does not hand it to kmem again.
    rc, out = vm.sh("memhpctl drain dax0.0 --eject 2>&1", timeout=180)
    check(rc == 0 and "gave dax0.0 back to device_dax" in out, f"memhpctl drain dax0.0 --eject ({rc}):\n{out}")
    ctx.note("drain --eject: " + out.replace("\n", "; "))
    check(vm.out("basename $(readlink /sys/bus/dax/devices/dax0.0/driver)") == "device_dax", "dax0.0 devdax again")
    vm.wait_blocks(lambda b: not any(i in b for i in idx), 30, "dax0.0's blocks removed")
    ej = [r for r in vm.audit() if r.get("event") == "eject"]
    check(len(ej) == 1 and ej[0].get("result") == "ok" and ej[0].get("dax") == "dax0.0", ej)
    time.sleep(1)
    check(sum(1 for r in vm.audit() if r.get("event") == "dax-system-ram") == 1, "handed to kmem again")
    check_no_failures(vm)
    check_alive(vm)


@scenario("takeover", "kernel auto-online on (6.12's default; 6.1: set first): memhpd sets it "
          "offline; a DIMM goes by policy: Zone=offline stays offline, the next goes movable")
def s_takeover(ctx):
    vm = boot(ctx, Scenario(autostart=False, auto_online_blocks=kernel_online_first(ctx),
                            policies={
                                "10-keep.policy": policy({"PhysAddress": "4GiB-5GiB"},
                                                         {"Zone": "offline"}),
                                "20-movable.policy": policy({"Device": "any"},
                                                            {"Zone": "movable"})}))
    check_aob(vm, "online", "before memhpd starts")
    check(saved_knobs(vm) is None, f"{SAVED} exists before memhpd ever ran")
    vm.start_memhpd()
    vm.wait_started()
    check_aob(vm, "offline", "while memhpd runs (KernelAutoOnline=takeover, the default)")
    saved = saved_knobs(vm)
    check(saved == {"auto_online_blocks": "online"}, f"{SAVED} holds {saved}")
    check(kao_records(vm, "set auto_online_blocks to offline"),
          "no kernel-auto-online record for setting auto_online_blocks:\n" + vm.memhpd_log())
    conf = [r for r in vm.audit() if r.get("event") == "conflict" and r.get("agent") == "kernel"]
    check(conf, "no conflict record for the kernel's auto-online")
    ctx.note(f"conflict: {conf[0]['_line']}")

    # 1 GiB at 4 GiB: 10-keep.policy (Zone=offline). The kernel would have onlined it.
    idx1, _ = add_and_wait_blocks(vm, "dimm1", GiB)
    wait_count(vm, "left-offline", len(idx1), 30, lambda r: block_of(r) in idx1)
    time.sleep(2)
    b = vm.blocks()
    check(all(b[i]["state"] == "offline" for i in idx1),
          "Zone=offline blocks are online:\n" + format_blocks(b))
    left = [r for r in vm.audit() if r.get("event") == "left-offline" and block_of(r) in idx1]
    check(all("10-keep.policy" in r.get("policy", "") for r in left),
          "left offline by another policy:\n  " + "\n  ".join(r["_line"] for r in left))
    other = [r["_line"] for r in vm.audit() if r.get("event") == "online-by-other"]
    check(not other, "blocks onlined by someone else:\n  " + "\n  ".join(other))
    ctx.note(f"{len(idx1)} blocks kept offline by Zone=offline, e.g. {left[0]['_line']}")

    # The next GiB: 20-movable.policy. The kernel's own (contig-zones) pick would be ZONE_NORMAL.
    idx2, _ = add_and_wait_blocks(vm, "dimm2", GiB)
    after = wait_online(vm, idx2, "dimm2 blocks online", 60)
    check(all(is_movable(after[i]) for i in idx2), "blocks not movable:\n" + format_blocks(after))
    check_onlined_once(vm, after, idx2)
    check(all(after[i]["state"] == "offline" for i in idx1),
          "Zone=offline blocks came online:\n" + format_blocks(after))
    check_no_failures(vm)
    st = vm.stop_memhpd()
    check(st == 0, f"memhpd exited with {st} on SIGTERM")
    check_aob(vm, "online", "after memhpd's SIGTERM")
    check(saved_knobs(vm) is None, f"{SAVED} left behind after a clean stop")


@scenario("takeover-restore", "auto_online_blocks (online) is put back after SIGTERM, and after "
          "kill -9 + restart + SIGTERM; then the kernel onlines again")
def s_takeover_restore(ctx):
    vm = boot(ctx, Scenario(autostart=False, auto_online_blocks=kernel_online_first(ctx),
                            policies={"10-movable.policy": policy({"Device": "any"},
                                                                  {"Zone": "movable"})}))
    check_aob(vm, "online", "before memhpd starts")
    # 1. start, SIGTERM
    vm.start_memhpd()
    wait_count(vm, "started", 1)
    check_aob(vm, "offline", "while memhpd runs")
    st = vm.stop_memhpd()
    check(st == 0, f"memhpd exited with {st} on SIGTERM")
    check_aob(vm, "online", "after SIGTERM")
    check(saved_knobs(vm) is None, f"{SAVED} left behind after SIGTERM")
    check(kao_records(vm, "put auto_online_blocks back to online"),
          "no kernel-auto-online record for putting auto_online_blocks back:\n" + vm.memhpd_log())

    # 2. start, kill -9: the kernel stays as memhpd left it, the saved file keeps its value
    vm.start_memhpd()
    wait_count(vm, "started", 2)
    check_aob(vm, "offline", "after the second start")
    vm.out("kill -KILL $(cat /run/memhpd.pid)")
    deadline = time.monotonic() + 15
    while vm.memhpd_exit_status() is None:
        check(time.monotonic() < deadline, "memhpd still running 15 s after kill -9")
        time.sleep(0.2)
    check(vm.memhpd_exit_status() == 128 + 9, f"exit status {vm.memhpd_exit_status()} after kill -9")
    check_aob(vm, "offline", "after kill -9 (nobody put it back)")
    saved = saved_knobs(vm)
    check(saved == {"auto_online_blocks": "online"}, f"{SAVED} holds {saved} after kill -9")

    # 3. restart: the saved value is the kernel's own, kept (not memhpd's 'offline')
    vm.start_memhpd()
    wait_count(vm, "started", 3)
    check_aob(vm, "offline", "after the restart")
    saved = saved_knobs(vm)
    check(saved == {"auto_online_blocks": "online"},
          f"{SAVED} holds {saved} after the restart: the kernel's own value was lost")
    rec = kao_records(vm, "auto_online_blocks=online was saved by an earlier memhpd")
    check(rec, "no record of the value saved by the killed memhpd:\n" + vm.memhpd_log())
    ctx.note(f"restart: {rec[0]['_line']}")
    # ...and still takes the decision: a DIMM follows the policy.
    idx, _ = add_and_wait_blocks(vm, "dimm1", GiB)
    after = wait_online(vm, idx, "dimm1 blocks online", 60)
    check(all(is_movable(after[i]) for i in idx), "blocks not movable:\n" + format_blocks(after))
    check_onlined_once(vm, after, idx)
    check_no_failures(vm)

    # 4. SIGTERM: put back; with memhpd gone the kernel onlines a DIMM by itself again.
    st = vm.stop_memhpd()
    check(st == 0, f"memhpd exited with {st} on SIGTERM after the restart")
    check_aob(vm, "online", "after kill -9, restart and SIGTERM")
    check(saved_knobs(vm) is None, f"{SAVED} left behind after the last SIGTERM")
    n_put = len(kao_records(vm, "put auto_online_blocks back to online"))
    check(n_put == 2, f"{n_put} 'put back' records, expected 2 (one per clean stop)")
    idx2, _ = add_and_wait_blocks(vm, "dimm2", 512 * MiB)
    wait_online(vm, idx2, "the kernel to online dimm2 with memhpd stopped", 30)


@scenario("delegate", "KernelAutoOnline=delegate + shipped preset: the kernel onlines DIMMs "
          "(also with memhpd stopped), onlined records name the preset; knobs put back")
def s_delegate(ctx):
    vm = boot(ctx, Scenario(autostart=False, conf="[Daemon]\nKernelAutoOnline=delegate\n"))
    orig = knobs(vm)
    ctx.note(f"kernel's own: {orig}")
    vm.start_memhpd()
    vm.wait_started()
    pol = (f"{vm.vendordir}/50-default.policy:"
           f"{policy_match_line(os.path.join(ctx.source_root, 'policies', '50-default.policy'))}")
    rec = [r for r in kao_records(vm, "KernelAutoOnline=delegate: every hot-added block")
           if r.get("result") == "ok"]
    check(rec, "no kernel-auto-online record for delegating:\n" + vm.memhpd_log())
    check(rec[0].get("policy") == pol and rec[0].get("action") == "online",
          f"delegate record: {rec[0]['_line']}, expected policy={pol} action=online")
    now = knobs(vm)
    want = {"auto_online_blocks": "online", "online_policy": "auto-movable",
            "auto_movable_ratio": "301", "auto_movable_numa_aware": "Y"}
    check(now == want, f"kernel knobs while delegating: {now}, expected {want}")

    def check_kernel_onlined(idx, after):
        check_onlined_once(vm, after, idx)
        recs = [r for r in vm.audit() if r.get("event") == "onlined" and block_of(r) in idx]
        bad = [r["_line"] for r in recs if r.get("policy") != pol
               or "onlined by the kernel for memhpd" not in r["_line"]]
        check(not bad, f"onlined records not by the kernel for {pol}:\n  " + "\n  ".join(bad))
        return recs

    # 1. memhpd running: the kernel onlines inside the add, memhpd audits it with the policy.
    # The kernel creates the blocks' directories, then onlines them, inside the add: a poll may
    # fall in between, so wait (the SIGSTOP step below shows who onlines).
    idx, _ = add_and_wait_blocks(vm, "dimm1", GiB)
    after = wait_online(vm, idx, "dimm1 blocks online", 30)
    wait_count(vm, "onlined", len(idx), 30, lambda r: block_of(r) in idx)
    recs = check_kernel_onlined(idx, after)
    ctx.note(f"{len(idx)} blocks, e.g. {recs[0]['_line']}")
    # 2. memhpd stopped (SIGSTOP): only the kernel can online this DIMM.
    pid = vm.memhpd_pid()
    vm.out(f"kill -STOP {pid}")
    idx2, _ = add_and_wait_blocks(vm, "dimm2", 512 * MiB)
    after = wait_online(vm, idx2, "the kernel to online dimm2 while memhpd is stopped", 30)
    vm.out(f"kill -CONT {pid}")
    wait_count(vm, "onlined", len(idx2), 30, lambda r: block_of(r) in idx2)
    check_kernel_onlined(idx2, vm.blocks())
    other = [r["_line"] for r in vm.audit() if r.get("event") in ("online-by-other",
                                                                   "online-failed")]
    check(not other, "records of others' or failed onlines:\n  " + "\n  ".join(other))
    check_no_failures(vm)
    st = vm.stop_memhpd()
    check(st == 0, f"memhpd exited with {st} on SIGTERM")
    now = knobs(vm)
    check(now == orig, f"kernel knobs after SIGTERM: {now}, expected the originals {orig}")
    check(saved_knobs(vm) is None, f"{SAVED} left behind after a clean stop")


@scenario("delegate-fallback", "KernelAutoOnline=delegate with a When=manual policy for 4-5 GiB: "
          "falls back to takeover (record); that DIMM stays offline, the next goes by the preset")
def s_delegate_fallback(ctx):
    vm = boot(ctx, Scenario(autostart=False, auto_online_blocks=kernel_online_first(ctx),
                            conf="[Daemon]\nKernelAutoOnline=delegate\n", policies={
                                "10-manual.policy": policy({"PhysAddress": "4GiB-5GiB"},
                                                           {"Zone": "movable", "When": "manual"})}))
    orig = knobs(vm)
    check(orig["auto_online_blocks"] == "online", f"kernel knobs before memhpd: {orig}")
    vm.start_memhpd()
    vm.wait_started()
    fb = kao_records(vm, "KernelAutoOnline=delegate falls back to takeover")
    check(fb, "no fall-back record:\n" + vm.memhpd_log())
    # The reason names the policy that breaks uniformity (its PhysAddress= match, or When=manual).
    check(fb[0].get("result") == "skipped" and "10-manual.policy:1" in fb[0]["_line"],
          f"fall-back record: {fb[0]['_line']}")
    ctx.note(f"fall-back: {fb[0]['_line']}")
    now = knobs(vm)
    check(now == dict(orig, auto_online_blocks="offline"),
          f"kernel knobs after the fall-back: {now} (before: {orig})")
    check(not kao_records(vm, "KernelAutoOnline=delegate: every hot-added block"),
          "a delegate record despite the fall-back")

    idx1, _ = add_and_wait_blocks(vm, "dimm1", GiB)
    wait_count(vm, "left-offline", len(idx1), 30, lambda r: block_of(r) in idx1)
    time.sleep(2)
    b = vm.blocks()
    check(all(b[i]["state"] == "offline" for i in idx1),
          "When=manual blocks are online:\n" + format_blocks(b))
    idx2, _ = add_and_wait_blocks(vm, "dimm2", GiB)
    after = wait_online(vm, idx2, "dimm2 blocks online", 60)
    check_onlined_once(vm, after, idx2)
    recs = [r for r in vm.audit() if r.get("event") == "onlined" and block_of(r) in idx2]
    bad = [r["_line"] for r in recs if "50-default.policy" not in r.get("policy", "")
           or "by the kernel" in r["_line"]]
    check(not bad, "dimm2 not onlined by memhpd per the preset:\n  " + "\n  ".join(bad))
    other = [r["_line"] for r in vm.audit() if r.get("event") == "online-by-other"]
    check(not other, "blocks onlined by someone else:\n  " + "\n  ".join(other))
    check_no_failures(vm)
    st = vm.stop_memhpd()
    check(st == 0, f"memhpd exited with {st} on SIGTERM")
    check(knobs(vm) == orig, f"kernel knobs after SIGTERM: {knobs(vm)}, expected {orig}")


TRACING = "/sys/kernel/tracing"
QUARANTINE_FILE = "/var/lib/memhpd/quarantine"


def since(vm, n, event, pred=lambda r: True):
    """Records of 'event' after the first n records of memhpd's log."""
    return [r for r in vm.audit()[n:] if r.get("event") == event and pred(r)]


@scenario("poison", "hard_offline_page of a hot-added movable block: memory_failure_event -> quarantine; "
          "restart: the quarantined offline block is not onlined, a soft-offlined page is found by the "
          "kpageflags scan, 6.12's EHWPOISON online failure quarantines too")
def s_poison(ctx):
    vm = boot(ctx, Scenario(autostart=False, policies={"10-poison.policy": policy(
        {"Device": "any"}, {"Zone": "movable"}) + "\n[Poison]\nAction=offline\n"}))
    vm.out(f"mount -t tracefs nodev {TRACING}")
    vm.start_memhpd()
    vm.wait_started()
    check("Watching ras:memory_failure_event" in vm.memhpd_log(), "memhpd watches the event:\n" + vm.memhpd_log())
    check(vm.out(f"cat {TRACING}/instances/memhpd/events/ras/memory_failure_event/enable") == "1",
          "the event is enabled in memhpd's own instance")
    check(vm.out(f"cat {TRACING}/events/ras/memory_failure_event/enable") == "0",
          "the top-level instance is left alone")
    idx, _ = add_and_wait_blocks(vm, "dimm1", 512 * MiB)
    wait_online(vm, idx, "the DIMM's blocks online")
    bs = vm.block_size()
    b_hard, b_soft, b_ctrl, b_ehw = idx[:4]

    # 1. Hard poison: the event names the page; its block is quarantined at once.
    addr = b_hard * bs + 0x123000
    t0 = time.monotonic()
    vm.out(f"echo {addr:#x} > /sys/devices/system/memory/hard_offline_page")
    rec = wait_count(vm, "poisoned", 1, 30)[0]
    ctx.note(f"poisoned record {time.monotonic() - t0:.2f}s after the hard_offline_page write (guest round trips "
             f"included): {rec['_line']}")
    check(rec.get("block") == str(b_hard) and rec.get("pfn") == hex(addr // 4096) and
          rec.get("reason") == "memory-failure" and rec.get("page_type") and rec.get("mf_result"), rec)
    q = vm.out(f"cat {QUARANTINE_FILE}")
    check(f"{b_hard * bs:#x}-{(b_hard + 1) * bs - 1:#x} device=acpi-dimm" in q, q)
    # Action=offline: the offline engine drains the block.
    rec = wait_count(vm, "offlined", 1, 60, lambda r: r.get("block") == str(b_hard))[0]
    ctx.note(f"memory{b_hard} offline {time.monotonic() - t0:.2f}s after the hard_offline_page write: {rec['_line']}")
    check(vm.blocks()[b_hard]["state"] == "offline", "Action=offline: the block is offline")

    # 2. Soft offline fires no event (measured): nothing happens while memhpd runs.
    vm.out(f"echo {b_soft * bs + 0x5000:#x} > /sys/devices/system/memory/soft_offline_page")
    vm.out(f"echo {b_ehw * bs + 0x7000:#x} > /sys/devices/system/memory/soft_offline_page")
    time.sleep(2)
    check(len(since(vm, 0, "poisoned")) == 1, "soft offline fired no event:\n" + vm.memhpd_log()[-2000:])

    check(vm.stop_memhpd() == 0, "clean stop")
    check(vm.sh(f"test -e {TRACING}/instances/memhpd")[0] != 0, "the tracefs instance is removed at stop")
    # While memhpd is down: a clean block and one with a soft-offlined page go offline.
    for b in (b_ctrl, b_ehw):
        vm.out(f"echo offline > /sys/devices/system/memory/memory{b}/state")
    n = len(vm.audit())
    vm.start_memhpd()
    vm.wait_started()
    # 3. The quarantined block is not onlined; the clean one is.
    rec = wait_count(vm, "quarantined", 1, 30, lambda r: r.get("block") == str(b_hard))[0]
    check(rec.get("reason") == "memory-failure", rec)
    wait_online(vm, [b_ctrl], "the clean block onlined again")
    # 4. The start-up kpageflags scan finds the soft-offlined page of the online block.
    rec = wait_count(vm, "poisoned", 1, 30, lambda r: r.get("block") == str(b_soft) and r.get("reason") == "kpageflags")[0]
    check(rec.get("pfn") == hex((b_soft * bs + 0x5000) // 4096), rec)
    # 5. The offline block with a soft-offlined page: 6.12 refuses its online with EHWPOISON and memhpd
    #    quarantines it; 6.1 onlines it and the page's poison is gone (the hole memhpd(8) names).
    if ctx.kernel == "6.12":
        rec = wait_count(vm, "poisoned", 1, 30, lambda r: r.get("block") == str(b_ehw) and r.get("reason") == "ehwpoison")[0]
        check(any(r.get("block") == str(b_ehw) and r.get("errno") == "133" for r in since(vm, n, "online-failed")),
              "online-failed with EHWPOISON:\n" + vm.memhpd_log()[-2000:])
        check(vm.blocks()[b_ehw]["state"] == "offline", "EHWPOISON block stays offline")
    else:
        wait_online(vm, [b_ehw], "6.1 onlines the block with a soft-offlined page (no way to tell)")
    time.sleep(1)
    blocks = vm.blocks()
    check(blocks[b_hard]["state"] == "offline", "the quarantined block stays offline:\n" + format_blocks(blocks))
    check(not since(vm, n, "onlined", lambda r: r.get("block") == str(b_hard)), "never onlined")
    # The administrator cannot online it either, until the quarantine is cleared.
    rc, out = vm.sh(f"memhpctl online memory{b_hard} 2>&1")
    check(rc == 1 and "quarantined" in out, f"memhpctl online of the quarantined block: rc={rc}\n{out}")
    check(vm.blocks()[b_hard]["state"] == "offline", "still offline after memhpctl online")
    q = vm.out(f"cat {QUARANTINE_FILE}")
    check(f"{b_soft * bs:#x}-" in q and "reason=kpageflags" in q, q)
    ctx.note("quarantine file:\n" + q)
    # 6. memhpctl over the private socket: list, then clear one range (audited with who asked).
    out = vm.out("memhpctl --no-pager quarantine")
    check(f"memory{b_hard} " in out and f"memory{b_soft} " in out and "memory-failure" in out and "kpageflags" in out,
          out)
    out = vm.out(f"memhpctl quarantine clear memory{b_soft}")
    check(f"Cleared memory{b_soft}" in out, out)
    rec = wait_count(vm, "quarantine-cleared", 1, 30)[0]
    check("comm=memhpctl" in rec.get("caller", ""), rec)
    check(f"{b_soft * bs:#x}-" not in vm.out(f"cat {QUARANTINE_FILE}"), "cleared from the file")
    check_alive(vm)


@scenario("selftest-channel", "harness self-test, not in 'all': requests keep their answers while "
          "orphans of the guest's PID 1 exit", in_all=False)
def s_selftest_channel(ctx):
    """The guest shell's channel against SIGCHLD storms (vmlib's CMDLOOP comment): 100 orphans of
    PID 1 exit at spread-out times while long requests go back and forth. With ash's `read` as
    the request reader about 1 request in 30 lost its head and never came back."""
    vm = boot(ctx, Scenario(autostart=False, presets=False))
    n = 0
    for _ in range(3):
        vm.out("sh -c 'i=0; while [ $i -lt 100 ]; do sleep 0.$((i % 10))$((i / 10)) & "
               "sleep $((i % 4)) & i=$((i+1)); done' </dev/null >/dev/null 2>&1")
        t0 = time.monotonic()
        while time.monotonic() - t0 < 5:
            n += 1
            out = vm.out("# " + "x" * 600 + f"\necho ok{n}", timeout=10)
            check(out.strip() == f"ok{n}", f"request {n} answered {out!r}")
    bad = [line for line in vm.console().splitlines() if "cmdloop:" in line]
    check(not bad, "command loop complaints:\n  " + "\n  ".join(bad))
    ctx.note(f"{n} requests answered while 300 orphans exited")


# ---------------------------------------------------------------------------------------------
# The demo: the README's first command

class LogTail:
    """Prints memhpd's log lines (its audit trail) as they arrive."""

    def __init__(self, vm, t0):
        self.vm, self.t0, self.off, self.partial = vm, t0, 0, b""

    def pump(self):
        try:
            with open(self.vm.log_path, "rb") as f:
                f.seek(self.off)
                data = f.read()
        except OSError:
            return
        self.off += len(data)
        lines = (self.partial + data).replace(b"\r", b"").split(b"\n")
        self.partial = lines.pop()
        for line in lines:
            if line.strip():
                print(f"  {time.monotonic() - self.t0:5.1f}s  {line.decode(errors='replace')}",
                      flush=True)

    def wait(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            v = pred()
            if v:
                self.pump()
                return v
            if time.monotonic() > deadline:
                raise Failed(f"timeout ({timeout}s) waiting for {what}")
            time.sleep(0.3)


def block_table(vm, recs):
    """Rows of (blocks, address range, state, zone, node, device, decided by), runs merged."""
    bs = vm.block_size()
    by_block = {}
    for r in recs:
        if r.get("event") == "onlined" and block_of(r) is not None:
            by_block[block_of(r)] = (r.get("device", "?"), os.path.basename(r.get("policy", "")))
    rows = []
    for i, b in sorted(vm.blocks().items()):
        dev, pol = by_block.get(i, ("boot", "-"))
        key = (b["state"], " ".join(b["zones"]), "-" if b["node"] is None else str(b["node"]),
               dev, pol)
        if rows and rows[-1][1] == key and rows[-1][0][1] == i - 1:
            rows[-1][0][1] = i
        else:
            rows.append(([i, i], key))
    out = [f"{'blocks':18} {'physical range':29} {'state':8} {'zone':8} {'node':4} "
           f"{'device':10} decided by"]
    for (a, z), (state, zone, node, dev, pol) in rows:
        name = f"memory{a}" if a == z else f"memory{a}-{z}"
        rng = f"{a * bs:#012x}-{(z + 1) * bs - 1:#012x}"
        size = f"{(z - a + 1) * bs >> 20} MiB"
        out.append(f"{name:18} {rng:20} {size:>8} {state:8} {zone:8} {node:4} {dev:10} {pol}")
    return "\n".join(out)


@scenario("demo", "the README's demo: 1 GiB DIMM + virtio-mem 512 MiB, audit lines live",
          in_all=False)
def s_demo(ctx):
    say = lambda msg: print(f"\n== {msg}", flush=True)  # noqa: E731
    t0 = time.monotonic()
    say("booting Debian 12's 6.1 kernel under QEMU (busybox initramfs, memhpd with the shipped "
        "policy: Zone=auto, MaxMovableRatio=301%)")
    vm = boot(ctx, Scenario(autostart=False, extra_qemu=[
        "-object", "memory-backend-ram,id=vmem0,size=1G",
        "-device", "virtio-mem-pci,id=vm0,memdev=vmem0,node=0,requested-size=0"]))
    # As systemd does at boot (sys-kernel-tracing.mount): memhpd's poison and kernel-zone watches use it.
    vm.out(f"mount -t tracefs nodev {TRACING}")
    vm.start_memhpd()
    tail = LogTail(vm, t0)
    tail.wait(lambda: any(r.get("event") == "started" for r in vm.audit()), 30,
              "memhpd to start")
    bs = vm.block_size()
    print(f"   guest up in {vm.boot_time:.1f}s; {len(vm.blocks())} memory blocks of "
          f"{bs >> 20} MiB, all boot memory", flush=True)

    before = vm.blocks()
    say("hot-adding a 1 GiB DIMM over QMP (object-add memory-backend-ram + device_add pc-dimm)")
    t1 = time.monotonic()
    vm.add_dimm("dimm1", GiB, node=0)
    n = GiB // bs
    tail.wait(lambda: new_online(before, n)(vm.blocks()), 120, f"{n} DIMM blocks online")
    print(f"   {n} blocks online {time.monotonic() - t1:.1f}s after device_add", flush=True)

    before = vm.blocks()
    say("growing the virtio-mem device to 512 MiB (qom-set requested-size)")
    t1 = time.monotonic()
    vm.qom_set("vm0", "requested-size", 512 * MiB)
    n = 512 * MiB // bs
    tail.wait(lambda: new_online(before, n)(vm.blocks())
              and vm.qom_get("vm0", "size") == 512 * MiB, 120, "virtio-mem to reach 512 MiB")
    print(f"   virtio-mem at 512 MiB, {n} blocks online {time.monotonic() - t1:.1f}s after "
          "qom-set", flush=True)

    say("stopping memhpd (SIGTERM)")
    st = vm.stop_memhpd()
    tail.wait(lambda: any(r.get("event") == "stopped" for r in vm.audit()), 10, "stopped record")
    check(st == 0, f"memhpd exited with status {st}")

    recs = vm.audit()
    say("memory blocks now (sysfs), and who onlined them (memhpd's audit records)")
    print(block_table(vm, recs), flush=True)
    on = [r for r in recs if r.get("event") == "onlined"]
    check_no_failures(vm)
    check(len(on) == (GiB + 512 * MiB) // bs, f"{len(on)} onlined records")
    print(f"\n{len(on)} blocks onlined by memhpd, 0 failures; {time.monotonic() - t0:.0f}s in all "
          f"({vm.accel.upper()}). Audit records: tests/vm/README.md; run the tests: "
          "meson test -C build", flush=True)


# ---------------------------------------------------------------------------------------------
# Layer 4: a real system (Debian 12, systemd as PID 1), memhpd installed from its Debian package

# `systemd-analyze security memhpd.service` in the Debian 12 guest (systemd 252): 2.2 before the
# unit had PrivateMounts=, ProtectKernelTunables= (with ReadWritePaths= for what memhpd writes) and
# SystemCallFilter=~@privileged @resources. The scenario fails above this figure.
SECURITY_EXPOSURE_MAX = 1.6


def zoneinfo_pages(vm, node=0):
    """(kernel, movable) present pages on a node, as memhpd counts them from /proc/zoneinfo."""
    kernel = movable = 0
    cur_node, zone = None, None
    for line in vm.out("cat /proc/zoneinfo").splitlines():
        f = line.split()
        if line.startswith("Node ") and len(f) >= 4:
            cur_node, zone = int(f[1].rstrip(",")), f[3]
        elif len(f) == 2 and f[0] == "present" and cur_node == node:
            if zone == "Movable":
                movable += int(f[1])
            elif zone != "Device":
                kernel += int(f[1])
    return kernel, movable


def expect_auto(kernel, movable, block_pages, n, ratio=301):
    """The zones Zone=auto MaxMovableRatio=ratio% picks for n blocks onlined one after another:
    movable while MOVABLE:KERNEL stays within the ratio (memhpd(8), memhpd.policy(5))."""
    out = []
    for _ in range(n):
        if (movable + block_pages) * 100 <= ratio * kernel:
            out.append("movable")
            movable += block_pages
        else:
            out.append("kernel")
            kernel += block_pages
    return out


def policy_match_line(path):
    """The line memhpd names in MEMHPD_POLICY: the file's [Match] line (else its first section)."""
    first = None
    with open(path) as f:
        for i, line in enumerate(f, 1):
            t = line.strip()
            if t == "[Match]":
                return i
            if first is None and t.startswith("["):
                first = i
    return first


def check_journal_ids(recs):
    """Every memhpd record's MESSAGE_ID is the one its MEMHPD_EVENT has (daemon/audit.c)."""
    bad = [r["_line"] for r in recs if r.get("event") in SDV.MESSAGE_IDS
           and r["_json"].get("MESSAGE_ID") != SDV.MESSAGE_IDS[r["event"]]]
    check(not bad, "records with the wrong MESSAGE_ID:\n  " + "\n  ".join(bad))


def check_onlined_fields(recs, idx, blocks, policy, zone=None):
    """The onlined records of blocks idx carry every field, with the values sysfs confirms."""
    bad = []
    for i in idx:
        on = [r for r in recs if r.get("event") == "onlined" and block_of(r) == i]
        if len(on) != 1:
            bad.append(f"memory{i}: {len(on)} onlined records")
            continue
        j = on[0]["_json"]
        want = {"MESSAGE_ID": SDV.MESSAGE_IDS["onlined"], "MEMHPD_BLOCK": str(i),
                "MEMHPD_NODE": str(blocks[i]["node"] if blocks[i]["node"] is not None else 0),
                "MEMHPD_DEVICE": "acpi-dimm", "MEMHPD_RESULT": "ok", "MEMHPD_POLICY": policy,
                "MEMHPD_ZONE": zone or ("movable" if is_movable(blocks[i]) else "kernel"),
                "_SYSTEMD_UNIT": "memhpd.service"}
        want["MEMHPD_ACTION"] = "online_" + want["MEMHPD_ZONE"]
        for k, v in want.items():
            if j.get(k) != v:
                bad.append(f"memory{i}: {k}={j.get(k)!r}, expected {v!r}")
    check(not bad, "onlined records:\n  " + "\n  ".join(bad))


def check_bus_systemd(vm, idx, after):
    """The control channel under systemd: org.memhpd1 on the system bus (busctl introspect), memhpctl
    as root over the private socket names each hot-added block's policy, a user reads over the system
    bus and is refused a reload (the D-Bus policy file and memhpd's own check)."""
    rc, out = vm.sh("busctl introspect --no-pager org.memhpd1 /org/memhpd1")
    check(rc == 0, f"busctl introspect org.memhpd1 failed ({rc}): {out}")
    for member in ("org.memhpd1.Manager", ".Runs", ".Explain", ".Verify", ".Reload", ".Status"):
        check(member in out, f"busctl introspect lacks {member}:\n{out}")
    check_ctl_status(vm, after, idx)
    rc, out = vm.sh("setpriv --reuid=65534 --regid=65534 --clear-groups memhpctl --no-pager status --json")
    check(rc == 0 and '"decided_by": "policy"' in out, f"memhpctl status as nobody on the system bus ({rc}): {out}")
    rc, out = vm.sh("setpriv --reuid=65534 --regid=65534 --clear-groups memhpctl reload")
    check(rc == 4 and "Permission denied" in out, f"memhpctl reload as nobody ({rc}): {out}")
    rc, out = vm.sh("memhpctl --no-pager log -n 3")
    lines = out.splitlines()
    check(rc == 0 and len(lines) == 3 and all(" memhpd[" in l for l in lines) and
          any(f"onlined memory{i} " in out for i in idx), f"memhpctl log -n 3 ({rc}): {out}")


@scenario("systemd", "Debian 12 + systemd, memhpd's .deb installed with dpkg -i: enabled, "
                     "catalog, DIMMs, journal, reload")
def s_systemd(ctx):
    if os.geteuid() != 0 and not SDV.rootfs_cached(ctx.cache):
        raise Skip("building the Debian rootfs with mmdebstrap needs root")
    # The package built from this source tree (once per source hash, under <build>/deb-cache).
    deb = SDV.build_deb(ctx.source_root, ctx.build_dir or SDV.find_build_dir(ctx.memhpd))
    vm = SDV.SystemdVM(ctx.memhpd, ctx.source_root, ctx.cache, build_dir=ctx.build_dir,
                       keep=ctx.keep, workdir=ctx.workdir, mem="768M", kernel=ctx.kernel,
                       cmdline_extra=ctx.cmdline_extra, deb=deb)
    ctx.vm = vm
    vm.start()
    t0 = time.monotonic()
    state = vm.wait_system_running()
    ctx.note(f"is-system-running={state} {vm.boot_time + time.monotonic() - t0:.1f}s after "
             "qemu started")
    if state != "running":
        ctx.note("failed units: " + vm.out("systemctl --failed --no-legend --plain --no-pager"))
    # 0. The package: its maintainer scripts enable and start the unit; systemd's dpkg trigger on
    # /usr/lib/systemd/catalog runs journalctl --update-catalog (nothing below runs it).
    t1 = time.monotonic()
    vm.install_deb()
    ctx.note(f"dpkg -i {os.path.basename(deb)}: {time.monotonic() - t1:.1f}s")
    check(vm.out("systemctl is-enabled memhpd || true") == "enabled",
          "memhpd.service not enabled by the package")
    check(vm.out("systemctl is-active memhpd || true") == "active",
          "memhpd is not active:\n" + vm.out("systemctl status memhpd --no-pager -l || true"))
    catalog = vm.out("journalctl --list-catalog --no-pager")
    missing = [ev for ev, mid in SDV.MESSAGE_IDS.items() if not re.search(rf"^{mid} memhpd", catalog, re.M)]
    check(not missing, f"catalog entries missing after dpkg -i: {missing}")
    check("/etc/memhpd/memhpd.conf" in vm.out("cat /var/lib/dpkg/info/memhpd.conffiles"),
          "memhpd.conf is not a conffile")
    pid = vm.memhpd_pid()
    # Takeover (the default) inside the unit's sandbox: 6.12's `online` saved, then `offline`.
    check_aob(vm, "offline", "while memhpd.service runs")
    saved = saved_knobs(vm)
    aob0 = saved.get("auto_online_blocks", "offline") if saved else "offline"
    check(aob0 == ("online" if ctx.kernel == "6.12" else "offline"),
          f"{SAVED} holds {saved} on {ctx.kernel}")
    recs = vm.audit()
    for ev in ("started", "policy-loaded"):
        check(any(r.get("event") == ev for r in recs), f"no {ev} record in the journal")
    check_journal_ids(recs)

    # 1. A DIMM with the shipped default policy (Zone=auto, 301%): big enough to cross the ratio.
    vendor_policy = f"{vm.vendordir}/50-default.policy"
    line = policy_match_line(os.path.join(ctx.source_root, "policies", "50-default.policy"))
    bs = vm.block_size()
    bp = bs // 4096
    kernel, movable = zoneinfo_pages(vm)
    before = vm.blocks()
    size = 3 * GiB
    n = size // bs
    t1 = time.monotonic()
    vm.add_dimm("dimm1", size, node=0)
    after = vm.wait_blocks(new_online(before, n), 180, f"{n} DIMM blocks online", interval=1)
    ctx.note(f"{n} blocks online {time.monotonic() - t1:.1f}s after device_add")
    idx = new_blocks(before, after)
    check(len(idx) == n, f"expected {n} new blocks, got {len(idx)}")
    recs = vm.audit()
    order = [block_of(r) for r in recs if r.get("event") == "onlined" and block_of(r) in idx]
    want = dict(zip(order, expect_auto(kernel, movable, bp, len(order))))
    got = {i: "movable" if is_movable(after[i]) else "kernel" for i in idx}
    check(want == got, f"zones differ from Zone=auto 301% (kernel {kernel} pages, movable "
          f"{movable} pages at hot-add):\n  expected {want}\n  sysfs    {got}")
    nk = sum(1 for z in got.values() if z == "kernel")
    ctx.note(f"Zone=auto from {kernel * 4 >> 10} MiB kernel: {n - nk} movable, {nk} kernel")
    check_onlined_fields(recs, idx, after, f"{vendor_policy}:{line}")
    check_journal_ids(recs)
    check_no_failures(vm)
    check_bus_systemd(vm, idx, after)

    # 2. An administrator's policy, then `systemctl reload`: the next DIMM follows it.
    loaded = sum(1 for r in recs if r.get("event") == "policy-loaded")
    admin = f"{vm.sysconfdir}/policies.d/10-kernel.policy"
    vm.out(f"mkdir -p {vm.sysconfdir}/policies.d && "
           f"printf '[Match]\\nDevice=acpi-dimm\\n\\n[Online]\\nZone=kernel\\n' > {admin}")
    rc, out = vm.sh("systemctl reload memhpd")
    check(rc == 0, f"systemctl reload memhpd failed ({rc}): {out}\n"
          + vm.out("journalctl -u memhpd --no-pager -n 8 -o short-monotonic"))
    deadline = time.monotonic() + 30
    while True:
        recs = vm.audit()
        new = [r for r in recs if r.get("event") == "policy-loaded"][loaded:]
        if new:
            break
        check(time.monotonic() < deadline, "no policy-loaded record after systemctl reload:\n"
              + vm.memhpd_log())
        time.sleep(0.5)
    ctx.note(f"after reload: {new[0]['_line']}")
    check(not any(r.get("event") == "policy-rejected" for r in recs), "policy rejected on reload")
    check(vm.memhpd_pid() == pid, f"memhpd's MainPID changed from {pid} to {vm.memhpd_pid()}")
    before = vm.blocks()
    n2 = 512 * MiB // bs
    vm.add_dimm("dimm2", 512 * MiB, node=0)
    after = vm.wait_blocks(new_online(before, n2), 120, f"{n2} blocks of the 2nd DIMM online")
    idx2 = new_blocks(before, after)
    check(all(not is_movable(after[i]) for i in idx2),
          "2nd DIMM not in a kernel zone after reload:\n" + format_blocks(after))
    recs = vm.audit()
    check_onlined_fields(recs, idx2, after, f"{admin}:1", zone="kernel")
    pl = max(i for i, r in enumerate(recs) if r.get("event") == "policy-loaded")
    first2 = min(i for i, r in enumerate(recs) if r.get("event") == "onlined"
                 and block_of(r) in idx2)
    check(pl < first2, "the policy-loaded record does not precede the 2nd DIMM's records")
    check_journal_ids(recs)
    check_no_failures(vm)

    # 3. The message catalog (the package's trigger updated it): journalctl -x explains a record.
    b = idx2[0]
    x = vm.out(f"journalctl -x -u memhpd --no-pager MEMHPD_EVENT=onlined MEMHPD_BLOCK={b}")
    for text in (f"Subject: Memory block memory{b} onlined as kernel", "Defined-By: memhpd",
                 f"memhpd onlined memory block memory{b} (NUMA node 0,",
                 "device acpi-dimm) by writing online_kernel to its state file"):
        check(text in x.replace("\n░░ ", " ").replace("░░ ", ""),
              f"journalctl -x lacks {text!r}:\n{x}")

    # 4. A udev rule that onlines memory: a conflict record on reload, with the rule's file:line.
    rule = "/etc/udev/rules.d/60-online-memory.rules"
    vm.out(f"cat > {rule} <<'EOF'\n"
           'SUBSYSTEM=="memory", ACTION=="add", ATTR{state}=="offline", ATTR{state}="online"\n'
           "EOF")
    loaded = sum(1 for r in vm.audit() if r.get("event") == "policy-loaded")
    vm.out("systemctl reload memhpd")
    deadline = time.monotonic() + 30
    while True:
        recs = vm.audit()
        conf = [r for r in recs if r.get("event") == "conflict" and r.get("agent") == "udev"]
        if conf and sum(1 for r in recs if r.get("event") == "policy-loaded") > loaded:
            break
        check(time.monotonic() < deadline, "no udev conflict record after the reload:\n"
              + vm.memhpd_log())
        time.sleep(0.5)
    j = conf[-1]["_json"]
    want = {"MESSAGE_ID": SDV.MESSAGE_IDS["conflict"], "PRIORITY": "4", "MEMHPD_AGENT": "udev",
            "MEMHPD_FILE": f"{rule}:1", "MEMHPD_RESULT": "found", "_SYSTEMD_UNIT": "memhpd.service"}
    bad = {k: j.get(k) for k, v in want.items() if j.get(k) != v}
    check(not bad, f"udev conflict record: {bad} differ from {want}:\n{conf[-1]['_line']}")
    ctx.note(f"udev conflict: {j.get('MESSAGE')}")
    check_journal_ids(recs)
    vm.out(f"rm {rule}")

    # 4b. daxctl as its package installs it (issue 12): the udev rule that runs daxdev-reconfigure@ for
    # every dax device and a daxctl.conf.d entry with mode = system-ram: one daxctl conflict record.
    dax_rule, dax_conf = "/usr/lib/udev/rules.d/90-daxctl-device.rules", "/etc/daxctl.conf.d/daxctl.conf"
    vm.out(f"mkdir -p /etc/daxctl.conf.d && cat > {dax_rule} <<'EOF'\n"
           'ACTION=="add", SUBSYSTEM=="dax", TAG+="systemd", '
           'ENV{SYSTEMD_WANTS}="daxdev-reconfigure@$env{DEVNAME}.service"\n'
           f"EOF\ncat > {dax_conf} <<'EOF'\n"
           "[reconfigure-device unique_identifier_foo]\nnvdimm.uuid = 48d8e42c-a2f0-4312-9e70-a837faafe862\n"
           "mode = system-ram\nonline = true\nmovable = false\nEOF")
    n_conf = sum(1 for r in vm.audit() if r.get("event") == "conflict" and r.get("agent") == "daxctl")
    vm.out("systemctl reload memhpd")
    deadline = time.monotonic() + 30
    while True:
        conf = [r for r in vm.audit() if r.get("event") == "conflict" and r.get("agent") == "daxctl"][n_conf:]
        if conf:
            break
        check(time.monotonic() < deadline, "no daxctl conflict record after the reload:\n" + vm.memhpd_log())
        time.sleep(0.5)
    j = conf[-1]["_json"]
    check(j.get("MEMHPD_FILE") == f"{dax_conf}:1" and f"{dax_rule}:1" in j.get("MESSAGE", "") and
          j.get("MESSAGE_ID") == SDV.MESSAGE_IDS["conflict"], f"daxctl conflict record: {conf[-1]['_line']}")
    ctx.note(f"daxctl conflict: {j.get('MESSAGE')}")
    vm.out(f"rm -r {dax_rule} /etc/daxctl.conf.d")

    # 5. Still the same healthy service; a clean stop with a stopped record.
    p = vm.unit_props("memhpd", "ActiveState", "NRestarts", "MainPID")
    check(p == {"ActiveState": "active", "NRestarts": "0", "MainPID": str(pid)},
          f"memhpd unit: {p}")
    st = vm.stop_memhpd()
    check(st == 0, f"memhpd exited with {st} on systemctl stop")
    check(any(r.get("event") == "stopped" for r in vm.audit()), "no stopped record")
    check(vm.memhpd_pid() is None, "memhpd still has a MainPID after stop")
    check_aob(vm, aob0, "after systemctl stop (the kernel's own)")

    # 6. The unit's sandbox lets KernelAutoOnline= write what it must: auto_online_blocks
    # (takeover), the memory_hotplug module parameters (delegate); each put back at stop.
    vm.out(f"rm -f {admin}; echo online > {AOB}")
    orig = knobs(vm)
    n_kao = len(kao_records(vm))
    vm.start_memhpd()
    check_aob(vm, "offline", "after systemctl start (takeover)")
    recs = kao_records(vm)[n_kao:]
    check(any("set auto_online_blocks to offline" in r["_line"] and r.get("result") == "ok"
              for r in recs), "takeover did not write auto_online_blocks:\n" + vm.memhpd_log())
    check(vm.stop_memhpd() == 0, "memhpd failed on stop")
    check(knobs(vm) == orig, f"knobs after stop {knobs(vm)}, expected {orig}")
    vm.out(f"mkdir -p {vm.sysconfdir}/memhpd.conf.d && printf '[Daemon]\\nKernelAutoOnline="
           f"delegate\\n' > {vm.sysconfdir}/memhpd.conf.d/50-delegate.conf")
    n_kao = len(kao_records(vm))
    vm.start_memhpd()
    want = {"auto_online_blocks": "online", "online_policy": "auto-movable",
            "auto_movable_ratio": "301", "auto_movable_numa_aware": "Y"}
    now = knobs(vm)
    check(now == want, f"delegate in the unit's sandbox: knobs {now}, expected {want}:\n"
          + vm.memhpd_log())
    fails = [r["_line"] for r in kao_records(vm)[n_kao:] if r.get("result") == "failed"]
    check(not fails, "kernel-auto-online failures:\n  " + "\n  ".join(fails))
    check(vm.stop_memhpd() == 0, "memhpd failed on stop")
    check(knobs(vm) == orig, f"knobs after stop {knobs(vm)}, expected {orig}")
    vm.out(f"rm {vm.sysconfdir}/memhpd.conf.d/50-delegate.conf; echo {aob0} > {AOB}")

    # 6b. MetricsFile= in the unit's sandbox (node_exporter's textfile directory is in the unit's
    # ReadWritePaths=): written at start, and again when a hot-add changes the inventory.
    prom = "/var/lib/prometheus/node-exporter/memhpd.prom"
    vm.out(f"mkdir -p {os.path.dirname(prom)} && printf '[Daemon]\\nMetricsFile={prom}\\n' > "
           f"{vm.sysconfdir}/memhpd.conf.d/60-metrics.conf")
    vm.start_memhpd()

    def dimm_blocks_online():
        rc, text = vm.sh(f"cat {prom}")
        if rc != 0:
            return None
        return sum(int(v) for v in re.findall(r'^memhpd_memory_blocks\{state="online",[^}]*device="acpi-dimm"\} (\d+)$',
                                              text, re.M))

    deadline = time.monotonic() + 30
    while (n0 := dimm_blocks_online()) is None:
        check(time.monotonic() < deadline, f"no {prom} after start:\n" + vm.memhpd_log())
        time.sleep(0.5)
    # The DIMMs onlined before this start are hot-added memory, not boot memory nor unknown.
    check(n0 == len(idx) + len(idx2), f"{prom}: {n0} online acpi-dimm blocks after a restart, expected "
          f"{len(idx) + len(idx2)}")
    before = vm.blocks()
    n3 = 256 * MiB // bs
    vm.add_dimm("dimm3", 256 * MiB, node=0)
    vm.wait_blocks(new_online(before, n3), 120, f"{n3} blocks of the 3rd DIMM online")
    deadline = time.monotonic() + 30
    while (n1 := dimm_blocks_online()) != n0 + n3:
        check(time.monotonic() < deadline, f"{prom} says {n1} online acpi-dimm blocks, expected {n0 + n3}")
        time.sleep(0.5)
    ctx.note(f"metrics file: {n0} -> {n1} online acpi-dimm blocks after a {n3}-block DIMM")
    check(vm.stop_memhpd() == 0, "memhpd failed on stop")
    vm.out(f"rm {vm.sysconfdir}/memhpd.conf.d/60-metrics.conf")

    # 7. The unit's exposure, so that a weaker sandbox fails here.
    out = vm.out("systemd-analyze security --no-pager memhpd.service | tail -n 1")
    m = re.search(r"Overall exposure level for memhpd.service: ([0-9.]+)", out)
    check(m is not None, f"systemd-analyze security: {out!r}")
    ctx.note(f"systemd-analyze security memhpd.service: {m.group(1)} "
             f"(at most {SECURITY_EXPOSURE_MAX})")
    check(float(m.group(1)) <= SECURITY_EXPOSURE_MAX,
          f"exposure {m.group(1)} > {SECURITY_EXPOSURE_MAX}: the unit's sandbox got weaker")


# ---------------------------------------------------------------------------------------------
# runner

class Context:
    def __init__(self, args, name, kernel):
        self.kernel = kernel
        self.cmdline_extra = args.cmdline_extra
        self.memhpd = args.memhpd
        self.source_root = args.source_root
        self.cache = args.cache
        self.build_dir = args.build_dir
        self.keep = args.keep
        self.workdir = os.path.join(args.workdir, f"{name}-{kernel}") if args.workdir else None
        self.vm = None
        self.notes = []

    def note(self, msg):
        self.notes.append(msg)
        log(msg)


def run_one(args, name, kernel):
    fn, _ = SCENARIOS[name]
    ctx = Context(args, name, kernel)
    t0 = time.monotonic()
    name = f"{name}-{kernel}"
    log(f"=== {name} (kernel {vmlib.kernel_version(args.cache, kernel) or kernel})")
    ok = False
    try:
        fn(ctx)
        if ctx.vm is not None and ctx.vm.memhpd_pid() is not None and not ctx.keep:
            st = ctx.vm.stop_memhpd()
            check(st == 0, f"memhpd exited with status {st} on SIGTERM")
        ok = True
    except Skip as e:
        log(f"SKIP {name}: {e}")
        return None
    except (Failed, VMError, OSError) as e:
        log(f"FAIL {name}: {e}")
        if not isinstance(e, Failed):
            traceback.print_exc()
    finally:
        if ctx.vm is not None:
            if not ok:
                ctx.vm.dump_diagnostics()
            if ctx.keep and ctx.vm.proc is not None:
                ctx.vm.interactive()
            ctx.vm.stop()
            if ok and not ctx.keep and not args.workdir:
                import shutil
                shutil.rmtree(ctx.vm.workdir, ignore_errors=True)
    dt = time.monotonic() - t0
    boot = f", boot {ctx.vm.boot_time:.1f}s" if ctx.vm and ctx.vm.boot_time else ""
    log(f"{'PASS' if ok else 'FAIL'} {name} ({dt:.1f}s{boot})")
    return ok


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="scenario names, or 'all'")
    ap.add_argument("--list", action="store_true", help="list the scenarios")
    ap.add_argument("--memhpd", default=os.environ.get("MEMHPD"),
                    help="memhpd binary (default $MEMHPD or <source>/build/daemon/memhpd)")
    ap.add_argument("--source-root", default=root)
    ap.add_argument("--cache", default=os.environ.get("MEMHPD_VM_CACHE"),
                    help="kernel/initramfs cache (default <source>/build/vm-cache)")
    ap.add_argument("--build-dir", help="meson build directory to `meson install` for the "
                    "systemd scenario (default: the one holding --memhpd)")
    ap.add_argument("--workdir", help="keep each scenario's console, log and sockets here")
    ap.add_argument("--kernel", default=vmlib.DEFAULT_KERNEL,
                    choices=list(vmlib.KERNELS) + ["all"],
                    help="the Debian kernel to boot: 6.1 (Debian 12, default), 6.12 "
                    "(bookworm-backports), or all (each scenario on each)")
    ap.add_argument("--cmdline-extra", default=os.environ.get(vmlib.CMDLINE_EXTRA_ENV, ""),
                    help="DEBUGGING AID, never used by the meson tests: append this to the guest "
                    "kernel's command line, e.g. memhp_default_state=offline (default $"
                    + vmlib.CMDLINE_EXTRA_ENV + ")")
    ap.add_argument("--keep", action="store_true",
                    help="after the scenario, keep the guest running with an interactive shell")
    args = ap.parse_args()

    if args.list:
        for name, (_, doc) in SCENARIOS.items():
            print(f"{name:14} {doc}")
        return 0
    names = ([n for n in SCENARIOS if n not in NOT_IN_ALL] if args.names in (["all"], [])
             else args.names)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario(s): {' '.join(unknown)}; see --list")
    args.memhpd = args.memhpd or os.path.join(args.source_root, "build", "daemon", "memhpd")
    if not os.access(args.memhpd, os.X_OK):
        print(f"memhpd binary {args.memhpd} not found: build it or pass --memhpd", file=sys.stderr)
        return 1
    args.cache = os.path.abspath(args.cache or vmlib.cache_dir_default(args.source_root))
    kernels = list(vmlib.KERNELS) if args.kernel == "all" else [args.kernel]
    if args.cmdline_extra:
        log(f"DEBUGGING AID: guest kernel command line extended with {args.cmdline_extra!r}; "
            "results do not show the kernel's own defaults")
    try:
        for k in kernels:
            vmlib.run_setup(args.cache, k)
    except VMError as e:
        if os.geteuid() == 0:
            # As root setup.sh can install everything: a skip would hide a broken setup in CI.
            print(f"FAIL: VM setup failed: {e}", file=sys.stderr)
            return 1
        print(f"SKIP: VM tooling unavailable (not root): {e}", file=sys.stderr)
        return 77
    if args.workdir:
        args.workdir = os.path.abspath(args.workdir)

    results = {}
    for k in kernels:
        for n in names:
            results[f"{n}-{k}"] = run_one(args, n, k)
    passed = sum(1 for r in results.values() if r is True)
    failed = sum(1 for r in results.values() if r is False)
    skipped = len(results) - passed - failed
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    if failed:
        return 1
    return 77 if skipped and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
