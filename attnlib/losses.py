"""Losses for two-class segmentation (1 = cell interior, 0 = membrane).

Every loss takes logits ``(B, C, H, W)`` and integer targets ``(B, H, W)`` and
returns a scalar tensor. UNet++ with deep supervision gives a *list* of logits,
one per head; every loss then returns the mean of the per-head losses.

* ``cross_entropy`` - paper Eq. 4, implemented as ``torch.nn.functional.cross_entropy``
  (softmax + negative log-likelihood, mean over pixels), which is what the
  paper's code trains with (``nn.CrossEntropyLoss``).
* ``seed_dice`` - the Dice loss exactly as the paper's code computes it
  (``losses.py``, ``DiceLoss``): softmax probabilities and the one-hot target are
  summed over *both* classes and all pixels before the ratio. Because the
  probabilities of a pixel sum to 1, both sums equal B*H*W and

      L = 1 - 2 sum_{x,c} p_c(x) y_c(x) / (sum p + sum y) = 1 - mean_x p_{y(x)}(x),

  one minus the mean probability of the true class: a "soft accuracy", not
  V-Net's Dice. Its gradient in a pixel's true-class logit is -p(1 - p)/(B H W),
  at most 1/4 of cross-entropy's largest and vanishing where the model is
  confidently wrong (p -> 0), just where cross-entropy's -(1 - p)/(B H W) is
  largest. The paper (Sec. 4.5) blames "the scale of Dice loss", but a constant
  scale cancels under Adam, which its code uses; what differs is the per-pixel
  weighting: it gives up on confidently wrong pixels and does not reweight the
  rarer membrane class (notebook 05).
* ``soft_dice`` - V-Net's soft Dice (Milletari et al. 2016), paper Eq. 5, per
  class and averaged over the classes, with additive smoothing.
* ``ce_dice`` - ``cross_entropy + dice_weight * (soft or seed) Dice``.

``build_loss(name, **kwargs)`` returns one of these as a callable
``loss(logits, target)``.
"""

from __future__ import annotations

import functools
import inspect

import torch
import torch.nn.functional as F

from attnlib.models.heads import as_heads
from attnlib.names import loss_name

TARGET_FIX = "ISBI PNG labels are 0/255: use (png > 0) as class 1 = cell, then .long()"


def check_logits_and_target(logits: torch.Tensor, target: torch.Tensor) -> None:
    """Raise ValueError, naming the shapes and the fix, unless the inputs fit."""
    if not isinstance(logits, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise ValueError(
            f"logits and target must be torch tensors, got {type(logits).__name__} "
            f"and {type(target).__name__}; convert with torch.as_tensor(...)"
        )
    if logits.dim() != 4:
        raise ValueError(
            f"logits must be 4-D (B, C, H, W), got shape {tuple(logits.shape)}; "
            "for a single image add the batch axis with logits.unsqueeze(0)"
        )
    if not logits.is_floating_point():
        raise ValueError(
            f"logits must be floating point, got {logits.dtype}; pass raw network outputs"
        )
    batch, n_classes, height, width = logits.shape
    if n_classes < 2:
        raise ValueError(
            f"logits need one channel per class (C >= 2), got C = {n_classes}; "
            "a 1-channel sigmoid output is not supported, use a 2-channel head"
        )
    if tuple(target.shape) != (batch, height, width):
        fix = (
            "drop the channel axis with target.squeeze(1)"
            if target.dim() == 4 and target.shape[1] == 1
            else f"it must be (B, H, W) = {(batch, height, width)}"
        )
        raise ValueError(
            f"target shape {tuple(target.shape)} does not match logits shape "
            f"{tuple(logits.shape)}; {fix}"
        )
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise ValueError(
            f"target must hold integer class indices, got {target.dtype}; use target.long()"
        )
    if target.numel() and (target.min() < 0 or target.max() >= n_classes):
        raise ValueError(
            f"target values must be class indices in {{0..{n_classes - 1}}}, found "
            f"min {int(target.min())} and max {int(target.max())}; {TARGET_FIX}"
        )


def supports_heads(loss_fn):
    """Make ``loss_fn(logits, target, **kw)`` also accept a list of logits (one per head).

    For a list (or tuple; :func:`attnlib.models.heads.as_heads`) the result is the mean of the
    per-head losses: UNet++ deep supervision (Zhou et al. 2018). The paper (Sec. 3.1) says
    loss and prediction are "averaged over these 4 feature maps"; averaging the logits before
    one loss is the other reading. Each head is checked on its own.
    """

    @functools.wraps(loss_fn)
    def wrapper(logits, target, **kwargs):
        heads = as_heads(logits)  # [(B, C, H, W)], or one per head
        if len(heads) == 1:
            return loss_fn(heads[0], target, **kwargs)
        return torch.stack([loss_fn(head, target, **kwargs) for head in heads]).mean()

    return wrapper


def _probs_and_onehot(logits, target):
    """Softmax probabilities and the one-hot target, both (B, C, H, W) float."""
    check_logits_and_target(logits, target)
    if logits.dtype in (torch.float16, torch.bfloat16):  # sums over ~1e6 pixels need float32
        logits = logits.float()
    prob = torch.softmax(logits, dim=1)
    onehot = F.one_hot(target.long(), logits.shape[1]).permute(0, 3, 1, 2).to(prob.dtype)
    return prob, onehot


@supports_heads
def cross_entropy(logits, target, *, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy, -1/N sum_x log softmax(logits)_{y(x)}(x), mean over all N pixels.

    Paper Eq. 4 writes it in a binary one-vs-rest form; its code uses
    ``nn.CrossEntropyLoss``, which is this.

    ``weight``: optional per-class weights (C,), as in ``torch.nn.CrossEntropyLoss``
    (the paper's code computed -log(class frequency) weights but left them unused).
    """
    check_logits_and_target(logits, target)
    return F.cross_entropy(logits, target.long(), weight=weight)


@supports_heads
def seed_dice(logits, target) -> torch.Tensor:
    """The paper's code's Dice: 1 - 2 sum(p * y) / (sum p + sum y), sums over classes too.

    Equal to ``1 - mean true-class probability`` (see the module docstring); no
    smoothing is needed because the denominator is always 2 * B * H * W.
    """
    prob, onehot = _probs_and_onehot(logits, target)
    intersection = (prob * onehot).sum()
    return 1 - 2 * intersection / (prob.sum() + onehot.sum())


@supports_heads
def soft_dice(logits, target, *, smooth: float = 1.0, squared: bool = False) -> torch.Tensor:
    """V-Net soft Dice (paper Eq. 5), per class c, then averaged over the C classes:

        Dice_c = (2 sum_x p_c y_c + smooth) / (sum_x p_c + sum_x y_c + smooth),
        L = 1 - 1/C sum_c Dice_c,

    with the sums over the whole batch. ``squared=True`` uses V-Net's original
    denominator sum p_c^2 + sum y_c^2. ``smooth > 0`` keeps a class that is absent
    from both target and prediction at Dice 1 instead of 0/0.
    """
    if not smooth > 0:
        raise ValueError(
            f"smooth must be > 0 (it keeps an absent class from giving 0/0), got {smooth}"
        )
    prob, onehot = _probs_and_onehot(logits, target)
    dims = (0, 2, 3)  # batch and pixels: one Dice per class
    intersection = (prob * onehot).sum(dims)
    if squared:
        denominator = (prob**2).sum(dims) + (onehot**2).sum(dims)
    else:
        denominator = prob.sum(dims) + onehot.sum(dims)
    dice = (2 * intersection + smooth) / (denominator + smooth)
    return 1 - dice.mean()


@supports_heads
def ce_dice(
    logits,
    target,
    *,
    dice_weight: float = 1.0,
    dice: str = "soft",
    smooth: float = 1.0,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """``cross_entropy + dice_weight * Dice``, Dice = ``soft_dice`` or ``seed_dice`` (``dice=``)."""
    if dice == "soft":
        dice_loss = soft_dice(logits, target, smooth=smooth)
    elif dice == "seed":
        dice_loss = seed_dice(logits, target)
    else:
        raise ValueError(f"dice must be 'soft' or 'seed', got {dice!r}")
    return cross_entropy(logits, target, weight=weight) + dice_weight * dice_loss


LOSSES = {
    "cross_entropy": cross_entropy,
    "seed_dice": seed_dice,
    "soft_dice": soft_dice,
    "ce_dice": ce_dice,
}  # keyed by attnlib.names.LOSSES


def build_loss(name: str, **kwargs):
    """The loss called ``name`` (case-insensitive) with ``kwargs`` bound: ``loss(logits, target)``.

    Names: ``ce``/``cross_entropy``, ``seed_dice``, ``soft_dice``, ``ce_dice``; the
    paper's CLI names ``crossentropy`` and ``dice`` (= ``seed_dice``) work too
    (:func:`attnlib.names.loss_name`).
    """
    key = loss_name(name)
    loss_fn = LOSSES[key]
    try:  # catch a misspelt option now rather than at the first batch
        inspect.signature(loss_fn).bind(None, None, **kwargs)
    except TypeError as error:
        raise ValueError(f"loss {key!r} does not take {sorted(kwargs)}: {error}") from None
    return functools.partial(loss_fn, **kwargs)
