"""The batch command: plan the grid, run (here) or submit (SLURM) what is left, then summarize.

:func:`run_batch` sorts the grid's runs by state (:func:`attnlib.batch.grid.plan_batch`),
executes the ones to do with :mod:`attnlib.batch.executors` (or :mod:`attnlib.batch.slurm`),
writes ``failures.json`` and, when the jobs have ended, the summary
(:func:`attnlib.batch.summary.summarize_results`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from attnlib.batch.executors import EXECUTORS, run_local
from attnlib.batch.grid import plan_batch, read_grid, read_slurm
from attnlib.batch.jobs import NOTEBOOK, BatchError
from attnlib.batch.slurm import check_slurm_options, require_slurm, submit_slurm, wait_slurm
from attnlib.batch.summary import summarize_results
from attnlib.checkpoints import write_json_atomic

__all__ = ["run_batch"]


def run_batch(
    grid_path,
    out,
    executor: str = "local",
    jobs: int = 1,
    slurm: dict | None = None,
    wait: bool = False,
    rerun_changed: bool = False,
    notebook: Path = NOTEBOOK,
    log=None,
) -> dict:
    """Run (local: block) or submit (slurm: one job array) every run of the grid that is not
    complete.

    ``jobs``: local runs at once; ``slurm``: options over the grid's slurm block (None = keep the
    grid's); ``wait``: block until the SLURM jobs end. Returns ``{"ran", "skipped", "failed",
    "submitted", "waiting"}``: names, except failed = ``[{"name", "error", ...}]``.
    """
    log = log or (lambda *_: None)
    if executor not in EXECUTORS:
        raise BatchError(f"unknown executor {executor!r}: choose one of {list(EXECUTORS)}.")
    if executor == "slurm":
        require_slurm()
    out, runs, cli = Path(out), read_grid(grid_path), check_slurm_options(slurm, "command line")
    options = {**read_slurm(grid_path), **{k: v for k, v in cli.items() if v is not None}}
    plan = plan_batch(out, runs, rerun_changed)
    todo = plan["todo"]
    where = f", {jobs} at a time" if executor == "local" else " on SLURM"
    log(
        f"{len(runs)} runs in {grid_path}: {len(plan['skipped'])} complete, "
        f"{len(plan['waiting'])} queued or running, "
        f"{len(plan['invalid'])} invalid, {len(todo)} to run{where}"
    )
    for s in plan["invalid"]:
        log(f"  INVALID {s['name']}: {s['error']}")
    out.mkdir(parents=True, exist_ok=True)
    for run in plan["rerun"]:
        shutil.rmtree(out / run["name"])
    statuses, submitted = [], []
    if executor == "local":
        statuses = run_local(todo, out, jobs, cli.get("timeout_min"), notebook, log)
    elif todo:
        submitted = submit_slurm(todo, out, options, f"attnlib-{Path(grid_path).stem}", notebook)
        log(
            f"  submitted {len(todo)} runs as SLURM job array "
            f"{str(submitted[0].job_id).split('_')[0]}"
        )
        statuses = wait_slurm(submitted, todo, out) if wait else []
    failed = plan["invalid"] + [s for s in statuses if not s["ok"]]
    write_json_atomic(failed, out / "failures.json")
    if executor == "local" or wait:
        summarize_results(out, runs, failed)
    return {
        "ran": [s["name"] for s in statuses if s["ok"]],
        "skipped": [r["name"] for r in plan["skipped"]],
        "failed": failed,
        "submitted": [r["name"] for r in todo] if submitted else [],
        "waiting": [r["name"] for r in plan["waiting"]],
    }
