"""One run of the batch as a job: papermill executes ``notebooks/07_training.ipynb`` into its run
folder.

:class:`NotebookJob` is what the executors (:mod:`attnlib.batch.executors`,
:mod:`attnlib.batch.slurm`) submit. A run folder
``out/<run>/`` ends up holding::

    params.yaml              what papermill got: the grid's parameters + out_dir
    07_training.ipynb        the executed notebook
    stdout.log, stderr.log   papermill's output
    run.json, checkpoint.pt  written by the training engine
    status.json              {"name", "ok", "error", "returncode", "seconds"}, when the job ends
    job.json                 {"executor", "job_id", "submitted", "stdout", "stderr"}, when submitted
    job.out, job.err         links to submitit's log of the job (its traceback, SLURM's messages)

A papermill run that exits 0 but leaves no complete ``run.json`` is a failure, with that reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import yaml

from attnlib.checkpoints import write_json_atomic

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "07_training.ipynb"


class BatchError(ValueError):
    """A batch that cannot go on; the message is one line that says what to do."""


def read_json(path: Path) -> dict | None:
    """The JSON file's content, or None when it is missing or half-written."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def write_params(run: dict, out: Path) -> Path:
    """Create ``out/<name>/``, write ``params.yaml`` (what papermill gets) and forget an old
    ``status.json`` (before a job is submitted, and when it starts); return the folder."""
    run_dir = (Path(out) / run["name"]).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "status.json").unlink(missing_ok=True)
    params = {**run["params"], "out_dir": str(run_dir)}
    (run_dir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return run_dir


def failure_reason(returncode: int, run_dir: Path) -> str | None:
    """Why a finished papermill run failed (one line), or None when it left a complete run.json."""
    if returncode < 0:
        return (
            f"papermill was stopped by signal {-returncode} (killed, timed out or preempted): "
            "run the batch again to resume"
        )
    if returncode != 0:
        text = (
            (run_dir / "stderr.log").read_text(errors="replace")
            if (run_dir / "stderr.log").exists()
            else ""
        )
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        found = next((ln for ln in reversed(lines) if "Error" in ln or "Exception" in ln), None)
        return found or (lines[-1] if lines else f"papermill exited with {returncode}")
    rec = read_json(run_dir / "run.json")
    if rec is None:
        return f"the notebook finished but left no run.json in {run_dir}"
    if not rec.get("complete"):
        return f"the notebook finished but {run_dir / 'run.json'} is not complete"
    return None


def execute(
    run: dict, out: Path, notebook: Path = NOTEBOOK, started=None, share: dict | None = None
) -> dict:
    """Execute the notebook for one run with papermill; write and return its status.

    ``started(proc)`` is called with the papermill process (so a checkpoint can stop it). The
    process inherits this one's environment: a job's CUDA_VISIBLE_DEVICES names its one GPU;
    ``share`` (:func:`attnlib.cpu.thread_env`) gives it its share of the cores, where the
    environment does not already name the threads (what the user set wins).
    """
    run_dir = write_params(run, out)
    notebook = Path(notebook).resolve()
    cmd = [
        sys.executable,
        "-m",
        "papermill",
        str(notebook),
        str(run_dir / notebook.name),
        "-f",
        str(run_dir / "params.yaml"),
        "--cwd",
        str(notebook.parent),
        "--no-progress-bar",
        "-k",
        "python3",
    ]
    env = {**(share or {}), **os.environ, "NO_ALBUMENTATIONS_UPDATE": "1", "ATTNLIB_QUIET": "1"}
    t0 = time.perf_counter()
    with open(run_dir / "stdout.log", "w") as stdout, open(run_dir / "stderr.log", "w") as stderr:
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, env=env)
        try:
            if started is not None:
                started(proc)
            returncode = proc.wait()
        finally:  # a job stopped here (Ctrl-C, requeue) stops its notebook too
            if proc.poll() is None:
                proc.terminate()
    error = failure_reason(returncode, run_dir)
    status = {
        "name": run["name"],
        "ok": error is None,
        "error": error,
        "returncode": returncode,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    write_json_atomic(status, run_dir / "status.json")
    return status


try:  # submitit is the "cluster" extra; without it only execute() works
    from submitit.core.utils import DelayedSubmission
    from submitit.helpers import Checkpointable
except ImportError:  # pragma: no cover
    Checkpointable = object


class NotebookJob(Checkpointable):
    """One run as a submitit job: ``NotebookJob()(run, out, notebook)`` -> status (raises if it
    failed).

    On a timeout or preemption signal submitit calls :meth:`checkpoint`, which stops the notebook
    and requeues the same run: the training resumes from the run folder's ``checkpoint.pt``.
    """

    def __init__(self):
        self._proc = None  # the running papermill process

    def __call__(
        self, run: dict, out: str, notebook: str = str(NOTEBOOK), share: dict | None = None
    ) -> dict:
        status = execute(run, Path(out), Path(notebook), started=self._started, share=share)
        if not status["ok"]:
            raise RuntimeError(f"{run['name']}: {status['error']}")  # so SLURM records FAILED
        return status

    def _started(self, proc) -> None:
        self._proc = proc

    def checkpoint(self, *args, **kwargs):
        """Stop papermill (its kernel follows it; the last checkpoint.pt is on disk, written
        atomically) and requeue the same run.

        It does not wait for papermill to exit: submitit calls this from its signal handler, which
        has interrupted :func:`execute`'s ``proc.wait()``, and that wait holds the process's wait
        lock, so a wait here could only time out (it held the requeue back by its whole timeout).
        SLURM ends the job's processes before the requeued job starts.
        """
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.terminate()
        return DelayedSubmission(NotebookJob(), *args, **kwargs)


def submitit_module():
    """The submitit module, or a BatchError that says how to install it."""
    try:
        import submitit
    except ImportError:
        raise BatchError(
            "the batch runs its jobs with submitit, which is not installed: "
            "pip install 'attnlib[cluster]' (or pip install -r requirements.txt)."
        ) from None
    return submitit


def finished_status(run: dict, out: Path) -> dict:
    """The status a finished job left (local or SLURM); one that left none was killed (timed out
    or stopped), and gets a status that says so."""
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


def record_job(run_dir: Path, executor: str, job) -> None:
    """Write ``job.json`` and link ``job.out``/``job.err`` to submitit's logs of the job."""
    logs = {"stdout": job.paths.stdout.resolve(), "stderr": job.paths.stderr.resolve()}
    for name, target in (("job.out", logs["stdout"]), ("job.err", logs["stderr"])):
        link = run_dir / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(os.path.relpath(target, run_dir))
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    record = {
        "executor": executor,
        "job_id": str(job.job_id),
        "submitted": now,
        **{k: str(v) for k, v in logs.items()},
    }
    write_json_atomic(record, run_dir / "job.json")


def last_line(path: Path) -> str:
    """The last non-empty line of a log file ("" when there is none)."""
    try:
        lines = [
            ln.strip() for ln in Path(path).read_text(errors="replace").splitlines() if ln.strip()
        ]
    except OSError:
        return ""
    return lines[-1] if lines else ""
