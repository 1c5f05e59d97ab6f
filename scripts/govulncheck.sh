#!/usr/bin/env bash
# Runs govulncheck, pinned. It needs the Go vulnerability database
# (vuln.go.dev); where that host cannot be reached (this project's CI has
# only the module proxy), it says so and exits 0, since nothing was checked.
# Any finding, or any other failure, exits non-zero.
set -uo pipefail
cd "$(dirname "$0")/.."
GOVULNCHECK_VERSION=v1.1.4
out=$(go run "golang.org/x/vuln/cmd/govulncheck@${GOVULNCHECK_VERSION}" ./... 2>&1)
status=$?
echo "$out"
if [ $status -ne 0 ] && grep -q 'fetching vulnerabilities' <<<"$out"; then
  echo "govulncheck: the vulnerability database is unreachable from this machine; not checked"
  exit 0
fi
exit $status
