"""Run folders on disk: atomic writes, the exported weights, and loading a trained run.

A run folder holds ``run.json`` (the record), ``checkpoint.pt`` (weights + optimizer state, to
resume) and, once exported, ``model.pt`` (the weights alone, half precision, small enough to
share). Every write goes to a temporary file that is then renamed, so an interrupted run never
leaves a half-written file behind.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

CHECKPOINT, RECORD, WEIGHTS = "checkpoint.pt", "run.json", "model.pt"


def save_atomic(obj, path: Path) -> None:
    """torch.save to a temporary file, then rename: a crash never leaves a half-written file."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def write_json_atomic(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=float))
    os.replace(tmp, path)


def export_weights(out_dir) -> Path:
    """Write ``model.pt``: the trained weights alone, in half precision (small enough to commit)."""
    out = Path(out_dir)
    state = torch.load(out / CHECKPOINT, map_location="cpu", weights_only=False)["model"]
    path = out / WEIGHTS
    save_atomic({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, path)
    return path


def load_run(out_dir) -> tuple[dict, torch.nn.Module]:
    """Read ``run.json`` and rebuild the trained model (CPU, eval mode) from ``checkpoint.pt``,
    or from the exported ``model.pt`` when the checkpoint is not there."""
    from attnlib.config import Config
    from attnlib.train import _build  # the same construction as training

    out = Path(out_dir)
    if not (out / RECORD).exists():
        raise FileNotFoundError(f"no run in {out} (no {RECORD}): train one with attnlib.train.train(...) or "
                                f"python -m attnlib train, and pass its folder.")
    rec = json.loads((out / RECORD).read_text())
    model, _, _ = _build(Config(**rec["config"]), torch.device("cpu"))
    if (out / CHECKPOINT).exists():
        state = torch.load(out / CHECKPOINT, map_location="cpu", weights_only=False)["model"]
    elif (out / WEIGHTS).exists():
        state = {k: v.float() if v.is_floating_point() else v for k, v in torch.load(out / WEIGHTS, map_location="cpu").items()}
    else:
        raise FileNotFoundError(f"{out} has neither {CHECKPOINT} nor {WEIGHTS}: train it first (attnlib.train.fit).")
    model.load_state_dict(state)
    return rec, model.eval()
