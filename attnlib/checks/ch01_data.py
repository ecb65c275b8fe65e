"""Checks for notebook 01 (data): membrane fraction, joint rotation + flip, contiguous k-fold."""

import numpy as np
import torch

from ._core import correct, exercise, expect


def _random_labels(rng, shape, p_membrane):
    return (rng.random(shape) >= p_membrane).astype(np.uint8)  # 0 = membrane with probability p


@exercise(
    "1.1",
    "write membrane_fraction(labels) so that it returns the fraction of pixels equal to 0 "
    "(membrane), one number for the whole array",
)
def check_membrane_fraction(fn):
    """``fn(labels)``: the fraction of membrane (class 0) pixels of a {0, 1} label array of any
    shape."""
    rng = np.random.default_rng(1)
    cases = [
        ("all cell", np.ones((8, 8), np.uint8)),
        ("all membrane", np.zeros((4, 6), np.uint8)),
        ("one slice, 30% membrane", _random_labels(rng, (64, 64), 0.3)),
        ("a stack (3, 32, 48)", _random_labels(rng, (3, 32, 48), 0.2)),
        ("one row", np.array([0, 1, 1, 1], np.uint8)),
    ]
    for name, lab in cases:
        want = np.count_nonzero(lab == 0) / lab.size  # independent of the mean() idiom
        got = fn(lab.copy())
        expect(
            np.ndim(got) == 0,
            f"membrane_fraction({name}) returned shape {np.shape(got)}: return one number "
            "for the whole array, not one per slice.",
        )
        if np.isclose(got, 1 - want) and not np.isclose(want, 0.5):
            expect(
                False,
                f"membrane_fraction({name}) = {float(got):.4f} is the *cell* fraction: membrane is "
                "class 0 (the file value 0), cell is class 1.",
            )
        expect(
            np.isclose(float(got), want),
            f"membrane_fraction({name}) = {got}, expected {want:.4f}: count "
            "the pixels equal to 0 and divide by the number of pixels.",
        )
    correct(
        "about a fifth of the ISBI pixels are membrane, so 'all cell' already scores ~0.78 pixel "
        "accuracy."
    )


def _reference_rot_flip(image, mask, k, flip):
    """Independent reference (torch): rotate by k quarter turns (first axis towards the second),
    then mirror."""
    out = []
    for a in (image, mask):
        t = torch.rot90(torch.from_numpy(np.ascontiguousarray(a)), k, dims=(0, 1))
        if flip:
            t = torch.flip(t, dims=(1,))
        out.append(t.numpy())
    return out


def _asymmetric_pair(seed=0, shape=(24, 32)):
    """A non-square image with an asymmetric pattern and the mask computed from it."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    image[:3, :5] = 255  # a corner mark: every rotation/flip gives a different array
    return image, (image > 100).astype(np.uint8)


@exercise(
    "1.2",
    "write rot_flip(image, mask, k, flip): np.rot90 both arrays by k quarter turns, then, if "
    "flip, mirror both left-right, and return (image, mask)",
)
def check_rot_flip(fn):
    """``fn(image, mask, k, flip)`` -> ``(image, mask)``: ``np.rot90(., k)`` then, if flip, a
    left-right mirror."""
    for seed in range(3):
        image, mask = _asymmetric_pair(seed, shape=(24, 32) if seed < 2 else (16, 16))
        for k in range(4):
            for flip in (False, True):
                res = fn(image.copy(), mask.copy(), k, flip)
                expect(
                    isinstance(res, (tuple, list)) and len(res) == 2,
                    "rot_flip must return a pair (image, mask).",
                )
                got_img, got_mask = (np.asarray(r) for r in res)
                want_img, want_mask = _reference_rot_flip(image, mask, k, flip)
                expect(
                    got_img.shape == want_img.shape,
                    f"k={k}, flip={flip}: image shape {got_img.shape}, expected {want_img.shape} "
                    "(an odd k swaps height and width).",
                )
                expect(
                    got_mask.shape == got_img.shape,
                    f"k={k}, flip={flip}: mask shape {got_mask.shape} differs from the image's "
                    f"{got_img.shape}: apply the same rotation to both.",
                )
                expect(
                    set(np.unique(got_mask).tolist()) <= {0, 1},
                    f"k={k}, flip={flip}: the mask is no longer binary: only move pixels, never "
                    "interpolate.",
                )
                expect(
                    np.array_equal(got_mask, (got_img > 100).astype(np.uint8)),
                    f"k={k}, flip={flip}: the mask no longer lines up with the image: apply "
                    "exactly the "
                    "same operations, in the same order, to both.",
                )
                expect(
                    np.array_equal(got_img, want_img),
                    f"k={k}, flip={flip}: the image differs from the reference. Rotate first with "
                    "np.rot90(a, k), then (if flip) mirror left-right, a[:, ::-1].",
                )
                expect(
                    np.array_equal(got_mask, want_mask),
                    f"k={k}, flip={flip}: the mask differs from the reference.",
                )
    correct("image and mask move together; these 4 x 2 choices are all 8 symmetries of the square.")


@exercise(
    "1.3",
    "write contiguous_kfold(n, k): k pairs (train, val) over range(n), each val one contiguous "
    "block (np.array_split helps)",
)
def check_contiguous_kfold(fn):
    """``fn(n, k)`` -> k pairs ``(train, val)``: contiguous validation blocks partitioning
    ``range(n)``."""
    for n, k in [(25, 5), (10, 3), (7, 7), (25, 4), (12, 2)]:
        folds = fn(n, k)
        folds = list(folds)
        expect(
            len(folds) == k, f"contiguous_kfold({n}, {k}) gave {len(folds)} folds, expected {k}."
        )
        vals = []
        for i, fold in enumerate(folds):
            expect(
                len(fold) == 2,
                f"fold {i} of contiguous_kfold({n}, {k}) is not a (train, val) pair.",
            )
            train, val = sorted(int(v) for v in fold[0]), sorted(int(v) for v in fold[1])
            expect(
                len(val) > 0, f"fold {i} of contiguous_kfold({n}, {k}) has an empty validation set."
            )
            expect(
                val == list(range(val[0], val[0] + len(val))),
                f"fold {i} of contiguous_kfold({n}, {k}) validates on {val}: not a contiguous "
                "block of "
                "slices. Neighbours correlate, so keep each validation block in one piece.",
            )
            expect(
                sorted(train + val) == list(range(n)) and not set(train) & set(val),
                f"fold {i} of contiguous_kfold({n}, {k}): train and val must be disjoint and "
                "together "
                f"cover 0 .. {n - 1}.",
            )
            vals.append(val)
        flat = sorted(v for val in vals for v in val)
        expect(
            flat == list(range(n)),
            f"contiguous_kfold({n}, {k}): the validation blocks must cover every "
            "slice exactly once.",
        )
        sizes = [len(v) for v in vals]
        expect(
            max(sizes) - min(sizes) <= 1,
            f"contiguous_kfold({n}, {k}): block sizes {sizes} differ by more "
            "than one: balance them (e.g. np.array_split).",
        )
    from attnlib.data import kfold_splits

    ref = {tuple(s.val) for s in kfold_splits(5)}
    mine = {tuple(sorted(int(v) for v in f[1])) for f in fn(25, 5)}
    expect(
        mine == ref,
        f"for n=25, k=5 your blocks {sorted(mine)} differ from attnlib.data.kfold_splits' "
        f"{sorted(ref)}.",
    )
    correct("each validation block touches the training slices only at its two ends.")
