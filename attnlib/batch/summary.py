"""The batch's results: one row per run and protocol, mean and sd over seeds,
``summary.md``/``.csv``.

:func:`summarize_results` writes ``summary.csv`` and ``summary.md`` for the grid's runs: mean and
sd over seeds per configuration, under both protocols, the paper's claims tested on them
(``claims.csv``), and the failures with their reasons.
"""

from __future__ import annotations

import csv
from pathlib import Path

from attnlib.batch.grid import run_state
from attnlib.batch.jobs import read_json
from attnlib.metrics import METRICS
from attnlib.paper import claims_summary
from attnlib.stats import mean_sd
from attnlib.tables import fmt_mean_sd, fmt_number, markdown_table

__all__ = ["collect", "aggregate", "summarize_results"]


def collect(out, runs: list[dict] | None = None) -> list[dict]:
    """One row per complete run: config name, seed, and both protocols' test metrics.

    With ``runs`` (a grid's), only those runs, and only where the record is the grid's config;
    without, every complete ``out/*/run.json``.
    """
    if runs is None:
        recs = [(p.parent.name.rsplit("_s", 1)[0], p) for p in sorted(Path(out).glob("*/run.json"))]
    else:
        recs = [
            (r["config"], Path(out) / r["name"] / "run.json")
            for r in runs
            if run_state(out, r)["state"] == "complete"
        ]
    rows = []
    for config_name, rec_path in recs:
        rec = read_json(rec_path)
        if not rec or not rec.get("complete"):
            continue
        for protocol in ("paper_protocol", "honest"):
            s = rec["summary"][protocol]
            rows.append(
                {
                    "config": config_name,
                    "seed": rec["config"]["seed"],
                    "protocol": protocol,
                    "epoch": s["epoch"],
                    **{m: s["test"][m] for m in METRICS},
                }
            )
    return rows


def aggregate(rows: list[dict]) -> list[dict]:
    """Mean and sample sd over seeds per (config, protocol); the sd of one seed is None (csv:
    empty)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["config"], r["protocol"]), []).append(r)
    table = []
    for (config, protocol), rs in groups.items():
        row = {"config": config, "protocol": protocol, "n_seeds": len(rs)}
        for m in METRICS:
            row[f"{m}_mean"], row[f"{m}_sd"] = mean_sd(r[m] for r in rs)
        table.append(row)
    return table


def summarize_results(
    out, runs: list[dict] | None = None, failed: list[dict] | None = None
) -> list[dict]:
    """Write ``summary.csv`` and ``summary.md`` under ``out``; return the aggregated rows.

    ``runs``: the grid's (None: every run folder); ``failed``: ``[{"name", "error"}]`` to list
    (None: the failed and invalid runs among ``runs``, else ``failures.json``).
    """
    out = Path(out)
    rows = collect(out, runs)
    table = aggregate(rows)
    cols = ["config", "protocol", "n_seeds"] + [f"{m}_{s}" for m in METRICS for s in ("mean", "sd")]
    _write_csv(out / "summary.csv", table, cols)
    body = [
        [
            r["config"],
            r["protocol"],
            r["n_seeds"],
            *(
                fmt_mean_sd(r[f"{m}_mean"], r[f"{m}_sd"])
                if r["n_seeds"] > 1
                else fmt_number(r[f"{m}_mean"])
                for m in METRICS
            ),
        ]
        for r in table
    ]
    lines = [markdown_table(["config", "protocol", "seeds", *METRICS], body)]
    claims_md, claims = claims_summary(rows)
    lines += [claims_md] if claims_md else []
    _write_csv(
        out / "claims.csv",
        claims,
        [
            "claim",
            "protocol",
            "label",
            "better",
            "better_mean",
            "better_sd",
            "worse",
            "worse_mean",
            "worse_sd",
            "paper_diff",
            "mean",
            "sd",
            "lo",
            "hi",
            "verdict",
            "paper_inside",
        ],
    )
    if failed is None and runs is not None:
        failed = [
            {"name": s["name"], "error": s["detail"]}
            for s in (run_state(out, r) for r in runs)
            if s["state"] in ("failed", "invalid")
        ]
    if failed is None:
        failed = read_json(out / "failures.json") or []
    if failed:
        lines += ["", "Failed runs:", *[f"- {s['name']}: {s['error']}" for s in failed]]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    return table


def _write_csv(path: Path, rows: list[dict], cols: list[str]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
