"""Where the batch's jobs run: on this machine (submitit's LocalExecutor) or as one SLURM job
array.

:func:`run_local` runs at most ``jobs`` runs at a time, each on its own GPU, and blocks;
:func:`submit_slurm` submits every run as one job array and returns (:func:`wait_slurm` blocks).
A job that is preempted or times out is requeued by submitit
(:class:`attnlib.batch.jobs.NotebookJob` is checkpointable) and its training resumes from
``checkpoint.pt``. :func:`job_state` tells
what a run's job is doing now, from its folder and, on SLURM, ``squeue`` (which knows the jobs
that are queued, running or just ended), then ``sacct`` (which needs the cluster's accounting).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from attnlib import cpu
from attnlib.batch.jobs import (
    NOTEBOOK,
    BatchError,
    NotebookJob,
    last_line,
    read_json,
    record_job,
    write_params,
)
from attnlib.checkpoints import write_json_atomic

EXECUTORS = ("local", "slurm")
LOCAL_TIMEOUT_MIN = 24 * 60  # LocalExecutor kills a job after timeout_min (its default: 2 minutes)
# The grid's ``slurm:`` block; the command line's --partition, --timeout-min, ... override it.
SLURM_KEYS = (
    "partition",
    "account",
    "qos",
    "constraint",
    "gpus_per_node",
    "cpus_per_task",
    "mem_gb",
    "timeout_min",
    "array_parallelism",
    "signal_delay_s",
    "setup",
)
SLURM_DEFAULTS = {"gpus_per_node": 1, "cpus_per_task": 8, "mem_gb": 32, "timeout_min": 24 * 60}
# SLURM job states (squeue, sacct) that mean "not finished yet"
QUEUED_STATES = (
    "PENDING",
    "REQUEUED",
    "CONFIGURING",
    "RESV_DEL_HOLD",
    "REQUEUE_HOLD",
    "REQUEUE_FED",
)
RUNNING_STATES = ("RUNNING", "COMPLETING", "SUSPENDED", "STAGE_OUT", "SIGNALING", "RESIZING")
ENDED = (
    "ENDED"  # not a SLURM state: squeue no longer lists the job and sacct cannot say how it ended
)


def gpu_count() -> int:
    try:
        import torch

        return torch.cuda.device_count()
    except Exception:  # pragma: no cover
        return 0


def _submitit():
    """The submitit module, or a BatchError that says how to install it."""
    try:
        import submitit
    except ImportError:
        raise BatchError(
            "the batch runs its jobs with submitit, which is not installed: "
            "pip install 'attnlib[cluster]' (or pip install -r requirements.txt)."
        ) from None
    return submitit


def submit_local(
    run: dict, out: Path, slot: int, gpus: int, timeout_min: float, notebook: Path, jobs: int = 1
):
    """Start one run with submitit's LocalExecutor (logs in the run folder), on GPU ``slot % gpus``,
    with its share of the CPU cores when ``jobs`` run at once (unless OMP_NUM_THREADS is set)."""
    submitit = _submitit()
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


def local_outcome(run: dict, out: Path) -> dict:
    """The status a finished local job left; one that left none was killed (timed out or
    stopped)."""
    run_dir = (Path(out) / run["name"]).resolve()
    status = read_json(run_dir / "status.json")
    if status is None:
        why = last_line(run_dir / "job.err") or "see job.err"
        status = {
            "name": run["name"],
            "ok": False,
            "returncode": None,
            "seconds": None,
            "error": f"the job ended without a status (killed or timed out): {why}",
        }
        write_json_atomic(status, run_dir / "status.json")
    return status


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
                    s = local_outcome(run, out)
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


def check_slurm_options(options, source: str) -> dict:
    """The ``slurm`` options as a dict; unknown keys are an error that names them and the allowed
    ones."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise BatchError(
            f"{source}: 'slurm' must be a mapping such as {{partition: gpu, timeout_min: 240}}."
        )
    unknown = sorted(set(options) - set(SLURM_KEYS))
    if unknown:
        raise BatchError(
            f"{source}: unknown slurm option(s) {unknown}: the allowed ones are {list(SLURM_KEYS)}."
        )
    return dict(options)


def require_slurm() -> None:
    """Raise unless SLURM's sbatch and srun are on PATH."""
    missing = [cmd for cmd in ("sbatch", "srun") if shutil.which(cmd) is None]
    if missing:
        raise BatchError(
            f"--executor slurm needs SLURM's {' and '.join(missing)} on PATH, and there is none "
            "here: "
            "run the batch on the cluster's login node, or use --executor local."
        )


def slurm_parameters(options: dict, name: str, n_jobs: int) -> dict:
    """submitit AutoExecutor parameters from the slurm options (SLURM_KEYS), defaults filled in.

    One GPU per job by default (SLURM then sets the job's CUDA_VISIBLE_DEVICES to it); every job
    of the array may run at once unless ``array_parallelism`` says fewer.
    """
    o = {**SLURM_DEFAULTS, **{k: v for k, v in options.items() if v is not None}}
    params = {
        "name": name,
        "timeout_min": int(o["timeout_min"]),
        "gpus_per_node": o["gpus_per_node"],
        "cpus_per_task": o["cpus_per_task"],
        "mem_gb": o["mem_gb"],
        "tasks_per_node": 1,
        "nodes": 1,
        "slurm_array_parallelism": int(o.get("array_parallelism") or max(1, n_jobs)),
    }
    for key in ("partition", "account", "qos", "constraint", "signal_delay_s", "setup"):
        if key in o:
            params[f"slurm_{key}"] = o[key]
    return params


def submit_slurm(
    todo: list[dict], out, options: dict, name: str = "attnlib", notebook: Path = NOTEBOOK
) -> list:
    """Submit ``todo`` as one SLURM job array (submitit's ``map_array``); return the submitit jobs.

    submitit's own files go to ``out/.submitit/``; each run folder gets ``job.json`` and links to
    its job's logs. The folder must be on a file system that the compute nodes share.
    """
    submitit = _submitit()
    require_slurm()
    out = Path(out).resolve()
    executor = submitit.AutoExecutor(folder=out / ".submitit", cluster="slurm")
    executor.update_parameters(**slurm_parameters(options, name, len(todo)))
    run_dirs = [write_params(run, out) for run in todo]
    n = len(todo)
    jobs = executor.map_array(NotebookJob(), todo, [str(out)] * n, [str(notebook)] * n)
    for run_dir, job in zip(run_dirs, jobs):
        record_job(run_dir, "slurm", job)
    return jobs


def wait_slurm(jobs: list, todo: list[dict], out, poll_s: float = 5.0) -> list[dict]:
    """Block until the jobs end (asking squeue, not submitit: its watcher polls sacct, which fails
    and warns on every poll without accounting); return one status per run (its status.json)."""
    ids = [str(job.job_id) for job in jobs]
    while True:
        states = slurm_states(ids)
        if states is not None and not any(
            s in QUEUED_STATES or s in RUNNING_STATES for s in states.values()
        ):
            break
        time.sleep(poll_s)
    return [local_outcome(run, out) for run in todo]


def _ask(cmd: list[str]) -> subprocess.CompletedProcess | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None


def _table(text: str) -> dict[str, str]:
    """``id|STATE`` lines -> {id: STATE} (sacct's "CANCELLED by 0" -> CANCELLED)."""
    rows = (ln.split("|", 1) for ln in text.splitlines() if "|" in ln)
    return {jid.strip(): state.split()[0] for jid, state in rows if state.strip()}


def slurm_states(job_ids: list[str]) -> dict[str, str] | None:
    """SLURM's state of each job (``4242_1`` for a task of an array): PENDING, RUNNING,
    COMPLETED, ...

    squeue first (``-t all`` lists jobs that ended in the last few minutes too), then sacct for the
    ones squeue no longer lists; :data:`ENDED` for a job neither can tell about (no accounting).
    None when squeue cannot be asked (not installed, or the controller does not answer).
    """
    ids = [str(j) for j in job_ids]
    proc = _ask(["squeue", "-h", "-r", "-t", "all", "-j", ",".join(ids), "-o", "%i|%T"])
    if proc is None or (proc.returncode != 0 and "Invalid job id" not in proc.stderr):
        return None
    states = {jid: state for jid, state in _table(proc.stdout).items() if jid in ids}
    gone = [j for j in ids if j not in states]
    if gone:
        acct = _ask(["sacct", "-X", "-n", "-P", "-o", "JobID,State", "-j", ",".join(gone)])
        found = _table(acct.stdout) if acct is not None and acct.returncode == 0 else {}
        states.update({j: found.get(j, ENDED) for j in gone})
    return states


def slurm_state(job_id: str) -> str | None:
    """SLURM's state of one job (see :func:`slurm_states`), :data:`ENDED`, or None (cannot ask)."""
    states = slurm_states([job_id])
    return None if states is None else states[str(job_id)]


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
