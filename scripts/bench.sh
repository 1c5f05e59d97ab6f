#!/usr/bin/env bash
# Reproduces every figure in BENCHMARKS.md, from the bench module:
#   bench/results/paired.md     happy path and large documents: time ratios to
#                               net/http from paired, interleaved blocks with
#                               95% bootstrap intervals; allocations and bytes
#                               per call; peak RSS; the version cache's heap
#   bench/results/scenarios.md  contention, outage and lost-response tables
#   bench/results/backoff.md    the conflict backoff against the exponential
#                               one it replaced, RUNS runs each, Mann-Whitney
#   bench/results/locks.md      the lock mode against optimistic writes at 1,
#                               8 and 32 writers, LOCK_RUNS runs each
#   bench/results/crowd.md      128 writers, default policy, CROWD_RUNS runs
#                               idle and as many with a CPU hog
# Run it on an otherwise idle machine; it takes about 10 minutes. BLOCKS and
# RUNS make it longer or shorter.
set -euo pipefail
cd "$(dirname "$0")/../bench"
BLOCKS=${BLOCKS:-40}
RUNS=${RUNS:-25}
LOCK_RUNS=${LOCK_RUNS:-5}
CROWD_RUNS=${CROWD_RUNS:-5}
mkdir -p results
go build -o results/paired ./cmd/paired
go build -o results/scenarios ./cmd/scenarios
./results/paired -blocks "$BLOCKS" | tee results/paired.md
./results/scenarios | tee results/scenarios.md
./results/scenarios -backoff-study "$RUNS" | tee results/backoff.md
./results/scenarios -locks "$LOCK_RUNS" | tee results/locks.md
./results/scenarios -crowd 128 -runs "$CROWD_RUNS" | tee results/crowd.md
rm -f results/paired results/scenarios
