#!/usr/bin/env bash
# Runs each libFuzzer program given for SECONDS on a scratch copy of its seed corpus (fuzz/corpus/<name minus
# "fuzz_">). Exit non-zero if any finds a crash, leak, timeout or out-of-memory; the reproducer is kept in
# build/fuzz/crashes/. Prints one line per target with the executions done.
set -u
secs=$1; shift
mkdir -p build/fuzz/crashes
fails=0
for prog in "$@"; do
    name=$(basename "$prog"); seeds=fuzz/corpus/${name#fuzz_}
    work=$(mktemp -d)
    [ -d "$seeds" ] && cp -r "$seeds"/. "$work"/
    log=$(mktemp)
    if "$prog" "$work" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix=build/fuzz/crashes/"$name"- >"$log" 2>&1; then
        execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
        echo "PASS $name: ${execs:-?} executions in ${secs}s"
    else
        echo "FAIL $name"; grep -E "ERROR|SUMMARY|Test unit written" "$log" | head -5 | sed 's/^/    /'
        fails=$((fails+1))
    fi
    rm -rf "$work" "$log"
done
[ $fails -eq 0 ]
