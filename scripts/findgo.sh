#!/usr/bin/env bash
# Prints the path of the go command, wherever the machine has it. Under
# sudo, PATH is sudo's secure_path, which leaves out /usr/local/go/bin (where
# go.dev's tarball puts Go) and the invoking user's own Go, so `sudo make
# run` would fail with "go: not found". Tried in order: go on PATH,
# /usr/local/go/bin/go, the sudo user's ~/go/bin, ~/sdk/go*/bin (golang.org/dl)
# and ~/.local/go/bin, then go on that user's own login PATH. Exits 1 with
# one line saying what to do if none is found.
set -euo pipefail
if go=$(command -v go); then
  echo "$go"
  exit 0
fi
candidates=(/usr/local/go/bin/go)
user=${SUDO_USER:-}
home=
if [ -n "$user" ] && [ "$user" != root ]; then
  home=$(getent passwd "$user" | cut -d: -f6 || true)
fi
if [ -n "$home" ]; then
  # The newest of the golang.org/dl SDKs first.
  mapfile -t sdks < <(ls -d "$home"/sdk/go*/bin/go 2>/dev/null | sort -rV || true)
  candidates+=("$home/go/bin/go" "${sdks[@]}" "$home/.local/go/bin/go")
fi
for go in "${candidates[@]}"; do
  if [ -x "$go" ]; then
    echo "$go"
    exit 0
  fi
done
# The user's login shell sets up their PATH (~/.profile): run as them,
# without a PAM session (setpriv, not su: nothing such as a systemd user
# manager is started), bounded, and its chatter on stdout is ignored but
# for the last line.
if [ -n "$home" ] && [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
  go=$(cd / && timeout 10 env -i HOME="$home" USER="$user" LOGNAME="$user" PATH=/usr/local/bin:/usr/bin:/bin \
    setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups bash -lc 'command -v go' 2>/dev/null </dev/null | tail -n 1 || true)
  if [ -n "$go" ] && [ "${go#/}" != "$go" ] && [ -x "$go" ]; then
    echo "$go"
    exit 0
  fi
fi
echo "go: not found on PATH, in /usr/local/go/bin or ${home:-~}/go/bin: install Go (see go.mod for the version, https://go.dev/doc/install), or name it: make GO=/path/to/go" >&2
exit 1
