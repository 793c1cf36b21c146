#!/usr/bin/env bash
# Log router benchmark. For each rate, the flood test plugin writes numbered
# lines for DURATION seconds under a private plugdbg daemon, while a live
# follower (`plugdbg logs -f -t`) reads them; afterwards the history
# (`plugdbg logs`) and the daemon's own log are checked for missing and
# repeated lines. Reports loss, follower latency p50/p99 (receive time minus
# the time the plugin wrote the line), CPU of the plugin's monitor and of the
# daemon, and the daemon's peak RSS. With --stalled-follower, a second
# follower reads nothing the whole run: the plugin's lines/s and the live
# follower's latency then show what a stalled reader costs the others. With
# --with-docker, the same plugin runs at 100,000 lines/s under a private
# dockerd, whose log is its only record. Needs root and `make build plugins`.
#
#   bench/logs.sh [--stalled-follower] [--with-docker]
#   RATES="10000 200000" DURATION=5 bench/logs.sh
#
# Environment: RATES (lines/s, 0 = as fast as possible; default
# "100 10000 100000 200000 0": at 100/s the lines come one at a time),
# DURATION (s, 10), LINE_BYTES (100), START_DELAY
# (2s: time for the follower to attach), MARGIN (s to wait past the end for
# the last lines, 30), DOCKER_RATE (100000), PLUGDBG (the client binary,
# build/plugdbg; the daemon is PLUGDBGD, by default the plugdbgd beside it,
# or `$PLUGDBG daemon` for a build from before the two binaries), DAEMON_FLAGS (more daemon flags, e.g. --cpuprofile
# /tmp/pd.prof), HISTORY_BYTES (--log-max-size, 4 GiB, so no run rotates
# lines out of its history), KEEP=1 keeps the temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."

RATES=${RATES:-"100 10000 100000 200000 0"}
DURATION=${DURATION:-10}
LINE_BYTES=${LINE_BYTES:-100}
START_DELAY=${START_DELAY:-2s}
MARGIN=${MARGIN:-30}
DOCKER_RATE=${DOCKER_RATE:-100000}
HISTORY_BYTES=${HISTORY_BYTES:-$((4 << 30))}

with_docker=false
stalled_follower=false
for a in "$@"; do
  case $a in
    --with-docker) with_docker=true ;;
    --stalled-follower) stalled_follower=true ;;
    -h|--help) sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "logs.sh: unknown argument $a (try --help)" >&2; exit 2 ;;
  esac
done

bin=${PLUGDBG:-$PWD/build/plugdbg}
dbin=${PLUGDBGD:-$(dirname "$bin")/plugdbgd}
if [ -x "$dbin" ]; then daemon_cmd=("$dbin"); else daemon_cmd=("$bin" daemon); fi
plugin_dir=$PWD/build/plugins/flood
[ "$(id -u)" -eq 0 ] || { echo "logs.sh: needs root (plugins run as containers)" >&2; exit 1; }
[ -x "$bin" ] && [ -d "$plugin_dir" ] || { echo "run: make build plugins" >&2; exit 1; }
gobin=${GO:-go} # make passes the go it found; sudo's PATH may have none
command -v "$gobin" >/dev/null || { echo "logs.sh: needs go, to build bench/cmd/logcheck (GO=/path/to/go)" >&2; exit 1; }

# Short: the plugin socket, <exec-root>/plugins/<64-hex id>/pdflood.sock,
# must fit in 107 bytes.
tmp=$(mktemp -d /tmp/pdl.XXXXXX)
pids=()     # background processes this script started
monitors=() # monitors of plugins this script enabled
dpid=""
dkpid=""

pd() { timeout 60 "$bin" -H "unix://$tmp/pd.sock" "$@"; }
dk() { timeout 60 docker -H "unix://$tmp/dk.sock" "$@"; }

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# stop_pid PID [SECONDS]: SIGTERM, then SIGKILL if it is still there.
stop_pid() {
  local p=$1 i
  alive "$p" || return 0
  kill -TERM "$p" 2>/dev/null || true
  for i in $(seq 1 $((${2:-15} * 10))); do alive "$p" || break; sleep 0.1; done
  alive "$p" && kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}

cleanup() {
  set +e
  for p in "${pids[@]}"; do stop_pid "$p" 5; done
  if alive "$dpid"; then
    # Plugins outlive their daemon by design: remove them first.
    pd ls -q 2>/dev/null | while read -r id; do pd rm -f "$id" >/dev/null 2>&1; done
    stop_pid "$dpid" 20
  fi
  if alive "$dkpid"; then
    dk plugin ls -q 2>/dev/null | while read -r id; do dk plugin rm -f "$id" >/dev/null 2>&1; done
    stop_pid "$dkpid" 30
  fi
  for m in "${monitors[@]}"; do
    grep -qa __plugdbg-monitor "/proc/$m/cmdline" 2>/dev/null && stop_pid "$m" 10
  done
  grep -o " $tmp[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t_start=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
say() { echo "logs.sh [$(($(date +%s) - t_start))s]: $*" >&2; }

wait_for() {
  local i
  for i in $(seq 1 600); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
  say "timed out waiting for: $*"; return 1
}

# cpu_ticks PID: user + system CPU time of PID so far, in clock ticks.
cpu_ticks() {
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  s=${s##*) } # fields from 3 (state) on; comm may hold spaces
  set -- $s
  echo $((${12} + ${13}))
}
hz=$(getconf CLK_TCK)
secs() { awk -v t="$1" -v hz="$hz" 'BEGIN { if (t ~ /^-?[0-9]+$/) printf "%.2f", t / hz; else print "?" }'; }

# hwm_reset PID: start a new peak-RSS measurement (clear_refs 5 resets
# VmHWM); hwm_mib PID prints the peak since then.
hwm_reset() { echo 5 >"/proc/$1/clear_refs" 2>/dev/null || say "cannot reset VmHWM of $1: the peak is since its start"; }
hwm_mib() { awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"; }

# kv KEY FILE: the value of KEY in a one-line key=value report, "?" if absent.
kv() {
  local v
  v=$( (tr ' ' '\n' <"$2" | sed -n "s/^$1=//p") 2>/dev/null || true)
  v=${v%%$'\n'*}
  echo "${v:-?}"
}

# dur_s D: a duration such as 2s or 500ms in seconds.
dur_s() { awk -v d="$1" 'BEGIN { if (sub(/ms$/, "", d)) d /= 1000; else sub(/s$/, "", d); print d + 0 }'; }

# has_done LOG ID: the end of LOG holds the plugin's "flood done" line
# (its last; only the end is read, as LOG can be gigabytes).
has_done() {
  local n
  n=$(tail -c 4000000 "$1" | grep -F "plugin=$2" | grep -cF "flood done" || true)
  [ "${n:-0}" -gt 0 ]
}

# wait_done LOG ID DEADLINE: wait until LOG has the plugin's "flood done"
# line, then until LOG stops growing. DEADLINE is in epoch seconds.
wait_done() {
  local log=$1 id=$2 deadline=$3 s0 s1
  until has_done "$log" "$id"; do
    [ "$(date +%s)" -lt "$deadline" ] || { say "no 'flood done' line for $id in $log before the deadline"; return 1; }
    sleep 0.5
  done
  s0=-1; s1=$(stat -c %s "$log")
  while [ "$s0" != "$s1" ] && [ "$(date +%s)" -lt "$deadline" ]; do
    sleep 0.5; s0=$s1; s1=$(stat -c %s "$log")
  done
}

# plugin_monitor PID: the monitor process that serves the plugin whose
# process is PID, its parent.
plugin_monitor() {
  local m
  m=$(awk '/^PPid:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
  grep -qa __plugdbg-monitor "/proc/$m/cmdline" 2>/dev/null || return 1
  echo "$m"
}

say "building bench/cmd/logcheck"
"$gobin" build -o "$tmp/logcheck" ./bench/cmd/logcheck
lc=$tmp/logcheck

have_logs=false
if "$bin" logs --help >/dev/null 2>&1; then have_logs=true; else
  say "this plugdbg has no 'logs' command: no follower, no history check (n/a in the table)"
  $stalled_follower && say "--stalled-follower: no 'logs' command, no stalled follower"
  stalled_follower=false
fi
hist_flags=()
if "${daemon_cmd[@]}" --help 2>&1 | grep -q -- --log-max-size; then
  hist_flags=(--log-max-size "$HISTORY_BYTES")
else
  say "this plugdbg has no --log-max-size: the history may rotate lines out at high rates (counted as head=, not gaps)"
fi

# shellcheck disable=SC2086 # DAEMON_FLAGS is a list of words
"${daemon_cmd[@]}" -H "unix://$tmp/pd.sock" --data-root "$tmp/d" --exec-root "$tmp/r" --ui-addr "" "${hist_flags[@]}" ${DAEMON_FLAGS:-} 2>"$tmp/pd.log" &
dpid=$!
wait_for pd version || { tail -5 "$tmp/pd.log" >&2; exit 1; }

# run_plugdbg RATE: one run; writes $tmp/<name>.{follow,hist,dlog,stats}.
run_plugdbg() {
  local rate=$1 name id ppid mon off deadline follower="" checker="" stalled="" sink="" start_ns cm0 cd0
  name=flood-$rate
  [ "$rate" = 0 ] && name=flood-max
  say "$name: ${DURATION}s"
  pd create "$name" "$plugin_dir" >/dev/null
  pd set "$name" RATE="$rate" DURATION="${DURATION}s" START_DELAY="$START_DELAY" LINE_BYTES="$LINE_BYTES"
  off=$(stat -c %s "$tmp/pd.log")
  start_ns=$(date +%s%N)
  pd enable "$name" >/dev/null
  id=$(pd inspect -f '{{.ID}}' "$name")
  ppid=$(pd inspect -f '{{.State.Pid}}' "$name")
  mon=$(plugin_monitor "$ppid") || { say "no __plugdbg-monitor parent for plugin pid $ppid: monitor CPU not measured"; mon=""; }
  [ -n "$mon" ] && monitors+=("$mon")
  cm0=$(cpu_ticks "$mon"); cd0=$(cpu_ticks "$dpid")
  hwm_reset "$dpid"

  if $stalled_follower; then
    # Its stdout is a fifo held open and never read: the fifo fills, then
    # the CLI stops reading its socket, and the daemon's follower for it
    # falls behind, as with a page or a terminal that stopped reading.
    mkfifo "$tmp/$name.stall"
    sleep 100000 <"$tmp/$name.stall" &
    sink=$!; pids+=("$sink")
    "$bin" -H "unix://$tmp/pd.sock" logs -f "$name" >"$tmp/$name.stall" 2>/dev/null &
    stalled=$!; pids+=("$stalled")
  fi
  if $have_logs; then
    mkfifo "$tmp/$name.fifo"
    "$lc" -latency -stop-at-done <"$tmp/$name.fifo" >"$tmp/$name.follow" &
    checker=$!; pids+=("$checker")
    "$bin" -H "unix://$tmp/pd.sock" logs -f -t "$name" >"$tmp/$name.fifo" 2>"$tmp/$name.follow.err" &
    follower=$!; pids+=("$follower")
    if [ $(($(date +%s%N) - start_ns)) -gt "$(awk -v d="$(dur_s "$START_DELAY")" 'BEGIN { printf "%d", d * 1e9 }')" ]; then
      say "the follower started after the first lines: their latency includes the replay from history"
    fi
  fi

  deadline=$(($(date +%s) + DURATION + MARGIN + 5))
  if [ -n "$checker" ]; then
    # logcheck stops by itself after the done line and every line it counts.
    while alive "$checker" && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.2; done
    alive "$checker" && say "follower still short of lines at the deadline"
  fi
  wait_done "$tmp/pd.log" "$id" "$deadline" || true
  echo "mon_cpu=$(($(cpu_ticks "$mon") - cm0)) daemon_cpu=$(($(cpu_ticks "$dpid") - cd0)) daemon_hwm=$(hwm_mib "$dpid")" >"$tmp/$name.stats"
  [ -n "$mon" ] || sed -i 's/^mon_cpu=[0-9-]*/mon_cpu=?/' "$tmp/$name.stats"

  if [ -n "$stalled" ]; then
    alive "$stalled" || say "the stalled follower of $name ended early"
    stop_pid "$stalled" 5; stop_pid "$sink" 1
  fi
  if [ -n "$follower" ]; then
    stop_pid "$follower" 5   # its EOF makes logcheck report, if it has not yet
    for _ in $(seq 1 50); do alive "$checker" || break; sleep 0.1; done
    stop_pid "$checker" 1
    [ -s "$tmp/$name.follow.err" ] && { say "follower said:"; head -5 "$tmp/$name.follow.err" >&2; }
    # Millions of lines at the higher rates: more time than pd's 60 s.
    timeout 600 "$bin" -H "unix://$tmp/pd.sock" logs "$name" 2>"$tmp/$name.hist.err" | "$lc" >"$tmp/$name.hist" ||
      say "plugdbg logs $name failed: $(head -3 "$tmp/$name.hist.err")"
  fi
  tail -c +$((off + 1)) "$tmp/pd.log" | "$lc" -match "plugin=$id" >"$tmp/$name.dlog"
  pd disable "$name" >/dev/null || pd disable -f "$name" >/dev/null || true
  pd rm -f "$name" >/dev/null || true
  echo "$name" >>"$tmp/runs"
}

run_docker() {
  local rate=$1 id off dk0 sh="" sh0=0 ppid deadline
  dockerd --iptables=false --ip6tables=false --bridge=none -H "unix://$tmp/dk.sock" \
    --data-root "$tmp/dd" --exec-root "$tmp/de" --pidfile "$tmp/dk.pid" >"$tmp/dk.log" 2>&1 &
  dkpid=$!
  if ! wait_for dk version; then
    say "dockerd did not start; its log:"; tail -5 "$tmp/dk.log" >&2; return 1
  fi
  say "docker, rate $rate: flood, ${DURATION}s"
  dk plugin create flood "$plugin_dir" >/dev/null
  dk plugin set flood RATE="$rate" DURATION="${DURATION}s" START_DELAY="$START_DELAY" LINE_BYTES="$LINE_BYTES"
  off=$(stat -c %s "$tmp/dk.log")
  dk plugin enable flood >/dev/null
  id=$(dk plugin inspect -f '{{.Id}}' flood)
  # containerd's shim is the monitor's counterpart: the plugin's parent.
  for p in $(grep -lx pdflood /proc/[0-9]*/comm 2>/dev/null | cut -d/ -f3); do
    ppid=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status")
    grep -qa containerd-shim "/proc/$ppid/cmdline" 2>/dev/null && grep -qa "$id" "/proc/$ppid/cmdline" "/proc/$p/cgroup" 2>/dev/null && sh=$ppid
  done
  [ -n "$sh" ] && sh0=$(cpu_ticks "$sh") || say "containerd shim of the plugin not found: shim CPU not measured"
  dk0=$(cpu_ticks "$dkpid")
  hwm_reset "$dkpid"
  deadline=$(($(date +%s) + DURATION + MARGIN + 5))
  sleep "$(dur_s "$START_DELAY")"
  sleep "$DURATION"
  wait_done "$tmp/dk.log" "$id" "$deadline" || true
  echo "mon_cpu=$([ -n "$sh" ] && echo $(($(cpu_ticks "$sh") - sh0)) || echo '?') daemon_cpu=$(($(cpu_ticks "$dkpid") - dk0)) daemon_hwm=$(hwm_mib "$dkpid")" >"$tmp/docker.stats"
  tail -c +$((off + 1)) "$tmp/dk.log" | "$lc" -match "plugin=$id" >"$tmp/docker.dlog"
  dk plugin disable -f flood >/dev/null || true
  dk plugin rm -f flood >/dev/null || true
}

for r in $RATES; do run_plugdbg "$r"; done
docker_ok=false
if $with_docker; then
  if command -v dockerd >/dev/null && command -v docker >/dev/null; then
    run_docker "$DOCKER_RATE" && docker_ok=true
  else
    say "--with-docker: dockerd or docker is not installed"
  fi
fi

# n/a for a file that does not exist (no logs command, no docker run).
val() { if [ -s "$2" ]; then kv "$1" "$2"; else echo n/a; fi; }
achieved() {
  local e w=$1
  e=$(for f in "${@:2}"; do [ -s "$f" ] && kv elapsed "$f"; done | grep -v '^[?-]$' || true)
  e=${e%%$'\n'*}
  [ -n "$e" ] && [ "$w" != "?" ] && [ "$w" != n/a ] && [ "$w" -ge 0 ] 2>/dev/null || { echo "?"; return; }
  awk -v w="$w" -v e="${e%s}" 'BEGIN { if (e > 0) printf "%.0f", w / e; else print "?" }'
}
written() { # the plugin's own count, from whichever record has its done line
  local f w
  for f in "$@"; do
    [ -s "$f" ] || continue
    w=$(kv written "$f"); [ "$w" != "?" ] && [ "$w" != -1 ] && { echo "$w"; return; }
  done
  echo "?"
}

echo
echo "log router: flood plugin, ${DURATION}s per rate, ${LINE_BYTES}-byte lines on stdout, $(nproc) CPUs," \
  "load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
$stalled_follower && echo "a second follower stalled (read nothing) through every plugdbg run"
fmt="%-13s %10s %9s | %10s %6s %5s | %10s %6s %8s %8s %8s | %10s %6s | %7s %7s %7s\n"
# shellcheck disable=SC2059
printf "$fmt" rate written lines/s history h.miss h.dup follower f.miss skipped p50.ms p99.ms daemonlog d.miss mon.cpu d.cpu d.rss
while read -r name; do
  f=$tmp/$name
  w=$(written "$f.hist" "$f.follow" "$f.dlog")
  # shellcheck disable=SC2059
  printf "$fmt" "${name#flood-}" "$w" "$(achieved "$w" "$f.hist" "$f.follow" "$f.dlog")" \
    "$(val distinct "$f.hist")" "$(val missing "$f.hist")" "$(val dups "$f.hist")" \
    "$(val distinct "$f.follow")" "$(val missing "$f.follow")" "$(val skipped "$f.follow")" \
    "$(val recv_p50 "$f.follow")" "$(val recv_p99 "$f.follow")" \
    "$(val distinct "$f.dlog")" "$(val missing "$f.dlog")" \
    "$(secs "$(kv mon_cpu "$f.stats")")" "$(secs "$(kv daemon_cpu "$f.stats")")" "$(kv daemon_hwm "$f.stats")M"
done <"$tmp/runs"
if $docker_ok; then
  f=$tmp/docker
  w=$(written "$f.dlog")
  # shellcheck disable=SC2059
  printf "$fmt" "docker:$DOCKER_RATE" "$w" "$(achieved "$w" "$f.dlog")" n/a n/a n/a n/a n/a n/a n/a n/a \
    "$(val distinct "$f.dlog")" "$(val missing "$f.dlog")" \
    "$(secs "$(kv mon_cpu "$f.stats")")" "$(secs "$(kv daemon_cpu "$f.stats")")" "$(kv daemon_hwm "$f.stats")M"
fi
cat <<EOF

written: lines the plugin wrote (its "flood done" line); lines/s: written / the plugin's elapsed time.
history: distinct lines in \`plugdbg logs\` afterwards; h.miss: missing ones (h.dup: repeated).
follower: distinct lines a live \`plugdbg logs -f -t\` got; skipped: the sum of its "N lines skipped"
markers; p50/p99: its receive time minus the time the plugin wrote the line.
daemonlog: distinct lines in the daemon's stderr log (for docker: dockerd's log, its only record).
mon.cpu: CPU seconds of the plugin's monitor (docker: containerd shim); d.cpu: of the daemon
(docker: dockerd); d.rss: the daemon's peak RSS during the run (VmHWM).
EOF
$docker_ok && echo "dockerd stamps plugin lines to the second: its stamp_* below mean nothing."
echo
echo "details (logcheck reports; stamp_* is the time the monitor read the line minus the time written):"
for f in "$tmp"/*.follow "$tmp"/*.hist "$tmp"/*.dlog; do
  [ -s "$f" ] && echo "  $(basename "$f"): $(cat "$f")"
done
# The daemon's own complaints (plugin stderr lines are level=error too).
grep -E 'level=(error|warning|fatal|panic)' "$tmp/pd.log" | grep -vE 'msg="?(stderr seq=|flood done )' >"$tmp/warn" || true
if [ -s "$tmp/warn" ]; then
  echo "daemon warnings and errors: $(wc -l <"$tmp/warn"), the first ones:"
  head -5 "$tmp/warn" | cut -c1-240 | sed 's/^/  /'
fi
