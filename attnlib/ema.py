"""An exponential moving average of the weights (EMA): what a run evaluates when asked.

After every optimizer step the average moves a little toward the current weights::

    w_ema <- d * w_ema + (1 - d) * w          d = min(decay, (1 + n) / (10 + n))

where ``n`` counts the updates so far. The warm-up ``(1 + n) / (10 + n)`` lets the average
forget the first, random weights quickly (with a fixed ``d = 0.999`` the initial draw would
still weigh 0.999 ** 1200 = 0.30 after the laptop profile's 1200 steps); after about
``10 / (1 - decay)`` steps the decay is ``decay`` itself. BatchNorm's running mean and
variance are averaged too (``use_buffers=True``); its step counter is copied.

The averaging is torch's :class:`torch.optim.swa_utils.AveragedModel` with this module's
update rule; ``Config.ema`` is the decay (0 = off, the paper's recipe). :func:`attnlib.train.fit`
updates it after each step, evaluates and returns it, and keeps its state in the checkpoint;
:func:`attnlib.checkpoints.load_run` rebuilds the averaged weights when a run has them.
"""

from __future__ import annotations

import torch
from torch.optim.swa_utils import AveragedModel

WARMUP = 10  # the warm-up's constant: d = (1 + n) / (WARMUP + n) until that exceeds the decay


def decay_at(decay: float, n: int) -> float:
    """The decay of update ``n`` (1 for the second update, ...): warm-up, then ``decay``."""
    return min(decay, (1 + n) / (WARMUP + n))


def ema_update(decay: float):
    """The ``multi_avg_fn`` of :class:`AveragedModel` for an EMA with warm-up."""

    @torch.no_grad()
    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], n_averaged) -> None:
        d = decay_at(decay, int(n_averaged))
        for a, c in zip(averaged, current):
            if a.is_floating_point():
                a.lerp_(c, 1.0 - d)  # a = d * a + (1 - d) * c
            else:  # counters (num_batches_tracked): the model's own
                a.copy_(c)

    return update


def make_ema(
    model: torch.nn.Module, decay: float, state: dict | None = None
) -> AveragedModel | None:
    """An :class:`AveragedModel` of ``model`` for ``decay`` in (0, 1), None for 0 (off);
    ``state``: a checkpoint's ``ema`` entry, to resume the average."""
    if not decay:
        return None
    if not 0.0 < decay < 1.0:
        raise ValueError(f"ema={decay}: the decay must be in (0, 1), e.g. 0.999, or 0 for off.")
    ema = AveragedModel(model, multi_avg_fn=ema_update(decay), use_buffers=True)
    if state is not None:
        ema.load_state_dict(state)
    return ema


def averaged_weights(state: dict) -> dict:
    """The model's ``state_dict`` inside an :class:`AveragedModel`'s (keys without ``module.``)."""
    return {k.removeprefix("module."): v for k, v in state.items() if k.startswith("module.")}
