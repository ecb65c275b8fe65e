"""Checks for notebook 02 (UNet)."""

import torch
from torch import nn

from ._core import correct, exercise, expect

_PAIRS = [(1, 64), (64, 128), (128, 64), (3, 5), (1024, 512), (7, 1)]


def _torch_double_conv_params(c_in: int, c_out: int) -> int:
    """Reference: count the parameters of the layers themselves (plain torch.nn, no attnlib)."""
    layers = [
        nn.Conv2d(c_in, c_out, 3, padding=1),
        nn.BatchNorm2d(c_out),
        nn.Conv2d(c_out, c_out, 3, padding=1),
        nn.BatchNorm2d(c_out),
    ]
    return sum(p.numel() for layer in layers for p in layer.parameters())


@exercise(
    "2.1",
    "write doubleconv_params(c_in, c_out): the parameters of two 3x3 convolutions with bias and "
    "two BatchNorms, by formula",
)
def check_doubleconv_params(fn):
    """``fn(c_in, c_out)``: parameters of a DoubleConv (two 3x3 convs with bias, two BatchNorms)."""
    for c_in, c_out in _PAIRS:
        got = fn(c_in, c_out)
        want = _torch_double_conv_params(c_in, c_out)
        expect(
            got == want,
            f"doubleconv_params({c_in}, {c_out}) = {got}, torch counts {want}. Count each layer: "
            "a 3x3 conv has 3*3*C_in*C_out weights plus C_out biases; the second conv maps "
            "C_out -> C_out; a BatchNorm has a scale and a shift per channel (its running "
            "statistics are buffers, not parameters).",
        )
    correct(
        "9*C_out*(C_in + C_out) conv weights, plus 6*C_out (two conv biases, two BatchNorm "
        "scales and shifts)."
    )


@exercise(
    "2.2",
    "write pooled_size(n, k): the side length after k 2x2 max-poolings with stride 2",
)
def check_pooled_size(fn):
    """``fn(n, k)``: side length after k 2x2 max-poolings (stride 2) of an n x n input."""
    for n in [512, 500, 97, 64, 33, 16]:
        x = torch.zeros(1, 1, n, n)
        for k in range(0, 5):
            if k > 0:
                x = nn.functional.max_pool2d(x, 2)
            got = fn(n, k)
            want = x.shape[-1]
            expect(
                got == want,
                f"pooled_size({n}, {k}) = {got}, but torch's max_pool2d gives {want}. Each pooling "
                "halves the side and drops an odd leftover pixel (floor division).",
            )
    correct(
        "each pooling floors n/2, so only a multiple of 2**k gets back to n after k poolings and "
        "k up-samplings."
    )
