#!/usr/bin/env bash
# Installs what plugdbg needs on a fresh Debian machine, and nothing twice.
#   deps.sh run    build tools only
#   deps.sh test   also docker.io: the stock docker CLI and dockerd are the
#                  reference the interop tests and the benchmark compare with;
#                  chromium for the web UI's browser test; openssh-server and
#                  openssh-client for the ssh:// tests, which run an sshd of
#                  their own (the system's is never started); prometheus
#                  (without its recommends) for promtool, which checks
#                  contrib/prometheus and /metrics, and for the metrics test,
#                  which runs a Prometheus server of its own (the system's is
#                  never started either); sudo, for the test of the
#                  README's `sudo make run` as a user
set -euo pipefail
missing=()
command -v gcc >/dev/null || missing+=(gcc)
# plugdbg is linked statically (Makefile): glibc's static libc.a.
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || [ -f "/usr/lib/$(gcc -dumpmachine 2>/dev/null)/libc.a" ] || missing+=(libc6-dev)
command -v make >/dev/null || missing+=(make)
# The exec toolbox: a static busybox that runs inside plugins with no shell.
[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || missing+=(busybox-static)
# `plugdbg top PLUGIN [ps OPTIONS]` runs the host's ps, as dockerd does.
command -v ps >/dev/null || missing+=(procps)
# The web UI bundle (make webui) is built with node and npm.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ "${1:-run}" = test ]; then
  command -v dockerd >/dev/null || missing+=(docker.io)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  # The README's `sudo make run`, as a user with sudo rights, is tested.
  command -v sudo >/dev/null || missing+=(sudo)
fi
# Packages whose postinst starts a system service the tests do not want.
ssh_missing=()
prom_missing=()
if [ "${1:-run}" = test ]; then
  [ -x /usr/sbin/sshd ] || ssh_missing+=(openssh-server)
  command -v ssh >/dev/null && command -v ssh-keygen >/dev/null || ssh_missing+=(openssh-client)
  [ -x /usr/bin/prometheus ] && command -v promtool >/dev/null || prom_missing+=(prometheus)
fi
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ] || [ ${#ssh_missing[@]} -gt 0 ] || [ ${#prom_missing[@]} -gt 0 ]; then
  apt-get update -qq
fi
if [ ${#missing[@]} -gt 0 ]; then
  apt-get install -y -qq "${missing[@]}"
fi
# without_services PKG...: install the packages without letting their
# postinst start a service. openssh-server's starts a system sshd on port
# 22, prometheus's a server on port 9090 (and its recommended node
# exporter on 9100), each enabled at boot; the tests need none of them. A
# policy-rc.d that refuses every start (invoke-rc.d and deb-systemd-invoke
# ask it) holds the starts back during the install (a machine's own policy
# is left as it is); the caller then disables the services at boot and
# stops one that started all the same (a policy that allowed it).
without_services() {
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [ ! -e "$policy" ]; then
    own_policy=1
    printf '#!/bin/sh\n# deps.sh: no service starts while these packages install\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -qq "$@"
  if [ $own_policy = 1 ]; then rm -f "$policy"; trap - EXIT; fi
}
# no_service UNIT PIDFILE: UNIT disabled at boot, and its daemon stopped
# if it runs (only the install just made can have started it: the package
# was not there before).
no_service() {
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now "$1.service" >/dev/null 2>&1 || true
  else
    update-rc.d "$1" disable >/dev/null 2>&1 || true
  fi
  if [ -s "$2" ] && kill -0 "$(cat "$2")" 2>/dev/null; then
    kill "$(cat "$2")" || true
  fi
}
if [ ${#ssh_missing[@]} -gt 0 ]; then
  without_services "${ssh_missing[@]}"
  if [[ " ${ssh_missing[*]} " == *" openssh-server "* ]]; then
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
      systemctl disable --now ssh.socket >/dev/null 2>&1 || true
    fi
    no_service ssh /run/sshd.pid
  fi
fi
if [ ${#prom_missing[@]} -gt 0 ]; then
  # Only the server and promtool: not the node exporter it recommends.
  without_services --no-install-recommends "${prom_missing[@]}"
  no_service prometheus /run/prometheus/prometheus.pid
fi
# Go is installed by hand (go.dev's tarball, golang.org/dl): found where it
# is, also under sudo, whose PATH leaves /usr/local/go/bin out.
go=$("$(dirname "$0")/findgo.sh")
# The tests' modules ahead of their runs; `make run` builds as the user who
# ran sudo (scripts/run.sh), who downloads what the build needs into their
# own module cache, not root's.
if [ "${1:-run}" = test ]; then
  "$go" mod download
fi
