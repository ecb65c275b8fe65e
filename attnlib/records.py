"""What a run records: its progress, its environment, and the record that ``run.json`` holds.

:func:`attnlib.train.fit` keeps a :class:`Progress` (history, evaluations, seconds; restored
from ``checkpoint.pt`` on resume), writes :func:`run_record` into ``run.json`` and returns a
:class:`Run`. The record's keys::

    config, profile, profile_changes, split, registration, history, evals, fast_path,
    summary, threshold_curve, environment, resumed_from, complete

(``registration``: None, or the offset measured on the training slices and the shift
applied to the images, from :func:`attnlib.registration.register`; ``fast_path``: the dtype
and memory format the run computed in, how they were decided and, when measured, the probe's
timings and cost, from :func:`attnlib.probe.fast_path`.)
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from attnlib.config import Config
from attnlib.cpu import cpu_name  # the one reader of /proc/cpuinfo
from attnlib.protocols import summarize


@dataclass
class Run:
    """What :func:`attnlib.train.fit` returns: the record written to ``run.json``, and the trained
    model."""

    record: dict
    model: torch.nn.Module
    path: Path  # run.json

    @property
    def folder(self) -> Path:
        """The run folder (run.json, checkpoint.pt, and model.pt once exported)."""
        return self.path.parent

    @property
    def history(self) -> dict:
        return self.record["history"]

    @property
    def summary(self) -> dict:
        return self.record["summary"]


@dataclass
class Progress:
    """How far a run has got: what the checkpoint saves and the record reports.

    ``wall0`` is when this process started the run (``time.perf_counter()``); ``prior_wall``
    the wall seconds of the processes before it (a resumed run).
    """

    wall0: float
    history: dict = field(default_factory=lambda: {"epoch": [], "loss": [], "seconds": []})
    evals: list = field(default_factory=list)
    seconds: dict = field(default_factory=lambda: {"train": 0.0, "eval": 0.0})
    start: int = 1  # the first epoch this process trains
    resumed: bool = False
    prior_wall: float = 0.0
    notes: dict = field(default_factory=dict)  # e.g. why torch.compile fell back to eager

    @classmethod
    def from_checkpoint(cls, state: dict, wall0: float) -> "Progress":
        return cls(
            wall0=wall0,
            history=state["history"],
            evals=state["evals"],
            seconds=state["seconds"],
            start=state["epoch"] + 1,
            resumed=True,
            prior_wall=state["seconds"].get("wall", 0.0),
        )

    def wall(self) -> float:
        """Wall seconds of the whole run so far, earlier processes included."""
        return self.prior_wall + time.perf_counter() - self.wall0


def environment(device: torch.device) -> dict:
    """torch and Python versions, the device and its name, the CPU threads."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "device_name": name,
        "cpu_threads": torch.get_num_threads(),
    }


def run_environment(device: torch.device, progress: Progress, images_per_epoch: int) -> dict:
    """:func:`environment`, the run's seconds and throughput, and its notes."""
    secs = progress.seconds
    n_images = len(progress.history["epoch"]) * images_per_epoch
    return environment(device) | {
        "wall_seconds": progress.wall(),
        "train_seconds": secs["train"],
        "eval_seconds": secs["eval"],
        "train_images_per_s": n_images / max(secs["train"], 1e-9),
        "end_to_end_images_per_s": n_images / max(secs["train"] + secs["eval"], 1e-9),
        **progress.notes,
    }


def run_record(
    config: Config,
    profile: str | None,
    profile_changes: dict | None,
    split,
    fast: dict,
    env: dict,
    progress: Progress,
    complete: bool,
    threshold_curve: dict | None = None,
    registration: dict | None = None,
) -> dict:
    """The record of ``run.json`` (see the module doc); both summaries from
    :mod:`attnlib.protocols`."""
    return {
        "config": config.to_dict(),
        "profile": profile,
        "profile_changes": profile_changes or {},
        "split": {"train": list(split.train), "val": list(split.val), "test": list(split.test)},
        "registration": registration,
        "history": progress.history,
        "evals": progress.evals,
        "fast_path": fast,
        "summary": summarize(progress.evals, bool(split.val), threshold_curve),
        "threshold_curve": threshold_curve,
        "environment": env,
        "resumed_from": progress.start if progress.resumed else None,
        "complete": complete,
    }
