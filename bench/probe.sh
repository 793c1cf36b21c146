#!/usr/bin/env bash
# plugdbg probe against the volume test plugin run by a private daemon:
#  1. --repeat throughput and median latency next to a plain Go net/http
#     client making the same calls (bench/cmd/plaincall), at concurrency 1
#     and 4, best of R rounds each;
#  2. one whole `plugdbg probe` process next to one curl process making the
#     same call, median of N runs each, and the minor page faults of each.
# Needs root and `make build plugins`.
#   CALLS=20000 N=51 R=3 bench/probe.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
CALLS=${CALLS:-20000}
N=${N:-51}
R=${R:-3}
bin=$PWD/build/plugdbg
dbin=$PWD/build/plugdbgd
plugin_dir=build/plugins/volume
[ -x "$bin" ] && [ -x "$dbin" ] && [ -d "$plugin_dir" ] || { echo "run: make build plugins" >&2; exit 1; }

tmp=$(mktemp -d /tmp/pdp.XXXXXX)
pids=()
cleanup() {
  "$bin" -H "unix://$tmp/pd.sock" rm -f benchvol >/dev/null 2>&1 || true
  stop_all "$tmp" "${pids[@]}"
}
trap cleanup EXIT

"${GO:-go}" build -o "$tmp/plaincall" ./bench/cmd/plaincall # GO: as make found it
"$dbin" -H "unix://$tmp/pd.sock" --data-root "$tmp/data" --exec-root "$tmp/r" --ui-addr "" 2>"$tmp/pd.log" &
pids+=($!)
wait_for "$bin" -H "unix://$tmp/pd.sock" version
pd() { "$bin" -H "unix://$tmp/pd.sock" "$@"; }
pd create benchvol "$plugin_dir" >/dev/null
pd enable benchvol >/dev/null
sock=$(pd inspect -f '{{.State.Socket}}' benchvol)
print_load "at the start"
echo "plugin socket: $sock"

# rate LINE: the calls/s figure of a "...: N calls in T: R calls/s, ..." line.
rate() { sed -n 's/.*: \([0-9]*\) calls\/s.*/\1/p'; }
p50() { sed -n 's/.*p50 \([^ ]*\).*/\1/p'; }

echo
echo "== --repeat $CALLS VolumeDriver.List vs a plain Go HTTP client (best of $R)"
for c in 1 4; do
  best_pd=0 best_plain=0 pd_p50= plain_p50=
  for _ in $(seq 1 "$R"); do
    out=$("$tmp/plaincall" -socket "$sock" -n "$CALLS" -c "$c")
    r=$(echo "$out" | rate); if [ "$r" -gt "$best_plain" ]; then best_plain=$r; plain_p50=$(echo "$out" | p50); fi
    out=$(pd probe --socket "$sock" VolumeDriver.List --repeat "$CALLS" --concurrency "$c")
    r=$(echo "$out" | rate); if [ "$r" -gt "$best_pd" ]; then best_pd=$r; pd_p50=$(echo "$out" | p50); fi
  done
  awk -v c="$c" -v a="$best_pd" -v b="$best_plain" -v pa="$pd_p50" -v pb="$plain_p50" 'BEGIN {
    printf "concurrency %d: plugdbg %d calls/s (p50 %s), plain Go %d calls/s (p50 %s): ratio %.2f\n", c, a, pa, b, pb, a/b }'
done

echo
echo "== one process, VolumeDriver.List, median of $N (the two interleaved, so load affects both alike)"
# The clock is bash's EPOCHREALTIME, not $(date): a fork would add a process
# start to both sides.
median_us() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
: >"$tmp/t_pd"; : >"$tmp/t_curl"
for _ in $(seq 1 "$N"); do
  t0=${EPOCHREALTIME/./}; "$bin" probe --socket "$sock" VolumeDriver.List >/dev/null
  echo $(( ${EPOCHREALTIME/./} - t0 )) >>"$tmp/t_pd"
  t0=${EPOCHREALTIME/./}; curl -s -XPOST -d '{}' -H 'Accept: application/vnd.docker.plugins.v1.2+json' --unix-socket "$sock" http://plugin/VolumeDriver.List >/dev/null
  echo $(( ${EPOCHREALTIME/./} - t0 )) >>"$tmp/t_curl"
done
t_pd=$(median_us <"$tmp/t_pd")
t_curl=$(median_us <"$tmp/t_curl")
awk -v a="$t_pd" -v b="$t_curl" 'BEGIN { printf "plugdbg probe %.2f ms, curl %.2f ms: ratio %.2f\n", a/1000, b/1000, a/b }'

# Minor page faults of each process (on this kind of VM the start of a
# process costs about what it faults in; see bench/README.md), in a pass of
# their own so that the wrapper does not weigh on the times above, again
# interleaved. GNU time prints them as %R.
if [ -x /usr/bin/time ]; then
  : >"$tmp/f_pd"; : >"$tmp/f_curl"
  for _ in $(seq 1 "$N"); do
    /usr/bin/time -f %R -a -o "$tmp/f_pd" "$bin" probe --socket "$sock" VolumeDriver.List >/dev/null
    /usr/bin/time -f %R -a -o "$tmp/f_curl" curl -s -XPOST -d '{}' -H 'Accept: application/vnd.docker.plugins.v1.2+json' --unix-socket "$sock" http://plugin/VolumeDriver.List >/dev/null
  done
  echo "minor page faults (median): plugdbg probe $(median_us <"$tmp/f_pd"), curl $(median_us <"$tmp/f_curl")"
else
  echo "minor page faults: /usr/bin/time (GNU time) not installed"
fi
print_load "at the end"
