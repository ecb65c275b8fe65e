"""Building blocks shared by UNet and UNet++: conv block, down step, up step.

Both networks of the course are assembled from three small pieces:

* ``DoubleConv``: two (3x3 conv -> BatchNorm -> ReLU) layers. This is the "block"
  of UNet (Ronneberger et al. 2015) and the ``ConvBlock`` of Eq. 2 in Xu, Bai, Wang,
  "Attention-based Forward Passing for Enhancing UNet Segmentation on Microscopy
  Images".
* ``Down``: 2x2 max-pool (halves H and W) followed by a ``DoubleConv`` (changes
  the width). One encoder step.
* ``Up``: 2x2 transposed convolution with stride 2 (doubles H and W, changes the
  width). The "up-sampling" of Eq. 1.

and one cell made of them, the decoder node of both networks:

* ``NestedNode``: ``ConvBlock(concat[Up(below), gate(skip_0), ..., gate(skip_{j-1})])``, Eq. 1-2.
  UNet++'s node x_i_j has j skips; a UNet decoder level is the same cell with one skip (MONAI's
  ``UpCat`` serves ``BasicUNet`` and ``BasicUNetPlusPlus`` alike in the same way).

Details matched to the paper's code (GitHub AllenXuuu/CS420-Machine-Learning,
``models/UNet.py``) so that the parameter counts come out exactly:

* every 3x3 conv keeps its bias, although BatchNorm right after it subtracts the
  mean and makes that bias redundant (2 * C_out extra parameters per block);
* padding 1 ("same" convs), so skip tensors never need cropping (the original UNet
  used unpadded convs and cropped);
* the transposed conv also has a bias (PyTorch's default).

"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .attention import make_gate


class DoubleConv(nn.Module):
    """Two (3x3 conv, padding 1 -> BatchNorm -> ReLU) layers; keeps H and W.

    Args:
        in_channels: channels C_in of the input ``(B, C_in, H, W)``.
        out_channels: channels C_out of the output ``(B, C_out, H, W)``; both convs
            produce C_out channels.

    Parameters: ``9*C_in*C_out + C_out`` (conv1) + ``9*C_out*C_out + C_out`` (conv2)
    + ``2*C_out`` per BatchNorm.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=True)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=True)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(B, C_in, H, W)``. Returns ``(B, C_out, H, W)``."""
        x = self.relu(self.bn1(self.conv1(x)))  # (B, C_out, H, W)
        x = self.relu(self.bn2(self.conv2(x)))  # (B, C_out, H, W)
        return x


class Down(nn.Module):
    """One encoder step: 2x2 max-pool, then ``DoubleConv``.

    Args:
        in_channels: channels C_in of the input ``(B, C_in, H, W)``.
        out_channels: channels C_out of the output ``(B, C_out, H/2, W/2)``; in the
            paper C_out = 2 * C_in ("the resolution ... shrinks to half ... but the
            dimensionality is doubled", Sec. 3.1).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(kernel_size=2)
        self.conv = DoubleConv(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(B, C_in, H, W)``. Returns ``(B, C_out, H/2, W/2)``."""
        x = self.pool(x)  # (B, C_in, H/2, W/2)
        x = self.conv(x)  # (B, C_out, H/2, W/2)
        return x


class Up(nn.Module):
    """Learned up-sampling: 2x2 transposed conv, stride 2 (with bias).

    Args:
        in_channels: channels C_in of the coarse input ``(B, C_in, H, W)``.
        out_channels: channels C_out of the output ``(B, C_out, 2H, 2W)``; in the
            paper C_out = C_in / 2, so that after concatenating a skip of width
            C_out the decoder block sees 2 * C_out channels.

    Parameters: ``4*C_in*C_out + C_out``.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose2d(
            in_channels, out_channels, kernel_size=2, stride=2, bias=True
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(B, C_in, H, W)``. Returns ``(B, C_out, 2H, 2W)``."""
        return self.conv(x)  # (B, C_out, 2H, 2W)


class NestedNode(nn.Module):
    """One decoder node: its own ``Up``, one gate per skip, then a ``DoubleConv`` (Eq. 1-2).

    Args:
        up: the ``Up`` from the level below, ``widths[i+1] -> widths[i]``.
        gates: one gate per same-level skip (see ``make_gate``); the additive gate uses the
            tensor below as its gating signal.
        conv: ``DoubleConv((len(gates) + 1) * C, C)``; the node outputs ``(B, C, H_i, W_i)``.

    ``NestedNode.create(below_channels, channels, num_skips, gate)`` builds the parts (in the
    order Up, gates, DoubleConv: the order the seed's initial weights are drawn in).
    """

    def __init__(self, up: Up, gates: Sequence[nn.Module], conv: DoubleConv) -> None:
        super().__init__()
        self.up = up
        self.gates = nn.ModuleList(gates)
        self.conv = conv

    @classmethod
    def create(
        cls, below_channels: int, channels: int, num_skips: int, gate: str | None
    ) -> "NestedNode":
        """A node at a level of width ``channels`` with ``num_skips`` gated skips."""
        up = Up(below_channels, channels)
        gates = [make_gate(gate, channels, g_channels=below_channels) for _ in range(num_skips)]
        return cls(up, gates, DoubleConv((num_skips + 1) * channels, channels))

    def forward(self, below: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        """Args:
            below: x_{i+1,j-1} (UNet: dec_{i+1} or the bottleneck),
                ``(B, widths[i+1], H_i/2, W_i/2)``.
            skips: ``[x_{i,0}, ..., x_{i,j-1}]`` (UNet: ``[enc_i]``), each ``(B, C, H_i, W_i)``.

        Returns: x_i_j (UNet: dec_i), ``(B, C, H_i, W_i)``.
        """
        z = [
            self.up(below)
        ]  # [(B, C, H_i, W_i)]: the up-sampled tensor comes first, as in the paper's code
        for gate, skip in zip(self.gates, skips):
            z.append(gate(skip, below))  # (B, C, H_i, W_i)
        z = torch.cat(z, dim=1)  # (B, (j+1)*C, H_i, W_i), Eq. 1
        return self.conv(z)  # (B, C, H_i, W_i), Eq. 2
