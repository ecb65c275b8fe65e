"""Run folders on disk: atomic writes, the exported weights, and loading a trained run.

A run folder holds ``run.json`` (the record), ``checkpoint.pt`` (weights + optimizer state, to
resume) and, once exported, ``model.pt`` (the weights alone, half precision, small enough to
share). Every write goes to a temporary file that is then renamed, so an interrupted run never
leaves a half-written file behind. :func:`resume_state` opens a checkpoint to resume only when
it belongs to the very run that is asked for.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import torch

from attnlib import fastpath
from attnlib.builder import build_model_for  # the same construction as training
from attnlib.config import Config, config_mismatch
from attnlib.ema import averaged_weights

CHECKPOINT, RECORD, WEIGHTS = "checkpoint.pt", "run.json", "model.pt"


def _replace_durably(tmp: Path, path: Path) -> None:
    """fsync the temporary file, rename it over ``path``, fsync the folder: after a crash the
    file is either the old one or the new one, never a torn or empty one."""
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # pragma: no cover (a platform without directory handles)
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_atomic(obj, path: Path) -> None:
    """torch.save to a temporary file, then rename: a crash never leaves a half-written file."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    _replace_durably(tmp, path)


def write_json_atomic(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=float))
    _replace_durably(tmp, path)


def load_checkpoint(path, device="cpu") -> dict:
    """``torch.load`` with ``weights_only=True``: tensors, numbers, strings, lists and dicts
    only, so a checkpoint from someone else cannot run code when it is opened."""
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(
            f"{path} holds objects other than weights and plain data, so it was not opened "
            f"(it could run code): use a checkpoint written by attnlib.train.fit. ({err})"[:600]
        ) from None


def resume_state(config: Config, ckpt: Path, device: torch.device | str = "cpu") -> dict | None:
    """The checkpoint's state when it belongs to this very run; refuse any other."""
    if not (config.resume and ckpt.exists()):
        return None
    state = load_checkpoint(ckpt, device)
    changed = config_mismatch(state["config"], config.to_dict())
    if changed == ["epochs"] and state["epoch"] >= state["config"]["epochs"]:
        raise ValueError(
            f"{ckpt.parent} holds a finished {state['config']['epochs']}-epoch run; a "
            f"{config.epochs}-epoch run is "
            "another run (its schedule differs): give it another out_dir, or resume=False to "
            "start over."
        )
    if changed:
        shown = {
            k: (state["config"].get(k, "<missing>"), config.to_dict().get(k, "<missing>"))
            for k in changed
        }
        raise ValueError(
            f"{ckpt} was written with other settings ({sorted(changed)}; checkpoint vs asked: "
            f"{shown}): "
            f"use another out_dir, or resume=False to start over."
        )
    return state


def export_weights(out_dir) -> Path:
    """Write ``model.pt``: the trained weights alone, in half precision (small enough to commit)."""
    out = Path(out_dir)
    state = load_checkpoint(out / CHECKPOINT)["model"]
    path = out / WEIGHTS
    save_atomic({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, path)
    return path


def load_run(out_dir) -> tuple[dict, torch.nn.Module]:
    """Read ``run.json`` and rebuild the trained model (CPU, eval mode) from ``checkpoint.pt``,
    or from the exported ``model.pt`` when the checkpoint is not there. The model carries the
    run's fast path, which ``predict(amp="auto")`` reuses on the machine it was decided on."""
    out = Path(out_dir)
    if not (out / RECORD).exists():
        raise FileNotFoundError(
            f"no run in {out} (no {RECORD}): train one with attnlib.train.train(...) or "
            f"python -m attnlib train, and pass its folder."
        )
    rec = json.loads((out / RECORD).read_text())
    model = build_model_for(Config(**rec["config"]))
    if (out / CHECKPOINT).exists():
        saved = load_checkpoint(out / CHECKPOINT)
        state = (
            averaged_weights(saved["ema"]) if saved.get("ema") else saved["model"]
        )  # what was scored
    elif (out / WEIGHTS).exists():
        state = {
            k: v.float() if v.is_floating_point() else v
            for k, v in load_checkpoint(out / WEIGHTS).items()
        }
    else:
        raise FileNotFoundError(
            f"{out} has neither {CHECKPOINT} nor {WEIGHTS}: train it first (attnlib.train.fit)."
        )
    model.load_state_dict(state)
    fastpath.remember(model, rec.get("fast_path"), rec.get("environment", {}).get("device_name"))
    return rec, model.eval()
