#!/usr/bin/env bash
# Installs what building and testing octet needs on Debian 12 (run as root, or through sudo).
# Build: a C11 compiler and make. Tests: Debian's Python with numpy (the float64 reference and GGUF writer),
# sentencepiece (independent tokenizer oracle), clang with its sanitizer/fuzzer runtime.
# octet serve: libmicrohttpd (HTTP) and jansson (JSON); its tests: curl, and chromium + chromium-driver for the
# chat page in a headless browser.
set -eu
pkgs="build-essential clang libclang-rt-14-dev python3 python3-numpy python3-sentencepiece libjansson-dev \
      libmicrohttpd-dev curl chromium chromium-driver"
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -z "$missing" ]; then echo "deps: all present"; exit 0; fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq $missing
