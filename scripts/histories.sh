#!/usr/bin/env bash
# Soaks concord in random concurrent histories under network faults
# (histories/): SOAK_MINUTES (default 60) of runs, each HISTORIES_RUNS
# seeds (default 20) of every dialect, each worker making HISTORIES_OPS
# operations (default 60), the seeds counting up from HISTORIES_SEED (a
# random one by default, printed). Traffic stays on 127.0.0.1. A failing
# seed is printed with the smallest history that breaks, and reruns with
# HISTORIES_SEED=<seed> HISTORIES_RUNS=1 scripts/histories.sh.
set -euo pipefail
cd "$(dirname "$0")/../histories"
minutes=${SOAK_MINUTES:-60}
seed=${HISTORIES_SEED:-$(( (RANDOM << 15) | RANDOM ))}
export HISTORIES_RUNS=${HISTORIES_RUNS:-20} HISTORIES_OPS=${HISTORIES_OPS:-60}
end=$(( $(date +%s) + minutes * 60 ))
rounds=0
while [ "$(date +%s)" -lt "$end" ]; do
  echo "histories: seeds $seed to $(( seed + HISTORIES_RUNS - 1 ))"
  HISTORIES_SEED=$seed go test -count=1 -timeout 30m ./... || { echo "histories: a history broke (seed range above)"; exit 1; }
  seed=$(( seed + HISTORIES_RUNS ))
  rounds=$(( rounds + 1 ))
  [ "${SOAK_ROUNDS:-0}" -gt 0 ] && [ "$rounds" -ge "$SOAK_ROUNDS" ] && break
done
echo "histories: $rounds rounds of $HISTORIES_RUNS seeds, every history linearizable"
