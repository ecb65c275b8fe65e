"""Figures for the notebooks: slices with label overlays, training curves, Figure 5, attention
maps, claims.

Every function draws with matplotlib and returns the ``Figure``; nothing is shown or saved
here (notebooks display the figure, ``fig.savefig`` saves it).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

MEMBRANE_RGBA = (1.0, 0.25, 0.1, 0.45)  # membrane (class 0) drawn in translucent red


def overlay(ax, image, mask=None, title=None):
    """Draw a grayscale slice, and its membrane pixels (mask == 0) in red on top."""
    ax.imshow(image, cmap="gray", vmin=0, vmax=255 if np.asarray(image).dtype == np.uint8 else 1)
    if mask is not None:
        rgba = np.zeros((*np.shape(mask), 4))
        rgba[np.asarray(mask) == 0] = MEMBRANE_RGBA
        ax.imshow(rgba)
    if title:
        ax.set_title(title, fontsize=9)
    ax.set_axis_off()
    return ax


def show_slices(images, masks=None, titles=None, ncols=5, size=2.4):
    """A grid of slices, with membrane overlays when ``masks`` is given."""
    n = len(images)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < n:
            overlay(
                ax,
                images[i],
                None if masks is None else masks[i],
                None if titles is None else titles[i],
            )
        else:
            ax.set_axis_off()
    fig.tight_layout()
    return fig


def plot_history(record, metrics=("mean_iou", "isbi_vrand")):
    """Training loss and held-out metrics per epoch, with both protocols' chosen epochs marked."""
    hist, evals, summary = record["history"], record["evals"], record.get("summary", {})
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.4))
    a.plot(hist["epoch"], hist["loss"], color="tab:blue")
    a.set(xlabel="epoch", ylabel="training loss", title=f"loss ({record['config']['loss']})")
    epochs = [e["epoch"] for e in evals]
    for m in metrics:
        b.plot(epochs, [e["test"][m] for e in evals], marker=".", label=f"test {m}")
        if evals and "val" in evals[0]:
            b.plot(epochs, [e["val"][m] for e in evals], ls="--", label=f"val {m}")
    styles = {
        "paper_protocol": ("tab:red", "best on test (paper)"),
        "honest": ("tab:green", "honest"),
    }
    for key, (color, label) in styles.items():
        if key in summary:
            b.axvline(
                summary[key]["epoch"],
                color=color,
                ls=":",
                label=f"{label}: epoch {summary[key]['epoch']}",
            )
    b.set(xlabel="epoch", ylabel="score on slices 25-29", title="held-out metrics")
    b.legend(fontsize=7)
    fig.tight_layout()
    return fig


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


def plot_threshold_sweep(sweeps, slices_name="the choice slices"):
    """mIoU and ISBI V_rand against the threshold, one line per map, best marked.

    ``sweeps``: ``{name: attnlib.quality.threshold_sweep(...)}``; ``slices_name`` for the
    titles (the slices the sweeps were computed on).
    """
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.0))
    for ax, metric, title in zip(axes, ("mean_iou", "isbi_vrand"), ("mIoU", "ISBI V_rand")):
        for name, sw in sweeps.items():
            (line,) = ax.plot(sw["thresholds"], sw[metric], marker=".", label=name)
            best = sw["best"][metric]
            ax.plot(
                best,
                sw[metric][sw["thresholds"].index(best)],
                "o",
                ms=8,
                mfc="none",
                color=line.get_color(),
            )
        ax.axvline(0.5, color="0.6", ls=":", lw=1)
        ax.set_xlabel("threshold on P(cell)", fontsize=9)
        ax.set_title(f"{title} on {slices_name}", fontsize=9)
        ax.tick_params(labelsize=9)
    axes[0].legend(fontsize=9)
    fig.tight_layout()
    return fig


def plot_attention(image, maps, ncols=4, size=2.4):
    """A slice and every gate's attention map (name -> ``(B, 1, h, w)`` or ``(h, w)``), first
    item."""
    names = list(maps)
    n = len(names) + 1
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    overlay(axes.flat[0], image, title="input")
    for ax, name in zip(list(axes.flat)[1:], names):
        a = np.asarray(maps[name].float() if hasattr(maps[name], "float") else maps[name])
        a = a.reshape(-1, *a.shape[-2:])[0]
        im = ax.imshow(a, cmap="magma", vmin=0, vmax=1)
        ax.set_title(f"{name} {a.shape[0]}x{a.shape[1]}", fontsize=8)
        ax.set_axis_off()
    for ax in list(axes.flat)[n:]:
        ax.set_axis_off()
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.6, label="alpha")
    return fig


def plot_claims(claims, xlabel="A - B in mIoU (paired by seed)"):
    """One row per claim: our paired difference with its 95% interval, per protocol, and the
    paper's.

    ``claims``: :func:`attnlib.paper.check_claims` rows, each with a ``protocol`` key added.
    A claim without an interval (one seed) is drawn as a dot alone.
    """
    names = list(dict.fromkeys(c["claim"] for c in claims))
    styles = {"honest": ("tab:green", -0.13), "paper_protocol": ("tab:red", 0.13)}
    fig, ax = plt.subplots(figsize=(7.5, 0.55 * len(names) + 1.2))
    for c in claims:
        color, dy = styles[c["protocol"]]
        y = names.index(c["claim"]) + dy
        if c["lo"] is not None:
            ax.hlines(y, c["lo"], c["hi"], color=color, lw=2)
        first = c["claim"] == names[0]
        ax.plot(
            c["mean"], y, "o", color=color, label=c["protocol"].replace("_", " ") if first else None
        )
    for i, name in enumerate(names):
        paper_diff = next(c["paper_diff"] for c in claims if c["claim"] == name)
        ax.plot(paper_diff, i, "kx", ms=8, label="paper (one run)" if i == 0 else None)
    ax.axvline(0, color="0.5", lw=1)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel, fontsize=9)
    ax.legend(fontsize=8, ncol=3, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def plot_isbi_curves(curves, metric="isbi_vrand", slices_name="slices 25-29"):
    """An ISBI score against the threshold, one line per configuration (mean over seeds, range
    shaded).

    ``curves``: ``{config: [curve, ...]}``, one curve per seed, each ``{"thresholds", metric}``
    (a run's ``evals[i]["isbi_curves"]["test"]`` or its ``threshold_curve``).
    """
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    for config, cs in curves.items():
        t = cs[0]["thresholds"]
        v = np.array([c[metric] for c in cs])  # (seeds, thresholds)
        (line,) = ax.plot(t, v.mean(0), marker=".", label=f"{config} (n={len(cs)})")
        ax.fill_between(t, v.min(0), v.max(0), color=line.get_color(), alpha=0.15)
    ax.set(
        xlabel="threshold on P(cell)",
        ylabel=metric,
        title=f"{metric} on {slices_name}, last evaluation",
    )
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig
