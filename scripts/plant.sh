#!/usr/bin/env bash
# Checks the history checker: plants, one at a time, a past defect of
# concord in a copy of the tree, and runs the history checker (histories/)
# on it with the CI budget (HISTORIES_RUNS seeds from HISTORIES_SEED, by
# default 12 from 1), printing for each defect whether a history broke,
# with the seed and the time it took. TESTING.md records its output.
# A defect whose sed changes nothing fails the script: the planting must
# still apply to today's code. PLANT_ONLY=<part of a name> plants only
# the defects it names.
set -euo pipefail
cd "$(dirname "$0")/.."
export HISTORIES_RUNS=${HISTORIES_RUNS:-12} HISTORIES_OPS=${HISTORIES_OPS:-40}
first=${HISTORIES_SEED:-1}

# name | file | sed expression (GNU sed) that plants it
defects=(
  "replace-create address|write.go|s/return p.createAt(mine)\$/u := p.u; p.u = itemURL(p.id); defer func() { p.u = u }(); return p.createAt(mine)/"
  "If-Match dropped on a retried write|retry.go|s/^\ta.c.setHeader(req.Header, a.call, \&a.out)\$/\ta.c.setHeader(req.Header, a.call, \&a.out); req.Header.Del(\"If-Match\")/"
  "2xx write resent|retry.go|s/^\tif a.wrote {\$/\tif false \&\& a.wrote {/"
  "conditional DELETE sent unconditionally|delete.go|s/^\terr := d.condition(\&out, d.version, d.underLock, nil, \&d.key)\$/\terr := d.condition(\&out, d.version, d.underLock, nil, \&d.key); out.ifMatch = \"\"/"
  "a base without a version not compared (this session's Apache regression)|precondition.go|s/^\tif base.body != nil \&\& (p.lock.held || base.version == \"\") {\$/\tif base.body != nil \&\& p.lock.held {/"
  "lock not released on panic|lock.go|s/^\tdefer p.unhold(h)\$/\tvar released bool; defer func() { if !released { return }; p.unhold(h) }()/; s/^\tres, err = work()\$/\tres, err = work(); released = true/"
  "idempotency key changed between attempts|retry.go|s/^\ta.c.setHeader(req.Header, a.call, \&a.out)\$/\tif a.out.key != \"\" { a.out.key, _ = a.c.keys.New() }; a.c.setHeader(req.Header, a.call, \&a.out)/"
)

for d in "${defects[@]}"; do
  IFS='|' read -r name file expr <<<"$d"
  [ -n "${PLANT_ONLY:-}" ] && [[ "$name" != *"$PLANT_ONLY"* ]] && continue
  copy=$(mktemp -d)
  git ls-files -z | xargs -0 -I{} cp --parents {} "$copy"
  before=$(sha1sum "$copy/$file")
  sed -i "$expr" "$copy/$file"
  [ "$before" != "$(sha1sum "$copy/$file")" ] || { echo "plant: '$name' changed nothing in $file"; exit 1; }
  start=$(date +%s)
  if out=$(cd "$copy/histories" && HISTORIES_SEED=$first go test -count=1 -failfast -timeout 20m ./... 2>&1); then
    echo "NOT FOUND  $name: seeds $first-$(( first + HISTORIES_RUNS - 1 )) all linearizable ($(( $(date +%s) - start )) s)"
  else
    seed=$(grep -m1 -oE 'seed=[0-9]+ \([0-9.]+s\)' <<<"$out" | grep -oE '[0-9]+' | head -1 || true)
    what=$(grep -m1 -oE '(not linearizable|sent a write again after the client read a 2xx answer to it|keyed creates: [^;]*|only [0-9]+ of [0-9]+ operations succeeded|the lock of [a-z]+ could not be taken[^:]*)' <<<"$out" || echo "failed")
    echo "FOUND      $name: $what, seed $seed, in $(( $(date +%s) - start )) s"
  fi
  rm -rf "$copy"
done
