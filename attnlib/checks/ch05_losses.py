"""Checks for notebook 05 (losses): the paper's code's Dice, V-Net's soft Dice, the seed Dice
gradient."""

import numpy as np
import torch

from ._core import correct, exercise, expect


def _cases():
    """(name, logits, target) triples: random, confident, a class missing, a batch of 3."""
    g = torch.Generator().manual_seed(5)
    cases = [
        (
            "random (2, 2, 8, 8)",
            torch.randn(2, 2, 8, 8, generator=g),
            torch.randint(0, 2, (2, 8, 8), generator=g),
        ),
        (
            "confident (1, 2, 6, 10)",
            6 * torch.randn(1, 2, 6, 10, generator=g),
            torch.randint(0, 2, (1, 6, 10), generator=g),
        ),
        (
            "no membrane in the target",
            torch.randn(1, 2, 5, 5, generator=g),
            torch.ones(1, 5, 5, dtype=torch.long),
        ),
        (
            "3 classes, batch of 3",
            torch.randn(3, 3, 4, 7, generator=g),
            torch.randint(0, 3, (3, 4, 7), generator=g),
        ),
    ]
    return [(name, z.double(), y) for name, z, y in cases]


def _probs_onehot(logits, target):
    prob = logits.softmax(dim=1)
    onehot = torch.nn.functional.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).to(prob.dtype)
    return prob, onehot


def _number(value, what):
    expect(value is not None, f"{what} returned None: return the loss.")
    expect(
        torch.is_tensor(value) or np.isscalar(value),
        f"{what} returned a {type(value).__name__}: return a scalar tensor.",
    )
    size = value.numel() if torch.is_tensor(value) else np.size(value)
    expect(
        size == 1,
        f"{what} returned shape {tuple(np.shape(value))}: reduce to one number (.sum() over "
        "everything, not per class or per image).",
    )
    return float(value)


@exercise(
    "5.1",
    "write seed_dice_from(prob, onehot): 1 - 2 * sum(prob * onehot) / (sum(prob) + sum(onehot)), "
    "sums over everything",
)
def check_seed_dice(fn):
    """``fn(prob, onehot)``: 1 - 2 sum(p y) / (sum p + sum y), all sums over batch, classes and
    pixels."""
    for name, logits, target in _cases():
        prob, onehot = _probs_onehot(logits, target)
        got = _number(fn(prob.clone(), onehot.clone()), "seed_dice_from")
        p_true = prob.gather(1, target[:, None])
        want = float(1 - p_true.mean())  # the shortcut, an independent reference
        per_class = (
            2 * (prob * onehot).sum((0, 2, 3)) / (prob.sum((0, 2, 3)) + onehot.sum((0, 2, 3)))
        ).mean()
        if not np.isclose(got, want, atol=1e-6) and np.isclose(
            got, float(1 - per_class), atol=1e-6
        ):
            expect(
                False,
                f"{name}: you computed one Dice per class and averaged them (V-Net's form). The "
                "paper's "
                "code sums over everything, classes included, before the one ratio.",
            )
        expect(
            np.isclose(got, want, atol=1e-6),
            f"{name}: got {got:.6f}, expected {want:.6f}. Sum prob * onehot, "
            "prob and onehot over every axis; the loss is 1 - 2 * I / (A + B).",
        )
    correct(
        "the sums over both classes make it 1 - mean probability of the true class, a soft pixel "
        "accuracy."
    )


def _reference_soft_dice(prob, onehot, smooth):
    """Plain numpy, one class at a time."""
    p, y = prob.numpy(), onehot.numpy()
    dices = []
    for c in range(p.shape[1]):
        pc, yc = p[:, c].ravel(), y[:, c].ravel()
        dices.append((2 * np.dot(pc, yc) + smooth) / (pc.sum() + yc.sum() + smooth))
    return 1 - float(np.mean(dices))


@exercise(
    "5.2",
    "write soft_dice_from(prob, onehot, smooth): one Dice per class (sums over dims 0, 2, 3), 1 "
    "- their mean",
)
def check_soft_dice(fn):
    """``fn(prob, onehot, smooth=1.0)``: V-Net soft Dice per class, averaged over the classes."""
    for name, logits, target in _cases():
        prob, onehot = _probs_onehot(logits, target)
        for smooth in (1.0, 1e-3):
            got = _number(fn(prob.clone(), onehot.clone(), smooth=smooth), "soft_dice_from")
            want = _reference_soft_dice(prob, onehot, smooth)
            seed = float(1 - 2 * (prob * onehot).sum() / (prob.sum() + onehot.sum()))
            if not np.isclose(got, want, atol=1e-6) and np.isclose(got, seed, atol=1e-3):
                expect(
                    False,
                    f"{name}: this is the paper's code's Dice (one ratio over all classes). Keep "
                    "the "
                    "class axis: sum over dims (0, 2, 3), giving one Dice per class, then average.",
                )
            expect(
                np.isclose(got, want, atol=1e-6),
                f"{name}, smooth={smooth}: got {got:.6f}, expected {want:.6f}. Per class c: "
                "(2 sum p_c y_c + smooth) / (sum p_c + sum y_c + smooth), sums over batch and "
                "pixels; "
                "the loss is 1 - the mean over the classes.",
            )
    from attnlib.losses import soft_dice

    _, logits, target = _cases()[0]
    prob, onehot = _probs_onehot(logits, target)
    expect(
        np.isclose(
            float(fn(prob, onehot, smooth=1.0)), float(soft_dice(logits, target)), atol=1e-6
        ),
        "your function disagrees with attnlib.losses.soft_dice on the first case.",
    )
    correct("one ratio per class: the small membrane class weighs as much as the large cell class.")


@exercise(
    "5.3",
    "write seed_dice_grad(logits, target): dL/dz_c = -(1/N) p_y (delta_cy - p_c), without autograd",
)
def check_seed_dice_grad(fn):
    """``fn(logits, target)``: d seed_dice / d logits, (B, C, H, W), by formula."""
    from attnlib.losses import seed_dice

    for name, logits, target in _cases():
        z = logits.clone().requires_grad_()
        want = torch.autograd.grad(seed_dice(z, target), z)[0]
        got = fn(logits.clone(), target.clone())
        got = torch.as_tensor(got)
        expect(
            tuple(got.shape) == tuple(logits.shape),
            f"{name}: got shape {tuple(got.shape)}, expected "
            f"{tuple(logits.shape)} (one value per logit).",
        )
        if torch.allclose(got.to(want.dtype), -want, atol=1e-9):
            expect(
                False,
                f"{name}: the sign is flipped. The loss falls when p_true rises, so the true-class "
                "logit's gradient is negative.",
            )
        if (
            torch.allclose(got.to(want.dtype), want * target.numel(), atol=1e-9)
            and target.numel() > 1
        ):
            expect(
                False,
                f"{name}: off by the factor 1/N. The loss is a *mean* over the N = B*H*W pixels.",
            )
        expect(
            torch.allclose(got.to(want.dtype), want, atol=1e-9),
            f"{name}: differs from autograd by up to "
            f"{(got.to(want.dtype) - want).abs().max():.3e}. "
            "dL/dz_c = -(1/N) p_y (delta_cy - p_c), with p_y the true-class probability of the "
            "pixel.",
        )
    correct("-(1/N) p_y (1 - p_y) on the true class: it vanishes for confidently wrong pixels.")
