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
replacing each skip connection with an attention mechanism" (Sec. 3.2).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .attention import make_gate
from .blocks import DoubleConv, Down, Up, check_input

DEEP_SUPERVISION_CHOICES = ("mean", "heads")


class NestedNode(nn.Module):
    """One decoder node x_i_j: its own Up, one gate per skip, then a ConvBlock.

    Args:
        below_channels: width of x_{i+1,j-1}, ``widths[i+1]``.
        channels: width C of this level, ``widths[i]``; the node outputs
            ``(B, C, H_i, W_i)``.
        num_skips: j, the number of same-level inputs x_{i,0} .. x_{i,j-1}.
        gate: gate kind for every skip (see ``make_gate``); the additive gate uses
            x_{i+1,j-1} as its gating signal.
    """

    def __init__(self, below_channels: int, channels: int, num_skips: int, gate: str | None) -> None:
        super().__init__()
        self.up = Up(below_channels, channels)
        self.gates = nn.ModuleList(
            [make_gate(gate, channels, g_channels=below_channels) for _ in range(num_skips)]
        )
        self.conv = DoubleConv((num_skips + 1) * channels, channels)

    def forward(self, below: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        """Args:
            below: x_{i+1,j-1}, ``(B, widths[i+1], H_i/2, W_i/2)``.
            skips: ``[x_{i,0}, ..., x_{i,j-1}]``, each ``(B, C, H_i, W_i)``.

        Returns: x_i_j, ``(B, C, H_i, W_i)``.
        """
        z = [self.up(below)]  # [(B, C, H_i, W_i)]
        for gate, skip in zip(self.gates, skips):
            z.append(gate(skip, below))  # (B, C, H_i, W_i)
        z = torch.cat(z, dim=1)  # (B, (j+1)*C, H_i, W_i), Eq. 1
        return self.conv(z)  # (B, C, H_i, W_i), Eq. 2


class UNetPlusPlus(nn.Module):
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

    Example::

        >>> model = UNetPlusPlus(widths=(4, 8, 16, 32, 64), deep_supervision="heads")
        >>> [h.shape for h in model(torch.zeros(2, 1, 64, 64))][0]
        torch.Size([2, 2, 64, 64])
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 2,
        widths: Sequence[int] = (64, 128, 256, 512, 1024),
        gate: str | None = None,
        deep_supervision: str = "mean",
    ) -> None:
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if len(widths) < 2 or min(widths) < 1:
            raise ValueError(f"widths needs at least two positive entries, got {widths}")
        if deep_supervision not in DEEP_SUPERVISION_CHOICES:
            raise ValueError(
                f"unknown deep_supervision {deep_supervision!r}; choose one of {DEEP_SUPERVISION_CHOICES}"
            )
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.widths = widths
        self.gate = None if gate == "none" else gate
        self.deep_supervision = deep_supervision
        self.depth = len(widths) - 1  # L = 4 in the paper: nodes with i + j <= L

        self.encoder = nn.ModuleDict({"x_0_0": DoubleConv(in_channels, widths[0])})
        for i in range(1, self.depth + 1):
            self.encoder[f"x_{i}_0"] = Down(widths[i - 1], widths[i])
        self.nodes = nn.ModuleDict()
        for j in range(1, self.depth + 1):  # column by column, as in the paper's code
            for i in range(self.depth - j + 1):
                self.nodes[f"x_{i}_{j}"] = NestedNode(widths[i + 1], widths[i], num_skips=j, gate=gate)
        # One 1x1 classifier per top node x_0_1 .. x_0_L.
        self.heads = nn.ModuleList(
            [nn.Conv2d(widths[0], num_classes, kernel_size=1) for _ in range(self.depth)]
        )

    def forward(self, x: torch.Tensor, return_features: bool = False, return_attention: bool = False):
        """Args:
            x: image batch ``(B, in_channels, H, W)``, H and W multiples of ``2**L``.
            return_features: also return the dict ``{"x_i_j": tensor}`` of every node.
            return_attention: also return this pass's attention maps (as
                :meth:`attention_maps`), tied to this very ``x``.

        Returns:
            ``"mean"``: logits ``(B, num_classes, H, W)``, the mean of the heads;
            ``"heads"``: list of L logits ``(B, num_classes, H, W)`` from x_0_1..x_0_L.
            With either flag a tuple ``(output, features)``, ``(output, maps)`` or
            ``(output, features, maps)``.

        Raises:
            ValueError: wrong channel count or H, W not multiples of ``2**L``.
        """
        check_input(x, self.in_channels, self.depth)
        feats: dict[str, torch.Tensor] = {}
        for i in range(self.depth + 1):
            x = self.encoder[f"x_{i}_0"](x)  # (B, widths[i], H/2^i, W/2^i)
            feats[f"x_{i}_0"] = x  # (B, widths[i], H/2^i, W/2^i)
        for j in range(1, self.depth + 1):
            for i in range(self.depth - j + 1):
                below = feats[f"x_{i + 1}_{j - 1}"]  # (B, widths[i+1], H/2^(i+1), W/2^(i+1))
                skips = [feats[f"x_{i}_{k}"] for k in range(j)]  # j x (B, widths[i], H/2^i, W/2^i)
                node = self.nodes[f"x_{i}_{j}"]
                feats[f"x_{i}_{j}"] = node(below, skips)  # (B, widths[i], H/2^i, W/2^i)
        # One logit map per top node x_0_1 .. x_0_L.
        heads = [head(feats[f"x_0_{j + 1}"]) for j, head in enumerate(self.heads)]  # L x (B, K, H, W)
        if self.deep_supervision == "heads":
            out = heads  # L x (B, K, H, W)
        else:
            out = torch.stack(heads, dim=0).mean(dim=0)  # (B, K, H, W), K = num_classes
        extras = ([feats] if return_features else []) + ([self.attention_maps()] if return_attention else [])
        return (out, *extras) if extras else out

    def attention_maps(self) -> dict[str, torch.Tensor]:
        """The latest attention map of every gate, from the last forward pass.

        Only the *last* pass: after ``predict(tta=True)`` or a batched prediction the maps
        belong to the last view or batch. For maps tied to an input use
        ``model(x, return_attention=True)``.

        Returns:
            ``{"x_i_k->x_i_j": alpha}``: the map that gated skip x_i_k on its way into
            node x_i_j, detached, ``(B, 1, H/2^i, W/2^i)``, values in (0, 1). Empty
            for ``gate=None`` or before the first forward.
        """
        maps = {}
        for name, node in self.nodes.items():
            i = name.split("_")[1]
            for k, gate in enumerate(node.gates):
                alpha = getattr(gate, "last_alpha", None)
                if alpha is not None:
                    maps[f"x_{i}_{k}->{name}"] = alpha
        return maps

    def named_blocks(self) -> list[tuple[str, nn.Module]]:
        """Readable names of the blocks, in forward order (used by ``describe``)."""
        blocks = list(self.encoder.items()) + list(self.nodes.items())
        blocks += [(f"head{j + 1}", head) for j, head in enumerate(self.heads)]
        return blocks

    def extra_repr(self) -> str:
        return f"widths={self.widths}, gate={self.gate!r}, deep_supervision={self.deep_supervision!r}"
