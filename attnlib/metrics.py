"""Segmentation metrics: the paper's four scores (Eq. 6-9) and the ISBI 2012 scores.

Inputs are class maps, 1 = cell interior and 0 = membrane, of shape (N, H, W) or
(H, W), as numpy arrays (torch tensors are converted). Everything starts from one
2x2 table of counts::

    confusion(pred, label)[i, j] = #pixels predicted as class i with label j

(rows = prediction, columns = label, the layout of the paper's ``utils.evaluate``).
With p_ij = counts / total, s_i = sum_j p_ij (prediction marginal) and
t_j = sum_i p_ij (label marginal):

    pixel accuracy (Eq. 6) = sum_i p_ii
    mIoU           (Eq. 7) = 1/2 sum_k p_kk / (s_k + t_k - p_kk)
    V_rand         (Eq. 8) = sum_ij p_ij^2 / (alpha sum_i s_i^2 + (1 - alpha) sum_j t_j^2)
    V_info         (Eq. 9) = I / ((1 - alpha) H(s) + alpha H(t)),
                             I = sum_ij p_ij log(p_ij + eps) - sum_i s_i log(s_i + eps)
                                 - sum_j t_j log(t_j + eps),
                             H(x) = -sum x log(x + eps),   natural log, eps = 1e-7

alpha = 0.5. The weights of V_info are swapped relative to V_rand (alpha on the
label entropy), as in the paper's code; with alpha = 0.5 this makes no difference.

Like the paper's code, the scores pool the pixels of all images into one table
(``per_image=False``); ``per_image=True`` gives one score per image instead.

Edge cases. The paper's code takes the number of classes from the labels, so a
label stack with one class only gives a 1x1 table: V_rand, V_info and mIoU become
NaN or meaningless there. Here the table is always 2x2:

* a class absent from both prediction and label has IoU 1.0 (nothing to get wrong)
  and still counts in the mean; absent from one of them, its IoU is 0.0;
* V_rand is always defined; V_info keeps the reference's eps, so it is never 0/0
  (prediction and label each of a single class score 1.0).

With both classes in the label (every real ISBI slice) the values equal the
paper's code to 1e-12. Note that V_rand and V_info here compare two partitions
into just two "segments" (membrane, cell): they ignore which class is which (a
prediction with the classes swapped scores 1.0), and they do not notice two cells
merged through a gap in a membrane. The challenge's own scores do; they live in
:mod:`attnlib.isbi_metrics` and are re-exported here.
"""

from __future__ import annotations

import numpy as np

from attnlib.isbi_metrics import check_inputs, isbi_scores, isbi_vinfo, isbi_vrand
from attnlib.tables import fmt_number, markdown_table

__all__ = [
    "confusion",
    "pixel_accuracy",
    "mean_iou",
    "vrand_class",
    "vinfo_class",
    "accuracy_from_confusion",
    "iou_from_confusion",
    "vrand_from_confusion",
    "vinfo_from_confusion",
    "class_scores",
    "isbi_scores",
    "isbi_vrand",
    "isbi_vinfo",
    "evaluate",
    "format_table",
    "METRICS",
]

METRICS = ("pixel_accuracy", "mean_iou", "vrand_class", "vinfo_class", "isbi_vrand", "isbi_vinfo")
EPS = 1e-7  # as in the paper's utils.evaluate (inside the logs only)


# ---------------------------------------------------------------- the 2x2 counts
def confusion(pred, label, per_image: bool = False) -> np.ndarray:
    """Counts ``cm[i, j]`` of pixels predicted as class i whose label is j (int64).

    Returns (2, 2), pooled over all images, or (N, 2, 2) with ``per_image=True``.
    One np.bincount does it: pixel -> code 4 * image + 2 * pred + label.
    """
    pred, label, is_prob = check_inputs(pred, label)
    if is_prob:
        raise ValueError(
            "confusion() needs a class map; threshold probabilities first, e.g. (prob > 0.5)"
        )
    n_images = label.shape[0]
    image = np.arange(n_images).reshape(-1, 1, 1)
    codes = (4 * image + 2 * pred.astype(np.int64) + label).ravel()
    counts = np.bincount(codes, minlength=4 * n_images).reshape(n_images, 2, 2)
    return counts if per_image else counts.sum(axis=0)


# ------------------------------------------- scores from counts (any (..., 2, 2))
def _probabilities(cm: np.ndarray):
    """p_ij, s_i (prediction marginal) and t_j (label marginal) from counts."""
    cm = np.asarray(cm, dtype=np.float64)
    p = cm / cm.sum(axis=(-2, -1), keepdims=True)
    return p, p.sum(axis=-1), p.sum(axis=-2)


def accuracy_from_confusion(cm) -> np.ndarray:
    """Eq. 6: the fraction of pixels on the diagonal, sum_i p_ii."""
    p, _, _ = _probabilities(cm)
    return np.trace(p, axis1=-2, axis2=-1)


def iou_from_confusion(cm) -> np.ndarray:
    """IoU_k = n_kk / (n_k. + n_.k - n_kk) for k = 0 (membrane), 1 (cell); shape (..., 2).

    A class absent from both prediction and label (empty union) gets 1.0.
    """
    cm = np.asarray(cm, dtype=np.float64)
    hits = np.diagonal(cm, axis1=-2, axis2=-1)
    union = cm.sum(axis=-1) + cm.sum(axis=-2) - hits
    return np.where(union > 0, hits / np.where(union > 0, union, 1.0), 1.0)


def vrand_from_confusion(cm, alpha: float = 0.5) -> np.ndarray:
    """Eq. 8: sum p_ij^2 / (alpha sum s_i^2 + (1 - alpha) sum t_j^2)."""
    p, s, t = _probabilities(cm)
    return (p**2).sum(axis=(-2, -1)) / (alpha * (s**2).sum(-1) + (1 - alpha) * (t**2).sum(-1))


def vinfo_from_confusion(cm, alpha: float = 0.5, eps: float = EPS) -> np.ndarray:
    """Eq. 9 with the reference's eps: I / ((1 - alpha) H(s) + alpha H(t)), natural log."""
    p, s, t = _probabilities(cm)

    def plogp(x, axes):
        return (x * np.log(x + eps)).sum(axis=axes)

    h_pred, h_label = -plogp(s, -1), -plogp(t, -1)
    mutual_info = plogp(p, (-2, -1)) + h_pred + h_label
    # the eps leaves the ratio at about -4e-7 when one side has a single class: clip to the true 0
    return np.clip(mutual_info / ((1 - alpha) * h_pred + alpha * h_label), 0.0, 1.0)


# ---------------------------------------------------- thin wrappers on class maps
def _score(fn, pred, label, per_image, **kwargs):
    value = fn(confusion(pred, label, per_image=per_image), **kwargs)
    return value if per_image else float(value)


def pixel_accuracy(pred, label, per_image: bool = False):
    """Pixel accuracy (Eq. 6); a float, or an (N,) array with ``per_image=True``."""
    return _score(accuracy_from_confusion, pred, label, per_image)


def mean_iou(pred, label, per_image: bool = False):
    """Mean over the two classes of the IoU (Eq. 7)."""
    return _score(lambda cm: iou_from_confusion(cm).mean(axis=-1), pred, label, per_image)


def vrand_class(pred, label, alpha: float = 0.5, per_image: bool = False):
    """V_rand of the 2x2 class table (Eq. 8), as in the paper's code."""
    return _score(vrand_from_confusion, pred, label, per_image, alpha=alpha)


def vinfo_class(pred, label, alpha: float = 0.5, per_image: bool = False):
    """V_info of the 2x2 class table (Eq. 9), as in the paper's code."""
    return _score(vinfo_from_confusion, pred, label, per_image, alpha=alpha)


def class_scores(pred, label, per_image: bool = False) -> dict:
    """The paper's four metrics from one confusion table."""
    cm = confusion(pred, label, per_image=per_image)
    scores = {
        "pixel_accuracy": accuracy_from_confusion(cm),
        "mean_iou": iou_from_confusion(cm).mean(axis=-1),
        "vrand_class": vrand_from_confusion(cm),
        "vinfo_class": vinfo_from_confusion(cm),
    }
    return scores if per_image else {k: float(v) for k, v in scores.items()}


# ------------------------------------------------------------------- everything
def evaluate(pred_or_prob, label, thresholds=None, curves: bool = False):
    """All six metrics as plain floats (keys: ``METRICS``).

    ``pred_or_prob``: a class map (int/bool) or a cell probability (float in [0, 1]).
    A probability is thresholded at 0.5 (``prob > 0.5``, what argmax of two softmax
    outputs gives) for the class metrics and used as it is for the ISBI scores,
    which take the best of ``thresholds`` (default 0.0, 0.1, ..., 0.9) on these very
    slices: the challenge's own protocol. With ``curves=True`` also return the ISBI
    scores at every threshold, ``{"thresholds": [...], "isbi_vrand": [...],
    "isbi_vinfo": [...]}``, so that a threshold can be chosen on other slices.
    """
    pred, label, is_prob = check_inputs(pred_or_prob, label)
    class_map = (pred > 0.5).astype(np.uint8) if is_prob else pred
    isbi = isbi_scores(pred, label, thresholds)
    scores = {
        **class_scores(class_map, label),
        "isbi_vrand": isbi["isbi_vrand"],
        "isbi_vinfo": isbi["isbi_vinfo"],
    }
    if not curves:
        return scores
    per = isbi["per_threshold"]  # {threshold: (V_rand, V_info)}
    curve = {
        "thresholds": list(per),
        "isbi_vrand": [v[0] for v in per.values()],
        "isbi_vinfo": [v[1] for v in per.values()],
    }
    return scores, curve


def format_table(rows, digits: int = 4, name: str = "run") -> str:
    """A Markdown table: one row per ``(name, metrics dict)``, one column per key.

    ``rows`` is a dict ``{name: {metric: value}}`` or a list of ``(name, dict)``
    pairs. Columns follow the first appearance of each key; a missing value is
    left blank; floats get ``digits`` decimals (:func:`attnlib.tables.fmt_number`: nan is "n/a").
    """
    items = list(rows.items()) if isinstance(rows, dict) else list(rows)
    columns = list(dict.fromkeys(key for _, metrics in items for key in metrics))

    def cell(value) -> str:
        if value is None:
            return ""
        if isinstance(value, (float, np.floating)):
            return fmt_number(value, digits)
        return str(value)

    body = ([row_name, *(cell(metrics.get(c)) for c in columns)] for row_name, metrics in items)
    return markdown_table([name, *columns], body, align="l" + "r" * len(columns))
