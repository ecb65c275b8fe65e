"""Checks for notebook 07 (training): one training step, the last-k mean, the optimism."""

import numpy as np
import torch
from torch import nn

from ._core import correct, exercise, expect

_WIDTHS = (4, 8, 16, 32, 64)


def _fixed_batch():
    """Two 32x32 images whose class is a smooth function of the pixel: learnable in a few steps."""
    g = torch.Generator().manual_seed(7)
    x = torch.rand(2, 1, 32, 32, generator=g)
    x = nn.functional.avg_pool2d(x, 5, stride=1, padding=2)  # blobs, not pixel noise
    y = (x[:, 0] > x.mean()).long()
    return x, y


def _setup(seed=0, lr=1e-2):
    from ..models import build_model

    torch.manual_seed(seed)
    model = build_model("unet", widths=_WIDTHS)
    return model, torch.optim.Adam(model.parameters(), lr=lr), nn.CrossEntropyLoss()


def _reference_step(model, optimizer, loss_fn, x, y):
    model.train()
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def _weights(model):
    return [p.detach().clone() for p in model.parameters()]


def _same(a, b, atol=1e-6):
    return all(torch.allclose(u, v, atol=atol) for u, v in zip(a, b))


@exercise(
    "7.1",
    "write train_step(model, optimizer, loss_fn, x, y): zero the gradients, compute "
    "loss_fn(model(x), y), "
    "backpropagate, step the optimizer, and return the loss as a float",
)
def check_train_step(fn, steps: int = 25):
    """``fn(model, optimizer, loss_fn, x, y)`` -> float: one optimisation step on the batch (x, y).

    Compared step by step with a reference on an identical tiny UNet, then run ``steps`` times on a
    fixed batch: the loss must fall.
    """
    x, y = _fixed_batch()
    model, optimizer, loss_fn = _setup()
    ref_model, ref_optimizer, _ = _setup()
    model.eval()  # a step must put the model in training mode itself
    before = _weights(model)
    with torch.no_grad():
        ref_model.train()
        want_first = loss_fn(ref_model(x), y).item()
    ref_model.load_state_dict(model.state_dict())  # undo the BatchNorm statistics of that forward

    got = fn(model, optimizer, loss_fn, x, y)
    expect(
        not torch.is_tensor(got),
        "train_step returned a tensor: return loss.item(), a Python float (a tensor "
        "keeps the whole graph of the step alive).",
    )
    expect(
        isinstance(got, (float, int, np.floating)),
        f"train_step returned a {type(got).__name__}: return the loss as a float, loss.item().",
    )
    expect(
        not _same(before, _weights(model), atol=0.0),
        "the weights did not change: call loss.backward() and then optimizer.step().",
    )
    expect(
        model.training,
        "the model is in evaluation mode after the step: call model.train() first (BatchNorm "
        "trains with the batch statistics).",
    )
    expect(
        np.isclose(got, want_first, rtol=1e-4, atol=1e-6),
        f"train_step returned {got:.5f}, but the loss of the batch before the update is "
        f"{want_first:.5f}: "
        "return the loss you called backward() on, loss_fn(model(x), y), not one computed "
        "afterwards.",
    )
    _reference_step(ref_model, ref_optimizer, loss_fn, x, y)
    expect(
        _same(_weights(model), _weights(ref_model), atol=1e-5),
        "after one step the weights differ from a plain Adam step on the same batch: compute "
        "loss_fn(model(x), y), call loss.backward() once and optimizer.step() once.",
    )

    losses = [got]
    for step in range(1, steps):
        losses.append(float(fn(model, optimizer, loss_fn, x, y)))
        if step == 1:
            _reference_step(ref_model, ref_optimizer, loss_fn, x, y)
            expect(
                _same(_weights(model), _weights(ref_model), atol=1e-5),
                "the second step differs from the reference: the gradients accumulate from step "
                "to step. Call "
                "optimizer.zero_grad() before loss.backward().",
            )
    expect(
        losses[-1] < 0.5 * losses[0],
        f"on a fixed batch the loss went from {losses[0]:.4f} to {losses[-1]:.4f} "
        f"in {steps} steps; it should fall to less than half.",
    )
    correct(
        f"on one fixed batch the loss fell from {losses[0]:.3f} to {losses[-1]:.3f} in {steps} "
        "steps: "
        "the model, the loss and the optimizer are wired up."
    )


@exercise(
    "7.2",
    "write mean_of_last(evals, k): the mean of e['test']['mean_iou'] over the last k evaluations",
)
def check_mean_of_last(fn):
    """``fn(evals, k)``: mean test mIoU of the last k evaluations."""
    evals = [
        {"epoch": e, "test": {"mean_iou": v}} for e, v in enumerate([0.5, 0.7, 0.6, 0.8, 0.9], 1)
    ]
    for k, want in [(1, 0.9), (2, 0.85), (5, 0.7)]:
        got = fn(evals, k)
        expect(
            np.isclose(got, want),
            f"mean_of_last(evals, {k}) gave {got}, expected {want}: average the last k "
            f"entries' e['test']['mean_iou'].",
        )
    correct("the last-k average smooths the noise without looking for the best epoch.")


@exercise(
    "7.3",
    "set optimism to record['summary']['paper_protocol']['test']['mean_iou'] minus the same for "
    "'honest'",
)
def check_optimism(value, record):
    """Paper-protocol mIoU minus honest mIoU of ``record``."""
    s = record["summary"]
    want = s["paper_protocol"]["test"]["mean_iou"] - s["honest"]["test"]["mean_iou"]
    expect(
        isinstance(value, (int, float, np.floating)),
        f"optimism is {type(value).__name__}: compute a number.",
    )
    expect(
        np.isclose(value, want),
        f"optimism = {value}, expected {want:.6f}: "
        "record['summary'][protocol]['test']['mean_iou'], paper_protocol minus honest.",
    )
    expect(
        want >= 0, "the best-on-test epoch can never score below the honest one on the test slices."
    )
    correct(f"choosing on the test slices adds {want:+.4f} mIoU here.")
