"""Inference: pick the device, mixed precision, and predict cell probabilities (with TTA).

    from attnlib.inference import predict
    probs = predict(model, images[25:30], tta=True)   # (5, 512, 512) float32, P(cell)

Nothing is measured here: ``amp="auto"`` reuses the fast path recorded with the model (a model
from ``fit`` or ``load_run``, on the machine it was decided on), and runs fp32 for any other
model (:func:`attnlib.fastpath.inference_amp`).
"""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import torch

from attnlib.fastpath import inference_amp
from attnlib.models.heads import mean_logits


def resolve_device(device: str = "auto") -> torch.device:
    """``auto``: CUDA if present, else Apple's MPS, else the CPU."""
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}

# The 8 views of test-time augmentation, (k, flip): rotate k x 90 degrees in (H, W), then mirror
# left-right if flip. predict averages them in this order; attnlib.tta takes them apart.
VIEWS = [(k, flip) for k in range(4) for flip in (False, True)]


def autocast(device: torch.device, amp: str):
    """Autocast for a decided ``amp``: ``"bf16"`` or ``"fp16"``; a no-op for ``"off"`` (and
    for ``"auto"``, which :func:`predict` resolves first: nothing is decided per call)."""
    if amp in AUTOCAST_DTYPES:
        return torch.autocast(device.type, dtype=AUTOCAST_DTYPES[amp])
    return nullcontext()


@torch.no_grad()
def predict(model, images, tta: bool = False, batch_size: int = 2, amp: str = "auto") -> np.ndarray:
    """Cell probabilities for whole slices.

    Args:
        model: a network returning logits ``(B, 2, H, W)`` (or a list of them).
        images: uint8 ``(N, H, W)`` (0-255) or float ``(N, 1, H, W)`` in [0, 1].
        tta: average the probabilities over the 8 flips and 90-degree rotations.
        batch_size: slices per forward pass.
        amp: ``"auto"`` (the fast path recorded with the model, else fp32), ``"bf16"``,
            ``"fp16"`` or ``"off"``; ``fit`` passes the choice its run recorded
            (``record["fast_path"]["amp"]``).

    Returns:
        float32 ``(N, H, W)``: the softmax probability of class 1 (cell).
    """
    x = torch.as_tensor(np.asarray(images))
    if x.dtype == torch.uint8:
        x = x.float().div(255.0)[:, None]  # (N, 1, H, W)
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(
            f"images must be (N, H, W) uint8 or (N, 1, H, W) float, got {tuple(x.shape)}."
        )
    param = next(model.parameters())
    amp = inference_amp(model, amp, param.device)  # decided once, not per batch
    channels_last = any(
        p.dim() == 4
        and p.is_contiguous(memory_format=torch.channels_last)
        and not p.is_contiguous()
        for p in model.parameters()
    )
    memory_format = (
        torch.channels_last if channels_last else torch.contiguous_format
    )  # follow the model
    was_training = model.training
    model.eval()
    views = VIEWS if tta else VIEWS[:1]  # VIEWS[0] = (0, False): the plain view
    probs = []
    for batch in x.split(batch_size):
        batch = batch.to(param.device, memory_format=memory_format)  # (B, 1, H, W)
        acc = torch.zeros(batch.shape[0], *batch.shape[2:], device=param.device)
        for k, flip in views:
            v = torch.rot90(batch, k, (2, 3))
            v = v.flip(3) if flip else v
            with autocast(param.device, amp):
                p = (
                    mean_logits(model(v)).float().softmax(1)[:, 1:]
                )  # (B, 1, H, W), UNet++ heads averaged
            p = p.flip(3) if flip else p
            acc += torch.rot90(p, -k, (2, 3))[:, 0]
        probs.append((acc / len(views)).cpu())
    model.train(was_training)
    return torch.cat(probs).numpy()
