"""One builder: a :class:`~attnlib.config.Config` becomes a model, a loss and an optimizer.

    from attnlib.builder import build, build_model_for
    model, loss_fn, opt = build(config, device)      # what fit() trains
    model = build_model_for(config)                  # what a checkpoint is loaded into

``train.fit``, ``checkpoints.load_run`` and ``benchmarks/throughput.py`` all build here, so a
run is rebuilt from its record exactly as it was trained (nanoGPT's ``sample.py`` rebuilds a
model from its checkpoint's own arguments the same way).
"""

from __future__ import annotations

import torch

from attnlib.config import Config
from attnlib.losses import build_loss
from attnlib.models import build_model


def build_model_for(config: Config, device: torch.device | str = "cpu") -> torch.nn.Module:
    """The network that ``config`` names, with PyTorch's default initialisation, on ``device``."""
    return build_model(
        config.model,
        gate=config.gate,
        widths=tuple(config.widths),
        deep_supervision=config.deep_supervision,
    ).to(device)


def build_optimizer(
    config: Config, model: torch.nn.Module, device: torch.device
) -> torch.optim.Optimizer:
    """Adam (the paper's code; fused on CUDA) or SGD with momentum 0.9 (the paper's text names
    SGD but no momentum)."""
    if config.optimizer == "adam":
        fused = {"fused": True} if device.type == "cuda" else {}
        return torch.optim.Adam(
            model.parameters(), lr=config.lr, weight_decay=config.weight_decay, **fused
        )
    return torch.optim.SGD(
        model.parameters(), lr=config.lr, momentum=0.9, weight_decay=config.weight_decay
    )


def build(config: Config, device: torch.device):
    """``(model, loss_fn, optimizer)`` for ``config`` on ``device``."""
    model = build_model_for(config, device)
    return model, build_loss(config.loss), build_optimizer(config, model, device)
