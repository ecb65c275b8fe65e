#!/usr/bin/env bash
# The re-chosen laptop profile, once on the paper split (train 0-24, test 25-29), with the
# default threads: our fast path, then the fp32 path (the paper's code path: fp32, contiguous,
# eager) with the same profile settings, one after the other on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
if [ -z "${ATTNLIB_DATA:-}" ] && [ -f ../shared/data/isbi2012/SHA256SUMS ]; then
  export ATTNLIB_DATA=$(cd ../shared/data/isbi2012 && pwd)
fi
export ATTNLIB_QUIET=1
"$PY" -m attnlib train --profile laptop --out results/laptop_profile/ours > results/laptop_profile/ours.log 2>&1
"$PY" -m attnlib train --profile laptop --set amp=off --set channels_last=false --set compile=false \
  --out results/laptop_profile/fp32 > results/laptop_profile/fp32.log 2>&1
