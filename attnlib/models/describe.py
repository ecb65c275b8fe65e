"""``describe(model)``: parameters, output shape of every block, and forward FLOPs.

A small, dependency-free model summary for the course notebooks::

    >>> from attnlib.models import build_model, describe
    >>> print(describe(build_model("unet", gate="sse")).to_markdown())

How it works:

* parameters are counted directly (``p.numel()``);
* the shapes come from forward hooks on the blocks the model names in
  ``named_blocks()`` (``enc0``, ``skip3``, ``x_1_2``, ...; any other module falls
  back to its direct children), recorded in the order they run;
* the FLOPs come from ``torch.utils.flop_counter.FlopCounterMode``. It counts
  matrix products and convolutions (incl. transposed convs) as 2 FLOPs per
  multiply-add; BatchNorm, ReLU, sigmoid, pooling and interpolation are not
  counted (they are a few percent at most).

The forward pass runs on the "meta" device through ``torch.func.functional_call``:
tensors there have shapes but no data, so even a 512x512 UNet++ at the paper's
widths is summarised instantly and the model's weights, BatchNorm statistics and
stored attention maps are left untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from attnlib.tables import markdown_table


@dataclass
class BlockRow:
    """One line of the summary: a named block, its output shape, its parameters."""

    name: str
    output_shape: tuple
    params: int


@dataclass
class ModelSummary:
    """What ``describe`` returns.

    Attributes:
        model: class name of the model.
        input_size: the input shape used, ``(B, C, H, W)``.
        total_params: number of parameters.
        trainable_params: parameters with ``requires_grad``.
        flops: forward FLOPs for ``input_size`` (2 per multiply-add).
        rows: one ``BlockRow`` per block in forward order; the last row is named
            ``"output"`` and holds the model's output shape (a tuple of shapes for
            a list output, e.g. UNet++ with ``deep_supervision="heads"``).
    """

    model: str
    input_size: tuple
    total_params: int
    trainable_params: int
    flops: int
    rows: list[BlockRow] = field(default_factory=list)

    @property
    def gflops(self) -> float:
        """Forward FLOPs in units of 1e9."""
        return self.flops / 1e9

    def row(self, name: str) -> BlockRow:
        """The row called ``name`` (e.g. ``"output"``); KeyError if absent."""
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)

    def to_markdown(self) -> str:
        """The summary as a Markdown table followed by the totals."""
        rows = [[r.name, _shape_str(r.output_shape), f"{r.params:,}"] for r in self.rows]
        return (
            markdown_table(["block", "output shape", "params"], rows, align="llr") + "\n\n"
            f"{self.model}, input {_shape_str(self.input_size)}: "
            f"{self.total_params:,} parameters ({self.trainable_params:,} trainable), "
            f"{self.gflops:.2f} GFLOPs per forward pass"
        )

    def __str__(self) -> str:
        return self.to_markdown()


def _shape_str(shape) -> str:
    if len(shape) > 0 and isinstance(shape[0], tuple):  # several outputs
        return "[" + ", ".join(_shape_str(s) for s in shape) + "]"
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _shape_of(out) -> tuple:
    if isinstance(out, torch.Tensor):
        return tuple(out.shape)
    if isinstance(out, (list, tuple)):
        return tuple(_shape_of(o) for o in out)
    return ()


def describe(model: nn.Module, input_size: tuple | None = None) -> ModelSummary:
    """Summarise ``model``: parameters, block output shapes and forward FLOPs.

    Args:
        model: a ``UNet``/``UNetPlusPlus`` (anything with ``named_blocks()``), or
            any ``nn.Module`` (its direct children are then the blocks).
        input_size: the input shape ``(B, C, H, W)``; default
            ``(1, model.in_channels, 512, 512)``, one ISBI-2012 image.

    Returns:
        a ``ModelSummary``; ``print(summary)`` or ``summary.to_markdown()`` shows it.
    """
    if input_size is None:
        input_size = (1, getattr(model, "in_channels", 1), 512, 512)
    input_size = tuple(int(d) for d in input_size)
    named = model.named_blocks() if hasattr(model, "named_blocks") else list(model.named_children())

    rows: list[BlockRow] = []

    def make_hook(name: str, block: nn.Module):
        params = sum(p.numel() for p in block.parameters())

        def hook(module, inputs, output):
            rows.append(BlockRow(name, _shape_of(output), params))

        return hook

    # Shape-only copies of weights and buffers on the meta device.
    meta_state = {
        k: torch.empty_like(v, device="meta") for k, v in model.state_dict(keep_vars=True).items()
    }
    saved_alphas = {m: m.last_alpha for m in model.modules() if hasattr(m, "last_alpha")}
    handles = [block.register_forward_hook(make_hook(name, block)) for name, block in named]
    was_training = model.training
    model.eval()  # no BatchNorm statistics update, batch size 1 allowed
    try:
        x = torch.zeros(input_size, device="meta")  # (B, C, H, W)
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            out = torch.func.functional_call(model, meta_state, (x,))
        flops = counter.get_total_flops()
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
        for m, alpha in saved_alphas.items():
            m.last_alpha = alpha

    rows.append(BlockRow("output", _shape_of(out), 0))
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return ModelSummary(type(model).__name__, input_size, total, trainable, int(flops), rows)


def format_describe(model: nn.Module, input_size: tuple | None = None) -> str:
    """Shortcut: ``describe(model, input_size).to_markdown()``."""
    return describe(model, input_size).to_markdown()
