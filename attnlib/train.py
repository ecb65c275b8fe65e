"""The training engine: fit() with evaluation, atomic checkpoints and resume.

One loop serves a student's notebook, a laptop run and the instructor's GPU batch::

    config, changes = make_config("laptop", model="unet", gate="sse", out_dir="runs/demo")
    run = fit(config)  # attnlib.records.Run: run.record is what run.json holds, run.model the net

:func:`fit` tells its story in named steps (d2l's ``Trainer``, with ``prepare_data``,
``prepare_model`` and ``fit_epoch``, is the model): before the first epoch
(:mod:`attnlib.preparation`) :func:`prepare_run`, :func:`prepare_data`,
:func:`attnlib.builder.build`, :func:`attnlib.checkpoints.resume_state`,
:func:`attnlib.probe.fast_path`, :func:`restore`; per epoch :func:`train_one_epoch` (the steps:
:mod:`attnlib.epoch`), :func:`evaluate_epoch`, :func:`save_checkpoint`, :func:`record`; at the
end :func:`finish`. What the steps share is a :class:`Training`.

Every ``eval_interval`` epochs the model predicts the held-out slices (25-29, plus the
validation fold if ``split`` is a fold) and all of :mod:`attnlib.metrics` is computed. Two
summaries come out (:mod:`attnlib.protocols`): the paper's protocol (the best epoch *chosen
on the test slices*, which flatters) and an honest one that chooses nothing on them.

A resumed run is the same run: the checkpoint's config must match the asked one on every
field of the run's identity (:func:`attnlib.config.config_mismatch`), and the fast path
(dtype, memory format) recorded at the start is reused, with the fp16 gradient scaler's state.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from attnlib import fastpath, probe
from attnlib.builder import build
from attnlib.checkpoints import CHECKPOINT, RECORD, resume_state, save_atomic, write_json_atomic
from attnlib.config import Config
from attnlib.ema import make_ema
from attnlib.epoch import train_epoch, warn_if_slow
from attnlib.inference import predict
from attnlib.preparation import TrainingData, prepare_data, prepare_run, restore
from attnlib.protocols import THRESHOLD_SLICES
from attnlib.records import Progress, Run, run_environment, run_record


def progress_enabled() -> bool:
    """Progress bars on a terminal or in Jupyter, never in CI or when ATTNLIB_QUIET is set."""
    if os.environ.get("CI") or os.environ.get("ATTNLIB_QUIET"):
        return False
    import sys

    return sys.stderr.isatty() or "ipykernel" in sys.modules


def learning_rate(config: Config, epoch: int) -> float:
    """The learning rate of an epoch (1-based): constant, or a cosine from ``lr`` to 0."""
    if config.schedule == "cosine":
        return config.lr * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / config.epochs))
    return config.lr


def due(epoch: int, every: int, last: int) -> bool:
    """Whether an every-N-epochs step (evaluation, checkpoint) runs after ``epoch``: every N,
    and at the end."""
    return epoch % every == 0 or epoch == last


@dataclass
class Training:
    """What the steps of :func:`fit` share: the run's settings, its data, model and progress."""

    config: Config
    profile: str | None
    profile_changes: dict | None
    out: Path  # the run folder
    device: torch.device
    data: TrainingData
    model: torch.nn.Module
    loss_fn: Callable
    opt: torch.optim.Optimizer
    fast: dict  # the fast path (attnlib.probe.fast_path), recorded
    progress: Progress
    forward: Callable  # the model, or its torch.compile'd forward
    scaler: object = None  # torch.amp.GradScaler on the fp16 path, else None
    ema: object = None  # attnlib.ema's AveragedModel when config.ema, else None

    @property
    def evaluated(self) -> torch.nn.Module:
        """What is scored and returned: the weights' moving average when there is one."""
        return self.ema.module if self.ema is not None else self.model


# --- one epoch ----------------------------------------------------------------------------


def train_one_epoch(t: Training, epoch: int) -> float:
    """Set the epoch's learning rate and data order, train one pass, record its loss and time."""
    t0 = time.perf_counter()
    for group in t.opt.param_groups:
        group["lr"] = learning_rate(t.config, epoch)
    t.data.loader.sampler.set_epoch(epoch)
    t.model.train()
    first = epoch == t.progress.start  # warn once, from this process's first epoch
    warn = (lambda s: warn_if_slow(t.config, t.device, s, len(t.data.loader))) if first else None
    average = (lambda: t.ema.update_parameters(t.model)) if t.ema is not None else None
    loss = train_epoch(
        t.forward, t.data.loader, t.opt, t.loss_fn, t.device, t.fast, warn, t.scaler, average
    )
    t.progress.seconds["train"] += time.perf_counter() - t0
    t.progress.history["epoch"].append(epoch)
    t.progress.history["loss"].append(loss)
    t.progress.history["seconds"].append(time.perf_counter() - t0)
    return loss


def held_out_metrics(model, images, labels, split, amp: str) -> dict:
    """Test (and validation) metrics, with the ISBI scores at every threshold."""
    from attnlib.metrics import evaluate

    out: dict = {"isbi_curves": {}}
    for part in ("test", "val"):
        idx = list(getattr(split, part))
        if idx:
            out[part], out["isbi_curves"][part] = evaluate(
                predict(model, images[idx], amp=amp), labels[idx], curves=True
            )
    return out


def evaluate_epoch(t: Training, epoch: int) -> None:
    """Evaluate on the held-out slices; append the evaluation, count its time."""
    t1 = time.perf_counter()
    d = t.data
    t.progress.evals.append(
        {
            "epoch": epoch,
            **held_out_metrics(t.evaluated, d.images, d.labels, d.split, t.fast["amp"]),
        }
    )
    t.progress.seconds["eval"] += time.perf_counter() - t1


def save_checkpoint(t: Training, epoch: int) -> None:
    """Write ``checkpoint.pt`` atomically: weights, optimizer state, progress, config, fast path
    (and the fp16 gradient scaler's state)."""
    p = t.progress
    p.seconds["wall"] = p.wall()
    scaler = {"scaler": t.scaler.state_dict()} if t.scaler is not None else {}
    scaler |= {"ema": t.ema.state_dict()} if t.ema is not None else {}
    save_atomic(
        {
            "model": t.model.state_dict(),
            "optimizer": t.opt.state_dict(),
            "epoch": epoch,
            "history": p.history,
            "evals": p.evals,
            "seconds": p.seconds,
            "config": t.config.to_dict(),
            "fast_path": t.fast,
            **scaler,
        },
        t.out / CHECKPOINT,
    )


def record(t: Training, complete: bool, threshold_curve: dict | None = None) -> dict:
    """The run's record as it stands (what ``run.json`` holds)."""
    env = run_environment(t.device, t.progress, len(t.data.loader.dataset))
    return run_record(
        t.config,
        t.profile,
        t.profile_changes,
        t.data.split,
        t.fast,
        env,
        t.progress,
        complete,
        threshold_curve,
        t.data.registration,
    )


# --- after the last epoch -----------------------------------------------------------------


def threshold_curve(model, images, labels, split, amp: str) -> dict | None:
    """Without a validation fold: the ISBI curve of training slices 20-24 (see protocols)."""
    if split.val:
        return None
    from attnlib.metrics import evaluate

    idx = list(THRESHOLD_SLICES)
    return evaluate(predict(model, images[idx], amp=amp), labels[idx], curves=True)[1]


def finish(t: Training) -> Run:
    """The honest ISBI threshold's curve, then the complete record, written to ``run.json``."""
    t1 = time.perf_counter()
    d = t.data
    curve = threshold_curve(t.evaluated, d.images, d.labels, d.split, t.fast["amp"])
    t.progress.seconds["eval"] += time.perf_counter() - t1
    final = record(t, complete=True, threshold_curve=curve)
    write_json_atomic(final, t.out / RECORD)
    return Run(record=final, model=t.evaluated, path=t.out / RECORD)


def fit(
    config: Config, profile: str | None = None, profile_changes: dict | None = None, callback=None
) -> Run:
    """Train ``config``; write ``run.json`` and ``checkpoint.pt`` into ``config.run_dir()``.

    Args:
        config: the effective configuration (see :func:`attnlib.config.make_config`).
        profile, profile_changes: recorded in run.json, so a profile never hides what it changed.
        callback: ``callback(epoch, record)`` after every epoch (live plots, early stops).

    Returns:
        A :class:`~attnlib.records.Run` with the record (config, history, evaluations, both
        summaries, fast path, environment) and the trained model.
    """
    from tqdm.auto import tqdm

    wall0 = time.perf_counter()
    out, device = prepare_run(config)
    data = prepare_data(config, device)
    model, loss_fn, opt = build(config, device)
    state = resume_state(config, out / CHECKPOINT, device)
    fast = probe.fast_path(
        config,
        device,
        model,
        opt,
        loss_fn,
        config.epochs * len(data.loader),
        recorded=(state or {}).get("fast_path"),
    )
    model, scaler, progress = restore(model, opt, fast, state, wall0, device)
    ema = make_ema(model, config.ema, (state or {}).get("ema"))
    if ema is not None:
        fastpath.remember(ema.module, fast)
    t = Training(
        config,
        profile,
        profile_changes,
        out,
        device,
        data,
        fastpath.remember(model, fast),
        loss_fn,
        opt,
        fast,
        progress,
        forward=fastpath.compiled_forward(model, fast, progress.notes),
        scaler=scaler,
        ema=ema,
    )
    bar = tqdm(
        range(progress.start, config.epochs + 1),
        initial=progress.start - 1,
        total=config.epochs,
        desc=f"{config.model}+{config.gate}",
        disable=not progress_enabled(),
        dynamic_ncols=True,
    )
    for epoch in bar:
        loss = train_one_epoch(t, epoch)
        if due(epoch, config.eval_interval, config.epochs):
            evaluate_epoch(t, epoch)
        evals = progress.evals
        bar.set_postfix(
            loss=f"{loss:.4f}", mIoU=f"{evals[-1]['test']['mean_iou']:.4f}" if evals else "-"
        )
        if due(epoch, config.checkpoint_every, config.epochs):
            save_checkpoint(t, epoch)
            if epoch < config.epochs:
                write_json_atomic(record(t, complete=False), out / RECORD)
        if callback is not None:
            callback(epoch, record(t, complete=False))
    bar.close()
    return finish(t)


def train(profile: str | None = None, callback=None, **params) -> Run:
    """``make_config`` + ``fit`` in one call: ``train("laptop", model="unet", gate="sse")``."""
    from attnlib.config import make_config, resolve_profile

    config, changes = make_config(profile, **params)
    return fit(config, profile=resolve_profile(profile), profile_changes=changes, callback=callback)
