"""Models of the course: UNet, UNet++ and the attention gates for their skips.

Reproduces the networks of Xu, Bai, Wang, "Attention-based Forward Passing for
Enhancing UNet Segmentation on Microscopy Images" (code: GitHub
AllenXuuu/CS420-Machine-Learning):

==============  =========================  =====================================
module          idea                       reference
==============  =========================  =====================================
``blocks``      DoubleConv, Down, Up,      Ronneberger et al. 2015;
                NestedNode (decoder cell)  Zhou et al. 2018
``attention``   sSE gate, additive gate    Roy et al. 2018; Oktay et al. 2018
``base``        EncoderDecoder: what the   (course structure)
                two networks share;
                inspect() -> Inspection
``heads``       one head or a list of      Zhou et al. 2018 (deep
                them: as_heads,            supervision)
                mean_logits, per_head
``unet``        UNet                       Ronneberger et al. 2015
``unetpp``      UNet++ (x_i_j nodes)       Zhou et al. 2018
``describe``    params, shapes, FLOPs      (course tool)
==============  =========================  =====================================

Parameter counts at the paper's widths, 1 input channel, 2 classes:

==========  ============  ============  ============
model       gate=None     gate="sse"    gate="additive"
==========  ============  ============  ============
UNet        31,042,434    31,043,398    32,438,918
UNet++      36,171,848    36,174,556    38,574,684
==========  ============  ============  ============

Typical use::

    from attnlib.models import build_model, describe
    model = build_model("unetpp", gate="sse")
    print(describe(model))
    logits = model(x)           # (B, 2, H, W): forward returns the logits and nothing else
    seen = model.inspect(x)     # seen.features["x_0_4"], seen.attention["x_0_0->x_0_1"]
"""

from __future__ import annotations

from typing import Sequence

from torch import nn

from attnlib.names import DEEP_SUPERVISION, PAPER_WIDTHS, check_choice, model_name

from .attention import AdditiveGate, NoGate, SSEGate, make_gate
from .base import EncoderDecoder, Inspection
from .blocks import DoubleConv, Down, NestedNode, Up
from .describe import BlockRow, ModelSummary, describe, format_describe
from .heads import Logits, as_heads, mean_logits, per_head
from .unet import UNet
from .unetpp import UNetPlusPlus

__all__ = [
    "PAPER_WIDTHS",
    "build_model",
    "EncoderDecoder",
    "Inspection",
    "Logits",
    "as_heads",
    "mean_logits",
    "per_head",
    "UNet",
    "UNetPlusPlus",
    "SSEGate",
    "AdditiveGate",
    "NoGate",
    "make_gate",
    "DoubleConv",
    "Down",
    "Up",
    "NestedNode",
    "describe",
    "format_describe",
    "ModelSummary",
    "BlockRow",
]

MODEL_CLASSES = {"unet": UNet, "unetpp": UNetPlusPlus}  # keyed by attnlib.names.MODELS


def build_model(
    model: str,
    gate: str | None = None,
    widths: Sequence[int] = PAPER_WIDTHS,
    in_channels: int = 1,
    num_classes: int = 2,
    deep_supervision: str = "mean",
) -> nn.Module:
    """Build one of the paper's networks by name.

    Args:
        model: ``"unet"`` or ``"unetpp"`` (case-insensitive; :data:`attnlib.names.MODELS`).
        gate: ``None`` (or ``"none"``), ``"sse"`` (the paper's attention forward
            passing) or ``"additive"`` (Oktay et al. 2018).
        widths: channels per level; the paper uses ``PAPER_WIDTHS``.
        in_channels: input channels (1 for grayscale EM images).
        num_classes: output channels (2: membrane / cell interior).
        deep_supervision: UNet++ output mode, ``"mean"`` or ``"heads"``; checked
            but ignored for ``"unet"``, which has a single head.

    Returns:
        the model, in training mode, with PyTorch's default initialisation (as in
        the paper's code).

    Raises:
        ValueError: unknown model, gate or deep_supervision value.
    """
    name = model_name(model)
    check_choice("deep_supervision", deep_supervision, DEEP_SUPERVISION)
    options = {"deep_supervision": deep_supervision} if name == "unetpp" else {}
    return MODEL_CLASSES[name](
        in_channels=in_channels, num_classes=num_classes, widths=widths, gate=gate, **options
    )
