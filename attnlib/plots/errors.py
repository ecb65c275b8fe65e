"""Where a prediction goes wrong: the paper's Figure 5 with error maps, and crops of named errors.

The error maps colour membrane found grey, missed membrane red (a gap that can merge two cells)
and false membrane blue (it can split a cell): :data:`ERROR_COLOURS`, one legend below each
figure.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

ERROR_COLOURS = {  # the error maps of plot_predictions and plot_error_crops
    "membrane found": (0.6, 0.6, 0.6),
    "missed membrane (cell predicted)": (0.9, 0.1, 0.1),
    "false membrane (in a cell)": (0.1, 0.4, 1.0),
}


def _error_rgb(pred, label) -> np.ndarray:
    """(H, W, 3) error map: cells white, then the colours of ``ERROR_COLOURS``."""
    pred, label = np.asarray(pred), np.asarray(label)
    rgb = np.ones((*label.shape, 3))
    found, missed, false = ERROR_COLOURS.values()
    rgb[(pred == 0) & (label == 0)] = found
    rgb[(pred == 1) & (label == 0)] = missed
    rgb[(pred == 0) & (label == 1)] = false
    return rgb


def _error_legend(fig, fontsize=9):
    handles = [Patch(color=c, label=name) for name, c in ERROR_COLOURS.items()]
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=len(handles),
        fontsize=fontsize,
        frameon=False,
        handlelength=1.2,
        columnspacing=1.0,
    )


def _bare(ax):
    """No ticks, no frame, but keep the axis (and its y label)."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def plot_predictions(images, labels, probs, indices=None, threshold=0.5, scores=None, width=7.5):
    """The paper's Figure 5: image, label, P(cell) and errors for each held-out slice.

    Args:
        images: ``(N, H, W)`` slices; labels: ``(N, H, W)`` (1 = cell); probs: ``(N, H, W)``
            P(cell).
        indices: the slice numbers, for the titles.
        threshold: where P(cell) becomes a cell, for the error map and the scores.
        scores: ``{"mean_iou": (N,), "isbi_vrand": (N,)}`` per slice
            (:func:`attnlib.quality.slice_scores`, computed when None), in the error titles.
        width: figure width in inches (7.5 fits the book's column at 100 dpi).

    Errors (legend below the figure): red = missed membrane (label membrane predicted as
    cell: a gap that can merge two cells), blue = false membrane (label cell predicted as
    membrane: it can split a cell), grey = membrane found.
    """
    from attnlib.quality import slice_scores  # quality imports the metrics, not plots

    labels, probs = np.asarray(labels), np.asarray(probs)
    n = len(images)
    idx = list(range(n)) if indices is None else list(indices)
    scores = slice_scores(probs, labels, threshold) if scores is None else scores
    size = width / n
    fig, axes = plt.subplots(4, n, figsize=(width, 4 * size + 1.4), squeeze=False)
    for j in range(n):
        pred = (probs[j] > threshold).astype(np.uint8)
        vmax = 255 if np.asarray(images[j]).dtype == np.uint8 else 1
        axes[0, j].imshow(images[j], cmap="gray", vmin=0, vmax=vmax)
        axes[1, j].imshow(labels[j], cmap="gray", vmin=0, vmax=1)
        axes[2, j].imshow(probs[j], cmap="gray", vmin=0, vmax=1)
        axes[3, j].imshow(_error_rgb(pred, labels[j]))
        axes[0, j].set_title(f"slice {idx[j]}", fontsize=9)
        axes[3, j].set_title(
            f"mIoU {scores['mean_iou'][j]:.3f}\nV_rand {scores['isbi_vrand'][j]:.3f}", fontsize=9
        )
        for ax in axes[:, j]:
            _bare(ax)
    for ax, name in zip(axes[:, 0], ["image", "label", "P(cell)", f"errors at {threshold:g}"]):
        ax.set_ylabel(name, fontsize=9)
    _error_legend(fig)
    fig.tight_layout(rect=(0, 0.04, 1, 1), h_pad=0.4, w_pad=0.3)
    return fig


def _crop(shape, bbox, margin, least=48):
    """A square window (slice, slice) around ``bbox`` (r0, c0, r1, c1), inside ``shape``."""
    r0, c0, r1, c1 = bbox
    side = min(max(r1 - r0 + 2 * margin, c1 - c0 + 2 * margin, least), *shape)
    out = []
    for lo, hi, n in ((r0, r1, shape[0]), (c0, c1, shape[1])):
        start = min(max((lo + hi - side) // 2, 0), n - side)
        out.append(slice(start, start + side))
    return tuple(out)


def plot_error_crops(images, labels, preds, errors, indices=None, margin=16, width=7.5):
    """Crops around named error regions: the image and the error map, region outlined.

    Args:
        images, labels, preds: ``(N, H, W)`` stacks (preds: class maps, 1 = cell).
        errors: dicts with ``"slice"`` (position in the stacks), ``"bbox"``, ``"mask"``,
            ``"kind"``, ``"area"`` and ``"code"`` (1 missed, 2 false membrane), as
            :func:`attnlib.quality.worst_in_stack` returns them.
        indices: the slice numbers, for the titles.
    """
    n = len(errors)
    if n == 0:
        fig, ax = plt.subplots(figsize=(width, 1.0))
        ax.text(0.5, 0.5, "no errors", ha="center", va="center", fontsize=9)
        ax.set_axis_off()
        return fig
    idx = list(range(len(images))) if indices is None else list(indices)
    size = min(width / n, 2.2)
    fig, axes = plt.subplots(2, n, figsize=(size * n, 2 * size + 0.9), squeeze=False)
    colours = list(ERROR_COLOURS.values())
    for j, e in enumerate(errors):
        s = e["slice"]
        win = _crop(np.shape(labels[s]), e["bbox"], margin)
        mask = np.asarray(e["mask"])[win]
        axes[0, j].imshow(np.asarray(images[s])[win], cmap="gray")
        axes[0, j].contour(mask, levels=[0.5], colors=[colours[e["code"]]], linewidths=1.5)
        axes[1, j].imshow(_error_rgb(np.asarray(preds[s])[win], np.asarray(labels[s])[win]))
        axes[1, j].contour(mask, levels=[0.5], colors=["k"], linewidths=1.0)
        axes[0, j].set_title(f"{e['kind']}\nslice {idx[s]}, {e['area']} px", fontsize=9)
        for ax in axes[:, j]:
            _bare(ax)
    axes[0, 0].set_ylabel("image", fontsize=9)
    axes[1, 0].set_ylabel("errors", fontsize=9)
    _error_legend(fig)
    fig.tight_layout(rect=(0, 0.07, 1, 1), h_pad=0.3, w_pad=0.3)
    return fig
