"""The paper's split of the 30 labelled slices, and k folds over its 25 training slices.

The paper trains on slices 0-24 and tests (and, in its code, selects) on 25-29
(:data:`PAPER_SPLIT`); :func:`kfold_splits` holds out contiguous blocks of the training slices
as validation, so that a choice can be made without the test slices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
