#!/usr/bin/env bash
# Runs every test: C unit and kernel tests in the optimized and sanitizer builds, then the script tests
# (tests/golden/*.sh, tests/e2e/*.sh). Each test runs with a timeout; the last line is "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
export OCTET=${OCTET:-./octet}
export OCTET_ASAN=build/asan/octet
export PY=${PY:-/usr/bin/python3}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
pass=0; fail=0; failed_names=()
run() { # name timeout cmd...
    local name=$1 to=$2; shift 2
    local start=$(date +%s%N)
    local log; log=$(mktemp)
    if timeout "$to" "$@" >"$log" 2>&1; then
        pass=$((pass+1)); local ms=$(( ($(date +%s%N) - start) / 1000000 )); printf 'PASS %-50s %6d ms\n' "$name" "$ms"
    else
        fail=$((fail+1)); failed_names+=("$name")
        printf 'FAIL %-50s\n' "$name"; tail -n 40 "$log" | sed 's/^/    /'
    fi
    rm -f "$log"
}
variants="rel asan"
if [ "${1:-}" = "--variant" ]; then variants=$2; shift 2; SKIP_SCRIPTS=1; fi
filter=${1:-}
for variant in $variants; do
    for t in build/$variant/tests/unit/* build/$variant/tests/kernels/* build/$variant/tests/fault/*; do
        [ -x "$t" ] || continue
        case "$t" in *.d|*.o) continue;; esac
        [ -n "$filter" ] && [[ "$t" != *"$filter"* ]] && continue
        run "$variant/$(basename "$(dirname "$t")")/$(basename "$t")" 600 "$t"
    done
done
for s in tests/golden/*.sh tests/e2e/*.sh; do
    [ -n "${SKIP_SCRIPTS:-}" ] && break
    [ -f "$s" ] || continue
    [ -n "$filter" ] && [[ "$s" != *"$filter"* ]] && continue
    run "$s" 900 bash "$s"
done
echo
if [ $fail -ne 0 ]; then echo "failed: ${failed_names[*]}"; fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
