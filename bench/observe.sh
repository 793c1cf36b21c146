#!/usr/bin/env bash
# What observing a plugin costs a call: the volume test plugin run by a
# private daemon, VolumeDriver.List called with plugdbg probe --repeat on its
# socket, unobserved and observed (plugdbg observe: the recording point in
# its monitor), at concurrency 1 and 4, interleaved R rounds (best round
# each). Prints calls/s and p50/p99 latency of each, and the p50 and p99 the
# point adds. Needs root and `make build plugins`.
#   CALLS=20000 R=3 bench/observe.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
CALLS=${CALLS:-20000}
R=${R:-3}
bin=$PWD/build/plugdbg
dbin=$PWD/build/plugdbgd
plugin_dir=build/plugins/volume
[ -x "$bin" ] && [ -x "$dbin" ] && [ -d "$plugin_dir" ] || { echo "run: make build plugins" >&2; exit 1; }

tmp=$(mktemp -d /tmp/pdo.XXXXXX)
pids=()
cleanup() {
  "$bin" -H "unix://$tmp/pd.sock" rm -f benchvol >/dev/null 2>&1 || true
  stop_all "$tmp" "${pids[@]}"
}
trap cleanup EXIT

"$dbin" -H "unix://$tmp/pd.sock" --data-root "$tmp/data" --exec-root "$tmp/r" --ui-addr "" 2>"$tmp/pd.log" &
pids+=($!)
wait_for "$bin" -H "unix://$tmp/pd.sock" version
pd() { "$bin" -H "unix://$tmp/pd.sock" "$@"; }
pd create benchvol "$plugin_dir" >/dev/null
pd enable benchvol >/dev/null
sock=$(pd inspect -f '{{.State.Socket}}' benchvol)
print_load "at the start"
echo "plugin socket: $sock"

rate() { sed -n 's/.*: \([0-9]*\) calls\/s.*/\1/p'; }
pct() { sed -n "s/.*$1 \([^ ]*\).*/\1/p"; }
# us DURATION: a Go duration (12.3µs, 1.2ms) in microseconds.
us() { awk -v d="$1" 'BEGIN { if (d ~ /ms$/) { sub(/ms$/, "", d); print d*1000 } else if (d ~ /µs$/) { sub(/µs$/, "", d); print d+0 } else if (d ~ /ns$/) { sub(/ns$/, "", d); print d/1000 } else { sub(/s$/, "", d); print d*1000000 } }'; }

# run C: one --repeat round; prints "rate p50us p99us".
run() {
  local out
  out=$(pd probe --socket "$sock" VolumeDriver.List --repeat "$CALLS" --concurrency "$1")
  echo "$(echo "$out" | rate) $(us "$(echo "$out" | pct p50)") $(us "$(echo "$out" | pct p99)")"
}

echo
echo "== --repeat $CALLS VolumeDriver.List, unobserved vs observed (best of $R interleaved rounds)"
for c in 1 4; do
  best_off="0 0 0" best_on="0 0 0"
  for _ in $(seq 1 "$R"); do
    pd observe --off benchvol
    r=$(run "$c"); [ "${r%% *}" -gt "${best_off%% *}" ] && best_off=$r
    pd observe benchvol
    r=$(run "$c"); [ "${r%% *}" -gt "${best_on%% *}" ] && best_on=$r
  done
  echo "$c $best_off $best_on" | awk '{
    printf "concurrency %d: unobserved %d calls/s (p50 %.0fus, p99 %.0fus), observed %d calls/s (p50 %.0fus, p99 %.0fus): p50 %+.0fus, p99 %+.0fus, calls/s x%.2f\n",
      $1, $2, $3, $4, $5, $6, $7, $6-$3, $7-$4, $5/$2 }'
done
pd observe --off benchvol
print_load "at the end"
