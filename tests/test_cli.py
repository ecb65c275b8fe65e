"""python -m attnlib: typed --set values, --out, one-line errors, the profile's reason."""

import json
import subprocess
import sys

import pytest

from attnlib.__main__ import _parse_value, main
from attnlib.config import make_config


def test_set_values_are_typed_by_their_field():
    assert _parse_value("amp", "off") == "off"  # YAML alone would read a bare off as False
    assert _parse_value("gate", "none") == "none" and _parse_value("split", "4") == "4"
    assert _parse_value("lr", "0.001") == 0.001 and _parse_value("epochs", "3") == 3
    assert _parse_value("widths", "[8, 16, 32, 64, 128]") == [8, 16, 32, 64, 128]
    assert _parse_value("deterministic", "false") is False
    assert (
        make_config("laptop", lr=_parse_value("lr", "0.001"))[0].lr == 0.001
    )  # not the profile's 2e-3


def test_bad_set_is_a_one_line_error(capsys):
    assert main(["train", "--profile", "smoke", "--set", "epochs"]) == 2
    assert main(["train", "--profile", "smoke", "--set", "crop=100"]) == 2
    err = capsys.readouterr().err
    assert "key=value" in err and "not divisible by 16" in err and "Traceback" not in err


def test_missing_data_is_a_one_line_error(tmp_path):
    env = {"ATTNLIB_DATA": str(tmp_path / "nowhere"), "PATH": "", "CI": "true"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "attnlib",
            "train",
            "--profile",
            "smoke",
            "--out",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: ") and "ATTNLIB_DATA" in proc.stderr


@pytest.mark.slow
def test_train_writes_into_out_with_what_was_set(tmp_path):
    out = tmp_path / "run"
    args = [
        "train",
        "--profile",
        "smoke",
        "--set",
        "amp=off",
        "--set",
        "epochs=1",
        "--set",
        "lr=0.001",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    rec = json.loads((out / "run.json").read_text())
    assert rec["config"]["amp"] == "off" and rec["fast_path"]["dtype"] == "float32"
    assert rec["config"]["epochs"] == 1 and rec["config"]["out_dir"] == str(out) and rec["complete"]


def test_batch_flags_are_slurm_options_and_reach_run_batch(monkeypatch, tmp_path):
    from attnlib import __main__ as cli
    from attnlib.batch import run as batch_run
    from attnlib.batch.slurm import SLURM_KEYS

    keys = [key for key, _, _ in cli.SLURM_FLAGS]
    assert set(keys) == set(SLURM_KEYS) - {"signal_delay_s", "setup"}  # the grid's block only
    seen = {}

    def fake_run_batch(grid, out, **kw):
        seen.update(kw["slurm"])
        return {"ran": [], "skipped": [], "failed": [], "submitted": [], "waiting": []}

    monkeypatch.setattr(batch_run, "run_batch", fake_run_batch)
    argv = ["batch", "g.yaml", "--out", str(tmp_path), "--partition", "debug", "--mem-gb", "8"]
    assert main(argv + ["--timeout-min", "30", "--gpus-per-node", "0"]) == 0
    assert seen == {k: None for k in keys} | {
        "partition": "debug",
        "mem_gb": 8.0,
        "timeout_min": 30,
        "gpus_per_node": 0,
    }
