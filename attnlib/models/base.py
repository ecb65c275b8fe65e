"""What UNet and UNet++ share: the settings, the input checks, the encoder, the outputs.

Both networks are an encoder of ``DoubleConv``/``Down`` blocks and a decoder of
:class:`~attnlib.models.blocks.NestedNode` cells with gated skips (UNet: one node per level with
one skip; UNet++: the node grid x_i_j with j skips each). :class:`EncoderDecoder` holds what is
the same in both, as segmentation_models_pytorch's ``SegmentationModel`` does for its models:

* the settings (``in_channels``, ``num_classes``, ``widths``, ``gate``, ``depth``), checked;
* ``encoder_blocks()``: enc_0 = DoubleConv(in, C_0), enc_i = Down(C_{i-1}, C_i);
* ``forward(x)``: the input check, then the subclass's ``_forward``; it returns the logits and
  nothing else, of one type per model (``returns_heads`` says which, :mod:`~attnlib.models.heads`);
* ``inspect(x)``: the same pass, returned with everything it made, as an :class:`Inspection`
  tied to its input (the logits, every intermediate tensor, this pass's attention maps);
* ``attention_maps()`` from the subclass's ``gated_skips()``, and ``extra_repr``.

A subclass builds its modules and defines ``_forward(x) -> (logits, features)``,
``gated_skips()`` and ``named_blocks()``.
"""

from __future__ import annotations

from typing import Iterator, NamedTuple, Sequence

import torch
from torch import nn

from attnlib.names import gate_kind

from .blocks import DoubleConv, Down
from .heads import Logits


class Inspection(NamedTuple):
    """One forward pass and what it made, from :meth:`EncoderDecoder.inspect`.

    Attributes:
        x: the input of the pass, ``(B, C_in, H, W)``.
        logits: what ``forward(x)`` returns: ``(B, K, H, W)``, or L of them for UNet++ with
            ``deep_supervision="heads"``.
        features: every intermediate tensor by name, UNet ``"enc0".."enc4"``, ``"dec3".."dec0"``
            (``(B, widths[i], H/2^i, W/2^i)`` at level i), UNet++ ``"x_i_j"`` (level i).
        attention: this pass's attention map of every gated skip (names as
            :meth:`EncoderDecoder.gated_skips`), each detached ``(B, 1, H/2^i, W/2^i)`` in
            (0, 1); empty for ``gate=None``.
    """

    x: torch.Tensor
    logits: Logits
    features: dict[str, torch.Tensor]
    attention: dict[str, torch.Tensor]


def check_input(x: torch.Tensor, in_channels: int, depth: int) -> None:
    """Raise a readable ``ValueError`` if ``x`` cannot go through the network.

    Args:
        x: the input batch, expected ``(B, in_channels, H, W)``.
        in_channels: channels the first conv was built for.
        depth: number of 2x2 poolings (``len(widths) - 1``); H and W must be
            multiples of ``2**depth`` so every pooling halves them exactly and
            every transposed conv restores the size of its skip.
    """
    if x.dim() != 4:
        raise ValueError(
            f"expected a 4-D batch (B, C, H, W), got a tensor of shape {tuple(x.shape)}; "
            "add a batch dimension with x.unsqueeze(0) (and a channel one for a 2-D image)"
        )
    channels, height, width = x.shape[1], x.shape[2], x.shape[3]
    if channels != in_channels:
        raise ValueError(
            f"the model expects {in_channels} input channel(s), got {channels} "
            f"(input shape {tuple(x.shape)}); build the model with in_channels={channels} "
            "or convert the images (EM images are grayscale: 1 channel)"
        )
    multiple = 2**depth
    if height % multiple != 0 or width % multiple != 0:
        fit_h = -(-height // multiple) * multiple
        fit_w = -(-width // multiple) * multiple
        raise ValueError(
            f"input size {height}x{width} is not divisible by {multiple} "
            f"(= 2**{depth}, one halving per max-pool); pad or crop the image to a "
            f"multiple of {multiple} in both H and W, e.g. pad to {fit_h}x{fit_w}"
        )


class EncoderDecoder(nn.Module):
    """The base of UNet and UNet++ (see the module doc).

    Args:
        in_channels: channels of the input image ``(B, in_channels, H, W)``.
        num_classes: channels of the output logits ``(B, num_classes, H, W)``.
        widths: channels per level, level 0 first; the network pools ``len(widths) - 1``
            times, so H and W must be multiples of ``2**(len(widths) - 1)``.
        gate: ``None`` (or ``"none"``), ``"sse"`` or ``"additive"``, on every skip.
    """

    repr_fields: tuple[str, ...] = ("widths", "gate")

    def __init__(
        self, in_channels: int, num_classes: int, widths: Sequence[int], gate: str | None
    ) -> None:
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if len(widths) < 2 or min(widths) < 1:
            raise ValueError(f"widths needs at least two positive entries, got {widths}")
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.widths = widths
        self.gate = gate_kind(gate)
        self.depth = len(widths) - 1  # number of poolings; 4 in the paper

    def encoder_blocks(self) -> list[nn.Module]:
        """New encoder blocks: enc_0 keeps the resolution, enc_i (i >= 1) pools then convolves."""
        w = self.widths
        return [DoubleConv(self.in_channels, w[0])] + [
            Down(w[i - 1], w[i]) for i in range(1, self.depth + 1)
        ]

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``[enc_0, ..., enc_depth]``, enc_i ``(B, widths[i], H/2^i, W/2^i)``."""
        blocks = self.encoder.values() if isinstance(self.encoder, nn.ModuleDict) else self.encoder
        out = []
        for block in blocks:
            x = block(x)  # (B, widths[i], H/2^i, W/2^i)
            out.append(x)
        return out

    @property
    def returns_heads(self) -> bool:
        """True if ``forward`` returns a list of heads' logits, False if one tensor (always)."""
        return False

    def forward(self, x: torch.Tensor) -> Logits:
        """Args:
            x: image batch ``(B, in_channels, H, W)`` with H, W multiples of ``2**depth``.

        Returns:
            the logits ``(B, num_classes, H, W)``; a list of them if :attr:`returns_heads`.

        Raises:
            ValueError: wrong channel count or H, W not multiples of ``2**depth``.
        """
        check_input(x, self.in_channels, self.depth)
        return self._forward(x)[0]

    def inspect(self, x: torch.Tensor) -> Inspection:
        """One forward pass of ``x`` with its features and attention maps (:class:`Inspection`).

        The maps belong to this very ``x``, however many passes follow. Gradients flow as in
        ``forward`` (wrap the call in ``torch.no_grad()`` to keep no graph); the features are
        the tensors of the pass, not copies.

        Raises:
            ValueError: as :meth:`forward`.
        """
        check_input(x, self.in_channels, self.depth)
        logits, features = self._forward(x)
        return Inspection(x, logits, features, self.attention_maps())

    def _forward(self, x: torch.Tensor) -> tuple[Logits, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def gated_skips(self) -> Iterator[tuple[str, nn.Module]]:
        """``(name, gate)`` for every skip, in the order :meth:`attention_maps` lists them."""
        raise NotImplementedError

    def attention_maps(self) -> dict[str, torch.Tensor]:
        """The latest attention map of every gate, from the last forward pass.

        Only the *last* pass: after ``predict(tta=True)`` or a batched prediction the maps
        belong to the last view or batch. For maps tied to an input use
        ``model.inspect(x).attention``.

        Returns:
            ``{name: alpha}`` (names from :meth:`gated_skips`), each alpha detached,
            ``(B, 1, H/2^i, W/2^i)``, values in (0, 1); empty for ``gate=None`` or
            before the first forward.
        """
        maps = {}
        for name, gate in self.gated_skips():
            alpha = getattr(gate, "last_alpha", None)
            if alpha is not None:
                maps[name] = alpha
        return maps

    def extra_repr(self) -> str:
        return ", ".join(f"{name}={getattr(self, name)!r}" for name in self.repr_fields)
