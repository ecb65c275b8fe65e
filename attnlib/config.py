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
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from attnlib import names


@dataclass
class Config:
    """Everything a run depends on. Defaults are the paper's settings (Sec. 4.3 and its code)."""

    model: str = "unet"  # network: unet | unetpp
    gate: str = "none"  # skip-connection gate: none | sse (the paper's attention) | additive (Oktay et al.)
    widths: list[int] = field(default_factory=lambda: list(names.PAPER_WIDTHS))  # channels per level
    deep_supervision: str = "mean"  # UNet++ heads: mean (paper: average the 4 heads' logits) | heads (loss per head)
    loss: str = "ce"  # ce | seed_dice (the paper's code's Dice) | soft_dice (V-Net) | ce_dice (aliases: attnlib.names)
    augmentation: str = "paper"  # paper | none | elastic (U-Net paper) | upright | photometric | geometric
    register: str = "none"  # move the images by the labels' offset: none | offset | opposite (control)
    epochs: int = 500  # paper: 500
    batch_size: int = 0  # 0 = the paper's: 4 for UNet, 1 for UNet++
    optimizer: str = "adam"  # adam (the paper's code) | sgd (with momentum 0.9; the paper's text names no momentum)
    lr: float = 1e-3  # learning rate (paper: 1e-3)
    schedule: str = "constant"  # learning-rate schedule: constant (paper) | cosine (decays to 0 at the last epoch)
    weight_decay: float = 0.0  # L2 weight decay
    ema: float = 0.0  # decay of an exponential moving average of the weights, evaluated (e.g. 0.999); 0 = off
    crop: int = 0  # random square crop side for training, multiple of 16; 0 = whole 512x512 slices
    samples_per_epoch: int = 0  # training items per epoch; 0 = one pass over the training slices
    seed: int = 0  # seeds weights, shuffling, crops and augmentation
    split: str = "paper"  # paper (train 0-24, test 25-29) | a fold "0".."4" (validation block of 0-24)
    eval_interval: int = 1  # evaluate on the held-out slices every N epochs (and at the end)
    checkpoint_every: int = 10  # write the checkpoint every N epochs (and at the end)
    resume: bool = True  # continue from out_dir/checkpoint.pt when it exists
    amp: str = "auto"  # mixed precision: auto (measured on a CPU, by capability on CUDA) | bf16 | fp16 | off
    channels_last: Optional[bool] = None  # NHWC memory format; None = auto (where it measures faster)
    compile: bool = False  # torch.compile the model
    deterministic: bool = False  # deterministic algorithms: bit-exact resume on CPU; amp=auto is then not measured (fp32)
    num_workers: int = 0  # DataLoader worker processes
    device: str = "auto"  # auto (cuda, else mps, else cpu) | cpu | cuda | cuda:1 ...
    out_dir: str = ""  # run folder (run.json, checkpoint.pt); "" = runs/<model>-<gate>-s<seed>-<config hash>

    def __post_init__(self):
        _coerce(self)
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
        keep = {k: v for k, v in self.to_dict().items()  # epochs included
                if k not in RESUMABLE and LATER_FIELDS.get(k, _UNSET) != v}
        digest = hashlib.sha1(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:8]
        return Path("runs") / f"{self.model}-{self.gate}-s{self.seed}-{digest}"


# The names each choice field takes (attnlib.names); ``loss`` also takes the aliases build_loss knows.
CHOICES = {"model": names.MODELS, "gate": names.GATES, "augmentation": names.AUGMENTATIONS,
           "register": names.REGISTRATIONS,
           "optimizer": names.OPTIMIZERS, "amp": names.AMPS, "schedule": names.SCHEDULES,
           "deep_supervision": names.DEEP_SUPERVISION}


def check_values(cfg: Config) -> None:
    """Check the values of a type-checked Config: names, crop, fold, counts and widths."""
    for name, allowed in CHOICES.items():
        names.check_choice(name, getattr(cfg, name), allowed)
    names.loss_name(cfg.loss)  # raises for an unknown loss; the spelling is kept (it is the run's identity)
    if cfg.crop and cfg.crop % 16:
        raise ValueError(f"crop={cfg.crop} is not divisible by 16 (four 2x2 poolings): use e.g. {cfg.crop // 16 * 16 or 16}.")
    if cfg.split != "paper":
        from attnlib.data import get_split

        get_split(cfg.split)  # raises for a fold out of range
    for name in ("epochs", "eval_interval", "checkpoint_every"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"{name}={getattr(cfg, name)} must be >= 1.")
    if not 0.0 <= cfg.ema < 1.0:
        raise ValueError(f"ema={cfg.ema}: the decay of the weights' moving average must be in [0, 1), "
                         f"e.g. 0.999 (0 = off).")
    if len(cfg.widths) != 5:
        raise ValueError(f"widths={cfg.widths}: give 5 channel counts, one per level, e.g. [16, 32, 64, 128, 256].")


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


def _field_types() -> dict[str, tuple[type, bool]]:
    """Each field's type, and whether it is Optional (None allowed)."""
    out = {}
    for name, hint in typing.get_type_hints(Config).items():
        optional = typing.get_origin(hint) is typing.Union  # Optional[X]: None or an X
        if optional:
            hint = next(h for h in typing.get_args(hint) if h is not type(None))
        out[name] = (hint, optional)
    return out


def _coerce(cfg: Config) -> None:
    """Convert what is harmless to convert: a fold number given as an int to its text, an int
    for a float field to a float, a tuple for a list field to a list. The rest is left to
    :func:`check_types`."""
    for name, (hint, _) in _field_types().items():
        value = getattr(cfg, name)
        is_int = isinstance(value, int) and not isinstance(value, bool)
        if name == "split" and is_int:
            setattr(cfg, name, str(value))  # a fold number may come as an int
        elif hint is float and is_int:
            setattr(cfg, name, float(value))
        elif typing.get_origin(hint) is list and isinstance(value, tuple):
            setattr(cfg, name, list(value))


def check_types(cfg: Config) -> None:
    """Type-check every field (it converts nothing); papermill and the CLI deliver whatever the user typed."""
    for name, (hint, optional) in _field_types().items():
        value = getattr(cfg, name)
        if optional and value is None:
            continue
        if typing.get_origin(hint) is list:
            ok = isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        else:
            ok = isinstance(value, hint) and not (hint is int and isinstance(value, bool))
        if not ok:
            want = "a list of ints" if typing.get_origin(hint) is list else hint.__name__
            raise TypeError(
                f"parameter {name!r} must be {want}, got {type(value).__name__} {value!r}. "
                f"With papermill use -p {name} <value> for a number, text or bool, and -y '{name}: [...]' "
                f"(YAML) for a list; with the CLI --set {name}=<value>."
            )


PROFILES: dict[str, dict] = {
    # The paper (Sec. 4.3 and its code): the defaults. On CUDA the fast path adds channels_last,
    # torch.compile and worker processes (bf16 comes from amp="auto"); see profile_overrides().
    "paper": {},
    # A laptop CPU, 2 cores, minutes per UNet run (bf16 where it measures faster): narrow widths and
    # random crops. Chosen on validation only (fold 4; experiments/laptop_selection.md): 48
    # epochs beat 24 on both seeds; it changes scale only, never model, gate, loss or augmentation.
    "laptop": dict(widths=[16, 32, 64, 128, 256], crop=128, batch_size=8, samples_per_epoch=200,
                   epochs=48, eval_interval=8, checkpoint_every=8, lr=2e-3, schedule="cosine"),
    # Seconds, for CI and nbval: tiny widths, tiny crops, two epochs.
    "smoke": dict(widths=[4, 8, 16, 32, 64], crop=64, batch_size=4, samples_per_epoch=8,
                  epochs=2, eval_interval=1, checkpoint_every=1, deterministic=True),
}


def profile_overrides(profile: str) -> dict:
    """The fields a profile changes (after resolving the device-dependent ones)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: choose one of {sorted(PROFILES)} (or set ATTNLIB_PROFILE).")
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
    return "laptop", ("no profile named and no CUDA GPU: the laptop profile (the paper's 500 epochs "
                      "of whole slices take days on a CPU); name profile='paper' to insist")


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
        raise ValueError(f"unknown parameter(s) {sorted(unknown)}: see attnlib.config.Config for the names.")
    explicit = {k: v for k, v in params.items() if v is not None}
    changes = {k: v for k, v in profile_overrides(profile).items() if k not in explicit}
    return Config(**{**changes, **explicit}), changes
