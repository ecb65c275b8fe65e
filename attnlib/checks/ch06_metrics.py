"""Checks for notebook 06 (metrics): mIoU and V_rand from a 2x2 table, the foreground Rand
F-score."""

from fractions import Fraction

import numpy as np

from ._core import correct, exercise, expect

# 2x2 tables cm[i, j] = #pixels predicted i with label j (0 = membrane, 1 = cell), with exact
# answers
# worked out by hand (as fractions).
_TABLES = [
    (
        "the 4x4 example",
        [[5, 1], [2, 8]],
        Fraction(1, 2) * (Fraction(5, 8) + Fraction(8, 11)),
        Fraction(94, 133),
    ),
    ("perfect", [[3, 0], [0, 13]], Fraction(1), Fraction(1)),
    (
        "all cell (membrane missed)",
        [[0, 0], [4, 12]],
        Fraction(1, 2) * (0 + Fraction(12, 16)),
        # sum p^2 = (16 + 144) / 256; s = (0, 1), t = (4, 12) / 16
        Fraction(160, 256) / (Fraction(1, 2) * 1 + Fraction(1, 2) * Fraction(16 + 144, 256)),
    ),
    ("classes swapped", [[0, 9], [7, 0]], Fraction(0), Fraction(1)),
    ("no membrane anywhere", [[0, 0], [0, 16]], Fraction(1), Fraction(1)),
    (
        "membrane everywhere, half labelled cell",
        [[8, 8], [0, 0]],
        Fraction(1, 2) * (Fraction(1, 2) + 0),
        Fraction(128, 256) / (Fraction(1, 2) * 1 + Fraction(1, 2) * Fraction(128, 256)),
    ),
]


def _value(got, what):
    expect(got is not None, f"{what} returned None: return a number.")
    expect(
        np.ndim(got) == 0,
        f"{what} returned shape {np.shape(got)}: return one number for the table.",
    )
    return float(got)


@exercise(
    "6.1",
    "write miou_from_confusion(cm): the mean over the two classes of cm[k, k] / (row k + column "
    "k - cm[k, k]), 1.0 for an empty union",
)
def check_miou_from_confusion(fn):
    """``fn(cm)``: the mean over the two classes of IoU_k = n_kk / (n_k. + n_.k - n_kk); 1.0 for an
    absent class."""
    for name, cm, want, _ in _TABLES:
        got = _value(fn(np.array(cm, dtype=np.int64)), "miou_from_confusion")
        if name == "no membrane anywhere" and np.isclose(got, 0.5):
            expect(
                False,
                "no membrane anywhere: membrane is absent from both prediction and label, so its "
                "IoU "
                "is 0/0; count it as 1.0 (nothing to get wrong), as attnlib does.",
            )
        expect(
            not np.isnan(got),
            f"{name}: got NaN. A class absent from prediction and label has union 0: "
            "give it IoU 1.0 instead of dividing.",
        )
        expect(
            np.isclose(got, float(want)),
            f"{name}: cm = {cm}, got {got:.4f}, expected {float(want):.4f}. "
            "IoU_k = cm[k, k] / (row sum k + column sum k - cm[k, k]), then "
            "the mean over k = 0, 1.",
        )
    correct(
        "'all cell' on 4 membrane + 12 cell pixels: pixel accuracy 0.75, mIoU 0.375 (membrane "
        "IoU is 0)."
    )


@exercise(
    "6.2",
    "write vrand_from_confusion(cm): p = cm / cm.sum(), s and t its row and column sums, sum p^2 "
    "/ (0.5 sum s^2 + 0.5 sum t^2)",
)
def check_vrand_from_confusion(fn):
    """``fn(cm)``: sum p_ij^2 / (0.5 sum s_i^2 + 0.5 sum t_j^2), p = cm / total (paper Eq. 8)."""
    for name, cm, _, want in _TABLES:
        got = _value(fn(np.array(cm, dtype=np.int64)), "vrand_from_confusion")
        expect(
            np.isclose(got, float(want)),
            f"{name}: cm = {cm}, got {got:.4f}, expected {float(want):.4f}. "
            "Normalise the counts to p = cm / cm.sum(); s = row sums, "
            "t = column sums; V_rand = sum p^2 / (0.5 sum s^2 + 0.5 sum t^2).",
        )
    correct(
        "note 'classes swapped' scores 1.0: the class table only asks whether two pixels are "
        "grouped alike."
    )


def _reference_rand(gt, seg):
    """Plain loops over the foreground pixels; segment 0 (a border line) is a singleton per
    pixel."""
    fg = gt > 0
    g, s = gt[fg].tolist(), seg[fg].tolist()
    joint, a, b, singles = {}, {}, {}, 0
    for i, j in zip(g, s):
        a[i] = a.get(i, 0) + 1
        if j == 0:
            singles += 1
            continue
        joint[(i, j)] = joint.get((i, j), 0) + 1
        b[j] = b.get(j, 0) + 1
    num = sum(v * v for v in joint.values()) + singles
    return 2 * num / (sum(v * v for v in a.values()) + sum(v * v for v in b.values()) + singles)


def _segmentations():
    rng = np.random.default_rng(6)
    strips = np.ones((6, 11), np.int64)
    strips[:, 3] = 0
    merged = np.where(strips > 0, 1, 0)  # both strips in one segment
    split = np.where(strips > 0, 1, 0)
    split[:, 7] = 0  # a line (label 0) through the right strip
    split[:, 8:] = 2
    cases = [
        (
            "the 4x4 example",
            np.array([[1, 1, 0, 2], [1, 1, 0, 2], [0, 0, 0, 0], [3, 3, 0, 4]]),
            np.ones((4, 4), np.int64),
        ),
        ("perfect", np.array([[1, 1, 0, 2], [1, 1, 0, 2]]), np.array([[5, 5, 0, 7], [5, 5, 0, 7]])),
        ("two strips merged", np.where(strips > 0, np.where(np.arange(11) < 3, 1, 2), 0), merged),
        (
            "a strip split by a line",
            np.where(strips > 0, np.where(np.arange(11) < 3, 1, 2), 0),
            split,
        ),
        ("random 12x12", rng.integers(0, 4, (12, 12)), rng.integers(0, 5, (12, 12))),
    ]
    return cases


@exercise(
    "6.3",
    "write rand_fscore(gt_cells, segments): 2 sum n_ij^2 / (sum a_i^2 + sum b_j^2) over the "
    "pixels with gt_cells > 0, each line pixel (segment 0) a segment of its own",
)
def check_rand_fscore(fn):
    """``fn(gt_cells, segments)``: 2 sum n_ij^2 / (sum a_i^2 + sum b_j^2) on GT-cell pixels, line
    pixels as singletons."""
    from attnlib.isbi_metrics import segmentation_scores

    for name, gt, seg in _segmentations():
        got = _value(fn(gt.copy(), seg.copy()), "rand_fscore")
        want = _reference_rand(gt, seg)
        expect(
            np.isclose(segmentation_scores(gt, seg)[0], want),
            "internal: reference and attnlib disagree",
        )
        fg = gt > 0
        if not np.isclose(got, want) and np.isclose(
            got, _reference_rand(np.where(gt >= 0, gt + 1, 0), seg)
        ):
            expect(
                False,
                f"{name}: you counted the ground-truth membrane (gt == 0) too. Keep only pixels "
                "with gt > 0.",
            )
        lone = np.where(seg == 0, 0, seg)
        if not np.isclose(got, want) and (seg[fg] == 0).any():
            as_segment = _reference_rand(gt, np.where(seg == 0, seg.max() + 1, lone))
            if np.isclose(got, as_segment):
                expect(
                    False,
                    f"{name}: you treated the line pixels (segment 0) as one segment. Each line "
                    "pixel is a "
                    "segment of its own: it adds 1 to sum n_ij^2 and 1 to sum b_j^2.",
                )
        expect(
            np.isclose(got, want),
            f"{name}: got {got:.4f}, expected {want:.4f}. Restrict to gt > 0; n_ij = "
            "pixels in GT cell i and segment j; a_i, b_j the row and column sums.",
        )
    correct(
        "the same formula as the class table, but over cells: a merge or split changes whole "
        "rows of n_ij."
    )
