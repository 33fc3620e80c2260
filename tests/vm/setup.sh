#!/bin/bash
# Prepare what the real-kernel VM tests need, cached under a directory:
#   $CACHE/vmlinux         uncompressed PVH ELF kernel (boots ~2.5 s faster than bzImage under TCG)
#   $CACHE/modules/*.ko    uncompressed modules, in load order in $CACHE/modules/order
#   $CACHE/kver            the kernel version string
# Idempotent: a second run with everything present does nothing but print the cache path.
# Usage: tests/vm/setup.sh [CACHE_DIR]   (default build/vm-cache)
set -eu

CACHE=${1:-build/vm-cache}
WANT_MODULES="virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_mem hwpoison_inject"

mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)

if [ -s "$CACHE/vmlinux" ] && [ -s "$CACHE/modules/order" ] && [ -s "$CACHE/kver" ]; then
    echo "$CACHE"
    exit 0
fi

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

# Resolve linux-image-amd64 -> linux-image-6.1.0-N-amd64.
resolve_kpkg() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n1
}
kpkg=$(resolve_kpkg)
if [ -z "$kpkg" ]; then
    apt-get update >&2
    kpkg=$(resolve_kpkg)
fi
[ -n "$kpkg" ] || { echo "setup.sh: cannot resolve linux-image-amd64" >&2; exit 1; }
kver=${kpkg#linux-image-}

work="$CACHE/work"
rm -rf "$work"
mkdir -p "$work/deb"
deb=$(ls "$CACHE"/"$kpkg"_*.deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
    echo "setup.sh: downloading $kpkg" >&2
    # As root, apt drops to _apt for downloads: give it a directory it may write to.
    mkdir -p "$work/dl"
    [ "$(id -u)" -ne 0 ] || chown _apt "$work/dl" 2>/dev/null || true
    (cd "$work/dl" && apt-get download "$kpkg" >&2) ||
        { apt-get update >&2 && (cd "$work/dl" && apt-get download "$kpkg" >&2); }
    deb=$(ls "$work/dl/$kpkg"_*.deb | head -n1)
fi
dpkg-deb -x "$deb" "$work/deb"

# vmlinux: decompress the XZ payload of the bzImage (like scripts/extract-vmlinux).
vmlinuz="$work/deb/boot/vmlinuz-$kver"
off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -n1 | cut -d: -f1)
[ -n "$off" ] || { echo "setup.sh: no XZ payload in $vmlinuz" >&2; exit 1; }
tail -c +"$((off + 1))" "$vmlinuz" | xz -dc --single-stream > "$work/vmlinux" 2>/dev/null || true
if [ "$(head -c4 "$work/vmlinux" | od -An -c | tr -d ' ')" != '177ELF' ]; then
    echo "setup.sh: extracted vmlinux is not an ELF file" >&2
    exit 1
fi

# Modules: each wanted module plus its dependencies, deps first. The .deb ships no modules.dep
# (depmod runs at install time), so read the "depends=" tag from each module's .modinfo section.
mdir="$work/deb/lib/modules/$kver"
mkdir -p "$work/modules"
: > "$work/modules/order"
: > "$work/modules/seen"
find_module() {
    find "$mdir/kernel" -name "$1.ko*" -o -name "$(echo "$1" | tr _ -).ko*" | head -n1
}
add_module() {
    local name src deps d
    name=$1
    grep -qx "$name" "$work/modules/seen" && return 0
    echo "$name" >> "$work/modules/seen"
    src=$(find_module "$name")
    if [ -z "$src" ]; then
        if grep -Eq "/($name|$(echo "$name" | tr _ -))\.ko" "$mdir/modules.builtin" 2>/dev/null; then
            return 0   # built into the kernel
        fi
        echo "setup.sh: module $name not found" >&2
        exit 1
    fi
    case "$src" in
        *.ko.xz)  xz -dc "$src" > "$work/modules/$name.tmp" ;;
        *.ko.zst) zstd -qdc "$src" > "$work/modules/$name.tmp" ;;
        *.ko.gz)  gzip -dc "$src" > "$work/modules/$name.tmp" ;;
        *)        cp "$src" "$work/modules/$name.tmp" ;;
    esac
    deps=$(LC_ALL=C grep -aoE 'depends=[A-Za-z0-9_,-]*' "$work/modules/$name.tmp" | head -n1 |
           sed 's/^depends=//' | tr ',-' ' _')
    for d in $deps; do
        add_module "$d"
    done
    mv "$work/modules/$name.tmp" "$work/modules/$name.ko"
    echo "$name" >> "$work/modules/order"
}
for m in $WANT_MODULES; do
    add_module "$m"
done
rm -f "$work/modules/seen"

rm -rf "$CACHE/modules"
mv "$work/modules" "$CACHE/modules"
mv "$work/vmlinux" "$CACHE/vmlinux"
echo "$kver" > "$CACHE/kver"
rm -rf "$work" "$deb"   # the .deb is not needed once unpacked
echo "$CACHE"
