#!/usr/bin/env bash
# Runs one long, CPU-bound build of `make test` in the background at the lowest CPU priority, so
# that it uses the cores the suites leave idle (browser suites wait on Chromium and the network
# most of the time) instead of adding its minutes to the run.
#
#   scripts/bg.sh start NAME CMD...    start CMD (nice 19, its own process group); returns at once
#   scripts/bg.sh finish NAME CMD...   wait for the job NAME that this same make run started,
#                                      print its output and return its exit status; run CMD in
#                                      the foreground instead when no such job exists (a target
#                                      run on its own, or a stale job of an earlier run)
#
# A job belongs to the make process that started it (the recipe shell's parent): when that make
# exits (a suite failed, ^C), a watchdog stops the job, so no build outlives its run.
# State and output: target/bg/NAME.{pid,make,log,rc}.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?usage: bg.sh start|finish NAME CMD...}
name=${2:?job name}
shift 2
dir=target/bg
mkdir -p "$dir"
owner=$(ps -o ppid= -p "$PPID" | tr -d ' ') # make, the parent of this script's recipe shell
[ "$(ps -o comm= -p "$PPID" 2>/dev/null)" = make ] && owner=$PPID

case "$mode" in
start)
  rm -f "$dir/$name".{pid,make,log,rc}
  echo "$owner" >"$dir/$name.make"
  # setsid: its own process group, which the watchdog can stop as a whole. A new session is also
  # a new scheduler autogroup (Linux, kernel.sched_autogroup_enabled=1), whose share of the CPU
  # nice does not lower: that group gets nice 19 itself, or it would take half the cores.
  setsid bash -c '
    dir=$1 name=$2 owner=$3; shift 3
    echo $$ >"$dir/$name.pid"
    echo 19 2>/dev/null >/proc/self/autogroup || true
    (nice -n 19 "$@" >"$dir/$name.log" 2>&1; echo $? >"$dir/$name.rc") &
    job=$!
    while kill -0 "$job" 2>/dev/null; do
      if ! kill -0 "$owner" 2>/dev/null; then
        echo "bg.sh: make ($owner) exited; stopping $name" >>"$dir/$name.log"
        kill -- -"$$" 2>/dev/null
        exit 1
      fi
      sleep 2
    done' bg "$dir" "$name" "$owner" "$@" </dev/null >/dev/null 2>&1 &
  echo "bg: $name started in the background at nice 19 (output: $dir/$name.log; waited for by the step that needs it)"
  ;;
finish)
  if [ "$(cat "$dir/$name.make" 2>/dev/null)" != "$owner" ]; then
    "$@"
    exit
  fi
  rm -f "$dir/$name.make"
  t=$SECONDS
  if [ ! -f "$dir/$name.rc" ]; then
    echo "bg: waiting for $name (started in the background; output follows when done)"
    while [ ! -f "$dir/$name.rc" ]; do
      sleep 1
      kill -0 "$(cat "$dir/$name.pid" 2>/dev/null || echo none)" 2>/dev/null || [ -f "$dir/$name.rc" ] || {
        cat "$dir/$name.log"
        echo "bg: $name stopped without an exit status"
        exit 1
      }
    done
  fi
  cat "$dir/$name.log"
  rc=$(cat "$dir/$name.rc")
  echo "bg: $name finished with status $rc (waited $((SECONDS - t)) s for it here)"
  exit "$rc"
  ;;
*)
  echo "usage: bg.sh start|finish NAME CMD..." >&2
  exit 2
  ;;
esac
