#!/usr/bin/env bash
# Times create, enable, disable and rm of the volume test plugin, each as a
# whole CLI process, and prints the median of N runs. Where dockerd is
# installed, the same steps run against a private dockerd in the same run,
# round by round with plugdbg's, and the ratios are printed. The docker CLI
# is the first `docker` on PATH (printed with its version). Needs root and
# `make build plugins`.
#   N=9 bench/lifecycle.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${N:-7}
plugin_dir=build/plugins/volume
bin=$PWD/build/plugdbg
dbin=$PWD/build/plugdbgd
[ -x "$bin" ] && [ -x "$dbin" ] && [ -d "$plugin_dir" ] || { echo "run: make build plugins" >&2; exit 1; }

# The machine's load before anything of the bench runs: a figure taken
# beside other work says as much about that work as about plugdbg.
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average at the start: $load_start ($(nproc) CPUs)"

tmp=$(mktemp -d /tmp/pdb.XXXXXX)
pids=()
cleanup() { stop_all "$tmp" "${pids[@]}"; }
trap cleanup EXIT

# round PREFIX I CLI...: one create/enable/disable/rm of plugin benchI.
round() {
  local prefix=$1 i=$2; shift 2
  run_step "$tmp/$prefix.create" "$@" plugin create "bench$i" "$plugin_dir"
  run_step "$tmp/$prefix.enable" "$@" plugin enable "bench$i"
  run_step "$tmp/$prefix.disable" "$@" plugin disable "bench$i"
  run_step "$tmp/$prefix.rm" "$@" plugin rm "bench$i"
}

# plugdbg's CLI has the verbs at the top level; this shim takes docker's form.
plugdbg_cli() { shift; "$bin" -H "unix://$tmp/pd.sock" "$@"; }
docker_cli() { docker -H "unix://$tmp/docker.sock" "$@"; }

"$dbin" -H "unix://$tmp/pd.sock" --data-root "$tmp/pd-data" --exec-root "$tmp/r" --ui-addr "" 2>"$tmp/pd.log" &
pids+=($!)
wait_for "$bin" -H "unix://$tmp/pd.sock" version

# Both daemons run side by side for the whole measurement, so that the one
# measured second does not have the machine to itself.
have_docker=false
if command -v dockerd >/dev/null && command -v docker >/dev/null; then
  dockerd --iptables=false --ip6tables=false --bridge=none -H "unix://$tmp/docker.sock" \
    --data-root "$tmp/docker-data" --exec-root "$tmp/docker-exec" --pidfile "$tmp/docker.pid" \
    >"$tmp/dockerd.log" 2>&1 &
  pids+=($!)
  if wait_for docker_cli version; then
    have_docker=true
    echo "docker: CLI $(command -v docker) $(docker_cli version -f '{{.Client.Version}}'), dockerd $(command -v dockerd) $(docker_cli version -f '{{.Server.Version}}')"
  else
    echo "dockerd did not start; its log:" >&2; tail -5 "$tmp/dockerd.log" >&2
  fi
fi

# Interleaved, so that a change in the machine's load hits both alike; the
# one that goes first alternates, so that neither always follows the other's
# teardown (disable/rm leave unmounts and exits behind).
for i in $(seq 1 "$N"); do
  if ! $have_docker; then
    round plugdbg "$i" plugdbg_cli
  elif (( i % 2 )); then
    round plugdbg "$i" plugdbg_cli; round docker "$i" docker_cli
  else
    round docker "$i" docker_cli; round plugdbg "$i" plugdbg_cli
  fi
done

printf "plugin lifecycle, median of %d runs, whole CLI process (ms), %d CPUs, load average %s at the start, %s at the end\n" \
  "$N" "$(nproc)" "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)"
if $have_docker; then
  printf "%-8s %10s %10s %8s\n" step plugdbg docker ratio
  for s in create enable disable rm; do
    p=$(median_ms "$tmp/plugdbg.$s"); d=$(median_ms "$tmp/docker.$s")
    printf "%-8s %10s %10s %8s\n" "$s" "$p" "$d" "$(awk -v p="$p" -v d="$d" 'BEGIN{printf "%.3f", p/d}')"
  done
else
  printf "%-8s %10s   (dockerd not installed: no comparison)\n" step plugdbg
  for s in create enable disable rm; do printf "%-8s %10s\n" "$s" "$(median_ms "$tmp/plugdbg.$s")"; done
fi
