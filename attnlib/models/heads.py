"""A model's output, one head or several: the one place that tells the two apart.

``forward(x)`` of every model here returns logits and nothing else, always of one type for a
given model (MONAI's ``BasicUNetPlusPlus`` returns a list always; segmentation_models_pytorch's
``forward`` returns one thing):

* a tensor ``(B, K, H, W)``: UNet, and UNet++ with ``deep_supervision="mean"`` (the paper's
  code averages the four heads' logits inside the model);
* a list of L tensors ``(B, K, H, W)``: UNet++ with ``deep_supervision="heads"``, one per top
  node x_0_1 .. x_0_L (Zhou et al. 2018, deep supervision). Such a model declares it:
  ``model.returns_heads`` is True.

The loss (:func:`attnlib.losses.supports_heads`), the training step
(:func:`attnlib.epoch.train_step`) and the predictor (:func:`attnlib.inference.predict`) go
through these helpers, so no other module asks which of the two it holds::

    as_heads(out)                 # [logits, ...]: a tensor becomes a list of one
    mean_logits(out)              # (B, K, H, W): the heads' mean, the paper's prediction
    per_head(torch.Tensor.float, out)   # fn on each head, the output's type kept
"""

from __future__ import annotations

from typing import Callable, Union

import torch

Logits = Union[torch.Tensor, list[torch.Tensor]]  # (B, K, H, W), or L of them


def as_heads(out: Logits) -> list[torch.Tensor]:
    """The heads of an output: the list itself (a tuple as a list), ``[out]`` for anything else
    (one tensor ``(B, K, H, W)``; the caller checks what it holds).

    Raises:
        ValueError: an empty list (a loss or a mean over no head means nothing).
    """
    if not isinstance(out, (list, tuple)):
        return [out]  # one head (B, K, H, W)
    if len(out) == 0:
        raise ValueError("got an empty list of logits; pass at least one head")
    return list(out)  # L x (B, K, H, W)


def mean_logits(out: Logits) -> torch.Tensor:
    """The logits to predict with, ``(B, K, H, W)``: a tensor as it is, several heads averaged
    (the paper's ``(score_1 + ... + score_4) / 4``, Sec. 3.1)."""
    if not isinstance(out, (list, tuple)):
        return out  # (B, K, H, W)
    return torch.stack(as_heads(out), dim=0).mean(dim=0)  # (L, B, K, H, W) -> (B, K, H, W)


def per_head(fn: Callable[[torch.Tensor], torch.Tensor], out: Logits) -> Logits:
    """``fn`` applied to each head; a tensor gives a tensor, a list a list of the same length."""
    if not isinstance(out, (list, tuple)):
        return fn(out)
    return [fn(h) for h in as_heads(out)]
