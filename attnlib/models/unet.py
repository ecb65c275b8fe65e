"""UNet (Ronneberger et al. 2015) with optionally gated skip connections.

The baseline of Xu, Bai, Wang, "Attention-based Forward Passing for Enhancing UNet
Segmentation on Microscopy Images" (Sec. 3.1, Fig. 1), and, with ``gate="sse"``, their
attention-integrated UNet (Fig. 4). Layout for the paper's widths (64, 128, 256, 512,
1024) and a 512x512 ISBI tile::

    level  encoder                       decoder
      0    enc0 (B,  64, 512, 512) --skip0--> dec0 (B,  64, 512, 512) -> head
      1    enc1 (B, 128, 256, 256) --skip1--> dec1 (B, 128, 256, 256)
      2    enc2 (B, 256, 128, 128) --skip2--> dec2 (B, 256, 128, 128)
      3    enc3 (B, 512,  64,  64) --skip3--> dec3 (B, 512,  64,  64)
      4    enc4 (B, 1024, 32,  32)  bottleneck, up-sampled into dec3

Each decoder level i computes ``dec_i = DoubleConv(concat[Up(below), gate_i(enc_i)])``
where ``below`` is ``dec_{i+1}`` (or the bottleneck ``enc4``); like the paper's code
the up-sampled tensor comes first in the concat. With the additive gate, ``below``
is also the gating signal of skip i.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .attention import make_gate
from .blocks import DoubleConv, Down, Up, check_input


class UNet(nn.Module):
    """UNet for 2-D segmentation, with an optional gate on each skip connection.

    Ronneberger et al. 2015, "U-Net: Convolutional Networks for Biomedical Image
    Segmentation", with padded convs and BatchNorm as in the code of Xu, Bai, Wang,
    "Attention-based Forward Passing for Enhancing UNet Segmentation on Microscopy
    Images". Paper widths give 31,042,434 parameters (1 input channel, 2 classes);
    ``gate="sse"`` adds ``C + 1`` per skip (+964).

    Args:
        in_channels: channels of the input image ``(B, in_channels, H, W)``.
        num_classes: channels of the output logits ``(B, num_classes, H, W)``.
        widths: channels per level, from the top level 0 to the bottleneck; the
            network pools ``len(widths) - 1`` times, so H and W must be multiples
            of ``2**(len(widths) - 1)`` (16 for the paper's five widths).
        gate: ``None`` (plain skips), ``"sse"`` (the paper's attention forward
            passing) or ``"additive"`` (Oktay et al. 2018 attention gate).

    Example::

        >>> model = UNet(widths=(4, 8, 16, 32, 64), gate="sse")
        >>> model(torch.zeros(2, 1, 64, 64)).shape
        torch.Size([2, 2, 64, 64])
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 2,
        widths: Sequence[int] = (64, 128, 256, 512, 1024),
        gate: str | None = None,
    ) -> None:
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if len(widths) < 2 or min(widths) < 1:
            raise ValueError(f"widths needs at least two positive entries, got {widths}")
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.widths = widths
        self.gate = None if gate == "none" else gate
        self.depth = len(widths) - 1  # number of poolings; 4 in the paper
        levels = range(self.depth)  # skip levels 0 .. depth-1

        # Encoder: enc0 keeps the resolution, enc_i (i >= 1) pools then convolves.
        self.encoder = nn.ModuleList([DoubleConv(in_channels, widths[0])])
        for i in range(1, self.depth + 1):
            self.encoder.append(Down(widths[i - 1], widths[i]))
        # Decoder, indexed by level i: up_i maps width[i+1] -> width[i] and doubles H, W.
        self.up = nn.ModuleList([Up(widths[i + 1], widths[i]) for i in levels])
        self.gates = nn.ModuleList([make_gate(gate, widths[i], g_channels=widths[i + 1]) for i in levels])
        self.decoder = nn.ModuleList([DoubleConv(2 * widths[i], widths[i]) for i in levels])
        self.head = nn.Conv2d(widths[0], num_classes, kernel_size=1)

    def forward(self, x: torch.Tensor, return_features: bool = False, return_attention: bool = False):
        """Args:
            x: image batch ``(B, in_channels, H, W)`` with H, W multiples of
                ``2**depth``.
            return_features: also return a dict of every intermediate tensor,
                ``"enc0".."enc4"`` and ``"dec3".."dec0"``, for inspection.
            return_attention: also return this pass's attention maps (as
                :meth:`attention_maps`), tied to this very ``x``.

        Returns:
            logits ``(B, num_classes, H, W)``; with either flag a tuple
            ``(logits, features)``, ``(logits, maps)`` or ``(logits, features, maps)``.

        Raises:
            ValueError: wrong channel count or H, W not multiples of ``2**depth``.
        """
        check_input(x, self.in_channels, self.depth)
        features: dict[str, torch.Tensor] = {}
        skips: list[torch.Tensor] = []
        for i, block in enumerate(self.encoder):
            x = block(x)  # (B, widths[i], H/2^i, W/2^i)
            features[f"enc{i}"] = x  # (B, widths[i], H/2^i, W/2^i)
            skips.append(x)  # enc_i, kept for skip i
        for i in reversed(range(self.depth)):
            below = x  # (B, widths[i+1], H/2^(i+1), W/2^(i+1)), dec_{i+1} or bottleneck
            up = self.up[i](below)  # (B, widths[i], H/2^i, W/2^i)
            skip = self.gates[i](skips[i], below)  # (B, widths[i], H/2^i, W/2^i)
            x = torch.cat([up, skip], dim=1)  # (B, 2*widths[i], H/2^i, W/2^i)
            x = self.decoder[i](x)  # (B, widths[i], H/2^i, W/2^i)
            features[f"dec{i}"] = x  # (B, widths[i], H/2^i, W/2^i)
        logits = self.head(x)  # (B, num_classes, H, W)
        extras = ([features] if return_features else []) + ([self.attention_maps()] if return_attention else [])
        return (logits, *extras) if extras else logits

    def attention_maps(self) -> dict[str, torch.Tensor]:
        """The latest attention map of every gate, from the last forward pass.

        Only the *last* pass: after ``predict(tta=True)`` or a batched prediction the maps
        belong to the last view or batch. For maps tied to an input use
        ``model(x, return_attention=True)``.

        Returns:
            ``{"skip3": alpha, ..., "skip0": alpha}`` with each alpha detached,
            ``(B, 1, H/2^i, W/2^i)``, values in (0, 1); empty for ``gate=None`` or
            before the first forward.
        """
        maps = {}
        for i in reversed(range(self.depth)):
            alpha = getattr(self.gates[i], "last_alpha", None)
            if alpha is not None:
                maps[f"skip{i}"] = alpha
        return maps

    def named_blocks(self) -> list[tuple[str, nn.Module]]:
        """Readable names of the blocks, in forward order (used by ``describe``)."""
        blocks = [(f"enc{i}", block) for i, block in enumerate(self.encoder)]
        for i in reversed(range(self.depth)):
            blocks.append((f"up{i}", self.up[i]))
            if self.gate is not None:
                blocks.append((f"skip{i}", self.gates[i]))
            blocks.append((f"dec{i}", self.decoder[i]))
        blocks.append(("head", self.head))
        return blocks

    def extra_repr(self) -> str:
        return f"widths={self.widths}, gate={self.gate!r}"
