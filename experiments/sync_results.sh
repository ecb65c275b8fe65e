#!/usr/bin/env bash
# Copy the finished records of a batch that runs in a worktree into this checkout, to commit:
#   bash experiments/sync_results.sh ../attnlib-grid/results/laptop results/laptop
# Only complete runs (run.json says "complete": true); per run: run.json, params.yaml,
# status.json, and model.pt (half precision) for seed 0 of the gated UNets (chapter 04).
set -euo pipefail
src=$1 dst=$2
mkdir -p "$dst"
for rec in "$src"/*/run.json; do
  [ -f "$rec" ] || continue
  python3 -c "import json,sys; sys.exit(0 if json.load(open(sys.argv[1])).get('complete') else 1)" "$rec" || continue
  run=$(basename "$(dirname "$rec")")
  mkdir -p "$dst/$run"
  for f in run.json params.yaml status.json; do
    [ -f "$src/$run/$f" ] && cp "$src/$run/$f" "$dst/$run/$f"
  done
  case $run in unet_sse_s0|unet_additive_s0)
    [ -f "$src/$run/model.pt" ] && cp "$src/$run/model.pt" "$dst/$run/model.pt" ;;
  esac
  echo "$run"
done
