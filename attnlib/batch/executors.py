"""Where the batch's jobs run, and what a run's job is doing now.

:func:`run_local` runs at most ``jobs`` runs at a time with submitit's LocalExecutor on this
machine, each on its own GPU, and blocks; :mod:`attnlib.batch.slurm` submits them as one SLURM
job array instead. :func:`job_state` tells what a run's job is doing now, from its folder and,
for a SLURM job, what SLURM says (:func:`attnlib.batch.slurm.slurm_state`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from attnlib import cpu
from attnlib.batch.jobs import (
    NOTEBOOK,
    NotebookJob,
    finished_status,
    last_line,
    read_json,
    record_job,
    submitit_module,
    write_params,
)
from attnlib.batch.slurm import ENDED, QUEUED_STATES, RUNNING_STATES, slurm_state

EXECUTORS = ("local", "slurm")
LOCAL_TIMEOUT_MIN = 24 * 60  # LocalExecutor kills a job after timeout_min (its default: 2 minutes)


def gpu_count() -> int:
    try:
        import torch

        return torch.cuda.device_count()
    except Exception:  # pragma: no cover
        return 0


def submit_local(
    run: dict, out: Path, slot: int, gpus: int, timeout_min: float, notebook: Path, jobs: int = 1
):
    """Start one run with submitit's LocalExecutor (logs in the run folder), on GPU ``slot % gpus``,
    with its share of the CPU cores when ``jobs`` run at once (unless OMP_NUM_THREADS is set)."""
    submitit = submitit_module()
    run_dir = write_params(run, out)
    executor = submitit.LocalExecutor(folder=run_dir / "submitit")
    # LocalExecutor sets CUDA_VISIBLE_DEVICES to the visible_gpus it is given ("" without a GPU)
    executor.update_parameters(
        timeout_min=timeout_min,
        gpus_per_node=1 if gpus else 0,
        visible_gpus=(slot % gpus,) if gpus else (),
    )
    share = cpu.thread_env(jobs)
    job = executor.submit(NotebookJob(), run, str(Path(out).resolve()), str(notebook), share)
    record_job(run_dir, "local", job)
    return job


def run_local(
    todo: list[dict],
    out,
    jobs: int = 1,
    timeout_min: float | None = None,
    notebook: Path = NOTEBOOK,
    log=None,
    poll_s: float = 0.5,
) -> list[dict]:
    """Run ``todo`` with submitit's LocalExecutor, at most ``jobs`` at a time, one GPU each; block.

    Returns one status per run (``{"name", "ok", "error", ...}``), in the order they finished.
    """
    log = log or (lambda *_: None)
    gpus, pending, running, statuses = (
        gpu_count(),
        list(todo),
        {},
        [],
    )  # running: {slot: (run, job)}
    try:
        while pending or running:
            for slot in [s for s in range(max(1, jobs)) if s not in running][: len(pending)]:
                run = pending.pop(0)
                running[slot] = (
                    run,
                    submit_local(
                        run, out, slot, gpus, timeout_min or LOCAL_TIMEOUT_MIN, notebook, jobs
                    ),
                )
            time.sleep(poll_s)
            for slot, (run, job) in list(running.items()):
                if job.done():
                    del running[slot]
                    s = finished_status(run, out)
                    statuses.append(s)
                    log(
                        f"  {'done  ' if s['ok'] else 'FAILED'} {run['name']} ({s['seconds']} s)"
                        + ("" if s["ok"] else f": {s['error']}")
                    )
    except BaseException:
        for _, job in running.values():
            job.cancel(check=False)  # do not leave trainings behind a Ctrl-C
        raise
    return statuses


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


def job_state(run_dir: Path) -> tuple[str, str]:
    """(state, detail) of a run that has no complete record, from its status.json, job.json and
    SLURM.

    state: failed | queued | running | submitted (SLURM can't tell) | interrupted | not started
    """
    status, job = read_json(run_dir / "status.json"), read_json(run_dir / "job.json")
    if status is not None and not status.get("ok"):
        return "failed", status.get("error") or "?"
    if job is not None and status is None and job.get("executor") == "slurm":
        state = slurm_state(job["job_id"])
        if state is None:
            return "submitted", f"slurm job {job['job_id']} (squeue cannot tell its state here)"
        if state == ENDED:
            return "failed", (
                f"slurm job {job['job_id']} ended without a status (no longer queued; without "
                "accounting sacct cannot say why): "
                f"{last_line(run_dir / 'job.err') or 'see job.err'}"
            )
        if state in QUEUED_STATES or state in RUNNING_STATES:
            return (
                "queued" if state in QUEUED_STATES else "running"
            ), f"slurm job {job['job_id']}: {state}"
        return (
            "failed",
            f"slurm job {job['job_id']} ended {state}: "
            f"{last_line(run_dir / 'job.err') or 'see job.err'}",
        )
    if job is not None and status is None:
        if _alive(int(job["job_id"])):  # a local job's id is its controller's process id
            return "running", f"local job {job['job_id']}"
        return (
            "failed",
            "the local job ended without a status (killed?): "
            f"{last_line(run_dir / 'job.err') or '?'}",
        )
    if (run_dir / "checkpoint.pt").exists():
        return "interrupted", "a checkpoint and no complete record: the next batch resumes it"
    return "not started", ""
