"""The batch on a real one-node SLURM cluster (``scripts/slurm_local.sh``), marked ``cluster``.

- a smoke grid submitted as one job array (two at a time at most on one node: one CPU each)
  and waited for: ``--status`` says queued and running while it is, every record ends complete,
  and a second submit submits nothing;
- a job stopped the way SLURM stops one at its time limit (``USR2`` to its steps, what the
  array's ``--signal=USR2@<signal_delay_s>`` sends) is requeued through submitit's
  checkpointing and resumes from its checkpoint: its record says so, and its history equals that
  of the same run left alone;
- nothing on the way warns about sacct (the cluster has no accounting; the batch asks squeue).

The jobs run a notebook that only trains (``fit``, the smoke profile) instead of 07_training,
which takes minutes even at smoke size: what is tested is the way there and back.
The cluster needs root, and slurm-wlm and munge, which the script installs with apt-get when
they are missing: without those the tests skip and say why, except where
``ATTNLIB_CLUSTER_TESTS=required`` (CI) makes that a failure.
"""

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import nbformat
import pytest
import yaml

from attnlib.batch.grid import batch_status, format_status
from attnlib.batch.run import run_batch

pytestmark = pytest.mark.cluster
ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "slurm_local.sh"
CLUSTER_DIR = (
    "/tmp/attnlib-slurm-pytest"  # munged (user munge) must reach it: not under pytest's 0700 tmp
)
SLURM = {
    "partition": "debug",
    "gpus_per_node": 0,
    "cpus_per_task": 1,
    "mem_gb": 1,
    "timeout_min": 20,
}
FIT = """
import dataclasses
from attnlib.config import Config, make_config
from attnlib.train import fit
fields = {f.name: globals().get(f.name) for f in dataclasses.fields(Config)}
config, changes = make_config(profile, **fields)
fit(config, profile=profile, profile_changes=changes)
"""


def _cannot_start() -> str | None:
    if os.geteuid() != 0:
        return "a SLURM cluster needs root (slurmd runs the jobs as their users)"
    if shutil.which("slurmctld") is None and shutil.which("apt-get") is None:
        return "slurm-wlm is not installed and there is no apt-get to install it"
    return None


@pytest.fixture(scope="module")
def slurm():
    """A one-node cluster for this module: started (installed if need be), then stopped by pid."""
    why = _cannot_start()
    if why and os.environ.get("ATTNLIB_CLUSTER_TESTS") == "required":
        pytest.fail(f"ATTNLIB_CLUSTER_TESTS=required, but {why}")
    if why:
        pytest.skip(why)
    env = {**os.environ, "ATTNLIB_SLURM_DIR": CLUSTER_DIR, "ATTNLIB_SLURM_PORT": "26817"}
    started = subprocess.run(
        ["bash", str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=900
    )
    assert started.returncode == 0, (
        f"scripts/slurm_local.sh start failed:\n{started.stdout}{started.stderr}"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLURM_CONF", f"{CLUSTER_DIR}/slurm.conf")  # sbatch, squeue and the jobs read it
        yield started.stdout
    stopped = subprocess.run(
        ["bash", str(SCRIPT), "stop"], env=env, capture_output=True, text=True, timeout=120
    )
    assert stopped.returncode == 0, stopped.stderr


@pytest.fixture(scope="module")
def fit_notebook(tmp_path_factory):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("profile = None\nout_dir = None")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(FIT)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = tmp_path_factory.mktemp("nb") / "fit.ipynb"
    nbformat.write(nb, path)
    return path


def write_grid(path: Path, runs: dict, **slurm) -> Path:
    grid = {"profile": "smoke", "seeds": [0], "runs": runs, "slurm": {**SLURM, **slurm}}
    path.write_text(yaml.safe_dump(grid, sort_keys=False))
    return path


def in_background(**kwargs):
    """run_batch(..., executor="slurm", wait=True) in a thread: (thread, result, log lines)."""
    result, lines = {}, []
    thread = threading.Thread(
        target=lambda: result.update(
            run_batch(executor="slurm", wait=True, log=lines.append, **kwargs)
        ),
        daemon=True,
    )
    thread.start()
    return thread, result, lines


def until(condition, timeout_s: float, what: str, poll_s: float = 0.5):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"not within {timeout_s:.0f} s: {what}")


def test_the_cluster_is_up(slurm):
    assert "SLURM is up" in slurm
    assert subprocess.run(
        ["sinfo", "-h", "-o", "%t"], capture_output=True, text=True
    ).stdout.split() == ["idle"]


def test_a_smoke_grid_as_one_array_status_wait_and_resubmit(slurm, fit_notebook, tmp_path, capfd):
    runs = {
        "unet": {"eval_interval": 2},
        "unet_sse": {"gate": "sse", "eval_interval": 2},
    }  # one evaluation each
    grid = write_grid(tmp_path / "smoke.yaml", runs, array_parallelism=1)
    out = tmp_path / "out"
    thread, result, lines = in_background(grid_path=grid, out=out, notebook=fit_notebook)
    seen = []

    def queued_and_running():
        seen.append({s["name"]: s["state"] for s in batch_status(grid, out)})
        return seen[-1] == {"unet_s0": "running", "unet_sse_s0": "queued"} and format_status(
            batch_status(grid, out)
        )

    status = until(
        queued_and_running,
        120,
        f"one run running, one queued (array_parallelism 1); saw {seen[-3:]}",
    )
    assert (
        "slurm job " in status[0]
        and status[0].endswith(": RUNNING")
        and status[1].endswith(": PENDING")
    )
    assert status[-1] == "2 runs: 1 running, 1 queued"
    thread.join(timeout=300)
    assert not thread.is_alive(), "--wait did not return"
    assert sorted(result["ran"]) == ["unet_s0", "unet_sse_s0"] and not result["failed"]
    assert lines[1].startswith("  submitted 2 runs as SLURM job array ")
    assert {s["state"] for s in batch_status(grid, out)} == {"complete"}
    for name in ("unet_s0", "unet_sse_s0"):
        assert json.loads((out / name / "run.json").read_text())["complete"]
    assert (out / "summary.md").exists()
    again = run_batch(grid, out, executor="slurm", log=lines.append)
    assert again["submitted"] == [] and sorted(again["skipped"]) == ["unet_s0", "unet_sse_s0"]
    assert lines[-1].endswith("2 complete, 0 queued or running, 0 invalid, 0 to run on SLURM")
    printed = capfd.readouterr()
    assert "sacct" not in printed.out + printed.err + "\n".join(lines)


def test_a_job_stopped_as_at_its_time_limit_is_requeued_and_resumes(
    slurm, fit_notebook, tmp_path, capfd
):
    """USR2 to the job's steps, as SLURM sends it signal_delay_s before the time limit."""
    longer = {"epochs": 8, "eval_interval": 8}  # seconds of training, one evaluation at the end
    grid = write_grid(
        tmp_path / "cut.yaml",
        {"cut": longer, "ref": longer},
        array_parallelism=2,
        signal_delay_s=60,
    )
    out = tmp_path / "out"
    thread, result, lines = in_background(grid_path=grid, out=out, notebook=fit_notebook)

    def checkpointed():
        rec = (
            json.loads((out / "cut_s0/run.json").read_text())
            if (out / "cut_s0/run.json").exists()
            else {}
        )
        assert not rec.get("complete"), "the run ended before the signal: give it more epochs"
        return len(rec.get("history", {}).get("epoch", [])) >= 2

    until(checkpointed, 180, "cut_s0 checkpointed two epochs", poll_s=0.2)
    job_id = json.loads((out / "cut_s0/job.json").read_text())["job_id"]
    subprocess.run(["scancel", "--signal=USR2", job_id], check=True)
    thread.join(timeout=300)
    assert not thread.is_alive(), "--wait did not return"
    assert sorted(result["ran"]) == ["cut_s0", "ref_s0"] and not result["failed"]
    cut, ref = (json.loads((out / f"{n}_s0/run.json").read_text()) for n in ("cut", "ref"))
    assert cut["complete"] and ref["complete"]
    assert (
        ref["resumed_from"] is None and 3 <= cut["resumed_from"] <= 8
    )  # went on from its checkpoint
    assert cut["history"]["epoch"] == ref["history"]["epoch"] == list(range(1, 9))
    assert cut["history"]["loss"] == ref["history"]["loss"]  # the same run, bit for bit
    job_log = (out / "cut_s0/job.out").read_text()  # submitit's log of the job
    assert "Caught signal SIGUSR2" in job_log and f"Requeued job {job_id}" in job_log
    assert job_log.count("Starting with JobEnvironment") == 2
    restarts = subprocess.run(
        ["scontrol", "show", "job", job_id], capture_output=True, text=True
    ).stdout
    assert "Restarts=1" in restarts
    printed = capfd.readouterr()
    assert "sacct" not in printed.out + printed.err + "\n".join(lines)
