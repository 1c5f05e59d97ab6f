#!/usr/bin/env bash
# Checks what publishing the modules needs, and that the oldest Go the
# README claims really builds and tests them:
# - every module has a LICENSE and claims no newer Go than OLDEST_GO;
# - the nested modules users import (otel) require the main module at the
#   version CHANGELOG.md's top heading names (the next release), keeping
#   the local replace for development (see RELEASING.md);
# - with GOTOOLCHAIN=go$OLDEST_GO (fetched through the module proxy), every
#   module builds and its tests pass. The bench module's allocation budget
#   is calibrated on the current toolchain (CI holds it there), so on the
#   oldest one only the budget test is left out; the interop module's tests
#   need the real servers and are compiled (go vet) rather than run.
set -euo pipefail
cd "$(dirname "$0")/.."
OLDEST_GO=${OLDEST_GO:-1.23.12}
claim=$(grep -oE 'Go [0-9]+\.[0-9]+ or later' README.md | grep -oE '[0-9]+\.[0-9]+')
[ "${OLDEST_GO%.*}" = "$claim" ] || { echo "README claims Go $claim; OLDEST_GO is $OLDEST_GO"; exit 1; }

fail=0
for dir in . otel bench interop histories; do
  [ -f "$dir/LICENSE" ] || { echo "$dir has no LICENSE"; fail=1; }
  goline=$(grep -E '^go [0-9]' "$dir/go.mod" | awk '{print $2}')
  if [ "$(printf '%s\n%s\n' "$goline" "$claim.999" | sort -V | tail -1)" != "$claim.999" ]; then
    echo "$dir/go.mod claims go $goline, newer than Go $claim"; fail=1
  fi
done
next=$(grep -m1 -oE '^## .*\(v[0-9]+\.[0-9]+\.[0-9]+\)' CHANGELOG.md | grep -oE 'v[0-9]+\.[0-9]+\.[0-9]+' || true)
[ -n "$next" ] || { echo "CHANGELOG.md's top heading names no version"; fail=1; }
for dir in otel; do
  required=$(grep -E '^\s+github.com/concord-go/concord v' "$dir/go.mod" | awk '{print $2}')
  [ "$required" = "$next" ] || { echo "$dir requires github.com/concord-go/concord $required; the next release is $next"; fail=1; }
  grep -q '^replace github.com/concord-go/concord => ../' "$dir/go.mod" || { echo "$dir/go.mod lost its development replace"; fail=1; }
done
[ "$fail" = 0 ] || exit 1
echo "modules: licenses, go directives and required versions ok (next release $next)"

export GOTOOLCHAIN=go$OLDEST_GO
go version
go test -count=1 ./...
(cd otel && go test -count=1 ./...)
(cd bench && go test -count=1 -skip '^TestAllocationBudget$' ./...)
(cd interop && go vet ./...)
(cd histories && go vet ./...)
