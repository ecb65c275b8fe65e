"""A Config's fields checked: their types, the conversions that are harmless, their values.

:class:`attnlib.config.Config` runs :func:`coerce`, :func:`check_types` and
:func:`check_values` when it is made, so a run with a misspelt name, a crop that four poolings
cannot halve or a list where a number belongs fails at once, with a message that names the
field and the fix. Papermill and the command line deliver whatever the user typed.
"""

from __future__ import annotations

import typing

from attnlib import names

# The names each choice field takes (attnlib.names); ``loss`` also takes the aliases that
# build_loss knows.
CHOICES = {
    "model": names.MODELS,
    "gate": names.GATES,
    "augmentation": names.AUGMENTATIONS,
    "register": names.REGISTRATIONS,
    "optimizer": names.OPTIMIZERS,
    "amp": names.AMPS,
    "schedule": names.SCHEDULES,
    "deep_supervision": names.DEEP_SUPERVISION,
}


def check_values(cfg) -> None:
    """Check the values of a type-checked Config: names, crop, fold, counts and widths."""
    for name, allowed in CHOICES.items():
        names.check_choice(name, getattr(cfg, name), allowed)
    names.loss_name(
        cfg.loss
    )  # raises for an unknown loss; the spelling is kept (it is the run's identity)
    if cfg.crop and cfg.crop % 16:
        raise ValueError(
            f"crop={cfg.crop} is not divisible by 16 (four 2x2 poolings): "
            f"use e.g. {cfg.crop // 16 * 16 or 16}."
        )
    if cfg.split != "paper":
        from attnlib.data import get_split

        get_split(cfg.split)  # raises for a fold out of range
    for name in ("epochs", "eval_interval", "checkpoint_every"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"{name}={getattr(cfg, name)} must be >= 1.")
    if not 0.0 <= cfg.ema < 1.0:
        raise ValueError(
            f"ema={cfg.ema}: the decay of the weights' moving average must be in [0, 1), "
            f"e.g. 0.999 (0 = off)."
        )
    if len(cfg.widths) != 5:
        raise ValueError(
            f"widths={cfg.widths}: give 5 channel counts, one per level, "
            "e.g. [16, 32, 64, 128, 256]."
        )


def field_types(cfg) -> dict[str, tuple[type, bool]]:
    """Each field's type, and whether it is Optional (None allowed)."""
    out = {}
    for name, hint in typing.get_type_hints(type(cfg)).items():
        optional = typing.get_origin(hint) is typing.Union  # Optional[X]: None or an X
        if optional:
            hint = next(h for h in typing.get_args(hint) if h is not type(None))
        out[name] = (hint, optional)
    return out


def coerce(cfg) -> None:
    """Convert what is harmless to convert: a fold number given as an int to its text, an int
    for a float field to a float, a tuple for a list field to a list. The rest is left to
    :func:`check_types`."""
    for name, (hint, _) in field_types(cfg).items():
        value = getattr(cfg, name)
        is_int = isinstance(value, int) and not isinstance(value, bool)
        if name == "split" and is_int:
            setattr(cfg, name, str(value))  # a fold number may come as an int
        elif hint is float and is_int:
            setattr(cfg, name, float(value))
        elif typing.get_origin(hint) is list and isinstance(value, tuple):
            setattr(cfg, name, list(value))


def check_types(cfg) -> None:
    """Type-check every field (it converts nothing); papermill and the CLI deliver whatever the
    user typed."""
    for name, (hint, optional) in field_types(cfg).items():
        value = getattr(cfg, name)
        if optional and value is None:
            continue
        if typing.get_origin(hint) is list:
            ok = isinstance(value, list) and all(
                isinstance(v, int) and not isinstance(v, bool) for v in value
            )
        else:
            ok = isinstance(value, hint) and not (hint is int and isinstance(value, bool))
        if not ok:
            want = "a list of ints" if typing.get_origin(hint) is list else hint.__name__
            raise TypeError(
                f"parameter {name!r} must be {want}, got {type(value).__name__} {value!r}. "
                f"With papermill use -p {name} <value> for a number, text or bool, "
                f"and -y '{name}: [...]' "
                f"(YAML) for a list; with the CLI --set {name}=<value>."
            )
