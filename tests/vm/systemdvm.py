"""Real-system guest for memhpd (DESIGN "Testing layers" 4): Debian 12 with systemd as PID 1.

A minbase Debian 12 rootfs built once with mmdebstrap and cached as one uncompressed newc cpio
(<cache>/rootfs-<hash>.cpio, keyed by the package list) is booted as the initramfs with
rdinit=/sbin/init: no disk image, no loop mount. memhpd comes either as the Debian package built
from the source tree (build_deb(): `dpkg-buildpackage -b`, cached by source hash under
<build>/deb-cache), staged as a file and installed in the running guest with `dpkg -i` (its
maintainer scripts enable and start the unit, systemd's dpkg trigger updates the catalog), or
installed into a staging directory with `meson install --destdir` from the build directory the test
is given and enabled with `systemctl --root=STAGING enable`. The staging tree is appended as a second
cpio together with the test's command channel: a service running vmlib's command loop on ttyS1.
memhpd logs to the journal, so the audit records come from `journalctl -u memhpd -o json`.

The rootfs is Debian 12 whatever the kernel: on 6.12 (bookworm-backports) the same rootfs boots the
6.12 kernel, and the kernel's modules from the VM cache are staged under
/usr/lib/modules/<kver>/kernel/extra with a unit that runs depmod before systemd-modules-load loads
them (/etc/modules-load.d/memhpd-test.conf), as on an installed system.
"""

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

from vmlib import CMDLOOP, DEFAULT_KERNEL, HERE, VM, Cpio, Scenario, VMError, log, write_initrd

SUITE = "bookworm"
PACKAGES = ("systemd", "systemd-sysv", "udev", "dbus", "kmod", "libinih1")
# Not needed to boot or to test, and a third of the size: skipped when packing the cpio.
SKIP_PREFIXES = ("usr/share/doc/", "usr/share/man/", "usr/share/locale/", "usr/share/info/",
                 "var/cache/apt/", "var/lib/apt/lists/")
PACK_VERSION = "1"   # bump when the packing below changes

# The unit that runs vmlib's command loop on the second serial port. Started early (no default
# dependencies) so a boot that stalls can still be inspected; Type=exec, not oneshot: a oneshot
# unit that never exits would hold up the boot transaction, and is-system-running with it.
CMDLOOP_UNIT = """[Unit]
Description=memhpd test: command channel on ttyS1
DefaultDependencies=no
After=systemd-journald.socket local-fs.target
Conflicts=shutdown.target
Before=shutdown.target

[Service]
Type=exec
ExecStart=/usr/local/libexec/memhpd-test-cmdloop
# Not /tmp: systemd-tmpfiles-setup.service empties it while the loop may already be running.
RuntimeDirectory=memhpd-test
Environment=SYSTEMD_COLORS=0 SYSTEMD_PAGER=cat PAGER=cat TERM=dumb LC_ALL=C.UTF-8
StandardInput=null
StandardOutput=journal
KillMode=process

[Install]
WantedBy=sysinit.target
"""

# depmod for the staged modules of the booted kernel (the rootfs holds no kernel package), before
# systemd-modules-load and udev want them.
DEPMOD_UNIT = """[Unit]
Description=memhpd test: depmod for the staged kernel modules
DefaultDependencies=no
ConditionDirectoryNotEmpty=/usr/lib/modules/%v/kernel/extra
Before=systemd-modules-load.service systemd-udevd.service sysinit.target

[Service]
Type=oneshot
ExecStart=/usr/sbin/depmod -a %v

[Install]
WantedBy=sysinit.target
"""

# MESSAGE_IDs from daemon/audit.c (and memhpd(8)): part of memhpd's interface.
MESSAGE_IDS = {
    "started": "a9e6bb61970e4d1e808859d2149b6c3e",
    "stopped": "6438fd474c5f43ce8bef459fd7900df2",
    "onlined": "15617fb694d041709337b1a943a61fc9",
    "online-failed": "f7874c4be819426380900ee9bdcae76d",
    "left-offline": "7a0fd4a547904126b3d489a2806e05cb",
    "policy-loaded": "1bc7341a24e34f75881bb3c23b3d89b6",
    "policy-rejected": "b4b39e4287a74253a169758b2ede2ec3",
    "conflict": "8bcc7a8dce444945be40d52cc6ae6aa8",
    "kernel-auto-online": "9abfd29f4c324d239acf325e0bd67755",
    "reserved": "a2392f31565844329c1de4a73e1216c7",
    "reserve-step": "d3f0ccbef6e14578babbd12c2bc29598",
    "pressure-source": "5973025dd1354cdba8538408a0b7b324",
}
JOURNAL_FIELDS = ("MESSAGE", "MESSAGE_ID", "PRIORITY", "MEMHPD_EVENT", "MEMHPD_BLOCK",
                  "MEMHPD_NODE", "MEMHPD_DEVICE", "MEMHPD_ZONE", "MEMHPD_ACTION", "MEMHPD_RESULT",
                  "MEMHPD_POLICY", "MEMHPD_AGENT", "MEMHPD_FILE", "ERRNO", "_PID", "_SYSTEMD_UNIT")


def ensure_mmdebstrap():
    if shutil.which("mmdebstrap"):
        return
    if os.geteuid() != 0:
        raise VMError("mmdebstrap is missing and installing it needs root")
    log("installing mmdebstrap")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "mmdebstrap"]
    if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, stdout=subprocess.DEVNULL)
        if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
            raise VMError("apt-get install mmdebstrap failed")


def tar_to_cpio(tar_path, cpio_path):
    """Repack mmdebstrap's tarball as one newc cpio, keeping owners, modes and mtimes."""
    c = Cpio()
    with tarfile.open(tar_path) as t:
        for m in t:
            name = m.name.lstrip("./").rstrip("/")
            if not name or any((name + "/").startswith(p) and name + "/" != p
                               for p in SKIP_PREFIXES):
                continue
            perm = m.mode & 0o7777
            own = dict(uid=m.uid, gid=m.gid, mtime=m.mtime)
            if m.isdir():
                c.dirs.add("/" + name)
                c._entry(name, 0o040000 | perm, nlink=2, **own)
            elif m.isreg() or m.islnk():   # a hard link becomes a copy
                c._entry(name, 0o100000 | perm, t.extractfile(m).read(), **own)
            elif m.issym():
                c._entry(name, 0o120777, m.linkname.encode(), **own)
            elif m.ischr() or m.isblk():
                kind = 0o020000 if m.ischr() else 0o060000
                c._entry(name, kind | perm, rdev=(m.devmajor, m.devminor), **own)
            elif m.isfifo():
                c._entry(name, 0o010000 | perm, **own)
    with open(cpio_path, "wb") as f:
        f.write(c.finish())


def packages_default():
    """PACKAGES plus $MEMHPD_VM_ROOTFS_EXTRA (space or comma separated), e.g. procps for poking
    at a --keep guest; another package list is another cached rootfs."""
    extra = os.environ.get("MEMHPD_VM_ROOTFS_EXTRA", "").replace(",", " ").split()
    return tuple(PACKAGES) + tuple(p for p in extra if p not in PACKAGES)


def rootfs_path(cache, packages=None, suite=SUITE):
    """Where the rootfs archive for this package list is cached."""
    packages = packages or packages_default()
    key = "\n".join([suite, "minbase", " ".join(sorted(packages)), " ".join(SKIP_PREFIXES),
                     PACK_VERSION])
    return os.path.join(cache, f"rootfs-{hashlib.sha256(key.encode()).hexdigest()[:16]}.cpio")


def rootfs_cached(cache, packages=None):
    return os.path.exists(rootfs_path(cache, packages))


def rootfs_cpio(cache, packages=None, suite=SUITE):
    """The cached rootfs archive, built with mmdebstrap on first use (about 35 s)."""
    packages = packages or packages_default()
    path = rootfs_path(cache, packages, suite)
    if os.path.exists(path):
        return path
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, ".rootfs.lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        if os.path.exists(path):
            return path
        ensure_mmdebstrap()
        t0 = time.monotonic()
        log(f"building the Debian {suite} rootfs with mmdebstrap (once per package list)")
        tmpdir = tempfile.mkdtemp(prefix="rootfs-", dir=cache)
        try:
            tar = os.path.join(tmpdir, "rootfs.tar")
            r = subprocess.run(["mmdebstrap", "--quiet", "--variant=minbase",
                                "--include=" + ",".join(packages), suite, tar],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if r.returncode != 0:
                raise VMError(f"mmdebstrap failed ({r.returncode}):\n{r.stdout[-3000:]}")
            tmp = os.path.join(tmpdir, "rootfs.cpio")
            tar_to_cpio(tar, tmp)
            os.rename(tmp, path)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
        log(f"rootfs {os.path.getsize(path) >> 20} MiB in {time.monotonic() - t0:.0f}s: {path}")
    return path


def find_build_dir(memhpd):
    """The meson build directory that holds the memhpd binary."""
    d = os.path.dirname(os.path.abspath(memhpd))
    while d != "/":
        if os.path.isdir(os.path.join(d, "meson-private")):
            return d
        d = os.path.dirname(d)
    raise VMError(f"{memhpd} is not inside a meson build directory (pass --build-dir)")


DEB_GUEST_PATH = "/var/cache/memhpd-test/memhpd.deb"


def source_files(source_root):
    """The source tree's files, relative: git's tracked and untracked-not-ignored files, else a walk
    that leaves out build directories and what a package build leaves behind."""
    r = subprocess.run(["git", "-C", source_root, "ls-files", "-z", "--cached", "--others",
                        "--exclude-standard"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    if r.returncode == 0:
        return sorted(f for f in r.stdout.decode().split("\0")
                      if f and os.path.isfile(os.path.join(source_root, f)))
    out = []
    for d, dirs, files in os.walk(source_root):
        rel = os.path.relpath(d, source_root)
        dirs[:] = [x for x in dirs if not (rel == "." and (x.startswith(("build", "obj-", ".git"))))
                   and not (rel == "debian" and x in ("memhpd", ".debhelper"))
                   and x != "__pycache__"]
        out += [os.path.normpath(os.path.join(rel, f)) for f in files]
    return sorted(out)


def build_deb(source_root, build_dir):
    """memhpd_*.deb built from source_root with `dpkg-buildpackage -us -uc -b` (DEB_BUILD_OPTIONS=
    nocheck), in a copy of the tree: built once per source hash, cached under
    <build_dir>/deb-cache/<hash>/ (older hashes are removed)."""
    files = source_files(source_root)
    h = hashlib.sha256()
    for f in files:
        h.update(f.encode() + b"\0")
        with open(os.path.join(source_root, f), "rb") as fh:
            h.update(hashlib.sha256(fh.read()).digest())
        h.update(b"%o" % (os.stat(os.path.join(source_root, f)).st_mode & 0o111))
    key = h.hexdigest()[:16]
    cache = os.path.join(build_dir, "deb-cache")
    out = os.path.join(cache, key)
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, ".lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        debs = [f for f in os.listdir(out) if f.startswith("memhpd_") and f.endswith(".deb")] \
            if os.path.isdir(out) else []
        if debs:
            return os.path.join(out, debs[0])
        for f in ("dpkg-buildpackage", "dh"):
            if not shutil.which(f):
                raise VMError(f"{f} is missing: install dpkg-dev and debhelper (.ci/setup)")
        t0 = time.monotonic()
        tmp = tempfile.mkdtemp(prefix="deb-", dir=cache)
        try:
            src = os.path.join(tmp, "memhpd")
            for f in files:
                dst = os.path.join(src, f)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copy2(os.path.join(source_root, f), dst)
            env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck")
            r = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if r.returncode != 0:
                raise VMError(f"dpkg-buildpackage failed ({r.returncode}):\n{r.stdout[-3000:]}")
            debs = [f for f in os.listdir(tmp) if f.startswith("memhpd_") and f.endswith(".deb")]
            if len(debs) != 1:
                raise VMError(f"dpkg-buildpackage made {debs}, expected one memhpd_*.deb")
            os.makedirs(out, exist_ok=True)
            os.rename(os.path.join(tmp, debs[0]), os.path.join(out, debs[0]))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        for old in os.listdir(cache):
            if old != key and not old.startswith("."):
                shutil.rmtree(os.path.join(cache, old), ignore_errors=True)
        log(f"built {debs[0]} in {time.monotonic() - t0:.0f}s (cached under {out})")
        return os.path.join(out, debs[0])


def stage_install(build_dir, staging, kdir=None, kver=None, deb=None):
    """`meson install` into staging and enable memhpd, or (deb given) only stage the package at
    DEB_GUEST_PATH for SystemdVM.install_deb(); add the command channel (and the booted kernel's
    modules from kdir, see the module docstring).

    `meson install` builds first (no --no-rebuild): a test installs whatever the build installs
    (man pages, units, ...), which `meson test` alone does not build, only the tests' own
    dependencies. meson runs this test alone (is_parallel: false), so no other ninja runs in the
    build directory meanwhile."""
    if deb:
        dst = os.path.join(staging, DEB_GUEST_PATH.lstrip("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy(deb, dst)
    else:
        r = subprocess.run(["meson", "install", "-C", build_dir, "--quiet",
                            "--destdir", staging],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise VMError(f"meson install failed ({r.returncode}):\n{r.stdout[-3000:]}")
    for top in os.listdir(staging):
        if top in ("bin", "sbin", "lib", "lib64", "lib32", "libx32"):
            # Debian 12 has merged /usr: a directory entry here would replace the symlink.
            raise VMError(f"meson install wrote to /{top}: configure with prefix=/usr")
    unit = os.path.join(staging, "etc/systemd/system/memhpd-test-cmdloop.service")
    os.makedirs(os.path.dirname(unit), exist_ok=True)
    with open(unit, "w") as f:
        f.write(CMDLOOP_UNIT)
    loop = os.path.join(staging, "usr/local/libexec/memhpd-test-cmdloop")
    os.makedirs(os.path.dirname(loop), exist_ok=True)
    with open(loop, "w") as f:
        f.write(CMDLOOP.replace("/tmp/", "/run/memhpd-test/"))
    os.chmod(loop, 0o755)
    units = ([] if deb else ["memhpd.service"]) + ["memhpd-test-cmdloop.service"]
    if kdir and kver:
        moddir = os.path.join(kdir, "modules")
        with open(os.path.join(moddir, "order")) as f:
            order = f.read().split()
        dst = os.path.join(staging, "usr/lib/modules", kver, "kernel/extra")
        os.makedirs(dst, exist_ok=True)
        for m in order:
            shutil.copy(os.path.join(moddir, m + ".ko"), dst)
        conf = os.path.join(staging, "etc/modules-load.d/memhpd-test.conf")
        os.makedirs(os.path.dirname(conf), exist_ok=True)
        with open(conf, "w") as f:
            f.write("".join(m + "\n" for m in order))
        with open(os.path.join(staging, "etc/systemd/system/memhpd-test-depmod.service"),
                  "w") as f:
            f.write(DEPMOD_UNIT)
        units.append("memhpd-test-depmod.service")
    # `systemctl enable` as an administrator would, against the staged tree (the unit's [Install]
    # section decides where the symlink goes).
    for name in units:
        r = subprocess.run(["systemctl", "--root", staging, "enable", name],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise VMError(f"systemctl --root enable {name} failed:\n{r.stdout}")


class SystemdVM(VM):
    """A Debian 12 guest booting systemd, with memhpd installed by `meson install` and enabled."""

    def __init__(self, memhpd, source_root, cache, build_dir=None, workdir=None, keep=False,
                 mem="1G", cpus=2, accel=None, extra_qemu=None, packages=None,
                 kernel=DEFAULT_KERNEL, cmdline_extra=None, deb=None):
        super().__init__(Scenario(extra_qemu=extra_qemu, presets=False), memhpd, source_root,
                         cache, workdir=workdir, keep=keep, mem=mem, cpus=cpus, accel=accel,
                         kernel=kernel, cmdline_extra=cmdline_extra)
        self.build_dir = build_dir or find_build_dir(memhpd)
        self.packages = packages or packages_default()
        self.sysconfdir = "/etc/memhpd"
        self.vendordir = "/usr/lib/memhpd/policies.d"
        self.staging = None
        self.deb = deb   # memhpd_*.deb to install with install_deb() instead of `meson install`

    def kernel_cmdline(self):
        # No memhp_default_state=: the kernel's own default, as in vmlib.VM.
        return self.with_extra("console=ttyS0,115200 panic=-1 loglevel=4 rdinit=/sbin/init "
                               "tsc=reliable systemd.show_status=auto")

    def make_initrd(self, initrd):
        rootfs = rootfs_cpio(self.cache, self.packages)
        self.staging = os.path.join(self.workdir, "staging")
        shutil.rmtree(self.staging, ignore_errors=True)
        os.makedirs(self.staging)
        stage_install(self.build_dir, self.staging, self.kdir, self.kver, deb=self.deb)
        c = Cpio()
        c.add_tree(self.staging)
        write_initrd(initrd, [rootfs], c.finish())

    def start(self, boot_timeout=120):
        return super().start(boot_timeout)

    # -- systemd -----------------------------------------------------------------------------

    def install_deb(self, timeout=120):
        """`dpkg -i` the staged package in the running guest; returns dpkg's output."""
        rc, out = self.sh(f"dpkg -i {DEB_GUEST_PATH} 2>&1", timeout=timeout)
        if rc != 0:
            raise VMError(f"dpkg -i {DEB_GUEST_PATH} failed ({rc}):\n{out}")
        return out

    def wait_system_running(self, timeout=90):
        """Wait for the boot to finish; returns running, degraded, ..."""
        rc, out = self.sh(f"timeout {timeout} systemctl is-system-running --wait",
                          timeout=timeout + 10)
        state = out.strip().splitlines()[-1] if out.strip() else ""
        if state not in ("running", "degraded"):
            raise VMError(f"system did not finish booting: is-system-running={state!r} (rc={rc})")
        return state

    def journal(self, unit="memhpd", extra=""):
        """The unit's journal records (dicts of JOURNAL_FIELDS), oldest first."""
        out = self.out(f"journalctl -u {unit} -o json --no-pager "
                       f"--output-fields={','.join(JOURNAL_FIELDS)} {extra}", timeout=60)
        recs = []
        for line in out.splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    recs.append(json.loads(line))
                except ValueError as e:
                    raise VMError(f"bad journal JSON line ({e}): {line[:200]}")
        return recs

    def audit(self):
        """memhpd's audit records from the journal, shaped like vmlib.parse_audit's."""
        out = []
        for j in self.journal():
            if "MEMHPD_EVENT" not in j:
                continue
            rec = {k[len("MEMHPD_"):].lower(): v for k, v in j.items()
                   if k.startswith("MEMHPD_") and isinstance(v, str)}
            if "ERRNO" in j:
                rec["errno"] = j["ERRNO"]
            rec["_json"] = j
            rec["_line"] = (f"{j.get('MESSAGE', '')} [" + " ".join(
                f"{k}={v}" for k, v in j.items() if k.startswith("MEMHPD_")) + "]")
            out.append(rec)
        return out

    def memhpd_log(self):
        try:
            return self.out("journalctl -u memhpd -o short-monotonic --no-pager", timeout=30)
        except (VMError, OSError) as e:
            return f"(journal unavailable: {e})"

    def unit_props(self, unit, *props):
        out = self.out(f"systemctl show {unit} " + " ".join(f"-p {p}" for p in props))
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def memhpd_pid(self):
        pid = int(self.unit_props("memhpd", "MainPID").get("MainPID", "0") or 0)
        return pid or None

    def memhpd_exited(self):
        st = self.unit_props("memhpd", "ActiveState")["ActiveState"]
        return st in ("inactive", "failed")

    def memhpd_exit_status(self):
        if not self.memhpd_exited():
            return None
        return int(self.unit_props("memhpd", "ExecMainStatus")["ExecMainStatus"] or 0)

    def start_memhpd(self):
        self.out("systemctl start memhpd")

    def stop_memhpd(self, timeout=15):
        self.out("systemctl stop memhpd", timeout=timeout + 10)
        p = self.unit_props("memhpd", "ActiveState", "Result", "ExecMainCode", "ExecMainStatus")
        if p["Result"] != "success":
            raise VMError(f"memhpd stopped with Result={p['Result']} ({p})")
        return int(p["ExecMainStatus"] or 0)

    def dump_diagnostics(self, lines=200):
        super().dump_diagnostics(lines)
        if self.proc is not None and self.proc.poll() is None and self.cmd is not None:
            try:
                _, out = self.sh("systemctl is-system-running; systemctl --failed --no-pager; "
                                 "systemctl status memhpd --no-pager -l; "
                                 "journalctl -b --no-pager -n 150 -o short-monotonic",
                                 timeout=60)
                print(f"===== systemd state and journal =====\n{out}", flush=True, file=sys.stderr)
            except (VMError, OSError) as e:
                print(f"(guest shell unavailable: {e})", file=sys.stderr)


__all__ = ["SystemdVM", "rootfs_cpio", "stage_install", "build_deb", "MESSAGE_IDS", "HERE"]
