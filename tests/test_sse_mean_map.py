"""experiments/sse_mean_map.py (chapter 04's experiment): the constant maps replace the gates."""

import importlib.util
from pathlib import Path

import numpy as np
import torch

from attnlib.models import build_model
from attnlib.models.attention import SSEGate

_path = Path(__file__).resolve().parent.parent / "experiments" / "sse_mean_map.py"
_spec = importlib.util.spec_from_file_location("sse_mean_map", _path)
sse_mean_map = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sse_mean_map)


def _model():
    torch.manual_seed(0)
    return build_model("unet", gate="sse", widths=[4, 8, 16, 32, 64]).eval()


def test_gate_means_are_the_mean_maps_of_every_gate():
    model, images = _model(), np.random.default_rng(0).integers(0, 255, (2, 32, 32), dtype=np.uint8)
    means = sse_mean_map.gate_means(model, images)
    gates = [n for n, m in model.named_modules() if isinstance(m, SSEGate)]
    assert sorted(means) == sorted(gates) and len(gates) == 4
    assert all(0.0 < v < 1.0 for v in means.values())


def test_constant_maps_make_each_gate_a_scale_and_come_off_again():
    model, x = _model().train(), torch.rand(2, 1, 32, 32)  # batch statistics: an untrained net in
    # eval mode gives a near-constant output
    with torch.no_grad():
        trained = model(x)
        handles = sse_mean_map.constant_maps(
            model, {n: 0.5 for n, m in model.named_modules() if isinstance(m, SSEGate)}
        )
        gate = next(m for m in model.modules() if isinstance(m, SSEGate))
        skip = torch.rand(1, 4, 32, 32)
        assert torch.equal(gate(skip), skip * 0.5)
        assert not torch.allclose(model(x), trained)
        for h in handles:
            h.remove()
        assert torch.allclose(model(x), trained)
