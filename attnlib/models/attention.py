"""Attention gates for skip connections: the paper's sSE gate and Oktay's additive gate.

A skip connection copies an encoder feature map ``x`` to the decoder. A *gate*
multiplies ``x`` by an attention map ``alpha`` of shape ``(B, 1, H, W)`` with values
in (0, 1) before the copy, so the decoder receives less of the pixels the gate
considers noise. All gates here share one call signature, ``gate(x, g=None)``,
where ``g`` is the gating signal (used only by the additive gate), so the models
can treat "no gate", "sse" and "additive" uniformly.

* ``SSEGate`` is the "attention forward passing" of Xu, Bai, Wang, "Attention-based
  Forward Passing for Enhancing UNet Segmentation on Microscopy Images" (Sec. 3.2,
  Fig. 3): ``alpha = sigmoid(Conv1x1(x))``, output ``x * alpha``. It is exactly the
  spatial squeeze-excitation (sSE) branch of scSE (Roy et al. 2018, "Concurrent
  Spatial and Channel Squeeze & Excitation in Fully Convolutional Networks").
  It looks at ``x`` alone.
* ``AdditiveGate`` is the attention gate of Oktay et al. 2018, "Attention U-Net:
  Learning Where to Look for the Pancreas". It also looks at a coarser gating
  signal ``g`` from the decoder, so "where to look" is decided with more context.

Each gate keeps a detached reference to its latest map in ``last_alpha``; the models
collect them in ``attention_maps()`` for plotting. It is a reference, not a copy,
and it is not part of the ``state_dict``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from attnlib.names import gate_kind


class NoGate(nn.Module):
    """The plain UNet skip connection: returns ``x`` unchanged (``gate=None``).

    It has no parameters and no ``last_alpha``; it exists so the models can call
    every skip as ``gate(x, g)`` whatever the gate kind.
    """

    def forward(self, x: torch.Tensor, g: torch.Tensor | None = None) -> torch.Tensor:
        """Args: x ``(B, C, H, W)``; g ignored. Returns x ``(B, C, H, W)``."""
        return x  # (B, C, H, W)


class SSEGate(nn.Module):
    """The paper's attention forward passing (Fig. 3) = spatial SE (sSE) of scSE.

    ``alpha = sigmoid(W * x + b)`` with a 1x1 conv from C channels to 1 (with bias),
    then ``out = x * alpha``: one weight per channel plus one bias, i.e. ``C + 1``
    parameters per gated skip (Xu, Bai, Wang, Sec. 3.2; Roy et al. 2018, sSE).
    The same map scales all channels of a pixel: it is purely spatial.

    Args:
        channels: C, the channels of the skip tensor ``x`` ``(B, C, H, W)``.

    Attributes:
        last_alpha: the latest map ``(B, 1, H, W)``, detached, or None before the
            first forward.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 1, kernel_size=1, bias=True)
        self.last_alpha: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, g: torch.Tensor | None = None) -> torch.Tensor:
        """Args: x ``(B, C, H, W)``; g ignored (sSE looks at x only).

        Returns: the gated skip ``x * alpha``, ``(B, C, H, W)``.
        """
        alpha = torch.sigmoid(self.conv(x))  # (B, 1, H, W)
        self.last_alpha = alpha.detach()  # (B, 1, H, W)
        return x * alpha  # (B, C, H, W), alpha broadcast over C


class AdditiveGate(nn.Module):
    """Additive attention gate of Attention U-Net (Oktay et al. 2018).

    With ``x`` the skip at level i and ``g`` the gating signal from the coarser
    level i+1 (the decoder tensor that is about to be up-sampled)::

        theta_x = theta(x)                      2x2 conv, stride 2, no bias -> grid of g
        phi_g   = phi(g)                        1x1 conv (with bias)
        f       = ReLU(theta_x + phi_g)         additive attention
        alpha   = sigmoid(psi(f))               1x1 conv -> 1 channel
        alpha   = bilinear up-sample to x's grid
        out     = W(alpha * x)                  1x1 conv + BatchNorm

    Args:
        x_channels: C_x, channels of the skip ``x`` ``(B, C_x, H, W)``.
        g_channels: C_g, channels of the gating signal ``g`` ``(B, C_g, H/2, W/2)``.
        inter_channels: F_int, channels of the intermediate map ``f``; default
            ``max(C_x // 2, 1)`` as in Oktay et al.'s code.

    Attributes:
        last_alpha: the latest map ``(B, 1, H, W)``, detached, or None.
    """

    def __init__(self, x_channels: int, g_channels: int, inter_channels: int | None = None) -> None:
        super().__init__()
        if inter_channels is None:
            inter_channels = max(x_channels // 2, 1)
        self.theta = nn.Conv2d(x_channels, inter_channels, kernel_size=2, stride=2, bias=False)
        self.phi = nn.Conv2d(g_channels, inter_channels, kernel_size=1, bias=True)
        self.psi = nn.Conv2d(inter_channels, 1, kernel_size=1, bias=True)
        self.W = nn.Sequential(
            nn.Conv2d(x_channels, x_channels, kernel_size=1, bias=True),
            nn.BatchNorm2d(x_channels),
        )
        self.last_alpha: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, g: torch.Tensor | None = None) -> torch.Tensor:
        """Args:
            x: the skip tensor ``(B, C_x, H, W)``.
            g: the gating signal ``(B, C_g, H_g, W_g)``, normally ``H_g = H/2``.

        Returns: the gated skip ``W(alpha * x)``, ``(B, C_x, H, W)``.
        """
        if g is None:
            raise ValueError("AdditiveGate needs a gating signal g (the coarser decoder tensor)")
        theta_x = self.theta(x)  # (B, F_int, H/2, W/2)
        phi_g = self.phi(g)  # (B, F_int, H_g, W_g)
        # Resample phi(g) onto theta's grid; an exact identity when H_g = H/2 already.
        phi_g = F.interpolate(
            phi_g, size=theta_x.shape[-2:], mode="bilinear", align_corners=False
        )  # (B, F_int, H/2, W/2)
        f = F.relu(theta_x + phi_g)  # (B, F_int, H/2, W/2)
        alpha = torch.sigmoid(self.psi(f))  # (B, 1, H/2, W/2)
        alpha = F.interpolate(
            alpha, size=x.shape[-2:], mode="bilinear", align_corners=False
        )  # (B, 1, H, W), bilinear keeps values in (0, 1)
        self.last_alpha = alpha.detach()  # (B, 1, H, W)
        return self.W(alpha * x)  # (B, C_x, H, W)


def make_gate(
    kind: str | None,
    x_channels: int,
    g_channels: int | None = None,
    inter_channels: int | None = None,
) -> nn.Module:
    """Build the gate for one skip connection.

    Args:
        kind: ``None`` (plain skip, also accepts ``"none"``), ``"sse"`` (the paper's
            gate) or ``"additive"`` (Oktay et al. 2018).
        x_channels: channels of the skip tensor ``(B, C_x, H, W)``.
        g_channels: channels of the gating signal; required for ``"additive"``.
        inter_channels: F_int of the additive gate (default ``C_x // 2``).

    Returns: a module called as ``gate(x, g)`` that returns ``(B, C_x, H, W)``.

    Raises:
        ValueError: unknown ``kind``, or ``"additive"`` without ``g_channels``.
    """
    kind = gate_kind(kind)  # None for a plain skip; raises for an unknown gate
    if kind is None:
        return NoGate()
    if kind == "sse":
        return SSEGate(x_channels)
    if g_channels is None:
        raise ValueError("the 'additive' gate needs g_channels (width of the gating signal)")
    return AdditiveGate(x_channels, g_channels, inter_channels)
