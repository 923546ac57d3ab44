#!/bin/sh
# run-bench.sh - graced's benchmarks (see tests/bench/README.md).
#
# Usage: tests/bench/run-bench.sh [start|stop|startstop|output|chain|ladder|idle|scale|probes|reexec|soak|all]...
#   (no argument: all). "start" and "stop" are measured in the same runs
#   (graced is started, then stopped), so either name runs both. "scale"
#   (N = 1000 .. 10,000, several minutes), "probes" (1000 workers with a tcp
#   health probe every second, 60 s; quick: 10 s), "reexec" (1000 workers that
#   log a line a second, 10 reexecs; quick: 5) and "soak" (10 minutes, quick: 1)
#   are not part of "all".
#
# Environment:
#   GRACED_BIN         graced to measure (default: <top>/daemon/graced)
#   GRACED_TESTWORKER  tests/helpers/testworker (default: <top>/tests/helpers/testworker)
#   BENCH_BUILDDIR     where the bench C programs are compiled (default: a temporary directory)
#   CC, CFLAGS         compiler (default: cc -O2)
#   BENCH_QUICK=1      fewer repetitions, 2 s idle windows
#   BENCH_REPS=N       runs per figure (medians are reported); default: 11 for
#                      cases of <= 100 workers, 5 above (quick: 5 and 3); output: 3 (quick: 1)
#   BENCH_STRACE=0     skip the strace part of the idle benchmark (and of scale)
#   BENCH_FLOOR=vfork  the floors spawn with vfork() instead of fork()
#   BENCH_PERF=0       skip the perf part of scale (what graced spends after the last worker)
#   BENCH_SCALE="N..." the sizes of scale (default: 1000 2000 5000 10000)
#   BENCH_PROBES="N [SECONDS [INTERVAL_MS]]"  the probes benchmark's parameters (default: 1000 60 1000)
#   BENCH_REEXEC="N [REPS [TICK_MS]]"  the reexec benchmark's parameters (default: 1000 10 1000)
#   GRACECTL_BIN       gracectl for the reexec benchmark (default: <top>/daemon/gracectl)
#   BENCH_SOAK="SECONDS [WORKERS [LINES_PER_S [RELOAD_S]]]"  the soak's parameters
#                      (default: 600 150 6400 3; BENCH_QUICK: 60 s)
#   BENCH_SOAK_MALLOC_INFO=1  malloc_info() of graced through gdb at the soak's end
#   BENCH_CPUS=LIST    run everything (gbench, graced, the workers) under
#                      taskset -c LIST, e.g. BENCH_CPUS=0 for one CPU
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

GRACED_BIN=${GRACED_BIN:-$top/daemon/graced}
GRACED_TESTWORKER=${GRACED_TESTWORKER:-$top/tests/helpers/testworker}
GRACECTL_BIN=${GRACECTL_BIN:-$(dirname "$GRACED_BIN")/gracectl}
CC=${CC:-cc}
CFLAGS=${CFLAGS:-}

abspath() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$(pwd)" "$1" ;; esac; }
GRACED_BIN=$(abspath "$GRACED_BIN")
GRACED_TESTWORKER=$(abspath "$GRACED_TESTWORKER")

if [ ! -x "$GRACED_BIN" ]; then
        echo "run-bench.sh: $GRACED_BIN is not built (make daemon/graced)" >&2
        exit 1
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/graced-bench.XXXXXX")
# keep the configs and graced's logs when something failed
# shellcheck disable=SC2154
trap 'rc=$?; if [ $rc -eq 0 ]; then rm -rf "$scratch"; else echo "run-bench.sh: failed; configs and logs kept in $scratch" >&2; fi' EXIT
trap 'exit 130' INT TERM

if [ -n "${BENCH_BUILDDIR:-}" ]; then
        mkdir -p "$BENCH_BUILDDIR"
        bdir=$(cd "$BENCH_BUILDDIR" && pwd)
else
        bdir=$scratch/build
        mkdir -p "$bdir"
fi

# compile the helpers (two small files: always, so CC/CFLAGS changes apply)
for prog in gbench bw; do
        # shellcheck disable=SC2086
        $CC -O2 $CFLAGS -o "$bdir/$prog" "$here/$prog.c"
done

export GRACED_BIN GRACED_TESTWORKER GRACECTL_BIN
BENCH_BW=$bdir/bw
BENCH_DIR=$scratch
export BENCH_BW BENCH_DIR

[ $# -gt 0 ] || set -- all
list=
for b in "$@"; do
        case $b in
        start|stop|startstop) list="$list startstop" ;;
        output|idle|scale|probes|reexec|soak) list="$list $b" ;;
        chain|ladder) list="$list chain ladder" ;;
        all) list="$list startstop output chain ladder idle" ;;
        *) echo "run-bench.sh: unknown benchmark '$b' (start stop output chain ladder idle scale probes reexec soak all)" >&2; exit 2 ;;
        esac
done

env_desc="GRACED_BIN=$GRACED_BIN"
[ -n "${BENCH_QUICK:-}" ] && env_desc="$env_desc BENCH_QUICK=$BENCH_QUICK"
[ -n "${BENCH_REPS:-}" ] && env_desc="$env_desc BENCH_REPS=$BENCH_REPS"
[ -n "${BENCH_FLOOR:-}" ] && env_desc="$env_desc BENCH_FLOOR=$BENCH_FLOOR"
[ -n "${BENCH_SCALE:-}" ] && env_desc="$env_desc BENCH_SCALE='$BENCH_SCALE'"
[ -n "${BENCH_SOAK:-}" ] && env_desc="$env_desc BENCH_SOAK='$BENCH_SOAK'"
[ -n "${BENCH_PROBES:-}" ] && env_desc="$env_desc BENCH_PROBES='$BENCH_PROBES'"
[ -n "${BENCH_REEXEC:-}" ] && env_desc="$env_desc BENCH_REEXEC='$BENCH_REEXEC'"
pin=
if [ -n "${BENCH_CPUS:-}" ]; then
        if ! command -v taskset >/dev/null 2>&1; then
                echo "run-bench.sh: BENCH_CPUS needs taskset (util-linux)" >&2
                exit 1
        fi
        pin="taskset -c $BENCH_CPUS"
        env_desc="$env_desc BENCH_CPUS=$BENCH_CPUS"
fi

echo "graced benchmarks - $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "graced: $GRACED_BIN ($("$GRACED_BIN" --version 2>/dev/null | head -n 1 || echo '?'))"
echo "machine: $(uname -srm), $(nproc 2>/dev/null || echo '?') cpus, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -z "$pin" ] || echo "pinned: $pin"

done_list=
for b in $list; do
        case " $done_list " in *" $b "*) continue ;; esac
        done_list="$done_list $b"
        case $b in
        startstop) what=start ;;
        *) what=$b ;;
        esac
        case $b in
        output)
                if [ ! -x "$GRACED_TESTWORKER" ]; then
                        echo
                        echo "== 2. output: skipped, $GRACED_TESTWORKER is not built (make tests/helpers/testworker)"
                        continue
                fi
                ;;
        esac
        args=
        case $b in
        scale) args=${BENCH_SCALE:-} ;;
        soak) args=${BENCH_SOAK:-} ;;
        probes) args=${BENCH_PROBES:-} ;;
        reexec) args=${BENCH_REEXEC:-} ;;
        esac
        # shellcheck disable=SC2086
        $pin "$bdir/gbench" "$b" $args
        echo "reproduce: $env_desc GRACED_TESTWORKER=$GRACED_TESTWORKER sh $here/run-bench.sh $what"
done
