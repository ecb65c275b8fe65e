"""Write down the selection of chapter 09's recipe, from the candidates' validation scores only.

    python experiments/beyond_selection.py [--out results/beyond_candidates]
                                           [--md experiments/beyond_selection.md] [--budget 20]

Reads each candidate's ``run.json`` (``experiments/beyond_candidates.yaml``: trained on slices
0-19, scored on fold 4 = slices 20-24) through :mod:`attnlib.selection`, which reads
``evals[*]["val"]`` and the environment, never ``evals[*]["test"]`` nor the summaries, and
refuses a record of the paper split or one without a validation fold. It writes, per
candidate, what it changes against ``base``, its validation mIoU per seed, the means, the wall
time and core-minutes per run and the machine, then the candidate chosen: the best mean
validation mIoU among those with two seeds or more, every run within the budget.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from attnlib.selection import SelectionError, choose, selection_table, val_rows
from attnlib.tables import markdown_table

SAME_FOR_ALL = {"seed", "out_dir"}  # differ by run, not by candidate


def changes(folder: Path, reference: str = "base") -> dict[str, str]:
    """Per candidate, the config fields it sets differently from ``reference`` (seed 0's
    records), as ``"k=v, ..."``; read from ``config`` only, which holds no score."""
    configs = {}
    for path in sorted(folder.glob("*_s0/run.json")):
        configs[path.parent.name.rpartition("_s")[0]] = json.loads(path.read_text())["config"]
    ref = configs.get(reference, {})
    return {
        name: ", ".join(
            f"{k}={v}" for k, v in sorted(c.items()) if k not in SAME_FOR_ALL and ref.get(k) != v
        )
        or "none (the reference)"
        for name, c in configs.items()
    }


def report(folder: Path, budget: float) -> tuple[str, str]:
    """The Markdown page (the rule, the candidates' changes, the table, the choice) and the
    chosen candidate's name."""
    rows = val_rows(folder)
    if not rows:
        raise SelectionError(f"no complete run records in {folder}: run the candidates first.")
    chosen = choose(rows, budget=budget)
    diff = changes(folder)
    lines = [
        "# Chapter 09's recipe, chosen on validation only",
        "",
        f"Made by `python experiments/beyond_selection.py --out {folder}` from the records of",
        "`experiments/beyond_candidates.yaml` (UNet + sSE, the laptop profile, trained on",
        "slices 0-19). Every number here is a validation score on fold 4 (slices 20-24), at",
        "the last evaluation of each run; the script reads no test score (`attnlib.selection`",
        "refuses a record without a validation fold). Slices 25-29 play no part in the choice.",
        "",
        "The rule: the best mean validation mIoU over at least two seeds, every run within",
        f"{budget:g} CPU-core-minutes (wall minutes x threads; one thread beside another run).",
        "",
        "## Candidates",
        "",
        markdown_table(["candidate", "changes against base"], [[n, c] for n, c in diff.items()]),
        "",
        "## Validation scores (fold 4)",
        "",
        selection_table(rows, budget=budget),
        "",
        "## Chosen",
        "",
        f"**{chosen}** ({diff.get(chosen, '')}).",
        "",
    ]
    return "\n".join(lines), chosen


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", default="results/beyond_candidates", help="the candidates' runs")
    ap.add_argument("--md", default="experiments/beyond_selection.md", help="the page to write")
    ap.add_argument("--budget", type=float, default=20.0, help="core-minutes per run")
    args = ap.parse_args(argv)
    try:
        text, chosen = report(Path(args.out), args.budget)
    except SelectionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    Path(args.md).write_text(text)
    print(f"wrote {args.md}: chose {chosen}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
