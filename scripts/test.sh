#!/usr/bin/env bash
# The test command: installs what the tests need, then runs vet, the unit
# tests, the race detector on the concurrent packages, and the root-only
# integration tests on real containers.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "test.sh: the integration tests run real containers and need root: use sudo" >&2
  exit 1
fi
scripts/deps.sh test
# The integration tests build plugdbg with `go build`: the web UI bundle it
# embeds must be there first for the browser test.
make --no-print-directory webui
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...
go test -race -count=1 ./runtime/... ./logs/... ./probe/... ./webui/...
go test -count=1 -timeout 20m ./...
