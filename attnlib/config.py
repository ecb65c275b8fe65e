"""One training configuration, three profiles.

:class:`Config` is the single source of truth for a run. The training notebook's papermill
``parameters`` cell mirrors it field for field, and ``python -m attnlib train --set k=v`` sets
the same names. A *profile* (``paper``, ``laptop``, ``smoke``) overrides some fields in one
place, :data:`PROFILES`; the precedence is

    Config defaults  <  profile  <  what you set explicitly

and the run records both the profile's changes and the effective config, so nothing is hidden.
"Set explicitly" means any value other than ``None``: a value you set wins even when it equals
a Config default (``None`` is how the notebook's parameters cell says "not set").
The profile comes from the ``profile`` argument, else ``$ATTNLIB_PROFILE``, else the device:
``paper`` where CUDA is available, ``laptop`` on a CPU (see :func:`profile_reason`).

A run's identity (its folder name and what a resume must match) is every field except the
handful in :data:`RESUMABLE` that cannot change a result; ``epochs`` is part of it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from attnlib import names
from attnlib.fields import check_types, check_values, coerce


@dataclass
class Config:
    """Everything a run depends on. Defaults are the paper's settings (Sec. 4.3 and its code)."""

    model: str = "unet"  # network: unet | unetpp
    gate: str = (
        "none"  # skip-connection gate: none | sse (the paper's attention) | additive (Oktay et al.)
    )
    widths: list[int] = field(
        default_factory=lambda: list(names.PAPER_WIDTHS)
    )  # channels per level
    deep_supervision: str = (
        "mean"  # UNet++ heads: mean (paper: average the 4 heads' logits) | heads (loss per head)
    )
    # ce | seed_dice (the paper's code's Dice) | soft_dice (V-Net) | ce_dice; aliases: names
    loss: str = "ce"
    augmentation: str = (
        "paper"  # paper | none | elastic (U-Net paper) | upright | photometric | geometric
    )
    register: str = (
        "none"  # move the images by the labels' offset: none | offset | opposite (control)
    )
    epochs: int = 500  # paper: 500
    batch_size: int = 0  # 0 = the paper's: 4 for UNet, 1 for UNet++
    # adam (the paper's code) | sgd (with momentum 0.9; the paper's text names no momentum)
    optimizer: str = "adam"
    lr: float = 1e-3  # learning rate (paper: 1e-3)
    # learning-rate schedule: constant (paper) | cosine (decays to 0 at the last epoch)
    schedule: str = "constant"
    weight_decay: float = 0.0  # L2 weight decay
    # decay of a moving average of the weights, which is what is evaluated (e.g. 0.999); 0 = off
    ema: float = 0.0
    crop: int = 0  # random square crop side for training, multiple of 16; 0 = whole 512x512 slices
    samples_per_epoch: int = 0  # training items per epoch; 0 = one pass over the training slices
    seed: int = 0  # seeds weights, shuffling, crops and augmentation
    split: str = (
        "paper"  # paper (train 0-24, test 25-29) | a fold "0".."4" (validation block of 0-24)
    )
    eval_interval: int = 1  # evaluate on the held-out slices every N epochs (and at the end)
    checkpoint_every: int = 10  # write the checkpoint every N epochs (and at the end)
    resume: bool = True  # continue from out_dir/checkpoint.pt when it exists
    # mixed precision: auto (measured on a CPU, by capability on CUDA) | bf16 | fp16 | off
    amp: str = "auto"
    channels_last: Optional[bool] = (
        None  # NHWC memory format; None = auto (where it measures faster)
    )
    compile: bool = False  # torch.compile the model
    # deterministic algorithms: bit-exact resume on CPU; amp=auto is then not measured (fp32)
    deterministic: bool = False
    num_workers: int = 0  # DataLoader worker processes
    device: str = "auto"  # auto (cuda, else mps, else cpu) | cpu | cuda | cuda:1 ...
    out_dir: str = (
        ""  # run folder (run.json, checkpoint.pt); "" = runs/<model>-<gate>-s<seed>-<config hash>
    )

    def __post_init__(self):
        coerce(self)
        check_types(self)
        check_values(self)

    @property
    def effective_batch_size(self) -> int:
        return self.batch_size or (4 if self.model == "unet" else 1)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def run_dir(self) -> Path:
        """``out_dir``, or a folder named after the settings that change results (resume-safe)."""
        if self.out_dir:
            return Path(self.out_dir)
        keep = {
            k: v
            for k, v in self.to_dict().items()  # epochs included
            if k not in RESUMABLE and LATER_FIELDS.get(k, _UNSET) != v
        }
        digest = hashlib.sha1(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:8]
        return Path("runs") / f"{self.model}-{self.gate}-s{self.seed}-{digest}"


# Fields that may change between an interrupted run and its resume: they cannot change a result.
# (The data order and augmentation are drawn from (seed, epoch, index), so workers don't matter;
# ``device`` moves a run between machines.) Everything else is the run's identity.
RESUMABLE = frozenset({"resume", "out_dir", "checkpoint_every", "num_workers", "device"})

# Fields added after records were made, with the value every earlier run had: a record without
# the field is read as having it (so results/laptop keeps matching its grid), and a config at
# that value keeps the folder name it had before the field existed.
LATER_FIELDS = {"register": "none", "ema": 0.0}
_UNSET = object()


def config_mismatch(recorded: dict, asked: dict) -> list[str]:
    """The identity fields on which two configs (as dicts) differ; a field missing on one side
    differs, unless it is one of :data:`LATER_FIELDS` and the other side has its old value.

    Used by resume (checkpoint against the asked config) and by the batch (a complete record
    against what the grid asks for)."""
    recorded, asked = LATER_FIELDS | recorded, LATER_FIELDS | asked
    keys = (set(recorded) | set(asked)) - RESUMABLE
    return sorted(k for k in keys if recorded.get(k, _UNSET) != asked.get(k, _UNSET))


PROFILES: dict[str, dict] = {
    # The paper (Sec. 4.3 and its code): the defaults. On CUDA the fast path adds channels_last,
    # torch.compile and worker processes (bf16 comes from amp="auto"); see profile_overrides().
    "paper": {},
    # A laptop CPU, 2 cores, minutes per UNet run (bf16 where it measures faster): narrow widths and
    # random crops. Chosen on validation only (fold 4; experiments/laptop_selection.md): 48
    # epochs beat 24 on both seeds; it changes scale only, never model, gate, loss or augmentation.
    "laptop": dict(
        widths=[16, 32, 64, 128, 256],
        crop=128,
        batch_size=8,
        samples_per_epoch=200,
        epochs=48,
        eval_interval=8,
        checkpoint_every=8,
        lr=2e-3,
        schedule="cosine",
    ),
    # Seconds, for CI and nbval: tiny widths, tiny crops, two epochs.
    "smoke": dict(
        widths=[4, 8, 16, 32, 64],
        crop=64,
        batch_size=4,
        samples_per_epoch=8,
        epochs=2,
        eval_interval=1,
        checkpoint_every=1,
        deterministic=True,
    ),
}


def profile_overrides(profile: str) -> dict:
    """The fields a profile changes (after resolving the device-dependent ones)."""
    if profile not in PROFILES:
        raise ValueError(
            f"unknown profile {profile!r}: choose one of {sorted(PROFILES)} "
            "(or set ATTNLIB_PROFILE)."
        )
    changes = dict(PROFILES[profile])
    if profile == "paper":
        import torch

        if torch.cuda.is_available():
            changes.update(channels_last=True, compile=True, num_workers=4)
    return changes


def default_profile() -> tuple[str, str]:
    """The profile when none is named, and why: ``paper`` on CUDA, ``laptop`` on a CPU."""
    import torch

    if torch.cuda.is_available():
        return "paper", "no profile named and CUDA is available: the paper's settings"
    return "laptop", (
        "no profile named and no CUDA GPU: the laptop profile (the paper's 500 epochs "
        "of whole slices take days on a CPU); name profile='paper' to insist"
    )


def resolve_profile(profile: str | None = None) -> str:
    """The profile argument, else ``$ATTNLIB_PROFILE``, else :func:`default_profile`."""
    return profile or os.environ.get("ATTNLIB_PROFILE") or default_profile()[0]


def profile_reason(profile: str | None = None) -> str:
    """One line: which profile a run gets, and why."""
    if profile:
        return f"profile {profile!r}: named by you"
    if os.environ.get("ATTNLIB_PROFILE"):
        return f"profile {os.environ['ATTNLIB_PROFILE']!r}: from $ATTNLIB_PROFILE"
    name, why = default_profile()
    return f"profile {name!r}: {why}"


def make_config(profile: str | None = None, **params) -> tuple[Config, dict]:
    """Build the effective Config: defaults < profile < explicit ``params``.

    Every parameter that is not ``None`` is explicit and wins over the profile, also when it
    equals a Config default; ``None`` means "not set" (the profile, else the default, decides).
    Returns ``(config, profile_changes)``: the fields the profile set, and only those.
    """
    profile = resolve_profile(profile)
    unknown = set(params) - {f.name for f in dataclasses.fields(Config)}
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {sorted(unknown)}: see attnlib.config.Config for the names."
        )
    explicit = {k: v for k, v in params.items() if v is not None}
    changes = {k: v for k, v in profile_overrides(profile).items() if k not in explicit}
    return Config(**{**changes, **explicit}), changes
