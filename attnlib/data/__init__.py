"""The ISBI 2012 EM data: checksummed download and loading; the split and the Dataset in their
modules.

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

The package holds the files' side here and two modules; the course calls all of it as
``data.<name>`` (``data.PAPER_SPLIT``, ``data.ISBIDataset``):

    splits   the paper's split (train 0-24, test 25-29) and k contiguous folds: Split, get_split
    dataset  ISBIDataset (crops and augmentation drawn from (seed, epoch, index)), EpochSampler
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

from .dataset import EpochSampler, ISBIDataset
from .splits import PAPER_SPLIT, PAPER_TEST, PAPER_TRAIN, Split, get_split, kfold_splits

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


__all__ = [
    "BASE_URL",
    "N_SLICES",
    "SIZE",
    "CELL",
    "MEMBRANE",
    "DataError",
    "registry",
    "default_root",
    "resolve_root",
    "fetch_isbi2012",
    "labels_from_png",
    "load_isbi2012",
    "load_isbi2012_test",
    "Split",
    "PAPER_TRAIN",
    "PAPER_TEST",
    "PAPER_SPLIT",
    "kfold_splits",
    "get_split",
    "ISBIDataset",
    "EpochSampler",
]
