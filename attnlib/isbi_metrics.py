"""ISBI-2012 challenge scores: V_rand and V_info after border thinning.

These are the official scores of the ISBI 2012 EM segmentation challenge
(Arganda-Carreras et al. 2015, Front. Neuroanat. 9:142), as computed by the Fiji
script "Segmentation evaluation after border thinning"
(``trainableSegmentation.metrics`` ``RandError.getMaximalVRandAfterThinning`` and
``VariationOfInformation.getMaximalVInfoAfterThinning``). For each slice and each
threshold ``t`` in 0.0, 0.1, ..., 0.9:

1. ground-truth cells = 4-connected components of the cell class (label == 1);
   the ground-truth membrane is *not* thinned;
2. predicted cells = ``prob > t``; the predicted membrane is thinned to 1-pixel
   lines by a seeded watershed: markers = 4-connected components of the
   predicted cells, elevation = the binary membrane mask (Fiji runs a classic
   watershed on the binarised proposal too), ``watershed_line=True``;
3. only ground-truth cell pixels ("foreground") are counted, and every
   pixel on a predicted line is a segment of its own (a singleton);
4. from the contingency table n_ij (GT cell i, predicted segment j) with
   a_i = sum_j n_ij, b_j = sum_i n_ij and n = sum_ij n_ij:

   V_rand = 2 sum_ij n_ij^2 / (sum_i a_i^2 + sum_j b_j^2)      (Rand F-score, alpha 0.5)
   V_info = 2 I(A;B) / (H(A) + H(B))                           (information F-score)

   where H and I use p = counts / n and the natural log.

The per-slice scores are averaged for each threshold; the result is the best mean
over the thresholds (so the whole stack shares one threshold, as in Fiji).

How this differs from the neighbours:

* ``skimage.metrics.adapted_rand_error`` also drops GT label 0, but counts pairs
  of *distinct* pixels (sum n_ij^2 - n instead of sum n_ij^2, likewise for a and b),
  treats predicted label 0 as one ordinary segment rather than singletons, and
  neither thresholds nor thins. The two agree only at a perfect score.
* The class-table scores ``metrics.vrand_class`` / ``metrics.vinfo_class`` (paper
  Eq. 8-9) use a 2x2 table in which "membrane" and "cell" are the only two
  "segments": merging two cells through a gap in a membrane costs them one pixel,
  while here it merges two whole segments.

Known differences from Fiji: watershed ties on thick membranes are broken by
scikit-image's flooding order, so a line can sit one pixel away from Fiji's. Fiji
loops ``for (th = 0; th <= 1; th += 0.1)``, whose rounding adds an 11th threshold
(0.9999999999999999) for probability maps; pass ``thresholds=`` to include it. When both
partitions are a single segment Fiji returns V_info = 0; we return 1.0. A slice
with no ground-truth cell pixel scores 1.0 (nothing to disagree on; Fiji divides by 0).

This module is the lower layer: it also holds the input checks that
``attnlib.metrics`` reuses.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from skimage.measure import label as connected_components
from skimage.metrics import contingency_table
from skimage.segmentation import watershed

DEFAULT_THRESHOLDS = tuple(i / 10 for i in range(10))  # 0.0, 0.1, ..., 0.9
LABEL_FIX = (
    "map ISBI PNG labels with (png > 0).astype(np.int64): 255 (cell) -> 1, 0 (membrane) -> 0"
)


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, possibly on the GPU
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def check_inputs(pred_or_prob, label) -> tuple[np.ndarray, np.ndarray, bool]:
    """Validate a prediction and labels; return them as (N, H, W) arrays.

    ``pred_or_prob`` is either a class map (integer or bool; 1 = cell, 0 = membrane)
    or a cell-probability map (float in [0, 1]). ``label`` is a class map.
    Returns ``(pred_or_prob, label, is_prob)``; a bool label becomes int64.
    Raises ValueError naming the problem and the fix.
    """
    pred, lab = _to_numpy(pred_or_prob), _to_numpy(label)
    if pred.shape != lab.shape:
        raise ValueError(
            f"prediction has shape {pred.shape} but label has shape {lab.shape}; both must be "
            "(N, H, W) or (H, W). For logits (N, 2, H, W) pass logits.argmax(1) (class map) "
            "or logits.softmax(1)[:, 1] (cell probability); drop a channel axis with squeeze(1)."
        )
    if lab.ndim not in (2, 3) or lab.size == 0:
        raise ValueError(f"expected non-empty (N, H, W) or (H, W) arrays, got shape {lab.shape}")
    if lab.dtype.kind not in "biu":
        raise ValueError(
            f"label must be an integer or bool class map, got dtype {lab.dtype}; {LABEL_FIX}"
        )
    if ((lab != 0) & (lab != 1)).any():
        raise ValueError(
            f"label values must be 0 (membrane) or 1 (cell); found {np.unique(lab)[:8]}; "
            f"{LABEL_FIX}"
        )
    is_prob = pred.dtype.kind == "f"
    if is_prob:
        if not np.isfinite(pred).all():
            raise ValueError("probability map contains NaN or inf; check the model output")
        if pred.min() < 0 or pred.max() > 1:
            raise ValueError(
                f"probabilities must lie in [0, 1], found [{pred.min():.4g}, {pred.max():.4g}]; "
                "for logits use torch.softmax(logits, 1)[:, 1] (or a sigmoid for one channel)"
            )
    elif pred.dtype.kind in "biu":
        if ((pred != 0) & (pred != 1)).any():
            raise ValueError(
                f"class-map prediction values must be 0 or 1, found {np.unique(pred)[:8]}; "
                "pass logits.argmax(1), or a float cell probability"
            )
    else:
        raise ValueError(
            "prediction must be an int/bool class map or a float probability map, got dtype "
            f"{pred.dtype}"
        )
    if lab.ndim == 2:
        pred, lab = pred[None], lab[None]
    return pred, lab.astype(np.int64, copy=False), is_prob


def ground_truth_cells(label2d: np.ndarray) -> np.ndarray:
    """Ground-truth segments: 4-connected components of the cell class (0 = membrane)."""
    return connected_components(label2d == 1, connectivity=1)


def _interior(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` whose four neighbours are in ``mask`` too (the image edge counts as
    in)."""
    inner = mask.copy()
    inner[1:] &= mask[:-1]
    inner[:-1] &= mask[1:]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return inner


def thinned_segments(cell_mask: np.ndarray) -> np.ndarray:
    """Predicted segments after border thinning (0 = the 1-pixel border lines).

    Seeds are the 4-connected components of ``cell_mask``; the watershed floods the
    flat, binary membrane from them and leaves a one-pixel line (label 0) where two
    segments meet. Speed-up: a cell's interior (pixels whose four neighbours are all
    cell) can never reach the membrane first, so only each cell's outer ring seeds
    the flood and the interior is masked out, then copied back. This is the same
    flooding (up to how the watershed breaks ties on thick membranes) at a fraction
    of the cost. With no predicted cell the whole image is one segment (a classic
    watershed floods a flat image as a single basin).
    """
    markers = connected_components(cell_mask, connectivity=1)
    if markers.max() == 0:
        return np.ones(cell_mask.shape, dtype=np.int32)
    interior = _interior(cell_mask)
    segments = watershed(
        (~cell_mask).astype(np.uint8),
        np.where(interior, 0, markers),
        connectivity=1,
        mask=~interior,
        watershed_line=True,
    )
    segments[interior] = markers[interior]
    return segments


def _entropy(counts: np.ndarray, n: int) -> float:
    """H = -sum p log p with p = counts / n (natural log); zero counts contribute 0."""
    p = counts[counts > 0] / n
    return float(-(p * np.log(p)).sum())


def segmentation_scores(gt_cells: np.ndarray, segments: np.ndarray) -> tuple[float, float]:
    """(V_rand, V_info) of one slice, foreground-restricted, border pixels as singletons.

    ``gt_cells``: GT segment ids, 0 = membrane (not counted). ``segments``: predicted
    segment ids, 0 = border line. A line pixel is a segment of its own: it adds
    1^2 to sum n_ij^2 and to sum b_j^2, and (1/n) log n to H(B) and to H(A, B).
    """
    fg = gt_cells > 0
    n = int(fg.sum())
    if n == 0:
        return 1.0, 1.0
    gt, seg = gt_cells[fg], segments[fg]
    on_line = seg == 0
    singles = int(on_line.sum())
    a = np.bincount(gt)[1:].astype(np.float64)  # GT cell sizes (line pixels included)
    table = contingency_table(gt[~on_line], seg[~on_line], sparse_type="array")
    n_ij = table.data.astype(np.float64)  # the non-zero entries of the table
    b = np.asarray(table.sum(axis=0), dtype=np.float64).ravel()  # predicted segment sizes

    vrand = 2.0 * ((n_ij**2).sum() + singles) / ((a**2).sum() + (b**2).sum() + singles)

    single_h = singles / n * np.log(n)
    h_a, h_b, h_ab = _entropy(a, n), _entropy(b, n) + single_h, _entropy(n_ij, n) + single_h
    if h_a + h_b == 0.0:  # both partitions are a single segment: identical
        return float(vrand), 1.0
    mutual_info = h_a + h_b - h_ab
    return float(vrand), float(np.clip(2.0 * mutual_info / (h_a + h_b), 0.0, 1.0))


def _slice_scores(prob: np.ndarray, label: np.ndarray, thresholds) -> np.ndarray:
    """(V_rand, V_info) of one slice for each threshold: shape (len(thresholds), 2)."""
    gt = ground_truth_cells(label)
    scores = np.zeros((len(thresholds), 2))
    previous_mask = None
    for k, t in enumerate(thresholds):
        mask = prob > t
        if previous_mask is not None and np.array_equal(mask, previous_mask):
            scores[k] = scores[k - 1]  # same binary map, same scores
        else:
            scores[k] = segmentation_scores(gt, thinned_segments(mask))
        previous_mask = mask
    return scores


def isbi_scores(prob_or_pred, label, thresholds=None, workers: int | None = None) -> dict:
    """Best stack-mean V_rand and V_info over thresholds (ISBI 2012, after thinning).

    For a class map the thresholds make no difference, so only t = 0 is used (as
    Fiji's "binary proposal" mode). Slices run in ``workers`` threads (default: one
    per CPU core; scikit-image's watershed releases the GIL). Returns
    ``{"isbi_vrand", "isbi_vinfo", "vrand_threshold", "vinfo_threshold",
    "per_threshold"}``; ``per_threshold`` maps each threshold to its
    (mean V_rand, mean V_info).
    """
    prob, lab, is_prob = check_inputs(prob_or_pred, label)
    thresholds = (
        tuple(DEFAULT_THRESHOLDS if thresholds is None else thresholds) if is_prob else (0.0,)
    )
    workers = min(len(lab), workers or os.cpu_count() or 1)
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            per_slice = list(pool.map(_slice_scores, prob, lab, [thresholds] * len(lab)))
    else:
        per_slice = [_slice_scores(p, lb, thresholds) for p, lb in zip(prob, lab)]
    mean = np.mean(per_slice, axis=0)  # (thresholds, 2): average over slices first
    best = mean.argmax(axis=0)  # then the best threshold (the first one on ties)
    return {
        "isbi_vrand": float(mean[best[0], 0]),
        "isbi_vinfo": float(mean[best[1], 1]),
        "vrand_threshold": float(thresholds[best[0]]),
        "vinfo_threshold": float(thresholds[best[1]]),
        "per_threshold": {float(t): (float(r), float(i)) for t, (r, i) in zip(thresholds, mean)},
    }


def isbi_vrand(prob_or_pred, label, thresholds=None, return_threshold: bool = False):
    """Foreground-restricted Rand F-score after thinning (ISBI 2012); see module doc."""
    out = isbi_scores(prob_or_pred, label, thresholds)
    return (out["isbi_vrand"], out["vrand_threshold"]) if return_threshold else out["isbi_vrand"]


def isbi_vinfo(prob_or_pred, label, thresholds=None, return_threshold: bool = False):
    """Foreground-restricted information-theoretic F-score after thinning (ISBI 2012)."""
    out = isbi_scores(prob_or_pred, label, thresholds)
    return (out["isbi_vinfo"], out["vinfo_threshold"]) if return_threshold else out["isbi_vinfo"]
