#!/usr/bin/env bash
# Installs what octet needs on Debian 12 (run as root, or it uses sudo). Usage: tools/deps.sh [build|test]
#   build: a C11 compiler and make, libjansson (JSON: safetensors headers, HF configs, the server's API) and
#          libmicrohttpd (the HTTP server of `octet serve`)
#   test (default): build, plus Debian's Python with numpy (the float64 reference and GGUF writer), torch (the
#          second, PyTorch-written oracle of tests/golden/oracle.sh), sentencepiece
#          (an independent tokenizer oracle), clang with its sanitizer/fuzzer runtime, curl, chromium and
#          chromedriver (the server's chat-page test), MPICH (distributed tests), and the aarch64 cross compiler,
#          qemu-user and the arm64 libraries (tests/e2e/cross_aarch64.sh: the ARM build run under emulation)
set -eu
build_pkgs="build-essential libjansson-dev libmicrohttpd-dev"
test_pkgs="clang libclang-rt-14-dev python3 python3-numpy python3-torch python3-sentencepiece curl chromium chromium-driver mpich libmpich-dev"
cross_pkgs="gcc-aarch64-linux-gnu qemu-user libjansson-dev:arm64 libmicrohttpd-dev:arm64"
case "${1:-test}" in
    build) pkgs="$build_pkgs" ;;
    test) pkgs="$build_pkgs $test_pkgs $cross_pkgs" ;;
    *) echo "usage: tools/deps.sh [build|test]" >&2; exit 2 ;;
esac
missing=""
native=$(dpkg --print-architecture)
# (a package installed for two architectures needs its architecture named: dpkg -s NAME is ambiguous then)
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || dpkg -s "$p:$native" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -z "$missing" ]; then echo "deps: all present"; exit 0; fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
case "$missing" in *:arm64*) dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64 ;; esac
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq $missing
