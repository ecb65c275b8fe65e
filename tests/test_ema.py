"""The weights' exponential moving average: the numbers on a toy model, and in fit."""

from __future__ import annotations

import pytest
import torch

from attnlib import ema
from attnlib.config import Config, config_mismatch


def toy() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))


def test_the_average_follows_the_formula_with_its_warm_up():
    model = toy()
    avg = ema.make_ema(model, 0.9)
    history = []
    for step in range(6):
        with torch.no_grad():
            model[0].weight.add_(1.0)  # a known change per "step"
        model(torch.randn(4, 3))  # BatchNorm's buffers move too (train mode)
        avg.update_parameters(model)
        history.append(model[0].weight.detach().clone())
    expect = history[0]  # the first update copies the weights
    for n, w in enumerate(history[1:], start=1):
        d = min(0.9, (1 + n) / (10 + n))
        expect = d * expect + (1 - d) * w
    torch.testing.assert_close(avg.module[0].weight, expect)
    assert ema.decay_at(0.9, 1) == pytest.approx(2 / 11) and ema.decay_at(0.9, 500) == 0.9
    assert int(avg.module[1].num_batches_tracked) == int(model[1].num_batches_tracked)
    assert not torch.equal(avg.module[1].running_mean, model[1].running_mean)  # averaged too


def test_off_is_none_and_a_bad_decay_says_what_to_use():
    assert ema.make_ema(toy(), 0.0) is None
    with pytest.raises(ValueError, match=r"must be in \(0, 1\), e.g. 0.999"):
        ema.make_ema(toy(), 1.5)
    with pytest.raises(ValueError, match="ema=1.0"):
        Config(ema=1.0)


def test_a_resumed_average_is_the_same_average():
    model = toy()
    avg = ema.make_ema(model, 0.99)
    for _ in range(3):
        with torch.no_grad():
            model[0].bias.add_(0.5)
        avg.update_parameters(model)
    again = ema.make_ema(model, 0.99, state=avg.state_dict())
    torch.testing.assert_close(again.module[0].bias, avg.module[0].bias)
    assert int(again.n_averaged) == 3
    weights = ema.averaged_weights(avg.state_dict())
    assert set(weights) == set(model.state_dict())


def test_the_setting_is_part_of_the_run_identity_and_off_by_default():
    assert Config().ema == 0.0
    old = {k: v for k, v in Config().to_dict().items() if k not in ("ema",)}
    assert config_mismatch(old, Config().to_dict()) == []
    assert config_mismatch(old, Config(ema=0.999).to_dict()) == ["ema"]


def test_fit_scores_and_returns_the_average_and_load_run_rebuilds_it(tmp_path):
    from attnlib.checkpoints import load_run
    from attnlib.train import train

    run = train("smoke", ema=0.9, epochs=2, out_dir=str(tmp_path / "ema"))
    plain = train("smoke", epochs=2, out_dir=str(tmp_path / "plain"))
    assert run.history["loss"] == plain.history["loss"]  # the average does not touch training
    assert run.record["evals"][-1]["test"] != plain.record["evals"][-1]["test"]  # it is scored
    _, loaded = load_run(tmp_path / "ema")
    for a, b in zip(loaded.state_dict().values(), run.model.state_dict().values()):
        torch.testing.assert_close(a, b.to(a.dtype))
