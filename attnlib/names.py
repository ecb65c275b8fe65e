"""The vocabulary: every name a run's settings may take, defined once.

:class:`attnlib.config.Config` validates against these names, and the registries that turn a
name into a thing use them too: :func:`attnlib.models.build_model` (``MODELS``),
:func:`attnlib.models.make_gate` (``GATES``), :func:`attnlib.losses.build_loss` (``LOSSES`` and
``LOSS_ALIASES``), :func:`attnlib.augment.build_augmentation` (``AUGMENTATIONS``) and
:func:`attnlib.registration.register` (``REGISTRATIONS``). The
profiles' names are the keys of :data:`attnlib.config.PROFILES`.

This module imports nothing, so every other module may import it.
"""

from __future__ import annotations

PAPER_WIDTHS = (64, 128, 256, 512, 1024)  # channels per level in the paper (Sec. 4.3 and its code)

MODELS = ("unet", "unetpp")
GATES = ("none", "sse", "additive")  # "none": the plain skip; in code the gate is then None
DEEP_SUPERVISION = ("mean", "heads")  # UNet++: average the heads' logits, or return each head
LOSSES = ("cross_entropy", "seed_dice", "soft_dice", "ce_dice")  # canonical names
LOSS_ALIASES = {
    "ce": "cross_entropy",
    "crossentropy": "cross_entropy",  # the paper's --loss CrossEntropy
    "dice": "seed_dice",
}  # the paper's --loss Dice is its DiceLoss, i.e. seed_dice
# "upright": the paper's without the steps that turn the vertical direction (vertical flip,
# 90-degree rotation); "photometric": its noise, blur and distortion steps alone; "geometric":
# its rotation and flips alone (the augmentation grid, experiments/augmentation.yaml)
AUGMENTATIONS = ("paper", "none", "elastic", "upright", "photometric", "geometric")
# images moved onto the labels by the measured sub-pixel offset, or away by as much (the
# control), or left alone (attnlib.registration)
REGISTRATIONS = ("none", "offset", "opposite")
OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("constant", "cosine")
AMPS = ("auto", "bf16", "fp16", "off")  # fp16: with a gradient scaler (GPUs without bf16)


def check_choice(kind: str, value, allowed) -> None:
    """Raise ``ValueError("unknown <kind> ...: choose one of [...]")`` unless ``value`` is
    allowed."""
    if value not in allowed:
        raise ValueError(f"unknown {kind} {value!r}: choose one of {list(allowed)}.")


def model_name(model: str) -> str:
    """The model's name in lower case (``"UNet"`` -> ``"unet"``), checked against ``MODELS``."""
    name = str(model).lower()
    check_choice("model", name, MODELS)
    return name


def gate_kind(gate: str | None) -> str | None:
    """The gate as the models take it: ``None`` for a plain skip (``None`` or ``"none"``), else
    ``"sse"`` or ``"additive"``. The one place where ``"none"`` becomes ``None``."""
    check_choice("gate", "none" if gate is None else gate, GATES)
    return None if gate in (None, "none") else gate


def loss_name(name: str) -> str:
    """The canonical loss name (``LOSSES``) for ``name``: case-insensitive, ``-`` for ``_``, and
    the aliases of ``LOSS_ALIASES`` (``"ce"`` -> ``"cross_entropy"``)."""
    key = str(name).strip().lower().replace("-", "_")
    key = LOSS_ALIASES.get(key, key)
    if key not in LOSSES:
        raise ValueError(
            f"unknown loss {name!r}; valid names: {', '.join(sorted([*LOSSES, *LOSS_ALIASES]))}"
        )
    return key
