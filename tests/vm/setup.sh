#!/bin/bash
# Prepare what the real-kernel VM tests need for one Debian kernel, cached under a directory:
#   $CACHE/kernel-$K/vmlinux       uncompressed PVH ELF kernel (boots ~2.5 s faster than bzImage
#                                  under TCG)
#   $CACHE/kernel-$K/modules/*.ko  uncompressed modules, in load order in .../modules/order
#   $CACHE/kernel-$K/kver          the kernel version string
# K is the kernel line:
#   6.1   Debian 12's own kernel: what `linux-image-amd64` points to in this system's apt sources
#   6.12  the kernel of bookworm-backports (the kernel line of Debian 13): downloaded with a
#         private sources list naming this system's Debian mirror, and private apt state and
#         cache directories under $CACHE/apt-bookworm-backports; the system's apt stays untouched
# The packages are downloaded (apt-get download), never installed.
# Idempotent: a second run with everything present does nothing but print the kernel directory.
# Usage: tests/vm/setup.sh [--kernel 6.1|6.12] [CACHE_DIR]   (default 6.1, build/vm-cache)
set -eu

KERNEL=6.1
if [ "${1:-}" = "--kernel" ]; then
    KERNEL=$2
    shift 2
fi
case "$KERNEL" in
    6.1|6.12) ;;
    *) echo "setup.sh: unknown kernel '$KERNEL' (6.1 or 6.12)" >&2; exit 2 ;;
esac
CACHE=${1:-build/vm-cache}
WANT_MODULES="virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_mem hwpoison_inject"
# The emulated NVDIMM and dax/kmem (DESIGN "Kernel facts"), kept apart in modules-nvdimm/: only the
# scenarios that ask for an NVDIMM load them. A cache made before they were wanted gets them added.
NVDIMM_MODULES="libnvdimm nd_btt nd_pmem nfit dax_pmem device_dax kmem"

mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
KDIR="$CACHE/kernel-$KERNEL"

# A cache from before kernels had their own directories held the 6.1 kernel at its top: keep it.
if [ "$KERNEL" = 6.1 ] && [ ! -e "$KDIR" ] && [ -s "$CACHE/vmlinux" ] && [ -s "$CACHE/kver" ] &&
   [ -s "$CACHE/modules/order" ] && grep -q '^6\.1\.' "$CACHE/kver"; then
    mkdir -p "$KDIR"
    mv "$CACHE/vmlinux" "$CACHE/modules" "$CACHE/kver" "$KDIR/"
    rm -f "$CACHE"/base-*.cpio "$CACHE/kvm-probe"
fi

need_base=1
if [ -s "$KDIR/vmlinux" ] && [ -s "$KDIR/modules/order" ] && [ -s "$KDIR/kver" ]; then
    need_base=0
    if [ -s "$KDIR/modules-nvdimm/order" ]; then
        echo "$KDIR"
        exit 0
    fi
fi
mkdir -p "$KDIR"

need_pkgs=""
for p in qemu-system-x86:qemu-system-x86_64 busybox-static:/bin/busybox cpio:cpio xz-utils:xz zstd:zstd; do
    pkg=${p%%:*}; cmd=${p#*:}
    if ! command -v "$cmd" >/dev/null 2>&1 || ! dpkg -s "$pkg" >/dev/null 2>&1; then
        need_pkgs="$need_pkgs $pkg"
    fi
done
if [ -n "$need_pkgs" ]; then
    echo "setup.sh: installing$need_pkgs" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup.sh: need root to apt-get install$need_pkgs" >&2
        exit 1
    fi
    apt-get install -y $need_pkgs >&2 || { apt-get update >&2 && apt-get install -y $need_pkgs >&2; }
fi

# The Debian mirror this system uses (the URI of its own release's suite), and its keyring:
# one-line sources.list(5) entries and deb822 .sources files alike. Prints "URI KEYRING".
system_mirror() {
    python3 - <<'PY'
import glob, os, re
codename = "bookworm"
try:
    for line in open("/etc/os-release"):
        if line.startswith("VERSION_CODENAME=") and line.strip().split("=", 1)[1]:
            codename = line.strip().split("=", 1)[1].strip('"')
except OSError:
    pass
entries = []   # (uri, suites, signed_by)
for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        line = line.split("#", 1)[0].strip()
        m = re.match(r"deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)", line)
        if m:
            opts = dict(o.split("=", 1) for o in (m.group(1) or "").split() if "=" in o)
            entries.append((m.group(2), [m.group(3)], opts.get("signed-by", "")))
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    try:
        text = open(path).read()
    except OSError:
        continue
    for stanza in re.split(r"\n\s*\n", text):
        fields, key = {}, None
        for line in stanza.splitlines():
            if line.startswith("#"):
                continue
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line.strip()
                continue
            if ":" in line:
                key, val = line.split(":", 1)
                key = key.strip().lower()
                fields[key] = val.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes") == "no":
            continue
        signed = fields.get("signed-by", "")
        if "\n" in signed or "BEGIN PGP" in signed:
            signed = ""   # an inline key: use the default keyring below
        for uri in fields.get("uris", "").split():
            entries.append((uri, fields.get("suites", "").split(), signed))
pick = [e for e in entries if codename in e[1]] or \
       [e for e in entries if any(s.startswith(codename) and "security" not in s for s in e[1])]
uri, signed = (pick[0][0], pick[0][2]) if pick else ("http://deb.debian.org/debian", "")
if not signed and os.path.exists("/usr/share/keyrings/debian-archive-keyring.gpg"):
    signed = "/usr/share/keyrings/debian-archive-keyring.gpg"
print(uri, signed or "-")
PY
}

# apt-get/apt-cache for the kernel's suite: the system's own apt for 6.1; for 6.12 a private
# sources list (bookworm-backports on the system's mirror) with private state and cache.
APT_OPTS=()
if [ "$KERNEL" = 6.12 ]; then
    suite=bookworm-backports
    adir="$CACHE/apt-$suite"
    read -r mirror keyring < <(system_mirror)
    mkdir -p "$adir/etc" "$adir/state/lists/partial" "$adir/cache/archives/partial"
    signed=""
    [ "$keyring" = - ] || signed="[signed-by=$keyring] "
    echo "deb ${signed}$mirror $suite main" > "$adir/etc/sources.list"
    # As root, apt drops to _apt for downloads: let it write its partial directories.
    [ "$(id -u)" -ne 0 ] || chown -R _apt "$adir/state/lists" "$adir/cache/archives" 2>/dev/null || true
    APT_OPTS=(-o "Dir::Etc::sourcelist=$adir/etc/sources.list" -o "Dir::Etc::sourceparts=-"
              -o "Dir::State=$adir/state" -o "Dir::Cache=$adir/cache"
              -o "Dir::State::status=/var/lib/dpkg/status" -o "APT::Get::List-Cleanup=0")
    echo "setup.sh: $suite from $mirror (private apt state in $adir)" >&2
fi
apt_update() {
    if [ "$(id -u)" -ne 0 ] && [ ${#APT_OPTS[@]} -eq 0 ]; then
        return 1   # the system's lists need root
    fi
    apt-get "${APT_OPTS[@]}" update >&2
}

# Resolve linux-image-amd64 -> linux-image-<version>-amd64 of the wanted kernel line.
resolve_kpkg() {
    apt-cache "${APT_OPTS[@]}" depends linux-image-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n1
}
work="$KDIR/work"
rm -rf "$work"
mkdir -p "$work/deb" "$work/dl"
# As root, apt drops to _apt for downloads: give it a directory it may write to.
[ "$(id -u)" -ne 0 ] || chown _apt "$work/dl" 2>/dev/null || true
download() {
    kpkg=$(resolve_kpkg)
    [ -n "$kpkg" ] || return 1
    echo "setup.sh: downloading $kpkg" >&2
    (cd "$work/dl" && apt-get "${APT_OPTS[@]}" download "$kpkg" >&2)
}
# Stale or missing package lists: update them once and try again.
download || { apt_update || true; download; } ||
    { echo "setup.sh: cannot download the $KERNEL kernel (linux-image-amd64 -> '$kpkg')" >&2; exit 1; }
kver=${kpkg#linux-image-}
case "$kver" in
    "$KERNEL".*) ;;
    *) echo "setup.sh: linux-image-amd64 points to $kpkg, not a $KERNEL kernel" >&2; exit 1 ;;
esac
deb=$(ls "$work/dl/$kpkg"_*.deb | head -n1)
dpkg-deb -x "$deb" "$work/deb"

# vmlinux: decompress the bzImage's payload (like scripts/extract-vmlinux): XZ on 6.1, zstd on
# 6.12. Trailing bytes after the compressed stream make the decompressor complain: the ELF check
# below is what counts.
vmlinuz="$work/deb/boot/vmlinuz-$kver"
extract() {   # $1 magic (grep -P), $2 decompressor command
    local off
    for off in $(LC_ALL=C grep -obUaP "$1" "$vmlinuz" | cut -d: -f1); do
        tail -c +"$((off + 1))" "$vmlinuz" | $2 > "$work/vmlinux" 2>/dev/null || true
        if [ "$(head -c4 "$work/vmlinux" | od -An -c | tr -d ' ')" = '177ELF' ]; then
            return 0
        fi
    done
    return 1
}
if [ "$need_base" = 1 ] && ! extract '\xfd7zXZ\x00' "xz -dc --single-stream" &&
   ! extract '\x28\xb5\x2f\xfd' "zstd -dcq"; then
    echo "setup.sh: no XZ or zstd payload in $vmlinuz decompresses to an ELF file" >&2
    exit 1
fi

# Modules: each wanted module plus its dependencies, deps first. The .deb ships no modules.dep
# (depmod runs at install time), so read the "depends=" tag from each module's .modinfo section.
# 6.1 ships .ko, 6.12 .ko.xz: stored uncompressed either way (busybox insmod loads plain .ko).
mdir="$work/deb/lib/modules/$kver"
mkdir -p "$work/modules" "$work/modules-nvdimm"
: > "$work/modules/order"
: > "$work/modules-nvdimm/order"
: > "$work/seen"
out=modules   # where add_module puts a module: modules/ or modules-nvdimm/
find_module() {
    find "$mdir/kernel" -name "$1.ko*" -o -name "$(echo "$1" | tr _ -).ko*" | head -n1
}
add_module() {
    local name src deps d
    name=$1
    grep -qx "$name" "$work/seen" && return 0
    echo "$name" >> "$work/seen"
    src=$(find_module "$name")
    if [ -z "$src" ]; then
        if grep -Eq "/($name|$(echo "$name" | tr _ -))\.ko" "$mdir/modules.builtin" 2>/dev/null; then
            return 0   # built into the kernel
        fi
        echo "setup.sh: module $name not found" >&2
        exit 1
    fi
    case "$src" in
        *.ko.xz)  xz -dc "$src" > "$work/$out/$name.tmp" ;;
        *.ko.zst) zstd -qdc "$src" > "$work/$out/$name.tmp" ;;
        *.ko.gz)  gzip -dc "$src" > "$work/$out/$name.tmp" ;;
        *)        cp "$src" "$work/$out/$name.tmp" ;;
    esac
    deps=$(LC_ALL=C grep -aoE 'depends=[A-Za-z0-9_,-]*' "$work/$out/$name.tmp" | head -n1 |
           sed 's/^depends=//' | tr ',-' ' _')
    for d in $deps; do
        add_module "$d"
    done
    mv "$work/$out/$name.tmp" "$work/$out/$name.ko"
    echo "$name" >> "$work/$out/order"
}
for m in $WANT_MODULES; do
    add_module "$m"
done
out=modules-nvdimm   # what the base set already holds is not repeated
for m in $NVDIMM_MODULES; do
    add_module "$m"
done
rm -f "$work/seen"

if [ "$need_base" = 1 ]; then
    rm -rf "$KDIR/modules"
    mv "$work/modules" "$KDIR/modules"
    mv "$work/vmlinux" "$KDIR/vmlinux"
    echo "$kver" > "$KDIR/kver"
elif [ "$kver" != "$(cat "$KDIR/kver")" ]; then
    echo "setup.sh: the $KERNEL kernel is now $kver, the cache holds $(cat "$KDIR/kver"): delete $KDIR" >&2
    exit 1
fi
rm -rf "$KDIR/modules-nvdimm"
mv "$work/modules-nvdimm" "$KDIR/modules-nvdimm"
rm -rf "$work"   # the .deb is not needed once unpacked
echo "$KDIR"
