#!/usr/bin/env bash
# Reproduces every figure in BENCHMARKS.md:
#   bench/results/happy.txt       raw `go test -bench` output, COUNT runs each
#   bench/results/happy-stat.txt  benchstat, one column per client
#   bench/results/scenarios.md    contention, outage and lost-response tables
# Run it on an otherwise idle machine; it takes about 5 minutes.
set -euo pipefail
cd "$(dirname "$0")/../bench"
COUNT=${COUNT:-10}
BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da
mkdir -p results
go test -run '^$' -bench . -benchmem -count "$COUNT" . | tee results/happy.txt
go run "golang.org/x/perf/cmd/benchstat@${BENCHSTAT_VERSION}" -col /client results/happy.txt | tee results/happy-stat.txt
go run ./cmd/scenarios | tee results/scenarios.md
