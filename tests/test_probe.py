"""attnlib.probe: the measurement leaves the run untouched, interleaves, is cached and reused,
and a short run is not probed (the CLI's one line: test_cli_fast_path.py)."""

import json

import pytest
import torch

from attnlib import fastpath, probe
from attnlib.builder import build
from attnlib.config import make_config

TINY = dict(widths=[4, 8, 16, 32, 64], crop=32, batch_size=2)


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv(probe.CACHE_ENV, str(tmp_path / "fastpath.json"))


def _tiny(**kw):
    config, _ = make_config("smoke", **(TINY | {"deterministic": False} | kw))
    model, loss_fn, opt = build(config, torch.device("cpu"))
    return config, model, loss_fn, opt


def test_measure_leaves_weights_optimizer_and_rng_untouched():
    config, model, loss_fn, opt = _tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    combos = fastpath.candidates()
    out = probe.measure(model, opt, loss_fn, 2, 32, torch.device("cpu"), combos, budget_s=0.5)
    assert set(out["seconds"]) == {fastpath.label(*c) for c in combos}
    assert all(len(v) == out["rounds"] >= probe.MIN_ROUNDS for v in out["seconds"].values())
    assert all(s > 0 for v in out["seconds"].values() for s in v) and out["cost_s"] > 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not opt.state and torch.equal(rng, torch.get_rng_state())
    assert all(p.is_contiguous() for p in model.parameters())  # the NHWC copy was a copy
    json.dumps(out, allow_nan=False)  # what run.json and the cache keep


def test_the_rounds_are_interleaved_abcd_dcba(monkeypatch):
    config, model, loss_fn, opt = _tiny()
    calls = []

    def fake_step(m, x, y, o, loss_fn, amp, scaler=None):
        calls.append(fastpath.label(amp, not all(p.is_contiguous() for p in m.parameters())))

    monkeypatch.setattr(probe, "train_step", fake_step)
    monkeypatch.setattr(probe, "_warm", lambda step: (step(), 0.2)[1])  # k = 1 step per round
    out = probe.measure(
        model, opt, loss_fn, 2, 32, torch.device("cpu"), fastpath.candidates(), budget_s=0
    )
    labels = [fastpath.label(*c) for c in fastpath.candidates()]
    rounds = calls[-out["rounds"] * 4 :]
    assert out["rounds"] == probe.MIN_ROUNDS and out["steps_per_round"] == 1
    assert rounds == labels + labels[::-1] + labels


def test_the_decision_is_cached_per_machine_and_model(monkeypatch, tmp_path):
    config, model, loss_fn, opt = _tiny()
    seen = []
    fake = {
        "seconds": {
            "fp32/NCHW": [1.0] * 3,
            "fp32/NHWC": [0.9] * 3,
            "bf16/NCHW": [0.5] * 3,
            "bf16/NHWC": [0.4] * 3,
        },
        "rounds": 3,
        "cost_s": 2.0,
    }
    monkeypatch.setattr(probe, "measure", lambda *a, **k: (seen.append(a[3:5]), fake)[1])
    monkeypatch.setattr(
        fastpath, "rule", lambda *a, **k: None
    )  # as on a CPU with bf16 instructions
    first = probe.fast_path(config, torch.device("cpu"), model, opt, loss_fn, 10**6)
    assert (first["amp"], first["channels_last"], first["decided_by"]) == ("bf16", True, "probe")
    assert first["probe"]["cost_s"] == 2.0 and "2.0 s" in first["why"]
    again = probe.fast_path(config, torch.device("cpu"), model, opt, loss_fn, 10**6)
    assert again["decided_by"] == "cache" and again["probe"] == first["probe"] and len(seen) == 1
    other, *_ = _tiny(batch_size=4)  # another batch: measured again, with the run's batch and crop
    probe.fast_path(other, torch.device("cpu"), model, opt, loss_fn, 10**6)
    assert seen == [(2, 32), (4, 32)]
    cache = json.loads(probe.cache_path().read_text())
    assert len(cache) == 2 and {e["key"]["batch"] for e in cache.values()} == {2, 4}
    assert all(e["key"]["cpu"] and e["key"]["torch"] == torch.__version__ for e in cache.values())
    probe.cache_path().write_text("{not json")
    assert (
        probe.fast_path(config, torch.device("cpu"), model, opt, loss_fn, 10**6)["decided_by"]
        == "probe"
    )


def test_a_short_run_is_not_probed(monkeypatch):
    config, model, loss_fn, opt = _tiny()
    monkeypatch.setattr(fastpath, "rule", lambda *a, **k: None)
    fast = probe.fast_path(config, torch.device("cpu"), model, opt, loss_fn, total_steps=4)
    assert (fast["amp"], fast["channels_last"], fast["decided_by"]) == ("off", False, "short run")
    assert fast["probe"]["cost_s"] < 5 and "seconds" not in fast["probe"]
    assert not probe.cache_path().exists()  # nothing measured, nothing cached


def test_smoke_runs_are_never_measured(monkeypatch):
    monkeypatch.setattr(probe, "measure", lambda *a, **k: pytest.fail("a smoke run was measured"))
    config, _ = make_config("smoke")
    fast = probe.fast_path(config, torch.device("cpu"), None, None, None, 10**6)
    assert fast["decided_by"] == "rule" and fast["probe"] is None
    assert fast["amp"] == "off" and fast["channels_last"] is False


def test_a_recorded_decision_is_reused_as_it_is(monkeypatch):
    monkeypatch.setattr(probe, "_decide", lambda *a: pytest.fail("decided again"))
    recorded = {"amp": "bf16", "channels_last": True, "why": "recorded earlier"}
    assert (
        probe.fast_path(None, torch.device("cpu"), None, None, None, 10, recorded=recorded)
        is recorded
    )


def test_results_do_not_depend_on_whether_the_probe_ran(tmp_path, monkeypatch):
    """fit with auto, the probe forced to run and to choose bf16/NHWC, against the same set
    explicitly."""
    from attnlib.train import fit

    run = dict(
        widths=[4, 8, 16, 32, 64],
        crop=64,
        batch_size=4,
        samples_per_epoch=8,
        epochs=2,
        eval_interval=2,
    )
    explicit, _ = make_config(
        "smoke", **run, amp="bf16", channels_last=True, out_dir=str(tmp_path / "set")
    )
    ref = fit(explicit).record
    monkeypatch.setattr(fastpath, "rule", lambda *a, **k: None)
    monkeypatch.setattr(probe, "PAYBACK_S", 0.0)
    monkeypatch.setattr(probe, "BUDGET_S", 0.0)
    monkeypatch.setattr(fastpath, "decide", lambda *a, **k: ("bf16", True, "forced"))
    auto, _ = make_config("smoke", **run, out_dir=str(tmp_path / "auto"))
    rec = fit(auto).record
    assert rec["fast_path"]["decided_by"] == "probe" and rec["fast_path"]["probe"]["rounds"] >= 3
    assert rec["history"]["loss"] == ref["history"]["loss"]
    assert [e["test"] for e in rec["evals"]] == [e["test"] for e in ref["evals"]]
