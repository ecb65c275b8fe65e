"""attnlib.train: a smoke fit on the real data, resume equivalence, predict and TTA."""

import json
import warnings

import numpy as np
import pytest
import torch

from attnlib.checkpoints import export_weights, load_checkpoint, load_run
from attnlib.config import make_config
from attnlib.inference import predict
from attnlib.protocols import summarize
from attnlib.epoch import warn_if_slow
from attnlib.train import fit, learning_rate

TINY = dict(
    widths=[4, 8, 16, 32, 64],
    crop=64,
    batch_size=4,
    samples_per_epoch=8,
    eval_interval=1,
    deterministic=True,
)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    config, changes = make_config("smoke", epochs=2, out_dir=str(tmp_path_factory.mktemp("run")))
    return fit(config, profile="smoke", profile_changes=changes)


def test_smoke_fit_writes_its_json(smoke_run):
    rec = json.loads(smoke_run.path.read_text())
    assert rec["complete"] and rec["profile"] == "smoke" and rec["profile_changes"]["crop"] == 64
    assert rec["config"]["widths"] == [4, 8, 16, 32, 64]
    assert rec["history"]["epoch"] == [1, 2] and all(np.isfinite(rec["history"]["loss"]))
    assert [e["epoch"] for e in rec["evals"]] == [1, 2]
    assert set(rec["evals"][-1]["test"]) >= {
        "pixel_accuracy",
        "mean_iou",
        "vrand_class",
        "vinfo_class",
        "isbi_vrand",
        "isbi_vinfo",
    }
    assert "test slices" in rec["summary"]["paper_protocol"]["rule"]
    assert rec["summary"]["honest"]["epoch"] == 2  # no validation fold: the last evaluation
    assert rec["fast_path"]["why"] and rec["fast_path"]["threads"] >= 1
    env = rec["environment"]
    assert (
        env["torch"] == torch.__version__
        and env["train_images_per_s"] > 0
        and env["wall_seconds"] > 0
    )
    assert (smoke_run.path.parent / "checkpoint.pt").exists()
    assert not list(smoke_run.path.parent.glob("*.tmp"))  # atomic writes leave nothing behind


def test_load_run_restores_the_model(smoke_run):
    rec, model = load_run(smoke_run.path.parent)
    x = torch.rand(1, 1, 64, 64)
    smoke_run.model.eval()
    assert torch.allclose(model(x), smoke_run.model(x))


def test_resume_gives_the_same_history(tmp_path):
    full, _ = make_config("smoke", **TINY, epochs=4, out_dir=str(tmp_path / "full"))
    ref = fit(full).record

    class Interrupt(Exception):
        pass

    def stop_after_2(epoch, record):
        if epoch == 2:
            raise Interrupt

    part, _ = make_config("smoke", **TINY, epochs=4, out_dir=str(tmp_path / "part"))
    with pytest.raises(Interrupt):
        fit(part, callback=stop_after_2)
    assert not json.loads((tmp_path / "part/run.json").read_text())["complete"]
    resumed = fit(part).record
    assert resumed["resumed_from"] == 3
    assert resumed["history"]["loss"] == ref["history"]["loss"]  # bit-identical on the CPU
    assert [e["test"] for e in resumed["evals"]] == [e["test"] for e in ref["evals"]]


def test_resume_refuses_other_settings(tmp_path):
    a, _ = make_config("smoke", **TINY, epochs=1, out_dir=str(tmp_path))
    fit(a)
    b, _ = make_config("smoke", **TINY, epochs=1, lr=0.01, out_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"other settings \(\['lr'\]"):
        fit(b)
    longer, _ = make_config("smoke", **TINY, epochs=2, out_dir=str(tmp_path))
    with pytest.raises(ValueError, match="finished 1-epoch run; a 2-epoch run is another run"):
        fit(longer)  # extending a finished run (its cosine would jump back up) is refused
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    del state["config"]["schedule"]  # a checkpoint written before a setting existed
    torch.save(state, tmp_path / "checkpoint.pt")
    with pytest.raises(ValueError, match="schedule"):
        fit(a)


def test_a_checkpoint_that_smuggles_an_object_is_not_opened(tmp_path, smoke_run):
    state = load_checkpoint(smoke_run.folder / "checkpoint.pt")
    state["payload"] = _Asymmetric()  # any pickled object could run code on load
    torch.save(state, tmp_path / "checkpoint.pt")
    with pytest.raises(ValueError, match="objects other than weights"):
        load_checkpoint(tmp_path / "checkpoint.pt")


def test_exported_weights_rebuild_the_model(tmp_path, smoke_run):
    folder = tmp_path / "shared"
    folder.mkdir()
    export_weights(smoke_run.folder).rename(folder / "model.pt")
    (folder / "run.json").write_text(
        smoke_run.path.read_text()
    )  # a run shared without its checkpoint
    rec, model = load_run(folder)
    x = torch.rand(1, 1, 64, 64)
    smoke_run.model.eval()
    assert torch.allclose(model(x), smoke_run.model(x), atol=2e-2)  # half-precision weights
    assert rec["config"] == smoke_run.record["config"]


def test_the_honest_isbi_threshold_is_not_chosen_on_the_test_slices(smoke_run):
    rec = smoke_run.record
    honest, last = rec["summary"]["honest"], rec["evals"][-1]
    chosen = honest["isbi_thresholds"]
    assert chosen["chosen_on"] == "training slices 20-24"
    curve, test_curve = rec["threshold_curve"], last["isbi_curves"]["test"]
    assert chosen["vrand"] == curve["thresholds"][int(np.argmax(curve["isbi_vrand"]))]
    assert (
        honest["test"]["isbi_vrand"]
        == test_curve["isbi_vrand"][test_curve["thresholds"].index(chosen["vrand"])]
    )
    challenge = honest["challenge_protocol"]
    assert challenge["isbi_vrand"] == max(test_curve["isbi_vrand"]) >= honest["test"]["isbi_vrand"]
    assert "challenge" in challenge["rule"]


def test_the_fast_path_is_recorded_and_reused_on_resume(tmp_path):
    c, _ = make_config("smoke", **TINY, epochs=2, out_dir=str(tmp_path))

    def stop(epoch, record):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(c, callback=stop)
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["fast_path"]["dtype"] in ("bfloat16", "float32")
    state["fast_path"] |= {"amp": "off", "channels_last": False, "why": "recorded earlier"}
    torch.save(state, tmp_path / "checkpoint.pt")
    assert fit(c).record["fast_path"]["why"] == "recorded earlier"  # not decided again


def test_the_trained_and_the_loaded_model_carry_the_runs_decision(smoke_run):
    from attnlib.fastpath import inference_amp

    cpu = torch.device("cpu")
    assert inference_amp(smoke_run.model, "auto", cpu) == smoke_run.record["fast_path"]["amp"]
    _, model = load_run(smoke_run.folder)
    assert inference_amp(model, "auto", cpu) == smoke_run.record["fast_path"]["amp"]
    assert inference_amp(torch.nn.Conv2d(1, 2, 3), "auto", cpu) == "off"  # any other model: fp32


def test_the_fp16_scaler_is_checkpointed_and_restored(tmp_path, monkeypatch):
    """The fp16 path (CUDA below compute capability 8.0), run on the CPU's fp16 autocast."""
    from attnlib import fastpath, probe

    fp16 = fastpath.record(torch.device("cpu"), "fp16", False, "fp16 for the test", "rule")
    monkeypatch.setattr(probe, "fast_path", lambda *a, recorded=None, **k: recorded or fp16)
    c, _ = make_config("smoke", **(TINY | {"eval_interval": 2}), epochs=2, out_dir=str(tmp_path))

    def stop(epoch, record):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(c, callback=stop)
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["fast_path"]["dtype"] == "float16" and state["scaler"]["scale"] == 2.0**16
    state["scaler"]["scale"] = 1024.0  # as if it had backed off after overflows
    torch.save(state, tmp_path / "checkpoint.pt")
    rec = fit(c).record
    assert rec["resumed_from"] == 2 and all(np.isfinite(rec["history"]["loss"]))
    assert (
        load_checkpoint(tmp_path / "checkpoint.pt")["scaler"]["scale"] == 1024.0
    )  # restored, not 65536


def test_cosine_learning_rate():
    c, _ = make_config("smoke", lr=0.01, schedule="cosine", epochs=10)
    lrs = [learning_rate(c, e) for e in range(1, 11)]
    assert lrs[0] == 0.01 and abs(lrs[5] - 0.005) < 1e-12 and 0 < lrs[-1] < 0.0003
    assert all(a > b for a, b in zip(lrs, lrs[1:]))
    assert learning_rate(make_config("smoke", lr=0.01)[0], 7) == 0.01


def test_paper_settings_on_a_cpu_warn_with_an_estimate():
    c, _ = make_config("paper")
    with pytest.warns(UserWarning, match=r"about \d+ h on this CPU"):
        warn_if_slow(c, torch.device("cpu"), step_seconds=5.0, steps_per_epoch=7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_slow(
            make_config("smoke")[0], torch.device("cpu"), step_seconds=0.1, steps_per_epoch=2
        )


def test_fold_split_gives_an_honest_choice(tmp_path):
    c, _ = make_config("smoke", **TINY, epochs=2, split="4", out_dir=str(tmp_path))
    rec = fit(c).record
    assert rec["split"]["val"] == [20, 21, 22, 23, 24] and "val" in rec["evals"][0]
    assert "validation" in rec["summary"]["honest"]["rule"]
    assert rec["summary"]["honest"]["isbi_thresholds"]["chosen_on"] == "the validation fold"
    assert rec["threshold_curve"] is None  # the fold chooses: no extra evaluation


def test_summarize_protocols():
    evals = [{"epoch": e, "test": {"mean_iou": m}} for e, m in [(1, 0.5), (2, 0.9), (3, 0.7)]]
    s = summarize(evals, has_val=False)
    assert s["paper_protocol"]["epoch"] == 2 and s["honest"]["epoch"] == 3


class _Asymmetric(torch.nn.Module):
    """Logits that depend on position, so a wrong inverse transform would show."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))

    def forward(self, x):  # (B, 1, H, W) -> (B, 2, H, W)
        return torch.cat([torch.zeros_like(x), self.w * (x - 0.5) * 8], 1)


def test_predict_and_tta_invert_their_transforms():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (3, 32, 32), dtype=np.uint8)
    p = predict(_Asymmetric(), images)
    assert p.shape == (3, 32, 32) and p.dtype == np.float32
    assert np.allclose(p, 1 / (1 + np.exp(-(images / 255 - 0.5) * 8)), atol=1e-5)
    assert np.allclose(
        predict(_Asymmetric(), images, tta=True), p, atol=1e-5
    )  # a pointwise model is TTA-invariant


def test_predict_rejects_bad_shapes():
    with pytest.raises(ValueError, match="images must be"):
        predict(_Asymmetric(), np.zeros((2, 3, 32, 32), np.float32))
