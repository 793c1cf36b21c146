#!/usr/bin/env bash
# Times create, enable, disable and rm of the volume test plugin, each as a
# whole CLI process and as the API call alone (bench/cmd/apicall sends the
# request the docker CLI sends, from a process already running), and prints
# the median of N runs. Where dockerd is installed, the same steps run
# against a private dockerd in the same run, round by round with plugdbg's,
# and the ratios are printed. The docker CLI is the first `docker` on PATH
# (printed with its version). Needs root, go (to build apicall) and `make
# build plugins`.
#   N=9 bench/lifecycle.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${N:-7}
plugin_dir=build/plugins/volume
bin=$PWD/build/plugdbg
dbin=$PWD/build/plugdbgd
[ -x "$bin" ] && [ -x "$dbin" ] && [ -d "$plugin_dir" ] || { echo "run: make build plugins" >&2; exit 1; }
# GO: the go binary (make passes the one it found; sudo's PATH may have none).
gobin=${GO:-go}
command -v "$gobin" >/dev/null || { echo "lifecycle.sh: needs go, to build bench/cmd/apicall (GO=/path/to/go)" >&2; exit 1; }

# The machine's load before anything of the bench runs: a figure taken
# beside other work says as much about that work as about plugdbg.
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average at the start: $load_start ($(nproc) CPUs)"

tmp=$(mktemp -d /tmp/pdb.XXXXXX)
pids=()
cleanup() { stop_all "$tmp" "${pids[@]}"; }
trap cleanup EXIT
"$gobin" build -o "$tmp/apicall" ./bench/cmd/apicall

# round PREFIX I CLI...: one create/enable/disable/rm of plugin benchI.
round() {
  local prefix=$1 i=$2; shift 2
  run_step "$tmp/$prefix.create" "$@" plugin create "bench$i" "$plugin_dir"
  run_step "$tmp/$prefix.enable" "$@" plugin enable "bench$i"
  run_step "$tmp/$prefix.disable" "$@" plugin disable "bench$i"
  run_step "$tmp/$prefix.rm" "$@" plugin rm "bench$i"
}

# api_round PREFIX I SOCKET: the same steps as API calls, on plugin apiI.
api_round() {
  local prefix=$1 i=$2 sock=$3 s
  for s in create enable disable rm; do
    "$tmp/apicall" -socket "$sock" -step "$s" -name "api$i" -dir "$plugin_dir" >>"$tmp/$prefix.api.$s"
  done
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
    api_round plugdbg "$i" "$tmp/pd.sock"
  elif (( i % 2 )); then
    round plugdbg "$i" plugdbg_cli; round docker "$i" docker_cli
    api_round plugdbg "$i" "$tmp/pd.sock"; api_round docker "$i" "$tmp/docker.sock"
  else
    round docker "$i" docker_cli; round plugdbg "$i" plugdbg_cli
    api_round docker "$i" "$tmp/docker.sock"; api_round plugdbg "$i" "$tmp/pd.sock"
  fi
done

ratio() { awk -v p="$1" -v d="$2" 'BEGIN{printf "%.3f", p/d}'; }
printf "plugin lifecycle, median of %d runs (ms), %d CPUs, load average %s at the start, %s at the end\n" \
  "$N" "$(nproc)" "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)"
if $have_docker; then
  printf "%-8s | %-28s | %s\n" "" "whole CLI process" "API call (no CLI start)"
  printf "%-8s | %8s %9s %9s | %8s %9s %9s\n" step plugdbg docker ratio plugdbg docker ratio
  for s in create enable disable rm; do
    p=$(median_ms "$tmp/plugdbg.$s"); d=$(median_ms "$tmp/docker.$s")
    pa=$(median_ms "$tmp/plugdbg.api.$s"); da=$(median_ms "$tmp/docker.api.$s")
    printf "%-8s | %8s %9s %9s | %8s %9s %9s\n" "$s" "$p" "$d" "$(ratio "$p" "$d")" "$pa" "$da" "$(ratio "$pa" "$da")"
  done
else
  printf "%-8s %10s %10s   (dockerd not installed: no comparison)\n" step CLI "API call"
  for s in create enable disable rm; do printf "%-8s %10s %10s\n" "$s" "$(median_ms "$tmp/plugdbg.$s")" "$(median_ms "$tmp/plugdbg.api.$s")"; done
fi
