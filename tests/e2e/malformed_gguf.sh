#!/usr/bin/env bash
# malformed_gguf.sh - hundreds of malformed GGUF files (tests/tools/make_malformed.py) through the reader and
# through `octet info`, in the optimized and the ASan+UBSan builds.
#
#   1. test_gguf --check-dir: the GGUF reader rejects every malformed file with the expected status and a
#      message naming the field, and accepts the valid ones (rel and asan builds).
#   2. `$OCTET info -m FILE` and `$OCTET_ASAN info -m FILE` on every file:
#        ok       exit 0
#        fail     exit exactly 1 and a non-empty message on stderr
#        gguf_ok  (well-formed GGUF the model loader must refuse) exit exactly 1, message on stderr
#        any      (random corruption) exit 0, or 1 with a message
#      never a timeout, a signal or a sanitizer report.
set -u
cd "$(dirname "$0")/../.."
OCTET=${OCTET:-./octet}
OCTET_ASAN=${OCTET_ASAN:-build/asan/octet}
PY=${PY:-/usr/bin/python3}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$PY" tests/tools/make_malformed.py "$dir/files" >/dev/null || { echo "generator failed"; exit 1; }
manifest="$dir/files/manifest.tsv"
fails=0

for v in rel asan; do
    t=build/$v/tests/unit/test_gguf
    if [ ! -x "$t" ]; then echo "missing $t (make tests-build)"; fails=$((fails + 1)); continue; fi
    if ! timeout 120 "$t" --check-dir "$dir/files" 2>"$dir/check.err"; then
        echo "FAIL: $t --check-dir"; head -n 40 "$dir/check.err"; fails=$((fails + 1))
    fi
done

sanitizer_re='AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:|SUMMARY: '
check_prog() { # prog label
    local prog=$1 label=$2 n=0 bad=0
    while IFS=$'\t' read -r name mode code pattern; do
        [ -n "$name" ] || continue
        n=$((n + 1))
        local f="$dir/files/$name" err="$dir/stderr"
        timeout 20 "$prog" info -m "$f" >/dev/null 2>"$err"
        local rc=$? why=""
        if [ $rc -eq 124 ]; then why="timeout"
        elif grep -Eq "$sanitizer_re" "$err"; then why="sanitizer report"
        else
            case $mode in
            ok) [ $rc -eq 0 ] || why="exit $rc, expected 0" ;;
            fail | gguf_ok) [ $rc -eq 1 ] || why="exit $rc, expected 1"
                   [ -z "$why" ] && [ ! -s "$err" ] && why="no message on stderr"
                   # a loader refusal with a pattern: the message must say it (e.g. name the unused tensor)
                   [ -z "$why" ] && [ "$mode" = gguf_ok ] && [ -n "$pattern" ] && ! grep -Eq "$pattern" "$err" &&
                       why="message does not match /$pattern/" ;;
            any) { [ $rc -eq 0 ] || [ $rc -eq 1 ]; } || why="exit $rc, expected 0 or 1"
                 [ -z "$why" ] && [ $rc -eq 1 ] && [ ! -s "$err" ] && why="exit 1 without a message" ;;
            esac
        fi
        if [ -n "$why" ]; then
            bad=$((bad + 1))
            if [ $bad -le 20 ]; then echo "FAIL $label $name ($mode): $why"; head -n 20 "$err" | sed 's/^/    /'; fi
        fi
    done <"$manifest"
    echo "$label: $n files, $bad unexpected"
    fails=$((fails + bad))
}

for p in "$OCTET:rel" "$OCTET_ASAN:asan"; do
    prog=${p%:*} label=${p##*:}
    if [ ! -x "$prog" ]; then echo "missing $prog"; fails=$((fails + 1)); continue; fi
    check_prog "$prog" "$label"
done

[ $fails -eq 0 ]
