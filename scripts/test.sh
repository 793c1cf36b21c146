#!/usr/bin/env bash
# The test command: installs what the tests need, then runs vet, the unit
# tests under the race detector, and the root-only integration tests on
# real containers.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "test.sh: the integration tests run real containers and need root: use sudo" >&2
  exit 1
fi
scripts/deps.sh test
# go where the machine has it: under sudo, PATH leaves /usr/local/go/bin out.
go=$(scripts/findgo.sh)
export PATH="${go%/*}:$PATH"
# The integration tests build plugdbg and plugdbgd with `go build`: the web UI bundle it
# embeds must be there first for the browser test.
make --no-print-directory webui
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...
# Every package but the integration suite runs under the race detector:
# most of them have goroutines, and the few that have none cost little.
go test -race -count=1 -timeout 20m $(go list ./... | grep -v '/integration$')
# The client for every platform it ships for: one that stops
# cross-compiling fails here, before the long integration runs.
make --no-print-directory cross
# integration FLAGS...: the integration suite, verbose into a file; it
# prints the summary, everything when a test fails, and the slowest tests.
integration() {
  local log status=0
  log=$(mktemp)
  go test -v -count=1 "$@" ./integration/ >"$log" 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    cat "$log"
  else
    grep -E '^(ok|PASS|FAIL|integration:)' "$log" || true
    # The fault-injection test's seed and summary, also when it passes.
    awk '/ rounds \(seed [0-9]+\) in /{p=1} p && /^(---|===)/{p=0} p' "$log" || true
  fi
  echo "slowest integration tests ($*):"
  grep -E '^--- (PASS|FAIL)' "$log" | sed -E 's/^--- [A-Z]+: (\S+) \(([0-9.]+)s\)$/\2s \1/' | sort -rn | head -8 || true
  rm -f "$log"
  return "$status"
}
# 40 minutes: TestReadmeSudoMakeRun builds everything as a new user, with
# empty Go and npm caches, as `sudo make run` does on a fresh machine.
integration -timeout 40m
# Again with plugdbgd and plugdbg built with -race (integration/race_test.go):
# the daemon, its monitors and the CLI under the race detector, on real
# containers; any report fails the test that caused it.
integration -race -timeout 40m
