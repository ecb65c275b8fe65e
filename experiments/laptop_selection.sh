#!/usr/bin/env bash
# Re-choose the laptop profile on validation only (the issue "A fast CPU path"):
# train on slices 0-19, select on fold 4 (slices 20-24); the test slices 25-29 are evaluated
# by the engine but never read while choosing (experiments/laptop_selection.py reads the
# validation numbers only). Two one-thread runs side by side use both cores of a 2-core CPU.
#   bash experiments/laptop_selection.sh [NAME...]  # from the repository root, resumable
#   python experiments/laptop_selection.py          # writes experiments/laptop_selection.md
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-results/laptop_selection}
export OMP_NUM_THREADS=1 ATTNLIB_QUIET=1
if [ -z "${ATTNLIB_DATA:-}" ] && [ -f ../shared/data/isbi2012/SHA256SUMS ]; then
  export ATTNLIB_DATA=$(cd ../shared/data/isbi2012 && pwd)  # the copy beside the checkout, as make does
fi
# name | settings on top of the laptop profile of commit 028b902 (and of 1a8c57f) (widths 16-256, 128 x 128
# crops, batch 8, 200 crops per epoch, 24 epochs, Adam 2e-3 with a cosine decay)
CANDIDATES=(
  "base24|"
  "long48|epochs=48 eval_interval=8 checkpoint_every=8"
  "wide24|widths=[24,48,96,192,384]"
  "crop192|crop=192"
  "long48_lr1e-3|epochs=48 eval_interval=8 checkpoint_every=8 lr=0.001"
)
one() {  # one candidate, one seed
  local name=$1 seed=$2 sets=() kv
  for kv in $3; do sets+=(--set "$kv"); done
  "$PY" -m attnlib train --profile laptop --set split=4 --set seed="$seed" ${sets[@]+"${sets[@]}"} \
    --out "$OUT/${name}_s$seed" > "$OUT/${name}_s$seed.log" 2>&1 || echo "FAILED $name s$seed"
}
mkdir -p "$OUT"
for entry in "${CANDIDATES[@]}"; do
  name=${entry%%|*} sets=${entry#*|}
  if [ $# -gt 0 ] && [[ ! " $* " == *" $name "* ]]; then continue; fi  # only the named ones
  one "$name" 0 "$sets" & one "$name" 1 "$sets" & wait  # the two seeds side by side
  echo "done $name"
done
