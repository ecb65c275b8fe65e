"""The training engine: fit() with evaluation, atomic checkpoints and resume.

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

import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from attnlib.checkpoints import CHECKPOINT, RECORD, save_atomic, write_json_atomic
from attnlib.checkpoints import export_weights, load_run  # noqa: F401  (re-exported for notebooks)
from attnlib.config import RESUMABLE, Config
from attnlib.inference import autocast, predict, resolve_device  # noqa: F401  (predict re-exported)

def progress_enabled() -> bool:
    """Progress bars on a terminal or in Jupyter, never in CI or when ATTNLIB_QUIET is set."""
    if os.environ.get("CI") or os.environ.get("ATTNLIB_QUIET"):
        return False
    import sys

    return sys.stderr.isatty() or "ipykernel" in sys.modules


def environment(device: torch.device) -> dict:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    return {"torch": torch.__version__, "python": platform.python_version(), "device": str(device),
            "device_name": name, "cpu_threads": torch.get_num_threads()}


def learning_rate(config: Config, epoch: int) -> float:
    """The learning rate of an epoch (1-based): constant, or a cosine from ``lr`` to 0."""
    if config.schedule == "cosine":
        return config.lr * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / config.epochs))
    return config.lr


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
    ckpt, resumed_from, notes = out / CHECKPOINT, None, {}
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
    prior_wall = secs.get("wall", 0.0)  # wall time of the interrupted part(s), so a resumed run adds up

    def record(complete: bool) -> dict:
        n_images = len(history["epoch"]) * len(train_set)
        env = environment(device) | {
            "wall_seconds": prior_wall + time.perf_counter() - wall0, "train_seconds": secs["train"], "eval_seconds": secs["eval"],
            "train_images_per_s": n_images / max(secs["train"], 1e-9),
            "end_to_end_images_per_s": n_images / max(secs["train"] + secs["eval"], 1e-9), **notes}
        return {"config": config.to_dict(), "profile": profile, "profile_changes": profile_changes or {},
                "split": {"train": list(split.train), "val": list(split.val), "test": list(split.test)},
                "history": history, "evals": evals, "summary": summarize(evals, bool(split.val)),
                "environment": env, "resumed_from": resumed_from, "complete": complete}

    bar = tqdm(range(start, config.epochs + 1), initial=start - 1, total=config.epochs, desc=f"{config.model}+{config.gate}",
               disable=not progress_enabled(), dynamic_ncols=True)
    for epoch in bar:
        t0 = time.perf_counter()
        for group in opt.param_groups:
            group["lr"] = learning_rate(config, epoch)
        sampler.set_epoch(epoch)
        model.train()
        total, seen = torch.zeros((), device=device), 0
        for x, y in loader:
            x = x.to(device, non_blocking=True, memory_format=memory_format)  # (B, 1, H, W)
            y = y.to(device, non_blocking=True)  # (B, H, W)
            with autocast(device, config.amp):
                try:
                    logits = step_model(x)  # (B, 2, H, W), or 4 of them for UNet++ "heads"
                except Exception as err:  # torch.compile can fail on a platform: fall back to eager
                    if step_model is model:
                        raise
                    notes["compile_error"], step_model = f"{type(err).__name__}: {err}"[:500], model
                    logits = model(x)
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
            secs["wall"] = prior_wall + time.perf_counter() - wall0
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
