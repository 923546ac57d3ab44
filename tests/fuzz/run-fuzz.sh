#!/bin/sh
# run-fuzz.sh SRC BIN: runs each libFuzzer target of $FUZZ_TARGETS (names
# without "fuzz_") for $FUZZ_SECONDS seconds (-max_total_time), with
# -timeout=10 and -rss_limit_mb=2048, on a copy of its committed corpus
# (SRC/corpus/TARGET) in $FUZZ_WORKDIR (default BIN/run/TARGET), with its
# dictionary (SRC/dict/TARGET.dict) when there is one. The targets' own
# logs (graced's log lines) are kept out of sight (-close_fd_mask=2).
# Prints one line a target: execs, exec/s, cov, ft, and the corpus at the
# end; exits 1 when any target found a crash, a leak, a timeout or an
# out-of-memory (its log's end is printed, the input is in
# WORKDIR/TARGET/artifacts).
set -u
export LSAN_OPTIONS="suppressions=$1/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
src=$1
bin=$2
secs=${FUZZ_SECONDS:-60}
work=${FUZZ_WORKDIR:-$bin/run}
fail=0

# the value of the last "NAME: N" of a libFuzzer status line
field() { sed -n "s/.* $1: *\([0-9][0-9]*\).*/\1/p" | tail -n 1; }

for t in ${FUZZ_TARGETS:-conf conf_include envfile parse control notify state output logbuf}; do
        exe=$bin/fuzz_$t
        dir=$work/$t
        if [ ! -x "$exe" ]; then
                echo "fuzz: $exe is not built" >&2
                fail=1
                continue
        fi
        rm -rf "$dir"
        mkdir -p "$dir/corpus" "$dir/artifacts"
        [ -d "$src/corpus/$t" ] && cp -p "$src/corpus/$t/." "$dir/corpus/" -R
        chmod -R u+w "$dir/corpus"
        set -- -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -close_fd_mask=2 -print_final_stats=1 \
                -artifact_prefix="$dir/artifacts/"
        [ -f "$src/dict/$t.dict" ] && set -- "$@" -dict="$src/dict/$t.dict"
        began=$(date +%s)
        "$exe" "$@" "$dir/corpus" >"$dir/log" 2>&1
        rc=$?
        took=$(($(date +%s) - began))
        status=$(grep -E '^#[0-9]+' "$dir/log" | tail -n 1)
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log")
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log")
        cov=$(echo "$status" | field cov)
        ft=$(echo "$status" | field ft)
        files=$(find "$dir/corpus" -type f | wc -l)
        bytes=$(find "$dir/corpus" -type f -exec cat {} + | wc -c)
        printf 'fuzz %-13s %ss: %s execs, %s exec/s, cov %s, ft %s, corpus %s files (%s bytes)\n' "$t" "$took" \
                "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$files" "$bytes"
        if [ $rc -ne 0 ] || [ -n "$(ls -A "$dir/artifacts")" ]; then
                echo "fuzz $t: FAILED (exit $rc); the input: $(ls "$dir/artifacts" | head -n 3 | sed "s|^|$dir/artifacts/|")"
                grep -v '^#[0-9]' "$dir/log" | tail -n 60
                fail=1
        fi
done
exit $fail
