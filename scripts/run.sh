#!/usr/bin/env bash
# Runs the daemon, plugdbgd, in the foreground with the example plugins
# created and enabled, and ends with a banner: the web UI's URL and how to
# use the CLI. Ctrl-C stops the daemon; the plugins keep running, as they
# do under plugdbgd alone, and the next run reattaches to them.
#
# Run with sudo by a user (`sudo make run`), it builds as that user when
# the clone is theirs: build/, the web UI's node_modules and the Go and npm
# caches stay the user's, and npm's install scripts do not run as root.
# Only the packages (scripts/deps.sh) and the daemon need root.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "run.sh: plugdbgd needs root (containers, mounts, cgroups): sudo make run" >&2
  exit 1
fi

bin=./build/plugdbg
# The addresses the daemon will use: its defaults, or those given to run.sh.
sock=/run/plugdbg/plugdbg.sock
ui=127.0.0.1:7777
data_root=/var/lib/plugdbg
exec_root=/run/plugdbg
args=("$@")
for i in "${!args[@]}"; do
  next=${args[$((i + 1))]:-}
  case ${args[$i]} in
  --ui-addr) ui=$next ;;
  --ui-addr=*) ui=${args[$i]#*=} ;;
  -H | --host) sock=${next#unix://} ;;
  --host=*) sock=${args[$i]#*=} sock=${sock#unix://} ;;
  --data-root) data_root=$next ;;
  --data-root=*) data_root=${args[$i]#*=} ;;
  --exec-root) exec_root=$next ;;
  --exec-root=*) exec_root=${args[$i]#*=} ;;
  esac
done
cli=("$bin" -H "unix://$sock")

# running_pid: the pid of the plugdbgd holding the data root's lock (it
# writes it there), if that process is a plugdbgd.
running_pid() {
  local pid
  pid=$(head -c 16 "$data_root/plugdbg.lock" 2>/dev/null | tr -dc 0-9)
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = plugdbgd ]; then
    echo "$pid"
  fi
}
# A daemon already on the roots: say so before building, as a build
# would replace the binary it runs from.
pid=$(running_pid)
if [ -n "$pid" ]; then
  echo "run.sh: plugdbgd is already running (pid $pid) on $data_root; stop it first (sudo kill $pid), or use it: sudo $bin ls" >&2
  exit 1
fi
scripts/deps.sh run
go=$(scripts/findgo.sh)

as_user=()
if [ -n "${SUDO_USER:-}" ] && [ "${SUDO_UID:-0}" != 0 ] && [ "$(stat -c %u .)" = "${SUDO_UID:-}" ]; then
  home=$(getent passwd "$SUDO_USER" | cut -d: -f6)
  # What an earlier build as root left in the clone goes back to its
  # owner, or the user's build could not replace it.
  for d in build webui/dist webui/frontend/node_modules; do
    if [ -d "$d" ] && [ ! -L "$d" ]; then
      find "$d" -uid 0 -exec chown -h "$SUDO_UID:$SUDO_GID" {} +
    fi
  done
  as_user=(runuser -u "$SUDO_USER" -- env HOME="$home" USER="$SUDO_USER" LOGNAME="$SUDO_USER")
fi
"${as_user[@]}" make --no-print-directory GO="$go" build plugins

# Another daemon on the socket (on other roots) would answer the
# readiness check below in place of this one: say so, and start nothing.
if "${cli[@]}" version >/dev/null 2>&1; then
  echo "run.sh: a daemon is already serving $sock; stop it first, or use it: sudo $bin ls" >&2
  exit 1
fi

./build/plugdbgd "$@" &
daemon=$!
# Ctrl-C reaches the daemon too (the terminal signals the whole process
# group); TERM covers a signal sent to this script alone.
trap 'kill -TERM "$daemon" 2>/dev/null; wait "$daemon"; exit 130' INT TERM

# Wait for this daemon's API (its restore of many plugins takes a while):
# the daemon exiting ends the wait, and so does a bound.
start=$SECONDS
until "${cli[@]}" version >/dev/null 2>&1; do
  if ! kill -0 "$daemon" 2>/dev/null; then
    wait "$daemon" || true
    echo "run.sh: plugdbgd did not start (its error is above)" >&2
    exit 1
  fi
  if [ $((SECONDS - start)) -ge 120 ]; then
    echo "run.sh: plugdbgd (pid $daemon) did not answer on $sock within 120 s; stopping it" >&2
    kill -TERM "$daemon"
    wait "$daemon" || true
    exit 1
  fi
  sleep 0.05
done

# The example plugins: name and plugin directory (the test plugins: a
# volume driver, a network driver with its IPAM driver, an authz plugin and
# one that writes what it is asked to, for the log views).
for example in "pdvol build/plugins/volume" "pdnet build/plugins/network" \
  "pdipam build/plugins/ipam" "pdauthz build/plugins/authz" "pdecho build/plugins/echo"; do
  set -- $example
  if ! "${cli[@]}" inspect "$1" >/dev/null 2>&1; then
    "${cli[@]}" create "$1" "$2" >/dev/null
  fi
  if [ "$("${cli[@]}" inspect --format '{{.Enabled}}' "$1")" != "true" ]; then
    "${cli[@]}" enable "$1" >/dev/null
  fi
done
"${cli[@]}" ls

# The banner. The token file is this daemon's: it removes a stale one
# before it serves, and its own when it stops.
token=$exec_root/webui.token
echo
echo "plugdbgd is running (pid $daemon) on unix://$sock with the example plugins; Ctrl-C stops it (the plugins keep running)"
if [ -n "$ui" ] && [ -r "$token" ]; then
  echo "  web UI:  http://$ui/?token=$(cat "$token")"
elif [ -n "$ui" ]; then
  echo "  web UI:  off: plugdbgd could not serve it on $ui (its log above says why)"
fi
echo "  CLI:     sudo $bin ls    (root, or a member of the socket's group: plugdbgd --group)"
echo "  PATH:    sudo make install, or export PATH=$PWD/build:\$PATH"
wait "$daemon"
