"""The ISBI 2012 EM data: checksummed download, loading, the paper's split, a Dataset.

The data are the 30 labelled 512 x 512 slices of the ISBI 2012 challenge
(Cardona et al. 2010; Arganda-Carreras et al. 2015) and the 30 unlabelled
test-volume slices, as PNGs pinned to one commit of a public repository. Every
file is checked against its SHA256 before use.

Where the files live (first match wins):

1. the ``root`` argument,
2. the ``ATTNLIB_DATA`` environment variable,
3. the user cache, ``~/.cache/attnlib/isbi2012`` on Linux (downloaded on first use).

A folder given by 1 or 2 is never written to unless you pass ``download=True``:
a missing file there is an error that says how to fix it.

Labels use the paper's classes: 1 = cell interior (file value 255), 0 = membrane.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from PIL import Image

BASE_URL = (
    "https://raw.githubusercontent.com/zhixuhao/unet/"
    "b45af4d458437d8281cc218a07fd4380818ece4a/data/membrane/"
)
N_SLICES, SIZE = 30, 512
CELL, MEMBRANE = 1, 0


class DataError(RuntimeError):
    """The data folder is missing, incomplete, or holds a file with the wrong checksum."""


def registry() -> dict[str, str]:
    """Relative path -> SHA256 of the 90 PNGs (60 labelled-volume files, 30 test slices)."""
    text = resources.files("attnlib").joinpath("resources/isbi2012.sha256").read_text()
    return {
        path: digest
        for digest, path in (line.split() for line in text.splitlines() if line.strip())
    }


def default_root() -> Path:
    """The user cache folder that the download fills (``pooch.os_cache('attnlib')/isbi2012``)."""
    import pooch

    return Path(pooch.os_cache("attnlib")) / "isbi2012"


def resolve_root(root: str | os.PathLike | None = None) -> tuple[Path, bool]:
    """Return (folder, explicit): explicit is True when the user named the folder."""
    if root is not None:
        return Path(root).expanduser(), True
    if os.environ.get("ATTNLIB_DATA"):
        return Path(os.environ["ATTNLIB_DATA"]).expanduser(), True
    return default_root(), False


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_isbi2012(root=None, download: bool | None = None, progress: bool = False) -> Path:
    """Make sure all 90 files are in the data folder, with the right checksums.

    Args:
        root: data folder; ``None`` means ``ATTNLIB_DATA`` or the user cache.
        download: fetch missing files. ``None`` (default) downloads only into the
            user cache, never into a folder you named.
        progress: show a download progress bar.

    Returns:
        The data folder.

    Raises:
        DataError: a file is missing and may not be downloaded, or a checksum differs.
    """
    folder, explicit = resolve_root(root)
    if download is None:
        download = not explicit
    reg = registry()
    for rel, digest in reg.items():  # a wrong file is an error, never silently replaced
        path = folder / rel
        if path.exists() and _sha256(path) != digest:
            raise DataError(
                f"{path} does not match its SHA256 checksum (expected {digest[:12]}...). "
                f"The copy is corrupted or not the ISBI 2012 file: delete it and run again "
                f"to re-download it, or point ATTNLIB_DATA at a good copy."
            )
    missing = [rel for rel in reg if not (folder / rel).exists()]
    if missing and not download:
        where = "root argument" if root is not None else "ATTNLIB_DATA"
        raise DataError(
            f"The ISBI 2012 data folder {folder} (from the {where}) is "
            f"{'missing' if not folder.exists() else 'incomplete'}: {len(missing)} of {len(reg)} "
            "files "
            f"are absent, e.g. {missing[0]}. Fix: point ATTNLIB_DATA at a folder holding "
            f"train/image/0.png ... (such as ../shared/data/isbi2012), or unset it to download "
            f"into the user cache, or call with download=True to fetch the missing files there."
        )
    if missing:
        import pooch

        fetcher = pooch.create(
            path=folder, base_url=BASE_URL, registry={k: f"sha256:{reg[k]}" for k in missing}
        )
        for rel in missing:
            try:
                fetcher.fetch(rel, progressbar=progress)
            except Exception as err:  # no network, a proxy, a moved file: say what to do
                raise DataError(
                    f"Could not download {rel} into {folder} ({type(err).__name__}). Without "
                    "network access, "
                    "copy the ISBI 2012 files (train/image, train/label, test) somewhere and "
                    "point "
                    f"ATTNLIB_DATA at that folder."
                ) from err
    return folder


def _read_png(path: Path) -> np.ndarray:
    arr = np.asarray(Image.open(path).convert("L"))
    if arr.shape != (SIZE, SIZE):
        raise DataError(
            f"{path} has shape {arr.shape}, expected {(SIZE, SIZE)}: not an ISBI 2012 slice."
        )
    return arr


def labels_from_png(raw: np.ndarray, name: str = "label") -> np.ndarray:
    """Map a label image {0, 255} to the paper's classes {0 = membrane, 1 = cell}."""
    values = np.unique(raw)
    if not np.isin(values, (0, 255)).all():
        raise ValueError(
            f"{name} is not binary: values {values[:8].tolist()} found, expected only 0 (membrane) "
            f"and 255 (cell). Threshold it first, e.g. (label > 127)."
        )
    return (raw == 255).astype(np.uint8)


@lru_cache(maxsize=4)
def _load_cached(folder: Path, kind: str) -> tuple[np.ndarray, ...]:
    if kind == "train":
        images = np.stack([_read_png(folder / f"train/image/{i}.png") for i in range(N_SLICES)])
        labels = np.stack(
            [
                labels_from_png(_read_png(folder / f"train/label/{i}.png"), f"train/label/{i}.png")
                for i in range(N_SLICES)
            ]
        )
        return images, labels
    return (np.stack([_read_png(folder / f"test/{i}.png") for i in range(N_SLICES)]),)


def load_isbi2012(root=None, download: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The 30 labelled slices: ``images`` uint8 ``(30, 512, 512)``, ``labels`` uint8 in {0, 1}.

    Label 1 = cell interior (file value 255), 0 = membrane, as in the paper's code.
    Returns fresh copies; the files are read and verified once per process.
    """
    folder = fetch_isbi2012(root, download)
    images, labels = _load_cached(folder.resolve(), "train")
    return images.copy(), labels.copy()


def load_isbi2012_test(root=None, download: bool | None = None) -> np.ndarray:
    """The 30 unlabelled test-volume slices, uint8 ``(30, 512, 512)`` (labels were never
    released)."""
    folder = fetch_isbi2012(root, download)
    return _load_cached(folder.resolve(), "test")[0].copy()


# --- splits -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """Slice indices. ``val`` is empty for the paper's split (it selects on ``test``)."""

    train: tuple[int, ...]
    val: tuple[int, ...]
    test: tuple[int, ...]


PAPER_TRAIN, PAPER_TEST = tuple(range(25)), tuple(range(25, 30))
PAPER_SPLIT = Split(train=PAPER_TRAIN, val=(), test=PAPER_TEST)


def kfold_splits(k: int = 5) -> list[Split]:
    """k folds over the 25 training slices, each holding out a contiguous block as validation.

    Blocks are contiguous because neighbouring slices of the stack are correlated: a random
    fold would validate on near-copies of training slices. The test slices 25-29 stay test.
    """
    if not 2 <= k <= len(PAPER_TRAIN):
        raise ValueError(
            f"k={k}: need 2 <= k <= {len(PAPER_TRAIN)} folds over the 25 training slices."
        )
    blocks = np.array_split(np.array(PAPER_TRAIN), k)
    return [
        Split(
            train=tuple(int(i) for i in PAPER_TRAIN if i not in set(b.tolist())),
            val=tuple(int(i) for i in b),
            test=PAPER_TEST,
        )
        for b in blocks
    ]


def get_split(split: str | int = "paper", k: int = 5) -> Split:
    """``"paper"`` (train 0-24, test 25-29) or a fold number ``0 .. k-1`` of
    :func:`kfold_splits`."""
    if split == "paper":
        return PAPER_SPLIT
    if isinstance(split, str) and split.isdigit():
        split = int(split)
    if isinstance(split, int) and not isinstance(split, bool):
        if not 0 <= split < k:
            raise ValueError(f"fold {split} is out of range: use 0 .. {k - 1} (or 'paper').")
        return kfold_splits(k)[split]
    raise ValueError(f"split={split!r}: use 'paper' or a fold number 0 .. {k - 1}.")


# --- the Dataset --------------------------------------------------------------------------


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
