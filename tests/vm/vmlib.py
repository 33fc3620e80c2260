"""Real-kernel test harness for memhpd: busybox initramfs, QEMU under TCG, QMP, guest shell.

The guest is a Debian kernel, 6.1 (Debian 12's) or 6.12 (bookworm-backports), prepared by setup.sh
under <cache>/kernel-<K>/ and booted as a PVH ELF with an uncompressed
initramfs made of two concatenated newc archives: a cached base (busybox, modules, /init) and a
small per-scenario archive (memhpd, its libraries, its configuration). Three serial ports:
  ttyS0  kernel console                -> <workdir>/console.log
  ttyS1  command channel (guest shell) <-> unix socket the harness listens on
  ttyS2  memhpd's stdout and stderr    -> <workdir>/memhpd.log
QMP is a unix socket in the work directory.
"""

import base64
import fcntl
import hashlib
import json
import os
import re
import secrets
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MiB = 1 << 20
GiB = 1 << 30

# The kernel lines the suite runs on (setup.sh --kernel); 6.1 is the default (README demo).
KERNELS = ("6.1", "6.12")
DEFAULT_KERNEL = "6.1"
# A debugging aid, never set by the meson tests: words appended to the guest kernel's command line,
# e.g. MEMHPD_VM_KERNEL_CMDLINE_EXTRA=memhp_default_state=offline (run.py --cmdline-extra).
CMDLINE_EXTRA_ENV = "MEMHPD_VM_KERNEL_CMDLINE_EXTRA"

# Paths memhpd uses in the guest (the defaults of the contract; detect_paths() refines them).
DEFAULT_SYSCONFDIR = "/etc/memhpd"
DEFAULT_VENDORDIR = "/usr/lib/memhpd/policies.d"


def _die_with_parent():
    """In the child before exec: SIGKILL qemu when the harness dies (a meson timeout, a killed
    run), so that no guest is left spinning on the CPU and skewing later runs and benchmarks."""
    import ctypes
    import signal
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class VMError(Exception):
    pass


class GuestShellTimeout(VMError):
    """The guest's command loop on the serial port did not answer a request in time."""


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# cpio (newc) writer: no root needed, device nodes come from devtmpfs in the guest.

class Cpio:
    def __init__(self):
        self.parts = []
        self.ino = 1
        self.dirs = set()

    def _entry(self, name, mode, data=b"", nlink=1, uid=0, gid=0, mtime=0, rdev=(0, 0)):
        name = name.lstrip("/")
        nameb = name.encode() + b"\0"
        hdr = "070701" + "".join(f"{v:08x}" for v in (
            self.ino, mode, uid, gid, nlink, int(mtime), len(data), 0, 0, rdev[0], rdev[1],
            len(nameb), 0))
        self.ino += 1
        buf = hdr.encode() + nameb
        buf += b"\0" * (-len(buf) % 4)
        buf += data
        buf += b"\0" * (-len(buf) % 4)
        self.parts.append(buf)

    def mkdir(self, path, mode=0o755):
        path = "/" + path.strip("/")
        if path == "/" or path in self.dirs:
            return
        self.mkdir(os.path.dirname(path))
        self.dirs.add(path)
        self._entry(path, 0o040000 | mode, nlink=2)

    def file(self, path, data, mode=0o644):
        if isinstance(data, str):
            data = data.encode()
        self.mkdir(os.path.dirname(path))
        self._entry(path, 0o100000 | mode, data)

    def copy(self, src, path, mode=None):
        with open(src, "rb") as f:
            data = f.read()
        if mode is None:
            mode = os.stat(src).st_mode & 0o7777
        self.file(path, data, mode)

    def symlink(self, path, target):
        self.mkdir(os.path.dirname(path))
        self._entry(path, 0o120000 | 0o777, target.encode())

    def node(self, path, mode, major, minor):
        """A character (mode includes S_IFCHR) or block device node."""
        self.mkdir(os.path.dirname(path))
        self._entry(path, mode, rdev=(major, minor))

    def add_tree(self, root, prefix="/"):
        """Everything under the host directory root, as prefix/..., with modes and mtimes (owners
        are root)."""
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel = os.path.relpath(dirpath, root)
            guest = os.path.normpath(os.path.join(prefix, rel))
            if guest != "/" and guest not in self.dirs:
                self.mkdir(os.path.dirname(guest))
                self.dirs.add(guest)
                st = os.lstat(dirpath)
                self._entry(guest, 0o040000 | (st.st_mode & 0o7777), nlink=2, mtime=st.st_mtime)
            for name in sorted(filenames + [d for d in dirnames
                                            if os.path.islink(os.path.join(dirpath, d))]):
                src = os.path.join(dirpath, name)
                st = os.lstat(src)
                if os.path.islink(src):
                    data, mode = os.readlink(src).encode(), 0o120777
                else:
                    with open(src, "rb") as f:
                        data, mode = f.read(), 0o100000 | (st.st_mode & 0o7777)
                self._entry(os.path.join(guest, name), mode, data, mtime=st.st_mtime)

    def finish(self, align=512):
        self._entry("TRAILER!!!", 0)
        out = b"".join(self.parts)
        return out + b"\0" * (-len(out) % align)


# ---------------------------------------------------------------------------------------------
# Guest /init and its command loop.

INIT_SCRIPT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /run /tmp /bin /sbin /usr/bin /usr/sbin /var/lib/memhpd
/bin/busybox --install -s
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
echo "init: up $(cut -d' ' -f1 /proc/uptime)s" > /dev/kmsg
for m in $(cat /lib/modules/order); do
    insmod /lib/modules/$m.ko || echo "init: insmod $m failed" > /dev/kmsg
done
[ -f /scenario.env ] && . /scenario.env
if [ -n "$AUTO_ONLINE_BLOCKS" ]; then
    echo "$AUTO_ONLINE_BLOCKS" > /sys/devices/system/memory/auto_online_blocks
fi
stty -F /dev/ttyS2 raw -echo 115200 2>/dev/null
[ "$MEMHPD_AUTOSTART" = 1 ] && memhpd-start
exec /bin/cmdloop
"""

# memhpd-start: run memhpd in the background, output to the log port, pid in /run/memhpd.pid,
# exit status in /run/memhpd.exit once it ends.
MEMHPD_START = r"""#!/bin/sh
rm -f /run/memhpd.pid /run/memhpd.exit
setsid sh -c 'memhpd $MEMHPD_ARGS & echo $! > /run/memhpd.pid; wait $!; echo $? > /run/memhpd.exit' \
    </dev/null >/dev/ttyS2 2>&1 &
while [ ! -s /run/memhpd.pid ]; do sleep 0.05; done
"""

# The command loop: each request is "TOKEN BASE64(script)"; the reply is the script's output, a
# newline, and "@@TOKEN@@ RC".
#
# The request line is read by `head -n1` in a child process, not by the shell's `read` builtin.
# In the busybox guest this shell is PID 1: every orphan exits into it (memhpd's wrapper from
# memhpd-start when memhpd stops, anything a script left in the background), and busybox ash
# catches SIGCHLD. Its `read` reads the tty one byte per poll(); a SIGCHLD makes poll() fail with
# EINTR, and ash restarts `read` from scratch, dropping the bytes it had already consumed. A
# request arriving at that moment lost its head: the loop ran a mangled line and answered with a
# mangled token, and the harness waited in vain ("guest shell: no answer"; seen about once in
# seven runs right after memhpd's SIGTERM). A child's read(2) is not interrupted by PID 1's
# signals and consumes exactly what arrived: the harness sends one request at a time.
CMDLOOP = r"""#!/bin/sh
exec </dev/ttyS1 >/dev/ttyS1 2>&1
stty raw -echo 115200
echo "@@READY@@ $(cut -d' ' -f1 /proc/uptime)"
while :; do
    line=$(head -n1)
    tok=${line%% *}
    b64=${line#* }
    if [ -z "$line" ]; then
        sleep 0.1   # end of file: the port hung up; nothing else to do but wait
        continue
    fi
    if [ -z "$tok" ] || [ "$tok" = "$line" ]; then
        echo "cmdloop: malformed request: $(echo "$line" | cut -c1-80)" > /dev/kmsg
        continue
    fi
    echo "$b64" | base64 -d > /tmp/cmd.sh
    sh /tmp/cmd.sh </dev/null >/tmp/cmd.out 2>&1
    rc=$?
    cat /tmp/cmd.out
    printf '\n@@%s@@ %d\n' "$tok" "$rc"
done
"""


def cache_dir_default(source_root):
    return os.path.join(source_root, "build", "vm-cache")


def kernel_dir(cache, kernel=DEFAULT_KERNEL):
    """Where setup.sh caches one kernel: vmlinux, modules/, kver."""
    if kernel not in KERNELS:
        raise VMError(f"unknown kernel {kernel!r} (one of {', '.join(KERNELS)})")
    return os.path.join(cache, f"kernel-{kernel}")


def kernel_version(cache, kernel=DEFAULT_KERNEL):
    """The cached kernel's version string (e.g. 6.12.95+deb12-amd64), or None."""
    try:
        with open(os.path.join(kernel_dir(cache, kernel), "kver")) as f:
            return f.read().strip()
    except OSError:
        return None


def run_setup(cache, kernel=DEFAULT_KERNEL):
    """Run setup.sh once for a kernel (under a lock, meson may start several tests at once).
    Returns the cache directory."""
    kernel_dir(cache, kernel)   # validates the name
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, ".lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        r = subprocess.run(["bash", os.path.join(HERE, "setup.sh"), "--kernel", kernel, cache],
                           stdout=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise VMError(f"setup.sh --kernel {kernel} failed with {r.returncode}")
    return cache


def base_initramfs(kdir):
    """The cached base archive of one kernel (its directory from kernel_dir()): busybox, modules,
    /init and helpers. Rebuilt when inputs change."""
    busybox = "/bin/busybox"
    moddir = os.path.join(kdir, "modules")
    with open(os.path.join(moddir, "order")) as f:
        order = f.read().split()
    h = hashlib.sha256()
    for s in (INIT_SCRIPT, MEMHPD_START, CMDLOOP, " ".join(order)):
        h.update(s.encode())
    for p in [busybox] + [os.path.join(moddir, m + ".ko") for m in order]:
        st = os.stat(p)
        h.update(f"{p}:{st.st_size}:{st.st_mtime_ns}".encode())
    path = os.path.join(kdir, f"base-{h.hexdigest()[:16]}.cpio")
    if os.path.exists(path):
        return path
    c = Cpio()
    for d in ("proc", "sys", "dev", "run", "tmp", "bin", "sbin", "usr/bin", "usr/sbin", "etc",
              "var/lib/memhpd", "lib/modules"):
        c.mkdir(d)
    c.copy(busybox, "/bin/busybox", 0o755)
    for host, guest in ldd_files(busybox):   # none for busybox-static
        c.copy(os.path.realpath(host), guest, 0o755)
    c.symlink("/bin/sh", "busybox")
    for m in order:
        c.copy(os.path.join(moddir, m + ".ko"), f"/lib/modules/{m}.ko", 0o644)
    c.file("/lib/modules/order", "\n".join(order) + "\n")
    c.file("/init", INIT_SCRIPT, 0o755)
    c.file("/bin/memhpd-start", MEMHPD_START, 0o755)
    c.file("/bin/cmdloop", CMDLOOP, 0o755)
    c.file("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
    c.file("/etc/group", "root:x:0:\n")
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(c.finish())
    os.rename(tmp, path)
    for old in os.listdir(kdir):   # archives of earlier inputs (another /init, other modules)
        if old.startswith("base-") and old.endswith(".cpio") and old != os.path.basename(path):
            try:
                os.unlink(os.path.join(kdir, old))
            except OSError:
                pass
    return path


LOAD_NVDIMM = r"""#!/bin/sh
for m in $(cat /lib/modules/nvdimm/order); do
    insmod /lib/modules/nvdimm/$m.ko || { echo "load-nvdimm: insmod $m failed"; exit 1; }
done
"""


def nvdimm_cpio(kdir):
    """The NVDIMM and dax/kmem modules (setup.sh: modules-nvdimm/) and load-nvdimm, as one more
    newc archive, 4-byte aligned after the scenario's."""
    moddir = os.path.join(kdir, "modules-nvdimm")
    with open(os.path.join(moddir, "order")) as f:
        order = f.read().split()
    c = Cpio()
    c.mkdir("/lib/modules/nvdimm")
    for m in order:
        c.copy(os.path.join(moddir, m + ".ko"), f"/lib/modules/nvdimm/{m}.ko", 0o644)
    c.file("/lib/modules/nvdimm/order", "\n".join(order) + "\n")
    c.file("/bin/load-nvdimm", LOAD_NVDIMM, 0o755)
    return c.finish(align=4)


def write_initrd(path, archives, extra=b""):
    """Concatenate cpio archives (paths, then bytes) into path, each on a 4-byte boundary."""
    with open(path, "wb") as out:
        for a in archives:
            out.write(b"\0" * (-out.tell() % 4))   # an appended archive starts 4-byte aligned
            with open(a, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 20)
        if extra:
            out.write(b"\0" * (-out.tell() % 4))
            out.write(extra)


def ldd_files(binary):
    """Every shared library (and the loader) binary needs, as (host path, guest path)."""
    r = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if "not a dynamic executable" in r.stdout or "statically linked" in r.stdout:
        return []
    if r.returncode != 0:
        raise VMError(f"ldd {binary}: {r.stdout.strip()}")
    out = []
    for line in r.stdout.splitlines():
        line = line.strip()
        m = re.match(r"\S+ => (/\S+) \(0x", line)
        if m:
            out.append((m.group(1), m.group(1)))
            continue
        m = re.match(r"(/\S+) \(0x", line)  # the dynamic loader
        if m:
            out.append((m.group(1), m.group(1)))
        elif "=> not found" in line:
            raise VMError(f"ldd {binary}: {line}")
    return out


def detect_paths(binary):
    """The configuration paths compiled into memhpd (prefix from the build), else the defaults."""
    sysconf, vendor = DEFAULT_SYSCONFDIR, DEFAULT_VENDORDIR
    try:
        with open(binary, "rb") as f:
            data = f.read()
    except OSError:
        return sysconf, vendor
    # The daemon names its files relative to its root ("etc/memhpd/memhpd.conf"), or absolute.
    strs = set(s.decode() for s in re.findall(rb"[A-Za-z0-9_./-]{6,200}", data))
    for s in sorted(strs):
        if s.endswith("memhpd/memhpd.conf") and s.lstrip("/").startswith(("etc/", "usr/")):
            sysconf = "/" + s.lstrip("/")[: -len("/memhpd.conf")]
        if s.endswith("lib/memhpd/policies.d") and s.lstrip("/").startswith("usr/"):
            vendor = "/" + s.lstrip("/")
    return sysconf, vendor


class Scenario:
    """What a scenario puts into the guest."""

    def __init__(self, conf=None, policies=None, autostart=True, memhpd_args="",
                 auto_online_blocks=None, numa=False, extra_qemu=None, presets=True, files=None,
                 nvdimm=None, cmdline=""):
        self.conf = conf                      # text of memhpd.conf, or None
        self.policies = policies or {}        # name -> text, in /etc/memhpd/policies.d/
        self.autostart = autostart
        self.memhpd_args = memhpd_args
        self.auto_online_blocks = auto_online_blocks
        self.numa = numa
        self.extra_qemu = extra_qemu or []
        self.presets = presets                # ship <repo>/policies/*.policy as vendor presets
        self.files = files or {}              # guest path -> host path of an executable (e.g. a helper)
        self.nvdimm = nvdimm                  # bytes of one emulated NVDIMM (-machine nvdimm=on), or None;
                                              # its modules (setup.sh: modules-nvdimm/) are in
                                              # /lib/modules/nvdimm, loaded by the scenario with load-nvdimm
        self.cmdline = cmdline                # appended to the guest kernel's command line


def scenario_cpio(scn, memhpd, source_root):
    c = Cpio()
    sysconf, vendor = detect_paths(memhpd)
    c.copy(memhpd, "/usr/bin/memhpd", 0o755)
    for host, guest in ldd_files(memhpd):
        c.copy(os.path.realpath(host), guest, 0o755)
    # memhpctl, built beside memhpd: the private socket works without a dbus-daemon.
    ctl = os.path.join(os.path.dirname(os.path.abspath(memhpd)), "memhpctl")
    if os.path.exists(ctl):
        c.copy(ctl, "/usr/bin/memhpctl", 0o755)
        for host, guest in ldd_files(ctl):
            c.copy(os.path.realpath(host), guest, 0o755)
    c.mkdir(sysconf + "/policies.d")
    c.mkdir(vendor)
    if scn.conf is not None:
        c.file(sysconf + "/memhpd.conf", scn.conf)
    for name, text in sorted(scn.policies.items()):
        c.file(f"{sysconf}/policies.d/{name}", text)
    pdir = os.path.join(source_root, "policies")
    if scn.presets and os.path.isdir(pdir):
        for name in sorted(os.listdir(pdir)):
            if name.endswith(".policy"):
                c.copy(os.path.join(pdir, name), f"{vendor}/{name}", 0o644)
    env = [
        f"MEMHPD_AUTOSTART={1 if scn.autostart else 0}",
        f"MEMHPD_ARGS='{scn.memhpd_args}'",
        f"MEMHPD_SYSCONFDIR={sysconf}",
        f"MEMHPD_VENDORDIR={vendor}",
        f"AUTO_ONLINE_BLOCKS={scn.auto_online_blocks or ''}",
        "export MEMHPD_ARGS",
    ]
    c.file("/scenario.env", "\n".join(env) + "\n")
    for guest, host in sorted(scn.files.items()):
        c.copy(host, guest, 0o755)
    return c.finish(), sysconf, vendor


# ---------------------------------------------------------------------------------------------
# QMP

class QMP:
    def __init__(self, path, timeout=30, alive=lambda: True):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if not alive():
                    raise VMError("QMP: qemu exited")
                if time.monotonic() > deadline:
                    raise VMError(f"QMP socket {path} did not come up")
                time.sleep(0.05)
        self.buf = b""
        self.events = []
        greeting = self._recv(timeout)
        if "QMP" not in greeting:
            raise VMError(f"bad QMP greeting {greeting}")
        self.cmd("qmp_capabilities")

    def _recv(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise VMError("QMP: timeout")
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                continue
            chunk = self.sock.recv(65536)
            if not chunk:
                raise VMError("QMP: connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, cmd, arguments=None, timeout=60):
        """Run a QMP command; returns its "return" value, raises VMError on "error"."""
        msg = {"execute": cmd}
        if arguments:
            msg["arguments"] = arguments
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self._recv(timeout)
            if "event" in r:
                self.events.append(r)
                continue
            if "error" in r:
                raise VMError(f"QMP {cmd} {arguments}: {r['error'].get('desc')}")
            return r.get("return")

    def wait_event(self, name, timeout=60, match=None):
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e["event"] == name and (match is None or match(e.get("data", {}))):
                    return self.events.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                raise VMError(f"QMP: no {name} event within {timeout}s")
            try:
                r = self._recv(left)
            except VMError as e:
                if "timeout" in str(e):
                    continue
                raise
            if "event" in r:
                self.events.append(r)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------
# Audit records

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from auditlog import AUDIT_RE, parse_audit  # noqa: E402,F401  one parser for every Python test


# ---------------------------------------------------------------------------------------------
# The VM

def choose_accel(cache, kernel=DEFAULT_KERNEL):
    """'kvm' only where a probe saw this kernel boot under KVM, else 'tcg'.

    DESIGN: the /dev/kvm here cannot boot a normal kernel (QEMU aborts setting an MSR, or the
    guest hangs), so the probe's answer is cached in the cache directory. MEMHPD_VM_ACCEL=tcg|kvm
    skips the probe.
    """
    forced = os.environ.get("MEMHPD_VM_ACCEL", "auto")
    if forced in ("tcg", "kvm"):
        return forced
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg"
    path = os.path.join(kernel_dir(cache, kernel), "kvm-probe")
    with open(os.path.join(cache, ".lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        try:
            with open(path) as f:
                return f.read().strip()
        except OSError:
            pass
        log(f"probing whether KVM boots the {kernel} guest kernel (once per cache)")
        vm = VM(Scenario(autostart=False, presets=False), "/bin/busybox", HERE, cache,
                accel="kvm", kernel=kernel)
        result = "tcg"
        try:
            vm.start(boot_timeout=15)
            if vm.sh("echo ok", timeout=5)[1] == "ok":
                result = "kvm"
        except (VMError, OSError) as e:
            log(f"KVM probe failed ({str(e).splitlines()[0]}): using TCG")
        finally:
            vm.stop()
            shutil.rmtree(vm.workdir, ignore_errors=True)
        with open(path, "w") as f:
            f.write(result + "\n")
        return result


class VM:
    def __init__(self, scenario, memhpd, source_root, cache, workdir=None, keep=False,
                 mem="512M", cpus=2, accel=None, kernel=DEFAULT_KERNEL, cmdline_extra=None):
        self.scn = scenario
        self.kernel = kernel
        self.kdir = kernel_dir(cache, kernel)
        self.kver = kernel_version(cache, kernel)
        # Debugging aid only (see CMDLINE_EXTRA_ENV); the meson tests never set it.
        self.cmdline_extra = (cmdline_extra if cmdline_extra is not None
                              else os.environ.get(CMDLINE_EXTRA_ENV, "")).strip()
        self.memhpd = os.path.abspath(memhpd)
        self.source_root = source_root
        self.cache = cache
        self.keep = keep
        self.mem = mem
        self.cpus = cpus
        self.accel = accel or choose_accel(cache, kernel)
        self.workdir = workdir or tempfile.mkdtemp(prefix="memhpd-vm-")
        os.makedirs(self.workdir, exist_ok=True)
        self.console_path = os.path.join(self.workdir, "console.log")
        self.log_path = os.path.join(self.workdir, "memhpd.log")
        # Sockets live in a short private directory: sun_path holds only 108 bytes.
        self.sockdir = tempfile.mkdtemp(prefix="mhvm-")
        self.qmp_path = os.path.join(self.sockdir, "qmp.sock")
        self.cmd_path = os.path.join(self.sockdir, "cmd.sock")
        self.qemu_err = None
        self.proc = None
        self.qmp = None
        self.cmd = None
        self.cmdbuf = b""
        self.next_id = 1
        self.boot_time = None

    # -- start/stop --------------------------------------------------------------------------

    def qemu_argv(self, initrd):
        argv = ["qemu-system-x86_64", "-machine", "pc,nvdimm=on" if self.scn.nvdimm else "pc",
                "-nodefaults", "-display", "none",
                "-no-reboot", "-m", f"{self.mem},slots=16,maxmem=64G", "-smp", str(self.cpus)]
        if self.accel == "kvm":
            argv += ["-accel", "kvm", "-cpu", "host"]
        else:
            argv += ["-accel", "tcg,thread=multi", "-cpu", "max"]
        if self.scn.numa:
            argv += ["-object", f"memory-backend-ram,id=m0,size={self.mem}",
                     "-numa", f"node,nodeid=0,cpus=0-{self.cpus - 1},memdev=m0",
                     "-numa", "node,nodeid=1"]
        argv += ["-kernel", os.path.join(self.kdir, "vmlinux"), "-initrd", initrd,
                 "-append", self.kernel_cmdline(),
                 "-chardev", f"file,id=con,path={self.console_path}", "-serial", "chardev:con",
                 "-chardev", f"socket,id=cmd,path={self.cmd_path}", "-serial", "chardev:cmd",
                 "-chardev", f"file,id=mlog,path={self.log_path}", "-serial", "chardev:mlog",
                 "-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        if self.scn.nvdimm:
            argv += ["-object", f"memory-backend-ram,id=nv1,size={self.scn.nvdimm}",
                     "-device", "nvdimm,memdev=nv1,id=nvdimm1"]
        argv += self.scn.extra_qemu
        return argv

    def kernel_cmdline(self):
        # No memhp_default_state=: each kernel keeps its own default for auto_online_blocks
        # (Debian's 6.1: offline; 6.12: online, CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE=y), as users
        # run it.
        return self.with_extra("console=ttyS0,115200 panic=-1 loglevel=7 rdinit=/init "
                               "tsc=reliable" + (" " + self.scn.cmdline if self.scn.cmdline else ""))

    def with_extra(self, cmdline):
        return f"{cmdline} {self.cmdline_extra}" if self.cmdline_extra else cmdline

    def make_initrd(self, initrd):
        """Write the initramfs the guest boots: the cached base archive plus the scenario's."""
        base = base_initramfs(self.kdir)
        extra, self.sysconfdir, self.vendordir = scenario_cpio(self.scn, self.memhpd,
                                                                self.source_root)
        if self.scn.nvdimm:
            extra += nvdimm_cpio(self.kdir)
        write_initrd(initrd, [base], extra)

    def start(self, boot_timeout=90):
        """Boot the guest. A guest KERNEL that crashes before it runs userspace (seen once in about
        70 boots of 6.12 under multi-threaded TCG: an Oops in sched_clock_tick while the kernel patches
        its own code) is booted once more, with RETRY in the log; anything later is never retried."""
        try:
            return self._boot(boot_timeout)
        except VMError as e:
            crash = self.early_kernel_crash()
            if not crash:
                raise
            log(f"RETRY: the guest kernel crashed before userspace ({crash}; {e}); booting once more")
            self.stop()
            os.replace(self.console_path, self.console_path + ".crashed")
            os.makedirs(self.sockdir, exist_ok=True)
            self.cmdbuf = b""
            return self._boot(boot_timeout)

    def early_kernel_crash(self):
        """The first Oops/panic/BUG line of the console, if it came before init said it was up."""
        try:
            with open(self.console_path, "rb") as f:
                text = f.read().decode(errors="replace")
        except OSError:
            return None
        if any(m in text for m in ("Run /", "init: up", "systemd[1]", "Welcome to")):
            return None  # userspace ran: whatever happened next is a real failure
        for line in text.splitlines():
            if any(m in line for m in ("Oops:", "Kernel panic", "BUG:", "general protection fault")):
                return line.strip()[:160]
        return None

    def _boot(self, boot_timeout):
        initrd = os.path.join(self.workdir, "initrd.cpio")
        self.make_initrd(initrd)
        for p in (self.cmd_path, self.qmp_path):
            if os.path.exists(p):
                os.unlink(p)
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lsock.bind(self.cmd_path)
        lsock.listen(1)
        argv = self.qemu_argv(initrd)
        with open(os.path.join(self.workdir, "qemu.cmdline"), "w") as f:
            f.write(" ".join(argv) + "\n")
        log(f"booting {self.kver or self.kernel}: {self.kernel_cmdline()}"
            + (f"  [{CMDLINE_EXTRA_ENV}/--cmdline-extra: debugging aid]" if self.cmdline_extra
               else ""))
        t0 = time.monotonic()
        self.qemu_err = open(os.path.join(self.workdir, "qemu.stderr"), "w+")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.qemu_err,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=_die_with_parent)
        lsock.settimeout(1)
        deadline = time.monotonic() + 20
        while True:
            try:
                self.cmd, _ = lsock.accept()
                break
            except socket.timeout:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.qemu_err.seek(0)
                    raise VMError("qemu did not start: " + self.qemu_err.read()[-2000:])
        lsock.close()
        self.qmp = QMP(self.qmp_path, alive=lambda: self.proc.poll() is None)
        line = self._read_line(boot_timeout)
        while not line.startswith("@@READY@@"):
            line = self._read_line(boot_timeout)
        self.boot_time = time.monotonic() - t0
        log(f"guest ready in {self.boot_time:.1f}s (guest uptime {line.split()[1]}s)")
        return self

    def stop(self):
        if self.proc is not None:
            asked = self.qmp is not None   # quit sent: give qemu time to exit cleanly
            if self.qmp is not None:
                try:
                    self.qmp.cmd("quit", timeout=5)
                except (VMError, OSError):
                    pass
                self.qmp.close()
                self.qmp = None
            try:
                self.proc.wait(timeout=10 if asked else 0.1)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if self.cmd is not None:
            self.cmd.close()
            self.cmd = None
        if self.qemu_err is not None:
            self.qemu_err.close()
            self.qemu_err = None
        shutil.rmtree(self.sockdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:
            self.dump_diagnostics()
        if self.keep and self.proc is not None:
            self.interactive()
        self.stop()
        if not self.keep and exc[0] is None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return False

    # -- guest shell -------------------------------------------------------------------------

    def _read_line(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.cmdbuf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise GuestShellTimeout(f"guest shell: no answer within {timeout}s")
            r, _, _ = select.select([self.cmd], [], [], min(left, 1.0))
            if not r:
                if self.proc.poll() is not None:
                    raise VMError(f"qemu exited with {self.proc.returncode}")
                continue
            chunk = self.cmd.recv(65536)
            if not chunk:
                raise VMError("guest shell: channel closed")
            self.cmdbuf += chunk
        line, self.cmdbuf = self.cmdbuf.split(b"\n", 1)
        return line.decode(errors="replace").rstrip("\r")

    def sh(self, script, timeout=60, check=False):
        """Run a shell script in the guest; returns (rc, output)."""
        if self.cmd is None:
            # Before the guest connected (a failure while preparing or booting it) or after stop().
            raise VMError("guest shell not connected")
        tok = f"{self.next_id}x{secrets.token_hex(4)}"
        self.next_id += 1
        b64 = base64.b64encode(script.encode()).decode()
        self.cmd.sendall(f"{tok} {b64}\n".encode())
        lines = []
        end = f"@@{tok}@@ "
        while True:
            line = self._read_line(timeout)
            if line.startswith(end):
                rc = int(line[len(end):])
                break
            lines.append(line)
        if lines and lines[-1] == "":
            lines.pop()   # the newline printed before the sentinel
        out = "\n".join(lines)
        if check and rc != 0:
            raise VMError(f"guest command failed ({rc}): {script}\n{out}")
        return rc, out

    def out(self, script, timeout=60):
        return self.sh(script, timeout, check=True)[1]

    def interactive(self):
        log(f"--keep: guest still running; work dir {self.workdir}")
        log("type guest shell commands (one line each), 'qmp {json}' for QMP, EOF or 'exit' to stop")
        while True:
            try:
                line = input("guest# ")
            except EOFError:
                break
            if line.strip() in ("exit", "quit"):
                break
            if line.startswith("qmp "):
                try:
                    req = json.loads(line[4:])
                    print(json.dumps(self.qmp.cmd(req["execute"], req.get("arguments")), indent=1))
                except (VMError, ValueError, KeyError) as e:
                    print(f"error: {e}")
                continue
            try:
                rc, out = self.sh(line, timeout=600)
                print(out)
                if rc:
                    print(f"[rc={rc}]")
            except VMError as e:
                print(f"error: {e}")
                break

    # -- memhpd ------------------------------------------------------------------------------

    def memhpd_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace").replace("\r", "")
        except OSError:
            return ""

    def audit(self):
        return parse_audit(self.memhpd_log())

    def wait_audit(self, pred, timeout=30, what="audit record"):
        deadline = time.monotonic() + timeout
        while True:
            recs = [r for r in self.audit() if pred(r)]
            if recs:
                return recs
            if time.monotonic() > deadline:
                raise VMError(f"no {what} in memhpd's log within {timeout}s")
            if self.proc.poll() is not None:
                raise VMError(f"qemu exited with {self.proc.returncode}")
            if self.memhpd_exited():
                time.sleep(0.5)   # let the log port drain
                if any(pred(r) for r in self.audit()):
                    continue
                raise VMError(f"memhpd exited ({self.memhpd_exit_status()}) while waiting "
                              f"for {what}")
            time.sleep(0.3)

    def wait_started(self, timeout=30):
        return self.wait_audit(lambda r: r.get("event") == "started", timeout, "started record")

    def memhpd_pid(self):
        """memhpd's pid if it runs (a zombie does not count), else None."""
        rc, out = self.sh("p=$(cat /run/memhpd.pid) && s=$(cut -d' ' -f3 /proc/$p/stat) && "
                          "[ \"$s\" != Z ] && echo $p")
        return int(out.split()[0]) if rc == 0 and out.strip() else None

    def memhpd_exited(self):
        """True once memhpd was started and is gone."""
        rc, _ = self.sh("test -f /run/memhpd.exit")
        return rc == 0

    def start_memhpd(self):
        self.out("memhpd-start")

    def memhpd_exit_status(self):
        """memhpd's exit status once it ended (128+N for signal N), else None."""
        rc, out = self.sh("cat /run/memhpd.exit")
        return int(out) if rc == 0 and out.strip() else None

    def stop_memhpd(self, timeout=15):
        """SIGTERM memhpd and return its exit status."""
        pid = self.memhpd_pid()
        if pid is None:
            raise VMError("memhpd is not running")
        self.out(f"kill -TERM {pid}")
        deadline = time.monotonic() + timeout
        while True:
            st = self.memhpd_exit_status()
            if st is not None:
                return st
            if time.monotonic() > deadline:
                raise VMError(f"memhpd still running {timeout}s after SIGTERM")
            time.sleep(0.2)

    # -- memory blocks -----------------------------------------------------------------------

    def blocks(self):
        """{index: {'state':, 'zones':, 'node':}} for every memory block in the guest."""
        out = self.out(r"""cd /sys/devices/system/memory
for b in memory[0-9]*; do
    n=
    for l in $b/node[0-9]*; do [ -e "$l" ] && n=${l##*/node}; done
    echo "${b#memory} $(cat $b/state 2>/dev/null || echo gone) ${n:--} $(cat $b/valid_zones 2>/dev/null)"
done""")
        res = {}
        for line in out.splitlines():
            f = line.split()
            if len(f) < 3:
                continue
            res[int(f[0])] = {"state": f[1], "node": None if f[2] == "-" else int(f[2]),
                              "zones": f[3:]}
        return res

    def block_size(self):
        return int(self.out("cat /sys/devices/system/memory/block_size_bytes"), 16)

    def wait_blocks(self, pred, timeout=60, what="memory blocks", interval=0.5):
        deadline = time.monotonic() + timeout
        while True:
            b = self.blocks()
            if pred(b):
                return b
            if time.monotonic() > deadline:
                raise VMError(f"timeout ({timeout}s) waiting for {what}; blocks now:\n"
                              + format_blocks(b))
            time.sleep(interval)

    # -- hotplug -----------------------------------------------------------------------------

    def add_dimm(self, ident, size, node=0):
        self.qmp.cmd("object-add", {"qom-type": "memory-backend-ram", "id": f"mem-{ident}",
                                    "size": size})
        args = {"driver": "pc-dimm", "id": ident, "memdev": f"mem-{ident}"}
        if node is not None:
            args["node"] = node
        self.qmp.cmd("device_add", args)
        addr = self.qmp.cmd("qom-get", {"path": f"/machine/peripheral/{ident}",
                                        "property": "addr"})
        return addr

    def del_device(self, ident, timeout=120):
        self.qmp.cmd("device_del", {"id": ident})
        self.qmp.wait_event("DEVICE_DELETED", timeout, lambda d: d.get("device") == ident)

    def qom_get(self, ident, prop):
        return self.qmp.cmd("qom-get", {"path": f"/machine/peripheral/{ident}", "property": prop})

    def qom_set(self, ident, prop, value):
        return self.qmp.cmd("qom-set", {"path": f"/machine/peripheral/{ident}", "property": prop,
                                        "value": value})

    # -- diagnostics -------------------------------------------------------------------------

    def console(self):
        try:
            with open(self.console_path, "rb") as f:
                return f.read().decode(errors="replace").replace("\r", "")
        except OSError:
            return ""

    def dump_diagnostics(self, lines=200):
        con = self.console().splitlines()
        print(f"===== guest console (last {lines} of {len(con)} lines) =====", file=sys.stderr)
        print("\n".join(con[-lines:]), file=sys.stderr)
        print("===== memhpd log =====", file=sys.stderr)
        print(self.memhpd_log(), file=sys.stderr)
        try:
            with open(os.path.join(self.workdir, "qemu.stderr")) as f:
                err = f.read().strip()
            if err:
                print("===== qemu stderr =====\n" + err, file=sys.stderr)
        except OSError:
            pass
        if self.proc is not None and self.proc.poll() is None and self.cmd is not None:
            try:
                print("===== guest memory blocks =====", file=sys.stderr)
                print(format_blocks(self.blocks()), file=sys.stderr)
                rc, out = self.sh("ps; cat /proc/meminfo | head -n 8", timeout=20)
                print(f"===== guest processes, meminfo =====\n{out}", file=sys.stderr)
            except (VMError, OSError) as e:
                print(f"(guest shell unavailable: {e})", file=sys.stderr)
        print(f"===== work dir {self.workdir} =====", file=sys.stderr, flush=True)


def format_blocks(blocks):
    return "\n".join(f"memory{i}: {b['state']} node={b['node']} zones={' '.join(b['zones'])}"
                     for i, b in sorted(blocks.items()))
