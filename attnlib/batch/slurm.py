"""The batch on SLURM: the grid's ``slurm:`` options, one job array, and SLURM's word on each job.

:func:`submit_slurm` submits every run as one job array through submitit's AutoExecutor and
returns; :func:`wait_slurm` blocks until the jobs end. A job that is preempted or times out is
requeued by submitit (:class:`attnlib.batch.jobs.NotebookJob` is checkpointable) and its
training resumes from ``checkpoint.pt``. :func:`slurm_states` asks ``squeue`` (which knows the
jobs that are queued, running or just ended), then ``sacct`` (which needs the cluster's
accounting).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from attnlib.batch.jobs import (
    NOTEBOOK,
    BatchError,
    NotebookJob,
    finished_status,
    record_job,
    submitit_module,
    write_params,
)

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
    submitit = submitit_module()
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
    return [finished_status(run, out) for run in todo]


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
