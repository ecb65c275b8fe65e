"""Checks for notebook 04 (attention gates)."""

import copy

import torch
from torch import nn

from ..models import PAPER_WIDTHS, SSEGate, build_model
from ._core import correct, exercise, expect


def _reference_gate(weight: torch.Tensor, bias: float) -> SSEGate:
    """An ``SSEGate`` whose 1x1 conv holds ``weight`` (C,) and ``bias``."""
    gate = SSEGate(weight.numel())
    with torch.no_grad():
        gate.conv.weight.copy_(weight.view(1, -1, 1, 1))
        gate.conv.bias.fill_(float(bias))
    return gate


@exercise(
    "4.1",
    "write sse_forward(x, w, b): alpha = sigmoid(sum_c w[c] * x[:, c] + b), shape (B, 1, H, W), "
    "and return x * alpha",
)
def check_sse_forward(fn):
    """``fn(x, w, b)``: the sSE gate's output ``x * sigmoid(sum_c w_c x_c + b)`` for x
    ``(B, C, H, W)``."""
    gen = torch.Generator().manual_seed(4)
    for shape in [(1, 1, 3, 3), (2, 3, 5, 4), (1, 8, 6, 6), (3, 16, 2, 7)]:
        x = torch.randn(*shape, generator=gen)
        w = torch.randn(shape[1], generator=gen)
        b = float(torch.randn((), generator=gen))
        x_in, w_in = x.clone(), w.clone()
        got = fn(x_in, w_in, b)
        expect(
            not isinstance(got, (tuple, list)),
            "sse_forward returned a tuple: return only the gated tensor "
            "x * alpha (the notebook's sse_gate also returned alpha).",
        )
        got = torch.as_tensor(got)
        expect(
            torch.equal(x_in, x) and torch.equal(w_in, w),
            "sse_forward changed its inputs in place: compute a new tensor instead.",
        )
        expect(
            tuple(got.shape) == shape,
            f"for x of shape {shape} the output has shape {tuple(got.shape)}; the "
            "gate keeps the shape of x (alpha (B, 1, H, W) broadcasts over C).",
        )
        with torch.no_grad():
            want = _reference_gate(w, b)(x)
        if not torch.allclose(got.float(), want, atol=1e-5):
            alpha = torch.sigmoid(
                (x * w.view(1, -1, 1, 1)).sum(1, keepdim=True) + b
            )  # (B, 1, H, W)
            expect(
                not torch.allclose(got.float(), alpha.expand_as(x), atol=1e-5),
                "sse_forward returns the map alpha; the gate returns x * alpha.",
            )
            expect(
                False,
                f"for x of shape {shape} the output differs from SSEGate by up to "
                f"{(got.float() - want).abs().max():.3g}. alpha = sigmoid(sum over channels of "
                "w[c] * x[:, c] + b), one value per pixel, (B, 1, H, W); then multiply x by it.",
            )
    correct(
        "C weights and one bias: a per-pixel linear score of the pixel's own channels, squashed "
        "to (0, 1)."
    )


@exercise(
    "4.2",
    "write unetpp_sse_params(widths): the parameters the sSE gates add to a UNet++ with these "
    "widths",
)
def check_unetpp_sse_params(fn):
    """``fn(widths)``: parameters the sSE gates add to a UNet++ with these widths (depth L =
    len(widths) - 1)."""
    cases = [(4, 8), (3, 5, 7), PAPER_WIDTHS, (2, 4, 8, 16, 32, 64), (16, 32, 64, 128, 256)]
    for widths in cases:
        with torch.device("meta"):
            plain = build_model("unetpp", widths=widths)
            gated = build_model("unetpp", widths=widths, gate="sse")
        want = sum(p.numel() for p in gated.parameters()) - sum(
            p.numel() for p in plain.parameters()
        )
        got = fn(tuple(widths))
        expect(
            got == want,
            f"unetpp_sse_params({tuple(widths)}) = {got}, but building both models gives {want}. "
            "Each gate on a skip of width C costs C + 1; level i has nodes x_i_j for "
            "j = 1 .. L - i, and node x_i_j gates j skips.",
        )
    correct("sum over levels i of (C_i + 1) * (L - i)(L - i + 1) / 2: 2,708 at the paper's widths.")


def _apply(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return conv(x)


@exercise(
    "4.3",
    "write absorb_constant_gate(conv, alpha, C): a copy of conv whose weights on the last C "
    "input channels are scaled by alpha",
)
def check_absorb_constant_gate(fn):
    """``fn(conv, alpha, C)``: a new conv that, on the ungated input, equals ``conv`` on the input
    whose last C channels were multiplied by the constant ``alpha``."""
    gen = torch.Generator().manual_seed(7)
    for k, c, out, alpha in [(1, 1, 1, 0.5), (3, 2, 4, 0.25), (8, 8, 5, 0.9), (4, 6, 3, 0.03)]:
        conv = nn.Conv2d(k + c, out, kernel_size=3, padding=1)
        with torch.no_grad():
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen))
            conv.bias.copy_(torch.randn(conv.bias.shape, generator=gen))
        before = copy.deepcopy(conv.state_dict())
        z = torch.randn(2, k + c, 6, 5, generator=gen)  # concat[up (k channels), skip (c channels)]
        gated = z.clone()
        gated[:, k:] *= alpha
        want = _apply(conv, gated)
        new = fn(conv, alpha, c)
        expect(
            all(torch.equal(v, conv.state_dict()[n]) for n, v in before.items()),
            "absorb_constant_gate changed the conv it was given: copy it first (copy.deepcopy).",
        )
        expect(
            isinstance(new, nn.Conv2d),
            f"absorb_constant_gate returned a {type(new).__name__}: return a conv "
            "of the same shape, so it can replace the original.",
        )
        got = _apply(new, z)
        expect(
            got.shape == want.shape and torch.allclose(got, want, atol=1e-4),
            f"with {k} up-sampled + {c} skip channels and alpha = {alpha}, the outputs differ by "
            "up to "
            f"{(got - want).abs().max():.3g}. The conv is linear in each input channel: scale "
            "the weights "
            "that read the last C input channels (weight[:, -C:]) by alpha; the bias does not "
            "change.",
        )
    correct(
        "a constant gate is just a rescaled conv: only a map that varies from pixel to pixel "
        "adds anything."
    )
