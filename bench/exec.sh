#!/usr/bin/env bash
# Times `plugdbg exec PLUGIN true` as a whole CLI process (start to exit),
# median of N runs, on the volume test plugin, whose rootfs holds only its
# binary, so `true` runs from the toolbox. Beside it, where runc is
# installed (docker.io ships it): `runc exec` into a comparable container
# made with `runc spec` from the same rootfs plus a static busybox (runc has
# no toolbox, so the busybox has to be in the rootfs). Needs root and
# `make build plugins`.
#   N=51 bench/exec.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${N:-31}
plugin_dir=build/plugins/volume
bin=$PWD/build/plugdbg
dbin=$PWD/build/plugdbgd
[ -x "$bin" ] && [ -x "$dbin" ] && [ -d "$plugin_dir" ] || { echo "run: make build plugins" >&2; exit 1; }

tmp=$(mktemp -d /tmp/pde.XXXXXX)
pids=()
runc_root=$tmp/runc
cleanup() {
  if command -v runc >/dev/null && [ -d "$runc_root" ]; then
    runc --root "$runc_root" delete -f pdbench >/dev/null 2>&1 || true
  fi
  "$bin" -H "unix://$tmp/pd.sock" rm -f vol >/dev/null 2>&1 || true
  stop_all "$tmp" "${pids[@]}"
}
trap cleanup EXIT

stat_ms() { # FILE: median, min and max in ms
  sort -n "$1" | awk '{a[NR]=$1} END {m = (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2;
    printf "median %6.1f ms   min %6.1f   max %6.1f   (n=%d)", m/1000, a[1]/1000, a[NR]/1000, NR}'
}

pd() { "$bin" -H "unix://$tmp/pd.sock" "$@"; }

"$dbin" -H "unix://$tmp/pd.sock" --data-root "$tmp/pd-data" --exec-root "$tmp/r" --ui-addr "" 2>"$tmp/pd.log" &
pids+=($!)
wait_for pd version
pd create vol "$plugin_dir" >/dev/null
pd enable vol >/dev/null
pd exec vol true # warm up, and fail early if exec does not work

# The runc container, if runc and a static busybox are here.
with_runc=1
busybox=$(command -v busybox || true)
if ! command -v runc >/dev/null; then
  with_runc=0; why="runc not installed (scripts/deps.sh test installs docker.io, which has it)"
elif [ -z "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
  with_runc=0; why="no static busybox"
fi
if [ $with_runc = 1 ]; then
  bundle=$tmp/bundle
  mkdir -p "$bundle/rootfs/bin"
  cp -a "$plugin_dir/rootfs/." "$bundle/rootfs/"
  cp "$busybox" "$bundle/rootfs/bin/busybox"
  for a in true sleep; do ln -s busybox "$bundle/rootfs/bin/$a"; done
  (cd "$bundle" && runc spec)
  python3 - "$bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/sleep", "3600"]
c["root"]["readonly"] = False
json.dump(c, open(p, "w"), indent=1)
PY
  runc --root "$runc_root" run -d --bundle "$bundle" pdbench </dev/null >/dev/null 2>&1
  runc --root "$runc_root" exec pdbench /bin/true
fi

# Interleaved, so that a change in the machine's load hits all alike.
for _ in $(seq 1 "$N"); do
  run_step "$tmp/plugdbg" pd exec vol true
  run_step "$tmp/plugdbg-t" pd exec -t vol true
  if [ $with_runc = 1 ]; then run_step "$tmp/runc.times" runc --root "$runc_root" exec pdbench /bin/true; fi
done

echo "exec of true, whole CLI process, $(nproc) CPUs, load average $(cut -d' ' -f1 /proc/loadavg) at the end:"
printf '  %-40s %s\n' "plugdbg exec vol true (toolbox)" "$(stat_ms "$tmp/plugdbg")"
printf '  %-40s %s\n' "plugdbg exec -t vol true (toolbox, pty)" "$(stat_ms "$tmp/plugdbg-t")"
if [ $with_runc = 1 ]; then
    printf '  %-40s %s\n' "runc exec pdbench /bin/true ($(runc --version | head -1 | awk '{print $3}'))" "$(stat_ms "$tmp/runc.times")"
  else
    echo "  no runc comparison: $why"
fi
