# SPDX-License-Identifier: LGPL-2.1-or-later
"""Real-kernel benchmarks: the tests/vm harness (vmlib) with three onlining agents side by side.

Agents (every one onlines each hot-added block into ZONE_MOVABLE):
  kernel    the kernel's own auto-online: auto_online_blocks=online_movable, no userspace agent
  takeover  memhpd with defaults (KernelAutoOnline=takeover: auto_online_blocks=offline, memhpd
            onlines) and one policy, Device=any Zone=movable
  delegate  the same policy with KernelAutoOnline=delegate, the fast path: memhpd programs
            auto_online_blocks=online_movable, the kernel onlines inside the add and memhpd
            audits each online (a run that fell back to takeover is an error, not a figure)
  udev      systemd-udevd (Debian 12's, from the udev package, downloaded not installed) started as
          `systemd-udevd --daemon` with only the distribution-style rule
          SUBSYSTEM=="memory", ACTION=="add", ATTR{state}=="offline", ATTR{state}="online_movable"
          and auto_online_blocks=offline (6.12's default is online: the kernel would be first)

Every guest boots the kernel env["kernel"] names (tests/vm: 6.1 or 6.12).

Times are guest CLOCK_MONOTONIC: `guest-tool now` run by the guest shell just before QMP
device_add (or qom-set of a virtio-mem requested-size) is the start; `guest-tool uevlog` stamps
every memory-block kernel uevent on receipt, and the last block's "online" uevent is the end.
"""
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "vm"))
import vmlib  # noqa: E402
from vmlib import GiB, MiB, VM, VMError, Scenario  # noqa: E402

AGENTS = ("kernel", "takeover", "delegate", "udev")
MEMHPD_AGENTS = ("takeover", "delegate")
AGENT_LABEL = {"kernel": "kernel auto-online", "takeover": "memhpd takeover", "delegate": "memhpd delegate",
               "udev": "udev rule"}
MOVABLE_POLICY = "[Match]\nDevice=any\n\n[Online]\nZone=movable\n"
UDEV_RULE = 'SUBSYSTEM=="memory", ACTION=="add", ATTR{state}=="offline", ATTR{state}="online_movable"\n'


class BenchError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# tools cached beside the VM cache: the static guest helper and Debian's systemd-udevd

def guest_tool(cache):
    """Compile bench/guest-tool.c statically (once per source change) into the cache."""
    src = os.path.join(HERE, "guest-tool.c")
    out = os.path.join(cache, "bench", "guest-tool")
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src):
        return out
    os.makedirs(os.path.dirname(out), exist_ok=True)
    cc = shutil.which("cc") or shutil.which("gcc")
    r = subprocess.run([cc, "-O2", "-static", "-Wall", "-o", out + ".tmp", src], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise BenchError(f"cannot build the static guest helper: {r.stdout.strip()}")
    os.rename(out + ".tmp", out)
    return out


def udevd_dir(cache):
    """Debian's udev package unpacked (never installed) into the cache; returns its root or
    raises BenchError saying why not."""
    root = os.path.join(cache, "bench", "udev")
    if os.path.exists(os.path.join(root, "bin", "udevadm")):
        return root
    dl = os.path.join(cache, "bench", "udev-dl")
    shutil.rmtree(dl, ignore_errors=True)
    os.makedirs(dl)
    if os.getuid() == 0:
        subprocess.run(["chown", "_apt", dl], stderr=subprocess.DEVNULL)
    r = subprocess.run(["apt-get", "download", "udev"], cwd=dl, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if r.returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = subprocess.run(["apt-get", "download", "udev"], cwd=dl, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    debs = [f for f in os.listdir(dl) if f.endswith(".deb")]
    if r.returncode != 0 or not debs:
        raise BenchError(f"apt-get download udev failed: {r.stdout.strip()[-500:]}")
    tmp = root + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run(["dpkg-deb", "-x", os.path.join(dl, debs[0]), tmp], check=True)
    os.rename(tmp, root)
    with open(os.path.join(root, "deb-name"), "w") as f:
        f.write(debs[0] + "\n")
    shutil.rmtree(dl, ignore_errors=True)
    return root


# ---------------------------------------------------------------------------------------------
# the VM: vmlib.VM plus a third archive with the benchmark's tools

class BenchVM(VM):
    """vmlib.VM whose initramfs gets one more archive (the guest helper, and udevd for the udev
    agent) appended after vmlib wrote base + scenario; and whose kernel command line can be
    extended. Nothing in tests/vm changes."""

    def __init__(self, agent, scn, memhpd, cache, tool, udev_root=None, mem="512M", append="", kernel="6.1"):
        super().__init__(scn, memhpd, SOURCE_ROOT, cache, mem=mem, kernel=kernel)
        self.agent = agent
        self.tool = tool
        self.udev_root = udev_root
        self.append = append
        self.strace_bin = None

    def bench_cpio(self):
        c = vmlib.Cpio()
        c.copy(self.tool, "/bin/guest-tool", 0o755)
        if self.strace_bin:
            c.copy(self.strace_bin, "/bin/strace", 0o755)
            for host, guest in vmlib.ldd_files(self.strace_bin):
                c.copy(os.path.realpath(host), guest, 0o755)
        if self.agent == "udev":
            adm = os.path.join(self.udev_root, "bin", "udevadm")
            c.copy(adm, "/bin/udevadm", 0o755)
            for host, guest in vmlib.ldd_files(adm):
                c.copy(os.path.realpath(host), guest, 0o755)
            c.symlink("/lib/systemd/systemd-udevd", "/bin/udevadm")
            c.file("/etc/udev/udev.conf", "")
            c.file("/etc/udev/rules.d/80-memory-online.rules", UDEV_RULE)
            c.mkdir("/lib/udev/rules.d")
        return c.finish()

    def qemu_argv(self, initrd):
        # vmlib.VM.start() has written base + scenario archives to initrd: append ours.
        with open(initrd, "ab") as out:
            pos = out.tell()
            out.write(b"\0" * (-pos % 4))
            out.write(self.bench_cpio())
        argv = super().qemu_argv(initrd)
        if self.append:
            i = argv.index("-append")
            argv[i + 1] += " " + self.append
        return argv


MEMHPD_START = r"""[ -f /scenario.env ] && . /scenario.env; export MEMHPD_ARGS
rm -f /run/memhpd.pid /run/memhpd.exit
setsid sh -c 'memhpd $MEMHPD_ARGS & echo $! > /run/memhpd.pid; wait $!; echo $? > /run/memhpd.exit' \
    </dev/null >/run/memhpd.log 2>&1 &
while [ ! -s /run/memhpd.pid ]; do sleep 0.05; done
"""


def boot(agent, env, mem="512M", extra_qemu=None):
    if agent == "kernel":
        scn = Scenario(autostart=False, presets=False, auto_online_blocks="online_movable",
                       extra_qemu=extra_qemu)
    elif agent in MEMHPD_AGENTS:
        scn = Scenario(conf=f"[Daemon]\nKernelAutoOnline={agent}\n",
                       policies={"10-bench.policy": MOVABLE_POLICY}, autostart=False, extra_qemu=extra_qemu)
    else:
        scn = Scenario(autostart=False, presets=False, auto_online_blocks="offline", extra_qemu=extra_qemu)
    vm = BenchVM(agent, scn, env["memhpd"], env["cache"], env["tool"], env["udev_root"], mem=mem,
                 kernel=env["kernel"])
    vm.strace_bin = env.get("strace_bin")
    vm.start()
    if agent in MEMHPD_AGENTS:
        # As vmlib's memhpd-start, but the audit lines go to a tmpfs file, not the emulated serial
        # port (a real host has journald; a UART costs a trap per byte under TCG).
        vm.out(MEMHPD_START)
        rc, out = vm.sh("i=0; until grep -q 'event=started' /run/memhpd.log; do sleep 0.1; i=$((i+1)); "
                        "[ $i -gt 300 ] && break; done; grep -q 'event=started' /run/memhpd.log", timeout=60)
        if rc != 0:
            raise BenchError("memhpd did not start: " + vm.sh("cat /run/memhpd.log")[1][-500:])
        aob = vm.out("cat /sys/devices/system/memory/auto_online_blocks").strip()
        want = "online_movable" if agent == "delegate" else "offline"
        if aob != want:
            raise BenchError(f"memhpd ({agent}) left auto_online_blocks at {aob!r}, not {want!r}: "
                             + vm.sh("grep -i kernelautoonline /run/memhpd.log")[1][-500:])
    elif agent == "udev":
        vm.out("mkdir -p /run/udev && /lib/systemd/systemd-udevd --daemon >/run/udevd.out 2>&1", timeout=60)
        rc, out = vm.sh("udevadm control --ping --timeout=30 && pidof systemd-udevd", timeout=60)
        if rc != 0 or not out.strip():
            raise BenchError("systemd-udevd did not start in the guest: " + vm.sh("cat /run/udevd.out")[1])
    if agent in ("kernel", "udev"):
        want = "online_movable" if agent == "kernel" else "offline"
        aob = vm.out("cat /sys/devices/system/memory/auto_online_blocks").strip()
        if aob != want:
            raise BenchError(f"auto_online_blocks is {aob!r}, not {want!r}")
    return vm


def delegate_audit(vm, n_blocks):
    """Under delegate: (blocks memhpd audited as onlined, of which it found online only when its own
    write came second: the kernel onlined the block between memhpd's read of `offline` and its
    write, recorded as result=already instead of "onlined by the kernel for memhpd")."""
    rc, out = vm.sh("i=0; while [ $(grep -c 'event=onlined ' /run/memhpd.log) -lt %d ]; do "
                    "sleep 0.2; i=$((i+1)); [ $i -gt 50 ] && break; done; "
                    "grep -c 'event=onlined ' /run/memhpd.log; grep -c 'event=onlined .*result=already' /run/memhpd.log"
                    % n_blocks, timeout=60)
    try:
        f = out.split()
        return int(f[0]), int(f[1])
    except (ValueError, IndexError):
        return 0, 0


def agent_alive(vm):
    if vm.agent in MEMHPD_AGENTS:
        return vm.memhpd_pid() is not None
    if vm.agent == "udev":
        rc, out = vm.sh("pidof systemd-udevd")
        return rc == 0 and bool(out.strip())
    return True


# ---------------------------------------------------------------------------------------------
# one measurement

def start_logger(vm, n_online):
    vm.out("rm -f /run/uev.log /run/uevlog.pid; "
           f"setsid guest-tool uevlog /run/uev.log {n_online} </dev/null >/run/uevlog.out 2>&1 & "
           "echo $! > /run/uevlog.pid; while ! [ -s /run/uev.log ]; do sleep 0.02; done")


def wait_logger(vm, timeout, no_add_timeout=None):
    """Wait (in the guest, polling 5 times a second) for the logger to see its last "online";
    give up early if no block was added within no_add_timeout seconds (an add that failed)."""
    early = (f"[ $i -gt {int(no_add_timeout * 5)} ] && ! grep -q ' add memory' /run/uev.log && exit 2; "
             if no_add_timeout else "")
    rc, _ = vm.sh(f"p=$(cat /run/uevlog.pid); i=0; while kill -0 $p 2>/dev/null; do sleep 0.2; "
                  f"i=$((i+1)); {early}[ $i -gt {int(timeout * 5)} ] && exit 1; done; exit 0", timeout=timeout + 30)
    return rc == 0


def read_log(vm):
    adds, onlines, lost, others = {}, {}, 0, []
    for line in vm.out("cat /run/uev.log; kill $(cat /run/uevlog.pid) 2>/dev/null; true").splitlines():
        f = line.split()
        if len(f) != 3:
            continue
        t, action, name = float(f[0]), f[1], f[2]
        if action == "lost":
            lost += 1
        elif name.startswith("/"):
            others.append((t, action, name))
        elif action == "add":
            adds.setdefault(name, t)
        elif action == "online":
            onlines[name] = t
    return adds, onlines, lost, others


def measure(vm, trigger, n_blocks, timeout, no_add_timeout=None):
    """Start the logger, take the guest clock, run trigger() (QMP), wait for n_blocks onlined."""
    before = set(vm.blocks())
    start_logger(vm, n_blocks)
    irq_trace = vm.sh(IRQ_TRACE_ON)[0] == 0
    h0 = time.monotonic()
    t0 = float(vm.out("guest-tool now"))
    h1 = time.monotonic()
    trigger()
    h2 = time.monotonic()
    done = wait_logger(vm, timeout, no_add_timeout)
    adds, onlines, lost, others = read_log(vm)
    t_irq = first_irq(vm, t0) if irq_trace else None
    blocks = vm.blocks()
    new = [i for i in blocks if i not in before]
    online_new = [i for i in new if blocks[i]["state"] == "online"]
    movable = [i for i in online_new if blocks[i]["zones"][:1] == ["Movable"]]
    res = {"new_blocks": len(new), "online": len(online_new), "movable": len(movable),
           "complete": done and len(online_new) >= n_blocks, "lost": lost}
    res["profile"] = profile(adds, onlines, t0, others)
    # Host side of the start: the guest shell's round trip for `guest-tool now` (t0 lies inside it)
    # and the QMP command (from sending it to QEMU's answer).
    res["host_clock_rtt_s"] = h1 - h0
    res["host_qmp_s"] = h2 - h1
    if adds:
        res["first_add_s"] = min(adds.values()) - t0
        res["last_add_s"] = max(adds.values()) - t0
    if t_irq is not None:
        res["irq_s"] = t_irq[0] - t0
        res["irq_name"] = t_irq[1]
    if onlines and res["complete"]:
        res["latency_s"] = max(onlines.values()) - t0
        res["from_first_add_s"] = max(onlines.values()) - min(adds.values()) if adds else None
        if t_irq is not None:
            res["from_irq_s"] = max(onlines.values()) - t_irq[0]
    return res


# The guest's own start of a hot-add: the interrupt that announces it (the ACPI SCI of a DIMM's
# GPE, virtio-mem's config-change interrupt: INTx "virtio0" on this machine), stamped by the kernel's irq_handler_entry tracepoint on
# CLOCK_MONOTONIC ("mono" trace clock, the clock guest-tool uses). What comes before it is the
# guest shell's answer to `guest-tool now`, the harness and QEMU: host work, noisy on a busy host.
IRQ_TRACE_ON = r"""T=/sys/kernel/tracing
[ -d $T/events ] || mount -t tracefs nodev $T || exit 1
echo 0 > $T/tracing_on && echo > $T/trace && echo mono > $T/trace_clock || exit 1
echo 'name ~ "acpi" || name ~ "virtio*"' > $T/events/irq/irq_handler_entry/filter || exit 1
echo 1 > $T/events/irq/irq_handler_entry/enable && echo 1 > $T/tracing_on
"""


def first_irq(vm, t0):
    """(guest CLOCK_MONOTONIC, irq name) of the first traced interrupt at or after t0, or None."""
    rc, out = vm.sh("T=/sys/kernel/tracing; echo 0 > $T/tracing_on; "
                    "echo 0 > $T/events/irq/irq_handler_entry/enable; grep irq_handler_entry $T/trace")
    for line in out.splitlines():
        m = re.search(r"\s(\d+\.\d+): irq_handler_entry: irq=\d+ name=(\S+)", line)
        if m and float(m.group(1)) >= t0:
            return float(m.group(1)), m.group(2)
    return None


def profile(adds, onlines, t0, others=()):
    """Where the time goes, from the guest's per-block uevent timestamps (relative to t0, in s):
    how many uevents of other devices came before the first block's (none for a DIMM: its ACPI
    device's come after the blocks'), when the adds start and end, when the onlines start and end, how many blocks were online
    before the last add, and the per-block add->online gap and online->online interval."""
    if not adds or not onlines:
        return None
    first_add, last_add = min(adds.values()), max(adds.values())
    on = sorted(onlines.values())
    gaps = sorted(onlines[b] - adds[b] for b in onlines if b in adds)
    steps = [b - a for a, b in zip(on, on[1:])]
    pre = sorted(o for o in others if o[0] <= first_add)
    return {"uevents_before_first_add": len(pre),
            "first_add": first_add - t0, "last_add": last_add - t0,
            "first_online": on[0] - t0, "last_online": on[-1] - t0,
            "online_before_last_add": sum(1 for t in on if t < last_add),
            "gap_ms_median": 1000 * gaps[len(gaps) // 2] if gaps else None,
            "gap_ms_max": 1000 * gaps[-1] if gaps else None,
            "step_ms_median": 1000 * sorted(steps)[len(steps) // 2] if steps else None,
            "tail_ms": 1000 * (on[-1] - last_add)}


def dimm_trigger(vm, ident, size, node=0):
    vm.qmp.cmd("object-add", {"qom-type": "memory-backend-ram", "id": f"mem-{ident}", "size": size})

    def trigger():
        vm.qmp.cmd("device_add", {"driver": "pc-dimm", "id": ident, "memdev": f"mem-{ident}", "node": node})
    return trigger


# ---------------------------------------------------------------------------------------------
# benchmarks; each returns a list of result dicts (one per run) and never raises for one agent's
# failure in a run: the dict then carries "error"

def run_guarded(fn, *args):
    vm = None
    try:
        return fn(*args)
    except (VMError, BenchError, OSError) as e:
        return {"error": str(e).splitlines()[0][:300]}


def finish(vm, res, n):
    res["alive"] = agent_alive(vm)
    if vm.agent == "delegate":
        res["audited"], res["audited_already"] = delegate_audit(vm, n)
        if res.get("complete") and res["audited"] < n:
            res["error"] = f"delegate: memhpd audited {res['audited']} of {n} onlines"
    return res


def bench_dimm(agent, size_gib, env):
    vm = boot(agent, env, mem=env["dimm_mem"])
    try:
        bs = vm.block_size()
        n = size_gib * GiB // bs
        res = measure(vm, dimm_trigger(vm, "d1", size_gib * GiB), n, env["timeout"])
        finish(vm, res, n)
        res["boot_s"] = vm.boot_time
        return res
    finally:
        vm.stop()
        shutil.rmtree(vm.workdir, ignore_errors=True)


def parse_strace_c(text):
    """strace -c's table as [{"syscall", "calls", "errors", "seconds", "usecs_per_call"}], busiest first."""
    rows = []
    for line in text.splitlines():
        f = line.split()
        if len(f) < 5 or not f[0].replace(".", "", 1).isdigit() or f[-1] == "total":
            continue
        try:
            pct, secs, usecs, calls = float(f[0]), float(f[1]), int(f[2]), int(f[3])
        except ValueError:
            continue
        errors = int(f[4]) if len(f) == 6 else 0
        rows.append({"syscall": f[-1], "calls": calls, "errors": errors, "seconds": secs,
                     "usecs_per_call": usecs, "pct": pct})
    return rows


def bench_strace(agent, size_gib, env):
    """A profiling run, not counted in the latency medians: `strace -c -f` attached to memhpd in
    the guest (strace and its libraries copied in as vmlib copies memhpd) over one DIMM hot-add."""
    vm = boot(agent, env, mem=env["dimm_mem"])
    try:
        bs = vm.block_size()
        n = size_gib * GiB // bs
        vm.out("setsid strace -c -f -o /run/strace.out -p $(cat /run/memhpd.pid) </dev/null "
               ">/run/strace.err 2>&1 & echo $! > /run/strace.pid; i=0; "
               "until grep -q attached /run/strace.err; do sleep 0.1; i=$((i+1)); [ $i -gt 100 ] && break; done; true")
        if vm.sh("grep -q attached /run/strace.err")[0] != 0:
            raise BenchError("strace did not attach: " + vm.sh("cat /run/strace.err")[1][-300:])
        res = measure(vm, dimm_trigger(vm, "d1", size_gib * GiB), n, env["timeout"])
        finish(vm, res, n)
        # Let memhpd finish what the last uevents asked for (audit records), then stop strace.
        time.sleep(1)
        vm.out("kill -INT $(cat /run/strace.pid); i=0; while kill -0 $(cat /run/strace.pid) 2>/dev/null; do "
               "sleep 0.1; i=$((i+1)); [ $i -gt 100 ] && break; done; true", timeout=60)
        text = vm.out("cat /run/strace.out")
        res["strace_text"] = text
        res["strace"] = parse_strace_c(text)
        res["blocks"] = n
        return res
    finally:
        vm.stop()
        shutil.rmtree(vm.workdir, ignore_errors=True)


def bench_virtio_mem(agent, size_gib, env):
    extra = ["-object", f"memory-backend-ram,id=vmem0,size={size_gib}G",
             "-device", "virtio-mem-pci,id=vm0,memdev=vmem0,node=0,requested-size=0"]
    vm = boot(agent, env, extra_qemu=extra)
    try:
        bs = vm.block_size()
        n = size_gib * GiB // bs

        def trigger():
            vm.qom_set("vm0", "requested-size", size_gib * GiB)
        res = measure(vm, trigger, n, env["timeout"])
        res["plugged_mib"] = vm.qom_get("vm0", "size") // MiB
        finish(vm, res, n)
        return res
    finally:
        vm.stop()
        shutil.rmtree(vm.workdir, ignore_errors=True)


def bench_pressure(agent, size_gib, left_mib, env):
    vm = boot(agent, env, mem="512M")
    try:
        bs = vm.block_size()
        n = size_gib * GiB // bs
        vm.out("setsid guest-tool hog %d </dev/null >/run/hog.out 2>&1 & echo $! > /run/hog.pid; "
               "while ! [ -s /run/hog.out ]; do sleep 0.1; done" % left_mib, timeout=300)
        hog = vm.out("cat /run/hog.out").strip()
        res = {"hog": hog}
        try:
            # An add the kernel cannot fit fails at once (no block appears): do not wait out the timeout.
            res.update(measure(vm, dimm_trigger(vm, "d1", size_gib * GiB), n, env["pressure_timeout"],
                               no_add_timeout=30))
        except VMError as e:
            res["error"] = str(e).splitlines()[0][:300]
            res["complete"] = False
        try:
            res["alive"] = agent_alive(vm)
            rc, out = vm.sh("dmesg | grep -E 'Killed process|invoked oom-killer' | tail -n 5", timeout=30)
            res["oom"] = out.strip()
            res["hog_alive"] = vm.sh("kill -0 $(cat /run/hog.pid)")[0] == 0
            if not res.get("complete"):
                res["dmesg"] = vm.sh("dmesg | grep -iE 'acpi|memory|hotplug|oom' | tail -n 8", timeout=30)[1]
            if "online" not in res:
                blocks = vm.blocks()
                res["online"] = sum(1 for b in blocks.values() if b["state"] == "online") - 4
        except VMError as e:
            res.setdefault("error", "guest unresponsive after the hot-add: " + str(e).splitlines()[0][:200])
            res["alive"] = None
        return res
    finally:
        vm.stop()
        shutil.rmtree(vm.workdir, ignore_errors=True)


def kernel_version(cache, kernel):
    return vmlib.kernel_version(cache, kernel) or "unknown"
