"""Summarise the laptop-profile candidates on the validation fold only.

    python experiments/laptop_selection.py [--out results/laptop_selection]

Reads each candidate's ``run.json`` (made by ``experiments/laptop_selection.sh``: trained on
slices 0-19, fold 4 = slices 20-24 held out) and prints, per candidate and seed, the
validation mIoU and ISBI V_rand at the last evaluation and the wall time. It reads
``evals[*]["val"]`` and the environment, never ``evals[*]["test"]`` nor the summaries (which
hold test numbers): nothing here is chosen on slices 25-29 (:mod:`attnlib.selection`, which
refuses a record without a validation fold).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from attnlib.selection import selection_table, val_rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", default="results/laptop_selection")
    args = ap.parse_args(argv)
    print(selection_table(val_rows(Path(args.out))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
