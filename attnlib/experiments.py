"""The instructor's batch: the paper's grid, times seeds, one papermill notebook per run.

``python -m attnlib batch experiments/paper.yaml --out results/`` reads a grid such as::

    profile: paper
    seeds: [0, 1, 2]
    runs:
      unet:     {model: unet}
      unet_sse: {model: unet, gate: sse}

and executes ``notebooks/07_training.ipynb`` once per (run, seed), working directory
``notebooks/``, keeping the executed notebook and its ``run.json`` in ``results/<run>_s<seed>/``.
A run whose ``run.json`` says ``complete`` is skipped, so the batch resumes where it stopped
(an interrupted run resumes from its checkpoint). A failing run is reported and the others go
on. At the end :func:`summarize_results` writes ``summary.csv`` and ``summary.md``: mean and
sd over seeds per configuration, under both protocols.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "notebooks" / "07_training.ipynb"
METRICS = ("pixel_accuracy", "mean_iou", "vrand_class", "vinfo_class", "isbi_vrand", "isbi_vinfo")


def read_grid(path) -> list[dict]:
    """Expand a grid file into runs: ``{"name", "config", "params"}`` (params as papermill gets them)."""
    grid = yaml.safe_load(Path(path).read_text())
    if not isinstance(grid, dict) or not isinstance(grid.get("runs"), dict):
        raise ValueError(f"{path}: expected a mapping with 'runs: {{name: {{param: value}}}}' (see experiments/paper.yaml).")
    runs = []
    for seed in grid.get("seeds", [0]):
        for name, params in grid["runs"].items():
            params = {"profile": grid.get("profile", ""), **(params or {}), "seed": seed}
            runs.append({"name": f"{name}_s{seed}", "config": name, "params": params})
    return runs


def is_complete(run_dir: Path) -> bool:
    rec = run_dir / "run.json"
    return rec.exists() and json.loads(rec.read_text()).get("complete", False)


def execute(run: dict, out: Path, device_env: dict | None = None, notebook: Path = NOTEBOOK) -> dict:
    """Run one notebook with papermill in a subprocess (its own env: one GPU per job)."""
    run_dir = (out / run["name"]).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    params = {**run["params"], "out_dir": str(run_dir)}
    (run_dir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    cmd = [sys.executable, "-m", "papermill", str(notebook), str(run_dir / "07_training.ipynb"),
           "-f", str(run_dir / "params.yaml"), "--cwd", str(notebook.parent), "--no-progress-bar", "-k", "python3"]
    env = {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1", "ATTNLIB_QUIET": "1", **(device_env or {})}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    status = {"name": run["name"], "seconds": round(time.perf_counter() - t0, 1), "ok": proc.returncode == 0}
    if not status["ok"]:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        status["error"] = next((ln for ln in reversed(lines) if "Error" in ln or "Exception" in ln), lines[-1] if lines else "?")
        (run_dir / "error.log").write_text(proc.stderr)
    return status


def run_batch(grid_path, out, jobs: int = 1, notebook: Path = NOTEBOOK, log=print) -> dict:
    """Execute every incomplete run of the grid; return ``{"ran", "skipped", "failed"}`` and write the summary."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs = read_grid(grid_path)
    todo = [r for r in runs if not is_complete(out / r["name"])]
    skipped = [r["name"] for r in runs if r not in todo]
    log(f"{len(runs)} runs in {grid_path}: {len(skipped)} already complete, {len(todo)} to run, {jobs} at a time")
    gpus = _gpu_count()

    def job(i_run):
        i, run = i_run
        env = {"CUDA_VISIBLE_DEVICES": str(i % gpus)} if gpus > 1 else None
        status = execute(run, out, env, notebook)
        log(f"  {'done  ' if status['ok'] else 'FAILED'} {run['name']} ({status['seconds']} s)"
            + ("" if status["ok"] else f": {status['error']}"))
        return status

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        statuses = list(pool.map(job, enumerate(todo)))
    failed = [s for s in statuses if not s["ok"]]
    (out / "failures.json").write_text(json.dumps(failed, indent=1))
    summarize_results(out, runs)
    return {"ran": [s["name"] for s in statuses if s["ok"]], "skipped": skipped, "failed": failed}


def _gpu_count() -> int:
    try:
        import torch

        return torch.cuda.device_count()
    except Exception:  # pragma: no cover
        return 0


def collect(out, runs=None) -> list[dict]:
    """One row per complete run: config name, seed, and both protocols' test metrics."""
    rows = []
    for rec_path in sorted(Path(out).glob("*/run.json")):
        rec = json.loads(rec_path.read_text())
        if not rec.get("complete"):
            continue
        name = rec_path.parent.name
        config_name = name.rsplit("_s", 1)[0]
        for protocol in ("paper_protocol", "honest"):
            s = rec["summary"][protocol]
            rows.append({"config": config_name, "seed": rec["config"]["seed"], "protocol": protocol, "epoch": s["epoch"],
                         **{m: s["test"][m] for m in METRICS}})
    return rows


def aggregate(rows: list[dict]) -> list[dict]:
    """Mean and sample sd over seeds per (config, protocol)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["config"], r["protocol"]), []).append(r)
    table = []
    for (config, protocol), rs in groups.items():
        row = {"config": config, "protocol": protocol, "n_seeds": len(rs)}
        for m in METRICS:
            v = np.array([r[m] for r in rs], dtype=float)
            row[f"{m}_mean"], row[f"{m}_sd"] = float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else float("nan")
        table.append(row)
    return table


def summarize_results(out, runs=None) -> list[dict]:
    """Write ``summary.csv`` and ``summary.md`` under ``out``; return the aggregated rows."""
    out = Path(out)
    table = aggregate(collect(out))
    cols = ["config", "protocol", "n_seeds"] + [f"{m}_{s}" for m in METRICS for s in ("mean", "sd")]
    with open(out / "summary.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(table)
    lines = ["| config | protocol | seeds | " + " | ".join(METRICS) + " |", "|" + "---|" * (3 + len(METRICS))]
    for r in table:
        cells = [f"{r[f'{m}_mean']:.4f} ± {r[f'{m}_sd']:.4f}" if r["n_seeds"] > 1 else f"{r[f'{m}_mean']:.4f}" for m in METRICS]
        lines.append(f"| {r['config']} | {r['protocol']} | {r['n_seeds']} | " + " | ".join(cells) + " |")
    failed = json.loads((out / "failures.json").read_text()) if (out / "failures.json").exists() else []
    if failed:
        lines += ["", "Failed runs:", *[f"- {s['name']}: {s['error']}" for s in failed]]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    return table
