"""attnlib.experiments: the papermill batch resumes, reports failures and summarizes."""
import json

import pytest
import yaml

from attnlib.experiments import aggregate, read_grid, run_batch

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    grid = {"profile": "smoke", "seeds": [0], "runs": {
        "unet": {"model": "unet", "epochs": 1},
        "unet_sse": {"model": "unet", "gate": "sse", "epochs": 1},
        "broken": {"model": "unet", "epochs": 1, "loss": "no_such_loss"},
    }}
    (root / "grid.yaml").write_text(yaml.safe_dump(grid))
    first = run_batch(root / "grid.yaml", root / "results", jobs=2, log=lambda *_: None)
    return root, first


def test_batch_runs_reports_and_summarizes(batch):
    root, first = batch
    assert sorted(first["ran"]) == ["unet_s0", "unet_sse_s0"]
    assert [f["name"] for f in first["failed"]] == ["broken_s0"]
    assert "no_such_loss" in first["failed"][0]["error"]  # the error is reported, the others ran
    for run in ("unet_s0", "unet_sse_s0"):
        assert json.loads((root / f"results/{run}/run.json").read_text())["complete"]
        assert (root / f"results/{run}/07_training.ipynb").exists()
    summary = (root / "results/summary.md").read_text()
    assert "unet_sse" in summary and "paper_protocol" in summary and "broken_s0" in summary
    assert (root / "results/summary.csv").read_text().count("\n") == 1 + 2 * 2  # header + 2 configs x 2 protocols


def test_batch_again_runs_only_what_is_missing(batch):
    root, _ = batch
    before = (root / "results/unet_s0/run.json").stat().st_mtime_ns
    good = yaml.safe_load((root / "grid.yaml").read_text())
    del good["runs"]["broken"]
    (root / "good.yaml").write_text(yaml.safe_dump(good))
    again = run_batch(root / "good.yaml", root / "results", log=lambda *_: None)
    assert again["ran"] == [] and again["failed"] == [] and sorted(again["skipped"]) == ["unet_s0", "unet_sse_s0"]
    assert (root / "results/unet_s0/run.json").stat().st_mtime_ns == before


def test_read_grid_expands_seeds(tmp_path):
    (tmp_path / "g.yaml").write_text("profile: paper\nseeds: [0, 1]\nruns:\n  a: {model: unet}\n  b: {model: unetpp}\n")
    runs = read_grid(tmp_path / "g.yaml")
    assert [r["name"] for r in runs] == ["a_s0", "b_s0", "a_s1", "b_s1"]
    assert runs[3]["params"] == {"profile": "paper", "model": "unetpp", "seed": 1}
    (tmp_path / "bad.yaml").write_text("- just a list\n")
    with pytest.raises(ValueError, match="expected a mapping"):
        read_grid(tmp_path / "bad.yaml")


def test_aggregate_mean_and_sd():
    rows = [{"config": "a", "protocol": "honest", "mean_iou": v, **{m: 0.5 for m in
             ("pixel_accuracy", "vrand_class", "vinfo_class", "isbi_vrand", "isbi_vinfo")}} for v in (0.7, 0.8, 0.9)]
    (row,) = aggregate(rows)
    assert row["n_seeds"] == 3 and row["mean_iou_mean"] == pytest.approx(0.8) and row["mean_iou_sd"] == pytest.approx(0.1)
