#!/usr/bin/env bash
# Reproduces every figure in BENCHMARKS.md:
#   bench/results/happy.txt       raw `go test -bench` output, COUNT runs each
#   bench/results/happy-stat.txt  benchstat, one column per client
#   bench/results/scenarios.md    contention, outage and lost-response tables
# Run it on an otherwise idle machine; it takes about 5 minutes. The client
# and the loopback server share the machine's cores, so single timings move
# by 10-20%: trust benchstat's intervals and p-values, not one run.
set -euo pipefail
cd "$(dirname "$0")/../bench"
COUNT=${COUNT:-10}
BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da
mkdir -p results
# COUNT rounds of every benchmark, interleaved rather than COUNT runs of one
# after another, so that drift on a shared machine spreads over all clients.
go test -c -o results/bench.test .
: > results/happy.txt
for round in $(seq "$COUNT"); do
  echo "round $round of $COUNT" >&2
  ./results/bench.test -test.run '^$' -test.bench . -test.benchmem | tee -a results/happy.txt
done
rm -f results/bench.test
go run "golang.org/x/perf/cmd/benchstat@${BENCHSTAT_VERSION}" -col /client results/happy.txt | tee results/happy-stat.txt
go run ./cmd/scenarios | tee results/scenarios.md
