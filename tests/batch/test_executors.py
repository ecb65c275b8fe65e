"""attnlib.batch.jobs, .executors and .slurm: local jobs (a tiny notebook through submitit's
LocalExecutor), SLURM submission (a fake sbatch on PATH), failure reasons,
checkpoint-and-requeue."""

import json
import os
import pickle
import subprocess
import sys

import nbformat
import pytest
import yaml

from attnlib.batch import executors, jobs
from attnlib.batch.slurm import slurm_parameters
from attnlib.batch.grid import batch_status
from attnlib.batch.jobs import BatchError, NotebookJob
from attnlib.batch.run import run_batch

# A stand-in for 07_training.ipynb that takes seconds: it builds the config like the real one and
# writes a complete run.json; gate "additive" makes it raise, gate "sse" makes it end without a
# record.
TINY = """
import dataclasses, json, os, pathlib
from attnlib.config import Config, make_config
fields = {f.name: globals().get(f.name) for f in dataclasses.fields(Config)}
config, changes = make_config(profile, **fields)
if config.gate == "additive":
    raise RuntimeError("tiny notebook asked to fail")
if config.gate != "sse":
    metrics = ("pixel_accuracy", "mean_iou", "vrand_class", "vinfo_class", "isbi_vrand",
               "isbi_vinfo")
    test = dict.fromkeys(metrics, 0.5)
    summary = {p: {"epoch": 1, "test": test, "rule": "tiny"} for p in ("paper_protocol", "honest")}
    env = {"CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES")}
    rec = {"config": config.to_dict(), "profile": profile, "profile_changes": changes,
           "summary": summary, "complete": True, "environment": env}
    pathlib.Path(out_dir, "run.json").write_text(json.dumps(rec))
"""
quiet = {"log": lambda *_: None}


@pytest.fixture(scope="module")
def tiny_notebook(tmp_path_factory):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("profile = None\nout_dir = None")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(TINY)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = tmp_path_factory.mktemp("nb") / "tiny.ipynb"
    nbformat.write(nb, path)
    return path


def write_grid(path, runs, **extra):
    path.write_text(
        yaml.safe_dump({"profile": "smoke", "seeds": [0], "runs": runs, **extra}, sort_keys=False)
    )
    return path


@pytest.fixture(scope="module")
def local(tmp_path_factory, tiny_notebook):
    root = tmp_path_factory.mktemp("local")
    grid = write_grid(
        root / "grid.yaml",
        {
            "a": {},
            "b": {"lr": 0.002},
            "crash": {"gate": "additive"},
            "silent": {"gate": "sse"},
            "invalid": {"crop": 100},
        },
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(executors, "gpu_count", lambda: 2)  # as if on a 2-GPU machine
        first = run_batch(grid, root / "out", jobs=4, notebook=tiny_notebook, **quiet)
    return root, grid, first


@pytest.mark.slow
def test_local_runs_report_reasons(local):
    root, _, first = local
    assert sorted(first["ran"]) == ["a_s0", "b_s0"]
    errors = {f["name"]: f["error"] for f in first["failed"]}
    assert sorted(errors) == ["crash_s0", "invalid_s0", "silent_s0"]
    assert "tiny notebook asked to fail" in errors["crash_s0"]
    assert "left no run.json" in errors["silent_s0"]  # papermill exited 0, but that is no success
    assert (
        "divisible by 16" in errors["invalid_s0"] and not (root / "out/invalid_s0").exists()
    )  # never submitted
    for name in ("a_s0", "crash_s0"):
        run_dir = root / "out" / name
        for f in (
            "params.yaml",
            "tiny.ipynb",
            "stdout.log",
            "stderr.log",
            "status.json",
            "job.json",
            "job.out",
            "job.err",
        ):
            assert (run_dir / f).exists(), f"{name}/{f}"
    assert "tiny notebook asked to fail" in (root / "out/crash_s0/stderr.log").read_text()
    summary = (root / "out/summary.md").read_text()
    assert "| a |" in summary and "crash_s0" in summary and "divisible by 16" in summary


@pytest.mark.slow
def test_each_local_job_sees_one_gpu(local):
    root, _, _ = local
    seen = {
        json.loads((root / f"out/{n}/run.json").read_text())["environment"]["CUDA_VISIBLE_DEVICES"]
        for n in ("a_s0", "b_s0")
    }
    assert seen == {"0", "1"}  # a and b ran at once, each on its own GPU (slot % 2)


@pytest.mark.slow
def test_status_names_every_runs_state(local):
    root, grid, _ = local
    states = {s["name"]: s["state"] for s in batch_status(grid, root / "out")}
    assert states == {
        "a_s0": "complete",
        "b_s0": "complete",
        "crash_s0": "failed",
        "silent_s0": "failed",
        "invalid_s0": "invalid",
    }


@pytest.mark.slow
def test_next_batch_reruns_failures_and_changed_runs_only(local, tiny_notebook):
    root, grid, _ = local
    changed = write_grid(
        root / "changed.yaml", {**yaml.safe_load(grid.read_text())["runs"], "a": {"lr": 0.01}}
    )
    with pytest.raises(BatchError, match=r"a_s0 \(lr\).*--rerun-changed"):
        run_batch(changed, root / "out", notebook=tiny_notebook, **quiet)
    jobs = {n: (root / f"out/{n}/job.json").read_text() for n in ("b_s0", "crash_s0")}
    again = run_batch(
        changed, root / "out", jobs=3, rerun_changed=True, notebook=tiny_notebook, **quiet
    )
    assert again["ran"] == ["a_s0"] and again["skipped"] == ["b_s0"]
    assert sorted(f["name"] for f in again["failed"]) == [
        "crash_s0",
        "invalid_s0",
        "silent_s0",
    ]  # retried, failed again
    assert json.loads((root / "out/a_s0/run.json").read_text())["config"]["lr"] == 0.01
    assert (root / "out/b_s0/job.json").read_text() == jobs[
        "b_s0"
    ]  # a complete run is not submitted again
    assert (root / "out/crash_s0/job.json").read_text() != jobs["crash_s0"]  # a failed one is


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    """sbatch, srun, squeue and sacct stand-ins on PATH: sbatch records its script and answers a job
    id; squeue lists task 0 as running, sacct (accounting) knows task 1 as pending."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {
        "sbatch": f'cp "$1" {bin_dir}/job_$(date +%s%N).sh\necho "Submitted batch job 4242"',
        "srun": "exit 0",
        "squeue": "echo '4242_0|RUNNING'",
        "sacct": "echo '4242_1|PENDING'",
    }
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def test_slurm_submits_one_array_with_the_grids_options(tmp_path, fake_slurm):
    grid = write_grid(
        tmp_path / "g.yaml",
        {"unet": {}, "sse": {"gate": "sse"}, "bad": {"crop": 100}},
        slurm={
            "partition": "gpu",
            "cpus_per_task": 4,
            "mem_gb": 16,
            "timeout_min": 90,
            "signal_delay_s": 120,
        },
    )
    result = run_batch(
        grid,
        tmp_path / "out",
        executor="slurm",
        slurm={"partition": "big", "timeout_min": None},
        **quiet,
    )
    assert result["submitted"] == ["unet_s0", "sse_s0"] and [
        f["name"] for f in result["failed"]
    ] == ["bad_s0"]
    (script,) = fake_slurm.glob("job_*.sh")  # one sbatch call: one job array
    text = script.read_text()
    for flag in (
        "--array=0-1%2",
        "--partition=big",
        "--gpus-per-node=1",
        "--cpus-per-task=4",
        "--mem=16GB",
        "--time=90",
        "--job-name=attnlib-g",
        "--ntasks-per-node=1",
        "--signal=USR2@120",
    ):
        assert f"#SBATCH {flag}" in text, flag
    for i, name in enumerate(result["submitted"]):
        job = json.loads((tmp_path / f"out/{name}/job.json").read_text())
        assert job["executor"] == "slurm" and job["job_id"] == f"4242_{i}"
        assert os.readlink(tmp_path / f"out/{name}/job.out").endswith(f"4242_{i}_0_log.out")
        params = yaml.safe_load((tmp_path / f"out/{name}/params.yaml").read_text())
        assert params["out_dir"] == str((tmp_path / f"out/{name}").resolve())
    states = {s["name"]: s["state"] for s in batch_status(grid, tmp_path / "out")}
    assert states == {
        "unet_s0": "running",
        "sse_s0": "queued",
        "bad_s0": "invalid",
    }  # squeue, then sacct
    again = run_batch(grid, tmp_path / "out", executor="slurm", **quiet)
    assert again["submitted"] == [] and sorted(again["waiting"]) == [
        "sse_s0",
        "unet_s0",
    ]  # not submitted twice
    (fake_slurm / "sacct").write_text(
        "#!/bin/sh\necho 'Slurm accounting storage is disabled' >&2\nexit 1\n"
    )
    states = {s["name"]: (s["state"], s["detail"]) for s in batch_status(grid, tmp_path / "out")}
    assert states["unet_s0"] == ("running", "slurm job 4242_0: RUNNING")
    assert (
        states["sse_s0"][0] == "failed" and "ended without a status" in states["sse_s0"][1]
    )  # squeue lost it
    (fake_slurm / "squeue").write_text(
        "#!/bin/sh\necho 'Unable to contact slurm controller' >&2\nexit 1\n"
    )
    assert {s["state"] for s in batch_status(grid, tmp_path / "out")} == {"submitted", "invalid"}


@pytest.mark.slow
def test_an_array_task_runs_its_run_on_the_node(tmp_path, fake_slurm, tiny_notebook):
    """What a compute node does with the submitted array: task 1 unpickles its job and runs its
    run."""
    grid = write_grid(tmp_path / "g.yaml", {"a": {}, "b": {"lr": 0.002}})
    run_batch(grid, tmp_path / "out", executor="slurm", notebook=tiny_notebook, **quiet)
    node = {
        **os.environ,
        "SUBMITIT_EXECUTOR": "slurm",
        "SLURM_JOB_ID": "4243",
        "SLURM_ARRAY_JOB_ID": "4242",
        "SLURM_ARRAY_TASK_ID": "1",
        "SLURM_PROCID": "0",
        "SLURM_LOCALID": "0",
        "SLURM_NODEID": "0",
        "SLURM_NTASKS": "1",
        "SLURM_JOB_NUM_NODES": "1",
    }
    subprocess.run(
        [sys.executable, "-m", "submitit.core._submit", str(tmp_path / "out/.submitit")],
        env=node,
        check=True,
        capture_output=True,
        timeout=300,
    )
    states = {s["name"]: s["state"] for s in batch_status(grid, tmp_path / "out")}
    assert states == {
        "a_s0": "running",
        "b_s0": "complete",
    }  # the fake squeue lists task 0 as running
    assert json.loads((tmp_path / "out/b_s0/status.json").read_text())["ok"]


def test_slurm_needs_sbatch(tmp_path, monkeypatch):
    grid = write_grid(tmp_path / "g.yaml", {"unet": {}})
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BatchError, match="needs SLURM's sbatch and srun on PATH.*--executor local"):
        run_batch(grid, tmp_path / "out", executor="slurm", **quiet)


def test_unknown_slurm_key_and_unknown_executor(tmp_path):
    grid = write_grid(tmp_path / "g.yaml", {"unet": {}}, slurm={"partiton": "gpu", "gpus": 2})
    with pytest.raises(
        BatchError,
        match=r"unknown slurm option\(s\) \['gpus', 'partiton'\]: the allowed ones are "
        r"\['partition'",
    ):
        run_batch(grid, tmp_path / "out", **quiet)
    with pytest.raises(
        BatchError, match=r"unknown executor 'pbs': choose one of \['local', 'slurm'\]"
    ):
        run_batch(grid, tmp_path / "out", executor="pbs", **quiet)


def test_slurm_parameters_defaults_and_overrides():
    p = slurm_parameters(
        {"partition": "gpu", "timeout_min": 30, "mem_gb": None}, "attnlib-paper", 18
    )
    assert (
        p["gpus_per_node"] == 1
        and p["mem_gb"] == 32
        and p["timeout_min"] == 30
        and p["slurm_partition"] == "gpu"
    )
    assert p["slurm_array_parallelism"] == 18 and p["name"] == "attnlib-paper"
    assert slurm_parameters({"array_parallelism": 4}, "x", 18)["slurm_array_parallelism"] == 4


def test_checkpoint_stops_the_notebook_and_requeues_the_same_run():
    job = NotebookJob()
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    job._started(proc)
    delayed = job.checkpoint({"name": "a_s0"}, "out", "nb.ipynb")
    assert proc.wait(timeout=10) == -15  # stopped: the next attempt resumes from checkpoint.pt
    assert isinstance(delayed.function, NotebookJob) and delayed.args == (
        {"name": "a_s0"},
        "out",
        "nb.ipynb",
    )
    pickle.dumps(delayed.function)  # submitit pickles it for the requeued job


def test_failure_reason(tmp_path):
    (tmp_path / "stderr.log").write_text(
        "Traceback\n  File x\nValueError: crop=100 is not divisible by 16\n\n"
    )
    assert jobs.failure_reason(1, tmp_path) == "ValueError: crop=100 is not divisible by 16"
    assert "signal 15" in jobs.failure_reason(-15, tmp_path)
    assert "left no run.json" in jobs.failure_reason(0, tmp_path)
    (tmp_path / "run.json").write_text(json.dumps({"complete": False}))
    assert "not complete" in jobs.failure_reason(0, tmp_path)
    (tmp_path / "run.json").write_text(json.dumps({"complete": True}))
    assert jobs.failure_reason(0, tmp_path) is None


def test_a_local_job_gets_its_share_of_the_cores_unless_the_user_named_the_threads(
    tmp_path, monkeypatch
):
    import subprocess as sp

    from attnlib import cpu
    from attnlib.batch import jobs

    seen = []

    class FakePopen:
        def __init__(self, cmd, env=None, **kwargs):
            seen.append(env)
            self.returncode = 1

        def wait(self):
            return 1

        def poll(self):
            return 1

    monkeypatch.setattr(sp, "Popen", FakePopen)
    run = {
        "name": "unet_s0",
        "config": "unet",
        "seed": 0,
        "params": {"profile": "smoke", "seed": 0},
    }
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    jobs.execute(run, tmp_path, share=cpu.thread_env(2, cores=4))
    assert seen[-1]["OMP_NUM_THREADS"] == "2" and seen[-1]["MKL_NUM_THREADS"] == "2"
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # what the user set wins
    jobs.execute(run, tmp_path, share=cpu.thread_env(2, cores=4))
    assert seen[-1]["OMP_NUM_THREADS"] == "1"
    assert cpu.job_threads(3, cores=2) == 1 and cpu.job_threads(1, cores=2) == 2
