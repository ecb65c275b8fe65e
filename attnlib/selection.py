"""Choosing on validation only: the validation scores of run records, and nothing else.

A recipe is chosen on a validation fold of the training slices (fold 4: train on 0-19, score
20-24). The engine also scores the test slices 25-29 at every evaluation, and a record's
summaries hold those numbers; this module reads a record's ``evals[*]["val"]``, its config's
``split`` and its environment, never ``evals[*]["test"]`` nor ``summary``. A record of the
paper split, or one without a validation fold, is refused with :class:`SelectionError`::

    rows = val_rows("results/beyond_candidates")   # one row per complete run
    print(selection_table(rows, budget=20))         # per candidate: seeds, means, core-minutes
    name = choose(rows)                             # the best mean validation mIoU, >= 2 seeds

Used by ``experiments/laptop_selection.py``, ``experiments/beyond_selection.py`` and chapter 09.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from attnlib.tables import fmt_number, markdown_table

VAL_METRICS = ("mean_iou", "isbi_vrand")  # what a candidate is compared on


class SelectionError(ValueError):
    """A record that choosing may not read: the paper split, or no validation fold."""


def validation_only(rec: dict, where: str = "the record") -> list[dict]:
    """The validation part of each evaluation, ``[{"epoch", **val metrics}, ...]``; refuses a
    record whose split has no validation fold (the paper split scores only 25-29)."""
    split = (rec.get("config") or {}).get("split")
    val = (rec.get("split") or {}).get("val")
    if split in (None, "paper") or not val:
        raise SelectionError(
            f"{where} was trained on split={split!r} with no validation fold: choosing on it "
            f"would choose on the test slices 25-29. Train candidates with split=4 "
            f"(slices 0-19, validation 20-24)."
        )
    return [{"epoch": e["epoch"], **e["val"]} for e in rec["evals"]]


def val_row(rec: dict, name: str, where: str = "the record") -> dict:
    """One candidate run: its last evaluation's validation scores, wall and core minutes."""
    last = validation_only(rec, where)[-1]  # the last evaluation: nothing chosen on the epoch
    env = rec["environment"]
    minutes = env["wall_seconds"] / 60
    return {
        "candidate": name,
        "seed": rec["config"]["seed"],
        "split": rec["config"]["split"],
        "val_slices": list(rec["split"]["val"]),
        **{f"val_{m}": last[m] for m in VAL_METRICS},
        "minutes": minutes,
        "core_minutes": minutes * env["cpu_threads"],
        "threads": env["cpu_threads"],
        "machine": env.get("device_name", env["device"]),
    }


def val_rows(folder) -> list[dict]:
    """:func:`val_row` of every complete ``folder/<name>_s<seed>/run.json``."""
    rows = []
    for path in sorted(Path(folder).glob("*/run.json")):
        rec = json.loads(path.read_text())
        if rec.get("complete"):
            rows.append(val_row(rec, path.parent.name.rpartition("_s")[0], str(path)))
    return rows


def by_candidate(rows: list[dict]) -> dict[str, list[dict]]:
    """Rows grouped by candidate, in the order they first appear."""
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["candidate"], []).append(r)
    return out


def selection_table(rows: list[dict], budget: float | None = None, machine: bool = True) -> str:
    """Markdown: per candidate its seeds' validation mIoU, the means, minutes and core-minutes
    per run (over ``budget`` core-minutes: marked), and (``machine``) the machine."""
    body = []
    for name, rs in by_candidate(rows).items():
        seeds = ", ".join(f"s{r['seed']} {fmt_number(r['val_mean_iou'])}" for r in rs)
        core = statistics.mean(r["core_minutes"] for r in rs)
        over = (
            " (over budget)"
            if budget is not None and max(r["core_minutes"] for r in rs) > budget
            else ""
        )
        body.append(
            [
                name,
                seeds,
                fmt_number(statistics.mean(r["val_mean_iou"] for r in rs)),
                fmt_number(statistics.mean(r["val_isbi_vrand"] for r in rs)),
                f"{statistics.mean(r['minutes'] for r in rs):.1f}",
                f"{core:.1f}{over}",
                *(["; ".join(sorted({r["machine"] for r in rs}))] if machine else []),
            ]
        )
    header = [
        "candidate",
        "val mIoU per seed",
        "mean val mIoU",
        "mean val V_rand (ISBI)",
        "minutes",
        "core-minutes",
        *(["machine"] if machine else []),
    ]
    return markdown_table(header, body)


def choose(
    rows: list[dict], metric: str = "val_mean_iou", min_seeds: int = 2, budget: float | None = None
) -> str:
    """The candidate with the best mean ``metric`` over its seeds, among those with at least
    ``min_seeds`` seeds and (with ``budget``) every run within that many core-minutes."""
    ok = {
        n: rs
        for n, rs in by_candidate(rows).items()
        if len(rs) >= min_seeds and (budget is None or all(r["core_minutes"] <= budget for r in rs))
    }
    if not ok:
        raise SelectionError(f"no candidate has {min_seeds} seeds within the budget: run more.")
    return max(ok, key=lambda n: statistics.mean(r[metric] for r in ok[n]))
