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
is also the gating signal of skip i. A level is a UNet++ node with one skip
(:class:`~attnlib.models.blocks.NestedNode`); what else the two networks share is in
:class:`~attnlib.models.base.EncoderDecoder`.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from attnlib.names import PAPER_WIDTHS

from .attention import make_gate
from .base import EncoderDecoder
from .blocks import DoubleConv, NestedNode, Up


class UNet(EncoderDecoder):
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

    ``forward(x)`` returns the logits ``(B, num_classes, H, W)``, always a tensor;
    ``inspect(x)`` returns them with the features ``"enc0".."enc4"``, ``"dec3".."dec0"`` and
    the attention maps ``"skip3".."skip0"`` of that pass.

    Example::

        >>> model = UNet(widths=(4, 8, 16, 32, 64), gate="sse")
        >>> model(torch.zeros(2, 1, 64, 64)).shape
        torch.Size([2, 2, 64, 64])
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 2,
        widths: Sequence[int] = PAPER_WIDTHS,
        gate: str | None = None,
    ) -> None:
        super().__init__(in_channels, num_classes, widths, gate)
        w, levels = self.widths, range(self.depth)  # skip levels 0 .. depth-1
        self.encoder = nn.ModuleList(self.encoder_blocks())
        # Decoder level i = NestedNode(up_i, [gate_i], decoder_i): up_i maps width[i+1] -> width[i]
        # and doubles H, W. The parts are registered here, each kind in its list (the names of
        # every state dict, and the order the seed draws the initial weights in); the nodes
        # over them are a plain tuple, so nothing is registered twice.
        self.up = nn.ModuleList([Up(w[i + 1], w[i]) for i in levels])
        self.gates = nn.ModuleList(
            [make_gate(self.gate, w[i], g_channels=w[i + 1]) for i in levels]
        )
        self.decoder = nn.ModuleList([DoubleConv(2 * w[i], w[i]) for i in levels])
        self.head = nn.Conv2d(w[0], num_classes, kernel_size=1)
        self.levels = tuple(
            NestedNode(self.up[i], [self.gates[i]], self.decoder[i]) for i in levels
        )

    def _forward(self, x: torch.Tensor):
        enc = self.encode(x)  # enc_i (B, widths[i], H/2^i, W/2^i), kept for skip i
        features = {f"enc{i}": e for i, e in enumerate(enc)}
        x = enc[-1]  # the bottleneck
        for i in reversed(range(self.depth)):
            x = self.levels[i](
                x, [enc[i]]
            )  # dec_i (B, widths[i], H/2^i, W/2^i) from dec_{i+1} and enc_i
            features[f"dec{i}"] = x
        return self.head(x), features  # logits (B, num_classes, H, W)

    def gated_skips(self):
        """``("skip3", gate_3), ..., ("skip0", gate_0)``: the gate on each level's skip."""
        return ((f"skip{i}", self.gates[i]) for i in reversed(range(self.depth)))

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
