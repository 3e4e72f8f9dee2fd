#!/usr/bin/env bash
# cross_aarch64.sh - octet on ARM: the tree cross-built for aarch64 (Debian's gcc-aarch64-linux-gnu; the Makefile
# picks the kernel folders from the compiler's target) and run under qemu-user.
#   1. tests/kernels/test_kset: every kernel set the emulated CPU (-cpu max) can run equals the ref set.
#   2. The logits of the bundled model, float and integer mode, at positions 0 and 10^6: the aarch64 program's
#      bytes equal this machine's native program's (the same output bits on every CPU).
# qemu checks correctness, not speed (one thread: emulated threads that spin are slow on a busy machine).
# Needs: gcc-aarch64-linux-gnu qemu-user libjansson-dev:arm64 libmicrohttpd-dev:arm64 (tools/deps.sh test).
set -u
cd "$(dirname "$0")/../.."
OCTET=${OCTET:-./octet}
XCC=${XCC:-aarch64-linux-gnu-gcc}
for t in "$XCC" qemu-aarch64; do
    command -v "$t" >/dev/null || { echo "FAIL $t not installed (tools/deps.sh test installs it)"; exit 1; }
done
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
git ls-files -z 2>/dev/null | tar --null -cf - -T - | tar -xf - -C "$W" || { echo "FAIL copying the tree"; exit 1; }
if ! make -C "$W" -j2 CC="$XCC" build/rel/octet build/rel/tests/kernels/test_kset >"$W/build.log" 2>&1; then
    echo "FAIL cross build"; tail -n 30 "$W/build.log"; exit 1
fi
file "$W/build/rel/octet" | grep -q aarch64 || { echo "FAIL not an aarch64 program"; exit 1; }
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu
QLIB=/usr/lib/aarch64-linux-gnu
fail=0
if timeout 300 env LD_LIBRARY_PATH=$QLIB qemu-aarch64 -cpu max "$W/build/rel/tests/kernels/test_kset" >"$W/kset.log" 2>&1; then
    echo "PASS aarch64 test_kset: $(grep -c '^set ' "$W/kset.log") set(s): $(grep '^set ' "$W/kset.log" | cut -d' ' -f2 | tr '\n' ' ')"
else
    echo "FAIL aarch64 test_kset"; tail -n 20 "$W/kset.log"; fail=1
fi
TOKS=1,450,316,2871,1576,2000,13,99,1000,3000
for pos in 0 1000000; do
    for ex in float int; do
        timeout 300 env LD_LIBRARY_PATH=$QLIB qemu-aarch64 -cpu max "$W/build/rel/octet" logits -t 1 --exec $ex \
            --pos0 $pos --tokens $TOKS -o "$W/arm.bin" >"$W/arm.log" 2>&1
        "$OCTET" logits -t 1 --exec $ex --pos0 $pos --tokens $TOKS -o "$W/native.bin" >"$W/native.log" 2>&1
        if [ -s "$W/arm.bin" ] && cmp -s "$W/arm.bin" "$W/native.bin"; then
            echo "PASS $ex logits at position $pos: aarch64 (ref) == native ($("$OCTET" info | awk '/in use/ {print $3}'))"
        else
            echo "FAIL $ex logits at position $pos differ between aarch64 and native"; tail -n 5 "$W/arm.log"; fail=1
        fi
    done
done
exit $fail
