#!/usr/bin/env bash
# Installs what plugdbg needs on a fresh Debian machine, and nothing twice.
#   deps.sh run    build tools only
#   deps.sh test   also docker.io: the stock docker CLI and dockerd are the
#                  reference the interop tests and the benchmark compare with;
#                  chromium for the web UI's browser test
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
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
fi
command -v go >/dev/null || { echo "deps.sh: Go is required (see go.mod for the version)" >&2; exit 1; }
go mod download
