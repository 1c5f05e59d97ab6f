#!/usr/bin/env bash
# Runs staticcheck, pinned, through the Go module proxy.
set -euo pipefail
cd "$(dirname "$0")/.."
STATICCHECK_VERSION=v0.8.2
go run "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}" ./...
if [ -d bench ]; then (cd bench && go run "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}" ./...); fi
