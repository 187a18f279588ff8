#!/usr/bin/env bash
# Installs the Debian 12 packages framegate needs, only those missing.
#   scripts/deps.sh build   what building and running the demo needs
#   scripts/deps.sh test    that, plus everything the test suite drives
set -euo pipefail

BUILD_PKGS=(
  gcc pkg-config meson ninja-build python3 python3-grpcio
  libuv1-dev libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler
  libwslay-dev libhttp-parser-dev libjansson-dev libturbojpeg0-dev
  libssl-dev openssl
)
TEST_PKGS=(
  libcmocka-dev nghttp2-client
  python3-protobuf protobuf-compiler protobuf-compiler-grpc
  python3-pytest python3-websocket python3-h2
  chromium clang libclang-rt-14-dev clang-format valgrind
)

want=("${BUILD_PKGS[@]}")
[ "${1:-build}" = test ] && want+=("${TEST_PKGS[@]}")
# Node.js and npm: keep a machine's own newer Node if it has one.
if [ "${1:-build}" = test ] && ! command -v npm >/dev/null 2>&1; then
  want+=(nodejs npm)
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
