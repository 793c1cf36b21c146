#!/usr/bin/env bash
# The latency ssh:// adds: one whole `plugdbg probe vol Plugin.Activate`
# process against a private daemon on its local socket, beside the same
# through ssh://root@127.0.0.1 (a private sshd, the system ssh, `plugdbg
# dial-stdio` on the far end), without and with a ControlMaster
# (ControlMaster auto, ControlPersist 60, the socket in the temp dir), all
# interleaved, median of N runs each. `ssh … true` rows give the floor: a
# bare ssh login running one command. Needs root, openssh-server and
# `make build plugins`.
#   N=31 bench/remote.sh
#   CMD=ls bench/remote.sh     # plugdbg ls instead of probe
#   RC=1 bench/remote.sh       # let the remote login shell read root's ~/.bashrc
# A daemon without the plugin-socket tunnel (POST /plugins/{name}/connect)
# cannot probe over ssh (the plugin's socket is on the daemon's host): CMD
# falls back to ls then, and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${N:-21}
CMD=${CMD:-probe}
RC=${RC:-0}
plugin_dir=build/plugins/volume
bin=$PWD/build/plugdbg
dbin=$PWD/build/plugdbgd
[ -x "$bin" ] && [ -x "$dbin" ] && [ -d "$plugin_dir" ] || { echo "run: make build plugins" >&2; exit 1; }
[ -x /usr/sbin/sshd ] && command -v ssh >/dev/null || { echo "needs openssh-server and openssh-client (scripts/deps.sh test)" >&2; exit 1; }
case $CMD in probe | ls) ;; *) echo "CMD is probe or ls" >&2; exit 1 ;; esac
real_ssh=$(command -v ssh)
port=0

tmp=$(mktemp -d /tmp/pdr.XXXXXX)
pids=()
cleanup() {
  # The ControlMaster outlives its clients (ControlPersist): end it.
  if [ -f "$tmp/ssh_config.cm" ]; then
    "$real_ssh" -F "$tmp/ssh_config.cm" -O exit -p "$port" root@127.0.0.1 >/dev/null 2>&1 || true
  fi
  "$bin" -H "unix://$tmp/pd.sock" rm -f vol >/dev/null 2>&1 || true
  stop_all "$tmp" "${pids[@]}"
}
trap cleanup EXIT

# The daemon and its plugin.
"$dbin" -H "unix://$tmp/pd.sock" --data-root "$tmp/pd-data" --exec-root "$tmp/r" --ui-addr "" 2>"$tmp/pd.log" &
pids+=($!)
wait_for "$bin" -H "unix://$tmp/pd.sock" version
"$bin" -H "unix://$tmp/pd.sock" create vol "$plugin_dir" >/dev/null
"$bin" -H "unix://$tmp/pd.sock" enable vol >/dev/null

if [ "$CMD" = probe ]; then
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --unix-socket "$tmp/pd.sock" http://plugdbg/plugins/vol/connect || true)
  if [ "$code" = 404 ]; then
    echo "this daemon has no plugin-socket tunnel (POST /plugins/vol/connect: 404): probe cannot go over ssh; timing ls instead"
    CMD=ls
  fi
fi
case $CMD in
  probe) args=(probe vol Plugin.Activate) ;;
  ls) args=(ls) ;;
esac

# The sshd: its own host key, root by key only, and on the key's PATH a
# directory with the plugdbg under test. Unless RC=1, the key's SHLVL=1
# keeps bash from reading root's ~/.bashrc for the remote command (bash
# reads it when sshd starts it as the first shell), so the figures are
# ssh's and plugdbg's, not this machine's shell setup.
mkdir -p /run/sshd "$tmp/bin" "$tmp/cm" "$tmp/client" "$tmp/client-cm"
ln -s "$bin" "$tmp/bin/plugdbg"
ssh-keygen -q -t ed25519 -N "" -C host -f "$tmp/host_key"
ssh-keygen -q -t ed25519 -N "" -C bench -f "$tmp/id_bench"
env_opts="environment=\"PATH=$tmp/bin:/usr/bin:/bin\""
[ "$RC" = 1 ] || env_opts+=",environment=\"SHLVL=1\""
echo "$env_opts $(cat "$tmp/id_bench.pub")" >"$tmp/authorized_keys"

# A port found free may be taken before sshd binds it: then another.
for attempt in 1 2 3 4 5; do
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  cat >"$tmp/sshd_config" <<EOF
ListenAddress 127.0.0.1:$port
HostKey $tmp/host_key
PidFile $tmp/sshd.pid
AuthorizedKeysFile $tmp/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitUserEnvironment PATH,SHLVL
PrintMotd no
X11Forwarding no
AllowTcpForwarding no
MaxStartups 100
EOF
  /usr/sbin/sshd -D -e -f "$tmp/sshd_config" 2>"$tmp/sshd.log" &
  sshd_pid=$!
  for _ in $(seq 1 600); do
    grep -q "Server listening" "$tmp/sshd.log" && break
    kill -0 "$sshd_pid" 2>/dev/null || break
    sleep 0.05
  done
  if grep -q "Server listening" "$tmp/sshd.log"; then pids+=("$sshd_pid"); break; fi
  wait "$sshd_pid" 2>/dev/null || true
  grep -q "Bind to port" "$tmp/sshd.log" && [ "$attempt" -lt 5 ] || { echo "sshd did not start:" >&2; cat "$tmp/sshd.log" >&2; exit 1; }
done
echo "[127.0.0.1]:$port $(cat "$tmp/host_key.pub")" >"$tmp/known_hosts"

# Two ssh client setups, each an `ssh` wrapper first on PATH (ssh reads the
# config of the passwd home, not $HOME; -F keeps ~/.ssh out of it).
for v in plain cm; do
  {
    echo "Host *"
    echo "  IdentityFile $tmp/id_bench"
    echo "  IdentitiesOnly yes"
    echo "  IdentityAgent none"
    echo "  UserKnownHostsFile $tmp/known_hosts"
    echo "  GlobalKnownHostsFile /dev/null"
    echo "  StrictHostKeyChecking yes"
    echo "  BatchMode yes"
    if [ $v = cm ]; then
      echo "  ControlMaster auto"
      echo "  ControlPath $tmp/cm/%C"
      echo "  ControlPersist 60"
    fi
  } >"$tmp/ssh_config.$v"
done
printf '#!/bin/sh\nexec %s -F %s "$@"\n' "$real_ssh" "$tmp/ssh_config.plain" >"$tmp/client/ssh"
printf '#!/bin/sh\nexec %s -F %s "$@"\n' "$real_ssh" "$tmp/ssh_config.cm" >"$tmp/client-cm/ssh"
chmod 755 "$tmp/client/ssh" "$tmp/client-cm/ssh"

host="ssh://root@127.0.0.1:$port$tmp/pd.sock"
local_run() { "$bin" -H "unix://$tmp/pd.sock" "${args[@]}"; }
ssh_run() { PATH="$tmp/client:$PATH" "$bin" -H "$host" "${args[@]}"; }
cm_run() { PATH="$tmp/client-cm:$PATH" "$bin" -H "$host" "${args[@]}"; }
ssh_true() { "$tmp/client/ssh" -p "$port" root@127.0.0.1 true; }
cm_true() { "$tmp/client-cm/ssh" -p "$port" root@127.0.0.1 true; }

# Warm up, and fail early: the first CM run also starts the master.
for f in local_run ssh_run cm_run ssh_true cm_true; do $f >/dev/null; done

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
# Interleaved, so that a change in the machine's load hits all alike.
for _ in $(seq 1 "$N"); do
  run_step "$tmp/t.local" local_run
  run_step "$tmp/t.ssh" ssh_run
  run_step "$tmp/t.cm" cm_run
  run_step "$tmp/t.ssh_true" ssh_true
  run_step "$tmp/t.cm_true" cm_true
done

shell="root's ~/.bashrc skipped"
[ "$RC" = 1 ] && shell="root's ~/.bashrc read"
echo "plugdbg ${args[*]}, whole CLI process, median of $N runs (ms), $(nproc) CPUs, $(ssh -V 2>&1 | cut -d, -f1)," \
  "remote shell: $shell; load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
l=$(median_ms "$tmp/t.local")
row() { # LABEL FILE: median, added ms and ratio against the local run
  awk -v label="$1" -v m="$(median_ms "$2")" -v l="$l" 'BEGIN {
    printf "  %-44s %8.1f   +%7.1f ms   x%5.1f\n", label, m, m - l, m / l }'
}
printf '  %-44s %8s   %10s   %6s\n' "" "median" "added" "ratio"
printf '  %-44s %8.1f\n' "local socket (unix://)" "$l"
row "ssh:// 127.0.0.1, new connection" "$tmp/t.ssh"
row "ssh:// 127.0.0.1, ControlMaster" "$tmp/t.cm"
echo "  floor, one ssh login running \`true\`:"
printf '  %-44s %8s\n' "  ssh true, new connection" "$(median_ms "$tmp/t.ssh_true")"
printf '  %-44s %8s\n' "  ssh true, ControlMaster" "$(median_ms "$tmp/t.cm_true")"
