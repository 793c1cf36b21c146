#!/usr/bin/env bash
# Web UI benchmark (bench/cmd/webuibench): under a private plugdbgd,
# the flood test plugin writes lines carrying their write time at each rate
# for DURATION while one headless Chromium page follows it; prints p50/p99
# of write → rendered in the page (and write → socket message), then the
# daemon's RSS with PAGES pages open, idle and following 1,000 lines/s.
# Needs root, chromium (scripts/deps.sh test) and `make build plugins`
# (the binary must embed the UI bundle: make build does).
#
#   bench/webui.sh
#   RATES=100,10000 DURATION=10s PAGES=20 bench/webui.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "webui.sh: needs root (plugins run as containers)" >&2; exit 1; }
[ -x /usr/bin/chromium ] || { echo "webui.sh: needs /usr/bin/chromium (scripts/deps.sh test)" >&2; exit 1; }
[ -x build/plugdbgd ] && [ -d build/plugins/flood ] || { echo "run: make build plugins" >&2; exit 1; }
. bench/lib.sh
print_load "at the start"
go run ./bench/cmd/webuibench -plugdbgd build/plugdbgd -flood build/plugins/flood \
  -rates "${RATES:-100,10000}" -duration "${DURATION:-10s}" -pages "${PAGES:-20}"
print_load "at the end"
