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

Details matched to the paper's code (GitHub AllenXuuu/CS420-Machine-Learning,
``models/UNet.py``) so that the parameter counts come out exactly:

* every 3x3 conv keeps its bias, although BatchNorm right after it subtracts the
  mean and makes that bias redundant (2 * C_out extra parameters per block);
* padding 1 ("same" convs), so skip tensors never need cropping (the original UNet
  used unpadded convs and cropped);
* the transposed conv also has a bias (PyTorch's default).

``check_input`` holds the input checks both models run before their forward pass.
"""
from __future__ import annotations

import torch
from torch import nn


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
        self.conv = nn.ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=2, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(B, C_in, H, W)``. Returns ``(B, C_out, 2H, 2W)``."""
        return self.conv(x)  # (B, C_out, 2H, 2W)


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
