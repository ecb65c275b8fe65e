"""UNet++ (Zhou et al. 2018): nested, densely connected skips, optionally gated.

Notation of Xu, Bai, Wang, "Attention-based Forward Passing for Enhancing UNet
Segmentation on Microscopy Images" (Sec. 3.1, Eq. 1-3). ``x_i_j`` is the node at
level i (resolution H/2^i, width ``widths[i]``) and column j::

    x_0_0 ── x_0_1 ── x_0_2 ── x_0_3 ── x_0_4      four heads on x_0_1..x_0_4
       x_1_0 ── x_1_1 ── x_1_2 ── x_1_3
          x_2_0 ── x_2_1 ── x_2_2
             x_3_0 ── x_3_1
                x_4_0

Encoder nodes x_i_0 are the UNet encoder. Every other node (j >= 1, i + j <= 4)
follows Eq. 1-2::

    Z_i_j = concat[Up(x_{i+1,j-1}), x_{i,0}, x_{i,1}, ..., x_{i,j-1}]
    x_i_j = ConvBlock(Z_i_j)

(The paper prints ``i + j <= 3`` in Eq. 3, but its code, like Zhou et al., builds
every node with ``i + j <= 4``; the up-sampled tensor comes first in the concat and
the skips follow in increasing j, as in the code.) With a gate, every skip input
``x_{i,k}`` of every node passes through its own gate: the paper's "densely
replacing each skip connection with an attention mechanism" (Sec. 3.2). A node is a
:class:`~attnlib.models.blocks.NestedNode` (a UNet decoder level is the same cell with one
skip); what else the two networks share is in :class:`~attnlib.models.base.EncoderDecoder`.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from attnlib.names import DEEP_SUPERVISION, PAPER_WIDTHS, check_choice

from .base import EncoderDecoder
from .blocks import NestedNode
from .heads import mean_logits


class UNetPlusPlus(EncoderDecoder):
    """UNet++ with deep supervision and optionally gated (attention) skips.

    Zhou et al. 2018, "UNet++: A Nested U-Net Architecture for Medical Image
    Segmentation", as built by Xu, Bai, Wang, "Attention-based Forward Passing for
    Enhancing UNet Segmentation on Microscopy Images". Paper widths give 36,171,848
    parameters (1 input channel, 2 classes); ``gate="sse"`` adds ``C + 1`` for each
    of the 20 gated skips (+2,708).

    Args:
        in_channels: channels of the input image ``(B, in_channels, H, W)``.
        num_classes: channels of each head's logits ``(B, num_classes, H, W)``.
        widths: channels per level, level 0 first; H and W must be multiples of
            ``2**(len(widths) - 1)`` (16 for the paper's five widths).
        gate: ``None``, ``"sse"`` (the paper's gate) or ``"additive"`` (Oktay et
            al. 2018), applied to every skip input of every node.
        deep_supervision: ``"mean"`` returns the mean of the heads' logits, as the
            paper's code trains and predicts; ``"heads"`` returns the list of the
            heads' logits on x_0_1, ..., x_0_4 (for a loss per head).

    ``forward(x)`` returns, for ``"mean"``, the logits ``(B, num_classes, H, W)``, always a
    tensor; for ``"heads"`` always the list of the L heads' logits (``returns_heads`` is True;
    :mod:`~attnlib.models.heads` handles both). ``inspect(x)`` returns them with the features
    ``{"x_i_j": tensor}`` of every node and the attention maps ``"x_i_k->x_i_j"`` (the map
    that gated skip x_i_k into node x_i_j) of that pass.

    Example::

        >>> model = UNetPlusPlus(widths=(4, 8, 16, 32, 64), deep_supervision="heads")
        >>> [h.shape for h in model(torch.zeros(2, 1, 64, 64))][0]
        torch.Size([2, 2, 64, 64])
    """

    repr_fields = ("widths", "gate", "deep_supervision")

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 2,
        widths: Sequence[int] = PAPER_WIDTHS,
        gate: str | None = None,
        deep_supervision: str = "mean",
    ) -> None:
        super().__init__(in_channels, num_classes, widths, gate)
        check_choice("deep_supervision", deep_supervision, DEEP_SUPERVISION)
        self.deep_supervision = deep_supervision
        w, depth = self.widths, self.depth  # L = 4 in the paper: nodes with i + j <= L
        self.encoder = nn.ModuleDict(
            {f"x_{i}_0": block for i, block in enumerate(self.encoder_blocks())}
        )
        self.nodes = nn.ModuleDict()
        for j in range(1, depth + 1):  # column by column, as in the paper's code
            for i in range(depth - j + 1):
                self.nodes[f"x_{i}_{j}"] = NestedNode.create(
                    w[i + 1], w[i], num_skips=j, gate=self.gate
                )
        # One 1x1 classifier per top node x_0_1 .. x_0_L.
        self.heads = nn.ModuleList(
            [nn.Conv2d(w[0], num_classes, kernel_size=1) for _ in range(depth)]
        )

    def _forward(self, x: torch.Tensor):
        feats = {
            f"x_{i}_0": e for i, e in enumerate(self.encode(x))
        }  # (B, widths[i], H/2^i, W/2^i)
        for j in range(1, self.depth + 1):
            for i in range(self.depth - j + 1):
                below = feats[f"x_{i + 1}_{j - 1}"]  # (B, widths[i+1], H/2^(i+1), W/2^(i+1))
                skips = [feats[f"x_{i}_{k}"] for k in range(j)]  # j x (B, widths[i], H/2^i, W/2^i)
                feats[f"x_{i}_{j}"] = self.nodes[f"x_{i}_{j}"](
                    below, skips
                )  # (B, widths[i], H/2^i, W/2^i)
        # One logit map per top node x_0_1 .. x_0_L.
        heads = [
            head(feats[f"x_0_{j + 1}"]) for j, head in enumerate(self.heads)
        ]  # L x (B, K, H, W)
        if self.returns_heads:
            return heads, feats
        return mean_logits(heads), feats  # (B, K, H, W), K = num_classes

    @property
    def returns_heads(self) -> bool:
        """True for ``deep_supervision="heads"``: ``forward`` returns the list of the heads."""
        return self.deep_supervision == "heads"

    def gated_skips(self):
        """``("x_i_k->x_i_j", gate)`` for every skip x_i_k of every node x_i_j, node by node."""
        for name, node in self.nodes.items():
            i = name.split("_")[1]
            for k, gate in enumerate(node.gates):
                yield f"x_{i}_{k}->{name}", gate

    def named_blocks(self) -> list[tuple[str, nn.Module]]:
        """Readable names of the blocks, in forward order (used by ``describe``)."""
        blocks = list(self.encoder.items()) + list(self.nodes.items())
        blocks += [(f"head{j + 1}", head) for j, head in enumerate(self.heads)]
        return blocks
