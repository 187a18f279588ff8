#!/usr/bin/env bash
# Builds the framegate container image from Debian packages only (no registry base image):
#   1. meson installs framegate and frameserver from BUILD_DIR into a staging folder;
#   2. mmdebstrap makes a Debian 12 root file system (variant "essential": dpkg, coreutils,
#      no apt) plus exactly the packages that hold the binaries' shared libraries (found with
#      ldd + dpkg -S on this machine), and copies the staged binaries in;
#   3. podman imports that tar as an image with its config (user nobody, port 8086, PATH).
# Usage: deploy/container/build-image.sh [BUILD_DIR [TAG [OUT_TAR]]]
#        defaults: build, framegate:0.1.0, BUILD_DIR/framegate-rootfs.tar
# Needs root (or run mmdebstrap with --mode=unshare), mmdebstrap, podman; reaches only the
# Debian archive. Without podman, stop after step 2 (FG_NO_IMPORT=1) and import the tar with
# `docker import` or any OCI tool with the same --change lines. PODMAN overrides the podman
# command (e.g. "podman --root DIR --storage-driver vfs" for a private image store).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
tag=${2:-framegate:0.1.0}
out=${3:-$build/framegate-rootfs.tar}
suite=${FG_SUITE:-bookworm}
mirror=${FG_MIRROR:-http://deb.debian.org/debian}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
meson install -C "$build" --destdir "$stage" --no-rebuild --quiet >/dev/null
bins=("$stage"/usr/local/bin/framegate "$stage"/usr/local/bin/frameserver)

# The Debian packages that own every shared library the binaries load.
pkgs=$(for b in "${bins[@]}"; do ldd "$b"; done | awk '/=> \//{print $3}' | sort -u |
  while read -r lib; do dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib"; done |
  cut -d: -f1 | sort -u | paste -sd, -)
echo "build-image: runtime packages: $pkgs" >&2

mmdebstrap --variant=essential --include="$pkgs" \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --customize-hook="copy-in ${bins[*]} /usr/local/bin" \
  --customize-hook='chroot "$1" framegate --help >/dev/null' \
  --customize-hook='chroot "$1" frameserver --help >/dev/null' \
  "$suite" "$out" "$mirror"
echo "build-image: root file system $out ($(du -h "$out" | cut -f1))" >&2

[ -n "${FG_NO_IMPORT:-}" ] && exit 0
${PODMAN:-podman} import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'USER 65534:65534' \
  --change 'EXPOSE 8086' \
  --change 'CMD ["framegate"]' \
  "$out" "$tag" >/dev/null
echo "build-image: $tag" >&2
