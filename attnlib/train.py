"""The training engine: fit() with evaluation, atomic checkpoints and resume.

One loop serves a student's notebook, a laptop run and the instructor's GPU batch::

    from attnlib.config import make_config
    from attnlib.train import fit
    config, changes = make_config("laptop", model="unet", gate="sse", out_dir="runs/demo")
    run = fit(config)            # run.record is what run.json holds; run.model the network

Every ``eval_interval`` epochs the model predicts the held-out slices (25-29, plus the
validation fold if ``split`` is a fold) and all of :mod:`attnlib.metrics` is computed. Two
summaries come out (:mod:`attnlib.protocols`): the paper's protocol (the best epoch *chosen
on the test slices*, which flatters) and an honest one that chooses nothing on them.

A resumed run is the same run: the checkpoint's config must match the asked one on every
field of the run's identity (:func:`attnlib.config.config_mismatch`), and the fast path
(dtype, memory format) recorded at the start is reused.
"""
from __future__ import annotations

import math
import os
import platform
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from attnlib import fastpath
from attnlib.builder import build
from attnlib.checkpoints import CHECKPOINT, RECORD, load_checkpoint, save_atomic, write_json_atomic
from attnlib.checkpoints import export_weights, load_run  # noqa: F401  (re-exported for notebooks)
from attnlib.config import Config, config_mismatch
from attnlib.inference import autocast, predict, resolve_device  # noqa: F401  (predict re-exported)
from attnlib.protocols import THRESHOLD_SLICES, summarize

SLOW_WARNING_HOURS = 2.0  # warn when a CPU run's estimate exceeds this


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


@dataclass
class Run:
    """What :func:`fit` returns: the record written to ``run.json``, and the trained model."""

    record: dict
    model: torch.nn.Module
    path: Path  # run.json

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def history(self) -> dict:
        return self.record["history"]

    @property
    def summary(self) -> dict:
        return self.record["summary"]


# --- the steps of fit ---------------------------------------------------------------------

def _prepare_data(config: Config, device: torch.device):
    from attnlib import augment, data

    images, labels = data.load_isbi2012()
    split = data.get_split(config.split)
    train_set = data.ISBIDataset(images, labels, split.train, augment.build_augmentation(config.augmentation),
                                 crop=config.crop or None, samples_per_epoch=config.samples_per_epoch or None,
                                 seed=config.seed)
    sampler = data.EpochSampler(len(train_set), seed=config.seed)
    loader = torch.utils.data.DataLoader(train_set, batch_size=config.effective_batch_size, sampler=sampler,
                                         num_workers=config.num_workers, pin_memory=device.type == "cuda",
                                         persistent_workers=config.num_workers > 0)
    return images, labels, split, loader


def _resume(config: Config, ckpt: Path, device: torch.device) -> dict | None:
    """The checkpoint's state when it belongs to this very run; refuse any other."""
    if not (config.resume and ckpt.exists()):
        return None
    state = load_checkpoint(ckpt, device)
    changed = config_mismatch(state["config"], config.to_dict())
    if changed == ["epochs"] and state["epoch"] >= state["config"]["epochs"]:
        raise ValueError(
            f"{ckpt.parent} holds a finished {state['config']['epochs']}-epoch run; a {config.epochs}-epoch run is "
            f"another run (its schedule differs): give it another out_dir, or resume=False to start over.")
    if changed:
        shown = {k: (state["config"].get(k, "<missing>"), config.to_dict().get(k, "<missing>")) for k in changed}
        raise ValueError(f"{ckpt} was written with other settings ({sorted(changed)}; checkpoint vs asked: {shown}): "
                         f"use another out_dir, or resume=False to start over.")
    return state


def _evaluate(model, images, labels, split, amp: str) -> dict:
    """Test (and validation) metrics, with the ISBI scores at every threshold."""
    from attnlib.metrics import evaluate

    out: dict = {"isbi_curves": {}}
    for part in ("test", "val"):
        idx = list(getattr(split, part))
        if idx:
            out[part], out["isbi_curves"][part] = evaluate(predict(model, images[idx], amp=amp), labels[idx], curves=True)
    return out


def _threshold_curve(model, images, labels, split, amp: str) -> dict | None:
    """Without a validation fold: the ISBI curve of training slices 20-24 (see protocols)."""
    if split.val:
        return None
    from attnlib.metrics import evaluate

    idx = list(THRESHOLD_SLICES)
    return evaluate(predict(model, images[idx], amp=amp), labels[idx], curves=True)[1]


def _warn_if_slow(config: Config, device: torch.device, step_seconds: float, steps_per_epoch: int) -> None:
    hours = step_seconds * steps_per_epoch * config.epochs / 3600
    if device.type == "cpu" and hours > SLOW_WARNING_HOURS:
        warnings.warn(f"this run needs about {hours:.0f} h on this CPU ({step_seconds:.1f} s per step, "
                      f"{steps_per_epoch * config.epochs} steps): use profile='laptop' for a CPU, or a GPU.",
                      stacklevel=3)


def _train_epoch(forward, loader, opt, loss_fn, device, fast: dict, warn=None) -> float:
    """One pass over the loader (the model in train mode); returns the mean training loss."""
    memory_format = torch.channels_last if fast["channels_last"] else torch.contiguous_format
    total, seen = torch.zeros((), device=device), 0
    for i, (x, y) in enumerate(loader):
        t0 = time.perf_counter()
        x = x.to(device, non_blocking=True, memory_format=memory_format)  # (B, 1, H, W)
        y = y.to(device, non_blocking=True)  # (B, H, W)
        with autocast(device, fast["amp"]):
            logits = forward(x)  # (B, 2, H, W), or 4 of them for UNet++ "heads"
        logits = [o.float() for o in logits] if isinstance(logits, (list, tuple)) else logits.float()
        loss = loss_fn(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.detach() * len(x)
        seen += len(x)
        if warn is not None and i == 1:  # the second step: kernels are built by now
            warn(time.perf_counter() - t0)
    return float(total) / seen


def _compiled(model, fast: dict, notes: dict):
    """The forward function: torch.compile'd when asked, falling back to eager (and noting
    why) where compilation fails on this platform, which shows only at the first call."""
    if not fast["compile"]:
        return model
    compiled = torch.compile(model)

    def forward(x):
        nonlocal compiled
        try:
            return compiled(x)
        except Exception as err:
            if compiled is model:
                raise
            notes["compile_error"], compiled = f"{type(err).__name__}: {err}"[:500], model
            return model(x)

    return forward


# --- fit ----------------------------------------------------------------------------------

def fit(config: Config, profile: str | None = None, profile_changes: dict | None = None, callback=None) -> Run:
    """Train ``config``; write ``run.json`` and ``checkpoint.pt`` into ``config.run_dir()``.

    Args:
        config: the effective configuration (see :func:`attnlib.config.make_config`).
        profile, profile_changes: recorded in run.json, so a profile never hides what it changed.
        callback: ``callback(epoch, record)`` after every epoch (live plots, early stops).

    Returns:
        A :class:`Run` with the record (config, history, evaluations, both summaries,
        fast path, environment) and the trained model.
    """
    from tqdm.auto import tqdm

    wall0 = time.perf_counter()
    out = config.run_dir()
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(config.device)
    if config.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = device.type == "cuda" and not config.deterministic
    torch.manual_seed(config.seed)

    images, labels, split, loader = _prepare_data(config, device)
    model, loss_fn, opt = build(config, device)
    state = _resume(config, out / CHECKPOINT, device)
    fast = state["fast_path"] if state and "fast_path" in state else fastpath.choose(
        device, config.amp, config.channels_last, config.compile)
    if fast["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    history, evals, secs = {"epoch": [], "loss": [], "seconds": []}, [], {"train": 0.0, "eval": 0.0}
    if state:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        history, evals, secs = state["history"], state["evals"], state["seconds"]
    start = state["epoch"] + 1 if state else 1
    prior_wall, notes = secs.get("wall", 0.0), {}
    forward = _compiled(model, fast, notes)

    def record(complete: bool, threshold_curve=None) -> dict:
        n_images = len(history["epoch"]) * len(loader.dataset)
        env = environment(device) | {
            "wall_seconds": prior_wall + time.perf_counter() - wall0, "train_seconds": secs["train"],
            "eval_seconds": secs["eval"], "train_images_per_s": n_images / max(secs["train"], 1e-9),
            "end_to_end_images_per_s": n_images / max(secs["train"] + secs["eval"], 1e-9), **notes}
        return {"config": config.to_dict(), "profile": profile, "profile_changes": profile_changes or {},
                "split": {"train": list(split.train), "val": list(split.val), "test": list(split.test)},
                "history": history, "evals": evals, "fast_path": fast,
                "summary": summarize(evals, bool(split.val), threshold_curve),
                "threshold_curve": threshold_curve, "environment": env,
                "resumed_from": start if state else None, "complete": complete}

    def warn(step_seconds):
        _warn_if_slow(config, device, step_seconds, len(loader))

    bar = tqdm(range(start, config.epochs + 1), initial=start - 1, total=config.epochs,
               desc=f"{config.model}+{config.gate}", disable=not progress_enabled(), dynamic_ncols=True)
    for epoch in bar:
        t0 = time.perf_counter()
        for group in opt.param_groups:
            group["lr"] = learning_rate(config, epoch)
        loader.sampler.set_epoch(epoch)
        model.train()
        loss = _train_epoch(forward, loader, opt, loss_fn, device, fast, warn if epoch == start else None)
        secs["train"] += time.perf_counter() - t0
        history["epoch"].append(epoch)
        history["loss"].append(loss)
        history["seconds"].append(time.perf_counter() - t0)
        if epoch % config.eval_interval == 0 or epoch == config.epochs:
            t1 = time.perf_counter()
            evals.append({"epoch": epoch, **_evaluate(model, images, labels, split, fast["amp"])})
            secs["eval"] += time.perf_counter() - t1
        bar.set_postfix(loss=f"{loss:.4f}", mIoU=f"{evals[-1]['test']['mean_iou']:.4f}" if evals else "-")
        if epoch % config.checkpoint_every == 0 or epoch == config.epochs:
            secs["wall"] = prior_wall + time.perf_counter() - wall0
            save_atomic({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch,
                         "history": history, "evals": evals, "seconds": secs, "config": config.to_dict(),
                         "fast_path": fast}, out / CHECKPOINT)
            if epoch < config.epochs:
                write_json_atomic(record(complete=False), out / RECORD)
        if callback is not None:
            callback(epoch, record(complete=False))
    bar.close()
    t1 = time.perf_counter()
    curve = _threshold_curve(model, images, labels, split, fast["amp"])
    secs["eval"] += time.perf_counter() - t1
    final = record(complete=True, threshold_curve=curve)
    write_json_atomic(final, out / RECORD)
    return Run(record=final, model=model, path=out / RECORD)


def train(profile: str | None = None, callback=None, **params) -> Run:
    """``make_config`` + ``fit`` in one call: ``train("laptop", model="unet", gate="sse")``."""
    from attnlib.config import make_config, resolve_profile

    config, changes = make_config(profile, **params)
    return fit(config, profile=resolve_profile(profile), profile_changes=changes, callback=callback)
