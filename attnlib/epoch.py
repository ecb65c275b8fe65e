"""One training step and one pass over the loader, on the run's fast path.

:func:`train_step` is the step that ``fit`` trains with and that :mod:`attnlib.probe` times
(forward under autocast, the loss in fp32, backward, optimizer step), so the probe measures
what the run will do. With fp16 (CUDA below compute capability 8.0) a
``torch.amp.GradScaler`` scales the loss so that small gradients survive fp16's range, and
skips the steps whose gradients overflowed; its state is part of the checkpoint.
"""

from __future__ import annotations

import time
import warnings

import torch

from attnlib.inference import autocast
from attnlib.models.heads import per_head

SLOW_WARNING_HOURS = 2.0  # warn when a CPU run's estimate exceeds this


def make_scaler(fast: dict, device: torch.device):
    """A ``GradScaler`` for the fp16 path, None for every other (bf16 and fp32 need none)."""
    return torch.amp.GradScaler(device.type) if fast["amp"] == "fp16" else None


def train_step(forward, x, y, opt, loss_fn, amp: str, scaler=None) -> torch.Tensor:
    """One optimizer step on the batch ``x`` (B, 1, H, W), ``y`` (B, H, W); returns the loss."""
    with autocast(x.device, amp):
        logits = forward(x)  # (B, 2, H, W), or 4 of them for UNet++ "heads"
    logits = per_head(torch.Tensor.float, logits)  # the loss in fp32, head by head
    loss = loss_fn(logits, y)
    opt.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        opt.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(opt)  # unscales; skips the step if a gradient is inf/nan
        scaler.update()
    return loss


def warn_if_slow(config, device: torch.device, step_seconds: float, steps_per_epoch: int) -> None:
    """Warn when a CPU run would take more than :data:`SLOW_WARNING_HOURS`."""
    hours = step_seconds * steps_per_epoch * config.epochs / 3600
    if device.type == "cpu" and hours > SLOW_WARNING_HOURS:
        warnings.warn(
            f"this run needs about {hours:.0f} h on this CPU ({step_seconds:.1f} s per step, "
            f"{steps_per_epoch * config.epochs} steps): use profile='laptop' for a CPU, or a GPU.",
            stacklevel=3,
        )


def train_epoch(
    forward, loader, opt, loss_fn, device, fast: dict, warn=None, scaler=None, after_step=None
) -> float:
    """One pass over the loader (the model in train mode); returns the mean training loss.
    ``after_step()`` runs after every optimizer step (the weights' moving average)."""
    memory_format = torch.channels_last if fast["channels_last"] else torch.contiguous_format
    total, seen = torch.zeros((), device=device), 0
    for i, (x, y) in enumerate(loader):
        t0 = time.perf_counter()
        x = x.to(device, non_blocking=True, memory_format=memory_format)  # (B, 1, H, W)
        y = y.to(device, non_blocking=True)  # (B, H, W)
        loss = train_step(forward, x, y, opt, loss_fn, fast["amp"], scaler)
        if after_step is not None:
            after_step()
        total += loss.detach() * len(x)
        seen += len(x)
        if warn is not None and i == 1:  # the second step: kernels are built by now
            warn(time.perf_counter() - t0)
    return float(total) / seen
