#!/usr/bin/env bash
# Measures what the README's test command costs here: its wall-clock time
# and the peak memory of its largest process (GNU time's maximum resident
# set size). The README's figures come from this script on a 2-core
# machine with a warm build cache.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (Debian package time)"; exit 1; }
out=$(mktemp)
/usr/bin/time -v go test -race -count=1 ./... >"$out" 2>&1 || { cat "$out"; exit 1; }
grep -E '^ok|FAIL' "$out"
grep -E 'Elapsed \(wall clock\)|Maximum resident set size' "$out"
rm -f "$out"
