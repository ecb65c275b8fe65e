"""The training engine: fit(), predict(), atomic checkpoints and resume.

One loop serves a student's notebook, a laptop run and the instructor's GPU batch::

    from attnlib.config import make_config
    from attnlib.train import fit
    config, changes = make_config("laptop", model="unet", gate="sse", out_dir="runs/demo")
    run = fit(config)            # run.record is what run.json holds; run.model the network

Every ``eval_interval`` epochs the model predicts the held-out slices (25-29, plus the
validation fold if ``split`` is a fold) and all of :mod:`attnlib.metrics` is computed. Two
summaries come out: the paper's protocol (the best epoch *chosen on the test slices*, which
flatters) and an honest one that never looks at the test slices to choose.
"""
from __future__ import annotations

import json
import os
import platform
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from attnlib.config import RESUMABLE, Config

CHECKPOINT, RECORD, WEIGHTS = "checkpoint.pt", "run.json", "model.pt"


def resolve_device(device: str = "auto") -> torch.device:
    """``auto``: CUDA if present, else Apple's MPS, else the CPU."""
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def autocast(device: torch.device, amp: str):
    """bf16 autocast on CUDA for ``amp="auto"``; off on the CPU unless asked for."""
    if amp == "bf16" or (amp == "auto" and device.type == "cuda"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def progress_enabled() -> bool:
    """Progress bars on a terminal or in Jupyter, never in CI or when ATTNLIB_QUIET is set."""
    if os.environ.get("CI") or os.environ.get("ATTNLIB_QUIET"):
        return False
    import sys

    return sys.stderr.isatty() or "ipykernel" in sys.modules


# --- prediction ---------------------------------------------------------------------------

def _logits(model, x):
    out = model(x)
    return torch.stack(out).mean(0) if isinstance(out, (list, tuple)) else out  # UNet++ heads -> mean


@torch.no_grad()
def predict(model, images, tta: bool = False, batch_size: int = 2, amp: str = "auto") -> np.ndarray:
    """Cell probabilities for whole slices.

    Args:
        model: a network returning logits ``(B, 2, H, W)`` (or a list of them).
        images: uint8 ``(N, H, W)`` (0-255) or float ``(N, 1, H, W)`` in [0, 1].
        tta: average the probabilities over the 8 flips and 90-degree rotations.
        batch_size: slices per forward pass.

    Returns:
        float32 ``(N, H, W)``: the softmax probability of class 1 (cell).
    """
    x = torch.as_tensor(np.asarray(images))
    if x.dtype == torch.uint8:
        x = x.float().div(255.0)[:, None]  # (N, 1, H, W)
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"images must be (N, H, W) uint8 or (N, 1, H, W) float, got {tuple(x.shape)}.")
    param = next(model.parameters())
    was_training = model.training
    model.eval()
    views = [(k, f) for k in range(4) for f in (False, True)] if tta else [(0, False)]
    probs = []
    for batch in x.split(batch_size):
        batch = batch.to(param.device)  # (B, 1, H, W)
        acc = torch.zeros(batch.shape[0], *batch.shape[2:], device=param.device)
        for k, flip in views:
            v = torch.rot90(batch, k, (2, 3))
            v = v.flip(3) if flip else v
            with autocast(param.device, amp):
                p = _logits(model, v).float().softmax(1)[:, 1:]  # (B, 1, H, W)
            p = p.flip(3) if flip else p
            acc += torch.rot90(p, -k, (2, 3))[:, 0]
        probs.append((acc / len(views)).cpu())
    model.train(was_training)
    return torch.cat(probs).numpy()


# --- checkpoints --------------------------------------------------------------------------

def save_atomic(obj, path: Path) -> None:
    """torch.save to a temporary file, then rename: a crash never leaves a half-written file."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def write_json_atomic(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=float))
    os.replace(tmp, path)


def environment(device: torch.device) -> dict:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    return {"torch": torch.__version__, "python": platform.python_version(), "device": str(device),
            "device_name": name, "cpu_threads": torch.get_num_threads()}


# --- summaries ----------------------------------------------------------------------------

def summarize(evals: list[dict], has_val: bool) -> dict:
    """The paper's protocol (best test mIoU over epochs) and an honest choice.

    Honest: with a validation fold, the epoch with the best *validation* mIoU; without one,
    the last evaluation (no choice at all). Both report metrics on the test slices.
    """
    if not evals:
        return {}
    best = max(evals, key=lambda e: e["test"]["mean_iou"])
    if has_val:
        pick, rule = max(evals, key=lambda e: e["val"]["mean_iou"]), "best validation mIoU (chosen without the test slices)"
    else:
        pick, rule = evals[-1], "last evaluation (no selection)"
    return {
        "paper_protocol": {"rule": "best test mIoU over evaluations (selected ON the test slices, optimistic)",
                           "epoch": best["epoch"], "test": best["test"]},
        "honest": {"rule": rule, "epoch": pick["epoch"], "test": pick["test"]},
    }


@dataclass
class Run:
    """What :func:`fit` returns: the record written to ``run.json``, and the trained model."""

    record: dict
    model: torch.nn.Module
    path: Path

    @property
    def history(self) -> dict:
        return self.record["history"]

    @property
    def summary(self) -> dict:
        return self.record["summary"]


# --- fit ----------------------------------------------------------------------------------

def _build(config: Config, device: torch.device):
    from attnlib.losses import build_loss
    from attnlib.models import build_model

    model = build_model(config.model, gate=None if config.gate == "none" else config.gate,
                        widths=tuple(config.widths), deep_supervision=config.deep_supervision).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    fused = {"fused": True} if device.type == "cuda" else {}
    if config.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, **fused)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)
    return model, opt, build_loss(config.loss)


def _evaluate(model, images, labels, split, config) -> dict:
    from attnlib.metrics import evaluate

    out = {"test": evaluate(predict(model, images[list(split.test)], amp=config.amp), labels[list(split.test)])}
    if split.val:
        out["val"] = evaluate(predict(model, images[list(split.val)], amp=config.amp), labels[list(split.val)])
    return out


def fit(config: Config, profile: str | None = None, profile_changes: dict | None = None, callback=None) -> Run:
    """Train ``config``; write ``run.json`` and ``checkpoint.pt`` into ``config.out_dir``.

    Args:
        config: the effective configuration (see :func:`attnlib.config.make_config`).
        profile, profile_changes: recorded in run.json, so a profile never hides what it changed.
        callback: ``callback(epoch, record)`` after every epoch (live plots, early stops).

    Returns:
        A :class:`Run` with the record (config, history, evaluations, both summaries,
        environment) and the trained model.
    """
    from tqdm.auto import tqdm

    from attnlib import augment, data

    wall0 = time.perf_counter()
    out = config.run_dir()
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(config.device)
    if config.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = device.type == "cuda" and not config.deterministic
    torch.manual_seed(config.seed)

    images, labels = data.load_isbi2012()
    split = data.get_split(config.split)
    train_set = data.ISBIDataset(images, labels, split.train, augment.build_augmentation(config.augmentation),
                                 crop=config.crop or None, samples_per_epoch=config.samples_per_epoch or None, seed=config.seed)
    sampler = data.EpochSampler(len(train_set), seed=config.seed)
    loader = torch.utils.data.DataLoader(train_set, batch_size=config.effective_batch_size, sampler=sampler,
                                         num_workers=config.num_workers, pin_memory=device.type == "cuda",
                                         persistent_workers=config.num_workers > 0)
    model, opt, loss_fn = _build(config, device)
    step_model = torch.compile(model) if config.compile else model
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format

    history, evals, start, secs = {"epoch": [], "loss": [], "seconds": []}, [], 1, {"train": 0.0, "eval": 0.0}
    ckpt, resumed_from = out / CHECKPOINT, None
    if config.resume and ckpt.exists():
        state = torch.load(ckpt, map_location=device, weights_only=False)
        changed = {k for k, v in state["config"].items() if k not in RESUMABLE and config.to_dict().get(k) != v}
        if changed:
            raise ValueError(f"{ckpt} was written with other settings ({sorted(changed)}): use another out_dir, "
                             f"or resume=False to start over.")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        history, evals, secs = state["history"], state["evals"], state["seconds"]
        start = resumed_from = state["epoch"] + 1

    def record(complete: bool) -> dict:
        n_images = len(history["epoch"]) * len(train_set)
        env = environment(device) | {
            "wall_seconds": time.perf_counter() - wall0, "train_seconds": secs["train"], "eval_seconds": secs["eval"],
            "train_images_per_s": n_images / max(secs["train"], 1e-9),
            "end_to_end_images_per_s": n_images / max(secs["train"] + secs["eval"], 1e-9)}
        return {"config": config.to_dict(), "profile": profile, "profile_changes": profile_changes or {},
                "split": {"train": list(split.train), "val": list(split.val), "test": list(split.test)},
                "history": history, "evals": evals, "summary": summarize(evals, bool(split.val)),
                "environment": env, "resumed_from": resumed_from, "complete": complete}

    bar = tqdm(range(start, config.epochs + 1), initial=start - 1, total=config.epochs, desc=f"{config.model}+{config.gate}",
               disable=not progress_enabled(), dynamic_ncols=True)
    for epoch in bar:
        t0 = time.perf_counter()
        sampler.set_epoch(epoch)
        model.train()
        total, seen = torch.zeros((), device=device), 0
        for x, y in loader:
            x = x.to(device, non_blocking=True, memory_format=memory_format)  # (B, 1, H, W)
            y = y.to(device, non_blocking=True)  # (B, H, W)
            with autocast(device, config.amp):
                logits = step_model(x)  # (B, 2, H, W), or 4 of them for UNet++ "heads"
            logits = [o.float() for o in logits] if isinstance(logits, (list, tuple)) else logits.float()
            loss = loss_fn(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * len(x)
            seen += len(x)
        secs["train"] += time.perf_counter() - t0
        history["epoch"].append(epoch)
        history["loss"].append(float(total) / seen)
        history["seconds"].append(time.perf_counter() - t0)
        if epoch % config.eval_interval == 0 or epoch == config.epochs:
            t1 = time.perf_counter()
            evals.append({"epoch": epoch, **_evaluate(model, images, labels, split, config)})
            secs["eval"] += time.perf_counter() - t1
        bar.set_postfix(loss=f"{history['loss'][-1]:.4f}", mIoU=f"{evals[-1]['test']['mean_iou']:.4f}" if evals else "-")
        if epoch % config.checkpoint_every == 0 or epoch == config.epochs:
            save_atomic({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch, "history": history,
                         "evals": evals, "seconds": secs, "config": config.to_dict()}, ckpt)
            write_json_atomic(record(complete=epoch == config.epochs), out / RECORD)
        if callback is not None:
            callback(epoch, record(complete=False))
    bar.close()
    final = record(complete=True)
    write_json_atomic(final, out / RECORD)
    return Run(record=final, model=model, path=out / RECORD)


def train(profile: str | None = None, callback=None, **params) -> Run:
    """``make_config`` + ``fit`` in one call: ``train("laptop", model="unet", gate="sse")``."""
    from attnlib.config import make_config, resolve_profile

    config, changes = make_config(profile, **params)
    return fit(config, profile=resolve_profile(profile), profile_changes=changes, callback=callback)


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
    out = Path(out_dir)
    rec = json.loads((out / RECORD).read_text())
    config = Config(**rec["config"])
    model, _, _ = _build(config, torch.device("cpu"))
    if (out / CHECKPOINT).exists():
        state = torch.load(out / CHECKPOINT, map_location="cpu", weights_only=False)["model"]
    elif (out / WEIGHTS).exists():
        state = {k: v.float() if v.is_floating_point() else v for k, v in torch.load(out / WEIGHTS, map_location="cpu").items()}
    else:
        raise FileNotFoundError(f"{out} has neither {CHECKPOINT} nor {WEIGHTS}: train it first (attnlib.train.fit).")
    model.load_state_dict(state)
    return rec, model.eval()
