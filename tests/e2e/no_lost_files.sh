#!/usr/bin/env bash
# No lost files: `octet quantize` killed with SIGKILL at random moments never leaves a truncated file at the
# output path (it holds either the previous complete file or a new complete one, and both load) and leaves no
# stray temporary file in the folder; an interrupted run (SIGINT) exits non-zero and leaves the previous file.
set -uo pipefail
cd "$(dirname "$0")/../.."
OCTET=${OCTET:-./octet}
PY=${PY:-/usr/bin/python3}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir "$T/out"
$PY tests/ref/make_random_model.py -o "$T/in.gguf" --vocab 512 --dim 512 --layers 6 --heads 8 --ff 1536 --seed 3 >/dev/null
"$OCTET" quantize "$T/in.gguf" "$T/out/m.gguf" --type Q8_0 -q >/dev/null 2>&1 || { echo "FAIL: first quantize"; exit 1; }
prev=$(sha256sum < "$T/out/m.gguf")
fails=0; killed=0; replaced=0
# Time one Q4_K_M run on this machine, then kill runs at random moments between 5% and 80% of that time, so the
# kill lands mid-write however fast the machine is; every fourth run is a fast Q8_0 that usually completes.
t0=$(date +%s%N)
"$OCTET" quantize "$T/in.gguf" "$T/probe.gguf" --type Q4_K_M -q >/dev/null 2>&1 || { echo "FAIL: timing run"; exit 1; }
full_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
rm -f "$T/probe.gguf"
echo "a Q4_K_M run takes $full_ms ms here"
for i in $(seq 1 8); do
    type=$([ $((i % 4)) -eq 0 ] && echo Q8_0 || echo Q4_K_M)
    "$OCTET" quantize "$T/in.gguf" "$T/out/m.gguf" --type $type -q >/dev/null 2>&1 &
    pid=$!
    ms=$(( full_ms * (5 + RANDOM % 76) / 100 ))
    sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
    if kill -9 $pid 2>/dev/null; then killed=$((killed+1)); fi
    wait $pid 2>/dev/null
    now=$(sha256sum < "$T/out/m.gguf")
    if [ "$now" != "$prev" ]; then
        # replaced: it must be a complete, loadable file
        if "$OCTET" info -m "$T/out/m.gguf" >/dev/null 2>&1; then replaced=$((replaced+1)); prev=$now
        else echo "FAIL: run $i left a broken file at the output path"; fails=$((fails+1)); fi
    fi
    extra=$(ls -A "$T/out" | grep -v '^m.gguf$' || true)
    if [ -n "$extra" ]; then echo "FAIL: run $i left: $extra"; fails=$((fails+1)); rm -f "$T/out"/m.gguf.tmp*; fi
done
echo "killed $killed of 8 runs mid-way; $replaced completed runs replaced the file; output always complete"
# SIGINT: clean exit status, previous file intact
"$OCTET" quantize "$T/in.gguf" "$T/out/m.gguf" --type Q4_K_M -q >/dev/null 2>&1 &
pid=$!
ms=$(( full_ms / 3 ))
sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
kill -INT $pid 2>/dev/null
wait $pid; st=$?
now=$(sha256sum < "$T/out/m.gguf")
if [ $st -ne 0 ] && [ "$now" = "$prev" ]; then echo "PASS SIGINT: exit $st, previous file intact"
elif [ $st -eq 0 ]; then echo "PASS SIGINT arrived after the run finished (exit 0)"
else echo "FAIL: SIGINT run exit $st, file changed"; fails=$((fails+1)); fi
[ -z "$(ls -A "$T/out" | grep -v '^m.gguf$')" ] || { echo "FAIL: SIGINT left files"; fails=$((fails+1)); }
[ $killed -ge 3 ] || { echo "FAIL: only $killed runs were killed mid-way: the test did not exercise anything"; fails=$((fails+1)); }
[ $fails -eq 0 ] && echo "no lost files: ok" || exit 1
