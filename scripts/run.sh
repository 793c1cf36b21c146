#!/usr/bin/env bash
# Runs the daemon, plugdbgd, in the foreground with the example plugins
# created and enabled. Ctrl-C stops the daemon; the plugins keep running, as
# they do under plugdbgd alone, and the next run reattaches to them.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "run.sh: plugdbgd needs root (containers, mounts, cgroups): use sudo" >&2
  exit 1
fi
scripts/deps.sh run
make --no-print-directory build plugins

bin=./build/plugdbg
./build/plugdbgd "$@" &
daemon=$!
trap 'kill -TERM "$daemon" 2>/dev/null; wait "$daemon"' INT TERM

# Wait for the API rather than sleeping a fixed time.
for _ in $(seq 1 200); do
  "$bin" version >/dev/null 2>&1 && break
  kill -0 "$daemon" 2>/dev/null || { echo "run.sh: the daemon exited" >&2; exit 1; }
  sleep 0.05
done

# The example plugins: name and plugin directory (the test plugins: a
# volume driver, a network driver with its IPAM driver, an authz plugin and
# one that writes what it is asked to, for the log views).
for example in "pdvol build/plugins/volume" "pdnet build/plugins/network" \
  "pdipam build/plugins/ipam" "pdauthz build/plugins/authz" "pdecho build/plugins/echo"; do
  set -- $example
  if ! "$bin" inspect "$1" >/dev/null 2>&1; then
    "$bin" create "$1" "$2"
  fi
  if [ "$("$bin" inspect --format '{{.Enabled}}' "$1")" != "true" ]; then
    "$bin" enable "$1"
  fi
done
"$bin" ls
echo "plugdbg: daemon running (pid $daemon); try: $bin inspect pdvol; Ctrl-C stops the daemon"
# The web UI's address and token, unless flags moved or disabled it.
token=/run/plugdbg/webui.token
if [ -r "$token" ]; then
  echo "plugdbg: web UI at http://127.0.0.1:7777/?token=$(cat "$token")"
fi
wait "$daemon"
