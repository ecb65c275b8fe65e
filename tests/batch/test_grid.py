"""attnlib.batch.grid, .run and .summary: the batch knows its runs (skips only what is complete
with the grid's config), reports failures, summarizes the grid's runs; one grid goes through the
real 07_training.ipynb."""

import json

import pytest
import yaml

from attnlib.batch.grid import (
    asked_config,
    batch_status,
    plan_batch,
    read_grid,
    read_slurm,
    run_state,
)
from attnlib.batch.jobs import BatchError
from attnlib.batch.run import run_batch
from attnlib.batch.summary import aggregate, summarize_results

quiet = {"log": lambda *_: None}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    grid = {
        "profile": "smoke",
        "seeds": [0],
        "runs": {
            "unet": {"model": "unet", "epochs": 1},
            "unet_sse": {"model": "unet", "gate": "sse", "epochs": 1},
            "broken": {"model": "unet", "epochs": 1, "crop": 100},
        },
    }
    (root / "grid.yaml").write_text(yaml.safe_dump(grid))
    first = run_batch(root / "grid.yaml", root / "results", jobs=2, **quiet)
    return root, first


@pytest.mark.slow
def test_batch_runs_reports_and_summarizes(batch):
    root, first = batch
    assert sorted(first["ran"]) == ["unet_s0", "unet_sse_s0"]
    assert [f["name"] for f in first["failed"]] == ["broken_s0"]
    assert (
        "crop=100 is not divisible by 16" in first["failed"][0]["error"]
    )  # reported before submitting; the others ran
    for run in ("unet_s0", "unet_sse_s0"):
        assert json.loads((root / f"results/{run}/run.json").read_text())["complete"]
        for f in ("07_training.ipynb", "stdout.log", "stderr.log", "job.json", "status.json"):
            assert (root / f"results/{run}/{f}").exists()
    summary = (root / "results/summary.md").read_text()
    assert "unet_sse" in summary and "paper_protocol" in summary and "broken_s0" in summary
    assert (root / "results/summary.csv").read_text().count(
        "\n"
    ) == 1 + 2 * 2  # header + 2 configs x 2 protocols


@pytest.mark.slow
def test_batch_again_submits_nothing(batch):
    root, _ = batch
    before = (root / "results/unet_s0/run.json").stat().st_mtime_ns
    job = (root / "results/unet_s0/job.json").read_text()
    again = run_batch(root / "grid.yaml", root / "results", **quiet)
    assert again["ran"] == [] and sorted(again["skipped"]) == ["unet_s0", "unet_sse_s0"]
    assert [f["name"] for f in again["failed"]] == [
        "broken_s0"
    ]  # still invalid, still not submitted
    assert (root / "results/unet_s0/run.json").stat().st_mtime_ns == before
    assert (root / "results/unet_s0/job.json").read_text() == job
    states = {s["name"]: s["state"] for s in batch_status(root / "grid.yaml", root / "results")}
    assert states == {"unet_s0": "complete", "unet_sse_s0": "complete", "broken_s0": "invalid"}


def fake_record(out, run, **config_changes):
    """A complete run.json recording the config the grid asks for, with some fields changed."""
    run_dir = out / run["name"]
    run_dir.mkdir(parents=True)
    config, changes = asked_config(run, run_dir)
    test = dict.fromkeys(
        ("pixel_accuracy", "mean_iou", "vrand_class", "vinfo_class", "isbi_vrand", "isbi_vinfo"),
        0.5,
    )
    rec = {
        "config": {**config, **config_changes},
        "profile_changes": changes,
        "complete": True,
        "summary": {p: {"epoch": 1, "test": test} for p in ("paper_protocol", "honest")},
    }
    (run_dir / "run.json").write_text(json.dumps(rec))
    return rec


def grid_file(tmp_path, runs, profile="smoke", **extra):
    (tmp_path / "g.yaml").write_text(
        yaml.safe_dump({"profile": profile, "seeds": [0], "runs": runs, **extra}, sort_keys=False)
    )
    return tmp_path / "g.yaml"


def test_skip_only_when_the_record_is_the_grids_config(tmp_path):
    runs = read_grid(grid_file(tmp_path, {"same": {}, "lr": {}, "missing": {}, "resumable": {}}))
    out, by_name = tmp_path / "out", {r["config"]: r for r in runs}
    fake_record(out, by_name["same"])
    fake_record(out, by_name["lr"], lr=0.5)
    rec = fake_record(out, by_name["missing"])
    del rec["config"]["loss"]  # a field missing on one side differs
    (out / "missing_s0/run.json").write_text(json.dumps(rec))
    fake_record(
        out, by_name["resumable"], device="cuda", num_workers=8, resume=False
    )  # fields that may change on resume
    states = {r["name"]: run_state(out, r) for r in runs}
    assert [states[n]["state"] for n in ("same_s0", "resumable_s0")] == ["complete", "complete"]
    assert (states["lr_s0"]["state"], states["lr_s0"]["fields"]) == ("changed", ["lr"])
    assert states["missing_s0"]["fields"] == ["loss"]
    with pytest.raises(
        BatchError,
        match=r"lr_s0 \(lr\); .*missing_s0 \(loss\): pass --rerun-changed to overwrite them",
    ):
        plan_batch(out, runs)
    assert [r["name"] for r in plan_batch(out, runs, rerun_changed=True)["rerun"]] == [
        "lr_s0",
        "missing_s0",
    ]


def test_a_gpu_nodes_fast_path_is_not_a_change(tmp_path):
    """The paper profile turns on compile/channels_last/workers on CUDA; a CPU login node must still
    see the run as done."""
    runs = {
        r["config"]: r
        for r in read_grid(
            grid_file(tmp_path, {"unet": {}, "pinned": {"compile": False}}, profile="paper")
        )
    }
    fast = {"channels_last": True, "compile": True, "num_workers": 4}
    for run in runs.values():
        rec = fake_record(tmp_path / "out", run, **fast)
        rec["profile_changes"] = fast
        (tmp_path / "out" / run["name"] / "run.json").write_text(json.dumps(rec))
    assert run_state(tmp_path / "out", runs["unet"])["state"] == "complete"
    assert run_state(tmp_path / "out", runs["pinned"])["fields"] == [
        "compile"
    ]  # the grid asked for it explicitly


def test_another_grids_out_folder_is_refused(tmp_path):
    runs = read_grid(grid_file(tmp_path, {"unet": {}}))
    (tmp_path / "out/unetpp_s0").mkdir(parents=True)
    (tmp_path / "out/unetpp_s0/params.yaml").write_text("model: unetpp\n")
    (tmp_path / "out/notes").mkdir()  # a folder without a run is no problem
    with pytest.raises(
        BatchError, match=r"holds runs that are not in this grid \(unetpp_s0\): use another --out"
    ):
        plan_batch(tmp_path / "out", runs)


def test_summary_holds_only_the_grids_runs(tmp_path):
    runs = read_grid(grid_file(tmp_path, {"a": {}, "b": {}}))
    for run in runs:
        fake_record(tmp_path / "out", run)
    table = summarize_results(tmp_path / "out", [r for r in runs if r["config"] == "a"])
    assert {r["config"] for r in table} == {"a"}


def test_read_grid_expands_seeds(tmp_path):
    (tmp_path / "g.yaml").write_text(
        "profile: paper\nseeds: [0, 1]\nruns:\n  a: {model: unet}\n  b: {model: unetpp}\n"
    )
    runs = read_grid(tmp_path / "g.yaml")
    assert [r["name"] for r in runs] == ["a_s0", "b_s0", "a_s1", "b_s1"]
    assert runs[3]["params"] == {"profile": "paper", "model": "unetpp", "seed": 1}
    (tmp_path / "bad.yaml").write_text("- just a list\n")
    with pytest.raises(ValueError, match="expected a mapping"):
        read_grid(tmp_path / "bad.yaml")
    (tmp_path / "typo.yaml").write_text("profile: smoke\nrun: {}\nruns: {a: {}}\n")
    with pytest.raises(BatchError, match=r"unknown key\(s\) \['run'\]"):
        read_grid(tmp_path / "typo.yaml")


def test_read_slurm_names_unknown_keys(tmp_path):
    block = {"partition": "gpu", "timeout_min": 60}
    assert read_slurm(grid_file(tmp_path, {"a": {}}, slurm=block)) == block
    with pytest.raises(
        BatchError,
        match=r"unknown slurm option\(s\) \['time'\]: the allowed ones are \[.*'timeout_min'",
    ):
        read_slurm(grid_file(tmp_path, {"a": {}}, slurm={"time": 60}))


def test_the_shipped_grids_read(tmp_path):
    from attnlib.batch.jobs import REPO

    for name in ("paper", "laptop"):
        assert read_grid(REPO / f"experiments/{name}.yaml") and isinstance(
            read_slurm(REPO / f"experiments/{name}.yaml"), dict
        )


def test_aggregate_mean_and_sd():
    rows = [
        {
            "config": "a",
            "protocol": "honest",
            "mean_iou": v,
            **{
                m: 0.5
                for m in (
                    "pixel_accuracy",
                    "vrand_class",
                    "vinfo_class",
                    "isbi_vrand",
                    "isbi_vinfo",
                )
            },
        }
        for v in (0.7, 0.8, 0.9)
    ]
    (row,) = aggregate(rows)
    assert (
        row["n_seeds"] == 3
        and row["mean_iou_mean"] == pytest.approx(0.8)
        and row["mean_iou_sd"] == pytest.approx(0.1)
    )


def test_a_grid_that_names_the_fast_path_its_runs_took_still_knows_them(tmp_path):
    runs = {
        r["config"]: r
        for r in read_grid(
            grid_file(
                tmp_path,
                {
                    "named": {"amp": "bf16", "channels_last": True},
                    "other": {"amp": "off", "channels_last": True},
                },
            )
        )
    }
    for run in runs.values():
        rec = fake_record(tmp_path / "out", run, amp="auto", channels_last=None)
        rec["fast_path"] = {"amp": "bf16", "channels_last": True}  # what amp=auto chose
        (tmp_path / "out" / run["name"] / "run.json").write_text(json.dumps(rec))
    assert run_state(tmp_path / "out", runs["named"])["state"] == "complete"
    assert run_state(tmp_path / "out", runs["other"])["fields"] == ["amp"]  # fp32 asked, bf16 taken


def test_the_laptop_grid_knows_its_landed_runs():
    from attnlib.batch.jobs import REPO

    runs = read_grid(REPO / "experiments/laptop.yaml")
    assert all(r["params"]["amp"] == "bf16" and r["params"]["channels_last"] is True for r in runs)
    states = [run_state(REPO / "results/laptop", r)["state"] for r in runs]
    assert "changed" not in states and states.count("complete") >= 33


def test_every_shipped_grid_sets_the_fast_path():
    from attnlib.batch.jobs import REPO

    for path in sorted((REPO / "experiments").glob("*.yaml")):
        for run in read_grid(path):
            assert run["params"].get("amp") in ("bf16", "fp16", "off"), (path.name, run["name"])
            assert isinstance(run["params"].get("channels_last"), bool), (path.name, run["name"])
