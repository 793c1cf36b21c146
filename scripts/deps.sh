#!/usr/bin/env bash
# Installs what plugdbg needs on a fresh Debian machine, and nothing twice.
#   deps.sh run    build tools only
#   deps.sh test   also docker.io: the stock docker CLI and dockerd are the
#                  reference the interop tests and the benchmark compare with;
#                  chromium for the web UI's browser test; openssh-server and
#                  openssh-client for the ssh:// tests, which run an sshd of
#                  their own (the system's is never started)
set -euo pipefail
missing=()
command -v gcc >/dev/null || missing+=(gcc)
# plugdbg is linked statically (Makefile): glibc's static libc.a.
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || [ -f "/usr/lib/$(gcc -dumpmachine 2>/dev/null)/libc.a" ] || missing+=(libc6-dev)
command -v make >/dev/null || missing+=(make)
# The exec toolbox: a static busybox that runs inside plugins with no shell.
[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || missing+=(busybox-static)
# The web UI bundle (make webui) is built with node and npm.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ "${1:-run}" = test ]; then
  command -v dockerd >/dev/null || missing+=(docker.io)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
fi
ssh_missing=()
if [ "${1:-run}" = test ]; then
  [ -x /usr/sbin/sshd ] || ssh_missing+=(openssh-server)
  command -v ssh >/dev/null && command -v ssh-keygen >/dev/null || ssh_missing+=(openssh-client)
fi
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ] || [ ${#ssh_missing[@]} -gt 0 ]; then
  apt-get update -qq
fi
if [ ${#missing[@]} -gt 0 ]; then
  apt-get install -y -qq "${missing[@]}"
fi
if [ ${#ssh_missing[@]} -gt 0 ]; then
  # openssh-server's postinst starts a system sshd on port 22 and enables
  # it at boot. The tests need neither: a policy-rc.d that refuses every
  # start (invoke-rc.d and deb-systemd-invoke ask it) holds the start back
  # during the install (a machine's own policy is left as it is); then the
  # service is disabled at boot, and an sshd that started all the same
  # (a policy that allowed it) is stopped. Only this install can have
  # started it: there was no sshd before.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then
    own_policy=1
    printf '#!/bin/sh\n# deps.sh: no service starts while openssh-server installs\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get install -y -qq "${ssh_missing[@]}"
  if [ $own_policy = 1 ]; then rm -f "$policy"; trap - EXIT; fi
  if [[ " ${ssh_missing[*]} " == *" openssh-server "* ]]; then
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
      systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true
    else
      update-rc.d ssh disable >/dev/null 2>&1 || true
    fi
    if [ -s /run/sshd.pid ] && kill -0 "$(cat /run/sshd.pid)" 2>/dev/null; then
      kill "$(cat /run/sshd.pid)" || true
    fi
  fi
fi
command -v go >/dev/null || { echo "deps.sh: Go is required (see go.mod for the version)" >&2; exit 1; }
go mod download
