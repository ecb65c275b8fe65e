"""Before the first epoch: the run folder, the device, the data and its loader, the model restored.

The first steps of :func:`attnlib.train.fit`: :func:`prepare_run` (folder, device, determinism,
the weights' seed), :func:`prepare_data` (the slices, registered to their labels when
``Config.register`` asks, and the seeded loader of augmented crops) and, once the model is
built and the fast path decided, :func:`restore` (memory format, a checkpoint's weights,
optimizer and gradient-scaler state, the progress so far).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from attnlib.config import Config
from attnlib.epoch import make_scaler
from attnlib.inference import resolve_device
from attnlib.records import Progress


@dataclass
class TrainingData:
    """The slices, their split, and the loader of augmented training items."""

    images: np.ndarray  # uint8 (30, 512, 512), registered when config.register asks
    labels: np.ndarray  # (30, 512, 512), 1 = cell
    split: object  # attnlib.data.Split: train, val and test slice indices
    loader: torch.utils.data.DataLoader
    registration: dict | None = None  # attnlib.registration.register's record


def prepare_run(config: Config) -> tuple[Path, torch.device]:
    """Create the run folder, pick the device, set determinism and seed the weights' draw."""
    out = config.run_dir()
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(config.device)
    if config.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = device.type == "cuda" and not config.deterministic
    torch.manual_seed(config.seed)
    return out, device


def prepare_data(config: Config, device: torch.device) -> TrainingData:
    """Load the slices (registered to their labels if asked); the training set of augmented
    crops and its loader, in a seeded order."""
    from attnlib import augment, data, registration

    images, labels = data.load_isbi2012()
    split = data.get_split(config.split)
    images, moved = registration.register(images, labels, split.train, config.register)
    train_set = data.ISBIDataset(
        images,
        labels,
        split.train,
        augment.build_augmentation(config.augmentation),
        crop=config.crop or None,
        samples_per_epoch=config.samples_per_epoch or None,
        seed=config.seed,
    )
    sampler = data.EpochSampler(len(train_set), seed=config.seed)
    loader = torch.utils.data.DataLoader(
        train_set,
        batch_size=config.effective_batch_size,
        sampler=sampler,
        num_workers=config.num_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=config.num_workers > 0,
    )
    return TrainingData(images, labels, split, loader, moved)


def restore(model, opt, fast: dict, state: dict | None, wall0: float, device: torch.device):
    """The model in the fast path's memory format, with the checkpoint's weights and optimizer
    state when resuming; the fp16 path's gradient scaler (None on the others); and the run's
    progress so far (none for a new run). Returns ``(model, scaler, progress)``."""
    if fast["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    scaler = make_scaler(fast, device)
    if not state:
        return model, scaler, Progress(wall0=wall0)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    if scaler is not None and "scaler" in state:
        scaler.load_state_dict(state["scaler"])
    return model, scaler, Progress.from_checkpoint(state, wall0)
