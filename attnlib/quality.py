"""Quality control of a trained model: per-slice scores, named errors, thresholds.

The checks of ZeroCostDL4Mic's quality-control section, for cell probabilities
``probs`` (float ``(N, H, W)``, P(cell)) and labels (``(N, H, W)``, 1 = cell,
0 = membrane)::

    scores = slice_scores(probs, labels)             # one mIoU, V_rand per slice
    errors = error_map(probs > 0.5, labels)          # 0 ok, 1 missed, 2 false
    worst = worst_errors(probs[0] > 0.5, labels[0])  # named: merge, split, ...
    sweep = threshold_sweep(probs, labels, slices=[20, 21, 22, 23, 24])

Test-time augmentation, view by view, is :mod:`attnlib.tta`.

Every function reads only the slices it is given (``threshold_sweep`` takes
``slices=`` to pick them from a whole stack), so a threshold chosen here on
non-test slices is a choice the test slices had no part in.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.measure import label as connected_components
from skimage.measure import regionprops

from attnlib.isbi_metrics import DEFAULT_THRESHOLDS, ground_truth_cells
from attnlib.isbi_metrics import isbi_scores
from attnlib.metrics import mean_iou
from attnlib.protocols import THRESHOLD_SLICES

__all__ = [
    "ERROR_KINDS",
    "THRESHOLDS",
    "THRESHOLD_SLICES",
    "slice_scores",
    "error_map",
    "classify_error",
    "worst_errors",
    "worst_in_stack",
    "threshold_sweep",
    "scores_at",
    "threshold_report",
    "membrane_fraction",
]

MISSED, FALSE = 1, 2  # error_map codes: missed membrane, false membrane
ERROR_KINDS = {
    "merge": "missed membrane joining two cells",
    "thin membrane": "missed membrane, no cells joined",
    "split": "false membrane cutting a cell in two",
    "organelle/texture": "false membrane blob inside a cell",
    "thick membrane": "false membrane on a membrane's side",
}
THRESHOLDS = DEFAULT_THRESHOLDS  # 0.0, 0.1, ..., 0.9: the run record's grid


# ------------------------------------------------------------ per-slice scores
def slice_scores(probs, labels, threshold: float = 0.5) -> dict:
    """mIoU and ISBI V_rand of each slice at one threshold.

    Args:
        probs: float ``(N, H, W)`` P(cell), or a class map.
        labels: ``(N, H, W)`` in {0, 1}.
    Returns:
        ``{"mean_iou": (N,), "isbi_vrand": (N,)}`` float arrays; mIoU of
        ``probs > threshold`` as :func:`attnlib.metrics.mean_iou`, V_rand as
        :func:`attnlib.isbi_metrics.isbi_scores` at that one threshold.
    """
    probs, labels = np.asarray(probs), np.asarray(labels)
    pred = (probs > threshold).astype(np.uint8)
    vrand = [isbi_scores(pred[i], labels[i])["isbi_vrand"] for i in range(len(pred))]
    return {
        "mean_iou": np.asarray(mean_iou(pred, labels, per_image=True)),
        "isbi_vrand": np.asarray(vrand),
    }


def membrane_fraction(probs, threshold: float = 0.5) -> float:
    """The fraction of pixels called membrane, ``probs <= threshold``.

    ``probs``: P(cell) of any shape; a label map (1 = cell) gives its own
    membrane fraction with any threshold in [0, 1).
    """
    return float((np.asarray(probs) <= threshold).mean())


# ------------------------------------------------------------------- errors
def error_map(pred, label) -> np.ndarray:
    """Per-pixel error codes: 0 right, 1 missed membrane, 2 false membrane.

    ``pred``, ``label``: ``(..., H, W)`` class maps (1 = cell). A missed
    membrane is a label-membrane pixel predicted as cell; a false membrane is
    a label-cell pixel predicted as membrane. Returns uint8 of the same shape.
    """
    pred, label = np.asarray(pred).astype(bool), np.asarray(label).astype(bool)
    out = np.zeros(label.shape, dtype=np.uint8)
    out[pred & ~label] = MISSED
    out[~pred & label] = FALSE
    return out


def _neighbours(region: np.ndarray, ring: int) -> np.ndarray:
    """The pixels within ``ring`` pixels of ``region`` but outside it."""
    grown = ndimage.binary_dilation(region, iterations=ring)
    return grown & ~region


def _shared(ids_a, ids_b, min_pixels: int) -> dict:
    """{id_a: set of ids_b it meets on >= min_pixels pixels} (ids > 0)."""
    pairs, counts = np.unique(np.stack([ids_a, ids_b]), axis=1, return_counts=True)
    out: dict = {}
    for (a, b), c in zip(pairs.T, counts):
        if a > 0 and b > 0 and c >= min_pixels:
            out.setdefault(int(a), set()).add(int(b))
    return out


def classify_error(region, pred, label, ring: int = 3, min_pixels: int = 3) -> str:
    """Name one connected error region (a key of :data:`ERROR_KINDS`).

    Args:
        region: bool ``(H, W)``, one connected region of one error kind.
        pred, label: ``(H, W)`` class maps (1 = cell).
        ring: how far around the region to look, in pixels.
        min_pixels: contact needed to count a cell or segment as touched.

    A missed membrane (predicted cell on label membrane) is a **merge** when
    its predicted segment (4-connected) reaches two ground-truth cells next
    to it, else a **thin membrane**. A false membrane (predicted membrane in a
    label cell) is a **split** when one ground-truth cell next to it falls
    into two predicted segments there; else an **organelle/texture** when it
    does not touch the label's membrane, else a **thick membrane**.
    """
    region, pred = np.asarray(region, bool), np.asarray(pred).astype(bool)
    label = np.asarray(label).astype(bool)
    segments = connected_components(pred, connectivity=1)
    cells = ground_truth_cells(label.astype(np.uint8))
    near = _neighbours(region, ring)
    if (pred[region] & ~label[region]).all():  # missed membrane
        own = set(np.unique(segments[region])) - {0}
        touched = _shared(segments[near], cells[near], min_pixels)
        merged = any(len(touched.get(s, ())) >= 2 for s in own)
        return "merge" if merged else "thin membrane"
    touched = _shared(cells[near], segments[near], min_pixels)
    inside = set(np.unique(cells[region])) - {0}
    if any(len(touched.get(c, ())) >= 2 for c in inside):
        return "split"
    on_membrane = (~label & _neighbours(region, 1)).any()
    return "thick membrane" if on_membrane else "organelle/texture"


def worst_errors(pred, label, top: int = 4) -> list[dict]:
    """The ``top`` largest connected error regions of one slice, named.

    ``pred``, ``label``: ``(H, W)`` class maps. Regions are 8-connected
    components of each error code of :func:`error_map`. Returns dicts
    ``{"kind", "code", "area", "bbox" (r0, c0, r1, c1), "mask" (H, W) bool}``,
    largest first.
    """
    errors = error_map(pred, label)
    found = []
    for code in (MISSED, FALSE):
        comps = connected_components(errors == code, connectivity=2)
        found += [(r.area, code, r.label, r.bbox, comps) for r in regionprops(comps)]
    found.sort(key=lambda f: -f[0])
    out = []
    for area, code, lab, bbox, comps in found[:top]:
        mask = comps == lab
        out.append(
            {
                "kind": classify_error(mask, pred, label),
                "code": code,
                "area": int(area),
                "bbox": tuple(bbox),
                "mask": mask,
            }
        )
    return out


def worst_in_stack(preds, labels, top: int = 4) -> list[dict]:
    """The ``top`` largest error regions of a stack, named, largest first.

    ``preds``, ``labels``: ``(N, H, W)`` class maps. Each dict is one of
    :func:`worst_errors` with ``"slice"`` added (its position in the stack).
    """
    found = []
    for i, (pred, label) in enumerate(zip(preds, labels)):
        found += [dict(e, slice=i) for e in worst_errors(pred, label, top)]
    return sorted(found, key=lambda e: -e["area"])[:top]


# --------------------------------------------------------- threshold sweep
def threshold_sweep(probs, labels, thresholds=THRESHOLDS, slices=None) -> dict:
    """mIoU and ISBI V_rand at each threshold, and the best threshold of each.

    Args:
        probs: float ``(N, H, W)`` P(cell); labels: ``(N, H, W)``.
        thresholds: the candidates.
        slices: indices into the first axis; only these slices are read
            (default: all). Pass the non-test slices to choose honestly.
    Returns:
        ``{"thresholds": [...], "mean_iou": [...], "isbi_vrand": [...],
        "best": {"mean_iou": t, "isbi_vrand": t}, "slices": [...]}``; the
        best is the first on ties.
    """
    idx = list(range(len(labels))) if slices is None else list(slices)
    p = np.stack([np.asarray(probs[i]) for i in idx])
    lab = np.stack([np.asarray(labels[i]) for i in idx])
    thresholds = [float(t) for t in thresholds]
    miou = [mean_iou((p > t).astype(np.uint8), lab) for t in thresholds]
    per = isbi_scores(p, lab, thresholds)["per_threshold"]
    vrand = [per[t][0] for t in thresholds]
    best = {
        name: thresholds[int(np.argmax(v))]
        for name, v in (("mean_iou", miou), ("isbi_vrand", vrand))
    }
    return {
        "thresholds": thresholds,
        "mean_iou": miou,
        "isbi_vrand": vrand,
        "best": best,
        "slices": idx,
    }


def scores_at(probs, labels, threshold: float) -> dict:
    """Stack mIoU and ISBI V_rand at one fixed threshold (nothing chosen).

    ``probs``: float ``(N, H, W)``; ``labels``: ``(N, H, W)``. Returns
    ``{"mean_iou": float, "isbi_vrand": float}``.
    """
    probs = np.asarray(probs)
    vrand = isbi_scores(probs, labels, (threshold,))["isbi_vrand"]
    return {"mean_iou": mean_iou((probs > threshold).astype(np.uint8), labels), "isbi_vrand": vrand}


def threshold_report(maps: dict, labels, choose, score, thresholds=THRESHOLDS) -> tuple[dict, dict]:
    """Thresholds chosen on ``choose``, applied once to ``score``.

    Args:
        maps: ``{name: (N, H, W) P(cell)}``; labels: ``(N, H, W)``.
        choose, score: disjoint indices into N: where the threshold is picked
            (best mIoU, best ISBI V_rand) and where it is then scored.
    Returns:
        ``(rows, sweeps)``: rows ``{name: {"mIoU at 0.5", "t (mIoU)",
        "mIoU at t", "V_rand at 0.5", "t (V_rand)", "V_rand at t"}}`` on
        ``score``, and the :func:`threshold_sweep` of each map on ``choose``.
    """
    if set(choose) & set(score):
        raise ValueError(f"choose {choose} and score {score} overlap")
    score, rows, sweeps = list(score), {}, {}
    lab = np.stack([labels[i] for i in score])
    for name, probs in maps.items():
        sweeps[name] = sw = threshold_sweep(probs, labels, thresholds, choose)
        p = np.stack([probs[i] for i in score])
        at_half = scores_at(p, lab, 0.5)
        t_iou, t_rand = sw["best"]["mean_iou"], sw["best"]["isbi_vrand"]
        rows[name] = {
            "mIoU at 0.5": at_half["mean_iou"],
            "t (mIoU)": t_iou,
            "mIoU at t": scores_at(p, lab, t_iou)["mean_iou"],
            "V_rand at 0.5": at_half["isbi_vrand"],
            "t (V_rand)": t_rand,
            "V_rand at t": scores_at(p, lab, t_rand)["isbi_vrand"],
        }
    return rows, sweeps
