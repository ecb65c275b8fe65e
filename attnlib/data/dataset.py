"""Chosen slices as a torch ``Dataset`` for training and evaluation, and its epoch sampler.

Every random draw of an item (crop position, augmentation) comes from ``(seed, epoch, index)``
alone, so the items are the same in any DataLoader worker and after a resume.
"""

from __future__ import annotations

import random

import numpy as np
import torch


class ISBIDataset(torch.utils.data.Dataset):
    """Chosen slices as (image, mask) pairs for training or evaluation.

    Each item is ``image`` float32 ``(1, H, W)`` scaled to [0, 1] and ``mask`` int64 ``(H, W)``
    in {0, 1}. (The paper's code fed raw 0-255 values; scaling changes nothing that batch
    normalisation does not undo, and keeps the GaussNoise ``std_range`` meaningful.)

    Randomness (crop position, augmentation) is drawn from ``(seed, epoch, index)`` alone,
    so items are the same in any DataLoader worker and after a resume; call
    :meth:`set_epoch` each epoch to get fresh draws.

    Args:
        images: uint8 ``(N, H, W)``.
        labels: uint8 ``(N, H, W)`` in {0, 1}.
        indices: slices to use (default all).
        transform: an albumentations transform taking ``image=`` and ``mask=`` (or None).
        crop: side of a random square crop, taken before the transform; None = whole slice.
        samples_per_epoch: items per epoch (default ``len(indices)``); more than that cycles
            through the slices, useful with small crops.
        seed: base seed.
    """

    def __init__(
        self,
        images,
        labels,
        indices=None,
        transform=None,
        crop=None,
        samples_per_epoch=None,
        seed=0,
    ):
        images, labels = np.asarray(images), np.asarray(labels)
        if images.ndim != 3 or images.shape != labels.shape:
            raise ValueError(
                f"images {images.shape} and labels {labels.shape} must both be (N, H, W) with "
                "the same shape."
            )
        if not np.isin(np.unique(labels), (0, 1)).all():
            raise ValueError(
                f"labels are not binary: found values {np.unique(labels)[:8].tolist()}, expected "
                f"{{0, 1}}. "
                f"Use attnlib.data.labels_from_png for 0/255 label images."
            )
        self.images, self.labels = images, labels
        self.indices = (
            tuple(range(len(images))) if indices is None else tuple(int(i) for i in indices)
        )
        if crop is not None:
            crop = (crop, crop) if isinstance(crop, int) else tuple(crop)
            if crop[0] != crop[1]:
                raise ValueError(
                    f"crop {crop} is not square: RandomRotate90 would swap its sides. Use one int."
                )
            h, w = images.shape[1:]
            if crop[0] > h or crop[1] > w:
                raise ValueError(
                    f"crop {crop} is larger than the images ({h}, {w}): use a crop <= the image "
                    "size or crop=None."
                )
        self.crop, self.transform, self.seed, self.epoch = crop, transform, int(seed), 0
        self.samples_per_epoch = samples_per_epoch or len(self.indices)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.samples_per_epoch

    def __getitem__(self, item):
        epoch, item = (
            item if isinstance(item, tuple) else (self.epoch, item)
        )  # EpochSampler gives both
        idx = self.indices[item % len(self.indices)]
        rng = np.random.default_rng([self.seed, epoch, item])
        image, mask = self.images[idx], self.labels[idx]  # (H, W) uint8
        if self.crop is not None:
            (ch, cw), (h, w) = self.crop, image.shape
            y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
            image, mask = image[y : y + ch, x : x + cw], mask[y : y + ch, x : x + cw]
        if self.transform is not None:
            if hasattr(self.transform, "set_random_state"):  # albumentations 2.x
                # one generator drawn in turn by every step (set_random_seed seeds each step alike:
                # both flips then fire together, so a mirror never happens; see tests/test_data.py)
                seed = int(rng.integers(2**31))
                self.transform.set_random_state(np.random.default_rng(seed), random.Random(seed))
            out = self.transform(image=np.ascontiguousarray(image), mask=np.ascontiguousarray(mask))
            image, mask = out["image"], out["mask"]
        image = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32) / 255.0)[
            None
        ]  # (1, H, W)
        mask = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.int64))  # (H, W)
        return image, mask


class EpochSampler(torch.utils.data.Sampler):
    """Shuffles ``range(n)`` by ``(seed, epoch)`` and yields ``(epoch, index)`` pairs.

    Passing the epoch with each index keeps items reproducible in persistent DataLoader
    workers (whose dataset copies never see :meth:`ISBIDataset.set_epoch`) and after a resume.
    """

    def __init__(self, n: int, seed: int = 0, shuffle: bool = True):
        self.n, self.seed, self.shuffle, self.epoch = n, int(seed), shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.n, generator=g) if self.shuffle else torch.arange(self.n)
        return iter([(self.epoch, int(i)) for i in order])
