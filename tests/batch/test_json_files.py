"""Every JSON file the batch writes (status.json, job.json, failures.json) is written atomically
(attnlib.checkpoints.write_json_atomic): a crash mid-write leaves the old file, never a torn one."""

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

import attnlib.batch
from attnlib import checkpoints
from attnlib.batch import jobs
from attnlib.batch.run import run_batch

BATCH = Path(attnlib.batch.__file__).parent


def test_no_plain_json_writes_left_in_the_batch():
    for path in sorted(BATCH.glob("*.py")):
        text = path.read_text()
        assert not re.search(r"json\.dump", text), (
            f"{path.name} writes JSON without write_json_atomic"
        )
    writers = {p.name for p in BATCH.glob("*.py") if "write_json_atomic(" in p.read_text()}
    assert writers == {"jobs.py", "run.py"}  # status.json, job.json; failures.json


@pytest.fixture
def crash_before_rename(monkeypatch):
    """As if the machine died after the temporary file was written, before the rename."""

    def crash(src, dst):
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(checkpoints.os, "replace", crash)


def _fake_job(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    paths = SimpleNamespace(stdout=logs / "0_log.out", stderr=logs / "0_log.err")
    return SimpleNamespace(job_id="4242_0", paths=paths)


def test_job_json_is_written_whole(tmp_path):
    jobs.record_job(tmp_path, "slurm", _fake_job(tmp_path))
    assert json.loads((tmp_path / "job.json").read_text())["job_id"] == "4242_0"
    assert list(tmp_path.glob("*.tmp")) == []


def test_a_crash_while_writing_job_json_keeps_the_old_one(tmp_path, crash_before_rename):
    old = {"executor": "local", "job_id": "17"}
    (tmp_path / "job.json").write_text(json.dumps(old))
    with pytest.raises(OSError, match="simulated crash"):
        jobs.record_job(tmp_path, "slurm", _fake_job(tmp_path))
    assert jobs.read_json(tmp_path / "job.json") == old


def test_a_crash_while_writing_failures_json_keeps_the_old_one(tmp_path, crash_before_rename):
    grid = {"profile": "smoke", "seeds": [0], "runs": {"broken": {"model": "unet", "crop": 100}}}
    (tmp_path / "grid.yaml").write_text(yaml.safe_dump(grid))
    out = tmp_path / "out"
    out.mkdir()
    (out / "failures.json").write_text(json.dumps([{"name": "old_s0", "error": "old"}]))
    with pytest.raises(OSError, match="simulated crash"):
        run_batch(
            tmp_path / "grid.yaml", out, log=lambda *_: None
        )  # only an invalid run: nothing executes
    assert jobs.read_json(out / "failures.json") == [{"name": "old_s0", "error": "old"}]
