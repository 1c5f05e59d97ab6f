#!/usr/bin/env bash
# Runs each fuzz target for FUZZTIME (default 30s). A failure writes its
# input to testdata/fuzz/<Target>/ of the target's package, where `go test`
# replays it from then on: commit it with the fix, as a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-30s}
# CI calls it with a small FUZZTIME; before a release, run it for minutes.
# Each entry is package:target.
for entry in .:FuzzParseETag .:FuzzParseRetryAfter .:FuzzClassify .:FuzzMergeJSON .:FuzzRedactURL \
  .:FuzzRedirectPolicy .:FuzzNextPage ./cmd/concord:FuzzParseHeaders; do
  pkg=${entry%%:*} target=${entry#*:}
  echo "=== $target in $pkg ($FUZZTIME)"
  go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"
done
